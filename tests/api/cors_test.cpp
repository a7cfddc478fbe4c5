// CORS policy (api/cors.hpp) and --cors-origins parsing (src/server_config.hpp), without sockets;
// tests/e2e/system_e2e_test.cpp checks the same over HTTP.
#include "api/cors.hpp"

#include <gtest/gtest.h>

#include "src/server_config.hpp"

namespace keyledger::api {
namespace {

Request Preflight(std::string origin, std::string method, std::string headers = "") {
  Request r;
  r.method = "OPTIONS";
  r.path = "/api/admin/system/configs/scheduling_mode";
  r.headers.emplace_back("origin", std::move(origin));
  r.headers.emplace_back("access-control-request-method", std::move(method));
  if (!headers.empty())
    r.headers.emplace_back("access-control-request-headers", std::move(headers));
  return r;
}

std::optional<std::string> HeaderOf(const std::vector<NameValue>& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return std::nullopt;
}

const CorsPolicy kExplicit({"https://admin.example.com", "http://localhost:5173"});
const CorsPolicy kAny({"*"});

TEST(CorsTest, PreflightFromAnAllowedOriginWithTheAdminUisHeaders) {
  auto r = kExplicit.Preflight(
      Preflight("https://admin.example.com", "PUT",
                "authorization, content-type, if-match, idempotency-key, x-audit-reason, "
                "x-keyledger-min-seq"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "OK");
  EXPECT_EQ(HeaderOf(r->headers, "Access-Control-Allow-Origin"), "https://admin.example.com");
  EXPECT_EQ(HeaderOf(r->headers, "Access-Control-Allow-Methods"),
            "GET, POST, PUT, DELETE, PATCH, OPTIONS");
  EXPECT_EQ(HeaderOf(r->headers, "Access-Control-Allow-Headers"), std::string(kCorsAllowHeaders));
  EXPECT_EQ(HeaderOf(r->headers, "Access-Control-Max-Age"), "600");
  EXPECT_EQ(HeaderOf(r->headers, "Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(HeaderOf(r->headers, "Vary"), "Origin");
}

TEST(CorsTest, PreflightRefusalsNameWhatFailed) {
  auto origin = kExplicit.Preflight(Preflight("https://evil.example", "PUT"));
  ASSERT_TRUE(origin.has_value());
  EXPECT_EQ(origin->status, 400);
  EXPECT_EQ(origin->body, "Disallowed CORS origin");
  EXPECT_FALSE(HeaderOf(origin->headers, "Access-Control-Allow-Origin").has_value());
  auto all = kExplicit.Preflight(Preflight("https://evil.example", "HEAD", "x-other"));
  EXPECT_EQ(all->body, "Disallowed CORS origin, method, headers");
  auto method = kExplicit.Preflight(Preflight("http://localhost:5173", "put"));
  EXPECT_EQ(method->body, "Disallowed CORS method");
  auto headers = kExplicit.Preflight(Preflight("http://localhost:5173", "GET", "Cookie"));
  EXPECT_EQ(headers->body, "Disallowed CORS headers");
  EXPECT_FALSE(HeaderOf(headers->headers, "Access-Control-Allow-Origin").has_value());
  // Origins match exactly, as browsers send them.
  EXPECT_EQ(kExplicit.Preflight(Preflight("https://admin.example.com/", "GET"))->status, 400);
  EXPECT_EQ(kExplicit.Preflight(Preflight("http://admin.example.com", "GET"))->status, 400);
}

TEST(CorsTest, OnlyOptionsWithOriginAndRequestMethodIsAPreflight) {
  Request r = Preflight("https://admin.example.com", "GET");
  r.method = "GET";
  EXPECT_FALSE(kExplicit.Preflight(r).has_value());
  Request no_method;
  no_method.method = "OPTIONS";
  no_method.headers.emplace_back("origin", "https://admin.example.com");
  EXPECT_FALSE(kExplicit.Preflight(no_method).has_value());
}

TEST(CorsTest, ResponseHeadersOnlyForAnAllowedOrigin) {
  std::vector<NameValue> none;
  kExplicit.AddResponseHeaders(std::nullopt, none);
  EXPECT_TRUE(none.empty());

  std::vector<NameValue> allowed;
  kExplicit.AddResponseHeaders("http://localhost:5173", allowed);
  EXPECT_EQ(HeaderOf(allowed, "Access-Control-Allow-Origin"), "http://localhost:5173");
  EXPECT_EQ(HeaderOf(allowed, "Access-Control-Expose-Headers"),
            "ETag, X-Request-Id, Idempotent-Replayed, X-Keyledger-Seq, Location, Retry-After");
  EXPECT_EQ(HeaderOf(allowed, "Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(HeaderOf(allowed, "Vary"), "Origin");

  std::vector<NameValue> refused;
  kExplicit.AddResponseHeaders("https://evil.example", refused);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(HeaderOf(refused, "Vary"), "Origin");
}

TEST(CorsTest, AnyOriginNeverGoesWithCredentials) {
  auto r = kAny.Preflight(Preflight("https://whoever.example", "DELETE", "Authorization"));
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(HeaderOf(r->headers, "Access-Control-Allow-Origin"), "*");
  EXPECT_FALSE(HeaderOf(r->headers, "Access-Control-Allow-Credentials").has_value());
  EXPECT_FALSE(HeaderOf(r->headers, "Vary").has_value());
  std::vector<NameValue> h;
  kAny.AddResponseHeaders("https://whoever.example", h);
  EXPECT_EQ(HeaderOf(h, "Access-Control-Allow-Origin"), "*");
  EXPECT_FALSE(HeaderOf(h, "Access-Control-Allow-Credentials").has_value());
  // "*" anywhere in the list means any origin, and then never credentials.
  CorsPolicy mixed({"https://a.example", "*"});
  std::vector<NameValue> m;
  mixed.AddResponseHeaders("https://b.example", m);
  EXPECT_EQ(HeaderOf(m, "Access-Control-Allow-Origin"), "*");
  EXPECT_FALSE(HeaderOf(m, "Access-Control-Allow-Credentials").has_value());
}

TEST(CorsOriginsFlagTest, ParsesLikeAethersCorsOrigins) {
  auto parsed = ParseCorsOrigins(" https://admin.example.com , ,http://localhost:5173,");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed,
            (std::vector<std::string>{"https://admin.example.com", "http://localhost:5173"}));
  EXPECT_TRUE(ParseCorsOrigins("")->empty());
  EXPECT_TRUE(ParseCorsOrigins(" , ")->empty());
  EXPECT_EQ(*ParseCorsOrigins("*"), std::vector<std::string>{"*"});
  EXPECT_TRUE(ParseCorsOrigins("http://[::1]:8080").ok());
  for (const char* bad :
       {"admin.example.com", "https://admin.example.com/", "https://Admin.example",
        "ftp://x.example", "https://", "https://a.example/path", "null"}) {
    auto r = ParseCorsOrigins(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("--cors-origins"), std::string::npos);
    }
  }
  std::string many;
  for (size_t i = 0; i <= kMaxCorsOrigins; ++i)
    many += "https://h" + std::to_string(i) + ".example,";
  EXPECT_FALSE(ParseCorsOrigins(many).ok());
}

TEST(CorsOriginsFlagTest, FlagAndEnvironment) {
  const char* argv[] = {"keyledgerd", "--cors-origins", "https://a.example"};
  auto from_flag = ParseServerArgs(3, argv, [](const char*) -> const char* { return nullptr; });
  ASSERT_TRUE(from_flag.ok());
  EXPECT_EQ(from_flag->config.cors_origins, std::vector<std::string>{"https://a.example"});
  const char* bare[] = {"keyledgerd"};
  auto from_env = ParseServerArgs(1, bare, [](const char* name) -> const char* {
    return std::string_view(name) == "KEYLEDGER_CORS_ORIGINS" ? "http://localhost:3000" : nullptr;
  });
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->config.cors_origins, std::vector<std::string>{"http://localhost:3000"});
  auto none = ParseServerArgs(1, bare, [](const char*) -> const char* { return nullptr; });
  EXPECT_TRUE(none->config.cors_origins.empty());
  const char* help[] = {"keyledgerd", "--help"};
  auto h = ParseServerArgs(2, help, [](const char*) -> const char* { return nullptr; });
  EXPECT_NE(h->help_text.find("--cors-origins"), std::string::npos);
  const char* bad[] = {"keyledgerd", "--cors-origins", "example.com"};
  EXPECT_FALSE(ParseServerArgs(3, bad, [](const char*) -> const char* { return nullptr; }).ok());
}

}  // namespace
}  // namespace keyledger::api
