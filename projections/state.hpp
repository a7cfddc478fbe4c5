#pragma once
// The projection state: providers, endpoints and keys as folded from the event log.
// Immutable once published (readers hold std::shared_ptr<const State>); the registry's writer
// mutates a Fork() of the committed state, then publishes it.
//
// Times are UTC microseconds since the Unix epoch. Objects whose member order clients observe
// (rate_multipliers, capabilities, allowed_models dict, headers) keep their order as vectors of
// pairs; free-form JSON (config, utilization_samples) is kept as canonical JSON text.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "events/secrets.hpp"
#include "projections/persistent_map.hpp"
#include "projections/sorted_id_set.hpp"

namespace keyledger::projections {

using StringList = std::vector<std::string>;
template <typename T>
using OrderedMap = std::vector<std::pair<std::string, T>>;

// null (unrestricted) | one whitelist for every format | per-format whitelists ("*" = default).
using AllowedModels = std::variant<std::monostate, StringList, OrderedMap<StringList>>;

// Free-form JSON kept as canonical (minified) text.
struct RawJson {
  std::string text;

  friend bool operator==(const RawJson&, const RawJson&) = default;
};

// A secret stored sealed (events/secrets.hpp); `mask` is what responses show.
struct StoredSecret {
  events::SealedSecret sealed;
  uint64_t version = 0;  // secret version bound into the ciphertext's associated data
  std::string mask;
  std::string fingerprint;

  friend bool operator==(const StoredSecret&, const StoredSecret&) = default;
};

struct Proxy {
  std::string url;
  std::optional<std::string> username;
  std::optional<StoredSecret> password;  // never shown; responses print "***"
  bool enabled = true;

  friend bool operator==(const Proxy&, const Proxy&) = default;
};

// Versions: `version` counts configuration changes (created = 1, +1 per update) and is the
// resource's ETag; `stream_version` is the version of its event stream, which also moves on
// reveals and health reports, and guards appends.
struct ProviderState {
  std::string id;
  uint64_t version = 0;
  uint64_t stream_version = 0;
  std::string name;
  std::optional<std::string> description;
  std::optional<std::string> website;
  std::string billing_type = "pay_as_you_go";
  std::optional<double> monthly_quota_usd;
  double monthly_used_usd = 0.0;
  std::optional<int64_t> quota_reset_day = 30;
  std::optional<int64_t> quota_last_reset_at;
  std::optional<int64_t> quota_expires_at;
  std::optional<int64_t> provider_priority = 100;
  bool is_active = true;
  std::optional<int64_t> concurrent_limit;
  std::optional<int64_t> timeout = 300;
  std::optional<int64_t> max_retries = 2;
  std::optional<Proxy> proxy;
  // `config` as shown: every credential member (events/secret_names.hpp) holds its mask; the
  // sealed values are in `config_secrets`, keyed by their JSON pointer (RFC 6901, "/a/b").
  // Events of schema version 1 carry plaintext there and no secrets (events/FORMAT.md).
  std::optional<RawJson> config;
  OrderedMap<StoredSecret> config_secrets;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // Indexes maintained by the fold.
  SortedIdSet key_ids;
  SortedIdSet endpoint_ids;

  friend bool operator==(const ProviderState&, const ProviderState&) = default;
};

struct EndpointState {
  std::string id;
  uint64_t version = 0;
  uint64_t stream_version = 0;
  std::string provider_id;
  std::string api_format;
  std::string base_url;
  std::optional<std::string> custom_path;
  // As shown: a credential header holds its mask, its sealed value is in `header_secrets` under
  // the same name. `config` and `config_secrets` as in ProviderState.
  std::optional<OrderedMap<std::string>> headers;
  OrderedMap<StoredSecret> header_secrets;
  std::optional<int64_t> timeout = 300;
  std::optional<int64_t> max_retries = 2;
  bool is_active = true;
  std::optional<RawJson> config;
  OrderedMap<StoredSecret> config_secrets;
  std::optional<Proxy> proxy;
  int64_t created_at = 0;
  int64_t updated_at = 0;

  friend bool operator==(const EndpointState&, const EndpointState&) = default;
};

struct WindowEntry {
  int64_t ts = 0;  // microseconds
  bool ok = true;

  friend bool operator==(const WindowEntry&, const WindowEntry&) = default;
};

// health_by_format[FORMAT] (aether-spec.md §4.4).
struct FormatHealth {
  double health_score = 1.0;
  int64_t consecutive_failures = 0;
  std::optional<int64_t> last_failure_at;
  std::vector<WindowEntry> window;  // request_results_window, newest last

  friend bool operator==(const FormatHealth&, const FormatHealth&) = default;
};

// circuit_breaker_by_format[FORMAT] (aether-spec.md §4.4), plus the current recovery backoff.
struct FormatBreaker {
  bool open = false;
  std::optional<int64_t> open_at;
  std::optional<int64_t> next_probe_at;
  std::optional<int64_t> half_open_until;
  int64_t half_open_successes = 0;
  int64_t half_open_failures = 0;
  int64_t recovery_seconds = 0;  // backoff for the next opening (0 = initial)

  friend bool operator==(const FormatBreaker&, const FormatBreaker&) = default;
};

// The part of a key that gateways' health reports change: the health and breaker per format and
// the request counters. It is health telemetry (README "Log growth"): the latest values live in
// the telemetry aux space (projections/telemetry.hpp), not in the event log.
struct KeyTelemetry {
  OrderedMap<FormatHealth> health_by_format;
  OrderedMap<FormatBreaker> circuit_breaker_by_format;
  int64_t request_count = 0;
  int64_t success_count = 0;
  int64_t error_count = 0;
  int64_t total_response_time_ms = 0;
  std::optional<int64_t> last_used_at;

  friend bool operator==(const KeyTelemetry&, const KeyTelemetry&) = default;
};

struct KeyState {
  std::string id;
  uint64_t version = 0;
  uint64_t stream_version = 0;
  std::string provider_id;
  StringList api_formats;
  StoredSecret secret;
  std::string name;
  std::optional<std::string> note;
  double rate_multiplier = 1.0;
  std::optional<OrderedMap<double>> rate_multipliers;
  int64_t internal_priority = 50;
  std::optional<int64_t> global_priority;
  std::optional<int64_t> rpm_limit;  // null = adaptive
  AllowedModels allowed_models;
  std::optional<OrderedMap<bool>> capabilities;
  std::optional<int64_t> learned_rpm_limit;
  int64_t concurrent_429_count = 0;
  int64_t rpm_429_count = 0;
  std::optional<int64_t> last_429_at;
  std::optional<std::string> last_429_type;
  std::optional<RawJson> utilization_samples;
  std::optional<int64_t> last_probe_increase_at;
  OrderedMap<FormatHealth> health_by_format;
  OrderedMap<FormatBreaker> circuit_breaker_by_format;
  int64_t cache_ttl_minutes = 5;
  int64_t max_probe_interval_minutes = 32;
  int64_t request_count = 0;
  int64_t success_count = 0;
  int64_t error_count = 0;
  int64_t total_response_time_ms = 0;
  std::optional<int64_t> last_used_at;
  bool is_active = true;
  int64_t created_at = 0;
  int64_t updated_at = 0;

  friend bool operator==(const KeyState&, const KeyState&) = default;
};

// One system config set through PUT /api/admin/system/configs/{key} (aether-spec.md §11.4). Only
// keys of the registry's catalogue (src/system_config.hpp) are ever set, so the map in State is
// bounded by construction; a key never set is absent and reads answer its built-in default.
struct SystemConfigState {
  std::string key;
  // Sets so far: the version of the stream system-config-<key> (only SystemConfigSet events live
  // there) and the ETag of the config.
  uint64_t version = 0;
  std::string value;  // canonical JSON text
  std::optional<std::string> description;
  int64_t created_at = 0;
  int64_t updated_at = 0;

  friend bool operator==(const SystemConfigState&, const SystemConfigState&) = default;
};

struct State {
  uint64_t sequence = 0;  // last event folded in
  int64_t time_us = 0;    // its time
  // Counts ApplyTelemetry calls since this process built the state (kept by Fork, never stored):
  // a published state with the same sequence but new health telemetry has a higher one, so
  // caches keyed on the state tell them apart (api/view_cache.hpp).
  uint64_t telemetry_version = 0;
  PersistentMap<ProviderState> providers;
  PersistentMap<EndpointState> endpoints;
  PersistentMap<KeyState> keys;
  // Unique-name index: provider name -> provider id.
  PersistentMap<std::string> provider_names;
  // Number of rotations seen on the "keyring" stream.
  uint64_t keyring_version = 0;
  // System configs that were set, by key (a handful at most; copied by Fork).
  std::map<std::string, SystemConfigState, std::less<>> system_configs;
  // Keys whose KeyState shows health telemetry (projections/telemetry.hpp): for each, the
  // KeyTelemetry part as the event log alone folds it. Snapshots and the state digest write
  // these values, so both stay functions of the log (events/FORMAT.md "Health telemetry").
  // Bounded by the number of keys: an entry exists only for a key in `keys` (set by
  // ApplyTelemetry, erased by the fold of KeyDeleted).
  PersistentMap<KeyTelemetry> health_from_log;

  State() = default;
  State(State&&) noexcept = default;
  State& operator=(State&&) noexcept = default;
  // A mutable copy sharing structure with *this (see PersistentMap::Fork).
  State Fork() const;
};

using StatePtr = std::shared_ptr<const State>;

// Deterministic helpers used by the fold and the views.
template <typename T>
const T* FindIn(const OrderedMap<T>& m, std::string_view key) {
  for (const auto& [k, v] : m) {
    if (k == key) return &v;
  }
  return nullptr;
}
template <typename T>
T& Upsert(OrderedMap<T>& m, std::string_view key) {
  for (auto& [k, v] : m) {
    if (k == key) return v;
  }
  m.emplace_back(std::string(key), T{});
  return m.back().second;
}

// Stream ids of the resources.
std::string ProviderStream(std::string_view id);
std::string EndpointStream(std::string_view id);
std::string KeyStream(std::string_view id);
std::string SystemConfigStream(std::string_view key);  // "system-config-<key>"
inline constexpr std::string_view kKeyringStream = "keyring";

}  // namespace keyledger::projections
