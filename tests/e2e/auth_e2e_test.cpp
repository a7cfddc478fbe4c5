// The auth matrix end to end: no credentials, a bad token, an expired token, a token fenced to
// other addresses, auditor and admin management tokens, Aether-style HS256 JWTs (keyledgerd
// started with --jwt-secret-file), tokens created and revoked with `keyledgerd token` and picked
// up on SIGHUP, and the 429 after repeated failures.
#include <ctime>
#include <fstream>

#include "api/auth.hpp"
#include "tests/e2e/e2e_support.hpp"

namespace keyledger::e2e {
namespace {

constexpr std::string_view kJwtSecret = "e2e-jwt-secret-\x01-with-bytes";

class AuthTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    const std::string secret_file = scratch_dir_ + "/jwt.secret";
    std::ofstream(secret_file) << kJwtSecret << "\n";
    Secret(std::string(kJwtSecret));
    StartServer({"--jwt-secret-file", secret_file});
  }

  static std::string Jwt(const std::string& claims) {
    return api::SignJwtHs256(claims, kJwtSecret);
  }
  static int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }
  static std::string AccessClaims(const std::string& user, const std::string& role,
                                  int64_t exp_offset = 3600) {
    return R"({"user_id":")" + user + R"(","email":"u@example.com","role":")" + role +
           R"(","created_at":"2026-01-13T05:00:00","exp":)" + std::to_string(Now() + exp_offset) +
           R"(,"type":"access"})";
  }

  // Sends one request per route kind with `token` ("" = no Authorization header) and returns the
  // statuses: read (auditor route), write (admin route), reveal (admin route).
  struct Outcome {
    TestResponse read, write, reveal;
  };
  Outcome Try(const std::string& authorization) {
    Client c(port());
    Headers h;
    if (!authorization.empty()) h.emplace_back("Authorization", authorization);
    Outcome o;
    o.read = c.Get(KeysOf(provider_), h);
    o.write = c.Put(KeyPath(key_.id), R"({"note":"written"})", h);
    o.reveal = c.Get(KeyPath(key_.id) + "/reveal", h);
    return o;
  }

  static std::string Message(const TestResponse& r) {
    Json j(r.body);
    return Str(j["error"], "message").value_or("<no error.message in " + r.body + ">");
  }

  void Seed() {
    Client admin = Admin();
    provider_ = CreateProvider(admin, "auth");
    key_ = CreateKey(admin, provider_, R"(["CLAUDE"])", NewSecret("auth"), "k");
  }

  std::string provider_;
  CreatedKey key_;
};

TEST_F(AuthTest, Matrix) {
  ASSERT_FALSE(HasFatalFailure());
  Seed();
  const std::string auditor = CreateToken("auditor-1", "auditor");
  const std::string expired = CreateToken("expired-1", "admin", "1h");
  const std::string fenced = [&] {
    ProcessResult r =
        RunProcess({KeyledgerdPath(), "token", "create", "--name", "fenced", "--role", "admin",
                    "--cidr", "10.0.0.0/8", "--tokens-file", data_dir_ + "/tokens.json"},
                   scratch_dir_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Secret(r.out.substr(0, 43));
  }();
  // Move the expiry of "expired-1" into the past, then reload.
  auto records = api::LoadTokensFile(data_dir_ + "/tokens.json");
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  for (auto& r : *records) {
    if (r.name == "expired-1") r.expires_at = Now() - 60;
  }
  ASSERT_TRUE(api::WriteTokensFileAtomic(data_dir_ + "/tokens.json", *records).ok());
  ReloadTokens();
  ASSERT_FALSE(HasFatalFailure());

  struct Row {
    std::string name;
    std::string authorization;
    int read, write, reveal;
    std::string message;  // of the first refusal
  };
  const std::string bad = "kl_" + std::string(40, 'Z');
  const std::vector<Row> rows = {
      {"none", "", 401, 401, 401, "缺少管理员凭证"},
      {"wrong scheme", "Basic " + admin_token_, 401, 401, 401, "缺少管理员凭证"},
      {"unknown token", "Bearer " + bad, 401, 401, 401, "无效或过期的 Management Token"},
      {"expired token", "Bearer " + expired, 401, 401, 401, "无效或过期的 Management Token"},
      {"token fenced to 10/8", "Bearer " + fenced, 401, 401, 401, "无效或过期的 Management Token"},
      {"auditor", "Bearer " + auditor, 200, 403, 403, "需要管理员权限"},
      {"admin", "Bearer " + admin_token_, 200, 200, 200, ""},
      {"admin, lower-case scheme and padding", "bearer    " + admin_token_ + "  ", 200, 200, 200,
       ""},
      {"JWT admin", "Bearer " + Jwt(AccessClaims("u-1", "admin")), 200, 200, 200, ""},
      {"JWT auditor", "Bearer " + Jwt(AccessClaims("u-2", "auditor")), 200, 403, 403,
       "需要管理员权限"},
      {"JWT plain user", "Bearer " + Jwt(AccessClaims("u-3", "user")), 403, 403, 403,
       "需要管理员权限"},
      {"JWT expired", "Bearer " + Jwt(AccessClaims("u-1", "admin", -60)), 401, 401, 401,
       "Token已过期"},
      {"JWT refresh token",
       "Bearer " + Jwt(R"({"user_id":"u-1","email":"u@example.com","exp":)" +
                       std::to_string(Now() + 3600) + R"(,"type":"refresh"})"),
       401, 401, 401, "Token类型错误: 期望 access, 实际 refresh"},
      {"JWT without user_id",
       "Bearer " +
           Jwt(R"({"role":"admin","exp":)" + std::to_string(Now() + 3600) + R"(,"type":"access"})"),
       401, 401, 401, "无效的管理员令牌"},
      {"JWT signed with another secret",
       "Bearer " + api::SignJwtHs256(AccessClaims("u-1", "admin"), "not-the-secret"), 401, 401, 401,
       "无效的Token"},
      {"JWT alg none",
       "Bearer " + api::SignJwtHs256(AccessClaims("u-1", "admin"), kJwtSecret,
                                     R"({"alg":"none","typ":"JWT"})"),
       401, 401, 401, "无效的Token"},
  };
  // Each row fails at most 3 times; the limiter allows 30 failures a minute per address, so the
  // rows below stay under it (429 has its own test).
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    if (row.read == 401) {
      // One request per refused credential (each counts toward the failure limit).
      Client c(port());
      Headers h;
      if (!row.authorization.empty()) h.emplace_back("Authorization", row.authorization);
      TestResponse r = c.Get(KeysOf(provider_), h);
      EXPECT_EQ(r.status, 401);
      EXPECT_EQ(r.body, R"({"error":{"type":"http_error","message":)" + Quote(row.message) + "}}");
      continue;
    }
    Outcome o = Try(row.authorization);
    EXPECT_EQ(o.read.status, row.read) << o.read.body;
    EXPECT_EQ(o.write.status, row.write) << o.write.body;
    EXPECT_EQ(o.reveal.status, row.reveal) << o.reveal.body;
    const TestResponse* refused = o.read.status != 200     ? &o.read
                                  : o.write.status != 200  ? &o.write
                                  : o.reveal.status != 200 ? &o.reveal
                                                           : nullptr;
    if (refused != nullptr) {
      EXPECT_EQ(Message(*refused), row.message);
    }
    // A refused write changed nothing; the reveal's secret only reaches those allowed.
    if (row.reveal != 200) {
      EXPECT_EQ(o.reveal.body.find("sk-"), std::string::npos);
    }
  }

  // The JWT's subject is the actor of its events.
  Client admin = Admin();
  Json events(admin.Get("/api/admin/audit/events?actor=jwt:u-1").body);
  std::vector<std::string> types;
  for (auto e : Items(events["events"])) types.push_back(Str(e, "type").value_or(""));
  EXPECT_EQ(types, (std::vector<std::string>{"KeyUpdated", "KeyRevealed"}));

  // Authentication comes before body validation (DESIGN.md): no credentials + a bad body = 401.
  Client anonymous(port());
  TestResponse r = anonymous.Post(KeysOf(provider_), "{not json");
  EXPECT_EQ(r.status, 401) << r.body;
  // Public routes ignore credentials, good or bad.
  EXPECT_EQ(anonymous.Get("/healthz", {{"Authorization", "Bearer " + bad}}).status, 200);
  // Unknown routes answer 404 without asking for credentials.
  EXPECT_EQ(anonymous.Get("/api/admin/secret-place").status, 404);
}

TEST_F(AuthTest, TokensComeAndGoWithSighup) {
  ASSERT_FALSE(HasFatalFailure());
  Seed();
  // Created while the daemon runs: unknown until SIGHUP.
  ProcessResult created =
      RunProcess({KeyledgerdPath(), "token", "create", "--name", "late", "--role", "admin",
                  "--tokens-file", data_dir_ + "/tokens.json"},
                 scratch_dir_);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string late = Secret(created.out.substr(0, 43));
  EXPECT_EQ(As(late).Get(KeysOf(provider_)).status, 401);
  ReloadTokens();
  EXPECT_EQ(As(late).Get(KeysOf(provider_)).status, 200);
  // `token list` never shows hashes or tokens.
  ProcessResult list =
      RunProcess({KeyledgerdPath(), "token", "list", "--tokens-file", data_dir_ + "/tokens.json"},
                 scratch_dir_);
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("late"), std::string::npos);
  EXPECT_EQ(list.out.find(late), std::string::npos);
  EXPECT_EQ(list.out.find(admin_token_), std::string::npos);
  // Revoked: refused after the next reload.
  ProcessResult revoked = RunProcess({KeyledgerdPath(), "token", "revoke", "--name", "late",
                                      "--tokens-file", data_dir_ + "/tokens.json"},
                                     scratch_dir_);
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  ReloadTokens();
  EXPECT_EQ(As(late).Get(KeysOf(provider_)).status, 401);
  // A broken tokens file is refused on reload; the tokens in force stay.
  std::ofstream(data_dir_ + "/tokens.json", std::ios::trunc) << "{broken";
  ReloadTokens();
  EXPECT_EQ(Admin().Get(KeysOf(provider_)).status, 200);
  EXPECT_NE(daemon_->CurrentStderr().find(R"("level":"error","msg":"tokens file reloaded")"),
            std::string::npos)
      << daemon_->CurrentStderr();
  // The tokens file is written with mode 0600 and holds only hashes.
  EXPECT_EQ(daemon_->AllStderr().find(late), std::string::npos);
}

TEST_F(AuthTest, RepeatedFailuresAreRateLimitedButValidTokensStillWork) {
  ASSERT_FALSE(HasFatalFailure());
  Seed();
  Client intruder(port(), "kl_" + std::string(40, 'x'));
  int first_429 = -1;
  TestResponse limited;
  for (int i = 0; i < 40 && first_429 < 0; ++i) {
    TestResponse r = intruder.Get(KeysOf(provider_));
    if (r.status == 429) {
      first_429 = i;
      limited = r;
    } else {
      EXPECT_EQ(r.status, 401) << r.body;
    }
  }
  EXPECT_EQ(first_429, 30) << "30 failures a minute are allowed, the 31st is refused";
  EXPECT_EQ(
      limited.body,
      R"({"error":{"type":"rate_limit","message":"请求过于频繁，限制为每分钟 30次","details":{"limit":30,"window":"分钟"}}})");
  EXPECT_EQ(limited.Header("Retry-After"), "60");
  // The limit is on failures: the admin on the same address is not locked out.
  EXPECT_EQ(Admin().Get(KeysOf(provider_)).status, 200);
  EXPECT_EQ(Admin().Put(KeyPath(key_.id), R"({"note":"still here"})").status, 200);
}

}  // namespace
}  // namespace keyledger::e2e
