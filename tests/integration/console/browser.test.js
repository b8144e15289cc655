// SPDX-License-Identifier: MIT
// The console end to end in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core from console/node_modules): sign-in with a wrong then the right password,
// the dashboard, the campaign list with its stats cell, a live campaign paused and resumed,
// Vietnamese ↔ English, a phone-width screen, a staff user who sees only their Page, the
// Sequences screens (a group, a sequence of two steps with a validation error beside its field,
// a person entered and waiting on step 1, removed again), and a login locked after repeated
// failures. Screenshots of every screen in vi and en go to
// LOA_SHOTS_DIR (<build>/console-shots).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const F = require('./fixture.js');

const { S, PAGE1, PAGE2, USERS } = F;
const SRC = process.env.LOA_SOURCE_DIR || path.join(__dirname, '..', '..', '..');
const { chromium } = require(path.join(SRC, 'console', 'node_modules', 'playwright-core'));
const SHOTS = process.env.LOA_SHOTS_DIR || path.join(os.tmpdir(), 'console-shots');
const CHROMIUM = process.env.LOA_CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const VI_TIME = /^\d{2}:\d{2} \d{2}\/\d{2}\/\d{4}$/;

let w, ctx, profile;
const problems = [];

test.before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  w = await F.start({ people: 1200 });
  profile = fs.mkdtempSync(path.join(process.env.LOA_TEST_TMPDIR || os.tmpdir(), 'chromium-'));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 860 },
    locale: 'vi-VN',
    timezoneId: 'Europe/Paris', // not the Page's: times must still show in the Page's zone
  });
});

test.after(async () => {
  if (ctx) await ctx.close();
  if (w) await w.stop();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

async function newPage() {
  const page = await ctx.newPage();
  // Any script error or CSP violation fails the test.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/401|403|429|Failed to load resource/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  return page;
}

const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

async function signIn(page, login, password) {
  await page.fill('#login', login);
  await page.fill('#password', password);
  await page.press('#password', 'Enter');
}

test('owner: sign-in, dashboard, campaigns, a live campaign, both languages, phone width', async () => {
  const page = await newPage();
  await page.goto(w.url + '/');
  await page.waitForURL('**/signin');
  assert.equal(await page.getAttribute('html', 'lang'), 'vi');
  await page.waitForSelector('text=Đăng nhập');
  await shot(page, 'signin-vi');
  // The sign-in form starts with the focus on the login field.
  assert.equal(await page.evaluate(() => document.activeElement.id), 'login');

  await signIn(page, USERS.owner.login, 'sai-mat-khau');
  await page.waitForSelector('#password-error:has-text("Tên đăng nhập hoặc mật khẩu không đúng.")');
  assert.equal(await page.getAttribute('#password', 'aria-invalid'), 'true');
  assert.equal(await page.textContent('#login-error'), '');
  await shot(page, 'signin-error-vi');

  await signIn(page, USERS.owner.login, USERS.owner.password);
  await page.waitForURL(`**/p/${PAGE1}/dashboard`);
  await page.waitForSelector('h1:has-text("Tổng quan")');
  const tiles = await page.locator('.tile-value').allTextContents();
  assert.equal(tiles[0], '1.200', `subscribers in vi: ${tiles}`);
  assert.equal(tiles[3], '100.000');
  const options = await page.locator('#page-switch option').allTextContents();
  assert.deepEqual(options, ['Simulated shop 1', 'Simulated shop 2']);
  await shot(page, 'dashboard-vi');

  await page.click('nav >> text=Chiến dịch');
  await page.waitForURL(`**/p/${PAGE1}/campaigns`);
  await page.waitForSelector('table.list');
  const rows = page.locator('tbody tr');
  assert.equal(await rows.count(), 2);
  const draft = rows.nth(0);
  assert.match(await draft.textContent(), /Khuyến mãi cuối tuần/);
  assert.match(await draft.locator('.stats').textContent(), /Đã gửi 0\/0.*Đã nhận —.*Đã đọc —.*Đã bấm —/);
  const sent = rows.nth(1);
  assert.match(await sent.locator('.stats').textContent(), /Đã gửi 1\.\d{3}\/1\.200Đã nhận \d+(,\d)?%Đã đọc \d+(,\d)?%Đã bấm \d+(,\d)?%/);
  assert.match(await sent.locator('td').nth(3).textContent(), VI_TIME);
  await shot(page, 'campaigns-vi');

  await sent.locator('a').click();
  await page.waitForURL(`**/p/${PAGE1}/campaigns/${w.campaigns[0]}`);
  await page.waitForSelector('[data-test=progress]');
  assert.match(await page.textContent('[data-test=progress]'), /^1\.200\/1\.200 người \(100%\)$/);
  await shot(page, 'campaign-vi');

  // English, one click away; the choice is remembered.
  await page.click('[data-test=lang]');
  await page.waitForSelector('h2:has-text("Funnel")');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.match(await page.textContent('[data-test=progress]'), /^1,200\/1,200 people \(100%\)$/);
  await shot(page, 'campaign-en');
  await page.click('text=← All campaigns');
  await page.waitForSelector('th:has-text("Results")');
  assert.match(await page.locator('tbody tr').nth(1).locator('.stats').textContent(), /Sent 1,\d{3}\/1,200Delivered \d+(\.\d)?%/);
  await shot(page, 'campaigns-en');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'campaigns-en-phone');
  await page.click('[data-test=lang]');
  await page.waitForSelector('th:has-text("Kết quả")');
  await shot(page, 'campaigns-vi-phone');
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.click('[data-test=lang]');
  await page.click('nav >> text=Dashboard');
  await page.waitForSelector('h1:has-text("Dashboard")');
  assert.equal((await page.locator('.tile-value').allTextContents())[0], '1,200');
  await shot(page, 'dashboard-en');

  // A live campaign: slow enough to watch, paused and resumed from its page.
  const c = await S.request(w.url, 'POST', '/api/v1/campaigns', {
    key: w.s.admin,
    body: { page_id: PAGE1, name: 'Flash sale 20:00', blocks: [{ type: 'text', text: 'Giảm 50% {{first_name}}!' }], pacing: { rate_per_s: 2 } },
  });
  assert.equal(c.status, 201, c.text);
  const st = await S.request(w.url, 'POST', `/api/v1/campaigns/${c.json.id}/start`, { key: w.s.admin });
  assert.equal(st.status, 200, st.text);
  await page.goto(`${w.url}/p/${PAGE1}/dashboard`);
  await page.waitForSelector('.running li:has-text("Flash sale 20:00")');
  await shot(page, 'dashboard-running-en');
  await page.click('text=Flash sale 20:00');
  await page.waitForSelector('button[data-action=pause]');
  const before = await page.textContent('[data-test=progress]');
  await page.waitForFunction((b) => document.querySelector('[data-test=progress]').textContent !== b, before, { timeout: 15000 });
  await page.click('button[data-action=pause]');
  await page.waitForSelector('.badge:has-text("Paused")');
  await shot(page, 'campaign-paused-en');
  await page.click('[data-test=lang]');
  await page.waitForSelector('.badge:has-text("Tạm dừng")');
  await shot(page, 'campaign-paused-vi');
  await page.click('button[data-action=resume]');
  await page.waitForSelector('.badge:has-text("Đang gửi")');
  assert.equal((await S.request(w.url, 'GET', `/api/v1/campaigns/${c.json.id}`, { key: w.s.admin })).json.status, 'running');
  page.once('dialog', (d) => d.accept());
  await page.click('button[data-action=cancel]');
  await page.waitForSelector('.badge:has-text("Đã huỷ")');

  await page.click('text=Đăng xuất >> nth=0');
  await page.waitForURL('**/signin');
  await page.click('[data-test=lang]');
  await page.waitForSelector('h1:has-text("Sign in")');
  await shot(page, 'signin-en');
  await page.click('[data-test=lang]');
  await page.close();
});

test('staff sees only their Page', async () => {
  const page = await newPage();
  await page.goto(w.url + '/signin');
  await signIn(page, USERS.staff.login, USERS.staff.password);
  await page.waitForURL(`**/p/${PAGE1}/dashboard`);
  assert.deepEqual(await page.locator('#page-switch option').allTextContents(), ['Simulated shop 1']);
  await page.waitForSelector('.tile-value');
  await shot(page, 'staff-dashboard-vi');
  // Keyboard: Tab reaches the skip link, then the Page switcher, with a visible focus ring.
  await page.locator('body').focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'page-switch');
  assert.equal(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'solid');
  // Another Page's address leads back to their own.
  await page.goto(`${w.url}/p/${PAGE2}/campaigns`);
  await page.waitForURL(`**/p/${PAGE1}/dashboard`);
  await page.goto(`${w.url}/p/${PAGE1}/campaigns/${w.campaigns[1]}`);
  await page.waitForSelector('.error');
  assert.match(await page.textContent('.error'), /Bạn không có quyền xem mục này\./);
  await page.click('[data-test=lang]');
  await page.goto(`${w.url}/p/${PAGE1}/campaigns`);
  await page.waitForSelector('table.list');
  await shot(page, 'staff-campaigns-en');
  await page.click('[data-test=lang]');
  await page.click('text=Đăng xuất >> nth=0');
  await page.waitForURL('**/signin');
  await page.close();
});

test('sequences: a group, a two-step sequence with an error beside its field, a person entered and removed', async () => {
  const page = await newPage();
  const subs = await S.request(w.url, 'GET', `/api/v1/pages/${PAGE1}/subscribers?limit=2`, { key: w.s.admin });
  assert.equal(subs.status, 200, subs.text);
  const psid = subs.json.data[0].psid;
  await page.goto(w.url + '/signin');
  await signIn(page, USERS.owner.login, USERS.owner.password);
  await page.waitForURL(`**/p/${PAGE1}/dashboard`);
  await page.click('nav >> text=Kịch bản');
  await page.waitForURL(`**/p/${PAGE1}/sequences`);
  await page.waitForSelector('text=Trang này chưa có kịch bản nào.');

  // A group, one sequence at a time.
  await page.fill('input[name=group-name]', 'Khách mới');
  await page.click('[data-test=group-add] >> text=Mỗi lần một kịch bản');
  await page.click('[data-test=group-add] button[type=submit]');
  await page.waitForSelector('section[data-group] h2:has-text("Khách mới")');
  assert.match(await page.textContent('section[data-group] h2'), /mỗi lần một kịch bản/);

  // A new sequence with two steps; a negative delay is refused beside its field.
  await page.click('[data-test=seq-new]');
  await page.waitForURL(`**/p/${PAGE1}/sequences/new`);
  // The name field has the focus.
  await page.waitForFunction(() => document.activeElement.dataset.test === 'seq-name');
  await page.fill('[data-test=seq-name]', 'Chăm sóc sau mua');
  await page.selectOption('.seq-form select >> nth=0', { label: 'Khách mới' });
  await page.fill('[data-test=window-from]', '13:00');
  await page.fill('[data-test=window-to]', '20:00');
  await page.fill('[data-test=ref]', 'sau-mua');
  await page.fill('[data-test=tags]', 'da-mua, vip');
  await page.fill('[data-step-index="0"] [data-test=block-text]', 'Cảm ơn {{first_name|bạn}} đã mua hàng!');
  await page.click('[data-step-index="0"] >> text=+ Trả lời nhanh');
  await page.fill('[data-step-index="0"] [data-path="steps[0].blocks[0].quick_replies[0].title"] input', 'Đánh giá');
  await page.fill('[data-step-index="0"] [data-path="steps[0].blocks[0].quick_replies[0].payload"] input', 'REVIEW');
  await page.click('[data-test=step-add]');
  const step2 = '[data-step-index="1"]';
  assert.equal(await page.evaluate(() => document.activeElement.dataset.test), 'delay-value');
  await page.fill(`${step2} [data-test=delay-value]`, '-2');
  await page.selectOption(`${step2} [data-test=delay-unit]`, 'hours');
  await page.fill(`${step2} [data-test=block-text]`, 'Bạn dùng sản phẩm thấy thế nào ạ?');
  await page.click(`${step2} >> text=Chỉ gửi khi còn trong 24 giờ nhắn tin`);
  await page.click('[data-test=save]');
  const err = `${step2} [data-path="steps[1].delay"] .field-error`;
  await page.waitForSelector(`${err}:not(:empty)`);
  assert.equal(await page.getAttribute(`${step2} [data-test=delay-value]`, 'aria-invalid'), 'true');
  assert.equal(await page.textContent(err), 'Phải từ 0 đến 3650 ngày (không được âm).');
  assert.equal(await page.textContent('[data-path="steps[0].delay"] .field-error'), '');
  assert.match(await page.textContent('[data-test=errors]'), /Chưa lưu: có 1 lỗi/);
  await shot(page, 'sequence-error-vi');
  await page.click('[data-test=lang]');
  await page.waitForSelector('h1:has-text("New sequence")');
  // The language switch keeps what was typed.
  assert.equal(await page.inputValue('[data-test=seq-name]'), 'Chăm sóc sau mua');
  assert.equal(await page.inputValue(`${step2} [data-test=delay-value]`), '-2');
  await page.click('[data-test=save]');
  await page.waitForSelector(`${err}:not(:empty)`);
  assert.match(await page.textContent('[data-test=errors]'), /Not saved: 1 problem/);
  assert.equal(await page.textContent(err), 'Must be from 0 up to 3650 days (not negative).');
  await shot(page, 'sequence-error-en');
  await page.fill(`${step2} [data-test=delay-value]`, '20');
  await page.selectOption(`${step2} [data-test=delay-unit]`, 'hours');
  await page.click('[data-test=save]');
  await page.waitForURL(/\/sequences\/\d+$/);
  const id = Number(page.url().match(/(\d+)$/)[1]);
  await page.waitForSelector('[data-test=people]');
  const seq = (await S.request(w.url, 'GET', `/api/v1/sequences/${id}`, { key: w.s.admin })).json;
  assert.equal(seq.steps.length, 2);
  assert.deepEqual(seq.steps.map((x) => x.delay), [{ value: 1, unit: 'days' }, { value: 20, unit: 'hours' }]);
  assert.deepEqual(seq.steps[0].blocks, [{ type: 'text', text: 'Cảm ơn {{first_name|bạn}} đã mua hàng!',
    quick_replies: [{ content_type: 'text', title: 'Đánh giá', payload: 'REVIEW' }] }]);
  assert.deepEqual(seq.triggers, { welcome: false, ref: 'sau-mua', tags: ['da-mua', 'vip'] });
  assert.deepEqual(seq.window, { from: '13:00', to: '20:00', days: null });
  assert.equal(seq.steps[1].inside_window, true);
  // The m.me link and its QR code, drawn by loa (an SVG image, allowed by the CSP).
  assert.equal(await page.textContent('[data-test=mme-url]'), `https://m.me/${PAGE1}?ref=sau-mua`);
  await page.waitForFunction(() => document.querySelector('[data-test=mme] img').naturalWidth > 0);

  // A person entered by PSID waits on step 1; the step's stats say so, "—" where nothing was sent.
  await page.fill('[data-test=enter-psids]', psid);
  await page.click('[data-test=enter-form] button[type=submit]');
  await page.waitForSelector('[data-test=enter-result]:has-text("Entered 1 of 1")');
  await page.waitForSelector(`tr[data-psid="${psid}"]`);
  assert.match(await page.textContent(`tr[data-psid="${psid}"]`), /Waiting.*Step 1/);
  await page.goto(`${w.url}/p/${PAGE1}/sequences/${id}`);
  await page.waitForSelector('[data-step-index="0"] [data-test=step-stats]');
  assert.match(await page.textContent('[data-step-index="0"] [data-stat=waiting]'), /Waiting 1/);
  assert.match(await page.textContent('[data-step-index="0"] [data-stat=delivered]'), /Delivered 0 —/);
  assert.equal(await page.textContent('[data-tile=waiting] .tile-value'), '1');
  assert.match(await page.textContent('[data-step-index="0"] [data-test=forecast]'), /^When due \(forecast\): [01] of 1 reachable/);
  await shot(page, 'sequence-en');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'sequence-en-phone');
  await page.setViewportSize({ width: 1280, height: 860 });

  // Counting by tags first (dry run), in Vietnamese.
  await page.click('[data-test=lang]');
  await page.waitForSelector('h2:has-text("Người trong kịch bản")');
  await page.click('[data-test=filter-form] button[type=submit]');
  await page.waitForSelector('[data-test=count]:has-text("1.200 người phù hợp.")');
  assert.match(await page.textContent(`tr[data-psid="${psid}"]`), /Đang chờ.*Bước 1/);
  assert.match(await page.textContent(`tr[data-psid="${psid}"]`), /\d{2}:\d{2} \d{2}\/\d{2}\/\d{4}/);
  await shot(page, 'sequence-vi');

  // Moved by keyboard: step 2 up then back down, the focus staying on the moved step's arrows.
  await page.focus('[data-step-index="1"] [data-move=up]');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.closest('[data-step-index]').dataset.stepIndex), '0');
  assert.match(await page.textContent('[data-step-index="0"] h3'), /#\d+/);
  assert.equal(await page.inputValue('[data-step-index="0"] [data-test=delay-value]'), '20');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.closest('[data-step-index]').dataset.stepIndex), '1');
  assert.equal(await page.inputValue('[data-step-index="0"] [data-test=delay-value]'), '1');

  // Saving again keeps the person on step 1 (the step keeps its id).
  await page.fill('[data-step-index="0"] [data-test=block-text]', 'Cảm ơn {{first_name|bạn}} nhiều!');
  await page.click('[data-test=save]');
  await page.waitForSelector('[data-test=notice]:has-text("Đã lưu.")');
  assert.equal(await page.textContent('[data-tile=waiting] .tile-value'), '1');

  // The list, grouped.
  await page.click('text=← Tất cả kịch bản');
  await page.waitForSelector(`section[data-group] tr[data-sequence="${id}"]`);
  const row = await page.textContent(`tr[data-sequence="${id}"]`);
  assert.match(row, /Chăm sóc sau mua.*Đang chạy.*2.*1.*0/);
  await shot(page, 'sequences-vi');
  await page.click('[data-test=lang]');
  await page.waitForSelector('h1:has-text("Sequences")');
  await shot(page, 'sequences-en');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'sequences-en-phone');
  await page.setViewportSize({ width: 1280, height: 860 });
  // The group renamed and no longer one at a time.
  await page.click('section[data-group] summary:has-text("Edit group")');
  await page.fill('section[data-group] details input[aria-label="Group name"]', 'New customers');
  await page.click('section[data-group] button:has-text("Rename")');
  await page.waitForSelector('section[data-group] h2:has-text("New customers")');
  await page.click('section[data-group] summary:has-text("Edit group")');
  await shot(page, 'sequences-group-en');
  await page.uncheck('section[data-group] [data-test=one-at-a-time]');
  await page.waitForFunction(() => !document.querySelector('section[data-group] h2 .badge'));
  const groups = (await S.request(w.url, 'GET', `/api/v1/sequence-groups?page_id=${PAGE1}`, { key: w.s.admin })).json.data;
  assert.deepEqual(groups.map((g) => [g.name, g.one_at_a_time]), [['New customers', false]]);

  // Removing the person.
  await page.click(`tr[data-sequence="${id}"] a`);
  await page.waitForSelector(`tr[data-psid="${psid}"]`);
  await page.check(`tr[data-psid="${psid}"] input[type=checkbox]`);
  page.once('dialog', (d) => d.accept());
  await page.click('[data-test=remove-people]');
  await page.waitForSelector('[data-test=people] >> text=Removed from the sequence: 1.');
  await page.selectOption('[data-test=people-state]', 'removed');
  await page.waitForSelector(`tr[data-psid="${psid}"]:has-text("Removed")`);
  await page.click('[data-test=lang]');
  await page.click('text=Đăng xuất >> nth=0');
  await page.waitForURL('**/signin');
  await page.close();
});

test('a login is locked after repeated failures; the message is beside the field', async () => {
  const page = await newPage();
  await page.goto(w.url + '/signin');
  for (let i = 0; i < 4; i++) {
    await signIn(page, USERS.victim.login, `sai-${i}-mat-khau`);
    await page.waitForFunction(() => document.querySelector('#password-error').textContent || document.querySelector('#login-error').textContent);
    await page.waitForTimeout(500);
  }
  await page.waitForSelector('#login-error:has-text("Tài khoản tạm khoá")');
  await shot(page, 'signin-locked-vi');
  await signIn(page, USERS.victim.login, USERS.victim.password);
  await page.waitForSelector('#login-error:has-text("Tài khoản tạm khoá")');
  assert.match(page.url(), /\/signin$/);
  await page.click('[data-test=lang]');
  await signIn(page, USERS.victim.login, USERS.victim.password);
  await page.waitForSelector('#login-error:has-text("This login is locked")');
  await shot(page, 'signin-locked-en');
  await page.close();
  assert.deepEqual(problems, [], 'script errors or CSP violations in the console');
});

test('catalogues: the same keys in vi and en', () => {
  const load = (l) => Object.keys(require('node:vm').runInNewContext(
    fs.readFileSync(path.join(SRC, 'console', 'src', 'i18n', `${l}.js`), 'utf8').replace('export default', 'module.exports ='),
    { module: {} }));
  assert.deepEqual(load('en').sort(), load('vi').sort());
});
