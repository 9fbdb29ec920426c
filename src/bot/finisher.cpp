#include "bot/finisher.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <fmt/format.h>

#include "core/log.hpp"

namespace mando::bot {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string with_id(std::string_view text, std::string_view interaction_id) {
  return fmt::format("{} (interaction {})", text, interaction_id);
}

}  // namespace

std::string failure_text(Failure failure, std::string_view interaction_id) {
  std::string_view text;
  switch (failure) {
    case Failure::kTookTooLong:
      text = "Sorry, this took too long and I gave up. Please try again in a moment.";
      break;
    case Failure::kNotDrawn:
      text = "Sorry, this mandala could not be drawn. Please try again with other options.";
      break;
    case Failure::kRefused:
      text = "Discord refused the picture, so I cannot show it here. Please try again.";
      break;
    case Failure::kLost:
      text = "Sorry, the picture was lost before I could send it. Please try again.";
      break;
    case Failure::kTooLarge:
      text =
          "Sorry, the picture is larger than Discord accepts here and I have no link to it. "
          "Please try a smaller size.";
      break;
  }
  return with_id(text, interaction_id);
}

json::object plain_message(std::string_view content) {
  return json::object{{"content", content},
                      {"embeds", json::array{}},
                      {"components", json::array{}},
                      {"attachments", json::array{}},
                      {"allowed_mentions", json::object{{"parse", json::array{}}}}};
}

Finisher::Finisher(discord::RestClient& discord, JobTracker& jobs, core::MetricsRegistry& metrics,
                   std::chrono::milliseconds give_up_after, WallClock now)
    : discord_(discord),
      jobs_(jobs),
      outcomes_(metrics.counter("mando_discord_replies_total",
                                "How jobs ended: delivered, a failure line shown, or why dropped",
                                {"outcome"})),
      give_up_after_(give_up_after),
      now_(now ? std::move(now) : [] { return std::chrono::system_clock::now(); }) {}

bool Finisher::token_expired(const DiscordTarget& target) const {
  return target.token_expired(now_());
}

bool Finisher::past_give_up(const DiscordTarget& target) const {
  const auto now = now_();
  return now >= target.created(now) + give_up_after_;
}

boost::asio::awaitable<std::optional<net::Response>> Finisher::begin(
    const DiscordTarget& target, JobTracker::Clock::time_point now) {
  auto log = core::logger("bot");
  const std::string& id = target.interaction_id;
  if (token_expired(target)) {
    log->warn("job of interaction {} dropped: its token expired before it ran", id);
    co_return done(target, "token_expired", "dropped: the interaction token expired");
  }
  // Every retry comes here first: the user's other jobs kept this one waiting (429), or the
  // blob store or queue were down (503), until the give-up point.
  if (past_give_up(target)) {
    log->warn("job of interaction {}: past the give-up point, not run", id);
    co_return co_await fail(target, Failure::kTookTooLong, "gave_up");
  }
  if (jobs_.start(target, now) == JobTracker::Start::kStarted) co_return std::nullopt;
  // The user's other jobs are running: the queue tries this one again later.
  co_return net::Response::json_error(429, "this user has as many jobs running as allowed");
}

net::Response Finisher::done(const DiscordTarget& target, std::string_view outcome,
                             std::string_view note) {
  outcomes_.labels({std::string(outcome)}).inc();
  jobs_.finish(target.interaction_id);
  return net::Response::text(200, fmt::format("{}\n", note));
}

asio::awaitable<void> Finisher::wait_for_progress(std::string job_id) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int tries = 0; tries < 100 && jobs_.editing(job_id); ++tries) {
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<net::Response> Finisher::fail(DiscordTarget target, Failure failure,
                                              std::string outcome) {
  std::string text = failure_text(failure, target.interaction_id);
  co_return co_await fail_with(std::move(target), std::move(text), std::move(outcome));
}

asio::awaitable<net::Response> Finisher::fail(DiscordTarget target, std::string text,
                                              std::string outcome) {
  text = with_id(text, target.interaction_id);
  co_return co_await fail_with(std::move(target), std::move(text), std::move(outcome));
}

asio::awaitable<net::Response> Finisher::fail_with(DiscordTarget target, std::string text,
                                                   std::string outcome) {
  auto log = core::logger("bot");
  const std::string& id = target.interaction_id;
  co_await wait_for_progress(id);
  auto edited = co_await discord_.edit_original_response(target.application_id, target.token,
                                                         plain_message(text));
  if (edited) {
    log->info("interaction {}: failure line shown outcome={}", id, outcome);
    co_return done(target, outcome, "ended with a failure line");
  }
  const Error& error = edited.error();
  switch (error.kind) {
    case ErrorKind::kNotFound:
    case ErrorKind::kUnauthenticated:
      log->warn("interaction {}: failure line not shown, the token is gone: {}", id, error.message);
      co_return done(target, "token_invalid", "dropped: the interaction token is not valid");
    case ErrorKind::kInvalidArgument:
    case ErrorKind::kPermissionDenied:
      log->error("interaction {}: Discord refused even the failure line: {}", id, error.message);
      co_return done(target, "notice_refused", "dropped: Discord refused the failure line");
    default:
      break;
  }
  if (token_expired(target)) {
    log->warn("interaction {}: failure line not shown before the token expired: {}", id,
              error.message);
    co_return done(target, "token_expired", "dropped: the interaction token expired");
  }
  log->warn("interaction {}: failure line not shown yet, the queue will retry: {}", id,
            error.message);
  co_return net::Response::json_error(503, "Discord is unavailable; the failure line is pending");
}

}  // namespace mando::bot
