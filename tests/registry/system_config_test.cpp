// The system config catalogue (src/system_config.hpp): body parsing, value validation, the set
// command, and the state surviving a reopen (snapshot) and a full replay.
#include "src/system_config.hpp"

#include <gtest/gtest.h>

#include "events/event_type.hpp"
#include "projections/snapshot.hpp"
#include "tests/registry/registry_harness.hpp"

namespace keyledger::registry {
namespace {

using testing::Harness;

const SystemConfigSpec& Spec(std::string_view key) {
  const SystemConfigSpec* spec = FindSystemConfig(key);
  EXPECT_NE(spec, nullptr) << key;
  return *spec;
}

std::string ValueOf(std::string_view key, std::string_view body) {
  auto put = ParseSystemConfigPut(body);
  if (!put.ok()) return "parse error: " + put.error().message;
  auto v = NormalizeSystemConfigValue(Spec(key), put->value);
  return v.ok() ? *v : "error: " + v.error().message;
}

TEST(SystemConfigTest, CatalogueHoldsThePriorityDialogsKeysWithAethersDefaults) {
  ASSERT_EQ(SystemConfigCatalogue().size(), 2u);
  EXPECT_EQ(Spec("provider_priority_mode").default_value, "provider");
  EXPECT_EQ(Spec("scheduling_mode").default_value, "cache_affinity");
  EXPECT_EQ(FindSystemConfig("smtp_password"), nullptr);
  EXPECT_EQ(FindSystemConfig("Provider_Priority_Mode"), nullptr);  // keys are exact
  for (const auto& spec : SystemConfigCatalogue()) {
    bool default_allowed = false;
    for (auto v : spec.allowed) default_allowed |= v == spec.default_value;
    EXPECT_TRUE(default_allowed) << spec.key;
  }
  EXPECT_EQ(SystemConfigNotFound("nope").message, "配置项 'nope' 不存在");
  EXPECT_EQ(SystemConfigNotFound("nope").code, ErrorCode::kNotFound);
}

TEST(SystemConfigTest, AcceptsAllowedValuesTrimmedAndLowerCased) {
  EXPECT_EQ(ValueOf("provider_priority_mode", R"({"value":"global_key"})"), R"("global_key")");
  EXPECT_EQ(ValueOf("provider_priority_mode", R"({"value":" GLOBAL_KEY "})"), R"("global_key")");
  EXPECT_EQ(ValueOf("provider_priority_mode", R"({"value":"provider","description":"d"})"),
            R"("provider")");
  for (const char* mode : {"fixed_order", "cache_affinity", "load_balance"}) {
    EXPECT_EQ(ValueOf("scheduling_mode", std::string(R"({"value":")") + mode + "\"}"),
              std::string("\"") + mode + "\"");
  }
}

TEST(SystemConfigTest, RefusesOtherValuesNamingTheAllowedOnes) {
  const std::string prefix =
      "error: 配置项 'provider_priority_mode' 的值必须是 ['provider', 'global_key'] 之一，当前值: ";
  struct Case {
    const char* body;
    const char* shown;
  } cases[] = {
      {R"({"value":"foo"})", "foo"},
      {R"({"value":""})", ""},
      {R"({"value":5})", "5"},
      {R"({"value":true})", "true"},
      {R"({"value":null})", "null"},
      {R"({})", "null"},
      {R"({"value":["provider"]})", R"(["provider"])"},
      {R"({"value":{"a":1}})", R"({"a":1})"},
      {R"({"value":"global-key"})", "global-key"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ValueOf("provider_priority_mode", c.body), prefix + c.shown) << c.body;
  }
  EXPECT_EQ(ValueOf("scheduling_mode", R"({"value":"random"})"),
            "error: 配置项 'scheduling_mode' 的值必须是 ['fixed_order', 'cache_affinity', "
            "'load_balance'] 之一，当前值: random");
  auto err = NormalizeSystemConfigValue(Spec("scheduling_mode"), JsonValue::Int(1));
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.error().code, ErrorCode::kInvalidArgument);  // 400 invalid_request
}

TEST(SystemConfigTest, BodyErrorsAreAethers400s) {
  struct Case {
    std::string_view body;
    std::string_view message;
  } cases[] = {
      {"", "请求体不能为空"},
      {"{", "请求体必须是合法的JSON"},
      {"not json", "请求体必须是合法的JSON"},
      {"[]", "请求体必须是 JSON 对象"},
      {"null", "请求体必须是 JSON 对象"},
      {R"("provider")", "请求体必须是 JSON 对象"},
      {R"({"value":"provider","value":"global_key"})", "请求体中存在重复的键"},
      {R"({"value":"provider","description":5})", "description 必须是字符串或 null"},
  };
  for (const auto& c : cases) {
    auto put = ParseSystemConfigPut(c.body);
    ASSERT_FALSE(put.ok()) << c.body;
    EXPECT_EQ(put.error().code, ErrorCode::kInvalidArgument) << c.body;
    EXPECT_EQ(put.error().message, c.message) << c.body;
  }
  const std::string longest(kMaxSystemConfigDescriptionChars, 'x');
  const std::string cjk_longest = [] {
    std::string s;
    for (size_t i = 0; i < kMaxSystemConfigDescriptionChars; ++i) s += "模";
    return s;
  }();
  EXPECT_TRUE(ParseSystemConfigPut(R"({"value":"p","description":")" + longest + "\"}").ok());
  EXPECT_TRUE(ParseSystemConfigPut(R"({"value":"p","description":")" + cjk_longest + "\"}").ok());
  auto too_long = ParseSystemConfigPut(R"({"value":"p","description":")" + longest + "x\"}");
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().message, "description 最多 1000 个字符");
  // Unknown members are ignored; a null description is no description.
  auto put = ParseSystemConfigPut(R"({"value":"p","description":null,"other":[1]})");
  ASSERT_TRUE(put.ok());
  EXPECT_FALSE(put->description.has_value());
}

std::unique_ptr<Command> Set(std::string key, std::string value_json,
                             std::optional<std::string> description = std::nullopt) {
  return MakeSetSystemConfig(std::move(key), std::move(value_json), std::move(description));
}

TEST(SystemConfigTest, SetRecordsAnEventAndKeepsAethersDescriptionRule) {
  Harness h(Harness::Store::kRocks);
  EXPECT_EQ(SystemConfigGetJson(*h.registry().Current(), Spec("scheduling_mode")),
            R"({"key":"scheduling_mode","value":"cache_affinity"})");
  EXPECT_EQ(SystemConfigVersion(*h.registry().Current(), "scheduling_mode"), 0u);

  auto first = h.Run(Set("scheduling_mode", R"("load_balance")", "modes"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->etag, 1u);
  EXPECT_EQ(
      first->body.rfind(
          R"({"key":"scheduling_mode","value":"load_balance","description":"modes","updated_at":")",
          0),
      0u)
      << first->body;
  EXPECT_NE(first->body.find("+00:00\"}"), std::string::npos) << first->body;

  // An empty or absent description keeps the stored one; a non-empty one replaces it.
  ASSERT_TRUE(h.Run(Set("scheduling_mode", R"("fixed_order")", "")).ok());
  EXPECT_EQ(h.registry().Current()->system_configs.at("scheduling_mode").description, "modes");
  ASSERT_TRUE(h.Run(Set("scheduling_mode", R"("fixed_order")")).ok());
  EXPECT_EQ(h.registry().Current()->system_configs.at("scheduling_mode").description, "modes");
  ASSERT_TRUE(h.Run(Set("scheduling_mode", R"("fixed_order")", "new")).ok());
  const auto& c = h.registry().Current()->system_configs.at("scheduling_mode");
  EXPECT_EQ(c.description, "new");
  EXPECT_EQ(c.version, 4u);
  EXPECT_EQ(c.value, R"("fixed_order")");
  EXPECT_EQ(SystemConfigGetJson(*h.registry().Current(), Spec("scheduling_mode")),
            R"({"key":"scheduling_mode","value":"fixed_order"})");

  // The events: one per set, on the key's stream, with who and from where.
  auto events = h.log().ReadStream("system-config-scheduling_mode", 1, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 4u);
  EXPECT_EQ((*events)[0].type, events::EventType::kSystemConfigSet);
  EXPECT_EQ((*events)[0].payload,
            R"({"key":"scheduling_mode","value":"load_balance","description":"modes"})");
  EXPECT_EQ((*events)[0].metadata.actor, Harness::Admin().actor);
  EXPECT_EQ((*events)[3].stream_version, 4u);

  // If-Match names the config's version.
  RequestContext stale = Harness::Admin();
  stale.if_match = 2;
  auto refused = h.Run(Set("scheduling_mode", R"("load_balance")"), stale);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kPreconditionFailed);
  RequestContext fresh = Harness::Admin();
  fresh.if_match = 0;
  EXPECT_TRUE(h.Run(Set("provider_priority_mode", R"("global_key")"), fresh).ok());

  // An unknown key never becomes an event, even if a caller skipped the catalogue check.
  auto unknown = h.Run(Set("smtp_host", R"("x")"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
}

TEST(SystemConfigTest, SurvivesReopenSnapshotAndFullReplay) {
  Harness h(Harness::Store::kRocks);
  const std::string before = projections::SerializeState(*h.registry().Current());
  EXPECT_EQ(before.rfind(R"({"format":3,)", 0), 0u);
  EXPECT_EQ(before.find("system_configs"), std::string::npos);  // only once a config is set

  ASSERT_TRUE(h.Run(Set("provider_priority_mode", R"("global_key")", "d")).ok());
  ASSERT_TRUE(h.Run(Set("scheduling_mode", R"("fixed_order")")).ok());
  projections::StatePtr live = h.registry().Current();
  const std::string body = projections::SerializeState(*live);
  EXPECT_EQ(body.rfind(R"({"format":3,)", 0), 0u) << body;

  // The snapshot codec round-trips the configs byte for byte.
  auto decoded = projections::DeserializeState(body);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->system_configs, live->system_configs);
  EXPECT_EQ(projections::StateDigestHex(*decoded), projections::StateDigestHex(*live));
  // Entity digests name the configs, so a rebuild can say which one differs.
  auto digests = projections::EntityDigests(*live);
  ASSERT_GE(digests.size(), 2u);
  EXPECT_EQ(digests[digests.size() - 2].first, "system-config:provider_priority_mode");
  EXPECT_EQ(digests.back().first, "system-config:scheduling_mode");

  // A full replay from the log folds to the same state.
  auto replayed = projections::StateAsOf(h.log(), nullptr, live->sequence);
  ASSERT_TRUE(replayed.ok());
  EXPECT_EQ(projections::StateDigestHex(*replayed), projections::StateDigestHex(*live));
  // Before the first set, the state as of then has no config.
  auto earlier = projections::StateAsOf(h.log(), nullptr, live->sequence - 1);
  ASSERT_TRUE(earlier.ok());
  EXPECT_EQ(earlier->system_configs.size(), 1u);

  // Reopen: the snapshot written at close is loaded.
  const std::string digest = projections::StateDigestHex(*live);
  h.Reopen();
  EXPECT_EQ(projections::StateDigestHex(*h.registry().Current()), digest);
  EXPECT_EQ(SystemConfigGetJson(*h.registry().Current(), Spec("provider_priority_mode")),
            R"({"key":"provider_priority_mode","value":"global_key"})");
  EXPECT_EQ(h.registry().Current()->system_configs.at("provider_priority_mode").description, "d");
  auto snapshots = h.registry().snapshots().List();
  ASSERT_TRUE(snapshots.ok());
  ASSERT_FALSE(snapshots->empty());
  EXPECT_EQ(snapshots->back().digest, digest);
}

TEST(SystemConfigTest, SnapshotDecoderRefusesBrokenConfigs) {
  const std::string head =
      R"({"format":3,"sequence":1,"time_us":1,"keyring_version":0,"providers":[],"endpoints":[],"keys":[],"system_configs":)";
  EXPECT_FALSE(projections::DeserializeState(head + R"([{"key":"a"}]})").ok());  // no value
  EXPECT_FALSE(
      projections::DeserializeState(head + R"([{"key":"a","value":"x","extra":1}]})").ok());
  EXPECT_FALSE(
      projections::DeserializeState(head + R"([{"key":"a","value":"x"},{"key":"a","value":"y"}]})")
          .ok());
  EXPECT_FALSE(
      projections::DeserializeState(
          R"({"format":4,"sequence":1,"time_us":1,"keyring_version":0,"providers":[],"endpoints":[],"keys":[]})")
          .ok());
}

}  // namespace
}  // namespace keyledger::registry
