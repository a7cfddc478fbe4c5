// The adaptive-RPM events (KeyAdaptiveModeChanged 206, KeyRpmLimitSet 207, KeyLearningReset 208):
// what the fold makes of them, that snapshots and digests carry the result, that key history
// shows their changes, and the health/RPM/adaptive views over the folded state.
#include <gtest/gtest.h>

#include "events/memory_event_log.hpp"
#include "projections/audit.hpp"
#include "projections/codec.hpp"
#include "projections/fold.hpp"
#include "projections/health_views.hpp"
#include "projections/snapshot.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::projections {
namespace {

using events::EventType;
using events::NewEvent;

NewEvent Ev(EventType t, std::string payload) {
  NewEvent e;
  e.type = t;
  e.payload = std::move(payload);
  return e;
}

// Events at `time_us` (0: the log's clock).
void WriteProviderAndKey(events::EventLog& log, int64_t time_us = 0) {
  ProviderState p;
  p.id = "p1";
  p.name = "anthropic";
  json::Writer pw;
  pw.BeginObject().Key("provider");
  WriteProvider(pw, p, FieldSet::kConfig);
  pw.EndObject();
  NewEvent provider = Ev(EventType::kProviderCreated, pw.Take());
  provider.time_us = time_us;
  ASSERT_OK(log.Append("provider-p1", 0, {provider}));
  KeyState k;
  k.id = "k1";
  k.provider_id = "p1";
  k.api_formats = {"CLAUDE", "OPENAI"};
  k.secret.sealed.dek_id = "dek-k1";
  k.secret.sealed.nonce = std::string(12, '\x01');
  k.secret.sealed.ciphertext = std::string(40, '\x02');
  k.secret.version = 1;
  k.secret.mask = "sk-ant-a***wxyz";
  k.name = "main";
  k.rpm_limit = 30;
  json::Writer kw;
  kw.BeginObject().Key("key");
  WriteKey(kw, k, FieldSet::kConfig);
  kw.EndObject();
  NewEvent key = Ev(EventType::kKeyCreated, kw.Take());
  key.time_us = time_us;
  ASSERT_OK(log.Append("key-k1", 0, {key}));
}

TEST(AdaptiveFoldTest, ModeLimitAndLearningEventsFoldAndSurviveSnapshots) {
  events::MemoryEventLog log;
  WriteProviderAndKey(log);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  State s;
  ASSERT_OK(Replay(log, s, log.GetHead().sequence));
  EXPECT_EQ(s.keys.Find("k1")->rpm_limit, 30);

  // Adaptive: rpm_limit null; the learned limit is what the event says.
  ASSERT_OK(log.Append(
      "key-k1", 1,
      {Ev(EventType::kKeyAdaptiveModeChanged,
          R"({"key_id":"k1","adaptive":true,"rpm_limit":null,"learned_rpm_limit":null,"previous_rpm_limit":30})")}));
  ASSERT_OK(Replay(log, s, log.GetHead().sequence));
  const KeyState* k = s.keys.Find("k1");
  EXPECT_FALSE(k->rpm_limit.has_value());
  EXPECT_EQ(k->version, 2u);  // configuration: the ETag moves
  EXPECT_EQ(k->stream_version, 2u);
  EXPECT_EQ(k->updated_at, s.time_us);
  EXPECT_EQ(AdaptiveKeysJson(s, std::nullopt),
            R"([{"id":"k1","name":"main","provider_id":"p1","api_formats":["CLAUDE","OPENAI"],)"
            R"("is_adaptive":true,"rpm_limit":null,"effective_limit":50,"learned_rpm_limit":null,)"
            R"("concurrent_429_count":0,"rpm_429_count":0}])");
  EXPECT_EQ(AdaptiveKeysJson(s, std::string("other")), "[]");
  EXPECT_EQ(AdaptiveSummaryJson(s),
            R"({"total_adaptive_keys":1,"total_concurrent_429_errors":0,"total_rpm_429_errors":0,)"
            R"("total_adjustments":0,"recent_adjustments":[]})");

  // Fixed by A3.
  ASSERT_OK(log.Append("key-k1", 2,
                       {Ev(EventType::kKeyRpmLimitSet,
                           R"({"key_id":"k1","rpm_limit":77,"previous_rpm_limit":null})")}));
  // Learning reset: learner fields to defaults, rpm_limit and version untouched.
  ASSERT_OK(log.Append(
      "key-k1", 3,
      {Ev(EventType::kKeyLearningReset, R"({"key_id":"k1","previous_learned_rpm_limit":null})")}));
  ASSERT_OK(Replay(log, s, log.GetHead().sequence));
  k = s.keys.Find("k1");
  EXPECT_EQ(k->rpm_limit, 77);
  EXPECT_EQ(k->version, 3u);
  EXPECT_EQ(k->stream_version, 4u);
  ASSERT_TRUE(k->utilization_samples.has_value());
  EXPECT_EQ(k->utilization_samples->text, "[]");
  EXPECT_EQ(AdaptiveStatsJson(*k),
            R"({"adaptive_mode":false,"rpm_limit":77,"effective_limit":77,"learned_limit":null,)"
            R"("concurrent_429_count":0,"rpm_429_count":0,"last_429_at":null,"last_429_type":null,)"
            R"("adjustment_count":0,"recent_adjustments":[]})");
  EXPECT_EQ(KeyRpmJson(*k), R"({"key_id":"k1","current_rpm":0,"rpm_limit":77})");
  EXPECT_EQ(AdaptiveKeysJson(s, std::nullopt), "[]");

  // Snapshots carry it: serialize, deserialize, same digest; a full replay agrees.
  ASSERT_OK_AND_ASSIGN(State back, DeserializeState(SerializeState(s)));
  EXPECT_EQ(StateDigestHex(back), StateDigestHex(s));
  State again;
  ASSERT_OK(Replay(log, again, log.GetHead().sequence));
  EXPECT_EQ(StateDigestHex(again), StateDigestHex(s));

  // A missing key is corruption, not a crash.
  events::EventRecord r;
  r.sequence = 99;
  r.type = EventType::kKeyRpmLimitSet;
  r.payload = R"({"key_id":"ghost","rpm_limit":5,"previous_rpm_limit":null})";
  Folder folder;
  EXPECT_EQ(folder.Apply(s, r).code(), ErrorCode::kCorruption);
  r.type = EventType::kKeyAdaptiveModeChanged;
  r.payload = R"({"key_id":"k1","adaptive":true})";  // no rpm_limit member
  State copy = s.Fork();
  EXPECT_EQ(folder.Apply(copy, r).code(), ErrorCode::kCorruption);

  // History names what each event changed.
  ASSERT_OK_AND_ASSIGN(KeyHistory h, BuildKeyHistory(log, "k1"));
  ASSERT_EQ(h.entries.size(), 4u);
  ASSERT_EQ(h.entries[1].changes.size(), 1u);
  EXPECT_EQ(h.entries[1].changes[0].field, "rpm_limit");
  EXPECT_EQ(h.entries[1].changes[0].before, "30");
  EXPECT_EQ(h.entries[1].changes[0].after, "null");
  ASSERT_EQ(h.entries[2].changes.size(), 1u);
  EXPECT_EQ(h.entries[2].changes[0].after, "77");
  ASSERT_EQ(h.entries[3].changes.size(), 1u);
  EXPECT_EQ(h.entries[3].changes[0].field, "utilization_samples");
}

TEST(HealthViewsTest, KeyHealthPerFormatAndSummary) {
  KeyState k;
  k.id = "k1";
  k.api_formats = {"CLAUDE", "OPENAI"};
  k.request_count = 10;
  k.success_count = 8;
  k.error_count = 2;
  k.total_response_time_ms = 9876;
  const int64_t now = 1'768'280'000'000'000;
  FormatHealth h;
  h.health_score = 0.0;  // stays 0.0 (Aether would read 1.0)
  h.consecutive_failures = 2;
  h.last_failure_at = now - 1'000'000;
  h.window = {{now - 400'000'000, false},  // outside the 300 s window
              {now - 3'000'000, true},
              {now - 2'000'000, false},
              {now - 1'000'000, false}};
  k.health_by_format = {{"CLAUDE", h}, {"GEMINI", FormatHealth{}}};  // GEMINI: not served
  FormatBreaker b;
  b.open = true;
  b.open_at = now - 10'000'000;
  b.next_probe_at = now + 20'000'000;
  k.circuit_breaker_by_format = {{"CLAUDE", b}};
  EXPECT_EQ(
      KeyHealthJson(k, std::nullopt, now),
      R"({"key_id":"k1","key_is_active":true,"key_statistics":{"request_count":10,"success_count":8,)"
      R"("error_count":2,"success_rate":0.8,"avg_response_time_ms":1234.5},"key_health_score":0.0,)"
      R"("any_circuit_open":true,"health_by_format":{"CLAUDE":{"health_score":0.0,)"
      R"("error_rate":0.6666666666666666,"window_size":3,"consecutive_failures":2,)"
      R"("last_failure_at":"2026-01-13T04:53:19+00:00","circuit_breaker":{"state":"open",)"
      R"("open":true,"open_at":"2026-01-13T04:53:10+00:00","next_probe_at":"2026-01-13T04:53:40+00:00",)"
      R"("half_open_until":null,"half_open_successes":0,"half_open_failures":0}},)"
      R"("OPENAI":{"health_score":1.0,"error_rate":0.0,"window_size":0,"consecutive_failures":0,)"
      R"("last_failure_at":null,"circuit_breaker":{"state":"closed","open":false,"open_at":null,)"
      R"("next_probe_at":null,"half_open_until":null,"half_open_successes":0,"half_open_failures":0}}},)"
      R"("api_format":null,"key_consecutive_failures":null,"key_last_failure_at":null,)"
      R"("circuit_breaker_open":false,"circuit_breaker_open_at":null,"next_probe_at":null,)"
      R"("half_open_until":null,"half_open_successes":0,"half_open_failures":0})");
  EXPECT_EQ(
      KeyHealthJson(k, std::string("CLAUDE"), now),
      R"({"key_id":"k1","key_is_active":true,"key_statistics":{"request_count":10,"success_count":8,)"
      R"("error_count":2,"success_rate":0.8,"avg_response_time_ms":1234.5},"key_health_score":0.0,)"
      R"("any_circuit_open":false,"health_by_format":null,"api_format":"CLAUDE",)"
      R"("key_consecutive_failures":2,"key_last_failure_at":"2026-01-13T04:53:19+00:00",)"
      R"("circuit_breaker_open":true,"circuit_breaker_open_at":"2026-01-13T04:53:10+00:00",)"
      R"("next_probe_at":"2026-01-13T04:53:40+00:00","half_open_until":null,)"
      R"("half_open_successes":0,"half_open_failures":0})");
  // Breaker states: half-open once the probe time has come, or while half_open_until runs.
  EXPECT_EQ(BreakerStateName(b, now + 20'000'000), "half_open");
  FormatBreaker half = b;
  half.half_open_until = now + 1;
  EXPECT_EQ(BreakerStateName(half, now), "half_open");
  EXPECT_EQ(BreakerStateName(FormatBreaker{}, now), "closed");
  // No successes: the statistics' average is the integer 0.
  KeyState idle;
  idle.id = "k2";
  EXPECT_NE(KeyHealthJson(idle, std::nullopt, now).find(R"("avg_response_time_ms":0})"),
            std::string::npos);

  State s;
  auto kp = std::make_shared<KeyState>(k);
  s.keys.Set("k1", kp);
  auto k2 = std::make_shared<KeyState>(idle);
  k2->is_active = false;
  s.keys.Set("k2", k2);
  EXPECT_EQ(HealthSummaryJson(s),
            R"({"endpoints":{"total":0,"active":0,"unhealthy":0},)"
            R"("keys":{"total":2,"active":1,"unhealthy":1,"circuit_open":1}})");
}

// H5/H6 read the health reports of the lookback window from the log, per reported format.
TEST(HealthViewsTest, TimelinesComeFromTheReportsOfTheWindow) {
  const int64_t hour = int64_t{3600} * 1'000'000;
  const int64_t now = 1'768'280'000'000'000;
  events::MemoryEventLog log;
  WriteProviderAndKey(log, now - 4 * hour);  // k1 serves CLAUDE and OPENAI
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  EndpointState e;
  e.id = "e1";
  e.provider_id = "p1";
  e.api_format = "CLAUDE";
  e.base_url = "https://c.example";
  json::Writer ew;
  ew.BeginObject().Key("endpoint");
  WriteEndpoint(ew, e, FieldSet::kConfig);
  ew.EndObject();
  NewEvent created = Ev(EventType::kEndpointCreated, ew.Take());
  created.time_us = now - 3 * hour;
  ASSERT_OK(log.Append("endpoint-e1", 0, {created}));
  auto report = [&](const char* format, int successes, int failures, int64_t at) {
    NewEvent r = Ev(EventType::kKeyHealthReported,
                    std::string(R"({"key_id":"k1","api_format":")") + format + R"(","successes":)" +
                        std::to_string(successes) + R"(,"failures":)" + std::to_string(failures) +
                        R"(,"total_response_time_ms":)" + std::to_string(successes * 100) +
                        R"(,"last_error":null,"at":)" + std::to_string(at) +
                        R"(,"health":{"health_score":1.0,"consecutive_failures":0,)"
                        R"("last_failure_at":null,"request_results_window":[]},)"
                        R"("breaker":{"open":false,"open_at":null,"next_probe_at":null,)"
                        R"("half_open_until":null,"half_open_successes":0,)"
                        R"("half_open_failures":0,"recovery_seconds":0}})");
    r.time_us = at;
    return r;
  };
  ASSERT_OK(log.Append("key-k1", events::kAnyVersion,
                       {report("CLAUDE", 10, 0, now - 2 * hour),     // outside a 1 h window
                        report("CLAUDE", 19, 1, now - hour / 2),     // healthy (0.95)
                        report("OPENAI", 0, 5, now - hour / 2 + 1),  // another format
                        report("CLAUDE", 3, 1, now - hour / 4)}));   // warning (0.75)
  State s;
  ASSERT_OK(Replay(log, s, log.GetHead().sequence));

  ASSERT_OK_AND_ASSIGN(std::string status, HealthStatusJson(s, log, 1, now));
  // Segments of 36 s: the reports at -30 min and -15 min fall into segments 50 and 75.
  std::string timeline;
  for (int i = 0; i < kTimelineSegments; ++i) {
    if (!timeline.empty()) timeline += ",";
    timeline += i == 50 ? "\"healthy\"" : i == 75 ? "\"warning\"" : "\"unknown\"";
  }
  EXPECT_EQ(
      status,
      R"([{"api_format":"CLAUDE","display_name":"Claude API","health_score":0.9,"timeline":[)" +
          timeline +
          R"(],"time_range_start":"2026-01-13T04:23:20+00:00","time_range_end":"2026-01-13T04:38:20+00:00",)"
          R"("total_endpoints":1,"total_keys":1,"active_keys":1,"provider_count":1}])");

  ASSERT_OK_AND_ASSIGN(std::string formats, ApiFormatHealthJson(s, log, 1, 10, now));
  EXPECT_EQ(
      formats,
      R"({"generated_at":"2026-01-13T04:53:20Z","formats":[{"api_format":"CLAUDE","total_attempts":24,)"
      R"("success_count":22,"failed_count":2,"skipped_count":0,"success_rate":0.9166666666666666,)"
      R"("provider_count":1,"key_count":1,"last_event_at":"2026-01-13T04:38:20Z","events":[)"
      R"({"timestamp":"2026-01-13T04:23:20Z","status":"failed","status_code":null,"latency_ms":100,)"
      R"("error_type":null,"error_message":null},{"timestamp":"2026-01-13T04:38:20Z","status":"failed",)"
      R"("status_code":null,"latency_ms":100,"error_type":null,"error_message":null}],"timeline":[)" +
          timeline +
          R"(],"time_range_start":"2026-01-13T04:23:20Z","time_range_end":"2026-01-13T04:38:20Z"}]})");

  // Without endpoints there is nothing to report on.
  State empty;
  ASSERT_OK_AND_ASSIGN(std::string none, HealthStatusJson(empty, log, 1, now));
  EXPECT_EQ(none, "[]");
}

}  // namespace
}  // namespace keyledger::projections
