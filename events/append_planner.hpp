#pragma once
// Shared by every EventLog implementation's writer, so that validation, optimistic concurrency,
// time assignment and hash chaining behave identically in RocksDB and in memory.
//
// Not thread-safe: owned by one writer for the duration of one group commit.

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "events/event_log.hpp"

namespace keyledger::events {

// Checks that a payload is one well-formed JSON document (reuses its parser's buffers).
class JsonChecker {
 public:
  JsonChecker();
  ~JsonChecker();
  JsonChecker(const JsonChecker&) = delete;
  JsonChecker& operator=(const JsonChecker&) = delete;

  bool IsValid(std::string_view json);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Stateless checks of one request: ids, sizes, UTF-8, JSON, known event types.
Status ValidateAppendRequest(const AppendRequest& request, JsonChecker& json);

class AppendPlanner {
 public:
  using VersionLookup = std::function<Result<uint64_t>(std::string_view stream)>;
  using Clock = std::function<int64_t()>;

  AppendPlanner(Head head, VersionLookup committed_version, Clock clock, JsonChecker& json);

  // Plans `request` on top of everything committed or planned so far. On success appends its
  // records to `records` and returns its result; on error nothing of the request is planned.
  Result<AppendResult> Plan(const AppendRequest& request, std::vector<EventRecord>& records);

  const Head& head() const { return head_; }
  // Stream versions after every successfully planned request.
  const std::unordered_map<std::string, uint64_t>& versions() const { return versions_; }

 private:
  Result<uint64_t> CurrentVersion(const std::string& stream);

  Head head_;
  VersionLookup committed_version_;
  Clock clock_;
  JsonChecker& json_;
  std::unordered_map<std::string, uint64_t> versions_;
};

// Walks stored entries in key order and checks the chain: contiguous sequences, each record's
// sequence matching its key, prev_hash linking to the previous record, and the recomputed hash.
class ChainVerifier {
 public:
  ChainVerifier(uint64_t from, const Hash& prev_hash);

  // Feeds the next stored (key sequence, value). Returns false once the chain is broken.
  bool Next(uint64_t key_sequence, std::string_view value);
  // Records that the store itself failed while reading.
  void FailStorage(const std::string& why);
  // After the last entry: checks that the range reached `to` (a truncated tail otherwise).
  void Finish(uint64_t to);

  const VerifyReport& report() const { return report_; }

 private:
  void Fail(uint64_t seq, std::string why);

  uint64_t expected_;
  VerifyReport report_;
};

// The system clock in microseconds since the Unix epoch.
int64_t SystemClockMicros();

}  // namespace keyledger::events
