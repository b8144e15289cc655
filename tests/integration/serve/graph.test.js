// SPDX-License-Identifier: MIT
// End to end from loa-graph's simulated people: loa-graph signs and posts the webhooks of
// people acting on a Page to `loa serve`, which makes them subscribers, stores their
// conversations and fetches their profiles from loa-graph's Graph API.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const S = require('./support.js');

const source = process.env.LOA_SOURCE_DIR || path.join(__dirname, '..', '..', '..');
const G = require(path.join(source, 'tests', 'node', 'support', 'loa-graph.js'));

const PAGE = '3333';

const { waitFor } = S;

test('subscribers and conversations from loa-graph people', async () => {
  const s = S.makeStore();
  const g = await G.start(['--app-secret', S.SECRET]);
  let d;
  try {
    d = await S.serve(s, { LOA_GRAPH_URL: g.base });
    const api = (method, p, body) => S.request(d.url, method, p, { key: s.admin, body });
    let r = await api('POST', '/api/v1/pages', { id: PAGE, name: 'Shop', access_token: 'TOKEN1', app_secret: S.SECRET });
    assert.equal(r.status, 201, r.text);
    r = await g.admin.post('pages', { id: PAGE, name: 'Shop', access_token: 'TOKEN1', app_secret: S.SECRET });
    assert.equal(r.status, 201, r.text);
    r = await g.admin.post('config', { webhook_url: `${d.url}/webhook` });
    assert.equal(r.status, 200, r.text);
    const people = [
      { psid: 'g1', first_name: 'Lan', last_name: 'Trần', gender: 'female', locale: 'vi_VN', timezone: 7 },
      { psid: 'g2', first_name: 'Minh', last_name: 'Lê', gender: 'male', locale: 'vi_VN', timezone: 7 },
    ];
    for (const p of people) {
      r = await g.admin.post('people', { page_id: PAGE, ...p });
      assert.ok(r.status === 200 || r.status === 201, r.text);
    }
    for (const [psid, kind, extra] of [
      ['g1', 'message', { text: 'Xin chào' }],
      ['g1', 'quick_reply', { text: 'Size M', payload: 'SIZE_M' }],
      ['g2', 'postback', { title: 'Mua ngay', payload: 'BUY' }],
      ['g2', 'message', { text: 'Còn hàng không?' }],
    ]) {
      r = await g.admin.post('actions', { page_id: PAGE, psid, kind, ...extra });
      assert.equal(r.status, 200, `${kind}: ${r.text}`);
    }
    // webhooks arrive, subscribers appear with their profiles
    const subs = await waitFor(async () => {
      const x = await api('GET', `/api/v1/pages/${PAGE}/subscribers`);
      const all = x.json && x.json.data;
      return all && all.length === 2 && all.every((p) => p.first_name) ? all : null;
    });
    const g1 = subs.find((p) => p.psid === 'g1');
    assert.equal(g1.first_name, 'Lan');
    assert.equal(g1.last_name, 'Trần');
    assert.equal(g1.utc_offset_min, 420);
    assert.equal(g1.last_interaction_kind, 'quick_reply');
    const msgs = await waitFor(async () => {
      const x = await api('GET', `/api/v1/pages/${PAGE}/conversations/g2/messages`);
      return x.json && x.json.data.length === 2 ? x.json.data : null;
    });
    assert.deepEqual(msgs.map((m) => m.text), ['Mua ngay', 'Còn hàng không?']);
    r = await api('GET', `/api/v1/pages/${PAGE}/conversations`);
    assert.deepEqual(r.json.data.map((c) => c.psid).sort(), ['g1', 'g2']);
    r = await S.request(d.url, 'GET', '/metrics');
    assert.match(r.text, /loa_profiles_fetched_total 2/);
    assert.match(r.text, /loa_webhook_bad_signature_total 0/);
  } finally {
    if (d) {
      const r = await d.stop();
      assert.equal(r.code, 0, d.log());
    }
    await g.stop();
    S.cleanup(s);
  }
});

test('a profile look-up that failed is retried by the sweep', async () => {
  const s = S.makeStore();
  const g = await G.start(['--app-secret', S.SECRET]);
  let d;
  try {
    d = await S.serve(s, { LOA_GRAPH_URL: g.base, LOA_WEBHOOK_PROFILE_SWEEP_S: '1' });
    const api = (method, p, body) => S.request(d.url, method, p, { key: s.admin, body });
    let r = await api('POST', '/api/v1/pages', { id: PAGE, name: 'Shop', access_token: 'TOKEN1', app_secret: S.SECRET });
    assert.equal(r.status, 201, r.text);
    await g.admin.post('pages', { id: PAGE, name: 'Shop', access_token: 'TOKEN1', app_secret: S.SECRET });
    await g.admin.post('config', { webhook_url: `${d.url}/webhook` });
    await g.admin.post('people', { page_id: PAGE, psid: 'g9', first_name: 'Hoa', last_name: 'Phạm' });
    // Graph is down (a temporary error) when the person first writes: the look-up fails.
    r = await g.admin.post('faults', { page_id: PAGE, code: 2, rate: 1 });
    assert.equal(r.status, 200, r.text);
    r = await g.admin.post('actions', { page_id: PAGE, psid: 'g9', kind: 'message', text: 'Alo' });
    assert.equal(r.status, 200, r.text);
    await waitFor(async () => /loa_profiles_failed_total [1-9]/.test((await S.request(d.url, 'GET', '/metrics')).text));
    let x = await api('GET', `/api/v1/pages/${PAGE}/subscribers`);
    assert.equal(x.json.data[0].first_name, null);
    // Graph is back: the next sweep fills the profile in.
    await g.admin.post('faults', {});
    const sub = await waitFor(async () => {
      x = await api('GET', `/api/v1/pages/${PAGE}/subscribers`);
      return x.json.data[0].first_name ? x.json.data[0] : null;
    }, 10000);
    assert.equal(sub.first_name, 'Hoa');
    assert.match((await S.request(d.url, 'GET', '/metrics')).text, /loa_profiles_fetched_total 1/);
  } finally {
    if (d) await d.stop();
    await g.stop();
    S.cleanup(s);
  }
});
