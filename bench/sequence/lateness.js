'use strict';
// Lateness of loa's sequence steps at loa-graph (bench/sequence/run.sh, the loa side).
//
//   node lateness.js DUES LOG
//
// DUES: one line per waiting person, "PAGE_ID PSID DUE_MS" (read from loa's store before the
// run). LOG: loa-graph's /_admin/log.ndjson (every accepted message with at_ms, the emulator's
// clock: the real clock, same machine). Lateness = at_ms - due, per person. Checks that every
// person got exactly one message and nobody else got one. Prints one JSON object.
const fs = require('node:fs');
const readline = require('node:readline');

async function main() {
    const [duesPath, logPath] = process.argv.slice(2);
    const due = new Map();
    const dl = readline.createInterface({ input: fs.createReadStream(duesPath), crlfDelay: Infinity });
    for await (const line of dl) {
        if (!line) continue;
        const [page, psid, d] = line.split(' ');
        due.set(`${page} ${psid}`, Number(d));
    }
    const n = due.size;
    const lat = new Float64Array(n);
    const seen = new Set();
    let k = 0, dups = 0, strange = 0, first = Infinity, last = -Infinity, firstDue = Infinity;
    const ll = readline.createInterface({ input: fs.createReadStream(logPath), crlfDelay: Infinity });
    for await (const line of ll) {
        if (!line) continue;
        const m = JSON.parse(line);
        const key = `${m.page_id} ${m.psid}`;
        const d = due.get(key);
        if (d === undefined) { strange++; continue; }
        if (seen.has(key)) { dups++; continue; }
        seen.add(key);
        lat[k++] = m.at_ms - d;
        if (m.at_ms < first) first = m.at_ms;
        if (m.at_ms > last) last = m.at_ms;
    }
    for (const d of due.values()) if (d < firstDue) firstDue = d;
    const s = lat.slice(0, k).sort();
    const pct = (p) => (k ? s[Math.min(k - 1, Math.ceil((p / 100) * k) - 1)] : null);
    let sum = 0;
    for (let i = 0; i < k; i++) sum += s[i];
    let early = 0;
    for (let i = 0; i < k; i++) if (s[i] < 0) early++;
    console.log(JSON.stringify({
        n, sent: k, missing: n - k, dups, strange, early,
        first_sent: k ? first : null, last_sent: k ? last : null, first_due: firstDue,
        lateness_ms: { min: s[0], p50: pct(50), p90: pct(90), p99: pct(99), max: s[k - 1], mean: k ? sum / k : null },
    }));
}
main().catch((e) => { console.error(e.stack || e); process.exit(1); });
