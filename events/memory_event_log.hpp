#pragma once
// An in-memory EventLog for tests: the same semantics as RocksEventLog (records are stored in
// their encoded form and verified by the same ChainVerifier), without durability.
// Appends complete synchronously on the calling thread. Thread-safe.

#include <array>
#include <functional>
#include <map>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "events/append_planner.hpp"
#include "events/event_log.hpp"

namespace keyledger::events {

class MemoryEventLog final : public EventLog {
 public:
  struct Options {
    // Time source in microseconds (default: the system clock).
    std::function<int64_t()> clock;
    // Fault injection seam: when it returns true, the next write fails with kIoError as a real
    // storage failure would (default: never).
    std::function<bool()> fail_write;
  };

  MemoryEventLog() : MemoryEventLog(Options{}) {}
  explicit MemoryEventLog(Options options);

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

 private:
  Options options_;
  mutable std::shared_mutex mu_;
  JsonChecker json_;  // guarded by the exclusive lock
  Head head_;
  std::map<uint64_t, std::string> events_;              // sequence -> encoded record
  std::map<std::string, uint64_t> streams_;             // StreamKey -> sequence
  std::unordered_map<std::string, uint64_t> versions_;  // stream -> version
  std::array<std::map<std::string, std::string, std::less<>>, kAuxSpaceCount> aux_;
  bool closed_ = false;
};

}  // namespace keyledger::events
