#include "events/time_format.hpp"

#include <gtest/gtest.h>

#include <string>

namespace keyledger::events {
namespace {

// Expected values computed with Python: (dt - epoch) // timedelta(microseconds=1).
constexpr int64_t k20260113T0500 = 1'768'280'400'000'000;

TEST(TimeFormatTest, FormatsLikePydanticAndIsoformat) {
  EXPECT_EQ(FormatTimestampZ(k20260113T0500), "2026-01-13T05:00:00Z");
  EXPECT_EQ(FormatTimestampZ(1'768'280'842'123'456), "2026-01-13T05:07:22.123456Z");
  EXPECT_EQ(FormatTimestampZ(1'768'280'842'000'001), "2026-01-13T05:07:22.000001Z");
  EXPECT_EQ(FormatTimestampZ(1'768'280'842'100'000), "2026-01-13T05:07:22.100000Z");
  EXPECT_EQ(FormatTimestampIso(k20260113T0500), "2026-01-13T05:00:00+00:00");
  EXPECT_EQ(FormatTimestampIso(1'768'280'842'123'456), "2026-01-13T05:07:22.123456+00:00");
  EXPECT_EQ(FormatTimestampZ(0), "1970-01-01T00:00:00Z");
}

TEST(TimeFormatTest, FormatsBeforeTheEpochAndLeapDays) {
  EXPECT_EQ(FormatTimestampZ(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatTimestampZ(-2'203'891'200'000'000), "1900-03-01T00:00:00Z");
  EXPECT_EQ(FormatTimestampZ(951'825'600'000'000), "2000-02-29T12:00:00Z");
  EXPECT_EQ(FormatTimestampZ(1'709'251'199'999'999), "2024-02-29T23:59:59.999999Z");
}

TEST(TimeFormatTest, FormatsTheBoundsAndClampsBeyondThem) {
  EXPECT_EQ(FormatTimestampZ(kMinTimestampMicros), "0001-01-01T00:00:00Z");
  EXPECT_EQ(FormatTimestampZ(kMaxTimestampMicros), "9999-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatTimestampZ(kMinTimestampMicros - 1), "0001-01-01T00:00:00Z");
  EXPECT_EQ(FormatTimestampZ(INT64_MAX), "9999-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatTimestampZ(INT64_MIN), "0001-01-01T00:00:00Z");
}

TEST(TimeFormatTest, CivilDayConversionsRoundTripAcrossTheRange) {
  for (int64_t days = DaysFromCivil(1, 1, 1); days <= DaysFromCivil(9999, 12, 31); days += 997) {
    int64_t y = 0;
    unsigned m = 0;
    unsigned d = 0;
    CivilFromDays(days, y, m, d);
    ASSERT_EQ(DaysFromCivil(y, m, d), days);
    ASSERT_GE(d, 1u);
    ASSERT_LE(d, DaysInMonth(y, m));
  }
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_TRUE(IsLeapYear(2000));
  EXPECT_FALSE(IsLeapYear(1900));
  EXPECT_TRUE(IsLeapYear(2024));
  EXPECT_FALSE(IsLeapYear(2026));
  EXPECT_EQ(DaysInMonth(2024, 2), 29u);
  EXPECT_EQ(DaysInMonth(2100, 2), 28u);
}

struct ParseOk {
  const char* text;
  int64_t micros;
};

TEST(TimeFormatTest, ParsesRfc3339AndIsoForms) {
  const ParseOk cases[] = {
      {"2026-01-13T05:00:00Z", k20260113T0500},
      {"2026-01-13t05:00:00z", k20260113T0500},
      {"2026-01-13 05:00:00", k20260113T0500},  // naive: UTC
      {"2026-01-13_05:00:00", k20260113T0500},
      {"2026-01-13T05:00", k20260113T0500},
      {"2026-01-13T05:00Z", k20260113T0500},
      {"2026-01-13T05:00:00+00:00", k20260113T0500},
      {"2026-01-13T05:00:00-00:00", k20260113T0500},
      {"2026-01-13T13:00:00+08:00", k20260113T0500},
      {"2026-01-13T13:00:00+0800", k20260113T0500},
      {"2026-01-12T23:30:00-05:30", k20260113T0500},
      {"2026-01-13", k20260113T0500 - 5 * 3600 * kMicrosPerSecond},
      {"2026-01-13T05:07:22.123456Z", 1'768'280'842'123'456},
      {"2026-01-13T05:07:22,123456Z", 1'768'280'842'123'456},
      {"2026-01-13T05:07:22.1Z", 1'768'280'842'100'000},
      {"2026-01-13T05:07:22.1234569Z", 1'768'280'842'123'456},  // truncated, not rounded
      {"2024-02-29T23:59:59.999999Z", 1'709'251'199'999'999},
      {"1969-12-31T23:59:59.999999Z", -1},
      {"0001-01-01T00:00:00Z", kMinTimestampMicros},
      {"9999-12-31T23:59:59.999999Z", kMaxTimestampMicros},
      {"9999-12-31T23:59:59.999999+00:00", kMaxTimestampMicros},
  };
  for (const auto& c : cases) {
    auto r = ParseTimestamp(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().ToString();
    EXPECT_EQ(*r, c.micros) << c.text;
  }
}

struct ParseBad {
  const char* text;
  const char* reason;
};

TEST(TimeFormatTest, RejectsWithClearReasons) {
  const ParseBad cases[] = {
      {"", "input is too short"},
      {"abc", "input is too short"},
      {"2026-1-13", "input is too short"},
      {" 2026-01-13T05:00:00Z", "invalid character in year"},
      {"-2026-01-13", "invalid character in year"},
      {"20260113T050000Z", "invalid date separator, expected `-`"},
      {"2026-x1-13", "invalid character in month"},
      {"2026-01-1x", "invalid character in day"},
      {"2026-13-01T00:00:00Z", "month value is outside expected range of 1-12"},
      {"2026-00-01", "month value is outside expected range of 1-12"},
      {"2026-02-29", "day value is outside expected range"},
      {"2100-02-29T00:00:00Z", "day value is outside expected range"},
      {"2026-04-31T00:00:00Z", "day value is outside expected range"},
      {"2026-01-00", "day value is outside expected range"},
      {"0000-01-01T00:00:00Z", "year 0 is out of range"},
      {"2026-01-13X05:00:00", "invalid datetime separator, expected `T`, `t`, `_` or space"},
      {"2026-01-13T", "input is too short"},
      {"2026-01-13T05", "input is too short"},
      {"2026-01-13T5:00:00", "invalid character in hour"},
      {"2026-01-13T05-00-00", "invalid time separator, expected `:`"},
      {"2026-01-13T05:0x", "invalid character in minute"},
      {"2026-01-13T24:00:00Z", "hour value is outside expected range of 0-23"},
      {"2026-01-13T05:60:00Z", "minute value is outside expected range of 0-59"},
      {"2026-01-13T05:00:60Z", "second value is outside expected range of 0-59"},
      {"2026-01-13T05:00:0", "input is too short"},
      {"2026-01-13T05:00:00.Z", "second fraction value must have at least one digit"},
      {"2026-01-13T05:00:00+08", "invalid timezone offset, expected ±HH:MM"},
      {"2026-01-13T05:00:00+08:0", "invalid timezone offset, expected ±HH:MM"},
      {"2026-01-13T05:00:00+24:00", "timezone offset must be less than 24 hours"},
      {"2026-01-13T05:00:00+08:60", "timezone offset must be less than 24 hours"},
      {"2026-01-13T05:00:00Zx", "unexpected extra characters at the end of the input"},
      {"2026-01-13T05:00:00Z ", "unexpected extra characters at the end of the input"},
      {"2026-01-13T05:00:00 +08:00", "unexpected extra characters at the end of the input"},
      {"2026-01-13T05:00:00x", "unexpected extra characters at the end of the input"},
      {"0001-01-01T00:00:00+01:00",
       "datetime is outside the supported range 0001-01-01 to 9999-12-31 UTC"},
      {"9999-12-31T23:00:00-01:00",
       "datetime is outside the supported range 0001-01-01 to 9999-12-31 UTC"},
  };
  for (const auto& c : cases) {
    auto r = ParseTimestamp(c.text);
    ASSERT_FALSE(r.ok()) << c.text << " parsed as " << *r;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << c.text;
    EXPECT_EQ(r.error().message, c.reason) << c.text;
  }
}

TEST(TimeFormatTest, FormatThenParseRoundTrips) {
  for (int64_t us = kMinTimestampMicros; us < kMaxTimestampMicros - 7'777'777'777'777'777;
       us += 7'777'777'777'777'777) {
    for (int64_t delta : {int64_t{0}, int64_t{1}, int64_t{999'999}, int64_t{123'456'789}}) {
      const int64_t t = us + delta;
      auto z = ParseTimestamp(FormatTimestampZ(t));
      ASSERT_TRUE(z.ok()) << FormatTimestampZ(t);
      EXPECT_EQ(*z, t);
      auto iso = ParseTimestamp(FormatTimestampIso(t));
      ASSERT_TRUE(iso.ok()) << FormatTimestampIso(t);
      EXPECT_EQ(*iso, t);
    }
  }
}

}  // namespace
}  // namespace keyledger::events

namespace keyledger::events {
namespace {

TEST(TimeFormatTest, StrictRfc3339NeedsTheTSecondsAndAnOffset) {
  EXPECT_EQ(ParseRfc3339("2026-01-13T05:00:00Z").value(), 1'768'280'400'000'000);
  EXPECT_EQ(ParseRfc3339("2026-01-13T13:00:00.5+08:00").value(), 1'768'280'400'500'000);
  for (const char* bad :
       {"2026-01-13", "2026-01-13T05:00:00", "2026-01-13 05:00:00Z", "2026-01-13T05:00Z",
        "2026-01-13T05:00:00+0800", "2023-02-29T00:00:00Z", "2026-01-13T05:00:00Zjunk"}) {
    EXPECT_FALSE(ParseRfc3339(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace keyledger::events
