#include "queue/rest_api.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "queue/json_mapping.hpp"
#include "support/fake_task_queue.hpp"

namespace mando::queue {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kParent = "projects/demo-project/locations/us-central1";
constexpr std::string_view kQueue = "projects/demo-project/locations/us-central1/queues/images";
const TimePoint kNow{1714564800s};  // 2024-05-01T12:00:00Z

struct Answer {
  int status = 0;
  net::Headers headers;
  json::value body;
};

class RestApiTest : public ::testing::Test {
 protected:
  RestApiTest() { install({.api_token = std::string(kToken)}); }
  static constexpr std::string_view kToken = "test-token";

  void install(RestApiOptions options) {
    api_ = std::make_unique<RestApi>(fake_, std::move(options));
    router_ = net::Router{};
    api_->install(router_);
  }

  // Runs `method target` through the router, as the server would.
  // Sends the fixture's token unless `headers` has an Authorization of its own (or "-": none).
  Answer send(std::string method, std::string target, std::string body = "",
              std::string remote = "127.0.0.1:40000", net::Headers headers = {}) {
    if (!headers.get("Authorization")) {
      headers.set("Authorization", fmt::format("Bearer {}", kToken));
    } else if (headers.get("Authorization") == "-") {
      headers.remove("Authorization");
    }
    net::Request request{std::move(method), std::move(target), std::move(headers), std::move(body),
                         std::move(remote)};
    auto match = router_.match(request.method, request.path());
    if (match.handler == nullptr) return Answer{match.status, {}, nullptr};
    asio::io_context ioc;
    auto future = asio::co_spawn(ioc, (*match.handler)(std::move(request)), asio::use_future);
    ioc.run();
    net::Response response = future.get();
    EXPECT_EQ(response.headers.get("Content-Type"), "application/json");
    return Answer{response.status, response.headers, json::parse(response.body)};
  }

  Answer create_queue(std::string_view id, std::string extra = "") {
    return send("POST", fmt::format("/v2/{}/queues", kParent),
                fmt::format(R"({{"name":"{}/queues/{}"{}}})", kParent, id, extra));
  }

  Answer create_task(std::string_view task_json, std::string view = "") {
    std::string body = fmt::format(R"({{"task":{}{}}})", task_json,
                                   view.empty() ? "" : R"(,"responseView":")" + view + "\"");
    return send("POST", fmt::format("/v2/{}/tasks", kQueue), body);
  }

  static void expect_error(const Answer& a, int status, std::string_view rpc_status,
                           std::string_view message = "") {
    EXPECT_EQ(a.status, status) << json::serialize(a.body);
    ASSERT_TRUE(a.body.is_object());
    const auto& error = a.body.at("error");
    EXPECT_EQ(error.at("code"), json::value(status));
    EXPECT_EQ(error.at("status"), json::value(rpc_status));
    if (!message.empty()) {
      EXPECT_EQ(error.at("message"), json::value(message));
    }
  }

  testing::FakeTaskQueue fake_{kNow};
  std::unique_ptr<RestApi> api_;
  net::Router router_;
};

constexpr const char* kHttpTask =
    R"({"httpRequest":{"url":"https://workers.example/render","httpMethod":"POST",
        "headers":{"Content-Type":"application/json"},"body":"eyJzZWVkIjo3fQ=="}})";

TEST_F(RestApiTest, CreatesGetsAndListsQueuesPageByPage) {
  auto created =
      create_queue("images", R"(,"rateLimits":{"maxDispatchesPerSecond":5},"state":"PAUSED")");
  ASSERT_EQ(created.status, 200) << json::serialize(created.body);
  EXPECT_EQ(created.body.at("name"), json::value(kQueue));
  EXPECT_EQ(created.body.at("rateLimits").at("maxDispatchesPerSecond").to_number<double>(), 5);
  // The state is output only: a new queue runs.
  EXPECT_EQ(created.body.at("state"), json::value("RUNNING"));

  ASSERT_EQ(create_queue("a").status, 200);
  ASSERT_EQ(create_queue("b").status, 200);
  auto got = send("GET", fmt::format("/v2/{}", kQueue));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body, created.body);

  auto first = send("GET", fmt::format("/v2/{}/queues?pageSize=2", kParent));
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(first.body.at("queues").as_array().size(), 2u);
  EXPECT_EQ(first.body.at("queues").at(0).at("name"),
            json::value(fmt::format("{}/queues/a", kParent)));
  std::string token(first.body.at("nextPageToken").as_string());
  auto second = send("GET", fmt::format("/v2/{}/queues?pageSize=2&pageToken={}&filter=x", kParent,
                                        boost::urls::encode(token, boost::urls::unreserved_chars)));
  ASSERT_EQ(second.status, 200);
  ASSERT_EQ(second.body.at("queues").as_array().size(), 1u);
  EXPECT_EQ(second.body.at("queues").at(0).at("name"), json::value(kQueue));
  EXPECT_FALSE(second.body.as_object().contains("nextPageToken"));
}

TEST_F(RestApiTest, ConflictsAndMissingThingsUseGooglesErrors) {
  ASSERT_EQ(create_queue("images").status, 200);
  expect_error(create_queue("images"), 409, "ALREADY_EXISTS",
               fmt::format("queue \"{}\" already exists", kQueue));
  expect_error(send("GET", fmt::format("/v2/{}/queues/nope", kParent)), 404, "NOT_FOUND");
  expect_error(send("GET", "/v2/projects/p-1/locations/l/elsewhere"), 404, "NOT_FOUND");
  expect_error(send("GET", fmt::format("/v2/{}:pause", kQueue)), 405, "UNIMPLEMENTED");
  expect_error(send("POST", fmt::format("/v2/{}:explode", kQueue)), 404, "NOT_FOUND");
  auto wrong = send("PATCH", fmt::format("/v2/{}/queues", kParent), "{}");
  expect_error(wrong, 405, "UNIMPLEMENTED");
  EXPECT_EQ(wrong.headers.get("Allow"), "GET, POST");
  // Methods the API never takes are refused by the router.
  EXPECT_EQ(send("PUT", fmt::format("/v2/{}", kQueue)).status, 405);
}

TEST_F(RestApiTest, BadInputIs400NamingTheField) {
  expect_error(send("POST", fmt::format("/v2/{}/queues", kParent), "{\"name\":"), 400,
               "INVALID_ARGUMENT");
  expect_error(send("POST", fmt::format("/v2/{}/queues", kParent), "[]"), 400, "INVALID_ARGUMENT",
               "the request body must be a JSON object, not an array");
  expect_error(send("POST", fmt::format("/v2/{}/queues", kParent), "{}"), 400, "INVALID_ARGUMENT",
               "queue.name: required");
  expect_error(create_queue("images", R"(,"rateLimits":{"maxDispatchesPerSecond":900})"), 400,
               "INVALID_ARGUMENT",
               "queue.rateLimits.maxDispatchesPerSecond: must be in (0, 500], got 900");
  expect_error(
      create_queue("images", R"(,"retryConfig":{"minBackoff":"1m"})"), 400, "INVALID_ARGUMENT",
      "queue.retryConfig.minBackoff: \"1m\" is not a duration such as \"10s\" or \"0.5s\"");
  expect_error(
      send("POST", fmt::format("/v2/{}/queues", kParent),
           R"({"name":"projects/other/locations/l/queues/q"})"),
      400, "INVALID_ARGUMENT",
      fmt::format("queue.name: \"projects/other/locations/l/queues/q\" is not under \"{}\"",
                  kParent));
  expect_error(send("GET", "/v2/projects/p-1/locations/UPPER/queues"), 400, "INVALID_ARGUMENT");
  expect_error(send("GET", fmt::format("/v2/{}/queues?pageSize=-1", kParent)), 400,
               "INVALID_ARGUMENT", "pageSize: \"-1\" is not a non-negative integer");
  expect_error(send("GET", "/v2/projects/p%zz/locations/l/queues"), 400, "INVALID_ARGUMENT");
}

TEST_F(RestApiTest, PathSegmentsArePercentDecoded) {
  ASSERT_EQ(create_queue("images").status, 200);
  auto got = send("GET", "/v2/projects/demo%2Dproject/locations/us-central1/queues/im%61ges");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body.at("name"), json::value(kQueue));
}

TEST_F(RestApiTest, PatchUpdatesTheMaskedFieldsOnly) {
  ASSERT_EQ(create_queue("images", R"(,"retryConfig":{"maxAttempts":5})").status, 200);
  ASSERT_EQ(send("POST", fmt::format("/v2/{}:pause", kQueue)).status, 200);
  auto patched =
      send("PATCH", fmt::format("/v2/{}?updateMask=rateLimits.maxDispatchesPerSecond", kQueue),
           R"({"rateLimits":{"maxDispatchesPerSecond":2,"maxBurstSize":1},
                          "retryConfig":{"maxAttempts":1}})");
  ASSERT_EQ(patched.status, 200) << json::serialize(patched.body);
  EXPECT_EQ(patched.body.at("rateLimits").at("maxDispatchesPerSecond").to_number<double>(), 2);
  EXPECT_EQ(patched.body.at("rateLimits").at("maxBurstSize"), json::value(100));
  EXPECT_EQ(patched.body.at("retryConfig").at("maxAttempts"), json::value(5));
  EXPECT_EQ(patched.body.at("state"), json::value("PAUSED"));

  // No mask: every updatable field, but never the state.
  auto all = send("PATCH", fmt::format("/v2/{}", kQueue),
                  R"({"name":"projects/demo-project/locations/us-central1/queues/images",
                      "retryConfig":{"maxAttempts":1},
                      "appEngineRoutingOverride":{"host":"workers:8080"}})");
  ASSERT_EQ(all.status, 200) << json::serialize(all.body);
  EXPECT_EQ(all.body.at("retryConfig").at("maxAttempts"), json::value(1));
  EXPECT_EQ(all.body.at("rateLimits").at("maxDispatchesPerSecond").to_number<double>(), 500);
  EXPECT_EQ(all.body.at("appEngineRoutingOverride").at("host"), json::value("workers:8080"));
  EXPECT_EQ(all.body.at("state"), json::value("PAUSED"));

  expect_error(send("PATCH", fmt::format("/v2/{}?updateMask=state", kQueue), "{}"), 400,
               "INVALID_ARGUMENT", "updateMask: state cannot be updated; use :pause and :resume");
  expect_error(send("PATCH", fmt::format("/v2/{}", kQueue),
                    fmt::format(R"({{"name":"{}/queues/other"}})", kParent)),
               400, "INVALID_ARGUMENT");
  // PATCH creates a queue that does not exist, as Cloud Tasks does.
  auto created = send("PATCH", fmt::format("/v2/{}/queues/fresh", kParent), "{}");
  ASSERT_EQ(created.status, 200);
  EXPECT_EQ(created.body.at("name"), json::value(fmt::format("{}/queues/fresh", kParent)));
}

TEST_F(RestApiTest, PausesResumesPurgesAndDeletesQueues) {
  ASSERT_EQ(create_queue("images").status, 200);
  ASSERT_EQ(create_task(kHttpTask).status, 200);
  auto paused = send("POST", fmt::format("/v2/{}:pause", kQueue), "{}");
  ASSERT_EQ(paused.status, 200);
  EXPECT_EQ(paused.body.at("state"), json::value("PAUSED"));
  auto resumed = send("POST", fmt::format("/v2/{}:resume", kQueue));
  EXPECT_EQ(resumed.body.at("state"), json::value("RUNNING"));
  auto purged = send("POST", fmt::format("/v2/{}:purge", kQueue));
  ASSERT_EQ(purged.status, 200);
  EXPECT_EQ(purged.body.at("purgeTime"), json::value("2024-05-01T12:00:00Z"));
  auto tasks = send("GET", fmt::format("/v2/{}/tasks", kQueue));
  EXPECT_TRUE(tasks.body.at("tasks").as_array().empty());

  auto deleted = send("DELETE", fmt::format("/v2/{}", kQueue));
  ASSERT_EQ(deleted.status, 200);
  EXPECT_EQ(deleted.body, json::object{});
  expect_error(send("GET", fmt::format("/v2/{}", kQueue)), 404, "NOT_FOUND");
  expect_error(send("POST", fmt::format("/v2/{}:pause", kQueue)), 404, "NOT_FOUND");
}

TEST_F(RestApiTest, CreatesGetsRunsAndDeletesTasks) {
  ASSERT_EQ(create_queue("images").status, 200);
  auto created = create_task(kHttpTask);
  ASSERT_EQ(created.status, 200) << json::serialize(created.body);
  std::string name(created.body.at("name").as_string());
  EXPECT_TRUE(name.starts_with(std::string(kQueue) + "/tasks/")) << name;
  EXPECT_EQ(created.body.at("view"), json::value("BASIC"));
  EXPECT_FALSE(created.body.at("httpRequest").as_object().contains("body"));
  EXPECT_EQ(created.body.at("createTime"), json::value("2024-05-01T12:00:00Z"));
  EXPECT_EQ(created.body.at("scheduleTime"), json::value("2024-05-01T12:00:00Z"));

  auto basic = send("GET", fmt::format("/v2/{}", name));
  ASSERT_EQ(basic.status, 200);
  EXPECT_FALSE(basic.body.at("httpRequest").as_object().contains("headers"));
  auto full = send("GET", fmt::format("/v2/{}?responseView=FULL", name));
  EXPECT_EQ(full.body.at("httpRequest").at("body"), json::value("eyJzZWVkIjo3fQ=="));
  EXPECT_EQ(full.body.at("httpRequest").at("headers").at("Content-Type"),
            json::value("application/json"));
  EXPECT_EQ(send("GET", fmt::format("/v2/{}?responseView=2", name)).body, full.body);
  expect_error(send("GET", fmt::format("/v2/{}?responseView=HUGE", name)), 400, "INVALID_ARGUMENT",
               "responseView: unknown value \"HUGE\"");

  auto run = send("POST", fmt::format("/v2/{}:run", name), R"({"responseView":"FULL"})");
  ASSERT_EQ(run.status, 200);
  EXPECT_EQ(run.body.at("dispatchCount"), json::value(1));
  EXPECT_EQ(run.body.at("mandoState"), json::value("LEASED"));
  EXPECT_TRUE(run.body.at("httpRequest").as_object().contains("body"));

  auto deleted = send("DELETE", fmt::format("/v2/{}", name));
  ASSERT_EQ(deleted.status, 200);
  EXPECT_EQ(deleted.body, json::object{});
  expect_error(send("GET", fmt::format("/v2/{}", name)), 404, "NOT_FOUND");
  expect_error(send("POST", fmt::format("/v2/{}:run", name)), 404, "NOT_FOUND");
}

TEST_F(RestApiTest, NamedTasksAreDeduplicated) {
  ASSERT_EQ(create_queue("images").status, 200);
  std::string named = fmt::format(
      R"({{"name":"{}/tasks/interaction-1","scheduleTime":"2024-05-01T14:00:00+02:00",
          "dispatchDeadline":"30s","dispatchCount":99,"appEngineHttpRequest":{{"relativeUri":"/w"}}}})",
      kQueue);
  auto created = create_task(named, "FULL");
  ASSERT_EQ(created.status, 200) << json::serialize(created.body);
  EXPECT_EQ(created.body.at("name"), json::value(fmt::format("{}/tasks/interaction-1", kQueue)));
  EXPECT_EQ(created.body.at("scheduleTime"), json::value("2024-05-01T12:00:00Z"));
  EXPECT_EQ(created.body.at("dispatchDeadline"), json::value("30s"));
  EXPECT_EQ(created.body.at("dispatchCount"), json::value(0));  // output only
  EXPECT_EQ(created.body.at("appEngineHttpRequest").at("relativeUri"), json::value("/w"));
  expect_error(create_task(named), 409, "ALREADY_EXISTS");
  ASSERT_EQ(send("DELETE", fmt::format("/v2/{}/tasks/interaction-1", kQueue)).status, 200);
  expect_error(create_task(named), 409, "ALREADY_EXISTS");

  expect_error(send("POST", fmt::format("/v2/{}/tasks", kQueue), "{}"), 400, "INVALID_ARGUMENT",
               "task: required");
  expect_error(create_task(R"({"name":"projects/p-1/locations/l/queues/q/tasks/t",
                               "httpRequest":{"url":"https://w.example/"}})"),
               400, "INVALID_ARGUMENT");
  expect_error(create_task(R"({"scheduleTime":"soon"})"), 400, "INVALID_ARGUMENT",
               "task.scheduleTime: \"soon\" is not an RFC 3339 timestamp such as "
               "2024-05-01T12:00:00.5Z");
  expect_error(send("POST", fmt::format("/v2/{}/queues/absent/tasks", kParent),
                    fmt::format(R"({{"task":{}}})", kHttpTask)),
               404, "NOT_FOUND");
}

TEST_F(RestApiTest, ListsTasksPageByPageAndDeadLettersByFilter) {
  ASSERT_EQ(create_queue("images").status, 200);
  for (const char* id : {"a", "b", "c"}) {
    ASSERT_EQ(
        create_task(
            fmt::format(R"({{"name":"{}/tasks/{}","httpRequest":{{"url":"https://w.example/"}}}})",
                        kQueue, id))
            .status,
        200);
  }
  ASSERT_TRUE(fake_.fail_task(*TaskName::parse(fmt::format("{}/tasks/b", kQueue))));

  auto first = send("GET", fmt::format("/v2/{}/tasks?pageSize=2&responseView=FULL", kQueue));
  ASSERT_EQ(first.status, 200);
  const auto& tasks = first.body.at("tasks").as_array();
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].at("view"), json::value("FULL"));
  std::string token(first.body.at("nextPageToken").as_string());
  auto second = send("GET", fmt::format("/v2/{}/tasks?pageSize=2&pageToken={}", kQueue,
                                        boost::urls::encode(token, boost::urls::unreserved_chars)));
  ASSERT_EQ(second.body.at("tasks").as_array().size(), 1u);
  EXPECT_EQ(second.body.at("tasks").at(0).at("name"),
            json::value(fmt::format("{}/tasks/c", kQueue)));
  EXPECT_FALSE(second.body.as_object().contains("nextPageToken"));

  auto dead = send("GET", fmt::format("/v2/{}/tasks?filter=state%3AFAILED", kQueue));
  ASSERT_EQ(dead.body.at("tasks").as_array().size(), 1u);
  EXPECT_EQ(dead.body.at("tasks").at(0).at("mandoState"), json::value("FAILED"));
  auto pending = send("GET", fmt::format("/v2/{}/tasks?filter=state:PENDING", kQueue));
  EXPECT_EQ(pending.body.at("tasks").as_array().size(), 2u);
  expect_error(send("GET", fmt::format("/v2/{}/tasks?filter=name:a", kQueue)), 400,
               "INVALID_ARGUMENT");
}

TEST_F(RestApiTest, EnumEncodingIntAnswersNumbers) {
  ASSERT_EQ(create_queue("images").status, 200);
  ASSERT_EQ(create_task(kHttpTask).status, 200);
  for (const char* query : {"$alt=json;enum-encoding=int", "%24alt=json%3Benum-encoding%3Dint"}) {
    auto queue = send("GET", fmt::format("/v2/{}?{}", kQueue, query));
    EXPECT_EQ(queue.body.at("state"), json::value(1)) << query;
    auto tasks = send("GET", fmt::format("/v2/{}/tasks?responseView=2&{}", kQueue, query));
    const auto& task = tasks.body.at("tasks").at(0);
    EXPECT_EQ(task.at("httpRequest").at("httpMethod"), json::value(1)) << query;
    EXPECT_EQ(task.at("view"), json::value(2));
  }
  // Numbers in, numbers out, as the official client sends them.
  auto created = send("POST", fmt::format("/v2/{}/tasks?$alt=json;enum-encoding=int", kQueue),
                      R"({"task":{"httpRequest":{"url":"https://w.example/","httpMethod":4}},
                          "responseView":1})");
  ASSERT_EQ(created.status, 200) << json::serialize(created.body);
  EXPECT_EQ(created.body.at("httpRequest").at("httpMethod"), json::value(4));
}

TEST_F(RestApiTest, EveryRequestNeedsTheTokenWhateverItsPeer) {
  install({.api_token = "s3cret-token"});
  auto target = fmt::format("/v2/{}/queues", kParent);
  net::Headers none;
  none.set("Authorization", "-");
  // Loopback is not a credential: behind a reverse proxy every request comes from 127.0.0.1.
  for (const char* peer : {"127.0.0.1:1", "[::1]:4", "::ffff:127.0.0.1:5", "203.0.113.9:5000"}) {
    auto missing = send("GET", target, "", peer, none);
    expect_error(missing, 401, "UNAUTHENTICATED");
    EXPECT_EQ(missing.headers.get("WWW-Authenticate"), "Bearer");
    std::string message(missing.body.at("error").at("message").as_string());
    EXPECT_NE(message.find("api_token"), std::string::npos) << message;
  }
  net::Headers wrong;
  wrong.set("Authorization", "Bearer s3cret-tokem");
  expect_error(send("GET", target, "", "127.0.0.1:1", wrong), 401, "UNAUTHENTICATED");
  net::Headers basic;
  basic.set("Authorization", "Basic s3cret-token");
  expect_error(send("GET", target, "", "127.0.0.1:1", basic), 401, "UNAUTHENTICATED");
  net::Headers right;
  right.set("Authorization", "bearer s3cret-token");
  EXPECT_EQ(send("GET", target, "", "203.0.113.9:5000", right).status, 200);
}

TEST_F(RestApiTest, WithoutAConfiguredTokenNothingIsAnswered) {
  install({});
  net::Headers any;
  any.set("Authorization", "Bearer ");
  auto refused = send("GET", fmt::format("/v2/{}/queues", kParent), "", "127.0.0.1:1", any);
  expect_error(refused, 401, "UNAUTHENTICATED");
}

}  // namespace
}  // namespace mando::queue
