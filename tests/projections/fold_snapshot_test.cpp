#include <gtest/gtest.h>

#include "events/memory_event_log.hpp"
#include "projections/codec.hpp"
#include "projections/fold.hpp"
#include "projections/snapshot.hpp"
#include "projections/views.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::projections {
namespace {

using events::EventType;
using events::NewEvent;

std::string ProviderPayload(const std::string& id, const std::string& name) {
  ProviderState p;
  p.id = id;
  p.name = name;
  json::Writer w;
  w.BeginObject().Key("provider");
  WriteProvider(w, p, FieldSet::kConfig);
  w.EndObject();
  return w.Take();
}

std::string KeyPayload(const KeyState& k) {
  json::Writer w;
  w.BeginObject().Key("key");
  WriteKey(w, k, FieldSet::kConfig);
  w.EndObject();
  return w.Take();
}

KeyState SampleKey(const std::string& id, const std::string& provider) {
  KeyState k;
  k.id = id;
  k.provider_id = provider;
  k.api_formats = {"CLAUDE", "OPENAI"};
  k.secret.sealed.dek_id = "dek-" + id;
  k.secret.sealed.nonce = std::string(12, '\x01');
  k.secret.sealed.ciphertext = std::string(40, '\x02');
  k.secret.version = 1;
  k.secret.mask = "sk-ant-a***wxyz";
  k.secret.fingerprint = "f00d";
  k.name = "main";
  k.rate_multipliers = OrderedMap<double>{{"CLAUDE", 1.5}, {"OPENAI", 0.8}};
  k.capabilities = OrderedMap<bool>{{"cache_1h", true}, {"context_1m", false}};
  k.allowed_models = OrderedMap<StringList>{{"CLAUDE", {"claude-sonnet-4"}}, {"*", {}}};
  return k;
}

NewEvent Ev(EventType t, std::string payload) {
  NewEvent e;
  e.type = t;
  e.payload = std::move(payload);
  return e;
}

// Appends a small but varied history to `log`.
void WriteHistory(events::EventLog& log, int keys) {
  ASSERT_OK(log.Append("provider-p1", 0,
                       {Ev(EventType::kProviderCreated, ProviderPayload("p1", "anthropic"))}));
  ASSERT_OK(log.Append("provider-p2", 0,
                       {Ev(EventType::kProviderCreated, ProviderPayload("p2", "openai"))}));
  for (int i = 0; i < keys; ++i) {
    std::string id = "k" + std::to_string(i);
    ASSERT_OK(
        log.Append("key-" + id, 0,
                   {Ev(EventType::kKeyCreated, KeyPayload(SampleKey(id, i % 2 ? "p1" : "p2")))}));
    if (i % 3 == 0) {
      ASSERT_OK(log.Append(
          "key-" + id, 1,
          {Ev(EventType::kKeyUpdated, "{\"key_id\":\"" + id + "\",\"set\":{\"internal_priority\":" +
                                          std::to_string(100 - i) + ",\"note\":\"n\"}}")}));
    }
    if (i % 5 == 0) {
      ASSERT_OK(log.Append(
          "key-" + id, events::kAnyVersion,
          {Ev(EventType::kKeyHealthReported,
              "{\"key_id\":\"" + id +
                  "\",\"api_format\":\"CLAUDE\",\"successes\":3,\"failures\":1,"
                  "\"total_response_time_ms\":1234,\"last_error\":null,\"at\":1768280000000000,"
                  "\"health\":{\"health_score\":0.0,\"consecutive_failures\":1,"
                  "\"last_failure_at\":1768280000000000,\"request_results_window\":[{\"ts\":"
                  "1768280000000000,\"ok\":false}]},\"breaker\":{\"open\":true,\"open_at\":1,"
                  "\"next_probe_at\":2,\"half_open_until\":null,\"half_open_successes\":0,"
                  "\"half_open_failures\":0,\"recovery_seconds\":30}}")}));
    }
  }
  ASSERT_OK(log.Append("key-k4", events::kAnyVersion,
                       {Ev(EventType::kKeyDeleted,
                           R"({"key_id":"k4","provider_id":"p2","shredded_dek_id":"dek-k4"})")}));
}

TEST(FoldTest, BuildsProvidersKeysAndIndexes) {
  events::MemoryEventLog log;
  WriteHistory(log, 10);
  State s;
  ASSERT_OK(Replay(log, s, log.GetHead().sequence));
  EXPECT_EQ(s.sequence, log.GetHead().sequence);
  EXPECT_EQ(s.providers.size(), 2u);
  EXPECT_EQ(s.keys.size(), 9u);
  EXPECT_EQ(s.keys.Find("k4"), nullptr);
  const ProviderState* p2 = s.providers.Find("p2");
  ASSERT_NE(p2, nullptr);
  EXPECT_EQ(p2->key_ids.ToVector(), (StringList{"k0", "k2", "k6", "k8"}));
  const KeyState* k0 = s.keys.Find("k0");
  ASSERT_NE(k0, nullptr);
  EXPECT_EQ(k0->version, 2u);         // created + one update
  EXPECT_EQ(k0->stream_version, 3u);  // + a health report
  EXPECT_EQ(k0->internal_priority, 100);
  EXPECT_EQ(k0->note, std::optional<std::string>("n"));
  EXPECT_EQ(k0->request_count, 4);
  EXPECT_EQ(k0->success_count, 3);
  EXPECT_EQ(k0->total_response_time_ms, 1234);
  ASSERT_NE(FindIn(k0->health_by_format, "CLAUDE"), nullptr);
  EXPECT_EQ(FindIn(k0->health_by_format, "CLAUDE")->health_score, 0.0);
  EXPECT_EQ(s.provider_names.Find("anthropic") ? *s.provider_names.Find("anthropic") : "", "p1");
  // Health 0.0 stays 0.0 in the aggregate (Aether would show 1.0).
  EXPECT_EQ(SummarizeHealth(*k0).health_score, 0.0);
  EXPECT_TRUE(SummarizeHealth(*k0).circuit_breaker_open);
}

TEST(FoldTest, UnknownSchemaVersionAndGarbageAreErrorsNotCrashes) {
  Folder folder;
  State s;
  events::EventRecord r;
  r.sequence = 1;
  r.type = EventType::kProviderCreated;
  r.schema_version = 3;  // 2 is ProviderCreated's sealed-credentials layout (events/FORMAT.md)
  r.payload = ProviderPayload("p", "n");
  EXPECT_EQ(folder.Apply(s, r).code(), ErrorCode::kUnsupported);
  r.schema_version = 0;
  EXPECT_EQ(folder.Apply(s, r).code(), ErrorCode::kUnsupported);
  r.schema_version = 1;
  for (std::string bad : {"{", "[]", "{}", R"({"provider":{"nope":1}})", R"({"provider":{"id":5}})",
                          R"({"key_id":"missing","set":{}})"}) {
    r.payload = bad;
    State fresh;
    EXPECT_FALSE(folder.Apply(fresh, r).ok()) << bad;
  }
  r.type = EventType::kKeyUpdated;
  r.payload = R"({"key_id":"missing","set":{}})";
  EXPECT_EQ(folder.Apply(s, r).code(), ErrorCode::kCorruption);
}

TEST(SnapshotTest, SerializeDeserializeIsExactAndDigestsAgree) {
  events::MemoryEventLog log;
  WriteHistory(log, 30);
  State live;
  ASSERT_OK(Replay(log, live, log.GetHead().sequence));
  const std::string text = SerializeState(live);
  ASSERT_OK_AND_ASSIGN(State back, DeserializeState(text));
  EXPECT_EQ(SerializeState(back), text);
  EXPECT_EQ(StateDigestHex(back), StateDigestHex(live));
  EXPECT_EQ(FirstDifference(back, live), "");
  // Views agree too.
  EXPECT_EQ(GroupedByFormatJson(back), GroupedByFormatJson(live));
  EXPECT_EQ(KeyListJson(back, "p1", 0, 100), KeyListJson(live, "p1", 0, 100));
}

TEST(SnapshotTest, SnapshotPlusTailEqualsFullReplayAndCorruptSnapshotsAreSkipped) {
  events::MemoryEventLog log;
  std::vector<std::string> warnings;
  SnapshotStore store(&log, log, [&](LogLevel, std::string_view m) { warnings.emplace_back(m); });
  WriteHistory(log, 20);
  State at_snapshot;
  ASSERT_OK(Replay(log, at_snapshot, log.GetHead().sequence));
  ASSERT_OK(store.Write(at_snapshot));
  const uint64_t snap_seq = at_snapshot.sequence;
  // More history after the snapshot.
  ASSERT_OK(log.Append("provider-p3", 0,
                       {Ev(EventType::kProviderCreated, ProviderPayload("p3", "gemini"))}));
  ASSERT_OK(log.Append("key-z", 0, {Ev(EventType::kKeyCreated, KeyPayload(SampleKey("z", "p3")))}));

  State full;
  ASSERT_OK(Replay(log, full, log.GetHead().sequence));
  ASSERT_OK_AND_ASSIGN(auto loaded, store.LoadNewest());
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->sequence, snap_seq);
  State from_snapshot = std::move(*loaded);
  ASSERT_OK(Replay(log, from_snapshot, log.GetHead().sequence));
  EXPECT_EQ(StateDigestHex(from_snapshot), StateDigestHex(full));

  // Point in time: the state as of the snapshot's sequence and as of sequence 3.
  ASSERT_OK_AND_ASSIGN(State then, StateAsOf(log, &store, snap_seq));
  EXPECT_EQ(StateDigestHex(then), StateDigestHex(at_snapshot));
  ASSERT_OK_AND_ASSIGN(State early, StateAsOf(log, &store, 3));
  EXPECT_EQ(early.sequence, 3u);
  EXPECT_EQ(early.keys.size(), 1u);

  // Corrupt the snapshot body: it is ignored with a warning.
  ASSERT_OK_AND_ASSIGN(auto infos, store.List());
  ASSERT_EQ(infos.size(), 1u);
  events::AppendRequest tamper;
  std::string key = "s/";
  events::PutBigEndian64(key, snap_seq);
  tamper.aux.push_back({events::AuxSpace::kSnapshots, key + "/c/" + std::string(4, '\0'),
                        std::string("{\"garbage\":true}")});
  ASSERT_OK(log.Append(tamper));
  ASSERT_OK_AND_ASSIGN(auto none, store.LoadNewest());
  EXPECT_FALSE(none.has_value());
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings.back().find("ignoring snapshot"), std::string::npos);
}

TEST(SnapshotTest, SnapshotStoreKeepsOnlyTheNewest) {
  events::MemoryEventLog log;
  SnapshotStore store(&log, log, nullptr);
  for (int i = 0; i < 7; ++i) {
    ASSERT_OK(log.Append("provider-p" + std::to_string(i), 0,
                         {Ev(EventType::kProviderCreated,
                             ProviderPayload("p" + std::to_string(i), "n" + std::to_string(i)))}));
    State s;
    ASSERT_OK(Replay(log, s, log.GetHead().sequence));
    ASSERT_OK(store.Write(s));
  }
  ASSERT_OK_AND_ASSIGN(auto infos, store.List());
  ASSERT_EQ(infos.size(), kSnapshotsKept);
  EXPECT_EQ(infos.back().sequence, 7u);
  ASSERT_OK(store.DeleteAll());
  ASSERT_OK_AND_ASSIGN(auto none, store.List());
  EXPECT_TRUE(none.empty());
}

TEST(SnapshotTest, SequenceAtTimeFindsTheLastEventAtOrBefore) {
  events::MemoryEventLog log;
  for (int64_t t : {1000, 2000, 2000, 5000}) {
    NewEvent e = Ev(EventType::kProviderCreated, ProviderPayload("p" + std::to_string(t), "x"));
    e.time_us = t;
    ASSERT_OK(log.Append("provider-x" + std::to_string(log.GetHead().sequence), 0, {e}));
  }
  EXPECT_EQ(SequenceAtTime(log, 999).value(), 0u);
  EXPECT_EQ(SequenceAtTime(log, 1000).value(), 1u);
  EXPECT_EQ(SequenceAtTime(log, 2500).value(), 3u);
  EXPECT_EQ(SequenceAtTime(log, 9999).value(), 4u);
}

TEST(ViewsTest, RoundTo2MatchesPythonRound) {
  EXPECT_EQ(RoundTo2(1234.0 / 3.0), 411.33);
  EXPECT_EQ(RoundTo2(2.675), 2.67);  // 2.675 is 2.67499999... in binary, as in Python
  EXPECT_EQ(RoundTo2(0.125), 0.12);  // exact tie rounds to even
  EXPECT_EQ(RoundTo2(0.375), 0.38);
  EXPECT_EQ(RoundTo2(100.0), 100.0);
}

}  // namespace
}  // namespace keyledger::projections
