// End-to-end tests of `mando queues ...` and `mando tasks ...`: the real `mando serve` on an
// ephemeral loopback port, the CLI run as a child process against it, workers recorded by a
// loopback RecordingWorker. Output is checked in text form (what people read) and, where a
// field matters exactly, in JSON form (what scripts read).

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/recording_worker.hpp"
#include "support/temp_dir.hpp"
#include <signal.h>

namespace mando::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// The value of the `key: value` line of `out`, or "<no KEY line>".
std::string field(const std::string& out, const std::string& key) {
  std::smatch m;
  std::regex re("(^|\n)" + key + ": *([^\n]*)");
  return std::regex_search(out, m, re) ? m[2].str() : "<no " + key + " line>";
}

// The first column of a table's rows (the header left out).
std::vector<std::string> first_column(const std::string& out) {
  std::vector<std::string> ids;
  std::istringstream in(out);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) ids.push_back(line.substr(0, line.find(' ')));
  return ids;
}

std::string show(const ProcessResult& r) {
  return fmt::format("exit {}\nstdout:\n{}\nstderr:\n{}", r.exit_code, r.out, r.err);
}

class QueuesCliTest : public ::testing::Test {
 protected:
  // Starts `mando serve` with `env` and remembers its API URL (the internal listener).
  void start(std::map<std::string, std::string> env = {}) {
    env.emplace("MANDO_LOG_LEVEL", "warn");
    server_ =
        std::make_unique<Process>(std::vector<std::string>{MANDO_BINARY, "serve", "--listen",
                                                           "127.0.0.1:0", "--data-dir", data_dir()},
                                  env);
    auto urls = wait_for_serve_urls(*server_, 30s);
    ASSERT_TRUE(urls) << "mando did not print its addresses: " << server_->wait(5s).err;
    url_ = urls->internal_url;
  }

  std::string data_dir() const { return (dir_.path() / "data").string(); }

  // Runs `mando GROUP COMMAND args... --api-url URL --data-dir DIR` (the CLI reads the token
  // mando generated there).
  ProcessResult cli(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), MANDO_BINARY);
    args.insert(args.end(), {"--api-url", url_, "--data-dir", data_dir()});
    env.emplace("MANDO_LOG_LEVEL", "warn");
    return run(args, env);
  }

  // Like cli(), and the command must succeed.
  std::string ok(std::vector<std::string> args) {
    auto r = cli(args);
    EXPECT_EQ(r.exit_code, 0) << fmt::format("{}", fmt::join(args, " ")) << "\n" << show(r);
    return r.out;
  }

  // Waits (bounded) until `tasks list --queue Q --failed` lists something.
  json::array failed_tasks(const std::string& queue) {
    for (int i = 0; i < 200; ++i) {
      auto tasks =
          json::parse(ok({"tasks", "list", "--queue", queue, "--failed", "--format", "json"}))
              .as_array();
      if (!tasks.empty()) return tasks;
      std::this_thread::sleep_for(50ms);  // polling a state change, bounded by the loop
    }
    return {};
  }

  TempDir dir_;
  std::unique_ptr<Process> server_;
  std::string url_;
};

TEST_F(QueuesCliTest, CreatesDescribesUpdatesPausesAndDeletesAQueue) {
  start();
  auto created = ok({"queues", "create", "images", "--max-attempts", "5", "--min-backoff", "250ms",
                     "--max-dispatches-per-second", "20"});
  EXPECT_EQ(field(created, "name"), "projects/mando/locations/local/queues/images");
  EXPECT_EQ(field(created, "state"), "RUNNING");
  EXPECT_EQ(field(created, "max-attempts"), "5");
  EXPECT_EQ(field(created, "min-backoff"), "250ms");
  EXPECT_EQ(field(created, "max-dispatches-per-second"), "20");

  auto described = ok({"queues", "describe", "images"});
  EXPECT_EQ(field(described, "max-attempts"), "5");
  EXPECT_EQ(field(described, "max-concurrent-dispatches"), "1000");  // the default
  EXPECT_EQ(field(described, "max-backoff"), "1h");

  // Only the flag given changes (the update mask names it alone).
  auto updated = ok({"queues", "update", "images", "--max-backoff", "10s"});
  EXPECT_EQ(field(updated, "max-backoff"), "10s");
  EXPECT_EQ(field(updated, "max-attempts"), "5");
  EXPECT_EQ(field(updated, "min-backoff"), "250ms");
  EXPECT_EQ(field(updated, "max-dispatches-per-second"), "20");
  auto as_json = json::parse(ok({"queues", "describe", "images", "--format", "json"}));
  EXPECT_EQ(as_json.at("retryConfig").at("maxBackoff").as_string(), "10s");
  EXPECT_EQ(as_json.at("retryConfig").at("maxAttempts").as_int64(), 5);

  EXPECT_EQ(field(ok({"queues", "pause", "images"}), "state"), "PAUSED");
  EXPECT_EQ(field(ok({"queues", "describe", "images"}), "state"), "PAUSED");
  EXPECT_EQ(field(ok({"queues", "resume", "images"}), "state"), "RUNNING");

  ok({"queues", "create", "replies"});
  // The bot's own queues are declared at start.
  EXPECT_EQ(first_column(ok({"queues", "list"})),
            (std::vector<std::string>{"create-image", "images", "imagine", "imagine-events",
                                      "replies", "reply-discord", "transform-images"}));
  auto listed = json::parse(ok({"queues", "list", "--page-size", "1", "--format", "json"}));
  ASSERT_EQ(listed.as_array().size(), 7u);  // followed nextPageToken
  EXPECT_EQ(listed.as_array()[4].at("name").as_string(),
            "projects/mando/locations/local/queues/replies");
  EXPECT_EQ(first_column(ok({"queues", "list", "--page-size", "1", "--limit", "1"})),
            (std::vector<std::string>{"create-image"}));

  auto again = cli({"queues", "create", "images"});
  EXPECT_EQ(again.exit_code, 1) << show(again);
  EXPECT_NE(again.err.find("mando: queue projects/mando/locations/local/queues/images already "
                           "exists"),
            std::string::npos)
      << show(again);

  EXPECT_EQ(ok({"queues", "delete", "images"}),
            "deleted queue projects/mando/locations/local/queues/images\n");
  auto gone = cli({"queues", "describe", "images"});
  EXPECT_EQ(gone.exit_code, 1) << show(gone);
  EXPECT_NE(gone.err.find("not found"), std::string::npos) << show(gone);
  EXPECT_NE(gone.err.find("queues/images"), std::string::npos) << show(gone);
}

TEST_F(QueuesCliTest, CreatedTaskIsDeliveredToTheWorker) {
  start();
  RecordingWorker worker;
  ok({"queues", "create", "jobs"});
  auto created = ok({"tasks", "create", "job-1", "--queue", "jobs", "--url", worker.url() + "/work",
                     "--method", "put", "--header", "X-Test: yes", "--header", "X-Other:2",
                     "--body", "hello"});
  EXPECT_EQ(field(created, "name"), "projects/mando/locations/local/queues/jobs/tasks/job-1");
  EXPECT_EQ(field(created, "method"), "PUT");
  EXPECT_EQ(field(created, "url"), worker.url() + "/work");

  ASSERT_TRUE(worker.wait_for(1));
  auto delivered = worker.deliveries().at(0).request;
  EXPECT_EQ(delivered.method, "PUT");
  EXPECT_EQ(delivered.path(), "/work");
  EXPECT_EQ(delivered.body, "hello");
  EXPECT_EQ(delivered.headers.get("X-Test"), "yes");
  EXPECT_EQ(delivered.headers.get("X-Other"), "2");

  // Without a name the API names the task.
  auto unnamed = ok({"tasks", "create", "--queue", "jobs", "--url", worker.url() + "/again"});
  EXPECT_TRUE(std::regex_match(field(unnamed, "name"), std::regex(".*/tasks/[0-9]+"))) << unnamed;
  EXPECT_TRUE(worker.wait_for(2));
}

TEST_F(QueuesCliTest, DuplicateTaskNameExitsOneSayingItExists) {
  start();
  ok({"queues", "create", "jobs"});
  ok({"tasks", "create", "once", "--queue", "jobs", "--url", "http://127.0.0.1:9/", "--delay",
      "1h"});
  auto again = cli({"tasks", "create", "once", "--queue", "jobs", "--url", "http://127.0.0.1:9/"});
  EXPECT_EQ(again.exit_code, 1) << show(again);
  EXPECT_NE(again.err.find("mando: task projects/mando/locations/local/queues/jobs/tasks/once "
                           "already exists"),
            std::string::npos)
      << show(again);

  auto missing = cli({"tasks", "describe", "nope", "--queue", "jobs"});
  EXPECT_EQ(missing.exit_code, 1) << show(missing);
  EXPECT_NE(missing.err.find("tasks/nope"), std::string::npos) << show(missing);
  EXPECT_NE(missing.err.find("not found"), std::string::npos) << show(missing);

  auto no_queue = cli({"tasks", "list", "--queue", "nowhere"});
  EXPECT_EQ(no_queue.exit_code, 1) << show(no_queue);
  EXPECT_NE(no_queue.err.find("queues/nowhere"), std::string::npos) << show(no_queue);
}

TEST_F(QueuesCliTest, ResetDedupFreesTheNamesOfDeletedTasks) {
  start();
  ok({"queues", "create", "jobs"});
  const std::vector<std::string> create = {
      "tasks",   "create", "again", "--queue", "jobs", "--url", "http://127.0.0.1:9/",
      "--delay", "1h"};
  ok(create);
  ok({"tasks", "delete", "again", "--queue", "jobs"});
  EXPECT_EQ(cli(create).exit_code, 1) << "a deleted name stays taken for the window";

  // Straight on the database, beside the running server.
  auto reset =
      run({MANDO_BINARY, "queues", "reset-dedup", "--data-dir", (dir_.path() / "data").string()},
          {{"MANDO_LOG_LEVEL", "warn"}});
  EXPECT_EQ(reset.exit_code, 0) << show(reset);
  EXPECT_NE(reset.out.find("queue.sqlite3"), std::string::npos) << show(reset);
  ok(create);
}

TEST_F(QueuesCliTest, ScheduledTaskIsListedRunDeletedAndPurged) {
  start();
  RecordingWorker worker;
  ok({"queues", "create", "later"});
  for (const char* id : {"a", "b", "c"}) {
    ok({"tasks", "create", id, "--queue", "later", "--url", worker.url() + "/" + id, "--delay",
        "1h", "--deadline", "1m"});
  }
  auto listed = ok({"tasks", "list", "--queue", "later"});
  EXPECT_EQ(first_column(listed), (std::vector<std::string>{"a", "b", "c"})) << listed;
  EXPECT_NE(listed.find("PENDING"), std::string::npos) << listed;
  EXPECT_EQ(first_column(ok({"tasks", "list", "--queue", "later", "--page-size", "1"})),
            (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(
      first_column(ok({"tasks", "list", "--queue", "later", "--page-size", "1", "--limit", "2"})),
      (std::vector<std::string>{"a", "b"}));

  auto described = ok({"tasks", "describe", "a", "--queue", "later"});
  EXPECT_EQ(field(described, "dispatch-deadline"), "1m");
  EXPECT_EQ(field(described, "dispatch-count"), "0");
  EXPECT_EQ(worker.count(), 0u);

  ok({"tasks", "run", "a", "--queue", "later"});
  ASSERT_TRUE(worker.wait_for(1));
  EXPECT_EQ(worker.deliveries().at(0).request.path(), "/a");

  EXPECT_EQ(ok({"tasks", "delete", "b", "--queue", "later"}),
            "deleted task projects/mando/locations/local/queues/later/tasks/b\n");
  auto remaining = json::parse(ok({"tasks", "list", "--queue", "later", "--format", "json"}));
  ASSERT_FALSE(remaining.as_array().empty());
  EXPECT_EQ(remaining.as_array().back().at("name").as_string(),
            "projects/mando/locations/local/queues/later/tasks/c");

  auto purged = ok({"queues", "purge", "later"});
  EXPECT_NE(field(purged, "purge-time"), "<no purge-time line>") << purged;
  EXPECT_EQ(first_column(ok({"tasks", "list", "--queue", "later"})), std::vector<std::string>{});
}

TEST_F(QueuesCliTest, DeadLettersAreListedWithFailed) {
  start();
  RecordingWorker worker;
  worker.set_answer([](const net::Request&, int) { return net::Response::text(500, "broken"); });
  ok({"queues", "create", "fragile", "--max-attempts", "1"});
  ok({"tasks", "create", "doomed", "--queue", "fragile", "--url", worker.url() + "/x"});
  ASSERT_TRUE(worker.wait_for(1));

  auto failed = failed_tasks("fragile");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].at("name").as_string(),
            "projects/mando/locations/local/queues/fragile/tasks/doomed");
  EXPECT_EQ(failed[0].at("mandoState").as_string(), "FAILED");

  auto described = ok({"tasks", "describe", "doomed", "--queue", "fragile"});
  EXPECT_EQ(field(described, "state"), "FAILED");
  EXPECT_NE(field(described, "last-attempt").find("HTTP 500"), std::string::npos) << described;
  EXPECT_EQ(first_column(ok({"tasks", "list", "--queue", "fragile", "--failed"})),
            std::vector<std::string>{"doomed"});
}

TEST_F(QueuesCliTest, TokenAndDefaultsComeFromTheConfiguration) {
  start({{"MANDO_QUEUE_API_TOKEN", "s3cret"}});
  auto config = dir_.path() / "mando.toml";
  std::ofstream(config) << fmt::format(
      "[server]\ninternal_listen = \"{}\"\n[queue]\nproject = \"other-project\"\n"
      "location = \"here\"\n",
      url_.substr(std::string("http://").size()));

  // No --api-url: the URL is the config's [server] internal_listen; the token comes from the
  // environment as [queue] api_token.
  auto r = run({MANDO_BINARY, "queues", "create", "q1", "--config", config.string()},
               {{"MANDO_QUEUE_API_TOKEN", "s3cret"}, {"MANDO_LOG_LEVEL", "warn"}});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  EXPECT_EQ(field(r.out, "name"), "projects/other-project/locations/here/queues/q1");

  auto wrong = cli({"queues", "list", "--token", "wrong"});
  EXPECT_EQ(wrong.exit_code, 1) << show(wrong);
  EXPECT_NE(wrong.err.find("--token"), std::string::npos) << show(wrong);
  EXPECT_EQ(wrong.err.find("s3cret"), std::string::npos) << show(wrong);

  auto flags = cli(
      {"queues", "list", "--token", "s3cret", "--project", "other-project", "--location", "here"});
  EXPECT_EQ(flags.exit_code, 0) << show(flags);
  EXPECT_EQ(first_column(flags.out), std::vector<std::string>{"q1"});
}

TEST_F(QueuesCliTest, WithoutATokenTheRefusalSaysWhereOneComesFrom) {
  start();
  auto r = run({MANDO_BINARY, "queues", "list", "--api-url", url_, "--data-dir",
                (dir_.path() / "elsewhere").string()},
               {{"MANDO_LOG_LEVEL", "warn"}});
  EXPECT_EQ(r.exit_code, 1) << show(r);
  EXPECT_NE(r.err.find("api_token"), std::string::npos) << show(r);
  EXPECT_NE(r.err.find("elsewhere"), std::string::npos) << show(r);
}

TEST_F(QueuesCliTest, UnreachableApiExitsOneNamingTheUrl) {
  start();
  const std::string url = url_;
  ok({"queues", "list"});  // the server runs its I/O loop, so SIGTERM drains it
  server_->signal(SIGTERM);
  ASSERT_EQ(server_->wait(30s).exit_code, 0);
  auto r = cli({"queues", "list"});
  EXPECT_EQ(r.exit_code, 1) << show(r);
  EXPECT_NE(r.err.find("cannot reach the queue API at " + url), std::string::npos) << show(r);
}

// Usage errors mando checks itself: exit 2 before any call (no server needed).
TEST(QueuesCli, BadFlagValuesExitTwoWithAClearMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const auto& c : std::vector<Case>{
           {{"queues", "create", "q", "--max-attempts", "many"},
            "--max-attempts: \"many\" is not an integer"},
           {{"queues", "update", "q", "--min-backoff", "soon"}, "--min-backoff: "},
           {{"queues", "update", "q"}, "give at least one setting"},
           {{"tasks", "create", "--queue", "q"}, "exactly one of --url and --relative-uri"},
           {{"tasks", "create", "--queue", "q", "--url", "http://x/", "--delay", "later"},
            "--delay: "},
           {{"tasks", "create", "--queue", "q", "--url", "http://x/", "--schedule-time",
             "tomorrow"},
            "--schedule-time: "},
           {{"tasks", "create", "--queue", "q", "--url", "http://x/", "--header", "novalue"},
            "--header: \"novalue\" is not KEY:VALUE"},
           {{"tasks", "create", "--queue", "q", "--url", "http://x/", "--method", "FETCH"},
            "--method: \"FETCH\""},
           {{"tasks", "describe", "projects/p/locations/l/queues/other/tasks/t", "--queue", "q"},
            "is not in queue"},
       }) {
    std::vector<std::string> argv{MANDO_BINARY};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = run(argv, {{"MANDO_LOG_LEVEL", "warn"}});
    EXPECT_EQ(r.exit_code, 2) << fmt::format("{}", fmt::join(c.args, " ")) << "\n" << show(r);
    EXPECT_TRUE(r.err.starts_with("mando: ")) << show(r);
    EXPECT_NE(r.err.find(c.message), std::string::npos)
        << fmt::format("{}", fmt::join(c.args, " ")) << "\n"
        << show(r);
  }
}

// Usage errors CLI11 finds while parsing (unknown flag, missing argument, bad choice).
TEST(QueuesCli, ParseErrorsExitTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"queues", "describe"},
           {"queues", "list", "--bogus"},
           {"queues", "list", "--format", "yaml"},
           {"tasks", "list"},
           {"tasks", "create", "--queue", "q", "--url", "http://x/", "--relative-uri", "/x"},
       }) {
    std::vector<std::string> argv{MANDO_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv);
    EXPECT_EQ(r.exit_code, 2) << fmt::format("{}", fmt::join(args, " ")) << "\n" << show(r);
    EXPECT_FALSE(r.err.empty()) << fmt::format("{}", fmt::join(args, " "));
  }
}

TEST(QueuesCli, EverySubcommandHasHelp) {
  for (const char* group : {"queues", "tasks"}) {
    auto r = run({MANDO_BINARY, group, "--help"});
    EXPECT_EQ(r.exit_code, 0) << group;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
  for (const auto& [group, command] : std::vector<std::pair<std::string, std::string>>{
           {"queues", "list"},
           {"queues", "create"},
           {"queues", "describe"},
           {"queues", "update"},
           {"queues", "pause"},
           {"queues", "resume"},
           {"queues", "purge"},
           {"queues", "delete"},
           {"tasks", "list"},
           {"tasks", "create"},
           {"tasks", "describe"},
           {"tasks", "delete"},
           {"tasks", "run"},
       }) {
    auto r = run({MANDO_BINARY, group, command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << group << " " << command;
    EXPECT_NE(r.out.find("--format"), std::string::npos) << r.out;
  }
  EXPECT_NE(run({MANDO_BINARY, "queues", "update", "--help"}).out.find("--max-retry-duration"),
            std::string::npos);
}

}  // namespace
}  // namespace mando::testing
