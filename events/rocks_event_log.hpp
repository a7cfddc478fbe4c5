#pragma once
// The durable EventLog on RocksDB. Layout and versions: events/FORMAT.md.
//
// Ownership: Open() returns the only owner of the database handle; Close() (or the destructor)
// drains queued appends, stops the writer thread and closes the database, reporting its status.
// Thread safety: all public methods may be called from any thread. Appends are group-committed by
// one writer thread: every request queued while a synced write is in flight goes into the next
// WriteBatch, written with sync = true, so one fsync serves the whole group.

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "events/append_planner.hpp"
#include "events/event_log.hpp"
#include "events/log_sink.hpp"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Env;
}  // namespace rocksdb

namespace keyledger::events {

// The on-disk format version this build reads and writes (meta column family, key "format").
inline constexpr uint32_t kLogFormatVersion = 1;

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
    // Receives storage error details (default: discarded).
    LogSink log;
    // Called on the writer thread after every group commit (default: none); feeds metrics.
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
  Status PurgeDeletedAux(AuxSpace space) override;
  Status Close() override;

  // kSecondary: replays what the primary wrote since the last call and refreshes the head.
  // Like Open() in that mode, it catches up until the view is settled (see SettleSecondary).
  Status CatchUp();
  const std::string& path() const { return path_; }

 private:
  struct Pending {
    AppendRequest request;
    AppendCallback done;
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
  Result<uint64_t> ReadStreamVersion(std::string_view stream) const;
  Result<uint64_t> CachedStreamVersion(std::string_view stream);
  void WriterLoop();
  void ProcessGroup(std::vector<Pending>& group);
  void LogError(std::string_view what) const;
  rocksdb::ColumnFamilyHandle* AuxHandle(AuxSpace space) const;

  const std::string path_;
  Options options_;
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

  // Writer state. The queue is guarded by queue_mu_; everything else only by the writer thread.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread writer_;
  JsonChecker json_;
  bool needs_reopen_ = false;

  // Committed stream versions learnt so far (writer-owned, read by StreamVersion()).
  mutable std::mutex versions_mu_;
  std::unordered_map<std::string, uint64_t> versions_;

  std::mutex close_mu_;
  bool closed_ = false;
};

}  // namespace keyledger::events
