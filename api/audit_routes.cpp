// Audit routes: a key's history, the event feed and its live stream (SSE, audit_stream.cpp),
// signed checkpoints and state digests. Nothing here decrypts; payloads are redacted by
// projections/audit.
#include <algorithm>

#include "api/admin_api_internal.hpp"
#include "api/audit_stream.hpp"
#include "events/append_planner.hpp"
#include "events/json_writer.hpp"
#include "events/time_format.hpp"
#include "projections/audit.hpp"

namespace keyledger::api {

namespace {

Result<std::vector<events::EventType>> TypesFrom(const std::optional<std::string>& names) {
  std::vector<events::EventType> out;
  if (!names) return out;
  std::string_view rest = *names;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    auto type = events::EventTypeFromName(name);
    if (!type) {
      Error e = MakeError(ErrorCode::kValidation, "unknown event type");
      FieldError f;
      f.type = "value_error";
      f.loc = {"query", "type"};
      f.msg = "Value error, unknown event type: " + std::string(name);
      json::Writer in;
      in.String(*names);
      f.input_json = in.Take();
      f.ctx_json = R"({"error":{}})";
      e.details.push_back(std::move(f));
      return e;
    }
    out.push_back(*type);
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
  }
  return out;
}

}  // namespace

Status RegisterAuditRoutes(Router& router, AdminApi::Impl& api) {
  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = "/api/admin/endpoints/keys/{key_id}/history",
       .access = Access::kAuditor,
       .summary = "A key's whole life, also after delete (secrets never included)",
       .tag = "Audit",
       .query_params = {{"as_of_seq", "Only events up to this sequence",
                         R"({"type":"integer","minimum":0})", false},
                        {"as_of", "Only events up to this time (RFC 3339)",
                         R"({"type":"string","format":"date-time"})", false},
                        {"include_health", "Include health reports (default true)",
                         R"({"type":"boolean"})", false}},
       .handler = [&api](const RequestPtr& req, Responder respond) {
         registry::QueryParams q = QueryOf(*req);
         registry::QueryReader reader(q);
         registry::AsOf as_of;
         registry::ReadAsOf(reader, as_of);
         std::optional<bool> health = reader.OptionalBool("include_health");
         if (Status s = reader.Finish(); !s.ok()) return respond(ErrorResponse(s.error()));
         std::string key_id(*req->PathParam("key_id"));
         api.Offload(respond, [&api, key_id, as_of, health]() -> Response {
           projections::KeyHistoryOptions options;
           options.include_health_reports = health.value_or(true);
           auto history = projections::BuildKeyHistory(api.log, key_id, options);
           if (!history.ok()) {
             if (history.error().code == ErrorCode::kNotFound) {
               return ErrorResponse(MakeError(ErrorCode::kNotFound, "Key " + key_id + " 不存在"));
             }
             return ErrorResponse(history.error());
           }
           uint64_t bound = UINT64_MAX;
           if (as_of.seq) bound = *as_of.seq;
           if (as_of.time) {
             auto at = projections::SequenceAtTime(api.log, *as_of.time);
             if (!at.ok()) return ErrorResponse(at.error());
             bound = std::min(bound, *at);
           }
           std::erase_if(history->entries,
                         [&](const auto& e) { return e.record.sequence > bound; });
           json::Writer w(4096);
           projections::WriteKeyHistoryJson(w, *history);
           return JsonOk(w.Take());
         });
       }}));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = "/api/admin/audit/events",
       .access = Access::kAuditor,
       .summary = "Events in order, filtered; answers a cursor (next_after)",
       .tag = "Audit",
       .query_params = {{"after", "Only sequences after this", R"({"type":"integer"})", false},
                        {"limit", "", R"({"type":"integer","minimum":1,"maximum":1000})", false},
                        {"stream", "", R"({"type":"string"})", false},
                        {"type", "Event type names, comma-separated", R"({"type":"string"})",
                         false},
                        {"actor", "", R"({"type":"string"})", false},
                        {"since", "", R"({"type":"string","format":"date-time"})", false},
                        {"until", "", R"({"type":"string","format":"date-time"})", false}},
       .handler = [&api](const RequestPtr& req, Responder respond) {
         auto query = registry::ParseAuditQuery(QueryOf(*req));
         if (!query.ok()) return respond(ErrorResponse(query.error()));
         auto types = TypesFrom(query->type);
         if (!types.ok()) return respond(ErrorResponse(types.error()));
         projections::EventFilter filter;
         filter.after = query->after;
         filter.stream = query->stream;
         filter.types = std::move(types).value();
         filter.actor = query->actor;
         filter.since_us = query->since;
         filter.until_us = query->until;
         const size_t limit = static_cast<size_t>(query->limit);
         api.Offload(respond, [&api, filter, limit]() -> Response {
           auto page = projections::QueryEvents(api.log, filter, limit, api.options.max_audit_scan);
           if (!page.ok()) return ErrorResponse(page.error());
           json::Writer w(4096);
           w.BeginObject().Key("events").BeginArray();
           for (const auto& r : page->events) projections::WriteEventJson(w, r);
           w.EndArray()
               .Member("next_after", page->next_after)
               .Member("at_head", page->at_head)
               .EndObject();
           return JsonOk(w.Take());
         });
       }}));

  KL_RETURN_IF_ERROR(RegisterAuditStreamRoute(router, api));

  KL_RETURN_IF_ERROR(router.Add(
      {.method = "GET",
       .pattern = "/api/admin/audit/checkpoint",
       .access = Access::kAuditor,
       .summary = "The head of the log, signed (HMAC-SHA256 under the keyring's checkpoint key)",
       .tag = "Audit",
       .handler = [&api](const RequestPtr&, Responder respond) {
         const events::Head head = api.log.GetHead();
         auto checkpoint = projections::MakeCheckpoint(api.keyring, head.sequence, head.hash,
                                                       events::SystemClockMicros());
         respond(JsonOk(projections::CheckpointJson(checkpoint)));
       }}));

  return router.Add(
      {.method = "GET",
       .pattern = "/api/admin/audit/digest",
       .access = Access::kAuditor,
       .summary = "Digest of the live projection state (compare with keyledger-rebuild)",
       .tag = "Audit",
       .query_params = {{"entities", "Also one digest per provider, endpoint and key",
                         R"({"type":"boolean"})", false}},
       .handler = [&api](const RequestPtr& req, Responder respond) {
         registry::QueryParams q = QueryOf(*req);
         registry::QueryReader reader(q);
         const bool entities = reader.OptionalBool("entities").value_or(false);
         if (Status s = reader.Finish(); !s.ok()) return respond(ErrorResponse(s.error()));
         api.Offload(respond, [&api, entities]() -> Response {
           return JsonOk(projections::DigestJson(*api.registry.Current(), entities));
         });
       }});
}

}  // namespace keyledger::api
