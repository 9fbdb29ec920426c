#pragma once
// imagine::Provider for the Replicate-style predictions API (replicate.hpp has the calls and
// their JSON) over net::HttpClient: Bearer token, Cancel-After from the submission, and the
// API's errors mapped as provider.hpp says (a 429's Retry-After, when sent, is in the message).

#include <chrono>
#include <string>

#include "core/config.hpp"
#include "imagine/provider.hpp"
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
  boost::asio::awaitable<Result<net::ClientResponse>> call(std::string method, std::string path,
                                                           std::string body,
                                                           net::Headers extra = {});

  net::HttpClient& client_;
  core::ImagineModel model_;
};

}  // namespace mando::imagine
