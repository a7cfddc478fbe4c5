#pragma once
// The registry's commands (aether-spec.md §8, §10, §11 with DESIGN.md's differences). Each
// decides against the working state and produces events; none writes anything itself.
// Error messages that Aether clients display are Aether's own.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/intents.hpp"
#include "src/registry.hpp"

namespace keyledger::registry {

std::unique_ptr<Command> MakeCreateKey(KeyCreateIntent intent);
std::unique_ptr<Command> MakeUpdateKey(KeyUpdateIntent intent);
std::unique_ptr<Command> MakeDeleteKey(std::string key_id);
// Records a KeyRevealed event (actor, IP, request id, reason), then answers the plaintext.
std::unique_ptr<Command> MakeRevealKey(std::string key_id);

// Gateways' outcome reports; each item is accepted or rejected on its own.
std::unique_ptr<Command> MakeReportHealth(std::vector<HealthReportItem> items);
// Resets one format (or every format) of a key and closes its breakers.
std::unique_ptr<Command> MakeResetKeyHealth(std::string key_id,
                                            std::optional<std::string> api_format);
// Resets every format whose breaker is open, on every key.
std::unique_ptr<Command> MakeRecoverAllKeys();

std::unique_ptr<Command> MakeCreateProvider(ProviderCreateIntent intent);
std::unique_ptr<Command> MakeUpdateProvider(ProviderUpdateIntent intent);
// Cascades: every key (shredded) and endpoint of the provider is deleted, as events.
std::unique_ptr<Command> MakeDeleteProvider(std::string provider_id);

std::unique_ptr<Command> MakeCreateEndpoint(EndpointCreateIntent intent);
std::unique_ptr<Command> MakeUpdateEndpoint(EndpointUpdateIntent intent);
std::unique_ptr<Command> MakeDeleteEndpoint(std::string endpoint_id);

// Record a ProviderCredentialsRevealed / EndpointCredentialsRevealed event (actor, IP, request
// id, reason), then answer the real values: {"provider_id":id,"config":{...}|null} and
// {"endpoint_id":id,"headers":{...}|null,"config":{...}|null}. Honour require_reveal_reason.
std::unique_ptr<Command> MakeRevealProviderCredentials(std::string provider_id);
std::unique_ptr<Command> MakeRevealEndpointCredentials(std::string endpoint_id);

}  // namespace keyledger::registry
