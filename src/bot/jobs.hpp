#pragma once
// The bodies of the bot's tasks, as plain values with their JSON form.
//
// A task body is written by one process and read by another (ingress -> worker -> worker), maybe
// a different version of mando after an upgrade, so the JSON is the contract: parse_*() refuse a
// body that lacks a field they need (kInvalidArgument naming it) and ignore fields they do not
// know.
//
// The interaction token travels in the body because the worker needs it to answer; it is a
// secret for its 15 minutes of life, so bodies are never logged.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/error.hpp"
#include "discord/snowflake.hpp"

namespace mando::bot {

// Interaction tokens are valid this long after the interaction was created.
inline constexpr std::chrono::minutes kTokenLifetime{15};
// The upload limit assumed when an interaction did not say (Discord's limit without boosts).
inline constexpr std::uint64_t kDefaultAttachmentSizeLimit = 10 * 1024 * 1024;

// The creation time of a Discord snowflake: its top 42 bits are milliseconds since 2015-01-01.
// nullopt for text that is not a snowflake.
using discord::snowflake_time;

// Who to answer: the interaction whose deferred response a worker completes.
struct DiscordTarget {
  std::string interaction_id;
  std::string application_id;
  std::string token;  // secret
  std::string user_id;
  std::optional<std::string> guild_id;
  // The interaction's attachment_size_limit: no file larger than this is uploaded. 0: unknown
  // (a body from before mando read it), see upload_limit().
  std::uint64_t attachment_size_limit = 0;
  // Where a result that comes after the token expired may still be posted: the channel, when
  // the app is installed to the guild and may view the channel and send messages there; empty
  // otherwise. late_attach: it may attach files there too.
  std::string late_channel_id{};
  bool late_attach = false;

  std::uint64_t upload_limit() const;
  // The interaction's creation time (from its id), or `fallback` when the id is not a snowflake.
  std::chrono::system_clock::time_point created(
      std::chrono::system_clock::time_point fallback) const;
  // True once the token can no longer be used (with `margin` to spare for the request itself).
  bool token_expired(std::chrono::system_clock::time_point now,
                     std::chrono::seconds margin = std::chrono::seconds(10)) const;
};

// Queue `create-image`: draw `spec` (render::format_spec text) for `target`.
struct ImageJob {
  DiscordTarget target;
  std::string spec;
  std::string options;  // the user's options in the buttons' compact form (commands/mando.hpp)
};

// Queue `transform-images`: fetch `urls` (in the user's order: "image 1" is urls[0]), make each
// a `size` x `size` image (`crop`, `format`: transform/spec.hpp's names) and post a contact
// sheet of them for `target`.
struct TransformJob {
  DiscordTarget target;
  std::vector<std::string> urls;
  int size = 512;
  std::string crop = "attention";
  std::string format = "jpeg";
};

// Queue `imagine`: ask model `model` ([imagine.models.NAME]) for `count` images (or a video)
// of `prompt` for `target`. `seed` is always set (chosen at the ingress when the user gave
// none), so the finished message can say how to make the same again.
struct ImagineJob {
  DiscordTarget target;
  std::string model;
  std::string prompt;
  std::string negative;  // empty: none
  std::string aspect = "1:1";
  std::int64_t seed = 0;
  int count = 1;
  std::string image;  // the init image's URL; empty: none
  bool video = false;
};

// Queue `imagine-events`: news of job `job_id` from its provider (a webhook or a poll), as
// provider-neutral imagine::JobUpdate JSON (imagine/job.hpp).
struct ImagineEvent {
  std::string job_id;
  std::string update;
};

// Queue `reply-discord`: edit the target's original response into `message` (Discord's message
// payload), uploading the blob `blob_key` as `filename` when it is set (and `extra_files`). `url`
// is the blob's link, shown instead of the upload when the file is over the target's upload limit.
struct ReplyJob {
  DiscordTarget target;
  boost::json::object message;
  std::string blob_key;  // empty: no attachment
  std::string filename;
  std::string content_type;
  std::string url;  // empty: no link to fall back to
  // Post to target.late_channel_id when the token has expired (mentioning the user) instead of
  // dropping the message: for results that come late (/imagine).
  bool post_late = false;
  // More files shown with the first (each /imagine image beside the grid): uploaded as well when
  // they fit the upload limit together with it, else left out (the message links them).
  struct File {
    std::string blob_key;
    std::string filename;
    std::string content_type;
  };
  std::vector<File> extra_files{};
};

boost::json::object to_json(const DiscordTarget& target);
std::string to_json(const ImageJob& job);
std::string to_json(const ReplyJob& job);
std::string to_json(const TransformJob& job);
std::string to_json(const ImagineJob& job);
std::string to_json(const ImagineEvent& event);
Result<ImageJob> parse_image_job(std::string_view body);
Result<ReplyJob> parse_reply_job(std::string_view body);
// Checks the shape only (an array of strings, a size that is a number); the worker checks the
// values against its limits.
Result<TransformJob> parse_transform_job(std::string_view body);
Result<ImagineJob> parse_imagine_job(std::string_view body);
Result<ImagineEvent> parse_imagine_event(std::string_view body);

}  // namespace mando::bot
