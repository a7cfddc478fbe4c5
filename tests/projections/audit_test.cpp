// projections/audit: event JSON and redaction, key history, event queries, checkpoints, digests,
// export lines, and atomic snapshot replacement.
#include "projections/audit.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "events/crypto.hpp"
#include "events/memory_event_log.hpp"
#include "events/time_format.hpp"
#include "projections/codec.hpp"
#include "projections/fold.hpp"
#include "projections/snapshot.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::projections {
namespace {

using events::EventRecord;
using events::EventType;
using events::NewEvent;

constexpr int64_t kT0 = 1'768'280'400'000'000;  // 2026-01-13T05:00:00Z

StoredSecret Secret(const std::string& dek, uint64_t version, const std::string& mask) {
  StoredSecret s;
  s.sealed.dek_id = dek;
  s.sealed.nonce = std::string(12, '\x07');
  s.sealed.ciphertext = std::string(51, '\x09');  // 35 bytes of secret + 16-byte tag
  s.version = version;
  s.mask = mask;
  s.fingerprint = std::string(64, 'f');
  return s;
}

std::string ProviderCreated(const std::string& id, const std::string& name) {
  ProviderState p;
  p.id = id;
  p.name = name;
  json::Writer w;
  w.BeginObject().Key("provider");
  WriteProvider(w, p, FieldSet::kConfig);
  w.EndObject();
  return w.Take();
}

KeyState Key(const std::string& id, const std::string& provider) {
  KeyState k;
  k.id = id;
  k.provider_id = provider;
  k.api_formats = {"CLAUDE"};
  k.secret = Secret("dek" + id, 1, "sk-ant-a***wxyz");
  k.name = "main";
  return k;
}

std::string KeyCreated(const KeyState& k) {
  json::Writer w;
  w.BeginObject().Key("key");
  WriteKey(w, k, FieldSet::kConfig);
  w.EndObject();
  return w.Take();
}

std::string KeyUpdated(const KeyState& next, std::vector<std::string_view> fields,
                       const std::string& retired = "") {
  json::Writer w;
  w.BeginObject().Member("key_id", next.id).Key("set");
  WriteKeyFields(w, next, fields);
  if (!retired.empty()) w.Member("retired_dek_id", retired);
  w.EndObject();
  return w.Take();
}

events::EventMetadata Meta(const std::string& actor, std::optional<std::string> reason = {}) {
  return events::EventMetadata{actor, "10.1.2.3", "req-" + actor, std::move(reason)};
}

NewEvent Ev(EventType type, std::string payload) {
  NewEvent e;
  e.type = type;
  e.payload = std::move(payload);
  return e;
}

class AuditTest : public ::testing::Test {
 protected:
  AuditTest() : log_(Options()) {}

  events::MemoryEventLog::Options Options() {
    events::MemoryEventLog::Options o;
    o.clock = [this] { return now_.fetch_add(1'000'000); };  // one second per event
    return o;
  }

  void Append(const std::string& stream, EventType type, std::string payload,
              events::EventMetadata meta = Meta("ops")) {
    ASSERT_OK(
        log_.Append(stream, events::kAnyVersion, {Ev(type, std::move(payload))}, std::move(meta)));
  }

  // p1 with k1 (created, renamed, re-secreted, revealed, health, reset, deleted) and p2 with k2.
  void WriteStory() {
    Append("provider-p1", EventType::kProviderCreated, ProviderCreated("p1", "anthropic"));
    Append("provider-p2", EventType::kProviderCreated, ProviderCreated("p2", "openai"));
    KeyState k1 = Key("k1", "p1");
    Append("key-k1", EventType::kKeyCreated, KeyCreated(k1), Meta("alice"));
    KeyState k2 = Key("k2", "p2");
    Append("key-k2", EventType::kKeyCreated, KeyCreated(k2), Meta("bob"));
    k1.name = "renamed";
    k1.note = "rotated monthly";
    Append("key-k1", EventType::kKeyUpdated, KeyUpdated(k1, {"name", "note", "is_active"}),
           Meta("alice"));
    KeyState rotated = k1;
    rotated.secret = Secret("dek2k1", 2, "sk-ant-b***zzzz");
    Append("key-k1", EventType::kKeyUpdated, KeyUpdated(rotated, {"secret"}, "dekk1"),
           Meta("alice", "yearly rotation"));
    Append("key-k1", EventType::kKeyRevealed,
           R"({"key_id":"k1","dek_id":"dek2k1","secret_version":2})", Meta("carol", "incident 42"));
    Append("key-k1", EventType::kKeyHealthReported,
           R"({"key_id":"k1","api_format":"CLAUDE","successes":1,"failures":2,)"
           R"("total_response_time_ms":900,"last_error":"timeout","at":1768280400000000,)"
           R"("health":{"health_score":0.6,"consecutive_failures":2,"last_failure_at":)"
           R"(1768280400000000,"request_results_window":[]},"breaker":{"open":false,)"
           R"("open_at":null,"next_probe_at":null,"half_open_until":null,)"
           R"("half_open_successes":0,"half_open_failures":0,"recovery_seconds":0}})",
           Meta("gateway"));
    Append("key-k1", EventType::kKeyHealthReset,
           R"({"key_id":"k1","api_format":null,"formats":["CLAUDE"]})");
    Append("key-k1", EventType::kKeyDeleted,
           R"({"key_id":"k1","provider_id":"p1","shredded_dek_id":"dek2k1","cause":"request"})",
           Meta("alice", "offboarding"));
    Append("key-k2", EventType::kKeyRevealed,
           R"({"key_id":"k2","dek_id":"dekk2","secret_version":1})", Meta("bob"));
  }

  std::atomic<int64_t> now_{kT0};
  events::MemoryEventLog log_;
};

// ---- redaction and event JSON ----

TEST_F(AuditTest, RedactPayloadReplacesEverySealedSecret) {
  KeyState k = Key("k1", "p1");
  const std::string payload = KeyCreated(k);
  const std::string ct = crypto::Base64Encode(k.secret.sealed.ciphertext);
  const std::string nonce = crypto::Base64Encode(k.secret.sealed.nonce);
  ASSERT_NE(payload.find(ct), std::string::npos);

  const std::string redacted = RedactPayload(payload);
  EXPECT_EQ(redacted.find(ct), std::string::npos);
  EXPECT_EQ(redacted.find(nonce), std::string::npos);
  EXPECT_EQ(redacted.find(k.secret.fingerprint), std::string::npos);
  EXPECT_EQ(redacted.find("\"ct\""), std::string::npos);
  EXPECT_NE(redacted.find(R"("secret":{"dek":"dekk1","ciphertext_bytes":51,"version":1,)"
                          R"("mask":"sk-ant-a***wxyz"})"),
            std::string::npos)
      << redacted;
  EXPECT_EQ(RedactPayload(redacted), redacted);  // idempotent

  // Nested anywhere (a proxy password), in arrays, and a bare sealed secret without extras.
  const std::string nested =
      R"({"set":{"proxy":{"url":"http://p","username":null,"password":{"cv":1,"dek":"d9",)"
      R"("n":"AAAAAAAAAAAAAAAA","ct":"AAAAAAAAAAAAAAAAAAAAAAAA","version":3,"mask":"***",)"
      R"("fingerprint":""},"enabled":true}},"list":[{"cv":1,"dek":"d8","n":"AA==","ct":"AAAA"}]})";
  EXPECT_EQ(RedactPayload(nested),
            R"({"set":{"proxy":{"url":"http://p","username":null,"password":{"dek":"d9",)"
            R"("ciphertext_bytes":18,"version":3,"mask":"***"},"enabled":true}},"list":[{"dek":)"
            R"("d8","ciphertext_bytes":3,"version":null,"mask":null}]})");
}

TEST_F(AuditTest, RedactPayloadKeepsOrdinaryPayloadsAndRefusesGarbage) {
  const std::string plain = R"({"key_id":"k1","api_format":null,"formats":["CLAUDE"]})";
  EXPECT_EQ(RedactPayload(plain), plain);
  // Re-serialized (a line break is never printed into JSONL); numbers keep their form.
  EXPECT_EQ(RedactPayload("{\"a\": 1,\n \"b\": [1.5, -2, true, null, \"x\"]}"),
            R"({"a":1,"b":[1.5,-2,true,null,"x"]})");
  EXPECT_EQ(RedactPayload("{\"ct\": "), R"({"undecodable_payload_bytes":7})");
}

TEST_F(AuditTest, EventJsonHasTheDocumentedMembersInOrder) {
  WriteStory();
  ASSERT_OK_AND_ASSIGN(auto records, log_.ReadRange(6, 1));
  ASSERT_EQ(records.size(), 1u);
  const EventRecord& r = records[0];
  const std::string json = EventJson(r);
  const std::string hash = crypto::HexEncode(crypto::AsBytes(r.hash));
  const std::string prev = crypto::HexEncode(crypto::AsBytes(r.prev_hash));
  EXPECT_EQ(json,
            R"({"seq":6,"stream":"key-k1","stream_version":3,"type":"KeyUpdated",)"
            R"("schema_version":1,"time":"2026-01-13T05:00:05Z","actor":"alice",)"
            R"("client_ip":"10.1.2.3","request_id":"req-alice","reason":"yearly rotation",)"
            R"("payload":{"key_id":"k1","set":{"secret":{"dek":"dek2k1","ciphertext_bytes":51,)"
            R"("version":2,"mask":"sk-ant-b***zzzz"}},"retired_dek_id":"dekk1"},"prev_hash":")" +
                prev + R"(","hash":")" + hash + R"("})");
}

// ---- key history ----

TEST_F(AuditTest, KeyHistoryShowsChangesRevealsAndDeletion) {
  WriteStory();
  ASSERT_OK_AND_ASSIGN(KeyHistory h, BuildKeyHistory(log_, "k1"));
  EXPECT_EQ(h.key_id, "k1");
  EXPECT_EQ(h.provider_id, "p1");
  EXPECT_TRUE(h.deleted);
  EXPECT_EQ(h.stream_version, 7u);
  ASSERT_EQ(h.entries.size(), 7u);
  std::vector<EventType> types;
  for (const auto& e : h.entries) types.push_back(e.record.type);
  EXPECT_EQ(types, (std::vector<EventType>{EventType::kKeyCreated, EventType::kKeyUpdated,
                                           EventType::kKeyUpdated, EventType::kKeyRevealed,
                                           EventType::kKeyHealthReported,
                                           EventType::kKeyHealthReset, EventType::kKeyDeleted}));

  // The rename: only fields whose value changed (is_active was set to what it was).
  const auto& rename = h.entries[1].changes;
  ASSERT_EQ(rename.size(), 2u);
  EXPECT_EQ(rename[0].field, "name");
  EXPECT_EQ(rename[0].before, "\"main\"");
  EXPECT_EQ(rename[0].after, "\"renamed\"");
  EXPECT_EQ(rename[1].field, "note");
  EXPECT_EQ(rename[1].before, "null");
  EXPECT_EQ(rename[1].after, "\"rotated monthly\"");

  // The new secret, redacted on both sides.
  const auto& rotation = h.entries[2].changes;
  ASSERT_EQ(rotation.size(), 1u);
  EXPECT_EQ(rotation[0].field, "secret");
  EXPECT_EQ(rotation[0].before,
            R"({"dek":"dekk1","ciphertext_bytes":51,"version":1,"mask":"sk-ant-a***wxyz"})");
  EXPECT_EQ(rotation[0].after,
            R"({"dek":"dek2k1","ciphertext_bytes":51,"version":2,"mask":"sk-ant-b***zzzz"})");
  EXPECT_EQ(h.entries[2].record.metadata.reason, std::optional<std::string>("yearly rotation"));

  // Reveal: who, from where, why.
  const EventRecord& reveal = h.entries[3].record;
  EXPECT_EQ(reveal.metadata.actor, "carol");
  EXPECT_EQ(reveal.metadata.client_ip, "10.1.2.3");
  EXPECT_EQ(reveal.metadata.reason, std::optional<std::string>("incident 42"));

  // Nothing sealed survives into the JSON document.
  ASSERT_OK_AND_ASSIGN(std::string json, KeyHistoryJson(log_, "k1"));
  EXPECT_EQ(json.find(crypto::Base64Encode(std::string(51, '\x09'))), std::string::npos);
  EXPECT_EQ(json.find(std::string(64, 'f')), std::string::npos);
  EXPECT_TRUE(json.starts_with(
      R"({"key_id":"k1","provider_id":"p1","deleted":true,"stream_version":7,"events":[{"seq":3,)"))
      << json;
  EXPECT_NE(json.find(R"("changes":[{"field":"name","before":"main","after":"renamed"},)"),
            std::string::npos);
  EXPECT_TRUE(json.ends_with(R"("changes":[]}],"next_after_version":null})")) << json;
}

TEST_F(AuditTest, KeyHistoryOptionsAndUnknownKeys) {
  WriteStory();
  KeyHistoryOptions no_health;
  no_health.include_health_reports = false;
  ASSERT_OK_AND_ASSIGN(KeyHistory quiet, BuildKeyHistory(log_, "k1", no_health));
  EXPECT_EQ(quiet.entries.size(), 6u);

  KeyHistoryOptions page;
  page.limit = 3;
  ASSERT_OK_AND_ASSIGN(KeyHistory first, BuildKeyHistory(log_, "k1", page));
  ASSERT_EQ(first.entries.size(), 3u);
  EXPECT_EQ(first.next_after_version, std::optional<uint64_t>(3));
  EXPECT_TRUE(first.deleted);  // totals describe the whole stream
  page.after_version = *first.next_after_version;
  ASSERT_OK_AND_ASSIGN(KeyHistory second, BuildKeyHistory(log_, "k1", page));
  ASSERT_EQ(second.entries.size(), 3u);
  EXPECT_EQ(second.entries[0].record.stream_version, 4u);
  page.after_version = 6;
  ASSERT_OK_AND_ASSIGN(KeyHistory last, BuildKeyHistory(log_, "k1", page));
  ASSERT_EQ(last.entries.size(), 1u);
  EXPECT_EQ(last.next_after_version, std::nullopt);

  for (const std::string& id :
       std::vector<std::string>{"nope", "", "has space", std::string(300, 'a')}) {
    auto missing = BuildKeyHistory(log_, id);
    ASSERT_FALSE(missing.ok()) << id;
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << id;
  }
  // A stream that does not start with KeyCreated is not a key's history.
  Append("key-odd", EventType::kKeyRevealed, R"({"key_id":"odd","dek_id":"d","secret_version":1})");
  auto odd = BuildKeyHistory(log_, "odd");
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.error().code, ErrorCode::kCorruption);
}

// ---- queries ----

std::vector<uint64_t> Seqs(const EventPage& page) {
  std::vector<uint64_t> out;
  for (const auto& r : page.events) out.push_back(r.sequence);
  return out;
}

TEST_F(AuditTest, QueryEventsFiltersAndPages) {
  WriteStory();  // sequences 1..11
  auto query = [&](EventFilter f, size_t limit = 100, size_t max_scan = 0) {
    auto page = QueryEvents(log_, f, limit, max_scan);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? *page : EventPage{};
  };
  EXPECT_EQ(Seqs(query({})), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));

  EventFilter by_key;
  by_key.key_id = "k2";
  EXPECT_EQ(Seqs(query(by_key)), (std::vector<uint64_t>{4, 11}));
  EventFilter by_stream;
  by_stream.stream = "key-k1";
  by_stream.after = 5;
  EventPage k1_tail = query(by_stream);
  EXPECT_EQ(Seqs(k1_tail), (std::vector<uint64_t>{6, 7, 8, 9, 10}));
  EXPECT_TRUE(k1_tail.at_head);
  EXPECT_EQ(k1_tail.next_after, 11u);  // the head: nothing on the stream up to it was missed

  EventFilter reveals;
  reveals.types = {EventType::kKeyRevealed, EventType::kKeyDeleted};
  EXPECT_EQ(Seqs(query(reveals)), (std::vector<uint64_t>{7, 10, 11}));
  EventFilter by_actor;
  by_actor.actor = "alice";
  EXPECT_EQ(Seqs(query(by_actor)), (std::vector<uint64_t>{3, 5, 6, 10}));

  // Time range, inclusive at both ends (one second per event from kT0).
  EventFilter range;
  range.since_us = kT0 + 3'000'000;
  range.until_us = kT0 + 5'000'000;
  EventPage ranged = query(range);
  EXPECT_EQ(Seqs(ranged), (std::vector<uint64_t>{4, 5, 6}));
  EXPECT_TRUE(ranged.complete);
  EXPECT_FALSE(ranged.at_head);

  // A provider: its stream, events naming it, and everything on its keys' streams.
  EventFilter p1;
  p1.provider_id = "p1";
  EXPECT_EQ(Seqs(query(p1)), (std::vector<uint64_t>{1, 3, 5, 6, 7, 8, 9, 10}));
  p1.after = 6;  // the key's KeyCreated is not in the range: found through the stream's index
  EXPECT_EQ(Seqs(query(p1)), (std::vector<uint64_t>{7, 8, 9, 10}));

  // Paging: limit, then continue from next_after.
  EventPage first = query({}, 4);
  EXPECT_EQ(Seqs(first), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_FALSE(first.at_head);
  EventFilter rest;
  rest.after = first.next_after;
  EXPECT_EQ(Seqs(query(rest, 100)).front(), 5u);

  // max_scan bounds the work even when nothing matches.
  EventFilter nobody;
  nobody.actor = "nobody";
  EventPage bounded = query(nobody, 100, 3);
  EXPECT_TRUE(bounded.events.empty());
  EXPECT_EQ(bounded.scanned, 3u);
  EXPECT_EQ(bounded.next_after, 3u);
  EXPECT_FALSE(bounded.at_head);

  // Contradictory and invalid filters.
  EventFilter both;
  both.key_id = "k1";
  both.stream = "key-k2";
  EventPage none = query(both);
  EXPECT_TRUE(none.events.empty());
  EXPECT_TRUE(none.complete);
  EventFilter bad;
  bad.stream = "no spaces allowed";
  auto refused = QueryEvents(log_, bad, 10, 0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
}

// ---- checkpoints ----

TEST_F(AuditTest, CheckpointsSignVerifyAndRoundTrip) {
  auto master = events::MasterKey::FromBytes(std::string(32, 'm'));
  ASSERT_OK(master);
  ASSERT_OK_AND_ASSIGN(auto keyring, events::Keyring::Open(log_, std::move(master).value(), {}));
  WriteStory();
  const events::Head head = log_.GetHead();
  EXPECT_EQ(CheckpointMessage(7, "ab", 42),
            "keyledger/checkpoint/v1\nsequence=7\nhash=ab\ntime_us=42\n");

  const Checkpoint c = MakeCheckpoint(*keyring, head.sequence, head.hash, kT0 + 123);
  const std::string json = CheckpointJson(c);
  EXPECT_EQ(json, R"({"sequence":11,"hash":")" + c.hash +
                      R"(","time":"2026-01-13T05:00:00.000123Z","signature":")" + c.signature +
                      R"("})");
  ASSERT_OK_AND_ASSIGN(Checkpoint parsed, ParseCheckpointJson(json));
  EXPECT_EQ(parsed.sequence, c.sequence);
  EXPECT_EQ(parsed.hash, c.hash);
  EXPECT_EQ(parsed.time_us, c.time_us);
  EXPECT_EQ(parsed.signature, c.signature);

  ASSERT_OK_AND_ASSIGN(CheckpointVerdict ok, VerifyCheckpoint(log_, parsed, keyring.get()));
  EXPECT_TRUE(ok.ok) << ok.reason;
  EXPECT_TRUE(ok.signature_checked);
  ASSERT_OK_AND_ASSIGN(CheckpointVerdict unsigned_ok, VerifyCheckpoint(log_, parsed, nullptr));
  EXPECT_TRUE(unsigned_ok.ok);
  EXPECT_FALSE(unsigned_ok.signature_checked);

  Checkpoint forged = parsed;
  forged.time_us += 1;  // the time is signed too
  ASSERT_OK_AND_ASSIGN(CheckpointVerdict bad_sig, VerifyCheckpoint(log_, forged, keyring.get()));
  EXPECT_FALSE(bad_sig.ok);
  EXPECT_NE(bad_sig.reason.find("signature"), std::string::npos);

  Checkpoint other_hash = parsed;
  other_hash.hash = std::string(64, '0');
  ASSERT_OK_AND_ASSIGN(CheckpointVerdict rewritten, VerifyCheckpoint(log_, other_hash, nullptr));
  EXPECT_FALSE(rewritten.ok);
  EXPECT_NE(rewritten.reason.find("rewritten"), std::string::npos);

  Checkpoint beyond = parsed;
  beyond.sequence = 99;
  ASSERT_OK_AND_ASSIGN(CheckpointVerdict lost, VerifyCheckpoint(log_, beyond, nullptr));
  EXPECT_FALSE(lost.ok);
  EXPECT_NE(lost.reason.find("no record 99"), std::string::npos);

  // Integer times, upper-case hex and extra members are accepted.
  ASSERT_OK_AND_ASSIGN(Checkpoint lenient,
                       ParseCheckpointJson(R"({"sequence":1,"hash":")" + std::string(64, 'A') +
                                           R"(","time":5,"signature":")" + std::string(64, 'B') +
                                           R"(","kek_version":1})"));
  EXPECT_EQ(lenient.hash, std::string(64, 'a'));
  EXPECT_EQ(lenient.time_us, 5);
}

TEST(CheckpointParseTest, RejectsMalformedCheckpoints) {
  const std::string h(64, 'a');
  for (const std::string& bad : {
           std::string("not json"),
           std::string("[]"),
           R"({"hash":")" + h + R"(","time":1,"signature":")" + h + R"("})",
           R"({"sequence":-1,"hash":")" + h + R"(","time":1,"signature":")" + h + R"("})",
           R"({"sequence":1,"hash":"abc","time":1,"signature":")" + h + R"("})",
           R"({"sequence":1,"hash":")" + h + R"(","time":"yesterday","signature":")" + h + R"("})",
           R"({"sequence":1,"hash":")" + h + R"(","time":1,"signature":"zz"})",
           R"({"sequence":1,"hash":")" + h + R"(","time":1})",
       }) {
    auto parsed = ParseCheckpointJson(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

// ---- digests ----

TEST_F(AuditTest, DigestJsonRoundTripsAndNamesTheFirstDifference) {
  WriteStory();
  State s;
  ASSERT_OK(Replay(log_, s, log_.GetHead().sequence));
  const std::string json = DigestJson(s, true);
  ASSERT_OK_AND_ASSIGN(DigestReport report, ParseDigestJson(json));
  EXPECT_EQ(report.sequence, s.sequence);
  EXPECT_EQ(report.digest, StateDigestHex(s));
  ASSERT_TRUE(report.entities.has_value());
  EXPECT_EQ(*report.entities, EntityDigests(s));
  EXPECT_EQ(DigestJson(s, false), R"({"sequence":11,"digest":")" + StateDigestHex(s) + R"("})");
  ASSERT_OK_AND_ASSIGN(DigestReport bare, ParseDigestJson(DigestJson(s, false)));
  EXPECT_FALSE(bare.entities.has_value());

  EntityDigestList a = EntityDigests(s);  // provider:p1, provider:p2, key:k2
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(FirstDifferingEntity(a, a), "");
  EntityDigestList changed = a;
  changed[2].second = "00";
  EXPECT_EQ(FirstDifferingEntity(a, changed), "key:k2");
  EntityDigestList extra = a;
  extra.insert(extra.begin() + 2, {"endpoint:e1", "11"});
  EXPECT_EQ(FirstDifferingEntity(a, extra), "endpoint:e1");
  EntityDigestList missing(a.begin(), a.begin() + 1);
  EXPECT_EQ(FirstDifferingEntity(a, missing), "provider:p2");

  for (const char* bad : {"{}", R"({"sequence":1})", R"({"sequence":1,"digest":"xyz"})",
                          R"({"sequence":1,"digest":")"}) {
    EXPECT_FALSE(ParseDigestJson(bad).ok()) << bad;
  }
}

// ---- export lines ----

TEST_F(AuditTest, ExportLinesRoundTripEveryRecordExactly) {
  WriteStory();
  // Unusual but valid metadata and payload text must survive byte for byte.
  Append("provider-p3", EventType::kProviderCreated,
         ProviderCreated("p3", "名前 \"quoted\" \\ tab\t end"),
         Meta("sub|with/slash", "line\nbreak"));
  ASSERT_OK_AND_ASSIGN(auto records, log_.ReadRange(1, 100));
  for (const EventRecord& r : records) {
    json::Writer w;
    WriteExportJson(w, r);
    EXPECT_EQ(w.str().find('\n'), std::string::npos);
    ASSERT_OK_AND_ASSIGN(EventRecord back, ParseExportJson(w.str()));
    EXPECT_EQ(back, r) << w.str();
    EXPECT_TRUE(events::VerifyRecordHash(back));
  }
}

TEST(ExportParseTest, RejectsMalformedLines) {
  EventRecord r;
  r.sequence = 1;
  r.stream = "key-a";
  r.stream_version = 1;
  r.type = EventType::kKeyRevealed;
  r.time_us = kT0;
  r.payload = "{}";
  json::Writer w;
  WriteExportJson(w, r);
  const std::string good = w.str();
  ASSERT_OK(ParseExportJson(good));
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  for (const std::string& bad : {
           std::string("{"),
           std::string("[1]"),
           replace("\"seq\":1", "\"seq\":\"1\""),
           replace("\"seq\":1,", ""),
           replace("\"type_id\":203", "\"type_id\":70000"),
           replace("\"payload\":\"{}\"", "\"payload\":{}"),
           replace("\"reason\":null", "\"reason\":5"),
           replace("\"hash\":\"", "\"hash\":\"zz"),
           replace("{\"seq\"", "{\"extra\":1,\"seq\""),
       }) {
    auto parsed = ParseExportJson(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

// ---- snapshots ----

TEST_F(AuditTest, SnapshotReplaceLeavesExactlyTheNewSnapshot) {
  WriteStory();
  SnapshotStore store(&log_, log_, {});
  State s;
  ASSERT_OK(Replay(log_, s, 4));
  ASSERT_OK(store.Write(s));
  ASSERT_OK(Replay(log_, s, 8));
  ASSERT_OK(store.Write(s));
  ASSERT_OK_AND_ASSIGN(auto before, store.List());
  ASSERT_EQ(before.size(), 2u);

  // A stray chunk of the sequence being rewritten must go too.
  std::string stray = "s/";
  events::PutBigEndian64(stray, 11);
  stray += "/c/";
  stray += std::string("\x00\x00\x00\x07", 4);
  events::AppendRequest junk;
  junk.aux.push_back({events::AuxSpace::kSnapshots, stray, std::string("junk")});
  ASSERT_OK(log_.Append(std::move(junk)));

  ASSERT_OK(Replay(log_, s, log_.GetHead().sequence));
  ASSERT_OK(store.Replace(s));
  ASSERT_OK_AND_ASSIGN(auto after, store.List());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].sequence, s.sequence);
  EXPECT_EQ(after[0].digest, StateDigestHex(s));
  ASSERT_OK_AND_ASSIGN(State loaded, store.Load(after[0]));
  EXPECT_EQ(StateDigestHex(loaded), StateDigestHex(s));
  ASSERT_OK_AND_ASSIGN(std::string body, store.ReadBody(s.sequence));
  EXPECT_EQ(body, SerializeState(s));
  size_t entries = 0;
  ASSERT_OK(log_.ScanAux(events::AuxSpace::kSnapshots, "", [&](auto, auto) {
    ++entries;
    return true;
  }));
  EXPECT_EQ(entries, 2u);  // one chunk and its manifest

  SnapshotStore read_only(nullptr, log_, {});
  EXPECT_EQ(read_only.Replace(s).code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace keyledger::projections
