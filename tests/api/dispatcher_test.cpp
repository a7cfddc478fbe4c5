// Dispatcher (api/dispatcher.hpp) without sockets: requests built in memory, answers caught by a
// sink, the log captured line by line and the metrics read from the registry.
#include "api/dispatcher.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/auth.hpp"
#include "api/cors.hpp"
#include "api/http_framing.hpp"
#include "api/logger.hpp"
#include "api/metrics.hpp"
#include "api/router.hpp"
#include "events/json_writer.hpp"
#include "tests/api/match.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::api::testing {
namespace {

// An event stream that only remembers what it was sent.
class FakeStream final : public EventStream {
 public:
  bool Send(std::string_view event, std::string_view, std::string_view) override {
    events.emplace_back(event);
    return true;
  }
  bool SendComment(std::string_view) override { return true; }
  void Close() override {}
  bool IsOpen() const override { return true; }
  void OnClose(std::function<void()>) override {}
  std::vector<std::string> events;
};

// What the transport receives: finished responses, or the head of a stream.
class CaptureSink final : public ResponseSink {
 public:
  void Finish(Response response) override {
    std::lock_guard<std::mutex> lock(mu);
    responses.push_back(std::move(response));
  }
  std::shared_ptr<EventStream> StartStream(std::vector<NameValue> headers) override {
    std::lock_guard<std::mutex> lock(mu);
    stream_headers = std::move(headers);
    stream = std::make_shared<FakeStream>();
    return stream;
  }
  std::mutex mu;
  std::vector<Response> responses;
  std::vector<NameValue> stream_headers;
  std::shared_ptr<FakeStream> stream;
};

std::string Echo(const Request& req) {
  json::Writer w;
  w.BeginObject()
      .Member("method", req.method)
      .Member("path", req.path)
      .Member("route", req.route_pattern)
      .Member("actor", req.Actor())
      .Member("request_id", req.request_id);
  w.Key("params").BeginArray();
  for (const auto& [k, v] : req.path_params) w.BeginArray().String(k).String(v).EndArray();
  w.EndArray().Key("query").BeginArray();
  for (const auto& [k, v] : req.query) w.BeginArray().String(k).String(v).EndArray();
  w.EndArray().EndObject();
  return w.Take();
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_token_ = GenerateManagementToken();
    const std::string tokens = dir_.Sub("tokens.json");
    ASSERT_OK(WriteTokensFileAtomic(
        tokens, {{"ops", TokenSha256Hex(admin_token_), Role::kAdmin, std::nullopt, {}, ""}}));
    AuthConfig config;
    config.tokens_file = tokens;
    config.limiter.limit = 2;  // the third failure from one address is a 429
    ASSERT_OK_AND_ASSIGN(auth_, Authenticator::Create(config, &logger_, &metrics_));

    auto add = [this](RouteSpec spec) { ASSERT_OK(router_.Add(std::move(spec))); };
    const Handler echo = [](const RequestPtr& req, Responder respond) {
      Response r = Response::Json(200, Echo(*req));
      r.headers.emplace_back("ETag", "\"7\"");
      respond(std::move(r));
    };
    add({.method = "GET", .pattern = "/echo", .access = Access::kPublic, .handler = echo});
    add({.method = "GET", .pattern = "/keys/{key_id}", .access = Access::kAdmin, .handler = echo});
    add({.method = "GET", .pattern = "/dir/", .access = Access::kPublic, .handler = echo});
    add({.method = "GET",
         .pattern = "/throw",
         .access = Access::kPublic,
         .handler = [](const RequestPtr&, Responder) -> void {
           throw std::runtime_error("kaboom with internal detail sk-secret-123");
         }});
    add({.method = "GET",
         .pattern = "/throw-after-answer",
         .access = Access::kPublic,
         .handler = [](const RequestPtr&, Responder respond) -> void {
           respond(Response::Json(200, "{}"));
           throw std::runtime_error("late kaboom");
         }});
    add({.method = "GET",
         .pattern = "/throw-int",
         .access = Access::kPublic,
         .handler = [](const RequestPtr&, Responder) -> void { throw 42; }});
    add({.method = "GET",
         .pattern = "/later",
         .access = Access::kPublic,
         .handler = [this](const RequestPtr&, Responder respond) { parked_.push_back(respond); }});
    add({.method = "GET",
         .pattern = "/drop",
         .access = Access::kPublic,
         .handler = [](const RequestPtr&, Responder) {}});
    add({.method = "GET",
         .pattern = "/bad-status",
         .access = Access::kPublic,
         .handler = [](const RequestPtr&, Responder respond) { respond(Response::Json(42, "")); }});
    add({.method = "GET",
         .pattern = "/bad-header",
         .access = Access::kPublic,
         .handler = [](const RequestPtr&, Responder respond) {
           Response r = Response::Json(200, "{}");
           r.headers.emplace_back("X-Split", "a\r\nSet-Cookie: evil=1");
           r.headers.emplace_back("X-Fine", "yes");
           respond(std::move(r));
         }});
    add({.method = "GET",
         .pattern = "/stream",
         .access = Access::kPublic,
         .streaming = true,
         .handler = [](const RequestPtr&, Responder respond) {
           auto stream = respond.StartEventStream({{"Cache-Control", "no-store"}});
           ASSERT_NE(stream, nullptr);
           stream->Send("hello", "world");
         }});
    add({.method = "GET",
         .pattern = "/not-streaming",
         .access = Access::kPublic,
         .handler = [](const RequestPtr&, Responder respond) {
           EXPECT_EQ(respond.StartEventStream(), nullptr);
         }});
  }

  Dispatcher& Make(std::shared_ptr<const CorsPolicy> cors = nullptr) {
    dispatcher_ = std::make_unique<Dispatcher>(router_, auth_.get(), logger_, &metrics_, cors);
    return *dispatcher_;
  }

  static Request Req(std::string method, std::string target, std::vector<NameValue> headers = {}) {
    Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers = std::move(headers);
    r.client_ip = "192.0.2.7";
    r.received_at = std::chrono::steady_clock::now();
    return r;
  }

  // Dispatches `req` and returns the one answer it got (the handlers here answer at once).
  Response Run(Request req, bool* streaming = nullptr) {
    auto sink = std::make_shared<CaptureSink>();
    const bool s = dispatcher_->Dispatch(std::move(req), sink);
    if (streaming != nullptr) *streaming = s;
    EXPECT_EQ(sink->responses.size(), 1u);
    if (sink->responses.empty()) return Response::Json(0, "");
    return sink->responses.front();
  }

  std::vector<std::string> RequestLines() {
    std::lock_guard<std::mutex> lock(log_mu_);
    std::vector<std::string> out;
    for (const std::string& line : lines_) {
      if (line.find("\"msg\":\"request\"") != std::string::npos) out.push_back(line);
    }
    return out;
  }
  std::vector<std::string> AllLines() {
    std::lock_guard<std::mutex> lock(log_mu_);
    return lines_;
  }
  bool MetricsHave(std::string_view text) {
    return metrics_.Render().find(text) != std::string::npos;
  }

  keyledger::testing::TempDir dir_;
  std::string admin_token_;
  std::mutex log_mu_;
  std::vector<std::string> lines_;
  Logger logger_{LogLevel::kDebug, [this](std::string_view line) {
                   std::lock_guard<std::mutex> lock(log_mu_);
                   lines_.emplace_back(line);
                 }};
  MetricsRegistry metrics_;
  Router router_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::vector<Responder> parked_;
};

bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

TEST_F(DispatcherTest, MatchedRouteAnswersWithRequestIdFirstAndIsLoggedAndMetered) {
  Make();
  bool streaming = true;
  Response r = Run(Req("GET", "/echo?a=1&b=x%20y&a=2", {{"x-request-id", "rid-1"}}), &streaming);
  EXPECT_FALSE(streaming);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body,
            R"({"method":"GET","path":"/echo","route":"/echo","actor":"","request_id":"rid-1",)"
            R"("params":[],"query":[["a","1"],["b","x y"],["a","2"]]})");
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0], NameValue("X-Request-Id", "rid-1"));
  EXPECT_EQ(r.headers[1], NameValue("ETag", "\"7\""));

  const auto lines = RequestLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(MatchesTemplate(
      lines[0], R"({"ts":"<ts>","level":"info","msg":"request","method":"GET","path":"/echo",)"
                R"("route":"/echo","status":200,"duration_ms":<num>,"request_id":"rid-1",)"
                R"("actor":"","client_ip":"192.0.2.7"})"
                "\n"))
      << lines[0];
  EXPECT_TRUE(
      MetricsHave(R"(keyledger_http_requests_total{method="GET",route="/echo",status="200"} 1)"));
  EXPECT_TRUE(MetricsHave(
      R"(keyledger_http_request_duration_seconds_count{method="GET",route="/echo",status="200"} 1)"));
}

TEST_F(DispatcherTest, AuthenticatedRouteCarriesPathParamsAndActor) {
  Make();
  Response r = Run(Req("GET", "/keys/k%201", {{"authorization", "Bearer " + admin_token_}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(Contains(r.body, R"("route":"/keys/{key_id}","actor":"ops")")) << r.body;
  EXPECT_TRUE(Contains(r.body, R"("params":[["key_id","k 1"]])")) << r.body;
  EXPECT_TRUE(MatchesTemplate(r.headers.at(0).second, "<uuid>")) << r.headers.at(0).second;
  const auto lines = RequestLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(Contains(lines[0], R"("path":"/keys/k 1","route":"/keys/{key_id}","status":200)"));
  EXPECT_TRUE(Contains(lines[0], R"("actor":"ops")"));
  EXPECT_FALSE(Contains(lines[0], admin_token_));
}

TEST_F(DispatcherTest, UnmatchedRoutes) {
  Make();
  Response missing = Run(Req("GET", "/nope", {{"x-request-id", "rid-404"}}));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, R"({"detail":"Not Found"})");
  EXPECT_EQ(missing.headers, (std::vector<NameValue>{{"X-Request-Id", "rid-404"}}));

  Response wrong_method = Run(Req("DELETE", "/echo"));
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.body, R"({"detail":"Method Not Allowed"})");
  ASSERT_EQ(wrong_method.headers.size(), 2u);
  EXPECT_EQ(wrong_method.headers[1], NameValue("Allow", "GET, HEAD"));

  Response slash = Run(Req("GET", "/dir?q=%20"));
  EXPECT_EQ(slash.status, 307);
  EXPECT_EQ(slash.body, "");
  ASSERT_EQ(slash.headers.size(), 2u);
  EXPECT_EQ(slash.headers[1], NameValue("Location", "/dir/?q=%20"));

  Response bad_target = Run(Req("GET", "*"));
  EXPECT_EQ(bad_target.status, 400);
  EXPECT_EQ(bad_target.body,
            R"({"error":{"type":"http_error","message":"Invalid request target"}})");

  const auto lines = RequestLines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_TRUE(Contains(lines[0], R"("path":"/nope","route":"unmatched","status":404)"));
  EXPECT_TRUE(Contains(lines[1], R"("route":"unmatched","status":405)"));
  EXPECT_TRUE(Contains(lines[2], R"("route":"unmatched","status":307)"));
  EXPECT_TRUE(Contains(lines[3], R"("path":"*","route":"invalid","status":400)"));
  EXPECT_TRUE(MetricsHave(
      R"(keyledger_http_requests_total{method="GET",route="unmatched",status="404"} 1)"));
  EXPECT_TRUE(MetricsHave(
      R"(keyledger_http_requests_total{method="DELETE",route="unmatched",status="405"} 1)"));
  EXPECT_TRUE(
      MetricsHave(R"(keyledger_http_requests_total{method="GET",route="invalid",status="400"} 1)"));
}

TEST_F(DispatcherTest, BadTokenIs401ThenTheLimiterAnswers429) {
  Make();
  const std::vector<NameValue> bad = {{"authorization", "Bearer kl_wrong-token-value"}};
  for (int i = 0; i < 2; ++i) {
    Response r = Run(Req("GET", "/keys/k1", bad));
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body,
              R"({"error":{"type":"http_error","message":"无效或过期的 Management Token"}})");
  }
  Response limited = Run(Req("GET", "/keys/k1", bad));
  EXPECT_EQ(limited.status, 429);
  EXPECT_TRUE(Contains(limited.body, R"("type":"rate_limit")")) << limited.body;
  bool retry_after = false;
  for (const auto& [name, value] : limited.headers) retry_after |= name == "Retry-After";
  EXPECT_TRUE(retry_after);

  const auto lines = RequestLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(Contains(lines[0], R"("level":"warning")")) << lines[0];
  EXPECT_TRUE(Contains(lines[0], R"("route":"/keys/{key_id}","status":401)")) << lines[0];
  EXPECT_TRUE(Contains(lines[0], R"("actor":"")")) << lines[0];
  EXPECT_TRUE(Contains(lines[0], R"("note":"auth: invalid_token")")) << lines[0];
  EXPECT_TRUE(Contains(lines[2], R"("status":429)")) << lines[2];
  EXPECT_TRUE(Contains(lines[2], R"("note":"auth: rate_limited")")) << lines[2];
  for (const std::string& line : AllLines()) EXPECT_FALSE(Contains(line, "wrong-token-value"));
  EXPECT_TRUE(MetricsHave(
      R"(keyledger_http_requests_total{method="GET",route="/keys/{key_id}",status="401"} 2)"));
  EXPECT_TRUE(MetricsHave(
      R"(keyledger_http_requests_total{method="GET",route="/keys/{key_id}",status="429"} 1)"));
  EXPECT_TRUE(MetricsHave(R"(keyledger_auth_failures_total{reason="invalid_token"} 2)"));
  EXPECT_TRUE(MetricsHave(R"(keyledger_auth_failures_total{reason="rate_limited"} 1)"));
}

TEST_F(DispatcherTest, RouteNeedingARoleWithoutAuthenticatorIs500) {
  dispatcher_ = std::make_unique<Dispatcher>(router_, nullptr, logger_, &metrics_);
  Response r = Run(Req("GET", "/keys/k1"));
  EXPECT_EQ(r.status, 500);
  EXPECT_FALSE(Contains(r.body, "Authenticator"));
  const auto lines = RequestLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(Contains(lines[0], "route requires auth but no Authenticator configured"));
}

constexpr std::string_view kSystemError =
    R"({"error":{"type":"system_error","message":"系统遇到未知错误，请稍后重试或联系管理员","details":{"error_id":"<hex8>","recovery_info":"请稍后重试，如问题持续请联系管理员"}}})";

TEST_F(DispatcherTest, HandlerThatThrowsIs500WithoutTheSecretAndTheLogNamesIt) {
  Make();
  Response r;
  EXPECT_NO_THROW(r = Run(Req("GET", "/throw")));
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(MatchesTemplate(r.body, kSystemError)) << r.body;
  EXPECT_FALSE(Contains(r.body, "kaboom"));
  EXPECT_FALSE(Contains(r.body, "sk-secret-123"));
  for (const auto& [name, value] : r.headers) EXPECT_FALSE(Contains(value, "kaboom"));
  const std::string id = r.body.substr(r.body.find(R"("error_id":")") + 12, 8);

  const auto lines = RequestLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(Contains(lines[0], R"("level":"error")")) << lines[0];
  EXPECT_TRUE(Contains(lines[0], R"("route":"/throw","status":500)")) << lines[0];
  EXPECT_TRUE(Contains(lines[0], "handler GET /throw threw: kaboom")) << lines[0];
  EXPECT_TRUE(Contains(lines[0], "error_id=" + id)) << lines[0];
  EXPECT_TRUE(
      MetricsHave(R"(keyledger_http_requests_total{method="GET",route="/throw",status="500"} 1)"));

  Response odd;
  EXPECT_NO_THROW(odd = Run(Req("GET", "/throw-int")));
  EXPECT_EQ(odd.status, 500);
  EXPECT_TRUE(Contains(RequestLines().back(), "handler GET /throw-int threw: non-standard"));
}

TEST_F(DispatcherTest, HandlerThatThrowsAfterAnsweringKeepsItsAnswer) {
  Make();
  Response r;
  EXPECT_NO_THROW(r = Run(Req("GET", "/throw-after-answer")));
  EXPECT_EQ(r.status, 200);
  bool logged = false;
  for (const std::string& line : AllLines()) {
    logged |= Contains(line, "handler threw after answering") &&
              Contains(line, "handler GET /throw-after-answer threw: late kaboom");
  }
  EXPECT_TRUE(logged);
}

TEST_F(DispatcherTest, UnknownMethodsShareOneMetricLabelAndAreLoggedShortened) {
  Make();
  Response brew = Run(Req("BREW", "/echo"));
  EXPECT_EQ(brew.status, 405);
  const std::string long_method(100, 'X');
  EXPECT_EQ(Run(Req(long_method, "/echo")).status, 405);
  EXPECT_EQ(Run(Req("G\xff", "/echo")).status, 405);
  EXPECT_TRUE(MetricsHave(
      R"(keyledger_http_requests_total{method="other",route="unmatched",status="405"} 3)"));
  EXPECT_FALSE(MetricsHave("BREW"));
  const auto lines = RequestLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(Contains(lines[0], R"("method":"BREW")")) << lines[0];
  EXPECT_TRUE(Contains(lines[1], "\"method\":\"" + std::string(kMaxLoggedMethodBytes, 'X')))
      << lines[1];
  EXPECT_FALSE(Contains(lines[1], long_method)) << lines[1];
  EXPECT_TRUE(Contains(lines[2], "\"method\":\"G\xef\xbf\xbd\"")) << lines[2];  // U+FFFD
}

TEST_F(DispatcherTest, CorsPreflightIsAnsweredBeforeRoutingAndAuth) {
  Make(std::make_shared<CorsPolicy>(std::vector<std::string>{"https://admin.example"}));
  const std::vector<NameValue> preflight = {{"origin", "https://admin.example"},
                                            {"access-control-request-method", "GET"},
                                            {"x-request-id", "pre-1"}};
  // An admin route without credentials: the preflight never reaches auth.
  Response r = Run(Req("OPTIONS", "/keys/k1", preflight));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "OK");
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  const std::vector<NameValue> expected = {
      {"X-Request-Id", "pre-1"},
      {"Vary", "Origin"},
      {"Access-Control-Allow-Origin", "https://admin.example"},
      {"Access-Control-Allow-Methods", std::string(kCorsAllowMethods)},
      {"Access-Control-Max-Age", "600"},
      {"Access-Control-Allow-Headers", std::string(kCorsAllowHeaders)},
      {"Access-Control-Allow-Credentials", "true"}};
  EXPECT_EQ(r.headers, expected);

  Response refused =
      Run(Req("OPTIONS", "/echo",
              {{"origin", "https://evil.example"}, {"access-control-request-method", "GET"}}));
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.body, "Disallowed CORS origin");

  // Any other request with an allowed Origin gets the response headers after the handler's.
  Response get = Run(Req("GET", "/echo", {{"origin", "https://admin.example"}}));
  ASSERT_EQ(get.headers.size(), 6u);
  EXPECT_EQ(get.headers[1], NameValue("ETag", "\"7\""));
  EXPECT_EQ(get.headers[2], NameValue("Vary", "Origin"));
  EXPECT_EQ(get.headers[3], NameValue("Access-Control-Allow-Origin", "https://admin.example"));

  const auto lines = RequestLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(Contains(lines[0], R"("route":"cors-preflight","status":200)")) << lines[0];
  EXPECT_TRUE(Contains(lines[0], R"("note":"cors preflight")")) << lines[0];
  EXPECT_TRUE(MetricsHave(
      R"(keyledger_http_requests_total{method="OPTIONS",route="cors-preflight",status="200"} 1)"));
  EXPECT_TRUE(MetricsHave(
      R"(keyledger_http_requests_total{method="OPTIONS",route="cors-preflight",status="400"} 1)"));
  EXPECT_FALSE(MetricsHave("missing_credentials"));
}

TEST_F(DispatcherTest, WithoutCorsPolicyOptionsReachesTheRouter) {
  Make();
  Response r =
      Run(Req("OPTIONS", "/echo",
              {{"origin", "https://admin.example"}, {"access-control-request-method", "GET"}}));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.size(), 2u);  // X-Request-Id, Allow: no CORS headers
}

TEST_F(DispatcherTest, AnswersFromLaterOrNeverAreFinishedToo) {
  Make();
  auto sink = std::make_shared<CaptureSink>();
  dispatcher_->Dispatch(Req("GET", "/later", {{"x-request-id", "late-1"}}), sink);
  EXPECT_TRUE(sink->responses.empty());
  EXPECT_TRUE(RequestLines().empty());
  ASSERT_EQ(parked_.size(), 1u);
  parked_.front()(Response::Json(201, "{}"));
  parked_.clear();
  ASSERT_EQ(sink->responses.size(), 1u);
  EXPECT_EQ(sink->responses[0].status, 201);
  EXPECT_EQ(sink->responses[0].headers.at(0), NameValue("X-Request-Id", "late-1"));
  ASSERT_EQ(RequestLines().size(), 1u);

  Response dropped = Run(Req("GET", "/drop"));
  EXPECT_EQ(dropped.status, 500);
  EXPECT_TRUE(MatchesTemplate(dropped.body, kSystemError)) << dropped.body;
  EXPECT_TRUE(Contains(RequestLines().back(), "handler dropped its Responder without answering"));
}

TEST_F(DispatcherTest, BadStatusAndUnsafeHeadersAreCaught) {
  Make();
  Response r = Run(Req("GET", "/bad-status"));
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(Contains(RequestLines().back(), "handler answered with status 42"));

  Response h = Run(Req("GET", "/bad-header"));
  EXPECT_EQ(h.status, 200);
  ASSERT_EQ(h.headers.size(), 2u);
  EXPECT_EQ(h.headers[1], NameValue("X-Fine", "yes"));
  bool logged = false;
  for (const std::string& line : AllLines()) {
    logged |= Contains(line, "handler produced an unsafe header; dropped") &&
              Contains(line, R"("route":"/bad-header")");
  }
  EXPECT_TRUE(logged);
}

TEST_F(DispatcherTest, StreamingRoutesStartStreamsAndOthersCannot) {
  Make(std::make_shared<CorsPolicy>(std::vector<std::string>{"*"}));
  auto sink = std::make_shared<CaptureSink>();
  EXPECT_TRUE(dispatcher_->Dispatch(
      Req("GET", "/stream", {{"x-request-id", "s-1"}, {"origin", "o"}}), sink));
  EXPECT_TRUE(sink->responses.empty());
  ASSERT_NE(sink->stream, nullptr);
  EXPECT_EQ(sink->stream->events, std::vector<std::string>{"hello"});
  const std::vector<NameValue> expected = {
      {"X-Request-Id", "s-1"},
      {"Cache-Control", "no-store"},
      {"Access-Control-Allow-Origin", "*"},
      {"Access-Control-Expose-Headers", std::string(kCorsExposeHeaders)}};
  EXPECT_EQ(sink->stream_headers, expected);
  ASSERT_EQ(RequestLines().size(), 1u);
  EXPECT_TRUE(Contains(RequestLines()[0], R"("route":"/stream","status":200)"));

  bool streaming = true;
  Response refused = Run(Req("GET", "/not-streaming"), &streaming);
  EXPECT_FALSE(streaming);
  EXPECT_EQ(refused.status, 500);
  EXPECT_TRUE(Contains(RequestLines().back(), "StartEventStream on a non-streaming route"));
}

TEST_F(DispatcherTest, RejectedMessagesAreFinishedAndRecordedAsInvalid) {
  Make(std::make_shared<CorsPolicy>(std::vector<std::string>{"https://admin.example"}));
  Request partial = Req("POST", "/keys/a%20b?secret=1",
                        {{"x-request-id", "rej-1"}, {"origin", "https://admin.example"}});
  Response r = dispatcher_->Reject(partial, Response::Json(413, R"({"too":"large"})"));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.headers.at(0), NameValue("X-Request-Id", "rej-1"));
  EXPECT_EQ(r.headers.at(1), NameValue("Vary", "Origin"));

  Request nothing;
  nothing.client_ip = "192.0.2.9";
  nothing.received_at = std::chrono::steady_clock::now();
  Response n = dispatcher_->Reject(nothing, Response::Json(400, "{}"));
  EXPECT_TRUE(MatchesTemplate(n.headers.at(0).second, "<uuid>"));
  EXPECT_EQ(n.headers.size(), 1u);

  const auto lines = RequestLines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(Contains(lines[0], R"("method":"POST","path":"/keys/a b","route":"invalid")"))
      << lines[0];
  EXPECT_FALSE(Contains(lines[0], "secret"));
  EXPECT_TRUE(Contains(lines[1], R"("method":"-","path":"-","route":"invalid","status":400)"))
      << lines[1];
  EXPECT_TRUE(MetricsHave(
      R"(keyledger_http_requests_total{method="other",route="invalid",status="400"} 1)"));
}

TEST_F(DispatcherTest, RequestIdIsAcceptedOnlyAsAToken) {
  EXPECT_EQ(AcceptRequestId("abc-123_x.y"), "abc-123_x.y");
  EXPECT_TRUE(MatchesTemplate(AcceptRequestId("has space"), "<uuid>"));
  EXPECT_TRUE(MatchesTemplate(AcceptRequestId(std::string(129, 'a')), "<uuid>"));
  EXPECT_TRUE(MatchesTemplate(AcceptRequestId(std::nullopt), "<uuid>"));
}

TEST_F(DispatcherTest, WithoutMetricsItStillAnswersAndLogs) {
  dispatcher_ = std::make_unique<Dispatcher>(router_, auth_.get(), logger_, nullptr);
  EXPECT_EQ(Run(Req("GET", "/echo")).status, 200);
  EXPECT_EQ(RequestLines().size(), 1u);
  EXPECT_FALSE(MetricsHave("keyledger_http_requests_total"));
}

}  // namespace
}  // namespace keyledger::api::testing
