// GB/T 4754-2017 picker: a searchable tree (门类 section → 大类 division → 中类 group → 小类
// class). Selecting a node targets its code as a prefix (C39 covers C391 and C3911); selecting
// every child of a node collapses to the node itself, keeping rules small.
import { h, replace, uid } from './dom.js';
import { industryName, isHant, loadIndustryHant, t } from './i18n.js';
import { reference } from './api.js';

const LEVELS = ['', '门类', '大类', '中类', '小类'];
const SEARCH_LIMIT = 60;

function levelOf(code) {
  return code.length === 1 ? 1 : code.length - 1;
}

export function createIndustryPicker({ onChange }) {
  let index = null; // code → { node, parent }
  let selected = [];
  const expanded = new Set();
  const errors = new Map(); // code → reason

  const searchId = uid('industry-search');
  const search = h('input', {
    type: 'search', id: searchId, class: 'input', autocomplete: 'off',
    'data-testid': 'industry-search',
  });
  const searchLabel = h('label', { for: searchId, class: 'label' });
  const chips = h('ul', { class: 'chips', 'aria-live': 'polite' });
  const body = h('div', { class: 'industry-tree', tabindex: '-1' });
  const status = h('p', { class: 'hint' });
  const el = h('div', { class: 'industry-picker' }, searchLabel, search, chips, body, status);

  function covered(code) {
    return selected.some((s) => s !== code && code.startsWith(s));
  }

  function normalise(codes) {
    let set = new Set(codes);
    // Drop codes already covered by a selected ancestor.
    set = new Set([...set].filter((c) => ![...set].some((s) => s !== c && c.startsWith(s))));
    // Collapse complete sibling sets into their parent, repeatedly.
    let changed = true;
    while (changed && index) {
      changed = false;
      for (const code of [...set]) {
        const parent = index.get(code)?.parent;
        if (!parent) continue;
        const siblings = parent.children.map((c) => c.code);
        if (siblings.length > 1 && siblings.every((s) => set.has(s))) {
          for (const s of siblings) set.delete(s);
          set.add(parent.code);
          changed = true;
          break;
        }
      }
    }
    return [...set].sort();
  }

  function setChecked(code, checked) {
    const next = checked ? [...selected, code] : selected.filter((c) => c !== code);
    selected = normalise(next);
    errors.clear();
    render();
    onChange([...selected]);
  }

  function label(node) {
    return `${node.code} ${industryName(node)}`;
  }

  function checkbox(node) {
    const id = uid('ind');
    const isCovered = covered(node.code);
    const input = h('input', {
      type: 'checkbox', id, checked: selected.includes(node.code) || isCovered,
      disabled: isCovered, dataset: { code: node.code },
      onchange: (event) => setChecked(node.code, event.target.checked),
    });
    const inner = selected.filter((s) => s !== node.code && s.startsWith(node.code)).length;
    return [
      input,
      h('label', { for: id, class: 'industry-label' },
        h('span', { class: 'code' }, node.code), ' ', industryName(node),
        inner ? h('span', { class: 'badge badge-soft' }, t('已选 {n} 项', { n: inner })) : null),
    ];
  }

  function treeItem(node) {
    const hasChildren = node.children.length > 0;
    const open = expanded.has(node.code);
    const row = h('div', { class: `industry-row level-${levelOf(node.code)}` },
      hasChildren
        ? h('button', {
          type: 'button', class: 'toggle', 'aria-expanded': String(open),
          dataset: { toggle: node.code },
          'aria-label': t(open ? '收起 {name}' : '展开 {name}', { name: label(node) }),
          onclick: () => {
            if (open) expanded.delete(node.code); else expanded.add(node.code);
            render();
          },
        }, open ? '▾' : '▸')
        : h('span', { class: 'toggle-spacer', 'aria-hidden': 'true' }),
      checkbox(node));
    const item = h('li', {}, row);
    if (hasChildren && open) item.append(h('ul', {}, node.children.map(treeItem)));
    return item;
  }

  function pathOf(code) {
    const names = [];
    let entry = index.get(code);
    while (entry && entry.parent) {
      names.unshift(`${entry.parent.code} ${industryName(entry.parent)}`);
      entry = index.get(entry.parent.code);
    }
    return names.join(' › ');
  }

  function searchResults(query) {
    const q = query.trim();
    const upper = q.toUpperCase();
    const found = [];
    let total = 0;
    for (const { node } of index.values()) {
      if (node.code.startsWith(upper) || node.code.slice(1).startsWith(upper)
          || node.name.includes(q) || industryName(node).includes(q)) {
        total += 1;
        if (found.length < SEARCH_LIMIT) found.push(node);
      }
    }
    if (!found.length) return [h('p', { class: 'hint' }, t('没有匹配“{q}”的行业', { q }))];
    return [
      h('ul', { class: 'industry-results' }, found.map((node) => h('li', {},
        h('div', { class: 'industry-row' }, checkbox(node),
          h('span', { class: 'badge badge-soft' }, t(LEVELS[levelOf(node.code)]))),
        pathOf(node.code) ? h('div', { class: 'hint path' }, pathOf(node.code)) : null))),
      total > found.length
        ? h('p', { class: 'hint' }, t('共 {total} 项，显示前 {n} 项，请输入更具体的关键词', { total, n: found.length }))
        : null,
    ];
  }

  function renderChips() {
    replace(chips, selected.map((code) => {
      const node = index?.get(code)?.node;
      const text = node ? label(node) : code;
      const error = errors.get(code);
      return h('li', { class: `chip${error ? ' chip-error' : ''}` },
        h('span', {}, text),
        h('button', {
          type: 'button', class: 'chip-remove', 'aria-label': t('移除 {name}', { name: text }),
          onclick: () => setChecked(code, false),
        }, '×'),
        error ? h('span', { class: 'field-error', role: 'alert' }, error) : null);
    }));
  }

  // Re-rendering replaces the nodes: keep keyboard focus on the same checkbox or toggle.
  function render() {
    const active = el.contains(document.activeElement) ? document.activeElement : null;
    const focusKey = active && (active.dataset.code ? `input[data-code="${active.dataset.code}"]`
      : active.dataset.toggle ? `button[data-toggle="${active.dataset.toggle}"]` : null);
    draw();
    if (focusKey) body.querySelector(focusKey)?.focus();
  }

  function draw() {
    searchLabel.textContent = t('搜索行业（代码或名称，如 C39 或 计算机）');
    renderChips();
    if (!index) {
      replace(body, h('p', { class: 'hint' }, t('正在加载行业分类…')));
      return;
    }
    const query = search.value;
    if (query.trim()) replace(body, searchResults(query));
    else replace(body, h('ul', { class: 'industry-root' }, [...index.values()]
      .filter(({ parent }) => !parent).map(({ node }) => treeItem(node))));
    status.textContent = selected.length
      ? t('已选择 {n} 个行业代码（按前缀匹配）', { n: selected.length })
      : t('未选择行业：不限行业');
  }

  search.addEventListener('input', render);

  async function load() {
    render();
    try {
      const data = await reference('industries');
      if (isHant()) await loadIndustryHant();
      index = new Map();
      const walk = (node, parent) => {
        index.set(node.code, { node, parent });
        for (const child of node.children) walk(child, node);
      };
      for (const section of data.items) walk(section, null);
      status.dataset.version = data.version;
      selected = normalise(selected);
      render();
    } catch (error) {
      replace(body, h('p', { class: 'field-error', role: 'alert' },
        t('行业分类加载失败：{msg}', { msg: error.message })));
    }
  }

  load();

  return {
    el,
    get selected() { return [...selected]; },
    setSelected(codes) {
      selected = normalise(codes);
      render();
    },
    markError(code, reason) {
      if (code) errors.set(code, reason);
      renderChips();
    },
    clearErrors() {
      if (errors.size) {
        errors.clear();
        renderChips();
      }
    },
    async refreshLang() {
      if (isHant()) await loadIndustryHant();
      render();
    },
  };
}
