#include "api/metrics.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <thread>

namespace keyledger::api {
namespace {

TEST(MetricsTest, RendersExpositionFormat) {
  MetricsRegistry m;
  auto& requests = m.AddCounter("test_requests_total", "Requests.", {"method", "status"});
  requests.WithLabels({"GET", "200"}).Inc();
  requests.WithLabels({"GET", "200"}).Inc(2);
  requests.WithLabels({"POST", "500"}).Inc();
  m.AddGauge("test_open", "Open things.").Get().Set(3.5);
  auto& h = m.AddHistogram("test_latency_seconds", "Latency.", {0.5, 1}, {"route"});
  h.WithLabels({"/x"}).Observe(0.25);
  h.WithLabels({"/x"}).Observe(0.5);
  h.WithLabels({"/x"}).Observe(4);
  m.AddCallbackGauge("test_head", "Head sequence.", [] { return 42.0; });
  EXPECT_EQ(m.Render(),
            "# HELP test_requests_total Requests.\n"
            "# TYPE test_requests_total counter\n"
            "test_requests_total{method=\"GET\",status=\"200\"} 3\n"
            "test_requests_total{method=\"POST\",status=\"500\"} 1\n"
            "# HELP test_open Open things.\n"
            "# TYPE test_open gauge\n"
            "test_open 3.5\n"
            "# HELP test_latency_seconds Latency.\n"
            "# TYPE test_latency_seconds histogram\n"
            "test_latency_seconds_bucket{route=\"/x\",le=\"0.5\"} 2\n"
            "test_latency_seconds_bucket{route=\"/x\",le=\"1\"} 2\n"
            "test_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n"
            "test_latency_seconds_sum{route=\"/x\"} 4.75\n"
            "test_latency_seconds_count{route=\"/x\"} 3\n"
            "# HELP test_head Head sequence.\n"
            "# TYPE test_head gauge\n"
            "test_head 42\n");
}

TEST(MetricsTest, HandlerServesTheExposition) {
  MetricsRegistry m;
  m.AddCounter("served_total", "x").Get().Inc();
  std::optional<Response> got;
  MetricsHandler(m)(std::make_shared<Request>(),
                    Responder::ForCallback([&](Response r) { got = std::move(r); }));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(got->body, m.Render());
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  MetricsRegistry m;
  m.AddCounter("c", "line1\nline2 \\ end", {"l"}).WithLabels({"a\"b\\c\nd"}).Inc();
  EXPECT_EQ(m.Render(),
            "# HELP c line1\\nline2 \\\\ end\n# TYPE c counter\nc{l=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsTest, ValueFormatting) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(-3), "-3");
  EXPECT_EQ(FormatMetricValue(0.25), "0.25");
  EXPECT_EQ(FormatMetricValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatMetricValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatMetricValue(0.0 / 0.0), "NaN");
}

TEST(MetricsTest, RegistrationRules) {
  MetricsRegistry m;
  auto& a = m.AddCounter("dup_total", "x", {"l"});
  auto& b = m.AddCounter("dup_total", "x", {"l"});
  EXPECT_EQ(&a, &b);
  EXPECT_THROW(m.AddGauge("dup_total", "x", {"l"}), std::logic_error);
  EXPECT_THROW(m.AddCounter("dup_total", "x", {"other"}), std::logic_error);
  EXPECT_THROW(m.AddCounter("bad-name", "x"), std::logic_error);
  EXPECT_THROW(m.AddCounter("ok_total", "x", {"le"}), std::logic_error);
  EXPECT_THROW(m.AddHistogram("h", "x", {1, 1}), std::logic_error);
  EXPECT_THROW(a.WithLabels({"x", "y"}), std::logic_error);
}

TEST(MetricsTest, ConcurrentUpdates) {
  MetricsRegistry m;
  auto& c = m.AddCounter("conc_total", "x", {"t"});
  auto& h = m.AddHistogram("conc_seconds", "x", {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        c.WithLabels({std::to_string(t % 2)}).Inc();
        h.Get().Observe(0.1);
        if (i % 100 == 0) (void)m.Render();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(c.WithLabels({"0"}).Value() + c.WithLabels({"1"}).Value(), 4000);
  EXPECT_EQ(h.Get().Read().count, 4000u);
}

}  // namespace
}  // namespace keyledger::api
