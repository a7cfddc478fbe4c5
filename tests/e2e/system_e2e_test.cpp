// Issue 16 end to end: the system configs S1/S2 and the API format list S3 (aether-spec.md
// §11.4), the model capabilities route (§11.5), the admin UI's priority dialog
// (§11.4.3, §12) and the deviations issue 16 settles (negative priorities accepted, the stricter
// capability and provider_id rules explained in their messages). Real keyledgerd over HTTP on
// 127.0.0.1; events checked through the audit feed, the SSE stream, keyledger-audit and
// keyledger-rebuild.
#include <map>
#include <set>
#include <thread>

#include "tests/e2e/e2e_support.hpp"

namespace keyledger::e2e {
namespace {

constexpr std::string_view kConfigs = "/api/admin/system/configs/";
constexpr std::string_view kPriorityMode = "/api/admin/system/configs/provider_priority_mode";
constexpr std::string_view kSchedulingMode = "/api/admin/system/configs/scheduling_mode";

class SystemRoutesTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    StartServer();
  }

  std::vector<Json> SystemConfigEvents(Client& c) {
    TestResponse r = c.Get("/api/admin/audit/events?type=SystemConfigSet&limit=1000");
    EXPECT_EQ(r.status, 200) << r.body;
    Json j(r.body);
    std::vector<Json> out;
    for (auto e : Items(j["events"])) out.emplace_back(ToJson(e));
    return out;
  }
};

TEST_F(SystemRoutesTest, ConfigsAnswerTheirDefaultsUntilSet) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  TestResponse mode = admin.Get(kPriorityMode);
  EXPECT_EQ(mode.status, 200);
  EXPECT_EQ(mode.body, R"({"key":"provider_priority_mode","value":"provider"})");
  EXPECT_EQ(mode.Header("ETag"), "\"0\"");
  EXPECT_EQ(admin.Get(kSchedulingMode).body,
            R"({"key":"scheduling_mode","value":"cache_affinity"})");
  // Keys outside the catalogue: Aether's 404 for a key it has no value for.
  for (const char* key : {"smtp_host", "Scheduling_Mode", "default_user_quota_usd"}) {
    TestResponse r = admin.Get(std::string(kConfigs) + key);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.body, std::string(R"({"error":{"type":"not_found","message":"配置项 ')") + key +
                          R"(' 不存在"}})");
    TestResponse w = admin.Put(std::string(kConfigs) + key, R"({"value":"x"})");
    EXPECT_EQ(w.status, 404);
    EXPECT_EQ(w.body, r.body);
  }
  EXPECT_EQ(HeadSequence(), 0u) << "reads and refused writes append nothing";
}

TEST_F(SystemRoutesTest, ConfigsRolesAuditorsReadAdminsWrite) {
  ASSERT_FALSE(HasFatalFailure());
  const std::string auditor_token = CreateToken("reader", "auditor");
  Client auditor = As(auditor_token);
  Client anonymous(port());
  EXPECT_EQ(auditor.Get(kPriorityMode).status, 200);
  EXPECT_EQ(auditor.Get("/api/admin/system/api-formats").status, 200);
  TestResponse denied = auditor.Put(kPriorityMode, R"({"value":"global_key"})");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.body, R"({"error":{"type":"http_error","message":"需要管理员权限"}})");
  for (auto [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"GET", std::string(kPriorityMode)},
                                                        {"PUT", std::string(kPriorityMode)},
                                                        {"GET", "/api/admin/system/api-formats"}}) {
    TestResponse r = anonymous.Call(method, target, method == "PUT" ? R"({"value":"x"})" : "");
    EXPECT_EQ(r.status, 401) << method << " " << target;
    EXPECT_EQ(r.body, R"({"error":{"type":"http_error","message":"缺少管理员凭证"}})");
  }
  EXPECT_EQ(HeadSequence(), 0u);
}

TEST_F(SystemRoutesTest, PutValidatesTheBodyAndTheValue) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  struct Case {
    std::string body;
    std::string answer;
  } cases[] = {
      {"", R"({"error":{"type":"http_error","message":"请求体不能为空"}})"},
      {"{oops", R"({"error":{"type":"http_error","message":"请求体必须是合法的JSON"}})"},
      {"[1]", R"({"error":{"type":"invalid_request","message":"请求体必须是 JSON 对象"}})"},
      {R"({"value":"foo"})",
       R"({"error":{"type":"invalid_request","message":"配置项 'provider_priority_mode' 的值必须是 ['provider', 'global_key'] 之一，当前值: foo"}})"},
      {R"({"value":5})",
       R"({"error":{"type":"invalid_request","message":"配置项 'provider_priority_mode' 的值必须是 ['provider', 'global_key'] 之一，当前值: 5"}})"},
      {R"({"value":null})",
       R"({"error":{"type":"invalid_request","message":"配置项 'provider_priority_mode' 的值必须是 ['provider', 'global_key'] 之一，当前值: null"}})"},
      {R"({"description":"only"})",
       R"({"error":{"type":"invalid_request","message":"配置项 'provider_priority_mode' 的值必须是 ['provider', 'global_key'] 之一，当前值: null"}})"},
      {R"({"value":"provider","description":7})",
       R"({"error":{"type":"invalid_request","message":"description 必须是字符串或 null"}})"},
  };
  for (const auto& c : cases) {
    TestResponse r = admin.Put(kPriorityMode, c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(r.body, c.answer) << c.body;
  }
  TestResponse sched = admin.Put(kSchedulingMode, R"({"value":"round_robin"})");
  EXPECT_EQ(
      sched.body,
      R"({"error":{"type":"invalid_request","message":"配置项 'scheduling_mode' 的值必须是 ['fixed_order', 'cache_affinity', 'load_balance'] 之一，当前值: round_robin"}})");
  // Nothing refused became an event, and the default still reads.
  EXPECT_EQ(HeadSequence(), 0u);
  EXPECT_EQ(admin.Get(kPriorityMode).body,
            R"({"key":"provider_priority_mode","value":"provider"})");
}

TEST_F(SystemRoutesTest, PutRecordsAnAuditedEventThatSurvivesRestartAndRebuild) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string auditor_token = CreateToken("watcher", "auditor");
  SseReader stream;
  ASSERT_TRUE(stream.Open(port(), auditor_token, "/api/admin/audit/stream")) << stream.head();

  TestResponse set =
      admin.Put(kPriorityMode, R"({"value":" GLOBAL_KEY ","description":"优先级模式"})",
                {{"X-Request-Id", "req-prio-1"}, {"X-Audit-Reason", "ticket OPS-16"}});
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.Header("ETag"), "\"1\"");
  Json body(set.body);
  EXPECT_EQ(Keys(body.root()),
            (std::vector<std::string>{"key", "value", "description", "updated_at"}));
  EXPECT_EQ(Str(body.root(), "key"), "provider_priority_mode");
  EXPECT_EQ(Str(body.root(), "value"), "global_key");
  EXPECT_EQ(Str(body.root(), "description"), "优先级模式");
  const std::string updated_at = Str(body.root(), "updated_at").value_or("");
  EXPECT_EQ(updated_at.size() >= 25 ? updated_at.substr(updated_at.size() - 6) : "", "+00:00")
      << updated_at;
  const uint64_t first_seq = HeadSequence();
  EXPECT_EQ(first_seq, 1u);

  // Read back, with the ETag; an empty description keeps the stored one (Aether's rule).
  TestResponse read = admin.Get(kPriorityMode);
  EXPECT_EQ(read.body, R"({"key":"provider_priority_mode","value":"global_key"})");
  EXPECT_EQ(read.Header("ETag"), "\"1\"");
  TestResponse again =
      admin.Put(kPriorityMode, R"({"value":"provider","description":""})", {{"If-Match", "\"1\""}});
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Str(Json(again.body).root(), "description"), "优先级模式");
  TestResponse stale = admin.Put(kPriorityMode, R"({"value":"global_key"})", {{"If-Match", "1"}});
  EXPECT_EQ(stale.status, 412) << stale.body;
  ASSERT_EQ(admin.Put(kSchedulingMode, R"({"value":"load_balance"})").status, 200);

  // Time travel: the value as of the first set.
  EXPECT_EQ(admin.Get(std::string(kPriorityMode) + "?as_of_seq=" + std::to_string(first_seq)).body,
            R"({"key":"provider_priority_mode","value":"global_key"})");
  EXPECT_EQ(admin.Get(std::string(kSchedulingMode) + "?as_of_seq=0").body,
            R"({"key":"scheduling_mode","value":"cache_affinity"})");
  EXPECT_EQ(admin.Get(std::string(kSchedulingMode) + "?as_of_seq=x").status, 422);

  // The audit feed: one SystemConfigSet per accepted PUT, with who, from where, why.
  std::vector<Json> events = SystemConfigEvents(admin);
  ASSERT_EQ(events.size(), 3u);
  const Json& e = events[0];
  EXPECT_EQ(Str(e.root(), "stream"), "system-config-provider_priority_mode");
  EXPECT_EQ(Int(e.root(), "stream_version"), 1);
  EXPECT_EQ(Str(e.root(), "actor"), "admin");
  EXPECT_EQ(Str(e.root(), "client_ip"), "127.0.0.1");
  EXPECT_EQ(Str(e.root(), "request_id"), "req-prio-1");
  EXPECT_EQ(Str(e.root(), "reason"), "ticket OPS-16");
  EXPECT_EQ(ToJson(e["payload"]),
            R"({"key":"provider_priority_mode","value":"global_key","description":"优先级模式"})");
  EXPECT_EQ(Str(events[2].root(), "stream"), "system-config-scheduling_mode");
  EXPECT_TRUE(stream.WaitFor("SystemConfigSet", std::chrono::seconds(10))) << stream.body();
  EXPECT_TRUE(stream.WaitFor("load_balance", std::chrono::seconds(10))) << stream.body();

  // keyledger-audit sees them offline (next to the running server).
  ProcessResult log = RunProcess(
      {AuditToolPath(), "log", "--data-dir", data_dir_, "--type", "SystemConfigSet"}, scratch_dir_);
  EXPECT_EQ(log.exit_code, 0) << log.out << log.err;
  EXPECT_NE(log.out.find("system-config-scheduling_mode"), std::string::npos) << log.out;
  EXPECT_NE(log.out.find("req-prio-1"), std::string::npos) << log.out;

  // Restart (snapshot at shutdown, then load) keeps the values; the digest names the configs;
  // keyledger-rebuild folds the log to the same digest as the live server.
  TestResponse digest = admin.Get("/api/admin/audit/digest?entities=true");
  Json dj(digest.body);
  std::vector<std::string> ids;
  for (auto ent : Items(dj["entities"])) ids.push_back(Str(ent, "id").value_or(""));
  EXPECT_EQ(ids, (std::vector<std::string>{"system-config:provider_priority_mode",
                                           "system-config:scheduling_mode"}));
  const std::string before = Str(dj.root(), "digest").value_or("");
  RestartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client after = Admin();
  EXPECT_EQ(after.Get(kPriorityMode).body,
            R"({"key":"provider_priority_mode","value":"provider"})");
  EXPECT_EQ(after.Get(kPriorityMode).Header("ETag"), "\"2\"");
  EXPECT_EQ(after.Get(kSchedulingMode).body, R"({"key":"scheduling_mode","value":"load_balance"})");
  EXPECT_EQ(Str(Json(after.Get("/api/admin/audit/digest").body).root(), "digest"), before);
  ProcessResult rebuild =
      RunProcess({KEYLEDGER_REBUILD_BIN, "--data-dir", data_dir_, "--compare-url", daemon_->url(),
                  "--token", admin_token_, "--format", "json"},
                 scratch_dir_);
  EXPECT_EQ(rebuild.exit_code, 0) << rebuild.out << rebuild.err;
  EXPECT_EQ(Bool(Json(rebuild.out)["live"], "match"), true) << rebuild.out;
}

TEST_F(SystemRoutesTest, ApiFormatsIsAethersStaticMetadata) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  TestResponse r = admin.Get("/api/admin/system/api-formats");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_EQ(
      r.body,
      R"({"formats":[)"
      R"({"value":"CLAUDE","label":"CLAUDE","default_path":"/v1/messages","aliases":["claude","anthropic","claude_compatible"]},)"
      R"({"value":"CLAUDE_CLI","label":"CLAUDE_CLI","default_path":"/v1/messages","aliases":["claude_cli","claude-cli"]},)"
      R"({"value":"OPENAI","label":"OPENAI","default_path":"/v1/chat/completions","aliases":["openai","deepseek","grok","moonshot","zhipu","qwen","baichuan","minimax","openai_compatible"]},)"
      R"({"value":"OPENAI_CLI","label":"OPENAI_CLI","default_path":"/responses","aliases":["openai_cli","responses"]},)"
      R"({"value":"GEMINI","label":"GEMINI","default_path":"/v1beta/models/{model}:{action}","aliases":["gemini","google","vertex"]},)"
      R"({"value":"GEMINI_CLI","label":"GEMINI_CLI","default_path":"/v1beta/models/{model}:{action}","aliases":["gemini_cli","gemini-cli"]}]})");
  EXPECT_EQ(admin.Put("/api/admin/system/api-formats", "{}").status, 405);
}

TEST_F(SystemRoutesTest, ModelCapabilitiesAnswersAethersNotFoundShapeToAnyone) {
  ASSERT_FALSE(HasFatalFailure());
  Client anonymous(port());
  TestResponse r = anonymous.Get("/api/capabilities/model/claude-sonnet-4");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(
      r.body,
      R"({"model":"claude-sonnet-4","supported_capabilities":[],"capability_details":[],"error":"模型不存在"})");
  // The path value as decoded, JSON-escaped.
  EXPECT_EQ(
      anonymous.Get("/api/capabilities/model/gpt%204%22x").body,
      R"({"model":"gpt 4\"x","supported_capabilities":[],"capability_details":[],"error":"模型不存在"})");
  // %2F is decoded before routing, so a name with '/' never reaches the route (as in Aether).
  TestResponse slash = anonymous.Get("/api/capabilities/model/org%2Fmodel");
  EXPECT_EQ(slash.status, 404);
  EXPECT_EQ(slash.body, R"({"detail":"Not Found"})");
  EXPECT_EQ(HeadSequence(), 0u) << "a public read is never an event";
}

TEST_F(SystemRoutesTest, OpenApiDocumentsTheNewRoutesAndTheirRoles) {
  ASSERT_FALSE(HasFatalFailure());
  Client anonymous(port());
  Json doc(anonymous.Get("/openapi.json").body);
  ASSERT_TRUE(doc.ok());
  auto role = [&](std::string_view path, std::string_view method) {
    return Str(doc["paths"][path][method], "x-required-role").value_or("?");
  };
  EXPECT_EQ(role("/api/admin/system/configs/{key}", "get"), "auditor");
  EXPECT_EQ(role("/api/admin/system/configs/{key}", "put"), "admin");
  EXPECT_EQ(role("/api/admin/system/api-formats", "get"), "auditor");
  EXPECT_EQ(role("/api/capabilities/model/{model_name}", "get"), "public");
  Client admin = Admin();
  const std::vector<std::string> put_members =
      Keys(Json(admin.Put(kSchedulingMode, R"({"value":"fixed_order"})").body).root());
  EXPECT_EQ(Keys(doc["components"]["schemas"]["SystemConfigResponse"]["properties"]), put_members);
  EXPECT_EQ(Keys(doc["components"]["schemas"]["SystemConfigValue"]["properties"]),
            Keys(Json(admin.Get(kSchedulingMode).body).root()));
  EXPECT_EQ(Keys(doc["components"]["schemas"]["ModelCapabilities"]["properties"]),
            Keys(Json(anonymous.Get("/api/capabilities/model/m").body).root()));
}

// PriorityManagementDialog.vue (spec §11.4.3, §12): on open, GET both configs and the grouped
// view in parallel; on save, PUT both configs in parallel, then one PUT {global_priority} per
// (format, key) entry, all in parallel (a key under several formats gets several conflicting
// writes; the last one wins). Every request must answer 2xx.
TEST_F(SystemRoutesTest, ThePriorityDialogsSaveSequenceSucceeds) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  std::vector<std::string> providers;
  for (int p = 0; p < 3; ++p) {
    const std::string id = CreateProvider(admin, "dialog-" + std::to_string(p));
    CreateEndpoint(admin, id, "CLAUDE", "https://c" + std::to_string(p) + ".example");
    CreateEndpoint(admin, id, "OPENAI", "https://o" + std::to_string(p) + ".example");
    providers.push_back(id);
    CreateKey(admin, id, R"(["CLAUDE"])", NewSecret("dlg"), "c" + std::to_string(p));
    CreateKey(admin, id, R"(["CLAUDE","OPENAI"])", NewSecret("dlg"), "co" + std::to_string(p));
    CreateKey(admin, id, R"(["OPENAI"])", NewSecret("dlg"), "o" + std::to_string(p));
  }
  ASSERT_FALSE(HasFailure());

  struct Call {
    std::string method, target, body;
  };
  auto run_parallel = [&](const std::vector<Call>& calls) {
    std::vector<TestResponse> answers(calls.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < calls.size(); ++i) {
      threads.emplace_back([&, i] {
        Client c(port(), admin_token_);
        answers[i] = c.Call(calls[i].method, calls[i].target, calls[i].body);
      });
    }
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < calls.size(); ++i) {
      EXPECT_GE(answers[i].status, 200) << calls[i].method << " " << calls[i].target;
      EXPECT_LT(answers[i].status, 300)
          << calls[i].method << " " << calls[i].target << ": " << answers[i].body;
    }
    return answers;
  };

  // Open.
  auto opened =
      run_parallel({{"GET", std::string(kPriorityMode), ""},
                    {"GET", std::string(kSchedulingMode), ""},
                    {"GET", std::string(kEndpointsBase) + "/keys/grouped-by-format", ""}});
  EXPECT_EQ(Str(Json(opened[0].body).root(), "value"), "provider");
  EXPECT_EQ(Str(Json(opened[1].body).root(), "value"), "cache_affinity");
  Json grouped(opened[2].body);
  ASSERT_TRUE(grouped.ok());

  // Save on the Key tab: both configs first, with the UI's fixed descriptions.
  auto saved = run_parallel(
      {{"PUT", std::string(kPriorityMode),
        R"({"value":"global_key","description":"优先级策略：provider 或 global_key"})"},
       {"PUT", std::string(kSchedulingMode),
        R"({"value":"fixed_order","description":"调度模式：fixed_order、load_balance 或 cache_affinity"})"}});
  EXPECT_EQ(Str(Json(saved[0].body).root(), "value"), "global_key");
  EXPECT_EQ(Str(Json(saved[1].body).root(), "value"), "fixed_order");

  // Then one PUT {global_priority} per (format, key) entry, display priority index+1.
  std::vector<Call> writes;
  std::map<std::string, std::set<int64_t>> sent;  // key id -> priorities sent to it
  size_t entries = 0;
  for (const std::string format : {"CLAUDE", "OPENAI"}) {
    auto items = Items(grouped[format]);
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string id = Str(items[i], "id").value_or("");
      const auto priority = static_cast<int64_t>(i + 1);
      writes.push_back(
          {"PUT", KeyPath(id), R"({"global_priority":)" + std::to_string(priority) + "}"});
      sent[id].insert(priority);
      ++entries;
    }
  }
  EXPECT_EQ(entries, 12u);  // 6 CLAUDE entries, 6 OPENAI entries; 3 keys appear twice
  run_parallel(writes);

  // Every key holds one of the priorities sent to it; the configs read back as saved.
  for (const std::string& p : providers) {
    const Json list(admin.Get(KeysOf(p)).body);
    for (auto k : Items(list.root())) {
      const std::string id = Str(k, "id").value_or("");
      ASSERT_TRUE(sent.count(id)) << id;
      EXPECT_TRUE(sent[id].count(Int(k, "global_priority").value_or(-1))) << id;
    }
  }
  EXPECT_EQ(Str(Json(admin.Get(kPriorityMode).body).root(), "value"), "global_key");
  EXPECT_EQ(Str(Json(admin.Get(kSchedulingMode).body).root(), "value"), "fixed_order");
}

TEST_F(SystemRoutesTest, PrioritiesMayBeNegativeAndStricterRulesSayWhy) {
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "negative");
  CreateEndpoint(admin, provider, "CLAUDE", "https://n.example");
  TestResponse created = admin.Post(
      KeysOf(provider), R"({"api_formats":["CLAUDE"],"api_key":)" + Quote(NewSecret("neg")) +
                            R"(,"name":"first","internal_priority":-3})");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(Int(Json(created.body).root(), "internal_priority"), -3);
  const std::string id = Str(Json(created.body).root(), "id").value_or("");
  const CreatedKey other = CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("neg"), "second");
  TestResponse updated = admin.Put(KeyPath(other.id), R"({"global_priority":-1})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(Int(Json(updated.body).root(), "global_priority"), -1);
  // A negative global priority orders first; the key list orders by internal_priority.
  Json grouped(admin.Get(std::string(kEndpointsBase) + "/keys/grouped-by-format").body);
  EXPECT_EQ(Str(Items(grouped["CLAUDE"]).at(0), "id"), other.id);
  EXPECT_EQ(Str(Items(Json(admin.Get(KeysOf(provider)).body).root()).at(0), "id"), id);
  // Beyond Aether's 32-bit column: 422 (Aether fails with a 500 there).
  TestResponse huge = admin.Put(KeyPath(id), R"({"internal_priority":2147483648})");
  EXPECT_EQ(huge.status, 422) << huge.body;

  // Capability names outside the catalogue: the 422 says why keyledger refuses them.
  TestResponse cap = admin.Put(KeyPath(id), R"({"capabilities":{"vision":true}})");
  EXPECT_EQ(cap.status, 422);
  const std::string msg = Str(Items(Json(cap.body)["detail"]).at(0), "msg").value_or("");
  EXPECT_EQ(
      msg.rfind("Value error, capabilities 的 key 必须是 ['cache_1h', 'context_1m'] 之一，当前值: "
                "vision (keyledger accepts only the capabilities of GET /api/capabilities",
                0),
      0u)
      << msg;
}

}  // namespace
}  // namespace keyledger::e2e
