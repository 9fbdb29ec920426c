#pragma once
// Worker route `reply-discord` (queue reply-discord): edits an interaction's original response
// into the finished message, the image uploaded from the blob store as an attachment.
//
// What the queue gets back decides what happens next (Cloud Tasks retries every non-2xx):
//   200  delivered; or dropped for good, with a log line and a count in
//        mando_discord_replies_total{outcome}: the token expired (15 minutes after the
//        interaction; checked before sending), Discord says the token or message is gone (401,
//        404), Discord refused the message (other 4xx), or the image is no longer stored;
//   400  the task body is malformed (retried, then kept as a dead letter to inspect);
//   503  Discord or the blob store failed for now (5xx and transport errors after the REST
//        client's own retries): the queue retries with backoff.
// Delivering twice is harmless: a PATCH of the same message with the same content.

#include <boost/asio/awaitable.hpp>

#include "bot/job_tracker.hpp"
#include "core/metrics.hpp"
#include "discord/rest_client.hpp"
#include "net/http_message.hpp"
#include "storage/blob_store.hpp"

namespace mando::bot {

// mando_discord_replies_total{outcome}: every reply delivered or dropped, by whichever worker
// dropped it (generate-image drops jobs whose token expired before the render).
core::Family<core::Counter>& reply_outcomes(core::MetricsRegistry& metrics);

class ReplyWorker {
 public:
  // Everything must outlive the worker. `now` is the system clock unless a test sets it.
  ReplyWorker(discord::RestClient& discord, storage::BlobStore& blobs, JobTracker& jobs,
              core::MetricsRegistry& metrics,
              std::function<std::chrono::system_clock::time_point()> now = {});

  boost::asio::awaitable<net::Response> handle(net::Request request);

 private:
  // Counts the outcome, finishes the job and answers the queue.
  net::Response done(const std::string& job_id, std::string_view outcome, int status,
                     std::string_view message);

  discord::RestClient& discord_;
  storage::BlobStore& blobs_;
  JobTracker& jobs_;
  core::Family<core::Counter>& replies_;
  std::function<std::chrono::system_clock::time_point()> now_;
};

}  // namespace mando::bot
