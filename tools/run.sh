#!/usr/bin/env bash
# Sets everything up, builds Release and starts keyledgerd on the embedded RocksDB default
# (./data). Extra arguments go to keyledgerd (see `keyledgerd --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh

BUILD_DIR="${KEYLEDGER_RUN_BUILD_DIR:-build/release}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKEYLEDGER_BUILD_TESTS=OFF
cmake --build "$BUILD_DIR" -j "$(nproc)" --target keyledgerd

exec "$BUILD_DIR/src/keyledgerd" --data-dir "${KEYLEDGER_DATA_DIR:-./data}" "$@"
