#include "projections/fold.hpp"

#include <algorithm>

#include "projections/codec_internal.hpp"

namespace keyledger::projections {

using events::EventRecord;
using events::EventType;
using simdjson::dom::element;
using simdjson::dom::object;

State State::Fork() const {
  State s;
  s.sequence = sequence;
  s.time_us = time_us;
  s.providers = providers.Fork();
  s.endpoints = endpoints.Fork();
  s.keys = keys.Fork();
  s.provider_names = provider_names.Fork();
  s.keyring_version = keyring_version;
  s.system_configs = system_configs;
  return s;
}

std::string ProviderStream(std::string_view id) { return "provider-" + std::string(id); }
std::string EndpointStream(std::string_view id) { return "endpoint-" + std::string(id); }
std::string KeyStream(std::string_view id) { return "key-" + std::string(id); }
std::string SystemConfigStream(std::string_view key) { return "system-config-" + std::string(key); }

struct Folder::Impl {
  simdjson::dom::parser parser;

  Status Fold(State& s, const EventRecord& r, object payload);
};

Folder::Folder() : impl_(std::make_unique<Impl>()) {}
Folder::~Folder() = default;

namespace {

Status Member(object obj, std::string_view name, element& out) {
  if (obj[name].get(out)) return Corrupt("payload member " + std::string(name));
  return Status::Ok();
}

Status MemberString(object obj, std::string_view name, std::string& out) {
  element v;
  KL_RETURN_IF_ERROR(Member(obj, name, v));
  return GetString(v, out, name);
}

Status MemberObject(object obj, std::string_view name, object& out) {
  element v;
  KL_RETURN_IF_ERROR(Member(obj, name, v));
  if (v.get_object().get(out)) return Corrupt("payload member " + std::string(name));
  return Status::Ok();
}

// An integer or null member.
Status MemberOptInt(object obj, std::string_view name, std::optional<int64_t>& out) {
  element v;
  KL_RETURN_IF_ERROR(Member(obj, name, v));
  if (v.is_null()) {
    out.reset();
    return Status::Ok();
  }
  int64_t n = 0;
  KL_RETURN_IF_ERROR(GetInt(v, n, name));
  out = n;
  return Status::Ok();
}

bool HasMember(object obj, std::string_view name) {
  element v;
  return !obj[name].get(v);
}

Error Missing(std::string_view what, std::string_view id) {
  return MakeError(ErrorCode::kCorruption,
                   "event refers to unknown " + std::string(what) + " " + std::string(id));
}

}  // namespace

Status Folder::Apply(State& state, const EventRecord& record) {
  // Every type reads schema version 1; the types whose payloads changed also read the versions
  // this build writes (events::CurrentSchemaVersion). Older versions are upcast by the readers
  // below (a version-1 payload is a version-2 payload without sealed credentials).
  if (record.schema_version < 1 ||
      record.schema_version > events::CurrentSchemaVersion(record.type)) {
    return MakeError(ErrorCode::kUnsupported,
                     "event " + std::to_string(record.sequence) + " (" +
                         std::string(events::EventTypeName(record.type)) + ") has schema version " +
                         std::to_string(record.schema_version) +
                         ", unknown to this build (it reads " +
                         std::string(events::EventTypeName(record.type)) + " up to version " +
                         std::to_string(events::CurrentSchemaVersion(record.type)) + ")");
  }
  element doc;
  if (impl_->parser.parse(record.payload).get(doc)) {
    return Corrupt("payload of event " + std::to_string(record.sequence));
  }
  object payload;
  if (doc.get_object().get(payload)) return Corrupt("payload (not an object)");
  KL_RETURN_IF_ERROR(impl_->Fold(state, record, payload));
  state.sequence = record.sequence;
  state.time_us = record.time_us;
  return Status::Ok();
}

Status Folder::Impl::Fold(State& s, const EventRecord& r, object payload) {
  switch (r.type) {
    case EventType::kProviderCreated: {
      object fields;
      KL_RETURN_IF_ERROR(MemberObject(payload, "provider", fields));
      auto p = std::make_shared<ProviderState>();
      KL_RETURN_IF_ERROR(ReadProviderObject(fields, *p));
      p->version = 1;
      p->stream_version = r.stream_version;
      p->created_at = p->updated_at = r.time_us;
      s.provider_names.Set(p->name, std::make_shared<const std::string>(p->id));
      std::string id = p->id;
      s.providers.Set(id, std::move(p));
      return Status::Ok();
    }
    case EventType::kProviderUpdated: {
      std::string id;
      object fields;
      KL_RETURN_IF_ERROR(MemberString(payload, "provider_id", id));
      KL_RETURN_IF_ERROR(MemberObject(payload, "set", fields));
      ProviderState* p = s.providers.Mutable(id);
      if (!p) return Missing("provider", id);
      const std::string old_name = p->name;
      // A new config replaces its sealed values too (a version-1 update carries none).
      if (HasMember(fields, "config")) p->config_secrets.clear();
      KL_RETURN_IF_ERROR(ReadProviderObject(fields, *p));
      if (p->name != old_name) {
        s.provider_names.Erase(old_name);
        s.provider_names.Set(p->name, std::make_shared<const std::string>(id));
      }
      p->version++;
      p->stream_version = r.stream_version;
      p->updated_at = r.time_us;
      return Status::Ok();
    }
    case EventType::kProviderDeleted: {
      std::string id;
      KL_RETURN_IF_ERROR(MemberString(payload, "provider_id", id));
      const ProviderState* p = s.providers.Find(id);
      if (p == nullptr) return Missing("provider", id);
      s.provider_names.Erase(p->name);
      s.providers.Erase(id);
      return Status::Ok();
    }
    case EventType::kProviderCredentialsRevealed: {
      std::string id;
      KL_RETURN_IF_ERROR(MemberString(payload, "provider_id", id));
      ProviderState* p = s.providers.Mutable(id);
      if (!p) return Missing("provider", id);
      p->stream_version = r.stream_version;
      return Status::Ok();
    }
    case EventType::kEndpointCreated: {
      object fields;
      KL_RETURN_IF_ERROR(MemberObject(payload, "endpoint", fields));
      auto e = std::make_shared<EndpointState>();
      KL_RETURN_IF_ERROR(ReadEndpointObject(fields, *e));
      e->version = 1;
      e->stream_version = r.stream_version;
      e->created_at = e->updated_at = r.time_us;
      ProviderState* p = s.providers.Mutable(e->provider_id);
      if (!p) return Missing("provider", e->provider_id);
      p->endpoint_ids.Insert(e->id);
      std::string id = e->id;
      s.endpoints.Set(id, std::move(e));
      return Status::Ok();
    }
    case EventType::kEndpointUpdated: {
      std::string id;
      object fields;
      KL_RETURN_IF_ERROR(MemberString(payload, "endpoint_id", id));
      KL_RETURN_IF_ERROR(MemberObject(payload, "set", fields));
      EndpointState* e = s.endpoints.Mutable(id);
      if (!e) return Missing("endpoint", id);
      if (HasMember(fields, "headers")) e->header_secrets.clear();
      if (HasMember(fields, "config")) e->config_secrets.clear();
      KL_RETURN_IF_ERROR(ReadEndpointObject(fields, *e));
      e->version++;
      e->stream_version = r.stream_version;
      e->updated_at = r.time_us;
      return Status::Ok();
    }
    case EventType::kEndpointDeleted: {
      std::string id;
      KL_RETURN_IF_ERROR(MemberString(payload, "endpoint_id", id));
      const EndpointState* e = s.endpoints.Find(id);
      if (e == nullptr) return Missing("endpoint", id);
      if (ProviderState* p = s.providers.Mutable(e->provider_id)) {
        p->endpoint_ids.Erase(id);
      }
      s.endpoints.Erase(id);
      return Status::Ok();
    }
    case EventType::kEndpointCredentialsRevealed: {
      std::string id;
      KL_RETURN_IF_ERROR(MemberString(payload, "endpoint_id", id));
      EndpointState* e = s.endpoints.Mutable(id);
      if (!e) return Missing("endpoint", id);
      e->stream_version = r.stream_version;
      return Status::Ok();
    }
    case EventType::kKeyCreated: {
      object fields;
      KL_RETURN_IF_ERROR(MemberObject(payload, "key", fields));
      auto k = std::make_shared<KeyState>();
      KL_RETURN_IF_ERROR(ReadKeyObject(fields, *k));
      k->version = 1;
      k->stream_version = r.stream_version;
      k->created_at = k->updated_at = r.time_us;
      ProviderState* p = s.providers.Mutable(k->provider_id);
      if (!p) return Missing("provider", k->provider_id);
      p->key_ids.Insert(k->id);
      std::string id = k->id;
      s.keys.Set(id, std::move(k));
      return Status::Ok();
    }
    case EventType::kKeyUpdated: {
      std::string id;
      object fields;
      KL_RETURN_IF_ERROR(MemberString(payload, "key_id", id));
      KL_RETURN_IF_ERROR(MemberObject(payload, "set", fields));
      KeyState* k = s.keys.Mutable(id);
      if (!k) return Missing("key", id);
      KL_RETURN_IF_ERROR(ReadKeyObject(fields, *k));
      k->version++;
      k->stream_version = r.stream_version;
      k->updated_at = r.time_us;
      return Status::Ok();
    }
    case EventType::kKeyDeleted: {
      std::string id;
      KL_RETURN_IF_ERROR(MemberString(payload, "key_id", id));
      const KeyState* k = s.keys.Find(id);
      if (k == nullptr) return Missing("key", id);
      if (ProviderState* p = s.providers.Mutable(k->provider_id)) {
        p->key_ids.Erase(id);
      }
      s.keys.Erase(id);
      return Status::Ok();
    }
    case EventType::kKeyRevealed: {
      std::string id;
      KL_RETURN_IF_ERROR(MemberString(payload, "key_id", id));
      KeyState* k = s.keys.Mutable(id);
      if (!k) return Missing("key", id);
      k->stream_version = r.stream_version;
      return Status::Ok();
    }
    case EventType::kKeyHealthReported: {
      std::string id, format;
      KL_RETURN_IF_ERROR(MemberString(payload, "key_id", id));
      KL_RETURN_IF_ERROR(MemberString(payload, "api_format", format));
      KeyState* k = s.keys.Mutable(id);
      if (!k) return Missing("key", id);
      element v;
      int64_t successes = 0, failures = 0, total_ms = 0, at = 0;
      KL_RETURN_IF_ERROR(Member(payload, "successes", v));
      KL_RETURN_IF_ERROR(GetInt(v, successes, "successes"));
      KL_RETURN_IF_ERROR(Member(payload, "failures", v));
      KL_RETURN_IF_ERROR(GetInt(v, failures, "failures"));
      KL_RETURN_IF_ERROR(Member(payload, "total_response_time_ms", v));
      KL_RETURN_IF_ERROR(GetInt(v, total_ms, "total_response_time_ms"));
      KL_RETURN_IF_ERROR(Member(payload, "at", v));
      KL_RETURN_IF_ERROR(GetInt(v, at, "at"));
      KL_RETURN_IF_ERROR(Member(payload, "health", v));
      KL_RETURN_IF_ERROR(ReadFormatHealth(v, Upsert(k->health_by_format, format)));
      KL_RETURN_IF_ERROR(Member(payload, "breaker", v));
      KL_RETURN_IF_ERROR(ReadFormatBreaker(v, Upsert(k->circuit_breaker_by_format, format)));
      k->request_count += successes + failures;
      k->success_count += successes;
      k->error_count += failures;
      k->total_response_time_ms += total_ms;
      if (!k->last_used_at || *k->last_used_at < at) k->last_used_at = at;
      k->stream_version = r.stream_version;
      return Status::Ok();
    }
    case EventType::kKeyHealthReset: {
      std::string id;
      KL_RETURN_IF_ERROR(MemberString(payload, "key_id", id));
      KeyState* k = s.keys.Mutable(id);
      if (!k) return Missing("key", id);
      element formats;
      KL_RETURN_IF_ERROR(Member(payload, "formats", formats));
      StringList list;
      simdjson::dom::array arr;
      if (formats.get_array().get(arr)) return Corrupt("formats");
      for (element f : arr) {
        std::string name;
        KL_RETURN_IF_ERROR(GetString(f, name, "formats"));
        Upsert(k->health_by_format, name) = FormatHealth{};
        Upsert(k->circuit_breaker_by_format, name) = FormatBreaker{};
      }
      k->stream_version = r.stream_version;
      return Status::Ok();
    }
    case EventType::kKeyAdaptiveModeChanged:
    case EventType::kKeyRpmLimitSet: {
      // The payload carries the resulting values (rpm_limit, and for a mode change the
      // learned limit too), so replay never re-decides anything. Both are configuration: the
      // key's version (ETag) moves.
      std::string id;
      KL_RETURN_IF_ERROR(MemberString(payload, "key_id", id));
      KeyState* k = s.keys.Mutable(id);
      if (!k) return Missing("key", id);
      KL_RETURN_IF_ERROR(MemberOptInt(payload, "rpm_limit", k->rpm_limit));
      if (r.type == EventType::kKeyAdaptiveModeChanged) {
        KL_RETURN_IF_ERROR(MemberOptInt(payload, "learned_rpm_limit", k->learned_rpm_limit));
      }
      k->version++;
      k->stream_version = r.stream_version;
      k->updated_at = r.time_us;
      return Status::Ok();
    }
    case EventType::kKeyLearningReset: {
      // Aether's reset_learning_state (spec §11.3.5): the learner's columns return to their
      // defaults; rpm_limit is untouched. Learner state, not configuration: the version stays.
      std::string id;
      KL_RETURN_IF_ERROR(MemberString(payload, "key_id", id));
      KeyState* k = s.keys.Mutable(id);
      if (!k) return Missing("key", id);
      k->learned_rpm_limit.reset();
      k->last_429_at.reset();
      k->last_429_type.reset();
      k->last_probe_increase_at.reset();
      k->concurrent_429_count = 0;
      k->rpm_429_count = 0;
      k->utilization_samples = RawJson{"[]"};
      k->stream_version = r.stream_version;
      k->updated_at = r.time_us;
      return Status::Ok();
    }
    case EventType::kMasterKeyRotated:
      s.keyring_version = r.stream_version;
      return Status::Ok();
    case EventType::kSystemConfigSet: {
      // {"key":k,"value":<JSON>,"description":text|null}: the config as it stands after the set
      // (the command already decided which description to keep).
      std::string key;
      element value, description;
      KL_RETURN_IF_ERROR(MemberString(payload, "key", key));
      KL_RETURN_IF_ERROR(Member(payload, "value", value));
      KL_RETURN_IF_ERROR(Member(payload, "description", description));
      auto [it, inserted] = s.system_configs.try_emplace(key);
      SystemConfigState& c = it->second;
      if (inserted) {
        c.key = key;
        c.created_at = r.time_us;
      }
      c.value = ToJsonText(value);
      if (description.is_null()) {
        c.description.reset();
      } else {
        std::string text;
        KL_RETURN_IF_ERROR(GetString(description, text, "description"));
        c.description = std::move(text);
      }
      c.version = r.stream_version;
      c.updated_at = r.time_us;
      return Status::Ok();
    }
  }
  return MakeError(
      ErrorCode::kUnsupported,
      "event type " + std::to_string(static_cast<int>(r.type)) + " is unknown to this build");
}

}  // namespace keyledger::projections
