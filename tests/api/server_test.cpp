// The real server, in process, spoken to over HTTP on 127.0.0.1. Waits are bounded; nothing
// asserts on wall-clock durations.
#include <random>

#include "tests/api/match.hpp"
#include "tests/api/server_fixture.hpp"

namespace keyledger::api::testing {
namespace {

using namespace std::chrono_literals;

const std::string kNotFound = R"({"detail":"Not Found"})";
const std::string kMethodNotAllowed = R"({"detail":"Method Not Allowed"})";

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

class ServerTest : public ServerFixture {};

// ---- routing
// -------------------------------------------------------------------------------------

TEST_F(ServerTest, RouteMatchingTable) {
  StartServer();
  const Headers admin = Bearer(admin_token_);
  struct Case {
    std::string method, target;
    int status;
    std::string expect;  // substring of the body
  };
  const std::vector<Case> cases = {
      {"PUT", "/keys/grouped-by-format", 200,
       R"("route":"/keys/{key_id}","params":[["key_id","grouped-by-format"]])"},
      {"GET", "/keys/grouped-by-format", 200, R"("route":"/keys/grouped-by-format")"},
      {"GET", "/keys/k%201/reveal", 200, R"("params":[["key_id","k 1"]])"},
      {"DELETE", "/keys/k1", 200, R"("route":"/keys/{key_id}")"},
      {"POST", "/keys/k1", 405, kMethodNotAllowed},
      {"GET", "/keys", 404, kNotFound},
      {"GET", "/nothing/here", 404, kNotFound},
      {"PATCH", "/echo", 405, kMethodNotAllowed},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.target);
    TestResponse r = Fetch(port(), c.method, c.target, admin);
    EXPECT_EQ(r.status, c.status);
    EXPECT_TRUE(Contains(r.body, c.expect)) << r.body;
    if (c.status >= 400) {
      EXPECT_EQ(r.Header("Content-Type"), "application/json");
    }
  }
  TestResponse r = Fetch(port(), "POST", "/keys/k1", admin);
  EXPECT_EQ(r.body, kMethodNotAllowed);
  EXPECT_EQ(r.Header("Allow"), "PUT, DELETE");
  EXPECT_EQ(Fetch(port(), "PATCH", "/echo").Header("Allow"), "GET, HEAD, POST");
}

TEST_F(ServerTest, UnknownRoutesNeedNoCredentials) {
  StartServer();
  // Starlette answers 404/405 before any dependency runs, so no 401 here.
  EXPECT_EQ(Get("/nope").status, 404);
  EXPECT_EQ(Fetch(port(), "POST", "/admin-only").status, 405);
}

TEST_F(ServerTest, TrailingSlashRedirects) {
  StartServer();
  TestResponse r = Get("/echo/?a=1&b=%20");
  EXPECT_EQ(r.status, 307);
  EXPECT_EQ(r.Header("Location"), "/echo?a=1&b=%20");
  EXPECT_EQ(r.body, "");
  r = Get("/providers");
  EXPECT_EQ(r.status, 307);
  EXPECT_EQ(r.Header("Location"), "/providers/");
  EXPECT_EQ(Get("/providers/").status, 200);
}

TEST_F(ServerTest, HeadAnswersWithoutBody) {
  StartServer();
  TestResponse get = Get("/echo");
  TestResponse head = Fetch(port(), "HEAD", "/echo");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  // The echo names the method, and "HEAD" is one character longer than "GET".
  EXPECT_EQ(head.Header("Content-Length"), std::to_string(get.body.size() + 1));
}

TEST_F(ServerTest, QueryAndPathDecoding) {
  StartServer();
  TestResponse r = Get("/echo?a=1&b=x%20y&a=2&c&d=%E4%B8%AD+z");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(
      Contains(r.body, R"("query":[["a","1"],["b","x y"],["a","2"],["c",""],["d","中 z"]])"))
      << r.body;
  EXPECT_TRUE(Contains(r.body, R"("target":"/echo?a=1&b=x%20y&a=2&c&d=%E4%B8%AD+z")"));
  EXPECT_TRUE(Contains(r.body, R"("client_ip":"127.0.0.1")"));
  r = Get("/e%63ho");
  EXPECT_EQ(r.status, 200);  // matched on the decoded path, like Starlette
  r = Get("/keys/%FF/reveal", Bearer(admin_token_));
  EXPECT_TRUE(Contains(r.body, "\"params\":[[\"key_id\",\"\xEF\xBF\xBD\"]]")) << r.body;
}

// ---- connection handling
// -------------------------------------------------------------------------

TEST_F(ServerTest, KeepAliveReusesOneConnection) {
  StartServer();
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c->Send(BuildRequest("GET", "/echo?i=" + std::to_string(i))));
    auto r = c->ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->keep_alive);
    EXPECT_TRUE(Contains(r->body, "[\"i\",\"" + std::to_string(i) + "\"]"));
  }
  EXPECT_EQ(server_->active_connections(), 1u);
  ASSERT_TRUE(c->Send(BuildRequest("GET", "/echo", {}, {}, /*keep_alive=*/false)));
  auto last = c->ReadResponse();
  ASSERT_TRUE(last.has_value());
  EXPECT_FALSE(last->keep_alive);
  EXPECT_TRUE(c->WaitClosed(10s));
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  // Later requests finish first on the worker; answers must still come back in request order.
  std::string batch;
  const int n = 8;
  for (int i = 0; i < n; ++i) {
    const std::string target =
        i % 2 == 0 ? "/slow?ms=" + std::to_string((n - i) * 20) : std::string("/echo");
    batch += BuildRequest("GET", target, {{"X-Request-Id", "pipe-" + std::to_string(i)}});
  }
  ASSERT_TRUE(c->Send(batch));
  for (int i = 0; i < n; ++i) {
    auto r = c->ReadResponse();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->Header("X-Request-Id"), "pipe-" + std::to_string(i));
  }
}

TEST_F(ServerTest, PipelineLimitPausesReadingAndResumes) {
  ServerConfig config = TestConfig();
  config.pipeline_limit = 2;
  StartServer(config);
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  std::string batch;
  for (int i = 0; i < 7; ++i) {
    batch += BuildRequest("GET", "/slow?ms=10", {{"X-Request-Id", "r" + std::to_string(i)}});
  }
  ASSERT_TRUE(c->Send(batch));
  for (int i = 0; i < 7; ++i) {
    auto r = c->ReadResponse();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->Header("X-Request-Id"), "r" + std::to_string(i));
  }
}

TEST_F(ServerTest, HalfClosedClientStillGetsItsAnswers) {
  StartServer();
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(BuildRequest("GET", "/slow?ms=50") + BuildRequest("GET", "/echo")));
  c->ShutdownWrite();
  for (int i = 0; i < 2; ++i) {
    auto r = c->ReadResponse();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_TRUE(c->WaitClosed(10s));
}

// ---- limits
// ---------------------------------------------------------------------------------------

void ExpectErrorBody(const TestResponse& r, int status, std::string_view message) {
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_EQ(r.body, std::string(R"({"error":{"type":"http_error","message":")") +
                        std::string(message) + "\"}}");
}

TEST_F(ServerTest, BodyOverLimitWithContentLengthGets413) {
  StartServer();
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  const std::string body(kDefaultBodyLimit + 1, 'x');
  ASSERT_TRUE(c->Send(BuildRequest("POST", "/echo", {{"X-Request-Id", "big"}}, body)));
  auto r = c->ReadResponse();
  ASSERT_TRUE(r.has_value());
  ExpectErrorBody(*r, 413, "Request body too large");
  EXPECT_EQ(r->Header("X-Request-Id"), "big");
  EXPECT_FALSE(r->keep_alive);
  EXPECT_TRUE(c->WaitClosed(10s));
}

TEST_F(ServerTest, BodyOverLimitChunkedGets413) {
  StartServer();
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  std::string req = BuildRequest("POST", "/echo", {{"Transfer-Encoding", "chunked"}});
  const std::string chunk(64 * 1024, 'y');
  uint64_t sent = 0;
  while (sent <= kDefaultBodyLimit) {
    char size[16];
    std::snprintf(size, sizeof(size), "%zx\r\n", chunk.size());
    req += size + chunk + "\r\n";
    sent += chunk.size();
  }
  req += "0\r\n\r\n";
  ASSERT_TRUE(c->Send(req));
  auto r = c->ReadResponse();
  ASSERT_TRUE(r.has_value());
  ExpectErrorBody(*r, 413, "Request body too large");
  EXPECT_TRUE(c->WaitClosed(10s));
}

TEST_F(ServerTest, BodyAtTheLimitIsAccepted) {
  StartServer();
  const std::string body(kDefaultBodyLimit, 'x');
  TestResponse r = Fetch(port(), "POST", "/echo", {}, body);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(Contains(r.body, "\"body_size\":" + std::to_string(kDefaultBodyLimit)));
  // Chunked too.
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(BuildRequest("POST", "/echo", {{"Transfer-Encoding", "chunked"}}) +
                      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  auto chunked = c->ReadResponse();
  ASSERT_TRUE(chunked.has_value());
  EXPECT_TRUE(Contains(chunked->body, "\"body_size\":11"));
}

TEST_F(ServerTest, OversizedHeaderGets431) {
  StartServer();
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(
      c->Send(BuildRequest("GET", "/echo", {{"X-Big", std::string(kDefaultHeaderLimit, 'h')}})));
  auto r = c->ReadResponse();
  ASSERT_TRUE(r.has_value());
  ExpectErrorBody(*r, 431, "Request header fields too large");
  EXPECT_TRUE(c->WaitClosed(10s));
}

TEST_F(ServerTest, MalformedRequestGets400ThenClose) {
  StartServer();
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send("GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"));
  auto r = c->ReadResponse();
  ASSERT_TRUE(r.has_value());
  ExpectErrorBody(*r, 400, "Invalid HTTP request");
  EXPECT_TRUE(c->WaitClosed(10s));
  // The error is answered in order after a pipelined good request.
  c = Connection::Open(port());
  ASSERT_TRUE(c->Send(BuildRequest("GET", "/slow?ms=30") + "BAD\r\n\r\n"));
  auto first = c->ReadResponse();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 200);
  auto second = c->ReadResponse();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 400);
}

TEST_F(ServerTest, ExpectContinue) {
  StartServer();
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(
      c->Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
              "Expect: 100-continue\r\n\r\n"));
  auto cont = c->ReadResponse();
  ASSERT_TRUE(cont.has_value());
  EXPECT_EQ(cont->status, 100);
  ASSERT_TRUE(c->Send("hello"));
  auto r = c->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(Contains(r->body, "\"body_size\":5"));
  // Too large: refused before the body is sent.
  ASSERT_TRUE(
      c->Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n"
              "Expect: 100-continue\r\n\r\n"));
  auto big = c->ReadResponse();
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->status, 413);
}

TEST_F(ServerTest, ReadTimeoutClosesSilentAndStalledConnections) {
  ServerConfig config = TestConfig();
  config.read_timeout = 200ms;
  StartServer(config);
  auto silent = Connection::Open(port());
  ASSERT_NE(silent, nullptr);
  EXPECT_TRUE(silent->WaitClosed(10s));
  auto stalled = Connection::Open(port());
  ASSERT_NE(stalled, nullptr);
  ASSERT_TRUE(stalled->Send("GET /echo HTTP/1.1\r\nHost: x\r\n"));
  EXPECT_TRUE(stalled->WaitClosed(10s));
  auto body = Connection::Open(port());
  ASSERT_NE(body, nullptr);
  ASSERT_TRUE(body->Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"));
  EXPECT_TRUE(body->WaitClosed(10s));
  EXPECT_TRUE(WaitFor([&] { return server_->active_connections() == 0; }));
}

TEST_F(ServerTest, IdleTimeoutClosesKeptAliveConnectionButNotPendingOnes) {
  ServerConfig config = TestConfig();
  config.idle_timeout = 150ms;
  StartServer(config);
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  // A handler slower than the idle timeout: the connection waits for us, not idle.
  ASSERT_TRUE(c->Send(BuildRequest("GET", "/echo") + BuildRequest("GET", "/slow?ms=400")));
  auto a = c->ReadResponse();
  auto b = c->ReadResponse();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->status, 200);
  EXPECT_TRUE(c->WaitClosed(10s));
}

// ---- handlers
// -------------------------------------------------------------------------------------

constexpr std::string_view kSystemError =
    R"({"error":{"type":"system_error","message":"系统遇到未知错误，请稍后重试或联系管理员","details":{"error_id":"<hex8>","recovery_info":"请稍后重试，如问题持续请联系管理员"}}})";

TEST_F(ServerTest, ExceptionBecomes500AndIsOnlyLogged) {
  StartServer();
  TestResponse r = Get("/throw");
  EXPECT_EQ(r.status, 500);
  ASSERT_TRUE(MatchesTemplate(r.body, kSystemError)) << r.body;
  EXPECT_FALSE(Contains(r.body, "kaboom"));
  const std::string id = r.body.substr(r.body.find(R"("error_id":")") + 12, 8);
  EXPECT_TRUE(WaitFor([&] {
    for (const std::string& line : LogLines()) {
      if (Contains(line, "kaboom internal detail") && Contains(line, "error_id=" + id) &&
          Contains(line, "\"level\":\"error\"")) {
        return true;
      }
    }
    return false;
  }));
  // The connection and server carry on.
  EXPECT_EQ(Get("/echo").status, 200);
}

TEST_F(ServerTest, DroppedResponderBecomes500) {
  StartServer();
  TestResponse r = Get("/drop");
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(MatchesTemplate(r.body, kSystemError)) << r.body;
  // Streaming from a non-streaming route is refused with a 500 too.
  EXPECT_EQ(Get("/not-streaming").status, 500);
}

TEST_F(ServerTest, AsyncResponderFromAnotherThread) {
  StartServer();
  for (int i = 0; i < 20; ++i) {
    TestResponse r = Get("/async?n=" + std::to_string(i));
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(Contains(r.body, "[\"n\",\"" + std::to_string(i) + "\"]"));
  }
}

TEST_F(ServerTest, RequestIdIsEchoedOrGenerated) {
  StartServer();
  TestResponse r = Get("/echo", {{"X-Request-Id", "abc-123_x.y"}});
  EXPECT_EQ(r.Header("X-Request-Id"), "abc-123_x.y");
  EXPECT_TRUE(Contains(r.body, R"("request_id":"abc-123_x.y")"));
  for (const std::string& bad : {std::string("has space"), std::string(129, 'a'),
                                 std::string("quote\"d"), std::string("")}) {
    TestResponse g = Get("/echo", {{"X-Request-Id", bad}});
    EXPECT_TRUE(MatchesTemplate(g.Header("X-Request-Id"), "<uuid>")) << g.Header("X-Request-Id");
  }
  EXPECT_TRUE(MatchesTemplate(Get("/echo").Header("X-Request-Id"), "<uuid>"));
  // Also on errors produced by the server itself.
  EXPECT_EQ(Get("/nope", {{"X-Request-Id", "rid-404"}}).Header("X-Request-Id"), "rid-404");
  EXPECT_EQ(Get("/admin-only", {{"X-Request-Id", "rid-401"}}).Header("X-Request-Id"), "rid-401");
}

// ---- auth
// -----------------------------------------------------------------------------------------

TEST_F(ServerTest, AuthMatrix) {
  StartServer();
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::string exp = std::to_string(now + 3600);
  const std::string missing = R"({"error":{"type":"http_error","message":"缺少管理员凭证"}})";
  const std::string invalid =
      R"({"error":{"type":"http_error","message":"无效或过期的 Management Token"}})";
  const std::string forbidden = R"({"error":{"type":"http_error","message":"需要管理员权限"}})";
  auto jwt_error = [](std::string_view m) {
    return std::string(R"({"error":{"type":"http_error","message":")") + std::string(m) + "\"}}";
  };
  auto bearer = [](const std::string& t) { return "Bearer " + t; };
  struct Case {
    std::string name, target, authorization;
    int status;
    std::string body;  // exact when non-empty
  };
  const std::vector<Case> cases = {
      {"no header", "/admin-only", "", 401, missing},
      {"basic", "/admin-only", "Basic x", 401, missing},
      {"bad token", "/admin-only", bearer("kl_wrong"), 401, invalid},
      {"expired token", "/admin-only", bearer(expired_token_), 401, invalid},
      {"cidr refused", "/admin-only", bearer(fenced_token_), 401, invalid},
      {"auditor on admin", "/admin-only", bearer(auditor_token_), 403, forbidden},
      {"auditor on reveal", "/keys/k1/reveal", bearer(auditor_token_), 403, forbidden},
      {"auditor on write", "/keys/k1", bearer(auditor_token_), 403, forbidden},
      {"auditor on auditor", "/auditor-read", bearer(auditor_token_), 200, ""},
      {"admin on admin", "/admin-only", bearer(admin_token_), 200, ""},
      {"admin on auditor", "/auditor-read", bearer(admin_token_), 200, ""},
      {"jwt valid", "/admin-only",
       bearer(Jwt(R"({"user_id":"u1","role":"admin","type":"access","exp":)" + exp + "}")), 200,
       ""},
      {"jwt expired", "/admin-only",
       bearer(Jwt(R"({"user_id":"u1","role":"admin","type":"access","exp":)" +
                  std::to_string(now - 10) + "}")),
       401, jwt_error("Token已过期")},
      {"jwt wrong type", "/admin-only",
       bearer(Jwt(R"({"user_id":"u1","role":"admin","type":"refresh","exp":)" + exp + "}")), 401,
       jwt_error("Token类型错误: 期望 access, 实际 refresh")},
      {"jwt alg none", "/admin-only",
       bearer(SignJwtHs256(R"({"user_id":"u1","role":"admin","type":"access","exp":)" + exp + "}",
                           kJwtSecret, R"({"alg":"none","typ":"JWT"})")),
       401, jwt_error("无效的Token")},
      {"jwt bad signature", "/admin-only",
       bearer(SignJwtHs256(R"({"user_id":"u1","role":"admin","type":"access","exp":)" + exp + "}",
                           "not-the-secret")),
       401, jwt_error("无效的Token")},
      {"jwt missing user_id", "/admin-only",
       bearer(Jwt(R"({"role":"admin","type":"access","exp":)" + exp + "}")), 401,
       jwt_error("无效的管理员令牌")},
      {"jwt non-admin role", "/admin-only",
       bearer(Jwt(R"({"user_id":"u2","role":"user","type":"access","exp":)" + exp + "}")), 403,
       forbidden},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Headers h;
    if (!c.authorization.empty()) h.emplace_back("Authorization", c.authorization);
    const std::string method = c.name == "auditor on write" ? "PUT" : "GET";
    TestResponse r = Fetch(port(), method, c.target, h);
    EXPECT_EQ(r.status, c.status);
    if (!c.body.empty()) {
      EXPECT_EQ(r.body, c.body);
    }
  }
  TestResponse admin = Get("/admin-only", Bearer(admin_token_));
  EXPECT_TRUE(Contains(admin.body, R"("actor":"ops")"));
  TestResponse jwt =
      Get("/admin-only",
          Bearer(Jwt(R"({"user_id":"u9","role":"admin","type":"access","exp":)" + exp + "}")));
  EXPECT_TRUE(Contains(jwt.body, R"("actor":"jwt:u9")"));
}

TEST_F(ServerTest, AuthBeforeBodyValidation) {
  StartServer();
  // An unauthenticated write with a garbage body gets 401 (the handler never sees it).
  TestResponse r = Fetch(port(), "PUT", "/keys/k1", {}, "{not json");
  EXPECT_EQ(r.status, 401);
}

TEST_F(ServerTest, RepeatedFailuresAreRateLimited) {
  StartServer();
  for (int i = 0; i < kDefaultAuthFailureLimit; ++i) {
    ASSERT_EQ(Get("/admin-only", Bearer("kl_guess" + std::to_string(i))).status, 401) << i;
  }
  TestResponse limited = Get("/admin-only", Bearer("kl_guess"));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(
      limited.body,
      R"({"error":{"type":"rate_limit","message":"请求过于频繁，限制为每分钟 30次","details":{"limit":30,"window":"分钟"}}})");
  EXPECT_EQ(limited.Header("Retry-After"), "60");
  // Successful requests are never rate limited.
  EXPECT_EQ(Get("/admin-only", Bearer(admin_token_)).status, 200);
  EXPECT_EQ(Get("/echo").status, 200);
  EXPECT_TRUE(
      Contains(metrics_.Render(), R"(keyledger_auth_failures_total{reason="rate_limited"} 1)"));
}

TEST_F(ServerTest, TokensReloadTakesEffect) {
  StartServer();
  const std::string fresh = GenerateManagementToken();
  EXPECT_EQ(Get("/admin-only", Bearer(fresh)).status, 401);
  ASSERT_OK(WriteTokensFileAtomic(
      tokens_file_,
      {{"fresh", TokenSha256Hex(fresh), Role::kAdmin, std::nullopt, {}, ""},
       {"reader", TokenSha256Hex(auditor_token_), Role::kAuditor, std::nullopt, {}, ""}}));
  ASSERT_OK(auth_->Reload());
  EXPECT_EQ(Get("/admin-only", Bearer(fresh)).status, 200);
  EXPECT_EQ(Get("/admin-only", Bearer(admin_token_)).status, 401);  // "ops" was revoked
}

// ---- SSE
// ------------------------------------------------------------------------------------------

TEST_F(ServerTest, SseDeliversEventsAndDetectsDisconnect) {
  StartServer();
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(BuildRequest("GET", "/stream", Bearer(auditor_token_))));
  const std::string head = c->ReadUntil("data: world\n\n", 10s);
  EXPECT_TRUE(Contains(head, "HTTP/1.1 200 OK\r\n")) << head;
  EXPECT_TRUE(Contains(head, "Content-Type: text/event-stream")) << head;
  EXPECT_TRUE(Contains(head, "Transfer-Encoding: chunked")) << head;
  EXPECT_TRUE(Contains(head, "X-Stream: yes")) << head;
  EXPECT_TRUE(Contains(head, "event: hello\nid: 1\ndata: world\n\n")) << head;

  std::shared_ptr<EventStream> stream = WaitStream();
  ASSERT_NE(stream, nullptr);
  EXPECT_TRUE(stream->Send("audit", "line1\nline2", "2"));
  EXPECT_TRUE(Contains(c->ReadUntil("data: line2\n\n", 10s),
                       "event: audit\nid: 2\ndata: line1\ndata: line2\n\n"));
  EXPECT_FALSE(stream->Send("bad\nevent", "x"));

  c->Close();
  EXPECT_TRUE(WaitFor([&] { return streams_closed_.load() == 1; }));
  EXPECT_FALSE(stream->IsOpen());
  EXPECT_FALSE(stream->Send("late", "x"));
  bool called = false;
  stream->OnClose([&] { called = true; });  // already ended: runs at once
  EXPECT_TRUE(called);
}

TEST_F(ServerTest, SseCloseEndsTheChunkedStream) {
  StartServer();
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(BuildRequest("GET", "/stream", Bearer(admin_token_))));
  c->ReadUntil("data: world\n\n", 10s);
  std::shared_ptr<EventStream> stream = WaitStream();
  ASSERT_NE(stream, nullptr);
  stream->Send("bye", "now");
  stream->Close();
  const std::string rest = c->ReadUntil("0\r\n\r\n", 10s);
  EXPECT_TRUE(Contains(rest, "event: bye\ndata: now\n\n")) << rest;
  EXPECT_TRUE(Contains(rest, "0\r\n\r\n")) << rest;
  EXPECT_TRUE(c->WaitClosed(10s));
  EXPECT_TRUE(WaitFor([&] { return streams_closed_.load() == 1; }));
}

TEST_F(ServerTest, SseHeartbeats) {
  ServerConfig config = TestConfig();
  config.sse_heartbeat = 50ms;
  StartServer(config);
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(BuildRequest("GET", "/stream", Bearer(auditor_token_))));
  EXPECT_TRUE(Contains(c->ReadUntil(": keep-alive\n\n", 10s), ": keep-alive\n\n"));
}

TEST_F(ServerTest, SseSlowConsumerIsDropped) {
  ServerConfig config = TestConfig();
  config.sse_queue_limit = 4;
  StartServer(config);
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(BuildRequest("GET", "/stream", Bearer(auditor_token_))));
  c->ReadUntil("data: world\n\n", 10s);
  std::shared_ptr<EventStream> stream = WaitStream();
  ASSERT_NE(stream, nullptr);
  // The client stops reading; socket buffers fill, then the queue, then the stream is dropped.
  const std::string big(64 * 1024, 'z');
  bool dropped = false;
  for (int i = 0; i < 100000 && !dropped; ++i) dropped = !stream->Send("fill", big);
  EXPECT_TRUE(dropped);
  EXPECT_TRUE(WaitFor([&] { return streams_closed_.load() == 1; }));
  EXPECT_FALSE(stream->IsOpen());
}

// A consumer that falls behind by more than sse_buffer_bytes is told why before it is dropped:
// once it reads again it finds every event it was sent, then a last "stream-closed" event with
// reason "too_slow", then the end of the stream; nothing stays buffered afterwards.
TEST_F(ServerTest, SseSlowConsumerGetsALastEventBeforeItIsDisconnected) {
  ServerConfig config = TestConfig();
  config.sse_buffer_bytes = 16 * 1024;
  config.sse_drop_grace = 30s;  // the client below reads again at once; ASan may be slow
  StartServer(config);
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(BuildRequest("GET", "/stream", Bearer(auditor_token_))));
  c->ReadUntil("data: world\n\n", 10s);
  std::shared_ptr<EventStream> stream = WaitStream();
  ASSERT_NE(stream, nullptr);
  // The client does not read: socket buffers fill, then the stream's 16 KiB, then it is dropped.
  const std::string payload(4 * 1024, 'z');
  int sent = 0;
  while (sent < 200000 && stream->Send("fill", payload)) {
    ++sent;
    ASSERT_LE(server_->sse_buffered_bytes(), config.sse_buffer_bytes + 2 * 1024)
        << "after " << sent << " events";
  }
  ASSERT_LT(sent, 200000);
  EXPECT_FALSE(stream->IsOpen());
  const std::string rest = c->ReadUntil("0\r\n\r\n", 60s);
  EXPECT_TRUE(Contains(rest, "event: stream-closed\ndata: {\"reason\":\"too_slow\""))
      << rest.size();
  EXPECT_TRUE(Contains(rest, "0\r\n\r\n"));
  EXPECT_LT(rest.find("event: fill"), rest.find("event: stream-closed"));
  EXPECT_TRUE(c->WaitClosed(10s));
  EXPECT_TRUE(WaitFor([&] { return streams_closed_.load() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return server_->sse_buffered_bytes() == 0; }));
}

// ---- shutdown, metrics, logs
// ----------------------------------------------------------------------

TEST_F(ServerTest, GracefulShutdownFinishesInFlightRequests) {
  StartServer();
  auto idle = Connection::Open(port());
  ASSERT_NE(idle, nullptr);
  ASSERT_TRUE(idle->Send(BuildRequest("GET", "/echo")));
  ASSERT_TRUE(idle->ReadResponse().has_value());

  auto busy = Connection::Open(port());
  ASSERT_NE(busy, nullptr);
  ASSERT_TRUE(busy->Send(BuildRequest("GET", "/slow?ms=300")));
  // Stop only once the slow request is in its handler, i.e. in flight.
  ASSERT_TRUE(WaitFor([&] { return slow_started_.load() == 1; }));

  std::thread stopper([&] { server_->Stop(); });
  auto r = busy->ReadResponse();
  stopper.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->keep_alive);
  EXPECT_TRUE(idle->WaitClosed(10s));
  EXPECT_TRUE(busy->WaitClosed(10s));
  EXPECT_EQ(server_->active_connections(), 0u);
  EXPECT_EQ(Connection::Open(port()), nullptr);  // no longer accepting
}

TEST_F(ServerTest, GracefulShutdownEndsStreams) {
  StartServer();
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(BuildRequest("GET", "/stream", Bearer(auditor_token_))));
  c->ReadUntil("data: world\n\n", 10s);
  server_->Stop();
  EXPECT_TRUE(c->WaitClosed(10s));
  EXPECT_EQ(streams_closed_.load(), 1);
}

TEST_F(ServerTest, MetricsPerRouteAndStatus) {
  StartServer();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Get("/echo").status, 200);
  ASSERT_EQ(Get("/nope").status, 404);
  ASSERT_EQ(Get("/admin-only").status, 401);
  ASSERT_EQ(Get("/keys/k1/reveal", Bearer(admin_token_)).status, 200);
  const std::string text = metrics_.Render();
  EXPECT_TRUE(Contains(text, "# TYPE keyledger_http_requests_total counter\n"));
  EXPECT_TRUE(Contains(
      text, R"(keyledger_http_requests_total{method="GET",route="/echo",status="200"} 3)"));
  EXPECT_TRUE(Contains(
      text, R"(keyledger_http_requests_total{method="GET",route="unmatched",status="404"} 1)"));
  EXPECT_TRUE(Contains(
      text, R"(keyledger_http_requests_total{method="GET",route="/admin-only",status="401"} 1)"));
  EXPECT_TRUE(Contains(
      text,
      R"(keyledger_http_requests_total{method="GET",route="/keys/{key_id}/reveal",status="200"} 1)"));
  EXPECT_TRUE(Contains(
      text,
      R"(keyledger_http_request_duration_seconds_count{method="GET",route="/echo",status="200"} 3)"));
  EXPECT_TRUE(Contains(
      text,
      R"(keyledger_http_request_duration_seconds_bucket{method="GET",route="/echo",status="200",le="+Inf"} 3)"));
  EXPECT_TRUE(Contains(text, R"(keyledger_auth_failures_total{reason="missing_credentials"} 1)"));
  EXPECT_TRUE(Contains(text, "keyledger_http_connections_active "));
}

TEST_F(ServerTest, OneStructuredLogLinePerRequestWithoutSecrets) {
  StartServer();
  ASSERT_EQ(Get("/admin-only?secret=q",
                {{"Authorization", "Bearer " + admin_token_}, {"X-Request-Id", "log-1"}})
                .status,
            200);
  ASSERT_EQ(Fetch(port(), "POST", "/echo", {{"X-Request-Id", "log-2"}}, "body-secret").status, 200);
  std::vector<std::string> lines;
  ASSERT_TRUE(WaitFor([&] {
    lines.clear();
    for (const auto& l : LogLines()) {
      if (Contains(l, "\"msg\":\"request\"")) lines.push_back(l);
    }
    return lines.size() == 2;
  }));
  EXPECT_TRUE(MatchesTemplate(
      lines[0],
      R"({"ts":"<ts>","level":"info","msg":"request","method":"GET","path":"/admin-only",)"
      R"("route":"/admin-only","status":200,"duration_ms":<num>,"request_id":"log-1",)"
      R"("actor":"ops","client_ip":"127.0.0.1"})"
      "\n"))
      << lines[0];
  for (const auto& l : LogLines()) {
    EXPECT_FALSE(Contains(l, admin_token_));
    EXPECT_FALSE(Contains(l, "body-secret"));
    EXPECT_FALSE(Contains(l, "secret=q"));
  }
}

// ---- robustness
// -----------------------------------------------------------------------------------

TEST_F(ServerTest, GarbageRequestsNeverCrashTheServer) {
  ServerConfig config = TestConfig();
  config.read_timeout = 300ms;
  config.linger_timeout = 100ms;
  StartServer(config);
  std::mt19937 rng(12345);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  const std::vector<std::string> methods = {"GET",     "POST", "PUT",    "DELETE", "HEAD",
                                            "OPTIONS", "BREW", "G\x01T", "",       "get"};
  const std::vector<std::string> targets = {"/echo",       "/keys/x", "*",     "http://x/",
                                            "/%",          "/a b",    "/\xff", "",
                                            "/echo?a=%zz", "//",      "/throw"};
  const std::vector<std::string> versions = {"HTTP/1.1", "HTTP/1.0", "HTTP/2.0",
                                             "HTTP/1",   "",         "HTTP/1.1 extra"};
  const std::vector<std::string> headers = {"Host: x\r\n",
                                            "Content-Length: 3\r\n",
                                            "Content-Length: -1\r\n",
                                            "Content-Length: 99999999999999999999\r\n",
                                            "Transfer-Encoding: chunked\r\n",
                                            "Transfer-Encoding: gzip, chunked\r\n",
                                            ": empty\r\n",
                                            "X\x7f: y\r\n",
                                            "Bad Header\r\n",
                                            "Connection: close\r\n",
                                            "Expect: 100-continue\r\n",
                                            "X-Request-Id: \x80\r\n"};
  int responses = 0, closed = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string req;
    if (rng() % 5 == 0) {
      const size_t n = rng() % 300;
      for (size_t k = 0; k < n; ++k) req += static_cast<char>(rng() % 256);
    } else {
      req = pick(methods) + " " + pick(targets) + " " + pick(versions) + "\r\n";
      const int nh = static_cast<int>(rng() % 4);
      for (int k = 0; k < nh; ++k) req += pick(headers);
      req += "\r\n";
      if (rng() % 2 == 0) req += "abc";
      if (rng() % 3 == 0) req += "3\r\nabc\r\n0\r\n\r\n";
    }
    auto c = Connection::Open(port());
    ASSERT_NE(c, nullptr) << i;
    if (!c->Send(req)) {
      ++closed;
      continue;
    }
    c->ShutdownWrite();
    auto r = c->ReadResponse(5s, req.rfind("HEAD", 0) == 0);
    if (r.has_value()) {
      ++responses;
      EXPECT_TRUE((r->status >= 100 && r->status < 600)) << r->status;
      if (r->status >= 400) {
        EXPECT_EQ(r->Header("Content-Type"), "application/json") << req;
      }
    } else {
      ++closed;
    }
  }
  EXPECT_GT(responses, 0);
  EXPECT_EQ(responses + closed, 1000);
  EXPECT_EQ(Get("/echo").status, 200);
  EXPECT_TRUE(WaitFor([&] { return server_->active_connections() == 0; }));
}

TEST_F(ServerTest, ConnectionLimit) {
  ServerConfig config = TestConfig();
  config.max_connections = 2;
  StartServer(config);
  auto a = Connection::Open(port());
  auto b = Connection::Open(port());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(WaitFor([&] { return server_->active_connections() == 2; }));
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->WaitClosed(10s));
  ASSERT_TRUE(a->Send(BuildRequest("GET", "/echo")));
  EXPECT_TRUE(a->ReadResponse().has_value());
}

}  // namespace
}  // namespace keyledger::api::testing
