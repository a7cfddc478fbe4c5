#!/usr/bin/env bash
# HTTP benchmark (issue 5) with wrk, in one run on this machine:
#   (a) tools/bench/static_server: a bare Boost.Beast server answering the exact bytes of (b)
#   (b) keyledgerd's grouped view (GET /api/admin/endpoints/keys/grouped-by-format), 1,000 keys
#   (c) keyledgerd's key list, a page of 100 (GET /api/admin/endpoints/providers/{id}/keys)
#   (d) durable PUT updates (PUT /api/admin/endpoints/keys/{id}) at 64 connections
#   (r) raw RocksDB Put(sync=true) from 16 threads (tools/bench/log_append), the baseline of (d)
#   (e) the same wrk PUT script against a bare Beast server answering the bytes of one PUT
#       response without doing anything: what HTTP alone costs on this machine, (d)'s ceiling
# and prints requests/s, p50/p99 latency and the ratios (b)/(a), (d)/(r), (e)/(r) and (d)/(e), and
# the CPU time per request of the server and of wrk in (a), (b), (d) and (e) (they share the
# machine's cores, so a CPU-bound case is limited by their sum).
# Not a test.
#
#   tools/bench/http.sh [SECONDS_PER_CASE]   (default 10)
# Environment: KEYLEDGER_BENCH_BUILD_DIR (build/release), KEYLEDGER_JOBS. 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/lib.sh
SECS="${1:-10}"
BUILD_DIR="${KEYLEDGER_BENCH_BUILD_DIR:-build/release}"
KEYLEDGER_BENCH_DEPS=1 tools/setup.sh
kl_build "$BUILD_DIR" Release keyledgerd http_load static_server log_append
KEYLEDGERD=$(kl_bin "$BUILD_DIR" keyledgerd)
LOAD=$(kl_bin "$BUILD_DIR" http_load)
STATIC=$(kl_bin "$BUILD_DIR" static_server)
LOG_APPEND=$(kl_bin "$BUILD_DIR" log_append)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/keyledger-http-bench-XXXXXX")
trap 'kl_cleanup; rm -rf "$WORK"' EXIT

# wrk's summary -> {"rps":..,"p50_us":..,"p99_us":..,"non2xx":..,"errors":..}
wrk_json() {
  awk '
    function us(v) {
      if (v ~ /us$/) return v + 0
      if (v ~ /ms$/) return v * 1000
      if (v ~ /s$/) return v * 1000000
      return v
    }
    $1 == "50%" { p50 = us($2) }
    $1 == "99%" { p99 = us($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { errors = 1 }
    END { printf "{\"rps\":%s,\"p50_us\":%.0f,\"p99_us\":%.0f,\"non2xx\":%d,\"socket_errors\":%d}\n",
                 rps + 0, p50, p99, non2xx + 0, errors + 0 }' "$1"
}
# CPU time (utime + stime) a process has used so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run_wrk() {  # NAME CONNECTIONS SERVER_PID URL [wrk args...]
  local name=$1 c=$2 pid=$3 url=$4 before after wrk_cpu
  shift 4
  before=$(cpu_ticks "$pid")
  # bash's time keyword: the CPU seconds wrk used (user + system).
  wrk_cpu=$({ TIMEFORMAT='%U %S'; time wrk -t 2 -c "$c" -d "${SECS}s" --latency "$@" "$url" \
    >"$WORK/$name.txt"; } 2>&1 | awk '{print $1 + $2}')
  after=$(cpu_ticks "$pid")
  wrk_json "$WORK/$name.txt" >"$WORK/$name.json"
  if [ "$(jq '.non2xx + .socket_errors' "$WORK/$name.json")" != 0 ]; then
    echo "http.sh: $name had errors:" >&2
    cat "$WORK/$name.txt" >&2
    exit 1
  fi
  # CPU microseconds per request of the server under test and of wrk itself (after the error
  # check: a failed run may have counted no requests).
  jq -n --argjson ticks "$((after - before))" --argjson hz "$(getconf CLK_TCK)" \
    --argjson wrk "$wrk_cpu" --argjson n "$(jq ".rps * $SECS" "$WORK/$name.json")" \
    '{server_us: ($ticks / $hz * 1e6 / $n | round), wrk_us: ($wrk * 1e6 / $n | round)}' \
    >"$WORK/$name.cpu.json"
}

echo "machine: $(kl_machine)"
"$LOG_APPEND" "$WORK/raw" "$SECS" --json | jq -c 'select(.case == "raw_rocksdb_put_sync" and .concurrency == 16)' >"$WORK/raw16.json"

data="$WORK/data"
mkdir -p "$data"
export KEYLEDGER_WRK_TOKEN
KEYLEDGER_WRK_TOKEN=$(kl_token "$KEYLEDGERD" "$data" bench)
kl_start_server "$KEYLEDGERD" "$data" "$WORK/server.log"
setup=$("$LOAD" setup --port "$KL_PORT" --token "$KEYLEDGER_WRK_TOKEN" --keys 1000 --providers 10)
provider=$(jq -r '.providers[0]' <<<"$setup")
base="http://127.0.0.1:$KL_PORT"
grouped=/api/admin/endpoints/keys/grouped-by-format
list=/api/admin/endpoints/providers/$provider/keys
curl -sf -H "Authorization: Bearer $KEYLEDGER_WRK_TOKEN" "$base$grouped" >"$WORK/grouped.json"
curl -sf -H "Authorization: Bearer $KEYLEDGER_WRK_TOKEN" "$base$list?limit=100" >"$WORK/list.json"
export KEYLEDGER_WRK_KEYS
KEYLEDGER_WRK_KEYS=$(jq -r '[.[].id] | .[0:64] | join(",")' "$WORK/list.json")

kl_start_static "$STATIC" "$WORK/grouped.json" "$WORK/static.out"
static_port=$KL_STATIC_PORT
static_pid=$KL_STATIC_PID
first_key=${KEYLEDGER_WRK_KEYS%%,*}
curl -sf -X PUT -H "Authorization: Bearer $KEYLEDGER_WRK_TOKEN" -H "Content-Type: application/json" \
  -d '{"internal_priority":1}' "$base/api/admin/endpoints/keys/$first_key" >"$WORK/put.json"
kl_start_static "$STATIC" "$WORK/put.json" "$WORK/static_put.out"
put_static_port=$KL_STATIC_PORT
put_static_pid=$KL_STATIC_PID

run_wrk a 64 "$static_pid" "http://127.0.0.1:$static_port/"
run_wrk b 64 "$KL_PID" "$base$grouped" -s tools/bench/wrk_get.lua
run_wrk c 64 "$KL_PID" "$base$list?limit=100" -s tools/bench/wrk_get.lua
run_wrk d 64 "$KL_PID" "$base" -s tools/bench/wrk_put.lua
run_wrk e 64 "$put_static_pid" "http://127.0.0.1:$put_static_port" -s tools/bench/wrk_put.lua
kl_stop_server "$KL_PID"

row() {  # LABEL JSON BASE_RPS
  jq -r --arg l "$1" --argjson b "${3:-0}" \
    '"| \($l) | \(.rps | round) | \(.p50_us) | \(.p99_us) | \(if $b > 0 then ((.rps / $b * 100 | round) / 100 | tostring) + "x" else "" end) |"' "$2"
}
raw_rps=$(jq .ops_per_sec "$WORK/raw16.json")
a_rps=$(jq .rps "$WORK/a.json")
echo
echo "| case (wrk -t2 -c64, ${SECS} s; raw: 16 threads) | req/s | p50 us | p99 us | ratio |"
echo "|---|---:|---:|---:|---:|"
echo "| (a) bare Beast, static body of $(wc -c <"$WORK/grouped.json") bytes | $(jq '.rps | round' "$WORK/a.json") | $(jq .p50_us "$WORK/a.json") | $(jq .p99_us "$WORK/a.json") | baseline |"
row "(b) grouped view, 1,000 keys (vs a)" "$WORK/b.json" "$a_rps"
row "(c) key list, page of 100 ($(wc -c <"$WORK/list.json") bytes)" "$WORK/c.json"
echo "| (r) raw RocksDB Put sync=true, 16 threads | $(jq '.ops_per_sec | round' "$WORK/raw16.json") | $(jq .p50_us "$WORK/raw16.json") | $(jq .p99_us "$WORK/raw16.json") | baseline |"
row "(d) PUT key over HTTP, 64 connections (vs r)" "$WORK/d.json" "$raw_rps"
row "(e) bare Beast answering the PUT script with one PUT response ($(wc -c <"$WORK/put.json") bytes; vs r)" "$WORK/e.json" "$raw_rps"
echo
echo "(d) / (e), keyledgerd's durable PUT against bare HTTP on this machine: $(jq -n --argjson d "$(jq .rps "$WORK/d.json")" --argjson e "$(jq .rps "$WORK/e.json")" '(($d / $e * 100) | round) / 100')x"
echo "CPU per request, server + wrk (us): (d) keyledgerd $(jq .server_us "$WORK/d.cpu.json") + $(jq .wrk_us "$WORK/d.cpu.json"), (e) bare Beast $(jq .server_us "$WORK/e.cpu.json") + $(jq .wrk_us "$WORK/e.cpu.json"); (b) keyledgerd $(jq .server_us "$WORK/b.cpu.json"), (a) bare Beast $(jq .server_us "$WORK/a.cpu.json")"
