#include "api/admin_api.hpp"

#include <exception>

#include "api/admin_api_internal.hpp"
#include "api/audit_stream.hpp"
#include "api/metrics.hpp"
#include "api/openapi.hpp"
#include "api/openapi_schemas.hpp"
#include "events/crypto.hpp"
#include "events/json_writer.hpp"
#include "events/record.hpp"
#include "projections/domain.hpp"
#include "projections/snapshot.hpp"
#include "src/idempotency.hpp"

namespace keyledger::api {

namespace {

constexpr size_t kMaxReasonBytes = events::kMaxReasonBytes;

// "3", "\"3\"" or "W/\"3\"" -> 3. "*" -> nullopt (any version).
Result<std::optional<uint64_t>> ParseIfMatch(std::string_view v) {
  auto bad = [] {
    return MakeError(ErrorCode::kInvalidArgument,
                     "If-Match must be an ETag returned by this server, such as \"3\"");
  };
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v == "*") return std::optional<uint64_t>();
  if (v.substr(0, 2) == "W/") v.remove_prefix(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty() || v.size() > 19) return bad();
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return bad();
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return std::optional<uint64_t>(n);
}

bool IsVisibleAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

}  // namespace

AdminApi::Impl::Impl(registry::Registry& r, events::EventLog& l, events::Keyring& k, Logger& lg,
                     MetricsRegistry* m, AdminApiOptions o)
    : registry(r),
      log(l),
      keyring(k),
      logger(lg),
      metrics(m),
      options(o),
      workers(std::max(1, o.workers)),
      view_cache(o.view_cache_bytes),
      gate(std::make_shared<SeqGate>([&r] { return r.Current()->sequence; })) {
  // The commit listener outlives nothing it points at: it holds the gate, which a stopped
  // AdminApi leaves inert.
  registry.AddCommitListener([g = gate](uint64_t, uint64_t) { g->Notify(); });
}

AdminApi::Impl::~Impl() { gate->Stop(); }

Result<registry::RequestContext> AdminApi::Impl::Context(const Request& req) const {
  registry::RequestContext c;
  c.actor = std::string(req.Actor());
  c.client_ip = req.client_ip;
  c.request_id = req.request_id;
  if (auto reason = req.Header("x-audit-reason")) {
    std::string_view r = *reason;
    if (r.size() > kMaxReasonBytes || !events::IsValidUtf8(r) ||
        std::any_of(r.begin(), r.end(),
                    [](char ch) { return static_cast<unsigned char>(ch) < 0x20 && ch != '\t'; })) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "X-Audit-Reason must be UTF-8 text of at most 1024 bytes without control "
                       "characters");
    }
    if (!r.empty()) c.reason = std::string(r);
  }
  if (auto if_match = req.Header("if-match")) {
    KL_ASSIGN_OR_RETURN(c.if_match, ParseIfMatch(*if_match));
  }
  if (auto key = req.Header("idempotency-key")) {
    if (key->empty() || key->size() > registry::kMaxIdempotencyKeyBytes || !IsVisibleAscii(*key)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "Idempotency-Key must be 1-255 visible ASCII characters");
    }
    c.idempotency_key = std::string(*key);
    // The whole request: method, path, query parameters (decoded, in order, length-prefixed so
    // no two lists collide: PATCH .../health/keys/{id}?api_format=X is another request for each
    // X) and body. Without a query the material is what it was before parameters were
    // included, so records stored by earlier versions stay valid.
    std::string material = req.method + "\n" + req.path;
    for (const auto& [name, value] : req.query) {
      material += "\n?" + std::to_string(name.size()) + ':' + name + std::to_string(value.size()) +
                  ':' + value;
    }
    material += "\n" + req.body;
    c.request_fingerprint = crypto::HexEncode(crypto::AsBytes(crypto::Sha256(material)));
  }
  return c;
}

void AdminApi::Impl::Submit(const RequestPtr& req, const Responder& respond,
                            std::unique_ptr<registry::Command> command) {
  auto ctx = Context(*req);
  if (!ctx.ok()) {
    respond(ErrorResponse(ctx.error()));
    return;
  }
  registry.Submit(std::move(command), std::move(ctx).value(),
                  [respond](Result<registry::CommandResult> r) { respond(ResultResponse(r)); });
}

void AdminApi::Impl::Offload(const Responder& respond, std::function<Response()> work) {
  bool posted = workers.Post([respond, work = std::move(work)] {
    Response r;
    try {
      r = work();
    } catch (const std::exception& e) {
      r = SystemErrorResponse(e.what());
    }
    respond(std::move(r));
  });
  if (!posted) respond(ErrorResponse(MakeError(ErrorCode::kUnavailable, "shutting down")));
}

Result<projections::StatePtr> AdminApi::Impl::StateAsOf(const registry::AsOf& as_of) {
  projections::StatePtr now = registry.Current();
  if (as_of.empty()) return now;
  uint64_t seq = now->sequence;
  if (as_of.seq) seq = std::min(seq, *as_of.seq);
  if (as_of.time) {
    KL_ASSIGN_OR_RETURN(uint64_t at, projections::SequenceAtTime(log, *as_of.time));
    seq = std::min(seq, at);
  }
  if (seq == now->sequence) return now;
  KL_ASSIGN_OR_RETURN(projections::State s,
                      projections::StateAsOf(log, &registry.snapshots(), seq));
  return projections::StatePtr(std::make_shared<const projections::State>(std::move(s)));
}

int64_t AdminApi::Impl::LiveNowUs(const projections::State& state) const {
  return std::max(registry.options().clock(), state.time_us);
}

registry::QueryParams QueryOf(const Request& req) {
  registry::QueryParams q;
  q.items = req.query;
  return q;
}

void ServeView(AdminApi::Impl& api, const registry::AsOf& as_of, StateView view,
               const Responder& respond) {
  if (as_of.empty() && !view.offload) {
    projections::StatePtr state = api.registry.Current();
    if (view.cache_key.empty()) return respond(view.render(*state, api.LiveNowUs(*state)));
    auto answer = api.view_cache.Get(*state, view.cache_key,
                                     [&] { return view.render(*state, api.LiveNowUs(*state)); });
    return respond(*answer);
  }
  api.Offload(respond, [&api, as_of, render = std::move(view.render)]() -> Response {
    auto state = api.StateAsOf(as_of);
    if (!state.ok()) return ErrorResponse(state.error());
    const projections::State& s = **state;
    return render(s, as_of.empty() ? api.LiveNowUs(s) : as_of.time.value_or(s.time_us));
  });
}

std::optional<registry::AsOf> FinishAsOfQuery(registry::QueryReader& reader,
                                              const Responder& respond) {
  registry::AsOf as_of;
  registry::ReadAsOf(reader, as_of);
  if (Status s = reader.Finish(); !s.ok()) {
    respond(ErrorResponse(s.error()));
    return std::nullopt;
  }
  return as_of;
}

Handler ViewRoute(AdminApi::Impl& api, PlanView plan, AsOfParams as_of_params) {
  return [&api, plan = std::move(plan), as_of_params](const RequestPtr& req, Responder respond) {
    const registry::QueryParams q = QueryOf(*req);
    registry::QueryReader reader(q);
    ViewPlan planned = plan(*req, reader);
    std::optional<registry::AsOf> as_of = registry::AsOf{};
    if (as_of_params == AsOfParams::kAccepted) {
      as_of = FinishAsOfQuery(reader, respond);
    } else if (Status s = reader.Finish(); !s.ok()) {
      respond(ErrorResponse(s.error()));
      as_of.reset();
    }
    if (!as_of) return;  // answered: 422
    if (auto* answer = std::get_if<Response>(&planned)) return respond(std::move(*answer));
    ServeView(api, *as_of, std::get<StateView>(std::move(planned)), respond);
  };
}

Handler ViewRoute(AdminApi::Impl& api, StateView view) {
  return ViewRoute(api, [view = std::move(view)](const Request&, registry::QueryReader&) {
    return ViewPlan(view);
  });
}

std::vector<QueryParamDoc> AsOfDocs(std::string_view what) {
  const std::string the = "The " + std::string(what);
  return {{"as_of_seq", the + " as of this event sequence (time travel)",
           R"({"type":"integer","minimum":0})", false},
          {"as_of", the + " as of this time (RFC 3339)",
           R"({"type":"string","format":"date-time"})", false}};
}

std::vector<QueryParamDoc> WithAsOf(std::vector<QueryParamDoc> docs) {
  for (auto& d : AsOfDocs()) docs.push_back(std::move(d));
  return docs;
}

Response JsonOk(std::string body) { return Response::Json(200, std::move(body)); }

Response WithEtag(Response r, uint64_t version) {
  r.headers.emplace_back("ETag", "\"" + std::to_string(version) + "\"");
  return r;
}

Response ResultResponse(const Result<registry::CommandResult>& r) {
  if (!r.ok()) return ErrorResponse(r.error());
  Response out = Response::Json(r->status, r->body);
  if (r->etag) out = WithEtag(std::move(out), *r->etag);
  if (r->replayed) out.headers.emplace_back("Idempotent-Replayed", "true");
  return out;
}

namespace {

std::string CapabilitiesJson(bool user_configurable_only) {
  json::Writer w;
  w.BeginObject().Key("capabilities").BeginArray();
  for (const auto& c : domain::kCapabilities) {
    if (user_configurable_only && c.config_mode != "user_configurable") continue;
    w.BeginObject()
        .Member("name", c.name)
        .Member("display_name", c.display_name)
        .Member("short_name", c.short_name)
        .Member("description", c.description)
        .Member("match_mode", c.match_mode)
        .Member("config_mode", c.config_mode)
        .EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

Status RegisterOpsRoutes(Router& router, const Router& documented, AdminApi::Impl& api) {
  KL_RETURN_IF_ERROR(router.Add({.method = "GET",
                                 .pattern = "/healthz",
                                 .access = Access::kPublic,
                                 .summary = "The process is up",
                                 .tag = "Ops",
                                 .handler = [](const RequestPtr&, Responder respond) {
                                   respond(JsonOk(R"({"status":"ok"})"));
                                 }}));
  KL_RETURN_IF_ERROR(router.Add({.method = "GET",
                                 .pattern = "/readyz",
                                 .access = Access::kPublic,
                                 .summary = "Recovered and accepting writes",
                                 .tag = "Ops",
                                 // Public, so it says nothing but ready or not: figures such as
                                 // the head sequence are on /metrics, for auditors.
                                 .handler = [&api](const RequestPtr&, Responder respond) {
                                   if (!api.ready.load()) {
                                     return respond(
                                         Response::Json(503, R"({"status":"not_ready"})"));
                                   }
                                   // A shared store without quorum: reads are still served, writes
                                   // are not. The reason is an operator's (no secret in it; no
                                   // figures either).
                                   if (Status health = api.log.Health(); !health.ok()) {
                                     json::Writer w;
                                     w.BeginObject()
                                         .Member("status", "not_ready")
                                         .Member("reason", health.error().message)
                                         .EndObject();
                                     return respond(Response::Json(503, w.Take()));
                                   }
                                   respond(Response::Json(200, R"({"status":"ready"})"));
                                 }}));
  KL_RETURN_IF_ERROR(router.Add({.method = "GET",
                                 .pattern = "/api/capabilities",
                                 .access = Access::kPublic,
                                 .summary = "Key capability catalogue",
                                 .tag = "Capabilities",
                                 .handler = [](const RequestPtr&, Responder respond) {
                                   respond(JsonOk(CapabilitiesJson(false)));
                                 }}));
  KL_RETURN_IF_ERROR(router.Add({.method = "GET",
                                 .pattern = "/api/capabilities/user-configurable",
                                 .access = Access::kPublic,
                                 .summary = "User-configurable key capabilities",
                                 .tag = "Capabilities",
                                 .handler = [](const RequestPtr&, Responder respond) {
                                   respond(JsonOk(CapabilitiesJson(true)));
                                 }}));
  if (api.metrics != nullptr) {
    // Key counts, open breakers and authentication failures are for auditors (or for a
    // separate --metrics-listen address, see main), not for anyone who can reach the port.
    KL_RETURN_IF_ERROR(router.Add({.method = "GET",
                                   .pattern = "/metrics",
                                   .access = Access::kAuditor,
                                   .summary = "Prometheus metrics",
                                   .tag = "Ops",
                                   .handler = MetricsHandler(*api.metrics)}));
  }
  return router.Add({.method = "GET",
                     .pattern = "/openapi.json",
                     .access = Access::kPublic,
                     .summary = "This API's OpenAPI 3.1 document",
                     .tag = "Ops",
                     .handler = OpenApiHandler(documented, OpenApiInfo{}, AdminApiSchemas())});
}

// Delivers to the route's Responder with X-Keyledger-Seq added.
class SeqSink final : public ResponseSink {
 public:
  SeqSink(const registry::Registry& registry, Responder next, std::optional<uint64_t> fixed)
      : registry_(registry), next_(std::move(next)), fixed_(fixed) {}
  void Finish(Response response) override {
    response.headers.emplace_back(kSeqHeader, Seq());
    next_.Respond(std::move(response));
  }
  std::shared_ptr<EventStream> StartStream(std::vector<NameValue> headers) override {
    headers.emplace_back(kSeqHeader, Seq());
    return next_.StartEventStream(std::move(headers));
  }

 private:
  static constexpr const char* kSeqHeader = "X-Keyledger-Seq";
  std::string Seq() const {
    return std::to_string(fixed_ ? *fixed_ : registry_.Current()->sequence);
  }
  const registry::Registry& registry_;
  const Responder next_;
  const std::optional<uint64_t> fixed_;
};

// A read answers from the state it started on (or a later one), so the sequence seen before
// the handler is what the answer reflects at least; a write answers after its commit was
// published, so the state then includes it.
Responder SeqResponder(const AdminApi::Impl& api, const Request& req, const Responder& respond) {
  const bool read = req.method == "GET" || req.method == "HEAD";
  std::optional<uint64_t> fixed;
  if (read) fixed = api.registry.Current()->sequence;
  return Responder(std::make_shared<SeqSink>(api.registry, respond, fixed));
}

std::optional<uint64_t> ParseMinSeq(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty() || v.size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

Response MinSeqNotReached(uint64_t applied, uint64_t wanted, std::chrono::milliseconds waited) {
  Response r = Response::Json(
      503, ErrorBody("system_error", "this node has applied sequence " + std::to_string(applied) +
                                         "; X-Keyledger-Min-Seq " + std::to_string(wanted) +
                                         " not reached within " + std::to_string(waited.count()) +
                                         " ms"));
  r.headers.emplace_back("Retry-After", std::to_string(kRetryAfterSeconds));
  return r;
}

void RunHandler(const Handler& handler, const RequestPtr& req, const Responder& respond) {
  try {
    handler(req, respond);
  } catch (const std::exception& e) {
    if (!respond.answered()) respond(SystemErrorResponse(e.what()));
  } catch (...) {
    if (!respond.answered()) respond(SystemErrorResponse("non-standard exception"));
  }
}

// X-Keyledger-Seq on every answer; X-Keyledger-Min-Seq parks the request on the gate.
Handler WithSeq(AdminApi::Impl& api, Handler inner) {
  return [&api, inner = std::move(inner)](const RequestPtr& req, Responder respond) {
    const std::optional<std::string_view> header = req->Header("x-keyledger-min-seq");
    if (!header) return inner(req, SeqResponder(api, *req, respond));
    const std::optional<uint64_t> wanted = ParseMinSeq(*header);
    if (!wanted) {
      return SeqResponder(api, *req, respond)(ErrorResponse(
          MakeError(ErrorCode::kInvalidArgument,
                    "X-Keyledger-Min-Seq must be an event sequence number (decimal digits)")));
    }
    const std::chrono::milliseconds wait = api.options.min_seq_wait;
    const bool parked = api.gate->Wait(
        *wanted, wait, [&api, inner, req, respond, wanted, wait](SeqGate::Outcome outcome) {
          const Responder out = SeqResponder(api, *req, respond);
          if (outcome == SeqGate::Outcome::kReached) return RunHandler(inner, req, out);
          out(MinSeqNotReached(api.registry.Current()->sequence, *wanted, wait));
        });
    if (!parked) {
      SeqResponder(api, *req, respond)(MinSeqNotReached(api.registry.Current()->sequence, *wanted,
                                                        std::chrono::milliseconds(0)));
    }
  };
}

}  // namespace

AdminApi::AdminApi(registry::Registry& registry, events::EventLog& log, events::Keyring& keyring,
                   Logger& logger, MetricsRegistry* metrics, AdminApiOptions options)
    : impl_(std::make_unique<Impl>(registry, log, keyring, logger, metrics, options)) {}

AdminApi::~AdminApi() { Shutdown(); }

Status AdminApi::Register(Router& router) {
  // The routes go into `inner` first and then, each wrapped by WithSeq, into `router`, in the
  // same order.
  Router inner;
  // Aether's /api/admin/endpoints router includes the endpoint CRUD routes first, then keys and
  // health (aether-spec.md §1.2); Starlette tries routes in that order.
  KL_RETURN_IF_ERROR(RegisterProviderRoutes(inner, *impl_));
  // The health, RPM and adaptive routes share no path with the key routes, so their place does
  // not change matching; before the keys, their DELETEs on a key are listed before K6's.
  KL_RETURN_IF_ERROR(RegisterHealthRoutes(inner, *impl_));
  KL_RETURN_IF_ERROR(RegisterKeyRoutes(inner, *impl_));
  KL_RETURN_IF_ERROR(RegisterAuditRoutes(inner, *impl_));
  KL_RETURN_IF_ERROR(RegisterSystemRoutes(inner, *impl_));
  KL_RETURN_IF_ERROR(RegisterOpsRoutes(inner, router, *impl_));
  for (const RouteSpec* spec : inner.Routes()) {
    RouteSpec wrapped = *spec;
    wrapped.handler = WithSeq(*impl_, std::move(wrapped.handler));
    KL_RETURN_IF_ERROR(router.Add(std::move(wrapped)));
  }
  return Status::Ok();
}

void AdminApi::SetReady(bool ready) { impl_->ready = ready; }

size_t AdminApi::ViewCacheBytes() const { return impl_->view_cache.bytes(); }

void AdminApi::OnTokensReloaded() { RecheckStreams(*impl_); }

void AdminApi::Shutdown() {
  impl_->gate->Stop();  // parked requests answer 503 now
  ShutdownStreams(*impl_);
  impl_->workers.Stop();
}

}  // namespace keyledger::api
