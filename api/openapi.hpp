#pragma once
// Generates an OpenAPI 3.1 document from the route table, so the document and the routes cannot
// drift apart: every registered (method, pattern) appears exactly once under "paths", with its
// summary, tag, required role (x-required-role and bearer security), path and query parameters,
// request/response schemas (a component name becomes a $ref, '{...}' text is inlined), and the
// error responses the server produces (401/403/429 on protected routes, 422 where a body or query
// is validated, 404 where the path has parameters).
//
// Pure function of its inputs; thread-safe.

#include <string>
#include <vector>

#include "api/router.hpp"

namespace keyledger::api {

struct OpenApiInfo {
  std::string title = "keyledger";
  std::string version = "0.1.0";
  std::string description{};
};

// A named schema for components/schemas; `json` is the schema object's JSON text.
struct SchemaComponent {
  std::string name{};
  std::string json{};
};

// Built-in components (ErrorResponse, HTTPValidationError, ValidationError) are always present;
// a component in `schemas` with the same name replaces the built-in one.
std::string GenerateOpenApi(const Router& router, const OpenApiInfo& info,
                            const std::vector<SchemaComponent>& schemas = {});

// A handler for `GET /openapi.json`: the document is generated on first use (so routes added after
// this handler, including its own, are described) and then cached. `router` must outlive it.
Handler OpenApiHandler(const Router& router, OpenApiInfo info,
                       std::vector<SchemaComponent> schemas = {});

// "/a/{id}/b" + "GET" → "get_a__id__b" (unique per route; used as operationId).
std::string OperationId(const RouteSpec& route);

}  // namespace keyledger::api
