// 发布更正: correct a published notice. After publishing only the text and its presentation may
// change (title, body, format, priority, action link, expiry; notices/schemas.py
// CORRECTABLE_FIELDS): the audience, kind, acknowledgement and publication time are the record.
// The form starts from the current revision, previews the result as enterprises will see it
// (marked 已更正), and sends only what changed in one PATCH; the API keeps every revision.
import { get, patch } from './api.js';
import { formatNumber, formatTime, h, replace } from './dom.js';
import {
  banner, clearErrors, field, placeProblems, problemMessage, textarea,
} from './forms.js';
import { pick, problemText, t } from './i18n.js';
import { correctedBadge, isCorrectable, statusBadge } from './lists.js';
import { bodyRenderer, noticeTextFields } from './notice-fields.js';
import { renderPhone } from './phone.js';

const NOTE_MAX = 200;

function notCorrectableReason(notice) {
  if (notice.status === 'recalled') return t('该通知已撤回，不能更正。');
  if (notice.status !== 'published') return t('该通知尚未发布；发布前请直接编辑。');
  return t('该通知已过期，不能更正。');
}

export function correctionView(ctx, { id, restore = null }) {
  const { options } = ctx;
  const text = noticeTextFields({ options });
  const { controls } = text;
  const note = textarea({ name: 'correction_note', rows: 2, maxlength: NOTE_MAX });
  let notice = restore ? restore.notice : null; // the revision being corrected
  let initial = restore ? restore.initial : null; // the form's values as loaded
  let result = restore ? restore.result : null; // the corrected notice, once done
  let busy = false;

  const subject = h('p', { class: 'meta' });
  const head = h('div', { class: 'correction-head' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/notices' }, t('我的通知')), ' › ',
      h('a', { href: `#/notices/${id}` }, `#${id}`), ' › ', t('发布更正')),
    h('h1', { id: 'correct-title' }, t('发布更正')),
    subject);
  const intro = h('div');
  const record = h('dl', { class: 'record', 'data-testid': 'correction-record' });
  const form = h('form', { class: 'compose-form', novalidate: true, onsubmit: (e) => e.preventDefault() },
    h('fieldset', { class: 'group' },
      h('legend', {}, t('更正内容')),
      h('div', { class: 'grid-2' }, text.fields.priority, text.fields.body_format),
      text.fields.title,
      text.fields.body,
      text.fields.preview,
      text.fields.action_url,
      h('div', { class: 'grid-2' }, text.fields.expire_at),
      field({
        name: 'correction_note', label: t('更正说明（可选）'), control: note,
        hint: t('简要说明更正的内容和原因，记入修订记录和审计日志'),
      })),
    h('fieldset', { class: 'group' },
      h('legend', {}, t('发布记录（不可更正）')),
      h('p', { class: 'hint' }, t('推送对象、类型、确认要求和发布时间是发布的记录，不能更正；如需改变，请撤回后重新发布。')),
      record));

  const phone = h('div', { class: 'phone-frame', 'data-testid': 'phone-preview' });
  const effect = h('p', { class: 'hint' });
  const formBanner = h('div', { class: 'form-banner', 'aria-live': 'polite' });
  const submitButton = h('button', {
    type: 'button', class: 'btn btn-primary', 'data-testid': 'submit-correction', onclick: () => submit(),
  }, t('发布更正'));
  const view = h('section', { class: 'compose correction', 'aria-labelledby': 'correct-title' },
    head, intro,
    h('div', { class: 'compose-grid' },
      h('div', { class: 'compose-main' }, form),
      h('aside', { class: 'compose-side', 'aria-label': t('预览与发布') },
        h('section', { class: 'panel', 'aria-labelledby': 'phone-title' },
          h('h2', { id: 'phone-title' }, t('手机预览（375 像素）')), h('div', { class: 'phone-wrap' }, phone)),
        h('section', { class: 'panel actions', 'aria-label': t('操作') },
          effect, formBanner,
          h('div', { class: 'button-row' },
            h('a', { class: 'btn', href: `#/notices/${id}` }, t('返回统计')), submitButton)))));

  const body = bodyRenderer({ fields: text, onRendered: () => refreshPhone() });

  function refreshPhone() {
    if (!notice) return;
    renderPhone.notice(phone, {
      kind: notice.kind,
      kindLabel: pick(options.notice_kinds.find((k) => k.code === notice.kind)),
      title: controls.title.value,
      priority: text.priority(),
      ackRequired: notice.ack_required,
      actionUrl: controls.action_url.value,
      department: notice.department,
      when: notice.published_at,
      html: body.html(),
      corrected: true,
    });
  }

  function renderRecord() {
    const kindItem = options.notice_kinds.find((k) => k.code === notice.kind);
    const row = (label, ...value) => [h('dt', {}, label), h('dd', {}, value)];
    replace(subject, h('strong', {}, notice.title), ' ', statusBadge(notice.status), ' ',
      correctedBadge(notice), notice.corrected_at ? ' ' : null,
      h('span', { 'data-testid': 'correction-revision' }, t('当前为第 {n} 版', { n: notice.revision })));
    replace(record,
      row(t('类型'), kindItem ? pick(kindItem) : notice.kind),
      row(t('收件企业'), t('{n} 家', { n: formatNumber(notice.recipient_count) })),
      row(t('确认要求'), notice.ack_required ? t('需要企业确认已知悉') : t('无需确认')),
      row(t('发布时间'), formatTime(notice.published_at)));
    effect.textContent = t('更正立即生效：{n} 家收件企业将看到新内容并标注“已更正”（不会重新推送），原内容保留在修订记录中。',
      { n: formatNumber(notice.recipient_count) });
  }

  function disable() {
    for (const control of form.querySelectorAll('input, textarea, select, button')) control.disabled = true;
    submitButton.disabled = true;
  }

  // Only what the publisher changed: an untouched expiry is not re-sent at minute precision,
  // and an untouched body is not re-sent with normalised line ends.
  function changes() {
    const values = text.values();
    return Object.fromEntries(Object.entries(values).filter(([name, value]) => value !== initial[name]));
  }

  // "expire_at must be after publish_at" means, for a correction, after the publication.
  function describe(problem) {
    if (problem.field === 'expire_at' && /after publish_at/.test(problem.reason || '')) {
      return t('须晚于发布时间（{when}）', { when: formatTime(notice.published_at) });
    }
    return problemText(problem);
  }

  function showProblem(error) {
    clearErrors(form);
    const general = placeProblems(form, error, { describe });
    const placed = form.querySelector('.has-error');
    replace(formBanner, banner('error', general.length ? general.join('；')
      : placed ? t('更正未发布，请按标红的提示修改') : problemMessage(error)));
  }

  function showDone(saved) {
    replace(formBanner, banner('ok',
      h('strong', { 'data-testid': 'correction-result' },
        t('更正已发布：现为第 {n} 版，企业看到的通知已标注“已更正”', { n: saved.revision })),
      h('div', { class: 'button-row' },
        h('a', { class: 'btn btn-primary', href: `#/notices/${id}/revisions`, 'data-testid': 'open-revisions' }, t('查看修订记录')),
        h('a', { class: 'btn', href: `#/notices/${id}` }, t('返回统计')))));
    disable();
  }

  async function submit() {
    if (busy || result || !notice) return;
    clearErrors(form);
    const changed = changes();
    if (!Object.keys(changed).length) {
      replace(formBanner, banner('info', t('内容没有变化，无需更正')));
      return;
    }
    busy = true;
    submitButton.disabled = true;
    submitButton.setAttribute('aria-busy', 'true');
    replace(formBanner, h('p', { class: 'hint' }, t('正在发布更正…')));
    try {
      // A colleague may have corrected it since this form opened: never overwrite that unseen.
      const latest = await get(`/v1/notices/${id}`);
      if (latest.revision !== notice.revision || !isCorrectable(latest)) {
        replace(formBanner, banner('error',
          isCorrectable(latest)
            ? t('该通知在您编辑期间已被更正为第 {n} 版。为免覆盖他人的更正，请查看修订记录后重新打开更正。', { n: latest.revision })
            : notCorrectableReason(latest),
          h('div', { class: 'button-row' },
            h('a', { class: 'btn btn-small', href: `#/notices/${id}/revisions` }, t('查看修订记录')))));
        return;
      }
      const payload = { ...changed };
      if (note.value.trim()) payload.correction_note = note.value.trim();
      const saved = await patch(`/v1/notices/${id}`, payload);
      if (saved.revision === notice.revision) { // the server found nothing to change
        replace(formBanner, banner('info', t('内容没有变化，无需更正')));
        return;
      }
      result = saved;
      notice = saved;
      renderRecord();
      showDone(saved);
    } catch (error) {
      showProblem(error);
    } finally {
      busy = false;
      submitButton.removeAttribute('aria-busy');
      if (!result) submitButton.disabled = false;
    }
  }

  form.addEventListener('input', (event) => {
    if (event.target === controls.body) body.render();
    if (event.target === controls.title) text.updateCounter();
    refreshPhone();
  });
  form.addEventListener('change', (event) => {
    if (event.target === controls.body_format) body.render();
    refreshPhone();
  });

  function start() {
    renderRecord();
    if (restore) {
      for (const [name, value] of Object.entries(restore.values)) controls[name].value = value;
      text.setPriority(restore.priority);
      note.value = restore.note;
    } else {
      text.fill(notice);
      initial = text.values();
    }
    text.updateCounter();
    body.flush();
    refreshPhone();
    if (result) showDone(result);
    else if (!isCorrectable(notice)) {
      replace(intro, banner('info', notCorrectableReason(notice), ' ',
        h('a', { href: `#/notices/${id}/revisions` }, t('查看修订记录'))));
      disable();
    }
  }

  if (notice) start();
  else {
    get(`/v1/notices/${id}`).then((loaded) => {
      notice = loaded;
      start();
    }).catch((error) => {
      replace(intro, banner('error', t('加载失败：{msg}', { msg: problemMessage(error) })));
      disable();
    });
  }

  return {
    el: view,
    destroy: () => body.cancel(),
    // A language switch rebuilds the view: keep what was typed and what it is measured against.
    snapshot: () => (notice ? {
      notice, initial, result, note: note.value, priority: text.priority(),
      values: Object.fromEntries(Object.entries(controls).map(([name, c]) => [name, c.value])),
    } : null),
  };
}
