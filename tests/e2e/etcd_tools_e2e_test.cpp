// keyledger-audit, keyledger-rebuild and keyledger-keys on an etcd log (--etcd-endpoints in place
// of --data-dir), and the move of a single-node RocksDB deployment onto etcd (README "Moving onto
// etcd"): keyledgerd on RocksDB with keys -> stop -> export -> import into etcd with the keyring
// -> keyledgerd --store etcd serves the same keys, the same head hash, and reveal still works.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "events/etcd_client.hpp"
#include "tests/e2e/e2e_support.hpp"
#include "tests/support/etcd_cluster.hpp"

namespace keyledger::e2e {
namespace {

using keyledger::testing::EtcdCluster;

std::string RebuildToolPath() { return KEYLEDGER_REBUILD_BIN; }
std::string KeysToolPath() { return KEYLEDGER_KEYS_BIN; }

// What `keyledger-audit verify --format json` says, reduced to what must match across stores.
struct Verified {
  bool ok = false;
  int64_t checked = -1;
  int64_t head_sequence = -1;
  std::string head_hash;
};

Verified ParseVerify(const ProcessResult& r) {
  Verified v;
  Json j(r.out);
  if (!j.ok()) return v;
  v.ok = Bool(j.root(), "ok").value_or(false);
  v.checked = Int(j.root(), "checked").value_or(-1);
  v.head_sequence = Int(j["head"], "sequence").value_or(-1);
  v.head_hash = Str(j["head"], "hash").value_or("");
  return v;
}

class EtcdToolsTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    cluster_ = EtcdCluster::Shared();
    ASSERT_NE(cluster_, nullptr);
    prefix_ = EtcdCluster::UniquePrefix();
  }
  std::string Endpoints() const {
    std::string endpoints;
    for (const std::string& e : cluster_->endpoints()) {
      endpoints += (endpoints.empty() ? "" : ",") + e;
    }
    return endpoints;
  }
  std::vector<std::string> Etcd() const {
    return {"--etcd-endpoints", Endpoints(), "--etcd-prefix", prefix_};
  }
  ProcessResult Run(const std::string& bin, std::vector<std::string> args,
                    const std::vector<std::string>& store) {
    args.insert(args.begin(), bin);
    args.insert(args.end(), store.begin(), store.end());
    return RunProcess(args, scratch_dir_);  // KEYLEDGER_* variables are not passed on
  }
  // Keys under the prefix (0 for a prefix nothing was written to).
  size_t KeysUnderPrefix() {
    events::etcd::ClientOptions o;
    o.endpoints = cluster_->endpoints();
    auto client = events::etcd::Client::Create(o);
    EXPECT_TRUE(client.ok());
    if (!client.ok()) return 0;
    events::etcd::RangeRequest all;
    all.key = prefix_ + "/";
    all.range_end = events::etcd::PrefixEnd(all.key);
    all.keys_only = true;
    auto kvs = (*client)->Range(all);
    EXPECT_TRUE(kvs.ok()) << kvs.status().ToString();
    return kvs.ok() ? kvs->kvs.size() : 0;
  }

  EtcdCluster* cluster_ = nullptr;
  std::string prefix_;
};

TEST_F(EtcdToolsTest, MoveARocksDbDeploymentOntoEtcd) {
  // 1. A single node on RocksDB with keys: one kept, one deleted (its data key shredded).
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "migrated");
  const std::string secret = NewSecret("migrate");
  CreatedKey kept = CreateKey(admin, provider, R"(["CLAUDE"])", secret, "kept");
  CreatedKey gone = CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("gone"), "gone");
  ASSERT_FALSE(kept.id.empty());
  ASSERT_FALSE(gone.id.empty());
  ASSERT_EQ(admin.Delete(KeyPath(gone.id)).status, 200);
  TestResponse before = admin.Get(KeysOf(provider));
  ASSERT_EQ(before.status, 200) << before.body;

  // 2. Stop it; its directory is the export's source and the keyring's backup.
  ASSERT_EQ(daemon_->Stop(SIGTERM), 0) << daemon_->CurrentStderr();
  const std::vector<std::string> rocks = {"--data-dir", data_dir_};
  ProcessResult verify_rocks = Run(AuditToolPath(), {"verify", "--format", "json"}, rocks);
  ASSERT_EQ(verify_rocks.exit_code, 0) << verify_rocks.err;
  const Verified on_rocks = ParseVerify(verify_rocks);
  ASSERT_TRUE(on_rocks.ok) << verify_rocks.out;
  ASSERT_GT(on_rocks.head_sequence, 0);

  // 3. Export, 4. import into etcd with the keyring carried over (still wrapped).
  const std::string export_file = dir_.Sub("export.jsonl");
  ProcessResult exported = Run(AuditToolPath(), {"export", "--output", export_file}, rocks);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  ProcessResult imported =
      Run(AuditToolPath(), {"import", export_file, "--keyring-from", data_dir_}, Etcd());
  ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  EXPECT_NE(imported.out.find("etcd prefix " + prefix_), std::string::npos) << imported.out;
  EXPECT_NE(imported.err.find("restored the keyring"), std::string::npos) << imported.err;

  // 5. Same chain, same head hash, same digest on both stores.
  ProcessResult verify_etcd = Run(AuditToolPath(), {"verify", "--format", "json"}, Etcd());
  ASSERT_EQ(verify_etcd.exit_code, 0) << verify_etcd.err;
  const Verified on_etcd = ParseVerify(verify_etcd);
  EXPECT_TRUE(on_etcd.ok);
  EXPECT_EQ(on_etcd.checked, on_rocks.checked);
  EXPECT_EQ(on_etcd.head_sequence, on_rocks.head_sequence);
  EXPECT_EQ(on_etcd.head_hash, on_rocks.head_hash);
  ProcessResult rebuild_rocks =
      Run(RebuildToolPath(), {"--dry-run", "--format", "json", "--progress", "none"}, rocks);
  ASSERT_EQ(rebuild_rocks.exit_code, 0) << rebuild_rocks.err;
  ProcessResult rebuild_etcd =
      Run(RebuildToolPath(), {"--format", "json", "--progress", "none"}, Etcd());
  ASSERT_EQ(rebuild_etcd.exit_code, 0) << rebuild_etcd.err;
  Json rebuilt_rocks(rebuild_rocks.out), rebuilt_etcd(rebuild_etcd.out);
  ASSERT_TRUE(rebuilt_rocks.ok() && rebuilt_etcd.ok()) << rebuild_etcd.out;
  EXPECT_EQ(Str(rebuilt_etcd.root(), "digest"), Str(rebuilt_rocks.root(), "digest"));
  EXPECT_EQ(Int(rebuilt_etcd.root(), "sequence"), on_rocks.head_sequence);

  // 6. A node on etcd with the same master key and tokens file (a fresh data directory: its
  // snapshots only) serves the same keys, and reveal opens the secret with the carried keyring.
  std::unique_ptr<Daemon> node_ptr = AnotherNode("node");
  Daemon& node = *node_ptr;
  std::vector<std::string> node_args = {"--store", "etcd"};
  for (const std::string& a : Etcd()) node_args.push_back(a);
  ASSERT_TRUE(node.Start(node_args)) << node.error();
  Client on_node(node.port(), admin_token_);
  TestResponse after = on_node.Get(KeysOf(provider));
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.body, before.body);
  TestResponse reveal = on_node.Get(KeyPath(kept.id) + "/reveal", {{"X-Audit-Reason", "migrated"}});
  ASSERT_EQ(reveal.status, 200) << reveal.body;
  EXPECT_NE(reveal.body.find(secret), std::string::npos);
  // The deleted key stays deleted (and its data key was not carried over).
  EXPECT_NE(on_node.Get(KeyPath(gone.id) + "/reveal", {{"X-Audit-Reason", "x"}}).status, 200);

  // The reveal appended to the etcd log, which the tools read while the node runs.
  ProcessResult verify_live = Run(AuditToolPath(), {"verify", "--format", "json"}, Etcd());
  EXPECT_EQ(verify_live.exit_code, 0) << verify_live.err;
  EXPECT_GT(ParseVerify(verify_live).head_sequence, on_rocks.head_sequence);
  ProcessResult history = Run(AuditToolPath(), {"history", kept.id, "--format", "jsonl"}, Etcd());
  EXPECT_EQ(history.exit_code, 0) << history.err;
  EXPECT_NE(history.out.find("KeyRevealed"), std::string::npos) << history.out;
  ProcessResult log = Run(AuditToolPath(), {"log", "--format", "jsonl", "--limit", "1"}, Etcd());
  EXPECT_EQ(log.exit_code, 0) << log.err;
  ProcessResult state =
      Run(AuditToolPath(), {"state", "--as-of-seq", "1000000", "--compact"}, Etcd());
  EXPECT_EQ(state.exit_code, 0) << state.err;
  EXPECT_NE(state.out.find(provider), std::string::npos) << state.out;
  ProcessResult reexport = Run(AuditToolPath(), {"export"}, Etcd());
  EXPECT_EQ(reexport.exit_code, 0) << reexport.err;
  EXPECT_TRUE(reexport.out.starts_with(ReadWholeFile(export_file))) << "etcd export differs";
  ProcessResult compared =
      Run(RebuildToolPath(),
          {"--progress", "none", "--compare-url", node.url(), "--token", admin_token_}, Etcd());
  EXPECT_EQ(compared.exit_code, 0) << compared.out << compared.err;
  EXPECT_EQ(node.Stop(SIGTERM), 0) << node.CurrentStderr();
  for (const std::string& s : secrets()) {
    EXPECT_EQ(node.AllStderr().find(s), std::string::npos) << "a plaintext secret reached the log";
    EXPECT_EQ(imported.out.find(s), std::string::npos);
    EXPECT_EQ(imported.err.find(s), std::string::npos);
  }

  // A second import into the now non-empty prefix is refused and changes nothing.
  ProcessResult again = Run(AuditToolPath(), {"import", export_file}, Etcd());
  EXPECT_EQ(again.exit_code, 3) << again.err;
  EXPECT_NE(again.err.find("already holds"), std::string::npos) << again.err;
}

TEST_F(EtcdToolsTest, ReadersNeverCreateALogAndRotateMasterRefuses) {
  ProcessResult verify = Run(AuditToolPath(), {"verify"}, Etcd());
  EXPECT_EQ(verify.exit_code, 3) << verify.err;
  EXPECT_NE(verify.err.find("holds no keyledger log"), std::string::npos) << verify.err;
  ProcessResult rebuild = Run(RebuildToolPath(), {"--progress", "none"}, Etcd());
  EXPECT_EQ(rebuild.exit_code, 3) << rebuild.err;
  EXPECT_EQ(KeysUnderPrefix(), 0u) << "a reader wrote to etcd";

  // rotate-master on etcd: refused with a clear message, nothing written.
  const std::string key_file = dir_.Sub("new.key");
  ProcessResult rotate =
      Run(KeysToolPath(), {"rotate-master", "--new-master-key-file", key_file}, Etcd());
  EXPECT_EQ(rotate.exit_code, 1) << rotate.err;
  EXPECT_NE(rotate.err.find("does not support an etcd log"), std::string::npos) << rotate.err;
  EXPECT_EQ(KeysUnderPrefix(), 0u);

  // --write-snapshot belongs to a data directory: on etcd each node keeps its own snapshots.
  ProcessResult snapshot = Run(RebuildToolPath(), {"--write-snapshot"}, Etcd());
  EXPECT_EQ(snapshot.exit_code, 2) << snapshot.err;
  EXPECT_NE(snapshot.err.find("each keyledgerd keeps its own"), std::string::npos) << snapshot.err;
}

TEST_F(EtcdToolsTest, BadStoreOptionsAreUsageErrors) {
  const std::string dir = data_dir_;
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--data-dir", dir, "--etcd-endpoints", "http://127.0.0.1:2379"}, "not both"},
      {{}, "--data-dir is required (or set KEYLEDGER_DATA_DIR), or --etcd-endpoints"},
      {{"--data-dir", dir, "--etcd-prefix", "/x"}, "--etcd-prefix applies to an etcd log"},
      {{"--etcd-endpoints", "127.0.0.1:2379"}, "is not http://HOST:PORT"},
      {{"--etcd-endpoints", " , "}, "names no endpoint"},
      {{"--etcd-endpoints", "http://h:1", "--etcd-prefix", "/trailing/"}, "--etcd-prefix must"},
      {{"--etcd-endpoints", "http://h:1", "--etcd-cert", "c.pem"}, "go together"},
      {{"--etcd-endpoints", "http://h:1", "--etcd-user", "u"}, "go together"},
  };
  const std::vector<std::pair<std::string, std::vector<std::string>>> commands = {
      {AuditToolPath(), {"verify"}},
      {AuditToolPath(), {"log"}},
      {AuditToolPath(), {"history", "k"}},
      {AuditToolPath(), {"state", "--as-of-seq", "1"}},
      {AuditToolPath(), {"export"}},
      {AuditToolPath(), {"import", "/dev/null"}},
      {RebuildToolPath(), {}},
      {KeysToolPath(), {"rotate-master", "--new-master-key-file", "k"}},
  };
  for (const auto& [bin, command] : commands) {
    for (const Case& c : cases) {
      ProcessResult r = Run(bin, command, c.args);
      const std::string what = command.empty() ? bin : bin + " " + command.front();
      EXPECT_EQ(r.exit_code, 2) << what << " " << c.message << ": " << r.err;
      EXPECT_NE(r.err.find(c.message), std::string::npos) << what << ": " << r.err;
    }
  }
  // Both variables set and no flag to choose: a usage error; a flag chooses.
  ProcessResult both =
      RunProcess({"/usr/bin/env", "KEYLEDGER_DATA_DIR=" + dir,
                  "KEYLEDGER_ETCD_ENDPOINTS=http://127.0.0.1:1", AuditToolPath(), "verify"},
                 scratch_dir_);
  EXPECT_EQ(both.exit_code, 2) << both.err;
  EXPECT_NE(both.err.find("are both set"), std::string::npos) << both.err;
  ProcessResult chosen = RunProcess(
      {"/usr/bin/env", "KEYLEDGER_DATA_DIR=" + dir, "KEYLEDGER_ETCD_ENDPOINTS=http://127.0.0.1:1",
       AuditToolPath(), "verify", "--data-dir", dir_.Sub("none")},
      scratch_dir_);
  EXPECT_EQ(chosen.exit_code, 3) << chosen.err;
  EXPECT_NE(chosen.err.find("does not exist"), std::string::npos) << chosen.err;
}

TEST_F(EtcdToolsTest, UnreachableEtcdFailsWithinBoundedTime) {
  // Nothing listens on port 1: every call fails over until the client's deadline (about 6 s).
  for (const auto& [bin, command] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {AuditToolPath(), {"verify"}}, {RebuildToolPath(), {"--progress", "none"}}}) {
    const auto start = std::chrono::steady_clock::now();
    ProcessResult r = Run(bin, command, {"--etcd-endpoints", "http://127.0.0.1:1"});
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.exit_code, 3) << r.err;  // could not run (src/cli/exit_code.hpp)
    EXPECT_NE(r.err.find("cannot reach etcd"), std::string::npos) << r.err;
    EXPECT_LT(took, std::chrono::seconds(20));
  }
}

}  // namespace
}  // namespace keyledger::e2e
