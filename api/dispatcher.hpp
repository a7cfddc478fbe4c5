#pragma once
// Dispatch: everything between a parsed request and its answer that needs no socket. The
// transport (HttpServer's sessions, api/session.cpp; a test; the request fuzzer) hands in a
// Request and a ResponseSink, and gets back exactly one answer through the sink, finished:
//
//   X-Request-Id (accepted if 1-128 token characters, else a fresh UUID)
//   → CORS preflight, when a CorsPolicy is set (answered here, before routing; api/cors.hpp)
//   → request-target check (400 "Invalid request target" unless the path starts with '/')
//   → route (404/405/307, api/router.hpp)
//   → authenticate (401/403, or 429 from the failure limiter; api/auth.hpp)
//   → the route's handler, inside the one try/catch of the HTTP layer: an exception becomes a
//     500 system_error whose body carries only an error_id; the handler and the exception text go
//     to the log line's note.
// Every answer, whoever produced it, is then finished the same way: a status outside 100-999
// becomes a 500, X-Request-Id is the first header, CORS headers are added for a request with an
// Origin, headers with CR, LF or NUL are dropped (and logged), and the request gets its one JSON
// log line (logger.hpp) and its metrics:
//   keyledger_http_requests_total{method,route,status}
//   keyledger_http_request_duration_seconds{method,route,status}   (histogram, from received_at)
// `route` is the matched pattern, or "unmatched" (404/405/307), "invalid" (bad target, or a
// message the transport could not read), "cors-preflight"; `method` is MethodLabel's closed set.
//
// What the transport keeps: reading and framing, the order of pipelined answers, HEAD bodies,
// keep-alive, writing, TLS, timeouts, shutdown (api/session.cpp).
//
// Thread safety: Dispatch and Reject may be called from any thread at once. The Router must not
// change while a Dispatcher uses it. Router, Authenticator, Logger and MetricsRegistry are
// borrowed: they, and the Dispatcher, must outlive every Responder the Dispatcher hands out.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/handler.hpp"

namespace keyledger::api {

class Authenticator;
class CorsPolicy;
class Logger;
class MetricsRegistry;
class Router;
class Counter;
class Histogram;
template <typename Cell>
class Family;

class Dispatcher {
 public:
  // `auth` may be null only if every route is public (a route that needs a role then answers
  // 500). `metrics` may be null (no metrics); otherwise the two request families are registered
  // in it now. `cors` null: no CORS headers at all, OPTIONS reaches the router.
  Dispatcher(const Router& router, Authenticator* auth, Logger& logger, MetricsRegistry* metrics,
             std::shared_ptr<const CorsPolicy> cors = nullptr);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Dispatches one request. The transport fills method, target, headers (names lower-cased, in
  // order), body, client_ip, tls and received_at; the dispatcher fills path, query, request_id,
  // route_pattern, path_params and principal. The finished answer reaches `sink` exactly once:
  // Finish(response), or StartStream(headers) when a streaming route's handler starts an event
  // stream (the headers then already carry X-Request-Id and CORS). It may arrive before Dispatch
  // returns (errors, synchronous handlers) or later from any thread.
  // True when the request went to the handler of a streaming route: the stream then owns the
  // rest of the connection, so the transport must read no further requests.
  bool Dispatch(Request request, std::shared_ptr<ResponseSink> sink) const;

  // Finishes the answer to a message the transport could not read whole (a limit, bad framing,
  // malformed syntax), logged and metered under the route "invalid". `partial` holds what was
  // read: method, target and headers when the start line was (method empty when not), plus
  // client_ip and received_at.
  Response Reject(const Request& partial, Response response) const;

 private:
  struct Exchange;
  class AnswerSink;

  Response Finish(const Exchange& x, Response response) const;
  void FinishStreamHeaders(const Exchange& x, std::vector<NameValue>& headers) const;
  void Record(const Exchange& x, int status, std::string_view note) const;

  const Router& router_;
  Authenticator* auth_;
  Logger& logger_;
  std::shared_ptr<const CorsPolicy> cors_;
  Family<Counter>* requests_ = nullptr;
  Family<Histogram>* latency_ = nullptr;
};

// The X-Request-Id a request is known by: the client's when it is 1-128 token characters, else
// a fresh UUID (exposed for tests).
std::string AcceptRequestId(std::optional<std::string_view> header);

}  // namespace keyledger::api
