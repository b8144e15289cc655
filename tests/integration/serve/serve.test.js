// SPDX-License-Identifier: MIT
// `loa serve` as a user drives it: the webhook (handshake, signature, limits, every event kind,
// redelivery) and the REST API (pages, subscribers, tags, conversations, rules explain), API
// keys and roles, errors as JSON, OpenAPI, metrics, and a clean stop on SIGTERM.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const S = require('./support.js');

const PAGE = '1111';

test('loa serve: webhook and REST API', async (t) => {
  const s = S.makeStore();
  const d = await S.serve(s);
  const api = (method, p, opts = {}) => S.request(d.url, method, p, { key: s.admin, ...opts });
  try {
    await t.test('health, openapi, unknown routes', async () => {
      let r = await S.request(d.url, 'GET', '/healthz');
      assert.equal(r.status, 200);
      assert.equal(r.json.status, 'ok');
      r = await S.request(d.url, 'GET', '/api/v1/openapi.json');
      assert.equal(r.status, 200);
      const source = process.env.LOA_SOURCE_DIR || path.join(__dirname, '..', '..', '..');
      assert.deepEqual(r.json, JSON.parse(fs.readFileSync(path.join(source, 'docs', 'openapi.json'))));
      r = await api('GET', '/api/v1/nothing');
      assert.equal(r.status, 404);
      assert.equal(r.json.error.status, 404);
      r = await api('PUT', '/api/v1/pages');
      assert.equal(r.status, 405);
    });

    await t.test('verification handshake', async () => {
      let r = await S.request(d.url, 'GET', `/webhook?hub.mode=subscribe&hub.verify_token=${S.VERIFY}&hub.challenge=1158201444`);
      assert.equal(r.status, 200);
      assert.equal(r.text, '1158201444');
      for (const q of [
        `hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1`,
        `hub.mode=unsubscribe&hub.verify_token=${S.VERIFY}&hub.challenge=1`,
        `hub.mode=subscribe&hub.challenge=1`,
        `hub.mode=subscribe&hub.verify_token=${S.VERIFY}`,
      ]) {
        r = await S.request(d.url, 'GET', `/webhook?${q}`);
        assert.equal(r.status, 403, q);
      }
      assert.doesNotMatch(d.log(), new RegExp(S.VERIFY));
    });

    await t.test('API keys and roles', async () => {
      let r = await S.request(d.url, 'GET', '/api/v1/pages');
      assert.equal(r.status, 401);
      assert.equal(r.json.error.field, 'Authorization');
      r = await S.request(d.url, 'GET', '/api/v1/pages', { key: 'loa_000000000000_' + 'x'.repeat(43) });
      assert.equal(r.status, 401);
      r = await S.request(d.url, 'GET', '/api/v1/pages', { key: s.admin.slice(0, -1) + (s.admin.endsWith('A') ? 'B' : 'A') });
      assert.equal(r.status, 401);
      // staff may read but not add a Page (it carries a token)
      r = await S.request(d.url, 'GET', '/api/v1/pages', { key: s.staff });
      assert.equal(r.status, 200);
      r = await S.request(d.url, 'POST', '/api/v1/pages', { key: s.staff, body: { id: '5', access_token: 'x' } });
      assert.equal(r.status, 403);
      // a revoked key stops working
      const extra = s.run('apikey', 'create', '--role', 'admin');
      r = await S.request(d.url, 'GET', '/api/v1/pages', { key: extra });
      assert.equal(r.status, 200);
      s.run('apikey', 'revoke', extra.split('_').slice(0, 2).join('_'));
      r = await S.request(d.url, 'GET', '/api/v1/pages', { key: extra });
      assert.equal(r.status, 401);
      // keys never reach the log
      // The secret is everything after the prefix "loa_<12 hex>_" (base64url may itself hold '_').
      const secret = s.admin.slice('loa_'.length + 12 + 1);
      assert.equal(secret.length, 43);
      assert.ok(!d.log().includes(secret), 'an API key secret appears in the log');
    });

    await t.test('pages', async () => {
      let r = await api('POST', '/api/v1/pages', {
        body: { id: PAGE, name: 'Shop', access_token: 'PAGE-TOKEN-SECRET', app_secret: 'page-secret', timezone: 'Asia/Ho_Chi_Minh' },
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.has_access_token, true);
      assert.doesNotMatch(r.text, /PAGE-TOKEN-SECRET/);
      r = await api('POST', '/api/v1/pages', { body: { id: PAGE, access_token: 'x' } });
      assert.equal(r.status, 409);
      r = await api('PATCH', `/api/v1/pages/${PAGE}`, { body: { daily_cap: 300, plan_quota: 1000, send_rate: 50, timezone: 'Europe/Paris' } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.daily_cap, 300);
      assert.equal(r.json.send_rate, 50);
      assert.equal(r.json.timezone, 'Europe/Paris');
      r = await S.request(d.url, 'PATCH', `/api/v1/pages/${PAGE}`, { key: s.staff, body: { daily_cap: 400 } });
      assert.equal(r.status, 200);
      r = await S.request(d.url, 'PATCH', `/api/v1/pages/${PAGE}`, { key: s.staff, body: { access_token: 'new' } });
      assert.equal(r.status, 403);
      r = await api('GET', `/api/v1/pages/${PAGE}`);
      assert.equal(r.json.daily_cap, 400);
      r = await api('GET', '/api/v1/pages/999');
      assert.equal(r.status, 404);
      for (const [body, field] of [
        [{ daily_cap: 0 }, 'daily_cap'],
        [{ daily_cap: 'x' }, 'daily_cap'],
        [{ timezone: 'Mars/Olympus' }, 'timezone'],
        [{ timezone: '../../etc/passwd' }, 'timezone'],
        [{ colour: 'red' }, 'colour'],
        [{ id: '5' }, 'id'],
      ]) {
        r = await api('PATCH', `/api/v1/pages/${PAGE}`, { body });
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.json.error.field, field);
      }
      r = await api('POST', '/api/v1/pages', { body: { id: 'abc', access_token: 't' } });
      assert.equal(r.json.error.field, 'id');
      r = await api('POST', '/api/v1/pages', { body: { id: '77' } });
      assert.equal(r.json.error.field, 'access_token');
    });

    await t.test('webhook: signature, limits, malformed', async () => {
      const body = JSON.stringify(S.envelope(PAGE, [S.message(PAGE, 'u-sig', 'm_sig', 'x')]));
      let r = await S.request(d.url, 'POST', '/webhook', { body });
      assert.equal(r.status, 403);
      r = await S.request(d.url, 'POST', '/webhook', { body, headers: { 'X-Hub-Signature-256': S.sign(body, 'wrong') } });
      assert.equal(r.status, 403);
      r = await S.request(d.url, 'POST', '/webhook', { body, headers: { 'X-Hub-Signature-256': S.sign(body + ' ') } });
      assert.equal(r.status, 403);
      // the Page's own app secret is accepted too
      r = await S.postWebhook(d.url, S.envelope(PAGE, [S.message(PAGE, 'u-pagesecret', 'm_ps', 'x')]), 'page-secret');
      assert.equal(r.status, 200, r.text);
      // Tenants (issue 16): a second client's Page with its own app. That app can sign its own
      // Page's events, never the first Page's; an unknown Page's events are kept raw only.
      r = await api('POST', '/api/v1/pages', {
        body: { id: '2222', name: 'Other client', access_token: 'OTHER-TOKEN', app_secret: 'other-app-secret' },
      });
      assert.equal(r.status, 201, r.text);
      r = await S.postWebhook(d.url, S.envelope('2222', [S.message('2222', 'u-other', 'm_other', 'x')]), 'other-app-secret');
      assert.equal(r.status, 200, r.text);
      r = await S.postWebhook(d.url, S.envelope(PAGE, [S.message(PAGE, 'u-forged', 'm_forged', 'x')]), 'other-app-secret');
      assert.equal(r.status, 403, r.text);
      assert.match(r.json.error.reason, new RegExp(`app secret of Page ${PAGE}`));
      const mixed = { object: 'page', entry: [
        { id: '2222', time: Date.now(), messaging: [S.message('2222', 'u-other2', 'm_o2', 'x')] },
        { id: PAGE, time: Date.now(), messaging: [S.message(PAGE, 'u-forged2', 'm_f2', 'x')] }] };
      r = await S.postWebhook(d.url, mixed, 'other-app-secret');
      assert.equal(r.status, 403, 'one forged entry refuses the batch');
      r = await S.postWebhook(d.url, S.envelope('9999', [S.message('9999', 'u-nobody', 'm_nobody', 'x')]), 'other-app-secret');
      assert.equal(r.status, 200, 'an unknown Page: kept raw');
      for (const q of ['u-forged', 'u-forged2']) {
        r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?q=${q}`);
        assert.equal(r.json.data.length, 0, q);
      }
      // nothing was stored for the refused ones
      r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?q=u-sig`);
      assert.equal(r.json.data.length, 0);
      // over 1 MiB: 413, even when signed
      const big = JSON.stringify({ object: 'page', entry: [], pad: 'x'.repeat(1024 * 1024) });
      r = await S.request(d.url, 'POST', '/webhook', { body: big, headers: { 'X-Hub-Signature-256': S.sign(big) } });
      assert.equal(r.status, 413);
      // malformed JSON and a bad envelope: 400 with a JSON error
      r = await S.postWebhook(d.url, '{"object":"page","entry":[');
      assert.equal(r.status, 400);
      assert.equal(r.json.error.status, 400);
      r = await S.postWebhook(d.url, '{"object":"page","entry":{}}');
      assert.equal(r.status, 400);
      assert.equal(r.json.error.field, 'entry');
    });

    await t.test('webhook: every event kind, redelivery changes nothing', async () => {
      const t0 = Date.UTC(2026, 0, 1);
      const from = (psid, ts) => ({ sender: { id: psid }, recipient: { id: PAGE }, timestamp: ts });
      const batch = S.envelope(PAGE, [
        { ...from('u1', t0 + 1), message: { mid: 'm_1', text: 'hello', quick_reply: { payload: 'QR1' } } },
        { ...from('u1', t0 + 2), message: { mid: 'm_2', attachments: [{ type: 'image', payload: { url: 'https://x/y.jpg' } }] } },
        { sender: { id: PAGE }, recipient: { id: 'u1' }, timestamp: t0 + 3, message: { is_echo: true, app_id: 1517776481860111, metadata: 'campaign:9', mid: 'm_echo', text: 'promo' } },
        { ...from('u2', t0 + 4), postback: { mid: 'm_pb', title: 'Get Started', payload: 'GET_STARTED', referral: { ref: 'r', source: 'SHORTLINK', type: 'OPEN_THREAD' } } },
        { ...from('u3', t0 + 5), referral: { ref: 'ad', ad_id: '123', source: 'ADS', type: 'OPEN_THREAD' } },
        { ...from('u3', t0 + 6), message: { mid: 'm_ad', text: 'price?' } },
        { ...from('u1', t0 + 7), optin: { type: 'notification_messages', payload: 'p', notification_messages_token: 'NTOKEN-X', notification_messages_frequency: 'DAILY', notification_messages_timezone: 'UTC', token_expiry_timestamp: 1800000000, user_token_status: 'NOT_REFRESHED', title: 'Deals' } },
        { ...from('u1', t0 + 8), delivery: { mids: ['m_echo'], watermark: t0 + 8 } },
        { ...from('u1', t0 + 9), read: { watermark: t0 + 9 } },
        { ...from('u1', t0 + 10), reaction: { reaction: 'love', emoji: '❤', action: 'react', mid: 'm_echo' } },
        { ...from('u1', t0 + 11), message_edit: { mid: 'm_1', text: 'hello!' } },
      ]);
      let r = await S.postWebhook(d.url, batch);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.stored, 11);
      r = await S.postWebhook(d.url, batch);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { stored: 0, duplicates: 11, new_subscribers: 0 });

      r = await api('GET', `/api/v1/pages/${PAGE}/conversations/u1/messages`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json.data.map((m) => [m.mid, m.direction]), [['m_1', 'in'], ['m_2', 'in'], ['m_echo', 'out']]);
      const echo = r.json.data[2];
      assert.equal(echo.metadata, 'campaign:9');
      assert.ok(echo.delivered_at && echo.read_at);
      assert.equal(echo.reaction, 'love');
      assert.equal(r.json.data[0].quick_reply_payload, 'QR1');

      r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?q=u3`);
      const u3 = r.json.data[0];
      assert.equal(u3.last_interaction_kind, 'message');
      assert.equal(u3.first_after_ctm_ad, true);
      r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?q=u2`);
      assert.equal(r.json.data[0].last_interaction_kind, 'get_started');
      r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?q=u1`);
      const u1 = r.json.data.find((x) => x.psid === 'u1');
      assert.equal(u1.last_interaction_kind, 'reaction');
      r = await api('GET', `/api/v1/subscribers/${u1.id}`);
      assert.equal(r.json.notification_tokens.length, 1);
      assert.equal(r.json.notification_tokens[0].title, 'Deals');
      assert.doesNotMatch(r.text, /NTOKEN-X/);

      r = await api('GET', `/api/v1/pages/${PAGE}/conversations?limit=2`);
      assert.equal(r.json.data.length, 2);
      assert.ok(r.json.next_cursor);
      const next = await api('GET', `/api/v1/pages/${PAGE}/conversations?limit=2&cursor=${encodeURIComponent(r.json.next_cursor)}`);
      assert.ok(next.json.data.length >= 1);
      const seen = new Set([...r.json.data, ...next.json.data].map((c) => c.psid));
      assert.equal(seen.size, r.json.data.length + next.json.data.length);

      r = await S.request(d.url, 'GET', '/metrics');
      assert.match(r.text, /loa_webhook_events_total\{kind="message"\} \d+/);
      assert.match(r.text, /loa_webhook_events_total\{kind="unknown"\} 1/);
      assert.match(r.text, /loa_webhook_duplicates_total 11/);
      // 3 bad signatures, 2 forged for another client's Page (the tenants check)
      assert.match(r.text, /loa_http_requests_total\{route="\/webhook",method="POST",status="403"\} 5/);
      assert.match(r.text, /loa_http_requests_total\{route="none",method="",status="404"\} \d+/);
      assert.match(r.text, /loa_http_requests_total\{route="method_not_allowed",method="",status="405"\} \d+/);
    });

    await t.test('subscribers: filters, pagination, tags, attributes, delete', async () => {
      const items = [];
      for (let i = 0; i < 7; i++) items.push(S.message(PAGE, `p${i}`, `m_p${i}`, `hi ${i}`));
      assert.equal((await S.postWebhook(d.url, S.envelope(PAGE, items))).status, 200);
      let r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?limit=3`);
      assert.equal(r.json.data.length, 3);
      const ids = r.json.data.map((x) => x.id);
      let cursor = r.json.next_cursor;
      while (cursor) {
        r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?limit=3&cursor=${cursor}`);
        ids.push(...r.json.data.map((x) => x.id));
        cursor = r.json.next_cursor;
      }
      assert.equal(new Set(ids).size, ids.length);
      assert.ok(ids.length >= 11);
      const id = ids[ids.length - 1];
      r = await api('PATCH', `/api/v1/subscribers/${id}`, { body: { tags: { add: ['vip', 'hà nội'] }, attrs: { size: 'M', city: 'HN' } } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.tags.sort(), ['hà nội', 'vip']);
      assert.deepEqual(r.json.attrs, { city: 'HN', size: 'M' });
      r = await api('PATCH', `/api/v1/subscribers/${id}`, { body: { tags: { remove: ['HÀ NỘI'] }, attrs: { size: null } } });
      assert.deepEqual(r.json.tags, ['vip']);
      assert.deepEqual(r.json.attrs, { city: 'HN' });
      // Attributes typed decomposed are stored composed.
      r = await api('PATCH', `/api/v1/subscribers/${id}`, { body: { attrs: { 'ha\u0323ng': 'va\u0300ng' } } });
      assert.deepEqual(r.json.attrs, { city: 'HN', 'hạng': 'vàng' });
      r = await api('PATCH', `/api/v1/subscribers/${id}`, { body: { attrs: { 'hạng': null } } });
      assert.deepEqual(r.json.attrs, { city: 'HN' });
      r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?tag=vip`);
      assert.deepEqual(r.json.data.map((x) => x.id), [id]);
      r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?has_phone=true`);
      assert.equal(r.json.data.length, 0);
      r = await api('GET', `/api/v1/pages/${PAGE}/tags`);
      assert.deepEqual(r.json.data.find((x) => x.name === 'vip'), { name: 'vip', subscribers: 1 });
      r = await api('PATCH', `/api/v1/pages/${PAGE}/tags/vip`, { body: { name: 'gold' } });
      assert.equal(r.status, 200);
      r = await api('PATCH', `/api/v1/pages/${PAGE}/tags/nope`, { body: { name: 'x' } });
      assert.equal(r.status, 404);
      r = await api('DELETE', `/api/v1/pages/${PAGE}/tags/gold`);
      assert.equal(r.status, 204);
      for (const [body, field] of [
        [{ tags: { add: ['a,b'] } }, 'tags.add[0]'],
        [{ tags: { put: [] } }, 'tags.put'],
        [{ attrs: [1] }, 'attrs'],
        [{ name: 'x' }, 'name'],
      ]) {
        r = await api('PATCH', `/api/v1/subscribers/${id}`, { body });
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.json.error.field, field);
      }
      // An encoded NUL or slash never reaches a route (issue 16): "7%00xyz" is not subscriber 7.
      for (const p of [`/api/v1/subscribers/${id}%00xyz`, `/api/v1/subscribers/${id}%2Fx`,
        `/api/v1/pages/${PAGE}%2f/subscribers`, `/api/v1/pages/${PAGE}/subscribers?cursor=%00`]) {
        r = await api(p.includes('?') ? 'GET' : 'DELETE', p);
        assert.equal(r.status, 400, `${p}: ${r.text}`);
        assert.equal(r.json.error.field, 'path');
      }
      r = await api('GET', `/api/v1/subscribers/${id}`);
      assert.equal(r.status, 200, 'still there');
      r = await S.request(d.url, 'GET', `/webhook?hub.mode=subscribe&hub.verify_token=${S.VERIFY}%00junk&hub.challenge=1`);
      assert.equal(r.status, 400);
      r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?q=a%2Fb`);
      assert.notEqual(r.status, 400, 'an encoded slash in a query value is fine');
      r = await api('DELETE', `/api/v1/subscribers/${id}`);
      assert.equal(r.status, 204);
      r = await api('GET', `/api/v1/subscribers/${id}`);
      assert.equal(r.status, 404);
      for (const q of ['limit=0', 'limit=x', 'limit=501', 'cursor=abc', 'has_phone=maybe']) {
        r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?${q}`);
        assert.equal(r.status, 400, q);
      }
    });

    await t.test('import a point-of-sale export as it is: preview, then import', async () => {
      const csv = fs.readFileSync(path.join(__dirname, '../../data/pos-export-vi.csv'));
      const url = `/api/v1/pages/${PAGE}/subscribers/import`;
      const hdr = { 'Content-Type': 'text/csv' };
      let r = await api('POST', `${url}?dry_run=true`, { body: csv, headers: hdr });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.written, false);
      assert.equal(r.json.separator, ';');
      assert.equal(r.json.bom, true);
      assert.deepEqual(r.json.columns.slice(0, 4), [
        { column: 1, header: 'Mã khách hàng', field: 'attribute', attribute: 'customer_code' },
        { column: 2, header: 'Tên khách hàng', field: 'full_name', attribute: null },
        { column: 3, header: 'Điện thoại', field: 'phone', attribute: null },
        { column: 4, header: 'Giới tính', field: 'gender', attribute: null },
      ]);
      assert.deepEqual(r.json.columns[9], { column: 10, header: 'Tổng bán', field: 'number', attribute: 'total_spent' });
      assert.equal(r.json.inserted, 5);
      r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?q=${encodeURIComponent('dương')}`);
      assert.equal(r.json.data.length, 0, 'the preview wrote nothing');
      r = await api('POST', url, { body: csv, headers: hdr });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.written, true);
      assert.equal(r.json.inserted, 5);
      // Search ignores case (Vietnamese letters too) and Unicode form.
      r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?q=${encodeURIComponent('DƯƠNG MỸ')}`);
      assert.equal(r.json.data.length, 1);
      assert.equal(r.json.data[0].first_name, 'Yến');
      assert.equal(r.json.data[0].last_name, 'Dương Mỹ');
      assert.equal(r.json.data[0].phone, '+84912345678');
      assert.equal(r.json.data[0].attrs.total_spent, '12853000');
      assert.deepEqual(r.json.data[0].tags.sort(), ['Khách quen', 'VIP']);
      // An invalid row without skip_invalid: 400 with its line, column and reason; nothing written.
      r = await api('POST', url, { body: 'SĐT;Tên\n0912000111;An\n12;Bình\n', headers: hdr });
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(r.json.errors[0], { field: 'SĐT', reason: "'12' is not a phone number: too short", line: 3, column: 1 });
      r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?q=0912000111`);
      assert.equal(r.json.data.length, 0);
      r = await api('POST', `${url}?skip_invalid=true`, { body: 'SĐT;Tên\n0912000111;An\n12;Bình\n', headers: hdr });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.inserted, 1);
      assert.equal(r.json.invalid_rows[0].line, 3);
      r = await api('POST', url, { body: 'Tên;Giới tính\nAn;Nam\n', headers: hdr });
      assert.equal(r.status, 400);
      assert.match(r.json.error.reason, /psid or a phone column/);
      r = await api('POST', `${url}?dry_run=maybe`, { body: 'phone\n1\n', headers: hdr });
      assert.equal(r.json.error.field, 'dry_run');
    });

    await t.test('tags: case and Unicode form, many people at once, merge', async () => {
      const T = (name) => `/api/v1/pages/${PAGE}/tags/${encodeURIComponent(name)}`;
      // A sequence started by the tag, written in another case: bulk adds start it too.
      let r = await api('POST', '/api/v1/sequences', {
        body: {
          page_id: PAGE, name: 'Chăm sóc VIP', window: null, triggers: { tags: ['khách vip'] },
          steps: [{ delay: { value: 1, unit: 'days' }, blocks: [{ type: 'text', text: 'Chào' }] }],
        },
      });
      assert.equal(r.status, 201, r.text);
      const seqId = r.json.id;
      const entered = async () =>
        (await api('GET', `/api/v1/sequences/${seqId}/enrolments?limit=100`)).json.data.map((e) => e.psid).sort();
      // p1 and p2 by PSID: "Khách VIP" is the tag, whatever its case or form.
      r = await api('POST', `${T('Khách VIP')}/people`, { body: { psids: ['p1', 'p2'] } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(await entered(), ['p1', 'p2']);
      assert.deepEqual(r.json, { tag: 'Khách VIP', action: 'add', matched: 2, changed: 2, written: true });
      const nfd = 'KHA\u0301CH vip'; // decomposed, other case
      r = await api('POST', `${T(nfd)}/people`, { body: { psids: ['p2', 'p3'] } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.tag, 'Khách VIP');
      assert.equal(r.json.changed, 1);
      assert.deepEqual(await entered(), ['p1', 'p2', 'p3']);
      r = await api('GET', `/api/v1/pages/${PAGE}/tags`);
      assert.deepEqual(r.json.data.filter((x) => /^khách vip$/i.test(x.name)), [{ name: 'Khách VIP', subscribers: 3 }]);
      r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?tag=${encodeURIComponent('khách vip')}`);
      assert.equal(r.json.data.length, 3);
      // An unknown PSID: named, nothing written.
      r = await api('POST', `${T('đã nhắn')}/people`, { body: { psids: ['p4', 'nobody'] } });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.field, 'psids[1]');
      r = await api('GET', `/api/v1/pages/${PAGE}/tags`);
      assert.equal(r.json.data.find((x) => x.name === 'đã nhắn'), undefined);
      // By filter: counted first (dry_run), then written.
      const filter = { tags: { any: ['KHÁCH VIP'] } };
      r = await api('POST', `${T('tết')}/people`, { body: { filter, dry_run: true } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { tag: 'tết', action: 'add', matched: 3, changed: 3, written: false });
      r = await api('GET', `/api/v1/pages/${PAGE}/subscribers?tag=${encodeURIComponent('tết')}`);
      assert.equal(r.json.data.length, 0);
      r = await api('POST', `${T('tết')}/people`, { body: { filter } });
      assert.equal(r.json.changed, 3);
      r = await api('POST', `${T('TẾT')}/people`, { body: { action: 'remove', psids: ['p1'] } });
      assert.deepEqual(r.json, { tag: 'tết', action: 'remove', matched: 1, changed: 1, written: true });
      // Merge: everyone tagged tết gets Khách VIP (all had it), tết goes.
      r = await api('POST', `${T('tết')}/merge`, { body: { into: 'khách vip' } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { merged: 'tết', into: 'Khách VIP', moved: 0 });
      r = await api('POST', `${T('tết')}/merge`, { body: { into: 'khách vip' } });
      assert.equal(r.status, 404);
      assert.equal(r.json.error.field, 'tag');
      r = await api('POST', `${T('Khách VIP')}/merge`, { body: { into: 'KHÁCH VIP' } });
      assert.equal(r.status, 400);
      for (const [body, field] of [
        [{}, 'psids'],
        [{ psids: ['p1'], filter: {} }, 'filter'],
        [{ psids: [] }, 'psids'],
        [{ psids: [1] }, 'psids[0]'],
        [{ filter: { tags: { any: [] } } }, 'filter.tags.any'],
        [{ psids: ['p1'], action: 'toggle' }, 'action'],
        [{ psids: ['p1'], x: 1 }, 'x'],
      ]) {
        r = await api('POST', `${T('x')}/people`, { body });
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.json.error.field, field, JSON.stringify(body));
      }
      r = await api('POST', `${T('a,b')}/people`, { body: { psids: ['p1'] } });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.field, 'tag');
    });

    await t.test('rules explain', async () => {
      let r = await api('POST', '/api/v1/rules/explain', {
        body: { at: '2026-05-01T10:00Z', last_interaction: '2026-04-29T10:00Z', kind: 'message', purpose: 'promotional' },
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.allowed, false);
      r = await api('POST', '/api/v1/rules/explain', {
        body: { at: '2026-05-01T10:00Z', last_interaction: '2026-05-01T09:00Z', kind: 'message', purpose: 'promotional' },
      });
      assert.equal(r.json.allowed, true);
      r = await api('POST', '/api/v1/rules/explain', { body: { at: 'soon' } });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.field, 'at');
      r = await api('POST', '/api/v1/rules/explain', { body: { route: 'carrier-pigeon' } });
      assert.equal(r.json.error.field, 'route');
      // The 2025-2026 routes: every one in auto's order with its verdict.
      r = await api('POST', '/api/v1/rules/explain', {
        body: {
          at: '2026-12-03T10:00Z', last_interaction: '2026-11-20T10:00Z', country: 'VN', marketing: 'active',
          template: { name: 'order_shipped' }, accept: ['utility', 'marketing', 'topic'], routes: true,
          tokens: [{ topic: 'sale', created: '2025-01-01T00:00Z' }],
        },
      });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.routes.map((x) => [x.route, x.allowed, x.code]), [
        ['window', false, 'window_closed'], ['utility', true, 'utility_template'],
        ['marketing', true, 'marketing_token'], ['topic', false, 'topics_retired']]);
      assert.equal(r.json.best, 1);
      r = await api('POST', '/api/v1/rules/explain', {
        body: { at: '2026-12-03T10:00Z', last_interaction: '2026-11-20T10:00Z', country: 'FR', marketing: 'active',
          route: 'marketing', purpose: 'promotional' },
      });
      assert.equal(r.json.allowed, false);
      assert.equal(r.json.code, 'marketing_region');
      assert.equal(r.json.rule.id, 'marketing-messages-2025');
      for (const [body, field] of [[{ country: 'vn' }, 'country'], [{ marketing: 'yes' }, 'marketing'],
        [{ template: 'x' }, 'template'], [{ template: { name: '' } }, 'template'], [{ accept: [] }, 'accept'],
        [{ accept: ['fax'] }, 'accept[0]'], [{ route: 'utility:a', template: { name: 'b' } }, 'template']]) {
        r = await api('POST', '/api/v1/rules/explain', { body });
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.json.error.field, field, r.text);
      }
    });

    await t.test('bad input never gets a 500', async () => {
      const bodies = ['', 'null', '[]', '{', '{"a":1,"a":2}', '"x"', '{"id":null}', '{"tags":{"add":[null]}}', '\u0000'];
      const targets = [
        ['POST', '/api/v1/pages'], ['PATCH', `/api/v1/pages/${PAGE}`], ['PATCH', '/api/v1/subscribers/1'],
        ['PATCH', `/api/v1/pages/${PAGE}/tags/x`], ['POST', '/api/v1/rules/explain'],
        ['GET', '/api/v1/subscribers/-1'], ['GET', '/api/v1/subscribers/99999999999999999999'],
        ['GET', `/api/v1/pages/${PAGE}/conversations?cursor=1`], ['GET', `/api/v1/pages/${PAGE}/conversations?cursor=x:`],
      ];
      for (const [m, p] of targets) {
        for (const b of bodies) {
          const r = await api(m, p, m === 'GET' ? {} : { body: b });
          assert.ok(r.status >= 400 && r.status < 500, `${m} ${p} ${JSON.stringify(b)} -> ${r.status}`);
          assert.equal(typeof r.json.error.reason, 'string');
        }
      }
      const big = '{"name":"' + 'x'.repeat(1024 * 1024 + 10) + '"}';
      const r = await api('POST', '/api/v1/pages', { body: big });
      assert.equal(r.status, 413);
    });

    await t.test('hostile HTTP: conflicting lengths, no 100-continue for a body over the limit', async () => {
      // Writes raw bytes and reads what comes back until the server closes or 2 s pass.
      const raw = (text) => new Promise((resolve, reject) => {
        const u = new URL(d.url);
        const sock = net.connect(Number(u.port), u.hostname, () => sock.write(text));
        let got = '';
        sock.on('data', (b) => { got += b.toString('latin1'); });
        sock.on('error', reject);
        sock.on('close', () => resolve(got));
        setTimeout(() => { sock.destroy(); resolve(got); }, 2000);
      });
      let got = await raw(`POST /api/v1/pages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.admin}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 20\r\n\r\n{}');
      assert.match(got, /^HTTP\/1\.1 400/, got.slice(0, 200));
      assert.match(got, /"field":"headers"/);
      got = await raw(`POST /api/v1/pages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.admin}\r\n` +
        'Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 52428800\r\n\r\n');
      assert.match(got, /^HTTP\/1\.1 413/, got.slice(0, 200));
      assert.doesNotMatch(got, /100 Continue/);
      assert.match(got, /"field":"body"/);
    });

    await t.test('log lines carry method, route, status and duration', () => {
      assert.match(d.log(), /sub=http msg="request" method=GET route=\/api\/v1\/pages\/\{page_id\}\/subscribers status=200 ms=\d/);
      assert.doesNotMatch(d.log(), /PAGE-TOKEN-SECRET|page-secret|NTOKEN-X|app-secret-1/);
    });
  } finally {
    const r = await d.stop();
    assert.equal(r.code, 0, d.log());
    S.cleanup(s);
  }
});
