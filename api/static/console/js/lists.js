// The department's notices and policies: status, reach, and the actions each status allows.
import { get, post } from './api.js';
import { formatNumber, formatTime, h, replace } from './dom.js';
import { banner, confirmDialog, problemMessage, select } from './forms.js';
import { pick, t } from './i18n.js';
import { STATUS_LABELS } from './compose.js';

const NOTICE_STATUSES = ['', 'draft', 'scheduled', 'published', 'recalled'];
const POLICY_STATUSES = ['', 'draft', 'published', 'withdrawn'];

export function statusBadge(status) {
  return h('span', { class: `badge status-${status}` }, t(STATUS_LABELS[status] || status));
}

// The label enterprises see on a corrected notice (the API's corrected_label).
export function correctedBadge(notice) {
  return notice.corrected_at
    ? h('span', { class: 'badge badge-corrected', 'data-testid': 'corrected-badge' }, t('已更正')) : null;
}

// Only a published notice that has not expired can be corrected (recalled ones cannot).
export function isCorrectable(notice) {
  return notice.status === 'published'
    && !(notice.expire_at && Date.parse(notice.expire_at) <= Date.now());
}

const errorText = problemMessage;

export function recallNotice(notice, after) {
  return async () => {
    const ok = await confirmDialog({
      title: t('撤回通知'),
      message: t('撤回后“{title}”将立即从企业页面和消息列表中消失，收件记录会保留。确定撤回吗？', { title: notice.title }),
      confirm: t('确定撤回'), danger: true,
    });
    if (!ok) return;
    try {
      await post(`/v1/notices/${notice.id}/recall`, undefined);
      after(null);
    } catch (error) {
      after(error);
    }
  };
}

export function withdrawPolicy(policy, after) {
  return async () => {
    const ok = await confirmDialog({
      title: t('撤回政策'),
      message: t('撤回后“{title}”将不再出现在企业页面和政策检索中，匹配记录会保留。确定撤回吗？', { title: policy.title }),
      confirm: t('确定撤回'), danger: true,
    });
    if (!ok) return;
    try {
      await post(`/v1/policies/${policy.id}/withdraw`, undefined);
      after(null);
    } catch (error) {
      after(error);
    }
  };
}

function listView(ctx, { kind }) {
  const isPolicy = kind === 'policy';
  const statuses = isPolicy ? POLICY_STATUSES : NOTICE_STATUSES;
  const filter = select(statuses.map((s) => ({ value: s, label: s ? t(STATUS_LABELS[s]) : t('全部状态') })),
    { id: `${kind}-status-filter` });
  const message = h('div', { 'aria-live': 'polite' });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'btn', hidden: true }, t('加载更多'));
  let cursor = null;
  const headers = isPolicy
    ? [t('政策名称'), t('类别'), t('状态'), t('匹配企业'), t('申报期'), t('操作')]
    : [t('标题'), t('类型'), t('状态'), t('收件企业'), t('发布时间'), t('操作')];
  const view = h('section', { class: 'list-view', 'aria-labelledby': `${kind}-list-title` },
    h('div', { class: 'list-head' },
      h('h1', { id: `${kind}-list-title` }, isPolicy ? t('我的政策') : t('我的通知')),
      h('div', { class: 'inline' },
        h('label', { for: filter.id, class: 'label' }, t('状态')), filter,
        h('a', { class: 'btn btn-primary', href: isPolicy ? '#/compose/policy' : '#/compose' },
          isPolicy ? t('撰写政策') : t('撰写通知')))),
    message,
    h('div', { class: 'table-wrap' },
      h('table', { class: 'table responsive' },
        h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
        tbody)),
    more);

  function done(error) {
    if (error) replace(message, banner('error', errorText(error)));
    else {
      replace(message, banner('ok', t('已撤回')));
      load(true);
    }
  }

  function noticeRow(n) {
    const kindItem = ctx.options.notice_kinds.find((k) => k.code === n.kind);
    return h('tr', {},
      h('td', { 'data-label': headers[0] },
        n.priority === 'urgent' ? h('span', { class: 'badge badge-urgent' }, t('紧急')) : null, ' ',
        h('a', { href: n.status === 'draft' ? `#/compose/notice/${n.id}` : `#/notices/${n.id}` }, n.title),
        n.corrected_at ? ' ' : null, correctedBadge(n)),
      h('td', { 'data-label': headers[1] }, kindItem ? pick(kindItem) : n.kind),
      h('td', { 'data-label': headers[2] }, statusBadge(n.status)),
      h('td', { 'data-label': headers[3], class: 'num' }, n.published_at ? formatNumber(n.recipient_count) : '—'),
      h('td', { 'data-label': headers[4] }, n.published_at ? formatTime(n.published_at)
        : n.publish_at ? t('定时 {when}', { when: formatTime(n.publish_at) }) : '—'),
      h('td', { 'data-label': headers[5], class: 'actions-cell' },
        n.status === 'draft' ? h('a', { class: 'btn btn-small', href: `#/compose/notice/${n.id}` }, t('编辑')) : null,
        n.status !== 'draft' ? h('a', { class: 'btn btn-small', href: `#/notices/${n.id}` }, t('统计')) : null,
        isCorrectable(n) ? h('a', { class: 'btn btn-small', href: `#/notices/${n.id}/correct` }, t('更正')) : null,
        n.published_at ? h('a', { class: 'btn btn-small', href: `#/notices/${n.id}/revisions` }, t('修订记录')) : null,
        ['published', 'scheduled'].includes(n.status)
          ? h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: recallNotice(n, done) }, t('撤回'))
          : null));
  }

  function policyRow(p) {
    const category = ctx.options.policy_categories.find((c) => c.name === p.category);
    return h('tr', {},
      h('td', { 'data-label': headers[0] },
        h('a', { href: p.status === 'draft' ? `#/compose/policy/${p.id}` : `#/policies/${p.id}` }, p.title)),
      h('td', { 'data-label': headers[1] }, category ? pick(category) : p.category),
      h('td', { 'data-label': headers[2] }, statusBadge(p.status)),
      h('td', { 'data-label': headers[3], class: 'num' }, p.status === 'draft' ? '—' : formatNumber(p.match_count)),
      h('td', { 'data-label': headers[4] }, p.opens_on || p.closes_on ? `${p.opens_on || '…'} — ${p.closes_on || '…'}` : t('长期有效')),
      h('td', { 'data-label': headers[5], class: 'actions-cell' },
        p.status === 'draft' ? h('a', { class: 'btn btn-small', href: `#/compose/policy/${p.id}` }, t('编辑')) : null,
        p.status !== 'draft' ? h('a', { class: 'btn btn-small', href: `#/policies/${p.id}` }, t('统计')) : null,
        p.status === 'published'
          ? h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: withdrawPolicy(p, done) }, t('撤回'))
          : null));
  }

  async function load(reset) {
    if (reset) {
      cursor = null;
      replace(tbody);
    }
    const params = new URLSearchParams({ limit: '20' });
    if (filter.value) params.set('status', filter.value);
    if (cursor) params.set('cursor', cursor);
    try {
      const page = await get(`${isPolicy ? '/v1/policies/managed' : '/v1/notices'}?${params}`);
      for (const item of page.items) tbody.append(isPolicy ? policyRow(item) : noticeRow(item));
      if (!tbody.children.length) {
        tbody.append(h('tr', {}, h('td', { colspan: String(headers.length), class: 'empty' }, t('暂无记录'))));
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      replace(message, banner('error', errorText(error)));
    }
  }

  filter.addEventListener('change', () => load(true));
  more.addEventListener('click', () => load(false));
  load(true);
  return { el: view };
}

export const noticesList = (ctx) => listView(ctx, { kind: 'notice' });
export const policiesList = (ctx) => listView(ctx, { kind: 'policy' });
