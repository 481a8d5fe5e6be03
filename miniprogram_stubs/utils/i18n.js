/**
 * Interface text: Simplified Chinese first, Traditional (zh-Hant) for Qianhai / Hengqin users,
 * chosen on the settings page and kept in local storage.
 *
 * Pages put `strings()` into their data as `t` and write `{{t.home_title}}` in WXML (WXML cannot
 * call functions); JS uses `t('key', {n: 3})`. Codes from the server (zones, matter states,
 * policy windows …) are labelled here with `label(group, code)` so they switch language too.
 * test/static.test.js checks both tables have the same keys and every key a page uses exists.
 */

'use strict';

const STORAGE_KEY = 'entpage.locale';
const LOCALES = ['zh-Hans', 'zh-Hant'];
const DEFAULT_LOCALE = 'zh-Hans';

const STRINGS = {
  'zh-Hans': {
    app_title: '企业专属网页',
    tab_home: '首页',
    tab_notices: '通知',
    tab_policies: '政策',
    tab_settings: '设置',

    common_loading: '加载中…',
    common_retry: '重试',
    common_empty: '暂无内容',
    common_no_more: '没有更多了',
    common_offline: '网络不可用，显示的是上次保存的内容',
    common_error: '出错了',
    common_network_error: '网络连接失败，请稍后再试',
    common_saved: '已保存',
    common_copied: '链接已复制，请在浏览器中打开',
    common_confirm: '确定',
    common_cancel: '取消',
    common_days_left: '剩 {n} 天',
    common_overdue_days: '已逾期 {n} 天',
    common_due_today: '今天到期',

    login_title: '登录',
    login_wechat: '微信一键登录',
    login_or: '或使用手机号登录',
    login_phone: '手机号',
    login_phone_placeholder: '请输入手机号',
    login_password: '密码',
    login_password_placeholder: '请输入密码',
    login_submit: '登录',
    login_busy: '正在登录…',
    login_not_bound: '此微信尚未绑定账号：请先用手机号登录，登录后将自动绑定微信。',
    login_bound: '已绑定微信，下次可一键登录',
    login_failed: '登录失败',
    login_rate_limited: '尝试次数过多，请 {n} 秒后再试',
    login_hint: '企业法定代表人、管理员和员工均可登录，查看本企业的专属网页。',

    home_title: '企业专属网页',
    home_switch: '切换企业',
    home_uscc: '统一社会信用代码',
    home_industry: '行业',
    home_size: '规模',
    home_status: '状态',
    home_credit: '信用等级',
    home_zone: '片区',
    home_action_required: '待办事项',
    home_in_progress: '办理中',
    home_reminders: '到期提醒',
    home_notices: '最新通知',
    home_policies: '可享政策',
    home_see_all: '查看全部',
    home_unread: '{n} 条未读',
    home_policies_open: '{n} 项正在申报',
    home_nothing_pending: '暂无待办事项',
    home_no_reminders: '暂无到期提醒',
    home_no_enterprise: '您的账号尚未关联企业，请联系企业管理员。',
    home_progress: '进度 {n}%',
    home_due: '办理期限 {date}',
    home_as_of: '数据日期 {date}',
    home_legacy_uscc: '旧版代码',

    badge_action_required: '待办',
    badge_in_progress: '办理中',
    badge_reminders_urgent: '紧急提醒',
    badge_notices_unread: '未读通知',
    badge_policies_open: '可申报政策',

    notices_title: '通知公告',
    notices_all: '全部',
    notices_unread: '未读',
    notices_archived: '已归档',
    notices_ack_required: '需确认',
    notices_acknowledged: '已确认',
    notices_corrected: '已更正',
    notices_empty: '暂无通知',

    notice_title: '通知详情',
    notice_department: '发布部门',
    notice_published: '发布时间',
    notice_why: '为什么收到此通知',
    notice_ack: '确认已知悉',
    notice_ack_done: '已确认知悉',
    notice_ack_hint: '此通知要求企业确认已知悉。',
    notice_archive: '归档',
    notice_archived: '已归档',
    notice_action: '前往办理',
    notice_not_found: '通知不存在或已撤回',

    policies_title: '可享政策',
    policies_matched: '为本企业匹配的政策',
    policies_why: '匹配理由',
    policies_empty: '暂无匹配的政策',
    policies_search: '搜索政策库',
    policies_search_placeholder: '输入关键词，如“补贴”',
    policies_results: '政策库搜索结果',
    policies_guide: '申报指南',
    policies_who: '申报对象',
    policies_how: '申报方式',
    policies_contact: '咨询电话',
    policies_closes: '截止 {date}',
    policies_opens: '{date} 开始',
    policies_source: '政策原文',

    settings_title: '设置',
    settings_account: '账号',
    settings_enterprises: '关联企业 {n} 家',
    settings_language: '语言',
    settings_lang_hans: '简体中文',
    settings_lang_hant: '繁體中文',
    settings_wechat: '微信绑定',
    settings_wechat_bound: '已绑定',
    settings_wechat_unbound: '未绑定',
    settings_wechat_bind: '绑定微信',
    settings_wechat_unbind: '解除绑定',
    settings_subscribe: '消息订阅',
    settings_subscribe_hint: '微信每次授权只允许发送一条消息；收到提醒后可再次订阅。',
    settings_subscribe_all: '一键订阅',
    settings_subscribe_one: '订阅',
    settings_remaining: '剩余 {n} 次',
    settings_preferences: '通知偏好',
    settings_quiet_hours: '免打扰时段',
    settings_quiet_hint: '免打扰时段内不推送（紧急预警除外）',
    settings_quiet_from: '开始',
    settings_quiet_to: '结束',
    settings_save: '保存设置',
    settings_logout: '退出登录',
    settings_logout_confirm: '确定退出登录吗？',

    zone_nansha: '南沙',
    zone_qianhai: '前海蛇口',
    zone_hengqin: '横琴',
    zone_other: '其他片区',
    size_large: '大型',
    size_medium: '中型',
    size_small: '小型',
    size_micro: '微型',
    status_active: '存续',
    status_abnormal: '经营异常',
    status_revoked: '吊销',
    status_cancelled: '注销',
    credit_A: 'A级',
    credit_B: 'B级',
    credit_M: 'M级',
    credit_C: 'C级',
    credit_D: 'D级',
    state_submitted: '已提交',
    state_in_review: '审核中',
    state_needs_supplement: '待补正',
    state_approved: '已办结（通过）',
    state_rejected: '未通过',
    state_closed: '已关闭',
    severity_overdue: '已逾期',
    severity_critical: '紧急',
    severity_warning: '临近',
    severity_info: '提示',
    kind_notice: '通知',
    kind_warning: '预警',
    kind_reminder: '提醒',
    kind_policy: '政策',
    priority_urgent: '紧急',
    priority_normal: '普通',
    window_open: '申报中',
    window_upcoming: '即将开始',
    window_closed: '已截止',
    window_always: '长期有效',
    consent_accept: '已订阅',
    consent_reject: '已拒绝',
    consent_ban: '已被屏蔽',
    consent_filter: '已过滤',
    consent_refused: '微信已拒收',
    consent_none: '未订阅',
    channel_wechat: '微信',
    channel_fcm: 'App',
  },
  'zh-Hant': {
    app_title: '企業專屬網頁',
    tab_home: '首頁',
    tab_notices: '通知',
    tab_policies: '政策',
    tab_settings: '設定',

    common_loading: '載入中…',
    common_retry: '重試',
    common_empty: '暫無內容',
    common_no_more: '沒有更多了',
    common_offline: '網絡不可用，顯示的是上次儲存的內容',
    common_error: '出錯了',
    common_network_error: '網絡連線失敗，請稍後再試',
    common_saved: '已儲存',
    common_copied: '連結已複製，請在瀏覽器中開啟',
    common_confirm: '確定',
    common_cancel: '取消',
    common_days_left: '剩 {n} 天',
    common_overdue_days: '已逾期 {n} 天',
    common_due_today: '今天到期',

    login_title: '登入',
    login_wechat: '微信一鍵登入',
    login_or: '或使用手機號碼登入',
    login_phone: '手機號碼',
    login_phone_placeholder: '請輸入手機號碼',
    login_password: '密碼',
    login_password_placeholder: '請輸入密碼',
    login_submit: '登入',
    login_busy: '正在登入…',
    login_not_bound: '此微信尚未綁定帳號：請先用手機號碼登入，登入後將自動綁定微信。',
    login_bound: '已綁定微信，下次可一鍵登入',
    login_failed: '登入失敗',
    login_rate_limited: '嘗試次數過多，請 {n} 秒後再試',
    login_hint: '企業法定代表人、管理員和員工均可登入，查看本企業的專屬網頁。',

    home_title: '企業專屬網頁',
    home_switch: '切換企業',
    home_uscc: '統一社會信用代碼',
    home_industry: '行業',
    home_size: '規模',
    home_status: '狀態',
    home_credit: '信用等級',
    home_zone: '片區',
    home_action_required: '待辦事項',
    home_in_progress: '辦理中',
    home_reminders: '到期提醒',
    home_notices: '最新通知',
    home_policies: '可享政策',
    home_see_all: '查看全部',
    home_unread: '{n} 條未讀',
    home_policies_open: '{n} 項正在申報',
    home_nothing_pending: '暫無待辦事項',
    home_no_reminders: '暫無到期提醒',
    home_no_enterprise: '您的帳號尚未關聯企業，請聯絡企業管理員。',
    home_progress: '進度 {n}%',
    home_due: '辦理期限 {date}',
    home_as_of: '資料日期 {date}',
    home_legacy_uscc: '舊版代碼',

    badge_action_required: '待辦',
    badge_in_progress: '辦理中',
    badge_reminders_urgent: '緊急提醒',
    badge_notices_unread: '未讀通知',
    badge_policies_open: '可申報政策',

    notices_title: '通知公告',
    notices_all: '全部',
    notices_unread: '未讀',
    notices_archived: '已歸檔',
    notices_ack_required: '需確認',
    notices_acknowledged: '已確認',
    notices_corrected: '已更正',
    notices_empty: '暫無通知',

    notice_title: '通知詳情',
    notice_department: '發佈部門',
    notice_published: '發佈時間',
    notice_why: '為甚麼收到此通知',
    notice_ack: '確認已知悉',
    notice_ack_done: '已確認知悉',
    notice_ack_hint: '此通知要求企業確認已知悉。',
    notice_archive: '歸檔',
    notice_archived: '已歸檔',
    notice_action: '前往辦理',
    notice_not_found: '通知不存在或已撤回',

    policies_title: '可享政策',
    policies_matched: '為本企業配對的政策',
    policies_why: '配對理由',
    policies_empty: '暫無配對的政策',
    policies_search: '搜尋政策庫',
    policies_search_placeholder: '輸入關鍵詞，如「補貼」',
    policies_results: '政策庫搜尋結果',
    policies_guide: '申報指南',
    policies_who: '申報對象',
    policies_how: '申報方式',
    policies_contact: '諮詢電話',
    policies_closes: '截止 {date}',
    policies_opens: '{date} 開始',
    policies_source: '政策原文',

    settings_title: '設定',
    settings_account: '帳號',
    settings_enterprises: '關聯企業 {n} 家',
    settings_language: '語言',
    settings_lang_hans: '简体中文',
    settings_lang_hant: '繁體中文',
    settings_wechat: '微信綁定',
    settings_wechat_bound: '已綁定',
    settings_wechat_unbound: '未綁定',
    settings_wechat_bind: '綁定微信',
    settings_wechat_unbind: '解除綁定',
    settings_subscribe: '訊息訂閱',
    settings_subscribe_hint: '微信每次授權只允許發送一條訊息；收到提醒後可再次訂閱。',
    settings_subscribe_all: '一鍵訂閱',
    settings_subscribe_one: '訂閱',
    settings_remaining: '剩餘 {n} 次',
    settings_preferences: '通知偏好',
    settings_quiet_hours: '免打擾時段',
    settings_quiet_hint: '免打擾時段內不推送（緊急預警除外）',
    settings_quiet_from: '開始',
    settings_quiet_to: '結束',
    settings_save: '儲存設定',
    settings_logout: '登出',
    settings_logout_confirm: '確定登出嗎？',

    zone_nansha: '南沙',
    zone_qianhai: '前海蛇口',
    zone_hengqin: '橫琴',
    zone_other: '其他片區',
    size_large: '大型',
    size_medium: '中型',
    size_small: '小型',
    size_micro: '微型',
    status_active: '存續',
    status_abnormal: '經營異常',
    status_revoked: '吊銷',
    status_cancelled: '註銷',
    credit_A: 'A級',
    credit_B: 'B級',
    credit_M: 'M級',
    credit_C: 'C級',
    credit_D: 'D級',
    state_submitted: '已提交',
    state_in_review: '審核中',
    state_needs_supplement: '待補正',
    state_approved: '已辦結（通過）',
    state_rejected: '未通過',
    state_closed: '已關閉',
    severity_overdue: '已逾期',
    severity_critical: '緊急',
    severity_warning: '臨近',
    severity_info: '提示',
    kind_notice: '通知',
    kind_warning: '預警',
    kind_reminder: '提醒',
    kind_policy: '政策',
    priority_urgent: '緊急',
    priority_normal: '普通',
    window_open: '申報中',
    window_upcoming: '即將開始',
    window_closed: '已截止',
    window_always: '長期有效',
    consent_accept: '已訂閱',
    consent_reject: '已拒絕',
    consent_ban: '已被封鎖',
    consent_filter: '已過濾',
    consent_refused: '微信已拒收',
    consent_none: '未訂閱',
    channel_wechat: '微信',
    channel_fcm: 'App',
  },
};

function runtime() {
  // eslint-disable-next-line no-undef
  return typeof wx !== 'undefined' ? wx : null;
}

function getLocale() {
  const w = runtime();
  let stored = null;
  try {
    stored = w ? w.getStorageSync(STORAGE_KEY) : null;
  } catch (e) {
    stored = null;
  }
  return LOCALES.indexOf(stored) >= 0 ? stored : DEFAULT_LOCALE;
}

function setLocale(locale) {
  if (LOCALES.indexOf(locale) < 0) throw new RangeError('unknown locale ' + locale);
  const w = runtime();
  if (w) w.setStorageSync(STORAGE_KEY, locale);
  return locale;
}

function format(text, params) {
  if (!params) return text;
  return text.replace(/{(\w+)}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** The string for `key` in the current (or given) locale, with {placeholders} filled. */
function t(key, params, locale) {
  const table = STRINGS[locale || getLocale()];
  const text = key in table ? table[key] : STRINGS[DEFAULT_LOCALE][key];
  return format(text === undefined ? key : text, params);
}

/** The whole table, for a page's `data.t`. */
function strings(locale) {
  return Object.assign({}, STRINGS[locale || getLocale()]);
}

/** Label for a server code: label('zone', 'nansha') → 南沙; unknown codes pass through. */
function label(group, code, locale) {
  if (code === null || code === undefined) return '';
  const key = group + '_' + code;
  return key in STRINGS[DEFAULT_LOCALE] ? t(key, null, locale) : String(code);
}

/** A server object's text field, preferring `<field>_hant` under zh-Hant when it is set. */
function localized(obj, field, locale) {
  if (!obj) return '';
  if ((locale || getLocale()) === 'zh-Hant' && obj[field + '_hant']) return obj[field + '_hant'];
  return obj[field] || '';
}

const TAB_KEYS = ['tab_home', 'tab_notices', 'tab_policies', 'tab_settings'];

/** Retitle the tab bar (app.json can only hold one language). Call from tab pages' onShow. */
function applyTabBar() {
  const w = runtime();
  if (!w || !w.setTabBarItem) return;
  TAB_KEYS.forEach((key, index) => {
    w.setTabBarItem({ index, text: t(key), fail: () => {} });
  });
}

/** Set the navigation bar title from a key. */
function setTitle(key) {
  const w = runtime();
  if (w && w.setNavigationBarTitle) w.setNavigationBarTitle({ title: t(key), fail: () => {} });
}

module.exports = {
  STRINGS,
  LOCALES,
  DEFAULT_LOCALE,
  STORAGE_KEY,
  TAB_KEYS,
  getLocale,
  setLocale,
  t,
  strings,
  label,
  localized,
  applyTabBar,
  setTitle,
};
