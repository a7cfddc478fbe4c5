#pragma once
// The event record, its canonical byte encoding and its place in the hash chain.
// The byte layout is specified in events/FORMAT.md; change both together.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "events/crypto.hpp"
#include "events/event_type.hpp"
#include "events/status.hpp"

namespace keyledger::events {

using Hash = crypto::Digest;

// Current record encoding version (first byte of every stored record).
inline constexpr uint8_t kRecordFormatV1 = 1;

// Limits enforced on every append (bad input is rejected before anything is written).
inline constexpr size_t kMaxStreamIdBytes = 200;
inline constexpr size_t kMaxMetadataBytes = 256;  // actor, client IP, request id
inline constexpr size_t kMaxReasonBytes = 1024;
inline constexpr size_t kMaxPayloadBytes = 1 << 20;

// Hash that the first record (sequence 1) chains from: SHA-256("keyledger/genesis/v1").
const Hash& GenesisHash();

// Who caused an event and why. Text fields must be valid UTF-8.
struct EventMetadata {
  std::string actor;
  std::string client_ip;
  std::string request_id;
  std::optional<std::string> reason;

  friend bool operator==(const EventMetadata&, const EventMetadata&) = default;
};

// A stored event. Owns its bytes.
struct EventRecord {
  uint64_t sequence = 0;
  std::string stream;
  uint64_t stream_version = 0;
  EventType type = EventType::kProviderCreated;
  uint16_t schema_version = 1;
  int64_t time_us = 0;  // UTC, microseconds since the Unix epoch
  EventMetadata metadata;
  std::string payload;  // JSON text; secrets inside it are ciphertext
  Hash prev_hash{};
  Hash hash{};

  friend bool operator==(const EventRecord&, const EventRecord&) = default;
};

// The canonical bytes that the hash covers: every field except the two hashes.
std::string CanonicalBytes(const EventRecord& r);
// SHA-256(prev_hash ‖ CanonicalBytes(r)).
Hash ComputeHash(const EventRecord& r);
// Stored value: CanonicalBytes ‖ prev_hash ‖ hash.
std::string EncodeRecord(const EventRecord& r);
// Parses a stored value. kCorruption on any truncation, bad length, unknown format byte or
// trailing bytes; never reads out of bounds. Does not check the hash (see VerifyRecordHash).
Result<EventRecord> DecodeRecord(std::string_view bytes);
bool VerifyRecordHash(const EventRecord& r);

// Validates caller-supplied parts of a record before it is appended.
Status ValidateStreamId(std::string_view stream);
Status ValidateMetadata(const EventMetadata& m);
bool IsValidUtf8(std::string_view s);

// Big-endian fixed-width integers, so that bytewise key order is numeric order.
void PutBigEndian64(std::string& out, uint64_t v);
uint64_t GetBigEndian64(std::string_view in);  // in.size() >= 8
std::string SequenceKey(uint64_t sequence);
// stream ‖ 0x00 ‖ big-endian version (stream ids never contain 0x00).
std::string StreamKey(std::string_view stream, uint64_t version);

}  // namespace keyledger::events
