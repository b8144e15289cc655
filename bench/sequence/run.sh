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
#   - loa: run_loa below, a placeholder until the sequence engine lands.
#
# Note: when the subject keeps up, drain = N / SPREAD_S (the arrival rate): the figure only
# measures capacity when the subject falls behind (its lateness then grows through the run).
# SPREAD_S=0 puts every due time at the same instant and so measures the raw drain capacity.
#
# Usage: bench/sequence/run.sh BIN_DIR
#   N=1000000 SPREAD_S=60 REPS=1 CONCURRENCY=300 CHUNK=1000 INFLIGHT=4 SEED=7 TIMEOUT=1800
#   LEAD_S=  (seconds from the start of the enqueue to the first due time; default: calibrated)
# Installs what it needs: redis-server, node, npm, jq (scripts/deps.sh --bench) and `npm ci` of
# bullmq + ioredis into bench/sequence/node_modules (git-ignored).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:?usage: run.sh BIN_DIR}"  # loa and loa-graph, for run_loa once the sequence engine lands
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
# The loa side lands with the sequence engine. It will: create N people waiting in a sequence
# whose next step falls due uniformly within SPREAD_S s (from the same seed), start loa serve with
# the outbox draining to loa-graph (rate limit lifted, so Graph is not the bottleneck), and
# report the same metrics: drain (steps/s into the outbox, first due -> last enqueued),
# lateness p50/p99 (outbox insert - due), bytes on disk per waiting person (store size with N
# waiting minus the empty store, / N), peak RSS (VmHWM of loa serve). Until then it prints a
# note and no numbers.
run_loa() {
    echo "result|sequence|loa|-|skipped||the loa side lands with the sequence engine (not written yet): no loa figures; bench/sequence/run.sh run_loa"
}
# ---------------------------------------------------------------------------------------------

for rep in $(seq "$reps"); do
    echo "== rep $rep: $n delayed jobs due within $spread s" >&2
    run_bullmq
done
run_loa

if [[ -s "$work/bullmq.jsonl" ]]; then
    # med FIELD(jq path) -> "median|runs"
    med() {
        jq -rs "[.[] | $1] as \$v | (\$v | sort) as \$s | \"\(\$s[((\$s | length) - 1) / 2 | floor])|\(\$v | map(tostring) | join(\" \"))\"" \
            "$work/bullmq.jsonl"
    }
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
if ((${#errors[@]})); then
    printf 'bench/sequence: %s\n' "${errors[@]}" >&2
    echo "result|sequence|CHECK FAILED|errors|${#errors[@]}||${errors[*]}"
else
    echo "result|sequence|checks (every run)|passed|$reps/$reps|runs|every job processed once, none left in Redis, enqueue done before the first due time"
fi
