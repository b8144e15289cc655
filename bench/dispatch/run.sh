#!/usr/bin/env bash
# Campaign dispatch benchmark: PAGES Pages x PEOPLE people (default 1,000 x 200 = 200,000
# deliveries) sent to loa-graph, which enforces Meta's 300 sends/s per Page. Three subjects,
# interleaved in each of REPS repetitions, against the same loa-graph process:
#
#   - loa serve (release): `loa simulate` creates the Pages (send rate 300/s, daily cap raised
#     so it does not bind), the people (inside the 24 h window) and one started campaign per
#     Page over everyone, in loa's store and in loa-graph (not timed). The clock runs from the
#     start of `loa serve` until no campaign is left running (store polled every 200 ms).
#     Every delivery is claimed and settled in the store (store.durable=true: synchronous=FULL).
#   - the peer: bench/dispatch/peer.js, a Node.js sender on messaging-api-messenger@1.1.0 (one
#     MessengerClient per Page, 64 sends in flight) sending the same text to the same people,
#     recording nothing. Timed from its start to its exit.
#   - the ceiling: wrk -t1 -c64 posting a valid text send (bench/emu/send.lua) to loa-graph,
#     one Page with the rate limit lifted.
#
# messages/s = loa-graph's accepted count / elapsed. Peak RSS: VmHWM of loa serve just before
# it is stopped; the peer's own ru_maxrss. After every loa and peer run: loa-graph refused
# nothing and counts no violation, its log.ndjson holds every (Page, PSID) exactly once; for
# loa also every delivery is `sent` in the store and every campaign completed.
#
# Usage: bench/dispatch/run.sh BIN_DIR
#   PAGES=1000 PEOPLE=200 REPS=3 CONC=64 DURATION=10s GRAPH_THREADS=2 SEED=7 TIMEOUT=900
#   PERF_OUT=FILE   record `perf record --call-graph dwarf` of loa serve during the first run
# Needs wrk, node, sqlite3, curl (scripts/deps.sh --bench) and tests/node's node_modules
# (`npm ci` in tests/node); installs nothing itself.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$(cd "${1:?usage: run.sh BIN_DIR}" && pwd)"
loa="$bin/loa"
graph="$bin/loa-graph"
pages="${PAGES:-1000}"
people="${PEOPLE:-200}"
reps="${REPS:-3}"
conc="${CONC:-64}"
duration="${DURATION:-10s}"
graph_threads="${GRAPH_THREADS:-2}"
seed="${SEED:-7}"
timeout_s="${TIMEOUT:-900}"
rate=300
total=$((pages * people))

for f in "$loa" "$graph"; do
    [[ -x "$f" ]] || { echo "bench/dispatch: no $f (build the release first)" >&2; exit 1; }
done
for c in wrk node sqlite3 curl; do
    command -v "$c" >/dev/null ||
        { echo "bench/dispatch: $c missing; run scripts/deps.sh --bench" >&2; exit 1; }
done
[[ -d "$root/tests/node/node_modules/messaging-api-messenger" ]] ||
    { echo "bench/dispatch: messaging-api-messenger missing; run npm ci in tests/node" >&2; exit 1; }
"$loa" simulate --help >/dev/null 2>&1 ||
    { echo "bench/dispatch: this loa has no 'simulate' command" >&2; exit 1; }

work="$(mktemp -d)"
graph_pid="" loa_pid="" peer_pid=""
cleanup() {
    for p in $loa_pid $peer_pid $graph_pid; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $loa_pid $peer_pid $graph_pid; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$graph" --listen 127.0.0.1:0 --port-file "$work/graph.port" --threads "$graph_threads" \
    --rate-limit "$rate" 2>"$work/graph.log" &
graph_pid=$!
for _ in $(seq 100); do [[ -s "$work/graph.port" ]] && break; sleep 0.05; done
G="http://127.0.0.1:$(cat "$work/graph.port")"
echo "loa-graph at $G (threads $graph_threads, rate limit $rate/s per Page, webhooks off)" >&2

gget() { curl -sf "$G/_admin/$1"; }
gpost() { curl -sf -X POST "$G/_admin/$1" -H 'Content-Type: application/json' -d "$2"; }
# jnum KEY JSON: the first integer field KEY of JSON, 0 when there is none.
jnum() {
    local v
    v="$(grep -o "\"$1\":[0-9]*" <<<"$2" | head -n1 | cut -d: -f2 || true)"
    echo "${v:-0}"
}

# The message both senders send; loa personalises it, the peer formats the same string.
cat >"$work/blocks.json" <<'EOF'
{"blocks":[{"type":"text","text":"Xin chào {{first_name|bạn}}! Đơn hàng của bạn đã được gửi đi."}]}
EOF

# Checks loa-graph after a run: SUBJECT -> appends to errors, sets gstats
graph_check() {
    local subject="$1" stats v
    stats="$(gget stats)"
    gaccepted="$(jnum accepted "$stats")"
    v="$(jnum violations "$stats")"
    local refused rl
    refused="$(jnum refused "$stats")" rl="$(jnum rate_limited "$stats")"
    gstats="accepted $gaccepted, refused $refused, violations $v, rate-limited $rl"
    ((v == 0 && refused == 0)) || errors+=("$subject rep $rep: $gstats")
    ((gaccepted == total)) || errors+=("$subject rep $rep: loa-graph accepted $gaccepted of $total")
    local log
    log="$(node "$here/graph.js" verify "$G" "$work/people.tsv")" ||
        errors+=("$subject rep $rep: log.ndjson check: $log")
    gstats+="; log.ndjson: $log"
}

# One loa run -> sets loa_rate loa_rss loa_cpu
run_loa() {
    local dir="$work/loa-$rep"
    mkdir -p "$dir"
    export LOA_STORE="$dir/loa.db" LOA_GRAPH_URL="$G" LOA_LOG_LEVEL=warn LOA_WEBHOOK_PROFILES=false
    gpost reset '{}' >/dev/null
    "$loa" init >/dev/null
    local t=$SECONDS
    "$loa" simulate --pages "$pages" --people "$people" --outside-percent 0 --seed "$seed" \
        --rate "$rate" --daily-cap 1000000 --campaign "$work/blocks.json" --start --json \
        >"$dir/simulate.json"
    echo "  loa setup (simulate, not timed): $((SECONDS - t)) s" >&2
    local q='SELECT count(*) FROM campaigns WHERE status = '\''running'\'''
    local running
    running="$(sqlite3 "$LOA_STORE" "$q")"
    echo "  store: $running running campaigns; deliveries, min/max send_rate, min daily_cap:" \
        "$(sqlite3 "$LOA_STORE" 'SELECT (SELECT count(*) FROM deliveries), min(send_rate),
            max(send_rate), min(daily_cap) FROM pages')" >&2
    ((running == pages)) ||
        errors+=("loa rep $rep: $running running campaigns after simulate, want $pages")
    # Who should get a message, for the log check (and, from the first run, for the peer).
    sqlite3 -separator $'\t' "$LOA_STORE" \
        "SELECT p.page_id, d.psid, coalesce(s.first_name, ''), coalesce(s.last_name, '')
           FROM deliveries d JOIN pages p ON p.id = d.page_ref
           LEFT JOIN subscribers s ON s.id = d.subscriber_id
          ORDER BY d.page_ref, d.position" >"$work/people.tsv"
    gget pages >"$work/pages.json"
    local before
    before="$(jnum accepted "$(gget stats)")"

    local t0 t1 left
    t0="$(date +%s%N)"
    "$loa" --listen 127.0.0.1:0 serve 2>"$dir/serve.log" &
    loa_pid=$!
    local perf_pid=""
    if [[ -n "${PERF_OUT:-}" && $rep == 1 ]]; then
        perf record --call-graph dwarf,16384 -F 499 -o "$PERF_OUT" -p "$loa_pid" 2>"$work/perf.log" &
        perf_pid=$!
    fi
    while :; do
        left="$(sqlite3 -cmd '.timeout 5000' "$LOA_STORE" "$q" 2>/dev/null || echo -1)"
        [[ "$left" == 0 ]] && break
        kill -0 "$loa_pid" 2>/dev/null || { errors+=("loa rep $rep: loa serve died"); break; }
        if (($(date +%s%N) - t0 > timeout_s * 1000000000)); then
            errors+=("loa rep $rep: $left campaigns still running after $timeout_s s")
            break
        fi
        sleep 0.2
    done
    t1="$(date +%s%N)"
    if [[ -n "$perf_pid" ]]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
    loa_rss="$(awk '$1 == "VmHWM:" {printf "%.0f", $2 / 1024}' "/proc/$loa_pid/status" || echo 0)"
    loa_cpu="$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' \
        "/proc/$loa_pid/stat" || echo 0)"
    kill -TERM "$loa_pid"
    wait "$loa_pid" || errors+=("loa rep $rep: loa serve exited $?")
    loa_pid=""
    local ms=$(((t1 - t0) / 1000000))
    graph_check loa
    local sent notsent
    sent="$(sqlite3 "$LOA_STORE" "SELECT count(*) FROM deliveries WHERE state = 'sent'")"
    notsent="$(sqlite3 "$LOA_STORE" "SELECT group_concat(state || ':' || coalesce(reason, '')
        || '=' || n) FROM (SELECT state, reason, count(*) n FROM deliveries
        WHERE state <> 'sent' GROUP BY 1, 2)")"
    ((sent == total)) || errors+=("loa rep $rep: $sent deliveries sent of $total (others: $notsent)")
    local unfinished
    unfinished="$(sqlite3 "$LOA_STORE" "SELECT group_concat(status || '=' || n) FROM
        (SELECT status, count(*) n FROM campaigns WHERE status <> 'completed' GROUP BY 1)")"
    [[ -z "$unfinished" ]] || errors+=("loa rep $rep: campaigns not completed: $unfinished")
    loa_rate="$(awk -v n="$((gaccepted - before))" -v ms="$ms" 'BEGIN {printf "%.0f", n * 1000 / ms}')"
    echo "  loa serve: $((gaccepted - before)) accepted in $ms ms = $loa_rate msg/s," \
        "peak RSS $loa_rss MiB, CPU $loa_cpu s; store: $sent sent${notsent:+, $notsent};" \
        "loa-graph: $gstats" >&2
    unset LOA_STORE LOA_GRAPH_URL LOA_LOG_LEVEL LOA_WEBHOOK_PROFILES
    rm -rf "$dir"
}

# One peer run -> sets peer_rate peer_rss peer_cpu
run_peer() {
    gpost reset '{}' >/dev/null
    node "$here/graph.js" load "$G" "$work/pages.json" "$work/people.tsv" >/dev/null
    local t0 t1 out
    t0="$(date +%s%N)"
    timeout "$timeout_s" node "$here/peer.js" "$G" "$work/pages.json" "$work/people.tsv" "$conc" \
        >"$work/peer.out" &
    peer_pid=$!
    wait "$peer_pid" || errors+=("peer rep $rep: exited $?")
    peer_pid=""
    t1="$(date +%s%N)"
    out="$(cat "$work/peer.out")"
    local ms=$(((t1 - t0) / 1000000))
    graph_check peer
    peer_rss="$(($(jnum max_rss_kib "$out") / 1024))"
    peer_cpu="$(awk -v ms="$(jnum cpu_ms "$out")" 'BEGIN {printf "%.1f", ms / 1000}')"
    peer_rate="$(awk -v n="$gaccepted" -v ms="$ms" 'BEGIN {printf "%.0f", n * 1000 / ms}')"
    echo "  peer: $gaccepted accepted in $ms ms = $peer_rate msg/s, peak RSS $peer_rss MiB," \
        "CPU $peer_cpu s; $out; loa-graph: $gstats" >&2
}

# One wrk run -> sets wrk_rate
run_wrk() {
    gpost reset '{}' >/dev/null
    gpost pages '{"id":"1000","name":"Bench Page","access_token":"BENCH_TOKEN"}' >/dev/null
    local now out
    now="$(jnum now_ms "$(gget clock)")"
    gpost people "{\"page_id\":\"1000\",\"psid\":\"bench-user\",\"first_name\":\"Bench\",
        \"last_action_at\":$now}" >/dev/null
    gpost config '{"rate_limit_per_s":0}' >/dev/null
    out="$(LOA_BENCH_TOKEN=BENCH_TOKEN LOA_BENCH_PSID=bench-user \
        wrk -t1 -c64 -d"$duration" -s "$root/bench/emu/send.lua" "$G")"
    gpost config "{\"rate_limit_per_s\":$rate}" >/dev/null
    gpost reset '{}' >/dev/null
    wrk_rate="$(awk '$1 == "requests/s" {print $2}' <<<"$out")"
    local non2xx
    non2xx="$(awk '$1 == "non_2xx" {print $2}' <<<"$out")"
    ((non2xx == 0)) || errors+=("wrk rep $rep: $non2xx non-2xx answers")
    echo "  wrk: $wrk_rate req/s, p50 $(awk '$1 == "p50_ms" {print $2}' <<<"$out") ms," \
        "p99 $(awk '$1 == "p99_ms" {print $2}' <<<"$out") ms, non-2xx $non2xx" >&2
}

errors=()
L_RATE=() L_RSS=() L_CPU=() P_RATE=() P_RSS=() P_CPU=() W_RATE=()
for rep in $(seq "$reps"); do
    echo "== rep $rep: $pages Pages x $people people = $total deliveries" >&2
    run_loa
    L_RATE+=("$loa_rate") L_RSS+=("$loa_rss") L_CPU+=("$loa_cpu")
    run_peer
    P_RATE+=("$peer_rate") P_RSS+=("$peer_rss") P_CPU+=("$peer_cpu")
    run_wrk
    W_RATE+=("$wrk_rate")
done

med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
lr="$(med "${L_RATE[@]}")" lm="$(med "${L_RSS[@]}")" lc="$(med "${L_CPU[@]}")"
pr="$(med "${P_RATE[@]}")" pm="$(med "${P_RSS[@]}")" pc="$(med "${P_CPU[@]}")" wr="$(med "${W_RATE[@]}")"
ratio="$(awk -v a="$lr" -v b="$pr" 'BEGIN {printf "%.2f", a / b}')"
ceil="$(awk -v a="$lr" -v b="$wr" 'BEGIN {printf "%.2f", a / b}')"
size="$pages Pages x $people = $total deliveries, 300/s per Page; median of $reps"
echo "result|dispatch|loa serve (durable)|messages/s|$lr|msg/s|$size; runs: ${L_RATE[*]}; each delivery claimed + settled in the store; CPU ${lc} s (runs: ${L_CPU[*]})"
echo "result|dispatch|loa serve (durable)|peak RSS|$lm|MiB|VmHWM; runs: ${L_RSS[*]}"
echo "result|dispatch|Node messaging-api-messenger (peer)|messages/s|$pr|msg/s|$conc in flight, records nothing; runs: ${P_RATE[*]}; CPU ${pc} s (runs: ${P_CPU[*]})"
echo "result|dispatch|Node messaging-api-messenger (peer)|peak RSS|$pm|MiB|ru_maxrss; runs: ${P_RSS[*]}"
echo "result|dispatch|wrk -> loa-graph send (ceiling)|requests/s|$wr|req/s|wrk -t1 -c64 $duration, one Page, no rate limit; runs: ${W_RATE[*]}"
echo "result|dispatch|loa / peer|ratio|$ratio|x|target >= 10; loa / ceiling ${ceil}x"
if ((${#errors[@]})); then
    printf 'bench/dispatch: %s\n' "${errors[@]}" >&2
    echo "result|dispatch|CHECK FAILED|errors|${#errors[@]}||${errors[*]}"
else
    echo "result|dispatch|checks (every run)|passed|$((2 * reps))/$((2 * reps))|runs|all sent + completed in the store (loa), log.ndjson each (Page, PSID) once, 0 violations, 0 refused"
fi

echo
echo "dispatch: $size (machine: $(nproc) vCPU)"
printf '%-40s %12s %10s\n' subject msg/s 'peak RSS'
printf '%-40s %12s %10s\n' "loa serve (durable)" "$lr" "$lm MiB"
printf '%-40s %12s %10s\n' "Node messaging-api-messenger, c=$conc" "$pr" "$pm MiB"
printf '%-40s %12s %10s\n' "wrk -> loa-graph (ceiling, req/s)" "$wr" "-"
printf '%-40s %12s\n' "loa / peer" "${ratio}x"
