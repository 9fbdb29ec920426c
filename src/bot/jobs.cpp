#include "bot/jobs.hpp"

#include <charconv>
#include <tuple>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace mando::bot {

namespace json = boost::json;
using std::chrono::system_clock;

std::uint64_t DiscordTarget::upload_limit() const {
  return attachment_size_limit > 0 ? attachment_size_limit : kDefaultAttachmentSizeLimit;
}

system_clock::time_point DiscordTarget::created(system_clock::time_point fallback) const {
  return snowflake_time(interaction_id).value_or(fallback);
}

bool DiscordTarget::token_expired(system_clock::time_point now, std::chrono::seconds margin) const {
  return now >= created(now) + kTokenLifetime - margin;
}

namespace {

Result<json::object> parse_object(std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{}: the body is not a JSON object", what));
  }
  return std::move(v.as_object());
}

// A string field, required unless `optional`.
Result<std::string> string_field(const json::object& o, std::string_view key, std::string_view what,
                                 bool optional = false) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr && optional) return std::string();
  if (v == nullptr || !v->is_string()) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{}: field `{}` must be a string", what, key));
  }
  return std::string(v->as_string());
}

Result<DiscordTarget> parse_target(const json::object& o, std::string_view what) {
  const json::value* v = o.if_contains("target");
  if (v == nullptr || !v->is_object()) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{}: field `target` must be an object", what));
  }
  const json::object& t = v->as_object();
  DiscordTarget target;
  for (auto [key, out] : {std::pair{"interaction_id", &target.interaction_id},
                          {"application_id", &target.application_id},
                          {"token", &target.token},
                          {"user_id", &target.user_id}}) {
    auto s = string_field(t, key, what);
    if (!s) return tl::unexpected(s.error());
    *out = std::move(*s);
  }
  auto guild = string_field(t, "guild_id", what, true);
  if (!guild) return tl::unexpected(guild.error());
  if (!guild->empty()) target.guild_id = std::move(*guild);
  if (const json::value* limit = t.if_contains("attachment_size_limit")) {
    boost::system::error_code ec;
    target.attachment_size_limit = limit->to_number<std::uint64_t>(ec);
    if (ec) {
      return fail(
          ErrorKind::kInvalidArgument,
          fmt::format("{}: field `target.attachment_size_limit` must be a byte count", what));
    }
  }
  auto channel = string_field(t, "late_channel_id", what, true);
  if (!channel) return tl::unexpected(channel.error());
  target.late_channel_id = std::move(*channel);
  const json::value* attach = t.if_contains("late_attach");
  target.late_attach = attach != nullptr && attach->is_bool() && attach->get_bool();
  return target;
}

}  // namespace

json::object to_json(const DiscordTarget& target) {
  json::object o{{"interaction_id", target.interaction_id},
                 {"application_id", target.application_id},
                 {"token", target.token},
                 {"user_id", target.user_id}};
  if (target.guild_id) o["guild_id"] = *target.guild_id;
  if (target.attachment_size_limit > 0) o["attachment_size_limit"] = target.attachment_size_limit;
  if (!target.late_channel_id.empty()) {
    o["late_channel_id"] = target.late_channel_id;
    o["late_attach"] = target.late_attach;
  }
  return o;
}

std::string to_json(const ImageJob& job) {
  return json::serialize(
      json::object{{"target", to_json(job.target)}, {"spec", job.spec}, {"options", job.options}});
}

std::string to_json(const ReplyJob& job) {
  json::object o{{"target", to_json(job.target)}, {"message", job.message}};
  if (!job.blob_key.empty()) {
    o["blob_key"] = job.blob_key;
    o["filename"] = job.filename;
    o["content_type"] = job.content_type;
  }
  if (!job.url.empty()) o["url"] = job.url;
  if (job.post_late) o["post_late"] = true;
  if (!job.extra_files.empty()) {
    json::array files;
    for (const auto& f : job.extra_files) {
      files.push_back(json::object{
          {"blob_key", f.blob_key}, {"filename", f.filename}, {"content_type", f.content_type}});
    }
    o["extra_files"] = std::move(files);
  }
  return json::serialize(o);
}

std::string to_json(const TransformJob& job) {
  json::array urls;
  for (const auto& url : job.urls) urls.emplace_back(url);
  return json::serialize(json::object{{"target", to_json(job.target)},
                                      {"urls", std::move(urls)},
                                      {"size", job.size},
                                      {"crop", job.crop},
                                      {"format", job.format}});
}

Result<ImageJob> parse_image_job(std::string_view body) {
  constexpr std::string_view kWhat = "create-image task";
  auto o = parse_object(body, kWhat);
  if (!o) return tl::unexpected(o.error());
  auto target = parse_target(*o, kWhat);
  if (!target) return tl::unexpected(target.error());
  auto spec = string_field(*o, "spec", kWhat);
  if (!spec) return tl::unexpected(spec.error());
  auto options = string_field(*o, "options", kWhat, true);
  if (!options) return tl::unexpected(options.error());
  return ImageJob{std::move(*target), std::move(*spec), std::move(*options)};
}

Result<ReplyJob> parse_reply_job(std::string_view body) {
  constexpr std::string_view kWhat = "reply-discord task";
  auto o = parse_object(body, kWhat);
  if (!o) return tl::unexpected(o.error());
  auto target = parse_target(*o, kWhat);
  if (!target) return tl::unexpected(target.error());
  ReplyJob job;
  job.target = std::move(*target);
  const json::value* message = o->if_contains("message");
  if (message == nullptr || !message->is_object()) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{}: field `message` must be an object", kWhat));
  }
  job.message = message->as_object();
  for (auto [key, out] : {std::pair{"blob_key", &job.blob_key},
                          {"filename", &job.filename},
                          {"content_type", &job.content_type},
                          {"url", &job.url}}) {
    auto s = string_field(*o, key, kWhat, true);
    if (!s) return tl::unexpected(s.error());
    *out = std::move(*s);
  }
  if (!job.blob_key.empty() && job.filename.empty()) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{}: field `filename` must be set with `blob_key`", kWhat));
  }
  const json::value* late = o->if_contains("post_late");
  job.post_late = late != nullptr && late->is_bool() && late->get_bool();
  if (const json::value* files = o->if_contains("extra_files")) {
    const auto bad = [&] {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("{}: field `extra_files` must be an array of files", kWhat));
    };
    if (!files->is_array()) return bad();
    for (const json::value& f : files->as_array()) {
      if (!f.is_object()) return bad();
      ReplyJob::File file;
      for (auto [key, out] : {std::pair{"blob_key", &file.blob_key},
                              {"filename", &file.filename},
                              {"content_type", &file.content_type}}) {
        auto text = string_field(f.as_object(), key, kWhat);
        if (!text) return tl::unexpected(text.error());
        *out = std::move(*text);
      }
      if (file.blob_key.empty() || file.filename.empty()) return bad();
      job.extra_files.push_back(std::move(file));
    }
  }
  return job;
}

Result<TransformJob> parse_transform_job(std::string_view body) {
  constexpr std::string_view kWhat = "transform-images task";
  auto o = parse_object(body, kWhat);
  if (!o) return tl::unexpected(o.error());
  auto target = parse_target(*o, kWhat);
  if (!target) return tl::unexpected(target.error());
  TransformJob job;
  job.target = std::move(*target);
  const json::value* urls = o->if_contains("urls");
  if (urls == nullptr || !urls->is_array()) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{}: field `urls` must be an array of strings", kWhat));
  }
  for (const json::value& url : urls->as_array()) {
    if (!url.is_string()) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("{}: field `urls` must be an array of strings", kWhat));
    }
    job.urls.emplace_back(url.as_string());
  }
  const json::value* size = o->if_contains("size");
  boost::system::error_code ec;
  if (size != nullptr) job.size = size->to_number<int>(ec);
  if (size == nullptr || ec) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{}: field `size` must be a whole number", kWhat));
  }
  for (auto [key, out] : {std::pair{"crop", &job.crop}, {"format", &job.format}}) {
    auto s = string_field(*o, key, kWhat);
    if (!s) return tl::unexpected(s.error());
    *out = std::move(*s);
  }
  return job;
}

std::string to_json(const ImagineJob& job) {
  return json::serialize(json::object{{"target", to_json(job.target)},
                                      {"model", job.model},
                                      {"prompt", job.prompt},
                                      {"negative", job.negative},
                                      {"aspect", job.aspect},
                                      {"seed", job.seed},
                                      {"count", job.count},
                                      {"image", job.image},
                                      {"video", job.video}});
}

std::string to_json(const ImagineEvent& event) {
  return json::serialize(json::object{{"job", event.job_id}, {"update", event.update}});
}

Result<ImagineJob> parse_imagine_job(std::string_view body) {
  constexpr std::string_view kWhat = "imagine task";
  auto o = parse_object(body, kWhat);
  if (!o) return tl::unexpected(o.error());
  auto target = parse_target(*o, kWhat);
  if (!target) return tl::unexpected(target.error());
  ImagineJob job;
  job.target = std::move(*target);
  for (auto [key, out, optional] :
       {std::tuple{"model", &job.model, false}, std::tuple{"prompt", &job.prompt, false},
        std::tuple{"negative", &job.negative, true}, std::tuple{"aspect", &job.aspect, false},
        std::tuple{"image", &job.image, true}}) {
    auto s = string_field(*o, key, kWhat, optional);
    if (!s) return tl::unexpected(s.error());
    *out = std::move(*s);
  }
  const json::value* seed = o->if_contains("seed");
  const json::value* count = o->if_contains("count");
  boost::system::error_code ec;
  if (seed != nullptr) job.seed = seed->to_number<std::int64_t>(ec);
  if (seed == nullptr || ec) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{}: field `seed` must be a whole number", kWhat));
  }
  if (count != nullptr) job.count = count->to_number<int>(ec);
  if (count == nullptr || ec || job.count < 1) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{}: field `count` must be a positive whole number", kWhat));
  }
  const json::value* video = o->if_contains("video");
  job.video = video != nullptr && video->is_bool() && video->get_bool();
  return job;
}

Result<ImagineEvent> parse_imagine_event(std::string_view body) {
  constexpr std::string_view kWhat = "imagine-events task";
  auto o = parse_object(body, kWhat);
  if (!o) return tl::unexpected(o.error());
  ImagineEvent event;
  for (auto [key, out] : {std::pair{"job", &event.job_id}, {"update", &event.update}}) {
    auto s = string_field(*o, key, kWhat);
    if (!s) return tl::unexpected(s.error());
    *out = std::move(*s);
  }
  return event;
}

}  // namespace mando::bot
