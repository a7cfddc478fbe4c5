// Typed events (projections/event_payloads.hpp) and the registry of decoders and upcasters
// (projections/upcasters.hpp): every type round-trips through its encoder and decoder, the
// encoders write exactly the bytes the hand-written writers of earlier builds wrote, every known
// (type, version) has its decoder and every older version its upcaster, a newer version fails
// naming the event, and KeyRpmLimitSet version 1 and version 2 logs of one history fold to the
// same state.
#include <gtest/gtest.h>

#include "events/keyring_event.hpp"
#include "events/memory_event_log.hpp"
#include "projections/audit.hpp"
#include "projections/codec.hpp"
#include "projections/event_payloads.hpp"
#include "projections/fold.hpp"
#include "projections/health_views.hpp"
#include "projections/snapshot.hpp"
#include "projections/upcasters.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::projections {
namespace {

using events::EventType;

StoredSecret Sealed(const std::string& dek) {
  StoredSecret s;
  s.sealed.dek_id = dek;
  s.sealed.nonce = std::string(12, '\x01');
  s.sealed.ciphertext = std::string(40, '\x02');
  s.version = 1;
  s.mask = "sk-ant-a***wxyz";
  s.fingerprint = "f00d";
  return s;
}

// One representative of every type, in its newest shape (fields that are never defaults).
std::vector<Event> Samples() {
  ProviderState p;
  p.id = "p1";
  p.name = "anthropic";
  p.description = "d";
  p.config = RawJson{R"({"api_key":"sk-a***wxyz","region":"us"})"};
  p.config_secrets = {{"/api_key", Sealed("dek-c")}};
  p.proxy = Proxy{"http://proxy", std::string("u"), Sealed("dek-proxy"), true};
  ProviderState pv;  // an update's values: only the fields it names differ from the defaults
  pv.description = "new";
  pv.config = p.config;
  pv.config_secrets = p.config_secrets;
  ProviderUpdated pu{"p1", {{"description", "config", "config_secrets"}, pv}};
  EndpointState e;
  e.id = "e1";
  e.provider_id = "p1";
  e.api_format = "CLAUDE";
  e.base_url = "https://x";
  e.headers = OrderedMap<std::string>{{"x-api-key", "sk-a***wxyz"}, {"x-trace", "t"}};
  e.header_secrets = {{"x-api-key", Sealed("dek-h")}};
  EndpointState ev;
  ev.headers = e.headers;
  ev.header_secrets = e.header_secrets;
  ev.timeout = 120;
  EndpointUpdated eu{"e1", {{"headers", "header_secrets", "timeout"}, ev}};
  KeyState k;
  k.id = "k1";
  k.provider_id = "p1";
  k.api_formats = {"CLAUDE", "OPENAI"};
  k.secret = Sealed("dek-k1");
  k.name = "main";
  k.rate_multipliers = OrderedMap<double>{{"CLAUDE", 1.5}};
  k.allowed_models = StringList{"claude-sonnet-4"};
  KeyState kv;
  kv.name = "renamed";
  kv.secret = Sealed("dek-k2");
  kv.rpm_limit = 70;
  KeyUpdated ku{"k1", {{"name", "secret", "rpm_limit"}, kv}, std::string("dek-old")};
  FormatHealth h;
  h.health_score = 0.25;
  h.consecutive_failures = 3;
  h.last_failure_at = 1700000000000000;
  h.window = {{1700000000000000, false}, {1700000000000001, true}};
  FormatBreaker b;
  b.open = true;
  b.open_at = 1700000000000000;
  b.recovery_seconds = 60;
  return {
      ProviderCreated{p},
      pu,
      ProviderDeleted{"p1", 2, 1},
      ProviderCredentialsRevealed{"p1", {"/config/api_key"}, {"dek-c"}},
      EndpointCreated{e},
      eu,
      EndpointDeleted{"e1", "p1", "provider_deleted"},
      EndpointCredentialsRevealed{"e1", "p1", {"/headers/x-api-key"}, {"dek-h"}},
      KeyCreated{k},
      ku,
      KeyDeleted{"k1", "p1", "dek-k1", "request"},
      KeyRevealed{"k1", "dek-k1", 3},
      KeyHealthReported{"k1", "CLAUDE", 2, 1, 360, std::string("HTTP 529"), 1700000000000002, h, b},
      KeyHealthReset{"k1", std::nullopt, {"CLAUDE", "OPENAI"}},
      KeyAdaptiveModeChanged{"k1", false, 40, 25, std::nullopt},
      KeyRpmLimitSet{"k1", std::string("p1"), 60, 40},
      KeyLearningReset{"k1", 25},
      MasterKeyRotated{1, 2, 17},
      SystemConfigSet{"scheduling_mode", RawJson{R"("fixed_order")"}, std::nullopt},
  };
}

events::EventRecord RecordOf(const Event& e, uint64_t sequence = 1) {
  events::EventRecord r;
  r.sequence = sequence;
  r.type = TypeOf(e);
  r.schema_version = events::CurrentSchemaVersion(r.type);
  r.payload = EncodePayload(e);
  return r;
}

TEST(EventPayloadsTest, EveryTypeRoundTripsThroughItsEncoderAndDecoder) {
  const std::vector<Event> samples = Samples();
  // One sample per known type.
  ASSERT_EQ(samples.size(), events::AllEventTypes().size());
  EventDecoder decoder;
  for (size_t i = 0; i < samples.size(); ++i) {
    const Event& e = samples[i];
    SCOPED_TRACE(std::string(events::EventTypeName(TypeOf(e))));
    EXPECT_EQ(TypeOf(e), events::AllEventTypes()[i]);
    const events::EventRecord r = RecordOf(e);
    ASSERT_OK_AND_ASSIGN(Event back, decoder.Decode(r));
    EXPECT_TRUE(back == e);
    EXPECT_EQ(EncodePayload(back), r.payload);
  }
}

// The bytes earlier builds' hand-written writers produced (the hash chain covers them), for the
// types whose payload is not an entity object; entity payloads are the codec's field tables,
// checked byte for byte by the compatibility corpus (tests/compat).
TEST(EventPayloadsTest, EncodersWriteTheBytesEarlierBuildsWrote) {
  EXPECT_EQ(EncodePayload(ProviderDeleted{"p1", 2, 1}),
            R"({"provider_id":"p1","deleted_keys":2,"deleted_endpoints":1})");
  EXPECT_EQ(EncodePayload(ProviderCredentialsRevealed{"p1", {"/config/a", "/config/b"}, {"d"}}),
            R"({"provider_id":"p1","revealed":["/config/a","/config/b"],"dek_ids":["d"]})");
  EXPECT_EQ(EncodePayload(EndpointCredentialsRevealed{"e1", "p1", {}, {}}),
            R"({"endpoint_id":"e1","provider_id":"p1","revealed":[],"dek_ids":[]})");
  EXPECT_EQ(EncodePayload(EndpointDeleted{"e1", "p1", "request"}),
            R"({"endpoint_id":"e1","provider_id":"p1","cause":"request"})");
  EXPECT_EQ(
      EncodePayload(KeyDeleted{"k1", "p1", "d1", "provider_deleted"}),
      R"({"key_id":"k1","provider_id":"p1","shredded_dek_id":"d1","cause":"provider_deleted"})");
  EXPECT_EQ(EncodePayload(KeyRevealed{"k1", "d1", 2}),
            R"({"key_id":"k1","dek_id":"d1","secret_version":2})");
  EXPECT_EQ(EncodePayload(KeyHealthReset{"k1", std::string("CLAUDE"), {"CLAUDE"}}),
            R"({"key_id":"k1","api_format":"CLAUDE","formats":["CLAUDE"]})");
  EXPECT_EQ(EncodePayload(KeyAdaptiveModeChanged{"k1", false, 40, std::nullopt, std::nullopt}),
            R"({"key_id":"k1","adaptive":false,"rpm_limit":40,"learned_rpm_limit":null,)"
            R"("previous_rpm_limit":null})");
  EXPECT_EQ(EncodePayload(KeyLearningReset{"k1", std::nullopt}),
            R"({"key_id":"k1","previous_learned_rpm_limit":null})");
  EXPECT_EQ(EncodePayload(MasterKeyRotated{1, 2, 5}),
            R"({"from_kek_version":1,"to_kek_version":2,"rewrapped_deks":5})");
  EXPECT_EQ(EncodePayload(SystemConfigSet{"k", RawJson{R"("v")"}, std::string("d")}),
            R"({"key":"k","value":"v","description":"d"})");
  KeyUpdated ku;
  ku.key_id = "k1";
  ku.set.names = {"name"};
  ku.set.values.name = "n";
  EXPECT_EQ(EncodePayload(ku), R"({"key_id":"k1","set":{"name":"n"}})");
  ku.retired_dek_id = "d0";
  EXPECT_EQ(EncodePayload(ku), R"({"key_id":"k1","set":{"name":"n"},"retired_dek_id":"d0"})");
  // KeyRpmLimitSet version 2 (this build) names the provider; version 1 did not.
  EXPECT_EQ(EncodePayload(KeyRpmLimitSet{"k1", std::string("p1"), 60, std::nullopt}),
            R"({"key_id":"k1","provider_id":"p1","rpm_limit":60,"previous_rpm_limit":null})");
  const events::NewEvent made = MakeEvent(KeyRpmLimitSet{"k1", std::string("p1"), 60, 40});
  EXPECT_EQ(made.type, EventType::kKeyRpmLimitSet);
  EXPECT_EQ(made.schema_version, 2);
}

// MasterKeyRotated is written below this layer (events/secrets.cpp, through
// events::MakeMasterKeyRotatedEvent): the event it builds is the typed event the decoder reads,
// at the newest version, with the bytes the hand-written payload had.
TEST(EventPayloadsTest, MasterKeyRotatedWrittenByTheKeyringIsTheTypedEvent) {
  const MasterKeyRotated rotated{.from_kek_version = 3, .to_kek_version = 4, .rewrapped_deks = 9};
  const events::NewEvent made = events::MakeMasterKeyRotatedEvent(rotated);
  EXPECT_EQ(made.type, EventType::kMasterKeyRotated);
  EXPECT_EQ(made.schema_version, events::CurrentSchemaVersion(EventType::kMasterKeyRotated));
  EXPECT_EQ(made.payload, R"({"from_kek_version":3,"to_kek_version":4,"rewrapped_deks":9})");
  const events::NewEvent typed = MakeEvent(rotated);
  EXPECT_EQ(typed.type, made.type);
  EXPECT_EQ(typed.schema_version, made.schema_version);
  EXPECT_EQ(typed.payload, made.payload);
  EXPECT_NE(upcast::FindDecoder(EventType::kMasterKeyRotated, MasterKeyRotated::kSchemaVersion),
            nullptr);
  events::EventRecord r;
  r.sequence = 1;
  r.type = made.type;
  r.schema_version = made.schema_version;
  r.payload = made.payload;
  EventDecoder decoder;
  ASSERT_OK_AND_ASSIGN(Event back, decoder.Decode(r));
  ASSERT_TRUE(std::holds_alternative<MasterKeyRotated>(back));
  EXPECT_EQ(std::get<MasterKeyRotated>(back), rotated);
}

// The health views (H5/H6) read KeyHealthReported events through EventDecoder, as the fold
// does: a report this build reads is counted, one at a schema version it does not know fails the
// view with kUnsupported instead of being read as if it were version 1, and one missing a member
// the decoder requires is kCorruption.
TEST(EventPayloadsTest, HealthViewsDecodeHealthReportsThroughTheDecoder) {
  const int64_t t = 1700000000000000;
  KeyHealthReported report;
  report.key_id = "k1";
  report.api_format = "CLAUDE";
  report.successes = 3;
  report.failures = 1;
  report.at = t;
  auto log_with = [&](events::NewEvent e) {
    auto log = std::make_unique<events::MemoryEventLog>();
    e.time_us = t;
    EXPECT_OK(log->Append("key-k1", 0, {std::move(e)}));
    return log;
  };
  const State state;
  auto good = log_with(MakeEvent(report));
  EXPECT_OK(ApiFormatHealthJson(state, *good, 1, 10, t + 1'000'000).status());

  events::NewEvent newer = MakeEvent(report);
  newer.schema_version = KeyHealthReported::kSchemaVersion + 1;
  auto unsupported = log_with(newer);
  auto r = ApiFormatHealthJson(state, *unsupported, 1, 10, t + 1'000'000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported) << r.error().message;

  events::NewEvent partial = MakeEvent(report);
  partial.payload =
      R"({"key_id":"k1","api_format":"CLAUDE","successes":3,"failures":1,"total_response_time_ms":0,"at":)" +
      std::to_string(t) + "}";
  auto corrupt = log_with(partial);
  r = ApiFormatHealthJson(state, *corrupt, 1, 10, t + 1'000'000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCorruption) << r.error().message;
}

TEST(EventPayloadsTest, EveryKnownVersionHasADecoderAndEveryOlderOneAnUpcaster) {
  for (EventType type : events::AllEventTypes()) {
    SCOPED_TRACE(std::string(events::EventTypeName(type)));
    const uint16_t newest = events::CurrentSchemaVersion(type);
    for (uint16_t v = 1; v <= newest; ++v) {
      EXPECT_NE(upcast::FindDecoder(type, v), nullptr) << "version " << v;
      if (v < newest) {
        const upcast::Upcaster* up = upcast::FindUpcaster(type, v);
        ASSERT_NE(up, nullptr) << "version " << v;
        EXPECT_FALSE(up->reason.empty());
      }
    }
    EXPECT_EQ(upcast::FindDecoder(type, static_cast<uint16_t>(newest + 1)), nullptr);
    EXPECT_EQ(upcast::FindUpcaster(type, newest), nullptr);
  }
  // Nothing registered for a type or version this build does not know.
  for (const upcast::Decoder& d : upcast::Decoders()) {
    EXPECT_TRUE(events::IsKnownEventType(static_cast<uint16_t>(d.type)));
    EXPECT_LE(d.version, events::CurrentSchemaVersion(d.type));
  }
  for (const upcast::Upcaster& u : upcast::Upcasters()) {
    EXPECT_LT(u.from_version, events::CurrentSchemaVersion(u.type));
  }
}

TEST(EventPayloadsTest, ANewerVersionFailsNamingTheEventTypeAndVersion) {
  EventDecoder decoder;
  events::EventRecord r = RecordOf(KeyRpmLimitSet{"k1", std::string("p1"), 60, 40}, 12);
  r.schema_version = 3;
  auto decoded = decoder.Decode(r);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(decoded.error().message,
            "event 12 (KeyRpmLimitSet) has schema version 3, unknown to this build (it reads "
            "KeyRpmLimitSet up to version 2)");
  EXPECT_EQ(CheckReadable(r).error().message, decoded.error().message);
  r.schema_version = 0;
  EXPECT_EQ(decoder.Decode(r).error().code, ErrorCode::kUnsupported);
  r.type = static_cast<EventType>(999);
  r.schema_version = 1;
  EXPECT_EQ(decoder.Decode(r).error().message, "event type 999 is unknown to this build");

  // The audit read models fail the same way: key history (the fold) and the provider filter.
  events::MemoryEventLog log;
  ASSERT_OK(log.Append("provider-p1", 0, {MakeEvent(ProviderCreated{[] {
                         ProviderState p;
                         p.id = "p1";
                         p.name = "n";
                         return p;
                       }()})}));
  KeyState k;
  k.id = "k1";
  k.provider_id = "p1";
  k.secret = Sealed("dek-k1");
  ASSERT_OK(log.Append("key-k1", 0, {MakeEvent(KeyCreated{k})}));
  events::NewEvent future = MakeEvent(KeyLearningReset{"k1", std::nullopt});
  future.schema_version = 7;
  ASSERT_OK(log.Append("key-k1", 1, {future}));
  const std::string expected =
      "event 3 (KeyLearningReset) has schema version 7, unknown to this build (it reads "
      "KeyLearningReset up to version 1)";
  auto history = BuildKeyHistory(log, "k1");
  ASSERT_FALSE(history.ok());
  EXPECT_EQ(history.error().message, expected);
  EventFilter filter;
  filter.provider_id = "p1";
  auto page = QueryEvents(log, filter, 100, 0);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(page.error().message, expected);
  // The plain feed does not interpret payloads: it still lists the event as stored.
  ASSERT_OK_AND_ASSIGN(EventPage all, QueryEvents(log, EventFilter{}, 100, 0));
  EXPECT_EQ(all.events.size(), 3u);
}

// The evolution that proves the machinery: KeyRpmLimitSet version 2 adds the key's provider_id
// at the top level. A log written with version-1 events and one written with version-2 events
// of the same history fold to the same state and digest; only the payload bytes differ.
TEST(EventPayloadsTest, KeyRpmLimitSetVersionOneAndTwoLogsFoldToTheSameState) {
  auto write = [](events::EventLog& log, bool v2) {
    int64_t t = 1700000000000000;
    auto at = [&](events::NewEvent e) {
      e.time_us = ++t;
      return e;
    };
    ProviderState p;
    p.id = "p1";
    p.name = "anthropic";
    ASSERT_OK(log.Append("provider-p1", 0, {at(MakeEvent(ProviderCreated{p}))}));
    KeyState k;
    k.id = "k1";
    k.provider_id = "p1";
    k.api_formats = {"CLAUDE"};
    k.secret = Sealed("dek-k1");
    k.rpm_limit = 30;
    ASSERT_OK(log.Append("key-k1", 0, {at(MakeEvent(KeyCreated{k}))}));
    uint64_t version = 1;
    for (int64_t limit : {40, 55, 60}) {
      events::NewEvent e;
      if (v2) {
        e = MakeEvent(KeyRpmLimitSet{"k1", std::string("p1"), limit, std::nullopt});
      } else {
        // What builds before version 2 wrote.
        e.type = EventType::kKeyRpmLimitSet;
        e.schema_version = 1;
        e.payload = R"({"key_id":"k1","rpm_limit":)" + std::to_string(limit) +
                    R"(,"previous_rpm_limit":null})";
      }
      ASSERT_OK(log.Append("key-k1", static_cast<int64_t>(version++), {at(e)}));
    }
  };
  events::MemoryEventLog v1_log, v2_log;
  write(v1_log, false);
  write(v2_log, true);
  State v1_state, v2_state;
  ASSERT_OK(Replay(v1_log, v1_state, v1_log.GetHead().sequence));
  ASSERT_OK(Replay(v2_log, v2_state, v2_log.GetHead().sequence));
  EXPECT_EQ(v1_state.keys.Find("k1")->rpm_limit, 60);
  EXPECT_EQ(v1_state.keys.Find("k1")->version, 4u);
  EXPECT_EQ(*v1_state.keys.Find("k1"), *v2_state.keys.Find("k1"));
  EXPECT_EQ(StateDigestHex(v1_state), StateDigestHex(v2_state));

  // Read back, a version-1 event is the newest shape with no provider (upcast), a version-2 one
  // names it; the provider filter attributes both to p1.
  ASSERT_OK_AND_ASSIGN(auto v1_records, v1_log.ReadRange(3, 1));
  ASSERT_OK_AND_ASSIGN(auto v2_records, v2_log.ReadRange(3, 1));
  EventDecoder decoder;
  ASSERT_OK_AND_ASSIGN(Event up, decoder.Decode(v1_records[0]));
  ASSERT_OK_AND_ASSIGN(Event now, decoder.Decode(v2_records[0]));
  EXPECT_TRUE(up == Event(KeyRpmLimitSet{"k1", std::nullopt, 40, std::nullopt}));
  EXPECT_TRUE(now == Event(KeyRpmLimitSet{"k1", std::string("p1"), 40, std::nullopt}));
  EventFilter filter;
  filter.provider_id = "p1";
  filter.types = {EventType::kKeyRpmLimitSet};
  ASSERT_OK_AND_ASSIGN(EventPage from_v1, QueryEvents(v1_log, filter, 100, 0));
  ASSERT_OK_AND_ASSIGN(EventPage from_v2, QueryEvents(v2_log, filter, 100, 0));
  EXPECT_EQ(from_v1.events.size(), 3u);
  EXPECT_EQ(from_v2.events.size(), 3u);

  // A version-2 event naming another provider than the key's does not fold.
  events::EventRecord wrong = v2_records[0];
  wrong.payload = EncodePayload(KeyRpmLimitSet{"k1", std::string("p2"), 40, std::nullopt});
  State copy = v2_state.Fork();
  Folder folder;
  EXPECT_EQ(folder.Apply(copy, wrong).code(), ErrorCode::kCorruption);
  // And a version-2 payload without provider_id is corrupt (version 1's shape is not version 2).
  wrong.payload = R"({"key_id":"k1","rpm_limit":40,"previous_rpm_limit":null})";
  EXPECT_EQ(folder.Apply(copy, wrong).code(), ErrorCode::kCorruption);
}

}  // namespace
}  // namespace keyledger::projections
