// SPDX-License-Identifier: MIT
// A console test's world: a store with two simulated Pages (people, one campaign each sent
// through loa-graph, whose simulated people deliver and read), an owner, a staff user of the
// first Page only and a user to lock out; `loa serve` on a free port, ready to sign in to.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const S = require('../serve/support.js');
const G = require('../../node/support/loa-graph.js');

const PAGE1 = '100000000000001';
const PAGE2 = '100000000000002';
const USERS = {
  owner: { login: 'chu', password: 'mat-khau-chu-123' },
  staff: { login: 'lan', password: 'mat-khau-lan-123' },
  victim: { login: 'khoa', password: 'mat-khau-khoa-123' },
};

function loa(s, args, { input, env } = {}) {
  return spawnSync(S.LOA, ['--store', s.store, ...args], {
    encoding: 'utf8',
    input,
    env: { ...process.env, ...env },
  });
}

// Fast sign-in slow-down and a short lock, so the lockout can be tested in seconds.
const SERVE_ENV = { LOA_SIGNIN_DELAY_MS: '200', LOA_SIGNIN_LOCK_AFTER: '4', LOA_SIGNIN_LOCK_S: '600' };

async function start({ people = 300, env = {} } = {}) {
  const s = S.makeStore();
  const g = await G.start(['--app-secret', S.SECRET, '--rate-limit', '5000']);
  const blocks = path.join(s.dir, 'blocks.json');
  fs.writeFileSync(blocks, JSON.stringify({ blocks: [{ type: 'text', text: 'Chào {{first_name}}, giảm 20% tối nay!' }] }));
  const sim = loa(s, ['simulate', '--pages', '2', '--people', String(people), '--outside-percent', '10',
    '--rate', '500', '--daily-cap', '100000', '--campaign', blocks, '--start', '--json'],
  { env: { LOA_GRAPH_URL: g.base, LOA_WEBHOOK_APP_SECRET: S.SECRET } });
  if (sim.status !== 0) throw new Error(`loa simulate: ${sim.stderr}`);
  const campaigns = JSON.parse(sim.stdout).pages.map((p) => p.campaign_id);
  for (const [role, u] of Object.entries(USERS)) {
    const args = ['user', 'add', u.login, '--role', role === 'staff' ? 'staff' : 'owner'];
    if (role === 'staff') args.push('--page', PAGE1);
    const r = loa(s, args, { input: u.password + '\n' });
    if (r.status !== 0) throw new Error(`loa user add: ${r.stderr}`);
  }
  const d = await S.serve(s, { LOA_GRAPH_URL: g.base, ...SERVE_ENV, ...env });
  const r = await g.admin.post('config', { webhook_url: `${d.url}/webhook`, delivery_probability: 1, read_probability: 0.6 });
  if (r.status !== 200) throw new Error(`loa-graph config: ${r.text}`);
  // A draft too: its stats cell shows "—" (nothing sent).
  const draft = await S.request(d.url, 'POST', '/api/v1/campaigns', {
    key: s.admin,
    body: { page_id: PAGE1, name: 'Khuyến mãi cuối tuần', blocks: [{ type: 'text', text: 'Xin chào {{first_name}}!' }] },
  });
  if (draft.status !== 201) throw new Error(`draft: ${draft.text}`);
  await S.waitFor(async () => {
    const c = await S.request(d.url, 'GET', `/api/v1/campaigns/${campaigns[0]}`, { key: s.admin });
    return c.json && c.json.status === 'completed' && c.json.stats.funnel.delivered > 0;
  }, 60000, 'the first campaign to complete');
  return {
    s, g, d, url: d.url, campaigns, draft: draft.json.id,
    // The test may have restarted loa serve: stop the one running now (this.d).
    async stop() {
      await this.d.stop();
      await g.stop();
      S.cleanup(s);
    },
  };
}

// Signs in over HTTP; resolves to { cookie, csrf, res }.
async function signIn(url, login, password, headers = {}) {
  const res = await S.request(url, 'POST', '/api/v1/session', { body: { login, password }, headers });
  const set = res.headers.get('set-cookie') || '';
  const m = set.match(/loa_session=([^;]*)/);
  return { cookie: m ? `loa_session=${m[1]}` : null, csrf: res.json && res.json.csrf_token, res, set };
}

module.exports = { S, G, PAGE1, PAGE2, USERS, SERVE_ENV, loa, start, signIn };
