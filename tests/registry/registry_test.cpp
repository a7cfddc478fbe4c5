// The registry's commands against a real log and keyring: Aether's behaviour (spec §8, §10, §11)
// with DESIGN.md's differences, events as the only effect, and the single writer's guarantees.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "events/crypto.hpp"
#include "projections/views.hpp"
#include "src/idempotency.hpp"
#include "tests/registry/registry_harness.hpp"
#include "tests/support/file_scan.hpp"
#include "tools/bench/workload.hpp"

namespace keyledger::registry {
namespace {

using testing::Harness;

constexpr const char* kSecret = "sk-ant-api03-UNIQUEsecretVALUE-0123456789-wxyz";

// Every byte of every event payload and metadata in the log.
std::string AllEventBytes(events::EventLog& log) {
  std::string all;
  auto records = log.ReadRange(1, 1'000'000);
  EXPECT_TRUE(records.ok());
  for (const auto& r : *records) {
    all += r.payload;
    all += r.metadata.actor + r.metadata.client_ip + r.metadata.request_id;
    if (r.metadata.reason) all += *r.metadata.reason;
  }
  return all;
}

TEST(RegistryTest, KeyLifecycleMatchesAetherAndKeepsSecretsSealed) {
  Harness h;
  std::string pid = h.CreateProvider("anthropic-direct");
  ASSERT_FALSE(pid.empty());

  KeyCreateIntent in;
  in.provider_id = pid;
  in.key.api_formats = {"CLAUDE", "CLAUDE_CLI"};
  in.key.name = "main";
  in.secret = kSecret;
  ASSERT_OK_AND_ASSIGN(auto created, h.Run(MakeCreateKey(in)));
  const std::string id = created.body.substr(7, 36);
  EXPECT_EQ(created.etag, 1u);
  EXPECT_GT(created.sequence, 0u);
  // The exact K2 shape of aether-spec.md §7, except api_key_plain (not echoed by default).
  const auto created_state = h.registry().Current();
  const auto& k = *created_state->keys.Find(id);
  EXPECT_EQ(
      created.body,
      "{\"id\":\"" + id + "\",\"provider_id\":\"" + pid +
          "\",\"api_formats\":[\"CLAUDE\",\"CLAUDE_CLI\"],\"api_key_masked\":\"sk-ant-a***wxyz\","
          "\"api_key_plain\":null,\"name\":\"main\",\"rate_multiplier\":1.0,"
          "\"rate_multipliers\":null,\"internal_priority\":50,\"global_priority\":null,"
          "\"rpm_limit\":null,\"allowed_models\":null,\"capabilities\":null,"
          "\"cache_ttl_minutes\":5,\"max_probe_interval_minutes\":32,\"health_by_format\":{},"
          "\"circuit_breaker_by_format\":{},\"health_score\":1.0,\"consecutive_failures\":0,"
          "\"last_failure_at\":null,\"circuit_breaker_open\":false,"
          "\"circuit_breaker_open_at\":null,\"next_probe_at\":null,\"half_open_until\":null,"
          "\"half_open_successes\":0,\"half_open_failures\":0,"
          "\"request_results_window\":null,\"request_count\":0,\"success_count\":0,"
          "\"error_count\":0,\"success_rate\":0.0,\"avg_response_time_ms\":0.0,"
          "\"is_active\":true,\"is_adaptive\":true,\"learned_rpm_limit\":null,"
          "\"effective_limit\":50,\"utilization_samples\":null,"
          "\"last_probe_increase_at\":null,\"concurrent_429_count\":0,\"rpm_429_count\":0,"
          "\"last_429_at\":null,\"last_429_type\":null,\"note\":null,\"last_used_at\":null,"
          "\"created_at\":\"" +
          created.body.substr(created.body.find("\"created_at\":\"") + 14, 27) +
          "\",\"updated_at\":\"" +
          created.body.substr(created.body.find("\"updated_at\":\"") + 14, 27) + "\"}");
  EXPECT_EQ(k.created_at, k.updated_at);

  // Partial update: rpm_limit null switches to adaptive and clears learned_rpm_limit;
  // allowed_models [] becomes null; absent fields untouched.
  KeyUpdateIntent up;
  up.key_id = id;
  up.fields = {"rpm_limit", "note", "allowed_models", "internal_priority"};
  up.values.rpm_limit = 100;
  up.values.note = "primary";
  up.values.allowed_models = projections::StringList{};
  up.values.internal_priority = 7;
  ASSERT_OK_AND_ASSIGN(auto updated, h.Run(MakeUpdateKey(up)));
  EXPECT_EQ(updated.etag, 2u);
  EXPECT_NE(updated.body.find("\"rpm_limit\":100"), std::string::npos);
  EXPECT_NE(updated.body.find("\"effective_limit\":100"), std::string::npos);
  EXPECT_NE(updated.body.find("\"allowed_models\":null"), std::string::npos);
  EXPECT_NE(updated.body.find("\"internal_priority\":7"), std::string::npos);
  EXPECT_NE(updated.body.find("\"name\":\"main\""), std::string::npos);

  // Reveal: an audit event with actor, IP, request id and reason, then the plaintext.
  RequestContext why = Harness::Admin();
  why.reason = "incident 42";
  why.request_id = "req-reveal";
  ASSERT_OK_AND_ASSIGN(auto revealed, h.Run(MakeRevealKey(id), why));
  EXPECT_EQ(revealed.body, std::string("{\"api_key\":\"") + kSecret + "\"}");
  ASSERT_OK_AND_ASSIGN(auto stream, h.log().ReadStream("key-" + id, 1, 100));
  ASSERT_EQ(stream.size(), 3u);
  EXPECT_EQ(stream[2].type, events::EventType::kKeyRevealed);
  EXPECT_EQ(stream[2].metadata.actor, "ops");
  EXPECT_EQ(stream[2].metadata.client_ip, "127.0.0.1");
  EXPECT_EQ(stream[2].metadata.request_id, "req-reveal");
  EXPECT_EQ(stream[2].metadata.reason, std::optional<std::string>("incident 42"));
  // A reveal is not a configuration change: the ETag stays.
  EXPECT_EQ(h.registry().Current()->keys.Find(id)->version, 2u);

  // Delete: a receipt, the key gone, its secret shredded.
  ASSERT_OK_AND_ASSIGN(auto deleted, h.Run(MakeDeleteKey(id)));
  EXPECT_EQ(deleted.body, "{\"message\":\"Key " + id +
                              " 已删除\",\"seq\":" + std::to_string(deleted.sequence) +
                              ",\"hash\":\"" + deleted.hash + "\"}");
  EXPECT_EQ(h.log().GetHead().sequence, deleted.sequence);
  EXPECT_EQ(h.registry().Current()->keys.Find(id), nullptr);
  auto again = h.Run(MakeRevealKey(id));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(again.error().message, "Key " + id + " 不存在");
  auto shredded = h.keyring().Open(k.secret.sealed, id, k.secret.version);
  ASSERT_FALSE(shredded.ok());
  EXPECT_EQ(shredded.error().code, ErrorCode::kShredded);

  // The plaintext is nowhere in the log; the chain verifies.
  EXPECT_EQ(AllEventBytes(h.log()).find(kSecret), std::string::npos);
  ASSERT_OK_AND_ASSIGN(auto report, h.log().Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok) << report.reason;
  for (const auto& line : h.log_lines()) EXPECT_EQ(line.find(kSecret), std::string::npos);
}

TEST(RegistryTest, FailedCommandsAppendNothing) {
  Harness h;
  std::string pid = h.CreateProvider("p");
  std::string key = h.CreateKey(pid, kSecret);
  const uint64_t head = h.log().GetHead().sequence;

  KeyCreateIntent missing_provider;
  missing_provider.provider_id = "nope";
  missing_provider.secret = "sk-something-long-enough";
  missing_provider.key.api_formats = {"CLAUDE"};
  auto r1 = h.Run(MakeCreateKey(missing_provider));
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.error().message, "Provider nope 不存在");

  KeyCreateIntent no_formats = missing_provider;
  no_formats.provider_id = pid;
  no_formats.api_formats_missing = true;
  auto r2 = h.Run(MakeCreateKey(no_formats));
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r2.error().message, "api_formats 为必填字段");

  KeyCreateIntent mismatch = missing_provider;
  mismatch.provider_id = pid;
  mismatch.body_provider_id = "other";
  EXPECT_EQ(h.Run(MakeCreateKey(mismatch)).error().message.rfind("provider_id 不匹配 (", 0), 0u);

  KeyCreateIntent duplicate = missing_provider;
  duplicate.provider_id = pid;
  duplicate.secret = kSecret;
  auto r3 = h.Run(MakeCreateKey(duplicate));
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.error().message.find(key), std::string::npos);

  KeyUpdateIntent stale;
  stale.key_id = key;
  RequestContext if_match = Harness::Admin();
  if_match.if_match = 9;
  auto r4 = h.Run(MakeUpdateKey(stale), if_match);
  ASSERT_FALSE(r4.ok());
  EXPECT_EQ(r4.error().code, ErrorCode::kPreconditionFailed);
  EXPECT_EQ(r4.error().actual_version, 1u);

  EXPECT_EQ(h.Run(MakeDeleteKey("nope")).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(h.Run(MakeDeleteProvider("nope")).error().message, "提供商不存在");

  ProviderCreateIntent same_name;
  same_name.provider.name = "p";
  EXPECT_EQ(h.Run(MakeCreateProvider(same_name)).error().message, "提供商名称 'p' 已存在");

  EXPECT_EQ(h.log().GetHead().sequence, head);
}

TEST(RegistryTest, ProviderDeleteCascadesAsEventsAndShredsEveryKey) {
  Harness h;
  std::string pid = h.CreateProvider("cascade");
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) {
    keys.push_back(h.CreateKey(pid, "sk-cascade-secret-number-" + std::to_string(i)));
  }
  EndpointCreateIntent ep;
  ep.provider_id = pid;
  ep.body_provider_id = pid;
  ep.endpoint.api_format = "CLAUDE";
  ep.endpoint.base_url = "https://api.anthropic.com";
  ep.proxy = ProxyInput{"http://proxy:8080", "u", "proxy-password-123", true};
  ASSERT_OK_AND_ASSIGN(auto endpoint, h.Run(MakeCreateEndpoint(ep)));
  EXPECT_NE(endpoint.body.find("\"password\":\"***\""), std::string::npos);
  EXPECT_NE(endpoint.body.find("\"total_keys\":5"), std::string::npos);
  auto dup = h.Run(MakeCreateEndpoint(ep));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().message, "Provider cascade 已存在 CLAUDE 格式的 Endpoint");

  std::vector<projections::StoredSecret> secrets;
  for (const auto& id : keys) secrets.push_back(h.registry().Current()->keys.Find(id)->secret);
  const uint64_t before = h.log().GetHead().sequence;
  ASSERT_OK_AND_ASSIGN(auto deleted, h.Run(MakeDeleteProvider(pid)));
  EXPECT_EQ(deleted.sequence, before + 5 + 1 + 1);  // keys, endpoint, provider
  EXPECT_NE(deleted.body.find("\"message\":\"提供商已删除\""), std::string::npos);
  auto s = h.registry().Current();
  EXPECT_EQ(s->providers.size(), 0u);
  EXPECT_EQ(s->keys.size(), 0u);
  EXPECT_EQ(s->endpoints.size(), 0u);
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(h.keyring().Open(secrets[i].sealed, keys[i], 1).error().code, ErrorCode::kShredded);
  }
  EXPECT_EQ(AllEventBytes(h.log()).find("proxy-password-123"), std::string::npos);
}

TEST(RegistryTest, IdempotentRetriesReplayAndSurviveRestart) {
  Harness h(Harness::Store::kRocks);
  std::string pid = h.CreateProvider("idem");
  RequestContext ctx = Harness::Admin();
  ctx.idempotency_key = "create-1";
  ctx.request_fingerprint = "POST /keys body-A";
  KeyCreateIntent in;
  in.provider_id = pid;
  in.key.api_formats = {"OPENAI"};
  in.key.name = "k";
  in.secret = "sk-idempotent-secret-abcdef";
  ASSERT_OK_AND_ASSIGN(auto first, h.Run(MakeCreateKey(in), ctx));
  const uint64_t head = h.log().GetHead().sequence;
  ASSERT_OK_AND_ASSIGN(auto retry, h.Run(MakeCreateKey(in), ctx));
  EXPECT_TRUE(retry.replayed);
  EXPECT_EQ(retry.body, first.body);
  EXPECT_EQ(retry.etag, first.etag);
  EXPECT_EQ(h.log().GetHead().sequence, head);

  RequestContext other = ctx;
  other.request_fingerprint = "POST /keys body-B";
  auto mismatch = h.Run(MakeCreateKey(in), other);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code, ErrorCode::kValidation);

  h.Reopen();
  ASSERT_OK_AND_ASSIGN(auto after_restart, h.Run(MakeCreateKey(in), ctx));
  EXPECT_EQ(after_restart.body, first.body);
  EXPECT_EQ(h.log().GetHead().sequence, head);

  // Deletes replay their receipt too.
  RequestContext del = Harness::Admin();
  del.idempotency_key = "delete-1";
  del.request_fingerprint = "DELETE";
  const std::string key_id = first.body.substr(7, 36);
  ASSERT_OK_AND_ASSIGN(auto d1, h.Run(MakeDeleteKey(key_id), del));
  ASSERT_OK_AND_ASSIGN(auto d2, h.Run(MakeDeleteKey(key_id), del));
  EXPECT_EQ(d1.body, d2.body);
}

// Holds the writer inside Decide until released, so that the commands submitted meanwhile are
// decided together in the next group.
class GateCommand final : public Command {
 public:
  explicit GateCommand(std::shared_future<void> open) : open_(std::move(open)) {}
  std::string_view Name() const override { return "Gate"; }
  Result<Decision> Decide(DecideContext&) override {
    open_.wait();
    return Decision{};
  }

 private:
  std::shared_future<void> open_;
};

TEST(RegistryTest, SameIdempotencyKeyTwiceInOneGroupAnswersTheFirstResult) {
  Harness h;
  std::string pid = h.CreateProvider("idem-group");
  std::string key = h.CreateKey(pid, kSecret);
  std::promise<void> gate;
  std::mutex mu;
  std::vector<Result<CommandResult>> results;
  std::atomic<int> done{0};
  h.registry().Submit(std::make_unique<GateCommand>(gate.get_future().share()), Harness::Admin(),
                      [&](Result<CommandResult>) { done.fetch_add(1); });
  // Three retries of one update, then a reveal twice with one key: queued behind the gate.
  RequestContext ctx = Harness::Admin();
  ctx.idempotency_key = "same";
  ctx.request_fingerprint = "PUT /keys/x {note}";
  RequestContext reveal = Harness::Admin();
  reveal.idempotency_key = "reveal";
  reveal.request_fingerprint = "GET /keys/x/reveal";
  auto collect = [&](Result<CommandResult> r) {
    std::lock_guard lock(mu);
    results.push_back(std::move(r));
    done.fetch_add(1);
  };
  for (int i = 0; i < 3; ++i) {
    KeyUpdateIntent in;
    in.key_id = key;
    in.fields = {"note"};
    in.values.note = "once";
    h.registry().Submit(MakeUpdateKey(in), ctx, collect);
  }
  for (int i = 0; i < 2; ++i) h.registry().Submit(MakeRevealKey(key), reveal, collect);
  const uint64_t head = h.log().GetHead().sequence;
  gate.set_value();
  while (done.load() < 6) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  ASSERT_EQ(results.size(), 5u);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status().ToString();
    EXPECT_EQ(results[i]->body, results[0]->body);
    EXPECT_EQ(results[i]->replayed, i > 0);
  }
  // A reveal's answer holds the secret and is never replayed: both reveals ran and were audited.
  for (size_t i = 3; i < 5; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status().ToString();
    EXPECT_FALSE(results[i]->replayed);
  }
  EXPECT_EQ(h.log().GetHead().sequence, head + 1 + 2);  // one update, two reveals
}

TEST(RegistryTest, AnEchoedCreateIsReplayedWithoutItsPlaintext) {
  RegistryOptions options;
  options.echo_plaintext_on_create = true;
  Harness h(Harness::Store::kRocks, options);
  std::string pid = h.CreateProvider("echo");
  RequestContext ctx = Harness::Admin();
  ctx.idempotency_key = "create-echo";
  ctx.request_fingerprint = "POST /keys echo";
  KeyCreateIntent in;
  in.provider_id = pid;
  in.key.api_formats = {"CLAUDE"};
  in.key.name = "echoed";
  in.secret = kSecret;
  ASSERT_OK_AND_ASSIGN(auto first, h.Run(MakeCreateKey(in), ctx));
  EXPECT_NE(first.body.find(kSecret), std::string::npos);
  const uint64_t head = h.log().GetHead().sequence;
  h.Reopen();
  ASSERT_OK_AND_ASSIGN(auto retry, h.Run(MakeCreateKey(in), ctx));
  EXPECT_TRUE(retry.replayed);
  EXPECT_EQ(retry.body.find(kSecret), std::string::npos);
  EXPECT_NE(retry.body.find("\"api_key_plain\":null"), std::string::npos);
  EXPECT_EQ(retry.body.substr(0, 44), first.body.substr(0, 44));  // {"id":"<same id>"
  EXPECT_EQ(h.log().GetHead().sequence, head);
  EXPECT_EQ(AllEventBytes(h.log()).find(kSecret), std::string::npos);
}

TEST(RegistryTest, HealthReportsOpenTheBreakerAndResetClosesIt) {
  Harness h;
  std::string pid = h.CreateProvider("health");
  std::string key = h.CreateKey(pid, kSecret, {"CLAUDE", "OPENAI"});
  std::vector<HealthReportItem> items;
  items.push_back(
      {key, "CLAUDE", 2, 8, 500, std::string("upstream 500"), 1'768'280'000'000'000, {}});
  items.push_back({key, "GEMINI", 1, 0, 10, {}, 1'768'280'000'000'000, {}});        // not served
  items.push_back({"missing", "CLAUDE", 1, 0, 10, {}, 1'768'280'000'000'000, {}});  // no key
  items.push_back({key, "OPENAI", 3, 0, 300, {}, 1'768'280'001'000'000, {}});
  ASSERT_OK_AND_ASSIGN(auto reported, h.Run(MakeReportHealth(items)));
  EXPECT_NE(reported.body.find("\"accepted\":2,\"rejected\":2"), std::string::npos);
  const auto reported_state = h.registry().Current();
  const auto& k = *reported_state->keys.Find(key);
  EXPECT_EQ(k.request_count, 13);
  EXPECT_EQ(k.success_count, 5);
  EXPECT_EQ(k.error_count, 8);
  EXPECT_TRUE(projections::FindIn(k.circuit_breaker_by_format, "CLAUDE")->open);
  EXPECT_FALSE(projections::FindIn(k.circuit_breaker_by_format, "OPENAI")->open);
  std::string list = projections::KeyListJson(*h.registry().Current(), pid, 0, 100);
  EXPECT_NE(list.find("\"circuit_breaker_open\":true"), std::string::npos);
  EXPECT_NE(list.find("\"avg_response_time_ms\":160.0"), std::string::npos);  // 800 / 5

  ASSERT_OK(h.Run(MakeRecoverAllKeys()));
  const auto healed_state = h.registry().Current();
  const auto& healed = *healed_state->keys.Find(key);
  EXPECT_FALSE(projections::FindIn(healed.circuit_breaker_by_format, "CLAUDE")->open);
  EXPECT_EQ(projections::FindIn(healed.health_by_format, "CLAUDE")->health_score, 1.0);
  EXPECT_EQ(h.Run(MakeResetKeyHealth("nope", {})).error().code, ErrorCode::kNotFound);
  ASSERT_OK(h.Run(MakeResetKeyHealth(key, std::string("OPENAI"))));
}

TEST(RegistryTest, ConcurrentCommandsAreGroupCommittedInOrder) {
  Harness h(Harness::Store::kRocks);
  std::string pid = h.CreateProvider("concurrent");
  std::atomic<size_t> groups{0};
  constexpr int kThreads = 16;
  constexpr int kPerThread = 10;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        KeyCreateIntent in;
        in.provider_id = pid;
        in.key.api_formats = {"CLAUDE"};
        in.key.name = "k";
        in.secret = "sk-concurrent-" + std::to_string(t) + "-" + std::to_string(i) + "-padding";
        if (h.Run(MakeCreateKey(in)).ok()) ok++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  auto s = h.registry().Current();
  EXPECT_EQ(s->keys.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(s->sequence, h.log().GetHead().sequence);
  (void)groups;
}

TEST(RegistryTest, AFailedWriteAnswersUnavailableAndChangesNothing) {
  Harness h;
  std::atomic<bool> fail{false};
  h.fail_write = [&] { return fail.load(); };
  std::string pid = h.CreateProvider("fragile");
  auto before = h.registry().Current();
  fail = true;
  KeyCreateIntent in;
  in.provider_id = pid;
  in.key.api_formats = {"CLAUDE"};
  in.key.name = "k";
  in.secret = "sk-fails-to-write-0000000000";
  auto r = h.Run(MakeCreateKey(in));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kIoError);
  EXPECT_EQ(h.registry().Current(), before);
  fail = false;
  ASSERT_OK(h.Run(MakeCreateKey(in)));
  EXPECT_EQ(h.registry().Current()->keys.size(), 1u);
}

TEST(RegistryTest, RestartRecoversTheSameDigestFromSnapshotPlusTail) {
  RegistryOptions o;
  o.snapshot_every = 7;
  Harness h(Harness::Store::kRocks, o);
  std::string pid = h.CreateProvider("restart");
  for (int i = 0; i < 20; ++i) h.CreateKey(pid, "sk-restart-key-" + std::to_string(i) + "-pad");
  const std::string digest = projections::StateDigestHex(*h.registry().Current());
  h.Reopen();
  EXPECT_EQ(projections::StateDigestHex(*h.registry().Current()), digest);
  ASSERT_OK_AND_ASSIGN(auto snaps, h.registry().snapshots().List());
  EXPECT_FALSE(snaps.empty());
  projections::State full;
  ASSERT_OK(projections::Replay(h.log(), full, h.log().GetHead().sequence));
  EXPECT_EQ(projections::StateDigestHex(full), digest);
}

}  // namespace
}  // namespace keyledger::registry

namespace keyledger::registry {
namespace {

// Groups close before kMaxGroupEvents: many large commands queued at once are spread over
// several group commits instead of one append the log would refuse.
TEST(RegistryGroupTest, LargeCommandsQueuedTogetherAreSplitAcrossGroups) {
  std::vector<size_t> group_events;
  std::mutex mu;
  RegistryOptions o;
  o.on_group = [&](size_t, size_t events, int64_t) {
    std::lock_guard lock(mu);
    group_events.push_back(events);
  };
  testing::Harness h(testing::Harness::Store::kMemory, o);
  std::string pid = h.CreateProvider("bulk");
  std::string key = h.CreateKey(pid, "sk-bulk-group-split-secret", {"CLAUDE"});
  constexpr int kCommands = 24;
  constexpr int kItems = 5000;  // 120,000 events in all
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kCommands; ++t) {
    threads.emplace_back([&, t] {
      std::vector<HealthReportItem> items(kItems);
      for (int i = 0; i < kItems; ++i) {
        items[static_cast<size_t>(i)] = {
            key, "CLAUDE", 1, 0, 10, {}, 1'768'280'000'000'000 + t * kItems + i, {}};
      }
      // One event per item, as health reports were before they became telemetry.
      if (h.Run(bench::MakeLegacyHealthReports(std::move(items))).ok()) ok++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kCommands);
  std::lock_guard lock(mu);
  for (size_t events : group_events) EXPECT_LE(events, kMaxGroupEvents);
  EXPECT_EQ(h.registry().Current()->keys.Find(key)->request_count, kCommands * kItems);
}

}  // namespace
}  // namespace keyledger::registry

namespace keyledger::registry {
namespace {

// Purges after deletes are paced (RegistryOptions::min_purge_interval_us). With an interval far
// longer than the test, the first delete's purge runs at once and the later deletes' purge is
// owed until Close, which pays it: afterwards no file of the directory holds any of the wrapped
// data keys, which had reached SST files before the deletes.
TEST(RegistryPurgeTest, PacedPurgesStillShredEveryKeyByClose) {
  RegistryOptions o;
  o.min_purge_interval_us = int64_t{3600} * 1'000'000;
  // A snapshot after every group: the maintenance thread purges before it snapshots, so a
  // snapshot at or after a delete's sequence shows that delete's purge has run.
  o.snapshot_every = 1;
  Harness h(Harness::Store::kRocks, o);
  const std::string provider = h.CreateProvider("paced");
  std::vector<std::string> ids, wrapped;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(h.CreateKey(provider, "sk-ant-api03-paced-" + std::to_string(i) + "-abcdefghij",
                              {"CLAUDE"}, "k" + std::to_string(i)));
    const projections::KeyState* k = h.registry().Current()->keys.Find(ids.back());
    ASSERT_NE(k, nullptr);
    ASSERT_OK_AND_ASSIGN(
        auto dek, h.log().GetAux(events::AuxSpace::kKeyring, "dek/" + k->secret.sealed.dek_id));
    ASSERT_TRUE(dek.has_value());
    wrapped.push_back(*dek);
  }
  // The wrapped keys reach SST files, as after days of normal operation; the scan sees them.
  ASSERT_OK(h.log().PurgeDeletedAux(events::AuxSpace::kKeyring));
  auto before = keyledger::testing::FindInFiles(h.data_dir(), wrapped);
  for (const std::string& w : wrapped) ASSERT_FALSE(before[w].empty());

  // The first delete: its purge runs now (bounded wait for the snapshot that follows it).
  ASSERT_OK_AND_ASSIGN(auto first, h.Run(MakeDeleteKey(ids[0])));
  bool purged = false;
  for (int i = 0; i < 1000 && !purged; ++i) {
    ASSERT_OK_AND_ASSIGN(auto snapshots, h.registry().snapshots().List());
    purged = !snapshots.empty() && snapshots.back().sequence >= first.sequence;
    if (!purged) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(purged) << "no snapshot after the first delete";
  // The others: their purge is not due for an hour.
  for (size_t i = 1; i < ids.size(); ++i) ASSERT_OK(h.Run(MakeDeleteKey(ids[i])).status());
  h.Close();

  keyledger::testing::ScanStats stats;
  auto after = keyledger::testing::FindInFiles(h.data_dir(), wrapped, &stats);
  EXPECT_GT(stats.sst_files, 0u);
  for (size_t i = 0; i < wrapped.size(); ++i) {
    EXPECT_TRUE(after[wrapped[i]].empty()) << "key " << i << ": " << after[wrapped[i]].front();
  }
}

}  // namespace
}  // namespace keyledger::registry

namespace keyledger::registry {
namespace {

// Tells when the writer is inside it, then holds the writer there until released.
class HoldCommand final : public Command {
 public:
  HoldCommand(std::promise<void>& entered, std::shared_future<void> release)
      : entered_(entered), release_(std::move(release)) {}
  std::string_view Name() const override { return "Hold"; }
  Result<Decision> Decide(DecideContext&) override {
    entered_.set_value();
    release_.wait();
    return Decision{};
  }

 private:
  std::promise<void>& entered_;
  std::shared_future<void> release_;
};

// The writer's stages (src/WRITER.md), each seen through one group of commands: everything is
// submitted while the writer is held in a group of its own, so it decides them as the next group.
class OneGroup {
 public:
  explicit OneGroup(Harness& h) : h_(h) {
    std::promise<void> entered;
    h_.registry().Submit(std::make_unique<HoldCommand>(entered, gate_.get_future().share()),
                         Harness::Admin(), [this](Result<CommandResult>) { Count(); });
    entered.get_future().wait();
  }

  // Queues a command; its result is results()[n] for the n-th call.
  void Add(std::unique_ptr<Command> command, RequestContext ctx = Harness::Admin()) {
    const size_t index = expected_++;
    results_.emplace_back(MakeError(ErrorCode::kInternal, "not answered"));
    h_.registry().Submit(std::move(command), std::move(ctx),
                         [this, index](Result<CommandResult> r) {
                           {
                             std::lock_guard lock(mu_);
                             results_[index] = std::move(r);
                           }
                           Count();
                         });
  }

  // Opens the gate and waits for every answer (the gate's own included).
  const std::vector<Result<CommandResult>>& Run() {
    gate_.set_value();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return answered_ == expected_ + 1; });
    return results_;
  }

 private:
  void Count() {
    std::lock_guard lock(mu_);
    ++answered_;
    cv_.notify_all();
  }

  Harness& h_;
  std::promise<void> gate_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t expected_ = 0;
  size_t answered_ = 0;
  std::vector<Result<CommandResult>> results_;
};

RequestContext Keyed(std::string key, std::string fingerprint) {
  RequestContext ctx = Harness::Admin();
  ctx.idempotency_key = std::move(key);
  ctx.request_fingerprint = std::move(fingerprint);
  return ctx;
}

std::unique_ptr<Command> SetNote(const std::string& key_id, const std::string& note) {
  KeyUpdateIntent in;
  in.key_id = key_id;
  in.fields = {"note"};
  in.values.note = note;
  return MakeUpdateKey(std::move(in));
}

// Decides one event on a stream without naming its expected version, which the writer refuses
// to fold (commands must name exact versions): a bug in a command, answered as 500.
class UnversionedCommand final : public Command {
 public:
  std::string_view Name() const override { return "Unversioned"; }
  Result<Decision> Decide(DecideContext&) override {
    Decision d;
    events::StreamAppend sa;
    sa.stream = "key-unversioned";
    sa.expected_version = events::kAnyVersion;
    sa.events.push_back(events::NewEvent{events::EventType::kKeyUpdated, 1, "{}", 0});
    d.streams.push_back(std::move(sa));
    return d;
  }
};

// Resolve idempotency: a retry in the same group with another request is refused (422), while
// the first one runs; a retry with the same request answers the first one's result.
TEST(RegistryStagesTest, AnInGroupRetryWithAnotherRequestIsRefused) {
  Harness h;
  const std::string key = h.CreateKey(h.CreateProvider("stages-a"), kSecret);
  const uint64_t head = h.log().GetHead().sequence;
  OneGroup group(h);
  group.Add(SetNote(key, "first"), Keyed("k-a", "PUT note=first"));
  group.Add(SetNote(key, "second"), Keyed("k-a", "PUT note=second"));
  group.Add(SetNote(key, "first"), Keyed("k-a", "PUT note=first"));
  const auto& r = group.Run();
  ASSERT_OK(r[0].status());
  EXPECT_FALSE(r[0]->replayed);
  ASSERT_FALSE(r[1].ok());
  EXPECT_EQ(r[1].error().code, ErrorCode::kValidation);
  ASSERT_EQ(r[1].error().details.size(), 1u);
  EXPECT_EQ(r[1].error().details[0].loc, (std::vector<std::string>{"header", "Idempotency-Key"}));
  ASSERT_OK(r[2].status());
  EXPECT_TRUE(r[2]->replayed);
  EXPECT_EQ(r[2]->body, r[0]->body);
  EXPECT_EQ(r[2]->sequence, r[0]->sequence);
  EXPECT_EQ(r[2]->hash, r[0]->hash);
  EXPECT_EQ(h.log().GetHead().sequence, head + 1);
  EXPECT_EQ(*h.registry().Current()->keys.Find(key)->note, "first");
}

// Resolve idempotency: retries of a stored record, two in one group, both replay it (the second
// through the first) and append nothing; retries of a failed command fail alike and store nothing.
TEST(RegistryStagesTest, InGroupRetriesOfAStoredRecordOrAFailureAnswerAlike) {
  Harness h;
  const std::string key = h.CreateKey(h.CreateProvider("stages-b"), kSecret);
  ASSERT_OK_AND_ASSIGN(auto original, h.Run(SetNote(key, "kept"), Keyed("k-b", "PUT kept")));
  const uint64_t head = h.log().GetHead().sequence;
  OneGroup group(h);
  group.Add(SetNote(key, "kept"), Keyed("k-b", "PUT kept"));
  group.Add(SetNote(key, "kept"), Keyed("k-b", "PUT kept"));
  group.Add(MakeDeleteKey("nope"), Keyed("k-missing", "DELETE nope"));
  group.Add(MakeDeleteKey("nope"), Keyed("k-missing", "DELETE nope"));
  const auto& r = group.Run();
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_OK(r[i].status());
    EXPECT_TRUE(r[i]->replayed);
    EXPECT_EQ(r[i]->body, original.body);
    EXPECT_EQ(r[i]->etag, original.etag);
    EXPECT_EQ(r[i]->sequence, original.sequence);
    EXPECT_EQ(r[i]->hash, original.hash);
  }
  for (size_t i = 2; i < 4; ++i) {
    ASSERT_FALSE(r[i].ok());
    EXPECT_EQ(r[i].error().code, ErrorCode::kNotFound);
  }
  EXPECT_EQ(h.log().GetHead().sequence, head);
  ASSERT_OK_AND_ASSIGN(auto stored, h.log().GetAux(events::AuxSpace::kIdempotency,
                                                   IdempotencyAuxKey("ops", "k-missing")));
  EXPECT_FALSE(stored.has_value());
}

// Decide and fold: each command decides against the state after the earlier commands of its
// group, so two updates naming the same If-Match version cannot both win.
TEST(RegistryStagesTest, LaterCommandsOfAGroupSeeTheEarlierOnes) {
  Harness h;
  const std::string key = h.CreateKey(h.CreateProvider("stages-c"), kSecret);
  const uint64_t version = h.registry().Current()->keys.Find(key)->version;
  RequestContext if_match = Harness::Admin();
  if_match.if_match = version;
  OneGroup group(h);
  group.Add(SetNote(key, "winner"), if_match);
  group.Add(SetNote(key, "loser"), if_match);
  const auto& r = group.Run();
  ASSERT_OK(r[0].status());
  EXPECT_EQ(r[0]->etag, version + 1);
  ASSERT_FALSE(r[1].ok());
  EXPECT_EQ(r[1].error().code, ErrorCode::kPreconditionFailed);
  EXPECT_EQ(r[1].error().actual_version, version + 1);
  EXPECT_EQ(*h.registry().Current()->keys.Find(key)->note, "winner");
}

// Decide and fold: a command whose events the writer cannot fold fails alone (500, logged), the
// rest of its group commits.
TEST(RegistryStagesTest, EventsThatCannotBeFoldedFailOnlyTheirCommand) {
  Harness h;
  const std::string key = h.CreateKey(h.CreateProvider("stages-d"), kSecret);
  const uint64_t head = h.log().GetHead().sequence;
  OneGroup group(h);
  group.Add(SetNote(key, "before"));
  group.Add(std::make_unique<UnversionedCommand>());
  group.Add(SetNote(key, "after"));
  const auto& r = group.Run();
  ASSERT_OK(r[0].status());
  ASSERT_FALSE(r[1].ok());
  EXPECT_EQ(r[1].error().code, ErrorCode::kInternal);
  EXPECT_EQ(r[1].error().message, "internal error");
  ASSERT_OK(r[2].status());
  EXPECT_EQ(r[2]->sequence, r[0]->sequence + 1);
  EXPECT_EQ(h.log().GetHead().sequence, head + 2);
  EXPECT_EQ(*h.registry().Current()->keys.Find(key)->note, "after");
  bool logged = false;
  for (const auto& line : h.log_lines()) {
    logged |= line.find("command Unversioned produced events the fold rejects") == 0;
  }
  EXPECT_TRUE(logged);
}

// Commit and complete: a failed append fails every command that decided (503, their retries in
// the group too) and publishes nothing, while errors and stored replays keep their own answers.
TEST(RegistryStagesTest, AFailedCommitFailsTheDecidedCommandsOnly) {
  Harness h;
  std::atomic<bool> fail{false};
  h.fail_write = [&] { return fail.load(); };
  const std::string key = h.CreateKey(h.CreateProvider("stages-e"), kSecret);
  ASSERT_OK_AND_ASSIGN(auto stored, h.Run(SetNote(key, "stored"), Keyed("k-stored", "PUT s")));
  const auto before = h.registry().Current();
  fail = true;
  OneGroup group(h);
  group.Add(SetNote(key, "lost"), Keyed("k-new", "PUT lost"));
  group.Add(SetNote(key, "lost"), Keyed("k-new", "PUT lost"));
  group.Add(SetNote(key, "stored"), Keyed("k-stored", "PUT s"));
  group.Add(MakeDeleteKey("nope"));
  const auto& r = group.Run();
  fail = false;
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_FALSE(r[i].ok());
    EXPECT_EQ(r[i].error().code, ErrorCode::kIoError);
  }
  ASSERT_OK(r[2].status());
  EXPECT_TRUE(r[2]->replayed);
  EXPECT_EQ(r[2]->body, stored.body);
  ASSERT_FALSE(r[3].ok());
  EXPECT_EQ(r[3].error().code, ErrorCode::kNotFound);
  EXPECT_EQ(h.registry().Current(), before);
  // Nothing was stored for the failed key: its retry runs the command.
  ASSERT_OK_AND_ASSIGN(auto retry, h.Run(SetNote(key, "lost"), Keyed("k-new", "PUT lost")));
  EXPECT_FALSE(retry.replayed);
  EXPECT_EQ(*h.registry().Current()->keys.Find(key)->note, "lost");
}

// Commit, complete and notify: one group is one append; its commands get consecutive sequences
// with their hashes, the listeners hear the group's range once, and on_group counts it.
TEST(RegistryStagesTest, AGroupIsOneAppendAndOneNotification) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<size_t, size_t>> groups;  // (commands, events)
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  RegistryOptions o;
  o.on_group = [&](size_t commands, size_t events, int64_t) {
    std::lock_guard lock(mu);
    groups.emplace_back(commands, events);
    cv.notify_all();
  };
  Harness h(Harness::Store::kRocks, o);
  const std::string pid = h.CreateProvider("stages-f");
  const std::string a = h.CreateKey(pid, "sk-stages-f-first-key-0123456789");
  const std::string b = h.CreateKey(pid, "sk-stages-f-second-key-0123456789", {"CLAUDE"}, "b");
  {
    // A group notifies after it completes: wait for the three groups above to be done with it.
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return groups.size() == 3; });
    groups.clear();
  }
  h.registry().AddCommitListener([&](uint64_t first, uint64_t last) {
    std::lock_guard lock(mu);
    ranges.emplace_back(first, last);
  });
  const uint64_t head = h.log().GetHead().sequence;
  OneGroup group(h);
  group.Add(SetNote(a, "one"));
  group.Add(MakeDeleteKey("nope"));
  group.Add(SetNote(b, "two"));
  group.Add(SetNote(a, "three"));
  const auto& r = group.Run();
  ASSERT_OK(r[0].status());
  ASSERT_OK(r[2].status());
  ASSERT_OK(r[3].status());
  EXPECT_EQ(r[0]->sequence, head + 1);
  EXPECT_EQ(r[2]->sequence, head + 2);
  EXPECT_EQ(r[3]->sequence, head + 3);
  ASSERT_OK_AND_ASSIGN(auto records, h.log().ReadRange(head + 1, 3));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(r[0]->hash, crypto::HexEncode(crypto::AsBytes(records[0].hash)));
  EXPECT_EQ(r[3]->hash, crypto::HexEncode(crypto::AsBytes(records[2].hash)));
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return groups.size() == 2; });  // notified after the answers
  EXPECT_EQ(ranges, (std::vector<std::pair<uint64_t, uint64_t>>{{head + 1, head + 3}}));
  // The gate's group (nothing appended), then the four commands' group.
  EXPECT_EQ(groups, (std::vector<std::pair<size_t, size_t>>{{1, 0}, {4, 3}}));
}

}  // namespace
}  // namespace keyledger::registry
