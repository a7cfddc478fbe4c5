#include "src/server_config.hpp"

#include <cctype>
#include <charconv>

namespace keyledger {

Status SplitListen(std::string_view listen, std::string& host, uint16_t& port) {
  auto bad = [&] {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--listen must be HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080), got '" +
                         std::string(listen) + "'");
  };
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad();
  std::string_view h = listen.substr(0, colon);
  std::string_view p = listen.substr(colon + 1);
  if (h.front() == '[') {
    if (h.back() != ']') return bad();
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return bad();
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (ec != std::errc() || ptr != p.data() + p.size() || value > 65535 || h.empty()) return bad();
  host = h == "localhost" ? "127.0.0.1" : std::string(h);
  port = static_cast<uint16_t>(value);
  return Status::Ok();
}

Result<std::vector<std::string>> ParseCorsOrigins(std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    const size_t comma = text.find(',');
    std::string_view entry = text.substr(0, comma);
    while (!entry.empty() && std::isspace(static_cast<unsigned char>(entry.front()))) {
      entry.remove_prefix(1);
    }
    while (!entry.empty() && std::isspace(static_cast<unsigned char>(entry.back()))) {
      entry.remove_suffix(1);
    }
    if (!entry.empty()) {
      auto bad = [&] {
        return MakeError(ErrorCode::kInvalidArgument,
                         "--cors-origins: '" + std::string(entry) +
                             "' is not an origin such as https://admin.example.com or "
                             "http://localhost:5173 (scheme and host in lower case, an optional "
                             "port, no path or trailing '/'), nor '*'");
      };
      if (entry != "*") {
        std::string_view rest = entry;
        if (rest.starts_with("https://")) {
          rest.remove_prefix(8);
        } else if (rest.starts_with("http://")) {
          rest.remove_prefix(7);
        } else {
          return bad();
        }
        if (rest.empty()) return bad();
        for (char ch : rest) {
          const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                          ch == '-' || ch == ':' || ch == '[' || ch == ']';
          if (!ok) return bad();
        }
      }
      if (out.size() >= kMaxCorsOrigins) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "--cors-origins: at most " + std::to_string(kMaxCorsOrigins) + " origins");
      }
      out.emplace_back(entry);
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

Status CheckStoreOptions(ServerConfig& c) {
  KL_RETURN_IF_ERROR(cli::SplitEtcdEndpoints(c));
  const bool etcd = c.store == "etcd";
  if (etcd && c.etcd_endpoints.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--store etcd needs --etcd-endpoints");
  }
  if (!etcd && cli::AnyEtcdOption(c)) {
    return MakeError(ErrorCode::kInvalidArgument, "the --etcd-* options need --store etcd");
  }
  return cli::CheckEtcdDetails(c);
}

cli::Command ServerCommand() {
  const ServerConfig d;
  cli::Command cmd("keyledgerd");
  cmd.Usage(
      "usage: keyledgerd [OPTIONS]\n"
      "       keyledgerd token create|revoke|list ...   (see keyledgerd token --help)\n"
      "       keyledgerd routes [--nginx]                (see keyledgerd routes --help)\n\n"
      "keyledgerd, the keyledger server.\n\n"
      "Every option can also be set through the environment variable named after it\n"
      "(--data-dir as KEYLEDGER_DATA_DIR, and so on); the option wins. The master key may be\n"
      "given base64 in KEYLEDGER_MASTER_KEY.\n");
  cmd.Epilogue(
      "Exit status: 0 stopped cleanly (SIGTERM or SIGINT), 1 could not start or stop cleanly,\n"
      "2 usage error.\n");
  using Kind = cli::Option::Kind;
  cmd.Add({.name = "listen",
           .value_name = "HOST:PORT",
           .help = "address and port to serve ([::1]:8080 for IPv6)",
           .default_value = d.listen,
           .env = "KEYLEDGER_LISTEN"})
      .Add({.name = "data-dir",
            .value_name = "DIR",
            .help = "data directory (RocksDB event log or, with --store etcd, the node's "
                    "snapshots; development master key, tokens file)",
            .default_value = d.data_dir,
            .env = "KEYLEDGER_DATA_DIR"})
      .Add({.name = "threads",
            .value_name = "N",
            .help = "HTTP I/O threads, 1 to 256",
            .default_value = std::to_string(d.threads),
            .env = "KEYLEDGER_THREADS"})
      .Add({.name = "master-key-file",
            .value_name = "FILE",
            .help = "32-byte master key, raw or base64 (default: KEYLEDGER_MASTER_KEY, else "
                    "<data-dir>/master.key, created on first start for development)",
            .env = "KEYLEDGER_MASTER_KEY_FILE"})
      .Add({.name = "tokens-file",
            .value_name = "FILE",
            .help = "management tokens (default <data-dir>/tokens.json)",
            .env = "KEYLEDGER_TOKENS_FILE"})
      .Add({.name = "jwt-secret-file",
            .value_name = "FILE",
            .help = "HS256 secret: also accept Aether-compatible JWTs",
            .env = "KEYLEDGER_JWT_SECRET_FILE"})
      .Add({.name = "tls-cert",
            .value_name = "FILE",
            .help = "PEM certificate chain: serve HTTPS",
            .env = "KEYLEDGER_TLS_CERT"})
      .Add({.name = "tls-key",
            .value_name = "FILE",
            .help = "PEM private key for --tls-cert",
            .env = "KEYLEDGER_TLS_KEY"})
      .Add({.name = "snapshot-every",
            .value_name = "N",
            .help = "events between projection snapshots (0: only at shutdown)",
            .default_value = std::to_string(d.snapshot_every),
            .env = "KEYLEDGER_SNAPSHOT_EVERY"})
      .Add({.name = "require-reveal-reason",
            .kind = Kind::kSwitch,
            .help = "refuse reveal without an X-Audit-Reason header",
            .env = "KEYLEDGER_REQUIRE_REVEAL_REASON"})
      .Add({.name = "echo-plaintext-on-create",
            .kind = Kind::kSwitch,
            .help = "answer api_key_plain on create, as Aether does (off: null)",
            .env = "KEYLEDGER_ECHO_PLAINTEXT_ON_CREATE"})
      .Add({.name = "secret-field-names",
            .value_name = "A,B",
            .help = "comma-separated header and config member names (whole name, any case) whose "
                    "values are also sealed and masked, on top of the built-in rule (names "
                    "containing authorization, api_key, api-key, apikey, token, secret, password, "
                    "passwd, cookie, credential)",
            .env = "KEYLEDGER_SECRET_FIELD_NAMES"})
      .Add({.name = "log-level",
            .value_name = "LEVEL",
            .help = "debug, info, warning or error",
            .default_value = d.log_level,
            .env = "KEYLEDGER_LOG_LEVEL",
            .choices = {"debug", "info", "warning", "error"}})
      .Add({.name = "metrics-listen",
            .value_name = "HOST:PORT",
            .help = "also serve GET /metrics without a token on this HOST:PORT, plain HTTP "
                    "(default: none; /metrics on --listen needs an auditor token)",
            .env = "KEYLEDGER_METRICS_LISTEN"})
      .Add({.name = "cors-origins",
            .value_name = "ORIGINS",
            .help = "comma-separated origins whose browser pages may call the API (CORS), e.g. "
                    "https://admin.example.com,http://localhost:5173; '*' for any origin, without "
                    "credentials (default: none, no CORS headers)",
            .env = "KEYLEDGER_CORS_ORIGINS"})
      .Add({.name = "block-cache-mb",
            .value_name = "MB",
            .help = "memory budget: RocksDB block cache shared by every column family, index and "
                    "filter blocks included, 1 to 65536",
            .default_value = std::to_string(d.block_cache_mb),
            .env = "KEYLEDGER_BLOCK_CACHE_MB"})
      .Add({.name = "write-buffer-mb",
            .value_name = "MB",
            .help = "memory budget: RocksDB memtables of every column family together (flushed "
                    "when full), 4 to 65536",
            .default_value = std::to_string(d.write_buffer_mb),
            .env = "KEYLEDGER_WRITE_BUFFER_MB"})
      .Add({.name = "view-cache-mb",
            .value_name = "MB",
            .help = "memory budget: cached answers of read routes (0: no cache), 0 to 65536",
            .default_value = std::to_string(d.view_cache_mb),
            .env = "KEYLEDGER_VIEW_CACHE_MB"})
      .Add({.name = "sse-buffer-kb",
            .value_name = "KB",
            .help = "memory budget: events held per audit-stream subscriber; a subscriber that "
                    "falls further behind gets a last stream-closed event and is disconnected, "
                    "16 to 65536 (at most 64 subscribers)",
            .default_value = std::to_string(d.sse_buffer_kb),
            .env = "KEYLEDGER_SSE_BUFFER_KB"})
      .Add({.name = "min-seq-wait-ms",
            .value_name = "MS",
            .help = "how long a request with X-Keyledger-Min-Seq: N waits for this node to apply "
                    "sequence N before it answers 503, 0 to 60000",
            .default_value = std::to_string(d.min_seq_wait_ms),
            .env = "KEYLEDGER_MIN_SEQ_WAIT_MS"})
      .Add({.name = "store",
            .value_name = "KIND",
            .help = "where the event log lives: rocksdb (in --data-dir) or etcd (a cluster shared "
                    "by the nodes; see --etcd-*)",
            .default_value = d.store,
            .env = "KEYLEDGER_STORE",
            .choices = {"rocksdb", "etcd"}});
  cli::AddEtcdOptions(cmd, "required with --store etcd");
  return cmd;
}

Result<ParsedServerArgs> ParseServerArgs(int argc, const char* const* argv, const GetEnv& getenv) {
  ParsedServerArgs out;
  ServerConfig& c = out.config;
  const cli::Command cmd = ServerCommand();
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  KL_ASSIGN_OR_RETURN(const cli::Args parsed, cmd.Parse(args, getenv));
  if (parsed.help()) {
    out.help = true;
    out.help_text = cmd.Help();
    return out;
  }
  auto text = [&](std::string_view name) { return parsed.Get(name).value_or(""); };
  c.listen = text("listen");
  c.data_dir = text("data-dir");
  c.master_key_file = text("master-key-file");
  c.tokens_file = text("tokens-file");
  c.jwt_secret_file = text("jwt-secret-file");
  c.tls_cert = text("tls-cert");
  c.tls_key = text("tls-key");
  c.require_reveal_reason = parsed.IsOn("require-reveal-reason");
  c.echo_plaintext_on_create = parsed.IsOn("echo-plaintext-on-create");
  c.secret_field_names = text("secret-field-names");
  c.log_level = text("log-level");
  c.metrics_listen = text("metrics-listen");
  c.cors_origins_text = text("cors-origins");
  c.store = text("store");
  cli::ReadEtcdOptions(parsed, c);

  KL_RETURN_IF_ERROR(SplitListen(c.listen, c.host, c.port));
  if (!c.metrics_listen.empty()) {
    Status s = SplitListen(c.metrics_listen, c.metrics_host, c.metrics_port);
    if (!s.ok()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--metrics-listen must be HOST:PORT, got '" + c.metrics_listen + "'");
    }
  }
  KL_ASSIGN_OR_RETURN(const uint64_t threads, parsed.GetUint("threads", 1, 256));
  c.threads = static_cast<int>(threads);
  KL_ASSIGN_OR_RETURN(c.snapshot_every, parsed.GetUint("snapshot-every"));
  KL_ASSIGN_OR_RETURN(c.block_cache_mb, parsed.GetUint("block-cache-mb", 1, 65536));
  KL_ASSIGN_OR_RETURN(c.write_buffer_mb, parsed.GetUint("write-buffer-mb", 4, 65536));
  KL_ASSIGN_OR_RETURN(c.view_cache_mb, parsed.GetUint("view-cache-mb", 0, 65536));
  KL_ASSIGN_OR_RETURN(c.sse_buffer_kb, parsed.GetUint("sse-buffer-kb", 16, 65536));
  KL_ASSIGN_OR_RETURN(c.min_seq_wait_ms, parsed.GetUint("min-seq-wait-ms", 0, 60000));
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--tls-cert and --tls-key go together");
  }
  KL_ASSIGN_OR_RETURN(c.cors_origins, ParseCorsOrigins(c.cors_origins_text));
  KL_RETURN_IF_ERROR(CheckStoreOptions(c));
  if (c.tokens_file.empty()) c.tokens_file = c.data_dir + "/tokens.json";
  return out;
}

}  // namespace keyledger
