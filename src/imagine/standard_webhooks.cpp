#include "imagine/standard_webhooks.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/crypto.hpp"

namespace mando::imagine {
namespace {

constexpr std::string_view kSecretPrefix = "whsec_";
constexpr std::string_view kVersion = "v1,";

std::string signed_content(std::string_view id, std::string_view timestamp, std::string_view body) {
  std::string content;
  content.reserve(id.size() + timestamp.size() + body.size() + 2);
  content.append(id).append(".").append(timestamp).append(".").append(body);
  return content;
}

tl::unexpected<Error> refused(std::string reason) {
  return fail(ErrorKind::kUnauthenticated, "webhook signature: " + std::move(reason));
}

}  // namespace

Result<StandardWebhooks> StandardWebhooks::create(const std::vector<std::string>& secrets) {
  if (secrets.empty()) return fail(ErrorKind::kInvalidArgument, "webhook secret: none given");
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < secrets.size(); ++i) {
    std::string_view text = secrets[i];
    if (text.starts_with(kSecretPrefix)) text.remove_prefix(kSecretPrefix.size());
    auto key = core::from_base64(text, core::Base64::kStandard);
    if (!key || key->empty()) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("webhook secret {}: not \"whsec_\" followed by base64", i + 1));
    }
    keys.push_back(std::move(*key));
  }
  return StandardWebhooks(std::move(keys));
}

Result<void> StandardWebhooks::verify(const Headers& headers, std::string_view body,
                                      std::chrono::system_clock::time_point now) const {
  if (headers.id.empty() || headers.timestamp.empty() || headers.signature.empty()) {
    return refused("webhook-id, webhook-timestamp and webhook-signature are required");
  }
  std::int64_t seconds = 0;
  const char* end = headers.timestamp.data() + headers.timestamp.size();
  if (auto [ptr, ec] = std::from_chars(headers.timestamp.data(), end, seconds);
      ec != std::errc() || ptr != end) {
    return refused("webhook-timestamp is not a number of seconds");
  }
  // In whole seconds: a huge timestamp must be refused, not overflow a nanosecond clock.
  const std::int64_t now_seconds =
      std::chrono::time_point_cast<std::chrono::seconds>(now).time_since_epoch().count();
  if (seconds > now_seconds + kTolerance.count() || seconds < now_seconds - kTolerance.count()) {
    return refused("webhook-timestamp is more than 5 minutes from now");
  }
  const std::string content = signed_content(headers.id, headers.timestamp, body);
  std::vector<std::string> expected;
  expected.reserve(keys_.size());
  for (const auto& key : keys_) expected.push_back(core::hmac_sha256(key, {content}));

  std::string_view entries = headers.signature;
  while (!entries.empty()) {
    const auto space = entries.find(' ');
    std::string_view entry = entries.substr(0, space);
    entries = space == std::string_view::npos ? std::string_view() : entries.substr(space + 1);
    if (!entry.starts_with(kVersion)) continue;
    const auto mac = core::from_base64(entry.substr(kVersion.size()), core::Base64::kStandard);
    if (!mac) continue;
    for (const auto& want : expected) {
      if (core::constant_time_equal(*mac, want)) return {};
    }
  }
  return refused("no v1 entry matches");
}

std::string StandardWebhooks::sign(std::string_view id, std::int64_t timestamp,
                                   std::string_view body) const {
  const std::string content = signed_content(id, std::to_string(timestamp), body);
  return std::string(kVersion) +
         core::to_base64(core::hmac_sha256(keys_.front(), {content}), core::Base64::kStandard);
}

}  // namespace mando::imagine
