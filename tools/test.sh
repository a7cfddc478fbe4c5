#!/usr/bin/env bash
# Sets everything up, builds with warnings as errors and AddressSanitizer + UBSan, and runs every
# test through ctest (unit, end-to-end and fault-injection suites); builds the unit and end-to-end
# suites with ThreadSanitizer and runs them (KEYLEDGER_TSAN=0 skips that); then builds
# the libFuzzer targets with clang and runs each for KEYLEDGER_FUZZ_SECONDS (60) from its corpus
# in the repository, and soaks the sanitizer build's server for KEYLEDGER_SOAK_SECONDS (60) under a
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

# ThreadSanitizer (it cannot share a build with ASan): the unit and end-to-end suites again, in
# a build of only their targets (src/WRITER.md: which thread owns what). The fault-injection suite
# is left out (kill -9 and full-disk rounds add minutes and no thread the suites above lack).
# Every process, the keyledgerd children of the e2e tests included, writes its reports under
# $TSAN_DIR/reports; any report fails the stage. tests/tsan.supp holds the suppressions, each for
# a library we cannot instrument, never for our own code. On by default; KEYLEDGER_TSAN=0 skips
# it (a machine whose kernel TSan cannot run on, see the probe below).
tsan_stage() {
  local dir="${KEYLEDGER_TSAN_BUILD_DIR:-build/tsan}"
  cmake -S . -B "$dir" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DKEYLEDGER_WERROR=ON \
    -DKEYLEDGER_SANITIZE=thread
  cmake --build "$dir" -j "$JOBS" --target \
    events_tests projections_tests registry_tests api_tests keyledger_keys_tests \
    audit_tools_tests e2e_tests etcd_tests etcd_e2e_tests

  # gcc 12's TSan runtime cannot map its shadow memory when the kernel randomizes mmap with more
  # bits than it expects (vm.mmap_rnd_bits > 28 on recent kernels): "FATAL: ThreadSanitizer:
  # unexpected memory mapping". The documented workaround is running without address-space
  # randomization (setarch -R, inherited by every child process), which needs no privilege.
  local probe="$dir/tests/projections/projections_tests"
  local -a run=()
  if ! TSAN_OPTIONS="" "$probe" --gtest_list_tests >/dev/null 2>"$dir/probe.err"; then
    if setarch "$(uname -m)" -R env TSAN_OPTIONS="" "$probe" --gtest_list_tests \
      >/dev/null 2>>"$dir/probe.err"; then
      echo "test.sh: ThreadSanitizer needs address-space randomization off here; using setarch -R" >&2
      run=(setarch "$(uname -m)" -R)
    else
      echo "test.sh: ThreadSanitizer cannot run on this machine, even under setarch -R:" >&2
      cat "$dir/probe.err" >&2
      echo "(lower vm.mmap_rnd_bits to 28, or set KEYLEDGER_TSAN=0 to skip this stage)" >&2
      return 1
    fi
  fi

  local reports="$PWD/$dir/reports"
  rm -rf "$reports"
  mkdir -p "$reports"
  local status=0
  # Tests whose binary this stage does not build (fault_tests) appear as *_NOT_BUILT. Left to
  # the ASan stage, because each runs one thread over a large volume (nothing for TSan to find
  # that the concurrent tests miss) and takes minutes under TSan, or measures RSS, which under
  # TSan includes its shadow memory: the 10,000-command reference model, the 50,000-command
  # rebuild and the 200,000-event recovery (397 s and 387 s of the first full run), the
  # flipped-byte verify, and the two method-flood memory tests. Of the etcd suites (label etcd,
  # one ctest entry per binary), the log's and the nodes' (follower, telemetry watcher,
  # catch-up, several nodes) run here; the fault suite (kill -9 and SIGSTOP under load) and
  # cluster_sh_check stay with ASan: under TSan the fault suite's load takes over 10 minutes.
  local volume='^RegistryModelTest[.]|RebuildEqualsLiveAfter50kRandomCommands'
  volume+='|SnapshotPlusTailFullReplayAndLiveAgreeOn200kEvents|VerifyDetectsAFlippedByteInAnyRecord'
  volume+='|MethodFloodLeavesMemoryAndMetricsFlat|DistinctMethodNamesDoNotGrowTheMetrics'
  volume+='|^etcd_faults_e2e_tests$|^cluster_sh_check$'
  TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp log_path=$reports/tsan second_deadlock_stack=1" \
    "${run[@]}" ctest --test-dir "$dir" -j "$JOBS" --output-on-failure --timeout 1200 \
    -E "_NOT_BUILT\$|$volume" || status=$?
  if compgen -G "$reports/tsan.*" >/dev/null; then
    echo "test.sh: ThreadSanitizer reports:" >&2
    cat "$reports"/tsan.* >&2
    status=1
  fi
  return "$status"
}
if [[ "${KEYLEDGER_TSAN:-1}" != "0" ]]; then
  tsan_stage
fi

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
# warnings as errors, and its keyledgerd passes a short soak (the same checks at the end). The
# test suites are defined but not built here, except the memory-budget suite: only without a
# sanitizer does its resident-set check (millions of events on a handful of streams stay within
# the budget, README "Memory budget") measure our own memory.
RELEASE_DIR="${KEYLEDGER_RELEASE_CHECK_DIR:-build/release-check}"
cmake -S . -B "$RELEASE_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DKEYLEDGER_WERROR=ON \
  -DKEYLEDGER_BUILD_TESTS=ON \
  -DKEYLEDGER_TESTS_EXCLUDE_FROM_ALL=ON
cmake --build "$RELEASE_DIR" -j "$JOBS"
cmake --build "$RELEASE_DIR" -j "$JOBS" --target memory_budget_tests
"$RELEASE_DIR/tests/events/memory_budget_tests"
KEYLEDGER_BENCH_BUILD_DIR="$RELEASE_DIR" KEYLEDGER_SOAK_PREBUILT=1 \
  tools/bench/soak.sh "${KEYLEDGER_RELEASE_SOAK_SECONDS:-20}"
