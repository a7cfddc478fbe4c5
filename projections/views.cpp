#include "projections/views.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <type_traits>

#include "events/time_format.hpp"
#include "projections/codec.hpp"
#include "projections/credentials.hpp"
#include "projections/domain.hpp"
#include "projections/response_fields.hpp"
#include "projections/view_writers.hpp"

namespace keyledger::projections {
namespace {

std::string PydanticTime(int64_t micros) { return events::FormatTimestampZ(micros); }
std::string IsoTime(int64_t micros) { return events::FormatTimestampIso(micros); }

void PutAllowedModels(json::Writer& w, const AllowedModels& m) {
  if (const auto* list = std::get_if<StringList>(&m)) {
    PutStrings(w, *list);
  } else if (const auto* dict = std::get_if<OrderedMap<StringList>>(&m)) {
    w.BeginObject();
    for (const auto& [k, v] : *dict) {
      w.Key(k);
      PutStrings(w, v);
    }
    w.EndObject();
  } else {
    w.Null();
  }
}

// A state value as its response member: the value itself, null for an empty optional, an
// ordered map as an object in its order. Times are not among them (an int64_t is a number):
// the tables write those with PutTime.
void Put(json::Writer& w, const std::string& v) { w.String(v); }
void Put(json::Writer& w, int64_t v) { w.Int(v); }
void Put(json::Writer& w, double v) { w.Double(v); }
void Put(json::Writer& w, bool v) { w.Bool(v); }
void Put(json::Writer& w, const StringList& v) { PutStrings(w, v); }
void Put(json::Writer& w, const AllowedModels& v) { PutAllowedModels(w, v); }
// A proxy's password is never shown: "***" when one is stored.
void Put(json::Writer& w, const Proxy& p) {
  w.BeginObject();
  w.Member("url", p.url);
  w.Key("username");
  PutOptString(w, p.username);
  w.Key("password");
  if (p.password) {
    w.String("***");
  } else {
    w.Null();
  }
  w.Member("enabled", p.enabled);
  w.EndObject();
}
template <typename T>
void Put(json::Writer& w, const OrderedMap<T>& m) {
  w.BeginObject();
  for (const auto& [k, v] : m) {
    w.Key(k);
    Put(w, v);
  }
  w.EndObject();
}
template <typename T>
void Put(json::Writer& w, const std::optional<T>& v) {
  if (v) {
    Put(w, *v);
  } else {
    w.Null();
  }
}

// health_by_format as Aether stores it: ISO strings with +00:00, window ts in epoch seconds.
void PutHealthByFormat(json::Writer& w, const OrderedMap<FormatHealth>& m) {
  w.BeginObject();
  for (const auto& [format, h] : m) {
    w.Key(format).BeginObject();
    w.Member("health_score", h.health_score);
    w.Member("consecutive_failures", h.consecutive_failures);
    w.Key("last_failure_at");
    PutIsoTime(w, h.last_failure_at);
    w.Key("request_results_window").BeginArray();
    for (const auto& e : h.window) {
      w.BeginObject().Member("ts", static_cast<double>(e.ts) / 1e6).Member("ok", e.ok).EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
}

void PutBreakerByFormat(json::Writer& w, const OrderedMap<FormatBreaker>& m) {
  w.BeginObject();
  for (const auto& [format, b] : m) {
    w.Key(format).BeginObject();
    w.Member("open", b.open);
    w.Key("open_at");
    PutIsoTime(w, b.open_at);
    w.Key("next_probe_at");
    PutIsoTime(w, b.next_probe_at);
    w.Key("half_open_until");
    PutIsoTime(w, b.half_open_until);
    w.Member("half_open_successes", b.half_open_successes);
    w.Member("half_open_failures", b.half_open_failures);
    w.EndObject();
  }
  w.EndObject();
}

double HealthFor(const KeyState& k, std::string_view format) {
  const FormatHealth* h = FindIn(k.health_by_format, format);
  return h ? h->health_score : 1.0;
}

bool BreakerOpenFor(const KeyState& k, std::string_view format) {
  const FormatBreaker* b = FindIn(k.circuit_breaker_by_format, format);
  return b && b->open;
}

bool ServesFormat(const KeyState& k, std::string_view format) {
  return std::find(k.api_formats.begin(), k.api_formats.end(), format) != k.api_formats.end();
}

template <typename T>
std::vector<const T*> Page(std::vector<const T*> all, uint64_t skip, uint64_t limit) {
  if (skip >= all.size()) return {};
  auto first = all.begin() + static_cast<std::ptrdiff_t>(skip);
  auto last = all.size() - skip > limit ? first + static_cast<std::ptrdiff_t>(limit) : all.end();
  return std::vector<const T*>(first, last);
}

}  // namespace

double RoundTo2(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", x);
  return std::strtod(buf, nullptr);
}

KeyHealthSummary SummarizeHealth(const KeyState& k) {
  KeyHealthSummary s;
  bool first = true;
  for (const auto& [format, h] : k.health_by_format) {
    s.health_score = first ? h.health_score : std::min(s.health_score, h.health_score);
    first = false;
    s.consecutive_failures = std::max(s.consecutive_failures, h.consecutive_failures);
    if (h.last_failure_at && (!s.last_failure_at || *h.last_failure_at > *s.last_failure_at)) {
      s.last_failure_at = h.last_failure_at;
    }
  }
  for (const auto& [format, b] : k.circuit_breaker_by_format) s.circuit_breaker_open |= b.open;
  return s;
}

void WriteKeyResponse(json::Writer& w, const KeyState& k, const std::optional<std::string>& plain) {
  const response::KeyView view{.key = k, .plain = plain, .health = SummarizeHealth(k)};
  response::WriteObject(w, response::KeyMembers(), view);
}

std::string KeyResponseJson(const KeyState& k, const std::optional<std::string>& plain) {
  json::Writer w(2048);
  WriteKeyResponse(w, k, plain);
  return w.Take();
}

std::vector<const KeyState*> ProviderKeysOrdered(const State& s, std::string_view provider_id) {
  std::vector<const KeyState*> keys;
  const ProviderState* p = s.providers.Find(provider_id);
  if (p == nullptr) return keys;
  keys.reserve(p->key_ids.size());
  p->key_ids.ForEach([&](const std::string& id) {
    if (const KeyState* k = s.keys.Find(id)) keys.push_back(k);
  });
  std::sort(keys.begin(), keys.end(), [](const KeyState* a, const KeyState* b) {
    if (a->internal_priority != b->internal_priority) {
      return a->internal_priority < b->internal_priority;
    }
    if (a->created_at != b->created_at) return a->created_at < b->created_at;
    return a->id < b->id;
  });
  return keys;
}

std::string KeyListJson(const State& s, std::string_view provider_id, uint64_t skip,
                        uint64_t limit) {
  auto page = Page(ProviderKeysOrdered(s, provider_id), skip, limit);
  json::Writer w(page.size() * 1600 + 2);
  w.BeginArray();
  for (const KeyState* k : page) WriteKeyResponse(w, *k);
  w.EndArray();
  return w.Take();
}

std::string GroupedByFormatJson(const State& s) {
  std::vector<const KeyState*> keys;
  s.keys.ForEach([&](const std::string&, const KeyState& k) {
    if (!k.is_active || k.api_formats.empty()) return;
    const ProviderState* p = s.providers.Find(k.provider_id);
    if (p == nullptr || !p->is_active) return;
    keys.push_back(&k);
  });
  std::sort(keys.begin(), keys.end(), [](const KeyState* a, const KeyState* b) {
    if (a->global_priority.has_value() != b->global_priority.has_value()) {
      return a->global_priority.has_value();  // nulls last
    }
    if (a->global_priority && *a->global_priority != *b->global_priority) {
      return *a->global_priority < *b->global_priority;
    }
    if (a->internal_priority != b->internal_priority) {
      return a->internal_priority < b->internal_priority;
    }
    if (a->created_at != b->created_at) return a->created_at < b->created_at;
    return a->id < b->id;
  });

  // Serialize each (key, format) entry, grouping in order of first appearance of the format.
  std::vector<std::pair<std::string, std::string>> groups;  // format -> "entry,entry"
  for (const KeyState* k : keys) {
    const ProviderState& p = *s.providers.Find(k->provider_id);
    json::Writer caps;
    caps.BeginArray();
    if (k->capabilities) {
      for (const auto& [name, enabled] : *k->capabilities) {
        if (!enabled) continue;
        const auto* def = domain::FindCapability(name);
        caps.String(def ? def->short_name : std::string_view(name));
      }
    }
    caps.EndArray();
    for (const std::string& format : k->api_formats) {
      std::optional<std::string> base_url;
      p.endpoint_ids.ForEach([&](const std::string& eid) {
        const EndpointState* e = s.endpoints.Find(eid);
        if (e && e->is_active && e->api_format == format) base_url = e->base_url;
      });
      json::Writer w(1024);
      w.BeginObject();
      w.Member("id", k->id);
      w.Member("name", k->name);
      w.Member("api_key_masked", k->secret.mask);
      w.Member("internal_priority", k->internal_priority);
      w.Key("global_priority");
      PutOptInt(w, k->global_priority);
      w.Member("rate_multiplier", k->rate_multiplier);
      w.Member("is_active", k->is_active);
      w.Member("provider_name", p.name);
      w.Key("api_formats");
      PutStrings(w, k->api_formats);
      w.Key("capabilities").Raw(caps.str());
      w.Key("success_rate");
      if (k->request_count > 0) {
        w.Double(static_cast<double>(k->success_count) / static_cast<double>(k->request_count));
      } else {
        w.Null();
      }
      w.Key("avg_response_time_ms");
      if (k->success_count > 0) {
        w.Double(RoundTo2(static_cast<double>(k->total_response_time_ms) /
                          static_cast<double>(k->success_count)));
      } else {
        w.Null();
      }
      w.Member("request_count", k->request_count);
      w.Member("api_format", format);
      w.Key("endpoint_base_url");
      PutOptString(w, base_url);
      w.Member("health_score", HealthFor(*k, format));
      w.Member("circuit_breaker_open", BreakerOpenFor(*k, format));
      w.EndObject();
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](const auto& g) { return g.first == format; });
      if (it == groups.end()) {
        groups.emplace_back(format, w.Take());
      } else {
        it->second += ',';
        it->second += w.str();
      }
    }
  }
  json::Writer out(4096);
  out.BeginObject();
  for (const auto& [format, entries] : groups) {
    out.Key(format).Raw("[" + entries + "]");
  }
  out.EndObject();
  return out.Take();
}

namespace {

std::vector<const ProviderState*> ProvidersOrdered(const State& s) {
  std::vector<const ProviderState*> out;
  s.providers.ForEach([&](const std::string&, const ProviderState& p) { out.push_back(&p); });
  std::sort(out.begin(), out.end(), [](const ProviderState* a, const ProviderState* b) {
    int64_t pa = a->provider_priority.value_or(INT64_MAX);
    int64_t pb = b->provider_priority.value_or(INT64_MAX);
    if (pa != pb) return pa < pb;
    if (a->created_at != b->created_at) return a->created_at < b->created_at;
    return a->id < b->id;
  });
  return out;
}

struct EndpointKeyCounts {
  int64_t total = 0;
  int64_t active = 0;
  double health_sum = 0;
};

EndpointKeyCounts CountKeysFor(const State& s, const ProviderState& p, std::string_view format) {
  EndpointKeyCounts c;
  p.key_ids.ForEach([&](const std::string& id) {
    const KeyState* k = s.keys.Find(id);
    if (k == nullptr || !ServesFormat(*k, format)) return;
    c.total++;
    if (k->is_active) {
      c.active++;
      c.health_sum += HealthFor(*k, format);
    }
  });
  return c;
}

}  // namespace

std::string ProviderListJson(const State& s, uint64_t skip, uint64_t limit,
                             std::optional<bool> is_active) {
  std::vector<const ProviderState*> all;
  for (const ProviderState* p : ProvidersOrdered(s)) {
    if (!is_active || p->is_active == *is_active) all.push_back(p);
  }
  json::Writer w(4096);
  w.BeginArray();
  for (const ProviderState* p : Page(std::move(all), skip, limit)) {
    w.BeginObject();
    w.Member("id", p->id);
    w.Member("name", p->name);
    w.Key("api_format").Null();
    w.Key("base_url").Null();
    w.Key("api_key").Null();
    w.Key("priority");
    PutOptInt(w, p->provider_priority);
    w.Member("is_active", p->is_active);
    w.Member("created_at", IsoTime(p->created_at));
    w.Member("updated_at", IsoTime(p->updated_at));
    w.EndObject();
  }
  w.EndArray();
  return w.Take();
}

void WriteProviderSummary(json::Writer& w, const State& s, const ProviderState& p) {
  response::ProviderView view{.state = s, .provider = p};
  std::vector<const EndpointState*>& endpoints = view.endpoints;
  p.endpoint_ids.ForEach([&](const std::string& id) {
    if (const EndpointState* e = s.endpoints.Find(id)) endpoints.push_back(e);
  });
  std::sort(endpoints.begin(), endpoints.end(), [](const EndpointState* a, const EndpointState* b) {
    if (a->created_at != b->created_at) return a->created_at < b->created_at;
    return a->id < b->id;
  });
  p.key_ids.ForEach([&](const std::string& id) {
    const KeyState* k = s.keys.Find(id);
    if (k == nullptr) return;
    view.total_keys++;
    if (k->is_active) view.active_keys++;
  });
  double health_total = 0;
  json::Writer details;
  details.BeginArray();
  for (const EndpointState* e : endpoints) {
    if (e->is_active) view.active_endpoints++;
    EndpointKeyCounts c = CountKeysFor(s, p, e->api_format);
    double health = c.active > 0 ? c.health_sum / static_cast<double>(c.active) : 1.0;
    health_total += health;
    if (health < 0.5) view.unhealthy_endpoints++;
    details.BeginObject()
        .Member("api_format", e->api_format)
        .Member("health_score", health)
        .Member("is_active", e->is_active)
        .Member("active_keys", c.active)
        .EndObject();
  }
  details.EndArray();
  view.endpoint_health_details = details.Take();
  view.avg_health_score =
      endpoints.empty() ? 1.0 : health_total / static_cast<double>(endpoints.size());
  response::WriteObject(w, response::ProviderMembers(), view);
}

std::string ProviderSummaryJson(const State& s, const ProviderState& p) {
  json::Writer w(2048);
  WriteProviderSummary(w, s, p);
  return w.Take();
}

std::string ProviderSummariesJson(const State& s) {
  json::Writer w(4096);
  w.BeginArray();
  for (const ProviderState* p : ProvidersOrdered(s)) WriteProviderSummary(w, s, *p);
  w.EndArray();
  return w.Take();
}

void WriteEndpointResponse(json::Writer& w, const State& s, const EndpointState& e) {
  const ProviderState* p = s.providers.Find(e.provider_id);
  EndpointKeyCounts c = p ? CountKeysFor(s, *p, e.api_format) : EndpointKeyCounts{};
  const response::EndpointView view{
      .endpoint = e, .provider = p, .total_keys = c.total, .active_keys = c.active};
  response::WriteObject(w, response::EndpointMembers(), view);
}

std::string EndpointResponseJson(const State& s, const EndpointState& e) {
  json::Writer w(1024);
  WriteEndpointResponse(w, s, e);
  return w.Take();
}

std::string EndpointListJson(const State& s, std::string_view provider_id, uint64_t skip,
                             uint64_t limit) {
  std::vector<const EndpointState*> all;
  if (const ProviderState* p = s.providers.Find(provider_id)) {
    p->endpoint_ids.ForEach([&](const std::string& id) {
      if (const EndpointState* e = s.endpoints.Find(id)) all.push_back(e);
    });
  }
  std::sort(all.begin(), all.end(), [](const EndpointState* a, const EndpointState* b) {
    if (a->created_at != b->created_at) return a->created_at > b->created_at;
    return a->id > b->id;
  });
  json::Writer w(2048);
  w.BeginArray();
  for (const EndpointState* e : Page(std::move(all), skip, limit)) WriteEndpointResponse(w, s, *e);
  w.EndArray();
  return w.Take();
}

}  // namespace keyledger::projections

namespace keyledger::projections::response {
namespace {

const KeyState& StateOf(const KeyView& v) { return v.key; }
const ProviderState& StateOf(const ProviderView& v) { return v.provider; }
const EndpointState& StateOf(const EndpointView& v) { return v.endpoint; }

// A member that is a state member as stored.
template <auto kMember, typename View>
void WriteState(json::Writer& w, const View& v) {
  Put(w, StateOf(v).*kMember);
}

// A time member (microseconds since the epoch) in pydantic's UTC form, or null.
template <auto kMember, typename View>
void WriteTime(json::Writer& w, const View& v) {
  const auto& t = StateOf(v).*kMember;
  if constexpr (std::is_same_v<std::remove_cvref_t<decltype(t)>, int64_t>) {
    w.String(PydanticTime(t));
  } else {
    PutTime(w, t);
  }
}

// Table-line shorthands over the aliases S (state) and V (view) each table defines.
#define KL_STATE(member, ...) \
  { .name = #member __VA_OPT__(, ) __VA_ARGS__, .write = &WriteState<&S::member, V> }
#define KL_TIME(member, ...)                                             \
  {                                                                      \
    .name = #member, .type = Type::kDateTime __VA_OPT__(, ) __VA_ARGS__, \
    .write = &WriteTime<&S::member, V>                                   \
  }

constexpr Type kInt = Type::kInteger;
constexpr Type kNum = Type::kNumber;
constexpr Type kBool = Type::kBoolean;
constexpr Type kObj = Type::kObject;
constexpr Type kArr = Type::kArray;
constexpr Type kTime = Type::kDateTime;

}  // namespace

// EndpointAPIKeyResponse (aether-spec.md §7). The health members after
// circuit_breaker_by_format are the per-key summary Aether keeps; keyledger keeps them per
// format, so the breaker timing members are always null and the counters 0.
std::span<const Member<KeyView>> KeyMembers() {
  using S = KeyState;
  using V = KeyView;
  static const Member<V> kMembers[] = {
      KL_STATE(id),
      KL_STATE(provider_id),
      KL_STATE(api_formats, .type = kArr, .shape = Shape::kFormatList),
      {.name = "api_key_masked",
       .stands_for = "api_key",
       .write = [](json::Writer& w, const V& v) { w.String(v.key.secret.mask); }},
      {.name = "api_key_plain",
       .nullable = true,
       .description = "null unless the server runs with --echo-plaintext-on-create on create only",
       .stands_for = "api_key",
       .write = [](json::Writer& w, const V& v) { PutOptString(w, v.plain); }},
      KL_STATE(name),
      KL_STATE(rate_multiplier, .type = kNum),
      KL_STATE(rate_multipliers, .type = kObj, .nullable = true, .shape = Shape::kNumberMap),
      KL_STATE(internal_priority, .type = kInt),
      KL_STATE(global_priority, .type = kInt, .nullable = true),
      KL_STATE(rpm_limit, .type = kInt, .nullable = true),
      KL_STATE(allowed_models, .type = kArr, .nullable = true, .shape = Shape::kAllowedModels),
      KL_STATE(capabilities, .type = kObj, .nullable = true, .shape = Shape::kBooleanMap),
      KL_STATE(cache_ttl_minutes, .type = kInt),
      KL_STATE(max_probe_interval_minutes, .type = kInt),
      {.name = "health_by_format",
       .type = kObj,
       .shape = Shape::kHealthByFormat,
       .write = [](json::Writer& w, const V& v) { PutHealthByFormat(w, v.key.health_by_format); }},
      {.name = "circuit_breaker_by_format",
       .type = kObj,
       .shape = Shape::kBreakerByFormat,
       .write = [](json::Writer& w,
                   const V& v) { PutBreakerByFormat(w, v.key.circuit_breaker_by_format); }},
      {.name = "health_score",
       .type = kNum,
       .write = [](json::Writer& w, const V& v) { w.Double(v.health.health_score); }},
      {.name = "consecutive_failures",
       .type = kInt,
       .write = [](json::Writer& w, const V& v) { w.Int(v.health.consecutive_failures); }},
      {.name = "last_failure_at",
       .type = kTime,
       .nullable = true,
       .write = [](json::Writer& w, const V& v) { PutTime(w, v.health.last_failure_at); }},
      {.name = "circuit_breaker_open",
       .type = kBool,
       .write = [](json::Writer& w, const V& v) { w.Bool(v.health.circuit_breaker_open); }},
      {.name = "circuit_breaker_open_at",
       .type = kTime,
       .nullable = true,
       .write = [](json::Writer& w, const V&) { w.Null(); }},
      {.name = "next_probe_at",
       .type = kTime,
       .nullable = true,
       .write = [](json::Writer& w, const V&) { w.Null(); }},
      {.name = "half_open_until",
       .type = kTime,
       .nullable = true,
       .write = [](json::Writer& w, const V&) { w.Null(); }},
      {.name = "half_open_successes",
       .type = kInt,
       .nullable = true,
       .write = [](json::Writer& w, const V&) { w.Int(0); }},
      {.name = "half_open_failures",
       .type = kInt,
       .nullable = true,
       .write = [](json::Writer& w, const V&) { w.Int(0); }},
      {.name = "request_results_window",
       .type = kArr,
       .nullable = true,
       .write = [](json::Writer& w, const V&) { w.Null(); }},
      KL_STATE(request_count, .type = kInt),
      KL_STATE(success_count, .type = kInt),
      KL_STATE(error_count, .type = kInt),
      {.name = "success_rate",
       .type = kNum,
       .write =
           [](json::Writer& w, const V& v) {
             const KeyState& k = v.key;
             w.Double(k.request_count > 0 ? static_cast<double>(k.success_count) /
                                                static_cast<double>(k.request_count)
                                          : 0.0);
           }},
      {.name = "avg_response_time_ms",
       .type = kNum,
       .write =
           [](json::Writer& w, const V& v) {
             const KeyState& k = v.key;
             w.Double(k.success_count > 0 ? RoundTo2(static_cast<double>(k.total_response_time_ms) /
                                                     static_cast<double>(k.success_count))
                                          : 0.0);
           }},
      KL_STATE(is_active, .type = kBool),
      {.name = "is_adaptive",
       .type = kBool,
       .write = [](json::Writer& w, const V& v) { w.Bool(!v.key.rpm_limit.has_value()); }},
      KL_STATE(learned_rpm_limit, .type = kInt, .nullable = true),
      {.name = "effective_limit",
       .type = kInt,
       .write =
           [](json::Writer& w, const V& v) {
             const KeyState& k = v.key;
             w.Int(k.rpm_limit ? *k.rpm_limit
                               : k.learned_rpm_limit.value_or(domain::rpm::kInitialLimit));
           }},
      {.name = "utilization_samples",
       .type = kArr,
       .nullable = true,
       .shape = Shape::kObjectList,
       .write =
           [](json::Writer& w, const V& v) {
             if (v.key.utilization_samples) {
               w.Raw(v.key.utilization_samples->text);
             } else {
               w.Null();
             }
           }},
      KL_TIME(last_probe_increase_at, .nullable = true),
      KL_STATE(concurrent_429_count, .type = kInt),
      KL_STATE(rpm_429_count, .type = kInt),
      KL_TIME(last_429_at, .nullable = true),
      KL_STATE(last_429_type, .nullable = true),
      KL_STATE(note, .nullable = true),
      KL_TIME(last_used_at, .nullable = true),
      KL_TIME(created_at),
      KL_TIME(updated_at),
  };
  return kMembers;
}

// ProviderWithEndpointsSummary. Not echoed (Aether's summary has no such members):
// concurrent_limit and config.
std::span<const Member<ProviderView>> ProviderMembers() {
  using S = ProviderState;
  using V = ProviderView;
  static const Member<V> kMembers[] = {
      KL_STATE(id),
      KL_STATE(name),
      KL_STATE(description, .nullable = true),
      KL_STATE(website, .nullable = true),
      KL_STATE(provider_priority, .type = kInt, .nullable = true),
      KL_STATE(is_active, .type = kBool),
      KL_STATE(billing_type, .shape = Shape::kBillingType),
      KL_STATE(monthly_quota_usd, .type = kNum, .nullable = true),
      KL_STATE(monthly_used_usd, .type = kNum),
      KL_STATE(quota_reset_day, .type = kInt, .nullable = true),
      KL_TIME(quota_last_reset_at, .nullable = true),
      KL_TIME(quota_expires_at, .nullable = true),
      KL_STATE(timeout, .type = kInt, .nullable = true),
      KL_STATE(max_retries, .type = kInt, .nullable = true),
      KL_STATE(proxy, .type = kObj, .nullable = true, .shape = Shape::kProxy),
      {.name = "total_endpoints",
       .type = kInt,
       .write = [](json::Writer& w,
                   const V& v) { w.Int(static_cast<int64_t>(v.endpoints.size())); }},
      {.name = "active_endpoints",
       .type = kInt,
       .write = [](json::Writer& w, const V& v) { w.Int(v.active_endpoints); }},
      {.name = "total_keys",
       .type = kInt,
       .write = [](json::Writer& w, const V& v) { w.Int(v.total_keys); }},
      {.name = "active_keys",
       .type = kInt,
       .write = [](json::Writer& w, const V& v) { w.Int(v.active_keys); }},
      {.name = "total_models", .type = kInt, .write = [](json::Writer& w, const V&) { w.Int(0); }},
      {.name = "active_models", .type = kInt, .write = [](json::Writer& w, const V&) { w.Int(0); }},
      {.name = "api_formats",
       .type = kArr,
       .shape = Shape::kFormatList,
       .write =
           [](json::Writer& w, const V& v) {
             w.BeginArray();
             for (const EndpointState* e : v.endpoints) w.String(e->api_format);
             w.EndArray();
           }},
      {.name = "endpoint_health_details",
       .type = kArr,
       .shape = Shape::kEndpointHealthDetails,
       .write = [](json::Writer& w, const V& v) { w.Raw(v.endpoint_health_details); }},
      {.name = "avg_health_score",
       .type = kNum,
       .write = [](json::Writer& w, const V& v) { w.Double(v.avg_health_score); }},
      {.name = "unhealthy_endpoints",
       .type = kInt,
       .write = [](json::Writer& w, const V& v) { w.Int(v.unhealthy_endpoints); }},
      KL_TIME(created_at),
      KL_TIME(updated_at),
  };
  return kMembers;
}

// ProviderEndpointResponse. Header values and config members with secret names show their masks
// (projections/credentials.hpp).
std::span<const Member<EndpointView>> EndpointMembers() {
  using S = EndpointState;
  using V = EndpointView;
  static const Member<V> kMembers[] = {
      KL_STATE(id),
      KL_STATE(provider_id),
      {.name = "provider_name",
       .write =
           [](json::Writer& w, const V& v) {
             w.String(v.provider ? std::string_view(v.provider->name) : std::string_view());
           }},
      KL_STATE(api_format, .shape = Shape::kFormat),
      KL_STATE(base_url),
      KL_STATE(custom_path, .nullable = true),
      {.name = "headers",
       .type = kObj,
       .nullable = true,
       .shape = Shape::kStringMap,
       .write =
           [](json::Writer& w, const V& v) {
             const EndpointState& e = v.endpoint;
             if (!e.headers) {
               w.Null();
               return;
             }
             w.BeginObject();
             for (const auto& [k, value] : *e.headers) {
               w.Member(k, ShownHeaderValue(k, value, e.header_secrets));
             }
             w.EndObject();
           }},
      KL_STATE(timeout, .type = kInt, .nullable = true),
      KL_STATE(max_retries, .type = kInt, .nullable = true),
      KL_STATE(is_active, .type = kBool),
      {.name = "config",
       .type = kObj,
       .nullable = true,
       .write =
           [](json::Writer& w, const V& v) {
             const EndpointState& e = v.endpoint;
             if (e.config) {
               w.Raw(ShownConfig(*e.config, e.config_secrets));
             } else {
               w.Null();
             }
           }},
      KL_STATE(proxy, .type = kObj, .nullable = true, .shape = Shape::kProxy),
      {.name = "total_keys",
       .type = kInt,
       .write = [](json::Writer& w, const V& v) { w.Int(v.total_keys); }},
      {.name = "active_keys",
       .type = kInt,
       .write = [](json::Writer& w, const V& v) { w.Int(v.active_keys); }},
      KL_TIME(created_at),
      KL_TIME(updated_at),
  };
  return kMembers;
}

#undef KL_TIME
#undef KL_STATE

}  // namespace keyledger::projections::response
