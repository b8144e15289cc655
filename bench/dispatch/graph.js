// SPDX-License-Identifier: MIT
// Helpers of the dispatch benchmark that talk to loa-graph's admin API (Node built-ins only).
//
//   node graph.js load URL PAGES.json PEOPLE.tsv
//       adds the Pages (id, access_token) and the people of PEOPLE.tsv to loa-graph, each with
//       a last message an hour ago (inside the 24 h window), 50,000 people per bulk request
//   node graph.js verify URL PEOPLE.tsv
//       reads GET /_admin/log.ndjson and checks that every (page, psid) of PEOPLE.tsv got
//       exactly one message and nobody else got one; prints one JSON line and exits 1 if not
//
// PAGES.json is loa-graph's GET /_admin/pages answer; PEOPLE.tsv has one person a line:
// page_id <TAB> psid <TAB> first_name <TAB> last_name.
'use strict';

const fs = require('node:fs');
const readline = require('node:readline');
const { Readable } = require('node:stream');

function readPeople(file) {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t'));
}

async function post(url, body) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`POST ${url}: ${res.status} ${text}`);
  return text;
}

async function load(url, pagesFile, peopleFile) {
  const pages = JSON.parse(fs.readFileSync(pagesFile, 'utf8')).pages;
  for (const p of pages) {
    const page = { id: p.id, name: p.name || `Page ${p.id}`, access_token: p.access_token };
    await post(`${url}/_admin/pages`, page);
  }
  const at = Date.now() - 3600 * 1000;
  const people = readPeople(peopleFile);
  for (let i = 0; i < people.length; i += 50000) {
    const chunk = people.slice(i, i + 50000).map(([page_id, psid, first_name, last_name]) => ({
      page_id,
      psid,
      first_name,
      last_name,
      last_action_at: at,
      last_action_kind: 'message',
    }));
    await post(`${url}/_admin/people`, { people: chunk });
  }
  process.stdout.write(JSON.stringify({ pages: pages.length, people: people.length }) + '\n');
}

async function verify(url, peopleFile) {
  const want = new Map();
  for (const [page, psid] of readPeople(peopleFile)) want.set(`${page}\t${psid}`, 0);
  const res = await fetch(`${url}/_admin/log.ndjson`);
  if (res.status !== 200) throw new Error(`log.ndjson: ${res.status}`);
  const rl = readline.createInterface({ input: Readable.fromWeb(res.body), crlfDelay: Infinity });
  let lines = 0;
  let unexpected = 0;
  let duplicates = 0;
  for await (const line of rl) {
    if (!line) continue;
    lines++;
    const m = JSON.parse(line);
    const key = `${m.page_id}\t${m.psid}`;
    const n = want.get(key);
    if (n === undefined) unexpected++;
    else {
      if (n > 0) duplicates++;
      want.set(key, n + 1);
    }
  }
  let missing = 0;
  for (const n of want.values()) if (n === 0) missing++;
  const ok = missing === 0 && duplicates === 0 && unexpected === 0 && lines === want.size;
  process.stdout.write(
    JSON.stringify({ ok, expected: want.size, lines, missing, duplicates, unexpected }) + '\n',
  );
  process.exitCode = ok ? 0 : 1;
}

const [cmd, ...args] = process.argv.slice(2);
const run = { load, verify }[cmd];
if (!run) {
  console.error('usage: node graph.js load URL PAGES.json PEOPLE.tsv | verify URL PEOPLE.tsv');
  process.exit(64);
}
run(...args).catch((e) => {
  console.error(`graph.js ${cmd}: ${e.message}`);
  process.exit(1);
});
