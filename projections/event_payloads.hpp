#pragma once
// The event schema as code: one struct per event type, in the shape of the NEWEST schema version
// of that type, with its encoder. The registry's commands build every payload through these
// (MakeEvent), and every reader (the fold, the audit read models and tools) gets them from
// EventDecoder, which decodes any schema version this build knows and upcasts it to the newest
// (projections/upcasters.cpp; the rules are in events/FORMAT.md "Evolving a payload").
//
// Encoders produce exactly the bytes the hand-written writers of earlier builds produced for
// the current versions (the hash chain and the golden files depend on it): members in the order
// below, compact JSON. Decoders are as lenient as the fold always was: members the fold never
// needed may be absent (they read as the struct's defaults) and unknown top-level members are
// ignored, so no log that folded before stops folding.
//
// Thread safety: the structs are values; EventDecoder holds a reusable parser (one per thread).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "events/event_log.hpp"
#include "events/event_type.hpp"
#include "events/keyring_event.hpp"
#include "events/record.hpp"
#include "events/status.hpp"
#include "projections/state.hpp"

namespace keyledger::projections {

// The fields an *Updated event sets: their names (projections/codec.cpp's field tables), in
// payload order, and their new values in an entity whose other members are not part of the event
// (the encoder writes only the named ones; decoded, they are the defaults).
template <typename E>
struct FieldUpdate {
  std::vector<std::string> names;
  E values;

  bool Has(std::string_view name) const {
    for (const auto& n : names) {
      if (n == name) return true;
    }
    return false;
  }
  friend bool operator==(const FieldUpdate&, const FieldUpdate&) = default;
};

#define KL_EVENT(Name, version)                                          \
  static constexpr events::EventType kType = events::EventType::k##Name; \
  static constexpr uint16_t kSchemaVersion = version;                    \
  static_assert(kSchemaVersion == events::CurrentSchemaVersion(kType),   \
                #Name " must be the newest schema version (events/event_type.cpp)")

// {"provider":{config fields}}; v2 added config_secrets (v1: plaintext config, no secrets).
struct ProviderCreated {
  KL_EVENT(ProviderCreated, 2);
  ProviderState provider;  // the kConfig fields
  friend bool operator==(const ProviderCreated&, const ProviderCreated&) = default;
};
// {"provider_id","set":{fields}}; in v2 a set with config also has config_secrets.
struct ProviderUpdated {
  KL_EVENT(ProviderUpdated, 2);
  std::string provider_id;
  FieldUpdate<ProviderState> set;
  friend bool operator==(const ProviderUpdated&, const ProviderUpdated&) = default;
};
// {"provider_id","deleted_keys","deleted_endpoints"}
struct ProviderDeleted {
  KL_EVENT(ProviderDeleted, 1);
  std::string provider_id;
  uint64_t deleted_keys = 0;
  uint64_t deleted_endpoints = 0;
  friend bool operator==(const ProviderDeleted&, const ProviderDeleted&) = default;
};
// {"provider_id","revealed":[pointers],"dek_ids":[ids]}
struct ProviderCredentialsRevealed {
  KL_EVENT(ProviderCredentialsRevealed, 1);
  std::string provider_id;
  StringList revealed;
  StringList dek_ids;
  friend bool operator==(const ProviderCredentialsRevealed&,
                         const ProviderCredentialsRevealed&) = default;
};
// {"endpoint":{config fields}}; v2 added header_secrets and config_secrets.
struct EndpointCreated {
  KL_EVENT(EndpointCreated, 2);
  EndpointState endpoint;
  friend bool operator==(const EndpointCreated&, const EndpointCreated&) = default;
};
// {"endpoint_id","set":{fields}}
struct EndpointUpdated {
  KL_EVENT(EndpointUpdated, 2);
  std::string endpoint_id;
  FieldUpdate<EndpointState> set;
  friend bool operator==(const EndpointUpdated&, const EndpointUpdated&) = default;
};
// {"endpoint_id","provider_id","cause":"request"|"provider_deleted"}
struct EndpointDeleted {
  KL_EVENT(EndpointDeleted, 1);
  std::string endpoint_id;
  std::string provider_id;
  std::string cause;
  friend bool operator==(const EndpointDeleted&, const EndpointDeleted&) = default;
};
// {"endpoint_id","provider_id","revealed":[pointers],"dek_ids":[ids]}
struct EndpointCredentialsRevealed {
  KL_EVENT(EndpointCredentialsRevealed, 1);
  std::string endpoint_id;
  std::string provider_id;
  StringList revealed;
  StringList dek_ids;
  friend bool operator==(const EndpointCredentialsRevealed&,
                         const EndpointCredentialsRevealed&) = default;
};
// {"key":{config fields}}
struct KeyCreated {
  KL_EVENT(KeyCreated, 1);
  KeyState key;
  friend bool operator==(const KeyCreated&, const KeyCreated&) = default;
};
// {"key_id","set":{fields}[,"retired_dek_id"]}
struct KeyUpdated {
  KL_EVENT(KeyUpdated, 1);
  std::string key_id;
  FieldUpdate<KeyState> set;
  std::optional<std::string> retired_dek_id;  // a new secret shreds the previous data key
  friend bool operator==(const KeyUpdated&, const KeyUpdated&) = default;
};
// {"key_id","provider_id","shredded_dek_id","cause":"request"|"provider_deleted"}
struct KeyDeleted {
  KL_EVENT(KeyDeleted, 1);
  std::string key_id;
  std::string provider_id;
  std::string shredded_dek_id;
  std::string cause;
  friend bool operator==(const KeyDeleted&, const KeyDeleted&) = default;
};
// {"key_id","dek_id","secret_version"}
struct KeyRevealed {
  KL_EVENT(KeyRevealed, 1);
  std::string key_id;
  std::string dek_id;
  uint64_t secret_version = 0;
  friend bool operator==(const KeyRevealed&, const KeyRevealed&) = default;
};
// {"key_id","api_format","successes","failures","total_response_time_ms","last_error","at",
//  "health":{…},"breaker":{…}}
struct KeyHealthReported {
  KL_EVENT(KeyHealthReported, 1);
  std::string key_id;
  std::string api_format;
  int64_t successes = 0;
  int64_t failures = 0;
  int64_t total_response_time_ms = 0;
  std::optional<std::string> last_error;
  int64_t at = 0;
  FormatHealth health;
  FormatBreaker breaker;
  friend bool operator==(const KeyHealthReported&, const KeyHealthReported&) = default;
};
// {"key_id","api_format":fmt|null,"formats":[…]}
struct KeyHealthReset {
  KL_EVENT(KeyHealthReset, 1);
  std::string key_id;
  std::optional<std::string> api_format;
  StringList formats;
  friend bool operator==(const KeyHealthReset&, const KeyHealthReset&) = default;
};
// {"key_id","adaptive","rpm_limit","learned_rpm_limit","previous_rpm_limit"}
struct KeyAdaptiveModeChanged {
  KL_EVENT(KeyAdaptiveModeChanged, 1);
  std::string key_id;
  bool adaptive = false;
  std::optional<int64_t> rpm_limit;
  std::optional<int64_t> learned_rpm_limit;
  std::optional<int64_t> previous_rpm_limit;
  friend bool operator==(const KeyAdaptiveModeChanged&, const KeyAdaptiveModeChanged&) = default;
};
// Version 2: {"key_id","provider_id","rpm_limit","previous_rpm_limit"}. Version 1 had no
// provider_id (KeyRpmLimitSetV1 in upcasters.hpp); upcast, it reads as nullopt.
struct KeyRpmLimitSet {
  KL_EVENT(KeyRpmLimitSet, 2);
  std::string key_id;
  // The key's provider when the limit was set (from version 2): readers that attribute events
  // to providers (the audit feeds' provider filter) need not look up the key's KeyCreated.
  // nullopt for version-1 events.
  std::optional<std::string> provider_id;
  std::optional<int64_t> rpm_limit;  // always set by the command; null read as adaptive
  std::optional<int64_t> previous_rpm_limit;
  friend bool operator==(const KeyRpmLimitSet&, const KeyRpmLimitSet&) = default;
};
// {"key_id","previous_learned_rpm_limit"}
struct KeyLearningReset {
  KL_EVENT(KeyLearningReset, 1);
  std::string key_id;
  std::optional<int64_t> previous_learned_rpm_limit;
  friend bool operator==(const KeyLearningReset&, const KeyLearningReset&) = default;
};
// {"from_kek_version","to_kek_version","rewrapped_deks"}: written by events/secrets.cpp, which
// sits below this layer, so the struct, its version check and its encoder are in
// events/keyring_event.hpp; EncodePayload below forwards to that encoder.
using MasterKeyRotated = events::MasterKeyRotated;
// {"key","value":<JSON>,"description":text|null}
struct SystemConfigSet {
  KL_EVENT(SystemConfigSet, 1);
  std::string key;
  RawJson value;  // canonical JSON text
  std::optional<std::string> description;
  friend bool operator==(const SystemConfigSet&, const SystemConfigSet&) = default;
};

#undef KL_EVENT

// One decoded event, in the newest shape of its type.
using Event =
    std::variant<ProviderCreated, ProviderUpdated, ProviderDeleted, ProviderCredentialsRevealed,
                 EndpointCreated, EndpointUpdated, EndpointDeleted, EndpointCredentialsRevealed,
                 KeyCreated, KeyUpdated, KeyDeleted, KeyRevealed, KeyHealthReported, KeyHealthReset,
                 KeyAdaptiveModeChanged, KeyRpmLimitSet, KeyLearningReset, MasterKeyRotated,
                 SystemConfigSet>;

// ---- encoders (the newest schema version of each type) ----
std::string EncodePayload(const ProviderCreated& e);
std::string EncodePayload(const ProviderUpdated& e);
std::string EncodePayload(const ProviderDeleted& e);
std::string EncodePayload(const ProviderCredentialsRevealed& e);
std::string EncodePayload(const EndpointCreated& e);
std::string EncodePayload(const EndpointUpdated& e);
std::string EncodePayload(const EndpointDeleted& e);
std::string EncodePayload(const EndpointCredentialsRevealed& e);
std::string EncodePayload(const KeyCreated& e);
std::string EncodePayload(const KeyUpdated& e);
std::string EncodePayload(const KeyDeleted& e);
std::string EncodePayload(const KeyRevealed& e);
std::string EncodePayload(const KeyHealthReported& e);
std::string EncodePayload(const KeyHealthReset& e);
std::string EncodePayload(const KeyAdaptiveModeChanged& e);
std::string EncodePayload(const KeyRpmLimitSet& e);
std::string EncodePayload(const KeyLearningReset& e);
std::string EncodePayload(const MasterKeyRotated& e);
std::string EncodePayload(const SystemConfigSet& e);
std::string EncodePayload(const Event& e);
events::EventType TypeOf(const Event& e);

// The event to append: its type, the newest schema version and the encoded payload.
template <typename T>
events::NewEvent MakeEvent(const T& payload) {
  events::NewEvent e;
  e.type = T::kType;
  e.schema_version = T::kSchemaVersion;
  e.payload = EncodePayload(payload);
  return e;
}

// Decodes stored payloads into their newest shape. A record's schema version selects the
// decoder of that version; the registered upcasters then lift it version by version to the
// newest. Errors: kUnsupported for a type or a schema version this build does not know (the
// message names the event's sequence, type and version, and the newest version this build
// reads), kCorruption for a payload its version's decoder cannot read.
class EventDecoder {
 public:
  EventDecoder();
  ~EventDecoder();
  EventDecoder(const EventDecoder&) = delete;
  EventDecoder& operator=(const EventDecoder&) = delete;

  Result<Event> Decode(const events::EventRecord& record);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Only the schema-version check of Decode: Ok when this build reads `record`'s type at its
// version, else Decode's kUnsupported error. For readers that show events without
// interpreting their payloads.
Status CheckReadable(const events::EventRecord& record);

// The provider an event names: a top-level provider_id, or that of a created key or endpoint
// (nullopt when it names none; the provider's own events name it by their stream).
std::optional<std::string> NamedProvider(const Event& e);

}  // namespace keyledger::projections
