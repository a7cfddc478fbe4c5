// Key create/update bodies: every row of aether-spec.md §6.4 (adapted where DESIGN.md differs),
// the allowed_models rules of §6.3, lax mode (§1.4), explicit nulls (§8.3) and secrets.
// Expected 422 bodies were checked against FastAPI/pydantic running Aether's models.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/commands.hpp"
#include "tests/registry/input_test_util.hpp"

namespace keyledger::registry {
namespace {

using testing::Detail;

// A valid create body with `extra` members appended.
std::string Create(std::string_view extra = "") {
  std::string body =
      R"({"api_formats":["CLAUDE"],"api_key":"sk-ant-api03-abcdefghijklmnop","name":"main")";
  if (!extra.empty()) body += "," + std::string(extra);
  return body + "}";
}

KeyCreate MustCreate(std::string_view body) {
  auto r = ParseKeyCreate(body);
  EXPECT_TRUE(r.ok()) << body << " -> " << Detail(r);
  return r.ok() ? std::move(r).value() : KeyCreate{};
}

KeyUpdate MustUpdate(std::string_view body) {
  auto r = ParseKeyUpdate(body);
  EXPECT_TRUE(r.ok()) << body << " -> " << Detail(r);
  return r.ok() ? std::move(r).value() : KeyUpdate{};
}

// ---------------------------------------------------------------------------------------------
// aether-spec.md §6.4, row by row

struct Row {
  const char* what;
  std::string body;
  bool update;
  const char* detail;  // the 422 body, or "<ok>"
};

TEST(KeyCommandsTest, SpecRows) {
  const std::vector<Row> rows = {
      {"api_formats: []", R"({"api_formats":[],"api_key":"sk-abcdefghijkl","name":"n"})", false,
       R"({"detail":[{"type":"too_short","loc":["body","api_formats"],"msg":"List should have at least 1 item after validation, not 0","input":[],"ctx":{"field_type":"List","min_length":1,"actual_length":0}}]})"},
      {"api_formats: [\"foo\"]",
       R"({"api_formats":["foo"],"api_key":"sk-abcdefghijkl","name":"n"})", false,
       R"({"detail":[{"type":"value_error","loc":["body","api_formats"],"msg":"Value error, API 格式必须是 ['CLAUDE', 'CLAUDE_CLI', 'OPENAI', 'OPENAI_CLI', 'GEMINI', 'GEMINI_CLI'] 之一，当前值: foo","input":["foo"],"ctx":{"error":{}}}]})"},
      // DESIGN.md: one secret rule; a blank key is refused (Aether stored "" unencrypted).
      {"api_key: 3 spaces", R"({"api_formats":["CLAUDE"],"api_key":"   ","name":"n"})", false,
       R"({"detail":[{"type":"value_error","loc":["body","api_key"],"msg":"Value error, API Key 不能为空","ctx":{"error":{}}}]})"},
      // DESIGN.md: any non-empty secret (Aether: string_too_short, min 3).
      {"api_key: ab", R"({"api_formats":["CLAUDE"],"api_key":"ab","name":"n"})", false, "<ok>"},
      // DESIGN.md: the same rule on update (Aether: "API Key 长度不能少于 10 个字符").
      {"update api_key: shortkey1", R"({"api_key":"shortkey1"})", true, "<ok>"},
      {"rpm_limit: 0", Create(R"("rpm_limit":0)"), false,
       R"({"detail":[{"type":"greater_than_equal","loc":["body","rpm_limit"],"msg":"Input should be greater than or equal to 1","input":0,"ctx":{"ge":1}}]})"},
      {"rpm_limit: \"12\"", Create(R"("rpm_limit":"12")"), false, "<ok>"},
      {"rpm_limit: true", Create(R"("rpm_limit":true)"), false, "<ok>"},
      {"rpm_limit: 12.5", Create(R"("rpm_limit":12.5)"), false,
       R"({"detail":[{"type":"int_from_float","loc":["body","rpm_limit"],"msg":"Input should be a valid integer, got a number with a fractional part","input":12.5}]})"},
      {"rate_multiplier: 0", Create(R"("rate_multiplier":0)"), false,
       R"({"detail":[{"type":"greater_than_equal","loc":["body","rate_multiplier"],"msg":"Input should be greater than or equal to 0.01","input":0,"ctx":{"ge":0.01}}]})"},
      {"max_probe_interval_minutes: 1", Create(R"("max_probe_interval_minutes":1)"), false,
       R"({"detail":[{"type":"greater_than_equal","loc":["body","max_probe_interval_minutes"],"msg":"Input should be greater than or equal to 2","input":1,"ctx":{"ge":2}}]})"},
      {"cache_ttl_minutes: 61", Create(R"("cache_ttl_minutes":61)"), false,
       R"({"detail":[{"type":"less_than_equal","loc":["body","cache_ttl_minutes"],"msg":"Input should be less than or equal to 60","input":61,"ctx":{"le":60}}]})"},
      {"missing api_key", R"({"api_formats":["CLAUDE"],"name":"n"})", false,
       R"({"detail":[{"type":"missing","loc":["body","api_key"],"msg":"Field required","input":{"api_formats":["CLAUDE"],"name":"n"}}]})"},
      {"update {}", "{}", true, "<ok>"},
      {"update name: \"\"", R"({"name":""})", true,
       R"({"detail":[{"type":"string_too_short","loc":["body","name"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}}]})"},
  };
  for (const auto& row : rows) {
    std::string got =
        row.update ? Detail(ParseKeyUpdate(row.body)) : Detail(ParseKeyCreate(row.body));
    EXPECT_EQ(got, row.detail) << row.what;
  }
}

TEST(KeyCommandsTest, SpecRowValues) {
  EXPECT_EQ(MustCreate(Create(R"("rpm_limit":"12")")).rpm_limit, 12);
  EXPECT_EQ(MustCreate(Create(R"("rpm_limit":true)")).rpm_limit, 1);
  EXPECT_EQ(
      MustCreate(R"({"api_formats":["claude","CLAUDE","openai_cli"],"api_key":"k","name":"n"})")
          .api_formats,
      (std::vector<std::string>{"CLAUDE", "OPENAI_CLI"}));
  EXPECT_EQ(MustCreate(R"({"api_formats":["CLAUDE"],"api_key":" \tab\n","name":"n"})").api_key,
            "ab");
  KeyUpdate u = MustUpdate(R"({"api_key":"  shortkey1 "})");
  ASSERT_TRUE(u.api_key.has_value());
  EXPECT_EQ(u.api_key.value(), "shortkey1");
  EXPECT_TRUE(MustUpdate("{}").empty());
}

// ---------------------------------------------------------------------------------------------
// Create: defaults, normalization and keyledger's additions

TEST(KeyCommandsTest, CreateDefaultsMatchAether) {
  KeyCreate k = MustCreate(Create());
  EXPECT_FALSE(k.provider_id.has_value());
  EXPECT_EQ(k.api_key, "sk-ant-api03-abcdefghijklmnop");
  EXPECT_EQ(k.name, "main");
  EXPECT_EQ(k.rate_multiplier, 1.0);
  EXPECT_FALSE(k.rate_multipliers.has_value());
  EXPECT_EQ(k.internal_priority, 50);
  EXPECT_FALSE(k.global_priority.has_value());
  EXPECT_FALSE(k.rpm_limit.has_value());
  EXPECT_FALSE(k.allowed_models.has_value());
  EXPECT_FALSE(k.capabilities.has_value());
  EXPECT_EQ(k.cache_ttl_minutes, 5);
  EXPECT_EQ(k.max_probe_interval_minutes, 32);
  EXPECT_TRUE(k.is_active);
  EXPECT_FALSE(k.note.has_value());
}

TEST(KeyCommandsTest, MissingOrNullApiFormatsIsLeftToTheHandlersFourHundred) {
  EXPECT_FALSE(MustCreate(R"({"api_key":"k","name":"n"})").api_formats.has_value());
  EXPECT_FALSE(
      MustCreate(R"({"api_formats":null,"api_key":"k","name":"n"})").api_formats.has_value());
}

TEST(KeyCommandsTest, CreateAcceptsWhatAetherSilentlyDropped) {
  KeyCreate k = MustCreate(Create(R"("provider_id":"p-1","global_priority":7,"is_active":"no")"));
  EXPECT_EQ(k.provider_id, "p-1");
  EXPECT_EQ(k.global_priority, 7);
  EXPECT_FALSE(k.is_active);
  // Priorities are any value of Aether's integer column: negative ones are a valid ordering.
  KeyCreate negative = MustCreate(Create(R"("internal_priority":-1,"global_priority":-7)"));
  EXPECT_EQ(negative.internal_priority, -1);
  EXPECT_EQ(negative.global_priority, -7);
  EXPECT_EQ(MustCreate(Create(R"("internal_priority":-2147483648,"global_priority":2147483647)"))
                .global_priority,
            2147483647);
  EXPECT_EQ(
      Detail(ParseKeyCreate(Create(
          R"("internal_priority":-2147483649,"global_priority":2147483648,"provider_id":5)"))),
      R"({"detail":[)"
      R"({"type":"string_type","loc":["body","provider_id"],"msg":"Input should be a valid string","input":5},)"
      R"({"type":"greater_than_equal","loc":["body","internal_priority"],"msg":"Input should be greater than or equal to -2147483648","input":-2147483649,"ctx":{"ge":-2147483648}},)"
      R"({"type":"less_than_equal","loc":["body","global_priority"],"msg":"Input should be less than or equal to 2147483647","input":2147483648,"ctx":{"le":2147483647}}]})");
}

TEST(KeyCommandsTest, UpdateAcceptsNegativePriorities) {
  auto u = ParseKeyUpdate(R"({"internal_priority":-5,"global_priority":-1})");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->internal_priority.value(), -5);
  EXPECT_EQ(u->global_priority.value(), -1);
}

TEST(KeyCommandsTest, NamesAndNotesAreStoredAsGivenButStripped) {
  KeyCreate k = MustCreate(
      R"({"api_formats":["CLAUDE"],"api_key":"k","name":"  monthly=100 <b>x</b> 名\u3000","note":" line1\nline2\t "})");
  EXPECT_EQ(k.name, "monthly=100 <b>x</b> 名");  // no regex sanitizing (aether-spec.md §14.6)
  EXPECT_EQ(k.note, "line1\nline2");
  EXPECT_EQ(MustCreate(Create(R"("note":"   ")")).note, "");
  EXPECT_EQ(
      Detail(ParseKeyCreate(
          R"({"api_formats":["CLAUDE"],"api_key":"k","name":"   ","note":"a\u0000b"})")),
      R"({"detail":[)"
      R"({"type":"value_error","loc":["body","name"],"msg":"Value error, 名称不能为空白","input":"   ","ctx":{"error":{}}},)"
      R"({"type":"value_error","loc":["body","note"],"msg":"Value error, 备注不能包含控制字符","input":"a\u0000b","ctx":{"error":{}}}]})");
  EXPECT_EQ(
      Detail(ParseKeyCreate(R"({"api_formats":["CLAUDE"],"api_key":"k","name":"a\tb"})")),
      R"({"detail":[{"type":"value_error","loc":["body","name"],"msg":"Value error, 名称不能包含控制字符","input":"a\tb","ctx":{"error":{}}}]})");
  // Lengths are checked on the raw string, in code points.
  EXPECT_TRUE(ParseKeyCreate(Create(R"("note":")" + std::string(500, 'x') + "\"")).ok());
  std::string hundred_cjk;
  for (int i = 0; i < 100; ++i) hundred_cjk += "\xE5\x90\x8D";
  EXPECT_TRUE(
      ParseKeyCreate(R"({"api_formats":["CLAUDE"],"api_key":"k","name":")" + hundred_cjk + "\"}")
          .ok());
  EXPECT_EQ(
      Detail(ParseKeyCreate(R"({"api_formats":["CLAUDE"],"api_key":"k","name":")" +
                            std::string(101, 'x') + "\"}")),
      R"({"detail":[{"type":"string_too_long","loc":["body","name"],"msg":"String should have at most 100 characters","input":")" +
          std::string(101, 'x') + R"(","ctx":{"max_length":100}}]})");
}

TEST(KeyCommandsTest, RateMultipliersAreValidatedFormatsWithPositiveValues) {
  KeyCreate k = MustCreate(Create(R"("rate_multipliers":{"openai":0.8,"CLAUDE":"1.5"})"));
  ASSERT_TRUE(k.rate_multipliers.has_value());
  EXPECT_EQ(*k.rate_multipliers, (RateMultipliers{{"OPENAI", 0.8}, {"CLAUDE", 1.5}}));
  EXPECT_EQ(RateMultipliersToJson(*k.rate_multipliers), R"({"OPENAI":0.8,"CLAUDE":1.5})");
  // {} is stored verbatim, as Aether does.
  EXPECT_EQ(MustCreate(Create(R"("rate_multipliers":{})")).rate_multipliers, RateMultipliers{});
  EXPECT_EQ(
      Detail(ParseKeyCreate(
          Create(R"("rate_multipliers":{"claude":-1,"openai":"x","gemini":1e400})"))),
      R"({"detail":[)"
      R"({"type":"greater_than_equal","loc":["body","rate_multipliers","claude"],"msg":"Input should be greater than or equal to 0.01","input":-1,"ctx":{"ge":0.01}},)"
      R"({"type":"float_parsing","loc":["body","rate_multipliers","openai"],"msg":"Input should be a valid number, unable to parse string as a number","input":"x"},)"
      R"({"type":"finite_number","loc":["body","rate_multipliers","gemini"],"msg":"Input should be a finite number","input":1e400}]})");
  EXPECT_EQ(
      Detail(ParseKeyCreate(Create(R"("rate_multipliers":{"claude":1,"foo":2})"))),
      R"({"detail":[{"type":"value_error","loc":["body","rate_multipliers"],"msg":"Value error, rate_multipliers 的 key 必须是 ['CLAUDE', 'CLAUDE_CLI', 'OPENAI', 'OPENAI_CLI', 'GEMINI', 'GEMINI_CLI'] 之一，当前值: foo","input":{"claude":1,"foo":2},"ctx":{"error":{}}}]})");
  EXPECT_EQ(
      Detail(ParseKeyCreate(Create(R"("rate_multipliers":{"claude":1,"CLAUDE":2})"))),
      R"({"detail":[{"type":"value_error","loc":["body","rate_multipliers"],"msg":"Value error, rate_multipliers 中的格式重复: CLAUDE","input":{"claude":1,"CLAUDE":2},"ctx":{"error":{}}}]})");
  EXPECT_EQ(
      Detail(ParseKeyCreate(Create(R"("rate_multipliers":[1])"))),
      R"({"detail":[{"type":"dict_type","loc":["body","rate_multipliers"],"msg":"Input should be a valid dictionary","input":[1]}]})");
}

TEST(KeyCommandsTest, CapabilitiesAreCatalogueNames) {
  KeyCreate k = MustCreate(Create(R"("capabilities":{"context_1m":"yes","cache_1h":0})"));
  ASSERT_TRUE(k.capabilities.has_value());
  EXPECT_EQ(*k.capabilities, (Capabilities{{"context_1m", true}, {"cache_1h", false}}));
  EXPECT_EQ(CapabilitiesToJson(*k.capabilities), R"({"context_1m":true,"cache_1h":false})");
  EXPECT_FALSE(MustCreate(Create(R"("capabilities":{})")).capabilities.has_value());
  EXPECT_EQ(
      Detail(ParseKeyCreate(Create(R"("capabilities":{"cache_1h":true,"turbo":true})"))),
      R"j({"detail":[{"type":"value_error","loc":["body","capabilities"],"msg":"Value error, capabilities 的 key 必须是 ['cache_1h', 'context_1m'] 之一，当前值: turbo (keyledger accepts only the capabilities of GET /api/capabilities: Aether stores an unknown name, which no scheduler rule ever matches, so a misspelt capability would look configured and do nothing)","input":{"cache_1h":true,"turbo":true},"ctx":{"error":{}}}]})j");
  EXPECT_EQ(
      Detail(ParseKeyCreate(Create(R"("capabilities":{"cache_1h":"maybe","context_1m":2})"))),
      R"({"detail":[)"
      R"({"type":"bool_parsing","loc":["body","capabilities","cache_1h"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"},)"
      R"({"type":"bool_parsing","loc":["body","capabilities","context_1m"],"msg":"Input should be a valid boolean, unable to interpret input","input":2}]})");
}

// ---------------------------------------------------------------------------------------------
// allowed_models (aether-spec.md §6.3)

TEST(KeyCommandsTest, AllowedModelsListIsCleaned) {
  KeyCreate k = MustCreate(Create(R"("allowed_models":[" a ","a","","b"])"));
  ASSERT_TRUE(k.allowed_models.has_value());
  EXPECT_EQ(k.allowed_models->kind, AllowedModels::Kind::kList);
  EXPECT_EQ(k.allowed_models->models, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(k.allowed_models->ToJson(), R"(["a","b"])");
}

TEST(KeyCommandsTest, AllowedModelsDictKeysAreFormatsOrStar) {
  KeyCreate k = MustCreate(
      Create(R"("allowed_models":{"openai":["gpt-4o"," gpt-4o "],"Claude":[],"*":["x"]})"));
  ASSERT_TRUE(k.allowed_models.has_value());
  EXPECT_EQ(k.allowed_models->kind, AllowedModels::Kind::kByFormat);
  EXPECT_EQ(k.allowed_models->ToJson(), R"({"OPENAI":["gpt-4o"],"CLAUDE":[],"*":["x"]})");
  EXPECT_EQ(
      Detail(ParseKeyCreate(Create(R"("allowed_models":{"foo":["a"]})"))),
      R"({"detail":[{"type":"value_error","loc":["body","allowed_models"],"msg":"Value error, allowed_models 字典的 key 必须是 ['CLAUDE', 'CLAUDE_CLI', 'GEMINI', 'GEMINI_CLI', 'OPENAI', 'OPENAI_CLI'] 或 '*'，当前值: foo","input":{"foo":["a"]},"ctx":{"error":{}}}]})");
  // Aether keeps the last of two keys that upper-case alike; keyledger refuses the ambiguity.
  EXPECT_EQ(
      Detail(ParseKeyCreate(Create(R"("allowed_models":{"claude":["a"],"CLAUDE":["b"]})"))),
      R"({"detail":[{"type":"value_error","loc":["body","allowed_models"],"msg":"Value error, allowed_models 字典的 key 重复: CLAUDE","input":{"claude":["a"],"CLAUDE":["b"]},"ctx":{"error":{}}}]})");
}

TEST(KeyCommandsTest, AllowedModelsUnionErrorsNameBothMembers) {
  // A null value in the dict is a list_type error (the validator's "skip" branch is
  // unreachable), reported together with the list member's error.
  EXPECT_EQ(
      Detail(ParseKeyCreate(Create(R"("allowed_models":{"claude":null})"))),
      R"({"detail":[)"
      R"({"type":"list_type","loc":["body","allowed_models","list[str]"],"msg":"Input should be a valid list","input":{"claude":null}},)"
      R"({"type":"list_type","loc":["body","allowed_models","dict[str,list[str]]","claude"],"msg":"Input should be a valid list","input":null}]})");
  EXPECT_EQ(
      Detail(ParseKeyCreate(Create(R"("allowed_models":5)"))),
      R"({"detail":[)"
      R"({"type":"list_type","loc":["body","allowed_models","list[str]"],"msg":"Input should be a valid list","input":5},)"
      R"({"type":"dict_type","loc":["body","allowed_models","dict[str,list[str]]"],"msg":"Input should be a valid dictionary","input":5}]})");
  EXPECT_EQ(
      Detail(ParseKeyCreate(Create(R"("allowed_models":[1,"a",null])"))),
      R"({"detail":[)"
      R"({"type":"string_type","loc":["body","allowed_models","list[str]",0],"msg":"Input should be a valid string","input":1},)"
      R"({"type":"string_type","loc":["body","allowed_models","list[str]",2],"msg":"Input should be a valid string","input":null},)"
      R"({"type":"dict_type","loc":["body","allowed_models","dict[str,list[str]]"],"msg":"Input should be a valid dictionary","input":[1,"a",null]}]})");
  EXPECT_EQ(
      Detail(ParseKeyCreate(Create(R"("allowed_models":{"x":[1]})"))),
      R"({"detail":[)"
      R"({"type":"list_type","loc":["body","allowed_models","list[str]"],"msg":"Input should be a valid list","input":{"x":[1]}},)"
      R"({"type":"string_type","loc":["body","allowed_models","dict[str,list[str]]","x",0],"msg":"Input should be a valid string","input":1}]})");
  EXPECT_EQ(
      Detail(ParseKeyCreate(Create(R"("allowed_models":"gpt-4o")"))),
      R"({"detail":[)"
      R"({"type":"list_type","loc":["body","allowed_models","list[str]"],"msg":"Input should be a valid list","input":"gpt-4o"},)"
      R"({"type":"dict_type","loc":["body","allowed_models","dict[str,list[str]]"],"msg":"Input should be a valid dictionary","input":"gpt-4o"}]})");
}

TEST(KeyCommandsTest, EmptyAllowedModelsBecomeNull) {
  for (const char* empty : {"[]", "{}", "[\"\",\" \"]"}) {
    EXPECT_FALSE(MustCreate(Create(R"("allowed_models":)" + std::string(empty))).allowed_models)
        << empty;
    KeyUpdate u = MustUpdate(R"({"allowed_models":)" + std::string(empty) + "}");
    EXPECT_TRUE(u.allowed_models.is_null()) << empty;
  }
  KeyUpdate deny = MustUpdate(R"({"allowed_models":{"CLAUDE":[]}})");
  ASSERT_TRUE(deny.allowed_models.has_value());
  EXPECT_EQ(deny.allowed_models.value().ToJson(), R"({"CLAUDE":[]})");
}

// ---------------------------------------------------------------------------------------------
// Update: tri-state fields and explicit nulls

TEST(KeyCommandsTest, ExplicitNullOnEveryNonNullableFieldIsOne422) {
  EXPECT_EQ(
      Detail(ParseKeyUpdate(
          R"({"api_formats":null,"api_key":null,"name":null,"rate_multiplier":null,)"
          R"("rate_multipliers":null,"internal_priority":null,"global_priority":null,)"
          R"("rpm_limit":null,"allowed_models":null,"capabilities":null,"cache_ttl_minutes":null,)"
          R"("max_probe_interval_minutes":null,"is_active":null,"note":null})")),
      R"({"detail":[)"
      R"({"type":"list_type","loc":["body","api_formats"],"msg":"Input should be a valid list","input":null},)"
      R"({"type":"string_type","loc":["body","api_key"],"msg":"Input should be a valid string"},)"
      R"({"type":"string_type","loc":["body","name"],"msg":"Input should be a valid string","input":null},)"
      R"({"type":"float_type","loc":["body","rate_multiplier"],"msg":"Input should be a valid number","input":null},)"
      R"({"type":"int_type","loc":["body","internal_priority"],"msg":"Input should be a valid integer","input":null},)"
      R"({"type":"int_type","loc":["body","cache_ttl_minutes"],"msg":"Input should be a valid integer","input":null},)"
      R"({"type":"int_type","loc":["body","max_probe_interval_minutes"],"msg":"Input should be a valid integer","input":null},)"
      R"({"type":"bool_type","loc":["body","is_active"],"msg":"Input should be a valid boolean","input":null}]})");
  // One at a time too: nothing is half-applied, every such body is refused whole.
  for (const char* field :
       {"api_formats", "api_key", "name", "rate_multiplier", "internal_priority",
        "cache_ttl_minutes", "max_probe_interval_minutes", "is_active"}) {
    auto r = ParseKeyUpdate(R"({"note":"kept?",")" + std::string(field) + R"(":null})");
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.error().code, ErrorCode::kValidation);
    ASSERT_EQ(r.error().details.size(), 1u) << field;
    EXPECT_EQ(r.error().details[0].loc, (Loc{"body", field}));
  }
}

TEST(KeyCommandsTest, NullableUpdateFieldsTakeNull) {
  KeyUpdate u =
      MustUpdate(R"({"rpm_limit":null,"global_priority":null,"note":null,"rate_multipliers":null,)"
                 R"("allowed_models":null,"capabilities":null})");
  EXPECT_TRUE(u.rpm_limit.is_null());  // adaptive mode
  EXPECT_TRUE(u.global_priority.is_null());
  EXPECT_TRUE(u.note.is_null());
  EXPECT_TRUE(u.rate_multipliers.is_null());
  EXPECT_TRUE(u.allowed_models.is_null());
  EXPECT_TRUE(u.capabilities.is_null());
  EXPECT_TRUE(u.name.absent());
  EXPECT_TRUE(u.is_active.absent());
  EXPECT_FALSE(u.empty());
}

TEST(KeyCommandsTest, UpdateValuesUseTheSameRulesAsCreate) {
  KeyUpdate u = MustUpdate(
      R"({"api_formats":["openai","claude","OPENAI"],"name":" renamed ","rate_multiplier":"2.5",)"
      R"("internal_priority":"7","global_priority":3,"rpm_limit":"100","is_active":"off",)"
      R"("cache_ttl_minutes":0,"max_probe_interval_minutes":32,"capabilities":{},)"
      R"("rate_multipliers":{},"unknown_field":[1,2,3]})");
  EXPECT_EQ(u.api_formats.value(), (std::vector<std::string>{"OPENAI", "CLAUDE"}));
  EXPECT_EQ(u.name.value(), "renamed");
  EXPECT_EQ(u.rate_multiplier.value(), 2.5);
  EXPECT_EQ(u.internal_priority.value(), 7);
  EXPECT_EQ(u.global_priority.value(), 3);
  EXPECT_EQ(u.rpm_limit.value(), 100);
  EXPECT_FALSE(u.is_active.value());
  EXPECT_EQ(u.cache_ttl_minutes.value(), 0);
  EXPECT_EQ(u.max_probe_interval_minutes.value(), 32);
  // On update {} stays {} (aether-spec.md §8.3).
  EXPECT_TRUE(u.capabilities.has_value());
  EXPECT_TRUE(u.capabilities.value().empty());
  EXPECT_TRUE(u.rate_multipliers.has_value());
  EXPECT_TRUE(u.api_key.absent());
  EXPECT_TRUE(u.note.absent());
  EXPECT_EQ(
      Detail(ParseKeyUpdate(R"({"api_formats":[]})")),
      R"({"detail":[{"type":"too_short","loc":["body","api_formats"],"msg":"List should have at least 1 item after validation, not 0","input":[],"ctx":{"field_type":"List","min_length":1,"actual_length":0}}]})");
}

// ---------------------------------------------------------------------------------------------
// Everything at once, in declaration order; bodies that are not objects

TEST(KeyCommandsTest, AllErrorsAreReportedInDeclarationOrder) {
  EXPECT_EQ(
      Detail(ParseKeyCreate(
          R"({"max_probe_interval_minutes":33,"cache_ttl_minutes":"x","rpm_limit":0,"name":5,"api_formats":[]})")),
      R"({"detail":[)"
      R"({"type":"too_short","loc":["body","api_formats"],"msg":"List should have at least 1 item after validation, not 0","input":[],"ctx":{"field_type":"List","min_length":1,"actual_length":0}},)"
      R"({"type":"missing","loc":["body","api_key"],"msg":"Field required","input":{"max_probe_interval_minutes":33,"cache_ttl_minutes":"x","rpm_limit":0,"name":5,"api_formats":[]}},)"
      R"({"type":"string_type","loc":["body","name"],"msg":"Input should be a valid string","input":5},)"
      R"({"type":"greater_than_equal","loc":["body","rpm_limit"],"msg":"Input should be greater than or equal to 1","input":0,"ctx":{"ge":1}},)"
      R"({"type":"int_parsing","loc":["body","cache_ttl_minutes"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"x"},)"
      R"({"type":"less_than_equal","loc":["body","max_probe_interval_minutes"],"msg":"Input should be less than or equal to 32","input":33,"ctx":{"le":32}}]})");
  EXPECT_EQ(
      Detail(ParseKeyCreate("{}")),
      R"({"detail":[{"type":"missing","loc":["body","api_key"],"msg":"Field required","input":{}},{"type":"missing","loc":["body","name"],"msg":"Field required","input":{}}]})");
  EXPECT_EQ(
      Detail(ParseKeyCreate("[]")),
      R"({"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[]}]})");
  EXPECT_EQ(
      Detail(ParseKeyUpdate("null")),
      R"({"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]})");
  EXPECT_EQ(
      Detail(ParseKeyUpdate("")),
      R"({"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]})");
  EXPECT_EQ(
      Detail(ParseKeyCreate(R"({"a":1} x)")),
      R"({"detail":[{"type":"json_invalid","loc":["body",8],"msg":"JSON decode error","input":{},"ctx":{"error":"Extra data"}}]})");
}

TEST(KeyCommandsTest, ParserIsReusedAcrossCommands) {
  JsonBodyParser parser;
  EXPECT_TRUE(ParseKeyCreate(Create(), parser).ok());
  EXPECT_TRUE(ParseKeyUpdate(R"({"name":"x"})", parser).ok());
  EXPECT_FALSE(ParseKeyUpdate(R"({"name":})", parser).ok());
  EXPECT_TRUE(ParseKeyCreate(Create(), parser).ok());
}

// ---------------------------------------------------------------------------------------------
// Secrets never reach an error

TEST(KeyCommandsTest, SubmittedSecretsNeverAppearInErrors) {
  const std::string secret = "sk-MARKER-3f9a";
  const std::vector<std::string> bodies = {
      // The key itself refused, in each way the rule can refuse it.
      R"({"api_formats":["CLAUDE"],"name":"n","api_key":"sk-MARKER-3f9a\u0000"})",
      R"({"api_formats":["CLAUDE"],"name":"n","api_key":"sk-MARKER-3f9a\u007f"})",
      R"({"api_formats":["CLAUDE"],"name":"n","api_key":"sk-MARKER-3f9a\u0085"})",
      R"({"api_formats":["CLAUDE"],"name":"n","api_key":"sk-MARKER-3f9a)" + std::string(9000, 'x') +
          "\"}",
      R"({"api_formats":["CLAUDE"],"name":"n","api_key":["sk-MARKER-3f9a"]})",
      R"({"api_formats":["CLAUDE"],"name":"n","api_key":{"k":"sk-MARKER-3f9a"}})",
      // The key valid, other fields wrong: the body is echoed for missing fields.
      R"({"api_formats":["CLAUDE"],"api_key":"sk-MARKER-3f9a"})",
      R"({"api_key":"sk-MARKER-3f9a","name":5,"api_formats":"x","allowed_models":5})",
      R"({"api_formats":[],"api_key":"sk-MARKER-3f9a","api_key":"sk-MARKER-3f9a"})",
      // In a key whose name happens to be the secret's: still redacted in echoes.
      R"({"api_formats":["CLAUDE"],"nested":{"password":"sk-MARKER-3f9a"}})",
  };
  for (const auto& body : bodies) {
    for (bool update : {false, true}) {
      std::string detail = update ? Detail(ParseKeyUpdate(body)) : Detail(ParseKeyCreate(body));
      if (detail == "<ok>") continue;
      EXPECT_EQ(detail.find(secret), std::string::npos) << body << "\n" << detail;
      EXPECT_EQ(detail.find("MARKER"), std::string::npos) << body << "\n" << detail;
    }
  }
}

}  // namespace
}  // namespace keyledger::registry
