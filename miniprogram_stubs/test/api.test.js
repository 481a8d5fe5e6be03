/**
 * utils/api.js end to end against a LIVE backend (started here: fake WeChat + fake FCM +
 * `entpage migrate/seed/serve` on a temporary embedded database), through the wx shim.
 *
 *   node --test miniprogram_stubs/test/
 */

'use strict';

const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');

const { createWx } = require('./wx-shim');
const { startBackend, seededPhone } = require('./live-backend');
const apiModule = require('../utils/api');

const { ApiError, ENDPOINTS, createClient } = apiModule;

let backend;

before(async () => {
  backend = await startBackend({ enterprises: 50 });
});

after(async () => {
  if (backend) await backend.stop();
});

// ------------------------------------------------------------------------------- helpers

function newClient(extra) {
  const o = extra || {};
  const wx = o.wx || createWx(o.wxOptions);
  const client = createClient({
    wx,
    config: Object.assign({ baseUrl: o.baseUrl || backend.baseUrl }, o.config || {}),
    onAuthLost: o.onAuthLost,
    now: o.now,
  });
  return { wx, client };
}

async function loggedIn(extra) {
  const c = newClient(extra);
  await c.client.loginWithPassword((extra && extra.phone) || backend.demo.phone,
    backend.demo.password);
  return c;
}

/** Recorded wx.request calls with this method whose path is `path` (or ends with it). */
function requests(wx, method, path) {
  return wx.__log.requests.filter((r) => {
    const p = new URL(r.url).pathname;
    return r.method === method && (p === path || p.endsWith(path));
  });
}

function pathOf(url) {
  return new URL(url).pathname;
}

const raw = (...args) => backend.raw(...args);
const adminToken = () => backend.admin();
const publishNotice = (usccs, fields) => backend.publishNotice(usccs, fields);
const findOtherEnterprise = (uscc) => backend.otherEnterprise(uscc);

// --------------------------------------------------------------------------------- tests

describe('contract', () => {
  test('every endpoint api.js calls is in the live /openapi.json', async () => {
    const res = await fetch(backend.baseUrl + '/openapi.json');
    assert.equal(res.status, 200);
    const doc = await res.json();
    const missing = Object.keys(ENDPOINTS).filter((name) => {
      const [method, template] = ENDPOINTS[name];
      const item = doc.paths[template];
      return !item || !item[method.toLowerCase()];
    }).map((name) => name + ' ' + ENDPOINTS[name].join(' '));
    assert.deepEqual(missing, [], 'api.js calls routes the server does not serve');
  });

  test('module-level shortcuts cover every client function', () => {
    const fns = Object.keys(createClient({ wx: createWx() })).filter((k) => k !== 'config');
    fns.forEach((name) => assert.equal(typeof apiModule[name], 'function', name));
  });
});

describe('login and session', () => {
  test('phone + password login stores the tokens; /v1/me lists the enterprises', async () => {
    const { wx, client } = newClient();
    assert.equal(client.isLoggedIn(), false);
    const pair = await client.loginWithPassword(backend.demo.phone, backend.demo.password);
    assert.equal(pair.token_type, 'Bearer');
    const stored = wx.getStorageSync('entpage.tokens');
    assert.equal(stored.access_token, pair.access_token);
    assert.equal(stored.refresh_token, pair.refresh_token);
    assert.ok(stored.expires_at > Date.now() + 60000, 'expiry from expires_in');
    const me = await client.me();
    assert.equal(me.kind, 'person');
    assert.equal(me.phone, backend.demo.phone);
    assert.ok(me.enterprises.length >= 1);
    assert.equal(client.currentEnterprise().uscc, me.enterprises[0].uscc);
    const [meCall] = requests(wx, 'GET', '/v1/me');
    assert.equal(meCall.headers.Authorization, 'Bearer ' + pair.access_token);
  });

  test('a wrong password is an ApiError 401 with the problem fields, and no refresh', async () => {
    const { wx, client } = newClient();
    const error = await client.loginWithPassword(backend.demo.phone, 'wrong-password-1')
      .then(() => null, (e) => e);
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 401);
    assert.equal(error.type, '/problems/unauthenticated');
    assert.equal(error.code, 'unauthenticated');
    assert.ok(error.title && error.detail);
    assert.equal(requests(wx, 'POST', '/v1/auth/refresh').length, 0);
    assert.equal(client.isLoggedIn(), false);
  });

  test('422: every invalid field comes back in ApiError.errors', async () => {
    const { client } = newClient();
    const error = await client.request('POST', '/v1/auth/login', { body: { phone: backend.demo.phone },
      auth: false }).then(() => null, (e) => e);
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 422);
    assert.equal(error.type, '/problems/validation-failed');
    assert.ok(error.errors.some((e) => e.field === 'password'), JSON.stringify(error.errors));
    assert.ok(error.fieldErrors().password);
  });

  test('an invalid access token is refreshed once, rotated, and the call retried', async () => {
    const { wx, client } = await loggedIn();
    const before1 = wx.getStorageSync('entpage.tokens');
    wx.setStorageSync('entpage.tokens', Object.assign({}, before1, { access_token: 'not-a-valid-token' }));
    const me = await client.me();
    assert.equal(me.phone, backend.demo.phone);
    const sequence = wx.__log.requests.slice(-3).map((r) => r.method + ' ' + pathOf(r.url) + ' ' + r.status);
    assert.deepEqual(sequence, ['GET /v1/me 401', 'POST /v1/auth/refresh 200', 'GET /v1/me 200']);
    const after1 = wx.getStorageSync('entpage.tokens');
    assert.notEqual(after1.refresh_token, before1.refresh_token, 'refresh token rotated');
    assert.notEqual(after1.access_token, 'not-a-valid-token');
  });

  test('an access token past its expiry is renewed before the call (no 401 round trip)', async () => {
    const { wx, client } = await loggedIn();
    const t = wx.getStorageSync('entpage.tokens');
    wx.setStorageSync('entpage.tokens', Object.assign({}, t, { expires_at: Date.now() - 1000 }));
    await client.me();
    const sequence = wx.__log.requests.slice(-2).map((r) => r.method + ' ' + pathOf(r.url) + ' ' + r.status);
    assert.deepEqual(sequence, ['POST /v1/auth/refresh 200', 'GET /v1/me 200']);
  });

  test('single flight: ten concurrent 401s trigger ONE refresh and all ten succeed', async () => {
    const { wx, client } = await loggedIn();
    const me = await client.me();
    const uscc = me.enterprises[0].uscc;
    const t = wx.getStorageSync('entpage.tokens');
    wx.setStorageSync('entpage.tokens', Object.assign({}, t, { access_token: 'expired-or-forged' }));
    const calls = [];
    for (let i = 0; i < 4; i += 1) calls.push(client.me());
    for (let i = 0; i < 3; i += 1) calls.push(client.getPage(uscc, { force: true }));
    for (let i = 0; i < 3; i += 1) calls.push(client.listNotices(uscc, { limit: 5 }));
    const results = await Promise.all(calls);
    assert.equal(results.length, 10);
    assert.equal(requests(wx, 'POST', '/v1/auth/refresh').length, 1, 'exactly one refresh');
    assert.equal(results[0].phone, backend.demo.phone);
    assert.equal(results[4].enterprise.uscc, uscc);
    assert.ok(Array.isArray(results[9].items));
    // Reusing a refresh token revokes the login: had two refreshes raced, this would fail.
    await client.me();
  });

  test('single flight holds for expired tokens too (proactive refresh)', async () => {
    const { wx, client } = await loggedIn();
    const t = wx.getStorageSync('entpage.tokens');
    wx.setStorageSync('entpage.tokens', Object.assign({}, t, { expires_at: 0 }));
    await Promise.all([client.me(), client.me(), client.me(), client.me()]);
    assert.equal(requests(wx, 'POST', '/v1/auth/refresh').length, 1);
  });

  test('a refused refresh clears the tokens and sends the user to the login page', async () => {
    const { wx, client } = await loggedIn();
    const t = wx.getStorageSync('entpage.tokens');
    // The login is ended elsewhere (another device logged out this family).
    const out = await raw('POST', '/v1/auth/logout', { refresh_token: t.refresh_token });
    assert.equal(out.status, 204);
    wx.setStorageSync('entpage.tokens', Object.assign({}, t, { access_token: 'stale' }));
    wx.setStorageSync('entpage.page.X', { etag: '"x"', page: {} });
    wx.setStorageSync('entpage.pages', ['X']);
    const error = await client.me().then(() => null, (e) => e);
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 401);
    assert.equal(requests(wx, 'POST', '/v1/auth/refresh').length, 1);
    assert.equal(client.isLoggedIn(), false);
    assert.equal(wx.getStorageSync('entpage.tokens'), '');
    assert.equal(wx.getStorageSync('entpage.page.X'), '', 'cached pages are dropped too');
    const nav = wx.__log.navigations.filter((n) => n.kind === 'reLaunch');
    assert.equal(nav.length, 1);
    assert.equal(nav[0].url, '/pages/login/index');
  });

  test('a replayed (stolen) refresh token ends the whole login', async () => {
    const { wx, client } = await loggedIn();
    const first = wx.getStorageSync('entpage.tokens').refresh_token;
    await client.refreshSession();
    const replay = await raw('POST', '/v1/auth/refresh', { refresh_token: first });
    assert.equal(replay.status, 401);
    const t = wx.getStorageSync('entpage.tokens');
    wx.setStorageSync('entpage.tokens', Object.assign({}, t, { access_token: 'stale' }));
    const error = await client.me().then(() => null, (e) => e);
    assert.equal(error.status, 401);
    assert.equal(client.isLoggedIn(), false);
  });

  test('calls without a session go to the login page without touching the network', async () => {
    let lost = null;
    const { wx, client } = newClient({ onAuthLost: (e) => { lost = e; } });
    const error = await client.me().then(() => null, (e) => e);
    assert.equal(error.type, 'client:not-logged-in');
    assert.ok(lost);
    assert.equal(wx.__log.requests.length, 0);
  });

  test('logout revokes the refresh token on the server and clears local state', async () => {
    const { wx, client } = await loggedIn();
    const me = await client.me();
    await client.getPage(me.enterprises[0].uscc);
    const refreshToken = wx.getStorageSync('entpage.tokens').refresh_token;
    await client.logout();
    assert.equal(client.isLoggedIn(), false);
    assert.equal(wx.getStorageSync('entpage.pages'), '');
    assert.equal(wx.getStorageSync('entpage.me'), '');
    const res = await raw('POST', '/v1/auth/refresh', { refresh_token: refreshToken });
    assert.equal(res.status, 401);
  });

  test('network failures are ApiError status 0, never a refresh or a logout', async () => {
    const { client: good, wx } = await loggedIn();
    const dead = newClient({ wx, baseUrl: 'http://127.0.0.1:9' });
    const error = await dead.client.me().then(() => null, (e) => e);
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 0);
    assert.equal(error.type, 'client:network-error');
    assert.ok(error.isNetworkError);
    assert.ok(good.isLoggedIn(), 'tokens kept');
  });
});

describe('the enterprise page', () => {
  test('ETag: the second call sends If-None-Match, gets 304 and returns the cached page', async () => {
    const { wx, client } = await loggedIn();
    const uscc = (await client.me()).enterprises[0].uscc;
    const first = await client.getPage(uscc);
    assert.equal(first.enterprise.uscc, uscc);
    for (const key of ['pending', 'reminders', 'notices', 'policies', 'badges']) {
      assert.ok(key in first, 'page has ' + key);
    }
    assert.equal(client.pageInfo(uscc).source, 'network');
    const etag = client.pageInfo(uscc).etag;
    assert.match(etag, /^"/);

    const second = await client.getPage(uscc);
    const calls = requests(wx, 'GET', '/page');
    assert.equal(calls.length, 2);
    assert.equal(calls[0].headers['If-None-Match'], undefined);
    assert.equal(calls[1].headers['If-None-Match'], etag);
    assert.equal(calls[1].status, 304);
    assert.deepEqual(second, first);
    assert.equal(client.pageInfo(uscc).source, 'not-modified');
  });

  test('a change on the server gives a new ETag and the fresh page', async () => {
    const { client } = await loggedIn();
    const uscc = (await client.me()).enterprises[0].uscc;
    const first = await client.getPage(uscc);
    const etag = client.pageInfo(uscc).etag;
    await publishNotice([uscc], { title: '页面刷新测试' });
    const second = await client.getPage(uscc);
    assert.equal(client.pageInfo(uscc).source, 'network');
    assert.notEqual(client.pageInfo(uscc).etag, etag);
    assert.equal(second.badges.notices_unread, first.badges.notices_unread + 1);
  });

  test('offline: a network failure returns the cached page, marked stale', async () => {
    const { wx, client } = await loggedIn();
    const uscc = (await client.me()).enterprises[0].uscc;
    const page = await client.getPage(uscc);
    const offline = newClient({ wx, baseUrl: 'http://127.0.0.1:9' });
    const again = await offline.client.getPage(uscc);
    assert.deepEqual(again, page);
    assert.equal(offline.client.pageInfo(uscc).source, 'stale');
    const strict = await offline.client.getPage(uscc, { allowStale: false }).then(() => null, (e) => e);
    assert.equal(strict.status, 0);
  });

  test("403: another enterprise's page is a problem with type, title and detail", async () => {
    const { client } = await loggedIn();
    const mine = (await client.me()).enterprises[0].uscc;
    const other = await findOtherEnterprise(mine);
    const error = await client.getPage(other.uscc).then(() => null, (e) => e);
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 403);
    assert.equal(error.type, '/problems/forbidden');
    assert.equal(error.code, 'forbidden');
    assert.ok(error.title.length > 0);
    assert.ok(error.detail.length > 0);
    assert.equal(error.instance, '/v1/enterprises/' + other.uscc + '/page');
    assert.ok(client.isLoggedIn(), 'a 403 is not a reason to log out');
  });

  test('422: a malformed USCC names the field at fault', async () => {
    const { client } = await loggedIn();
    const error = await client.getPage('NOT-A-USCC').then(() => null, (e) => e);
    assert.equal(error.status, 422);
    assert.equal(error.type, '/problems/validation-failed');
    assert.equal(error.field, 'uscc');
  });

  test('enterprise switcher: a person in two enterprises keeps one cached page per enterprise', async () => {
    const { wx, client } = await loggedIn({ phone: seededPhone(3) });
    const me = await client.me();
    const mine = me.enterprises[0].uscc;
    const other = await findOtherEnterprise(mine);
    const token = await adminToken();
    const added = await raw('PUT', '/v1/admin/people/' + me.id + '/memberships/' + other.uscc,
      { role: 'staff' }, token);
    assert.equal(added.status, 200, JSON.stringify(added.body));
    const me2 = await client.me();
    assert.deepEqual(me2.enterprises.map((e) => e.uscc).sort(), [mine, other.uscc].sort());
    client.setCurrentEnterprise(other.uscc);
    assert.equal(client.currentEnterprise().uscc, other.uscc);
    const a = await client.getPage(mine);
    const b = await client.getPage(other.uscc);
    assert.equal(a.enterprise.uscc, mine);
    assert.equal(b.enterprise.uscc, other.uscc);
    assert.deepEqual(wx.getStorageSync('entpage.pages'), [other.uscc, mine]);
    // A membership that ends falls back to the first remaining enterprise.
    client.setCurrentEnterprise('91350100M000100Y43');
    assert.equal(client.currentEnterprise().uscc, me2.enterprises[0].uscc);
  });
});

describe('notices', () => {
  let session;
  let uscc;
  const published = [];

  before(async () => {
    session = await loggedIn({ phone: seededPhone(5) });
    uscc = (await session.client.me()).enterprises[0].uscc;
    for (let i = 0; i < 23; i += 1) {
      published.push(await publishNotice([uscc], {
        title: '测试通知 ' + i, kind: i % 5 === 0 ? 'warning' : 'notice',
        ack_required: i % 4 === 0, priority: i % 5 === 0 ? 'urgent' : 'normal',
      }));
    }
  });

  test('the list pages with the cursor, unread first, then newest', async () => {
    const { client } = session;
    const seen = [];
    let cursor = null;
    let pages = 0;
    do {
      const page = await client.listNotices(uscc, { cursor, limit: 10 });
      assert.ok(page.items.length <= 10);
      assert.equal(typeof page.unread, 'number');
      page.items.forEach((item) => seen.push(item));
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor && pages < 10);
    assert.equal(pages, 3);
    assert.equal(seen.length, 23);
    assert.equal(new Set(seen.map((n) => n.id)).size, 23, 'no duplicates across pages');
    const ids = seen.map((n) => n.id);
    assert.deepEqual(ids, ids.slice().sort((x, y) => y - x), 'newest first among unread');
  });

  test('detail, read, acknowledge and archive', async () => {
    const { client } = session;
    const target = published.filter((n) => n.ack_required)[0];
    const detail = await client.getNotice(uscc, target.id);
    assert.equal(detail.id, target.id);
    assert.ok(detail.body_html.indexOf('<strong>') >= 0);
    assert.ok(Array.isArray(detail.reasons) && detail.reasons.length > 0);
    assert.equal(detail.read, false);

    const read = await client.markNoticeRead(uscc, target.id);
    assert.equal(read.read, true);
    const acked = await client.acknowledgeNotice(uscc, target.id);
    assert.equal(acked.acknowledged, true);
    const again = await client.acknowledgeNotice(uscc, target.id);
    assert.equal(again.acknowledged, true, 'acknowledging is idempotent');

    const plain = published.filter((n) => !n.ack_required)[0];
    const conflict = await client.acknowledgeNotice(uscc, plain.id).then(() => null, (e) => e);
    assert.equal(conflict.status, 409);
    assert.equal(conflict.type, '/problems/conflict');

    const archived = await client.archiveNotice(uscc, plain.id);
    assert.equal(archived.archived, true);
    const box = await client.listNotices(uscc, { state: 'archived' });
    assert.ok(box.items.some((n) => n.id === plain.id));

    const unread = await client.listNotices(uscc, { state: 'unread', limit: 100 });
    assert.ok(!unread.items.some((n) => n.id === target.id || n.id === plain.id));
    const all = await client.listNotices(uscc, { limit: 100 });
    const firstRead = all.items.findIndex((n) => n.read);
    assert.ok(all.items.slice(firstRead).every((n) => n.read), 'unread items come first');
  });

  test('a notice of another enterprise is 404 (or 403), never its content', async () => {
    const { client } = session;
    const other = await findOtherEnterprise(uscc);
    const foreign = await publishNotice([other.uscc], { title: '别家的通知' });
    const error = await client.getNotice(uscc, foreign.id).then(() => null, (e) => e);
    assert.equal(error.status, 404);
    assert.equal(error.field, 'notice_id');
  });

  test('422: an unknown state is refused with the field', async () => {
    const error = await session.client.listNotices(uscc, { state: 'bogus' }).then(() => null, (e) => e);
    assert.equal(error.status, 422);
    assert.equal(error.field, 'state');
  });
});

describe('policies', () => {
  test('published policies: search, categories, detail, and the matched ones with reasons', async () => {
    const { client } = await loggedIn({ phone: seededPhone(6) });
    const uscc = (await client.me()).enterprises[0].uscc;
    const categories = await client.policyCategories();
    assert.ok(categories.items.length > 0);
    const draft = { body: await backend.publishPolicy([uscc]) };

    const matched = await client.matchedPolicies(uscc);
    const mine = matched.items.filter((p) => p.id === draft.body.id)[0];
    assert.ok(mine, 'the new policy is on the page');
    assert.ok(mine.reasons.length > 0);
    const found = await client.searchPolicies({ q: '稳岗' });
    assert.ok(found.items.some((p) => p.id === draft.body.id));
    const detail = await client.getPolicy(draft.body.id);
    assert.equal(detail.guide.contact, '12345');
  });
});

describe('WeChat login, binding, consent, preferences, devices', () => {
  test('an unbound WeChat user gets 401 wechat-not-bound, and no session', async () => {
    const { wx, client } = newClient();
    const error = await client.loginWithWeChat().then(() => null, (e) => e);
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 401);
    assert.equal(error.code, 'wechat-not-bound');
    assert.equal(client.isLoggedIn(), false);
    assert.equal(requests(wx, 'POST', '/v1/auth/refresh').length, 0, 'a login 401 is not refreshed');
    assert.deepEqual(requests(wx, 'POST', '/v1/auth/wechat').length, 1);
  });

  test('a code WeChat refuses (40029 from the fake) is a problem, not a crash', async () => {
    const { wx, client } = newClient();
    wx.__queueLoginCode('bad-code-1');
    const error = await client.loginWithWeChat().then(() => null, (e) => e);
    assert.ok(error.status >= 400 && error.status < 500, String(error.status));
    assert.equal(error.code, 'wechat-login-code-invalid');
  });

  test('bind after a phone login, then one-tap WeChat login; unbind ends it', async () => {
    const phone = seededPhone(8);
    const first = await loggedIn({ phone });
    const me = await first.client.me();
    const bound = await first.client.bindWeChat();
    assert.equal(bound.bound, true);
    assert.ok(bound.device_id > 0);
    await first.client.logout();

    // Same WeChat user (same shim), a fresh session: one tap.
    const again = newClient({ wx: first.wx });
    const pair = await again.client.loginWithWeChat();
    assert.ok(pair.access_token && pair.refresh_token);
    assert.equal((await again.client.me()).id, me.id);
    const devices = await again.client.listDevices();
    const wechatDevice = devices.filter((d) => d.channel === 'wechat' && d.id === bound.device_id)[0];
    assert.ok(wechatDevice, JSON.stringify(devices));
    assert.equal(wechatDevice.active, true, 'WeChat login reactivates the device logout retired');

    await again.client.unbindWeChat();
    const after = await newClient({ wx: first.wx }).client.loginWithWeChat().then(() => null, (e) => e);
    assert.equal(after.code, 'wechat-not-bound');
  });

  test('logout retires the mini-program device on the server', async () => {
    const { wx, client } = await loggedIn({ phone: seededPhone(9) });
    const bound = await client.bindWeChat();
    await client.logout();
    const check = await loggedIn({ phone: seededPhone(9), wx });
    const device = (await check.client.listDevices()).filter((d) => d.id === bound.device_id)[0];
    assert.equal(device.active, false);
    assert.equal(device.deactivated_reason, 'unregistered');
  });

  test("the develop template ids in utils/config.js are the backend's", async () => {
    const { client } = await loggedIn({ phone: seededPhone(10) });
    await client.bindWeChat();
    const doc = await client.consents();
    assert.deepEqual(doc.templates, client.config.templateIds);
  });

  test('consent: wx.requestSubscribeMessage results are reported per template and counted', async () => {
    const decisions = { 'tpl-notice': 'accept', 'tpl-warning': 'reject', 'tpl-reminder': 'filter' };
    const { wx, client } = await loggedIn({ phone: seededPhone(11),
      wxOptions: { subscribeDecision: (id) => decisions[id] || 'accept' } });
    // The seed binds mini-program identities to people; start from an unbound person.
    await client.unbindWeChat();
    // Not bound yet: the report gets 409, api.js binds WeChat and reports again.
    const { result, consents } = await client.requestSubscription(['tpl-notice', 'tpl-warning', 'tpl-reminder']);
    assert.equal(result['tpl-reminder'], 'filter');
    assert.deepEqual(wx.__log.subscriptions, [['tpl-notice', 'tpl-warning', 'tpl-reminder']]);
    const [report] = requests(wx, 'POST', '/v1/me/wechat/consents').slice(-1);
    assert.equal(report.status, 200);
    const byTemplate = {};
    consents.consents.forEach((c) => { byTemplate[c.template_id] = c; });
    assert.equal(byTemplate['tpl-notice'].remaining, 1);
    assert.ok(byTemplate['tpl-warning'], 'a rejection is recorded too');
    assert.equal(byTemplate['tpl-warning'].remaining, 0);
    assert.equal(byTemplate['tpl-reminder'], undefined, "'filter' is not the user's decision");

    const again = await client.requestSubscription(['tpl-notice']);
    const notice = again.consents.consents.filter((c) => c.template_id === 'tpl-notice')[0];
    assert.equal(notice.remaining, 2, 'each accept allows one more message');
    assert.equal(requests(wx, 'POST', '/v1/me/wechat').length, 1, 'bound once');
  });

  test('a subscribe result with only filtered templates reports nothing', async () => {
    const { wx, client } = await loggedIn({ phone: seededPhone(11),
      wxOptions: { subscribeDecision: () => 'filter' } });
    const out = await client.requestSubscription(['tpl-policy']);
    assert.equal(out.consents, null);
    assert.equal(requests(wx, 'POST', '/v1/me/wechat/consents').length, 0);
  });

  test('preferences: switches per kind and channel, quiet hours, and 422 with the path', async () => {
    const { client } = await loggedIn({ phone: seededPhone(12) });
    const initial = await client.preferences();
    assert.equal(initial.preferences.length, 8);
    assert.ok(initial.preferences.every((p) => p.enabled));
    const saved = await client.savePreferences({
      preferences: [{ kind: 'policy', channel: 'wechat', enabled: false }],
      quiet_hours: { start: '22:30', end: '07:00', timezone: 'Asia/Shanghai' },
    });
    const policyWechat = saved.preferences.filter((p) => p.kind === 'policy' && p.channel === 'wechat')[0];
    assert.equal(policyWechat.enabled, false);
    assert.deepEqual(saved.quiet_hours, { start: '22:30', end: '07:00', timezone: 'Asia/Shanghai' });
    assert.deepEqual(await client.preferences(), saved);

    const off = await client.savePreferences({ quiet_hours: null });
    assert.equal(off.quiet_hours, null);

    const error = await client.savePreferences({ quiet_hours: { start: '25:00', end: '07:00' } })
      .then(() => null, (e) => e);
    assert.equal(error.status, 422);
    assert.ok(error.errors.some((e) => e.field === 'quiet_hours/start'), JSON.stringify(error.errors));
  });
});

// The embedded default's in-process delivery worker (push/worker.py `in_process_worker`) is not
// wired into `entpage serve` yet: until it is, nothing sends and this test is reported as TODO.
const DELIVERY_TODO = 'needs the in-process delivery worker in `entpage serve` (issue 4, in progress)';

describe('end to end: consent given in the mini-program is what the server spends', () => {
  test('a published notice reaches the fake WeChat as one subscription message', { todo: DELIVERY_TODO }, async () => {
    const crypto = require('node:crypto');
    const { wx, client } = await loggedIn({ phone: seededPhone(14) });
    const uscc = (await client.me()).enterprises[0].uscc;
    const { consents } = await client.requestSubscription(['tpl-notice']);
    assert.equal(consents.consents.filter((c) => c.template_id === 'tpl-notice')[0].remaining, 1);
    // The fake derives the openid from the code: 'o' + sha256(appid:code)[:27].
    const openid = 'o' + crypto.createHash('sha256')
      .update('wx-entpage-demo:' + wx.__wechatUser).digest('hex').slice(0, 27);

    const notice = await publishNotice([uscc], { title: '端到端推送测试' });
    let sent = [];
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline) {
      const res = await fetch(backend.wechatUrl + '/_fake/messages?limit=1000');
      const body = await res.json();
      sent = body.messages.filter((m) => m.touser === openid);
      if (sent.length) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(sent.length, 1, 'one message for one consent');
    assert.equal(sent[0].template_id, 'tpl-notice');
    const after = await client.consents();
    assert.equal(after.consents.filter((c) => c.template_id === 'tpl-notice')[0].remaining, 0,
      'the send consumed the consent');
    assert.ok(notice.id > 0);
  });
});

describe('live stream (/v1/stream over chunked wx.request)', () => {
  test('UTF-8 split across chunks and the SSE wire format', () => {
    const decoder = apiModule.createUtf8Decoder();
    const bytes = Buffer.from('data: {"title":"通知😀"}\n\n', 'utf8');
    let text = '';
    for (let i = 0; i < bytes.length; i += 1) {
      text += decoder.decode(bytes.buffer.slice(bytes.byteOffset + i, bytes.byteOffset + i + 1));
    }
    assert.equal(text, 'data: {"title":"通知😀"}\n\n');
    const bad = apiModule.createUtf8Decoder().decode(Uint8Array.from([0x61, 0x80, 0xe4, 0x41]).buffer);
    assert.equal(bad, 'a\ufffd\ufffdA');

    const events = [];
    const parser = apiModule.createSseParser((e) => events.push(e));
    parser.push('retry: 2000\r\n: connected\r\nid: c0\r\n\r\n');
    assert.equal(parser.state.lastEventId, 'c0', 'an id-only block advances the cursor');
    assert.equal(parser.state.retryMs, 2000);
    parser.push('id: c1\nevent: notice\ndata: {"id":1,\ndata: "x":2}\n');
    assert.equal(events.length, 0, 'nothing before the blank line');
    parser.push('\r');
    parser.push('\n: heartbeat\nid: c2\n\ndata:plain\n\n');
    assert.deepEqual(events, [
      { type: 'notice', data: '{"id":1,\n"x":2}', id: 'c1' },
      { type: 'message', data: 'plain', id: 'c2' },
    ]);
  });

  async function waitFor(predicate, ms, what) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (predicate()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail('timed out waiting for ' + what);
  }

  test('new notices and badge counts arrive live; a reconnect replays what was missed', async () => {
    const { wx, client } = await loggedIn({ phone: seededPhone(15) });
    const uscc = (await client.me()).enterprises[0].uscc;
    // Start with a forged access token: the stream's 401 renews it once, then connects.
    const t = wx.getStorageSync('entpage.tokens');
    wx.setStorageSync('entpage.tokens', Object.assign({}, t, { access_token: 'forged' }));
    const events = [];
    const stream = client.openStream({ onEvent: (e) => events.push(e) });
    try {
      await waitFor(() => stream.lastEventId(), 10000, 'the stream to connect');
      assert.equal(requests(wx, 'POST', '/v1/auth/refresh').length, 1);
      const first = await publishNotice([uscc], { title: '实时推送一' });
      await waitFor(() => events.some((e) => e.type === 'notice' && e.data.id === first.id), 10000,
        'the notice event');
      const notice = events.filter((e) => e.type === 'notice')[0];
      assert.equal(notice.data.uscc, uscc);
      assert.equal(notice.data.title, '实时推送一');
      await waitFor(() => events.some((e) => e.type === 'badges' && e.data.uscc === uscc), 10000,
        'the badges event');
      const badges = events.filter((e) => e.type === 'badges').pop();
      assert.ok(badges.data.badges.notices_unread >= 1);
      // The page behind that ETag is what getPage returns.
      await client.getPage(uscc);
      assert.equal(client.pageInfo(uscc).etag, badges.data.etag);
    } finally {
      stream.close();
    }

    const cursor = stream.lastEventId();
    const missed = await publishNotice([uscc], { title: '离线期间的通知' });
    const replayed = [];
    const again = client.openStream({ lastEventId: cursor, onEvent: (e) => replayed.push(e) });
    try {
      await waitFor(() => replayed.some((e) => e.type === 'notice' && e.data.id === missed.id), 10000,
        'the replayed notice');
      const streamCalls = requests(wx, 'GET', '/v1/stream');
      assert.equal(streamCalls[streamCalls.length - 1].headers['Last-Event-ID'], cursor);
    } finally {
      again.close();
    }
  });
});
