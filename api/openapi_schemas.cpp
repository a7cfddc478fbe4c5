#include "api/openapi_schemas.hpp"

#include <initializer_list>
#include <string>
#include <utility>

#include "events/json_writer.hpp"

namespace keyledger::api {
namespace {

// Fragments shared by several schemas. Limits are those of src/commands.cpp (Aether's, plus the
// ones keyledger adds in registry::limits) and events/secrets.hpp.
std::string FormatInSchema() {
  return R"({"type":"string","description":"CLAUDE, CLAUDE_CLI, OPENAI, OPENAI_CLI, GEMINI or GEMINI_CLI in any letter case, stored upper-case"})";
}
std::string FormatOutSchema() {
  return R"({"type":"string","enum":["CLAUDE","CLAUDE_CLI","OPENAI","OPENAI_CLI","GEMINI","GEMINI_CLI"]})";
}
std::string DateTimeSchema() { return R"({"type":"string","format":"date-time"})"; }
std::string NullableDateTimeSchema() {
  return R"({"type":["string","null"],"format":"date-time"})";
}
std::string PrioritySchema() {
  return R"({"type":"integer","minimum":-2147483648,"maximum":2147483647,"description":"lower is preferred; any 32-bit integer (Aether's column), negative values included"})";
}
std::string NullablePrioritySchema() {
  return R"({"type":["integer","null"],"minimum":-2147483648,"maximum":2147483647,"description":"lower is preferred; any 32-bit integer (Aether's column), negative values included"})";
}
std::string RateMultipliersSchema() {
  return R"({"type":["object","null"],"description":"API format -> multiplier; takes precedence over rate_multiplier","additionalProperties":{"type":"number","minimum":0.01}})";
}
std::string CapabilitiesSchema() {
  return R"({"type":["object","null"],"propertyNames":{"enum":["cache_1h","context_1m"]},"additionalProperties":{"type":"boolean"}})";
}
std::string ModelListSchema() { return R"({"type":"array","items":{"type":"string"}})"; }
std::string AllowedModelsSchema() {
  return R"({"description":"null: unrestricted; a list: one whitelist for every format; an object: API format or \"*\" -> whitelist. [] and {} are stored as null","anyOf":[)" +
         ModelListSchema() + R"(,{"type":"object","additionalProperties":)" + ModelListSchema() +
         R"(},{"type":"null"}]})";
}
std::string SecretSchema() {
  return R"({"type":"string","minLength":1,"maxLength":8192,"description":"The provider's API key: non-empty after trimming, valid UTF-8 without control characters, at most 8192 bytes. Never echoed in an error"})";
}
std::string NullableProxySchema() {
  return R"({"anyOf":[{"$ref":"#/components/schemas/ProxyConfig"},{"type":"null"}]})";
}
std::string ConfigSchema() { return R"({"type":["object","null"]})"; }
std::string NullableIntSchema() { return R"({"type":["integer","null"]})"; }
std::string NullableStringSchema() { return R"({"type":["string","null"]})"; }
std::string BillingTypeSchema() {
  return R"({"type":["string","null"],"enum":["monthly_quota","pay_as_you_go","free_tier",null],"default":"pay_as_you_go","description":"null means pay_as_you_go"})";
}
std::string ProviderNameSchema() { return R"({"type":"string","minLength":1,"maxLength":100})"; }
std::string DescriptionSchema() { return R"({"type":["string","null"],"maxLength":1000})"; }
std::string WebsiteSchema() {
  return R"({"type":["string","null"],"maxLength":500,"description":"https:// is prepended when there is no scheme; blank means null"})";
}
std::string BaseUrlSchema() {
  return R"({"type":"string","minLength":1,"maxLength":500,"pattern":"^[hH][tT][tT][pP][sS]?://","description":"http(s) URL with a host; a trailing / is removed"})";
}
std::string CustomPathSchema() { return R"({"type":["string","null"],"maxLength":200})"; }
std::string HeadersSchema() {
  return R"({"type":["object","null"],"description":"Extra upstream request headers: HTTP token names (unique ignoring case), values without control characters","additionalProperties":{"type":"string"}})";
}

std::string Object(const std::string& properties, const std::string& required = "",
                   const std::string& description = "") {
  std::string out = R"({"type":"object")";
  if (!description.empty()) {
    out += R"(,"description":)";
    json::AppendString(out, description);
  }
  if (!required.empty()) out += R"(,"required":[)" + required + ']';
  out += R"(,"properties":{)" + properties + "}}";
  return out;
}

// A property entry: "name":schema.
std::string P(const std::string& name, const std::string& schema) {
  return '"' + name + R"(":)" + schema;
}

std::string KeyCreate() {
  return Object(
      P("provider_id",
        R"({"type":["string","null"],"description":"When given it must equal the path's provider_id, else 400"})") +
          "," +
          P("api_formats",
            R"({"type":["array","null"],"minItems":1,"items":)" + FormatInSchema() +
                R"(,"description":"Required in practice: missing or null answers 400 \"api_formats 为必填字段\". Duplicates are dropped, first seen order kept"})") +
          "," + P("api_key", SecretSchema()) + "," +
          P("name", R"({"type":"string","minLength":1,"maxLength":100})") + "," +
          P("rate_multiplier", R"({"type":"number","minimum":0.01,"default":1.0})") + "," +
          P("rate_multipliers", RateMultipliersSchema()) + "," +
          P("internal_priority",
            R"({"type":"integer","minimum":-2147483648,"maximum":2147483647,"default":50})") +
          "," + P("global_priority", NullablePrioritySchema()) + "," +
          P("rpm_limit",
            R"({"type":["integer","null"],"minimum":1,"maximum":10000,"description":"null: adaptive mode"})") +
          "," + P("allowed_models", AllowedModelsSchema()) + "," +
          P("capabilities", CapabilitiesSchema()) + "," +
          P("cache_ttl_minutes", R"({"type":"integer","minimum":0,"maximum":60,"default":5})") +
          "," +
          P("max_probe_interval_minutes",
            R"({"type":"integer","minimum":2,"maximum":32,"default":32})") +
          "," + P("is_active", R"({"type":"boolean","default":true})") + "," +
          P("note", R"({"type":["string","null"],"maxLength":500})"),
      R"("api_key","name")", "Body of POST /api/admin/endpoints/providers/{provider_id}/keys");
}

std::string KeyUpdate() {
  return Object(
      P("api_formats", R"({"type":"array","minItems":1,"items":)" + FormatInSchema() + "}") + "," +
          P("api_key", SecretSchema()) + "," +
          P("name", R"({"type":"string","minLength":1,"maxLength":100})") + "," +
          P("rate_multiplier", R"({"type":"number","minimum":0.01})") + "," +
          P("rate_multipliers", RateMultipliersSchema()) + "," +
          P("internal_priority", PrioritySchema()) + "," +
          P("global_priority", NullablePrioritySchema()) + "," +
          P("rpm_limit",
            R"({"type":["integer","null"],"minimum":1,"maximum":10000,"description":"null switches to adaptive mode and resets learned_rpm_limit"})") +
          "," + P("allowed_models", AllowedModelsSchema()) + "," +
          P("capabilities", CapabilitiesSchema()) + "," +
          P("cache_ttl_minutes", R"({"type":"integer","minimum":0,"maximum":60})") + "," +
          P("max_probe_interval_minutes", R"({"type":"integer","minimum":2,"maximum":32})") + "," +
          P("is_active", R"({"type":"boolean"})") + "," +
          P("note", R"({"type":["string","null"],"maxLength":500})"),
      "",
      "Body of PUT /api/admin/endpoints/keys/{key_id}: a partial update; absent fields are kept, "
      "an explicit null clears a nullable field and is a 422 for the others");
}

std::string FormatHealth() {
  return Object(
      P("health_score", R"({"type":"number"})") + "," +
          P("consecutive_failures", R"({"type":"integer"})") + "," +
          P("last_failure_at", NullableDateTimeSchema()) + "," +
          P("request_results_window",
            R"({"type":"array","items":{"type":"object","properties":{"ts":{"type":"number"},"ok":{"type":"boolean"}}}})"),
      R"("health_score","consecutive_failures","last_failure_at","request_results_window")");
}

std::string FormatBreaker() {
  return Object(
      P("open", R"({"type":"boolean"})") + "," + P("open_at", NullableDateTimeSchema()) + "," +
          P("next_probe_at", NullableDateTimeSchema()) + "," +
          P("half_open_until", NullableDateTimeSchema()) + "," +
          P("half_open_successes", R"({"type":"integer"})") + "," +
          P("half_open_failures", R"({"type":"integer"})"),
      R"("open","open_at","next_probe_at","half_open_until","half_open_successes","half_open_failures")");
}

// Every member, in emission order (projections::WriteKeyResponse).
std::string KeyResponse() {
  const std::string props[][2] = {
      {"id", R"({"type":"string"})"},
      {"provider_id", R"({"type":"string"})"},
      {"api_formats", R"({"type":"array","items":)" + FormatOutSchema() + "}"},
      {"api_key_masked", R"({"type":"string"})"},
      {"api_key_plain",
       R"({"type":["string","null"],"description":"null unless the server runs with --echo-plaintext-on-create on create only"})"},
      {"name", R"({"type":"string"})"},
      {"rate_multiplier", R"({"type":"number"})"},
      {"rate_multipliers",
       R"({"type":["object","null"],"additionalProperties":{"type":"number"}})"},
      {"internal_priority", R"({"type":"integer"})"},
      {"global_priority", NullableIntSchema()},
      {"rpm_limit", NullableIntSchema()},
      {"allowed_models", AllowedModelsSchema()},
      {"capabilities", R"({"type":["object","null"],"additionalProperties":{"type":"boolean"}})"},
      {"cache_ttl_minutes", R"({"type":"integer"})"},
      {"max_probe_interval_minutes", R"({"type":"integer"})"},
      {"health_by_format", R"({"type":"object","additionalProperties":)" + FormatHealth() + "}"},
      {"circuit_breaker_by_format",
       R"({"type":"object","additionalProperties":)" + FormatBreaker() + "}"},
      {"health_score", R"({"type":"number"})"},
      {"consecutive_failures", R"({"type":"integer"})"},
      {"last_failure_at", NullableDateTimeSchema()},
      {"circuit_breaker_open", R"({"type":"boolean"})"},
      {"circuit_breaker_open_at", NullableDateTimeSchema()},
      {"next_probe_at", NullableDateTimeSchema()},
      {"half_open_until", NullableDateTimeSchema()},
      {"half_open_successes", NullableIntSchema()},
      {"half_open_failures", NullableIntSchema()},
      {"request_results_window", R"({"type":["array","null"]})"},
      {"request_count", R"({"type":"integer"})"},
      {"success_count", R"({"type":"integer"})"},
      {"error_count", R"({"type":"integer"})"},
      {"success_rate", R"({"type":"number"})"},
      {"avg_response_time_ms", R"({"type":"number"})"},
      {"is_active", R"({"type":"boolean"})"},
      {"is_adaptive", R"({"type":"boolean"})"},
      {"learned_rpm_limit", NullableIntSchema()},
      {"effective_limit", R"({"type":"integer"})"},
      {"utilization_samples", R"({"type":["array","null"],"items":{"type":"object"}})"},
      {"last_probe_increase_at", NullableDateTimeSchema()},
      {"concurrent_429_count", R"({"type":"integer"})"},
      {"rpm_429_count", R"({"type":"integer"})"},
      {"last_429_at", NullableDateTimeSchema()},
      {"last_429_type", NullableStringSchema()},
      {"note", NullableStringSchema()},
      {"last_used_at", NullableDateTimeSchema()},
      {"created_at", DateTimeSchema()},
      {"updated_at", DateTimeSchema()},
  };
  std::string properties, required;
  for (const auto& [name, schema] : props) {
    if (!properties.empty()) {
      properties += ',';
      required += ',';
    }
    properties += P(name, schema);
    required += '"' + name + '"';
  }
  return Object(properties, required,
                "A provider key (aether-spec.md §7), members in this order; the secret only as "
                "its mask");
}

std::string ProxyConfig() {
  return Object(
      P("url",
        R"({"type":"string","description":"http://, https:// or socks5://, with a host and without user name or password"})") +
          "," + P("username", R"({"type":["string","null"],"maxLength":255})") + "," +
          P("password",
            R"({"type":["string","null"],"maxLength":500,"description":"Responses show \"***\" when one is stored; an update without a password keeps the stored one"})") +
          "," + P("enabled", R"({"type":"boolean","default":true})"),
      R"("url")");
}

// CreateProviderRequest and UpdateProviderRequest share their fields; `create` adds the
// defaults and makes name required, the update makes name and is_active non-nullable only.
std::string ProviderBody(bool create) {
  auto with_default = [&](const std::string& base, const char* value) {
    if (!create) return base;
    return base.substr(0, base.size() - 1) + R"(,"default":)" + value + "}";
  };
  const std::string props =
      P("name", ProviderNameSchema()) + "," + P("description", DescriptionSchema()) + "," +
      P("website", WebsiteSchema()) + "," + P("billing_type", BillingTypeSchema()) + "," +
      P("monthly_quota_usd", R"({"type":["number","null"],"minimum":0})") + "," +
      P("quota_reset_day",
        with_default(R"({"type":["integer","null"],"minimum":1,"maximum":365})", "30")) +
      "," + P("quota_last_reset_at", NullableDateTimeSchema()) + "," +
      P("quota_expires_at", NullableDateTimeSchema()) + "," +
      P("provider_priority",
        with_default(R"({"type":["integer","null"],"minimum":0,"maximum":1000})", "100")) +
      "," + P("is_active", with_default(R"({"type":"boolean"})", "true")) + "," +
      P("concurrent_limit", R"({"type":["integer","null"],"minimum":0,"maximum":1000000})") + "," +
      P("timeout",
        with_default(R"({"type":["integer","null"],"minimum":1,"maximum":600})", "300")) +
      "," +
      P("max_retries",
        with_default(R"({"type":["integer","null"],"minimum":0,"maximum":10})", "2")) +
      "," + P("proxy", NullableProxySchema()) + "," + P("config", ConfigSchema());
  return create ? Object(props, R"("name")",
                         "Body of POST /api/admin/providers/ (validation failures answer 400 "
                         "invalid_request, as Aether's hand-validated route does)")
                : Object(props, "",
                         "Body of PUT /api/admin/providers/{provider_id}: a partial update; "
                         "validation failures answer 400 invalid_request");
}

std::string ProviderPatch() {
  return Object(
      P("name", ProviderNameSchema()) + "," + P("description", DescriptionSchema()) + "," +
          P("website", WebsiteSchema()) + "," +
          P("provider_priority", R"({"type":["integer","null"],"minimum":0,"maximum":1000})") +
          "," + P("is_active", R"({"type":"boolean"})") + "," +
          P("billing_type", BillingTypeSchema()) + "," +
          P("monthly_quota_usd", R"({"type":["number","null"],"minimum":0})") + "," +
          P("quota_reset_day", R"({"type":["integer","null"],"minimum":1,"maximum":31})") + "," +
          P("quota_expires_at", NullableDateTimeSchema()) + "," +
          P("timeout", R"({"type":["integer","null"],"minimum":1,"maximum":600})") + "," +
          P("max_retries", R"({"type":["integer","null"],"minimum":0,"maximum":10})") + "," +
          P("proxy", NullableProxySchema()),
      "", "Body of PATCH /api/admin/providers/{provider_id} (422 on validation failures)");
}

// Every member, in emission order (projections::WriteProviderSummary).
std::string ProviderSummary() {
  const std::string props[][2] = {
      {"id", R"({"type":"string"})"},
      {"name", R"({"type":"string"})"},
      {"description", NullableStringSchema()},
      {"website", NullableStringSchema()},
      {"provider_priority", NullableIntSchema()},
      {"is_active", R"({"type":"boolean"})"},
      {"billing_type", R"({"type":"string","enum":["monthly_quota","pay_as_you_go","free_tier"]})"},
      {"monthly_quota_usd", R"({"type":["number","null"]})"},
      {"monthly_used_usd", R"({"type":"number"})"},
      {"quota_reset_day", NullableIntSchema()},
      {"quota_last_reset_at", NullableDateTimeSchema()},
      {"quota_expires_at", NullableDateTimeSchema()},
      {"timeout", NullableIntSchema()},
      {"max_retries", NullableIntSchema()},
      {"proxy", NullableProxySchema()},
      {"total_endpoints", R"({"type":"integer"})"},
      {"active_endpoints", R"({"type":"integer"})"},
      {"total_keys", R"({"type":"integer"})"},
      {"active_keys", R"({"type":"integer"})"},
      {"total_models", R"({"type":"integer"})"},
      {"active_models", R"({"type":"integer"})"},
      {"api_formats", R"({"type":"array","items":)" + FormatOutSchema() + "}"},
      {"endpoint_health_details",
       R"({"type":"array","items":{"type":"object","required":["api_format","health_score","is_active","active_keys"],"properties":{"api_format":)" +
           FormatOutSchema() +
           R"(,"health_score":{"type":"number"},"is_active":{"type":"boolean"},"active_keys":{"type":"integer"}}}})"},
      {"avg_health_score", R"({"type":"number"})"},
      {"unhealthy_endpoints", R"({"type":"integer"})"},
      {"created_at", DateTimeSchema()},
      {"updated_at", DateTimeSchema()},
  };
  std::string properties, required;
  for (const auto& [name, schema] : props) {
    if (!properties.empty()) {
      properties += ',';
      required += ',';
    }
    properties += P(name, schema);
    required += '"' + name + '"';
  }
  return Object(properties, required, "A provider with endpoint and key counts and health");
}

std::string EndpointCreate() {
  return Object(
      P("provider_id",
        R"({"type":"string","description":"Must equal the path's provider_id, else 400"})") +
          "," + P("api_format", FormatInSchema()) + "," + P("base_url", BaseUrlSchema()) + "," +
          P("custom_path", CustomPathSchema()) + "," + P("headers", HeadersSchema()) + "," +
          P("timeout", R"({"type":"integer","minimum":10,"maximum":600,"default":300})") + "," +
          P("max_retries", R"({"type":"integer","minimum":0,"maximum":10,"default":2})") + "," +
          P("config", ConfigSchema()) + "," + P("proxy", NullableProxySchema()),
      R"("provider_id","api_format","base_url")",
      "Body of POST /api/admin/endpoints/providers/{provider_id}/endpoints");
}

std::string EndpointUpdate() {
  return Object(P("base_url", BaseUrlSchema()) + "," + P("custom_path", CustomPathSchema()) + "," +
                    P("headers", HeadersSchema()) + "," +
                    P("timeout", R"({"type":"integer","minimum":10,"maximum":600})") + "," +
                    P("max_retries", R"({"type":"integer","minimum":0,"maximum":10})") + "," +
                    P("is_active", R"({"type":"boolean"})") + "," + P("config", ConfigSchema()) +
                    "," + P("proxy", NullableProxySchema()),
                "",
                "Body of PUT /api/admin/endpoints/{endpoint_id}: a partial update; a proxy "
                "without a password keeps the stored one");
}

// Every member, in emission order (projections::WriteEndpointResponse).
std::string EndpointResponse() {
  const std::string props[][2] = {
      {"id", R"({"type":"string"})"},
      {"provider_id", R"({"type":"string"})"},
      {"provider_name", R"({"type":"string"})"},
      {"api_format", FormatOutSchema()},
      {"base_url", R"({"type":"string"})"},
      {"custom_path", NullableStringSchema()},
      {"headers", R"({"type":["object","null"],"additionalProperties":{"type":"string"}})"},
      {"timeout", NullableIntSchema()},
      {"max_retries", NullableIntSchema()},
      {"is_active", R"({"type":"boolean"})"},
      {"config", ConfigSchema()},
      {"proxy", NullableProxySchema()},
      {"total_keys", R"({"type":"integer"})"},
      {"active_keys", R"({"type":"integer"})"},
      {"created_at", DateTimeSchema()},
      {"updated_at", DateTimeSchema()},
  };
  std::string properties, required;
  for (const auto& [name, schema] : props) {
    if (!properties.empty()) {
      properties += ',';
      required += ',';
    }
    properties += P(name, schema);
    required += '"' + name + '"';
  }
  return Object(properties, required, "A provider's endpoint for one API format");
}

std::string HealthReport() {
  return Object(
      P("key_id", R"({"type":"string","minLength":1,"maxLength":64})") + "," +
          P("api_format", FormatInSchema()) + "," +
          P("successes", R"({"type":"integer","minimum":0,"maximum":1000000})") + "," +
          P("failures", R"({"type":"integer","minimum":0,"maximum":1000000})") + "," +
          P("total_response_time_ms",
            R"({"type":"integer","minimum":0,"maximum":1000000000000,"description":"Sum over the successful requests"})") +
          "," + P("last_error", R"({"type":["string","null"],"maxLength":1000})") + "," +
          P("at",
            R"({"description":"When the gateway took the sample","anyOf":[{"type":"string","format":"date-time"},{"type":"number","description":"Unix seconds, or milliseconds beyond 2e10"}]
})"),
      R"("key_id","api_format","successes","failures","total_response_time_ms","at")",
      "Request outcomes of one key for one format since the gateway's previous report");
}

std::string HealthReportBatch() {
  return Object(
      P("reports",
        R"({"type":"array","minItems":1,"maxItems":1000,"items":{"$ref":"#/components/schemas/HealthReport"}})"),
      R"("reports")",
      "Body of POST /api/admin/endpoints/keys/health-reports; each report is accepted or "
      "rejected on its own");
}

// ---- Health, RPM and adaptive RPM (aether-spec.md §11.1-§11.3) --------------------------

std::string Props(std::initializer_list<std::pair<const char*, const char*>> props) {
  std::string out;
  for (const auto& [name, schema] : props) {
    if (!out.empty()) out += ",";
    out += P(name, schema);
  }
  return out;
}

constexpr const char* kNullStr = R"({"type":["string","null"]})";
constexpr const char* kNullInt = R"({"type":["integer","null"]})";
constexpr const char* kInt = R"({"type":"integer"})";

std::string FormatHealthData() {
  return Object(Props(
      {{"health_score", R"({"type":"number"})"},
       {"error_rate", R"({"type":"number"})"},
       {"window_size", kInt},
       {"consecutive_failures", kInt},
       {"last_failure_at", kNullStr},
       {"circuit_breaker",
        R"({"type":"object","properties":{"state":{"type":"string","enum":["closed","open","half_open"]},"open":{"type":"boolean"},"open_at":{"type":["string","null"]},"next_probe_at":{"type":["string","null"]},"half_open_until":{"type":["string","null"]},"half_open_successes":{"type":"integer"},"half_open_failures":{"type":"integer"}}})"}}));
}

std::string HealthStatusResponse() {
  return Object(
      Props(
          {{"key_id", R"({"type":"string"})"},
           {"key_is_active", R"({"type":"boolean"})"},
           {"key_statistics",
            R"({"type":"object","properties":{"request_count":{"type":"integer"},"success_count":{"type":"integer"},"error_count":{"type":"integer"},"success_rate":{"type":"number"},"avg_response_time_ms":{"type":"number"}}})"},
           {"key_health_score", R"({"type":"number"})"},
           {"any_circuit_open", R"({"type":"boolean"})"},
           {"health_by_format",
            R"({"type":["object","null"],"additionalProperties":{"$ref":"#/components/schemas/FormatHealthData"}})"},
           {"api_format", kNullStr},
           {"key_consecutive_failures", kNullInt},
           {"key_last_failure_at", kNullStr},
           {"circuit_breaker_open", R"({"type":"boolean"})"},
           {"circuit_breaker_open_at", kNullStr},
           {"next_probe_at", kNullStr},
           {"half_open_until", kNullStr},
           {"half_open_successes", kInt},
           {"half_open_failures", kInt}}),
      "", "GET /api/admin/endpoints/health/key/{key_id}");
}

std::string HealthSummaryResponse() {
  return Object(Props(
      {{"endpoints",
        R"({"type":"object","properties":{"total":{"type":"integer"},"active":{"type":"integer"},"unhealthy":{"type":"integer"}}})"},
       {"keys",
        R"({"type":"object","properties":{"total":{"type":"integer"},"active":{"type":"integer"},"unhealthy":{"type":"integer"},"circuit_open":{"type":"integer"}}})"}}));
}

std::string ApiFormatHealthMonitorResponse() {
  return Object(Props(
      {{"generated_at", R"({"type":"string","format":"date-time"})"},
       {"formats",
        R"({"type":"array","items":{"type":"object","properties":{"api_format":{"type":"string"},"total_attempts":{"type":"integer"},"success_count":{"type":"integer"},"failed_count":{"type":"integer"},"skipped_count":{"type":"integer"},"success_rate":{"type":"number"},"provider_count":{"type":"integer"},"key_count":{"type":"integer"},"last_event_at":{"type":["string","null"]},"events":{"type":"array","items":{"type":"object"}},"timeline":{"type":"array","items":{"type":"string","enum":["healthy","warning","unhealthy","unknown"]}},"time_range_start":{"type":["string","null"]},"time_range_end":{"type":["string","null"]}}}})"}}));
}

std::string KeyRpmStatusResponse() {
  return Object(
      Props({{"key_id", R"({"type":"string"})"},
             {"current_rpm",
              R"({"type":"integer","description":"Always 0: keyledger keeps no RPM counter"})"},
             {"rpm_limit", kNullInt}}));
}

std::string KeyListItem() {
  return Object(Props({{"id", R"({"type":"string"})"},
                       {"name", kNullStr},
                       {"provider_id", R"({"type":"string"})"},
                       {"api_formats", R"({"type":"array","items":{"type":"string"}})"},
                       {"is_adaptive", R"({"type":"boolean"})"},
                       {"rpm_limit", kNullInt},
                       {"effective_limit", kNullInt},
                       {"learned_rpm_limit", kNullInt},
                       {"concurrent_429_count", kInt},
                       {"rpm_429_count", kInt}}));
}

std::string AdaptiveStatsResponse() {
  return Object(Props({{"adaptive_mode", R"({"type":"boolean"})"},
                       {"rpm_limit", kNullInt},
                       {"effective_limit", kNullInt},
                       {"learned_limit", kNullInt},
                       {"concurrent_429_count", kInt},
                       {"rpm_429_count", kInt},
                       {"last_429_at", kNullStr},
                       {"last_429_type", kNullStr},
                       {"adjustment_count", kInt},
                       {"recent_adjustments", R"({"type":"array","items":{"type":"object"}})"}}));
}

std::string EnableAdaptiveRequest() {
  return Object(
      Props(
          {{"enabled", R"({"type":"boolean"})"},
           {"fixed_limit",
            R"({"type":["integer","null"],"minimum":1,"maximum":10000,"description":"Required when enabled is false; ignored otherwise"})"}}),
      R"("enabled")", "Body of PATCH /api/admin/adaptive/keys/{key_id}/mode");
}

std::string SystemConfigUpdate() {
  return Object(
      P("value",
        R"({"description":"provider_priority_mode: provider | global_key; scheduling_mode: fixed_order | cache_affinity | load_balance. Trimmed and lower-cased; anything else is a 400"})") +
          "," + P("description", DescriptionSchema()),
      R"("value")", "Body of PUT /api/admin/system/configs/{key}");
}

std::string SystemConfigValue() {
  return Object(P("key", R"({"type":"string"})") + "," +
                    P("value", R"({"description":"the stored value, or the built-in default"})"),
                R"("key","value")", "Answer of GET /api/admin/system/configs/{key}");
}

std::string SystemConfigResponse() {
  return Object(P("key", R"({"type":"string"})") + "," + P("value", "{}") + "," +
                    P("description", NullableStringSchema()) + "," +
                    P("updated_at", DateTimeSchema()),
                R"("key","value","description","updated_at")",
                "Answer of PUT /api/admin/system/configs/{key}");
}

std::string ApiFormatList() {
  return Object(
      P("formats",
        R"({"type":"array","items":{"type":"object","properties":{"value":{"type":"string"},"label":{"type":"string"},"default_path":{"type":"string"},"aliases":{"type":"array","items":{"type":"string"}}},"required":["value","label","default_path","aliases"]}})"),
      R"("formats")", "The API formats in declaration order (static metadata)");
}

std::string ModelCapabilities() {
  return Object(P("model", R"({"type":"string"})") + "," +
                    P("supported_capabilities", ModelListSchema()) + "," +
                    P("capability_details", R"({"type":"array","items":{"type":"object"}})") + "," +
                    P("error", R"({"type":"string"})"),
                R"("model","supported_capabilities","capability_details")",
                "keyledger has no model catalogue: every model answers Aether's not-found shape");
}

}  // namespace

std::vector<SchemaComponent> AdminApiSchemas() {
  return {
      {"EndpointAPIKeyCreate", KeyCreate()},
      {"EndpointAPIKeyUpdate", KeyUpdate()},
      {"EndpointAPIKeyResponse", KeyResponse()},
      {"CreateProviderRequest", ProviderBody(true)},
      {"UpdateProviderRequest", ProviderBody(false)},
      {"ProviderUpdateRequest", ProviderPatch()},
      {"ProviderWithEndpointsSummary", ProviderSummary()},
      {"ProviderEndpointCreate", EndpointCreate()},
      {"ProviderEndpointUpdate", EndpointUpdate()},
      {"ProviderEndpointResponse", EndpointResponse()},
      {"HealthReportBatch", HealthReportBatch()},
      {"HealthReport", HealthReport()},
      {"ProxyConfig", ProxyConfig()},
      {"HealthStatusResponse", HealthStatusResponse()},
      {"FormatHealthData", FormatHealthData()},
      {"HealthSummaryResponse", HealthSummaryResponse()},
      {"ApiFormatHealthMonitorResponse", ApiFormatHealthMonitorResponse()},
      {"KeyRpmStatusResponse", KeyRpmStatusResponse()},
      {"KeyListItem", KeyListItem()},
      {"AdaptiveStatsResponse", AdaptiveStatsResponse()},
      {"EnableAdaptiveRequest", EnableAdaptiveRequest()},
      {"SystemConfigUpdate", SystemConfigUpdate()},
      {"SystemConfigValue", SystemConfigValue()},
      {"SystemConfigResponse", SystemConfigResponse()},
      {"ApiFormatList", ApiFormatList()},
      {"ModelCapabilities", ModelCapabilities()},
  };
}

}  // namespace keyledger::api
