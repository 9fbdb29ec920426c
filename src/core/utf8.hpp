#pragma once
// Lengths the way Discord counts them: in characters (UTF-8 code points), not bytes. Input is
// not validated: every byte that is not a continuation byte (10xxxxxx) starts a code point.

#include <cstddef>
#include <string_view>

namespace mando::core {

// The number of code points in `s`.
std::size_t code_points(std::string_view s);

// The first `max` code points of `s` (all of it when it is shorter), never cutting one apart.
std::string_view code_point_prefix(std::string_view s, std::size_t max);

}  // namespace mando::core
