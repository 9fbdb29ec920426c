#pragma once
// imagine::Provider for the Replicate-style predictions API (replicate.hpp has the calls and
// their JSON): Bearer token, Cancel-After from the submission, the API's errors mapped by
// ProviderHttp.

#include <chrono>
#include <string>

#include "core/config.hpp"
#include "imagine/provider.hpp"
#include "imagine/provider_http.hpp"
#include "net/http_client.hpp"

namespace mando::imagine {

class ReplicateProvider final : public Provider {
 public:
  // The client must outlive the provider. `model` names the endpoint, version and token.
  ReplicateProvider(net::HttpClient& client, core::ImagineModel model);

  boost::asio::awaitable<Result<JobUpdate>> submit(Submission submission) override;
  boost::asio::awaitable<Result<JobUpdate>> poll(std::string provider_job_id) override;
  boost::asio::awaitable<Result<void>> cancel(std::string provider_job_id) override;
  Result<JobUpdate> parse_event(std::string_view body) const override;

 private:
  ProviderHttp http_;
  core::ImagineModel model_;
};

}  // namespace mando::imagine
