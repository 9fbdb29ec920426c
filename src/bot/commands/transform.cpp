#include "bot/commands/transform.hpp"

#include <atomic>
#include <vector>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "bot/commands/transform_image.hpp"
#include "bot/progress.hpp"
#include "core/fan_out.hpp"
#include "core/log.hpp"
#include "core/utf8.hpp"

namespace mando::bot::commands {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr JobNoun kTransformJob{"transform", "your images"};
constexpr std::string_view kMenuName = "Transform images";
// Discord's caps: message content, embed description.
constexpr std::size_t kMaxContent = 2000;
constexpr std::size_t kMaxDescription = 4096;
constexpr int kSheetTile = 256;
constexpr int kStoreConcurrency = 4;

std::vector<discord::Choice> choices(std::initializer_list<std::string_view> values) {
  std::vector<discord::Choice> out;
  for (auto v : values) out.push_back({std::string(v), std::string(v)});
  return out;
}

// The sentence a user reads after "image 3: ". The fetcher's and the pipeline's messages are
// written for users; a decoder that died (kInternal) or anything unexpected is told plainly and
// its detail stays in the log.
std::string reason_for_user(const Error& error) {
  switch (error.kind) {
    case ErrorKind::kInvalidArgument:
    case ErrorKind::kPermissionDenied:
    case ErrorKind::kResourceExhausted:
    case ErrorKind::kDeadlineExceeded:
    case ErrorKind::kNotFound:
    case ErrorKind::kUnavailable:
      return error.message;
    default:
      return "could not be read";
  }
}

// Lines up to `cap` characters; what does not fit is said in one last line.
std::string bounded_lines(const std::vector<std::string>& lines, std::size_t cap) {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string more = fmt::format("\n…and {} more", lines.size() - i);
    if (out.size() + lines[i].size() + 1 + more.size() > cap) return out + more;
    out += (out.empty() ? "" : "\n") + lines[i];
  }
  return out;
}

}  // namespace

// One job in the worker: its inputs, results and progress. Work items write only their own
// slots; the counters are read by the progress line.
struct TransformModule::Run {
  TransformJob job;
  transform::TransformSpec spec;
  std::vector<std::string> outputs;  // encoded results; empty where the input failed
  std::vector<std::string> errors;   // the reason per failed input; empty where it worked
  std::atomic<int> downloaded{0};
  std::atomic<int> resized{0};
  std::atomic<std::uint64_t> bytes{0};  // downloaded so far, against max_job_bytes
  // A decoder could not be started or is shutting down: no fault of the picture, so the job
  // is retried by the queue rather than answered with a failure line.
  std::atomic<bool> decoders_unavailable{false};
  std::chrono::system_clock::time_point last_progress{};
  int shown = -1;  // downloaded + resized when the last progress line went out
};

TransformModule::TransformModule(TransformDeps deps)
    : deps_(std::move(deps)),
      intake_({deps_.tasks, deps_.jobs, deps_.metrics, deps_.ack_budget, deps_.now}) {
  if (deps_.metrics != nullptr) {
    images_total_ = &deps_.metrics->counter(
        "mando_transform_images_total",
        "Images of /transform jobs by outcome: done, or the stage that refused them (download, "
        "decode, job_limit)",
        {"outcome"});
    job_seconds_ = &deps_.metrics
                        ->histogram("mando_transform_seconds",
                                    "Time from a transform job's start to its sheet being stored",
                                    core::latency_buckets())
                        .labels({});
  }
}

Result<void> TransformModule::register_into(discord::CommandRegistry& registry) {
  using discord::OptionType;
  discord::CommandSpec spec;
  spec.name = "transform";
  spec.description = "Resize and crop up to 20 images into squares, posted as one sheet";
  spec.options = {
      {.name = "urls",
       .description = "Links to images, separated by spaces or new lines",
       .type = OptionType::kString,
       .max_length = 6000},
  };
  for (int n = 1; n <= kAttachmentOptions; ++n) {
    spec.options.push_back({.name = fmt::format("image{}", n),
                            .description = "An image to transform",
                            .type = OptionType::kAttachment});
  }
  spec.options.push_back({.name = "size",
                          .description = "The side of each square result, in pixels",
                          .type = OptionType::kInteger,
                          .min_value = kMinTransformSize,
                          .max_value = kMaxTransformSize});
  spec.options.push_back({.name = "crop",
                          .description = "Which part to keep: attention (default) finds the "
                                         "subject; none fits the whole image inside",
                          .type = OptionType::kString,
                          .choices = choices({"attention", "entropy", "centre", "none"})});
  spec.options.push_back({.name = "format",
                          .description = "The file format of the results",
                          .type = OptionType::kString,
                          .choices = choices({"jpeg", "png", "webp"})});
  auto self = shared_from_this();
  spec.handler =
      [self](discord::CommandContext ctx) -> asio::awaitable<discord::InteractionResponse> {
    auto request =
        transform_request(ctx.options(), ctx.interaction.data, self->deps_.limits.max_inputs);
    co_return co_await self->start_job(ctx.interaction, std::move(request));
  };
  spec.integration_types = {0, 1};
  spec.contexts = {0, 1, 2};
  if (auto ok = registry.add(std::move(spec)); !ok) return ok;

  discord::CommandSpec menu{.type = discord::CommandType::kMessage, .name = std::string(kMenuName)};
  menu.handler =
      [self](discord::CommandContext ctx) -> asio::awaitable<discord::InteractionResponse> {
    auto request = menu_transform_request(ctx.interaction.data, self->deps_.limits.max_inputs);
    co_return co_await self->start_job(ctx.interaction, std::move(request));
  };
  menu.integration_types = {0, 1};
  menu.contexts = {0, 1, 2};
  return registry.add(std::move(menu));
}

asio::awaitable<discord::InteractionResponse> TransformModule::start_job(
    const discord::Interaction& interaction, Result<TransformRequest> request) {
  if (!request) co_return discord::InteractionResponse::ephemeral(request.error().message);
  TransformJob job{target_of(interaction), std::move(request->urls), request->size,
                   std::move(request->crop), std::move(request->format)};
  co_return co_await intake_.submit(kTransformJob, job.target, kTransformImagesQueue,
                                    kTransformImagesPath, to_json(job));
}

asio::awaitable<void> TransformModule::process(Run& run, std::size_t index) {
  const auto count = [this](std::string_view outcome) {
    if (images_total_ != nullptr) images_total_->labels({std::string(outcome)}).inc();
  };
  const auto failed = [&](std::string_view stage, const Error& error) {
    core::logger("bot")->info("interaction {}: image {} refused at {}: {}",
                              run.job.target.interaction_id, index + 1, stage, error.message);
    run.errors[index] = reason_for_user(error);
    count(stage);
  };
  auto result = co_await transform_image(*deps_.fetcher, *deps_.decoders, deps_.limits,
                                         run.job.urls[index], run.spec, run.bytes, run.downloaded);
  if (!result && result.error().stage == "decode" &&
      result.error().error.kind == ErrorKind::kUnavailable) {
    core::logger("bot")->warn("interaction {}: image {} not decoded, the queue will retry: {}",
                              run.job.target.interaction_id, index + 1,
                              result.error().error.message);
    run.decoders_unavailable = true;
    co_return;
  }
  if (!result) co_return failed(result.error().stage, result.error().error);
  ++run.resized;
  run.outputs[index] = std::move(*result);
  count("done");
}

asio::awaitable<void> TransformModule::report_progress(Run& run) {
  if (deps_.discord == nullptr || deps_.progress_after.count() == 0) co_return;
  const DiscordTarget& target = run.job.target;
  const auto now = std::chrono::system_clock::now();
  const int done = run.downloaded + run.resized;
  if (done == run.shown || now - target.created(now) < deps_.progress_after ||
      now - run.last_progress < kMinEditInterval) {
    co_return;
  }
  run.shown = done;
  run.last_progress = now;
  const int total = static_cast<int>(run.job.urls.size());
  json::object message{
      {"content", fmt::format("Transforming your images\u2026 downloading {}/{}, resizing {}/{}",
                              run.downloaded.load(), total, run.resized.load(), total)}};
  auto edited = co_await deps_.discord->edit_original_response(target.application_id, target.token,
                                                               std::move(message));
  if (!edited) {
    core::logger("bot")->debug("interaction {}: progress line not shown: {}", target.interaction_id,
                               edited.error().message);
  }
}

asio::awaitable<net::Response> TransformModule::transform_images(net::Request request) {
  auto job = parse_transform_job(request.body);
  if (!job) co_return net::Response::json_error(400, job.error().message);
  auto crop = transform::parse_crop(job->crop);
  auto format = transform::parse_format(job->format);
  if (!crop || !format) {
    co_return net::Response::json_error(400, crop ? format.error().message : crop.error().message);
  }
  Run run;
  run.spec = {job->size, *crop, *format};
  if (auto valid = transform::validate(run.spec); !valid) {
    co_return net::Response::json_error(400, valid.error().message);
  }
  if (job->urls.empty() || job->urls.size() > static_cast<std::size_t>(deps_.limits.max_inputs)) {
    co_return net::Response::json_error(
        400, fmt::format("a transform takes 1 to {} images", deps_.limits.max_inputs));
  }
  run.job = std::move(*job);
  if (auto stop = co_await deps_.finish->begin(run.job.target, deps_.now()); stop) {
    co_return std::move(*stop);
  }
  const auto started = std::chrono::steady_clock::now();
  const std::size_t inputs = run.job.urls.size();
  run.outputs.resize(inputs);
  run.errors.assign(inputs, "could not be read");  // what a work item that throws leaves
  auto work = [this, &run](std::size_t i) {
    run.errors[i].clear();
    return process(run, i);
  };
  auto progress = [this, &run](std::size_t) { return report_progress(run); };
  co_await core::fan_out(inputs, deps_.limits.downloads_per_job, work, progress);
  if (run.decoders_unavailable) {
    co_return net::Response::json_error(503, "the decoder processes are unavailable");
  }
  auto response = co_await deliver(run);
  if (job_seconds_ != nullptr) {
    job_seconds_->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  co_return response;
}

asio::awaitable<net::Response> TransformModule::deliver(Run& run) {
  const DiscordTarget& target = run.job.target;
  const std::string& id = target.interaction_id;
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < run.errors.size(); ++i) {
    if (!run.errors[i].empty()) lines.push_back(fmt::format("image {}: {}", i + 1, run.errors[i]));
  }
  if (lines.size() == run.outputs.size()) {
    // Nothing to show: the reasons are the answer (and the job is over, nothing to retry).
    lines.insert(lines.begin(), "None of your images could be used.");
    ReplyJob reply{target, plain_message(bounded_lines(lines, kMaxContent)), {}, {}, {}, {}, false,
                   {}};
    co_return co_await send_reply(*deps_.tasks, std::move(reply));
  }

  // Every result, then the sheet, stored with the storage's expiry.
  const std::string extension(transform::file_extension(run.spec.format));
  const std::string mime(transform::mime_type(run.spec.format));
  std::vector<Result<storage::BlobRef>> stored(
      run.outputs.size(), fail(ErrorKind::kInternal, "the store ended without an answer"));
  auto store = [&](std::size_t i) -> asio::awaitable<void> {
    if (run.outputs[i].empty()) co_return;
    storage::PutOptions put;
    put.content_type = mime;
    stored[i] = co_await deps_.blobs->put(fmt::format("transform/{}/{}.{}", id, i + 1, extension),
                                          run.outputs[i], std::move(put));
  };
  co_await core::fan_out(run.outputs.size(), kStoreConcurrency, store);
  for (std::size_t i = 0; i < stored.size(); ++i) {
    if (!run.outputs[i].empty() && !stored[i]) {
      core::logger("bot")->warn("interaction {}: blob store unavailable, the queue will retry: {}",
                                id, stored[i].error().message);
      co_return net::Response::json_error(503, "the blob store is unavailable");
    }
  }
  transform::SheetSpec sheet_spec{kSheetTile, run.spec.format, target.upload_limit()};
  auto sheet = co_await deps_.decoders->sheet(std::move(run.outputs), sheet_spec);
  if (!sheet) {
    core::logger("bot")->error("interaction {}: contact sheet failed: {}", id,
                               sheet.error().message);
    co_return co_await deps_.finish->fail(target, Failure::kNotDrawn, "sheet_failed");
  }
  const std::string filename = fmt::format("sheet.{}", extension);
  storage::PutOptions put;
  put.content_type = mime;
  auto sheet_blob = co_await deps_.blobs->put(fmt::format("transform/{}/{}", id, filename),
                                              std::move(*sheet), std::move(put));
  if (!sheet_blob) {
    core::logger("bot")->warn("interaction {}: blob store unavailable, the queue will retry: {}",
                              id, sheet_blob.error().message);
    co_return net::Response::json_error(503, "the blob store is unavailable");
  }

  // One link per result, as many as Discord's description holds; the sheet numbers them all.
  std::vector<std::string> links;
  for (std::size_t i = 0; i < stored.size(); ++i) {
    if (stored[i]) links.push_back(fmt::format("[{}]({})", i + 1, stored[i]->url));
  }
  std::string description;
  std::size_t linked = 0;
  for (const auto& link : links) {
    if (description.size() + link.size() + 3 > kMaxDescription - 80) break;
    description += (description.empty() ? "" : " · ") + link;
    ++linked;
  }
  if (linked < links.size()) {
    description +=
        fmt::format("\n{} more on the sheet (their links did not fit here)", links.size() - linked);
  }
  const std::size_t made = links.size();
  json::object embed{
      {"title", fmt::format("{} image{}, {} × {}", made, made == 1 ? "" : "s", run.spec.size,
                            run.spec.size)},
      {"description", description},
      {"color", 0x2f7a6b},
      {"image",
       json::object{{"url", deps_.reply_with_url ? sheet_blob->url
                                                 : fmt::format("attachment://{}", filename)}}},
  };
  json::object message{
      {"content", bounded_lines(lines, kMaxContent)},
      {"embeds", json::array{std::move(embed)}},
      {"components", json::array{}},
      {"allowed_mentions", json::object{{"parse", json::array{}}}},
  };
  message["attachments"] = deps_.reply_with_url
                               ? json::array{}
                               : json::array{json::object{{"id", 0}, {"filename", filename}}};
  ReplyJob reply{target, std::move(message), {}, {}, {}, sheet_blob->url, false, {}};
  if (!deps_.reply_with_url) {
    reply.blob_key = sheet_blob->key;
    reply.filename = filename;
    reply.content_type = mime;
  }
  co_return co_await send_reply(*deps_.tasks, std::move(reply));
}

}  // namespace mando::bot::commands
