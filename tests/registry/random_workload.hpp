#pragma once
// A random mix of registry commands over a fixed set of providers, decided from the current
// state (so most commands succeed). Used by restart and crash tests.

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "src/registry.hpp"

namespace keyledger::registry::testing {

class RandomWorkload {
 public:
  explicit RandomWorkload(uint32_t seed) : rng_(seed) {}
  // Providers "w-0".."w-<n-1>" must exist before Next() is useful; this makes the commands.
  std::vector<std::unique_ptr<Command>> CreateProviders(int n);
  std::unique_ptr<Command> Next(const projections::State& state);

 private:
  std::mt19937 rng_;
  uint64_t counter_ = 0;
};

}  // namespace keyledger::registry::testing
