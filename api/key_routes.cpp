// Provider keys (aether-spec.md §8, K1-K6) and key health (§11, plus gateway health reports).
#include "api/admin_api_internal.hpp"
#include "projections/views.hpp"
#include "src/dto_adapters.hpp"

namespace keyledger::api {
namespace {

using registry::QueryReader;

constexpr const char* kKeysTag = "Provider Keys";

Response NotFoundProvider(std::string_view id) {
  return ErrorResponse(MakeError(ErrorCode::kNotFound, "Provider " + std::string(id) + " 不存在"));
}

}  // namespace

Status RegisterKeyRoutes(Router& router, AdminApi::Impl& api) {
  const std::string base = "/api/admin/endpoints";

  // K3 before K4 and K5: Starlette matches PUT /keys/grouped-by-format to K3 (spec §1.2).
  KL_RETURN_IF_ERROR(router.Add(
      {.method = "PUT",
       .pattern = base + "/keys/{key_id}",
       .access = Access::kAdmin,
       .summary = "Update a provider key (partial; If-Match supported)",
       .tag = kKeysTag,
       .request_schema = "EndpointAPIKeyUpdate",
       .response_schema = "EndpointAPIKeyResponse",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         auto dto = registry::ParseKeyUpdate(req->body);
         if (!dto.ok()) return respond(ErrorResponse(dto.error()));
         api.Submit(req, respond,
                    registry::MakeUpdateKey(registry::ToIntent(
                        std::string(*req->PathParam("key_id")), std::move(dto).value())));
       }}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = base + "/keys/grouped-by-format",
       .access = Access::kAuditor,
       .summary = "Active keys of active providers, grouped by API format",
       .tag = kKeysTag,
       .query_params = AsOfDocs(),
       .handler = ViewRoute(api, StateView{.render =
                                               [](const projections::State& s, int64_t) {
                                                 return JsonOk(projections::GroupedByFormatJson(s));
                                               },
                                           .cache_key = "grouped"})}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = base + "/keys/{key_id}/reveal",
       .access = Access::kAdmin,
       .summary = "Reveal a key's secret (recorded as a KeyRevealed audit event)",
       .tag = kKeysTag,
       .description = "Send X-Audit-Reason to record why; it can be made mandatory.",
       .response_schema = R"({"type":"object","properties":{"api_key":{"type":"string"}}})",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         if (req->method == "HEAD") {
           // The router answers HEAD with GET routes; a HEAD must never reveal (nor leak the
           // secret's length through Content-Length) nor be recorded as a reveal.
           Response r = Response::Json(405, R"({"detail":"Method Not Allowed"})");
           r.headers.emplace_back("Allow", "GET");
           return respond(std::move(r));
         }
         api.Submit(req, respond, registry::MakeRevealKey(std::string(*req->PathParam("key_id"))));
       }}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "DELETE",
       .pattern = base + "/keys/{key_id}",
       .access = Access::kAdmin,
       .summary = "Delete a key; its secret is crypto-shredded. Answers a receipt",
       .tag = kKeysTag,
       .response_schema =
           R"({"type":"object","properties":{"message":{"type":"string"},"seq":{"type":"integer"},"hash":{"type":"string"}}})",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         api.Submit(req, respond, registry::MakeDeleteKey(std::string(*req->PathParam("key_id"))));
       }}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "POST",
       .pattern = base + "/keys/health-reports",
       .access = Access::kAdmin,
       .summary = "Gateways report request outcomes per key and format (batch)",
       .tag = "Health",
       .request_schema = "HealthReportBatch",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         auto batch = registry::ParseHealthReportBatch(req->body);
         if (!batch.ok()) return respond(ErrorResponse(batch.error()));
         api.Submit(req, respond,
                    registry::MakeReportHealth(registry::ToItems(std::move(batch).value())));
       }}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = base + "/providers/{provider_id}/keys",
       .access = Access::kAuditor,
       .summary = "A provider's keys, by internal_priority then created_at",
       .tag = kKeysTag,
       .query_params =
           [] {
             auto docs = AsOfDocs();
             docs.insert(docs.begin(),
                         {{"skip", "Keys to skip", R"({"type":"integer","minimum":0})", false},
                          {"limit", "Keys to return",
                           R"({"type":"integer","minimum":1,"maximum":1000})", false}});
             return docs;
           }(),
       .response_schema =
           R"({"type":"array","items":{"$ref":"#/components/schemas/EndpointAPIKeyResponse"}})",
       .handler = ViewRoute(api, [](const Request& req, QueryReader& reader) -> ViewPlan {
         registry::Paging paging;
         registry::ReadPaging(reader, paging);
         std::string pid(*req.PathParam("provider_id"));
         const auto skip = static_cast<uint64_t>(paging.skip);
         const auto limit = static_cast<uint64_t>(paging.limit);
         std::string cache_key =
             "keys/" + pid + "?" + std::to_string(skip) + "," + std::to_string(limit);
         return StateView{.render = [pid = std::move(pid), skip, limit](const projections::State& s,
                                                                        int64_t) -> Response {
                            if (s.providers.Find(pid) == nullptr) return NotFoundProvider(pid);
                            return JsonOk(projections::KeyListJson(s, pid, skip, limit));
                          },
                          .cache_key = std::move(cache_key)};
       })}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "POST",
       .pattern = base + "/providers/{provider_id}/keys",
       .access = Access::kAdmin,
       .summary = "Add a key to a provider",
       .tag = kKeysTag,
       .request_schema = "EndpointAPIKeyCreate",
       .response_schema = "EndpointAPIKeyResponse",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         auto dto = registry::ParseKeyCreate(req->body);
         if (!dto.ok()) return respond(ErrorResponse(dto.error()));
         api.Submit(req, respond,
                    registry::MakeCreateKey(registry::ToIntent(
                        std::string(*req->PathParam("provider_id")), std::move(dto).value())));
       }}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "PATCH",
       .pattern = base + "/health/keys/{key_id}",
       .access = Access::kAdmin,
       .summary = "Reset a key's health and close its breakers (one format or all)",
       .tag = "Health",
       .query_params = {{"api_format", "Only this format", R"({"type":"string"})", false}},
       .handler = [&api](const RequestPtr& req, Responder respond) {
         auto q = registry::ParseHealthResetQuery(QueryOf(*req));
         if (!q.ok()) return respond(ErrorResponse(q.error()));
         api.Submit(
             req, respond,
             registry::MakeResetKeyHealth(std::string(*req->PathParam("key_id")), q->api_format));
       }}));

  return router.Add({.method = "PATCH",
                     .pattern = base + "/health/keys",
                     .access = Access::kAdmin,
                     .summary = "Recover every key whose circuit breaker is open",
                     .tag = "Health",
                     .handler = [&api](const RequestPtr& req, Responder respond) {
                       api.Submit(req, respond, registry::MakeRecoverAllKeys());
                     }});
}

}  // namespace keyledger::api
