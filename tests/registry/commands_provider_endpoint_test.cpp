// Provider and endpoint bodies (aether-spec.md §10): Aether's hand-validated 400 answers for
// provider POST/PUT, FastAPI 422s for provider PATCH and endpoints, and the proxy rules.

#include <gtest/gtest.h>

#include <string>

#include "events/time_format.hpp"
#include "src/commands.hpp"
#include "tests/registry/input_test_util.hpp"

namespace keyledger::registry {
namespace {

using testing::Detail;

template <typename T>
std::string BadRequest(const Result<T>& r) {
  if (r.ok()) return "<ok>";
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().message;
  return r.error().message;
}

// ---------------------------------------------------------------------------------------------
// POST /api/admin/providers/ and PUT: 400 invalid_request with Aether's messages

TEST(ProviderCommandsTest, BodyProblemsAreAethersFourHundreds) {
  EXPECT_EQ(BadRequest(ParseProviderCreate("")), "请求体不能为空");
  EXPECT_EQ(BadRequest(ParseProviderCreate("  ")), "请求体必须是合法的JSON");
  EXPECT_EQ(BadRequest(ParseProviderCreate(R"({"name":)")), "请求体必须是合法的JSON");
  EXPECT_EQ(BadRequest(ParseProviderCreate("{\"name\":\"\xFF\"}")), "请求体必须是合法的JSON");
  EXPECT_EQ(BadRequest(ParseProviderCreate("[]")),
            "输入验证失败: : Input should be a valid dictionary or instance of "
            "CreateProviderRequest");
  EXPECT_EQ(BadRequest(ParseProviderUpdate("null")),
            "输入验证失败: : Input should be a valid dictionary or instance of "
            "UpdateProviderRequest");
  EXPECT_EQ(BadRequest(ParseProviderCreate(R"({"name":"p","name":"q"})")),
            "输入验证失败: name: Value error, JSON 对象中存在重复的键");
  EXPECT_EQ(BadRequest(ParseProviderUpdate("")), "请求体不能为空");
}

TEST(ProviderCommandsTest, FieldErrorsAreJoinedInDeclarationOrder) {
  auto r = ParseProviderCreate(
      R"({"proxy":{"password":"pw-MARK"},"timeout":0,"billing_type":"prepaid","name":""})");
  EXPECT_EQ(BadRequest(r),
            "输入验证失败: name: String should have at least 1 character; billing_type: Value "
            "error, 无效的计费类型，有效值为: monthly_quota, pay_as_you_go, free_tier; timeout: "
            "Input should be greater than or equal to 1; proxy -> url: Field required");
  // The details keep FastAPI's shape (for logs); the proxy password is redacted there too.
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().details.size(), 4u);
  EXPECT_EQ(ValidationErrorBody(r.error().details).find("pw-MARK"), std::string::npos);
  EXPECT_EQ(BadRequest(ParseProviderCreate(R"({"name":"p","is_active":null})")),
            "输入验证失败: is_active: Input should be a valid boolean");
  EXPECT_EQ(BadRequest(ParseProviderCreate(R"({"name":"p","proxy":"x"})")),
            "输入验证失败: proxy: Input should be a valid dictionary or instance of ProxyConfig");
  EXPECT_EQ(BadRequest(ParseProviderCreate(
                R"({"name":"p","quota_reset_day":366,"provider_priority":1001,"max_retries":11,)"
                R"("monthly_quota_usd":-1,"concurrent_limit":-1,"quota_expires_at":"soon"})")),
            "输入验证失败: monthly_quota_usd: Input should be greater than or equal to 0; "
            "quota_reset_day: Input should be less than or equal to 365; quota_expires_at: Input "
            "should be a valid datetime or date, input is too short; provider_priority: Input "
            "should be less than or equal to 1000; concurrent_limit: Input should be greater "
            "than or equal to 0; max_retries: Input should be less than or equal to 10");
}

TEST(ProviderCommandsTest, CreateValuesAndDefaults) {
  auto r = ParseProviderCreate(
      R"({"name":"  Provider 一 <x>  ","website":"example.com","description":" d\nline ",)"
      R"("quota_last_reset_at":"2026-01-13T13:00:00+08:00","config":{"b":1,"a":[1.0,2]},)"
      R"("billing_type":"monthly_quota","monthly_quota_usd":"12.5"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ProviderCreate& p = *r;
  EXPECT_EQ(p.name, "Provider 一 <x>");  // no regex or SQL-keyword filtering
  EXPECT_EQ(p.website, "https://example.com");
  EXPECT_EQ(p.description, "d\nline");
  EXPECT_EQ(p.billing_type, "monthly_quota");
  EXPECT_EQ(p.monthly_quota_usd, 12.5);
  EXPECT_EQ(events::FormatTimestampZ(*p.quota_last_reset_at), "2026-01-13T05:00:00Z");
  EXPECT_EQ(p.config, R"({"b":1,"a":[1.0,2]})");
  EXPECT_EQ(p.quota_reset_day, 30);
  EXPECT_EQ(p.provider_priority, 100);
  EXPECT_TRUE(p.is_active);
  EXPECT_EQ(p.timeout, 300);
  EXPECT_EQ(p.max_retries, 2);
  EXPECT_FALSE(p.proxy.has_value());

  auto nulls = ParseProviderCreate(
      R"({"name":"p","billing_type":null,"quota_reset_day":null,"website":"  ","timeout":null})");
  ASSERT_TRUE(nulls.ok());
  EXPECT_EQ(nulls->billing_type, "pay_as_you_go");   // Aether's validator turns null into default
  EXPECT_FALSE(nulls->quota_reset_day.has_value());  // nullable columns store NULL
  EXPECT_FALSE(nulls->website.has_value());
  EXPECT_FALSE(nulls->timeout.has_value());
  EXPECT_EQ(ParseProviderCreate(R"({"name":"p","website":"HTTP://x.org"})")->website,
            "HTTP://x.org");
  EXPECT_EQ(BadRequest(ParseProviderCreate(R"({"name":"   "})")),
            "输入验证失败: name: Value error, 名称不能为空白");
  EXPECT_EQ(BadRequest(ParseProviderCreate(R"({"name":"a\u001bb"})")),
            "输入验证失败: name: Value error, 名称不能包含控制字符");
}

TEST(ProviderCommandsTest, UpdateIsAPatchWithNullRules) {
  auto r = ParseProviderUpdate(
      R"({"website":"","billing_type":null,"timeout":null,"description":null,"is_active":"no"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->website.is_null());
  EXPECT_EQ(r->billing_type.value(), "pay_as_you_go");
  EXPECT_TRUE(r->timeout.is_null());
  EXPECT_TRUE(r->description.is_null());
  EXPECT_FALSE(r->is_active.value());
  EXPECT_TRUE(r->name.absent());
  EXPECT_TRUE(ParseProviderUpdate("{}")->empty());
  EXPECT_EQ(BadRequest(ParseProviderUpdate(R"({"name":null,"is_active":null})")),
            "输入验证失败: name: Input should be a valid string; is_active: Input should be a "
            "valid boolean");
}

// ---------------------------------------------------------------------------------------------
// PATCH /api/admin/providers/{id}: FastAPI 422, Aether's PATCH field set

TEST(ProviderCommandsTest, PatchIsFastApiValidated) {
  EXPECT_EQ(
      Detail(ParseProviderPatch(R"({"quota_reset_day":32,"is_active":null,"proxy":5,"name":""})")),
      R"({"detail":[)"
      R"({"type":"string_too_short","loc":["body","name"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}},)"
      R"({"type":"bool_type","loc":["body","is_active"],"msg":"Input should be a valid boolean","input":null},)"
      R"({"type":"less_than_equal","loc":["body","quota_reset_day"],"msg":"Input should be less than or equal to 31","input":32,"ctx":{"le":31}},)"
      R"({"type":"dict_type","loc":["body","proxy"],"msg":"Input should be a valid dictionary","input":5}]})");
  EXPECT_EQ(
      Detail(ParseProviderPatch("[]")),
      R"({"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[]}]})");
  EXPECT_EQ(
      Detail(ParseProviderPatch("")),
      R"({"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]})");
  // Fields outside the PATCH model are ignored, as pydantic ignores extras.
  auto r = ParseProviderPatch(R"({"quota_reset_day":31,"config":{"a":1},"concurrent_limit":-5})");
  ASSERT_TRUE(r.ok()) << Detail(r);
  EXPECT_EQ(r->quota_reset_day.value(), 31);
  EXPECT_TRUE(r->config.absent());
  EXPECT_TRUE(r->concurrent_limit.absent());
}

// ---------------------------------------------------------------------------------------------
// Proxy

TEST(ProxyTest, UrlRulesAndSecrets) {
  auto ok = ParseEndpointCreate(
      R"({"provider_id":"p","api_format":"claude","base_url":"https://h",)"
      R"("proxy":{"url":" SOCKS5://h:1080 ","username":"u","password":"pw-MARK"}})");
  ASSERT_TRUE(ok.ok()) << Detail(ok);
  ASSERT_TRUE(ok->proxy.has_value());
  EXPECT_EQ(ok->proxy->url, "SOCKS5://h:1080");
  EXPECT_EQ(ok->proxy->password, "pw-MARK");
  EXPECT_TRUE(ok->proxy->enabled);
  EXPECT_EQ(ok->proxy->ToMaskedJson(),
            R"({"url":"SOCKS5://h:1080","username":"u","password":"***","enabled":true})");

  struct Case {
    const char* url;
    const char* message;
  };
  const Case cases[] = {
      {"ftp://h", "代理 URL 必须以 http://, https:// 或 socks5:// 开头"},
      {"socks4://h", "代理 URL 必须以 http://, https:// 或 socks5:// 开头"},
      {"", "代理 URL 必须以 http://, https:// 或 socks5:// 开头"},
      {"http://", "代理 URL 必须包含有效的 host"},
      {"http:///path", "代理 URL 必须包含有效的 host"},
      {"http://h\\nx", "代理 URL 包含非法字符"},
      {"http://h\\tx", "代理 URL 包含非法字符"},
      {"http://user:pw-MARK@h:8080", "请勿在 URL 中包含用户名和密码，请使用独立的认证字段"},
      {"http://:pw-MARK@h", "请勿在 URL 中包含用户名和密码，请使用独立的认证字段"},
      {"http://user@h", "请勿在 URL 中包含用户名和密码，请使用独立的认证字段"},
  };
  for (const auto& c : cases) {
    std::string body =
        R"({"provider_id":"p","api_format":"CLAUDE","base_url":"https://h","proxy":{"url":")" +
        std::string(c.url) + R"(","password":"pw-MARK"}})";
    auto r = ParseEndpointCreate(body);
    ASSERT_FALSE(r.ok()) << c.url;
    ASSERT_EQ(r.error().details.size(), 1u) << c.url;
    const FieldError& e = r.error().details[0];
    EXPECT_EQ(e.loc, (Loc{"body", "proxy", "url"})) << c.url;
    EXPECT_EQ(e.msg, "Value error, " + std::string(c.message)) << c.url;
    // Neither the proxy password nor credentials inside the URL are ever echoed.
    EXPECT_EQ(ValidationErrorBody(r.error().details).find("pw-MARK"), std::string::npos)
        << ValidationErrorBody(r.error().details);
  }
  // "http://@h" has no user-info to speak of: urlparse gives an empty user and no password.
  EXPECT_TRUE(
      ParseEndpointCreate(
          R"({"provider_id":"p","api_format":"CLAUDE","base_url":"https://h","proxy":{"url":"http://@h"}})")
          .ok());
  EXPECT_EQ(
      Detail(ParseEndpointCreate(
          R"({"provider_id":"p","api_format":"CLAUDE","base_url":"https://h","proxy":{"password":"pw-MARK","enabled":null,"username":5}})")),
      R"({"detail":[)"
      R"({"type":"missing","loc":["body","proxy","url"],"msg":"Field required","input":{"password":"[redacted]","enabled":null,"username":5}},)"
      R"({"type":"string_type","loc":["body","proxy","username"],"msg":"Input should be a valid string","input":5},)"
      R"({"type":"bool_type","loc":["body","proxy","enabled"],"msg":"Input should be a valid boolean","input":null}]})");
  EXPECT_EQ(
      Detail(ParseEndpointCreate(
          R"({"provider_id":"p","api_format":"CLAUDE","base_url":"https://h","proxy":{"url":"http://h","password":[1]}})")),
      R"({"detail":[{"type":"string_type","loc":["body","proxy","password"],"msg":"Input should be a valid string"}]})");
}

// ---------------------------------------------------------------------------------------------
// Endpoints (aether-spec.md §10.2)

TEST(EndpointCommandsTest, CreateRulesAndDefaults) {
  auto r = ParseEndpointCreate(
      R"({"provider_id":"p-1","api_format":"claude","base_url":"https://api.example.com///",)"
      R"("custom_path":"/v1/messages","headers":{"X-A":"1","anthropic-version":"2023-06-01"},)"
      R"("config":{"z":null}})");
  ASSERT_TRUE(r.ok()) << Detail(r);
  EXPECT_EQ(r->provider_id, "p-1");
  EXPECT_EQ(r->api_format, "CLAUDE");
  EXPECT_EQ(r->base_url, "https://api.example.com");
  EXPECT_EQ(r->custom_path, "/v1/messages");
  EXPECT_EQ(HeadersToJson(*r->headers), R"({"X-A":"1","anthropic-version":"2023-06-01"})");
  EXPECT_EQ(r->timeout, 300);
  EXPECT_EQ(r->max_retries, 2);
  EXPECT_EQ(r->config, R"({"z":null})");
  EXPECT_FALSE(r->proxy.has_value());
  EXPECT_EQ(ParseEndpointCreate(
                R"({"provider_id":"p","api_format":"OPENAI","base_url":"HTTP://h:8080/v1/"})")
                ->base_url,
            "HTTP://h:8080/v1");
}

TEST(EndpointCommandsTest, CreateErrors) {
  EXPECT_EQ(
      Detail(ParseEndpointCreate("{}")),
      R"({"detail":[{"type":"missing","loc":["body","provider_id"],"msg":"Field required","input":{}},{"type":"missing","loc":["body","api_format"],"msg":"Field required","input":{}},{"type":"missing","loc":["body","base_url"],"msg":"Field required","input":{}}]})");
  EXPECT_EQ(
      Detail(ParseEndpointCreate(
          R"({"provider_id":"p","api_format":"foo","base_url":"ftp://x","timeout":5,"max_retries":11})")),
      R"({"detail":[)"
      R"({"type":"value_error","loc":["body","api_format"],"msg":"Value error, API 格式必须是 ['CLAUDE', 'CLAUDE_CLI', 'OPENAI', 'OPENAI_CLI', 'GEMINI', 'GEMINI_CLI'] 之一","input":"foo","ctx":{"error":{}}},)"
      R"({"type":"value_error","loc":["body","base_url"],"msg":"Value error, URL 必须以 http:// 或 https:// 开头","input":"ftp://x","ctx":{"error":{}}},)"
      R"({"type":"greater_than_equal","loc":["body","timeout"],"msg":"Input should be greater than or equal to 10","input":5,"ctx":{"ge":10}},)"
      R"({"type":"less_than_equal","loc":["body","max_retries"],"msg":"Input should be less than or equal to 10","input":11,"ctx":{"le":10}}]})");
  struct Case {
    const char* base_url;
    const char* detail_type;
    const char* msg;
  };
  const Case cases[] = {
      {"", "string_too_short", "String should have at least 1 character"},
      {" https://h", "value_error", "Value error, URL 必须以 http:// 或 https:// 开头"},
      {"https://h x", "value_error", "Value error, URL 包含非法字符"},
      {"https://", "value_error", "Value error, URL 必须包含有效的 host"},
      {"https:///", "value_error", "Value error, URL 必须包含有效的 host"},
      {"https://?q", "value_error", "Value error, URL 必须包含有效的 host"},
  };
  for (const auto& c : cases) {
    auto r = ParseEndpointCreate(R"({"provider_id":"p","api_format":"CLAUDE","base_url":")" +
                                 std::string(c.base_url) + "\"}");
    ASSERT_FALSE(r.ok()) << c.base_url;
    ASSERT_EQ(r.error().details.size(), 1u);
    EXPECT_EQ(r.error().details[0].type, c.detail_type) << c.base_url;
    EXPECT_EQ(r.error().details[0].msg, c.msg) << c.base_url;
  }
  EXPECT_FALSE(
      ParseEndpointCreate(R"({"provider_id":"p","api_format":"CLAUDE","base_url":"https://)" +
                          std::string(493, 'h') + "\"}")
          .ok());  // 501 characters
}

TEST(EndpointCommandsTest, HeadersMustBeSafeToSend) {
  auto detail = [](std::string_view headers) {
    return Detail(ParseEndpointCreate(
        R"({"provider_id":"p","api_format":"CLAUDE","base_url":"https://x","headers":)" +
        std::string(headers) + "}"));
  };
  EXPECT_EQ(
      detail(R"({"Bad Name":"v"})"),
      R"({"detail":[{"type":"value_error","loc":["body","headers"],"msg":"Value error, 请求头名称不合法: Bad Name","input":{"Bad Name":"v"},"ctx":{"error":{}}}]})");
  EXPECT_EQ(
      detail(R"({"X":"a\r\nInjected: 1"})"),
      R"({"detail":[{"type":"value_error","loc":["body","headers"],"msg":"Value error, 请求头 X 的值包含非法字符","input":{"X":"a\r\nInjected: 1"},"ctx":{"error":{}}}]})");
  EXPECT_EQ(
      detail(R"({"X":"a","x":"b"})"),
      R"({"detail":[{"type":"value_error","loc":["body","headers"],"msg":"Value error, 请求头重复: x","input":{"X":"a","x":"b"},"ctx":{"error":{}}}]})");
  EXPECT_EQ(
      detail(R"({"X":1})"),
      R"({"detail":[{"type":"string_type","loc":["body","headers","X"],"msg":"Input should be a valid string","input":1}]})");
  EXPECT_EQ(detail(R"({"X":"tab\tok"})"), "<ok>");
  // A refused header set never echoes credentials it carries.
  EXPECT_EQ(
      detail(R"({"Authorization":"Bearer sk-MARK","Bad Name":"v"})"),
      R"({"detail":[{"type":"value_error","loc":["body","headers"],"msg":"Value error, 请求头名称不合法: Bad Name","input":{"Authorization":"[redacted]","Bad Name":"v"},"ctx":{"error":{}}}]})");
  EXPECT_EQ(
      detail("[]"),
      R"({"detail":[{"type":"dict_type","loc":["body","headers"],"msg":"Input should be a valid dictionary","input":[]}]})");
}

TEST(EndpointCommandsTest, UpdateNullsAndValues) {
  EXPECT_EQ(
      Detail(ParseEndpointUpdate(
          R"({"base_url":null,"timeout":null,"max_retries":null,"is_active":null,"custom_path":null,)"
          R"("headers":null,"config":null,"proxy":null})")),
      R"({"detail":[)"
      R"({"type":"string_type","loc":["body","base_url"],"msg":"Input should be a valid string","input":null},)"
      R"({"type":"int_type","loc":["body","timeout"],"msg":"Input should be a valid integer","input":null},)"
      R"({"type":"int_type","loc":["body","max_retries"],"msg":"Input should be a valid integer","input":null},)"
      R"({"type":"bool_type","loc":["body","is_active"],"msg":"Input should be a valid boolean","input":null}]})");
  auto r = ParseEndpointUpdate(
      R"({"custom_path":null,"headers":null,"config":null,"proxy":{"url":"https://h","enabled":"no"},"is_active":0})");
  ASSERT_TRUE(r.ok()) << Detail(r);
  EXPECT_TRUE(r->custom_path.is_null());
  EXPECT_TRUE(r->headers.is_null());
  EXPECT_TRUE(r->config.is_null());
  EXPECT_FALSE(r->proxy.value().enabled);
  EXPECT_FALSE(r->proxy.value().password.has_value());  // the handler keeps the stored one
  EXPECT_FALSE(r->is_active.value());
  EXPECT_TRUE(r->base_url.absent());
  EXPECT_TRUE(ParseEndpointUpdate("{}")->empty());
  EXPECT_EQ(
      Detail(ParseEndpointUpdate(R"({"config":{"n":18446744073709551616}})")),
      R"({"detail":[{"type":"value_error","loc":["body","config","n"],"msg":"Value error, 数字超出可存储的范围（需为有限的 64 位数值）","input":18446744073709551616,"ctx":{"error":{}}}]})");
}

}  // namespace
}  // namespace keyledger::registry
