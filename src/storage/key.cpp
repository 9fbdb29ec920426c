#include "storage/key.hpp"

#include <fmt/format.h>

namespace mando::storage {
namespace {

bool key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// At most 64 characters of a hostile key in an error message.
std::string shown(std::string_view key) {
  constexpr std::size_t kShown = 64;
  return key.size() <= kShown ? std::string(key) : fmt::format("{}...", key.substr(0, kShown));
}

}  // namespace

Result<void> check_key_syntax(std::string_view key) {
  auto invalid = [&](std::string_view why) {
    return fail(ErrorKind::kInvalidArgument, fmt::format("blob key '{}': {}", shown(key), why));
  };
  if (key.empty()) return invalid("must not be empty");
  if (key.size() > kMaxKeyBytes) {
    return invalid(fmt::format("must be at most {} bytes, got {}", kMaxKeyBytes, key.size()));
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = key.find('/', start);
    const std::string_view segment =
        key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment.empty()) {
      return invalid(start == 0 ? "must be relative (no leading '/')"
                                : "must not have empty segments ('//' or a trailing '/')");
    }
    if (segment == "." || segment == "..") return invalid("must not have '.' or '..' segments");
    for (char c : segment) {
      if (!key_char(c)) {
        return invalid(fmt::format(
            "character 0x{:02x} is not allowed (use A-Z a-z 0-9 . _ - and '/' between segments)",
            static_cast<unsigned char>(c)));
      }
    }
    if (slash == std::string_view::npos) return {};
    start = slash + 1;
  }
}

Result<void> validate_key(std::string_view key) {
  if (auto ok = check_key_syntax(key); !ok) return ok;
  if (key.starts_with(kExpiryPrefix)) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("blob key '{}': the prefix '{}' is reserved for the expiry index",
                            shown(key), kExpiryPrefix));
  }
  return {};
}

}  // namespace mando::storage
