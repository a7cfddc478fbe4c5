#pragma once
// MasterKeyRotated, the one event type this layer writes itself: events/secrets.cpp appends it
// on the "keyring" stream in the same batch that rewraps the data keys (FORMAT.md "Keyring").
// It is a typed event like those of projections/event_payloads.hpp (which re-exports it as
// projections::MasterKeyRotated and decodes it through the upcaster registry); it lives here
// because the writer sits below projections.
//
// The encoder writes exactly the bytes the hand-written payload of earlier builds had: members
// in the order below, compact JSON (the hash chain and tests/compat depend on it).
//
// Thread safety: a value type and pure functions.

#include <cstdint>
#include <string>

#include "events/event_log.hpp"
#include "events/event_type.hpp"

namespace keyledger::events {

// {"from_kek_version","to_kek_version","rewrapped_deks"}
struct MasterKeyRotated {
  static constexpr EventType kType = EventType::kMasterKeyRotated;
  static constexpr uint16_t kSchemaVersion = 1;
  static_assert(kSchemaVersion == CurrentSchemaVersion(kType),
                "MasterKeyRotated must be the newest schema version (events/event_type.cpp)");
  uint64_t from_kek_version = 0;
  uint64_t to_kek_version = 0;
  uint64_t rewrapped_deks = 0;
  friend bool operator==(const MasterKeyRotated&, const MasterKeyRotated&) = default;
};

// The payload of the newest schema version. Named apart from projections::EncodePayload so
// that argument-dependent lookup never makes an unqualified EncodePayload call ambiguous.
std::string EncodeMasterKeyRotated(const MasterKeyRotated& e);

// The event to append: its type, its schema version and the encoded payload.
NewEvent MakeMasterKeyRotatedEvent(const MasterKeyRotated& e);

}  // namespace keyledger::events
