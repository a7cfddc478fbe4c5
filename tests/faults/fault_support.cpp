#include "tests/faults/fault_support.hpp"

#include <cstdio>
#include <cstdlib>
#include <random>

namespace keyledger::faults {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  return (end != nullptr && *end == '\0' && n > 0) ? n : fallback;
}

uint64_t RunSeed() {
  static const uint64_t seed = [] {
    const uint64_t s = EnvOr("KEYLEDGER_FAULT_SEED", std::random_device{}());
    std::printf("fault tests: KEYLEDGER_FAULT_SEED=%llu\n", static_cast<unsigned long long>(s));
    std::fflush(stdout);
    return s;
  }();
  return seed;
}

}  // namespace keyledger::faults
