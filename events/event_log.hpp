#pragma once
// The event log: an append-only, hash-chained sequence of EventRecords, grouped into streams.
//
// Interfaces are split by capability: EventReader (reads, verification) and EventLog (appends).
// Implementations: RocksEventLog (events/rocks_event_log.hpp, the durable default) and
// MemoryEventLog (events/memory_event_log.hpp, for tests). Both pass tests/events/event_log_test.
//
// Versions: a stream with no events has version 0; its first event gets version 1. An append
// names the version it expects the stream to be at (kAnyVersion to skip the check); a mismatch is
// ErrorCode::kVersionConflict with Error::actual_version set. A StreamAppend with no events is a
// pure guard: it checks the version and writes nothing to that stream.
//
// Aux spaces are small key/value tables stored next to the log and written in the same atomic
// batch as events (wrapped data keys, idempotency records, projection snapshots). They are not
// part of the hash chain and may be deleted (crypto-shredding).
//
// Thread safety: every method may be called from any thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/record.hpp"
#include "events/status.hpp"

namespace keyledger::events {

inline constexpr int64_t kAnyVersion = -1;
inline constexpr int64_t kNoStream = 0;

// Limits per append request.
inline constexpr size_t kMaxEventsPerAppend = 1'000'000;
inline constexpr size_t kMaxAuxWritesPerAppend = 2'000'000;
inline constexpr size_t kMaxAuxKeyBytes = 1024;
inline constexpr size_t kMaxAuxValueBytes = 64 << 20;

struct NewEvent {
  EventType type = EventType::kProviderCreated;
  uint16_t schema_version = 1;
  std::string payload;  // JSON text
  // 0: the log assigns the current time (never earlier than the head's). Otherwise the caller's
  // time is used as is and must not be earlier than the head's time.
  int64_t time_us = 0;
};

struct StreamAppend {
  std::string stream;
  int64_t expected_version = kAnyVersion;
  EventMetadata metadata;
  std::vector<NewEvent> events;
};

enum class AuxSpace : uint8_t {
  kKeyring = 0,      // data keys wrapped by the master key, KEK check values, server keys
  kIdempotency = 1,  // stored responses for Idempotency-Key retries
  kSnapshots = 2,    // projection snapshots by sequence
  // Gateways' health telemetry: the current health and breaker state per key, overwritten by each
  // report (README "Log growth"). Mutable state outside the hash chain, one entry per key.
  kTelemetry = 3,
};
inline constexpr int kAuxSpaceCount = 4;
std::string_view AuxSpaceName(AuxSpace space);

struct AuxWrite {
  AuxSpace space = AuxSpace::kKeyring;
  std::string key;
  std::optional<std::string> value;  // nullopt deletes the key
  // When true (default false), a put only replaces an existing entry: if the key is absent at the
  // moment the append is applied (after the earlier writes of the same group), this write is
  // skipped, silently and without failing the request. Used to rewrap data keys without
  // resurrecting one that a concurrent append deleted. Ignored for deletes.
  bool only_if_present = false;
};

// Everything in one request is applied atomically: all streams, all events, all aux writes.
struct AppendRequest {
  std::vector<StreamAppend> streams;
  std::vector<AuxWrite> aux;
};

struct Head {
  uint64_t sequence = 0;  // 0 for an empty log
  Hash hash{};            // GenesisHash() for an empty log
  int64_t time_us = 0;    // time of the head record (0 for an empty log)

  friend bool operator==(const Head&, const Head&) = default;
};

struct AppendResult {
  // The sequence numbers assigned, in request order (streams, then events), and each record's
  // hash (a receipt for that event).
  std::vector<uint64_t> sequences;
  std::vector<Hash> hashes;
  // The version of each StreamAppend's stream after the append, in request order.
  std::vector<uint64_t> stream_versions;
  Head head;  // the head right after this request's last record
};

struct VerifyReport {
  bool ok = true;
  uint64_t checked = 0;        // records whose hash was recomputed
  uint64_t first_bad = 0;      // when !ok: the first sequence that failed
  std::string reason;          // when !ok: why, in words
  uint64_t last_sequence = 0;  // the last sequence examined
  Hash last_hash{};            // the hash of that record (or the range's starting hash)
};

using AppendCallback = std::function<void(Result<AppendResult>)>;
using RecordVisitor = std::function<bool(const EventRecord&)>;  // return false to stop
using AuxVisitor = std::function<bool(std::string_view key, std::string_view value)>;

class EventReader {
 public:
  virtual ~EventReader() = default;

  virtual Head GetHead() const = 0;
  // Up to `limit` records with sequence >= from_sequence, in order.
  virtual Result<std::vector<EventRecord>> ReadRange(uint64_t from_sequence,
                                                     size_t limit) const = 0;
  // Visits records with from <= sequence <= to in order without materializing them all.
  virtual Status Scan(uint64_t from, uint64_t to, const RecordVisitor& visit) const = 0;
  // Up to `limit` records of one stream with version >= from_version, in version order.
  virtual Result<std::vector<EventRecord>> ReadStream(std::string_view stream,
                                                      uint64_t from_version,
                                                      size_t limit) const = 0;
  // The committed version of a stream (0 if it has no events).
  virtual Result<uint64_t> StreamVersion(std::string_view stream) const = 0;
  // Recomputes the hash chain over [from, to] (to is clamped to the head). A broken chain is
  // reported in the VerifyReport, not as an error; errors mean the check could not run.
  virtual Result<VerifyReport> Verify(uint64_t from, uint64_t to) const = 0;

  virtual Result<std::optional<std::string>> GetAux(AuxSpace space, std::string_view key) const = 0;
  // Visits aux entries whose key starts with `prefix`, in key order.
  virtual Status ScanAux(AuxSpace space, std::string_view prefix,
                         const AuxVisitor& visit) const = 0;
};

// What the store holds in memory now (RocksDB's own accounting, for a store that keeps a RocksDB),
// for /metrics and the memory budget (README "Memory budget"). Sizes in bytes.
struct StoreMemory {
  struct Family {
    std::string name;            // column family
    uint64_t memtables = 0;      // rocksdb.size-all-mem-tables: active, unflushed and pinned
    uint64_t table_readers = 0;  // rocksdb.estimate-table-readers-mem: outside the block cache
    uint64_t block_cache = 0;    // rocksdb.block-cache-usage of this family's cache (shared or not)
  };
  std::vector<Family> families;
  uint64_t memtables = 0;             // all memtables (MemoryUtil kMemTableTotal)
  uint64_t table_readers = 0;         // all table readers (kTableReadersTotal)
  uint64_t block_cache_usage = 0;     // every distinct block cache (kCacheTotal)
  uint64_t block_cache_pinned = 0;    // of which pinned (in use, or pinned index/filter blocks)
  uint64_t block_cache_capacity = 0;  // every distinct block cache's capacity
  size_t block_caches = 0;            // distinct block caches
};

class EventLog : public EventReader {
 public:
  // Queues an append. `done` runs exactly once, on one of the log's own threads, after the
  // request was made durable (or failed); it must not block. Requests are group-committed: one
  // fsync serves every request queued while the previous one was in flight.
  virtual void AppendAsync(AppendRequest request, AppendCallback done) = 0;

  // Blocking convenience wrappers around AppendAsync. Never call them on an I/O thread. An
  // implementation may run the request on the calling thread instead (when no other append is
  // in flight), saving the hand-offs.
  virtual Result<AppendResult> Append(AppendRequest request);
  Result<AppendResult> Append(std::string stream, int64_t expected_version,
                              std::vector<NewEvent> events, EventMetadata metadata = {});

  // Makes deleted aux entries unrecoverable from live storage files: flushes and compacts the
  // space (see FORMAT.md "Residue"). Blocking; safe to call concurrently with appends.
  virtual Status PurgeDeletedAux(AuxSpace space) = 0;

  // Stops the writer after draining queued appends and releases the storage. Idempotent.
  virtual Status Close() = 0;

  // What this process holds in memory for the store (StoreMemory); empty for a store that keeps
  // nothing measurable (MemoryEventLog).
  virtual Result<StoreMemory> MemoryUsage() const { return StoreMemory{}; }

  // Several writers (a store that other processes append to as well: etcd, events/ETCD.md).
  // `listener` runs on one of the log's own threads, must not block, and is called each time
  // the log learns that the head moved past what this process appended (another node's write),
  // with that head; by then GetHead() and the read methods already reach it. An append that fails
  // with kHeadConflict (another writer won the race) leaves GetHead() at least at the head that
  // beat it, so the caller can read what it missed and decide again. Set once, before appending.
  // Default: a store with one writer never calls it.
  using HeadListener = std::function<void(const Head& head)>;
  virtual void SetHeadListener(HeadListener listener) { (void)listener; }

  // Whether the store can take writes now. An error says why in words an operator can act on
  // (no quorum, every endpoint unreachable) and is what /readyz reports. Default: Ok.
  virtual Status Health() const { return Status::Ok(); }
};

}  // namespace keyledger::events
