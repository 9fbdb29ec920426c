#include "core/metrics.hpp"

#include <thread>

#include <gtest/gtest.h>

namespace mando::core {
namespace {

TEST(Metrics, RendersCountersWithLabelsInPrometheusFormat) {
  MetricsRegistry registry;
  auto& requests = registry.counter("http_requests_total", "Requests", {"route", "status"});
  requests.labels({"/a", "200"}).inc();
  requests.labels({"/a", "200"}).inc(2);
  requests.labels({"/b\"x", "404"}).inc();
  auto text = registry.render();
  EXPECT_NE(text.find("# HELP http_requests_total Requests\n# TYPE http_requests_total counter\n"),
            std::string::npos);
  EXPECT_NE(text.find("http_requests_total{route=\"/a\",status=\"200\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("http_requests_total{route=\"/b\\\"x\",status=\"404\"} 1\n"),
            std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulativeAndCountMatchesInf) {
  MetricsRegistry registry;
  auto& h = registry.histogram("latency_seconds", "Latency", {0.1, 1}, {}).labels({});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  auto text = registry.render();
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_sum 5.55\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_count 3\n"), std::string::npos);
}

TEST(Metrics, GaugesAndCallbackGauges) {
  MetricsRegistry registry;
  registry.gauge("in_flight", "In flight").labels({}).add(3);
  registry.callback_gauge("answer", "The answer", [] { return 42.0; });
  auto text = registry.render();
  EXPECT_NE(text.find("# TYPE in_flight gauge\nin_flight 3\n"), std::string::npos);
  EXPECT_NE(text.find("answer 42\n"), std::string::npos);
}

TEST(Metrics, SameNameTwiceReturnsSameFamily) {
  MetricsRegistry registry;
  auto& a = registry.counter("c", "C", {"x"});
  auto& b = registry.counter("c", "C", {"x"});
  EXPECT_EQ(&a, &b);
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry registry;
  auto& family = registry.counter("c", "C", {"t"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&family] {
      for (int i = 0; i < 10000; ++i) family.labels({"same"}).inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(family.labels({"same"}).value(), 40000u);
}

TEST(Metrics, ProcessRssIsPositive) { EXPECT_GT(process_rss_bytes(), 0); }

}  // namespace
}  // namespace mando::core
