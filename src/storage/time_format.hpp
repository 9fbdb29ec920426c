#pragma once
// The two time formats of blobs: RFC 3339 UTC with second precision, the `expiry-time` metadata
// ("2026-11-24T06:00:00Z"), and the IMF-fixdate of HTTP headers ("Sun, 06 Nov 1994 08:49:37
// GMT", Last-Modified, If-Modified-Since). Both parsers accept exactly that form, whatever the
// process locale, and check the calendar (no 31 February).

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "storage/blob_backend.hpp"

namespace mando::storage {

// Broken-down UTC time of `t`, straight from its seconds: system_clock::to_time_t would go
// through nanoseconds, which overflow past the year 2262 (a hostile Last-Modified or
// expiry-time can say 9999).
std::tm utc(TimePoint t);

std::string format_time(TimePoint t);
std::optional<TimePoint> parse_time(std::string_view text);

std::string http_date(TimePoint t);
std::optional<TimePoint> parse_http_date(std::string_view text);

}  // namespace mando::storage
