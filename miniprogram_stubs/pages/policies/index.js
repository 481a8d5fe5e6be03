/**
 * Policies matched to the current enterprise, each with the reasons it qualifies, plus a search
 * of the public policy library. Tapping a policy opens its application guide.
 */

const api = require('../../utils/api');
const i18n = require('../../utils/i18n');
const view = require('../../utils/view');

Page({
  data: {
    t: {},
    uscc: '',
    matched: [],
    loading: true,
    error: '',
    query: '',
    results: null,
    openId: null,
    guide: null,
  },

  onShow() {
    this.setData({ t: i18n.strings() });
    i18n.setTitle('policies_title');
    i18n.applyTabBar();
    if (!api.isLoggedIn()) {
      wx.reLaunch({ url: api.client().config.loginPage });
      return Promise.resolve();
    }
    return this.load();
  },

  onPullDownRefresh() {
    return this.load().then(() => wx.stopPullDownRefresh());
  },

  async load() {
    const current = api.currentEnterprise();
    if (!current) {
      this.setData({ loading: false, matched: [] });
      return;
    }
    try {
      const section = await api.matchedPolicies(current.uscc);
      this.setData({
        uscc: current.uscc,
        matched: (section.items || []).map(view.policyView),
        loading: false,
        error: '',
      });
    } catch (error) {
      if (error.status === 401) return;
      this.setData({ loading: false, error: view.errorText(error) });
    }
  },

  onQueryInput(e) {
    this.setData({ query: e.detail.value });
  },

  async onSearch() {
    const q = this.data.query.trim();
    if (!q) {
      this.setData({ results: null });
      return;
    }
    try {
      const page = await api.searchPolicies({ q, limit: 20 });
      this.setData({ results: page.items.map(view.policyView) });
    } catch (error) {
      wx.showToast({ title: view.errorText(error), icon: 'none' });
    }
  },

  async onToggle(e) {
    const id = Number(e.currentTarget.dataset.id);
    if (this.data.openId === id) {
      this.setData({ openId: null, guide: null });
      return;
    }
    this.setData({ openId: id, guide: null });
    try {
      const policy = view.policyView(await api.getPolicy(id));
      if (this.data.openId === id) this.setData({ guide: policy.guide });
    } catch (error) {
      wx.showToast({ title: view.errorText(error), icon: 'none' });
    }
  },

  onCopySource(e) {
    const url = e.currentTarget.dataset.url;
    if (!url) return;
    wx.setClipboardData({ data: url, success: () => wx.showToast({ title: i18n.t('common_copied'), icon: 'none' }) });
  },
});
