// CORS end to end (aether-spec.md §11.6, api/cors.hpp): keyledgerd with and without
// --cors-origins, preflights from allowed and refused origins, and real requests carrying Origin
// (successes and errors alike).
#include "tests/e2e/e2e_support.hpp"

namespace keyledger::e2e {
namespace {

constexpr std::string_view kSchedulingMode = "/api/admin/system/configs/scheduling_mode";

class CorsE2eTest : public E2eTest {};

TEST_F(CorsE2eTest, WithoutOriginsThereIsNoCors) {
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client anonymous(port());
  TestResponse pre = anonymous.Call(
      "OPTIONS", kSchedulingMode, "",
      {{"Origin", "http://localhost:5173"}, {"Access-Control-Request-Method", "PUT"}});
  EXPECT_EQ(pre.status, 405);
  EXPECT_FALSE(pre.HasHeader("Access-Control-Allow-Origin"));
  Client admin = Admin();
  TestResponse get = admin.Get(kSchedulingMode, {{"Origin", "http://localhost:5173"}});
  EXPECT_EQ(get.status, 200);
  EXPECT_FALSE(get.HasHeader("Access-Control-Allow-Origin"));
  EXPECT_FALSE(get.HasHeader("Vary"));
}

TEST_F(CorsE2eTest, PreflightsAndRequestsFromAllowedAndRefusedOrigins) {
  StartServer({"--cors-origins", "https://admin.example.com, http://localhost:5173"});
  ASSERT_FALSE(HasFatalFailure());
  Client anonymous(port());
  const uint64_t head = HeadSequence();

  // Preflight from an allowed origin, for a write with every header the admin UI sends: answered
  // before authentication (no token here).
  TestResponse ok =
      anonymous.Call("OPTIONS", kSchedulingMode, "",
                     {{"Origin", "http://localhost:5173"},
                      {"Access-Control-Request-Method", "PUT"},
                      {"Access-Control-Request-Headers",
                       "authorization,content-type,if-match,idempotency-key,x-audit-reason"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "OK");
  EXPECT_EQ(ok.Header("Access-Control-Allow-Origin"), "http://localhost:5173");
  EXPECT_EQ(ok.Header("Access-Control-Allow-Methods"), "GET, POST, PUT, DELETE, PATCH, OPTIONS");
  EXPECT_NE(ok.Header("Access-Control-Allow-Headers").find("Idempotency-Key"), std::string::npos);
  EXPECT_NE(ok.Header("Access-Control-Allow-Headers").find("X-Audit-Reason"), std::string::npos);
  EXPECT_EQ(ok.Header("Access-Control-Max-Age"), "600");
  EXPECT_EQ(ok.Header("Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(ok.Header("Vary"), "Origin");
  // Also for a path no route serves (as Starlette's middleware answers before routing).
  EXPECT_EQ(anonymous
                .Call("OPTIONS", "/api/admin/endpoints/keys/k1", "",
                      {{"Origin", "https://admin.example.com"},
                       {"Access-Control-Request-Method", "DELETE"}})
                .status,
            200);

  // Refused origin, method or header: 400 naming what failed, no Allow-Origin.
  TestResponse refused = anonymous.Call(
      "OPTIONS", kSchedulingMode, "",
      {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "PUT"}});
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.body, "Disallowed CORS origin");
  EXPECT_FALSE(refused.HasHeader("Access-Control-Allow-Origin"));
  TestResponse bad_header = anonymous.Call("OPTIONS", kSchedulingMode, "",
                                           {{"Origin", "http://localhost:5173"},
                                            {"Access-Control-Request-Method", "PUT"},
                                            {"Access-Control-Request-Headers", "x-custom"}});
  EXPECT_EQ(bad_header.status, 400);
  EXPECT_EQ(bad_header.body, "Disallowed CORS headers");
  // A preflight is never an event.
  EXPECT_EQ(HeadSequence(), head);

  // A real request from an allowed origin: the CORS headers, with ETag exposed.
  Client admin = Admin();
  TestResponse put = admin.Put(kSchedulingMode, R"({"value":"fixed_order"})",
                               {{"Origin", "https://admin.example.com"}});
  EXPECT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.Header("Access-Control-Allow-Origin"), "https://admin.example.com");
  EXPECT_NE(put.Header("Access-Control-Expose-Headers").find("ETag"), std::string::npos);
  EXPECT_EQ(put.Header("Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(put.Header("Vary"), "Origin");
  // Errors carry them too: 401 (before auth succeeds), 400, 404 of an unmatched path.
  TestResponse unauthorized = anonymous.Get(kSchedulingMode, {{"Origin", "http://localhost:5173"}});
  EXPECT_EQ(unauthorized.status, 401);
  EXPECT_EQ(unauthorized.Header("Access-Control-Allow-Origin"), "http://localhost:5173");
  TestResponse invalid =
      admin.Put(kSchedulingMode, R"({"value":"x"})", {{"Origin", "http://localhost:5173"}});
  EXPECT_EQ(invalid.status, 400);
  EXPECT_EQ(invalid.Header("Access-Control-Allow-Origin"), "http://localhost:5173");
  TestResponse unmatched = anonymous.Get("/api/nowhere", {{"Origin", "http://localhost:5173"}});
  EXPECT_EQ(unmatched.status, 404);
  EXPECT_EQ(unmatched.Header("Access-Control-Allow-Origin"), "http://localhost:5173");
  // A refused origin's real request is answered, without CORS headers but Vary.
  TestResponse foreign = admin.Get(kSchedulingMode, {{"Origin", "https://evil.example"}});
  EXPECT_EQ(foreign.status, 200);
  EXPECT_FALSE(foreign.HasHeader("Access-Control-Allow-Origin"));
  EXPECT_EQ(foreign.Header("Vary"), "Origin");
  // Without Origin, nothing changes.
  EXPECT_FALSE(admin.Get(kSchedulingMode).HasHeader("Access-Control-Allow-Origin"));
  // OPTIONS without Access-Control-Request-Method is not a preflight: routed (405).
  EXPECT_EQ(
      anonymous.Call("OPTIONS", kSchedulingMode, "", {{"Origin", "http://localhost:5173"}}).status,
      405);
}

TEST_F(CorsE2eTest, ABadOriginListIsRefusedAtStartup) {
  std::vector<std::string> args = {"--cors-origins", "admin.example.com/"};
  ProcessResult r = RunProcess(
      {KeyledgerdPath(), "--data-dir", data_dir_, "--listen", "127.0.0.1:0", args[0], args[1]},
      scratch_dir_, std::chrono::seconds(60));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("--cors-origins"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace keyledger::e2e
