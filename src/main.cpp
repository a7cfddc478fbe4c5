// keyledgerd: assembles the server. Recovery (snapshot + log tail) finishes before the port is
// bound; SIGTERM/SIGINT stop accepting, finish in-flight requests, write a snapshot and close the
// store; SIGHUP reloads the tokens file. `keyledgerd token ...` manages the tokens file;
// `keyledgerd routes [--nginx]` prints the route table (or an nginx fragment) built by the same
// code as the served one, over an in-memory store. Options come from one table (ServerCommand,
// src/server_config.cpp) on the shared command-line layer (src/cli). Exit status
// (src/cli/exit_code.hpp): 0 a clean stop, 1 could not start or stop cleanly, 2 usage error.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "api/admin_api.hpp"
#include "api/auth.hpp"
#include "api/cors.hpp"
#include "api/http_server.hpp"
#include "api/logger.hpp"
#include "api/memory_metrics.hpp"
#include "api/metrics.hpp"
#include "api/route_table.hpp"
#include "api/router.hpp"
#include "api/token_cli.hpp"
#include "events/memory_event_log.hpp"
#include "events/secrets.hpp"
#include "events/store.hpp"
#include "src/cli/command_line.hpp"
#include "src/cli/exit_code.hpp"
#include "src/registry.hpp"
#include "src/server_config.hpp"

#ifdef KEYLEDGER_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#else
#include <malloc.h>
#endif

namespace {

using namespace keyledger;

// The allocator this binary runs on, for the ready line (CMake's KEYLEDGER_JEMALLOC).
std::string AllocatorName() {
#ifdef KEYLEDGER_WITH_JEMALLOC
  const char* version = nullptr;
  size_t size = sizeof(version);
  if (mallctl("version", static_cast<void*>(&version), &size, nullptr, 0) == 0 && version) {
    return std::string("jemalloc ") + version;
  }
  return "jemalloc";
#else
  return "libc";
#endif
}

// The allocator's own statistics for /metrics (keyledger_allocator_bytes{state}): how much of
// the resident set is live objects and how much is the allocator's retention.
api::MetricsRegistry::LabeledSamples AllocatorStats() {
  api::MetricsRegistry::LabeledSamples out;
#ifdef KEYLEDGER_WITH_JEMALLOC
  // The statistics are a snapshot taken at the last "epoch" write: refresh it first.
  uint64_t epoch = 1;
  size_t epoch_size = sizeof(epoch);
  if (mallctl("epoch", &epoch, &epoch_size, &epoch, epoch_size) != 0) return out;
  for (const char* state : {"allocated", "active", "resident", "retained", "mapped", "metadata"}) {
    size_t value = 0;
    size_t size = sizeof(value);
    const std::string name = std::string("stats.") + state;
    if (mallctl(name.c_str(), &value, &size, nullptr, 0) == 0) {
      out.push_back({{state}, static_cast<double>(value)});
    }
  }
#else
  const struct mallinfo2 info = ::mallinfo2();
  out.push_back({{"allocated"}, static_cast<double>(info.uordblks + info.hblkhd)});
  out.push_back({{"free"}, static_cast<double>(info.fordblks)});
  out.push_back({{"mmapped"}, static_cast<double>(info.hblkhd)});
#endif
  return out;
}

LogLevel LevelFrom(const std::string& name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "warning") return LogLevel::kWarning;
  if (name == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

int Fail(api::Logger& logger, std::string_view what, const Status& s) {
  logger.Log(LogLevel::kError, what, {{"error", s.ToString()}});
  return cli::ToInt(cli::ExitCode::kFailed);
}

// Metrics fed by the event log's and the registry's group commits.
struct CommitMetrics {
  explicit CommitMetrics(api::MetricsRegistry& m)
      : batch_requests(m.AddHistogram("keyledger_group_commit_requests",
                                      "Append requests per synced write (group commit).",
                                      {1, 2, 4, 8, 16, 32, 64, 128, 256, 512})
                           .Get()),
        fsync_seconds(m.AddHistogram("keyledger_group_commit_write_seconds",
                                     "Duration of the synced RocksDB write of a group.",
                                     {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                      0.05, 0.1, 0.25})
                          .Get()),
        appended_events(
            m.AddCounter("keyledger_appended_events_total", "Events appended to the log.").Get()),
        failed_writes(m.AddCounter("keyledger_failed_writes_total",
                                   "Synced writes that failed (their requests got 503).")
                          .Get()),
        commands(m.AddHistogram("keyledger_registry_group_commands",
                                "Commands decided per registry group.",
                                {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024})
                     .Get()) {}
  api::Histogram& batch_requests;
  api::Histogram& fsync_seconds;
  api::Counter& appended_events;
  api::Counter& failed_writes;
  api::Histogram& commands;
};

// Every connection and every open table file takes a descriptor; the usual soft limit (1,024) is
// far below what a busy server may need, so take what the hard limit allows (up to 65,536).
void RaiseOpenFileLimit(api::Logger& logger) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t wanted = std::min<rlim_t>(limit.rlim_max, 65536);
  if (limit.rlim_cur >= wanted) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = wanted;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    logger.Log(LogLevel::kWarning, "cannot raise the open file limit",
               {{"soft_limit", std::to_string(before)}});
  }
}

// The routes keyledgerd serves on --listen. Serve() and `keyledgerd routes` both build their
// router here, so the printed table and the nginx fragment are the served routes: a route added
// anywhere else would be missing from both.
Status RegisterServedRoutes(api::AdminApi& admin, api::Router& router) {
  return admin.Register(router);
}

// `keyledgerd routes ...`: the router assembled as Serve() assembles it (the metrics registry
// included, which adds /metrics), over an in-memory log and keyring with a throwaway master key,
// so no data directory, key or tokens file is needed and nothing is written.
int PrintRoutes(const std::vector<std::string>& args) {
  api::Logger logger(LogLevel::kError);
  LogSink sink = logger.AsSink();
  api::MetricsRegistry metrics;
  events::MemoryEventLog log;
  auto keyring = events::Keyring::Open(log, events::MasterKey::Generate(), sink);
  if (!keyring.ok()) return Fail(logger, "cannot open an in-memory keyring", keyring.status());
  registry::RegistryOptions reg_options;
  reg_options.log = &log;
  reg_options.keyring = keyring->get();
  reg_options.snapshot_every = 0;
  reg_options.log_sink = sink;
  auto reg = registry::Registry::Open(reg_options);
  if (!reg.ok()) return Fail(logger, "cannot open an in-memory registry", reg.status());
  int code = cli::ToInt(cli::ExitCode::kOk);
  {
    api::Router router;
    api::AdminApi admin(**reg, log, **keyring, logger, &metrics, api::AdminApiOptions{});
    if (Status s = RegisterServedRoutes(admin, router); !s.ok()) {
      return Fail(logger, "bad route table", s);
    }
    code = api::RunRoutesCommand(args, router, std::cout, std::cerr);
    admin.Shutdown();
  }
  if (Status s = (*reg)->Close(); !s.ok()) return Fail(logger, "closing the registry failed", s);
  return code;
}

int Serve(const ServerConfig& cfg) {
  api::Logger logger(LevelFrom(cfg.log_level));
  LogSink sink = logger.AsSink();
  RaiseOpenFileLimit(logger);
  api::MetricsRegistry metrics;
  CommitMetrics commit_metrics(metrics);

  // 1. The master key and the store (recovering its head from the log itself).
  events::MasterKeySource key_source;
  key_source.file = cfg.master_key_file;
  if (const char* env = std::getenv("KEYLEDGER_MASTER_KEY")) key_source.env_base64 = env;
  key_source.data_dir = cfg.data_dir;
  auto master = events::LoadMasterKey(key_source, sink);
  if (!master.ok()) return Fail(logger, "cannot load the master key", master.status());

  events::StoreConfig store_config;
  auto kind = events::ParseStoreKind(cfg.store);
  if (!kind.ok()) return Fail(logger, "bad --store", kind.status());
  store_config.kind = *kind;
  store_config.data_dir = cfg.data_dir;
  store_config.log = sink;
  store_config.block_cache_bytes = static_cast<size_t>(cfg.block_cache_mb) << 20;
  store_config.write_buffer_bytes = static_cast<size_t>(cfg.write_buffer_mb) << 20;
  store_config.on_group_commit = [&commit_metrics](const events::GroupCommitStats& s) {
    commit_metrics.batch_requests.Observe(static_cast<double>(s.requests));
    commit_metrics.fsync_seconds.Observe(static_cast<double>(s.write_micros) / 1e6);
    if (s.ok) {
      commit_metrics.appended_events.Inc(static_cast<double>(s.records));
    } else {
      commit_metrics.failed_writes.Inc();
    }
  };
  cli::CopyEtcdOptions(cfg, store_config);
  auto log = events::OpenStore(store_config);
  if (!log.ok()) return Fail(logger, "cannot open the event log", log.status());
  auto keyring = events::Keyring::Open(**log, std::move(master).value(), sink);
  if (!keyring.ok()) return Fail(logger, "cannot open the keyring", keyring.status());

  // 2. Projections: newest snapshot + tail, before the port is bound.
  registry::RegistryOptions reg_options;
  reg_options.log = log->get();
  reg_options.keyring = keyring->get();
  reg_options.snapshot_every = cfg.snapshot_every;
  reg_options.require_reveal_reason = cfg.require_reveal_reason;
  reg_options.echo_plaintext_on_create = cfg.echo_plaintext_on_create;
  reg_options.secret_names = events::SecretNames::FromList(cfg.secret_field_names);
  reg_options.log_sink = sink;
  reg_options.on_group = [&commit_metrics](size_t commands, size_t, int64_t) {
    commit_metrics.commands.Observe(static_cast<double>(commands));
  };
  auto reg = registry::Registry::Open(reg_options);
  if (!reg.ok()) return Fail(logger, "cannot recover the projections", reg.status());
  registry::Registry& registry = **reg;
  const events::EventLog& store = **log;

  metrics.AddCallbackGauge("keyledger_head_sequence", "Last sequence in the event log.",
                           [&store] { return static_cast<double>(store.GetHead().sequence); });
  metrics.AddCallbackGauge(
      "keyledger_projection_sequence",
      "Last sequence folded into the "
      "projections.",
      [&registry] { return static_cast<double>(registry.Current()->sequence); });
  metrics.AddCallbackGauge("keyledger_projection_lag_events",
                           "Events in the log not yet in the projections.", [&] {
                             auto head = store.GetHead().sequence;
                             auto seq = registry.Current()->sequence;
                             return static_cast<double>(head > seq ? head - seq : 0);
                           });
  metrics.AddCallbackGauge("keyledger_keys", "Provider keys.", [&registry] {
    return static_cast<double>(registry.Current()->keys.size());
  });
  metrics.AddCallbackGauge(
      "keyledger_open_circuits", "Key formats whose circuit breaker is open.", [&registry] {
        double open = 0;
        registry.Current()->keys.ForEach([&](const std::string&, const projections::KeyState& k) {
          for (const auto& [f, b] : k.circuit_breaker_by_format) {
            open += b.open ? 1 : 0;
          }
        });
        return open;
      });

  // 3. Auth: the tokens file (created with one admin token on first start) and JWTs.
  auto first_token = api::EnsureInitialAdminToken(cfg.tokens_file);
  if (!first_token.ok()) return Fail(logger, "cannot create the tokens file", first_token.status());
  api::AuthConfig auth_config;
  auth_config.tokens_file = cfg.tokens_file;
  if (!cfg.jwt_secret_file.empty()) {
    auto secret = api::ReadJwtSecretFile(cfg.jwt_secret_file);
    if (!secret.ok()) return Fail(logger, "cannot read the JWT secret", secret.status());
    auth_config.jwt_secret = std::move(secret).value();
  }
  auto auth = api::Authenticator::Create(std::move(auth_config), &logger, &metrics);
  if (!auth.ok()) return Fail(logger, "cannot load the tokens file", auth.status());

  // 4. Routes and the server.
  api::Router router;
  api::AdminApiOptions admin_options;
  admin_options.authenticator = auth->get();
  admin_options.view_cache_bytes = static_cast<size_t>(cfg.view_cache_mb) << 20;
  admin_options.min_seq_wait = std::chrono::milliseconds(cfg.min_seq_wait_ms);
  api::AdminApi admin(registry, **log, **keyring, logger, &metrics, admin_options);
  if (Status s = RegisterServedRoutes(admin, router); !s.ok()) {
    return Fail(logger, "bad route table", s);
  }
  // --metrics-listen: /metrics without a token, on an address the operator keeps private (as
  // Vault's and etcd's separate metrics listeners). Nothing else is served there.
  api::Router metrics_router;
  std::optional<api::HttpServer> metrics_server;
  if (!cfg.metrics_host.empty()) {
    Status s = metrics_router.Add({.method = "GET",
                                   .pattern = "/metrics",
                                   .access = api::Access::kPublic,
                                   .summary = "Prometheus metrics",
                                   .tag = "Ops",
                                   .handler = api::MetricsHandler(metrics)});
    if (!s.ok()) return Fail(logger, "bad metrics route", s);
    api::ServerConfig metrics_config;
    metrics_config.address = cfg.metrics_host;
    metrics_config.port = cfg.metrics_port;
    metrics_config.threads = 1;
    metrics_config.max_connections = 64;
    metrics_server.emplace(metrics_config, metrics_router, nullptr, logger, nullptr);
    if (Status st = metrics_server->Start(); !st.ok()) {
      return Fail(logger, "cannot start the metrics listener", st);
    }
    logger.Log(LogLevel::kInfo, "metrics listener ready",
               {{"metrics_url", metrics_server->base_url() + "/metrics"}});
  }
  api::ServerConfig server_config;
  server_config.address = cfg.host;
  server_config.port = cfg.port;
  server_config.threads = cfg.threads;
  if (!cfg.tls_cert.empty()) server_config.tls = api::TlsConfig{cfg.tls_cert, cfg.tls_key};
  if (!cfg.cors_origins.empty()) {
    server_config.cors = std::make_shared<const api::CorsPolicy>(cfg.cors_origins);
    logger.Log(LogLevel::kInfo, "CORS enabled", {{"origins", cfg.cors_origins_text}});
  }
  server_config.sse_buffer_bytes = static_cast<size_t>(cfg.sse_buffer_kb) << 10;
  api::HttpServer server(server_config, router, auth->get(), logger, &metrics);

  // The memory budget (README "Memory budget") and what each part of it holds, on /metrics.
  api::MemorySources memory;
  memory.budget.block_cache = store_config.block_cache_bytes;
  memory.budget.memtables = store_config.write_buffer_bytes;
  memory.budget.view_cache = admin_options.view_cache_bytes;
  memory.budget.sse_buffers = server_config.sse_buffer_bytes * admin_options.max_streams;
  memory.store = [&log] { return (*log)->MemoryUsage(); };
  memory.view_cache = [&admin] { return admin.ViewCacheBytes(); };
  memory.sse_buffers = [&server] { return server.sse_buffered_bytes(); };
  memory.allocator = AllocatorStats;
  api::RegisterMemoryMetrics(metrics, memory);
  if (Status s = server.Start(); !s.ok()) return Fail(logger, "cannot start the HTTP server", s);
  admin.SetReady(true);
  // The first token's banner goes out before the ready line, so whoever waits for "ready" (an
  // operator's script, the e2e harness) finds the token already printed.
  if (*first_token) {
    std::fputs(api::FirstTokenBanner(**first_token, cfg.tokens_file, server.base_url()).c_str(),
               stdout);
    std::fflush(stdout);
  }
  logger.Log(LogLevel::kInfo, "keyledgerd ready",
             {{"url", server.base_url()},
              {"data_dir", cfg.data_dir},
              {"head", std::to_string(store.GetHead().sequence)},
              {"keys", std::to_string(registry.Current()->keys.size())},
              {"allocator", AllocatorName()},
              {"memory_budget_mb", std::to_string(memory.budget.Total() >> 20)},
              {"block_cache_mb", std::to_string(cfg.block_cache_mb)},
              {"write_buffer_mb", std::to_string(cfg.write_buffer_mb)},
              {"view_cache_mb", std::to_string(cfg.view_cache_mb)},
              {"sse_buffers_mb", std::to_string(memory.budget.sse_buffers >> 20)}});

  // 5. Signals, handled on this thread (blocked everywhere else).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      Status s = (*auth)->Reload();
      // Streams opened with a token that is now revoked end here, without waiting for an event.
      if (s.ok()) admin.OnTokensReloaded();
      logger.Log(s.ok() ? LogLevel::kInfo : LogLevel::kError, "tokens file reloaded",
                 {{"status", s.ToString()}});
      continue;
    }
    logger.Log(LogLevel::kInfo, "shutting down", {{"signal", sig == SIGTERM ? "TERM" : "INT"}});
    break;
  }

  // 6. Orderly shutdown: no new requests, in-flight ones finish, then a snapshot and the store.
  admin.SetReady(false);
  admin.Shutdown();
  server.Stop();
  if (metrics_server) metrics_server->Stop();
  int code = cli::ToInt(cli::ExitCode::kOk);
  if (Status s = registry.Close(); !s.ok()) code = Fail(logger, "final snapshot failed", s);
  reg->reset();
  keyring->reset();
  if (Status s = (*log)->Close(); !s.ok()) code = Fail(logger, "closing the event log failed", s);
  logger.Log(LogLevel::kInfo, "stopped", {{"exit_code", std::to_string(code)}});
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the signals before any thread starts, so only sigwait() in Serve() sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (argc >= 2 && std::string_view(argv[1]) == "token") {
    std::vector<std::string> args(argv + 2, argv + argc);
    api::TokenCliOptions options;
    options.getenv = cli::SystemEnv;  // KEYLEDGER_DATA_DIR and KEYLEDGER_TOKENS_FILE, as Serve
    return api::RunTokenCommand(args, std::cout, std::cerr, options);
  }
  if (argc >= 2 && std::string_view(argv[1]) == "routes") {
    return PrintRoutes(std::vector<std::string>(argv + 2, argv + argc));
  }
  auto parsed = ParseServerArgs(argc, argv, cli::SystemEnv);
  if (!parsed.ok()) {
    std::fputs(cli::UsageErrorText("keyledgerd", parsed.error().message).c_str(), stderr);
    return cli::ToInt(cli::ExitCode::kUsage);
  }
  if (parsed->help) {
    std::fputs(parsed->help_text.c_str(), stdout);
    return cli::ToInt(cli::ExitCode::kOk);
  }
  return Serve(parsed->config);
}
