#include "imagine/replicate_provider.hpp"

#include "imagine/replicate.hpp"

namespace mando::imagine {

namespace asio = boost::asio;

ReplicateProvider::ReplicateProvider(net::HttpClient& client, core::ImagineModel model)
    : http_(client, "Bearer " + model.api_token), model_(std::move(model)) {
  while (model_.endpoint.ends_with('/')) model_.endpoint.pop_back();
}

asio::awaitable<Result<JobUpdate>> ReplicateProvider::submit(Submission submission) {
  auto created = replicate::create_call(model_.version, submission.input, submission.webhook);
  if (!created) co_return tl::unexpected(created.error());
  net::Headers headers;
  headers.set("cancel-after", replicate::cancel_after(submission.cancel_after));
  headers.set("content-type", "application/json");
  auto answer = co_await http_.call("POST", model_.endpoint + created->path,
                                    std::move(created->body), std::move(headers));
  if (!answer) co_return tl::unexpected(answer.error());
  co_return replicate::parse_prediction(answer->body);
}

asio::awaitable<Result<JobUpdate>> ReplicateProvider::poll(std::string provider_job_id) {
  if (!plain_job_id(provider_job_id)) {
    co_return fail(ErrorKind::kInvalidArgument, "not a prediction id");
  }
  auto answer = co_await http_.call("GET", model_.endpoint + "/predictions/" + provider_job_id, "");
  if (!answer) co_return tl::unexpected(answer.error());
  co_return replicate::parse_prediction(answer->body);
}

asio::awaitable<Result<void>> ReplicateProvider::cancel(std::string provider_job_id) {
  if (!plain_job_id(provider_job_id)) {
    co_return fail(ErrorKind::kInvalidArgument, "not a prediction id");
  }
  auto answer = co_await http_.call(
      "POST", model_.endpoint + "/predictions/" + provider_job_id + "/cancel", "");
  if (!answer) co_return tl::unexpected(answer.error());
  co_return Result<void>{};
}

Result<JobUpdate> ReplicateProvider::parse_event(std::string_view body) const {
  return replicate::parse_prediction(body);
}

}  // namespace mando::imagine
