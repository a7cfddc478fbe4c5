// secrets_bench: what envelope encryption costs per secret, against the bare cipher, measured in
// one run (absolute numbers drift between runs on shared machines; ratios hold; LIMITS.md).
//
//   (a) bare AES-256-GCM encrypt+decrypt of a 64-byte secret, key scheduled once (AesGcm256)
//   (b) the envelope path per key: Keyring::SealNew (fresh DEK, encrypt, wrap the DEK) + the
//       append request carrying the wrapped DEK + Keyring::Open (fetch and unwrap the DEK,
//       decrypt), with the DEK stored in a MemoryEventLog (storage not measured), and the same
//       Open with the DEK fetched from RocksDB.
//
// Usage: secrets_bench [--iterations N] [--runs R]   (defaults 100000 and 5; medians reported)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "events/crypto.hpp"
#include "events/memory_event_log.hpp"
#include "events/rocks_event_log.hpp"
#include "events/secrets.hpp"

namespace {

using keyledger::events::AppendRequest;
using keyledger::events::Keyring;
using keyledger::events::MasterKey;
using keyledger::events::SealedSecret;
namespace crypto = keyledger::crypto;

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

// Median over `runs` of the nanoseconds per operation of `body(iterations)`.
double MedianNsPerOp(int runs, size_t iterations, const std::function<void(size_t)>& body) {
  std::vector<double> samples;
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    body(iterations);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    samples.push_back(static_cast<double>(ns) / static_cast<double>(iterations));
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

std::string Secret64(size_t i) {
  std::string s = "sk-ant-api03-" + std::to_string(i) + "-";
  s.resize(64, 'x');
  return s;
}

struct Row {
  std::string what;
  double ns;
};

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

  const std::string secret = Secret64(0);
  std::vector<Row> rows;

  // (a) The bare cipher, key scheduled once; a counter nonce (never repeated within the run).
  {
    crypto::AesGcm256 gcm(crypto::RandomBytes(32));
    std::string nonce(12, '\0');
    uint64_t counter = 0;
    rows.push_back({"(a) bare AES-256-GCM seal+open, key set once",
                    MedianNsPerOp(runs, iterations, [&](size_t n) {
                      for (size_t i = 0; i < n; ++i) {
                        ++counter;
                        for (int b = 0; b < 8; ++b)
                          nonce[static_cast<size_t>(b)] = static_cast<char>(counter >> (8 * b));
                        std::string ct = gcm.Seal(nonce, "aad", secret);
                        auto pt = gcm.Open(nonce, "aad", ct);
                        g_sink = g_sink + pt->size();
                      }
                    })});
  }
  const double bare = rows.back().ns;

  // Components, to explain where the envelope's time goes.
  rows.push_back({"  getrandom 72 bytes (DEK, id, 2 nonces; one call)",
                  MedianNsPerOp(runs, iterations, [&](size_t n) {
                    for (size_t i = 0; i < n; ++i) g_sink = g_sink + crypto::RandomBytes(72).size();
                  })});
  {
    const std::string key = crypto::RandomBytes(32);
    const std::string nonce = crypto::RandomBytes(12);
    const std::string ct = crypto::AesGcm256SealOnce(key, nonce, "aad", secret);
    rows.push_back({"  one-shot seal (key schedule + GCM tables + encrypt)",
                    MedianNsPerOp(runs, iterations, [&](size_t n) {
                      for (size_t i = 0; i < n; ++i) {
                        g_sink =
                            g_sink + crypto::AesGcm256SealOnce(key, nonce, "aad", secret).size();
                      }
                    })});
    rows.push_back({"  one-shot open (key schedule + GCM tables + decrypt)",
                    MedianNsPerOp(runs, iterations, [&](size_t n) {
                      for (size_t i = 0; i < n; ++i) {
                        g_sink = g_sink + crypto::AesGcm256OpenOnce(key, nonce, "aad", ct)->size();
                      }
                    })});
  }

  {
    crypto::AesGcm256 kek(crypto::RandomBytes(32));
    const std::string dek = crypto::RandomBytes(32);
    const std::string nonce = crypto::RandomBytes(12);
    const std::string aad(48, 'a');  // the size of a DEK entry's associated data
    const std::string wrapped = kek.Seal(nonce, aad, dek);
    rows.push_back({"  KEK wrap of a 32-byte DEK (KEK scheduled once)",
                    MedianNsPerOp(runs, iterations, [&](size_t n) {
                      for (size_t i = 0; i < n; ++i)
                        g_sink = g_sink + kek.Seal(nonce, aad, dek).size();
                    })});
    rows.push_back({"  KEK unwrap of a 32-byte DEK", MedianNsPerOp(runs, iterations, [&](size_t n) {
                      for (size_t i = 0; i < n; ++i)
                        g_sink = g_sink + kek.Open(nonce, aad, wrapped)->size();
                    })});
  }

  // (b) The envelope path over a MemoryEventLog, a fresh one per run so that it holds
  // `iterations` DEKs (the last run's log is kept for the Open measurement).
  std::unique_ptr<keyledger::events::MemoryEventLog> memory_log;
  std::unique_ptr<Keyring> keyring;
  // Seals are timed in chunks; between chunks (untimed) their DEKs are committed the way the
  // registry would, so the keyring's bookkeeping of uncommitted seals stays realistic.
  constexpr size_t kChunk = 1000;
  std::vector<SealedSecret> sealed;  // the last run's, all committed, opened below
  std::vector<double> seal_samples, append_samples;
  for (int r = 0; r < runs; ++r) {
    keyring.reset();
    memory_log = std::make_unique<keyledger::events::MemoryEventLog>();
    keyring = Check(Keyring::Open(*memory_log, MasterKey::Generate(), {}), "open keyring");
    sealed.clear();
    sealed.reserve(iterations);
    int64_t seal_total = 0, append_total = 0;
    for (size_t base = 0; base < iterations; base += kChunk) {
      const size_t end = std::min(iterations, base + kChunk);
      std::vector<AppendRequest> requests;
      requests.reserve(end - base);
      auto t0 = std::chrono::steady_clock::now();
      for (size_t i = base; i < end; ++i) {
        Keyring::Sealed s = Check(keyring->SealNew("key-" + std::to_string(i), 1, secret), "seal");
        AppendRequest req;
        req.streams.push_back(std::move(s.kek_guard));
        req.aux.push_back(std::move(s.dek_write));
        requests.push_back(std::move(req));
        sealed.push_back(std::move(s.secret));
      }
      auto t1 = std::chrono::steady_clock::now();
      for (AppendRequest& req : requests) Check(memory_log->Append(std::move(req)), "append");
      auto t2 = std::chrono::steady_clock::now();
      seal_total += std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
      append_total += std::chrono::duration_cast<std::chrono::nanoseconds>(t2 - t1).count();
    }
    seal_samples.push_back(static_cast<double>(seal_total) / static_cast<double>(iterations));
    append_samples.push_back(static_cast<double>(append_total) / static_cast<double>(iterations));
  }
  std::sort(seal_samples.begin(), seal_samples.end());
  std::sort(append_samples.begin(), append_samples.end());
  const double seal_ns = seal_samples[seal_samples.size() / 2];
  rows.push_back({"(b1) SealNew + append request built", seal_ns});
  rows.push_back({"  (not counted) MemoryEventLog append of the DEK + guard",
                  append_samples[append_samples.size() / 2]});

  const double open_ns = MedianNsPerOp(runs, iterations, [&](size_t n) {
    for (size_t i = 0; i < n; ++i) {
      auto plain = keyring->Open(sealed[i], "key-" + std::to_string(i), 1);
      if (!plain.ok()) Die("open: " + plain.error().message);
      g_sink = g_sink + plain->size();
    }
  });
  rows.push_back({"(b2) Keyring::Open: DEK from MemoryEventLog, unwrap, decrypt", open_ns});
  const double memory_get_ns = MedianNsPerOp(runs, iterations, [&](size_t n) {
    for (size_t i = 0; i < n; ++i) {
      auto v = memory_log->GetAux(keyledger::events::AuxSpace::kKeyring, "dek/" + sealed[i].dek_id);
      g_sink = g_sink + (*v)->size();
    }
  });
  rows.push_back({"  of which the DEK lookup in MemoryEventLog (GetAux)", memory_get_ns});
  const double envelope = seal_ns + open_ns;
  rows.push_back({"(b) envelope per key = (b1) + (b2)", envelope});
  rows.push_back({"(b) without the DEK lookup", envelope - memory_get_ns});

  // The same Open with the DEK fetched from RocksDB (warm: the block cache holds the keyring).
  double rocks_open_ns = 0;
  double rocks_get_ns = 0;
  {
    const std::string dir =
        (std::filesystem::temp_directory_path() / ("secrets-bench-" + std::to_string(::getpid())))
            .string();
    std::filesystem::remove_all(dir);
    {
      auto log = Check(keyledger::events::RocksEventLog::Open(dir, {}), "open rocksdb");
      auto rk = Check(Keyring::Open(*log, MasterKey::Generate(), {}), "open keyring");
      const size_t n = std::min<size_t>(iterations, 20'000);
      std::vector<Keyring::Sealed> seals;
      for (size_t i = 0; i < n; ++i) {
        seals.push_back(Check(rk->SealNew("key-" + std::to_string(i), 1, secret), "seal"));
      }
      for (size_t i = 0; i < n; i += 1000) {  // one synced append per 1000 DEKs
        AppendRequest req;
        req.streams.push_back(seals[i].kek_guard);
        for (size_t j = i; j < std::min(n, i + 1000); ++j) req.aux.push_back(seals[j].dek_write);
        Check(log->Append(std::move(req)), "append");
      }
      rocks_open_ns = MedianNsPerOp(runs, n, [&](size_t m) {
        for (size_t i = 0; i < m; ++i) {
          auto plain = rk->Open(seals[i].secret, "key-" + std::to_string(i), 1);
          if (!plain.ok()) Die("open: " + plain.error().message);
          g_sink = g_sink + plain->size();
        }
      });
      rocks_get_ns = MedianNsPerOp(runs, n, [&](size_t m) {
        for (size_t i = 0; i < m; ++i) {
          auto v = log->GetAux(keyledger::events::AuxSpace::kKeyring, seals[i].dek_write.key);
          g_sink = g_sink + (*v)->size();
        }
      });
      rk.reset();
      if (!log->Close().ok()) Die("close rocksdb");
    }
    std::filesystem::remove_all(dir);
  }
  rows.push_back({"(b2') Keyring::Open: DEK from RocksDB (warm), unwrap, decrypt", rocks_open_ns});
  rows.push_back({"  of which the DEK lookup in RocksDB (GetAux)", rocks_get_ns});
  rows.push_back(
      {"(b') envelope per key with RocksDB reads = (b1) + (b2')", seal_ns + rocks_open_ns});

  std::printf("secrets_bench: %zu iterations, median of %d runs, 64-byte secrets\n\n", iterations,
              runs);
  std::printf("| path | ns/op | ops/s | cost vs (a) |\n|---|---:|---:|---:|\n");
  for (const Row& r : rows) {
    std::printf("| %s | %.0f | %.0f | %.2fx |\n", r.what.c_str(), r.ns, 1e9 / r.ns, r.ns / bare);
  }
  std::printf("\nratio (b)/(a) = %.2f; without the DEK lookup %.2f; (b')/(a) = %.2f\n",
              envelope / bare, (envelope - memory_get_ns) / bare, (seal_ns + rocks_open_ns) / bare);
  return 0;
}
