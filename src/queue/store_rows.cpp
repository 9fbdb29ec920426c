#include "queue/store_rows.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "core/crypto.hpp"

namespace mando::queue::rows {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

}  // namespace

std::string encode_headers(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out;
  for (const auto& [name, value] : headers) {
    out += fmt::format("{}:{}{}:{}", name.size(), name, value.size(), value);
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> decode_headers(std::string_view in) {
  std::vector<std::pair<std::string, std::string>> headers;
  auto next = [&](std::string& out) {
    std::size_t size = 0;
    auto [end, ec] = std::from_chars(in.data(), in.data() + in.size(), size);
    if (ec != std::errc() || end == in.data() + in.size() || *end != ':') return false;
    in.remove_prefix(end - in.data() + 1);
    if (size > in.size()) return false;
    out.assign(in.substr(0, size));
    in.remove_prefix(size);
    return true;
  };
  while (!in.empty()) {
    auto& [name, value] = headers.emplace_back();
    if (!next(name) || !next(value)) {
      return fail(ErrorKind::kInternal, "store: corrupt headers column");
    }
  }
  return headers;
}

int page_size_or_default(int page_size) {
  if (page_size <= 0) return kDefaultPageSize;
  return std::min(page_size, kMaxPageSize);
}

std::string encode_page_token(char kind, std::string_view last) {
  return core::to_base64(kind + std::string(last), core::Base64::kUrlNoPadding);
}

Result<std::string> decode_page_token(char kind, const std::string& token) {
  if (token.empty()) return std::string();
  const auto raw = core::from_base64(token, core::Base64::kUrlNoPadding);
  if (!raw || raw->size() < 2 || (*raw)[0] != kind) {
    return fail(ErrorKind::kInvalidArgument, "pageToken: not a token from a previous page");
  }
  return raw->substr(1);
}

Error not_found(std::string_view what, const std::string& name) {
  return Error{ErrorKind::kNotFound, fmt::format("{} {} not found", what, name)};
}

Error stale_lease(const TaskName& name, int dispatch_count, std::int64_t current, TaskState state) {
  return Error{ErrorKind::kFailedPrecondition,
               fmt::format("task {}: the lease of dispatch {} is stale (dispatch {} is {})",
                           name.full(), dispatch_count, current, to_string(state))};
}

Error duplicate_task(const TaskName& name, bool tombstone) {
  return Error{ErrorKind::kAlreadyExists,
               tombstone ? fmt::format("task {} was completed or deleted within the "
                                       "deduplication window",
                                       name.full())
                         : fmt::format("task {} already exists", name.full())};
}

Task new_task(const Task& task, TimePoint now) {
  Task stored;
  stored.name = task.name;
  stored.request = task.request;
  stored.create_time = now;
  stored.schedule_time = task.schedule_time == TimePoint() ? now : task.schedule_time;
  stored.dispatch_deadline = task.dispatch_deadline;
  return stored;
}

}  // namespace mando::queue::rows
