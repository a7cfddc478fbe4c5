#!/usr/bin/env bash
# One command to see keyledger beyond one machine: installs what it needs (tools/setup.sh, which
# brings etcd-server), builds keyledgerd (Release, build/release, as tools/run.sh does), starts
# three etcd members on 127.0.0.1 and two keyledgerd nodes on them (--store etcd) sharing one
# master key and one tokens file, prints the nodes' URLs and an admin token, and stops
# everything on Ctrl-C: each process by its PID, then the temporary directory is removed.
#
# Ports: eight consecutive free ports from KEYLEDGER_CLUSTER_PORT_BASE (default: a random base
# in 20000-59999 whose eight ports are free): etcd clients base..base+2, etcd peers base+3..+5,
# the nodes base+6 and base+7. Everything else lives in a mktemp directory (etcd data, the
# nodes' data directories, the master key, the tokens file, every process's output).
#
# Environment:
#   KEYLEDGER_CLUSTER_PORT_BASE  first of the eight ports (default: random, free)
#   KEYLEDGER_CLUSTER_BIN        a keyledgerd to run instead of building one (no setup, no build)
#   KEYLEDGER_RUN_BUILD_DIR      the Release build directory (default build/release)
#   KEYLEDGER_CLUSTER_CHECK=1    CI mode: start, wait for both /readyz, create a key through
#                                node 1, read it through node 2 (up to 10 s; a node that does
#                                not follow the other yet must still answer the list with 200),
#                                stop everything, check that no process is left, exit 0 or 1.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "cluster: $*" >&2; }
die() {
  log "$*"
  exit 1
}

if [[ -n "${KEYLEDGER_CLUSTER_BIN:-}" ]]; then
  KEYLEDGERD="$KEYLEDGER_CLUSTER_BIN"
  [[ -x "$KEYLEDGERD" ]] || die "KEYLEDGER_CLUSTER_BIN=$KEYLEDGERD is not an executable"
else
  tools/setup.sh
  BUILD_DIR="${KEYLEDGER_RUN_BUILD_DIR:-build/release}"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKEYLEDGER_BUILD_TESTS=OFF >&2
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target keyledgerd >&2
  KEYLEDGERD="$BUILD_DIR/src/keyledgerd"
fi
command -v etcd >/dev/null || die "etcd is not installed (tools/setup.sh installs etcd-server)"
command -v curl >/dev/null || die "curl is not installed (tools/setup.sh installs it)"

# ---- ports ----
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
range_free() {
  local p
  for ((p = $1; p < $1 + 8; p++)); do port_free "$p" || return 1; done
}
if [[ -n "${KEYLEDGER_CLUSTER_PORT_BASE:-}" ]]; then
  BASE="$KEYLEDGER_CLUSTER_PORT_BASE"
  range_free "$BASE" || die "ports $BASE..$((BASE + 7)) are not all free"
else
  BASE=""
  for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 40000))
    if range_free "$candidate"; then
      BASE="$candidate"
      break
    fi
  done
  [[ -n "$BASE" ]] || die "found no eight free consecutive ports"
fi
CLIENT_PORTS=("$BASE" "$((BASE + 1))" "$((BASE + 2))")
PEER_PORTS=("$((BASE + 3))" "$((BASE + 4))" "$((BASE + 5))")
NODE_PORTS=("$((BASE + 6))" "$((BASE + 7))")

# ---- cleanup: every process by PID, then the directory ----
WORK="$(mktemp -d "${TMPDIR:-/tmp}/keyledger-cluster-XXXXXX")"
ETCD_PIDS=()
NODE_PIDS=()
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
CLEANED=0
cleanup() {
  ((CLEANED)) && return 0
  CLEANED=1
  local pid
  # Nodes first (they flush a snapshot on SIGTERM while etcd still answers), then etcd.
  for pid in "${NODE_PIDS[@]}"; do stop_pid "$pid"; done
  for pid in "${ETCD_PIDS[@]}"; do stop_pid "$pid"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "stopping"; exit 0' INT TERM

# ---- three etcd members ----
INITIAL=""
for i in 0 1 2; do
  INITIAL+="${INITIAL:+,}m$i=http://127.0.0.1:${PEER_PORTS[$i]}"
done
ENDPOINTS=""
for i in 0 1 2; do
  url="http://127.0.0.1:${CLIENT_PORTS[$i]}"
  ENDPOINTS+="${ENDPOINTS:+,}$url"
  etcd --name "m$i" --data-dir "$WORK/etcd$i" \
    --listen-client-urls "$url" --advertise-client-urls "$url" \
    --listen-peer-urls "http://127.0.0.1:${PEER_PORTS[$i]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${PEER_PORTS[$i]}" \
    --initial-cluster "$INITIAL" --initial-cluster-state new \
    --initial-cluster-token "keyledger-cluster-$$" \
    --logger zap --log-level warn >"$WORK/etcd$i.log" 2>&1 &
  ETCD_PIDS+=("$!")
done
# Every member answers a linearizable read: there is a leader and a quorum.
for port in "${CLIENT_PORTS[@]}"; do
  ok=0
  for _ in $(seq 1 600); do
    if curl -sf -m 2 -XPOST "http://127.0.0.1:$port/v3/kv/range" -d '{"key":"AA=="}' \
      >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 0.1
  done
  ((ok)) || die "etcd on port $port did not become healthy (see $WORK/etcd*.log)"
done
log "etcd: $ENDPOINTS"

# ---- two keyledgerd nodes: one master key, one tokens file ----
(
  umask 077
  head -c 32 /dev/urandom | base64 >"$WORK/master.key"
)
start_node() {
  local n=$1 port=$2
  mkdir -p "$WORK/node$n"
  "$KEYLEDGERD" --listen "127.0.0.1:$port" --data-dir "$WORK/node$n" \
    --master-key-file "$WORK/master.key" --tokens-file "$WORK/tokens.json" \
    --store etcd --etcd-endpoints "$ENDPOINTS" --etcd-prefix /keyledger/cluster \
    >"$WORK/node$n.out" 2>"$WORK/node$n.err" &
  NODE_PIDS+=("$!")
}
wait_ready() {
  local port=$1 pid=$2 code
  for _ in $(seq 1 600); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://127.0.0.1:$port/readyz" || true)
    [[ "$code" == "200" ]] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# Node 1 first: its first start creates the tokens file and prints the admin token once; node 2
# then reads the same file.
start_node 1 "${NODE_PORTS[0]}"
wait_ready "${NODE_PORTS[0]}" "${NODE_PIDS[0]}" ||
  die "node 1 did not become ready: $(tail -n 5 "$WORK/node1.err")"
start_node 2 "${NODE_PORTS[1]}"
wait_ready "${NODE_PORTS[1]}" "${NODE_PIDS[1]}" ||
  die "node 2 did not become ready: $(tail -n 5 "$WORK/node2.err")"
TOKEN=$(grep -o 'kl_[A-Za-z0-9]\{40\}' "$WORK/node1.out" | head -n 1 || true)
[[ -n "$TOKEN" ]] || die "node 1 printed no admin token (see $WORK/node1.out)"
URL1="http://127.0.0.1:${NODE_PORTS[0]}"
URL2="http://127.0.0.1:${NODE_PORTS[1]}"

if [[ "${KEYLEDGER_CLUSTER_CHECK:-0}" == "1" ]]; then
  auth="Authorization: Bearer $TOKEN"
  provider=$(curl -sf -m 10 -XPOST "$URL1/api/admin/providers/" -H "$auth" \
    -d '{"name":"cluster-check"}' | grep -o '"id":"[^"]*"' | head -n 1 | cut -d'"' -f4) ||
    die "node 1 did not create a provider"
  [[ -n "$provider" ]] || die "node 1 answered the provider create without an id"
  key=$(curl -sf -m 10 -XPOST "$URL1/api/admin/endpoints/providers/$provider/keys" -H "$auth" \
    -d '{"api_formats":["CLAUDE"],"api_key":"sk-ant-cluster-check-0000","name":"check"}' |
    grep -o '"id":"[^"]*"' | head -n 1 | cut -d'"' -f4) || die "node 1 did not create a key"
  [[ -n "$key" ]] || die "node 1 answered the key create without an id"
  seen=0
  code=""
  for _ in $(seq 1 100); do
    body=$(curl -s -m 5 -w '\n%{http_code}' "$URL2/api/admin/endpoints/providers/$provider/keys" \
      -H "$auth" || true)
    code=${body##*$'\n'}
    if [[ "$code" == "200" && "$body" == *"\"$key\""* ]]; then
      seen=1
      break
    fi
    sleep 0.1
  done
  if ((seen)); then
    log "check: node 2 serves the key created through node 1"
  else
    # Node 2 may not follow node 1's writes yet (the watch-based follower is being built): it
    # must still answer. Its own list of the provider: 200, or 404 while it has not seen it.
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$URL2/api/admin/providers/" -H "$auth")
    [[ "$code" == "200" ]] || die "node 2 answered the provider list with $code"
    log "check: node 2 answers (200) but does not show node 1's key yet"
  fi
  pids=("${NODE_PIDS[@]}" "${ETCD_PIDS[@]}")
  cleanup
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then die "process $pid is still running after the stop"; fi
  done
  [[ ! -e "$WORK" ]] || die "$WORK was not removed"
  log "check: started, served, stopped; no process left"
  exit 0
fi

cat <<EOF
keyledger cluster: 3 etcd members, 2 keyledgerd nodes (--store etcd), one master key and token.

  node 1   $URL1
  node 2   $URL2
  etcd     $ENDPOINTS  (prefix /keyledger/cluster)
  token    $TOKEN

  T='Authorization: Bearer $TOKEN'
  curl -s -XPOST $URL1/api/admin/providers/ -H "\$T" -d '{"name":"anthropic"}'
  curl -s $URL2/api/admin/providers/ -H "\$T"

Files (logs, data, master key, tokens) in $WORK, removed on exit. Ctrl-C stops everything.
EOF
# Until Ctrl-C, or until a process dies on its own.
while true; do
  for pid in "${NODE_PIDS[@]}" "${ETCD_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "process $pid exited; see the logs in $WORK"
  done
  sleep 1
done
