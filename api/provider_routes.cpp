// Providers (aether-spec.md §10.1) and endpoints (§10.2).
#include "api/admin_api_internal.hpp"
#include "projections/views.hpp"
#include "src/dto_adapters.hpp"

namespace keyledger::api {
namespace {

using registry::QueryReader;

// Aether validates provider POST/PUT bodies by hand: its "empty" and "not JSON" answers are
// http_error, every other validation failure is invalid_request (spec §10.1).
Response ProviderInputError(const Error& e) {
  if (e.code == ErrorCode::kInvalidArgument &&
      (e.message == "请求体不能为空" || e.message == "请求体必须是合法的JSON")) {
    return HttpErrorResponse(400, e.message);
  }
  return ErrorResponse(e);
}

std::string Id(const RequestPtr& req, std::string_view name) {
  return std::string(*req->PathParam(name));
}

// The router answers HEAD with GET routes; a HEAD must never reveal (nor leak the values'
// length through Content-Length) nor be recorded as a reveal. As for a key's reveal.
bool RefuseHeadReveal(const RequestPtr& req, Responder& respond) {
  if (req->method != "HEAD") return false;
  Response r = Response::Json(405, R"({"detail":"Method Not Allowed"})");
  r.headers.emplace_back("Allow", "GET");
  respond(std::move(r));
  return true;
}

constexpr std::string_view kRevealDescription =
    "Send X-Audit-Reason to record why; it can be made mandatory (--require-reveal-reason). Every "
    "other response shows these values masked.";

}  // namespace

Status RegisterProviderRoutes(Router& router, AdminApi::Impl& api) {
  // ---- endpoints: the endpoint CRUD router comes first under /api/admin/endpoints ----
  const std::string endpoints = "/api/admin/endpoints";
  KL_RETURN_IF_ERROR(router.Add({.method = "POST",
                                 .pattern = endpoints + "/providers/{provider_id}/endpoints",
                                 .access = Access::kAdmin,
                                 .summary = "Create a provider's endpoint for one API format",
                                 .tag = "Endpoints",
                                 .request_schema = "ProviderEndpointCreate",
                                 .response_schema = "ProviderEndpointResponse",
                                 .handler = [&api](const RequestPtr& req, Responder respond) {
                                   auto dto = registry::ParseEndpointCreate(req->body);
                                   if (!dto.ok()) return respond(ErrorResponse(dto.error()));
                                   api.Submit(req, respond,
                                              registry::MakeCreateEndpoint(registry::ToIntent(
                                                  Id(req, "provider_id"), std::move(dto).value())));
                                 }}));
  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = endpoints + "/providers/{provider_id}/endpoints",
       .access = Access::kAuditor,
       .summary = "A provider's endpoints, newest first",
       .tag = "Endpoints",
       .query_params = {{"skip", "", R"({"type":"integer","minimum":0})", false},
                        {"limit", "", R"({"type":"integer","minimum":1,"maximum":1000})", false}},
       .handler = [&api](const RequestPtr& req, Responder respond) {
         auto paging = registry::ParsePaging(QueryOf(*req));
         if (!paging.ok()) return respond(ErrorResponse(paging.error()));
         const std::string pid = Id(req, "provider_id");
         auto state = api.registry.Current();
         if (state->providers.Find(pid) == nullptr) {
           return respond(
               ErrorResponse(MakeError(ErrorCode::kNotFound, "Provider " + pid + " 不存在")));
         }
         respond(
             JsonOk(projections::EndpointListJson(*state, pid, static_cast<uint64_t>(paging->skip),
                                                  static_cast<uint64_t>(paging->limit))));
       }}));
  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = endpoints + "/{endpoint_id}",
       .access = Access::kAuditor,
       .summary = "One endpoint",
       .tag = "Endpoints",
       .response_schema = "ProviderEndpointResponse",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         const std::string id = Id(req, "endpoint_id");
         auto state = api.registry.Current();
         const projections::EndpointState* e = state->endpoints.Find(id);
         if (e == nullptr) {
           return respond(
               ErrorResponse(MakeError(ErrorCode::kNotFound, "Endpoint " + id + " 不存在")));
         }
         respond(WithEtag(JsonOk(projections::EndpointResponseJson(*state, *e)), e->version));
       }}));
  KL_RETURN_IF_ERROR(router.Add(
      {.method = "PUT",
       .pattern = endpoints + "/{endpoint_id}",
       .access = Access::kAdmin,
       .summary = "Update an endpoint (partial; a proxy without password keeps the old one)",
       .tag = "Endpoints",
       .request_schema = "ProviderEndpointUpdate",
       .response_schema = "ProviderEndpointResponse",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         auto dto = registry::ParseEndpointUpdate(req->body);
         if (!dto.ok()) return respond(ErrorResponse(dto.error()));
         api.Submit(req, respond,
                    registry::MakeUpdateEndpoint(
                        registry::ToIntent(Id(req, "endpoint_id"), std::move(dto).value())));
       }}));
  KL_RETURN_IF_ERROR(
      router.Add({.method = "DELETE",
                  .pattern = endpoints + "/{endpoint_id}",
                  .access = Access::kAdmin,
                  .summary = "Delete an endpoint (keys are not modified). Answers a receipt",
                  .tag = "Endpoints",
                  .handler = [&api](const RequestPtr& req, Responder respond) {
                    api.Submit(req, respond, registry::MakeDeleteEndpoint(Id(req, "endpoint_id")));
                  }}));
  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = endpoints + "/{endpoint_id}/credentials/reveal",
       .access = Access::kAdmin,
       .summary = "Reveal an endpoint's headers and config with their sealed credentials "
                  "(recorded as an EndpointCredentialsRevealed audit event)",
       .tag = "Endpoints",
       .description = std::string(kRevealDescription),
       .response_schema =
           R"({"type":"object","properties":{"endpoint_id":{"type":"string"},"headers":{"type":["object","null"],"additionalProperties":{"type":"string"}},"config":{"type":["object","null"]}}})",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         if (RefuseHeadReveal(req, respond)) return;
         api.Submit(req, respond, registry::MakeRevealEndpointCredentials(Id(req, "endpoint_id")));
       }}));

  // ---- providers ----
  const std::string providers = "/api/admin/providers";
  auto create = [&api](const RequestPtr& req, Responder respond) {
    auto dto = registry::ParseProviderCreate(req->body);
    if (!dto.ok()) return respond(ProviderInputError(dto.error()));
    api.Submit(req, respond,
               registry::MakeCreateProvider(registry::ToIntent(std::move(dto).value())));
  };
  auto list = [&api](const RequestPtr& req, Responder respond) {
    auto q = registry::ParseProviderListQuery(QueryOf(*req));
    if (!q.ok()) return respond(ErrorResponse(q.error()));
    respond(JsonOk(projections::ProviderListJson(
        *api.registry.Current(), static_cast<uint64_t>(q->paging.skip),
        static_cast<uint64_t>(q->paging.limit), q->is_active)));
  };
  std::vector<QueryParamDoc> list_docs = {
      {"skip", "", R"({"type":"integer","minimum":0})", false},
      {"limit", "", R"({"type":"integer","minimum":1,"maximum":500})", false},
      {"is_active", "", R"({"type":"boolean"})", false}};
  for (const std::string& path : {providers + "/", providers}) {
    KL_RETURN_IF_ERROR(router.Add({.method = "POST",
                                   .pattern = path,
                                   .access = Access::kAdmin,
                                   .summary = "Create a provider",
                                   .tag = "Providers",
                                   .request_schema = "CreateProviderRequest",
                                   .handler = create}));
    KL_RETURN_IF_ERROR(router.Add({.method = "GET",
                                   .pattern = path,
                                   .access = Access::kAuditor,
                                   .summary = "Providers (legacy list shape)",
                                   .tag = "Providers",
                                   .query_params = list_docs,
                                   .handler = list}));
  }
  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = providers + "/summary",
       .access = Access::kAuditor,
       .summary = "Every provider with endpoint and key counts and health",
       .tag = "Providers",
       .response_schema =
           R"({"type":"array","items":{"$ref":"#/components/schemas/ProviderWithEndpointsSummary"}})",
       .handler = [&api](const RequestPtr&, Responder respond) {
         respond(JsonOk(projections::ProviderSummariesJson(*api.registry.Current())));
       }}));
  auto summary = [&api](const RequestPtr& req, Responder respond) {
    const std::string id = Id(req, "provider_id");
    auto state = api.registry.Current();
    const projections::ProviderState* p = state->providers.Find(id);
    if (p == nullptr) {
      return respond(
          ErrorResponse(MakeError(ErrorCode::kNotFound, "Provider " + id + " not found")));
    }
    respond(WithEtag(JsonOk(projections::ProviderSummaryJson(*state, *p)), p->version));
  };
  KL_RETURN_IF_ERROR(router.Add({.method = "GET",
                                 .pattern = providers + "/{provider_id}",
                                 .access = Access::kAuditor,
                                 .summary = "One provider (summary shape)",
                                 .tag = "Providers",
                                 .response_schema = "ProviderWithEndpointsSummary",
                                 .handler = summary}));
  KL_RETURN_IF_ERROR(router.Add({.method = "GET",
                                 .pattern = providers + "/{provider_id}/summary",
                                 .access = Access::kAuditor,
                                 .summary = "One provider's summary (authenticated, unlike Aether)",
                                 .tag = "Providers",
                                 .response_schema = "ProviderWithEndpointsSummary",
                                 .handler = summary}));
  KL_RETURN_IF_ERROR(router.Add({.method = "PUT",
                                 .pattern = providers + "/{provider_id}",
                                 .access = Access::kAdmin,
                                 .summary = "Update a provider",
                                 .tag = "Providers",
                                 .request_schema = "UpdateProviderRequest",
                                 .handler = [&api](const RequestPtr& req, Responder respond) {
                                   auto dto = registry::ParseProviderUpdate(req->body);
                                   if (!dto.ok()) return respond(ProviderInputError(dto.error()));
                                   api.Submit(
                                       req, respond,
                                       registry::MakeUpdateProvider(registry::ToIntent(
                                           Id(req, "provider_id"), std::move(dto).value(), false)));
                                 }}));
  KL_RETURN_IF_ERROR(router.Add({.method = "PATCH",
                                 .pattern = providers + "/{provider_id}",
                                 .access = Access::kAdmin,
                                 .summary = "Update a provider (answers the summary)",
                                 .tag = "Providers",
                                 .request_schema = "ProviderUpdateRequest",
                                 .response_schema = "ProviderWithEndpointsSummary",
                                 .handler = [&api](const RequestPtr& req, Responder respond) {
                                   auto dto = registry::ParseProviderPatch(req->body);
                                   if (!dto.ok()) return respond(ErrorResponse(dto.error()));
                                   api.Submit(
                                       req, respond,
                                       registry::MakeUpdateProvider(registry::ToIntent(
                                           Id(req, "provider_id"), std::move(dto).value(), true)));
                                 }}));
  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = providers + "/{provider_id}/credentials/reveal",
       .access = Access::kAdmin,
       .summary = "Reveal a provider's config with its sealed credentials (recorded as a "
                  "ProviderCredentialsRevealed audit event)",
       .tag = "Providers",
       .description = std::string(kRevealDescription),
       .response_schema =
           R"({"type":"object","properties":{"provider_id":{"type":"string"},"config":{"type":["object","null"]}}})",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         if (RefuseHeadReveal(req, respond)) return;
         api.Submit(req, respond, registry::MakeRevealProviderCredentials(Id(req, "provider_id")));
       }}));
  return router.Add(
      {.method = "DELETE",
       .pattern = providers + "/{provider_id}",
       .access = Access::kAdmin,
       .summary = "Delete a provider with all its keys (shredded) and endpoints. Answers a receipt",
       .tag = "Providers",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         api.Submit(req, respond, registry::MakeDeleteProvider(Id(req, "provider_id")));
       }});
}

}  // namespace keyledger::api
