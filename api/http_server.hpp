#pragma once
// The HTTP/1.1 server: Boost.Beast over plain TCP or TLS, N io_context threads, one strand per
// connection, keep-alive and pipelining, per-message limits, graceful shutdown.
//
// Request pipeline (per request, in order):
//   parse (limits: header 431, body 413, malformed 400; each a JSON error body, then the
//   connection closes after a lingering drain so the client can read the answer)
//   → dispatch (api/dispatcher.hpp): X-Request-Id (accepted if 1-128 token characters, else a
//     fresh UUID; echoed on every response) → CORS preflight, when configured (api/cors.hpp)
//     → route (404/405/307, see router.hpp) → auth (401/403/429, see auth.hpp) → handler.
// Handlers answer through a Responder from any thread; responses are written in request order.
// While `pipeline_limit` requests await their answers the connection stops reading. Exceptions
// from handlers become a 500 system_error; nothing escapes into Asio.
// One JSON log line per request (logger.hpp) and per-route metrics (metrics.hpp):
//   keyledger_http_requests_total{method,route,status}
//   keyledger_http_request_duration_seconds{method,route,status}   (histogram)
//   keyledger_http_connections_active, keyledger_sse_streams_active (gauges)
// The connections themselves are api/session.hpp; SSE streams api/sse.hpp.
//
// Thread safety: Start, Stop and the accessors may be called from any one thread (typically
// main). The Router must not change after Start. Logger, Router, Authenticator and
// MetricsRegistry must outlive the server.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/handler.hpp"
#include "events/status.hpp"

namespace keyledger::api {

class Router;
class Authenticator;
class CorsPolicy;
class Logger;
class MetricsRegistry;

// Defaults for ServerConfig; every limit applies per message or per connection.
inline constexpr uint64_t kDefaultBodyLimit = 1024 * 1024;  // 1 MiB → 413
inline constexpr uint32_t kDefaultHeaderLimit = 16 * 1024;  // 16 KiB → 431
inline constexpr std::chrono::milliseconds kDefaultReadTimeout{30'000};
inline constexpr std::chrono::milliseconds kDefaultWriteTimeout{30'000};
inline constexpr std::chrono::milliseconds kDefaultIdleTimeout{60'000};
inline constexpr std::chrono::milliseconds kDefaultShutdownGrace{10'000};
inline constexpr std::chrono::milliseconds kDefaultLingerTimeout{2'000};
inline constexpr uint64_t kDefaultLingerMaxBytes = 4 * 1024 * 1024;
inline constexpr size_t kDefaultPipelineLimit = 16;
inline constexpr size_t kDefaultSseQueueLimit = 256;
// Bytes of events one SSE stream may hold (queued or being written): --sse-buffer-kb, part of
// the memory budget (README "Memory budget").
inline constexpr size_t kDefaultSseBufferBytes = size_t{256} << 10;
// How long a stream dropped as too slow has to take its last event before the connection closes.
inline constexpr std::chrono::milliseconds kDefaultSseDropGrace{2'000};
inline constexpr std::chrono::milliseconds kDefaultSseHeartbeat{15'000};
inline constexpr size_t kDefaultMaxConnections = 4096;

// What TLS offers (README "TLS"): TLS 1.3 with its AEAD suites, and TLS 1.2 with ECDHE and AEAD
// only, in this order of preference. Everything else (RSA key exchange, CBC, SHA-1 MACs, TLS 1.1
// and older) fails the handshake.
inline constexpr std::string_view kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
inline constexpr std::string_view kTls13Ciphersuites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

struct TlsConfig {
  std::string cert_file{};  // PEM certificate chain
  std::string key_file{};   // PEM private key
};

struct ServerConfig {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal
  uint16_t port = 8080;               // 0 = any free port (read it back with port())
  int threads = 2;                    // io_context threads
  uint64_t body_limit = kDefaultBodyLimit;
  uint32_t header_limit = kDefaultHeaderLimit;
  // A whole request (header, then body) must arrive within read_timeout; a fresh connection
  // that sends nothing is closed after it too.
  std::chrono::milliseconds read_timeout = kDefaultReadTimeout;
  // Each response write (and each SSE write) must finish within write_timeout.
  std::chrono::milliseconds write_timeout = kDefaultWriteTimeout;
  // A kept-alive connection with nothing in flight is closed after idle_timeout.
  std::chrono::milliseconds idle_timeout = kDefaultIdleTimeout;
  // Stop() waits this long for in-flight requests before closing connections by force.
  std::chrono::milliseconds shutdown_grace = kDefaultShutdownGrace;
  // After an error response that closes the connection, unread input is drained for at most
  // this long / this many bytes so the client sees the response rather than a reset.
  std::chrono::milliseconds linger_timeout = kDefaultLingerTimeout;
  uint64_t linger_max_bytes = kDefaultLingerMaxBytes;
  // Requests read but not yet answered, per connection; reading pauses at the limit.
  size_t pipeline_limit = kDefaultPipelineLimit;
  // Events queued per SSE stream, and bytes of events held per stream (queued or being
  // written), before the consumer is dropped as too slow with a last "stream-closed" event
  // (api/sse.hpp); it then has sse_drop_grace to take that event.
  size_t sse_queue_limit = kDefaultSseQueueLimit;
  size_t sse_buffer_bytes = kDefaultSseBufferBytes;
  std::chrono::milliseconds sse_drop_grace = kDefaultSseDropGrace;
  std::chrono::milliseconds sse_heartbeat = kDefaultSseHeartbeat;
  // Connections beyond this are closed right after accept.
  size_t max_connections = kDefaultMaxConnections;
  std::optional<TlsConfig> tls{};  // set: every connection is HTTPS
  // Set: preflights are answered before routing and responses to requests with an Origin carry
  // CORS headers (api/cors.hpp). Null (default): no CORS headers at all.
  std::shared_ptr<const CorsPolicy> cors{};
  std::string server_header = "keyledger";
};

class HttpServer {
 public:
  // `auth` may be null only if every route is public. `metrics` may be null.
  HttpServer(ServerConfig config, const Router& router, Authenticator* auth, Logger& logger,
             MetricsRegistry* metrics);
  ~HttpServer();  // Stop()s if still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the threads. kInvalidArgument for a bad address or unreadable
  // TLS files, kUnavailable when the address cannot be bound.
  Status Start();
  // The bound port (after Start).
  uint16_t port() const;
  // "http://127.0.0.1:8080" (https with TLS; IPv6 in brackets).
  std::string base_url() const;

  // Graceful shutdown: stops accepting, closes idle connections, lets requests in flight finish
  // (up to shutdown_grace, then closes the rest), ends SSE streams, stops the threads. Idempotent.
  // Responders still held elsewhere afterwards deliver nowhere; drop them before destroying the
  // server.
  void Stop();

  size_t active_connections() const;
  // Bytes all SSE streams hold now (keyledger_memory_bytes{component="sse_buffers"}).
  uint64_t sse_buffered_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keyledger::api
