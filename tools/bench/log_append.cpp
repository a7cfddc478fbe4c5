// Event-log append benchmark (issue 2). In one run, on one data disk:
//   baseline: raw RocksDB Put with sync = true from 1 and 16 threads (~300-byte values);
//   keyledger: EventLog::Append from 1, 16 and 64 concurrent callers (~300-byte payloads), each a
//   thread that sleeps until its append is durable; and AppendAsync from 16 callers that each keep
//   one append in flight (the next one submitted from the completion of the last);
// and the ratio of each keyledger figure to the raw figure at the same concurrency (64 against
// 16). Prints a Markdown table, or with --json one JSON object per case (tools/bench/report.sh).
// Usage: log_append DIR [SECONDS_PER_CASE] [--json] [--only CASE]
#include <rocksdb/db.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "events/rocks_event_log.hpp"
#include "tools/bench/bench_util.hpp"

namespace kb = keyledger::bench;
namespace ke = keyledger::events;

namespace {

// Group commits and the time spent in their synced writes, for the --only report.
std::atomic<uint64_t> g_groups{0};
std::atomic<int64_t> g_write_micros{0};

std::string Payload(int thread, uint64_t i) {
  // ~300 bytes of JSON, like a KeyUpdated event.
  std::string p = "{\"key_id\":\"3f1c0a2e-1b2c-4d5e-8f90-" + std::to_string(100000 + thread) +
                  "\",\"seq\":" + std::to_string(i) +
                  ",\"changes\":{\"internal_priority\":" + std::to_string(i % 100) + ",\"note\":\"";
  while (p.size() < 280) p += 'x';
  p += "\"}}";
  return p;
}

template <typename Op>
kb::Summary RunThreads(int threads, double seconds, Op op) {
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<int64_t> all;
  std::vector<std::thread> pool;
  auto start = kb::Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<int64_t> mine;
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        auto t0 = kb::Clock::now();
        op(t, i);
        mine.push_back(kb::MicrosSince(t0));
      }
      std::lock_guard lock(mu);
      all.insert(all.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  double elapsed = static_cast<double>(kb::MicrosSince(start)) / 1e6;
  return kb::Summarize(std::move(all), elapsed);
}

kb::Summary RawRocks(const std::string& dir, int threads, double seconds) {
  std::filesystem::remove_all(dir);
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(options, dir, &raw).ok()) {
    std::fprintf(stderr, "cannot open %s\n", dir.c_str());
    std::exit(1);
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  std::atomic<uint64_t> next{0};
  auto s = RunThreads(threads, seconds, [&](int t, uint64_t i) {
    uint64_t k = next++;
    std::string key;
    ke::PutBigEndian64(key, k);
    if (!db->Put(wo, key, Payload(t, i)).ok()) std::abort();
  });
  if (!db->Close().ok()) std::abort();
  return s;
}

// A new event log in `dir` that counts its group commits for the --only report.
std::unique_ptr<ke::RocksEventLog> OpenFreshLog(const std::string& dir) {
  std::filesystem::remove_all(dir);
  ke::RocksEventLog::Options options;
  options.on_group_commit = [](const ke::GroupCommitStats& g) {
    g_groups.fetch_add(1, std::memory_order_relaxed);
    g_write_micros.fetch_add(g.write_micros, std::memory_order_relaxed);
  };
  auto log = ke::RocksEventLog::Open(dir, std::move(options));
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(log).value();
}

kb::Summary Keyledger(const std::string& dir, int callers, double seconds) {
  auto log = OpenFreshLog(dir);
  auto s = RunThreads(callers, seconds, [&](int t, uint64_t i) {
    ke::NewEvent e;
    e.type = ke::EventType::kKeyUpdated;
    e.payload = Payload(t, i);
    auto r = log->Append("key-" + std::to_string(t), ke::kAnyVersion, {std::move(e)},
                         ke::EventMetadata{"bench", "127.0.0.1", "req", std::nullopt});
    if (!r.ok()) std::abort();
  });
  if (!log->Close().ok()) std::abort();
  return s;
}

// The same appends from `callers` asynchronous callers, each with one append in flight: a caller
// submits its next append from the completion of the previous one (AppendAsync), as a server's
// I/O threads use the log, instead of a thread that sleeps until its append is durable.
kb::Summary KeyledgerAsync(const std::string& dir, int callers, double seconds) {
  auto log = OpenFreshLog(dir);
  struct Caller {
    uint64_t next = 0;
    kb::Clock::time_point started;
    std::vector<int64_t> latencies;
  };
  std::vector<Caller> state(static_cast<size_t>(callers));
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = callers;
  std::function<void(int)> submit = [&](int t) {
    Caller& c = state[static_cast<size_t>(t)];
    ke::NewEvent e;
    e.type = ke::EventType::kKeyUpdated;
    e.payload = Payload(t, c.next);
    ke::AppendRequest request;
    request.streams.push_back(
        ke::StreamAppend{"key-" + std::to_string(t),
                         ke::kAnyVersion,
                         ke::EventMetadata{"bench", "127.0.0.1", "req", std::nullopt},
                         {std::move(e)}});
    c.started = kb::Clock::now();
    log->AppendAsync(std::move(request), [&, t](keyledger::Result<ke::AppendResult> r) {
      if (!r.ok()) std::abort();
      Caller& done = state[static_cast<size_t>(t)];
      done.latencies.push_back(kb::MicrosSince(done.started));
      ++done.next;
      if (!stop.load(std::memory_order_relaxed)) return submit(t);
      std::lock_guard lock(mu);
      if (--in_flight == 0) cv.notify_all();
    });
  };
  const auto start = kb::Clock::now();
  for (int t = 0; t < callers; ++t) submit(t);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return in_flight == 0; });
  }
  const double elapsed = static_cast<double>(kb::MicrosSince(start)) / 1e6;
  if (!log->Close().ok()) std::abort();
  std::vector<int64_t> all;
  for (Caller& c : state) all.insert(all.end(), c.latencies.begin(), c.latencies.end());
  return kb::Summarize(std::move(all), elapsed);
}

void JsonRow(const char* name, int conc, const kb::Summary& s) {
  std::printf(
      "{\"case\":\"%s\",\"concurrency\":%d,\"ops\":%llu,\"ops_per_sec\":%.1f,\"p50_us\":%.0f,"
      "\"p99_us\":%.0f,\"p999_us\":%.0f}\n",
      name, conc, static_cast<unsigned long long>(s.ops), s.ops_per_sec, s.p50_us, s.p99_us,
      s.p999_us);
}

void Row(const char* name, int conc, const kb::Summary& s, const kb::Summary* base) {
  std::printf("| %-28s | %3d | %9.0f | %7.0f | %7.0f | %7.0f | %s |\n", name, conc, s.ops_per_sec,
              s.p50_us, s.p99_us, s.p999_us,
              base ? (std::to_string(s.ops_per_sec / base->ops_per_sec).substr(0, 4) + "x").c_str()
                   : "baseline");
}

}  // namespace

int main(int argc, char** argv) {
  // Usage: log_append DIR [SECONDS_PER_CASE] [--json] [--only CASE] where CASE is one of raw1,
  // raw16, kl1, kl16, kl64, async16 (--only runs that case alone, for profiling; no table is
  // printed).
  if (argc < 2) {
    std::fprintf(stderr, "usage: log_append DIR [SECONDS_PER_CASE] [--json] [--only CASE]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
  bool json = false;
  std::string only;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      json = true;
    } else if (arg == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr, "unknown argument: %s\n", arg.c_str());
      return 2;
    }
  }
  std::filesystem::create_directories(dir);

  if (!only.empty()) {
    const int conc = only == "raw1" || only == "kl1" ? 1 : only == "kl64" ? 64 : 16;
    kb::Summary s;
    if (only == "raw1" || only == "raw16") {
      s = RawRocks(dir + "/" + only, conc, seconds);
    } else if (only == "kl1" || only == "kl16" || only == "kl64") {
      s = Keyledger(dir + "/" + only, conc, seconds);
    } else if (only == "async16") {
      s = KeyledgerAsync(dir + "/" + only, conc, seconds);
    } else {
      std::fprintf(stderr, "unknown case: %s\n", only.c_str());
      return 2;
    }
    std::filesystem::remove_all(dir);
    JsonRow(only.c_str(), conc, s);
    if (g_groups > 0) {
      std::printf(
          "groups %llu, %.1f appends per group, %.0f us per synced write\n",
          static_cast<unsigned long long>(g_groups.load()),
          static_cast<double>(s.ops) / static_cast<double>(g_groups.load()),
          static_cast<double>(g_write_micros.load()) / static_cast<double>(g_groups.load()));
    }
    return 0;
  }

  kb::Summary raw1 = RawRocks(dir + "/raw1", 1, seconds);
  kb::Summary raw16 = RawRocks(dir + "/raw16", 16, seconds);
  kb::Summary kl1 = Keyledger(dir + "/kl1", 1, seconds);
  kb::Summary kl16 = Keyledger(dir + "/kl16", 16, seconds);
  kb::Summary kl64 = Keyledger(dir + "/kl64", 64, seconds);
  kb::Summary async16 = KeyledgerAsync(dir + "/async16", 16, seconds);
  std::filesystem::remove_all(dir);

  if (json) {
    JsonRow("raw_rocksdb_put_sync", 1, raw1);
    JsonRow("raw_rocksdb_put_sync", 16, raw16);
    JsonRow("event_log_append", 1, kl1);
    JsonRow("event_log_append", 16, kl16);
    JsonRow("event_log_append", 64, kl64);
    JsonRow("event_log_append_async", 16, async16);
    return 0;
  }
  std::printf("| case | conc | ops/s | p50 us | p99 us | p99.9 us | vs raw |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  Row("raw RocksDB Put sync=true", 1, raw1, nullptr);
  Row("raw RocksDB Put sync=true", 16, raw16, nullptr);
  Row("keyledger Append", 1, kl1, &raw1);
  Row("keyledger Append", 16, kl16, &raw16);
  Row("keyledger Append (vs raw 16)", 64, kl64, &raw16);
  Row("keyledger AppendAsync", 16, async16, &raw16);
  return 0;
}
