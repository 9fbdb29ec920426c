#include "core/log.hpp"

#include <chrono>
#include <mutex>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/details/registry.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

namespace mando::core {
namespace {

// {"ts":"2026-11-22T07:42:08.123Z","level":"info","logger":"net","msg":"..."}: one object per
// line, the message escaped; spdlog's pattern formatter cannot escape, hence this class.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch());
    std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    auto level = spdlog::level::to_string_view(msg.level);
    fmt::format_to(
        std::back_inserter(dest),
        R"({{"ts":"{:%Y-%m-%dT%H:%M:%S}.{:03d}Z","level":"{}","logger":"{}","msg":"{}"}})"
        "\n",
        tm, static_cast<int>(ms.count() % 1000), std::string_view(level.data(), level.size()),
        json_escape(std::string_view(msg.logger_name.data(), msg.logger_name.size())),
        json_escape(std::string_view(msg.payload.data(), msg.payload.size())));
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

struct State {
  std::mutex mutex;
  spdlog::sink_ptr sink;
  spdlog::level::level_enum level = spdlog::level::info;
};

State& state() {
  static State s;
  return s;
}

spdlog::sink_ptr make_sink(LogFormat format) {
  if (format == LogFormat::kJson) {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(std::make_unique<JsonFormatter>());
    return sink;
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(spdlog::color_mode::automatic);
  sink->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %-8n %v");
  return sink;
}

}  // namespace

Result<void> init_logging(const LogOptions& options) {
  auto level = spdlog::level::from_str(options.level);
  // from_str maps anything unknown to "off"; only "off" itself may mean off.
  if (level == spdlog::level::off && options.level != "off") {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("[log] level: unknown level \"{}\" (allowed: trace, debug, info, "
                            "warn, error, off)",
                            options.level));
  }
  auto& s = state();
  std::lock_guard lock(s.mutex);
  s.sink = make_sink(options.format);
  s.level = level;
  spdlog::details::registry::instance().apply_all([&](std::shared_ptr<spdlog::logger> l) {
    l->sinks() = {s.sink};
    l->set_level(level);
  });
  return {};
}

std::shared_ptr<spdlog::logger> logger(std::string_view module) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  std::string name(module);
  if (auto existing = spdlog::get(name)) return existing;
  if (!s.sink) s.sink = make_sink(LogFormat::kText);
  auto l = std::make_shared<spdlog::logger>(name, s.sink);
  l->set_level(s.level);
  l->flush_on(spdlog::level::warn);
  spdlog::register_logger(l);
  return l;
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

}  // namespace mando::core
