// ImagineModule, part 3 of 3: the delivery of a finished job (imagine.hpp, step 4's end).

#include <algorithm>

#include <fmt/format.h>

#include "bot/commands/imagine.hpp"
#include "bot/commands/imagine_detail.hpp"
#include "bot/commands/imagine_message.hpp"
#include "bot/commands/imagine_request.hpp"
#include "core/fan_out.hpp"
#include "core/log.hpp"

namespace mando::bot::commands {

namespace asio = boost::asio;
namespace json = boost::json;
using imagine::JobRecord;
using imagine::JobStore;
using imagine::Status;
using namespace imagine_detail;

asio::awaitable<net::Response> ImagineModule::deliver(const JobRecord& record) {
  auto log = core::logger("bot");
  auto job = parse_imagine_job(record.request);
  if (!job) {
    log->error("imagine job {}: stored request unreadable: {}", record.job_id, job.error().message);
    co_return net::Response::json(200, R"({"note":"unreadable job"})");
  }
  forget_edits(record.job_id);
  const DiscordTarget& target = job->target;
  const auto& state = record.state;
  net::Response response;
  if (state.status == Status::kSucceeded && !state.outputs.empty()) {
    response = co_await deliver_outputs(record, *job);
  } else {
    count(to_string(state.status));
    response = co_await deps_.finish->fail(target, ending_text(state),
                                           std::string(to_string(state.status)));
  }
  if (response.status == 200) {
    auto marked =
        co_await store_call(*deps_.cpu, *deps_.store, &JobStore::mark_delivered, record.job_id);
    if (!marked)
      log->warn("imagine job {}: not marked delivered: {}", record.job_id, marked.error().message);
  }
  co_return response;
}

asio::awaitable<net::Response> ImagineModule::deliver_outputs(const JobRecord& record,
                                                              const ImagineJob& job) {
  auto log = core::logger("bot");
  const DiscordTarget& target = job.target;
  const std::string& id = record.job_id;
  const std::size_t n = std::min<std::size_t>(record.state.outputs.size(), job.video ? 1 : 4);
  std::vector<Result<OutputFile>> files(n, fail(ErrorKind::kInternal, "not fetched"));
  auto fetch = [&](std::size_t i) -> asio::awaitable<void> {
    files[i] = co_await fetch_output(*deps_.fetcher, *deps_.blobs, record.state.outputs[i]);
  };
  co_await core::fan_out(n, 4, fetch);
  for (const auto& file : files) {
    if (file) continue;
    // Gone, refused by the fetch policy, too large or not a picture: no retry changes that.
    const ErrorKind kind = file.error().kind;
    if (kind == ErrorKind::kNotFound || kind == ErrorKind::kInvalidArgument ||
        kind == ErrorKind::kPermissionDenied || kind == ErrorKind::kResourceExhausted) {
      log->warn("imagine job {}: output unusable: {}", id, file.error().message);
      count("lost");
      co_return co_await deps_.finish->fail(
          target,
          fmt::format("Sorry, the provider's result could not be used: {}. Please try again.",
                      file.error().message),
          "output_unusable");
    }
    if (deps_.finish->past_give_up(target)) {
      log->warn("imagine job {}: output not fetched by the give-up point: {}", id,
                file.error().message);
      count("lost");
      co_return co_await deps_.finish->fail(target, Failure::kTookTooLong, "gave_up");
    }
    log->warn("imagine job {}: output not fetched, the queue will retry: {}", id,
              file.error().message);
    co_return net::Response::json_error(503, "the provider's output could not be fetched");
  }

  std::vector<storage::BlobRef> stored;
  for (std::size_t i = 0; i < n; ++i) {
    storage::PutOptions put;
    put.content_type = files[i]->content_type;
    auto blob =
        co_await deps_.blobs->put(fmt::format("imagine/{}/{}.{}", id, i + 1, files[i]->extension),
                                  files[i]->bytes, std::move(put));
    if (!blob) {
      log->warn("imagine job {}: blob store unavailable, the queue will retry: {}", id,
                blob.error().message);
      co_return net::Response::json_error(503, "the blob store is unavailable");
    }
    stored.push_back(std::move(*blob));
  }

  // The attachment: the one output, or a grid of several when the decoders can draw one.
  OutputFile shown = *files[0];
  storage::BlobRef shown_blob = stored[0];
  std::string filename = fmt::format("{}.{}", job.video ? "video" : "image", shown.extension);
  if (n > 1 && deps_.decoders != nullptr) {
    std::vector<std::string> tiles;
    for (auto& f : files) tiles.push_back(f->bytes);
    auto grid = co_await deps_.decoders->sheet(
        std::move(tiles), {512, transform::Format::kPng, target.upload_limit()});
    if (grid) {
      storage::PutOptions put;
      put.content_type = "image/png";
      auto blob =
          co_await deps_.blobs->put(fmt::format("imagine/{}/grid.png", id), *grid, std::move(put));
      if (!blob) co_return net::Response::json_error(503, "the blob store is unavailable");
      shown = {std::move(*grid), "image/png", "png", false};
      shown_blob = std::move(*blob);
      filename = "grid.png";
    } else {
      log->warn("imagine job {}: no grid ({}), the first image is shown", id, grid.error().message);
    }
  }
  MessageParts parts{job,
                     stored,
                     filename,
                     shown.video,
                     deps_.reply_with_url ? shown_blob.url : "",
                     fmt::format("{}{}", kRerollPrefix, id),
                     fmt::format("{}{}", kDeletePrefix, target.user_id),
                     {},
                     {}};
  const core::ImagineModel* model = find_model(deps_.config, job.model);
  for (std::size_t i = 0; model != nullptr && !job.video && i < stored.size(); ++i) {
    // The key below "imagine/": what the buttons hand the next job as its image.
    const std::string output = stored[i].key.substr(std::string_view("imagine/").size());
    if (model->image_input) parts.variation_ids.push_back(fmt::format("{}{}", kVaryPrefix, output));
    if (!model->upscale.empty()) {
      parts.upscale_ids.push_back(fmt::format("{}{}", kUpscalePrefix, output));
    }
  }
  ReplyJob reply{target, finished_message(parts), {}, {}, {}, shown_blob.url, true, {}};
  if (!deps_.reply_with_url) {
    reply.blob_key = shown_blob.key;
    reply.filename = filename;
    reply.content_type = shown.content_type;
    // Beside the grid, each image as a file of its own, as far as the upload limit allows.
    if (shown_blob.key != stored[0].key) {
      for (std::size_t i = 0; i < stored.size(); ++i) {
        reply.extra_files.push_back({stored[i].key,
                                     fmt::format("{}.{}", i + 1, files[i]->extension),
                                     files[i]->content_type});
      }
    }
  }
  auto sent = co_await send_reply(*deps_.tasks, std::move(reply));
  if (sent.status == 200) count("succeeded");
  co_return sent;
}

}  // namespace mando::bot::commands
