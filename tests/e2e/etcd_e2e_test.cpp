// keyledgerd on etcd (--store etcd) against a three-member cluster on loopback: create and read
// over HTTP, restart and read again, then a second start on a fresh data directory holding only
// the master key and the tokens file (so the log, the keyring and the idempotency records can
// only come from etcd); no plaintext secret is stored in etcd. Then several nodes on one
// cluster (ETCD.md "Several nodes"): concurrent If-Match updates through two nodes lose
// nothing, both nodes converge to one digest, X-Keyledger-Min-Seq reads another node's write,
// losing quorum answers 503 in bounded time while reads go on, and killing one node leaves the
// other serving.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "events/etcd_client.hpp"
#include "tests/e2e/e2e_support.hpp"
#include "tests/support/etcd_cluster.hpp"

namespace keyledger::e2e {
namespace {

using keyledger::testing::EtcdCluster;

class EtcdE2eTest : public E2eTest {
 protected:
  std::vector<std::string> StoreArgs(const std::string& prefix) {
    std::string endpoints;
    for (const std::string& e : cluster_->endpoints()) {
      endpoints += (endpoints.empty() ? "" : ",") + e;
    }
    return {"--store", "etcd", "--etcd-endpoints", endpoints, "--etcd-prefix", prefix};
  }
  void SetUp() override {
    E2eTest::SetUp();
    cluster_ = EtcdCluster::Shared();
    ASSERT_NE(cluster_, nullptr);
  }
  // A second node on the prefix, sharing the first node's master key and tokens file (the
  // first node must have started).
  std::unique_ptr<Daemon> StartSecondNode(const std::string& prefix,
                                          const std::vector<std::string>& extra = {}) {
    const std::string dir = dir_.Sub("node-b");
    const std::string logs = dir_.Sub("node-b-logs");
    std::filesystem::create_directories(dir);
    std::filesystem::create_directories(logs);
    for (const char* name : {"master.key", "tokens.json"}) {
      std::filesystem::copy_file(std::filesystem::path(data_dir_) / name,
                                 std::filesystem::path(dir) / name);
    }
    auto node = std::make_unique<Daemon>(dir, logs);
    std::vector<std::string> args = StoreArgs(prefix);
    args.insert(args.end(), extra.begin(), extra.end());
    EXPECT_TRUE(node->Start(args)) << node->error();
    return node;
  }
  // Leaves every member running (a test may have stopped some) and the cluster healthy.
  void TearDown() override {
    if (cluster_ != nullptr) {
      for (int i = 0; i < cluster_->size(); ++i) cluster_->Signal(i, SIGCONT);
      EXPECT_OK(cluster_->WaitHealthy());
    }
    E2eTest::TearDown();
  }
  EtcdCluster* cluster_ = nullptr;
};

uint64_t SeqOf(const TestResponse& r) {
  const std::string v = r.Header("X-Keyledger-Seq");
  return v.empty() ? 0 : std::stoull(v);
}

// Tallies of the increment loops below.
struct Tally {
  std::atomic<int> acknowledged{0};  // 200s: each must be in the final count
  std::atomic<int> unknown{0};       // no answer (the node died): may or may not be in it
  std::atomic<int> unavailable{0};   // 503
  std::atomic<uint64_t> max_seq{0};  // the highest X-Keyledger-Seq of a 200
  std::mutex mu;
  std::vector<std::string> unexpected;  // other answers
};

// Adds one to the key's note `times` times through the node on `port`: read the note and its
// ETag, write note + 1 with If-Match; a 412 (someone else wrote first) or a 503 is tried again.
// Bounded in attempts and time; stops early when the node stops answering or `stop` is set.
void Increment(uint16_t port, const std::string& token, const std::string& key_id, int times,
               Tally& tally, const std::atomic<bool>* stop = nullptr) {
  Client client(port, token);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  int done = 0;
  for (int attempt = 0; done < times && attempt < times * 100 &&
                        std::chrono::steady_clock::now() < deadline && !(stop && stop->load());
       ++attempt) {
    TestResponse got = client.Get(KeyPath(key_id));
    if (got.status == 0) return;  // the node is gone
    if (got.status != 200) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    Json j(got.body);
    const std::optional<std::string> note = j.ok() ? Str(j.root(), "note") : std::nullopt;
    const int n = note && !note->empty() ? std::stoi(*note) : 0;
    TestResponse put = client.Put(KeyPath(key_id), R"({"note":")" + std::to_string(n + 1) + "\"}",
                                  {{"If-Match", got.Header("ETag")}});
    if (put.status == 200) {
      ++tally.acknowledged;
      ++done;
      uint64_t seq = SeqOf(put);
      uint64_t seen = tally.max_seq.load();
      while (seq > seen && !tally.max_seq.compare_exchange_weak(seen, seq)) {
      }
    } else if (put.status == 0) {
      ++tally.unknown;
      return;
    } else if (put.status == 503) {
      ++tally.unavailable;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } else if (put.status != 412) {
      std::lock_guard lock(tally.mu);
      tally.unexpected.push_back(std::to_string(put.status) + " " + put.body);
    }
  }
}

// The key's note as a number, read through `client` once it has applied `min_seq`.
int NoteOf(Client& client, const std::string& key_id, uint64_t min_seq) {
  TestResponse r = client.Get(KeyPath(key_id), {{"X-Keyledger-Min-Seq", std::to_string(min_seq)}});
  EXPECT_EQ(r.status, 200) << r.body;
  Json j(r.body);
  const std::optional<std::string> note = j.ok() ? Str(j.root(), "note") : std::nullopt;
  return note && !note->empty() ? std::stoi(*note) : 0;
}

TEST_F(EtcdE2eTest, CreateReadRestartAndReadFromAnotherDataDirectory) {
  const std::string prefix = EtcdCluster::UniquePrefix();
  StartServer(StoreArgs(prefix));
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "etcd-provider");
  const std::string secret = NewSecret("etcd");
  CreatedKey key = CreateKey(admin, provider, R"(["CLAUDE"])", secret, "etcd-key");
  ASSERT_FALSE(key.id.empty());
  TestResponse list = admin.Get(KeysOf(provider));
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_NE(list.body.find(key.id), std::string::npos);
  const uint64_t head = HeadSequence();
  EXPECT_GT(head, 0u);

  RestartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client again = Admin();
  TestResponse list2 = again.Get(KeysOf(provider));
  ASSERT_EQ(list2.status, 200) << list2.body;
  EXPECT_EQ(list2.body, list.body);
  EXPECT_EQ(HeadSequence(), head);
  // The keyring (an aux space in etcd) and the master key still open the secret.
  TestResponse reveal = again.Get(KeyPath(key.id) + "/reveal", {{"X-Audit-Reason", "e2e"}});
  ASSERT_EQ(reveal.status, 200) << reveal.body;
  EXPECT_NE(reveal.body.find(secret), std::string::npos);
  ASSERT_EQ(daemon_->Stop(SIGTERM), 0) << daemon_->CurrentStderr();
  // The data directory holds no RocksDB log: only the node's own files and its snapshots.
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(data_dir_) / "CURRENT"));

  // Another node: a fresh data directory with only the master key and the tokens file.
  const std::string fresh = dir_.Sub("fresh");
  const std::string fresh_logs = dir_.Sub("fresh-logs");
  std::filesystem::create_directories(fresh);
  std::filesystem::create_directories(fresh_logs);
  for (const char* name : {"master.key", "tokens.json"}) {
    std::filesystem::copy_file(std::filesystem::path(data_dir_) / name,
                               std::filesystem::path(fresh) / name);
  }
  Daemon other(fresh, fresh_logs);
  ASSERT_TRUE(other.Start(StoreArgs(prefix))) << other.error();
  Client on_other(other.port(), admin_token_);
  TestResponse list3 = on_other.Get(KeysOf(provider));
  EXPECT_EQ(list3.status, 200) << list3.body;
  EXPECT_EQ(list3.body, list.body);
  TestResponse reveal2 = on_other.Get(KeyPath(key.id) + "/reveal", {{"X-Audit-Reason", "e2e"}});
  EXPECT_EQ(reveal2.status, 200) << reveal2.body;
  EXPECT_EQ(other.Stop(SIGTERM), 0) << other.CurrentStderr();
  for (const std::string& s : secrets()) {
    EXPECT_EQ(other.AllStderr().find(s), std::string::npos) << "a plaintext secret reached the log";
  }

  // Nothing under the prefix holds a plaintext secret or the admin token.
  events::etcd::ClientOptions o;
  o.endpoints = cluster_->endpoints();
  auto client = events::etcd::Client::Create(o);
  ASSERT_TRUE(client.ok());
  events::etcd::RangeRequest all;
  all.key = prefix + "/";
  all.range_end = events::etcd::PrefixEnd(all.key);
  auto kvs = (*client)->Range(all);
  ASSERT_TRUE(kvs.ok()) << kvs.status().ToString();
  EXPECT_GT(kvs->kvs.size(), 5u);
  for (const auto& kv : kvs->kvs) {
    for (const std::string& s : secrets()) {
      EXPECT_EQ(kv.value.find(s), std::string::npos) << "plaintext secret in etcd key " << kv.key;
    }
    EXPECT_EQ(kv.value.find(admin_token_), std::string::npos) << kv.key;
  }
}

// Two nodes update the same keys at once with If-Match: every 200 is in the final count (no
// lost update across nodes), both nodes serve the same digest, a write on one node is read on
// the other with X-Keyledger-Min-Seq, and a key created on one node reveals on the other.
TEST_F(EtcdE2eTest, TwoNodesShareOneLogWithoutLostUpdates) {
  const std::string prefix = EtcdCluster::UniquePrefix();
  StartServer(StoreArgs(prefix));
  ASSERT_FALSE(HasFatalFailure());
  std::unique_ptr<Daemon> b = StartSecondNode(prefix, {"--min-seq-wait-ms", "1000"});
  ASSERT_TRUE(b->running());
  Client on_a = Admin();
  Client on_b(b->port(), admin_token_);

  const std::string provider = CreateProvider(on_a, "shared-provider");
  const std::string secret = NewSecret("shared");
  CreatedKey k1 = CreateKey(on_a, provider, R"(["CLAUDE"])", secret, "shared-1");
  CreatedKey k2 = CreateKey(on_a, provider, R"(["CLAUDE"])", NewSecret("shared"), "shared-2");
  ASSERT_FALSE(k1.id.empty());
  ASSERT_FALSE(k2.id.empty());

  // Every answer says which sequence it reflects; Min-Seq makes b wait for a's write.
  TestResponse created = on_a.Get(KeyPath(k2.id));
  ASSERT_EQ(created.status, 200);
  const uint64_t after_create = SeqOf(created);
  EXPECT_GT(after_create, 0u);
  TestResponse on_other =
      on_b.Get(KeyPath(k2.id), {{"X-Keyledger-Min-Seq", std::to_string(after_create)}});
  ASSERT_EQ(on_other.status, 200) << on_other.body;
  EXPECT_GE(SeqOf(on_other), after_create);
  EXPECT_EQ(on_other.Header("ETag"), created.Header("ETag"));
  TestResponse reveal = on_b.Get(KeyPath(k1.id) + "/reveal", {{"X-Audit-Reason", "e2e"}});
  ASSERT_EQ(reveal.status, 200) << reveal.body;  // a data key created by the other node
  EXPECT_NE(reveal.body.find(secret), std::string::npos);
  // A malformed Min-Seq is the client's error; one out of reach is a bounded 503.
  EXPECT_EQ(on_b.Get(KeyPath(k1.id), {{"X-Keyledger-Min-Seq", "soon"}}).status, 400);
  TestResponse far = on_b.Get(KeyPath(k1.id), {{"X-Keyledger-Min-Seq", "999999999"}});
  EXPECT_EQ(far.status, 503);
  EXPECT_NE(far.body.find("X-Keyledger-Min-Seq 999999999 not reached within 1000 ms"),
            std::string::npos)
      << far.body;

  // An ETag read on one node guards a write on the other.
  const std::string stale_etag = created.Header("ETag");
  TestResponse moved = on_a.Put(KeyPath(k2.id), R"({"note":"0"})", {{"If-Match", stale_etag}});
  ASSERT_EQ(moved.status, 200) << moved.body;
  TestResponse refused = on_b.Put(KeyPath(k2.id), R"({"note":"lost"})", {{"If-Match", stale_etag}});
  EXPECT_EQ(refused.status, 412) << refused.body;
  EXPECT_FALSE(refused.Header("X-Keyledger-Seq").empty());

  // Eight clients, four per node and two per node and key, each adding 6 to a key's note.
  constexpr int kTimes = 12;
  Tally tally;
  std::vector<std::thread> clients;
  for (const std::string* key : {&k1.id, &k2.id}) {
    for (uint16_t node_port : {port(), b->port(), port(), b->port()}) {
      clients.emplace_back(Increment, node_port, admin_token_, *key, kTimes / 2, std::ref(tally),
                           nullptr);
    }
  }
  for (auto& t : clients) t.join();
  EXPECT_TRUE(tally.unexpected.empty()) << tally.unexpected.front();
  EXPECT_EQ(tally.unknown.load(), 0);
  const uint64_t last = tally.max_seq.load();
  const int total = NoteOf(on_a, k1.id, last) + NoteOf(on_a, k2.id, last);
  EXPECT_EQ(total, tally.acknowledged.load());
  EXPECT_EQ(NoteOf(on_b, k1.id, last) + NoteOf(on_b, k2.id, last), total);

  // Both nodes fold the same log into the same state.
  const uint64_t head = HeadSequence();
  const Headers at_head = {{"X-Keyledger-Min-Seq", std::to_string(head)}};
  TestResponse da = on_a.Get("/api/admin/audit/digest?entities=true", at_head);
  TestResponse db = on_b.Get("/api/admin/audit/digest?entities=true", at_head);
  ASSERT_EQ(da.status, 200) << da.body;
  ASSERT_EQ(db.status, 200) << db.body;
  EXPECT_EQ(da.body, db.body);
  EXPECT_EQ(SeqOf(da), SeqOf(db));
  EXPECT_EQ(b->Stop(SIGTERM), 0) << b->CurrentStderr();
  for (const std::string& s : secrets()) {
    EXPECT_EQ(b->AllStderr().find(s), std::string::npos) << "a plaintext secret reached the log";
  }
}

// Two of three etcd members stopped under write load: writes answer 503 within a bounded time,
// reads are served from the last applied state, /readyz says not ready and why; after SIGCONT
// writes resume on their own and no acknowledged write is lost.
TEST_F(EtcdE2eTest, WithoutQuorumWritesFailFastReadsGoOnAndAllResumes) {
  const std::string prefix = EtcdCluster::UniquePrefix();
  StartServer(StoreArgs(prefix));
  ASSERT_FALSE(HasFatalFailure());
  std::unique_ptr<Daemon> b = StartSecondNode(prefix);
  ASSERT_TRUE(b->running());
  Client on_a = Admin();
  const std::string provider = CreateProvider(on_a, "quorum-provider");
  CreatedKey key = CreateKey(on_a, provider, R"(["CLAUDE"])", NewSecret("quorum"), "quorum-key");
  CreatedKey probe = CreateKey(on_a, provider, R"(["CLAUDE"])", NewSecret("quorum"), "probe-key");
  ASSERT_FALSE(key.id.empty());
  ASSERT_FALSE(probe.id.empty());

  Tally tally;
  std::atomic<bool> stop{false};
  std::thread load(Increment, b->port(), admin_token_, key.id, 1000, std::ref(tally), &stop);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  cluster_->Signal(1, SIGSTOP);
  cluster_->Signal(2, SIGSTOP);

  // /readyz turns not ready with the reason (bounded wait).
  bool not_ready = false;
  std::string why;
  for (int i = 0; i < 150 && !not_ready; ++i) {
    TestResponse r = api::testing::Fetch(port(), "GET", "/readyz");
    not_ready = r.status == 503;
    why = r.body;
    if (!not_ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(not_ready);
  EXPECT_NE(why.find("no quorum"), std::string::npos) << why;
  // A write is refused within a bounded time; a read is served.
  const auto start = std::chrono::steady_clock::now();
  TestResponse write = on_a.Put(KeyPath(probe.id), R"({"note":"x"})");
  EXPECT_EQ(write.status, 503) << write.body;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  TestResponse read = on_a.Get(KeyPath(key.id));
  EXPECT_EQ(read.status, 200) << read.body;

  cluster_->Signal(1, SIGCONT);
  cluster_->Signal(2, SIGCONT);
  ASSERT_OK(cluster_->WaitHealthy(std::chrono::seconds(30)));
  bool ready = false;
  for (int i = 0; i < 300 && !ready; ++i) {
    ready = api::testing::Fetch(port(), "GET", "/readyz").status == 200;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(ready);
  // Writes resume through both nodes.
  const int before = tally.acknowledged.load();
  for (int i = 0; i < 300 && tally.acknowledged.load() < before + 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  load.join();
  EXPECT_GE(tally.acknowledged.load(), before + 3) << "writes did not resume";
  EXPECT_TRUE(tally.unexpected.empty()) << tally.unexpected.front();
  // Every acknowledged increment is in the count; a 503 may still have been applied (etcd
  // commits a proposal its leader logged once the quorum is back), never more.
  Client on_b(b->port(), admin_token_);
  const int note = NoteOf(on_b, key.id, tally.max_seq.load());
  EXPECT_GE(note, tally.acknowledged.load());
  EXPECT_LE(note, tally.acknowledged.load() + tally.unavailable.load());
  EXPECT_EQ(b->Stop(SIGTERM), 0) << b->CurrentStderr();
}

// kill -9 of one node under load through both: the other keeps serving reads and writes, and
// every write either node acknowledged is in the final state.
TEST_F(EtcdE2eTest, KillingOneNodeLeavesTheOtherServing) {
  const std::string prefix = EtcdCluster::UniquePrefix();
  StartServer(StoreArgs(prefix));
  ASSERT_FALSE(HasFatalFailure());
  std::unique_ptr<Daemon> b = StartSecondNode(prefix);
  ASSERT_TRUE(b->running());
  Client on_a = Admin();
  const std::string provider = CreateProvider(on_a, "kill-provider");
  CreatedKey key = CreateKey(on_a, provider, R"(["CLAUDE"])", NewSecret("kill"), "kill-key");
  ASSERT_FALSE(key.id.empty());

  Tally tally;
  std::atomic<bool> stop{false};
  std::thread via_a(Increment, port(), admin_token_, key.id, 1000, std::ref(tally), &stop);
  std::thread via_b(Increment, b->port(), admin_token_, key.id, 1000, std::ref(tally), &stop);
  for (int i = 0; i < 100 && tally.acknowledged.load() < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  b->Kill();
  via_b.join();
  const int at_kill = tally.acknowledged.load();
  for (int i = 0; i < 300 && tally.acknowledged.load() < at_kill + 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  via_a.join();
  EXPECT_GE(tally.acknowledged.load(), at_kill + 5) << "the surviving node stopped writing";
  EXPECT_TRUE(tally.unexpected.empty()) << tally.unexpected.front();
  const int note = NoteOf(on_a, key.id, tally.max_seq.load());
  EXPECT_GE(note, tally.acknowledged.load());
  EXPECT_LE(note, tally.acknowledged.load() + tally.unknown.load() + tally.unavailable.load());
  // The log the survivor sees verifies as one chain (the checkpoint names its head).
  EXPECT_GE(HeadSequence(), static_cast<uint64_t>(note));
}

TEST_F(EtcdE2eTest, EtcdOptionsAreCheckedBeforeAnythingStarts) {
  // --store etcd without endpoints, and etcd options without --store etcd: usage errors (2).
  ProcessResult r =
      RunProcess({KeyledgerdPath(), "--data-dir", data_dir_, "--store", "etcd"}, scratch_dir_);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--etcd-endpoints"), std::string::npos) << r.err;
  r = RunProcess(
      {KeyledgerdPath(), "--data-dir", data_dir_, "--etcd-endpoints", "http://127.0.0.1:2379"},
      scratch_dir_);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // An unreachable cluster: keyledgerd gives up within the request timeout and says why.
  r = RunProcess({KeyledgerdPath(), "--data-dir", data_dir_, "--listen", "127.0.0.1:0", "--store",
                  "etcd", "--etcd-endpoints", "http://127.0.0.1:1"},
                 scratch_dir_, std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("etcd"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace keyledger::e2e
