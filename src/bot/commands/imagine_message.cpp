#include "bot/commands/imagine_message.hpp"

#include <fmt/format.h>

#include "core/crypto.hpp"
#include "core/utf8.hpp"

namespace mando::bot::commands {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxOutputBytes = 64 * 1024 * 1024;  // a video of a few seconds
constexpr std::size_t kMaxTitle = 256;                     // Discord's embed title
constexpr std::size_t kMaxError = 300;

json::object button(int style, std::string_view label, std::string_view custom_id) {
  return {{"type", 2}, {"style", style}, {"label", label}, {"custom_id", custom_id}};
}

}  // namespace

Result<OutputFile> typed_output(std::string bytes) {
  const std::string_view b(bytes);
  struct Kind {
    std::string_view type, extension;
    bool video;
  };
  std::optional<Kind> kind;
  if (b.starts_with("\x89PNG\r\n\x1a\n")) {
    kind = Kind{"image/png", "png", false};
  } else if (b.starts_with("\xff\xd8\xff")) {
    kind = Kind{"image/jpeg", "jpg", false};
  } else if (b.size() >= 12 && b.starts_with("RIFF") && b.substr(8, 4) == "WEBP") {
    kind = Kind{"image/webp", "webp", false};
  } else if (b.starts_with("GIF87a") || b.starts_with("GIF89a")) {
    kind = Kind{"image/gif", "gif", false};
  } else if (b.size() >= 12 && b.substr(4, 4) == "ftyp") {
    kind = Kind{"video/mp4", "mp4", true};
  } else if (b.starts_with("\x1a\x45\xdf\xa3")) {
    kind = Kind{"video/webm", "webm", true};
  }
  if (!kind) {
    return fail(ErrorKind::kInvalidArgument,
                "the provider sent a file that is neither an image nor a video");
  }
  return OutputFile{std::move(bytes), std::string(kind->type), std::string(kind->extension),
                    kind->video};
}

asio::awaitable<Result<OutputFile>> fetch_output(net::Fetcher& fetcher, storage::BlobStore& blobs,
                                                 std::string url) {
  if (url.starts_with("blob:")) {
    auto blob = co_await blobs.get(url.substr(5));
    if (!blob) co_return tl::unexpected(blob.error());
    co_return typed_output(std::move(blob->bytes));
  }
  if (url.starts_with("data:")) {
    const auto comma = url.find(',');
    const std::string_view header = std::string_view(url).substr(0, comma);
    auto bytes =
        comma == std::string::npos || !header.ends_with(";base64")
            ? std::nullopt
            : core::from_base64(std::string_view(url).substr(comma + 1), core::Base64::kStandard);
    if (!bytes) co_return fail(ErrorKind::kInvalidArgument, "the provider sent a broken data URI");
    co_return typed_output(std::move(*bytes));
  }
  net::FetchLimits limits;
  limits.max_bytes = kMaxOutputBytes;
  limits.timeout = std::chrono::seconds(60);
  auto fetched = co_await fetcher.fetch(std::move(url), limits);
  if (!fetched) co_return tl::unexpected(fetched.error());
  co_return typed_output(std::move(fetched->body));
}

json::object progress_message(const imagine::JobState& state, std::string_view cancel_id) {
  std::string line = "Imagining\u2026 ";
  if (state.status == imagine::Status::kStarting) {
    line += state.queue_position
                ? fmt::format("in line at the provider (position {})", *state.queue_position)
                : std::string("waiting for the provider");
  } else {
    line +=
        state.percent ? fmt::format("generating {} %", *state.percent) : std::string("generating");
  }
  json::array embeds;
  // A provider that streams previews: the latest, shown from its own (https) address until the
  // finished message, which shows mando's stored copies.
  if (!terminal(state.status) && !state.outputs.empty() &&
      state.outputs.back().starts_with("https://")) {
    embeds.push_back(json::object{{"description", "preview"},
                                  {"image", json::object{{"url", state.outputs.back()}}}});
  }
  return {{"content", line},
          {"embeds", std::move(embeds)},
          {"components",
           json::array{json::object{{"type", 1},
                                    {"components", json::array{button(4, "Cancel", cancel_id)}}}}},
          {"allowed_mentions", json::object{{"parse", json::array{}}}}};
}

std::string ending_text(const imagine::JobState& state) {
  switch (state.status) {
    case imagine::Status::kCanceled:
      return "Canceled: nothing more will be made for this one.";
    case imagine::Status::kAborted:
      return "The provider gave up on this job before it started. Please try again.";
    case imagine::Status::kSucceeded:
      return "The provider finished but sent nothing to show. Please try again.";
    default:
      break;
  }
  if (state.error.empty()) return "The provider could not make this and gave no reason.";
  return fmt::format("The provider could not make this: {}",
                     core::code_point_prefix(state.error, kMaxError));
}

json::object finished_message(const MessageParts& parts) {
  const ImagineJob& job = parts.job;
  std::string description =
      fmt::format("**{}** · seed {} · {}", job.model, job.seed, job.video ? "video" : job.aspect);
  if (!job.negative.empty()) {
    description += fmt::format("\nwithout: {}", core::code_point_prefix(job.negative, 500));
  }
  std::vector<std::string> links;
  for (std::size_t i = 0; i < parts.outputs.size(); ++i) {
    links.push_back(fmt::format("[{}]({})", i + 1, parts.outputs[i].url));
  }
  description += fmt::format("\n{}: {}", job.video ? "File" : "Images", fmt::join(links, " · "));
  json::object embed{
      {"title", core::code_point_prefix(job.prompt, kMaxTitle)},
      {"description", description},
      {"color", 0x3a5f9e},
      {"footer", json::object{{"text", "Same prompt, model and seed: the same picture"}}},
  };
  const std::string shown =
      parts.shown_url.empty() ? fmt::format("attachment://{}", parts.filename) : parts.shown_url;
  if (!parts.video) embed["image"] = json::object{{"url", shown}};
  json::array buttons{button(1, "Re-roll", parts.reroll_id), button(4, "Delete", parts.delete_id)};
  json::array rows{json::object{{"type", 1}, {"components", std::move(buttons)}}};
  for (auto [ids, letter] : {std::pair{&parts.variation_ids, 'V'}, {&parts.upscale_ids, 'U'}}) {
    json::array row;
    for (std::size_t i = 0; i < ids->size() && i < 5; ++i) {
      row.push_back(button(2, fmt::format("{}{}", letter, i + 1), (*ids)[i]));
    }
    if (!row.empty()) rows.push_back(json::object{{"type", 1}, {"components", std::move(row)}});
  }
  json::object message{
      {"content", parts.video && !parts.shown_url.empty() ? parts.shown_url : std::string()},
      {"embeds", json::array{std::move(embed)}},
      {"components", std::move(rows)},
      {"allowed_mentions", json::object{{"parse", json::array{}}}},
  };
  message["attachments"] = parts.shown_url.empty()
                               ? json::array{json::object{{"id", 0}, {"filename", parts.filename}}}
                               : json::array{};
  return message;
}

}  // namespace mando::bot::commands
