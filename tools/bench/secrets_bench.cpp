// secrets_bench: what envelope encryption costs per secret, against the bare cipher, measured in
// one run (absolute numbers drift between runs on shared machines; ratios hold; LIMITS.md).
//
//   (a) bare AES-256-GCM encrypt+decrypt of a 64-byte secret, key scheduled once (AesGcm256)
//   (b) the envelope path per key: Keyring::SealNew (fresh DEK, encrypt, wrap the DEK) + the
//       append request carrying the wrapped DEK, then Keyring::Open (fetch and unwrap the DEK,
//       decrypt), with the DEKs in a MemoryEventLog (storage not measured), and the same Open
//       with the DEK fetched from RocksDB (warm).
//
// Every measurement runs once per round and rounds interleave them, so a ratio is computed within
// a round (same machine load) and the median over rounds is reported.
//
// Usage: secrets_bench [--iterations N] [--runs R]   (defaults 100000 and 5)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "events/crypto.hpp"
#include "events/memory_event_log.hpp"
#include "events/rocks_event_log.hpp"
#include "events/secrets.hpp"

namespace {

using keyledger::events::AppendRequest;
using keyledger::events::AuxSpace;
using keyledger::events::Keyring;
using keyledger::events::MasterKey;
using keyledger::events::SealedSecret;
namespace crypto = keyledger::crypto;
using Clock = std::chrono::steady_clock;

// Something the optimizer cannot see through.
volatile size_t g_sink = 0;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "secrets_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Check(keyledger::Result<T> r, const char* what) {
  if (!r.ok()) Die(std::string(what) + ": " + r.error().message);
  return std::move(r).value();
}

double NsSince(Clock::time_point start, size_t ops) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
  return static_cast<double>(ns) / static_cast<double>(ops);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string KeyId(size_t i) { return "key-" + std::to_string(i); }

// The envelope path over a MemoryEventLog; a fresh log and keyring per round so the log holds
// `iterations` DEKs.
struct MemoryEnvelope {
  std::unique_ptr<keyledger::events::MemoryEventLog> log;
  std::unique_ptr<Keyring> keyring;
  std::vector<SealedSecret> sealed;

  void Reset() {
    keyring.reset();
    log = std::make_unique<keyledger::events::MemoryEventLog>();
    keyring = Check(Keyring::Open(*log, MasterKey::Generate(), {}), "open keyring");
    sealed.clear();
  }

  // SealNew + the append request, timed in chunks; between chunks (untimed) the DEKs are
  // committed the way the registry would, so the keyring's bookkeeping of uncommitted seals
  // (one lookup per seal, amortized) is what it is in production. Returns {seal, append} ns/op.
  std::pair<double, double> Seal(size_t n, const std::string& secret) {
    constexpr size_t kChunk = 1000;
    double seal_total = 0, append_total = 0;
    for (size_t base = 0; base < n; base += kChunk) {
      const size_t end = std::min(n, base + kChunk);
      std::vector<AppendRequest> requests;
      requests.reserve(end - base);
      auto t0 = Clock::now();
      for (size_t i = base; i < end; ++i) {
        Keyring::Sealed s = Check(keyring->SealNew(KeyId(i), 1, secret), "seal");
        AppendRequest req;
        req.streams.push_back(std::move(s.kek_guard));
        req.aux.push_back(std::move(s.dek_write));
        requests.push_back(std::move(req));
        sealed.push_back(std::move(s.secret));
      }
      seal_total += NsSince(t0, 1);
      auto t1 = Clock::now();
      for (AppendRequest& req : requests) Check(log->Append(std::move(req)), "append");
      append_total += NsSince(t1, 1);
    }
    return {seal_total / static_cast<double>(n), append_total / static_cast<double>(n)};
  }
};

double OpenAll(const Keyring& keyring, const std::vector<SealedSecret>& sealed) {
  auto t0 = Clock::now();
  for (size_t i = 0; i < sealed.size(); ++i) {
    auto plain = keyring.Open(sealed[i], KeyId(i), 1);
    if (!plain.ok()) Die("open: " + plain.error().message);
    g_sink = g_sink + plain->size();
  }
  return NsSince(t0, sealed.size());
}

double LookupAll(const keyledger::events::EventReader& log,
                 const std::vector<SealedSecret>& sealed) {
  auto t0 = Clock::now();
  for (const SealedSecret& s : sealed) {
    auto v = log.GetAux(AuxSpace::kKeyring, "dek/" + s.dek_id);
    if (!v.ok() || !v->has_value()) Die("DEK lookup failed");
    g_sink = g_sink + (*v)->size();
  }
  return NsSince(t0, sealed.size());
}

}  // namespace

int main(int argc, char** argv) {
  size_t iterations = 100'000;
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--iterations" && i + 1 < argc) {
      iterations = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (arg == "-h" || arg == "--help") {
      std::printf("usage: secrets_bench [--iterations N] [--runs R]\n");
      return 0;
    } else {
      Die("unknown argument " + arg + " (see --help)");
    }
  }
  if (iterations == 0 || runs <= 0) Die("--iterations and --runs must be positive");

  std::string secret = "sk-ant-api03-benchmark-";
  secret.resize(64, 'x');

  // Fixed inputs of the component measurements.
  crypto::AesGcm256 bare(crypto::RandomBytes(32));
  crypto::AesGcm256 kek(crypto::RandomBytes(32));
  const std::string key = crypto::RandomBytes(32);
  const std::string nonce = crypto::RandomBytes(12);
  const std::string one_shot_ct = crypto::AesGcm256SealOnce(key, nonce, "aad", secret);
  const std::string dek = crypto::RandomBytes(32);
  const std::string wrap_aad(48, 'a');  // the size of a DEK entry's associated data
  const std::string wrapped = kek.Seal(nonce, wrap_aad, dek);

  // The RocksDB keyring for (b2'): up to 20,000 committed DEKs, one synced append per 1000.
  const std::string rocks_dir =
      (std::filesystem::temp_directory_path() / ("secrets-bench-" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove_all(rocks_dir);
  auto rocks_log = Check(keyledger::events::RocksEventLog::Open(rocks_dir, {}), "open rocksdb");
  auto rocks_keyring = Check(Keyring::Open(*rocks_log, MasterKey::Generate(), {}), "keyring");
  std::vector<SealedSecret> rocks_sealed;
  {
    const size_t n = std::min<size_t>(iterations, 20'000);
    std::vector<Keyring::Sealed> seals;
    for (size_t i = 0; i < n; ++i) {
      seals.push_back(Check(rocks_keyring->SealNew(KeyId(i), 1, secret), "seal"));
    }
    for (size_t i = 0; i < n; i += 1000) {
      AppendRequest req;
      req.streams.push_back(seals[i].kek_guard);
      for (size_t j = i; j < std::min(n, i + 1000); ++j) req.aux.push_back(seals[j].dek_write);
      Check(rocks_log->Append(std::move(req)), "append");
    }
    for (auto& s : seals) rocks_sealed.push_back(std::move(s.secret));
  }

  enum Row {
    kBare,
    kRandom,
    kSealOnce,
    kOpenOnce,
    kWrap,
    kUnwrap,
    kSeal,
    kAppend,
    kOpen,
    kMemoryLookup,
    kEnvelope,
    kEnvelopeNoLookup,
    kRocksOpen,
    kRocksLookup,
    kRocksEnvelope,
    kRows
  };
  const char* names[kRows] = {
      "(a) bare AES-256-GCM seal+open, key set once",
      "  getrandom, 72 bytes (DEK, id, 2 nonces) in one call",
      "  one-shot seal: DEK key schedule + GCM tables + encrypt",
      "  one-shot open: DEK key schedule + GCM tables + decrypt",
      "  KEK wrap of a 32-byte DEK",
      "  KEK unwrap of a 32-byte DEK",
      "(b1) SealNew + append request built",
      "  (not counted) MemoryEventLog append of the DEK + guard",
      "(b2) Keyring::Open: DEK from MemoryEventLog, unwrap, decrypt",
      "  of which the DEK lookup in MemoryEventLog",
      "(b) envelope per key = (b1) + (b2)",
      "(b) without the DEK lookup",
      "(b2') Keyring::Open: DEK from RocksDB (warm), unwrap, decrypt",
      "  of which the DEK lookup in RocksDB",
      "(b') envelope per key = (b1) + (b2')",
  };
  std::vector<std::vector<double>> ns(kRows), ratio(kRows);

  MemoryEnvelope memory;
  uint64_t counter = 0;
  std::string bare_nonce(12, '\0');
  for (int r = 0; r < runs; ++r) {
    double row[kRows] = {};
    auto t = Clock::now();
    for (size_t i = 0; i < iterations; ++i) {
      ++counter;  // a counter nonce: never repeated within the run
      for (size_t b = 0; b < 8; ++b) bare_nonce[b] = static_cast<char>(counter >> (8 * b));
      std::string ct = bare.Seal(bare_nonce, "aad", secret);
      g_sink = g_sink + bare.Open(bare_nonce, "aad", ct)->size();
    }
    row[kBare] = NsSince(t, iterations);

    t = Clock::now();
    for (size_t i = 0; i < iterations; ++i) g_sink = g_sink + crypto::RandomBytes(72).size();
    row[kRandom] = NsSince(t, iterations);
    t = Clock::now();
    for (size_t i = 0; i < iterations; ++i) {
      g_sink = g_sink + crypto::AesGcm256SealOnce(key, nonce, "aad", secret).size();
    }
    row[kSealOnce] = NsSince(t, iterations);
    t = Clock::now();
    for (size_t i = 0; i < iterations; ++i) {
      g_sink = g_sink + crypto::AesGcm256OpenOnce(key, nonce, "aad", one_shot_ct)->size();
    }
    row[kOpenOnce] = NsSince(t, iterations);
    t = Clock::now();
    for (size_t i = 0; i < iterations; ++i) g_sink = g_sink + kek.Seal(nonce, wrap_aad, dek).size();
    row[kWrap] = NsSince(t, iterations);
    t = Clock::now();
    for (size_t i = 0; i < iterations; ++i) {
      g_sink = g_sink + kek.Open(nonce, wrap_aad, wrapped)->size();
    }
    row[kUnwrap] = NsSince(t, iterations);

    memory.Reset();
    std::tie(row[kSeal], row[kAppend]) = memory.Seal(iterations, secret);
    row[kOpen] = OpenAll(*memory.keyring, memory.sealed);
    row[kMemoryLookup] = LookupAll(*memory.log, memory.sealed);
    row[kEnvelope] = row[kSeal] + row[kOpen];
    row[kEnvelopeNoLookup] = row[kEnvelope] - row[kMemoryLookup];
    row[kRocksOpen] = OpenAll(*rocks_keyring, rocks_sealed);
    row[kRocksLookup] = LookupAll(*rocks_log, rocks_sealed);
    row[kRocksEnvelope] = row[kSeal] + row[kRocksOpen];

    for (int k = 0; k < kRows; ++k) {
      ns[static_cast<size_t>(k)].push_back(row[k]);
      ratio[static_cast<size_t>(k)].push_back(row[k] / row[kBare]);
    }
  }
  rocks_keyring.reset();
  if (!rocks_log->Close().ok()) Die("close rocksdb");
  rocks_log.reset();
  std::filesystem::remove_all(rocks_dir);

  std::printf(
      "secrets_bench: %zu iterations per measurement, %d interleaved rounds, 64-byte secrets;\n"
      "medians over rounds; 'vs (a)' is the median of per-round ratios\n\n",
      iterations, runs);
  std::printf("| path | ns/op | ops/s | vs (a) |\n|---|---:|---:|---:|\n");
  for (size_t k = 0; k < kRows; ++k) {
    const double m = Median(ns[k]);
    std::printf("| %s | %.0f | %.0f | %.2fx |\n", names[k], m, 1e9 / m, Median(ratio[k]));
  }
  std::printf("\nratio (b)/(a) = %.2f (without the DEK lookup %.2f); (b')/(a) = %.2f\n",
              Median(ratio[kEnvelope]), Median(ratio[kEnvelopeNoLookup]),
              Median(ratio[kRocksEnvelope]));
  return 0;
}
