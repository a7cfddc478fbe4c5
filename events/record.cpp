#include "events/record.hpp"

#include <simdjson.h>

#include <cstring>

namespace keyledger::events {
namespace {

void PutU16(std::string& out, uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xFF);
}

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}

void PutBytes(std::string& out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out += s;
}

// Bounds-checked cursor over a stored value.
class Cursor {
 public:
  explicit Cursor(std::string_view in) : in_(in) {}
  bool U8(uint8_t& v) {
    if (in_.size() < 1) return false;
    v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U16(uint16_t& v) {
    if (in_.size() < 2) return false;
    v = static_cast<uint16_t>(static_cast<uint8_t>(in_[0]) << 8 | static_cast<uint8_t>(in_[1]));
    in_.remove_prefix(2);
    return true;
  }
  bool U32(uint32_t& v) {
    if (in_.size() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(in_[static_cast<size_t>(i)]);
    in_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t& v) {
    if (in_.size() < 8) return false;
    v = GetBigEndian64(in_);
    in_.remove_prefix(8);
    return true;
  }
  bool Bytes(std::string& out, size_t max) {
    uint32_t n = 0;
    if (!U32(n) || n > max || in_.size() < n) return false;
    out.assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool Digest(Hash& h) {
    if (in_.size() < h.size()) return false;
    std::memcpy(h.data(), in_.data(), h.size());
    in_.remove_prefix(h.size());
    return true;
  }
  bool Done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace

const Hash& GenesisHash() {
  static const Hash kGenesis = crypto::Sha256("keyledger/genesis/v1");
  return kGenesis;
}

void PutBigEndian64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}

uint64_t GetBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(in[i]);
  return v;
}

std::string SequenceKey(uint64_t sequence) {
  std::string k;
  k.reserve(8);
  PutBigEndian64(k, sequence);
  return k;
}

std::string StreamKey(std::string_view stream, uint64_t version) {
  std::string k;
  k.reserve(stream.size() + 9);
  k += stream;
  k += '\0';
  PutBigEndian64(k, version);
  return k;
}

std::string CanonicalBytes(const EventRecord& r) {
  std::string out;
  out.reserve(64 + r.stream.size() + r.payload.size() + r.metadata.actor.size() +
              r.metadata.client_ip.size() + r.metadata.request_id.size() +
              (r.metadata.reason ? r.metadata.reason->size() : 0));
  out += static_cast<char>(kRecordFormatV1);
  PutBigEndian64(out, r.sequence);
  PutU16(out, static_cast<uint16_t>(r.type));
  PutU16(out, r.schema_version);
  PutBigEndian64(out, static_cast<uint64_t>(r.time_us));
  PutBigEndian64(out, r.stream_version);
  PutBytes(out, r.stream);
  PutBytes(out, r.metadata.actor);
  PutBytes(out, r.metadata.client_ip);
  PutBytes(out, r.metadata.request_id);
  out += static_cast<char>(r.metadata.reason.has_value() ? 1 : 0);
  if (r.metadata.reason) PutBytes(out, *r.metadata.reason);
  PutBytes(out, r.payload);
  return out;
}

Hash ComputeHash(const EventRecord& r) {
  crypto::Sha256Hasher h;
  h.Update(crypto::AsBytes(r.prev_hash));
  h.Update(CanonicalBytes(r));
  return h.Final();
}

std::string EncodeRecord(const EventRecord& r) {
  std::string out = CanonicalBytes(r);
  out += crypto::AsBytes(r.prev_hash);
  out += crypto::AsBytes(r.hash);
  return out;
}

Result<EventRecord> DecodeRecord(std::string_view bytes) {
  auto corrupt = [](const char* what) {
    return MakeError(ErrorCode::kCorruption, std::string("cannot decode event record: ") + what);
  };
  Cursor c(bytes);
  EventRecord r;
  uint8_t format = 0;
  if (!c.U8(format)) return corrupt("empty value");
  if (format != kRecordFormatV1) return corrupt("unknown record format byte");
  uint16_t type = 0;
  uint64_t time = 0;
  uint8_t has_reason = 0;
  if (!c.U64(r.sequence) || !c.U16(type) || !c.U16(r.schema_version) || !c.U64(time) ||
      !c.U64(r.stream_version)) {
    return corrupt("truncated header");
  }
  r.type = static_cast<EventType>(type);
  r.time_us = static_cast<int64_t>(time);
  if (!c.Bytes(r.stream, kMaxStreamIdBytes) || !c.Bytes(r.metadata.actor, kMaxMetadataBytes) ||
      !c.Bytes(r.metadata.client_ip, kMaxMetadataBytes) ||
      !c.Bytes(r.metadata.request_id, kMaxMetadataBytes) || !c.U8(has_reason) || has_reason > 1) {
    return corrupt("bad metadata");
  }
  if (has_reason == 1) {
    std::string reason;
    if (!c.Bytes(reason, kMaxReasonBytes)) return corrupt("bad reason");
    r.metadata.reason = std::move(reason);
  }
  if (!c.Bytes(r.payload, kMaxPayloadBytes)) return corrupt("bad payload length");
  if (!c.Digest(r.prev_hash) || !c.Digest(r.hash)) return corrupt("truncated hashes");
  if (!c.Done()) return corrupt("trailing bytes");
  return r;
}

bool VerifyRecordHash(const EventRecord& r) { return ComputeHash(r) == r.hash; }

bool IsValidUtf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

Status ValidateStreamId(std::string_view stream) {
  if (stream.empty()) return MakeError(ErrorCode::kInvalidArgument, "stream id is empty");
  if (stream.size() > kMaxStreamIdBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "stream id is longer than 200 bytes");
  }
  for (char c : stream) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "stream id may contain only letters, digits, '-', '_', '.' and ':'");
    }
  }
  return Status::Ok();
}

Status ValidateMetadata(const EventMetadata& m) {
  auto check = [](std::string_view field, std::string_view v, size_t max) -> Status {
    if (v.size() > max) {
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string(field) + " is longer than " + std::to_string(max) + " bytes");
    }
    if (!IsValidUtf8(v)) {
      return MakeError(ErrorCode::kInvalidArgument, std::string(field) + " is not valid UTF-8");
    }
    return Status::Ok();
  };
  KL_RETURN_IF_ERROR(check("actor", m.actor, kMaxMetadataBytes));
  KL_RETURN_IF_ERROR(check("client ip", m.client_ip, kMaxMetadataBytes));
  KL_RETURN_IF_ERROR(check("request id", m.request_id, kMaxMetadataBytes));
  if (m.reason) KL_RETURN_IF_ERROR(check("reason", *m.reason, kMaxReasonBytes));
  return Status::Ok();
}

}  // namespace keyledger::events
