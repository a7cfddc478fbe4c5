#include "api/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace keyledger::api {
namespace {

bool IsMetricName(std::string_view s, bool allow_colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void AppendSample(std::string& out, std::string_view name, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, double v,
                  std::string_view extra_name = {}, std::string_view extra_value = {}) {
  out += name;
  AppendLabels(out, names, values, extra_name, extra_value);
  out += ' ';
  out += FormatMetricValue(v);
  out += '\n';
}

}  // namespace

const std::vector<double>& DefaultLatencyBuckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return kBuckets;
}

Handler MetricsHandler(const MetricsRegistry& registry) {
  return [&registry](const RequestPtr&, Responder respond) {
    respond(Response::Text(200, registry.Render(), std::string(kMetricsContentType)));
  };
}

std::string FormatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
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

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(bounds->size() + 1, 0) {}

void Histogram::Observe(double v) {
  // Buckets are "less than or equal" upper bounds.
  const auto it = std::lower_bound(bounds_->begin(), bounds_->end(), v);
  const auto idx = static_cast<size_t>(it - bounds_->begin());
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[idx];
  sum_ += v;
  ++count_;
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  std::lock_guard<std::mutex> lock(mu_);
  s.cumulative.resize(counts_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    running += counts_[i];
    s.cumulative[i] = running;
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

template <typename Cell>
std::unique_ptr<Cell> Family<Cell>::MakeCell() const {
  if constexpr (std::is_same_v<Cell, Histogram>) {
    return std::make_unique<Histogram>(bounds_);
  } else {
    return std::make_unique<Cell>();
  }
}

template <typename Cell>
Cell& Family<Cell>::WithLabels(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) {
    throw std::logic_error("metric label values do not match the label names");
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(values);
  if (it == series_.end()) it = series_.emplace(values, MakeCell()).first;
  return *it->second;
}

template <typename Cell>
Cell& Family<Cell>::WithLabels(std::initializer_list<std::string_view> values) {
  std::vector<std::string> v;
  v.reserve(values.size());
  for (std::string_view s : values) v.emplace_back(s);
  return WithLabels(v);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

struct MetricsRegistry::Entry {
  std::string name;
  std::string help;
  Type type;
  std::vector<std::string> label_names;
  std::vector<double> buckets;
  std::unique_ptr<CounterFamily> counters;
  std::unique_ptr<GaugeFamily> gauges;
  std::unique_ptr<HistogramFamily> histograms;
  std::function<double()> callback;
  std::function<LabeledSamples()> family_callback;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Entry& MetricsRegistry::Register(std::string_view name, std::string_view help,
                                                  Type type, std::vector<std::string> label_names,
                                                  std::vector<double> buckets) {
  if (!IsMetricName(name, true)) throw std::logic_error("invalid metric name");
  for (const std::string& l : label_names) {
    if (!IsMetricName(l, false) || l.rfind("__", 0) == 0 || l == "le") {
      throw std::logic_error("invalid label name for metric " + std::string(name));
    }
  }
  for (size_t i = 1; i < buckets.size(); ++i) {
    if (!(buckets[i - 1] < buckets[i])) {
      throw std::logic_error("histogram buckets must increase: " + std::string(name));
    }
  }
  for (auto& e : entries_) {
    if (e->name != name) continue;
    if (e->type != type || e->label_names != label_names || e->type == Type::kCallbackGauge ||
        e->type == Type::kCallbackGaugeFamily) {
      throw std::logic_error("metric registered twice with another shape: " + std::string(name));
    }
    return *e;
  }
  auto e = std::make_unique<Entry>();
  e->name = std::string(name);
  e->help = std::string(help);
  e->type = type;
  e->label_names = std::move(label_names);
  e->buckets = std::move(buckets);
  entries_.push_back(std::move(e));
  return *entries_.back();
}

CounterFamily& MetricsRegistry::AddCounter(std::string_view name, std::string_view help,
                                           std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = Register(name, help, Type::kCounter, std::move(label_names), {});
  if (!e.counters) e.counters.reset(new CounterFamily(e.label_names, nullptr));
  return *e.counters;
}

GaugeFamily& MetricsRegistry::AddGauge(std::string_view name, std::string_view help,
                                       std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = Register(name, help, Type::kGauge, std::move(label_names), {});
  if (!e.gauges) e.gauges.reset(new GaugeFamily(e.label_names, nullptr));
  return *e.gauges;
}

HistogramFamily& MetricsRegistry::AddHistogram(std::string_view name, std::string_view help,
                                               std::vector<double> buckets,
                                               std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = Register(name, help, Type::kHistogram, std::move(label_names), std::move(buckets));
  if (!e.histograms) e.histograms.reset(new HistogramFamily(e.label_names, &e.buckets));
  return *e.histograms;
}

void MetricsRegistry::AddCallbackGauge(std::string_view name, std::string_view help,
                                       std::function<double()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = Register(name, help, Type::kCallbackGauge, {}, {});
  e.callback = std::move(fn);
}

void MetricsRegistry::AddCallbackGaugeFamily(std::string_view name, std::string_view help,
                                             std::vector<std::string> label_names,
                                             std::function<LabeledSamples()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = Register(name, help, Type::kCallbackGaugeFamily, std::move(label_names), {});
  e.family_callback = std::move(fn);
}

std::string MetricsRegistry::Render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& e : entries_) {
    out += "# HELP ";
    out += e->name;
    out += ' ';
    out += EscapeHelp(e->help);
    out += "\n# TYPE ";
    out += e->name;
    switch (e->type) {
      case Type::kCounter: {
        out += " counter\n";
        std::lock_guard<std::mutex> series_lock(e->counters->mu_);
        for (const auto& [values, cell] : e->counters->series_) {
          AppendSample(out, e->name, e->label_names, values, cell->Value());
        }
        break;
      }
      case Type::kGauge: {
        out += " gauge\n";
        std::lock_guard<std::mutex> series_lock(e->gauges->mu_);
        for (const auto& [values, cell] : e->gauges->series_) {
          AppendSample(out, e->name, e->label_names, values, cell->Value());
        }
        break;
      }
      case Type::kCallbackGauge:
        out += " gauge\n";
        AppendSample(out, e->name, {}, {}, e->callback ? e->callback() : 0.0);
        break;
      case Type::kCallbackGaugeFamily: {
        out += " gauge\n";
        LabeledSamples samples = e->family_callback ? e->family_callback() : LabeledSamples{};
        std::sort(samples.begin(), samples.end());
        for (const auto& [values, v] : samples) {
          if (values.size() != e->label_names.size()) continue;
          AppendSample(out, e->name, e->label_names, values, v);
        }
        break;
      }
      case Type::kHistogram: {
        out += " histogram\n";
        std::lock_guard<std::mutex> series_lock(e->histograms->mu_);
        const std::string bucket_name = e->name + "_bucket";
        for (const auto& [values, cell] : e->histograms->series_) {
          const Histogram::Snapshot s = cell->Read();
          for (size_t i = 0; i < e->buckets.size(); ++i) {
            AppendSample(out, bucket_name, e->label_names, values,
                         static_cast<double>(s.cumulative[i]), "le",
                         FormatMetricValue(e->buckets[i]));
          }
          AppendSample(out, bucket_name, e->label_names, values,
                       static_cast<double>(s.cumulative.back()), "le", "+Inf");
          AppendSample(out, e->name + "_sum", e->label_names, values, s.sum);
          AppendSample(out, e->name + "_count", e->label_names, values,
                       static_cast<double>(s.count));
        }
        break;
      }
    }
  }
  return out;
}

}  // namespace keyledger::api
