// keyledger-rebuild, run as a separate process, and every step of the recovery runbook in
// README.md ("Recovery runbook") against real data directories.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>

#include "events/crypto.hpp"
#include "projections/audit.hpp"
#include "projections/snapshot.hpp"
#include "tests/tools/tool_test_util.hpp"
#include "tools/bench/workload.hpp"

namespace keyledger::tools::testing {
namespace {

namespace fs = std::filesystem;
using keyledger::testing::TempDir;

constexpr const char* kToken = "test-token-123";

ToolRun Rebuild(const TempDir& scratch, const std::string& data, std::vector<std::string> extra,
                const std::vector<std::string>& env = {}) {
  std::vector<std::string> args = {"--data-dir", data};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunTool(KEYLEDGER_REBUILD_BIN, args, scratch, env);
}

ToolRun Audit(const TempDir& scratch, std::vector<std::string> args,
              const std::vector<std::string>& env = {}) {
  return RunTool(KEYLEDGER_AUDIT_BIN, args, scratch, env);
}

std::string Master() { return std::string(32, 'R'); }

// The digest route as the API serves it (GET /api/admin/audit/digest[?entities=true], bearer).
std::pair<int, std::string> DigestRoute(const projections::State& s, const std::string& target,
                                        const std::string& authorization) {
  if (authorization != std::string("Bearer ") + kToken) {
    return {401, R"({"error":{"type":"unauthorized","message":"bad token"}})"};
  }
  if (!target.starts_with("/api/admin/audit/digest")) return {404, "{}"};
  return {200, projections::DigestJson(s, target.find("entities=true") != std::string::npos)};
}

void CorruptNewestSnapshot(const std::string& data) {
  RawDb raw(data);
  auto entries = raw.All("snapshots");
  ASSERT_FALSE(entries.empty());
  // Keys sort by sequence: the last manifest's chunks precede it.
  std::string chunk_key;
  for (const auto& [k, v] : entries) {
    if (k.find("/c/") != std::string::npos) chunk_key = k;
  }
  ASSERT_FALSE(chunk_key.empty());
  std::string body = *raw.Get("snapshots", chunk_key);
  // Inside a key's JSON: change one digit of a counter, keeping the body valid JSON.
  size_t at = body.rfind("\"request_count\":");
  ASSERT_NE(at, std::string::npos);
  at += 16;
  body[at] = body[at] == '9' ? '8' : static_cast<char>(body[at] + 1);
  raw.Put("snapshots", chunk_key, body);
}

// What the keyring says about a key's secret (the registry words every failure as Aether does).
Status Unseal(Node& node, const std::string& key_id) {
  const projections::KeyState* k = node.registry().Current()->keys.Find(key_id);
  if (k == nullptr) return MakeError(ErrorCode::kNotFound, key_id);
  return node.keyring().Open(k->secret.sealed, k->id, k->secret.version).status();
}

std::string Field(const std::string& json, const std::string& name) {
  const std::string key = "\"" + name + "\":";
  size_t at = json.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  size_t end = json.find_first_of(",}", at);
  return json.substr(at, end - at);
}

// The issue's acceptance run: 50,000 random commands, then the rebuild proves its digest equal
// to the live server's and to every snapshot; then the runbook for a corrupt snapshot restores
// service with the same digest.
TEST(RebuildToolTest, RebuildEqualsLiveAfter50kRandomCommandsAndRecoversACorruptSnapshot) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  Node node(data, Master());
  bench::WorkloadOptions w;
  w.seed = 50'000;
  w.providers = 8;
  w.keys = 300;
  w.commands = 50'000;
  w.health_items_per_report = 3;
  w.in_flight = 512;
  w.mix.delete_provider = 1;
  ASSERT_OK_AND_ASSIGN(bench::WorkloadStats stats,
                       bench::RunWorkload(node.registry(), node.log(), w));
  EXPECT_EQ(stats.commands, 50'000u);
  EXPECT_GT(stats.succeeded, 45'000u);
  // Health reports (over half the mix) append only breaker transitions since they became
  // telemetry (README "Log growth"); the other commands still make a log of tens of thousands.
  EXPECT_GT(stats.events, 40'000u);

  const projections::StatePtr live = node.registry().Current();
  const std::string live_digest = projections::StateDigestHex(*live);
  TinyHttpServer server([&](const std::string& target, const std::string& auth) {
    return DigestRoute(*live, target, auth);
  });

  // While the server runs: compare with it (secondary instance), token from the flag or env.
  ToolRun compared = Rebuild(
      dir, data,
      {"--compare-url", server.url(), "--token", kToken, "--format", "json", "--progress", "none"});
  ASSERT_EQ(compared.exit_code, 0) << compared.out << compared.err;
  EXPECT_EQ(Field(compared.out, "ok"), "true");
  EXPECT_EQ(Field(compared.out, "digest"), "\"" + live_digest + "\"");
  EXPECT_NE(compared.out.find(R"("live":{"sequence":)" + std::to_string(live->sequence) +
                              R"(,"digest":")" + live_digest + R"(","rebuilt_digest":")" +
                              live_digest + R"(","match":true)"),
            std::string::npos)
      << compared.out;
  EXPECT_EQ(compared.out.find("\"match\":false"), std::string::npos) << compared.out;
  EXPECT_NE(compared.out.find(R"("snapshots":[{"sequence":)"), std::string::npos);
  ToolRun no_token = Rebuild(dir, data, {"--compare-url", server.url(), "--progress", "none"},
                             {"KEYLEDGER_TOKEN="});
  EXPECT_EQ(no_token.exit_code, 3);
  EXPECT_NE(no_token.err.find("the server answered 401"), std::string::npos) << no_token.err;
  ToolRun refused = Rebuild(dir, data, {"--write-snapshot", "--progress", "none"});
  EXPECT_EQ(refused.exit_code, 3);
  EXPECT_NE(refused.err.find("refusing --write-snapshot"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("Stop the server first"), std::string::npos);

  // Runbook, "a snapshot is corrupt": stop the server; the damage is found and named...
  node.Close();
  CorruptNewestSnapshot(data);
  ToolRun found = Rebuild(dir, data, {"--progress", "none"});
  EXPECT_EQ(found.exit_code, 1) << found.out << found.err;
  EXPECT_NE(found.out.find("MISMATCH"), std::string::npos) << found.out;
  EXPECT_NE(found.out.find("first difference: key:"), std::string::npos) << found.out;
  // ... the snapshots are replaced by the rebuilt state in one atomic write ...
  ToolRun replaced = Rebuild(dir, data, {"--write-snapshot", "--progress", "none"});
  ASSERT_EQ(replaced.exit_code, 0) << replaced.out << replaced.err;
  EXPECT_NE(replaced.out.find("wrote the snapshot at sequence " + std::to_string(live->sequence) +
                              " (digest " + live_digest + ")"),
            std::string::npos)
      << replaced.out;
  ToolRun clean = Rebuild(dir, data, {"--progress", "none"});
  EXPECT_EQ(clean.exit_code, 0) << clean.out;
  EXPECT_NE(
      clean.out.find("snapshot at sequence " + std::to_string(live->sequence) + ": digest matches"),
      std::string::npos)
      << clean.out;
  EXPECT_EQ(Audit(dir, {"verify", "--data-dir", data}).exit_code, 0);
  // ... and the service starts from it with the same digest.
  node.log_lines().clear();
  node.Open();
  EXPECT_EQ(projections::StateDigestHex(*node.registry().Current()), live_digest);
  for (const auto& line : node.log_lines()) {
    EXPECT_EQ(line.find("ignoring snapshot"), std::string::npos) << line;
  }
}

TEST(RebuildToolTest, LiveMismatchNamesTheFirstDifferingKey) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  Node node(data, Master());
  const std::string p = node.CreateProvider("p");
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) keys.push_back(node.CreateKey(p, "sk-live-" + std::to_string(i)));
  std::sort(keys.begin(), keys.end());
  // A server whose projection drifted on one key (a bug the digest must catch).
  projections::State drifted = node.registry().Current()->Fork();
  auto changed = std::make_shared<projections::KeyState>(*drifted.keys.Find(keys[3]));
  changed->name = "drifted";
  drifted.keys.Set(keys[3], changed);
  std::atomic<bool> with_entities = true;  // read on the server thread
  TinyHttpServer server([&](const std::string&, const std::string&) {
    return std::pair{200, projections::DigestJson(drifted, with_entities.load())};
  });
  ToolRun r = Rebuild(dir, data, {"--compare-url", server.url(), "--progress", "none"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(
      r.out.find("live server at sequence " + std::to_string(drifted.sequence) + ": MISMATCH"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("first difference: key:" + keys[3]), std::string::npos) << r.out;
  with_entities = false;
  ToolRun bare = Rebuild(dir, data, {"--compare-url", server.url(), "--progress", "none"});
  EXPECT_EQ(bare.exit_code, 1);
  EXPECT_NE(bare.out.find("the server sent no entity digests"), std::string::npos) << bare.out;
}

// Runbook, "the snapshots column family is lost".
TEST(RebuildToolTest, RunbookLostSnapshotColumnFamily) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  registry::RegistryOptions o;
  o.snapshot_every = 50;
  Node node(data, Master(), o);
  bench::WorkloadOptions w;
  w.keys = 30;
  w.commands = 300;
  ASSERT_OK(bench::RunWorkload(node.registry(), node.log(), w));
  const std::string digest = projections::StateDigestHex(*node.registry().Current());
  node.Close();
  {
    RawDb raw(data);
    raw.DropColumnFamily("snapshots");
  }
  ToolRun none = Rebuild(dir, data, {"--progress", "none"});
  EXPECT_EQ(none.exit_code, 0) << none.out << none.err;
  EXPECT_NE(none.out.find("snapshots: none stored"), std::string::npos) << none.out;
  // Step 1: recreate the snapshot offline (the open recreates the column family).
  ToolRun written = Rebuild(dir, data, {"--write-snapshot", "--progress", "none"});
  ASSERT_EQ(written.exit_code, 0) << written.out << written.err;
  ToolRun matches = Rebuild(dir, data, {"--progress", "none"});
  EXPECT_EQ(matches.exit_code, 0);
  EXPECT_NE(matches.out.find("digest matches"), std::string::npos) << matches.out;
  // Step 2: start the service: it loads that snapshot, same digest.
  node.log_lines().clear();
  node.Open();
  EXPECT_EQ(projections::StateDigestHex(*node.registry().Current()), digest);
  for (const auto& line : node.log_lines()) {
    EXPECT_EQ(line.find("replaying the log from sequence 1"), std::string::npos) << line;
  }
  node.Close();
  // Without step 1 the service still starts (a full replay) with the same digest.
  {
    RawDb raw(data);
    raw.DropColumnFamily("snapshots");
  }
  node.Open();
  EXPECT_EQ(projections::StateDigestHex(*node.registry().Current()), digest);
}

// Runbook, "restore from an export": the data directory is lost; an export and an older backup
// copy of the directory (for the keyring) bring the service back with the same digest, readable
// secrets for keys the backup knew, and shredding that happened after the backup kept.
TEST(RebuildToolTest, RunbookRestoreFromAnExportAndAKeyringBackup) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  const std::string backup = dir.Sub("backup");
  Node node(data, Master());
  const std::string p = node.CreateProvider("p");
  const std::string kept = node.CreateKey(p, "sk-kept-0123456789abcdef-kept");
  const std::string doomed = node.CreateKey(p, "sk-doomed-0123456789abcdef-doomed");
  bench::WorkloadOptions w;
  w.seed = 7;
  w.keys = 10;
  w.commands = 100;
  ASSERT_OK(bench::RunWorkload(node.registry(), node.log(), w));
  // A backup copy of the directory, taken with the server stopped.
  node.Close();
  fs::copy(data, backup, fs::copy_options::recursive);
  node.Open();
  std::string doomed_dek = node.registry().Current()->keys.Find(doomed)->secret.sealed.dek_id;
  ASSERT_OK(node.Run(registry::MakeDeleteKey(doomed)));
  const std::string later = node.CreateKey(p, "sk-later-0123456789abcdef-later");
  w.seed = 8;  // new provider names
  ASSERT_OK(bench::RunWorkload(node.registry(), node.log(), w));
  // Archive: an export taken while the server runs.
  ToolRun exported = Audit(dir, {"export", "--data-dir", data, "--output", dir.Sub("x.jsonl")});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const std::string digest = projections::StateDigestHex(*node.registry().Current());
  const events::Head head = node.log().GetHead();
  node.Close();
  fs::remove_all(data);  // the disaster

  // Step 1: import into a new directory with the keyring of the backup.
  const std::string restored = dir.Sub("restored");
  ToolRun imported =
      Audit(dir, {"import", "--data-dir", restored, dir.Sub("x.jsonl"), "--keyring-from", backup});
  ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  EXPECT_NE(imported.out.find("state digest: " + digest), std::string::npos) << imported.out;
  EXPECT_NE(imported.out.find("key " + later), std::string::npos) << imported.out;
  EXPECT_EQ(imported.out.find("key " + kept), std::string::npos) << imported.out;
  // Step 2: verify the chain (and a checkpoint, when one was archived).
  ToolRun verified = Audit(dir, {"verify", "--data-dir", restored});
  EXPECT_EQ(verified.exit_code, 0) << verified.out;
  EXPECT_NE(verified.out.find(crypto::HexEncode(crypto::AsBytes(head.hash))), std::string::npos);
  // Step 3: write the snapshot.
  ToolRun rebuilt = Rebuild(dir, restored, {"--write-snapshot", "--progress", "none"});
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.out << rebuilt.err;
  {
    RawDb raw(restored);  // shredded after the backup: not resurrected
    EXPECT_EQ(raw.Get("keyring", "dek/" + doomed_dek), std::nullopt);
  }
  // Step 4: start the service with the backup's master key.
  Node back(restored, Master());
  EXPECT_EQ(projections::StateDigestHex(*back.registry().Current()), digest);
  ASSERT_OK_AND_ASSIGN(auto revealed, back.Run(registry::MakeRevealKey(kept)));
  EXPECT_NE(revealed.body.find("sk-kept-0123456789abcdef-kept"), std::string::npos);
  EXPECT_FALSE(back.Run(registry::MakeRevealKey(later)).ok());  // Aether's "cannot decrypt"
  EXPECT_EQ(Unseal(back, later).code(), ErrorCode::kShredded);
  back.Close();

  // Without a keyring the history and projections come back, every secret unreadable.
  const std::string bare = dir.Sub("bare");
  ToolRun bare_import = Audit(dir, {"import", "--data-dir", bare, dir.Sub("x.jsonl")});
  ASSERT_EQ(bare_import.exit_code, 0) << bare_import.err;
  EXPECT_NE(bare_import.out.find("key " + kept), std::string::npos);
  Node bare_node(bare, Master());
  EXPECT_EQ(projections::StateDigestHex(*bare_node.registry().Current()), digest);
  EXPECT_FALSE(bare_node.Run(registry::MakeRevealKey(kept)).ok());
  EXPECT_EQ(Unseal(bare_node, kept).code(), ErrorCode::kShredded);
  bare_node.Close();

  // A keyring backup of another deployment is refused.
  TempDir other;
  {
    Node stranger(other.Sub("data"), Master());
    stranger.CreateProvider("x");
  }
  ToolRun foreign = Audit(dir, {"import", "--data-dir", dir.Sub("r2"), dir.Sub("x.jsonl"),
                                "--keyring-from", other.Sub("data")});
  EXPECT_EQ(foreign.exit_code, 1);
  EXPECT_NE(foreign.err.find("not a copy of this log"), std::string::npos) << foreign.err;
}

TEST(RebuildToolTest, BrokenChainIsReportedAndNothingIsWritten) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  {
    Node node(data, Master());
    const std::string p = node.CreateProvider("p");
    for (int i = 0; i < 3; ++i) node.CreateKey(p, "sk-chain-" + std::to_string(i));
  }
  std::vector<std::pair<std::string, std::string>> snapshots_before;
  {
    RawDb raw(data);
    auto events = raw.All("events");
    std::string v = events[2].second;
    v[v.size() / 2] = static_cast<char>(v[v.size() / 2] ^ 1);
    raw.Put("events", events[2].first, v);
    snapshots_before = raw.All("snapshots");
  }
  ToolRun r = Rebuild(dir, data, {"--write-snapshot", "--progress", "none"});
  EXPECT_NE(r.exit_code, 0);
  ToolRun ro = Rebuild(dir, data, {"--progress", "none"});
  EXPECT_EQ(ro.exit_code, 1);
  EXPECT_NE(ro.err.find("the hash chain is broken: record 3 does not match its hash"),
            std::string::npos)
      << ro.err;
  RawDb raw(data);
  EXPECT_EQ(raw.All("snapshots"), snapshots_before);
}

TEST(RebuildToolTest, ProgressHelpAndErrors) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  projections::StatePtr live;
  {
    Node node(data, Master());
    bench::WorkloadOptions w;
    w.keys = 20;
    w.commands = 500;
    w.health_items_per_report = 10;
    ASSERT_OK(bench::RunWorkload(node.registry(), node.log(), w));
    live = node.registry().Current();
  }
  // The token from the environment, the server's base URL with a trailing slash, text output.
  TinyHttpServer server([&](const std::string& target, const std::string& auth) {
    return DigestRoute(*live, target, auth);
  });
  ToolRun by_env = Rebuild(dir, data, {"--compare-url", server.url() + "/", "--progress", "none"},
                           {std::string("KEYLEDGER_TOKEN=") + kToken});
  EXPECT_EQ(by_env.exit_code, 0) << by_env.out << by_env.err;
  EXPECT_NE(by_env.out.find("live server at sequence " + std::to_string(live->sequence) +
                            ": digest matches"),
            std::string::npos)
      << by_env.out;

  ToolRun bar = Rebuild(dir, data, {"--progress", "bar", "--dry-run"});
  EXPECT_EQ(bar.exit_code, 0) << bar.err;
  EXPECT_NE(bar.err.find('\r'), std::string::npos);
  EXPECT_NE(bar.err.find("events/s"), std::string::npos);
  EXPECT_NE(bar.err.find("ETA"), std::string::npos);
  EXPECT_NE(bar.out.find("verified "), std::string::npos);
  ToolRun lines = Rebuild(dir, data, {"--progress", "lines"});
  EXPECT_EQ(lines.err.find('\r'), std::string::npos);
  EXPECT_NE(lines.err.find("rebuild: "), std::string::npos) << lines.err;
  EXPECT_NE(lines.err.find("events/s"), std::string::npos);
  EXPECT_TRUE(Rebuild(dir, data, {"--progress", "none"}).err.empty());
  ToolRun dry = Rebuild(dir, data, {"--write-snapshot", "--dry-run", "--progress", "none"});
  EXPECT_EQ(dry.exit_code, 0);
  EXPECT_NE(dry.out.find("dry run: would replace"), std::string::npos) << dry.out;

  ToolRun help = RunTool(KEYLEDGER_REBUILD_BIN, {"--help"}, dir);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(help.out.starts_with("usage: keyledger-rebuild")) << help.out;
  EXPECT_EQ(RunTool(KEYLEDGER_REBUILD_BIN, {}, dir, {"KEYLEDGER_DATA_DIR="}).exit_code, 2);
  EXPECT_EQ(Rebuild(dir, data, {"--progress", "sideways"}).exit_code, 2);
  EXPECT_EQ(Rebuild(dir, data, {"--compare-url", "https://127.0.0.1:1"}).exit_code, 2);
  ToolRun down = Rebuild(dir, data, {"--compare-url", "http://127.0.0.1:1", "--timeout", "5"});
  EXPECT_EQ(down.exit_code, 3);
  EXPECT_NE(down.err.find("cannot connect"), std::string::npos) << down.err;
  ToolRun missing = Rebuild(dir, dir.Sub("nowhere"), {});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos);
  ForeignRocksDb(dir.Sub("foreign"));
  ToolRun foreign = Rebuild(dir, dir.Sub("foreign"), {});
  EXPECT_EQ(foreign.exit_code, 3);
  EXPECT_NE(foreign.err.find("not a keyledger log"), std::string::npos) << foreign.err;
}

}  // namespace
}  // namespace keyledger::tools::testing
