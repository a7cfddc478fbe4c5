#pragma once
// Shared by the admin route files (api/*_routes.cpp); not part of the public API.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/admin_api.hpp"
#include "api/errors.hpp"
#include "api/seq_gate.hpp"
#include "api/view_cache.hpp"
#include "api/worker_pool.hpp"
#include "projections/state.hpp"
#include "src/query_input.hpp"
#include "src/registry_commands.hpp"

namespace keyledger::api {

class StreamHub;  // the audit stream's subscribers (audit_stream.hpp)

struct AdminApi::Impl {
  Impl(registry::Registry& r, events::EventLog& l, events::Keyring& k, Logger& lg,
       MetricsRegistry* m, AdminApiOptions o);
  ~Impl();

  registry::Registry& registry;
  events::EventLog& log;
  events::Keyring& keyring;
  Logger& logger;
  MetricsRegistry* metrics;
  AdminApiOptions options;
  WorkerPool workers;
  std::atomic<bool> ready{false};
  AnswerCache view_cache;          // answers of read routes of the state now (ServeView)
  std::shared_ptr<StreamHub> hub;  // shared_ptr: complete only in audit_stream.cpp
  // Requests waiting for X-Keyledger-Min-Seq; shared with the registry's commit listener.
  std::shared_ptr<SeqGate> gate;

  // Who, from where, why, If-Match and Idempotency-Key of a request (400 when a header is bad).
  Result<registry::RequestContext> Context(const Request& req) const;
  // Runs a command and answers with its result (ETag on single resources).
  void Submit(const RequestPtr& req, const Responder& respond,
              std::unique_ptr<registry::Command> command);
  // Runs `work` on the worker pool and answers with what it returns.
  void Offload(const Responder& respond, std::function<Response()> work);
  // The state now, or as of a sequence or time (replay; call from a worker only).
  Result<projections::StatePtr> StateAsOf(const registry::AsOf& as_of);
  // The time a view of the state now is judged at: the registry's clock, never before the
  // state's last event.
  int64_t LiveNowUs(const projections::State& state) const;
};

registry::QueryParams QueryOf(const Request& req);

// ---- read routes: a view of the state now, or as of as_of_seq / as_of ----
//
// A read of the state now renders on the I/O thread (from the view cache when the view names a
// cache key); an as-of read replays the state on the worker pool and renders there. Both answer
// through the Responder.

struct StateView {
  // The answer from `state` (404s included). `now_us`: for a read of the state now, LiveNowUs;
  // for an as-of read, the requested time or else the state's last event time, so that time
  // windows are judged as they were then. Runs on an I/O thread or a worker; reads only `state`.
  std::function<Response(const projections::State& state, int64_t now_us)> render;
  // Non-empty: a read of the state now is answered from Impl::view_cache under this key, which
  // must name the view and every parameter it depends on. Only for views that ignore now_us.
  std::string cache_key{};
  // True: a read of the state now renders on the worker pool too (views that also scan the log).
  bool offload = false;
};

// Answers `view` of the state now (as_of empty) or as of `as_of`.
void ServeView(AdminApi::Impl& api, const registry::AsOf& as_of, StateView view,
               const Responder& respond);

// Reads as_of_seq / as_of (after whatever the route read before) and finishes the query: the
// point to read at, or nullopt once a 422 naming every bad parameter has been answered.
std::optional<registry::AsOf> FinishAsOfQuery(registry::QueryReader& reader,
                                              const Responder& respond);

// What a read route plans from its request: a view to serve, or an answer that needs no state
// (a 404 for a name that cannot exist).
using ViewPlan = std::variant<Response, StateView>;
// Reads the route's own query parameters from `reader` (a bad one is collected there, not
// answered) and plans the answer.
using PlanView = std::function<ViewPlan(const Request& req, registry::QueryReader& reader)>;

enum class AsOfParams : uint8_t {
  kAccepted,  // as_of_seq / as_of are read after the route's own parameters
  kNone,      // the route reads the state now only
};

// The handler of a read route: the route's own parameters (`plan`), then as_of_seq / as_of, a 422
// for every bad one, else `plan`'s answer or its view served by ServeView.
Handler ViewRoute(AdminApi::Impl& api, PlanView plan, AsOfParams as_of = AsOfParams::kAccepted);
// A read route without query parameters of its own: `view` now or as of as_of_seq / as_of.
Handler ViewRoute(AdminApi::Impl& api, StateView view);

// The OpenAPI documentation of as_of_seq and as_of: "The <what> as of this event sequence (time
// travel)", "The <what> as of this time (RFC 3339)". WithAsOf appends them to `docs`.
std::vector<QueryParamDoc> AsOfDocs(std::string_view what = "view");
std::vector<QueryParamDoc> WithAsOf(std::vector<QueryParamDoc> docs);

Response JsonOk(std::string body);
Response WithEtag(Response r, uint64_t version);
Response ResultResponse(const Result<registry::CommandResult>& r);

Status RegisterKeyRoutes(Router& router, AdminApi::Impl& api);
Status RegisterProviderRoutes(Router& router, AdminApi::Impl& api);
Status RegisterAuditRoutes(Router& router, AdminApi::Impl& api);
// Health reads H1, H4-H6, RPM R1-R2 and adaptive RPM A1-A6 (health_routes.cpp).
Status RegisterHealthRoutes(Router& router, AdminApi::Impl& api);
Status RegisterSystemRoutes(Router& router, AdminApi::Impl& api);

}  // namespace keyledger::api
