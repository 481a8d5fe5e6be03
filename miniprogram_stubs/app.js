/**
 * The mini-program: pages check the session themselves (utils/api.js sends anyone whose login
 * has ended to pages/login), so launching stays instant even offline.
 */

const api = require('./utils/api');

App({
  globalData: {
    // Set by notice-detail when it changes a notice, so the list and the page reload on show.
    noticesDirty: false,
  },

  onLaunch() {
    // Nothing to fetch up front: home renders from the cached page first, then revalidates.
    this.globalData.loggedIn = api.isLoggedIn();
  },

  markNoticesDirty() {
    this.globalData.noticesDirty = true;
  },
});
