#include <gtest/gtest.h>

#include "events/json_writer.hpp"

namespace keyledger::json {
namespace {

std::string D(double v) {
  std::string s;
  AppendDouble(s, v);
  return s;
}

TEST(JsonWriterTest, DoublesPrintLikePythonRepr) {
  EXPECT_EQ(D(1.0), "1.0");
  EXPECT_EQ(D(0.0), "0.0");
  EXPECT_EQ(D(0.5), "0.5");
  EXPECT_EQ(D(0.1), "0.1");
  EXPECT_EQ(D(2.0 / 3.0), "0.6666666666666666");
  EXPECT_EQ(D(123.45), "123.45");
  EXPECT_EQ(D(1e-05), "1e-05");
  EXPECT_EQ(D(0.0001), "0.0001");
  EXPECT_EQ(D(1e15), "1000000000000000.0");
  EXPECT_EQ(D(1e16), "1e+16");
  EXPECT_EQ(D(1.5e300), "1.5e+300");
  EXPECT_EQ(D(-2.5), "-2.5");
  EXPECT_EQ(D(0.01), "0.01");
  EXPECT_EQ(D(100.0), "100.0");
}

TEST(JsonWriterTest, StringsEscapeLikeJsonDumpsWithoutEnsureAscii) {
  std::string s;
  AppendString(s, "a\"b\\c\n\t\x01 提供商 </script>");
  EXPECT_EQ(s, "\"a\\\"b\\\\c\\n\\t\\u0001 提供商 </script>\"");
}

TEST(JsonWriterTest, NestedDocument) {
  Writer w;
  w.BeginObject()
      .Member("id", "k1")
      .Key("formats")
      .BeginArray()
      .String("CLAUDE")
      .String("OPENAI")
      .EndArray()
      .Key("nested")
      .BeginObject()
      .EndObject()
      .Key("none")
      .Null()
      .Member("n", int64_t{-3})
      .Member("ok", true)
      .Key("raw")
      .Raw("[1,2]")
      .EndObject();
  EXPECT_EQ(
      w.str(),
      R"({"id":"k1","formats":["CLAUDE","OPENAI"],"nested":{},"none":null,"n":-3,"ok":true,"raw":[1,2]})");
}

}  // namespace
}  // namespace keyledger::json
