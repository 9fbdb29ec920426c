#pragma once
// Test fixture of the bot's worker tests: a real blob store (which a test can take down), a fake
// Discord on loopback behind the real REST client, a job tracker and a Finisher whose wall
// clock the test sets, so the give-up point and token expiry need no waiting.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "bot/finisher.hpp"
#include "bot/job_tracker.hpp"
#include "bot/jobs.hpp"
#include "core/metrics.hpp"
#include "discord/rate_limiter.hpp"
#include "discord/rest_client.hpp"
#include "net/http_client.hpp"
#include "storage/local_store_fixture.hpp"
#include "support/scripted_discord.hpp"

namespace mando::bot {

// A snowflake created at `t`: the interaction's time, from which tokens and give-up are timed.
inline std::string snowflake_at(std::chrono::system_clock::time_point t, int increment = 0) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  return std::to_string((static_cast<std::uint64_t>(ms - 1420070400000) << 22) |
                        static_cast<std::uint64_t>(increment));
}

// A backend that fails every call with kUnavailable while `down`, else forwards.
class FlakyBackend : public storage::BlobBackend {
 public:
  explicit FlakyBackend(storage::BlobBackend& inner) : inner_(inner) {}

  boost::asio::awaitable<Result<storage::ObjectInfo>> put(std::string key, std::string bytes,
                                                          std::string content_type,
                                                          storage::Metadata metadata) override {
    if (down) co_return outage();
    co_return co_await inner_.put(std::move(key), std::move(bytes), std::move(content_type),
                                  std::move(metadata));
  }
  boost::asio::awaitable<Result<storage::Object>> get(std::string key) override {
    if (down) co_return outage();
    co_return co_await inner_.get(std::move(key));
  }
  boost::asio::awaitable<Result<storage::ObjectInfo>> head(std::string key) override {
    if (down) co_return outage();
    co_return co_await inner_.head(std::move(key));
  }
  boost::asio::awaitable<Result<storage::DeleteOutcome>> remove(
      std::vector<std::string> keys) override {
    if (down) co_return outage();
    co_return co_await inner_.remove(std::move(keys));
  }
  boost::asio::awaitable<Result<storage::Listing>> list(storage::ListOptions options) override {
    if (down) co_return outage();
    co_return co_await inner_.list(std::move(options));
  }
  Result<std::string> url(const std::string& key, storage::TimePoint expires) const override {
    return inner_.url(key, expires);
  }

  std::atomic<bool> down{false};

 private:
  static tl::unexpected<Error> outage() {
    return fail(ErrorKind::kUnavailable, "s3: connection refused to 10.0.0.9:9000");
  }

  storage::BlobBackend& inner_;
};

class WorkerFixture : public storage::LocalStoreFixture {
 protected:
  using SystemTime = std::chrono::system_clock::time_point;

  WorkerFixture() {
    flaky_store_ = std::make_unique<storage::BlobStore>(flaky_, [this] {
      storage::BlobStoreOptions options;
      options.now = [this] { return now(); };
      return options;
    }());
  }

  // The wall clock of the finisher: `at` after the interaction created at start_.
  void set_clock(std::chrono::seconds at) { clock_offset_ = at.count(); }
  std::string interaction_id(int increment = 0) const { return snowflake_at(start_, increment); }

  // The content of a failure line that Discord received: plain (no embed, no file), with the
  // interaction id, and no internal error text.
  static std::string failure_line(const net::Request& request, const std::string& id) {
    EXPECT_EQ(request.headers.get("Content-Type").value_or(""), "application/json");
    auto message = boost::json::parse(request.body).as_object();
    EXPECT_TRUE(message.at("embeds").as_array().empty());
    EXPECT_TRUE(message.at("attachments").as_array().empty());
    std::string content(message.at("content").as_string());
    EXPECT_NE(content.find("(interaction " + id + ")"), std::string::npos) << content;
    for (const char* internal : {"HTTP", "discord:", "code", "s3", "blob store", "200000"}) {
      EXPECT_EQ(content.find(internal), std::string::npos) << internal << " in: " << content;
    }
    return content;
  }

  // The failure line of the one request Discord received; "" (and a failure) unless there was
  // exactly one.
  std::string only_failure_line(const std::string& id) {
    auto requests = discord_server_.requests();
    EXPECT_EQ(requests.size(), 1u);
    return requests.size() == 1 ? failure_line(requests[0], id) : std::string();
  }

  std::string metrics_text() { return metrics_.render(); }

  const SystemTime start_ = std::chrono::system_clock::now();
  std::atomic<std::int64_t> clock_offset_{0};
  mando::testing::ScriptedDiscord discord_server_;
  net::HttpClient http_{ioc_.get_executor()};
  discord::InMemoryRateLimiter limiter_;
  discord::RestClient rest_{http_, limiter_, [this] {
                              discord::RestClientOptions options;
                              options.api_base_url = discord_server_.api_base_url();
                              options.bot_token = "test-bot-token";  // channel posts
                              options.backoff_base = std::chrono::milliseconds(1);
                              options.max_attempts = 2;
                              return options;
                            }()};
  core::MetricsRegistry metrics_;
  // Limits small enough for a test to reach: 2 waiting and 1 running per user.
  JobTracker jobs_{JobLimits(
                       [] {
                         core::BotConfig limits;
                         limits.max_queued_per_user = 2;
                         limits.max_running_per_user = 1;
                         return limits;
                       }(),
                       {}),
                   true};
  Finisher finish_{rest_, jobs_, metrics_, std::chrono::minutes(12),
                   [this] { return start_ + std::chrono::seconds(clock_offset_.load()); }};
  FlakyBackend flaky_{*backend_};
  std::unique_ptr<storage::BlobStore> flaky_store_;
};

}  // namespace mando::bot
