// Fuzzes what the bot reads from outside: the options a button carries in its custom_id (Discord
// sends back whatever the message holds), the bodies of its tasks (written by another mando,
// maybe another version) and the images an interaction asks /transform or "Transform images"
// to take. Every input is either refused with kInvalidArgument or read into a value whose own
// form reads back to the same value (a transform: 1 to 20 addresses, none empty or with a
// space in it).

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bot/commands/mando.hpp"
#include "bot/commands/transform_inputs.hpp"
#include "bot/jobs.hpp"
#include "discord/interaction.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

template <typename T>
void check_refusal(const mando::Result<T>& result) {
  check(result.error().kind == mando::ErrorKind::kInvalidArgument);
  check(!result.error().message.empty());
}

template <typename T>
void check_round_trip(const mando::Result<T>& parsed,
                      mando::Result<T> (*parse)(std::string_view body)) {
  if (!parsed) return check_refusal(parsed);
  auto again = parse(mando::bot::to_json(*parsed));
  check(again.has_value() && mando::bot::to_json(*again) == mando::bot::to_json(*parsed));
}

void check_transform(const mando::Result<mando::bot::commands::TransformRequest>& request) {
  if (!request) return check_refusal(request);
  check(!request->urls.empty() && request->urls.size() <= 20);
  for (const auto& url : request->urls) {
    check(!url.empty() && url.find_first_of(" \t\r\n") == std::string::npos);
  }
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

  check_round_trip(parse_image_job(text), parse_image_job);
  check_round_trip(parse_reply_job(text), parse_reply_job);
  check_round_trip(parse_transform_job(text), parse_transform_job);

  if (auto interaction = mando::discord::parse_interaction(text)) {
    const auto& data = interaction->data;
    check_transform(commands::transform_request(mando::discord::Options(data.options), data, 20));
    check_transform(commands::menu_transform_request(data, 20));
  }
  return 0;
}
