#include "api/openapi_schemas.hpp"

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "events/json_writer.hpp"
#include "projections/response_fields.hpp"
#include "src/field_tables.hpp"

namespace keyledger::api {
namespace {

// Fragments shared by several schemas. The request models' limits come from the field tables
// (src/field_tables.hpp); the fragments below carry none of them.
std::string FormatInSchema() {
  return R"({"type":"string","description":"CLAUDE, CLAUDE_CLI, OPENAI, OPENAI_CLI, GEMINI or GEMINI_CLI in any letter case, stored upper-case"})";
}
std::string FormatEnum() {
  return R"("enum":["CLAUDE","CLAUDE_CLI","OPENAI","OPENAI_CLI","GEMINI","GEMINI_CLI"])";
}
std::string FormatOutSchema() { return R"({"type":"string",)" + FormatEnum() + "}"; }
std::string DateTimeSchema() { return R"({"type":"string","format":"date-time"})"; }
std::string NullableDateTimeSchema() {
  return R"({"type":["string","null"],"format":"date-time"})";
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
std::string NullableProxySchema() {
  return R"({"anyOf":[{"$ref":"#/components/schemas/ProxyConfig"},{"type":"null"}]})";
}
std::string NullableStringSchema() { return R"({"type":["string","null"]})"; }
std::string BillingTypeSchema() {
  return R"({"type":["string","null"],"enum":["monthly_quota","pay_as_you_go","free_tier",null],"default":"pay_as_you_go","description":"null means pay_as_you_go"})";
}
std::string DescriptionSchema() { return R"({"type":["string","null"],"maxLength":1000})"; }
std::string HeadersSchema() {
  return R"({"type":["object","null"],"description":"Extra upstream request headers: HTTP token names (unique ignoring case), values without control characters","additionalProperties":{"type":"string"}})";
}

// The line break before the closing brace is in the published document since the schema was
// written by hand; kept so the document stays byte-identical.
std::string ReportTimeSchema() {
  return R"({"description":"When the gateway took the sample","anyOf":[{"type":"string","format":"date-time"},{"type":"number","description":"Unix seconds, or milliseconds beyond 2e10"}]
})";
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

// ---- Request models, generated from the field tables (src/field_tables.hpp) ------------------

namespace fields = registry::fields;

void AppendBound(std::string& out, std::string_view key, const registry::FloatBound& b) {
  out += ",\"";
  out += key;
  out += "\":";
  if (b.is_int) {
    out += std::to_string(static_cast<int64_t>(b.value));
  } else {
    json::AppendDouble(out, b.value);
  }
}

void AppendInt(std::string& out, std::string_view key, int64_t v) {
  out += ",\"";
  out += key;
  out += "\":";
  out += std::to_string(v);
}

std::string_view TypeName(fields::JsonType t) {
  switch (t) {
    case fields::JsonType::kString:
    case fields::JsonType::kDateTime:
      return "string";
    case fields::JsonType::kInteger:
      return "integer";
    case fields::JsonType::kNumber:
      return "number";
    case fields::JsonType::kBoolean:
      return "boolean";
    case fields::JsonType::kObject:
      return "object";
    case fields::JsonType::kArray:
      return "array";
  }
  return "string";
}

// {"type":..[,"format"][,"minItems"][,"items"][,"minLength"][,"minimum"][,"maximum"]
//  [,"maxLength"][,"pattern"][,"default"][,"description"]}
std::string GenericSchema(const fields::FieldSpec& f, bool create) {
  const bool nullable = f.nullable(create);
  std::string out = R"({"type":)";
  if (nullable) {
    out += "[\"";
    out += TypeName(f.type);
    out += "\",\"null\"]";
  } else {
    out += '"';
    out += TypeName(f.type);
    out += '"';
  }
  if (f.type == fields::JsonType::kDateTime) out += R"(,"format":"date-time")";
  if (f.items.min) AppendInt(out, "minItems", static_cast<int64_t>(*f.items.min));
  if (f.items.max) AppendInt(out, "maxItems", static_cast<int64_t>(*f.items.max));
  if (f.schema == fields::Schema::kApiFormats) out += R"(,"items":)" + FormatInSchema();
  if (f.length.min) AppendInt(out, "minLength", static_cast<int64_t>(*f.length.min));
  if (f.ints.ge) AppendInt(out, "minimum", *f.ints.ge);
  if (f.floats.ge) AppendBound(out, "minimum", *f.floats.ge);
  if (f.ints.le) AppendInt(out, "maximum", *f.ints.le);
  if (f.floats.le) AppendBound(out, "maximum", *f.floats.le);
  if (f.length.max) AppendInt(out, "maxLength", static_cast<int64_t>(*f.length.max));
  if (!f.pattern.empty()) {
    out += R"(,"pattern":)";
    json::AppendString(out, f.pattern);
  }
  if (create && !f.default_json.empty()) {
    out += R"(,"default":)";
    out += f.default_json;
  }
  const std::string_view doc = create ? f.create_doc : f.update_doc;
  if (!doc.empty()) {
    out += R"(,"description":)";
    json::AppendString(out, doc);
  }
  out += '}';
  return out;
}

std::string FieldSchema(const fields::FieldSpec& f, bool create) {
  switch (f.schema) {
    case fields::Schema::kGeneric:
    case fields::Schema::kApiFormats:
      return GenericSchema(f, create);
    case fields::Schema::kRateMultipliers: {
      std::string value = R"({"type":"number")";
      if (f.floats.ge) AppendBound(value, "minimum", *f.floats.ge);
      value += '}';
      return R"({"type":["object","null"],"description":"API format -> multiplier; takes precedence over rate_multiplier","additionalProperties":)" +
             value + "}";
    }
    case fields::Schema::kAllowedModels:
      return AllowedModelsSchema();
    case fields::Schema::kCapabilities:
      return CapabilitiesSchema();
    case fields::Schema::kBillingType:
      return BillingTypeSchema();
    case fields::Schema::kProxy:
      return NullableProxySchema();
    case fields::Schema::kHeaders:
      return HeadersSchema();
    case fields::Schema::kReportTime:
      return ReportTimeSchema();
  }
  return GenericSchema(f, create);
}

// The request model of `table`: its create or its update column, in table order.
std::string RequestModel(std::span<const fields::FieldSpec> table, bool create,
                         const std::string& description) {
  std::string properties, required;
  for (const auto& f : table) {
    const fields::Presence presence = create ? f.create : f.update;
    if (presence == fields::Presence::kAbsent) continue;
    if (!properties.empty()) properties += ',';
    properties += P(std::string(f.name), FieldSchema(f, create));
    if (presence == fields::Presence::kRequired) {
      if (!required.empty()) required += ',';
      required += '"' + std::string(f.name) + '"';
    }
  }
  return Object(properties, required, description);
}

std::string KeyCreate() {
  return RequestModel(fields::KeyFields(), true,
                      "Body of POST /api/admin/endpoints/providers/{provider_id}/keys");
}

std::string KeyUpdate() {
  return RequestModel(
      fields::KeyFields(), false,
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

// ---- Response models, generated from the response tables (projections/response_fields.hpp) --

namespace resp = projections::response;

std::string_view TypeName(resp::Type t) {
  switch (t) {
    case resp::Type::kString:
    case resp::Type::kDateTime:
      return "string";
    case resp::Type::kInteger:
      return "integer";
    case resp::Type::kNumber:
      return "number";
    case resp::Type::kBoolean:
      return "boolean";
    case resp::Type::kObject:
      return "object";
    case resp::Type::kArray:
      return "array";
  }
  return "string";
}

std::string EndpointHealthDetailsItems() {
  return R"({"type":"object","required":["api_format","health_score","is_active","active_keys"],"properties":{"api_format":)" +
         FormatOutSchema() +
         R"(,"health_score":{"type":"number"},"is_active":{"type":"boolean"},"active_keys":{"type":"integer"}}})";
}

// {"type":..[,"format"][,"enum"|"items"|"additionalProperties"][,"description"]}, or the whole
// fragment of an irregular shape.
std::string ResponseMemberSchema(resp::Type type, bool nullable, resp::Shape shape,
                                 std::string_view description) {
  if (shape == resp::Shape::kAllowedModels) return AllowedModelsSchema();
  if (shape == resp::Shape::kProxy) return NullableProxySchema();
  std::string out = R"({"type":)";
  if (nullable) {
    out += "[\"";
    out += TypeName(type);
    out += "\",\"null\"]";
  } else {
    out += '"';
    out += TypeName(type);
    out += '"';
  }
  if (type == resp::Type::kDateTime) out += R"(,"format":"date-time")";
  switch (shape) {
    case resp::Shape::kPlain:
    case resp::Shape::kAllowedModels:
    case resp::Shape::kProxy:
      break;
    case resp::Shape::kFormat:
      out += ',';
      out += FormatEnum();
      break;
    case resp::Shape::kFormatList:
      out += R"(,"items":)" + FormatOutSchema();
      break;
    case resp::Shape::kNumberMap:
      out += R"(,"additionalProperties":{"type":"number"})";
      break;
    case resp::Shape::kBooleanMap:
      out += R"(,"additionalProperties":{"type":"boolean"})";
      break;
    case resp::Shape::kStringMap:
      out += R"(,"additionalProperties":{"type":"string"})";
      break;
    case resp::Shape::kObjectList:
      out += R"(,"items":{"type":"object"})";
      break;
    case resp::Shape::kBillingType:
      out += R"(,"enum":["monthly_quota","pay_as_you_go","free_tier"])";
      break;
    case resp::Shape::kHealthByFormat:
      out += R"(,"additionalProperties":)" + FormatHealth();
      break;
    case resp::Shape::kBreakerByFormat:
      out += R"(,"additionalProperties":)" + FormatBreaker();
      break;
    case resp::Shape::kEndpointHealthDetails:
      out += R"(,"items":)" + EndpointHealthDetailsItems();
      break;
  }
  if (!description.empty()) {
    out += R"(,"description":)";
    json::AppendString(out, description);
  }
  out += '}';
  return out;
}

// The response model of `table`: every member, in table order, all required.
template <typename View>
std::string ResponseModel(std::span<const resp::Member<View>> table,
                          const std::string& description) {
  std::string properties, required;
  for (const auto& m : table) {
    if (!properties.empty()) {
      properties += ',';
      required += ',';
    }
    properties +=
        P(std::string(m.name), ResponseMemberSchema(m.type, m.nullable, m.shape, m.description));
    required += '"' + std::string(m.name) + '"';
  }
  return Object(properties, required, description);
}

std::string KeyResponse() {
  return ResponseModel(resp::KeyMembers(),
                       "A provider key (aether-spec.md §7), members in this order; the secret only "
                       "as its mask");
}

std::string ProxyConfig() { return RequestModel(fields::ProxyFields(), true, ""); }

// CreateProviderRequest and UpdateProviderRequest share their fields (one table).
std::string ProviderBody(bool create) {
  return create ? RequestModel(fields::ProviderFields(), true,
                               "Body of POST /api/admin/providers/ (validation failures answer "
                               "400 invalid_request, as Aether's hand-validated route does)")
                : RequestModel(fields::ProviderFields(), false,
                               "Body of PUT /api/admin/providers/{provider_id}: a partial update; "
                               "validation failures answer 400 invalid_request");
}

std::string ProviderPatch() {
  return RequestModel(fields::ProviderPatchFields(), false,
                      "Body of PATCH /api/admin/providers/{provider_id} (422 on validation "
                      "failures)");
}

std::string ProviderSummary() {
  return ResponseModel(resp::ProviderMembers(),
                       "A provider with endpoint and key counts and health");
}

std::string EndpointCreate() {
  return RequestModel(fields::EndpointFields(), true,
                      "Body of POST /api/admin/endpoints/providers/{provider_id}/endpoints");
}

std::string EndpointUpdate() {
  return RequestModel(fields::EndpointFields(), false,
                      "Body of PUT /api/admin/endpoints/{endpoint_id}: a partial update; a proxy "
                      "without a password keeps the stored one");
}

std::string EndpointResponse() {
  return ResponseModel(resp::EndpointMembers(), "A provider's endpoint for one API format");
}

std::string HealthReport() {
  return RequestModel(fields::HealthReportFields(), true,
                      "Request outcomes of one key for one format since the gateway's previous "
                      "report");
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
