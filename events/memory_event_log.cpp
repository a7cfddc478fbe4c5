#include "events/memory_event_log.hpp"

#include <mutex>

namespace keyledger::events {

MemoryEventLog::MemoryEventLog(Options options) : options_(std::move(options)) {
  if (!options_.clock) options_.clock = SystemClockMicros;
  head_.hash = GenesisHash();
}

Head MemoryEventLog::GetHead() const {
  std::shared_lock lock(mu_);
  return head_;
}

Result<std::vector<EventRecord>> MemoryEventLog::ReadRange(uint64_t from_sequence,
                                                           size_t limit) const {
  std::vector<EventRecord> out;
  KL_RETURN_IF_ERROR(Scan(from_sequence, UINT64_MAX, [&](const EventRecord& r) {
    if (out.size() >= limit) return false;
    out.push_back(r);
    return out.size() < limit;
  }));
  return out;
}

Status MemoryEventLog::Scan(uint64_t from, uint64_t to, const RecordVisitor& visit) const {
  std::shared_lock lock(mu_);
  for (auto it = events_.lower_bound(from); it != events_.end() && it->first <= to; ++it) {
    KL_ASSIGN_OR_RETURN(EventRecord r, DecodeRecord(it->second));
    if (!visit(r)) break;
  }
  return Status::Ok();
}

Result<std::vector<EventRecord>> MemoryEventLog::ReadStream(std::string_view stream,
                                                            uint64_t from_version,
                                                            size_t limit) const {
  KL_RETURN_IF_ERROR(ValidateStreamId(stream));
  std::shared_lock lock(mu_);
  std::vector<EventRecord> out;
  const std::string prefix = std::string(stream) + '\0';
  for (auto it = streams_.lower_bound(StreamKey(stream, from_version));
       it != streams_.end() && it->first.compare(0, prefix.size(), prefix) == 0 &&
       out.size() < limit;
       ++it) {
    auto ev = events_.find(it->second);
    if (ev == events_.end()) {
      return MakeError(ErrorCode::kCorruption, "stream index points at a missing record");
    }
    KL_ASSIGN_OR_RETURN(EventRecord r, DecodeRecord(ev->second));
    out.push_back(std::move(r));
  }
  return out;
}

Result<uint64_t> MemoryEventLog::StreamVersion(std::string_view stream) const {
  KL_RETURN_IF_ERROR(ValidateStreamId(stream));
  std::shared_lock lock(mu_);
  auto it = versions_.find(std::string(stream));
  return it == versions_.end() ? uint64_t{0} : it->second;
}

Result<VerifyReport> MemoryEventLog::Verify(uint64_t from, uint64_t to) const {
  std::shared_lock lock(mu_);
  if (from == 0) from = 1;
  to = std::min(to, head_.sequence);
  Hash prev = GenesisHash();
  if (from > 1) {
    auto it = events_.find(from - 1);
    if (it == events_.end()) {
      VerifyReport r;
      r.ok = false;
      r.first_bad = from - 1;
      r.reason = "record " + std::to_string(from - 1) + " is missing";
      return r;
    }
    auto decoded = DecodeRecord(it->second);
    if (decoded.ok()) prev = decoded->hash;
  }
  ChainVerifier verifier(from, prev);
  for (auto it = events_.lower_bound(from); it != events_.end() && it->first <= to; ++it) {
    if (!verifier.Next(it->first, it->second)) break;
  }
  verifier.Finish(to);
  return verifier.report();
}

Result<std::optional<std::string>> MemoryEventLog::GetAux(AuxSpace space,
                                                          std::string_view key) const {
  std::shared_lock lock(mu_);
  const auto& table = aux_[static_cast<size_t>(space)];
  auto it = table.find(key);
  if (it == table.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status MemoryEventLog::ScanAux(AuxSpace space, std::string_view prefix,
                               const AuxVisitor& visit) const {
  std::shared_lock lock(mu_);
  const auto& table = aux_[static_cast<size_t>(space)];
  for (auto it = table.lower_bound(prefix);
       it != table.end() && std::string_view(it->first).substr(0, prefix.size()) == prefix; ++it) {
    if (!visit(it->first, it->second)) break;
  }
  return Status::Ok();
}

void MemoryEventLog::AppendAsync(AppendRequest request, AppendCallback done) {
  Result<AppendResult> result = MakeError(ErrorCode::kInternal, "unset");
  {
    std::unique_lock lock(mu_);
    if (closed_) {
      result = MakeError(ErrorCode::kUnavailable, "event log is closed");
    } else {
      AppendPlanner planner(
          head_,
          [this](std::string_view s) -> Result<uint64_t> {
            auto it = versions_.find(std::string(s));
            return it == versions_.end() ? uint64_t{0} : it->second;
          },
          options_.clock, json_);
      std::vector<EventRecord> records;
      result = planner.Plan(request, records);
      if (result.ok() && options_.fail_write && options_.fail_write()) {
        result = MakeError(ErrorCode::kIoError, "injected write failure");
      }
      if (result.ok()) {
        for (const EventRecord& r : records) {
          events_[r.sequence] = EncodeRecord(r);
          streams_[StreamKey(r.stream, r.stream_version)] = r.sequence;
        }
        for (const auto& [stream, version] : planner.versions()) versions_[stream] = version;
        for (AuxWrite& w : request.aux) {
          auto& table = aux_[static_cast<size_t>(w.space)];
          if (w.value) {
            if (w.only_if_present && table.find(w.key) == table.end()) continue;
            table[w.key] = std::move(*w.value);
          } else {
            table.erase(w.key);
          }
        }
        head_ = planner.head();
      }
    }
  }
  done(std::move(result));
}

Status MemoryEventLog::PurgeDeletedAux(AuxSpace) { return Status::Ok(); }

Status MemoryEventLog::Close() {
  std::unique_lock lock(mu_);
  closed_ = true;
  return Status::Ok();
}

}  // namespace keyledger::events
