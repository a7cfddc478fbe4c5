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
  nginx
  etcd-server
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

# nginx is here for tests/e2e/proxy_e2e_test.cpp, which runs its own nginx on 127.0.0.1 random
# ports from a temporary prefix. The package's service would hold port 80 with Debian's default
# site: stop it and keep it from starting at boot (unless this machine already used nginx).
if [[ " ${missing[*]} " == *" nginx "* ]]; then
  if [[ -d /run/systemd/system ]]; then
    $SUDO systemctl disable --now nginx.service >/dev/null 2>&1 || true
  elif [[ -s /run/nginx.pid ]]; then
    $SUDO /usr/sbin/nginx -s quit || true
  fi
fi

# etcd-server (3.4) is here for the etcd backend's tests (tests/support/etcd_cluster.hpp), which
# start their own three-member cluster on 127.0.0.1 random ports in a temporary directory. The
# package's service would run a member on 2379/2380 with /var/lib/etcd: stop it and keep it from
# starting at boot (unless this machine already had etcd).
if [[ " ${missing[*]} " == *" etcd-server "* ]]; then
  if [[ -d /run/systemd/system ]]; then
    $SUDO systemctl disable --now etcd.service >/dev/null 2>&1 || true
  fi
fi
