/**
 * The enterprise page: profile summary, badges, pending matters, reminders, the latest notices and
 * matched policies, with an enterprise switcher for people in several enterprises. Renders the
 * cached page at once, then revalidates it with If-None-Match (a 304 costs almost nothing).
 * While shown it listens to the live stream: a `badges` event whose ETag differs from the page
 * held re-fetches it, so new notices appear within a second.
 */

const api = require('../../utils/api');
const i18n = require('../../utils/i18n');
const view = require('../../utils/view');

Page({
  data: {
    t: {},
    loading: true,
    error: '',
    stale: false,
    noEnterprise: false,
    enterprises: [],
    enterpriseNames: [],
    currentIndex: 0,
    home: null,
  },

  onShow() {
    this.setData({ t: i18n.strings() });
    i18n.setTitle('home_title');
    i18n.applyTabBar();
    if (!api.isLoggedIn()) {
      wx.reLaunch({ url: api.client().config.loginPage });
      return Promise.resolve();
    }
    return this.load();
  },

  onHide() {
    this.stopLive();
  },

  onUnload() {
    this.stopLive();
  },

  startLive() {
    if (this.live) return;
    this.live = api.openStream({ onEvent: (event) => this.onLiveEvent(event) });
  },

  stopLive() {
    if (this.live) this.live.close();
    this.live = null;
  },

  onLiveEvent(event) {
    const home = this.data.home;
    const uscc = home && home.enterprise.uscc;
    if (!uscc) return Promise.resolve();
    if (event.type === 'notice') getApp().markNoticesDirty();
    const info = api.pageInfo(uscc) || {};
    const changed = event.type === 'badges' && event.data && event.data.uscc === uscc
      && event.data.etag !== info.etag;
    if (changed || event.type === 'resync') {
      return this.showPage(uscc).catch(() => null);
    }
    return Promise.resolve();
  },

  onPullDownRefresh() {
    return this.load().then(() => wx.stopPullDownRefresh());
  },

  async load() {
    try {
      const cachedMe = api.cachedMe();
      if (cachedMe) this.showEnterprises(cachedMe);
      const me = await api.me();
      this.showEnterprises(me);
      const current = api.currentEnterprise(me);
      if (!current) {
        this.setData({ loading: false, noEnterprise: true, home: null });
        return;
      }
      await this.showPage(current.uscc);
      this.startLive();
    } catch (error) {
      if (error.status === 401) return; // api.js is already taking the user to the login page
      this.setData({ loading: false, error: view.errorText(error) });
    }
  },

  showEnterprises(me) {
    const list = me.enterprises || [];
    const current = api.currentEnterprise(me);
    const index = current ? list.map((e) => e.uscc).indexOf(current.uscc) : 0;
    this.setData({
      enterprises: list,
      enterpriseNames: list.map((e) => e.name),
      currentIndex: index < 0 ? 0 : index,
      noEnterprise: list.length === 0,
    });
  },

  async showPage(uscc) {
    const page = await api.getPage(uscc);
    const info = api.pageInfo(uscc) || {};
    const home = view.homeView(page);
    this.setData({ home, loading: false, error: '', stale: info.source === 'stale' });
    if (home.unread > 0) {
      wx.setTabBarBadge({ index: 1, text: home.unread > 99 ? '99+' : String(home.unread), fail: () => {} });
    } else {
      wx.removeTabBarBadge({ index: 1, fail: () => {} });
    }
  },

  async onSwitchEnterprise(e) {
    const index = Number(e.detail.value);
    const chosen = this.data.enterprises[index];
    if (!chosen) return;
    api.setCurrentEnterprise(chosen.uscc);
    getApp().markNoticesDirty();
    this.setData({ currentIndex: index, loading: true });
    try {
      await this.showPage(chosen.uscc);
    } catch (error) {
      this.setData({ loading: false, error: view.errorText(error) });
    }
  },

  onOpenNotice(e) {
    const id = e.currentTarget.dataset.id;
    const uscc = this.data.home.enterprise.uscc;
    wx.navigateTo({ url: '/pages/notice-detail/index?id=' + id + '&uscc=' + uscc });
  },

  onAllNotices() {
    wx.switchTab({ url: '/pages/notices/index' });
  },

  onAllPolicies() {
    wx.switchTab({ url: '/pages/policies/index' });
  },

  onCopyLink(e) {
    const url = e.currentTarget.dataset.url;
    if (!url) return;
    // Government service sites are not business domains of the mini-program: hand the link over.
    wx.setClipboardData({ data: url, success: () => wx.showToast({ title: i18n.t('common_copied'), icon: 'none' }) });
  },

  onRetry() {
    this.setData({ loading: true, error: '' });
    return this.load();
  },
});
