/**
 * The pages' logic against the LIVE backend: each page's .js runs under the wx shim with App /
 * Page / getApp defined, lifecycle methods and tap handlers are called as WeChat would, and the
 * page data (what the WXML renders) is checked. WXML rendering itself needs WeChat DevTools.
 */

'use strict';

const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { createWx, installGlobals, loadApp, loadPage } = require('./wx-shim');
const { startBackend, seededPhone } = require('./live-backend');

const ROOT = path.resolve(__dirname, '..');
let backend;
let globals;
let api;

before(async () => {
  backend = await startBackend({ enterprises: 50 });
  globals = installGlobals(createWx());
  loadApp(ROOT, globals);
  api = require('../utils/api');
});

after(async () => {
  if (backend) await backend.stop();
});

/** A fresh phone (storage, WeChat user) with the shared client pointed at the test backend. */
function freshPhone(wxOptions) {
  const wx = createWx(wxOptions);
  globalThis.wx = wx;
  globals.stack.length = 0;
  api.configure({ config: { baseUrl: backend.baseUrl } });
  return wx;
}

async function signedIn(n, wxOptions) {
  const wx = freshPhone(wxOptions);
  await api.loginWithPassword(seededPhone(n), backend.demo.password);
  const me = await api.me();
  return { wx, me, uscc: me.enterprises[0].uscc };
}

function open(route, query) {
  return loadPage(ROOT, route, globals, query);
}

async function waitFor(predicate, what) {
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    if (predicate()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('timed out waiting for ' + what);
}

const tap = (dataset, detail) => ({ currentTarget: { dataset: dataset || {} }, detail: detail || {} });
const lastNavigation = (wx) => wx.__log.navigations[wx.__log.navigations.length - 1];
const posts = (wx, p) => wx.__log.requests.filter((r) => r.method === 'POST' && new URL(r.url).pathname === p);

describe('login page', () => {
  test('phone + password logs in and goes home', async () => {
    const wx = freshPhone();
    const page = open('pages/login/index');
    page.onLoad();
    assert.equal(page.data.t.login_submit, '登录');
    page.onPhoneInput({ detail: { value: seededPhone(1) } });
    page.onPasswordInput({ detail: { value: backend.demo.password } });
    await page.onPasswordLogin();
    assert.equal(page.data.error, '');
    assert.ok(api.isLoggedIn());
    assert.deepEqual(lastNavigation(wx), Object.assign({ kind: 'reLaunch' }, { url: '/pages/home/index' }));
  });

  test('empty fields are flagged without a request; a wrong password shows the server detail', async () => {
    const wx = freshPhone();
    const page = open('pages/login/index');
    page.onLoad();
    await page.onPasswordLogin();
    assert.ok(page.data.fieldErrors.phone && page.data.fieldErrors.password);
    assert.equal(wx.__log.requests.length, 0);
    page.onPhoneInput({ detail: { value: seededPhone(20) } });
    page.onPasswordInput({ detail: { value: 'wrong-password-2' } });
    await page.onPasswordLogin();
    assert.match(page.data.error, /incorrect/);
    assert.equal(api.isLoggedIn(), false);
  });

  test('WeChat first: not bound → phone login binds WeChat → next time one tap', async () => {
    const wx = freshPhone();
    const page = open('pages/login/index');
    page.onLoad();
    await page.onWeChatLogin();
    assert.equal(page.data.bindAfterLogin, true);
    assert.equal(page.data.notice, page.data.t.login_not_bound);
    page.onPhoneInput({ detail: { value: seededPhone(21) } });
    page.onPasswordInput({ detail: { value: backend.demo.password } });
    await page.onPasswordLogin();
    assert.equal(posts(wx, '/v1/me/wechat').length, 1);
    assert.equal(posts(wx, '/v1/me/wechat')[0].status, 200);

    await api.logout();
    const again = open('pages/login/index');
    again.onLoad();
    await again.onWeChatLogin();
    assert.equal(again.data.error, '');
    assert.ok(api.isLoggedIn());
    assert.equal(lastNavigation(wx).url, '/pages/home/index');
  });

  test('the language link switches the page to zh-Hant', () => {
    freshPhone();
    const page = open('pages/login/index');
    page.onLoad();
    page.onToggleLocale();
    assert.equal(page.data.locale, 'zh-Hant');
    assert.equal(page.data.t.login_submit, '登入');
  });
});

describe('home page', () => {
  test('without a session it goes to the login page', async () => {
    const wx = freshPhone();
    const page = open('pages/home/index');
    await page.onShow();
    assert.equal(lastNavigation(wx).url, '/pages/login/index');
  });

  test('profile, badges, pending items, reminders, notices and the tab badge', async () => {
    const { wx, uscc } = await signedIn(1);
    await backend.publishNotice([uscc], { title: '首页未读测试' });
    const page = open('pages/home/index');
    await page.onShow();
    const home = page.data.home;
    assert.equal(page.data.error, '');
    assert.equal(home.enterprise.uscc, uscc);
    assert.ok(home.enterprise.name.length > 0);
    assert.equal(home.badges.length, 5);
    assert.ok(home.unread >= 1);
    assert.ok(home.notices.some((n) => n.title === '首页未读测试'));
    const badge = wx.__log.tabBar.filter((x) => x.kind === 'setTabBarBadge').pop();
    assert.equal(badge.index, 1);
    assert.equal(badge.text, String(home.unread));
    // Showing the page again revalidates with the ETag: a 304, same view.
    await page.onShow();
    const pageCalls = wx.__log.requests.filter((r) => r.url.endsWith('/page'));
    assert.equal(pageCalls[pageCalls.length - 1].status, 304);
    assert.deepEqual(page.data.home, home);
    page.onHide();
  });

  test('live: a notice published while the page is shown appears without a refresh', async () => {
    const { wx, uscc } = await signedIn(27);
    const page = open('pages/home/index');
    await page.onShow();
    const before = page.data.home.unread;
    await waitFor(() => wx.__log.requests.some((r) => r.url.endsWith('/v1/stream') && r.status === 200),
      'the stream');
    await new Promise((r) => setTimeout(r, 300));
    await backend.publishNotice([uscc], { title: '实时到达' });
    await waitFor(() => page.data.home.unread === before + 1, 'the page to update');
    assert.ok(page.data.home.notices.some((n) => n.title === '实时到达'));
    assert.equal(getApp().globalData.noticesDirty, true);
    page.onHide();
    assert.equal(page.live, null, 'the stream is closed when the page hides');
  });

  test('the switcher shows both enterprises and swaps the page', async () => {
    const { me, uscc } = await signedIn(22);
    const other = await backend.otherEnterprise(uscc);
    await backend.addMembership(me.id, other.uscc);
    const page = open('pages/home/index');
    await page.onShow();
    assert.equal(page.data.enterpriseNames.length, 2);
    const index = page.data.enterprises.map((e) => e.uscc).indexOf(other.uscc);
    await page.onSwitchEnterprise({ detail: { value: String(index) } });
    assert.equal(page.data.home.enterprise.uscc, other.uscc);
    assert.equal(page.data.currentIndex, index);
    assert.equal(api.currentEnterprise().uscc, other.uscc);
    assert.equal(getApp().globalData.noticesDirty, true);
    page.onUnload();
  });
});

describe('notices and notice detail', () => {
  test('infinite scroll with the cursor, the unread filter, and read / acknowledge / archive', async () => {
    const { wx, uscc } = await signedIn(23);
    const published = [];
    for (let i = 0; i < 25; i += 1) {
      published.push(await backend.publishNotice([uscc], { title: '列表测试 ' + i, ack_required: i === 24 }));
    }
    const list = open('pages/notices/index');
    await list.onShow();
    assert.equal(list.data.items.length, 20);
    assert.equal(list.data.done, false);
    assert.equal(list.data.unread, 25);
    await Promise.all([list.onReachBottom(), list.onReachBottom()]); // one request for both
    assert.equal(list.data.items.length, 25);
    assert.equal(list.data.done, true);
    assert.equal(new Set(list.data.items.map((n) => n.id)).size, 25);
    const listCalls = wx.__log.requests.filter((r) => new URL(r.url).pathname.endsWith('/notices'));
    assert.equal(listCalls.length, 2);

    const target = published[24];
    assert.equal(list.data.items[0].id, target.id, 'newest first');
    const detail = open('pages/notice-detail/index', { id: String(target.id), uscc });
    await detail.onLoad(detail.options);
    assert.equal(detail.data.notice.read, true, 'read on open');
    assert.equal(posts(wx, '/v1/enterprises/' + uscc + '/notices/' + target.id + '/read').length, 1);
    assert.equal(detail.data.notice.canAcknowledge, true);
    assert.ok(detail.data.notice.html.length > 0);
    assert.ok(detail.data.notice.reasons.length > 0);
    await detail.onAcknowledge();
    assert.equal(detail.data.notice.acknowledged, true);
    assert.equal(detail.data.notice.canAcknowledge, false);
    await detail.onArchive();
    assert.equal(detail.data.notice.archived, true);

    // Back on the list: it reloads because the detail changed things.
    await list.onShow();
    assert.equal(list.data.unread, 24);
    await list.onSelectState(tap({ state: 'archived' }));
    assert.deepEqual(list.data.items.map((n) => n.id), [target.id]);
    await list.onSelectState(tap({ state: 'unread' }));
    assert.equal(list.data.items.length, 20);
    assert.ok(list.data.items.every((n) => !n.read));
  });

  test('a notice that is not there shows the not-found text', async () => {
    const { uscc } = await signedIn(24);
    const detail = open('pages/notice-detail/index', { id: '999999', uscc });
    await detail.onLoad(detail.options);
    assert.equal(detail.data.error, detail.data.t.notice_not_found);
  });
});

describe('policies page', () => {
  test('matched policies with reasons, search, and the guide on tap', async () => {
    const { uscc } = await signedIn(25);
    const policy = await backend.publishPolicy([uscc], { title: '专精特新奖励', benefit_summary: '一次性奖励' });
    const page = open('pages/policies/index');
    await page.onShow();
    const card = page.data.matched.filter((p) => p.id === policy.id)[0];
    assert.ok(card, JSON.stringify(page.data.matched));
    assert.ok(card.reasons.length > 0);
    assert.equal(card.windowLabel.length > 0, true);
    page.onQueryInput({ detail: { value: '专精特新奖励' } });
    await page.onSearch();
    assert.ok(page.data.results.some((p) => p.id === policy.id));
    await page.onToggle(tap({ id: String(policy.id) }));
    assert.equal(page.data.guide.contact, '12345');
    await page.onToggle(tap({ id: String(policy.id) }));
    assert.equal(page.data.openId, null);
  });
});

describe('settings page', () => {
  test('consent per template, preferences and quiet hours, language, logout', async () => {
    const decisions = { 'tpl-notice': 'accept', 'tpl-warning': 'accept', 'tpl-reminder': 'reject' };
    const { wx } = await signedIn(26, { subscribeDecision: (id) => decisions[id] || 'accept' });
    await api.unbindWeChat(); // the seed binds mini-program identities; start unbound
    const page = open('pages/settings/index');
    await page.onShow();
    assert.equal(page.data.wechat.bound, false);
    assert.deepEqual(page.data.subscriptions.map((s) => s.templateId),
      ['tpl-notice', 'tpl-warning', 'tpl-reminder', 'tpl-policy']);
    assert.equal(page.data.preferences.length, 4);
    assert.ok(page.data.preferences.every((row) => row.channels.length === 2));

    await page.onSubscribeAll();
    assert.deepEqual(wx.__log.subscriptions.pop(), ['tpl-notice', 'tpl-warning', 'tpl-reminder']);
    assert.equal(page.data.wechat.bound, true, 'subscribing bound WeChat');
    const rows = {};
    page.data.subscriptions.forEach((s) => { rows[s.templateId] = s; });
    assert.equal(rows['tpl-notice'].remaining, 1);
    assert.equal(rows['tpl-reminder'].status, 'reject');
    await page.onSubscribeOne(tap({ template: 'tpl-policy' }));
    assert.deepEqual(wx.__log.subscriptions.pop(), ['tpl-policy']);

    page.onTogglePreference(tap({ kind: 'policy', channel: 'wechat' }, { value: false }));
    page.onToggleQuiet({ detail: { value: true } });
    page.onQuietStart({ detail: { value: '21:30' } });
    await page.onSavePreferences();
    const saved = await api.preferences();
    assert.equal(saved.preferences.filter((p) => p.kind === 'policy' && p.channel === 'wechat')[0].enabled, false);
    assert.deepEqual(saved.quiet_hours, { start: '21:30', end: '07:00', timezone: 'Asia/Shanghai' });
    assert.equal(page.data.quietEnabled, true);

    await page.onSelectLocale(tap({ locale: 'zh-Hant' }));
    assert.equal(page.data.t.settings_title, '設定');
    assert.equal(page.data.preferences[0].label, '通知');
    assert.ok(wx.__log.tabBar.some((x) => x.kind === 'setTabBarItem' && x.text === '設定'));

    await page.onLogout();
    assert.equal(api.isLoggedIn(), false);
    assert.equal(lastNavigation(wx).url, '/pages/login/index');
  });
});
