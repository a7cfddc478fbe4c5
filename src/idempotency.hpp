#pragma once
// Idempotency-Key records: the first successful response to a keyed write, stored durably in the
// same batch as its events (AuxSpace::kIdempotency), replayed for retries with the same request,
// refused (422) for a different one, forgotten after the TTL.
//
// Key: "i/" ‖ hex SHA-256(actor ‖ 0x00 ‖ Idempotency-Key), so keys are per principal and bounded.
// Value: JSON {"fp","expires","status","body","etag","receipt","seq"}.
// Failed commands are not stored: they had no effect, so retrying them is safe.

#include <optional>
#include <string>

#include "events/event_log.hpp"
#include "src/registry.hpp"

namespace keyledger::registry {

inline constexpr size_t kMaxIdempotencyKeyBytes = 255;

struct IdempotencyRecord {
  std::string fingerprint;
  int64_t expires_us = 0;
  int status = 200;
  std::string body;
  std::optional<uint64_t> etag;
  bool receipt = false;
  uint64_t sequence = 0;
};

// Appends "seq" and "hash" members to a JSON object text produced by json::Writer.
std::string WithReceipt(const std::string& object_json, uint64_t seq, const std::string& hash);

std::string IdempotencyAuxKey(std::string_view actor, std::string_view key);
// The live record under `aux_key`, or nullopt (none, or expired at `now_us`).
Result<std::optional<IdempotencyRecord>> LookupIdempotency(const events::EventReader& log,
                                                           const std::string& aux_key,
                                                           int64_t now_us);
events::AuxWrite MakeIdempotencyWrite(const std::string& aux_key, const std::string& fingerprint,
                                      int64_t expires_us, const PreparedResponse& response,
                                      uint64_t sequence);
Result<CommandResult> ReplayResult(const events::EventReader& log, const IdempotencyRecord& r);
Error IdempotencyMismatch();
// Deletes expired records (maintenance). Returns how many were deleted.
Result<size_t> PurgeExpiredIdempotency(events::EventLog& log, int64_t now_us);

}  // namespace keyledger::registry
