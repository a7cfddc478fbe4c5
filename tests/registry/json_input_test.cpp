// The strict JSON reader, the Python-compatible error locator, the lax coercions and the error
// serialization. Expected values come from CPython 3.13's json module and pydantic 2.x
// (verified by running them); keyledger's deliberate differences are marked.

#include "src/json_input.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "events/json_writer.hpp"
#include "events/time_format.hpp"
#include "tests/registry/input_test_util.hpp"

namespace keyledger::registry {
namespace {

using testing::Detail;

JsonValue MustParse(std::string_view body) {
  JsonBodyParser parser;
  auto r = parser.Parse(body);
  EXPECT_TRUE(r.ok()) << body << " -> " << Detail(r);
  return r.ok() ? std::move(r).value() : JsonValue();
}

std::string JsonInvalid(size_t pos, std::string_view reason) {
  return R"({"detail":[{"type":"json_invalid","loc":["body",)" + std::to_string(pos) +
         R"(],"msg":"JSON decode error","input":{},"ctx":{"error":")" + std::string(reason) +
         R"("}}]})";
}

// ---------------------------------------------------------------------------------------------
// Locations and serialization

TEST(LocTest, IndicesAreNumbersInTheSerializedLoc) {
  size_t index = 0;
  EXPECT_TRUE(IsLocIndex(LocIndex(12), &index));
  EXPECT_EQ(index, 12u);
  EXPECT_FALSE(IsLocIndex("12"));
  EXPECT_FALSE(IsLocIndex(""));
  FieldError e = MakeFieldError("string_type", LocIdx(LocKey({"body"}, "items"), 3),
                                "Input should be a valid string", "1");
  std::string out;
  AppendFieldErrorJson(out, e);
  EXPECT_EQ(
      out,
      R"({"type":"string_type","loc":["body","items",3],"msg":"Input should be a valid string","input":1})");
  // A key that merely looks like a number stays a string.
  e.loc = {"body", "rate_multipliers", "12"};
  out.clear();
  AppendFieldErrorJson(out, e);
  EXPECT_NE(out.find(R"(["body","rate_multipliers","12"])"), std::string::npos) << out;
}

TEST(LocTest, InvalidRequestMessageJoinsLocsLikeAether) {
  std::vector<FieldError> errors = {
      MakeFieldError("string_too_short", {"body", "name"},
                     "String should have at least 1 character", R"("")"),
      MakeFieldError("missing", {"body", "proxy", "url"}, "Field required", "{}"),
      MakeFieldError("x", {"body", "items", LocIndex(0)}, "m", ""),
      MakeFieldError("model_type", {}, "Input should be a valid dictionary", "[]"),
  };
  EXPECT_EQ(InvalidRequestMessage(errors),
            "输入验证失败: name: String should have at least 1 character; proxy -> url: Field "
            "required; items -> 0: m; : Input should be a valid dictionary");
}

// ---------------------------------------------------------------------------------------------
// Parsing: accepted documents

TEST(JsonBodyParserTest, KeepsMemberOrderAndCopiesStrings) {
  JsonValue v = MustParse(R"({"z":1,"a":"x\u00e9\n\"","m":[true,false,null],"o":{"k":"v"}})");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.members().size(), 4u);
  EXPECT_EQ(v.members()[0].key, "z");
  EXPECT_EQ(v.members()[1].key, "a");
  EXPECT_EQ(v.Find("a")->string_value(), "xé\n\"");
  EXPECT_EQ(v.ToJson(), R"({"z":1,"a":"xé\n\"","m":[true,false,null],"o":{"k":"v"}})");
  EXPECT_EQ(v.Find("missing"), nullptr);
}

TEST(JsonBodyParserTest, NumbersAreWhatPythonsJsonLoadsMakes) {
  JsonValue v = MustParse(
      R"([0,-0,12,-12,1E2,1e2,1.0,100.50,-0.0,0.1,1e-5,1e16,123456789012345678901234567890,)"
      R"(18446744073709551616,-9223372036854775808,9223372036854775807,1e400,-1e400,1e-400,)"
      R"(-1e-400,2.5e-324])");
  ASSERT_TRUE(v.is_array());
  // Python: json.dumps(json.loads(doc), separators=(",", ":")); 1e400 parses to inf, which
  // keyledger echoes as its literal.
  EXPECT_EQ(v.ToJson(),
            "[0,0,12,-12,100.0,100.0,1.0,100.5,-0.0,0.1,1e-05,1e+16,"
            "123456789012345678901234567890,18446744073709551616,-9223372036854775808,"
            "9223372036854775807,1e400,-1e400,0.0,-0.0,5e-324]");
  const auto& items = v.items();
  EXPECT_TRUE(items[1].is_int());
  EXPECT_TRUE(items[1].int_fits());
  EXPECT_EQ(items[1].int_value(), 0);
  EXPECT_TRUE(items[4].is_float());
  EXPECT_FALSE(items[12].int_fits());
  EXPECT_FALSE(items[13].int_fits());
  EXPECT_FALSE(items[13].int_negative());
  EXPECT_TRUE(items[14].int_fits());
  EXPECT_EQ(items[14].int_value(), std::numeric_limits<int64_t>::min());
  EXPECT_TRUE(std::isinf(items[16].number_value()));
  EXPECT_LT(items[17].number_value(), 0);
  EXPECT_EQ(items[18].number_value(), 0.0);
  EXPECT_TRUE(std::signbit(items[19].number_value()));
}

TEST(JsonBodyParserTest, RootScalarsAndSurroundingWhitespace) {
  EXPECT_EQ(MustParse(" \t\r\n{} \n").ToJson(), "{}");
  EXPECT_EQ(MustParse("null").ToJson(), "null");
  EXPECT_EQ(MustParse(" null ").ToJson(), "null");
  EXPECT_EQ(MustParse("true\n").ToJson(), "true");
  EXPECT_EQ(MustParse("\"a\\\"b\" ").ToJson(), R"("a\"b")");
  EXPECT_EQ(MustParse("-12.5 ").ToJson(), "-12.5");
  EXPECT_EQ(MustParse("\"\\ud83d\\ude00\"").string_value(), "\xF0\x9F\x98\x80");
}

TEST(JsonBodyParserTest, SkipsAUtf8ByteOrderMarkLikeJsonLoadsOfBytes) {
  EXPECT_EQ(MustParse("\xEF\xBB\xBF{\"a\":1}").ToJson(), R"({"a":1})");
  JsonBodyParser parser;
  // Positions are then counted after the BOM, as Python decodes with utf-8-sig first.
  EXPECT_EQ(Detail(parser.Parse("\xEF\xBB\xBF{x")),
            JsonInvalid(1, "Expecting property name enclosed in double quotes"));
}

TEST(JsonBodyParserTest, IsReusableAcrossBodies) {
  JsonBodyParser parser;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(parser.Parse(R"({"a":[1,2,3]})").ok());
    ASSERT_FALSE(parser.Parse(R"({"a":[1,2,3})").ok());
    ASSERT_TRUE(parser.Parse("[]").ok());
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing: refused documents, with FastAPI's json_invalid entries

TEST(JsonBodyParserTest, EmptyBodyIsFastApisMissingBody) {
  JsonBodyParser parser;
  EXPECT_EQ(
      Detail(parser.Parse("")),
      R"({"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]})");
  EXPECT_EQ(ClassifyBodyError(parser.Parse("").error()), BodyFailure::kEmpty);
  EXPECT_EQ(Detail(parser.Parse("   ")), JsonInvalid(3, "Expecting value"));
  EXPECT_EQ(ClassifyBodyError(parser.Parse("  ").error()), BodyFailure::kInvalidJson);
}

struct SyntaxCase {
  const char* body;
  size_t pos;
  const char* reason;
};

// json.loads errors, verified against CPython (3.13 for the trailing-comma messages).
const SyntaxCase kPythonSyntaxCases[] = {
    {"{", 1, "Expecting property name enclosed in double quotes"},
    {"{\"a\"", 4, "Expecting ':' delimiter"},
    {"{\"a\":", 5, "Expecting value"},
    {"{\"a\":1", 6, "Expecting ',' delimiter"},
    {"{\"a\":1 \"b\":2}", 7, "Expecting ',' delimiter"},
    {"{\"a\" 1}", 5, "Expecting ':' delimiter"},
    {"{a:1}", 1, "Expecting property name enclosed in double quotes"},
    {"{'a':1}", 1, "Expecting property name enclosed in double quotes"},
    {"[1 2]", 3, "Expecting ',' delimiter"},
    {"[", 1, "Expecting value"},
    {"[1,", 3, "Expecting value"},
    {"{\"a\":1,}", 6, "Illegal trailing comma before end of object"},
    {"{\"a\":1 , }", 7, "Illegal trailing comma before end of object"},
    {"[1,]", 2, "Illegal trailing comma before end of array"},
    {"[1,\n]", 2, "Illegal trailing comma before end of array"},
    {"{\"a\":1}x", 7, "Extra data"},
    {"{\"a\":1} {}", 8, "Extra data"},
    {"[1,2]]", 5, "Extra data"},
    {"{\"a\":\"b\"}\n\n  x", 13, "Extra data"},
    {"1 2", 2, "Extra data"},
    {"\"a\" \"b\"", 4, "Extra data"},
    {"null x", 5, "Extra data"},
    {"\"abc", 0, "Unterminated string starting at"},
    {"\"a\\qb\"", 2, "Invalid \\\\escape"},
    {"\"\\u12\"", 2, "Invalid \\\\uXXXX escape"},
    {"\"\\u12G4\"", 2, "Invalid \\\\uXXXX escape"},
    {"\"a\tb\"", 2, "Invalid control character at"},
    {"\"\x01\"", 1, "Invalid control character at"},
    {"nul", 0, "Expecting value"},
    {"tru", 0, "Expecting value"},
    {"True", 0, "Expecting value"},
    {"01", 1, "Extra data"},
    {"-", 0, "Expecting value"},
    {"-a", 0, "Expecting value"},
    {"1.", 1, "Extra data"},
    {"1.e5", 1, "Extra data"},
    {"1e", 1, "Extra data"},
    {"1e+", 1, "Extra data"},
    {".5", 0, "Expecting value"},
    {"+1", 0, "Expecting value"},
    {"{\"a\":01}", 6, "Expecting ',' delimiter"},
    {"{\"a\":12abc}", 7, "Expecting ',' delimiter"},
    {"{\"a\":truex}", 9, "Expecting ',' delimiter"},
    // Positions count code points, not bytes.
    {"{\"\xC3\xA9\":\"\xC3\xBC\",x}", 9, "Expecting property name enclosed in double quotes"},
    {"[\"\xE4\xB8\xAD\xE6\x96\x87\", \xC3\xA9]", 7, "Expecting value"},
    {"{\"a\":[1,{\"b\":nul}]}", 13, "Expecting value"},
};

TEST(JsonBodyParserTest, SyntaxErrorsMatchPythonsJsonModule) {
  JsonBodyParser parser;
  for (const auto& c : kPythonSyntaxCases) {
    auto diagnosis = DiagnoseJson(c.body);
    ASSERT_TRUE(diagnosis.has_value()) << c.body;
    EXPECT_EQ(diagnosis->position, c.pos) << c.body;
    std::string reason = c.reason;
    // The table holds the JSON-escaped reason.
    for (size_t at; (at = reason.find("\\\\")) != std::string::npos;) reason.erase(at, 1);
    EXPECT_EQ(diagnosis->reason, reason) << c.body;
    EXPECT_EQ(Detail(parser.Parse(c.body)), JsonInvalid(c.pos, c.reason)) << c.body;
  }
}

TEST(JsonBodyParserTest, RefusesWhatPythonAcceptsButCannotBeStored) {
  JsonBodyParser parser;
  // NaN and Infinity: Python accepts them; keyledger answers as for any unexpected token.
  EXPECT_EQ(Detail(parser.Parse(R"({"a":NaN})")), JsonInvalid(5, "Expecting value"));
  EXPECT_EQ(Detail(parser.Parse("[-Infinity]")), JsonInvalid(1, "Expecting value"));
  EXPECT_EQ(Detail(parser.Parse("Infinity")), JsonInvalid(0, "Expecting value"));
  // Unpaired UTF-16 surrogates cannot become UTF-8.
  const std::string unpaired = "Unpaired UTF-16 surrogate in \\\\uXXXX escape";
  EXPECT_EQ(Detail(parser.Parse(R"({"a":"x\ud800y"})")), JsonInvalid(7, unpaired));
  EXPECT_EQ(Detail(parser.Parse(R"(["\udc00"])")), JsonInvalid(2, unpaired));
  EXPECT_EQ(Detail(parser.Parse(R"(["\ud800\u0041"])")), JsonInvalid(2, unpaired));
  EXPECT_EQ(Detail(parser.Parse(R"(["\ud800\ud800"])")), JsonInvalid(2, unpaired));
  EXPECT_TRUE(parser.Parse(R"(["\ud800\udc00"])").ok());
}

TEST(JsonBodyParserTest, InvalidUtf8IsAJsonErrorAtItsPosition) {
  JsonBodyParser parser;
  const std::string reason = "Invalid UTF-8 byte sequence";
  EXPECT_EQ(Detail(parser.Parse("{\"a\":\"\xC3\xA9\xFF\"}")), JsonInvalid(7, reason));
  EXPECT_EQ(Detail(parser.Parse("{\"a\":\"\xC0\xAF\"}")), JsonInvalid(6, reason));    // overlong
  EXPECT_EQ(Detail(parser.Parse("[\"\xED\xA0\x80\"]")), JsonInvalid(2, reason));      // surrogate
  EXPECT_EQ(Detail(parser.Parse("[\"\xF4\x90\x80\x80\"]")), JsonInvalid(2, reason));  // > U+10FFFF
  EXPECT_EQ(Detail(parser.Parse("[\"\xE4\xB8\"]")), JsonInvalid(2, reason));          // truncated
  EXPECT_EQ(Detail(parser.Parse("{\"\x80\":1}")), JsonInvalid(2, reason));            // in a key
  EXPECT_EQ(FindInvalidUtf8("ok \xE4\xB8\xAD"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8("ab\xFF"), 2u);
}

std::string Nested(size_t depth, std::string_view open, std::string_view inner,
                   std::string_view close) {
  std::string s;
  for (size_t i = 0; i < depth; ++i) s += open;
  s += inner;
  for (size_t i = 0; i < depth; ++i) s += close;
  return s;
}

TEST(JsonBodyParserTest, NestingIsBoundedWithoutDeepRecursion) {
  JsonBodyParser parser;
  EXPECT_TRUE(parser.Parse(Nested(kMaxJsonDepth, "[", "1", "]")).ok());
  EXPECT_TRUE(parser.Parse(Nested(kMaxJsonDepth, "{\"a\":", "1", "}")).ok());
  const std::string reason = "Nesting depth exceeds the limit of 64";
  EXPECT_EQ(Detail(parser.Parse(Nested(kMaxJsonDepth + 1, "[", "", "]"))),
            JsonInvalid(kMaxJsonDepth, reason));
  // 10,000 levels: refused at the 65th, with no recursion beyond the limit (the test would
  // overflow the stack otherwise, under ASan in particular).
  EXPECT_EQ(Detail(parser.Parse(Nested(10000, "[", "", "]"))), JsonInvalid(64, reason));
  EXPECT_EQ(Detail(parser.Parse(Nested(10000, "{\"a\":", "1", "}"))), JsonInvalid(320, reason));
  EXPECT_EQ(Detail(parser.Parse(std::string(100000, '['))), JsonInvalid(64, reason));
  // An earlier syntax error wins, as the scan is in document order.
  EXPECT_EQ(Detail(parser.Parse("[1 " + Nested(100, "[", "", "]"))),
            JsonInvalid(3, "Expecting ',' delimiter"));
}

TEST(JsonBodyParserTest, DuplicateKeysAreValueErrorsAtEveryLevel) {
  JsonBodyParser parser;
  auto r = parser.Parse(R"({"a":1,"b":{"x":1,"x":2,"x":3},"a":2,"c":[{"k":1,"k":1}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ClassifyBodyError(r.error()), BodyFailure::kDuplicateKeys);
  EXPECT_EQ(
      Detail(r),
      R"({"detail":[)"
      R"({"type":"value_error","loc":["body","b","x"],"msg":"Value error, JSON 对象中存在重复的键","ctx":{"error":{}}},)"
      R"({"type":"value_error","loc":["body","c",0,"k"],"msg":"Value error, JSON 对象中存在重复的键","ctx":{"error":{}}},)"
      R"({"type":"value_error","loc":["body","a"],"msg":"Value error, JSON 对象中存在重复的键","ctx":{"error":{}}}]})");
  // The error never quotes the values (one of them may be a secret).
  auto secret = parser.Parse(R"({"api_key":"sk-first-secret","api_key":"sk-second-secret"})");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(Detail(secret).find("secret"), std::string::npos) << Detail(secret);
}

TEST(JsonBodyParserTest, BodiesOverTheLimitArePayloadTooLarge) {
  JsonBodyParser parser(16);
  EXPECT_TRUE(parser.Parse(R"({"a":"0123456"})").ok());
  auto r = parser.Parse(R"({"a":"012345678"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kPayloadTooLarge);
  EXPECT_EQ(ClassifyBodyError(r.error()), BodyFailure::kTooLarge);
}

// simdjson does the parsing and the Python-compatible locator explains refusals; the two must
// agree on every document. Random edits of valid documents exercise the boundaries.
TEST(JsonBodyParserTest, OneReusedParserPerThreadAcrossLargeSmallAndBadBodies) {
  JsonBodyParser& parser = ThreadBodyParser();
  EXPECT_EQ(&parser, &ThreadBodyParser());
  JsonBodyParser* other = nullptr;
  std::thread([&other] { other = &ThreadBodyParser(); }).join();
  EXPECT_NE(other, &parser);

  // A large body (its buffers are released at the next small one), a small one, a bad one and a
  // good one again: each answer is the same as from a fresh parser.
  std::string large = R"({"note":")" + std::string(200 * 1024, 'x') + R"(","n":[1,2,3]})";
  auto big = parser.Parse(large);
  ASSERT_TRUE(big.ok()) << Detail(big);
  EXPECT_EQ(big->Find("note")->string_value().size(), 200u * 1024u);
  for (int round = 0; round < 2; ++round) {
    auto small = parser.Parse(R"({"internal_priority":7})");
    ASSERT_TRUE(small.ok()) << Detail(small);
    EXPECT_EQ(small->ToJson(), R"({"internal_priority":7})");
    JsonBodyParser fresh;
    EXPECT_EQ(Detail(parser.Parse(R"({"a":tru})")), Detail(fresh.Parse(R"({"a":tru})")));
    EXPECT_EQ(parser.Parse(large)->ToJson(), big->ToJson());
  }
}

TEST(JsonBodyParserTest, SimdjsonAndTheLocatorAgreeOnMutatedDocuments) {
  const std::vector<std::string> seeds = {
      R"({"a":1})",
      R"({"api_formats":["CLAUDE","openai"],"api_key":"sk-abc\u00e9\n","name":"n)"
      "\xC3\xA9"
      R"(","x":[1,2.5,-0,1e3,true,false,null,{"b":{}}]})",
      R"([1, 2 , {"k" : "v"} ])",
      R"("str")",
      "123",
      R"(  {"a" : [ ] , "b":{ } }  )",
      R"({"s":"\ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t"})",
      "-12.5e-3",
      "true",
      "null",
      R"([[[[[[1]]]]]])",
      R"({"a":{"b":{"c":[1e400,-1e-400,0.1,100.0,1E2,123456789012345678901234567890,-0.0]}}})",
  };
  const std::string alphabet =
      " \t\n\r{}[],:\"\\/0123456789-+.eEtrufalsnNIy\x01\x1fu\xC3\xA9\xE4\xB8\xAD";
  std::mt19937 rng(20260113);
  JsonBodyParser parser;
  size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string doc = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits; ++k) {
      size_t pos = doc.empty() ? 0 : rng() % (doc.size() + 1);
      char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          if (pos < doc.size()) doc.erase(pos, 1);
          break;
        case 1:
          doc.insert(pos, 1, c);
          break;
        default:
          if (pos < doc.size()) doc[pos] = c;
      }
    }
    auto diagnosis = DiagnoseJson(doc);
    auto parsed = parser.Parse(doc);
    if (doc.empty()) continue;
    if (parsed.ok()) {
      ++accepted;
      ASSERT_FALSE(diagnosis.has_value()) << "simdjson accepted, locator refused: " << doc;
    } else if (ClassifyBodyError(parsed.error()) == BodyFailure::kInvalidJson) {
      ASSERT_TRUE(diagnosis.has_value()) << "simdjson refused, locator accepted: " << doc;
      EXPECT_EQ(Detail(parsed), JsonInvalid(diagnosis->position, [&] {
                  std::string escaped;
                  for (char ch : diagnosis->reason) {
                    if (ch == '\\') escaped += '\\';
                    escaped += ch;
                  }
                  return escaped;
                }()));
    } else {
      ASSERT_EQ(ClassifyBodyError(parsed.error()), BodyFailure::kDuplicateKeys) << doc;
      ASSERT_FALSE(diagnosis.has_value()) << doc;
    }
  }
  EXPECT_GT(accepted, 1000u);  // the edits leave plenty of valid documents
}

// ---------------------------------------------------------------------------------------------
// Echoing input

TEST(EchoTest, RedactsSecretsAndUrlCredentials) {
  JsonValue body = MustParse(
      R"({"api_key":"sk-live-123","name":"n","proxy":{"url":"http://u:p@h:1/x","password":"pw"},)"
      R"("list":[{"password":{"nested":1}}],"n":1.50})");
  EXPECT_EQ(EchoInput(body),
            R"({"api_key":"[redacted]","name":"n","proxy":{"url":"http://[redacted]@h:1/x",)"
            R"("password":"[redacted]"},"list":[{"password":"[redacted]"}],"n":1.5})");
  // Header and config credentials, whatever their case.
  EXPECT_EQ(EchoInput(MustParse(
                R"({"Authorization":"Bearer t","X-Api-Key":"k","cfg":{"client_secret":"s",)"
                R"("refresh_token":"r","timeout":5},"Cookie":"c","model":"gpt"})")),
            R"({"Authorization":"[redacted]","X-Api-Key":"[redacted]","cfg":{"client_secret":)"
            R"("[redacted]","refresh_token":"[redacted]","timeout":5},"Cookie":"[redacted]",)"
            R"("model":"gpt"})");
  EXPECT_EQ(ScrubUrlCredentials("socks5://user@host"), "socks5://[redacted]@host");
  EXPECT_EQ(ScrubUrlCredentials("https://host/p@th"), "https://host/p@th");
  EXPECT_EQ(ScrubUrlCredentials("a@b"), "a@b");
  EXPECT_EQ(ScrubUrlCredentials("not a url://x@y"), "not a url://x@y");
  EXPECT_EQ(ScrubUrlCredentials("http://a:b@c@d/"), "http://[redacted]@d/");
}

// ---------------------------------------------------------------------------------------------
// Text helpers

TEST(TextTest, PythonAndRustWhitespace) {
  EXPECT_EQ(PyStrip(" \t\n a b \r\n"), "a b");
  EXPECT_EQ(PyStrip("\xE3\x80\x80名\xE3\x80\x80"), "名");  // U+3000 ideographic space
  EXPECT_EQ(PyStrip("\xC2\xA0x\xC2\x85"), "x");            // NBSP, NEL
  EXPECT_EQ(PyStrip("\x1Cx\x1F"), "x");                    // Python counts U+001C..U+001F as space
  EXPECT_EQ(RustTrim("\x1Cx"), "\x1Cx");                   // Rust does not
  EXPECT_EQ(PyStrip("   "), "");
  EXPECT_EQ(CharCount("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80"), 4u);
  EXPECT_TRUE(HasControlChars("a\tb", false));
  EXPECT_FALSE(HasControlChars("a\tb\nc\r", true));
  EXPECT_TRUE(HasControlChars("a\x7F", true));
  EXPECT_TRUE(HasControlChars("a\xC2\x85", true));  // C1
  EXPECT_FALSE(HasControlChars("\xC2\xA0\xE4\xB8\xAD", false));
  EXPECT_EQ(AsciiUpper("claude_cli\xC3\xA9"), "CLAUDE_CLI\xC3\xA9");
}

// ---------------------------------------------------------------------------------------------
// Lax coercions (pydantic v2)

struct IntCase {
  const char* json;
  const char* expect;  // the value, or the error type
};

TEST(CoercionTest, IntsFollowPydanticLaxMode) {
  const IntCase cases[] = {
      {"12", "12"},
      {"-0", "0"},
      {"true", "1"},
      {"false", "0"},
      {"12.0", "12"},
      {"-3e2", "-300"},
      {"12.5", "int_from_float"},
      {"1e400", "finite_number"},
      {"1e19", "int_parsing_size"},
      {"\"12\"", "12"},
      {"\" 12 \"", "12"},
      {"\"\\t12\\n\"", "12"},
      {"\"\\u3000 12\"", "12"},
      {"\"+12\"", "12"},
      {"\"-0\"", "0"},
      {"\"1_000\"", "1000"},
      {"\"1_0.0\"", "10"},
      {"\"12.0\"", "12"},
      {"\"1.00\"", "1"},
      {"\"00\"", "0"},
      {"\"0_1\"", "1"},
      {"\"-0_1\"", "-1"},
      {"\"0-1\"", "-1"},  // sic: pydantic-core's clean_int_str
      {"\"12.5\"", "int_parsing"},
      {"\"1e3\"", "int_parsing"},
      {"\"0x10\"", "int_parsing"},
      {"\"\"", "int_parsing"},
      {"\"  \"", "int_parsing"},
      {"\"1__0\"", "int_parsing"},
      {"\"_1\"", "int_parsing"},
      {"\"1_\"", "int_parsing"},
      {"\"+-1\"", "int_parsing"},
      {"\"-+1\"", "int_parsing"},
      {"\"--1\"", "int_parsing"},
      {"\"1.\"", "int_parsing"},
      {"\".0\"", "int_parsing"},
      {"\"1.00_0\"", "int_parsing"},
      {"\"\\u0661\\u0662\"", "int_parsing"},  // Arabic-Indic digits
      {"\"\\u001c12\"", "int_parsing"},
      {"\"12\\u0000\"", "int_parsing"},
      {"null", "int_type"},
      {"[]", "int_type"},
      {"{}", "int_type"},
  };
  for (const auto& c : cases) {
    JsonValue v = MustParse(c.json);
    ErrorList errors;
    auto r = ReadInt(v, {"body", "x"}, errors, {});
    if (r) {
      EXPECT_EQ(std::to_string(*r), c.expect) << c.json;
      EXPECT_TRUE(errors.empty());
    } else {
      ASSERT_EQ(errors.size(), 1u) << c.json;
      EXPECT_EQ(errors.errors()[0].type, c.expect) << c.json;
      EXPECT_EQ(errors.errors()[0].input_json, v.ToJson()) << c.json;
    }
  }
  // 4300 digits is pydantic's limit for strings that are plain integers.
  ErrorList errors;
  EXPECT_FALSE(ReadInt(JsonValue::String(std::string(4301, '1')), {"x"}, errors, {}));
  EXPECT_EQ(errors.errors()[0].type, "int_parsing_size");
  EXPECT_EQ(errors.errors()[0].msg,
            "Unable to parse input string as an integer, exceeded maximum size");
  EXPECT_EQ(ReadInt(JsonValue::String(std::string(5000, '0') + "7"), {"x"}, errors, {}), 7);
}

TEST(CoercionTest, IntBoundsAndHugeIntegers) {
  ErrorList errors;
  const IntRange range{1, 10000};
  EXPECT_FALSE(ReadInt(MustParse("0"), {"body", "rpm_limit"}, errors, range));
  EXPECT_FALSE(ReadInt(MustParse("\"10001\""), {"body", "rpm_limit"}, errors, range));
  EXPECT_FALSE(ReadInt(MustParse("18446744073709551616"), {"body", "rpm_limit"}, errors, range));
  EXPECT_FALSE(ReadInt(MustParse("-18446744073709551616"), {"body", "rpm_limit"}, errors, range));
  EXPECT_EQ(
      ValidationErrorBody(errors.errors()),
      R"({"detail":[)"
      R"({"type":"greater_than_equal","loc":["body","rpm_limit"],"msg":"Input should be greater than or equal to 1","input":0,"ctx":{"ge":1}},)"
      R"({"type":"less_than_equal","loc":["body","rpm_limit"],"msg":"Input should be less than or equal to 10000","input":"10001","ctx":{"le":10000}},)"
      R"({"type":"less_than_equal","loc":["body","rpm_limit"],"msg":"Input should be less than or equal to 10000","input":18446744073709551616,"ctx":{"le":10000}},)"
      R"({"type":"greater_than_equal","loc":["body","rpm_limit"],"msg":"Input should be greater than or equal to 1","input":-18446744073709551616,"ctx":{"ge":1}}]})");
  // Without a bound on that side a huge integer saturates (skip=10**30 means "past the end").
  ErrorList none;
  EXPECT_EQ(ReadInt(MustParse("1000000000000000000000000000000"), {"x"}, none, {0, std::nullopt}),
            std::numeric_limits<int64_t>::max());
  EXPECT_TRUE(none.empty());
}

TEST(CoercionTest, FloatsFollowPydanticButMustBeFinite) {
  struct Case {
    const char* json;
    const char* expect;
  };
  const Case cases[] = {
      {"1.5", "1.5"},
      {"2", "2.0"},
      {"true", "1.0"},
      {"\"1.5\"", "1.5"},
      {"\" 1.5 \"", "1.5"},
      {"\"1_0.5\"", "10.5"},
      {"\".5\"", "0.5"},
      {"\"5.\"", "5.0"},
      {"\"1e3\"", "1000.0"},
      {"\"+2\"", "2.0"},
      {"-0.0", "-0.0"},
      // keyledger refuses non-finite numbers (pydantic's default would accept them).
      {"1e400", "finite_number"},
      {"\"inf\"", "finite_number"},
      {"\"-Infinity\"", "finite_number"},
      {"\"nan\"", "finite_number"},
      {"\"abc\"", "float_parsing"},
      {"\"\"", "float_parsing"},
      {"\"0x10\"", "float_parsing"},
      {"\"1_0\"", "10.0"},
      {"null", "float_type"},
      {"[]", "float_type"},
  };
  for (const auto& c : cases) {
    ErrorList errors;
    auto r = ReadFloat(MustParse(c.json), {"x"}, errors, {});
    if (r) {
      std::string s;
      json::AppendDouble(s, *r);
      EXPECT_EQ(s, c.expect) << c.json;
    } else {
      ASSERT_EQ(errors.size(), 1u);
      EXPECT_EQ(errors.errors()[0].type, c.expect) << c.json;
    }
  }
  ErrorList errors;
  const FloatRange ge001{FloatBound{0.01, false}, std::nullopt};
  const FloatRange ge0{FloatBound{0, true}, std::nullopt};
  EXPECT_FALSE(ReadFloat(MustParse("0"), {"body", "rate_multiplier"}, errors, ge001));
  EXPECT_FALSE(ReadFloat(MustParse("-0.5"), {"body", "monthly_quota_usd"}, errors, ge0));
  EXPECT_EQ(
      ValidationErrorBody(errors.errors()),
      R"({"detail":[)"
      R"({"type":"greater_than_equal","loc":["body","rate_multiplier"],"msg":"Input should be greater than or equal to 0.01","input":0,"ctx":{"ge":0.01}},)"
      R"({"type":"greater_than_equal","loc":["body","monthly_quota_usd"],"msg":"Input should be greater than or equal to 0","input":-0.5,"ctx":{"ge":0}}]})");
}

TEST(CoercionTest, BoolsFollowPydanticLaxMode) {
  struct Case {
    const char* json;
    const char* expect;
  };
  const Case cases[] = {
      {"true", "true"},
      {"false", "false"},
      {"1", "true"},
      {"0", "false"},
      {"1.0", "true"},
      {"0.0", "false"},
      {"\"yes\"", "true"},
      {"\"YES\"", "true"},
      {"\"On\"", "true"},
      {"\"t\"", "true"},
      {"\"y\"", "true"},
      {"\"1\"", "true"},
      {"\"TRUE\"", "true"},
      {"\"no\"", "false"},
      {"\"off\"", "false"},
      {"\"f\"", "false"},
      {"\"n\"", "false"},
      {"\"0\"", "false"},
      {"\"False\"", "false"},
      {"\"maybe\"", "bool_parsing"},
      {"\" true \"", "bool_parsing"},
      {"\"\"", "bool_parsing"},
      {"\"2\"", "bool_parsing"},
      {"2", "bool_parsing"},
      {"-1", "bool_parsing"},
      {"2.0", "bool_parsing"},
      {"0.5", "bool_type"},
      {"1000000000000000000000000000000", "bool_type"},
      {"null", "bool_type"},
      {"[]", "bool_type"},
      {"{}", "bool_type"},
  };
  for (const auto& c : cases) {
    ErrorList errors;
    auto r = ReadBool(MustParse(c.json), {"x"}, errors);
    if (r) {
      EXPECT_EQ(*r ? "true" : "false", std::string(c.expect)) << c.json;
    } else {
      ASSERT_EQ(errors.size(), 1u);
      EXPECT_EQ(errors.errors()[0].type, c.expect) << c.json;
    }
  }
  ErrorList errors;
  ReadBool(MustParse("\"maybe\""), {"body", "is_active"}, errors);
  EXPECT_EQ(
      ValidationErrorBody(errors.errors()),
      R"({"detail":[{"type":"bool_parsing","loc":["body","is_active"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]})");
}

TEST(CoercionTest, StringsAndLengthsCountCodePoints) {
  ErrorList errors;
  EXPECT_EQ(ReadString(MustParse("\"\xE4\xB8\xAD\xE6\x96\x87\""), {"x"}, errors, {1, 2}),
            "\xE4\xB8\xAD\xE6\x96\x87");
  EXPECT_FALSE(ReadString(MustParse("\"abc\""), {"body", "a"}, errors, {std::nullopt, 2}));
  EXPECT_FALSE(ReadString(MustParse("\"\""), {"body", "b"}, errors, {1, std::nullopt}));
  EXPECT_FALSE(ReadString(MustParse("\"ab\""), {"body", "c"}, errors, {3, std::nullopt}));
  EXPECT_FALSE(ReadString(MustParse("\"ab\""), {"body", "d"}, errors, {std::nullopt, 1}));
  EXPECT_FALSE(ReadString(MustParse("5"), {"body", "e"}, errors));
  EXPECT_FALSE(ReadString(MustParse("5"), {"body", "api_key"}, errors, {}, Echo::kOmit));
  EXPECT_EQ(
      ValidationErrorBody(errors.errors()),
      R"({"detail":[)"
      R"({"type":"string_too_long","loc":["body","a"],"msg":"String should have at most 2 characters","input":"abc","ctx":{"max_length":2}},)"
      R"({"type":"string_too_short","loc":["body","b"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}},)"
      R"({"type":"string_too_short","loc":["body","c"],"msg":"String should have at least 3 characters","input":"ab","ctx":{"min_length":3}},)"
      R"({"type":"string_too_long","loc":["body","d"],"msg":"String should have at most 1 character","input":"ab","ctx":{"max_length":1}},)"
      R"({"type":"string_type","loc":["body","e"],"msg":"Input should be a valid string","input":5},)"
      R"({"type":"string_type","loc":["body","api_key"],"msg":"Input should be a valid string"}]})");
}

TEST(CoercionTest, ListsAndDicts) {
  ErrorList errors;
  JsonValue empty = MustParse("[]");
  ASSERT_NE(ReadList(empty, {"body", "l"}, errors), nullptr);
  EXPECT_FALSE(CheckListLength(empty, 0, {"body", "l"}, errors, {1, std::nullopt}));
  JsonValue three = MustParse("[1,2,3]");
  EXPECT_FALSE(CheckListLength(three, 3, {"body", "m"}, errors, {std::nullopt, 2}));
  EXPECT_EQ(ReadList(MustParse("\"abc\""), {"body", "n"}, errors), nullptr);
  EXPECT_EQ(ReadDict(MustParse("[]"), {"body", "o"}, errors), nullptr);
  EXPECT_EQ(
      ValidationErrorBody(errors.errors()),
      R"({"detail":[)"
      R"({"type":"too_short","loc":["body","l"],"msg":"List should have at least 1 item after validation, not 0","input":[],"ctx":{"field_type":"List","min_length":1,"actual_length":0}},)"
      R"({"type":"too_long","loc":["body","m"],"msg":"List should have at most 2 items after validation, not 3","input":[1,2,3],"ctx":{"field_type":"List","max_length":2,"actual_length":3}},)"
      R"({"type":"list_type","loc":["body","n"],"msg":"Input should be a valid list","input":"abc"},)"
      R"({"type":"dict_type","loc":["body","o"],"msg":"Input should be a valid dictionary","input":[]}]})");
}

TEST(CoercionTest, TimestampsLikePydanticDatetimes) {
  struct Case {
    const char* json;
    const char* expect;  // RFC 3339 (Z) or "type: reason"
  };
  const Case cases[] = {
      {"\"2026-01-13T05:00:00Z\"", "2026-01-13T05:00:00Z"},
      {"\"2026-01-13T13:00:00+08:00\"", "2026-01-13T05:00:00Z"},
      {"\"2026-01-13 05:00:00\"", "2026-01-13T05:00:00Z"},
      {"\"2026-01-13\"", "2026-01-13T00:00:00Z"},
      {"\"2026-01-13T05:00:00.1234567Z\"", "2026-01-13T05:00:00.123456Z"},
      {"1700000000", "2023-11-14T22:13:20Z"},
      {"1700000000000", "2023-11-14T22:13:20Z"},
      {"1.5", "1970-01-01T00:00:01.500000Z"},
      {"\"1700000000\"", "2023-11-14T22:13:20Z"},
      {"\"+1700000000\"", "2023-11-14T22:13:20Z"},
      {"\"1700000000.5\"", "2023-11-14T22:13:20.500000Z"},
      {"\"abc\"", "datetime_from_date_parsing: input is too short"},
      {"\"\"", "datetime_from_date_parsing: input is too short"},
      {"\"2026-13-01T00:00:00Z\"",
       "datetime_from_date_parsing: month value is outside expected range of 1-12"},
      {"\"2026-02-29\"", "datetime_from_date_parsing: day value is outside expected range"},
      {"\"2026-01-13T24:00:00Z\"",
       "datetime_from_date_parsing: unexpected extra characters at the end of the input"},
      {"\" 2026-01-13T05:00:00Z\"", "datetime_from_date_parsing: invalid character in year"},
      {"\"20260113T050000Z\"", "datetime_from_date_parsing: invalid date separator, expected `-`"},
      {"\"0000-01-01T00:00:00Z\"", "datetime_parsing: year 0 is out of range"},
      {"253402300800000",
       "datetime_parsing: dates after 9999 are not supported as unix timestamps"},
      {"true", "datetime_type: "},
      {"null", "datetime_type: "},
  };
  for (const auto& c : cases) {
    ErrorList errors;
    JsonValue v = MustParse(c.json);
    auto r = ReadTimestamp(v, {"body", "at"}, errors);
    if (r) {
      EXPECT_EQ(events::FormatTimestampZ(*r), c.expect) << c.json;
    } else {
      ASSERT_EQ(errors.size(), 1u);
      const FieldError& e = errors.errors()[0];
      std::string reason;
      if (size_t comma = e.msg.find(", "); comma != std::string::npos)
        reason = e.msg.substr(comma + 2);
      EXPECT_EQ(e.type + ": " + reason, c.expect) << c.json;
    }
  }
  ErrorList errors;
  ReadTimestamp(MustParse("\"2026-13-01\""), {"body", "quota_expires_at"}, errors);
  EXPECT_EQ(
      ValidationErrorBody(errors.errors()),
      R"({"detail":[{"type":"datetime_from_date_parsing","loc":["body","quota_expires_at"],"msg":"Input should be a valid datetime or date, month value is outside expected range of 1-12","input":"2026-13-01","ctx":{"error":"month value is outside expected range of 1-12"}}]})");
}

TEST(CoercionTest, StorableJsonRefusesNumbersOutsideInt64AndDouble) {
  ErrorList errors;
  EXPECT_TRUE(CheckStorableJson(MustParse(R"({"a":[1,2.5,-9223372036854775808]})"),
                                {"body", "config"}, errors));
  EXPECT_FALSE(CheckStorableJson(MustParse(R"({"a":[1,{"b":18446744073709551616}]})"),
                                 {"body", "config"}, errors));
  EXPECT_FALSE(CheckStorableJson(MustParse(R"({"x":1e400})"), {"body", "config"}, errors));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors.errors()[0].loc, (Loc{"body", "config", "a", LocIndex(1), "b"}));
  EXPECT_EQ(errors.errors()[1].input_json, "1e400");
}

TEST(ModelReaderTest, BodyMustBeAnObject) {
  ErrorList errors;
  EXPECT_FALSE(CheckBodyObject(MustParse("null"), {"body"}, errors));
  EXPECT_FALSE(CheckBodyObject(MustParse("[1]"), {"body"}, errors));
  EXPECT_EQ(
      ValidationErrorBody(errors.errors()),
      R"({"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null},)"
      R"({"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[1]}]})");
  JsonValue body = MustParse(R"({"a":1,"api_key":"sk-x"})");
  ErrorList more;
  ModelReader m(body, {"body"}, more);
  EXPECT_EQ(m.Required("b"), nullptr);
  EXPECT_NE(m.Required("a"), nullptr);
  EXPECT_EQ(
      ValidationErrorBody(more.errors()),
      R"({"detail":[{"type":"missing","loc":["body","b"],"msg":"Field required","input":{"a":1,"api_key":"[redacted]"}}]})");
}

}  // namespace
}  // namespace keyledger::registry
