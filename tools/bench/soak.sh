#!/usr/bin/env bash
# Soak test: one keyledgerd on a fresh data directory under a mixed workload for DURATION
# (updates, creates and deletes, key lists, grouped views, reveals, health reports, audit
# queries, and SSE subscribers on /api/admin/audit/stream), then the checks:
#   - every answer was a 2xx and the subscribers received events (tools/bench/http_load soak);
#   - the live state's digest equals a rebuild from the log (keyledger-rebuild --compare-url);
#   - the server stops cleanly on SIGTERM (exit 0; under ASan also: no leak);
#   - the hash chain verifies and the snapshots match the log (keyledger-audit verify,
#     keyledger-rebuild).
#   - memory: after a warm-up (KEYLEDGER_SOAK_WARMUP_SECONDS, 300), the resident set's slope
#     (least squares over the interval samples, KiB per minute) over the rest of the run and over
#     its second half; the run fails when both stay above KEYLEDGER_SOAK_MAX_SLOPE_KIB_MIN (see
#     below). Checked only when at least KEYLEDGER_SOAK_SLOPE_MIN_SECONDS (600) follow the
#     warm-up, so short runs (CI's 60 s) only print what they saw.
# Every --interval seconds it prints the throughput, p50/p99 latency, the server's RSS, open file
# descriptors and its memory as /metrics breaks it down ("mem", KiB: the budgeted components,
# memtables and table readers per column family, the allocator). At the end: the memory slope,
# the resident set against the memory budget of the ready line, and the log's size on disk per
# event and per hour at this write rate. Exit status 0 only when every check passed.
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

BUDGET_MB=$(sed -n 's/.*"msg":"keyledgerd ready".*"memory_budget_mb":"\{0,1\}\([0-9]*\).*/\1/p' \
  "$WORK/server.log" | head -n1)
# The memory slope check. The threshold comes from what the one-hour soak must show: a resident
# set that ends within 10% of its value after the warm-up. At the default budget that value is
# 100-150 MiB (README "Memory budget"); 10% of it over the 55 minutes after the warm-up is
# 190-280 KiB/min, hence 256. What 8-minute runs measured (2 vCPUs shared with compilers, so
# request rates vary): before the budget 3,770 KiB/min at 1,140 req/s; with the budget but
# before the stream-version and keyring fixes 4,820 KiB/min at 3,100 req/s; with the version
# bound 2,042 (second half 1,213) at 1,150 req/s, of which jemalloc's heap profile put ~1,700
# on the keyring's seals of deleted keys (fixed since). A leak of 100 bytes per request is
# ~27 MiB/min at the 4,700 req/s of the reference run, a hundred times the threshold; the
# memtables' fill-and-flush cycle (up to --write-buffer-mb) is the noise that a slope over
# 10+ minutes and over both windows averages out.
WARMUP=${KEYLEDGER_SOAK_WARMUP_SECONDS:-300}
MAX_SLOPE=${KEYLEDGER_SOAK_MAX_SLOPE_KIB_MIN:-256}
SLOPE_MIN_SECONDS=${KEYLEDGER_SOAK_SLOPE_MIN_SECONDS:-600}

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
SEQUENCE=$(kl_field sequence "$(tail -n1 "$WORK/verify.out")")
echo "soak: $(kl_field ops "$end") requests, p99 $(kl_field p99_us "$end") us," \
  "RSS $(kl_field rss_kib_first "$end") -> $(kl_field rss_kib_last "$end") KiB," \
  "fds $(kl_field fds_first "$end") -> $(kl_field fds_last "$end")," \
  "chain verified to ${SEQUENCE:-?}, digests equal"

# Memory: least-squares slopes of RSS (KiB/min) over the samples after the warm-up, and over the
# second half of those; the RSS after the warm-up, at the end and at most, against the budget.
# Prints: slope_all slope_half first_after_warmup last max span_seconds samples
read -r SLOPE SLOPE_HALF RSS_WARM RSS_LAST RSS_MAX SPAN SAMPLES < <(
  sed -n 's/^{"t":\([0-9.]*\),.*"rss_kib":\([0-9]*\),.*/\1 \2/p' "$WORK/soak.jsonl" |
    awk -v warm="$WARMUP" '
      function slope(from, to,   i, n, sx, sy, sxx, sxy, d) {
        n = 0; sx = sy = sxx = sxy = 0
        for (i = from; i <= to; i++) { n++; sx += t[i]; sy += r[i]; sxx += t[i] * t[i]; sxy += t[i] * r[i] }
        d = n * sxx - sx * sx
        return (n < 3 || d == 0) ? "nan" : sprintf("%.0f", 60 * (n * sxy - sx * sy) / d)
      }
      { if ($1 >= warm) { k++; t[k] = $1; r[k] = $2; if ($2 > max) max = $2 } }
      END {
        if (k < 3) { print "nan nan 0 0 0 0 " k + 0; exit }
        print slope(1, k), slope(int(k / 2) + 1, k), r[1], r[k], max, t[k] - t[1], k
      }')
LAST_MEM=$(sed -n 's/.*"mem":\({.*}\)}$/\1/p' "$WORK/soak.jsonl" | tail -n1)
if [ "$SAMPLES" -ge 3 ]; then
  echo "soak: memory: RSS ${RSS_WARM} KiB after the ${WARMUP} s warm-up, ${RSS_LAST} KiB at the" \
    "end, ${RSS_MAX} KiB at most; slope ${SLOPE} KiB/min (second half ${SLOPE_HALF}) over" \
    "${SPAN} s; memory budget ${BUDGET_MB:-?} MiB (ready line)"
else
  echo "soak: memory: the run ended within the ${WARMUP} s warm-up (no slope); memory budget" \
    "${BUDGET_MB:-?} MiB (ready line)"
fi
echo "soak: memory at the end (KiB): $LAST_MEM"
if [ "$SPAN" -ge "$SLOPE_MIN_SECONDS" ] 2>/dev/null && [ "$SLOPE" != nan ]; then
  if [ "$SLOPE" -gt "$MAX_SLOPE" ] && [ "$SLOPE_HALF" -gt "$MAX_SLOPE" ]; then
    fail "the resident set kept growing after the warm-up: $SLOPE KiB/min (second half" \
      "$SLOPE_HALF) > $MAX_SLOPE KiB/min"
  fi
else
  echo "soak: memory slope not checked: ${SPAN:-0} s after the warm-up, fewer than" \
    "$SLOPE_MIN_SECONDS s"
fi

# The log on disk: the data directory (events, stream index, snapshots, WAL) per event appended
# and per hour at this run's write rate. (The retention rule that bounds it is not this script's.)
DISK_BYTES=$(du -sb "$DATA" | cut -f1)
if [ -n "${SEQUENCE:-}" ] && [ "$SEQUENCE" -gt 0 ]; then
  awk -v b="$DISK_BYTES" -v n="$SEQUENCE" -v s="$SECONDS_TOTAL" 'BEGIN {
    printf "soak: log: %.2f GB on disk for %d events: %.0f bytes per event, %.2f GB per hour," \
      " %.0f events per hour at this rate\n", b / 1e9, n, b / n, b / s * 3600 / 1e9, n / s * 3600
  }'
fi
if [ "$failed" != 0 ]; then exit 1; fi
echo "soak: passed"
