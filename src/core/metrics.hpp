#pragma once
// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
// text exposition format 0.0.4. Hand-written because Debian 12 packages no C++ Prometheus
// client; it covers what mando exports and nothing more.
//
// Thread-safety: every method may be called from any thread. Looking up a labelled series takes
// a shared lock; updating a series is a relaxed atomic operation, so hot paths should keep the
// reference returned by a family's labels() when the labels are fixed.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

namespace mando::core {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf last
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // non-cumulative, +Inf last
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, 100 µs to 10 s.
std::vector<double> latency_buckets();

template <typename Series>
class Family {
 public:
  // The series for `label_values`, in the order of the family's label names; created on first
  // use. The reference stays valid for the registry's lifetime.
  Series& labels(const std::vector<std::string>& label_values);

 private:
  friend class MetricsRegistry;
  Family(std::vector<std::string> label_names, std::function<std::unique_ptr<Series>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}

  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<Series>()> make_;
  mutable std::shared_mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_;
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();

  // Each name may be registered once; registering it again returns the same family when the
  // kind and labels match and aborts otherwise (a programming error).
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds,
                               std::vector<std::string> label_names = {});
  // A gauge whose value is computed when scraped (process RSS, queue depth).
  void callback_gauge(const std::string& name, const std::string& help,
                      std::function<double()> read);

  // The whole registry in Prometheus text format.
  std::string render() const;

 private:
  struct Entry;
  Entry& entry(const std::string& name, const std::string& help, int kind,
               const std::vector<std::string>& label_names);
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;
};

template <typename Series>
Series& Family<Series>::labels(const std::vector<std::string>& label_values) {
  {
    std::shared_lock lock(mutex_);
    if (auto it = series_.find(label_values); it != series_.end()) return *it->second;
  }
  std::unique_lock lock(mutex_);
  auto& slot = series_[label_values];
  if (!slot) slot = make_();
  return *slot;
}

// Resident set size of this process in bytes, from /proc/self/statm (0 if unreadable).
std::int64_t process_rss_bytes();

}  // namespace mando::core
