#!/usr/bin/env bash
# bench/soak.sh [MINUTES] [RATE] [WINDOW_SECONDS]: a long steady run of `hookline serve` (release build, SQLite
# store on a fresh file) under `hookline load` at a fixed open-loop RATE of unique signed deliveries
# (default 30 minutes at 4,150 requests/s, half of the capacity measured with the same traffic; see
# BENCHMARKS.md) from a population of $USERS people (default 10,000: the builtin inbox mix, each message,
# echo and receipt in the conversation of one of them; USERS=none for the mix without a population, where
# every receipt comes from a new user), measured window by window (default 60 s) so that
# drift shows: per window the requests answered, non-200s and errors, p50/p99/p99.9 latency (counted from
# when each request was due, so a stall cannot hide), and the server's resident memory (VmRSS) and the
# database size at the window's end. Ends with the first and last windows side by side and the server's
# peak RSS (VmHWM).
#
# Needs release builds of hookline (cargo build --release -p hookline). Writes to $BENCH_DIR
# (default /tmp/hookline-soak); the rows also go to $BENCH_DIR/soak.tsv.
set -euo pipefail

minutes="${1:-30}"
rate="${2:-4150}"
users="${USERS:-10000}"
users_args=(--users "$users")
who="$users users"
[[ $users == none ]] && users_args=() && who="a new user per receipt"
window="${3:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${BENCH_DIR:-/tmp/hookline-soak}"
bin="${HOOKLINE_BIN:-$root/target/release/hookline}"
secret="soak-secret"
addr="127.0.0.1:${PORT:-8089}"
mkdir -p "$work"
rm -f "$work"/hookline.db*

"$bin" serve --app-secret "$secret" --listen "$addr" --database "sqlite://$work/hookline.db" \
  2>"$work/serve.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true' EXIT
until curl -sf "http://$addr/healthz" >/dev/null; do
  kill -0 "$server" 2>/dev/null || { echo "hookline serve exited; see $work/serve.log" >&2; exit 1; }
  sleep 0.1
done

status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$server/status"; }
db_mb() { du -cm "$work"/hookline.db* | awk 'END {print $1}'; }

windows=$(( minutes * 60 / window ))
printf 'soak: %d windows of %ds at %s requests/s from %s against %s (pid %d), started %s UTC\n' \
  "$windows" "$window" "$rate" "$who" "$addr" "$server" "$(date -u +%H:%M:%S)"
header="window\tend_utc\tresponses\trps\tnon200\terrors\tp50_ms\tp99_ms\tp999_ms\tmax_ms\trss_mb\tdb_mb\tloadavg"
printf "$header\n" | tee "$work/soak.tsv"
for ((w = 1; w <= windows; w++)); do
  report=$("$bin" load --url "http://$addr/webhook" --secret "$secret" --rate "$rate" "${users_args[@]}" \
    --duration "${window}s" --connections 64 --json)
  row=$(python3 - "$w" "$report" "$(status_kb VmRSS)" "$(db_mb)" <<'PY'
import json, sys, os, time
w, report, rss_kb, db_mb = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
lat = report["latency_us"]
non200 = sum(n for code, n in report["status"].items() if code != "200")
errors = sum(report["errors"].values())
ms = lambda us: f"{us / 1000:.2f}"
print("\t".join([w, time.strftime("%H:%M:%S", time.gmtime()), str(report["responses"]),
                 f"{report['rps']:.0f}", str(non200), str(errors), ms(lat["p50"]), ms(lat["p99"]),
                 ms(lat["p99.9"]), ms(lat["max"]), f"{rss_kb / 1024:.1f}", db_mb,
                 f"{os.getloadavg()[0]:.2f}"]))
PY
)
  printf '%s\n' "$row" | tee -a "$work/soak.tsv"
done

hwm=$(status_kb VmHWM)
python3 - "$work/soak.tsv" "$hwm" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
if len(rows) < 2:
    sys.exit(0)
first, last = rows[0], rows[-1]
steady = rows[1:]
def col(name, rs=steady):
    return [float(r[name]) for r in rs]
print(f"first window: p50 {first['p50_ms']} ms, p99 {first['p99_ms']} ms, rss {first['rss_mb']} MB")
print(f"last window:  p50 {last['p50_ms']} ms, p99 {last['p99_ms']} ms, rss {last['rss_mb']} MB")
print(f"windows 2..{len(rows)}: p99 min/median/max {min(col('p99_ms')):.2f} / "
      f"{sorted(col('p99_ms'))[len(steady) // 2]:.2f} / {max(col('p99_ms')):.2f} ms; "
      f"rss min/max {min(col('rss_mb')):.1f} / {max(col('rss_mb')):.1f} MB")
print(f"responses {sum(int(r['responses']) for r in rows)}, non-200 {sum(int(r['non200']) for r in rows)}, "
      f"errors {sum(int(r['errors']) for r in rows)}; peak rss (VmHWM) {int(sys.argv[2]) / 1024:.1f} MB")
PY
