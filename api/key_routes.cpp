// Provider keys (aether-spec.md §8, K1-K6) and key health (§11, plus gateway health reports).
#include "api/admin_api_internal.hpp"
#include "projections/views.hpp"
#include "src/dto_adapters.hpp"

namespace keyledger::api {
namespace {

using registry::AsOf;
using registry::QueryReader;

constexpr const char* kKeysTag = "Provider Keys";

std::vector<QueryParamDoc> AsOfDocs() {
  return {{"as_of_seq", "The view as of this event sequence (time travel)",
           R"({"type":"integer","minimum":0})", false},
          {"as_of", "The view as of this time (RFC 3339)",
           R"({"type":"string","format":"date-time"})", false}};
}

// Reads as_of_seq / as_of; the rest of the reader's errors are the caller's.
void ReadAsOfParams(QueryReader& reader, AsOf& as_of) { registry::ReadAsOf(reader, as_of); }

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

  KL_RETURN_IF_ERROR(
      router.Add({.method = "GET",
                  .pattern = base + "/keys/grouped-by-format",
                  .access = Access::kAuditor,
                  .summary = "Active keys of active providers, grouped by API format",
                  .tag = kKeysTag,
                  .query_params = AsOfDocs(),
                  .handler = [&api](const RequestPtr& req, Responder respond) {
                    registry::QueryParams q = QueryOf(*req);
                    QueryReader reader(q);
                    AsOf as_of;
                    ReadAsOfParams(reader, as_of);
                    if (Status s = reader.Finish(); !s.ok())
                      return respond(ErrorResponse(s.error()));
                    if (as_of.empty()) {
                      projections::StatePtr state = api.registry.Current();
                      auto json = api.view_cache.Get(*state, "grouped", [&] {
                        return projections::GroupedByFormatJson(*state);
                      });
                      return respond(JsonOk(*json));
                    }
                    api.Offload(respond, [&api, as_of]() -> Response {
                      auto state = api.StateAsOf(as_of);
                      if (!state.ok()) return ErrorResponse(state.error());
                      return JsonOk(projections::GroupedByFormatJson(**state));
                    });
                  }}));

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
       .handler =
           [&api](const RequestPtr& req, Responder respond) {
             registry::QueryParams q = QueryOf(*req);
             QueryReader reader(q);
             registry::Paging paging;
             registry::ReadPaging(reader, paging);
             AsOf as_of;
             ReadAsOfParams(reader, as_of);
             if (Status s = reader.Finish(); !s.ok()) return respond(ErrorResponse(s.error()));
             std::string pid(*req->PathParam("provider_id"));
             const auto skip = static_cast<uint64_t>(paging.skip);
             const auto limit = static_cast<uint64_t>(paging.limit);
             auto render = [pid, skip, limit](const projections::State& s) -> Response {
               if (s.providers.Find(pid) == nullptr) return NotFoundProvider(pid);
               return JsonOk(projections::KeyListJson(s, pid, skip, limit));
             };
             if (as_of.empty()) {
               projections::StatePtr state = api.registry.Current();
               if (state->providers.Find(pid) == nullptr) return respond(NotFoundProvider(pid));
               auto json = api.view_cache.Get(
                   *state, "keys/" + pid + "?" + std::to_string(skip) + "," + std::to_string(limit),
                   [&] { return projections::KeyListJson(*state, pid, skip, limit); });
               return respond(JsonOk(*json));
             }
             api.Offload(respond, [&api, as_of, render]() -> Response {
               auto state = api.StateAsOf(as_of);
               if (!state.ok()) return ErrorResponse(state.error());
               return render(**state);
             });
           }}));

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
