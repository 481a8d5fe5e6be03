// How a notice or policy will look in the enterprise app, in a 375-px-wide frame.
import { formatTime, h, replace } from './dom.js';
import { t } from './i18n.js';
import { sanitizedFragment } from './sanitize.js';

function statusBar() {
  return h('div', { class: 'phone-status', 'aria-hidden': 'true' },
    h('span', {}, '09:41'), h('span', {}, '●●● 5G ▮'));
}

function appBar(text) {
  return h('div', { class: 'phone-appbar' }, h('span', { 'aria-hidden': 'true' }, '‹'), h('strong', {}, text));
}

function notice(container, data) {
  const urgent = data.priority === 'urgent';
  const card = h('article', { class: `phone-card${urgent ? ' urgent' : ''}` },
    h('div', { class: 'phone-badges' },
      urgent ? h('span', { class: 'badge badge-urgent', 'data-testid': 'phone-priority' }, t('紧急')) : null,
      h('span', { class: `badge badge-kind kind-${data.kind}` }, data.kindLabel || data.kind),
      data.corrected ? h('span', { class: 'badge badge-corrected', 'data-testid': 'phone-corrected' }, t('已更正')) : null),
    h('h3', { class: 'phone-title', 'data-testid': 'phone-title' }, data.title || t('（未填写标题）')),
    h('p', { class: 'phone-meta' }, [data.department, data.when ? formatTime(data.when) : t('发布后显示时间')]
      .filter(Boolean).join(' · ')),
    h('div', { class: 'rendered phone-body', 'data-testid': 'phone-body' },
      data.html ? sanitizedFragment(data.html) : h('p', { class: 'hint' }, t('（正文为空）'))),
    data.actionUrl ? h('span', { class: 'phone-button' }, t('去办理')) : null,
    data.ackRequired ? h('span', { class: 'phone-button phone-button-primary' }, t('确认已知悉')) : null);
  replace(container, statusBar(), appBar(t('企业专属网页')), h('div', { class: 'phone-screen' }, card));
}

function policy(container, data) {
  const window = data.opensOn || data.closesOn
    ? `${data.opensOn || '…'} — ${data.closesOn || '…'}` : t('长期有效');
  const guide = data.guide || {};
  const section = (label, text) => (text ? h('div', { class: 'phone-guide' },
    h('h4', {}, label), h('p', {}, text)) : null);
  const card = h('article', { class: 'phone-card' },
    h('div', { class: 'phone-badges' },
      data.category ? h('span', { class: 'badge badge-kind' }, data.categoryLabel || data.category) : null,
      h('span', { class: 'badge badge-soft' }, t('政策'))),
    h('h3', { class: 'phone-title', 'data-testid': 'phone-title' }, data.title || t('（未填写政策名称）')),
    h('p', { class: 'phone-meta' }, [data.department, t('申报期：{w}', { w: window })].filter(Boolean).join(' · ')),
    data.summary ? h('p', { class: 'phone-summary' }, data.summary) : null,
    section(t('申报条件'), guide.who_qualifies),
    section(t('申报方式'), guide.how_to_apply),
    section(t('咨询方式'), guide.contact),
    h('span', { class: 'phone-button phone-button-primary' }, t('查看详情')));
  replace(container, statusBar(), appBar(t('政策服务')), h('div', { class: 'phone-screen' }, card));
}

export const renderPhone = { notice, policy, fragment: sanitizedFragment };
