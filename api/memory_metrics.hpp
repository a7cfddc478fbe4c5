#pragma once
// The process's memory on /metrics: its resident set, RocksDB's own accounting (memtables, table
// readers, block cache), the allocator's view and each component of the memory budget (README
// "Memory budget") with its bound, so an operator can tell a cache filling up to its bound from
// a leak.
//
// Series (bytes):
//   keyledger_process_resident_bytes           VmRSS
//   keyledger_process_resident_anon_bytes      RssAnon: heap and other anonymous memory
//   keyledger_memory_bytes{component}          what each budgeted component holds now
//   keyledger_memory_limit_bytes{component}    its bound (the options of the same name)
//   keyledger_memory_budget_bytes              the sum of the bounds (also in the ready line)
//   keyledger_rocksdb_memtable_bytes{cf}       per column family
//   keyledger_rocksdb_table_readers_bytes{cf}  per column family, outside the block cache
//   keyledger_rocksdb_block_cache_pinned_bytes
//   keyledger_allocator_bytes{state}           the allocator's statistics (main.cpp supplies them)
// Components: block_cache, memtables, view_cache, sse_buffers; table_readers has no bound of its
// own (index and filter blocks are charged to the block cache, so what remains is small).
//
// Thread safety: the callbacks run inside MetricsRegistry::Render (any thread).

#include <cstdint>
#include <functional>
#include <string_view>

#include "api/metrics.hpp"
#include "events/rocks_event_log.hpp"

namespace keyledger::api {

struct ProcessMemory {
  uint64_t resident = 0;       // VmRSS
  uint64_t resident_anon = 0;  // RssAnon
  uint64_t resident_file = 0;  // RssFile
};
// Parses /proc/<pid>/status text (kB values); fields it does not find stay 0.
ProcessMemory ParseProcStatus(std::string_view status);
// This process's figures (zeros where /proc is unreadable).
ProcessMemory ReadProcessMemory();

// The bounds of the memory budget, bytes (0: that component has no bound here).
struct MemoryBudget {
  uint64_t block_cache = 0;
  uint64_t memtables = 0;
  uint64_t view_cache = 0;
  uint64_t sse_buffers = 0;  // per subscriber times the most subscribers at once
  uint64_t Total() const { return block_cache + memtables + view_cache + sse_buffers; }
};

struct MemorySources {
  // RocksDB's accounting (RocksEventLog::MemoryUsage). Empty: no store series.
  std::function<Result<events::StoreMemory>()> store;
  // What the view cache and the SSE buffers hold now. Empty: reported as 0.
  std::function<uint64_t()> view_cache;
  std::function<uint64_t()> sse_buffers;
  // The allocator's statistics as {state, bytes}. Empty: no allocator series.
  std::function<MetricsRegistry::LabeledSamples()> allocator;
  MemoryBudget budget;
};

void RegisterMemoryMetrics(MetricsRegistry& metrics, MemorySources sources);

}  // namespace keyledger::api
