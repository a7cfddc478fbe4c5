// The admin API end to end over real HTTP and a real data directory: every route family, the
// status codes the server produces (200, 307, 400, 401/403 in auth_e2e_test.cpp, 404, 405, 412,
// 413, 422, 429 in auth_e2e_test.cpp, 431, 503 in durability_e2e_test.cpp), the member order of
// K1-K3 (aether-spec.md §7) and K4 (§8.4), spec §6.4's validation table, ETag/If-Match, time
// travel, the audit feed, checkpoints, digests and SSE.
//
// Statuses not produced here and why: 409 (kVersionConflict) needs two writers on one stream;
// keyledgerd has a single writer, so no request can provoke it. 500 is only for bugs (a handler
// that throws or drops its responder); no legitimate request reaches it.
#include <signal.h>

#include <fstream>
#include <thread>

#include "tests/e2e/e2e_support.hpp"

namespace keyledger::e2e {
namespace {

class RoutesTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    StartServer();
  }

  // The ids of a K4 format group, in order.
  static std::vector<std::string> GroupIds(const Json& grouped, std::string_view format) {
    std::vector<std::string> ids;
    for (auto e : Items(grouped[format])) ids.push_back(Str(e, "id").value_or(""));
    return ids;
  }

  // The first entry of a 422 body.
  static simdjson::dom::element FirstDetail(const Json& j) { return Items(j["detail"]).at(0); }
};

std::string Masked(const std::string& secret) {
  return secret.substr(0, 8) + "***" + secret.substr(secret.size() - 4);
}

TEST_F(RoutesTest, KeyResponsesHaveTheSpecMembersInTheSpecOrder) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "order-provider");
  CreateEndpoint(admin, provider, "CLAUDE", "https://api.anthropic.example/");
  const std::string secret = NewSecret("order");

  // K2 with every field, exercising the normalizations of spec §6.1/§6.3.
  TestResponse created = admin.Post(
      KeysOf(provider),
      R"({"api_formats":["claude","OPENAI","CLAUDE"],"api_key":)" + Quote("  " + secret + " ") +
          R"(,"name":" main ","rate_multiplier":1.5,"rate_multipliers":{"claude":0.5},)"
          R"("internal_priority":7,"rpm_limit":"120","allowed_models":[" a ","a","","b"],)"
          R"("capabilities":{"cache_1h":true,"context_1m":false},"cache_ttl_minutes":10,)"
          R"("max_probe_interval_minutes":16,"note":"<script>x</script> monthly=100"})");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(created.Header("ETag"), "\"1\"");
  EXPECT_EQ(created.Header("Content-Type"), "application/json");
  Json k2(created.body);
  ASSERT_TRUE(k2.ok());
  EXPECT_EQ(Keys(k2.root()), SpecKeyResponseOrder());
  const std::string id = Str(k2.root(), "id").value_or("");
  EXPECT_EQ(Str(k2.root(), "provider_id"), provider);
  EXPECT_EQ(ToJson(k2["api_formats"]), R"(["CLAUDE","OPENAI"])");
  EXPECT_EQ(Str(k2.root(), "api_key_masked"), Masked(secret));
  EXPECT_TRUE(IsNull(k2.root(), "api_key_plain")) << "create must not echo the plaintext";
  EXPECT_EQ(created.body.find(secret), std::string::npos);
  EXPECT_EQ(Str(k2.root(), "name"), "main");
  EXPECT_EQ(Num(k2.root(), "rate_multiplier"), 1.5);
  EXPECT_EQ(ToJson(k2["rate_multipliers"]), R"({"CLAUDE":0.5})");
  EXPECT_EQ(Int(k2.root(), "internal_priority"), 7);
  EXPECT_TRUE(IsNull(k2.root(), "global_priority"));
  EXPECT_EQ(Int(k2.root(), "rpm_limit"), 120);
  EXPECT_EQ(ToJson(k2["allowed_models"]), R"(["a","b"])");
  EXPECT_EQ(ToJson(k2["capabilities"]), R"({"cache_1h":true,"context_1m":false})");
  EXPECT_EQ(Int(k2.root(), "cache_ttl_minutes"), 10);
  EXPECT_EQ(Int(k2.root(), "max_probe_interval_minutes"), 16);
  EXPECT_EQ(ToJson(k2["health_by_format"]), "{}");
  EXPECT_EQ(ToJson(k2["circuit_breaker_by_format"]), "{}");
  EXPECT_EQ(Num(k2.root(), "health_score"), 1.0);
  EXPECT_EQ(Int(k2.root(), "consecutive_failures"), 0);
  EXPECT_TRUE(IsNull(k2.root(), "last_failure_at"));
  EXPECT_EQ(Bool(k2.root(), "circuit_breaker_open"), false);
  EXPECT_TRUE(IsNull(k2.root(), "request_results_window"));
  EXPECT_EQ(Num(k2.root(), "success_rate"), 0.0);
  EXPECT_EQ(Num(k2.root(), "avg_response_time_ms"), 0.0);
  EXPECT_EQ(Bool(k2.root(), "is_active"), true);
  EXPECT_EQ(Bool(k2.root(), "is_adaptive"), false);
  EXPECT_EQ(Int(k2.root(), "effective_limit"), 120);
  // Names and notes are stored as given (stripped), not regex-mangled (DESIGN.md).
  EXPECT_EQ(Str(k2.root(), "note"), "<script>x</script> monthly=100");
  const std::string created_at = Str(k2.root(), "created_at").value_or("");
  EXPECT_EQ(created_at.back(), 'Z') << created_at;
  EXPECT_EQ(Str(k2.root(), "updated_at"), created_at);

  // K3: a partial update; explicit null switches to adaptive mode.
  TestResponse updated =
      admin.Put(KeyPath(id), R"({"rpm_limit":null,"global_priority":3,"is_active":"yes"})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.Header("ETag"), "\"2\"");
  Json k3(updated.body);
  EXPECT_EQ(Keys(k3.root()), SpecKeyResponseOrder());
  EXPECT_TRUE(IsNull(k3.root(), "rpm_limit"));
  EXPECT_EQ(Bool(k3.root(), "is_adaptive"), true);
  EXPECT_TRUE(IsNull(k3.root(), "learned_rpm_limit"));
  EXPECT_EQ(Int(k3.root(), "effective_limit"), 50);
  EXPECT_EQ(Int(k3.root(), "global_priority"), 3);
  EXPECT_EQ(Str(k3.root(), "name"), "main") << "absent fields are untouched";
  EXPECT_EQ(Str(k3.root(), "created_at"), created_at);

  // K3 with {}: valid, and the key is answered as it is.
  TestResponse empty = admin.Put(KeyPath(id), "{}");
  EXPECT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(Keys(Json(empty.body).root()), SpecKeyResponseOrder());

  // K1: every item in the same order.
  CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("order-2"), "second");
  TestResponse listed = admin.Get(KeysOf(provider));
  ASSERT_EQ(listed.status, 200) << listed.body;
  Json k1(listed.body);
  auto items = Items(k1.root());
  ASSERT_EQ(items.size(), 2u);
  for (auto item : items) EXPECT_EQ(Keys(item), SpecKeyResponseOrder());
  // internal_priority 7 before the default 50.
  EXPECT_EQ(Str(items[0], "id"), id);
  EXPECT_EQ(Str(items[1], "name"), "second");
  EXPECT_EQ(listed.body.find(secret), std::string::npos);

  // K4: entries with §8.4's members in §8.4's order, one per (key, format).
  TestResponse grouped = admin.Get(std::string(kEndpointsBase) + "/keys/grouped-by-format");
  ASSERT_EQ(grouped.status, 200) << grouped.body;
  Json k4(grouped.body);
  EXPECT_EQ(Keys(k4.root()), (std::vector<std::string>{"CLAUDE", "OPENAI"}));
  for (const std::string& format : Keys(k4.root())) {
    for (auto entry : Items(k4[format])) {
      EXPECT_EQ(Keys(entry), SpecGroupedEntryOrder());
      EXPECT_EQ(Str(entry, "api_format"), format);
    }
  }
  auto first = Items(k4["CLAUDE"]).at(0);
  EXPECT_EQ(Str(first, "id"), id);
  EXPECT_EQ(Str(first, "provider_name"), "order-provider");
  EXPECT_EQ(ToJson(first["api_formats"]), R"(["CLAUDE","OPENAI"])");
  EXPECT_EQ(ToJson(first["capabilities"]), R"(["1h缓存"])");
  EXPECT_TRUE(IsNull(first, "success_rate"));
  EXPECT_TRUE(IsNull(first, "avg_response_time_ms"));
  EXPECT_EQ(Str(first, "endpoint_base_url"), "https://api.anthropic.example");
  auto openai = Items(k4["OPENAI"]).at(0);
  EXPECT_TRUE(IsNull(openai, "endpoint_base_url")) << "no OPENAI endpoint: null";
  EXPECT_EQ(Num(openai, "health_score"), 1.0);
  EXPECT_EQ(Bool(openai, "circuit_breaker_open"), false);
}

TEST_F(RoutesTest, ReadyLineNamesTheAllocatorTheBuildLinked) {
  const std::string err = daemon_->CurrentStderr();
  const size_t ready = err.find(R"("msg":"keyledgerd ready")");
  ASSERT_NE(ready, std::string::npos) << err;
  const std::string line = err.substr(ready, err.find('\n', ready) - ready);
#ifdef KEYLEDGER_WITH_JEMALLOC
  // jemalloc answered mallctl("version"): it is the allocator in use, not only on the link line.
  EXPECT_NE(line.find(R"("allocator":"jemalloc 5.)"), std::string::npos) << line;
#else
  EXPECT_NE(line.find(R"("allocator":"libc")"), std::string::npos) << line;
#endif
}

TEST_F(RoutesTest, GroupedViewOrderAndFilters) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string p1 = CreateProvider(admin, "alpha");
  const std::string p2 = CreateProvider(admin, "beta");
  const std::string p3 = CreateProvider(admin, "gamma-inactive");
  // Spec §8.4 with DESIGN.md's tie-break: global_priority (nulls last), internal_priority,
  // created_at, id. Only active keys of active providers.
  const auto a =
      CreateKey(admin, p1, R"(["CLAUDE"])", NewSecret("g"), "a", R"(,"internal_priority":1)");
  const auto b = CreateKey(admin, p1, R"(["CLAUDE","GEMINI"])", NewSecret("g"), "b");
  const auto c =
      CreateKey(admin, p2, R"(["CLAUDE"])", NewSecret("g"), "c", R"(,"global_priority":1)");
  const auto d =
      CreateKey(admin, p2, R"(["CLAUDE"])", NewSecret("g"), "d", R"(,"global_priority":2)");
  const auto e = CreateKey(admin, p2, R"(["CLAUDE"])", NewSecret("g"), "inactive");
  const auto f = CreateKey(admin, p3, R"(["CLAUDE"])", NewSecret("g"), "of-inactive-provider");
  const auto g =
      CreateKey(admin, p1, R"(["CLAUDE"])", NewSecret("g"), "g", R"(,"internal_priority":1)");
  EXPECT_EQ(admin.Put(KeyPath(e.id), R"({"is_active":false})").status, 200);
  EXPECT_EQ(admin.Patch(ProviderPath(p3), R"({"is_active":false})").status, 200);

  TestResponse r = admin.Get(std::string(kEndpointsBase) + "/keys/grouped-by-format");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j(r.body);
  EXPECT_EQ(GroupIds(j, "CLAUDE"), (std::vector<std::string>{c.id, d.id, a.id, g.id, b.id}));
  EXPECT_EQ(GroupIds(j, "GEMINI"), (std::vector<std::string>{b.id}));
  // Formats in order of first appearance along that order.
  EXPECT_EQ(Keys(j.root()), (std::vector<std::string>{"CLAUDE", "GEMINI"}));
  (void)f;

  // The Aether UI's PUT {global_priority} once per (format, key) entry: the last one wins.
  EXPECT_EQ(admin.Put(KeyPath(b.id), R"({"global_priority":5})").status, 200);
  EXPECT_EQ(admin.Put(KeyPath(b.id), R"({"global_priority":0})").status, 200);
  Json after(admin.Get(std::string(kEndpointsBase) + "/keys/grouped-by-format").body);
  EXPECT_EQ(GroupIds(after, "CLAUDE").front(), b.id);
  EXPECT_EQ(Int(Items(after["GEMINI"]).at(0), "global_priority"), 0);
}

TEST_F(RoutesTest, ValidationTableOfSpec64ThroughHttp) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "table");
  const auto existing = CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("table"), "existing");

  struct Row {
    std::string name;
    std::string body;
    bool update;
    int status;
    std::string type;  // first 422 entry's type, or the error message
    std::string loc;   // first 422 entry's loc as JSON ("" = don't check)
    std::string msg;   // first 422 entry's msg ("" = don't check)
    std::string ctx;   // first 422 entry's ctx as JSON ("" = don't check)
  };
  auto secret = [&](const char* tag) { return Quote(NewSecret(tag)); };
  const std::string formats = R"("api_formats":["CLAUDE"],)";
  const std::vector<Row> rows = {
      {"api_formats []", R"({"api_formats":[],"api_key":)" + secret("t") + R"(,"name":"n"})", false,
       422, "too_short", R"(["body","api_formats"])",
       "List should have at least 1 item after validation, not 0", ""},
      {"api_formats normalized",
       R"({"api_formats":["claude","CLAUDE","openai_cli"],"api_key":)" + secret("t") +
           R"(,"name":"n"})",
       false, 200, "", "", "", ""},
      {"api_formats foo", R"({"api_formats":["foo"],"api_key":)" + secret("t") + R"(,"name":"n"})",
       false, 422, "value_error", R"(["body","api_formats"])",
       "Value error, API 格式必须是 ['CLAUDE', 'CLAUDE_CLI', 'OPENAI', 'OPENAI_CLI', 'GEMINI', "
       "'GEMINI_CLI'] 之一，当前值: foo",
       R"({"error":{}})"},
      // DESIGN.md: one secret rule, any non-empty string without control characters (Aether
      // accepts "   " and refuses "ab").
      {"api_key 3 spaces", "{" + formats + R"("api_key":"   ","name":"n"})", false, 422,
       "value_error", R"(["body","api_key"])", "Value error, API Key 不能为空", ""},
      {"api_key ab", "{" + formats + R"("api_key":"ab","name":"n"})", false, 200, "", "", "", ""},
      {"update api_key shortkey1", R"({"api_key":"shortkey1"})", true, 200, "", "", "", ""},
      {"rpm_limit 0",
       "{" + formats + R"("api_key":)" + secret("t") + R"(,"name":"n","rpm_limit":0})", false, 422,
       "greater_than_equal", R"(["body","rpm_limit"])",
       "Input should be greater than or equal to 1", R"({"ge":1})"},
      {"rpm_limit \"12\"",
       "{" + formats + R"("api_key":)" + secret("t") + R"(,"name":"n","rpm_limit":"12"})", false,
       200, "", "", "", ""},
      {"rpm_limit true",
       "{" + formats + R"("api_key":)" + secret("t") + R"(,"name":"n","rpm_limit":true})", false,
       200, "", "", "", ""},
      {"rpm_limit 12.5",
       "{" + formats + R"("api_key":)" + secret("t") + R"(,"name":"n","rpm_limit":12.5})", false,
       422, "int_from_float", R"(["body","rpm_limit"])",
       "Input should be a valid integer, got a number with a fractional part", ""},
      {"rate_multiplier 0",
       "{" + formats + R"("api_key":)" + secret("t") + R"(,"name":"n","rate_multiplier":0})", false,
       422, "greater_than_equal", R"(["body","rate_multiplier"])",
       "Input should be greater than or equal to 0.01", R"({"ge":0.01})"},
      {"max_probe_interval_minutes 1",
       "{" + formats + R"("api_key":)" + secret("t") +
           R"(,"name":"n","max_probe_interval_minutes":1})",
       false, 422, "greater_than_equal", R"(["body","max_probe_interval_minutes"])", "",
       R"({"ge":2})"},
      {"cache_ttl_minutes 61",
       "{" + formats + R"("api_key":)" + secret("t") + R"(,"name":"n","cache_ttl_minutes":61})",
       false, 422, "less_than_equal", R"(["body","cache_ttl_minutes"])",
       "Input should be less than or equal to 60", R"({"le":60})"},
      {"missing api_key", "{" + formats + R"("name":"n"})", false, 422, "missing",
       R"(["body","api_key"])", "Field required", ""},
      {"api_formats missing -> 400", R"({"api_key":)" + secret("t") + R"(,"name":"n"})", false, 400,
       "api_formats 为必填字段", "", "", ""},
      {"update {}", "{}", true, 200, "", "", "", ""},
      {"update name \"\"", R"({"name":""})", true, 422, "string_too_short", R"(["body","name"])",
       "String should have at least 1 character", R"({"min_length":1})"},
      // DESIGN.md: an explicit null for a non-nullable field is a 422, never a 500.
      {"update internal_priority null", R"({"internal_priority":null})", true, 422, "int_type",
       R"(["body","internal_priority"])", "Input should be a valid integer", ""},
      {"update name null", R"({"name":null})", true, 422, "string_type", R"(["body","name"])",
       "Input should be a valid string", ""},
      {"update is_active null", R"({"is_active":null})", true, 422, "bool_type",
       R"(["body","is_active"])", "", ""},
      {"malformed JSON", R"({"name":)", true, 422, "json_invalid", "", "JSON decode error", ""},
      {"missing body", "", false, 422, "missing", R"(["body"])", "Field required", ""},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const uint64_t before = HeadSequence();
    TestResponse r = row.update ? admin.Put(KeyPath(existing.id), row.body)
                                : admin.Post(KeysOf(provider), row.body);
    ASSERT_EQ(r.status, row.status) << r.body;
    if (row.status == 200) {
      EXPECT_GT(HeadSequence(), before);
      continue;
    }
    EXPECT_EQ(HeadSequence(), before) << "a refused request appended events";
    Json j(r.body);
    ASSERT_TRUE(j.ok()) << r.body;
    if (row.status == 400) {
      EXPECT_EQ(ToJson(j.root()),
                R"({"error":{"type":"invalid_request","message":)" + Quote(row.type) + "}}");
      continue;
    }
    EXPECT_EQ(Keys(j.root()), std::vector<std::string>{"detail"});
    auto d = FirstDetail(j);
    EXPECT_EQ(Str(d, "type"), row.type) << r.body;
    if (!row.loc.empty()) {
      EXPECT_EQ(ToJson(d["loc"]), row.loc) << r.body;
    }
    if (!row.msg.empty()) {
      EXPECT_EQ(Str(d, "msg"), row.msg) << r.body;
    }
    if (!row.ctx.empty()) {
      EXPECT_EQ(ToJson(d["ctx"]), row.ctx) << r.body;
    }
    EXPECT_FALSE(Has(d, "url"));
    // A rejected secret is never echoed (spec §14.1 fixed): errors about the secret's value
    // carry no "input" at all, and no 422 contains any secret (a `missing` error echoes the
    // body, with credential-like members redacted).
    if (ToJson(d["loc"]) == R"(["body","api_key"])" && row.type != "missing") {
      EXPECT_FALSE(Has(d, "input")) << r.body;
    }
    for (const std::string& s : secrets()) EXPECT_EQ(r.body.find(s), std::string::npos);
  }
  // The normalized formats row stored ["CLAUDE","OPENAI_CLI"]; rpm_limit "12" became 12.
  Json list(admin.Get(KeysOf(provider)).body);
  bool normalized = false, coerced = false;
  for (auto k : Items(list.root())) {
    normalized |= ToJson(k["api_formats"]) == R"(["CLAUDE","OPENAI_CLI"])";
    coerced |= Int(k, "rpm_limit") == 12;
  }
  EXPECT_TRUE(normalized);
  EXPECT_TRUE(coerced);
  // An echoed input of a 422 keeps everything but the secret: the whole body of a `missing`
  // error has api_key redacted.
  const std::string leaked = NewSecret("redact");
  TestResponse missing = admin.Post(
      KeysOf(provider), R"({"api_key":)" + Quote(leaked) + R"(,"api_formats":["CLAUDE"]})");
  EXPECT_EQ(missing.status, 422) << missing.body;
  EXPECT_EQ(missing.body.find(leaked), std::string::npos) << missing.body;
}

TEST_F(RoutesTest, StatusCodesAndErrorShapes) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "status");
  const auto key = CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("status"), "k");

  // 307: FastAPI's redirect_slashes, query kept.
  TestResponse redirect = admin.Get("/api/admin/providers/summary/?x=1");
  EXPECT_EQ(redirect.status, 307);
  EXPECT_EQ(redirect.Header("Location"), "/api/admin/providers/summary?x=1");
  TestResponse redirect2 = admin.Get(std::string(kEndpointsBase) + "/keys/grouped-by-format/");
  EXPECT_EQ(redirect2.status, 307);
  EXPECT_EQ(redirect2.Header("Location"), std::string(kEndpointsBase) + "/keys/grouped-by-format");
  // Both provider collection paths answer directly.
  EXPECT_EQ(admin.Get("/api/admin/providers").status, 200);
  EXPECT_EQ(admin.Get("/api/admin/providers/").status, 200);

  // 404 not_found from a handler; 404 {"detail":"Not Found"} from routing.
  TestResponse no_key = admin.Put(KeyPath("nope"), R"({"name":"x"})");
  EXPECT_EQ(no_key.status, 404);
  EXPECT_EQ(no_key.body, R"({"error":{"type":"not_found","message":"Key nope 不存在"}})");
  // PUT /keys/grouped-by-format is K3 with key_id "grouped-by-format" (spec §1.2).
  TestResponse grouped_put =
      admin.Put(std::string(kEndpointsBase) + "/keys/grouped-by-format", R"({"name":"x"})");
  EXPECT_EQ(grouped_put.status, 404);
  EXPECT_EQ(grouped_put.body,
            R"({"error":{"type":"not_found","message":"Key grouped-by-format 不存在"}})");
  EXPECT_EQ(admin.Get(KeyPath("nope") + "/reveal").body,
            R"({"error":{"type":"not_found","message":"Key nope 不存在"}})");
  EXPECT_EQ(admin.Delete(KeyPath("nope")).status, 404);
  TestResponse no_provider = admin.Get(KeysOf("ghost"));
  EXPECT_EQ(no_provider.status, 404);
  EXPECT_EQ(no_provider.body,
            R"({"error":{"type":"not_found","message":"Provider ghost 不存在"}})");
  EXPECT_EQ(
      admin.Post(KeysOf("ghost"), R"({"api_formats":["CLAUDE"],"api_key":"x","name":"n"})").body,
      R"({"error":{"type":"not_found","message":"Provider ghost 不存在"}})");
  TestResponse put_provider = admin.Put(ProviderPath("ghost"), R"({"description":"x"})");
  EXPECT_EQ(put_provider.status, 404);
  EXPECT_EQ(
      put_provider.body,
      R"({"error":{"type":"not_found","message":"提供商不存在","details":{"resource_type":"provider"}}})");
  EXPECT_EQ(
      admin.Patch(ProviderPath("ghost"), "{}").body,
      R"({"error":{"type":"not_found","message":"Provider not found","details":{"resource_type":"provider"}}})");
  EXPECT_EQ(admin.Get(ProviderPath("ghost") + "/summary").body,
            R"({"error":{"type":"not_found","message":"Provider ghost not found"}})");
  EXPECT_EQ(admin.Get(std::string(kEndpointsBase) + "/ghost").body,
            R"({"error":{"type":"not_found","message":"Endpoint ghost 不存在"}})");
  EXPECT_EQ(admin.Get(KeyPath("ghost") + "/history").status, 404);
  TestResponse unrouted = admin.Get("/api/admin/nothing/here");
  EXPECT_EQ(unrouted.status, 404);
  EXPECT_EQ(unrouted.body, R"({"detail":"Not Found"})");

  // 405 with Allow.
  TestResponse wrong = admin.Call("DELETE", KeysOf(provider));
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.body, R"({"detail":"Method Not Allowed"})");
  EXPECT_EQ(wrong.Header("Allow"), "GET, HEAD, POST");
  EXPECT_EQ(admin.Call("POST", "/api/admin/audit/checkpoint").status, 405);

  // 400s: Aether's handler checks, and bad request headers.
  TestResponse dup = admin.Post(std::string(kProvidersPath), R"({"name":"status"})");
  EXPECT_EQ(dup.status, 400);
  EXPECT_EQ(dup.body,
            R"({"error":{"type":"invalid_request","message":"提供商名称 'status' 已存在"}})");
  EXPECT_EQ(admin.Post(std::string(kProvidersPath), "").body,
            R"({"error":{"type":"http_error","message":"请求体不能为空"}})");
  EXPECT_EQ(admin.Post(std::string(kProvidersPath), "{nope").body,
            R"({"error":{"type":"http_error","message":"请求体必须是合法的JSON"}})");
  TestResponse bad_provider =
      admin.Post(std::string(kProvidersPath), R"({"name":"x","timeout":0})");
  EXPECT_EQ(bad_provider.status, 400);
  EXPECT_EQ(Str(Json(bad_provider.body)["error"], "type"), "invalid_request");
  EXPECT_EQ(Str(Json(bad_provider.body)["error"], "message")->rfind("输入验证失败: ", 0), 0u)
      << bad_provider.body;
  TestResponse mismatch = admin.Post(
      KeysOf(provider),
      R"({"provider_id":"other","api_formats":["CLAUDE"],"api_key":"sk-mm","name":"n"})");
  EXPECT_EQ(mismatch.status, 400);
  // Stricter than Aether (which ignores the body's provider_id); the message says why.
  EXPECT_EQ(
      mismatch.body,
      R"j({"error":{"type":"invalid_request","message":"provider_id 不匹配 (the body's provider_id differs from the path's; Aether ignores it, keyledger refuses the request so that a secret is never stored under a provider the client did not name)"}})j");
  TestResponse endpoint_mismatch =
      admin.Post(std::string(kEndpointsBase) + "/providers/" + provider + "/endpoints",
                 R"({"provider_id":"other","api_format":"CLAUDE","base_url":"https://x.example"})");
  EXPECT_EQ(endpoint_mismatch.body,
            R"({"error":{"type":"invalid_request","message":"provider_id 不匹配"}})");
  CreateEndpoint(admin, provider, "CLAUDE", "https://x.example");
  TestResponse endpoint_dup =
      admin.Post(std::string(kEndpointsBase) + "/providers/" + provider + "/endpoints",
                 R"({"provider_id":")" + provider +
                     R"(","api_format":"claude","base_url":"https://y.example"})");
  EXPECT_EQ(endpoint_dup.status, 400);
  EXPECT_EQ(Str(Json(endpoint_dup.body)["error"], "message"),
            "Provider status 已存在 CLAUDE 格式的 Endpoint");
  // The same secret twice in one provider (spec §14.20 fixed).
  const std::string twice = NewSecret("twice");
  CreateKey(admin, provider, R"(["CLAUDE"])", twice, "once");
  TestResponse again = admin.Post(KeysOf(provider), R"({"api_formats":["CLAUDE"],"api_key":)" +
                                                        Quote(twice) + R"(,"name":"twice"})");
  EXPECT_EQ(again.status, 400) << again.body;
  EXPECT_EQ(Str(Json(again.body)["error"], "type"), "invalid_request");
  EXPECT_EQ(admin.Put(KeyPath(key.id), R"({"note":"x"})", {{"If-Match", "soon"}}).status, 400);

  // 422 on a query.
  TestResponse bad_limit = admin.Get(KeysOf(provider) + "?limit=5000&skip=-1");
  EXPECT_EQ(bad_limit.status, 422);
  Json bl(bad_limit.body);
  auto details = Items(bl["detail"]);
  ASSERT_EQ(details.size(), 2u) << bad_limit.body;
  EXPECT_EQ(ToJson(details[0]["loc"]), R"(["query","skip"])");
  EXPECT_EQ(Str(details[0], "input"), "-1");
  EXPECT_EQ(ToJson(details[1]["loc"]), R"(["query","limit"])");
  EXPECT_EQ(Str(details[1], "input"), "5000");

  // 413: over 1 MiB, announced or sent.
  std::string huge = R"({"note":")" + std::string((1 << 20) + 10, 'n') + R"("})";
  TestResponse too_large = admin.Put(KeyPath(key.id), huge);
  EXPECT_EQ(too_large.status, 413);
  EXPECT_EQ(too_large.body,
            R"({"error":{"type":"http_error","message":"Request body too large"}})");
  EXPECT_FALSE(too_large.keep_alive);

  // 431: a header section over 16 KiB.
  TestResponse too_many = admin.Get(KeysOf(provider), {{"X-Big", std::string(20'000, 'h')}});
  EXPECT_EQ(too_many.status, 431);
  EXPECT_EQ(too_many.body,
            R"({"error":{"type":"http_error","message":"Request header fields too large"}})");

  // 400 for a request that is not HTTP, then the connection closes.
  auto raw = Connection::Open(port());
  ASSERT_NE(raw, nullptr);
  ASSERT_TRUE(raw->Send("THIS IS NOT HTTP\r\n\r\n"));
  auto garbage = raw->ReadResponse();
  ASSERT_TRUE(garbage.has_value());
  EXPECT_EQ(garbage->status, 400);
  EXPECT_EQ(garbage->body, R"({"error":{"type":"http_error","message":"Invalid HTTP request"}})");
  EXPECT_TRUE(raw->WaitClosed(std::chrono::seconds(10)));

  // Every response carries an X-Request-Id; a valid one sent is echoed.
  TestResponse with_id = admin.Get("/healthz", {{"X-Request-Id", "trace-123"}});
  EXPECT_EQ(with_id.Header("X-Request-Id"), "trace-123");
  EXPECT_FALSE(admin.Get("/healthz").Header("X-Request-Id").empty());
}

TEST_F(RoutesTest, EtagAndIfMatch) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "etag");
  const auto key = CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("etag"), "k");
  EXPECT_EQ(key.etag, "\"1\"");

  TestResponse v2 = admin.Put(KeyPath(key.id), R"({"note":"v2"})", {{"If-Match", "\"1\""}});
  ASSERT_EQ(v2.status, 200) << v2.body;
  EXPECT_EQ(v2.Header("ETag"), "\"2\"");

  // A stale ETag: 412 with the current one, nothing written.
  const uint64_t head = HeadSequence();
  TestResponse stale =
      admin.Put(KeyPath(key.id), R"({"note":"lost update"})", {{"If-Match", "\"1\""}});
  EXPECT_EQ(stale.status, 412);
  EXPECT_EQ(stale.Header("ETag"), "\"2\"");
  Json sj(stale.body);
  EXPECT_EQ(Str(sj["error"], "type"), "http_error");
  EXPECT_EQ(Int(sj["error"]["details"], "actual_version"), 2) << stale.body;
  EXPECT_EQ(HeadSequence(), head);
  EXPECT_EQ(admin.Delete(KeyPath(key.id), {{"If-Match", "\"1\""}}).status, 412);

  // Weak and bare forms, and "*".
  EXPECT_EQ(admin.Put(KeyPath(key.id), R"({"note":"v3"})", {{"If-Match", "W/\"2\""}}).status, 200);
  EXPECT_EQ(admin.Put(KeyPath(key.id), R"({"note":"v4"})", {{"If-Match", "3"}}).status, 200);
  EXPECT_EQ(admin.Put(KeyPath(key.id), R"({"note":"v5"})", {{"If-Match", "*"}}).status, 200);
  // A reveal does not change the configuration version.
  EXPECT_EQ(admin.Get(KeyPath(key.id) + "/reveal").status, 200);
  TestResponse v6 = admin.Put(KeyPath(key.id), R"({"note":"v6"})", {{"If-Match", "\"5\""}});
  EXPECT_EQ(v6.status, 200) << v6.body;

  // Lost updates are impossible (spec §14.21 fixed): several clients holding the same ETag
  // write at once, each on its own connection; exactly one wins, the others get 412 with the
  // new ETag.
  {
    constexpr int kWriters = 6;
    std::vector<int> statuses(kWriters);
    std::vector<std::string> etags(kWriters);
    std::vector<std::thread> threads;
    for (int i = 0; i < kWriters; ++i) {
      threads.emplace_back([&, i] {
        Client c(port(), admin_token_);
        TestResponse r = c.Put(KeyPath(key.id), R"({"note":"racer )" + std::to_string(i) + "\"}",
                               {{"If-Match", "\"6\""}});
        statuses[static_cast<size_t>(i)] = r.status;
        etags[static_cast<size_t>(i)] = r.Header("ETag");
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 1);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 412), kWriters - 1);
    for (const std::string& e : etags) EXPECT_EQ(e, "\"7\"");
  }

  // Providers and endpoints carry ETags too.
  TestResponse p = admin.Get(ProviderPath(provider));
  ASSERT_EQ(p.status, 200);
  EXPECT_EQ(p.Header("ETag"), "\"1\"");
  EXPECT_EQ(
      admin.Patch(ProviderPath(provider), R"({"description":"x"})", {{"If-Match", "\"7\""}}).status,
      412);
  TestResponse patched =
      admin.Patch(ProviderPath(provider), R"({"description":"x"})", {{"If-Match", "\"1\""}});
  EXPECT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(admin.Get(ProviderPath(provider)).Header("ETag"), "\"2\"");
  const std::string endpoint = CreateEndpoint(admin, provider, "OPENAI", "https://o.example");
  TestResponse ep = admin.Get(std::string(kEndpointsBase) + "/" + endpoint);
  EXPECT_EQ(ep.Header("ETag"), "\"1\"");
  EXPECT_EQ(admin
                .Put(std::string(kEndpointsBase) + "/" + endpoint, R"({"timeout":30})",
                     {{"If-Match", "\"9\""}})
                .status,
            412);
  EXPECT_EQ(
      admin.Delete(std::string(kEndpointsBase) + "/" + endpoint, {{"If-Match", "\"1\""}}).status,
      200);
  // Deleting with the right version answers a receipt.
  TestResponse del = admin.Delete(KeyPath(key.id), {{"If-Match", "\"7\""}});
  ASSERT_EQ(del.status, 200) << del.body;
  Json dj(del.body);
  EXPECT_EQ(Keys(dj.root()), (std::vector<std::string>{"message", "seq", "hash"}));
  EXPECT_EQ(Str(dj.root(), "message"), "Key " + key.id + " 已删除");
  EXPECT_EQ(static_cast<uint64_t>(Int(dj.root(), "seq").value_or(0)), HeadSequence());
  EXPECT_EQ(Str(dj.root(), "hash")->size(), 64u);
}

TEST_F(RoutesTest, RevealIsAnAuditEventAndDeleteShreds) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "reveal");
  const std::string secret = NewSecret("reveal");
  const auto key = CreateKey(admin, provider, R"(["CLAUDE"])", secret, "k");
  TestResponse shown = admin.Get(KeyPath(key.id) + "/reveal", {{"X-Audit-Reason", "incident 42"}});
  ASSERT_EQ(shown.status, 200);
  EXPECT_EQ(shown.body, R"({"api_key":)" + Quote(secret) + "}");

  // HEAD is not a reveal: 405, nothing recorded, no length leaked.
  TestResponse head = admin.Call("HEAD", KeyPath(key.id) + "/reveal");
  EXPECT_EQ(head.status, 405);
  EXPECT_EQ(head.Header("Allow"), "GET");

  TestResponse events = admin.Get("/api/admin/audit/events?type=KeyRevealed");
  ASSERT_EQ(events.status, 200) << events.body;
  Json ej(events.body);
  auto list = Items(ej["events"]);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(Str(list[0], "stream"), "key-" + key.id);
  EXPECT_EQ(Str(list[0], "actor"), "admin");
  EXPECT_EQ(Str(list[0], "client_ip"), "127.0.0.1");
  EXPECT_EQ(Str(list[0], "reason"), "incident 42");
  EXPECT_EQ(events.body.find(secret), std::string::npos);

  // The Idempotency-Key machinery never stores a reveal (it holds the secret): a retry reveals
  // again, as a second audited event.
  const Headers idem = {{"Idempotency-Key", "reveal-1"}};
  EXPECT_EQ(admin.Get(KeyPath(key.id) + "/reveal", idem).body, shown.body);
  TestResponse second = admin.Get(KeyPath(key.id) + "/reveal", idem);
  EXPECT_EQ(second.body, shown.body);
  EXPECT_FALSE(second.HasHeader("Idempotent-Replayed"));

  ASSERT_EQ(admin.Delete(KeyPath(key.id)).status, 200);
  EXPECT_EQ(admin.Get(KeyPath(key.id) + "/reveal").status, 404);
  // The history outlives the key; secrets only as data-key id and length.
  TestResponse history = admin.Get(KeyPath(key.id) + "/history");
  ASSERT_EQ(history.status, 200) << history.body;
  Json hj(history.body);
  EXPECT_EQ(Bool(hj.root(), "deleted"), true);
  std::vector<std::string> types;
  for (auto e : Items(hj["events"])) types.push_back(Str(e, "type").value_or(""));
  EXPECT_EQ(types, (std::vector<std::string>{"KeyCreated", "KeyRevealed", "KeyRevealed",
                                             "KeyRevealed", "KeyDeleted"}));
  EXPECT_EQ(history.body.find(secret), std::string::npos);
}

TEST_F(RoutesTest, TimeTravelShowsTheStateThen) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "travel");
  const auto key = CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("travel"), "before");
  const uint64_t s1 = HeadSequence();
  const std::string k1_then = admin.Get(KeysOf(provider)).body;
  const std::string k4_then =
      admin.Get(std::string(kEndpointsBase) + "/keys/grouped-by-format").body;
  ASSERT_EQ(admin.Put(KeyPath(key.id), R"({"name":"after","global_priority":4})").status, 200);
  CreateKey(admin, provider, R"(["GEMINI"])", NewSecret("travel"), "later");
  const uint64_t s2 = HeadSequence();
  ASSERT_GT(s2, s1);

  const std::string seq = "?as_of_seq=" + std::to_string(s1);
  EXPECT_EQ(admin.Get(KeysOf(provider) + seq).body, k1_then);
  EXPECT_EQ(admin.Get(std::string(kEndpointsBase) + "/keys/grouped-by-format" + seq).body, k4_then);
  EXPECT_NE(admin.Get(KeysOf(provider)).body, k1_then);
  // Before the provider existed: 404, as then.
  EXPECT_EQ(admin.Get(KeysOf(provider) + "?as_of_seq=0").status, 404);
  // A sequence beyond the head is the head.
  EXPECT_EQ(admin.Get(KeysOf(provider) + "?as_of_seq=" + std::to_string(s2 + 1000)).body,
            admin.Get(KeysOf(provider)).body);

  // History up to s1 has only the creation.
  Json h(admin.Get(KeyPath(key.id) + "/history" + seq).body);
  auto events = Items(h["events"]);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(Str(events[0], "type"), "KeyCreated");
  Json full(admin.Get(KeyPath(key.id) + "/history").body);
  auto all = Items(full["events"]);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(Str(all[1], "type"), "KeyUpdated");
  // The update's changes: name and global_priority, before and after.
  bool saw_name = false;
  for (auto c : Items(all[1]["changes"])) {
    if (Str(c, "field") == "name") {
      saw_name = true;
      EXPECT_EQ(Str(c, "before"), "before");
      EXPECT_EQ(Str(c, "after"), "after");
    }
  }
  EXPECT_TRUE(saw_name) << ToJson(all[1]);

  // as_of (a time): the time of the creation event shows the state then.
  Json feed(admin.Get("/api/admin/audit/events?stream=key-" + key.id).body);
  const std::string created_time = Str(Items(feed["events"]).at(0), "time").value_or("");
  ASSERT_FALSE(created_time.empty());
  TestResponse by_time = admin.Get(KeysOf(provider) + "?as_of=" + created_time);
  EXPECT_EQ(by_time.status, 200) << by_time.body;
  EXPECT_EQ(by_time.body, k1_then);
  // Both at once is ambiguous.
  EXPECT_EQ(admin.Get(KeysOf(provider) + seq + "&as_of=" + created_time).status, 422);
}

TEST_F(RoutesTest, AuditFeedCheckpointAndDigest) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "audit");
  std::vector<CreatedKey> keys;
  for (int i = 0; i < 5; ++i) {
    keys.push_back(
        CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("audit"), "k" + std::to_string(i)));
  }
  const uint64_t head = HeadSequence();

  // Paging with the cursor walks every event exactly once.
  std::vector<int64_t> seqs;
  uint64_t after = 0;
  for (int page = 0; page < 20; ++page) {
    TestResponse r = admin.Get("/api/admin/audit/events?limit=2&after=" + std::to_string(after));
    ASSERT_EQ(r.status, 200) << r.body;
    Json j(r.body);
    EXPECT_EQ(Keys(j.root()), (std::vector<std::string>{"events", "next_after", "at_head"}));
    for (auto e : Items(j["events"])) {
      EXPECT_EQ(Keys(e),
                (std::vector<std::string>{"seq", "stream", "stream_version", "type",
                                          "schema_version", "time", "actor", "client_ip",
                                          "request_id", "reason", "payload", "prev_hash", "hash"}));
      seqs.push_back(Int(e, "seq").value_or(0));
    }
    after = static_cast<uint64_t>(Int(j.root(), "next_after").value_or(0));
    if (Bool(j.root(), "at_head") == true) break;
  }
  ASSERT_EQ(seqs.size(), head);
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], static_cast<int64_t>(i + 1));

  // Every write records who, from where, why and which request.
  ASSERT_EQ(admin
                .Put(KeyPath(keys[0].id), R"({"note":"why"})",
                     {{"X-Audit-Reason", "ticket OPS-7"}, {"X-Request-Id", "req-why-1"}})
                .status,
            200);
  Json why(admin.Get("/api/admin/audit/events?type=KeyUpdated").body);
  ASSERT_EQ(Items(why["events"]).size(), 1u);
  auto updated = Items(why["events"])[0];
  EXPECT_EQ(Str(updated, "reason"), "ticket OPS-7");
  EXPECT_EQ(Str(updated, "request_id"), "req-why-1");
  EXPECT_EQ(Str(updated, "actor"), "admin");
  // since/until bound by the events' own times (inclusive).
  const std::string when = Str(updated, "time").value_or("");
  Json since(admin.Get("/api/admin/audit/events?since=" + when).body);
  ASSERT_EQ(Items(since["events"]).size(), 1u);
  EXPECT_EQ(Str(Items(since["events"])[0], "type"), "KeyUpdated");
  Json until(admin.Get("/api/admin/audit/events?limit=1000&until=" + when).body);
  EXPECT_EQ(Items(until["events"]).size(), head + 1);

  // Filters: type and actor.
  Json created(admin.Get("/api/admin/audit/events?type=KeyCreated&actor=admin").body);
  EXPECT_EQ(Items(created["events"]).size(), 5u);
  Json nobody(admin.Get("/api/admin/audit/events?actor=nobody").body);
  EXPECT_EQ(Items(nobody["events"]).size(), 0u);
  TestResponse bad_type = admin.Get("/api/admin/audit/events?type=KeyCreated,Bogus");
  EXPECT_EQ(bad_type.status, 422);
  EXPECT_EQ(ToJson(Items(Json(bad_type.body)["detail"]).at(0)["loc"]), R"(["query","type"])");

  const uint64_t head_now = HeadSequence();
  ASSERT_EQ(head_now, head + 1);
  // The checkpoint names the head; the audit tool verifies it against the directory, with the
  // signature when given the master key.
  TestResponse cp = admin.Get("/api/admin/audit/checkpoint");
  ASSERT_EQ(cp.status, 200) << cp.body;
  Json cj(cp.body);
  EXPECT_EQ(Keys(cj.root()), (std::vector<std::string>{"sequence", "hash", "time", "signature"}));
  EXPECT_EQ(static_cast<uint64_t>(Int(cj.root(), "sequence").value_or(0)), head_now);
  const std::string cp_file = scratch_dir_ + "/cp.json";
  std::ofstream(cp_file) << cp.body;
  ProcessResult verified =
      RunProcess({AuditToolPath(), "verify", "--data-dir", data_dir_, "--checkpoint", cp_file,
                  "--master-key-file", data_dir_ + "/master.key"},
                 scratch_dir_);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  // A forged signature fails.
  std::string forged = cp.body;
  const size_t sig = forged.find("\"signature\":\"") + 13;
  forged[sig] = forged[sig] == 'a' ? 'b' : 'a';
  std::ofstream(cp_file, std::ios::trunc) << forged;
  ProcessResult refused =
      RunProcess({AuditToolPath(), "verify", "--data-dir", data_dir_, "--checkpoint", cp_file,
                  "--master-key-file", data_dir_ + "/master.key"},
                 scratch_dir_);
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;

  // The digest, with one entry per entity.
  TestResponse digest = admin.Get("/api/admin/audit/digest?entities=true");
  ASSERT_EQ(digest.status, 200) << digest.body;
  Json dj(digest.body);
  EXPECT_EQ(static_cast<uint64_t>(Int(dj.root(), "sequence").value_or(0)), head_now);
  EXPECT_EQ(Str(dj.root(), "digest")->size(), 64u);
  std::vector<std::string> ids;
  for (auto e : Items(dj["entities"])) ids.push_back(Str(e, "id").value_or(""));
  for (const auto& k : keys) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), "key:" + k.id), ids.end());
  }
  EXPECT_NE(std::find(ids.begin(), ids.end(), "provider:" + provider), ids.end());
  // The same digest after a restart (snapshot + replay), and keyledger-rebuild agrees live.
  const std::string before = Str(dj.root(), "digest").value_or("");
  RestartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client again = Admin();
  EXPECT_EQ(Str(Json(again.Get("/api/admin/audit/digest").body).root(), "digest"), before);
  ProcessResult rebuild =
      RunProcess({KEYLEDGER_REBUILD_BIN, "--data-dir", data_dir_, "--compare-url", daemon_->url(),
                  "--token", admin_token_, "--format", "json"},
                 scratch_dir_);
  EXPECT_EQ(rebuild.exit_code, 0) << rebuild.out << rebuild.err;
  EXPECT_EQ(Bool(Json(rebuild.out)["live"], "match"), true) << rebuild.out;
}

TEST_F(RoutesTest, SseDeliversAWriteMadeByAnotherClient) {
  ASSERT_FALSE(HasFatalFailure());
  const std::string auditor = CreateToken("watcher", "auditor");
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "sse");
  const uint64_t head = HeadSequence();

  SseReader stream;
  ASSERT_TRUE(stream.Open(port(), auditor, "/api/admin/audit/stream")) << stream.head();
  EXPECT_NE(stream.head().find("Cache-Control: no-store"), std::string::npos) << stream.head();

  // Another client writes; the event arrives on the stream, with its sequence as the SSE id.
  const auto key = CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("sse"), "streamed");
  ASSERT_TRUE(stream.WaitFor(key.id, std::chrono::seconds(30))) << stream.body();
  EXPECT_NE(stream.body().find("event: KeyCreated\nid: " + std::to_string(head + 1) + "\n"),
            std::string::npos)
      << stream.body();
  ASSERT_EQ(admin.Put(KeyPath(key.id), R"({"note":"live"})").status, 200);
  ASSERT_TRUE(stream.WaitFor("event: KeyUpdated", std::chrono::seconds(30))) << stream.body();
  for (const std::string& s : secrets()) EXPECT_EQ(stream.body().find(s), std::string::npos);

  // Resuming with Last-Event-ID replays what came after it.
  SseReader resumed;
  ASSERT_TRUE(
      resumed.Open(port(), auditor, "/api/admin/audit/stream?after=" + std::to_string(head)));
  EXPECT_TRUE(resumed.WaitFor("event: KeyUpdated", std::chrono::seconds(30))) << resumed.body();
  EXPECT_NE(resumed.body().find("event: KeyCreated"), std::string::npos);
  EXPECT_EQ(resumed.body().find("event: ProviderCreated"), std::string::npos) << resumed.body();

  // A browser's EventSource reconnects with Last-Event-ID: only what came after it.
  SseReader reconnected;
  ASSERT_TRUE(reconnected.Open(port(), auditor, "/api/admin/audit/stream",
                               {{"Last-Event-ID", std::to_string(head + 1)}}));
  EXPECT_TRUE(reconnected.WaitFor("event: KeyUpdated", std::chrono::seconds(30)))
      << reconnected.body();
  EXPECT_EQ(reconnected.body().find("event: KeyCreated"), std::string::npos) << reconnected.body();
  // Auditors only: no credentials, no stream.
  SseReader anonymous;
  EXPECT_FALSE(anonymous.Open(port(), "", "/api/admin/audit/stream"));
  EXPECT_EQ(anonymous.head().rfind("HTTP/1.1 401", 0), 0u) << anonymous.head();

  // SIGTERM ends open streams cleanly (the last chunk), without waiting out the grace period.
  EXPECT_EQ(daemon_->Stop(SIGTERM), 0);
  EXPECT_TRUE(stream.WaitEnd(std::chrono::seconds(30)));
  EXPECT_TRUE(resumed.WaitEnd(std::chrono::seconds(30)));
  EXPECT_EQ(daemon_->CurrentStderr().find("shutdown grace period over"), std::string::npos);
}

TEST_F(RoutesTest, ProvidersEndpointsHealthAndOps) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  TestResponse created =
      admin.Post(std::string(kProvidersPath),
                 R"({"name":"ops","website":"ops.example","provider_priority":5,)"
                 R"("proxy":{"url":"socks5://proxy.example:1080","password":"pp-secret-1"}})");
  Secret("pp-secret-1");
  ASSERT_EQ(created.status, 200) << created.body;
  Json cj(created.body);
  EXPECT_EQ(Keys(cj.root()), (std::vector<std::string>{"id", "name", "message"}));
  EXPECT_EQ(Str(cj.root(), "message"), "提供商创建成功");
  const std::string provider = Str(cj.root(), "id").value_or("");

  // The legacy list shape and the summary.
  Json list(admin.Get("/api/admin/providers/?is_active=true").body);
  auto providers = Items(list.root());
  ASSERT_EQ(providers.size(), 1u);
  EXPECT_EQ(Keys(providers[0]),
            (std::vector<std::string>{"id", "name", "api_format", "base_url", "api_key", "priority",
                                      "is_active", "created_at", "updated_at"}));
  EXPECT_EQ(Int(providers[0], "priority"), 5);
  TestResponse summary = admin.Get(ProviderPath(provider) + "/summary");
  ASSERT_EQ(summary.status, 200);
  Json sj(summary.body);
  EXPECT_EQ(Str(sj.root(), "website"), "https://ops.example");
  EXPECT_EQ(Str(sj["proxy"], "password"), "***");
  EXPECT_EQ(summary.body.find("pp-secret-1"), std::string::npos);
  EXPECT_EQ(admin.Get("/api/admin/providers/summary").status, 200);

  // PUT answers Aether's short shape.
  TestResponse put = admin.Put(ProviderPath(provider), R"({"description":"d","is_active":true})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(Keys(Json(put.body).root()),
            (std::vector<std::string>{"id", "name", "is_active", "message"}));
  EXPECT_EQ(Str(Json(put.body).root(), "message"), "提供商更新成功");

  // Endpoints: create, list (newest first), get, update, delete with a receipt.
  const std::string e1 = CreateEndpoint(admin, provider, "CLAUDE", "https://c.example/");
  TestResponse e2r = admin.Post(
      std::string(kEndpointsBase) + "/providers/" + provider + "/endpoints",
      R"({"provider_id":")" + provider +
          R"(","api_format":"openai","base_url":"https://o.example","headers":{"X-A":"b"},"proxy":{"url":"http://p.example","password":"pp-secret-2"}})");
  Secret("pp-secret-2");
  ASSERT_EQ(e2r.status, 200) << e2r.body;
  Json e2j(e2r.body);
  EXPECT_EQ(Keys(e2j.root()), SpecEndpointResponseOrder());
  EXPECT_EQ(Str(e2j.root(), "api_format"), "OPENAI");
  EXPECT_EQ(Str(e2j["proxy"], "password"), "***");
  const std::string e2 = Str(e2j.root(), "id").value_or("");
  Json endpoints(
      admin.Get(std::string(kEndpointsBase) + "/providers/" + provider + "/endpoints").body);
  auto eps = Items(endpoints.root());
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_EQ(Str(eps[0], "id"), e2);
  EXPECT_EQ(Str(eps[1], "base_url"), "https://c.example");
  // A proxy without a password keeps the stored one.
  TestResponse eput = admin.Put(std::string(kEndpointsBase) + "/" + e2,
                                R"({"proxy":{"url":"http://q.example"},"timeout":30})");
  ASSERT_EQ(eput.status, 200) << eput.body;
  EXPECT_EQ(Str(Json(eput.body)["proxy"], "password"), "***");
  EXPECT_EQ(Int(Json(eput.body).root(), "timeout"), 30);

  // Health reports from gateways: 40 failures bring CLAUDE to 0.0 (reported as 0.0) and open
  // its breaker; the reset routes close it again.
  const auto key = CreateKey(admin, provider, R"(["CLAUDE","OPENAI"])", NewSecret("health"), "h");
  TestResponse report = admin.Post(
      std::string(kEndpointsBase) + "/keys/health-reports",
      R"({"reports":[{"key_id":")" + key.id +
          R"(","api_format":"claude","successes":0,"failures":40,"total_response_time_ms":0,"last_error":"upstream 500","at":"2026-01-13T05:00:00Z"},)"
          R"({"key_id":")" +
          key.id +
          R"(","api_format":"OPENAI","successes":4,"failures":0,"total_response_time_ms":1000,"at":"2026-01-13T05:00:01Z"},)"
          R"({"key_id":"ghost","api_format":"CLAUDE","successes":1,"failures":0,"total_response_time_ms":1,"at":"2026-01-13T05:00:02Z"}]})");
  ASSERT_EQ(report.status, 200) << report.body;
  Json rj(report.body);
  EXPECT_EQ(Int(rj.root(), "accepted"), 2);
  EXPECT_EQ(Int(rj.root(), "rejected"), 1);
  Json keys(admin.Get(KeysOf(provider)).body);
  auto k = Items(keys.root()).at(0);
  EXPECT_EQ(Num(k, "health_score"), 0.0) << ToJson(k);
  EXPECT_EQ(Bool(k, "circuit_breaker_open"), true);
  EXPECT_EQ(Int(k, "request_count"), 44);
  EXPECT_EQ(Int(k, "success_count"), 4);
  EXPECT_EQ(Num(k, "avg_response_time_ms"), 250.0);
  Json grouped(admin.Get(std::string(kEndpointsBase) + "/keys/grouped-by-format").body);
  auto claude = Items(grouped["CLAUDE"]).at(0);
  EXPECT_EQ(Num(claude, "health_score"), 0.0);
  EXPECT_EQ(Bool(claude, "circuit_breaker_open"), true);
  EXPECT_EQ(Bool(Items(grouped["OPENAI"]).at(0), "circuit_breaker_open"), false);
  Json psum(admin.Get(ProviderPath(provider)).body);
  EXPECT_EQ(Int(psum.root(), "total_keys"), 1);
  EXPECT_EQ(Int(psum.root(), "unhealthy_endpoints"), 1);

  TestResponse reset_one = admin.Patch(
      std::string(kEndpointsBase) + "/health/keys/" + key.id + "?api_format=claude", "");
  EXPECT_EQ(reset_one.status, 200) << reset_one.body;
  Json after_one(admin.Get(KeysOf(provider)).body);
  EXPECT_EQ(Bool(Items(after_one.root()).at(0), "circuit_breaker_open"), false);
  EXPECT_EQ(
      admin
          .Post(
              std::string(kEndpointsBase) + "/keys/health-reports",
              R"({"reports":[{"key_id":")" + key.id +
                  R"(","api_format":"CLAUDE","successes":0,"failures":40,"total_response_time_ms":0,"at":"2026-01-13T05:01:00Z"}]})")
          .status,
      200);
  TestResponse reset_all = admin.Patch(std::string(kEndpointsBase) + "/health/keys", "");
  EXPECT_EQ(reset_all.status, 200) << reset_all.body;
  Json after_all(admin.Get(KeysOf(provider)).body);
  EXPECT_EQ(Bool(Items(after_all.root()).at(0), "circuit_breaker_open"), false);
  EXPECT_EQ(admin.Patch(std::string(kEndpointsBase) + "/health/keys/ghost", "").status, 404);

  // Deleting an endpoint leaves the keys; deleting the provider takes its keys along.
  TestResponse edel = admin.Delete(std::string(kEndpointsBase) + "/" + e1);
  ASSERT_EQ(edel.status, 200) << edel.body;
  EXPECT_EQ(Str(Json(edel.body).root(), "message"), "Endpoint " + e1 + " 已删除");
  EXPECT_EQ(Items(Json(admin.Get(KeysOf(provider)).body).root()).size(), 1u);
  TestResponse pdel = admin.Delete(ProviderPath(provider));
  ASSERT_EQ(pdel.status, 200) << pdel.body;
  EXPECT_EQ(Str(Json(pdel.body).root(), "message"), "提供商已删除");
  EXPECT_EQ(admin.Get(KeysOf(provider)).status, 404);
  EXPECT_EQ(admin.Get(KeyPath(key.id) + "/reveal").status, 404);
  EXPECT_EQ(Bool(Json(admin.Get(KeyPath(key.id) + "/history").body).root(), "deleted"), true);

  // Health and readiness need no credentials (and show no figures); metrics need an auditor.
  Client anonymous(port());
  EXPECT_EQ(anonymous.Get("/healthz").body, R"({"status":"ok"})");
  TestResponse ready = anonymous.Get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, R"({"status":"ready"})");
  EXPECT_EQ(anonymous.Get("/metrics").status, 401);
  TestResponse metrics = admin.Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("keyledger_http_requests_total"), std::string::npos);
  EXPECT_NE(metrics.body.find("keyledger_head_sequence"), std::string::npos);
  Json caps(anonymous.Get("/api/capabilities").body);
  EXPECT_EQ(Items(caps["capabilities"]).size(), 2u);
  Json user_caps(anonymous.Get("/api/capabilities/user-configurable").body);
  ASSERT_EQ(Items(user_caps["capabilities"]).size(), 1u);
  EXPECT_EQ(Str(Items(user_caps["capabilities"])[0], "name"), "cache_1h");
  EXPECT_EQ(anonymous.Call("HEAD", "/healthz").status, 200);
}

}  // namespace
}  // namespace keyledger::e2e

namespace keyledger::e2e {
namespace {

// Server options that change the API's behaviour: a mandatory reveal reason, Aether's plaintext
// echo on create, TLS.
class OptionsTest : public E2eTest {};

TEST_F(OptionsTest, RequiredRevealReasonAndPlaintextEcho) {
  StartServer({"--require-reveal-reason", "--echo-plaintext-on-create"});
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "options");
  const std::string secret = NewSecret("echo");
  const std::string body =
      R"({"api_formats":["CLAUDE"],"api_key":)" + Quote(secret) + R"(,"name":"echoed"})";
  TestResponse created = admin.Post(KeysOf(provider), body, {{"Idempotency-Key", "echo-1"}});
  ASSERT_EQ(created.status, 200) << created.body;
  Json cj(created.body);
  EXPECT_EQ(Str(cj.root(), "api_key_plain"), secret) << "Aether's behaviour, when configured";
  const std::string id = Str(cj.root(), "id").value_or("");

  // A retry of the create gets the stored answer without the plaintext: never a duplicate,
  // never the secret from storage.
  TestResponse retried = admin.Post(KeysOf(provider), body, {{"Idempotency-Key", "echo-1"}});
  EXPECT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(retried.Header("Idempotent-Replayed"), "true");
  EXPECT_EQ(Str(Json(retried.body).root(), "id"), id);
  EXPECT_TRUE(IsNull(Json(retried.body).root(), "api_key_plain")) << retried.body;

  TestResponse no_reason = admin.Get(KeyPath(id) + "/reveal");
  EXPECT_EQ(no_reason.status, 400) << no_reason.body;
  EXPECT_EQ(Str(Json(no_reason.body)["error"], "type"), "invalid_request");
  TestResponse with_reason = admin.Get(KeyPath(id) + "/reveal", {{"X-Audit-Reason", "rotate"}});
  EXPECT_EQ(with_reason.status, 200) << with_reason.body;
  Json revealed(admin.Get("/api/admin/audit/events?type=KeyRevealed").body);
  ASSERT_EQ(Items(revealed["events"]).size(), 1u);
  EXPECT_EQ(Str(Items(revealed["events"])[0], "reason"), "rotate");
}

TEST_F(OptionsTest, ServesHttpsWithTheGivenCertificate) {
  const std::string cert = scratch_dir_ + "/cert.pem";
  const std::string key = scratch_dir_ + "/key.pem";
  ASSERT_TRUE(api::testing::GenerateSelfSignedCert(cert, key));
  StartServer({"--tls-cert", cert, "--tls-key", key});
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(daemon_->url().rfind("https://127.0.0.1:", 0), 0u) << daemon_->url();
  auto tls = Connection::Open(port(), cert);
  ASSERT_NE(tls, nullptr) << "TLS handshake failed";
  ASSERT_TRUE(tls->Send(api::testing::BuildRequest("GET", KeysOf("none"),
                                                   {{"Authorization", "Bearer " + admin_token_}})));
  auto r = tls->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, R"({"error":{"type":"not_found","message":"Provider none 不存在"}})");
  // Plain HTTP on the TLS port gets no HTTP answer.
  auto plain = Connection::Open(port());
  ASSERT_NE(plain, nullptr);
  ASSERT_TRUE(plain->Send(api::testing::BuildRequest("GET", "/healthz")));
  auto none = plain->ReadResponse(std::chrono::seconds(10));
  EXPECT_FALSE(none.has_value() && none->status == 200);
}

}  // namespace
}  // namespace keyledger::e2e
