#include "events/append_planner.hpp"

#include <simdjson.h>

#include <chrono>

namespace keyledger::events {

struct JsonChecker::Impl {
  simdjson::dom::parser parser;
  simdjson::padded_string buffer;
};

JsonChecker::JsonChecker() : impl_(std::make_unique<Impl>()) {}
JsonChecker::~JsonChecker() = default;

bool JsonChecker::IsValid(std::string_view json) {
  simdjson::dom::element doc;
  return !impl_->parser.parse(json.data(), json.size(), true).get(doc);
}

Status ValidateAppendRequest(const AppendRequest& request, JsonChecker& json) {
  auto invalid = [](std::string msg) { return MakeError(ErrorCode::kInvalidArgument, msg); };
  if (request.streams.empty() && request.aux.empty()) return invalid("append request is empty");
  size_t total_events = 0;
  for (const StreamAppend& s : request.streams) {
    KL_RETURN_IF_ERROR(ValidateStreamId(s.stream));
    KL_RETURN_IF_ERROR(ValidateMetadata(s.metadata));
    if (s.expected_version < kAnyVersion) return invalid("expected version is negative");
    total_events += s.events.size();
    for (const NewEvent& e : s.events) {
      if (!IsKnownEventType(static_cast<uint16_t>(e.type))) return invalid("unknown event type");
      if (e.schema_version == 0) return invalid("schema version must be at least 1");
      if (e.time_us < 0) return invalid("event time is negative");
      if (e.payload.empty()) return invalid("payload is empty");
      if (e.payload.size() > kMaxPayloadBytes) {
        return MakeError(ErrorCode::kPayloadTooLarge, "payload is larger than 1 MiB");
      }
      if (!IsValidUtf8(e.payload)) return invalid("payload is not valid UTF-8");
      if (!json.IsValid(e.payload)) return invalid("payload is not a JSON document");
    }
  }
  if (total_events > kMaxEventsPerAppend) return invalid("too many events in one append");
  if (request.aux.size() > kMaxAuxWritesPerAppend) return invalid("too many aux writes");
  for (const AuxWrite& w : request.aux) {
    if (w.key.empty() || w.key.size() > kMaxAuxKeyBytes) return invalid("aux key size");
    if (w.value && w.value->size() > kMaxAuxValueBytes) {
      return MakeError(ErrorCode::kPayloadTooLarge, "aux value is too large");
    }
    if (static_cast<int>(w.space) >= kAuxSpaceCount) return invalid("unknown aux space");
  }
  return Status::Ok();
}

AppendPlanner::AppendPlanner(Head head, VersionLookup committed_version, Clock clock,
                             JsonChecker& json)
    : head_(head),
      committed_version_(std::move(committed_version)),
      clock_(std::move(clock)),
      json_(json) {}

Result<uint64_t> AppendPlanner::CurrentVersion(const std::string& stream) {
  auto it = versions_.find(stream);
  if (it != versions_.end()) return it->second;
  return committed_version_(stream);
}

Result<AppendResult> AppendPlanner::Plan(const AppendRequest& request,
                                         std::vector<EventRecord>& records) {
  KL_RETURN_IF_ERROR(ValidateAppendRequest(request, json_));

  // Check every expected version first (a stream may appear twice; later entries see earlier).
  std::unordered_map<std::string, uint64_t> local;
  std::vector<uint64_t> start_versions;
  AppendResult result;
  start_versions.reserve(request.streams.size());
  for (const StreamAppend& s : request.streams) {
    uint64_t current;
    if (auto it = local.find(s.stream); it != local.end()) {
      current = it->second;
    } else {
      KL_ASSIGN_OR_RETURN(current, CurrentVersion(s.stream));
    }
    if (s.expected_version != kAnyVersion && static_cast<uint64_t>(s.expected_version) != current) {
      Error e = MakeError(ErrorCode::kVersionConflict, "stream " + s.stream + " is at version " +
                                                           std::to_string(current) + ", expected " +
                                                           std::to_string(s.expected_version));
      e.actual_version = current;
      return e;
    }
    start_versions.push_back(current);
    local[s.stream] = current + s.events.size();
    result.stream_versions.push_back(current + s.events.size());
  }

  // Then build the records on a scratch head, committing it only when all of them are valid.
  Head head = head_;
  const size_t first_record = records.size();
  for (size_t i = 0; i < request.streams.size(); ++i) {
    const StreamAppend& s = request.streams[i];
    uint64_t version = start_versions[i];
    for (const NewEvent& e : s.events) {
      int64_t t = e.time_us;
      if (t == 0) {
        t = std::max(clock_(), head.time_us);
      } else if (t < head.time_us) {
        records.resize(first_record);
        return MakeError(ErrorCode::kInvalidArgument, "event time is earlier than the log head");
      }
      EventRecord r;
      r.sequence = head.sequence + 1;
      r.stream = s.stream;
      r.stream_version = ++version;
      r.type = e.type;
      r.schema_version = e.schema_version;
      r.time_us = t;
      r.metadata = s.metadata;
      r.payload = e.payload;
      r.prev_hash = head.hash;
      r.hash = ComputeHash(r);
      head = Head{r.sequence, r.hash, r.time_us};
      result.sequences.push_back(r.sequence);
      result.hashes.push_back(r.hash);
      records.push_back(std::move(r));
    }
  }
  for (auto& [stream, version] : local) versions_[stream] = version;
  head_ = head;
  result.head = head_;
  return result;
}

ChainVerifier::ChainVerifier(uint64_t from, const Hash& prev_hash) : expected_(from) {
  report_.last_sequence = from > 0 ? from - 1 : 0;
  report_.last_hash = prev_hash;
}

void ChainVerifier::Fail(uint64_t seq, std::string why) {
  if (!report_.ok) return;
  report_.ok = false;
  report_.first_bad = seq;
  report_.reason = std::move(why);
}

bool ChainVerifier::Next(uint64_t key_sequence, std::string_view value) {
  if (!report_.ok) return false;
  if (key_sequence != expected_) {
    Fail(expected_, key_sequence > expected_
                        ? "record " + std::to_string(expected_) + " is missing (next stored is " +
                              std::to_string(key_sequence) + ")"
                        : "unexpected key order");
    return false;
  }
  auto decoded = DecodeRecord(value);
  if (!decoded.ok()) {
    Fail(key_sequence, decoded.error().message);
    return false;
  }
  const EventRecord& r = *decoded;
  if (r.sequence != key_sequence) {
    Fail(key_sequence, "record stored under sequence " + std::to_string(key_sequence) +
                           " says it is sequence " + std::to_string(r.sequence));
    return false;
  }
  if (r.prev_hash != report_.last_hash) {
    Fail(key_sequence, "previous-hash link does not match the hash of record " +
                           std::to_string(key_sequence - 1));
    return false;
  }
  if (!VerifyRecordHash(r)) {
    Fail(key_sequence, "hash mismatch: the record's bytes were changed");
    return false;
  }
  report_.checked++;
  report_.last_sequence = key_sequence;
  report_.last_hash = r.hash;
  expected_ = key_sequence + 1;
  return true;
}

void ChainVerifier::FailStorage(const std::string& why) {
  Fail(expected_, "storage error at or after this sequence: " + why);
}

void ChainVerifier::Finish(uint64_t to) {
  if (report_.ok && expected_ <= to) {
    Fail(expected_, "records " + std::to_string(expected_) + ".." + std::to_string(to) +
                        " are missing (truncated tail)");
  }
}

int64_t SystemClockMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace keyledger::events
