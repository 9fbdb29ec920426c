#include "imagine/fal_provider.hpp"

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "imagine/fal.hpp"

namespace mando::imagine {

namespace asio = boost::asio;

FalProvider::FalProvider(net::HttpClient& client, core::ImagineModel model)
    : http_(client, "Key " + model.api_token), model_(std::move(model)) {
  while (model_.endpoint.ends_with('/')) model_.endpoint.pop_back();
}

Result<std::string> FalProvider::request_url(std::string_view provider_job_id) const {
  if (!plain_job_id(provider_job_id)) return fail(ErrorKind::kInvalidArgument, "not a request id");
  auto app = fal::app_id(model_.version);
  if (!app) return tl::unexpected(app.error());
  return fmt::format("{}/{}/requests/{}", model_.endpoint, *app, provider_job_id);
}

asio::awaitable<Result<JobUpdate>> FalProvider::submit(Submission submission) {
  auto url = fal::submit_url(model_.endpoint, model_.version, submission.webhook);
  if (!url) co_return tl::unexpected(url.error());
  net::Headers headers;
  headers.set("content-type", "application/json");
  auto answer = co_await http_.call("POST", std::move(*url),
                                    boost::json::serialize(submission.input), std::move(headers));
  if (!answer) co_return tl::unexpected(answer.error());
  co_return fal::parse_submitted(answer->body);
}

asio::awaitable<Result<JobUpdate>> FalProvider::poll(std::string provider_job_id) {
  auto base = request_url(provider_job_id);
  if (!base) co_return tl::unexpected(base.error());
  auto status = co_await http_.call("GET", *base + "/status?logs=1", "");
  if (!status) co_return tl::unexpected(status.error());
  auto update = fal::parse_status(provider_job_id, status->body);
  if (!update || update->status != Status::kSucceeded) co_return update;
  auto result = co_await http_.call("GET", *base, "");
  if (!result && result.error().kind == ErrorKind::kInvalidArgument) {
    // The request completed with an error: the result route answers it (422, 400, ...).
    update->status = Status::kFailed;
    update->error = result.error().message;
    co_return update;
  }
  if (!result) co_return tl::unexpected(result.error());
  auto outputs = fal::parse_result(result->body);
  if (!outputs) co_return tl::unexpected(outputs.error());
  update->outputs = std::move(*outputs);
  co_return update;
}

asio::awaitable<Result<void>> FalProvider::cancel(std::string provider_job_id) {
  auto base = request_url(provider_job_id);
  if (!base) co_return tl::unexpected(base.error());
  auto answer = co_await http_.call("PUT", *base + "/cancel", "");
  // 400 ALREADY_COMPLETED: nothing left to stop.
  if (!answer && answer.error().kind != ErrorKind::kInvalidArgument) {
    co_return tl::unexpected(answer.error());
  }
  co_return Result<void>{};
}

Result<JobUpdate> FalProvider::parse_event(std::string_view body) const {
  return fal::parse_webhook(body);
}

}  // namespace mando::imagine
