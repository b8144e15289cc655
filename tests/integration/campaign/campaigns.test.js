// SPDX-License-Identifier: MIT
// The campaigns REST API (/api/v1/campaigns) as a user drives it, against loa-graph: bodies
// refused with the field of every problem, drafts edited and refused once they are not drafts
// (409), schedule with a Page-local time, start / pause / resume / cancel, the dispatcher of
// `loa serve` sending a campaign to loa-graph (each person once, no rule violation), the
// delivery list with its cursor, failed deliveries re-queued by retry-failed, unknown outcomes
// listed and resent only by explicit id, and no 5xx for any malformed body.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const source = process.env.LOA_SOURCE_DIR || path.join(__dirname, '..', '..', '..');
const S = require(path.join(source, 'tests', 'integration', 'serve', 'support.js'));
const G = require(path.join(source, 'tests', 'node', 'support', 'loa-graph.js'));

const PAGE = '4444';
const TOKEN = 'PAGE-TOKEN-4444';
const PEOPLE = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
const TEXT = { blocks: [{ type: 'text', text: 'Chào {{first_name|bạn}}! Giảm 20% hôm nay.' }] };

const { waitFor } = S;

test('campaigns REST API', { timeout: 170000 }, async (t) => {
  const s = S.makeStore();
  const g = await G.start(['--app-secret', S.SECRET]);
  let d;
  try {
    d = await S.serve(s, { LOA_GRAPH_URL: g.base, LOA_DISPATCH_RECONCILE_GRACE_S: '1' });
    const api = (method, p, body, key = s.admin) => S.request(d.url, method, p, { key, body });
    const staff = (method, p, body) => api(method, p, body, s.staff);

    // A Page known to both, and six people who just wrote to it (inside the 24 h window).
    let r = await api('POST', '/api/v1/pages', {
      id: PAGE, name: 'Shop', access_token: TOKEN, app_secret: S.SECRET, timezone: 'America/New_York',
    });
    assert.equal(r.status, 201, r.text);
    r = await g.admin.post('pages', { id: PAGE, name: 'Shop', access_token: TOKEN, app_secret: S.SECRET });
    assert.equal(r.status, 201, r.text);
    r = await g.admin.post('config', {
      webhook_url: `${d.url}/webhook`, delivery_delay_ms: 20, read_delay_ms: 40,
    });
    assert.equal(r.status, 200, r.text);
    for (const psid of PEOPLE) {
      r = await g.admin.post('actions', { page_id: PAGE, psid, kind: 'message', text: 'Xin chào' });
      assert.equal(r.status, 200, r.text);
    }
    const subs = await waitFor(async () => {
      const x = await api('GET', `/api/v1/pages/${PAGE}/subscribers?limit=100`);
      return x.json && x.json.data.length === PEOPLE.length ? x.json.data : null;
    }, 10000, 'the subscribers');
    const subId = Object.fromEntries(subs.map((x) => [x.psid, x.id]));
    // Tags pick small audiences for the retry and unknown cases.
    for (const [psid, tag] of [['c1', 'retry'], ['c2', 'retry'], ['c3', 'unk'], ['c4', 'unk'], ['c5', 'slow'], ['c6', 'slow']]) {
      r = await api('PATCH', `/api/v1/subscribers/${subId[psid]}`, { tags: { add: [tag] } });
      assert.equal(r.status, 200, r.text);
    }

    const create = async (extra = {}, key = s.admin) => {
      const x = await api('POST', '/api/v1/campaigns', { page_id: PAGE, name: 'Sale', blocks: TEXT, ...extra }, key);
      assert.equal(x.status, 201, x.text);
      return x.json;
    };
    // Everything loa-graph accepted for one campaign, by person.
    const sentTo = async (id) => {
      const log = await fetch(`${g.base}/_admin/log.ndjson`).then((x) => x.text());
      const per = new Map();
      const mine = new Set((await allDeliveries(id)).map((x) => `loa:d:${x.id}`));
      for (const line of log.split('\n')) {
        if (!line) continue;
        const m = JSON.parse(line);
        if (m.page_id === PAGE && mine.has(m.metadata)) per.set(m.psid, (per.get(m.psid) || 0) + 1);
      }
      return per;
    };
    const allDeliveries = async (id, query = '') => {
      const out = [];
      let after = '';
      for (let pages = 0; ; pages++) {
        const x = await api('GET', `/api/v1/campaigns/${id}/deliveries?limit=2${query}${after}`);
        assert.equal(x.status, 200, x.text);
        out.push(...x.json.data);
        if (!x.json.next_cursor) return out;
        assert.ok(pages < 100, 'the cursor does not end');
        after = `&after=${x.json.next_cursor}`;
      }
    };
    const status = async (id, want, timeoutMs = 15000) =>
      waitFor(async () => {
        const x = await api('GET', `/api/v1/campaigns/${id}`);
        return x.json && x.json.status === want ? x.json : null;
      }, timeoutMs, `campaign ${id} to be ${want}`);

    await t.test('bodies are refused with the field of every problem', async () => {
      const cases = [
        [{}, 'page_id'],
        [{ page_id: '999', name: 'x', blocks: TEXT }, 'page_id'],
        [{ page_id: PAGE, blocks: TEXT }, 'name'],
        [{ page_id: PAGE, name: '', blocks: TEXT }, 'name'],
        [{ page_id: PAGE, name: 'x'.repeat(201), blocks: TEXT }, 'name'],
        [{ page_id: PAGE, name: 'x' }, 'blocks'],
        [{ page_id: PAGE, name: 'x', blocks: 'hello' }, 'blocks'],
        [{ page_id: PAGE, name: 'x', blocks: { blocks: [{ type: 'text' }] } }, 'blocks.blocks[0].text'],
        [{ page_id: PAGE, name: 'x', blocks: [{ type: 'text' }] }, 'blocks[0].text'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, filter: [] }, 'filter'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, filter: { tags: { any: [7] } } }, 'filter.tags.any[0]'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, goal: 'fame' }, 'goal'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, purpose: 'spam' }, 'purpose'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, tag: 'POST_PURCHASE_UPDATE' }, 'tag'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, purpose: 'non_promotional', tag: 'NOT_A_TAG' }, 'tag'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, scheduled_at: '2020-01-01T00:00:00Z' }, 'scheduled_at'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, scheduled_at: 'tomorrow' }, 'scheduled_at'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, scheduled_at: '2031-03-09 02:30' }, 'scheduled_at'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, pacing: { window: { from: '25:00', to: '08:00' } } }, 'pacing.window.from'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, pacing: { window: { from: '08:00' } } }, 'pacing.window.to'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, pacing: { window: { from: '08:00', to: '08:00' } } }, 'pacing.window'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, pacing: { rate_per_s: 1000 } }, 'pacing.rate_per_s'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, pacing: { batch_size: -1 } }, 'pacing.batch_size'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, pacing: { batch_interval_s: 'soon' } }, 'pacing.batch_interval_s'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, pacing: { speed: 1 } }, 'pacing.speed'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, pacing: 5 }, 'pacing'],
        [{ page_id: PAGE, name: 'x', blocks: TEXT, colour: 'red' }, 'colour'],
      ];
      for (const [body, field] of cases) {
        r = await api('POST', '/api/v1/campaigns', body);
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
        assert.equal(r.json.error.status, 400);
        assert.ok(r.json.errors.some((e) => e.field === field), `${JSON.stringify(body)}: no complaint about ${field}: ${r.text}`);
      }
      // Every problem at once, the first one as the error.
      r = await api('POST', '/api/v1/campaigns', { page_id: PAGE, name: '', blocks: [{ type: 'text' }], pacing: { rate_per_s: -1 } });
      assert.equal(r.status, 400);
      assert.deepEqual(r.json.errors.map((e) => e.field).sort(), ['blocks[0].text', 'name', 'pacing.rate_per_s']);
      assert.equal(r.json.error.field, r.json.errors[0].field);
      r = await api('POST', '/api/v1/campaigns', '{"page_id":');
      assert.equal(r.status, 400);
      assert.equal(r.json.error.field, 'body');
      r = await api('GET', '/api/v1/campaigns', undefined, 'nokey');
      assert.equal(r.status, 401);
      r = await api('GET', '/api/v1/campaigns/abc');
      assert.equal(r.status, 400);
      assert.equal(r.json.error.field, 'id');
      r = await api('GET', '/api/v1/campaigns/987654');
      assert.equal(r.status, 404);
      r = await api('POST', '/api/v1/campaigns/987654/start');
      assert.equal(r.status, 404);
      r = await api('GET', '/api/v1/campaigns?status=sleeping');
      assert.equal(r.json.error.field, 'status');
      r = await api('GET', '/api/v1/campaigns?page_id=999');
      assert.equal(r.status, 404);
      r = await api('GET', '/api/v1/campaigns?limit=0');
      assert.equal(r.json.error.field, 'limit');
    });

    await t.test('drafts: create, read, list, edit; only a draft can be edited', async () => {
      const c = await create({
        name: 'Flash sale', goal: 'engagement', filter: { tags: { any: ['slow'] } },
        pacing: { batch_size: 10, batch_interval_s: 60, rate_per_s: 5, window: { from: '08:00', to: '21:00' } },
      }, s.staff);
      assert.equal(c.status, 'draft');
      assert.equal(c.page_id, PAGE);
      assert.equal(c.goal, 'engagement');
      assert.equal(c.purpose, 'promotional');
      assert.equal(c.tag, null);
      assert.deepEqual(c.blocks, TEXT);
      assert.deepEqual(c.filter, { tags: { any: ['slow'] } });
      assert.deepEqual(c.pacing, { batch_size: 10, batch_interval_s: 60, rate_per_s: 5, window: { from: '08:00', to: '21:00' } });
      assert.equal(c.scheduled_at, null);
      assert.equal(c.stats.total, 0);
      r = await staff('GET', `/api/v1/campaigns/${c.id}`);
      assert.equal(r.status, 200);
      assert.equal(r.json.name, 'Flash sale');
      // Edit: partial pacing, clear the window, a tag with a non-promotional purpose.
      r = await staff('PATCH', `/api/v1/campaigns/${c.id}`, {
        name: 'Flash sale 2', purpose: 'non_promotional', tag: 'HUMAN_AGENT',
        pacing: { rate_per_s: 7, window: null }, blocks: [{ type: 'text', text: 'Đơn hàng của bạn' }],
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.name, 'Flash sale 2');
      assert.equal(r.json.tag, 'HUMAN_AGENT');
      assert.deepEqual(r.json.pacing, { batch_size: 10, batch_interval_s: 60, rate_per_s: 7, window: null });
      assert.deepEqual(r.json.blocks, { blocks: [{ type: 'text', text: 'Đơn hàng của bạn' }] });
      for (const [body, field] of [
        [{ page_id: '1' }, 'page_id'],
        [{ purpose: 'promotional' }, 'tag'],
        [{ name: 7 }, 'name'],
        [{ status: 'running' }, 'status'],
      ]) {
        r = await api('PATCH', `/api/v1/campaigns/${c.id}`, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.ok(r.json.errors.some((e) => e.field === field), r.text);
      }
      r = await api('PATCH', `/api/v1/campaigns/${c.id}`, { tag: null, purpose: 'promotional' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.tag, null);
      // List: newest first, filters, cursor.
      const c2 = await create({ name: 'Second' });
      r = await api('GET', `/api/v1/campaigns?page_id=${PAGE}&status=draft&limit=1`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json.data.map((x) => x.id), [c2.id]);
      assert.ok(r.json.next_cursor);
      r = await api('GET', `/api/v1/campaigns?page_id=${PAGE}&status=draft&limit=1&after=${r.json.next_cursor}`);
      assert.deepEqual(r.json.data.map((x) => x.id), [c.id]);
      assert.equal(r.json.next_cursor, null);
      r = await api('GET', '/api/v1/campaigns?status=running,completed');
      assert.equal(r.json.data.length, 0);
      // Delete a draft.
      r = await api('DELETE', `/api/v1/campaigns/${c2.id}`);
      assert.equal(r.status, 204);
      r = await api('GET', `/api/v1/campaigns/${c2.id}`);
      assert.equal(r.status, 404);
      // Cancel the first; it is no longer editable, and can then be deleted.
      r = await api('POST', `/api/v1/campaigns/${c.id}/cancel`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'cancelled');
      r = await api('PATCH', `/api/v1/campaigns/${c.id}`, { name: 'late' });
      assert.equal(r.status, 409);
      assert.deepEqual(r.json.error, { status: 409, field: 'status', reason: 'campaign is cancelled; only a draft can be edited' });
      for (const op of ['start', 'pause', 'resume', 'cancel', 'retry-failed']) {
        r = await api('POST', `/api/v1/campaigns/${c.id}/${op}`);
        assert.equal(r.status, 409, `${op}: ${r.text}`);
        assert.equal(r.json.error.field, 'status');
        assert.match(r.json.error.reason, /^campaign is cancelled; /);
      }
      r = await api('DELETE', `/api/v1/campaigns/${c.id}`);
      assert.equal(r.status, 204);
    });

    await t.test('schedule: a Page-local time, in the future; rescheduling; cancel', async () => {
      const c = await create({ name: 'Later' });
      for (const [body, field] of [
        [{ at: '2020-05-04 09:00' }, 'at'],
        [{ at: 'next week' }, 'at'],
        [{ at: 5 }, 'at'],
        [{}, 'at'],
        [{ when: '2031-01-01 09:00' }, 'when'],
      ]) {
        r = await api('POST', `/api/v1/campaigns/${c.id}/schedule`, body);
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
        assert.equal(r.json.error.field, field);
      }
      // 09:00 in New York on 2031-07-01 is 13:00Z (summer time), on 2031-12-01 14:00Z.
      r = await api('POST', `/api/v1/campaigns/${c.id}/schedule`, { at: '2031-07-01 09:00' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'scheduled');
      assert.equal(r.json.scheduled_at, '2031-07-01T13:00:00.000Z');
      r = await api('POST', `/api/v1/campaigns/${c.id}/schedule`, { at: '2031-12-01 09:00' });
      assert.equal(r.json.scheduled_at, '2031-12-01T14:00:00.000Z');
      r = await api('POST', `/api/v1/campaigns/${c.id}/schedule`, { at: '2031-12-01T09:00:00+07:00' });
      assert.equal(r.json.scheduled_at, '2031-12-01T02:00:00.000Z');
      r = await api('PATCH', `/api/v1/campaigns/${c.id}`, { name: 'x' });
      assert.equal(r.status, 409);
      assert.equal(r.json.error.reason, 'campaign is scheduled; only a draft can be edited');
      r = await api('POST', `/api/v1/campaigns/${c.id}/pause`);
      assert.equal(r.status, 409);
      r = await api('POST', `/api/v1/campaigns/${c.id}/cancel`);
      assert.equal(r.json.status, 'cancelled');
      assert.equal(r.json.total, 0);
    });

    await t.test('start: the dispatcher sends it; each person once; deliveries and funnel', async () => {
      const c = await create({ name: 'Everyone' });
      r = await staff('POST', `/api/v1/campaigns/${c.id}/start`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.total, PEOPLE.length);
      assert.ok(['running', 'completed'].includes(r.json.status), r.json.status);
      r = await api('POST', `/api/v1/campaigns/${c.id}/start`);
      assert.equal(r.status, 409);
      const done = await status(c.id, 'completed');
      assert.equal(done.stats.by_state.sent, PEOPLE.length);
      assert.equal(done.stats.funnel.sent, PEOPLE.length);
      assert.ok(done.completed_at);
      const all = await allDeliveries(c.id);
      assert.equal(all.length, PEOPLE.length);
      assert.deepEqual(all.map((x) => x.position), [...all.keys()]);
      assert.ok(all.every((x) => x.state === 'sent' && x.mid && x.sent_at), JSON.stringify(all));
      assert.deepEqual(all.map((x) => x.psid).sort(), [...PEOPLE].sort());
      const per = await sentTo(c.id);
      assert.deepEqual([...per.keys()].sort(), [...PEOPLE].sort());
      assert.ok([...per.values()].every((n) => n === 1));
      r = await api('GET', `/api/v1/campaigns/${c.id}/deliveries?state=failed,skipped`);
      assert.equal(r.json.data.length, 0);
      r = await api('GET', `/api/v1/campaigns/${c.id}/deliveries?state=nope`);
      assert.equal(r.json.error.field, 'state');
      r = await api('GET', `/api/v1/campaigns/${c.id}/deliveries?after=x`);
      assert.equal(r.json.error.field, 'after');
      // loa-graph's delivery webhooks (they name the mids) reach the funnel. (Read receipts
      // carry only a watermark; see the report on sent_at vs Graph's time.)
      const f = await waitFor(async () => {
        const x = await api('GET', `/api/v1/campaigns/${c.id}`);
        return x.json.stats.funnel.delivered === PEOPLE.length ? x.json.stats : null;
      }, 10000, 'the delivery receipts');
      assert.equal(f.rates.delivered, 1);
      assert.equal(f.funnel.clicked, 0);
      r = await api('POST', `/api/v1/campaigns/${c.id}/pause`);
      assert.equal(r.status, 409);
      assert.equal(r.json.error.reason, 'campaign is completed; only a running campaign can be paused');
      r = await api('DELETE', `/api/v1/campaigns/${c.id}`);
      assert.equal(r.status, 409);
    });

    await t.test('pause, resume, cancel a running campaign', async () => {
      // One message per second: it is still running when paused.
      const c = await create({ name: 'Slow', filter: { tags: { any: ['slow'] } }, pacing: { rate_per_s: 1, batch_size: 1, batch_interval_s: 3600 } });
      r = await api('POST', `/api/v1/campaigns/${c.id}/start`);
      assert.equal(r.json.total, 2);
      r = await api('POST', `/api/v1/campaigns/${c.id}/pause`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'paused');
      assert.equal(r.json.status_reason, 'manual');
      r = await api('POST', `/api/v1/campaigns/${c.id}/pause`);
      assert.equal(r.status, 409);
      r = await api('POST', `/api/v1/campaigns/${c.id}/resume`);
      assert.equal(r.json.status, 'running');
      assert.equal(r.json.status_reason, null);
      // The batch of one is sent, then an hour's pause: the second stays pending.
      await waitFor(async () => (await api('GET', `/api/v1/campaigns/${c.id}`)).json.stats.by_state.sent === 1, 10000, 'the first batch');
      r = await api('POST', `/api/v1/campaigns/${c.id}/cancel`);
      assert.equal(r.json.status, 'cancelled');
      assert.equal(r.json.stats.by_state.sent, 1);
      assert.equal(r.json.stats.by_state.skipped, 1);
      assert.deepEqual(r.json.stats.reasons.find((x) => x.state === 'skipped'), { state: 'skipped', reason: 'cancelled', count: 1 });
    });

    await t.test('retry-failed re-queues retryable failures only', async () => {
      r = await g.admin.post('faults', { page_id: PAGE, code: 2, rate: 1 });
      assert.equal(r.status, 200, r.text);
      const c = await create({ name: 'Retry', filter: { tags: { any: ['retry'] } } });
      r = await api('POST', `/api/v1/campaigns/${c.id}/retry-failed`);
      assert.equal(r.status, 409, 'a draft has nothing to retry');
      r = await api('POST', `/api/v1/campaigns/${c.id}/start`);
      assert.equal(r.json.total, 2);
      // Five attempts with backoff (1 s base, full jitter), then failed.
      const failed = await status(c.id, 'completed', 60000);
      assert.equal(failed.stats.by_state.failed, 2, JSON.stringify(failed.stats));
      assert.deepEqual(failed.stats.reasons, [{ state: 'failed', reason: 'temporary', count: 2 }]);
      r = await g.admin.post('faults', {});
      assert.equal(r.status, 200);
      r = await api('POST', `/api/v1/campaigns/${c.id}/retry-failed`, { extra: 1 });
      assert.equal(r.json.error.field, 'extra');
      r = await staff('POST', `/api/v1/campaigns/${c.id}/retry-failed`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.requeued, 2);
      assert.ok(r.json.retryable_reasons.includes('temporary'));
      assert.ok(r.json.retryable_reasons.includes('server_error'));
      assert.ok(!r.json.retryable_reasons.includes('encode'));
      const done = await waitFor(async () => {
        const x = await api('GET', `/api/v1/campaigns/${c.id}`);
        return x.json.status === 'completed' && x.json.stats.by_state.sent === 2 ? x.json : null;
      }, 15000, 'the retried sends');
      assert.equal(done.stats.by_state.failed, 0);
      const per = await sentTo(c.id);
      assert.deepEqual([...per.entries()].sort(), [['c1', 1], ['c2', 1]]);
      r = await api('POST', `/api/v1/campaigns/${c.id}/retry-failed`);
      assert.equal(r.json.requeued, 0);
    });

    await t.test('unknown outcomes: listed after a grace period, resent only by id', async () => {
      r = await g.admin.post('faults', { page_id: PAGE, drop_rate: 1, rate: 0 });
      assert.equal(r.status, 200, r.text);
      const c = await create({ name: 'Unknown', filter: { tags: { any: ['unk'] } } });
      r = await api('POST', `/api/v1/campaigns/${c.id}/unknowns/resend`, { ids: [1] });
      assert.equal(r.status, 409, 'a draft has nothing to resend');
      r = await api('POST', `/api/v1/campaigns/${c.id}/start`);
      assert.equal(r.json.total, 2);
      // Both requests are dropped: unknown. While loa-graph drops the conversation calls too,
      // nobody can tell whether they arrived: the campaign stays running and a resend is
      // refused, naming them.
      const stuck = await waitFor(async () => {
        const x = await api('GET', `/api/v1/campaigns/${c.id}`);
        return x.json.stats.by_state.unknown === 2 ? x.json : null;
      }, 20000, 'two unknown deliveries');
      assert.equal(stuck.status, 'running');
      r = await api('GET', `/api/v1/campaigns/${c.id}/unknowns?older_than_s=0`);
      const ids = r.json.data.map((x) => x.id);
      assert.equal(ids.length, 2);
      assert.deepEqual(r.json.data.map((x) => x.reconciled_at), [null, null]);
      r = await staff('POST', `/api/v1/campaigns/${c.id}/unknowns/resend`, { ids });
      assert.equal(r.status, 409, r.text);
      assert.equal(r.json.error.field, 'ids');
      assert.match(r.json.error.reason, new RegExp(`deliveries ${ids[0]}, ${ids[1]} are not reconciled yet`));
      assert.match(r.json.error.reason, /may have been delivered/);
      r = await g.admin.post('faults', {});
      // Now the reconciler reads both conversations: nothing arrived, safe to resend.
      const ended = await status(c.id, 'completed', 30000);
      assert.equal(ended.stats.by_state.unknown, 2, JSON.stringify(ended.stats));
      // Claimed just now: not yet listed with the default grace of 60 s.
      r = await api('GET', `/api/v1/campaigns/${c.id}/unknowns`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.older_than_s, 60);
      assert.equal(r.json.data.length, 0);
      r = await api('GET', `/api/v1/campaigns/${c.id}/unknowns?older_than_s=0`);
      assert.equal(r.json.data.length, 2);
      const [first, second] = r.json.data;
      assert.equal(first.state, 'unknown');
      assert.equal(first.reason, 'reconciled_not_sent');
      assert.ok(first.reconciled_at);
      r = await api('GET', `/api/v1/campaigns/${c.id}/unknowns?older_than_s=-1`);
      assert.equal(r.json.error.field, 'older_than_s');
      for (const [body, field] of [
        [{}, 'ids'],
        [{ ids: [] }, 'ids'],
        [{ ids: 'all' }, 'ids'],
        [{ ids: [first.id, 'x'] }, 'ids[1]'],
        [{ ids: [0] }, 'ids[0]'],
        [{ ids: [1], all: true }, 'all'],
      ]) {
        r = await api('POST', `/api/v1/campaigns/${c.id}/unknowns/resend`, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.json.error.field, field);
      }
      r = await staff('POST', `/api/v1/campaigns/${c.id}/unknowns/resend`, { ids: [first.id, 999999] });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.requeued, 1);
      assert.equal(r.json.not_requeued, 1);
      const done = await waitFor(async () => {
        const x = await api('GET', `/api/v1/campaigns/${c.id}`);
        return x.json.status === 'completed' && x.json.stats.by_state.sent === 1 ? x.json : null;
      }, 15000, 'the resent delivery');
      assert.equal(done.stats.by_state.unknown, 1);
      const all = await allDeliveries(c.id);
      assert.equal(all.find((x) => x.id === first.id).state, 'sent');
      assert.equal(all.find((x) => x.id === second.id).state, 'unknown');
      const per = await sentTo(c.id);
      assert.deepEqual([...per.entries()], [[first.psid, 1]]);
    });

    await t.test('no 5xx for malformed bodies', async () => {
      const c = await create({ name: 'Fuzz' });
      const values = [null, true, 0, -1, 1.5, 1e300, '', 'x', [], [[]], {}, { a: {} }, '\u0000', 'x'.repeat(5000)];
      const fields = ['page_id', 'name', 'goal', 'purpose', 'tag', 'blocks', 'filter', 'scheduled_at', 'pacing', 'at', 'ids'];
      const bodies = ['', 'null', '[]', '"x"', '{', '{"a":1,"a":2}', '{"name":"\\ud800"}', '{}'];
      for (const f of fields) {
        for (const v of values) {
          bodies.push(JSON.stringify({ [f]: v }));
          bodies.push(JSON.stringify({ page_id: PAGE, name: 'n', blocks: TEXT, [f]: v }));
          bodies.push(JSON.stringify({ pacing: { batch_size: v, window: v } }));
          bodies.push(JSON.stringify({ pacing: { window: { from: v, to: v } } }));
          bodies.push(JSON.stringify({ blocks: [{ type: 'text', text: v, quick_replies: v }] }));
        }
      }
      const targets = [
        ['POST', '/api/v1/campaigns'],
        ['PATCH', `/api/v1/campaigns/${c.id}`],
        ['POST', `/api/v1/campaigns/${c.id}/schedule`],
        ['POST', `/api/v1/campaigns/${c.id}/unknowns/resend`],
        ['POST', `/api/v1/campaigns/${c.id}/pause`],
      ];
      let n = 0;
      for (const [method, p] of targets) {
        for (const body of bodies) {
          const x = await S.request(d.url, method, p, { key: s.admin, body, headers: { 'Content-Type': 'application/json' } });
          assert.ok(x.status < 500, `${method} ${p} ${body.slice(0, 200)} → ${x.status} ${x.text}`);
          assert.ok(x.json && (x.status < 400 || x.json.error), `${method} ${p}: not a JSON error: ${x.text}`);
          n++;
        }
      }
      assert.ok(n > 1000, `${n} requests`);
      for (const q of ['limit=x', 'limit=100000', 'after=-3', 'cursor=abc', 'status=', 'page_id=', 'state=,', 'older_than_s=1e9']) {
        for (const p of ['/api/v1/campaigns', `/api/v1/campaigns/${c.id}/deliveries`, `/api/v1/campaigns/${c.id}/unknowns`]) {
          const x = await api('GET', `${p}?${q}`);
          assert.ok(x.status < 500, `${p}?${q} → ${x.status}`);
        }
      }
    });

    const stats = (await g.admin.get('stats')).json;
    assert.equal(stats.violations, 0, JSON.stringify(stats.violations_by_rule));
  } finally {
    if (d) {
      const r = await d.stop();
      assert.equal(r.code, 0, d.log());
    }
    await g.stop();
    S.cleanup(s);
  }
});
