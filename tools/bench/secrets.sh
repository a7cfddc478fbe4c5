#!/usr/bin/env bash
# Builds Release and runs secrets_bench: the bare AES-256-GCM cipher against the envelope path
# (fresh DEK, wrap, unwrap, decrypt) in one run, as ratios (LIMITS.md: absolute numbers drift).
# Extra arguments go to secrets_bench (--iterations N, --runs R).
set -euo pipefail
cd "$(dirname "$0")/../.."

BUILD_DIR="${KEYLEDGER_BENCH_BUILD_DIR:-build/bench}"
JOBS="${KEYLEDGER_JOBS:-2}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKEYLEDGER_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target secrets_bench

exec "$BUILD_DIR/tools/bench/secrets_bench" "$@"
