// The text of a notice, as composed and as corrected after publishing: title (with its counter),
// priority, body format, body with the server-rendered preview, action link and expiry. Both
// screens lay these fields out themselves; this module builds them, reads them and fills them.
import { post } from './api.js';
import { debounce, h, isoToLocalShanghai, localShanghaiToIso, replace, uid } from './dom.js';
import {
  field, input, problemMessage, select, setFieldError, textarea,
} from './forms.js';
import { pick, t } from './i18n.js';
import { renderPhone } from './phone.js';

const BODY_DEBOUNCE_MS = 300;
export const TITLE_MAX = 80;

export function noticeTextFields({ options }) {
  const controls = {
    title: input({ name: 'title', maxlength: TITLE_MAX, required: true, autocomplete: 'off' }),
    body_format: select([
      { value: 'markdown', label: 'Markdown' }, { value: 'html', label: 'HTML' },
    ], { name: 'body_format' }),
    body: textarea({ name: 'body', rows: 9, required: true, maxlength: 20000 }),
    action_url: input({ name: 'action_url', type: 'url', inputmode: 'url', placeholder: 'https://' }),
    expire_at: input({ name: 'expire_at', type: 'datetime-local' }),
  };
  const priorityName = uid('priority');
  const priorities = options.priorities.map((p) => {
    const id = uid('prio');
    const radio = h('input', { type: 'radio', id, name: priorityName, value: p.code, checked: p.code === 'normal' });
    return { radio, el: h('div', { class: 'check' }, radio, h('label', { for: id }, pick(p))) };
  });
  const charCount = h('span', { class: 'hint counter', 'aria-live': 'off' });
  const bodyPreview = h('div', { class: 'rendered body-preview', 'aria-live': 'polite', 'data-testid': 'body-preview' });

  const fields = {
    priority: h('div', { class: 'field', dataset: { field: 'priority' } },
      h('span', { class: 'label', id: `${priorityName}-label` }, t('优先级')),
      h('div', { class: 'checks', role: 'radiogroup', 'aria-labelledby': `${priorityName}-label` },
        priorities.map((p) => p.el)),
      h('p', { class: 'field-error', hidden: true })),
    title: field({ name: 'title', label: t('标题'), control: controls.title, required: true, hint: charCount }),
    body_format: field({ name: 'body_format', label: t('正文格式'), control: controls.body_format }),
    body: field({
      name: 'body', label: t('正文'), control: controls.body, required: true,
      hint: t('支持 Markdown：# 标题、**加粗**、- 列表、[链接](https://…)；图片与脚本会被过滤'),
    }),
    preview: h('div', { class: 'field' },
      h('span', { class: 'label' }, t('正文预览（经服务器净化，与企业看到的一致）')), bodyPreview),
    action_url: field({ name: 'action_url', label: t('办理链接（可选）'), control: controls.action_url, hint: t('仅限 https:// 地址') }),
    expire_at: field({ name: 'expire_at', label: t('过期时间（北京时间，可选）'), control: controls.expire_at }),
  };

  function priority() {
    const selected = priorities.find((p) => p.radio.checked);
    return selected ? selected.radio.value : 'normal';
  }

  function setPriority(code) {
    for (const p of priorities) p.radio.checked = p.radio.value === code;
  }

  return {
    controls,
    fields,
    bodyPreview,
    priority,
    setPriority,
    updateCounter() {
      charCount.textContent = t('{n}/80 字', { n: controls.title.value.length });
    },
    // The API's names and forms (title trimmed, empty link null, Beijing time as RFC 3339).
    values() {
      return {
        title: controls.title.value.trim(),
        body: controls.body.value,
        body_format: controls.body_format.value,
        priority: priority(),
        action_url: controls.action_url.value.trim() || null,
        expire_at: localShanghaiToIso(controls.expire_at.value),
      };
    },
    fill(notice) {
      controls.title.value = notice.title;
      controls.body.value = notice.body || '';
      controls.body_format.value = notice.body_format;
      setPriority(notice.priority);
      controls.action_url.value = notice.action_url || '';
      controls.expire_at.value = isoToLocalShanghai(notice.expire_at);
    },
  };
}

// The body preview: rendered by the server's own sanitizer (what enterprises will see), then
// rebuilt by sanitize.js before insertion. Debounced; only the latest body's answer is shown.
// `onRendered(html)` follows every change (html is '' for an empty body).
export function bodyRenderer({ fields, onRendered }) {
  const { controls, bodyPreview } = fields;
  let controller = null;
  let html = '';

  const render = debounce(async () => {
    if (controller) controller.abort();
    const mine = new AbortController();
    controller = mine;
    const body = controls.body.value;
    if (!body.trim()) {
      html = '';
      replace(bodyPreview, h('p', { class: 'hint' }, t('（正文为空）')));
      onRendered(html);
      return;
    }
    try {
      const result = await post('/v1/console/render',
        { body, body_format: controls.body_format.value }, { signal: mine.signal });
      if (mine.signal.aborted) return;
      html = result.html;
      setFieldError(controls.body.closest('.field'), '');
    } catch (error) {
      if (error.name === 'AbortError' || mine.signal.aborted) return;
      setFieldError(controls.body.closest('.field'), problemMessage(error));
      return;
    }
    replace(bodyPreview, renderPhone.fragment(html));
    onRendered(html);
  }, BODY_DEBOUNCE_MS);

  replace(bodyPreview, h('p', { class: 'hint' }, t('（正文为空）')));
  return {
    render,
    flush: () => render.flush(),
    html: () => html,
    cancel() {
      render.cancel();
      if (controller) controller.abort();
    },
  };
}
