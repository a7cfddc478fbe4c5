#pragma once
// The handler API of keyledger_api: what a route sees (Request), what it answers (Response), and
// how it answers (Responder, EventStream). Nothing here includes Beast, so the translation units
// that define domain routes stay light.
//
// Contract for route handlers:
//   - A handler runs on an I/O thread, on the strand of its connection, after routing and auth.
//     It must not block: hand work to another thread and answer later through the Responder.
//   - It answers exactly once, either with Responder::Respond (or operator()) or, on routes
//     registered with `streaming = true`, with Responder::StartEventStream. Further calls are
//     ignored and logged as a bug. If every copy of a Responder is destroyed without answering,
//     the client gets a 500 system_error (and the log says so), so a lost callback never hangs
//     a connection.
//   - Responder and EventStream are safe to use from any thread; they post to the connection's
//     strand and never block.
//   - Exceptions escaping a handler become a 500 system_error; the exception text is only logged.
//   - Complete or drop every Responder/EventStream before the HttpServer that created it is
//     destroyed (HttpServer::Stop() waits for in-flight requests up to its deadline).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keyledger::api {

// What a route requires of the caller.
enum class Access : uint8_t {
  kPublic,   // no credentials needed (e.g. /healthz, /metrics, /openapi.json)
  kAuditor,  // readable by auditors and admins (reads, never reveal)
  kAdmin,    // admins only (writes and reveal)
};

// What an authenticated caller may do.
enum class Role : uint8_t {
  kNone,     // authenticated but without a keyledger role (a JWT whose role is e.g. "user")
  kAuditor,  // read everything marked Access::kAuditor
  kAdmin,    // everything
};

std::string_view AccessName(Access a);  // "public", "auditor", "admin"
std::string_view RoleName(Role r);      // "none", "auditor", "admin"
bool RoleAllows(Role role, Access access);

enum class PrincipalKind : uint8_t { kManagementToken, kJwt };

// The authenticated caller, recorded as the actor of events and in the request log.
struct Principal {
  std::string name;  // the token name for management tokens, "jwt:<user_id>" for JWTs
  Role role = Role::kNone;
  PrincipalKind kind = PrincipalKind::kManagementToken;
};

using NameValue = std::pair<std::string, std::string>;

// One parsed request. Immutable once the handler runs; shared so asynchronous handlers can keep
// it alive cheaply.
struct Request {
  std::string method;                  // "GET", "POST", ... as sent (HEAD is routed as GET)
  std::string target;                  // the raw request-target, e.g. "/a/b%20c?x=1"
  std::string path;                    // percent-decoded path without the query string
  std::string route_pattern;           // the matched pattern, e.g. "/keys/{key_id}"
  std::vector<NameValue> path_params;  // decoded, in pattern order
  std::vector<NameValue> query;        // decoded ('+' = space), in order, repeated keys kept
  std::vector<NameValue> headers;      // names lower-cased, values as sent, in order
  std::string body;
  std::string client_ip;               // the peer address (IPv4-mapped IPv6 shown as IPv4)
  std::string request_id;              // accepted X-Request-Id or a generated UUID
  std::optional<Principal> principal;  // set on every non-public route
  bool tls = false;
  std::chrono::steady_clock::time_point received_at{};

  // First header with this lower-case name.
  std::optional<std::string_view> Header(std::string_view lower_name) const;
  std::optional<std::string_view> PathParam(std::string_view name) const;
  // First value of a query parameter; QueryAll returns every value in order.
  std::optional<std::string_view> Query(std::string_view name) const;
  std::vector<std::string_view> QueryAll(std::string_view name) const;
  // The principal's name or "" for public routes.
  std::string_view Actor() const { return principal ? std::string_view(principal->name) : ""; }
};

using RequestPtr = std::shared_ptr<const Request>;

inline constexpr std::string_view kJsonContentType = "application/json";

struct Response {
  int status = 200;
  std::string content_type{kJsonContentType};
  std::string body;
  // Extra headers (e.g. ETag, Location, Allow, Retry-After). Content-Type, Content-Length,
  // Connection, Server and X-Request-Id are set by the server.
  std::vector<NameValue> headers;
  // For the operator only: appended to the request's log line, never sent. errors.cpp puts the
  // internal error text and the error_id here.
  std::string log_note;

  static Response Json(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static Response Text(int status, std::string body, std::string content_type) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    r.content_type = std::move(content_type);
    return r;
  }
};

// A Server-Sent Events stream (text/event-stream). Obtained from Responder::StartEventStream.
// Thread-safe. Events are queued per connection up to ServerConfig::sse_queue_limit events and
// ServerConfig::sse_buffer_bytes bytes; a consumer that falls that far behind is dropped: it gets
// a last "stream-closed" event with reason "too_slow", the stream closes and Send returns false.
// The server sends a comment line every ServerConfig::sse_heartbeat so idle streams stay open
// through proxies and dead peers are noticed.
class EventStream {
 public:
  virtual ~EventStream() = default;
  // Queues one event. `data` may contain newlines (one "data:" line each); `event` and `id`
  // must not (CR/LF there make Send return false). Returns false once the stream is closed.
  virtual bool Send(std::string_view event, std::string_view data, std::string_view id = {}) = 0;
  // Queues a comment line (": text"), ignored by clients.
  virtual bool SendComment(std::string_view text) = 0;
  // Ends the stream after the queued events; the connection then closes.
  virtual void Close() = 0;
  virtual bool IsOpen() const = 0;
  // `fn` runs once on an I/O thread when the stream ends for any reason (Close, client
  // disconnect, slow consumer dropped, write error, server shutdown). If the stream has already
  // ended it runs right away on the calling thread.
  virtual void OnClose(std::function<void()> fn) = 0;
};

// Formats one SSE event (exposed for tests): "event: e\nid: i\ndata: line\n...\n\n".
std::string FormatSseEvent(std::string_view event, std::string_view data, std::string_view id);

// True when `s` may stand in a header name or value we send: no CR, LF or NUL, which would let
// a value split the response (or an SSE field) in two.
bool IsSafeHeaderText(std::string_view s);
// A non-empty name and a value, both IsSafeHeaderText.
bool IsSafeHeader(std::string_view name, std::string_view value);

// Where a Responder delivers. Implemented by the server's connections; tests may supply their
// own through Responder::ForCallback.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  virtual void Finish(Response response) = 0;
  // nullptr when streaming is not possible (route not registered as streaming, connection gone).
  virtual std::shared_ptr<EventStream> StartStream(std::vector<NameValue> headers) = 0;
};

// Answers one request exactly once, from any thread. Copyable; all copies share one state.
class Responder {
 public:
  explicit Responder(std::shared_ptr<ResponseSink> sink);
  // For tests of handlers without a server: `fn` receives the response (on the calling thread).
  static Responder ForCallback(std::function<void(Response)> fn);

  void Respond(Response response) const;
  void operator()(Response response) const { Respond(std::move(response)); }
  // Starts a text/event-stream response (status 200). Counts as the answer. Returns nullptr if
  // the request was already answered, or if the route is not a streaming route (the client then
  // gets a 500 and the log says why).
  std::shared_ptr<EventStream> StartEventStream(std::vector<NameValue> extra_headers = {}) const;
  bool answered() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

using Handler = std::function<void(const RequestPtr& request, Responder respond)>;

}  // namespace keyledger::api
