#!/usr/bin/env bash
# Benchmark: loa-graph answering valid text sends on loopback.
#
#   bench/emu/run.sh [path/to/loa-graph] [runs]
#
# Starts loa-graph (release build: $1, else build/bin/loa-graph), creates a Page and a person
# inside the messaging window, lifts the rate limit, runs `wrk -t1 -c64 -d10s` posting a valid
# text send `runs` times (default 3) and prints requests/s and p50/p99 latency of each run, then
# the line `loa-graph  <req/s>` (median of the runs) for the bench runner.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/build/bin/loa-graph}"
[[ -d "$bin" ]] && bin="$bin/loa-graph" # bench/run passes the bin directory
runs="${2:-3}"
duration="${LOA_BENCH_DURATION:-10s}"
[[ -x "$bin" ]] || { echo "bench/emu: no loa-graph at $bin (build the release first)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench/emu: wrk is not installed" >&2; exit 1; }

tmp="$(mktemp -d)"
"$bin" --listen 127.0.0.1:0 --port-file "$tmp/port" --threads "${LOA_BENCH_THREADS:-2}" 2>"$tmp/log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
port="$(cat "$tmp/port")"
base="http://127.0.0.1:$port"
admin() { curl -sf -X POST "$base/_admin/$1" -H 'Content-Type: application/json' -d "$2" >/dev/null; }
admin pages '{"id":"1000","name":"Bench Page","access_token":"BENCH_TOKEN"}'
now="$(curl -sf "$base/_admin/clock" | sed -E 's/.*"now_ms":([0-9]+).*/\1/')"
admin people "{\"page_id\":\"1000\",\"psid\":\"bench-user\",\"first_name\":\"Bench\",\"last_action_at\":$now}"
admin config '{"rate_limit_per_s":0}'

export LOA_BENCH_TOKEN=BENCH_TOKEN LOA_BENCH_PSID=bench-user
results=() p50s=() p99s=()
for i in $(seq "$runs"); do
    out="$(wrk -t1 -c64 -d"$duration" -s "$here/send.lua" "$base")"
    echo "run $i:"
    echo "$out" | grep -E '^(requests/s|p50_ms|p99_ms|non_2xx)'
    results+=("$(echo "$out" | awk '$1=="loa-graph"{print $2}')")
    p50s+=("$(echo "$out" | awk '$1=="p50_ms"{print $2}')")
    p99s+=("$(echo "$out" | awk '$1=="p99_ms"{print $2}')")
done
stats="$(curl -sf "$base/_admin/stats")"
echo "stats: $stats"
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
median="$(med "${results[@]}")"
echo "loa-graph  $median"
echo "result|emu|loa-graph Send API (wrk -t1 -c64)|requests/s|$median|req/s|median of $runs; target >= 50,000"
echo "result|emu|loa-graph Send API (wrk -t1 -c64)|p50 / p99|$(med "${p50s[@]}") / $(med "${p99s[@]}")|ms|median of $runs"
