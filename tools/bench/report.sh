#!/usr/bin/env bash
# The benchmark report (issue 7): one command that builds Release, generates its data, runs every
# benchmark in one run on this machine and writes bench/REPORT.md (tables), bench/report.json
# (every figure) and PNG charts drawn by gnuplot. Every figure stands next to a baseline measured
# in the same run, and the ratio (LIMITS.md: absolute numbers drift on shared machines):
#
#   durable writes   keyledgerd PUT /api/admin/endpoints/keys/{id} over HTTP at 1/16/64/256
#                    connections (each its own key: no conflicts), vs raw RocksDB Put(sync=true)
#                    at 1 and 16 threads (tools/bench/log_append), and vs PostgreSQL (Debian's,
#                    started here on 127.0.0.1 with synchronous_commit=on) doing what Aether's
#                    storage does for the same write: UPDATE provider_api_keys + INSERT INTO
#                    audit_logs in one transaction, driven by pgbench at the same concurrencies
#   reads            the grouped view and a provider's key list vs tools/bench/static_server,
#                    a bare Beast server answering the same bytes
#   rebuild, start   keyledger-rebuild (full replay, offline) and keyledgerd's time to ready
#                    (snapshot + tail after a crash, and full replay with the snapshots gone) vs
#                    a raw RocksDB scan + decode + simdjson parse of the same log
#   memory           resident bytes per key of the folded state at 10,000 and 100,000 keys
#   etcd             tools/bench/etcd.sh: durable writes through one and two keyledgerd nodes on a
#                    three-member etcd vs raw etcd puts at 64 connections, reads on each node vs a
#                    RocksDB node, replication lag between the nodes
#
#   tools/bench/report.sh [--seconds S] [--quick]
# --seconds: measured seconds per case (default 10, plus 2 of warm-up); --quick: a small run
# (3 s per case, 100,000 events, 20,000 keys) to check the script itself.
# Environment: KEYLEDGER_REPORT_DIR (bench), KEYLEDGER_BENCH_BUILD_DIR (build/release),
# KEYLEDGER_BENCH_DATA (keep generated logs there between runs), KEYLEDGER_JOBS.
# Every server listens on 127.0.0.1 only and is stopped at exit. Tests never run this.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/lib.sh

SECS=10
WARMUP=2
QUICK=0
EVENTS=1000000
KEYS=10000
BIG_KEYS=100000
READ_KEYS=1000
WRITE_CONNS="1 16 64 256"
READ_CONNS="1 16 64"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS="$2"; shift 2 ;;
    --quick) SECS=3; WARMUP=1; EVENTS=100000; BIG_KEYS=20000; READ_KEYS=200; QUICK=1; shift ;;
    *) echo "usage: $0 [--seconds S] [--quick]" >&2; exit 2 ;;
  esac
done

OUT="${KEYLEDGER_REPORT_DIR:-bench}"
BUILD_DIR="${KEYLEDGER_BENCH_BUILD_DIR:-build/release}"
KEYLEDGER_BENCH_DEPS=1 tools/setup.sh
echo "report: building Release in $BUILD_DIR ..." >&2
kl_build "$BUILD_DIR" Release keyledgerd keyledger-rebuild http_load static_server log_append \
  rebuild_bench
KEYLEDGERD=$(kl_bin "$BUILD_DIR" keyledgerd)
REBUILD=$(kl_bin "$BUILD_DIR" keyledger-rebuild)
LOAD=$(kl_bin "$BUILD_DIR" http_load)
STATIC=$(kl_bin "$BUILD_DIR" static_server)
LOG_APPEND=$(kl_bin "$BUILD_DIR" log_append)
RB=$(kl_bin "$BUILD_DIR" rebuild_bench)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keyledger-report-XXXXXX")
PGROOT=""
cleanup() {
  kl_cleanup
  if [ -n "$PGROOT" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PGROOT"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
# record GROUP NAME BASELINE(true|false) JSON: one result line (JSON is an object of figures).
record() {
  jq -c --arg g "$1" --arg n "$2" --argjson b "$3" '{group: $g, name: $n, baseline: $b} + .' \
    <<<"$4" >>"$RESULTS"
}
say() { echo "report: $*" >&2; }

# ---- durable writes ------------------------------------------------------------------------
say "raw RocksDB synced puts and event-log appends ($SECS s per case) ..."
"$LOG_APPEND" "$WORK/log_append" "$SECS" --json >"$WORK/log_append.jsonl"
while read -r line; do
  name=$(jq -r .case <<<"$line")
  if [ "$name" = raw_rocksdb_put_sync ]; then
    record writes "raw RocksDB Put, sync=true" true "$line"
  elif [ "$name" = event_log_append_async ]; then
    record writes "keyledger event log AppendAsync, one in flight per caller (no HTTP)" false "$line"
  else
    record writes "keyledger event log Append (no HTTP)" false "$line"
  fi
done <"$WORK/log_append.jsonl"

for c in $WRITE_CONNS; do
  say "keyledgerd HTTP writes, $c connections ..."
  data="$WORK/writes-$c"
  mkdir -p "$data"
  token=$(kl_token "$KEYLEDGERD" "$data" bench)
  kl_start_server "$KEYLEDGERD" "$data" "$WORK/writes-$c.log"
  out=$("$LOAD" write --port "$KL_PORT" --token "$token" --connections "$c" --seconds "$SECS" \
    --warmup "$WARMUP")
  kl_stop_server "$KL_PID"
  record writes "keyledgerd PUT key over HTTP" false \
    "$(jq -c --argjson c "$c" '{concurrency: $c} + .' <<<"$out")"
  rm -rf "$data"
done

# PostgreSQL as Aether uses it: one transaction per admin write, the row and its audit row.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
PGROOT=$(mktemp -d /tmp/keyledger-pg-XXXXXX)
chmod 755 "$PGROOT"
if [ "$(id -u)" = 0 ]; then chown postgres "$PGROOT"; fi
as_pg "$PGBIN/initdb" -D "$PGROOT/data" -A trust -U bench -E UTF8 >/dev/null
for attempt in 1 2 3 4 5; do
  PGPORT=$((20000 + RANDOM % 20000))
  if as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/server.log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGROOT -c synchronous_commit=on -c fsync=on \
     -c max_connections=300 -c shared_buffers=256MB" start >/dev/null; then
    break
  fi
  [ "$attempt" -lt 5 ] || { cat "$PGROOT/server.log" >&2; exit 1; }
done
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U bench)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench"
"${PSQL[@]}" -d bench <<'SQL'
-- The columns Aether's tables have (../shared/reference/aether-spec.md §4.3 and §9.1).
CREATE TABLE provider_api_keys (
  id varchar(36) PRIMARY KEY, provider_id varchar(36) NOT NULL,
  api_formats json NOT NULL DEFAULT '[]', api_key varchar(500) NOT NULL,
  name varchar(100) NOT NULL, note varchar(500), rate_multiplier float NOT NULL DEFAULT 1.0,
  rate_multipliers json, internal_priority int DEFAULT 50, global_priority int,
  rpm_limit int, allowed_models json, capabilities json, learned_rpm_limit int,
  concurrent_429_count int NOT NULL DEFAULT 0, rpm_429_count int NOT NULL DEFAULT 0,
  last_429_at timestamptz, last_429_type varchar(50), last_rpm_peak int,
  adjustment_history json, utilization_samples json, last_probe_increase_at timestamptz,
  health_by_format jsonb, cache_ttl_minutes int NOT NULL DEFAULT 5,
  max_probe_interval_minutes int NOT NULL DEFAULT 32, circuit_breaker_by_format jsonb,
  request_count int DEFAULT 0, success_count int DEFAULT 0, error_count int DEFAULT 0,
  total_response_time_ms int DEFAULT 0, last_used_at timestamptz, last_error_at timestamptz,
  last_error_msg text, is_active bool NOT NULL DEFAULT true, expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON provider_api_keys (provider_id);
CREATE INDEX ON provider_api_keys USING gin (health_by_format);
CREATE INDEX ON provider_api_keys USING gin (circuit_breaker_by_format);
CREATE TABLE audit_logs (
  id varchar(36) PRIMARY KEY, event_type varchar(50) NOT NULL, user_id varchar(36),
  api_key_id varchar(36), description text NOT NULL, ip_address varchar(45), user_agent text,
  request_id varchar(100), event_metadata json, status_code int, error_message text,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON audit_logs (created_at);
CREATE INDEX ON audit_logs (user_id);
INSERT INTO provider_api_keys (id, provider_id, api_formats, api_key, name, health_by_format,
                               circuit_breaker_by_format)
SELECT 'key-' || i, 'provider-' || (i % 10), '["CLAUDE"]',
       'gAAAAAB' || md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text), 'k' || i,
       '{"CLAUDE":{"health_score":1.0,"consecutive_failures":0}}', '{"CLAUDE":{"open":false}}'
FROM generate_series(0, 299) AS i;
VACUUM ANALYZE;
SQL
cat >"$WORK/pg_write.sql" <<'SQL'
\set n random(0, 999)
BEGIN;
UPDATE provider_api_keys SET internal_priority = :n, updated_at = now() WHERE id = 'key-' || :client_id;
INSERT INTO audit_logs (id, event_type, user_id, description, ip_address, user_agent, request_id, event_metadata)
VALUES (gen_random_uuid()::text, 'request_success', 'admin-1', 'PUT /api/admin/endpoints/keys/key-' || :client_id || ' via base', '127.0.0.1', 'pgbench', md5(random()::text), json_build_object('path', '/api/admin/endpoints/keys/key-' || :client_id, 'method', 'PUT', 'adapter', 'base', 'adapter_mode', 'admin', 'duration_ms', 3, 'request_body_bytes', 24, 'has_body', true, 'success', true, 'user_role', 'admin'));
COMMIT;
SQL
for c in $WRITE_CONNS; do
  say "PostgreSQL UPDATE + INSERT audit_logs via pgbench, $c clients ..."
  threads=$((c < 8 ? c : 8))
  rm -rf "$WORK/pgbench-$c"
  mkdir -p "$WORK/pgbench-$c"
  # Warm-up (not logged), then the measured run with a per-transaction latency log.
  "$PGBIN/pgbench" -n -h 127.0.0.1 -p "$PGPORT" -U bench -f "$WORK/pg_write.sql" -c "$c" \
    -j "$threads" -T "$WARMUP" bench >/dev/null 2>&1
  (cd "$WORK/pgbench-$c" && "$PGBIN/pgbench" -n -h 127.0.0.1 -p "$PGPORT" -U bench \
    -f "$WORK/pg_write.sql" -c "$c" -j "$threads" -T "$SECS" -l bench >summary.txt 2>&1) ||
    { cat "$WORK/pgbench-$c/summary.txt" >&2; exit 1; }
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/pgbench-$c/summary.txt" | head -n1)
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' \
    "$WORK/pgbench-$c/summary.txt" | head -n1)
  # Log lines: client transaction latency_us script epoch epoch_us.
  cat "$WORK"/pgbench-"$c"/pgbench_log.* | awk '{print $3}' | sort -n >"$WORK/pg-lat-$c"
  n=$(wc -l <"$WORK/pg-lat-$c")
  pct() { sed -n "$(awk -v n="$n" -v q="$1" 'BEGIN { i = int(q * (n - 1)) + 1; print i }')p" \
    "$WORK/pg-lat-$c"; }
  record writes "PostgreSQL UPDATE + INSERT audit_logs (pgbench)" true \
    "$(jq -nc --argjson c "$c" --argjson t "$tps" --argjson o "$n" --argjson f "${failed:-0}" \
      --argjson p50 "$(pct 0.50)" --argjson p99 "$(pct 0.99)" --argjson p999 "$(pct 0.999)" \
      '{concurrency: $c, ops: $o, ops_per_sec: $t, p50_us: $p50, p99_us: $p99, p999_us: $p999,
        errors: $f}')"
done
PG_BYTES_PER_KEY=$("${PSQL[@]}" -d bench -At -c \
  "SELECT pg_total_relation_size('provider_api_keys') / count(*) FROM provider_api_keys")
as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -m fast stop >/dev/null
rm -rf "$PGROOT"
PGROOT=""

# ---- reads -----------------------------------------------------------------------------------
say "reads: $READ_KEYS keys over 10 providers ..."
data="$WORK/reads"
mkdir -p "$data"
token=$(kl_token "$KEYLEDGERD" "$data" bench)
kl_start_server "$KEYLEDGERD" "$data" "$WORK/reads.log"
read_pid=$KL_PID
read_port=$KL_PORT
setup=$("$LOAD" setup --port "$read_port" --token "$token" --keys "$READ_KEYS" --providers 10)
provider=$(jq -r '.providers[0]' <<<"$setup")
for view in grouped list; do
  if [ "$view" = grouped ]; then
    path=/api/admin/endpoints/keys/grouped-by-format
    label="grouped view (GET keys/grouped-by-format)"
  else
    path=/api/admin/endpoints/providers/$provider/keys
    label="key list (GET providers/{id}/keys)"
  fi
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$read_port$path" \
    >"$WORK/body-$view.json"
  kl_start_static "$STATIC" "$WORK/body-$view.json" "$WORK/static-$view.out"
  static_pid=$KL_STATIC_PID
  static_port=$KL_STATIC_PORT
  for c in $READ_CONNS; do
    say "reads: $view, $c connections ..."
    out=$("$LOAD" read --port "$read_port" --token "$token" --path "$path" --connections "$c" \
      --seconds "$SECS" --warmup "$WARMUP")
    record "reads-$view" "keyledgerd $label" false \
      "$(jq -c --argjson c "$c" '{concurrency: $c} + .' <<<"$out")"
    out=$("$LOAD" read --port "$static_port" --path / --connections "$c" --seconds "$SECS" \
      --warmup "$WARMUP")
    record "reads-$view" "bare Beast server, same body" true \
      "$(jq -c --argjson c "$c" '{concurrency: $c} + .' <<<"$out")"
  done
  kill -TERM "$static_pid" 2>/dev/null || true
  wait "$static_pid" 2>/dev/null || true
done
kl_stop_server "$read_pid"

# ---- keyledger on etcd --------------------------------------------------------------------------
# Its own etcd cluster and nodes, stopped before it returns; its results join this report's.
say "keyledger on etcd (tools/bench/etcd.sh) ..."
if [ "$QUICK" = 1 ]; then etcd_args=(--quick); else etcd_args=(--seconds "$SECS"); fi
KEYLEDGER_BENCH_BUILD_DIR="$BUILD_DIR" tools/bench/etcd.sh "${etcd_args[@]}" \
  --results "$RESULTS" >"$WORK/etcd.md"

# ---- rebuild and start-up ----------------------------------------------------------------------
if [ -n "${KEYLEDGER_BENCH_DATA:-}" ]; then
  GEN="$KEYLEDGER_BENCH_DATA"
  mkdir -p "$GEN"
else
  GEN="$WORK/gen"
fi
MAIN="$GEN/events-$EVENTS-keys-$KEYS"
BIG="$GEN/keys-$BIG_KEYS"
if [ ! -f "$MAIN/.complete" ]; then
  say "generating $EVENTS events over $KEYS keys ..."
  rm -rf "$MAIN"
  "$RB" generate --data-dir "$MAIN" --events "$EVENTS" --keys "$KEYS" --items-per-report 100 \
    >/dev/null 2>&1
  touch "$MAIN/.complete"
fi
if [ ! -f "$BIG/.complete" ]; then
  say "generating $BIG_KEYS keys ..."
  rm -rf "$BIG"
  "$RB" generate --data-dir "$BIG" --events $((BIG_KEYS * 2)) --keys "$BIG_KEYS" \
    --items-per-report 100 >/dev/null 2>&1
  touch "$BIG/.complete"
fi
say "rebuild: scan, scan + parse, keyledger-rebuild on $MAIN ..."
scan=$("$RB" scan --data-dir "$MAIN" | jq -c .scan)
parse=$("$RB" scan-parse --data-dir "$MAIN" | jq -c .scan_parse)
log_events=$(jq .events <<<"$scan")
record rebuild "raw RocksDB scan of the events column family" true "$scan"
record rebuild "raw scan + decode + simdjson parse" true "$parse"
rebuilt=$("$REBUILD" --data-dir "$MAIN" --dry-run --progress none --format json)
record rebuild "keyledger-rebuild --dry-run (full replay, chain check, digest)" false \
  "$(jq -c --argjson n "$log_events" \
    '{events: $n, events_per_second: .events_per_second, seconds: ($n / .events_per_second)}' \
    <<<"$rebuilt")"

say "start-up: snapshot + tail after a crash ..."
start_dir="$WORK/start"
rm -rf "$start_dir"
cp -a "$MAIN" "$start_dir"
token=$(kl_token "$KEYLEDGERD" "$start_dir" bench)
# Snapshots only at shutdown, which a crash skips: every write below is the tail to replay.
kl_start_server "$KEYLEDGERD" "$start_dir" "$WORK/start-0.log" --snapshot-every 0
"$LOAD" write --port "$KL_PORT" --token "$token" --connections 16 --seconds "$SECS" \
  --warmup 0 >"$WORK/tail-writes.json"
tail_events=$(($(jq .ops <<<"$(cat "$WORK/tail-writes.json")") + 17))
kill -KILL "$KL_PID"
wait "$KL_PID" 2>/dev/null || true
kl_start_server "$KEYLEDGERD" "$start_dir" "$WORK/start-1.log"
rss_kib=$(awk '/VmRSS/ {print $2}' "/proc/$KL_PID/status")
record startup "keyledgerd start to ready: snapshot + tail" false \
  "$(jq -nc --argjson s "$KL_READY_SECONDS" --argjson t "$tail_events" --argjson r "$rss_kib" \
    --argjson k "$KEYS" --argjson n "$KL_HEAD" '{seconds: $s, events: $n,
    tail_events_about: $t, rss_kib: $r, keys: $k, rss_bytes_per_key: ($r * 1024 / $k)}')"
kl_stop_server "$KL_PID"
say "start-up: full replay (snapshots column family dropped) ..."
"$RB" drop-snapshots --data-dir "$start_dir" >/dev/null
kl_start_server "$KEYLEDGERD" "$start_dir" "$WORK/start-2.log"
record startup "keyledgerd start to ready: full replay" false \
  "$(jq -nc --argjson s "$KL_READY_SECONDS" --argjson n "$KL_HEAD" \
    '{seconds: $s, events: $n, events_per_second: ($n / $s)}')"
kl_stop_server "$KL_PID"
rm -rf "$start_dir"
record startup "raw scan + decode + simdjson parse of the same log" true \
  "$(jq -c '{seconds: .seconds, events: .events, events_per_second: .events_per_second}' \
    <<<"$parse")"

say "memory per key ..."
for dir in "$MAIN" "$BIG"; do
  m=$("$RB" memory --data-dir "$dir" | jq -c .memory)
  record memory "folded state, resident bytes per key" false "$m"
done
record memory "PostgreSQL provider_api_keys table + indexes, bytes per row (300 rows)" true \
  "$(jq -nc --argjson b "$PG_BYTES_PER_KEY" '{bytes_per_key: $b}')"

# ---- the report ---------------------------------------------------------------------------------
mkdir -p "$OUT"
MACHINE="$(kl_machine); data on $(df -P "$WORK" | awk 'NR == 2 {print $1}') ($(df -PT "$WORK" |
  awk 'NR == 2 {print $2}'))"
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
jq -s --arg m "$MACHINE" --arg c "$COMMIT" --arg d "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --argjson s "$SECS" --argjson w "$WARMUP" --argjson e "$EVENTS" \
  '{date: $d, commit: $c, machine: $m, seconds_per_case: $s, warmup_seconds: $w,
    rebuild_events: $e, results: .}' "$RESULTS" >"$OUT/report.json"

# Ratios: each figure against the baseline of its group at the same concurrency (writes at
# more than 16 against raw RocksDB at 16); time-based rows compare seconds (baseline / ours).
jq -r -L tools/bench -f tools/bench/report.jq "$OUT/report.json" >"$OUT/REPORT.md"

# Charts: one data file per series (concurrency, throughput, p50, p99, p99.9).
series() {  # GROUP NAME_PREFIX BASELINE(true|false) OUT
  jq -r --arg g "$1" --arg n "$2" --argjson b "$3" '.results[]
    | select(.group == $g and (.name | startswith($n)) and .baseline == $b)
    | "\(.concurrency) \(.ops_per_sec) \(.p50_us) \(.p99_us) \(.p999_us)"' "$OUT/report.json" >"$4"
}
series writes keyledgerd false "$WORK/w-kl.dat"
series writes PostgreSQL true "$WORK/w-pg.dat"
series writes raw true "$WORK/w-raw.dat"
series writes "keyledger event" false "$WORK/w-log.dat"
for view in grouped list; do
  series "reads-$view" "" false "$WORK/r-$view-kl.dat"
  series "reads-$view" "" true "$WORK/r-$view-static.dat"
done
gnuplot <<GNUPLOT
set terminal pngcairo size 900,560 noenhanced font "sans,10"
set grid
set key top left
set logscale x 2
set xlabel "concurrent connections / clients / threads"

set output "$OUT/writes_throughput.png"
set title "Durable writes per second ($(nproc) cores; higher is better)"
set ylabel "acknowledged durable writes / s"
plot "$WORK/w-kl.dat" using 1:2 with linespoints lw 2 title "keyledgerd, HTTP PUT", \
     "$WORK/w-pg.dat" using 1:2 with linespoints lw 2 title "PostgreSQL, UPDATE + audit INSERT", \
     "$WORK/w-raw.dat" using 1:2 with linespoints lw 2 title "raw RocksDB Put sync=true", \
     "$WORK/w-log.dat" using 1:2 with linespoints dt 2 title "keyledger event log Append (no HTTP)"

set output "$OUT/writes_latency.png"
set title "Durable write latency (lower is better)"
set ylabel "microseconds"
set logscale y 10
plot "$WORK/w-kl.dat" using 1:3 with linespoints lw 2 title "keyledgerd p50", \
     "$WORK/w-kl.dat" using 1:4 with linespoints lw 2 title "keyledgerd p99", \
     "$WORK/w-kl.dat" using 1:5 with linespoints lw 2 title "keyledgerd p99.9", \
     "$WORK/w-pg.dat" using 1:3 with linespoints dt 2 title "PostgreSQL p50", \
     "$WORK/w-pg.dat" using 1:4 with linespoints dt 2 title "PostgreSQL p99", \
     "$WORK/w-pg.dat" using 1:5 with linespoints dt 2 title "PostgreSQL p99.9"
unset logscale y

set output "$OUT/reads_throughput.png"
set title "Reads per second (higher is better)"
set ylabel "responses / s"
plot "$WORK/r-grouped-kl.dat" using 1:2 with linespoints lw 2 title "keyledgerd grouped view", \
     "$WORK/r-grouped-static.dat" using 1:2 with linespoints dt 2 title "bare Beast, same body (grouped)", \
     "$WORK/r-list-kl.dat" using 1:2 with linespoints lw 2 title "keyledgerd key list", \
     "$WORK/r-list-static.dat" using 1:2 with linespoints dt 2 title "bare Beast, same body (list)"

set output "$OUT/reads_latency.png"
set title "Read latency (lower is better)"
set ylabel "microseconds"
set logscale y 10
plot "$WORK/r-grouped-kl.dat" using 1:3 with linespoints lw 2 title "grouped p50", \
     "$WORK/r-grouped-kl.dat" using 1:4 with linespoints lw 2 title "grouped p99", \
     "$WORK/r-grouped-static.dat" using 1:4 with linespoints dt 2 title "bare Beast (grouped body) p99", \
     "$WORK/r-list-kl.dat" using 1:3 with linespoints lw 2 title "key list p50", \
     "$WORK/r-list-kl.dat" using 1:4 with linespoints lw 2 title "key list p99", \
     "$WORK/r-list-static.dat" using 1:4 with linespoints dt 2 title "bare Beast (list body) p99"
GNUPLOT
say "wrote $OUT/REPORT.md, $OUT/report.json and $OUT/*.png"
cat "$OUT/REPORT.md"
