#include "provider_emulator/fake_wire.hpp"

#include <charconv>

#include <boost/json/parse.hpp>
#include <fmt/format.h>

namespace mando::provider_emulator {

namespace json = boost::json;

namespace {

std::string mp4_box(std::string_view type, std::string_view payload) {
  const auto size = static_cast<std::uint32_t>(8 + payload.size());
  std::string box;
  for (int shift = 24; shift >= 0; shift -= 8) box += static_cast<char>((size >> shift) & 0xff);
  box += type;
  box += payload;
  return box;
}

}  // namespace

std::string stand_in_mp4(std::string_view frames) {
  return mp4_box("ftyp", std::string_view("isom\0\0\x02\0isommp41", 16)) + mp4_box("mdat", frames);
}

bool terminal(std::string_view status) {
  return status == "succeeded" || status == "failed" || status == "canceled" || status == "aborted";
}

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

std::optional<std::chrono::seconds> parse_cancel_after(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value < 0) return std::nullopt;
  const std::string_view unit(end, text.data() + text.size() - end);
  if (unit.empty() || unit == "s") return std::chrono::seconds(value);
  if (unit == "m") return std::chrono::minutes(value);
  if (unit == "h") return std::chrono::hours(value);
  return std::nullopt;
}

json::object to_json(const Faults& f) {
  return {{"duplicate_webhooks", f.duplicate_webhooks},
          {"shuffle_webhooks", f.shuffle_webhooks},
          {"drop_webhooks", f.drop_webhooks},
          {"submit_500", f.submit_500},
          {"submit_429", f.submit_429},
          {"output_ttl_ms", f.output_ttl.count()},
          {"ignore_cancel", f.ignore_cancel}};
}

Result<Faults> parse_faults(std::string_view body, Faults faults) {
  boost::system::error_code ec;
  const json::value value = json::parse(body, ec);
  if (ec || !value.is_object()) return fail(ErrorKind::kInvalidArgument, "faults: not an object");
  for (const auto& [key, v] : value.as_object()) {
    if (key == "duplicate_webhooks" && v.is_bool()) {
      faults.duplicate_webhooks = v.get_bool();
    } else if (key == "shuffle_webhooks" && v.is_bool()) {
      faults.shuffle_webhooks = v.get_bool();
    } else if (key == "drop_webhooks" && v.is_bool()) {
      faults.drop_webhooks = v.get_bool();
    } else if (key == "submit_500" && v.is_int64()) {
      faults.submit_500 = static_cast<int>(v.get_int64());
    } else if (key == "submit_429" && v.is_int64()) {
      faults.submit_429 = static_cast<int>(v.get_int64());
    } else if (key == "ignore_cancel" && v.is_bool()) {
      faults.ignore_cancel = v.get_bool();
    } else if (key == "output_ttl_ms" && v.is_int64()) {
      faults.output_ttl = std::chrono::milliseconds(v.get_int64());
    } else {
      return fail(ErrorKind::kInvalidArgument, fmt::format("faults: unknown or mistyped {}", key));
    }
  }
  return faults;
}

}  // namespace mando::provider_emulator
