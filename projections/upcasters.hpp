#pragma once
// The registry of payload decoders and upcasters behind EventDecoder (event_payloads.hpp), for
// projections/*.cpp and tests. The rules it implements are in events/FORMAT.md "Evolving a
// payload"; in short:
//
//   - every (type, schema version) this build reads has exactly one decoder, which reads that
//     version's JSON into that version's struct (the newest struct of event_payloads.hpp, or a
//     *V<n> struct below for a shape that has since changed);
//   - every version below a type's newest has exactly one upcaster, a pure function from that
//     version's struct to the next version's (version n -> n + 1), with the reason for the
//     change; a stored version-1 payload goes through every upcaster to the newest;
//   - a decoder or an upcaster, once released, is never changed: old logs must keep meaning
//     what they meant (tests/compat proves it on every build).
//
// The design follows the upcasting of KurrentDB and of the Python eventsourcing library: stored
// events are never rewritten; old shapes are transformed on read, one step per version, so each
// step is written once, when its version is introduced, and never has to know the later ones.

#include <simdjson.h>

#include <span>
#include <string_view>
#include <variant>

#include "projections/event_payloads.hpp"

namespace keyledger::projections::upcast {

// KeyRpmLimitSet version 1: {"key_id","rpm_limit","previous_rpm_limit"}.
struct KeyRpmLimitSetV1 {
  std::string key_id;
  std::optional<int64_t> rpm_limit;
  std::optional<int64_t> previous_rpm_limit;
};

// Every payload shape any schema version ever had: the newest structs and the older ones.
using AnyPayload =
    std::variant<ProviderCreated, ProviderUpdated, ProviderDeleted, ProviderCredentialsRevealed,
                 EndpointCreated, EndpointUpdated, EndpointDeleted, EndpointCredentialsRevealed,
                 KeyCreated, KeyUpdated, KeyDeleted, KeyRevealed, KeyHealthReported, KeyHealthReset,
                 KeyAdaptiveModeChanged, KeyRpmLimitSet, KeyLearningReset, MasterKeyRotated,
                 SystemConfigSet, KeyRpmLimitSetV1>;

struct Decoder {
  events::EventType type;
  uint16_t version;
  Status (*decode)(simdjson::dom::object payload, AnyPayload& out);
};

struct Upcaster {
  events::EventType type;
  uint16_t from_version;  // produces from_version + 1
  Result<AnyPayload> (*upcast)(AnyPayload&& payload);
  std::string_view reason;  // why the version was introduced
};

std::span<const Decoder> Decoders();
std::span<const Upcaster> Upcasters();

const Decoder* FindDecoder(events::EventType type, uint16_t version);
const Upcaster* FindUpcaster(events::EventType type, uint16_t from_version);

// Decodes one payload object of `type` at `version` and upcasts it to the newest version.
// `sequence` only names the event in errors.
Result<Event> DecodeAndUpcast(events::EventType type, uint16_t version, uint64_t sequence,
                              simdjson::dom::object payload);

}  // namespace keyledger::projections::upcast
