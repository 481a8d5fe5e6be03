/**
 * entpage API client for the mini-program: one `request()` over `wx.request`, problem+json
 * errors as `ApiError`, tokens in `wx` storage with single-flight refresh of the rotating
 * refresh token, and the enterprise page cached behind its ETag.
 *
 * Plain ES2017 CommonJS, no dependencies, no build step. The same file runs in WeChat and under
 * Node's test runner (test/api.test.js), where a small `wx` shim over fetch stands in for the
 * WeChat runtime and a live backend answers.
 *
 * Every call goes through ENDPOINTS (method + path template exactly as the server's
 * /openapi.json names it); the tests check that table against the live server's document, so a
 * renamed or removed route fails the build instead of the front-end team.
 */

'use strict';

const configModule = require('./config');

/** Every backend route this client calls: name → [method, path template]. */
const ENDPOINTS = {
  login: ['POST', '/v1/auth/login'],
  refresh: ['POST', '/v1/auth/refresh'],
  logout: ['POST', '/v1/auth/logout'],
  me: ['GET', '/v1/me'],
  page: ['GET', '/v1/enterprises/{uscc}/page'],
  notices: ['GET', '/v1/enterprises/{uscc}/notices'],
  notice: ['GET', '/v1/enterprises/{uscc}/notices/{notice_id}'],
  noticeRead: ['POST', '/v1/enterprises/{uscc}/notices/{notice_id}/read'],
  noticeAck: ['POST', '/v1/enterprises/{uscc}/notices/{notice_id}/ack'],
  noticeArchive: ['POST', '/v1/enterprises/{uscc}/notices/{notice_id}/archive'],
  policySearch: ['GET', '/v1/policies'],
  policyCategories: ['GET', '/v1/policies/categories'],
  policy: ['GET', '/v1/policies/{policy_id}'],
  // push (issue 4): the mini-program's identity is its WeChat binding
  wechatLogin: ['POST', '/v1/auth/wechat'],
  wechatBind: ['POST', '/v1/me/wechat'],
  wechatUnbind: ['DELETE', '/v1/me/wechat'],
  consents: ['GET', '/v1/me/wechat/consents'],
  consentsReport: ['POST', '/v1/me/wechat/consents'],
  preferences: ['GET', '/v1/me/push-preferences'],
  preferencesPut: ['PUT', '/v1/me/push-preferences'],
  devices: ['GET', '/v1/me/devices'],
  device: ['DELETE', '/v1/me/devices/{device_id}'],
  stream: ['GET', '/v1/stream'],
};

const STORAGE_KEYS = {
  tokens: 'entpage.tokens',
  me: 'entpage.me',
  currentUscc: 'entpage.current_uscc',
  pageIndex: 'entpage.pages',
  pagePrefix: 'entpage.page.',
  locale: 'entpage.locale',
  wechatDevice: 'entpage.wechat_device_id',
};

const PROBLEM_PREFIX = '/problems/';
// Client-side failures get their own `type`s so they are never mistaken for server problems.
const CLIENT_TYPES = {
  network: 'client:network-error',
  timeout: 'client:timeout',
  notLoggedIn: 'client:not-logged-in',
  wxLogin: 'client:wx-login-failed',
  subscribe: 'client:subscribe-failed',
  badResponse: 'client:bad-response',
};

class ApiError extends Error {
  /**
   * @param {{status:number,type?:string,title?:string,detail?:string,field?:string,
   *          errors?:Array<{field:string,reason:string,code:string}>,instance?:string,
   *          retryAfter?:number|null,body?:any}} init
   */
  constructor(init) {
    super(init.detail || init.title || ('HTTP ' + init.status));
    this.name = 'ApiError';
    this.status = init.status;
    this.type = init.type || 'about:blank';
    this.title = init.title || '';
    this.detail = init.detail || '';
    this.field = init.field || null;
    this.errors = Array.isArray(init.errors) ? init.errors : [];
    this.instance = init.instance || null;
    this.retryAfter = init.retryAfter == null ? null : init.retryAfter;
    this.body = init.body === undefined ? null : init.body;
  }

  /** The stable code: `/problems/validation-failed` → `validation-failed`. */
  get code() {
    if (this.type.indexOf(PROBLEM_PREFIX) === 0) return this.type.slice(PROBLEM_PREFIX.length);
    if (this.type.indexOf('client:') === 0) return this.type.slice('client:'.length);
    return this.type;
  }

  /** The request never got an HTTP answer (offline, DNS, TLS, timeout). */
  get isNetworkError() {
    return this.type === CLIENT_TYPES.network || this.type === CLIENT_TYPES.timeout;
  }

  /** `{field: reason}` for forms: the first reason per field (`licences/0/expires_on`). */
  fieldErrors() {
    const out = {};
    this.errors.forEach((e) => {
      if (e && e.field && !(e.field in out)) out[e.field] = e.reason;
    });
    if (this.field && !(this.field in out)) out[this.field] = this.detail;
    return out;
  }
}

function headerValue(headers, name) {
  if (!headers) return null;
  const wanted = name.toLowerCase();
  const keys = Object.keys(headers);
  for (let i = 0; i < keys.length; i += 1) {
    if (keys[i].toLowerCase() === wanted) return headers[keys[i]];
  }
  return null;
}

function parseBody(res) {
  const raw = res.data;
  if (raw == null || raw === '') return null;
  if (typeof raw !== 'string') return raw; // already parsed (a runtime that ignored dataType)
  try {
    return JSON.parse(raw);
  } catch (e) {
    return raw;
  }
}

/** A non-2xx response as an ApiError: problem+json when the server sent it, else a summary. */
function toApiError(res) {
  const body = parseBody(res);
  const retryRaw = headerValue(res.header, 'Retry-After');
  const retryAfter = retryRaw != null && /^\d+$/.test(String(retryRaw)) ? Number(retryRaw) : null;
  if (body && typeof body === 'object' && typeof body.type === 'string') {
    return new ApiError({
      status: res.statusCode,
      type: body.type,
      title: body.title,
      detail: body.detail,
      field: body.field,
      errors: body.errors,
      instance: body.instance,
      retryAfter,
      body,
    });
  }
  const text = typeof body === 'string' ? body.slice(0, 200) : '';
  return new ApiError({
    status: res.statusCode,
    type: CLIENT_TYPES.badResponse,
    title: 'HTTP ' + res.statusCode,
    detail: text || ('The server answered HTTP ' + res.statusCode + ' without a problem document.'),
    retryAfter,
    body,
  });
}

function networkError(err) {
  const message = (err && err.errMsg) || String(err);
  const timedOut = /timeout|timed out/i.test(message);
  return new ApiError({
    status: 0,
    type: timedOut ? CLIENT_TYPES.timeout : CLIENT_TYPES.network,
    title: timedOut ? 'Request timed out' : 'Network error',
    detail: message,
  });
}

/** `/v1/enterprises/{uscc}/page` + {uscc} → `/v1/enterprises/9135…/page`. */
function expandPath(template, params) {
  return template.replace(/{([a-z_]+)}/g, (_, name) => {
    const value = params ? params[name] : undefined;
    if (value === undefined || value === null || value === '') {
      throw new TypeError('missing path parameter ' + name + ' for ' + template);
    }
    return encodeURIComponent(String(value));
  });
}

function queryString(query) {
  if (!query) return '';
  const parts = [];
  Object.keys(query).forEach((key) => {
    const value = query[key];
    if (value === undefined || value === null || value === '') return;
    parts.push(encodeURIComponent(key) + '=' + encodeURIComponent(String(value)));
  });
  return parts.length ? '?' + parts.join('&') : '';
}

// What the person decided in the consent dialog. 'filter' (the platform filtered the template)
// is no decision of theirs and is not reported.
const CONSENT_DECISIONS = ['accept', 'reject', 'ban'];

/**
 * The part of a wx.requestSubscribeMessage result ({errMsg, <tmplId>: 'accept' | 'reject' |
 * 'ban' | 'filter'}) the backend records: {<tmplId>: decision}, decisions only.
 */
function consentResults(subscribeResult) {
  const out = {};
  Object.keys(subscribeResult || {}).forEach((id) => {
    if (id !== 'errMsg' && CONSENT_DECISIONS.indexOf(subscribeResult[id]) >= 0) {
      out[id] = subscribeResult[id];
    }
  });
  return out;
}

// ------------------------------------------------------------ live stream (SSE) plumbing

/**
 * A streaming UTF-8 decoder for ArrayBuffer chunks (TextDecoder is missing from some WeChat
 * runtimes): a character split across two chunks is held back until its last byte arrives.
 */
function createUtf8Decoder() {
  let pending = [];
  return {
    decode(buffer) {
      const bytes = pending.concat(Array.prototype.slice.call(new Uint8Array(buffer)));
      let out = '';
      let i = 0;
      while (i < bytes.length) {
        const b = bytes[i];
        let need = 0;
        let cp = 0;
        if (b < 0x80) { cp = b; need = 0; }
        else if (b >= 0xf0) { cp = b & 0x07; need = 3; }
        else if (b >= 0xe0) { cp = b & 0x0f; need = 2; }
        else if (b >= 0xc0) { cp = b & 0x1f; need = 1; }
        else { out += '\ufffd'; i += 1; continue; } // stray continuation byte
        let ok = true;
        const available = Math.min(need, bytes.length - 1 - i);
        for (let k = 1; k <= available; k += 1) {
          const c = bytes[i + k];
          if ((c & 0xc0) !== 0x80) { ok = false; break; }
          cp = (cp << 6) | (c & 0x3f);
        }
        if (ok && available < need) break; // incomplete character: wait for the next chunk
        if (!ok) { out += '\ufffd'; i += 1; continue; }
        if (cp > 0xffff) {
          cp -= 0x10000;
          out += String.fromCharCode(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
        } else {
          out += String.fromCharCode(cp);
        }
        i += need + 1;
      }
      pending = bytes.slice(i);
      return out;
    },
  };
}

/**
 * A Server-Sent Events parser (the WHATWG algorithm): push text as it arrives; `onEvent` gets
 * {type, data, id} per dispatched event; `lastEventId` advances with heartbeats too.
 */
function createSseParser(onEvent) {
  let buffer = '';
  let type = '';
  let data = '';
  let idBuffer = null;
  const state = { lastEventId: null, retryMs: null };

  function dispatch() {
    if (idBuffer !== null) state.lastEventId = idBuffer;
    if (data === '') { type = ''; return; }
    const event = { type: type || 'message', data: data.slice(0, -1), id: state.lastEventId };
    type = '';
    data = '';
    onEvent(event);
  }

  function line(text) {
    if (text === '') { dispatch(); return; }
    if (text[0] === ':') return;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'event') type = value;
    else if (field === 'data') data += value + '\n';
    else if (field === 'id' && value.indexOf('\u0000') < 0) idBuffer = value;
    else if (field === 'retry' && /^\d+$/.test(value)) state.retryMs = Number(value);
  }

  return {
    state,
    push(text) {
      buffer += text;
      const re = /\r\n|\r|\n/g;
      let start = 0;
      let m;
      while ((m = re.exec(buffer)) !== null) {
        // A lone '\r' at the very end may be the first half of '\r\n': wait for more.
        if (m[0] === '\r' && m.index === buffer.length - 1) break;
        line(buffer.slice(start, m.index));
        start = m.index + m[0].length;
      }
      buffer = buffer.slice(start);
    },
  };
}

/**
 * A client bound to one `wx` runtime. In the mini-program use the module-level functions (one
 * shared client, so the single-flight refresh covers every page); tests create their own.
 *
 * options: wx (default: the global), config (overrides for config.resolve), onAuthLost(error)
 * (default: wx.reLaunch to the login page), now() (ms clock).
 */
function createClient(options) {
  const opts = options || {};
  const cfg = configModule.resolve(opts.config);
  const now = opts.now || (() => Date.now());
  let refreshing = null; // the one refresh in flight, shared by every caller
  let reLaunching = false;
  const pageMeta = {};

  function runtime() {
    // eslint-disable-next-line no-undef
    const found = opts.wx || (typeof wx !== 'undefined' ? wx : null);
    if (!found) throw new Error('entpage api: no wx runtime');
    return found;
  }

  // --- storage -------------------------------------------------------------------------
  function load(key) {
    try {
      const value = runtime().getStorageSync(key);
      return value === '' || value === undefined ? null : value;
    } catch (e) {
      return null;
    }
  }

  function store(key, value) {
    try {
      runtime().setStorageSync(key, value);
    } catch (e) {
      // Storage full or unavailable: the client still works, only without persistence.
    }
  }

  function forget(key) {
    try {
      runtime().removeStorageSync(key);
    } catch (e) {
      // nothing to do
    }
  }

  function tokens() {
    const t = load(STORAGE_KEYS.tokens);
    return t && t.access_token ? t : null;
  }

  function saveTokens(pair) {
    store(STORAGE_KEYS.tokens, {
      access_token: pair.access_token,
      refresh_token: pair.refresh_token,
      token_type: pair.token_type || 'Bearer',
      expires_at: now() + Number(pair.expires_in || 0) * 1000,
    });
  }

  function clearPages() {
    const index = load(STORAGE_KEYS.pageIndex) || [];
    index.forEach((uscc) => forget(STORAGE_KEYS.pagePrefix + uscc));
    forget(STORAGE_KEYS.pageIndex);
    Object.keys(pageMeta).forEach((k) => delete pageMeta[k]);
  }

  function clearSession() {
    forget(STORAGE_KEYS.tokens);
    forget(STORAGE_KEYS.me);
    clearPages();
  }

  // --- transport -----------------------------------------------------------------------
  function locale() {
    return load(STORAGE_KEYS.locale) || 'zh-Hans';
  }

  /** One wx.request; resolves with the raw response for any status, rejects on network failure. */
  function rawRequest(spec, accessToken) {
    return new Promise((resolve, reject) => {
      const header = Object.assign({
        Accept: 'application/json, application/problem+json',
        'Accept-Language': locale(),
      }, spec.headers || {});
      if (spec.body !== undefined) header['Content-Type'] = 'application/json';
      if (accessToken) header.Authorization = 'Bearer ' + accessToken;
      const request = {
        url: cfg.baseUrl.replace(/\/+$/, '') + spec.path + queryString(spec.query),
        method: spec.method,
        header,
        // Parse ourselves: an empty 304/204 body or an HTML error page must not throw in wx.
        dataType: 'text',
        responseType: 'text',
        timeout: cfg.timeoutMs,
        success: resolve,
        fail: (err) => reject(networkError(err)),
      };
      if (spec.body !== undefined) request.data = JSON.stringify(spec.body);
      runtime().request(request);
    });
  }

  function authLost(error) {
    clearSession();
    if (opts.onAuthLost) {
      opts.onAuthLost(error);
      return;
    }
    if (reLaunching) return;
    reLaunching = true;
    const wxr = runtime();
    const pages = typeof getCurrentPages === 'function' ? getCurrentPages() : []; // eslint-disable-line no-undef
    const top = pages.length ? pages[pages.length - 1] : null;
    if (top && ('/' + top.route) === cfg.loginPage) {
      reLaunching = false;
      return;
    }
    wxr.reLaunch({
      url: cfg.loginPage,
      complete: () => { reLaunching = false; },
    });
  }

  /**
   * Rotate the refresh token, once for everybody: concurrent callers share the same promise,
   * because presenting a refresh token twice makes the server revoke the whole login.
   * Resolves with the new access token. If the server refuses the refresh token the session
   * is over: tokens are cleared and the user is sent to the login page.
   */
  function refreshSession() {
    if (refreshing) return refreshing;
    refreshing = (async () => {
      const current = tokens();
      if (!current || !current.refresh_token) {
        const error = new ApiError({ status: 401, type: CLIENT_TYPES.notLoggedIn,
          title: 'Not logged in', detail: 'No refresh token is stored; log in.' });
        authLost(error);
        throw error;
      }
      // A network failure leaves the tokens alone: the refresh token is still good.
      const res = await rawRequest({
        method: ENDPOINTS.refresh[0], path: ENDPOINTS.refresh[1],
        body: { refresh_token: current.refresh_token },
      });
      if (res.statusCode === 200) {
        const pair = parseBody(res);
        saveTokens(pair);
        return pair.access_token;
      }
      const error = toApiError(res);
      if (res.statusCode === 401 || res.statusCode === 422 || res.statusCode === 400) {
        authLost(error);
      }
      throw error;
    })();
    const clear = () => { refreshing = null; };
    refreshing.then(clear, clear);
    return refreshing;
  }

  async function accessToken() {
    const current = tokens();
    if (!current) {
      const error = new ApiError({ status: 401, type: CLIENT_TYPES.notLoggedIn,
        title: 'Not logged in', detail: 'Log in first.' });
      authLost(error);
      throw error;
    }
    if (refreshing) return refreshing;
    if (typeof current.expires_at === 'number'
        && now() >= current.expires_at - cfg.refreshSkewS * 1000) {
      return refreshSession();
    }
    return current.access_token;
  }

  /**
   * Send a request; with `auth` (the default) attach the access token, and on a 401 refresh it
   * once and retry once. Resolves with the raw response (any status); rejects with ApiError on
   * network failure or when the session cannot be renewed.
   */
  async function send(spec) {
    if (spec.auth === false) return rawRequest(spec, null);
    const token = await accessToken();
    let res = await rawRequest(spec, token);
    if (res.statusCode !== 401) return res;
    const current = tokens();
    // Another call already renewed the token while this one was in flight: just retry.
    const renewed = current && current.access_token !== token && !refreshing
      ? current.access_token
      : await refreshSession();
    res = await rawRequest(spec, renewed);
    if (res.statusCode === 401) {
      const error = toApiError(res);
      authLost(error);
      throw error;
    }
    return res;
  }

  /** The general-purpose call: JSON in, JSON out, ApiError for anything but 2xx. */
  async function request(method, path, options2) {
    const o = options2 || {};
    const res = await send({ method, path, query: o.query, body: o.body, headers: o.headers,
      auth: o.auth });
    if (res.statusCode >= 200 && res.statusCode < 300) return parseBody(res);
    throw toApiError(res);
  }

  function call(name, params, options2) {
    const endpoint = ENDPOINTS[name];
    if (!endpoint) throw new TypeError('unknown endpoint ' + name);
    return request(endpoint[0], expandPath(endpoint[1], params), options2);
  }

  // --- accounts ------------------------------------------------------------------------
  async function loginWithPassword(phone, password) {
    const pair = await call('login', null, { body: { phone, password }, auth: false });
    clearSession();
    saveTokens(pair);
    return pair;
  }

  /** A fresh wx.login() code (valid 5 minutes, usable once). */
  function wxLoginCode() {
    return new Promise((resolve, reject) => {
      runtime().login({
        success: (res) => (res && res.code ? resolve(res.code) : reject(new ApiError({
          status: 0, type: CLIENT_TYPES.wxLogin, title: 'wx.login failed',
          detail: (res && res.errMsg) || 'no code' }))),
        fail: (err) => reject(new ApiError({ status: 0, type: CLIENT_TYPES.wxLogin,
          title: 'wx.login failed', detail: (err && err.errMsg) || String(err) })),
      });
    });
  }

  /**
   * One-tap login: wx.login() → POST /v1/auth/wechat {code}; the server exchanges the code
   * through jscode2session. A WeChat user not bound to an account gets ApiError 401 with code
   * 'wechat-not-bound': log in with the phone number, then bindWeChat().
   */
  async function loginWithWeChat() {
    const code = await wxLoginCode();
    const pair = await call('wechatLogin', null, { body: { code }, auth: false });
    clearSession();
    saveTokens(pair);
    return pair;
  }

  /** Bind this WeChat user to the logged-in person: one-tap login and subscription messages. */
  async function bindWeChat() {
    const code = await wxLoginCode();
    const result = await call('wechatBind', null, { body: { code } });
    if (result && result.device_id) store(STORAGE_KEYS.wechatDevice, result.device_id);
    return result;
  }

  async function unbindWeChat() {
    await call('wechatUnbind');
    forget(STORAGE_KEYS.wechatDevice);
  }

  /**
   * Log out: this mini-program's device stops receiving messages (it comes back with the next
   * WeChat login or binding), the refresh token's login is revoked, local state is dropped.
   * Never fails for the user: local state is cleared whatever the network says.
   */
  async function logout() {
    const current = tokens();
    const deviceId = load(STORAGE_KEYS.wechatDevice);
    try {
      if (current && deviceId) {
        await call('device', { device_id: deviceId }).catch(() => null);
      }
      if (current && current.refresh_token) {
        await call('logout', null, { body: { refresh_token: current.refresh_token }, auth: false });
      }
    } finally {
      clearSession();
      forget(STORAGE_KEYS.currentUscc);
      forget(STORAGE_KEYS.wechatDevice);
    }
  }

  function isLoggedIn() {
    return tokens() !== null;
  }

  async function me() {
    const who = await call('me');
    store(STORAGE_KEYS.me, who);
    return who;
  }

  function cachedMe() {
    return load(STORAGE_KEYS.me);
  }

  /** The enterprise the person is looking at: the stored choice if still a membership. */
  function currentEnterprise(who) {
    const person = who || cachedMe();
    const list = (person && person.enterprises) || [];
    const chosen = load(STORAGE_KEYS.currentUscc);
    const found = list.filter((e) => e.uscc === chosen)[0];
    return found || list[0] || null;
  }

  function setCurrentEnterprise(uscc) {
    store(STORAGE_KEYS.currentUscc, uscc);
  }

  // --- the enterprise page (ETag + local cache) ----------------------------------------
  function readPage(uscc) {
    return load(STORAGE_KEYS.pagePrefix + uscc);
  }

  function writePage(uscc, entry) {
    store(STORAGE_KEYS.pagePrefix + uscc, entry);
    const index = (load(STORAGE_KEYS.pageIndex) || []).filter((u) => u !== uscc);
    index.unshift(uscc);
    index.slice(cfg.pageCacheEntries).forEach((u) => forget(STORAGE_KEYS.pagePrefix + u));
    store(STORAGE_KEYS.pageIndex, index.slice(0, cfg.pageCacheEntries));
  }

  /**
   * The enterprise page. Sends If-None-Match with the cached ETag; on 304 returns the cached
   * page. With `allowStale` (default) a network failure returns the cached page if there is
   * one. `pageInfo(uscc).source` says which: 'network', 'not-modified' or 'stale'.
   */
  async function getPage(uscc, options2) {
    const o = options2 || {};
    const path = expandPath(ENDPOINTS.page[1], { uscc });
    const cached = o.force ? null : readPage(uscc);
    const headers = cached && cached.etag ? { 'If-None-Match': cached.etag } : {};
    let res;
    try {
      res = await send({ method: 'GET', path, headers });
    } catch (error) {
      if (error.isNetworkError && cached && o.allowStale !== false) {
        pageMeta[uscc] = { source: 'stale', etag: cached.etag, fetched_at: cached.fetched_at };
        return cached.page;
      }
      throw error;
    }
    if (res.statusCode === 304) {
      if (!cached) return getPage(uscc, { force: true, allowStale: o.allowStale });
      pageMeta[uscc] = { source: 'not-modified', etag: cached.etag, fetched_at: now() };
      return cached.page;
    }
    if (res.statusCode !== 200) throw toApiError(res);
    const page = parseBody(res);
    const etag = headerValue(res.header, 'ETag');
    if (etag) writePage(uscc, { etag, page, fetched_at: now() });
    pageMeta[uscc] = { source: 'network', etag, fetched_at: now() };
    return page;
  }

  function pageInfo(uscc) {
    return pageMeta[uscc] || null;
  }

  // --- notices -------------------------------------------------------------------------
  /** {items, next_cursor, unread}; unread first, then newest. state: all | unread | archived. */
  function listNotices(uscc, query) {
    const q = query || {};
    return call('notices', { uscc }, { query: { state: q.state, cursor: q.cursor, limit: q.limit } });
  }

  function getNotice(uscc, noticeId) {
    return call('notice', { uscc, notice_id: noticeId });
  }

  function markNoticeRead(uscc, noticeId) {
    return call('noticeRead', { uscc, notice_id: noticeId });
  }

  function acknowledgeNotice(uscc, noticeId) {
    return call('noticeAck', { uscc, notice_id: noticeId });
  }

  function archiveNotice(uscc, noticeId) {
    return call('noticeArchive', { uscc, notice_id: noticeId });
  }

  // --- policies ------------------------------------------------------------------------
  /** Matched policies with their reasons: the page's `policies` section (cached by ETag). */
  async function matchedPolicies(uscc) {
    const page = await getPage(uscc);
    return (page && page.policies) || { items: [] };
  }

  /** Public policy search: {q, category, department, open, cursor, limit}. */
  function searchPolicies(query) {
    return call('policySearch', null, { query: query || {}, auth: false });
  }

  function policyCategories() {
    return call('policyCategories', null, { auth: false });
  }

  function getPolicy(policyId) {
    return call('policy', { policy_id: policyId }, { auth: false });
  }

  // --- push: devices, subscription consent, preferences --------------------------------
  /** The person's devices: app installations (fcm) and mini-program identities (wechat). */
  async function listDevices() {
    return (await call('devices')).items;
  }

  function unregisterDevice(deviceId) {
    return call('device', { device_id: deviceId });
  }

  function rememberDevice(doc) {
    if (doc && doc.device_id) store(STORAGE_KEYS.wechatDevice, doc.device_id);
    return doc;
  }

  /**
   * Subscription credits per template: {device_id, templates: {kind: template id},
   * consents: [{template_id, remaining, status, accepted_total, consumed_total}]}.
   * ApiError 409 when WeChat is not bound yet.
   */
  async function consents() {
    return rememberDevice(await call('consents'));
  }

  /**
   * Report a wx.requestSubscribeMessage result as it came back; each 'accept' allows one more
   * message for that template. Returns the updated consents document, or null when the result
   * holds no decision to report (every template filtered).
   */
  async function reportConsents(subscribeResult, deviceId) {
    const results = consentResults(subscribeResult);
    if (!Object.keys(results).length) return null;
    const body = { results };
    const device = deviceId || load(STORAGE_KEYS.wechatDevice);
    if (device) body.device_id = device;
    return rememberDevice(await call('consentsReport', null, { body }));
  }

  /**
   * Ask for consent and report it, in one step. Must be called straight from a tap handler
   * (WeChat shows the dialog only then); at most 3 template ids per call.
   */
  function requestSubscription(tmplIds) {
    return new Promise((resolve, reject) => {
      // Called synchronously: anything awaited before this would lose the tap gesture.
      runtime().requestSubscribeMessage({
        tmplIds,
        success: (result) => resolve(reportOrBind(result).then((doc) => ({ result, consents: doc }))),
        fail: (err) => reject(new ApiError({ status: 0, type: CLIENT_TYPES.subscribe,
          title: 'requestSubscribeMessage failed', detail: (err && err.errMsg) || String(err) })),
      });
    });
  }

  /** Report; when the server says WeChat is not bound (409), bind it and report again. */
  async function reportOrBind(result) {
    try {
      return await reportConsents(result);
    } catch (error) {
      if (error.status !== 409) throw error;
      forget(STORAGE_KEYS.wechatDevice);
      const bound = await bindWeChat();
      return reportConsents(result, bound.device_id);
    }
  }

  /** {preferences: [{kind, channel, enabled}], quiet_hours: {start, end, timezone} | null}. */
  function preferences() {
    return call('preferences');
  }

  /** Change switches and/or quiet hours (`quiet_hours: null` turns them off). */
  function savePreferences(changes) {
    return call('preferencesPut', null, { body: changes });
  }

  // --- live stream ---------------------------------------------------------------------
  /**
   * GET /v1/stream as Server-Sent Events over wx.request's chunked mode: new notices, badge
   * counts (with the page's ETag) and resync hints for every enterprise of the person.
   * `onEvent({type, data, id})` gets 'notice', 'badges', 'resync' and anything else the server
   * sends, with `data` parsed from JSON. Reconnects with Last-Event-ID (the server replays what
   * was missed), renews the token when the server says it expired, backs off on errors and
   * honours Retry-After on 429. Returns {close(), lastEventId()}; close it when the page hides.
   */
  function openStream(handlers) {
    const h = handlers || {};
    let closed = false;
    let task = null;
    let timer = null;
    let failures = 0;
    let lastEventId = h.lastEventId || null;
    let serverRetryMs = null;

    function emit(event) {
      let data = event.data;
      try {
        data = JSON.parse(event.data);
      } catch (e) {
        // not JSON: pass the text on
      }
      if (h.onEvent) h.onEvent({ type: event.type, data, id: event.id });
    }

    function schedule(delayMs) {
      if (closed) return;
      timer = setTimeout(() => { timer = null; connect(); }, delayMs);
    }

    function backoffMs() {
      const base = serverRetryMs || cfg.streamRetryMs;
      const exp = Math.min(cfg.streamMaxRetryMs, base * Math.pow(2, Math.max(0, failures - 1)));
      return Math.round(exp * (0.75 + Math.random() * 0.5)); // jitter: no thundering herd
    }

    async function connect() {
      if (closed) return;
      let token;
      try {
        token = await accessToken();
      } catch (error) {
        closed = true; // no session: api.js is already sending the user to the login page
        if (h.onError) h.onError(error);
        return;
      }
      if (closed) return;
      const decoder = createUtf8Decoder();
      let renew = false;
      let status = null;
      const parser = createSseParser((event) => {
        failures = 0;
        if (event.type === 'token-expired' || event.type === 'session-ended') renew = true;
        emit(event);
      });
      const header = { Accept: 'text/event-stream', Authorization: 'Bearer ' + token };
      if (lastEventId) header['Last-Event-ID'] = lastEventId;
      let finished = false;
      const finish = (res) => {
        if (finished) return;
        finished = true;
        task = null;
        if (parser.state.lastEventId) lastEventId = parser.state.lastEventId;
        if (parser.state.retryMs) serverRetryMs = parser.state.retryMs;
        if (closed) return;
        const code = res ? res.statusCode : 0;
        if (code === 401 || renew) {
          refreshSession().then(() => schedule(0), (error) => {
            closed = true;
            if (h.onError) h.onError(error);
          });
          return;
        }
        failures += 1;
        const retryAfter = res ? headerValue(res.header, 'Retry-After') : null;
        if (code === 429 && retryAfter && /^\d+$/.test(String(retryAfter))) {
          schedule(Number(retryAfter) * 1000);
        } else {
          schedule(code >= 200 && code < 300 && failures === 1 ? 0 : backoffMs());
        }
      };
      task = runtime().request({
        url: cfg.baseUrl.replace(/\/+$/, '') + ENDPOINTS.stream[1],
        method: 'GET',
        header,
        enableChunked: true,
        responseType: 'arraybuffer',
        dataType: 'other',
        timeout: cfg.streamTimeoutMs,
        success: finish,
        fail: () => finish(null),
      });
      if (task && task.onHeadersReceived) {
        task.onHeadersReceived((res) => { if (res && res.statusCode) status = res.statusCode; });
      }
      if (task && task.onChunkReceived) {
        task.onChunkReceived((res) => {
          const text = decoder.decode(res.data);
          if (status === null || status < 300) parser.push(text);
          if (parser.state.lastEventId) lastEventId = parser.state.lastEventId;
        });
      }
    }

    connect();
    return {
      close() {
        closed = true;
        if (timer) clearTimeout(timer);
        if (task && task.abort) task.abort();
        task = null;
      },
      lastEventId: () => lastEventId,
    };
  }

  return {
    config: cfg,
    request,
    call,
    // session
    loginWithPassword,
    loginWithWeChat,
    bindWeChat,
    unbindWeChat,
    logout,
    isLoggedIn,
    refreshSession,
    tokens,
    me,
    cachedMe,
    currentEnterprise,
    setCurrentEnterprise,
    // page
    getPage,
    pageInfo,
    clearPageCache: clearPages,
    // notices
    listNotices,
    getNotice,
    markNoticeRead,
    acknowledgeNotice,
    archiveNotice,
    // policies
    matchedPolicies,
    searchPolicies,
    policyCategories,
    getPolicy,
    // push
    listDevices,
    unregisterDevice,
    consents,
    reportConsents,
    requestSubscription,
    preferences,
    savePreferences,
    // live stream
    openStream,
  };
}

let shared = null;

/** The app-wide client (one per mini-program, so one refresh at a time for every page). */
function client() {
  if (!shared) shared = createClient();
  return shared;
}

/**
 * Replace the app-wide client, e.g. `api.configure({config: {baseUrl: '…'}})` from app.js for
 * a staging server, or from the tests to point the pages at the live test backend.
 */
function configure(options) {
  shared = createClient(options);
  return shared;
}

const api = {
  ApiError,
  ENDPOINTS,
  STORAGE_KEYS,
  CLIENT_TYPES,
  createClient,
  client,
  configure,
  expandPath,
  consentResults,
  toApiError,
  createUtf8Decoder,
  createSseParser,
};

// Module-level shortcuts to the shared client (`api.getPage(uscc)` in pages), one per client
// function, taken from a client built without touching any runtime.
Object.keys(createClient()).forEach((name) => {
  if (name === 'config') return;
  api[name] = function shortcut() {
    const c = client();
    return c[name].apply(c, arguments);
  };
});

module.exports = api;
