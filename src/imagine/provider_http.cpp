#include "imagine/provider_http.hpp"

#include <algorithm>
#include <cctype>

#include <boost/json/parse.hpp>
#include <fmt/format.h>

namespace mando::imagine {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxAnswerBytes = 64 * 1024 * 1024;  // a long log, or inline images
constexpr std::size_t kMaxRefusal = 300;

std::string clipped(std::string_view text) { return std::string(text.substr(0, kMaxRefusal)); }

// provider.hpp's error for a non-2xx answer.
Error answer_error(const net::ClientResponse& response) {
  const int status = response.status;
  if (status == 429) {
    const auto retry = response.headers.get("retry-after");
    return {ErrorKind::kResourceExhausted,
            retry ? fmt::format("the provider is rate-limiting us (retry after {} s)", *retry)
                  : std::string("the provider is rate-limiting us")};
  }
  if (status == 401 || status == 403) {
    return {ErrorKind::kUnauthenticated,
            fmt::format("the provider refused the API token (HTTP {}): {}", status,
                        ProviderHttp::refusal_text(response))};
  }
  if (status == 404) return {ErrorKind::kNotFound, ProviderHttp::refusal_text(response)};
  if (status >= 400 && status < 500) {
    return {ErrorKind::kInvalidArgument, ProviderHttp::refusal_text(response)};
  }
  return {ErrorKind::kUnavailable, fmt::format("the provider answered HTTP {}", status)};
}

}  // namespace

bool plain_job_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 && std::ranges::all_of(id, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string ProviderHttp::refusal_text(const net::ClientResponse& response) {
  boost::system::error_code ec;
  const json::value body = json::parse(response.body, ec);
  if (!ec && body.is_object()) {
    const json::object& o = body.as_object();
    for (std::string_view key : {"detail", "title", "error"}) {
      const json::value* text = o.if_contains(key);
      if (text != nullptr && text->is_string() && !text->as_string().empty()) {
        return clipped(text->as_string());
      }
    }
    // OpenAI's {"error": {"message": ...}}
    if (const json::value* error = o.if_contains("error"); error != nullptr && error->is_object()) {
      const json::value* message = error->as_object().if_contains("message");
      if (message != nullptr && message->is_string()) return clipped(message->as_string());
    }
  }
  return fmt::format("the provider answered HTTP {}", response.status);
}

asio::awaitable<Result<net::ClientResponse>> ProviderHttp::call(std::string method, std::string url,
                                                                std::string body,
                                                                net::Headers headers) const {
  net::ClientRequest request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.headers = std::move(headers);
  request.headers.set("authorization", authorization_);
  request.body = std::move(body);
  request.timeout = timeout_;
  request.max_response_bytes = kMaxAnswerBytes;
  auto response = co_await client_.send(std::move(request));
  if (!response) {
    co_return fail(response.error().kind == ErrorKind::kInvalidArgument
                       ? ErrorKind::kInvalidArgument
                       : ErrorKind::kUnavailable,
                   fmt::format("the provider could not be reached: {}", response.error().message));
  }
  if (response->status < 200 || response->status > 299) {
    co_return tl::unexpected(answer_error(*response));
  }
  co_return response;
}

}  // namespace mando::imagine
