#pragma once
// The durable EventLog on RocksDB. Layout and versions: events/FORMAT.md.
//
// Ownership: Open() returns the only owner of the database handle; Close() (or the destructor)
// drains queued appends, stops the writer thread and closes the database, reporting its status.
// Thread safety: all public methods may be called from any thread.
//
// Appends are group-committed in a two-stage pipeline. The writer thread takes everything
// queued, plans it (sequences, hash chain, versions) and writes it as one WriteBatch without
// sync; the sync thread then makes every batch written so far durable with one fsync of the WAL
// (DB::SyncWAL) and only then publishes the new head and completes the callers. So the writer
// plans and writes the next group while the previous one is being synced, and one fsync serves
// every group written meanwhile. Readers never see what is written but not yet durable: every
// read goes through a RocksDB snapshot taken right after the last synced batch (the "read
// view"). When nothing is in flight, a blocking Append() runs on the caller's thread as one
// synced write, with no hand-off at all. A failed write or sync fails every request not yet
// durable; the next group reopens the store first (FORMAT.md "Failed writes"). The registry's
// group of commands above this one, and every thread's role: src/WRITER.md.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "events/append_planner.hpp"
#include "events/event_log.hpp"
#include "events/log_sink.hpp"

namespace rocksdb {
class Cache;
class ColumnFamilyHandle;
class DB;
class Env;
class Snapshot;
class WriteBufferManager;
}  // namespace rocksdb

namespace keyledger::events {

// The on-disk format version this build reads and writes (meta column family, key "format").
inline constexpr uint32_t kLogFormatVersion = 1;

// The store's share of the memory budget (README "Memory budget"): --block-cache-mb and
// --write-buffer-mb.
inline constexpr size_t kDefaultBlockCacheBytes = size_t{32} << 20;
inline constexpr size_t kDefaultWriteBufferBytes = size_t{32} << 20;
// Stream versions remembered in memory (committed, and planned by the writer); past this the
// table is emptied and versions are read back from the streams column family. Every key ever
// created has a stream, so without a bound a client creating and deleting keys grows it forever.
inline constexpr size_t kMaxCachedStreamVersions = 16'384;

struct GroupCommitStats {
  size_t requests = 0;       // append requests in the group (including rejected ones)
  size_t records = 0;        // records written
  int64_t write_micros = 0;  // time spent in the synced RocksDB write
  bool ok = true;
};

class RocksEventLog final : public EventLog {
 public:
  enum class Mode {
    kReadWrite,  // the server: one process at a time (RocksDB's LOCK file)
    kReadOnly,   // tools on a directory no server holds
    kSecondary,  // tools next to a running server; see CatchUp()
  };

  struct Options {
    Mode mode = Mode::kReadWrite;
    // Create an empty log when `path` holds no database (kReadWrite only). Default true.
    bool create_if_missing = true;
    // Refuse to open a log whose head record does not verify (default true). Audit tools turn
    // this off so that they can open a damaged log and report where it breaks.
    bool check_head_on_open = true;
    // Scratch directory for kSecondary (required in that mode).
    std::string secondary_path;
    // Time source in microseconds (default: the system clock).
    std::function<int64_t()> clock;
    // Storage environment (default: RocksDB's). Not owned; must outlive the log. Tests use it
    // to inject I/O failures.
    rocksdb::Env* env = nullptr;
    // Upper bound on requests per group commit (default 4096).
    size_t max_group_requests = 4096;
    // One LRU block cache shared by every column family, holding data blocks and the index and
    // filter blocks (charged to it at high priority; those of level-0 files pinned), so table
    // readers keep almost nothing outside it. Default kDefaultBlockCacheBytes (32 MiB).
    size_t block_cache_bytes = kDefaultBlockCacheBytes;
    // One WriteBufferManager over the memtables of every column family: when they reach this
    // size together, the oldest is flushed. Writes never stall on it, so the memtables may
    // exceed it briefly while a flush runs. Not charged to the block cache (see the .cpp).
    // Default kDefaultWriteBufferBytes (32 MiB).
    size_t write_buffer_bytes = kDefaultWriteBufferBytes;
    // Receives storage error details (default: discarded).
    LogSink log;
    // Called after every synced write (default: none; on the sync thread, or on the caller's
    // thread for an inline append); feeds metrics. `requests` counts every request it made
    // durable, across the groups written since the previous sync.
    std::function<void(const GroupCommitStats&)> on_group_commit;
  };

  static Result<std::unique_ptr<RocksEventLog>> Open(const std::string& path, Options options);
  ~RocksEventLog() override;
  RocksEventLog(const RocksEventLog&) = delete;
  RocksEventLog& operator=(const RocksEventLog&) = delete;

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
  Result<AppendResult> Append(AppendRequest request) override;
  Status PurgeDeletedAux(AuxSpace space) override;
  Status Close() override;

  // kSecondary: replays what the primary wrote since the last call and refreshes the head.
  // Like Open() in that mode, it catches up until the view is settled (see SettleSecondary).
  Status CatchUp();
  const std::string& path() const { return path_; }

  // RocksDB's memory now, by family and in total. kUnavailable while the store is closed.
  // Quick (a few property reads); safe from any thread, also while appends run.
  Result<StoreMemory> MemoryUsage() const override;
  // Committed stream versions remembered in memory now (at most kMaxCachedStreamVersions; the
  // writer's table of planned versions has the same bound).
  size_t CachedStreamVersions() const;

 private:
  struct Pending {
    AppendRequest request;
    AppendCallback done;
  };
  // A group written without sync, waiting for the sync thread.
  struct Written {
    std::vector<AppendCallback> done;
    std::vector<Result<AppendResult>> results;
    bool wrote = false;  // false: every request was rejected; nothing to publish
    Head head;           // the head after this group
    std::vector<std::pair<std::string, uint64_t>> versions;  // stream versions it set
    std::shared_ptr<const rocksdb::Snapshot> view;           // the database right after it
  };

  RocksEventLog(std::string path, Options options);
  // Opens the database in `mode` (the configured one, or read-only while a read-write reopen
  // fails: Reopen).
  Status OpenDb(Mode mode);
  Status CheckOpen() const;
  Status CloseDbLocked();  // caller holds db_mu_ exclusively; returns the first close error
  Status Reopen();
  // Takes the head from the last record. `enforce` refuses a head that does not verify or that
  // meta/head contradicts; `consistent` (optional) receives whether both checks passed.
  Status RecoverHead(bool enforce, bool* consistent = nullptr);
  // kSecondary: catches up with the primary until the view is consistent and stable.
  Status SettleSecondary();
  Result<uint64_t> ReadStreamVersion(std::string_view stream, const rocksdb::Snapshot* view) const;
  Result<uint64_t> PlannedStreamVersion(std::string_view stream);
  // The snapshot readers use (null: the latest state, which is then all durable). Callers hold
  // db_mu_ (shared) for as long as they use it.
  std::shared_ptr<const rocksdb::Snapshot> ReadView() const;
  std::shared_ptr<const rocksdb::Snapshot> TakeSnapshot() const;
  void WriterLoop();
  void SyncLoop();
  // Plans and writes one group (the caller holds the writer role). `sync`: one synced write,
  // then publish and complete (the caller holds the sync role too); otherwise an unsynced write
  // handed to the sync thread.
  void WriteGroup(std::vector<Pending>& group, bool sync);
  // Feeds options_.on_group_commit (if set) with one synced write that began at `start`.
  void ReportCommit(std::chrono::steady_clock::time_point start, size_t requests, size_t records,
                    bool ok) const;
  // Completes `group` with `results`, turning successes into `failure` when it is set.
  static void Complete(std::vector<AppendCallback>& done,
                       std::vector<Result<AppendResult>>& results,
                       const std::optional<Error>& failure);
  void LogError(std::string_view what) const;
  rocksdb::ColumnFamilyHandle* AuxHandle(AuxSpace space) const;

  const std::string path_;
  Options options_;
  // The memory budget's RocksDB part, made once and kept across reopens (OpenDb).
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned; destroyed in Close()
  rocksdb::ColumnFamilyHandle* events_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  std::array<rocksdb::ColumnFamilyHandle*, kAuxSpaceCount> aux_cf_{};

  // Guards db_ and the handles: readers share it; reopening after a failed write takes it
  // exclusively. db_ is null while the store is closed or could not be reopened.
  mutable std::shared_mutex db_mu_;

  mutable std::mutex head_mu_;
  Head head_;                        // guarded by head_mu_
  uint64_t meta_head_sequence_ = 0;  // guarded by head_mu_; what meta claimed at open

  // Pipeline state, guarded by queue_mu_. The writer role (writing_) is held by the writer
  // thread or by a caller running its append inline; the sync role (syncing_) by the sync
  // thread while it syncs, or by that inline caller.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // the writer thread waits here
  std::condition_variable sync_cv_;   // the sync thread waits here
  std::deque<Pending> queue_;
  std::deque<Written> unsynced_;
  bool stopping_ = false;       // no new appends; the writer drains the queue and exits
  bool sync_stopping_ = false;  // the writer has exited; the sync thread drains and exits
  bool writing_ = false;
  bool syncing_ = false;
  // A write or sync failed: RocksDB refuses writes until reopened. The next group reopens once
  // nothing is in flight.
  bool needs_reopen_ = false;
  std::thread writer_;
  std::thread syncer_;

  // Owned by the writer role: the head and stream versions as planned, including groups
  // written but not yet synced.
  Head planned_head_;
  std::unordered_map<std::string, uint64_t> planned_versions_;
  JsonChecker json_;

  // Committed stream versions learnt so far (read by StreamVersion()).
  mutable std::mutex versions_mu_;
  std::unordered_map<std::string, uint64_t> versions_;

  // Guarded by head_mu_: see ReadView().
  std::shared_ptr<const rocksdb::Snapshot> read_view_;

  std::mutex close_mu_;
  bool closed_ = false;
};

}  // namespace keyledger::events
