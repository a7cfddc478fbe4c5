// Bytes on disk per event of each type, and per health-telemetry entry (README "Log growth").
// For each case: a fresh RocksDB log under DIR/<case>; a setup (a provider, its keys); then N
// commands that each append one event of the measured type (or, for "telemetry", health reports
// that only overwrite telemetry entries). Before and after the measured phase every column family
// is flushed and fully compacted (RocksDB's default compression, as the log uses), and the
// growth of the table files is divided by the events appended. "events+index" counts the record
// (events column family) and its stream-index entry (streams); the WAL is not counted (it is
// recycled, not kept).
//
// Usage: event_sizes DIR [N]   (N default 20,000; DIR must not exist or be empty)
// Prints a Markdown table.
#include <rocksdb/db.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "events/rocks_event_log.hpp"
#include "events/secrets.hpp"
#include "src/registry.hpp"
#include "src/registry_commands.hpp"
#include "tools/bench/workload.hpp"

namespace fs = std::filesystem;
using namespace keyledger;  // NOLINT: a benchmark's main file

namespace {

constexpr int64_t kAt = 1'768'280'000'000'000;
constexpr int64_t kTenSeconds = 10'000'000;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "event_sizes: %s\n", message.c_str());
  std::exit(1);
}

template <typename T>
T Check(Result<T> r, const char* what) {
  if (!r.ok()) Die(std::string(what) + ": " + r.error().message);
  return std::move(r).value();
}

void Check(Status s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

// Table-file bytes per column family after a flush and a full compaction of each.
std::map<std::string, uint64_t> CompactedSizes(const std::string& dir) {
  rocksdb::DBOptions options;
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(options, dir, &names).ok()) Die("cannot list " + dir);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(options, dir, descriptors, &handles, &raw).ok()) Die("cannot open " + dir);
  std::unique_ptr<rocksdb::DB> db(raw);
  std::map<std::string, uint64_t> sizes;
  for (size_t i = 0; i < handles.size(); ++i) {
    if (!db->Flush(rocksdb::FlushOptions(), handles[i]).ok()) Die("flush failed");
    rocksdb::CompactRangeOptions co;
    co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    if (!db->CompactRange(co, handles[i], nullptr, nullptr).ok()) Die("compaction failed");
    uint64_t bytes = 0;
    db->GetIntProperty(handles[i], "rocksdb.total-sst-files-size", &bytes);
    sizes[names[i]] = bytes;
  }
  for (auto* h : handles) {
    if (!db->DestroyColumnFamilyHandle(h).ok()) Die("cannot release a column family");
  }
  if (!db->Close().ok()) Die("cannot close " + dir);
  return sizes;
}

// One open log + keyring + registry on a directory.
struct Node {
  explicit Node(const std::string& dir) {
    log = Check(events::RocksEventLog::Open(dir, {}), "open log");
    auto master = Check(events::LoadMasterKey({"", "", dir}, {}), "master key");
    keyring = Check(events::Keyring::Open(*log, std::move(master), {}), "keyring");
    registry::RegistryOptions ro;
    ro.log = log.get();
    ro.keyring = keyring.get();
    ro.snapshot_every = 0;  // snapshots would be counted as growth
    reg = Check(registry::Registry::Open(ro), "registry");
  }
  ~Node() {
    Check(reg->Close(), "close registry");
    reg.reset();
    keyring.reset();
    Check(log->Close(), "close log");
  }
  registry::CommandResult Run(std::unique_ptr<registry::Command> c) {
    registry::RequestContext ctx;
    ctx.actor = "admin";
    ctx.client_ip = "127.0.0.1";
    ctx.request_id = "event-sizes";
    return Check(reg->Execute(std::move(c), ctx), "command");
  }
  std::unique_ptr<events::RocksEventLog> log;
  std::unique_ptr<events::Keyring> keyring;
  std::unique_ptr<registry::Registry> reg;
};

std::string CreateKey(Node& n, const std::string& provider, int i) {
  registry::KeyCreateIntent in;
  in.provider_id = provider;
  in.key.api_formats = {"CLAUDE", "OPENAI"};
  in.key.name = "key-" + std::to_string(i);
  in.secret = "sk-ant-api03-" + std::to_string(1'000'000 + i) + "-event-sizes-secret-padding";
  const std::string body = n.Run(registry::MakeCreateKey(std::move(in))).body;
  return body.substr(7, body.find('"', 7) - 7);  // {"id":"<id>",...
}

std::string CreateProvider(Node& n, const std::string& name) {
  registry::ProviderCreateIntent in;
  in.provider.name = name;
  in.provider.website = "https://example.com/" + name;
  const std::string body = n.Run(registry::MakeCreateProvider(std::move(in))).body;
  return body.substr(7, body.find('"', 7) - 7);
}

// A gateway's report of one key and format every 10 s, 5 requests each (the window holds the
// last 20 outcomes, its steady size).
registry::HealthReportItem Report(const std::string& key, int64_t round) {
  return registry::HealthReportItem{key, "CLAUDE", 5, 0, 1200, {}, kAt + round * kTenSeconds, {}};
}

struct Case {
  std::string name;
  int keys;  // created in the setup
  // The measured phase: returns how many events (or telemetry entries) it wrote.
  std::function<uint64_t(Node&, const std::vector<std::string>& keys, uint64_t n)> run;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Die("usage: event_sizes DIR [N]");
  const std::string root = argv[1];
  const uint64_t n = argc > 2 ? std::stoull(argv[2]) : 20'000;
  std::vector<Case> cases = {
      {"KeyHealthReported (one per report, before)", 100,
       [](Node& node, const std::vector<std::string>& keys, uint64_t count) {
         // A key's first reports carry shorter windows: a negligible share of `count`.
         for (uint64_t done = 0; done < count;) {
           std::vector<registry::HealthReportItem> items;
           for (size_t k = 0; k < keys.size() && done < count; ++k, ++done) {
             items.push_back(Report(keys[k], static_cast<int64_t>(done / keys.size())));
           }
           node.Run(bench::MakeLegacyHealthReports(std::move(items)));
         }
         return count;
       }},
      {"KeyHealthReset", 100,
       [](Node& node, const std::vector<std::string>& keys, uint64_t count) {
         for (uint64_t i = 0; i < count; ++i) {
           node.Run(registry::MakeResetKeyHealth(keys[i % keys.size()], std::nullopt));
         }
         return count;
       }},
      {"KeyUpdated (note, priority)", 100,
       [](Node& node, const std::vector<std::string>& keys, uint64_t count) {
         for (uint64_t i = 0; i < count; ++i) {
           registry::KeyUpdateIntent up;
           up.key_id = keys[i % keys.size()];
           up.fields = {"internal_priority", "note"};
           up.values.internal_priority = static_cast<int64_t>(i % 100);
           up.values.note = "rotated by ops, ticket " + std::to_string(10000 + i);
           node.Run(registry::MakeUpdateKey(std::move(up)));
         }
         return count;
       }},
      {"KeyRevealed", 100,
       [](Node& node, const std::vector<std::string>& keys, uint64_t count) {
         for (uint64_t i = 0; i < count; ++i) {
           node.Run(registry::MakeRevealKey(keys[i % keys.size()]));
         }
         return count;
       }},
      {"KeyCreated (+ its sealed data key in the keyring)", 0,
       [](Node& node, const std::vector<std::string>&, uint64_t count) {
         const std::string pid = CreateProvider(node, "creates");
         for (uint64_t i = 0; i < count; ++i) CreateKey(node, pid, static_cast<int>(i));
         return count + 1;
       }},
      {"ProviderCreated", 0,
       [](Node& node, const std::vector<std::string>&, uint64_t count) {
         for (uint64_t i = 0; i < count; ++i) CreateProvider(node, "p-" + std::to_string(i));
         return count;
       }},
      {"telemetry entry (1,000 keys, after)", 1000,
       [](Node& node, const std::vector<std::string>& keys, uint64_t) {
         // Five rounds of every key: the windows reach their steady 20 outcomes; each round
         // overwrites the 1,000 entries.
         for (int64_t round = 0; round < 5; ++round) {
           std::vector<registry::HealthReportItem> items;
           for (const auto& k : keys) items.push_back(Report(k, round));
           node.Run(registry::MakeReportHealth(std::move(items)));
         }
         return static_cast<uint64_t>(keys.size());
       }},
  };

  std::printf("| what | count | events+index B/each | keyring B/each | telemetry B/each |\n");
  std::printf("|---|---|---|---|---|\n");
  int index = 0;
  for (const Case& c : cases) {
    const std::string dir = root + "/case-" + std::to_string(index++);
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::vector<std::string> keys;
    {
      Node node(dir);
      const std::string pid = CreateProvider(node, "setup");
      for (int i = 0; i < c.keys; ++i) keys.push_back(CreateKey(node, pid, i));
    }
    const auto before = CompactedSizes(dir);
    uint64_t written = 0;
    {
      Node node(dir);
      written = c.run(node, keys, n);
    }
    const auto after = CompactedSizes(dir);
    auto grew = [&](const char* cf) {
      const uint64_t a = after.count(cf) ? after.at(cf) : 0;
      const uint64_t b = before.count(cf) ? before.at(cf) : 0;
      return static_cast<double>(a > b ? a - b : 0) / static_cast<double>(written);
    };
    std::printf("| %s | %llu | %.0f | %.0f | %.0f |\n", c.name.c_str(),
                static_cast<unsigned long long>(written), grew("events") + grew("streams"),
                grew("keyring"), grew("telemetry"));
    std::fflush(stdout);
  }
  return 0;
}
