#include "core/duration.hpp"

#include <charconv>
#include <limits>

#include <fmt/format.h>

namespace mando::core {
namespace {

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

// Splits "<digits><letters>" off the front of `text`.
bool take_number_and_unit(std::string_view& text, std::uint64_t& number, std::string_view& unit) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) return false;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  std::size_t n = 0;
  while (n < text.size() &&
         ((text[n] >= 'a' && text[n] <= 'z') || (text[n] >= 'A' && text[n] <= 'Z')))
    ++n;
  unit = text.substr(0, n);
  text.remove_prefix(n);
  return true;
}

bool checked_mul_add(std::uint64_t& total, std::uint64_t number, std::uint64_t factor) {
  if (number != 0 && factor > std::numeric_limits<std::uint64_t>::max() / number) return false;
  std::uint64_t add = number * factor;
  if (total > std::numeric_limits<std::uint64_t>::max() - add) return false;
  total += add;
  return true;
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  static constexpr Unit kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  auto bad = [&] {
    return fail(
        ErrorKind::kInvalidArgument,
        fmt::format("\"{}\" is not a duration (examples: 250ms, 10s, 5m, 1h30m, 24h)", text));
  };
  if (text == "0") return std::chrono::milliseconds(0);
  std::string_view rest = text;
  std::uint64_t total = 0;
  if (rest.empty()) return bad();
  while (!rest.empty()) {
    std::uint64_t number = 0;
    std::string_view unit;
    if (!take_number_and_unit(rest, number, unit)) return bad();
    const Unit* match = nullptr;
    for (const auto& u : kUnits) {
      if (u.name == unit) match = &u;
    }
    if (match == nullptr || !checked_mul_add(total, number, match->factor)) return bad();
  }
  if (total > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return bad();
  return std::chrono::milliseconds(static_cast<std::int64_t>(total));
}

std::string format_duration(std::chrono::milliseconds d) {
  static constexpr Unit kUnits[] = {
      {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}, {"ms", 1}};
  if (d.count() <= 0) return "0s";
  auto left = static_cast<std::uint64_t>(d.count());
  std::string out;
  for (const auto& u : kUnits) {
    if (left >= u.factor) {
      out += fmt::format("{}{}", left / u.factor, u.name);
      left %= u.factor;
    }
  }
  return out;
}

Result<std::uint64_t> parse_size(std::string_view text) {
  static constexpr Unit kUnits[] = {
      {"", 1},      {"B", 1},          {"KiB", 1024},        {"MiB", 1 << 20}, {"GiB", 1ull << 30},
      {"KB", 1000}, {"MB", 1'000'000}, {"GB", 1'000'000'000}};
  std::string_view rest = text;
  std::uint64_t number = 0;
  std::string_view unit;
  if (take_number_and_unit(rest, number, unit) && rest.empty()) {
    for (const auto& u : kUnits) {
      std::uint64_t total = 0;
      if (u.name == unit && checked_mul_add(total, number, u.factor)) return total;
    }
  }
  return fail(ErrorKind::kInvalidArgument,
              fmt::format("\"{}\" is not a size (examples: 1048576, 512KiB, 1MiB, 2GB)", text));
}

}  // namespace mando::core
