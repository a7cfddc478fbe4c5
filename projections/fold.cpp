#include "projections/fold.hpp"

#include <algorithm>

#include "projections/codec.hpp"
#include "projections/event_payloads.hpp"

namespace keyledger::projections {

using events::EventRecord;

State State::Fork() const {
  State s;
  s.sequence = sequence;
  s.time_us = time_us;
  s.telemetry_version = telemetry_version;
  s.providers = providers.Fork();
  s.endpoints = endpoints.Fork();
  s.keys = keys.Fork();
  s.provider_names = provider_names.Fork();
  s.keyring_version = keyring_version;
  s.system_configs = system_configs;
  s.health_from_log = health_from_log.Fork();
  return s;
}

std::string ProviderStream(std::string_view id) { return "provider-" + std::string(id); }
std::string EndpointStream(std::string_view id) { return "endpoint-" + std::string(id); }
std::string KeyStream(std::string_view id) { return "key-" + std::string(id); }
std::string SystemConfigStream(std::string_view key) { return "system-config-" + std::string(key); }

namespace {

// KeyState and KeyTelemetry name these members alike: the same fold serves the key as shown and,
// for a key showing telemetry, its health as the log alone has it.
template <typename T>
void ApplyReport(T& k, const KeyHealthReported& e) {
  Upsert(k.health_by_format, e.api_format) = e.health;
  Upsert(k.circuit_breaker_by_format, e.api_format) = e.breaker;
  k.request_count += e.successes + e.failures;
  k.success_count += e.successes;
  k.error_count += e.failures;
  k.total_response_time_ms += e.total_response_time_ms;
  if (!k.last_used_at || *k.last_used_at < e.at) k.last_used_at = e.at;
}

template <typename T>
void ApplyReset(T& k, const KeyHealthReset& e) {
  for (const std::string& name : e.formats) {
    Upsert(k.health_by_format, name) = FormatHealth{};
    Upsert(k.circuit_breaker_by_format, name) = FormatBreaker{};
  }
}

Error Missing(std::string_view what, std::string_view id) {
  return MakeError(ErrorCode::kCorruption,
                   "event refers to unknown " + std::string(what) + " " + std::string(id));
}

// One Apply per event type, on the newest shape of its payload (older schema versions were
// upcast by the EventDecoder).
class Applier {
 public:
  Applier(State& s, const EventRecord& r) : s_(s), r_(r) {}

  Status operator()(ProviderCreated&& e) {
    auto p = std::make_shared<ProviderState>(std::move(e.provider));
    p->version = 1;
    p->stream_version = r_.stream_version;
    p->created_at = p->updated_at = r_.time_us;
    s_.provider_names.Set(p->name, std::make_shared<const std::string>(p->id));
    std::string id = p->id;
    s_.providers.Set(id, std::move(p));
    return Status::Ok();
  }

  Status operator()(ProviderUpdated&& e) {
    ProviderState* p = s_.providers.Mutable(e.provider_id);
    if (!p) return Missing("provider", e.provider_id);
    const std::string old_name = p->name;
    // A new config replaces its sealed values too (a version-1 update carries none).
    if (e.set.Has("config")) p->config_secrets.clear();
    CopyProviderFields(e.set.names, std::move(e.set.values), *p);
    if (p->name != old_name) {
      s_.provider_names.Erase(old_name);
      s_.provider_names.Set(p->name, std::make_shared<const std::string>(e.provider_id));
    }
    p->version++;
    p->stream_version = r_.stream_version;
    p->updated_at = r_.time_us;
    return Status::Ok();
  }

  Status operator()(ProviderDeleted&& e) {
    const ProviderState* p = s_.providers.Find(e.provider_id);
    if (p == nullptr) return Missing("provider", e.provider_id);
    s_.provider_names.Erase(p->name);
    s_.providers.Erase(e.provider_id);
    return Status::Ok();
  }

  Status operator()(ProviderCredentialsRevealed&& e) {
    ProviderState* p = s_.providers.Mutable(e.provider_id);
    if (!p) return Missing("provider", e.provider_id);
    p->stream_version = r_.stream_version;
    return Status::Ok();
  }

  Status operator()(EndpointCreated&& ev) {
    auto e = std::make_shared<EndpointState>(std::move(ev.endpoint));
    e->version = 1;
    e->stream_version = r_.stream_version;
    e->created_at = e->updated_at = r_.time_us;
    ProviderState* p = s_.providers.Mutable(e->provider_id);
    if (!p) return Missing("provider", e->provider_id);
    p->endpoint_ids.Insert(e->id);
    std::string id = e->id;
    s_.endpoints.Set(id, std::move(e));
    return Status::Ok();
  }

  Status operator()(EndpointUpdated&& ev) {
    EndpointState* e = s_.endpoints.Mutable(ev.endpoint_id);
    if (!e) return Missing("endpoint", ev.endpoint_id);
    if (ev.set.Has("headers")) e->header_secrets.clear();
    if (ev.set.Has("config")) e->config_secrets.clear();
    CopyEndpointFields(ev.set.names, std::move(ev.set.values), *e);
    e->version++;
    e->stream_version = r_.stream_version;
    e->updated_at = r_.time_us;
    return Status::Ok();
  }

  Status operator()(EndpointDeleted&& ev) {
    const EndpointState* e = s_.endpoints.Find(ev.endpoint_id);
    if (e == nullptr) return Missing("endpoint", ev.endpoint_id);
    if (ProviderState* p = s_.providers.Mutable(e->provider_id)) {
      p->endpoint_ids.Erase(ev.endpoint_id);
    }
    s_.endpoints.Erase(ev.endpoint_id);
    return Status::Ok();
  }

  Status operator()(EndpointCredentialsRevealed&& ev) {
    EndpointState* e = s_.endpoints.Mutable(ev.endpoint_id);
    if (!e) return Missing("endpoint", ev.endpoint_id);
    e->stream_version = r_.stream_version;
    return Status::Ok();
  }

  Status operator()(KeyCreated&& e) {
    auto k = std::make_shared<KeyState>(std::move(e.key));
    k->version = 1;
    k->stream_version = r_.stream_version;
    k->created_at = k->updated_at = r_.time_us;
    ProviderState* p = s_.providers.Mutable(k->provider_id);
    if (!p) return Missing("provider", k->provider_id);
    p->key_ids.Insert(k->id);
    std::string id = k->id;
    s_.keys.Set(id, std::move(k));
    return Status::Ok();
  }

  Status operator()(KeyUpdated&& e) {
    KeyState* k = s_.keys.Mutable(e.key_id);
    if (!k) return Missing("key", e.key_id);
    // An api_formats change drops the health of formats the key no longer serves: the event sets
    // the maps as they were shown, and they are the log's from now on.
    if (KeyTelemetry* logged = s_.health_from_log.Mutable(e.key_id)) {
      if (e.set.Has("health_by_format")) {
        logged->health_by_format = e.set.values.health_by_format;
      }
      if (e.set.Has("circuit_breaker_by_format")) {
        logged->circuit_breaker_by_format = e.set.values.circuit_breaker_by_format;
      }
    }
    CopyKeyFields(e.set.names, std::move(e.set.values), *k);
    k->version++;
    k->stream_version = r_.stream_version;
    k->updated_at = r_.time_us;
    return Status::Ok();
  }

  Status operator()(KeyDeleted&& e) {
    const KeyState* k = s_.keys.Find(e.key_id);
    if (k == nullptr) return Missing("key", e.key_id);
    if (ProviderState* p = s_.providers.Mutable(k->provider_id)) p->key_ids.Erase(e.key_id);
    s_.keys.Erase(e.key_id);
    s_.health_from_log.Erase(e.key_id);
    return Status::Ok();
  }

  Status operator()(KeyRevealed&& e) {
    KeyState* k = s_.keys.Mutable(e.key_id);
    if (!k) return Missing("key", e.key_id);
    k->stream_version = r_.stream_version;
    return Status::Ok();
  }

  Status operator()(KeyHealthReported&& e) {
    KeyState* k = s_.keys.Mutable(e.key_id);
    if (!k) return Missing("key", e.key_id);
    ApplyReport(*k, e);
    if (KeyTelemetry* logged = s_.health_from_log.Mutable(e.key_id)) ApplyReport(*logged, e);
    k->stream_version = r_.stream_version;
    return Status::Ok();
  }

  Status operator()(KeyHealthReset&& e) {
    KeyState* k = s_.keys.Mutable(e.key_id);
    if (!k) return Missing("key", e.key_id);
    ApplyReset(*k, e);
    if (KeyTelemetry* logged = s_.health_from_log.Mutable(e.key_id)) ApplyReset(*logged, e);
    k->stream_version = r_.stream_version;
    return Status::Ok();
  }

  // The payloads carry the resulting values (rpm_limit, and for a mode change the learned limit
  // too), so replay never re-decides anything. Both are configuration: the key's version (ETag)
  // moves.
  Status operator()(KeyAdaptiveModeChanged&& e) {
    KeyState* k = s_.keys.Mutable(e.key_id);
    if (!k) return Missing("key", e.key_id);
    k->rpm_limit = e.rpm_limit;
    k->learned_rpm_limit = e.learned_rpm_limit;
    return Configured(*k);
  }

  Status operator()(KeyRpmLimitSet&& e) {
    KeyState* k = s_.keys.Mutable(e.key_id);
    if (!k) return Missing("key", e.key_id);
    // From version 2 the event names the key's provider; it can only be the key's own.
    if (e.provider_id && *e.provider_id != k->provider_id) {
      return MakeError(ErrorCode::kCorruption, "event " + std::to_string(r_.sequence) +
                                                   " names provider " + *e.provider_id +
                                                   " for key " + e.key_id + " of provider " +
                                                   k->provider_id);
    }
    k->rpm_limit = e.rpm_limit;
    return Configured(*k);
  }

  // Aether's reset_learning_state (spec §11.3.5): the learner's columns return to their
  // defaults; rpm_limit is untouched. Learner state, not configuration: the version stays.
  Status operator()(KeyLearningReset&& e) {
    KeyState* k = s_.keys.Mutable(e.key_id);
    if (!k) return Missing("key", e.key_id);
    k->learned_rpm_limit.reset();
    k->last_429_at.reset();
    k->last_429_type.reset();
    k->last_probe_increase_at.reset();
    k->concurrent_429_count = 0;
    k->rpm_429_count = 0;
    k->utilization_samples = RawJson{"[]"};
    k->stream_version = r_.stream_version;
    k->updated_at = r_.time_us;
    return Status::Ok();
  }

  Status operator()(MasterKeyRotated&&) {
    s_.keyring_version = r_.stream_version;
    return Status::Ok();
  }

  // The config as it stands after the set (the command already decided which description to
  // keep).
  Status operator()(SystemConfigSet&& e) {
    auto [it, inserted] = s_.system_configs.try_emplace(e.key);
    SystemConfigState& c = it->second;
    if (inserted) {
      c.key = e.key;
      c.created_at = r_.time_us;
    }
    c.value = std::move(e.value.text);
    c.description = std::move(e.description);
    c.version = r_.stream_version;
    c.updated_at = r_.time_us;
    return Status::Ok();
  }

 private:
  Status Configured(KeyState& k) {
    k.version++;
    k.stream_version = r_.stream_version;
    k.updated_at = r_.time_us;
    return Status::Ok();
  }

  State& s_;
  const EventRecord& r_;
};

}  // namespace

struct Folder::Impl {
  EventDecoder decoder;
};

Folder::Folder() : impl_(std::make_unique<Impl>()) {}
Folder::~Folder() = default;

Status Folder::Apply(State& state, const EventRecord& record) {
  // Any schema version this build knows, upcast to the newest; a newer one is refused naming
  // the event, its type and both versions (projections/upcasters.hpp, events/FORMAT.md).
  KL_ASSIGN_OR_RETURN(Event event, impl_->decoder.Decode(record));
  return Apply(state, record, std::move(event));
}

Status Folder::Apply(State& state, const EventRecord& record, Event event) {
  KL_RETURN_IF_ERROR(std::visit(Applier(state, record), std::move(event)));
  state.sequence = record.sequence;
  state.time_us = record.time_us;
  return Status::Ok();
}

}  // namespace keyledger::projections
