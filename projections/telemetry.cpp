#include "projections/telemetry.hpp"

#include <algorithm>
#include <array>

#include <simdjson.h>

#include "projections/codec.hpp"

namespace keyledger::projections {
namespace {

// The KeyState members that make up KeyTelemetry, as the key's field table names them.
constexpr std::array<std::string_view, 7> kTelemetryFields = {
    "health_by_format", "circuit_breaker_by_format", "request_count", "success_count",
    "error_count",      "total_response_time_ms",    "last_used_at"};

void SetPart(KeyState& k, KeyTelemetry t) {
  k.health_by_format = std::move(t.health_by_format);
  k.circuit_breaker_by_format = std::move(t.circuit_breaker_by_format);
  k.request_count = t.request_count;
  k.success_count = t.success_count;
  k.error_count = t.error_count;
  k.total_response_time_ms = t.total_response_time_ms;
  k.last_used_at = t.last_used_at;
}

Error Corrupt(std::string_view what) {
  return MakeError(ErrorCode::kCorruption, "telemetry entry: " + std::string(what));
}

}  // namespace

KeyTelemetry TelemetryOf(const KeyState& k) {
  return KeyTelemetry{
      k.health_by_format, k.circuit_breaker_by_format, k.request_count, k.success_count,
      k.error_count,      k.total_response_time_ms,    k.last_used_at};
}

void ApplyTelemetry(State& s, std::string_view key_id, KeyTelemetry t) {
  KeyState* k = s.keys.Mutable(key_id);
  if (k == nullptr) return;
  if (s.health_from_log.Find(key_id) == nullptr) {
    s.health_from_log.Set(key_id, std::make_shared<KeyTelemetry>(TelemetryOf(*k)));
  }
  SetPart(*k, std::move(t));
  ++s.telemetry_version;
}

bool ShowsTelemetry(const State& s, std::string_view key_id) {
  return s.health_from_log.Find(key_id) != nullptr;
}

const KeyState& KeyFromLog(const State& s, const KeyState& k, KeyState& scratch) {
  const KeyTelemetry* logged = s.health_from_log.Find(k.id);
  if (logged == nullptr) return k;
  scratch = k;
  SetPart(scratch, *logged);
  return scratch;
}

std::string EncodeTelemetry(const KeyTelemetry& t) {
  KeyState k;
  SetPart(k, t);
  json::Writer fields;
  WriteKeyFields(fields, k, kTelemetryFields);
  json::Writer w;
  w.BeginObject().Member("v", kTelemetryFormat).Key("key").Raw(fields.str()).EndObject();
  return w.Take();
}

Result<KeyTelemetry> DecodeTelemetry(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size(), true).get(doc)) return Corrupt("malformed JSON");
  int64_t format = 0;
  if (doc["v"].get_int64().get(format)) return Corrupt("no format");
  if (format != kTelemetryFormat) {
    return Corrupt("format " + std::to_string(format) + " (this build reads " +
                   std::to_string(kTelemetryFormat) + ")");
  }
  simdjson::dom::object fields;
  if (doc["key"].get_object().get(fields)) return Corrupt("no key object");
  for (auto field : fields) {
    if (std::find(kTelemetryFields.begin(), kTelemetryFields.end(), field.key) ==
        kTelemetryFields.end()) {
      return Corrupt("member " + std::string(field.key));
    }
  }
  KeyState k;
  KL_RETURN_IF_ERROR(ReadKeyFields(simdjson::minify(fields), k));
  return TelemetryOf(k);
}

events::AuxWrite TelemetryWrite(std::string_view key_id, const KeyTelemetry& t) {
  return events::AuxWrite{events::AuxSpace::kTelemetry, std::string(key_id), EncodeTelemetry(t)};
}

events::AuxWrite TelemetryDelete(std::string_view key_id) {
  return events::AuxWrite{events::AuxSpace::kTelemetry, std::string(key_id), std::nullopt};
}

Status OverlayTelemetry(const events::EventReader& log, State& s) {
  Status decoded = Status::Ok();
  KL_RETURN_IF_ERROR(log.ScanAux(events::AuxSpace::kTelemetry, "",
                                 [&](std::string_view key, std::string_view value) {
                                   if (s.keys.Find(key) == nullptr) return true;
                                   auto t = DecodeTelemetry(value);
                                   if (!t.ok()) {
                                     decoded = t.error();
                                     return false;
                                   }
                                   ApplyTelemetry(s, key, std::move(t).value());
                                   return true;
                                 }));
  return decoded;
}

}  // namespace keyledger::projections
