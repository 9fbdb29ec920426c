#pragma once
// /transform and the "Transform images" message command: up to [transform] max_inputs images,
// each fetched, resized and cropped to a square, posted as one contact sheet.
//
//   1. The ingress reads the images' addresses and options (transform_inputs.hpp), admits the
//      job against the user's limits (the same as /mando's), and enqueues it on queue
//      `transform-images` named after the interaction id; Discord gets a deferred answer, or
//      "busy" past [bot] ack_budget.
//   2. The worker route `transform-images` fetches every address through the fetch policy
//      (net/fetcher.hpp: public addresses only, byte caps, deadlines), [transform]
//      downloads_per_job at a time, and hands each download to the decoder processes
//      (transform/pool.hpp) as soon as it arrives, so downloads and decodes overlap and at most
//      that many downloads are held at once. An image that fails gets a line with its reason
//      ("image 7: not a supported image type"); the others go on.
//   3. Every result is stored with the storage's expiry and linked one by one in the message
//      (one link each rather than an archive: nothing to build or store twice, and each opens
//      in a browser). The contact sheet, encoded to fit the interaction's upload limit, goes to
//      reply-discord as the message's attachment.
// Progress lines ("downloading 9/20, resizing 7/20") follow the job once it has waited
// [bot] progress_after, at most one per kMinEditInterval. Past [bot] give_up_after, or when no
// image could be used, the user gets a failure line (finisher.hpp).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "bot/commands/transform_inputs.hpp"
#include "bot/finisher.hpp"
#include "bot/intake.hpp"
#include "bot/job_tracker.hpp"
#include "bot/jobs.hpp"
#include "bot/tasks.hpp"
#include "core/config.hpp"
#include "core/metrics.hpp"
#include "discord/command_registry.hpp"
#include "discord/rest_client.hpp"
#include "net/fetcher.hpp"
#include "net/http_message.hpp"
#include "storage/blob_store.hpp"
#include "transform/pool.hpp"

namespace mando::bot::commands {

struct TransformDeps {
  TaskSender* tasks = nullptr;                // ingress
  JobTracker* jobs = nullptr;                 // ingress and worker
  Finisher* finish = nullptr;                 // worker
  storage::BlobStore* blobs = nullptr;        // worker
  net::Fetcher* fetcher = nullptr;            // worker
  transform::WorkerPool* decoders = nullptr;  // worker
  discord::RestClient* discord = nullptr;     // worker: progress lines (optional)
  core::MetricsRegistry* metrics = nullptr;
  core::TransformConfig limits;
  std::chrono::milliseconds progress_after{0};  // 0: no progress lines
  std::chrono::milliseconds ack_budget{std::chrono::seconds(2)};
  bool reply_with_url = false;  // [bot] reply = "url"
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
};

// Owned by a shared_ptr: the handlers it registers keep it alive as long as the registry.
class TransformModule : public std::enable_shared_from_this<TransformModule> {
 public:
  explicit TransformModule(TransformDeps deps);

  // /transform and the message command into `registry`.
  Result<void> register_into(discord::CommandRegistry& registry);
  // The worker route `transform-images`: a transform-images task's POST.
  boost::asio::awaitable<net::Response> transform_images(net::Request request);

 private:
  struct Run;  // one job's inputs, results and progress (transform.cpp)

  boost::asio::awaitable<discord::InteractionResponse> start_job(
      const discord::Interaction& interaction, Result<TransformRequest> request);
  boost::asio::awaitable<void> process(Run& run, std::size_t index);
  boost::asio::awaitable<void> report_progress(Run& run);
  boost::asio::awaitable<net::Response> deliver(Run& run);

  TransformDeps deps_;
  JobIntake intake_;
  core::Family<core::Counter>* images_total_ = nullptr;
  core::Histogram* job_seconds_ = nullptr;
};

}  // namespace mando::bot::commands
