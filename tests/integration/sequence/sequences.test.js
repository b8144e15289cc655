// SPDX-License-Identifier: MIT
// The sequences REST API (/api/v1/sequence-groups, /api/v1/sequences and their enrolments) as
// a user drives it, against loa-graph: groups and sequences created, every complaint of a bad
// body answered with its path and nothing written, 409 on a taken name or ref, a sequence read
// back with its steps and progress, live edits (a delay changed, a step removed or switched
// off, the sequence switched off) seen on the people waiting in it, people entered by PSID, by
// subscriber id and by audience filter (dry_run, expected_count), entered once only, removed,
// the m.me link with its QR code, the sequence deleted, a staff key allowed everywhere, and no 5xx for any hostile body.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const source = process.env.LOA_SOURCE_DIR || path.join(__dirname, '..', '..', '..');
const S = require(path.join(source, 'tests', 'integration', 'serve', 'support.js'));
const G = require(path.join(source, 'tests', 'node', 'support', 'loa-graph.js'));

const PAGE = '5555';
const TOKEN = 'PAGE-TOKEN-5555';
const PEOPLE = ['q1', 'q2', 'q3', 'q4', 'q5', 'q6'];
const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
const text = (t) => [{ type: 'text', text: t }];
const steps3 = () => [
  { delay: { value: 1, unit: 'hours' }, blocks: text('Bước 1: chào {{first_name|bạn}}') },
  { delay: { value: 1, unit: 'days' }, note: 'follow-up', blocks: text('Bước 2') },
  { delay: { value: 2, unit: 'days' }, purpose: 'non_promotional', blocks: text('Bước 3') },
];

const { waitFor } = S;

test('sequences REST API', { timeout: 170000 }, async (t) => {
  const s = S.makeStore();
  const g = await G.start(['--app-secret', S.SECRET]);
  let d;
  try {
    d = await S.serve(s, { LOA_GRAPH_URL: g.base });
    const api = (method, p, body, key = s.admin) => S.request(d.url, method, p, { key, body });
    const staff = (method, p, body) => api(method, p, body, s.staff);

    // A Page known to both, and six people who just wrote to it.
    let r = await api('POST', '/api/v1/pages', {
      id: PAGE, name: 'Shop', access_token: TOKEN, app_secret: S.SECRET, timezone: 'Asia/Ho_Chi_Minh',
    });
    assert.equal(r.status, 201, r.text);
    r = await g.admin.post('pages', { id: PAGE, name: 'Shop', access_token: TOKEN, app_secret: S.SECRET });
    assert.equal(r.status, 201, r.text);
    r = await g.admin.post('config', { webhook_url: `${d.url}/webhook`, delivery_delay_ms: 20, read_delay_ms: 40 });
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
    for (const psid of ['q4', 'q5', 'q6']) {
      r = await api('PATCH', `/api/v1/subscribers/${subId[psid]}`, { tags: { add: ['vip'] } });
      assert.equal(r.status, 200, r.text);
    }

    const listSequences = async () => {
      const x = await api('GET', `/api/v1/sequences?page_id=${PAGE}`);
      assert.equal(x.status, 200, x.text);
      return x.json.data;
    };
    const enrolments = async (id, query = '') => {
      const x = await api('GET', `/api/v1/sequences/${id}/enrolments?limit=1000${query}`);
      assert.equal(x.status, 200, x.text);
      return x.json.data;
    };
    const byPsid = async (id) => Object.fromEntries((await enrolments(id)).map((e) => [e.psid, e]));
    const base = (extra = {}) => ({ page_id: PAGE, name: 'Chăm sóc', window: null, steps: steps3(), ...extra });

    let group;
    await t.test('groups: create, 409 on a taken name, list, rename, move', async () => {
      r = await staff('POST', '/api/v1/sequence-groups', { page_id: PAGE, name: 'Khách mới', one_at_a_time: true });
      assert.equal(r.status, 201, r.text);
      group = r.json;
      assert.equal(group.name, 'Khách mới');
      assert.equal(group.one_at_a_time, true);
      assert.equal(group.page_id, PAGE);
      r = await staff('POST', '/api/v1/sequence-groups', { page_id: PAGE, name: 'Khách mới' });
      assert.equal(r.status, 409, r.text);
      for (const [body, field] of [
        [{ name: 'x' }, 'page_id'],
        [{ page_id: '999', name: 'x' }, 'page_id'],
        [{ page_id: PAGE }, 'name'],
        [{ page_id: PAGE, name: '' }, 'name'],
        [{ page_id: PAGE, name: 'x'.repeat(101) }, 'name'],
        [{ page_id: PAGE, name: 'x', one_at_a_time: 'yes' }, 'one_at_a_time'],
        [{ page_id: PAGE, name: 'x', position: 3 }, 'position'],
        [{ page_id: PAGE, name: 'x', colour: 'red' }, 'colour'],
      ]) {
        r = await staff('POST', '/api/v1/sequence-groups', body);
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
        assert.ok(r.json.errors.some((e) => e.field === field), `${JSON.stringify(body)}: no complaint about ${field}: ${r.text}`);
      }
      r = await staff('POST', '/api/v1/sequence-groups', { page_id: PAGE, name: 'Khác' });
      assert.equal(r.status, 201, r.text);
      const other = r.json;
      r = await staff('PATCH', `/api/v1/sequence-groups/${other.id}`, { name: 'Khách mới' });
      assert.equal(r.status, 409, r.text);
      r = await staff('PATCH', `/api/v1/sequence-groups/${other.id}`, { name: 'Khách cũ', position: 0 });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.name, 'Khách cũ');
      r = await staff('GET', `/api/v1/sequence-groups?page_id=${PAGE}`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.data.map((x) => x.name).sort(), ['Khách cũ', 'Khách mới']);
      r = await staff('DELETE', `/api/v1/sequence-groups/${other.id}`);
      assert.equal(r.status, 204, r.text);
      r = await staff('DELETE', `/api/v1/sequence-groups/${other.id}`);
      assert.equal(r.status, 404, r.text);
      r = await staff('PATCH', '/api/v1/sequence-groups/abc', { name: 'x' });
      assert.equal(r.status, 400, r.text);
    });

    let seq;
    await t.test('create a sequence (201) and read it back with steps and stats', async () => {
      r = await staff('POST', '/api/v1/sequences', base({
        group_id: group.id, clock: 'page', leave_on_reply: true, on_refused: 'leave',
        triggers: { welcome: false, ref: 'xuan-2026', tags: ['mới'] },
      }));
      assert.equal(r.status, 201, r.text);
      seq = r.json;
      assert.ok(seq.id > 0);
      assert.equal(seq.page_id, PAGE);
      assert.equal(seq.group_id, group.id);
      assert.equal(seq.active, true);
      assert.equal(seq.window, null);
      assert.equal(seq.clock, 'page');
      assert.equal(seq.leave_on_reply, true);
      assert.equal(seq.on_refused, 'leave');
      assert.deepEqual(seq.triggers, { welcome: false, ref: 'xuan-2026', tags: ['mới'] });
      assert.equal(seq.steps.length, 3);
      assert.deepEqual(seq.steps.map((x) => x.position), [0, 1, 2]);
      assert.deepEqual(seq.steps.map((x) => x.delay), [
        { value: 1, unit: 'hours' }, { value: 1, unit: 'days' }, { value: 2, unit: 'days' }]);
      assert.equal(seq.steps[1].note, 'follow-up');
      assert.equal(seq.steps[2].purpose, 'non_promotional');
      assert.equal(seq.steps[0].purpose, 'promotional');
      assert.deepEqual(seq.steps[0].blocks, text('Bước 1: chào {{first_name|bạn}}'));
      assert.deepEqual(seq.stats, { entered: 0, waiting: 0, queued: 0, finished: 0, removed: 0 });
      r = await staff('GET', `/api/v1/sequences/${seq.id}`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.steps.map((x) => x.id), seq.steps.map((x) => x.id));
      for (const st of r.json.steps) {
        assert.equal(st.stats.step_id, st.id);
        assert.equal(st.stats.sent + st.stats.waiting + st.stats.queued, 0);
        assert.deepEqual(st.stats.reasons, []);
      }
      // The list is a summary without steps.
      const list = await listSequences();
      assert.equal(list.length, 1);
      assert.equal(list[0].id, seq.id);
      assert.equal(list[0].steps, undefined);
      // A window and days read back as written.
      r = await staff('POST', '/api/v1/sequences', base({
        name: 'Giờ hành chính', window: { from: '08:00', to: '20:30', days: ['mon', 'tue', 'wed', 'thu', 'fri'] },
      }));
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.window.from, '08:00');
      assert.equal(r.json.window.to, '20:30');
      assert.ok(r.json.window.days, r.text);
      r = await staff('DELETE', `/api/v1/sequences/${r.json.id}`);
      assert.equal(r.status, 204, r.text);
    });

    await t.test('bad bodies: every complaint with its path, nothing written', async () => {
      const before = await listSequences();
      const bad = (extra) => base({ name: 'Bad', ...extra });
      const step = (extra) => [{ delay: { value: 0, unit: 'seconds' }, blocks: text('x'), ...extra }];
      const cases = [
        [{}, 'page_id'],
        [{}, 'name'],
        [bad({ page_id: '999' }), 'page_id'],
        [bad({ page_id: 5 }), 'page_id'],
        [bad({ name: '' }), 'name'],
        [bad({ name: 'x'.repeat(201) }), 'name'],
        [bad({ name: 7 }), 'name'],
        [bad({ colour: 'red' }), 'colour'],
        [bad({ active: 'yes' }), 'active'],
        [bad({ leave_on_reply: 1 }), 'leave_on_reply'],
        [bad({ clock: 'moon' }), 'clock'],
        [bad({ on_refused: 'explode' }), 'on_refused'],
        [bad({ group_id: 'x' }), 'group_id'],
        [bad({ group_id: 987654 }), 'group_id'],
        [bad({ window: 'office hours' }), 'window'],
        [bad({ window: { from: '25:00', to: '20:00' } }), 'window.from'],
        [bad({ window: { from: '08:00' } }), 'window.to'],
        [bad({ window: { from: '08:00', to: '08:00' } }), 'window'],
        [bad({ window: { from: '08:00', to: '20:00', days: ['funday'] } }), 'window.days[0]'],
        [bad({ window: { from: '08:00', to: '20:00', days: 5 } }), 'window.days'],
        [bad({ window: { from: '08:00', to: '20:00', tz: 'UTC' } }), 'window.tz'],
        [bad({ triggers: 'welcome' }), 'triggers'],
        [bad({ triggers: { welcome: 'yes' } }), 'triggers.welcome'],
        [bad({ triggers: { ref: 'có dấu cách' } }), 'triggers.ref'],
        [bad({ triggers: { ref: 'x'.repeat(2084) } }), 'triggers.ref'],
        [bad({ triggers: { ref: 42 } }), 'triggers.ref'],
        [bad({ triggers: { tags: [7] } }), 'triggers.tags[0]'],
        [bad({ triggers: { tags: 'vip' } }), 'triggers.tags'],
        [bad({ triggers: { sms: true } }), 'triggers.sms'],
        [bad({ steps: 'many' }), 'steps'],
        [bad({ steps: Array.from({ length: 101 }, () => step()[0]) }), 'steps'],
        [bad({ steps: [5] }), 'steps[0]'],
        [bad({ steps: [{ blocks: text('x') }] }), 'steps[0].delay'],
        [bad({ steps: step({ delay: 5 }) }), 'steps[0].delay'],
        [bad({ steps: [...step(), ...step({ delay: { value: 1, unit: 'weeks' } })] }), 'steps[1].delay.unit'],
        [bad({ steps: step({ delay: { value: -1, unit: 'hours' } }) }), 'steps[0].delay.value'],
        [bad({ steps: step({ delay: { value: 3651, unit: 'days' } }) }), 'steps[0].delay.value'],
        [bad({ steps: step({ delay: { value: 1, unit: 'hours', jitter: 2 } }) }), 'steps[0].delay.jitter'],
        [bad({ steps: step({ id: 5 }) }), 'steps[0].id'],
        [bad({ steps: step({ note: 5 }) }), 'steps[0].note'],
        [bad({ steps: step({ note: 'x'.repeat(2001) }) }), 'steps[0].note'],
        [bad({ steps: step({ purpose: 'spam' }) }), 'steps[0].purpose'],
        [bad({ steps: step({ inside_window: 'y' }) }), 'steps[0].inside_window'],
        [bad({ steps: step({ enabled: 0 }) }), 'steps[0].enabled'],
        [bad({ steps: step({ any_time: 'always' }) }), 'steps[0].any_time'],
        [bad({ steps: step({ colour: 'red' }) }), 'steps[0].colour'],
        [bad({ steps: [{ delay: { value: 0, unit: 'seconds' } }] }), 'steps[0].blocks'],
        [bad({ steps: step({ blocks: [{ type: 'text' }] }) }), 'steps[0].blocks[0].text'],
        [bad({ steps: step({ blocks: [{ type: 'text', text: 'x'.repeat(2001) }] }) }), 'steps[0].blocks[0].text'],
        [bad({ steps: [...step(), ...step(), ...step({ blocks: [{ type: 'hologram' }] })] }), 'steps[2].blocks[0].type'],
      ];
      for (const [body, field] of cases) {
        r = await staff('POST', '/api/v1/sequences', body);
        assert.equal(r.status, 400, `${field}: ${r.text}`);
        assert.equal(r.json.error.status, 400);
        assert.ok(r.json.errors.some((e) => e.field === field),
          `${JSON.stringify(body).slice(0, 300)}: no complaint about ${field}: ${r.text}`);
      }
      // A body that is not JSON, or not an object: the complaint names the body (and the line).
      for (const raw of ['{"name": ', '[1]']) {
        const x = await S.request(d.url, 'POST', '/api/v1/sequences',
          { key: s.staff, body: raw, headers: { 'Content-Type': 'application/json' } });
        assert.equal(x.status, 400, x.text);
        assert.ok(x.json.errors.some((e) => e.field === 'body'), `${raw}: ${x.text}`);
      }
      // Every problem at once, each with its path, the first as the error.
      r = await staff('POST', '/api/v1/sequences', {
        page_id: PAGE, name: '', window: { from: '24:30', to: '20:00' }, triggers: { ref: 'a b' },
        steps: [
          { delay: { value: 0, unit: 'seconds' }, blocks: text('ok') },
          { delay: { value: 1, unit: 'fortnights' }, blocks: [{ type: 'text' }] },
        ],
      });
      assert.equal(r.status, 400, r.text);
      const fields = r.json.errors.map((e) => e.field).sort();
      for (const f of ['name', 'window.from', 'triggers.ref', 'steps[1].delay.unit', 'steps[1].blocks[0].text'])
        assert.ok(fields.includes(f), `no complaint about ${f}: ${r.text}`);
      assert.equal(r.json.error.field, r.json.errors[0].field);
      r = await staff('POST', '/api/v1/sequences', '{"page_id":');
      assert.equal(r.status, 400, r.text);
      r = await staff('POST', '/api/v1/sequences', '[]');
      assert.equal(r.status, 400, r.text);
      assert.deepEqual((await listSequences()).map((x) => x.id), before.map((x) => x.id), 'a refused body wrote a sequence');

      // A refused edit changes nothing either.
      const was = (await staff('GET', `/api/v1/sequences/${seq.id}`)).json;
      r = await staff('PATCH', `/api/v1/sequences/${seq.id}`, {
        name: 'Đổi tên', steps: [{ id: was.steps[0].id, delay: { value: 2, unit: 'hours' }, blocks: text('x') },
          { id: 999999, delay: { value: 1, unit: 'hours' }, blocks: text('y') }],
      });
      assert.equal(r.status, 400, r.text);
      assert.ok(r.json.errors.some((e) => e.field === 'steps[1].id'), r.text);
      r = await staff('PATCH', `/api/v1/sequences/${seq.id}`, { page_id: '777' });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.field, 'page_id');
      r = await staff('PATCH', `/api/v1/sequences/${seq.id}`, {
        steps: [{ id: was.steps[0].id, delay: { value: 1, unit: 'hours' }, blocks: text('x') },
          { id: was.steps[0].id, delay: { value: 1, unit: 'hours' }, blocks: text('x') }],
      });
      assert.equal(r.status, 400, r.text);
      assert.ok(r.json.errors.some((e) => e.field === 'steps[1].id'), r.text);
      const after = (await staff('GET', `/api/v1/sequences/${seq.id}`)).json;
      assert.deepEqual(after, was, 'a refused edit changed the sequence');

      // Missing things.
      r = await staff('GET', '/api/v1/sequences/987654');
      assert.equal(r.status, 404, r.text);
      r = await staff('PATCH', '/api/v1/sequences/987654', { name: 'x' });
      assert.equal(r.status, 404, r.text);
      r = await staff('DELETE', '/api/v1/sequences/987654');
      assert.equal(r.status, 404, r.text);
      r = await staff('GET', '/api/v1/sequences/abc');
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.field, 'id');
      r = await staff('POST', '/api/v1/sequences/987654/enrolments', { psids: ['q1'] });
      assert.equal(r.status, 404, r.text);
      r = await staff('GET', '/api/v1/sequences/987654/enrolments');
      assert.equal(r.status, 404, r.text);
      r = await staff('GET', '/api/v1/sequences?page_id=999');
      assert.equal(r.status, 404, r.text);
      r = await api('GET', '/api/v1/sequences', undefined, 'nokey');
      assert.equal(r.status, 401, r.text);
      r = await api('POST', '/api/v1/sequences', base({ name: 'anon' }), 'nokey');
      assert.equal(r.status, 401, r.text);
    });

    await t.test('409 on a taken name or ref', async () => {
      r = await staff('POST', '/api/v1/sequences', base({ name: 'Chăm sóc' }));
      assert.equal(r.status, 409, r.text);
      r = await staff('POST', '/api/v1/sequences', base({ name: 'Khác', triggers: { ref: 'xuan-2026' } }));
      assert.equal(r.status, 409, r.text);
      r = await staff('POST', '/api/v1/sequences', base({ name: 'Khác', triggers: { ref: 'he-2026' } }));
      assert.equal(r.status, 201, r.text);
      const other = r.json;
      r = await staff('PATCH', `/api/v1/sequences/${other.id}`, { name: 'Chăm sóc' });
      assert.equal(r.status, 409, r.text);
      r = await staff('PATCH', `/api/v1/sequences/${other.id}`, { triggers: { ref: 'xuan-2026' } });
      assert.equal(r.status, 409, r.text);
      r = await staff('GET', `/api/v1/sequences/${other.id}`);
      assert.equal(r.json.name, 'Khác');
      assert.equal(r.json.triggers.ref, 'he-2026');
      r = await staff('DELETE', `/api/v1/sequences/${other.id}`);
      assert.equal(r.status, 204, r.text);
      // Once deleted, its name and ref are free again.
      r = await staff('POST', '/api/v1/sequences', base({ name: 'Khác', triggers: { ref: 'he-2026' } }));
      assert.equal(r.status, 201, r.text);
      r = await staff('DELETE', `/api/v1/sequences/${r.json.id}`);
      assert.equal(r.status, 204, r.text);
    });

    await t.test('the m.me link and its QR code (SVG); 409 without a ref, 404 for no sequence', async () => {
      r = await staff('GET', `/api/v1/sequences/${seq.id}/link`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.url, `https://m.me/${PAGE}?ref=xuan-2026`);
      assert.equal(r.json.ref, 'xuan-2026');
      assert.match(r.json.qr_svg, /^<svg[^>]*>[\s\S]*<path[\s\S]*<\/svg>\s*$/);
      r = await staff('POST', '/api/v1/sequences', base({ name: 'Không có link' }));
      assert.equal(r.status, 201, r.text);
      const plain = r.json;
      r = await staff('GET', `/api/v1/sequences/${plain.id}/link`);
      assert.equal(r.status, 409, r.text);
      assert.equal(r.json.error.field, 'triggers.ref');
      assert.equal((await staff('DELETE', `/api/v1/sequences/${plain.id}`)).status, 204);
      r = await staff('GET', '/api/v1/sequences/999999/link');
      assert.equal(r.status, 404, r.text);
    });

    await t.test('enter by PSID, by subscriber id, by filter; once only', async () => {
      const url = `/api/v1/sequences/${seq.id}/enrolments`;
      // An unknown PSID: 400 at its index, and nobody entered.
      r = await staff('POST', url, { psids: ['q1', 'q2', 'nobody', 'q3', 'ghost'] });
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(r.json.errors.map((e) => e.field), ['psids[2]', 'psids[4]']);
      assert.deepEqual(await enrolments(seq.id), [], 'someone entered from a refused request');
      for (const [body, field] of [
        [{ psids: [5] }, 'psids[0]'],
        [{ psids: [] }, 'psids'],
        [{ psids: 'q1' }, 'psids'],
        [{ psids: Array.from({ length: 10001 }, (_, i) => `p${i}`) }, 'psids'],
        [{ subscriber_ids: [987654] }, 'subscriber_ids[0]'],
        [{ subscriber_ids: ['1'] }, 'subscriber_ids[0]'],
        [{ subscriber_ids: [subId.q1, -1] }, 'subscriber_ids[1]'],
        [{}, 'body'],
        [{ psids: ['q1'], subscriber_ids: [subId.q1] }, 'body'],
        [{ psids: ['q1'], filter: {} }, 'body'],
        [{ psids: ['q1'], dry_run: 'yes' }, 'dry_run'],
        [{ psids: ['q1'], expected_count: -1 }, 'expected_count'],
        [{ psids: ['q1'], expected_count: 'one' }, 'expected_count'],
        [{ psids: ['q1'], colour: 'red' }, 'colour'],
        [{ filter: { tags: { any: [7] } } }, 'filter.tags.any[0]'],
        [{ filter: [] }, 'filter'],
      ]) {
        r = await staff('POST', url, body);
        assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 200)}: ${r.text}`);
        assert.ok(r.json.errors.some((e) => e.field === field), `${JSON.stringify(body).slice(0, 200)}: no complaint about '${field}': ${r.text}`);
      }
      assert.deepEqual(await enrolments(seq.id), []);

      const t0 = Date.now();
      r = await staff('POST', url, { psids: ['q1', 'q2'] });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { count: 2, entered: 2, dry_run: false });
      r = await staff('POST', url, { subscriber_ids: [subId.q3, subId.q1] });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { count: 2, entered: 1, dry_run: false }, 'q1 entered twice');
      // By filter: count first, a stale count is refused, then enter.
      const vip = { tags: { any: ['vip'] } };
      r = await staff('POST', url, { filter: vip, dry_run: true });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { count: 3, entered: 0, dry_run: true });
      assert.equal((await enrolments(seq.id)).length, 3, 'a dry run entered people');
      r = await staff('POST', url, { filter: vip, expected_count: 4 });
      assert.equal(r.status, 409, r.text);
      assert.equal(r.json.error.field, 'expected_count');
      assert.equal((await enrolments(seq.id)).length, 3, 'a refused count entered people');
      r = await staff('POST', url, { filter: vip, expected_count: 3 });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { count: 3, entered: 3, dry_run: false });
      // Entering everyone again enters nobody.
      r = await staff('POST', url, { filter: {}, dry_run: true });
      assert.deepEqual(r.json, { count: 6, entered: 0, dry_run: true });
      r = await staff('POST', url, { filter: {}, expected_count: 6 });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { count: 6, entered: 0, dry_run: false });
      r = await staff('POST', url, { psids: PEOPLE });
      assert.deepEqual(r.json, { count: 6, entered: 0, dry_run: false });

      const list = await enrolments(seq.id);
      assert.equal(list.length, 6);
      assert.deepEqual(list.map((e) => e.psid).sort(), PEOPLE);
      const step1 = seq.steps[0];
      for (const e of list) {
        assert.equal(e.sequence_id, seq.id);
        assert.equal(e.state, 'waiting', JSON.stringify(e));
        assert.equal(e.step_id, step1.id);
        assert.equal(e.source, 'api');
        assert.equal(e.subscriber_id, subId[e.psid]);
        // The first step falls due an hour after entering (no window).
        const due = Date.parse(e.due_at) - Date.parse(e.last_step_at);
        assert.ok(Math.abs(due - HOUR) < 2000, `${e.psid}: due ${due} ms after entering`);
        assert.ok(Date.parse(e.entered_at) >= t0 - 2000, JSON.stringify(e));
      }
      r = await staff('GET', `/api/v1/sequences/${seq.id}`);
      assert.deepEqual(r.json.stats, { entered: 6, waiting: 6, queued: 0, finished: 0, removed: 0 });
      assert.equal(r.json.steps[0].stats.waiting, 6);
      // The list pages with its cursor, and filters by state and step.
      const page1 = await staff('GET', `/api/v1/sequences/${seq.id}/enrolments?limit=4`);
      assert.equal(page1.json.data.length, 4);
      assert.ok(page1.json.next_cursor, page1.text);
      const page2 = await staff('GET', `/api/v1/sequences/${seq.id}/enrolments?limit=4&after=${page1.json.next_cursor}`);
      assert.equal(page2.json.data.length, 2);
      assert.equal(page2.json.next_cursor, null);
      assert.equal((await enrolments(seq.id, '&state=finished,removed')).length, 0);
      assert.equal((await enrolments(seq.id, `&step_id=${seq.steps[1].id}`)).length, 0);
      for (const q of ['state=sleeping', 'step_id=x', 'after=-1', 'limit=0', 'limit=100000'])
        assert.equal((await staff('GET', `/api/v1/sequences/${seq.id}/enrolments?${q}`)).status, 400, q);
      // Nothing has been sent: the first step is an hour away.
      assert.equal((await g.admin.get('stats')).json.accepted, 0);
    });

    await t.test('live edits re-time, pass over and hold the people waiting', async () => {
      const cur = (await staff('GET', `/api/v1/sequences/${seq.id}`)).json;
      const [a, b, c] = cur.steps;
      const keep = (x, extra = {}) => ({ id: x.id, delay: x.delay, blocks: x.blocks, note: x.note, purpose: x.purpose, ...extra });
      const dueAfterBase = (e) => Date.parse(e.due_at) - Date.parse(e.last_step_at);

      // A changed delay re-times those waiting for the step.
      r = await staff('PATCH', `/api/v1/sequences/${seq.id}`, {
        steps: [keep(a, { delay: { value: 2, unit: 'hours' } }), keep(b), keep(c)],
      });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.steps.map((x) => x.id), [a.id, b.id, c.id], 'kept steps got new ids');
      assert.deepEqual(r.json.steps[0].delay, { value: 2, unit: 'hours' });
      for (const e of await enrolments(seq.id)) {
        assert.equal(e.step_id, a.id);
        assert.ok(Math.abs(dueAfterBase(e) - 2 * HOUR) < 2000, `${e.psid}: not re-timed: ${JSON.stringify(e)}`);
      }
      // A removed step is passed over: they wait for the next one, from the same base.
      r = await staff('PATCH', `/api/v1/sequences/${seq.id}`, { steps: [keep(b), keep(c)] });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.steps.map((x) => [x.id, x.position]), [[b.id, 0], [c.id, 1]]);
      for (const e of await enrolments(seq.id)) {
        assert.equal(e.state, 'waiting');
        assert.equal(e.step_id, b.id, `${e.psid} waits for ${e.step_id}`);
        assert.ok(Math.abs(dueAfterBase(e) - DAY) < 2000, `${e.psid}: ${JSON.stringify(e)}`);
      }
      // A switched-off step is passed over too.
      r = await staff('PATCH', `/api/v1/sequences/${seq.id}`, { steps: [keep(b, { enabled: false }), keep(c)] });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.steps[0].enabled, false);
      for (const e of await enrolments(seq.id)) {
        assert.equal(e.step_id, c.id, `${e.psid} waits for ${e.step_id}`);
        assert.ok(Math.abs(dueAfterBase(e) - 2 * DAY) < 2000, `${e.psid}: ${JSON.stringify(e)}`);
      }
      // A step added at the end does not change who waits for what.
      r = await staff('PATCH', `/api/v1/sequences/${seq.id}`, {
        steps: [keep(b, { enabled: false }), keep(c), { delay: { value: 3, unit: 'days' }, blocks: text('Bước 4') }],
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.steps.length, 3);
      const added = r.json.steps[2];
      assert.ok(added.id > c.id);
      for (const e of await enrolments(seq.id)) assert.equal(e.step_id, c.id);
      // Switched off: everyone is held where they are, and nobody can enter.
      const held = await byPsid(seq.id);
      r = await staff('PATCH', `/api/v1/sequences/${seq.id}`, { active: false });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.active, false);
      const now = await byPsid(seq.id);
      for (const p of PEOPLE) {
        assert.equal(now[p].state, 'waiting', JSON.stringify(now[p]));
        assert.equal(now[p].step_id, held[p].step_id);
      }
      r = await staff('POST', `/api/v1/sequences/${seq.id}/enrolments`, { psids: ['q1'] });
      assert.equal(r.status, 409, r.text);
      r = await staff('PATCH', `/api/v1/sequences/${seq.id}`, { active: true });
      assert.equal(r.status, 200, r.text);
      for (const e of await enrolments(seq.id)) {
        assert.equal(e.step_id, c.id);
        assert.ok(Math.abs(dueAfterBase(e) - 2 * DAY) < 2000, `${e.psid}: ${JSON.stringify(e)}`);
      }
      // Edits reach the sequence's settings too.
      r = await staff('PATCH', `/api/v1/sequences/${seq.id}`, { name: 'Chăm sóc (mới)', group_id: null, leave_on_reply: false });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.name, 'Chăm sóc (mới)');
      assert.equal(r.json.group_id, null);
      assert.equal(r.json.leave_on_reply, false);
      assert.equal(r.json.triggers.ref, 'xuan-2026', 'an absent field changed');
      assert.equal(r.json.stats.waiting, 6);
      assert.equal((await g.admin.get('stats')).json.accepted, 0, 'an edit sent something');
    });

    await t.test('remove people; delete the sequence', async () => {
      const url = `/api/v1/sequences/${seq.id}/enrolments/remove`;
      r = await staff('POST', url, { psids: ['q1', 'nobody'] });
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(r.json.errors.map((e) => e.field), ['psids[1]']);
      r = await staff('POST', url, { filter: {} });
      assert.equal(r.status, 400, r.text);
      assert.equal((await enrolments(seq.id, '&state=removed')).length, 0, 'a refused remove removed someone');
      r = await staff('POST', url, { psids: ['q1', 'q2'] });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { removed: 2 });
      r = await staff('POST', url, { subscriber_ids: [subId.q1, subId.q3] });
      assert.deepEqual(r.json, { removed: 1 }, 'q1 removed twice');
      const e = await byPsid(seq.id);
      for (const p of ['q1', 'q2', 'q3']) {
        assert.equal(e[p].state, 'removed', JSON.stringify(e[p]));
        assert.equal(e[p].end_reason, 'api');
        assert.ok(e[p].ended_at);
        assert.equal(e[p].step_id, null);
      }
      r = await staff('GET', `/api/v1/sequences/${seq.id}`);
      assert.deepEqual(r.json.stats, { entered: 6, waiting: 3, queued: 0, finished: 0, removed: 3 });
      // Someone removed can enter again.
      r = await staff('POST', `/api/v1/sequences/${seq.id}/enrolments`, { psids: ['q1'] });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.entered, 1);

      r = await staff('DELETE', `/api/v1/sequences/${seq.id}`);
      assert.equal(r.status, 204, r.text);
      r = await staff('GET', `/api/v1/sequences/${seq.id}`);
      assert.equal(r.status, 404, r.text);
      r = await staff('GET', `/api/v1/sequences/${seq.id}/enrolments`);
      assert.equal(r.status, 404, r.text);
      r = await staff('POST', url, { psids: ['q4'] });
      assert.equal(r.status, 404, r.text);
      assert.equal((await g.admin.get('stats')).json.accepted, 0, 'something was sent');
    });

    await t.test('no 5xx for hostile bodies', async () => {
      r = await staff('POST', '/api/v1/sequences', base({ name: 'Fuzz', active: false }));
      assert.equal(r.status, 201, r.text);
      const fz = r.json;
      r = await staff('POST', '/api/v1/sequence-groups', { page_id: PAGE, name: 'Fuzz' });
      const fg = r.json;
      const values = [null, true, 0, -1, 1.5, 1e300, 2 ** 63, '', 'x', [], [[]], {}, { a: {} }, '\u0000',
        'x'.repeat(5000), Array.from({ length: 300 }, (_, i) => i)];
      const fields = ['page_id', 'group_id', 'name', 'active', 'window', 'clock', 'leave_on_reply', 'on_refused',
        'triggers', 'steps', 'psids', 'subscriber_ids', 'filter', 'dry_run', 'expected_count', 'position',
        'one_at_a_time', 'unknown'];
      const bodies = ['', 'null', '[]', '"x"', '{', '{"a":1,"a":2}', '{"name":"\\ud800"}', '{}', 'x'.repeat(100),
        '\u0000', '{"steps":[' + '{},'.repeat(5000) + '{}]}', JSON.stringify({ psids: Array(20000).fill('q1') }),
        JSON.stringify({ subscriber_ids: Array(10000).fill(subId.q4), expected_count: 1 })];
      for (const f of fields) {
        for (const v of values) {
          bodies.push(JSON.stringify({ [f]: v }));
          bodies.push(JSON.stringify({ ...base({ name: 'Fuzz 2', active: false }), [f]: v }));
          bodies.push(JSON.stringify({ window: { from: v, to: v, days: v }, triggers: { welcome: v, ref: v, tags: v } }));
          bodies.push(JSON.stringify({ steps: [{ id: v, delay: { value: v, unit: v }, blocks: v, note: v, purpose: v }] }));
          bodies.push(JSON.stringify({ steps: [{ delay: v, blocks: [{ type: 'text', text: v, quick_replies: v }] }] }));
          bodies.push(JSON.stringify({ psids: [v], dry_run: true }));
          bodies.push(JSON.stringify({ filter: { tags: { any: v } }, dry_run: true }));
        }
      }
      const targets = [
        ['POST', '/api/v1/sequences'],
        ['PATCH', `/api/v1/sequences/${fz.id}`],
        ['POST', `/api/v1/sequences/${fz.id}/enrolments`],
        ['POST', `/api/v1/sequences/${fz.id}/enrolments/remove`],
        ['POST', '/api/v1/sequence-groups'],
        ['PATCH', `/api/v1/sequence-groups/${fg.id}`],
      ];
      let n = 0;
      for (const [method, p] of targets) {
        for (const body of bodies) {
          const x = await S.request(d.url, method, p, { key: s.staff, body, headers: { 'Content-Type': 'application/json' } });
          assert.ok(x.status < 500, `${method} ${p} ${body.slice(0, 200)} → ${x.status} ${x.text}`);
          assert.ok(x.json && (x.status < 400 || x.json.error), `${method} ${p}: not a JSON error: ${x.text.slice(0, 300)}`);
          n++;
        }
      }
      assert.ok(n > 10000, `${n} requests`);
      for (const q of ['limit=x', 'limit=100000', 'after=-3', 'state=', 'state=,', 'step_id=0', 'page_id=', 'page_id=%00']) {
        for (const p of ['/api/v1/sequences', `/api/v1/sequences/${fz.id}/enrolments`, '/api/v1/sequence-groups']) {
          const x = await staff('GET', `${p}?${q}`);
          assert.ok(x.status < 500, `${p}?${q} → ${x.status}`);
        }
      }
      for (const p of ['/api/v1/sequences/0', '/api/v1/sequences/-1', '/api/v1/sequences/99999999999999999999',
        '/api/v1/sequences/1e3', '/api/v1/sequence-groups/0']) {
        for (const m of ['GET', 'PATCH', 'DELETE']) {
          const x = await staff(m, p, m === 'GET' ? undefined : {});
          assert.ok(x.status < 500, `${m} ${p} → ${x.status}`);
        }
      }
      // The daemon is still well.
      r = await staff('GET', `/api/v1/sequences/${fz.id}`);
      assert.equal(r.status, 200, r.text);
    });

    const stats = (await g.admin.get('stats')).json;
    assert.equal(stats.violations, 0, JSON.stringify(stats.violations_by_rule));
  } finally {
    // loa-graph stops even when loa serve did not stop cleanly (or the test would hang).
    const r = d ? await d.stop() : null;
    await g.stop();
    S.cleanup(s);
    if (r) assert.equal(r.code, 0, d.log());
  }
});
