// Writes seed inputs for the record and snapshot fuzzers from a real registry: a small random
// workload (tools/bench/workload.hpp) over an in-memory log, then a few encoded records of every
// kind and the serialized state. Run by hand when the formats change:
//   cmake --build build/fuzz --target fuzz_make_seeds && build/fuzz/tests/fuzz/fuzz_make_seeds
//   tests/fuzz/corpus
// The committed seeds are its output; the fuzzers only read them.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "events/crypto.hpp"
#include "events/memory_event_log.hpp"
#include "events/record.hpp"
#include "events/secrets.hpp"
#include "projections/snapshot.hpp"
#include "src/registry.hpp"
#include "tools/bench/workload.hpp"

namespace {

void Write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace keyledger;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path root = argv[1];
  events::MemoryEventLog log;
  auto master = events::MasterKey::FromBytes(crypto::RandomBytes(32));
  if (!master.ok()) return 1;
  auto keyring = events::Keyring::Open(log, std::move(master).value(), nullptr);
  if (!keyring.ok()) return 1;
  registry::RegistryOptions options;
  options.log = &log;
  options.keyring = keyring.value().get();
  options.snapshot_every = 0;
  auto reg = registry::Registry::Open(options);
  if (!reg.ok()) return 1;
  bench::WorkloadOptions w;
  w.seed = 7;
  w.providers = 2;
  w.keys = 6;
  w.commands = 60;
  w.health_items_per_report = 2;
  w.mix.delete_provider = 2;
  if (!bench::RunWorkload(*reg.value(), log, w).ok()) return 1;

  // Up to three records of each event type.
  std::filesystem::create_directories(root / "record_decoder");
  std::map<uint16_t, int> per_type;
  auto records = log.ReadRange(1, 100'000);
  if (!records.ok()) return 1;
  int written = 0;
  for (const auto& r : records.value()) {
    int& n = per_type[static_cast<uint16_t>(r.type)];
    if (n >= 3) continue;
    ++n;
    Write(root / "record_decoder" / ("seq-" + std::to_string(r.sequence)), events::EncodeRecord(r));
    ++written;
  }
  std::filesystem::create_directories(root / "snapshot_decoder");
  Write(root / "snapshot_decoder" / "workload-state",
        projections::SerializeState(*reg.value()->Current()));
  Write(root / "snapshot_decoder" / "empty-state",
        projections::SerializeState(projections::State{}));
  if (!reg.value()->Close().ok()) return 1;
  std::printf("%d records, 2 snapshots\n", written);
  return 0;
}
