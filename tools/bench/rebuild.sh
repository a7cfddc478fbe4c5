#!/usr/bin/env bash
# Rebuild benchmark (not a test). Builds Release, generates a data directory of 1,000,000 events
# (the random registry workload, tools/bench/workload.hpp: 10,000 keys, mostly health reports)
# and measures, interleaved in one run on the same directory (LIMITS.md: quote ratios, absolute
# figures drift between runs):
#   scan        raw RocksDB iteration of the events column family
#   scan+parse  the same, decoding each record and a bare simdjson DOM parse of its payload
#   rebuild     keyledger-rebuild --dry-run (decode, hash-chain check, fold, final digest)
# and the resident memory of the folded state per key at 10,000 and 100,000 keys.
#
#   tools/bench/rebuild.sh [--events N] [--keys K] [--big-keys K2] [--rounds R]
# Environment: KEYLEDGER_BENCH_BUILD_DIR (build/bench), KEYLEDGER_BENCH_DATA (a directory kept
# between runs so that the data is generated once; default: a temporary one, removed),
# KEYLEDGER_JOBS (2).
set -euo pipefail
cd "$(dirname "$0")/../.."

EVENTS=1000000
KEYS=10000
BIG_KEYS=100000
ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS="$2"; shift 2 ;;
    --keys) KEYS="$2"; shift 2 ;;
    --big-keys) BIG_KEYS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "usage: $0 [--events N] [--keys K] [--big-keys K2] [--rounds R]" >&2; exit 2 ;;
  esac
done

BUILD_DIR="${KEYLEDGER_BENCH_BUILD_DIR:-build/bench}"
JOBS="${KEYLEDGER_JOBS:-2}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKEYLEDGER_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target rebuild_bench keyledger-rebuild >/dev/null
BENCH="$BUILD_DIR/tools/bench/rebuild_bench"
REBUILD="$BUILD_DIR/tools/keyledger-rebuild"

if [ -n "${KEYLEDGER_BENCH_DATA:-}" ]; then
  WORK="$KEYLEDGER_BENCH_DATA"
  mkdir -p "$WORK"
else
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/keyledger-rebuild-bench-XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
fi
MAIN="$WORK/events-$EVENTS-keys-$KEYS"
BIG="$WORK/keys-$BIG_KEYS"

# Numbers out of the one-line JSON the programs print.
field() { sed -n "s/.*\"$1\":\\([0-9.]*\\).*/\\1/p" <<<"$2" | head -n1; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

if [ ! -f "$MAIN/.complete" ]; then
  rm -rf "$MAIN"
  echo "generating $EVENTS events over $KEYS keys in $MAIN ..." >&2
  "$BENCH" generate --data-dir "$MAIN" --events "$EVENTS" --keys "$KEYS" --items-per-report 100 >&2
  touch "$MAIN/.complete"
fi
if [ ! -f "$BIG/.complete" ]; then
  rm -rf "$BIG"
  echo "generating $BIG_KEYS keys (a few events each) in $BIG ..." >&2
  "$BENCH" generate --data-dir "$BIG" --events $((BIG_KEYS * 2)) --keys "$BIG_KEYS" \
    --items-per-report 100 >&2
  touch "$BIG/.complete"
fi

scan=() parse=() rebuild=()
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS ..." >&2
  out=$("$BENCH" scan --data-dir "$MAIN");        scan+=("$(field events_per_second "$out")")
  n=$(field events "$out")
  out=$("$BENCH" scan-parse --data-dir "$MAIN");  parse+=("$(field events_per_second "$out")")
  out=$("$REBUILD" --data-dir "$MAIN" --dry-run --progress none --format json)
  rebuild+=("$(field events_per_second "$out")")
done
m_scan=$(printf '%s\n' "${scan[@]}" | median)
m_parse=$(printf '%s\n' "${parse[@]}" | median)
m_rebuild=$(printf '%s\n' "${rebuild[@]}" | median)
mem_small=$("$BENCH" memory --data-dir "$MAIN")
mem_big=$("$BENCH" memory --data-dir "$BIG")

echo
echo "rebuild benchmark: $n events, $KEYS keys; medians of $ROUNDS interleaved rounds"
printf '%-34s %14s %10s\n' "measurement" "events/s" "vs scan"
awk -v s="$m_scan" -v p="$m_parse" -v r="$m_rebuild" 'BEGIN {
  printf "%-34s %14.0f %10s\n", "raw RocksDB scan (events CF)", s, "1.00"
  printf "%-34s %14.0f %10.2f\n", "scan + decode + simdjson parse", p, p / s
  printf "%-34s %14.0f %10.2f\n", "keyledger-rebuild --dry-run", r, r / s
  printf "%-34s %14s %10.2f\n", "rebuild vs scan+parse", "", r / p
}'
echo
printf '%-34s %10s %10s %14s %16s\n' "state in memory" "keys" "events" "RSS bytes/key" "snapshot B/key"
for m in "$mem_small" "$mem_big"; do
  printf '%-34s %10s %10s %14s %16s\n' "after a full replay" "$(field keys "$m")" \
    "$(field events "$m")" "$(field bytes_per_key "$m")" "$(field snapshot_bytes_per_key "$m")"
done
