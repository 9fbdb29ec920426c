#pragma once
// Inside load_config() (config.cpp): the checks its keys share, and the readers of the tables
// keyed by a free-form id ([queues.ID], [guilds.ID], [imagine.models.NAME]), which are read from
// the file and have no MANDO_* names of their own. Not for use outside core.

#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "core/config.hpp"

namespace mando::core::detail {

// Each check answers "" when `text` is fine, else why not (for "config: KEY (WHERE): WHY").
std::string check_one_of(const std::string& text, std::initializer_list<std::string_view> allowed);
std::string check_host_port(const std::string& text);
std::string check_hex_key(const std::string& text);
std::string check_snowflake(const std::string& text);
std::string check_http_url(const std::string& text);
std::string check_not_empty(const std::string& text);

// A scalar TOML value as the text the field parsers take.
std::optional<std::string> scalar_text(const toml::node& node);
// A *_file indirection's content, line ends trimmed; `what` names the key for the error.
Result<std::string> read_config_file(const std::string& path, const std::string& what);

Result<std::vector<DeclaredQueue>> read_declared_queues(const toml::table& file,
                                                        const std::string& path);
Result<std::vector<GuildLimits>> read_guild_limits(const toml::table& file,
                                                   const std::string& path);

// [imagine.models.NAME] tables. Their secrets may also come from the environment:
// MANDO_IMAGINE_MODELS_<NAME>_API_TOKEN and _WEBHOOK_SECRET (NAME in capitals, '-' as '_'),
// each with a _FILE form; the names read go into `used_env`, secrets written into the file
// add a warning.
Result<std::vector<ImagineModel>> read_imagine_models(const toml::table& file,
                                                      const std::string& path,
                                                      const Environment& env,
                                                      std::set<std::string>& used_env,
                                                      std::vector<std::string>& warnings);
// [imagine] default_model names a declared model (or is empty: the first), and every model's
// upscale names one that takes an image.
Result<void> check_default_model(ImagineConfig& imagine);

// The id tables of `config` as TOML, for `mando config show`.
std::string render_tables(const Config& config);

}  // namespace mando::core::detail
