// Simplified Chinese first; a zh-Hant switch for Qianhai and Hengqin users. Source strings are
// written in zh-Hans and looked up in HANT; a string missing there falls back to zh-Hans.
import { HANT } from './i18n-hant.js';

const STORE = 'entpage.console.lang';
const LANGS = ['zh-Hans', 'zh-Hant'];
let lang = LANGS.includes(localStorage.getItem(STORE)) ? localStorage.getItem(STORE) : 'zh-Hans';
const listeners = new Set();
let industryHant = null;

export function currentLang() {
  return lang;
}

export function isHant() {
  return lang === 'zh-Hant';
}

export function setLang(next) {
  if (!LANGS.includes(next) || next === lang) return;
  lang = next;
  localStorage.setItem(STORE, next);
  document.documentElement.lang = next;
  for (const listener of listeners) listener(next);
}

export function onLangChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

// t('共 {n} 家企业', { n: 3 })
export function t(text, params) {
  let out = lang === 'zh-Hant' ? (HANT[text] ?? text) : text;
  if (params) {
    out = out.replace(/\{(\w+)\}/g, (m, key) => (key in params ? String(params[key]) : m));
  }
  return out;
}

// Reference items carry { name, name_hant }.
export function pick(item) {
  if (!item) return '';
  return lang === 'zh-Hant' && item.name_hant ? item.name_hant : item.name;
}

// Industry names ship in zh-Hans; their zh-Hant forms are a static map fetched on first use.
export async function loadIndustryHant() {
  if (industryHant) return industryHant;
  const response = await fetch('/console/static/data/industry-names-hant.json');
  industryHant = response.ok ? (await response.json()).names : {};
  return industryHant;
}

export function industryName(node) {
  if (lang === 'zh-Hant' && industryHant && industryHant[node.code]) return industryHant[node.code];
  return node.name;
}

// Problem reasons from the rule engine read "中文 / English": show the Chinese half.
export function reasonText(reason) {
  if (!reason) return '';
  const cut = reason.indexOf(' / ');
  return cut > 0 ? reason.slice(0, cut) : reason;
}

// Apply to static markup: data-i18n (text), data-i18n-label (aria-label), data-i18n-ph (placeholder).
export function translateTree(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.dataset.i18nSource ??= el.dataset.i18n;
    el.textContent = t(el.dataset.i18nSource);
  }
  for (const el of root.querySelectorAll('[data-i18n-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  }
  for (const el of root.querySelectorAll('[data-i18n-ph]')) {
    el.setAttribute('placeholder', t(el.dataset.i18nPh));
  }
}

document.documentElement.lang = lang;

// Field problems outside the rule engine carry English reasons; show the common ones in Chinese.
const REASONS = [
  [/^is required$/, '此项必填'],
  [/^must not be empty$/, '不能为空'],
  [/^must be at most (\d+) characters$/, '最多 {1} 个字'],
  [/^must be an https:\/\/ URL$/, '须为 https:// 开头的地址'],
  [/^must be after publish_at$/, '须晚于定时发布时间'],
  [/^expire_at must be after publish_at$/, '过期时间须晚于定时发布时间'],
  [/^expire_at has already passed\.?$/, '过期时间已过'],
  [/^must not be before opens_on$/, '不能早于申报开始日期'],
  [/^must be one of/, '请选择有效的选项'],
  [/RFC 3339|time zone offset/, '时间格式不正确'],
  [/^must be a date/, '日期格式不正确'],
  [/^must not contain control characters$/, '不能包含控制字符'],
  [/^unknown field$/, '不支持的字段'],
  [/^A recalled notice cannot be edited\.?$/, '已撤回的通知不能修改'],
  [/^The notice changed meanwhile; reload and retry\.?$/, '通知刚被他人修改，请刷新后重试'],
  [/cannot change after publishing/, '发布后不能更改此项'],
  [/^This notice belongs to another department\.?$/, '该通知属于其他部门'],
];

export function problemText(problem) {
  const reason = (problem && problem.reason) || '';
  if (/[\u3400-\u9fff]/.test(reason)) return reasonText(reason);
  for (const [pattern, text] of REASONS) {
    const match = pattern.exec(reason);
    if (match) return t(text).replace(/\{(\d)\}/g, (m, i) => match[Number(i)] ?? m);
  }
  return reason;
}
