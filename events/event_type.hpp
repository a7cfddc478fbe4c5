#pragma once
// Event types: past-tense facts. The numeric values are stored in the log and are NEVER renumbered
// or reused; add new types with new numbers and describe them in events/FORMAT.md.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace keyledger::events {

enum class EventType : uint16_t {
  kProviderCreated = 1,
  kProviderUpdated = 2,
  kProviderDeleted = 3,
  kProviderCredentialsRevealed = 4,

  kEndpointCreated = 100,
  kEndpointUpdated = 101,
  kEndpointDeleted = 102,
  kEndpointCredentialsRevealed = 103,

  kKeyCreated = 200,
  kKeyUpdated = 201,
  kKeyDeleted = 202,
  kKeyRevealed = 203,
  kKeyHealthReported = 204,
  kKeyHealthReset = 205,
  kKeyAdaptiveModeChanged = 206,  // PATCH /api/admin/adaptive/keys/{id}/mode
  kKeyRpmLimitSet = 207,          // PATCH /api/admin/adaptive/keys/{id}/limit
  kKeyLearningReset = 208,        // DELETE /api/admin/adaptive/keys/{id}/learning

  kMasterKeyRotated = 300,

  kSystemConfigSet = 400,
};

// "KeyCreated" etc.; "Unknown" for a number this build does not know.
std::string_view EventTypeName(EventType type);
std::optional<EventType> EventTypeFromName(std::string_view name);
bool IsKnownEventType(uint16_t value);

// Every type this build knows, in number order.
std::span<const EventType> AllEventTypes();

// The schema version this build writes for `type` (events/FORMAT.md "Payloads"), which is also
// the newest it reads: 2 for ProviderCreated/Updated and EndpointCreated/Updated (credentials in
// headers and config are sealed) and for KeyRpmLimitSet (carries the key's provider_id), 1 for
// every other type. Raising a version needs a decoder of the new version and an upcaster from
// the previous one (projections/upcasters.cpp) and a new compatibility corpus (tests/compat);
// the payload structs of projections/event_payloads.hpp check they match at compile time.
constexpr uint16_t CurrentSchemaVersion(EventType type) {
  switch (type) {
    case EventType::kProviderCreated:
    case EventType::kProviderUpdated:
    case EventType::kEndpointCreated:
    case EventType::kEndpointUpdated:
    case EventType::kKeyRpmLimitSet:
      return 2;
    default:
      return 1;
  }
}

}  // namespace keyledger::events
