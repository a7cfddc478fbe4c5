// Helper for SigkillAtRandomMomentsLosesNoAcknowledgedCommand: runs random registry commands
// from 4 threads against DIR and prints "ack <sequence> <digest>" for each acknowledged one.
#include <cstdio>
#include <mutex>
#include <thread>

#include "events/rocks_event_log.hpp"
#include "events/secrets.hpp"
#include "projections/snapshot.hpp"
#include "tests/registry/random_workload.hpp"

int main(int argc, char** argv) {
  using namespace keyledger;
  if (argc != 3) return 2;
  auto log = events::RocksEventLog::Open(argv[1], {});
  if (!log.ok()) return 1;
  events::MasterKeySource source;
  source.data_dir = argv[1];
  auto master = events::LoadMasterKey(source, nullptr);
  if (!master.ok()) return 1;
  auto keyring = events::Keyring::Open(**log, std::move(master).value(), nullptr);
  if (!keyring.ok()) return 1;
  registry::RegistryOptions o;
  o.log = log->get();
  o.keyring = keyring->get();
  o.snapshot_every = 53;
  auto reg = registry::Registry::Open(o);
  if (!reg.ok()) return 1;
  const uint32_t seed = static_cast<uint32_t>(std::atoi(argv[2]));
  registry::testing::RandomWorkload setup(seed);
  if ((*reg)->Current()->providers.empty()) {
    for (auto& c : setup.CreateProviders(4)) {
      if (!(*reg)->Execute(std::move(c), {}).ok()) return 1;
    }
  }
  std::printf("ready\n");
  std::fflush(stdout);
  std::mutex out;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      registry::testing::RandomWorkload work(seed * 10 + static_cast<uint32_t>(t));
      while (true) {
        auto r = (*reg)->Execute(work.Next(*(*reg)->Current()), {});
        if (!r.ok() || r->sequence == 0) continue;
        // The state right after this command is the state at its last event.
        auto state = projections::StateAsOf(**log, nullptr, r->sequence);
        if (!state.ok()) continue;
        std::lock_guard lock(out);
        std::printf("ack %llu %s\n", static_cast<unsigned long long>(r->sequence),
                    projections::StateDigestHex(*state).c_str());
        std::fflush(stdout);
      }
    });
  }
  for (auto& th : threads) th.join();
}
