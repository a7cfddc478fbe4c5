#pragma once
// Whole-state serialization, the state digest, snapshots in the log's snapshot space, replay and
// point-in-time reconstruction.
//
// The canonical serialization lists providers, endpoints and keys in id order with every field
// (FieldSet::kAll); the digest is its SHA-256. Because the fold is the only way to build a State,
// the digest is identical whether the state was reached live, from a snapshot plus its tail, or
// from a full replay — tests and keyledger-rebuild check exactly that.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "events/event_log.hpp"
#include "events/log_sink.hpp"
#include "projections/state.hpp"

namespace keyledger::projections {

// Snapshot body format 3: providers and endpoints carry `config_secrets` (and endpoints
// `header_secrets`), and a state with system configs set has a "system_configs" member. A snapshot
// of another format (1 and 2, written by older builds) is skipped with a warning and the state is
// rebuilt from the log.
inline constexpr uint32_t kSnapshotFormat = 3;
inline constexpr size_t kSnapshotChunkBytes = 4 << 20;
inline constexpr size_t kSnapshotsKept = 4;

std::string SerializeState(const State& s);
Result<State> DeserializeState(std::string_view text);
std::string StateDigestHex(const State& s);
// One digest per entity ("provider:<id>", "endpoint:<id>", "key:<id>", "system-config:<key>"),
// in that order, to name
// the first entity on which two states differ.
std::vector<std::pair<std::string, std::string>> EntityDigests(const State& s);
// The first entity whose digest differs (or that only one side has); empty when equal.
std::string FirstDifference(const State& a, const State& b);

struct SnapshotInfo {
  uint64_t sequence = 0;
  int64_t time_us = 0;
  std::string digest;
  uint64_t bytes = 0;
};

// Snapshots live in AuxSpace::kSnapshots:
//   "s/" ‖ u64 BE sequence ‖ "/m"               manifest (JSON, see FORMAT.md "Snapshots")
//   "s/" ‖ u64 BE sequence ‖ "/c/" ‖ u32 BE i   body chunks of at most kSnapshotChunkBytes
// Thread-safe; writes go through the log's writer like any append.
class SnapshotStore {
 public:
  SnapshotStore(events::EventLog* writer, const events::EventReader& reader, LogSink log);

  // Writes a snapshot of `s` and deletes all but the newest kSnapshotsKept. Blocking.
  Status Write(const State& s);
  // The snapshots present, oldest first (manifests only; bodies are not checked here).
  Result<std::vector<SnapshotInfo>> List() const;
  // Loads and checks (body hash and recomputed digest) the newest snapshot with sequence <=
  // `at_or_before`. A snapshot that fails a check is skipped with a warning; nullopt when none.
  Result<std::optional<State>> LoadNewest(uint64_t at_or_before = UINT64_MAX) const;
  // Loads and checks (body length and hash, recomputed digest) one snapshot listed by List().
  Result<State> Load(const SnapshotInfo& info) const;
  // The raw body of the snapshot at `sequence` (its chunks concatenated), unchecked: for tools
  // that want to name what differs in a snapshot that fails Load().
  Result<std::string> ReadBody(uint64_t sequence) const;
  // Deletes every snapshot (recovery: drop a corrupt set).
  Status DeleteAll();
  // Replaces every snapshot with one of `s`, in one atomic append: afterwards the store holds
  // exactly that snapshot, or (if the append fails) exactly what it held before.
  // (keyledger-rebuild --write-snapshot.) Blocking.
  Status Replace(const State& s);

 private:
  // The aux writes that store a snapshot of `s` (chunks, then the manifest).
  static std::vector<events::AuxWrite> SnapshotWrites(const State& s);

  events::EventLog* writer_;
  const events::EventReader& reader_;
  LogSink log_;
};

using ReplayProgress = std::function<void(uint64_t sequence)>;

// Folds records (state.sequence, to] into `state`.
Status Replay(const events::EventReader& log, State& state, uint64_t to,
              const ReplayProgress& progress = nullptr);
// The state as of sequence `seq` (clamped to the head): nearest snapshot at or before it, then
// replay. Without snapshots (or when `snapshots` is null) replays from 0.
Result<State> StateAsOf(const events::EventReader& log, const SnapshotStore* snapshots,
                        uint64_t seq);
// The last sequence whose time is <= time_us (0 when none), by binary search on the log
// (times never decrease along the log).
Result<uint64_t> SequenceAtTime(const events::EventReader& log, int64_t time_us);

}  // namespace keyledger::projections
