// Adaptive RPM decisions (aether-spec.md §11.3 A2, A3, A5, with the README's deliberate
// differences): A2's hand-validated body and Aether's messages, the events each command appends
// (with who, from where, which request), If-Match, and 404 before body errors.
#include <gtest/gtest.h>

#include "events/event_type.hpp"
#include "tests/registry/registry_harness.hpp"

namespace keyledger::registry {
namespace {

using testing::Harness;

constexpr const char* kSecret = "sk-ant-api03-ADAPTIVEsecretVALUE-0123456789-wxyz";

std::string BodyError(std::string_view body) {
  auto r = ParseAdaptiveModeBody(body);
  if (r.ok()) return "<ok>";
  return std::string(ErrorCodeName(r.error().code)) + ": " + r.error().message;
}

TEST(AdaptiveModeBodyTest, AetherMessagesFirstErrorOnly) {
  struct Row {
    std::string body;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {"", "invalid_argument: 请求体不能为空"},
      {"{", "invalid_argument: 请求体必须是合法的JSON"},
      {"[]", "invalid_argument: 输入应为有效的字典 or instance of EnableAdaptiveRequest"},
      {"null", "invalid_argument: 输入应为有效的字典 or instance of EnableAdaptiveRequest"},
      {"5", "invalid_argument: 输入应为有效的字典 or instance of EnableAdaptiveRequest"},
      {"{}", "invalid_argument: 启用状态: 此字段为必填项"},
      {R"({"enabled":null})", "invalid_argument: 启用状态: 输入应为布尔值"},
      {R"({"enabled":"maybe"})",
       "invalid_argument: 启用状态: 输入应为布尔值, unable to interpret input"},
      {R"({"enabled":2,"fixed_limit":0})",
       "invalid_argument: 启用状态: 输入应为布尔值, unable to interpret input"},
      {R"({"enabled":false,"fixed_limit":0})", "invalid_argument: 固定限制: 数值应大于或等于 1"},
      {R"({"enabled":false,"fixed_limit":10001})",
       "invalid_argument: 固定限制: 数值应小于或等于 10000"},
      {R"({"enabled":false,"fixed_limit":1.5})",
       "invalid_argument: 固定限制: 输入应为有效的整数, got a number with a fractional part"},
      {R"({"enabled":false,"fixed_limit":"abc"})",
       "invalid_argument: 固定限制: 输入应为有效的整数, unable to parse string as an integer"},
      // Deliberate: fixed_limit is not read when it is not used (Aether rejects 0 here).
      {R"({"enabled":true,"fixed_limit":0})", "<ok>"},
      {R"({"enabled":"yes","ignored":1})", "<ok>"},
      {R"({"enabled":false,"fixed_limit":"120"})", "<ok>"},
      // Missing fixed_limit with enabled:false is the command's error (after the key lookup).
      {R"({"enabled":false})", "<ok>"},
  };
  for (const Row& row : rows) EXPECT_EQ(BodyError(row.body), row.expected) << row.body;
  auto fixed = ParseAdaptiveModeBody(R"({"enabled":"no","fixed_limit":"120"})");
  ASSERT_TRUE(fixed.ok());
  EXPECT_FALSE(fixed->enabled);
  EXPECT_EQ(fixed->fixed_limit, 120);
}

TEST(AdaptiveCommandsTest, ModeLimitAndLearningAreEventsWithTheirContext) {
  Harness h;
  const std::string pid = h.CreateProvider("adaptive");
  const std::string key = h.CreateKey(pid, kSecret);
  const uint64_t head = h.log().GetHead().sequence;

  RequestContext ctx = Harness::Admin();
  ctx.request_id = "req-mode";
  ctx.reason = "ticket 7";
  ASSERT_OK_AND_ASSIGN(
      auto fixed, h.Run(MakeSetAdaptiveMode(
                            key, ParseAdaptiveModeBody(R"({"enabled":false,"fixed_limit":40})")),
                        ctx));
  EXPECT_EQ(fixed.body, R"({"message":"已切换为固定限制模式，RPM 限制设为 40","key_id":")" + key +
                            R"(","is_adaptive":false,"rpm_limit":40,"effective_limit":40})");
  EXPECT_EQ(fixed.etag, 2u);
  ASSERT_OK_AND_ASSIGN(auto records, h.log().ReadRange(head + 1, 10));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].type, events::EventType::kKeyAdaptiveModeChanged);
  EXPECT_EQ(records[0].stream, "key-" + key);
  EXPECT_EQ(records[0].metadata.request_id, "req-mode");
  EXPECT_EQ(records[0].metadata.actor, ctx.actor);
  EXPECT_EQ(records[0].metadata.client_ip, ctx.client_ip);
  EXPECT_EQ(records[0].metadata.reason, std::optional<std::string>("ticket 7"));
  EXPECT_EQ(
      records[0].payload,
      R"({"key_id":")" + key +
          R"(","adaptive":false,"rpm_limit":40,"learned_rpm_limit":null,"previous_rpm_limit":null})");
  EXPECT_EQ(h.registry().Current()->keys.Find(key)->rpm_limit, 40);

  // A3 reports the previous mode; If-Match guards it like K3.
  RequestContext stale = Harness::Admin();
  stale.if_match = 1;
  EXPECT_EQ(h.Run(MakeSetRpmLimit(key, 60), stale).error().code, ErrorCode::kPreconditionFailed);
  ASSERT_OK_AND_ASSIGN(auto limited, h.Run(MakeSetRpmLimit(key, 60)));
  EXPECT_EQ(limited.body, R"({"message":"已设置为固定限制模式，RPM 限制为 60","key_id":")" + key +
                              R"(","is_adaptive":false,"rpm_limit":60,"previous_mode":"fixed"})");

  ASSERT_OK_AND_ASSIGN(
      auto adaptive, h.Run(MakeSetAdaptiveMode(key, ParseAdaptiveModeBody(R"({"enabled":true})"))));
  EXPECT_EQ(adaptive.body,
            R"({"message":"已切换为自适应模式，系统将自动学习并调整 RPM 限制","key_id":")" + key +
                R"(","is_adaptive":true,"rpm_limit":null,"effective_limit":50})");
  ASSERT_OK_AND_ASSIGN(auto again, h.Run(MakeSetRpmLimit(key, 5)));
  EXPECT_NE(again.body.find(R"("previous_mode":"adaptive")"), std::string::npos);

  ASSERT_OK_AND_ASSIGN(auto reset, h.Run(MakeResetLearning(key)));
  EXPECT_EQ(reset.body, R"({"message":"学习状态已重置","key_id":")" + key + R"("})");
  const auto s = h.registry().Current();
  const auto& k = *s->keys.Find(key);
  EXPECT_EQ(k.rpm_limit, 5);  // the reset never touches rpm_limit
  EXPECT_EQ(k.version, 5u);   // created, mode, limit, mode, limit; the reset is not configuration
  ASSERT_OK_AND_ASSIGN(auto all, h.log().ReadRange(head + 1, 100));
  std::vector<events::EventType> types;
  for (const auto& r : all) types.push_back(r.type);
  EXPECT_EQ(types,
            (std::vector<events::EventType>{
                events::EventType::kKeyAdaptiveModeChanged, events::EventType::kKeyRpmLimitSet,
                events::EventType::kKeyAdaptiveModeChanged, events::EventType::kKeyRpmLimitSet,
                events::EventType::kKeyLearningReset}));
}

TEST(AdaptiveCommandsTest, UnknownKeyIsNotFoundBeforeBodyErrorsAndNothingIsAppended) {
  Harness h;
  const std::string pid = h.CreateProvider("adaptive-errors");
  const std::string key = h.CreateKey(pid, kSecret);
  const uint64_t head = h.log().GetHead().sequence;
  auto missing = h.Run(MakeSetAdaptiveMode("ghost", ParseAdaptiveModeBody("")));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "Key ghost 不存在");
  EXPECT_EQ(h.Run(MakeSetRpmLimit("ghost", 5)).error().message, "Key ghost 不存在");
  EXPECT_EQ(h.Run(MakeResetLearning("ghost")).error().message, "Key ghost 不存在");
  auto empty = h.Run(MakeSetAdaptiveMode(key, ParseAdaptiveModeBody("")));
  EXPECT_EQ(empty.error().message, kBodyEmpty);
  auto no_limit = h.Run(MakeSetAdaptiveMode(key, ParseAdaptiveModeBody(R"({"enabled":false})")));
  EXPECT_EQ(no_limit.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(no_limit.error().message, kFixedLimitRequired);
  EXPECT_EQ(h.log().GetHead().sequence, head);
}

}  // namespace
}  // namespace keyledger::registry
