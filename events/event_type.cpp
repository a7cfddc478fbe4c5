#include "events/event_type.hpp"

#include <array>
#include <utility>

namespace keyledger::events {
namespace {

constexpr std::array<std::pair<EventType, std::string_view>, 19> kNames{{
    {EventType::kProviderCreated, "ProviderCreated"},
    {EventType::kProviderUpdated, "ProviderUpdated"},
    {EventType::kProviderDeleted, "ProviderDeleted"},
    {EventType::kProviderCredentialsRevealed, "ProviderCredentialsRevealed"},
    {EventType::kEndpointCreated, "EndpointCreated"},
    {EventType::kEndpointUpdated, "EndpointUpdated"},
    {EventType::kEndpointDeleted, "EndpointDeleted"},
    {EventType::kEndpointCredentialsRevealed, "EndpointCredentialsRevealed"},
    {EventType::kKeyCreated, "KeyCreated"},
    {EventType::kKeyUpdated, "KeyUpdated"},
    {EventType::kKeyDeleted, "KeyDeleted"},
    {EventType::kKeyRevealed, "KeyRevealed"},
    {EventType::kKeyHealthReported, "KeyHealthReported"},
    {EventType::kKeyHealthReset, "KeyHealthReset"},
    {EventType::kKeyAdaptiveModeChanged, "KeyAdaptiveModeChanged"},
    {EventType::kKeyRpmLimitSet, "KeyRpmLimitSet"},
    {EventType::kKeyLearningReset, "KeyLearningReset"},
    {EventType::kMasterKeyRotated, "MasterKeyRotated"},
    {EventType::kSystemConfigSet, "SystemConfigSet"},
}};

}  // namespace

std::string_view EventTypeName(EventType type) {
  for (const auto& [t, name] : kNames) {
    if (t == type) return name;
  }
  return "Unknown";
}

std::optional<EventType> EventTypeFromName(std::string_view name) {
  for (const auto& [t, n] : kNames) {
    if (n == name) return t;
  }
  return std::nullopt;
}

bool IsKnownEventType(uint16_t value) {
  for (const auto& entry : kNames) {
    if (static_cast<uint16_t>(entry.first) == value) return true;
  }
  return false;
}

std::span<const EventType> AllEventTypes() {
  static constexpr auto kTypes = [] {
    std::array<EventType, kNames.size()> types{};
    for (size_t i = 0; i < kNames.size(); ++i) types[i] = kNames[i].first;
    return types;
  }();
  return kTypes;
}

}  // namespace keyledger::events
