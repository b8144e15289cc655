// SPDX-License-Identifier: MIT
// Language, catalogue look-ups and locale formats (numbers, percentages, times in the Page's
// time zone). vi: 1.234.567 and 20:00 03/12/2026.
import vi from './i18n/vi.js';
import en from './i18n/en.js';

export const catalogues = { vi, en };
const LOCALES = { vi: 'vi-VN', en: 'en-GB' };
let lang = 'vi';
const listeners = [];

export function getLang() {
  return lang;
}

export function setLang(l, remember = true) {
  lang = catalogues[l] ? l : 'vi';
  document.documentElement.lang = lang;
  if (remember) {
    try {
      localStorage.setItem('loa.lang', lang);
    } catch {
      /* private mode: the choice lasts for this page */
    }
  }
  listeners.forEach((f) => f(lang));
}

export function savedLang() {
  try {
    return localStorage.getItem('loa.lang');
  } catch {
    return null;
  }
}

export function onLang(f) {
  listeners.push(f);
}

export function t(key, vars) {
  let s = catalogues[lang][key];
  if (s === undefined) s = catalogues.vi[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
  return s;
}

export function num(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return t('none');
  return new Intl.NumberFormat(LOCALES[lang]).format(n);
}

// part/of as a percentage with one decimal; "—" when of is 0.
export function pct(part, of) {
  if (!of) return t('none');
  return new Intl.NumberFormat(LOCALES[lang], { style: 'percent', maximumFractionDigits: 1 }).format(part / of);
}

// An ISO time in the Page's time zone: "20:00 03/12/2026" (vi), "3 Dec 2026, 20:00" (en).
export function time(iso, timeZone) {
  if (!iso) return t('none');
  const d = new Date(iso);
  const opts = { timeZone: timeZone || undefined, hour12: false };
  if (lang === 'vi') {
    const parts = {};
    new Intl.DateTimeFormat('vi-VN', { ...opts, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
      .formatToParts(d)
      .forEach((p) => (parts[p.type] = p.value));
    return `${parts.hour}:${parts.minute} ${parts.day}/${parts.month}/${parts.year}`;
  }
  return new Intl.DateTimeFormat('en-GB', { ...opts, dateStyle: 'medium', timeStyle: 'short' }).format(d);
}
