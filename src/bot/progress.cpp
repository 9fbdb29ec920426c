#include "bot/progress.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "core/log.hpp"

namespace mando::bot {

namespace asio = boost::asio;

ProgressLoop::ProgressLoop(JobTracker& jobs, discord::RestClient* discord,
                           std::chrono::milliseconds progress_after)
    : jobs_(jobs), discord_(discord), progress_after_(progress_after) {}

void ProgressLoop::start(asio::any_io_executor executor) {
  asio::co_spawn(executor, loop(), asio::detached);
}

asio::awaitable<void> ProgressLoop::loop() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(std::chrono::seconds(1));
    co_await timer.async_wait(asio::use_awaitable);
    co_await tick(JobTracker::Clock::now());
  }
}

asio::awaitable<void> ProgressLoop::tick(JobTracker::Clock::time_point now) {
  jobs_.forget_before(now - kTokenLifetime);
  if (discord_ == nullptr || progress_after_.count() == 0) co_return;
  auto executor = co_await asio::this_coro::executor;
  for (auto& claimed :
       jobs_.claim_progress(now - progress_after_, now, kMaxEditsPerTick, kMinEditInterval)) {
    asio::co_spawn(executor, edit(std::move(claimed)), asio::detached);
  }
}

asio::awaitable<void> ProgressLoop::edit(JobTracker::ProgressEdit edit) {
  boost::json::object message{
      {"content", fmt::format("Waiting in line: {} of {}\u2026", edit.position.position,
                              edit.position.waiting)}};
  auto edited = co_await discord_->edit_original_response(edit.target.application_id,
                                                          edit.target.token, std::move(message));
  if (!edited) {
    core::logger("bot")->debug("interaction {}: progress line not shown: {}",
                               edit.target.interaction_id, edited.error().message);
  }
  jobs_.end_progress(edit.target.interaction_id);
}

}  // namespace mando::bot
