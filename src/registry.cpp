#include "src/registry.hpp"

#include <chrono>
#include <future>

#include "events/append_planner.hpp"
#include "events/crypto.hpp"
#include "events/json_writer.hpp"
#include "projections/fold.hpp"
#include "projections/telemetry.hpp"
#include "src/idempotency.hpp"

namespace keyledger::registry {
namespace {

// Several nodes on a shared log (events/ETCD.md "Several nodes"): other nodes append to it too.
// A group whose append loses the race to one of them is decided again this many times, then
// answers 503 (kHeadConflict).
constexpr int kMaxRaceAttempts = 16;

// Queued by the log's HeadListener when another node appended: a command that decides nothing,
// so that the writer thread runs a group whose stage 0 catches up (the listener must not fold
// on the log's thread). Markers queued together share one group.
class CatchUpMarker final : public Command {
 public:
  std::string_view Name() const override { return "catch-up"; }
  Result<Decision> Decide(DecideContext&) override { return Decision{}; }
};

}  // namespace

using events::AppendRequest;
using events::EventRecord;
using projections::Folder;

Registry::Registry(RegistryOptions options) : options_(std::move(options)) {
  if (!options_.clock) options_.clock = events::SystemClockMicros;
}

Result<std::unique_ptr<Registry>> Registry::Open(RegistryOptions options) {
  if (options.log == nullptr || options.keyring == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "registry needs a log and a keyring");
  }
  std::unique_ptr<Registry> r(new Registry(std::move(options)));
  r->snapshots_ = std::make_unique<projections::SnapshotStore>(r->options_.log, *r->options_.log,
                                                               r->options_.log_sink);
  KL_RETURN_IF_ERROR(r->Recover());
  // Runs on a log thread: it only queues a marker (never folds there); the writer thread catches
  // up in stage 0 of the marker's group (Resync).
  r->options_.log->SetHeadListener([raw = r.get()](const events::Head&) {
    raw->Submit(std::make_unique<CatchUpMarker>(), RequestContext{}, [](Result<CommandResult>) {});
  });
  // Health reports taken by other nodes change no event (README "Log growth"): a shared log
  // tells us about them separately.
  if (auto* watch = dynamic_cast<events::AuxWatch*>(r->options_.log)) {
    Status s = watch->WatchAux(events::AuxSpace::kTelemetry,
                               // A complete delivery needs nothing more: an entry is only
                               // deleted with its key, and the key's deletion is an event.
                               [raw = r.get()](std::vector<events::AuxChange> changes, bool) {
                                 raw->QueueTelemetry(std::move(changes));
                               });
    if (s.ok()) {
      r->aux_watch_ = watch;
    } else {
      r->Log(LogLevel::kWarning,
             "other nodes' health telemetry will show only after a catch-up: " + s.ToString());
    }
  }
  r->writer_ = std::thread([raw = r.get()] { raw->WriterLoop(); });
  r->maintenance_ = std::thread([raw = r.get()] { raw->MaintenanceLoop(); });
  return r;
}

Registry::~Registry() { IgnoreError(Close()); }

void Registry::Log(LogLevel level, const std::string& message) const {
  if (options_.log_sink) options_.log_sink(level, message);
}

Status Registry::Recover() {
  const events::Head head = options_.log->GetHead();
  KL_ASSIGN_OR_RETURN(auto snap, snapshots_->LoadNewest(head.sequence));
  State state;
  if (snap) {
    state = std::move(*snap);
    last_snapshot_sequence_ = state.sequence;
  } else {
    KL_ASSIGN_OR_RETURN(auto infos, snapshots_->List());
    if (!infos.empty()) {
      Log(LogLevel::kWarning, "no usable snapshot; replaying the log from sequence 1");
    }
  }
  KL_RETURN_IF_ERROR(projections::Replay(*options_.log, state, head.sequence));
  KL_RETURN_IF_ERROR(projections::OverlayTelemetry(*options_.log, state));
  Publish(std::make_shared<const State>(std::move(state)));
  return Status::Ok();
}

StatePtr Registry::Current() const {
  std::lock_guard lock(state_mu_);
  return committed_;
}

void Registry::Publish(StatePtr state) {
  std::lock_guard lock(state_mu_);
  committed_ = std::move(state);
}

int64_t Registry::Now(const State& s) const { return std::max(options_.clock(), s.time_us); }

void Registry::AddCommitListener(CommitListener listener) {
  std::lock_guard lock(listeners_mu_);
  listeners_.push_back(std::move(listener));
}

void Registry::Submit(std::unique_ptr<Command> command, RequestContext context, CommandDone done) {
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_) {
      queue_.push_back(Pending{std::move(command), std::move(context), std::move(done)});
      queue_cv_.notify_one();
      return;
    }
  }
  done(MakeError(ErrorCode::kUnavailable, "the registry is shutting down"));
}

Result<CommandResult> Registry::Execute(std::unique_ptr<Command> command, RequestContext context) {
  std::promise<Result<CommandResult>> promise;
  auto future = promise.get_future();
  Submit(std::move(command), std::move(context),
         [&promise](Result<CommandResult> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void Registry::WriterLoop() {
  // Whatever the log learned between recovery and the listener (another node's appends): caught
  // up here, without a group, so a single-writer log sees no extra group at start.
  if (options_.log->GetHead().sequence > Current()->sequence) {
    if (Status s = Resync(); !s.ok()) Log(LogLevel::kError, "catch-up failed: " + s.ToString());
  }
  std::vector<Pending> group;
  while (true) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      const size_t n = std::min(queue_.size(), options_.max_group_commands);
      group.clear();
      for (size_t i = 0; i < n; ++i) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    const size_t processed = ProcessGroup(group);
    if (processed < group.size()) {
      // Deferred (the group reached kMaxGroupEvents): back to the front, in order.
      std::lock_guard lock(queue_mu_);
      for (size_t i = group.size(); i-- > processed;) queue_.push_front(std::move(group[i]));
    }
    // Drop the commands and their completion callbacks now, not when the next group arrives: a
    // callback holds the HTTP layer's Responder, which keeps its connection alive (and counted
    // by the server's graceful shutdown) for as long as it exists.
    group.clear();
  }
}

namespace {

// One command's place in a group.
struct Slot {
  std::optional<Error> error;                // its answer, when it failed before the commit
  std::optional<PreparedResponse> prepared;  // decided: what it answers after the commit
  std::optional<IdempotencyRecord> replay;   // answered from a stored record
  std::optional<size_t> replay_of;           // same Idempotency-Key earlier in this group
  size_t first_event = 0;                    // its events in the group's append
  size_t event_count = 0;
  std::string idempotency_aux_key;
  std::optional<CommandResult> result;  // decided and committed: its answer
};

CommandResult FinishResult(const PreparedResponse& p, uint64_t seq, const std::string& hash) {
  CommandResult r;
  r.etag = p.etag;
  r.sequence = seq;
  r.hash = hash;
  r.body = p.receipt ? WithReceipt(p.body, seq, hash) : p.body;
  return r;
}

}  // namespace

// Everything one group commit works on (src/WRITER.md). The stages below each read and write a
// part of it, named in their comments; it lives on the writer thread's stack for one
// ProcessGroup call and nothing else ever sees it.
struct Registry::GroupPlan {
  GroupPlan(std::vector<Pending>& group, StatePtr committed, int64_t now)
      : commands(group),
        base(std::move(committed)),
        now_us(now),
        started(std::chrono::steady_clock::now()),
        slots(group.size()),
        working(base->Fork()),
        next_sequence(base->sequence + 1),
        processed(group.size()) {}

  // The group, fixed before the first stage.
  std::vector<Pending>& commands;
  const StatePtr base;   // the committed state the group starts from
  const int64_t now_us;  // the time every event of the group carries
  const std::chrono::steady_clock::time_point started;

  // Built command by command (ResolveIdempotency, DecideAndFold).
  std::vector<Slot> slots;  // one per command
  State working;            // `base` plus the events of every command decided so far
  Folder folder;
  events::AppendRequest request;  // their streams and aux writes, in command order
  uint64_t next_sequence;         // the sequence the next decided event will get
  size_t total_events = 0;
  bool purge_keyring = false;  // a decided command shredded a data key
  bool unlogged = false;       // a decided command changed state that is not an event
  size_t processed;            // commands in this group; the rest go into the next one

  // Set by Commit.
  Result<events::AppendResult> appended = events::AppendResult{};
  std::optional<Error> failure;  // the append failed: what its decided commands are told
  bool lost_race = false;        // another node appended first; nothing was written
};

// The writer's stages, in order. The first two run command by command (a command's idempotency
// is resolved against the earlier slots of its group, and it decides against the state they
// left); the other three run once for the whole group.
//
// Stage 0, catch up (several nodes on a shared log): before deciding, the committed state must
// have reached the log's head, so every decision sees every write the log knows of, and an
// append is only ever planned on a head the state includes. When the append then loses a race
// (another node appended meanwhile: kHeadConflict), nothing was written and nobody was answered:
// the writer catches up again and runs the group once more from stage 1, at most
// kMaxRaceAttempts times.
size_t Registry::ProcessGroup(std::vector<Pending>& group) {
  for (int attempt = 1;; ++attempt) {
    if (options_.log->GetHead().sequence > Current()->sequence) {
      if (Status s = Resync(); !s.ok()) {
        Log(LogLevel::kError, "catch-up before deciding failed: " + s.ToString());
        const Error e = MakeError(ErrorCode::kIoError, "the event store could not be read");
        for (Pending& p : group) p.done(e);
        return group.size();
      }
    }
    ApplyQueuedTelemetry();
    StatePtr base = Current();
    const int64_t now = Now(*base);
    GroupPlan plan(group, std::move(base), now);
    for (size_t i = 0; i < group.size(); ++i) {
      if (!ResolveIdempotency(plan, i)) continue;  // answered without deciding
      if (!DecideAndFold(plan, i)) break;          // the group is full: i and the rest wait
    }
    Commit(plan);
    if (plan.lost_race && attempt < kMaxRaceAttempts) {
      // Decide again on newer state. When the log has not shown the winner's head yet, give the
      // follower a moment instead of deciding on the same state again (a few ms, growing).
      if (options_.log->GetHead().sequence <= plan.base->sequence) {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(attempt, 10)));
      }
      continue;
    }
    Complete(plan);
    if (plan.failure) {
      // The write may have reached the disk after all (see events/FORMAT.md "Failed writes"),
      // or another writer may have appended: re-read the log before deciding anything else.
      if (Status s = Resync(); !s.ok()) Log(LogLevel::kError, "resync failed: " + s.ToString());
      return plan.processed;
    }
    Notify(plan);
    return plan.processed;
  }
}

// Stage 1, resolve idempotency. Reads the command's RequestContext, the earlier slots and the
// stored idempotency records (the log's aux space, at plan.now_us); writes the slot's aux key and,
// when the command is answered without deciding, its error, replay or replay_of. Returns whether
// the command still has to be decided.
bool Registry::ResolveIdempotency(GroupPlan& plan, size_t i) {
  const Pending& p = plan.commands[i];
  Slot& slot = plan.slots[i];
  if (!p.context.idempotency_key) return true;
  slot.idempotency_aux_key = IdempotencyAuxKey(p.context.actor, *p.context.idempotency_key);
  // The first command of the group with this key is the one that decided (or failed, or found a
  // stored record); later ones with the same key answer what it answered. (Any later match would
  // itself be a replay, which has no result of its own.)
  std::optional<size_t> first;
  for (size_t j = 0; j < i && !first; ++j) {
    if (plan.slots[j].idempotency_aux_key == slot.idempotency_aux_key) first = j;
  }
  if (first) {
    if (plan.commands[*first].context.request_fingerprint != p.context.request_fingerprint) {
      slot.error = IdempotencyMismatch();
      return false;
    }
    const Slot& earlier = plan.slots[*first];
    if (!(earlier.prepared && earlier.prepared->not_replayable && !earlier.prepared->replay_body)) {
      slot.replay_of = first;
      return false;
    }
    // The first answer holds a secret and has no replacement (a reveal): this request is decided
    // on its own, as a retry after the commit would be.
  }
  auto stored = LookupIdempotency(*options_.log, slot.idempotency_aux_key, plan.now_us);
  if (!stored.ok()) {
    slot.error = stored.error();
    return false;
  }
  if (!stored->has_value()) return true;
  if ((*stored)->fingerprint != p.context.request_fingerprint) {
    slot.error = IdempotencyMismatch();
  } else {
    slot.replay = std::move(**stored);
  }
  return false;
}

// Stage 2, decide and fold. Reads the command and plan.working; writes plan.working (the state
// after this command), the slot's prepared answer or error and event range, and appends the
// command's streams, aux writes and idempotency record to plan.request (with next_sequence,
// total_events and purge_keyring). Returns false, changing nothing, when the command's events
// would take the group past kMaxGroupEvents: the group closes before it (plan.processed).
bool Registry::DecideAndFold(GroupPlan& plan, size_t i) {
  Pending& p = plan.commands[i];
  Slot& slot = plan.slots[i];
  DecideContext ctx{plan.working, p.context, *options_.keyring, options_, plan.now_us};
  auto decision = p.command->Decide(ctx);
  if (!decision.ok()) {
    slot.error = decision.error();
    return true;
  }
  size_t decided_events = 0;
  for (const auto& sa : decision->streams) decided_events += sa.events.size();
  if (plan.total_events > 0 && plan.total_events + decided_events > kMaxGroupEvents) {
    // This command and the ones after it go into the next group, in order.
    plan.processed = i;
    return false;
  }
  // Fold the decided events into a fork, so a bad decision leaves `working` untouched.
  State candidate = plan.working.Fork();
  Status folded = Status::Ok();
  uint64_t seq = plan.next_sequence;
  std::vector<events::StreamAppend>& streams = decision->streams;
  for (events::StreamAppend& sa : streams) {
    if (sa.events.empty()) continue;
    if (sa.expected_version < 0) {
      folded = MakeError(ErrorCode::kInternal, "commands must name exact expected versions");
      break;
    }
    uint64_t version = static_cast<uint64_t>(sa.expected_version);
    for (events::NewEvent& e : sa.events) {
      e.time_us = plan.now_us;
      EventRecord r;
      r.sequence = seq++;
      r.stream = sa.stream;
      r.stream_version = ++version;
      r.type = e.type;
      r.schema_version = e.schema_version;
      r.time_us = plan.now_us;
      r.metadata = sa.metadata;
      r.payload = e.payload;
      folded = plan.folder.Apply(candidate, r);
      if (!folded.ok()) break;
    }
    if (!folded.ok()) break;
  }
  if (folded.ok() && decision->apply_unlogged) {
    decision->apply_unlogged(candidate);
    plan.unlogged = true;
  }
  Result<PreparedResponse> prepared = folded.ok() && decision->respond
                                          ? decision->respond(candidate)
                                          : Result<PreparedResponse>(PreparedResponse{});
  if (!folded.ok() || !prepared.ok()) {
    const Error& e = folded.ok() ? prepared.error() : folded.error();
    Log(LogLevel::kError, std::string("command ") + std::string(p.command->Name()) +
                              " produced events the fold rejects: " + e.message);
    slot.error = MakeError(ErrorCode::kInternal, "internal error");
    return true;
  }
  plan.working = std::move(candidate);
  slot.first_event = plan.total_events;
  slot.event_count = seq - plan.next_sequence;
  plan.total_events += slot.event_count;
  plan.next_sequence = seq;
  slot.prepared = std::move(prepared).value();
  for (auto& sa : streams) plan.request.streams.push_back(std::move(sa));
  for (auto& aux : decision->aux) plan.request.aux.push_back(std::move(aux));
  plan.purge_keyring |= decision->purge_keyring;
  if (p.context.idempotency_key && (!slot.prepared->not_replayable || slot.prepared->replay_body)) {
    const uint64_t last_seq = slot.event_count > 0 ? seq - 1 : 0;
    PreparedResponse stored = *slot.prepared;
    if (stored.replay_body) stored.body = *stored.replay_body;
    plan.request.aux.push_back(
        MakeIdempotencyWrite(slot.idempotency_aux_key, p.context.request_fingerprint,
                             plan.now_us + options_.idempotency_ttl_us, stored, last_seq));
  }
  return true;
}

// Stage 3, commit. Reads plan.request, base and total_events; makes ONE append of the request
// (none when it is empty) and, when the log assigned the sequences planned, publishes
// plan.working as the committed state (otherwise re-reads the log). Writes plan.appended and,
// when the append failed, plan.failure.
void Registry::Commit(GroupPlan& plan) {
  const bool any_write = !plan.request.streams.empty() || !plan.request.aux.empty();
  if (any_write) plan.appended = options_.log->Append(std::move(plan.request));
  if (!plan.appended.ok()) {
    const ErrorCode code = plan.appended.error().code;
    // Another node appended first. The log has already moved its head to the one that won
    // (EventLog's contract), so a version conflict with the head past our base is that race
    // too, not the request's: our commands name the versions of the state they decided on.
    // Every version in the request comes from the state the group was decided on (a client's
    // own If-Match or expected version is checked against that state while deciding), so a
    // version conflict means the state was stale: on a shared log, another node's write whose
    // head this node may not have adopted yet (the follower clears the version cache before it
    // moves the head). The same race, decided again after the catch-up.
    plan.lost_race = code == ErrorCode::kHeadConflict || code == ErrorCode::kVersionConflict;
    if (plan.lost_race) {
      plan.failure = MakeError(ErrorCode::kHeadConflict,
                               "other nodes kept appending to the shared log; retry later");
      return;
    }
    Log(LogLevel::kError, "group commit failed: " + plan.appended.error().message);
    // Storage failures are worth a retry (503); anything else the log refused is the request's.
    plan.failure =
        code == ErrorCode::kIoError || code == ErrorCode::kUnavailable
            ? MakeError(ErrorCode::kIoError, "the event store could not write; retry later")
            : plan.appended.error();
    return;
  }
  if (plan.total_events == 0) {
    // No event, but health telemetry (state that is not an event) may have changed.
    if (plan.unlogged) Publish(std::make_shared<const State>(std::move(plan.working)));
    return;
  }
  const events::AppendResult& appended = *plan.appended;
  if (appended.sequences.size() != plan.total_events ||
      appended.sequences.front() != plan.base->sequence + 1) {
    Log(LogLevel::kError, "the log assigned unexpected sequences; resynchronizing");
    if (Status s = Resync(); !s.ok()) Log(LogLevel::kError, "resync failed: " + s.ToString());
  } else {
    Publish(std::make_shared<const State>(std::move(plan.working)));
  }
}

// Stage 4, complete. Reads the slots, plan.appended and plan.failure; writes each decided slot's
// result (its last event's sequence and hash) and calls every processed command's `done`, in
// order, exactly once: its error, its replay, the failure (when the append failed), the answer of
// the earlier command with its Idempotency-Key, or its own result.
void Registry::Complete(GroupPlan& plan) {
  if (!plan.failure) {
    for (size_t i = 0; i < plan.processed; ++i) {
      Slot& slot = plan.slots[i];
      if (slot.error || slot.replay || slot.replay_of) continue;
      uint64_t seq = 0;
      std::string hash;
      if (slot.event_count > 0) {
        const size_t last = slot.first_event + slot.event_count - 1;
        seq = plan.appended->sequences[last];
        hash = crypto::HexEncode(crypto::AsBytes(plan.appended->hashes[last]));
      }
      slot.result = FinishResult(*slot.prepared, seq, hash);
    }
  }
  for (size_t i = 0; i < plan.processed; ++i) {
    const Slot& slot = plan.slots[i];
    const CommandDone& done = plan.commands[i].done;
    if (slot.error) {
      done(*slot.error);
    } else if (slot.replay) {
      done(ReplayResult(*options_.log, *slot.replay));
    } else if (plan.failure) {
      done(*plan.failure);
    } else if (slot.replay_of) {
      const Slot& first = plan.slots[*slot.replay_of];
      if (first.result) {
        CommandResult copy = *first.result;
        copy.replayed = true;
        if (first.prepared->replay_body) copy.body = *first.prepared->replay_body;  // never twice
        done(std::move(copy));
      } else if (first.replay) {
        done(ReplayResult(*options_.log, *first.replay));
      } else {
        done(first.error.value_or(MakeError(ErrorCode::kIoError, "retry later")));
      }
    } else {
      // Copied, not moved: a later command of the group with the same Idempotency-Key copies
      // this result too (replay_of).
      done(*slot.result);
    }
  }
}

// Stage 5, notify (after a successful commit only). Reads plan.base, total_events,
// purge_keyring, processed and started; tells the commit listeners the new sequences, asks the
// maintenance thread for a keyring purge or a snapshot when due, and reports the group to
// options_.on_group.
void Registry::Notify(GroupPlan& plan) {
  if (plan.total_events > 0) {
    const uint64_t first = plan.base->sequence + 1;
    const uint64_t last = plan.base->sequence + plan.total_events;
    std::vector<CommitListener> listeners;
    {
      std::lock_guard lock(listeners_mu_);
      listeners = listeners_;
    }
    for (const auto& l : listeners) l(first, last);
    std::lock_guard lock(maint_mu_);
    purge_requested_ |= plan.purge_keyring;
    if (options_.snapshot_every > 0 && last - last_snapshot_sequence_ >= options_.snapshot_every) {
      snapshot_requested_ = true;
    }
    if (purge_requested_ || snapshot_requested_) maint_cv_.notify_one();
  }
  if (options_.on_group) {
    options_.on_group(plan.processed, plan.total_events,
                      std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - plan.started)
                          .count());
  }
}

// Stage 0, catch up (src/WRITER.md): folds the log's records past the committed state up to the
// log's head (another node's writes on a shared log, or a write whose outcome was unknown),
// publishes and notifies as a commit does. Writer thread only.
Status Registry::Resync() {
  StatePtr current = Current();
  const uint64_t head = options_.log->GetHead().sequence;
  if (head <= current->sequence) return Status::Ok();
  // The same fold as recovery, on a fork: a failure publishes nothing.
  State state = current->Fork();
  KL_RETURN_IF_ERROR(projections::Replay(*options_.log, state, head));
  if (state.sequence == current->sequence) return Status::Ok();
  if (aux_watch_ == nullptr) {
    // Telemetry written with the appends it missed (another node's, or one that reached the
    // disk): read again in full.
    KL_RETURN_IF_ERROR(projections::OverlayTelemetry(*options_.log, state));
  } else {
    // The watch delivered every entry already; those of keys created by the appends just folded
    // waited as orphans.
    for (auto it = orphan_telemetry_.begin(); it != orphan_telemetry_.end();) {
      if (state.keys.Find(it->first) == nullptr) {
        ++it;
        continue;
      }
      const auto [key, value] = *it;
      it = orphan_telemetry_.erase(it);
      ApplyTelemetryEntry(state, key, value);
    }
  }
  const uint64_t first = current->sequence + 1;
  const uint64_t last = state.sequence;
  Publish(std::make_shared<const State>(std::move(state)));
  std::vector<CommitListener> listeners;
  {
    std::lock_guard lock(listeners_mu_);
    listeners = listeners_;
  }
  for (const auto& l : listeners) l(first, last);
  // Other nodes' deletes purge their own store; the shared store (etcd) has no local files.
  std::lock_guard lock(maint_mu_);
  if (options_.snapshot_every > 0 && last - last_snapshot_sequence_ >= options_.snapshot_every) {
    snapshot_requested_ = true;
    maint_cv_.notify_one();
  }
  return Status::Ok();
}

void Registry::QueueTelemetry(std::vector<events::AuxChange> changes) {
  bool submit = false;
  {
    std::lock_guard lock(telemetry_mu_);
    for (events::AuxChange& c : changes) {
      if (telemetry_overflow_) break;
      if (queued_telemetry_.size() >= options_.max_pending_telemetry &&
          queued_telemetry_.find(c.key) == queued_telemetry_.end()) {
        // Bounded: drop what waits and read the whole space on the writer thread instead.
        telemetry_overflow_ = true;
        queued_telemetry_.clear();
        break;
      }
      queued_telemetry_[std::move(c.key)] = std::move(c.value);
    }
    submit = !telemetry_marker_queued_;
    telemetry_marker_queued_ = true;
  }
  // One marker at a time: changes arriving meanwhile join the queue it will drain.
  if (submit) {
    Submit(std::make_unique<CatchUpMarker>(), RequestContext{}, [](Result<CommandResult>) {});
  }
}

void Registry::ApplyTelemetryEntry(State& state, const std::string& key, const std::string& value) {
  if (state.keys.Find(key) == nullptr) {
    if (orphan_telemetry_.size() < options_.max_pending_telemetry ||
        orphan_telemetry_.count(key) > 0) {
      orphan_telemetry_[key] = value;
    }
    return;  // past the bound: the entry shows after the next full read (restart, overflow)
  }
  auto t = projections::DecodeTelemetry(value);
  if (!t.ok()) {
    Log(LogLevel::kError,
        "another node's health telemetry for a key does not decode: " + t.status().ToString());
    return;
  }
  projections::ApplyTelemetry(state, key, std::move(t).value());
}

void Registry::ApplyQueuedTelemetry() {
  std::unordered_map<std::string, std::optional<std::string>> queued;
  bool overflow = false;
  {
    std::lock_guard lock(telemetry_mu_);
    queued.swap(queued_telemetry_);
    overflow = telemetry_overflow_;
    telemetry_overflow_ = false;
    telemetry_marker_queued_ = false;
  }
  if (queued.empty() && !overflow) return;
  State state = Current()->Fork();
  if (overflow) {
    orphan_telemetry_.clear();
    if (Status s = projections::OverlayTelemetry(*options_.log, state); !s.ok()) {
      Log(LogLevel::kError, "reading health telemetry failed: " + s.ToString());
      return;
    }
  } else {
    for (auto& [key, value] : queued) {
      if (!value) {
        orphan_telemetry_.erase(key);  // deleted with its key: the event removes the key
        continue;
      }
      ApplyTelemetryEntry(state, key, *value);
    }
  }
  Publish(std::make_shared<const State>(std::move(state)));
}

void Registry::MaintenanceLoop() {
  using SteadyClock = std::chrono::steady_clock;
  const auto purge_interval = std::chrono::microseconds(options_.min_purge_interval_us);
  SteadyClock::time_point next_purge = SteadyClock::time_point::min();
  while (true) {
    bool purge = false;
    bool snapshot = false;
    {
      std::unique_lock lock(maint_mu_);
      // A purge waits for its interval (unless the registry is closing); a snapshot does not.
      auto purge_due = [&] {
        return purge_requested_ && (maint_stopping_ || SteadyClock::now() >= next_purge);
      };
      while (!purge_due() && !snapshot_requested_ && !maint_stopping_) {
        if (purge_requested_) {
          maint_cv_.wait_until(lock, next_purge);
        } else {
          maint_cv_.wait(lock);
        }
      }
      purge = purge_due();
      snapshot = snapshot_requested_;
      if (purge) purge_requested_ = false;
      snapshot_requested_ = false;
      if (!purge && !snapshot && maint_stopping_) return;
    }
    if (purge) {
      Status s = options_.keyring->PurgeShredded();
      if (!s.ok()) Log(LogLevel::kError, "purging shredded keys failed: " + s.ToString());
      next_purge = SteadyClock::now() + purge_interval;
    }
    if (snapshot) {
      Status s = WriteSnapshot();
      if (!s.ok()) Log(LogLevel::kError, "writing a snapshot failed: " + s.ToString());
    }
  }
}

Status Registry::WriteSnapshot() {
  StatePtr state = Current();
  KL_RETURN_IF_ERROR(snapshots_->Write(*state));
  std::lock_guard lock(maint_mu_);
  last_snapshot_sequence_ = std::max(last_snapshot_sequence_, state->sequence);
  return Status::Ok();
}

Status Registry::Close() {
  std::lock_guard close_lock(close_mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  // After this returns the log no longer calls into this registry.
  options_.log->SetHeadListener(nullptr);
  if (aux_watch_ != nullptr)
    IgnoreError(aux_watch_->WatchAux(events::AuxSpace::kTelemetry, nullptr));
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
    queue_cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard lock(maint_mu_);
    maint_stopping_ = true;
    maint_cv_.notify_all();
  }
  if (maintenance_.joinable()) maintenance_.join();
  StatePtr state = Current();
  uint64_t last;
  {
    std::lock_guard lock(maint_mu_);
    last = last_snapshot_sequence_;
  }
  if (state && state->sequence > last) return WriteSnapshot();
  return Status::Ok();
}

}  // namespace keyledger::registry
