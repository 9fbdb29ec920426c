#include "emulator/multipart.hpp"

#include <cctype>
#include <utility>

#include <fmt/format.h>

#include "net/http_message.hpp"

namespace mando::emulator {
namespace {

constexpr std::string_view kCrlf = "\r\n";

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 9110 tchar.
bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 2046 bchars.
bool is_bchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

struct Parameter {
  std::string name;  // lower case
  std::string value;
};

// `type/subtype; a=b; c="d"`: the media type (lower case) and its parameters. `what` names the
// header in errors.
Result<std::pair<std::string, std::vector<Parameter>>> parse_parameters(std::string_view value,
                                                                        std::string_view what) {
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < value.size() && is_space(value[i])) ++i;
  };
  skip_space();
  std::string head;
  while (i < value.size() && value[i] != ';' && !is_space(value[i])) {
    head += static_cast<char>(std::tolower(static_cast<unsigned char>(value[i++])));
  }
  if (head.empty()) return fail(ErrorKind::kInvalidArgument, fmt::format("{}: empty value", what));
  std::vector<Parameter> params;
  for (;;) {
    skip_space();
    if (i == value.size()) break;
    if (value[i] != ';') {
      return fail(ErrorKind::kInvalidArgument, fmt::format("{}: expected ';'", what));
    }
    ++i;
    skip_space();
    if (i == value.size()) break;  // a trailing ';' is tolerated, as browsers send none
    Parameter p;
    while (i < value.size() && is_tchar(value[i])) {
      p.name += static_cast<char>(std::tolower(static_cast<unsigned char>(value[i++])));
    }
    skip_space();
    if (p.name.empty() || i == value.size() || value[i] != '=') {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("{}: malformed parameter (expected name=value)", what));
    }
    ++i;
    skip_space();
    if (i < value.size() && value[i] == '"') {
      ++i;
      bool closed = false;
      while (i < value.size()) {
        char c = value[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < value.size()) c = value[i++];
        if (c == '\r' || c == '\n') break;
        p.value += c;
      }
      if (!closed) {
        return fail(ErrorKind::kInvalidArgument,
                    fmt::format("{}: unterminated quoted value of `{}`", what, p.name));
      }
    } else {
      while (i < value.size() && is_tchar(value[i])) p.value += value[i++];
      if (p.value.empty()) {
        return fail(ErrorKind::kInvalidArgument,
                    fmt::format("{}: parameter `{}` has no value", what, p.name));
      }
    }
    for (const Parameter& seen : params) {
      if (seen.name == p.name) {
        return fail(ErrorKind::kInvalidArgument,
                    fmt::format("{}: parameter `{}` given twice", what, p.name));
      }
    }
    params.push_back(std::move(p));
  }
  return std::make_pair(std::move(head), std::move(params));
}

const Parameter* find(const std::vector<Parameter>& params, std::string_view name) {
  for (const Parameter& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

// One part's header block (without the blank line that ends it).
Result<FormPart> parse_part_headers(std::string_view block, std::size_t index) {
  FormPart part;
  bool disposition = false;
  while (!block.empty()) {
    const auto end = block.find(kCrlf);
    const std::string_view line = block.substr(0, end);
    block.remove_prefix(end == std::string_view::npos ? block.size() : end + 2);
    if (line.empty() || is_space(line.front())) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("multipart: part {}: folded or empty header line", index));
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("multipart: part {}: header line without a name", index));
    }
    const std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!is_tchar(c)) {
        return fail(ErrorKind::kInvalidArgument,
                    fmt::format("multipart: part {}: invalid header name", index));
      }
    }
    const std::string_view value = trim(line.substr(colon + 1));
    if (net::iequals(name, "Content-Disposition")) {
      if (disposition) {
        return fail(ErrorKind::kInvalidArgument,
                    fmt::format("multipart: part {}: Content-Disposition given twice", index));
      }
      disposition = true;
      auto parsed =
          parse_parameters(value, fmt::format("multipart: part {}: Content-Disposition", index));
      if (!parsed) return tl::unexpected(parsed.error());
      if (parsed->first != "form-data") {
        return fail(
            ErrorKind::kInvalidArgument,
            fmt::format("multipart: part {}: Content-Disposition must be form-data", index));
      }
      const Parameter* n = find(parsed->second, "name");
      if (n == nullptr || n->value.empty()) {
        return fail(ErrorKind::kInvalidArgument,
                    fmt::format("multipart: part {}: Content-Disposition has no name", index));
      }
      part.name = n->value;
      if (const Parameter* f = find(parsed->second, "filename")) part.filename = f->value;
    } else if (net::iequals(name, "Content-Type")) {
      part.content_type = std::string(value);
    }
    // Other part headers (Content-Transfer-Encoding is deprecated by RFC 7578) are ignored.
  }
  if (!disposition) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("multipart: part {}: missing Content-Disposition", index));
  }
  return part;
}

}  // namespace

Result<std::string> multipart_boundary(std::string_view content_type) {
  auto parsed = parse_parameters(content_type, "multipart: Content-Type");
  if (!parsed) return tl::unexpected(parsed.error());
  if (parsed->first != "multipart/form-data") {
    return fail(ErrorKind::kInvalidArgument, "multipart: Content-Type is not multipart/form-data");
  }
  const Parameter* b = find(parsed->second, "boundary");
  if (b == nullptr) {
    return fail(ErrorKind::kInvalidArgument, "multipart: Content-Type has no boundary parameter");
  }
  const std::string& boundary = b->value;
  if (boundary.empty() || boundary.size() > 70 || boundary.back() == ' ') {
    return fail(ErrorKind::kInvalidArgument,
                "multipart: boundary must be 1 to 70 characters, not ending in a space");
  }
  for (char c : boundary) {
    if (!is_bchar(c)) {
      return fail(ErrorKind::kInvalidArgument, "multipart: boundary has a forbidden character");
    }
  }
  return boundary;
}

Result<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary,
                                              const MultipartLimits& limits) {
  if (boundary.empty()) return fail(ErrorKind::kInvalidArgument, "multipart: empty boundary");
  const std::string dash = "--" + std::string(boundary);
  const std::string delimiter = std::string(kCrlf) + dash;

  // The first delimiter: at the very start, or after a preamble that ends with CRLF.
  std::size_t at = 0;
  if (body.substr(0, dash.size()) != dash) {
    at = body.find(delimiter);
    if (at == std::string_view::npos) {
      return fail(ErrorKind::kInvalidArgument, "multipart: no boundary delimiter in the body");
    }
    at += 2;
  }
  std::vector<FormPart> parts;
  for (;;) {
    at += dash.size();
    const std::string_view rest = body.substr(at);
    if (rest.substr(0, 2) == "--") return parts;  // close delimiter; the epilogue is ignored
    // Transport padding (RFC 2046 LWSP) before the CRLF that ends the delimiter line.
    std::size_t i = 0;
    while (i < rest.size() && is_space(rest[i])) ++i;
    if (rest.substr(i, 2) != kCrlf) {
      return fail(
          ErrorKind::kInvalidArgument,
          fmt::format("multipart: part {}: boundary line not followed by CRLF", parts.size()));
    }
    at += i + 2;
    if (parts.size() == limits.max_parts) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("multipart: more than {} parts", limits.max_parts));
    }
    // Header block: up to the blank line (or directly a blank line: no headers at all).
    std::string_view headers;
    if (body.substr(at, 2) == kCrlf) {
      at += 2;
    } else {
      const auto end = body.find("\r\n\r\n", at);
      const std::size_t limit = limits.max_part_header_bytes;
      if (end == std::string_view::npos || end - at > limit) {
        return fail(ErrorKind::kInvalidArgument,
                    end == std::string_view::npos
                        ? fmt::format("multipart: part {}: headers not terminated", parts.size())
                        : fmt::format("multipart: part {}: headers longer than {} bytes",
                                      parts.size(), limit));
      }
      headers = body.substr(at, end - at);
      at = end + 4;
    }
    auto part = parse_part_headers(headers, parts.size());
    if (!part) return tl::unexpected(part.error());
    const auto next = body.find(delimiter, at);
    if (next == std::string_view::npos) {
      return fail(
          ErrorKind::kInvalidArgument,
          fmt::format("multipart: part {}: body truncated (no closing boundary)", parts.size()));
    }
    part->data = std::string(body.substr(at, next - at));
    parts.push_back(std::move(*part));
    at = next + 2;
  }
}

Result<std::vector<FormPart>> parse_form_data(std::string_view content_type, std::string_view body,
                                              const MultipartLimits& limits) {
  auto boundary = multipart_boundary(content_type);
  if (!boundary) return tl::unexpected(boundary.error());
  return parse_multipart(body, *boundary, limits);
}

}  // namespace mando::emulator
