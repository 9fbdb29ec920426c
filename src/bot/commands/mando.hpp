#pragma once
// /mando: a unique mandala for whoever asks.
//
//   1. The command (or a button under an earlier mandala) is checked against the user's job
//      limits (job_tracker.hpp), then becomes a task on queue `create-image` named after the
//      interaction id; Discord gets a deferred answer (type 5) at once, whatever the load. A
//      queue that has not taken the task within [bot] ack_budget gets an ephemeral "busy"
//      answer instead (TaskSender::send_within): Discord drops what is not answered in 3 s.
//   2. The worker route `generate-image` renders the spec on the CPU pool, stores the file with
//      its expiry and sends a `reply-discord` task carrying the finished message, the blob's
//      link and the interaction's upload limit. Past [bot] give_up_after, or when the render
//      fails, it edits a failure line instead (finisher.hpp).
//   3. reply-discord (workers/reply_discord.hpp) edits the deferred answer into that message.
//
// The message names the seed and options (the embed's description is the command that redraws
// it), and has three buttons: Re-roll (new seed, same options), Variation (same seed, another
// palette and style) and, when the file has a public address, a link to it. Buttons carry the
// user's options in their custom_id ("mando:reroll:sy=12;p=twilight"), so a click needs no
// state: it is one more job through the same queue.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "bot/finisher.hpp"
#include "bot/intake.hpp"
#include "bot/job_tracker.hpp"
#include "bot/jobs.hpp"
#include "bot/tasks.hpp"
#include "core/config.hpp"
#include "core/cpu_pool.hpp"
#include "core/metrics.hpp"
#include "discord/command_registry.hpp"
#include "discord/rest_client.hpp"
#include "net/http_message.hpp"
#include "render/spec.hpp"
#include "storage/blob_store.hpp"

namespace mando::bot::commands {

// Largest seed a user can type: Discord's INTEGER options stop at 2^53.
inline constexpr std::uint64_t kMaxSeed = (std::uint64_t{1} << 53) - 1;
inline constexpr int kDefaultSize = 1024;
inline constexpr int kDefaultAnimatedSize = 512;
inline constexpr int kAnimationFrames = 48;

// The options a user chose; those left out are picked per image by the renderer.
struct MandoOptions {
  std::optional<std::uint64_t> seed;
  std::optional<int> symmetry;
  std::optional<std::string> style;
  std::optional<std::string> palette;
  std::optional<int> layers;
  std::optional<int> size;
  bool animated = false;

  static MandoOptions from(const discord::Options& options);
  // The form buttons carry, without the seed: "sy=12;st=fill;p=twilight;l=5;z=512;a=1".
  std::string compact() const;
  static Result<MandoOptions> parse_compact(std::string_view text);
  // The command that draws this picture again: "/mando seed:42 symmetry:12 palette:twilight".
  std::string command_text() const;
  // The renderer's spec; kInvalidArgument with a sentence for the user when the options do not
  // fit together (an animation larger than render::kMaxAnimatedSize).
  Result<render::MandalaSpec> spec() const;
};

struct MandoDeps {
  TaskSender* tasks = nullptr;             // ingress
  JobTracker* jobs = nullptr;              // ingress and worker
  core::CpuPool* cpu = nullptr;            // worker
  storage::BlobStore* blobs = nullptr;     // worker
  Finisher* finish = nullptr;              // worker
  discord::RestClient* discord = nullptr;  // worker: progress lines (optional)
  core::MetricsRegistry* metrics = nullptr;
  std::chrono::milliseconds progress_after{0};  // 0: no progress lines
  // [bot] ack_budget: the ingress answers "busy" when the task is not enqueued by then.
  std::chrono::milliseconds ack_budget{std::chrono::seconds(2)};
  bool reply_with_url = false;  // [bot] reply = "url": embed the blob's URL, upload nothing
  int max_image_size = 2048;
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
};

// Owned by a shared_ptr: the handlers it registers keep it alive as long as the registry.
class MandoModule : public std::enable_shared_from_this<MandoModule> {
 public:
  explicit MandoModule(MandoDeps deps);

  // The command spec, and the button routes, into `registry`. Without `tasks` and `jobs` (a
  // registry built for `mando commands sync`) the handlers answer that no image can be made.
  Result<void> register_into(discord::CommandRegistry& registry);
  // The worker route `generate-image`: a create-image task's POST.
  boost::asio::awaitable<net::Response> generate_image(net::Request request);

 private:
  boost::asio::awaitable<discord::InteractionResponse> start_job(
      const discord::Interaction& interaction, MandoOptions options);
  // "Drawing..." on a deferred message that waited at least progress_after.
  boost::asio::awaitable<void> say_drawing(const DiscordTarget& target);

  MandoDeps deps_;
  JobIntake intake_;
  core::Histogram* render_seconds_ = nullptr;
};

// The message a finished image becomes: embed, buttons, attachment reference.
boost::json::object finished_message(const MandoOptions& options, const render::MandalaSpec& spec,
                                     std::string_view filename, std::string_view public_url,
                                     bool embed_url);

}  // namespace mando::bot::commands
