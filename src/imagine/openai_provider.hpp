#pragma once
// imagine::Provider for OpenAI-compatible images APIs (self-hosted GPU servers, OpenAI
// itself): one synchronous call, no webhook, nothing to poll.
//
//   POST {endpoint}/images/generations   Authorization: Bearer <token>
//        {"model": <version>, "prompt", "n", "size", "response_format": "b64_json", ...input}
//   ->   {"created", "data": [{"b64_json": "..."} | {"url": "..."}]}
//
// submit() waits for the images ([imagine.models.NAME] timeout) and answers the job already
// succeeded: the outputs are data: URIs (b64_json) or the server's URLs.

#include <string>
#include <string_view>

#include "core/config.hpp"
#include "imagine/provider.hpp"
#include "imagine/provider_http.hpp"

namespace mando::imagine {

namespace openai {
// An images answer as a succeeded update of job `job_id`; kInvalidArgument when it is not one
// or holds no image.
Result<JobUpdate> parse_images(std::string_view body, std::string job_id);
}  // namespace openai

class OpenAiProvider final : public Provider {
 public:
  OpenAiProvider(net::HttpClient& client, core::ImagineModel model);

  boost::asio::awaitable<Result<JobUpdate>> submit(Submission submission) override;
  // kFailedPrecondition: a synchronous job is over when submit() answers.
  boost::asio::awaitable<Result<JobUpdate>> poll(std::string provider_job_id) override;
  // Nothing runs at the provider once submit() answered: always succeeds.
  boost::asio::awaitable<Result<void>> cancel(std::string provider_job_id) override;
  // kInvalidArgument: this API sends no webhooks.
  Result<JobUpdate> parse_event(std::string_view body) const override;

 private:
  ProviderHttp http_;
  core::ImagineModel model_;
};

}  // namespace mando::imagine
