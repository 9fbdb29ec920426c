#include "imagine/openai_provider.hpp"

#include <atomic>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace mando::imagine {

namespace asio = boost::asio;
namespace json = boost::json;

namespace openai {

Result<JobUpdate> parse_images(std::string_view body, std::string job_id) {
  boost::system::error_code ec;
  const json::value value = json::parse(body, ec);
  const json::value* data =
      !ec && value.is_object() ? value.as_object().if_contains("data") : nullptr;
  if (data == nullptr || !data->is_array()) {
    return fail(ErrorKind::kInvalidArgument, "images answer: no `data` array");
  }
  JobUpdate update;
  update.provider_job_id = std::move(job_id);
  update.status = Status::kSucceeded;
  update.percent = 100;
  for (const auto& item : data->as_array()) {
    const json::object* image = item.if_object();
    if (image == nullptr) continue;
    if (const json::value* b64 = image->if_contains("b64_json");
        b64 != nullptr && b64->is_string()) {
      update.outputs.push_back(fmt::format("data:application/octet-stream;base64,{}",
                                           std::string_view(b64->as_string())));
    } else if (const json::value* url = image->if_contains("url");
               url != nullptr && url->is_string()) {
      update.outputs.emplace_back(url->as_string());
    }
  }
  if (update.outputs.empty()) {
    return fail(ErrorKind::kInvalidArgument, "images answer: no image in `data`");
  }
  return update;
}

}  // namespace openai

OpenAiProvider::OpenAiProvider(net::HttpClient& client, core::ImagineModel model)
    : http_(client, "Bearer " + model.api_token, model.timeout), model_(std::move(model)) {
  while (model_.endpoint.ends_with('/')) model_.endpoint.pop_back();
}

asio::awaitable<Result<JobUpdate>> OpenAiProvider::submit(Submission submission) {
  json::object body = std::move(submission.input);
  if (!model_.version.empty() && !body.contains("model")) body["model"] = model_.version;
  if (!body.contains("response_format")) body["response_format"] = "b64_json";
  net::Headers headers;
  headers.set("content-type", "application/json");
  auto answer = co_await http_.call("POST", model_.endpoint + "/images/generations",
                                    json::serialize(body), std::move(headers));
  if (!answer) co_return tl::unexpected(answer.error());
  // The API has no job id: one of ours, unique enough to tell two submits of a job apart.
  static std::atomic<std::uint64_t> next{0};
  const auto id = fmt::format("sync-{:x}-{}",
                              std::chrono::system_clock::now().time_since_epoch().count(), ++next);
  co_return openai::parse_images(answer->body, id);
}

asio::awaitable<Result<JobUpdate>> OpenAiProvider::poll(std::string) {
  co_return fail(ErrorKind::kFailedPrecondition, "a synchronous job has nothing to poll");
}

asio::awaitable<Result<void>> OpenAiProvider::cancel(std::string) { co_return Result<void>{}; }

Result<JobUpdate> OpenAiProvider::parse_event(std::string_view) const {
  return fail(ErrorKind::kInvalidArgument, "an OpenAI-compatible API sends no webhooks");
}

}  // namespace mando::imagine
