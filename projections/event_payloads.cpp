#include "projections/event_payloads.hpp"

#include "events/json_writer.hpp"
#include "projections/codec_internal.hpp"
#include "projections/upcasters.hpp"

namespace keyledger::projections {
namespace {

using events::EventRecord;
using events::EventType;

void PutOptInt(json::Writer& w, const std::optional<int64_t>& v) { v ? w.Int(*v) : w.Null(); }
void PutOptString(json::Writer& w, const std::optional<std::string>& v) {
  v ? w.String(*v) : w.Null();
}
void PutList(json::Writer& w, const StringList& list) {
  w.BeginArray();
  for (const std::string& s : list) w.String(s);
  w.EndArray();
}

template <typename E>
std::vector<std::string_view> Views(const FieldUpdate<E>& set) {
  return std::vector<std::string_view>(set.names.begin(), set.names.end());
}

}  // namespace

std::string EncodePayload(const ProviderCreated& e) {
  json::Writer w(512);
  w.BeginObject().Key("provider");
  WriteProvider(w, e.provider, FieldSet::kConfig);
  w.EndObject();
  return w.Take();
}

std::string EncodePayload(const ProviderUpdated& e) {
  json::Writer w(512);
  w.BeginObject().Member("provider_id", e.provider_id).Key("set");
  WriteProviderFields(w, e.set.values, Views(e.set));
  w.EndObject();
  return w.Take();
}

std::string EncodePayload(const ProviderDeleted& e) {
  json::Writer w;
  w.BeginObject()
      .Member("provider_id", e.provider_id)
      .Member("deleted_keys", e.deleted_keys)
      .Member("deleted_endpoints", e.deleted_endpoints)
      .EndObject();
  return w.Take();
}

std::string EncodePayload(const ProviderCredentialsRevealed& e) {
  json::Writer w;
  w.BeginObject().Member("provider_id", e.provider_id).Key("revealed");
  PutList(w, e.revealed);
  w.Key("dek_ids");
  PutList(w, e.dek_ids);
  w.EndObject();
  return w.Take();
}

std::string EncodePayload(const EndpointCreated& e) {
  json::Writer w(512);
  w.BeginObject().Key("endpoint");
  WriteEndpoint(w, e.endpoint, FieldSet::kConfig);
  w.EndObject();
  return w.Take();
}

std::string EncodePayload(const EndpointUpdated& e) {
  json::Writer w(512);
  w.BeginObject().Member("endpoint_id", e.endpoint_id).Key("set");
  WriteEndpointFields(w, e.set.values, Views(e.set));
  w.EndObject();
  return w.Take();
}

std::string EncodePayload(const EndpointDeleted& e) {
  json::Writer w;
  w.BeginObject()
      .Member("endpoint_id", e.endpoint_id)
      .Member("provider_id", e.provider_id)
      .Member("cause", e.cause)
      .EndObject();
  return w.Take();
}

std::string EncodePayload(const EndpointCredentialsRevealed& e) {
  json::Writer w;
  w.BeginObject()
      .Member("endpoint_id", e.endpoint_id)
      .Member("provider_id", e.provider_id)
      .Key("revealed");
  PutList(w, e.revealed);
  w.Key("dek_ids");
  PutList(w, e.dek_ids);
  w.EndObject();
  return w.Take();
}

std::string EncodePayload(const KeyCreated& e) {
  json::Writer w(1024);
  w.BeginObject().Key("key");
  WriteKey(w, e.key, FieldSet::kConfig);
  w.EndObject();
  return w.Take();
}

std::string EncodePayload(const KeyUpdated& e) {
  json::Writer w(512);
  w.BeginObject().Member("key_id", e.key_id).Key("set");
  WriteKeyFields(w, e.set.values, Views(e.set));
  if (e.retired_dek_id) w.Member("retired_dek_id", *e.retired_dek_id);
  w.EndObject();
  return w.Take();
}

std::string EncodePayload(const KeyDeleted& e) {
  json::Writer w;
  w.BeginObject()
      .Member("key_id", e.key_id)
      .Member("provider_id", e.provider_id)
      .Member("shredded_dek_id", e.shredded_dek_id)
      .Member("cause", e.cause)
      .EndObject();
  return w.Take();
}

std::string EncodePayload(const KeyRevealed& e) {
  json::Writer w;
  w.BeginObject()
      .Member("key_id", e.key_id)
      .Member("dek_id", e.dek_id)
      .Member("secret_version", e.secret_version)
      .EndObject();
  return w.Take();
}

std::string EncodePayload(const KeyHealthReported& e) {
  json::Writer w(512);
  w.BeginObject()
      .Member("key_id", e.key_id)
      .Member("api_format", e.api_format)
      .Member("successes", e.successes)
      .Member("failures", e.failures)
      .Member("total_response_time_ms", e.total_response_time_ms)
      .Key("last_error");
  PutOptString(w, e.last_error);
  w.Member("at", e.at).Key("health");
  WriteFormatHealth(w, e.health);
  w.Key("breaker");
  WriteFormatBreaker(w, e.breaker);
  w.EndObject();
  return w.Take();
}

std::string EncodePayload(const KeyHealthReset& e) {
  json::Writer w;
  w.BeginObject().Member("key_id", e.key_id).Key("api_format");
  PutOptString(w, e.api_format);
  w.Key("formats");
  PutList(w, e.formats);
  w.EndObject();
  return w.Take();
}

std::string EncodePayload(const KeyAdaptiveModeChanged& e) {
  json::Writer w;
  w.BeginObject().Member("key_id", e.key_id).Member("adaptive", e.adaptive).Key("rpm_limit");
  PutOptInt(w, e.rpm_limit);
  w.Key("learned_rpm_limit");
  PutOptInt(w, e.learned_rpm_limit);
  w.Key("previous_rpm_limit");
  PutOptInt(w, e.previous_rpm_limit);
  w.EndObject();
  return w.Take();
}

std::string EncodePayload(const KeyRpmLimitSet& e) {
  json::Writer w;
  w.BeginObject().Member("key_id", e.key_id).Key("provider_id");
  PutOptString(w, e.provider_id);
  w.Key("rpm_limit");
  PutOptInt(w, e.rpm_limit);
  w.Key("previous_rpm_limit");
  PutOptInt(w, e.previous_rpm_limit);
  w.EndObject();
  return w.Take();
}

std::string EncodePayload(const KeyLearningReset& e) {
  json::Writer w;
  w.BeginObject().Member("key_id", e.key_id).Key("previous_learned_rpm_limit");
  PutOptInt(w, e.previous_learned_rpm_limit);
  w.EndObject();
  return w.Take();
}

std::string EncodePayload(const MasterKeyRotated& e) { return events::EncodeMasterKeyRotated(e); }

std::string EncodePayload(const SystemConfigSet& e) {
  json::Writer w;
  w.BeginObject().Member("key", e.key).Key("value").Raw(e.value.text).Key("description");
  PutOptString(w, e.description);
  w.EndObject();
  return w.Take();
}

std::string EncodePayload(const Event& e) {
  return std::visit([](const auto& payload) { return EncodePayload(payload); }, e);
}

events::EventType TypeOf(const Event& e) {
  return std::visit([](const auto& payload) { return std::decay_t<decltype(payload)>::kType; }, e);
}

// ---- reading ----

Status CheckReadable(const EventRecord& r) {
  if (!events::IsKnownEventType(static_cast<uint16_t>(r.type))) {
    return MakeError(
        ErrorCode::kUnsupported,
        "event type " + std::to_string(static_cast<int>(r.type)) + " is unknown to this build");
  }
  const uint16_t newest = events::CurrentSchemaVersion(r.type);
  if (r.schema_version < 1 || r.schema_version > newest) {
    const std::string name(events::EventTypeName(r.type));
    return MakeError(ErrorCode::kUnsupported,
                     "event " + std::to_string(r.sequence) + " (" + name + ") has schema version " +
                         std::to_string(r.schema_version) + ", unknown to this build (it reads " +
                         name + " up to version " + std::to_string(newest) + ")");
  }
  return Status::Ok();
}

struct EventDecoder::Impl {
  simdjson::dom::parser parser;
};

EventDecoder::EventDecoder() : impl_(std::make_unique<Impl>()) {}
EventDecoder::~EventDecoder() = default;

Result<Event> EventDecoder::Decode(const EventRecord& r) {
  KL_RETURN_IF_ERROR(CheckReadable(r));
  simdjson::dom::element doc;
  if (impl_->parser.parse(r.payload).get(doc)) {
    return Corrupt("payload of event " + std::to_string(r.sequence));
  }
  simdjson::dom::object payload;
  if (doc.get_object().get(payload)) return Corrupt("payload (not an object)");
  return upcast::DecodeAndUpcast(r.type, r.schema_version, r.sequence, payload);
}

namespace {
struct ProviderOf {
  std::optional<std::string> operator()(const ProviderUpdated& p) const { return p.provider_id; }
  std::optional<std::string> operator()(const ProviderDeleted& p) const { return p.provider_id; }
  std::optional<std::string> operator()(const ProviderCredentialsRevealed& p) const {
    return p.provider_id;
  }
  std::optional<std::string> operator()(const EndpointCreated& p) const {
    return p.endpoint.provider_id;
  }
  std::optional<std::string> operator()(const EndpointDeleted& p) const { return p.provider_id; }
  std::optional<std::string> operator()(const EndpointCredentialsRevealed& p) const {
    return p.provider_id;
  }
  std::optional<std::string> operator()(const KeyCreated& p) const { return p.key.provider_id; }
  std::optional<std::string> operator()(const KeyDeleted& p) const { return p.provider_id; }
  std::optional<std::string> operator()(const KeyRpmLimitSet& p) const { return p.provider_id; }
  std::optional<std::string> operator()(const auto&) const { return std::nullopt; }
};
}  // namespace

std::optional<std::string> NamedProvider(const Event& e) { return std::visit(ProviderOf{}, e); }

}  // namespace keyledger::projections
