#!/usr/bin/env bash
# keyledger on etcd (issue 15), in one run on this machine, every figure next to a baseline of
# the same run (LIMITS.md: absolute numbers drift on shared machines):
#
#   durable writes   PUT /api/admin/endpoints/keys/{id} over HTTP at 64 connections (each its own
#                    key, as report.sh's write case), through one keyledgerd node on etcd (alone,
#                    and while a second node follows), and through two nodes (load split across
#                    both), vs raw etcd puts: one POST /v3/kv/put per request on etcd's JSON
#                    gateway from http_load at the same concurrency against the same cluster and
#                    the same member keyledgerd talks to, each connection its own key, the value
#                    as large as one keyledger record (measured here). The raw case runs before
#                    and after the keyledger cases; the ratio is against their mean.
#   etcd alone       raw /v3/kv/txn carrying 32 writes laid out as keyledger's group commit does
#                    (3 keys a write, or 1) with its head compare, 1 and 4 in flight: what one
#                    transaction per group can reach on this cluster, without keyledgerd
#   reads            the grouped view and a provider's key list on each node of the etcd
#                    deployment vs the same reads on a single keyledgerd on RocksDB with the
#                    same keys, at 1 and 64 connections
#   replication lag  from a write's 200 on node A until node B serves it (http_load lag): with
#                    X-Keyledger-Min-Seq (idle, and while 64 connections write through A) and by
#                    polling B's key list until the new value shows (idle)
#   where the time goes: CPU of the load generator, the keyledgerd nodes, each etcd member and
#                    everything else on the machine per case (they share its cores), run-queue
#                    waits, keyledgerd's group sizes and append times (/metrics), etcd's gRPC
#                    calls and WAL fsyncs; throughput per server core-second next to each ratio.
#
#   tools/bench/etcd.sh [--seconds S] [--quick] [--results FILE]
# --seconds: measured seconds per case (default 10, plus 2 of warm-up); --quick: 3 s per case and
# 200 keys, to check the script; --results: also append every result, one JSON object a line, to
# FILE (report.sh's format: group, name, baseline and the figures).
# Environment: KEYLEDGER_BENCH_BUILD_DIR (build/release), KEYLEDGER_JOBS,
# KEYLEDGER_BENCH_ETCD_MAX_TXN_OPS (128, etcd's default: the members' --max-txn-ops and
# keyledgerd's --etcd-max-txn-ops together).
# Starts its own three etcd members (random free ports), keyledgerd nodes and a RocksDB node, all
# on 127.0.0.1 in a temporary directory, and stops each by its PID at exit. Not a test.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/lib.sh

SECS=10
MAX_TXN_OPS="${KEYLEDGER_BENCH_ETCD_MAX_TXN_OPS:-128}"
WARMUP=2
READ_KEYS=1000
READ_CONNS="1 64"
WRITE_CONNS=64
RESULTS_OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS="$2"; shift 2 ;;
    --quick) SECS=3; WARMUP=1; READ_KEYS=200; shift ;;
    --results) RESULTS_OUT="$2"; shift 2 ;;
    *) echo "usage: $0 [--seconds S] [--quick] [--results FILE]" >&2; exit 2 ;;
  esac
done

BUILD_DIR="${KEYLEDGER_BENCH_BUILD_DIR:-build/release}"
KEYLEDGER_BENCH_DEPS=1 tools/setup.sh
command -v etcd >/dev/null || { echo "etcd is not installed (tools/setup.sh)" >&2; exit 1; }
echo "etcd: building Release in $BUILD_DIR ..." >&2
kl_build "$BUILD_DIR" Release keyledgerd http_load
KEYLEDGERD=$(kl_bin "$BUILD_DIR" keyledgerd)
LOAD=$(kl_bin "$BUILD_DIR" http_load)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keyledger-etcd-bench-XXXXXX")
trap 'kl_cleanup; rm -rf "$WORK"' EXIT
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
# record GROUP NAME BASELINE(true|false) JSON: one result line (as report.sh's).
record() {
  jq -c --arg g "$1" --arg n "$2" --argjson b "$3" '{group: $g, name: $n, baseline: $b} + .' \
    <<<"$4" >>"$RESULTS"
}
say() { echo "etcd: $*" >&2; }
# stopped PID: take a process that was stopped and waited for off the cleanup list (its PID may
# be reused by then).
stopped() {
  local keep=() p
  for p in "${KL_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  KL_PIDS=("${keep[@]}")
}

# ---- three etcd members on six free loopback ports ----------------------------------------------
# Another process may take a port between the check and etcd's bind (other benchmarks and tests
# share this machine): a member that exits while the cluster forms means new ports, up to 5 times.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ETCD_PIDS=()
start_etcd() {  # BASE: members m0..m2 on BASE..BASE+2 (clients) and BASE+3..BASE+5 (peers)
  local base=$1 i url initial="" port ok
  ETCD_PORTS=("$base" "$((base + 1))" "$((base + 2))")
  ETCD_PIDS=()
  ENDPOINTS=""
  rm -rf "$WORK"/etcd?
  for i in 0 1 2; do initial+="${initial:+,}m$i=http://127.0.0.1:$((base + 3 + i))"; done
  for i in 0 1 2; do
    url="http://127.0.0.1:${ETCD_PORTS[$i]}"
    ENDPOINTS+="${ENDPOINTS:+,}$url"
    etcd --name "m$i" --data-dir "$WORK/etcd$i" --listen-client-urls "$url" \
      --advertise-client-urls "$url" --listen-peer-urls "http://127.0.0.1:$((base + 3 + i))" \
      --initial-advertise-peer-urls "http://127.0.0.1:$((base + 3 + i))" \
      --initial-cluster "$initial" --initial-cluster-state new \
      --initial-cluster-token "keyledger-bench-$$-$base" --logger zap --log-level warn \
      --max-txn-ops "$MAX_TXN_OPS" \
      >"$WORK/etcd$i.log" 2>&1 &
    ETCD_PIDS+=("$!")
    KL_PIDS+=("$!")
  done
  for port in "${ETCD_PORTS[@]}"; do
    ok=0
    for _ in $(seq 1 600); do
      for i in 0 1 2; do kill -0 "${ETCD_PIDS[$i]}" 2>/dev/null || return 1; done
      # A linearizable read answers once there is a leader and a quorum.
      if curl -sf -m 2 -XPOST "http://127.0.0.1:$port/v3/kv/range" -d '{"key":"AA=="}' \
        >/dev/null 2>&1; then
        ok=1
        break
      fi
      sleep 0.1
    done
    [ "$ok" = 1 ] || return 1
  done
}
started=0
for attempt in 1 2 3 4 5; do
  base=""
  for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 40000))
    ok=1
    for ((p = candidate; p < candidate + 6; p++)); do port_free "$p" || { ok=0; break; }; done
    if [ "$ok" = 1 ]; then base=$candidate; break; fi
  done
  [ -n "$base" ] || continue
  if start_etcd "$base"; then
    started=1
    break
  fi
  say "etcd on ports $base..$((base + 5)) did not form (attempt $attempt): $(grep -h fatal \
    "$WORK"/etcd?.log | head -n1 | cut -c1-200)"
  for p in "${ETCD_PIDS[@]}"; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    stopped "$p"
  done
done
[ "$started" = 1 ] || { echo "etcd: the cluster did not form" >&2; exit 1; }

# keyledgerd talks to the first endpoint until it fails; so does the raw baseline.
ETCD0="http://127.0.0.1:${ETCD_PORTS[0]}"
etcd_leader_index() {
  local i s
  for i in 0 1 2; do
    s=$(curl -sf -m 2 -XPOST "http://127.0.0.1:${ETCD_PORTS[$i]}/v3/maintenance/status" -d '{}')
    if [ "$(jq -r '.header.member_id == .leader' <<<"$s")" = true ]; then
      echo "$i"
      return 0
    fi
  done
  echo -1
}
LEADER=$(etcd_leader_index)
say "etcd members on $ENDPOINTS (leader: m$LEADER)"

# ---- keyledgerd: nodes A and B on etcd (one master key, one tokens file), R on RocksDB -----------
(
  umask 077
  head -c 32 /dev/urandom | base64 >"$WORK/master.key"
)
TOKEN=$("$KEYLEDGERD" token create --name bench --role admin --tokens-file "$WORK/tokens.json" \
  2>/dev/null)
PREFIX=/keyledger/bench
start_node() {  # NAME: starts node NAME on etcd; sets KL_PID, KL_PORT, KL_READY_SECONDS
  mkdir -p "$WORK/$1"
  # A restart's log must not show the previous run's ready line (and port) to kl_start_server.
  if [ -f "$WORK/$1.log" ]; then mv "$WORK/$1.log" "$WORK/$1.log.previous"; fi
  kl_start_server "$KEYLEDGERD" "$WORK/$1" "$WORK/$1.log" --store etcd \
    --etcd-endpoints "$ENDPOINTS" --etcd-prefix "$PREFIX" --master-key-file "$WORK/master.key" \
    --tokens-file "$WORK/tokens.json" --etcd-max-txn-ops "$MAX_TXN_OPS"
}
start_node a
A_PID=$KL_PID
A_PORT=$KL_PORT
start_node b
B_PID=$KL_PID
B_PORT=$KL_PORT
mkdir -p "$WORK/r"
R_TOKEN=$(kl_token "$KEYLEDGERD" "$WORK/r" bench)
kl_start_server "$KEYLEDGERD" "$WORK/r" "$WORK/r.log"
R_PID=$KL_PID
R_PORT=$KL_PORT

# CPU time (utime + stime) a process has used so far, in clock ticks (0 once it is gone).
cpu_ticks() { awk '{printf "%d\n", $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)
# Nanoseconds the threads of these processes have waited on a run queue for a CPU so far
# (/proc/PID/task/*/schedstat, second field).
runq_wait_ns() {
  local p
  for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null || true; done |
    awk '{ s += $2 } END { printf "%.0f\n", s }'
}
# The sum of a Prometheus series (every label set) in a /metrics text.
metric() { awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 }
  END { printf "%.6f\n", s }' <<<"$2"; }
kl_metrics() { curl -sf -m 5 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$1/metrics"; }
etcd_metrics() { curl -sf -m 5 "http://127.0.0.1:$1/metrics"; }

# counters NODE_PORTS: "name value" lines of what measure() compares: CPU ticks of the keyledgerd
# nodes, the etcd members, the RocksDB node and the whole machine (/proc/stat: busy = all but idle
# and iowait); the group-commit series of the nodes in NODE_PORTS (space separated) summed; and,
# summed over the three members, the gRPC calls by method (the JSON gateway forwards to them)
# and WAL fsyncs.
counters() {
  local p m i kl=0 etcd=0
  for p in "$A_PID" "$B_PID"; do kl=$((kl + $(cpu_ticks "$p"))); done
  for p in "${ETCD_PIDS[@]}"; do etcd=$((etcd + $(cpu_ticks "$p"))); done
  echo "cpu_keyledgerd $kl"
  echo "cpu_etcd $etcd"
  for i in 0 1 2; do echo "cpu_etcd_m$i $(cpu_ticks "${ETCD_PIDS[$i]}")"; done
  echo "runq_keyledgerd $(runq_wait_ns "$A_PID" "$B_PID")"
  echo "runq_etcd $(runq_wait_ns "${ETCD_PIDS[@]}")"
  echo "cpu_rocksdb_node $(cpu_ticks "$R_PID")"
  awk '$1 == "cpu" { printf "cpu_machine %.0f\n", $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
  for p in $1; do
    m=$(kl_metrics "$p")
    for n in keyledger_group_commit_requests_sum keyledger_group_commit_requests_count \
      keyledger_group_commit_write_seconds_sum keyledger_registry_group_commands_sum \
      keyledger_registry_group_commands_count; do
      echo "$n $(metric "$n" "$m")"
    done
    # How many groups had at most 32 commands (a group of more than 42 writes of 3 keys passes
    # etcd's 128 operations and takes two transactions).
    echo "registry_groups_le_32 $(metric 'keyledger_registry_group_commands_bucket{le="32"}' "$m")"
  done
  for p in "${ETCD_PORTS[@]}"; do
    m=$(etcd_metrics "$p")
    for n in Txn Range Put; do
      echo "etcd_$n $(awk -v n="$n" '$1 ~ /^grpc_server_handled_total\{/ &&
        index($1, "grpc_method=\"" n "\"") { s += $2 } END { printf "%d", s }' <<<"$m")"
    done
    echo "etcd_wal_fsyncs $(metric etcd_disk_wal_fsync_duration_seconds_count "$m")"
  done
}

# measure OUT_JSON_FILE NODE_PORTS -- COMMAND...: runs COMMAND (the load generator) and writes
# its JSON output with what happened meanwhile (counters): "cpu", the cores used on average by
# the load generator, the keyledgerd nodes, the etcd members, the RocksDB node and everything
# else on the machine (other users of the shared cores); keyledgerd's group sizes and etcd
# transaction time; etcd's gRPC calls and WAL fsyncs. Counted over the whole run of COMMAND
# (its set-up and warm-up included), so per-write figures are upper bounds.
measure() {
  local out=$1 ports=$2
  shift 3
  counters "$ports" >"$out.before"
  local t0 t1 load_cpu
  t0=$(date +%s.%N)
  # A run with errors (non-2xx answers) still prints its figures and statuses: they are
  # recorded, not fatal. A run that printed nothing is. bash's time keyword: the CPU seconds
  # the load generator used (user + system).
  load_cpu=$({ TIMEFORMAT='%U %S'; time "$@" >"$out.raw" 2>"$out.err" || true; } 2>&1 |
    awk '{print $1 + $2}')
  t1=$(date +%s.%N)
  if [ ! -s "$out.raw" ]; then
    echo "etcd: $* printed nothing:" >&2
    cat "$out.err" >&2
    exit 1
  fi
  counters "$ports" >"$out.after"
  # {"name": after - before, ...}, every name summed over its lines.
  awk 'NR == FNR { b[$1] += $2; next } { a[$1] += $2 }
    END { printf "{"; sep = ""; for (k in a) { printf "%s\"%s\":%.6f", sep, k, a[k] - b[k]; sep = "," }
          print "}" }' "$out.before" "$out.after" >"$out.delta"
  jq -c --argjson wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
    --argjson hz "$HZ" --argjson load "$load_cpu" --slurpfile d "$out.delta" '
    def r2: . * 100 | round / 100;
    $d[0] as $d
    | (.ops_per_sec * $wall) as $writes_about
    | . + {cpu: {wall_seconds: ($wall | r2),
                 load_generator_cores: ($load / $wall | r2),
                 keyledgerd_cores: ($d.cpu_keyledgerd / $hz / $wall | r2),
                 etcd_cores: ($d.cpu_etcd / $hz / $wall | r2),
                 etcd_member_cores: [$d.cpu_etcd_m0, $d.cpu_etcd_m1, $d.cpu_etcd_m2
                   | . / $hz / $wall | r2],
                 rocksdb_node_cores: ($d.cpu_rocksdb_node / $hz / $wall | r2),
                 runqueue_wait_ms_per_s: {keyledgerd: ($d.runq_keyledgerd / 1e6 / $wall | r2),
                                          etcd: ($d.runq_etcd / 1e6 / $wall | r2)},
                 others_cores: (($d.cpu_machine / $hz - $load - ($d.cpu_keyledgerd
                   + $d.cpu_etcd + $d.cpu_rocksdb_node) / $hz) / $wall | r2)},
           etcd: {txn: $d.etcd_Txn, range: $d.etcd_Range, put: $d.etcd_Put,
                  wal_fsyncs_per_member: ($d.etcd_wal_fsyncs / 3 | round)}}
    + (if ($d.keyledger_group_commit_requests_count // 0) > 0 then
         {log_groups: $d.keyledger_group_commit_requests_count,
          mean_requests_per_log_group: ($d.keyledger_group_commit_requests_sum
            / $d.keyledger_group_commit_requests_count | r2),
          mean_log_group_write_us: ($d.keyledger_group_commit_write_seconds_sum
            / $d.keyledger_group_commit_requests_count * 1e6 | round)}
       else {} end)
    + (if ($d.keyledger_registry_group_commands_count // 0) > 0 then
         {registry_groups: $d.keyledger_registry_group_commands_count,
          mean_commands_per_registry_group: ($d.keyledger_registry_group_commands_sum
            / $d.keyledger_registry_group_commands_count | r2),
          registry_groups_over_32_share: (1 - $d.registry_groups_le_32
            / $d.keyledger_registry_group_commands_count | r2)}
       else {} end)' "$out.raw" >"$out"
}

# ---- reads: the same keys on the etcd deployment (through A) and on R -----------------------------
say "reads: $READ_KEYS keys over 10 providers on the etcd deployment and on the RocksDB node ..."
setup_a=$("$LOAD" setup --port "$A_PORT" --token "$TOKEN" --keys "$READ_KEYS" --providers 10)
setup_r=$("$LOAD" setup --port "$R_PORT" --token "$R_TOKEN" --keys "$READ_KEYS" --providers 10)
seq_a=$(curl -sf -D - -o /dev/null -H "Authorization: Bearer $TOKEN" \
  "http://127.0.0.1:$A_PORT/api/admin/providers/?limit=1" |
  sed -n 's/^[Xx]-[Kk]eyledger-[Ss]eq: *\([0-9]*\).*/\1/p')
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H "X-Keyledger-Min-Seq: $seq_a" \
  "http://127.0.0.1:$B_PORT/api/admin/providers/?limit=1"
for view in grouped list; do
  for c in $READ_CONNS; do
    for node in r a b; do
      case $node in
        r) port=$R_PORT token=$R_TOKEN setup=$setup_r label="keyledgerd on RocksDB (one node)" ;;
        a) port=$A_PORT token=$TOKEN setup=$setup_a label="keyledgerd on etcd, node A" ;;
        b) port=$B_PORT token=$TOKEN setup=$setup_a label="keyledgerd on etcd, node B" ;;
      esac
      if [ "$view" = grouped ]; then
        path=/api/admin/endpoints/keys/grouped-by-format
      else
        path=/api/admin/endpoints/providers/$(jq -r '.providers[0]' <<<"$setup")/keys
      fi
      say "reads: $view, $c connections, node $node ..."
      measure "$WORK/read-$view-$c-$node.json" "" -- "$LOAD" read --port "$port" \
        --token "$token" --path "$path" --connections "$c" --seconds "$SECS" --warmup "$WARMUP"
      record etcd-reads "$label" "$([ "$node" = r ] && echo true || echo false)" \
        "$(jq -c --argjson c "$c" --arg v "$view" --arg n "$node" \
          '{view: $v, node: $n, concurrency: $c} + .' "$WORK/read-$view-$c-$node.json")"
    done
  done
done

# ---- the size of one keyledger record in etcd (the raw baseline's value size) ---------------------
b64() { printf '%s' "$1" | base64 -w0; }
etcd_get() {  # KEY: the value's bytes, base64 (empty when absent)
  curl -sf -m 5 -XPOST "$ETCD0/v3/kv/range" -d "{\"key\":\"$(b64 "$1")\"}" |
    jq -r '.kvs[0].value // empty'
}
probe_key=$(curl -sf -H "Authorization: Bearer $TOKEN" \
  "http://127.0.0.1:$A_PORT/api/admin/endpoints/providers/$(jq -r '.providers[0]' \
    <<<"$setup_a")/keys" | jq -r '.[0].id')
curl -sf -o /dev/null -XPUT -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{"internal_priority":7}' "http://127.0.0.1:$A_PORT/api/admin/endpoints/keys/$probe_key"
head_seq=$(etcd_get "$PREFIX/head" | base64 -d | head -c 8 | od -An -tu8 --endian=big | tr -d ' ')
RECORD_BYTES=$(etcd_get "$PREFIX/e/$(printf '%016x' "$head_seq")" | base64 -d | wc -c)
record etcd-info "etcd leader at the start (member index; every client talks to m0)" false \
  "$(jq -nc --argjson l "$LEADER" '{leader_member: $l}')"
record etcd-info "one KeyUpdated record in etcd (P/e/<seq>), bytes" false \
  "$(jq -nc --argjson b "$RECORD_BYTES" --argjson s "$head_seq" '{bytes: $b, seq: $s}')"
say "one KeyUpdated record is $RECORD_BYTES bytes in etcd"

# ---- durable writes ----------------------------------------------------------------------------
# One body per connection: its own key (as long as keyledger's P/e/<seq>), a random value of one
# record's size.
for ((i = 0; i < WRITE_CONNS; i++)); do
  printf '{"key":"%s","value":"%s"}\n' "$(b64 "$(printf '/keyledger/raw/%016x' "$i")")" \
    "$(head -c "$RECORD_BYTES" /dev/urandom | base64 -w0)"
done >"$WORK/raw-bodies"
raw_etcd() {  # WHEN CONNECTIONS
  say "raw etcd puts ($1), $2 connections ..."
  measure "$WORK/raw-$1-$2.json" "" -- "$LOAD" post --port "${ETCD_PORTS[0]}" \
    --path /v3/kv/put --body-file "$WORK/raw-bodies" --connections "$2" --seconds "$SECS" \
    --warmup "$WARMUP"
  record etcd-writes "raw etcd put, one per request ($1)" true \
    "$(jq -c --argjson c "$2" '{concurrency: $c} + .' "$WORK/raw-$1-$2.json")"
}
kl_write() {  # NAME LABEL PORTS(comma separated) CONNECTIONS
  say "keyledgerd writes: $2, $4 connections ..."
  measure "$WORK/write-$1-$4.json" "${3//,/ }" -- "$LOAD" write --port "$3" --token "$TOKEN" \
    --connections "$4" --seconds "$SECS" --warmup "$WARMUP"
  record etcd-writes "$2" false \
    "$(jq -c --argjson c "$4" '{concurrency: $c} + .' "$WORK/write-$1-$4.json")"
}
raw_etcd before "$WRITE_CONNS"
kl_write one-followed "keyledgerd PUT through node A (node B following)" "$A_PORT" "$WRITE_CONNS"
kl_stop_server "$B_PID"
stopped "$B_PID"
kl_write one "keyledgerd PUT through node A alone" "$A_PORT" "$WRITE_CONNS"
# One connection: what one write costs in etcd round trips, against one put.
kl_write one "keyledgerd PUT through node A alone" "$A_PORT" 1
raw_etcd between 1
start_node b
B_PID=$KL_PID
B_PORT=$KL_PORT
record etcd-info "node B restart to ready (local snapshot + the tail from etcd), seconds" false \
  "$(jq -nc --argjson s "$KL_READY_SECONDS" --argjson h "${KL_HEAD:-0}" '{seconds: $s, head: $h}')"
kl_write two "keyledgerd PUT through nodes A and B (half the connections each)" \
  "$A_PORT,$B_PORT" "$WRITE_CONNS"
raw_etcd after "$WRITE_CONNS"

# ---- what etcd itself gives a group commit: raw transactions of a group's puts -------------------
# txn_body TAG WRITES KEYS: one /v3/kv/txn body carrying WRITES writes as keyledger lays them out
# (KEYS=3: the record, its stream-index entry and its stream's version; KEYS=1: the record only)
# plus the head, compared as keyledger compares it (the head is put back unchanged, so the
# compare holds every time; txn_head_put puts it first): the ceiling of one group commit per
# transaction on this cluster.
txn_head() { printf '/keyledger/rawtxn/%s/head' "$1"; }
txn_head_value() { printf '%048d' 0 | base64 -w0; }
txn_body() {
  local tag=$1 writes=$2 keys=$3 i ops="" value hex head
  value=$(head -c "$RECORD_BYTES" /dev/urandom | base64 -w0)
  hex=$(b64 0123456789abcdef)
  head=$(b64 "$(txn_head "$tag")")
  put() { ops+="${ops:+,}{\"request_put\":{\"key\":\"$(b64 "$1")\",\"value\":\"$2\"}}"; }
  for ((i = 0; i < writes; i++)); do
    put "$(printf '/keyledger/rawtxn/%s/e/%016x' "$tag" "$i")" "$value"
    if [ "$keys" = 3 ]; then
      put "$(printf '/keyledger/rawtxn/%s/s/stream-%d/%016x' "$tag" "$i" 1)" "$hex"
      put "$(printf '/keyledger/rawtxn/%s/v/stream-%d' "$tag" "$i")" "$hex"
    fi
  done
  put "$(txn_head "$tag")" "$(txn_head_value)"
  echo "{\"compare\":[{\"key\":\"$head\",\"target\":\"VALUE\",\"result\":\"EQUAL\",\"value\":\"$(txn_head_value)\"}],\"success\":[$ops],\"failure\":[{\"request_range\":{\"key\":\"$head\"}}]}"
}
TXN_WRITES=32
raw_txn() {  # WRITES KEYS CONNECTIONS
  local c name="txn-$1-$2-$3" succeeded
  for ((c = 0; c < $3; c++)); do
    curl -sf -m 5 -o /dev/null -XPOST "$ETCD0/v3/kv/put" \
      -d "{\"key\":\"$(b64 "$(txn_head "c$c")")\",\"value\":\"$(txn_head_value)\"}"
    txn_body "c$c" "$1" "$2"
  done >"$WORK/$name"
  succeeded=$(curl -sf -m 5 -XPOST "$ETCD0/v3/kv/txn" -d @<(head -n1 "$WORK/$name") |
    jq -r '.succeeded // false')
  [ "$succeeded" = true ] || { echo "etcd: the raw txn's compare failed" >&2; exit 1; }
  say "raw etcd txns of $1 writes x $2 keys, $3 connections ..."
  measure "$WORK/$name.json" "" -- "$LOAD" post --port "${ETCD_PORTS[0]}" \
    --path /v3/kv/txn --body-file "$WORK/$name" --connections "$3" --seconds "$SECS" \
    --warmup "$WARMUP"
  record etcd-txn "raw etcd txn of $1 writes x $2 keys + head" true \
    "$(jq -c --argjson c "$3" --argjson w "$1" --argjson k "$2" \
      '{concurrency: $c, writes_per_txn: $w, keys_per_write: $k,
        writes_per_sec: (.ops_per_sec * $w)} + .' "$WORK/$name.json")"
}
raw_txn 1 3 1
raw_txn "$TXN_WRITES" 3 1
raw_txn "$TXN_WRITES" 1 1
raw_txn "$TXN_WRITES" 3 4
raw_txn "$TXN_WRITES" 1 4

# ---- replication lag -----------------------------------------------------------------------------
for method in min-seq poll; do
  say "replication lag A -> B ($method, idle) ..."
  "$LOAD" lag --port "$A_PORT,$B_PORT" --token "$TOKEN" --seconds "$SECS" --method "$method" \
    >"$WORK/lag-$method.json"
  record etcd-lag "A -> B, $method, idle" false "$(cat "$WORK/lag-$method.json")"
done
say "replication lag A -> B (min-seq) while $WRITE_CONNS connections write through A ..."
"$LOAD" write --port "$A_PORT" --token "$TOKEN" --connections "$WRITE_CONNS" \
  --seconds "$((SECS + 2))" --warmup 0 >"$WORK/lag-load.json" &
load_pid=$!
KL_PIDS+=("$load_pid")
sleep 1
"$LOAD" lag --port "$A_PORT,$B_PORT" --token "$TOKEN" --seconds "$SECS" --method min-seq \
  >"$WORK/lag-loaded.json"
wait "$load_pid"
stopped "$load_pid"
record etcd-lag "A -> B, min-seq, $WRITE_CONNS connections writing through A" false \
  "$(jq -c --slurpfile w "$WORK/lag-loaded.json" \
    '$w[0] + {background_writes_per_sec: .ops_per_sec}' "$WORK/lag-load.json")"

for p in "$A_PID" "$B_PID" "$R_PID"; do
  kl_stop_server "$p"
  stopped "$p"
done

MACHINE=$(kl_machine)
jq -s --arg m "$MACHINE" --argjson s "$SECS" --argjson w "$WARMUP" \
  '{machine: $m, seconds_per_case: $s, warmup_seconds: $w, results: .}' "$RESULTS" \
  >"$WORK/etcd.json"
if [ -n "$RESULTS_OUT" ]; then cat "$RESULTS" >>"$RESULTS_OUT"; fi
jq -r -L tools/bench 'include "etcd"; etcd_section' "$WORK/etcd.json"
