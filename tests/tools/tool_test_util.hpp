#pragma once
// Helpers for running keyledger-audit and keyledger-rebuild as child processes against real data
// directories: a registry node over a directory (the server's state without HTTP), a tiny HTTP
// server for the digest route, output normalization for golden files, and raw RocksDB access to
// damage a directory the way a disk or an attacker would.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "events/rocks_event_log.hpp"
#include "events/secrets.hpp"
#include "src/registry.hpp"
#include "src/registry_commands.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::tools::testing {

struct ToolRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `binary` with `args` (no shell), stdout and stderr captured through files in `scratch`.
// `env` entries override the environment ("NAME=value"; "NAME=" with an empty value unsets it).
// `stdin_file` (optional) becomes standard input.
ToolRun RunTool(const std::string& binary, const std::vector<std::string>& args,
                const keyledger::testing::TempDir& scratch,
                const std::vector<std::string>& env = {}, const std::string& stdin_file = "");

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& contents);
std::vector<std::string> Lines(const std::string& text);

// A registry over a RocksDB log in `dir` with a keyring under `master` (32 raw bytes): what
// keyledgerd holds while it runs, without the HTTP layer.
class Node {
 public:
  Node(std::string dir, std::string master, registry::RegistryOptions base = {});
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  void Open();
  void Close();
  bool open() const { return registry_ != nullptr; }

  registry::Registry& registry() { return *registry_; }
  events::RocksEventLog& log() { return *log_; }
  events::Keyring& keyring() { return *keyring_; }
  const std::string& dir() const { return dir_; }
  std::vector<std::string>& log_lines() { return log_lines_; }

  Result<registry::CommandResult> Run(std::unique_ptr<registry::Command> command,
                                      registry::RequestContext ctx = Admin());
  static registry::RequestContext Admin();
  std::string CreateProvider(const std::string& name);
  std::string CreateKey(const std::string& provider_id, const std::string& secret,
                        std::vector<std::string> formats = {"CLAUDE"},
                        const std::string& name = "main");

 private:
  std::string dir_;
  std::string master_;
  registry::RegistryOptions base_;
  std::vector<std::string> log_lines_;
  std::unique_ptr<events::RocksEventLog> log_;
  std::unique_ptr<events::Keyring> keyring_;
  std::unique_ptr<registry::Registry> registry_;
};

// An HTTP/1.1 server on 127.0.0.1 (port 0) in its own thread, answering every request with
// `handler(target, authorization header)` -> (status, body).
class TinyHttpServer {
 public:
  using Handler = std::function<std::pair<int, std::string>(const std::string& target,
                                                            const std::string& authorization)>;
  explicit TinyHttpServer(Handler handler);
  ~TinyHttpServer();
  TinyHttpServer(const TinyHttpServer&) = delete;
  TinyHttpServer& operator=(const TinyHttpServer&) = delete;

  std::string url() const;  // http://127.0.0.1:<port>
  int requests() const { return requests_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<int> requests_{0};
};

// Replaces what varies between runs with stable placeholders, numbered by first appearance:
// UUIDs -> <id-N>, 32-hex data-key ids -> <dek-N>, 64-hex hashes -> <hash-N>, base64 runs of
// 20+ characters -> <b64-N>.
class Normalizer {
 public:
  std::string Normalize(const std::string& text);

 private:
  std::string Replace(const std::string& match, const char* prefix,
                      std::map<std::string, std::string>& seen);
  std::map<std::string, std::string> ids_, deks_, hashes_, b64_;
};

// Compares `actual` with tests/tools/golden/<name>; with KEYLEDGER_UPDATE_GOLDEN=1 in the
// environment, rewrites the golden file instead.
void ExpectGolden(const std::string& name, const std::string& actual);

// Raw RocksDB access to a closed data directory, for damage and checks the log API forbids.
class RawDb {
 public:
  explicit RawDb(const std::string& dir);
  ~RawDb();
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  std::optional<std::string> Get(const std::string& cf, const std::string& key);
  void Put(const std::string& cf, const std::string& key, const std::string& value);
  void Delete(const std::string& cf, const std::string& key);
  std::vector<std::pair<std::string, std::string>> All(const std::string& cf);
  void DropColumnFamily(const std::string& cf);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Opens a data directory read-only (the directory must not be held by a Node).
std::unique_ptr<events::RocksEventLog> OpenForTest(const std::string& dir);

// Creates a RocksDB database at `dir` that is not a keyledger log (only the default family).
void ForeignRocksDb(const std::string& dir);

// Writes `head` into meta/head the way the log does (sequence, hash, time), for a truncation
// that also rewrites the metadata.
std::string EncodeHead(uint64_t sequence, const events::Hash& hash, int64_t time_us);

}  // namespace keyledger::tools::testing
