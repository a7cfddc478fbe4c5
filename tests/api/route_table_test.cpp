#include "api/route_table.hpp"

#include <gtest/gtest.h>
#include <regex.h>

#include <algorithm>
#include <sstream>

#include "tests/support/test_support.hpp"

namespace keyledger::api {
namespace {

Handler Noop() {
  return [](const RequestPtr&, Responder respond) { respond(Response::Json(200, "{}")); };
}

// A route table shaped like keyledgerd's: a collection with a trailing slash, parameters,
// a literal next to a parameter, a dot in a literal, a streaming route.
Router SampleRouter() {
  Router r;
  auto add = [&](std::string method, std::string pattern, Access access, bool streaming = false) {
    EXPECT_OK(r.Add({.method = std::move(method),
                     .pattern = std::move(pattern),
                     .access = access,
                     .streaming = streaming,
                     .handler = Noop()}));
  };
  add("GET", "/api/admin/providers/", Access::kAuditor);
  add("POST", "/api/admin/providers/", Access::kAdmin);
  add("GET", "/api/admin/providers/{provider_id}", Access::kAuditor);
  add("DELETE", "/api/admin/providers/{provider_id}", Access::kAdmin);
  add("GET", "/api/admin/endpoints/keys/grouped-by-format", Access::kAuditor);
  add("PUT", "/api/admin/endpoints/keys/{key_id}", Access::kAdmin);
  add("GET", "/api/admin/endpoints/keys/{key_id}/reveal", Access::kAdmin);
  add("GET", "/api/admin/audit/stream", Access::kAuditor, /*streaming=*/true);
  add("GET", "/openapi.json", Access::kPublic);
  add("GET", "/healthz", Access::kPublic);
  return r;
}

// The location regexes of a fragment, in order.
std::vector<std::string> Regexes(const std::string& fragment) {
  std::vector<std::string> out;
  constexpr std::string_view kOpen = "location ~ \"";
  for (size_t at = fragment.find(kOpen); at != std::string::npos;
       at = fragment.find(kOpen, at + 1)) {
    const size_t start = at + kOpen.size();
    out.push_back(fragment.substr(start, fragment.find('"', start) - start));
  }
  return out;
}

// POSIX extended regexes: the generated ones use only what PCRE and ERE read alike (anchors,
// "[^/]+", "/?", backslash-escaped literals).
bool RegexMatches(const std::string& re, const std::string& text) {
  regex_t compiled;
  if (regcomp(&compiled, re.c_str(), REG_EXTENDED | REG_NOSUB) != 0) {
    ADD_FAILURE() << "bad regex " << re;
    return false;
  }
  const bool match = regexec(&compiled, text.c_str(), 0, nullptr, 0) == 0;
  regfree(&compiled);
  return match;
}

TEST(RouteTableTest, OneLinePerRouteInRegistrationOrder) {
  Router r = SampleRouter();
  const std::string table = FormatRouteTable(r);
  EXPECT_EQ(table.rfind("GET /api/admin/providers/ auditor\n"
                        "POST /api/admin/providers/ admin\n"
                        "GET /api/admin/providers/{provider_id} auditor\n",
                        0),
            0u)
      << table;
  EXPECT_NE(table.find("GET /api/admin/audit/stream auditor\n"), std::string::npos);
  EXPECT_NE(table.find("GET /healthz public\n"), std::string::npos);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 10);
}

TEST(RouteTableTest, LocationRegexes) {
  EXPECT_EQ(NginxLocationRegex("/api/admin/providers/"), "^/api/admin/providers/?$");
  EXPECT_EQ(NginxLocationRegex("/api/admin/providers/{provider_id}"),
            "^/api/admin/providers/[^/]+/?$");
  EXPECT_EQ(NginxLocationRegex("/api/admin/endpoints/keys/{key_id}/reveal"),
            "^/api/admin/endpoints/keys/[^/]+/reveal/?$");
  EXPECT_EQ(NginxLocationRegex("/openapi.json"), "^/openapi\\.json/?$");
  EXPECT_EQ(NginxLocationRegex("/a+b/(x)"), "^/a\\+b/\\(x\\)/?$");
  EXPECT_EQ(NginxLocationRegex("/"), "^/$");
}

// The fragment's locations send a path to keyledgerd exactly when keyledgerd's router would
// answer it with a route, a 405 or its own 307 (anything but 404). Paths are given as nginx
// matches them (normalized: no "//", no dot segments).
TEST(RouteTableTest, LocationsMatchExactlyWhatTheRouterAnswers) {
  Router r = SampleRouter();
  const std::vector<std::string> regexes = Regexes(NginxFragment(r, {}));
  ASSERT_FALSE(regexes.empty());
  auto to_keyledgerd = [&](const std::string& path) {
    for (const std::string& re : regexes) {
      if (RegexMatches(re, path)) return true;
    }
    return false;
  };
  const std::vector<std::string> paths = {
      "/api/admin/providers/",
      "/api/admin/providers",
      "/api/admin/providers/p1",
      "/api/admin/providers/p1/",
      "/api/admin/providers/p1/models",
      "/api/admin/providers/p1/models/",
      "/api/admin/providers/p1/x",
      "/api/admin/endpoints/keys/grouped-by-format",
      "/api/admin/endpoints/keys/k1",
      "/api/admin/endpoints/keys/k1/reveal",
      "/api/admin/endpoints/keys/k1/reveal/",
      "/api/admin/endpoints/keys",
      "/api/admin/endpoints/keys/",
      "/api/admin/audit/stream",
      "/api/admin/audit/stream/",
      "/api/admin/audit/streamx",
      "/api/admin/audit",
      "/api/admin/stats",
      "/api/auth/login",
      "/api/users/me",
      "/api/announcements",
      "/openapi.json",
      "/openapiXjson",
      "/openapi.json/",
      "/healthz",
      "/healthz/",
      "/healthzz",
      "/x/healthz",
      "/",
  };
  for (const std::string& path : paths) {
    const bool routed = r.Match("GET", path).kind != RouteMatch::Kind::kNotFound;
    EXPECT_EQ(to_keyledgerd(path), routed) << path;
  }
}

TEST(RouteTableTest, NginxFragment) {
  Router r = SampleRouter();
  const std::string f = NginxFragment(r, {});
  // The upstream is named; nginx allows its definition only in the http context.
  EXPECT_EQ(f.find("\nupstream"), std::string::npos) << f;
  EXPECT_NE(f.find("#   upstream keyledgerd { server 127.0.0.1:8080; keepalive 16; }\n"),
            std::string::npos)
      << f;
  // One location per distinct path shape, each with the methods it carries.
  EXPECT_EQ(Regexes(f).size(), 8u) << f;
  EXPECT_NE(f.find("# GET /api/admin/providers/{provider_id}\n"
                   "# DELETE /api/admin/providers/{provider_id}\n"
                   "location ~ \"^/api/admin/providers/[^/]+/?$\" {\n"),
            std::string::npos)
      << f;
  // The request URI goes through unchanged: no URI part after the upstream, anywhere.
  const size_t locations = Regexes(f).size();
  auto count = [&](std::string_view needle) {
    size_t n = 0;
    for (size_t at = f.find(needle); at != std::string::npos; at = f.find(needle, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("proxy_pass http://keyledgerd;\n"), locations);
  EXPECT_EQ(count("proxy_pass "), locations);
  EXPECT_EQ(count("client_max_body_size 1m;\n"), locations);
  EXPECT_EQ(count("proxy_set_header Host $host;\n"), locations);
  EXPECT_EQ(count("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"), locations);
  EXPECT_EQ(count("proxy_set_header X-Forwarded-Proto $scheme;\n"), locations);
  // Only the streaming route is unbuffered, with long timeouts.
  EXPECT_EQ(count("proxy_buffering off;\n"), 1u);
  const size_t stream = f.find("location ~ \"^/api/admin/audit/stream/?$\" {\n");
  ASSERT_NE(stream, std::string::npos);
  const std::string block = f.substr(stream, f.find('}', stream) - stream);
  EXPECT_NE(block.find("proxy_buffering off;\n"), std::string::npos) << block;
  EXPECT_NE(block.find("proxy_read_timeout 1h;\n"), std::string::npos) << block;
  // An explicit address replaces the named upstream everywhere, still without a URI part.
  const std::string direct = NginxFragment(r, {.upstream = "10.0.0.5:9000"});
  EXPECT_EQ(Regexes(direct), Regexes(f));
  size_t direct_passes = 0;
  for (size_t at = direct.find("proxy_pass http://10.0.0.5:9000;\n"); at != std::string::npos;
       at = direct.find("proxy_pass http://10.0.0.5:9000;\n", at + 1)) {
    ++direct_passes;
  }
  EXPECT_EQ(direct_passes, locations);
  EXPECT_EQ(direct.find("keyledgerd;"), std::string::npos);
  // A limit that is not whole MiB is written in bytes.
  EXPECT_NE(NginxFragment(r, {.body_limit = 1000}).find("client_max_body_size 1000;\n"),
            std::string::npos);
  // Nothing else: no location for Aether's paths.
  EXPECT_EQ(f.find("location / {"), std::string::npos);
}

TEST(RouteTableTest, UpstreamIsValidated) {
  for (const char* ok : {"127.0.0.1:8080", "keyledgerd.internal:1", "[::1]:8080", "h:65535"}) {
    EXPECT_TRUE(ValidateUpstream(ok).ok()) << ok;
  }
  for (const char* bad : {"", "127.0.0.1", ":8080", "h:0", "h:65536", "h:80x", "h:", "[::1]8080",
                          "a b:80", "h;evil:80", "h}:80", "[::1;]:80", "h:80;"}) {
    EXPECT_FALSE(ValidateUpstream(bad).ok()) << bad;
  }
}

TEST(RouteTableTest, Command) {
  Router r = SampleRouter();
  auto run = [&](std::vector<std::string> args, std::string* out, std::string* err) {
    std::ostringstream o, e;
    const int code = RunRoutesCommand(args, r, o, e);
    *out = o.str();
    *err = e.str();
    return code;
  };
  std::string out, err;
  EXPECT_EQ(run({}, &out, &err), 0);
  EXPECT_EQ(out, FormatRouteTable(r));
  EXPECT_EQ(run({"--nginx"}, &out, &err), 0);
  EXPECT_EQ(out, NginxFragment(r, {}));
  EXPECT_NE(out.find("proxy_pass http://keyledgerd;"), std::string::npos);
  EXPECT_EQ(run({"--nginx", "--upstream", "[::1]:9"}, &out, &err), 0);
  EXPECT_EQ(out, NginxFragment(r, {.upstream = "[::1]:9"}));
  EXPECT_EQ(run({"--upstream=h:1", "--nginx"}, &out, &err), 0);
  EXPECT_NE(out.find("proxy_pass http://h:1;"), std::string::npos);
  EXPECT_EQ(run({"--nginx", "--upstream", "h;x:1"}, &out, &err), 2);
  EXPECT_NE(err.find("--upstream"), std::string::npos);
  EXPECT_EQ(run({"--upstream", "h:1"}, &out, &err), 2);
  EXPECT_EQ(run({"--nginx", "--upstream"}, &out, &err), 2);
  EXPECT_EQ(run({"--bogus"}, &out, &err), 2);
  EXPECT_NE(err.find("usage"), std::string::npos);
}

}  // namespace
}  // namespace keyledger::api
