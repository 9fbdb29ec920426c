#pragma once
// Discord's ids ("snowflakes"): 64-bit integers sent as strings of decimal digits. The top 42
// bits are milliseconds since the Discord epoch, 2015-01-01T00:00:00Z, which is how an
// interaction's age (and so its token's remaining life) is known without a clock of Discord's.

#include <chrono>
#include <optional>
#include <string_view>

namespace mando::discord {

// 1 to 20 decimal digits (a uint64 never needs more).
bool is_snowflake(std::string_view s);

// The creation time of a snowflake; nullopt for text that is not one (or overflows 64 bits).
std::optional<std::chrono::system_clock::time_point> snowflake_time(std::string_view id);

}  // namespace mando::discord
