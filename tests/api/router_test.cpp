#include "api/router.hpp"

#include <gtest/gtest.h>

#include "tests/support/test_support.hpp"

namespace keyledger::api {
namespace {

Handler Noop() {
  return [](const RequestPtr&, Responder respond) { respond(Response::Json(200, "{}")); };
}

void AddRoute(Router& r, std::string method, std::string pattern) {
  ASSERT_OK(r.Add({.method = std::move(method), .pattern = std::move(pattern), .handler = Noop()}));
}

// Mirrors the registration order of Aether's admin endpoints router (aether-spec.md §1.2).
Router AetherLikeRouter() {
  Router r;
  AddRoute(r, "GET", "/api/admin/endpoints/{endpoint_id}");
  AddRoute(r, "PUT", "/api/admin/endpoints/{endpoint_id}");
  AddRoute(r, "DELETE", "/api/admin/endpoints/{endpoint_id}");
  AddRoute(r, "GET", "/api/admin/endpoints/providers/{provider_id}/keys");
  AddRoute(r, "POST", "/api/admin/endpoints/providers/{provider_id}/keys");
  AddRoute(r, "PUT", "/api/admin/endpoints/keys/{key_id}");
  AddRoute(r, "GET", "/api/admin/endpoints/keys/grouped-by-format");
  AddRoute(r, "GET", "/api/admin/endpoints/keys/{key_id}/reveal");
  AddRoute(r, "DELETE", "/api/admin/endpoints/keys/{key_id}");
  AddRoute(r, "GET", "/api/admin/providers/");
  AddRoute(r, "GET", "/api/things/{id}");
  AddRoute(r, "GET", "/api/things/special");
  return r;
}

struct MatchCase {
  std::string method;
  std::string path;
  RouteMatch::Kind kind;
  std::string pattern_or_extra;  // matched pattern, Allow value or redirect path
  std::vector<NameValue> params;
};

TEST(RouterTest, StarletteMatchingTable) {
  const Router r = AetherLikeRouter();
  using K = RouteMatch::Kind;
  const std::vector<MatchCase> cases = {
      {"GET",
       "/api/admin/endpoints/e1",
       K::kFound,
       "/api/admin/endpoints/{endpoint_id}",
       {{"endpoint_id", "e1"}}},
      // The literal GET route is registered after PUT {key_id}; a PUT still hits the param route.
      {"PUT",
       "/api/admin/endpoints/keys/grouped-by-format",
       K::kFound,
       "/api/admin/endpoints/keys/{key_id}",
       {{"key_id", "grouped-by-format"}}},
      {"GET",
       "/api/admin/endpoints/keys/grouped-by-format",
       K::kFound,
       "/api/admin/endpoints/keys/grouped-by-format",
       {}},
      {"GET",
       "/api/admin/endpoints/keys/k1/reveal",
       K::kFound,
       "/api/admin/endpoints/keys/{key_id}/reveal",
       {{"key_id", "k1"}}},
      {"DELETE",
       "/api/admin/endpoints/keys/k1",
       K::kFound,
       "/api/admin/endpoints/keys/{key_id}",
       {{"key_id", "k1"}}},
      {"POST",
       "/api/admin/endpoints/providers/p1/keys",
       K::kFound,
       "/api/admin/endpoints/providers/{provider_id}/keys",
       {{"provider_id", "p1"}}},
      // HEAD is answered by GET routes.
      {"HEAD",
       "/api/admin/endpoints/keys/grouped-by-format",
       K::kFound,
       "/api/admin/endpoints/keys/grouped-by-format",
       {}},
      // Parameter route registered first wins over a later literal.
      {"GET", "/api/things/special", K::kFound, "/api/things/{id}", {{"id", "special"}}},
      // 405 lists every method of every route matching the path.
      {"POST", "/api/admin/endpoints/keys/k1", K::kMethodNotAllowed, "PUT, DELETE", {}},
      {"POST",
       "/api/admin/endpoints/keys/grouped-by-format",
       K::kMethodNotAllowed,
       "PUT, GET, HEAD, DELETE",
       {}},
      {"PATCH", "/api/admin/endpoints/e1", K::kMethodNotAllowed, "GET, HEAD, PUT, DELETE", {}},
      // Unknown paths.
      {"GET", "/api/admin/endpoints/keys/k1/reveal/extra", K::kNotFound, "", {}},
      {"GET", "/nope", K::kNotFound, "", {}},
      {"GET", "/", K::kNotFound, "", {}},
      // Empty segments never match a parameter.
      {"GET", "/api/admin/endpoints/keys//reveal", K::kNotFound, "", {}},
      // redirect_slashes, both directions.
      {"GET",
       "/api/admin/endpoints/keys/k1/reveal/",
       K::kRedirect,
       "/api/admin/endpoints/keys/k1/reveal",
       {}},
      {"GET", "/api/admin/providers", K::kRedirect, "/api/admin/providers/", {}},
      // The redirect is decided on the path alone, like Starlette (a PUT gets it too).
      {"PUT", "/api/admin/endpoints/e1/", K::kRedirect, "/api/admin/endpoints/e1", {}},
  };
  for (const MatchCase& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path);
    const RouteMatch m = r.Match(c.method, c.path);
    ASSERT_EQ(m.kind, c.kind);
    switch (c.kind) {
      case K::kFound:
        ASSERT_NE(m.route, nullptr);
        EXPECT_EQ(m.route->pattern, c.pattern_or_extra);
        EXPECT_EQ(m.params, c.params);
        break;
      case K::kMethodNotAllowed:
        EXPECT_EQ(m.allow, c.pattern_or_extra);
        break;
      case K::kRedirect:
        EXPECT_EQ(m.redirect_path, c.pattern_or_extra);
        break;
      case K::kNotFound:
        break;
    }
  }
}

TEST(RouterTest, NoProtocolRelativeRedirect) {
  Router r;
  AddRoute(r, "GET", "/{a}/");
  // "//evil.example" + "/" would be matched by "/{a}/"? No: the first segment is empty. And a
  // Location starting with "//" is never produced.
  EXPECT_EQ(r.Match("GET", "//evil.example").kind, RouteMatch::Kind::kNotFound);
}

TEST(RouterTest, RejectsBadRoutes) {
  Router r;
  const std::vector<RouteSpec> bad = {
      {.method = "get", .pattern = "/x", .handler = Noop()},
      {.method = "GET", .pattern = "x", .handler = Noop()},
      {.method = "GET", .pattern = "/x/{id", .handler = Noop()},
      {.method = "GET", .pattern = "/x/{id}.json", .handler = Noop()},
      {.method = "GET", .pattern = "/x/{1d}", .handler = Noop()},
      {.method = "GET", .pattern = "/x/{id}/{id}", .handler = Noop()},
      {.method = "GET", .pattern = "/x", .handler = nullptr},
      {.method = "", .pattern = "/x", .handler = Noop()},
  };
  for (const RouteSpec& spec : bad) {
    SCOPED_TRACE(spec.method + " " + spec.pattern);
    Status s = r.Add(spec);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  }
  ASSERT_OK(r.Add({.method = "GET", .pattern = "/x", .handler = Noop()}));
  EXPECT_FALSE(r.Add({.method = "GET", .pattern = "/x", .handler = Noop()}).ok());
  EXPECT_EQ(r.Routes().size(), 1u);
}

TEST(RouterTest, SplitPath) {
  EXPECT_EQ(SplitPath("/a/b/"), (std::vector<std::string_view>{"", "a", "b", ""}));
  EXPECT_EQ(SplitPath("/"), (std::vector<std::string_view>{"", ""}));
}

}  // namespace
}  // namespace keyledger::api
