#include "queue/json_mapping.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace mando::queue {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kQueueName = "projects/demo-project/locations/us-central1/queues/images";

TimePoint at(std::string_view rfc3339) {
  auto t = parse_timestamp(rfc3339);
  EXPECT_TRUE(t) << t.error().message;
  return t.value_or(TimePoint{});
}

Result<Queue> queue_from(std::string_view text) { return queue_from_json(json::parse(text)); }
Result<Task> task_from(std::string_view text) { return task_from_json(json::parse(text)); }

// The error message of a refused input, or "accepted".
template <typename T>
std::string refusal(const Result<T>& r) {
  if (r) return "accepted";
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalidArgument);
  return r.error().message;
}

Task sample_task() {
  Task t;
  t.name = *TaskName::parse(std::string(kQueueName) + "/tasks/interaction-42");
  t.request.kind = TaskRequest::Kind::kAppEngine;
  t.request.url = "/work/generate-image?size=512";
  t.request.method = HttpMethod::kPut;
  t.request.headers = {{"Content-Type", "application/json"}, {"X-Trace", "abc"}};
  t.request.body = std::string("{\"seed\":7}\0\xff", 12);
  t.schedule_time = at("2024-05-01T12:00:00.250Z");
  t.create_time = at("2024-05-01T11:59:00Z");
  t.dispatch_deadline = 90s;
  t.dispatch_count = 2;
  t.response_count = 1;
  Attempt first;
  first.schedule_time = at("2024-05-01T12:00:00Z");
  first.dispatch_time = at("2024-05-01T12:00:00.100Z");
  first.response_time = at("2024-05-01T12:00:01.000001Z");
  first.http_status = 503;
  first.error = "HTTP 503 Service Unavailable";
  t.first_attempt = first;
  Attempt last;
  last.schedule_time = at("2024-05-01T12:00:05Z");
  last.dispatch_time = at("2024-05-01T12:00:05.5Z");
  t.last_attempt = last;
  t.state = TaskState::kLeased;
  return t;
}

TEST(JsonMapping, EnumsAcceptNamesAndNumbers) {
  auto by_name = queue_from(R"({"state":"PAUSED"})");
  auto by_number = queue_from(R"({"state":2})");
  ASSERT_TRUE(by_name && by_number);
  EXPECT_EQ(by_name->state, QueueState::kPaused);
  EXPECT_EQ(by_number->state, QueueState::kPaused);
  EXPECT_EQ(queue_from(R"({"state":"STATE_UNSPECIFIED"})")->state, QueueState::kRunning);

  auto get = task_from(R"({"httpRequest":{"url":"https://w.example/x","httpMethod":"GET"}})");
  auto patch = task_from(R"({"httpRequest":{"url":"https://w.example/x","httpMethod":6}})");
  ASSERT_TRUE(get && patch);
  EXPECT_EQ(get->request.method, HttpMethod::kGet);
  EXPECT_EQ(patch->request.method, HttpMethod::kPatch);
  EXPECT_EQ(task_from(R"({"httpRequest":{"httpMethod":0}})")->request.method, HttpMethod::kPost);

  EXPECT_EQ(*task_view_from_json(json::value("FULL"), "responseView"), TaskView::kFull);
  EXPECT_EQ(*task_view_from_json(json::value(1), "responseView"), TaskView::kBasic);
  EXPECT_EQ(*task_view_from_json(json::value(0), "responseView"), TaskView::kBasic);

  EXPECT_EQ(refusal(queue_from(R"({"state":"SLEEPING"})")),
            "queue.state: unknown value \"SLEEPING\"");
  EXPECT_EQ(refusal(queue_from(R"({"state":9})")), "queue.state: unknown value 9");
  EXPECT_EQ(refusal(task_view_from_json(json::value(true), "responseView")),
            "responseView: expected an enum name or number, got a boolean");
}

TEST(JsonMapping, EnumsAreWrittenAsNamesOrNumbers) {
  Queue q;
  q.name = *QueueName::parse(kQueueName);
  q.state = QueueState::kDisabled;
  EXPECT_EQ(to_json(q, EnumEncoding::kName).at("state"), json::value("DISABLED"));
  EXPECT_EQ(to_json(q, EnumEncoding::kNumber).at("state"), json::value(3));
  Task t = sample_task();
  auto named = to_json(t, TaskView::kFull, EnumEncoding::kName);
  auto numbered = to_json(t, TaskView::kFull, EnumEncoding::kNumber);
  EXPECT_EQ(named.at("appEngineHttpRequest").at("httpMethod"), json::value("PUT"));
  EXPECT_EQ(numbered.at("appEngineHttpRequest").at("httpMethod"), json::value(4));
  EXPECT_EQ(named.at("view"), json::value("FULL"));
  EXPECT_EQ(numbered.at("view"), json::value(2));
  // mando's own field is always a name.
  EXPECT_EQ(numbered.at("mandoState"), json::value("LEASED"));
}

TEST(JsonMapping, TimestampsTakeZeroToNineDigitsAndOffsets) {
  EXPECT_EQ(at("1970-01-01T00:00:00Z"), TimePoint{});
  EXPECT_EQ(at("1970-01-01T00:00:01.5Z"), TimePoint{1500ms});
  EXPECT_EQ(at("1970-01-01T00:00:01.123456789Z"), TimePoint{1123456us});
  EXPECT_EQ(at("1970-01-01T00:00:00.000001Z"), TimePoint{1us});
  EXPECT_EQ(at("1970-01-01T02:00:00+02:00"), TimePoint{});
  EXPECT_EQ(at("1969-12-31T22:30:00-01:30"), TimePoint{});
  EXPECT_EQ(at("2024-02-29T12:00:00Z"), at("2024-02-29T13:00:00+01:00"));

  for (const char* bad :
       {"2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2024-05-01 12:00:00Z",
        "2024-05-01T12:00:00", "2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z",
        "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00.1234567891Z", "2024-05-01T12:00:00+2:00",
        "2024-5-01T12:00:00Z", "2024-05-01T12:00:00Zjunk", "0000-01-01T00:00:00Z", ""}) {
    EXPECT_FALSE(parse_timestamp(bad)) << bad;
  }
}

TEST(JsonMapping, TimestampsAreWrittenWithZAndZeroThreeOrSixDigits) {
  EXPECT_EQ(format_timestamp(TimePoint{}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_timestamp(TimePoint{1500ms}), "1970-01-01T00:00:01.500Z");
  EXPECT_EQ(format_timestamp(TimePoint{1000001us}), "1970-01-01T00:00:01.000001Z");
  EXPECT_EQ(format_timestamp(TimePoint{-500ms}), "1969-12-31T23:59:59.500Z");
  EXPECT_EQ(format_timestamp(at("2024-05-01T14:00:00.123+02:00")), "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(format_timestamp(at("0001-01-01T00:00:00Z")), "0001-01-01T00:00:00Z");
  EXPECT_EQ(format_timestamp(at("9999-12-31T23:59:59.999999Z")), "9999-12-31T23:59:59.999999Z");
}

TEST(JsonMapping, DurationsFollowProtobuf) {
  EXPECT_EQ(*parse_duration("10s"), 10s);
  EXPECT_EQ(*parse_duration("10.500s"), 10500ms);
  EXPECT_EQ(*parse_duration("-1.5s"), -1500ms);
  EXPECT_EQ(*parse_duration("0.000001s"), 1us);
  EXPECT_EQ(*parse_duration("0.000000999s"), 0us);
  EXPECT_EQ(*parse_duration("315576000000s"), Micros{315576000000LL * 1000000});
  for (const char* bad : {"10", "1.s", ".5s", "+1s", "1.0000000001s", "315576000001s", "1e3s",
                          "- 1s", "1m", "s", "", "--1s", "1.5.5s"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
  EXPECT_EQ(format_duration(10s), "10s");
  EXPECT_EQ(format_duration(10500ms), "10.500s");
  EXPECT_EQ(format_duration(1us), "0.000001s");
  EXPECT_EQ(format_duration(-1500ms), "-1.500s");
  EXPECT_EQ(format_duration(0s), "0s");
}

TEST(JsonMapping, IntegersMayArriveAsStringsOrNumbers) {
  auto q = queue_from(
      R"({"retryConfig":{"maxAttempts":"7","maxDoublings":3.0},
          "rateLimits":{"maxConcurrentDispatches":"-0","maxDispatchesPerSecond":"2.5"}})");
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->retry_config.max_attempts, 7);
  EXPECT_EQ(q->retry_config.max_doublings, 3);
  EXPECT_EQ(q->rate_limits.max_concurrent_dispatches, 0);
  EXPECT_EQ(q->rate_limits.max_dispatches_per_second, 2.5);
  auto t = task_from(R"({"dispatchCount":"12","responseCount":4})");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->dispatch_count, 12);
  EXPECT_EQ(t->response_count, 4);
}

TEST(JsonMapping, BytesAreBase64StandardOrUrlSafe) {
  const std::string bytes("\xfb\xff\x00mando", 8);
  EXPECT_EQ(encode_base64(bytes), "+/8AbWFuZG8=");
  EXPECT_EQ(*decode_base64("+/8AbWFuZG8="), bytes);
  EXPECT_EQ(*decode_base64("-_8AbWFuZG8="), bytes);
  EXPECT_EQ(*decode_base64("-_8AbWFuZG8"), bytes);
  EXPECT_EQ(*decode_base64(""), "");
  for (const char* bad : {"a", "ab=c", "abc===", "ab!c", "abcd=", "ab c"}) {
    EXPECT_FALSE(decode_base64(bad)) << bad;
  }
  auto t = task_from(R"({"httpRequest":{"url":"https://w.example/","body":"aGk"}})");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->request.body, "hi");
  EXPECT_EQ(refusal(task_from(R"({"httpRequest":{"body":"*"}})")),
            "task.httpRequest.body: not valid base64");
}

TEST(JsonMapping, UnknownFieldsAndNullsAreIgnored) {
  auto q = queue_from(R"({"name":"projects/p-1/locations/l/queues/q","stackdriverLoggingConfig":
      {"samplingRatio":1},"rateLimits":{"maxBurstSize":null,"future":[1]},"state":null})");
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->name.queue, "q");
  EXPECT_EQ(q->rate_limits.max_burst_size, RateLimits{}.max_burst_size);
  auto t = task_from(R"({"httpRequest":{"url":"https://w.example/","oidcToken":{}},"x":1})");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->request.url, "https://w.example/");
}

TEST(JsonMapping, EveryRefusalNamesTheField) {
  struct Case {
    const char* json;
    const char* message;
  };
  for (const Case& c : {
           Case{R"([])", "queue: expected an object, got an array"},
           Case{R"({"name":7})", "queue.name: expected a string, got a number"},
           Case{R"({"name":"queues/q"})",
                "queue.name: \"queues/q\" is not "
                "projects/{project}/locations/{location}/queues/{queue}"},
           Case{R"({"rateLimits":{"maxDispatchesPerSecond":"fast"}})",
                "queue.rateLimits.maxDispatchesPerSecond: \"fast\" is not a number"},
           Case{R"({"rateLimits":{"maxDispatchesPerSecond":"Infinity"}})",
                "queue.rateLimits.maxDispatchesPerSecond: expected a finite number"},
           Case{R"({"rateLimits":{"maxBurstSize":3000000000}})",
                "queue.rateLimits.maxBurstSize: 3000000000 is out of range [-2147483648, "
                "2147483647]"},
           Case{R"({"retryConfig":{"maxAttempts":1.5}})",
                "queue.retryConfig.maxAttempts: expected an integer"},
           Case{R"({"retryConfig":{"maxAttempts":"9999999999999999999999"}})",
                "queue.retryConfig.maxAttempts: \"9999999999999999999999\" is out of range "
                "[-2147483648, 2147483647]"},
           Case{R"({"retryConfig":{"minBackoff":"5"}})",
                "queue.retryConfig.minBackoff: \"5\" is not a duration such as \"10s\" or "
                "\"0.5s\""},
           Case{R"({"retryConfig":[]})", "queue.retryConfig: expected an object, got an array"},
           Case{R"({"purgeTime":"yesterday"})",
                "queue.purgeTime: \"yesterday\" is not an RFC 3339 timestamp such as "
                "2024-05-01T12:00:00.5Z"},
           Case{R"({"appEngineRoutingOverride":{"host":false}})",
                "queue.appEngineRoutingOverride.host: expected a string, got a boolean"},
       }) {
    EXPECT_EQ(refusal(queue_from(c.json)), c.message) << c.json;
  }
  for (const Case& c : {
           Case{R"({"scheduleTime":"2024-05-01"})",
                "task.scheduleTime: \"2024-05-01\" is not an RFC 3339 timestamp such as "
                "2024-05-01T12:00:00.5Z"},
           Case{R"({"dispatchDeadline":10})",
                "task.dispatchDeadline: expected a string, got a number"},
           Case{R"({"name":"projects/p-1/locations/l/queues/q/tasks/a b"})",
                "task.name: invalid task id \"a b\" (expected [A-Za-z0-9_-]{1,500})"},
           Case{R"({"httpRequest":{"httpMethod":"BREW"}})",
                "task.httpRequest.httpMethod: unknown value \"BREW\""},
           Case{R"({"httpRequest":{"headers":{"X-A":1}}})",
                "task.httpRequest.headers.X-A: expected a string, got a number"},
           Case{R"({"appEngineHttpRequest":{"appEngineRouting":"x"}})",
                "task.appEngineHttpRequest.appEngineRouting: expected an object, got a string"},
           Case{R"({"httpRequest":{},"appEngineHttpRequest":{}})",
                "task: only one of httpRequest and appEngineHttpRequest may be set"},
           Case{R"({"lastAttempt":{"responseStatus":{"code":"x"}}})",
                "task.lastAttempt.responseStatus.code: \"x\" is not an integer"},
           Case{R"({"mandoState":"DONE"})", "task.mandoState: unknown value \"DONE\""},
           Case{R"({"mandoState":1})", "task.mandoState: expected a string, got a number"},
       }) {
    EXPECT_EQ(refusal(task_from(c.json)), c.message) << c.json;
  }
}

TEST(JsonMapping, RefusalsQuoteAtMost64CharactersOfTheValue) {
  const std::string hostile = std::string(10000, '[') + "\n";
  auto refused = parse_timestamp(hostile);
  ASSERT_FALSE(refused);
  EXPECT_LT(refused.error().message.size(), 200u);
  EXPECT_NE(refused.error().message.find(std::string(61, '[') + "...\""), std::string::npos);
  auto control = parse_duration("1\n0s");
  ASSERT_FALSE(control);
  EXPECT_NE(control.error().message.find("\"1?0s\""), std::string::npos) << control.error().message;
}

TEST(JsonMapping, QueueRoundTrips) {
  Queue q;
  q.name = *QueueName::parse(kQueueName);
  q.rate_limits = {12.5, 7, 33};
  q.retry_config = {5, 3600s, 250ms, 90s, 4};
  q.state = QueueState::kPaused;
  q.purge_time = at("2024-05-01T00:00:00.5Z");
  q.worker_base_url = "http://workers.internal:8080";
  auto o = to_json(q, EnumEncoding::kName);
  EXPECT_EQ(o.at("retryConfig").at("minBackoff"), json::value("0.250s"));
  EXPECT_EQ(o.at("appEngineRoutingOverride").at("host"), json::value("workers.internal:8080"));
  for (auto enums : {EnumEncoding::kName, EnumEncoding::kNumber}) {
    auto back = queue_from_json(json::parse(json::serialize(to_json(q, enums))));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->name, q.name);
    EXPECT_EQ(back->rate_limits.max_dispatches_per_second, 12.5);
    EXPECT_EQ(back->rate_limits.max_burst_size, 7);
    EXPECT_EQ(back->rate_limits.max_concurrent_dispatches, 33);
    EXPECT_EQ(back->retry_config.max_attempts, 5);
    EXPECT_EQ(back->retry_config.max_retry_duration, 3600s);
    EXPECT_EQ(back->retry_config.min_backoff, 250ms);
    EXPECT_EQ(back->retry_config.max_backoff, 90s);
    EXPECT_EQ(back->retry_config.max_doublings, 4);
    EXPECT_EQ(back->state, QueueState::kPaused);
    EXPECT_EQ(back->purge_time, q.purge_time);
    EXPECT_EQ(back->worker_base_url, q.worker_base_url);
  }
  // A request carries only what a client may set.
  auto request = to_request_json(q);
  EXPECT_FALSE(request.contains("state"));
  EXPECT_FALSE(request.contains("purgeTime"));
  EXPECT_TRUE(request.contains("rateLimits"));
}

TEST(JsonMapping, RoutingOverrideHostIsTheBaseUrlAuthority) {
  auto plain = queue_from(R"({"appEngineRoutingOverride":{"host":"workers:8080"}})");
  auto tls = queue_from(R"({"appEngineRoutingOverride":{"host":"https://workers.example"}})");
  ASSERT_TRUE(plain && tls);
  EXPECT_EQ(plain->worker_base_url, "http://workers:8080");
  EXPECT_EQ(tls->worker_base_url, "https://workers.example");
  tls->name = *QueueName::parse(kQueueName);
  EXPECT_EQ(to_json(*tls, EnumEncoding::kName).at("appEngineRoutingOverride").at("host"),
            json::value("https://workers.example"));
  Queue none;
  none.name = tls->name;
  EXPECT_FALSE(to_json(none, EnumEncoding::kName).contains("appEngineRoutingOverride"));
}

TEST(JsonMapping, TaskRoundTripsInFullView) {
  const Task t = sample_task();
  auto o = to_json(t, TaskView::kFull, EnumEncoding::kName);
  EXPECT_EQ(o.at("scheduleTime"), json::value("2024-05-01T12:00:00.250Z"));
  EXPECT_EQ(o.at("dispatchDeadline"), json::value("90s"));
  EXPECT_EQ(o.at("appEngineHttpRequest").at("relativeUri"),
            json::value("/work/generate-image?size=512"));
  EXPECT_EQ(o.at("appEngineHttpRequest").at("headers").at("X-Trace"), json::value("abc"));
  EXPECT_EQ(o.at("firstAttempt").at("responseStatus"),
            json::parse(R"({"code":14,"message":"HTTP 503 Service Unavailable"})"));
  EXPECT_FALSE(o.at("lastAttempt").as_object().contains("responseStatus"));

  auto back = task_from_json(json::parse(json::serialize(o)));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->name, t.name);
  EXPECT_EQ(back->request.kind, TaskRequest::Kind::kAppEngine);
  EXPECT_EQ(back->request.url, t.request.url);
  EXPECT_EQ(back->request.method, HttpMethod::kPut);
  auto headers = back->request.headers;
  std::ranges::sort(headers);
  EXPECT_EQ(headers, t.request.headers);
  EXPECT_EQ(back->request.body, t.request.body);
  EXPECT_EQ(back->schedule_time, t.schedule_time);
  EXPECT_EQ(back->create_time, t.create_time);
  EXPECT_EQ(back->dispatch_deadline, 90s);
  EXPECT_EQ(back->dispatch_count, 2);
  EXPECT_EQ(back->response_count, 1);
  ASSERT_TRUE(back->first_attempt);
  EXPECT_EQ(back->first_attempt->schedule_time, t.first_attempt->schedule_time);
  EXPECT_EQ(back->first_attempt->dispatch_time, t.first_attempt->dispatch_time);
  EXPECT_EQ(back->first_attempt->response_time, t.first_attempt->response_time);
  EXPECT_EQ(back->first_attempt->http_status, 503);
  EXPECT_EQ(back->first_attempt->error, "HTTP 503 Service Unavailable");
  ASSERT_TRUE(back->last_attempt);
  EXPECT_EQ(back->last_attempt->dispatch_time, t.last_attempt->dispatch_time);
  EXPECT_FALSE(back->last_attempt->response_time);
  EXPECT_EQ(back->state, TaskState::kLeased);
}

TEST(JsonMapping, BasicViewLeavesOutHeadersAndBody) {
  Task t = sample_task();
  t.request.kind = TaskRequest::Kind::kHttp;
  t.request.url = "https://workers.example/generate";
  auto o = to_json(t, TaskView::kBasic, EnumEncoding::kName);
  const auto& request = o.at("httpRequest").as_object();
  EXPECT_EQ(request.at("url"), json::value("https://workers.example/generate"));
  EXPECT_EQ(request.at("httpMethod"), json::value("PUT"));
  EXPECT_FALSE(request.contains("headers"));
  EXPECT_FALSE(request.contains("body"));
  EXPECT_FALSE(o.contains("appEngineHttpRequest"));
  EXPECT_EQ(o.at("view"), json::value("BASIC"));
  auto back = task_from_json(o);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->request.url, t.request.url);
  EXPECT_TRUE(back->request.headers.empty());
  EXPECT_TRUE(back->request.body.empty());
}

TEST(JsonMapping, TaskRequestsCarryOnlyWhatClientsSet) {
  Task t = sample_task();
  auto o = to_request_json(t);
  for (const char* output_only : {"createTime", "dispatchCount", "responseCount", "firstAttempt",
                                  "lastAttempt", "view", "mandoState"}) {
    EXPECT_FALSE(o.contains(output_only)) << output_only;
  }
  EXPECT_EQ(o.at("name"), json::value(t.name.full()));
  EXPECT_TRUE(o.at("appEngineHttpRequest").as_object().contains("body"));
  t.name.task.clear();
  t.schedule_time = {};
  o = to_request_json(t);
  EXPECT_FALSE(o.contains("name"));
  EXPECT_FALSE(o.contains("scheduleTime"));
}

TEST(JsonMapping, AttemptStatusesMapHttpToRpcCodes) {
  const std::pair<int, int> table[] = {{200, 0},  {204, 0},  {400, 3},  {401, 16}, {403, 7},
                                       {404, 5},  {409, 10}, {429, 8},  {499, 1},  {500, 13},
                                       {501, 12}, {503, 14}, {504, 4},  {405, 12}, {408, 4},
                                       {502, 14}, {410, 9},  {507, 13}, {302, 2}};
  for (auto [http, rpc] : table) EXPECT_EQ(rpc_code_for_http_status(http), rpc) << http;
}

TEST(JsonMapping, AttemptsWithoutResponseAreUnavailableOrDeadlineExceeded) {
  // The responseStatus an attempt is written with, and the attempt read back from it.
  auto round_trip = [](int http_status, std::string error) {
    Task t = sample_task();
    t.last_attempt->response_time = TimePoint{2s};
    t.last_attempt->http_status = http_status;
    t.last_attempt->error = std::move(error);
    auto o = to_json(t, TaskView::kBasic, EnumEncoding::kNumber);
    auto back = task_from_json(o);
    EXPECT_TRUE(back);
    return std::pair{json::value(o.at("lastAttempt").at("responseStatus")), *back->last_attempt};
  };
  auto [refused, refused_back] = round_trip(0, "connection refused");
  EXPECT_EQ(refused, json::parse(R"({"code":14,"message":"connection refused"})"));
  EXPECT_EQ(refused_back.http_status, 0);
  EXPECT_EQ(refused_back.error, "connection refused");
  auto [late, late_back] = round_trip(0, "deadline exceeded after 10s");
  EXPECT_EQ(late.at("code"), json::value(4));
  EXPECT_EQ(late_back.http_status, 0);
  auto [ok, ok_back] = round_trip(204, "");
  EXPECT_EQ(ok, json::parse(R"({"code":0,"message":"HTTP 204"})"));
  EXPECT_EQ(ok_back.http_status, 204);
  EXPECT_EQ(ok_back.error, "");
  auto [missing, missing_back] = round_trip(404, "");
  EXPECT_EQ(missing, json::parse(R"({"code":5,"message":"HTTP 404"})"));
  EXPECT_EQ(missing_back.http_status, 404);
  // From a service that words statuses its own way, the code's HTTP status stands in.
  auto google = task_from(R"({"lastAttempt":{"responseStatus":{"code":7,"message":"denied"}}})");
  ASSERT_TRUE(google);
  EXPECT_EQ(google->last_attempt->http_status, 403);
  EXPECT_EQ(google->last_attempt->error, "denied");
}

TEST(JsonMapping, UpdateMasksBecomeSnakeCaseProtoPaths) {
  auto mask = parse_queue_update_mask("rateLimits.maxDispatchesPerSecond, retryConfig");
  ASSERT_TRUE(mask) << mask.error().message;
  EXPECT_EQ(*mask,
            (std::vector<std::string>{"rate_limits.max_dispatches_per_second", "retry_config"}));
  EXPECT_EQ(*parse_queue_update_mask("app_engine_routing_override.host"),
            (std::vector<std::string>{"app_engine_routing_override.host"}));
  EXPECT_TRUE(parse_queue_update_mask("")->empty());
  EXPECT_EQ(format_update_mask(*mask), "rateLimits.maxDispatchesPerSecond,retryConfig");

  EXPECT_EQ(refusal(parse_queue_update_mask("state")),
            "updateMask: state cannot be updated; use :pause and :resume");
  EXPECT_EQ(refusal(parse_queue_update_mask("purgeTime")),
            "updateMask: purgeTime cannot be updated; use :purge");
  EXPECT_EQ(refusal(parse_queue_update_mask("rateLimits.speed")),
            "updateMask: \"rateLimits.speed\" is not an updatable field of Queue");
  EXPECT_EQ(refusal(parse_queue_update_mask("retryConfig,,")), "updateMask: empty path");
}

TEST(JsonMapping, ApplyingAMaskCopiesOnlyTheNamedFields) {
  Queue queue;
  queue.state = QueueState::kPaused;
  Queue patch;
  patch.rate_limits = {1, 2, 3};
  patch.retry_config.max_attempts = 9;
  patch.worker_base_url = "http://w:1";
  ASSERT_TRUE(apply_queue_update(queue, patch, {"rate_limits.max_burst_size"}));
  EXPECT_EQ(queue.rate_limits.max_burst_size, 2);
  EXPECT_EQ(queue.rate_limits.max_dispatches_per_second, RateLimits{}.max_dispatches_per_second);
  EXPECT_EQ(queue.retry_config.max_attempts, RetryConfig{}.max_attempts);
  ASSERT_TRUE(apply_queue_update(queue, patch, {}));
  EXPECT_EQ(queue.rate_limits.max_dispatches_per_second, 1);
  EXPECT_EQ(queue.retry_config.max_attempts, 9);
  EXPECT_EQ(queue.worker_base_url, "http://w:1");
  EXPECT_EQ(queue.state, QueueState::kPaused);
  EXPECT_FALSE(apply_queue_update(queue, patch, {"state"}));
}

TEST(JsonMapping, ErrorsHaveGooglesShapeAndReadBack) {
  Error conflict{ErrorKind::kAlreadyExists, "task \"t\" exists"};
  auto body = error_body(conflict);
  EXPECT_EQ(json::parse(body), json::parse(R"({"error":{"code":409,"message":"task \"t\" exists",
                                     "status":"ALREADY_EXISTS"}})"));
  Error back = error_from_response(409, body);
  EXPECT_EQ(back.kind, ErrorKind::kAlreadyExists);
  EXPECT_EQ(back.message, conflict.message);

  for (ErrorKind kind :
       {ErrorKind::kInvalidArgument, ErrorKind::kNotFound, ErrorKind::kAlreadyExists,
        ErrorKind::kUnauthenticated, ErrorKind::kPermissionDenied, ErrorKind::kResourceExhausted,
        ErrorKind::kFailedPrecondition, ErrorKind::kDeadlineExceeded, ErrorKind::kUnavailable,
        ErrorKind::kInternal}) {
    Error e{kind, "m"};
    EXPECT_EQ(error_from_response(api_http_status(kind), error_body(e)).kind, kind)
        << rpc_status_name(kind);
  }

  // Every kind, explicitly: its google.rpc name, code and HTTP status, and the body that says so.
  struct Expected {
    ErrorKind kind;
    std::string_view name;
    int code;
    int http;
  };
  for (const Expected& x : std::initializer_list<Expected>{
           {ErrorKind::kInvalidArgument, "INVALID_ARGUMENT", 3, 400},
           {ErrorKind::kNotFound, "NOT_FOUND", 5, 404},
           {ErrorKind::kAlreadyExists, "ALREADY_EXISTS", 6, 409},
           {ErrorKind::kUnauthenticated, "UNAUTHENTICATED", 16, 401},
           {ErrorKind::kPermissionDenied, "PERMISSION_DENIED", 7, 403},
           {ErrorKind::kResourceExhausted, "RESOURCE_EXHAUSTED", 8, 429},
           {ErrorKind::kFailedPrecondition, "FAILED_PRECONDITION", 9, 400},
           {ErrorKind::kDeadlineExceeded, "DEADLINE_EXCEEDED", 4, 504},
           {ErrorKind::kUnavailable, "UNAVAILABLE", 14, 503},
           {ErrorKind::kInternal, "INTERNAL", 13, 500},
       }) {
    EXPECT_EQ(rpc_status_name(x.kind), x.name);
    EXPECT_EQ(rpc_code(x.kind), x.code) << x.name;
    EXPECT_EQ(api_http_status(x.kind), x.http) << x.name;
    const json::value body = json::parse(error_body(Error{x.kind, "m"}));
    EXPECT_EQ(body.at("error").at("status").as_string(), x.name);
    EXPECT_EQ(body.at("error").at("code").as_int64(), x.http) << x.name;
  }

  // No status in the body: the HTTP status decides; no JSON: the body is the message.
  EXPECT_EQ(error_from_response(404, R"({"error":{"code":404,"message":"gone"}})").kind,
            ErrorKind::kNotFound);
  Error html = error_from_response(502, "<html>bad gateway</html>");
  EXPECT_EQ(html.kind, ErrorKind::kUnavailable);
  EXPECT_EQ(html.message, "HTTP 502: <html>bad gateway</html>");
  EXPECT_EQ(error_from_response(400, R"({"error":{"status":"FAILED_PRECONDITION"}})").kind,
            ErrorKind::kFailedPrecondition);
}

TEST(JsonMapping, RequestBodiesMustBeJsonObjects) {
  EXPECT_TRUE(parse_json_object("")->empty());
  EXPECT_TRUE(parse_json_object(" \n")->empty());
  EXPECT_EQ(parse_json_object(R"({"a":1})")->at("a"), json::value(1));
  EXPECT_EQ(refusal(parse_json_object("[1]")),
            "the request body must be a JSON object, not an array");
  EXPECT_TRUE(
      refusal(parse_json_object("{\"a\":")).starts_with("the request body is not valid JSON"));
}

}  // namespace
}  // namespace mando::queue
