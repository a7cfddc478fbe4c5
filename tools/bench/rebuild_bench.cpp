// rebuild_bench: the pieces of tools/bench/rebuild.sh, each a subcommand printing one JSON line.
//
//   rebuild_bench generate   --data-dir D --events N --keys K [--seed S] [--items-per-report I]
//       a data directory from the random workload (tools/bench/workload.hpp) run through the
//       registry until the log holds N events, K keys created first
//   rebuild_bench scan       --data-dir D     raw RocksDB iteration of the events column family
//   rebuild_bench scan-parse --data-dir D     the same, plus decoding each record and a bare
//                                             simdjson DOM parse of each payload
//   rebuild_bench memory     --data-dir D     resident memory of the folded state, per key
//   rebuild_bench drop-snapshots --data-dir D drops the snapshots column family (runbook B)
//
// Not a test: rebuild.sh runs these next to keyledger-rebuild on the same directory in the same
// run and reports ratios (LIMITS.md: absolute figures drift between runs on shared machines).
#include <malloc.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <simdjson.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "events/rocks_event_log.hpp"
#include "events/secrets.hpp"
#include "projections/snapshot.hpp"
#include "src/registry.hpp"
#include "tools/bench/bench_util.hpp"
#include "tools/bench/workload.hpp"

namespace keyledger::bench {
namespace {

struct Flags {
  std::string data_dir;
  uint64_t events = 1'000'000;
  uint64_t keys = 10'000;
  uint64_t seed = 1;
  uint64_t items_per_report = 100;
};

int Die(const std::string& message) {
  std::fprintf(stderr, "rebuild_bench: %s\n", message.c_str());
  return 1;
}

uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

int Generate(const Flags& f) {
  LogSink sink = [](LogLevel level, std::string_view m) {
    if (level >= LogLevel::kWarning)
      std::fprintf(stderr, "%.*s\n", static_cast<int>(m.size()), m.data());
  };
  auto log = events::RocksEventLog::Open(f.data_dir, {});
  if (!log.ok()) return Die(log.error().message);
  auto master = events::LoadMasterKey({"", "", f.data_dir}, {});
  if (!master.ok()) return Die(master.error().message);
  auto keyring = events::Keyring::Open(**log, std::move(master).value(), sink);
  if (!keyring.ok()) return Die(keyring.error().message);
  registry::RegistryOptions ro;
  ro.log = log->get();
  ro.keyring = keyring->get();
  ro.log_sink = sink;
  auto reg = registry::Registry::Open(ro);
  if (!reg.ok()) return Die(reg.error().message);

  WorkloadOptions w;
  w.seed = f.seed;
  w.providers = std::max<uint64_t>(10, f.keys / 1000);
  w.keys = f.keys;
  w.commands = UINT64_MAX;
  w.until_events = f.events;
  w.health_items_per_report = f.items_per_report;
  w.progress = [](uint64_t commands, uint64_t events) {
    if (commands % 10'000 == 0) {
      std::fprintf(stderr, "generate: %llu commands, %llu events\n",
                   static_cast<unsigned long long>(commands),
                   static_cast<unsigned long long>(events));
    }
  };
  const auto start = Clock::now();
  auto stats = RunWorkload(**reg, **log, w);
  if (!stats.ok()) return Die(stats.error().message);
  const double seconds = static_cast<double>(MicrosSince(start)) / 1e6;
  if (Status s = (*reg)->Close(); !s.ok()) return Die(s.error().message);
  keyring->reset();
  if (Status s = (*log)->Close(); !s.ok()) return Die(s.error().message);
  std::printf(
      "{\"generated_events\":%llu,\"keys\":%llu,\"commands\":%llu,\"failed_commands\":%llu,"
      "\"seconds\":%.2f}\n",
      static_cast<unsigned long long>(stats->events), static_cast<unsigned long long>(f.keys),
      static_cast<unsigned long long>(stats->commands + stats->setup_commands),
      static_cast<unsigned long long>(stats->failed), seconds);
  return 0;
}

// Opens the database with every column family (read-only, as a tool does, or read-write).
struct RawDb {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<std::string> names;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  ~RawDb() {
    if (db)
      for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  rocksdb::ColumnFamilyHandle* Family(const std::string& name) const {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return handles[i];
    }
    return nullptr;
  }
};

rocksdb::Status OpenRaw(const std::string& dir, bool read_only, RawDb& out) {
  rocksdb::DBOptions options;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(options, dir, &out.names);
  if (!s.ok()) return s;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : out.names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
  rocksdb::DB* raw = nullptr;
  s = read_only ? rocksdb::DB::OpenForReadOnly(options, dir, descriptors, &out.handles, &raw)
                : rocksdb::DB::Open(options, dir, descriptors, &out.handles, &raw);
  out.db.reset(raw);
  return s;
}

// Opens the database the way a tool does (read-only, every column family) and iterates the
// events column family, as RocksEventLog::Scan does (fill_cache = false).
int Scan(const Flags& f, bool parse) {
  RawDb raw;
  if (rocksdb::Status s = OpenRaw(f.data_dir, true, raw); !s.ok()) return Die(s.ToString());
  rocksdb::DB* db = raw.db.get();
  rocksdb::ColumnFamilyHandle* events_cf = raw.Family("events");
  if (events_cf == nullptr) return Die("no events column family");

  simdjson::dom::parser parser;
  uint64_t n = 0, bytes = 0, elements = 0;
  const auto start = Clock::now();
  {
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, events_cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++n;
      bytes += it->value().size();
      if (parse) {
        auto r = events::DecodeRecord(std::string_view(it->value().data(), it->value().size()));
        if (!r.ok()) return Die(r.error().message);
        simdjson::dom::element doc;
        if (parser.parse(r->payload).get(doc)) return Die("payload does not parse");
        elements += doc.is_object() ? 1u : 0u;
      }
    }
    if (!it->status().ok()) return Die(it->status().ToString());
  }
  const double seconds = static_cast<double>(MicrosSince(start)) / 1e6;
  std::printf(
      "{\"%s\":{\"events\":%llu,\"bytes\":%llu,\"seconds\":%.3f,\"events_per_second\":%.0f}}\n",
      parse ? "scan_parse" : "scan", static_cast<unsigned long long>(n),
      static_cast<unsigned long long>(bytes), seconds,
      seconds > 0 ? static_cast<double>(n) / seconds : 0.0);
  return elements == (parse ? n : 0) ? 0 : Die("a payload is not an object");
}

int Memory(const Flags& f) {
  events::RocksEventLog::Options o;
  o.mode = events::RocksEventLog::Mode::kReadOnly;
  auto log = events::RocksEventLog::Open(f.data_dir, o);
  if (!log.ok()) return Die(log.error().message);
  ::malloc_trim(0);
  const uint64_t before = ResidentBytes();
  projections::State state;
  if (Status s = projections::Replay(**log, state, (*log)->GetHead().sequence); !s.ok()) {
    return Die(s.error().message);
  }
  ::malloc_trim(0);  // drop the fold's transient garbage; what stays is the state
  const uint64_t after = ResidentBytes();
  const uint64_t keys = state.keys.size();
  const size_t serialized = projections::SerializeState(state).size();
  std::printf(
      "{\"memory\":{\"keys\":%llu,\"events\":%llu,\"rss_delta_bytes\":%llu,"
      "\"bytes_per_key\":%.0f,\"snapshot_bytes_per_key\":%.0f}}\n",
      static_cast<unsigned long long>(keys),
      static_cast<unsigned long long>((*log)->GetHead().sequence),
      static_cast<unsigned long long>(after - std::min(after, before)),
      keys ? static_cast<double>(after - std::min(after, before)) / static_cast<double>(keys) : 0.0,
      keys ? static_cast<double>(serialized) / static_cast<double>(keys) : 0.0);
  return 0;
}

// Drops the snapshots column family, as in the recovery runbook's case B: the next keyledgerd
// start replays the whole log (the report's "full replay" start).
int DropSnapshots(const Flags& f) {
  RawDb raw;
  if (rocksdb::Status s = OpenRaw(f.data_dir, false, raw); !s.ok()) return Die(s.ToString());
  rocksdb::ColumnFamilyHandle* snapshots = raw.Family("snapshots");
  if (snapshots != nullptr) {
    if (rocksdb::Status s = raw.db->DropColumnFamily(snapshots); !s.ok()) return Die(s.ToString());
  }
  std::printf("{\"dropped_snapshots\":%s}\n", snapshots != nullptr ? "true" : "false");
  return 0;
}

}  // namespace
}  // namespace keyledger::bench

int main(int argc, char** argv) {
  using keyledger::bench::Flags;
  if (argc < 2)
    return keyledger::bench::Die(
        "usage: rebuild_bench generate|scan|scan-parse|memory|drop-snapshots ...");
  const std::string command = argv[1];
  Flags f;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    const std::string value = argv[i + 1];
    if (name == "--data-dir") {
      f.data_dir = value;
    } else if (name == "--events") {
      f.events = std::stoull(value);
    } else if (name == "--keys") {
      f.keys = std::stoull(value);
    } else if (name == "--seed") {
      f.seed = std::stoull(value);
    } else if (name == "--items-per-report") {
      f.items_per_report = std::stoull(value);
    } else {
      return keyledger::bench::Die("unknown option " + name);
    }
  }
  if (f.data_dir.empty()) return keyledger::bench::Die("--data-dir is required");
  if (command == "generate") return keyledger::bench::Generate(f);
  if (command == "scan") return keyledger::bench::Scan(f, false);
  if (command == "scan-parse") return keyledger::bench::Scan(f, true);
  if (command == "memory") return keyledger::bench::Memory(f);
  if (command == "drop-snapshots") return keyledger::bench::DropSnapshots(f);
  return keyledger::bench::Die("unknown command " + command);
}
