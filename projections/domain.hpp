#pragma once
// Domain constants shared by the registry, projections and API: the API formats, the key
// capability catalogue and Aether's RPM and circuit-breaker constants (aether-spec.md §4.5-§4.7).

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace keyledger::domain {

// In the order Aether's validators list them in error messages.
inline constexpr std::array<std::string_view, 6> kApiFormats = {
    "CLAUDE", "CLAUDE_CLI", "OPENAI", "OPENAI_CLI", "GEMINI", "GEMINI_CLI"};
// Sorted, as in the allowed_models dict-key error message.
inline constexpr std::array<std::string_view, 6> kApiFormatsSorted = {
    "CLAUDE", "CLAUDE_CLI", "GEMINI", "GEMINI_CLI", "OPENAI", "OPENAI_CLI"};

inline bool IsApiFormat(std::string_view s) {
  for (auto f : kApiFormats) {
    if (f == s) return true;
  }
  return false;
}

struct CapabilityDefinition {
  std::string_view name;
  std::string_view display_name;
  std::string_view short_name;
  std::string_view description;
  std::string_view match_mode;   // "exclusive" | "compatible"
  std::string_view config_mode;  // "user_configurable" | "request_param"
};

inline constexpr std::array<CapabilityDefinition, 2> kCapabilities = {{
    {"cache_1h", "1 小时缓存", "1h缓存", "使用 1 小时缓存 TTL（价格更高，适合长对话）", "exclusive",
     "user_configurable"},
    {"context_1m", "CLI 1M 上下文", "CLI 1M", "支持 1M tokens 上下文窗口", "compatible",
     "request_param"},
}};

inline const CapabilityDefinition* FindCapability(std::string_view name) {
  for (const auto& c : kCapabilities) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// Metadata of each API format (aether-spec.md §4.5, src/core/api_format_metadata.py), in the
// enumeration's declaration order: what GET /api/admin/system/api-formats answers (§11.4.5).
// The aliases are metadata only; the key validators do not accept them.
struct ApiFormatMetadata {
  std::string_view value;
  std::string_view default_path;
  std::vector<std::string_view> aliases;
};

inline const std::array<ApiFormatMetadata, 6>& ApiFormatMetadataTable() {
  static const std::array<ApiFormatMetadata, 6> kTable = {{
      {"CLAUDE", "/v1/messages", {"claude", "anthropic", "claude_compatible"}},
      {"CLAUDE_CLI", "/v1/messages", {"claude_cli", "claude-cli"}},
      {"OPENAI",
       "/v1/chat/completions",
       {"openai", "deepseek", "grok", "moonshot", "zhipu", "qwen", "baichuan", "minimax",
        "openai_compatible"}},
      {"OPENAI_CLI", "/responses", {"openai_cli", "responses"}},
      {"GEMINI", "/v1beta/models/{model}:{action}", {"gemini", "google", "vertex"}},
      {"GEMINI_CLI", "/v1beta/models/{model}:{action}", {"gemini_cli", "gemini-cli"}},
  }};
  return kTable;
}

namespace rpm {
inline constexpr int64_t kInitialLimit = 50;
inline constexpr int64_t kMaxRpmLimit = 10000;
inline constexpr int64_t kMinRpmLimit = 5;
}  // namespace rpm

namespace circuit {
inline constexpr int kWindowSize = 20;
inline constexpr int64_t kWindowSeconds = 300;
inline constexpr int kMinRequestsForDecision = 5;
inline constexpr double kErrorRateThreshold = 0.5;
inline constexpr int64_t kHalfOpenDurationSeconds = 30;
inline constexpr int kHalfOpenSuccessThreshold = 3;
inline constexpr int kHalfOpenFailureThreshold = 2;
inline constexpr int64_t kInitialRecoverySeconds = 30;
inline constexpr int64_t kRecoveryBackoffMultiplier = 2;
inline constexpr int64_t kMaxRecoverySeconds = 300;
inline constexpr double kSuccessIncrement = 0.15;
inline constexpr double kFailureDecrement = 0.03;
inline constexpr double kProbeRecoveryScore = 0.5;
}  // namespace circuit

}  // namespace keyledger::domain
