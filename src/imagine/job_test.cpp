#include "imagine/job.hpp"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>

namespace mando::imagine {
namespace {

JobUpdate update(Status status) {
  JobUpdate u;
  u.provider_job_id = "p1";
  u.status = status;
  return u;
}

JobUpdate starting_at(int position) {
  auto u = update(Status::kStarting);
  u.queue_position = position;
  return u;
}

JobUpdate processing_at(int percent) {
  auto u = update(Status::kProcessing);
  u.percent = percent;
  return u;
}

JobUpdate succeeded() {
  auto u = update(Status::kSucceeded);
  u.outputs = {"https://provider.example/out-0.png", "https://provider.example/out-1.png"};
  return u;
}

TEST(JobMergeTest, MovesForwardAndReportsWhatChanged) {
  JobState state;
  EXPECT_TRUE(merge(state, starting_at(3)));
  EXPECT_EQ(state.queue_position, 3);
  EXPECT_FALSE(merge(state, starting_at(3)));  // a redelivery
  EXPECT_TRUE(merge(state, starting_at(1)));
  EXPECT_TRUE(merge(state, processing_at(40)));
  EXPECT_EQ(state.status, Status::kProcessing);
  EXPECT_EQ(state.queue_position, std::nullopt);
  EXPECT_EQ(state.percent, 40);
  EXPECT_TRUE(merge(state, succeeded()));
  EXPECT_EQ(state.status, Status::kSucceeded);
  EXPECT_EQ(state.outputs.size(), 2u);
  EXPECT_EQ(state.percent, 100);
}

TEST(JobMergeTest, StaleNewsChangesNothing) {
  JobState state;
  merge(state, starting_at(2));
  EXPECT_FALSE(merge(state, starting_at(5)));  // an older place in line
  EXPECT_EQ(state.queue_position, 2);
  merge(state, processing_at(60));
  EXPECT_FALSE(merge(state, processing_at(20)));
  EXPECT_FALSE(merge(state, starting_at(1)));
  EXPECT_EQ(state.status, Status::kProcessing);
  EXPECT_EQ(state.percent, 60);
  merge(state, succeeded());
  // A late processing, a second completion, a failure after success: all ignored.
  EXPECT_FALSE(merge(state, processing_at(90)));
  EXPECT_FALSE(merge(state, succeeded()));
  auto failed = update(Status::kFailed);
  failed.error = "out of memory";
  EXPECT_FALSE(merge(state, failed));
  EXPECT_EQ(state.status, Status::kSucceeded);
  EXPECT_TRUE(state.error.empty());
}

TEST(JobMergeTest, AnyOrderOfTheSameEventsEndsInTheSameState) {
  std::vector<JobUpdate> events = {starting_at(4), starting_at(2), processing_at(10),
                                   processing_at(70), succeeded()};
  // Every event twice, as a provider that retries deliveries sends them.
  const auto copy = events;
  events.insert(events.end(), copy.begin(), copy.end());
  std::mt19937 random(7);
  for (int round = 0; round < 50; ++round) {
    std::shuffle(events.begin(), events.end(), random);
    JobState state;
    int terminal_changes = 0;
    for (const auto& event : events) {
      const bool was_terminal = terminal(state.status);
      if (merge(state, event) && !was_terminal && terminal(state.status)) ++terminal_changes;
    }
    EXPECT_EQ(state.status, Status::kSucceeded);
    EXPECT_EQ(state.outputs, succeeded().outputs);
    EXPECT_EQ(terminal_changes, 1);
  }
}

TEST(JobMergeTest, EveryTerminalStatusIsFinal) {
  for (Status end : {Status::kSucceeded, Status::kFailed, Status::kCanceled, Status::kAborted}) {
    JobState state;
    EXPECT_TRUE(merge(state, update(end)));
    EXPECT_TRUE(terminal(state.status));
    EXPECT_FALSE(merge(state, update(Status::kSucceeded)));
    EXPECT_EQ(state.status, end) << to_string(end);
  }
  EXPECT_FALSE(terminal(Status::kStarting));
  EXPECT_FALSE(terminal(Status::kProcessing));
}

}  // namespace
}  // namespace mando::imagine

namespace mando::imagine {
namespace {

TEST(JobUpdateJson, RoundTripsAndRefusesMalformedFields) {
  JobUpdate update{"p1", Status::kStarting, 3, 40, {"https://a/1.png", "data:image/png;base64,AA"},
                   ""};
  auto back = parse_update(to_json(update));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->provider_job_id, "p1");
  EXPECT_EQ(back->status, Status::kStarting);
  EXPECT_EQ(back->queue_position, 3);
  EXPECT_EQ(back->percent, 40);
  EXPECT_EQ(back->outputs, update.outputs);

  auto failed = parse_update(R"({"provider_job_id":"p","status":"failed","error":"NSFW"})");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error, "NSFW");
  EXPECT_FALSE(failed->percent);

  for (const char* bad :
       {R"({"status":"failed"})", R"({"provider_job_id":"p","status":"done"})",
        R"({"provider_job_id":"p","status":"failed","percent":101})",
        R"({"provider_job_id":"p","status":"failed","outputs":[1]})",
        R"({"provider_job_id":"p","status":"failed","queue_position":-1})", "[]"}) {
    auto refused = parse_update(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().kind, ErrorKind::kInvalidArgument);
  }
}

}  // namespace
}  // namespace mando::imagine
