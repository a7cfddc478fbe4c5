#pragma once
// The route table, with Starlette's matching rules (aether-spec.md §1.2):
//   - routes are tried in registration order; path templates use whole-segment `{param}`
//     placeholders, each matching one non-empty segment (no '/');
//   - the first route whose path AND method match wins, so a literal route registered after a
//     parameter route with another method does not shadow it (PUT /keys/grouped-by-format hits
//     PUT /keys/{key_id} when only GET /keys/grouped-by-format is literal);
//   - a GET route also answers HEAD (the server drops the body);
//   - path matches but no method does: 405 {"detail":"Method Not Allowed"} with Allow listing the
//     methods of every route matching the path;
//   - nothing matches: if the path with its trailing slash toggled matches some route (any
//     method), 307 to that path (FastAPI redirect_slashes); otherwise 404 {"detail":"Not Found"}.
// Matching works on the raw path's segments: the path is split on '/' first, then each segment
// is percent-decoded on its own, so an encoded separator ("%2F") stays inside its segment and can
// never reach another route (a proxy rule written on raw paths cannot be bypassed that way). A
// segment that decodes to text containing '/' matches no parameter, which is the 404 Starlette
// gives for the same request. Literal segments compare with the decoded segment.
//
// Routes also carry the metadata the OpenAPI generator needs. Build the router completely before
// the server starts; afterwards it is only read, from any thread, without locks.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/handler.hpp"
#include "events/status.hpp"

namespace keyledger::api {

// Documentation of one query parameter (for OpenAPI; parsing is the handler's job).
struct QueryParamDoc {
  std::string name{};
  std::string description{};
  std::string schema_json = R"({"type":"string"})";  // inline JSON schema text
  bool required = false;
};

// A route as registered. Designated initializers read well:
//   router.Add({.method = "GET", .pattern = "/api/x/{id}", .access = Access::kAuditor,
//               .summary = "Get x", .tag = "X", .handler = ...});
struct RouteSpec {
  std::string method{};   // upper case: GET, POST, PUT, PATCH, DELETE, ...
  std::string pattern{};  // "/api/admin/endpoints/keys/{key_id}"
  Access access = Access::kAdmin;
  std::string summary{};
  std::string tag{};
  std::string description{};
  std::vector<QueryParamDoc> query_params{};
  // Schemas: a component name ("EndpointAPIKeyCreate", emitted as a $ref) or inline JSON schema
  // text starting with '{'. Empty: no request body / an untyped JSON response.
  std::string request_schema{};
  std::string response_schema{};
  // The handler answers with Responder::StartEventStream (text/event-stream). The connection
  // stops reading further requests after this one and closes when the stream ends.
  bool streaming = false;
  Handler handler{};
};

struct RouteMatch {
  enum class Kind { kFound, kMethodNotAllowed, kNotFound, kRedirect };
  Kind kind = Kind::kNotFound;
  const RouteSpec* route = nullptr;  // kFound
  std::vector<NameValue> params;     // kFound: path parameters in pattern order
  std::string allow;                 // kMethodNotAllowed: "GET, HEAD, PUT"
  std::string redirect_path;         // kRedirect: the raw path with the slash toggled
};

class Router {
 public:
  Router() = default;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;
  Router(Router&&) = default;
  Router& operator=(Router&&) = default;

  // kInvalidArgument for a malformed pattern (must start with '/', '{name}' only as a whole
  // segment with a unique identifier name), an empty method or handler, or a (method, pattern)
  // pair that is already registered.
  Status Add(RouteSpec spec);

  // `raw_path` is the request-target's path as sent (still percent-encoded), without the query
  // string. Parameters come back decoded.
  RouteMatch Match(std::string_view method, std::string_view raw_path) const;

  // Every route in registration order (for OpenAPI and tests).
  std::vector<const RouteSpec*> Routes() const;

 private:
  struct Segment {
    std::string text;  // the literal, or the parameter name
    bool param = false;
  };
  struct Entry {
    RouteSpec spec;
    std::vector<Segment> segments;
  };
  static bool PathMatches(const Entry& e, const std::vector<std::string>& parts,
                          std::vector<NameValue>* params);

  std::vector<std::unique_ptr<Entry>> entries_;
};

// Splits "/a/b/" into {"", "a", "b", ""} (exposed for tests).
std::vector<std::string_view> SplitPath(std::string_view path);
// SplitPath, then each segment percent-decoded ("/a%2Fb/c" gives {"", "a/b", "c"}).
std::vector<std::string> SplitDecodedSegments(std::string_view raw_path);

}  // namespace keyledger::api
