#include "api/openapi.hpp"
#include "api/openapi_schemas.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "projections/response_fields.hpp"
#include "src/field_tables.hpp"
#include "src/json_input.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::api {
namespace {

Handler Noop() {
  return [](const RequestPtr&, Responder respond) { respond(Response::Json(200, "{}")); };
}

TEST(OpenApiTest, DescribesEveryRouteAndNothingElse) {
  Router r;
  ASSERT_OK(
      r.Add({.method = "GET",
             .pattern = "/api/admin/endpoints/providers/{provider_id}/keys",
             .access = Access::kAuditor,
             .summary = "List keys",
             .tag = "Provider Keys",
             .query_params = {{"skip", "Offset", R"({"type":"integer","minimum":0})"},
                              {"limit", "Page size", R"({"type":"integer"})"}},
             .response_schema = R"({"type":"array","items":{"$ref":"#/components/schemas/Key"}})",
             .handler = Noop()}));
  ASSERT_OK(r.Add({.method = "POST",
                   .pattern = "/api/admin/endpoints/providers/{provider_id}/keys",
                   .summary = "Create key",
                   .tag = "Provider Keys",
                   .request_schema = "KeyCreate",
                   .response_schema = "Key",
                   .handler = Noop()}));
  ASSERT_OK(r.Add(
      {.method = "GET", .pattern = "/healthz", .access = Access::kPublic, .handler = Noop()}));
  ASSERT_OK(r.Add({.method = "GET",
                   .pattern = "/api/admin/audit/stream",
                   .access = Access::kAuditor,
                   .streaming = true,
                   .handler = Noop()}));

  const std::string doc =
      GenerateOpenApi(r, {.title = "keyledger", .version = "1.2.3"},
                      {{"Key", R"({"type":"object"})"}, {"KeyCreate", R"({"type":"object"})"}});

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(doc).get(root), simdjson::SUCCESS) << doc;
  std::string_view version;
  ASSERT_EQ(root["openapi"].get_string().get(version), simdjson::SUCCESS);
  EXPECT_EQ(version, "3.1.0");

  // Every (method, path) of the router is in the document and vice versa.
  std::set<std::string> documented, routed;
  simdjson::dom::object paths;
  ASSERT_EQ(root["paths"].get_object().get(paths), simdjson::SUCCESS);
  for (auto path : paths) {
    simdjson::dom::object ops;
    ASSERT_EQ(path.value.get_object().get(ops), simdjson::SUCCESS);
    for (auto op : ops) documented.insert(std::string(op.key) + " " + std::string(path.key));
  }
  for (const RouteSpec* spec : r.Routes()) {
    std::string m = spec->method;
    for (char& c : m) c = static_cast<char>(c - 'A' + 'a');
    routed.insert(m + " " + spec->pattern);
  }
  EXPECT_EQ(documented, routed);

  auto op = [&](std::string_view path, std::string_view method) {
    return root["paths"][path][method];
  };
  std::string_view role;
  ASSERT_EQ(op("/healthz", "get")["x-required-role"].get_string().get(role), simdjson::SUCCESS);
  EXPECT_EQ(role, "public");
  simdjson::dom::array security;
  ASSERT_EQ(op("/healthz", "get")["security"].get_array().get(security), simdjson::SUCCESS);
  EXPECT_EQ(security.size(), 0u);
  ASSERT_EQ(
      op("/api/admin/endpoints/providers/{provider_id}/keys", "post")["security"].get_array().get(
          security),
      simdjson::SUCCESS);
  EXPECT_EQ(security.size(), 1u);
  std::string_view ref;
  ASSERT_EQ(op("/api/admin/endpoints/providers/{provider_id}/keys",
               "post")["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .get_string()
                .get(ref),
            simdjson::SUCCESS);
  EXPECT_EQ(ref, "#/components/schemas/KeyCreate");
  simdjson::dom::array params;
  ASSERT_EQ(
      op("/api/admin/endpoints/providers/{provider_id}/keys", "get")["parameters"].get_array().get(
          params),
      simdjson::SUCCESS);
  EXPECT_EQ(params.size(), 3u);  // provider_id, skip, limit
  EXPECT_EQ(
      op("/api/admin/endpoints/providers/{provider_id}/keys", "get")["responses"]["422"].error(),
      simdjson::SUCCESS);
  EXPECT_EQ(op("/api/admin/audit/stream", "get")["responses"]["200"]["content"]["text/event-stream"]
                .error(),
            simdjson::SUCCESS);
  EXPECT_EQ(root["components"]["schemas"]["HTTPValidationError"].error(), simdjson::SUCCESS);
  EXPECT_EQ(root["components"]["schemas"]["KeyCreate"].error(), simdjson::SUCCESS);
  EXPECT_EQ(root["components"]["securitySchemes"]["bearerAuth"]["scheme"].error(),
            simdjson::SUCCESS);
  EXPECT_EQ(OperationId(*r.Routes()[0]), "get_api_admin_endpoints_providers__provider_id__keys");
}

TEST(OpenApiTest, HandlerDescribesRoutesAddedAfterIt) {
  Router r;
  ASSERT_OK(r.Add({.method = "GET",
                   .pattern = "/openapi.json",
                   .access = Access::kPublic,
                   .handler = OpenApiHandler(r, {})}));
  ASSERT_OK(r.Add({.method = "GET", .pattern = "/later", .handler = Noop()}));
  const RouteMatch m = r.Match("GET", "/openapi.json");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  for (int i = 0; i < 2; ++i) {
    std::string body;
    m.route->handler(std::make_shared<Request>(),
                     Responder::ForCallback([&](Response resp) { body = std::move(resp.body); }));
    EXPECT_NE(body.find(R"("/openapi.json":{"get")"), std::string::npos);
    EXPECT_NE(body.find(R"("/later":{"get")"), std::string::npos);
  }
}

TEST(ResponderTest, AnswersOnceAndADroppedResponderAnswers500) {
  std::vector<Response> got;
  {
    Responder r = Responder::ForCallback([&](Response resp) { got.push_back(std::move(resp)); });
    Responder copy = r;
    EXPECT_FALSE(r.answered());
    copy(Response::Json(200, "{}"));
    r(Response::Json(201, "{}"));  // ignored
    EXPECT_TRUE(r.answered());
    EXPECT_EQ(r.StartEventStream(), nullptr);
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, 200);
  {
    Responder dropped = Responder::ForCallback([&](Response resp) { got.push_back(resp); });
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].status, 500);
  EXPECT_NE(got[1].log_note.find("dropped its Responder"), std::string::npos);
}

// Every $ref string under `e`.
void CollectRefs(simdjson::dom::element e, std::vector<std::string>& refs) {
  if (e.is_object()) {
    for (auto field : simdjson::dom::object(e)) {
      std::string_view ref;
      if (field.key == "$ref" && field.value.get_string().get(ref) == simdjson::SUCCESS) {
        refs.emplace_back(ref);
      } else {
        CollectRefs(field.value, refs);
      }
    }
  } else if (e.is_array()) {
    for (auto item : simdjson::dom::array(e)) CollectRefs(item, refs);
  }
}

TEST(AdminApiSchemasTest, AreObjectSchemasWhoseRefsResolve) {
  const std::vector<SchemaComponent> schemas = AdminApiSchemas();
  std::set<std::string> names = {"ErrorResponse", "HTTPValidationError", "ValidationError"};
  for (const SchemaComponent& s : schemas) EXPECT_TRUE(names.insert(s.name).second) << s.name;
  for (const char* required :
       {"EndpointAPIKeyCreate", "EndpointAPIKeyUpdate", "EndpointAPIKeyResponse",
        "CreateProviderRequest", "UpdateProviderRequest", "ProviderUpdateRequest",
        "ProviderWithEndpointsSummary", "ProviderEndpointCreate", "ProviderEndpointUpdate",
        "ProviderEndpointResponse", "HealthReportBatch"}) {
    EXPECT_TRUE(names.count(required)) << required;
  }
  for (const SchemaComponent& s : schemas) {
    SCOPED_TRACE(s.name);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(s.json).get(root), simdjson::SUCCESS) << s.json;
    std::string_view type;
    ASSERT_EQ(root["type"].get_string().get(type), simdjson::SUCCESS);
    EXPECT_EQ(type, "object");
    simdjson::dom::object properties;
    ASSERT_EQ(root["properties"].get_object().get(properties), simdjson::SUCCESS);
    // Every required member is a property.
    simdjson::dom::array required;
    if (root["required"].get_array().get(required) == simdjson::SUCCESS) {
      for (auto r : required) {
        std::string_view name;
        ASSERT_EQ(r.get_string().get(name), simdjson::SUCCESS);
        simdjson::dom::element ignored;
        EXPECT_EQ(properties[name].get(ignored), simdjson::SUCCESS) << name;
      }
    }
    std::vector<std::string> refs;
    CollectRefs(root, refs);
    for (const std::string& ref : refs) {
      ASSERT_EQ(ref.rfind("#/components/schemas/", 0), 0u) << ref;
      EXPECT_TRUE(names.count(ref.substr(21))) << ref;
    }
  }
}

// The request schemas are generated from the field tables (src/field_tables.hpp); this checks
// the published document against the tables entry by entry: every field of the model in table
// order, and its type, nullability, bounds, lengths, default and requiredness are the table's.
// tests/registry/field_table_test.cpp checks the same entries against the readers, so the
// published schema and the validation cannot drift apart.
TEST(AdminApiSchemasTest, RequestModelsPublishTheFieldTables) {
  namespace f = registry::fields;
  struct ModelCase {
    const char* component;
    std::span<const f::FieldSpec> table;
    bool create;
  };
  const ModelCase cases[] = {
      {"EndpointAPIKeyCreate", f::KeyFields(), true},
      {"EndpointAPIKeyUpdate", f::KeyFields(), false},
      {"CreateProviderRequest", f::ProviderFields(), true},
      {"UpdateProviderRequest", f::ProviderFields(), false},
      {"ProviderUpdateRequest", f::ProviderPatchFields(), false},
      {"ProviderEndpointCreate", f::EndpointFields(), true},
      {"ProviderEndpointUpdate", f::EndpointFields(), false},
  };
  const std::vector<SchemaComponent> schemas = AdminApiSchemas();
  size_t bounds_checked = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.component);
    const auto it = std::find_if(schemas.begin(), schemas.end(),
                                 [&](const SchemaComponent& s) { return s.name == c.component; });
    ASSERT_NE(it, schemas.end());
    auto root = registry::ThreadBodyParser().Parse(it->json);
    ASSERT_TRUE(root.ok());
    const registry::JsonValue* properties = root->Find("properties");
    ASSERT_NE(properties, nullptr);
    std::vector<std::string> published, expected, required, expected_required;
    for (const auto& m : properties->members()) published.push_back(m.key);
    if (const registry::JsonValue* r = root->Find("required")) {
      for (const auto& item : r->items()) required.push_back(item.string_value());
    }
    for (const auto& spec : c.table) {
      const f::Presence presence = c.create ? spec.create : spec.update;
      if (presence == f::Presence::kAbsent) continue;
      SCOPED_TRACE(std::string(spec.name));
      expected.emplace_back(spec.name);
      if (presence == f::Presence::kRequired) expected_required.emplace_back(spec.name);
      const registry::JsonValue* schema = properties->Find(spec.name);
      ASSERT_NE(schema, nullptr);
      auto number = [&](std::string_view key) -> std::optional<std::string> {
        const registry::JsonValue* v = schema->Find(key);
        if (v == nullptr) return std::nullopt;
        return v->number_text();
      };
      auto text = [](std::optional<int64_t> v) -> std::optional<std::string> {
        if (!v) return std::nullopt;
        return std::to_string(*v);
      };
      auto size_text = [](std::optional<size_t> v) -> std::optional<std::string> {
        if (!v) return std::nullopt;
        return std::to_string(*v);
      };
      if (spec.type == f::JsonType::kInteger) {
        EXPECT_EQ(number("minimum"), text(spec.ints.ge));
        EXPECT_EQ(number("maximum"), text(spec.ints.le));
        ++bounds_checked;
      }
      if (spec.type == f::JsonType::kNumber) {
        ASSERT_TRUE(spec.floats.ge.has_value());
        const registry::JsonValue* minimum = schema->Find("minimum");
        ASSERT_NE(minimum, nullptr);
        EXPECT_EQ(minimum->number_value(), spec.floats.ge->value);
        ++bounds_checked;
      }
      if (spec.schema == f::Schema::kGeneric || spec.schema == f::Schema::kApiFormats) {
        EXPECT_EQ(number("minLength"), size_text(spec.length.min));
        EXPECT_EQ(number("maxLength"), size_text(spec.length.max));
        EXPECT_EQ(number("minItems"), size_text(spec.items.min));
        const registry::JsonValue* type = schema->Find("type");
        ASSERT_NE(type, nullptr);
        EXPECT_EQ(type->is_array(), spec.nullable(c.create));
        const registry::JsonValue* def = schema->Find("default");
        if (c.create && !spec.default_json.empty()) {
          ASSERT_NE(def, nullptr);
          EXPECT_EQ(def->ToJson(), spec.default_json);
        } else {
          EXPECT_EQ(def, nullptr);
        }
      }
    }
    EXPECT_EQ(published, expected);
    EXPECT_EQ(required, expected_required);
  }
  EXPECT_EQ(bounds_checked, 33u);  // 28 integer ranges, 5 number bounds
}

// The request models as published before they were generated from the field tables: a change to
// a table line that changes the document must change this expectation too, deliberately.
TEST(AdminApiSchemasTest, RequestModelsAreByteIdenticalToThePublishedOnes) {
  const std::pair<const char*, const char*> expected[] = {
      {"EndpointAPIKeyCreate", R"json({"type":"object","description":"Body of POST /api/admin/endpoints/providers/{provider_id}/keys","required":["api_key","name"],"properties":{"provider_id":{"type":["string","null"],"description":"When given it must equal the path's provider_id, else 400"},"api_formats":{"type":["array","null"],"minItems":1,"items":{"type":"string","description":"CLAUDE, CLAUDE_CLI, OPENAI, OPENAI_CLI, GEMINI or GEMINI_CLI in any letter case, stored upper-case"},"description":"Required in practice: missing or null answers 400 \"api_formats 为必填字段\". Duplicates are dropped, first seen order kept"},"api_key":{"type":"string","minLength":1,"maxLength":8192,"description":"The provider's API key: non-empty after trimming, valid UTF-8 without control characters, at most 8192 bytes. Never echoed in an error"},"name":{"type":"string","minLength":1,"maxLength":100},"rate_multiplier":{"type":"number","minimum":0.01,"default":1.0},"rate_multipliers":{"type":["object","null"],"description":"API format -> multiplier; takes precedence over rate_multiplier","additionalProperties":{"type":"number","minimum":0.01}},"internal_priority":{"type":"integer","minimum":-2147483648,"maximum":2147483647,"default":50},"global_priority":{"type":["integer","null"],"minimum":-2147483648,"maximum":2147483647,"description":"lower is preferred; any 32-bit integer (Aether's column), negative values included"},"rpm_limit":{"type":["integer","null"],"minimum":1,"maximum":10000,"description":"null: adaptive mode"},"allowed_models":{"description":"null: unrestricted; a list: one whitelist for every format; an object: API format or \"*\" -> whitelist. [] and {} are stored as null","anyOf":[{"type":"array","items":{"type":"string"}},{"type":"object","additionalProperties":{"type":"array","items":{"type":"string"}}},{"type":"null"}]},"capabilities":{"type":["object","null"],"propertyNames":{"enum":["cache_1h","context_1m"]},"additionalProperties":{"type":"boolean"}},"cache_ttl_minutes":{"type":"integer","minimum":0,"maximum":60,"default":5},"max_probe_interval_minutes":{"type":"integer","minimum":2,"maximum":32,"default":32},"is_active":{"type":"boolean","default":true},"note":{"type":["string","null"],"maxLength":500}}})json"},
      {"EndpointAPIKeyUpdate",
       R"json({"type":"object","description":"Body of PUT /api/admin/endpoints/keys/{key_id}: a partial update; absent fields are kept, an explicit null clears a nullable field and is a 422 for the others","properties":{"api_formats":{"type":"array","minItems":1,"items":{"type":"string","description":"CLAUDE, CLAUDE_CLI, OPENAI, OPENAI_CLI, GEMINI or GEMINI_CLI in any letter case, stored upper-case"}},"api_key":{"type":"string","minLength":1,"maxLength":8192,"description":"The provider's API key: non-empty after trimming, valid UTF-8 without control characters, at most 8192 bytes. Never echoed in an error"},"name":{"type":"string","minLength":1,"maxLength":100},"rate_multiplier":{"type":"number","minimum":0.01},"rate_multipliers":{"type":["object","null"],"description":"API format -> multiplier; takes precedence over rate_multiplier","additionalProperties":{"type":"number","minimum":0.01}},"internal_priority":{"type":"integer","minimum":-2147483648,"maximum":2147483647,"description":"lower is preferred; any 32-bit integer (Aether's column), negative values included"},"global_priority":{"type":["integer","null"],"minimum":-2147483648,"maximum":2147483647,"description":"lower is preferred; any 32-bit integer (Aether's column), negative values included"},"rpm_limit":{"type":["integer","null"],"minimum":1,"maximum":10000,"description":"null switches to adaptive mode and resets learned_rpm_limit"},"allowed_models":{"description":"null: unrestricted; a list: one whitelist for every format; an object: API format or \"*\" -> whitelist. [] and {} are stored as null","anyOf":[{"type":"array","items":{"type":"string"}},{"type":"object","additionalProperties":{"type":"array","items":{"type":"string"}}},{"type":"null"}]},"capabilities":{"type":["object","null"],"propertyNames":{"enum":["cache_1h","context_1m"]},"additionalProperties":{"type":"boolean"}},"cache_ttl_minutes":{"type":"integer","minimum":0,"maximum":60},"max_probe_interval_minutes":{"type":"integer","minimum":2,"maximum":32},"is_active":{"type":"boolean"},"note":{"type":["string","null"],"maxLength":500}}})json"},
      {"CreateProviderRequest",
       R"json({"type":"object","description":"Body of POST /api/admin/providers/ (validation failures answer 400 invalid_request, as Aether's hand-validated route does)","required":["name"],"properties":{"name":{"type":"string","minLength":1,"maxLength":100},"description":{"type":["string","null"],"maxLength":1000},"website":{"type":["string","null"],"maxLength":500,"description":"https:// is prepended when there is no scheme; blank means null"},"billing_type":{"type":["string","null"],"enum":["monthly_quota","pay_as_you_go","free_tier",null],"default":"pay_as_you_go","description":"null means pay_as_you_go"},"monthly_quota_usd":{"type":["number","null"],"minimum":0},"quota_reset_day":{"type":["integer","null"],"minimum":1,"maximum":365,"default":30},"quota_last_reset_at":{"type":["string","null"],"format":"date-time"},"quota_expires_at":{"type":["string","null"],"format":"date-time"},"provider_priority":{"type":["integer","null"],"minimum":0,"maximum":1000,"default":100},"is_active":{"type":"boolean","default":true},"concurrent_limit":{"type":["integer","null"],"minimum":0,"maximum":1000000},"timeout":{"type":["integer","null"],"minimum":1,"maximum":600,"default":300},"max_retries":{"type":["integer","null"],"minimum":0,"maximum":10,"default":2},"proxy":{"anyOf":[{"$ref":"#/components/schemas/ProxyConfig"},{"type":"null"}]},"config":{"type":["object","null"]}}})json"},
      {"UpdateProviderRequest",
       R"json({"type":"object","description":"Body of PUT /api/admin/providers/{provider_id}: a partial update; validation failures answer 400 invalid_request","properties":{"name":{"type":"string","minLength":1,"maxLength":100},"description":{"type":["string","null"],"maxLength":1000},"website":{"type":["string","null"],"maxLength":500,"description":"https:// is prepended when there is no scheme; blank means null"},"billing_type":{"type":["string","null"],"enum":["monthly_quota","pay_as_you_go","free_tier",null],"default":"pay_as_you_go","description":"null means pay_as_you_go"},"monthly_quota_usd":{"type":["number","null"],"minimum":0},"quota_reset_day":{"type":["integer","null"],"minimum":1,"maximum":365},"quota_last_reset_at":{"type":["string","null"],"format":"date-time"},"quota_expires_at":{"type":["string","null"],"format":"date-time"},"provider_priority":{"type":["integer","null"],"minimum":0,"maximum":1000},"is_active":{"type":"boolean"},"concurrent_limit":{"type":["integer","null"],"minimum":0,"maximum":1000000},"timeout":{"type":["integer","null"],"minimum":1,"maximum":600},"max_retries":{"type":["integer","null"],"minimum":0,"maximum":10},"proxy":{"anyOf":[{"$ref":"#/components/schemas/ProxyConfig"},{"type":"null"}]},"config":{"type":["object","null"]}}})json"},
      {"ProviderUpdateRequest",
       R"json({"type":"object","description":"Body of PATCH /api/admin/providers/{provider_id} (422 on validation failures)","properties":{"name":{"type":"string","minLength":1,"maxLength":100},"description":{"type":["string","null"],"maxLength":1000},"website":{"type":["string","null"],"maxLength":500,"description":"https:// is prepended when there is no scheme; blank means null"},"provider_priority":{"type":["integer","null"],"minimum":0,"maximum":1000},"is_active":{"type":"boolean"},"billing_type":{"type":["string","null"],"enum":["monthly_quota","pay_as_you_go","free_tier",null],"default":"pay_as_you_go","description":"null means pay_as_you_go"},"monthly_quota_usd":{"type":["number","null"],"minimum":0},"quota_reset_day":{"type":["integer","null"],"minimum":1,"maximum":31},"quota_expires_at":{"type":["string","null"],"format":"date-time"},"timeout":{"type":["integer","null"],"minimum":1,"maximum":600},"max_retries":{"type":["integer","null"],"minimum":0,"maximum":10},"proxy":{"anyOf":[{"$ref":"#/components/schemas/ProxyConfig"},{"type":"null"}]}}})json"},
      {"ProviderEndpointCreate",
       R"json({"type":"object","description":"Body of POST /api/admin/endpoints/providers/{provider_id}/endpoints","required":["provider_id","api_format","base_url"],"properties":{"provider_id":{"type":"string","description":"Must equal the path's provider_id, else 400"},"api_format":{"type":"string","description":"CLAUDE, CLAUDE_CLI, OPENAI, OPENAI_CLI, GEMINI or GEMINI_CLI in any letter case, stored upper-case"},"base_url":{"type":"string","minLength":1,"maxLength":500,"pattern":"^[hH][tT][tT][pP][sS]?://","description":"http(s) URL with a host; a trailing / is removed"},"custom_path":{"type":["string","null"],"maxLength":200},"headers":{"type":["object","null"],"description":"Extra upstream request headers: HTTP token names (unique ignoring case), values without control characters","additionalProperties":{"type":"string"}},"timeout":{"type":"integer","minimum":10,"maximum":600,"default":300},"max_retries":{"type":"integer","minimum":0,"maximum":10,"default":2},"config":{"type":["object","null"]},"proxy":{"anyOf":[{"$ref":"#/components/schemas/ProxyConfig"},{"type":"null"}]}}})json"},
      {"ProviderEndpointUpdate",
       R"json({"type":"object","description":"Body of PUT /api/admin/endpoints/{endpoint_id}: a partial update; a proxy without a password keeps the stored one","properties":{"base_url":{"type":"string","minLength":1,"maxLength":500,"pattern":"^[hH][tT][tT][pP][sS]?://","description":"http(s) URL with a host; a trailing / is removed"},"custom_path":{"type":["string","null"],"maxLength":200},"headers":{"type":["object","null"],"description":"Extra upstream request headers: HTTP token names (unique ignoring case), values without control characters","additionalProperties":{"type":"string"}},"timeout":{"type":"integer","minimum":10,"maximum":600},"max_retries":{"type":"integer","minimum":0,"maximum":10},"is_active":{"type":"boolean"},"config":{"type":["object","null"]},"proxy":{"anyOf":[{"$ref":"#/components/schemas/ProxyConfig"},{"type":"null"}]}}})json"},
  };
  const std::vector<SchemaComponent> schemas = AdminApiSchemas();
  for (const auto& [name, json] : expected) {
    const auto it = std::find_if(schemas.begin(), schemas.end(),
                                 [&](const SchemaComponent& s) { return s.name == name; });
    ASSERT_NE(it, schemas.end()) << name;
    EXPECT_EQ(it->json, json) << name;
  }
}

// The response schemas are generated from the response tables that drive the views
// (projections/response_fields.hpp): every member in table order, all required, and a member's
// nullability and JSON type are its line's. tests/registry/field_table_test.cpp checks the same
// tables against the views' output.
template <typename View>
void ExpectResponseModel(const std::vector<SchemaComponent>& schemas, const char* component,
                         std::span<const projections::response::Member<View>> table) {
  namespace resp = projections::response;
  SCOPED_TRACE(component);
  const auto it = std::find_if(schemas.begin(), schemas.end(),
                               [&](const SchemaComponent& s) { return s.name == component; });
  ASSERT_NE(it, schemas.end());
  auto root = registry::ThreadBodyParser().Parse(it->json);
  ASSERT_TRUE(root.ok());
  const registry::JsonValue* properties = root->Find("properties");
  ASSERT_NE(properties, nullptr);
  std::vector<std::string> published, required, expected;
  for (const auto& m : properties->members()) published.push_back(m.key);
  if (const registry::JsonValue* r = root->Find("required")) {
    for (const auto& item : r->items()) required.push_back(item.string_value());
  }
  for (const auto& m : table) {
    SCOPED_TRACE(std::string(m.name));
    expected.emplace_back(m.name);
    const registry::JsonValue* schema = properties->Find(m.name);
    ASSERT_NE(schema, nullptr);
    if (m.shape == resp::Shape::kAllowedModels || m.shape == resp::Shape::kProxy) continue;
    const registry::JsonValue* type = schema->Find("type");
    ASSERT_NE(type, nullptr);
    EXPECT_EQ(type->is_array(), m.nullable);
    const std::string first =
        type->is_array() ? type->items().at(0).string_value() : type->string_value();
    const registry::JsonValue* format = schema->Find("format");
    EXPECT_EQ(format != nullptr, m.type == resp::Type::kDateTime);
    switch (m.type) {
      case resp::Type::kString:
      case resp::Type::kDateTime:
        EXPECT_EQ(first, "string");
        break;
      case resp::Type::kInteger:
        EXPECT_EQ(first, "integer");
        break;
      case resp::Type::kNumber:
        EXPECT_EQ(first, "number");
        break;
      case resp::Type::kBoolean:
        EXPECT_EQ(first, "boolean");
        break;
      case resp::Type::kObject:
        EXPECT_EQ(first, "object");
        break;
      case resp::Type::kArray:
        EXPECT_EQ(first, "array");
        break;
    }
  }
  EXPECT_EQ(published, expected);
  EXPECT_EQ(required, expected);
}

TEST(AdminApiSchemasTest, ResponseModelsPublishTheResponseTables) {
  namespace resp = projections::response;
  const std::vector<SchemaComponent> schemas = AdminApiSchemas();
  ExpectResponseModel(schemas, "EndpointAPIKeyResponse", resp::KeyMembers());
  ExpectResponseModel(schemas, "ProviderWithEndpointsSummary", resp::ProviderMembers());
  ExpectResponseModel(schemas, "ProviderEndpointResponse", resp::EndpointMembers());
}

// The response models as published before they were generated from the response tables: a
// change to a table line that changes the document must change this expectation too,
// deliberately.
TEST(AdminApiSchemasTest, ResponseModelsAreByteIdenticalToThePublishedOnes) {
  const std::pair<const char*, const char*>
      expected[] =
          {
              {"EndpointAPIKeyResponse",
               R"json({"type":"object","description":"A provider key (aether-spec.md §7), members in this order; the secret only as its mask","required":["id","provider_id","api_formats","api_key_masked","api_key_plain","name","rate_multiplier","rate_multipliers","internal_priority","global_priority","rpm_limit","allowed_models","capabilities","cache_ttl_minutes","max_probe_interval_minutes","health_by_format","circuit_breaker_by_format","health_score","consecutive_failures","last_failure_at","circuit_breaker_open","circuit_breaker_open_at","next_probe_at","half_open_until","half_open_successes","half_open_failures","request_results_window","request_count","success_count","error_count","success_rate","avg_response_time_ms","is_active","is_adaptive","learned_rpm_limit","effective_limit","utilization_samples","last_probe_increase_at","concurrent_429_count","rpm_429_count","last_429_at","last_429_type","note","last_used_at","created_at","updated_at"],"properties":{"id":{"type":"string"},"provider_id":{"type":"string"},"api_formats":{"type":"array","items":{"type":"string","enum":["CLAUDE","CLAUDE_CLI","OPENAI","OPENAI_CLI","GEMINI","GEMINI_CLI"]}},"api_key_masked":{"type":"string"},"api_key_plain":{"type":["string","null"],"description":"null unless the server runs with --echo-plaintext-on-create on create only"},"name":{"type":"string"},"rate_multiplier":{"type":"number"},"rate_multipliers":{"type":["object","null"],"additionalProperties":{"type":"number"}},"internal_priority":{"type":"integer"},"global_priority":{"type":["integer","null"]},"rpm_limit":{"type":["integer","null"]},"allowed_models":{"description":"null: unrestricted; a list: one whitelist for every format; an object: API format or \"*\" -> whitelist. [] and {} are stored as null","anyOf":[{"type":"array","items":{"type":"string"}},{"type":"object","additionalProperties":{"type":"array","items":{"type":"string"}}},{"type":"null"}]},"capabilities":{"type":["object","null"],"additionalProperties":{"type":"boolean"}},"cache_ttl_minutes":{"type":"integer"},"max_probe_interval_minutes":{"type":"integer"},"health_by_format":{"type":"object","additionalProperties":{"type":"object","required":["health_score","consecutive_failures","last_failure_at","request_results_window"],"properties":{"health_score":{"type":"number"},"consecutive_failures":{"type":"integer"},"last_failure_at":{"type":["string","null"],"format":"date-time"},"request_results_window":{"type":"array","items":{"type":"object","properties":{"ts":{"type":"number"},"ok":{"type":"boolean"}}}}}}},"circuit_breaker_by_format":{"type":"object","additionalProperties":{"type":"object","required":["open","open_at","next_probe_at","half_open_until","half_open_successes","half_open_failures"],"properties":{"open":{"type":"boolean"},"open_at":{"type":["string","null"],"format":"date-time"},"next_probe_at":{"type":["string","null"],"format":"date-time"},"half_open_until":{"type":["string","null"],"format":"date-time"},"half_open_successes":{"type":"integer"},"half_open_failures":{"type":"integer"}}}},"health_score":{"type":"number"},"consecutive_failures":{"type":"integer"},"last_failure_at":{"type":["string","null"],"format":"date-time"},"circuit_breaker_open":{"type":"boolean"},"circuit_breaker_open_at":{"type":["string","null"],"format":"date-time"},"next_probe_at":{"type":["string","null"],"format":"date-time"},"half_open_until":{"type":["string","null"],"format":"date-time"},"half_open_successes":{"type":["integer","null"]},"half_open_failures":{"type":["integer","null"]},"request_results_window":{"type":["array","null"]},"request_count":{"type":"integer"},"success_count":{"type":"integer"},"error_count":{"type":"integer"},"success_rate":{"type":"number"},"avg_response_time_ms":{"type":"number"},"is_active":{"type":"boolean"},"is_adaptive":{"type":"boolean"},"learned_rpm_limit":{"type":["integer","null"]},"effective_limit":{"type":"integer"},"utilization_samples":{"type":["array","null"],"items":{"type":"object"}},"last_probe_increase_at":{"type":["string","null"],"format":"date-time"},"concurrent_429_count":{"type":"integer"},"rpm_429_count":{"type":"integer"},"last_429_at":{"type":["string","null"],"format":"date-time"},"last_429_type":{"type":["string","null"]},"note":{"type":["string","null"]},"last_used_at":{"type":["string","null"],"format":"date-time"},"created_at":{"type":"string","format":"date-time"},"updated_at":{"type":"string","format":"date-time"}}})json"},
              {"ProviderWithEndpointsSummary",
               R"json({"type":"object","description":"A provider with endpoint and key counts and health","required":["id","name","description","website","provider_priority","is_active","billing_type","monthly_quota_usd","monthly_used_usd","quota_reset_day","quota_last_reset_at","quota_expires_at","timeout","max_retries","proxy","total_endpoints","active_endpoints","total_keys","active_keys","total_models","active_models","api_formats","endpoint_health_details","avg_health_score","unhealthy_endpoints","created_at","updated_at"],"properties":{"id":{"type":"string"},"name":{"type":"string"},"description":{"type":["string","null"]},"website":{"type":["string","null"]},"provider_priority":{"type":["integer","null"]},"is_active":{"type":"boolean"},"billing_type":{"type":"string","enum":["monthly_quota","pay_as_you_go","free_tier"]},"monthly_quota_usd":{"type":["number","null"]},"monthly_used_usd":{"type":"number"},"quota_reset_day":{"type":["integer","null"]},"quota_last_reset_at":{"type":["string","null"],"format":"date-time"},"quota_expires_at":{"type":["string","null"],"format":"date-time"},"timeout":{"type":["integer","null"]},"max_retries":{"type":["integer","null"]},"proxy":{"anyOf":[{"$ref":"#/components/schemas/ProxyConfig"},{"type":"null"}]},"total_endpoints":{"type":"integer"},"active_endpoints":{"type":"integer"},"total_keys":{"type":"integer"},"active_keys":{"type":"integer"},"total_models":{"type":"integer"},"active_models":{"type":"integer"},"api_formats":{"type":"array","items":{"type":"string","enum":["CLAUDE","CLAUDE_CLI","OPENAI","OPENAI_CLI","GEMINI","GEMINI_CLI"]}},"endpoint_health_details":{"type":"array","items":{"type":"object","required":["api_format","health_score","is_active","active_keys"],"properties":{"api_format":{"type":"string","enum":["CLAUDE","CLAUDE_CLI","OPENAI","OPENAI_CLI","GEMINI","GEMINI_CLI"]},"health_score":{"type":"number"},"is_active":{"type":"boolean"},"active_keys":{"type":"integer"}}}},"avg_health_score":{"type":"number"},"unhealthy_endpoints":{"type":"integer"},"created_at":{"type":"string","format":"date-time"},"updated_at":{"type":"string","format":"date-time"}}})json"},
              {"ProviderEndpointResponse",
               R"json({"type":"object","description":"A provider's endpoint for one API format","required":["id","provider_id","provider_name","api_format","base_url","custom_path","headers","timeout","max_retries","is_active","config","proxy","total_keys","active_keys","created_at","updated_at"],"properties":{"id":{"type":"string"},"provider_id":{"type":"string"},"provider_name":{"type":"string"},"api_format":{"type":"string","enum":["CLAUDE","CLAUDE_CLI","OPENAI","OPENAI_CLI","GEMINI","GEMINI_CLI"]},"base_url":{"type":"string"},"custom_path":{"type":["string","null"]},"headers":{"type":["object","null"],"additionalProperties":{"type":"string"}},"timeout":{"type":["integer","null"]},"max_retries":{"type":["integer","null"]},"is_active":{"type":"boolean"},"config":{"type":["object","null"]},"proxy":{"anyOf":[{"$ref":"#/components/schemas/ProxyConfig"},{"type":"null"}]},"total_keys":{"type":"integer"},"active_keys":{"type":"integer"},"created_at":{"type":"string","format":"date-time"},"updated_at":{"type":"string","format":"date-time"}}})json"},
          };
  const std::vector<SchemaComponent> schemas = AdminApiSchemas();
  for (const auto& [name, json] : expected) {
    const auto it = std::find_if(schemas.begin(), schemas.end(),
                                 [&](const SchemaComponent& s) { return s.name == name; });
    ASSERT_NE(it, schemas.end()) << name;
    EXPECT_EQ(it->json, json) << name;
  }
}

// ProxyConfig and HealthReport are generated from their tables (src/field_tables.hpp
// ProxyFields, HealthReportFields) since they stopped being written by hand; the bytes are the
// ones published before.
TEST(AdminApiSchemasTest, NestedModelsAreByteIdenticalToThePublishedOnes) {
  const std::pair<const char*, const char*> expected[] = {
      {"ProxyConfig",
       R"json({"type":"object","required":["url"],"properties":{"url":{"type":"string","description":"http://, https:// or socks5://, with a host and without user name or password"},"username":{"type":["string","null"],"maxLength":255},"password":{"type":["string","null"],"maxLength":500,"description":"Responses show \"***\" when one is stored; an update without a password keeps the stored one"},"enabled":{"type":"boolean","default":true}}})json"},
      {"HealthReport",
       R"json({"type":"object","description":"Request outcomes of one key for one format since the gateway's previous report","required":["key_id","api_format","successes","failures","total_response_time_ms","at"],"properties":{"key_id":{"type":"string","minLength":1,"maxLength":64},"api_format":{"type":"string","description":"CLAUDE, CLAUDE_CLI, OPENAI, OPENAI_CLI, GEMINI or GEMINI_CLI in any letter case, stored upper-case"},"successes":{"type":"integer","minimum":0,"maximum":1000000},"failures":{"type":"integer","minimum":0,"maximum":1000000},"total_response_time_ms":{"type":"integer","minimum":0,"maximum":1000000000000,"description":"Sum over the successful requests"},"last_error":{"type":["string","null"],"maxLength":1000},"at":{"description":"When the gateway took the sample","anyOf":[{"type":"string","format":"date-time"},{"type":"number","description":"Unix seconds, or milliseconds beyond 2e10"}]
}}})json"},
  };
  const std::vector<SchemaComponent> schemas = AdminApiSchemas();
  for (const auto& [name, json] : expected) {
    const auto it = std::find_if(schemas.begin(), schemas.end(),
                                 [&](const SchemaComponent& s) { return s.name == name; });
    ASSERT_NE(it, schemas.end()) << name;
    EXPECT_EQ(it->json, json) << name;
  }
}

TEST(SseFormatTest, SplitsLinesAndOmitsEmptyFields) {
  EXPECT_EQ(FormatSseEvent("", "x", ""), "data: x\n\n");
  EXPECT_EQ(FormatSseEvent("e", "a\r\nb\rc\nd", "7"),
            "event: e\nid: 7\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
  EXPECT_EQ(FormatSseEvent("", "", ""), "data: \n\n");
}

}  // namespace
}  // namespace keyledger::api
