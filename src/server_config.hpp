#pragma once
// keyledgerd's configuration: command-line flags, each also read from a KEYLEDGER_* environment
// variable (the flag wins). `keyledgerd --help` prints the list with defaults.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "events/status.hpp"

namespace keyledger {

struct ServerConfig {
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

  std::string host;  // parsed from listen
  uint16_t port = 0;
};

struct ParsedServerArgs {
  ServerConfig config;
  bool help = false;
  std::string help_text;
};

using GetEnv = std::function<const char*(const char*)>;

// kInvalidArgument with a message naming the bad flag or variable.
Result<ParsedServerArgs> ParseServerArgs(int argc, const char* const* argv, const GetEnv& getenv);

// "127.0.0.1:8080", "[::1]:8080", "localhost:0".
Status SplitListen(std::string_view listen, std::string& host, uint16_t& port);

}  // namespace keyledger
