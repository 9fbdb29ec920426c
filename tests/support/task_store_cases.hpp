#pragma once
// The queue, tasks, times and attempts the task store tests are written with.

#include <chrono>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "queue/model.hpp"

namespace mando::testing::store_cases {

using namespace std::chrono_literals;
using queue::Micros;
using queue::TimePoint;

inline const TimePoint kT0 = TimePoint(Micros(1'700'000'000'000'000));
inline constexpr Micros kWindow = 1h;
inline constexpr Micros kMargin = 1min;
// How long a lease of a task with the default dispatch deadline lasts.
inline constexpr Micros kLease = queue::kDefaultDispatchDeadline + kMargin;

inline queue::QueueName queue_name(std::string id = "images") {
  return {"proj", "here", std::move(id)};
}
inline queue::TaskName task_name(std::string id, std::string queue = "images") {
  return {queue_name(std::move(queue)), std::move(id)};
}

inline queue::Queue make_queue(queue::QueueName name) {
  queue::Queue queue;
  queue.name = std::move(name);
  return queue;
}

// A task whose headers and body hold what a text column would mangle (an empty value, a NUL).
inline queue::Task make_task(std::string id, TimePoint schedule = kT0) {
  queue::Task task;
  task.name = task_name(std::move(id));
  task.request.url = "https://worker.example/run";
  task.request.headers = {{"Content-Type", "application/json"}, {"X-Empty", ""}};
  task.request.body = std::string("{\"a\":1}\0binary", 14);
  task.schedule_time = schedule;
  return task;
}

inline queue::Attempt attempt_at(TimePoint t, int status) {
  return queue::Attempt{t, t + 1ms, status != 0 ? std::optional(t + 2ms) : std::nullopt, status,
                        status != 0 ? fmt::format("HTTP {}", status) : "connection refused"};
}

}  // namespace mando::testing::store_cases
