#include "api/memory_metrics.hpp"

#include <charconv>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

namespace keyledger::api {
namespace {

// "VmRSS:\t  123 kB" -> 123 * 1024.
uint64_t FieldBytes(std::string_view status, std::string_view name) {
  size_t at = 0;
  while (at < status.size()) {
    size_t end = status.find('\n', at);
    if (end == std::string_view::npos) end = status.size();
    std::string_view line = status.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with(name) || line.size() <= name.size() || line[name.size()] != ':') {
      continue;
    }
    line.remove_prefix(name.size() + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    uint64_t kib = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), kib);
    if (ec != std::errc()) return 0;
    return kib * 1024;
  }
  return 0;
}

}  // namespace

ProcessMemory ParseProcStatus(std::string_view status) {
  ProcessMemory m;
  m.resident = FieldBytes(status, "VmRSS");
  m.resident_anon = FieldBytes(status, "RssAnon");
  m.resident_file = FieldBytes(status, "RssFile");
  return m;
}

ProcessMemory ReadProcessMemory() {
  std::ifstream in("/proc/self/status");
  if (!in) return {};
  std::stringstream text;
  text << in.rdbuf();
  return ParseProcStatus(text.str());
}

void RegisterMemoryMetrics(MetricsRegistry& metrics, MemorySources sources) {
  auto src = std::make_shared<const MemorySources>(std::move(sources));
  metrics.AddCallbackGauge("keyledger_process_resident_bytes",
                           "Resident set size of the process (VmRSS).",
                           [] { return static_cast<double>(ReadProcessMemory().resident); });
  metrics.AddCallbackGauge(
      "keyledger_process_resident_anon_bytes",
      "Anonymous resident memory (RssAnon): the heap and other memory not backed by files.",
      [] { return static_cast<double>(ReadProcessMemory().resident_anon); });
  metrics.AddCallbackGaugeFamily(
      "keyledger_memory_bytes",
      "Memory held now by each budgeted component (README \"Memory budget\"); table_readers "
      "is what RocksDB keeps outside the block cache.",
      {"component"}, [src] {
        MetricsRegistry::LabeledSamples out;
        if (src->store) {
          if (auto m = src->store(); m.ok()) {
            out.push_back({{"block_cache"}, static_cast<double>(m->block_cache_usage)});
            out.push_back({{"memtables"}, static_cast<double>(m->memtables)});
            out.push_back({{"table_readers"}, static_cast<double>(m->table_readers)});
          }
        }
        out.push_back(
            {{"view_cache"}, static_cast<double>(src->view_cache ? src->view_cache() : 0)});
        out.push_back(
            {{"sse_buffers"}, static_cast<double>(src->sse_buffers ? src->sse_buffers() : 0)});
        return out;
      });
  metrics.AddCallbackGaugeFamily(
      "keyledger_memory_limit_bytes",
      "The bound of each budgeted component (--block-cache-mb, --write-buffer-mb, "
      "--view-cache-mb, --sse-buffer-kb times the most open audit streams).",
      {"component"}, [src] {
        const MemoryBudget& b = src->budget;
        return MetricsRegistry::LabeledSamples{
            {{"block_cache"}, static_cast<double>(b.block_cache)},
            {{"memtables"}, static_cast<double>(b.memtables)},
            {{"view_cache"}, static_cast<double>(b.view_cache)},
            {{"sse_buffers"}, static_cast<double>(b.sse_buffers)}};
      });
  metrics.AddCallbackGauge("keyledger_memory_budget_bytes",
                           "The sum of the budgeted components' bounds (the ready line's "
                           "memory_budget_mb).",
                           [src] { return static_cast<double>(src->budget.Total()); });
  if (src->store) {
    auto per_family = [src](uint64_t events::StoreMemory::Family::*field) {
      MetricsRegistry::LabeledSamples out;
      if (auto m = src->store(); m.ok()) {
        for (const auto& f : m->families) out.push_back({{f.name}, static_cast<double>(f.*field)});
      }
      return out;
    };
    metrics.AddCallbackGaugeFamily(
        "keyledger_rocksdb_memtable_bytes",
        "RocksDB memtables per column family (active, unflushed and pinned).", {"cf"},
        [per_family] { return per_family(&events::StoreMemory::Family::memtables); });
    metrics.AddCallbackGaugeFamily(
        "keyledger_rocksdb_table_readers_bytes",
        "RocksDB table readers per column family, outside the block cache.", {"cf"},
        [per_family] { return per_family(&events::StoreMemory::Family::table_readers); });
    metrics.AddCallbackGaugeFamily(
        "keyledger_rocksdb_block_cache_bytes",
        "Usage of the block cache each column family reads through (one shared cache: the "
        "same figure for all).",
        {"cf"}, [per_family] { return per_family(&events::StoreMemory::Family::block_cache); });
    metrics.AddCallbackGauge("keyledger_rocksdb_block_cache_pinned_bytes",
                             "Block cache entries pinned (in use, or pinned index and filter "
                             "blocks).",
                             [src] {
                               auto m = src->store();
                               return m.ok() ? static_cast<double>(m->block_cache_pinned) : 0.0;
                             });
    metrics.AddCallbackGauge("keyledger_rocksdb_block_cache_capacity_bytes",
                             "Capacity of every distinct block cache together.", [src] {
                               auto m = src->store();
                               return m.ok() ? static_cast<double>(m->block_cache_capacity) : 0.0;
                             });
  }
  if (src->allocator) {
    metrics.AddCallbackGaugeFamily(
        "keyledger_allocator_bytes",
        "The memory allocator's statistics (jemalloc: allocated, active, resident, retained, "
        "mapped, metadata; glibc: allocated, free, mmapped).",
        {"state"}, [src] { return src->allocator(); });
  }
}

}  // namespace keyledger::api
