#include "imagine/webhook_verifier.hpp"

namespace mando::imagine {

boost::asio::awaitable<Result<std::string>> StandardWebhookVerifier::verify(
    const net::Headers& headers, std::string_view body, std::chrono::system_clock::time_point now) {
  const auto header = [&](std::string_view name) { return headers.get(name).value_or(""); };
  const StandardWebhooks::Headers signed_headers{header("webhook-id"), header("webhook-timestamp"),
                                                 header("webhook-signature")};
  if (auto ok = hooks_.verify(signed_headers, body, now); !ok) co_return tl::unexpected(ok.error());
  co_return std::string(signed_headers.id);
}

}  // namespace mando::imagine
