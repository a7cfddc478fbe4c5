#!/usr/bin/env bash
# Builds Release and runs the event-log append benchmark (issue 2) on this machine's data disk.
# Usage: tools/bench/log_append.sh [SECONDS_PER_CASE]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/setup.sh
BUILD_DIR="${KEYLEDGER_BENCH_BUILD_DIR:-build/release}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKEYLEDGER_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target log_append >/dev/null
DIR="${KEYLEDGER_BENCH_DIR:-$PWD/build/bench-data}"
echo "machine: $(nproc) cores, $(uname -r), disk of $DIR: $(df -h "$(dirname "$DIR")" | tail -1 | awk '{print $1}')"
"$BUILD_DIR/tools/bench/log_append" "$DIR" "${1:-3}"
