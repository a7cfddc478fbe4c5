#!/usr/bin/env bash
# Soak test: one keyledgerd on a fresh data directory under a mixed workload for DURATION
# (updates, creates and deletes, key lists, grouped views, reveals, health reports, audit
# queries, and SSE subscribers on /api/admin/audit/stream), then the checks:
#   - every answer was a 2xx and the subscribers received events (tools/bench/http_load soak);
#   - the live state's digest equals a rebuild from the log (keyledger-rebuild --compare-url);
#   - the server stops cleanly on SIGTERM (exit 0; under ASan also: no leak);
#   - the hash chain verifies and the snapshots match the log (keyledger-audit verify,
#     keyledger-rebuild).
# Every --interval seconds it prints the throughput, p50/p99 latency, the server's RSS and open
# file descriptors. Exit status 0 only when every check passed.
#
#   tools/bench/soak.sh DURATION [--connections C] [--sse N] [--interval SECONDS]
# DURATION: 60, 90s, 10m, 2h. CI runs 60 s (tools/test.sh, against its sanitizer build).
# Environment: KEYLEDGER_BENCH_BUILD_DIR (build/release), KEYLEDGER_SOAK_PREBUILT=1 (use the
# binaries already in that directory: no setup, no build), KEYLEDGER_JOBS.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/lib.sh

usage() {
  echo "usage: $0 DURATION [--connections C] [--sse N] [--interval SECONDS]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
case "$1" in
  *h) SECONDS_TOTAL=$((${1%h} * 3600)) ;;
  *m) SECONDS_TOTAL=$((${1%m} * 60)) ;;
  *s) SECONDS_TOTAL=${1%s} ;;
  *) SECONDS_TOTAL=$1 ;;
esac
[[ "$SECONDS_TOTAL" =~ ^[0-9]+$ ]] && [ "$SECONDS_TOTAL" -gt 0 ] || usage
shift
CONNECTIONS=8
SSE=2
INTERVAL=10
while [ $# -gt 0 ]; do
  case "$1" in
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --sse) SSE="$2"; shift 2 ;;
    --interval) INTERVAL="$2"; shift 2 ;;
    *) usage ;;
  esac
done
if [ "$INTERVAL" -gt "$SECONDS_TOTAL" ]; then INTERVAL=$SECONDS_TOTAL; fi

BUILD_DIR="${KEYLEDGER_BENCH_BUILD_DIR:-build/release}"
if [ "${KEYLEDGER_SOAK_PREBUILT:-0}" != 1 ]; then
  tools/setup.sh
  kl_build "$BUILD_DIR" Release keyledgerd keyledger-audit keyledger-rebuild http_load
fi
KEYLEDGERD=$(kl_bin "$BUILD_DIR" keyledgerd)
AUDIT=$(kl_bin "$BUILD_DIR" keyledger-audit)
REBUILD=$(kl_bin "$BUILD_DIR" keyledger-rebuild)
LOAD=$(kl_bin "$BUILD_DIR" http_load)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keyledger-soak-XXXXXX")
trap 'kl_cleanup; rm -rf "$WORK"' EXIT
DATA="$WORK/data"
mkdir -p "$DATA"
TOKEN=$(kl_token "$KEYLEDGERD" "$DATA" soak)
kl_start_server "$KEYLEDGERD" "$DATA" "$WORK/server.log"
SERVER=$KL_PID
echo "soak: keyledgerd pid $SERVER on 127.0.0.1:$KL_PORT, ${SECONDS_TOTAL} s, $CONNECTIONS" \
  "connections, $SSE SSE subscribers; $(kl_machine)"

failed=0
fail() {
  echo "soak: FAILED: $*" >&2
  failed=1
}

"$LOAD" soak --port "$KL_PORT" --token "$TOKEN" --pid "$SERVER" --seconds "$SECONDS_TOTAL" \
  --connections "$CONNECTIONS" --sse "$SSE" --interval "$INTERVAL" | tee "$WORK/soak.jsonl" ||
  fail "unexpected answers under load (see the statuses above)"

if ! "$REBUILD" --data-dir "$DATA" --compare-url "http://127.0.0.1:$KL_PORT" --token "$TOKEN" \
  --progress none >"$WORK/compare.out" 2>&1; then
  cat "$WORK/compare.out" >&2
  fail "the live state differs from a rebuild of the log"
fi
kl_stop_server "$SERVER" || fail "keyledgerd did not stop cleanly (exit $?)"
if grep -q '"level":"error"' "$WORK/server.log"; then
  grep '"level":"error"' "$WORK/server.log" | head -n 5 >&2
  fail "the server logged errors"
fi
"$AUDIT" verify --data-dir "$DATA" --format json >"$WORK/verify.out" 2>&1 ||
  { cat "$WORK/verify.out" >&2; fail "the hash chain does not verify"; }
"$REBUILD" --data-dir "$DATA" --progress none >"$WORK/rebuild.out" 2>&1 ||
  { cat "$WORK/rebuild.out" >&2; fail "the snapshots do not match the log"; }

end=$(tail -n1 "$WORK/soak.jsonl")
echo "soak: $(kl_field ops "$end") requests, p99 $(kl_field p99_us "$end") us," \
  "RSS $(kl_field rss_kib_first "$end") -> $(kl_field rss_kib_last "$end") KiB," \
  "fds $(kl_field fds_first "$end") -> $(kl_field fds_last "$end")," \
  "chain verified to $(kl_field sequence "$(tail -n1 "$WORK/verify.out")"), digests equal"
if [ "$failed" != 0 ]; then exit 1; fi
echo "soak: passed"
