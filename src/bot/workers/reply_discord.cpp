#include "bot/workers/reply_discord.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "bot/jobs.hpp"
#include "core/log.hpp"

namespace mando::bot {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::string_view kLinkNotice =
    "This picture is larger than Discord lets me upload here, so it is shown from its link.";

// Replaces every string equal to `from` in `value` with `to`.
void replace_strings(json::value& value, std::string_view from, std::string_view to) {
  if (value.is_string()) {
    if (value.get_string() == from) value = to;
  } else if (value.is_array()) {
    for (auto& item : value.get_array()) replace_strings(item, from, to);
  } else if (value.is_object()) {
    for (auto& item : value.get_object()) replace_strings(item.value(), from, to);
  }
}

}  // namespace

json::object link_form(const ReplyJob& job) {
  json::value message = job.message;
  replace_strings(message, fmt::format("attachment://{}", job.filename), job.url);
  json::object& o = message.get_object();
  o["attachments"] = json::array{};
  o["content"] = kLinkNotice;
  return std::move(o);
}

ReplyWorker::ReplyWorker(discord::RestClient& discord, storage::BlobStore& blobs, Finisher& finish)
    : discord_(discord), blobs_(blobs), finish_(finish) {}

asio::awaitable<net::Response> ReplyWorker::handle(net::Request request) {
  auto log = core::logger("bot");
  auto job = parse_reply_job(request.body);
  if (!job) co_return net::Response::json_error(400, job.error().message);
  const DiscordTarget& target = job->target;
  const std::string& id = target.interaction_id;

  // 1 and 2.
  if (finish_.token_expired(target)) {
    if (job->post_late && !target.late_channel_id.empty()) co_return co_await post_late(*job);
    log->warn("reply to interaction {} dropped: its token expired", id);
    co_return finish_.done(target, "token_expired", "dropped: the interaction token expired");
  }
  // A result that may come late (post_late) is shown whenever it comes while the token lives:
  // better than the give-up line it then replaces.
  if (finish_.past_give_up(target) && !job->post_late) {
    log->warn("reply to interaction {}: past the give-up point, not sent", id);
    co_return co_await finish_.fail(target, Failure::kTookTooLong, "gave_up");
  }

  // 3.
  std::vector<discord::Attachment> files;
  bool linked = false;
  if (!job->blob_key.empty()) {
    auto blob = co_await blobs_.get(job->blob_key);
    if (!blob && blob.error().kind == ErrorKind::kNotFound) {
      log->error("reply to interaction {}: blob {} is gone", id, job->blob_key);
      co_return co_await finish_.fail(target, Failure::kLost, "blob_missing");
    }
    if (!blob) {
      log->warn("reply to interaction {}: blob store unavailable, the queue will retry: {}", id,
                blob.error().message);
      co_return net::Response::json_error(503, "the blob store is unavailable");
    }
    if (blob->bytes.size() > target.upload_limit()) {
      log->info("reply to interaction {}: {} bytes over the upload limit of {}, link instead", id,
                blob->bytes.size(), target.upload_limit());
      if (job->url.empty())
        co_return co_await finish_.fail(target, Failure::kTooLarge, "too_large");
      job->message = link_form(*job);
      linked = true;
    } else {
      files.push_back({job->filename, std::move(blob->bytes), job->content_type});
      co_await add_extra_files(*job, files);
    }
  }

  // 4.
  co_await finish_.wait_for_progress(id);
  const bool uploading = !files.empty();
  auto sent = co_await discord_.edit_original_response(target.application_id, target.token,
                                                       job->message, std::move(files));
  if (!sent && uploading && discord::refused_status(sent.error()) == 413 && !job->url.empty()) {
    log->warn("reply to interaction {}: Discord found the file too large, link instead: {}", id,
              sent.error().message);
    linked = true;
    sent = co_await discord_.edit_original_response(target.application_id, target.token,
                                                    link_form(*job));
  }
  if (sent) co_return finish_.done(target, linked ? "delivered_link" : "delivered", "delivered");
  co_return co_await refused(target, std::move(sent.error()));
}

// A result after the token's life, in the interaction's channel: a new message mentioning
// the user, with the file when the bot may attach files and it fits Discord's default limit,
// else from its link.
asio::awaitable<net::Response> ReplyWorker::post_late(ReplyJob job) {
  auto log = core::logger("bot");
  const DiscordTarget& target = job.target;
  std::vector<discord::Attachment> files;
  if (!job.blob_key.empty() && target.late_attach) {
    auto blob = co_await blobs_.get(job.blob_key);
    if (blob && blob->bytes.size() <= kDefaultAttachmentSizeLimit) {
      files.push_back({job.filename, std::move(blob->bytes), job.content_type});
    }
  }
  json::object message = files.empty() && !job.url.empty() ? link_form(job) : job.message;
  message["content"] =
      fmt::format("<@{}> your result came after the interaction had expired:", target.user_id);
  message["allowed_mentions"] = json::object{{"users", json::array{target.user_id}}};
  if (files.empty()) message["attachments"] = json::array{};
  auto sent = co_await discord_.request(
      "POST", fmt::format("/channels/{}/messages", target.late_channel_id),
      json::serialize(message), std::move(files));
  const std::string& id = target.interaction_id;
  if (sent) {
    log->info("interaction {}: token expired, result posted in channel {}", id,
              target.late_channel_id);
    co_return finish_.done(target, "posted_late", "posted in the channel");
  }
  const ErrorKind kind = sent.error().kind;
  if (kind == ErrorKind::kUnavailable || kind == ErrorKind::kDeadlineExceeded ||
      kind == ErrorKind::kResourceExhausted) {
    co_return net::Response::json_error(503, "Discord is unavailable; the late post is pending");
  }
  log->warn("interaction {}: late result not posted in channel {}: {}", id, target.late_channel_id,
            sent.error().message);
  co_return finish_.done(target, "late_dropped", "dropped: the channel refused the late result");
}

// The job's extra files that fit the upload limit with what `files` holds already, appended
// to `files` and to the message's attachment list. One that cannot be read is left out: the
// message links every file.
asio::awaitable<void> ReplyWorker::add_extra_files(ReplyJob& job,
                                                   std::vector<discord::Attachment>& files) {
  std::uint64_t total = 0;
  for (const auto& f : files) total += f.data.size();
  json::value* list = job.message.if_contains("attachments");
  for (const auto& extra : job.extra_files) {
    auto blob = co_await blobs_.get(extra.blob_key);
    if (!blob || total + blob->bytes.size() > job.target.upload_limit()) continue;
    total += blob->bytes.size();
    if (list != nullptr && list->is_array()) {
      list->as_array().push_back(json::object{{"id", files.size()}, {"filename", extra.filename}});
    }
    files.push_back({extra.filename, std::move(blob->bytes), extra.content_type});
  }
}

asio::awaitable<net::Response> ReplyWorker::refused(DiscordTarget target, Error error) {
  auto log = core::logger("bot");
  const std::string& id = target.interaction_id;
  switch (error.kind) {
    case ErrorKind::kNotFound:
    case ErrorKind::kUnauthenticated:
      log->warn("reply to interaction {} dropped: Discord no longer knows its token ({})", id,
                error.message);
      co_return finish_.done(target, "token_invalid",
                             "dropped: the interaction token is not valid");
    case ErrorKind::kInvalidArgument:
    case ErrorKind::kPermissionDenied:
      log->error("reply to interaction {}: Discord refused it: {}", id, error.message);
      if (discord::refused_status(error) == 413) {
        co_return co_await finish_.fail(std::move(target), Failure::kTooLarge, "too_large");
      }
      co_return co_await finish_.fail(std::move(target), Failure::kRefused, "rejected");
    default:
      break;
  }
  if (finish_.past_give_up(target)) {
    log->warn("reply to interaction {} failed past the give-up point: {}", id, error.message);
    co_return co_await finish_.fail(std::move(target), Failure::kTookTooLong, "gave_up");
  }
  log->warn("reply to interaction {} failed, the queue will retry: {}", id, error.message);
  co_return net::Response::json_error(503, "Discord is unavailable");
}

}  // namespace mando::bot
