// Compose a notice or a policy: fields, targeting pickers, live audience preview, phone
// preview, save, publish (now or scheduled) with an Idempotency-Key fixed per compose session.
import {
  ApiError, get, newIdempotencyKey, patch, post, request,
} from './api.js';
import {
  debounce, formatNumber, h, isoToLocalShanghai, localShanghaiToIso, replace, uid,
} from './dom.js';
import {
  banner, checkGroup, clearErrors, field, input, pickerFieldset, placeProblems, problemMessage,
  select, setFieldError, textarea,
} from './forms.js';
import { createIndustryPicker } from './industry-picker.js';
import { pick, reasonText, t } from './i18n.js';
import { bodyRenderer, noticeTextFields } from './notice-fields.js';
import { renderPhone } from './phone.js';
import {
  buildRule, emptyState, isUsccForm, locate, parseUsccList, ruleToState,
} from './rule.js';

const PREVIEW_DEBOUNCE_MS = 250;

export function composeView(ctx, { kind = 'notice', editId = null, restore = null } = {}) {
  const { me, options } = ctx;
  const isAdmin = me.role === 'admin';
  const jurisdictionZones = (me.jurisdiction && me.jurisdiction.zones) || [];
  const session = {
    key: newIdempotencyKey(), // one per compose session: a double click never publishes twice
    id: editId, kind, busy: false, done: false, status: 'draft',
  };
  let state = emptyState();
  if (!editId && !isAdmin && jurisdictionZones.length && !(me.jurisdiction.regions || []).length) {
    state.zones = [...jurisdictionZones]; // start inside the jurisdiction
  }
  let rawRule = null; // a loaded rule the pickers cannot express, kept until a picker changes
  let sources = [];
  let lastRuleJson = null;
  // The rule the publisher last produced: an answer for any other rule is out of date, even
  // when it arrives before the debounced request for the new rule has been sent.
  let wantedRuleJson = null;
  let lastResult = null; // the answer on screen, for lastRuleJson
  let previewController = null;
  const view = h('section', { class: 'compose', 'aria-labelledby': 'compose-title' });

  // ---------------------------------------------------------------- header and kind switch
  const title = h('h1', { id: 'compose-title' });
  const kindSwitch = h('div', { class: 'segmented', role: 'group', 'aria-label': t('撰写类型') },
    ['notice', 'policy'].map((k) => h('button', {
      type: 'button', class: 'seg', 'aria-pressed': String(k === kind), dataset: { kind: k },
      disabled: Boolean(editId),
      onclick: () => { if (k !== session.kind) ctx.navigate(k === 'policy' ? '#/compose/policy' : '#/compose'); },
    }, k === 'notice' ? t('通知 / 预警') : t('政策'))));

  // ---------------------------------------------------------------- notice fields
  const kindOptions = options.notice_kinds.map((k) => ({ value: k.code, label: pick(k) }));
  const text = noticeTextFields({ options });
  const controls = { ...text.controls };
  controls.kind = select(kindOptions, { name: 'kind' });
  controls.ack_required = h('input', { type: 'checkbox', name: 'ack_required' });
  controls.standing = h('input', { type: 'checkbox', name: 'standing' });
  controls.publish_at = input({ name: 'publish_at', type: 'datetime-local' });

  const noticeFields = h('fieldset', { class: 'group' },
    h('legend', {}, t('内容')),
    h('div', { class: 'grid-2' },
      field({ name: 'kind', label: t('类型'), control: controls.kind }),
      text.fields.priority),
    text.fields.title,
    h('div', { class: 'grid-2' }, text.fields.body_format),
    text.fields.body,
    text.fields.preview,
    h('div', { class: 'grid-2' },
      h('div', { class: 'field field-check', dataset: { field: 'ack_required' } },
        h('div', { class: 'check' }, controls.ack_required,
          h('label', { for: controls.ack_required.id = uid('ack') }, t('需要企业确认已知悉'))),
        h('p', { class: 'field-error', hidden: true })),
      h('div', { class: 'field field-check', dataset: { field: 'standing' } },
        h('div', { class: 'check' }, controls.standing,
          h('label', { for: controls.standing.id = uid('standing') }, t('常驻：之后新符合条件的企业也会收到'))),
        h('p', { class: 'field-error', hidden: true }))),
    text.fields.action_url,
    h('div', { class: 'grid-2' },
      field({ name: 'publish_at', label: t('定时发布（北京时间，可选）'), control: controls.publish_at, hint: t('留空则立即发布') }),
      text.fields.expire_at));

  // ---------------------------------------------------------------- policy fields
  const categoryOptions = options.policy_categories.map((c) => ({ value: c.name, label: pick(c) }));
  controls.category = select([{ value: '', label: t('请选择') }, ...categoryOptions], { name: 'category' });
  controls.department = input({ name: 'department', value: me.department || '', readOnly: !isAdmin });
  controls.benefit_summary = textarea({ name: 'benefit_summary', rows: 3, maxlength: 1000 });
  controls.source_url = input({ name: 'source_url', type: 'url', placeholder: 'https://' });
  controls.opens_on = input({ name: 'opens_on', type: 'date' });
  controls.closes_on = input({ name: 'closes_on', type: 'date' });
  controls.who_qualifies = textarea({ name: 'who_qualifies', rows: 3 });
  controls.how_to_apply = textarea({ name: 'how_to_apply', rows: 3 });
  controls.contact = input({ name: 'contact', maxlength: 300 });
  controls.title_hant = input({ name: 'title_hant', maxlength: 120 });
  controls.benefit_summary_hant = textarea({ name: 'benefit_summary_hant', rows: 3, maxlength: 1000 });
  controls.policy_title = input({ name: 'policy_title', maxlength: 120, required: true, autocomplete: 'off' });
  const policyFields = h('fieldset', { class: 'group' },
    h('legend', {}, t('政策信息')),
    field({ name: 'title', label: t('政策名称'), control: controls.policy_title, required: true }),
    h('div', { class: 'grid-2' },
      field({ name: 'category', label: t('政策类别'), control: controls.category, required: true }),
      field({
        name: 'department', label: t('发布部门'), control: controls.department,
        hint: isAdmin ? null : t('以本部门名义发布'),
      })),
    field({ name: 'benefit_summary', label: t('惠企内容摘要'), control: controls.benefit_summary, required: true }),
    h('div', { class: 'grid-2' },
      field({ name: 'opens_on', label: t('申报开始日期'), control: controls.opens_on }),
      field({ name: 'closes_on', label: t('申报截止日期'), control: controls.closes_on })),
    field({ name: 'source_url', label: t('政策原文链接'), control: controls.source_url, required: true, hint: t('仅限 https:// 地址') }),
    h('fieldset', { class: 'subgroup' }, h('legend', {}, t('办事指南')),
      field({ name: 'guide/who_qualifies', label: t('申报条件'), control: controls.who_qualifies, required: true }),
      field({ name: 'guide/how_to_apply', label: t('申报方式'), control: controls.how_to_apply, required: true }),
      field({ name: 'guide/contact', label: t('咨询方式'), control: controls.contact, required: true })),
    h('details', { class: 'subgroup' }, h('summary', {}, t('繁体中文版本（可选）')),
      field({ name: 'title_hant', label: t('政策名称（繁体）'), control: controls.title_hant }),
      field({ name: 'benefit_summary_hant', label: t('惠企内容摘要（繁体）'), control: controls.benefit_summary_hant })));

  // ---------------------------------------------------------------- targeting pickers
  const pickers = {};
  const jurisdictionNote = (code) => (!isAdmin && jurisdictionZones.length
    && !jurisdictionZones.includes(code) ? t('（辖区外）') : null);
  pickers.zones = checkGroup({
    picker: 'zones', legend: t('片区'), name: 'zone',
    items: options.zones.map((z) => ({ value: z.code, label: pick(z), note: jurisdictionNote(z.code) })),
    selected: state.zones, onChange: (values) => update({ zones: values }),
  });
  const industryPicker = createIndustryPicker({ onChange: (codes) => update({ industries: codes }) });
  pickers.industry = pickerFieldset({
    picker: 'industry', legend: t('行业（GB/T 4754-2017）'),
    hint: t('选中某一级即包含其全部下级，例如 C39 包含 C391、C3911'),
  }, industryPicker.el);
  pickers.size = checkGroup({
    picker: 'size', legend: t('企业规模'), name: 'size',
    items: options.sizes.map((s) => ({ value: s.code, label: pick(s) })),
    onChange: (values) => update({ sizes: values }),
  });
  // Tags: the common ones as checkboxes, plus free text (matched exactly).
  const tagMode = uid('tagmode');
  const tagBoxes = h('div', { class: 'checks' });
  const tagInput = input({ id: uid('tag'), maxlength: 32, autocomplete: 'off' });
  const tagModeRadios = ['any', 'all'].map((mode) => {
    const id = uid('tm');
    return h('span', { class: 'check' },
      h('input', { type: 'radio', id, name: tagMode, value: mode, checked: mode === 'any' }),
      h('label', { for: id }, mode === 'any' ? t('具备任一标签') : t('同时具备全部标签')));
  });
  const knownTags = options.tags.map((tag) => tag.name);
  function renderTags() {
    const all = [...knownTags, ...state.tags.filter((tag) => !knownTags.includes(tag))];
    replace(tagBoxes, all.map((tag) => {
      const id = uid('tagc');
      const item = options.tags.find((x) => x.name === tag);
      return h('div', { class: 'check' },
        h('input', {
          type: 'checkbox', id, value: tag, checked: state.tags.includes(tag), dataset: { tag },
          onchange: (event) => update({
            tags: event.target.checked ? [...state.tags, tag] : state.tags.filter((x) => x !== tag),
          }),
        }),
        h('label', { for: id }, item ? pick(item) : tag));
    }));
  }
  function addTag() {
    const tag = tagInput.value.trim();
    if (tag && !state.tags.includes(tag)) update({ tags: [...state.tags, tag] });
    tagInput.value = '';
    renderTags();
  }
  tagInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') { event.preventDefault(); addTag(); }
  });
  pickers.tags = pickerFieldset({ picker: 'tags', legend: t('企业标签') },
    tagBoxes,
    h('div', { class: 'inline' },
      h('label', { for: tagInput.id, class: 'label' }, t('其他标签')), tagInput,
      h('button', { type: 'button', class: 'btn btn-small', onclick: addTag }, t('添加'))),
    h('div', { class: 'checks', role: 'radiogroup', 'aria-label': t('标签匹配方式') }, tagModeRadios));
  pickers.tags.addEventListener('change', (event) => {
    if (event.target.name === tagMode) update({ tagMode: event.target.value });
  });

  const capitalMin = input({ id: uid('capmin'), inputmode: 'decimal', dataset: { part: 'gte' } });
  const capitalMax = input({ id: uid('capmax'), inputmode: 'decimal', dataset: { part: 'lte' } });
  pickers.capital = pickerFieldset({ picker: 'capital', legend: t('注册资本（万元）') },
    h('div', { class: 'range' },
      h('label', { for: capitalMin.id }, t('不少于')), capitalMin,
      h('label', { for: capitalMax.id }, t('不超过')), capitalMax));
  const estFrom = input({ id: uid('estfrom'), type: 'date', dataset: { part: 'gte' } });
  const estTo = input({ id: uid('estto'), type: 'date', dataset: { part: 'lte' } });
  pickers.established = pickerFieldset({ picker: 'established', legend: t('成立日期') },
    h('div', { class: 'range' },
      h('label', { for: estFrom.id }, t('自')), estFrom,
      h('label', { for: estTo.id }, t('至')), estTo));
  for (const [el, key] of [[capitalMin, 'capitalMin'], [capitalMax, 'capitalMax'],
    [estFrom, 'establishedFrom'], [estTo, 'establishedTo']]) {
    el.addEventListener('input', () => update({ [key]: el.value }));
  }
  pickers.credit = checkGroup({
    picker: 'credit', legend: t('信用等级'), name: 'credit',
    items: options.credit_levels.map((c) => ({ value: c.code, label: pick(c) })),
    onChange: (values) => update({ credit: values }),
  });
  pickers.status = checkGroup({
    picker: 'status', legend: t('经营状态'), name: 'status',
    items: options.statuses.map((s) => ({ value: s.code, label: pick(s) })),
    onChange: (values) => update({ statuses: values }),
  });
  const usccInput = textarea({ id: uid('uscc'), rows: 3, spellcheck: false, autocomplete: 'off', 'data-testid': 'uscc-list' });
  const usccStatus = h('p', { class: 'hint' });
  usccInput.addEventListener('input', () => update({ usccText: usccInput.value }));
  pickers.uscc = pickerFieldset({ picker: 'uscc', legend: t('指定企业（统一社会信用代码）') },
    h('label', { for: usccInput.id, class: 'label' }, t('每行一个，或用逗号、空格分隔')), usccInput, usccStatus);

  const ruleJson = h('pre', { class: 'rule-json', 'data-testid': 'rule-json', tabindex: '0' });
  const rawRuleNote = h('div', { hidden: true });
  const targetingError = h('div', { class: 'targeting-error', 'aria-live': 'assertive' });
  const targeting = h('fieldset', { class: 'group targeting', dataset: { field: 'rule' } },
    h('legend', {}, t('推送对象')),
    h('p', { class: 'hint' }, t('各条件同时满足；不选即不限。预计触达人数随选择实时更新。')),
    rawRuleNote, targetingError,
    h('div', { class: 'pickers' }, Object.values(pickers)),
    h('details', { class: 'rule-details' }, h('summary', {}, t('查看生成的规则 JSON')), ruleJson));

  // ---------------------------------------------------------------- side panel
  const counts = {
    enterprises: h('span', { class: 'kpi-num', 'data-testid': 'audience-enterprises' }, '—'),
    people: h('span', { class: 'kpi-num', 'data-testid': 'audience-people' }, '—'),
    devices: h('span', { class: 'kpi-num', 'data-testid': 'audience-devices' }, '—'),
  };
  const audienceStatus = h('p', { class: 'hint', 'aria-live': 'polite', 'data-testid': 'audience-status' });
  const refusal = h('div', { class: 'banner banner-error', role: 'alert', hidden: true, 'data-testid': 'jurisdiction-refusal' });
  const sampleList = h('ol', { class: 'sample' });
  const audience = h('section', { class: 'panel audience', 'aria-labelledby': 'audience-title' },
    h('h2', { id: 'audience-title' }, t('预计触达')),
    h('div', { class: 'kpis' },
      h('div', { class: 'kpi' }, counts.enterprises, h('span', { class: 'kpi-label' }, t('家企业'))),
      h('div', { class: 'kpi' }, counts.people, h('span', { class: 'kpi-label' }, t('名人员'))),
      h('div', { class: 'kpi' }, counts.devices, h('span', { class: 'kpi-label' }, t('台设备')))),
    audienceStatus, refusal,
    h('details', { class: 'sample-details' }, h('summary', {}, t('样本企业')), sampleList));

  // On narrow screens the audience panel sits below the form: a small bar keeps the count in view.
  const miniCount = h('span', { class: 'mini-num' }, '—');
  const mini = h('a', { class: 'audience-mini', href: '#audience-title', 'aria-hidden': 'true', tabindex: '-1',
    onclick: (event) => { event.preventDefault(); audience.scrollIntoView({ behavior: 'smooth' }); } },
  t('预计触达'), ' ', miniCount, ' ', t('家企业'));

  const phone = h('div', { class: 'phone-frame', 'data-testid': 'phone-preview' });
  const phonePanel = h('section', { class: 'panel', 'aria-labelledby': 'phone-title' },
    h('h2', { id: 'phone-title' }, t('手机预览（375 像素）')), h('div', { class: 'phone-wrap' }, phone));

  const formBanner = h('div', { class: 'form-banner', 'aria-live': 'polite' });
  const saveButton = h('button', { type: 'button', class: 'btn', 'data-testid': 'save-draft', onclick: () => save(false) }, t('保存草稿'));
  const publishButton = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'publish', onclick: () => save(true) });
  const actions = h('section', { class: 'panel actions', 'aria-label': t('操作') },
    formBanner, h('div', { class: 'button-row' }, saveButton, publishButton));

  const form = h('form', { class: 'compose-form', novalidate: true, onsubmit: (e) => e.preventDefault() },
    kind === 'notice' ? noticeFields : policyFields, targeting);
  append(view,
    h('div', { class: 'compose-head' }, title, kindSwitch),
    h('div', { class: 'compose-grid' },
      h('div', { class: 'compose-main' }, form),
      h('aside', { class: 'compose-side', 'aria-label': t('预览与发布') }, audience, phonePanel, actions)),
    mini);

  function append(parent, ...children) {
    for (const child of children) parent.append(child);
  }

  // ---------------------------------------------------------------- behaviour
  function isScheduled() {
    const iso = localShanghaiToIso(controls.publish_at.value);
    return Boolean(iso) && new Date(iso).getTime() > Date.now() + 30_000;
  }

  function labels() {
    const base = kind === 'policy' ? t('撰写政策') : t('撰写通知');
    title.textContent = editId ? `${base} · #${editId}` : base;
    if (kind === 'policy') publishButton.textContent = t('发布政策');
    else publishButton.textContent = isScheduled() ? t('定时发布') : t('立即发布');
  }

  function update(patchState) {
    if (rawRule) {
      rawRule = null;
      rawRuleNote.hidden = true;
    }
    state = { ...state, ...patchState };
    onRuleChange();
  }

  function currentRule() {
    if (rawRule) return { rule: rawRule, sources: [], local: [] };
    return buildRule(state);
  }

  function onRuleChange() {
    const built = currentRule();
    sources = built.sources;
    ruleJson.textContent = JSON.stringify(built.rule, null, 2);
    const usccs = parseUsccList(state.usccText);
    const malformed = usccs.filter((code) => !isUsccForm(code)).length;
    usccStatus.textContent = usccs.length
      ? t('已识别 {n} 个代码', { n: usccs.length }) + (malformed ? t('，其中 {m} 个格式不正确', { m: malformed }) : '')
      : '';
    clearPickerErrors();
    if (built.local.length) {
      for (const problem of built.local) showPickerError(problem.picker, t(problem.reason));
      setAudienceStale(t('请先修正标红的条件'));
      wantedRuleJson = null;
      previewRule.cancel();
      return;
    }
    const json = JSON.stringify(built.rule);
    wantedRuleJson = json;
    if (json === lastRuleJson) {
      // Back to the rule on screen: its answer still holds; drop requests for other rules.
      previewRule.cancel();
      if (previewController) previewController.abort();
      if (lastResult) showAudience(lastResult);
      return;
    }
    setAudienceStale(t('计算中…'));
    previewRule(built.rule, json);
  }

  const previewRule = debounce(async (rule, json) => {
    if (previewController) previewController.abort(); // only the latest rule's answer counts
    const controller = new AbortController();
    previewController = controller;
    audience.setAttribute('aria-busy', 'true');
    try {
      const result = await post('/v1/audiences/preview', { rule }, { signal: controller.signal });
      if (controller.signal.aborted || json !== wantedRuleJson) return;
      lastRuleJson = json;
      lastResult = result;
      showAudience(result);
    } catch (error) {
      if (error.name === 'AbortError' || controller.signal.aborted || json !== wantedRuleJson) return;
      lastRuleJson = null;
      lastResult = null;
      showRuleProblem(error, 'rule');
    } finally {
      if (previewController === controller) {
        previewController = null;
        audience.removeAttribute('aria-busy');
      }
    }
  }, PREVIEW_DEBOUNCE_MS);

  function setAudienceStale(message) {
    audience.classList.add('stale');
    mini.classList.add('stale');
    audienceStatus.textContent = message;
  }

  function showAudience(result) {
    audience.classList.remove('stale');
    mini.classList.remove('stale');
    refusal.hidden = true;
    counts.enterprises.textContent = formatNumber(result.enterprises);
    miniCount.textContent = formatNumber(result.enterprises);
    // Above a few thousand enterprises the server estimates people and devices from a sample.
    const approx = result.estimated ? '≈' : '';
    counts.people.textContent = approx + formatNumber(result.people);
    counts.devices.textContent = approx + formatNumber(result.devices);
    audienceStatus.textContent = result.enterprises
      ? t('已按当前条件更新') + (result.estimated ? t('（人员、设备数为抽样估算）') : '')
      : t('当前条件没有匹配的企业');
    replace(sampleList, (result.sample || []).map((s) => h('li', {},
      h('span', {}, s.name), ' ', h('span', { class: 'code' }, s.uscc))));
  }

  function clearPickerErrors() {
    for (const fieldset of Object.values(pickers)) setFieldError(fieldset, '');
    setFieldError(targeting, '');
    replace(targetingError);
    industryPicker.clearErrors();
    for (const el of view.querySelectorAll('.pickers [aria-invalid]')) el.removeAttribute('aria-invalid');
  }

  function showPickerError(picker, message, located = null) {
    const fieldset = pickers[picker];
    if (!fieldset) return;
    const previous = fieldset.querySelector(':scope > .field-error').textContent;
    setFieldError(fieldset, previous && previous !== message ? `${previous}；${message}` : message);
    if (picker === 'industry' && located && located.itemValue) {
      industryPicker.markError(located.itemValue, message);
    }
    if (located && located.part) {
      fieldset.querySelector(`[data-part="${located.part}"]`)?.setAttribute('aria-invalid', 'true');
    }
  }

  // Problems from a preview (paths start at "rule") or a save (paths start at "rule" too).
  function showRuleProblem(error, prefix) {
    miniCount.textContent = '—';
    mini.classList.add('stale');
    counts.enterprises.textContent = '—';
    counts.people.textContent = '—';
    counts.devices.textContent = '—';
    replace(sampleList);
    if (error instanceof ApiError && error.code === 'outside-jurisdiction') {
      const outside = error.problem.outside_jurisdiction;
      const zones = jurisdictionZones.map((z) => pick(options.zones.find((o) => o.code === z) || { name: z }));
      replace(refusal,
        h('strong', {}, t('超出辖区，已拒绝')),
        h('p', {}, t('当前规则会触达辖区外的 {n} 家企业。系统不会自动缩小范围，请收窄条件后再试。', { n: formatNumber(outside) })),
        zones.length ? h('p', {}, t('您的辖区：{zones}', { zones: zones.join('、') })) : null);
      refusal.hidden = false;
      audience.classList.add('stale');
      audienceStatus.textContent = t('超出辖区');
      replace(targetingError, banner('error', t('规则超出您的辖区（辖区外 {n} 家企业），请收窄片区或其他条件。', { n: formatNumber(outside) })));
      return;
    }
    refusal.hidden = true;
    audience.classList.add('stale');
    audienceStatus.textContent = t('规则有误，请按提示修改');
    const problems = error instanceof ApiError ? error.errors : [];
    let placed = 0;
    for (const problem of problems) {
      const located = locate(problem.field, sources, prefix);
      if (!located) continue;
      placed += 1;
      const message = reasonText(problem.reason);
      if (located.picker) {
        const item = located.itemValue && located.picker !== 'industry'
          ? t('“{v}”：', { v: located.itemValue }) : '';
        showPickerError(located.picker, item + message, located);
      } else {
        replace(targetingError, banner('error', message));
      }
    }
    if (!placed) replace(targetingError, banner('error', problemMessage(error)));
  }

  // ---------------------------------------------------------------- body and phone preview
  const body = bodyRenderer({ fields: text, onRendered: () => refreshPhone() });
  const renderBody = body.render;

  function refreshPhone() {
    if (kind === 'notice') {
      renderPhone.notice(phone, {
        kind: controls.kind.value,
        kindLabel: pick(options.notice_kinds.find((k) => k.code === controls.kind.value)),
        title: controls.title.value,
        priority: text.priority(),
        ackRequired: controls.ack_required.checked,
        actionUrl: controls.action_url.value,
        department: me.department,
        when: localShanghaiToIso(controls.publish_at.value),
        html: body.html(),
      });
    } else {
      renderPhone.policy(phone, {
        title: controls.policy_title.value,
        category: controls.category.value,
        categoryLabel: pick(options.policy_categories.find((c) => c.name === controls.category.value)),
        department: controls.department.value,
        summary: controls.benefit_summary.value,
        opensOn: controls.opens_on.value,
        closesOn: controls.closes_on.value,
        guide: {
          who_qualifies: controls.who_qualifies.value,
          how_to_apply: controls.how_to_apply.value,
          contact: controls.contact.value,
        },
      });
    }
  }

  const updateCounter = text.updateCounter;

  form.addEventListener('input', (event) => {
    if (event.target === controls.body) renderBody();
    if (event.target === controls.title) updateCounter();
    if (!event.target.closest('.pickers')) refreshPhone();
    labels();
  });
  form.addEventListener('change', (event) => {
    if (event.target === controls.body_format) renderBody();
    if (!event.target.closest('.pickers')) refreshPhone();
    labels();
  });

  // ---------------------------------------------------------------- save and publish
  function noticePayload() {
    const values = text.values();
    return {
      kind: controls.kind.value,
      title: values.title,
      body: values.body,
      body_format: values.body_format,
      priority: values.priority,
      ack_required: controls.ack_required.checked,
      standing: controls.standing.checked,
      action_url: values.action_url,
      publish_at: localShanghaiToIso(controls.publish_at.value),
      expire_at: values.expire_at,
      rule: currentRule().rule,
    };
  }

  function policyPayload() {
    const payload = {
      title: controls.policy_title.value.trim(),
      category: controls.category.value,
      benefit_summary: controls.benefit_summary.value.trim(),
      source_url: controls.source_url.value.trim() || null,
      opens_on: controls.opens_on.value || null,
      closes_on: controls.closes_on.value || null,
      guide: {
        who_qualifies: controls.who_qualifies.value.trim() || null,
        how_to_apply: controls.how_to_apply.value.trim() || null,
        contact: controls.contact.value.trim() || null,
      },
      rule: currentRule().rule,
    };
    if (controls.title_hant.value.trim()) payload.title_hant = controls.title_hant.value.trim();
    if (controls.benefit_summary_hant.value.trim()) {
      payload.benefit_summary_hant = controls.benefit_summary_hant.value.trim();
    }
    if (isAdmin && controls.department.value.trim()) payload.department = controls.department.value.trim();
    return payload;
  }

  function showSaveProblem(error) {
    clearErrors(form);
    if (error instanceof ApiError && (error.code === 'outside-jurisdiction'
        || error.errors.some((p) => p.field && p.field.startsWith('rule')))) {
      showRuleProblem(error, 'rule');
    }
    const general = placeProblems(form, error, { skip: (name) => name.startsWith('rule') });
    const message = error instanceof ApiError && error.code === 'outside-jurisdiction'
      ? t('超出辖区，未发布') : general.join('；') || problemMessage(error);
    replace(formBanner, banner('error', message));
  }

  async function save(publish) {
    if (session.busy || session.done) return; // the key makes a retry safe; this avoids noise
    session.busy = true;
    saveButton.disabled = true;
    publishButton.disabled = true;
    publishButton.setAttribute('aria-busy', 'true');
    replace(formBanner, h('p', { class: 'hint' }, publish ? t('正在发布…') : t('正在保存…')));
    const base = kind === 'policy' ? '/v1/policies' : '/v1/notices';
    try {
      const payload = kind === 'policy' ? policyPayload() : noticePayload();
      let saved;
      if (!session.id) {
        saved = await request('POST', base, { body: payload, headers: { 'Idempotency-Key': `${session.key}.create` } });
        session.id = saved.id;
      } else {
        saved = await patch(`${base}/${session.id}`, payload);
      }
      clearErrors(form);
      if (!publish) {
        replace(formBanner, banner('ok', t('草稿已保存（#{id}）', { id: saved.id })));
        labels();
        return;
      }
      const published = await request('POST', `${base}/${session.id}/publish`, {
        headers: { 'Idempotency-Key': `${session.key}.publish` },
      });
      session.done = true;
      showDone(published);
    } catch (error) {
      showSaveProblem(error);
    } finally {
      session.busy = false;
      if (!session.done) {
        saveButton.disabled = false;
        publishButton.disabled = false;
      }
      publishButton.removeAttribute('aria-busy');
    }
  }

  function showDone(result) {
    const statsHash = kind === 'policy' ? `#/policies/${result.id}` : `#/notices/${result.id}`;
    const scheduled = result.status === 'scheduled';
    const reached = kind === 'policy' ? result.match_count : result.recipient_count;
    replace(formBanner, banner('ok',
      h('strong', { 'data-testid': 'publish-result' }, scheduled
        ? t('已定时发布：将于 {when} 发布', { when: isoToLocalShanghai(result.publish_at).replace('T', ' ') })
        : t('已发布，覆盖 {n} 家企业', { n: formatNumber(reached) })),
      h('div', { class: 'button-row' },
        h('a', { class: 'btn btn-primary', href: statsHash, 'data-testid': 'open-stats' }, t('查看统计')),
        h('a', { class: 'btn', href: kind === 'policy' ? '#/compose/policy' : '#/compose' }, t('再写一条')))));
    for (const control of form.querySelectorAll('input, textarea, select, button')) control.disabled = true;
    saveButton.disabled = true;
    publishButton.disabled = true;
    formBanner.querySelector('a')?.focus();
  }

  // ---------------------------------------------------------------- reopen a draft
  function applyState(next) {
    state = next;
    pickers.zones.setValues(state.zones);
    industryPicker.setSelected(state.industries);
    pickers.size.setValues(state.sizes);
    pickers.credit.setValues(state.credit);
    pickers.status.setValues(state.statuses);
    capitalMin.value = state.capitalMin;
    capitalMax.value = state.capitalMax;
    estFrom.value = state.establishedFrom;
    estTo.value = state.establishedTo;
    usccInput.value = state.usccText;
    for (const radio of pickers.tags.querySelectorAll(`input[name="${tagMode}"]`)) radio.checked = radio.value === state.tagMode;
    renderTags();
  }

  async function loadExisting() {
    const base = kind === 'policy' ? '/v1/policies' : '/v1/notices';
    const item = await get(`${base}/${editId}`);
    session.status = item.status;
    if (kind === 'notice') {
      text.fill(item);
      controls.kind.value = item.kind;
      controls.ack_required.checked = item.ack_required;
      controls.standing.checked = item.standing;
      controls.publish_at.value = isoToLocalShanghai(item.publish_at);
    } else {
      controls.policy_title.value = item.title;
      controls.category.value = item.category;
      controls.department.value = item.department || '';
      controls.benefit_summary.value = item.benefit_summary || '';
      controls.source_url.value = item.source_url || '';
      controls.opens_on.value = item.opens_on || '';
      controls.closes_on.value = item.closes_on || '';
      const guide = item.guide || {};
      controls.who_qualifies.value = guide.who_qualifies || '';
      controls.how_to_apply.value = guide.how_to_apply || '';
      controls.contact.value = guide.contact || '';
      controls.title_hant.value = item.title_hant || '';
      controls.benefit_summary_hant.value = item.benefit_summary_hant || '';
    }
    const parsed = ruleToState(item.rule);
    if (parsed) applyState(parsed);
    else {
      rawRule = item.rule;
      rawRuleNote.hidden = false;
      replace(rawRuleNote, banner('info', t('此规则无法完整显示在选择器中，已原样保留；修改任一选择器将以选择器的条件替换它。')));
    }
    if (item.status !== 'draft') {
      replace(formBanner, banner('info', t('该条目状态为“{s}”，只有草稿可以在此编辑和发布。', { s: t(STATUS_LABELS[item.status] || item.status) })));
      session.done = true;
      saveButton.disabled = true;
      publishButton.disabled = true;
    }
  }

  // A language switch rebuilds the view: carry the form over, including the compose session
  // (its Idempotency-Key and draft id), so nothing typed is lost and nothing publishes twice.
  function snapshot() {
    const values = {};
    for (const [name, control] of Object.entries(controls)) {
      values[name] = control.type === 'checkbox' ? control.checked : control.value;
    }
    return {
      kind, editId, state, rawRule, values, priority: text.priority(),
      session: { ...session, busy: false },
    };
  }

  function restoreSnapshot(saved) {
    for (const [name, value] of Object.entries(saved.values)) {
      const control = controls[name];
      if (!control || (name === 'department' && !isAdmin)) continue;
      if (control.type === 'checkbox') control.checked = value;
      else control.value = value;
    }
    text.setPriority(saved.priority);
    Object.assign(session, saved.session);
    applyState(saved.state);
    rawRule = saved.rawRule;
    if (session.done || session.status !== 'draft') {
      saveButton.disabled = true;
      publishButton.disabled = true;
    }
  }

  // ---------------------------------------------------------------- start
  renderTags();
  updateCounter();
  labels();
  let ready;
  if (restore) {
    restoreSnapshot(restore);
    ready = Promise.resolve();
  } else {
    ready = editId ? loadExisting() : Promise.resolve();
  }
  ready.then(() => {
    onRuleChange();
    renderBody.flush();
    refreshPhone();
    labels();
    updateCounter();
  }).catch((error) => {
    replace(formBanner, banner('error', t('加载失败：{msg}', { msg: problemMessage(error) })));
  });

  return {
    el: view,
    destroy() {
      previewRule.cancel();
      body.cancel();
      if (previewController) previewController.abort();
    },
    snapshot,
  };
}

export const STATUS_LABELS = {
  draft: '草稿', scheduled: '已定时', published: '已发布', recalled: '已撤回', withdrawn: '已撤回',
};
