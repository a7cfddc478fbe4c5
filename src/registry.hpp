#pragma once
// The registry: the single writer that decides commands against the current projection state,
// group-commits their events, and publishes the new immutable state to readers.
//
// Flow (DESIGN.md "Shape"): Submit(command) queues it; the writer thread drains everything
// queued, forks the committed state, and for each command in order calls Decide() against the
// working state (which already includes the earlier commands of the group), folds the decided
// events into it and prepares the response from the state right after that command. Then it
// makes ONE append for the whole group (one synced RocksDB write), publishes the working state,
// and completes every command. A failed write completes every command of the group with
// kIoError (503) and publishes nothing; validation failures complete at once with no event.
//
// The writer's stages (resolve idempotency, decide and fold, commit, complete, notify), the two
// batching layers (this registry's group and the event log's group commit) and which thread owns
// what: src/WRITER.md.
//
// Thread safety: Submit() and Current() may be called from any thread. Completion callbacks run
// on the writer thread and must not block (post to an I/O executor). Reads use Current(): an
// immutable snapshot, never the writer's lock.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "events/aux_watch.hpp"
#include "events/event_log.hpp"
#include "events/log_sink.hpp"
#include "events/secret_names.hpp"
#include "events/secrets.hpp"
#include "projections/snapshot.hpp"
#include "projections/state.hpp"

namespace keyledger::registry {

using projections::State;
using projections::StatePtr;

// Who asked, from where, and why: recorded on every event the request causes.
struct RequestContext {
  std::string actor;
  std::string client_ip;
  std::string request_id;
  std::optional<std::string> reason;  // X-Audit-Reason
  // If-Match: the resource version (ETag) the client expects; kPreconditionFailed otherwise.
  std::optional<uint64_t> if_match;
  // Idempotency-Key and a fingerprint of the request (method, path, body) it was used with.
  std::optional<std::string> idempotency_key;
  std::string request_fingerprint;
};

// What a command prepared as its answer, from the state right after its own events.
struct PreparedResponse {
  std::string body;              // JSON
  std::optional<uint64_t> etag;  // the resource's version, for single-resource responses
  // Receipt: `body` is a JSON object to which "seq" (the command's last event) and "hash" (its
  // hex chain hash) are appended after the commit, when the hash exists.
  bool receipt = false;
  // Do not store this response for Idempotency-Key retries (it holds a secret).
  bool not_replayable = false;
  // With not_replayable: what a retry is answered instead, without the secret (a create that
  // echoed the plaintext). nullopt: a retry runs the command again (a reveal).
  std::optional<std::string> replay_body;
};

struct RegistryOptions;

// Events per group commit: a group closes before it would pass this, so one append stays well
// inside the log's own limit (events::kMaxEventsPerAppend) and one fsync's latency bounded. A
// single command may still exceed it (a provider delete cascading to many keys).
inline constexpr size_t kMaxGroupEvents = 50'000;

// Everything a command may look at while deciding. `state` is the working state.
struct DecideContext {
  const State& state;
  const RequestContext& request;
  events::Keyring& keyring;
  const RegistryOptions& options;
  int64_t now_us;  // the time its events will carry
};

// The decision: events to append (with expected versions / guards), aux writes in the same
// batch, and what to do after the commit. Deciding never writes anything.
struct Decision {
  std::vector<events::StreamAppend> streams;
  std::vector<events::AuxWrite> aux;
  bool purge_keyring = false;  // a DEK was shredded: purge it from live files after the commit
  // State that is not an event (health telemetry, projections/telemetry.hpp), applied to the
  // working state right after this command's events and before `respond`. It must change only
  // what this decision's `aux` writes persist, so recovery (snapshot + replay + overlay of the
  // aux space) reaches the same state. Default: none.
  std::function<void(State& after)> apply_unlogged;
  std::function<Result<PreparedResponse>(const State& after)> respond;
};

class Command {
 public:
  virtual ~Command() = default;
  virtual std::string_view Name() const = 0;
  // Checks and plans the command against `ctx.state`. An error means nothing happens.
  virtual Result<Decision> Decide(DecideContext& ctx) = 0;
};

struct CommandResult {
  int status = 200;
  std::string body;
  std::optional<uint64_t> etag;
  uint64_t sequence = 0;  // the command's last event (0 if it appended none)
  std::string hash;       // hex hash of that event
  bool replayed = false;  // answered from an Idempotency-Key record
};

using CommandDone = std::function<void(Result<CommandResult>)>;

struct RegistryOptions {
  events::EventLog* log = nullptr;     // required; not owned
  events::Keyring* keyring = nullptr;  // required; not owned
  // Snapshot after this many events since the last one (0 = only at Close). Default 10,000.
  uint64_t snapshot_every = 10'000;
  // Echo the plaintext in the create response's api_key_plain (Aether does; default false).
  bool echo_plaintext_on_create = false;
  // Refuse reveal without an X-Audit-Reason (default false).
  bool require_reveal_reason = false;
  // Header and config member names whose values are sealed: the built-in rule plus the names
  // of --secret-field-names (default: none added; events/secret_names.hpp).
  events::SecretNames secret_names;
  // Idempotency records expire after this long (default 24 h).
  int64_t idempotency_ttl_us = int64_t{24} * 3600 * 1'000'000;
  // Crypto-shredding purges (flush every column family, compact the keyring) after deletes run
  // at most this often; the deletes in between share one (default 2 s; events/FORMAT.md).
  int64_t min_purge_interval_us = 2'000'000;
  // Upper bound on commands per group (default 1024).
  size_t max_group_commands = 1024;
  // On a shared log (events::AuxWatch: several nodes on etcd), other nodes' health telemetry
  // waiting for the writer thread, at most this many keys (default 65,536); beyond it the
  // waiting entries are dropped and the next catch-up re-reads the whole telemetry space.
  size_t max_pending_telemetry = 65'536;
  std::function<int64_t()> clock;  // default: system clock
  LogSink log_sink;
  // Called on the writer thread after each group (for metrics): commands, events, micros.
  std::function<void(size_t commands, size_t events, int64_t micros)> on_group;
};

class Registry {
 public:
  // Recovers the state (newest valid snapshot + the tail of the log, or a full replay) before
  // returning, then starts the writer.
  static Result<std::unique_ptr<Registry>> Open(RegistryOptions options);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The latest committed state. Cheap; safe from any thread.
  StatePtr Current() const;

  void Submit(std::unique_ptr<Command> command, RequestContext context, CommandDone done);
  // Blocking convenience for tests and tools (never on an I/O thread).
  Result<CommandResult> Execute(std::unique_ptr<Command> command, RequestContext context);

  // Called (on the writer thread) after each publish with the range of new sequences.
  using CommitListener = std::function<void(uint64_t first, uint64_t last)>;
  void AddCommitListener(CommitListener listener);

  projections::SnapshotStore& snapshots() { return *snapshots_; }
  const RegistryOptions& options() const { return options_; }

  // Writes a snapshot of the current state now (blocking).
  Status WriteSnapshot();
  // Drains queued commands, stops the writer and maintenance, writes a final snapshot. The log
  // is not closed (its owner does that). Idempotent.
  Status Close();

 private:
  struct Pending {
    std::unique_ptr<Command> command;
    RequestContext context;
    CommandDone done;
  };

  explicit Registry(RegistryOptions options);
  Status Recover();
  void WriterLoop();
  // Decides, appends and completes a prefix of `group`; returns its length (the rest did not fit
  // into one append and goes into the next group). It runs the stages below over one GroupPlan
  // (registry.cpp; src/WRITER.md), on the writer thread.
  size_t ProcessGroup(std::vector<Pending>& group);
  struct GroupPlan;
  bool ResolveIdempotency(GroupPlan& plan, size_t i);  // false: answered without deciding
  bool DecideAndFold(GroupPlan& plan, size_t i);       // false: the group is full before it
  void Commit(GroupPlan& plan);
  void Complete(GroupPlan& plan);
  void Notify(GroupPlan& plan);
  Status Resync();
  // Other nodes' health telemetry (events::AuxWatch): QueueTelemetry runs on the log's thread and
  // only queues; ApplyTelemetry folds the queue into a published state on the writer thread.
  void QueueTelemetry(std::vector<events::AuxChange> changes);
  void ApplyQueuedTelemetry();
  // Applies `value` (a telemetry entry) to `state`, or keeps it as an orphan when the key is not
  // there yet (another node's key whose creation this node has not folded). Writer thread.
  void ApplyTelemetryEntry(State& state, const std::string& key, const std::string& value);
  void Publish(StatePtr state);
  void MaintenanceLoop();
  void Log(LogLevel level, const std::string& message) const;
  int64_t Now(const State& s) const;

  RegistryOptions options_;
  std::unique_ptr<projections::SnapshotStore> snapshots_;

  mutable std::mutex state_mu_;
  StatePtr committed_;  // guarded by state_mu_

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread writer_;

  std::mutex listeners_mu_;
  std::vector<CommitListener> listeners_;

  // Maintenance: keyring purges and periodic snapshots, off the writer thread.
  std::mutex maint_mu_;
  std::condition_variable maint_cv_;
  bool purge_requested_ = false;
  bool snapshot_requested_ = false;
  bool maint_stopping_ = false;
  uint64_t last_snapshot_sequence_ = 0;
  std::thread maintenance_;

  // Telemetry from other nodes (QueueTelemetry): the newest entry per key, or an overflow.
  events::AuxWatch* aux_watch_ = nullptr;  // set by Open when the log has one
  std::mutex telemetry_mu_;
  std::unordered_map<std::string, std::optional<std::string>> queued_telemetry_;  // telemetry_mu_
  bool telemetry_overflow_ = false;       // guarded by telemetry_mu_
  bool telemetry_marker_queued_ = false;  // guarded by telemetry_mu_
  // Writer thread only: entries of keys this node has not folded yet, applied by Resync.
  std::unordered_map<std::string, std::string> orphan_telemetry_;

  std::mutex close_mu_;
  bool closed_ = false;
};

}  // namespace keyledger::registry
