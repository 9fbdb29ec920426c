#pragma once
// Human-friendly durations and sizes in config files and flags: "250ms", "10s", "1h30m", "24h";
// "1048576", "512KiB", "1MiB", "2GB".

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace mando::core {

// A sequence of <integer><unit> with units ms, s, m, h, d ("1h30m"); a bare "0" is zero.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
// The shortest exact spelling: 90000ms -> "1m30s", 250ms -> "250ms", 0 -> "0s".
std::string format_duration(std::chrono::milliseconds d);

// Bytes as an integer, or with a unit: B, KiB, MiB, GiB (powers of 1024), KB, MB, GB (of 1000).
Result<std::uint64_t> parse_size(std::string_view text);

}  // namespace mando::core
