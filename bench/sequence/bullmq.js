'use strict';
// The BullMQ side of bench/sequence: N delayed jobs ("people waiting for their next drip step"),
// due uniformly over [t0 + lead, t0 + lead + S], drained by a counting worker.
//
// Starts no Redis: give it the port of an empty, private redis-server (bench/sequence/run.sh
// starts one without persistence). It FLUSHALLs that server.
//
//   node bullmq.js --port P [--n 1000000] [--spread 60] [--concurrency 300] [--chunk 1000]
//                  [--inflight 4] [--lead S] [--seed 7]
//
// Three processes, like a real deployment: this one (the harness: calibration, Redis INFO,
// results), a producer (the application enrolling people: Queue.addBulk in chunks) and a worker
// (Worker with `concurrency` slots and a no-op processor that only records lateness). The worker
// is started first and is idle (blocked on BullMQ's marker key) while the producer enqueues.
//
// Timeline: a short calibration enqueue (CAL jobs into a throw-away queue, then FLUSHALL)
// measures the enqueue rate; lead = 1.5 x the predicted enqueue time of N jobs + 5 s (or --lead),
// so that every job is still in the future when the first one falls due. The script checks that
// it was (enqueue_end < first_due) and that Redis memory was read before anything was due.
//
// Per job the worker records lateness = processed_at - due in ms (Int32Array), where due is
// job.timestamp + job.opts.delay (the producer sets both so that this is exactly the planned
// due time; job.delay itself is 0 once BullMQ has promoted the job) and processed_at is Date.now() when the processor is called. A bitmap over job ids
// checks every job was processed exactly once.
//
// Prints one JSON line on stdout; progress goes to stderr.
const { fork } = require('node:child_process');
const fs = require('node:fs');

function args(argv) {
    const o = {};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (!a.startsWith('--')) continue;
        o[a.slice(2)] = argv[i + 1];
        i++;
    }
    return o;
}

const role = process.argv[2] === 'producer' || process.argv[2] === 'worker' ? process.argv[2] : 'main';
const opt = args(process.argv.slice(role === 'main' ? 2 : 3));
const port = Number(opt.port || process.env.REDIS_PORT);
const N = Number(opt.n || 1000000);
const spreadMs = Math.round(Number(opt.spread ?? 60) * 1000);
const concurrency = Number(opt.concurrency || 300);
const chunk = Number(opt.chunk || 1000);
const inflight = Number(opt.inflight || 4);
const seed = Number(opt.seed || 7);
const QUEUE = 'seq';
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
// Fair BullMQ settings: completed jobs are deleted at once (removeOnComplete: true), so Redis
// holds only waiting jobs; failed ones (none are expected) capped at 1000.
const jobOpts = { removeOnComplete: true, removeOnFail: 1000 };

const log = (...a) => console.error(`[bullmq ${role}]`, ...a);
const maxRssKiB = () => process.resourceUsage().maxRSS;
const cpuMs = () => {
    const u = process.resourceUsage();
    return Math.round((u.userCPUTime + u.systemCPUTime) / 1000);
};

// The job's payload: who, which sequence, which step (what a drip step needs to know).
const payload = (i) => ({ person: 100000000 + i, seq: 1, step: 2 });

// xorshift32: the same due times in every run for a given seed.
function rng(s) {
    let x = s >>> 0 || 1;
    return () => {
        x ^= x << 13; x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5; x >>>= 0;
        return x / 4294967296;
    };
}

// Enqueues n jobs into queue `name`; due(i) gives the absolute due time in ms.
// Returns the elapsed ms. `inflight` addBulk calls (MULTI of `chunk` jobs) are kept in flight.
async function enqueue(Queue, name, n, due) {
    const q = new Queue(name, { connection });
    await q.waitUntilReady();
    const t0 = Date.now();
    let next = 0;
    async function lane() {
        while (next < n) {
            const from = next;
            const to = Math.min(n, from + chunk);
            next = to;
            const now = Date.now();
            const jobs = new Array(to - from);
            for (let i = from; i < to; i++) {
                const d = due(i);
                // timestamp + delay = due exactly; the Lua script scores the job by their sum.
                jobs[i - from] = { name: 'step', data: payload(i),
                                   opts: { ...jobOpts, timestamp: now, delay: Math.max(1, d - now) } };
            }
            await q.addBulk(jobs);
        }
    }
    await Promise.all(Array.from({ length: inflight }, lane));
    const ms = Date.now() - t0;
    await q.close();
    return ms;
}

async function producer() {
    const { Queue } = require('bullmq');
    const { t0, lead } = opt;
    const first = Number(t0) + Number(lead) * 1000;
    const r = rng(seed);
    const dues = new Float64Array(N);
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < N; i++) {
        const d = first + Math.floor(r() * (spreadMs + 1));
        dues[i] = d;
        if (d < lo) lo = d;
        if (d > hi) hi = d;
    }
    const start = Date.now();
    const ms = await enqueue(Queue, QUEUE, N, (i) => dues[i]);
    process.send({ kind: 'produced', start, end: start + ms, enqueue_ms: ms, first_due: lo, last_due: hi,
                   rss_kib: maxRssKiB(), cpu_ms: cpuMs() });
}

async function worker() {
    const { Worker } = require('bullmq');
    const lat = new Int32Array(N);
    const seen = new Uint8Array(N + 1);
    let count = 0, dups = 0, strange = 0, last = 0, firstAt = 0;
    let done;
    const finished = new Promise((res) => { done = res; });
    const w = new Worker(QUEUE, async (job) => {
        const now = Date.now();
        if (count === 0) firstAt = now;
        const id = Number(job.id);
        if (id >= 1 && id <= N) {
            if (seen[id]) dups++;
            seen[id] = 1;
        } else {
            strange++;
        }
        if (count < N) lat[count] = now - (job.timestamp + job.opts.delay);
        count++;
        if (now > last) last = now;
        if (count === N) done();
    }, { connection, concurrency, autorun: false, removeOnComplete: true, removeOnFail: 1000 });
    w.on('error', (e) => log('worker error', e.message));
    w.on('failed', (job, e) => log('job failed', job && job.id, e.message));
    await w.waitUntilReady();
    w.run().catch((e) => log('run', e.message));
    process.send({ kind: 'ready' });
    const timer = setInterval(() => process.send({ kind: 'progress', count }), 5000);
    await finished;
    clearInterval(timer);
    // Let the last moveToFinished calls (removeOnComplete) reach Redis, then stop.
    await w.close();
    const sorted = lat.slice(0, Math.min(count, N)).sort();
    const pct = (p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
    let sum = 0;
    for (let i = 0; i < sorted.length; i++) sum += sorted[i];
    process.send({ kind: 'drained', count, dups, strange, first_processed: firstAt, last_processed: last,
                   lateness: { min: sorted[0], p50: pct(50), p90: pct(90), p99: pct(99), max: sorted[sorted.length - 1],
                               mean: sum / sorted.length },
                   rss_kib: maxRssKiB(), cpu_ms: cpuMs() });
}

// --- the harness ---------------------------------------------------------------------------

function procStatus(pid) {
    const out = {};
    try {
        const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
        for (const k of ['VmHWM', 'VmRSS']) {
            const m = s.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm'));
            if (m) out[k] = Number(m[1]);
        }
        const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
        out.cpu_ms = Math.round(((Number(st[11]) + Number(st[12])) * 1000) / 100); // utime, stime at 100 Hz
    } catch (e) { /* not on this machine */ }
    return out;
}

function info(text, key) {
    const m = text.match(new RegExp(`^${key}:(\\S+)`, 'm'));
    return m ? m[1] : undefined;
}

function child(r, extra) {
    const argv = [r, '--port', String(port), '--n', String(N), '--spread', String(spreadMs / 1000),
                  '--concurrency', String(concurrency), '--chunk', String(chunk), '--inflight', String(inflight),
                  '--seed', String(seed), ...extra];
    const c = fork(__filename, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const waiters = {};
    c.on('message', (m) => {
        if (m.kind === 'progress') { log(`worker: ${m.count} processed`); return; }
        if (waiters[m.kind]) waiters[m.kind](m);
    });
    const exited = new Promise((res) => c.on('exit', (code) => res(code)));
    c.waitFor = (kind, ms) => new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`${r}: no '${kind}' within ${ms} ms`)), ms);
        waiters[kind] = (m) => { clearTimeout(t); res(m); };
        exited.then((code) => { clearTimeout(t); rej(new Error(`${r} exited ${code} before '${kind}'`)); });
    });
    c.exited = exited;
    return c;
}

async function main() {
    if (!port) throw new Error('usage: bullmq.js --port REDIS_PORT [--n N] [--spread S] [--concurrency C]');
    const { Queue } = require('bullmq');
    const IORedis = require('ioredis');
    const version = require('bullmq/package.json').version;
    const redis = new IORedis(connection);
    const errors = [];
    const serverInfo = await redis.info('server');
    const redisPid = Number(info(serverInfo, 'process_id'));
    const redisVersion = info(serverInfo, 'redis_version');
    const policy = (await redis.config('GET', 'maxmemory-policy'))[1];
    await redis.flushall();

    // Calibration: how fast does this machine enqueue right now?
    let lead = opt.lead !== undefined ? Number(opt.lead) : undefined;
    let calRate;
    if (lead === undefined) {
        const cal = Math.min(50000, Math.max(2000, Math.floor(N / 20)));
        const far = Date.now() + 3600e3;
        const ms = await enqueue(Queue, 'calibrate', cal, () => far);
        calRate = (cal * 1000) / ms;
        lead = Math.ceil((1.5 * N) / calRate + 5);
        log(`calibration: ${cal} jobs in ${ms} ms = ${Math.round(calRate)} jobs/s -> lead ${lead} s`);
        await redis.flushall();
    }
    await new Promise((r) => setTimeout(r, 300));
    const memBefore = Number(info(await redis.info('memory'), 'used_memory'));

    // The worker first (it runs all along in a real deployment), then the producer.
    const w = child('worker', []);
    await w.waitFor('ready', 30000);
    const t0 = Date.now();
    const p = child('producer', ['--t0', String(t0), '--lead', String(lead)]);
    const prod = await p.waitFor('produced', (lead + 600) * 1000);
    await p.exited;
    const memAt = Date.now();
    const memText = await redis.info('memory');
    const memAfter = Number(info(memText, 'used_memory'));
    const rssAfterEnqueue = Number(info(memText, 'used_memory_rss'));
    const waitingAtMem = await redis.zcard(`bull:${QUEUE}:delayed`);
    if (prod.end >= prod.first_due) errors.push(`enqueue ended ${prod.end - prod.first_due} ms after the first due time (lead ${lead} s too short)`);
    if (memAt >= prod.first_due) errors.push('Redis memory read after the first job fell due');
    if (waitingAtMem !== N) errors.push(`${waitingAtMem} delayed jobs in Redis after enqueue, want ${N}`);
    log(`enqueued ${N} in ${prod.enqueue_ms} ms = ${Math.round((N * 1000) / prod.enqueue_ms)} jobs/s; ` +
        `first due in ${prod.first_due - Date.now()} ms; used_memory +${memAfter - memBefore} B ` +
        `= ${((memAfter - memBefore) / N).toFixed(1)} B/job`);

    const timeoutMs = prod.last_due - Date.now() + Math.max(120000, (N / 1000) * 1000);
    const drained = await w.waitFor('drained', timeoutMs);
    await w.exited;
    const rs = procStatus(redisPid);
    const memEnd = info(await redis.info('memory'), 'used_memory');
    const left = await redis.eval(`return #redis.call('keys', 'bull:${QUEUE}:[0-9]*')`, 0);
    await redis.quit();
    if (drained.count !== N) errors.push(`worker processed ${drained.count}, want ${N}`);
    if (drained.dups) errors.push(`${drained.dups} jobs processed twice`);
    if (drained.strange) errors.push(`${drained.strange} jobs with unexpected ids`);
    if (left) errors.push(`${left} job hashes left in Redis after the drain (removeOnComplete)`);

    const drainMs = drained.last_processed - prod.first_due;
    const out = {
        bullmq: version, ioredis: require('ioredis/package.json').version, redis: redisVersion,
        node: process.version, maxmemory_policy: policy,
        n: N, spread_s: spreadMs / 1000, concurrency, chunk, inflight, lead_s: lead,
        calibration_jobs_per_s: calRate && Math.round(calRate),
        enqueue_ms: prod.enqueue_ms, enqueue_jobs_per_s: Math.round((N * 1000) / prod.enqueue_ms),
        slack_ms: prod.first_due - prod.end,
        first_due: prod.first_due, last_due: prod.last_due, first_processed: drained.first_processed,
        last_processed: drained.last_processed, drain_ms: drainMs,
        drain_jobs_per_s: Math.round((N * 1000) / drainMs),
        arrival_jobs_per_s: spreadMs ? Math.round((N * 1000) / spreadMs) : null,
        lateness_ms: drained.lateness,
        redis_used_memory_before: memBefore, redis_used_memory_waiting: memAfter,
        bytes_per_waiting: Math.round(((memAfter - memBefore) / N) * 10) / 10,
        redis_used_memory_rss_waiting: rssAfterEnqueue, redis_used_memory_end: Number(memEnd),
        rss_kib: { redis: rs.VmHWM, worker: drained.rss_kib, producer: prod.rss_kib },
        cpu_ms: { redis: rs.cpu_ms, worker: drained.cpu_ms, producer: prod.cpu_ms },
        errors,
    };
    console.log(JSON.stringify(out));
}

const run = role === 'producer' ? producer : role === 'worker' ? worker : main;
run().then(() => { if (role !== 'main') process.disconnect(); }, (e) => {
    console.error(`[bullmq ${role}]`, e && e.stack || e);
    process.exit(1);
});
