/**
 * Pure helpers that turn API documents into what the pages render: dates in Asia/Shanghai,
 * labels in the chosen language, and the view models of the home page, notice items and policy
 * cards. No wx calls here, so test/static.test.js can check them under Node.
 */

'use strict';

const i18n = require('./i18n');

const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000; // no daylight saving in China
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Milliseconds since the epoch for ISO-8601 text, or null. Written out because iOS's
 * JavaScriptCore rejects "2026-09-03 06:43:04.767355+00:00" in Date.parse.
 */
function parseTime(text) {
  if (!text) return null;
  const m = ISO.exec(String(text));
  if (!m) return null;
  const utc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] || 0),
    Number(m[5] || 0), Number(m[6] || 0));
  if (!m[4]) return utc - SHANGHAI_OFFSET_MS; // a bare date is a Shanghai calendar day
  const zone = m[7];
  if (!zone || zone === 'Z') return zone ? utc : utc - SHANGHAI_OFFSET_MS;
  const sign = zone[0] === '-' ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60000;
  return utc - offset;
}

function pad(n) {
  return n < 10 ? '0' + n : String(n);
}

/** '2026-11-21 19:43' in Shanghai time (or the date only with `dateOnly`). */
function formatTime(text, dateOnly) {
  const ms = parseTime(text);
  if (ms === null) return text || '';
  const d = new Date(ms + SHANGHAI_OFFSET_MS);
  const date = d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate());
  return dateOnly ? date : date + ' ' + pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes());
}

function daysLeftText(days) {
  if (days === null || days === undefined) return '';
  if (days < 0) return i18n.t('common_overdue_days', { n: -days });
  if (days === 0) return i18n.t('common_due_today');
  return i18n.t('common_days_left', { n: days });
}

function matterView(m) {
  return {
    key: m.source_system + ':' + m.external_id,
    title: m.title,
    state: m.state,
    stateLabel: i18n.label('state', m.state),
    progress: m.progress === null || m.progress === undefined ? 0 : m.progress,
    progressText: m.progress === null || m.progress === undefined ? ''
      : i18n.t('home_progress', { n: m.progress }),
    dueText: m.due_on ? i18n.t('home_due', { date: m.due_on }) : '',
    actionUrl: m.action_url || '',
  };
}

function reminderView(r) {
  return {
    key: r.kind + ':' + (r.ref || r.due_on),
    title: r.title,
    severity: r.severity,
    severityLabel: i18n.label('severity', r.severity),
    dueOn: r.due_on,
    daysText: daysLeftText(r.days_left),
  };
}

function noticeItemView(n) {
  return {
    id: n.id,
    title: n.title,
    excerpt: n.excerpt || '',
    kind: n.kind,
    kindLabel: i18n.label('kind', n.kind),
    urgent: n.priority === 'urgent',
    priorityLabel: i18n.label('priority', n.priority),
    department: n.department || '',
    publishedText: formatTime(n.published_at),
    read: !!n.read,
    ackRequired: !!n.ack_required,
    acknowledged: !!n.acknowledged,
    archived: !!n.archived,
    corrected: !!n.corrected,
  };
}

function noticeDetailView(n) {
  return Object.assign(noticeItemView(n), {
    html: n.body_html || '',
    reasons: n.reasons || [],
    actionUrl: n.action_url || '',
    canAcknowledge: !!n.ack_required && !n.acknowledged,
  });
}

function policyView(p) {
  let windowText = '';
  if (p.window === 'open' && p.closes_on) windowText = i18n.t('policies_closes', { date: p.closes_on });
  else if (p.window === 'upcoming' && p.opens_on) windowText = i18n.t('policies_opens', { date: p.opens_on });
  const guide = i18n.getLocale() === 'zh-Hant' && p.guide_hant ? p.guide_hant : p.guide;
  return {
    id: p.id,
    title: i18n.localized(p, 'title'),
    summary: i18n.localized(p, 'benefit_summary'),
    category: p.category || '',
    department: p.department || '',
    window: p.window || 'open',
    windowLabel: i18n.label('window', p.window || 'always'),
    windowText,
    reasons: p.reasons || [],
    sourceUrl: p.source_url || '',
    guide: guide || null,
  };
}

function enterpriseView(e) {
  const industry = e.industry || {};
  return {
    uscc: e.uscc,
    name: e.name,
    zoneLabel: i18n.label('zone', e.zone),
    industryLabel: industry.label || industry.code || '',
    sizeLabel: i18n.label('size', e.size),
    status: e.status,
    statusLabel: i18n.label('status', e.status),
    creditLabel: i18n.label('credit', e.credit_level),
    tags: e.tags || [],
    legacyUscc: !!e.legacy_uscc,
  };
}

const BADGE_KEYS = ['action_required', 'in_progress', 'reminders_urgent', 'notices_unread',
  'policies_open'];

/** Everything the home page shows, from one page document. */
function homeView(page) {
  const badges = page.badges || {};
  const pending = page.pending || {};
  const notices = page.notices || { unread: 0, items: [] };
  const policies = page.policies || { items: [] };
  return {
    enterprise: enterpriseView(page.enterprise || {}),
    badges: BADGE_KEYS.map((key) => ({ key, label: i18n.t('badge_' + key), count: badges[key] || 0 })),
    actionRequired: (pending.action_required || []).map(matterView),
    inProgress: (pending.in_progress || []).map(matterView),
    reminders: (page.reminders || []).map(reminderView),
    notices: (notices.items || []).slice(0, 5).map(noticeItemView),
    unreadText: i18n.t('home_unread', { n: notices.unread || 0 }),
    unread: notices.unread || 0,
    policies: (policies.items || []).slice(0, 3).map(policyView),
    policiesOpenText: i18n.t('home_policies_open', { n: policies.open || 0 }),
    asOfText: page.as_of ? i18n.t('home_as_of', { date: page.as_of }) : '',
  };
}

/** The message to show for an ApiError (server detail first, then a generic line). */
function errorText(error) {
  if (!error) return '';
  if (error.type === 'client:network-error' || error.type === 'client:timeout') {
    return i18n.t('common_network_error');
  }
  return error.detail || error.title || i18n.t('common_error');
}

module.exports = {
  parseTime,
  formatTime,
  daysLeftText,
  matterView,
  reminderView,
  noticeItemView,
  noticeDetailView,
  policyView,
  enterpriseView,
  homeView,
  errorText,
};
