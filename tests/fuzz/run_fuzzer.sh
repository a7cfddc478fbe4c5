#!/usr/bin/env bash
# Runs one libFuzzer target for $KEYLEDGER_FUZZ_SECONDS (default 60) from the seed corpus in
# the repository. New interesting inputs go to WORK_DIR (the repository's corpus stays as
# committed); a crashing input is written to ARTIFACT_DIR and the script exits non-zero.
# usage: run_fuzzer.sh FUZZER SEED_DIR WORK_DIR ARTIFACT_DIR [libFuzzer flags...]
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 artifacts=$4
shift 4
seconds="${KEYLEDGER_FUZZ_SECONDS:-60}"
mkdir -p "$work" "$artifacts"
name=$(basename "$fuzzer")
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# -timeout: an input taking longer than 10 s counts as a hang (a failure);
# -rss_limit_mb: a run growing past 2 GiB fails (the machines have 24 GiB, 2 fuzzers at once).
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
  -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$@" "$work" "$seeds"
