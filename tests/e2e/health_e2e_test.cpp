// The health reads (H1, H4, H5, H6), the RPM counter routes (R1, R2) and adaptive RPM (A1-A6) of
// aether-spec.md §11.1-§11.3 end to end over real HTTP: member order, roles (401 without a
// token, 403 for an auditor on writes), validation, 404 bodies, the events the writes append
// (per-key history, the audit feed, SSE, keyledger-audit) and that a rebuild reproduces them.
#include <ctime>

#include "tests/e2e/e2e_support.hpp"

namespace keyledger::e2e {
namespace {

using Names = std::vector<std::string>;

class HealthRoutesTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    StartServer();
  }

  static std::string Health(std::string_view rest) {
    return std::string(kEndpointsBase) + "/health/" + std::string(rest);
  }
  static std::string Rpm(std::string_view id) {
    return std::string(kEndpointsBase) + "/rpm/key/" + std::string(id);
  }
  static std::string Adaptive(std::string_view rest) {
    return "/api/admin/adaptive/" + std::string(rest);
  }
  static std::string NotFoundBody(std::string_view id) {
    return R"({"error":{"type":"not_found","message":"Key )" + std::string(id) + R"( 不存在"}})";
  }
  static int64_t NowSeconds() { return static_cast<int64_t>(std::time(nullptr)); }
};

TEST_F(HealthRoutesTest, HealthAndRpmReadsHaveAethersShapes) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string auditor_token = CreateToken("health-auditor", "auditor");
  Client auditor = As(auditor_token);
  Client anonymous = As("");
  const std::string provider = CreateProvider(admin, "health-reads");
  CreateEndpoint(admin, provider, "CLAUDE", "https://c.example");
  const auto key = CreateKey(admin, provider, R"(["CLAUDE","OPENAI"])", NewSecret("h"), "h");
  const uint64_t before_reports = HeadSequence();

  // 40 CLAUDE failures now: score 0.0, breaker open; 4 OPENAI successes.
  const std::string now = std::to_string(NowSeconds());
  TestResponse report = admin.Post(
      std::string(kEndpointsBase) + "/keys/health-reports",
      R"({"reports":[{"key_id":")" + key.id +
          R"(","api_format":"CLAUDE","successes":0,"failures":40,"total_response_time_ms":0,"last_error":"upstream 500","at":)" +
          now + R"(},{"key_id":")" + key.id +
          R"(","api_format":"OPENAI","successes":4,"failures":0,"total_response_time_ms":1000,"at":)" +
          now + "}]}");
  ASSERT_EQ(report.status, 200) << report.body;

  // H1, every format.
  TestResponse h1 = auditor.Get(Health("key/" + key.id));
  ASSERT_EQ(h1.status, 200) << h1.body;
  Json j(h1.body);
  EXPECT_EQ(
      Keys(j.root()),
      (Names{"key_id", "key_is_active", "key_statistics", "key_health_score", "any_circuit_open",
             "health_by_format", "api_format", "key_consecutive_failures", "key_last_failure_at",
             "circuit_breaker_open", "circuit_breaker_open_at", "next_probe_at", "half_open_until",
             "half_open_successes", "half_open_failures"}));
  EXPECT_EQ(Keys(j["key_statistics"]), (Names{"request_count", "success_count", "error_count",
                                              "success_rate", "avg_response_time_ms"}));
  EXPECT_EQ(Int(j["key_statistics"], "request_count"), 44);
  EXPECT_EQ(Num(j["key_statistics"], "avg_response_time_ms"), 250.0);
  EXPECT_EQ(Keys(j["health_by_format"]), (Names{"CLAUDE", "OPENAI"}));
  simdjson::dom::element claude, breaker;
  ASSERT_EQ(j["health_by_format"]["CLAUDE"].get(claude), simdjson::SUCCESS);
  ASSERT_EQ(claude["circuit_breaker"].get(breaker), simdjson::SUCCESS);
  EXPECT_EQ(Keys(claude), (Names{"health_score", "error_rate", "window_size",
                                 "consecutive_failures", "last_failure_at", "circuit_breaker"}));
  EXPECT_EQ(Num(claude, "health_score"), 0.0);
  EXPECT_EQ(Num(claude, "error_rate"), 1.0);
  EXPECT_EQ(Int(claude, "window_size"), 20);
  EXPECT_EQ(Keys(breaker), (Names{"state", "open", "open_at", "next_probe_at", "half_open_until",
                                  "half_open_successes", "half_open_failures"}));
  EXPECT_EQ(Str(breaker, "state"), "open");
  EXPECT_EQ(Num(j.root(), "key_health_score"), 0.0);
  EXPECT_EQ(Bool(j.root(), "any_circuit_open"), true);
  EXPECT_TRUE(IsNull(j.root(), "api_format"));

  // One format (case-insensitive, stored upper-case), an unknown one, a missing key, no token.
  Json one(auditor.Get(Health("key/" + key.id + "?api_format=claude")).body);
  EXPECT_EQ(Str(one.root(), "api_format"), "CLAUDE");
  EXPECT_TRUE(IsNull(one.root(), "health_by_format"));
  EXPECT_EQ(Int(one.root(), "key_consecutive_failures"), 40);
  EXPECT_EQ(Bool(one.root(), "circuit_breaker_open"), true);
  EXPECT_EQ(Keys(one.root()), Keys(j.root()));
  TestResponse bad_format = auditor.Get(Health("key/" + key.id + "?api_format=foo"));
  EXPECT_EQ(bad_format.status, 422) << bad_format.body;
  EXPECT_EQ(ToJson(Items(Json(bad_format.body)["detail"]).at(0)["loc"]),
            R"(["query","api_format"])");
  TestResponse ghost = auditor.Get(Health("key/ghost"));
  EXPECT_EQ(ghost.status, 404);
  EXPECT_EQ(ghost.body, NotFoundBody("ghost"));
  EXPECT_EQ(anonymous.Get(Health("key/" + key.id)).status, 401);
  // As of before the reports: nothing counted yet.
  Json past(
      auditor.Get(Health("key/" + key.id + "?as_of_seq=" + std::to_string(before_reports))).body);
  EXPECT_EQ(Int(past["key_statistics"], "request_count"), 0);
  EXPECT_EQ(Num(past.root(), "key_health_score"), 1.0);

  // H4: what Aether's summary was meant to count (Aether answers zeros).
  TestResponse h4 = auditor.Get(Health("summary"));
  ASSERT_EQ(h4.status, 200) << h4.body;
  EXPECT_EQ(h4.body, R"({"endpoints":{"total":1,"active":1,"unhealthy":0},)"
                     R"("keys":{"total":1,"active":1,"unhealthy":1,"circuit_open":1}})");
  EXPECT_EQ(anonymous.Get(Health("summary")).status, 401);
  EXPECT_EQ(auditor.Get(Health("summary?as_of_seq=" + std::to_string(before_reports))).body,
            R"({"endpoints":{"total":1,"active":1,"unhealthy":0},)"
            R"("keys":{"total":1,"active":1,"unhealthy":0,"circuit_open":0}})");

  // H5: one item per format of the active endpoints, a 100-segment timeline.
  TestResponse h5 = auditor.Get(Health("status?lookback_hours=1"));
  ASSERT_EQ(h5.status, 200) << h5.body;
  Json status(h5.body);
  auto items = Items(status.root());
  ASSERT_EQ(items.size(), 1u) << h5.body;
  EXPECT_EQ(Keys(items[0]), (Names{"api_format", "display_name", "health_score", "timeline",
                                   "time_range_start", "time_range_end", "total_endpoints",
                                   "total_keys", "active_keys", "provider_count"}));
  EXPECT_EQ(Str(items[0], "display_name"), "Claude API");
  EXPECT_EQ(Items(items[0]["timeline"]).size(), 100u);
  EXPECT_NE(ToJson(items[0]["timeline"]).find("unhealthy"), std::string::npos);
  EXPECT_EQ(Num(items[0], "health_score"), 0.0);  // the only known segment is unhealthy
  EXPECT_EQ(Int(items[0], "total_keys"), 1);
  EXPECT_EQ(Int(items[0], "active_keys"), 0);  // its CLAUDE breaker is open
  EXPECT_NE(Str(items[0], "time_range_start").value_or("").find("+00:00"), std::string::npos);
  for (const char* q : {"lookback_hours=0", "lookback_hours=73", "lookback_hours=x"}) {
    EXPECT_EQ(auditor.Get(Health(std::string("status?") + q)).status, 422) << q;
  }

  // H6: outcomes and recent reports per format.
  TestResponse h6 = auditor.Get(Health("api-formats?per_format_limit=10"));
  ASSERT_EQ(h6.status, 200) << h6.body;
  Json formats(h6.body);
  EXPECT_EQ(Keys(formats.root()), (Names{"generated_at", "formats"}));
  auto f = Items(formats["formats"]);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(Keys(f[0]),
            (Names{"api_format", "total_attempts", "success_count", "failed_count", "skipped_count",
                   "success_rate", "provider_count", "key_count", "last_event_at", "events",
                   "timeline", "time_range_start", "time_range_end"}));
  EXPECT_EQ(Int(f[0], "total_attempts"), 40);
  EXPECT_EQ(Int(f[0], "failed_count"), 40);
  EXPECT_EQ(Num(f[0], "success_rate"), 0.0);
  EXPECT_EQ(Int(f[0], "key_count"), 1);
  auto events = Items(f[0]["events"]);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(Keys(events[0]), (Names{"timestamp", "status", "status_code", "latency_ms",
                                    "error_type", "error_message"}));
  EXPECT_EQ(Str(events[0], "status"), "failed");
  EXPECT_EQ(Str(events[0], "error_message"), "upstream 500");
  for (const char* q : {"per_format_limit=9", "per_format_limit=201", "lookback_hours=73"}) {
    EXPECT_EQ(auditor.Get(Health(std::string("api-formats?") + q)).status, 422) << q;
  }

  // R1 / R2: no counter is kept (current_rpm 0); the id is matched literally.
  TestResponse r1 = auditor.Get(Rpm(key.id));
  ASSERT_EQ(r1.status, 200);
  EXPECT_EQ(r1.body, R"({"key_id":")" + key.id + R"(","current_rpm":0,"rpm_limit":null})");
  EXPECT_EQ(auditor.Get(Rpm("ghost")).body, NotFoundBody("ghost"));
  EXPECT_EQ(auditor.Delete(Rpm(key.id)).status, 403);
  EXPECT_EQ(anonymous.Delete(Rpm(key.id)).status, 401);
  const uint64_t head = HeadSequence();
  TestResponse r2 = admin.Delete(Rpm(key.id));
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(r2.body, R"({"message":"RPM 计数已重置"})");
  TestResponse star = admin.Delete(Rpm("*"));
  EXPECT_EQ(star.status, 404);
  EXPECT_EQ(star.body, NotFoundBody("*"));
  EXPECT_EQ(HeadSequence(), head);  // nothing to reset, nothing written

  // H3 and H2 answer Aether's bodies; each reset is a KeyHealthReset event with its request id.
  EXPECT_EQ(auditor.Patch(Health("keys"), "").status, 403);
  TestResponse h3 = admin.Patch(Health("keys"), "", {{"X-Request-Id", "req-h3"}});
  ASSERT_EQ(h3.status, 200) << h3.body;
  EXPECT_EQ(h3.body, R"({"message":"已恢复 1 个 Key","recovered_count":1,"recovered_keys":[)"
                     R"({"key_id":")" +
                         key.id + R"(","key_name":"h","provider_id":")" + provider +
                         R"(","api_formats":["CLAUDE","OPENAI"]}]})");
  EXPECT_EQ(admin.Patch(Health("keys"), "").body,
            R"({"message":"没有需要恢复的 Key","recovered_count":0,"recovered_keys":[]})");
  TestResponse h2 = admin.Patch(Health("keys/" + key.id + "?api_format=openai"), "");
  ASSERT_EQ(h2.status, 200) << h2.body;
  EXPECT_EQ(h2.body, R"({"message":"Key 的 OPENAI 格式已恢复","details":{"api_format":"OPENAI",)"
                     R"("health_score":1.0,"circuit_breaker_open":false,"is_active":true}})");
  // A key switched off on purpose stays off (Aether's H2 re-enabled it).
  ASSERT_EQ(admin.Put(KeyPath(key.id), R"({"is_active":false})").status, 200);
  EXPECT_EQ(admin.Patch(Health("keys/" + key.id), "").body,
            R"({"message":"Key 所有格式已恢复","details":{"health_score":1.0,)"
            R"("circuit_breaker_open":false,"is_active":false}})");
  EXPECT_EQ(Bool(Json(auditor.Get(Health("key/" + key.id)).body).root(), "key_is_active"), false);
  Json resets(auditor.Get("/api/admin/audit/events?type=KeyHealthReset").body);
  ASSERT_EQ(Items(resets["events"]).size(), 3u);
  EXPECT_EQ(Str(Items(resets["events"]).at(0), "request_id"), "req-h3");
}

TEST_F(HealthRoutesTest, AdaptiveRoutesWriteAuditedEventsThatRebuildReproduces) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string auditor_token = CreateToken("adaptive-auditor", "auditor");
  Client auditor = As(auditor_token);
  Client anonymous = As("");
  const std::string provider = CreateProvider(admin, "adaptive");
  const auto key = CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("a"), "adaptive-key");
  const std::string other = CreateProvider(admin, "adaptive-other");
  const auto fixed =
      CreateKey(admin, other, R"(["OPENAI"])", NewSecret("b"), "fixed", R"(,"rpm_limit":300)");

  // A1: adaptive keys only, optionally one provider's.
  TestResponse a1 = auditor.Get(Adaptive("keys"));
  ASSERT_EQ(a1.status, 200) << a1.body;
  Json list(a1.body);
  ASSERT_EQ(Items(list.root()).size(), 1u);
  auto item = Items(list.root()).at(0);
  EXPECT_EQ(Keys(item), (Names{"id", "name", "provider_id", "api_formats", "is_adaptive",
                               "rpm_limit", "effective_limit", "learned_rpm_limit",
                               "concurrent_429_count", "rpm_429_count"}));
  EXPECT_EQ(Str(item, "id"), key.id);
  EXPECT_EQ(Int(item, "effective_limit"), 50);
  EXPECT_EQ(auditor.Get(Adaptive("keys?provider_id=" + other)).body, "[]");
  EXPECT_EQ(Items(Json(auditor.Get(Adaptive("keys?provider_id=")).body).root()).size(), 1u);
  EXPECT_EQ(anonymous.Get(Adaptive("keys")).status, 401);

  // A2: roles, 404 before the body, Aether's 400s.
  const std::string mode = Adaptive("keys/" + key.id + "/mode");
  EXPECT_EQ(anonymous.Patch(mode, R"({"enabled":false,"fixed_limit":40})").status, 401);
  EXPECT_EQ(auditor.Patch(mode, R"({"enabled":false,"fixed_limit":40})").status, 403);
  TestResponse missing = admin.Patch(Adaptive("keys/ghost/mode"), "");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, NotFoundBody("ghost"));
  TestResponse empty = admin.Patch(mode, "");
  EXPECT_EQ(empty.status, 400);
  EXPECT_EQ(empty.body, R"({"error":{"type":"http_error","message":"请求体不能为空"}})");
  TestResponse no_limit = admin.Patch(mode, R"({"enabled":false})");
  EXPECT_EQ(no_limit.status, 400);
  EXPECT_EQ(
      no_limit.body,
      R"({"error":{"type":"http_error","message":"禁用自适应模式时必须提供 fixed_limit 参数"}})");
  TestResponse bad_limit = admin.Patch(mode, R"({"enabled":false,"fixed_limit":0})");
  EXPECT_EQ(bad_limit.status, 400);
  EXPECT_EQ(bad_limit.body,
            R"({"error":{"type":"invalid_request","message":"固定限制: 数值应大于或等于 1"}})");
  EXPECT_EQ(
      admin.Patch(mode, R"({"enabled":"maybe"})").body,
      R"({"error":{"type":"invalid_request","message":"启用状态: 输入应为布尔值, unable to interpret input"}})");

  const uint64_t before_writes = HeadSequence();
  SseReader stream;
  ASSERT_TRUE(stream.Open(port(), auditor_token,
                          "/api/admin/audit/stream?after=" + std::to_string(before_writes)));
  TestResponse to_fixed =
      admin.Patch(mode, R"({"enabled":false,"fixed_limit":40})", {{"X-Request-Id", "req-a2"}});
  ASSERT_EQ(to_fixed.status, 200) << to_fixed.body;
  EXPECT_EQ(to_fixed.body, R"({"message":"已切换为固定限制模式，RPM 限制设为 40","key_id":")" +
                               key.id +
                               R"(","is_adaptive":false,"rpm_limit":40,"effective_limit":40})");
  EXPECT_EQ(to_fixed.Header("ETag"), "\"2\"");
  // The key views agree: K1 shows the fixed limit, the ETag moved.
  Json k1_list(admin.Get(KeysOf(provider)).body);
  auto k1 = Items(k1_list.root()).at(0);
  EXPECT_EQ(Int(k1, "rpm_limit"), 40);
  EXPECT_EQ(Bool(k1, "is_adaptive"), false);
  EXPECT_EQ(Int(k1, "effective_limit"), 40);
  EXPECT_EQ(auditor.Get(Adaptive("keys")).body, "[]");
  const uint64_t after_mode = HeadSequence();

  // A3: the limit query (422 before anything else), previous mode, If-Match.
  const std::string limit = Adaptive("keys/" + key.id + "/limit");
  EXPECT_EQ(auditor.Patch(limit + "?limit=60", "").status, 403);
  for (const char* q : {"", "?limit=0", "?limit=10001", "?limit=abc", "?limit=1.5"}) {
    TestResponse r = admin.Patch(limit + q, "");
    EXPECT_EQ(r.status, 422) << q << r.body;
    EXPECT_EQ(ToJson(Items(Json(r.body)["detail"]).at(0)["loc"]), R"(["query","limit"])") << q;
  }
  EXPECT_EQ(Str(Items(Json(admin.Patch(limit, "").body)["detail"]).at(0), "type"), "missing");
  EXPECT_EQ(admin.Patch(Adaptive("keys/ghost/limit?limit=5"), "").body, NotFoundBody("ghost"));
  EXPECT_EQ(admin.Patch(limit + "?limit=60", "", {{"If-Match", "\"1\""}}).status, 412);
  TestResponse set = admin.Patch(limit + "?limit=60", "", {{"X-Request-Id", "req-a3"}});
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.body, R"({"message":"已设置为固定限制模式，RPM 限制为 60","key_id":")" + key.id +
                          R"(","is_adaptive":false,"rpm_limit":60,"previous_mode":"fixed"})");

  // A4, now and as of before A3.
  TestResponse stats = auditor.Get(Adaptive("keys/" + key.id + "/stats"));
  ASSERT_EQ(stats.status, 200);
  EXPECT_EQ(stats.body,
            R"({"adaptive_mode":false,"rpm_limit":60,"effective_limit":60,"learned_limit":null,)"
            R"("concurrent_429_count":0,"rpm_429_count":0,"last_429_at":null,"last_429_type":null,)"
            R"("adjustment_count":0,"recent_adjustments":[]})");
  EXPECT_EQ(Int(Json(auditor
                         .Get(Adaptive("keys/" + key.id +
                                       "/stats?as_of_seq=" + std::to_string(after_mode)))
                         .body)
                    .root(),
                "rpm_limit"),
            40);
  EXPECT_EQ(auditor.Get(Adaptive("keys/ghost/stats")).body, NotFoundBody("ghost"));

  // A5 and A6.
  const std::string learning = Adaptive("keys/" + key.id + "/learning");
  EXPECT_EQ(auditor.Delete(learning).status, 403);
  TestResponse reset = admin.Delete(learning, {{"X-Request-Id", "req-a5"}});
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_EQ(reset.body, R"({"message":"学习状态已重置","key_id":")" + key.id + R"("})");
  EXPECT_EQ(admin.Delete(Adaptive("keys/ghost/learning")).body, NotFoundBody("ghost"));
  ASSERT_EQ(admin.Patch(Adaptive("keys/" + fixed.id + "/mode"), R"({"enabled":true})").status, 200);
  EXPECT_EQ(auditor.Get(Adaptive("summary")).body,
            R"({"total_adaptive_keys":1,"total_concurrent_429_errors":0,"total_rpm_429_errors":0,)"
            R"("total_adjustments":0,"recent_adjustments":[]})");

  // The events: history (with what changed), the feed, SSE and keyledger-audit.
  Json history(admin.Get(KeyPath(key.id) + "/history").body);
  std::vector<std::string> types;
  for (auto e : Items(history["events"])) types.push_back(Str(e, "type").value_or(""));
  EXPECT_EQ(types,
            (Names{"KeyCreated", "KeyAdaptiveModeChanged", "KeyRpmLimitSet", "KeyLearningReset"}));
  auto changed = Items(history["events"]).at(1);
  EXPECT_EQ(Str(changed, "actor"), "admin");
  EXPECT_EQ(Str(changed, "client_ip"), "127.0.0.1");
  EXPECT_EQ(Str(changed, "request_id"), "req-a2");
  EXPECT_EQ(ToJson(changed["changes"]), R"([{"field":"rpm_limit","before":null,"after":40}])");
  Json feed(auditor.Get("/api/admin/audit/events?type=KeyRpmLimitSet").body);
  ASSERT_EQ(Items(feed["events"]).size(), 1u);
  EXPECT_EQ(Str(Items(feed["events"]).at(0), "request_id"), "req-a3");
  EXPECT_TRUE(stream.WaitFor("event: KeyLearningReset", std::chrono::seconds(30))) << stream.body();
  EXPECT_NE(stream.body().find("event: KeyAdaptiveModeChanged"), std::string::npos);
  EXPECT_NE(stream.body().find("event: KeyRpmLimitSet"), std::string::npos);
  ProcessResult log = RunProcess(
      {AuditToolPath(), "log", "--data-dir", data_dir_, "--key", key.id, "--format", "jsonl"},
      scratch_dir_);
  EXPECT_EQ(log.exit_code, 0) << log.err;
  EXPECT_NE(log.out.find("KeyLearningReset"), std::string::npos) << log.out;
  EXPECT_NE(log.out.find("req-a5"), std::string::npos) << log.out;

  // Rebuild and restart reproduce the state: digests equal, the key still fixed at 60.
  const std::string digest =
      Str(Json(admin.Get("/api/admin/audit/digest").body).root(), "digest").value_or("");
  ProcessResult rebuild =
      RunProcess({KEYLEDGER_REBUILD_BIN, "--data-dir", data_dir_, "--compare-url", daemon_->url(),
                  "--token", admin_token_, "--format", "json"},
                 scratch_dir_);
  EXPECT_EQ(rebuild.exit_code, 0) << rebuild.out << rebuild.err;
  EXPECT_EQ(Bool(Json(rebuild.out)["live"], "match"), true) << rebuild.out;
  RestartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client again = Admin();
  EXPECT_EQ(Str(Json(again.Get("/api/admin/audit/digest").body).root(), "digest"), digest);
  EXPECT_EQ(Int(Json(again.Get(Adaptive("keys/" + key.id + "/stats")).body).root(), "rpm_limit"),
            60);
}

// Health telemetry (README "Log growth"): reports overwrite one telemetry entry per key; only a
// breaker transition appends an event. Reads after the 200 show the new health, the key's ETag
// does not move, a restart keeps the health, and the digest still equals a rebuild from the log.
TEST_F(HealthRoutesTest, ReportsAreTelemetryAndOnlyBreakerTransitionsAreEvents) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "health-telemetry");
  const auto key = CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("t"), "t");
  const std::string etag = admin.Put(KeyPath(key.id), R"({"note":"before"})").Header("ETag");
  ASSERT_FALSE(etag.empty());
  const uint64_t head = HeadSequence();
  auto report = [&](int successes, int failures) {
    TestResponse r = admin.Post(
        std::string(kEndpointsBase) + "/keys/health-reports",
        R"({"reports":[{"key_id":")" + key.id + R"(","api_format":"CLAUDE","successes":)" +
            std::to_string(successes) + R"(,"failures":)" + std::to_string(failures) +
            R"(,"total_response_time_ms":100,"at":)" + std::to_string(NowSeconds()) + "}]}");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(R"("accepted":1,"rejected":0)"), std::string::npos) << r.body;
  };
  constexpr int kReports = 50;
  for (int i = 0; i < kReports; ++i) report(2, 0);
  EXPECT_EQ(HeadSequence(), head);  // no transition, no event
  Json h1(admin.Get(Health("key/" + key.id)).body);
  EXPECT_EQ(Int(h1["key_statistics"], "request_count"), 2 * kReports);

  report(0, 40);  // closed -> open: one event
  EXPECT_EQ(HeadSequence(), head + 1);
  report(0, 5);  // still open, not probing yet: telemetry only
  EXPECT_EQ(HeadSequence(), head + 1);
  const std::string health = admin.Get(Health("key/" + key.id + "?api_format=CLAUDE")).body;
  Json open(health);
  EXPECT_EQ(Bool(open.root(), "circuit_breaker_open"), true);
  EXPECT_EQ(Int(Json(admin.Get(Health("key/" + key.id)).body)["key_statistics"], "request_count"),
            2 * kReports + 45);
  // The key's ETag did not move: an If-Match taken before the reports still matches.
  EXPECT_EQ(admin.Put(KeyPath(key.id), R"({"note":"mine"})", {{"If-Match", etag}}).status, 200);

  ProcessResult rebuild =
      RunProcess({KEYLEDGER_REBUILD_BIN, "--data-dir", data_dir_, "--compare-url", daemon_->url(),
                  "--token", admin_token_, "--format", "json"},
                 scratch_dir_);
  EXPECT_EQ(rebuild.exit_code, 0) << rebuild.out << rebuild.err;
  RestartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client again = Admin();
  Json after(again.Get(Health("key/" + key.id)).body);
  EXPECT_EQ(Int(after["key_statistics"], "request_count"), 2 * kReports + 45);
  EXPECT_EQ(Bool(after.root(), "any_circuit_open"), true);
}

}  // namespace
}  // namespace keyledger::e2e
