// SPDX-License-Identifier: MIT
// The console over HTTP (no browser): its files (gzip, headers, SPA fallback, first-load
// size), `loa user`, console sessions (cookie attributes, CSRF, sign out, everywhere,
// slow-down and lockout that survives a restart) and what a staff user may see.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const F = require('./fixture.js');

const { S, PAGE1, PAGE2, USERS } = F;
const LIMIT = 250 * 1024;

let w;
test.before(async () => {
  w = await F.start({ people: 200 });
});
test.after(async () => {
  if (w) await w.stop();
});

async function raw(p, headers = {}) {
  const res = await fetch(w.url + p, { headers: { 'Accept-Encoding': 'gzip', ...headers } });
  // fetch decodes gzip itself; the size on the wire is Content-Length.
  return { res, len: Number(res.headers.get('content-length')), text: await res.text() };
}

test('first load: index.html with its JS and CSS, gzip, ≤ 250 KB', async () => {
  const idx = await raw('/');
  assert.equal(idx.res.status, 200);
  assert.equal(idx.res.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(idx.res.headers.get('content-encoding'), 'gzip');
  assert.equal(idx.res.headers.get('cache-control'), 'no-cache');
  assert.equal(idx.res.headers.get('x-content-type-options'), 'nosniff');
  const csp = idx.res.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.doesNotMatch(idx.text, /<script>|<style>|\sstyle=|\son[a-z]+=/i, 'no inline script or style');
  const assets = [...idx.text.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
  assert.equal(assets.length, 2, idx.text);
  let total = idx.len;
  for (const a of assets) {
    const r = await raw(a);
    assert.equal(r.res.status, 200, a);
    assert.equal(r.res.headers.get('content-encoding'), 'gzip');
    assert.match(r.res.headers.get('cache-control'), /immutable/);
    assert.match(r.res.headers.get('content-type'), a.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
    total += r.len;
  }
  console.log(`# console first load: ${(total / 1024).toFixed(1)} KB gzip-compressed (limit 250 KB)`);
  assert.ok(total <= LIMIT, `first load ${total} bytes > ${LIMIT}`);
  // Without gzip the same bytes, uncompressed.
  const plain = await fetch(w.url + assets[0], { headers: { 'Accept-Encoding': 'identity' } });
  assert.equal(plain.headers.get('content-encoding'), null);
  const gz = await fetch(w.url + assets[0]).then((r) => r.arrayBuffer());
  assert.ok(Buffer.from(gz).length > 0 && zlib.gzipSync(Buffer.from(gz)).length > 0);
});

test('console routes get index.html; /api and missing assets do not', async () => {
  for (const p of ['/signin', `/p/${PAGE1}/campaigns/3`, '/anything']) {
    const r = await raw(p);
    assert.equal(r.res.status, 200, p);
    assert.match(r.text, /<div id="app">/, p);
  }
  const api = await raw('/api/v1/nothing-here');
  assert.equal(api.res.status, 404);
  assert.equal(api.res.headers.get('content-type'), 'application/json');
  assert.match(api.text, /no such resource/);
  assert.equal((await raw('/assets/missing-123.js')).res.status, 404);
  const post = await fetch(w.url + '/signin', { method: 'POST' });
  assert.equal(post.status, 404);
});

test('loa user: add, list, passwd, remove, with precise errors', async () => {
  const run = (args, input) => F.loa(w.s, ['user', ...args], { input });
  let r = run(['add', 'an', '--role', 'staff', '--page', PAGE2], 'mot-mat-khau-dai\n');
  assert.equal(r.status, 0, r.stderr);
  r = run(['add', 'AN', '--role', 'admin'], 'mot-mat-khau-dai\n');
  assert.equal(r.status, 65);
  assert.match(r.stderr, /AN: the login is taken/);
  r = run(['add', 'x', '--role', 'staff'], 'mot-mat-khau-dai\n');
  assert.equal(r.status, 64);
  assert.match(r.stderr, /--role staff needs at least one --page/);
  r = run(['add', 'x', '--role', 'staff', '--page', '42'], 'mot-mat-khau-dai\n');
  assert.equal(r.status, 65);
  assert.match(r.stderr, /--page 42: no such Page/);
  r = run(['add', 'x', '--role', 'boss'], 'mot-mat-khau-dai\n');
  assert.equal(r.status, 64);
  assert.match(r.stderr, /--role boss: expected owner, admin or staff/);
  r = run(['add', 'x', '--role', 'admin'], 'short\n');
  assert.equal(r.status, 64);
  assert.match(r.stderr, /password: 5 bytes; it needs 10 to 1024/);
  r = run(['add', 'x', '--role', 'admin'], '');
  assert.equal(r.status, 64);
  assert.match(r.stderr, /stdin is empty/);
  r = run(['add', 'x', '--role', 'admin', '--password', 'in-argv-123']);
  assert.equal(r.status, 64, 'no password on the command line');
  r = run(['list']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, new RegExp(`^an +staff .*pages=${PAGE2}$`, 'm'));
  assert.match(r.stdout, /^chu +owner .*pages=all$/m);
  assert.doesNotMatch(r.stdout, /argon2/);
  let a = await F.signIn(w.url, 'an', 'mot-mat-khau-dai');
  assert.equal(a.res.status, 200);
  r = run(['passwd', 'an', '--generate-password']);
  assert.equal(r.status, 0, r.stderr);
  const pw = r.stdout.trim();
  assert.ok(pw.length >= 16);
  const old = await S.request(w.url, 'GET', '/api/v1/session', { headers: { Cookie: a.cookie } });
  assert.equal(old.status, 401, 'a new password ends the sessions');
  a = await F.signIn(w.url, 'an', pw);
  assert.equal(a.res.status, 200);
  r = run(['remove', 'an']);
  assert.equal(r.status, 0);
  assert.equal((await S.request(w.url, 'GET', '/api/v1/session', { headers: { Cookie: a.cookie } })).status, 401);
  r = run(['remove', 'an']);
  assert.equal(r.status, 65);
  assert.match(r.stderr, /an: no such user/);
});

test('sign in: cookie attributes, who am I, CSRF on changes, sign out', async () => {
  const bad = await F.signIn(w.url, USERS.owner.login, 'wrong-password');
  assert.equal(bad.res.status, 401);
  assert.deepEqual(bad.res.json.error, { status: 401, field: 'password', reason: 'the login or the password is wrong' });
  assert.equal(bad.cookie, null);
  const missing = await S.request(w.url, 'POST', '/api/v1/session', { body: { login: 'chu' } });
  assert.equal(missing.status, 400);
  assert.equal(missing.json.error.field, 'password');
  const a = await F.signIn(w.url, USERS.owner.login, USERS.owner.password);
  assert.equal(a.res.status, 200, a.res.text);
  assert.match(a.set, /; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  assert.doesNotMatch(a.set, /Secure/, 'plain HTTP without a trusted proxy: not Secure');
  assert.deepEqual({ ...a.res.json, csrf_token: 'x' }, { login: 'chu', role: 'owner', pages: null, lang: 'vi', csrf_token: 'x' });
  const me = await S.request(w.url, 'GET', '/api/v1/session', { headers: { Cookie: a.cookie } });
  assert.equal(me.status, 200);
  assert.equal(me.json.csrf_token, a.csrf);
  // A change with the cookie but without the CSRF token is refused, and changes nothing.
  const id = w.draft;
  let r = await S.request(w.url, 'PATCH', `/api/v1/campaigns/${id}`, { headers: { Cookie: a.cookie }, body: { name: 'đổi tên' } });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.field, 'X-CSRF-Token');
  r = await S.request(w.url, 'PATCH', `/api/v1/campaigns/${id}`, { headers: { Cookie: a.cookie, 'X-CSRF-Token': 'guess' }, body: { name: 'đổi tên' } });
  assert.equal(r.status, 403);
  assert.equal((await S.request(w.url, 'GET', `/api/v1/campaigns/${id}`, { key: w.s.admin })).json.name, 'Khuyến mãi cuối tuần');
  r = await S.request(w.url, 'PATCH', `/api/v1/campaigns/${id}`, { headers: { Cookie: a.cookie, 'X-CSRF-Token': a.csrf }, body: { name: 'Khuyến mãi cuối tuần' } });
  assert.equal(r.status, 200, r.text);
  // API keys keep working without any CSRF token.
  r = await S.request(w.url, 'PATCH', `/api/v1/campaigns/${id}`, { key: w.s.admin, body: { name: 'Khuyến mãi cuối tuần' } });
  assert.equal(r.status, 200, r.text);
  r = await S.request(w.url, 'GET', '/api/v1/session', { key: w.s.admin });
  assert.equal(r.status, 400);
  // Sign out: the cookie is cleared and the session is gone.
  r = await S.request(w.url, 'DELETE', '/api/v1/session', { headers: { Cookie: a.cookie, 'X-CSRF-Token': a.csrf } });
  assert.equal(r.status, 204);
  assert.match(r.headers.get('set-cookie'), /loa_session=; .*Max-Age=0/);
  r = await S.request(w.url, 'GET', '/api/v1/pages', { headers: { Cookie: a.cookie } });
  assert.equal(r.status, 401);
  assert.equal(r.json.error.field, 'loa_session');
  r = await S.request(w.url, 'GET', '/api/v1/pages', { headers: { Cookie: 'loa_session=not-a-token' } });
  assert.equal(r.status, 401);
});

test('sign out everywhere ends every session of the user only', async () => {
  const a = await F.signIn(w.url, USERS.owner.login, USERS.owner.password);
  const b = await F.signIn(w.url, USERS.owner.login, USERS.owner.password);
  const other = await F.signIn(w.url, USERS.staff.login, USERS.staff.password);
  const r = await S.request(w.url, 'POST', '/api/v1/session/everywhere', { headers: { Cookie: a.cookie, 'X-CSRF-Token': a.csrf } });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.ended >= 2);
  for (const c of [a, b])
    assert.equal((await S.request(w.url, 'GET', '/api/v1/session', { headers: { Cookie: c.cookie } })).status, 401);
  assert.equal((await S.request(w.url, 'GET', '/api/v1/session', { headers: { Cookie: other.cookie } })).status, 200);
});

test('staff: only their Page, never secrets', async () => {
  const a = await F.signIn(w.url, USERS.staff.login, USERS.staff.password);
  assert.equal(a.res.status, 200);
  assert.deepEqual(a.res.json.pages, [PAGE1]);
  assert.equal(a.res.json.role, 'staff');
  const h = { Cookie: a.cookie, 'X-CSRF-Token': a.csrf };
  const get = (p) => S.request(w.url, 'GET', p, { headers: h });
  let r = await get('/api/v1/pages');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.data.map((p) => p.id), [PAGE1]);
  assert.doesNotMatch(r.text, /"access_token"|"app_secret"/);
  assert.equal((await get(`/api/v1/pages/${PAGE1}`)).status, 200);
  assert.equal((await get(`/api/v1/pages/${PAGE2}`)).status, 403);
  assert.equal((await get(`/api/v1/pages/${PAGE2}/subscribers`)).status, 403);
  assert.equal((await get(`/api/v1/campaigns?page_id=${PAGE1}`)).status, 200);
  r = await get(`/api/v1/campaigns?page_id=${PAGE2}`);
  assert.equal(r.status, 403);
  assert.equal(r.json.error.field, 'page_id');
  assert.equal((await get('/api/v1/campaigns')).status, 403, 'a staff user must name their Page');
  assert.equal((await get(`/api/v1/campaigns/${w.campaigns[0]}`)).status, 200);
  assert.equal((await get(`/api/v1/campaigns/${w.campaigns[1]}`)).status, 403);
  r = await S.request(w.url, 'POST', `/api/v1/campaigns/${w.campaigns[1]}/cancel`, { headers: h });
  assert.equal(r.status, 403);
  r = await S.request(w.url, 'POST', `/api/v1/pages/${PAGE2}/audience/preview`, { headers: h, body: {} });
  assert.equal(r.status, 403);
  r = await S.request(w.url, 'POST', `/api/v1/pages/${PAGE1}/audience/preview`, { headers: h, body: { limit: 0 } });
  assert.equal(r.status, 200, r.text);
  r = await S.request(w.url, 'POST', '/api/v1/campaigns', { headers: h, body: { page_id: PAGE2, name: 'x', blocks: [{ type: 'text', text: 'x' }] } });
  assert.equal(r.status, 403);
  r = await S.request(w.url, 'PATCH', `/api/v1/pages/${PAGE1}`, { headers: h, body: { access_token: 'stolen' } });
  assert.equal(r.status, 403, 'staff never change tokens');
  r = await S.request(w.url, 'POST', '/api/v1/pages', { headers: h, body: { id: '5', access_token: 't' } });
  assert.equal(r.status, 403);
  const sub = (await S.request(w.url, 'GET', `/api/v1/pages/${PAGE2}/subscribers?limit=1`, { key: w.s.admin })).json.data[0];
  assert.equal((await get(`/api/v1/subscribers/${sub.id}`)).status, 403);
});

test('failed sign-ins: slowed, then locked; the lock survives a restart', async () => {
  const { login, password } = USERS.victim;
  let r = await F.signIn(w.url, login, 'nope-1');
  assert.equal(r.res.status, 401);
  r = await F.signIn(w.url, login, 'nope-2');
  assert.equal(r.res.status, 401);
  r = await F.signIn(w.url, login, password); // too soon after the second failure
  assert.equal(r.res.status, 429);
  assert.equal(r.res.json.lock, 'slowed');
  assert.equal(r.res.json.error.field, 'login');
  assert.ok(r.res.headers.get('retry-after'));
  await S.sleep(250);
  r = await F.signIn(w.url, login, 'nope-3');
  assert.equal(r.res.status, 401);
  await S.sleep(450);
  r = await F.signIn(w.url, login, 'nope-4'); // the fourth: locked
  assert.equal(r.res.status, 429);
  assert.equal(r.res.json.lock, 'locked');
  assert.match(r.res.json.error.reason, /locked for \d+ s after 4 failed sign-ins/);
  r = await F.signIn(w.url, login, password);
  assert.equal(r.res.status, 429, 'the right password does not open a locked login');
  // An unknown login is counted the same way (no way to tell which logins exist).
  r = await F.signIn(w.url, 'nobody', 'whatever-1');
  assert.deepEqual(r.res.json.error, { status: 401, field: 'password', reason: 'the login or the password is wrong' });
  await w.d.stop();
  w.d = await S.serve(w.s, { LOA_GRAPH_URL: w.g.base, ...F.SERVE_ENV });
  w.url = w.d.url;
  r = await F.signIn(w.url, login, password);
  assert.equal(r.res.status, 429);
  assert.equal(r.res.json.lock, 'locked');
  // Other logins are not affected.
  assert.equal((await F.signIn(w.url, USERS.owner.login, USERS.owner.password)).res.status, 200);
});

test('Secure cookie behind a trusted HTTPS proxy only', async () => {
  await w.d.stop();
  w.d = await S.serve(w.s, { LOA_GRAPH_URL: w.g.base, ...F.SERVE_ENV, LOA_TRUST_FORWARDED_PROTO: 'true' });
  w.url = w.d.url;
  let a = await F.signIn(w.url, USERS.owner.login, USERS.owner.password, { 'X-Forwarded-Proto': 'https' });
  assert.match(a.set, /; Secure$/);
  a = await F.signIn(w.url, USERS.owner.login, USERS.owner.password);
  assert.doesNotMatch(a.set, /Secure/);
  await w.d.stop();
  w.d = await S.serve(w.s, { LOA_GRAPH_URL: w.g.base, ...F.SERVE_ENV });
  w.url = w.d.url;
  a = await F.signIn(w.url, USERS.owner.login, USERS.owner.password, { 'X-Forwarded-Proto': 'https' });
  assert.doesNotMatch(a.set, /Secure/, 'an untrusted X-Forwarded-Proto is ignored');
});
