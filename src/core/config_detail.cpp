#include "core/config_detail.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "core/duration.hpp"

namespace mando::core::detail {

std::string check_one_of(const std::string& text, std::initializer_list<std::string_view> allowed) {
  for (auto a : allowed) {
    if (text == a) return {};
  }
  return fmt::format("must be one of {}, got \"{}\"", fmt::join(allowed, ", "), text);
}

std::string check_host_port(const std::string& text) {
  static const std::regex re(R"(^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):[0-9]{1,5}$)");
  if (!std::regex_match(text, re) || std::stoi(text.substr(text.rfind(':') + 1)) > 65535) {
    return fmt::format(
        "must be HOST:PORT such as 127.0.0.1:8080, 0.0.0.0:0 or [::1]:8080, got "
        "\"{}\"",
        text);
  }
  return {};
}

std::string check_hex_key(const std::string& text) {
  static const std::regex re("^([0-9A-Fa-f]{64})?$");
  if (!std::regex_match(text, re)) {
    return fmt::format(
        "must be 64 hex characters (the application's Ed25519 public key from "
        "the Discord developer portal), got {} characters",
        text.size());
  }
  return {};
}

std::string check_snowflake(const std::string& text) {
  static const std::regex re("^([0-9]{1,20})?$");
  if (!std::regex_match(text, re)) return "must be a Discord snowflake (digits only)";
  return {};
}

std::string check_http_url(const std::string& text) {
  static const std::regex re("^https?://[^\\s/]+(/[^\\s]*)?$");
  if (!std::regex_match(text, re)) {
    return fmt::format("must be an http:// or https:// URL, got \"{}\"", text);
  }
  return {};
}

std::string check_not_empty(const std::string& text) {
  return text.empty() ? "must not be empty" : "";
}

// A scalar TOML value as the text the field parsers take.
std::optional<std::string> scalar_text(const toml::node& node) {
  if (auto s = node.as_string()) return s->get();
  if (auto d = node.as_floating_point()) return fmt::format("{}", d->get());
  if (auto i = node.as_integer()) return std::to_string(i->get());
  if (auto b = node.as_boolean()) return b->get() ? "true" : "false";
  return std::nullopt;
}

Result<std::string> read_config_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ErrorKind::kInvalidArgument, fmt::format("{}: cannot read \"{}\"", what, path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

namespace {

// Tables keyed by a free-form id, such as [queues.ID] and [guilds.ID]. They are read from the
// file only: their ids have no MANDO_* names. `read_key` sets one key of the entry for `id` and
// answers false for a key it does not know.
template <typename Entry>
using KeyReader = std::function<Result<bool>(Entry& entry, const std::string& key,
                                             const toml::node& value, const std::string& field)>;

Result<void> bad_table_key(const std::string& path, std::string_view what, std::string_view why) {
  return fail(ErrorKind::kInvalidArgument, fmt::format("config: {} (in {}): {}", what, path, why));
}

template <typename Entry>
Result<std::vector<Entry>> read_id_tables(const toml::table& file, const std::string& path,
                                          std::string_view root_key, std::string_view example,
                                          std::string Entry::*id_member,
                                          const KeyReader<Entry>& read_key) {
  std::vector<Entry> out;
  const toml::node* root = file.at_path(root_key).node();
  if (root == nullptr) return out;
  const toml::table* tables = root->as_table();
  if (tables == nullptr) {
    return tl::unexpected(
        bad_table_key(path, root_key, fmt::format("must be tables such as {}", example)).error());
  }
  for (const auto& [id, node] : *tables) {
    const std::string name = fmt::format("[{}.{}]", root_key, id.str());
    const toml::table* table = node.as_table();
    if (table == nullptr)
      return tl::unexpected(bad_table_key(path, name, "must be a table").error());
    Entry entry;
    entry.*id_member = std::string(id.str());
    for (const auto& [key, value] : *table) {
      const std::string field = fmt::format("{} {}", name, key.str());
      auto known = read_key(entry, std::string(key.str()), value, field);
      if (!known) return tl::unexpected(known.error());
      if (!*known) {
        return tl::unexpected(bad_table_key(path, field,
                                            fmt::format("unknown key (see mando.example.toml for "
                                                        "the keys of {})",
                                                        example))
                                  .error());
      }
    }
    out.push_back(std::move(entry));
  }
  return out;
}

Result<void> read_int(const std::string& path, const toml::node& value, const std::string& field,
                      int& out) {
  auto v = value.as_integer();
  if (v == nullptr) return bad_table_key(path, field, "must be an integer");
  out = static_cast<int>(v->get());
  return {};
}

}  // namespace

Result<std::vector<DeclaredQueue>> read_declared_queues(const toml::table& file,
                                                        const std::string& path) {
  KeyReader<DeclaredQueue> read_key = [&path](DeclaredQueue& q, const std::string& key,
                                              const toml::node& value,
                                              const std::string& field) -> Result<bool> {
    auto duration = [&](std::optional<std::chrono::milliseconds>& out_value) -> Result<void> {
      auto text = value.as_string();
      if (text == nullptr) {
        return bad_table_key(path, field, "must be a duration such as \"100ms\" or \"1h\"");
      }
      auto d = parse_duration(text->get());
      if (!d) return bad_table_key(path, field, d.error().message);
      out_value = *d;
      return {};
    };
    Result<void> ok;
    if (key == "max_dispatches_per_second") {
      auto v = value.value<double>();
      if (!v) return tl::unexpected(bad_table_key(path, field, "must be a number").error());
      q.max_dispatches_per_second = *v;
    } else if (key == "max_burst_size") {
      ok = read_int(path, value, field, q.max_burst_size);
    } else if (key == "max_concurrent_dispatches") {
      ok = read_int(path, value, field, q.max_concurrent_dispatches);
    } else if (key == "max_attempts") {
      ok = read_int(path, value, field, q.max_attempts);
    } else if (key == "max_doublings") {
      ok = read_int(path, value, field, q.max_doublings);
    } else if (key == "max_retry_duration") {
      ok = duration(q.max_retry_duration);
    } else if (key == "min_backoff") {
      ok = duration(q.min_backoff);
    } else if (key == "max_backoff") {
      ok = duration(q.max_backoff);
    } else if (key == "worker_base_url") {
      auto text = value.as_string();
      if (text == nullptr)
        return tl::unexpected(bad_table_key(path, field, "must be a string").error());
      if (auto why = check_http_url(text->get()); !why.empty()) {
        return tl::unexpected(bad_table_key(path, field, why).error());
      }
      q.worker_base_url = text->get();
    } else if (key == "paused") {
      auto v = value.as_boolean();
      if (v == nullptr)
        return tl::unexpected(bad_table_key(path, field, "must be true or false").error());
      q.paused = v->get();
    } else {
      return false;
    }
    if (!ok) return tl::unexpected(ok.error());
    return true;
  };
  return read_id_tables(file, path, "queues", "[queues.images]", &DeclaredQueue::id, read_key);
}

Result<std::vector<GuildLimits>> read_guild_limits(const toml::table& file,
                                                   const std::string& path) {
  KeyReader<GuildLimits> read_key = [&path](GuildLimits& g, const std::string& key,
                                            const toml::node& value,
                                            const std::string& field) -> Result<bool> {
    Result<void> ok;
    if (key == "max_running_per_user") {
      ok = read_int(path, value, field, g.max_running_per_user);
    } else if (key == "max_queued_per_user") {
      ok = read_int(path, value, field, g.max_queued_per_user);
    } else {
      return false;
    }
    if (!ok) return tl::unexpected(ok.error());
    if (g.max_running_per_user < 0 || g.max_queued_per_user < 0) {
      return tl::unexpected(bad_table_key(path, field, "must not be negative").error());
    }
    return true;
  };
  auto guilds = read_id_tables(file, path, "guilds", "[guilds.123456789012345678]",
                               &GuildLimits::guild_id, read_key);
  if (!guilds) return guilds;
  for (const auto& g : *guilds) {
    if (auto why = check_snowflake(g.guild_id); !why.empty() || g.guild_id.empty()) {
      return tl::unexpected(bad_table_key(path, fmt::format("[guilds.{}]", g.guild_id),
                                          "the id must be a guild id "
                                          "(digits only)")
                                .error());
    }
  }
  return guilds;
}

namespace {

// An environment name's part for a model NAME: capitals, '-' as '_'.
std::string env_part(std::string_view name) {
  std::string out;
  for (char c : name) {
    out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

bool valid_model_name(std::string_view name) {
  static const std::regex re("^[a-z0-9_-]{1,32}$");
  return std::regex_match(name.begin(), name.end(), re);
}

// A model's secret from the environment, which wins over the file as for every other key.
Result<void> model_secret_from_env(const Environment& env, const std::string& variable,
                                   std::set<std::string>& used_env, std::string& out) {
  used_env.insert(variable);
  used_env.insert(variable + "_FILE");
  const auto value = env.find(variable);
  const auto file = env.find(variable + "_FILE");
  if (value != env.end() && file != env.end()) {
    return fail(
        ErrorKind::kInvalidArgument,
        fmt::format("config: both {} and {}_FILE are set; set only one", variable, variable));
  }
  if (value != env.end()) out = value->second;
  if (file != env.end()) {
    auto text = read_config_file(file->second, fmt::format("{}_FILE", variable));
    if (!text) return tl::unexpected(text.error());
    out = std::move(*text);
  }
  return {};
}

}  // namespace

Result<std::vector<ImagineModel>> read_imagine_models(const toml::table& file,
                                                      const std::string& path,
                                                      const Environment& env,
                                                      std::set<std::string>& used_env,
                                                      std::vector<std::string>& warnings) {
  KeyReader<ImagineModel> read_key = [&](ImagineModel& m, const std::string& key,
                                         const toml::node& value,
                                         const std::string& field) -> Result<bool> {
    auto text = [&](std::string& out) -> Result<void> {
      auto s = value.as_string();
      if (s == nullptr) return bad_table_key(path, field, "must be a string");
      out = s->get();
      return {};
    };
    auto flag = [&](bool& out) -> Result<void> {
      auto b = value.as_boolean();
      if (b == nullptr) return bad_table_key(path, field, "must be true or false");
      out = b->get();
      return {};
    };
    auto secret_file = [&](std::string& out) -> Result<void> {
      std::string file_path;
      if (auto ok = text(file_path); !ok) return ok;
      auto content = read_config_file(file_path, fmt::format("config: {} (in {})", field, path));
      if (!content) return tl::unexpected(content.error());
      out = std::move(*content);
      return {};
    };
    Result<void> ok;
    if (key == "provider") {
      ok = text(m.provider);
      if (ok) {
        if (auto why = check_one_of(m.provider, {"replicate", "fal", "openai"}); !why.empty()) {
          ok = bad_table_key(path, field, why);
        }
      }
    } else if (key == "endpoint") {
      ok = text(m.endpoint);
      if (ok) {
        if (auto why = check_http_url(m.endpoint); !why.empty())
          ok = bad_table_key(path, field, why);
      }
    } else if (key == "version") {
      ok = text(m.version);
    } else if (key == "api_token" || key == "webhook_secret") {
      std::string& secret = key == "api_token" ? m.api_token : m.webhook_secret;
      ok = text(secret);
      if (ok && !secret.empty()) {
        warnings.push_back(fmt::format(
            "{} is written in {}; prefer {}_file or MANDO_IMAGINE_MODELS_{}_{} so the secret "
            "stays out of files that get shared",
            field, path, key, env_part(m.name), env_part(key)));
      }
    } else if (key == "api_token_file") {
      ok = secret_file(m.api_token);
    } else if (key == "webhook_secret_file") {
      ok = secret_file(m.webhook_secret);
    } else if (key == "jwks_url") {
      ok = text(m.jwks_url);
      if (ok) {
        if (auto why = check_http_url(m.jwks_url); !why.empty())
          ok = bad_table_key(path, field, why);
      }
    } else if (key == "input") {
      const toml::table* table = value.as_table();
      if (table == nullptr) {
        ok = bad_table_key(path, field, "must be a table such as { prompt = \"{prompt}\" }");
      } else {
        std::ostringstream json;
        json << toml::json_formatter{*table};
        // On one line: JSON strings hold no raw line ends, so a line end and the indentation
        // after it are layout.
        m.input.clear();
        bool indent = false;
        for (char c : json.str()) {
          if (c == '\n') indent = true;
          if (indent && (c == '\n' || c == ' ' || c == '\t')) continue;
          indent = false;
          m.input.push_back(c);
        }
      }
    } else if (key == "description") {
      ok = text(m.description);
    } else if (key == "price") {
      ok = text(m.price);
    } else if (key == "max_count") {
      ok = read_int(path, value, field, m.max_count);
      if (ok && (m.max_count < 1 || m.max_count > 4)) {
        ok = bad_table_key(path, field, "must be from 1 to 4");
      }
    } else if (key == "video") {
      ok = flag(m.video);
    } else if (key == "image_input") {
      ok = flag(m.image_input);
    } else if (key == "upscale") {
      ok = text(m.upscale);
    } else if (key == "nsfw") {
      ok = flag(m.nsfw);
    } else if (key == "timeout") {
      std::string t;
      ok = text(t);
      if (ok) {
        auto d = parse_duration(t);
        if (!d || *d < std::chrono::seconds(1) || *d > std::chrono::minutes(14)) {
          ok = bad_table_key(path, field, "must be a duration from 1s to 14m such as \"2m\"");
        } else {
          m.timeout = *d;
        }
      }
    } else {
      return false;
    }
    if (!ok) return tl::unexpected(ok.error());
    return true;
  };
  auto models = read_id_tables(file, path, "imagine.models", "[imagine.models.flux]",
                               &ImagineModel::name, read_key);
  if (!models) return models;
  for (auto& m : *models) {
    const std::string name = fmt::format("[imagine.models.{}]", m.name);
    if (!valid_model_name(m.name)) {
      return tl::unexpected(
          bad_table_key(path, name, "NAME must be 1 to 32 of a-z, 0-9, '-' and '_'").error());
    }
    for (auto [key, value] : {std::pair{"provider", &m.provider}, {"endpoint", &m.endpoint}}) {
      if (value->empty()) {
        return tl::unexpected(
            bad_table_key(path, name, fmt::format("{} is required", key)).error());
      }
    }
    if (m.version.empty() && m.provider != "openai") {
      return tl::unexpected(bad_table_key(path, name, "version is required").error());
    }
    const std::string prefix = "MANDO_IMAGINE_MODELS_" + env_part(m.name);
    for (const auto& other : *models) {
      if (&other != &m && other.name < m.name && env_part(other.name) == env_part(m.name)) {
        return tl::unexpected(
            bad_table_key(path, name,
                          fmt::format("its secrets' variables ({}_...) are also those of "
                                      "[imagine.models.{}]: rename one",
                                      prefix, other.name))
                .error());
      }
    }
    if (auto ok = model_secret_from_env(env, prefix + "_API_TOKEN", used_env, m.api_token); !ok) {
      return tl::unexpected(ok.error());
    }
    if (auto ok =
            model_secret_from_env(env, prefix + "_WEBHOOK_SECRET", used_env, m.webhook_secret);
        !ok) {
      return tl::unexpected(ok.error());
    }
  }
  return models;
}

Result<void> check_default_model(ImagineConfig& imagine) {
  for (const auto& m : imagine.models) {
    if (m.upscale.empty()) continue;
    auto it = std::find_if(imagine.models.begin(), imagine.models.end(),
                           [&](const ImagineModel& other) { return other.name == m.upscale; });
    if (it == imagine.models.end() || !it->image_input) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("config: [imagine.models.{}] upscale: no [imagine.models.{}] table "
                              "with image_input = true",
                              m.name, m.upscale));
    }
  }
  if (imagine.default_model.empty()) {
    if (!imagine.models.empty()) imagine.default_model = imagine.models.front().name;
    return {};
  }
  for (const auto& m : imagine.models) {
    if (m.name == imagine.default_model) return {};
  }
  return fail(ErrorKind::kInvalidArgument,
              fmt::format("config: [imagine] default_model: no [imagine.models.{}] table",
                          imagine.default_model));
}

std::string render_tables(const Config& config) {
  std::string out;
  for (const DeclaredQueue& q : config.queues) {
    out += fmt::format("\n[queues.{}]\n", q.id);
    auto number = [&out](std::string_view key, auto v) {
      if (v != 0) out += fmt::format("{} = {}\n", key, v);
    };
    auto duration = [&out](std::string_view key, const auto& v) {
      if (v) out += fmt::format("{} = \"{}\"\n", key, format_duration(*v));
    };
    number("max_dispatches_per_second", q.max_dispatches_per_second);
    number("max_burst_size", q.max_burst_size);
    number("max_concurrent_dispatches", q.max_concurrent_dispatches);
    number("max_attempts", q.max_attempts);
    duration("max_retry_duration", q.max_retry_duration);
    duration("min_backoff", q.min_backoff);
    duration("max_backoff", q.max_backoff);
    number("max_doublings", q.max_doublings);
    if (!q.worker_base_url.empty())
      out += fmt::format("worker_base_url = \"{}\"\n", q.worker_base_url);
    if (q.paused) out += "paused = true\n";
  }
  for (const GuildLimits& g : config.guilds) {
    out += fmt::format("\n[guilds.{}]\n", g.guild_id);
    if (g.max_running_per_user != 0)
      out += fmt::format("max_running_per_user = {}\n", g.max_running_per_user);
    if (g.max_queued_per_user != 0)
      out += fmt::format("max_queued_per_user = {}\n", g.max_queued_per_user);
  }
  for (const ImagineModel& m : config.imagine.models) {
    out += fmt::format("\n[imagine.models.{}]\n", m.name);
    auto string = [&out](std::string_view key, const std::string& value) {
      // TOML basic strings: the configuration's own text, quotes and backslashes escaped.
      std::string escaped;
      for (char c : value) {
        if (c == '"' || c == '\\') escaped.push_back('\\');
        escaped.push_back(c);
      }
      if (!value.empty()) out += fmt::format("{} = \"{}\"\n", key, escaped);
    };
    string("provider", m.provider);
    string("endpoint", m.endpoint);
    string("version", m.version);
    if (!m.api_token.empty()) out += "api_token = \"<redacted>\"\n";
    if (!m.webhook_secret.empty()) out += "webhook_secret = \"<redacted>\"\n";
    string("jwks_url", m.jwks_url);
    string("description", m.description);
    string("price", m.price);
    string("upscale", m.upscale);
    out +=
        fmt::format("max_count = {}\nvideo = {}\nimage_input = {}\nnsfw = {}\ntimeout = \"{}\"\n",
                    m.max_count, m.video, m.image_input, m.nsfw, format_duration(m.timeout));
    // The template back as a TOML inline table: it came from TOML, so it holds no nulls, and
    // JSON with quoted keys becomes TOML once each ':' between a key and its value is '='.
    if (!m.input.empty()) {
      out += "input = ";
      bool in_string = false;
      bool escaped = false;
      for (char c : m.input) {
        if (in_string) {
          in_string = escaped || c != '"';
          escaped = !escaped && c == '\\';
        } else if (c == '"') {
          in_string = true;
        } else if (c == ':') {
          out += " = ";
          continue;
        }
        out.push_back(c);
      }
      out += "\n";
    }
  }
  return out;
}

}  // namespace mando::core::detail
