#!/usr/bin/env bash
# A/B read benchmark: two builds of keyledgerd (say, before and after a change) serve the same
# registry shape side by side, and the grouped view and a provider's key list are loaded in
# interleaved rounds (A then B, then B then A, ...), so drift on this shared machine falls on both
# alike. Prints, per view and connection count, the median requests/s and p99 of each build over
# the rounds and the ratio B/A with its spread (min..max of the per-round ratios). A single run of
# tools/bench/report.sh cannot tell a 10% change from noise; this can, given enough rounds.
# Not a test.
#
#   tools/bench/ab_reads.sh BUILD_DIR_A BUILD_DIR_B [--rounds N] [--seconds S] [--connections "1 16"]
# Each BUILD_DIR must hold a Release keyledgerd (build it with tools/bench/lib.sh's kl_build or
# cmake -DCMAKE_BUILD_TYPE=Release); http_load is taken from BUILD_DIR_B. Defaults: 5 rounds,
# 5 s per case (plus 1 s warm-up), connections "1 16 64", 1,000 keys over 10 providers.
# Every server listens on 127.0.0.1 only and is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/lib.sh

usage() {
  echo "usage: $0 BUILD_DIR_A BUILD_DIR_B [--rounds N] [--seconds S] [--connections LIST]" >&2
  exit 2
}
[ $# -ge 2 ] || usage
DIR_A=$1
DIR_B=$2
shift 2
ROUNDS=5
SECS=5
CONNS="1 16 64"
KEYS=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --seconds) SECS="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    *) usage ;;
  esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ && "$SECS" =~ ^[1-9][0-9]*$ ]] || usage

declare -A BIN
BIN[A]=$(kl_bin "$DIR_A" keyledgerd)
BIN[B]=$(kl_bin "$DIR_B" keyledgerd)
LOAD=$(kl_bin "$DIR_B" http_load)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/keyledger-ab-XXXXXX")
trap 'kl_cleanup; rm -rf "$WORK"' EXIT

declare -A PORT TOKEN PROVIDER
for side in A B; do
  mkdir -p "$WORK/$side"
  TOKEN[$side]=$(kl_token "${BIN[$side]}" "$WORK/$side" bench)
  kl_start_server "${BIN[$side]}" "$WORK/$side" "$WORK/$side.log"
  PORT[$side]=$KL_PORT
  setup=$("$LOAD" setup --port "$KL_PORT" --token "${TOKEN[$side]}" --keys "$KEYS" --providers 10)
  PROVIDER[$side]=$(jq -r '.providers[0]' <<<"$setup")
done

path_of() { # VIEW SIDE
  if [ "$1" = grouped ]; then
    echo /api/admin/endpoints/keys/grouped-by-format
  else
    echo "/api/admin/endpoints/providers/${PROVIDER[$2]}/keys"
  fi
}

# The two builds must answer the same shape: same body length for the grouped view (ids differ,
# their length does not).
for view in grouped list; do
  la=$(curl -sf -H "Authorization: Bearer ${TOKEN[A]}" \
    "http://127.0.0.1:${PORT[A]}$(path_of "$view" A)" | wc -c)
  lb=$(curl -sf -H "Authorization: Bearer ${TOKEN[B]}" \
    "http://127.0.0.1:${PORT[B]}$(path_of "$view" B)" | wc -c)
  echo "ab_reads: $view body A $la bytes, B $lb bytes" >&2
done

RESULTS="$WORK/results.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  if ((round % 2)); then order="A B"; else order="B A"; fi
  for view in grouped list; do
    for c in $CONNS; do
      for side in $order; do
        out=$("$LOAD" read --port "${PORT[$side]}" --token "${TOKEN[$side]}" \
          --path "$(path_of "$view" "$side")" --connections "$c" --seconds "$SECS" --warmup 1)
        jq -c --arg s "$side" --arg v "$view" --argjson c "$c" --argjson r "$round" \
          '{side: $s, view: $v, connections: $c, round: $r, ops: .ops_per_sec, p99: .p99_us,
            errors: .errors}' <<<"$out" >>"$RESULTS"
        echo "ab_reads: round $round $view c=$c $side: $(jq -r .ops_per_sec <<<"$out") req/s" >&2
      done
    done
  done
done

if jq -e 'select(.errors > 0)' "$RESULTS" >/dev/null; then
  echo "ab_reads: some requests failed" >&2
  exit 1
fi
{
  printf 'view\tconns\tA req/s\tB req/s\tB/A\tB/A min..max\tA p99 us\tB p99 us\n'
  jq -rs --argjson rounds "$ROUNDS" '
    def median: sort | if length % 2 == 1 then .[length / 2 | floor]
      else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    def r2: . * 100 | round / 100;
    group_by([.view, .connections])[] as $g
    | ($g | map(select(.side == "A"))) as $a | ($g | map(select(.side == "B"))) as $b
    | [range(0; $rounds) as $i | ($b[$i].ops / $a[$i].ops)] as $ratios
    | [$g[0].view, $g[0].connections, ($a | map(.ops) | median | floor),
       ($b | map(.ops) | median | floor), ($ratios | median | r2),
       "\($ratios | min | r2)..\($ratios | max | r2)", ($a | map(.p99) | median | floor),
       ($b | map(.p99) | median | floor)]
    | @tsv' "$RESULTS"
} | column -t -s $'\t'
echo "(medians over $ROUNDS interleaved rounds of $SECS s; B/A above 1 means B serves more)"
