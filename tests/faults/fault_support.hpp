#pragma once
// Helpers shared by the fault-injection tests (tests/faults): run-length knobs from the
// environment and the offline checks that close every fault scenario.
//
// KEYLEDGER_FAULT_ITERATIONS: kill -9 iterations (default 5, the CI run; tools/test.sh --long
// and README's "long mode" use 50). KEYLEDGER_FAULT_SEED: the random seed (default: a fresh one,
// printed, so that a failing run can be repeated).

#include <cstdint>
#include <string>

namespace keyledger::faults {

// The value of environment variable `name` as a positive integer, or `fallback`.
uint64_t EnvOr(const char* name, uint64_t fallback);

// The seed of this run (KEYLEDGER_FAULT_SEED or a random one); printed once to stdout.
uint64_t RunSeed();

}  // namespace keyledger::faults
