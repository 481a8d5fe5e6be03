/**
 * Client configuration. Everything here ships inside the mini-program package and is readable
 * by anyone who unpacks it, so it holds NO secrets: the AppSecret and every server credential
 * stay on the backend (ENTPAGE_WECHAT_SECRET), which alone calls jscode2session and the
 * subscription-message API. Template ids are public identifiers, not credentials.
 *
 * Per environment (WeChat's envVersion: develop / trial / release) set the API base URL and the
 * subscription-message template ids (公众平台 → 订阅消息 → 我的模板). The backend must send with
 * the same ids (ENTPAGE_WECHAT_TEMPLATES, `kind=template_id,…`); the tests compare the develop
 * ids with what the live backend reports.
 */

// The backend's defaults (push/config.py) and what the fake WeChat server accepts.
const DEVELOP_TEMPLATES = {
  notice: 'tpl-notice', // 新通知提醒
  warning: 'tpl-warning', // 预警提醒
  reminder: 'tpl-reminder', // 办理期限提醒
  policy: 'tpl-policy', // 政策匹配提醒
};

const ENVIRONMENTS = {
  // WeChat DevTools with 「不校验合法域名」 ticked; `make run` serves the API on :8000.
  develop: {
    baseUrl: 'http://127.0.0.1:8000',
    templateIds: DEVELOP_TEMPLATES,
  },
  // 体验版 and 正式版 need an HTTPS domain listed under 「request合法域名」 and the real ids.
  trial: {
    baseUrl: 'https://entpage-staging.example.gov.cn',
    templateIds: {
      notice: 'REPLACE_WITH_NOTICE_TEMPLATE_ID',
      warning: 'REPLACE_WITH_WARNING_TEMPLATE_ID',
      reminder: 'REPLACE_WITH_REMINDER_TEMPLATE_ID',
      policy: 'REPLACE_WITH_POLICY_TEMPLATE_ID',
    },
  },
  release: {
    baseUrl: 'https://entpage.example.gov.cn',
    templateIds: {
      notice: 'REPLACE_WITH_NOTICE_TEMPLATE_ID',
      warning: 'REPLACE_WITH_WARNING_TEMPLATE_ID',
      reminder: 'REPLACE_WITH_REMINDER_TEMPLATE_ID',
      policy: 'REPLACE_WITH_POLICY_TEMPLATE_ID',
    },
  },
};

// The kinds a person can subscribe to, in the order the settings page lists them.
// One wx.requestSubscribeMessage call may ask for at most 3 templates.
const SUBSCRIBE_KINDS = ['notice', 'warning', 'reminder', 'policy'];
const MAX_TEMPLATES_PER_REQUEST = 3;

function envVersion() {
  try {
    // eslint-disable-next-line no-undef
    const runtime = typeof wx !== 'undefined' ? wx : null;
    const info = runtime && runtime.getAccountInfoSync ? runtime.getAccountInfoSync() : null;
    return (info && info.miniProgram && info.miniProgram.envVersion) || 'develop';
  } catch (e) {
    return 'develop';
  }
}

/** The configuration for the running environment, with optional overrides (tests). */
function resolve(overrides) {
  const env = (overrides && overrides.env) || envVersion();
  const base = ENVIRONMENTS[env] || ENVIRONMENTS.develop;
  return Object.assign({
    env,
    baseUrl: base.baseUrl,
    templateIds: Object.assign({}, base.templateIds),
    timeoutMs: 15000,
    // Renew the access token this many seconds before it expires instead of waiting for a 401.
    refreshSkewS: 30,
    // Enterprise pages kept for offline display and If-None-Match.
    pageCacheEntries: 8,
    // Live stream: first reconnect delay (the server's `retry:` wins), cap, and how long one
    // wx.request may stay open (the server ends it when the access token expires anyway).
    streamRetryMs: 3000,
    streamMaxRetryMs: 60000,
    streamTimeoutMs: 20 * 60 * 1000,
    loginPage: '/pages/login/index',
    homePage: '/pages/home/index',
  }, overrides || {});
}

module.exports = {
  ENVIRONMENTS,
  DEVELOP_TEMPLATES,
  SUBSCRIBE_KINDS,
  MAX_TEMPLATES_PER_REQUEST,
  resolve,
};
