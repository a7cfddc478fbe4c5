#!/usr/bin/env bash
# Sets everything up, builds with warnings as errors and AddressSanitizer + UBSan, and runs every
# test through ctest. Exits non-zero on any failure. CI (.ci/run) calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh

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
