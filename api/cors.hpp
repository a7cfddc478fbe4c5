#pragma once
// CORS for browser clients served from another origin (keyledgerd --cors-origins), modelled on
// Aether's Starlette CORSMiddleware (aether-spec.md §11.6) where that is sound:
//
//   - No origins configured (the default): no CORS at all; OPTIONS reaches the router (405).
//   - A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered here,
//     before routing and authentication, and never reaches a handler (so it is never an audit
//     event): 200 "OK", or 400 "Disallowed CORS origin, method, headers" naming the failing
//     parts. Headers: Access-Control-Allow-Origin (only when the origin is allowed),
//     -Allow-Methods (GET, POST, PUT, DELETE, PATCH, OPTIONS), -Allow-Headers (the list below),
//     -Max-Age 600, -Allow-Credentials: true (explicit origins only) and Vary: Origin.
//   - Any other request with an allowed Origin gets Access-Control-Allow-Origin, the
//     Access-Control-Expose-Headers list below, Allow-Credentials (explicit origins only) and
//     Vary: Origin, on every status: 401, 404, 429 and 500 included (Aether's 500s carry none,
//     §11.8 item 12). A request from a refused origin gets only Vary: Origin.
//
// Differences from Starlette, each because its behaviour is unsound or pointless here: the
// allowed request headers are an explicit list (Starlette echoes any requested header: "*"),
// the exposed headers are an explicit list (a literal "*" does not expose anything to a request
// with credentials), "*" never goes with Allow-Credentials and never echoes the origin (Starlette
// echoes it for a request carrying a Cookie), and a refused origin gets no Expose-Headers or
// Allow-Credentials.
//
// Thread safety: immutable after construction; shared by every connection.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/handler.hpp"

namespace keyledger::api {

// What the admin UI and scripts send: Starlette's always-allowed safelisted headers plus
// keyledger's own request headers (X-Keyledger-Min-Seq: read-your-writes on another node).
inline constexpr std::string_view kCorsAllowHeaders =
    "Accept, Accept-Language, Authorization, Content-Language, Content-Type, Idempotency-Key, "
    "If-Match, Last-Event-ID, X-Audit-Reason, X-Keyledger-Min-Seq, X-Request-Id";
// What a browser client may read from a response: the version, the request id, an idempotent
// replay, the sequence the answer reflects (to send back as X-Keyledger-Min-Seq), and the
// headers of 307, 429 and 503 answers.
inline constexpr std::string_view kCorsExposeHeaders =
    "ETag, X-Request-Id, Idempotent-Replayed, X-Keyledger-Seq, Location, Retry-After";
inline constexpr std::string_view kCorsAllowMethods = "GET, POST, PUT, DELETE, PATCH, OPTIONS";
inline constexpr int kCorsMaxAgeSeconds = 600;

class CorsPolicy {
 public:
  // `origins`: exact origins as browsers send them ("https://admin.example.com",
  // "http://localhost:5173"), or "*" for any origin (then without credentials). Validate them
  // first with ValidateCorsOrigins (src/server_config.cpp does).
  explicit CorsPolicy(std::vector<std::string> origins);

  // The complete answer when `req` is a preflight; nullopt for any other request.
  std::optional<Response> Preflight(const Request& req) const;
  // Appends the headers for a non-preflight response to a request that carried `origin`
  // (nothing when it carried none).
  void AddResponseHeaders(std::optional<std::string_view> origin,
                          std::vector<NameValue>& headers) const;

  bool AllowsOrigin(std::string_view origin) const;
  bool any_origin() const { return any_origin_; }

 private:
  std::vector<std::string> origins_;
  bool any_origin_ = false;
};

}  // namespace keyledger::api
