#!/usr/bin/env bash
# Drip sequence benchmark (bench/sequence): N people waiting (default 1,000,000), their next step
# due uniformly within SPREAD_S seconds (default 60), drained into a counting sink. Metrics per
# subject: drain (jobs/s from the first due time to the last step processed), lateness p50 / p99
# (processed - due, ms), bytes per waiting person, peak RSS.
#
#   - the peer: BullMQ delayed jobs on a private redis-server (Debian's, no persistence), a
#     fresh one per run, FLUSHALLed: bench/sequence/bullmq.js enqueues N delayed jobs with
#     Queue.addBulk (CHUNK jobs per call, INFLIGHT calls in flight), timestamp + delay = the due
#     time, removeOnComplete: true; a Worker with CONCURRENCY slots and a no-op processor records
#     lateness. Bytes per waiting job = Redis used_memory after the enqueue (nothing due yet)
#     minus before, / N. Peak RSS = Redis VmHWM + the worker's ru_maxrss (the processes that hold
#     and drain the waiting jobs; the producer's is in the note). See bullmq.js for the timeline.
#   - loa: N people waiting in a one-step sequence in loa's store, drained by loa serve into
#     the outbox and sent to loa-graph (rate limit lifted); see run_loa below for the setup
#     (bench/sequence/seqload.c, built here with cc against build/'s static libraries) and how
#     each figure is taken. PAGES=200 Pages share the N people. LOA_LEAD_S overrides the lead.
#     SUBJECTS="bullmq loa" (default) picks the sides; PERF_OUT=FILE records perf of loa serve.
#
# Note: when the subject keeps up, drain = N / SPREAD_S (the arrival rate): the figure only
# measures capacity when the subject falls behind (its lateness then grows through the run).
# SPREAD_S=0 puts every due time at the same instant and so measures the raw drain capacity.
#
# Usage: bench/sequence/run.sh BIN_DIR
#   N=1000000 SPREAD_S=60 REPS=1 CONCURRENCY=300 CHUNK=1000 INFLIGHT=4 SEED=7 TIMEOUT=1800
#   LEAD_S=  (seconds from the start of the enqueue to the first due time; default: calibrated)
#   PAGES=200 LOA_LEAD_S= SUBJECTS="bullmq loa" PERF_OUT=
# Installs what it needs: redis-server, node, npm, jq (scripts/deps.sh --bench) and `npm ci` of
# bullmq + ioredis into bench/sequence/node_modules (git-ignored).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$(cd "${1:?usage: run.sh BIN_DIR}" && pwd)"  # loa and loa-graph
n="${N:-1000000}"
spread="${SPREAD_S:-60}"
reps="${REPS:-1}"
conc="${CONCURRENCY:-300}"
chunk="${CHUNK:-1000}"
inflight="${INFLIGHT:-4}"
seed="${SEED:-7}"
timeout_s="${TIMEOUT:-1800}"

for c in redis-server redis-cli node npm jq; do
    if ! command -v "$c" >/dev/null; then "$root/scripts/deps.sh" --bench >&2; break; fi
done
if [[ ! -d "$here/node_modules/bullmq" || ! -d "$here/node_modules/ioredis" ]]; then
    (cd "$here" && npm ci --no-audit --no-fund >&2)
fi

work="$(mktemp -d)"
redis_pid=""
cleanup() {
    if [[ -n "$redis_pid" ]]; then kill -TERM "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# A private Redis for one run: no RDB snapshots, no AOF, nothing evicted (BullMQ requires
# noeviction), in its own temp dir. Sets redis_port, redis_pid.
redis_start() {
    local dir="$work/redis-$1"
    mkdir -p "$dir"
    redis_port="$(free_port)"
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --maxmemory-policy noeviction --dir "$dir" --logfile "$dir/redis.log" --daemonize no &
    redis_pid=$!
    for _ in $(seq 100); do
        redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && return
        kill -0 "$redis_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench/sequence: redis-server did not start (see $dir/redis.log)" >&2
    cat "$dir/redis.log" >&2 || true
    return 1
}

redis_stop() {
    redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=""
}

errors=()
run_bullmq() {
    local out="$work/bullmq-$rep.json"
    redis_start "$rep"
    echo "  redis-server $(redis-server --version | grep -o 'v=[^ ]*' | cut -d= -f2) on 127.0.0.1:$redis_port (pid $redis_pid)" >&2
    local lead=()
    [[ -n "${LEAD_S:-}" ]] && lead=(--lead "$LEAD_S")
    if ! timeout "$timeout_s" node "$here/bullmq.js" --port "$redis_port" --n "$n" --spread "$spread" \
        --concurrency "$conc" --chunk "$chunk" --inflight "$inflight" --seed "$seed" "${lead[@]}" \
        >"$out"; then
        errors+=("bullmq rep $rep: bullmq.js failed")
        redis_stop
        return
    fi
    redis_stop
    cat "$out" >&2
    jq -c . "$out" >>"$work/bullmq.jsonl"
    local e
    e="$(jq -r '.errors | join("; ")' "$out")"
    [[ -z "$e" ]] || errors+=("bullmq rep $rep: $e")
    jq -r '"  bullmq \(.bullmq): enqueue \(.enqueue_jobs_per_s) jobs/s (lead \(.lead_s) s, slack \(.slack_ms) ms);
  drain \(.drain_jobs_per_s) jobs/s over \(.drain_ms) ms (arrival \(.arrival_jobs_per_s // "all at once") jobs/s);
  lateness p50 \(.lateness_ms.p50) / p90 \(.lateness_ms.p90) / p99 \(.lateness_ms.p99) / max \(.lateness_ms.max) ms;
  \(.bytes_per_waiting) B per waiting job; peak RSS KiB: redis \(.rss_kib.redis), worker \(.rss_kib.worker), producer \(.rss_kib.producer); CPU ms: \(.cpu_ms)"' \
        "$out" >&2
}

# ---------------------------------------------------------------------------------------------
# The loa side: N people waiting in a one-step sequence, their step due uniformly within
# SPREAD_S s (same seed and generator as bullmq.js), in loa's store; loa serve's dispatcher
# drains the timers into the outbox (every tick, 2 s ahead) and sends to loa-graph with the rate
# limit lifted (Graph is not the bottleneck). Per run:
#   setup (timed, not compared): loa-graph --rate-limit 0; `loa simulate` makes PAGES Pages
#     (send rate 300/s each, daily cap 10,000,000) with N / PAGES people each (inside the 24 h
#     window) in loa's store and in loa-graph; `loa sequence create` one active sequence per
#     Page (one text step, any time); bench/sequence/seqload (C, built here against build/'s
#     static libraries) enters everyone through loa_store_enrol_insert() in transactions of
#     10,000, due uniformly in [T0, T0 + SPREAD_S] with T0 = now + LOA_LEAD_S.
#   bytes per waiting person: sqlite3's dbstat, the pages of the enrolments table and its three
#     indexes with everyone waiting, / N (the store's used pages before and after, in the note).
#   the run: loa serve started before T0; the store is polled every 100 ms (max deliveries.id:
#     how many timers have become outbox rows) and loa-graph's stats until it accepted N.
#     drain = N / (last timer into the outbox - first due); drain_sent = N / (last accepted by
#     loa-graph - first due), BullMQ's definition end to end; lateness = loa-graph's at_ms for
#     the person - their due time (node lateness.js: every person exactly once, nobody else).
#     peak RSS: loa serve's VmHWM (loa-graph's in the note); CPU: loa serve's, drain + sends.
#   drain capacity: seqload drain on a copy of the store taken before the run, afterwards
#     (every timer then overdue): loa_sequence_drain(limit 2000) back to back, no sender.
LOA_PAGES="${PAGES:-200}"
loa_lead="${LOA_LEAD_S:-}"
graph_pid="" loa_pid=""
cleanup_loa() {
    for p in $loa_pid $graph_pid; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $loa_pid $graph_pid; do wait "$p" 2>/dev/null || true; done
    loa_pid="" graph_pid=""
}
trap 'cleanup_loa; cleanup' EXIT

# jnum KEY JSON: the first number field KEY of JSON, 0 when there is none.
jnum() { jq -r ".$1 // 0" <<<"$2"; }
vmhwm() { awk '$1 == "VmHWM:" {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

seqload_build() {
    [[ -x "$work/seqload" ]] && return
    local b libs=()
    b="$(cd "$bin/.." && pwd)"
    for m in sequence campaign audience link msg rules schedule config store core; do
        libs+=("$b/src/$m/libloa_$m.a")
    done
    # shellcheck disable=SC2046
    cc -O2 -std=gnu11 -Wall -Wextra -I"$root/include" "$here/seqload.c" -o "$work/seqload" \
        -Wl,--start-group "${libs[@]}" -Wl,--end-group \
        $(pkg-config --libs jansson sqlite3 libsodium inih libqrencode libpng libcurl libutf8proc) -lcsv \
        -lpthread -lm
}

# used_pages DB: bytes in use (page_count - freelist_count) x page_size
used_bytes() {
    sqlite3 "$1" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
    sqlite3 "$1" 'SELECT (SELECT page_count FROM pragma_page_count) - (SELECT freelist_count
        FROM pragma_freelist_count), (SELECT page_size FROM pragma_page_size)' |
        awk -F'|' '{print $1 * $2}'
}
# enrol_bytes DB: pages (bytes) of the enrolments table and its indexes, then their payload
enrol_bytes() {
    sqlite3 "$1" "SELECT sum(pgsize), sum(payload) FROM dbstat WHERE name IN ('enrolments',
        'enrolments_live', 'enrolments_due', 'enrolments_sequence')"
}

run_loa() {
    local dir="$work/loa-$rep"
    mkdir -p "$dir"
    local loa="$bin/loa" graph="$bin/loa-graph"
    local people=$(((n + LOA_PAGES - 1) / LOA_PAGES))
    local total=$((people * LOA_PAGES))
    seqload_build
    "$graph" --listen 127.0.0.1:0 --port-file "$dir/graph.port" --rate-limit 0 \
        2>"$dir/graph.log" &
    graph_pid=$!
    for _ in $(seq 100); do [[ -s "$dir/graph.port" ]] && break; sleep 0.05; done
    local G="http://127.0.0.1:$(cat "$dir/graph.port")"
    export LOA_STORE="$dir/loa.db" LOA_GRAPH_URL="$G" LOA_LOG_LEVEL=warn LOA_WEBHOOK_PROFILES=false
    "$loa" init >/dev/null
    local t0s t
    t0s="$(date +%s%N)"
    "$loa" simulate --pages "$LOA_PAGES" --people "$people" --outside-percent 0 --seed "$seed" \
        --rate 300 --daily-cap 10000000 >/dev/null
    local sim_s seq_s
    sim_s="$(awk -v a="$t0s" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}')"
    t="$(date +%s%N)"
    local p
    for p in $(sqlite3 "$LOA_STORE" 'SELECT page_id FROM pages ORDER BY id'); do
        printf '{"page_id":"%s","name":"Bench drip","steps":[{"delay":{"value":1,"unit":"days"},
            "purpose":"non_promotional","blocks":[{"type":"text",
            "text":"Chào {{first_name|bạn}}! Đây là bước tiếp theo của bạn."}]}]}' "$p" \
            >"$dir/seq.json"
        "$loa" sequence create --file "$dir/seq.json" >/dev/null
    done
    seq_s="$(awk -v a="$t" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}')"
    local used0 eb0
    used0="$(used_bytes "$LOA_STORE")" eb0="$(enrol_bytes "$LOA_STORE")"
    # T0: after the enrolment (16 s for 1,000,000 on the shared machine), the store's
    # checkpoint, dbstat, the due list, the copy for the capacity run (an 800 MB file) and
    # serve's start: 15 s + 40 us a person was 15 s short at 1,000,000 under load.
    local lead="${loa_lead:-$((20 + total / 12000))}"
    local first_planned=$(($(date +%s%3N) + lead * 1000))
    local spread_ms=$((spread * 1000))
    "$work/seqload" enrol "$LOA_STORE" "$first_planned" "$spread_ms" "$seed" 10000 >"$dir/enrol.json"
    local used1 eb1
    used1="$(used_bytes "$LOA_STORE")" eb1="$(enrol_bytes "$LOA_STORE")"
    sqlite3 -separator ' ' "$LOA_STORE" "SELECT pg.page_id, p.psid, e.due_at FROM enrolments e
        JOIN subscribers p ON p.id = e.subscriber_id JOIN pages pg ON pg.id = p.page_ref
        WHERE e.state = 0" >"$dir/dues.txt"
    cp "$LOA_STORE" "$dir/drain.db"
    cp "$LOA_STORE.key" "$dir/drain.db.key"
    local waiting first_due last_due
    waiting="$(wc -l <"$dir/dues.txt")"
    first_due="$(jnum first_due "$(cat "$dir/enrol.json")")"
    last_due="$(jnum last_due "$(cat "$dir/enrol.json")")"
    echo "  loa setup (not timed): simulate $LOA_PAGES Pages x $people people ${sim_s} s," \
        "$LOA_PAGES x sequence create ${seq_s} s, enrol $(cat "$dir/enrol.json")" >&2
    ((waiting == total)) || errors+=("loa rep $rep: $waiting waiting after the enrolment, want $total")
    local dmax0
    dmax0="$(sqlite3 "$LOA_STORE" 'SELECT coalesce(max(id), 0) FROM deliveries')"

    local start_ms load0
    load0="$(cut -d' ' -f1-3 /proc/loadavg)"
    start_ms="$(date +%s%3N)"
    ((start_ms < first_due)) ||
        errors+=("loa rep $rep: serve started $((start_ms - first_due)) ms after the first due time (LOA_LEAD_S)")
    "$loa" --listen 127.0.0.1:0 serve 2>"$dir/serve.log" &
    loa_pid=$!
    local perf_pid=""
    if [[ -n "${PERF_OUT:-}" && $rep == 1 ]]; then
        perf record --call-graph dwarf,8192 -F 199 -o "$PERF_OUT" -p "$loa_pid" 2>"$dir/perf.log" &
        perf_pid=$!
    fi
    local queued_at=0 accepted=0 now q stats deadline=$((last_due + timeout_s * 1000))
    while :; do
        now="$(date +%s%3N)"
        if ((queued_at == 0)); then
            q="$(sqlite3 -cmd '.timeout 2000' "$LOA_STORE" 'SELECT coalesce(max(id), 0) FROM deliveries' 2>/dev/null || echo 0)"
            ((q - dmax0 >= total)) && queued_at="$now"
        fi
        stats="$(curl -sf "$G/_admin/stats" || echo '{}')"
        accepted="$(jnum accepted "$stats")"
        ((accepted >= total && queued_at > 0)) && break
        kill -0 "$loa_pid" 2>/dev/null || { errors+=("loa rep $rep: loa serve died"); break; }
        ((now < deadline)) || { errors+=("loa rep $rep: $accepted of $total accepted by the timeout"); break; }
        sleep 0.1
    done
    if [[ -n "$perf_pid" ]]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
    local load1 rss cpu grss
    load1="$(cut -d' ' -f1-3 /proc/loadavg)"
    rss="$(vmhwm "$loa_pid")"
    cpu="$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$loa_pid/stat")"
    kill -TERM "$loa_pid"
    wait "$loa_pid" || errors+=("loa rep $rep: loa serve exited $?")
    loa_pid=""
    grss="$(vmhwm "$graph_pid")"
    curl -sf "$G/_admin/log.ndjson" >"$dir/log.ndjson"
    local gstats
    gstats="$(curl -sf "$G/_admin/stats")"
    kill -TERM "$graph_pid"
    wait "$graph_pid" || true
    graph_pid=""
    local v refused
    v="$(jnum violations "$gstats")" refused="$(jnum refused "$gstats")"
    ((v == 0 && refused == 0)) || errors+=("loa rep $rep: loa-graph violations $v, refused $refused")
    local lat
    lat="$(node "$here/lateness.js" "$dir/dues.txt" "$dir/log.ndjson")"
    rm -f "$dir/log.ndjson"
    local sent missing dups strange
    sent="$(jnum sent "$lat")" missing="$(jnum missing "$lat")" dups="$(jnum dups "$lat")"
    strange="$(jnum strange "$lat")"
    ((sent == total && missing == 0 && dups == 0 && strange == 0)) ||
        errors+=("loa rep $rep: log.ndjson: sent $sent, missing $missing, twice $dups, unexpected $strange")
    local st_enrol st_deliv
    st_enrol="$(sqlite3 "$LOA_STORE" "SELECT group_concat(state || '=' || n) FROM (SELECT state,
        count(*) n FROM enrolments GROUP BY 1)")"
    st_deliv="$(sqlite3 "$LOA_STORE" "SELECT group_concat(state || '=' || n) FROM (SELECT state,
        count(*) n FROM deliveries GROUP BY 1)")"
    [[ "$st_enrol" == "2=$total" && "$st_deliv" == "sent=$total" ]] ||
        errors+=("loa rep $rep: store after the run: enrolments $st_enrol, deliveries $st_deliv")
    local last_sent
    last_sent="$(jnum last_sent "$lat")"

    # The capacity run: every timer due, no sender.
    local cap
    if [[ -n "${KEEP_DRAIN_DB:-}" ]]; then # a copy to profile the drain with: seqload drain
        cp "$dir/drain.db" "$KEEP_DRAIN_DB" && cp "$dir/drain.db.key" "$KEEP_DRAIN_DB.key"
    fi
    cap="$("$work/seqload" drain "$dir/drain.db" "$total" 2000)" ||
        errors+=("loa rep $rep: seqload drain: $cap")
    unset LOA_STORE LOA_GRAPH_URL LOA_LOG_LEVEL LOA_WEBHOOK_PROFILES

    jq -nc --argjson lat "$lat" --argjson enrol "$(cat "$dir/enrol.json")" --argjson cap "$cap" \
        --arg pages "$LOA_PAGES" --arg people "$people" --arg total "$total" \
        --arg sim_s "$sim_s" --arg seq_s "$seq_s" --arg first_due "$first_due" \
        --arg last_due "$last_due" --arg queued_at "$queued_at" --arg last_sent "$last_sent" \
        --arg start_ms "$start_ms" --arg rss "$rss" --arg grss "$grss" --arg cpu "$cpu" \
        --arg used0 "$used0" --arg used1 "$used1" --arg eb0 "$eb0" --arg eb1 "$eb1" \
        --arg load0 "$load0" --arg load1 "$load1" --arg spread "$spread" '
        def num: tonumber;
        ($total | num) as $n | ($first_due | num) as $fd |
        {n: $n, pages: ($pages | num), people: ($people | num), spread_s: ($spread | num),
         setup_s: {simulate: ($sim_s | num), sequences: ($seq_s | num), enrol: ($enrol.insert_ms / 1000)},
         enrol_per_s: ($n * 1000 / $enrol.insert_ms | round),
         slack_ms: ($fd - ($start_ms | num)),
         first_due: $fd, last_due: ($last_due | num), queued_at: ($queued_at | num), last_sent: ($last_sent | num),
         drain_steps_per_s: ($n * 1000 / (($queued_at | num) - $fd) | round),
         drain_sent_per_s: ($n * 1000 / (($last_sent | num) - $fd) | round),
         arrival_per_s: (if ($spread | num) > 0 then ($n / ($spread | num) | round) else null end),
         capacity: $cap,
         lateness_ms: $lat.lateness_ms, early: $lat.early,
         enrol_bytes: {before: ($eb0 | split("|") | map(tonumber? // 0)), after: ($eb1 | split("|") | map(tonumber? // 0))},
         used_bytes: {before: ($used0 | num), after: ($used1 | num)},
         rss_kib: {serve: ($rss | num), graph: ($grss | num)}, cpu_s: ($cpu | num),
         load: {before: $load0, after: $load1}}
        | .bytes_per_waiting = (((.enrol_bytes.after[0] - .enrol_bytes.before[0]) / $n * 10 | round) / 10)
        | .payload_per_waiting = (((.enrol_bytes.after[1] - .enrol_bytes.before[1]) / $n * 10 | round) / 10)
        | .store_bytes_per_waiting = (((.used_bytes.after - .used_bytes.before) / $n * 10 | round) / 10)' \
        >"$dir/result.json"
    cat "$dir/result.json" >&2
    jq -c . "$dir/result.json" >>"$work/loa.jsonl"
    jq -r '"  loa: drain \(.drain_steps_per_s) steps/s into the outbox (first due -> last queued), \(.drain_sent_per_s)/s to the last accepted send (arrival \(.arrival_per_s // "all at once")/s);
  capacity (all due, no sender) \(.capacity.steps_per_s) steps/s; lateness p50 \(.lateness_ms.p50) / p90 \(.lateness_ms.p90) / p99 \(.lateness_ms.p99) / max \(.lateness_ms.max) ms;
  \(.bytes_per_waiting) B per waiting person (payload \(.payload_per_waiting), store \(.store_bytes_per_waiting)); peak RSS KiB serve \(.rss_kib.serve), loa-graph \(.rss_kib.graph); CPU \(.cpu_s) s; load \(.load.before) -> \(.load.after)"' \
        "$dir/result.json" >&2
    rm -rf "$dir"
}
# ---------------------------------------------------------------------------------------------

subjects="${SUBJECTS:-bullmq loa}"
for rep in $(seq "$reps"); do
    echo "== rep $rep: $n delayed jobs / people waiting, due within $spread s ($subjects)" >&2
    [[ " $subjects " == *" bullmq "* ]] && run_bullmq
    [[ " $subjects " == *" loa "* ]] && run_loa
done

# medf FILE FIELD(jq path) -> "median|runs"
medf() {
    jq -rs "[.[] | $2] as \$v | (\$v | sort) as \$s | \"\(\$s[((\$s | length) - 1) / 2 | floor])|\(\$v | map(tostring) | join(\" \"))\"" \
        "$1"
}
if [[ -s "$work/bullmq.jsonl" ]]; then
    med() { medf "$work/bullmq.jsonl" "$1"; }
    f() { jq -rs ".[0].$1" "$work/bullmq.jsonl"; }
    ver="$(f bullmq)"
    runs="$(jq -s length "$work/bullmq.jsonl")"
    subj="bullmq $ver"
    size="$n jobs due within $spread s"
    arr="$(f arrival_jobs_per_s)"
    [[ "$arr" == null ]] && arr="all due at once" || arr="arrival $arr/s"
    settings="Redis $(f redis) no persistence, worker concurrency $conc, removeOnComplete, ioredis $(f ioredis), node $(f node)"
    IFS='|' read -r v r <<<"$(med .drain_jobs_per_s)"
    echo "result|sequence|$subj|drain|$v|jobs/s|$size ($arr), first due -> last processed; median of $runs: $r; $settings"
    IFS='|' read -r v r <<<"$(med .lateness_ms.p50)"
    echo "result|sequence|$subj|lateness_p50|$v|ms|processed - due; runs: $r"
    IFS='|' read -r v r <<<"$(med .lateness_ms.p99)"
    IFS='|' read -r _ mx <<<"$(med .lateness_ms.max)"
    echo "result|sequence|$subj|lateness_p99|$v|ms|runs: $r; max per run: $mx"
    IFS='|' read -r v r <<<"$(med .bytes_per_waiting)"
    echo "result|sequence|$subj|bytes_per_waiting|$v|B|Redis used_memory with all $n waiting minus empty, / N (in RAM; no disk); runs: $r"
    IFS='|' read -r v r <<<"$(med '((.rss_kib.redis + .rss_kib.worker) / 1024 | round)')"
    IFS='|' read -r _ rr <<<"$(med '(.rss_kib.redis / 1024 | round)')"
    IFS='|' read -r _ wr <<<"$(med '(.rss_kib.worker / 1024 | round)')"
    IFS='|' read -r _ pr <<<"$(med '(.rss_kib.producer / 1024 | round)')"
    echo "result|sequence|$subj|peak_rss|$v|MiB|Redis VmHWM + worker ru_maxrss; runs: $r; Redis: $rr, worker: $wr, producer (not counted): $pr"
    IFS='|' read -r v r <<<"$(med .enqueue_jobs_per_s)"
    echo "result|sequence|$subj|enqueue|$v|jobs/s|addBulk x$chunk, $inflight in flight, before the drain (not compared); runs: $r"
    IFS='|' read -r v r <<<"$(med '((.cpu_ms.redis + .cpu_ms.worker) * 1000 / .n | round)')"
    echo "result|sequence|$subj|cpu_per_job|$v|us|Redis + worker CPU (enqueue + drain) / N; runs: $r; machine: $(nproc) cores shared"
fi
if [[ -s "$work/loa.jsonl" ]]; then
    med() { medf "$work/loa.jsonl" "$1"; }
    f() { jq -rs ".[0].$1" "$work/loa.jsonl"; }
    runs="$(jq -s length "$work/loa.jsonl")"
    subj="loa $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
    lsize="$(f n) people due within $spread s, $(f pages) Pages x $(f people)"
    arr="$(f arrival_per_s)"
    [[ "$arr" == null ]] && arr="all due at once" || arr="arrival $arr/s"
    IFS='|' read -r v r <<<"$(med .drain_steps_per_s)"
    IFS='|' read -r _ sr <<<"$(med .drain_sent_per_s)"
    IFS='|' read -r _ ld <<<"$(med .load.before)"
    echo "result|sequence|$subj|drain|$v|steps/s|$lsize ($arr): timers -> outbox rows in loa serve (dispatcher tick, 2 s lookahead), first due -> last queued; median of $runs: $r; to the last send accepted by loa-graph: $sr; load avg at start: $ld"
    loa_drain="$v"
    IFS='|' read -r v r <<<"$(med .capacity.steps_per_s)"
    echo "result|sequence|$subj|drain_capacity|$v|steps/s|every timer due at once, loa_sequence_drain(limit 2000) back to back on a copy of the store, no sender; runs: $r"
    loa_cap="$v"
    IFS='|' read -r v r <<<"$(med .drain_sent_per_s)"
    echo "result|sequence|$subj|drain_sent|$v|steps/s|first due -> last send accepted by loa-graph (BullMQ's drain end to end; loa's sender, not the timers, bounds it); runs: $r"
    loa_sent="$v"
    IFS='|' read -r v r <<<"$(med .lateness_ms.p50)"
    echo "result|sequence|$subj|lateness_p50|$v|ms|accepted by loa-graph (at_ms) - due; runs: $r"
    IFS='|' read -r v r <<<"$(med .lateness_ms.p99)"
    IFS='|' read -r _ mx <<<"$(med .lateness_ms.max)"
    echo "result|sequence|$subj|lateness_p99|$v|ms|runs: $r; max per run: $mx"
    IFS='|' read -r v r <<<"$(med .bytes_per_waiting)"
    IFS='|' read -r _ pl <<<"$(med .payload_per_waiting)"
    IFS='|' read -r _ sb <<<"$(med .store_bytes_per_waiting)"
    echo "result|sequence|$subj|bytes_per_waiting|$v|B|on disk: dbstat pages of the enrolments table + its 3 indexes with all waiting, / N; runs: $r; payload $pl; whole store's used pages after - before: $sb"
    IFS='|' read -r v r <<<"$(med '(.rss_kib.serve / 1024 | round)')"
    IFS='|' read -r _ gr <<<"$(med '(.rss_kib.graph / 1024 | round)')"
    echo "result|sequence|$subj|peak_rss|$v|MiB|loa serve VmHWM (drains and sends); runs: $r; loa-graph (not counted): $gr"
    IFS='|' read -r v r <<<"$(med .enrol_per_s)"
    echo "result|sequence|$subj|enqueue|$v|people/s|loa_store_enrol_insert, 10,000 per transaction, before the drain (not compared); runs: $r"
    IFS='|' read -r v r <<<"$(med '(.cpu_s * 1000000 / .n | round)')"
    echo "result|sequence|$subj|cpu_per_job|$v|us|loa serve CPU (drain + claim + send + settle) / N; runs: $r; machine: $(nproc) cores shared"
    if [[ -s "$work/bullmq.jsonl" ]]; then
        bd="$(medf "$work/bullmq.jsonl" .drain_jobs_per_s | cut -d'|' -f1)"
        ratio() { awk -v a="$1" -v b="$bd" 'BEGIN {printf "%.2f", a / b}'; }
        echo "result|sequence|loa / bullmq|drain|$(ratio "$loa_drain")|x|target >= 5; timers -> outbox ($loa_drain) / BullMQ drain ($bd jobs/s), same run"
        echo "result|sequence|loa / bullmq|drain_capacity|$(ratio "$loa_cap")|x|loa drain capacity ($loa_cap) / BullMQ drain ($bd)"
        echo "result|sequence|loa / bullmq|drain_sent|$(ratio "$loa_sent")|x|to the last accepted send ($loa_sent) / BullMQ drain ($bd)"
    fi
fi
if ((${#errors[@]})); then
    printf 'bench/sequence: %s\n' "${errors[@]}" >&2
    echo "result|sequence|CHECK FAILED|errors|${#errors[@]}||${errors[*]}"
else
    echo "result|sequence|checks (every run)|passed|$reps/$reps|runs|subjects $subjects; bullmq: every job processed once, none left in Redis, enqueue done before the first due time; loa: every person sent exactly once (log.ndjson), enrolments finished and deliveries sent in the store, 0 violations, serve started before the first due time"
fi
