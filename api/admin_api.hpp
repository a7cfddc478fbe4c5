#pragma once
// The domain routes of keyledgerd: Aether's provider-key admin API (aether-spec.md §8, §10, §11,
// §4.6) with DESIGN.md's differences, plus what Aether lacks (audit, time travel, health
// reports, checkpoints, digests) and the operational routes (/healthz, /readyz, /metrics,
// /openapi.json).
//
// Handlers are thin: query/body -> validated DTO (src/commands.hpp, src/query_input.hpp) ->
// intent -> registry command; reads come from the registry's immutable state. Work that may take
// long (time travel, audit scans, history) runs on a small worker pool, never on an I/O thread.
//
// Ownership: AdminApi borrows everything it is given; all of it must outlive it. Shutdown()
// ends SSE streams and drains the worker pool; call it before stopping the HTTP server.

#include <chrono>
#include <memory>

#include "api/handler.hpp"
#include "api/logger.hpp"
#include "api/metrics.hpp"
#include "api/router.hpp"
#include "api/view_cache.hpp"
#include "events/event_log.hpp"
#include "events/secrets.hpp"
#include "src/registry.hpp"

namespace keyledger::api {

class Authenticator;

inline constexpr size_t kDefaultMaxAuditStreams = 64;
inline constexpr std::chrono::milliseconds kDefaultMinSeqWait{5000};

struct AdminApiOptions {
  // Worker threads for long reads (time travel, audit queries, history). Default 2.
  int workers = 2;
  // Records one audit query may examine before answering with a cursor. Default 100,000.
  size_t max_audit_scan = 100'000;
  // Events an SSE subscriber may ask to replay with ?after= before live delivery. Default 10,000.
  size_t max_stream_backlog = 10'000;
  // Audit streams (SSE) open at once; one more is refused with 429. Default 64.
  size_t max_streams = kDefaultMaxAuditStreams;
  // Bytes of views the read routes may keep cached (api/view_cache.hpp; --view-cache-mb).
  // Default kDefaultViewCacheBytes (16 MiB); 0 caches nothing.
  size_t view_cache_bytes = kDefaultViewCacheBytes;
  // How long a request with X-Keyledger-Min-Seq: N waits for this node to apply N before it is
  // answered 503 (--min-seq-wait-ms). Default kDefaultMinSeqWait (5 s).
  std::chrono::milliseconds min_seq_wait = kDefaultMinSeqWait;
  // Re-checks each open stream's token before every delivery and on OnTokensReloaded(), and
  // ends the stream when it no longer grants the auditor role. Borrowed; null: never re-checked.
  Authenticator* authenticator = nullptr;
};

class AdminApi {
 public:
  AdminApi(registry::Registry& registry, events::EventLog& log, events::Keyring& keyring,
           Logger& logger, MetricsRegistry* metrics, AdminApiOptions options = {});
  ~AdminApi();
  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

  // Registers every route, in Aether's order where it matters (Starlette matching). Every
  // answer of these routes carries X-Keyledger-Seq (the sequence this node had applied: for a
  // read, when it was served; for a write, after it committed), and a request may send
  // X-Keyledger-Min-Seq: N to be served only once this node has applied N (waiting at most
  // AdminApiOptions::min_seq_wait without holding an I/O thread, else 503; a malformed value
  // is 400). events/ETCD.md "Several nodes".
  Status Register(Router& router);
  // True once recovery finished (GET /readyz); /readyz is also not ready while the store's
  // Health() is an error (no etcd quorum), and says why.
  void SetReady(bool ready);
  // The tokens file was reloaded (SIGHUP): end the audit streams whose token was revoked.
  void OnTokensReloaded();
  void Shutdown();
  // Bytes the view cache holds now (keyledger_memory_bytes{component="view_cache"}).
  size_t ViewCacheBytes() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace keyledger::api
