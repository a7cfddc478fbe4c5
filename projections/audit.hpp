#pragma once
// Audit read models over the event log, shared by keyledger-audit, keyledger-rebuild and the API's
// audit routes (GET /api/admin/audit/events, /keys/{id}/history, /checkpoint, /digest), so that
// the tools and the server print the same facts in the same shapes.
//
// Nothing here decrypts: sealed secrets are shown as their data-key id and ciphertext length
// (RedactPayload), and the structured forms carry redacted payloads only, except the export
// format, which must keep the exact payload bytes for the hash chain (WriteExportJson).
//
// All functions are pure or read-only on the log; thread-safe for concurrent callers (each call
// uses its own parser). Errors: kNotFound for an unknown key, kInvalidArgument for malformed
// input (a checkpoint or export line), kCorruption when the log itself does not decode, and
// whatever the reader reports for storage failures.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "events/event_log.hpp"
#include "events/json_writer.hpp"
#include "events/record.hpp"
#include "events/secrets.hpp"
#include "events/status.hpp"
#include "projections/event_payloads.hpp"
#include "projections/state.hpp"

namespace keyledger::projections {

// ---------------------------------------------------------------------------------------------
// One event as JSON.

// Writes one event as a JSON object with these members, always all of them, in this order
// (clients and the golden tests rely on the order):
//   "seq"             u64
//   "stream"          string
//   "stream_version"  u64
//   "type"            string, the EventType name ("KeyCreated"; "Unknown" for a number this
//                     build does not know)
//   "schema_version"  u16
//   "time"            string, events::FormatTimestampZ of the record's time
//   "actor", "client_ip", "request_id"   strings
//   "reason"          string or null
//   "payload"         the payload object with every sealed secret redacted (RedactPayload)
//   "prev_hash", "hash"   64 lower-case hex digits
void WriteEventJson(json::Writer& w, const events::EventRecord& r);
std::string EventJson(const events::EventRecord& r);

// The payload (one JSON document) with every sealed secret — any object holding the members
// "cv", "dek", "n" and "ct", such as a key's "secret" or a proxy's "password" — replaced by
//   {"dek":"<dek id>","ciphertext_bytes":N,"version":v,"mask":"sk-a***wxyz"}
// where N is the length of the decoded ciphertext (including the GCM tag), and "version" and
// "mask" are null when the sealed object does not carry them. Nonce, ciphertext and fingerprint
// bytes never appear. Everything else is re-serialized compactly, member order kept.
// Idempotent. A payload that is not valid JSON becomes {"undecodable_payload_bytes":N}.
std::string RedactPayload(std::string_view payload_json);

// RedactPayload, and for a schema-version-1 ProviderCreated/Updated or EndpointCreated/Updated
// (written before credentials in headers and config were sealed) every plaintext string under a
// credential name (events::IsSecretMemberName) inside its "headers" or "config" replaced by its
// mask (events::MaskSecret). What every audit view (events, stream, `keyledger-audit log`) shows.
std::string RedactRecordPayload(const events::EventRecord& r);

// ---------------------------------------------------------------------------------------------
// A key's history.

struct FieldChange {
  std::string field;   // a key field name (projections/codec.cpp's table)
  std::string before;  // JSON text of the value before the event (secrets redacted)
  std::string after;   // JSON text after it
};

struct KeyHistoryEntry {
  events::EventRecord record;  // payload already redacted (RedactPayload)
  // The stored payload decoded (EventDecoder: any schema version, upcast to the newest), for
  // readers that interpret it (keyledger-audit history's summaries). It holds sealed secrets as
  // stored (ciphertext, never plaintext); print `record`, which is redacted.
  Event event;
  // KeyUpdated: the fields it set whose value changed; KeyAdaptiveModeChanged, KeyRpmLimitSet,
  // KeyLearningReset: the RPM and learner fields they changed.
  std::vector<FieldChange> changes;
};

struct KeyHistory {
  std::string key_id;
  std::string provider_id;      // from KeyCreated
  bool deleted = false;         // the stream ends with KeyDeleted
  uint64_t stream_version = 0;  // events on the key's stream (all of them, also those skipped)
  std::vector<KeyHistoryEntry> entries;
  // When `limit` cut the page short: pass as KeyHistoryOptions::after_version to continue.
  std::optional<uint64_t> next_after_version;
};

struct KeyHistoryOptions {
  // Include KeyHealthReported events (default true; a busy key has many).
  bool include_health_reports = true;
  // Entries only for stream versions > after_version (default 0: from the start).
  uint64_t after_version = 0;
  // At most this many entries (default: all).
  size_t limit = SIZE_MAX;
};

// Every event of stream key-<key_id> in order, also after the key was deleted (the log keeps
// everything). Before/after values of updates come from folding the key's events with the one
// Folder into a State that holds a stub of its provider, so they are exactly what the live
// projection held. kNotFound when the stream has no events (or key_id cannot be a stream id);
// kCorruption when the stream does not start with KeyCreated or an event does not fold.
Result<KeyHistory> BuildKeyHistory(const events::EventReader& log, std::string_view key_id,
                                   const KeyHistoryOptions& options = {});
// {"key_id","provider_id","deleted","stream_version","events":[<WriteEventJson members>,
//  "changes":[{"field","before","after"}...]],"next_after_version":n|null}
// ("changes" is present on every event, empty except on KeyUpdated and the adaptive-RPM events).
void WriteKeyHistoryJson(json::Writer& w, const KeyHistory& h);
// One element of "events" above (keyledger-audit history --format jsonl prints one per line).
void WriteKeyHistoryEntryJson(json::Writer& w, const KeyHistoryEntry& e);
Result<std::string> KeyHistoryJson(const events::EventReader& log, std::string_view key_id,
                                   const KeyHistoryOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Event queries (keyledger-audit log, GET /api/admin/audit/events).

struct EventFilter {
  uint64_t after = 0;                 // only sequences > after
  std::optional<std::string> stream;  // exactly this stream id
  std::optional<std::string> key_id;  // stream key-<id> (with `stream`: both must agree)
  // The stream provider-<id>, every event whose payload names the provider (a top-level
  // "provider_id", or the "provider_id" of a created key or endpoint), and every event of a
  // key or endpoint stream whose created event names it (reveals, updates, health reports).
  std::optional<std::string> provider_id;
  std::vector<events::EventType> types;  // any of these (empty: every type)
  std::optional<std::string> actor;      // exactly this actor
  std::optional<int64_t> since_us;       // time >= since (inclusive)
  std::optional<int64_t> until_us;       // time <= until (inclusive)
};

struct EventPage {
  // The matching records in sequence order, payloads as stored: print them with
  // WriteEventJson, which redacts.
  std::vector<events::EventRecord> events;
  // The last sequence examined (or the head, when the scan reached it): pass it as
  // EventFilter::after to continue. Never smaller than the request's `after`.
  uint64_t next_after = 0;
  bool at_head = false;   // the scan reached the head: nothing more matches for now
  bool complete = false;  // nothing can ever match after next_after (past `until`)
  uint64_t scanned = 0;   // records examined
};

inline constexpr size_t kDefaultEventLimit = 100;
inline constexpr size_t kDefaultMaxScan = 100'000;

// At most `limit` matching events after filter.after, examining at most `max_scan` records, so
// that one request never walks the whole log (ask again from next_after). A stream filter
// (stream or key_id) reads that stream's index instead of the log; `since` starts at the first
// record at or after that time (binary search; times never decrease along the log).
Result<EventPage> QueryEvents(const events::EventReader& log, const EventFilter& filter,
                              size_t limit, size_t max_scan);

// ---------------------------------------------------------------------------------------------
// Signed checkpoints (GET /api/admin/audit/checkpoint, keyledger-audit verify --checkpoint).

// The canonical text the server signs with Keyring::SignCheckpoint (HMAC-SHA256 under the
// keyring's checkpoint key):
//   "keyledger/checkpoint/v1\nsequence=<seq>\nhash=<hash_hex>\ntime_us=<time_us>\n"
// (decimal integers, the hash as given: 64 lower-case hex digits).
std::string CheckpointMessage(uint64_t seq, std::string_view hash_hex, int64_t time_us);

struct Checkpoint {
  uint64_t sequence = 0;  // a record of the log
  std::string hash;       // that record's hash, hex
  int64_t time_us = 0;    // when the checkpoint was issued; bound by the signature only
  std::string signature;  // hex HMAC of CheckpointMessage(sequence, hash, time_us)
};

// Signs with the keyring (the server's route uses this).
Checkpoint MakeCheckpoint(const events::Keyring& keyring, uint64_t sequence,
                          const events::Hash& hash, int64_t time_us);
// {"sequence":N,"hash":"<hex>","time":"<FormatTimestampZ(time_us)>","signature":"<hex>"}
std::string CheckpointJson(const Checkpoint& c);
// Parses that object; "time" may also be an integer of microseconds. Unknown members are
// ignored (a newer server may add some); the four above are required. kInvalidArgument.
Result<Checkpoint> ParseCheckpointJson(std::string_view json);

struct CheckpointVerdict {
  bool ok = false;                 // the log holds the checkpoint (and its signature verified)
  bool signature_checked = false;  // false when no keyring was given
  std::string reason;              // when !ok: why
};
// Checks that record `c.sequence` exists and has hash `c.hash`, and, when `keyring` is not null,
// that the signature is the keyring's. A mismatch is a verdict, not an error; errors mean the
// check could not run.
Result<CheckpointVerdict> VerifyCheckpoint(const events::EventReader& log, const Checkpoint& c,
                                           const events::Keyring* keyring);

// ---------------------------------------------------------------------------------------------
// State digests (GET /api/admin/audit/digest[?entities=true], keyledger-rebuild --compare-url).

using EntityDigestList = std::vector<std::pair<std::string, std::string>>;

// {"sequence":N,"digest":"<StateDigestHex>"} and, with entities,
// ,"entities":[{"id":"provider:<id>","digest":"<hex>"},...] in EntityDigests order.
std::string DigestJson(const State& s, bool with_entities);

struct DigestReport {
  uint64_t sequence = 0;
  std::string digest;
  std::optional<EntityDigestList> entities;
};
Result<DigestReport> ParseDigestJson(std::string_view json);

// The first entity ("key:<id>", ...) whose digest differs between two EntityDigests lists, or
// that only one of them has; empty when they are equal. Lists are in EntityDigests order.
std::string FirstDifferingEntity(const EntityDigestList& a, const EntityDigestList& b);

// ---------------------------------------------------------------------------------------------
// Export lines (keyledger-audit export / import). Format version 1, one record per line:
//   {"seq","stream","stream_version","type","type_id","schema_version","time","time_us",
//    "actor","client_ip","request_id","reason","payload","prev_hash","hash"}
// "payload" is a JSON *string* holding the exact stored payload text (ciphertext included, never
// plaintext), so that an import reproduces every record byte for byte; "type_id" is the stored
// number, "time" is informational (FormatTimestampZ of time_us).
void WriteExportJson(json::Writer& w, const events::EventRecord& r);
// Parses one line back into the record it was written from (hashes included, not checked
// here: compare events::ComputeHash). kInvalidArgument naming the problem.
Result<events::EventRecord> ParseExportJson(std::string_view line);

}  // namespace keyledger::projections
