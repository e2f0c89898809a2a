#!/usr/bin/env bash
# bench/load.sh [SECONDS] [RUNS]: the load harness's nginx ceiling and `hookline serve`, back to back.
#
# Needs ../shared/bench (the wrk harness) beside this repository, Debian's wrk, nginx and
# libnginx-mod-http-echo, and a release build (cargo build --release). Each run: nginx reading bodies and
# answering 200, then hookline on a fresh SQLite store, both loaded with the same unique signed bodies at
# 64 connections. Prints one line per receiver with req/s, latency, and for hookline the server CPU per
# request (utime+stime over the run / requests), the mean group-commit size and the peak RSS.
set -euo pipefail

secs="${1:-10}"
runs="${2:-2}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
harness="$root/../shared/bench"
work="${BENCH_DIR:-/tmp/hookline-bench}"
secret="bench-secret"
mkdir -p "$work"
bodies="$work/bodies.dat"
[[ -s "$bodies" ]] || python3 "$harness/gen_bodies.py" -n 300000 -s "$secret" -o "$bodies"

summary() { grep -oE '(rps|p50_ms|p99_ms|non2xx)=[0-9.]*' | tr '\n' ' '; }

ceiling() {
  local dir; dir="$(mktemp -d)"
  nginx -p "$dir" -e stderr -c "$harness/nginx-ceiling.conf" 2>"$work/nginx.log" &
  sleep 1
  echo "nginx ceiling: $(BODIES="$bodies" bash "$harness/run.sh" http://127.0.0.1:18080/webhook "$secs" 64 2>&1 | tail -1 | summary)"
  pkill -f 'nginx: master' || true
  sleep 1
}

hookline() {
  rm -f "$work"/hookline.db*
  "$root/target/release/hookline" serve --app-secret "$secret" --listen 127.0.0.1:8080 \
    --database "sqlite://$work/hookline.db" 2>"$work/serve.log" &
  local pid=$!
  sleep 1
  ticks() { local f; f=$(cat "/proc/$pid/stat"); f=${f##*) }; set -- $f; echo $(( ${12} + ${13} )); }
  local t0 result t1 requests batches
  t0=$(ticks)
  result=$(BODIES="$bodies" SERVER_PIDS=$pid bash "$harness/run.sh" http://127.0.0.1:8080/webhook "$secs" 64 2>&1 | tail -1)
  t1=$(ticks)
  requests=$(grep -oE 'requests=[0-9]+' <<<"$result" | cut -d= -f2)
  batches=$(curl -s 127.0.0.1:8080/metrics | awk '/^hookline_commit_batch_deliveries_(sum|count)/ {print $2}' | tr '\n' ' ')
  local rss; rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || true
  local tck; tck=$(getconf CLK_TCK)
  echo "hookline:      $(summary <<<"$result")server_us_per_req=$(( (t1 - t0) * 1000000 / tck / requests )) batch=$(awk '{printf "%.1f", $1 / $2}' <<<"$batches") peak_rss_kb=$rss"
}

for _ in $(seq "$runs"); do
  ceiling
  hookline
done
