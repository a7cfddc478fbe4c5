// keyledger-audit, run as a separate process the way an auditor runs it, against data
// directories written by the registry in-process.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "events/append_planner.hpp"
#include "events/crypto.hpp"
#include "events/time_format.hpp"
#include "projections/audit.hpp"
#include "projections/snapshot.hpp"
#include "projections/views.hpp"
#include "tests/tools/tool_test_util.hpp"
#include "tools/bench/workload.hpp"

namespace keyledger::tools::testing {
namespace {

namespace fs = std::filesystem;
using keyledger::testing::TempDir;
using registry::RequestContext;

constexpr int64_t kT0 = 1'768'280'400'000'000;  // 2026-01-13T05:00:00Z
constexpr const char* kSecret1 = "sk-ant-api03-FIRSTsecretVALUE-0123456789-abcd";
constexpr const char* kSecret2 = "sk-ant-api03-ROTATEDsecretVALUE-9876543210-efgh";
constexpr const char* kSecret3 = "sk-ant-api03-BACKUPsecretVALUE-5555555555-ijkl";

ToolRun Audit(const TempDir& scratch, std::vector<std::string> args,
              const std::vector<std::string>& env = {}, const std::string& stdin_file = "") {
  return RunTool(KEYLEDGER_AUDIT_BIN, args, scratch, env, stdin_file);
}

RequestContext Ctx(const std::string& actor, const std::string& ip, const std::string& request,
                   std::optional<std::string> reason = std::nullopt) {
  RequestContext c;
  c.actor = actor;
  c.client_ip = ip;
  c.request_id = request;
  c.reason = std::move(reason);
  return c;
}

std::string MasterBytes() { return std::string(32, 'K'); }

// A node whose events carry the times the test sets.
struct ScriptedNode {
  explicit ScriptedNode(const std::string& dir, uint64_t snapshot_every = 10'000)
      : node(dir, MasterBytes(), Options(snapshot_every)) {}

  registry::RegistryOptions Options(uint64_t snapshot_every) {
    registry::RegistryOptions o;
    o.clock = [this] { return now.load(); };
    o.snapshot_every = snapshot_every;
    return o;
  }

  registry::CommandResult Run(std::unique_ptr<registry::Command> c, RequestContext ctx) {
    now += 1'000'000;
    auto r = node.Run(std::move(c), std::move(ctx));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : registry::CommandResult{};
  }

  std::atomic<int64_t> now{kT0};
  Node node;
};

struct Story {
  std::string provider, endpoint, key1, key2;
};

// The scripted sequence of API calls behind the golden files: one provider with an endpoint,
// a key created, updated, revealed, health-reported, reset, re-secreted and deleted, a second
// key revealed, and finally the provider deleted (cascading to its key and endpoint).
Story RunStory(ScriptedNode& s) {
  Story st;
  {
    registry::ProviderCreateIntent in;
    in.provider.name = "anthropic";
    in.provider.website = "https://www.anthropic.com";
    s.Run(registry::MakeCreateProvider(in), Ctx("ops", "10.0.0.1", "req-1"));
    st.provider = *s.node.registry().Current()->provider_names.Find("anthropic");
  }
  {
    registry::EndpointCreateIntent in;
    in.provider_id = in.body_provider_id = st.provider;
    in.endpoint.api_format = "CLAUDE";
    in.endpoint.base_url = "https://api.anthropic.com";
    st.endpoint =
        s.Run(registry::MakeCreateEndpoint(in), Ctx("ops", "10.0.0.1", "req-2")).body.substr(7, 36);
  }
  {
    registry::KeyCreateIntent in;
    in.provider_id = st.provider;
    in.key.api_formats = {"CLAUDE"};
    in.key.name = "main";
    in.secret = kSecret1;
    st.key1 =
        s.Run(registry::MakeCreateKey(in), Ctx("alice", "10.0.0.5", "req-3")).body.substr(7, 36);
  }
  {
    registry::KeyUpdateIntent in;
    in.key_id = st.key1;
    in.fields = {"name", "note", "internal_priority"};
    in.values.name = "primary";
    in.values.note = "team A";
    in.values.internal_priority = 10;
    s.Run(registry::MakeUpdateKey(in), Ctx("alice", "10.0.0.5", "req-4"));
  }
  s.Run(registry::MakeRevealKey(st.key1), Ctx("carol", "10.0.0.9", "req-5", "incident 7"));
  {
    registry::HealthReportItem item;
    item.key_id = st.key1;
    item.api_format = "CLAUDE";
    item.successes = 3;
    item.failures = 2;
    item.total_response_time_ms = 2500;
    item.last_error = "timeout";
    item.at_us = s.now.load() + 1'000'000;
    // Logged as builds before health telemetry logged every report (README "Log growth"): the
    // audit tools must keep showing such events, and the goldens keep covering them.
    s.Run(bench::MakeLegacyHealthReports({item}), Ctx("gateway-1", "10.0.1.1", "req-6"));
  }
  s.Run(registry::MakeResetKeyHealth(st.key1, "CLAUDE"), Ctx("ops", "10.0.0.1", "req-7"));
  {
    registry::KeyUpdateIntent in;
    in.key_id = st.key1;
    in.new_secret = kSecret2;
    s.Run(registry::MakeUpdateKey(in), Ctx("alice", "10.0.0.5", "req-8", "suspected leak"));
  }
  {
    registry::KeyCreateIntent in;
    in.provider_id = st.provider;
    in.key.api_formats = {"CLAUDE"};
    in.key.name = "backup";
    in.secret = kSecret3;
    st.key2 =
        s.Run(registry::MakeCreateKey(in), Ctx("bob", "10.0.0.6", "req-9")).body.substr(7, 36);
  }
  s.Run(registry::MakeRevealKey(st.key2), Ctx("bob", "10.0.0.6", "req-10"));
  s.Run(registry::MakeDeleteKey(st.key1), Ctx("alice", "10.0.0.5", "req-11", "offboarding"));
  {
    registry::ProviderUpdateIntent in;
    in.provider_id = st.provider;
    in.fields = {"description"};
    in.values.description = "direct contract";
    in.patch_response = true;
    s.Run(registry::MakeUpdateProvider(in), Ctx("ops", "10.0.0.1", "req-12"));
  }
  s.Run(registry::MakeDeleteProvider(st.provider), Ctx("ops", "10.0.0.1", "req-13", "migrated"));
  return st;
}

void ExpectNoSecrets(const std::string& output) {
  for (const char* secret : {kSecret1, kSecret2, kSecret3}) {
    EXPECT_EQ(output.find(secret), std::string::npos) << "plaintext secret in the output";
  }
  EXPECT_EQ(output.find("\"ct\""), std::string::npos);
  EXPECT_EQ(output.find("\"n\":"), std::string::npos);
  EXPECT_EQ(output.find("fingerprint"), std::string::npos);
}

TEST(AuditToolTest, GoldenOutputForAScriptedSequenceOfApiCalls) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ScriptedNode s(data);
  const Story st = RunStory(s);

  // While the "server" holds the directory: the tool reads it as a secondary instance.
  ToolRun log = Audit(dir, {"log", "--data-dir", data});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  EXPECT_EQ(Lines(log.out).size(), 15u);
  ExpectNoSecrets(log.out);
  Normalizer n;
  const std::string normalized_log = n.Normalize(log.out);
  EXPECT_EQ(normalized_log.find("<b64-"), std::string::npos) << "base64 bytes in the output";
  ExpectGolden("audit_log.jsonl", normalized_log);
  // Every line is exactly the library's EventJson of that record (what the API serves).
  ASSERT_OK_AND_ASSIGN(auto records, s.node.log().ReadRange(1, 100));
  const auto lines = Lines(log.out);
  ASSERT_EQ(lines.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i)
    EXPECT_EQ(lines[i], projections::EventJson(records[i]));

  ToolRun table = Audit(dir, {"log", "--data-dir", data, "--format", "table"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.find('\x1b'), std::string::npos) << "colours only on a terminal";
  ExpectGolden("audit_log.txt", n.Normalize(table.out));

  s.node.Close();  // offline from here: read-only mode
  ToolRun history = Audit(dir, {"history", st.key1, "--data-dir", data});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  ExpectNoSecrets(history.out);
  ExpectGolden("history_key1.jsonl", n.Normalize(history.out));
  ToolRun history_table = Audit(dir, {"history", st.key1, "--data-dir", data, "--format", "table"});
  ASSERT_EQ(history_table.exit_code, 0) << history_table.err;
  ExpectNoSecrets(history_table.out);
  ExpectGolden("history_key1.txt", n.Normalize(history_table.out));

  // --format json is the API's document.
  ToolRun doc = Audit(dir, {"history", st.key1, "--data-dir", data, "--format", "json"});
  ASSERT_EQ(doc.exit_code, 0) << doc.err;
  {
    auto ro = OpenForTest(data);
    ASSERT_OK_AND_ASSIGN(std::string expected, projections::KeyHistoryJson(*ro, st.key1));
    EXPECT_EQ(doc.out, expected + "\n");
  }
  ToolRun quiet = Audit(dir, {"history", st.key1, "--data-dir", data, "--no-health-reports"});
  EXPECT_EQ(Lines(quiet.out).size(), Lines(history.out).size() - 1);
  ToolRun unknown = Audit(dir, {"history", "no-such-key", "--data-dir", data});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("has no history"), std::string::npos);
}

TEST(AuditToolTest, LogFiltersMatchTheLibraryQuery) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ScriptedNode s(data);
  const Story st = RunStory(s);
  s.node.Close();
  auto ro = OpenForTest(data);

  auto seqs_of = [](const std::string& jsonl) {
    std::vector<uint64_t> out;
    for (const auto& line : Lines(jsonl)) out.push_back(std::stoull(line.substr(7)));
    return out;
  };
  auto expect = [&](projections::EventFilter f, std::vector<std::string> args) {
    ASSERT_OK_AND_ASSIGN(auto page, projections::QueryEvents(*ro, f, 1000, 0));
    std::vector<uint64_t> want;
    for (const auto& r : page.events) want.push_back(r.sequence);
    args.insert(args.begin(), {"log", "--data-dir", data});
    ToolRun r = Audit(dir, args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(seqs_of(r.out), want) << args.back();
    EXPECT_FALSE(want.empty()) << args.back();
  };
  projections::EventFilter f;
  f.key_id = st.key1;
  expect(f, {"--key", st.key1});
  f = {};
  f.types = {events::EventType::kKeyRevealed, events::EventType::kKeyDeleted};
  expect(f, {"--type", "KeyRevealed,KeyDeleted"});
  expect(f, {"--type", "KeyRevealed", "--type", "KeyDeleted"});
  f = {};
  f.actor = "alice";
  expect(f, {"--actor", "alice"});
  f = {};
  f.provider_id = st.provider;
  f.after = 4;
  expect(f, {"--provider", st.provider, "--after", "4"});
  f = {};
  f.stream = "endpoint-" + st.endpoint;
  expect(f, {"--stream", "endpoint-" + st.endpoint});
  f = {};
  f.since_us = kT0 + 4'000'000;
  f.until_us = kT0 + 8'000'000;
  expect(f, {"--since", "2026-01-13T05:00:04Z", "--until", std::to_string(kT0 + 8'000'000)});

  ToolRun limited = Audit(dir, {"log", "--data-dir", data, "--after", "3", "--limit", "2"});
  EXPECT_EQ(seqs_of(limited.out), (std::vector<uint64_t>{4, 5}));

  ToolRun bad_type = Audit(dir, {"log", "--data-dir", data, "--type", "KeyExploded"});
  EXPECT_EQ(bad_type.exit_code, 2);
  EXPECT_NE(bad_type.err.find("unknown event type KeyExploded"), std::string::npos);
  ToolRun bad_time = Audit(dir, {"log", "--data-dir", data, "--since", "yesterday"});
  EXPECT_EQ(bad_time.exit_code, 2);
  EXPECT_NE(bad_time.err.find("--since is not a time"), std::string::npos);
}

TEST(AuditToolTest, TablesColourOnlyWhenAskedAndNeverPassControlCharacters) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  {
    Node node(data, MasterBytes());
    const std::string p = node.CreateProvider("p");
    node.CreateKey(p, kSecret1, {"CLAUDE"}, "evil\x1b[2Jname\x07");
  }
  ToolRun plain = Audit(dir, {"log", "--data-dir", data, "--format", "table"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(plain.out.find('\x07'), std::string::npos);
  EXPECT_NE(plain.out.find("evil\\x1b[2Jname\\x07"), std::string::npos) << plain.out;
  ToolRun coloured =
      Audit(dir, {"log", "--data-dir", data, "--format", "table", "--color", "always"});
  EXPECT_NE(coloured.out.find("\x1b[32mKeyCreated\x1b[0m"), std::string::npos) << coloured.out;
  EXPECT_EQ(coloured.out.find("\x1b[2J"), std::string::npos);
  ToolRun jsonl = Audit(dir, {"log", "--data-dir", data, "--type", "KeyCreated"});
  EXPECT_NE(jsonl.out.find("evil\\u001b[2Jname\\u0007"), std::string::npos) << jsonl.out;
  EXPECT_EQ(Audit(dir, {"log", "--data-dir", data, "--color", "sometimes"}).exit_code, 2);
}

// ---- verify ----

// A small log with crypto-shredding (a deleted key, a replaced secret) and a checkpoint.
struct TamperFixture {
  TempDir dir;
  std::string data = dir.Sub("data");
  std::string checkpoint_file = dir.Sub("checkpoint.json");
  std::string key_file = dir.Sub("master.key");
  std::string shredded_dek;
  uint64_t head = 0;

  TamperFixture() {
    Node node(data, MasterBytes());
    const std::string p = node.CreateProvider("p");
    std::vector<std::string> keys;
    for (int i = 0; i < 4; ++i) keys.push_back(node.CreateKey(p, kSecret1 + std::to_string(i)));
    registry::KeyUpdateIntent up;
    up.key_id = keys[1];
    up.new_secret = kSecret2;
    EXPECT_OK(node.Run(registry::MakeUpdateKey(up)));
    EXPECT_OK(node.Run(registry::MakeRevealKey(keys[2])));
    shredded_dek = node.registry().Current()->keys.Find(keys[0])->secret.sealed.dek_id;
    EXPECT_OK(node.Run(registry::MakeDeleteKey(keys[0])));
    EXPECT_OK(node.Run(registry::MakeDeleteKey(keys[3])));
    const events::Head h = node.log().GetHead();
    head = h.sequence;
    WriteFile(checkpoint_file, projections::CheckpointJson(projections::MakeCheckpoint(
                                   node.keyring(), h.sequence, h.hash, kT0)));
    WriteFile(key_file, MasterBytes());
    ::chmod(key_file.c_str(), 0600);
  }

  ToolRun Verify(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"verify", "--data-dir", data};
    args.insert(args.end(), extra.begin(), extra.end());
    return Audit(dir, args, {"KEYLEDGER_MASTER_KEY="});
  }
};

TEST(AuditToolTest, VerifyAcceptsALogAfterCryptoShredding) {
  TamperFixture f;
  {
    RawDb raw(f.data);  // the shredded data key is gone from the keyring
    EXPECT_EQ(raw.Get("keyring", "dek/" + f.shredded_dek), std::nullopt);
  }
  ToolRun ok = f.Verify();
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("chain holds: records 1.." + std::to_string(f.head)), std::string::npos)
      << ok.out;
  EXPECT_NE(ok.out.find("head: sequence " + std::to_string(f.head) + ", hash "), std::string::npos);

  ToolRun json = f.Verify({"--format", "json", "--from", "3", "--to", "5"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(json.out.starts_with(R"({"ok":true,"chain_ok":true,"from":3,"checked":3,)"))
      << json.out;

  ToolRun signed_ok =
      f.Verify({"--checkpoint", f.checkpoint_file, "--master-key-file", f.key_file});
  ASSERT_EQ(signed_ok.exit_code, 0) << signed_ok.out << signed_ok.err;
  EXPECT_NE(signed_ok.out.find("signature verified"), std::string::npos) << signed_ok.out;
  // The development key file in the directory is found on its own.
  fs::copy_file(f.key_file, f.data + "/master.key");
  ::chmod((f.data + "/master.key").c_str(), 0600);
  EXPECT_NE(f.Verify({"--checkpoint", f.checkpoint_file}).out.find("signature verified"),
            std::string::npos);
  fs::remove(f.data + "/master.key");
  ToolRun unsigned_ok = f.Verify({"--checkpoint", f.checkpoint_file});
  EXPECT_EQ(unsigned_ok.exit_code, 0);
  EXPECT_NE(unsigned_ok.out.find("signature not checked: no master key"), std::string::npos)
      << unsigned_ok.out;
  EXPECT_EQ(f.Verify({"--checkpoint", f.checkpoint_file, "--require-signature"}).exit_code, 1);

  std::string forged = ReadFile(f.checkpoint_file);
  const size_t sig = forged.find("\"signature\":\"") + 13;
  forged[sig] = forged[sig] == '0' ? '1' : '0';
  WriteFile(f.dir.Sub("forged.json"), forged);
  ToolRun bad_sig =
      f.Verify({"--checkpoint", f.dir.Sub("forged.json"), "--master-key-file", f.key_file});
  EXPECT_EQ(bad_sig.exit_code, 1);
  EXPECT_NE(bad_sig.out.find("signature does not verify"), std::string::npos) << bad_sig.out;
  WriteFile(f.dir.Sub("garbage.json"), "{\"sequence\":1}");
  EXPECT_EQ(f.Verify({"--checkpoint", f.dir.Sub("garbage.json")}).exit_code, 3);
}

// Every single-byte flip in every stored record is caught at that record: exhaustively with the
// verifier the tool runs, and end to end through the tool for a sample.
TEST(AuditToolTest, VerifyDetectsAFlippedByteInAnyRecord) {
  TamperFixture f;
  std::vector<std::pair<std::string, std::string>> stored;
  {
    RawDb raw(f.data);
    stored = raw.All("events");
  }
  ASSERT_EQ(stored.size(), f.head);
  size_t flips = 0;
  for (size_t i = 0; i < stored.size(); ++i) {
    for (size_t b = 0; b < stored[i].second.size(); ++b) {
      auto copy = stored;
      copy[i].second[b] = static_cast<char>(copy[i].second[b] ^ 0x01);
      events::ChainVerifier v(1, events::GenesisHash());
      for (const auto& [k, value] : copy) {
        if (!v.Next(events::GetBigEndian64(k), value)) break;
      }
      v.Finish(f.head);
      ASSERT_FALSE(v.report().ok) << "record " << i + 1 << " byte " << b;
      ASSERT_EQ(v.report().first_bad, i + 1) << "record " << i + 1 << " byte " << b;
      ++flips;
    }
  }
  EXPECT_GT(flips, 1000u);

  // Through the tool: the first, a middle and the last record; format byte, sequence, type,
  // time, stream, payload, prev_hash and hash.
  for (size_t i : {size_t{0}, stored.size() / 2, stored.size() - 1}) {
    const std::string& value = stored[i].second;
    const size_t n = value.size();
    const size_t stream_at = 1 + 8 + 2 + 2 + 8 + 8 + 4;
    for (size_t b :
         {size_t{0}, size_t{5}, size_t{10}, size_t{15}, stream_at + 2, n - 100, n - 40, n - 1}) {
      std::string flipped = value;
      flipped[b] = static_cast<char>(flipped[b] ^ 0x20);
      {
        RawDb raw(f.data);
        raw.Put("events", stored[i].first, flipped);
      }
      ToolRun r = f.Verify();
      EXPECT_EQ(r.exit_code, 1) << "record " << i + 1 << " byte " << b << ": " << r.out;
      EXPECT_NE(r.out.find("chain BROKEN at sequence " + std::to_string(i + 1) + ":"),
                std::string::npos)
          << "record " << i + 1 << " byte " << b << ": " << r.out << r.err;
      RawDb raw(f.data);
      raw.Put("events", stored[i].first, value);
    }
  }
  EXPECT_EQ(f.Verify().exit_code, 0);
}

TEST(AuditToolTest, VerifyDetectsDeletedReorderedAndTruncatedRecords) {
  TamperFixture f;
  std::vector<std::pair<std::string, std::string>> stored;
  {
    RawDb raw(f.data);
    stored = raw.All("events");
  }
  auto restore = [&] {
    RawDb raw(f.data);
    for (const auto& [k, v] : stored) raw.Put("events", k, v);
  };

  {  // a deleted record in the middle
    RawDb raw(f.data);
    raw.Delete("events", stored[4].first);
  }
  ToolRun deleted = f.Verify();
  EXPECT_EQ(deleted.exit_code, 1);
  EXPECT_NE(deleted.out.find("chain BROKEN at sequence 5: record 5 is missing"), std::string::npos)
      << deleted.out;
  restore();

  {  // a reordered pair
    RawDb raw(f.data);
    raw.Put("events", stored[5].first, stored[6].second);
    raw.Put("events", stored[6].first, stored[5].second);
  }
  ToolRun reordered = f.Verify();
  EXPECT_EQ(reordered.exit_code, 1);
  EXPECT_NE(reordered.out.find("chain BROKEN at sequence 6: record stored under sequence 6 says "
                               "it is sequence 7"),
            std::string::npos)
      << reordered.out;
  restore();

  {  // a truncated tail (the last three records gone)
    RawDb raw(f.data);
    for (size_t i = stored.size() - 3; i < stored.size(); ++i)
      raw.Delete("events", stored[i].first);
  }
  ToolRun truncated = f.Verify();
  EXPECT_EQ(truncated.exit_code, 1);
  const std::string first_lost = std::to_string(f.head - 2);
  EXPECT_NE(
      truncated.out.find("chain BROKEN at sequence " + first_lost + ": records " + first_lost +
                         ".." + std::to_string(f.head) + " are missing (truncated tail)"),
      std::string::npos)
      << truncated.out;

  // The same truncation with the metadata rewritten to match: the chain itself holds, and only
  // a checkpoint taken earlier exposes it.
  {
    auto last = events::DecodeRecord(stored[stored.size() - 4].second);
    ASSERT_OK(last);
    RawDb raw(f.data);
    raw.Put("meta", "head", EncodeHead(last->sequence, last->hash, last->time_us));
  }
  EXPECT_EQ(f.Verify().exit_code, 0);
  ToolRun exposed = f.Verify({"--checkpoint", f.checkpoint_file});
  EXPECT_EQ(exposed.exit_code, 1);
  EXPECT_NE(
      exposed.out.find("checkpoint: MISMATCH: the log has no record " + std::to_string(f.head)),
      std::string::npos)
      << exposed.out;
}

// While the server writes and purges (which flushes every column family and deletes WALs), a
// tool's secondary view must be consistent and no older than what was committed before it ran:
// never a false break, a false truncated tail, or a stale head.
TEST(AuditToolTest, VerifyWhileTheServerWritesAndFlushes) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  Node node(data, MasterBytes());
  bench::WorkloadOptions w;
  w.keys = 40;
  w.commands = 1'000'000;
  w.until_events = 1'000'000'000;
  w.health_items_per_report = 2;
  w.in_flight = 16;
  w.mix.delete_key = 20;  // many deletes: many keyring purges, each flushing every family
  w.mix.create_key = 20;
  std::atomic<bool> stop{false};
  w.stop = [&] { return stop.load(); };
  std::thread writer([&] { EXPECT_OK(bench::RunWorkload(node.registry(), node.log(), w)); });
  for (int i = 0; i < 12; ++i) {
    const uint64_t committed = node.log().GetHead().sequence;
    ToolRun r = Audit(dir, {"verify", "--data-dir", data, "--format", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string head_member = "\"head\":{\"sequence\":";
    const size_t at = r.out.find(head_member);
    ASSERT_NE(at, std::string::npos) << r.out << r.err;
    EXPECT_GE(std::stoull(r.out.substr(at + head_member.size())), committed) << r.out;
  }
  stop = true;
  writer.join();
}

// ---- state as of a sequence ----

struct Views {
  std::string keys, grouped, providers, provider;
};

Views ViewsOf(const projections::State& s, const std::string& provider) {
  Views v;
  if (s.providers.Find(provider) != nullptr) {
    v.keys = projections::KeyListJson(s, provider, 0, 100);
    v.provider = projections::ProviderSummaryJson(s, *s.providers.Find(provider));
  }
  v.grouped = projections::GroupedByFormatJson(s);
  v.providers = projections::ProviderSummariesJson(s);
  return v;
}

TEST(AuditToolTest, StateAsOfSeqEqualsWhatTheServerServedAtThatSequence) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ScriptedNode s(data, /*snapshot_every=*/4);
  // The live views right after each command: what the server answered then, and what its
  // as_of_seq reads must answer later.
  std::map<uint64_t, Views> live;
  std::map<uint64_t, int64_t> times;
  std::string provider;
  auto capture = [&] {
    auto state = s.node.registry().Current();
    if (provider.empty() && state->providers.size() > 0)
      provider = state->providers.SortedKeys()[0];
    live[state->sequence] = ViewsOf(*state, provider);
    times[state->sequence] = state->time_us;
  };
  const std::string p = s.node.CreateProvider("openai");
  provider = p;
  capture();
  std::vector<std::string> keys;
  for (int i = 0; i < 6; ++i) {
    registry::KeyCreateIntent in;
    in.provider_id = p;
    in.key.api_formats = {"OPENAI"};
    in.key.name = "k" + std::to_string(i);
    in.key.internal_priority = 10 * (6 - i);
    in.secret = std::string(kSecret1) + std::to_string(i);
    keys.push_back(s.Run(registry::MakeCreateKey(in), Node::Admin()).body.substr(7, 36));
    capture();
  }
  {
    registry::EndpointCreateIntent in;
    in.provider_id = in.body_provider_id = p;
    in.endpoint.api_format = "OPENAI";
    in.endpoint.base_url = "https://api.openai.com";
    s.Run(registry::MakeCreateEndpoint(in), Node::Admin());
    capture();
  }
  for (int i = 0; i < 6; ++i) {
    registry::HealthReportItem item;
    item.key_id = keys[static_cast<size_t>(i)];
    item.api_format = "OPENAI";
    item.successes = i;
    item.failures = 6 - i;
    item.at_us = s.now.load();
    // As-of reads rebuild the log; today's reports without a breaker transition are telemetry,
    // deliberately outside it (README "Log growth"). Logged as older builds did, each report is
    // an event whose state the as-of read must reproduce.
    s.Run(bench::MakeLegacyHealthReports({item}), Node::Admin());
    capture();
  }
  s.Run(registry::MakeDeleteKey(keys[2]), Node::Admin());
  capture();
  {
    registry::KeyUpdateIntent in;
    in.key_id = keys[4];
    in.fields = {"is_active", "global_priority"};
    in.values.is_active = false;
    in.values.global_priority = 1;
    s.Run(registry::MakeUpdateKey(in), Node::Admin());
    capture();
  }
  ASSERT_GE(live.size(), 15u);

  auto as_of = [&](uint64_t seq, std::vector<std::string> extra) {
    std::vector<std::string> args = {"state", "--data-dir", data, "--as-of-seq",
                                     std::to_string(seq)};
    args.insert(args.end(), extra.begin(), extra.end());
    ToolRun r = Audit(dir, args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  for (const auto& [seq, views] : live) {
    EXPECT_EQ(as_of(seq, {"--provider", p}), views.keys + "\n") << seq;
    EXPECT_EQ(as_of(seq, {"--view", "grouped"}), views.grouped + "\n") << seq;
    EXPECT_EQ(as_of(seq, {}), views.providers + "\n") << seq;
    EXPECT_EQ(as_of(seq, {"--view", "providers", "--provider", p, "--use-snapshots"}),
              views.provider + "\n")
        << seq;
  }
  // As of a time: the last event at or before it; here the time of each captured state.
  for (const auto& [seq, t] : times) {
    ToolRun r = Audit(dir, {"state", "--data-dir", data, "--as-of", events::FormatTimestampZ(t),
                            "--view", "grouped"});
    EXPECT_EQ(r.out, live[seq].grouped + "\n") << seq;
  }
  // The server's own as_of path (snapshot + tail) agrees for every sequence.
  projections::SnapshotStore snapshots(nullptr, s.node.log(), {});
  ASSERT_OK_AND_ASSIGN(auto infos, snapshots.List());
  EXPECT_GE(infos.size(), 2u);
  for (const auto& [seq, views] : live) {
    ASSERT_OK_AND_ASSIGN(auto state, projections::StateAsOf(s.node.log(), &snapshots, seq));
    EXPECT_EQ(projections::KeyListJson(state, p, 0, 100), views.keys) << seq;
  }

  ToolRun missing =
      Audit(dir, {"state", "--data-dir", data, "--as-of-seq", "1", "--provider", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(Audit(dir, {"state", "--data-dir", data}).exit_code, 2);
  EXPECT_EQ(Audit(dir, {"state", "--data-dir", data, "--as-of-seq", "1", "--as-of", "1"}).exit_code,
            2);
  EXPECT_EQ(
      Audit(dir, {"state", "--data-dir", data, "--as-of-seq", "1", "--view", "keys"}).exit_code, 2);
}

// ---- export and import ----

TEST(AuditToolTest, ExportImportRoundTripGivesTheSameChainAndHead) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  {
    Node node(data, MasterBytes());
    bench::WorkloadOptions w;
    w.providers = 3;
    w.keys = 20;
    w.commands = 400;
    w.health_items_per_report = 3;
    w.mix.delete_provider = 3;
    ASSERT_OK(bench::RunWorkload(node.registry(), node.log(), w));
    // Export while the server runs (a secondary instance sees a consistent prefix).
    ToolRun live = Audit(dir, {"export", "--data-dir", data, "--output", dir.Sub("live.jsonl")});
    ASSERT_EQ(live.exit_code, 0) << live.err;
  }
  ToolRun exported = Audit(dir, {"export", "--data-dir", data, "--output", dir.Sub("all.jsonl")});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.err.find("exported"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.Sub("all.jsonl.tmp")));
  const std::string all = ReadFile(dir.Sub("all.jsonl"));
  EXPECT_EQ(ReadFile(dir.Sub("live.jsonl")), all);

  const std::string copy = dir.Sub("copy");
  ToolRun imported = Audit(dir, {"import", "--data-dir", copy, dir.Sub("all.jsonl")});
  ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  {
    auto a = OpenForTest(data);
    auto b = OpenForTest(copy);
    EXPECT_EQ(a->GetHead(), b->GetHead());
    ASSERT_OK_AND_ASSIGN(auto ra, a->ReadRange(1, 1'000'000));
    ASSERT_OK_AND_ASSIGN(auto rb, b->ReadRange(1, 1'000'000));
    ASSERT_EQ(ra.size(), rb.size());
    for (size_t i = 0; i < ra.size(); ++i) ASSERT_EQ(ra[i], rb[i]) << "record " << i + 1;
    EXPECT_NE(imported.out.find("head: sequence " + std::to_string(a->GetHead().sequence) +
                                ", hash " + crypto::HexEncode(crypto::AsBytes(a->GetHead().hash))),
              std::string::npos)
        << imported.out;
  }
  // From standard input, and incremental exports concatenated.
  ToolRun first = Audit(dir, {"export", "--data-dir", data});
  ASSERT_EQ(first.out, all);
  ToolRun tail = Audit(dir, {"export", "--data-dir", data, "--after", "100"});
  ASSERT_EQ(tail.exit_code, 0);
  const auto all_lines = Lines(all);
  std::string head_part;
  for (size_t i = 0; i < 100; ++i) head_part += all_lines[i] + "\n";
  EXPECT_EQ(head_part + tail.out, all);
  WriteFile(dir.Sub("joined.jsonl"), head_part + tail.out);
  ToolRun piped =
      Audit(dir, {"import", "--data-dir", dir.Sub("piped"), "-"}, {}, dir.Sub("joined.jsonl"));
  ASSERT_EQ(piped.exit_code, 0) << piped.err;

  // Refusals: a non-empty target, an altered line, a missing line, a foreign file.
  ToolRun again = Audit(dir, {"import", "--data-dir", copy, dir.Sub("all.jsonl")});
  EXPECT_EQ(again.exit_code, 3);
  EXPECT_NE(again.err.find("import needs an empty data directory"), std::string::npos);
  std::string altered = all;
  const size_t name_at = altered.find("key-", altered.find("\"name\\\":\\\"key-"));
  altered[name_at] = 'K';
  WriteFile(dir.Sub("altered.jsonl"), altered);
  ToolRun bad = Audit(dir, {"import", "--data-dir", dir.Sub("bad"), dir.Sub("altered.jsonl")});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("the export was altered"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("partial import"), std::string::npos);
  std::string gap;
  for (size_t i = 0; i < all_lines.size(); ++i) {
    if (i != 2) gap += all_lines[i] + "\n";
  }
  WriteFile(dir.Sub("gap.jsonl"), gap);
  ToolRun gapped = Audit(dir, {"import", "--data-dir", dir.Sub("gap"), dir.Sub("gap.jsonl")});
  EXPECT_EQ(gapped.exit_code, 1);
  EXPECT_NE(gapped.err.find("line 3: sequence 4 where 3 was expected"), std::string::npos)
      << gapped.err;
  WriteFile(dir.Sub("junk.jsonl"), "hello\n");
  EXPECT_EQ(Audit(dir, {"import", "--data-dir", dir.Sub("junk"), dir.Sub("junk.jsonl")}).exit_code,
            1);
}

// ---- usage and errors ----

TEST(AuditToolTest, HelpForEveryCommandAndClearErrors) {
  TempDir dir;
  ToolRun help = Audit(dir, {"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command : {"verify", "log", "history", "state", "export", "import"}) {
    EXPECT_NE(help.out.find(command), std::string::npos) << command;
    ToolRun sub = Audit(dir, {command, "--help"});
    EXPECT_EQ(sub.exit_code, 0) << command;
    EXPECT_TRUE(sub.out.starts_with(std::string("usage: keyledger-audit ") + command)) << sub.out;
  }
  EXPECT_EQ(Audit(dir, {}).exit_code, 2);
  EXPECT_EQ(Audit(dir, {"frobnicate"}).exit_code, 2);
  ToolRun no_dir = Audit(dir, {"verify"}, {"KEYLEDGER_DATA_DIR="});
  EXPECT_EQ(no_dir.exit_code, 2);
  EXPECT_NE(no_dir.err.find("--data-dir is required"), std::string::npos);
  ToolRun unknown_option = Audit(dir, {"log", "--data-dir", dir.str(), "--colour", "never"});
  EXPECT_EQ(unknown_option.exit_code, 2);
  EXPECT_NE(unknown_option.err.find("unknown option --colour"), std::string::npos);
  EXPECT_EQ(Audit(dir, {"log", "--data-dir"}).exit_code, 2);

  ToolRun missing = Audit(dir, {"verify", "--data-dir", dir.Sub("nowhere")});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find(dir.Sub("nowhere") + " does not exist"), std::string::npos);
  ToolRun plain = Audit(dir, {"log", "--data-dir", dir.str()});
  EXPECT_EQ(plain.exit_code, 3);
  EXPECT_NE(plain.err.find("is not a keyledger data directory"), std::string::npos) << plain.err;
  ForeignRocksDb(dir.Sub("foreign"));
  ToolRun foreign = Audit(dir, {"history", "k", "--data-dir", dir.Sub("foreign")});
  EXPECT_EQ(foreign.exit_code, 3);
  EXPECT_NE(foreign.err.find("is a RocksDB database but not a keyledger log"), std::string::npos)
      << foreign.err;
  // The environment names the directory too.
  ToolRun env = Audit(dir, {"verify"}, {"KEYLEDGER_DATA_DIR=" + dir.Sub("nowhere")});
  EXPECT_EQ(env.exit_code, 3);
}

}  // namespace
}  // namespace keyledger::tools::testing
