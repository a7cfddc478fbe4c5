#pragma once
// A small client for etcd's v3 JSON gateway (POST /v3/kv/range, /v3/kv/txn, /v3/lease/*,
// /v3/maintenance/*, /v3/auth/authenticate) over Boost.Beast, plain HTTP or TLS with a client
// certificate. Used only by EtcdEventLog (events/etcd_event_log.hpp); nothing above events/ sees
// an etcd type. Why the gateway and not gRPC: events/ETCD.md.
//
// Ownership and threads: every method may be called from any thread. Each call borrows a
// keep-alive connection from a small pool (or opens one), so concurrent calls run in parallel on
// separate connections; a connection is only ever used by one call at a time.
//
// Failover: calls go to the current endpoint; a connection failure, a timeout or an error etcd
// marks as transient (no leader, leader changed, request timed out: gRPC code 14) moves the
// client to the next endpoint and retries, until the call's deadline (Options::request_timeout)
// passes. Every call returns within that deadline plus one connect timeout, never hangs.
// A write retried after a timeout may have been applied by the first attempt: callers make their
// writes safe to repeat (EtcdEventLog compares the head and recognises its own write).
//
// Errors: kIoError when etcd cannot be reached or keeps failing within the deadline (the message
// says which endpoint and why, never a secret); kPayloadTooLarge when a response exceeds
// Options::max_response_bytes or etcd refuses a request as too large; kUnsupported when the
// endpoint does not speak the v3 gateway; kInternal for a request etcd rejects as malformed (a
// bug: EtcdEventLog sizes its transactions to etcd's limits).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "events/log_sink.hpp"
#include "events/status.hpp"

namespace keyledger::events::etcd {

struct ClientOptions {
  // "http://HOST:PORT" or "https://HOST:PORT", at least one. Default: none (required).
  std::vector<std::string> endpoints;
  // TLS (https endpoints): CA bundle that signs the members' certificates (default: the system's
  // trust store), and an optional client certificate and key (PEM files).
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // etcd authentication (default: none). The password is kept in memory only to renew the token.
  std::string user;
  std::string password;
  // Time one call may take, across every endpoint it tries (default 5 s).
  std::chrono::milliseconds request_timeout{5000};
  // Time one connection attempt (TCP and TLS handshake) may take (default 1 s).
  std::chrono::milliseconds connect_timeout{1000};
  // Largest response body accepted (default 16 MiB); a bigger one is kPayloadTooLarge.
  size_t max_response_bytes = 16 << 20;
  // Idle keep-alive connections kept for reuse (default 16).
  size_t max_idle_connections = 16;
  // Receives failover and error details (default: discarded).
  LogSink log;
};

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

struct RangeRequest {
  std::string key;
  std::string range_end;  // empty: the single key
  int64_t limit = 0;      // 0: no limit
  int64_t revision = 0;   // 0: the latest
  bool keys_only = false;
};

struct RangeResponse {
  int64_t revision = 0;
  std::vector<KeyValue> kvs;
  bool more = false;
  int64_t count = 0;
};

struct Compare {
  enum class Target : uint8_t { kVersion, kCreate, kMod, kValue };
  enum class Result : uint8_t { kEqual, kGreater, kLess, kNotEqual };
  std::string key;
  Target target = Target::kValue;
  Result result = Result::kEqual;
  int64_t number = 0;  // for kVersion, kCreate, kMod
  std::string value;   // for kValue
};

struct Op {
  enum class Kind : uint8_t {
    kPut,
    kDelete,        // the key, or [key, range_end)
    kRange,         // reads the key, or [key, range_end); its result is in TxnResponse::ranges
    kPutIfPresent,  // a nested transaction: put only if the key exists before this transaction
  };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;
  std::string range_end;
  int64_t lease = 0;
};

struct TxnRequest {
  std::vector<Compare> compare;
  std::vector<Op> success;
  std::vector<Op> failure;
};

struct TxnResponse {
  int64_t revision = 0;
  bool succeeded = false;
  // One entry per kRange op of the branch that ran, in order.
  std::vector<RangeResponse> ranges;
};

struct LeaseInfo {
  int64_t ttl = -1;  // seconds left; -1 when the lease does not exist (expired or revoked)
  int64_t granted_ttl = 0;
  std::vector<std::string> keys;
};

// A watch (POST /v3/watch, a stream of newline-delimited JSON messages) on [key, range_end).
struct WatchRequest {
  std::string key;
  std::string range_end;       // empty: the single key
  int64_t start_revision = 0;  // 0: from now
  // Sends Grpc-Metadata-hasleader: true, so a member that loses its leader cancels the watch
  // instead of keeping a stream that silently stops delivering (default true).
  bool require_leader = true;
  // How often the callback is called when no message arrived (default 200 ms).
  std::chrono::milliseconds tick{200};
};

struct WatchEvent {
  bool deleted = false;  // a DELETE (else a PUT)
  KeyValue kv;
};

// One message of a watch stream, or a tick without one.
struct WatchMessage {
  bool tick = false;  // nothing arrived within WatchRequest::tick
  int64_t revision = 0;
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;  // > 0: start_revision was compacted away (canceled)
  std::string cancel_reason;
  std::vector<WatchEvent> events;
};

// The smallest key greater than every key starting with `prefix` (etcd's range_end for a prefix).
std::string PrefixEnd(std::string_view prefix);

class Client {
 public:
  // kInvalidArgument for a malformed endpoint or unreadable TLS files. Connects lazily.
  static Result<std::unique_ptr<Client>> Create(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<RangeResponse> Range(const RangeRequest& request);
  Result<TxnResponse> Txn(const TxnRequest& request);
  // A lease of `ttl_seconds`; returns its id.
  Result<int64_t> LeaseGrant(int64_t ttl_seconds);
  Status LeaseRevoke(int64_t id);
  Result<LeaseInfo> LeaseTimeToLive(int64_t id);
  // Runs one watch on the current endpoint (no failover: the caller re-watches, ETCD.md
  // "Several nodes") and calls `on_message` with each message, and with a tick whenever
  // WatchRequest::tick passes without one, until it returns false (then Ok). Returns kIoError
  // when the connection cannot be made, the stream breaks or ends, or etcd sends an error; a
  // canceled watch is delivered as a message (canceled) and then returns Ok. The connection is
  // the watch's own, never pooled. Blocks the calling thread for the watch's life.
  Status Watch(const WatchRequest& request,
               const std::function<bool(const WatchMessage&)>& on_message);
  // Any other call of etcd's JSON gateway (`path` such as "/v3/auth/user/add", `body` its JSON
  // request), with the same failover, authentication and bounds; returns the response body.
  // For administration (tools, tests), not for the log's own calls.
  Result<std::string> Post(std::string_view path, const std::string& body);
  // Compacts the key-value history up to `revision` and waits until it is physically applied.
  Status Compact(int64_t revision);
  // Defragments every member in turn (each call goes to that member only, no failover).
  Status DefragmentAll();

  // The endpoint calls go to now (index into Options::endpoints); moves on failover.
  size_t current_endpoint() const;
  const ClientOptions& options() const { return options_; }

  struct Impl;  // the connections and the pool (etcd_client.cpp)

 private:
  explicit Client(ClientOptions options);
  ClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keyledger::events::etcd
