#pragma once
// Shared by the admin route files (api/*_routes.cpp); not part of the public API.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "api/admin_api.hpp"
#include "api/errors.hpp"
#include "api/worker_pool.hpp"
#include "projections/state.hpp"
#include "src/query_input.hpp"
#include "src/registry_commands.hpp"

namespace keyledger::api {

// Serialized JSON of views, cached for one state (sequence) under a key naming the view and its
// parameters ("grouped", "keys/<provider>?<skip>,<limit>"); everything is recomputed after the next
// commit. At most kMaxEntries views are kept (all dropped when full, as after a commit).
class ViewCache {
 public:
  static constexpr size_t kMaxEntries = 256;
  std::shared_ptr<const std::string> Get(const projections::State& s, const std::string& key,
                                         const std::function<std::string()>& compute);
  size_t size();

 private:
  std::mutex mu_;
  const projections::State* state_ = nullptr;  // identity of the cached state
  uint64_t sequence_ = 0;
  std::unordered_map<std::string, std::shared_ptr<const std::string>> views_;
};

class StreamHub;  // SSE subscribers (audit_routes.cpp)

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
  ViewCache view_cache;
  std::shared_ptr<StreamHub> hub;  // shared_ptr: complete only in audit_routes.cpp

  // Who, from where, why, If-Match and Idempotency-Key of a request (400 when a header is bad).
  Result<registry::RequestContext> Context(const Request& req) const;
  // Runs a command and answers with its result (ETag on single resources).
  void Submit(const RequestPtr& req, const Responder& respond,
              std::unique_ptr<registry::Command> command);
  // Runs `work` on the worker pool and answers with what it returns.
  void Offload(const Responder& respond, std::function<Response()> work);
  // The state now, or as of a sequence or time (replay; call from a worker only).
  Result<projections::StatePtr> StateAsOf(const registry::AsOf& as_of);
};

registry::QueryParams QueryOf(const Request& req);
Response JsonOk(std::string body);
Response WithEtag(Response r, uint64_t version);
Response ResultResponse(const Result<registry::CommandResult>& r);

Status RegisterKeyRoutes(Router& router, AdminApi::Impl& api);
Status RegisterProviderRoutes(Router& router, AdminApi::Impl& api);
Status RegisterAuditRoutes(Router& router, AdminApi::Impl& api);
// Health reads H1, H4-H6, RPM R1-R2 and adaptive RPM A1-A6 (health_routes.cpp).
Status RegisterHealthRoutes(Router& router, AdminApi::Impl& api);
Status RegisterSystemRoutes(Router& router, AdminApi::Impl& api);
void ShutdownStreams(AdminApi::Impl& api);
void RecheckStreams(AdminApi::Impl& api);

}  // namespace keyledger::api
