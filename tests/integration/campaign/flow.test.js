// SPDX-License-Identifier: MIT
// A campaign through the whole pipeline of `loa serve`, against loa-graph's simulated people
// (`loa simulate`): paused in the middle of sending and resumed (nothing sent while paused,
// nobody twice, nobody left out without a reason, per loa-graph's log), temporary Graph
// errors retried, the people outside the window skipped by the rules, and the funnel filled by
// loa-graph's real webhooks (delivery, read, the tapped postback button, replies).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const source = process.env.LOA_SOURCE_DIR || path.join(__dirname, '..', '..', '..');
const S = require(path.join(source, 'tests', 'integration', 'serve', 'support.js'));
const G = require(path.join(source, 'tests', 'node', 'support', 'loa-graph.js'));

const PEOPLE = 1500;
const PAGE = '100000000000001';
const CARD = {
  blocks: [{
    type: 'cards',
    elements: [{
      title: 'Áo dài lụa', subtitle: 'Chào {{first_name}}, giảm 20% tối nay',
      image_url: 'https://example.com/ao-dai.jpg',
      buttons: [{ type: 'postback', title: 'Mua ngay', payload: 'BUY_AO_DAI' }],
    }],
  }],
};

const { waitFor } = S;

test('pause and resume mid-send, retries, rules, funnel from webhooks', { timeout: 170000 }, async () => {
  const s = S.makeStore();
  const g = await G.start(['--app-secret', S.SECRET]);
  let d;
  try {
    const blocks = path.join(s.dir, 'card.json');
    fs.writeFileSync(blocks, JSON.stringify(CARD));
    const sim = spawnSync(S.LOA, ['--store', s.store, 'simulate', '--pages', '1', '--people', String(PEOPLE),
      '--outside-percent', '10', '--rate', '150', '--daily-cap', '100000', '--campaign', blocks, '--json'], {
      encoding: 'utf8', env: { ...process.env, LOA_GRAPH_URL: g.base, LOA_WEBHOOK_APP_SECRET: S.SECRET },
    });
    assert.equal(sim.status, 0, sim.stderr);
    const id = JSON.parse(sim.stdout).pages[0].campaign_id;

    d = await S.serve(s, { LOA_GRAPH_URL: g.base });
    const api = (method, p, body) => S.request(d.url, method, p, { key: s.admin, body });
    let r = await g.admin.post('config', {
      webhook_url: `${d.url}/webhook`, delivery_probability: 1, read_probability: 0.5,
      click_probability: 0.2, reply_probability: 0.1, delivery_delay_ms: 10, read_delay_ms: 30,
    });
    assert.equal(r.status, 200, r.text);
    // One request in twenty fails with a temporary error (code 2): retried, never lost. (Five
    // failures in a row, 0.05^5 per delivery, would make it `failed`: ~4e-4 per run.)
    r = await g.admin.post('faults', { page_id: PAGE, code: 2, rate: 0.05 });
    assert.equal(r.status, 200, r.text);

    r = await api('POST', `/api/v1/campaigns/${id}/start`);
    assert.equal(r.status, 200, r.text);
    const total = r.json.total;
    assert.ok(total >= PEOPLE * 0.95, `audience ${total}`); // everyone but the unreachable

    // Pause once a few hundred are out; nothing more goes out while paused.
    await waitFor(async () => (await g.admin.get('stats')).json.accepted >= 300, 30000, '300 sends');
    r = await api('POST', `/api/v1/campaigns/${id}/pause`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'paused');
    await S.sleep(300); // what was in flight settles
    const atPause = (await g.admin.get('stats')).json.accepted;
    await S.sleep(1000);
    assert.equal((await g.admin.get('stats')).json.accepted, atPause, 'sent while paused');
    const paused = (await api('GET', `/api/v1/campaigns/${id}`)).json;
    assert.ok(paused.stats.by_state.pending > 0, 'the pause came after the campaign ended');
    assert.equal(paused.stats.by_state.in_flight, 0);

    r = await api('POST', `/api/v1/campaigns/${id}/resume`);
    assert.equal(r.status, 200, r.text);
    const done = await waitFor(async () => {
      const x = await api('GET', `/api/v1/campaigns/${id}`);
      return x.json && x.json.status === 'completed' ? x.json : null;
    }, 60000, 'the campaign to complete');

    // loa-graph's log: each person at most once, and exactly the sent ones.
    const log = await fetch(`${g.base}/_admin/log.ndjson`).then((x) => x.text());
    const got = new Map();
    for (const line of log.split('\n')) {
      if (!line) continue;
      const m = JSON.parse(line);
      if (m.page_id === PAGE) got.set(m.psid, (got.get(m.psid) || 0) + 1);
    }
    assert.deepEqual([...got].filter(([, n]) => n > 1), [], 'received twice');
    const st = done.stats;
    assert.equal(st.by_state.pending + st.by_state.in_flight, 0);
    assert.equal(st.by_state.sent, got.size, 'sent deliveries = people loa-graph accepted');
    assert.equal(st.by_state.unknown, 0);
    assert.equal(st.by_state.failed, 0, JSON.stringify(st.reasons)); // 5 tries at 5 % each
    // Everyone not sent was skipped with a reason the rules gave.
    for (const x of st.reasons.filter((y) => y.state === 'skipped'))
      assert.ok(['window_closed', 'not_activated'].includes(x.reason), JSON.stringify(x));
    assert.ok(st.by_state.skipped > 0, 'the people outside the window were not skipped');
    assert.equal(st.by_state.sent + st.by_state.skipped, total);
    const gs = (await g.admin.get('stats')).json;
    assert.ok(gs.faults_injected > 0, 'no fault was injected');

    // The funnel from real webhooks: delivered ~all, read ~half, clicks and replies some.
    const f = await waitFor(async () => {
      const x = (await api('GET', `/api/v1/campaigns/${id}`)).json.stats.funnel;
      return x.delivered === x.sent && x.read > 0 && x.clicked > 0 && x.replied > 0 ? x : null;
    }, 20000, 'the funnel');
    assert.ok(f.read > f.sent * 0.35 && f.read < f.sent * 0.65, `read ${f.read} of ${f.sent}`);
    assert.ok(f.clicked > f.sent * 0.05 && f.clicked <= f.sent * 0.35, `clicked ${f.clicked} of ${f.sent}`);
    assert.equal(gs.violations, 0, JSON.stringify(gs.violations_by_rule));
    // The daemon's metrics count the same outcomes (one daemon sent the whole campaign).
    const m = (await S.request(d.url, 'GET', '/metrics')).text;
    assert.match(m, new RegExp(`loa_dispatch_deliveries_total\\{outcome="sent"\\} ${st.by_state.sent}\n`));
    assert.match(m, /loa_dispatch_in_flight 0\n/);
    const retried = Number((m.match(/loa_dispatch_deliveries_total\{outcome="retried"\} (\d+)/) || [])[1]);
    assert.ok(retried > 0, 'no delivery was retried, yet errors were injected');
  } finally {
    if (d) await d.stop();
    await g.stop();
    S.cleanup(s);
  }
});
