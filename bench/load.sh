#!/usr/bin/env bash
# bench/load.sh [SECONDS] [RUNS]: the load harness's nginx ceiling and `hookline serve`, back to back,
# each loaded by wrk and by `hookline load`.
#
# Needs ../shared/bench (the wrk harness) beside this repository, Debian's wrk, nginx and
# libnginx-mod-http-echo, and a release build (cargo build --release). Each run: nginx reading bodies and
# answering 200, loaded by wrk (the harness's unique signed bodies) and then by `hookline load` (its own
# builtin mix, signed per request); then hookline on a fresh SQLite store, loaded the same two ways, all at
# 64 connections. Prints one line per receiver and loader with req/s, latency, and for hookline the server
# CPU per request (utime+stime over the run / requests), the mean group-commit size and the peak RSS.
set -euo pipefail

secs="${1:-10}"
runs="${2:-2}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
harness="$root/../shared/bench"
work="${BENCH_DIR:-/tmp/hookline-bench}"
secret="bench-secret"
# HOOKLINE_BIN: the hookline binary to measure (another build, to compare two commits in one run).
bin="${HOOKLINE_BIN:-$root/target/release/hookline}"
# STORE_QUERY: options appended to the store URL (e.g. '?cache_mb=2'), to compare settings in one run.
store_query="${STORE_QUERY:-}"
# BODIES_COUNT: unique bodies to make (once, then reused). A run that sends more wraps around and re-sends
# bodies, which hookline stores as redeliveries, a cheaper path: keep it above SECONDS x the rate (wrk's
# LuaJIT cannot load much more than a million).
count="${BODIES_COUNT:-600000}"
mkdir -p "$work"
bodies="$work/bodies-$count.dat"
[[ -s "$bodies" ]] || python3 "$harness/gen_bodies.py" -n "$count" -s "$secret" -o "$bodies"

summary() { grep -oE '(rps|p50_ms|p99_ms|non2xx|wraps)=[0-9.]*' | tr '\n' ' '; }

# `hookline load URL` with the same columns as the wrk harness's RESULT line.
hookline_load() {
  "$bin" load --url "$1" --secret "$secret" --connections 64 --duration "${secs}s" --json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); l=r["latency_us"]; ok=sum(v for k,v in r["status"].items() if k.startswith("2")); print("requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f non2xx=%d" % (r["responses"], r["rps"], l["p50"]/1000, l["p99"]/1000, r["responses"]-ok))'
}

ceiling() {
  local dir; dir="$(mktemp -d)"
  nginx -p "$dir" -e stderr -c "$harness/nginx-ceiling.conf" 2>"$work/nginx.log" &
  sleep 1
  echo "nginx ceiling, wrk:           $(BODIES="$bodies" bash "$harness/run.sh" http://127.0.0.1:18080/webhook "$secs" 64 2>&1 | tail -1 | summary)"
  echo "nginx ceiling, hookline load: $(hookline_load http://127.0.0.1:18080/webhook | summary)"
  pkill -f 'nginx: master' || true
  sleep 1
}

# hookline LOADER: hookline serve on a fresh store, loaded by `wrk` or `hookline-load`.
hookline() {
  local loader=$1
  rm -f "$work"/hookline.db*
  "$bin" serve --app-secret "$secret" --listen 127.0.0.1:8080 \
    --database "sqlite://$work/hookline.db$store_query" 2>"$work/serve.log" &
  local pid=$!
  sleep 1
  ticks() { local f; f=$(cat "/proc/$pid/stat"); f=${f##*) }; set -- $f; echo $(( ${12} + ${13} )); }
  local t0 result t1 requests batches
  t0=$(ticks)
  if [[ $loader == wrk ]]; then
    result=$(BODIES="$bodies" SERVER_PIDS=$pid bash "$harness/run.sh" http://127.0.0.1:8080/webhook "$secs" 64 2>&1 | tail -1)
  else
    result=$(hookline_load http://127.0.0.1:8080/webhook)
  fi
  t1=$(ticks)
  requests=$(grep -oE 'requests=[0-9]+' <<<"$result" | cut -d= -f2)
  batches=$(curl -s 127.0.0.1:8080/metrics | awk '/^hookline_commit_batch_deliveries_(sum|count)/ {print $2}' | tr '\n' ' ')
  local rss; rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || true
  local tck; tck=$(getconf CLK_TCK)
  printf 'hookline, %-19s ' "$loader:"
  echo "$(summary <<<"$result")server_us_per_req=$(( (t1 - t0) * 1000000 / tck / requests )) batch=$(awk '{printf "%.1f", $1 / $2}' <<<"$batches") peak_rss_kb=$rss"
}

for _ in $(seq "$runs"); do
  ceiling
  hookline wrk
  hookline hookline-load
done
