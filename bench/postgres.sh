#!/usr/bin/env bash
# bench/postgres.sh [SECONDS] [RUNS]: acknowledged durable deliveries/s of `hookline serve` on the embedded
# SQLite store, on PostgreSQL with one instance, and on PostgreSQL with two instances sharing the database,
# back to back, each loaded by the harness's wrk at 64 connections (two instances: one wrk of 32 connections
# on each, with bodies of their own so the two loads do not repeat each other's mids).
#
# Needs ../shared/bench (the wrk harness) beside this repository, Debian's wrk and psql, a release build
# (cargo build --release -p hookline), and PostgreSQL at PG_URL (default
# postgres://postgres@127.0.0.1:5432/test); the runs use the schema hookline_bench, dropped before each.
set -euo pipefail

secs="${1:-10}"
runs="${2:-2}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
harness="$root/../shared/bench"
work="${BENCH_DIR:-/tmp/hookline-bench}"
secret="bench-secret"
bin="${HOOKLINE_BIN:-$root/target/release/hookline}"
pg="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
schema=hookline_bench
mkdir -p "$work"
bodies="$work/bodies.dat"
bodies_b="$work/bodies-b.dat"
[[ -s "$bodies" ]] || python3 "$harness/gen_bodies.py" -n 300000 -s "$secret" -o "$bodies"
# Without the first fixture, request i uses another fixture than in bodies.dat, so its mids differ.
first=$(basename "$(ls "$harness"/../fixtures/meta/*.json | head -1)" .json)
[[ -s "$bodies_b" ]] || python3 "$harness/gen_bodies.py" -n 300000 -s "$secret" --exclude "^$first" -o "$bodies_b"

summary() { grep -oE '(requests|rps|p50_ms|p99_ms|non2xx)=[0-9.]*' | tr '\n' ' '; }
ticks() { local f; f=$(cat "/proc/$1/stat"); f=${f##*) }; set -- $f; echo $(( ${12} + ${13} )); }
field() { grep -oE "$1=[0-9.]+" | cut -d= -f2; }

# start PORT DATABASE: a hookline serve in the background; prints its pid.
start() {
  "$bin" serve --app-secret "$secret" --listen "127.0.0.1:$1" --database "$2" >"$work/serve-$1.log" 2>&1 &
  echo $!
}

# stop PID...: SIGTERM, then wait until they are gone (they are not this shell's children).
stop() { kill -TERM "$@"; for p in "$@"; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done; }

wait_ready() { for _ in $(seq 100); do curl -sf "127.0.0.1:$1/readyz" >/dev/null && return; sleep 0.1; done; echo "port $1 not ready" >&2; exit 1; }

fresh_schema() { psql -q "$pg" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1; }

stored_events() { psql -qtA "$pg" -c "SELECT count(*) FROM $schema.events"; }

one() {
  local name=$1 database=$2
  local pid; pid=$(start 8080 "$database"); wait_ready 8080
  local t0 result t1 requests
  t0=$(ticks "$pid")
  result=$(BODIES="$bodies" SERVER_PIDS=$pid bash "$harness/run.sh" http://127.0.0.1:8080/webhook "$secs" 64 2>&1 | tail -1)
  t1=$(ticks "$pid")
  requests=$(field requests <<<"$result")
  local extra=""
  [[ $name == sqlite ]] || extra="events_stored=$(stored_events)"
  stop "$pid"
  printf '%-22s %s hookline_us_per_req=%d machine_busy_pct=%s %s\n' "$name:" "$(summary <<<"$result")" \
    $(( (t1 - t0) * 1000000 / $(getconf CLK_TCK) / requests )) "$(field machine_busy_pct <<<"$result")" "$extra"
}

two() {
  fresh_schema
  local database="$pg?schema=$schema"
  local a b; a=$(start 8080 "$database"); wait_ready 8080; b=$(start 8081 "$database"); wait_ready 8081
  local t0 t1 ra rb
  t0=$(( $(ticks "$a") + $(ticks "$b") ))
  BODIES="$bodies" THREADS=1 bash "$harness/run.sh" http://127.0.0.1:8080/webhook "$secs" 32 >"$work/a.out" 2>&1 &
  local wa=$!
  BODIES="$bodies_b" THREADS=1 bash "$harness/run.sh" http://127.0.0.1:8081/webhook "$secs" 32 >"$work/b.out" 2>&1
  wait "$wa"
  t1=$(( $(ticks "$a") + $(ticks "$b") ))
  ra=$(tail -1 "$work/a.out"); rb=$(tail -1 "$work/b.out")
  local requests=$(( $(field requests <<<"$ra") + $(field requests <<<"$rb") ))
  local rps; rps=$(awk -v x="$(field rps <<<"$ra")" -v y="$(field rps <<<"$rb")" 'BEGIN {printf "%.1f", x + y}')
  local events; events=$(stored_events)
  stop "$a" "$b"
  printf '%-22s requests=%d rps=%s (%s + %s) p99_ms=%s/%s non2xx=%s/%s hookline_us_per_req=%d events_stored=%s\n' \
    "postgres, 2 instances:" "$requests" "$rps" "$(field rps <<<"$ra")" "$(field rps <<<"$rb")" \
    "$(field p99_ms <<<"$ra")" "$(field p99_ms <<<"$rb")" "$(field non2xx <<<"$ra")" "$(field non2xx <<<"$rb")" \
    $(( (t1 - t0) * 1000000 / $(getconf CLK_TCK) / requests )) "$events"
}

for _ in $(seq "$runs"); do
  rm -f "$work"/hookline.db*
  one sqlite "sqlite://$work/hookline.db"
  fresh_schema
  one "postgres, 1 instance" "$pg?schema=$schema"
  two
done
