#pragma once
// The EventLog on an etcd cluster, through etcd's v3 JSON gateway (events/etcd_client.hpp).
// Key layout, transactions and why: events/ETCD.md. Records are the bytes of events/FORMAT.md,
// so the same hash chain verifies on either backend.
//
// Ownership: Open() returns the only owner of the client connections, the writer thread and the
// node-local snapshot store; Close() (or the destructor) drains queued appends and stops them.
// Thread safety: all public methods may be called from any thread.
//
// Appends: one writer thread takes every queued request, plans it with the AppendPlanner on the
// head it knows, and commits as many requests as fit one etcd transaction (Options::max_txn_ops,
// max_txn_bytes) in ONE transaction that compares the head and puts the records, the stream
// index and versions, the aux writes and the new head. A single request too large for one
// transaction is split (records first, the head last; ETCD.md "Splitting").
//
// Errors beyond EventLog's:
//   kHeadConflict   the head in etcd is not the one this node planned on: another writer
//                   appended (Error::actual_version is etcd's head sequence). Nothing of the
//                   request was written. Before the append completes, the log adopts that head
//                   (GetHead() reaches it, cached stream versions are forgotten), so the caller
//                   reads the new records (ReadRange from its old head + 1), folds them and
//                   decides again. A request whose own expected_version no longer holds gets
//                   kVersionConflict with actual_version instead.
//   kIoError        etcd could not be reached within Options::client.request_timeout (every
//                   request is bounded; nothing hangs). A write may still have been applied;
//                   the next append re-reads the head first and adopts it if it was this
//                   node's own write (as RocksDB's WAL replay does after a failed sync).
//
// Reads go to etcd (linearizable range reads, paged) and never return anything past the head
// this node knows (GetHead()), so a partially written split group is never visible.
//
// Following other writers (ETCD.md "Several nodes"): a follower thread ("kl-etcd-follow")
// watches the head key and probes it (a linearizable read) every Options::probe_interval; when
// the head moves past this node's own appends it adopts it and calls the HeadListener. The
// probe's outcome is Health().
//
// Snapshots (AuxSpace::kSnapshots) stay on this node, in a RocksDB log under Options::local_dir
// (ETCD.md says why); an append that mixes them with anything else is refused.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "events/append_planner.hpp"
#include "events/aux_watch.hpp"
#include "events/etcd_client.hpp"
#include "events/event_log.hpp"
#include "events/log_sink.hpp"
#include "events/rocks_event_log.hpp"

namespace keyledger::events {

// The layout version under the prefix (key <prefix>/format).
inline constexpr uint32_t kEtcdLayoutVersion = 1;

class EtcdEventLog final : public EventLog, public AuxWatch {
 public:
  struct Options {
    etcd::ClientOptions client;
    // Every key lives under this prefix (default /keyledger/default). Must start with '/' and
    // not end with one. Two logs never share a prefix.
    std::string prefix = "/keyledger/default";
    // Node-local directory for projection snapshots (required); the snapshots of one etcd log
    // go to <local_dir>/etcd-snapshots/<log id>.
    std::string local_dir;
    // The memory budget of that local store (RocksEventLog::Options).
    size_t local_block_cache_bytes = kDefaultBlockCacheBytes;
    size_t local_write_buffer_bytes = kDefaultWriteBufferBytes;
    // Time source in microseconds (default: the system clock).
    std::function<int64_t()> clock;
    LogSink log;  // storage error details (default: discarded)
    // Called after every etcd transaction of an append (default: none; on the writer thread).
    std::function<void(const GroupCommitStats&)> on_group_commit;
    // etcd's --max-txn-ops and a request size safely under its --max-request-bytes (1.5 MiB).
    size_t max_txn_ops = 128;
    size_t max_txn_bytes = 1'280 << 10;
    // Upper bound on requests taken from the queue at once (default 1024).
    size_t max_group_requests = 1024;
    // Records per range read (default 256; fewer when a page's response is too large).
    size_t page_records = 256;
    // Idempotency records carry an etcd lease of ttl + reuse: one lease serves every record
    // written within `reuse`, so each expires between ttl and ttl + reuse after its write.
    std::chrono::seconds idempotency_ttl{24 * 3600};
    std::chrono::seconds idempotency_lease_reuse{3600};
    // Lease of the claim a split append holds (default 60 s): a writer that dies mid-split
    // releases it this long after.
    std::chrono::seconds split_claim_ttl{60};
    // The follower (ETCD.md "Several nodes"): false runs none (no HeadListener calls, Health()
    // always Ok). Default true.
    bool follow = true;
    // How often the follower reads the head linearizably (default 1 s), and how long one such
    // probe may take across every endpoint before the store counts as unhealthy (default 2 s).
    std::chrono::milliseconds probe_interval{1000};
    std::chrono::milliseconds probe_timeout{2000};
    // At most one defragmentation of the members per interval (default 10 min): defragmenting
    // blocks a member's reads and writes while it rewrites its database file. A purge within
    // the interval compacts at once (that is what hides deleted keys from every revision) and
    // leaves the defragmentation owed; the follower runs it when the interval has passed.
    std::chrono::seconds defrag_interval{600};
    // Fault injection seam: when it returns true, the next transaction fails with kIoError as
    // an unreachable cluster would, before anything is sent (default: never).
    std::function<bool()> fail_write;
  };

  static Result<std::unique_ptr<EtcdEventLog>> Open(Options options);
  ~EtcdEventLog() override;
  EtcdEventLog(const EtcdEventLog&) = delete;
  EtcdEventLog& operator=(const EtcdEventLog&) = delete;

  Head GetHead() const override;
  Result<std::vector<EventRecord>> ReadRange(uint64_t from_sequence, size_t limit) const override;
  Status Scan(uint64_t from, uint64_t to, const RecordVisitor& visit) const override;
  Result<std::vector<EventRecord>> ReadStream(std::string_view stream, uint64_t from_version,
                                              size_t limit) const override;
  Result<uint64_t> StreamVersion(std::string_view stream) const override;
  Result<VerifyReport> Verify(uint64_t from, uint64_t to) const override;
  Result<std::optional<std::string>> GetAux(AuxSpace space, std::string_view key) const override;
  Status ScanAux(AuxSpace space, std::string_view prefix, const AuxVisitor& visit) const override;

  void AppendAsync(AppendRequest request, AppendCallback done) override;
  using EventLog::Append;
  // Compacts etcd's history up to now, so that no revision returns a deleted keyring or
  // idempotency entry any more, and defragments every member (paced: Options::defrag_interval)
  // so that their bytes leave the members' database files (ETCD.md "Residue"); kSnapshots
  // purges the local store.
  Status PurgeDeletedAux(AuxSpace space) override;
  // How many defragmentations of the members have completed (for tests and metrics).
  uint64_t defragmentations() const;
  // AuxSpace::kTelemetry only (ETCD.md "Health telemetry on several nodes"): a thread of its own
  // ("kl-etcd-telem") reads the space, then watches its prefix; it reads everything again
  // whenever its watch ends or the head follower restarts its own (a stopped member keeps a
  // silent stream open, which only the follower's probe notices).
  Status WatchAux(AuxSpace space, Listener listener) override;
  Status Close() override;
  // The node-local snapshot store's RocksDB (the log itself is in etcd).
  Result<StoreMemory> MemoryUsage() const override;
  // The listener runs on the follower thread (or on the writer thread after a lost race). It
  // may be replaced (nullptr: none); once SetHeadListener returns, the previous one is no
  // longer running and will not be called again.
  void SetHeadListener(HeadListener listener) override;
  // kUnavailable "etcd: no quorum or unreachable since <time>: <why>" while the follower's last
  // probe failed; Ok otherwise (and always without a follower).
  Status Health() const override;

  // Adopts the head etcd holds now (after kHeadConflict, or to follow another writer) and
  // forgets cached stream versions. Returns the new head; the records between the old head and
  // it are then readable with ReadRange/Scan.
  Result<Head> CatchUp();

  // Etcd's head as stored now, without adopting it.
  Result<Head> ReadStoredHead() const;
  // The log's identity (random, created with the log; names the local snapshot directory).
  const std::string& log_id() const { return log_id_; }
  etcd::Client& client() { return *client_; }

  // The keys under the prefix (ETCD.md "Layout"); public for tests and tools.
  struct Keys {
    std::string prefix;
    std::string FormatKey() const { return prefix + "/format"; }
    std::string IdKey() const { return prefix + "/id"; }
    std::string HeadKey() const { return prefix + "/head"; }
    std::string ClaimKey() const { return prefix + "/claim"; }
    std::string Record(uint64_t sequence) const;
    std::string StreamIndex(std::string_view stream, uint64_t version) const;
    std::string Version(std::string_view stream) const;
    std::string Aux(AuxSpace space, std::string_view key) const;
  };
  const Keys& keys() const { return keys_; }

 private:
  struct Pending {
    AppendRequest request;
    AppendCallback done;
  };
  struct Batch;

  explicit EtcdEventLog(Options options);
  Status Init();
  void WriterLoop();
  void ProcessGroup(std::vector<Pending>& group);
  // Commits `batch` in one transaction and completes its requests.
  void CommitBatch(Batch& batch);
  // Commits one request too large for a single transaction.
  void CommitSplit(Pending& pending);
  // Re-reads the head after a write whose outcome is unknown.
  Status Refresh();
  // The hash of the record stored at `sequence` (kCorruption when it is missing).
  Result<Hash> StoredRecordHash(uint64_t sequence) const;
  Result<uint64_t> WriterVersion(std::string_view stream);
  Status PrefetchVersions(const std::vector<Pending>& group);
  Result<int64_t> IdempotencyLease();
  // Why a transaction's head compare failed, per request.
  Error ConflictFor(const AppendRequest& request, const Head& etcd_head);
  void SetStale(bool stale);
  void SetCommitting(std::optional<Head> head);
  bool stale() const;
  // Adopts `stored` when it is past the known head: forgets cached versions, moves the head,
  // tells the listener. Returns whether it did. Any thread.
  bool Adopt(const Head& stored);
  void FollowerLoop();
  // One linearizable read of the head: adopts it, records health. Sets `revision` to the etcd
  // revision it was read at and `head_mod` to the head key's mod revision.
  Status Probe(int64_t& revision, int64_t& head_mod);
  // Defragments every member when one is owed (or `now_owed`) and the last one is at least
  // Options::defrag_interval old; otherwise leaves it owed.
  Status DefragmentWhenDue(bool now_owed);
  void TelemetryLoop();
  // Every telemetry entry, read page by page at one revision (returned in `revision`).
  Status ReadTelemetry(int64_t& revision, std::vector<AuxChange>& out);
  void DeliverTelemetry(std::vector<AuxChange> changes, bool complete);
  bool FollowerStopping();

  Status ScanRaw(uint64_t from, uint64_t to,
                 const std::function<bool(uint64_t, std::string_view)>& visit) const;
  Result<std::optional<uint64_t>> ReadVersion(std::string_view stream) const;
  void RememberVersion(const std::string& stream, uint64_t version, uint64_t generation) const;
  void ReportCommit(std::chrono::steady_clock::time_point start, size_t requests, size_t records,
                    bool ok) const;
  void LogError(std::string_view what) const;

  Options options_;
  Keys keys_;
  std::unique_ptr<etcd::Client> client_;
  std::unique_ptr<RocksEventLog> local_;  // kSnapshots
  std::string log_id_;

  mutable std::mutex head_mu_;
  Head head_;           // guarded by head_mu_: the last head this node committed or adopted
  bool stale_ = false;  // guarded by head_mu_: etcd's head moved without us (kHeadConflict)
  // guarded by head_mu_: the head the transaction in flight would write; the follower leaves
  // it to the writer (it is this process's own append, not another writer's).
  std::optional<Head> committing_;

  // Committed stream versions known so far. The writer assigns; readers only add entries they
  // read from etcd, and only while `versions_generation_` is unchanged (CatchUp clears both).
  mutable std::mutex versions_mu_;
  mutable std::unordered_map<std::string, uint64_t> versions_;
  mutable uint64_t versions_generation_ = 0;

  // Held while a group is processed and by CatchUp(), so the two never interleave.
  std::mutex writer_mu_;
  // Owned by the writer role (writer_mu_).
  JsonChecker json_;
  bool needs_refresh_ = false;
  // The head appends are planned and compared on (see etcd_event_log.cpp): moves on this node's
  // commits and on a lost race only.
  Head plan_head_;
  // The previous batch of this group lost a race: the rest of the group fails the same way.
  bool lost_race_ = false;
  Head unknown_head_;  // the head of the write whose outcome is unknown
  int64_t lease_id_ = 0;
  std::chrono::steady_clock::time_point lease_renew_at_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread writer_;

  std::mutex close_mu_;
  bool closed_ = false;

  // The follower: its own client (bounded by probe_timeout), its thread, its stop flag.
  std::unique_ptr<etcd::Client> follower_client_;
  std::thread follower_;
  std::mutex follower_mu_;
  std::condition_variable follower_cv_;
  bool follower_stopping_ = false;  // guarded by follower_mu_

  // Counts the head follower's (re)starts: the telemetry watcher re-reads when it moves.
  std::atomic<uint64_t> follower_restarts_{0};
  // The telemetry watcher (WatchAux): started by the first listener, stopped with the follower.
  std::unique_ptr<etcd::Client> telemetry_client_;
  std::thread telemetry_watcher_;    // guarded by aux_listener_mu_ until Close()
  std::mutex aux_listener_mu_;       // held while the listener runs
  AuxWatch::Listener aux_listener_;  // guarded by aux_listener_mu_

  // Held while the listener runs, so replacing it waits for a call in flight.
  std::mutex listener_mu_;
  HeadListener listener_;  // guarded by listener_mu_

  mutable std::mutex health_mu_;
  bool healthy_ = true;             // guarded by health_mu_
  int64_t unhealthy_since_us_ = 0;  // guarded by health_mu_
  std::string unhealthy_why_;       // guarded by health_mu_

  // Held while the members are defragmented (one at a time, paced).
  mutable std::mutex defrag_mu_;
  std::optional<std::chrono::steady_clock::time_point> last_defrag_;  // guarded by defrag_mu_
  bool defrag_owed_ = false;                                          // guarded by defrag_mu_
  uint64_t defragmentations_ = 0;                                     // guarded by defrag_mu_
};

}  // namespace keyledger::events
