// kill -9 of the real keyledgerd under a mixed write load, at random points, over and over on
// the same data directory (KEYLEDGER_FAULT_ITERATIONS times: 5 in CI, 50 in the long mode).
//
// Writers own disjoint keys and keep a model of each: the last acknowledged version and at most
// one write in flight when the daemon died. A version v of a key is written as a whole
// (note "v<v>", internal_priority v, and for rotations a new secret), so after every crash:
//   - every acknowledged write (200) is present with its content, secrets checked by reveal;
//   - a write that was not acknowledged is either absent or present in full (never a mix of two
//     versions: note and internal_priority disagree, or the secret is another version's);
//   - an acknowledged delete stays deleted;
//   - the chain verifies offline right after the crash (keyledger-audit verify);
//   - the recovered server's digest equals a rebuild from the log (keyledger-rebuild
//     --compare-url).
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "tests/e2e/e2e_support.hpp"
#include "tests/faults/fault_support.hpp"

namespace keyledger::faults {
namespace {

using namespace keyledger::e2e;
using SteadyClock = std::chrono::steady_clock;

constexpr int kWriters = 4;
constexpr size_t kMaxKeysPerWriter = 12;

struct KeyModel {
  std::string name;  // unique: "w<writer>-k<n>"
  std::string id;    // "" until the create was acknowledged or observed
  int64_t version = 0;
  bool deleted = false;
  // The secret in force at each version written (acknowledged or in flight).
  std::map<int64_t, std::string> secret_at;
  // The write in flight when the daemon died, if any.
  enum class Pending { kNone, kCreate, kUpdate, kDelete };
  Pending pending = Pending::kNone;
  int64_t pending_version = 0;

  const std::string& secret() const { return secret_at.rbegin()->second; }
};

class CrashFaultTest : public E2eTest {
 protected:
  std::string CreateBody(const KeyModel& k) {
    return R"({"api_formats":["CLAUDE"],"api_key":)" + Quote(k.secret_at.at(0)) + R"(,"name":)" +
           Quote(k.name) + R"(,"note":"v0","internal_priority":0})";
  }

  // One writer's load until the daemon dies or `stop` is set. Every answer but 200 and "no
  // answer" (status 0: the daemon was killed) is a failure.
  void Writer(int w, std::vector<KeyModel>& keys, uint64_t seed, std::atomic<bool>& stop,
              std::atomic<int>& acked, std::vector<std::string>& problems, std::mutex& mu) {
    std::mt19937_64 rng(seed);
    Client c(port(), admin_token_);
    auto below = [&](uint64_t n) { return rng() % n; };
    auto problem = [&](std::string what) {
      std::lock_guard lock(mu);
      problems.push_back("writer " + std::to_string(w) + ": " + what);
    };
    std::vector<size_t> live;  // indexes of keys not deleted
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!keys[i].deleted) live.push_back(i);
    }
    for (int op = 0; op < 2000 && !stop.load(); ++op) {
      const uint64_t dice = below(100);
      if (live.empty() || (dice < 20 && live.size() < kMaxKeysPerWriter)) {
        KeyModel& k = keys.emplace_back();
        k.name = "w" + std::to_string(w) + "-k" + std::to_string(keys.size() - 1);
        k.secret_at[0] = NewSecretLocked(mu, "crash");
        k.pending = KeyModel::Pending::kCreate;
        TestResponse r = c.Post(KeysOf(provider_), CreateBody(k));
        if (r.status == 0) return;
        if (r.status != 200) return problem("create " + std::to_string(r.status) + " " + r.body);
        k.id = Str(Json(r.body).root(), "id").value_or("");
        k.pending = KeyModel::Pending::kNone;
        live.push_back(keys.size() - 1);
        acked.fetch_add(1);
        continue;
      }
      const size_t slot = static_cast<size_t>(below(live.size()));
      KeyModel& k = keys[live[slot]];
      if (dice < 55) {  // update, a third of them with a new secret
        const int64_t v = k.version + 1;
        std::string body =
            R"({"note":"v)" + std::to_string(v) + R"(","internal_priority":)" + std::to_string(v);
        if (below(3) == 0) {
          k.secret_at[v] = NewSecretLocked(mu, "rotated");
          body += R"(,"api_key":)" + Quote(k.secret_at[v]);
        } else {
          k.secret_at[v] = k.secret();
        }
        body += "}";
        k.pending = KeyModel::Pending::kUpdate;
        k.pending_version = v;
        TestResponse r = c.Put(KeyPath(k.id), body);
        if (r.status == 0) return;
        if (r.status != 200) return problem("update " + std::to_string(r.status) + " " + r.body);
        k.version = v;
        k.pending = KeyModel::Pending::kNone;
        acked.fetch_add(1);
      } else if (dice < 70) {  // reveal: the acknowledged secret, decrypted
        TestResponse r = c.Get(KeyPath(k.id) + "/reveal", {{"X-Audit-Reason", "fault test"}});
        if (r.status == 0) return;
        if (r.status != 200 || r.body != R"({"api_key":)" + Quote(k.secret()) + "}") {
          return problem("reveal of " + k.name + ": " + std::to_string(r.status));
        }
        acked.fetch_add(1);
      } else if (dice < 90) {  // a gateway's health report
        TestResponse r =
            c.Post(std::string(kEndpointsBase) + "/keys/health-reports",
                   R"({"reports":[{"key_id":")" + k.id + R"(","api_format":"CLAUDE","successes":)" +
                       std::to_string(below(5)) + R"(,"failures":)" + std::to_string(below(3)) +
                       R"(,"total_response_time_ms":40,"at":"2026-01-13T05:00:00Z"}]})");
        if (r.status == 0) return;
        if (r.status != 200) return problem("health " + std::to_string(r.status) + " " + r.body);
        acked.fetch_add(1);
      } else {  // delete
        k.pending = KeyModel::Pending::kDelete;
        TestResponse r = c.Delete(KeyPath(k.id));
        if (r.status == 0) return;
        if (r.status != 200) return problem("delete " + std::to_string(r.status) + " " + r.body);
        k.deleted = true;
        k.pending = KeyModel::Pending::kNone;
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(slot));
        acked.fetch_add(1);
      }
    }
  }

  std::string NewSecretLocked(std::mutex& mu, std::string_view tag) {
    std::lock_guard lock(mu);
    return NewSecret(tag);
  }

  // Compares the recovered server with every writer's model, then folds what was observed into
  // the model (a write in flight either happened or did not).
  void CheckAndResolve(std::vector<std::vector<KeyModel>>& models) {
    Client c = Admin();
    TestResponse list = c.Get(KeysOf(provider_) + "?limit=1000");
    ASSERT_EQ(list.status, 200) << list.body;
    Json listed(list.body);
    std::map<std::string, simdjson::dom::element> by_name;
    for (auto k : Items(listed.root())) by_name[Str(k, "name").value_or("")] = k;
    size_t modelled = 0;
    for (auto& keys : models) {
      for (KeyModel& k : keys) {
        if (k.deleted) {
          EXPECT_EQ(by_name.count(k.name), 0u) << k.name << ": an acknowledged delete came back";
          continue;
        }
        const auto found = by_name.find(k.name);
        if (found == by_name.end()) {
          EXPECT_TRUE(k.pending == KeyModel::Pending::kCreate ||
                      k.pending == KeyModel::Pending::kDelete)
              << k.name << " (" << k.id << "): acknowledged key lost";
          k.deleted = true;  // never created, or its delete went through
          k.pending = KeyModel::Pending::kNone;
          continue;
        }
        ++modelled;
        const simdjson::dom::element e = found->second;
        const std::string id = Str(e, "id").value_or("");
        if (!k.id.empty()) {
          EXPECT_EQ(id, k.id) << k.name;
        }
        k.id = id;
        const std::string note = Str(e, "note").value_or("");
        const int64_t priority = Int(e, "internal_priority").value_or(-1);
        // Whole versions only: the note and the priority were written together.
        EXPECT_EQ(note, "v" + std::to_string(priority)) << k.name << ": half-applied write";
        const bool acked_version = priority == k.version;
        const bool pending_version =
            k.pending == KeyModel::Pending::kUpdate && priority == k.pending_version;
        EXPECT_TRUE(acked_version || pending_version)
            << k.name << ": version " << priority << ", acknowledged " << k.version;
        if (acked_version || pending_version) k.version = priority;
        // The secret is the one of that version, and still decrypts.
        TestResponse shown = c.Get(KeyPath(id) + "/reveal", {{"X-Audit-Reason", "verify"}});
        EXPECT_EQ(shown.status, 200) << shown.body;
        if (k.secret_at.count(k.version)) {
          EXPECT_EQ(shown.body, R"({"api_key":)" + Quote(k.secret_at.at(k.version)) + "}")
              << k.name << " at version " << k.version;
        }
        // Later versions were never acknowledged: forget their secrets.
        k.secret_at.erase(k.secret_at.upper_bound(k.version), k.secret_at.end());
        k.pending = KeyModel::Pending::kNone;
      }
    }
    // Nothing else appeared: every key of the provider is one a writer asked for.
    EXPECT_EQ(by_name.size(), modelled) << list.body.substr(0, 2000);
  }

  std::string provider_;
};

TEST_F(CrashFaultTest, KillNineUnderMixedLoadLosesNothingAcknowledged) {
  const uint64_t iterations = EnvOr("KEYLEDGER_FAULT_ITERATIONS", 5);
  std::mt19937_64 rng(RunSeed());
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  {
    Client admin = Admin();
    provider_ = CreateProvider(admin, "crash-faults");
    ASSERT_FALSE(provider_.empty());
  }
  std::vector<std::vector<KeyModel>> models(kWriters);
  uint64_t total_acked = 0;
  for (uint64_t iteration = 0; iteration < iterations; ++iteration) {
    SCOPED_TRACE("iteration " + std::to_string(iteration));
    // Kill after a random number of acknowledged operations (bounded in time as well).
    const int kill_after = 1 + static_cast<int>(rng() % 120);
    std::atomic<bool> stop{false};
    std::atomic<int> acked{0};
    std::vector<std::string> problems;
    std::mutex mu;
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w, seed = rng()] {
        Writer(w, models[static_cast<size_t>(w)], seed, stop, acked, problems, mu);
      });
    }
    const auto deadline = SteadyClock::now() + std::chrono::seconds(60);
    while (acked.load() < kill_after && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    daemon_->Kill();
    stop.store(true);
    for (auto& t : writers) t.join();
    for (const std::string& p : problems) ADD_FAILURE() << p;
    total_acked += static_cast<uint64_t>(acked.load());

    // Offline, right after the crash: the chain holds.
    ProcessResult verify =
        RunProcess({AuditToolPath(), "verify", "--data-dir", data_dir_}, scratch_dir_);
    ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;

    ASSERT_TRUE(daemon_->Start(args_)) << daemon_->error();
    CheckAndResolve(models);
    ASSERT_FALSE(HasFatalFailure());

    // The recovered state equals a rebuild from the log, entity by entity.
    ProcessResult rebuild =
        RunProcess({KEYLEDGER_REBUILD_BIN, "--data-dir", data_dir_, "--compare-url", daemon_->url(),
                    "--token", admin_token_, "--format", "json"},
                   scratch_dir_);
    ASSERT_EQ(rebuild.exit_code, 0) << rebuild.out << rebuild.err;
    if (HasFailure()) break;
  }
  RecordProperty("iterations", static_cast<int>(iterations));
  RecordProperty("acknowledged", static_cast<int>(total_acked));
  std::printf("kill -9: %llu iterations, %llu acknowledged operations checked\n",
              static_cast<unsigned long long>(iterations),
              static_cast<unsigned long long>(total_acked));
}

}  // namespace
}  // namespace keyledger::faults
