#pragma once
// mando's configuration: one TOML file plus MANDO_* environment overrides, parsed once at start
// into validated structs that components receive by value or const reference (no global).
//
// Every key `[section] key` can be set as MANDO_SECTION_KEY (top-level keys as MANDO_KEY).
// Secrets (see Field::secret in config.cpp) may also come from a file: `key_file` in TOML or
// MANDO_SECTION_KEY_FILE, trailing newline stripped. Precedence, highest first: environment
// value, environment file, TOML value, TOML file, built-in default.
// Errors name the key, where the value came from and what is allowed.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace mando::core {

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";  // the public listener: /interactions, /blobs/
  // The internal listener: the queue API, worker routes, /metrics. Empty: kDefaultInternalListen,
  // or a free port on 127.0.0.1 when `listen`'s port is 0 (tests, several mandos on one host).
  std::string internal_listen;
  static constexpr std::string_view kDefaultInternalListen = "127.0.0.1:8081";
  std::string effective_internal_listen() const;
  int io_threads = 0;       // 0: one per core
  int max_connections = 0;  // 0: derived from the fd limit (core::default_max_connections)
  std::uint64_t max_body_bytes = 1024 * 1024;
  std::uint64_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds body_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds shutdown_timeout{std::chrono::seconds(10)};
};

struct CpuConfig {
  int threads = 0;  // 0: one per core
  int nice = 10;    // scheduling priority of the CPU pool threads, below the I/O threads
};

struct LogConfig {
  std::string level = "info";
  std::string format = "text";  // text | json
};

struct DiscordConfig {
  std::string public_key;  // hex, 32 bytes; empty: /interactions answers 503
  std::string application_id;
  std::string bot_token;  // secret
  std::string api_base_url = "https://discord.com/api/v10";
  std::chrono::milliseconds timestamp_window{0};  // 0: off (Discord documents none)
};

struct QueueConfig {
  // Where the queues live: "sqlite" (one machine, {data_dir}/queue.sqlite3 or [queue]
  // database) or "postgres" ([database] url: every process of every machine shares it, and
  // dispatchers elect one leader per queue).
  std::string backend = "sqlite";
  std::string project =
      "mando";  // queues mando creates live in projects/{project}/locations/{location}
  std::string location = "local";
  std::string api_token;    // secret; empty: the /v2/ API answers loopback clients only
  std::string signing_key;  // secret; empty: a random key per process (one-process setups)
  std::chrono::milliseconds dedup_window{std::chrono::hours(1)};
  std::string database;              // empty: {data_dir}/queue.sqlite3
  std::string synchronous = "full";  // full | normal
  int store_threads = 16;            // threads for blocking database calls
  std::string worker_base_url;       // empty: this server's own address
  // The Cloud Tasks API of the process that owns the queue, for roles that do not ("http://
  // dispatcher:8080"; `mando serve --role ingress|worker`). Empty: the embedded queue.
  std::string url;
};

// [database]: the PostgreSQL server of [queue] backend = "postgres" (and, later, of the other
// shared state). Migrations are applied by `mando db migrate`.
struct DatabaseConfig {
  // A libpq connection string or URI ("host=db dbname=mando user=mando",
  // "postgresql://mando@db:5432/mando?sslmode=verify-full"); secret, as it may hold a password.
  std::string url;
  std::string password;  // secret; overrides the url's (or set PGPASSWORD / PGPASSFILE)
  int pool_size = 16;    // connections per process at most
};

// A queue declared in the file as [queues.ID]. Zero (or unset) values take Cloud Tasks'
// defaults; ranges are checked where the queue is created.
struct DeclaredQueue {
  std::string id;
  double max_dispatches_per_second = 0;
  int max_burst_size = 0;
  int max_concurrent_dispatches = 0;
  int max_attempts = 0;
  std::optional<std::chrono::milliseconds> max_retry_duration;
  std::optional<std::chrono::milliseconds> min_backoff;
  std::optional<std::chrono::milliseconds> max_backoff;
  int max_doublings = 0;
  std::string worker_base_url;
  bool paused = false;
};

// [storage]: where generated files go, and how long they stay. Which keys a backend needs is
// checked when the store is opened (app/storage_service.cpp).
struct StorageConfig {
  std::string backend = "local";  // local | s3
  std::string public_base_url;    // empty: this server's address (local) / presigned URLs (s3)
  std::chrono::milliseconds default_ttl{std::chrono::hours(24)};
  std::chrono::milliseconds cleanup_interval{std::chrono::minutes(5)};  // 0: only `mando cleanup`
  std::string directory;        // local: empty means {data_dir}/blobs
  std::string url_signing_key;  // secret; local: /blobs/ URLs signed and required when set
  std::string endpoint;         // s3
  std::string region = "us-east-1";
  std::string bucket;
  bool path_style = false;
  std::string public_url_template;  // s3: "https://cdn.example.com/{key}" instead of presigned
};

// [bot]: how the product behaves towards Discord users.
struct BotConfig {
  std::string reply = "attachment";  // attachment: upload the image; url: embed its public URL
  int max_running_per_user = 3;      // jobs of one user rendering or being delivered at once
  int max_queued_per_user = 7;       // jobs of one user waiting for a worker
  int max_image_size = 2048;         // largest `size` /mando accepts, in pixels
  // A job that waited this long gets a progress line (queued, position, rendering); 0: never.
  std::chrono::milliseconds progress_after{std::chrono::seconds(3)};
  // A job not delivered this long after its interaction stops and edits a failure line. Below the
  // token's 15 minutes, so that the line still gets through (docs/BOT.md, the timeline).
  std::chrono::milliseconds give_up_after{std::chrono::minutes(12)};
  // How long the ingress waits for a new job's task to be enqueued before it answers "busy":
  // Discord drops an interaction that is not answered within 3 seconds.
  std::chrono::milliseconds ack_budget{std::chrono::seconds(2)};
};

// [transform]: /transform's limits and its decoder processes (docs/TRANSFORM.md).
struct TransformConfig {
  int max_inputs = 20;                               // images per job
  std::uint64_t max_input_bytes = 25 * 1024 * 1024;  // one download
  std::uint64_t max_job_bytes = 200 * 1024 * 1024;   // all downloads of one job
  std::uint64_t max_pixels = 50'000'000;             // width x height, read before decoding
  int downloads_per_job = 4;                         // concurrent downloads of one job
  std::chrono::milliseconds download_timeout{std::chrono::seconds(30)};  // one download, total
  int workers = 0;  // decoder processes; 0: one per core
  // Address space of one decoder process; a decode past it fails that image only.
  std::uint64_t worker_memory_bytes = 1024ull * 1024 * 1024;
  std::chrono::milliseconds worker_cpu_time{std::chrono::seconds(30)};  // CPU of one image
};

// [fetch]: where downloads of URLs that strangers give (images for /transform, GPU providers'
// results) may go beyond the public internet on ports 80 and 443. net::UrlPolicy applies it.
struct FetchConfig {
  bool allow_http = false;         // plain http too, not only https
  std::vector<std::string> allow;  // core/fetch_allow.hpp entries, validated at load
};

// [imagine.models.NAME]: one model /imagine can run, at one provider (docs/IMAGINE.md).
struct ImagineModel {
  std::string name;            // NAME: what the `model` option of /imagine takes
  std::string provider;        // replicate | fal | openai
  std::string endpoint;        // the API's base URL, e.g. https://api.replicate.com/v1
  std::string version;         // model or version id at the provider
  std::string api_token;       // secret: api_token, api_token_file, or the environment
  std::string webhook_secret;  // secret (replicate: "whsec_..."); fal verifies with jwks_url
  std::string jwks_url;        // fal: the keys its webhooks are signed with
  // The provider's input object, as JSON text, with "{prompt}", "{negative}", "{seed}",
  // "{count}", "{width}", "{height}", "{aspect}" and "{image}" where the user's values go
  // (imagine/input_template.hpp). Empty: the provider's usual names.
  std::string input;
  std::string description;   // shown next to NAME in the model list
  std::string price;         // a hint for users and operators, e.g. "$0.003 per image"
  int max_count = 4;         // images per job (1-4)
  bool video = false;        // makes videos
  bool image_input = false;  // takes an init image (the `image` option)
  bool nsfw = false;         // only in channels Discord marks as age-restricted
  // The model an Upscale button of this model's results runs (it must take an image); empty:
  // no Upscale buttons. Variation buttons come with image_input.
  std::string upscale;
  std::chrono::milliseconds timeout{std::chrono::minutes(2)};  // openai: one synchronous call
};

// [imagine]: /imagine (docs/IMAGINE.md).
struct ImagineConfig {
  // The public base URL webhook addresses are built on (https://bot.example.com); empty: no
  // webhooks can reach mando, so jobs are polled.
  std::string public_url;
  bool webhooks = true;  // false: polling only, for bots without a public HTTPS address
  // Poll a job that has had no event for this long (webhooks late or off).
  std::chrono::milliseconds poll_after{std::chrono::seconds(30)};
  std::string database;           // empty: {data_dir}/imagine.sqlite3
  int daily_per_user = 50;        // jobs per user per UTC day; 0: no quota
  int daily_per_guild = 0;        // jobs per guild per UTC day; 0: no quota
  std::vector<std::string> deny;  // prompts containing one of these (case-insensitive) are refused
  std::string default_model;      // empty: the first [imagine.models.NAME]
  std::vector<ImagineModel> models;  // in file order
};

// [guilds.ID]: per-guild overrides of the per-user limits (0 or unset: [bot]'s value).
struct GuildLimits {
  std::string guild_id;
  int max_running_per_user = 0;
  int max_queued_per_user = 0;
};

struct Config {
  std::string data_dir = "./data";
  ServerConfig server;
  CpuConfig cpu;
  LogConfig log;
  DiscordConfig discord;
  QueueConfig queue;
  DatabaseConfig database;
  StorageConfig storage;
  BotConfig bot;
  TransformConfig transform;
  FetchConfig fetch;
  ImagineConfig imagine;
  std::vector<DeclaredQueue> queues;  // [queues.ID] tables, in file order
  std::vector<GuildLimits> guilds;    // [guilds.ID] tables, in file order

  // Non-fatal findings of load(): unknown MANDO_* variables, secrets written into the file.
  std::vector<std::string> warnings;
};

using Environment = std::map<std::string, std::string>;

// The process environment as a map (what load() reads in production).
Environment process_environment();

// Loads `path` (nullopt: no file, defaults and environment only) and applies `env`.
Result<Config> load_config(const std::optional<std::string>& path, const Environment& env);

// The effective configuration as TOML, secrets shown as "<redacted>" (or "" when unset).
std::string render_config(const Config& config);

}  // namespace mando::core
