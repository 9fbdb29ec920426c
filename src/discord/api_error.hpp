#pragma once
// What Discord says went wrong, from the body of an error answer, for error messages: its
// `message` and `code`, then each field error of its nested `errors` object
// ("0.options.1.name: Must be between 1 and 32 in length.", at most five); or, for a body that
// is not Discord's JSON, its first 200 bytes with control characters blanked. Empty for an
// empty body.

#include <string>
#include <string_view>

namespace mando::discord {

std::string error_detail(std::string_view body);

}  // namespace mando::discord
