#include <algorithm>
#include <array>
#include <cassert>

#include "events/crypto.hpp"
#include "projections/codec_internal.hpp"

namespace keyledger::projections {

using simdjson::dom::element;

Error Corrupt(std::string_view what) {
  return MakeError(ErrorCode::kCorruption, "cannot decode " + std::string(what));
}

Status GetString(element v, std::string& out, std::string_view what) {
  std::string_view s;
  if (v.get_string().get(s)) return Corrupt(what);
  out.assign(s);
  return Status::Ok();
}
Status GetInt(element v, int64_t& out, std::string_view what) {
  if (v.get_int64().get(out)) return Corrupt(what);
  return Status::Ok();
}
Status GetUint(element v, uint64_t& out, std::string_view what) {
  if (v.get_uint64().get(out)) return Corrupt(what);
  return Status::Ok();
}
Status GetDouble(element v, double& out, std::string_view what) {
  if (v.get_double().get(out)) return Corrupt(what);
  return Status::Ok();
}
Status GetBool(element v, bool& out, std::string_view what) {
  if (v.get_bool().get(out)) return Corrupt(what);
  return Status::Ok();
}
std::string ToJsonText(element v) { return simdjson::minify(v); }

namespace {

// ---- writing, by type ----
void Put(json::Writer& w, const std::string& v) { w.String(v); }
void Put(json::Writer& w, int64_t v) { w.Int(v); }
void Put(json::Writer& w, uint64_t v) { w.Uint(v); }
void Put(json::Writer& w, double v) { w.Double(v); }
void Put(json::Writer& w, bool v) { w.Bool(v); }
void Put(json::Writer& w, const RawJson& v) { w.Raw(v.text); }
void Put(json::Writer& w, const StringList& v) {
  w.BeginArray();
  for (const auto& s : v) w.String(s);
  w.EndArray();
}
void Put(json::Writer& w, const SortedIdSet& v) {
  w.BeginArray();
  v.ForEach([&](const std::string& id) { w.String(id); });
  w.EndArray();
}
void Put(json::Writer& w, const StoredSecret& s);
void Put(json::Writer& w, const Proxy& p);
void Put(json::Writer& w, const FormatHealth& h) { WriteFormatHealth(w, h); }
void Put(json::Writer& w, const FormatBreaker& b) { WriteFormatBreaker(w, b); }
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
void Put(json::Writer& w, const AllowedModels& m) {
  if (const auto* list = std::get_if<StringList>(&m)) {
    Put(w, *list);
  } else if (const auto* dict = std::get_if<OrderedMap<StringList>>(&m)) {
    Put(w, *dict);
  } else {
    w.Null();
  }
}

void Put(json::Writer& w, const StoredSecret& s) {
  w.BeginObject();
  w.Member("cv", static_cast<int64_t>(s.sealed.cipher_version));
  w.Member("dek", s.sealed.dek_id);
  w.Member("n", crypto::Base64Encode(s.sealed.nonce));
  w.Member("ct", crypto::Base64Encode(s.sealed.ciphertext));
  w.Member("version", s.version);
  w.Member("mask", s.mask);
  w.Member("fingerprint", s.fingerprint);
  w.EndObject();
}

void Put(json::Writer& w, const Proxy& p) {
  w.BeginObject();
  w.Member("url", p.url);
  w.Key("username");
  Put(w, p.username);
  w.Key("password");
  Put(w, p.password);
  w.Member("enabled", p.enabled);
  w.EndObject();
}

// ---- reading, by type ----
bool IsNull(element v) { return v.is_null(); }

Status Get(element v, std::string& out, std::string_view what) { return GetString(v, out, what); }
Status Get(element v, int64_t& out, std::string_view what) { return GetInt(v, out, what); }
Status Get(element v, uint64_t& out, std::string_view what) { return GetUint(v, out, what); }
Status Get(element v, double& out, std::string_view what) { return GetDouble(v, out, what); }
Status Get(element v, bool& out, std::string_view what) { return GetBool(v, out, what); }
Status Get(element v, RawJson& out, std::string_view) {
  out.text = ToJsonText(v);
  return Status::Ok();
}
Status Get(element v, StringList& out, std::string_view what) {
  simdjson::dom::array arr;
  if (v.get_array().get(arr)) return Corrupt(what);
  out.clear();
  for (element item : arr) {
    std::string s;
    KL_RETURN_IF_ERROR(GetString(item, s, what));
    out.push_back(std::move(s));
  }
  return Status::Ok();
}
Status Get(element v, SortedIdSet& out, std::string_view what) {
  StringList list;
  KL_RETURN_IF_ERROR(Get(v, list, what));
  out = SortedIdSet();
  for (const auto& id : list) out.Insert(id);
  return Status::Ok();
}
Status Get(element v, StoredSecret& out, std::string_view what);
Status Get(element v, Proxy& out, std::string_view what);
Status Get(element v, FormatHealth& out, std::string_view) { return ReadFormatHealth(v, out); }
Status Get(element v, FormatBreaker& out, std::string_view) { return ReadFormatBreaker(v, out); }
template <typename T>
Status Get(element v, OrderedMap<T>& out, std::string_view what) {
  simdjson::dom::object obj;
  if (v.get_object().get(obj)) return Corrupt(what);
  out.clear();
  for (auto field : obj) {
    T value{};
    KL_RETURN_IF_ERROR(Get(field.value, value, what));
    out.emplace_back(std::string(field.key), std::move(value));
  }
  return Status::Ok();
}
template <typename T>
Status Get(element v, std::optional<T>& out, std::string_view what) {
  if (IsNull(v)) {
    out.reset();
    return Status::Ok();
  }
  T value{};
  KL_RETURN_IF_ERROR(Get(v, value, what));
  out = std::move(value);
  return Status::Ok();
}
Status Get(element v, AllowedModels& out, std::string_view what) {
  if (IsNull(v)) {
    out = std::monostate{};
  } else if (v.is_array()) {
    StringList list;
    KL_RETURN_IF_ERROR(Get(v, list, what));
    out = std::move(list);
  } else {
    OrderedMap<StringList> dict;
    KL_RETURN_IF_ERROR(Get(v, dict, what));
    out = std::move(dict);
  }
  return Status::Ok();
}

Status Get(element v, StoredSecret& out, std::string_view what) {
  simdjson::dom::object obj;
  if (v.get_object().get(obj)) return Corrupt(what);
  for (auto field : obj) {
    std::string_view k = field.key;
    if (k == "cv") {
      int64_t cv = 0;
      KL_RETURN_IF_ERROR(GetInt(field.value, cv, "secret.cv"));
      out.sealed.cipher_version = static_cast<uint16_t>(cv);
    } else if (k == "dek") {
      KL_RETURN_IF_ERROR(GetString(field.value, out.sealed.dek_id, "secret.dek"));
    } else if (k == "n" || k == "ct") {
      std::string b64;
      KL_RETURN_IF_ERROR(GetString(field.value, b64, "secret"));
      auto bytes = crypto::Base64Decode(b64);
      if (!bytes.ok()) return Corrupt("secret bytes");
      (k == "n" ? out.sealed.nonce : out.sealed.ciphertext) = std::move(bytes).value();
    } else if (k == "version") {
      KL_RETURN_IF_ERROR(GetUint(field.value, out.version, "secret.version"));
    } else if (k == "mask") {
      KL_RETURN_IF_ERROR(GetString(field.value, out.mask, "secret.mask"));
    } else if (k == "fingerprint") {
      KL_RETURN_IF_ERROR(GetString(field.value, out.fingerprint, "secret.fingerprint"));
    } else {
      return Corrupt("secret member " + std::string(k));
    }
  }
  return Status::Ok();
}

Status Get(element v, Proxy& out, std::string_view what) {
  simdjson::dom::object obj;
  if (v.get_object().get(obj)) return Corrupt(what);
  for (auto field : obj) {
    std::string_view k = field.key;
    if (k == "url") {
      KL_RETURN_IF_ERROR(GetString(field.value, out.url, "proxy.url"));
    } else if (k == "username") {
      KL_RETURN_IF_ERROR(Get(field.value, out.username, "proxy.username"));
    } else if (k == "password") {
      KL_RETURN_IF_ERROR(Get(field.value, out.password, "proxy.password"));
    } else if (k == "enabled") {
      KL_RETURN_IF_ERROR(GetBool(field.value, out.enabled, "proxy.enabled"));
    } else {
      return Corrupt("proxy member " + std::string(k));
    }
  }
  return Status::Ok();
}

// ---- field tables ----
template <typename E>
struct Field {
  std::string_view name;
  bool config;  // part of create/update payloads
  void (*put)(json::Writer&, const E&);
  Status (*get)(element, E&);
  void (*move)(E& from, E& to);  // to.member = std::move(from.member)
};

#define KL_FIELD(E, member, config)                                                  \
  Field<E> {                                                                         \
#member, config, [](json::Writer& w, const E& e) { Put(w, e.member); },            \
        [](element v, E& e) -> Status { return Get(v, e.member, #member); },           \
        [](E& from, E& to) { to.member = std::move(from.member); } \
  }

const auto& ProviderFields() {
  using E = ProviderState;
  static const Field<E> kFields[] = {
      KL_FIELD(E, id, true),
      KL_FIELD(E, version, false),
      KL_FIELD(E, stream_version, false),
      KL_FIELD(E, name, true),
      KL_FIELD(E, description, true),
      KL_FIELD(E, website, true),
      KL_FIELD(E, billing_type, true),
      KL_FIELD(E, monthly_quota_usd, true),
      KL_FIELD(E, monthly_used_usd, true),
      KL_FIELD(E, quota_reset_day, true),
      KL_FIELD(E, quota_last_reset_at, true),
      KL_FIELD(E, quota_expires_at, true),
      KL_FIELD(E, provider_priority, true),
      KL_FIELD(E, is_active, true),
      KL_FIELD(E, concurrent_limit, true),
      KL_FIELD(E, timeout, true),
      KL_FIELD(E, max_retries, true),
      KL_FIELD(E, proxy, true),
      KL_FIELD(E, config, true),
      KL_FIELD(E, config_secrets, true),
      KL_FIELD(E, created_at, false),
      KL_FIELD(E, updated_at, false),
      KL_FIELD(E, key_ids, false),
      KL_FIELD(E, endpoint_ids, false),
  };
  return kFields;
}

const auto& EndpointFields() {
  using E = EndpointState;
  static const Field<E> kFields[] = {
      KL_FIELD(E, id, true),
      KL_FIELD(E, version, false),
      KL_FIELD(E, stream_version, false),
      KL_FIELD(E, provider_id, true),
      KL_FIELD(E, api_format, true),
      KL_FIELD(E, base_url, true),
      KL_FIELD(E, custom_path, true),
      KL_FIELD(E, headers, true),
      KL_FIELD(E, header_secrets, true),
      KL_FIELD(E, timeout, true),
      KL_FIELD(E, max_retries, true),
      KL_FIELD(E, is_active, true),
      KL_FIELD(E, config, true),
      KL_FIELD(E, config_secrets, true),
      KL_FIELD(E, proxy, true),
      KL_FIELD(E, created_at, false),
      KL_FIELD(E, updated_at, false),
  };
  return kFields;
}

const auto& KeyFields() {
  using E = KeyState;
  static const Field<E> kFields[] = {
      KL_FIELD(E, id, true),
      KL_FIELD(E, version, false),
      KL_FIELD(E, stream_version, false),
      KL_FIELD(E, provider_id, true),
      KL_FIELD(E, api_formats, true),
      KL_FIELD(E, secret, true),
      KL_FIELD(E, name, true),
      KL_FIELD(E, note, true),
      KL_FIELD(E, rate_multiplier, true),
      KL_FIELD(E, rate_multipliers, true),
      KL_FIELD(E, internal_priority, true),
      KL_FIELD(E, global_priority, true),
      KL_FIELD(E, rpm_limit, true),
      KL_FIELD(E, allowed_models, true),
      KL_FIELD(E, capabilities, true),
      KL_FIELD(E, cache_ttl_minutes, true),
      KL_FIELD(E, max_probe_interval_minutes, true),
      KL_FIELD(E, is_active, true),
      KL_FIELD(E, learned_rpm_limit, false),
      KL_FIELD(E, concurrent_429_count, false),
      KL_FIELD(E, rpm_429_count, false),
      KL_FIELD(E, last_429_at, false),
      KL_FIELD(E, last_429_type, false),
      KL_FIELD(E, utilization_samples, false),
      KL_FIELD(E, last_probe_increase_at, false),
      KL_FIELD(E, health_by_format, false),
      KL_FIELD(E, circuit_breaker_by_format, false),
      KL_FIELD(E, request_count, false),
      KL_FIELD(E, success_count, false),
      KL_FIELD(E, error_count, false),
      KL_FIELD(E, total_response_time_ms, false),
      KL_FIELD(E, last_used_at, false),
      KL_FIELD(E, created_at, false),
      KL_FIELD(E, updated_at, false),
  };
  return kFields;
}

#undef KL_FIELD

template <typename E, typename Table>
void WriteAll(json::Writer& w, const E& e, FieldSet set, const Table& table) {
  w.BeginObject();
  for (const auto& f : table) {
    if (set == FieldSet::kConfig && !f.config) continue;
    w.Key(f.name);
    f.put(w, e);
  }
  w.EndObject();
}

template <typename E, typename Table>
void WriteNamed(json::Writer& w, const E& e, std::span<const std::string_view> names,
                const Table& table) {
  w.BeginObject();
  for (std::string_view name : names) {
    bool found = false;
    for (const auto& f : table) {
      if (f.name == name) {
        w.Key(f.name);
        f.put(w, e);
        found = true;
        break;
      }
    }
    assert(found && "unknown field name");
    (void)found;
  }
  w.EndObject();
}

template <typename E, typename Table>
Status ReadObject(simdjson::dom::object obj, E& e, const Table& table, std::string_view entity,
                  std::vector<std::string>* names = nullptr) {
  for (auto member : obj) {
    bool found = false;
    for (const auto& f : table) {
      if (f.name == member.key) {
        KL_RETURN_IF_ERROR(f.get(member.value, e));
        if (names != nullptr && std::find(names->begin(), names->end(), f.name) == names->end()) {
          names->emplace_back(f.name);  // a repeated member is read again, named once
        }
        found = true;
        break;
      }
    }
    if (!found) return Corrupt(std::string(entity) + " member " + std::string(member.key));
  }
  return Status::Ok();
}

template <typename E, typename Table>
void MoveNamed(std::span<const std::string> names, E& from, E& to, const Table& table) {
  for (const std::string& name : names) {
    bool found = false;
    for (const auto& f : table) {
      if (f.name == name) {
        f.move(from, to);
        found = true;
        break;
      }
    }
    assert(found && "unknown field name");
    (void)found;
  }
}

template <typename E, typename Table>
Status ReadText(std::string_view json, E& e, const Table& table, std::string_view entity) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size(), true).get(doc)) return Corrupt(entity);
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) return Corrupt(entity);
  return ReadObject(obj, e, table, entity);
}

template <typename Table>
bool HasField(const Table& table, std::string_view name) {
  for (const auto& f : table) {
    if (f.name == name) return true;
  }
  return false;
}

}  // namespace

void WriteFormatHealth(json::Writer& w, const FormatHealth& h) {
  w.BeginObject();
  w.Member("health_score", h.health_score);
  w.Member("consecutive_failures", h.consecutive_failures);
  w.Key("last_failure_at");
  Put(w, h.last_failure_at);
  w.Key("request_results_window").BeginArray();
  for (const auto& e : h.window) w.BeginObject().Member("ts", e.ts).Member("ok", e.ok).EndObject();
  w.EndArray();
  w.EndObject();
}

void WriteFormatBreaker(json::Writer& w, const FormatBreaker& b) {
  w.BeginObject();
  w.Member("open", b.open);
  w.Key("open_at");
  Put(w, b.open_at);
  w.Key("next_probe_at");
  Put(w, b.next_probe_at);
  w.Key("half_open_until");
  Put(w, b.half_open_until);
  w.Member("half_open_successes", b.half_open_successes);
  w.Member("half_open_failures", b.half_open_failures);
  w.Member("recovery_seconds", b.recovery_seconds);
  w.EndObject();
}

void WriteStoredSecret(json::Writer& w, const StoredSecret& s) { Put(w, s); }

Status ReadFormatHealth(element v, FormatHealth& h) {
  simdjson::dom::object obj;
  if (v.get_object().get(obj)) return Corrupt("health");
  for (auto m : obj) {
    std::string_view k = m.key;
    if (k == "health_score") {
      KL_RETURN_IF_ERROR(GetDouble(m.value, h.health_score, k));
    } else if (k == "consecutive_failures") {
      KL_RETURN_IF_ERROR(GetInt(m.value, h.consecutive_failures, k));
    } else if (k == "last_failure_at") {
      KL_RETURN_IF_ERROR(Get(m.value, h.last_failure_at, k));
    } else if (k == "request_results_window") {
      simdjson::dom::array arr;
      if (m.value.get_array().get(arr)) return Corrupt(k);
      h.window.clear();
      for (element item : arr) {
        WindowEntry e;
        element ts, ok;
        if (item["ts"].get(ts) || item["ok"].get(ok)) return Corrupt(k);
        KL_RETURN_IF_ERROR(GetInt(ts, e.ts, k));
        KL_RETURN_IF_ERROR(GetBool(ok, e.ok, k));
        h.window.push_back(e);
      }
    } else {
      return Corrupt("health member " + std::string(k));
    }
  }
  return Status::Ok();
}

Status ReadFormatBreaker(element v, FormatBreaker& b) {
  simdjson::dom::object obj;
  if (v.get_object().get(obj)) return Corrupt("breaker");
  for (auto m : obj) {
    std::string_view k = m.key;
    if (k == "open") {
      KL_RETURN_IF_ERROR(GetBool(m.value, b.open, k));
    } else if (k == "open_at") {
      KL_RETURN_IF_ERROR(Get(m.value, b.open_at, k));
    } else if (k == "next_probe_at") {
      KL_RETURN_IF_ERROR(Get(m.value, b.next_probe_at, k));
    } else if (k == "half_open_until") {
      KL_RETURN_IF_ERROR(Get(m.value, b.half_open_until, k));
    } else if (k == "half_open_successes") {
      KL_RETURN_IF_ERROR(GetInt(m.value, b.half_open_successes, k));
    } else if (k == "half_open_failures") {
      KL_RETURN_IF_ERROR(GetInt(m.value, b.half_open_failures, k));
    } else if (k == "recovery_seconds") {
      KL_RETURN_IF_ERROR(GetInt(m.value, b.recovery_seconds, k));
    } else {
      return Corrupt("breaker member " + std::string(k));
    }
  }
  return Status::Ok();
}

void WriteProvider(json::Writer& w, const ProviderState& p, FieldSet set) {
  WriteAll(w, p, set, ProviderFields());
}
void WriteEndpoint(json::Writer& w, const EndpointState& e, FieldSet set) {
  WriteAll(w, e, set, EndpointFields());
}
void WriteKey(json::Writer& w, const KeyState& k, FieldSet set) {
  WriteAll(w, k, set, KeyFields());
}
void WriteProviderFields(json::Writer& w, const ProviderState& p,
                         std::span<const std::string_view> names) {
  WriteNamed(w, p, names, ProviderFields());
}
void WriteEndpointFields(json::Writer& w, const EndpointState& e,
                         std::span<const std::string_view> names) {
  WriteNamed(w, e, names, EndpointFields());
}
void WriteKeyFields(json::Writer& w, const KeyState& k, std::span<const std::string_view> names) {
  WriteNamed(w, k, names, KeyFields());
}

Status ReadProviderObject(simdjson::dom::object obj, ProviderState& p) {
  return ReadObject(obj, p, ProviderFields(), "provider");
}
Status ReadEndpointObject(simdjson::dom::object obj, EndpointState& e) {
  return ReadObject(obj, e, EndpointFields(), "endpoint");
}
Status ReadKeyObject(simdjson::dom::object obj, KeyState& k) {
  return ReadObject(obj, k, KeyFields(), "key");
}
Status ReadProviderObject(simdjson::dom::object obj, ProviderState& p,
                          std::vector<std::string>* names) {
  return ReadObject(obj, p, ProviderFields(), "provider", names);
}
Status ReadEndpointObject(simdjson::dom::object obj, EndpointState& e,
                          std::vector<std::string>* names) {
  return ReadObject(obj, e, EndpointFields(), "endpoint", names);
}
Status ReadKeyObject(simdjson::dom::object obj, KeyState& k, std::vector<std::string>* names) {
  return ReadObject(obj, k, KeyFields(), "key", names);
}
void CopyProviderFields(std::span<const std::string> names, ProviderState&& from,
                        ProviderState& to) {
  MoveNamed(names, from, to, ProviderFields());
}
void CopyEndpointFields(std::span<const std::string> names, EndpointState&& from,
                        EndpointState& to) {
  MoveNamed(names, from, to, EndpointFields());
}
void CopyKeyFields(std::span<const std::string> names, KeyState&& from, KeyState& to) {
  MoveNamed(names, from, to, KeyFields());
}
Status ReadProviderFields(std::string_view json, ProviderState& p) {
  return ReadText(json, p, ProviderFields(), "provider");
}
Status ReadEndpointFields(std::string_view json, EndpointState& e) {
  return ReadText(json, e, EndpointFields(), "endpoint");
}
Status ReadKeyFields(std::string_view json, KeyState& k) {
  return ReadText(json, k, KeyFields(), "key");
}

bool IsKeyField(std::string_view name) { return HasField(KeyFields(), name); }
bool IsProviderField(std::string_view name) { return HasField(ProviderFields(), name); }
bool IsEndpointField(std::string_view name) { return HasField(EndpointFields(), name); }

}  // namespace keyledger::projections
