// SPDX-License-Identifier: MIT
// SIGKILL while webhooks are being posted: after a restart, every mid that got a 200 is stored
// (200 is sent only after the batch's transaction committed).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const S = require('./support.js');

const PAGE = '2222';
const WORKERS = 8;

async function allMids(url, key, psid) {
  const mids = new Set();
  let cursor = '';
  for (;;) {
    const r = await S.request(url, 'GET', `/api/v1/pages/${PAGE}/conversations/${psid}/messages?limit=500${cursor}`, { key });
    assert.equal(r.status, 200, r.text);
    for (const m of r.json.data) mids.add(m.mid);
    if (!r.json.next_cursor) return mids;
    cursor = `&cursor=${r.json.next_cursor}`;
  }
}

for (const durable of ['true', 'false']) {
  test(`SIGKILL loses no acknowledged webhook event (store.durable=${durable})`, async () => {
    const s = S.makeStore();
    let d = await S.serve(s, { LOA_STORE_DURABLE: durable });
    try {
      let r = await S.request(d.url, 'POST', '/api/v1/pages', { key: s.admin, body: { id: PAGE, access_token: 't' } });
      assert.equal(r.status, 201);
      const acked = Array.from({ length: WORKERS }, () => []);
      let stop = false;
      const workers = Array.from({ length: WORKERS }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          const mid = `m_${w}_${i}`;
          const batch = S.envelope(PAGE, [S.message(PAGE, `w${w}`, mid, `n${i}`)]);
          try {
            const res = await S.postWebhook(d.url, batch);
            if (res.status === 200) acked[w].push(mid);
          } catch {
            return; // the connection died with the daemon
          }
        }
      });
      await S.sleep(400);
      await d.kill();
      stop = true;
      await Promise.all(workers);
      const total = acked.reduce((n, a) => n + a.length, 0);
      assert.ok(total > 20, `only ${total} webhooks acknowledged before the kill`);

      d = await S.serve(s, { LOA_STORE_DURABLE: durable });
      for (let w = 0; w < WORKERS; w++) {
        const stored = await allMids(d.url, s.admin, `w${w}`);
        for (const mid of acked[w]) assert.ok(stored.has(mid), `${mid} was acknowledged but is not stored`);
      }
    } finally {
      const r = await d.stop();
      assert.equal(r.code, 0, d.log());
      S.cleanup(s);
    }
  });
}
