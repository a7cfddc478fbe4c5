// The typed EventLog suite (tests/events/event_log_suite.hpp) on the in-memory and RocksDB logs.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "events/memory_event_log.hpp"
#include "events/rocks_event_log.hpp"
#include "tests/events/event_log_suite.hpp"
#include "tests/support/fault_fs.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::events {
namespace {

using keyledger::testing::TempDir;

struct MemoryLogFactory {
  std::atomic<bool> fail{false};
  std::unique_ptr<EventLog> Open() {
    MemoryEventLog::Options o;
    o.fail_write = [this] { return fail.load(); };
    return std::make_unique<MemoryEventLog>(o);
  }
  void SetFailWrites(bool f) { fail = f; }
};

struct RocksLogFactory {
  TempDir dir;
  keyledger::testing::FaultInjectionEnv fault;
  std::unique_ptr<EventLog> Open() {
    RocksEventLog::Options o;
    o.env = fault.env.get();
    auto log = RocksEventLog::Open(dir.Sub("data"), o);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }
  void SetFailWrites(bool f) { fault.fs->SetFailWrites(f); }
};

}  // namespace

namespace suite {
using LocalFactories = ::testing::Types<MemoryLogFactory, RocksLogFactory>;
INSTANTIATE_TYPED_TEST_SUITE_P(Local, EventLogTest, LocalFactories);
}  // namespace suite

}  // namespace keyledger::events
