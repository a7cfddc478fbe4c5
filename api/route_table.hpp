#pragma once
// `keyledgerd routes [--nginx] [--upstream HOST:PORT]`: keyledgerd's route table, printed from the
// Router the server builds, so what it prints cannot drift from what is served.
//
//   FormatRouteTable: one "METHOD PATTERN ACCESS" line per route, in registration order
//   ("GET /api/admin/providers/{provider_id} auditor").
//
//   NginxFragment: an nginx configuration fragment, to be included in the `server` block in front
//   of both keyledgerd and Aether, that sends exactly keyledgerd's paths to keyledgerd:
//     - `proxy_pass http://keyledgerd;`, the upstream that the http context defines
//       (`upstream keyledgerd { server 127.0.0.1:8080; keepalive 16; }`, as in
//       deploy/nginx/keyledger.conf: nginx allows `upstream` only there, never inside `server`,
//       so it cannot be part of this fragment); with an explicit upstream address the fragment
//       proxies to that address instead and needs nothing else;
//     - one anchored, case-sensitive regex `location` per distinct path shape, `{param}` as
//       `[^/]+`, with `/?` for the same path with its trailing slash toggled (keyledgerd answers
//       that one with its own 307, so it must reach keyledgerd too). Every method goes there:
//       keyledgerd answers 405 for the others;
//     - `proxy_pass` with no URI part, so nginx forwards the request URI
//       exactly as the client sent it (keyledgerd matches raw segments: "%2F" stays inside its
//       segment); Host, X-Forwarded-For and X-Forwarded-Proto; keyledgerd's Server header
//       passed through (it tells an operator which side answered);
//     - `client_max_body_size` equal to keyledgerd's body limit (a larger body gets nginx's 413
//       instead of keyledgerd's);
//     - for streaming (SSE) routes: `proxy_buffering off` and long read/send timeouts.
//   Regex locations take precedence over the operator's prefix `location /` (which stays with
//   Aether), whatever the order; include the fragment before any other regex location.
//   nginx matches locations on the normalized URI (decoded, dot segments resolved, slashes
//   merged) while keyledgerd matches the raw one: every raw path keyledgerd routes normalizes to
//   a path these locations match, so nothing keyledgerd serves is sent elsewhere, except a
//   parameter that is a dot segment ("/api/admin/providers/.." is resolved by nginx to
//   "/api/admin/" and goes to Aether; keyledgerd's ids are never "." or ".."). A path that only
//   normalizes to one of keyledgerd's (".../keys/ID%2Freveal") reaches keyledgerd, which answers
//   404.
//
// Pure functions of the route table; thread-safe.

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_server.hpp"
#include "api/router.hpp"
#include "events/status.hpp"

namespace keyledger::api {

// The upstream the fragment proxies to unless given an address; defined in the http context.
inline constexpr std::string_view kUpstreamName = "keyledgerd";
// Between two reads from an SSE stream's upstream (the audit stream sends nothing while no event
// commits, so a quiet stream is closed after this long; the client reconnects with ?after=).
inline constexpr std::string_view kStreamReadTimeout = "1h";

struct NginxOptions {
  // "HOST:PORT", "[IPv6]:PORT" (checked by ValidateUpstream): proxy_pass to that address.
  // Default empty: proxy_pass to the upstream named kUpstreamName.
  std::string upstream{};
  // keyledgerd's request body limit (ServerConfig::body_limit). Default 1 MiB.
  uint64_t body_limit = kDefaultBodyLimit;
};

// kInvalidArgument unless `upstream` is HOST:PORT with a host of letters, digits, '.', '-'
// (or a bracketed IPv6 address) and a port 1-65535: nothing that could end an nginx directive.
Status ValidateUpstream(std::string_view upstream);

// "/api/admin/providers/{provider_id}" → "^/api/admin/providers/[^/]+/?$" (literal text escaped
// for PCRE; exposed for tests).
std::string NginxLocationRegex(std::string_view pattern);

std::string FormatRouteTable(const Router& router);
// `options.upstream`, when set, must pass ValidateUpstream.
std::string NginxFragment(const Router& router, const NginxOptions& options);

// `args` are the arguments after "routes". Prints the table (or, with --nginx, the fragment) to
// `out`. Exit codes: 0 success, 2 usage error (message on `err`).
int RunRoutesCommand(const std::vector<std::string>& args, const Router& router, std::ostream& out,
                     std::ostream& err);

}  // namespace keyledger::api
