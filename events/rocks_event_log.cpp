#include "events/rocks_event_log.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/memory_util.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>
#include <unordered_set>
#include <utility>

#include "events/head_codec.hpp"

namespace keyledger::events {
namespace {

constexpr const char* kEventsCf = "events";
constexpr const char* kStreamsCf = "streams";
constexpr const char* kMetaCf = "meta";
constexpr const char* kMetaFormatKey = "format";
constexpr const char* kMetaHeadKey = "head";

Error StorageError(std::string_view what, const rocksdb::Status& s) {
  ErrorCode code = s.IsCorruption() ? ErrorCode::kCorruption : ErrorCode::kIoError;
  return MakeError(code, std::string(what) + ": " + s.ToString());
}

// What callers of a write that did not become durable are told.
Error WriteFailure() {
  return MakeError(ErrorCode::kIoError, "the event store could not write; retry later");
}

// Read options at a read view (RocksEventLog::ReadView), keeping its snapshot alive while used.
struct AtView {
  explicit AtView(std::shared_ptr<const rocksdb::Snapshot> v) : view(std::move(v)) {
    options.snapshot = view.get();
  }
  std::shared_ptr<const rocksdb::Snapshot> view;
  rocksdb::ReadOptions options;
};

// Remembers a stream's version in one of the version tables, emptying the table first when it
// is full (kMaxCachedStreamVersions): both are caches of what the streams column family holds.
void RememberVersion(std::unordered_map<std::string, uint64_t>& table, const std::string& stream,
                     uint64_t version) {
  if (table.size() >= kMaxCachedStreamVersions && !table.contains(stream)) table.clear();
  table[stream] = version;
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

}  // namespace

RocksEventLog::RocksEventLog(std::string path, Options options)
    : path_(std::move(path)), options_(std::move(options)) {
  if (!options_.clock) options_.clock = SystemClockMicros;
  head_.hash = GenesisHash();
}

RocksEventLog::~RocksEventLog() { IgnoreError(Close()); }

void RocksEventLog::LogError(std::string_view what) const {
  if (options_.log) options_.log(LogLevel::kError, what);
}

Result<std::unique_ptr<RocksEventLog>> RocksEventLog::Open(const std::string& path,
                                                           Options options) {
  std::unique_ptr<RocksEventLog> log(new RocksEventLog(path, std::move(options)));
  KL_RETURN_IF_ERROR(log->OpenDb(log->options_.mode));
  if (log->options_.mode == Mode::kSecondary) {
    KL_RETURN_IF_ERROR(log->SettleSecondary());
  } else {
    KL_RETURN_IF_ERROR(log->RecoverHead(log->options_.check_head_on_open));
  }
  if (log->options_.mode == Mode::kReadWrite) {
    log->planned_head_ = log->GetHead();
    log->writer_ = std::thread([raw = log.get()] { raw->WriterLoop(); });
    log->syncer_ = std::thread([raw = log.get()] { raw->SyncLoop(); });
  }
  return log;
}

Status RocksEventLog::OpenDb(Mode mode) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool exists = fs::exists(fs::path(path_) / "CURRENT", ec);
  if (!exists) {
    if (mode != Mode::kReadWrite || !options_.create_if_missing) {
      return MakeError(ErrorCode::kNotFound, "no keyledger data directory at " + path_);
    }
    if (fs::exists(path_, ec) && !fs::is_empty(path_, ec)) {
      // Only files we create ourselves may already be there (a master key, a tokens file).
      for (const auto& entry : fs::directory_iterator(path_, ec)) {
        const std::string name = entry.path().filename().string();
        if (name != "master.key" && name != "tokens.json") {
          return MakeError(ErrorCode::kInvalidArgument,
                           path_ + " is not empty and holds no keyledger log (found " + name +
                               "); refusing to create one there");
        }
      }
    }
    fs::create_directories(path_, ec);
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = !exists;
  db_options.create_missing_column_families = !exists;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 4;
  db_options.paranoid_checks = true;
  // Table files kept open at once (RocksDB closes the least recently used beyond this). The
  // default, all of them, lets a long-running server's descriptors grow with its file count.
  db_options.max_open_files = 256;
  if (options_.env != nullptr) db_options.env = options_.env;

  std::vector<std::string> names;
  if (exists) {
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, path_, &names);
    if (!s.ok()) return StorageError("cannot list column families in " + path_, s);
    for (const char* required : {kEventsCf, kStreamsCf, kMetaCf}) {
      if (std::find(names.begin(), names.end(), required) == names.end()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         path_ + " is a RocksDB database but not a keyledger log (no '" + required +
                             "' column family)");
      }
    }
  } else {
    names = {rocksdb::kDefaultColumnFamilyName, kEventsCf, kStreamsCf, kMetaCf};
  }
  for (int i = 0; i < kAuxSpaceCount; ++i) {
    std::string aux(AuxSpaceName(static_cast<AuxSpace>(i)));
    if (std::find(names.begin(), names.end(), aux) == names.end()) {
      if (mode != Mode::kReadWrite) continue;  // created by the first read-write open
      names.push_back(aux);
      db_options.create_missing_column_families = true;
    }
  }

  // The memory budget (README "Memory budget"). Without it every column family had its own
  // block cache (64 MiB for events, RocksDB's 8 MiB for each other one), index and filter blocks
  // lived outside any cache, and each family's memtables could reach 2 x 64 MiB.
  if (block_cache_ == nullptr) {
    rocksdb::LRUCacheOptions cache_options;
    cache_options.capacity = options_.block_cache_bytes;
    // Index and filter blocks go to the high-priority pool (half the cache): a burst of data
    // blocks read once (an audit scan) does not evict them.
    cache_options.high_pri_pool_ratio = 0.5;
    block_cache_ = rocksdb::NewLRUCache(cache_options);
    // Not charged to the block cache: memtables fill and drain with the write rate, and charging
    // them would let a write burst evict the index and filter blocks every read needs. Two
    // separate bounds also make the budget an exact sum (--block-cache-mb + --write-buffer-mb).
    write_buffers_ = std::make_shared<rocksdb::WriteBufferManager>(options_.write_buffer_bytes);
  }
  db_options.write_buffer_manager = write_buffers_;
  // One family's memtable may take at most half of the shared budget before it flushes by itself.
  const size_t family_write_buffer = std::max<size_t>(
      size_t{1} << 20, std::min<size_t>(size_t{64} << 20, options_.write_buffer_bytes / 2));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    rocksdb::ColumnFamilyOptions cf_options;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = block_cache_;
    table.cache_index_and_filter_blocks = true;
    table.cache_index_and_filter_blocks_with_high_priority = true;
    // Level-0 files are read by every lookup: keep their index and filter blocks in the cache.
    table.pin_l0_filter_and_index_blocks_in_cache = true;
    // Partitioned index and filters: a table's index and filter are cut into 4 KiB partitions
    // behind a small top-level index (pinned), so the cache holds the partitions of the data being
    // read, not whole per-file index and filter blocks. Those grow with the log (~5 MB per million
    // events); whole, they no longer fit a 32 MiB cache past a few million events and were evicted
    // and read back on every lookup: the one-hour soak lost 11% of its throughput to that
    // (issue 17's closing note). RocksDB's remedy for a bounded cache over a large database.
    table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
    table.metadata_block_size = 4096;
    table.pin_top_level_index_and_filter = true;
    if (name == kEventsCf) {
      // What OptimizeForPointLookup set up, minus its private 64 MiB block cache.
      table.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
      table.data_block_hash_table_util_ratio = 0.75;
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      table.partition_filters = true;
      cf_options.memtable_prefix_bloom_size_ratio = 0.02;
      cf_options.memtable_whole_key_filtering = true;
    }
    cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    cf_options.write_buffer_size = family_write_buffer;
    descriptors.emplace_back(name, cf_options);
  }

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  switch (mode) {
    case Mode::kReadWrite:
      s = rocksdb::DB::Open(db_options, path_, descriptors, &handles_, &raw);
      break;
    case Mode::kReadOnly:
      s = rocksdb::DB::OpenForReadOnly(db_options, path_, descriptors, &handles_, &raw);
      break;
    case Mode::kSecondary:
      if (options_.secondary_path.empty()) {
        return MakeError(ErrorCode::kInvalidArgument, "secondary mode needs a scratch path");
      }
      db_options.max_open_files = -1;
      s = rocksdb::DB::OpenAsSecondary(db_options, path_, options_.secondary_path, descriptors,
                                       &handles_, &raw);
      break;
  }
  db_.reset(raw);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return MakeError(ErrorCode::kUnavailable,
                       path_ + " is in use by another process (a running keyledgerd?)");
    }
    return StorageError("cannot open " + path_, s);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == kEventsCf) events_cf_ = handles_[i];
    if (names[i] == kStreamsCf) streams_cf_ = handles_[i];
    if (names[i] == kMetaCf) meta_cf_ = handles_[i];
    for (int a = 0; a < kAuxSpaceCount; ++a) {
      if (names[i] == AuxSpaceName(static_cast<AuxSpace>(a)))
        aux_cf_[static_cast<size_t>(a)] = handles_[i];
    }
  }

  if (!exists) {
    rocksdb::WriteBatch batch;
    batch.Put(meta_cf_, kMetaFormatKey, EncodeFormatValue(kLogFormatVersion));
    batch.Put(meta_cf_, kMetaHeadKey, EncodeHeadValue(Head{0, GenesisHash(), 0}));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db_->Write(wo, &batch);
    if (!s.ok()) return StorageError("cannot initialize " + path_, s);
  }
  return Status::Ok();
}

Status RocksEventLog::RecoverHead(bool enforce, bool* consistent) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_cf_, kMetaFormatKey, &value);
  if (s.IsNotFound()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path_ + " has no format version; it is not a keyledger log");
  }
  if (!s.ok()) return StorageError("cannot read the format version", s);
  if (value.size() != 4) return MakeError(ErrorCode::kCorruption, "format version is malformed");
  uint32_t format = 0;
  for (char c : value) format = format << 8 | static_cast<uint8_t>(c);
  if (format != kLogFormatVersion) {
    return MakeError(ErrorCode::kUnsupported,
                     path_ + " uses log format version " + std::to_string(format) +
                         "; this build reads version " + std::to_string(kLogFormatVersion));
  }

  s = db_->Get(rocksdb::ReadOptions(), meta_cf_, kMetaHeadKey, &value);
  if (!s.ok()) return StorageError("cannot read the head from meta", s);
  KL_ASSIGN_OR_RETURN(Head meta_head, DecodeHeadValue(value, "meta head value"));

  // The head comes from the log itself; meta is only a cross-check.
  Head head{0, GenesisHash(), 0};
  std::string head_problem;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_cf_));
  it->SeekToLast();
  if (it->Valid()) {
    std::string_view key = ToView(it->key());
    auto decoded = DecodeRecord(ToView(it->value()));
    std::string problem;
    if (key.size() != 8) {
      problem = "malformed key in the events column family";
    } else if (!decoded.ok()) {
      problem = decoded.error().message;
    } else if (decoded->sequence != GetBigEndian64(key)) {
      problem = "the last record is stored under the wrong sequence";
    } else if (!VerifyRecordHash(*decoded)) {
      problem = "the last record's hash does not verify";
    }
    if (problem.empty()) {
      head = Head{decoded->sequence, decoded->hash, decoded->time_us};
      // The last link too: the head's prev_hash must be its predecessor's hash.
      it->Prev();
      Hash expected_prev = GenesisHash();
      if (it->Valid()) {
        auto prev = DecodeRecord(ToView(it->value()));
        if (!prev.ok()) {
          problem = "the record before the head cannot be decoded";
        } else {
          expected_prev = prev->hash;
        }
      }
      if (problem.empty() && it->status().ok() && decoded->prev_hash != expected_prev) {
        problem = "the head does not link to the record before it";
      }
    }
    head_problem = problem;
    if (!problem.empty() && !enforce && key.size() == 8) {
      // Audit tools still get a head (the last stored sequence) so Verify can find the break.
      head.sequence = GetBigEndian64(key);
      if (decoded.ok()) head = Head{head.sequence, decoded->hash, decoded->time_us};
    }
    if (!problem.empty() && enforce) {
      return MakeError(ErrorCode::kCorruption, "the hash chain is broken at the head of " + path_ +
                                                   ": " + problem +
                                                   " (run keyledger-audit verify)");
    }
  }
  if (!it->status().ok()) return StorageError("cannot read the last record", it->status());
  const bool meta_agrees = meta_head.sequence == head.sequence && meta_head.hash == head.hash;
  if (consistent != nullptr) *consistent = head_problem.empty() && meta_agrees;
  if (enforce && !meta_agrees) {
    return MakeError(ErrorCode::kCorruption,
                     "meta says the head is sequence " + std::to_string(meta_head.sequence) +
                         " but the log ends at sequence " + std::to_string(head.sequence) +
                         " (records lost or added outside keyledger; run keyledger-audit verify)");
  }
  std::lock_guard lock(head_mu_);
  head_ = head;
  meta_head_sequence_ = meta_head.sequence;
  return Status::Ok();
}

Head RocksEventLog::GetHead() const {
  std::lock_guard lock(head_mu_);
  return head_;
}

std::shared_ptr<const rocksdb::Snapshot> RocksEventLog::ReadView() const {
  std::lock_guard lock(head_mu_);
  return read_view_;
}

std::shared_ptr<const rocksdb::Snapshot> RocksEventLog::TakeSnapshot() const {
  // Released by the last holder, always while db_mu_ is held (so before the database closes).
  return std::shared_ptr<const rocksdb::Snapshot>(
      db_->GetSnapshot(), [db = db_.get()](const rocksdb::Snapshot* s) { db->ReleaseSnapshot(s); });
}

Status RocksEventLog::Scan(uint64_t from, uint64_t to, const RecordVisitor& visit) const {
  std::shared_lock db_lock(db_mu_);
  KL_RETURN_IF_ERROR(CheckOpen());
  AtView at(ReadView());
  at.options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(at.options, events_cf_));
  for (it->Seek(SequenceKey(from)); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return MakeError(ErrorCode::kCorruption, "malformed event key");
    if (GetBigEndian64(ToView(it->key())) > to) break;
    KL_ASSIGN_OR_RETURN(EventRecord r, DecodeRecord(ToView(it->value())));
    if (!visit(r)) break;
  }
  if (!it->status().ok()) return StorageError("cannot scan events", it->status());
  return Status::Ok();
}

Result<std::vector<EventRecord>> RocksEventLog::ReadRange(uint64_t from_sequence,
                                                          size_t limit) const {
  std::vector<EventRecord> out;
  if (limit == 0) return out;
  KL_RETURN_IF_ERROR(Scan(from_sequence, UINT64_MAX, [&](const EventRecord& r) {
    out.push_back(r);
    return out.size() < limit;
  }));
  return out;
}

Result<std::vector<EventRecord>> RocksEventLog::ReadStream(std::string_view stream,
                                                           uint64_t from_version,
                                                           size_t limit) const {
  KL_RETURN_IF_ERROR(ValidateStreamId(stream));
  std::shared_lock db_lock(db_mu_);
  KL_RETURN_IF_ERROR(CheckOpen());
  std::vector<EventRecord> out;
  const std::string prefix = std::string(stream) + '\0';
  const AtView at(ReadView());
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(at.options, streams_cf_));
  for (it->Seek(StreamKey(stream, from_version)); it->Valid() && out.size() < limit; it->Next()) {
    std::string_view key = ToView(it->key());
    if (key.substr(0, prefix.size()) != prefix) break;
    std::string value;
    rocksdb::Status s = db_->Get(at.options, events_cf_, it->value(), &value);
    if (s.IsNotFound()) {
      return MakeError(ErrorCode::kCorruption, "stream index points at a missing record");
    }
    if (!s.ok()) return StorageError("cannot read a stream record", s);
    KL_ASSIGN_OR_RETURN(EventRecord r, DecodeRecord(value));
    out.push_back(std::move(r));
  }
  if (!it->status().ok()) return StorageError("cannot read stream index", it->status());
  return out;
}

Result<uint64_t> RocksEventLog::ReadStreamVersion(std::string_view stream,
                                                  const rocksdb::Snapshot* view) const {
  const std::string prefix = std::string(stream) + '\0';
  rocksdb::ReadOptions ro;
  ro.snapshot = view;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, streams_cf_));
  it->SeekForPrev(StreamKey(stream, UINT64_MAX));
  if (it->Valid()) {
    std::string_view key = ToView(it->key());
    if (key.size() == prefix.size() + 8 && key.substr(0, prefix.size()) == prefix) {
      return GetBigEndian64(key.substr(prefix.size()));
    }
    return uint64_t{0};
  }
  if (!it->status().ok()) return StorageError("cannot read stream version", it->status());
  return uint64_t{0};
}

Result<uint64_t> RocksEventLog::StreamVersion(std::string_view stream) const {
  KL_RETURN_IF_ERROR(ValidateStreamId(stream));
  {
    std::lock_guard lock(versions_mu_);
    auto it = versions_.find(std::string(stream));
    if (it != versions_.end()) return it->second;
  }
  std::shared_lock db_lock(db_mu_);
  KL_RETURN_IF_ERROR(CheckOpen());
  const auto view = ReadView();
  return ReadStreamVersion(stream, view.get());
}

Result<uint64_t> RocksEventLog::PlannedStreamVersion(std::string_view stream) {
  // Writer role, db_mu_ held: the latest state, including groups written but not yet synced.
  std::string key(stream);
  auto it = planned_versions_.find(key);
  if (it != planned_versions_.end()) return it->second;
  KL_RETURN_IF_ERROR(CheckOpen());
  KL_ASSIGN_OR_RETURN(uint64_t v, ReadStreamVersion(stream, nullptr));
  RememberVersion(planned_versions_, key, v);
  return v;
}

Result<VerifyReport> RocksEventLog::Verify(uint64_t from, uint64_t to) const {
  std::shared_lock db_lock(db_mu_);
  KL_RETURN_IF_ERROR(CheckOpen());
  if (from == 0) from = 1;
  {
    // Verify up to what meta claims too, so that a truncated tail is reported.
    std::lock_guard lock(head_mu_);
    to = std::min(to, std::max(head_.sequence, meta_head_sequence_));
  }
  AtView at(ReadView());
  at.options.fill_cache = false;
  const rocksdb::ReadOptions& ro = at.options;
  Hash prev = GenesisHash();
  if (from > 1) {
    std::string value;
    rocksdb::Status s = db_->Get(ro, events_cf_, SequenceKey(from - 1), &value);
    if (!s.ok() && !s.IsNotFound()) return StorageError("cannot read record before range", s);
    auto decoded =
        s.ok() ? DecodeRecord(value) : Result<EventRecord>(MakeError(ErrorCode::kNotFound, ""));
    if (!decoded.ok()) {
      VerifyReport r;
      r.ok = false;
      r.first_bad = from - 1;
      r.reason =
          "record " + std::to_string(from - 1) + " (before the range) is missing or unreadable";
      return r;
    }
    prev = decoded->hash;
  }
  ChainVerifier verifier(from, prev);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
  for (it->Seek(SequenceKey(from)); it->Valid(); it->Next()) {
    if (it->key().size() != 8) {
      verifier.FailStorage("malformed key in the events column family");
      break;
    }
    uint64_t seq = GetBigEndian64(ToView(it->key()));
    if (seq > to) break;
    if (!verifier.Next(seq, ToView(it->value()))) break;
  }
  if (!it->status().ok()) verifier.FailStorage(it->status().ToString());
  verifier.Finish(to);
  return verifier.report();
}

rocksdb::ColumnFamilyHandle* RocksEventLog::AuxHandle(AuxSpace space) const {
  return aux_cf_[static_cast<size_t>(space)];
}

Result<std::optional<std::string>> RocksEventLog::GetAux(AuxSpace space,
                                                         std::string_view key) const {
  std::shared_lock db_lock(db_mu_);
  KL_RETURN_IF_ERROR(CheckOpen());
  rocksdb::ColumnFamilyHandle* cf = AuxHandle(space);
  if (cf == nullptr) return std::optional<std::string>();
  const AtView at(ReadView());
  std::string value;
  rocksdb::Status s = db_->Get(at.options, cf, ToSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return StorageError("cannot read " + std::string(AuxSpaceName(space)), s);
  return std::optional<std::string>(std::move(value));
}

Status RocksEventLog::ScanAux(AuxSpace space, std::string_view prefix,
                              const AuxVisitor& visit) const {
  std::shared_lock db_lock(db_mu_);
  KL_RETURN_IF_ERROR(CheckOpen());
  rocksdb::ColumnFamilyHandle* cf = AuxHandle(space);
  if (cf == nullptr) return Status::Ok();
  const AtView at(ReadView());
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(at.options, cf));
  for (it->Seek(ToSlice(prefix)); it->Valid(); it->Next()) {
    std::string_view key = ToView(it->key());
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!visit(key, ToView(it->value()))) break;
  }
  if (!it->status().ok()) {
    return StorageError("cannot scan " + std::string(AuxSpaceName(space)), it->status());
  }
  return Status::Ok();
}

void RocksEventLog::AppendAsync(AppendRequest request, AppendCallback done) {
  {
    std::lock_guard lock(queue_mu_);
    if (options_.mode == Mode::kReadWrite && !stopping_) {
      queue_.push_back(Pending{std::move(request), std::move(done)});
      queue_cv_.notify_one();
      return;
    }
  }
  done(MakeError(ErrorCode::kUnavailable, options_.mode == Mode::kReadWrite
                                              ? "event log is closed"
                                              : "event log is open read-only"));
}

Result<AppendResult> RocksEventLog::Append(AppendRequest request) {
  {
    std::unique_lock lock(queue_mu_);
    if (options_.mode == Mode::kReadWrite && !stopping_ && !needs_reopen_ && !writing_ &&
        !syncing_ && queue_.empty() && unsynced_.empty()) {
      // Nothing in flight: take both roles and write on this thread, synced, at once.
      writing_ = syncing_ = true;
      lock.unlock();
      std::optional<Result<AppendResult>> result;
      std::vector<Pending> group;
      group.push_back(Pending{std::move(request),
                              [&result](Result<AppendResult> r) { result.emplace(std::move(r)); }});
      WriteGroup(group, /*sync=*/true);
      lock.lock();
      writing_ = syncing_ = false;
      // Whatever queued meanwhile is the writer thread's; Close() may be waiting too.
      if (!queue_.empty() || stopping_) queue_cv_.notify_all();
      return std::move(*result);
    }
  }
  return EventLog::Append(std::move(request));
}

void RocksEventLog::WriterLoop() {
  pthread_setname_np(pthread_self(), "kl-log-writer");
  std::vector<Pending> group;
  while (true) {
    bool reopen = false;
    {
      std::unique_lock lock(queue_mu_);
      // After a failure, wait until nothing is in flight before reopening.
      queue_cv_.wait(lock, [this] {
        if (writing_) return false;
        if (queue_.empty()) return stopping_;
        return !needs_reopen_ || (unsynced_.empty() && !syncing_);
      });
      if (queue_.empty()) return;  // stopping and drained
      const size_t n = std::min(queue_.size(), options_.max_group_requests);
      group.clear();
      for (size_t i = 0; i < n; ++i) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      writing_ = true;
      reopen = needs_reopen_;
    }
    bool write = true;
    if (reopen) {
      // After a failed write or sync RocksDB refuses further writes until reopened. Reopening
      // also tells the truth about the failed groups: what of them reached the WAL on disk is
      // replayed and becomes part of the recovered head (each group whole, never partially).
      Status reopened = Reopen();
      if (reopened.ok()) {
        std::lock_guard lock(queue_mu_);
        needs_reopen_ = false;
      } else {
        LogError("event store is still unavailable: " + reopened.ToString());
        for (Pending& p : group) {
          p.done(WriteFailure());
        }
        write = false;
      }
    }
    if (write) WriteGroup(group, /*sync=*/false);
    group.clear();  // release the callbacks (and what they hold) now, not at the next group
    std::lock_guard lock(queue_mu_);
    writing_ = false;
  }
}

void RocksEventLog::SyncLoop() {
  pthread_setname_np(pthread_self(), "kl-log-sync");
  std::vector<Written> batch;
  while (true) {
    {
      std::unique_lock lock(queue_mu_);
      sync_cv_.wait(lock, [this] { return sync_stopping_ || !unsynced_.empty(); });
      if (unsynced_.empty()) return;  // stopping and drained
      for (Written& w : unsynced_) batch.push_back(std::move(w));
      unsynced_.clear();
      syncing_ = true;
    }
    std::optional<Error> failure;
    {
      std::shared_lock db_lock(db_mu_);
      const bool any_write =
          std::any_of(batch.begin(), batch.end(), [](const Written& w) { return w.wrote; });
      const auto start = std::chrono::steady_clock::now();
      rocksdb::Status s = any_write ? db_->SyncWAL() : rocksdb::Status::OK();
      if (any_write) {
        size_t requests = 0;
        size_t records = 0;
        for (const Written& w : batch) {
          requests += w.done.size();
          for (const auto& r : w.results) {
            if (r.ok()) records += r->sequences.size();
          }
        }
        ReportCommit(start, requests, records, s.ok());
      }
      if (!s.ok()) {
        LogError("event log sync failed: " + s.ToString());
        failure = WriteFailure();
      } else {
        // Publish the last group that wrote: its head, versions and read view.
        std::shared_ptr<const rocksdb::Snapshot> view;
        Head head;
        bool publish = false;
        {
          std::lock_guard lock(versions_mu_);
          for (Written& w : batch) {
            if (!w.wrote) continue;
            for (const auto& [stream, version] : w.versions) {
              RememberVersion(versions_, stream, version);
            }
            head = w.head;
            view = std::move(w.view);
            publish = true;
          }
        }
        if (publish) {
          std::lock_guard lock(head_mu_);
          head_ = head;
          meta_head_sequence_ = head.sequence;
          read_view_ = std::move(view);
        }
      }
      // Snapshots are released while the database is certainly open.
      for (Written& w : batch) w.view.reset();
    }
    if (failure) {
      // What was written after the failed sync is not known to be durable either. Its snapshots
      // must be released before the writer may reopen (and so delete) the database they belong
      // to: while syncing_ is still set, the writer cannot start its reopen.
      const size_t failed_before = batch.size();
      {
        std::lock_guard lock(queue_mu_);
        needs_reopen_ = true;
        for (Written& w : unsynced_) batch.push_back(std::move(w));
        unsynced_.clear();
      }
      std::shared_lock db_lock(db_mu_);
      for (size_t i = failed_before; i < batch.size(); ++i) batch[i].view.reset();
    }
    {
      std::lock_guard lock(queue_mu_);
      syncing_ = false;
      // The writer waits for the pipeline to drain before it reopens.
      if (needs_reopen_) queue_cv_.notify_all();
    }
    for (Written& w : batch) Complete(w.done, w.results, failure);
    batch.clear();
  }
}

void RocksEventLog::ReportCommit(std::chrono::steady_clock::time_point start, size_t requests,
                                 size_t records, bool ok) const {
  if (!options_.on_group_commit) return;
  GroupCommitStats stats;
  stats.requests = requests;
  stats.records = records;
  stats.write_micros = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
  stats.ok = ok;
  options_.on_group_commit(stats);
}

void RocksEventLog::Complete(std::vector<AppendCallback>& done,
                             std::vector<Result<AppendResult>>& results,
                             const std::optional<Error>& failure) {
  for (size_t i = 0; i < done.size(); ++i) {
    if (failure && results[i].ok()) results[i] = *failure;
    done[i](std::move(results[i]));
  }
}

void RocksEventLog::WriteGroup(std::vector<Pending>& group, bool sync) {
  std::vector<AppendCallback> done;
  done.reserve(group.size());
  for (Pending& p : group) done.push_back(std::move(p.done));
  std::vector<Result<AppendResult>> results;
  results.reserve(group.size());
  std::optional<Error> failure;
  auto finish = [&]() {
    // Completes a group that is not handed to the sync thread.
    Complete(done, results, failure);
  };

  std::shared_lock db_lock(db_mu_);
  if (Status open = CheckOpen(); !open.ok()) {
    db_lock.unlock();
    for (auto& d : done) d(open.error());
    return;
  }
  AppendPlanner planner(
      planned_head_, [this](std::string_view s) { return PlannedStreamVersion(s); }, options_.clock,
      json_);
  std::vector<EventRecord> records;
  rocksdb::WriteBatch batch;
  bool any_write = false;
  // Presence of aux keys written earlier in this group (not yet visible in the database), kept
  // only when some write is conditional. Committed state plus this overlay is exact because this
  // thread is the only writer.
  const bool any_conditional = std::any_of(group.begin(), group.end(), [](const Pending& p) {
    return std::any_of(p.request.aux.begin(), p.request.aux.end(),
                       [](const AuxWrite& w) { return w.only_if_present; });
  });
  std::map<std::pair<AuxSpace, std::string>, bool> group_presence;
  auto is_present = [&](const AuxWrite& w) -> Result<bool> {
    if (auto it = group_presence.find({w.space, w.key}); it != group_presence.end()) {
      return it->second;
    }
    std::string ignored;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), AuxHandle(w.space), w.key, &ignored);
    if (s.IsNotFound()) return false;
    if (!s.ok()) return StorageError("cannot read " + std::string(AuxSpaceName(w.space)), s);
    return true;
  };
  std::optional<Error> read_error;
  for (Pending& p : group) {
    results.push_back(planner.Plan(p.request, records));
    if (!results.back().ok()) continue;
    for (const AuxWrite& w : p.request.aux) {
      if (w.value && w.only_if_present) {
        Result<bool> present = is_present(w);
        if (!present.ok()) {
          read_error = present.error();
          break;
        }
        if (!*present) continue;
      }
      rocksdb::ColumnFamilyHandle* cf = AuxHandle(w.space);
      if (w.value) {
        batch.Put(cf, w.key, *w.value);
      } else {
        batch.Delete(cf, w.key);
      }
      if (any_conditional) group_presence[{w.space, w.key}] = w.value.has_value();
      any_write = true;
    }
    if (read_error) break;
  }
  if (read_error) {
    // Nothing was written; fail the whole group so that no request is half-applied.
    LogError("reading aux state for a conditional write failed: " + read_error->message);
    db_lock.unlock();
    for (auto& d : done)
      d(MakeError(ErrorCode::kIoError, "the event store could not read; retry later"));
    return;
  }

  Written written;
  if (!records.empty() || any_write) {
    for (const EventRecord& r : records) {
      const std::string seq_key = SequenceKey(r.sequence);
      batch.Put(events_cf_, seq_key, EncodeRecord(r));
      batch.Put(streams_cf_, StreamKey(r.stream, r.stream_version), seq_key);
    }
    const Head new_head = planner.head();
    batch.Put(meta_cf_, kMetaHeadKey, EncodeHeadValue(new_head));

    if (!sync) {
      // Readers must not see this batch before it is durable: pin the view they use now if it
      // is still "the latest state" (it is, whenever nothing was in flight).
      std::lock_guard lock(head_mu_);
      if (!read_view_) read_view_ = TakeSnapshot();
    }
    const auto start = std::chrono::steady_clock::now();
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    rocksdb::Status s = db_->Write(wo, &batch);
    if (sync) ReportCommit(start, group.size(), records.size(), s.ok());
    if (!s.ok()) {
      LogError("event log write failed: " + s.ToString());
      failure = WriteFailure();
      db_lock.unlock();
      {
        std::lock_guard lock(queue_mu_);
        needs_reopen_ = true;
      }
      finish();
      return;
    }
    planned_head_ = new_head;
    for (const auto& [stream, version] : planner.versions()) {
      RememberVersion(planned_versions_, stream, version);
      written.versions.emplace_back(stream, version);
    }
    written.wrote = true;
    written.head = new_head;
    if (sync) {
      {
        std::lock_guard lock(versions_mu_);
        for (const auto& [stream, version] : written.versions) {
          RememberVersion(versions_, stream, version);
        }
      }
      std::lock_guard lock(head_mu_);
      head_ = new_head;
      meta_head_sequence_ = new_head.sequence;
      read_view_.reset();  // everything written is durable: readers see the latest state
    } else {
      written.view = TakeSnapshot();
    }
  }
  if (sync) {
    db_lock.unlock();
    finish();
    return;
  }
  // Even a group that wrote nothing completes through the sync thread, after the groups before
  // it: its rejections were decided against their state.
  written.done = std::move(done);
  written.results = std::move(results);
  std::unique_lock lock(queue_mu_);
  if (needs_reopen_) {
    // A sync failed while this group was being written: it fails with the rest.
    lock.unlock();
    written.view.reset();
    db_lock.unlock();
    failure = WriteFailure();
    Complete(written.done, written.results, failure);
    return;
  }
  unsynced_.push_back(std::move(written));
  sync_cv_.notify_one();
}

Status RocksEventLog::CheckOpen() const {
  if (!db_) return MakeError(ErrorCode::kUnavailable, "the event store is not open");
  return Status::Ok();
}

Status RocksEventLog::CloseDbLocked() {
  if (!db_) return Status::Ok();
  {
    std::lock_guard lock(head_mu_);
    read_view_.reset();
  }
  rocksdb::Status first_error;
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    rocksdb::Status s = db_->DestroyColumnFamilyHandle(h);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  handles_.clear();
  events_cf_ = streams_cf_ = meta_cf_ = nullptr;
  aux_cf_.fill(nullptr);
  rocksdb::Status s = db_->Close();
  if (!s.ok() && first_error.ok()) first_error = s;
  db_.reset();
  if (!first_error.ok()) return StorageError("closing the event store failed", first_error);
  return Status::Ok();
}

Status RocksEventLog::Reopen() {
  std::unique_lock db_lock(db_mu_);
  // The old handle already failed; its close status adds nothing to the error we report.
  IgnoreError(CloseDbLocked());
  {
    std::lock_guard lock(versions_mu_);
    versions_.clear();
  }
  planned_versions_.clear();
  Status s = OpenDb(options_.mode);
  if (s.ok()) s = RecoverHead(options_.check_head_on_open);
  planned_head_ = GetHead();
  if (s.ok()) return s;
  IgnoreError(CloseDbLocked());
  if (options_.mode == Mode::kReadWrite) {
    // A read-write open must be able to write (it flushes the recovered WAL), which a full disk
    // refuses. Keep serving reads meanwhile from the log as it stands, opened read-only (it
    // replays the WAL in memory and writes nothing); the next group tries read-write again.
    Status read_only = OpenDb(Mode::kReadOnly);
    if (read_only.ok()) read_only = RecoverHead(options_.check_head_on_open);
    if (!read_only.ok()) {
      IgnoreError(CloseDbLocked());
      LogError("the event store cannot be read either: " + read_only.ToString());
    }
  }
  return s;
}

Status RocksEventLog::PurgeDeletedAux(AuxSpace space) {
  if (options_.mode != Mode::kReadWrite) {
    return MakeError(ErrorCode::kUnavailable, "event log is open read-only");
  }
  std::shared_lock db_lock(db_mu_);
  KL_RETURN_IF_ERROR(CheckOpen());
  rocksdb::FlushOptions fo;
  fo.wait = true;
  // Flushing every column family retires the WAL segments that still hold deleted values.
  rocksdb::Status s = db_->Flush(fo, handles_);
  if (!s.ok()) return StorageError("flush before purge failed", s);
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  s = db_->CompactRange(co, AuxHandle(space), nullptr, nullptr);
  if (!s.ok()) return StorageError("compaction for purge failed", s);
  return Status::Ok();
}

Status RocksEventLog::Close() {
  std::lock_guard close_lock(close_mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
    queue_cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard lock(queue_mu_);
    sync_stopping_ = true;
    sync_cv_.notify_all();
  }
  if (syncer_.joinable()) syncer_.join();
  std::unique_lock db_lock(db_mu_);
  return CloseDbLocked();
}

Result<StoreMemory> RocksEventLog::MemoryUsage() const {
  std::shared_lock db_lock(db_mu_);
  KL_RETURN_IF_ERROR(CheckOpen());
  StoreMemory out;
  std::unordered_set<const rocksdb::Cache*> caches;
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    StoreMemory::Family f;
    f.name = h->GetName();
    uint64_t v = 0;
    if (db_->GetIntProperty(h, rocksdb::DB::Properties::kSizeAllMemTables, &v)) f.memtables = v;
    if (db_->GetIntProperty(h, rocksdb::DB::Properties::kEstimateTableReadersMem, &v)) {
      f.table_readers = v;
    }
    if (db_->GetIntProperty(h, rocksdb::DB::Properties::kBlockCacheUsage, &v)) f.block_cache = v;
    out.families.push_back(std::move(f));
    const rocksdb::Options cf_options = db_->GetOptions(h);
    if (cf_options.table_factory == nullptr) continue;
    const auto* table = cf_options.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
    if (table != nullptr && table->block_cache != nullptr) caches.insert(table->block_cache.get());
  }
  std::map<rocksdb::MemoryUtil::UsageType, uint64_t> by_type;
  rocksdb::Status s =
      rocksdb::MemoryUtil::GetApproximateMemoryUsageByType({db_.get()}, caches, &by_type);
  if (!s.ok()) return StorageError("cannot read the store's memory usage", s);
  out.memtables = by_type[rocksdb::MemoryUtil::kMemTableTotal];
  out.table_readers = by_type[rocksdb::MemoryUtil::kTableReadersTotal];
  out.block_cache_usage = by_type[rocksdb::MemoryUtil::kCacheTotal];
  for (const rocksdb::Cache* c : caches) {
    out.block_cache_pinned += c->GetPinnedUsage();
    out.block_cache_capacity += c->GetCapacity();
  }
  out.block_caches = caches.size();
  return out;
}

size_t RocksEventLog::CachedStreamVersions() const {
  std::lock_guard lock(versions_mu_);
  return versions_.size();
}

Status RocksEventLog::CatchUp() {
  if (options_.mode != Mode::kSecondary) return Status::Ok();
  std::shared_lock db_lock(db_mu_);
  KL_RETURN_IF_ERROR(CheckOpen());
  return SettleSecondary();
}

// A secondary instance applies the primary's MANIFEST edits and WAL records per column family,
// reading the two at different moments. A flush that completes in between (the primary flushes
// every column family one by one when it purges the keyring, and deletes the WAL once all are
// flushed) can leave one family's view behind another's (meta/head disagreeing with the last
// record) or skip the records of a WAL deleted before it was read. Catching up again once the
// flush has been recorded fills both in, so a secondary view is used only after catching up
// until meta/head and the last record agree and two consecutive catch-ups show the same head
// (or, under continuous writes, after enough consistent attempts). Callers hold db_mu_ or own
// the log exclusively (Open).
Status RocksEventLog::SettleSecondary() {
  constexpr int kAttempts = 20;
  constexpr auto kPause = std::chrono::milliseconds(10);
  std::optional<Head> previous;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    rocksdb::Status s = db_->TryCatchUpWithPrimary();
    if (!s.ok()) return StorageError("cannot catch up with the primary", s);
    {
      std::lock_guard lock(versions_mu_);
      versions_.clear();
    }
    bool consistent = false;
    KL_RETURN_IF_ERROR(RecoverHead(/*enforce=*/false, &consistent));
    const Head head = GetHead();
    if (consistent && ((previous && *previous == head) || attempt >= kAttempts / 2)) {
      return Status::Ok();
    }
    previous = head;
    if (!consistent || attempt > 1) std::this_thread::sleep_for(kPause);
  }
  // Still unsettled: report the view as it is (refused when the caller asked for checks).
  return RecoverHead(options_.check_head_on_open);
}

}  // namespace keyledger::events
