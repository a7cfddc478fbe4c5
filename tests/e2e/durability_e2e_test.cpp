// Durability and lifecycle over HTTP: idempotent retries across a restart, SIGKILL while
// clients write (every acknowledged write survives and the chain verifies), SIGTERM while
// requests are in flight (they complete, exit 0, a snapshot at the head), and a failed synced
// write (RLIMIT_FSIZE on the daemon: the filesystem refuses to grow its files) answering 503
// without changing the state.
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "tests/e2e/e2e_support.hpp"

namespace keyledger::e2e {
namespace {

using Clock = std::chrono::steady_clock;

class DurabilityTest : public E2eTest {
 protected:
  // All key ids of a provider (K1, up to 1000).
  std::set<std::string> KeyIds(Client& c, const std::string& provider_id) {
    std::set<std::string> ids;
    TestResponse r = c.Get(KeysOf(provider_id) + "?limit=1000");
    EXPECT_EQ(r.status, 200) << r.body;
    Json j(r.body);
    for (auto k : Items(j.root())) ids.insert(Str(k, "id").value_or(""));
    return ids;
  }

  std::string Digest(Client& c) {
    TestResponse r = c.Get("/api/admin/audit/digest");
    EXPECT_EQ(r.status, 200) << r.body;
    return Str(Json(r.body).root(), "digest").value_or("");
  }
};

TEST_F(DurabilityTest, IdempotentRetrySurvivesRestart) {
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "idem");
  const std::string secret = NewSecret("idem");
  const std::string body =
      R"({"api_formats":["CLAUDE"],"api_key":)" + Quote(secret) + R"(,"name":"idem-key"})";
  const Headers idem = {{"Idempotency-Key", "create-idem-key-1"}};

  TestResponse first = admin.Post(KeysOf(provider), body, idem);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_FALSE(first.HasHeader("Idempotent-Replayed"));
  const std::string etag = first.Header("ETag");
  EXPECT_FALSE(etag.empty());
  const uint64_t head = HeadSequence();

  // The same request on another connection before the restart: the stored answer.
  Client other = Admin();
  TestResponse again = other.Post(KeysOf(provider), body, idem);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.Header("Idempotent-Replayed"), "true");
  EXPECT_EQ(again.Header("ETag"), etag);

  // Across a crash (the record is written with the events, so SIGKILL is enough to test it).
  daemon_->Kill();
  ASSERT_TRUE(daemon_->Start(args_)) << daemon_->error();
  Client after = Admin();
  TestResponse replay = after.Post(KeysOf(provider), body, idem);
  EXPECT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.body, first.body);
  EXPECT_EQ(replay.Header("Idempotent-Replayed"), "true");
  EXPECT_EQ(replay.Header("ETag"), etag);
  EXPECT_EQ(HeadSequence(), head) << "a replay appended events";
  EXPECT_EQ(KeyIds(after, provider).size(), 1u);

  // And across a graceful restart.
  RestartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client late = Admin();
  TestResponse replay2 = late.Post(KeysOf(provider), body, idem);
  EXPECT_EQ(replay2.status, 200);
  EXPECT_EQ(replay2.body, first.body);
  EXPECT_EQ(replay2.Header("Idempotent-Replayed"), "true");

  // The same key with another body: 422, nothing written.
  const std::string other_body = R"({"api_formats":["CLAUDE"],"api_key":)" +
                                 Quote(NewSecret("idem-other")) + R"(,"name":"idem-key"})";
  TestResponse mismatch = late.Post(KeysOf(provider), other_body, idem);
  EXPECT_EQ(mismatch.status, 422) << mismatch.body;
  Json j(mismatch.body);
  auto detail = Items(j["detail"]);
  ASSERT_EQ(detail.size(), 1u) << mismatch.body;
  EXPECT_EQ(Str(detail[0], "type"), "value_error");
  EXPECT_EQ(ToJson(detail[0]["loc"]), R"(["header","Idempotency-Key"])");
  EXPECT_EQ(HeadSequence(), head);

  // Keys are per principal: another admin token may use the same Idempotency-Key for its own
  // request.
  const std::string ops = CreateToken("ops", "admin");
  Client ops_client = As(ops);
  TestResponse own = ops_client.Post(KeysOf(provider), other_body, idem);
  EXPECT_EQ(own.status, 200) << own.body;
  EXPECT_FALSE(own.HasHeader("Idempotent-Replayed"));

  // A bad Idempotency-Key is a 400 before anything is decided.
  TestResponse bad =
      late.Post(KeysOf(provider), body, {{"Idempotency-Key", std::string(256, 'k')}});
  EXPECT_EQ(bad.status, 400) << bad.body;
}

TEST_F(DurabilityTest, IdempotencyKeyCoversTheWholeRequest) {
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "idem-scope");
  const CreatedKey key =
      CreateKey(admin, provider, R"(["CLAUDE","OPENAI"])", NewSecret("idem-scope"), "k");
  const std::string reset = std::string(kEndpointsBase) + "/health/keys/" + key.id;

  // The query string is part of the request: the same key with another api_format is another
  // request (422), not a replay of the first.
  const Headers idem = {{"Idempotency-Key", "reset-1"}};
  TestResponse first = admin.Patch(reset + "?api_format=CLAUDE", "", idem);
  ASSERT_EQ(first.status, 200) << first.body;
  const uint64_t head = HeadSequence();
  TestResponse same = admin.Patch(reset + "?api_format=CLAUDE", "", idem);
  EXPECT_EQ(same.status, 200);
  EXPECT_EQ(same.Header("Idempotent-Replayed"), "true");
  TestResponse other = admin.Patch(reset + "?api_format=OPENAI", "", idem);
  EXPECT_EQ(other.status, 422) << other.body;
  EXPECT_FALSE(other.HasHeader("Idempotent-Replayed"));
  EXPECT_EQ(HeadSequence(), head);

  // A receipt is replayed too: a retried delete answers the first delete's receipt, not 404.
  const Headers del = {{"Idempotency-Key", "delete-1"}};
  TestResponse deleted = admin.Delete(KeyPath(key.id), del);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  TestResponse retried = admin.Delete(KeyPath(key.id), del);
  EXPECT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(retried.body, deleted.body);
  EXPECT_EQ(retried.Header("Idempotent-Replayed"), "true");
  EXPECT_EQ(admin.Delete(KeyPath(key.id)).status, 404);

  // The same new request sent at once on several connections creates one key.
  const std::string body = R"({"api_formats":["CLAUDE"],"api_key":)" +
                           Quote(NewSecret("idem-race")) + R"(,"name":"raced"})";
  constexpr int kClients = 4;
  std::vector<TestResponse> answers(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      Client c(port(), admin_token_);
      answers[static_cast<size_t>(i)] =
          c.Post(KeysOf(provider), body, {{"Idempotency-Key", "race"}});
    });
  }
  for (auto& t : threads) t.join();
  int replayed = 0;
  for (const TestResponse& a : answers) {
    EXPECT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(a.body, answers[0].body);
    replayed += a.Header("Idempotent-Replayed") == "true" ? 1 : 0;
  }
  EXPECT_EQ(replayed, kClients - 1);
  EXPECT_EQ(KeyIds(admin, provider).size(), 1u);
}

TEST_F(DurabilityTest, SigkillWhileWritingLosesNoAcknowledgedWrite) {
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "crash");

  // Each writer owns a key whose global_priority it raises after every new key it creates:
  // after the crash the key holds at least the last acknowledged value (a later, unacknowledged
  // write may have reached the log too, never an earlier one instead).
  constexpr int kWriters = 4;
  constexpr int kMaxWritesPerWriter = 60;
  std::vector<CreatedKey> own(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    own[static_cast<size_t>(w)] = CreateKey(admin, provider, R"(["CLAUDE"])",
                                            NewSecret("crash-own"), "own-" + std::to_string(w));
  }
  std::vector<std::string> secrets(kWriters * kMaxWritesPerWriter);
  for (auto& s : secrets) s = NewSecret("crash");

  std::mutex mu;
  std::set<std::string> acked_ids;
  std::vector<int64_t> acked_priority(kWriters, -1);
  std::vector<std::string> unexpected;
  std::atomic<int> acked{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      Client c(port(), admin_token_);
      for (int i = 0; i < kMaxWritesPerWriter; ++i) {
        const std::string& secret = secrets[static_cast<size_t>(w * kMaxWritesPerWriter + i)];
        TestResponse r =
            c.Post(KeysOf(provider), R"({"api_formats":["CLAUDE"],"api_key":)" + Quote(secret) +
                                         R"(,"name":"w)" + std::to_string(w) + "-" +
                                         std::to_string(i) + "\"}");
        if (r.status == 0) return;  // the daemon is gone
        if (r.status != 200) {
          std::lock_guard lock(mu);
          unexpected.push_back(std::to_string(r.status) + " " + r.body);
          return;
        }
        {
          std::lock_guard lock(mu);
          acked_ids.insert(Str(Json(r.body).root(), "id").value_or(""));
        }
        acked.fetch_add(1);
        TestResponse u = c.Put(KeyPath(own[static_cast<size_t>(w)].id),
                               R"({"global_priority":)" + std::to_string(i) + "}");
        if (u.status == 0) return;
        std::lock_guard lock(mu);
        if (u.status == 200) {
          acked_priority[static_cast<size_t>(w)] = i;
        } else {
          unexpected.push_back(std::to_string(u.status) + " " + u.body);
          return;
        }
      }
    });
  }
  // SIGKILL once enough writes were acknowledged (bounded; the writers also stop on their own).
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (acked.load() < 40 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  daemon_->Kill();
  for (auto& t : writers) t.join();
  for (const std::string& u : unexpected) ADD_FAILURE() << "unexpected answer: " << u;
  ASSERT_GE(acked.load(), 1);

  // The chain verifies offline, right after the crash.
  ProcessResult verify =
      RunProcess({AuditToolPath(), "verify", "--data-dir", data_dir_}, scratch_dir_);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  ASSERT_TRUE(daemon_->Start(args_)) << daemon_->error();
  Client after = Admin();
  const std::set<std::string> present = KeyIds(after, provider);
  for (const std::string& id : acked_ids) {
    EXPECT_TRUE(present.count(id)) << "acknowledged key " << id << " was lost";
  }
  TestResponse list = after.Get(KeysOf(provider) + "?limit=1000");
  Json listed(list.body);
  for (int w = 0; w < kWriters; ++w) {
    bool found = false;
    for (auto k : Items(listed.root())) {
      if (Str(k, "id") != own[static_cast<size_t>(w)].id) continue;
      found = true;
      const int64_t last = acked_priority[static_cast<size_t>(w)];
      if (last >= 0) {
        EXPECT_GE(Int(k, "global_priority").value_or(-1), last) << "writer " << w;
      }
    }
    EXPECT_TRUE(found) << "writer " << w << "'s own key was lost";
  }

  // The live server agrees: a signed checkpoint at the head, and the audit tool (a secondary
  // instance next to the running daemon) verifies the chain again.
  TestResponse cp = after.Get("/api/admin/audit/checkpoint");
  EXPECT_EQ(cp.status, 200) << cp.body;
  EXPECT_EQ(static_cast<uint64_t>(Int(Json(cp.body).root(), "sequence").value_or(-1)),
            HeadSequence());
  ProcessResult live_verify =
      RunProcess({AuditToolPath(), "verify", "--data-dir", data_dir_}, scratch_dir_);
  EXPECT_EQ(live_verify.exit_code, 0) << live_verify.out << live_verify.err;
}

TEST_F(DurabilityTest, SigtermFinishesInFlightRequestsAndWritesASnapshot) {
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "graceful");

  constexpr int kWriters = 4;
  std::mutex mu;
  std::set<std::string> acked_ids;
  std::vector<std::string> problems;
  std::atomic<int> acked{0};
  std::vector<std::string> secrets(kWriters * 200);
  for (auto& s : secrets) s = NewSecret("graceful");
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      Client c(port(), admin_token_);
      for (int i = 0; i < 200; ++i) {
        TestResponse r =
            c.Post(KeysOf(provider), R"({"api_formats":["OPENAI"],"api_key":)" +
                                         Quote(secrets[static_cast<size_t>(w * 200 + i)]) +
                                         R"(,"name":"g)" + std::to_string(w) + "-" +
                                         std::to_string(i) + "\"}");
        if (r.status == 0) return;  // the connection was closed: the daemon stopped reading
        std::lock_guard lock(mu);
        if (r.status == 200) {
          acked_ids.insert(Str(Json(r.body).root(), "id").value_or(""));
          acked.fetch_add(1);
        } else if (r.status == 503) {
          // Refused while shutting down: must not have been applied (checked below).
          return;
        } else {
          problems.push_back(std::to_string(r.status) + " " + r.body);
          return;
        }
      }
    });
  }
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (acked.load() < 20 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // Requests are in flight on every writer's connection now.
  const int code = daemon_->Stop(SIGTERM);
  for (auto& t : writers) t.join();
  EXPECT_EQ(code, 0) << daemon_->CurrentStderr();
  for (const std::string& p : problems) ADD_FAILURE() << "unexpected answer: " << p;
  // Whatever the daemon answered after the signal was a complete answer: the writes it had
  // already taken on (200) or a refusal (503), never an error.
  const std::string log = daemon_->CurrentStderr();
  const size_t signal_at = log.find(R"("msg":"shutting down")");
  ASSERT_NE(signal_at, std::string::npos) << log;
  EXPECT_NE(log.find(R"("msg":"stopped")", signal_at), std::string::npos);
  EXPECT_EQ(log.find("shutdown grace period over"), std::string::npos) << log;
  int finished_after_signal = 0;
  for (size_t at = log.find(R"("msg":"request")", signal_at); at != std::string::npos;
       at = log.find(R"("msg":"request")", at + 1)) {
    const std::string line = log.substr(at, log.find('\n', at) - at);
    const bool ok = line.find(R"("status":200)") != std::string::npos;
    EXPECT_TRUE(ok || line.find(R"("status":503)") != std::string::npos) << line;
    finished_after_signal += ok ? 1 : 0;
  }
  RecordProperty("finished_after_signal", finished_after_signal);

  // A snapshot at the head: keyledger-rebuild finds it, and its digest matches the log.
  ProcessResult rebuild = RunProcess(
      {KEYLEDGER_REBUILD_BIN, "--data-dir", data_dir_, "--format", "json"}, scratch_dir_);
  EXPECT_EQ(rebuild.exit_code, 0) << rebuild.out << rebuild.err;
  Json report(rebuild.out);
  ASSERT_TRUE(report.ok()) << rebuild.out;
  const int64_t head = Int(report.root(), "sequence").value_or(-1);
  const std::string rebuilt_digest = Str(report.root(), "digest").value_or("?");
  bool snapshot_at_head = false;
  for (auto s : Items(report["snapshots"])) {
    if (Int(s, "sequence") == head && Bool(s, "match") == true) snapshot_at_head = true;
  }
  EXPECT_TRUE(snapshot_at_head) << rebuild.out;

  // Restart: the state is the snapshot's, every acknowledged write is there, and nothing that
  // was not acknowledged (an applied write whose answer was lost would show up here).
  ASSERT_TRUE(daemon_->Start(args_)) << daemon_->error();
  Client after = Admin();
  EXPECT_EQ(static_cast<int64_t>(HeadSequence()), head);
  EXPECT_EQ(Digest(after), rebuilt_digest);
  EXPECT_EQ(KeyIds(after, provider), acked_ids);
  EXPECT_NE(daemon_->CurrentStderr().find(R"("msg":"keyledgerd ready")"), std::string::npos);
}

TEST_F(DurabilityTest, FailedSyncedWriteAnswers503AndChangesNothing) {
  // The daemon runs with SIGXFSZ blocked; once ready, its file-size limit is lowered just above
  // the largest file it has, so the next large append to the WAL fails with EFBIG: a real
  // failed write, injected from outside the product.
  StartServer({}, SpawnOptions{.block_sigxfsz = true});
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "full-disk");
  const CreatedKey key = CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("full"), "k");

  uint64_t largest = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(data_dir_)) {
    if (entry.is_regular_file()) largest = std::max<uint64_t>(largest, entry.file_size());
  }
  ASSERT_TRUE(daemon_->LimitFileSize(largest + 64 * 1024));

  // Updates whose events are ~200 KB each (a long allowed_models list): the WAL crosses the
  // limit within a few writes.
  std::string models = "[";
  for (int i = 0; i < 2000; ++i) {
    models += (i ? "," : "") + Quote("model-" + std::to_string(i) + std::string(80, 'm'));
  }
  models += "]";
  int status = 200;
  int attempts = 0;
  std::string last_body;
  while (status == 200 && attempts < 60) {
    TestResponse r =
        admin.Put(KeyPath(key.id), R"({"allowed_models":)" + models + R"(,"internal_priority":)" +
                                       std::to_string(attempts) + "}");
    status = r.status;
    last_body = r.body;
    ++attempts;
  }
  ASSERT_EQ(status, 503) << "after " << attempts << " writes: " << last_body;
  Json j(last_body);
  EXPECT_EQ(Str(j["error"], "type"), "system_error") << last_body;
  EXPECT_TRUE(Str(j["error"], "message").has_value());
  const uint64_t head_at_failure = HeadSequence();
  // Readers see the state of the last acknowledged write: the failed one is not there.
  const int64_t last_acked = attempts >= 2 ? attempts - 2 : 50;
  TestResponse list = admin.Get(KeysOf(provider));
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(Int(Items(Json(list.body).root()).at(0), "internal_priority"), last_acked);
  TestResponse digest = admin.Get("/api/admin/audit/digest");
  EXPECT_EQ(Int(Json(digest.body).root(), "sequence"), static_cast<int64_t>(head_at_failure));
  // The next (small) write either finds the store reopened or still unavailable; both are
  // answers, neither corrupts anything.
  TestResponse again = admin.Put(KeyPath(key.id), R"({"note":"after the failure"})");
  EXPECT_TRUE(again.status == 200 || again.status == 503) << again.status << " " << again.body;

  // A limited daemon may fail its final snapshot: it must exit, not necessarily with 0.
  EXPECT_GE(daemon_->Stop(SIGTERM), 0);
  ProcessResult verify =
      RunProcess({AuditToolPath(), "verify", "--data-dir", data_dir_}, scratch_dir_);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  // A fresh process has no limit: every acknowledged write is there, and it writes again.
  ASSERT_TRUE(daemon_->Start({}, {})) << daemon_->error();
  Client after = Admin();
  EXPECT_GE(HeadSequence(), head_at_failure);
  TestResponse now = after.Get(KeysOf(provider));
  const int64_t priority =
      Int(Items(Json(now.body).root()).at(0), "internal_priority").value_or(-1);
  // The failed write may still have reached the disk whole (events/FORMAT.md, "Failed writes").
  EXPECT_TRUE(priority == last_acked || priority == attempts - 1) << priority;
  TestResponse note = after.Put(KeyPath(key.id), R"({"note":"room again"})");
  EXPECT_EQ(note.status, 200) << note.body;
}

}  // namespace
}  // namespace keyledger::e2e
