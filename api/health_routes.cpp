// Key health reads (aether-spec.md §11.1: H1, H4, H5, H6), the RPM counter routes (§11.2: R1,
// R2) and adaptive RPM (§11.3: A1-A6). The health reset routes (H2, H3) live in key_routes.cpp.
// Reads need an auditor, writes an admin. Views are projections/health_views.hpp; writes are
// registry commands (src/adaptive_commands.cpp), each one event with actor, IP and request id.
#include "api/admin_api_internal.hpp"
#include "projections/domain.hpp"
#include "projections/health_views.hpp"

namespace keyledger::api {
namespace {

using registry::AsOf;
using registry::QueryReader;

constexpr const char* kHealthTag = "Endpoint Health";
constexpr const char* kRpmTag = "RPM Control";
constexpr const char* kAdaptiveTag = "Adaptive RPM";

// H5/H6 query bounds (spec §11.1.7, §11.1.8).
constexpr registry::IntRange kLookbackRange{1, 72};
constexpr registry::IntRange kPerFormatLimitRange{10, 200};
// A3's limit and A2's fixed_limit: K2/K3's bounds (README "Deliberate differences").
constexpr registry::IntRange kRpmLimitRange{1, domain::rpm::kMaxRpmLimit};

Response KeyNotFound(std::string_view id) {
  return ErrorResponse(MakeError(ErrorCode::kNotFound, "Key " + std::string(id) + " 不存在"));
}

std::string Id(const RequestPtr& req) { return std::string(*req->PathParam("key_id")); }

// The answer of a view that also reads the log (which may fail).
Response LogViewResponse(Result<std::string> json) {
  if (!json.ok()) return ErrorResponse(json.error());
  return JsonOk(std::move(json).value());
}

// One key's view of the state; 404 for an unknown key.
using KeyRender = std::function<std::string(const projections::KeyState& key, int64_t now_us)>;
StateView OneKey(std::string id, KeyRender view) {
  return {.render = [id = std::move(id), view = std::move(view)](const projections::State& s,
                                                                 int64_t now) -> Response {
    const projections::KeyState* k = s.keys.Find(id);
    if (k == nullptr) return KeyNotFound(id);
    return JsonOk(view(*k, now));
  }};
}

// A read of one key's view, now or as of a point in the log.
Handler KeyView(AdminApi::Impl& api, std::string (*view)(const projections::KeyState&)) {
  return ViewRoute(api, [view](const Request& req, QueryReader&) -> ViewPlan {
    return OneKey(std::string(*req.PathParam("key_id")),
                  [view](const projections::KeyState& k, int64_t) { return view(k); });
  });
}

// Aether answers A2's empty / non-JSON body and a missing fixed_limit with http_error, its other
// body problems with invalid_request (spec §11.3.2).
Response AdaptiveResult(const Result<registry::CommandResult>& r) {
  if (!r.ok() && r.error().code == ErrorCode::kInvalidArgument &&
      (r.error().message == registry::kBodyEmpty || r.error().message == registry::kBodyNotJson ||
       r.error().message == registry::kFixedLimitRequired)) {
    return HttpErrorResponse(400, r.error().message);
  }
  return ResultResponse(r);
}

Status RegisterHealthReads(Router& router, AdminApi::Impl& api) {
  const std::string base = "/api/admin/endpoints";
  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = base + "/health/key/{key_id}",
       .access = Access::kAuditor,
       .summary = "A key's health and circuit breakers, per format or for one format",
       .tag = kHealthTag,
       .query_params =
           WithAsOf({{"api_format", "Only this format (case-insensitive; one of the six)",
                      R"({"type":"string"})", false}}),
       .response_schema = "HealthStatusResponse",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         registry::QueryParams q = QueryOf(*req);
         // An empty value counts as absent, as in Aether.
         std::erase_if(q.items,
                       [](const auto& p) { return p.first == "api_format" && p.second.empty(); });
         QueryReader reader(q);
         std::optional<std::string> format = reader.OptionalApiFormat("api_format");
         const std::optional<AsOf> as_of = FinishAsOfQuery(reader, respond);
         if (!as_of) return;
         ServeView(api, *as_of,
                   OneKey(Id(req),
                          [format](const projections::KeyState& k, int64_t now) {
                            return projections::KeyHealthJson(k, format, now);
                          }),
                   respond);
       }}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = base + "/health/summary",
       .access = Access::kAuditor,
       .summary = "Counts of endpoints and keys: total, active, unhealthy, open breakers",
       .tag = kHealthTag,
       .query_params = AsOfDocs(),
       .response_schema = "HealthSummaryResponse",
       .handler = ViewRoute(api, StateView{.render = [](const projections::State& s, int64_t) {
                              return JsonOk(projections::HealthSummaryJson(s));
                            }})}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = base + "/health/status",
       .access = Access::kAuditor,
       .summary = "Health per API format with a 100-segment timeline from gateway health reports",
       .tag = kHealthTag,
       .query_params = {{"lookback_hours", "Hours covered by the timeline",
                         R"({"type":"integer","minimum":1,"maximum":72,"default":6})", false}},
       .response_schema = R"({"type":"array","items":{"type":"object"}})",
       .handler = ViewRoute(
           api,
           [&api](const Request&, QueryReader& reader) -> ViewPlan {
             const int64_t hours = reader.Int("lookback_hours", 6, kLookbackRange);
             return StateView{.render =
                                  [&api, hours](const projections::State& s, int64_t now) {
                                    return LogViewResponse(
                                        projections::HealthStatusJson(s, api.log, hours, now));
                                  },
                              .offload = true};
           },
           AsOfParams::kNone)}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = base + "/health/api-formats",
       .access = Access::kAuditor,
       .summary = "Per API format: outcomes, recent reports and a timeline from health reports",
       .tag = kHealthTag,
       .query_params = {{"lookback_hours", "Hours covered",
                         R"({"type":"integer","minimum":1,"maximum":72,"default":6})", false},
                        {"per_format_limit", "Recent reports per format",
                         R"({"type":"integer","minimum":10,"maximum":200,"default":60})", false}},
       .response_schema = "ApiFormatHealthMonitorResponse",
       .handler = ViewRoute(
           api,
           [&api](const Request&, QueryReader& reader) -> ViewPlan {
             const int64_t hours = reader.Int("lookback_hours", 6, kLookbackRange);
             const int64_t per_format = reader.Int("per_format_limit", 60, kPerFormatLimitRange);
             return StateView{
                 .render =
                     [&api, hours, per_format](const projections::State& s, int64_t now) {
                       return LogViewResponse(
                           projections::ApiFormatHealthJson(s, api.log, hours, per_format, now));
                     },
                 .offload = true};
           },
           AsOfParams::kNone)}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = base + "/rpm/key/{key_id}",
       .access = Access::kAuditor,
       .summary = "A key's RPM counter (always 0: keyledger does not proxy) and rpm_limit",
       .tag = kRpmTag,
       .query_params = AsOfDocs(),
       .response_schema = "KeyRpmStatusResponse",
       .handler = KeyView(api, &projections::KeyRpmJson)}));

  return router.Add(
      {.method = "DELETE",
       .pattern = base + "/rpm/key/{key_id}",
       .access = Access::kAdmin,
       .summary =
           "Reset a key's RPM counter (keyledger keeps none: checks the key, changes nothing)",
       .tag = kRpmTag,
       .response_schema = R"({"type":"object","properties":{"message":{"type":"string"}}})",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         const std::string id = Id(req);
         if (api.registry.Current()->keys.Find(id) == nullptr) return respond(KeyNotFound(id));
         respond(JsonOk(R"({"message":"RPM 计数已重置"})"));
       }});
}

Status RegisterAdaptiveRoutes(Router& router, AdminApi::Impl& api) {
  const std::string base = "/api/admin/adaptive";
  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = base + "/keys",
       .access = Access::kAuditor,
       .summary = "Keys in adaptive RPM mode (rpm_limit null), by id",
       .tag = kAdaptiveTag,
       .query_params = WithAsOf({{"provider_id", "Only this provider's keys (empty: all)",
                                  R"({"type":"string"})", false}}),
       .response_schema = R"({"type":"array","items":{"$ref":"#/components/schemas/KeyListItem"}})",
       .handler = ViewRoute(api, [](const Request&, QueryReader& reader) -> ViewPlan {
         std::optional<std::string> provider;
         if (const std::string* p = reader.Raw("provider_id"); p != nullptr && !p->empty()) {
           provider = *p;
         }
         return StateView{.render = [provider](const projections::State& s, int64_t) {
           return JsonOk(projections::AdaptiveKeysJson(s, provider));
         }};
       })}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "PATCH",
       .pattern = base + "/keys/{key_id}/mode",
       .access = Access::kAdmin,
       .summary = "Switch a key between adaptive and fixed RPM (KeyAdaptiveModeChanged event)",
       .tag = kAdaptiveTag,
       .request_schema = "EnableAdaptiveRequest",
       .response_schema =
           R"({"type":"object","properties":{"message":{"type":"string"},"key_id":{"type":"string"},"is_adaptive":{"type":"boolean"},"rpm_limit":{"type":["integer","null"]},"effective_limit":{"type":["integer","null"]}}})",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         auto ctx = api.Context(*req);
         if (!ctx.ok()) return respond(ErrorResponse(ctx.error()));
         api.registry.Submit(
             registry::MakeSetAdaptiveMode(Id(req), registry::ParseAdaptiveModeBody(req->body)),
             std::move(ctx).value(),
             [respond](Result<registry::CommandResult> r) { respond(AdaptiveResult(r)); });
       }}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "PATCH",
       .pattern = base + "/keys/{key_id}/limit",
       .access = Access::kAdmin,
       .summary = "Fix a key's RPM limit (KeyRpmLimitSet event)",
       .tag = kAdaptiveTag,
       .query_params = {{"limit", "The fixed RPM limit",
                         R"({"type":"integer","minimum":1,"maximum":10000})", true}},
       .response_schema =
           R"({"type":"object","properties":{"message":{"type":"string"},"key_id":{"type":"string"},"is_adaptive":{"type":"boolean"},"rpm_limit":{"type":"integer"},"previous_mode":{"type":"string","enum":["adaptive","fixed"]}}})",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         registry::QueryParams q = QueryOf(*req);
         QueryReader reader(q);
         int64_t limit = 0;
         if (reader.Raw("limit") == nullptr) {
           reader.AddError(
               registry::MakeFieldError("missing", reader.At("limit"), "Field required", "null"));
         } else {
           limit = reader.Int("limit", 0, kRpmLimitRange);
         }
         if (Status s = reader.Finish(); !s.ok()) return respond(ErrorResponse(s.error()));
         api.Submit(req, respond, registry::MakeSetRpmLimit(Id(req), limit));
       }}));

  KL_RETURN_IF_ERROR(router.Add({.method = "GET",
                                 .pattern = base + "/keys/{key_id}/stats",
                                 .access = Access::kAuditor,
                                 .summary = "A key's adaptive RPM state",
                                 .tag = kAdaptiveTag,
                                 .query_params = AsOfDocs(),
                                 .response_schema = "AdaptiveStatsResponse",
                                 .handler = KeyView(api, &projections::AdaptiveStatsJson)}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "DELETE",
       .pattern = base + "/keys/{key_id}/learning",
       .access = Access::kAdmin,
       .summary = "Reset a key's adaptive learning state (KeyLearningReset event)",
       .tag = kAdaptiveTag,
       .response_schema =
           R"({"type":"object","properties":{"message":{"type":"string"},"key_id":{"type":"string"}}})",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         api.Submit(req, respond, registry::MakeResetLearning(Id(req)));
       }}));

  return router.Add(
      {.method = "GET",
       .pattern = base + "/summary",
       .access = Access::kAuditor,
       .summary = "Totals over the adaptive keys",
       .tag = kAdaptiveTag,
       .query_params = AsOfDocs(),
       .response_schema =
           R"({"type":"object","properties":{"total_adaptive_keys":{"type":"integer"},"total_concurrent_429_errors":{"type":"integer"},"total_rpm_429_errors":{"type":"integer"},"total_adjustments":{"type":"integer"},"recent_adjustments":{"type":"array","items":{"type":"object"}}}})",
       .handler = ViewRoute(api, StateView{.render = [](const projections::State& s, int64_t) {
                              return JsonOk(projections::AdaptiveSummaryJson(s));
                            }})});
}

}  // namespace

Status RegisterHealthRoutes(Router& router, AdminApi::Impl& api) {
  KL_RETURN_IF_ERROR(RegisterHealthReads(router, api));
  return RegisterAdaptiveRoutes(router, api);
}

}  // namespace keyledger::api
