#include "queue/signing.hpp"

#include <charconv>
#include <memory>

#include <fmt/format.h>
#include <sodium.h>

#include "core/crypto.hpp"
#include "core/log.hpp"

namespace mando::queue {
namespace {

constexpr std::string_view kVersionPrefix = "v1=";

void ensure_sodium() {
  // sodium_init is idempotent and thread-safe; it fails only when no randomness source exists.
  if (sodium_init() < 0) std::abort();
}

}  // namespace

Result<RequestSigner> RequestSigner::from_key(std::string key) {
  ensure_sodium();
  if (key.size() < kMinKeyBytes) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("[queue] signing_key: must be at least {} characters, got {}",
                            kMinKeyBytes, key.size()));
  }
  return RequestSigner(std::move(key));
}

RequestSigner RequestSigner::random() {
  ensure_sodium();
  std::string key(kMinKeyBytes, '\0');
  randombytes_buf(key.data(), key.size());
  return RequestSigner(core::to_hex(key));
}

std::string RequestSigner::mac_hex(std::string_view method, std::string_view target,
                                   std::string_view timestamp, std::string_view body) const {
  return core::to_hex(
      core::hmac_sha256(key_, {"v1\n", method, "\n", target, "\n", timestamp, "\n", body}));
}

void RequestSigner::sign(std::string_view method, std::string_view target, std::string_view body,
                         std::chrono::system_clock::time_point now, net::Headers& headers) const {
  const std::string timestamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
  headers.set(kSignatureHeader,
              fmt::format("{}{}", kVersionPrefix, mac_hex(method, target, timestamp, body)));
  headers.set(kTimestampHeader, timestamp);
}

Result<void> RequestSigner::verify(const net::Request& request,
                                   std::chrono::system_clock::time_point now,
                                   std::chrono::seconds window) const {
  auto timestamp = request.headers.get(kTimestampHeader);
  auto signature = request.headers.get(kSignatureHeader);
  if (!timestamp || !signature) {
    return fail(ErrorKind::kUnauthenticated,
                fmt::format("missing {} or {} header", kTimestampHeader, kSignatureHeader));
  }
  long long seconds = 0;
  auto [end, ec] =
      std::from_chars(timestamp->data(), timestamp->data() + timestamp->size(), seconds);
  if (ec != std::errc() || end != timestamp->data() + timestamp->size()) {
    return fail(ErrorKind::kUnauthenticated,
                fmt::format("{} must be Unix seconds", kTimestampHeader));
  }
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()) -
                   std::chrono::seconds(seconds);
  if (age > window || age < -window) {
    return fail(ErrorKind::kUnauthenticated,
                fmt::format("{} is outside the {} s window", kTimestampHeader, window.count()));
  }
  if (!signature->starts_with(kVersionPrefix)) {
    return fail(ErrorKind::kUnauthenticated,
                fmt::format("{} must start with {}", kSignatureHeader, kVersionPrefix));
  }
  const std::string expected = mac_hex(request.method, request.target, *timestamp, request.body);
  const std::string_view given = signature->substr(kVersionPrefix.size());
  if (!core::constant_time_equal(given, expected)) {
    return fail(ErrorKind::kUnauthenticated, "wrong signature");
  }
  return {};
}

namespace {

// A coroutine with its parameters by value: nothing it uses can die while it is suspended.
boost::asio::awaitable<net::Response> verify_then_call(const RequestSigner& signer,
                                                       std::shared_ptr<const net::Handler> handler,
                                                       net::Request request) {
  if (auto ok = signer.verify(request, std::chrono::system_clock::now()); !ok) {
    core::logger("queue")->warn("worker call refused route={} remote={} reason=\"{}\"",
                                request.path(), request.remote, ok.error().message);
    co_return net::Response::json_error(401, ok.error().message);
  }
  co_return co_await (*handler)(std::move(request));
}

}  // namespace

net::Handler require_signature(const RequestSigner& signer, net::Handler handler) {
  return [&signer, shared = std::make_shared<const net::Handler>(std::move(handler))](
             net::Request request) { return verify_then_call(signer, shared, std::move(request)); };
}

}  // namespace mando::queue
