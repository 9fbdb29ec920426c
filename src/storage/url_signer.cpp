#include "storage/url_signer.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/crypto.hpp"

namespace mando::storage {

Result<UrlSigner> UrlSigner::from_key(std::string key) {
  if (key.size() < kMinKeyBytes) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("[storage] url_signing_key: must be at least {} characters, got {}",
                            kMinKeyBytes, key.size()));
  }
  return UrlSigner(std::move(key));
}

std::string UrlSigner::signature(std::string_view path, std::string_view expires) const {
  return core::to_hex(core::hmac_sha256(key_, {"GET\n", path, "\n", expires}));
}

std::string UrlSigner::query(std::string_view path, TimePoint expires) const {
  const std::string at = std::to_string(expires.time_since_epoch().count());
  return fmt::format("expires={}&signature={}", at, signature(path, at));
}

Result<void> UrlSigner::verify(std::string_view path, const std::optional<std::string>& expires,
                               const std::optional<std::string>& given, TimePoint now) const {
  auto refuse = [](std::string_view why) {
    return fail(ErrorKind::kPermissionDenied, fmt::format("blob URL refused: {}", why));
  };
  if (!expires || !given) return refuse("it is not signed (expires and signature are required)");
  long long seconds = 0;
  auto [end, ec] = std::from_chars(expires->data(), expires->data() + expires->size(), seconds);
  if (ec != std::errc() || end != expires->data() + expires->size()) {
    return refuse("expires is not a number of seconds");
  }
  if (!core::constant_time_equal(*given, signature(path, *expires))) {
    return refuse("wrong signature");
  }
  if (TimePoint(std::chrono::seconds(seconds)) <= now) return refuse("the URL has expired");
  return {};
}

}  // namespace mando::storage
