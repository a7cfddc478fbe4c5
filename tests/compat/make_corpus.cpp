// The generator of the compatibility corpus (tests/compat/README.md). Disabled by default: it
// writes a NEW corpus directory with the build it runs in, and never touches an existing one.
//
//   KEYLEDGER_COMPAT_OUT=/path/to/repo/tests/compat KEYLEDGER_COMPAT_PREFIX=2026-12-06
//     build/test/tests/compat/compat_tests
//       --gtest_also_run_disabled_tests --gtest_filter='CompatCorpusGenerator.*'
//   (one command line; see README.md)
//
// Every secret below is a made-up test value ("test-only-..."), never a real credential; the
// master keys are fixed test bytes, not kept anywhere else.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "events/memory_event_log.hpp"
#include "events/secrets.hpp"
#include "projections/audit.hpp"
#include "projections/codec.hpp"
#include "projections/fold.hpp"
#include "src/registry.hpp"
#include "src/registry_commands.hpp"
#include "src/system_config.hpp"
#include "tests/compat/corpus_views.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::compat {
namespace {

namespace fs = std::filesystem;
using namespace registry;
using projections::OrderedMap;
using projections::RawJson;

constexpr int64_t kStartUs = int64_t{1796515200} * 1'000'000;  // 2026-12-06T00:00:00Z
// Fixed, test-only master keys (32 bytes each). Not a secret of any deployment.
constexpr std::string_view kTestMasterKey1 = "keyledger-compat-TEST-ONLY-key-1";
constexpr std::string_view kTestMasterKey2 = "keyledger-compat-TEST-ONLY-key-2";

// A log, keyring and registry in memory with a clock that advances one second per reading.
class Writer {
 public:
  Writer() {
    events::MemoryEventLog::Options o;
    o.clock = [this] { return Tick(); };
    log_ = std::make_unique<events::MemoryEventLog>(o);
    auto keyring =
        events::Keyring::Open(*log_, events::MasterKey::FromBytes(kTestMasterKey1).value(), {});
    EXPECT_TRUE(keyring.ok()) << keyring.status().ToString();
    keyring_ = std::move(keyring).value();
  }
  ~Writer() {
    if (registry_) {
      EXPECT_TRUE(registry_->Close().ok());
    }
  }

  int64_t Tick() { return now_.fetch_add(1'000'000) + 1'000'000; }
  int64_t Now() const { return now_.load(); }

  // Appends events as written by an older build (before the registry opens).
  void AppendRaw(const std::string& stream, int64_t expected, events::EventType type,
                 uint16_t schema_version, std::string payload) {
    events::NewEvent e;
    e.type = type;
    e.schema_version = schema_version;
    e.payload = std::move(payload);
    ASSERT_OK(log_->Append(stream, expected, {e}).status());
  }

  void OpenRegistry() {
    RegistryOptions o;
    o.log = log_.get();
    o.keyring = keyring_.get();
    o.clock = [this] { return Tick(); };
    o.secret_names = events::SecretNames::FromList("x-tenant");
    auto registry = Registry::Open(o);
    ASSERT_TRUE(registry.ok()) << registry.status().ToString();
    registry_ = std::move(registry).value();
  }

  CommandResult Run(std::unique_ptr<Command> command, std::string request_id,
                    std::optional<std::string> reason = std::nullopt) {
    RequestContext c;
    c.actor = "compat-admin";
    c.client_ip = "127.0.0.1";
    c.request_id = std::move(request_id);
    c.reason = std::move(reason);
    auto r = registry_->Execute(std::move(command), std::move(c));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : CommandResult{};
  }

  std::string CreateProvider(ProviderCreateIntent in, const std::string& request_id) {
    const std::string name = in.provider.name;
    Run(MakeCreateProvider(std::move(in)), request_id);
    const std::string* id = registry_->Current()->provider_names.Find(name);
    return id ? *id : "";
  }

  std::string CreateKey(const std::string& provider_id, const std::string& name,
                        std::vector<std::string> formats, const std::string& secret,
                        const std::string& request_id) {
    KeyCreateIntent in;
    in.provider_id = provider_id;
    in.key.name = name;
    in.key.api_formats = std::move(formats);
    in.secret = secret;
    return Run(MakeCreateKey(std::move(in)), request_id).body.substr(7, 36);
  }

  std::string CreateEndpoint(const std::string& provider_id, const std::string& format,
                             std::optional<OrderedMap<std::string>> headers,
                             std::optional<RawJson> config, const std::string& request_id) {
    EndpointCreateIntent in;
    in.provider_id = provider_id;
    in.body_provider_id = provider_id;
    in.endpoint.api_format = format;
    in.endpoint.base_url = "https://api.example.test/" + format;
    in.endpoint.headers = std::move(headers);
    in.endpoint.config = std::move(config);
    return Run(MakeCreateEndpoint(std::move(in)), request_id).body.substr(7, 36);
  }

  void RotateMaster() {
    ASSERT_OK(keyring_->RotateMaster(
        events::MasterKey::FromBytes(kTestMasterKey2).value(),
        {"compat-ops", "127.0.0.1", "req-rotate", std::string("yearly rotation (test)")}));
  }

  Registry& registry() { return *registry_; }
  events::EventLog& log() { return *log_; }

 private:
  std::atomic<int64_t> now_{kStartUs};
  std::unique_ptr<events::MemoryEventLog> log_;
  std::unique_ptr<events::Keyring> keyring_;
  std::unique_ptr<Registry> registry_;
};

// Writes <out>/<name>/events.jsonl (the export) and golden.txt (what this build reads from it).
void WriteCorpus(const events::EventLog& log, const std::string& name) {
  const char* out = std::getenv("KEYLEDGER_COMPAT_OUT");
  ASSERT_NE(out, nullptr) << "set KEYLEDGER_COMPAT_OUT to the tests/compat directory";
  const char* prefix = std::getenv("KEYLEDGER_COMPAT_PREFIX");
  ASSERT_NE(prefix, nullptr) << "set KEYLEDGER_COMPAT_PREFIX (e.g. the date)";
  const fs::path dir = fs::path(out) / (std::string(prefix) + "-" + name);
  // An existing corpus is never rewritten: its goldens are what an older build read.
  ASSERT_FALSE(fs::exists(dir)) << dir << " exists; corpora are only ever added";
  fs::create_directories(dir);
  std::string jsonl;
  ASSERT_OK(log.Scan(1, UINT64_MAX, [&](const events::EventRecord& r) {
    json::Writer w(r.payload.size() + 512);
    projections::WriteExportJson(w, r);
    jsonl += w.str();
    jsonl += '\n';
    return true;
  }));
  ASSERT_OK_AND_ASSIGN(LoadedCorpus corpus, LoadExport(jsonl));
  projections::State state;
  projections::Folder folder;
  for (const auto& r : corpus.records) ASSERT_OK(folder.Apply(state, r));
  ASSERT_OK_AND_ASSIGN(std::string views, CorpusViews(state, *corpus.log, corpus.records));
  std::ofstream(dir / "events.jsonl", std::ios::binary) << jsonl;
  std::ofstream(dir / "golden.txt", std::ios::binary) << views;
}

HealthReportItem Report(const std::string& key, const std::string& format, int64_t ok,
                        int64_t failed, int64_t at_us, std::optional<std::string> error = {}) {
  HealthReportItem item;
  item.key_id = key;
  item.api_format = format;
  item.successes = ok;
  item.failures = failed;
  item.total_response_time_ms = 120 * (ok + failed);
  item.last_error = std::move(error);
  item.at_us = at_us;
  return item;
}

// Every event type as the commands of the build write it (their current schema versions).
void WriteAllEventTypes(const std::string& corpus_name) {
  Writer w;
  w.OpenRegistry();

  ProviderCreateIntent anthropic;
  anthropic.provider.name = "anthropic-compat";
  anthropic.provider.description = "corpus provider with sealed config and proxy";
  anthropic.provider.config =
      RawJson{R"({"api_key":"test-only-provider-config-key-0001","region":"us-east"})"};
  anthropic.proxy = ProxyInput{"http://proxy.example.test:3128", std::string("proxy-user"),
                               std::string("test-only-proxy-password"), true};
  const std::string pa = w.CreateProvider(std::move(anthropic), "req-p1");
  ProviderCreateIntent openai;
  openai.provider.name = "openai-compat";
  const std::string pb = w.CreateProvider(std::move(openai), "req-p2");

  const std::string ea = w.CreateEndpoint(
      pa, "CLAUDE",
      OrderedMap<std::string>{{"x-api-key", "test-only-endpoint-header-key-0001"},
                              {"anthropic-version", "2023-06-01"}},
      RawJson{R"({"auth":{"token":"test-only-endpoint-config-token"},"max_tokens":4096})"},
      "req-e1");
  const std::string eb = w.CreateEndpoint(pa, "OPENAI", std::nullopt, std::nullopt, "req-e2");
  const std::string ec = w.CreateEndpoint(pb, "OPENAI", std::nullopt, std::nullopt, "req-e3");

  const std::string k1 = w.CreateKey(pa, "main", {"CLAUDE", "OPENAI"},
                                     "sk-ant-test-only-corpus-key-0001-abcd", "req-k1");
  const std::string k2 =
      w.CreateKey(pa, "backup", {"CLAUDE"}, "sk-ant-test-only-corpus-key-0002-efgh", "req-k2");
  const std::string k3 =
      w.CreateKey(pb, "openai", {"OPENAI"}, "sk-test-only-corpus-key-0003-ijkl", "req-k3");
  const std::string k4 =
      w.CreateKey(pa, "to-delete", {"CLAUDE"}, "sk-ant-test-only-corpus-key-0004", "req-k4");

  // Key updates: config fields, then a secret rotation (retires and shreds the old data key).
  KeyUpdateIntent u1;
  u1.key_id = k1;
  u1.fields = {"note",           "rate_multipliers", "internal_priority",
               "allowed_models", "capabilities",     "cache_ttl_minutes"};
  u1.values.note = "primary key";
  u1.values.rate_multipliers = OrderedMap<double>{{"CLAUDE", 1.5}, {"OPENAI", 0.75}};
  u1.values.internal_priority = 5;
  u1.values.allowed_models = projections::StringList{"claude-sonnet-4", "gpt-4o"};
  u1.values.capabilities = OrderedMap<bool>{{"cache_1h", true}};
  u1.values.cache_ttl_minutes = 10;
  w.Run(MakeUpdateKey(std::move(u1)), "req-k1-update");
  KeyUpdateIntent rotate;
  rotate.key_id = k2;
  rotate.new_secret = "sk-ant-test-only-corpus-key-0002-rotated";
  w.Run(MakeUpdateKey(std::move(rotate)), "req-k2-rotate", std::string("scheduled rotation"));

  // Provider and endpoint updates: sealed config/header values kept by their mask, new ones sealed.
  const auto state = w.registry().Current();
  const projections::ProviderState& pstate = *state->providers.Find(pa);
  ProviderUpdateIntent up;
  up.provider_id = pa;
  up.patch_response = true;
  up.fields = {"description", "config", "provider_priority"};
  up.values.description = "updated in the corpus";
  up.values.config = RawJson{R"({"api_key":")" + pstate.config_secrets.at(0).second.mask +
                             R"(","region":"eu-west","org_secret":"test-only-org-secret"})"};
  up.values.provider_priority = 3;
  w.Run(MakeUpdateProvider(std::move(up)), "req-p1-update");
  const projections::EndpointState& estate = *state->endpoints.Find(ea);
  EndpointUpdateIntent ue;
  ue.endpoint_id = ea;
  ue.fields = {"headers", "timeout"};
  ue.values.headers =
      OrderedMap<std::string>{{"x-api-key", estate.header_secrets.at(0).second.mask},
                              {"x-tenant", "test-only-tenant-credential"},
                              {"anthropic-version", "2023-06-01"}};
  ue.values.timeout = 120;
  w.Run(MakeUpdateEndpoint(std::move(ue)), "req-e1-update");

  // Reveals.
  w.Run(MakeRevealKey(k1), "req-k1-reveal", std::string("incident 42 (test)"));
  w.Run(MakeRevealProviderCredentials(pa), "req-p1-reveal", std::string("audit (test)"));
  w.Run(MakeRevealEndpointCredentials(ea), "req-e1-reveal", std::string("audit (test)"));

  // Health reports (one batch, several keys and formats), then resets.
  const int64_t t = w.Now();
  w.Run(MakeReportHealth({Report(k1, "CLAUDE", 20, 0, t - 30'000'000),
                          Report(k1, "OPENAI", 0, 6, t - 20'000'000, std::string("HTTP 529")),
                          Report(k2, "CLAUDE", 3, 1, t - 10'000'000, std::string("timeout")),
                          Report(k3, "OPENAI", 7, 0, t - 5'000'000)}),
        "req-health-1");
  w.Run(MakeReportHealth({Report(k1, "OPENAI", 0, 5, t - 1'000'000, std::string("HTTP 500"))}),
        "req-health-2");
  w.Run(MakeResetKeyHealth(k2, std::string("CLAUDE")), "req-reset-1");
  w.Run(MakeReportHealth({Report(k2, "CLAUDE", 2, 0, t)}), "req-health-3");

  // Adaptive RPM: fixed mode, a new limit, back to adaptive on another key, a learning reset.
  w.Run(MakeSetAdaptiveMode(k1, ParseAdaptiveModeBody(R"({"enabled":false,"fixed_limit":40})")),
        "req-a2");
  w.Run(MakeSetRpmLimit(k1, 60), "req-a3");
  w.Run(MakeSetAdaptiveMode(k3, ParseAdaptiveModeBody(R"({"enabled":true})")), "req-a2b");
  w.Run(MakeResetLearning(k1), "req-a5");
  w.Run(MakeResetLearning(k3), "req-a5b");

  // System configs: a first set, a second set keeping the description.
  w.Run(MakeSetSystemConfig("provider_priority_mode", R"("global_key")", std::string("by key")),
        "req-s1");
  w.Run(MakeSetSystemConfig("scheduling_mode", R"("fixed_order")", std::nullopt), "req-s2");
  w.Run(MakeSetSystemConfig("provider_priority_mode", R"("provider")", std::nullopt), "req-s3");

  // Deletes: a key (shredded), an endpoint.
  w.Run(MakeDeleteKey(k4), "req-k4-delete", std::string("leaked (test)"));
  w.Run(MakeDeleteEndpoint(ec), "req-e3-delete");

  // Master key rotation, then writes under the new KEK.
  w.RotateMaster();
  const std::string k5 =
      w.CreateKey(pb, "after-rotation", {"OPENAI"}, "sk-test-only-corpus-key-0005-mnop", "req-k5");
  (void)k5;
  (void)eb;

  // A provider deleted with its keys and endpoints (the cascade).
  ProviderCreateIntent gone;
  gone.provider.name = "deleted-compat";
  gone.proxy = ProxyInput{"http://proxy.example.test:8080", std::nullopt,
                          std::string("test-only-proxy-password-2"), true};
  const std::string pc = w.CreateProvider(std::move(gone), "req-p3");
  w.CreateKey(pc, "doomed", {"GEMINI"}, "test-only-corpus-key-0006-gemini", "req-k6");
  w.CreateEndpoint(pc, "GEMINI",
                   OrderedMap<std::string>{{"authorization", "Bearer test-only-bearer-0001"}},
                   std::nullopt, "req-e4");
  w.Run(MakeDeleteProvider(pc), "req-p3-delete", std::string("offboarded (test)"));

  ASSERT_NO_FATAL_FAILURE(WriteCorpus(w.log(), corpus_name));
}

// Written by the build before typed events (2026-12-06-all-types).
TEST(CompatCorpusGenerator, DISABLED_AllEventTypes) { WriteAllEventTypes("all-types"); }

// The same history written by the build with typed events, where KeyRpmLimitSet is at schema
// version 2 (2026-12-06-all-types-rpm-limit-v2).
TEST(CompatCorpusGenerator, DISABLED_AllEventTypesRpmLimitV2) {
  WriteAllEventTypes("all-types-rpm-limit-v2");
}

// Schema-version-1 payloads of the four types now at version 2 (ProviderCreated/Updated,
// EndpointCreated/Updated), as builds before sealed credentials wrote them: plaintext
// credentials in config and headers. Then today's commands on top of them.
TEST(CompatCorpusGenerator, DISABLED_SchemaV1Credentials) {
  Writer w;
  const std::string pid = "00000000-0000-4000-8000-00000000c001";
  const std::string eid = "00000000-0000-4000-8000-00000000e001";
  projections::ProviderState p;
  p.id = pid;
  p.name = "legacy-compat";
  p.description = "written by a build before sealed credentials";
  p.config = RawJson{R"({"api_key":"test-only-legacy-plaintext-config-key","region":"us"})"};
  json::Writer pw;
  pw.BeginObject().Key("provider");
  projections::WriteProvider(pw, p, projections::FieldSet::kConfig);
  pw.EndObject();
  // Version 1 had the same provider table without config_secrets.
  std::string v1_provider = pw.Take();
  const std::string no_secrets = R"(,"config_secrets":{})";
  v1_provider.erase(v1_provider.find(no_secrets), no_secrets.size());
  w.AppendRaw("provider-" + pid, 0, events::EventType::kProviderCreated, 1, v1_provider);
  w.AppendRaw("provider-" + pid, 1, events::EventType::kProviderUpdated, 1,
              R"({"provider_id":")" + pid +
                  R"(","set":{"config":{"api_key":"test-only-legacy-plaintext-config-key-2",)"
                  R"("nested":{"password":"test-only-legacy-password"}},"is_active":true}})");
  w.AppendRaw("endpoint-" + eid, 0, events::EventType::kEndpointCreated, 1,
              R"({"endpoint":{"id":")" + eid + R"(","provider_id":")" + pid +
                  R"(","api_format":"CLAUDE","base_url":"https://legacy.example.test",)"
                  R"("custom_path":null,"headers":{"x-api-key":"test-only-legacy-header-key",)"
                  R"("x-trace":"visible"},"timeout":300,"max_retries":2,"is_active":true,)"
                  R"("config":{"token":"test-only-legacy-config-token"},"proxy":null}})");
  w.AppendRaw("endpoint-" + eid, 1, events::EventType::kEndpointUpdated, 1,
              R"({"endpoint_id":")" + eid +
                  R"(","set":{"headers":{"x-api-key":"test-only-legacy-header-key-2",)"
                  R"("authorization":"Bearer test-only-legacy-bearer"},"timeout":200}})");
  w.OpenRegistry();
  const std::string key = w.CreateKey(pid, "on-legacy", {"CLAUDE"},
                                      "sk-ant-test-only-corpus-legacy-key-0001", "req-k1");
  (void)key;
  // A reveal answers the v1 plaintext; sending the masks back seals it (version-2 events).
  w.Run(MakeRevealEndpointCredentials(eid), "req-e-reveal", std::string("migration (test)"));
  const auto state = w.registry().Current();
  const projections::EndpointState& e = *state->endpoints.Find(eid);
  EndpointUpdateIntent resend;
  resend.endpoint_id = eid;
  resend.fields = {"headers"};
  resend.values.headers =
      OrderedMap<std::string>{{"x-api-key", events::MaskSecret(e.headers->at(0).second)},
                              {"authorization", events::MaskSecret(e.headers->at(1).second)}};
  w.Run(MakeUpdateEndpoint(std::move(resend)), "req-e-seal");
  ASSERT_NO_FATAL_FAILURE(WriteCorpus(w.log(), "schema-v1-credentials"));
}

}  // namespace
}  // namespace keyledger::compat
