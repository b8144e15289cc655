// SPDX-License-Identifier: MIT
// The peer of loa's dispatch benchmark: the usual Node.js broadcast sender. One
// messaging-api-messenger@1.1.0 MessengerClient per Page (its access token, origin = loa-graph),
// 64 sends in flight, each the same text loa sends ("Xin chào <first name>! ..." with
// a metadata string; messaging_type UPDATE, the client's default and what loa sends inside the
// 24 h window), to every person of people.tsv in file order.
// A send refused with the rate limit (613) or lost in transport is tried again after 1 s, up to
// 3 times. It records nothing: results are only counted in memory.
//
// Usage: node peer.js GRAPH_URL PAGES.json PEOPLE.tsv [CONCURRENCY]
//   PAGES.json: loa-graph's GET /_admin/pages answer ({"pages":[{"id","access_token"}]})
//   PEOPLE.tsv: page_id <TAB> psid <TAB> first_name <TAB> last_name, one person a line
// Prints one JSON line: {"people","sent","failed","retries","errors":{...},"send_ms","cpu_ms",
// "max_rss_kib"} (CPU and peak RSS of the whole process).
'use strict';

const fs = require('node:fs');
const path = require('node:path');

// messaging-api-messenger comes from tests/node (npm ci there), unless NODE_PATH has it.
function load(name) {
  try {
    return require(name);
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e;
    const testsNode = path.join(__dirname, '..', '..', 'tests', 'node');
    return require(require.resolve(name, { paths: [testsNode] }));
  }
}
const { MessengerClient } = load('messaging-api-messenger');

const [url, pagesFile, peopleFile, concArg] = process.argv.slice(2);
if (!url || !pagesFile || !peopleFile) {
  console.error('usage: node peer.js GRAPH_URL PAGES.json PEOPLE.tsv [CONCURRENCY]');
  process.exit(64);
}
const concurrency = Number(concArg || 64);
const version = (process.env.GRAPH_VERSION || 'v25.0').replace(/^v/, '');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const clients = new Map();
for (const p of JSON.parse(fs.readFileSync(pagesFile, 'utf8')).pages) {
  clients.set(p.id, new MessengerClient({ accessToken: p.access_token, version, origin: url }));
}
const people = fs
  .readFileSync(peopleFile, 'utf8')
  .split('\n')
  .filter((l) => l.length > 0)
  .map((l) => l.split('\t'));

let next = 0;
let sent = 0;
let failed = 0;
let retries = 0;
const errors = {};

function errorKey(err) {
  const g = err.response && err.response.data && err.response.data.error;
  if (g) return `graph_${g.code}${g.errorSubcode ? '_' + g.errorSubcode : ''}`;
  if (err.response) return `http_${err.response.status}`;
  return `transport_${err.code || err.message}`;
}

async function sendOne(i) {
  const [pageId, psid, firstName] = people[i];
  const client = clients.get(pageId);
  if (!client) {
    failed++;
    errors.unknown_page = (errors.unknown_page || 0) + 1;
    return;
  }
  const text = `Xin chào ${firstName || 'bạn'}! Đơn hàng của bạn đã được gửi đi.`;
  for (let attempt = 1; ; attempt++) {
    try {
      await client.sendMessage(psid, { text, metadata: `peer:${i}` });
      sent++;
      return;
    } catch (err) {
      const key = errorKey(err);
      errors[key] = (errors[key] || 0) + 1;
      if (attempt > 3 || !(key.startsWith('graph_613') || key.startsWith('transport_'))) {
        failed++;
        if (failed >= 100 && sent === 0) {
          console.error(`peer.js: the first 100 sends failed: ${JSON.stringify(errors)}`);
          process.exit(1);
        }
        return;
      }
      retries++;
      await sleep(1000);
    }
  }
}

async function worker() {
  while (next < people.length) await sendOne(next++);
}

(async () => {
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const sendMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const out = {
    people: people.length,
    sent,
    failed,
    retries,
    errors,
    send_ms: Math.round(sendMs),
    cpu_ms: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000),
    max_rss_kib: process.resourceUsage().maxRSS,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
})();
