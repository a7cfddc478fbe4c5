#include "events/time_format.hpp"

#include <algorithm>
#include <cstdio>

namespace keyledger::events {

namespace {

constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

// Floor division and modulo, so that times before 1970 format correctly.
int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::string Format(int64_t micros, std::string_view utc_suffix) {
  micros = std::clamp(micros, kMinTimestampMicros, kMaxTimestampMicros);
  int64_t days = FloorDiv(micros, kMicrosPerDay);
  int64_t in_day = micros - days * kMicrosPerDay;
  int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  CivilFromDays(days, year, month, day);
  auto secs = static_cast<int>(in_day / kMicrosPerSecond);
  auto frac = static_cast<int>(in_day % kMicrosPerSecond);
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(year),
                        month, day, secs / 3600, secs / 60 % 60, secs % 60);
  std::string out(buf, static_cast<size_t>(n));
  if (frac != 0) {
    n = std::snprintf(buf, sizeof buf, ".%06d", frac);
    out.append(buf, static_cast<size_t>(n));
  }
  out += utc_suffix;
  return out;
}

Error Bad(std::string_view reason) {
  return MakeError(ErrorCode::kInvalidArgument, std::string(reason));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads `count` digits at `pos`; false if any is not a digit.
bool Digits(std::string_view s, size_t pos, size_t count, int64_t& out) {
  out = 0;
  for (size_t i = 0; i < count; ++i) {
    char c = s[pos + i];
    if (!IsDigit(c)) return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

}  // namespace

bool IsLeapYear(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

unsigned DaysInMonth(int64_t year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && IsLeapYear(year)) return 29;
  return kDays[month - 1];
}

// Howard Hinnant's algorithms (public domain), valid over the whole int64 day range we use.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = FloorDiv(year, 400);
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t days, int64_t& year, unsigned& month, unsigned& day) {
  days += 719468;
  const int64_t era = FloorDiv(days, 146097);
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = doy - (153 * mp + 2) / 5 + 1;
  month = mp < 10 ? mp + 3 : mp - 9;
  year = static_cast<int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
}

std::string FormatTimestampZ(int64_t micros) { return Format(micros, "Z"); }

std::string FormatTimestampIso(int64_t micros) { return Format(micros, "+00:00"); }

Result<int64_t> ParseTimestamp(std::string_view s) {
  // The date: the same checks, in the same order, as speedate's Date::parse_bytes.
  if (s.size() < 10) return Bad("input is too short");
  int64_t year = 0;
  int64_t month = 0;
  int64_t day = 0;
  if (!Digits(s, 0, 4, year)) return Bad("invalid character in year");
  if (s[4] != '-') return Bad("invalid date separator, expected `-`");
  if (!Digits(s, 5, 2, month)) return Bad("invalid character in month");
  if (s[7] != '-') return Bad("invalid date separator, expected `-`");
  if (!Digits(s, 8, 2, day)) return Bad("invalid character in day");
  if (month < 1 || month > 12) return Bad("month value is outside expected range of 1-12");
  if (day < 1 || day > DaysInMonth(year, static_cast<unsigned>(month))) {
    return Bad("day value is outside expected range");
  }
  if (year == 0) return Bad("year 0 is out of range");
  int64_t micros =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * kMicrosPerDay;
  if (s.size() == 10) return micros;

  char sep = s[10];
  if (sep != 'T' && sep != 't' && sep != '_' && sep != ' ') {
    return Bad("invalid datetime separator, expected `T`, `t`, `_` or space");
  }
  size_t pos = 11;
  // HH:MM
  if (s.size() < pos + 5) return Bad("input is too short");
  int64_t hour = 0;
  int64_t minute = 0;
  int64_t second = 0;
  int64_t fraction = 0;
  if (!Digits(s, pos, 2, hour)) return Bad("invalid character in hour");
  if (s[pos + 2] != ':') return Bad("invalid time separator, expected `:`");
  if (!Digits(s, pos + 3, 2, minute)) return Bad("invalid character in minute");
  if (hour > 23) return Bad("hour value is outside expected range of 0-23");
  if (minute > 59) return Bad("minute value is outside expected range of 0-59");
  pos += 5;
  // [:SS[(.|,)F+]]
  if (pos < s.size() && s[pos] == ':') {
    if (s.size() < pos + 3) return Bad("input is too short");
    if (!Digits(s, pos + 1, 2, second)) return Bad("invalid character in second");
    if (second > 59) return Bad("second value is outside expected range of 0-59");
    pos += 3;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
      ++pos;
      size_t digits = 0;
      while (pos < s.size() && IsDigit(s[pos])) {
        if (digits < 6) fraction = fraction * 10 + (s[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0) return Bad("second fraction value must have at least one digit");
      for (size_t i = digits; i < 6; ++i) fraction *= 10;
    }
  }
  micros += ((hour * 60 + minute) * 60 + second) * kMicrosPerSecond + fraction;
  // [TZ]
  if (pos < s.size()) {
    char c = s[pos];
    if (c == 'Z' || c == 'z') {
      ++pos;
    } else if (c == '+' || c == '-') {
      ++pos;
      int64_t tz_hour = 0;
      int64_t tz_minute = 0;
      if (s.size() < pos + 2 || !Digits(s, pos, 2, tz_hour)) {
        return Bad("invalid timezone offset, expected ±HH:MM");
      }
      pos += 2;
      if (pos < s.size() && s[pos] == ':') ++pos;
      if (s.size() < pos + 2 || !Digits(s, pos, 2, tz_minute)) {
        return Bad("invalid timezone offset, expected ±HH:MM");
      }
      pos += 2;
      if (tz_hour > 23 || tz_minute > 59) {
        return Bad("timezone offset must be less than 24 hours");
      }
      int64_t offset = (tz_hour * 60 + tz_minute) * 60 * kMicrosPerSecond;
      micros += c == '+' ? -offset : offset;
    } else {
      return Bad("unexpected extra characters at the end of the input");
    }
  }
  if (pos != s.size()) return Bad("unexpected extra characters at the end of the input");
  if (micros < kMinTimestampMicros || micros > kMaxTimestampMicros) {
    return Bad("datetime is outside the supported range 0001-01-01 to 9999-12-31 UTC");
  }
  return micros;
}

Result<int64_t> ParseRfc3339(std::string_view s) {
  auto at = [&](size_t i, char c) { return i < s.size() && s[i] == c; };
  // The shape RFC 3339 requires and ISO 8601 does not; ParseTimestamp checks the rest.
  if (s.size() < 20 || !(at(10, 'T') || at(10, 't')) || !at(13, ':') || !at(16, ':')) {
    return Bad("not an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SSZ)");
  }
  size_t pos = 19;
  if (at(pos, '.')) {
    ++pos;
    while (pos < s.size() && IsDigit(s[pos])) ++pos;
  }
  const bool zulu = s.size() == pos + 1 && (at(pos, 'Z') || at(pos, 'z'));
  const bool offset = s.size() == pos + 6 && (at(pos, '+') || at(pos, '-')) && at(pos + 3, ':');
  if (!zulu && !offset) return Bad("an RFC 3339 date-time needs Z or a ±HH:MM offset");
  return ParseTimestamp(s);
}

}  // namespace keyledger::events
