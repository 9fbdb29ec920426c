#include "imagine/replicate_provider.hpp"

#include <algorithm>
#include <cctype>

#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include "imagine/replicate.hpp"

namespace mando::imagine {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::chrono::seconds kCallTimeout{30};
constexpr std::size_t kMaxAnswerBytes = 4 * 1024 * 1024;  // a prediction with long logs

// The provider's own words for a refusal: Replicate answers problem+json ({"title", "detail"})
// or {"detail"}; anything else is named by its status.
std::string refusal_text(const net::ClientResponse& response) {
  boost::system::error_code ec;
  const json::value body = json::parse(response.body, ec);
  if (!ec && body.is_object()) {
    for (std::string_view key : {"detail", "title", "error"}) {
      const json::value* text = body.as_object().if_contains(key);
      if (text != nullptr && text->is_string() && !text->as_string().empty()) {
        return std::string(text->as_string().subview().substr(0, 300));
      }
    }
  }
  return fmt::format("the provider answered HTTP {}", response.status);
}

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
                        refusal_text(response))};
  }
  if (status == 404) return {ErrorKind::kNotFound, refusal_text(response)};
  if (status >= 400 && status < 500) return {ErrorKind::kInvalidArgument, refusal_text(response)};
  return {ErrorKind::kUnavailable, fmt::format("the provider answered HTTP {}", status)};
}

// A prediction id goes into a path: only the characters Replicate's ids have.
bool plain_job_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 && std::ranges::all_of(id, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

}  // namespace

ReplicateProvider::ReplicateProvider(net::HttpClient& client, core::ImagineModel model)
    : client_(client), model_(std::move(model)) {
  while (model_.endpoint.ends_with('/')) model_.endpoint.pop_back();
}

asio::awaitable<Result<net::ClientResponse>> ReplicateProvider::call(std::string method,
                                                                     std::string path,
                                                                     std::string body,
                                                                     net::Headers extra) {
  net::ClientRequest request;
  request.method = std::move(method);
  request.url = model_.endpoint + path;
  request.headers = std::move(extra);
  request.headers.set("authorization", "Bearer " + model_.api_token);
  if (!body.empty()) request.headers.set("content-type", "application/json");
  request.body = std::move(body);
  request.timeout = kCallTimeout;
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

asio::awaitable<Result<JobUpdate>> ReplicateProvider::submit(Submission submission) {
  auto created = replicate::create_call(model_.version, submission.input, submission.webhook);
  if (!created) co_return tl::unexpected(created.error());
  net::Headers headers;
  headers.set("cancel-after", replicate::cancel_after(submission.cancel_after));
  auto answer = co_await call("POST", created->path, std::move(created->body), std::move(headers));
  if (!answer) co_return tl::unexpected(answer.error());
  co_return replicate::parse_prediction(answer->body);
}

asio::awaitable<Result<JobUpdate>> ReplicateProvider::poll(std::string provider_job_id) {
  if (!plain_job_id(provider_job_id)) {
    co_return fail(ErrorKind::kInvalidArgument, "not a prediction id");
  }
  auto answer = co_await call("GET", "/predictions/" + provider_job_id, "");
  if (!answer) co_return tl::unexpected(answer.error());
  co_return replicate::parse_prediction(answer->body);
}

asio::awaitable<Result<void>> ReplicateProvider::cancel(std::string provider_job_id) {
  if (!plain_job_id(provider_job_id)) {
    co_return fail(ErrorKind::kInvalidArgument, "not a prediction id");
  }
  auto answer = co_await call("POST", "/predictions/" + provider_job_id + "/cancel", "");
  if (!answer) co_return tl::unexpected(answer.error());
  co_return Result<void>{};
}

Result<JobUpdate> ReplicateProvider::parse_event(std::string_view body) const {
  return replicate::parse_prediction(body);
}

}  // namespace mando::imagine
