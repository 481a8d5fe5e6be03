/**
 * One notice: marked read when opened, with the reasons the enterprise received it, an
 * acknowledge button when the publisher asked for acknowledgement, and archive.
 */

const api = require('../../utils/api');
const i18n = require('../../utils/i18n');
const view = require('../../utils/view');

Page({
  data: {
    t: {},
    uscc: '',
    id: null,
    notice: null,
    loading: true,
    busy: false,
    error: '',
  },

  onLoad(query) {
    this.setData({ t: i18n.strings(), uscc: query.uscc || '', id: Number(query.id) });
    i18n.setTitle('notice_title');
    return this.load();
  },

  async load() {
    const { uscc, id } = this.data;
    try {
      let notice = await api.getNotice(uscc, id);
      this.show(notice);
      if (!notice.read) {
        notice = await api.markNoticeRead(uscc, id);
        getApp().markNoticesDirty();
        this.show(notice);
      }
    } catch (error) {
      if (error.status === 401) return;
      this.setData({
        loading: false,
        error: error.status === 404 ? i18n.t('notice_not_found') : view.errorText(error),
      });
    }
  },

  show(notice) {
    this.setData({ notice: view.noticeDetailView(notice), loading: false, error: '' });
  },

  async onAcknowledge() {
    if (this.data.busy) return;
    this.setData({ busy: true });
    try {
      this.show(await api.acknowledgeNotice(this.data.uscc, this.data.id));
      getApp().markNoticesDirty();
      wx.showToast({ title: i18n.t('notice_ack_done'), icon: 'success' });
    } catch (error) {
      wx.showToast({ title: view.errorText(error), icon: 'none' });
    } finally {
      this.setData({ busy: false });
    }
  },

  async onArchive() {
    if (this.data.busy) return;
    this.setData({ busy: true });
    try {
      this.show(await api.archiveNotice(this.data.uscc, this.data.id));
      getApp().markNoticesDirty();
      wx.showToast({ title: i18n.t('notice_archived'), icon: 'success' });
    } catch (error) {
      wx.showToast({ title: view.errorText(error), icon: 'none' });
    } finally {
      this.setData({ busy: false });
    }
  },

  onCopyAction() {
    const url = this.data.notice && this.data.notice.actionUrl;
    if (!url) return;
    wx.setClipboardData({ data: url, success: () => wx.showToast({ title: i18n.t('common_copied'), icon: 'none' }) });
  },
});
