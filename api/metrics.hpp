#pragma once
// A small Prometheus registry: counters, gauges (set or computed by a callback), histograms with
// fixed buckets, each a family with label names; rendered in the text exposition format 0.0.4.
//
// Usage:
//   MetricsRegistry m;
//   auto& requests = m.AddCounter("keyledger_http_requests_total", "HTTP requests.",
//                                 {"method", "route", "status"});
//   requests.WithLabels({"GET", "/healthz", "200"}).Inc();
//   m.AddCallbackGauge("keyledger_head_sequence", "Last appended sequence.", [&] { return h; });
//   std::string text = m.Render();
//
// Thread safety: everything may be called from any thread. Families and series live as long as
// the registry, so references returned by Add* and WithLabels stay valid; cache them on hot
// paths. Callback gauges run inside Render() on the rendering thread, under the registry lock:
// they must be quick and must not call back into the registry.
// Registering a name twice with the same type returns the existing family; with another type,
// different label names or invalid names it throws std::logic_error (a programming error).

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/handler.hpp"

namespace keyledger::api {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Latency buckets in seconds, 0.5 ms .. 10 s.
const std::vector<double>& DefaultLatencyBuckets();

class Counter {
 public:
  void Inc(double v = 1) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double>* bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket, non-cumulative, last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// One metric name with label names; series are created on first use.
template <typename Cell>
class Family {
 public:
  // `values` must have one entry per label name (extra or missing values are a programming
  // error: std::logic_error).
  Cell& WithLabels(std::initializer_list<std::string_view> values);
  Cell& WithLabels(const std::vector<std::string>& values);
  // The series without labels (families declared without label names).
  Cell& Get() { return WithLabels(std::vector<std::string>{}); }

 private:
  friend class MetricsRegistry;
  Family(std::vector<std::string> label_names, const std::vector<double>* bounds)
      : label_names_(std::move(label_names)), bounds_(bounds) {}
  std::unique_ptr<Cell> MakeCell() const;

  std::vector<std::string> label_names_;
  const std::vector<double>* bounds_;  // histograms only
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Cell>> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class MetricsRegistry {
 public:
  MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;
  ~MetricsRegistry();

  CounterFamily& AddCounter(std::string_view name, std::string_view help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(std::string_view name, std::string_view help,
                        std::vector<std::string> label_names = {});
  // `buckets`: strictly increasing upper bounds, without +Inf.
  HistogramFamily& AddHistogram(std::string_view name, std::string_view help,
                                std::vector<double> buckets,
                                std::vector<std::string> label_names = {});
  // A gauge whose value is computed at render time.
  void AddCallbackGauge(std::string_view name, std::string_view help, std::function<double()> fn);
  // A gauge family whose series are all computed at render time: `fn` returns one label value
  // per label name with each sample (a sample with the wrong number of values is skipped).
  // The series come from the server's own structures, never from client input.
  using LabeledSamples = std::vector<std::pair<std::vector<std::string>, double>>;
  void AddCallbackGaugeFamily(std::string_view name, std::string_view help,
                              std::vector<std::string> label_names,
                              std::function<LabeledSamples()> fn);

  // The text exposition format 0.0.4, families in registration order, series sorted by labels.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram, kCallbackGauge, kCallbackGaugeFamily };
  struct Entry;
  Entry& Register(std::string_view name, std::string_view help, Type type,
                  std::vector<std::string> label_names, std::vector<double> buckets);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

// A handler for a public `GET /metrics` route: 200 with Render() as text/plain; version=0.0.4.
// `registry` must outlive the handler.
Handler MetricsHandler(const MetricsRegistry& registry);

// Formats a sample value the way Prometheus clients do: integers without a fraction, "+Inf",
// "-Inf", "NaN", otherwise the shortest round-trip decimal.
std::string FormatMetricValue(double v);
// Escapes a label value (backslash, double quote, newline).
std::string EscapeLabelValue(std::string_view v);

}  // namespace keyledger::api
