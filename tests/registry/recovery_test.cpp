// Restart and crash recovery of the registry (issue 4): the digest after recovery equals the
// digest before, whether the process closed cleanly or was killed with SIGKILL; snapshot + tail,
// full replay and live state agree on a log of 200,000 events.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <sstream>
#include <thread>

#include "projections/snapshot.hpp"
#include "tests/registry/random_workload.hpp"
#include "tests/registry/registry_harness.hpp"
#include "tools/bench/workload.hpp"

namespace keyledger::registry {
namespace {

using testing::Harness;
using testing::RandomWorkload;

TEST(RegistryRecoveryTest, CloseAndReopenAtRandomPointsKeepsTheDigest) {
  RegistryOptions o;
  o.snapshot_every = 97;
  Harness h(Harness::Store::kRocks, o);
  RandomWorkload work(7);
  for (auto& c : work.CreateProviders(5)) ASSERT_OK(h.Run(std::move(c)));
  std::mt19937 rng(11);
  for (int round = 0; round < 6; ++round) {
    const int steps = 50 + static_cast<int>(rng() % 150);
    for (int i = 0; i < steps; ++i) IgnoreError(h.Run(work.Next(*h.registry().Current())));
    const std::string before = projections::StateDigestHex(*h.registry().Current());
    const uint64_t seq = h.registry().Current()->sequence;
    h.Reopen();
    EXPECT_EQ(h.registry().Current()->sequence, seq);
    EXPECT_EQ(projections::StateDigestHex(*h.registry().Current()), before) << "round " << round;
  }
  ASSERT_OK_AND_ASSIGN(auto report, h.log().Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok) << report.reason;
}

// The child runs random commands and prints "ack <sequence> <digest>" after each acknowledged
// one; the parent kills it with SIGKILL, reopens, and checks that the recovered state contains
// every acknowledged command (its digest at that sequence equals the printed one) and that
// snapshot + tail equals a full replay.
TEST(RegistryRecoveryTest, SigkillAtRandomMomentsLosesNoAcknowledgedCommand) {
  const std::string child = keyledger::testing::BinaryDir() + "/registry_crash_child";
  keyledger::testing::TempDir dir;
  const std::string data = dir.Sub("data");
  std::mt19937 rng(std::random_device{}());
  size_t total_acked = 0;
  for (int iter = 0; iter < 8; ++iter) {
    SCOPED_TRACE("iteration " + std::to_string(iter));
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::string seed = std::to_string(iter + 1);
      execl(child.c_str(), child.c_str(), data.c_str(), seed.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    FILE* in = fdopen(fds[0], "r");
    char line[512];
    ASSERT_NE(fgets(line, sizeof line, in), nullptr);
    ASSERT_EQ(std::string(line), "ready\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 300));
    kill(pid, SIGKILL);
    std::vector<std::pair<uint64_t, std::string>> acked;
    while (fgets(line, sizeof line, in) != nullptr) {
      std::istringstream ls(line);
      std::string word, digest;
      uint64_t seq = 0;
      if (ls >> word >> seq >> digest && word == "ack") acked.emplace_back(seq, digest);
    }
    fclose(in);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child exited on its own: " << status;
    total_acked += acked.size();

    auto log = events::RocksEventLog::Open(data, {});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    projections::SnapshotStore snapshots(log->get(), **log, nullptr);
    if (!acked.empty()) {
      const auto& [seq, digest] = acked.back();
      ASSERT_GE((*log)->GetHead().sequence, seq);
      ASSERT_OK_AND_ASSIGN(auto then, projections::StateAsOf(**log, nullptr, seq));
      EXPECT_EQ(projections::StateDigestHex(then), digest);
    }
    ASSERT_OK_AND_ASSIGN(auto full, projections::StateAsOf(**log, nullptr, UINT64_MAX));
    ASSERT_OK_AND_ASSIGN(auto fast, projections::StateAsOf(**log, &snapshots, UINT64_MAX));
    EXPECT_EQ(projections::StateDigestHex(fast), projections::StateDigestHex(full));
    ASSERT_OK_AND_ASSIGN(auto report, (*log)->Verify(1, UINT64_MAX));
    EXPECT_TRUE(report.ok) << report.reason;
    ASSERT_OK((*log)->Close());
  }
  EXPECT_GT(total_acked, 0u);
}

// 200,000 events, snapshots every 50,000: live, snapshot + tail, and full replay agree.
TEST(RegistryRecoveryTest, SnapshotPlusTailFullReplayAndLiveAgreeOn200kEvents) {
  RegistryOptions o;
  o.snapshot_every = 50'000;
  Harness h(Harness::Store::kRocks, o);
  RandomWorkload work(3);
  for (auto& c : work.CreateProviders(10)) ASSERT_OK(h.Run(std::move(c)));
  std::vector<std::string> keys;
  auto providers = h.registry().Current()->providers.SortedKeys();
  for (int i = 0; i < 200; ++i) {
    keys.push_back(h.CreateKey(providers[static_cast<size_t>(i) % providers.size()],
                               "sk-bulk-" + std::to_string(i) + "-abcdefgh", {"CLAUDE", "OPENAI"}));
  }
  // Health-report batches of 1,000 items, one event each as builds before health telemetry
  // wrote them (README "Log growth"): one command, 1,000 events.
  int64_t at = 1'768'280'000'000'000;
  while (h.log().GetHead().sequence < 200'000) {
    std::vector<HealthReportItem> items;
    for (int i = 0; i < 1000; ++i) {
      HealthReportItem item;
      item.key_id = keys[static_cast<size_t>(i) % keys.size()];
      item.api_format = i % 2 ? "CLAUDE" : "OPENAI";
      item.successes = i % 7;
      item.failures = i % 3;
      item.total_response_time_ms = i;
      item.at_us = at += 1000;
      items.push_back(std::move(item));
    }
    ASSERT_OK(h.Run(bench::MakeLegacyHealthReports(std::move(items))));
  }
  // Then today's reports: telemetry on top of the log's health, restored by recovery.
  for (const std::string& key : keys) {
    HealthReportItem item;
    item.key_id = key;
    item.api_format = "CLAUDE";
    item.successes = 3;
    item.at_us = at += 1000;
    ASSERT_OK(h.Run(MakeReportHealth({item})));
  }
  const projections::StatePtr live_state = h.registry().Current();
  const std::string live = projections::StateDigestHex(*live_state);
  ASSERT_OK_AND_ASSIGN(auto snaps, h.registry().snapshots().List());
  EXPECT_GE(snaps.size(), 3u);
  projections::State full;
  ASSERT_OK(projections::Replay(h.log(), full, h.log().GetHead().sequence));
  EXPECT_EQ(projections::StateDigestHex(full), live);
  h.Reopen();  // recovery = newest snapshot + tail + telemetry
  EXPECT_EQ(projections::StateDigestHex(*h.registry().Current()), live);
  for (const std::string& key : keys) {
    EXPECT_EQ(*h.registry().Current()->keys.Find(key), *live_state->keys.Find(key));
  }
}

}  // namespace
}  // namespace keyledger::registry
