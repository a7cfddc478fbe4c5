#!/usr/bin/env bash
# Measures bytes on disk per event of each type and per health-telemetry entry (README "Log
# growth"): appends N events of each type to a fresh RocksDB log, flushes and fully compacts it,
# and divides the growth of the table files (record + stream-index entry) by N.
# Usage: tools/bench/event_sizes.sh [N]   (default 20000)
#   KEYLEDGER_BENCH_BUILD_DIR (default build/release); KEYLEDGER_SOAK_PREBUILT=1 skips the build.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR="${KEYLEDGER_BENCH_BUILD_DIR:-build/release}"
if [[ "${KEYLEDGER_SOAK_PREBUILT:-0}" != 1 ]]; then
  tools/setup.sh
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target event_sizes >/dev/null
fi
DIR=$(mktemp -d "${TMPDIR:-/tmp}/keyledger-event-sizes-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
"$BUILD_DIR/tools/bench/event_sizes" "$DIR" "${1:-20000}"
