// Picker state ⇄ targeting rule (the JSON language in notices/targeting/__init__.py).
//
// The console writes one shape: {"all": [condition, …]} with one condition per picker in use,
// in a fixed order, and remembers which picker produced each index so that a problem at
// "rule/all/1/value" or "rule/all/3/value/17" lands next to the picker (and item) at fault.

export const PICKERS = [
  'zones', 'industry', 'size', 'tags', 'capital', 'established', 'credit', 'status', 'uscc',
];

export function emptyState() {
  return {
    zones: [],
    industries: [],
    sizes: [],
    tags: [],
    tagMode: 'any',
    capitalMin: '',
    capitalMax: '',
    establishedFrom: '',
    establishedTo: '',
    credit: [],
    statuses: [],
    usccText: '',
  };
}

const USCC_SPLIT = /[\s,，、;；]+/;

export function parseUsccList(text) {
  const seen = new Set();
  const out = [];
  for (const raw of (text || '').split(USCC_SPLIT)) {
    const code = raw.trim().toUpperCase();
    if (code && !seen.has(code)) {
      seen.add(code);
      out.push(code);
    }
  }
  return out;
}

const USCC_FORM = /^[0-9A-HJ-NP-RTUWXY]{18}$/;
export function isUsccForm(code) {
  return USCC_FORM.test(code);
}

// "12.5" 万元 → 125000 yuan; null when blank; NaN when not a number.
export function wanToYuan(text) {
  const value = String(text ?? '').trim();
  if (!value) return null;
  if (!/^\d+(\.\d{1,4})?$/.test(value)) return Number.NaN;
  return Math.round(Number(value) * 10_000);
}

function yuanToWan(yuan) {
  if (typeof yuan !== 'number') return '';
  return String(yuan / 10_000);
}

// Returns { rule, sources, local } — sources[i] = { picker, items } for rule/all/i; local lists
// problems found before asking the server (a capital that is not a number).
export function buildRule(state) {
  const all = [];
  const sources = [];
  const local = [];
  const add = (picker, condition, items = null) => {
    all.push(condition);
    sources.push({ picker, items });
  };
  if (state.zones.length) add('zones', { field: 'zone', op: 'in', value: [...state.zones] }, state.zones);
  if (state.industries.length === 1) {
    add('industry', { field: 'industry', op: 'prefix', value: state.industries[0] }, state.industries);
  } else if (state.industries.length > 1) {
    add('industry', {
      any: state.industries.map((code) => ({ field: 'industry', op: 'prefix', value: code })),
    }, state.industries);
  }
  if (state.sizes.length) add('size', { field: 'size', op: 'in', value: [...state.sizes] }, state.sizes);
  if (state.tags.length) {
    add('tags', { field: 'tags', op: state.tagMode === 'all' ? 'all' : 'any', value: [...state.tags] }, state.tags);
  }
  const min = wanToYuan(state.capitalMin);
  const max = wanToYuan(state.capitalMax);
  if (Number.isNaN(min) || Number.isNaN(max)) {
    local.push({ picker: 'capital', reason: '请输入以万元为单位的数字（最多 4 位小数）' });
  } else if (min !== null || max !== null) {
    const value = {};
    if (min !== null) value.gte = min;
    if (max !== null) value.lte = max;
    add('capital', { field: 'registered_capital', op: 'range', value });
  }
  if (state.establishedFrom || state.establishedTo) {
    const value = {};
    if (state.establishedFrom) value.gte = state.establishedFrom;
    if (state.establishedTo) value.lte = state.establishedTo;
    add('established', { field: 'established', op: 'range', value });
  }
  if (state.credit.length) add('credit', { field: 'credit_level', op: 'in', value: [...state.credit] }, state.credit);
  if (state.statuses.length) add('status', { field: 'status', op: 'in', value: [...state.statuses] }, state.statuses);
  const usccs = parseUsccList(state.usccText);
  if (usccs.length) add('uscc', { field: 'uscc', op: 'in', value: usccs }, usccs);
  return { rule: { all }, sources, local };
}

// A problem path ("rule/all/1/any/0/value") → { picker, item, part } or { picker: null }.
export function locate(path, sources, prefix = 'rule') {
  if (!path || (path !== prefix && !path.startsWith(`${prefix}/`))) return null;
  const parts = path.slice(prefix.length).split('/').filter(Boolean);
  if (parts[0] !== 'all' || parts.length < 2) return { picker: null };
  const index = Number(parts[1]);
  const source = sources[index];
  if (!source) return { picker: null };
  const rest = parts.slice(2);
  let item = null;
  if (rest[0] === 'any' && /^\d+$/.test(rest[1] || '')) item = Number(rest[1]);
  else if (rest[0] === 'value' && /^\d+$/.test(rest[1] || '')) item = Number(rest[1]);
  const part = rest[0] === 'value' && ['gte', 'gt', 'lte', 'lt'].includes(rest[1]) ? rest[1] : null;
  return { picker: source.picker, item, itemValue: item !== null && source.items ? source.items[item] : null, part };
}

function condition(node) {
  return node && typeof node === 'object' && 'field' in node ? node : null;
}

// The reverse, for reopening a draft. Returns null for a rule this console did not write (the
// editor then shows it read-only rather than silently rewriting it).
export function ruleToState(rule) {
  const state = emptyState();
  if (!rule || typeof rule !== 'object') return state;
  const children = Array.isArray(rule.all) ? rule.all : [rule];
  const list = (value) => (Array.isArray(value) ? value.map(String) : [String(value)]);
  for (const child of children) {
    const c = condition(child);
    if (!c && child && Array.isArray(child.any) && child.any.every((n) => condition(n)
        && n.field === 'industry' && n.op === 'prefix')) {
      state.industries.push(...child.any.map((n) => n.value));
      continue;
    }
    if (!c) return null;
    switch (`${c.field}:${c.op}`) {
      case 'zone:in': case 'zone:eq': state.zones.push(...list(c.value)); break;
      case 'industry:prefix': state.industries.push(String(c.value)); break;
      case 'size:in': case 'size:eq': state.sizes.push(...list(c.value)); break;
      case 'tags:any': case 'tags:all': state.tags.push(...list(c.value)); state.tagMode = c.op; break;
      case 'registered_capital:range':
        if ('gt' in c.value || 'lt' in c.value) return null;
        state.capitalMin = yuanToWan(c.value.gte);
        state.capitalMax = yuanToWan(c.value.lte);
        break;
      case 'established:range':
        if ('gt' in c.value || 'lt' in c.value) return null;
        state.establishedFrom = c.value.gte || '';
        state.establishedTo = c.value.lte || '';
        break;
      case 'credit_level:in': case 'credit_level:eq': state.credit.push(...list(c.value)); break;
      case 'status:in': case 'status:eq': state.statuses.push(...list(c.value)); break;
      case 'uscc:in': state.usccText = list(c.value).join('\n'); break;
      default: return null;
    }
  }
  return state;
}
