#!/usr/bin/env bash
# bench/flood.sh [SECONDS] [RATE] [RUNS]: what a flood of badly signed requests costs good traffic.
# `hookline serve` (release, fresh SQLite store) loaded by the harness's wrk with good signed bodies at 32
# connections, alone and then while `hookline load` sends RATE requests/s (open loop, default 5000) signed
# with a wrong secret, which the server must answer 401 without storing anything.
#
# Needs ../shared/bench (the wrk harness) beside this repository, Debian's wrk, and a release build
# (cargo build --release -p hookline).
set -euo pipefail

secs="${1:-10}"
rate="${2:-5000}"
runs="${3:-2}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
harness="$root/../shared/bench"
work="${BENCH_DIR:-/tmp/hookline-bench}"
secret="bench-secret"
bin="${HOOKLINE_BIN:-$root/target/release/hookline}"
mkdir -p "$work"
bodies="$work/bodies.dat"
[[ -s "$bodies" ]] || python3 "$harness/gen_bodies.py" -n 300000 -s "$secret" -o "$bodies"

summary() { grep -oE '(rps|p50_ms|p99_ms|non2xx)=[0-9.]*' | tr '\n' ' '; }

run() {
  local flood=$1
  rm -f "$work"/flood.db*
  "$bin" serve --app-secret "$secret" --listen 127.0.0.1:8080 --database "sqlite://$work/flood.db" >"$work/flood-serve.log" 2>&1 &
  local pid=$! loader=""
  sleep 1
  if [[ $flood == yes ]]; then
    "$bin" load --url http://127.0.0.1:8080/webhook --secret wrong-secret --rate "$rate" --connections 16 \
      --duration "$((secs + 2))s" --json >"$work/flood.json" 2>/dev/null &
    loader=$!
    sleep 1
  fi
  local result
  result=$(BODIES="$bodies" bash "$harness/run.sh" http://127.0.0.1:8080/webhook "$secs" 32 2>&1 | tail -1)
  local extra=""
  if [[ -n $loader ]]; then
    wait "$loader" || true
    extra=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("flood_sent=%d flood_status=%s" % (r["responses"], ",".join("%s:%d" % kv for kv in sorted(r["status"].items()))))' "$work/flood.json")
  fi
  local stored; stored=$(curl -s 127.0.0.1:8080/metrics | awk '/^hookline_signature_failures_total/ {s+=$2} END {print "signature_failures=" s+0}')
  kill -TERM "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  printf 'good traffic, flood=%-3s %s %s %s\n' "$flood" "$(summary <<<"$result")" "$stored" "$extra"
}

for _ in $(seq "$runs"); do
  run no
  run yes
done
