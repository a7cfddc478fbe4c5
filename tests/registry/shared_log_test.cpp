// Several registries on one shared log (what etcd gives several keyledgerd nodes, events/ETCD.md
// "Several nodes"), with a fake log that behaves like EtcdEventLog towards its caller: an
// append planned on a head its node was not told about fails with kHeadConflict (after which
// GetHead() reaches the head that won), and every append tells the other nodes' listeners. The
// registry catches up when told, decides a lost group again, and keeps If-Match and
// Idempotency-Key semantics across nodes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "events/aux_watch.hpp"
#include "events/crypto.hpp"
#include "events/memory_event_log.hpp"
#include "events/secrets.hpp"
#include "projections/telemetry.hpp"
#include "src/registry.hpp"
#include "src/registry_commands.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::registry {
namespace {

using events::AppendCallback;
using events::AppendRequest;
using events::EventLog;
using events::Head;

class SharedStore;

// One node's view of the shared log.
class NodeLog final : public EventLog, public events::AuxWatch {
 public:
  explicit NodeLog(SharedStore& store);
  ~NodeLog() override;
  Head GetHead() const override;
  Result<std::vector<events::EventRecord>> ReadRange(uint64_t from, size_t limit) const override;
  Status Scan(uint64_t from, uint64_t to, const events::RecordVisitor& visit) const override;
  Result<std::vector<events::EventRecord>> ReadStream(std::string_view stream, uint64_t from,
                                                      size_t limit) const override;
  Result<uint64_t> StreamVersion(std::string_view stream) const override;
  Result<events::VerifyReport> Verify(uint64_t from, uint64_t to) const override;
  Result<std::optional<std::string>> GetAux(events::AuxSpace space,
                                            std::string_view key) const override;
  Status ScanAux(events::AuxSpace space, std::string_view prefix,
                 const events::AuxVisitor& visit) const override;
  void AppendAsync(AppendRequest request, AppendCallback done) override;
  Status PurgeDeletedAux(events::AuxSpace) override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }
  void SetHeadListener(HeadListener listener) override {
    std::lock_guard lock(listener_mu_);
    listener_ = std::move(listener);
  }
  void Tell(const Head& head) {
    std::lock_guard lock(listener_mu_);
    if (listener_) listener_(head);
  }

  // AuxWatch, driven by the test: Deliver plays the store's telemetry watch.
  Status WatchAux(events::AuxSpace, Listener listener) override {
    std::lock_guard lock(listener_mu_);
    aux_listener_ = std::move(listener);
    return Status::Ok();
  }
  void Deliver(std::vector<events::AuxChange> changes) {
    std::lock_guard lock(listener_mu_);
    if (aux_listener_) aux_listener_(std::move(changes), false);
  }

  std::atomic<int> conflicts{0};

 private:
  Listener aux_listener_;
  SharedStore& store_;
  Head plan_head_;  // under the store's mutex
  std::mutex listener_mu_;
  HeadListener listener_;
};

class SharedStore {
 public:
  events::MemoryEventLog log;
  std::mutex mu;  // one append at a time, compare and write together
  std::vector<NodeLog*> nodes;
};

NodeLog::NodeLog(SharedStore& store) : store_(store), plan_head_(store.log.GetHead()) {
  std::lock_guard lock(store_.mu);
  store_.nodes.push_back(this);
}
NodeLog::~NodeLog() {
  std::lock_guard lock(store_.mu);
  std::erase(store_.nodes, this);
}
Head NodeLog::GetHead() const { return store_.log.GetHead(); }
Result<std::vector<events::EventRecord>> NodeLog::ReadRange(uint64_t from, size_t limit) const {
  return store_.log.ReadRange(from, limit);
}
Status NodeLog::Scan(uint64_t from, uint64_t to, const events::RecordVisitor& visit) const {
  return store_.log.Scan(from, to, visit);
}
Result<std::vector<events::EventRecord>> NodeLog::ReadStream(std::string_view stream, uint64_t from,
                                                             size_t limit) const {
  return store_.log.ReadStream(stream, from, limit);
}
Result<uint64_t> NodeLog::StreamVersion(std::string_view stream) const {
  return store_.log.StreamVersion(stream);
}
Result<events::VerifyReport> NodeLog::Verify(uint64_t from, uint64_t to) const {
  return store_.log.Verify(from, to);
}
Result<std::optional<std::string>> NodeLog::GetAux(events::AuxSpace space,
                                                   std::string_view key) const {
  return store_.log.GetAux(space, key);
}
Status NodeLog::ScanAux(events::AuxSpace space, std::string_view prefix,
                        const events::AuxVisitor& visit) const {
  return store_.log.ScanAux(space, prefix, visit);
}

void NodeLog::AppendAsync(AppendRequest request, AppendCallback done) {
  std::vector<NodeLog*> others;
  Result<events::AppendResult> r = MakeError(ErrorCode::kInternal, "unset");
  {
    std::lock_guard lock(store_.mu);
    const Head now = store_.log.GetHead();
    if (!request.streams.empty() && !(now == plan_head_)) {
      plan_head_ = now;  // refreshed before the append completes, as EtcdEventLog does
      ++conflicts;
      Error e = MakeError(ErrorCode::kHeadConflict, "another node appended");
      e.actual_version = now.sequence;
      r = e;
    } else {
      const bool events = !request.streams.empty();
      r = store_.log.Append(std::move(request));
      if (r.ok() && events) plan_head_ = r->head;
      if (r.ok()) {
        for (NodeLog* n : store_.nodes) {
          if (n != this) others.push_back(n);
        }
      }
    }
  }
  const Head head = store_.log.GetHead();
  for (NodeLog* n : others) n->Tell(head);
  done(std::move(r));
}

struct Node {
  Node(SharedStore& store, const std::string& master, size_t max_pending_telemetry = 65'536)
      : log(store) {
    auto key = events::MasterKey::FromBytes(master);
    EXPECT_TRUE(key.ok());
    auto k = events::Keyring::Open(log, std::move(key).value(), nullptr);
    EXPECT_TRUE(k.ok()) << k.status().ToString();
    keyring = std::move(k).value();
    RegistryOptions o;
    o.log = &log;
    o.keyring = keyring.get();
    o.snapshot_every = 0;
    o.max_pending_telemetry = max_pending_telemetry;
    auto r = Registry::Open(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    registry = std::move(r).value();
  }
  ~Node() { EXPECT_OK(registry->Close()); }
  NodeLog log;
  std::unique_ptr<events::Keyring> keyring;
  std::unique_ptr<Registry> registry;
};

RequestContext Admin() {
  RequestContext c;
  c.actor = "ops";
  c.client_ip = "127.0.0.1";
  c.request_id = "req-shared";
  return c;
}

std::unique_ptr<Command> CreateProvider(const std::string& name) {
  ProviderCreateIntent in;
  in.provider.name = name;
  return MakeCreateProvider(std::move(in));
}

std::unique_ptr<Command> SetNote(const std::string& key_id, const std::string& note) {
  KeyUpdateIntent in;
  in.key_id = key_id;
  in.fields = {"note"};
  in.values.note = note;
  return MakeUpdateKey(std::move(in));
}

std::string ProviderId(const Registry& r, const std::string& name) {
  const std::string* id = r.Current()->provider_names.Find(name);
  return id ? *id : "";
}

bool WaitFor(Registry& r, uint64_t sequence) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (r.Current()->sequence < sequence && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return r.Current()->sequence >= sequence;
}

class SharedLogTest : public ::testing::Test {
 protected:
  SharedStore store_;
  std::string master_ = crypto::RandomBytes(32);
};

// The listener makes the other node fold what one node wrote, and tell its commit listeners.
TEST_F(SharedLogTest, AnotherNodesWritesAreFoldedAndNotified) {
  Node a(store_, master_);
  Node b(store_, master_);
  std::atomic<uint64_t> notified{0};
  b.registry->AddCommitListener([&](uint64_t, uint64_t last) { notified = last; });
  auto created = a.registry->Execute(CreateProvider("from-a"), Admin());
  ASSERT_OK(created);
  const uint64_t seq = a.registry->Current()->sequence;
  ASSERT_TRUE(WaitFor(*b.registry, seq));
  EXPECT_EQ(b.registry->Current()->providers.size(), 1u);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (notified.load() < seq && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(notified.load(), seq);
}

// A node whose append loses the race decides again on the newer state: the client sees a
// success (no 503), a stale If-Match still answers 412, and a key created on one node reveals
// on the other (its data key is read from the shared keyring).
TEST_F(SharedLogTest, ALostRaceIsDecidedAgainAndIfMatchHoldsAcrossNodes) {
  Node a(store_, master_);
  Node b(store_, master_);
  auto provider = a.registry->Execute(CreateProvider("p"), Admin());
  ASSERT_OK(provider);
  const std::string pid = ProviderId(*a.registry, "p");
  KeyCreateIntent key;
  key.provider_id = pid;
  key.secret = "sk-shared-0123456789abcdef";
  key.key.name = "k";
  key.key.api_formats = {"CLAUDE"};
  // b has not appended since a did: its first append loses the race and is decided again.
  auto created = b.registry->Execute(MakeCreateKey(key), Admin());
  ASSERT_OK(created);
  EXPECT_GE(b.log.conflicts.load(), 1);
  const std::string kid = created->body.substr(7, 36);  // {"id":"<uuid>"...
  ASSERT_TRUE(WaitFor(*a.registry, b.registry->Current()->sequence));
  const uint64_t version = a.registry->Current()->keys.Find(kid)->version;

  RequestContext guarded = Admin();
  guarded.if_match = version;
  ASSERT_OK(a.registry->Execute(SetNote(kid, "a"), guarded));
  auto stale = b.registry->Execute(SetNote(kid, "b"), guarded);  // b may not have folded yet
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kPreconditionFailed);
  EXPECT_EQ(*b.registry->Current()->keys.Find(kid)->note, "a");

  auto revealed = a.registry->Execute(MakeRevealKey(kid), Admin());
  ASSERT_OK(revealed);
  EXPECT_NE(revealed->body.find("sk-shared-0123456789abcdef"), std::string::npos);
}

// Two nodes retrying one request with one Idempotency-Key: the second answers the first's
// stored result (even when it lost a race in between), and the provider exists once.
TEST_F(SharedLogTest, AnIdempotencyKeyStoredByAnotherNodeIsReplayed) {
  Node a(store_, master_);
  Node b(store_, master_);
  RequestContext keyed = Admin();
  keyed.idempotency_key = "once";
  keyed.request_fingerprint = "POST /providers {q}";
  auto first = a.registry->Execute(CreateProvider("q"), keyed);
  ASSERT_OK(first);
  auto second = b.registry->Execute(CreateProvider("q"), keyed);
  ASSERT_OK(second);
  EXPECT_TRUE(second->replayed);
  EXPECT_EQ(second->body, first->body);
  ASSERT_TRUE(WaitFor(*b.registry, a.registry->Current()->sequence));
  EXPECT_EQ(b.registry->Current()->providers.size(), 1u);
}

// Many writers through two nodes on one key with If-Match: every success is one increment.
TEST_F(SharedLogTest, ConcurrentIfMatchUpdatesThroughTwoNodesLoseNothing) {
  Node a(store_, master_);
  Node b(store_, master_);
  ASSERT_OK(a.registry->Execute(CreateProvider("race"), Admin()));
  KeyCreateIntent key;
  key.provider_id = ProviderId(*a.registry, "race");
  key.secret = "sk-race-0123456789abcdef";
  key.key.name = "k";
  key.key.api_formats = {"CLAUDE"};
  auto created = a.registry->Execute(MakeCreateKey(key), Admin());
  ASSERT_OK(created);
  const std::string kid = created->body.substr(7, 36);
  ASSERT_TRUE(WaitFor(*b.registry, a.registry->Current()->sequence));
  std::atomic<int> successes{0};
  std::atomic<int> unexpected{0};
  auto run = [&](Registry* r) {
    for (int i = 0, done = 0; done < 20 && i < 2000; ++i) {
      StatePtr s = r->Current();
      const auto* k = s->keys.Find(kid);
      if (k == nullptr) {  // not folded on this node yet
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      const int n = k->note ? std::stoi(*k->note) : 0;
      RequestContext ctx = Admin();
      ctx.if_match = k->version;
      auto out = r->Execute(SetNote(kid, std::to_string(n + 1)), ctx);
      if (out.ok()) {
        ++successes;
        ++done;
      } else if (out.error().code != ErrorCode::kPreconditionFailed) {
        ++unexpected;
      }
    }
  };
  std::thread t1(run, a.registry.get()), t2(run, b.registry.get()), t3(run, a.registry.get()),
      t4(run, b.registry.get());
  t1.join();
  t2.join();
  t3.join();
  t4.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(successes.load(), 80);
  ASSERT_TRUE(WaitFor(*a.registry, store_.log.GetHead().sequence));
  ASSERT_TRUE(WaitFor(*b.registry, store_.log.GetHead().sequence));
  EXPECT_EQ(*a.registry->Current()->keys.Find(kid)->note, "80");
  EXPECT_EQ(*b.registry->Current()->keys.Find(kid)->note, "80");
}

// Health reports another node took change no event: the shared store's telemetry watch brings
// them, and the registry applies them on its writer thread. What waits for the writer is
// bounded (RegistryOptions::max_pending_telemetry): past it, the waiting entries are dropped and
// the whole telemetry space is read from the store instead.
TEST_F(SharedLogTest, AnotherNodesTelemetryIsAppliedAndWhatWaitsIsBounded) {
  Node a(store_, master_, /*max_pending_telemetry=*/4);
  ASSERT_OK(a.registry->Execute(CreateProvider("t"), Admin()));
  KeyCreateIntent key;
  key.provider_id = ProviderId(*a.registry, "t");
  key.secret = "sk-telemetry-0123456789abcdef";
  key.key.name = "k";
  key.key.api_formats = {"CLAUDE"};
  auto created = a.registry->Execute(MakeCreateKey(key), Admin());
  ASSERT_OK(created);
  const std::string kid = created->body.substr(7, 36);
  auto telemetry = [](int64_t requests) {
    projections::KeyTelemetry t;
    t.request_count = requests;
    t.success_count = requests;
    return projections::EncodeTelemetry(t);
  };
  auto shows = [&](int64_t requests) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (a.registry->Current()->keys.Find(kid)->request_count == requests) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  };
  const uint64_t sequence = a.registry->Current()->sequence;
  // What the store holds (another node's latest write).
  AppendRequest stored;
  stored.aux.push_back(projections::TelemetryWrite(kid, [] {
    projections::KeyTelemetry t;
    t.request_count = 11;
    return t;
  }()));
  ASSERT_OK(store_.log.Append(std::move(stored)));

  // Within the bound: the delivered entry shows, without an event.
  a.log.Deliver({{kid, telemetry(7)}});
  EXPECT_TRUE(shows(7));
  // A key this node does not hold waits as an orphan; a delete needs nothing.
  a.log.Deliver({{"not-a-key", telemetry(1)}, {kid, std::nullopt}});
  EXPECT_TRUE(shows(7));

  // Five keys at once, one past the bound: nothing delivered is applied, the store is read.
  a.log.Deliver({{kid, telemetry(9)},
                 {"x1", telemetry(1)},
                 {"x2", telemetry(1)},
                 {"x3", telemetry(1)},
                 {"x4", telemetry(1)}});
  EXPECT_TRUE(shows(11)) << a.registry->Current()->keys.Find(kid)->request_count;
  EXPECT_EQ(a.registry->Current()->sequence, sequence);
}

}  // namespace
}  // namespace keyledger::registry
