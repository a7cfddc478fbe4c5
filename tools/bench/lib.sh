# Shell helpers shared by the benchmark scripts (sourced, not run). Every server they start
# listens on 127.0.0.1 only and is stopped by kl_cleanup (install it as an EXIT trap).

# kl_build BUILD_DIR BUILD_TYPE TARGET...: configures (tests off) and builds the given targets.
kl_build() {
  local dir=$1 type=$2
  shift 2
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" -DKEYLEDGER_BUILD_TESTS=OFF >/dev/null
  cmake --build "$dir" -j "${KEYLEDGER_JOBS:-$(nproc)}" --target "$@" >/dev/null
}

# kl_bin BUILD_DIR NAME: the path of a built binary (keyledgerd, keyledger-audit, http_load, ...).
kl_bin() {
  local dir=$1 name=$2 p
  for p in "$dir/src/$name" "$dir/tools/$name" "$dir/tools/bench/$name"; do
    if [ -x "$p" ]; then
      echo "$p"
      return 0
    fi
  done
  echo "no $name under $dir" >&2
  return 1
}

KL_PIDS=()

# kl_start_server KEYLEDGERD DATA_DIR LOG [ARGS...]: starts keyledgerd on 127.0.0.1 (a free
# port) and waits for its ready line. Sets KL_PID, KL_PORT, KL_HEAD (the log's head sequence at
# start) and KL_READY_SECONDS (exec to ready).
kl_start_server() {
  local bin=$1 data=$2 log=$3
  shift 3
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" --data-dir "$data" --listen 127.0.0.1:0 "$@" 2>"$log" >/dev/null &
  KL_PID=$!
  KL_PIDS+=("$KL_PID")
  local tries=0
  KL_PORT=""
  while [ -z "$KL_PORT" ]; do
    # The server's shell may not have created the log yet: that is "not ready", not an error.
    KL_PORT=$(sed -n 's/.*"msg":"keyledgerd ready".*:\/\/127\.0\.0\.1:\([0-9]*\)".*/\1/p' \
      "$log" 2>/dev/null | head -n1 || true)
    if [ -n "$KL_PORT" ]; then break; fi
    if ! kill -0 "$KL_PID" 2>/dev/null; then
      echo "keyledgerd exited before it was ready:" >&2
      cat "$log" >&2
      return 1
    fi
    tries=$((tries + 1))
    if [ "$tries" -gt 30000 ]; then
      echo "keyledgerd was not ready after 10 minutes" >&2
      return 1
    fi
    sleep 0.02
  done
  t1=$(date +%s.%N)
  KL_HEAD=$(sed -n 's/.*"msg":"keyledgerd ready".*"head":"\{0,1\}\([0-9]*\).*/\1/p' "$log" | head -n1)
  KL_READY_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

# kl_start_static STATIC_SERVER BODY_FILE OUT: starts tools/bench/static_server on 127.0.0.1 (a
# free port, 2 threads) answering BODY_FILE, waits until it listens. Sets KL_STATIC_PID and
# KL_STATIC_PORT.
kl_start_static() {
  "$1" --port 0 --body-file "$2" --threads 2 >"$3" &
  KL_STATIC_PID=$!
  KL_PIDS+=("$KL_STATIC_PID")
  KL_STATIC_PORT=""
  for _ in $(seq 1 500); do
    KL_STATIC_PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$3")
    [ -n "$KL_STATIC_PORT" ] && return 0
    sleep 0.02
  done
  echo "static_server did not start" >&2
  return 1
}

# kl_stop_server PID: SIGTERM (final snapshot, orderly close) and wait; non-zero if it failed.
kl_stop_server() {
  local pid=$1 rc=0
  kill -TERM "$pid" 2>/dev/null || return 0
  wait "$pid" || rc=$?
  return "$rc"
}

# kl_token KEYLEDGERD DATA_DIR NAME: creates an admin token in DATA_DIR's tokens file, prints it.
kl_token() {
  "$1" token create --name "$3" --role admin --data-dir "$2" 2>/dev/null
}

kl_cleanup() {
  local p
  for p in "${KL_PIDS[@]}"; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}

# kl_field NAME JSON: the first number after "NAME": in a line of JSON.
kl_field() { sed -n "s/.*\"$1\":\\(-\\{0,1\\}[0-9.]*\\).*/\\1/p" <<<"$2" | head -n1; }

# kl_machine: one line describing this machine, for every report.
kl_machine() {
  local cpu
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
  echo "$(nproc) x ${cpu:-unknown CPU}, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' \
    /proc/meminfo) RAM, Linux $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
}
