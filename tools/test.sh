#!/usr/bin/env bash
# Sets everything up, builds with warnings as errors and AddressSanitizer + UBSan, and runs every
# test through ctest (unit, end-to-end and fault-injection suites); then builds the libFuzzer
# targets with clang and runs each for KEYLEDGER_FUZZ_SECONDS (60) from its corpus in the
# repository, and soaks the sanitizer build's server for KEYLEDGER_SOAK_SECONDS (60) under a
# mixed workload (tools/bench/soak.sh); then builds Release (jemalloc, -Werror) and soaks its server
# for KEYLEDGER_RELEASE_SOAK_SECONDS (20). Exits non-zero on any failure. CI (.ci/run) calls
# exactly this script. Arguments go to the first ctest (e.g. -R Crash).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh

# Formatting first: it takes a second and names the file.
find events projections src api tools tests \( -name '*.cpp' -o -name '*.hpp' \) -print0 |
  xargs -0 clang-format --dry-run --Werror

BUILD_DIR="${KEYLEDGER_TEST_BUILD_DIR:-build/test}"
JOBS="${KEYLEDGER_JOBS:-$(nproc)}"

cmake -S . -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKEYLEDGER_WERROR=ON \
  -DKEYLEDGER_SANITIZE="address;undefined"
cmake --build "$BUILD_DIR" -j "$JOBS"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$BUILD_DIR" -j "$JOBS" --output-on-failure --timeout 1200 "$@"

# Fuzzing: a crash, leak, sanitizer report or hang fails the run (tests/fuzz/run_fuzzer.sh).
FUZZ_DIR="${KEYLEDGER_FUZZ_BUILD_DIR:-build/fuzz}"
cmake -S . -B "$FUZZ_DIR" -G Ninja \
  -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKEYLEDGER_WERROR=ON \
  -DKEYLEDGER_SANITIZE="address;undefined" \
  -DKEYLEDGER_BUILD_TESTS=OFF \
  -DKEYLEDGER_FUZZ=ON
cmake --build "$FUZZ_DIR" -j "$JOBS" --target fuzzers
ctest --test-dir "$FUZZ_DIR" -j "$JOBS" --output-on-failure

# Soak: the mixed workload against the sanitizer build's keyledgerd, then verify and compare.
KEYLEDGER_BENCH_BUILD_DIR="$BUILD_DIR" KEYLEDGER_SOAK_PREBUILT=1 \
  tools/bench/soak.sh "${KEYLEDGER_SOAK_SECONDS:-60}"

# The Release build tools/run.sh ships (-O3, jemalloc, no sanitizers): every program builds with
# warnings as errors, and its keyledgerd passes a short soak (the same checks at the end).
RELEASE_DIR="${KEYLEDGER_RELEASE_CHECK_DIR:-build/release-check}"
cmake -S . -B "$RELEASE_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DKEYLEDGER_WERROR=ON \
  -DKEYLEDGER_BUILD_TESTS=OFF
cmake --build "$RELEASE_DIR" -j "$JOBS"
KEYLEDGER_BENCH_BUILD_DIR="$RELEASE_DIR" KEYLEDGER_SOAK_PREBUILT=1 \
  tools/bench/soak.sh "${KEYLEDGER_RELEASE_SOAK_SECONDS:-20}"
