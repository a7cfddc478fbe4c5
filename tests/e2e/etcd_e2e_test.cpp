// keyledgerd on etcd (--store etcd) against a three-member cluster on loopback: create and read
// over HTTP, restart and read again, then a second start on a fresh data directory holding only
// the master key and the tokens file (so the log, the keyring and the idempotency records can
// only come from etcd); no plaintext secret is stored in etcd. Then several nodes on one
// cluster (ETCD.md "Several nodes"): concurrent If-Match updates through two nodes lose
// nothing, both nodes converge to one digest, X-Keyledger-Min-Seq reads another node's write,
// health reported to one node shows on the other, and deleting a key leaves its data key at no
// etcd revision. The faults (leader and node kill -9, quorum loss) are in
// etcd_faults_e2e_test.cpp; TLS and authentication in etcd_tls_e2e_test.cpp.
#include <signal.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
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
    std::unique_ptr<Daemon> node = AnotherNode("node-b");
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
  std::unique_ptr<Daemon> fresh = AnotherNode("fresh");
  Daemon& other = *fresh;
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
TEST_F(EtcdE2eTest, MinSeqGivesReadYourWritesOnAnotherNode) {
  const std::string prefix = EtcdCluster::UniquePrefix();
  StartServer(StoreArgs(prefix));
  ASSERT_FALSE(HasFatalFailure());
  std::unique_ptr<Daemon> b = StartSecondNode(prefix);
  ASSERT_TRUE(b->running());
  Client on_a(port(), admin_token_);
  Client on_b(b->port(), admin_token_);

  const std::string provider = CreateProvider(on_a, "min-seq-provider");
  const std::string list = "/api/admin/endpoints/providers/" + provider + "/keys";
  for (int i = 0; i < 5; ++i) {
    CreatedKey k = CreateKey(on_a, provider, R"(["CLAUDE"])", NewSecret("min-seq"),
                             "min-seq-" + std::to_string(i));
    ASSERT_FALSE(k.id.empty());
    // Every answer says which sequence it reflects; Min-Seq makes b wait for a's write.
    TestResponse seen = on_a.Get(list);
    ASSERT_EQ(seen.status, 200);
    const uint64_t seq = SeqOf(seen);
    ASSERT_GT(seq, 0u);
    TestResponse on_other = on_b.Get(list, {{"X-Keyledger-Min-Seq", std::to_string(seq)}});
    ASSERT_EQ(on_other.status, 200) << on_other.body;
    EXPECT_GE(SeqOf(on_other), seq);
    EXPECT_NE(on_other.body.find(k.id), std::string::npos) << "node b misses a's key " << k.id;
  }
  // A sequence nobody wrote: 503 after the bounded wait, with the reason.
  TestResponse ahead = on_b.Get(list, {{"X-Keyledger-Min-Seq", "999999999"}});
  EXPECT_EQ(ahead.status, 503);
  EXPECT_NE(ahead.body.find("not reached within"), std::string::npos) << ahead.body;
  // Not a sequence number: 400, nothing waited for.
  EXPECT_EQ(on_b.Get(list, {{"X-Keyledger-Min-Seq", "12abc"}}).status, 400);
}

// The key's version as a node sees it once it has applied `min_seq`: a write whose If-Match
// cannot hold ("0") is refused with 412 before anything is decided, and the 412 carries the
// current ETag (there is no single-key GET in Aether's API).
std::string VersionOn(Client& client, const std::string& key_id, uint64_t min_seq) {
  TestResponse r =
      client.Put(KeyPath(key_id), R"({"note":"probe"})",
                 {{"If-Match", "\"0\""}, {"X-Keyledger-Min-Seq", std::to_string(min_seq)}});
  EXPECT_EQ(r.status, 412) << r.body;
  return r.Header("ETag");
}

TEST_F(EtcdE2eTest, TwoNodesRacingOnIfMatchLoseNoUpdate) {
  const std::string prefix = EtcdCluster::UniquePrefix();
  StartServer(StoreArgs(prefix));
  ASSERT_FALSE(HasFatalFailure());
  std::unique_ptr<Daemon> b = StartSecondNode(prefix);
  ASSERT_TRUE(b->running());
  Client on_a(port(), admin_token_);
  const std::string provider = CreateProvider(on_a, "race-provider");
  CreatedKey key = CreateKey(on_a, provider, R"(["CLAUDE"])", NewSecret("race"), "race-key");
  ASSERT_FALSE(key.id.empty());
  const std::string start = VersionOn(on_a, key.id, 0);
  ASSERT_FALSE(start.empty());

  // Four writers, two through each node, each updating the key with If-Match until it has
  // 12 successes: a 412 hands it the current ETag to try again with. Bounded in attempts/time.
  constexpr int kWriters = 4;
  constexpr int kEach = 12;
  std::mutex mu;
  std::set<std::string> acknowledged;  // the ETag of every 200: one version per update
  std::vector<std::string> unexpected;
  std::atomic<uint64_t> max_seq{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      Client c(w % 2 == 0 ? port() : b->port(), admin_token_);
      std::string etag = start;
      int done = 0;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
      for (int attempt = 0;
           done < kEach && attempt < kEach * 200 && std::chrono::steady_clock::now() < deadline;
           ++attempt) {
        TestResponse put =
            c.Put(KeyPath(key.id),
                  R"({"note":"w)" + std::to_string(w) + "-" + std::to_string(done) + "\"}",
                  {{"If-Match", etag}});
        std::lock_guard lock(mu);
        if (put.status == 200) {
          ++done;
          etag = put.Header("ETag");
          if (!acknowledged.insert(etag).second) unexpected.push_back("ETag twice: " + etag);
          const uint64_t seq = SeqOf(put);
          if (seq > max_seq) max_seq = seq;
        } else if (put.status == 412) {
          etag = put.Header("ETag");
        } else if (put.status != 503) {
          unexpected.push_back(std::to_string(put.status) + " " + put.body);
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_TRUE(unexpected.empty()) << unexpected.front();
  ASSERT_EQ(acknowledged.size(), static_cast<size_t>(kWriters * kEach));

  // Every acknowledged update is a version of its own, and both nodes agree on the last one.
  const uint64_t v0 = std::stoull(start.substr(1));
  const std::string expected = "\"" + std::to_string(v0 + kWriters * kEach) + "\"";
  Client on_b(b->port(), admin_token_);
  EXPECT_EQ(VersionOn(on_a, key.id, max_seq), expected);
  EXPECT_EQ(VersionOn(on_b, key.id, max_seq), expected);
}

// Health reports change no event (only breaker transitions do), so no head moves: a node shows
// the telemetry another node took through its watch of the telemetry entries (ETCD.md "Health
// telemetry on several nodes"), and its next report adds to it rather than starting over.
TEST_F(EtcdE2eTest, HealthReportedToOneNodeShowsOnTheOther) {
  const std::string prefix = EtcdCluster::UniquePrefix();
  StartServer(StoreArgs(prefix));
  ASSERT_FALSE(HasFatalFailure());
  std::unique_ptr<Daemon> b = StartSecondNode(prefix);
  ASSERT_TRUE(b->running());
  Client on_a(port(), admin_token_);
  Client on_b(b->port(), admin_token_);
  const std::string provider = CreateProvider(on_a, "telemetry-provider");
  CreatedKey key = CreateKey(on_a, provider, R"(["CLAUDE"])", NewSecret("telemetry"), "t");
  ASSERT_FALSE(key.id.empty());
  const std::string health = std::string(kEndpointsBase) + "/health/key/" + key.id;
  auto report = [&](Client& c, int successes) {
    TestResponse r = c.Post(
        std::string(kEndpointsBase) + "/keys/health-reports",
        R"({"reports":[{"key_id":")" + key.id + R"(","api_format":"CLAUDE","successes":)" +
            std::to_string(successes) + R"(,"failures":0,"total_response_time_ms":100,"at":)" +
            std::to_string(std::time(nullptr)) + "}]}");
    EXPECT_EQ(r.status, 200) << r.body;
    return SeqOf(r);
  };
  auto requests_on = [&](Client& c, uint64_t min_seq) -> int64_t {
    TestResponse r = c.Get(health, {{"X-Keyledger-Min-Seq", std::to_string(min_seq)}});
    if (r.status != 200) return -1;
    Json j(r.body);
    int64_t n = -1;
    if (!j.ok() || j["key_statistics"]["request_count"].get(n) != simdjson::SUCCESS) return -1;
    return n;
  };
  auto shows = [&](Client& c, uint64_t min_seq, int64_t want) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (requests_on(c, min_seq) != want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return requests_on(c, min_seq);
  };
  const uint64_t seq = report(on_a, 3);
  EXPECT_EQ(shows(on_a, seq, 3), 3);
  EXPECT_EQ(shows(on_b, seq, 3), 3) << "node b never showed a's report";
  EXPECT_EQ(HeadSequence(), seq) << "a report without a breaker transition is no event";
  // b's report adds to what a took; a shows the sum.
  report(on_b, 2);
  EXPECT_EQ(shows(on_a, seq, 5), 5);
  EXPECT_EQ(shows(on_b, seq, 5), 5);
}

// Crypto-shredding on etcd (ETCD.md "Residue"): deleting a key deletes its wrapped data key,
// and the purge that follows compacts etcd's history past the delete, so that no range read at
// any revision returns the wrapped key any more; the other keys' data keys still open theirs.
TEST_F(EtcdE2eTest, DeletingAKeyLeavesItsDataKeyAtNoRevision) {
  const std::string prefix = EtcdCluster::UniquePrefix();
  StartServer(StoreArgs(prefix));
  ASSERT_FALSE(HasFatalFailure());
  events::etcd::ClientOptions o;
  o.endpoints = cluster_->endpoints();
  auto created = events::etcd::Client::Create(o);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  events::etcd::Client& etcd = **created;
  const std::string dek_prefix = prefix + "/a/keyring/dek/";
  auto deks = [&]() {
    std::map<std::string, events::etcd::KeyValue> out;
    events::etcd::RangeRequest r;
    r.key = dek_prefix;
    r.range_end = events::etcd::PrefixEnd(r.key);
    auto got = etcd.Range(r);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (got.ok()) {
      for (auto& kv : got->kvs) out.emplace(kv.key, kv);
    }
    return out;
  };

  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "shred-provider");
  const auto before = deks();
  const std::string doomed_secret = NewSecret("doomed");
  CreatedKey doomed = CreateKey(admin, provider, R"(["CLAUDE"])", doomed_secret, "doomed");
  ASSERT_FALSE(doomed.id.empty());
  const auto with_doomed = deks();
  std::vector<events::etcd::KeyValue> shredded;
  for (const auto& [k, kv] : with_doomed) {
    if (before.count(k) == 0) shredded.push_back(kv);
  }
  ASSERT_EQ(shredded.size(), 1u) << "the new key's data key";
  const std::string kept_secret = NewSecret("kept");
  CreatedKey kept = CreateKey(admin, provider, R"(["CLAUDE"])", kept_secret, "kept");
  ASSERT_FALSE(kept.id.empty());

  TestResponse del = admin.Delete(KeyPath(doomed.id));
  ASSERT_EQ(del.status, 200) << del.body;
  const events::etcd::KeyValue& dek = shredded.front();
  EXPECT_EQ(deks().count(dek.key), 0u) << "the delete removes the wrapped data key";

  // The purge runs on the maintenance thread (paced): wait, bounded, until the revision that
  // wrote the data key is compacted away.
  auto at = [&](int64_t revision) {
    events::etcd::RangeRequest r;
    r.key = dek.key;
    r.revision = revision;
    return etcd.Range(r);
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (at(dek.mod_revision).ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(at(dek.mod_revision).ok()) << "the history still holds the data key's revision";

  // No revision, from the first to the current one, returns the wrapped data key.
  events::etcd::RangeRequest head;
  head.key = prefix + "/head";
  auto now = etcd.Range(head);
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  size_t compacted = 0;
  for (int64_t rev = 1; rev <= now->revision; ++rev) {
    auto r = at(rev);
    if (!r.ok()) {
      ++compacted;
      continue;
    }
    EXPECT_TRUE(r->kvs.empty()) << "revision " << rev << " still returns " << dek.key;
  }
  EXPECT_GE(compacted, static_cast<size_t>(dek.mod_revision));
  // Nor does any key under the prefix hold its bytes.
  events::etcd::RangeRequest all;
  all.key = prefix + "/";
  all.range_end = events::etcd::PrefixEnd(all.key);
  auto everything = etcd.Range(all);
  ASSERT_TRUE(everything.ok());
  for (const auto& kv : everything->kvs) {
    EXPECT_EQ(kv.value.find(dek.value), std::string::npos) << kv.key;
  }

  // The other key still reveals; the deleted one is gone.
  TestResponse reveal = admin.Get(KeyPath(kept.id) + "/reveal", {{"X-Audit-Reason", "e2e"}});
  EXPECT_EQ(reveal.status, 200) << reveal.body;
  EXPECT_NE(reveal.body.find(kept_secret), std::string::npos);
  TestResponse gone = admin.Get(KeyPath(doomed.id) + "/reveal", {{"X-Audit-Reason", "e2e"}});
  EXPECT_EQ(gone.status, 404) << gone.body;
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
