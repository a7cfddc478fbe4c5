#pragma once
// The registry's commands (aether-spec.md §8, §10, §11 with DESIGN.md's differences). Each
// decides against the working state and produces events; none writes anything itself.
// Error messages that Aether clients display are Aether's own.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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

// Adaptive RPM (aether-spec.md §11.3). A2's body, {"enabled": bool, "fixed_limit": int|null},
// is validated by hand as Aether does: every problem is kInvalidArgument with Aether's message
// (only the first one); kBodyEmpty and kBodyNotJson are answered as http_error, the rest as
// invalid_request. fixed_limit (1-10000) is read only when enabled is false.
struct AdaptiveModeInput {
  bool enabled = true;
  std::optional<int64_t> fixed_limit;
};
inline constexpr std::string_view kBodyEmpty = "请求体不能为空";
inline constexpr std::string_view kBodyNotJson = "请求体必须是合法的JSON";
inline constexpr std::string_view kFixedLimitRequired = "禁用自适应模式时必须提供 fixed_limit 参数";
Result<AdaptiveModeInput> ParseAdaptiveModeBody(std::string_view body);
// A2: KeyAdaptiveModeChanged. The key is looked up before the body's error is reported (404
// first, as in Aether). enabled:false needs fixed_limit (kInvalidArgument kFixedLimitRequired).
std::unique_ptr<Command> MakeSetAdaptiveMode(std::string key_id, Result<AdaptiveModeInput> input);
// A3: KeyRpmLimitSet (fixed mode with this limit; the caller validated 1-10000).
std::unique_ptr<Command> MakeSetRpmLimit(std::string key_id, int64_t limit);
// A5: KeyLearningReset (the learner's fields back to their defaults; rpm_limit untouched).
std::unique_ptr<Command> MakeResetLearning(std::string key_id);

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
