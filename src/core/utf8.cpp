#include "core/utf8.hpp"

#include <algorithm>

namespace mando::core {
namespace {

bool starts_code_point(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }

}  // namespace

std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), starts_code_point));
}

std::string_view code_point_prefix(std::string_view s, std::size_t max) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (starts_code_point(s[i]) && seen++ == max) return s.substr(0, i);
  }
  return s;
}

}  // namespace mando::core
