// Form building blocks with labels, hints and error slots wired for assistive technology, and
// the placing of a problem+json answer's field problems next to the fields they name.
import { ApiError, NetworkError } from './api.js';
import { h, uid } from './dom.js';
import { problemText, reasonText, t } from './i18n.js';

// One labelled control. `name` is the API field (title, guide/contact) that problems point at.
export function field({ name, label, control, hint = null, required = false, wide = false }) {
  const id = control.id || uid('f');
  control.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  const errorEl = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  control.setAttribute('aria-describedby', [hintEl && hintEl.id, errorEl.id].filter(Boolean).join(' '));
  if (required) control.setAttribute('aria-required', 'true');
  return h('div', { class: `field${wide ? ' field-wide' : ''}`, dataset: { field: name } },
    h('label', { for: id, class: 'label' }, label, required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null),
    control, hintEl, errorEl);
}

export function input(props = {}) {
  return h('input', { class: 'input', ...props });
}

export function textarea(props = {}) {
  return h('textarea', { class: 'input textarea', ...props });
}

export function select(options, props = {}) {
  return h('select', { class: 'input', ...props },
    options.map((o) => h('option', { value: o.value, selected: o.selected }, o.label)));
}

// A group of checkboxes inside a fieldset whose legend names it; `picker` is the rule source id.
export function checkGroup({ picker, legend, name, items, selected = [], onChange, hint = null }) {
  const boxes = items.map((item) => {
    const id = uid(name);
    const input = h('input', {
      type: 'checkbox', id, name, value: item.value, checked: selected.includes(item.value),
      dataset: { value: item.value },
    });
    return { input, el: h('div', { class: 'check' }, input,
      h('label', { for: id }, item.label, item.note ? h('span', { class: 'note' }, ` ${item.note}`) : null)) };
  });
  const fieldset = pickerFieldset({ picker, legend, hint },
    h('div', { class: 'checks' }, boxes.map((b) => b.el)));
  fieldset.addEventListener('change', () => {
    onChange(boxes.filter((b) => b.input.checked).map((b) => b.input.value));
  });
  fieldset.setValues = (values) => {
    for (const b of boxes) b.input.checked = values.includes(b.input.value);
  };
  return fieldset;
}

export function pickerFieldset({ picker, legend, hint = null }, ...content) {
  const errorId = uid('picker-error');
  const hintEl = hint ? h('p', { class: 'hint' }, hint) : null;
  const fieldset = h('fieldset', {
    class: 'picker', dataset: { picker }, 'aria-describedby': errorId,
  }, h('legend', {}, legend), hintEl, content,
  h('p', { class: 'field-error', id: errorId, role: 'alert', hidden: true }));
  return fieldset;
}

export function setFieldError(container, message) {
  const error = container.querySelector(':scope > .field-error');
  if (!error) return;
  error.textContent = message || '';
  error.hidden = !message;
  container.classList.toggle('has-error', Boolean(message));
  const control = container.querySelector('input, select, textarea');
  if (control && container.classList.contains('field')) {
    if (message) control.setAttribute('aria-invalid', 'true');
    else control.removeAttribute('aria-invalid');
  }
}

export function clearErrors(root) {
  for (const el of root.querySelectorAll('.has-error')) setFieldError(el, '');
}

// One line for an error: the first field problem, the detail, or the network failure.
export function problemMessage(error) {
  if (error instanceof NetworkError) return t('网络异常，请检查连接后重试');
  if (error instanceof ApiError) {
    const first = error.errors[0];
    return first ? problemText(first) : reasonText(error.message);
  }
  return String(error.message || error);
}

// Each field problem of `error` goes next to its field in `form` ([data-field="title"], or the
// first segment of a path such as guide/contact); `skip(field)` leaves some to the caller, and
// `describe(problem)` may word one for this form. Returns the texts that have no field here.
export function placeProblems(form, error, { skip = () => false, describe = problemText } = {}) {
  const general = [];
  for (const problem of error instanceof ApiError ? error.errors : []) {
    if (!problem.field || skip(problem.field)) continue;
    const container = form.querySelector(`[data-field="${CSS.escape(problem.field)}"]`)
      || form.querySelector(`[data-field="${CSS.escape(problem.field.split('/')[0])}"]`);
    if (container) setFieldError(container, describe(problem));
    else general.push(describe(problem));
  }
  form.querySelector('.has-error input, .has-error textarea, .has-error select')?.focus();
  return general;
}

export function banner(kind, ...content) {
  return h('div', { class: `banner banner-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, content);
}

export function requiredMark() {
  return h('span', { class: 'sr-only' }, t('（必填）'));
}

// An accessible confirmation (native <dialog>: focus is trapped and Esc cancels).
export function confirmDialog({ title, message, confirm, danger = false }) {
  return new Promise((resolve) => {
    const titleId = `dialog-${Date.now()}`;
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title),
      h('p', {}, message),
      h('div', { class: 'button-row' },
        h('button', { type: 'button', class: 'btn', value: 'cancel', onclick: () => dialog.close('cancel') }, t('取消')),
        h('button', {
          type: 'button', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, 'data-testid': 'dialog-confirm',
          onclick: () => dialog.close('ok'),
        }, confirm)));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'ok');
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
