// Helper for AcknowledgedAppendsSurviveSigkill: appends forever from 4 threads and prints one
// "ack <sequence> <hash hex>" line per acknowledged record. Killed by the test with SIGKILL.
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "events/rocks_event_log.hpp"

int main(int argc, char** argv) {
  using namespace keyledger::events;
  if (argc != 2) return 2;
  auto log = RocksEventLog::Open(argv[1], {});
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  std::mutex out_mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        NewEvent e;
        e.type = EventType::kKeyUpdated;
        e.payload = "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}";
        auto r = (*log)->Append("key-" + std::to_string(t), kAnyVersion, {e});
        if (!r.ok()) continue;
        // One event per request, so the head after it is that record.
        const std::string hash =
            keyledger::crypto::HexEncode(keyledger::crypto::AsBytes(r->head.hash));
        std::lock_guard lock(out_mu);
        std::printf("ack %llu %s\n", static_cast<unsigned long long>(r->sequences[0]),
                    hash.c_str());
        std::fflush(stdout);
      }
    });
  }
  for (auto& th : threads) th.join();
}
