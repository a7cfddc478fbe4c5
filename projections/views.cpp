#include "projections/views.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "events/time_format.hpp"
#include "projections/codec.hpp"
#include "projections/credentials.hpp"
#include "projections/domain.hpp"
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

void PutProxy(json::Writer& w, const std::optional<Proxy>& p) {
  if (!p) {
    w.Null();
    return;
  }
  w.BeginObject();
  w.Member("url", p->url);
  w.Key("username");
  PutOptString(w, p->username);
  w.Key("password");
  if (p->password) {
    w.String("***");
  } else {
    w.Null();
  }
  w.Member("enabled", p->enabled);
  w.EndObject();
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
  const KeyHealthSummary health = SummarizeHealth(k);
  const bool adaptive = !k.rpm_limit.has_value();
  w.BeginObject();
  w.Member("id", k.id);
  w.Member("provider_id", k.provider_id);
  w.Key("api_formats");
  PutStrings(w, k.api_formats);
  w.Member("api_key_masked", k.secret.mask);
  w.Key("api_key_plain");
  PutOptString(w, plain);
  w.Member("name", k.name);
  w.Member("rate_multiplier", k.rate_multiplier);
  w.Key("rate_multipliers");
  if (k.rate_multipliers) {
    w.BeginObject();
    for (const auto& [f, m] : *k.rate_multipliers) w.Member(f, m);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Member("internal_priority", k.internal_priority);
  w.Key("global_priority");
  PutOptInt(w, k.global_priority);
  w.Key("rpm_limit");
  PutOptInt(w, k.rpm_limit);
  w.Key("allowed_models");
  PutAllowedModels(w, k.allowed_models);
  w.Key("capabilities");
  if (k.capabilities) {
    w.BeginObject();
    for (const auto& [c, on] : *k.capabilities) w.Member(c, on);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Member("cache_ttl_minutes", k.cache_ttl_minutes);
  w.Member("max_probe_interval_minutes", k.max_probe_interval_minutes);
  w.Key("health_by_format");
  PutHealthByFormat(w, k.health_by_format);
  w.Key("circuit_breaker_by_format");
  PutBreakerByFormat(w, k.circuit_breaker_by_format);
  w.Member("health_score", health.health_score);
  w.Member("consecutive_failures", health.consecutive_failures);
  w.Key("last_failure_at");
  PutTime(w, health.last_failure_at);
  w.Member("circuit_breaker_open", health.circuit_breaker_open);
  w.Key("circuit_breaker_open_at").Null();
  w.Key("next_probe_at").Null();
  w.Key("half_open_until").Null();
  w.Member("half_open_successes", int64_t{0});
  w.Member("half_open_failures", int64_t{0});
  w.Key("request_results_window").Null();
  w.Member("request_count", k.request_count);
  w.Member("success_count", k.success_count);
  w.Member("error_count", k.error_count);
  w.Member("success_rate", k.request_count > 0 ? static_cast<double>(k.success_count) /
                                                     static_cast<double>(k.request_count)
                                               : 0.0);
  w.Member("avg_response_time_ms", k.success_count > 0
                                       ? RoundTo2(static_cast<double>(k.total_response_time_ms) /
                                                  static_cast<double>(k.success_count))
                                       : 0.0);
  w.Member("is_active", k.is_active);
  w.Member("is_adaptive", adaptive);
  w.Key("learned_rpm_limit");
  PutOptInt(w, k.learned_rpm_limit);
  w.Key("effective_limit");
  if (adaptive) {
    w.Int(k.learned_rpm_limit.value_or(domain::rpm::kInitialLimit));
  } else {
    w.Int(*k.rpm_limit);
  }
  w.Key("utilization_samples");
  if (k.utilization_samples) {
    w.Raw(k.utilization_samples->text);
  } else {
    w.Null();
  }
  w.Key("last_probe_increase_at");
  PutTime(w, k.last_probe_increase_at);
  w.Member("concurrent_429_count", k.concurrent_429_count);
  w.Member("rpm_429_count", k.rpm_429_count);
  w.Key("last_429_at");
  PutTime(w, k.last_429_at);
  w.Key("last_429_type");
  PutOptString(w, k.last_429_type);
  w.Key("note");
  PutOptString(w, k.note);
  w.Key("last_used_at");
  PutTime(w, k.last_used_at);
  w.Member("created_at", PydanticTime(k.created_at));
  w.Member("updated_at", PydanticTime(k.updated_at));
  w.EndObject();
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
  std::vector<const EndpointState*> endpoints;
  p.endpoint_ids.ForEach([&](const std::string& id) {
    if (const EndpointState* e = s.endpoints.Find(id)) endpoints.push_back(e);
  });
  std::sort(endpoints.begin(), endpoints.end(), [](const EndpointState* a, const EndpointState* b) {
    if (a->created_at != b->created_at) return a->created_at < b->created_at;
    return a->id < b->id;
  });
  int64_t active_endpoints = 0, total_keys = 0, active_keys = 0, unhealthy = 0;
  p.key_ids.ForEach([&](const std::string& id) {
    const KeyState* k = s.keys.Find(id);
    if (k == nullptr) return;
    total_keys++;
    if (k->is_active) active_keys++;
  });
  double health_total = 0;
  json::Writer details;
  details.BeginArray();
  for (const EndpointState* e : endpoints) {
    if (e->is_active) active_endpoints++;
    EndpointKeyCounts c = CountKeysFor(s, p, e->api_format);
    double health = c.active > 0 ? c.health_sum / static_cast<double>(c.active) : 1.0;
    health_total += health;
    if (health < 0.5) unhealthy++;
    details.BeginObject()
        .Member("api_format", e->api_format)
        .Member("health_score", health)
        .Member("is_active", e->is_active)
        .Member("active_keys", c.active)
        .EndObject();
  }
  details.EndArray();

  w.BeginObject();
  w.Member("id", p.id);
  w.Member("name", p.name);
  w.Key("description");
  PutOptString(w, p.description);
  w.Key("website");
  PutOptString(w, p.website);
  w.Key("provider_priority");
  PutOptInt(w, p.provider_priority);
  w.Member("is_active", p.is_active);
  w.Member("billing_type", p.billing_type);
  w.Key("monthly_quota_usd");
  PutOptDouble(w, p.monthly_quota_usd);
  w.Member("monthly_used_usd", p.monthly_used_usd);
  w.Key("quota_reset_day");
  PutOptInt(w, p.quota_reset_day);
  w.Key("quota_last_reset_at");
  PutTime(w, p.quota_last_reset_at);
  w.Key("quota_expires_at");
  PutTime(w, p.quota_expires_at);
  w.Key("timeout");
  PutOptInt(w, p.timeout);
  w.Key("max_retries");
  PutOptInt(w, p.max_retries);
  w.Key("proxy");
  PutProxy(w, p.proxy);
  w.Member("total_endpoints", static_cast<int64_t>(endpoints.size()));
  w.Member("active_endpoints", active_endpoints);
  w.Member("total_keys", total_keys);
  w.Member("active_keys", active_keys);
  w.Member("total_models", int64_t{0});
  w.Member("active_models", int64_t{0});
  w.Key("api_formats").BeginArray();
  for (const EndpointState* e : endpoints) w.String(e->api_format);
  w.EndArray();
  w.Key("endpoint_health_details").Raw(details.str());
  w.Member("avg_health_score",
           endpoints.empty() ? 1.0 : health_total / static_cast<double>(endpoints.size()));
  w.Member("unhealthy_endpoints", unhealthy);
  w.Member("created_at", PydanticTime(p.created_at));
  w.Member("updated_at", PydanticTime(p.updated_at));
  w.EndObject();
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
  w.BeginObject();
  w.Member("id", e.id);
  w.Member("provider_id", e.provider_id);
  w.Member("provider_name", p ? p->name : std::string());
  w.Member("api_format", e.api_format);
  w.Member("base_url", e.base_url);
  w.Key("custom_path");
  PutOptString(w, e.custom_path);
  w.Key("headers");
  if (e.headers) {
    w.BeginObject();
    for (const auto& [k, v] : *e.headers) w.Member(k, ShownHeaderValue(k, v, e.header_secrets));
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("timeout");
  PutOptInt(w, e.timeout);
  w.Key("max_retries");
  PutOptInt(w, e.max_retries);
  w.Member("is_active", e.is_active);
  w.Key("config");
  if (e.config) {
    w.Raw(ShownConfig(*e.config, e.config_secrets));
  } else {
    w.Null();
  }
  w.Key("proxy");
  PutProxy(w, e.proxy);
  w.Member("total_keys", c.total);
  w.Member("active_keys", c.active);
  w.Member("created_at", PydanticTime(e.created_at));
  w.Member("updated_at", PydanticTime(e.updated_at));
  w.EndObject();
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
