#!/usr/bin/env bash
# Installs every Debian package keyledger needs to build, test, run and benchmark.
# Idempotent: when everything is already installed it only checks and exits.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  clang clang-format libclang-rt-14-dev
  libboost-dev libboost-system-dev libboost-program-options-dev
  librocksdb-dev libsimdjson-dev libcrypto++-dev libssl-dev libjemalloc-dev
  libgtest-dev libgmock-dev
  procps util-linux
)
# Only the benchmark/report scripts need these; installed on request (KEYLEDGER_BENCH_DEPS=1).
BENCH_PACKAGES=(gnuplot-nox postgresql jq wrk)

wanted=("${PACKAGES[@]}")
if [[ "${KEYLEDGER_BENCH_DEPS:-0}" == "1" ]]; then
  wanted+=("${BENCH_PACKAGES[@]}")
fi

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  SUDO="sudo"
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
