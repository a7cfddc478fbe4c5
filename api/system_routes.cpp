// System configs S1/S2 and the API format list S3 (aether-spec.md §11.4), and the model
// capabilities route (§11.5).
#include "api/admin_api_internal.hpp"
#include "events/json_writer.hpp"
#include "projections/domain.hpp"
#include "src/system_config.hpp"

namespace keyledger::api {
namespace {

using registry::QueryReader;

constexpr const char* kSystemTag = "System";

// Aether parses S2's body by hand: its "empty" and "not JSON" answers are http_error (§11.4.2);
// keyledger's other 400s are invalid_request.
Response SystemInputError(const Error& e) {
  if (e.code == ErrorCode::kInvalidArgument &&
      (e.message == "请求体不能为空" || e.message == "请求体必须是合法的JSON")) {
    return HttpErrorResponse(400, e.message);
  }
  return ErrorResponse(e);
}

std::string ApiFormatsJson() {
  json::Writer w;
  w.BeginObject().Key("formats").BeginArray();
  for (const auto& f : domain::ApiFormatMetadataTable()) {
    w.BeginObject()
        .Member("value", f.value)
        .Member("label", f.value)
        .Member("default_path", f.default_path)
        .Key("aliases")
        .BeginArray();
    for (std::string_view alias : f.aliases) w.String(alias);
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

// keyledger holds no model catalogue (Aether's global_models table), so every model gets the
// answer Aether gives for a model that is not in its catalogue (§11.5 step 2; §11.7).
std::string ModelCapabilitiesJson(std::string_view model) {
  json::Writer w;
  w.BeginObject()
      .Member("model", model)
      .Key("supported_capabilities")
      .BeginArray()
      .EndArray()
      .Key("capability_details")
      .BeginArray()
      .EndArray()
      .Member("error", "模型不存在")
      .EndObject();
  return w.Take();
}

}  // namespace

Status RegisterSystemRoutes(Router& router, AdminApi::Impl& api) {
  const std::string base = "/api/admin/system";
  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = base + "/configs/{key}",
       .access = Access::kAuditor,
       .summary = "A system config: its stored value, or its built-in default",
       .tag = kSystemTag,
       .description = "Known keys: provider_priority_mode (provider | global_key, default "
                      "provider), scheduling_mode (fixed_order | cache_affinity | load_balance, "
                      "default cache_affinity). Another key is a 404. ETag: the number of sets.",
       .query_params = AsOfDocs("value"),
       .response_schema = "SystemConfigValue",
       .handler = ViewRoute(api, [](const Request& req, QueryReader&) -> ViewPlan {
         const std::string key(*req.PathParam("key"));
         const registry::SystemConfigSpec* spec = registry::FindSystemConfig(key);
         if (spec == nullptr) return ErrorResponse(registry::SystemConfigNotFound(key));
         return StateView{.render = [spec](const projections::State& s, int64_t) {
           return WithEtag(JsonOk(registry::SystemConfigGetJson(s, *spec)),
                           registry::SystemConfigVersion(s, spec->key));
         }};
       })}));
  KL_RETURN_IF_ERROR(router.Add(
      {.method = "PUT",
       .pattern = base + "/configs/{key}",
       .access = Access::kAdmin,
       .summary = "Set a system config (recorded as a SystemConfigSet event; If-Match supported)",
       .tag = kSystemTag,
       .description = "Body {\"value\": ..., \"description\": ...}. Only the known keys and their "
                      "allowed values are accepted (400 invalid_request otherwise); string values "
                      "are trimmed and lower-cased.",
       .request_schema = "SystemConfigUpdate",
       .response_schema = "SystemConfigResponse",
       .handler = [&api](const RequestPtr& req, Responder respond) {
         const std::string key(*req->PathParam("key"));
         const registry::SystemConfigSpec* spec = registry::FindSystemConfig(key);
         if (spec == nullptr) return respond(ErrorResponse(registry::SystemConfigNotFound(key)));
         auto put = registry::ParseSystemConfigPut(req->body);
         if (!put.ok()) return respond(SystemInputError(put.error()));
         auto value = registry::NormalizeSystemConfigValue(*spec, put->value);
         if (!value.ok()) return respond(ErrorResponse(value.error()));
         api.Submit(req, respond,
                    registry::MakeSetSystemConfig(key, std::move(value).value(),
                                                  std::move(put->description)));
       }}));
  KL_RETURN_IF_ERROR(
      router.Add({.method = "GET",
                  .pattern = base + "/api-formats",
                  .access = Access::kAuditor,
                  .summary = "The API formats with their default paths and aliases (static)",
                  .tag = kSystemTag,
                  .response_schema = "ApiFormatList",
                  .handler = [](const RequestPtr&, Responder respond) {
                    static const std::string kBody = ApiFormatsJson();
                    respond(JsonOk(kBody));
                  }}));
  return router.Add(
      {.method = "GET",
       .pattern = "/api/capabilities/model/{model_name}",
       .access = Access::kPublic,
       .summary = "A model's capabilities (keyledger has no model catalogue: always 模型不存在)",
       .tag = "Capabilities",
       .response_schema = "ModelCapabilities",
       .handler = [](const RequestPtr& req, Responder respond) {
         respond(JsonOk(ModelCapabilitiesJson(*req->PathParam("model_name"))));
       }});
}

}  // namespace keyledger::api
