// 修订记录: every published revision of a notice, newest first — its number, when, by whom, the
// correction note, what changed (field by field, the body line by line) and its title and body
// as enterprises saw them. The current revision is marked; a corrected notice shows 已更正.
import { get } from './api.js';
import { formatTime, h, replace } from './dom.js';
import { foldContext, lineDiff } from './diff.js';
import { banner, problemMessage } from './forms.js';
import { pick, t } from './i18n.js';
import { correctedBadge, isCorrectable, statusBadge } from './lists.js';
import { sanitizedFragment } from './sanitize.js';

// In the order the API's CORRECTABLE_FIELDS are shown on the correction form.
const FIELD_LABELS = {
  title: '标题', priority: '优先级', body_format: '正文格式', body: '正文', action_url: '办理链接',
  expire_at: '过期时间',
};
const FORMAT_LABELS = { markdown: 'Markdown', html: 'HTML' };

// Colleagues by name; the operator number only when the API knows no name (a deleted account).
function editorLabel({ editor, editor_name: name }, me) {
  if (editor === `operator:${me.id}`) return t('{name}（我）', { name: me.name || me.username });
  if (editor === 'system:scheduler') return t('系统（定时发布）');
  if (name) return name;
  const operator = /^operator:(\d+)$/.exec(editor || '');
  return operator ? t('发布员 #{id}', { id: operator[1] }) : (editor || '—');
}

function diffView(before, after) {
  const ops = lineDiff(before, after);
  if (!ops) return h('p', { class: 'hint' }, t('改动较多，未逐行对比'));
  const sign = { same: '  ', del: '− ', add: '+ ' };
  return h('pre', { class: 'diff', 'data-testid': 'revision-diff' }, foldContext(ops).map((op) => (op.op === 'skip'
    ? h('span', { class: 'diff-skip' }, t('…… {n} 行未改动 ……', { n: op.count }))
    : h('span', { class: `diff-${op.op}` }, sign[op.op] + op.text))));
}

export function revisionsView(ctx, { id }) {
  const { me, options } = ctx;
  const head = h('div', { class: 'stats-head' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/notices' }, t('我的通知')), ' › ',
      h('a', { href: `#/notices/${id}` }, `#${id}`), ' › ', t('修订记录')),
    h('h1', { id: 'revisions-title' }, t('修订记录')));
  const summary = h('div');
  const message = h('div', { 'aria-live': 'polite' });
  const list = h('ol', { class: 'revision-list', 'data-testid': 'revision-list', 'aria-labelledby': 'revisions-title' });
  const view = h('section', { class: 'revisions-view', 'aria-labelledby': 'revisions-title' },
    head, summary, message, list);

  function valueText(name, value) {
    if (value === null || value === undefined || value === '') return t('（无）');
    if (name === 'priority') return pick(options.priorities.find((p) => p.code === value)) || value;
    if (name === 'expire_at') return formatTime(value);
    if (name === 'body_format') return FORMAT_LABELS[value] || value;
    return String(value);
  }

  function changeList(revision, previous) {
    const changes = revision.changes || {};
    const names = Object.keys(FIELD_LABELS).filter((name) => name in changes);
    names.push(...Object.keys(changes).filter((name) => !(name in FIELD_LABELS)));
    if (!names.length) return h('p', { class: 'hint' }, t('内容无变化'));
    return h('ul', { class: 'revision-changes', 'data-testid': 'revision-changes' }, names.map((name) => {
      const label = t(FIELD_LABELS[name] || name);
      if (name === 'body') {
        const ops = previous ? lineDiff(previous.body, revision.body) : null;
        const added = ops ? ops.filter((op) => op.op === 'add').length : 0;
        const removed = ops ? ops.filter((op) => op.op === 'del').length : 0;
        return h('li', { dataset: { field: name } }, h('strong', {}, label), '：',
          ops ? t('已修改（增加 {a} 行，删除 {d} 行）', { a: added, d: removed }) : t('已修改'));
      }
      const change = changes[name] || {};
      return h('li', { dataset: { field: name } }, h('strong', {}, label), '：',
        h('del', {}, valueText(name, change.from)), ' → ', h('ins', {}, valueText(name, change.to)));
    }));
  }

  function card(revision, previous, current) {
    const bodyChanged = previous && revision.changes && 'body' in revision.changes;
    return h('li', {
      class: `panel revision-card${current ? ' current' : ''}`,
      dataset: { revision: String(revision.number) },
      'aria-current': current ? 'true' : null,
    },
    h('div', { class: 'revision-head' },
      h('h2', {}, t('第 {n} 版', { n: revision.number })),
      h('span', { class: `badge ${revision.number === 1 ? 'badge-soft' : 'badge-corrected'}` },
        revision.number === 1 ? t('首次发布') : t('更正')),
      current ? h('span', { class: 'badge badge-current', 'data-testid': 'current-revision' }, t('当前版本')) : null),
    h('p', { class: 'meta' }, formatTime(revision.created_at), ' · ', editorLabel(revision, me)),
    revision.note ? h('p', { class: 'revision-note' }, h('strong', {}, t('更正说明：')), revision.note) : null,
    previous ? changeList(revision, previous) : null,
    h('div', { class: 'revision-content' },
      h('h3', { class: 'revision-title', 'data-testid': 'revision-title' }, revision.title),
      h('div', { class: 'rendered revision-body', 'data-testid': 'revision-body' },
        revision.body_html ? sanitizedFragment(revision.body_html) : h('p', { class: 'hint' }, t('（正文为空）')))),
    bodyChanged ? h('details', { class: 'revision-diff' },
      h('summary', {}, t('正文逐行对比（与第 {n} 版）', { n: previous.number })),
      diffView(previous.body, revision.body)) : null);
  }

  async function load() {
    let notice;
    let revisions;
    try {
      [notice, { items: revisions }] = await Promise.all([
        get(`/v1/notices/${id}`), get(`/v1/notices/${id}/revisions`)]);
    } catch (error) {
      replace(message, banner('error', problemMessage(error)));
      return;
    }
    replace(summary,
      h('p', { class: 'meta' },
        h('strong', { 'data-testid': 'revisions-notice-title' }, notice.title), ' ',
        statusBadge(notice.status), ' ', correctedBadge(notice), ' ',
        revisions.length ? t('当前为第 {n} 版，共 {m} 个版本', { n: notice.revision, m: revisions.length }) : ''),
      h('div', { class: 'button-row' },
        isCorrectable(notice)
          ? h('a', { class: 'btn btn-small btn-primary', href: `#/notices/${id}/correct`, 'data-testid': 'open-correction' }, t('发布更正'))
          : null,
        h('a', { class: 'btn btn-small', href: `#/notices/${id}` }, t('查看统计'))));
    if (!revisions.length) {
      replace(list, h('li', { class: 'panel empty' }, t('尚未发布，暂无修订记录')));
      return;
    }
    const cards = revisions.map((revision, index) => card(revision, revisions[index - 1] || null,
      revision.number === notice.revision));
    replace(list, cards.reverse());
  }

  load();
  return { el: view };
}
