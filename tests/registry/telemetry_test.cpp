// Health telemetry (README "Log growth"; projections/telemetry.hpp): reports update a key's
// health through the telemetry aux space, and append an event only when a breaker changes phase.
#include <gtest/gtest.h>

#include "projections/domain.hpp"
#include "projections/fold.hpp"
#include "projections/snapshot.hpp"
#include "projections/telemetry.hpp"
#include "tests/registry/registry_harness.hpp"
#include "tools/bench/workload.hpp"

namespace keyledger::registry {
namespace {

using testing::Harness;

constexpr int64_t kAt = 1'768'280'000'000'000;

HealthReportItem Item(const std::string& key, int64_t successes, int64_t failures, int64_t at,
                      const std::string& format = "CLAUDE") {
  return HealthReportItem{key, format, successes, failures, 10 * (successes + failures),
                          {},  at,     {}};
}

std::optional<std::string> TelemetryEntry(events::EventLog& log, const std::string& key) {
  auto v = log.GetAux(events::AuxSpace::kTelemetry, key);
  EXPECT_TRUE(v.ok());
  return v.ok() ? *v : std::nullopt;
}

// The state as the log alone folds it, plus the telemetry space: what recovery builds.
projections::State Rebuilt(events::EventLog& log) {
  projections::State s;
  EXPECT_OK(projections::Replay(log, s, log.GetHead().sequence));
  EXPECT_OK(projections::OverlayTelemetry(log, s));
  return s;
}

TEST(TelemetryTest, ReportsUpdateHealthWithoutEventsOrNewETag) {
  Harness h;
  const std::string pid = h.CreateProvider("telemetry");
  const std::string key = h.CreateKey(pid, "sk-telemetry-0123456789-abcdef", {"CLAUDE"});
  const uint64_t head = h.log().GetHead().sequence;
  const projections::KeyState before = *h.registry().Current()->keys.Find(key);

  for (int i = 0; i < 20; ++i) {
    ASSERT_OK_AND_ASSIGN(auto r, h.Run(MakeReportHealth({Item(key, 3, 0, kAt + i * 1'000'000)})));
    EXPECT_NE(r.body.find("\"accepted\":1,\"rejected\":0"), std::string::npos) << r.body;
    EXPECT_EQ(r.sequence, 0u);  // no event
  }
  EXPECT_EQ(h.log().GetHead().sequence, head);
  const projections::KeyState after = *h.registry().Current()->keys.Find(key);
  EXPECT_EQ(after.request_count, 60);
  EXPECT_EQ(after.success_count, 60);
  EXPECT_EQ(after.last_used_at, kAt + 19 * 1'000'000);
  EXPECT_EQ(projections::FindIn(after.health_by_format, "CLAUDE")->window.size(),
            static_cast<size_t>(domain::circuit::kWindowSize));
  // Telemetry is not configuration: the ETag (version), stream version and updated_at stay.
  EXPECT_EQ(after.version, before.version);
  EXPECT_EQ(after.stream_version, before.stream_version);
  EXPECT_EQ(after.updated_at, before.updated_at);
  ASSERT_TRUE(TelemetryEntry(h.log(), key).has_value());
  ASSERT_OK_AND_ASSIGN(auto decoded, projections::DecodeTelemetry(*TelemetryEntry(h.log(), key)));
  EXPECT_EQ(decoded, projections::TelemetryOf(after));

  // An If-Match taken before the reports still matches.
  KeyUpdateIntent up;
  up.key_id = key;
  up.fields = {"note"};
  up.values.note = "still mine";
  RequestContext ctx = Harness::Admin();
  ctx.if_match = before.version;
  EXPECT_OK(h.Run(MakeUpdateKey(up), ctx));
}

TEST(TelemetryTest, EachBreakerTransitionAppendsExactlyOneEvent) {
  Harness h;
  const std::string pid = h.CreateProvider("transitions");
  const std::string key = h.CreateKey(pid, "sk-transitions-0123456789-abcdef", {"CLAUDE"});
  const uint64_t head = h.log().GetHead().sequence;

  // Closed -> open.
  ASSERT_OK_AND_ASSIGN(auto opened, h.Run(MakeReportHealth({Item(key, 2, 8, kAt)})));
  EXPECT_EQ(h.log().GetHead().sequence, head + 1);
  EXPECT_EQ(opened.sequence, head + 1);
  ASSERT_OK_AND_ASSIGN(auto records, h.log().ReadRange(head + 1, 10));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].type, events::EventType::kKeyHealthReported);
  const auto* b = projections::FindIn(
      h.registry().Current()->keys.Find(key)->circuit_breaker_by_format, "CLAUDE");
  ASSERT_TRUE(b != nullptr && b->open);
  const int64_t probe_at = *b->next_probe_at;

  // Still open, no probing yet: telemetry only.
  ASSERT_OK(h.Run(MakeReportHealth({Item(key, 0, 3, kAt + 1'000'000)})));
  EXPECT_EQ(h.log().GetHead().sequence, head + 1);
  // Open -> half-open (a probe), then probes inside the half-open period: one event.
  ASSERT_OK(h.Run(MakeReportHealth({Item(key, 1, 0, probe_at)})));
  EXPECT_EQ(h.log().GetHead().sequence, head + 2);
  // Half-open -> closed (enough successful probes), two items of one batch: one event.
  ASSERT_OK(h.Run(
      MakeReportHealth({Item(key, 1, 0, probe_at + 1'000), Item(key, 1, 0, probe_at + 2'000)})));
  EXPECT_EQ(h.log().GetHead().sequence, head + 3);
  EXPECT_FALSE(projections::FindIn(
                   h.registry().Current()->keys.Find(key)->circuit_breaker_by_format, "CLAUDE")
                   ->open);
  // The log's fold gives the same breakers; the live state adds the telemetry.
  projections::State rebuilt = Rebuilt(h.log());
  EXPECT_EQ(*rebuilt.keys.Find(key), *h.registry().Current()->keys.Find(key));
  EXPECT_EQ(projections::StateDigestHex(rebuilt),
            projections::StateDigestHex(*h.registry().Current()));
}

TEST(TelemetryTest, DeletingAKeyOrItsProviderDeletesItsTelemetry) {
  Harness h;
  const std::string pid = h.CreateProvider("deletes");
  const std::string a = h.CreateKey(pid, "sk-delete-a-0123456789-abcdef", {"CLAUDE"}, "a");
  const std::string b = h.CreateKey(pid, "sk-delete-b-0123456789-abcdef", {"CLAUDE"}, "b");
  const std::string c = h.CreateKey(pid, "sk-delete-c-0123456789-abcdef", {"CLAUDE"}, "c");
  ASSERT_OK(h.Run(MakeReportHealth({Item(a, 1, 0, kAt), Item(b, 1, 0, kAt), Item(c, 1, 0, kAt)})));
  EXPECT_EQ(h.registry().Current()->health_from_log.size(), 3u);

  ASSERT_OK(h.Run(MakeDeleteKey(a)));
  EXPECT_FALSE(TelemetryEntry(h.log(), a).has_value());
  EXPECT_TRUE(TelemetryEntry(h.log(), b).has_value());
  // The table of the log's health is bounded by the keys: the deleted key left it.
  EXPECT_EQ(h.registry().Current()->health_from_log.size(), 2u);

  ASSERT_OK(h.Run(MakeDeleteProvider(pid)));
  EXPECT_FALSE(TelemetryEntry(h.log(), b).has_value());
  EXPECT_FALSE(TelemetryEntry(h.log(), c).has_value());
  EXPECT_EQ(h.registry().Current()->health_from_log.size(), 0u);
  EXPECT_EQ(h.registry().Current()->keys.size(), 0u);
}

TEST(TelemetryTest, TheTableOfTheLogsHealthHasAtMostOneEntryPerKey) {
  Harness h;
  const std::string pid = h.CreateProvider("bound");
  std::vector<std::string> keys;
  for (int i = 0; i < 8; ++i) {
    keys.push_back(h.CreateKey(pid, "sk-bound-" + std::to_string(i) + "-0123456789-abcdef",
                               {"CLAUDE", "OPENAI"}, "k" + std::to_string(i)));
  }
  for (int round = 0; round < 50; ++round) {
    std::vector<HealthReportItem> items;
    for (const auto& k : keys) {
      items.push_back(Item(k, round % 3, round % 2, kAt + round * 1'000'000, "CLAUDE"));
      items.push_back(Item(k, 1, 0, kAt + round * 1'000'000, "OPENAI"));
    }
    ASSERT_OK(h.Run(MakeReportHealth(std::move(items))));
    const auto s = h.registry().Current();
    ASSERT_LE(s->health_from_log.size(), s->keys.size());
  }
  size_t entries = 0;
  ASSERT_OK(
      h.log().ScanAux(events::AuxSpace::kTelemetry, "", [&](std::string_view, std::string_view) {
        ++entries;
        return true;
      }));
  EXPECT_EQ(entries, keys.size());
}

TEST(TelemetryTest, RestartRestoresTelemetryAndResetsSurviveIt) {
  Harness h(Harness::Store::kRocks);
  const std::string pid = h.CreateProvider("restart");
  const std::string key = h.CreateKey(pid, "sk-restart-0123456789-abcdef", {"CLAUDE", "OPENAI"});
  ASSERT_OK(h.Run(MakeReportHealth({Item(key, 2, 8, kAt), Item(key, 5, 0, kAt, "OPENAI")})));
  ASSERT_OK(h.Run(MakeReportHealth({Item(key, 4, 0, kAt + 1'000'000, "OPENAI")})));
  const projections::KeyState live = *h.registry().Current()->keys.Find(key);
  const std::string digest = projections::StateDigestHex(*h.registry().Current());
  EXPECT_EQ(live.request_count, 19);

  h.Reopen();  // the final snapshot + the telemetry space
  EXPECT_EQ(*h.registry().Current()->keys.Find(key), live);
  EXPECT_EQ(projections::StateDigestHex(*h.registry().Current()), digest);
  EXPECT_EQ(projections::StateDigestHex(Rebuilt(h.log())), digest);

  // A reset is an event and rewrites the telemetry entry: the restart does not bring the open
  // breaker back.
  ASSERT_OK(h.Run(MakeResetKeyHealth(key, std::string("CLAUDE"))));
  const projections::KeyState reset = *h.registry().Current()->keys.Find(key);
  EXPECT_FALSE(projections::FindIn(reset.circuit_breaker_by_format, "CLAUDE")->open);
  EXPECT_EQ(reset.request_count, 19);
  h.Reopen();
  EXPECT_EQ(*h.registry().Current()->keys.Find(key), reset);
  ASSERT_OK(h.Run(MakeRecoverAllKeys()));
  h.Reopen();
  EXPECT_EQ(*h.registry().Current()->keys.Find(key), reset);
}

TEST(TelemetryTest, DigestAndSnapshotsHoldTheLogsHealthOnly) {
  Harness h(Harness::Store::kRocks);
  const std::string pid = h.CreateProvider("digest");
  const std::string key = h.CreateKey(pid, "sk-digest-0123456789-abcdef", {"CLAUDE"});
  const std::string before = projections::StateDigestHex(*h.registry().Current());
  ASSERT_OK(h.Run(MakeReportHealth({Item(key, 7, 0, kAt)})));
  // No event, so the digest (a function of the log) did not move, while the key's health did.
  EXPECT_EQ(projections::StateDigestHex(*h.registry().Current()), before);
  EXPECT_EQ(h.registry().Current()->keys.Find(key)->request_count, 7);
  projections::State replayed;
  ASSERT_OK(projections::Replay(h.log(), replayed, h.log().GetHead().sequence));
  EXPECT_EQ(projections::StateDigestHex(replayed), before);
  EXPECT_EQ(replayed.keys.Find(key)->request_count, 0);  // as_of reads: transitions only
  ASSERT_OK(h.registry().WriteSnapshot());
  ASSERT_OK_AND_ASSIGN(auto snap, h.registry().snapshots().LoadNewest());
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ(snap->keys.Find(key)->request_count, 0);
}

TEST(TelemetryTest, OldLogsFullOfHealthEventsStillFoldAndTakeTelemetryOnTop) {
  Harness h(Harness::Store::kRocks);
  const std::string pid = h.CreateProvider("legacy");
  const std::string key = h.CreateKey(pid, "sk-legacy-0123456789-abcdef", {"CLAUDE"});
  std::vector<HealthReportItem> items;
  for (int i = 0; i < 30; ++i) items.push_back(Item(key, 2, 0, kAt + i));
  const uint64_t head = h.log().GetHead().sequence;
  ASSERT_OK(h.Run(bench::MakeLegacyHealthReports(std::move(items))));
  EXPECT_EQ(h.log().GetHead().sequence, head + 30);
  EXPECT_EQ(h.registry().Current()->keys.Find(key)->request_count, 60);
  ASSERT_OK(h.Run(MakeReportHealth({Item(key, 1, 0, kAt + 1'000'000)})));
  EXPECT_EQ(h.log().GetHead().sequence, head + 30);
  EXPECT_EQ(h.registry().Current()->keys.Find(key)->request_count, 61);
  const projections::KeyState live = *h.registry().Current()->keys.Find(key);
  h.Reopen();
  EXPECT_EQ(*h.registry().Current()->keys.Find(key), live);
}

// An api_formats change drops the health of the formats the key no longer serves (spec §14.15):
// from the telemetry entry too, and from the log's copy of the health (the event carries the
// pruned maps), so the digest still equals a replay and a restart does not bring them back.
TEST(TelemetryTest, DroppingAFormatDropsItsTelemetry) {
  Harness h(Harness::Store::kRocks);
  const std::string pid = h.CreateProvider("formats");
  const std::string key = h.CreateKey(pid, "sk-formats-0123456789-abcdef", {"CLAUDE", "OPENAI"});
  ASSERT_OK(h.Run(MakeReportHealth({Item(key, 2, 8, kAt), Item(key, 3, 0, kAt, "OPENAI")})));
  KeyUpdateIntent up;
  up.key_id = key;
  up.fields = {"api_formats"};
  up.values.api_formats = {"OPENAI"};
  ASSERT_OK(h.Run(MakeUpdateKey(up)));
  const projections::KeyState live = *h.registry().Current()->keys.Find(key);
  EXPECT_EQ(projections::FindIn(live.health_by_format, "CLAUDE"), nullptr);
  EXPECT_NE(projections::FindIn(live.health_by_format, "OPENAI"), nullptr);
  projections::State replayed;
  ASSERT_OK(projections::Replay(h.log(), replayed, h.log().GetHead().sequence));
  EXPECT_EQ(projections::StateDigestHex(replayed),
            projections::StateDigestHex(*h.registry().Current()));
  h.Reopen();
  EXPECT_EQ(*h.registry().Current()->keys.Find(key), live);
}

}  // namespace
}  // namespace keyledger::registry
