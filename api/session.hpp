#pragma once
// The connections of an HttpServer (internal to keyledger_api; includes Asio, so only
// http_server.cpp and session.cpp include it).
//
// A session is one HTTP/1.1 connection, plain TCP or TLS, and only that: it reads requests
// (limits, framing checks, obsolete line folding), keeps pipelined answers in request order
// (reading pauses at ServerConfig::pipeline_limit), writes them (HEAD without body, keep-alive,
// a lingering close after an error), runs the TLS handshake, the read/write/idle timeouts, the
// SSE stream's writes and heartbeat, and drains on shutdown. What a request means (routing,
// authentication, the handler, exception → 500, the log line, metrics) is the Dispatcher's
// (api/dispatcher.hpp); a message that cannot be read is answered through Dispatcher::Reject.
//
// Thread safety: ServerState's mutable parts (the session set, `stopping`) are synchronized;
// each session runs on its own strand.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "api/dispatcher.hpp"
#include "api/http_server.hpp"

namespace keyledger::api {

class Gauge;
class Logger;

// What HttpServer::Stop asks of a live connection; both post to the session's strand.
class SessionControl {
 public:
  virtual ~SessionControl() = default;
  // Read no further requests, finish what is in flight, end an SSE stream, close.
  virtual void BeginShutdown() = 0;
  virtual void ForceClose() = 0;
};

// Shared by the listener and every session of one HttpServer; lives as long as the last of them.
struct ServerState {
  ServerConfig config;
  std::unique_ptr<Dispatcher> dispatcher;
  Logger* logger = nullptr;
  Gauge* connections = nullptr;  // keyledger_http_connections_active, may be null
  Gauge* streams = nullptr;      // keyledger_sse_streams_active, may be null
  // Bytes every SSE stream of this server holds (queued or being written; api/sse.hpp).
  std::shared_ptr<std::atomic<int64_t>> sse_buffered = std::make_shared<std::atomic<int64_t>>(0);
  std::optional<boost::asio::ssl::context> tls;
  std::atomic<bool> stopping{false};

  std::mutex mu;
  std::condition_variable cv;  // notified when a session ends
  std::unordered_map<SessionControl*, std::weak_ptr<SessionControl>> sessions;

  void Register(SessionControl* s, std::weak_ptr<SessionControl> w);
  void Unregister(SessionControl* s);
  std::vector<std::shared_ptr<SessionControl>> Live();
  size_t Count();
};

// Serves one accepted connection until it closes (over TLS when `state->tls` is set).
void StartSession(std::shared_ptr<ServerState> state, boost::asio::ip::tcp::socket socket,
                  std::string client_ip);

}  // namespace keyledger::api
