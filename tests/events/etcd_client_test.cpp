// The etcd client under member failures, on the shared three-member cluster: failover when the
// member it talks to is killed, a bounded-time error without quorum (two members SIGSTOPped),
// and a bounded-time error when nothing listens. Each test leaves the cluster healthy.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "events/etcd_client.hpp"
#include "events/etcd_event_log.hpp"
#include "tests/events/event_log_suite.hpp"
#include "tests/support/etcd_cluster.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::events {
namespace {

using keyledger::testing::EtcdCluster;
using keyledger::testing::TempDir;
using suite::Ev;
using Clock = std::chrono::steady_clock;

class EtcdFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = EtcdCluster::Shared();
    ASSERT_NE(cluster_, nullptr);
  }
  void TearDown() override {
    if (cluster_ == nullptr) return;
    // Whatever the test did to the members, leave all three running and healthy.
    for (int i = 0; i < cluster_->size(); ++i) {
      if (cluster_->pid(i) <= 0) {
        EXPECT_OK(cluster_->Restart(i));
      } else {
        cluster_->Signal(i, SIGCONT);
      }
    }
    EXPECT_OK(cluster_->WaitHealthy());
  }
  std::unique_ptr<EtcdEventLog> Open(std::chrono::milliseconds timeout) {
    EtcdEventLog::Options o;
    o.client.endpoints = cluster_->endpoints();
    o.client.request_timeout = timeout;
    o.client.connect_timeout = std::chrono::milliseconds(300);
    o.prefix = EtcdCluster::UniquePrefix();
    o.local_dir = dir_.Sub("local");
    auto log = EtcdEventLog::Open(o);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }
  EtcdCluster* cluster_ = nullptr;
  TempDir dir_;
};

TEST_F(EtcdFailureTest, FailsOverWhenItsMemberIsKilled) {
  auto log = Open(std::chrono::milliseconds(8000));
  ASSERT_NE(log, nullptr);
  ASSERT_OK(log->Append("key-a", kNoStream, {Ev()}));
  const size_t before = log->client().current_endpoint();
  cluster_->Kill(static_cast<int>(before));
  const auto start = Clock::now();
  // Writes and reads go on through the two members left (after an election, if it was the
  // leader), within the request timeout.
  ASSERT_OK(log->Append("key-a", 1, {Ev()}));
  EXPECT_NE(log->client().current_endpoint(), before);
  RecordProperty(
      "append_after_kill_ms",
      std::to_string(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()));
  ASSERT_OK_AND_ASSIGN(auto records, log->ReadRange(1, 10));
  EXPECT_EQ(records.size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto report, log->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok) << report.reason;
}

TEST_F(EtcdFailureTest, WithoutQuorumEveryCallFailsWithinItsTimeout) {
  constexpr auto kTimeout = std::chrono::milliseconds(1500);
  auto log = Open(kTimeout);
  ASSERT_NE(log, nullptr);
  ASSERT_OK(log->Append("key-a", kNoStream, {Ev()}));
  const Head before = log->GetHead();
  cluster_->Signal(1, SIGSTOP);
  cluster_->Signal(2, SIGSTOP);

  auto start = Clock::now();
  auto appended = log->Append("key-a", 1, {Ev()});
  auto took = Clock::now() - start;
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.error().code, ErrorCode::kIoError) << appended.status().ToString();
  // The request timeout, plus at most one connection attempt begun just before it ran out.
  EXPECT_LT(took, kTimeout + std::chrono::milliseconds(1500));

  start = Clock::now();
  auto read = log->ReadRange(1, 10);
  took = Clock::now() - start;
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ErrorCode::kIoError);
  EXPECT_LT(took, kTimeout + std::chrono::milliseconds(1500));
  EXPECT_EQ(log->GetHead(), before);

  cluster_->Signal(1, SIGCONT);
  cluster_->Signal(2, SIGCONT);
  ASSERT_OK(cluster_->WaitHealthy());
  // The leader may have logged the timed-out append before it lost its quorum, and commit it
  // once the others are back: it was applied or it was not, never half. The log finds out
  // before its next append (re-reading the head); when it was applied, that append (decided
  // without it) is told to catch up once, and the caller's next goes on from there.
  auto next = log->Append("key-a", kAnyVersion, {Ev()});
  if (!next.ok()) {
    EXPECT_EQ(next.error().code, ErrorCode::kHeadConflict) << next.status().ToString();
    EXPECT_EQ(log->GetHead().sequence, 2u);
    next = log->Append("key-a", kAnyVersion, {Ev()});
  }
  ASSERT_OK_AND_ASSIGN(auto r, std::move(next));
  ASSERT_EQ(r.sequences.size(), 1u);
  EXPECT_TRUE(r.sequences[0] == 2 || r.sequences[0] == 3) << r.sequences[0];
  ASSERT_OK_AND_ASSIGN(auto report, log->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.checked, r.sequences[0]);
}

TEST(EtcdClientTest, NothingListeningIsAnErrorWithinTheTimeout) {
  etcd::ClientOptions o;
  o.endpoints = {"http://127.0.0.1:1", "http://127.0.0.1:2"};
  o.request_timeout = std::chrono::milliseconds(700);
  ASSERT_OK_AND_ASSIGN(auto client, etcd::Client::Create(o));
  const auto start = Clock::now();
  etcd::RangeRequest get;
  get.key = "k";
  auto r = client->Range(get);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kIoError);
  EXPECT_NE(r.error().message.find("127.0.0.1"), std::string::npos) << r.error().message;
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(2000));
}

TEST(EtcdClientTest, TlsOptionsWithoutAnHttpsEndpointAreRefused) {
  etcd::ClientOptions o;
  o.endpoints = {"http://127.0.0.1:2379"};
  o.ca_file = "/nonexistent/ca.pem";
  auto r = etcd::Client::Create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  o.endpoints = {"https://127.0.0.1:2379"};
  r = etcd::Client::Create(o);
  ASSERT_FALSE(r.ok());  // the CA file cannot be read
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST(EtcdClientTest, PrefixEndIsTheNextKeyAfterThePrefix) {
  EXPECT_EQ(etcd::PrefixEnd("/a/b"), "/a/c");
  EXPECT_EQ(etcd::PrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(etcd::PrefixEnd(std::string("\xff", 1)), std::string(1, '\0'));
}

}  // namespace
}  // namespace keyledger::events
