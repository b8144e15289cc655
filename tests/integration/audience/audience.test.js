// SPDX-License-Identifier: MIT
// Audiences as a user drives them: subscribers imported from CSV, some of whom write to the
// Page (webhook), a CRM phone list uploaded over REST and with the CLI, and previews of
// filters (counts, reachability by route and reason, paging, errors with their path).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const S = require('../serve/support.js');

const PAGE = '3333';

test('audiences: lists and preview over REST and the CLI', async (t) => {
  const s = S.makeStore();
  const tok = path.join(s.dir, 'token');
  fs.writeFileSync(tok, 'page-token\n');
  s.run('page', 'add', '--id', PAGE, '--name', 'Shop', '--token-file', tok);
  const people = path.join(s.dir, 'people.csv');
  fs.writeFileSync(
    people,
    'psid,first_name,phone,email,gender,tags,city\n' +
      '9001,An,0911 111 111,an@x.vn,female,vip,Huế\n' +
      '9002,Bình,0922222222,,male,"vip,sỉ",Hà Nội\n' +
      '9003,Chi,,chi@x.vn,,sỉ,Huế\n' +
      '9004,Dũng,0944444444,,,,Đà Nẵng\n' +
      ',Em,0955555555,,,,\n',
  );
  s.run('subscribers', 'import', people, '--page', PAGE);
  const cli = (...args) =>
    spawnSync(S.LOA, ['--store', s.store, ...args], { encoding: 'utf8' });

  const d = await S.serve(s);
  const api = (method, p, opts = {}) => S.request(d.url, method, p, { key: s.staff, ...opts });
  try {
    // 9001 and 9002 write to the Page now: inside the 24-hour window.
    const now = Date.now();
    const r0 = await S.postWebhook(d.url, S.envelope(PAGE, [
      S.message(PAGE, '9001', 'm_a1', 'hi', now - 60000),
      S.message(PAGE, '9002', 'm_a2', 'hello', now - 120000),
    ]));
    assert.equal(r0.status, 200, r0.text);

    await t.test('upload a CRM phone list', async () => {
      // ';'-separated with a Vietnamese header, as a shop's spreadsheet saves it: "SĐT" is the
      // phone column, the others are ignored.
      const csv = '\ufeffTên;Mã;SĐT\r\nAn;x;+84 911 111 111\r\nDũng;y;0944-444-444\r\nZ;z;0912345678\r\nBad;w;12ab\r\n';
      let r = await api('POST', `/api/v1/pages/${PAGE}/lists?name=crm-11`, {
        body: csv, headers: { 'Content-Type': 'text/csv' },
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.rows, 4);
      assert.equal(r.json.matched, 2);
      assert.equal(r.json.unmatched, 1);
      assert.equal(r.json.invalid, 1);
      assert.deepEqual(r.json.invalid_rows, [{ line: 5, reason: 'contains letters' }]);
      assert.equal(r.json.list.members, 2);
      assert.equal(r.json.written, true);
      assert.deepEqual(r.json.phone_column, { column: 3, header: 'SĐT' });
      assert.equal(r.json.separator, ';');
      // The preview (dry_run) counts and writes nothing.
      r = await api('POST', `/api/v1/pages/${PAGE}/lists?name=crm-preview&dry_run=true`, {
        body: 'So dien thoai\n0911111111\n0999999999\n', headers: { 'Content-Type': 'text/csv' },
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.written, false);
      assert.equal(r.json.matched, 1);
      assert.equal(r.json.unmatched, 1);
      assert.equal(r.json.added, 1);
      assert.deepEqual(r.json.phone_column, { column: 1, header: 'So dien thoai' });
      r = await api('POST', `/api/v1/pages/${PAGE}/lists?name=x&dry_run=maybe`, { body: 'phone\n1\n' });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.field, 'dry_run');
      // Again: the list exists (200), nothing new.
      r = await api('POST', `/api/v1/pages/${PAGE}/lists?name=crm-11`, { body: csv, headers: { 'Content-Type': 'text/csv' } });
      assert.equal(r.status, 200);
      assert.equal(r.json.added, 0);
      // No phone column, no name, empty body: 400 and nothing written.
      r = await api('POST', `/api/v1/pages/${PAGE}/lists?name=bad`, { body: 'a,b\n1,2\n', headers: { 'Content-Type': 'text/csv' } });
      assert.equal(r.status, 400);
      assert.match(r.json.error.reason, /phone column/);
      r = await api('POST', `/api/v1/pages/${PAGE}/lists`, { body: 'phone\n1\n' });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.field, 'name');
      r = await api('POST', `/api/v1/pages/999/lists?name=x`, { body: 'phone\n0911111111\n' });
      assert.equal(r.status, 404);
      r = await api('GET', `/api/v1/pages/${PAGE}/lists`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json.data.map((l) => [l.name, l.members]), [['crm-11', 2]]);
    });

    await t.test('preview: counts, reachability, paging', async () => {
      let r = await api('POST', `/api/v1/pages/${PAGE}/audience/preview`, { body: { limit: 2 } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.total, 5);
      assert.equal(r.json.reachable, 2);
      assert.equal(r.json.not_reachable, 3);
      assert.deepEqual(r.json.by_route.map((x) => [x.route, x.count]), [['window', 2]]);
      const reasons = Object.fromEntries(r.json.by_reason.map((x) => [x.code, x.count]));
      assert.equal(reasons.no_psid, 1);
      // Most recently active first: 9001 then 9002.
      assert.deepEqual(r.json.people.map((p) => p.psid), ['9001', '9002']);
      assert.equal(r.json.people[0].reachable, true);
      assert.equal(r.json.people[0].phone, '+84911111111');
      const seen = r.json.people.map((p) => p.id);
      let cursor = r.json.next_cursor;
      while (cursor) {
        r = await api('POST', `/api/v1/pages/${PAGE}/audience/preview`, { body: { limit: 2, cursor } });
        assert.equal(r.status, 200);
        seen.push(...r.json.people.map((p) => p.id));
        cursor = r.json.next_cursor;
      }
      assert.equal(new Set(seen).size, 5);

      // The seeds' cases: tags + has phone + active within 7 days; CRM list; not in list.
      const count = async (filter, extra = {}) => {
        const x = await api('POST', `/api/v1/pages/${PAGE}/audience/preview`, { body: { filter, limit: 0, ...extra } });
        assert.equal(x.status, 200, x.text);
        return x.json;
      };
      assert.equal((await count({ all: [{ tags: { any: ['vip'] } }, { has: 'phone' }, { last_interaction: { within_days: 7 } }] })).total, 2);
      assert.equal((await count({ list: 'crm-11' })).total, 2);
      assert.equal((await count({ not: { list: 'crm-11' } })).total, 3);
      assert.equal((await count({ attr: { name: 'city', op: 'eq', value: 'Huế' } })).total, 2);
      assert.equal((await count({ gender: 'unknown' })).total, 3);
      // Later, the window has closed for everyone.
      const later = await count({}, { at: new Date(now + 3 * 86400000).toISOString(), purpose: 'non_promotional' });
      assert.equal(later.reachable, 0);
    });

    await t.test('preview: bad filters answer 400 with the path', async () => {
      let r = await api('POST', `/api/v1/pages/${PAGE}/audience/preview`, {
        body: { filter: { all: [{ has: 'phone' }, { tags: { any: [''] } }] } },
      });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.field, 'filter.all[1].tags.any[0]');
      assert.equal(r.json.error.reason, 'tag names are 1-64 characters');
      r = await api('POST', `/api/v1/pages/${PAGE}/audience/preview`, {
        body: { filter: { any: [{ gender: 'x' }, { hass: 1 }] }, purpose: 'ads', limit: 9999, extra: 1 },
      });
      assert.equal(r.status, 400);
      const fields = r.json.errors.map((e) => e.field).sort();
      assert.deepEqual(fields, ['extra', 'filter.any[0].gender', 'filter.any[1].hass', 'limit', 'purpose']);
      r = await api('POST', `/api/v1/pages/${PAGE}/audience/preview`, { body: { cursor: 'junk' } });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.field, 'cursor');
      r = await api('POST', `/api/v1/pages/${PAGE}/audience/preview`, { body: '{"filter":' });
      assert.equal(r.status, 400);
    });

    await t.test('CLI: lists and audience', () => {
      const csv = path.join(s.dir, 'crm.csv');
      fs.writeFileSync(csv, 'phone\n0922222222\nnope\n');
      let r = cli('lists', 'upload', csv, '--page', PAGE, '--name', 'crm-12', '--dry-run');
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stdout, /preview \(nothing written\): column 1 'phone' → phone, separator ','/);
      assert.match(r.stdout, /1 would be added/);
      r = cli('lists', 'list', '--page', PAGE);
      assert.doesNotMatch(r.stdout, /crm-12/);
      r = cli('lists', 'upload', csv, '--page', PAGE, '--name', 'crm-12');
      assert.equal(r.status, 1, r.stderr); // written, one row did not parse
      assert.match(r.stdout, /2 rows, 1 matched, 0 unmatched, 1 did not parse/);
      assert.match(r.stderr, /crm\.csv:3:1: phone: /);
      r = cli('lists', 'list', '--page', PAGE);
      assert.equal(r.status, 0);
      assert.match(r.stdout, /crm-12\s+1/);
      r = cli('audience', 'count', '--page', PAGE, '--filter', '{"list":"crm-12"}');
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), '1');
      const f = path.join(s.dir, 'filter.json');
      fs.writeFileSync(f, '{"tags":{"any":["vip"]}}');
      r = cli('audience', 'preview', '--page', PAGE, '--filter', `@${f}`, '--json');
      assert.equal(r.status, 0, r.stderr);
      const j = JSON.parse(r.stdout);
      assert.equal(j.total, 2);
      assert.equal(j.reachable, 2);
      r = cli('audience', 'preview', '--page', PAGE, '--filter', '{"tags":{"any":[""]}}');
      assert.equal(r.status, 65);
      assert.match(r.stderr, /filter\.tags\.any\[0\]: tag names are 1-64 characters/);
      r = cli('audience', 'preview', '--page', PAGE, '--at', new Date(Date.now() + 3 * 86400000).toISOString());
      assert.equal(r.status, 0);
      assert.match(r.stdout, /total 5, reachable now 0/);
    });
  } finally {
    await d.stop();
    S.cleanup(s);
  }
});
