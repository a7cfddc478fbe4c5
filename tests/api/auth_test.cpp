#include "api/auth.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "api/logger.hpp"
#include "api/metrics.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::api {
namespace {

using keyledger::testing::TempDir;

constexpr int64_t kNow = 1768280400;  // 2026-01-13T05:00:00Z
constexpr std::string_view kSecret = "test-jwt-secret";

TEST(CidrTest, ParsesAndMatches) {
  struct Case {
    std::string cidr, ip;
    bool match;
  };
  const std::vector<Case> cases = {
      {"127.0.0.1", "127.0.0.1", true},
      {"127.0.0.0/8", "127.9.9.9", true},
      {"10.0.0.0/8", "11.0.0.1", false},
      {"0.0.0.0/0", "8.8.8.8", true},
      {"192.168.1.0/23", "192.168.0.5", true},
      {"192.168.1.0/24", "192.168.0.5", false},
      {"::1/128", "::1", true},
      {"2001:db8::/32", "2001:db8:1::1", true},
      {"2001:db8::/32", "2001:db9::1", false},
      {"127.0.0.0/8", "::ffff:127.0.0.1", true},
      {"127.0.0.0/8", "::1", false},
      {"::/0", "127.0.0.1", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.cidr + " " + c.ip);
    ASSERT_OK_AND_ASSIGN(Cidr cidr, ParseCidr(c.cidr));
    EXPECT_EQ(CidrContains(cidr, c.ip), c.match);
  }
  for (const char* bad : {"", "1.2.3", "1.2.3.4/33", "::1/129", "1.2.3.4/", "1.2.3.4/x",
                          "host.example", "1.2.3.4/-1"}) {
    EXPECT_FALSE(ParseCidr(bad).ok()) << bad;
  }
}

TEST(AuthFailureLimiterTest, CountsPerIpInWindows) {
  auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  AuthFailureLimiter limiter(
      {.limit = 3, .window = std::chrono::seconds(60), .max_tracked_ips = 100},
      [&] { return now; });
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.RecordFailure("10.0.0.1"));
  EXPECT_TRUE(limiter.IsLimited("10.0.0.1"));
  EXPECT_TRUE(limiter.RecordFailure("10.0.0.1"));
  // Another address is unaffected.
  EXPECT_FALSE(limiter.IsLimited("10.0.0.2"));
  EXPECT_FALSE(limiter.RecordFailure("10.0.0.2"));
  // A new window starts afresh.
  now += std::chrono::seconds(61);
  EXPECT_FALSE(limiter.IsLimited("10.0.0.1"));
  EXPECT_FALSE(limiter.RecordFailure("10.0.0.1"));
}

TEST(AuthFailureLimiterTest, MemoryIsBounded) {
  auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  AuthFailureLimiter limiter({.limit = 1, .window = std::chrono::seconds(60), .max_tracked_ips = 8},
                             [&] { return now; });
  for (int i = 0; i < 100; ++i) {
    now += std::chrono::milliseconds(1);
    (void)limiter.RecordFailure("10.0.0." + std::to_string(i));
    EXPECT_LE(limiter.tracked_ips(), 8u);
  }
  // The newest addresses are the ones remembered.
  EXPECT_TRUE(limiter.RecordFailure("10.0.0.99"));
}

TEST(AuthFailureLimiterTest, HundredThousandAddressesStayWithinTheBound) {
  auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  AuthFailureLimiter limiter(
      {.limit = 1, .window = std::chrono::seconds(60), .max_tracked_ips = kDefaultMaxTrackedIps},
      [&] { return now; });
  for (int i = 0; i < 100'000; ++i) {
    (void)limiter.RecordFailure("2001:db8::" + std::to_string(i));
  }
  EXPECT_EQ(limiter.tracked_ips(), kDefaultMaxTrackedIps);
  // The newest are remembered, the oldest forgotten.
  EXPECT_TRUE(limiter.IsLimited("2001:db8::99999"));
  EXPECT_FALSE(limiter.IsLimited("2001:db8::0"));
  // Expired windows go once the window has passed.
  now += std::chrono::seconds(61);
  (void)limiter.RecordFailure("192.0.2.1");
  EXPECT_EQ(limiter.tracked_ips(), 1u);
}

TEST(TokensFileTest, RoundTrip) {
  TokenRecord a{"ops", std::string(64, 'a'),  Role::kAdmin, std::nullopt,
                {},    "2026-01-13T05:00:00Z"};
  TokenRecord b{"audit.bot-1", std::string(64, 'b'),  Role::kAuditor,
                kNow,          {"10.0.0.0/8", "::1"}, ""};
  const std::string text = SerializeTokensFile({a, b});
  EXPECT_EQ(text,
            "{\"tokens\":[\n"
            "  {\"name\":\"ops\",\"sha256\":\"" +
                std::string(64, 'a') +
                "\",\"role\":\"admin\",\"expires_at\":null,\"cidrs\":[],"
                "\"created_at\":\"2026-01-13T05:00:00Z\"},\n"
                "  {\"name\":\"audit.bot-1\",\"sha256\":\"" +
                std::string(64, 'b') +
                "\",\"role\":\"auditor\",\"expires_at\":\"2026-01-13T05:00:00Z\","
                "\"cidrs\":[\"10.0.0.0/8\",\"::1\"]}\n"
                "]}\n");
  ASSERT_OK_AND_ASSIGN(auto parsed, ParseTokensFile(text, "t.json"));
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[1].name, "audit.bot-1");
  EXPECT_EQ(parsed[1].role, Role::kAuditor);
  EXPECT_EQ(parsed[1].expires_at, kNow);
  EXPECT_EQ(parsed[1].cidrs.size(), 2u);
  EXPECT_EQ(SerializeTokensFile(parsed), text);
}

TEST(TokensFileTest, StrictParsingNamesTheProblem) {
  const std::string h(64, 'a');
  struct Case {
    std::string json, needle;
  };
  const std::vector<Case> cases = {
      {"", "not valid JSON"},
      {"[]", "top level must be an object"},
      {R"({"tokens":[]} x)", "not valid JSON"},
      {R"({"tokens":[],"tokens":[]})", "duplicate key"},
      {R"({"tokens":{}})", "\"tokens\" must be an array"},
      {R"({"other":[]})", "unknown top-level key \"other\""},
      {R"({})", "missing \"tokens\""},
      {R"({"tokens":[1]})", "tokens[0]: not an object"},
      {R"({"tokens":[{"name":"a","sha256":")" + h + R"(","role":"root"}]})",
       "tokens[0].role: unknown role \"root\""},
      {R"({"tokens":[{"name":"a","name":"b","sha256":")" + h + R"(","role":"admin"}]})",
       "tokens[0]: duplicate key"},
      {R"({"tokens":[{"name":1,"sha256":")" + h + R"(","role":"admin"}]})",
       "tokens[0].name: expected a string"},
      {R"({"tokens":[{"name":"a b","sha256":")" + h + R"(","role":"admin"}]})",
       "tokens[0].name: must be 1-64"},
      {R"({"tokens":[{"name":"a","sha256":"ABC","role":"admin"}]})",
       "tokens[0].sha256: must be 64 lower-case hex"},
      {R"({"tokens":[{"name":"a","sha256":")" + h + R"(","role":"admin","expires_at":5}]})",
       "tokens[0].expires_at: expected a string"},
      {R"({"tokens":[{"name":"a","sha256":")" + h +
           R"(","role":"admin","expires_at":"tomorrow"}]})",
       "tokens[0].expires_at: must be null or an RFC 3339 time"},
      {R"({"tokens":[{"name":"a","sha256":")" + h + R"(","role":"admin","cidrs":"any"}]})",
       "tokens[0].cidrs: must be an array"},
      {R"({"tokens":[{"name":"a","sha256":")" + h + R"(","role":"admin","cidrs":["x"]}]})",
       "tokens[0].cidrs: invalid CIDR"},
      {R"({"tokens":[{"name":"a","sha256":")" + h + R"(","role":"admin","token":"kl_x"}]})",
       "tokens[0]: unknown key \"token\""},
      {R"({"tokens":[{"name":"a","role":"admin"}]})", "are required"},
      {R"({"tokens":[{"name":"a","sha256":")" + h + R"(","role":"admin"},{"name":"a","sha256":")" +
           h + R"(","role":"auditor"}]})",
       "tokens[1]: duplicate name \"a\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    auto r = ParseTokensFile(c.json, "/etc/kl/tokens.json");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("/etc/kl/tokens.json"), std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find(c.needle), std::string::npos) << r.error().message;
  }
}

TEST(TokensFileTest, GeneratedTokensLookRight) {
  const std::string a = GenerateManagementToken();
  const std::string b = GenerateManagementToken();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 43u);
  EXPECT_EQ(a.substr(0, 3), "kl_");
  EXPECT_EQ(
      a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 3),
      std::string::npos);
  EXPECT_EQ(TokenSha256Hex("sk-test-1234567890"),
            "e0af5a5e4f889b9add80637ed964016306db6a23e18782c759ee32bdb8230a62");
}

std::string Payload(std::string_view extra) {
  return std::string(R"({"user_id":"u1","email":"a@b.c","role":"admin","type":"access","exp":)") +
         std::to_string(kNow + 3600) + std::string(extra) + "}";
}

TEST(JwtTest, VerifiesAetherAccessTokens) {
  ASSERT_OK_AND_ASSIGN(JwtClaims c, VerifyJwt(SignJwtHs256(Payload(""), kSecret), kSecret, kNow));
  EXPECT_EQ(c.user_id, "u1");
  EXPECT_EQ(c.role, "admin");
  ASSERT_OK_AND_ASSIGN(
      JwtClaims n, VerifyJwt(SignJwtHs256(R"({"user_id":42,"type":"access","exp":1e12})", kSecret),
                             kSecret, kNow));
  EXPECT_EQ(n.user_id, "42");
  EXPECT_EQ(n.role, "");
}

TEST(JwtTest, RejectionTable) {
  const std::string exp_ok = std::to_string(kNow + 60);
  auto sign = [](std::string_view payload) { return SignJwtHs256(payload, kSecret); };
  const std::string good = sign(Payload(""));
  std::string tampered = good;
  tampered[tampered.size() - 2] = tampered[tampered.size() - 2] == 'A' ? 'B' : 'A';
  const std::string none_signed = SignJwtHs256(Payload(""), kSecret, R"({"alg":"none"})");
  const std::string none_unsigned = none_signed.substr(0, none_signed.rfind('.') + 1);
  struct Case {
    std::string name, token, message;
  };
  const std::vector<Case> cases = {
      {"expired", sign(R"({"user_id":"u","type":"access","exp":)" + std::to_string(kNow) + "}"),
       "Token已过期"},
      {"wrong type", sign(R"({"user_id":"u","type":"refresh","exp":)" + exp_ok + "}"),
       "Token类型错误: 期望 access, 实际 refresh"},
      {"missing type", sign(R"({"user_id":"u","exp":)" + exp_ok + "}"),
       "Token类型错误: 期望 access, 实际 None"},
      {"missing user", sign(R"({"type":"access","exp":)" + exp_ok + "}"), "无效的管理员令牌"},
      {"empty user", sign(R"({"user_id":"","type":"access","exp":)" + exp_ok + "}"),
       "无效的管理员令牌"},
      {"missing exp", sign(R"({"user_id":"u","type":"access"})"), "无效的Token"},
      {"string exp", sign(R"({"user_id":"u","type":"access","exp":"9999999999"})"), "无效的Token"},
      {"future nbf",
       sign(R"({"user_id":"u","type":"access","exp":)" + exp_ok + R"(,"nbf":)" +
            std::to_string(kNow + 30) + "}"),
       "无效的Token"},
      {"duplicate claim",
       sign(R"({"user_id":"u","user_id":"v","type":"access","exp":)" + exp_ok + "}"),
       "无效的Token"},
      {"bad signature", tampered, "无效的Token"},
      {"wrong secret", SignJwtHs256(Payload(""), "other-secret"), "无效的Token"},
      {"alg none", SignJwtHs256(Payload(""), kSecret, R"({"alg":"none","typ":"JWT"})"),
       "无效的Token"},
      {"alg none unsigned", none_unsigned, "无效的Token"},
      {"alg HS512", SignJwtHs256(Payload(""), kSecret, R"({"alg":"HS512","typ":"JWT"})"),
       "无效的Token"},
      {"alg lowercase", SignJwtHs256(Payload(""), kSecret, R"({"alg":"hs256"})"), "无效的Token"},
      {"not json payload", SignJwtHs256("not json", kSecret), "无效的Token"},
      {"array payload", SignJwtHs256("[1]", kSecret), "无效的Token"},
      {"two parts", good.substr(0, good.rfind('.')), "无效的Token"},
      {"four parts", good + ".x", "无效的Token"},
      {"garbage", "abc", "无效的Token"},
      {"bad base64", "a!b.c.d", "无效的Token"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = VerifyJwt(c.token, kSecret, kNow);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
    EXPECT_EQ(r.error().message, c.message);
  }
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tokens_file_ = dir_.Sub("tokens.json");
    admin_ = GenerateManagementToken();
    auditor_ = GenerateManagementToken();
    expired_ = GenerateManagementToken();
    fenced_ = GenerateManagementToken();
    ASSERT_OK(WriteTokensFileAtomic(
        tokens_file_,
        {{"ops", TokenSha256Hex(admin_), Role::kAdmin, std::nullopt, {}, ""},
         {"auditor", TokenSha256Hex(auditor_), Role::kAuditor, std::nullopt, {}, ""},
         {"old", TokenSha256Hex(expired_), Role::kAdmin, kNow, {}, ""},
         {"fenced", TokenSha256Hex(fenced_), Role::kAdmin, std::nullopt, {"10.0.0.0/8"}, ""}}));
    AuthConfig config;
    config.tokens_file = tokens_file_;
    config.jwt_secret = std::string(kSecret);
    config.now_unix = [] { return kNow; };
    ASSERT_OK_AND_ASSIGN(auth_, Authenticator::Create(config, &logger_, &metrics_));
  }

  Authenticator::Outcome Auth(std::optional<std::string> header, Access access,
                              std::string ip = "127.0.0.1") {
    return auth_->Authenticate(header ? std::optional<std::string_view>(*header) : std::nullopt, ip,
                               access);
  }

  TempDir dir_;
  std::vector<std::string> log_lines_;
  Logger logger_{LogLevel::kDebug, [this](std::string_view l) { log_lines_.emplace_back(l); }};
  MetricsRegistry metrics_;
  std::string tokens_file_, admin_, auditor_, expired_, fenced_;
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(AuthenticatorTest, BearerParsingAsAether) {
  EXPECT_TRUE(Auth("Bearer " + admin_, Access::kAdmin).ok());
  EXPECT_TRUE(Auth("bEaReR   " + admin_ + "  ", Access::kAdmin).ok());
  const std::string missing = R"({"error":{"type":"http_error","message":"缺少管理员凭证"}})";
  EXPECT_EQ(Auth(std::nullopt, Access::kAdmin).error.body, missing);
  EXPECT_EQ(Auth("Basic x", Access::kAdmin).error.body, missing);
  EXPECT_EQ(Auth("Bearer", Access::kAdmin).error.body, missing);
  EXPECT_EQ(Auth(admin_, Access::kAdmin).error.body, missing);
  EXPECT_EQ(Auth("Bearer " + admin_, Access::kAdmin).principal->name, "ops");
  EXPECT_TRUE(Auth(std::nullopt, Access::kPublic).ok());
}

TEST_F(AuthenticatorTest, ManagementTokenMatrix) {
  const std::string invalid =
      R"({"error":{"type":"http_error","message":"无效或过期的 Management Token"}})";
  const std::string forbidden = R"({"error":{"type":"http_error","message":"需要管理员权限"}})";
  struct Case {
    std::string name, header, ip;
    Access access;
    int status;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"admin on admin", "Bearer " + admin_, "127.0.0.1", Access::kAdmin, 200, ""},
      {"admin on auditor", "Bearer " + admin_, "127.0.0.1", Access::kAuditor, 200, ""},
      {"auditor on auditor", "Bearer " + auditor_, "127.0.0.1", Access::kAuditor, 200, ""},
      {"auditor on admin", "Bearer " + auditor_, "127.0.0.1", Access::kAdmin, 403, forbidden},
      {"unknown token", "Bearer kl_nope", "127.0.0.1", Access::kAdmin, 401, invalid},
      {"expired", "Bearer " + expired_, "127.0.0.1", Access::kAdmin, 401, invalid},
      {"cidr refused", "Bearer " + fenced_, "127.0.0.1", Access::kAdmin, 401, invalid},
      {"cidr allowed", "Bearer " + fenced_, "10.1.2.3", Access::kAdmin, 200, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto out = Auth(c.header, c.access, c.ip);
    if (c.status == 200) {
      ASSERT_TRUE(out.ok());
      EXPECT_EQ(out.principal->kind, PrincipalKind::kManagementToken);
    } else {
      ASSERT_FALSE(out.ok());
      EXPECT_EQ(out.error.status, c.status);
      EXPECT_EQ(out.error.body, c.body);
    }
  }
  EXPECT_NE(metrics_.Render().find(R"(keyledger_auth_failures_total{reason="ip_not_allowed"} 1)"),
            std::string::npos);
}

TEST_F(AuthenticatorTest, JwtRoles) {
  auto jwt = [](std::string_view role) {
    return "Bearer " +
           SignJwtHs256(std::string(R"({"user_id":"u7","type":"access","role":")") +
                            std::string(role) + R"(","exp":)" + std::to_string(kNow + 60) + "}",
                        kSecret);
  };
  auto admin = Auth(jwt("admin"), Access::kAdmin);
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin.principal->name, "jwt:u7");
  EXPECT_EQ(admin.principal->kind, PrincipalKind::kJwt);
  EXPECT_EQ(Auth(jwt("user"), Access::kAdmin).error.status, 403);
  EXPECT_EQ(Auth(jwt("user"), Access::kAuditor).error.status, 403);
  EXPECT_TRUE(Auth(jwt("auditor"), Access::kAuditor).ok());
  EXPECT_EQ(Auth(jwt("auditor"), Access::kAdmin).error.status, 403);
  EXPECT_EQ(Auth("Bearer not.a.jwt", Access::kAdmin).error.body,
            R"({"error":{"type":"http_error","message":"无效的Token"}})");
}

TEST_F(AuthenticatorTest, RateLimitsFailuresButNeverSuccesses) {
  for (int i = 0; i < kDefaultAuthFailureLimit; ++i) {
    EXPECT_EQ(Auth("Bearer kl_bad", Access::kAdmin, "192.0.2.1").error.status, 401);
  }
  auto limited = Auth("Bearer kl_bad", Access::kAdmin, "192.0.2.1");
  EXPECT_EQ(limited.error.status, 429);
  EXPECT_EQ(
      limited.error.body,
      R"({"error":{"type":"rate_limit","message":"请求过于频繁，限制为每分钟 30次","details":{"limit":30,"window":"分钟"}}})");
  // A valid token from the same address still works; other addresses are unaffected.
  EXPECT_TRUE(Auth("Bearer " + admin_, Access::kAdmin, "192.0.2.1").ok());
  EXPECT_EQ(Auth("Bearer kl_bad", Access::kAdmin, "192.0.2.2").error.status, 401);
  // 403s are not failures of authentication and never count.
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(Auth("Bearer " + auditor_, Access::kAdmin, "192.0.2.3").error.status, 403);
  }
}

TEST_F(AuthenticatorTest, ReloadPicksUpChangesAndSurvivesBrokenFiles) {
  const std::string fresh = GenerateManagementToken();
  EXPECT_EQ(Auth("Bearer " + fresh, Access::kAdmin).error.status, 401);
  ASSERT_OK(WriteTokensFileAtomic(
      tokens_file_, {{"fresh", TokenSha256Hex(fresh), Role::kAdmin, std::nullopt, {}, ""}}));
  ASSERT_OK(auth_->Reload());
  EXPECT_TRUE(Auth("Bearer " + fresh, Access::kAdmin).ok());
  EXPECT_EQ(Auth("Bearer " + admin_, Access::kAdmin).error.status, 401);  // revoked
  EXPECT_EQ(auth_->token_count(), 1u);

  { std::ofstream(tokens_file_) << R"({"tokens":[{"name":"x","role":"root"}]})"; }
  Status s = auth_->Reload();
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(Auth("Bearer " + fresh, Access::kAdmin).ok());  // old tokens kept
  ASSERT_FALSE(log_lines_.empty());
  EXPECT_NE(log_lines_.back().find("reload failed"), std::string::npos);
  EXPECT_NE(log_lines_.back().find(tokens_file_), std::string::npos);
}

TEST_F(AuthenticatorTest, RecheckHasNoSideEffects) {
  EXPECT_EQ(auth_->Recheck("Bearer " + auditor_, "127.0.0.1", Access::kAuditor), "");
  EXPECT_EQ(auth_->Recheck("Bearer " + admin_, "127.0.0.1", Access::kAuditor), "");
  EXPECT_EQ(auth_->Recheck("Bearer " + expired_, "127.0.0.1", Access::kAuditor), "expired_token");
  EXPECT_EQ(auth_->Recheck("Bearer " + fenced_, "127.0.0.1", Access::kAuditor), "ip_not_allowed");
  EXPECT_EQ(auth_->Recheck("Bearer " + auditor_, "127.0.0.1", Access::kAdmin), "forbidden");
  for (int i = 0; i < 2 * kDefaultAuthFailureLimit; ++i) {
    EXPECT_EQ(auth_->Recheck("Bearer kl_bad", "192.0.2.9", Access::kAuditor), "invalid_token");
  }
  // Nothing was counted or rate-limited.
  EXPECT_EQ(auth_->limiter().tracked_ips(), 0u);
  EXPECT_EQ(metrics_.Render().find("keyledger_auth_failures_total{"), std::string::npos);
  // A revoked token fails the recheck after the reload.
  ASSERT_OK(WriteTokensFileAtomic(
      tokens_file_, {{"ops", TokenSha256Hex(admin_), Role::kAdmin, std::nullopt, {}, ""}}));
  ASSERT_OK(auth_->Reload());
  EXPECT_EQ(auth_->Recheck("Bearer " + auditor_, "127.0.0.1", Access::kAuditor), "invalid_token");
  EXPECT_EQ(auth_->Recheck("Bearer " + admin_, "127.0.0.1", Access::kAuditor), "");
}

TEST(AuthenticatorRecheckTest, ExpiryIsCheckedAgainstTheClockNow) {
  TempDir dir;
  const std::string token = GenerateManagementToken();
  ASSERT_OK(WriteTokensFileAtomic(
      dir.Sub("t.json"), {{"temp", TokenSha256Hex(token), Role::kAuditor, kNow + 60, {}, ""}}));
  int64_t now = kNow;
  AuthConfig config;
  config.tokens_file = dir.Sub("t.json");
  config.jwt_secret = std::string(kSecret);
  config.now_unix = [&now] { return now; };
  ASSERT_OK_AND_ASSIGN(auto auth, Authenticator::Create(config, nullptr, nullptr));
  const std::string jwt =
      SignJwtHs256(R"({"type":"access","user_id":"u1","role":"auditor","exp":)" +
                       std::to_string(kNow + 30) + "}",
                   kSecret);
  EXPECT_EQ(auth->Recheck("Bearer " + token, "127.0.0.1", Access::kAuditor), "");
  EXPECT_EQ(auth->Recheck("Bearer " + jwt, "127.0.0.1", Access::kAuditor), "");
  now = kNow + 30;
  EXPECT_EQ(auth->Recheck("Bearer " + jwt, "127.0.0.1", Access::kAuditor), "jwt_expired");
  EXPECT_EQ(auth->Recheck("Bearer " + token, "127.0.0.1", Access::kAuditor), "");
  now = kNow + 60;
  EXPECT_EQ(auth->Recheck("Bearer " + token, "127.0.0.1", Access::kAuditor), "expired_token");
}

TEST(AuthenticatorCreateTest, MissingFileIsNotFound) {
  TempDir dir;
  AuthConfig config;
  config.tokens_file = dir.Sub("absent.json");
  auto r = Authenticator::Create(config, nullptr, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST(JwtSecretFileTest, StripsTrailingNewlines) {
  TempDir dir;
  { std::ofstream(dir.Sub("s")) << "secret\r\n\n"; }
  ASSERT_OK_AND_ASSIGN(std::string s, ReadJwtSecretFile(dir.Sub("s")));
  EXPECT_EQ(s, "secret");
  { std::ofstream(dir.Sub("e")) << "\n"; }
  EXPECT_FALSE(ReadJwtSecretFile(dir.Sub("e")).ok());
  EXPECT_FALSE(ReadJwtSecretFile(dir.Sub("missing")).ok());
}

}  // namespace
}  // namespace keyledger::api
