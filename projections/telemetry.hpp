#pragma once
// Health telemetry: what gateways' health reports change on a key (KeyTelemetry: health and
// breaker per format, request counters), kept as mutable state outside the hash chain, one entry
// per key in the log's telemetry aux space (README "Log growth", events/FORMAT.md "Health
// telemetry"). The event log keeps only breaker transitions (KeyHealthReported) and admin resets
// (KeyHealthReset).
//
// In a State, a key "shows telemetry" once ApplyTelemetry ran for it: its KeyState carries the
// telemetry values, and State::health_from_log keeps the same part as the log alone folds it, so
// snapshots and the state digest (projections/snapshot.hpp) stay functions of the log.
//
// State after recovery = snapshot + replay of the log + OverlayTelemetry.
//
// Thread safety: plain functions over values; OverlayTelemetry reads the log (thread-safe).

#include <string>
#include <string_view>

#include "events/event_log.hpp"
#include "projections/state.hpp"

namespace keyledger::projections {

// Format of a telemetry entry's value: {"v":1, <the KeyTelemetry members as in a snapshot>}.
inline constexpr int64_t kTelemetryFormat = 1;

KeyTelemetry TelemetryOf(const KeyState& k);

// Makes `key_id` show `t` (no-op when the key is absent). Never touches the key's version,
// stream_version or updated_at: telemetry is not a configuration change (no new ETag).
void ApplyTelemetry(State& s, std::string_view key_id, KeyTelemetry t);
// True when the key shows telemetry.
bool ShowsTelemetry(const State& s, std::string_view key_id);

// The key as the log alone folds it: `k` itself, or (when it shows telemetry) a copy in `scratch`
// with the log's health part.
const KeyState& KeyFromLog(const State& s, const KeyState& k, KeyState& scratch);

std::string EncodeTelemetry(const KeyTelemetry& t);
// kCorruption for malformed JSON, an unknown member or a newer format.
Result<KeyTelemetry> DecodeTelemetry(std::string_view text);

// The aux writes that store (or delete, when a key is deleted) a key's telemetry entry. The aux
// key is the key id.
events::AuxWrite TelemetryWrite(std::string_view key_id, const KeyTelemetry& t);
events::AuxWrite TelemetryDelete(std::string_view key_id);

// Applies every stored telemetry entry to the keys of `s` that exist (entries of keys the state
// does not hold are skipped: an entry written by another node for a key deleted concurrently).
// A store without the telemetry space (a read-only open of a directory written before it
// existed) holds none. Errors: the store's read errors; kCorruption for an entry that does not
// decode.
Status OverlayTelemetry(const events::EventReader& log, State& s);

}  // namespace keyledger::projections
