// SPDX-License-Identifier: MIT
// The console: a small single-page app on loa's REST API. Routes (history API; loa serves
// index.html for them): /signin, /p/PAGE/dashboard, /p/PAGE/campaigns, /p/PAGE/campaigns/ID.
import './app.css';
import { api, ApiError, setCsrf } from './api.js';
import { h, clear } from './dom.js';
import { t, num, pct, time, getLang, setLang, savedLang, onLang } from './i18n.js';
import { sequencesList, sequencePage } from './sequences.js';

const POLL_S = 3;
const state = { me: null, pages: [], timer: null, notice: null, flash: null };
const root = document.getElementById('app');

function go(path, replace = false) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

function link(href, label, attrs = {}) {
  return h('a', { href, onclick: (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    go(href);
  }, ...attrs }, label);
}

function langButton() {
  const other = getLang() === 'vi' ? 'en' : 'vi';
  return h('button', { type: 'button', class: 'lang', lang: other, 'aria-label': t('lang.switchLabel'), 'data-test': 'lang',
    onclick: () => setLang(other) }, t('lang.switch'));
}

function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

// An API failure shown in the main area; a lost session goes back to sign-in.
function failure(main, err) {
  if (err instanceof ApiError && err.status === 401) {
    state.me = null;
    state.notice = t('signin.expired');
    go('/signin', true);
    return;
  }
  const msg = !(err instanceof ApiError) ? String(err)
    : err.status === 0 ? t('error.network')
    : err.status === 403 ? t('error.forbidden')
    : t('error.generic', { status: err.status });
  clear(main).append(h('p', { class: 'error', role: 'alert' }, msg));
}

async function ensureSession() {
  if (state.me) return true;
  try {
    state.me = await api('GET', '/session');
    setCsrf(state.me.csrf_token);
    if (!savedLang()) setLang(state.me.lang, false);
    state.pages = (await api('GET', '/pages')).data;
    return true;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 400)) return false;
    throw e;
  }
}

/* ---- Sign-in ------------------------------------------------------------------------------ */

function signinView() {
  const err = { login: h('p', { class: 'field-error', id: 'login-error', 'aria-live': 'polite' }),
    password: h('p', { class: 'field-error', id: 'password-error', 'aria-live': 'polite' }) };
  const login = h('input', { id: 'login', name: 'login', autocomplete: 'username', required: true, 'aria-describedby': 'login-error' });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'aria-describedby': 'password-error' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('signin.submit'));
  const show = (field, msg) => {
    err[field].textContent = msg;
    (field === 'login' ? login : password).setAttribute('aria-invalid', 'true');
    (field === 'login' ? login : password).focus();
  };
  const form = h('form', { class: 'card signin', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    for (const f of ['login', 'password']) {
      err[f].textContent = '';
      (f === 'login' ? login : password).removeAttribute('aria-invalid');
    }
    if (!login.value) return show('login', t('signin.required'));
    if (!password.value) return show('password', t('signin.required'));
    submit.disabled = true;
    submit.textContent = t('signin.busy');
    try {
      state.me = await api('POST', '/session', { login: login.value, password: password.value });
      setCsrf(state.me.csrf_token);
      state.pages = (await api('GET', '/pages')).data;
      state.notice = null;
      go('/', true);
    } catch (e2) {
      submit.disabled = false;
      submit.textContent = t('signin.submit');
      if (!(e2 instanceof ApiError) || e2.status === 0) return show('login', t('error.network'));
      const s = Math.ceil((e2.body.retry_after_ms || 0) / 1000);
      if (e2.status === 429) return show('login', t(e2.body.lock === 'locked' ? 'signin.locked' : 'signin.slowed', { s }));
      if (e2.status === 401) return show('password', t('signin.wrong'));
      if (e2.status === 400) return show(e2.field === 'password' ? 'password' : 'login', t('signin.required'));
      show('login', t('error.generic', { status: e2.status }));
    }
  } },
  h('h1', null, t('signin.title')),
  h('p', { class: 'lead' }, t('signin.lead')),
  state.notice ? h('p', { class: 'notice', role: 'status' }, state.notice) : null,
  h('label', { for: 'login' }, t('signin.login')), login, err.login,
  h('label', { for: 'password' }, t('signin.password')), password, err.password,
  submit);
  clear(root).append(h('div', { class: 'signin-wrap' }, h('header', { class: 'signin-top' }, h('span', { class: 'brand' }, t('app.name')), langButton()),
    h('main', { id: 'main' }, form)));
  login.focus();
}

/* ---- Shell -------------------------------------------------------------------------------- */

function shell(pageId, section) {
  const page = state.pages.find((p) => p.id === pageId);
  const select = h('select', { id: 'page-switch', 'aria-label': t('nav.page'), onchange: () => go(`/p/${encodeURIComponent(select.value)}/${section}`) },
    state.pages.map((p) => h('option', { value: p.id, selected: p.id === pageId }, p.name || p.id)));
  const signout = async (all) => {
    try {
      await api(all ? 'POST' : 'DELETE', all ? '/session/everywhere' : '/session');
    } catch {
      /* signed out either way */
    }
    state.me = null;
    setCsrf(null);
    go('/signin', true);
  };
  const nav = (sec, label) => link(`/p/${encodeURIComponent(pageId)}/${sec}`, label, { class: sec === section ? 'active' : null, 'aria-current': sec === section ? 'page' : null });
  const main = h('main', { id: 'main', tabindex: '-1' }, h('p', { class: 'muted' }, t('loading')));
  clear(root).append(
    h('a', { class: 'skip', href: '#main' }, t('nav.skip')),
    h('header', { class: 'top' },
      h('span', { class: 'brand' }, t('app.name')),
      h('label', { class: 'page-switch' }, h('span', { class: 'sr' }, t('nav.page')), select),
      h('nav', { 'aria-label': t('nav.page') }, nav('dashboard', t('nav.dashboard')), nav('campaigns', t('nav.campaigns')), nav('sequences', t('nav.sequences'))),
      h('div', { class: 'who' },
        h('span', { class: 'user' }, t('nav.user', { login: state.me.login, role: t('role.' + state.me.role) })),
        langButton(),
        h('button', { type: 'button', onclick: () => signout(false) }, t('nav.signout')),
        h('button', { type: 'button', onclick: () => signout(true) }, t('nav.signoutAll')))),
    main);
  return { main, page };
}

/* ---- Dashboard ---------------------------------------------------------------------------- */

const ROUTES = ['window', 'tag', 'otn', 'marketing'];
const REASONS = ['window_closed', 'no_window', 'not_activated', 'no_psid', 'unreachable'];

function tile(label, value, extra) {
  return h('div', { class: 'tile' }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), extra ? h('div', { class: 'muted' }, extra) : null);
}

function progressBar(done, total) {
  return h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(total || 0), 'aria-valuenow': String(done) },
    h('div', { class: 'bar-fill', style: { width: `${total ? Math.min(100, (100 * done) / total).toFixed(1) : 0}%` } }));
}

function settled(s) {
  const b = s.by_state;
  return b.sent + b.failed + b.skipped + b.unknown;
}

async function dashboard(pageId) {
  const { main, page } = shell(pageId, 'dashboard');
  try {
    const [aud, camps] = await Promise.all([
      api('POST', `/pages/${encodeURIComponent(pageId)}/audience/preview`, { filter: {}, limit: 0 }),
      api('GET', `/campaigns?page_id=${encodeURIComponent(pageId)}&status=running,paused&limit=20`),
    ]);
    const full = await Promise.all(camps.data.map((c) => api('GET', `/campaigns/${c.id}`)));
    const tz = page.timezone;
    clear(main).append(
      h('h1', null, t('dash.title', { page: page.name || page.id })),
      h('p', { class: 'muted' }, t('dash.asOf', { time: time(aud.at, tz) }), ' · ', t('dash.timezone'), ': ', tz),
      h('div', { class: 'tiles' },
        tile(t('dash.subscribers'), num(aud.total)),
        tile(t('dash.reachable'), num(aud.reachable), pct(aud.reachable, aud.total)),
        tile(t('dash.notReachable'), num(aud.not_reachable)),
        tile(t('dash.cap'), num(page.daily_cap), t('dash.capUnit'))),
      h('div', { class: 'cols' },
        h('section', { class: 'card' }, h('h2', null, t('dash.byRoute')),
          h('dl', { class: 'kv' }, aud.by_route.map((r) => [h('dt', null, ROUTES.includes(r.route) ? t('route.' + r.route) : t('route.other', { code: r.route })), h('dd', null, num(r.count))]))),
        h('section', { class: 'card' }, h('h2', null, t('dash.byReason')),
          h('dl', { class: 'kv' }, aud.by_reason.map((r) => [h('dt', null, REASONS.includes(r.code) ? t('reason.' + r.code) : t('reason.other', { code: r.code })), h('dd', null, num(r.count))])))),
      h('section', { class: 'card' }, h('h2', null, t('dash.running')),
        full.length ? h('ul', { class: 'running' }, full.map((c) => h('li', null,
          link(`/p/${encodeURIComponent(pageId)}/campaigns/${c.id}`, c.name), ' ', badge(c.status),
          progressBar(settled(c.stats), c.stats.total),
          h('span', { class: 'muted' }, t('camp.progressValue', { done: num(settled(c.stats)), total: num(c.stats.total), p: pct(settled(c.stats), c.stats.total) })))))
          : h('p', { class: 'muted' }, t('dash.noRunning'))));
  } catch (e) {
    failure(main, e);
  }
}

/* ---- Campaigns ---------------------------------------------------------------------------- */

function badge(status) {
  return h('span', { class: `badge s-${status}` }, t('status.' + status));
}

function statsCell(s) {
  const sent = s.funnel.sent;
  return h('div', { class: 'stats' },
    h('span', null, t('camp.sent', { x: num(sent), y: num(s.total) })),
    h('span', null, t('camp.delivered', { p: pct(s.funnel.delivered, sent) })),
    h('span', null, t('camp.read', { p: pct(s.funnel.read, sent) })),
    h('span', null, t('camp.clicked', { p: pct(s.funnel.clicked, sent) })));
}

async function campaigns(pageId) {
  const { main, page } = shell(pageId, 'campaigns');
  try {
    const list = await api('GET', `/campaigns?page_id=${encodeURIComponent(pageId)}&limit=50`);
    const full = await Promise.all(list.data.map((c) => api('GET', `/campaigns/${c.id}`)));
    clear(main).append(h('h1', null, t('camp.title', { page: page.name || page.id })),
      full.length === 0 ? h('p', { class: 'muted' }, t('camp.none'))
        : h('table', { class: 'list' },
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('camp.name')), h('th', { scope: 'col' }, t('camp.status')), h('th', { scope: 'col' }, t('camp.stats')), h('th', { scope: 'col' }, t('camp.created')))),
          h('tbody', null, full.map((c) => h('tr', { 'data-campaign': c.id },
            h('td', { 'data-label': t('camp.name') }, link(`/p/${encodeURIComponent(pageId)}/campaigns/${c.id}`, c.name)),
            h('td', { 'data-label': t('camp.status') }, badge(c.status)),
            h('td', { 'data-label': t('camp.stats') }, statsCell(c.stats)),
            h('td', { 'data-label': t('camp.created') }, time(c.created_at, page.timezone)))))));
  } catch (e) {
    failure(main, e);
  }
}

async function campaignPage(pageId, id) {
  const { main, page } = shell(pageId, 'campaigns');
  const tz = page.timezone;
  const body = h('div');
  const act = async (what) => {
    try {
      await api('POST', `/campaigns/${id}/${what}`);
      await load();
    } catch (e) {
      failure(body, e);
    }
  };
  const load = async () => {
    const c = await api('GET', `/campaigns/${id}`);
    const s = c.stats;
    const done = settled(s);
    const f = s.funnel;
    const row = (label, v, of) => [h('dt', null, label), h('dd', null, num(v), of !== undefined ? h('span', { class: 'muted' }, ' ', pct(v, of)) : null)];
    const buttons = [];
    if (c.status === 'running') buttons.push(h('button', { type: 'button', 'data-action': 'pause', onclick: () => act('pause') }, t('camp.pause')));
    if (c.status === 'paused') buttons.push(h('button', { type: 'button', 'data-action': 'resume', class: 'primary', onclick: () => act('resume') }, t('camp.resume')));
    if (['draft', 'scheduled', 'running', 'paused'].includes(c.status))
      buttons.push(h('button', { type: 'button', 'data-action': 'cancel', class: 'danger', onclick: () => {
        if (window.confirm(t('camp.cancelConfirm', { name: c.name }))) act('cancel');
      } }, t('camp.cancel')));
    clear(body).append(
      h('h1', null, c.name, ' ', badge(c.status)),
      h('div', { class: 'actions' }, buttons),
      h('section', { class: 'card' }, h('h2', null, t('camp.progress')),
        progressBar(done, s.total),
        h('p', { 'data-test': 'progress' }, t('camp.progressValue', { done: num(done), total: num(s.total), p: pct(done, s.total) })),
        h('dl', { class: 'kv' },
          c.scheduled_at ? [h('dt', null, t('camp.scheduled')), h('dd', null, time(c.scheduled_at, tz))] : null,
          [h('dt', null, t('camp.started')), h('dd', null, time(c.started_at, tz))],
          [h('dt', null, t('camp.completed')), h('dd', null, time(c.completed_at, tz))]),
        c.status === 'running' ? h('p', { class: 'muted' }, t('camp.live', { s: POLL_S })) : null),
      h('section', { class: 'card' }, h('h2', null, t('camp.funnel')),
        h('dl', { class: 'kv funnel' },
          row(t('camp.audience'), s.total),
          row(t('camp.f.sent'), f.sent, s.total),
          row(t('camp.f.delivered'), f.delivered, f.sent),
          row(t('camp.f.read'), f.read, f.sent),
          row(t('camp.f.clicked'), f.clicked, f.sent),
          row(t('camp.f.replied'), f.replied, f.sent),
          row(t('camp.f.skipped'), s.by_state.skipped),
          row(t('camp.f.failed'), s.by_state.failed),
          row(t('camp.f.pending'), s.by_state.pending + s.by_state.in_flight))));
    return c;
  };
  try {
    clear(main).append(link(`/p/${encodeURIComponent(pageId)}/campaigns`, t('camp.back'), { class: 'back' }), body);
    await load();
    state.timer = setInterval(() => {
      if (!document.hidden) load().catch((e) => failure(body, e));
    }, POLL_S * 1000);
  } catch (e) {
    failure(main, e);
  }
}

/* ---- Sequences (sequences.js) ------------------------------------------------------------ */

// What the sequence screens take from the shell; notice is a one-time message for the next screen.
const ui = {
  shell,
  link,
  failure,
  go: (path, replace = false, notice = null) => {
    state.flash = notice;
    go(path, replace);
  },
  get notice() {
    const n = state.flash;
    state.flash = null;
    return n;
  },
};

/* ---- Router ------------------------------------------------------------------------------- */

async function render() {
  stopPolling();
  const path = location.pathname;
  if (path === '/signin') {
    if (await ensureSession().catch(() => false)) return go('/', true);
    return signinView();
  }
  let ok;
  try {
    ok = await ensureSession();
  } catch (e) {
    clear(root);
    return failure(root, e);
  }
  if (!ok) return go('/signin', true);
  const m = path.match(/^\/p\/([^/]+)\/(dashboard|campaigns|sequences)(?:\/(\d+|new))?$/);
  const pageId = m && decodeURIComponent(m[1]);
  if (!m || !state.pages.some((p) => p.id === pageId)) {
    if (!state.pages.length) {
      clear(root).append(h('main', { id: 'main', class: 'card' }, h('p', null, t('pages.none')), langButton()));
      return;
    }
    return go(`/p/${encodeURIComponent(state.pages[0].id)}/dashboard`, true);
  }
  if (m[2] === 'dashboard') return dashboard(pageId);
  if (m[2] === 'sequences') return m[3] ? sequencePage(ui, pageId, m[3]) : sequencesList(ui, pageId);
  if (m[3] === 'new') return go(`/p/${encodeURIComponent(pageId)}/campaigns`, true);
  if (m[3]) return campaignPage(pageId, m[3]);
  return campaigns(pageId);
}

setLang(savedLang() || 'vi', false);
onLang(() => render());
window.addEventListener('popstate', render);
render();
