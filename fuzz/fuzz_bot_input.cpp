// Fuzzes what the bot reads from outside: the options a button carries in its custom_id (Discord
// sends back whatever the message holds) and the bodies of its tasks (written by another mando,
// maybe another version). Every input is either refused with kInvalidArgument or read into a
// value whose own form reads back to the same value.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bot/commands/mando.hpp"
#include "bot/jobs.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

template <typename T>
void check_refusal(const mando::Result<T>& result) {
  check(result.error().kind == mando::ErrorKind::kInvalidArgument);
  check(!result.error().message.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mando::bot;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto options = commands::MandoOptions::parse_compact(text);
  if (options) {
    auto again = commands::MandoOptions::parse_compact(options->compact());
    check(again.has_value() && again->compact() == options->compact());
    auto spec = options->spec();  // options that do not fit together are refused, not drawn
    if (!spec) check_refusal(spec);
  } else {
    check_refusal(options);
  }

  auto image = parse_image_job(text);
  if (image) {
    auto again = parse_image_job(to_json(*image));
    check(again.has_value() && to_json(*again) == to_json(*image));
  } else {
    check_refusal(image);
  }

  auto reply = parse_reply_job(text);
  if (reply) {
    auto again = parse_reply_job(to_json(*reply));
    check(again.has_value() && to_json(*again) == to_json(*reply));
  } else {
    check_refusal(reply);
  }
  return 0;
}
