/**
 * The enterprise's notices: unread first, then newest, 20 at a time following the server's
 * cursor (infinite scroll), filtered by all / unread / archived.
 */

const api = require('../../utils/api');
const i18n = require('../../utils/i18n');
const view = require('../../utils/view');

const PAGE_SIZE = 20;
const STATES = ['all', 'unread', 'archived'];

Page({
  data: {
    t: {},
    uscc: '',
    state: 'all',
    states: STATES,
    items: [],
    cursor: null,
    done: false,
    loading: false,
    unread: 0,
    error: '',
  },

  onShow() {
    this.setData({ t: i18n.strings() });
    i18n.setTitle('notices_title');
    i18n.applyTabBar();
    if (!api.isLoggedIn()) {
      wx.reLaunch({ url: api.client().config.loginPage });
      return Promise.resolve();
    }
    const app = getApp();
    const current = api.currentEnterprise();
    const uscc = current ? current.uscc : '';
    if (!this.data.items.length || uscc !== this.data.uscc || app.globalData.noticesDirty) {
      app.globalData.noticesDirty = false;
      this.setData({ uscc });
      return this.reload();
    }
    return Promise.resolve();
  },

  onPullDownRefresh() {
    return this.reload().then(() => wx.stopPullDownRefresh());
  },

  onReachBottom() {
    return this.loadMore();
  },

  onSelectState(e) {
    const state = e.currentTarget.dataset.state;
    if (state === this.data.state) return Promise.resolve();
    this.setData({ state });
    return this.reload();
  },

  reload() {
    this.setData({ items: [], cursor: null, done: false, error: '' });
    this.generation = (this.generation || 0) + 1;
    this.inFlight = null;
    return this.loadMore();
  },

  /** One page at a time; a reload in between discards a late answer for the old list. */
  loadMore() {
    if (this.data.done || !this.data.uscc) return Promise.resolve();
    if (this.inFlight) return this.inFlight;
    const generation = this.generation;
    this.setData({ loading: true });
    this.inFlight = api.listNotices(this.data.uscc, {
      state: this.data.state, cursor: this.data.cursor, limit: PAGE_SIZE,
    }).then((page) => {
      if (generation !== this.generation) return;
      const start = this.data.items.length;
      const patch = {
        cursor: page.next_cursor,
        done: !page.next_cursor,
        unread: page.unread || 0,
        loading: false,
      };
      // Append with path keys: only the new items cross to the view layer.
      page.items.forEach((item, i) => { patch['items[' + (start + i) + ']'] = view.noticeItemView(item); });
      this.setData(patch);
    }, (error) => {
      if (generation !== this.generation) return;
      this.setData({ loading: false, error: error.status === 401 ? '' : view.errorText(error) });
    }).then(() => {
      if (generation === this.generation) this.inFlight = null;
    });
    return this.inFlight;
  },

  onOpen(e) {
    const id = e.currentTarget.dataset.id;
    wx.navigateTo({ url: '/pages/notice-detail/index?id=' + id + '&uscc=' + this.data.uscc });
  },
});
