#pragma once
// The HTTP side every provider client shares: one request with the provider's authorization,
// a bounded time and size, and a non-2xx answer mapped to what the caller should do
// (provider.hpp's error kinds), the provider's own words kept for the user where they explain
// a refusal. The token is never in a message.

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "net/http_client.hpp"

namespace mando::imagine {

// Whether a provider's job id may go into a URL path: letters, digits, '-' and '_' only.
bool plain_job_id(std::string_view id);

class ProviderHttp {
 public:
  // `authorization`: the header's whole value ("Bearer r8_...", "Key ...").
  ProviderHttp(net::HttpClient& client, std::string authorization,
               std::chrono::milliseconds timeout = std::chrono::seconds(30))
      : client_(client), authorization_(std::move(authorization)), timeout_(timeout) {}

  // The 2xx answer, or provider.hpp's error for anything else.
  boost::asio::awaitable<Result<net::ClientResponse>> call(std::string method, std::string url,
                                                           std::string body,
                                                           net::Headers headers = {}) const;

  // The provider's words in an error body ("detail", "title", "error" or "error.message"),
  // at most 300 characters; "the provider answered HTTP N" when it has none.
  static std::string refusal_text(const net::ClientResponse& response);

 private:
  net::HttpClient& client_;
  std::string authorization_;
  std::chrono::milliseconds timeout_;
};

}  // namespace mando::imagine
