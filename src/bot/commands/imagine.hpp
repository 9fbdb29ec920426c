#pragma once
// /imagine: images and videos from a third-party GPU provider, results by signed webhook or by
// polling, never lost, never posted twice, never left hanging.
//
//   1. Ingress. The options are read and checked against [imagine] (imagine_request.hpp), the
//      job is counted against the daily quotas (imagine::JobStore::claim_quota) and enqueued on
//      queue `imagine` named after the interaction id; Discord gets a deferred answer.
//   2. Worker route `imagine`. Creates the job's record (a retried task finds it and does not
//      submit twice), submits to the model's provider with a webhook address on [imagine]
//      public_url naming the job, stores the provider's job id, and returns: the GPU work
//      happens at the provider. 429 and 5xx from the provider answer the queue 503, which
//      retries with backoff until the give-up point.
//   3. Public route POST /webhooks/imagine/{provider}. The signature is verified on the raw
//      body before anything is parsed (401 otherwise, nothing changes); the event is made a
//      task on queue `imagine-events` named after its webhook-id and only then answered 2xx, so
//      a redelivery is a no-op and nothing acknowledged is lost.
//   4. Worker route `imagine-events`. Merges the event into the record (monotonic:
//      imagine/job.hpp), edits a progress line ("in line at the provider (position 3)",
//      "generating 40 %") with a Cancel button, and once the job is terminal delivers it: the
//      outputs are downloaded at once through the untrusted-URL fetcher (providers delete them
//      within the hour), stored with the storage's expiry, a 2 x 2 grid made of several, and
//      the message goes to reply-discord (named after the interaction: posted once). A failed
//      prediction is told with the provider's own words (its safety verdict among them).
//   5. The poller (workers serving `imagine`). Jobs nobody heard of for [imagine] poll_after
//      (webhooks late, off, or lost while mando was down) are polled and the answer goes the
//      way of 4. A job still running at the give-up point is canceled at the provider and the
//      user told. So a restart, even kill -9, loses nothing: the records are on disk and the
//      poller picks every one up.
//   6. Buttons: Re-roll (the same prompt, a new seed), Delete and, while it runs, Cancel; Delete
//      and Cancel only for the person who asked. Per image, V1.. (a variation: that image as
//      the init image, for models with image_input) and U1.. (that image through the model's
//      `upscale` model); the provider fetches the image from the blob store's URL.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "bot/finisher.hpp"
#include "bot/intake.hpp"
#include "bot/job_tracker.hpp"
#include "bot/jobs.hpp"
#include "bot/tasks.hpp"
#include "core/config.hpp"
#include "core/cpu_pool.hpp"
#include "core/metrics.hpp"
#include "discord/command_registry.hpp"
#include "discord/rest_client.hpp"
#include "imagine/job_store.hpp"
#include "imagine/providers.hpp"
#include "net/fetcher.hpp"
#include "net/http_message.hpp"
#include "storage/blob_store.hpp"
#include "transform/pool.hpp"

namespace mando::bot::commands {

struct ImagineDeps {
  TaskSender* tasks = nullptr;                // ingress, webhook route and poller
  JobTracker* jobs = nullptr;                 // ingress and worker
  Finisher* finish = nullptr;                 // worker
  imagine::JobStore* store = nullptr;         // every role that runs /imagine
  imagine::Providers* providers = nullptr;    // worker, webhook route, Cancel button
  core::CpuPool* cpu = nullptr;               // runs the store's blocking calls
  storage::BlobStore* blobs = nullptr;        // worker
  net::Fetcher* fetcher = nullptr;            // worker: the provider's outputs
  transform::WorkerPool* decoders = nullptr;  // worker, optional: the grid of several images
  discord::RestClient* discord = nullptr;     // worker: progress lines (optional)
  core::MetricsRegistry* metrics = nullptr;
  core::ImagineConfig config;
  std::chrono::milliseconds ack_budget{std::chrono::seconds(2)};
  bool reply_with_url = false;  // [bot] reply = "url"
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
  std::function<std::chrono::system_clock::time_point()> wall = std::chrono::system_clock::now;
};

// Owned by a shared_ptr: the handlers it registers keep it alive as long as the registry.
class ImagineModule : public std::enable_shared_from_this<ImagineModule> {
 public:
  explicit ImagineModule(ImagineDeps deps);

  // /imagine and its buttons into `registry`.
  Result<void> register_into(discord::CommandRegistry& registry);

  // Worker route `imagine` (2 above), worker route `imagine-events` (4), the public webhook
  // route (3).
  boost::asio::awaitable<net::Response> submit(net::Request request);
  boost::asio::awaitable<net::Response> event(net::Request request);
  boost::asio::awaitable<net::Response> webhook(net::Request request);

  // One round of the poller (5): how many jobs it looked at.
  boost::asio::awaitable<int> poll_once();
  // Runs poll_once() every max(poll_after / 4, 250 ms) until stop().
  void start_poller(boost::asio::any_io_executor executor);
  void stop();

 private:
  struct Delivery;  // one terminal job's outputs on their way to Discord (imagine.cpp)

  boost::asio::awaitable<discord::InteractionResponse> start_job(
      const discord::Interaction& interaction, Result<ImagineJob> job);
  boost::asio::awaitable<discord::InteractionResponse> quota_refusal(const ImagineJob& job);
  boost::asio::awaitable<discord::InteractionResponse> from_output(discord::ComponentContext ctx,
                                                                   bool upscale);
  boost::asio::awaitable<discord::InteractionResponse> cancel_button(discord::ComponentContext ctx);
  boost::asio::awaitable<net::Response> send_to_provider(imagine::Provider& provider,
                                                         const ImagineJob& job);
  std::string public_base() const;  // [imagine] public_url without a trailing '/'
  boost::asio::awaitable<net::Response> deliver(const imagine::JobRecord& record);
  boost::asio::awaitable<net::Response> deliver_outputs(const imagine::JobRecord& record,
                                                        const ImagineJob& job);
  boost::asio::awaitable<void> show_progress(const imagine::JobRecord& record);
  // The job ended (delivered or given up): its progress throttle goes.
  void forget_edits(const std::string& job_id);
  boost::asio::awaitable<void> poll_job(const imagine::JobRecord& record);
  // Cancels at the provider and tells the user (the give-up point passed).
  boost::asio::awaitable<net::Response> give_up(const imagine::JobRecord& record,
                                                imagine::Provider& provider,
                                                const DiscordTarget& target);
  boost::asio::awaitable<Result<void>> keep_inline_outputs(const std::string& job_id,
                                                           imagine::JobUpdate& update);
  // Merges an event into its record: the job's record, or the answer to give instead (a drop,
  // 200; a retry, 503).
  boost::asio::awaitable<tl::expected<imagine::Applied, net::Response>> merge_update(
      const std::string& job_id, const imagine::JobUpdate& update);
  boost::asio::awaitable<void> cancel_orphan(const imagine::JobRecord& record,
                                             const imagine::JobUpdate& update);
  // The give-up line, when the job still runs past the give-up point; nullopt otherwise.
  boost::asio::awaitable<std::optional<net::Response>> give_up_if_due(
      const imagine::JobRecord& record);
  // News of a job from a webhook, a poll or a submit: progress merged at once, the rest as an
  // imagine-events task named `task_id`. false: a duplicate (or dropped).
  boost::asio::awaitable<Result<bool>> record_update(std::string task_id, const std::string& job_id,
                                                     const imagine::JobUpdate& update);
  boost::asio::awaitable<Result<bool>> send_event(std::string task_id, const std::string& job_id,
                                                  const imagine::JobUpdate& update);
  void count(std::string_view outcome);

  ImagineDeps deps_;
  JobIntake intake_;
  core::Family<core::Counter>* outcomes_ = nullptr;
  core::Family<core::Counter>* webhooks_ = nullptr;
  std::mutex mutex_;
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> last_edit_;
  std::chrono::steady_clock::time_point last_forget_{};
  std::shared_ptr<bool> stopped_ = std::make_shared<bool>(false);
};

}  // namespace mando::bot::commands
