#include "projections/audit.hpp"

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "events/crypto.hpp"
#include "events/secret_names.hpp"
#include "events/time_format.hpp"
#include "projections/codec_internal.hpp"
#include "projections/credentials.hpp"
#include "projections/event_payloads.hpp"
#include "projections/fold.hpp"
#include "projections/snapshot.hpp"

namespace keyledger::projections {
namespace {

using events::EventRecord;
using events::EventType;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

std::string HashHex(const events::Hash& h) { return crypto::HexEncode(crypto::AsBytes(h)); }

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

// ---- redaction ----

bool IsSealedSecret(object obj) {
  bool cv = false, dek = false, n = false, ct = false;
  for (auto field : obj) {
    std::string_view k = field.key;
    cv = cv || k == "cv";
    dek = dek || k == "dek";
    n = n || k == "n";
    ct = ct || k == "ct";
  }
  return cv && dek && n && ct;
}

void WriteRedactedSecret(json::Writer& w, object obj) {
  std::string_view dek, ct, mask;
  uint64_t version = 0;
  const bool has_dek = !obj["dek"].get_string().get(dek);
  const bool has_ct = !obj["ct"].get_string().get(ct);
  const bool has_version = !obj["version"].get_uint64().get(version);
  const bool has_mask = !obj["mask"].get_string().get(mask);
  w.BeginObject();
  w.Key("dek");
  has_dek ? w.String(dek) : w.Null();
  w.Key("ciphertext_bytes");
  auto bytes = has_ct ? crypto::Base64Decode(ct) : Result<std::string>(Invalid(""));
  bytes.ok() ? w.Uint(bytes->size()) : w.Null();
  w.Key("version");
  has_version ? w.Uint(version) : w.Null();
  w.Key("mask");
  has_mask ? w.String(mask) : w.Null();
  w.EndObject();
}

void WriteRedacted(json::Writer& w, element v) {
  switch (v.type()) {
    case element_type::ARRAY: {
      simdjson::dom::array arr;
      if (v.get_array().get(arr)) return;  // cannot happen: the type says array
      w.BeginArray();
      for (element item : arr) WriteRedacted(w, item);
      w.EndArray();
      return;
    }
    case element_type::OBJECT: {
      object obj;
      if (v.get_object().get(obj)) return;  // cannot happen: the type says object
      if (IsSealedSecret(obj)) {
        WriteRedactedSecret(w, obj);
        return;
      }
      w.BeginObject();
      for (auto field : obj) {
        w.Key(field.key);
        WriteRedacted(w, field.value);
      }
      w.EndObject();
      return;
    }
    case element_type::INT64:
      w.Int(v.get_int64().value_unsafe());
      return;
    case element_type::UINT64:
      w.Uint(v.get_uint64().value_unsafe());
      return;
    case element_type::DOUBLE:
      w.Double(v.get_double().value_unsafe());
      return;
    case element_type::STRING:
      w.String(v.get_string().value_unsafe());
      return;
    case element_type::BOOL:
      w.Bool(v.get_bool().value_unsafe());
      return;
    case element_type::NULL_VALUE:
      w.Null();
      return;
  }
}

std::string RedactWith(simdjson::dom::parser& parser, std::string_view payload) {
  // Our writers never produce a "ct" member outside a sealed secret, nor line breaks: such a
  // payload is already what we would print (and this keeps `log` over a big log cheap).
  if (payload.find("\"ct\"") == std::string_view::npos &&
      payload.find_first_of("\r\n") == std::string_view::npos) {
    return std::string(payload);
  }
  element doc;
  if (parser.parse(payload.data(), payload.size(), true).get(doc)) {
    json::Writer w;
    w.BeginObject().Member("undecodable_payload_bytes", uint64_t{payload.size()}).EndObject();
    return w.Take();
  }
  json::Writer w(payload.size());
  WriteRedacted(w, doc);
  return w.Take();
}

void WriteEventMembers(json::Writer& w, const EventRecord& r, std::string_view redacted_payload) {
  w.Member("seq", r.sequence);
  w.Member("stream", r.stream);
  w.Member("stream_version", r.stream_version);
  w.Member("type", events::EventTypeName(r.type));
  w.Member("schema_version", uint64_t{r.schema_version});
  w.Member("time", events::FormatTimestampZ(r.time_us));
  w.Member("actor", r.metadata.actor);
  w.Member("client_ip", r.metadata.client_ip);
  w.Member("request_id", r.metadata.request_id);
  w.Key("reason");
  r.metadata.reason ? w.String(*r.metadata.reason) : w.Null();
  w.Key("payload").Raw(redacted_payload);
  w.Member("prev_hash", HashHex(r.prev_hash));
  w.Member("hash", HashHex(r.hash));
}

// The provider a stored event names (NamedProvider of its typed payload, any schema version
// upcast). A schema version this build cannot read fails as the fold does (kUnsupported, naming
// the event, its type and version); a payload that does not decode names none.
Result<std::optional<std::string>> ProviderNamedBy(EventDecoder& decoder, const EventRecord& r) {
  if (r.payload.find("\"provider_id\"") == std::string::npos) {
    KL_RETURN_IF_ERROR(CheckReadable(r));
    return std::optional<std::string>();
  }
  Result<Event> event = decoder.Decode(r);
  if (!event.ok()) {
    if (event.error().code == ErrorCode::kUnsupported) return event.error();
    return std::optional<std::string>();
  }
  return NamedProvider(*event);
}

bool IsHexDigest(std::string_view s) {
  return s.size() == 2 * crypto::kSha256Size &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(c) != 0; });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

// ---- one event ----

std::string RedactPayload(std::string_view payload_json) {
  simdjson::dom::parser parser;
  return RedactWith(parser, payload_json);
}

std::string RedactRecordPayload(const EventRecord& r) {
  std::string redacted = RedactPayload(r.payload);
  const bool legacy_entity =
      r.schema_version == 1 &&
      (r.type == EventType::kProviderCreated || r.type == EventType::kProviderUpdated ||
       r.type == EventType::kEndpointCreated || r.type == EventType::kEndpointUpdated);
  if (!legacy_entity || !events::IsSecretMemberName(redacted)) return redacted;
  auto masked =
      RewriteStrings(redacted,
                     [](const std::string& pointer, std::string_view name,
                        std::string_view value) -> Result<std::optional<std::string>> {
                       static constexpr std::string_view kCredentialParents[] = {
                           "/provider/config/", "/endpoint/config/", "/endpoint/headers/",
                           "/set/config/", "/set/headers/"};
                       bool inside = false;
                       for (std::string_view prefix : kCredentialParents)
                         inside |= pointer.starts_with(prefix);
                       if (!inside || value.empty() || !events::IsSecretMemberName(name)) {
                         return std::optional<std::string>();
                       }
                       return std::optional<std::string>(events::MaskSecret(value));
                     });
  return masked.ok() ? std::move(masked).value() : redacted;
}

void WriteEventJson(json::Writer& w, const EventRecord& r) {
  w.BeginObject();
  WriteEventMembers(w, r, RedactRecordPayload(r));
  w.EndObject();
}

std::string EventJson(const EventRecord& r) {
  json::Writer w(r.payload.size() + 512);
  WriteEventJson(w, r);
  return w.Take();
}

// ---- key history ----

namespace {

// The JSON text of one key field's value.
std::string KeyFieldValue(const KeyState& k, std::string_view name) {
  json::Writer w;
  const std::string_view names[] = {name};
  WriteKeyFields(w, k, names);
  const std::string& s = w.str();  // {"<name>":<value>}
  return s.substr(name.size() + 4, s.size() - name.size() - 5);
}

// `updated`: the KeyUpdated whose set names the fields; null for an adaptive-RPM event.
Status ComputeChanges(simdjson::dom::parser& parser, const KeyUpdated* updated,
                      const KeyState& before, const KeyState& after,
                      std::vector<FieldChange>& out) {
  std::vector<std::string> names;
  if (updated != nullptr) {
    names = updated->set.names;
  } else {
    // The adaptive-RPM events (spec §11.3) change the RPM mode and the learner's fields.
    names = {"rpm_limit",   "learned_rpm_limit", "concurrent_429_count", "rpm_429_count",
             "last_429_at", "last_429_type",     "utilization_samples",  "last_probe_increase_at"};
  }
  for (const std::string& name : names) {
    if (!IsKeyField(name)) return Corrupt("key field " + name);
    std::string b = KeyFieldValue(before, name);
    std::string a = KeyFieldValue(after, name);
    if (a == b) continue;
    out.push_back(FieldChange{name, RedactWith(parser, b), RedactWith(parser, a)});
  }
  return Status::Ok();
}

}  // namespace

Result<KeyHistory> BuildKeyHistory(const events::EventReader& log, std::string_view key_id,
                                   const KeyHistoryOptions& options) {
  const std::string stream = KeyStream(key_id);
  auto not_found = [&] {
    return MakeError(ErrorCode::kNotFound, "key " + std::string(key_id) + " has no history");
  };
  if (key_id.empty() || !events::ValidateStreamId(stream).ok()) return not_found();

  constexpr size_t kPage = 512;
  KeyHistory h;
  h.key_id = std::string(key_id);
  Folder folder;
  EventDecoder decoder;
  simdjson::dom::parser parser;
  State state;
  EventType last_type = EventType::kKeyCreated;
  bool limited = false;
  for (uint64_t version = 1;;) {
    KL_ASSIGN_OR_RETURN(std::vector<EventRecord> page, log.ReadStream(stream, version, kPage));
    for (EventRecord& r : page) {
      const bool first = version == 1 && h.stream_version == 0;
      h.stream_version = r.stream_version;
      last_type = r.type;
      if (limited) continue;  // only the totals are still needed

      // Every event is decoded once (any schema version upcast to the newest): the fold applies
      // it, and the changes and the entry's summary are read from it.
      KL_ASSIGN_OR_RETURN(Event event, decoder.Decode(r));
      if (first) {
        // The first event creates the key; a stub of its provider lets the fold accept it.
        std::optional<std::string> provider;
        if (std::holds_alternative<KeyCreated>(event)) provider = NamedProvider(event);
        if (!provider) {
          return MakeError(ErrorCode::kCorruption,
                           "stream " + stream + " does not start with a KeyCreated event");
        }
        auto stub = std::make_shared<ProviderState>();
        stub->id = *provider;
        state.providers.Set(*provider, std::move(stub));
        h.provider_id = *provider;
      }

      std::optional<KeyState> before;
      if (r.type == EventType::kKeyUpdated || r.type == EventType::kKeyAdaptiveModeChanged ||
          r.type == EventType::kKeyRpmLimitSet || r.type == EventType::kKeyLearningReset) {
        if (const KeyState* k = state.keys.Find(key_id)) before = *k;
      }
      const bool wanted =
          r.stream_version > options.after_version &&
          (options.include_health_reports || r.type != EventType::kKeyHealthReported);
      if (wanted && h.entries.size() >= options.limit) {
        limited = true;
        h.next_after_version =
            h.entries.empty() ? options.after_version : h.entries.back().record.stream_version;
      }
      const bool keep = wanted && !limited;
      KeyHistoryEntry entry;
      if (keep) entry.event = event;
      KL_RETURN_IF_ERROR(folder.Apply(state, r, std::move(event)));
      if (!keep) continue;
      if (before) {
        const KeyState* after = state.keys.Find(key_id);
        if (after == nullptr) return Corrupt("key state after event " + std::to_string(r.sequence));
        const auto* updated = std::get_if<KeyUpdated>(&entry.event);
        KL_RETURN_IF_ERROR(ComputeChanges(parser, updated, *before, *after, entry.changes));
      }
      entry.record = std::move(r);
      entry.record.payload = RedactWith(parser, entry.record.payload);
      h.entries.push_back(std::move(entry));
    }
    if (page.size() < kPage) break;
    version += page.size();
  }
  if (h.stream_version == 0) return not_found();
  h.deleted = last_type == EventType::kKeyDeleted;
  return h;
}

void WriteKeyHistoryEntryJson(json::Writer& w, const KeyHistoryEntry& e) {
  w.BeginObject();
  // Payloads in entries are already redacted (and RedactPayload is idempotent).
  WriteEventMembers(w, e.record, e.record.payload);
  w.Key("changes").BeginArray();
  for (const FieldChange& c : e.changes) {
    w.BeginObject().Member("field", c.field);
    w.Key("before").Raw(c.before);
    w.Key("after").Raw(c.after);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void WriteKeyHistoryJson(json::Writer& w, const KeyHistory& h) {
  w.BeginObject();
  w.Member("key_id", h.key_id);
  w.Member("provider_id", h.provider_id);
  w.Member("deleted", h.deleted);
  w.Member("stream_version", h.stream_version);
  w.Key("events").BeginArray();
  for (const KeyHistoryEntry& e : h.entries) WriteKeyHistoryEntryJson(w, e);
  w.EndArray();
  w.Key("next_after_version");
  h.next_after_version ? w.Uint(*h.next_after_version) : w.Null();
  w.EndObject();
}

Result<std::string> KeyHistoryJson(const events::EventReader& log, std::string_view key_id,
                                   const KeyHistoryOptions& options) {
  KL_ASSIGN_OR_RETURN(KeyHistory h, BuildKeyHistory(log, key_id, options));
  json::Writer w(4096);
  WriteKeyHistoryJson(w, h);
  return w.Take();
}

// ---- event queries ----

namespace {

class Matcher {
 public:
  Matcher(const events::EventReader& log, const EventFilter& f) : log_(log), f_(f) {
    if (f_.provider_id) provider_stream_ = ProviderStream(*f_.provider_id);
  }

  Result<bool> Matches(const EventRecord& r) {
    if (!f_.types.empty() &&
        std::find(f_.types.begin(), f_.types.end(), r.type) == f_.types.end()) {
      return false;
    }
    if (f_.actor && r.metadata.actor != *f_.actor) return false;
    if (f_.since_us && r.time_us < *f_.since_us) return false;
    if (f_.stream && r.stream != *f_.stream) return false;
    if (f_.key_id && r.stream != KeyStream(*f_.key_id)) return false;
    if (f_.provider_id) return MatchesProvider(r);
    return true;
  }

 private:
  Result<bool> MatchesProvider(const EventRecord& r) {
    const std::string& id = *f_.provider_id;
    if (r.stream == provider_stream_) return true;
    KL_ASSIGN_OR_RETURN(std::optional<std::string> named, ProviderNamedBy(decoder_, r));
    const bool owned = r.stream.starts_with("key-") || r.stream.starts_with("endpoint-");
    if (named && (r.type == EventType::kKeyCreated || r.type == EventType::kEndpointCreated)) {
      owners_[r.stream] = *named;
    }
    if (named && *named == id) return true;
    if (!owned) return false;
    auto it = owners_.find(r.stream);
    if (it == owners_.end()) {
      // The stream's created event names its provider (one lookup per stream per query).
      KL_ASSIGN_OR_RETURN(auto first, log_.ReadStream(r.stream, 1, 1));
      std::string owner;
      if (!first.empty()) {
        KL_ASSIGN_OR_RETURN(std::optional<std::string> named_first,
                            ProviderNamedBy(decoder_, first.front()));
        owner = named_first.value_or("");
      }
      it = owners_.emplace(r.stream, std::move(owner)).first;
    }
    return it->second == id;
  }

  const events::EventReader& log_;
  const EventFilter& f_;
  std::string provider_stream_;
  EventDecoder decoder_;
  std::unordered_map<std::string, std::string> owners_;  // key/endpoint stream -> provider id
};

}  // namespace

Result<EventPage> QueryEvents(const events::EventReader& log, const EventFilter& filter,
                              size_t limit, size_t max_scan) {
  if (max_scan == 0) max_scan = SIZE_MAX;
  EventPage page;
  page.next_after = filter.after;
  if (filter.stream && filter.key_id && *filter.stream != KeyStream(*filter.key_id)) {
    page.complete = true;  // contradictory: nothing can match
    return page;
  }
  std::optional<std::string> stream = filter.stream;
  if (!stream && filter.key_id) stream = KeyStream(*filter.key_id);
  if (stream && !events::ValidateStreamId(*stream).ok()) {
    return Invalid("not a valid stream id: " + *stream);
  }
  if (limit == 0) return page;

  // Everything at or before `start` is known not to match.
  const events::Head head = log.GetHead();
  uint64_t start = filter.after;
  if (filter.since_us && *filter.since_us > events::kMinTimestampMicros) {
    KL_ASSIGN_OR_RETURN(uint64_t before_since, SequenceAtTime(log, *filter.since_us - 1));
    start = std::max(start, before_since);
  }
  page.next_after = start;

  Matcher matcher(log, filter);
  Status failed;
  bool stopped = false;  // by the limit or max_scan, not by the end of the data
  auto visit = [&](const EventRecord& r) -> bool {
    if (filter.until_us && r.time_us > *filter.until_us) {
      page.complete = true;
      return false;
    }
    page.scanned++;
    page.next_after = r.sequence;
    auto matches = matcher.Matches(r);
    if (!matches.ok()) {
      failed = matches.status();
      return false;
    }
    if (*matches) page.events.push_back(r);
    if (page.events.size() >= limit || page.scanned >= max_scan) {
      stopped = true;
      return false;
    }
    return true;
  };

  if (!stream) {
    KL_RETURN_IF_ERROR(log.Scan(start + 1, UINT64_MAX, visit));
  } else {
    // The stream's index: find its first version after `start` by binary search, then read on.
    KL_ASSIGN_OR_RETURN(uint64_t last_version, log.StreamVersion(*stream));
    uint64_t lo = 1, hi = last_version + 1;
    while (lo < hi) {
      const uint64_t mid = lo + (hi - lo) / 2;
      KL_ASSIGN_OR_RETURN(auto one, log.ReadStream(*stream, mid, 1));
      if (one.empty()) {
        hi = mid;
      } else if (one.front().sequence > start) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    const size_t chunk = std::clamp<size_t>(limit, 16, 512);
    for (uint64_t version = lo;;) {
      KL_ASSIGN_OR_RETURN(auto records, log.ReadStream(*stream, version, chunk));
      bool go_on = true;
      for (const EventRecord& r : records) {
        if (!(go_on = visit(r))) break;
      }
      if (!go_on || records.size() < chunk) break;
      version += records.size();
    }
  }
  KL_RETURN_IF_ERROR(failed);
  if (!stopped && !page.complete) {
    page.at_head = true;
    page.next_after = std::max(page.next_after, head.sequence);
  }
  return page;
}

// ---- checkpoints ----

std::string CheckpointMessage(uint64_t seq, std::string_view hash_hex, int64_t time_us) {
  std::string m = "keyledger/checkpoint/v1\nsequence=";
  m += std::to_string(seq);
  m += "\nhash=";
  m += hash_hex;
  m += "\ntime_us=";
  m += std::to_string(time_us);
  m += '\n';
  return m;
}

Checkpoint MakeCheckpoint(const events::Keyring& keyring, uint64_t sequence,
                          const events::Hash& hash, int64_t time_us) {
  Checkpoint c;
  c.sequence = sequence;
  c.hash = HashHex(hash);
  c.time_us = time_us;
  c.signature = keyring.SignCheckpoint(CheckpointMessage(sequence, c.hash, time_us));
  return c;
}

std::string CheckpointJson(const Checkpoint& c) {
  json::Writer w(256);
  w.BeginObject()
      .Member("sequence", c.sequence)
      .Member("hash", c.hash)
      .Member("time", events::FormatTimestampZ(c.time_us))
      .Member("signature", c.signature)
      .EndObject();
  return w.Take();
}

Result<Checkpoint> ParseCheckpointJson(std::string_view json) {
  simdjson::dom::parser parser;
  element doc;
  object obj;
  if (parser.parse(json.data(), json.size(), true).get(doc) || doc.get_object().get(obj)) {
    return Invalid("the checkpoint is not a JSON object");
  }
  Checkpoint c;
  bool seen_seq = false, seen_hash = false, seen_time = false, seen_sig = false;
  for (auto field : obj) {
    std::string_view k = field.key;
    std::string_view text;
    if (k == "sequence") {
      if (field.value.get_uint64().get(c.sequence)) return Invalid("checkpoint sequence");
      seen_seq = true;
    } else if (k == "hash") {
      if (field.value.get_string().get(text) || !IsHexDigest(text)) {
        return Invalid("checkpoint hash: expected 64 hex digits");
      }
      c.hash = Lower(text);
      seen_hash = true;
    } else if (k == "time") {
      if (!field.value.get_string().get(text)) {
        auto t = events::ParseTimestamp(text);
        if (!t.ok()) return Invalid("checkpoint time: " + t.error().message);
        c.time_us = *t;
      } else if (field.value.get_int64().get(c.time_us)) {
        return Invalid("checkpoint time: expected RFC 3339 text or microseconds");
      }
      seen_time = true;
    } else if (k == "signature") {
      if (field.value.get_string().get(text) || !IsHexDigest(text)) {
        return Invalid("checkpoint signature: expected 64 hex digits");
      }
      c.signature = Lower(text);
      seen_sig = true;
    }
  }
  if (!seen_seq || !seen_hash || !seen_time || !seen_sig) {
    return Invalid("the checkpoint needs sequence, hash, time and signature");
  }
  return c;
}

Result<CheckpointVerdict> VerifyCheckpoint(const events::EventReader& log, const Checkpoint& c,
                                           const events::Keyring* keyring) {
  CheckpointVerdict v;
  if (c.sequence == 0) {
    v.reason = "sequence 0 is not a record";
    return v;
  }
  KL_ASSIGN_OR_RETURN(auto records, log.ReadRange(c.sequence, 1));
  if (records.empty() || records.front().sequence != c.sequence) {
    v.reason = "the log has no record " + std::to_string(c.sequence) + " (its head is " +
               std::to_string(log.GetHead().sequence) + "): records were lost or removed";
    return v;
  }
  const std::string actual = HashHex(records.front().hash);
  if (actual != Lower(c.hash)) {
    v.reason = "record " + std::to_string(c.sequence) + " has hash " + actual +
               ", the checkpoint says " + c.hash + ": the log was rewritten";
    return v;
  }
  if (keyring != nullptr) {
    v.signature_checked = true;
    const std::string expected =
        keyring->SignCheckpoint(CheckpointMessage(c.sequence, Lower(c.hash), c.time_us));
    if (!crypto::ConstantTimeEquals(expected, Lower(c.signature))) {
      v.reason = "the signature does not verify under this directory's checkpoint key";
      return v;
    }
  }
  v.ok = true;
  return v;
}

// ---- digests ----

std::string DigestJson(const State& s, bool with_entities) {
  json::Writer w(with_entities ? 128 + 96 * (s.keys.size() + s.providers.size()) : 128);
  w.BeginObject().Member("sequence", s.sequence).Member("digest", StateDigestHex(s));
  if (with_entities) {
    w.Key("entities").BeginArray();
    for (const auto& [id, digest] : EntityDigests(s)) {
      w.BeginObject().Member("id", id).Member("digest", digest).EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return w.Take();
}

Result<DigestReport> ParseDigestJson(std::string_view json) {
  simdjson::dom::parser parser;
  element doc;
  object obj;
  if (parser.parse(json.data(), json.size(), true).get(doc) || doc.get_object().get(obj)) {
    return Invalid("the digest is not a JSON object");
  }
  DigestReport r;
  bool seen_seq = false, seen_digest = false;
  for (auto field : obj) {
    std::string_view k = field.key;
    std::string_view text;
    if (k == "sequence") {
      if (field.value.get_uint64().get(r.sequence)) return Invalid("digest sequence");
      seen_seq = true;
    } else if (k == "digest") {
      if (field.value.get_string().get(text) || !IsHexDigest(text)) return Invalid("digest");
      r.digest = Lower(text);
      seen_digest = true;
    } else if (k == "entities") {
      simdjson::dom::array arr;
      if (field.value.get_array().get(arr)) return Invalid("digest entities");
      EntityDigestList list;
      for (element item : arr) {
        std::string_view id, digest;
        if (item["id"].get_string().get(id) || item["digest"].get_string().get(digest)) {
          return Invalid("digest entity");
        }
        list.emplace_back(std::string(id), Lower(digest));
      }
      r.entities = std::move(list);
    }
  }
  if (!seen_seq || !seen_digest) return Invalid("the digest needs sequence and digest");
  return r;
}

namespace {
// EntityDigests order: providers, endpoints, keys, each by id.
std::pair<int, std::string_view> EntityOrder(std::string_view name) {
  int kind = name.starts_with("provider:") ? 0 : name.starts_with("endpoint:") ? 1 : 2;
  return {kind, name.substr(name.find(':') + 1)};
}
}  // namespace

std::string FirstDifferingEntity(const EntityDigestList& a, const EntityDigestList& b) {
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i == a.size()) return b[j].first;
    if (j == b.size()) return a[i].first;
    if (a[i].first != b[j].first) {
      return EntityOrder(a[i].first) < EntityOrder(b[j].first) ? a[i].first : b[j].first;
    }
    if (a[i].second != b[j].second) return a[i].first;
    ++i;
    ++j;
  }
  return "";
}

// ---- export lines ----

void WriteExportJson(json::Writer& w, const EventRecord& r) {
  w.BeginObject();
  w.Member("seq", r.sequence);
  w.Member("stream", r.stream);
  w.Member("stream_version", r.stream_version);
  w.Member("type", events::EventTypeName(r.type));
  w.Member("type_id", uint64_t{static_cast<uint16_t>(r.type)});
  w.Member("schema_version", uint64_t{r.schema_version});
  w.Member("time", events::FormatTimestampZ(r.time_us));
  w.Member("time_us", r.time_us);
  w.Member("actor", r.metadata.actor);
  w.Member("client_ip", r.metadata.client_ip);
  w.Member("request_id", r.metadata.request_id);
  w.Key("reason");
  r.metadata.reason ? w.String(*r.metadata.reason) : w.Null();
  w.Member("payload", r.payload);
  w.Member("prev_hash", HashHex(r.prev_hash));
  w.Member("hash", HashHex(r.hash));
  w.EndObject();
}

Result<EventRecord> ParseExportJson(std::string_view line) {
  simdjson::dom::parser parser;
  element doc;
  object obj;
  if (parser.parse(line.data(), line.size(), true).get(doc) || doc.get_object().get(obj)) {
    return Invalid("not a JSON object");
  }
  EventRecord r;
  uint32_t seen = 0;
  auto get_string = [](element v, std::string& out) {
    std::string_view s;
    if (v.get_string().get(s)) return false;
    out.assign(s);
    return true;
  };
  auto get_hash = [&](element v, events::Hash& out) {
    std::string hex;
    if (!get_string(v, hex) || !IsHexDigest(hex)) return false;
    auto bytes = crypto::HexDecode(Lower(hex));
    if (!bytes.ok()) return false;
    out = crypto::DigestFromBytes(*bytes);
    return true;
  };
  for (auto field : obj) {
    std::string_view k = field.key;
    element v = field.value;
    bool ok = true;
    uint64_t u = 0;
    if (k == "seq") {
      ok = !v.get_uint64().get(r.sequence);
      seen |= 1;
    } else if (k == "stream") {
      ok = get_string(v, r.stream);
      seen |= 2;
    } else if (k == "stream_version") {
      ok = !v.get_uint64().get(r.stream_version);
      seen |= 4;
    } else if (k == "type_id") {
      ok = !v.get_uint64().get(u) && u <= UINT16_MAX;
      r.type = static_cast<EventType>(static_cast<uint16_t>(u));
      seen |= 8;
    } else if (k == "schema_version") {
      ok = !v.get_uint64().get(u) && u <= UINT16_MAX;
      r.schema_version = static_cast<uint16_t>(u);
      seen |= 16;
    } else if (k == "time_us") {
      ok = !v.get_int64().get(r.time_us);
      seen |= 32;
    } else if (k == "actor") {
      ok = get_string(v, r.metadata.actor);
      seen |= 64;
    } else if (k == "client_ip") {
      ok = get_string(v, r.metadata.client_ip);
      seen |= 128;
    } else if (k == "request_id") {
      ok = get_string(v, r.metadata.request_id);
      seen |= 256;
    } else if (k == "reason") {
      if (!v.is_null()) {
        std::string reason;
        ok = get_string(v, reason);
        r.metadata.reason = std::move(reason);
      }
      seen |= 512;
    } else if (k == "payload") {
      ok = get_string(v, r.payload);
      seen |= 1024;
    } else if (k == "prev_hash") {
      ok = get_hash(v, r.prev_hash);
      seen |= 2048;
    } else if (k == "hash") {
      ok = get_hash(v, r.hash);
      seen |= 4096;
    } else if (k != "type" && k != "time") {
      return Invalid("unknown member \"" + std::string(k) + "\"");
    }
    if (!ok) return Invalid("member \"" + std::string(k) + "\" has the wrong type or value");
  }
  if (seen != 8191) return Invalid("a member is missing (every export line has all of them)");
  return r;
}

}  // namespace keyledger::projections
