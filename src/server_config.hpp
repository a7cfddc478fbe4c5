#pragma once
// keyledgerd's configuration: command-line flags, each also read from a KEYLEDGER_* environment
// variable (the flag wins; a set but empty variable counts as unset, except that an empty switch
// such as KEYLEDGER_REQUIRE_REVEAL_REASON means on). `keyledgerd --help` prints the list with
// defaults and variables.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "events/status.hpp"
#include "src/cli/command_line.hpp"
#include "src/cli/etcd_options.hpp"

namespace keyledger {

struct ServerConfig : cli::EtcdOptions {
  std::string listen = "127.0.0.1:8080";  // --listen / KEYLEDGER_LISTEN
  std::string data_dir = "./data";        // --data-dir / KEYLEDGER_DATA_DIR
  int threads = 2;                        // --threads: HTTP I/O threads
  std::string master_key_file;            // --master-key-file (else KEYLEDGER_MASTER_KEY, else
                                          // <data-dir>/master.key for development)
  std::string tokens_file;                // --tokens-file (default <data-dir>/tokens.json)
  std::string jwt_secret_file;            // --jwt-secret-file: enables HS256 JWTs
  std::string tls_cert;                   // --tls-cert and --tls-key: serve HTTPS
  std::string tls_key;
  uint64_t snapshot_every = 10'000;       // --snapshot-every: events between snapshots
  bool require_reveal_reason = false;     // --require-reveal-reason
  bool echo_plaintext_on_create = false;  // --echo-plaintext-on-create (Aether's behaviour)
  // --secret-field-names a,b: more header / config member names (whole name, any case) whose
  // values are sealed, on top of the built-in rule (events/secret_names.hpp). Default: none.
  std::string secret_field_names;
  std::string log_level = "info";  // --log-level: debug|info|warning|error
  std::string metrics_listen;      // --metrics-listen: public /metrics on HOST:PORT
  // --cors-origins: comma-separated origins allowed to call the API from a browser
  // ("https://admin.example.com,http://localhost:5173", or "*" for any origin, then without
  // credentials). Empty (default): no CORS headers at all.
  std::string cors_origins_text;
  std::vector<std::string> cors_origins;  // parsed from cors_origins_text
  // The memory budget (README "Memory budget"): each bound, in the unit of its flag.
  uint64_t block_cache_mb = 32;  // --block-cache-mb: RocksDB's block cache (all families)
  // --write-buffer-mb: RocksDB's memtables (all families). 128 rather than the library's 32
  // (events::kDefaultWriteBufferBytes, what the tools use): a family's memtable then reaches
  // 64 MiB before it flushes, as before the budget, so a disk that fills up fills with the WAL
  // first; with smaller memtables a flush met the full disk and Debian's RocksDB 7.8 aborted
  // (tests/faults/disk_full_fault_test.cpp, issue 17's closing note).
  uint64_t write_buffer_mb = 128;
  uint64_t view_cache_mb = 16;   // --view-cache-mb: cached answers of read routes (0: none)
  uint64_t sse_buffer_kb = 256;  // --sse-buffer-kb: per audit-stream subscriber
  // --min-seq-wait-ms: how long a request with X-Keyledger-Min-Seq waits for this node to apply
  // that sequence before it answers 503 (events/ETCD.md "Several nodes").
  uint64_t min_seq_wait_ms = 5000;

  // The event store (events/store.hpp, events/ETCD.md).
  std::string store = "rocksdb";  // --store rocksdb|etcd
  // The --etcd-* values are the inherited cli::EtcdOptions (src/cli/etcd_options.hpp), which the
  // tools parse with the same code.

  std::string host;  // parsed from listen
  uint16_t port = 0;
  std::string metrics_host;  // parsed from metrics_listen (empty: not served)
  uint16_t metrics_port = 0;
};

struct ParsedServerArgs {
  ServerConfig config;
  bool help = false;
  std::string help_text;
};

using GetEnv = cli::GetEnv;

// keyledgerd's options, each with its KEYLEDGER_* variable, default and help (src/cli).
cli::Command ServerCommand();

// kInvalidArgument with a message naming the bad flag or variable. `getenv` reads the
// environment (cli::SystemEnv in main, a map in tests).
Result<ParsedServerArgs> ParseServerArgs(int argc, const char* const* argv, const GetEnv& getenv);

// --cors-origins: entries split on ',', stripped, empty ones dropped (Aether's CORS_ORIGINS).
// Each must be "*" or an origin exactly as browsers send it: http or https, "://", a lower-case
// host and an optional port, nothing else (no path, no trailing '/'), since any other spelling
// would never match. kInvalidArgument naming the entry otherwise.
inline constexpr size_t kMaxCorsOrigins = 64;
Result<std::vector<std::string>> ParseCorsOrigins(std::string_view text);

// --store and the --etcd-* options: splits --etcd-endpoints (cli::SplitEtcdEndpoints), checks
// that etcd options come with --store etcd and the prefix and pairs (cli::CheckEtcdDetails).
// kInvalidArgument naming the option otherwise.
using cli::kMaxEtcdEndpoints;
Status CheckStoreOptions(ServerConfig& config);

// "127.0.0.1:8080", "[::1]:8080", "localhost:0".
Status SplitListen(std::string_view listen, std::string& host, uint16_t& port);

}  // namespace keyledger
