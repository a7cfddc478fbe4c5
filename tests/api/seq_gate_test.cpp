// SeqGate (api/seq_gate.hpp): parked requests resume once the sequence is applied, time out at
// their deadline, are refused beyond the bound, and are all resumed at Stop().
#include "api/seq_gate.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <optional>

namespace keyledger::api {
namespace {

using Outcome = SeqGate::Outcome;
using std::chrono::milliseconds;

TEST(SeqGateTest, AnAppliedSequenceRunsAtOnceOnTheCallingThread) {
  SeqGate gate([] { return uint64_t{7}; });
  std::optional<Outcome> got;
  ASSERT_TRUE(gate.Wait(7, milliseconds(1000), [&](Outcome o) { got = o; }));
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(*got == Outcome::kReached);
  EXPECT_EQ(gate.waiting(), 0u);
}

TEST(SeqGateTest, AWaiterResumesWhenTheSequenceIsApplied) {
  std::atomic<uint64_t> applied{1};
  SeqGate gate([&] { return applied.load(); });
  std::promise<Outcome> done;
  ASSERT_TRUE(gate.Wait(3, milliseconds(10'000), [&](Outcome o) { done.set_value(o); }));
  EXPECT_EQ(gate.waiting(), 1u);
  applied = 3;
  gate.Notify();
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(f.get(), Outcome::kReached);
}

TEST(SeqGateTest, AWaiterTimesOutAndTheGateIsBounded) {
  SeqGate gate([] { return uint64_t{0}; }, /*max_waiters=*/1);
  std::promise<Outcome> done;
  ASSERT_TRUE(gate.Wait(5, milliseconds(50), [&](Outcome o) { done.set_value(o); }));
  EXPECT_FALSE(gate.Wait(5, milliseconds(50), [](Outcome) { ADD_FAILURE(); }));  // full
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(f.get(), Outcome::kTimedOut);
}

TEST(SeqGateTest, StopResumesEveryWaiterAndRefusesNewOnes) {
  SeqGate gate([] { return uint64_t{0}; });
  std::atomic<int> stopped{0};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(gate.Wait(9, milliseconds(60'000), [&](Outcome o) {
      if (o == Outcome::kStopped) ++stopped;
    }));
  }
  gate.Stop();
  EXPECT_EQ(stopped.load(), 3);
  EXPECT_FALSE(gate.Wait(9, milliseconds(10), [](Outcome) { ADD_FAILURE(); }));
}

}  // namespace
}  // namespace keyledger::api
