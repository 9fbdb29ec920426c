#include "discord/snowflake.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace mando::discord {

bool is_snowflake(std::string_view s) {
  return !s.empty() && s.size() <= 20 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::chrono::system_clock::time_point> snowflake_time(std::string_view id) {
  constexpr std::int64_t kDiscordEpochMs = 1420070400000;
  if (!is_snowflake(id)) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), value);
  if (ec != std::errc() || end != id.data() + id.size()) return std::nullopt;
  const auto ms = static_cast<std::int64_t>(value >> 22) + kDiscordEpochMs;
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace mando::discord
