#include "core/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <variant>

#include <fmt/format.h>

#include <unistd.h>

namespace mando::core {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double old = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  // count_ may run ahead of the buckets during a concurrent observe(); the +Inf bucket must
  // equal _count in the exposition, so both come from the buckets.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

namespace {

enum Kind { kCounter, kGauge, kHistogram, kCallback };

std::string escape_label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

// {a="1",b="2"} plus an optional extra label (le for histogram buckets).
std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", names[i], escape_label(values[i]));
  }
  if (!extra_name.empty()) {
    out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", extra_name, extra_value);
  }
  return out.empty() ? out : "{" + out + "}";
}

}  // namespace

struct MetricsRegistry::Entry {
  int kind;
  std::string help;
  std::vector<std::string> label_names;
  std::variant<std::monostate, std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
               std::unique_ptr<Family<Histogram>>, std::function<double()>>
      impl;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Entry& MetricsRegistry::entry(const std::string& name, const std::string& help,
                                               int kind,
                                               const std::vector<std::string>& label_names) {
  auto& slot = entries_[name];
  if (!slot) {
    slot = std::make_unique<Entry>(Entry{kind, help, label_names, {}});
  } else if (slot->kind != kind || slot->label_names != label_names) {
    fmt::print(stderr, "metrics: {} registered twice with different kinds or labels\n", name);
    std::abort();
  }
  return *slot;
}

Family<Counter>& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  auto& e = entry(name, help, kCounter, label_names);
  if (e.impl.index() == 0) {
    e.impl = std::unique_ptr<Family<Counter>>(
        new Family<Counter>(label_names, [] { return std::make_unique<Counter>(); }));
  }
  return *std::get<1>(e.impl);
}

Family<Gauge>& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  auto& e = entry(name, help, kGauge, label_names);
  if (e.impl.index() == 0) {
    e.impl = std::unique_ptr<Family<Gauge>>(
        new Family<Gauge>(label_names, [] { return std::make_unique<Gauge>(); }));
  }
  return *std::get<2>(e.impl);
}

Family<Histogram>& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                              std::vector<double> bounds,
                                              std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  auto& e = entry(name, help, kHistogram, label_names);
  if (e.impl.index() == 0) {
    e.impl = std::unique_ptr<Family<Histogram>>(new Family<Histogram>(
        label_names, [bounds] { return std::make_unique<Histogram>(bounds); }));
  }
  return *std::get<3>(e.impl);
}

void MetricsRegistry::callback_gauge(const std::string& name, const std::string& help,
                                     std::function<double()> read) {
  std::lock_guard lock(mutex_);
  entry(name, help, kCallback, {}).impl = std::move(read);
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& entry : entries_) {
    // Plain references, not a structured binding: the lambdas below capture them, which
    // clang 14 (the fuzz build) refuses for bindings.
    const std::string& name = entry.first;
    const auto& e = entry.second;
    static constexpr std::string_view kTypes[] = {"counter", "gauge", "histogram", "gauge"};
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, e->help, name, kTypes[e->kind]);
    auto render_family = [&](const auto& family, auto&& line) {
      std::shared_lock series_lock(family->mutex_);
      for (const auto& [values, series] : family->series_) line(values, *series);
    };
    switch (e->kind) {
      case kCounter:
        render_family(std::get<1>(e->impl), [&](const auto& values, const Counter& c) {
          out += fmt::format("{}{} {}\n", name, label_set(e->label_names, values), c.value());
        });
        break;
      case kGauge:
        render_family(std::get<2>(e->impl), [&](const auto& values, const Gauge& g) {
          out += fmt::format("{}{} {}\n", name, label_set(e->label_names, values), g.value());
        });
        break;
      case kHistogram:
        render_family(std::get<3>(e->impl), [&](const auto& values, const Histogram& h) {
          auto s = h.snapshot();
          for (std::size_t i = 0; i <= s.bounds.size(); ++i) {
            std::string le = i < s.bounds.size() ? format_value(s.bounds[i]) : "+Inf";
            out += fmt::format("{}_bucket{} {}\n", name,
                               label_set(e->label_names, values, "le", le), s.cumulative[i]);
          }
          auto labels = label_set(e->label_names, values);
          out += fmt::format("{}_sum{} {}\n", name, labels, format_value(s.sum));
          out += fmt::format("{}_count{} {}\n", name, labels, s.count);
        });
        break;
      case kCallback:
        out += fmt::format("{} {}\n", name, format_value(std::get<4>(e->impl)()));
        break;
    }
  }
  return out;
}

std::int64_t process_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace mando::core
