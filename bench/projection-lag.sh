#!/usr/bin/env bash
# bench/projection-lag.sh [SECONDS]: how far the conversation projection trails the event log under load.
#
# Starts `hookline serve` (release build) on a fresh SQLite store, loads it with `hookline load` (builtin
# mix, 64 connections) and samples `hookline_projection_lag_events` from /metrics every 50 ms. Prints the
# load's summary, the lag's median, p99 and maximum in events and, divided by the acknowledged event rate,
# in milliseconds, and how long the projection took to catch up once the load stopped.
set -euo pipefail

secs="${1:-10}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${BENCH_DIR:-/tmp/hookline-bench}"
secret="bench-secret"
mkdir -p "$work"
rm -f "$work"/lag.db*
"$root/target/release/hookline" serve --app-secret "$secret" --listen 127.0.0.1:8080 \
  --database "sqlite://$work/lag.db" 2>"$work/lag-serve.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
sleep 1

lag() { curl -s 127.0.0.1:8080/metrics | awk '/^hookline_projection_lag_events/ {print $2}'; }
(
  end=$((SECONDS + secs))
  while (( SECONDS < end )); do lag; sleep 0.05; done
) >"$work/lag.samples" &
sampler=$!
report=$("$root/target/release/hookline" load --url http://127.0.0.1:8080/webhook --secret "$secret" \
  --connections 64 --duration "${secs}s" --json)
wait "$sampler"
start=$(date +%s%N)
until [[ "$(lag)" == 0 ]]; do sleep 0.01; done
drain_ms=$(( ($(date +%s%N) - start) / 1000000 ))

python3 - "$work/lag.samples" "$drain_ms" <<PY
import json, sys
report = json.loads('''$report''')
samples = sorted(int(x) for x in open(sys.argv[1]) if x.strip())
rate = report["events_per_s"]
def pct(p): return samples[min(len(samples) - 1, int(p * len(samples)))]
print("load: %.0f events/s acknowledged, p50 %.1f ms, p99 %.1f ms" % (rate, report["latency_us"]["p50"] / 1000, report["latency_us"]["p99"] / 1000))
for name, value in (("median", pct(0.5)), ("p99", pct(0.99)), ("max", samples[-1])):
    print("projection lag %-6s %6d events = %6.1f ms" % (name, value, 1000 * value / rate))
print("caught up %s ms after the load stopped (%d samples)" % (sys.argv[2], len(samples)))
PY
