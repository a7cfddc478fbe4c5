// Faults under write load (issue 15, "Tests that must exist"): two keyledgerd nodes (real
// processes on 127.0.0.1) share one prefix of the three-member etcd cluster this process starts,
// four client threads write through them (creates with an Idempotency-Key, updates of the keys
// each thread created), and one of these happens mid-load:
//   - the etcd leader is killed with SIGKILL, then restarted on its data directory;
//   - one keyledgerd node is killed with SIGKILL, the other keeps serving, then the killed one
//     restarts on its directory;
//   - two of the three members are SIGSTOPped: writes answer 503, reads are served from the last
//     applied state, /readyz says not ready because of etcd; after SIGCONT all of it recovers
//     without help.
// Each test then checks (CheckConverged): the chain verifies (keyledger-audit), every
// acknowledged write is visible on both nodes with the last acknowledged value, nothing was
// written twice (key lists by name, creation and update events counted in the export), and
// both nodes, keyledger-rebuild and a third node started on an empty data directory agree on
// the digest.
//
// A write answered 503 or not at all (connection reset, the node killed) may or may not have
// been applied: it is never counted as lost, and if applied it must show exactly once. Creates
// with such an answer are retried with the same Idempotency-Key and body until they get a
// definite answer, so every create ends acknowledged once the cluster is back.
//
// Threads: the test thread drives the nodes and the cluster (EtcdCluster is not thread-safe);
// Load's writer threads only send HTTP requests, read the nodes' ports from atomics, and share
// what they saw under Load's mutex. Time bounds here detect hangs; none measures performance.
#include <signal.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "tests/e2e/e2e_support.hpp"
#include "tests/support/etcd_cluster.hpp"
#include "tests/support/file_scan.hpp"

namespace keyledger::e2e {
namespace {

using keyledger::testing::EtcdCluster;
using Clock = std::chrono::steady_clock;

constexpr int kNodes = 2;
constexpr int kWritersPerNode = 2;
// The load's own bounds: a writer stops after this many writes or this long, whatever the test
// waits for.
constexpr int kMaxWritesPerWriter = 1500;
constexpr auto kMaxLoadTime = std::chrono::seconds(150);
// A pause between two writes of one writer, so four writers leave the two cores to the etcd
// members and the nodes (and after an answer that left the outcome open, a longer one).
constexpr auto kPace = std::chrono::milliseconds(10);
constexpr auto kPaceAfterUnknown = std::chrono::milliseconds(100);
// A write that takes longer than this is a hang (etcd calls are bounded by 5 s each).
constexpr auto kHangBound = std::chrono::seconds(30);
// How long a writer may retry its open create at the end, against a healthy cluster.
constexpr auto kSettleBound = std::chrono::seconds(30);
// How long the test waits for the load to make progress, or for readiness to change.
constexpr auto kProgressBound = std::chrono::seconds(60);
// Keys per page of the key list (the route's maximum).
constexpr int kPageLimit = 1000;

std::string RebuildToolPath() { return KEYLEDGER_REBUILD_BIN; }

bool Acknowledged(int status) { return status >= 200 && status < 300; }
// No definite answer: 503 (etcd unreachable or the race not decided in time) or none at all.
bool OutcomeOpen(int status) { return status == 0 || status == 503; }

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds bound) {
  const auto deadline = Clock::now() + bound;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// One write as a writer sent it and what came back.
struct Attempt {
  int node = 0;
  Clock::time_point start;
  Clock::time_point end;
  int status = 0;
};

// A create: sent with the same body and Idempotency-Key until a definite answer.
struct CreateOp {
  std::string name;
  std::string idempotency_key;
  std::string body;
  std::string id;  // from the acknowledging answer
  bool acknowledged = false;
};

// One key's updates ({"note": ...}, each note unique), sent one at a time by one client.
struct KeyTrack {
  std::string id;
  int acknowledged = 0;
  int open = 0;  // updates whose outcome is unknown
  // The note of the last acknowledged update (none: the key's note as created, null).
  std::optional<std::string> last_acknowledged;
  // Notes of the updates after that one whose outcome is unknown: any of them may be the last.
  std::set<std::string> open_since;

  void Record(const std::string& note, int status) {
    if (Acknowledged(status)) {
      ++acknowledged;
      last_acknowledged = note;
      open_since.clear();
    } else {
      ++open;
      open_since.insert(note);
    }
  }
};

// Everything the writers did, merged when they stop.
struct Outcome {
  std::vector<CreateOp> creates;
  std::map<std::string, KeyTrack> keys;  // by key id
  std::vector<Attempt> attempts;
  std::vector<std::string> unexpected;  // answers that are neither 2xx nor an open outcome
};

// Writers through the nodes: writer w writes through node w % kNodes while that node's port is
// set, else through another node. Each creates keys (Idempotency-Key "<tag>-w<w>-<n>") and
// updates the keys it created.
class Load {
 public:
  Load(std::array<std::atomic<uint16_t>, kNodes>& ports, std::string token, std::string provider,
       std::function<std::string()> new_secret)
      : ports_(ports),
        token_(std::move(token)),
        provider_(std::move(provider)),
        new_secret_(std::move(new_secret)),
        tag_(std::to_string(std::random_device{}())) {}
  ~Load() { Stop(); }
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  void Start() {
    start_ = Clock::now();
    for (int w = 0; w < kNodes * kWritersPerNode; ++w) threads_.emplace_back([this, w] { Run(w); });
  }

  // Stops the writers (each first settles its open create, bounded) and returns what they did.
  Outcome Stop() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    std::lock_guard lock(mu_);
    return outcome_;
  }

  // Writes through `node` that started at or after `since` and were acknowledged.
  int AcknowledgedSince(int node, Clock::time_point since) const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const Attempt& a : outcome_.attempts) {
      n += a.node == node && a.start >= since && Acknowledged(a.status) ? 1 : 0;
    }
    return n;
  }
  // The attempts so far (a copy).
  std::vector<Attempt> Attempts() const {
    std::lock_guard lock(mu_);
    return outcome_.attempts;
  }
  // The id of some key acknowledged so far ("" if none).
  std::string SomeAcknowledgedKey() const {
    std::lock_guard lock(mu_);
    return first_key_;
  }

 private:
  uint16_t Port(int node) const { return ports_[static_cast<size_t>(node)].load(); }
  int Pick(int home) const {
    if (Port(home) != 0) return home;
    for (int n = 0; n < kNodes; ++n) {
      if (Port(n) != 0) return n;
    }
    return home;
  }

  void Run(int w) {
    const int home = w % kNodes;
    std::array<std::unique_ptr<Client>, kNodes> clients;
    std::array<uint16_t, kNodes> client_ports{};
    auto client_for = [&](int node) -> Client& {
      const uint16_t port = Port(node);
      const auto i = static_cast<size_t>(node);
      if (clients[i] == nullptr || client_ports[i] != port) {
        clients[i] = std::make_unique<Client>(port, token_);
        client_ports[i] = port;
      }
      return *clients[i];
    };
    std::vector<CreateOp> creates;
    std::map<std::string, KeyTrack> keys;
    std::vector<std::string> owned;  // ids, in creation order
    std::optional<CreateOp> open_create;
    int counter = 0;

    // One attempt of `open_create`; true when its outcome is now known.
    auto try_create = [&](int node) {
      Client& c = client_for(node);
      Attempt a{node, Clock::now(), {}, 0};
      TestResponse r = c.Post(KeysOf(provider_), open_create->body,
                              {{"Idempotency-Key", open_create->idempotency_key}});
      a.end = Clock::now();
      a.status = r.status;
      Note(a);
      if (OutcomeOpen(r.status)) return false;
      if (Acknowledged(r.status)) {
        Json j(r.body);
        open_create->id = j.ok() ? Str(j.root(), "id").value_or("") : "";
        open_create->acknowledged = !open_create->id.empty();
        if (open_create->acknowledged && !keys.contains(open_create->id)) {
          keys[open_create->id].id = open_create->id;
          owned.push_back(open_create->id);
          std::lock_guard lock(mu_);
          if (first_key_.empty()) first_key_ = open_create->id;
        }
      } else {
        Unexpected("create " + open_create->name + " through node " + std::to_string(node), r);
      }
      creates.push_back(std::move(*open_create));
      open_create.reset();
      return true;
    };

    const auto deadline = start_ + kMaxLoadTime;
    for (int n = 0; n < kMaxWritesPerWriter && !stop_ && Clock::now() < deadline; ++n) {
      const int node = Pick(home);
      bool known = true;
      if (open_create || owned.size() < 3 || n % 8 == 0) {
        if (!open_create) {
          const std::string name = "w" + std::to_string(w) + "-" + std::to_string(++counter);
          open_create = CreateOp{};
          open_create->name = name;
          open_create->idempotency_key = tag_ + "-" + name;
          open_create->body = "{\"api_formats\":[\"CLAUDE\"],\"api_key\":" + Quote(new_secret_()) +
                              ",\"name\":" + Quote(name) + "}";
        }
        known = try_create(node);
      } else {
        KeyTrack& key = keys[owned[static_cast<size_t>(n) % owned.size()]];
        const std::string note = "w" + std::to_string(w) + "-u" + std::to_string(n);
        Attempt a{node, Clock::now(), {}, 0};
        TestResponse r = client_for(node).Put(KeyPath(key.id), "{\"note\":" + Quote(note) + "}");
        a.end = Clock::now();
        a.status = r.status;
        Note(a);
        if (Acknowledged(r.status) || OutcomeOpen(r.status)) {
          key.Record(note, r.status);
          known = !OutcomeOpen(r.status);
        } else {
          Unexpected("update of " + key.id + " through node " + std::to_string(node), r);
        }
      }
      std::this_thread::sleep_for(known ? kPace : kPaceAfterUnknown);
    }
    // Settle the open create: the cluster is healthy again when a test stops its load.
    const auto settle = Clock::now() + kSettleBound;
    while (open_create && Clock::now() < settle) {
      if (!try_create(Pick(home))) std::this_thread::sleep_for(kPaceAfterUnknown);
    }
    if (open_create) creates.push_back(std::move(*open_create));

    std::lock_guard lock(mu_);
    for (CreateOp& c : creates) outcome_.creates.push_back(std::move(c));
    for (auto& [id, key] : keys) outcome_.keys[id] = std::move(key);
  }

  void Note(const Attempt& a) {
    std::lock_guard lock(mu_);
    outcome_.attempts.push_back(a);
  }
  void Unexpected(const std::string& what, const TestResponse& r) {
    std::lock_guard lock(mu_);
    outcome_.unexpected.push_back(what + ": " + std::to_string(r.status) + " " + r.body);
  }

  std::array<std::atomic<uint16_t>, kNodes>& ports_;
  const std::string token_;
  const std::string provider_;
  const std::function<std::string()> new_secret_;
  const std::string tag_;
  Clock::time_point start_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  Outcome outcome_;        // guarded by mu_ (writers merge theirs when they stop)
  std::string first_key_;  // guarded by mu_: the first key whose create was acknowledged
};

class EtcdFaultsTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    cluster_ = EtcdCluster::Shared();
    ASSERT_NE(cluster_, nullptr);
    prefix_ = EtcdCluster::UniquePrefix();
  }

  // Leaves every member running (restarted if a test killed it, continued if stopped) and the
  // cluster healthy, for the next test; stops the nodes this test started (exit 0 expected).
  void TearDown() override {
    if (HasFailure()) {
      // What the nodes logged at warning or above (never a secret: CheckNoSecretIn).
      PrintProblems("a", *daemon_);
      if (node_b_) PrintProblems("b", *node_b_);
      if (node_c_) PrintProblems("c", *node_c_);
    }
    if (cluster_ != nullptr) {
      for (int i = 0; i < cluster_->size(); ++i) {
        if (cluster_->pid(i) <= 0) {
          EXPECT_OK(cluster_->Restart(i));
        } else {
          cluster_->Signal(i, SIGCONT);
        }
      }
      EXPECT_OK(cluster_->WaitHealthy(std::chrono::seconds(60)));
    }
    for (auto* node : {node_b_.get(), node_c_.get()}) {
      if (node == nullptr) continue;
      if (node->running()) {
        EXPECT_EQ(node->Stop(SIGTERM), 0) << node->CurrentStderr();
      }
      CheckNoSecretIn(*node);
    }
    E2eTest::TearDown();
  }

  static void PrintProblems(const std::string& name, const Daemon& node) {
    const std::string err = node.AllStderr();
    std::string lines;
    int n = 0;
    for (size_t begin = 0; begin < err.size() && n < 60;) {
      size_t end = err.find('\n', begin);
      if (end == std::string::npos) end = err.size();
      const std::string_view line = std::string_view(err).substr(begin, end - begin);
      if (line.find(R"("level":"info")") == std::string_view::npos &&
          line.find(R"("level":"debug")") == std::string_view::npos) {
        lines += std::string(line.substr(0, 600)) + "\n";
        ++n;
      }
      begin = end + 1;
    }
    std::cerr << "node " << name << " logged:\n" << lines;
  }

  std::string Endpoints(const std::vector<std::string>& endpoints) const {
    std::string out;
    for (const std::string& e : endpoints) out += (out.empty() ? "" : ",") + e;
    return out;
  }
  std::vector<std::string> StoreArgs() const {
    // Snapshots every 25 events, so a node that restarts recovers from its own snapshot and
    // the tail in etcd, not only from the whole log.
    return {"--store",       "etcd",  "--etcd-endpoints", Endpoints(cluster_->endpoints()),
            "--etcd-prefix", prefix_, "--snapshot-every", "25"};
  }
  ProcessResult Tool(const std::string& bin, std::vector<std::string> args,
                     const std::vector<std::string>& endpoints) {
    args.insert(args.begin(), bin);
    for (const std::string& a : {std::string("--etcd-endpoints"), Endpoints(endpoints),
                                 std::string("--etcd-prefix"), prefix_}) {
      args.push_back(a);
    }
    return RunProcess(args, scratch_dir_);
  }

  // Node a (the fixture's daemon) and node b, on the same prefix; b on a directory holding
  // only a's master key and tokens file. Creates the provider the load writes to.
  void StartNodes() {
    StartServer(StoreArgs());
    ASSERT_FALSE(HasFatalFailure());
    node_b_ = StartNodeFromCopy("node-b");
    ASSERT_TRUE(node_b_->running()) << node_b_->error();
    ports_[0] = port();
    ports_[1] = node_b_->port();
    Client admin = Admin();
    provider_ = CreateProvider(admin, "faults-provider");
    ASSERT_FALSE(provider_.empty());
  }
  std::unique_ptr<Daemon> StartNodeFromCopy(const std::string& name) {
    std::unique_ptr<Daemon> node = AnotherNode(name);
    EXPECT_TRUE(node->Start(StoreArgs())) << node->error();
    return node;
  }

  std::unique_ptr<Load> MakeLoad() {
    return std::make_unique<Load>(ports_, admin_token_, provider_, [this] {
      std::lock_guard lock(secret_mu_);
      return NewSecret("faults");
    });
  }

  void CheckNoSecretIn(const Daemon& node) {
    const std::string err = node.AllStderr() + node.AllStdout();
    for (const std::string& s : secrets()) {
      EXPECT_EQ(err.find(s), std::string::npos) << "a plaintext secret reached a node's output";
    }
    EXPECT_EQ(err.find(admin_token_), std::string::npos) << "the admin token reached a log";
    if (node.running()) return;
    std::vector<std::string> needles = secrets();
    needles.push_back(admin_token_);
    for (const auto& [needle, files] : keyledger::testing::FindInFiles(node.data_dir(), needles)) {
      for (const std::string& f : files) ADD_FAILURE() << "a plaintext secret in " << f;
    }
  }

  // GET /readyz on `port`: its status and body.
  static TestResponse Readyz(uint16_t port) { return Client(port).Get("/readyz"); }

  // Every key of the provider on the node at `port`, once it has applied `seq` (pages joined).
  struct KeyList {
    int status = 0;
    std::string body;  // the pages, concatenated
    std::map<std::string, std::vector<std::string>> ids_by_name;
    std::map<std::string, std::optional<std::string>> note_by_id;
  };
  KeyList ListKeys(uint16_t port, uint64_t seq) {
    KeyList out;
    Client c(port, admin_token_);
    for (int skip = 0;; skip += kPageLimit) {
      TestResponse r = c.Get(KeysOf(provider_) + "?skip=" + std::to_string(skip) +
                                 "&limit=" + std::to_string(kPageLimit),
                             {{"X-Keyledger-Min-Seq", std::to_string(seq)}});
      out.status = r.status;
      if (r.status != 200) return out;
      out.body += r.body;
      Json j(r.body);
      const auto items = Items(j.root());
      for (const auto& item : items) {
        const std::string id = Str(item, "id").value_or("");
        out.ids_by_name[Str(item, "name").value_or("")].push_back(id);
        out.note_by_id[id] = Str(item, "note");
      }
      if (items.size() < static_cast<size_t>(kPageLimit)) return out;
    }
  }

  // The node's digest once it has applied `seq`: {"sequence","digest"}.
  std::pair<int64_t, std::string> DigestOf(uint16_t port, uint64_t seq) {
    TestResponse r =
        Client(port, admin_token_)
            .Get("/api/admin/audit/digest", {{"X-Keyledger-Min-Seq", std::to_string(seq)}});
    EXPECT_EQ(r.status, 200) << r.body;
    Json j(r.body);
    if (!j.ok()) return {-1, ""};
    return {Int(j.root(), "sequence").value_or(-1), Str(j.root(), "digest").value_or("")};
  }

  // No write took longer than the hang bound, and every answer was 2xx or an open outcome.
  static void CheckAnswers(const Outcome& out) {
    for (const std::string& u : out.unexpected) ADD_FAILURE() << "unexpected answer: " << u;
    for (const Attempt& a : out.attempts) {
      EXPECT_LT(a.end - a.start, kHangBound)
          << "a write through node " << a.node << " took "
          << std::chrono::duration_cast<std::chrono::milliseconds>(a.end - a.start).count()
          << " ms (status " << a.status << ")";
    }
  }

  // The end state, with nodes a and b running and the load stopped (ETCD.md "Several nodes").
  void CheckConverged(const Outcome& out) {
    CheckAnswers(out);
    RecordProperty("writes", static_cast<int>(out.attempts.size()));
    int acknowledged = 0, open = 0;
    for (const Attempt& a : out.attempts) {
      acknowledged += Acknowledged(a.status) ? 1 : 0;
      open += OutcomeOpen(a.status) ? 1 : 0;
    }
    RecordProperty("acknowledged", acknowledged);
    RecordProperty("outcome_open", open);

    // 1. The chain in etcd verifies; its head is where every node must arrive.
    ProcessResult verify =
        Tool(AuditToolPath(), {"verify", "--format", "json"}, cluster_->endpoints());
    ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    Json verified(verify.out);
    ASSERT_TRUE(verified.ok()) << verify.out;
    EXPECT_EQ(Bool(verified.root(), "ok"), true) << verify.out;
    const int64_t head = Int(verified["head"], "sequence").value_or(-1);
    ASSERT_GT(head, 0) << verify.out;
    const auto seq = static_cast<uint64_t>(head);

    // 2. Both nodes and keyledger-rebuild agree on the digest at the head.
    const auto digest_a = DigestOf(ports_[0], seq);
    const auto digest_b = DigestOf(ports_[1], seq);
    EXPECT_EQ(digest_a.first, head);
    EXPECT_EQ(digest_b.first, head);
    EXPECT_EQ(digest_a.second, digest_b.second) << "the nodes diverged";
    ProcessResult rebuild =
        Tool(RebuildToolPath(), {"--format", "json", "--progress", "none"}, cluster_->endpoints());
    ASSERT_EQ(rebuild.exit_code, 0) << rebuild.err;
    Json rebuilt(rebuild.out);
    ASSERT_TRUE(rebuilt.ok()) << rebuild.out;
    EXPECT_EQ(Int(rebuilt.root(), "sequence"), head);
    EXPECT_EQ(Str(rebuilt.root(), "digest"), digest_a.second) << "a node differs from the log";

    // 3. Every acknowledged write is on both nodes; no create happened twice; each key's note
    // is its last acknowledged update's, or a later update whose outcome is unknown.
    const KeyList on_a = ListKeys(ports_[0], seq);
    const KeyList on_b = ListKeys(ports_[1], seq);
    ASSERT_EQ(on_a.status, 200);
    ASSERT_EQ(on_b.status, 200);
    EXPECT_EQ(on_a.body, on_b.body) << "the nodes list different keys";
    std::set<std::string> names;
    for (const CreateOp& c : out.creates) {
      names.insert(c.name);
      const auto found = on_a.ids_by_name.find(c.name);
      const size_t copies = found == on_a.ids_by_name.end() ? 0 : found->second.size();
      EXPECT_LE(copies, 1u) << "create " << c.name << " applied " << copies << " times";
      // Every create ends with a definite answer once the cluster is healthy again.
      EXPECT_TRUE(c.acknowledged) << "create " << c.name << " never got a definite answer";
      if (c.acknowledged) {
        ASSERT_EQ(copies, 1u) << "acknowledged create " << c.name << " (" << c.id << ") lost";
        EXPECT_EQ(found->second.front(), c.id) << c.name;
      }
    }
    for (const auto& [name, ids] : on_a.ids_by_name) {
      EXPECT_TRUE(names.contains(name)) << "a key nobody created: " << name;
    }
    for (const auto& [id, key] : out.keys) {
      const auto it = on_a.note_by_id.find(id);
      ASSERT_NE(it, on_a.note_by_id.end()) << "acknowledged key " << id << " lost";
      const std::optional<std::string>& note = it->second;
      const bool last = note == key.last_acknowledged;
      const bool later_open = note.has_value() && key.open_since.contains(*note);
      EXPECT_TRUE(last || later_open)
          << "key " << id << " has note " << note.value_or("(null)") << ", last acknowledged "
          << key.last_acknowledged.value_or("(none)") << " (" << key.open_since.size()
          << " later updates with an unknown outcome): an acknowledged update was lost";
    }

    // 4. Exactly once in the log: one KeyCreated per key, and per key at least as many
    // KeyUpdated as acknowledged updates and at most that plus the ones with unknown outcome.
    ProcessResult exported = Tool(AuditToolPath(), {"export"}, cluster_->endpoints());
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    std::map<std::string, int> created, updated;  // by stream
    size_t lines = 0;
    for (size_t begin = 0; begin < exported.out.size();) {
      size_t end = exported.out.find('\n', begin);
      if (end == std::string::npos) end = exported.out.size();
      Json line(std::string_view(exported.out).substr(begin, end - begin));
      begin = end + 1;
      ASSERT_TRUE(line.ok());
      ++lines;
      const std::string type = Str(line.root(), "type").value_or("");
      const std::string stream = Str(line.root(), "stream").value_or("");
      if (type == "KeyCreated") ++created[stream];
      if (type == "KeyUpdated") ++updated[stream];
    }
    EXPECT_EQ(lines, seq) << "the export does not end at the head";
    size_t listed = 0;
    for (const auto& [name, ids] : on_a.ids_by_name) listed += ids.size();
    EXPECT_EQ(created.size(), listed) << "KeyCreated events for keys the nodes do not list";
    for (const auto& [stream, n] : created) EXPECT_EQ(n, 1) << stream << " created " << n << "x";
    for (const auto& [id, key] : out.keys) {
      const int n = updated["key-" + id];
      EXPECT_GE(n, key.acknowledged) << "key " << id << ": an acknowledged update is missing";
      EXPECT_LE(n, key.acknowledged + key.open) << "key " << id << ": an update applied twice";
    }

    // 5. A third node on an empty data directory (the master key and tokens file only) folds
    // the log from etcd to the same digest and the same keys.
    node_c_ = StartNodeFromCopy("node-c");
    ASSERT_TRUE(node_c_->running()) << node_c_->error();
    const auto digest_c = DigestOf(node_c_->port(), seq);
    EXPECT_EQ(digest_c.first, head);
    EXPECT_EQ(digest_c.second, digest_a.second) << "a node on an empty directory differs";
    EXPECT_EQ(ListKeys(node_c_->port(), seq).body, on_a.body);
    EXPECT_EQ(node_c_->Stop(SIGTERM), 0) << node_c_->CurrentStderr();
  }

  EtcdCluster* cluster_ = nullptr;
  std::string prefix_;
  std::string provider_;
  std::unique_ptr<Daemon> node_b_;
  std::unique_ptr<Daemon> node_c_;
  // The nodes' ports as the writers see them: 0 while a node is down.
  std::array<std::atomic<uint16_t>, kNodes> ports_{};
  std::mutex secret_mu_;  // NewSecret is called from the writer threads
};

// Waits (bounded by kProgressBound) until each node acknowledged `n` writes since `since`.
template <typename Load>
bool BothNodesAcknowledge(Load& load, Clock::time_point since, int n) {
  return WaitFor(
      [&] {
        return load.AcknowledgedSince(0, since) >= n && load.AcknowledgedSince(1, since) >= n;
      },
      kProgressBound);
}

// The leader holds the raft log's tail: killing it mid-load leaves proposals whose answer is
// lost. The two members left elect a leader, both nodes' clients fail over and writes go on;
// the killed member restarts on its data directory, catches up and serves the whole log.
TEST_F(EtcdFaultsTest, KillingTheEtcdLeaderLosesNoAcknowledgedWrite) {
  StartNodes();
  ASSERT_FALSE(HasFatalFailure());
  auto load = MakeLoad();
  const auto started = Clock::now();
  load->Start();
  ASSERT_TRUE(BothNodesAcknowledge(*load, started, 10)) << "no load before the fault";

  const int leader = cluster_->Leader();
  ASSERT_GE(leader, 0) << "no etcd leader";
  cluster_->Kill(leader);
  const auto killed = Clock::now();
  EXPECT_TRUE(BothNodesAcknowledge(*load, killed, 10))
      << "writes did not go on through both nodes after the leader was killed";
  const int next = cluster_->Leader();
  EXPECT_GE(next, 0);
  EXPECT_NE(next, leader);

  ASSERT_OK(cluster_->Restart(leader));
  ASSERT_OK(cluster_->WaitHealthy(std::chrono::seconds(30)));
  const auto restarted = Clock::now();
  EXPECT_TRUE(BothNodesAcknowledge(*load, restarted, 5));
  const Outcome out = load->Stop();
  CheckConverged(out);

  // The restarted member alone serves the whole chain (its reads are linearizable: it is
  // back in the cluster and has caught up to the head).
  ProcessResult through_it =
      Tool(AuditToolPath(), {"verify", "--format", "json"}, {cluster_->endpoint(leader)});
  EXPECT_EQ(through_it.exit_code, 0) << through_it.out << through_it.err;
}

// kill -9 of node b mid-load: node a keeps serving reads and writes (b's writers move to a and
// retry their open creates there, with the same Idempotency-Key); b restarts on its directory
// (its own snapshot plus the tail in etcd) and converges.
TEST_F(EtcdFaultsTest, KillingANodeLeavesTheOtherServingAndTheRestartedOneConverges) {
  StartNodes();
  ASSERT_FALSE(HasFatalFailure());
  auto load = MakeLoad();
  const auto started = Clock::now();
  load->Start();
  // Past b's first snapshot (every 25 events), so its restart recovers from one.
  ASSERT_TRUE(BothNodesAcknowledge(*load, started, 20)) << "no load before the fault";

  ports_[1] = 0;  // b's writers move to a
  node_b_->Kill();
  const auto killed = Clock::now();
  EXPECT_TRUE(WaitFor([&] { return load->AcknowledgedSince(0, killed) >= 20; }, kProgressBound))
      << "node a stopped acknowledging writes when node b was killed";
  Client on_a(port(), admin_token_);
  TestResponse read = on_a.Get(KeysOf(provider_));
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(Readyz(port()).status, 200);

  // b had written snapshots (every 25 events) before it was killed; they survive the kill and
  // its restart recovers from the newest one (else it says it replays the whole log).
  EXPECT_TRUE(
      std::filesystem::exists(std::filesystem::path(node_b_->data_dir()) / "etcd-snapshots"));
  ASSERT_TRUE(node_b_->Start(StoreArgs())) << node_b_->error();
  EXPECT_EQ(node_b_->CurrentStderr().find("no usable snapshot"), std::string::npos)
      << node_b_->CurrentStderr();
  ports_[1] = node_b_->port();
  const auto restarted = Clock::now();
  EXPECT_TRUE(WaitFor([&] { return load->AcknowledgedSince(1, restarted) >= 10; }, kProgressBound))
      << "the restarted node b acknowledged no write";
  const Outcome out = load->Stop();
  CheckConverged(out);
}

// Two of three members SIGSTOPped (the leader and one other): no quorum. Writes answer 503
// within the etcd client's bound, reads are served from the last applied state, /readyz is 503
// naming etcd. After SIGCONT, readiness and writes come back by themselves.
TEST_F(EtcdFaultsTest, WithoutQuorumWritesAnswer503ReadsGoOnAndAllRecoversAfter) {
  StartNodes();
  ASSERT_FALSE(HasFatalFailure());
  // A key only the test thread updates: its probes during the outage are writes too.
  Client on_a(port(), admin_token_);
  Client on_b(node_b_->port(), admin_token_);
  CreatedKey probe = CreateKey(on_a, provider_, R"(["CLAUDE"])", NewSecret("probe"), "probe");
  ASSERT_FALSE(probe.id.empty());
  KeyTrack probe_track;
  probe_track.id = probe.id;
  int probes = 0;
  auto probe_write = [&](Client& c) {
    const std::string note = "probe-" + std::to_string(++probes);
    const auto start = Clock::now();
    TestResponse r = c.Put(KeyPath(probe.id), "{\"note\":" + Quote(note) + "}");
    EXPECT_LT(Clock::now() - start, kHangBound) << "a write hung without quorum";
    EXPECT_TRUE(Acknowledged(r.status) || OutcomeOpen(r.status)) << r.status << " " << r.body;
    probe_track.Record(note, r.status);
    return r;
  };

  auto load = MakeLoad();
  const auto started = Clock::now();
  load->Start();
  ASSERT_TRUE(BothNodesAcknowledge(*load, started, 10)) << "no load before the fault";
  const std::string known_key = load->SomeAcknowledgedKey();
  ASSERT_FALSE(known_key.empty());

  const int leader = cluster_->Leader();
  ASSERT_GE(leader, 0);
  const int other = (leader + 1) % cluster_->size();
  cluster_->Signal(leader, SIGSTOP);
  cluster_->Signal(other, SIGSTOP);

  // /readyz turns 503 with a reason naming etcd on both nodes (the probe fails within 2 s).
  for (const uint16_t p : {port(), node_b_->port()}) {
    TestResponse ready;
    EXPECT_TRUE(WaitFor(
        [&] {
          ready = Readyz(p);
          return ready.status == 503;
        },
        kProgressBound))
        << "/readyz stayed " << ready.status << " without quorum";
    Json j(ready.body);
    EXPECT_EQ(Str(j.root(), "status"), "not_ready") << ready.body;
    EXPECT_NE(Str(j.root(), "reason").value_or("").find("etcd"), std::string::npos) << ready.body;
  }
  const auto not_ready = Clock::now();

  // Writes answer 503 (bounded: the hang detector in probe_write); reads are served, twice the
  // same, from the state applied before the outage (it holds a key acknowledged before).
  EXPECT_EQ(probe_write(on_a).status, 503);
  EXPECT_EQ(probe_write(on_b).status, 503);
  for (Client* c : {&on_a, &on_b}) {
    TestResponse first = c->Get(KeysOf(provider_) + "?limit=1000");
    TestResponse second = c->Get(KeysOf(provider_) + "?limit=1000");
    EXPECT_EQ(first.status, 200) << first.body;
    EXPECT_EQ(second.status, 200) << second.body;
    EXPECT_EQ(first.body, second.body) << "the state moved without quorum";
    EXPECT_EQ(first.Header("X-Keyledger-Seq"), second.Header("X-Keyledger-Seq"));
    EXPECT_NE(first.body.find(known_key), std::string::npos);
  }
  EXPECT_EQ(Readyz(port()).status, 503);
  const auto resumed = Clock::now();
  cluster_->Signal(leader, SIGCONT);
  cluster_->Signal(other, SIGCONT);

  // Every write of the load sent and answered entirely within the outage was refused with 503.
  int within = 0;
  for (const Attempt& a : load->Attempts()) {
    if (a.start < not_ready || a.end > resumed) continue;
    ++within;
    EXPECT_EQ(a.status, 503) << "a write through node " << a.node << " without quorum";
  }
  EXPECT_GT(within, 0) << "the load sent nothing during the outage";

  // Readiness and writes come back without help.
  for (const uint16_t p : {port(), node_b_->port()}) {
    EXPECT_TRUE(WaitFor([&] { return Readyz(p).status == 200; }, kProgressBound))
        << "/readyz did not become ready again after SIGCONT";
  }
  EXPECT_TRUE(BothNodesAcknowledge(*load, resumed, 10)) << "writes did not resume after SIGCONT";
  EXPECT_TRUE(WaitFor([&] { return Acknowledged(probe_write(on_a).status); }, kProgressBound));
  EXPECT_TRUE(WaitFor([&] { return Acknowledged(probe_write(on_b).status); }, kProgressBound));

  Outcome out = load->Stop();
  out.keys[probe.id] = probe_track;
  CreateOp probe_create;
  probe_create.name = "probe";
  probe_create.id = probe.id;
  probe_create.acknowledged = true;
  out.creates.push_back(probe_create);
  CheckConverged(out);
}

}  // namespace
}  // namespace keyledger::e2e
