#!/usr/bin/env bash
# Webhook intake benchmark (issue 4, part 5): signed Messenger webhook POSTs sent by wrk
# (-t1 -c64, 10 s) to
#   - loa serve (release build) on a fresh store per run, one stored Page with the app secret:
#     events durably stored per second (store.durable=true, synchronous=FULL), p50 / p99;
#     and the same with store.durable=false (survives a crash of loa, not of the machine);
#   - the peer: Express 4 checking the same signature (HMAC-SHA256 of the raw body,
#     crypto.timingSafeEqual) and walking entry[].messaging[] (bench/webhook/express.js);
#   - the ceiling: nginx answering `return 200` (1 worker, keepalive_requests high).
# First one message event per request, then 10 per batch. Every mid is distinct (post.lua
# builds the signed requests before the clock starts). Subjects are interleaved in each of
# REPS repetitions; medians are printed as result lines for bench/run.
# After each loa run the store is checked: every request answered 200 must have its events
# stored (/metrics counters and a count of webhook_events), with no duplicates.
#
# Usage: bench/webhook/run.sh BIN_DIR
#   REPS=3 DURATION=10s CONNS=64 HTTP_THREADS=16 POOL1=100000 POOL10=30000
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:?usage: run.sh BIN_DIR}"
loa="$bin/loa"
reps="${REPS:-3}"
duration="${DURATION:-10s}"
conns="${CONNS:-64}"
threads="${HTTP_THREADS:-16}"
pool1="${POOL1:-100000}"   # signed requests built per wrk run, 1 event each
pool10="${POOL10:-30000}"  # ... 10 events each
secret="bench-app-secret-0123456789abcdef"
page=1000
[[ -x "$loa" ]] || { echo "bench/webhook: no loa at $loa (build the release first)" >&2; exit 1; }

# What the benchmark needs: wrk, nginx, node/npm, sqlite3 (scripts/deps.sh --bench), express.
for c in wrk nginx node npm sqlite3 curl; do
    if ! command -v "$c" >/dev/null; then "$root/scripts/deps.sh" --bench >&2; break; fi
done
if [[ ! -d "$here/node_modules/express" ]]; then
    (cd "$here" && npm ci --no-audit --no-fund >&2)
fi

work="$(mktemp -d)"
loa_pid="" express_pid="" nginx_pid=""
cleanup() {
    for p in $loa_pid $express_pid $nginx_pid; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $loa_pid $express_pid $nginx_pid; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
printf '%s\n' "$secret" >"$work/secret"
printf 'bench-page-token\n' >"$work/token"
export WH_SECRET="$secret" WH_PAGE="$page" WH_PEOPLE="${PEOPLE:-2000}"

wait_port() { # FILE PID
    for _ in $(seq 200); do
        [[ -s "$1" ]] && { cat "$1"; return; }
        kill -0 "$2" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench/webhook: server did not start" >&2
    return 1
}

free_port() {
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# The peer and the ceiling run for the whole benchmark (warm, idle while the others run).
WH_SECRET="$secret" node "$here/express.js" "$work/express.port" 2>"$work/express.log" &
express_pid=$!
express_port="$(wait_port "$work/express.port" "$express_pid")"

nginx_port="$(free_port)"
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    keepalive_requests 10000000;
    keepalive_timeout 65s;
    client_max_body_size 1m;
    server {
        listen 127.0.0.1:$nginx_port backlog=4096;
        location / { default_type text/plain; return 200 'EVENT_RECEIVED'; }
    }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$nginx_port/" >/dev/null && break; sleep 0.05; done

# loa on a fresh store: loa_start DURABLE NAME
loa_start() {
    local dir="$work/$2"
    mkdir -p "$dir"
    "$loa" --store "$dir/loa.db" --log-level warn init >/dev/null
    "$loa" --store "$dir/loa.db" --log-level warn page add --id "$page" --name Bench \
        --token-file "$work/token" --app-secret-file "$work/secret" >/dev/null
    LOA_STORE_DURABLE="$1" LOA_HTTP_THREADS="$threads" LOA_WEBHOOK_APP_SECRET="$secret" \
        LOA_WEBHOOK_PROFILES=false LOA_GRAPH_URL=http://127.0.0.1:9 \
        "$loa" --store "$dir/loa.db" --listen 127.0.0.1:0 serve --port-file "$dir/port" \
        2>"$dir/log" &
    loa_pid=$!
    loa_dir="$dir"
    loa_port="$(wait_port "$dir/port" "$loa_pid")"
}

# Stops loa and checks its store: EVENTS_PER_REQ OK_REQUESTS -> sets check="ok ..." or "MISMATCH ..."
loa_verify() {
    local per="$1" ok="$2" m stored dups rows
    # Requests still in flight when wrk stopped are finished by loa: wait until the counters
    # stop moving before reading them.
    local prev=-1
    for _ in $(seq 50); do
        m="$(curl -sf "http://127.0.0.1:$loa_port/metrics")"
        stored="$(awk '/^loa_webhook_events_total/ {s += $2} END {print s + 0}' <<<"$m")"
        ((stored == prev)) && break
        prev=$stored
        sleep 0.2
    done
    dups="$(awk '$1 == "loa_webhook_duplicates_total" {print $2}' <<<"$m")"
    kill -TERM "$loa_pid"
    wait "$loa_pid" || true
    loa_pid=""
    rows="$(sqlite3 "$loa_dir/loa.db" 'SELECT count(*) FROM webhook_events')"
    local want=$((ok * per)) slack=$((conns * per))
    # wrk stops counting at the deadline; up to CONNS requests in flight may still be stored.
    if ((stored == rows && dups == 0 && rows >= want && rows <= want + slack)); then
        check="ok stored=$rows acked_events=$want"
    else
        check="MISMATCH stored=$rows metrics=$stored duplicates=$dups acked_events=$want"
    fi
    rm -rf "$loa_dir"
}

# One wrk run: SUBJECT PORT EVENTS TAG -> sets rps p50 p99 okreq and checks errors.
bench_one() {
    local subject="$1" port="$2" per="$3" tag="$4" pool out non2xx sockerr wraps
    pool=$pool1
    ((per == 10)) && pool=$pool10
    out="$(WH_EVENTS="$per" WH_POOL="$pool" WH_TAG="$tag" \
        wrk -t1 -c"$conns" -d"$duration" -s "$here/post.lua" "http://127.0.0.1:$port/")"
    rps="$(awk '$1 == "requests/s" {print $2}' <<<"$out")"
    p50="$(awk '$1 == "p50_ms" {print $2}' <<<"$out")"
    p99="$(awk '$1 == "p99_ms" {print $2}' <<<"$out")"
    non2xx="$(awk '$1 == "non_2xx" {print $2}' <<<"$out")"
    sockerr="$(awk '$1 == "sock_errors" {print $2}' <<<"$out")"
    timeouts="$(awk '$1 == "timeouts" {print $2}' <<<"$out")"
    wraps="$(awk '$1 == "wrapped" {print $2}' <<<"$out")"
    local total
    total="$(awk '$1 == "requests" {print $2}' <<<"$out")"
    okreq=$((total - non2xx))
    echo "  $subject x$per: $rps req/s, p50 $p50 ms, p99 $p99 ms, non-2xx $non2xx," \
        "socket errors $sockerr, over 2 s $timeouts, pool wrapped $wraps" >&2
    if ((non2xx > 0 || sockerr > 0)); then errors+=("$subject x$per: non-2xx $non2xx, socket errors $sockerr"); fi
    if [[ "$subject" == loa* ]] && ((wraps > 0)); then
        errors+=("$subject x$per: request pool wrapped (raise POOL$per)")
    fi
}

declare -A R P50 P99 T
errors=()
checks=()
for rep in $(seq "$reps"); do
    echo "== rep $rep" >&2
    for per in 1 10; do
        for durable in true false; do
            name="loa-d$durable"
            loa_start "$durable" "r$rep-$per-$durable"
            bench_one "$name" "$loa_port" "$per" "r${rep}e${per}d${durable}"
            loa_verify "$per" "$okreq"
            echo "  $name x$per store check: $check" >&2
            [[ "$check" == ok* ]] || errors+=("$name x$per rep $rep: $check")
            checks+=("$check")
            R[$name,$per]+="$rps " P50[$name,$per]+="$p50 " P99[$name,$per]+="$p99 " T[$name,$per]+="$timeouts "
        done
        bench_one express "$express_port" "$per" "r${rep}e${per}x"
        R[express,$per]+="$rps " P50[express,$per]+="$p50 " P99[express,$per]+="$p99 " T[express,$per]+="$timeouts "
        bench_one nginx "$nginx_port" "$per" "r${rep}e${per}n"
        R[nginx,$per]+="$rps " P50[nginx,$per]+="$p50 " P99[nginx,$per]+="$p99 " T[nginx,$per]+="$timeouts "
    done
done
echo "express stats: $(curl -sf "http://127.0.0.1:$express_port/stats")" >&2

med() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ev() { awk -v r="$1" -v n="$2" 'BEGIN {printf "%.0f", r * n}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

wrkset="wrk -t1 -c$conns $duration, median of $reps"
for per in 1 10; do
    unit="1 event/request"
    ((per == 10)) && unit="10 events/batch"
    ld="$(med "${R[loa-dtrue,$per]}")" ln="$(med "${R[loa-dfalse,$per]}")"
    ex="$(med "${R[express,$per]}")" ng="$(med "${R[nginx,$per]}")"
    ld_ev="$(ev "$ld" "$per")" ln_ev="$(ev "$ln" "$per")" ex_ev="$(ev "$ex" "$per")"
    echo "result|webhook|loa serve, durable ($unit)|events/s|$ld_ev|events/s|$wrkset; $ld req/s; runs (req/s): ${R[loa-dtrue,$per]% }; stored = acked, checked each run"
    echo "result|webhook|loa serve, durable ($unit)|p50 / p99|$(med "${P50[loa-dtrue,$per]}") / $(med "${P99[loa-dtrue,$per]}")|ms|synchronous=FULL, http.threads=$threads; answers over 2 s per run: ${T[loa-dtrue,$per]% }"
    echo "result|webhook|loa serve, durable=false ($unit)|events/s|$ln_ev|events/s|store.durable=false (crash-safe, not power-loss-safe); runs (req/s): ${R[loa-dfalse,$per]% }"
    echo "result|webhook|loa serve, durable=false ($unit)|p50 / p99|$(med "${P50[loa-dfalse,$per]}") / $(med "${P99[loa-dfalse,$per]}")|ms|answers over 2 s per run: ${T[loa-dfalse,$per]% }"
    echo "result|webhook|Express 4 + HMAC (peer) ($unit)|events/s|$ex_ev|events/s|verify + walk, stores nothing; runs (req/s): ${R[express,$per]% }"
    echo "result|webhook|Express 4 + HMAC (peer) ($unit)|p50 / p99|$(med "${P50[express,$per]}") / $(med "${P99[express,$per]}")|ms|answers over 2 s per run: ${T[express,$per]% }"
    echo "result|webhook|nginx return 200 (ceiling) ($unit)|requests/s|$ng|req/s|no verification; runs: ${R[nginx,$per]% }"
    echo "result|webhook|loa / Express ($unit)|ratio|$(ratio "$ld_ev" "$ex_ev")|x|durable; target >= 4; durable=false: $(ratio "$ln_ev" "$ex_ev")x"
    echo "result|webhook|loa / nginx ($unit)|ratio|$(ratio "$ld" "$ng")|x|requests/s, durable"
done
if ((${#errors[@]})); then
    printf 'bench/webhook: %s\n' "${errors[@]}" >&2
    echo "result|webhook|CHECK FAILED|errors|${#errors[@]}||${errors[*]}"
else
    echo "result|webhook|store check (every loa run)|acked = stored|${#checks[@]}/${#checks[@]}|runs|no duplicates, no non-2xx"
fi
