#pragma once
// imagine::Provider for the fal-style queue API (fal.hpp has the calls and their JSON):
// "Authorization: Key <token>", the webhook in fal_webhook, a poll that reads the status and,
// once COMPLETED, the result. fal has no Cancel-After: the give-up cancel stops a job instead.

#include "core/config.hpp"
#include "imagine/provider.hpp"
#include "imagine/provider_http.hpp"

namespace mando::imagine {

class FalProvider final : public Provider {
 public:
  // The client must outlive the provider. `model.version` is the model id ("fal-ai/flux/dev").
  FalProvider(net::HttpClient& client, core::ImagineModel model);

  boost::asio::awaitable<Result<JobUpdate>> submit(Submission submission) override;
  boost::asio::awaitable<Result<JobUpdate>> poll(std::string provider_job_id) override;
  boost::asio::awaitable<Result<void>> cancel(std::string provider_job_id) override;
  Result<JobUpdate> parse_event(std::string_view body) const override;

 private:
  // {endpoint}/{app}/requests/{id}, or an error for an id that may not go into a path.
  Result<std::string> request_url(std::string_view provider_job_id) const;

  ProviderHttp http_;
  core::ImagineModel model_;
};

}  // namespace mando::imagine
