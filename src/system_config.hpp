#pragma once
// System configs (aether-spec.md §11.4, S1 GET / S2 PUT /api/admin/system/configs/{key}).
//
// Aether stores any key with any JSON value (§11.8 item 8): a typo creates a new key, "foo" or 5
// for provider_priority_mode is stored and then breaks or silently changes its scheduler, and a
// null value makes the next read a 404. keyledger keeps a catalogue instead: the keys that the
// admin UI's priority dialog reads and writes, each with its allowed values and its built-in
// default (Aether's defaults). Reads of a key never set answer the default, as Aether does; an
// unknown key is a 404 on read and write; a value outside the allowed set is a 400
// invalid_request naming the allowed values (the answer §11.4.2 allows a stricter
// implementation). String values are trimmed and lower-cased first, as Aether's scheduler reads
// them, and stored in that canonical form.
//
// Every accepted PUT is one SystemConfigSet event on the stream system-config-<key>
// (events/FORMAT.md), so the config's ETag is its number of sets and If-Match applies.
//
// Thread safety: pure functions over values and the immutable catalogue.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "events/status.hpp"
#include "projections/state.hpp"
#include "src/json_input.hpp"
#include "src/registry.hpp"

namespace keyledger::registry {

// One known config key. Every value is a string from `allowed`.
struct SystemConfigSpec {
  std::string_view key;
  std::span<const std::string_view> allowed;  // in the order error messages list them
  std::string_view default_value;             // one of `allowed`
  std::string_view summary;                   // what it selects (OpenAPI)
};

// The catalogue, in a fixed order; bounded by construction.
std::span<const SystemConfigSpec> SystemConfigCatalogue();
// nullptr for a key that is not in the catalogue.
const SystemConfigSpec* FindSystemConfig(std::string_view key);

// Aether's 404 for a key it has no value for: "配置项 '<key>' 不存在" (not_found).
Error SystemConfigNotFound(std::string_view key);

// Description texts are bounded like a provider's description (Aether's column is unbounded).
inline constexpr size_t kMaxSystemConfigDescriptionChars = 1000;

// The body of S2: {"value": <any JSON>, "description": <string|null>}; other members ignored.
struct SystemConfigPut {
  std::optional<JsonValue> value;          // nullopt: the member was absent
  std::optional<std::string> description;  // nullopt: absent or null
};

// Errors are kInvalidArgument (400): Aether's own "请求体不能为空" and "请求体必须是合法的JSON"
// (its type is http_error: the HTTP layer special-cases those two messages), and keyledger's
// "请求体必须是 JSON 对象" for a body that is JSON but not an object (Aether answers 500) and
// the description rules; kPayloadTooLarge beyond the parser's limit.
Result<SystemConfigPut> ParseSystemConfigPut(std::string_view body);

// The canonical JSON text of `value` for `spec` (a JSON string), or 400 invalid_request
// "配置项 '<key>' 的值必须是 ['a', 'b'] 之一，当前值: <value>" (a string shown as is, anything
// else, null and an absent value included, as JSON text).
Result<std::string> NormalizeSystemConfigValue(const SystemConfigSpec& spec,
                                               const std::optional<JsonValue>& value);

// S1's body for a catalogued key: {"key","value"}, the stored value or the default.
std::string SystemConfigGetJson(const projections::State& state, const SystemConfigSpec& spec);
// The config's ETag: its number of sets (0 while it holds its default).
uint64_t SystemConfigVersion(const projections::State& state, std::string_view key);

// Sets a catalogued key (the caller has checked FindSystemConfig) to an already normalized
// value. Answers S2's body {"key","value","description","updated_at"} with the ETag.
std::unique_ptr<Command> MakeSetSystemConfig(std::string key, std::string value_json,
                                             std::optional<std::string> description);

}  // namespace keyledger::registry
