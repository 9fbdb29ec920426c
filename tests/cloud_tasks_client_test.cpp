// The official Cloud Tasks client drives mando: tests/npm/cloud_tasks_client.mjs runs
// `@google-cloud/tasks` in REST mode against the real `mando serve` (queue and task life cycle,
// errors, paging; see the walkthrough at the top of the script), and this side checks what the
// loopback worker received: the right tasks, each once, with Cloud Tasks' headers and a
// signature that verifies with the key mando was started with.
//
// Needs node and tests/npm/node_modules: scripts/install-deps.sh --test installs both.

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "queue/signing.hpp"
#include "support/process.hpp"
#include "support/recording_worker.hpp"
#include "support/temp_dir.hpp"
#include <signal.h>
#include <unistd.h>

namespace mando::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kApiToken = "npm-client-test-token";
constexpr std::string_view kSigningKey = "cloud-tasks-client-test-signing-key-0123456789";
constexpr std::string_view kInstallHint = "run scripts/install-deps.sh --test";
// The queue id the script uses by default, as X-CloudTasks-QueueName carries it.
constexpr std::string_view kQueueId = "npm-client";

// `name` in the directories of PATH, as a shell would find it (Process runs argv[0] as a path).
std::optional<fs::path> find_in_path(std::string_view name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  std::string_view dirs = path;
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const fs::path candidate = fs::path(dirs.substr(0, colon)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

std::string header(const net::Request& request, std::string_view name) {
  return std::string(request.headers.get(name).value_or("<missing>"));
}

// The script prints its observations as the last line of stdout.
std::optional<json::object> last_json_line(const std::string& out) {
  auto end = out.find_last_not_of('\n');
  if (end == std::string::npos) return std::nullopt;
  const auto start = out.rfind('\n', end);
  const std::string line = out.substr(start == std::string::npos ? 0 : start + 1, end + 1);
  json::error_code ec;
  auto value = json::parse(line, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return value.as_object();
}

std::set<std::string> strings(const json::value& array) {
  std::set<std::string> out;
  for (const auto& item : array.as_array()) out.emplace(item.as_string());
  return out;
}

TEST(CloudTasksClientTest, OfficialNodeClientDrivesQueueAndWorkerReceivesSignedDispatches) {
  const auto node = find_in_path("node");
  ASSERT_TRUE(node) << "node is not on the PATH: " << kInstallHint;
  const fs::path npm_dir = MANDO_NPM_DIR;
  ASSERT_TRUE(fs::is_directory(npm_dir / "node_modules" / "@google-cloud" / "tasks"))
      << npm_dir / "node_modules"
      << " lacks @google-cloud/tasks: " << kInstallHint;

  TempDir dir;
  RecordingWorker worker;
  Process mando({MANDO_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                 (dir.path() / "data").string()},
                {{"MANDO_QUEUE_SIGNING_KEY", std::string(kSigningKey)},
                 {"MANDO_LOG_LEVEL", "warn"},
                 {"MANDO_QUEUE_API_TOKEN", std::string(kApiToken)}});
  auto urls = wait_for_serve_urls(mando, 30s);
  ASSERT_TRUE(urls) << "mando did not print its addresses: " << mando.wait(5s).err;
  const auto started = std::chrono::system_clock::now();

  auto client =
      run({node->string(), (npm_dir / "cloud_tasks_client.mjs").string(), "--mando",
           urls->internal_url, "--token", std::string(kApiToken), "--worker", worker.url()},
          {}, {}, 120s);
  ASSERT_EQ(client.exit_code, 0) << "stdout:\n" << client.out << "\nstderr:\n" << client.err;
  const auto observed = last_json_line(client.out);
  ASSERT_TRUE(observed) << "no JSON line in the script's output:\n" << client.out;
  EXPECT_EQ(observed->at("ok"), true);
  // 5 tasks listed with pageSize 2.
  EXPECT_EQ(observed->at("pages"), json::parse("[2,2,1]"));
  const auto dispatched = strings(observed->at("dispatched"));
  const auto not_dispatched = strings(observed->at("notDispatched"));
  ASSERT_EQ(dispatched.size(), 4u) << client.out;
  const std::string generated(observed->at("generatedName").as_string());
  const std::string generated_id = generated.substr(generated.rfind('/') + 1);

  // The script only ends once every dispatched task was acknowledged, so the worker already has
  // them; the bound only keeps a broken run from hanging.
  ASSERT_TRUE(worker.wait_for(dispatched.size(), 30s)) << "the worker got " << worker.count();
  auto signer = queue::RequestSigner::from_key(std::string(kSigningKey));
  ASSERT_TRUE(signer);
  auto other_signer = queue::RequestSigner::from_key(std::string(kSigningKey.size(), 'x'));
  ASSERT_TRUE(other_signer);

  std::map<std::string, int> received;
  for (const auto& delivery : worker.deliveries()) {
    const auto& request = delivery.request;
    const std::string task = header(request, "X-CloudTasks-TaskName");
    SCOPED_TRACE(task);
    ++received[task];
    // The unnamed task's path and body say "unnamed"; its name is the one mando generated.
    const std::string id = task == generated_id ? "unnamed" : task;
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.target, fmt::format("/tasks/{}?via=npm", id));
    EXPECT_EQ(request.body, fmt::format(R"({{"task":"{}"}})", id));
    EXPECT_EQ(header(request, "Content-Type"), "application/json");
    EXPECT_EQ(header(request, "X-Npm-Test"), id);
    EXPECT_EQ(header(request, "User-Agent"), "Google-Cloud-Tasks");
    EXPECT_EQ(header(request, "X-CloudTasks-QueueName"), kQueueId);
    EXPECT_EQ(header(request, "X-CloudTasks-TaskRetryCount"), "0");
    EXPECT_EQ(header(request, "X-CloudTasks-TaskExecutionCount"), "0");
    // Unix seconds with an optional fraction: now for due tasks, an hour ahead for the
    // scheduled task that was run early.
    const std::string eta = header(request, "X-CloudTasks-TaskETA");
    ASSERT_TRUE(std::regex_match(eta, std::regex(R"(^\d+(\.\d{1,9})?$)"))) << eta;
    const auto eta_seconds = std::chrono::seconds(std::stoll(eta));
    const auto start_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(started.time_since_epoch());
    EXPECT_GE(eta_seconds, start_seconds - 60s);
    EXPECT_LE(eta_seconds, start_seconds + 3600s + 300s);
    EXPECT_TRUE(signer->verify(request, delivery.received)) << "signature did not verify";
    EXPECT_FALSE(other_signer->verify(request, delivery.received));
  }
  std::set<std::string> received_names;
  for (const auto& [task, count] : received) {
    EXPECT_EQ(count, 1) << task << " was delivered " << count << " times";
    received_names.insert(task);
  }
  EXPECT_EQ(received_names, dispatched);
  for (const auto& task : not_dispatched) EXPECT_EQ(received.count(task), 0u) << task;

  mando.signal(SIGTERM);
  auto stopped = mando.wait(30s);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
}

}  // namespace
}  // namespace mando::testing
