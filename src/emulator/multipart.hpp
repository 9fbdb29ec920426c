#pragma once
// A strict multipart/form-data parser (RFC 7578 over RFC 2046 §5.1), for the bodies Discord's
// webhook routes accept: a `payload_json` part plus file parts named `files[N]`.
//
// Why by hand: Boost.Beast has no multipart parser and none of the Debian packages mando may use
// offers one; the format is small enough to parse strictly in one pass.
//
// What "strict" means here:
//   1. The boundary comes from the Content-Type parameter `boundary` (quoted or token, 1..70
//      characters of RFC 2046's bchars, not ending in a space) of a `multipart/form-data` type.
//   2. The body is an optional preamble, then "--boundary" parts separated by CRLF "--boundary",
//      ended by the close delimiter "--boundary--" (an epilogue after it is ignored). A body
//      without the close delimiter is truncated and refused.
//   3. Each part has header lines ("Name: value", CRLF-terminated, no obsolete line folding) and
//      a Content-Disposition of `form-data` with a `name` parameter. `filename` makes it a file.
//   4. Limits (part count, header bytes per part) refuse hostile bodies early. Body size itself
//      is the HTTP server's business (it refuses oversized bodies with 413).
// Errors are kInvalidArgument with a message that names what was wrong and where (part index),
// never echoing part data. Never throws (except std::bad_alloc).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace mando::emulator {

struct FormPart {
  std::string name;
  std::optional<std::string> filename;  // set for file parts (may be empty: filename="")
  std::string content_type;             // the part's Content-Type, "" when absent
  std::string data;
};

struct MultipartLimits {
  std::size_t max_parts = 64;
  std::size_t max_part_header_bytes = 8 * 1024;
};

// The boundary of a `multipart/form-data; boundary=...` Content-Type value.
Result<std::string> multipart_boundary(std::string_view content_type);

// The parts of `body`, in order, split by `boundary` (as returned by multipart_boundary()).
Result<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary,
                                              const MultipartLimits& limits = {});

// multipart_boundary() then parse_multipart().
Result<std::vector<FormPart>> parse_form_data(std::string_view content_type, std::string_view body,
                                              const MultipartLimits& limits = {});

}  // namespace mando::emulator
