#include "projections/health_views.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <variant>

#include "events/json_writer.hpp"
#include "events/time_format.hpp"
#include "projections/domain.hpp"
#include "projections/event_payloads.hpp"
#include "projections/snapshot.hpp"
#include "projections/view_writers.hpp"
#include "projections/views.hpp"

namespace keyledger::projections {
namespace {

constexpr int64_t kMicros = 1'000'000;

bool Serves(const KeyState& k, std::string_view format) {
  return std::find(k.api_formats.begin(), k.api_formats.end(), format) != k.api_formats.end();
}

int64_t EffectiveLimit(const KeyState& k) {
  return k.rpm_limit ? *k.rpm_limit : k.learned_rpm_limit.value_or(domain::rpm::kInitialLimit);
}

// Position of a format in spec §4.5's order (unknown formats after, by name).
size_t FormatRank(std::string_view f) {
  for (size_t i = 0; i < domain::kApiFormats.size(); ++i) {
    if (domain::kApiFormats[i] == f) return i;
  }
  return domain::kApiFormats.size();
}

bool FormatLess(const std::string& a, const std::string& b) {
  size_t ra = FormatRank(a), rb = FormatRank(b);
  return ra != rb ? ra < rb : a < b;
}

// ---- H1 ------------------------------------------------------------------------------------

void WriteKeyStatistics(json::Writer& w, const KeyState& k) {
  w.BeginObject()
      .Member("request_count", k.request_count)
      .Member("success_count", k.success_count)
      .Member("error_count", k.error_count)
      .Member("success_rate", k.request_count > 0 ? static_cast<double>(k.success_count) /
                                                        static_cast<double>(k.request_count)
                                                  : 0.0);
  w.Key("avg_response_time_ms");
  if (k.success_count > 0) {
    w.Double(RoundTo2(static_cast<double>(k.total_response_time_ms) /
                      static_cast<double>(k.success_count)));
  } else {
    w.Int(0);  // Aether's integer 0 (spec §11.1.1)
  }
  w.EndObject();
}

void WriteBreaker(json::Writer& w, const FormatBreaker& b, int64_t now_us) {
  w.BeginObject().Member("state", BreakerStateName(b, now_us)).Member("open", b.open);
  w.Key("open_at");
  PutIsoTime(w, b.open_at);
  w.Key("next_probe_at");
  PutIsoTime(w, b.next_probe_at);
  w.Key("half_open_until");
  PutIsoTime(w, b.half_open_until);
  w.Member("half_open_successes", b.half_open_successes)
      .Member("half_open_failures", b.half_open_failures)
      .EndObject();
}

void WriteFormatHealthData(json::Writer& w, const FormatHealth& h, const FormatBreaker& b,
                           int64_t now_us) {
  const int64_t horizon = now_us - domain::circuit::kWindowSeconds * kMicros;
  int64_t valid = 0, failed = 0;
  for (const WindowEntry& e : h.window) {
    if (e.ts <= horizon) continue;
    ++valid;
    if (!e.ok) ++failed;
  }
  w.BeginObject()
      .Member("health_score", h.health_score)
      .Member("error_rate",
              valid > 0 ? static_cast<double>(failed) / static_cast<double>(valid) : 0.0)
      .Member("window_size", valid)
      .Member("consecutive_failures", h.consecutive_failures);
  w.Key("last_failure_at");
  PutIsoTime(w, h.last_failure_at);
  w.Key("circuit_breaker");
  WriteBreaker(w, b, now_us);
  w.EndObject();
}

// ---- Timelines (spec §11.1.6) from health reports -----------------------------------------

struct Report {
  std::string key_id;
  std::string api_format;
  int64_t successes = 0;
  int64_t failures = 0;
  int64_t total_response_time_ms = 0;
  int64_t at = 0;
  std::optional<std::string> last_error;
};

// Visits the KeyHealthReported events observed in [since, now) (by their "at"). The payloads
// are decoded by EventDecoder, as the fold decodes them, so a schema version this build does not
// read is kUnsupported and an unreadable payload kCorruption, never a silently different figure.
Status ScanReports(const events::EventReader& log, int64_t since_us, int64_t now_us,
                   const std::function<void(const Report&)>& visit) {
  KL_ASSIGN_OR_RETURN(uint64_t before, SequenceAtTime(log, since_us));
  const uint64_t head = log.GetHead().sequence;
  if (before >= head) return Status::Ok();
  EventDecoder decoder;
  Status failed = Status::Ok();
  KL_RETURN_IF_ERROR(log.Scan(before + 1, head, [&](const events::EventRecord& r) {
    if (r.type != events::EventType::kKeyHealthReported) return true;
    auto decoded = decoder.Decode(r);
    if (!decoded.ok()) {
      failed = decoded.error();
      return false;
    }
    auto* reported = std::get_if<KeyHealthReported>(&*decoded);
    if (reported == nullptr) {
      failed = MakeError(ErrorCode::kCorruption,
                         "health report payload of event " + std::to_string(r.sequence));
      return false;
    }
    if (reported->at < since_us || reported->at >= now_us) return true;
    Report rep;
    rep.key_id = std::move(reported->key_id);
    rep.api_format = std::move(reported->api_format);
    rep.successes = reported->successes;
    rep.failures = reported->failures;
    rep.total_response_time_ms = reported->total_response_time_ms;
    rep.at = reported->at;
    rep.last_error = std::move(reported->last_error);
    visit(rep);
    return true;
  }));
  return failed;
}

struct Segment {
  int64_t successes = 0;
  int64_t failures = 0;
  int64_t reports = 0;
  int64_t first_at = 0;
  int64_t last_at = 0;
};

struct Timeline {
  std::array<Segment, kTimelineSegments> segments{};

  void Add(const Report& r, int64_t start_us, int64_t segment_us) {
    const int64_t i = (r.at - start_us) / segment_us;
    if (i < 0 || i >= kTimelineSegments) return;
    Segment& s = segments[static_cast<size_t>(i)];
    if (s.reports == 0 || r.at < s.first_at) s.first_at = r.at;
    if (s.reports == 0 || r.at > s.last_at) s.last_at = r.at;
    s.successes += r.successes;
    s.failures += r.failures;
    ++s.reports;
  }
};

std::string SegmentStatus(const Segment& s) {
  if (s.reports == 0) return "unknown";
  const double rate =
      s.successes + s.failures > 0
          ? static_cast<double>(s.successes) / static_cast<double>(s.successes + s.failures)
          : 1.0;
  if (rate >= 0.95) return "healthy";
  if (rate >= 0.7) return "warning";
  return "unhealthy";
}

// A timeline's statuses and time range (spec §11.1.6 steps 5-6). `any_keys`: whether any
// format had keys (step 1 vs the note under §11.1.7).
struct TimelineResult {
  std::vector<std::string> statuses;
  std::optional<int64_t> start, end;
  int healthy = 0, warning = 0, known = 0;
};

TimelineResult Summarize(const Timeline& t, bool any_keys, int64_t now_us) {
  TimelineResult out;
  std::optional<int64_t> last;
  for (const Segment& seg : t.segments) {
    std::string status = any_keys ? SegmentStatus(seg) : "unknown";
    if (status != "unknown") {
      if (!out.start || seg.first_at < *out.start) out.start = seg.first_at;
      if (!last || seg.last_at > *last) last = seg.last_at;
      ++out.known;
      if (status == "healthy") ++out.healthy;
      if (status == "warning") ++out.warning;
    }
    out.statuses.push_back(std::move(status));
  }
  out.end = last;
  if (any_keys && !out.end) out.end = now_us;
  return out;
}

void WriteTimeline(json::Writer& w, const TimelineResult& t, bool iso) {
  w.Key("timeline").BeginArray();
  for (const std::string& st : t.statuses) w.String(st);
  w.EndArray();
  w.Key("time_range_start");
  iso ? PutIsoTime(w, t.start) : PutTime(w, t.start);
  w.Key("time_range_end");
  iso ? PutIsoTime(w, t.end) : PutTime(w, t.end);
}

std::string DisplayName(const std::string& f) {
  if (f == "CLAUDE") return "Claude API";
  if (f == "CLAUDE_CLI") return "Claude CLI";
  if (f == "OPENAI") return "OpenAI API";
  if (f == "OPENAI_CLI") return "OpenAI CLI";
  if (f == "CLAUDE_COMPATIBLE") return "Claude 兼容";
  if (f == "OPENAI_COMPATIBLE") return "OpenAI 兼容";
  return f;
}

// Active endpoints of active providers, grouped by format (in format order).
std::map<std::string, std::vector<const EndpointState*>, decltype(&FormatLess)> ActiveEndpoints(
    const State& s) {
  std::map<std::string, std::vector<const EndpointState*>, decltype(&FormatLess)> out(&FormatLess);
  for (const std::string& id : s.endpoints.SortedKeys()) {
    const EndpointState& e = *s.endpoints.Find(id);
    const ProviderState* p = s.providers.Find(e.provider_id);
    if (!e.is_active || p == nullptr || !p->is_active) continue;
    out[e.api_format.empty() ? std::string("UNKNOWN") : e.api_format].push_back(&e);
  }
  return out;
}

}  // namespace

std::string BreakerStateName(const FormatBreaker& b, int64_t now_us) {
  if (!b.open) return "closed";
  if (b.half_open_until && now_us < *b.half_open_until) return "half_open";
  if (b.next_probe_at && now_us >= *b.next_probe_at) return "half_open";
  return "open";
}

std::string KeyHealthJson(const KeyState& k, const std::optional<std::string>& api_format,
                          int64_t now_us) {
  static const FormatHealth kDefaultHealth{};
  static const FormatBreaker kDefaultBreaker{};
  auto h_of = [&](std::string_view f) -> const FormatHealth& {
    const FormatHealth* h = FindIn(k.health_by_format, f);
    return h ? *h : kDefaultHealth;
  };
  auto c_of = [&](std::string_view f) -> const FormatBreaker& {
    const FormatBreaker* b = FindIn(k.circuit_breaker_by_format, f);
    return b ? *b : kDefaultBreaker;
  };
  json::Writer w(1024);
  w.BeginObject().Member("key_id", k.id).Member("key_is_active", k.is_active);
  w.Key("key_statistics");
  WriteKeyStatistics(w, k);
  if (!api_format) {
    double min_score = 1.0;
    bool any_open = false;
    for (const std::string& f : k.api_formats) {
      min_score = std::min(min_score, h_of(f).health_score);
      any_open = any_open || c_of(f).open;
    }
    w.Member("key_health_score", min_score).Member("any_circuit_open", any_open);
    w.Key("health_by_format").BeginObject();
    for (const std::string& f : k.api_formats) {
      w.Key(f);
      WriteFormatHealthData(w, h_of(f), c_of(f), now_us);
    }
    w.EndObject();
    w.Key("api_format").Null();
    w.Key("key_consecutive_failures").Null();
    w.Key("key_last_failure_at").Null();
    w.Member("circuit_breaker_open", false);
    w.Key("circuit_breaker_open_at").Null();
    w.Key("next_probe_at").Null();
    w.Key("half_open_until").Null();
    w.Member("half_open_successes", int64_t{0}).Member("half_open_failures", int64_t{0});
  } else {
    const FormatHealth& h = h_of(*api_format);
    const FormatBreaker& b = c_of(*api_format);
    w.Member("key_health_score", h.health_score).Member("any_circuit_open", false);
    w.Key("health_by_format").Null();
    w.Member("api_format", *api_format);
    w.Member("key_consecutive_failures", h.consecutive_failures);
    w.Key("key_last_failure_at");
    PutIsoTime(w, h.last_failure_at);
    w.Member("circuit_breaker_open", b.open);
    w.Key("circuit_breaker_open_at");
    PutIsoTime(w, b.open_at);
    w.Key("next_probe_at");
    PutIsoTime(w, b.next_probe_at);
    w.Key("half_open_until");
    PutIsoTime(w, b.half_open_until);
    w.Member("half_open_successes", b.half_open_successes)
        .Member("half_open_failures", b.half_open_failures);
  }
  w.EndObject();
  return w.Take();
}

std::string HealthSummaryJson(const State& s) {
  int64_t endpoints = 0, active_endpoints = 0;
  for (const std::string& id : s.endpoints.SortedKeys()) {
    ++endpoints;
    if (s.endpoints.Find(id)->is_active) ++active_endpoints;
  }
  int64_t keys = 0, active = 0, unhealthy = 0, open = 0;
  for (const std::string& id : s.keys.SortedKeys()) {
    const KeyState& k = *s.keys.Find(id);
    ++keys;
    if (k.is_active) ++active;
    if (std::any_of(k.health_by_format.begin(), k.health_by_format.end(),
                    [](const auto& e) { return e.second.health_score < 0.5; })) {
      ++unhealthy;
    }
    if (std::any_of(k.circuit_breaker_by_format.begin(), k.circuit_breaker_by_format.end(),
                    [](const auto& e) { return e.second.open; })) {
      ++open;
    }
  }
  json::Writer w;
  w.BeginObject().Key("endpoints").BeginObject();
  w.Member("total", endpoints).Member("active", active_endpoints).Member("unhealthy", int64_t{0});
  w.EndObject().Key("keys").BeginObject();
  w.Member("total", keys).Member("active", active).Member("unhealthy", unhealthy);
  w.Member("circuit_open", open).EndObject().EndObject();
  return w.Take();
}

Result<std::string> HealthStatusJson(const State& s, const events::EventReader& log,
                                     int64_t lookback_hours, int64_t now_us) {
  const int64_t start = now_us - lookback_hours * 3600 * kMicros;
  const int64_t segment_us = lookback_hours * 3600 * kMicros / kTimelineSegments;
  auto by_format = ActiveEndpoints(s);

  struct Item {
    std::string format;
    std::set<std::string> providers;
    int64_t endpoints = 0;
    std::set<std::string> keys;  // ids of the keys serving the format
    int64_t active_keys = 0;
    double score_sum = 0;
    Timeline timeline;
    double health_score = 0;
    std::string json;
  };
  std::set<std::string> providers_with_endpoints;
  for (const auto& [f, eps] : by_format) {
    for (const EndpointState* e : eps) providers_with_endpoints.insert(e->provider_id);
  }
  std::vector<Item> items;
  bool any_keys = false;
  for (const auto& [format, eps] : by_format) {
    const std::string& f = format;  // a structured binding cannot be captured (clang 14)
    Item it;
    it.format = f;
    it.endpoints = static_cast<int64_t>(eps.size());
    for (const EndpointState* e : eps) it.providers.insert(e->provider_id);
    for (const std::string& pid : providers_with_endpoints) {
      s.providers.Find(pid)->key_ids.ForEach([&](const std::string& kid) {
        const KeyState& k = *s.keys.Find(kid);
        if (!Serves(k, f)) return;
        it.keys.insert(kid);
        const FormatBreaker* b = FindIn(k.circuit_breaker_by_format, f);
        if (k.is_active && !(b && b->open)) {
          ++it.active_keys;
          const FormatHealth* h = FindIn(k.health_by_format, f);
          it.score_sum += h ? h->health_score : 1.0;
        }
      });
    }
    any_keys = any_keys || !it.keys.empty();
    items.push_back(std::move(it));
  }
  if (any_keys) {
    KL_RETURN_IF_ERROR(ScanReports(log, start, now_us, [&](const Report& r) {
      for (Item& it : items) {
        if (it.format == r.api_format && it.keys.count(r.key_id)) {
          it.timeline.Add(r, start, segment_us);
        }
      }
    }));
  }
  for (Item& it : items) {
    TimelineResult tl = Summarize(it.timeline, any_keys, now_us);
    if (tl.known > 0) {
      it.health_score = (tl.healthy + 0.8 * tl.warning) / tl.known;
    } else if (it.active_keys > 0) {
      it.health_score = it.score_sum / static_cast<double>(it.active_keys);
    } else if (it.keys.empty()) {
      it.health_score = 0.0;
    } else {
      it.health_score = 0.1;
    }
    json::Writer w(2048);
    w.BeginObject()
        .Member("api_format", it.format)
        .Member("display_name", DisplayName(it.format))
        .Member("health_score", it.health_score);
    WriteTimeline(w, tl, /*iso=*/true);
    w.Member("total_endpoints", it.endpoints)
        .Member("total_keys", static_cast<int64_t>(it.keys.size()))
        .Member("active_keys", it.active_keys)
        .Member("provider_count", static_cast<int64_t>(it.providers.size()))
        .EndObject();
    it.json = w.Take();
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.health_score > b.health_score; });
  json::Writer out(4096);
  out.BeginArray();
  for (const Item& it : items) out.Raw(it.json);
  out.EndArray();
  return out.Take();
}

Result<std::string> ApiFormatHealthJson(const State& s, const events::EventReader& log,
                                        int64_t lookback_hours, int64_t per_format_limit,
                                        int64_t now_us) {
  const int64_t start = now_us - lookback_hours * 3600 * kMicros;
  const int64_t segment_us = lookback_hours * 3600 * kMicros / kTimelineSegments;
  auto by_format = ActiveEndpoints(s);

  struct Item {
    std::set<std::string> providers;
    std::set<std::string> timeline_keys;  // keys of the providers owning F's endpoints
    int64_t key_count = 0;
    int64_t successes = 0, failures = 0;
    std::deque<Report> events;  // the newest per_format_limit, oldest first
    Timeline timeline;
  };
  std::map<std::string, Item> items;
  for (const auto& [format, eps] : by_format) {
    const std::string& f = format;  // a structured binding cannot be captured (clang 14)
    Item& it = items[f];
    for (const EndpointState* e : eps) it.providers.insert(e->provider_id);
    for (const std::string& pid : it.providers) {
      s.providers.Find(pid)->key_ids.ForEach([&](const std::string& kid) {
        const KeyState& k = *s.keys.Find(kid);
        if (!Serves(k, f)) return;
        it.timeline_keys.insert(kid);
        if (k.is_active) ++it.key_count;  // its provider is active and has an active endpoint
      });
    }
  }
  const size_t limit = static_cast<size_t>(per_format_limit);
  KL_RETURN_IF_ERROR(ScanReports(log, start, now_us, [&](const Report& r) {
    auto found = items.find(r.api_format);
    if (found == items.end()) return;
    Item& it = found->second;
    it.successes += r.successes;
    it.failures += r.failures;
    it.events.push_back(r);
    if (it.events.size() > limit) it.events.pop_front();
    if (it.timeline_keys.count(r.key_id)) it.timeline.Add(r, start, segment_us);
  }));

  json::Writer w(8192);
  w.BeginObject().Member("generated_at", events::FormatTimestampZ(now_us));
  w.Key("formats").BeginArray();
  for (const auto& [format, eps] : by_format) {
    const std::string& f = format;  // a structured binding cannot be captured (clang 14)
    Item& it = items[f];
    // Reports arrive in log order, which is by record time; show them by observation time.
    std::stable_sort(it.events.begin(), it.events.end(),
                     [](const Report& a, const Report& b) { return a.at < b.at; });
    const int64_t judged = it.successes + it.failures;
    w.BeginObject()
        .Member("api_format", f)
        .Member("total_attempts", judged)
        .Member("success_count", it.successes)
        .Member("failed_count", it.failures)
        .Member("skipped_count", int64_t{0})
        .Member("success_rate",
                judged > 0 ? static_cast<double>(it.successes) / static_cast<double>(judged) : 1.0)
        .Member("provider_count", static_cast<int64_t>(it.providers.size()))
        .Member("key_count", it.key_count);
    w.Key("last_event_at");
    PutTime(w, it.events.empty() ? std::nullopt : std::optional<int64_t>(it.events.back().at));
    w.Key("events").BeginArray();
    for (const Report& r : it.events) {
      w.BeginObject().Member("timestamp", events::FormatTimestampZ(r.at));
      w.Member("status", r.failures > 0 ? "failed" : "success");
      w.Key("status_code").Null();
      w.Key("latency_ms");
      PutOptInt(w, r.successes > 0 ? std::optional<int64_t>(r.total_response_time_ms / r.successes)
                                   : std::nullopt);
      w.Key("error_type").Null();
      w.Key("error_message");
      PutOptString(w, r.last_error);
      w.EndObject();
    }
    w.EndArray();
    WriteTimeline(w, Summarize(it.timeline, !it.timeline_keys.empty(), now_us), /*iso=*/false);
    w.EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

std::string KeyRpmJson(const KeyState& k) {
  json::Writer w;
  w.BeginObject().Member("key_id", k.id).Member("current_rpm", int64_t{0}).Key("rpm_limit");
  PutOptInt(w, k.rpm_limit);
  w.EndObject();
  return w.Take();
}

std::string AdaptiveKeysJson(const State& s, const std::optional<std::string>& provider_id) {
  json::Writer w(4096);
  w.BeginArray();
  for (const std::string& id : s.keys.SortedKeys()) {
    const KeyState& k = *s.keys.Find(id);
    if (k.rpm_limit) continue;
    if (provider_id && k.provider_id != *provider_id) continue;
    w.BeginObject().Member("id", k.id).Member("name", k.name).Member("provider_id", k.provider_id);
    w.Key("api_formats");
    PutStrings(w, k.api_formats);
    w.Member("is_adaptive", true);
    w.Key("rpm_limit").Null();
    w.Member("effective_limit", EffectiveLimit(k));
    w.Key("learned_rpm_limit");
    PutOptInt(w, k.learned_rpm_limit);
    w.Member("concurrent_429_count", k.concurrent_429_count)
        .Member("rpm_429_count", k.rpm_429_count)
        .EndObject();
  }
  w.EndArray();
  return w.Take();
}

std::string AdaptiveStatsJson(const KeyState& k) {
  json::Writer w(512);
  w.BeginObject().Member("adaptive_mode", !k.rpm_limit.has_value()).Key("rpm_limit");
  PutOptInt(w, k.rpm_limit);
  w.Member("effective_limit", EffectiveLimit(k));
  w.Key("learned_limit");
  PutOptInt(w, k.learned_rpm_limit);
  w.Member("concurrent_429_count", k.concurrent_429_count).Member("rpm_429_count", k.rpm_429_count);
  w.Key("last_429_at");
  PutIsoTime(w, k.last_429_at);
  w.Key("last_429_type");
  PutOptString(w, k.last_429_type);
  // No learner runs in keyledger: there is no adjustment history to show.
  w.Member("adjustment_count", int64_t{0});
  w.Key("recent_adjustments").BeginArray().EndArray();
  w.EndObject();
  return w.Take();
}

std::string AdaptiveSummaryJson(const State& s) {
  int64_t keys = 0, concurrent = 0, rpm = 0;
  for (const std::string& id : s.keys.SortedKeys()) {
    const KeyState& k = *s.keys.Find(id);
    if (k.rpm_limit) continue;
    ++keys;
    concurrent += k.concurrent_429_count;
    rpm += k.rpm_429_count;
  }
  json::Writer w;
  w.BeginObject()
      .Member("total_adaptive_keys", keys)
      .Member("total_concurrent_429_errors", concurrent)
      .Member("total_rpm_429_errors", rpm)
      .Member("total_adjustments", int64_t{0});
  w.Key("recent_adjustments").BeginArray().EndArray();
  w.EndObject();
  return w.Take();
}

}  // namespace keyledger::projections
