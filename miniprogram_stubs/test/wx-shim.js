/**
 * A small stand-in for the WeChat mini-program runtime, enough to run utils/api.js and the
 * pages' logic under Node (>= 18: global fetch, node:test):
 *
 *  - wx.request over fetch, with WeChat's semantics: callbacks (success for ANY HTTP status,
 *    fail only for transport errors, `errMsg: 'request:fail …'`), `data` serialised to JSON
 *    (or to the query string for GET), `dataType: 'json'` parsing, `res.header`, `timeout`;
 *  - synchronous storage that, like WeChat, stores a JSON copy and returns '' for a missing key;
 *  - wx.login answering a fresh code the fake WeChat server accepts (or the queued ones);
 *  - wx.requestSubscribeMessage answering per template from a decision function;
 *  - navigation, toasts, tab bar and the rest recorded in `wx.__log` instead of drawn;
 *  - `loadApp()` / `loadPage()`: run app.js and a page's .js with `App`, `Page`, `getApp` and
 *    `getCurrentPages` defined, returning an instance whose `setData` updates `data`.
 *
 * Every request is recorded in `wx.__log.requests` ({method, url, headers, status}) so tests
 * can count, for example, how many refreshes were sent.
 *
 * Run directly under the test runner, this file tests itself against a local HTTP server.
 */

'use strict';

const path = require('node:path');

function createWx(options) {
  const opts = options || {};
  const storage = new Map();
  const log = { requests: [], navigations: [], toasts: [], modals: [], tabBar: [], titles: [],
    logins: [], subscriptions: [] };
  const loginCodes = [];
  let loginCounter = 0;
  // One shim is one WeChat user. The fake WeChat server derives the openid from the code, so a
  // stable code per shim plays the same user on every wx.login (real codes differ each time and
  // map to the same openid; the fake does not enforce single use).
  const wechatUser = opts.wechatUser || ('shim-user-' + process.pid + '-'
    + Math.random().toString(36).slice(2, 10));
  const fetchImpl = opts.fetch || globalThis.fetch;

  function later(fn, arg) {
    if (typeof fn === 'function') setImmediate(() => fn(arg));
  }

  function finish(o, ok, result) {
    if (ok) later(o.success, result);
    else later(o.fail, result);
    later(o.complete, result);
  }

  function request(o) {
    const controller = new AbortController();
    const method = (o.method || 'GET').toUpperCase();
    const headers = Object.assign({}, o.header || {});
    const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
    let url = o.url;
    let body;
    if (o.data !== undefined && o.data !== null) {
      if (method === 'GET') {
        if (typeof o.data === 'object') {
          const qs = new URLSearchParams(o.data).toString();
          if (qs) url += (url.indexOf('?') >= 0 ? '&' : '?') + qs;
        } else {
          url += (url.indexOf('?') >= 0 ? '&' : '?') + String(o.data);
        }
      } else if (typeof o.data === 'string') {
        body = o.data;
      } else {
        body = JSON.stringify(o.data);
      }
    }
    if (body !== undefined && !hasType) headers['content-type'] = 'application/json';
    const entry = { method, url, headers, status: null, at: Date.now() };
    log.requests.push(entry);
    const timeoutMs = o.timeout || 60000;
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; controller.abort(); }, timeoutMs);
    const task = { abort: () => controller.abort() };
    const chunkListeners = [];
    const headerListeners = [];
    // enableChunked (base library >= 2.20.2): the body arrives through onChunkReceived as
    // ArrayBuffers while the response is still open; success fires when it ends.
    task.onHeadersReceived = (fn) => headerListeners.push(fn);
    task.offHeadersReceived = (fn) => headerListeners.splice(headerListeners.indexOf(fn) >>> 0, 1);
    task.onChunkReceived = (fn) => chunkListeners.push(fn);
    task.offChunkReceived = (fn) => chunkListeners.splice(chunkListeners.indexOf(fn) >>> 0, 1);
    fetchImpl(url, { method, headers, body, signal: controller.signal, redirect: 'follow' })
      .then(async (res) => {
        const header = {};
        res.headers.forEach((value, key) => { header[key] = value; });
        entry.status = res.status;
        if (o.enableChunked) {
          headerListeners.forEach((fn) => fn({ header, statusCode: res.status, cookies: [] }));
          const reader = res.body.getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            const chunk = value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
            chunkListeners.slice().forEach((fn) => fn({ data: chunk }));
          }
          clearTimeout(timer);
          finish(o, true, { data: new ArrayBuffer(0), statusCode: res.status, header, cookies: [],
            errMsg: 'request:ok' });
          return;
        }
        const text = await res.text();
        clearTimeout(timer);
        let data = text;
        if ((o.dataType || 'json') === 'json' && text) {
          try {
            data = JSON.parse(text);
          } catch (e) {
            data = text;
          }
        }
        finish(o, true, { data, statusCode: res.status, header, cookies: [],
          errMsg: 'request:ok' });
      })
      .catch((err) => {
        clearTimeout(timer);
        if (entry.status === null) entry.status = 0;
        const reason = timedOut ? 'timeout' : (controller.signal.aborted ? 'abort'
          : (err && err.cause && err.cause.code) || (err && err.message) || String(err));
        finish(o, false, { errMsg: 'request:fail ' + reason, errno: 600001 });
      });
    return task;
  }

  function getStorageSync(key) {
    if (typeof key !== 'string' || !key) throw new Error('getStorageSync:fail parameter error');
    return storage.has(key) ? JSON.parse(storage.get(key)) : '';
  }

  function setStorageSync(key, value) {
    if (typeof key !== 'string' || !key) throw new Error('setStorageSync:fail parameter error');
    const text = JSON.stringify(value === undefined ? null : value);
    if (text.length > 1024 * 1024) throw new Error('setStorageSync:fail exceed max size 1MB');
    storage.set(key, text);
  }

  function removeStorageSync(key) {
    storage.delete(key);
  }

  function clearStorageSync() {
    storage.clear();
  }

  function getStorageInfoSync() {
    let size = 0;
    storage.forEach((v) => { size += v.length; });
    return { keys: Array.from(storage.keys()), currentSize: Math.ceil(size / 1024),
      limitSize: 10240 };
  }

  function login(o) {
    loginCounter += 1;
    const code = loginCodes.length ? loginCodes.shift()
      : (opts.loginCode ? opts.loginCode(loginCounter) : wechatUser);
    log.logins.push(code);
    finish(o || {}, true, { code, errMsg: 'login:ok' });
  }

  function requestSubscribeMessage(o) {
    const ids = (o && o.tmplIds) || [];
    log.subscriptions.push(ids.slice());
    if (!ids.length || ids.length > 3) {
      finish(o, false, { errMsg: 'requestSubscribeMessage:fail invalid tmplIds', errCode: 20001 });
      return;
    }
    const decide = opts.subscribeDecision || (() => 'accept');
    const result = { errMsg: 'requestSubscribeMessage:ok' };
    ids.forEach((id) => { result[id] = decide(id); });
    finish(o, true, result);
  }

  function recorder(bucket, kind) {
    return function record(o) {
      log[bucket].push(Object.assign({ kind }, o || {}));
      finish(o || {}, true, { errMsg: kind + ':ok' });
    };
  }

  function showModal(o) {
    log.modals.push(o);
    const confirm = opts.modalConfirm === undefined ? true : opts.modalConfirm;
    finish(o, true, { confirm, cancel: !confirm, errMsg: 'showModal:ok' });
  }

  const wx = {
    request,
    getStorageSync,
    setStorageSync,
    removeStorageSync,
    clearStorageSync,
    getStorageInfoSync,
    login,
    requestSubscribeMessage,
    showModal,
    reLaunch: recorder('navigations', 'reLaunch'),
    redirectTo: recorder('navigations', 'redirectTo'),
    navigateTo: recorder('navigations', 'navigateTo'),
    navigateBack: recorder('navigations', 'navigateBack'),
    switchTab: recorder('navigations', 'switchTab'),
    showToast: recorder('toasts', 'showToast'),
    showLoading: recorder('toasts', 'showLoading'),
    hideLoading: recorder('toasts', 'hideLoading'),
    setNavigationBarTitle: recorder('titles', 'setNavigationBarTitle'),
    setTabBarItem: recorder('tabBar', 'setTabBarItem'),
    setTabBarBadge: recorder('tabBar', 'setTabBarBadge'),
    removeTabBarBadge: recorder('tabBar', 'removeTabBarBadge'),
    stopPullDownRefresh: recorder('toasts', 'stopPullDownRefresh'),
    setClipboardData: recorder('toasts', 'setClipboardData'),
    getAccountInfoSync: () => ({ miniProgram: { appId: opts.appId || 'wx-entpage-demo',
      envVersion: opts.envVersion || 'develop', version: '' } }),
    getWindowInfo: () => ({ windowWidth: 375, windowHeight: 667, pixelRatio: 2 }),
    getSystemInfoSync: () => ({ windowWidth: 375, windowHeight: 667, pixelRatio: 2,
      platform: 'devtools', language: 'zh_CN', SDKVersion: '3.4.0' }),
    __log: log,
    __storage: storage,
    __wechatUser: wechatUser,
    /** Queue codes for the next wx.login calls (e.g. 'bad-code' → 40029 from the fake). */
    __queueLoginCode: (code) => loginCodes.push(code),
  };
  return wx;
}

// ------------------------------------------------------------------------ App / Page harness

function setPath(target, key, value) {
  // 'a.b[2].c' → target.a.b[2].c = value, creating objects along the way, like WeChat.
  const parts = key.replace(/\[(\d+)\]/g, '.$1').split('.');
  let node = target;
  for (let i = 0; i < parts.length - 1; i += 1) {
    if (node[parts[i]] === undefined || node[parts[i]] === null) {
      node[parts[i]] = /^\d+$/.test(parts[i + 1]) ? [] : {};
    }
    node = node[parts[i]];
  }
  node[parts[parts.length - 1]] = value;
}

function instantiate(definition, route) {
  const instance = { route, options: {} };
  Object.keys(definition).forEach((key) => {
    if (key !== 'data') instance[key] = definition[key];
  });
  instance.data = JSON.parse(JSON.stringify(definition.data || {}));
  instance.setData = function setData(patch, callback) {
    Object.keys(patch).forEach((key) => {
      // WeChat copies data through JSON: functions and undefined do not survive.
      const value = patch[key] === undefined ? undefined : JSON.parse(JSON.stringify(patch[key]));
      setPath(instance.data, key, value);
    });
    if (typeof callback === 'function') callback();
  };
  Object.keys(instance).forEach((key) => {
    if (typeof instance[key] === 'function' && key !== 'setData') {
      instance[key] = instance[key].bind(instance);
    }
  });
  return instance;
}

/** Install the globals a mini-program module expects. Returns a handle to reset them. */
function installGlobals(wx) {
  const stack = [];
  let app = null;
  globalThis.wx = wx;
  globalThis.getApp = () => app;
  globalThis.getCurrentPages = () => stack.slice();
  return {
    stack,
    setApp(a) { app = a; },
    get app() { return app; },
  };
}

function freshRequire(file) {
  const resolved = require.resolve(file);
  delete require.cache[resolved];
  return require(resolved);
}

/** Run app.js: returns the App instance (with globalData) and makes getApp() return it. */
function loadApp(root, globals) {
  let definition = null;
  globalThis.App = (def) => { definition = def; };
  freshRequire(path.join(root, 'app.js'));
  const app = instantiate(definition, 'app');
  globals.setApp(app);
  return app;
}

/** Run a page module (e.g. 'pages/home/index'): returns its instance on top of the page stack. */
function loadPage(root, route, globals, query) {
  let definition = null;
  globalThis.Page = (def) => { definition = def; };
  freshRequire(path.join(root, route + '.js'));
  if (!definition) throw new Error(route + '.js did not call Page()');
  const page = instantiate(definition, route);
  page.options = query || {};
  globals.stack.push(page);
  return page;
}

module.exports = { createWx, installGlobals, loadApp, loadPage, setPath };

// --------------------------------------------------------------------------- self-test
if (require.main === module) {
  const test = require('node:test');
  const assert = require('node:assert/strict');
  const http = require('node:http');

  test('wx shim follows wx.request, storage and login semantics', async (t) => {
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        if (req.url.startsWith('/slow')) return; // never answers
        const status = req.url.startsWith('/404') ? 404 : 200;
        res.writeHead(status, { 'content-type': 'application/json', ETag: '"x"' });
        res.end(JSON.stringify({ method: req.method, url: req.url, body,
          type: req.headers['content-type'] || null }));
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => { server.closeAllConnections(); server.close(); });
    const base = 'http://127.0.0.1:' + server.address().port;
    const wx = createWx();
    const call = (o) => new Promise((resolve) => {
      wx.request(Object.assign({}, o, { success: (r) => resolve(['ok', r]),
        fail: (e) => resolve(['fail', e]) }));
    });

    const [kind1, get] = await call({ url: base + '/a', data: { q: '中文', n: 1 } });
    assert.equal(kind1, 'ok');
    assert.equal(get.data.url, '/a?q=%E4%B8%AD%E6%96%87&n=1');
    assert.equal(get.header.etag, '"x"');

    const [, post] = await call({ url: base + '/b', method: 'POST', data: { a: 1 } });
    assert.deepEqual([post.data.body, post.data.type], ['{"a":1}', 'application/json']);

    const [, notFound] = await call({ url: base + '/404', dataType: 'text' });
    assert.equal(notFound.statusCode, 404, 'HTTP errors still call success');
    assert.equal(typeof notFound.data, 'string', "dataType 'text' leaves the body unparsed");

    const [kind4, slow] = await call({ url: base + '/slow', timeout: 100 });
    assert.equal(kind4, 'fail');
    assert.match(slow.errMsg, /^request:fail timeout/);

    const [kind5, refused] = await call({ url: 'http://127.0.0.1:1/' });
    assert.equal(kind5, 'fail');
    assert.match(refused.errMsg, /^request:fail /);

    assert.equal(wx.getStorageSync('missing'), '');
    const value = { a: [1, 2] };
    wx.setStorageSync('k', value);
    value.a.push(3);
    assert.deepEqual(wx.getStorageSync('k'), { a: [1, 2] }, 'storage keeps a copy');

    wx.__queueLoginCode('bad-1');
    const codes = await Promise.all([1, 2].map(() => new Promise((r) => wx.login({
      success: (res) => r(res.code) }))));
    assert.equal(codes[0], 'bad-1');
    assert.match(codes[1], /^shim-user-/);
  });

  test('setData paths behave like WeChat', () => {
    const data = { list: [{ a: 1 }] };
    setPath(data, 'list[0].a', 2);
    setPath(data, 'x.y', 3);
    assert.deepEqual(data, { list: [{ a: 2 }], x: { y: 3 } });
  });
}
