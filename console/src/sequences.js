// SPDX-License-Identifier: MIT
// The Sequences screens ("kịch bản"): the list per Page by group (/p/PAGE/sequences), a
// sequence's page with its settings, triggers, steps and people (/p/PAGE/sequences/ID) and a
// new one (/p/PAGE/sequences/new). Only the REST API (docs/sequences.md).
// ui: { shell, link, failure, go } from main.js.
import { api, ApiError } from './api.js';
import { h, clear } from './dom.js';
import { t, num, pct, time, onLang } from './i18n.js';

const UNITS = ['seconds', 'minutes', 'hours', 'days'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const STATES = ['waiting', 'queued', 'finished', 'removed'];
const BUTTON_TYPES = ['postback', 'web_url', 'phone_number'];
const PEOPLE_PAGE = 20;
let uid = 0;
// The sequence being edited ({path, m}); a language switch re-renders the screen with it, so
// nothing typed is lost. (This listener runs before main.js's, which renders.)
let editing = null;
let carry = null;
onLang(() => {
  carry = editing;
});
const nextId = (p) => `${p}-${++uid}`;

const enc = encodeURIComponent;
// Appends kids to el as h() does (arrays flattened; null, false and undefined left out).
const put = (el, ...kids) => el.append(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
const seqHref = (pageId, id) => `/p/${enc(pageId)}/sequences/${id}`;

// A message from the API in the user's language when it is a known reason, else as given.
function apiReason(err) {
  if (!(err instanceof ApiError)) return String(err);
  if (err.status === 0) return t('error.network');
  if (err.status === 403) return t('error.forbidden');
  return (err.body.error && err.body.error.reason) || t('error.generic', { status: err.status });
}

// The API's common complaints in the user's language; any other as the API words it.
const REASONS = [
  [/^is required$/, 'api.required'],
  [/^must not be empty$/, 'api.required'],
  [/^must be from 0 up to (\d+) days$/, 'api.delayRange'],
  [/^must be a whole number/, 'api.whole'],
  [/^must be text of 1 to (\d+) characters$/, 'api.length'],
  [/^has (\d+) characters; at most (\d+) allowed$/, 'api.tooLong'],
  [/^must be an http or https URL$/, 'api.url'],
  [/^must not contain spaces$/, 'api.spaces'],
  [/^'([^']*)' is not a time of day/, 'api.time'],
  [/^is required: a time of day HH:MM$/, 'api.timeRequired'],
  [/^unknown variable \{\{([^}]*)\}\}/, 'api.variable'],
  [/already has a sequence with this name or this triggers\.ref$/, 'api.taken'],
  [/^a sequence group with this name already exists$/, 'api.groupTaken'],
  [/^must be the ref of an m\.me link/, 'api.ref'],
  [/^the sequence is switched off/, 'api.off'],
  [/^the filter matches (\d+) people now/, 'api.countChanged'],
];

function reasonOf(text) {
  for (const [re, key] of REASONS) {
    const m = re.exec(text || '');
    if (m) return t(key, { a: m[1], b: m[2] });
  }
  return text;
}

// Every complaint of an ApiError: [{field, reason}].
function complaints(err) {
  if (!(err instanceof ApiError)) return [{ field: null, reason: String(err) }];
  const list = Array.isArray(err.body.errors) && err.body.errors.length ? err.body.errors : [err.body.error || {}];
  return list.map((e) => ({ field: e.field || null, reason: e.reason ? reasonOf(e.reason) : apiReason(err) }));
}

// steps[1].delay.value → steps[1].delay → steps[1] → steps → null.
function parentPath(p) {
  const q = p.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
  return q === p || !q ? null : q;
}

/* A set of fields named by JSON path, each with its error line beside it. */
class Fields {
  constructor(summary) {
    this.map = new Map();
    this.summary = summary;
  }

  // An input (or a group of inputs) with its label and an error line, registered under path.
  field(path, label, input, { cls = 'field', hint } = {}) {
    const id = input.id || (input.id = nextId('f'));
    const err = h('p', { class: 'field-error', id: id + '-err', 'aria-live': 'polite' });
    input.setAttribute('aria-describedby', id + '-err');
    this.map.set(path, { input, err });
    return h('div', { class: cls, 'data-path': path },
      label ? h('label', { for: id }, label) : null, input, hint ? h('p', { class: 'hint muted' }, hint) : null, err);
  }

  // More inputs whose complaints go to the error line of the field registered under path.
  also(path, sub, input) {
    const f = this.map.get(path);
    input.setAttribute('aria-describedby', f.err.id);
    this.map.set(sub, { input, err: f.err });
  }

  // A checkbox (label around it) registered under path, its error line below.
  check(path, c) {
    const id = c.input.id || (c.input.id = nextId('f'));
    const err = h('p', { class: 'field-error', id: id + '-err', 'aria-live': 'polite' });
    c.input.setAttribute('aria-describedby', id + '-err');
    this.map.set(path, { input: c.input, err });
    return h('div', { class: 'check-field', 'data-path': path }, c.el, err);
  }

  clear() {
    for (const { input, err } of this.map.values()) {
      err.textContent = '';
      input.removeAttribute('aria-invalid');
    }
    if (this.summary) clear(this.summary);
  }

  // Shows each complaint beside the field it names (or the nearest enclosing one); the rest in
  // the summary. Focuses the first field named.
  show(list) {
    this.clear();
    let first = null;
    const rest = [];
    for (const c of list) {
      let p = c.field;
      while (p && !this.map.has(p)) p = parentPath(p);
      const f = p && this.map.get(p);
      if (!f) {
        rest.push(c);
        continue;
      }
      f.err.textContent = f.err.textContent ? `${f.err.textContent} ${c.reason}` : c.reason;
      f.input.setAttribute('aria-invalid', 'true');
      if (!first) first = f.input;
    }
    if (this.summary) {
      this.summary.append(h('p', { role: 'alert', class: 'error' }, t('seq.errors', { n: num(list.length) })));
      if (rest.length) this.summary.append(h('ul', { class: 'error' }, rest.map((c) => h('li', null, c.field ? `${c.field}: ${c.reason}` : c.reason))));
    }
    if (first) first.focus();
  }
}

function check(label, checked, onchange, attrs = {}) {
  const input = h('input', { type: 'checkbox', checked, onchange: (e) => onchange(e.target.checked), ...attrs });
  return { input, el: h('label', { class: 'check' }, input, ' ', label) };
}

function select(options, value, onchange, attrs = {}) {
  return h('select', { onchange: (e) => onchange(e.target.value), ...attrs },
    options.map(([v, label]) => h('option', { value: v, selected: String(v) === String(value) }, label)));
}

function activeBadge(on) {
  return h('span', { class: `badge ${on ? 's-running' : 's-paused'}` }, t(on ? 'seq.active' : 'seq.inactive'));
}

/* ---- The list ----------------------------------------------------------------------------- */

export async function sequencesList(ui, pageId) {
  const { main, page } = ui.shell(pageId, 'sequences');
  const load = async () => {
    const [groups, list] = await Promise.all([
      api('GET', `/sequence-groups?page_id=${enc(pageId)}`),
      api('GET', `/sequences?page_id=${enc(pageId)}`),
    ]);
    const full = await Promise.all(list.data.map((s) => api('GET', `/sequences/${s.id}`)));
    const gs = groups.data.slice().sort((a, b) => a.position - b.position);
    const table = (seqs) => seqs.length === 0 ? h('p', { class: 'muted' }, t('seq.groupEmpty'))
      : h('table', { class: 'list' },
        h('thead', null, h('tr', null, ['seq.name', 'seq.state', 'seq.steps', 'seq.waiting', 'seq.finished'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', null, seqs.map((s) => h('tr', { 'data-sequence': s.id },
          h('td', { 'data-label': t('seq.name') }, ui.link(seqHref(pageId, s.id), s.name)),
          h('td', { 'data-label': t('seq.state') }, activeBadge(s.active)),
          h('td', { 'data-label': t('seq.steps'), class: 'n' }, num((s.steps || []).length)),
          h('td', { 'data-label': t('seq.waiting'), class: 'n' }, num(s.stats.waiting + s.stats.queued)),
          h('td', { 'data-label': t('seq.finished'), class: 'n' }, num(s.stats.finished))))));
    const sections = gs.map((g) => groupCard(g, table(full.filter((s) => s.group_id === g.id))));
    const loose = full.filter((s) => !s.group_id || !gs.some((g) => g.id === s.group_id));
    if (loose.length) sections.push(h('section', { class: 'card', 'data-group': 'none' }, h('h2', null, t('seq.noGroup')), table(loose)));
    const fields = new Fields();
    const name = h('input', { name: 'group-name', maxlength: '100' });
    const one = check(t('seq.oneAtATime'), false, () => {});
    const addGroup = h('form', { class: 'inline-form', 'data-test': 'group-add', onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api('POST', '/sequence-groups', { page_id: pageId, name: name.value.trim(), one_at_a_time: one.input.checked });
        await reload();
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return ui.failure(main, err);
        fields.show(complaints(err));
      }
    } }, fields.field('name', t('seq.groupNew'), name), one.el, h('button', { type: 'submit' }, t('seq.groupAdd')));
    put(clear(main), 
      h('h1', null, t('seq.title', { page: page.name || page.id })),
      h('p', { class: 'lead muted' }, t('seq.lead')),
      h('div', { class: 'actions' }, ui.link(`/p/${enc(pageId)}/sequences/new`, t('seq.new'), { class: 'button primary', 'data-test': 'seq-new' })),
      full.length === 0 ? h('p', { class: 'muted' }, t('seq.none')) : null,
      sections,
      h('section', { class: 'card' }, h('h2', null, t('seq.groups')), h('p', { class: 'muted' }, t('seq.groupsHelp')), addGroup));
  };
  // One group: its name (renamed in place), one at a time, up / down, delete, its sequences.
  const groupCard = (g, body) => {
    const fields = new Fields();
    const name = h('input', { value: g.name, maxlength: '100', 'aria-label': t('seq.groupName') });
    const patch = async (b) => {
      try {
        await api('PATCH', `/sequence-groups/${g.id}`, b);
        await reload();
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return ui.failure(main, err);
        fields.show(complaints(err));
      }
    };
    const one = check(t('seq.oneAtATime'), g.one_at_a_time, (v) => patch({ one_at_a_time: v }), { 'data-test': 'one-at-a-time' });
    return h('section', { class: 'card', 'data-group': g.id },
      h('h2', null, g.name, g.one_at_a_time ? h('span', { class: 'badge' }, t('seq.oneBadge')) : null),
      body,
      h('details', { class: 'group-edit' }, h('summary', null, t('seq.groupEdit')),
        h('form', { class: 'inline-form', onsubmit: (e) => {
          e.preventDefault();
          patch({ name: name.value.trim() });
        } }, fields.field('name', t('seq.groupName'), name), h('button', { type: 'submit' }, t('seq.groupRename'))),
        h('div', { class: 'actions' }, one.el,
          h('button', { type: 'button', onclick: () => patch({ position: Math.max(0, g.position - 1) }) }, t('seq.groupUp')),
          h('button', { type: 'button', onclick: () => patch({ position: g.position + 1 }) }, t('seq.groupDown')),
          h('button', { type: 'button', class: 'danger', onclick: async () => {
            if (!window.confirm(t('seq.groupDeleteConfirm', { name: g.name }))) return;
            try {
              await api('DELETE', `/sequence-groups/${g.id}`);
              await reload();
            } catch (err) {
              fields.show(complaints(err));
            }
          } }, t('seq.groupDelete')))));
  };
  const reload = () => load().catch((e) => ui.failure(main, e));
  await reload();
}

/* ---- A sequence --------------------------------------------------------------------------- */

const blank = () => ({
  name: '', active: true, group_id: null, window: null, clock: 'person', leave_on_reply: false, on_refused: 'continue',
  triggers: { welcome: false, ref: null, tags: [] },
  steps: [newStep()],
});

function newStep() {
  return { delay: { value: 1, unit: 'days' }, note: '', purpose: 'promotional', inside_window: false, any_time: false, enabled: true,
    blocks: [{ type: 'text', text: '' }] };
}

function parseDays(days) {
  if (!days) return new Set(DAYS);
  const list = Array.isArray(days) ? days : String(days).split(',');
  return new Set(list.map((d) => String(d).trim().toLowerCase().slice(0, 3)).filter((d) => DAYS.includes(d)));
}

// The body to save: the model, each step with its id (its people stay), without stats.
function body(m, create, pageId) {
  const b = {
    name: m.name, active: m.active, group_id: m.group_id, clock: m.clock, leave_on_reply: m.leave_on_reply, on_refused: m.on_refused,
    window: m.window, triggers: m.triggers,
    steps: m.steps.map((s) => {
      const o = { delay: s.delay, note: s.note || null, purpose: s.purpose, inside_window: s.inside_window, any_time: s.any_time, enabled: s.enabled, blocks: s.blocks };
      if (s.id) o.id = s.id;
      return o;
    }),
  };
  if (create) b.page_id = pageId;
  return b;
}

export async function sequencePage(ui, pageId, id) {
  const { main, page } = ui.shell(pageId, 'sequences');
  const tz = page.timezone;
  const create = id === 'new';
  const notice = ui.notice;
  try {
    const [groups, seq] = await Promise.all([
      api('GET', `/sequence-groups?page_id=${enc(pageId)}`),
      create ? Promise.resolve(blank()) : api('GET', `/sequences/${id}`),
    ]);
    // The m.me link of the saved ref, with its QR code (GET /sequences/{id}/link).
    const mme = !create && seq.triggers && seq.triggers.ref ? await api('GET', `/sequences/${id}/link`).catch(() => null) : null;
    // Of the people waiting for each step, how many the rules will let loa reach when it is due.
    const forecast = new Map();
    if (!create && seq.stats.waiting > 0) {
      const f = await api('GET', `/sequences/${id}/forecast`).catch(() => null);
      for (const x of (f && f.steps) || []) forecast.set(x.step_id, x);
    }
    const kept = carry && carry.path === location.pathname ? carry.m : null;
    carry = null;
    const m = kept || JSON.parse(JSON.stringify(seq));
    m.steps = m.steps || [];
    editing = { path: location.pathname, m };
    const summary = h('div', { class: 'summary', 'data-test': 'errors' });
    const fields = new Fields(summary);
    const saved = h('p', { class: 'notice', role: 'status', hidden: true });

    /* Settings. */
    const name = h('input', { value: m.name, maxlength: '200', required: true, oninput: (e) => (m.name = e.target.value), 'data-test': 'seq-name' });
    const active = check(t('seq.activeLabel'), m.active, (v) => (m.active = v));
    const group = select([['', t('seq.noGroup')], ...groups.data.map((g) => [g.id, g.name])], m.group_id || '', (v) => (m.group_id = v ? Number(v) : null));
    const days = parseDays(m.window && m.window.days);
    const win = { from: m.window ? m.window.from : '', to: m.window ? m.window.to : '' };
    const syncWindow = () => {
      const all = days.size === 7;
      if (!win.from && !win.to && all) m.window = null;
      else m.window = { from: win.from || '00:00', to: win.to || '24:00', days: all ? null : DAYS.filter((d) => days.has(d)) };
    };
    const hhmm = { inputmode: 'numeric', maxlength: '5', placeholder: '13:00', class: 'short', autocomplete: 'off' };
    const from = h('input', { ...hhmm, value: win.from, 'data-test': 'window-from', oninput: (e) => { win.from = e.target.value; syncWindow(); } });
    const to = h('input', { ...hhmm, placeholder: '20:00', value: win.to, 'data-test': 'window-to', oninput: (e) => { win.to = e.target.value; syncWindow(); } });
    const dayBoxes = h('div', { class: 'days', role: 'group', 'aria-label': t('seq.days') }, DAYS.map((d) => check(t('day.' + d), days.has(d), (v) => {
      if (v) days.add(d);
      else days.delete(d);
      syncWindow();
    }).el));
    const clock = select([['person', t('seq.clock.person')], ['page', t('seq.clock.page', { tz })]], m.clock, (v) => (m.clock = v));
    const leave = check(t('seq.leaveOnReply'), m.leave_on_reply, (v) => (m.leave_on_reply = v));
    const refused = select([['continue', t('seq.refused.continue')], ['leave', t('seq.refused.leave')]], m.on_refused, (v) => (m.on_refused = v));

    /* Triggers. */
    m.triggers = m.triggers || { welcome: false, ref: null, tags: [] };
    const welcome = check(t('seq.welcome'), m.triggers.welcome, (v) => (m.triggers.welcome = v));
    const ref = h('input', { value: m.triggers.ref || '', maxlength: '200', 'data-test': 'ref', oninput: (e) => (m.triggers.ref = e.target.value.trim() || null) });
    const tags = h('input', { value: (m.triggers.tags || []).join(', '), 'data-test': 'tags', oninput: (e) => (m.triggers.tags = e.target.value.split(',').map((x) => x.trim()).filter(Boolean)) });

    /* Steps. */
    const stepsBox = h('ol', { class: 'steps' });
    const renderSteps = (focusSel) => {
      for (const k of [...fields.map.keys()]) if (k.startsWith('steps')) fields.map.delete(k);
      clear(stepsBox).append(...m.steps.map((s, i) => stepEditor(s, i)));
      if (focusSel) {
        const el = stepsBox.querySelector(focusSel);
        if (el) el.focus();
      }
    };
    const move = (i, d) => {
      const [s] = m.steps.splice(i, 1);
      m.steps.splice(i + d, 0, s);
      // The focus stays on the moved step: the same arrow, or the other one at either end.
      const j = i + d;
      const same = d < 0 ? 'up' : 'down';
      const end = d < 0 ? j === 0 : j === m.steps.length - 1;
      renderSteps(`[data-step-index="${j}"] [data-move="${end ? (same === 'up' ? 'down' : 'up') : same}"]`);
    };
    // Value and unit side by side; their complaints on one line below both.
    const delayField = (p, label, value, unit) => {
      value.id = nextId('f');
      const el = fields.field(p, null, h('div', { class: 'delay', role: 'group', 'aria-labelledby': value.id + '-l' }, value, unit));
      fields.also(p, `${p}.value`, value);
      fields.also(p, `${p}.unit`, unit);
      unit.setAttribute('aria-label', t('seq.unit'));
      el.prepend(h('label', { for: value.id, id: value.id + '-l' }, label));
      return el;
    };
    const stepEditor = (s, i) => {
      const p = `steps[${i}]`;
      const value = h('input', { type: 'number', inputmode: 'numeric', step: '1', value: String(s.delay.value), class: 'short',
        oninput: (e) => (s.delay.value = e.target.value === '' || Number.isNaN(Number(e.target.value)) ? e.target.value : Number(e.target.value)), 'data-test': 'delay-value' });
      const unit = select(UNITS.map((u) => [u, t('unit.' + u)]), s.delay.unit, (v) => (s.delay.unit = v), { 'data-test': 'delay-unit' });
      const note = h('input', { value: s.note || '', maxlength: '2000', oninput: (e) => (s.note = e.target.value) });
      const purpose = select([['promotional', t('seq.purpose.promotional')], ['non_promotional', t('seq.purpose.non_promotional')]], s.purpose || 'promotional', (v) => (s.purpose = v));
      const enabled = check(t('seq.stepOn'), s.enabled !== false, (v) => (s.enabled = v));
      const inside = check(t('seq.insideWindow'), !!s.inside_window, (v) => (s.inside_window = v));
      const anyTime = check(t('seq.anyTime'), !!s.any_time, (v) => (s.any_time = v));
      const title = t('seq.stepN', { n: i + 1 });
      return h('li', { class: 'card step' + (s.enabled === false ? ' off' : ''), 'data-step-index': i, 'aria-label': title },
        h('div', { class: 'step-head' },
          h('h3', null, title, s.id ? h('span', { class: 'muted' }, ' #' + s.id) : h('span', { class: 'badge' }, t('seq.stepNew'))),
          h('div', { class: 'step-tools' },
            h('button', { type: 'button', 'data-move': 'up', disabled: i === 0, 'aria-label': t('seq.moveUpLabel', { n: i + 1 }), onclick: () => move(i, -1) }, '↑'),
            h('button', { type: 'button', 'data-move': 'down', disabled: i === m.steps.length - 1, 'aria-label': t('seq.moveDownLabel', { n: i + 1 }), onclick: () => move(i, 1) }, '↓'),
            h('button', { type: 'button', class: 'danger', 'data-test': 'step-remove', onclick: () => {
              if (s.id && !window.confirm(t('seq.stepRemoveConfirm', { n: i + 1 }))) return;
              m.steps.splice(i, 1);
              renderSteps();
            } }, t('seq.stepRemove')))),
        h('div', { class: 'grid' },
          delayField(`${p}.delay`, i === 0 ? t('seq.delayFirst') : t('seq.delay'), value, unit),
          fields.field(`${p}.purpose`, t('seq.purpose'), purpose),
          fields.field(`${p}.note`, t('seq.note'), note, { cls: 'field wide' })),
        h('div', { class: 'checks' },
          fields.check(`${p}.enabled`, enabled),
          fields.check(`${p}.inside_window`, inside),
          fields.check(`${p}.any_time`, anyTime)),
        h('h4', null, t('seq.message')),
        fields.field(`${p}.blocks`, null, h('div', { class: 'blocks', tabindex: '-1' }, s.blocks.map((b, j) => blockEditor(s, b, `${p}.blocks[${j}]`, j))), { cls: 'field' }),
        h('div', { class: 'actions' },
          h('button', { type: 'button', onclick: () => { s.blocks.push({ type: 'text', text: '' }); renderSteps(); } }, t('seq.addText')),
          h('button', { type: 'button', onclick: () => { s.blocks.push({ type: 'buttons', text: '', buttons: [{ type: 'postback', title: '', payload: '' }] }); renderSteps(); } }, t('seq.addButtons'))),
        s.stats ? stepStats(s.stats) : null,
        s.id && forecast.get(s.id) && forecast.get(s.id).waiting > 0 ? forecastLine(forecast.get(s.id)) : null);
    };
    const blockEditor = (s, b, p, j) => {
      const remove = h('button', { type: 'button', class: 'danger small', onclick: () => { s.blocks.splice(j, 1); renderSteps(); } }, t('seq.blockRemove'));
      const head = (label) => h('div', { class: 'block-head' }, h('strong', null, label), remove);
      if (b.type === 'text' || b.type === 'buttons') {
        const text = h('textarea', { rows: '3', maxlength: b.type === 'text' ? '2000' : '640', oninput: (e) => (b.text = e.target.value), 'data-test': 'block-text' });
        text.value = b.text || '';
        const rows = [];
        if (b.type === 'buttons') {
          b.buttons = b.buttons || [];
          b.buttons.forEach((x, k) => rows.push(buttonRow(s, b.buttons, x, `${p}.buttons[${k}]`, k)));
        }
        const qrs = (b.quick_replies || []).map((q, k) => quickRow(s, b, q, `${p}.quick_replies[${k}]`, k));
        return h('div', { class: 'block' }, head(t(b.type === 'text' ? 'block.text' : 'block.buttons')),
          fields.field(`${p}.text`, t('seq.text'), text, { hint: t('seq.textHint') }),
          b.type === 'buttons' ? fields.field(`${p}.buttons`, t('seq.buttons'), h('div', { class: 'rows' }, rows,
            b.buttons.length < 3 ? h('button', { type: 'button', class: 'small', onclick: () => { b.buttons.push({ type: 'postback', title: '', payload: '' }); renderSteps(); } }, t('seq.addButton')) : null)) : null,
          fields.field(`${p}.quick_replies`, t('seq.quickReplies'), h('div', { class: 'rows' }, qrs,
            h('button', { type: 'button', class: 'small', onclick: () => { (b.quick_replies = b.quick_replies || []).push({ content_type: 'text', title: '', payload: '' }); renderSteps(); } }, t('seq.addQuickReply')))));
      }
      // Another block type: its JSON, edited as text.
      const ta = h('textarea', { rows: '5', class: 'mono', spellcheck: 'false', oninput: (e) => {
        try {
          s.blocks[j] = JSON.parse(e.target.value);
          ta.removeAttribute('aria-invalid');
        } catch {
          ta.setAttribute('aria-invalid', 'true');
        }
      } });
      ta.value = JSON.stringify(b, null, 1);
      return h('div', { class: 'block' }, head(t('block.other', { type: b.type })), fields.field(p, t('seq.json'), ta));
    };
    const buttonRow = (s, list, x, p, k) => {
      const valueKey = x.type === 'web_url' ? 'url' : 'payload';
      return h('div', { class: 'row' },
        fields.field(`${p}.type`, t('seq.buttonType'), select(BUTTON_TYPES.map((v) => [v, t('button.' + v)]), x.type, (v) => {
          const val = x.url || x.payload || '';
          delete x.url;
          delete x.payload;
          x.type = v;
          x[v === 'web_url' ? 'url' : 'payload'] = val;
          renderSteps();
        }), { cls: 'sub' }),
        fields.field(`${p}.title`, t('seq.buttonTitle'), h('input', { value: x.title || '', maxlength: '20', oninput: (e) => (x.title = e.target.value) }), { cls: 'sub' }),
        fields.field(`${p}.${valueKey}`, t(x.type === 'web_url' ? 'seq.url' : x.type === 'phone_number' ? 'seq.phone' : 'seq.payload'),
          h('input', { value: x[valueKey] || '', oninput: (e) => (x[valueKey] = e.target.value) }), { cls: 'sub' }),
        h('button', { type: 'button', class: 'small', 'aria-label': t('seq.removeButtonLabel', { n: k + 1 }), onclick: () => { list.splice(k, 1); renderSteps(); } }, '×'));
    };
    const quickRow = (s, b, q, p, k) => {
      const drop = h('button', { type: 'button', class: 'small', 'aria-label': t('seq.removeQuickLabel', { n: k + 1 }), onclick: () => {
        b.quick_replies.splice(k, 1);
        if (!b.quick_replies.length) delete b.quick_replies;
        renderSteps();
      } }, '×');
      if (q.content_type !== 'text') return h('div', { class: 'row' }, h('span', { class: 'muted' }, t('qr.' + q.content_type)), drop);
      return h('div', { class: 'row' },
        fields.field(`${p}.title`, t('seq.buttonTitle'), h('input', { value: q.title || '', maxlength: '20', oninput: (e) => (q.title = e.target.value) }), { cls: 'sub' }),
        fields.field(`${p}.payload`, t('seq.payload'), h('input', { value: q.payload || '', oninput: (e) => (q.payload = e.target.value) }), { cls: 'sub' }),
        drop);
    };
    const stepStats = (st) => {
      const reasons = (st.reasons || []).filter((r) => r.state === 'skipped' || r.state === 'failed');
      const cell = (k, v, of) => h('div', { class: 'stat', 'data-stat': k }, h('span', { class: 'muted' }, t('stat.' + k)), ' ',
        h('strong', null, num(v)), of !== undefined ? h('span', { class: 'muted' }, ' ', pct(v, of)) : null);
      return h('div', { class: 'step-stats', 'data-test': 'step-stats' },
        cell('waiting', st.waiting + st.queued), cell('sent', st.sent), cell('delivered', st.delivered, st.sent), cell('read', st.read, st.sent),
        cell('clicked', st.clicked, st.sent), cell('replied', st.replied, st.sent), cell('skipped', st.skipped), cell('failed', st.failed),
        reasons.length ? h('ul', { class: 'reasons muted' }, reasons.map((r) => h('li', null, t('stat.reason', { reason: reasonText(r.reason), n: num(r.count) })))) : null);
    };

    /* Saving. */
    const saveBtn = h('button', { type: 'submit', class: 'primary', 'data-test': 'save' }, t(create ? 'seq.create' : 'seq.save'));
    const form = h('form', { class: 'seq-form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      fields.clear();
      saved.hidden = true;
      saveBtn.disabled = true;
      try {
        const r = await api(create ? 'POST' : 'PATCH', create ? '/sequences' : `/sequences/${id}`, body(m, create, pageId));
        if (create) return ui.go(seqHref(pageId, r.id));
        await ui.go(seqHref(pageId, id), true, t('seq.saved'));
      } catch (err) {
        saveBtn.disabled = false;
        if (err instanceof ApiError && err.status === 401) return ui.failure(main, err);
        fields.show(complaints(err));
      }
    } },
    h('section', { class: 'card' }, h('h2', null, t('seq.settings')),
      h('div', { class: 'grid' },
        fields.field('name', t('seq.name'), name, { cls: 'field wide' }),
        fields.field('group_id', t('seq.group'), group),
        fields.field('clock', t('seq.clock'), clock)),
      h('div', { class: 'checks' }, fields.check('active', active)),
      h('fieldset', null, h('legend', null, t('seq.window')), h('p', { class: 'hint muted' }, t('seq.windowHint')),
        fields.field('window', null, h('div', { class: 'grid' },
          fields.field('window.from', t('seq.from'), from, { cls: 'sub' }), fields.field('window.to', t('seq.to'), to, { cls: 'sub' }))),
        fields.field('window.days', t('seq.days'), dayBoxes)),
      h('div', { class: 'grid' },
        h('div', { class: 'checks' }, fields.check('leave_on_reply', leave)),
        fields.field('on_refused', t('seq.onRefused'), refused))),
    h('section', { class: 'card' }, h('h2', null, t('seq.triggers')),
      h('div', { class: 'checks' }, fields.check('triggers.welcome', welcome)),
      h('div', { class: 'grid' },
        fields.field('triggers.ref', t('seq.ref'), ref, { hint: t('seq.refHint') }),
        fields.field('triggers.tags', t('seq.tags'), tags, { hint: t('seq.tagsHint') })),
      mme ? linkBox(mme) : null),
    h('section', { class: 'steps-wrap' }, h('h2', null, t('seq.stepsTitle')), h('p', { class: 'muted' }, t('seq.stepsHelp')),
      fields.field('steps', null, stepsBox, { cls: 'field' }),
      h('button', { type: 'button', 'data-test': 'step-add', onclick: () => {
        m.steps.push(newStep());
        renderSteps(`[data-step-index="${m.steps.length - 1}"] [data-test=delay-value]`);
      } }, t('seq.stepAdd'))),
    summary,
    h('div', { class: 'actions save-bar' }, saveBtn, saved));
    renderSteps();

    put(clear(main), 
      ui.link(`/p/${enc(pageId)}/sequences`, t('seq.back'), { class: 'back' }),
      h('h1', null, create ? t('seq.newTitle') : m.name, ' ', create ? null : activeBadge(seq.active)),
      notice ? h('p', { class: 'notice', role: 'status', 'data-test': 'notice' }, notice) : null,
      create ? null : h('div', { class: 'tiles' }, ['entered', 'waiting', 'finished', 'removed'].map((k) =>
        h('div', { class: 'tile', 'data-tile': k }, h('div', { class: 'tile-label' }, t('seq.t.' + k)),
          h('div', { class: 'tile-value' }, num(k === 'waiting' ? seq.stats.waiting + seq.stats.queued : seq.stats[k]))))),
      form,
      create ? null : people(ui, main, seq, tz),
      create ? null : deleteCard(ui, pageId, seq));
    if (create) name.focus();
  } catch (e) {
    ui.failure(main, e);
  }
}

// A code's text from the catalogue (prefix + code), else the code itself.
function known(prefix, code) {
  const s = t(prefix + code);
  return s === prefix + code ? code : s;
}

const reasonText = (code) => known('skip.', code);

// "When due: N reachable · M not (reason: k)".
function forecastLine(f) {
  const sum = (o) => Object.values(o || {}).reduce((a, b) => a + b, 0);
  const not = Object.entries(f.not_reachable || {}).map(([code, n]) => `${reasonText(code)} (${num(n)})`);
  return h('p', { class: 'muted forecast', 'data-test': 'forecast' },
    t('seq.forecast', { ok: num(sum(f.reachable)), n: num(f.waiting) }),
    not.length ? ` · ${t('seq.forecastNot', { list: not.join('; ') })}` : null);
}

// The m.me link, its QR code and a download of the code.
function linkBox(l) {
  const src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(l.qr_svg);
  return h('div', { class: 'mme', 'data-test': 'mme' },
    h('img', { src, alt: t('seq.qrAlt', { url: l.url }), width: '160', height: '160' }),
    h('div', null,
      h('p', null, t('seq.link'), ' ', h('a', { href: l.url, rel: 'noopener noreferrer', target: '_blank', 'data-test': 'mme-url' }, l.url)),
      h('p', { class: 'muted' }, t('seq.linkHelp')),
      h('a', { href: src, download: `${l.ref}.svg`, class: 'button' }, t('seq.qrDownload'))));
}

function deleteCard(ui, pageId, seq) {
  const out = h('p', { class: 'error', 'aria-live': 'polite' });
  return h('section', { class: 'card danger-zone' }, h('h2', null, t('seq.delete')), h('p', { class: 'muted' }, t('seq.deleteHelp')),
    h('button', { type: 'button', class: 'danger', 'data-test': 'seq-delete', onclick: async () => {
      if (!window.confirm(t('seq.deleteConfirm', { name: seq.name }))) return;
      try {
        await api('DELETE', `/sequences/${seq.id}`);
        ui.go(`/p/${enc(pageId)}/sequences`);
      } catch (e) {
        out.textContent = apiReason(e);
      }
    } }, t('seq.delete')), out);
}

/* ---- People ------------------------------------------------------------------------------- */

function people(ui, main, seq, tz) {
  const id = seq.id;
  const stepNo = new Map(seq.steps.map((s, i) => [s.id, i + 1]));
  /* Entering. */
  const fields = new Fields();
  const psids = h('textarea', { rows: '3', class: 'mono', 'data-test': 'enter-psids', placeholder: '2400000000000001' });
  const result = h('p', { class: 'notice', role: 'status', hidden: true, 'data-test': 'enter-result' });
  const said = (msg) => {
    result.textContent = msg;
    result.hidden = false;
  };
  const enter = async (b, field) => {
    fields.clear();
    result.hidden = true;
    try {
      const r = await api('POST', `/sequences/${id}/enrolments`, b);
      return r;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return ui.failure(main, e);
      fields.show(complaints(e).map((c) => ({ ...c, field: c.field && c.field !== 'id' && c.field !== 'body' ? c.field : field })));
      return null;
    }
  };
  const byPsid = h('form', { 'data-test': 'enter-form', onsubmit: async (e) => {
    e.preventDefault();
    const list = psids.value.split(/[\s,;]+/).filter(Boolean);
    if (!list.length) return fields.show([{ field: 'psids', reason: t('seq.psidsRequired') }]);
    const r = await enter({ psids: list }, 'psids');
    if (r) {
      said(t('seq.entered', { n: num(r.entered), count: num(r.count) }));
      psids.value = '';
      list$.reload();
    }
  } }, fields.field('psids', t('seq.psids'), psids, { hint: t('seq.psidsHint') }), h('button', { type: 'submit', class: 'primary' }, t('seq.enter')));
  const tagsIn = h('input', { 'data-test': 'enter-tags' });
  const counted = h('div', { class: 'actions' });
  const filter = () => {
    const tags = tagsIn.value.split(',').map((x) => x.trim()).filter(Boolean);
    return tags.length ? { tags: { any: tags } } : {};
  };
  const byFilter = h('form', { 'data-test': 'filter-form', onsubmit: async (e) => {
    e.preventDefault();
    clear(counted);
    const f = filter();
    const r = await enter({ filter: f, dry_run: true }, 'filter');
    if (!r) return;
    put(counted, h('span', { 'data-test': 'count' }, t('seq.counted', { n: num(r.count) })),
      r.count > 0 ? h('button', { type: 'button', class: 'primary', 'data-test': 'enter-confirm', onclick: async () => {
        const r2 = await enter({ filter: f, expected_count: r.count }, 'filter');
        clear(counted);
        if (r2) {
          said(t('seq.entered', { n: num(r2.entered), count: num(r2.count) }));
          list$.reload();
        }
      } }, t('seq.enterN', { n: num(r.count) })) : null);
  } }, fields.field('filter', t('seq.filterTags'), tagsIn, { hint: t('seq.filterHint') }), h('button', { type: 'submit' }, t('seq.count')), counted);

  /* The list, paged, by state and step. */
  const list$ = peopleList(ui, main, seq, stepNo, tz);
  return h('div', { class: 'people' },
    h('section', { class: 'card' }, h('h2', null, t('seq.enterTitle')),
      !seq.active ? h('p', { class: 'notice' }, t('seq.inactiveNote')) : null,
      h('div', { class: 'cols' }, byPsid, byFilter), result),
    list$.el);
}

function peopleList(ui, main, seq, stepNo, tz) {
  const q = { state: 'waiting', step_id: '' };
  const rows = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, t('seq.more'));
  const msg = h('p', { class: 'muted', 'aria-live': 'polite' });
  const picked = new Set();
  let cursor = null;
  const removeBtn = h('button', { type: 'button', class: 'danger', disabled: true, 'data-test': 'remove-people' }, t('seq.removeSelected'));
  const sync = () => {
    removeBtn.disabled = picked.size === 0;
    removeBtn.textContent = picked.size ? t('seq.removeN', { n: num(picked.size) }) : t('seq.removeSelected');
  };
  const load = async (append) => {
    if (!append) {
      cursor = null;
      picked.clear();
      clear(rows);
      sync();
    }
    let path = `/sequences/${seq.id}/enrolments?limit=${PEOPLE_PAGE}&state=${q.state}`;
    if (q.step_id) path += `&step_id=${q.step_id}`;
    if (cursor) path += `&after=${cursor}`;
    const r = await api('GET', path);
    cursor = r.next_cursor;
    more.hidden = !cursor;
    for (const e of r.data) {
      const box = h('input', { type: 'checkbox', 'aria-label': t('seq.pick', { psid: e.psid || e.subscriber_id }), onchange: (ev) => {
        if (ev.target.checked) picked.add(e.subscriber_id);
        else picked.delete(e.subscriber_id);
        sync();
      } });
      const live = e.state === 'waiting' || e.state === 'queued';
      rows.append(h('tr', { 'data-psid': e.psid || '' },
        h('td', { 'data-label': t('seq.pickCol') }, live ? box : null),
        h('td', { 'data-label': 'PSID', class: 'mono' }, e.psid || t('none')),
        h('td', { 'data-label': t('seq.state') }, t('enrol.' + e.state), e.end_reason ? h('span', { class: 'muted' }, ' · ', known('end.', e.end_reason)) : null),
        h('td', { 'data-label': t('seq.step') }, e.step_id ? t('seq.stepN', { n: stepNo.get(e.step_id) || '?' }) : t('none')),
        h('td', { 'data-label': t('seq.due') }, time(e.due_at, tz)),
        h('td', { 'data-label': t('seq.enteredAt') }, time(e.entered_at, tz))));
    }
    msg.textContent = rows.childElementCount ? '' : t('seq.nobody');
  };
  const reload = () => load(false).catch((e) => ui.failure(msg, e));
  more.onclick = () => load(true).catch((e) => ui.failure(msg, e));
  removeBtn.onclick = async () => {
    if (!window.confirm(t('seq.removeConfirm', { n: num(picked.size) }))) return;
    try {
      const r = await api('POST', `/sequences/${seq.id}/enrolments/remove`, { subscriber_ids: [...picked] });
      msg.textContent = t('seq.removed', { n: num(r.removed) });
      await load(false);
      msg.textContent = t('seq.removed', { n: num(r.removed) });
    } catch (e) {
      msg.textContent = apiReason(e);
    }
  };
  const el = h('section', { class: 'card', 'data-test': 'people' }, h('h2', null, t('seq.peopleTitle')),
    h('div', { class: 'actions' },
      h('label', null, t('seq.state'), ' ', select(STATES.map((s) => [s, t('enrol.' + s)]), q.state, (v) => { q.state = v; reload(); }, { 'data-test': 'people-state' })),
      h('label', null, t('seq.step'), ' ', select([['', t('seq.allSteps')], ...seq.steps.map((s, i) => [s.id, t('seq.stepN', { n: i + 1 })])], '', (v) => { q.step_id = v; reload(); }, { 'data-test': 'people-step' })),
      removeBtn),
    h('table', { class: 'list' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, h('span', { class: 'sr' }, t('seq.pickCol'))), h('th', { scope: 'col' }, 'PSID'),
        ['seq.state', 'seq.step', 'seq.due', 'seq.enteredAt'].map((k) => h('th', { scope: 'col' }, t(k))))),
      rows),
    msg, more);
  reload();
  return { el, reload };
}
