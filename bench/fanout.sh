#!/usr/bin/env bash
# bench/fanout.sh [SECONDS] [RUNS]: `hookline serve` without sinks and with two (an HTTP sink to a local
# receiver answering 204, and a NATS JetStream sink), alternately, each loaded by wrk with the harness's
# unique signed bodies at 64 connections. What fan-out costs ingest.
#
# Needs ../shared/bench (the wrk harness) beside this repository, Debian's wrk, nats-server with JetStream on
# 127.0.0.1:4222 (or NATS_URL), and release builds of hookline and of the forward_throughput example
# (cargo build --release -p hookline; cargo build --release -p hookline-sinks --example forward_throughput),
# which runs the receiver. Prints, per run: req/s, latency, server CPU per request, and for the run with
# sinks how many events each sink was behind when the load stopped and how long it took to catch up.
set -euo pipefail

secs="${1:-10}"
runs="${2:-2}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
harness="$root/../shared/bench"
work="${BENCH_DIR:-/tmp/hookline-bench}"
secret="bench-secret"
bin="${HOOKLINE_BIN:-$root/target/release/hookline}"
receiver_bin="${RECEIVER_BIN:-$root/target/release/examples/forward_throughput}"
nats_url="${NATS_URL:-nats://127.0.0.1:4222}"
mkdir -p "$work"
bodies="$work/bodies.dat"
[[ -s "$bodies" ]] || python3 "$harness/gen_bodies.py" -n 300000 -s "$secret" -o "$bodies"

"$receiver_bin" receiver 127.0.0.1:18090 2>"$work/receiver.log" &
receiver=$!
trap 'kill $receiver 2>/dev/null || true' EXIT

stream="HOOKLINE_FANOUT_BENCH"
cat >"$work/sinks.toml" <<TOML
[[sink]]
name = "http"
type = "http"
url = "http://127.0.0.1:18090/"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
include_echoes = true
include_standby = true

[[sink]]
name = "nats"
type = "nats"
url = "$nats_url"
subject_prefix = "hlfanoutbench"
stream = "$stream"
include_echoes = true
include_standby = true
TOML
: >"$work/nosinks.toml"

summary() { grep -oE '(rps|p50_ms|p99_ms|non2xx)=[0-9.]*' | tr '\n' ' '; }
lag() { curl -s 127.0.0.1:8080/metrics | awk '/^hookline_sink_lag_events\{/ {sub(/.*sink="/, ""); sub(/"\}/, ""); printf "%s ", $0}'; }

# run NAME CONFIG: hookline serve on a fresh store with CONFIG, loaded by wrk.
run() {
  local name=$1 config=$2
  rm -f "$work"/hookline.db*
  "$bin" serve --config "$config" --app-secret "$secret" --listen 127.0.0.1:8080 \
    --database "sqlite://$work/hookline.db" 2>"$work/serve-$name.log" &
  local pid=$!
  sleep 1
  ticks() { local f; f=$(cat "/proc/$pid/stat"); f=${f##*) }; set -- $f; echo $(( ${12} + ${13} )); }
  local t0 result t1 requests extra=""
  t0=$(ticks)
  result=$(BODIES="$bodies" SERVER_PIDS=$pid bash "$harness/run.sh" http://127.0.0.1:8080/webhook "$secs" 64 2>&1 | tail -1)
  t1=$(ticks)
  requests=$(grep -oE 'requests=[0-9]+' <<<"$result" | cut -d= -f2)
  if [[ $name == sinks ]]; then
    local behind start caught
    behind=$(lag)
    start=$(date +%s.%N)
    # Caught up when every sink's lag gauge reads 0.
    until [[ -z $(curl -s 127.0.0.1:8080/metrics | awk '/^hookline_sink_lag_events\{/ && $2 != 0') ]]; do sleep 0.05; done
    caught=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", e - s}')
    extra="lag_at_stop=[ $behind] caught_up_s=$caught"
  fi
  local tck; tck=$(getconf CLK_TCK)
  kill -TERM "$pid"; wait "$pid" || true
  printf 'hookline, %-9s ' "$name:"
  echo "$(summary <<<"$result")server_us_per_req=$(( (t1 - t0) * 1000000 / tck / requests )) $extra"
}

for _ in $(seq "$runs"); do
  run none "$work/nosinks.toml"
  run sinks "$work/sinks.toml"
done
