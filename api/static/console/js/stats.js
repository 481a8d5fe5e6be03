// Per-notice statistics: recipients, delivery per channel, read and acknowledged over time, and
// the enterprises that have not acknowledged (with CSV exports produced by the server).
import { get, request } from './api.js';
import { downloadBlob, formatNumber, formatTime, h, replace } from './dom.js';
import { banner, problemMessage } from './forms.js';
import { cumulativeSeries, lineChart } from './chart.js';
import { pick, t } from './i18n.js';
import {
  correctedBadge, isCorrectable, recallNotice, statusBadge, withdrawPolicy,
} from './lists.js';

const REFRESH_MS = 10_000;
const CHANNEL_NAMES = { fcm: 'App 推送（FCM）', wechat: '微信订阅消息', stream: '实时推送', live: '实时推送' };
// Column order of the per-channel table; unknown numeric keys follow.
const DELIVERY_KEYS = {
  delivered: '已送达', pending: '待发送', sending: '发送中', failed: '失败待重试', dead: '最终失败',
  skipped: '未发送', possibly_duplicate: '可能重复',
};

// Why a delivery was not attempted (push pipeline reason codes).
const SKIP_REASONS = {
  no_consent: '未授权订阅', consent_refused: '用户拒收', device_inactive: '设备已停用',
  device_reassigned: '设备已换绑', preference_off: '用户关闭了此类推送', recalled: '通知已撤回',
  expired: '通知已过期', withdrawn: '政策已撤回',
};

const errorText = problemMessage;

function percent(part, whole) {
  return whole ? `${Math.round((part / whole) * 1000) / 10}%` : '—';
}

function kpi(label, value, note, testid) {
  return h('div', { class: 'kpi-card' },
    h('span', { class: 'kpi-label' }, label),
    h('span', { class: 'kpi-num', 'data-testid': testid }, value),
    note ? h('span', { class: 'hint' }, note) : null);
}

async function downloadCsv(path, fallback) {
  const response = await request('GET', path, { raw: true });
  const disposition = response.headers.get('content-disposition') || '';
  const match = /filename="([^"]+)"/.exec(disposition);
  downloadBlob(await response.blob(), match ? match[1] : fallback);
}

function exportButton(label, path, fallback, message, testid) {
  const button = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': testid }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await downloadCsv(path, fallback);
    } catch (error) {
      replace(message, banner('error', errorText(error)));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

export function noticeStatsView(ctx, { id }) {
  const message = h('div', { 'aria-live': 'polite' });
  const head = h('div', { class: 'stats-head' });
  const kpis = h('div', { class: 'kpi-grid', 'aria-live': 'polite' });
  const delivery = h('section', { class: 'panel', 'aria-labelledby': 'delivery-title' });
  const chart = h('section', { class: 'panel', 'aria-labelledby': 'chart-title' });
  const unack = h('section', { class: 'panel', 'aria-labelledby': 'unack-title', hidden: true });
  const updated = h('p', { class: 'hint', 'data-testid': 'stats-updated' });
  const view = h('section', { class: 'stats-view', 'aria-labelledby': 'stats-title' },
    head, message, kpis, updated, delivery, chart, unack);
  let notice = null;
  let timer = null;
  let unackCursor = null;

  function renderHead() {
    const kindItem = ctx.options.notice_kinds.find((k) => k.code === notice.kind);
    replace(head,
      h('p', { class: 'crumbs' }, h('a', { href: '#/notices' }, t('我的通知')), ' › ', `#${notice.id}`),
      h('h1', { id: 'stats-title' }, notice.title),
      h('p', { class: 'meta' },
        statusBadge(notice.status), ' ',
        correctedBadge(notice), notice.corrected_at ? ' ' : null,
        notice.priority === 'urgent' ? h('span', { class: 'badge badge-urgent' }, t('紧急')) : null, ' ',
        kindItem ? pick(kindItem) : notice.kind, ' · ',
        t('发布于 {when}', { when: formatTime(notice.published_at || notice.publish_at) }),
        notice.corrected_at ? ` · ${t('第 {n} 版', { n: notice.revision })}` : '',
        notice.department ? ` · ${notice.department}` : ''),
      h('div', { class: 'button-row' },
        isCorrectable(notice)
          ? h('a', { class: 'btn btn-small btn-primary', href: `#/notices/${id}/correct`, 'data-testid': 'open-correction' }, t('发布更正'))
          : null,
        notice.published_at
          ? h('a', { class: 'btn btn-small', href: `#/notices/${id}/revisions`, 'data-testid': 'open-revisions' }, t('修订记录'))
          : null,
        exportButton(t('导出回执 CSV'), `/v1/notices/${id}/receipts?format=csv`, `notice-${id}-receipts.csv`, message, 'export-receipts'),
        ['published', 'scheduled'].includes(notice.status)
          ? h('button', {
            type: 'button', class: 'btn btn-small btn-danger',
            onclick: recallNotice(notice, async (error) => {
              if (error) replace(message, banner('error', errorText(error)));
              else {
                replace(message, banner('ok', t('已撤回：通知已从企业页面移除，收件记录保留')));
                notice = await get(`/v1/notices/${id}`);
                renderHead();
              }
            }),
          }, t('撤回'))
          : null));
  }

  function renderDelivery(stats) {
    const channels = Object.entries(stats.delivery || {});
    const title = h('h2', { id: 'delivery-title' }, t('各通道送达'));
    if (!channels.length) {
      replace(delivery, title, h('p', { class: 'hint', 'data-testid': 'delivery-empty' },
        t('暂无推送通道数据（推送流水线尚未记录此通知的投递）')));
      return;
    }
    const seen = new Set(channels.flatMap(([, counts]) => Object.keys(counts || {})
      .filter((k) => typeof counts[k] === 'number')));
    const keys = [...Object.keys(DELIVERY_KEYS).filter((k) => seen.has(k)),
      ...[...seen].filter((k) => !(k in DELIVERY_KEYS))];
    const reasons = channels.map(([channel, counts]) => {
      const entries = Object.entries((counts && counts.skipped_reasons) || {});
      return entries.length ? h('li', {}, t('{channel}未发送原因：', { channel: t(CHANNEL_NAMES[channel] || channel) }),
        entries.map(([reason, n]) => `${t(SKIP_REASONS[reason] || reason)} ${formatNumber(n)}`).join('、')) : null;
    }).filter(Boolean);
    replace(delivery, title, h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': 'delivery-table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('通道')),
        keys.map((k) => h('th', { scope: 'col', class: 'num' }, t(DELIVERY_KEYS[k] || k))))),
      h('tbody', {}, channels.map(([channel, counts]) => h('tr', { dataset: { channel } },
        h('th', { scope: 'row' }, t(CHANNEL_NAMES[channel] || channel)),
        keys.map((k) => h('td', { class: 'num', dataset: { key: k } }, formatNumber(counts[k])))))))),
    reasons.length ? h('ul', { class: 'hint reasons' }, reasons) : null);
  }

  function renderChart(stats) {
    const title = h('h2', { id: 'chart-title' }, t('阅读与确认趋势（北京时间，按小时累计）'));
    const published = Date.parse(notice.published_at);
    const start = Math.floor(published / 3_600_000) * 3_600_000; // the statistics are hourly
    if (!notice.published_at || Number.isNaN(published)) {
      replace(chart, title, h('p', { class: 'hint' }, t('发布后显示趋势')));
      return;
    }
    const now = Math.max(Date.now(), start);
    const end = Math.max(now, start + 3_600_000); // at least an hour of axis
    const keys = notice.ack_required ? ['read', 'acknowledged'] : ['read'];
    const cumulative = cumulativeSeries(stats.timeline || [], keys, start, now);
    const series = [{ label: t('已读'), className: 's-read', points: cumulative.read }];
    if (notice.ack_required) series.push({ label: t('已确认'), className: 's-ack', points: cumulative.acknowledged });
    replace(chart, title, lineChart({
      title: t('阅读与确认趋势'), series, ceiling: stats.recipients, start, end,
      width: chart.clientWidth - 36,
    }));
  }

  function renderKpis(stats) {
    const deliveredTotal = Object.values(stats.delivery || {})
      .reduce((sum, c) => sum + (typeof c?.delivered === 'number' ? c.delivered : 0), 0);
    replace(kpis,
      kpi(t('收件企业'), formatNumber(stats.recipients),
        stats.rematched ? t('含后续匹配 {n} 家', { n: formatNumber(stats.rematched) }) : t('发布快照 {n} 家', { n: formatNumber(stats.snapshot_recipients) }),
        'stats-recipients'),
      kpi(t('已送达（各通道合计）'), Object.keys(stats.delivery || {}).length ? formatNumber(deliveredTotal) : '—', null, 'stats-delivered'),
      kpi(t('已读'), formatNumber(stats.read), percent(stats.read, stats.recipients), 'stats-read'),
      stats.ack_required
        ? kpi(t('已确认'), formatNumber(stats.acknowledged), percent(stats.acknowledged, stats.recipients), 'stats-acknowledged')
        : kpi(t('未读'), formatNumber(stats.unread), null, 'stats-unread'));
  }

  async function loadUnack(reset) {
    if (!notice.ack_required || notice.status === 'draft') return;
    unack.hidden = false;
    if (reset) {
      unackCursor = null;
      const urgent = notice.priority === 'urgent';
      replace(unack,
        h('div', { class: 'section-head' },
          h('h2', { id: 'unack-title' }, urgent ? t('未确认的企业（紧急预警）') : t('未确认的企业')),
          exportButton(t('导出 CSV'), `/v1/notices/${id}/unacknowledged?format=csv`,
            `notice-${id}-unacknowledged.csv`, message, 'export-unack')),
        h('p', { class: 'hint', 'data-testid': 'unack-summary' }),
        h('div', { class: 'table-wrap' }, h('table', { class: 'table responsive', 'data-testid': 'unack-table' },
          h('thead', {}, h('tr', {}, [t('统一社会信用代码'), t('企业名称'), t('片区'), t('法定代表人'), t('阅读时间')]
            .map((x) => h('th', { scope: 'col' }, x)))),
          h('tbody'))),
        h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => loadUnack(false) }, t('加载更多')));
    }
    const params = new URLSearchParams({ limit: '50' });
    if (unackCursor) params.set('cursor', unackCursor);
    try {
      const page = await get(`/v1/notices/${id}/unacknowledged?${params}`);
      const labels = [t('统一社会信用代码'), t('企业名称'), t('片区'), t('法定代表人'), t('阅读时间')];
      const zoneName = (code) => pick(ctx.options.zones.find((z) => z.code === code)) || code;
      unack.querySelector('tbody').append(...page.items.map((row) => h('tr', {},
        h('td', { 'data-label': labels[0], class: 'code' }, row.uscc),
        h('td', { 'data-label': labels[1] }, row.name),
        h('td', { 'data-label': labels[2] }, zoneName(row.zone)),
        h('td', { 'data-label': labels[3] }, row.legal_representative || '—'),
        h('td', { 'data-label': labels[4] }, row.read_at ? formatTime(row.read_at) : t('未读')))));
      const s = page.summary || {};
      unack.querySelector('[data-testid="unack-summary"]').textContent = t('共 {n} 家企业尚未确认（收件 {r} 家，已确认 {a} 家）',
        { n: formatNumber(s.unacknowledged), r: formatNumber(s.recipients), a: formatNumber(s.acknowledged) });
      unackCursor = page.next_cursor;
      unack.querySelector(':scope > button').hidden = !unackCursor;
    } catch (error) {
      replace(message, banner('error', errorText(error)));
    }
  }

  async function refresh() {
    try {
      const stats = await get(`/v1/notices/${id}/stats`);
      renderKpis(stats);
      renderDelivery(stats);
      renderChart(stats);
      updated.textContent = t('统计更新于 {when}，每 10 秒自动刷新', { when: formatTime(new Date().toISOString()) });
    } catch (error) {
      replace(message, banner('error', errorText(error)));
    }
  }

  async function start() {
    try {
      notice = await get(`/v1/notices/${id}`);
    } catch (error) {
      replace(message, banner('error', errorText(error)));
      return;
    }
    renderHead();
    await refresh();
    await loadUnack(true);
    timer = setInterval(() => {
      if (!document.hidden) refresh();
    }, REFRESH_MS);
  }

  start();
  return { el: view, destroy: () => clearInterval(timer) };
}

export function policyStatsView(ctx, { id }) {
  const message = h('div', { 'aria-live': 'polite' });
  const body = h('div');
  const view = h('section', { class: 'stats-view', 'aria-labelledby': 'stats-title' }, message, body);

  async function load() {
    try {
      const [policy, stats] = await Promise.all([get(`/v1/policies/${id}`), get(`/v1/policies/${id}/stats`)]);
      const category = ctx.options.policy_categories.find((c) => c.name === policy.category);
      replace(body,
        h('p', { class: 'crumbs' }, h('a', { href: '#/policies' }, t('我的政策')), ' › ', `#${policy.id}`),
        h('h1', { id: 'stats-title' }, policy.title),
        h('p', { class: 'meta' }, statusBadge(policy.status), ' ', category ? pick(category) : policy.category,
          ' · ', policy.department || '', ' · ',
          policy.opens_on || policy.closes_on ? `${policy.opens_on || '…'} — ${policy.closes_on || '…'}` : t('长期有效')),
        policy.status === 'published' ? h('div', { class: 'button-row' }, h('button', {
          type: 'button', class: 'btn btn-small btn-danger',
          onclick: withdrawPolicy(policy, (error) => {
            if (error) replace(message, banner('error', errorText(error)));
            else load();
          }),
        }, t('撤回'))) : null,
        h('div', { class: 'kpi-grid' },
          kpi(t('发布时匹配企业'), formatNumber(stats.snapshot_matches), null, 'policy-snapshot'),
          kpi(t('当前匹配企业'), formatNumber(stats.matches), null, 'policy-matches'),
          kpi(t('后续新匹配'), formatNumber(stats.rematched), t('企业资料变化后新符合条件'), 'policy-rematched')),
        h('section', { class: 'panel' }, h('h2', {}, t('惠企内容摘要')), h('p', {}, policy.benefit_summary || '—')));
    } catch (error) {
      replace(message, banner('error', errorText(error)));
    }
  }

  load();
  return { el: view };
}
