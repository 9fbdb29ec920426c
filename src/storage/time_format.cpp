#include "storage/time_format.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace mando::storage {
namespace {

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

std::tm utc(TimePoint t) {
  const auto seconds = static_cast<std::time_t>(t.time_since_epoch().count());
  std::tm out{};
  ::gmtime_r(&seconds, &out);
  return out;
}

std::string format_time(TimePoint t) { return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", utc(t)); }

std::optional<TimePoint> parse_time(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SSZ, exactly.
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != 'Z') {
    return std::nullopt;
  }
  auto number = [&](std::size_t at, std::size_t width) -> std::optional<int> {
    int value = 0;
    const char* first = text.data() + at;
    auto [end, ec] = std::from_chars(first, first + width, value);
    if (ec != std::errc() || end != first + width) return std::nullopt;
    return value;
  };
  auto y = number(0, 4), mo = number(5, 2), d = number(8, 2);
  auto h = number(11, 2), mi = number(14, 2), s = number(17, 2);
  if (!y || !mo || !d || !h || !mi || !s || *h > 23 || *mi > 59 || *s > 59) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(*y),
                                         std::chrono::month(static_cast<unsigned>(*mo)),
                                         std::chrono::day(static_cast<unsigned>(*d))};
  if (!date.ok()) return std::nullopt;
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::sys_days(date)) +
         std::chrono::hours(*h) + std::chrono::minutes(*mi) + std::chrono::seconds(*s);
}

std::string http_date(TimePoint t) { return fmt::format("{:%a, %d %b %Y %H:%M:%S GMT}", utc(t)); }

std::optional<TimePoint> parse_http_date(std::string_view text) {
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  if (text.size() != 29 || text.substr(3, 2) != ", " || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  const auto month = std::find(kMonths.begin(), kMonths.end(), text.substr(8, 3));
  if (month == kMonths.end()) return std::nullopt;
  // Reuse the RFC 3339 parser for the validation of the numbers and the calendar.
  const std::string rfc3339 =
      fmt::format("{}-{:02}-{}T{}Z", text.substr(12, 4), month - kMonths.begin() + 1,
                  text.substr(5, 2), text.substr(17, 8));
  return parse_time(rfc3339);
}

}  // namespace mando::storage
