#include "bot/commands/mando.hpp"

#include <charconv>
#include <random>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "bot/jobs.hpp"
#include "core/log.hpp"
#include "render/render.hpp"

namespace mando::bot::commands {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr JobNoun kMandoJob{"mando", "your mandala"};
constexpr std::string_view kRerollPrefix = "mando:reroll:";
constexpr std::string_view kVaryPrefix = "mando:vary:";
constexpr std::array<std::string_view, 4> kStyles = {"line", "fill", "bezier", "bezier_fill"};
// Discord's cap on a link button's URL.
constexpr std::size_t kMaxButtonUrl = 512;

std::uint64_t random_seed() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng() & kMaxSeed;
}

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

MandoOptions MandoOptions::from(const discord::Options& o) {
  MandoOptions options;
  if (auto seed = o.get_int("seed"); seed && *seed >= 0) options.seed = *seed;
  if (auto v = o.get_int("symmetry")) options.symmetry = static_cast<int>(*v);
  if (auto v = o.get_string("style"); v && *v != "random") options.style = *v;
  if (auto v = o.get_string("palette"); v && *v != "random") options.palette = *v;
  if (auto v = o.get_int("layers")) options.layers = static_cast<int>(*v);
  if (auto v = o.get_int("size")) options.size = static_cast<int>(*v);
  options.animated = o.get_bool("animated", false);
  return options;
}

std::string MandoOptions::compact() const {
  std::vector<std::string> parts;
  if (symmetry) parts.push_back(fmt::format("sy={}", *symmetry));
  if (style) parts.push_back(fmt::format("st={}", *style));
  if (palette) parts.push_back(fmt::format("p={}", *palette));
  if (layers) parts.push_back(fmt::format("l={}", *layers));
  if (size) parts.push_back(fmt::format("z={}", *size));
  if (animated) parts.emplace_back("a=1");
  return fmt::format("{}", fmt::join(parts, ";"));
}

Result<MandoOptions> MandoOptions::parse_compact(std::string_view text) {
  MandoOptions options;
  auto bad = [text] {
    return fail(ErrorKind::kInvalidArgument, fmt::format("bad button options \"{}\"", text));
  };
  while (!text.empty()) {
    const auto end = std::min(text.find(';'), text.size());
    const std::string_view part = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) return bad();
    const std::string_view key = part.substr(0, eq);
    const std::string_view value = part.substr(eq + 1);
    auto number = parse_number<int>(value);
    if (key == "sy" && number) {
      options.symmetry = number;
    } else if (key == "l" && number) {
      options.layers = number;
    } else if (key == "z" && number) {
      options.size = number;
    } else if (key == "a" && value == "1") {
      options.animated = true;
    } else if (key == "st" && !value.empty()) {
      options.style = std::string(value);
    } else if (key == "p" && !value.empty()) {
      options.palette = std::string(value);
    } else {
      return bad();
    }
  }
  return options;
}

std::string MandoOptions::command_text() const {
  std::string text = "/mando";
  if (seed) text += fmt::format(" seed:{}", *seed);
  if (symmetry) text += fmt::format(" symmetry:{}", *symmetry);
  if (style) text += fmt::format(" style:{}", *style);
  if (palette) text += fmt::format(" palette:{}", *palette);
  if (layers) text += fmt::format(" layers:{}", *layers);
  if (size) text += fmt::format(" size:{}", *size);
  if (animated) text += " animated:True";
  return text;
}

Result<render::MandalaSpec> MandoOptions::spec() const {
  render::MandalaSpec spec;
  spec.seed = seed.value_or(0);
  if (symmetry) spec.symmetry = {*symmetry};
  if (style) {
    auto parsed = render::parse_style(*style);
    if (!parsed) return tl::unexpected(parsed.error());
    spec.style = *parsed;
  }
  if (palette) spec.palette = *palette;
  if (layers) spec.layers = *layers;
  if (animated) {
    spec.size = size.value_or(kDefaultAnimatedSize);
    if (spec.size > render::kMaxAnimatedSize) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("Animated mandalas are at most {} pixels wide (asked for {}).",
                              render::kMaxAnimatedSize, spec.size));
    }
    spec.frames = kAnimationFrames;
    spec.format = render::Format::kWebp;
  } else {
    spec.size = size.value_or(kDefaultSize);
  }
  if (auto ok = render::validate(spec); !ok) return tl::unexpected(ok.error());
  return spec;
}

json::object finished_message(const MandoOptions& options, const render::MandalaSpec& spec,
                              std::string_view filename, std::string_view public_url,
                              bool embed_url) {
  json::object embed{
      {"title", fmt::format("Mandala {}", spec.seed)},
      {"description", fmt::format("`{}`", options.command_text())},
      {"color", 0x6b3a75},
      {"footer", json::object{{"text", render::format_spec(spec)}}},
  };
  embed["image"] = json::object{
      {"url", embed_url ? std::string(public_url) : fmt::format("attachment://{}", filename)}};

  const std::string compact = options.compact();
  json::array buttons{
      json::object{{"type", 2},
                   {"style", 1},
                   {"label", "Re-roll"},
                   {"custom_id", fmt::format("{}{}", kRerollPrefix, compact)}},
      json::object{{"type", 2},
                   {"style", 2},
                   {"label", "Variation"},
                   {"custom_id", fmt::format("{}{}:{}", kVaryPrefix, spec.seed, compact)}},
  };
  if (!public_url.empty() && public_url.size() <= kMaxButtonUrl) {
    buttons.push_back(
        json::object{{"type", 2}, {"style", 5}, {"label", "Open file"}, {"url", public_url}});
  }
  json::object message{
      {"content", ""},
      {"embeds", json::array{std::move(embed)}},
      {"components", json::array{json::object{{"type", 1}, {"components", std::move(buttons)}}}},
      {"allowed_mentions", json::object{{"parse", json::array{}}}},
  };
  message["attachments"] =
      embed_url ? json::array{} : json::array{json::object{{"id", 0}, {"filename", filename}}};
  return message;
}

MandoModule::MandoModule(MandoDeps deps)
    : deps_(std::move(deps)),
      intake_({deps_.tasks, deps_.jobs, deps_.metrics, deps_.ack_budget, deps_.now}) {
  if (deps_.metrics != nullptr) {
    render_seconds_ = &deps_.metrics
                           ->histogram("mando_render_seconds", "Time to render and encode an image",
                                       core::latency_buckets())
                           .labels({});
  }
}

Result<void> MandoModule::register_into(discord::CommandRegistry& registry) {
  using discord::OptionType;
  std::vector<discord::Choice> styles{{"random", std::string("random")}};
  for (auto s : kStyles) styles.push_back({std::string(s), std::string(s)});
  std::vector<discord::Choice> palettes{{"random", std::string("random")}};
  for (auto p : render::palette_names()) palettes.push_back({std::string(p), std::string(p)});

  discord::CommandSpec spec;
  spec.name = "mando";
  spec.description = "Draw a unique mandala";
  spec.options = {
      {.name = "seed",
       .description = "The number the picture grows from: the same seed and options, the same "
                      "picture",
       .type = OptionType::kInteger,
       .min_value = 0,
       .max_value = static_cast<double>(kMaxSeed)},
      {.name = "symmetry",
       .description = "How many times the pattern repeats around the centre",
       .type = OptionType::kInteger,
       .min_value = 2,
       .max_value = render::kMaxSymmetry},
      {.name = "style",
       .description = "How the points of a layer are joined",
       .type = OptionType::kString,
       .choices = std::move(styles)},
      {.name = "palette",
       .description = "The colours",
       .type = OptionType::kString,
       .choices = std::move(palettes)},
      {.name = "layers",
       .description = "Rings of pattern, largest first",
       .type = OptionType::kInteger,
       .min_value = 1,
       .max_value = render::kMaxLayers},
      {.name = "size",
       .description = "Width and height in pixels",
       .type = OptionType::kInteger,
       .min_value = render::kMinSize,
       .max_value = deps_.max_image_size},
      {.name = "animated",
       .description = "A turning animation (WebP) instead of a still picture",
       .type = OptionType::kBoolean},
  };
  auto self = shared_from_this();
  spec.handler =
      [self](discord::CommandContext ctx) -> asio::awaitable<discord::InteractionResponse> {
    co_return co_await self->start_job(ctx.interaction, MandoOptions::from(ctx.options()));
  };
  spec.integration_types = {0, 1};
  spec.contexts = {0, 1, 2};
  if (auto ok = registry.add(std::move(spec)); !ok) return ok;

  auto reroll =
      [self](discord::ComponentContext ctx) -> asio::awaitable<discord::InteractionResponse> {
    auto options = MandoOptions::parse_compact(ctx.rest);
    if (!options) co_return discord::InteractionResponse::ephemeral("This button is broken.");
    co_return co_await self->start_job(ctx.interaction, std::move(*options));
  };
  if (auto ok = registry.add_component_prefix(std::string(kRerollPrefix), reroll); !ok) return ok;

  // Same seed, another palette and style, picked from the click's own id so that a retried
  // click picks the same.
  auto vary =
      [self](discord::ComponentContext ctx) -> asio::awaitable<discord::InteractionResponse> {
    const auto colon = ctx.rest.find(':');
    auto seed = parse_number<std::uint64_t>(std::string_view(ctx.rest).substr(0, colon));
    auto options = MandoOptions::parse_compact(colon == std::string::npos
                                                   ? std::string_view()
                                                   : std::string_view(ctx.rest).substr(colon + 1));
    if (!seed || !options)
      co_return discord::InteractionResponse::ephemeral("This button is broken.");
    std::mt19937_64 pick(std::hash<std::string>{}(ctx.interaction.id));
    const auto names = render::palette_names();
    std::size_t i = pick() % names.size();
    if (options->palette == names[i]) i = (i + 1 + pick() % (names.size() - 1)) % names.size();
    std::string palette(names[i]);
    options->palette = palette;
    options->style = std::string(kStyles[pick() % kStyles.size()]);
    options->seed = *seed;
    co_return co_await self->start_job(ctx.interaction, std::move(*options));
  };
  return registry.add_component_prefix(std::string(kVaryPrefix), vary);
}

asio::awaitable<discord::InteractionResponse> MandoModule::start_job(
    const discord::Interaction& interaction, MandoOptions options) {
  if (!options.seed) options.seed = random_seed();
  auto spec = options.spec();
  if (!spec) co_return discord::InteractionResponse::ephemeral(spec.error().message);
  ImageJob job{target_of(interaction), render::format_spec(*spec), options.compact()};
  co_return co_await intake_.submit(kMandoJob, job.target, kCreateImageQueue, kGenerateImagePath,
                                    to_json(job));
}

asio::awaitable<void> MandoModule::say_drawing(const DiscordTarget& target) {
  if (deps_.discord == nullptr || deps_.progress_after.count() == 0) co_return;
  if (deps_.jobs->editing(target.interaction_id)) co_return;  // its place in line is on its way
  const auto now = std::chrono::system_clock::now();
  if (now - target.created(now) < deps_.progress_after) co_return;
  json::object message{{"content", "Drawing your mandala\u2026"}};
  auto edited = co_await deps_.discord->edit_original_response(target.application_id, target.token,
                                                               std::move(message));
  if (!edited) {
    core::logger("bot")->debug("interaction {}: progress line not shown: {}", target.interaction_id,
                               edited.error().message);
  }
}

asio::awaitable<net::Response> MandoModule::generate_image(net::Request request) {
  auto log = core::logger("bot");
  auto job = parse_image_job(request.body);
  if (!job) co_return net::Response::json_error(400, job.error().message);
  const DiscordTarget& target = job->target;
  const std::string& id = target.interaction_id;
  Finisher& finish = *deps_.finish;
  auto spec = render::parse_spec(job->spec);
  auto options = MandoOptions::parse_compact(job->options);
  if (!spec || !options) {
    co_return net::Response::json_error(400, spec ? options.error().message : spec.error().message);
  }
  options->seed = spec->seed;
  if (auto stop = co_await finish.begin(target, deps_.now()); stop) co_return std::move(*stop);
  co_await say_drawing(target);

  const auto started = std::chrono::steady_clock::now();
  // Named, not a temporary in the co_await: g++ 12 mishandles those (see docs/ARCHITECTURE.md).
  auto draw = [to_render = *spec] { return render::render_file(to_render); };
  auto file = co_await deps_.cpu->run(std::move(draw));
  if (render_seconds_ != nullptr) {
    render_seconds_->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  if (!file) {
    // A spec that parsed always renders: this is a bug, and retrying would not help. The user
    // hears so instead of waiting for the give-up point.
    log->error("interaction {}: rendering failed: {}", id, file.error().message);
    co_return co_await finish.fail(target, Failure::kNotDrawn, "render_failed");
  }

  const std::string filename = fmt::format("mandala.{}", render::file_extension(*spec));
  storage::PutOptions put;
  put.content_type = std::string(render::mime_type(*spec));
  put.metadata["spec"] = job->spec;
  auto stored = co_await deps_.blobs->put(fmt::format("mando/{}/{}", id, filename),
                                          std::string(file->begin(), file->end()), std::move(put));
  if (!stored) {
    log->warn("interaction {}: blob store unavailable, the queue will retry: {}", id,
              stored.error().message);
    co_return net::Response::json_error(503, "the blob store is unavailable");
  }

  ReplyJob reply{target, {}, {}, {}, {}, stored->url, false, {}};
  reply.message = finished_message(*options, *spec, filename, stored->url, deps_.reply_with_url);
  if (!deps_.reply_with_url) {
    reply.blob_key = stored->key;
    reply.filename = filename;
    reply.content_type = std::string(render::mime_type(*spec));
  }
  co_return co_await send_reply(*deps_.tasks, std::move(reply));
}

}  // namespace mando::bot::commands
