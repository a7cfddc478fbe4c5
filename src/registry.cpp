#include "src/registry.hpp"

#include <chrono>
#include <future>

#include "events/append_planner.hpp"
#include "events/crypto.hpp"
#include "events/json_writer.hpp"
#include "projections/fold.hpp"
#include "src/idempotency.hpp"

namespace keyledger::registry {

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
  std::optional<Error> error;
  std::optional<PreparedResponse> prepared;
  std::optional<IdempotencyRecord> replay;  // answered from a stored record
  std::optional<size_t> replay_of;          // same Idempotency-Key earlier in this group
  size_t first_event = 0;
  size_t event_count = 0;
  std::string idempotency_aux_key;
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

size_t Registry::ProcessGroup(std::vector<Pending>& group) {
  const auto started = std::chrono::steady_clock::now();
  StatePtr base = Current();
  State working = base->Fork();
  Folder folder;
  AppendRequest request;
  std::vector<Slot> slots(group.size());
  uint64_t next_seq = base->sequence + 1;
  const int64_t now = Now(*base);
  bool purge = false;
  size_t total_events = 0;
  size_t processed = group.size();

  for (size_t i = 0; i < group.size(); ++i) {
    Pending& p = group[i];
    Slot& slot = slots[i];

    if (p.context.idempotency_key) {
      slot.idempotency_aux_key = IdempotencyAuxKey(p.context.actor, *p.context.idempotency_key);
      // The first command of the group with this key is the one that decided (or failed, or
      // found a stored record); later ones with the same key answer what it answered. (Any
      // later match would itself be a replay, which has no result of its own.)
      std::optional<size_t> first;
      for (size_t j = 0; j < i && !first; ++j) {
        if (slots[j].idempotency_aux_key == slot.idempotency_aux_key) first = j;
      }
      if (first) {
        if (group[*first].context.request_fingerprint != p.context.request_fingerprint) {
          slot.error = IdempotencyMismatch();
          continue;
        }
        const Slot& earlier = slots[*first];
        if (!(earlier.prepared && earlier.prepared->not_replayable &&
              !earlier.prepared->replay_body)) {
          slot.replay_of = first;
          continue;
        }
        // The first answer holds a secret and has no replacement (a reveal): this request is
        // decided on its own, as a retry after the commit would be.
      }
    }
    if (p.context.idempotency_key) {
      auto stored = LookupIdempotency(*options_.log, slot.idempotency_aux_key, now);
      if (!stored.ok()) {
        slot.error = stored.error();
        continue;
      }
      if (stored->has_value()) {
        if ((*stored)->fingerprint != p.context.request_fingerprint) {
          slot.error = IdempotencyMismatch();
        } else {
          slot.replay = std::move(**stored);
        }
        continue;
      }
    }

    DecideContext ctx{working, p.context, *options_.keyring, options_, now};
    auto decision = p.command->Decide(ctx);
    if (!decision.ok()) {
      slot.error = decision.error();
      continue;
    }
    size_t decided_events = 0;
    for (const auto& sa : decision->streams) decided_events += sa.events.size();
    if (total_events > 0 && total_events + decided_events > kMaxGroupEvents) {
      // This command and the ones after it go into the next group, in order.
      processed = i;
      break;
    }
    // Fold the decided events into a fork, so a bad decision leaves `working` untouched.
    State candidate = working.Fork();
    Status folded = Status::Ok();
    uint64_t seq = next_seq;
    std::vector<events::StreamAppend>& streams = decision->streams;
    for (events::StreamAppend& sa : streams) {
      if (sa.events.empty()) continue;
      if (sa.expected_version < 0) {
        folded = MakeError(ErrorCode::kInternal, "commands must name exact expected versions");
        break;
      }
      uint64_t version = static_cast<uint64_t>(sa.expected_version);
      for (events::NewEvent& e : sa.events) {
        e.time_us = now;
        EventRecord r;
        r.sequence = seq++;
        r.stream = sa.stream;
        r.stream_version = ++version;
        r.type = e.type;
        r.schema_version = e.schema_version;
        r.time_us = now;
        r.metadata = sa.metadata;
        r.payload = e.payload;
        folded = folder.Apply(candidate, r);
        if (!folded.ok()) break;
      }
      if (!folded.ok()) break;
    }
    Result<PreparedResponse> prepared = folded.ok() && decision->respond
                                            ? decision->respond(candidate)
                                            : Result<PreparedResponse>(PreparedResponse{});
    if (!folded.ok() || !prepared.ok()) {
      const Error& e = folded.ok() ? prepared.error() : folded.error();
      Log(LogLevel::kError, std::string("command ") + std::string(p.command->Name()) +
                                " produced events the fold rejects: " + e.message);
      slot.error = MakeError(ErrorCode::kInternal, "internal error");
      continue;
    }
    working = std::move(candidate);
    slot.first_event = total_events;
    slot.event_count = seq - next_seq;
    total_events += slot.event_count;
    next_seq = seq;
    slot.prepared = std::move(prepared).value();
    for (auto& sa : streams) request.streams.push_back(std::move(sa));
    for (auto& aux : decision->aux) request.aux.push_back(std::move(aux));
    purge |= decision->purge_keyring;
    if (p.context.idempotency_key &&
        (!slot.prepared->not_replayable || slot.prepared->replay_body)) {
      uint64_t last_seq = slot.event_count > 0 ? seq - 1 : 0;
      PreparedResponse stored = *slot.prepared;
      if (stored.replay_body) stored.body = *stored.replay_body;
      request.aux.push_back(
          MakeIdempotencyWrite(slot.idempotency_aux_key, p.context.request_fingerprint,
                               now + options_.idempotency_ttl_us, stored, last_seq));
    }
  }

  Result<events::AppendResult> appended = events::AppendResult{};
  const bool any_write = !request.streams.empty() || !request.aux.empty();
  if (any_write) appended = options_.log->Append(std::move(request));

  if (!appended.ok()) {
    Log(LogLevel::kError, "group commit failed: " + appended.error().message);
    // Storage failures are worth a retry (503); anything else the log refused is the request's.
    const ErrorCode code = appended.error().code;
    const Error failure =
        code == ErrorCode::kIoError || code == ErrorCode::kUnavailable
            ? MakeError(ErrorCode::kIoError, "the event store could not write; retry later")
            : appended.error();
    for (size_t i = 0; i < processed; ++i) {
      if (slots[i].error) {
        group[i].done(*slots[i].error);
      } else if (slots[i].replay) {
        group[i].done(ReplayResult(*options_.log, *slots[i].replay));
      } else {
        group[i].done(failure);
      }
    }
    // The write may have reached the disk after all (see events/FORMAT.md "Failed writes"), or
    // another writer may have appended: re-read the log before deciding anything else.
    if (Status s = Resync(); !s.ok()) Log(LogLevel::kError, "resync failed: " + s.ToString());
    return processed;
  }

  if (total_events > 0) {
    if (appended->sequences.size() != total_events ||
        appended->sequences.front() != base->sequence + 1) {
      Log(LogLevel::kError, "the log assigned unexpected sequences; resynchronizing");
      if (Status s = Resync(); !s.ok()) Log(LogLevel::kError, "resync failed: " + s.ToString());
    } else {
      Publish(std::make_shared<const State>(std::move(working)));
    }
  }

  std::vector<std::optional<CommandResult>> results(processed);
  for (size_t i = 0; i < processed; ++i) {
    Slot& slot = slots[i];
    if (slot.error || slot.replay || slot.replay_of) continue;
    uint64_t seq = 0;
    std::string hash;
    if (slot.event_count > 0) {
      size_t last = slot.first_event + slot.event_count - 1;
      seq = appended->sequences[last];
      hash = crypto::HexEncode(crypto::AsBytes(appended->hashes[last]));
    }
    results[i] = FinishResult(*slot.prepared, seq, hash);
  }
  for (size_t i = 0; i < processed; ++i) {
    Slot& slot = slots[i];
    if (slot.error) {
      group[i].done(*slot.error);
    } else if (slot.replay) {
      group[i].done(ReplayResult(*options_.log, *slot.replay));
    } else if (slot.replay_of) {
      const size_t first = *slot.replay_of;
      if (results[first]) {
        CommandResult copy = *results[first];
        copy.replayed = true;
        if (slots[first].prepared->replay_body) {
          copy.body = *slots[first].prepared->replay_body;  // never the secret twice
        }
        group[i].done(std::move(copy));
      } else if (slots[first].replay) {
        group[i].done(ReplayResult(*options_.log, *slots[first].replay));
      } else {
        group[i].done(slots[first].error.value_or(MakeError(ErrorCode::kIoError, "retry later")));
      }
    } else {
      // Copied, not moved: a later command of the group with the same Idempotency-Key copies
      // this result too (replay_of).
      group[i].done(*results[i]);
    }
  }

  if (total_events > 0) {
    const uint64_t first = base->sequence + 1;
    const uint64_t last = base->sequence + total_events;
    std::vector<CommitListener> listeners;
    {
      std::lock_guard lock(listeners_mu_);
      listeners = listeners_;
    }
    for (const auto& l : listeners) l(first, last);
    std::lock_guard lock(maint_mu_);
    purge_requested_ |= purge;
    if (options_.snapshot_every > 0 && last - last_snapshot_sequence_ >= options_.snapshot_every) {
      snapshot_requested_ = true;
    }
    if (purge_requested_ || snapshot_requested_) maint_cv_.notify_one();
  }
  if (options_.on_group) {
    options_.on_group(processed, total_events,
                      std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count());
  }
  return processed;
}

Status Registry::Resync() {
  StatePtr current = Current();
  State state = current->Fork();
  KL_RETURN_IF_ERROR(projections::Replay(*options_.log, state, options_.log->GetHead().sequence));
  if (state.sequence != current->sequence) {
    Log(LogLevel::kWarning,
        "state resynchronized from the log up to sequence " + std::to_string(state.sequence));
    Publish(std::make_shared<const State>(std::move(state)));
  }
  return Status::Ok();
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
