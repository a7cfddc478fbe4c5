#include "api/text.hpp"

#include <gtest/gtest.h>

namespace keyledger::api {
namespace {

TEST(TextTest, PercentDecode) {
  EXPECT_EQ(PercentDecode("/a%20b/%E4%B8%AD", false), "/a b/中");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  // Malformed escapes stay literal, like Python's unquote.
  EXPECT_EQ(PercentDecode("%zz%4", false), "%zz%4");
  EXPECT_EQ(PercentDecode("%", false), "%");
  // Invalid UTF-8 after decoding becomes U+FFFD.
  EXPECT_EQ(PercentDecode("%FFa", false),
            "\xEF\xBF\xBD"
            "a");
  EXPECT_EQ(PercentDecode("%C3", false), "\xEF\xBF\xBD");
  EXPECT_TRUE(IsValidUtf8(PercentDecode("%ED%A0%80", false)));  // a surrogate is rejected
}

TEST(TextTest, ParseQueryKeepsOrderRepeatsAndBlanks) {
  const std::vector<NameValue> q = ParseQuery("a=1&b=x%20y&a=2&c&&d=&e=f=g&k+1=v+1");
  const std::vector<NameValue> want = {{"a", "1"}, {"b", "x y"}, {"a", "2"},    {"c", ""},
                                       {"d", ""},  {"e", "f=g"}, {"k 1", "v 1"}};
  EXPECT_EQ(q, want);
  EXPECT_TRUE(ParseQuery("").empty());
}

TEST(TextTest, PercentEncodePath) {
  EXPECT_EQ(PercentEncodePath("/a b/中/x:y@z"), "/a%20b/%E4%B8%AD/x:y@z");
  EXPECT_EQ(PercentEncodePath("/a?b#c%"), "/a%3Fb%23c%25");
}

TEST(TextTest, RequestIdValidity) {
  EXPECT_TRUE(IsValidRequestId("abc-123_X.~"));
  EXPECT_TRUE(IsValidRequestId(std::string(128, 'a')));
  EXPECT_FALSE(IsValidRequestId(std::string(129, 'a')));
  EXPECT_FALSE(IsValidRequestId(""));
  EXPECT_FALSE(IsValidRequestId("a b"));
  EXPECT_FALSE(IsValidRequestId("a\"b"));
  EXPECT_FALSE(IsValidRequestId("中"));
}

TEST(TextTest, Rfc3339) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("2026-01-13T05:00:00Z"), 1768280400);
  EXPECT_EQ(ParseRfc3339("2026-01-13T13:00:00.123456+08:00"), 1768280400);
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00Z"), 1709164800);
  for (const char* bad :
       {"2026-01-13", "2026-01-13T05:00:00", "2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-01-13T05:00:00Zjunk", "2026-01-13T05:00:00.Z", "2026-01-13 05:00:00Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
  EXPECT_EQ(FormatRfc3339(1768280400), "2026-01-13T05:00:00Z");
}

TEST(TextTest, StripAndLower) {
  EXPECT_EQ(StripAsciiWhitespace(" \t tok \r\n"), "tok");
  EXPECT_EQ(StripAsciiWhitespace("   "), "");
  EXPECT_EQ(AsciiLower("BeArEr X"), "bearer x");
}

}  // namespace
}  // namespace keyledger::api
