#pragma once
// UTC timestamps as microseconds since the Unix epoch, and their text forms.
//
// Formatting follows what Aether's clients see:
//   - FormatTimestampZ: pydantic v2's serialization of a UTC datetime, "2026-01-13T05:00:00Z" or
//     "2026-01-13T05:07:22.123456Z" (the fraction only when non-zero, then always 6 digits).
//   - FormatTimestampIso: Python's datetime.isoformat() of a UTC datetime, the same text with
//     "+00:00" instead of "Z" (what Aether writes into health_by_format JSON).
// Both accept any value in [kMinTimestampMicros, kMaxTimestampMicros] (Python's datetime range,
// years 0001-9999); values outside are clamped to that range, so the output is always 4-digit-year
// RFC 3339 text.
//
// ParseTimestamp accepts RFC 3339 and the ISO 8601 forms pydantic v2 accepts for a datetime:
//   YYYY-MM-DD                                   (midnight UTC)
//   YYYY-MM-DD(T|t|_| )HH:MM[:SS[(.|,)F+]][TZ]   TZ = Z | z | ±HH:MM | ±HHMM
// A missing offset ("naive" time) is taken as UTC. Fraction digits beyond the sixth are truncated
// (microsecond precision, as pydantic does). The instant must lie within the datetime range.
// Errors are kInvalidArgument; the message is a short reason in the wording pydantic (speedate)
// uses, e.g. "month value is outside expected range of 1-12", never the input itself.
//
// Pure functions; thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

#include "events/status.hpp"

namespace keyledger::events {

inline constexpr int64_t kMicrosPerSecond = 1'000'000;
// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z.
inline constexpr int64_t kMinTimestampMicros = -62'135'596'800'000'000;
inline constexpr int64_t kMaxTimestampMicros = 253'402'300'799'999'999;

std::string FormatTimestampZ(int64_t micros);
std::string FormatTimestampIso(int64_t micros);

Result<int64_t> ParseTimestamp(std::string_view text);

// Strict RFC 3339 date-time (configuration files, tokens): "YYYY-MM-DDTHH:MM:SS[.F+](Z|±HH:MM)";
// the 'T', the seconds and the offset are required. The same range checks as ParseTimestamp.
Result<int64_t> ParseRfc3339(std::string_view text);

// Days since 1970-01-01 of a proleptic Gregorian date (no range check), and back.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);
void CivilFromDays(int64_t days, int64_t& year, unsigned& month, unsigned& day);
bool IsLeapYear(int64_t year);
unsigned DaysInMonth(int64_t year, unsigned month);

}  // namespace keyledger::events
