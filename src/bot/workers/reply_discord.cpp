#include "bot/workers/reply_discord.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "bot/jobs.hpp"
#include "core/log.hpp"

namespace mando::bot {

namespace asio = boost::asio;

core::Family<core::Counter>& reply_outcomes(core::MetricsRegistry& metrics) {
  return metrics.counter("mando_discord_replies_total",
                         "Replies to interactions by outcome: delivered, or why dropped",
                         {"outcome"});
}

ReplyWorker::ReplyWorker(discord::RestClient& discord, storage::BlobStore& blobs, JobTracker& jobs,
                         core::MetricsRegistry& metrics,
                         std::function<std::chrono::system_clock::time_point()> now)
    : discord_(discord),
      blobs_(blobs),
      jobs_(jobs),
      replies_(reply_outcomes(metrics)),
      now_(now ? std::move(now) : [] { return std::chrono::system_clock::now(); }) {}

net::Response ReplyWorker::done(const std::string& job_id, std::string_view outcome, int status,
                                std::string_view message) {
  replies_.labels({std::string(outcome)}).inc();
  jobs_.finish(job_id);
  return net::Response::text(status, fmt::format("{}\n", message));
}

asio::awaitable<net::Response> ReplyWorker::handle(net::Request request) {
  auto log = core::logger("bot");
  auto job = parse_reply_job(request.body);
  if (!job) co_return net::Response::json_error(400, job.error().message);
  const DiscordTarget& target = job->target;
  const std::string& id = target.interaction_id;

  if (target.token_expired(now_())) {
    log->warn("reply to interaction {} dropped: its token expired", id);
    co_return done(id, "token_expired", 200, "dropped: the interaction token expired");
  }

  std::vector<discord::Attachment> files;
  if (!job->blob_key.empty()) {
    auto blob = co_await blobs_.get(job->blob_key);
    if (!blob && blob.error().kind == ErrorKind::kNotFound) {
      log->error("reply to interaction {} dropped: blob {} is gone", id, job->blob_key);
      co_return done(id, "blob_missing", 200, "dropped: the image is no longer stored");
    }
    if (!blob) {
      co_return net::Response::json_error(503, fmt::format("blob store: {}", blob.error().message));
    }
    files.push_back({job->filename, std::move(blob->bytes), job->content_type});
  }

  // A progress line still in flight must not land after the finished message.
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int tries = 0; tries < 100 && jobs_.editing(id); ++tries) {
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(asio::use_awaitable);
  }
  auto sent = co_await discord_.edit_original_response(target.application_id, target.token,
                                                       std::move(job->message), std::move(files));
  if (sent) co_return done(id, "delivered", 200, "delivered");
  const Error& error = sent.error();
  switch (error.kind) {
    case ErrorKind::kNotFound:
    case ErrorKind::kUnauthenticated:
      log->warn("reply to interaction {} dropped: Discord no longer knows its token ({})", id,
                error.message);
      co_return done(id, "token_invalid", 200, "dropped: the interaction token is not valid");
    case ErrorKind::kInvalidArgument:
    case ErrorKind::kPermissionDenied:
      log->error("reply to interaction {} dropped: Discord refused it: {}", id, error.message);
      co_return done(id, "rejected", 200, "dropped: Discord refused the message");
    default:
      log->warn("reply to interaction {} failed, the queue will retry: {}", id, error.message);
      co_return net::Response::json_error(503, error.message);
  }
}

}  // namespace mando::bot
