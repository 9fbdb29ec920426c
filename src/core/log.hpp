#pragma once
// Logging: one spdlog logger per module ("net", "discord", ...) sharing one sink, writing text
// to a terminal or JSON lines (one object per line, for log shippers) to stderr.
//
// Log where an error is handled, with key=value context. Never log tokens, signatures or
// secrets: they are not passed to loggers at all.

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "core/error.hpp"

namespace mando::core {

enum class LogFormat { kText, kJson };

struct LogOptions {
  std::string level = "info";  // trace, debug, info, warn, error, off
  LogFormat format = LogFormat::kText;
};

// Configures every logger, existing and future. Safe to call more than once (tests do).
Result<void> init_logging(const LogOptions& options);

// The logger for `module`, created on first use with the current sink and level.
std::shared_ptr<spdlog::logger> logger(std::string_view module);

// Escapes `s` for use inside a JSON string literal (without the quotes).
std::string json_escape(std::string_view s);

}  // namespace mando::core
