#include "core/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/config_detail.hpp"
#include "core/duration.hpp"
#include "core/fetch_allow.hpp"

extern char** environ;

namespace mando::core {
namespace {

using detail::check_hex_key;
using detail::check_host_port;
using detail::check_http_url;
using detail::check_not_empty;
using detail::check_one_of;
using detail::check_snowflake;

// kList: a TOML array of strings, or one comma-separated string (the only form the environment
// has); set() receives the items joined with commas.
enum class Kind { kString, kInt, kDuration, kSize, kBool, kList };

// One configuration key: where it lives, how to parse and print it. The table in fields() is
// the single place a key is declared; the file parser, the environment and `config check` all
// read it.
struct Field {
  std::string section;  // "" for top-level keys
  std::string key;
  Kind kind;
  bool secret = false;
  // Parses and stores `text`; returns the reason it is invalid, or empty.
  std::function<std::string(Config&, const std::string& text)> set;
  std::function<std::string(const Config&)> get;
};

std::string qualified(const Field& f) {
  return f.section.empty() ? f.key : fmt::format("[{}] {}", f.section, f.key);
}

std::string env_name(const Field& f) {
  std::string name = "MANDO_";
  for (const auto& part : {f.section, f.key}) {
    if (part.empty()) continue;
    if (name.size() > 6) name += '_';
    for (char c : part) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

// `ref` is a generic lambda returning a reference to the member, for const and non-const Config.
template <typename Ref>
Field string_field(std::string section, std::string key, Ref ref,
                   std::function<std::string(const std::string&)> check = nullptr,
                   bool secret = false) {
  Field f{std::move(section), std::move(key), Kind::kString, secret, nullptr, nullptr};
  f.set = [ref, check](Config& c, const std::string& text) {
    if (check) {
      if (auto why = check(text); !why.empty()) return why;
    }
    ref(c) = text;
    return std::string();
  };
  f.get = [ref](const Config& c) { return ref(c); };
  return f;
}

template <typename Ref>
Field int_field(std::string section, std::string key, Ref ref, int min, int max) {
  Field f{std::move(section), std::move(key), Kind::kInt, false, nullptr, nullptr};
  f.set = [ref, min, max](Config& c, const std::string& text) {
    int v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
      return fmt::format("must be an integer from {} to {}, got \"{}\"", min, max, text);
    }
    ref(c) = v;
    return std::string();
  };
  f.get = [ref](const Config& c) { return std::to_string(ref(c)); };
  return f;
}

template <typename Ref>
Field duration_field(std::string section, std::string key, Ref ref, std::chrono::milliseconds min,
                     std::chrono::milliseconds max) {
  Field f{std::move(section), std::move(key), Kind::kDuration, false, nullptr, nullptr};
  f.set = [ref, min, max](Config& c, const std::string& text) {
    auto d = parse_duration(text);
    if (!d) return d.error().message;
    if (*d < min || *d > max) {
      return fmt::format("must be from {} to {}, got {}", format_duration(min),
                         format_duration(max), text);
    }
    ref(c) = *d;
    return std::string();
  };
  f.get = [ref](const Config& c) { return format_duration(ref(c)); };
  return f;
}

template <typename Ref>
Field size_field(std::string section, std::string key, Ref ref, std::uint64_t min,
                 std::uint64_t max) {
  Field f{std::move(section), std::move(key), Kind::kSize, false, nullptr, nullptr};
  f.set = [ref, min, max](Config& c, const std::string& text) {
    auto n = parse_size(text);
    if (!n) return n.error().message;
    if (*n < min || *n > max) {
      return fmt::format("must be from {} to {} bytes, got {}", min, max, text);
    }
    ref(c) = *n;
    return std::string();
  };
  f.get = [ref](const Config& c) { return std::to_string(ref(c)); };
  return f;
}

template <typename Ref>
Field bool_field(std::string section, std::string key, Ref ref) {
  Field f{std::move(section), std::move(key), Kind::kBool, false, nullptr, nullptr};
  f.set = [ref](Config& c, const std::string& text) {
    if (text != "true" && text != "false") {
      return fmt::format("must be true or false, got \"{}\"", text);
    }
    ref(c) = text == "true";
    return std::string();
  };
  f.get = [ref](const Config& c) { return std::string(ref(c) ? "true" : "false"); };
  return f;
}

// Items are trimmed and empty ones dropped ("a, b," is two), then each is checked.
template <typename Ref>
Field list_field(std::string section, std::string key, Ref ref,
                 std::function<std::string(const std::string&)> check) {
  Field f{std::move(section), std::move(key), Kind::kList, false, nullptr, nullptr};
  f.set = [ref, check](Config& c, const std::string& text) {
    std::vector<std::string> items;
    std::string_view rest = text;
    while (!rest.empty()) {
      const std::size_t comma = std::min(rest.find(','), rest.size());
      std::string_view item = rest.substr(0, comma);
      rest.remove_prefix(std::min(comma + 1, rest.size()));
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
        item.remove_prefix(1);
      }
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
        item.remove_suffix(1);
      }
      if (item.empty()) continue;
      if (auto why = check(std::string(item)); !why.empty()) return why;
      items.emplace_back(item);
    }
    ref(c) = std::move(items);
    return std::string();
  };
  // A TOML array; the items hold no quotes or backslashes (check() allows none).
  f.get = [ref](const Config& c) {
    std::vector<std::string> quoted;
    for (const auto& item : ref(c)) quoted.push_back(fmt::format("\"{}\"", item));
    return fmt::format("[{}]", fmt::join(quoted, ", "));
  };
  return f;
}

std::string check_fetch_allow(const std::string& text) {
  auto entry = parse_fetch_allow_entry(text);
  return entry ? std::string() : entry.error().message;
}

const std::vector<Field>& fields() {
  using std::chrono::hours;
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  static const std::vector<Field> kFields = {
      string_field(
          "", "data_dir", [](auto& c) -> auto& { return c.data_dir; }, check_not_empty),
      string_field(
          "server", "listen", [](auto& c) -> auto& { return c.server.listen; }, check_host_port),
      string_field(
          "server", "internal_listen", [](auto& c) -> auto& { return c.server.internal_listen; },
          [](const std::string& text) { return text.empty() ? "" : check_host_port(text); }),
      int_field(
          "server", "io_threads", [](auto& c) -> auto& { return c.server.io_threads; }, 0, 256),
      int_field(
          "server", "max_connections", [](auto& c) -> auto& { return c.server.max_connections; }, 0,
          1 << 24),
      size_field(
          "server", "max_body_bytes", [](auto& c) -> auto& { return c.server.max_body_bytes; },
          1024, 1ull << 30),
      size_field(
          "server", "max_header_bytes", [](auto& c) -> auto& { return c.server.max_header_bytes; },
          1024, 1 << 20),
      duration_field(
          "server", "header_timeout", [](auto& c) -> auto& { return c.server.header_timeout; },
          milliseconds(100), hours(1)),
      duration_field(
          "server", "body_timeout", [](auto& c) -> auto& { return c.server.body_timeout; },
          milliseconds(100), hours(1)),
      duration_field(
          "server", "idle_timeout", [](auto& c) -> auto& { return c.server.idle_timeout; },
          milliseconds(100), hours(1)),
      duration_field(
          "server", "shutdown_timeout", [](auto& c) -> auto& { return c.server.shutdown_timeout; },
          milliseconds(0), hours(1)),
      int_field(
          "cpu", "threads", [](auto& c) -> auto& { return c.cpu.threads; }, 0, 1024),
      int_field(
          "cpu", "nice", [](auto& c) -> auto& { return c.cpu.nice; }, 0, 19),
      string_field(
          "log", "level", [](auto& c) -> auto& { return c.log.level; },
          [](const std::string& t) {
            return check_one_of(t, {"trace", "debug", "info", "warn", "error", "off"});
          }),
      string_field(
          "log", "format", [](auto& c) -> auto& { return c.log.format; },
          [](const std::string& t) {
            return check_one_of(t, {"text", "json"});
          }),
      string_field(
          "discord", "public_key", [](auto& c) -> auto& { return c.discord.public_key; },
          check_hex_key, true),
      string_field(
          "discord", "application_id", [](auto& c) -> auto& { return c.discord.application_id; },
          check_snowflake),
      string_field(
          "discord", "bot_token", [](auto& c) -> auto& { return c.discord.bot_token; }, nullptr,
          true),
      string_field(
          "discord", "api_base_url", [](auto& c) -> auto& { return c.discord.api_base_url; },
          check_http_url),
      duration_field(
          "discord", "timestamp_window",
          [](auto& c) -> auto& { return c.discord.timestamp_window; }, seconds(0), hours(24)),
      string_field(
          "queue", "backend", [](auto& c) -> auto& { return c.queue.backend; },
          [](const std::string& t) {
            return check_one_of(t, {"sqlite", "postgres"});
          }),
      string_field(
          "queue", "project", [](auto& c) -> auto& { return c.queue.project; }, check_not_empty),
      string_field(
          "queue", "location", [](auto& c) -> auto& { return c.queue.location; }, check_not_empty),
      string_field(
          "queue", "api_token", [](auto& c) -> auto& { return c.queue.api_token; }, nullptr, true),
      string_field(
          "queue", "signing_key", [](auto& c) -> auto& { return c.queue.signing_key; },
          [](const std::string& t) {
            return t.empty() || t.size() >= 32 ? std::string()
                                               : "must be at least 32 characters (or empty for "
                                                 "a random key per process)";
          },
          true),
      duration_field(
          "queue", "dedup_window", [](auto& c) -> auto& { return c.queue.dedup_window; },
          seconds(0), hours(24 * 30)),
      string_field(
          "queue", "database", [](auto& c) -> auto& { return c.queue.database; }),
      string_field(
          "queue", "synchronous", [](auto& c) -> auto& { return c.queue.synchronous; },
          [](const std::string& t) {
            return check_one_of(t, {"full", "normal"});
          }),
      int_field(
          "queue", "store_threads", [](auto& c) -> auto& { return c.queue.store_threads; }, 1, 256),
      string_field(
          "queue", "worker_base_url", [](auto& c) -> auto& { return c.queue.worker_base_url; },
          [](const std::string& t) { return t.empty() ? std::string() : check_http_url(t); }),
      string_field(
          "queue", "url", [](auto& c) -> auto& { return c.queue.url; },
          [](const std::string& t) { return t.empty() ? std::string() : check_http_url(t); }),
      string_field(
          "database", "url", [](auto& c) -> auto& { return c.database.url; }, nullptr, true),
      string_field(
          "database", "password", [](auto& c) -> auto& { return c.database.password; }, nullptr,
          true),
      int_field(
          "database", "pool_size", [](auto& c) -> auto& { return c.database.pool_size; }, 1, 1000),
      string_field(
          "storage", "backend", [](auto& c) -> auto& { return c.storage.backend; },
          [](const std::string& t) {
            return check_one_of(t, {"local", "s3"});
          }),
      string_field(
          "storage", "public_base_url", [](auto& c) -> auto& { return c.storage.public_base_url; },
          [](const std::string& t) { return t.empty() ? std::string() : check_http_url(t); }),
      duration_field(
          "storage", "default_ttl", [](auto& c) -> auto& { return c.storage.default_ttl; },
          seconds(1), hours(24 * 365)),
      duration_field(
          "storage", "cleanup_interval",
          [](auto& c) -> auto& { return c.storage.cleanup_interval; }, seconds(0), hours(24)),
      string_field(
          "storage", "directory", [](auto& c) -> auto& { return c.storage.directory; }),
      string_field(
          "storage", "url_signing_key", [](auto& c) -> auto& { return c.storage.url_signing_key; },
          [](const std::string& t) {
            return t.empty() || t.size() >= 32 ? std::string()
                                               : "must be at least 32 characters (or empty for "
                                                 "unsigned URLs)";
          },
          true),
      string_field(
          "storage", "endpoint", [](auto& c) -> auto& { return c.storage.endpoint; },
          [](const std::string& t) { return t.empty() ? std::string() : check_http_url(t); }),
      string_field(
          "storage", "region", [](auto& c) -> auto& { return c.storage.region; }, check_not_empty),
      string_field(
          "storage", "bucket", [](auto& c) -> auto& { return c.storage.bucket; }),
      bool_field(
          "storage", "path_style", [](auto& c) -> auto& { return c.storage.path_style; }),
      string_field(
          "storage", "public_url_template",
          [](auto& c) -> auto& { return c.storage.public_url_template; }),
      string_field(
          "bot", "reply", [](auto& c) -> auto& { return c.bot.reply; },
          [](const std::string& t) {
            return check_one_of(t, {"attachment", "url"});
          }),
      int_field(
          "bot", "max_running_per_user",
          [](auto& c) -> auto& { return c.bot.max_running_per_user; }, 1, 1000),
      int_field(
          "bot", "max_queued_per_user", [](auto& c) -> auto& { return c.bot.max_queued_per_user; },
          0, 10000),
      int_field(
          "bot", "max_image_size", [](auto& c) -> auto& { return c.bot.max_image_size; }, 64, 4096),
      duration_field(
          "bot", "progress_after", [](auto& c) -> auto& { return c.bot.progress_after; },
          seconds(0), hours(1)),
      // At most 14 minutes: the failure line needs the token's last minute to get through.
      duration_field(
          "bot", "give_up_after", [](auto& c) -> auto& { return c.bot.give_up_after; }, seconds(10),
          std::chrono::minutes(14)),
      // Discord waits 3 s; the answer itself needs the rest.
      duration_field(
          "bot", "ack_budget", [](auto& c) -> auto& { return c.bot.ack_budget; }, milliseconds(1),
          milliseconds(2500)),
      int_field(
          "transform", "max_inputs", [](auto& c) -> auto& { return c.transform.max_inputs; }, 1,
          100),
      size_field(
          "transform", "max_input_bytes",
          [](auto& c) -> auto& { return c.transform.max_input_bytes; }, 1024, 1ull << 30),
      size_field(
          "transform", "max_job_bytes", [](auto& c) -> auto& { return c.transform.max_job_bytes; },
          1024, 1ull << 34),
      size_field(
          "transform", "max_pixels", [](auto& c) -> auto& { return c.transform.max_pixels; }, 4096,
          1ull << 32),
      int_field(
          "transform", "downloads_per_job",
          [](auto& c) -> auto& { return c.transform.downloads_per_job; }, 1, 64),
      duration_field(
          "transform", "download_timeout",
          [](auto& c) -> auto& { return c.transform.download_timeout; }, seconds(1), hours(1)),
      int_field(
          "transform", "workers", [](auto& c) -> auto& { return c.transform.workers; }, 0, 256),
      size_field(
          "transform", "worker_memory_bytes",
          [](auto& c) -> auto& { return c.transform.worker_memory_bytes; }, 64ull << 20,
          1ull << 40),
      duration_field(
          "transform", "worker_cpu_time",
          [](auto& c) -> auto& { return c.transform.worker_cpu_time; }, seconds(1), hours(1)),
      bool_field(
          "fetch", "allow_http", [](auto& c) -> auto& { return c.fetch.allow_http; }),
      list_field(
          "fetch", "allow", [](auto& c) -> auto& { return c.fetch.allow; }, check_fetch_allow),
      string_field(
          "imagine", "public_url", [](auto& c) -> auto& { return c.imagine.public_url; },
          [](const std::string& t) { return t.empty() ? std::string() : check_http_url(t); }),
      bool_field(
          "imagine", "webhooks", [](auto& c) -> auto& { return c.imagine.webhooks; }),
      duration_field(
          "imagine", "poll_after", [](auto& c) -> auto& { return c.imagine.poll_after; },
          seconds(1), hours(1)),
      string_field(
          "imagine", "database", [](auto& c) -> auto& { return c.imagine.database; }),
      int_field(
          "imagine", "daily_per_user", [](auto& c) -> auto& { return c.imagine.daily_per_user; }, 0,
          1'000'000),
      int_field(
          "imagine", "daily_per_guild", [](auto& c) -> auto& { return c.imagine.daily_per_guild; },
          0, 100'000'000),
      list_field(
          "imagine", "deny", [](auto& c) -> auto& { return c.imagine.deny; },
          [](const std::string& t) {
            return t.find_first_of("\"\\") == std::string::npos
                       ? std::string()
                       : std::string("entries must not contain quotes or backslashes");
          }),
      string_field(
          "imagine", "default_model", [](auto& c) -> auto& { return c.imagine.default_model; }),
  };
  return kFields;
}

// A kList value: an array of strings joined with commas, or one string as it is.
std::optional<std::string> list_text(const toml::node& node) {
  if (auto s = node.as_string()) return s->get();
  const toml::array* array = node.as_array();
  if (array == nullptr) return std::nullopt;
  std::vector<std::string> items;
  for (const auto& item : *array) {
    auto s = item.as_string();
    if (s == nullptr) return std::nullopt;
    items.push_back(s->get());
  }
  return fmt::format("{}", fmt::join(items, ","));
}

// Where a field's value came from, for error messages.
struct Source {
  std::string text;
  std::string where;
  bool from_file = false;  // a *_file indirection, to be read
};

Result<void> apply(Config& config, const Field& f, const Source& src) {
  std::string text = src.text;
  if (src.from_file) {
    auto content =
        detail::read_config_file(src.text, fmt::format("{} ({})", qualified(f), src.where));
    if (!content) return tl::unexpected(content.error());
    text = std::move(*content);
  }
  if (auto why = f.set(config, text); !why.empty()) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("config: {} ({}): {}", qualified(f), src.where, why));
  }
  return {};
}

}  // namespace

Environment process_environment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string_view::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

std::string ServerConfig::effective_internal_listen() const {
  if (!internal_listen.empty()) return internal_listen;
  return listen.ends_with(":0") ? "127.0.0.1:0" : std::string(kDefaultInternalListen);
}

Result<Config> load_config(const std::optional<std::string>& path, const Environment& env) {
  Config config;
  toml::table file;
  if (path) {
    try {
      file = toml::parse_file(*path);
    } catch (const toml::parse_error& e) {
      const auto& where = e.source().begin;
      return fail(
          ErrorKind::kInvalidArgument,
          fmt::format("config: {}:{}:{}: {}", *path, where.line, where.column, e.description()));
    }
  }

  // Unknown keys in the file are errors: a typo must not silently fall back to a default.
  std::set<std::string> known;
  for (const auto& f : fields()) {
    known.insert(qualified(f));
    if (f.secret) known.insert(qualified(f) + "_file");
  }
  for (const auto& [key, node] : file) {
    // [queues.ID] and [guilds.ID], read by read_declared_queues() and read_guild_limits().
    if (key.str() == "queues" || key.str() == "guilds") continue;
    if (auto table = node.as_table()) {
      for (const auto& [sub, value] : *table) {
        // [imagine.models.NAME], read by read_imagine_models().
        if (key.str() == "imagine" && sub.str() == "models") continue;
        auto name = fmt::format("[{}] {}", key.str(), sub.str());
        if (!known.contains(name)) {
          return fail(ErrorKind::kInvalidArgument,
                      fmt::format("config: {}: unknown key {} (see mando.example.toml for the "
                                  "keys mando reads)",
                                  *path, name));
        }
      }
    } else if (!known.contains(std::string(key.str()))) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("config: {}: unknown key {}", *path, key.str()));
    }
  }

  if (auto queues = detail::read_declared_queues(file, path.value_or("")); !queues) {
    return tl::unexpected(queues.error());
  } else {
    config.queues = std::move(*queues);
  }
  if (auto guilds = detail::read_guild_limits(file, path.value_or("")); !guilds) {
    return tl::unexpected(guilds.error());
  } else {
    config.guilds = std::move(*guilds);
  }

  std::set<std::string> used_env;
  if (auto models =
          detail::read_imagine_models(file, path.value_or(""), env, used_env, config.warnings);
      !models) {
    return tl::unexpected(models.error());
  } else {
    config.imagine.models = std::move(*models);
  }
  for (const auto& f : fields()) {
    auto name = env_name(f);
    std::optional<Source> src;
    auto env_value = env.find(name);
    auto env_file = env.find(name + "_FILE");
    if (env_value != env.end() && f.secret && env_file != env.end()) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("config: both {} and {}_FILE are set; set only one", name, name));
    }
    if (env_value != env.end()) {
      src = Source{env_value->second, "from " + name};
    } else if (f.secret && env_file != env.end()) {
      src = Source{env_file->second, "from " + name + "_FILE", true};
    } else if (path) {
      const toml::node* node =
          f.section.empty() ? file.get(f.key) : file.at_path(f.section + "." + f.key).node();
      const toml::node* file_node =
          f.secret
              ? file.at_path((f.section.empty() ? "" : f.section + ".") + f.key + "_file").node()
              : nullptr;
      if (node != nullptr) {
        const bool list = f.kind == Kind::kList;
        auto text = list ? list_text(*node) : detail::scalar_text(*node);
        if (!text) {
          return fail(ErrorKind::kInvalidArgument,
                      fmt::format("config: {} (in {}): must be {}", qualified(f), *path,
                                  list ? "an array of strings" : "a string or a number"));
        }
        src = Source{*text, "in " + *path};
        if (f.secret && !text->empty()) {
          config.warnings.push_back(fmt::format(
              "{} is written in {}; prefer {} or {}_file so the secret stays out of files that "
              "get shared",
              qualified(f), *path, name, f.key));
        }
      } else if (file_node != nullptr) {
        auto text = detail::scalar_text(*file_node);
        if (!text) {
          return fail(ErrorKind::kInvalidArgument,
                      fmt::format("config: {}_file (in {}): must be a path", qualified(f), *path));
        }
        src = Source{*text, "file named in " + *path, true};
      }
    }
    used_env.insert(name);
    used_env.insert(name + "_FILE");
    if (src) {
      if (auto r = apply(config, f, *src); !r) return tl::unexpected(r.error());
    }
  }

  if (auto ok = detail::check_default_model(config.imagine); !ok) {
    return tl::unexpected(ok.error());
  }
  for (const auto& [name, value] : env) {
    if (name.starts_with("MANDO_") && !used_env.contains(name) && !name.starts_with("MANDO_TEST")) {
      config.warnings.push_back(
          fmt::format("environment variable {} is not a mando setting", name));
    }
  }
  return config;
}

std::string render_config(const Config& config) {
  std::string out;
  std::string section = "\x01";
  for (const auto& f : fields()) {
    if (f.section != section) {
      section = f.section;
      if (!section.empty()) out += fmt::format("\n[{}]\n", section);
    }
    std::string value = f.get(config);
    if (f.secret && !value.empty()) value = "<redacted>";
    bool quoted = f.kind != Kind::kInt && f.kind != Kind::kSize && f.kind != Kind::kBool &&
                  f.kind != Kind::kList;
    out += quoted ? fmt::format("{} = \"{}\"\n", f.key, value)
                  : fmt::format("{} = {}\n", f.key, value);
  }
  out += detail::render_tables(config);
  return out;
}

}  // namespace mando::core
