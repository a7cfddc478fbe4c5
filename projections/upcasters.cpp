#include "projections/upcasters.hpp"

#include "projections/codec_internal.hpp"

namespace keyledger::projections::upcast {
namespace {

using events::EventType;
using simdjson::dom::element;
using simdjson::dom::object;

// ---- member readers ----
// Required members fail with kCorruption naming the member, as the fold always did. Members the
// fold never needed are read leniently: absent or of another type, they keep the struct's
// default (what the audit tools printed for them), so no log that folded before stops folding.

Status Req(object o, std::string_view name, element& out) {
  if (o[name].get(out)) return Corrupt("payload member " + std::string(name));
  return Status::Ok();
}
Status ReqString(object o, std::string_view name, std::string& out) {
  element v;
  KL_RETURN_IF_ERROR(Req(o, name, v));
  return GetString(v, out, name);
}
Status ReqInt(object o, std::string_view name, int64_t& out) {
  element v;
  KL_RETURN_IF_ERROR(Req(o, name, v));
  return GetInt(v, out, name);
}
Status ReqObject(object o, std::string_view name, object& out) {
  element v;
  KL_RETURN_IF_ERROR(Req(o, name, v));
  if (v.get_object().get(out)) return Corrupt("payload member " + std::string(name));
  return Status::Ok();
}
// An integer or null, required.
Status ReqOptInt(object o, std::string_view name, std::optional<int64_t>& out) {
  element v;
  KL_RETURN_IF_ERROR(Req(o, name, v));
  if (v.is_null()) {
    out.reset();
    return Status::Ok();
  }
  int64_t n = 0;
  KL_RETURN_IF_ERROR(GetInt(v, n, name));
  out = n;
  return Status::Ok();
}
Status ReqStringList(object o, std::string_view name, StringList& out) {
  element v;
  KL_RETURN_IF_ERROR(Req(o, name, v));
  simdjson::dom::array arr;
  if (v.get_array().get(arr)) return Corrupt(name);
  out.clear();
  for (element item : arr) {
    std::string s;
    KL_RETURN_IF_ERROR(GetString(item, s, name));
    out.push_back(std::move(s));
  }
  return Status::Ok();
}

void LenientString(object o, std::string_view name, std::string& out) {
  std::string_view s;
  if (!o[name].get_string().get(s)) out.assign(s);
}
void LenientOptString(object o, std::string_view name, std::optional<std::string>& out) {
  std::string_view s;
  if (!o[name].get_string().get(s)) out = std::string(s);
}
void LenientUint(object o, std::string_view name, uint64_t& out) {
  uint64_t n = 0;
  if (!o[name].get_uint64().get(n)) out = n;
}
void LenientBool(object o, std::string_view name, bool& out) {
  bool b = false;
  if (!o[name].get_bool().get(b)) out = b;
}
void LenientOptInt(object o, std::string_view name, std::optional<int64_t>& out) {
  int64_t n = 0;
  if (!o[name].get_int64().get(n)) out = n;
}
void LenientStringList(object o, std::string_view name, StringList& out) {
  simdjson::dom::array arr;
  if (o[name].get_array().get(arr)) return;
  for (element item : arr) {
    std::string_view s;
    if (!item.get_string().get(s)) out.emplace_back(s);
  }
}

// ---- decoders, one per (type, schema version) ----

// ProviderCreated v1 and v2: one field table (codec.cpp); v1 simply has no config_secrets.
Status DecodeProviderCreated(object p, AnyPayload& out) {
  ProviderCreated e;
  object fields;
  KL_RETURN_IF_ERROR(ReqObject(p, "provider", fields));
  KL_RETURN_IF_ERROR(ReadProviderObject(fields, e.provider));
  out = std::move(e);
  return Status::Ok();
}
Status DecodeProviderUpdated(object p, AnyPayload& out) {
  ProviderUpdated e;
  object fields;
  KL_RETURN_IF_ERROR(ReqString(p, "provider_id", e.provider_id));
  KL_RETURN_IF_ERROR(ReqObject(p, "set", fields));
  KL_RETURN_IF_ERROR(ReadProviderObject(fields, e.set.values, &e.set.names));
  out = std::move(e);
  return Status::Ok();
}
Status DecodeProviderDeleted(object p, AnyPayload& out) {
  ProviderDeleted e;
  KL_RETURN_IF_ERROR(ReqString(p, "provider_id", e.provider_id));
  LenientUint(p, "deleted_keys", e.deleted_keys);
  LenientUint(p, "deleted_endpoints", e.deleted_endpoints);
  out = std::move(e);
  return Status::Ok();
}
Status DecodeProviderCredentialsRevealed(object p, AnyPayload& out) {
  ProviderCredentialsRevealed e;
  KL_RETURN_IF_ERROR(ReqString(p, "provider_id", e.provider_id));
  LenientStringList(p, "revealed", e.revealed);
  LenientStringList(p, "dek_ids", e.dek_ids);
  out = std::move(e);
  return Status::Ok();
}
Status DecodeEndpointCreated(object p, AnyPayload& out) {
  EndpointCreated e;
  object fields;
  KL_RETURN_IF_ERROR(ReqObject(p, "endpoint", fields));
  KL_RETURN_IF_ERROR(ReadEndpointObject(fields, e.endpoint));
  out = std::move(e);
  return Status::Ok();
}
Status DecodeEndpointUpdated(object p, AnyPayload& out) {
  EndpointUpdated e;
  object fields;
  KL_RETURN_IF_ERROR(ReqString(p, "endpoint_id", e.endpoint_id));
  KL_RETURN_IF_ERROR(ReqObject(p, "set", fields));
  KL_RETURN_IF_ERROR(ReadEndpointObject(fields, e.set.values, &e.set.names));
  out = std::move(e);
  return Status::Ok();
}
Status DecodeEndpointDeleted(object p, AnyPayload& out) {
  EndpointDeleted e;
  KL_RETURN_IF_ERROR(ReqString(p, "endpoint_id", e.endpoint_id));
  LenientString(p, "provider_id", e.provider_id);
  LenientString(p, "cause", e.cause);
  out = std::move(e);
  return Status::Ok();
}
Status DecodeEndpointCredentialsRevealed(object p, AnyPayload& out) {
  EndpointCredentialsRevealed e;
  KL_RETURN_IF_ERROR(ReqString(p, "endpoint_id", e.endpoint_id));
  LenientString(p, "provider_id", e.provider_id);
  LenientStringList(p, "revealed", e.revealed);
  LenientStringList(p, "dek_ids", e.dek_ids);
  out = std::move(e);
  return Status::Ok();
}
Status DecodeKeyCreated(object p, AnyPayload& out) {
  KeyCreated e;
  object fields;
  KL_RETURN_IF_ERROR(ReqObject(p, "key", fields));
  KL_RETURN_IF_ERROR(ReadKeyObject(fields, e.key));
  out = std::move(e);
  return Status::Ok();
}
Status DecodeKeyUpdated(object p, AnyPayload& out) {
  KeyUpdated e;
  object fields;
  KL_RETURN_IF_ERROR(ReqString(p, "key_id", e.key_id));
  KL_RETURN_IF_ERROR(ReqObject(p, "set", fields));
  KL_RETURN_IF_ERROR(ReadKeyObject(fields, e.set.values, &e.set.names));
  LenientOptString(p, "retired_dek_id", e.retired_dek_id);
  out = std::move(e);
  return Status::Ok();
}
Status DecodeKeyDeleted(object p, AnyPayload& out) {
  KeyDeleted e;
  KL_RETURN_IF_ERROR(ReqString(p, "key_id", e.key_id));
  LenientString(p, "provider_id", e.provider_id);
  LenientString(p, "shredded_dek_id", e.shredded_dek_id);
  LenientString(p, "cause", e.cause);
  out = std::move(e);
  return Status::Ok();
}
Status DecodeKeyRevealed(object p, AnyPayload& out) {
  KeyRevealed e;
  KL_RETURN_IF_ERROR(ReqString(p, "key_id", e.key_id));
  LenientString(p, "dek_id", e.dek_id);
  LenientUint(p, "secret_version", e.secret_version);
  out = std::move(e);
  return Status::Ok();
}
Status DecodeKeyHealthReported(object p, AnyPayload& out) {
  KeyHealthReported e;
  KL_RETURN_IF_ERROR(ReqString(p, "key_id", e.key_id));
  KL_RETURN_IF_ERROR(ReqString(p, "api_format", e.api_format));
  KL_RETURN_IF_ERROR(ReqInt(p, "successes", e.successes));
  KL_RETURN_IF_ERROR(ReqInt(p, "failures", e.failures));
  KL_RETURN_IF_ERROR(ReqInt(p, "total_response_time_ms", e.total_response_time_ms));
  KL_RETURN_IF_ERROR(ReqInt(p, "at", e.at));
  element v;
  KL_RETURN_IF_ERROR(Req(p, "health", v));
  KL_RETURN_IF_ERROR(ReadFormatHealth(v, e.health));
  KL_RETURN_IF_ERROR(Req(p, "breaker", v));
  KL_RETURN_IF_ERROR(ReadFormatBreaker(v, e.breaker));
  LenientOptString(p, "last_error", e.last_error);
  out = std::move(e);
  return Status::Ok();
}
Status DecodeKeyHealthReset(object p, AnyPayload& out) {
  KeyHealthReset e;
  KL_RETURN_IF_ERROR(ReqString(p, "key_id", e.key_id));
  KL_RETURN_IF_ERROR(ReqStringList(p, "formats", e.formats));
  LenientOptString(p, "api_format", e.api_format);
  out = std::move(e);
  return Status::Ok();
}
Status DecodeKeyAdaptiveModeChanged(object p, AnyPayload& out) {
  KeyAdaptiveModeChanged e;
  KL_RETURN_IF_ERROR(ReqString(p, "key_id", e.key_id));
  KL_RETURN_IF_ERROR(ReqOptInt(p, "rpm_limit", e.rpm_limit));
  KL_RETURN_IF_ERROR(ReqOptInt(p, "learned_rpm_limit", e.learned_rpm_limit));
  LenientBool(p, "adaptive", e.adaptive);
  LenientOptInt(p, "previous_rpm_limit", e.previous_rpm_limit);
  out = std::move(e);
  return Status::Ok();
}
Status DecodeKeyRpmLimitSetV1(object p, AnyPayload& out) {
  KeyRpmLimitSetV1 e;
  KL_RETURN_IF_ERROR(ReqString(p, "key_id", e.key_id));
  KL_RETURN_IF_ERROR(ReqOptInt(p, "rpm_limit", e.rpm_limit));
  LenientOptInt(p, "previous_rpm_limit", e.previous_rpm_limit);
  out = std::move(e);
  return Status::Ok();
}
Status DecodeKeyRpmLimitSetV2(object p, AnyPayload& out) {
  KeyRpmLimitSet e;
  std::string provider_id;
  KL_RETURN_IF_ERROR(ReqString(p, "key_id", e.key_id));
  KL_RETURN_IF_ERROR(ReqString(p, "provider_id", provider_id));
  e.provider_id = std::move(provider_id);
  KL_RETURN_IF_ERROR(ReqOptInt(p, "rpm_limit", e.rpm_limit));
  LenientOptInt(p, "previous_rpm_limit", e.previous_rpm_limit);
  out = std::move(e);
  return Status::Ok();
}
Status DecodeKeyLearningReset(object p, AnyPayload& out) {
  KeyLearningReset e;
  KL_RETURN_IF_ERROR(ReqString(p, "key_id", e.key_id));
  LenientOptInt(p, "previous_learned_rpm_limit", e.previous_learned_rpm_limit);
  out = std::move(e);
  return Status::Ok();
}
Status DecodeMasterKeyRotated(object p, AnyPayload& out) {
  MasterKeyRotated e;
  LenientUint(p, "from_kek_version", e.from_kek_version);
  LenientUint(p, "to_kek_version", e.to_kek_version);
  LenientUint(p, "rewrapped_deks", e.rewrapped_deks);
  out = std::move(e);
  return Status::Ok();
}
Status DecodeSystemConfigSet(object p, AnyPayload& out) {
  SystemConfigSet e;
  element value, description;
  KL_RETURN_IF_ERROR(ReqString(p, "key", e.key));
  KL_RETURN_IF_ERROR(Req(p, "value", value));
  KL_RETURN_IF_ERROR(Req(p, "description", description));
  e.value.text = ToJsonText(value);
  if (!description.is_null()) {
    std::string text;
    KL_RETURN_IF_ERROR(GetString(description, text, "description"));
    e.description = std::move(text);
  }
  out = std::move(e);
  return Status::Ok();
}

// ---- upcasters, one per (type, version below the newest) ----

// Credentials in headers and config are sealed from version 2 on: a version-1 payload is a
// version-2 payload without config_secrets / header_secrets, so the struct is the same and
// the plaintext stays as stored (views mask it at read time, events/FORMAT.md).
Result<AnyPayload> SecretsAddedNoneSealed(AnyPayload&& p) { return std::move(p); }

Result<AnyPayload> KeyRpmLimitSetV1ToV2(AnyPayload&& p) {
  auto* v1 = std::get_if<KeyRpmLimitSetV1>(&p);
  if (v1 == nullptr) return MakeError(ErrorCode::kInternal, "KeyRpmLimitSet v1 upcaster");
  KeyRpmLimitSet v2;
  v2.key_id = std::move(v1->key_id);
  v2.provider_id = std::nullopt;  // version 1 did not record it
  v2.rpm_limit = v1->rpm_limit;
  v2.previous_rpm_limit = v1->previous_rpm_limit;
  return AnyPayload(std::move(v2));
}

constexpr Decoder kDecoders[] = {
    {EventType::kProviderCreated, 1, DecodeProviderCreated},
    {EventType::kProviderCreated, 2, DecodeProviderCreated},
    {EventType::kProviderUpdated, 1, DecodeProviderUpdated},
    {EventType::kProviderUpdated, 2, DecodeProviderUpdated},
    {EventType::kProviderDeleted, 1, DecodeProviderDeleted},
    {EventType::kProviderCredentialsRevealed, 1, DecodeProviderCredentialsRevealed},
    {EventType::kEndpointCreated, 1, DecodeEndpointCreated},
    {EventType::kEndpointCreated, 2, DecodeEndpointCreated},
    {EventType::kEndpointUpdated, 1, DecodeEndpointUpdated},
    {EventType::kEndpointUpdated, 2, DecodeEndpointUpdated},
    {EventType::kEndpointDeleted, 1, DecodeEndpointDeleted},
    {EventType::kEndpointCredentialsRevealed, 1, DecodeEndpointCredentialsRevealed},
    {EventType::kKeyCreated, 1, DecodeKeyCreated},
    {EventType::kKeyUpdated, 1, DecodeKeyUpdated},
    {EventType::kKeyDeleted, 1, DecodeKeyDeleted},
    {EventType::kKeyRevealed, 1, DecodeKeyRevealed},
    {EventType::kKeyHealthReported, 1, DecodeKeyHealthReported},
    {EventType::kKeyHealthReset, 1, DecodeKeyHealthReset},
    {EventType::kKeyAdaptiveModeChanged, 1, DecodeKeyAdaptiveModeChanged},
    {EventType::kKeyRpmLimitSet, 1, DecodeKeyRpmLimitSetV1},
    {EventType::kKeyRpmLimitSet, 2, DecodeKeyRpmLimitSetV2},
    {EventType::kKeyLearningReset, 1, DecodeKeyLearningReset},
    {EventType::kMasterKeyRotated, 1, DecodeMasterKeyRotated},
    {EventType::kSystemConfigSet, 1, DecodeSystemConfigSet},
};

constexpr Upcaster kUpcasters[] = {
    {EventType::kProviderCreated, 1, SecretsAddedNoneSealed,
     "config credentials sealed (config_secrets)"},
    {EventType::kProviderUpdated, 1, SecretsAddedNoneSealed,
     "config credentials sealed (config_secrets)"},
    {EventType::kEndpointCreated, 1, SecretsAddedNoneSealed,
     "header and config credentials sealed (header_secrets, config_secrets)"},
    {EventType::kEndpointUpdated, 1, SecretsAddedNoneSealed,
     "header and config credentials sealed (header_secrets, config_secrets)"},
    {EventType::kKeyRpmLimitSet, 1, KeyRpmLimitSetV1ToV2,
     "provider_id at the top level, so the event is attributed to its provider without reading "
     "the key's KeyCreated"},
};

// The newest struct out of the variant of every shape.
struct ToEvent {
  Result<Event> operator()(upcast::KeyRpmLimitSetV1&&) const {
    return MakeError(ErrorCode::kInternal, "a KeyRpmLimitSet version 1 was not upcast");
  }
  template <typename T>
  Result<Event> operator()(T&& newest) const {
    return Event(std::forward<T>(newest));
  }
};

}  // namespace

std::span<const Decoder> Decoders() { return kDecoders; }
std::span<const Upcaster> Upcasters() { return kUpcasters; }

const Decoder* FindDecoder(EventType type, uint16_t version) {
  for (const Decoder& d : kDecoders) {
    if (d.type == type && d.version == version) return &d;
  }
  return nullptr;
}

const Upcaster* FindUpcaster(EventType type, uint16_t from_version) {
  for (const Upcaster& u : kUpcasters) {
    if (u.type == type && u.from_version == from_version) return &u;
  }
  return nullptr;
}

Result<Event> DecodeAndUpcast(EventType type, uint16_t version, uint64_t sequence, object payload) {
  const Decoder* decoder = FindDecoder(type, version);
  if (decoder == nullptr) {
    return MakeError(ErrorCode::kInternal, "no decoder for " +
                                               std::string(events::EventTypeName(type)) +
                                               " version " + std::to_string(version));
  }
  AnyPayload any;
  KL_RETURN_IF_ERROR(decoder->decode(payload, any));
  for (uint16_t v = version; v < events::CurrentSchemaVersion(type); ++v) {
    const Upcaster* up = FindUpcaster(type, v);
    if (up == nullptr) {
      return MakeError(ErrorCode::kInternal, "no upcaster from " +
                                                 std::string(events::EventTypeName(type)) +
                                                 " version " + std::to_string(v) + " (event " +
                                                 std::to_string(sequence) + ")");
    }
    KL_ASSIGN_OR_RETURN(any, up->upcast(std::move(any)));
  }
  return std::visit(ToEvent{}, std::move(any));
}

}  // namespace keyledger::projections::upcast
