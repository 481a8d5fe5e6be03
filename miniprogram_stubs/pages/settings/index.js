/**
 * Settings: language, WeChat binding, subscription consent (wx.requestSubscribeMessage with the
 * template ids from utils/config.js, each result reported to the backend), notification
 * preferences per kind and channel, quiet hours, and logout.
 *
 * WeChat only shows the consent dialog from a tap, for at most 3 templates per call, and each
 * "accept" allows exactly one message: so every kind has its own button, and one more asks for
 * the first three at once.
 */

const api = require('../../utils/api');
const i18n = require('../../utils/i18n');
const view = require('../../utils/view');
const config = require('../../utils/config');

const DEFAULT_QUIET = { start: '22:00', end: '07:00', timezone: 'Asia/Shanghai' };

function subscribeRows(templateIds, consents, lastResults) {
  const byTemplate = {};
  (consents || []).forEach((c) => { byTemplate[c.template_id] = c; });
  return config.SUBSCRIBE_KINDS.filter((kind) => templateIds[kind]).map((kind) => {
    const id = templateIds[kind];
    const consent = byTemplate[id];
    // The server's status (accept | reject | ban | refused) unless the person just answered.
    const status = lastResults[id] || (consent ? consent.status : 'none');
    return {
      kind,
      templateId: id,
      label: i18n.label('kind', kind),
      remaining: consent ? consent.remaining : 0,
      remainingText: i18n.t('settings_remaining', { n: consent ? consent.remaining : 0 }),
      status,
      statusLabel: i18n.label('consent', status),
    };
  });
}

function preferenceRows(document) {
  const rows = {};
  (document.preferences || []).forEach((p) => {
    rows[p.kind] = rows[p.kind] || { kind: p.kind, label: i18n.label('kind', p.kind), channels: [] };
    rows[p.kind].channels.push({ channel: p.channel, label: i18n.label('channel', p.channel), enabled: p.enabled });
  });
  return Object.keys(rows).map((k) => rows[k]);
}

Page({
  data: {
    t: {},
    locale: 'zh-Hans',
    me: null,
    enterprisesText: '',
    wechat: { bound: false, deviceId: null },
    subscriptions: [],
    preferences: [],
    quietEnabled: false,
    quiet: DEFAULT_QUIET,
    busy: false,
  },

  onShow() {
    this.applyLocale();
    i18n.applyTabBar();
    if (!api.isLoggedIn()) {
      wx.reLaunch({ url: api.client().config.loginPage });
      return Promise.resolve();
    }
    this.lastResults = this.lastResults || {};
    return Promise.all([this.loadAccount(), this.loadConsents(), this.loadPreferences()]);
  },

  applyLocale() {
    this.setData({ t: i18n.strings(), locale: i18n.getLocale() });
    i18n.setTitle('settings_title');
  },

  async loadAccount() {
    try {
      const me = api.cachedMe() || await api.me();
      this.setData({ me, enterprisesText: i18n.t('settings_enterprises', { n: (me.enterprises || []).length }) });
    } catch (error) {
      // The page still works without the account card.
    }
  },

  templateIds() {
    return api.client().config.templateIds;
  },

  async loadConsents() {
    try {
      const doc = await api.consents();
      this.setData({
        wechat: { bound: true, deviceId: doc.device_id },
        subscriptions: subscribeRows(this.templateIds(), doc.consents, this.lastResults),
      });
    } catch (error) {
      // 409: WeChat is not bound to this account yet; subscribing binds it.
      this.setData({
        wechat: { bound: false, deviceId: null },
        subscriptions: subscribeRows(this.templateIds(), [], this.lastResults),
      });
      if (error.status !== 409 && error.status !== 401) wx.showToast({ title: view.errorText(error), icon: 'none' });
    }
  },

  async loadPreferences() {
    try {
      this.showPreferences(await api.preferences());
    } catch (error) {
      if (error.status !== 401) wx.showToast({ title: view.errorText(error), icon: 'none' });
    }
  },

  showPreferences(doc) {
    this.setData({
      preferences: preferenceRows(doc),
      quietEnabled: !!doc.quiet_hours,
      quiet: doc.quiet_hours || DEFAULT_QUIET,
    });
  },

  onSelectLocale(e) {
    i18n.setLocale(e.currentTarget.dataset.locale);
    this.applyLocale();
    i18n.applyTabBar();
    this.setData({
      subscriptions: subscribeRows(this.templateIds(), [], this.lastResults),
      preferences: this.data.preferences.map((row) => Object.assign({}, row, {
        label: i18n.label('kind', row.kind),
        channels: row.channels.map((c) => Object.assign({}, c, { label: i18n.label('channel', c.channel) })),
      })),
    });
    return this.loadConsents();
  },

  async onBindWeChat() {
    if (this.data.busy) return;
    this.setData({ busy: true });
    try {
      await api.bindWeChat();
      await this.loadConsents();
    } catch (error) {
      wx.showToast({ title: view.errorText(error), icon: 'none' });
    } finally {
      this.setData({ busy: false });
    }
  },

  async onUnbindWeChat() {
    if (this.data.busy) return;
    this.setData({ busy: true });
    try {
      await api.unbindWeChat();
      await this.loadConsents();
    } catch (error) {
      wx.showToast({ title: view.errorText(error), icon: 'none' });
    } finally {
      this.setData({ busy: false });
    }
  },

  onSubscribeOne(e) {
    return this.subscribe([e.currentTarget.dataset.template]);
  },

  onSubscribeAll() {
    const ids = this.data.subscriptions.map((s) => s.templateId).slice(0, config.MAX_TEMPLATES_PER_REQUEST);
    return this.subscribe(ids);
  },

  /** Must run straight from a tap: WeChat shows the dialog only then. */
  subscribe(tmplIds) {
    return api.requestSubscription(tmplIds).then(({ result, consents }) => {
      tmplIds.forEach((id) => { if (result[id]) this.lastResults[id] = result[id]; });
      if (!consents) return this.loadConsents(); // nothing reported (every template filtered)
      this.setData({
        wechat: { bound: true, deviceId: consents.device_id },
        subscriptions: subscribeRows(this.templateIds(), consents.consents, this.lastResults),
      });
      return undefined;
    }, (error) => {
      wx.showToast({ title: view.errorText(error), icon: 'none' });
    });
  },

  onTogglePreference(e) {
    const kind = e.currentTarget.dataset.kind;
    const channel = e.currentTarget.dataset.channel;
    const enabled = e.detail.value;
    const rows = this.data.preferences.map((row) => (row.kind !== kind ? row : Object.assign({}, row, {
      channels: row.channels.map((c) => (c.channel === channel ? Object.assign({}, c, { enabled }) : c)),
    })));
    this.setData({ preferences: rows });
  },

  onToggleQuiet(e) {
    this.setData({ quietEnabled: e.detail.value });
  },

  onQuietStart(e) {
    this.setData({ 'quiet.start': e.detail.value });
  },

  onQuietEnd(e) {
    this.setData({ 'quiet.end': e.detail.value });
  },

  async onSavePreferences() {
    if (this.data.busy) return;
    const preferences = [];
    this.data.preferences.forEach((row) => row.channels.forEach((c) => {
      preferences.push({ kind: row.kind, channel: c.channel, enabled: c.enabled });
    }));
    const quiet = this.data.quiet;
    this.setData({ busy: true });
    try {
      const doc = await api.savePreferences({
        preferences,
        quiet_hours: this.data.quietEnabled
          ? { start: quiet.start, end: quiet.end, timezone: quiet.timezone || 'Asia/Shanghai' } : null,
      });
      this.showPreferences(doc);
      wx.showToast({ title: i18n.t('common_saved'), icon: 'success' });
    } catch (error) {
      const fields = error.fieldErrors ? error.fieldErrors() : {};
      const first = Object.keys(fields)[0];
      wx.showToast({ title: first ? first + ': ' + fields[first] : view.errorText(error), icon: 'none' });
    } finally {
      this.setData({ busy: false });
    }
  },

  onLogout() {
    return new Promise((resolve) => {
      wx.showModal({
        content: i18n.t('settings_logout_confirm'),
        confirmText: i18n.t('common_confirm'),
        cancelText: i18n.t('common_cancel'),
        success: (res) => {
          if (!res.confirm) return resolve();
          return api.logout().catch(() => null).then(() => {
            wx.reLaunch({ url: api.client().config.loginPage });
            resolve();
          });
        },
      });
    });
  },
});
