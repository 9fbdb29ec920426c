#include "imagine/replicate.hpp"

#include <algorithm>
#include <charconv>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace mando::imagine::replicate {

namespace json = boost::json;

namespace {

tl::unexpected<Error> malformed(std::string_view why) {
  return fail(ErrorKind::kInvalidArgument, fmt::format("prediction: {}", why));
}

// Whether `text` is a plausible version id: what goes into the JSON, never into a path, must at
// least not smuggle a path in.
bool plain_id(std::string_view text) {
  return !text.empty() && std::ranges::all_of(text, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

std::optional<int> leading_int(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  return value;
}

// A tqdm line's percentage: optional spaces, digits, '%', then '|'.
std::optional<int> tqdm_percent(std::string_view line) {
  const auto first = line.find_first_not_of(' ');
  if (first == std::string_view::npos) return std::nullopt;
  line.remove_prefix(first);
  const auto percent = line.find('%');
  if (percent == std::string_view::npos || percent == 0 || percent > 3) return std::nullopt;
  if (line.substr(percent + 1).find_first_not_of(' ') == std::string_view::npos ||
      line[line.find_first_not_of(' ', percent + 1)] != '|') {
    return std::nullopt;
  }
  const auto digits = line.substr(0, percent);
  if (!std::ranges::all_of(digits, [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const auto value = leading_int(digits);
  if (!value || *value > 100) return std::nullopt;
  return value;
}

}  // namespace

Result<CreateCall> create_call(std::string_view version, const json::object& input,
                               std::string_view webhook) {
  json::object body;
  body["input"] = input;
  CreateCall call;
  const auto colon = version.find(':');
  const auto slash = version.find('/');
  if (slash != std::string_view::npos && colon == std::string_view::npos) {
    const auto owner = version.substr(0, slash);
    const auto name = version.substr(slash + 1);
    if (!plain_id(owner) || !plain_id(name)) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("version \"{}\": not owner/name", version));
    }
    call.path = fmt::format("/models/{}/{}/predictions", owner, name);
  } else {
    const auto id = colon == std::string_view::npos ? version : version.substr(colon + 1);
    if (!plain_id(id)) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("version \"{}\": not a version id", version));
    }
    body["version"] = id;
    call.path = "/predictions";
  }
  if (!webhook.empty()) {
    body["webhook"] = webhook;
    json::array events;
    for (std::string_view event : kWebhookEvents) events.emplace_back(event);
    body["webhook_events_filter"] = std::move(events);
  }
  call.body = json::serialize(body);
  return call;
}

std::string cancel_after(std::chrono::seconds remaining) {
  return fmt::format("{}s", std::max(remaining, kMinCancelAfter).count());
}

std::optional<int> percent_from_logs(std::string_view logs) {
  // tqdm rewrites its line with '\r'; Replicate keeps both line ends in the logs.
  while (!logs.empty()) {
    const auto cut = logs.find_last_of("\r\n");
    const auto line = cut == std::string_view::npos ? logs : logs.substr(cut + 1);
    if (auto percent = tqdm_percent(line)) return percent;
    if (cut == std::string_view::npos) break;
    logs = logs.substr(0, cut);
  }
  return std::nullopt;
}

Result<JobUpdate> parse_prediction(std::string_view body) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec || !value.is_object()) return malformed("not a JSON object");
  const json::object& o = value.as_object();
  JobUpdate update;
  const json::value* id = o.if_contains("id");
  if (id == nullptr || !id->is_string() || id->as_string().empty()) {
    return malformed("field `id` must be a non-empty string");
  }
  update.provider_job_id = std::string(id->as_string());
  const json::value* status = o.if_contains("status");
  // Replicate's status names are mando's own (job.hpp).
  const auto parsed = status != nullptr && status->is_string()
                          ? parse_status(std::string_view(status->as_string()))
                          : Result<Status>(fail(ErrorKind::kInvalidArgument, "missing"));
  if (!parsed) return malformed("field `status` must be one of Replicate's statuses");
  update.status = *parsed;
  if (const json::value* output = o.if_contains("output")) {
    if (output->is_string()) update.outputs.emplace_back(output->as_string());
    if (output->is_array()) {
      for (const json::value& item : output->as_array()) {
        if (item.is_string()) update.outputs.emplace_back(item.as_string());
      }
    }
  }
  if (const json::value* logs = o.if_contains("logs"); logs != nullptr && logs->is_string()) {
    update.percent = percent_from_logs(logs->as_string());
  }
  if (update.status == Status::kFailed) {
    const json::value* error = o.if_contains("error");
    if (error != nullptr && error->is_string()) {
      update.error = std::string(error->as_string());
    } else if (error != nullptr && !error->is_null()) {
      update.error = json::serialize(*error);
    }
  }
  return update;
}

}  // namespace mando::imagine::replicate
