/**
 * Login: WeChat first (wx.login → backend /v1/auth/wechat → jscode2session on the server), phone
 * + password as the fallback. A WeChat user not bound yet logs in with the phone number once;
 * the WeChat identity is then bound (POST /v1/me/wechat with a fresh wx.login code) so the next
 * login is one tap.
 */

const api = require('../../utils/api');
const i18n = require('../../utils/i18n');
const view = require('../../utils/view');
const config = require('../../utils/config');

Page({
  data: {
    t: {},
    locale: 'zh-Hans',
    phone: '',
    password: '',
    busy: false,
    error: '',
    notice: '',
    fieldErrors: {},
    bindAfterLogin: false,
  },

  onLoad() {
    this.applyLocale();
    if (api.isLoggedIn()) return this.goHome();
    return undefined;
  },

  applyLocale() {
    this.setData({ t: i18n.strings(), locale: i18n.getLocale() });
    i18n.setTitle('login_title');
  },

  onToggleLocale() {
    i18n.setLocale(i18n.getLocale() === 'zh-Hans' ? 'zh-Hant' : 'zh-Hans');
    this.applyLocale();
  },

  onPhoneInput(e) {
    this.setData({ phone: e.detail.value, 'fieldErrors.phone': '' });
  },

  onPasswordInput(e) {
    this.setData({ password: e.detail.value, 'fieldErrors.password': '' });
  },

  async onWeChatLogin() {
    if (this.data.busy) return;
    this.setData({ busy: true, error: '', notice: '' });
    try {
      await api.loginWithWeChat();
      this.goHome();
    } catch (error) {
      if (error.code === 'wechat-not-bound') {
        this.setData({ bindAfterLogin: true, notice: i18n.t('login_not_bound') });
      } else {
        this.showError(error);
      }
    } finally {
      this.setData({ busy: false });
    }
  },

  async onPasswordLogin() {
    if (this.data.busy) return;
    const phone = this.data.phone.trim();
    const password = this.data.password;
    const missing = {};
    if (!phone) missing.phone = i18n.t('login_phone_placeholder');
    if (!password) missing.password = i18n.t('login_password_placeholder');
    if (Object.keys(missing).length) {
      this.setData({ fieldErrors: missing });
      return;
    }
    this.setData({ busy: true, error: '', fieldErrors: {} });
    try {
      await api.loginWithPassword(phone, password);
      if (this.data.bindAfterLogin) await this.bindWeChat();
      this.goHome();
    } catch (error) {
      this.showError(error);
    } finally {
      this.setData({ busy: false });
    }
  },

  async bindWeChat() {
    try {
      await api.bindWeChat();
      wx.showToast({ title: i18n.t('login_bound'), icon: 'none' });
    } catch (error) {
      // Binding is a convenience: a failure must not block the login that just succeeded.
    }
  },

  showError(error) {
    if (error.status === 422) {
      this.setData({ fieldErrors: error.fieldErrors(), error: view.errorText(error) });
    } else if (error.status === 429) {
      this.setData({ error: i18n.t('login_rate_limited', { n: error.retryAfter || 60 }) });
    } else {
      this.setData({ error: view.errorText(error) || i18n.t('login_failed') });
    }
  },

  goHome() {
    wx.reLaunch({ url: config.resolve().homePage });
  },
});
