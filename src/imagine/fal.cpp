#include "imagine/fal.hpp"

#include <algorithm>
#include <cctype>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <fmt/format.h>

#include "core/crypto.hpp"
#include "imagine/replicate.hpp"

namespace mando::imagine::fal {

namespace json = boost::json;

namespace {

tl::unexpected<Error> malformed(std::string_view what, std::string_view why) {
  return fail(ErrorKind::kInvalidArgument, fmt::format("fal {}: {}", what, why));
}

bool plain_segment(std::string_view s) {
  return !s.empty() && s != "." && s != ".." && std::ranges::all_of(s, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

Result<json::object> parse_object(std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec || !value.is_object()) return malformed(what, "not a JSON object");
  return std::move(value.as_object());
}

std::string string_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// fal counts the place in line from 0 (next); mando from 1. Bounded like every position.
int position_of(const json::value& p) {
  return static_cast<int>(std::clamp<std::int64_t>(p.get_int64(), 0, 999'999)) + 1;
}

void add_url(const json::value* file, std::vector<std::string>& out) {
  if (file == nullptr || !file->is_object()) return;
  if (auto url = string_at(file->as_object(), "url"); !url.empty()) out.push_back(std::move(url));
}

std::vector<std::string> outputs_of(const json::object& output) {
  std::vector<std::string> out;
  for (std::string_view list : {"images", "videos"}) {
    const json::value* files = output.if_contains(list);
    if (files == nullptr || !files->is_array()) continue;
    for (const auto& file : files->as_array()) add_url(&file, out);
  }
  add_url(output.if_contains("image"), out);
  add_url(output.if_contains("video"), out);
  return out;
}

// The words of a failure: a string, or FastAPI's {"detail": "..."} / [{"msg": ...}].
std::string error_text(const json::value* error) {
  if (error == nullptr || error->is_null()) return {};
  if (error->is_string()) return std::string(error->as_string());
  if (error->is_object()) {
    if (const json::value* detail = error->as_object().if_contains("detail")) {
      return error_text(detail);
    }
  }
  if (error->is_array() && !error->as_array().empty() && error->as_array()[0].is_object()) {
    if (auto msg = string_at(error->as_array()[0].as_object(), "msg"); !msg.empty()) return msg;
  }
  return json::serialize(*error);
}

}  // namespace

Result<std::string> app_id(std::string_view model) {
  std::vector<std::string_view> segments;
  for (std::string_view rest = model;;) {
    const auto slash = rest.find('/');
    segments.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (segments.size() < 2 || !std::ranges::all_of(segments, plain_segment)) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("model \"{}\": not owner/name or owner/name/path", model));
  }
  return fmt::format("{}/{}", segments[0], segments[1]);
}

Result<std::string> submit_url(std::string_view endpoint, std::string_view model,
                               std::string_view webhook) {
  if (auto app = app_id(model); !app) return tl::unexpected(app.error());
  std::string url = fmt::format("{}/{}", endpoint, model);
  if (!webhook.empty()) {
    url += "?fal_webhook=" + boost::urls::encode(webhook, boost::urls::unreserved_chars);
  }
  return url;
}

Result<JobUpdate> parse_submitted(std::string_view body) {
  auto o = parse_object(body, "submit answer");
  if (!o) return tl::unexpected(o.error());
  JobUpdate update;
  update.provider_job_id = string_at(*o, "request_id");
  if (update.provider_job_id.empty()) {
    return malformed("submit answer", "field `request_id` must be a non-empty string");
  }
  if (const json::value* p = o->if_contains("queue_position"); p != nullptr && p->is_int64()) {
    update.queue_position = position_of(*p);
  }
  return update;
}

Result<JobUpdate> parse_status(std::string_view request_id, std::string_view body) {
  auto o = parse_object(body, "status");
  if (!o) return tl::unexpected(o.error());
  JobUpdate update;
  update.provider_job_id = std::string(request_id);
  const std::string status = string_at(*o, "status");
  if (status == "IN_QUEUE") {
    update.status = Status::kStarting;
    if (const json::value* p = o->if_contains("queue_position"); p != nullptr && p->is_int64()) {
      update.queue_position = position_of(*p);
    }
  } else if (status == "IN_PROGRESS") {
    update.status = Status::kProcessing;
  } else if (status == "COMPLETED") {
    update.status = Status::kSucceeded;
  } else if (status == "FAILED") {
    update.status = Status::kFailed;
    update.error = error_text(o->if_contains("error"));
  } else if (status == "CANCELED" || status == "CANCELLED") {
    update.status = Status::kCanceled;
  } else {
    return malformed("status", "field `status` must be one of the queue's statuses");
  }
  if (const json::value* logs = o->if_contains("logs"); logs != nullptr && logs->is_array()) {
    std::string text;
    for (const auto& line : logs->as_array()) {
      if (line.is_object()) text += string_at(line.as_object(), "message") + "\n";
    }
    update.percent = replicate::percent_from_logs(text);  // tqdm bars look the same everywhere
  }
  return update;
}

Result<std::vector<std::string>> parse_result(std::string_view body) {
  auto o = parse_object(body, "result");
  if (!o) return tl::unexpected(o.error());
  return outputs_of(*o);
}

Result<JobUpdate> parse_webhook(std::string_view body) {
  auto o = parse_object(body, "webhook");
  if (!o) return tl::unexpected(o.error());
  JobUpdate update;
  update.provider_job_id = string_at(*o, "request_id");
  if (update.provider_job_id.empty()) {
    return malformed("webhook", "field `request_id` must be a non-empty string");
  }
  const std::string status = string_at(*o, "status");
  const json::value* payload = o->if_contains("payload");
  if (status == "OK") {
    update.status = Status::kSucceeded;
    if (payload != nullptr && payload->is_object())
      update.outputs = outputs_of(payload->as_object());
  } else if (status == "ERROR") {
    update.status = Status::kFailed;
    update.error = error_text(o->if_contains("error"));
    if (const std::string detail = error_text(payload); !detail.empty()) {
      update.error += (update.error.empty() ? "" : ": ") + detail;
    }
  } else {
    return malformed("webhook", "field `status` must be OK or ERROR");
  }
  return update;
}

std::string signed_message(std::string_view request_id, std::string_view user_id,
                           std::string_view timestamp, std::string_view body) {
  return fmt::format("{}\n{}\n{}\n{}", request_id, user_id, timestamp,
                     core::to_hex(core::sha256(body)));
}

}  // namespace mando::imagine::fal
