#include "api/openapi.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "events/json_writer.hpp"

namespace keyledger::api {
namespace {

constexpr std::string_view kErrorResponseSchema =
    R"({"type":"object","properties":{"error":{"type":"object","properties":{"type":{"type":"string"},"message":{"type":"string"},"details":{"type":"object"}},"required":["type","message"]}},"required":["error"]})";
constexpr std::string_view kValidationErrorSchema =
    R"({"type":"object","properties":{"type":{"type":"string"},"loc":{"type":"array","items":{"anyOf":[{"type":"string"},{"type":"integer"}]}},"msg":{"type":"string"},"input":{},"ctx":{"type":"object"}},"required":["type","loc","msg"]})";
constexpr std::string_view kHttpValidationErrorSchema =
    R"({"type":"object","properties":{"detail":{"type":"array","items":{"$ref":"#/components/schemas/ValidationError"}}}})";

void WriteSchema(json::Writer& w, std::string_view schema) {
  if (!schema.empty() && schema.front() == '{') {
    w.Raw(schema);
  } else {
    w.BeginObject().Member("$ref", "#/components/schemas/" + std::string(schema)).EndObject();
  }
}

void WriteJsonContent(json::Writer& w, std::string_view schema) {
  w.Key("content").BeginObject().Key("application/json").BeginObject().Key("schema");
  if (schema.empty()) {
    w.BeginObject().EndObject();
  } else {
    WriteSchema(w, schema);
  }
  w.EndObject().EndObject();
}

void WriteErrorResponse(json::Writer& w, std::string_view status, std::string_view description,
                        std::string_view schema) {
  w.Key(status).BeginObject().Member("description", description);
  WriteJsonContent(w, schema);
  w.EndObject();
}

std::vector<std::string> PathParamNames(std::string_view pattern) {
  std::vector<std::string> names;
  for (std::string_view part : SplitPath(pattern)) {
    if (part.size() > 2 && part.front() == '{' && part.back() == '}') {
      names.emplace_back(part.substr(1, part.size() - 2));
    }
  }
  return names;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  return out;
}

void WriteOperation(json::Writer& w, const RouteSpec& r) {
  w.Key(Lower(r.method)).BeginObject();
  if (!r.tag.empty()) w.Key("tags").BeginArray().String(r.tag).EndArray();
  if (!r.summary.empty()) w.Member("summary", r.summary);
  if (!r.description.empty()) w.Member("description", r.description);
  w.Member("operationId", OperationId(r));
  w.Member("x-required-role", AccessName(r.access));

  const std::vector<std::string> path_params = PathParamNames(r.pattern);
  if (!path_params.empty() || !r.query_params.empty()) {
    w.Key("parameters").BeginArray();
    for (const std::string& name : path_params) {
      w.BeginObject().Member("name", name).Member("in", "path").Member("required", true);
      w.Key("schema").Raw(R"({"type":"string"})").EndObject();
    }
    for (const QueryParamDoc& q : r.query_params) {
      w.BeginObject().Member("name", q.name).Member("in", "query").Member("required", q.required);
      if (!q.description.empty()) w.Member("description", q.description);
      w.Key("schema").Raw(q.schema_json.empty() ? R"({"type":"string"})" : q.schema_json);
      w.EndObject();
    }
    w.EndArray();
  }
  if (!r.request_schema.empty()) {
    w.Key("requestBody").BeginObject().Member("required", true);
    WriteJsonContent(w, r.request_schema);
    w.EndObject();
  }

  w.Key("responses").BeginObject();
  w.Key("200").BeginObject().Member("description", "Successful Response");
  if (r.streaming) {
    w.Key("content").BeginObject().Key("text/event-stream").BeginObject();
    w.Key("schema").Raw(R"({"type":"string"})").EndObject().EndObject();
  } else {
    WriteJsonContent(w, r.response_schema);
  }
  w.EndObject();
  if (r.access != Access::kPublic) {
    WriteErrorResponse(w, "401", "Missing or invalid credentials", "ErrorResponse");
    WriteErrorResponse(w, "403", "The credentials lack the required role", "ErrorResponse");
  }
  if (!path_params.empty()) WriteErrorResponse(w, "404", "Not found", "ErrorResponse");
  if (!r.request_schema.empty() || !r.query_params.empty()) {
    WriteErrorResponse(w, "422", "Validation Error", "HTTPValidationError");
  }
  if (r.access != Access::kPublic) {
    WriteErrorResponse(w, "429", "Too many failed authentication attempts", "ErrorResponse");
  }
  w.EndObject();

  w.Key("security").BeginArray();
  if (r.access != Access::kPublic)
    w.BeginObject().Key("bearerAuth").BeginArray().EndArray().EndObject();
  w.EndArray();
  w.EndObject();
}

}  // namespace

Handler OpenApiHandler(const Router& router, OpenApiInfo info,
                       std::vector<SchemaComponent> schemas) {
  struct Cache {
    std::once_flag once;
    std::string document;
  };
  auto cache = std::make_shared<Cache>();
  return [&router, info = std::move(info), schemas = std::move(schemas), cache](const RequestPtr&,
                                                                                Responder respond) {
    // The router is frozen once the server runs, so one generation serves every request.
    std::call_once(cache->once, [&] { cache->document = GenerateOpenApi(router, info, schemas); });
    respond(Response::Json(200, cache->document));
  };
}

std::string OperationId(const RouteSpec& route) {
  std::string id = Lower(route.method);
  for (const char c : route.pattern) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    id += alnum ? c : '_';
  }
  return id;
}

std::string GenerateOpenApi(const Router& router, const OpenApiInfo& info,
                            const std::vector<SchemaComponent>& schemas) {
  const std::vector<const RouteSpec*> routes = router.Routes();
  // Paths in order of first registration; operations in registration order within a path.
  std::vector<std::string> patterns;
  for (const RouteSpec* r : routes) {
    if (std::find(patterns.begin(), patterns.end(), r->pattern) == patterns.end()) {
      patterns.push_back(r->pattern);
    }
  }

  json::Writer w(4096 + routes.size() * 1024);
  w.BeginObject().Member("openapi", "3.1.0");
  w.Key("info").BeginObject().Member("title", info.title).Member("version", info.version);
  if (!info.description.empty()) w.Member("description", info.description);
  w.EndObject();

  w.Key("paths").BeginObject();
  for (const std::string& pattern : patterns) {
    w.Key(pattern).BeginObject();
    for (const RouteSpec* r : routes) {
      if (r->pattern == pattern) WriteOperation(w, *r);
    }
    w.EndObject();
  }
  w.EndObject();

  std::map<std::string, std::string> components = {
      {"ErrorResponse", std::string(kErrorResponseSchema)},
      {"HTTPValidationError", std::string(kHttpValidationErrorSchema)},
      {"ValidationError", std::string(kValidationErrorSchema)},
  };
  for (const SchemaComponent& s : schemas) components[s.name] = s.json;
  w.Key("components").BeginObject().Key("schemas").BeginObject();
  for (const auto& [name, schema] : components) w.Key(name).Raw(schema);
  w.EndObject();
  w.Key("securitySchemes").BeginObject().Key("bearerAuth").BeginObject();
  w.Member("type", "http").Member("scheme", "bearer");
  w.Member("description", "A management token (kl_...) or an HS256 access JWT");
  w.EndObject().EndObject();
  w.EndObject();
  w.EndObject();
  return w.Take();
}

}  // namespace keyledger::api
