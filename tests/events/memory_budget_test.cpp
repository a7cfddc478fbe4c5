// The store's share of the memory budget (README "Memory budget"): one block cache and one
// write buffer manager for every column family, reported by MemoryUsage(); a long write load on a
// handful of streams that stays within them; the bounded stream-version tables.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "events/rocks_event_log.hpp"
#include "tests/support/test_support.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KL_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define KL_TEST_SANITIZED 1
#endif
#endif

namespace keyledger::events {
namespace {

using keyledger::testing::TempDir;

#ifdef KL_TEST_SANITIZED
// Under the sanitizers every event costs several times more CPU, and their allocators (ASan's
// quarantine, TSan's shadow) make the resident set say nothing about ours: fewer events (about
// 40 s under ASan on 2 cores), and only RocksDB's own accounting is checked.
constexpr uint64_t kEvents = 2'000'000;
constexpr bool kCheckResidentSet = false;
#else
constexpr uint64_t kEvents = 3'000'000;
constexpr bool kCheckResidentSet = true;
#endif
constexpr uint64_t kMiB = uint64_t{1} << 20;

// RssAnon of this process, bytes (0 when /proc is unreadable).
uint64_t ResidentAnonBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stoull(line.substr(8)) * 1024;
  }
  return 0;
}

std::unique_ptr<RocksEventLog> OpenLog(const std::string& path, RocksEventLog::Options o) {
  auto log = RocksEventLog::Open(path, std::move(o));
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

// A gateway's health report, the event the soak writes most.
NewEvent HealthReport(uint64_t n) {
  NewEvent e;
  e.type = EventType::kKeyHealthReported;
  e.payload = R"({"key_id":"k)" + std::to_string(n % 8) +
              R"(","api_format":"CLAUDE","successes":)" + std::to_string(n % 20) +
              R"(,"failures":)" + std::to_string(n % 3) +
              R"(,"total_response_time_ms":900,"at":"2026-01-13T05:00:00Z","health":{"score":)" +
              std::to_string(static_cast<double>(n % 100) / 100) +
              R"(,"consecutive_failures":0},"breaker":{"open":false}})";
  return e;
}

TEST(StoreMemoryTest, EveryFamilySharesOneBlockCacheOfTheConfiguredSize) {
  TempDir dir;
  RocksEventLog::Options o;
  o.block_cache_bytes = 4 * kMiB;
  o.write_buffer_bytes = 8 * kMiB;
  auto log = OpenLog(dir.str(), o);
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->Append("key-a", kAnyVersion, {HealthReport(1)}).ok());
  ASSERT_OK_AND_ASSIGN(StoreMemory m, log->MemoryUsage());
  EXPECT_EQ(m.block_caches, 1u);
  EXPECT_EQ(m.block_cache_capacity, 4 * kMiB);
  std::vector<std::string> names;
  for (const auto& f : m.families) names.push_back(f.name);
  for (const char* cf :
       {"default", "events", "streams", "meta", "keyring", "idempotency", "snapshots"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), cf), names.end()) << cf;
  }
  EXPECT_GT(m.memtables, 0u);
  ASSERT_OK(log->Close());
  EXPECT_FALSE(log->MemoryUsage().ok());  // closed: kUnavailable, not a crash
}

// A few million events to a handful of streams, as the soak writes them (mostly health reports
// on 8 keys), with reads in between: RocksDB's memtables, block cache and table readers stay
// within their bounds the whole time, and (without sanitizers) the resident set stops growing
// once they are full.
TEST(StoreMemoryTest, MillionsOfEventsOnAHandfulOfStreamsStayWithinTheBudget) {
  TempDir dir;
  RocksEventLog::Options o;
  o.block_cache_bytes = 8 * kMiB;
  o.write_buffer_bytes = 16 * kMiB;
  auto log = OpenLog(dir.str(), o);
  ASSERT_NE(log, nullptr);
  const uint64_t rss_at_open = ResidentAnonBytes();
  uint64_t rss_half = 0;
  uint64_t most_memtables = 0;
  uint64_t most_cache = 0;
  constexpr uint64_t kPerAppend = 5'000;
  for (uint64_t n = 0; n < kEvents; n += kPerAppend) {
    std::vector<NewEvent> batch;
    batch.reserve(kPerAppend);
    for (uint64_t i = 0; i < kPerAppend; ++i) batch.push_back(HealthReport(n + i));
    const std::string stream = "key-k" + std::to_string((n / kPerAppend) % 8);
    ASSERT_TRUE(log->Append(stream, kAnyVersion, std::move(batch)).ok()) << n;
    if ((n / kPerAppend) % 20 == 19) {
      // Reads through the block cache: the newest records of one stream, and older ones.
      auto recent = log->ReadStream(stream, 1, 50);
      ASSERT_TRUE(recent.ok()) << recent.status().ToString();
      auto older = log->ReadRange(1 + (n * 7919) % (n + 1), 100);
      ASSERT_TRUE(older.ok()) << older.status().ToString();
      ASSERT_OK_AND_ASSIGN(StoreMemory m, log->MemoryUsage());
      most_memtables = std::max(most_memtables, m.memtables);
      most_cache = std::max(most_cache, m.block_cache_usage);
      // The write buffer manager flushes at the bound; while a flush runs the memtable being
      // written out still counts, so allow one more family's worth (half the bound).
      EXPECT_LE(m.memtables, o.write_buffer_bytes * 3 / 2) << n;
      // Pinned level-0 index and filter blocks may take the cache slightly past its capacity.
      EXPECT_LE(m.block_cache_usage, o.block_cache_bytes + kMiB) << n;
      // Index and filter blocks live in the block cache, not in the table readers.
      EXPECT_LE(m.table_readers, 2 * kMiB) << n;
    }
    if (n + kPerAppend == kEvents / 2) rss_half = ResidentAnonBytes();
  }
  EXPECT_EQ(log->GetHead().sequence, kEvents);
  EXPECT_GT(most_memtables, 0u);
  EXPECT_GT(most_cache, 0u);
  const uint64_t rss_end = ResidentAnonBytes();
  std::printf(
      "[ info ] %llu events: RssAnon %llu MiB at open, %llu MiB half-way, %llu MiB at the "
      "end; memtables at most %llu MiB, block cache at most %llu MiB\n",
      static_cast<unsigned long long>(kEvents), static_cast<unsigned long long>(rss_at_open / kMiB),
      static_cast<unsigned long long>(rss_half / kMiB),
      static_cast<unsigned long long>(rss_end / kMiB),
      static_cast<unsigned long long>(most_memtables / kMiB),
      static_cast<unsigned long long>(most_cache / kMiB));
  if (kCheckResidentSet && rss_at_open > 0) {
    // The budget (24 MiB here) plus RocksDB's working memory (compaction and flush buffers,
    // table reader objects) and the allocator's slack; before the budget the same load took
    // the memtables alone past 128 MiB.
    EXPECT_LE(rss_end, rss_at_open + o.block_cache_bytes + o.write_buffer_bytes + 64 * kMiB);
    // Full caches: the second half adds (almost) nothing.
    EXPECT_LE(rss_end, rss_half + 16 * kMiB);
  }
  ASSERT_OK(log->Close());
}

// Every stream ever written has a version; a client that creates and deletes keys in a loop
// creates streams without end, and the tables that remember versions stay bounded anyway.
TEST(StoreMemoryTest, StreamVersionTablesStayBoundedAndCorrect) {
  TempDir dir;
  auto log = OpenLog(dir.str(), RocksEventLog::Options{});
  ASSERT_NE(log, nullptr);
  const size_t streams = kMaxCachedStreamVersions + 1'000;
  AppendRequest request;
  request.streams.reserve(streams);
  for (size_t i = 0; i < streams; ++i) {
    StreamAppend a;
    a.stream = "key-" + std::to_string(i);
    a.expected_version = kNoStream;
    a.events.push_back(HealthReport(i));
    request.streams.push_back(std::move(a));
  }
  ASSERT_TRUE(log->Append(std::move(request)).ok());
  EXPECT_LE(log->CachedStreamVersions(), kMaxCachedStreamVersions);
  // Versions forgotten by the tables are read back from the stream index.
  for (size_t i : {size_t{0}, size_t{1}, streams / 2, streams - 1}) {
    ASSERT_OK_AND_ASSIGN(uint64_t v, log->StreamVersion("key-" + std::to_string(i)));
    EXPECT_EQ(v, 1u) << i;
  }
  // And appends still check them: the expected version 1 holds once, then conflicts.
  ASSERT_TRUE(log->Append("key-0", 1, {HealthReport(1)}).ok());
  auto conflict = log->Append("key-0", 1, {HealthReport(2)});
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, ErrorCode::kVersionConflict);
  for (size_t i = 0; i < 2'000; ++i) {
    ASSERT_TRUE(log->Append("key-new-" + std::to_string(i), kNoStream, {HealthReport(i)}).ok());
  }
  EXPECT_LE(log->CachedStreamVersions(), kMaxCachedStreamVersions);
  ASSERT_OK(log->Close());
}

}  // namespace
}  // namespace keyledger::events
