#pragma once
// What the end-to-end tests share: a keep-alive HTTP client with a bearer token, JSON helpers
// that keep member order (simdjson's DOM), an SSE reader, and E2eTest, a fixture that owns a
// temporary data directory and the keyledgerd child process (tests/e2e/daemon.hpp).
//
// E2eTest::TearDown stops the daemon with SIGTERM and expects exit status 0 (under ASan this also
// catches leaks), then checks that no plaintext secret registered with Secret() ever appeared in
// anything the daemon wrote (stdout, stderr over every start).

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "tests/api/test_client.hpp"
#include "tests/e2e/daemon.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::e2e {

using api::testing::Connection;
using api::testing::Headers;
using api::testing::TestResponse;

// ---- JSON ----------------------------------------------------------------------------------

// A parsed JSON document (owns its parser, so elements stay valid while it lives).
class Json {
 public:
  explicit Json(std::string_view text);
  Json(Json&&) = default;
  Json& operator=(Json&&) = default;
  bool ok() const { return ok_; }
  simdjson::dom::element root() const { return root_; }
  simdjson::dom::element operator[](std::string_view key) const { return root_[key]; }

 private:
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::element root_;
  bool ok_ = false;
};

// The member names of an object, in document order (empty if `e` is not an object).
std::vector<std::string> Keys(simdjson::dom::element e);
// Typed reads; on a missing member or another type they return nullopt.
std::optional<std::string> Str(simdjson::dom::element e, std::string_view key);
std::optional<int64_t> Int(simdjson::dom::element e, std::string_view key);
std::optional<double> Num(simdjson::dom::element e, std::string_view key);
std::optional<bool> Bool(simdjson::dom::element e, std::string_view key);
bool IsNull(simdjson::dom::element e, std::string_view key);
bool Has(simdjson::dom::element e, std::string_view key);
std::vector<simdjson::dom::element> Items(simdjson::dom::element e);
// Compact JSON text of an element.
std::string ToJson(simdjson::dom::element e);

// JSON string literal of `s` (quoted, escaped).
std::string Quote(std::string_view s);

// ---- HTTP ----------------------------------------------------------------------------------

// A keep-alive client to 127.0.0.1:port. Sends "Authorization: Bearer <token>" when a token is
// set and "Content-Type: application/json" with a body. Reconnects before a request when the
// previous answer closed the connection; never retries a request. A transport failure answers
// status 0. Not thread-safe: one per thread.
class Client {
 public:
  Client(uint16_t port, std::string token = "");
  TestResponse Call(std::string_view method, std::string_view target, std::string_view body = {},
                    const Headers& headers = {});
  TestResponse Get(std::string_view target, const Headers& headers = {}) {
    return Call("GET", target, {}, headers);
  }
  TestResponse Post(std::string_view target, std::string_view body, const Headers& h = {}) {
    return Call("POST", target, body, h);
  }
  TestResponse Put(std::string_view target, std::string_view body, const Headers& h = {}) {
    return Call("PUT", target, body, h);
  }
  TestResponse Patch(std::string_view target, std::string_view body, const Headers& h = {}) {
    return Call("PATCH", target, body, h);
  }
  TestResponse Delete(std::string_view target, const Headers& h = {}) {
    return Call("DELETE", target, {}, h);
  }
  void set_token(std::string token) { token_ = std::move(token); }
  const std::string& token() const { return token_; }
  // Every (method, target, status) answered so far.
  struct Record {
    std::string method, target;
    int status;
  };
  const std::vector<Record>& records() const { return records_; }

 private:
  uint16_t port_;
  std::string token_;
  std::unique_ptr<Connection> conn_;
  std::vector<Record> records_;
};

// Reads a text/event-stream response (chunked) from an open connection: the head first, then
// the decoded body as it arrives.
class SseReader {
 public:
  // Sends GET `target` with the token; false unless the answer's head says 200
  // text/event-stream (the head is then in head()).
  bool Open(uint16_t port, const std::string& token, const std::string& target,
            const Headers& extra = {});
  // Reads (bounded) until the decoded body contains `needle`; returns whether it did.
  bool WaitFor(std::string_view needle, std::chrono::milliseconds timeout);
  // Reads (bounded) until the server ends the stream: the last chunk, or the connection closes.
  bool WaitEnd(std::chrono::milliseconds timeout);
  const std::string& head() const { return head_; }
  const std::string& body() const { return body_; }

 private:
  void Decode();
  std::unique_ptr<Connection> conn_;
  std::string head_;
  std::string raw_;     // undecoded chunked bytes after the head
  std::string body_;    // decoded so far
  bool ended_ = false;  // the last (empty) chunk arrived
};

// ---- Fixture -------------------------------------------------------------------------------

inline constexpr std::string_view kProvidersPath = "/api/admin/providers/";
inline constexpr std::string_view kEndpointsBase = "/api/admin/endpoints";

// EndpointAPIKeyResponse members in aether-spec.md §7's order (K1, K2, K3).
const std::vector<std::string>& SpecKeyResponseOrder();
// A K4 entry's members in aether-spec.md §8.4's order.
const std::vector<std::string>& SpecGroupedEntryOrder();
// ProviderEndpointResponse members in aether-spec.md §10.2's order.
const std::vector<std::string>& SpecEndpointResponseOrder();

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts keyledgerd (first start: remembers the printed admin token). Fails the test (fatal
  // within the helper; check HasFatalFailure) when it does not become ready.
  void StartServer(const std::vector<std::string>& args = {}, SpawnOptions options = {});
  // SIGTERM (expecting exit 0) and start again with the same arguments.
  void RestartServer();
  uint16_t port() const { return daemon_->port(); }
  // Another node of this deployment (not started): a fresh data directory `name` and log
  // directory `name`-logs under the test's directory, holding only the first node's master key
  // and tokens file (the first node must have started once).
  std::unique_ptr<Daemon> AnotherNode(const std::string& name);

  // Remembers a plaintext secret (a provider key, a token): it must never show up in the
  // daemon's output or in any file of its data directory.
  std::string Secret(std::string plaintext);
  const std::vector<std::string>& secrets() const { return secrets_; }
  // A distinct secret each call, e.g. "sk-ant-api03-e2e-<tag>-<n>-<random>".
  std::string NewSecret(std::string_view tag);

  Client Admin() { return Client(port(), admin_token_); }
  Client As(const std::string& token) { return Client(port(), token); }

  // `keyledgerd token create` into the daemon's tokens file, then SIGHUP and wait (bounded) for
  // the reload line. Returns the token.
  std::string CreateToken(const std::string& name, const std::string& role,
                          const std::string& expires_in = "");
  // Signals SIGHUP and waits for one more "tokens file reloaded" line.
  void ReloadTokens();

  // The log's head sequence, from the signed checkpoint (0 on failure, with a test failure).
  uint64_t HeadSequence();

  // Domain helpers over HTTP (admin); each EXPECTs success and returns the new id ("" on error).
  std::string CreateProvider(Client& c, const std::string& name, const std::string& extra = "");
  std::string CreateEndpoint(Client& c, const std::string& provider_id, const std::string& format,
                             const std::string& base_url);
  struct CreatedKey {
    std::string id;
    std::string etag;
    std::string body;
  };
  // `formats` is JSON text such as R"(["CLAUDE"])"; `extra` more members (",\"note\":\"x\"").
  CreatedKey CreateKey(Client& c, const std::string& provider_id, const std::string& formats,
                       const std::string& secret, const std::string& name,
                       const std::string& extra = "");

  // The daemon's arguments for every (re)start.
  std::vector<std::string> args_;
  SpawnOptions spawn_options_;
  keyledger::testing::TempDir dir_;
  std::string data_dir_;
  std::string log_dir_;
  std::string scratch_dir_;
  std::unique_ptr<Daemon> daemon_;
  std::string admin_token_;
  // TearDown expects SIGTERM to end the daemon with this status (tests that break the store on
  // purpose may change it).
  int expected_exit_code_ = 0;

 private:
  std::vector<std::string> secrets_;
  int secret_counter_ = 0;
};

// Paths.
std::string KeysOf(std::string_view provider_id);        // /api/admin/endpoints/providers/{id}/keys
std::string KeyPath(std::string_view key_id);            // /api/admin/endpoints/keys/{id}
std::string ProviderPath(std::string_view provider_id);  // /api/admin/providers/{id}

}  // namespace keyledger::e2e
