/**
 * Checks that need no backend: the project opens in WeChat DevTools (app.json pages exist with
 * their four files, JSON parses), WXML is balanced and only calls handlers the page defines,
 * every text key used exists in both languages, the client ships no secret and no syntax newer
 * than the runtime takes, and the view helpers format what the server sends.
 */

'use strict';

const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { createWx, installGlobals, loadApp, loadPage } = require('./wx-shim');

const ROOT = path.resolve(__dirname, '..');
const read = (rel) => fs.readFileSync(path.join(ROOT, rel), 'utf8');
const readJson = (rel) => JSON.parse(read(rel));

/** Every file of the shipped mini-program (not the tests, not the docs). */
function clientFiles() {
  const out = [];
  (function walk(dir) {
    fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).forEach((entry) => {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'test' && entry.name !== 'node_modules') walk(rel);
      } else if (/\.(js|json|wxml|wxss)$/.test(entry.name) && entry.name !== 'package.json') {
        out.push(rel);
      }
    });
  }(''));
  return out;
}

const app = readJson('app.json');
// Installed once: pages are loaded (not run) to read their handler names.
const globals = installGlobals(createWx());
loadApp(ROOT, globals);
const i18n = require('../utils/i18n');
const view = require('../utils/view');

describe('project structure', () => {
  test('app.json pages each have .js, .json, .wxml and .wxss', () => {
    assert.ok(app.pages.length >= 6);
    app.pages.forEach((page) => {
      ['js', 'json', 'wxml', 'wxss'].forEach((ext) => {
        assert.ok(fs.existsSync(path.join(ROOT, page + '.' + ext)), page + '.' + ext);
      });
    });
    ['pages/home/index', 'pages/notices/index', 'pages/notice-detail/index', 'pages/policies/index',
      'pages/settings/index', 'pages/login/index'].forEach((p) => assert.ok(app.pages.includes(p), p));
  });

  test('tab bar pages are pages; sitemap and project config are in place', () => {
    app.tabBar.list.forEach((item) => assert.ok(app.pages.includes(item.pagePath), item.pagePath));
    assert.ok(app.tabBar.list.length >= 2 && app.tabBar.list.length <= 5);
    assert.deepEqual(app.tabBar.list.map((i) => i.text),
      i18n.TAB_KEYS.map((k) => i18n.t(k, null, 'zh-Hans')), 'app.json tab texts match i18n');
    assert.ok(fs.existsSync(path.join(ROOT, app.sitemapLocation)));
    const project = readJson('project.config.json');
    assert.equal(project.compileType, 'miniprogram');
    assert.ok(project.packOptions.ignore.some((i) => i.type === 'folder' && i.value === 'test'),
      'tests are not uploaded with the package');
  });

  test('every JSON file parses', () => {
    clientFiles().filter((f) => f.endsWith('.json')).forEach((f) => {
      assert.doesNotThrow(() => readJson(f), f);
    });
  });
});

// ------------------------------------------------------------------------------- WXML

const VOID_OR_SELF = /\/>$/;

function wxmlTags(source) {
  const text = source.replace(/<!--[\s\S]*?-->/g, '');
  const tags = [];
  const re = /<\/?([a-zA-Z][\w-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    tags.push({ whole: m[0], name: m[1], closing: m[0][1] === '/', selfClosing: VOID_OR_SELF.test(m[0]),
      attrs: m[2] });
  }
  return tags;
}

describe('WXML', () => {
  app.pages.forEach((page) => {
    test(page + '.wxml is balanced and its handlers exist', () => {
      const source = read(page + '.wxml');
      const stack = [];
      wxmlTags(source).forEach((tag) => {
        if (tag.selfClosing) return;
        if (!tag.closing) {
          stack.push(tag.name);
        } else {
          const open = stack.pop();
          assert.equal(open, tag.name, page + ': </' + tag.name + '> closes <' + open + '>');
        }
      });
      assert.deepEqual(stack, [], page + ': unclosed tags');

      const instance = loadPage(ROOT, page, globals);
      const handlers = [];
      const re = /\b(?:bind|catch)(?::)?[a-z]+="([^"{}]+)"/g;
      let m;
      while ((m = re.exec(source)) !== null) handlers.push(m[1]);
      assert.ok(handlers.length > 0 || page === 'pages/none', page + ' binds no events');
      handlers.forEach((name) => {
        assert.equal(typeof instance[name], 'function', page + ' binds ' + name + ' but does not define it');
      });
    });
  });
});

// --------------------------------------------------------------------------------- i18n

describe('i18n', () => {
  test('both languages have the same keys, none empty', () => {
    const hans = Object.keys(i18n.STRINGS['zh-Hans']).sort();
    const hant = Object.keys(i18n.STRINGS['zh-Hant']).sort();
    assert.deepEqual(hant, hans);
    i18n.LOCALES.forEach((locale) => {
      Object.entries(i18n.STRINGS[locale]).forEach(([key, value]) => {
        assert.ok(typeof value === 'string' && value.length > 0, locale + ' ' + key);
      });
    });
    const differing = hans.filter((k) => i18n.STRINGS['zh-Hans'][k] !== i18n.STRINGS['zh-Hant'][k]);
    assert.ok(differing.length > hans.length / 3, 'zh-Hant is really Traditional');
  });

  test('every key the pages use exists', () => {
    const used = new Set();
    clientFiles().forEach((file) => {
      const source = read(file);
      let m;
      const inWxml = /\bt\.([a-zA-Z_]\w*)/g;
      if (file.endsWith('.wxml')) while ((m = inWxml.exec(source)) !== null) used.add(m[1]);
      // Literal keys only (`t('badge_' + key)` is covered by the view tests).
      const inJs = /\b(?:i18n\.)?t\('([a-zA-Z_]\w*)'\s*[,)]/g;
      if (file.endsWith('.js') && !file.endsWith('i18n.js')) {
        while ((m = inJs.exec(source)) !== null) used.add(m[1]);
      }
      const titles = /setTitle\('([a-zA-Z_]\w*)'\)/g;
      while ((m = titles.exec(source)) !== null) used.add(m[1]);
    });
    assert.ok(used.size > 50, 'found the keys in use (' + used.size + ')');
    const missing = Array.from(used).filter((k) => !(k in i18n.STRINGS['zh-Hans']));
    assert.deepEqual(missing, []);
  });

  test('the switch is stored and labels follow it', () => {
    const wx = createWx();
    const previous = globalThis.wx;
    globalThis.wx = wx;
    try {
      assert.equal(i18n.getLocale(), 'zh-Hans');
      assert.equal(i18n.label('zone', 'hengqin'), '横琴');
      i18n.setLocale('zh-Hant');
      assert.equal(wx.getStorageSync('entpage.locale'), 'zh-Hant');
      assert.equal(i18n.label('zone', 'hengqin'), '橫琴');
      assert.equal(i18n.t('home_unread', { n: 3 }), '3 條未讀');
      assert.equal(i18n.localized({ title: '政策', title_hant: '政策（繁）' }, 'title'), '政策（繁）');
      assert.equal(i18n.localized({ title: '政策', title_hant: null }, 'title'), '政策');
      assert.equal(i18n.label('zone', 'mars'), 'mars', 'unknown codes pass through');
      i18n.applyTabBar();
      assert.deepEqual(wx.__log.tabBar.map((x) => x.text), ['首頁', '通知', '政策', '設定']);
      assert.throws(() => i18n.setLocale('en'));
    } finally {
      globalThis.wx = previous;
    }
  });
});

// ------------------------------------------------------------------- client hygiene

describe('client hygiene', () => {
  test('no secret in the shipped files', () => {
    clientFiles().forEach((file) => {
      const source = read(file);
      assert.doesNotMatch(source, /\bsecret\s*[:=]\s*['"][^'"]+['"]/i, file + ' assigns a secret');
      assert.doesNotMatch(source, /demo-secret|BEGIN [A-Z ]*PRIVATE KEY|\bek_[0-9a-f]{8}_/, file);
      assert.doesNotMatch(source, /\b[0-9a-f]{32}\b/, file + ' holds a 32-hex string (an AppSecret?)');
    });
  });

  test('plain ES2017 CommonJS: no modules, no optional chaining, no dependencies', () => {
    clientFiles().filter((f) => f.endsWith('.js')).forEach((file) => {
      const code = read(file)
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '')
        .replace(/'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|`(?:\\.|[^`\\])*`/g, "''");
      assert.doesNotMatch(code, /^\s*(import|export)\s/m, file + ' uses ES modules');
      assert.doesNotMatch(code, /\?\.[\w([]/, file + ' uses optional chaining');
      assert.doesNotMatch(code, /\?\?/, file + ' uses ??');
      assert.doesNotMatch(code, /^\s+#\w+/m, file + ' uses private fields');
      (read(file).match(/require\('([^']+)'\)/g) || []).forEach((r) => {
        assert.match(r, /require\('\.{1,2}\//, file + ': ' + r + ' is not a relative module');
      });
    });
  });

  test('layouts fit 375 px: no fixed width beyond the screen', () => {
    clientFiles().filter((f) => f.endsWith('.wxss')).forEach((file) => {
      const source = read(file);
      let m;
      const re = /(?:^|[;{\s])(?:min-)?width\s*:\s*(\d+)(px|rpx)/g;
      while ((m = re.exec(source)) !== null) {
        const px = m[2] === 'px' ? Number(m[1]) : Number(m[1]) / 2;
        assert.ok(px <= 375, file + ': width ' + m[1] + m[2] + ' is wider than a 375-px phone');
      }
    });
  });
});

// ------------------------------------------------------------------------ view helpers

describe('view helpers', () => {
  test('times from the server in every shape, shown in Asia/Shanghai', () => {
    globalThis.wx = createWx();
    assert.equal(view.formatTime('2026-11-21T19:43:16.863116Z'), '2026-11-22 03:43');
    assert.equal(view.formatTime('2026-09-03 06:43:04.767355+00:00'), '2026-09-03 14:43');
    assert.equal(view.formatTime('2026-09-03T06:43:04+08:00'), '2026-09-03 06:43');
    assert.equal(view.formatTime('2026-12-19', true), '2026-12-19');
    assert.equal(view.formatTime(null), '');
    assert.equal(view.formatTime('not a date'), 'not a date');
    assert.equal(view.daysLeftText(-3), '已逾期 3 天');
    assert.equal(view.daysLeftText(0), '今天到期');
    assert.equal(view.daysLeftText(11), '剩 11 天');
  });

  test('the home view of a page document', () => {
    globalThis.wx = createWx();
    const home = view.homeView({
      enterprise: { uscc: '91350100M000100Y43', name: '测试有限公司', zone: 'qianhai',
        industry: { code: 'I6510', label: 'I6510 软件开发' }, size: 'small', status: 'abnormal',
        credit_level: 'B', tags: ['专精特新'], legacy_uscc: false },
      pending: { action_required: [{ source_system: 'samr', external_id: 'M1', title: '年报补正',
        state: 'needs_supplement', progress: null, due_on: '2026-12-01', action_url: null }],
      in_progress: [] },
      reminders: [{ kind: 'annual_report', title: '年报', due_on: '2027-06-30', days_left: 200,
        severity: 'info', ref: null }],
      notices: { unread: 2, items: [{ id: 1, kind: 'warning', title: '预警', priority: 'urgent',
        published_at: '2026-11-21T00:00:00Z', read: false, ack_required: true, acknowledged: false }] },
      policies: { open: 1, total: 1, items: [{ id: 9, title: '补贴', title_hant: '補貼', window: 'open',
        closes_on: '2026-12-31', reasons: ['片区：前海'] }] },
      badges: { action_required: 1, in_progress: 0, reminders_urgent: 0, notices_unread: 2, policies_open: 1 },
      as_of: '2026-11-22',
    });
    assert.equal(home.enterprise.zoneLabel, '前海蛇口');
    assert.equal(home.enterprise.statusLabel, '经营异常');
    assert.deepEqual(home.badges.map((b) => b.count), [1, 0, 0, 2, 1]);
    assert.equal(home.actionRequired[0].stateLabel, '待补正');
    assert.equal(home.notices[0].urgent, true);
    assert.equal(home.notices[0].publishedText, '2026-11-21 08:00');
    assert.equal(home.policies[0].windowText, '截止 2026-12-31');
    assert.equal(home.unreadText, '2 条未读');
    i18n.setLocale('zh-Hant');
    assert.equal(view.policyView({ id: 9, title: '补贴', title_hant: '補貼', window: 'open' }).title, '補貼');
  });
});
