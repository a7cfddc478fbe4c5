// Spec §6.4's validation table (adapted where DESIGN.md differs), driven from JSON bodies through
// the input layer, the adapters and the registry: every failure leaves the log untouched.
#include <gtest/gtest.h>

#include "src/dto_adapters.hpp"
#include "src/json_input.hpp"
#include "tests/registry/registry_harness.hpp"

namespace keyledger::registry {
namespace {

using testing::Harness;

struct Row {
  const char* name;
  const char* body;
  bool update;              // K3 instead of K2
  ErrorCode code;           // expected failure; kInternal = must succeed
  const char* detail_type;  // first 422 entry's type, or the 400 message
};

class ValidationTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    provider_ = h_.CreateProvider("table");
    key_ = h_.CreateKey(provider_, "sk-ant-table-existing-key-000000");
  }

  Result<CommandResult> Submit(const Row& row) {
    if (row.update) {
      KL_ASSIGN_OR_RETURN(auto dto, ParseKeyUpdate(row.body));
      return h_.Run(MakeUpdateKey(ToIntent(key_, std::move(dto))));
    }
    KL_ASSIGN_OR_RETURN(auto dto, ParseKeyCreate(row.body));
    return h_.Run(MakeCreateKey(ToIntent(provider_, std::move(dto))));
  }

  Harness h_;
  std::string provider_;
  std::string key_;
};

TEST_F(ValidationTableTest, EveryRowOfSpec64) {
  const std::vector<Row> rows = {
      {"api_formats []", R"({"api_formats":[],"api_key":"sk-a-valid-key-1","name":"n"})", false,
       ErrorCode::kValidation, "too_short"},
      {"api_formats normalized",
       R"({"api_formats":["claude","CLAUDE","openai_cli"],"api_key":"sk-a-valid-key-2","name":"n"})",
       false, ErrorCode::kInternal, ""},
      {"api_formats foo", R"({"api_formats":["foo"],"api_key":"sk-a-valid-key-3","name":"n"})",
       false, ErrorCode::kValidation, "value_error"},
      {"api_key 3 spaces (accepted by Aether, refused here)",
       R"({"api_formats":["CLAUDE"],"api_key":"   ","name":"n"})", false, ErrorCode::kValidation,
       "value_error"},
      {"api_key ab (one rule: non-empty is enough)",
       R"({"api_formats":["CLAUDE"],"api_key":"ab","name":"n"})", false, ErrorCode::kInternal, ""},
      {"update api_key shortkey1 (one rule for create and update)", R"({"api_key":"shortkey1"})",
       true, ErrorCode::kInternal, ""},
      {"rpm_limit 0",
       R"({"api_formats":["CLAUDE"],"api_key":"sk-a-valid-key-4","name":"n","rpm_limit":0})", false,
       ErrorCode::kValidation, "greater_than_equal"},
      {"rpm_limit \"12\"",
       R"({"api_formats":["CLAUDE"],"api_key":"sk-a-valid-key-5","name":"n","rpm_limit":"12"})",
       false, ErrorCode::kInternal, ""},
      {"rpm_limit true",
       R"({"api_formats":["CLAUDE"],"api_key":"sk-a-valid-key-6","name":"n","rpm_limit":true})",
       false, ErrorCode::kInternal, ""},
      {"rpm_limit 12.5",
       R"({"api_formats":["CLAUDE"],"api_key":"sk-a-valid-key-7","name":"n","rpm_limit":12.5})",
       false, ErrorCode::kValidation, "int_from_float"},
      {"rate_multiplier 0",
       R"({"api_formats":["CLAUDE"],"api_key":"sk-a-valid-key-8","name":"n","rate_multiplier":0})",
       false, ErrorCode::kValidation, "greater_than_equal"},
      {"max_probe_interval_minutes 1",
       R"({"api_formats":["CLAUDE"],"api_key":"sk-a-valid-key-9","name":"n","max_probe_interval_minutes":1})",
       false, ErrorCode::kValidation, "greater_than_equal"},
      {"cache_ttl_minutes 61",
       R"({"api_formats":["CLAUDE"],"api_key":"sk-a-valid-key-10","name":"n","cache_ttl_minutes":61})",
       false, ErrorCode::kValidation, "less_than_equal"},
      {"missing api_key", R"({"api_formats":["CLAUDE"],"name":"n"})", false, ErrorCode::kValidation,
       "missing"},
      {"api_formats missing -> Aether's 400", R"({"api_key":"sk-a-valid-key-11","name":"n"})",
       false, ErrorCode::kInvalidArgument, "api_formats 为必填字段"},
      {"update {}", "{}", true, ErrorCode::kInternal, ""},
      {"update name \"\"", R"({"name":""})", true, ErrorCode::kValidation, "string_too_short"},
      {"update explicit null on a non-nullable field", R"({"internal_priority":null})", true,
       ErrorCode::kValidation, "int_type"},
      {"update explicit null name", R"({"name":null})", true, ErrorCode::kValidation,
       "string_type"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const uint64_t before = h_.log().GetHead().sequence;
    auto r = Submit(row);
    if (row.code == ErrorCode::kInternal) {
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_GT(h_.log().GetHead().sequence, before);
      continue;
    }
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, row.code);
    if (row.code == ErrorCode::kValidation) {
      ASSERT_FALSE(r.error().details.empty());
      EXPECT_EQ(r.error().details.front().type, row.detail_type);
    } else {
      EXPECT_EQ(r.error().message, row.detail_type);
    }
    EXPECT_EQ(h_.log().GetHead().sequence, before) << "a failure appended events";
  }
  // The normalized formats row stored ["CLAUDE","OPENAI_CLI"].
  auto state = h_.registry().Current();
  bool found = false;
  state->keys.ForEach([&](const std::string&, const projections::KeyState& k) {
    found |= k.api_formats == projections::StringList{"CLAUDE", "OPENAI_CLI"};
  });
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace keyledger::registry
