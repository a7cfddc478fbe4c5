#pragma once
// Validated, normalized commands built from request bodies (aether-spec.md §6, §10; DESIGN.md
// "HTTP API" for where keyledger deliberately differs from Aether).
//
// Every Parse* function reads one body completely and reports ALL field errors at once, in the
// declaration order of Aether's pydantic model, shaped like FastAPI's 422 entries (see
// src/json_input.hpp). The fields of keys, providers and endpoints, their order, limits and
// nullability come from the field tables (src/field_tables.hpp). Unknown members are ignored.
// Errors:
//   - kValidation with `details` (answer 422 {"detail":[...]}; serialize with
//     ValidationErrorBody), for every route Aether validates through FastAPI;
//   - kInvalidArgument with Aether's message, for the provider POST/PUT routes that Aether
//     validates by hand (answer 400 invalid_request): "请求体不能为空", "请求体必须是合法的JSON",
//     or "输入验证失败: <loc> -> ...: <msg>; ...". (Aether's type for the first two is
//     "http_error"; the HTTP layer may special-case those two messages to match it exactly.)
//   - kPayloadTooLarge for a body over the parser's limit.
// Parsing never checks anything that needs state (does the provider exist, does a path id match
// the body): the handler does that, in Aether's order.
//
// Field order in every struct is Aether's column/response order, which is the order the
// registry stores them in events and projections. Objects whose member order Aether echoes back
// (rate_multipliers, capabilities, allowed_models by format, headers, config) keep the body's
// order.
//
// Secrets: KeyCreate::api_key, KeyUpdate::api_key and ProxyConfig::password hold plaintext.
// They never appear in an error (see json_input.hpp); whoever stores them must seal them first.
//
// Thread safety: pure functions over values; a JsonBodyParser argument is used exclusively for
// the duration of the call.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "events/status.hpp"
#include "src/json_input.hpp"

namespace keyledger::registry {

// ---------------------------------------------------------------------------------------------
// Patch<T>: one field of a partial update.

// Absent (leave the stored value alone), explicitly null (clear it), or a new value. Parsers
// only produce kNull for fields that are nullable; an explicit null for any other field is a
// 422 and produces no command at all.
template <typename T>
class Patch {
 public:
  enum class State : uint8_t { kAbsent, kNull, kValue };

  Patch() = default;
  static Patch Null() {
    Patch p;
    p.state_ = State::kNull;
    return p;
  }
  static Patch Of(T value) {
    Patch p;
    p.state_ = State::kValue;
    p.value_ = std::move(value);
    return p;
  }

  State state() const { return state_; }
  bool absent() const { return state_ == State::kAbsent; }
  bool present() const { return state_ != State::kAbsent; }
  bool is_null() const { return state_ == State::kNull; }
  bool has_value() const { return state_ == State::kValue; }
  // Requires has_value().
  const T& value() const { return *value_; }
  T& value() { return *value_; }
  // The new value as an optional (nullopt for kNull); requires present().
  const std::optional<T>& as_optional() const { return value_; }

  friend bool operator==(const Patch&, const Patch&) = default;

 private:
  State state_ = State::kAbsent;
  std::optional<T> value_;
};

// ---------------------------------------------------------------------------------------------
// Value types

// API format -> multiplier; keys upper-cased, each one of domain::kApiFormats, in body order.
using RateMultipliers = std::vector<std::pair<std::string, double>>;
// Capability name -> enabled; names from domain::kCapabilities, in body order.
using Capabilities = std::vector<std::pair<std::string, bool>>;
// Extra upstream request headers, in body order; names are HTTP tokens, unique ignoring case.
using Headers = std::vector<std::pair<std::string, std::string>>;

// aether-spec.md §4.4/§6.3. Never empty once parsed: [] and {} become null.
struct AllowedModels {
  enum class Kind : uint8_t { kList, kByFormat };
  Kind kind = Kind::kList;
  // kList: one whitelist for every format (stripped, no empties, no duplicates, body order).
  std::vector<std::string> models;
  // kByFormat: upper-cased format or "*" -> whitelist (an empty list means deny-all).
  std::vector<std::pair<std::string, std::vector<std::string>>> by_format;

  // ["a","b"] or {"CLAUDE":["a"],"*":[]}
  std::string ToJson() const;
  friend bool operator==(const AllowedModels&, const AllowedModels&) = default;
};

std::string RateMultipliersToJson(const RateMultipliers& v);  // {"CLAUDE":1.0,...}
std::string CapabilitiesToJson(const Capabilities& v);        // {"cache_1h":true,...}
std::string HeadersToJson(const Headers& v);                  // {"X-A":"b",...}

// A provider's or endpoint's proxy (aether-spec.md §10).
struct ProxyConfig {
  std::string url;  // http/https/socks5, stripped, never with credentials
  std::optional<std::string> username;
  std::optional<std::string> password;  // SECRET
  bool enabled = true;

  // {"url":..,"username":..,"password":"***"|null,"enabled":..}: Aether's response form.
  std::string ToMaskedJson() const;
  friend bool operator==(const ProxyConfig&, const ProxyConfig&) = default;
};

// ---------------------------------------------------------------------------------------------
// Limits that Aether leaves open (aether-spec.md §14.12) or that keyledger adds. Aether's own
// limits, and every limit of a key, provider or endpoint field, are in the field tables
// (src/field_tables.cpp), which both the readers and the OpenAPI schemas take them from.

namespace limits {
// internal_priority, global_priority: any value of Aether's integer column (PostgreSQL
// `integer`), negative ones included; Aether itself answers 500 beyond it.
inline constexpr int64_t kMinPriority = -2'147'483'648;
inline constexpr int64_t kMaxPriority = 2'147'483'647;
inline constexpr int64_t kMaxConcurrentLimit = 1'000'000;   // provider concurrent_limit
inline constexpr size_t kMaxHealthReports = 1000;           // reports per batch
inline constexpr int64_t kMaxReportedRequests = 1'000'000;  // successes, failures per report
inline constexpr int64_t kMaxReportedResponseMs = 1'000'000'000'000;  // total_response_time_ms
inline constexpr size_t kMaxLastErrorChars = 1000;
inline constexpr size_t kMaxKeyIdChars = 64;
}  // namespace limits

// ---------------------------------------------------------------------------------------------
// Keys (aether-spec.md §6.1, §6.2)

struct KeyCreate {
  // The body's provider_id, if given (Aether ignores it; the handler answers 400
  // "provider_id 不匹配" when it differs from the path, as endpoint creation does).
  std::optional<std::string> provider_id;
  // nullopt when the body has no api_formats or null: not a 422; the handler answers Aether's
  // 400 "api_formats 为必填字段" after its 404 provider check. Otherwise non-empty, upper-cased,
  // validated, de-duplicated in order.
  std::optional<std::vector<std::string>> api_formats;
  std::string api_key;  // SECRET: trimmed, validated by ValidateSecretInput
  std::string name;     // 1-100 characters raw, stored stripped
  double rate_multiplier = 1.0;
  std::optional<RateMultipliers> rate_multipliers;  // {} stays {} (Aether stores it verbatim)
  int64_t internal_priority = 50;
  std::optional<int64_t> global_priority;       // accepted on create (Aether silently drops it)
  std::optional<int64_t> rpm_limit;             // null: adaptive
  std::optional<AllowedModels> allowed_models;  // [] / {} become null
  std::optional<Capabilities> capabilities;     // {} becomes null
  int64_t cache_ttl_minutes = 5;
  int64_t max_probe_interval_minutes = 32;
  bool is_active = true;  // accepted on create (Aether silently drops it)
  std::optional<std::string> note;
};

struct KeyUpdate {
  Patch<std::vector<std::string>> api_formats;
  Patch<std::string> api_key;  // SECRET; the same rule as on create
  Patch<std::string> name;
  Patch<double> rate_multiplier;
  Patch<RateMultipliers> rate_multipliers;  // nullable; {} stays {}
  Patch<int64_t> internal_priority;
  Patch<int64_t> global_priority;       // nullable
  Patch<int64_t> rpm_limit;             // nullable: null switches to adaptive mode
  Patch<AllowedModels> allowed_models;  // nullable; [] / {} become null
  Patch<Capabilities> capabilities;     // nullable; {} stays {}
  Patch<int64_t> cache_ttl_minutes;
  Patch<int64_t> max_probe_interval_minutes;
  Patch<bool> is_active;
  Patch<std::string> note;  // nullable

  // No field present ({} is a valid update).
  bool empty() const;
};

Result<KeyCreate> ParseKeyCreate(std::string_view body, JsonBodyParser& parser);
Result<KeyCreate> ParseKeyCreate(std::string_view body);
Result<KeyCreate> KeyCreateFromJson(const JsonValue& body);

Result<KeyUpdate> ParseKeyUpdate(std::string_view body, JsonBodyParser& parser);
Result<KeyUpdate> ParseKeyUpdate(std::string_view body);
Result<KeyUpdate> KeyUpdateFromJson(const JsonValue& body);

// ---------------------------------------------------------------------------------------------
// Providers (aether-spec.md §10.1)

inline constexpr std::string_view kDefaultBillingType = "pay_as_you_go";

// Nullable fields mirror Aether's model: an explicit null stores NULL.
struct ProviderCreate {
  std::string name;  // 1-100 characters raw, stored stripped, no control characters
  std::optional<std::string> description;  // <= 1000, stripped
  std::optional<std::string> website;      // <= 500, stripped, "https://" added without scheme
  std::string billing_type{kDefaultBillingType};   // monthly_quota | pay_as_you_go | free_tier
  std::optional<double> monthly_quota_usd;         // >= 0
  std::optional<int64_t> quota_reset_day = 30;     // 1-365 (days)
  std::optional<int64_t> quota_last_reset_at;      // microseconds, UTC
  std::optional<int64_t> quota_expires_at;         // microseconds, UTC
  std::optional<int64_t> provider_priority = 100;  // 0-1000
  bool is_active = true;
  std::optional<int64_t> concurrent_limit;  // 0-kMaxConcurrentLimit
  std::optional<int64_t> timeout = 300;     // 1-600 seconds
  std::optional<int64_t> max_retries = 2;   // 0-10
  std::optional<ProxyConfig> proxy;
  std::optional<std::string> config;  // a JSON object, canonical text, body member order
};

// PUT (every field) and PATCH (the subset Aether's PATCH model has) of a provider.
struct ProviderUpdate {
  Patch<std::string> name;  // not nullable
  Patch<std::string> description;
  Patch<std::string> website;       // "" or blank becomes null
  Patch<std::string> billing_type;  // null becomes "pay_as_you_go" (Aether's validator)
  Patch<double> monthly_quota_usd;
  Patch<int64_t> quota_reset_day;
  Patch<int64_t> quota_last_reset_at;
  Patch<int64_t> quota_expires_at;
  Patch<int64_t> provider_priority;
  Patch<bool> is_active;  // not nullable
  Patch<int64_t> concurrent_limit;
  Patch<int64_t> timeout;
  Patch<int64_t> max_retries;
  Patch<ProxyConfig> proxy;
  Patch<std::string> config;

  bool empty() const;
};

// POST /api/admin/providers/: errors are kInvalidArgument (400), see the file comment.
Result<ProviderCreate> ParseProviderCreate(std::string_view body, JsonBodyParser& parser);
Result<ProviderCreate> ParseProviderCreate(std::string_view body);
// PUT /api/admin/providers/{id}: 400 like POST.
Result<ProviderUpdate> ParseProviderUpdate(std::string_view body, JsonBodyParser& parser);
Result<ProviderUpdate> ParseProviderUpdate(std::string_view body);
// PATCH /api/admin/providers/{id}: FastAPI-validated (422). Fields: name, description, website,
// provider_priority, is_active, billing_type, monthly_quota_usd, quota_reset_day (1-31 here),
// quota_expires_at, timeout, max_retries, proxy; others are ignored.
Result<ProviderUpdate> ParseProviderPatch(std::string_view body, JsonBodyParser& parser);
Result<ProviderUpdate> ParseProviderPatch(std::string_view body);

// ---------------------------------------------------------------------------------------------
// Endpoints (aether-spec.md §10.2)

struct EndpointCreate {
  std::string provider_id;  // required; the handler compares it with the path (400 on mismatch)
  std::string api_format;   // upper-cased, one of domain::kApiFormats
  std::string base_url;     // 1-500, http(s)://, trailing '/' removed
  std::optional<std::string> custom_path;  // <= 200
  std::optional<Headers> headers;
  int64_t timeout = 300;              // 10-600
  int64_t max_retries = 2;            // 0-10
  std::optional<std::string> config;  // canonical JSON object text
  std::optional<ProxyConfig> proxy;
};

struct EndpointUpdate {
  Patch<std::string> base_url;  // not nullable
  Patch<std::string> custom_path;
  Patch<Headers> headers;
  Patch<int64_t> timeout;      // not nullable
  Patch<int64_t> max_retries;  // not nullable
  Patch<bool> is_active;       // not nullable
  Patch<std::string> config;
  // A proxy without a password keeps the stored password (Aether): the handler merges.
  Patch<ProxyConfig> proxy;

  bool empty() const;
};

Result<EndpointCreate> ParseEndpointCreate(std::string_view body, JsonBodyParser& parser);
Result<EndpointCreate> ParseEndpointCreate(std::string_view body);
Result<EndpointUpdate> ParseEndpointUpdate(std::string_view body, JsonBodyParser& parser);
Result<EndpointUpdate> ParseEndpointUpdate(std::string_view body);

// ---------------------------------------------------------------------------------------------
// Health reports from gateways (keyledger's own route; DESIGN.md "Beyond Aether")

// Request outcomes of one key for one format since the gateway's previous report.
struct HealthReport {
  std::string key_id;                     // 1-64 characters
  std::string api_format;                 // upper-cased, one of domain::kApiFormats
  int64_t successes = 0;                  // 0-kMaxReportedRequests
  int64_t failures = 0;                   // 0-kMaxReportedRequests
  int64_t total_response_time_ms = 0;     // 0-kMaxReportedResponseMs
  std::optional<std::string> last_error;  // <= 1000 characters
  int64_t at = 0;                         // when the gateway took the sample; microseconds, UTC
};

// Body {"reports":[...]} with 1-1000 reports. A structural problem (no object, no list, wrong
// count) fails the whole batch with a 422; each report is otherwise judged on its own, so the
// registry can apply the good ones and answer per item.
struct HealthReportBatch {
  // In body order: the report, or its errors (loc ["body","reports",i,...]).
  std::vector<std::variant<HealthReport, std::vector<FieldError>>> reports;

  size_t accepted() const;
};

Result<HealthReportBatch> ParseHealthReportBatch(std::string_view body, JsonBodyParser& parser);
Result<HealthReportBatch> ParseHealthReportBatch(std::string_view body);

}  // namespace keyledger::registry
