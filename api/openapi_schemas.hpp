#pragma once
// The component schemas of the admin API's OpenAPI document (JSON Schema 2020-12, as OpenAPI 3.1
// uses it): the request bodies the routes name in RouteSpec::request_schema and the response
// shapes they name in response_schema, so every "$ref" of the generated document resolves.
//
// The request schemas of keys, providers and endpoints, and of the nested ProxyConfig and
// HealthReport, are generated from the field tables that also drive the parsers
// (src/field_tables.hpp: fields, nullability, limits, defaults, required); the response schemas
// of keys, providers and endpoints from the response tables that drive the views
// (projections/response_fields.hpp: `properties` in the order the server emits the members,
// every member required). Input is parsed in pydantic's lax mode, so the schemas describe the
// canonical types: an integer field also accepts "12" and true, a boolean "yes", and API formats
// any letter case. The other schemas are written here: whoever changes their parser or view
// changes them too; tests/e2e checks live responses against these property lists.
//
// Names: EndpointAPIKeyCreate, EndpointAPIKeyUpdate, EndpointAPIKeyResponse,
// CreateProviderRequest, UpdateProviderRequest, ProviderUpdateRequest,
// ProviderWithEndpointsSummary, ProviderEndpointCreate, ProviderEndpointUpdate,
// ProviderEndpointResponse, HealthReportBatch, HealthStatusResponse, FormatHealthData,
// HealthSummaryResponse, ApiFormatHealthMonitorResponse, KeyRpmStatusResponse, KeyListItem,
// AdaptiveStatsResponse, EnableAdaptiveRequest, plus the shared ProxyConfig and HealthReport.
//
// Pure; thread-safe.

#include <vector>

#include "api/openapi.hpp"

namespace keyledger::api {

std::vector<SchemaComponent> AdminApiSchemas();

}  // namespace keyledger::api
