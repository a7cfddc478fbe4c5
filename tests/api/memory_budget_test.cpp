// The memory budget's HTTP-layer parts (README "Memory budget"): the options and their defaults,
// the /metrics series of api/memory_metrics.hpp, and the SSE stream's byte bound with its last
// event (the same over real HTTP: server_test.cpp, SseSlowConsumerGetsALastEvent...).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "api/http_server.hpp"
#include "api/memory_metrics.hpp"
#include "api/metrics.hpp"
#include "api/sse.hpp"
#include "api/view_cache.hpp"
#include "src/server_config.hpp"

namespace keyledger::api {
namespace {

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// ---- options --------------------------------------------------------------------------------

Result<ParsedServerArgs> Parse(std::vector<const char*> args,
                               std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "keyledgerd");
  return ParseServerArgs(static_cast<int>(args.size()), args.data(),
                         [env](const char* name) -> const char* {
                           auto it = env.find(name);
                           return it == env.end() ? nullptr : it->second.c_str();
                         });
}

TEST(MemoryBudgetOptionsTest, DefaultsSuitASmallRegistry) {
  auto p = Parse({});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->config.block_cache_mb, 32u);
  EXPECT_EQ(p->config.write_buffer_mb, 128u);
  EXPECT_EQ(p->config.view_cache_mb, 16u);
  EXPECT_EQ(p->config.sse_buffer_kb, 256u);
  // The libraries' own defaults are the same figures.
  EXPECT_EQ(p->config.block_cache_mb << 20, events::kDefaultBlockCacheBytes);
  // keyledgerd's memtable budget is larger than the library's (src/server_config.hpp says why).
  EXPECT_EQ(p->config.write_buffer_mb << 20, 4 * events::kDefaultWriteBufferBytes);
  EXPECT_EQ(p->config.view_cache_mb << 20, kDefaultViewCacheBytes);
  EXPECT_EQ(p->config.sse_buffer_kb << 10, kDefaultSseBufferBytes);
}

TEST(MemoryBudgetOptionsTest, FlagsAndEnvironment) {
  auto flags = Parse({"--block-cache-mb", "64", "--write-buffer-mb=48", "--view-cache-mb", "0",
                      "--sse-buffer-kb", "1024"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->config.block_cache_mb, 64u);
  EXPECT_EQ(flags->config.write_buffer_mb, 48u);
  EXPECT_EQ(flags->config.view_cache_mb, 0u);
  EXPECT_EQ(flags->config.sse_buffer_kb, 1024u);
  auto env = Parse({"--block-cache-mb", "8"}, {{"KEYLEDGER_BLOCK_CACHE_MB", "100"},
                                               {"KEYLEDGER_WRITE_BUFFER_MB", "16"},
                                               {"KEYLEDGER_VIEW_CACHE_MB", "4"},
                                               {"KEYLEDGER_SSE_BUFFER_KB", "64"}});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->config.block_cache_mb, 8u);  // the flag wins
  EXPECT_EQ(env->config.write_buffer_mb, 16u);
  EXPECT_EQ(env->config.view_cache_mb, 4u);
  EXPECT_EQ(env->config.sse_buffer_kb, 64u);
}

TEST(MemoryBudgetOptionsTest, OutOfRangeValuesAreUsageErrors) {
  const std::vector<std::vector<const char*>> bad = {
      {"--block-cache-mb", "0"},    {"--block-cache-mb", "65537"}, {"--write-buffer-mb", "3"},
      {"--view-cache-mb", "-1"},    {"--sse-buffer-kb", "15"},     {"--sse-buffer-kb", "lots"},
      {"--write-buffer-mb", "1e3"},
  };
  for (const auto& args : bad) {
    auto p = Parse(args);
    EXPECT_FALSE(p.ok()) << args[0] << " " << args[1];
    if (!p.ok()) {
      EXPECT_NE(p.error().message.find(args[0] + 2), std::string::npos) << p.error().message;
    }
  }
  EXPECT_FALSE(Parse({}, {{"KEYLEDGER_SSE_BUFFER_KB", "1"}}).ok());
}

TEST(MemoryBudgetOptionsTest, HelpListsEachOptionWithItsDefaultAndVariable) {
  auto h = Parse({"--help"});
  ASSERT_TRUE(h.ok());
  for (const char* name :
       {"--block-cache-mb", "--write-buffer-mb", "--view-cache-mb", "--sse-buffer-kb",
        "KEYLEDGER_BLOCK_CACHE_MB", "KEYLEDGER_WRITE_BUFFER_MB", "KEYLEDGER_VIEW_CACHE_MB",
        "KEYLEDGER_SSE_BUFFER_KB"}) {
    EXPECT_TRUE(Contains(h->help_text, name)) << name << "\n" << h->help_text;
  }
  EXPECT_TRUE(Contains(h->help_text, "256")) << h->help_text;
}

// ---- /metrics -------------------------------------------------------------------------------

TEST(MemoryMetricsTest, CallbackGaugeFamilyRendersSortedLabeledSamples) {
  MetricsRegistry m;
  m.AddCallbackGaugeFamily("test_bytes", "Bytes.", {"part"}, [] {
    return MetricsRegistry::LabeledSamples{
        {{"z"}, 3}, {{"a\"b"}, 1.5}, {{"too", "many"}, 9}, {{"m"}, 2}};
  });
  const std::string text = m.Render();
  EXPECT_TRUE(Contains(text,
                       "# HELP test_bytes Bytes.\n# TYPE test_bytes gauge\n"
                       "test_bytes{part=\"a\\\"b\"} 1.5\ntest_bytes{part=\"m\"} 2\n"
                       "test_bytes{part=\"z\"} 3\n"))
      << text;
  EXPECT_FALSE(Contains(text, "many"));  // a sample with the wrong number of labels is skipped
  EXPECT_THROW(m.AddCallbackGaugeFamily("test_bytes", "again", {"part"}, nullptr),
               std::logic_error);
  EXPECT_THROW(m.AddGauge("test_bytes", "another type", {"part"}), std::logic_error);
}

TEST(MemoryMetricsTest, ParsesProcStatus) {
  const ProcessMemory m = ParseProcStatus(
      "Name:\tkeyledgerd\nVmRSS:\t  153600 kB\nRssAnon:\t  120000 kB\nRssFile:\t   "
      "33600 kB\nRssShmem:\t       0 kB\n");
  EXPECT_EQ(m.resident, 153600u * 1024);
  EXPECT_EQ(m.resident_anon, 120000u * 1024);
  EXPECT_EQ(m.resident_file, 33600u * 1024);
  EXPECT_EQ(ParseProcStatus("VmRSSx: 5 kB\nnothing\n").resident, 0u);
  EXPECT_GT(ReadProcessMemory().resident, 0u);
}

TEST(MemoryMetricsTest, ExposesResidentMemoryAndEachBudgetedComponent) {
  MetricsRegistry m;
  MemorySources sources;
  sources.budget = {.block_cache = 32 << 20,
                    .memtables = 32 << 20,
                    .view_cache = 16 << 20,
                    .sse_buffers = 16 << 20};
  sources.store = [] {
    events::StoreMemory s;
    s.families = {{"events", 3000, 200, 5000}, {"meta", 100, 0, 5000}};
    s.memtables = 3100;
    s.table_readers = 200;
    s.block_cache_usage = 5000;
    s.block_cache_pinned = 700;
    s.block_cache_capacity = 32 << 20;
    s.block_caches = 1;
    return Result<events::StoreMemory>(s);
  };
  sources.view_cache = [] { return uint64_t{4096}; };
  sources.sse_buffers = [] { return uint64_t{512}; };
  sources.allocator = [] {
    return MetricsRegistry::LabeledSamples{{{"allocated"}, 1e6}, {{"resident"}, 2e6}};
  };
  RegisterMemoryMetrics(m, sources);
  const std::string text = m.Render();
  for (const char* line : {
           "keyledger_memory_bytes{component=\"block_cache\"} 5000\n",
           "keyledger_memory_bytes{component=\"memtables\"} 3100\n",
           "keyledger_memory_bytes{component=\"table_readers\"} 200\n",
           "keyledger_memory_bytes{component=\"view_cache\"} 4096\n",
           "keyledger_memory_bytes{component=\"sse_buffers\"} 512\n",
           "keyledger_memory_limit_bytes{component=\"block_cache\"} 33554432\n",
           "keyledger_memory_limit_bytes{component=\"memtables\"} 33554432\n",
           "keyledger_memory_limit_bytes{component=\"view_cache\"} 16777216\n",
           "keyledger_memory_limit_bytes{component=\"sse_buffers\"} 16777216\n",
           "keyledger_memory_budget_bytes 100663296\n",
           "keyledger_rocksdb_memtable_bytes{cf=\"events\"} 3000\n",
           "keyledger_rocksdb_memtable_bytes{cf=\"meta\"} 100\n",
           "keyledger_rocksdb_table_readers_bytes{cf=\"events\"} 200\n",
           "keyledger_rocksdb_block_cache_bytes{cf=\"meta\"} 5000\n",
           "keyledger_rocksdb_block_cache_pinned_bytes 700\n",
           "keyledger_rocksdb_block_cache_capacity_bytes 33554432\n",
           "keyledger_allocator_bytes{state=\"allocated\"} 1000000\n",
           "# TYPE keyledger_process_resident_bytes gauge\nkeyledger_process_resident_bytes ",
           "# TYPE keyledger_process_resident_anon_bytes gauge\n",
       }) {
    EXPECT_TRUE(Contains(text, line)) << line << "\n" << text;
  }
  EXPECT_FALSE(Contains(text, "keyledger_process_resident_bytes 0\n"));
}

TEST(MemoryMetricsTest, AStoreThatCannotAnswerLeavesItsSeriesOut) {
  MetricsRegistry m;
  MemorySources sources;
  sources.store = [] {
    return Result<events::StoreMemory>(MakeError(ErrorCode::kUnavailable, "closed"));
  };
  RegisterMemoryMetrics(m, sources);
  const std::string text = m.Render();
  EXPECT_FALSE(Contains(text, "keyledger_memory_bytes{component=\"block_cache\"}")) << text;
  EXPECT_TRUE(Contains(text, "keyledger_memory_bytes{component=\"view_cache\"} 0\n")) << text;
  EXPECT_FALSE(Contains(text, "keyledger_allocator_bytes"));
}

// ---- the SSE stream's byte bound ------------------------------------------------------------

class FakeOwner final : public StreamOwner {
 public:
  void PostStreamFlush() override { ++flushes; }
  void PostStreamAbort() override { ++aborts; }
  int flushes = 0;
  int aborts = 0;
};

TEST(SseBufferTest, ASlowSubscriberGetsALastEventInsteadOfUnboundedBuffering) {
  auto owner = std::make_shared<FakeOwner>();
  auto buffered = std::make_shared<std::atomic<int64_t>>(0);
  constexpr size_t kBytes = 1000;
  SseStream stream(owner, /*limit=*/1000, kBytes, buffered);
  const std::string data(90, 'd');
  int accepted = 0;
  while (stream.Send("e", data, std::to_string(accepted))) ++accepted;
  EXPECT_GT(accepted, 5);
  EXPECT_EQ(owner->aborts, 1);
  EXPECT_FALSE(stream.IsOpen());
  EXPECT_FALSE(stream.Send("e", data, ""));  // closed for good
  EXPECT_EQ(owner->aborts, 1);
  // Held: what fit in the bound, plus the last event.
  EXPECT_LE(stream.held_bytes(), kBytes + 200);
  EXPECT_EQ(static_cast<size_t>(buffered->load()), stream.held_bytes());

  std::string out;
  bool close_requested = false;
  size_t taken = 0;
  stream.TakePending(&out, &close_requested, &taken);
  EXPECT_TRUE(close_requested);
  EXPECT_EQ(taken, out.size());
  EXPECT_EQ(out.find("event: stream-closed\ndata: {\"reason\":\"too_slow\""), out.rfind("event: "))
      << out;
  EXPECT_TRUE(Contains(out, "event: e\nid: 0\ndata: " + data + "\n\n")) << out;
  // Taken but not yet written still counts; written, it is released.
  EXPECT_EQ(stream.held_bytes(), taken);
  stream.WriteDone(taken);
  EXPECT_EQ(stream.held_bytes(), 0u);
  EXPECT_EQ(buffered->load(), 0);
}

TEST(SseBufferTest, OneEventLargerThanTheBoundStillGetsThrough) {
  auto owner = std::make_shared<FakeOwner>();
  auto buffered = std::make_shared<std::atomic<int64_t>>(0);
  SseStream stream(owner, 1000, 100, buffered);
  EXPECT_TRUE(stream.Send("big", std::string(500, 'b'), ""));  // nothing held: taken
  EXPECT_EQ(owner->aborts, 0);
  EXPECT_FALSE(stream.Send("next", "x", ""));  // but nothing more until it is written
  EXPECT_EQ(owner->aborts, 1);
  stream.MarkEnded();  // the connection closed: everything released
  EXPECT_EQ(stream.held_bytes(), 0u);
  EXPECT_EQ(buffered->load(), 0);
}

TEST(SseBufferTest, TheEventCountBoundStillHolds) {
  auto owner = std::make_shared<FakeOwner>();
  SseStream stream(owner, 4, 1 << 20);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(stream.SendComment("c"));
  EXPECT_FALSE(stream.SendComment("c"));
  EXPECT_EQ(owner->aborts, 1);
}

}  // namespace
}  // namespace keyledger::api
