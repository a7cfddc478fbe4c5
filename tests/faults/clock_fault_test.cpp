// The wall clock goes backwards (NTP step, VM restore, a bad manual change) while the registry
// writes. Event times are clamped to be non-decreasing (src/registry.cpp Now(),
// events/append_planner.cpp), so:
//   - sequences stay 1..N in commit order and the hash chain verifies;
//   - times never decrease along the log, also across a restart whose clock is behind the head;
//   - time lookups (as_of) find the last event at or before a time, and the state as of it is
//     the fold of exactly that prefix;
//   - the last command wins, whatever time the clock showed.
// Through the registry over a real RocksDB log, with an injected clock (RegistryOptions::clock
// and RocksEventLog::Options::clock share it).
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "events/crypto.hpp"
#include "events/record.hpp"
#include "events/rocks_event_log.hpp"
#include "events/secrets.hpp"
#include "projections/snapshot.hpp"
#include "src/registry.hpp"
#include "src/registry_commands.hpp"
#include "tests/faults/fault_support.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::faults {
namespace {

using registry::Registry;
using registry::RegistryOptions;

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kStart = 1'768'280'400 * kSecond;  // 2026-01-13T05:00:00Z

class ClockTest : public ::testing::Test {
 protected:
  void SetUp() override { now_.store(kStart); }
  void TearDown() override { Close(); }

  void Open() {
    auto clock = [this] { return now_.load(); };
    events::RocksEventLog::Options lo;
    lo.clock = clock;
    auto log = events::RocksEventLog::Open(dir_.Sub("data"), lo);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    auto master = events::MasterKey::FromBytes(master_);
    ASSERT_TRUE(master.ok());
    auto keyring = events::Keyring::Open(*log_, std::move(master).value(), nullptr);
    ASSERT_TRUE(keyring.ok()) << keyring.status().ToString();
    keyring_ = std::move(keyring).value();
    RegistryOptions o;
    o.log = log_.get();
    o.keyring = keyring_.get();
    o.clock = clock;
    o.snapshot_every = 7;  // snapshots among the jumps, so as_of lookups start from them
    auto reg = Registry::Open(o);
    ASSERT_TRUE(reg.ok()) << reg.status().ToString();
    registry_ = std::move(reg).value();
  }

  void Close() {
    if (registry_) {
      EXPECT_TRUE(registry_->Close().ok());
    }
    registry_.reset();
    keyring_.reset();
    if (log_) {
      EXPECT_TRUE(log_->Close().ok());
    }
    log_.reset();
  }

  registry::RequestContext Ctx() {
    registry::RequestContext c;
    c.actor = "clock-test";
    c.client_ip = "127.0.0.1";
    c.request_id = "r" + std::to_string(++requests_);
    return c;
  }

  std::string CreateProvider(const std::string& name) {
    registry::ProviderCreateIntent in;
    in.provider.name = name;
    auto r = registry_->Execute(registry::MakeCreateProvider(std::move(in)), Ctx());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    const std::string* id = registry_->Current()->provider_names.Find(name);
    return id ? *id : "";
  }

  std::string CreateKey(const std::string& provider_id, const std::string& name) {
    registry::KeyCreateIntent in;
    in.provider_id = provider_id;
    in.key.api_formats = {"CLAUDE"};
    in.key.name = name;
    in.secret = "sk-ant-api03-clock-" + name + "-0123456789";
    auto r = registry_->Execute(registry::MakeCreateKey(std::move(in)), Ctx());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->body.substr(7, 36) : "";
  }

  void SetPriority(const std::string& key_id, int64_t priority) {
    registry::KeyUpdateIntent in;
    in.key_id = key_id;
    in.fields = {"internal_priority"};
    in.values.internal_priority = priority;
    auto r = registry_->Execute(registry::MakeUpdateKey(std::move(in)), Ctx());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  }

  // Checks the whole log: sequences, times, chain, time lookups and as-of states.
  void CheckLog() {
    auto records = log_->ReadRange(1, 1'000'000);
    ASSERT_TRUE(records.ok()) << records.status().ToString();
    const auto& all = records.value();
    ASSERT_FALSE(all.empty());
    events::Hash prev = events::GenesisHash();
    for (size_t i = 0; i < all.size(); ++i) {
      const events::EventRecord& r = all[i];
      ASSERT_EQ(r.sequence, i + 1);
      EXPECT_EQ(r.prev_hash, prev) << "chain broken at " << r.sequence;
      EXPECT_TRUE(events::VerifyRecordHash(r)) << "bad hash at " << r.sequence;
      if (i > 0) {
        EXPECT_GE(r.time_us, all[i - 1].time_us) << "time went backwards at " << r.sequence;
      }
      prev = r.hash;
    }
    EXPECT_EQ(log_->GetHead().sequence, all.size());
    EXPECT_EQ(log_->GetHead().time_us, all.back().time_us);

    // as_of by time: the last event at or before t; before the first event, nothing.
    auto at = projections::SequenceAtTime(*log_, all.front().time_us - 1);
    ASSERT_TRUE(at.ok());
    EXPECT_EQ(at.value(), 0u);
    for (size_t i = 0; i < all.size(); ++i) {
      if (i + 1 < all.size() && all[i + 1].time_us == all[i].time_us) continue;
      auto seq = projections::SequenceAtTime(*log_, all[i].time_us);
      ASSERT_TRUE(seq.ok());
      EXPECT_EQ(seq.value(), all[i].sequence) << "as_of " << all[i].time_us;
    }
    // as_of by sequence: snapshot + tail equals a fold of exactly that prefix.
    for (uint64_t seq = 1; seq <= all.size(); seq += 3) {
      auto via_snapshots = projections::StateAsOf(*log_, &registry_->snapshots(), seq);
      ASSERT_TRUE(via_snapshots.ok()) << via_snapshots.status().ToString();
      projections::State folded;
      ASSERT_TRUE(projections::Replay(*log_, folded, seq).ok());
      EXPECT_EQ(via_snapshots->sequence, seq);
      EXPECT_EQ(projections::StateDigestHex(via_snapshots.value()),
                projections::StateDigestHex(folded))
          << "as_of_seq " << seq;
    }
    // The live state is the fold of the whole log.
    projections::State full;
    ASSERT_TRUE(projections::Replay(*log_, full, all.size()).ok());
    EXPECT_EQ(projections::StateDigestHex(*registry_->Current()),
              projections::StateDigestHex(full));
  }

  keyledger::testing::TempDir dir_;
  std::string master_ = crypto::RandomBytes(32);
  std::atomic<int64_t> now_{0};
  std::atomic<int> requests_{0};
  std::unique_ptr<events::RocksEventLog> log_;
  std::unique_ptr<events::Keyring> keyring_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(ClockTest, ClockGoingBackwardsKeepsOrderChainAndAsOf) {
  Open();
  ASSERT_FALSE(HasFatalFailure());
  const std::string provider = CreateProvider("clock");
  now_ -= 3600 * kSecond;  // an hour back
  const std::string key = CreateKey(provider, "a");
  now_ += 10 * kSecond;
  SetPriority(key, 1);
  now_ -= 86400 * kSecond;  // a day back
  SetPriority(key, 2);
  now_.store(kStart + 7200 * kSecond);  // forward again, past the head
  SetPriority(key, 3);
  now_.store(1);  // the epoch (a clock that lost its battery)
  SetPriority(key, 4);
  const std::string other = CreateKey(provider, "b");
  EXPECT_EQ(registry_->Current()->keys.Find(key)->internal_priority, 4)
      << "the last command wins, whatever the clock said";
  CheckLog();
  ASSERT_FALSE(HasFatalFailure());

  // Concurrent commands (group-committed) while another thread jumps the clock around.
  std::atomic<bool> done{false};
  std::thread jumper([&] {
    std::mt19937_64 rng(RunSeed());
    while (!done.load()) {
      now_.store(kStart + static_cast<int64_t>(rng() % (7 * 86400)) * kSecond -
                 3 * 86400 * kSecond);
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 25; ++i) {
        registry::KeyUpdateIntent in;
        in.key_id = (w % 2) ? key : other;
        in.fields = {"internal_priority"};
        in.values.internal_priority = 100 + w * 100 + i;
        auto r = registry_->Execute(registry::MakeUpdateKey(std::move(in)), Ctx());
        EXPECT_TRUE(r.ok()) << r.status().ToString();
      }
    });
  }
  for (auto& t : writers) t.join();
  done.store(true);
  jumper.join();
  CheckLog();
  ASSERT_FALSE(HasFatalFailure());

  // A restart with the clock far behind the head: new events still follow it in time.
  const int64_t head_time = log_->GetHead().time_us;
  Close();
  now_.store(kStart - 30 * 86400 * kSecond);
  Open();
  ASSERT_FALSE(HasFatalFailure());
  SetPriority(key, 5);
  EXPECT_GE(log_->GetHead().time_us, head_time);
  EXPECT_EQ(registry_->Current()->keys.Find(key)->internal_priority, 5);
  CheckLog();
}

}  // namespace
}  // namespace keyledger::faults
