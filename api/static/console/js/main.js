// Publisher console: login, routing (hash based, so /console is the only page the server
// serves), header with language switch, and the views.
import {
  ApiError, NetworkError, get, isLoggedIn, login, logout, onSessionChange, reference,
} from './api.js';
import { composeView } from './compose.js';
import { correctionView } from './correction.js';
import { h, replace } from './dom.js';
import { banner, field, input } from './forms.js';
import {
  currentLang, onLangChange, problemText, reasonText, setLang, t, translateTree,
} from './i18n.js';
import { noticesList, policiesList } from './lists.js';
import { revisionsView } from './revisions.js';
import { noticeStatsView, policyStatsView } from './stats.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const userBox = document.getElementById('user');
const langButton = document.getElementById('lang-toggle');
const logoutButton = document.getElementById('logout');

let ctx = null;
let current = null; // { view, route }

// Each view is built from the context, the route's match and, after a language switch, the
// snapshot the previous instance of the same route left (views with a form keep what was typed).
const ROUTES = [
  [/^#\/compose$/, (c, m, restore) => composeView(c, { kind: 'notice', restore })],
  [/^#\/compose\/policy$/, (c, m, restore) => composeView(c, { kind: 'policy', restore })],
  [/^#\/compose\/notice\/(\d+)$/, (c, m, restore) => composeView(c, { kind: 'notice', editId: Number(m[1]), restore })],
  [/^#\/compose\/policy\/(\d+)$/, (c, m, restore) => composeView(c, { kind: 'policy', editId: Number(m[1]), restore })],
  [/^#\/notices$/, (c) => noticesList(c)],
  [/^#\/notices\/(\d+)$/, (c, m) => noticeStatsView(c, { id: Number(m[1]) })],
  [/^#\/notices\/(\d+)\/correct$/, (c, m, restore) => correctionView(c, { id: Number(m[1]), restore })],
  [/^#\/notices\/(\d+)\/revisions$/, (c, m) => revisionsView(c, { id: Number(m[1]) })],
  [/^#\/policies$/, (c) => policiesList(c)],
  [/^#\/policies\/(\d+)$/, (c, m) => policyStatsView(c, { id: Number(m[1]) })],
];

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function errorText(error) {
  if (error instanceof NetworkError) return t('网络异常，请检查连接后重试');
  if (error instanceof ApiError) {
    if (error.status === 401) return t('用户名或密码不正确');
    if (error.status === 429) return t('尝试次数过多，请稍后再试');
    return (error.errors[0] ? problemText(error.errors[0]) : reasonText(error.message));
  }
  return String(error.message || error);
}

function show(view) {
  if (current && current.view.destroy) current.view.destroy();
  replace(main, view.el);
  const heading = main.querySelector('h1');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

function markNav() {
  for (const link of nav.querySelectorAll('a')) {
    const active = location.hash === link.getAttribute('href')
      || (link.dataset.prefix && location.hash.startsWith(link.dataset.prefix));
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function route(restore = null) {
  if (!ctx) return;
  const hash = location.hash || '#/compose';
  for (const [pattern, build] of ROUTES) {
    const match = pattern.exec(hash);
    if (match) {
      const view = build(ctx, match, restore && restore.route === hash ? restore.snapshot : null);
      show(view);
      current = { view, route: hash };
      markNav();
      return;
    }
  }
  navigate('#/compose');
}

function renderHeader() {
  translateTree(document.body);
  langButton.textContent = currentLang() === 'zh-Hans' ? '繁體' : '简体';
  langButton.setAttribute('aria-label', currentLang() === 'zh-Hans' ? '切換為繁體中文' : '切换为简体中文');
  if (ctx) {
    replace(userBox, h('span', { class: 'user-name' }, ctx.me.name || ctx.me.username),
      ctx.me.department ? h('span', { class: 'user-dept' }, ctx.me.department) : null);
  } else {
    replace(userBox);
  }
  nav.hidden = !ctx;
  logoutButton.hidden = !ctx;
}

function loginView(notice = null) {
  const username = input({ name: 'username', autocomplete: 'username', required: true, 'data-testid': 'login-username' });
  const password = input({ name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'login-password' });
  const message = h('div', { 'aria-live': 'assertive' }, notice ? banner('info', notice) : null);
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', 'data-testid': 'login-submit' }, t('登录'));
  const form = h('form', { class: 'login-card', novalidate: true },
    h('h1', { id: 'login-title' }, t('政策发布控制台')),
    h('p', { class: 'hint' }, t('请使用发布员账号登录')),
    message,
    field({ name: 'username', label: t('用户名'), control: username, required: true }),
    field({ name: 'password', label: t('密码'), control: password, required: true }),
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!username.value.trim() || !password.value) {
      replace(message, banner('error', t('请输入用户名和密码')));
      return;
    }
    submit.disabled = true;
    try {
      await login(username.value.trim(), password.value);
      password.value = '';
      await start();
    } catch (error) {
      replace(message, banner('error', errorText(error)));
      password.value = '';
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return { el: h('section', { class: 'login', 'aria-labelledby': 'login-title' }, form) };
}

async function start() {
  try {
    const [me, options] = await Promise.all([get('/v1/me'), reference('options')]);
    if (me.kind !== 'operator' || !['publisher', 'admin'].includes(me.role)) {
      await logout();
      show(loginView(t('该账号不是发布员账号')));
      return;
    }
    ctx = { me, options, navigate };
    renderHeader();
    route();
  } catch (error) {
    ctx = null;
    renderHeader();
    show(loginView(error instanceof ApiError && error.status === 401 ? t('登录已过期，请重新登录') : errorText(error)));
  }
}

window.addEventListener('hashchange', () => route());

onSessionChange((session) => {
  if (!session && ctx) {
    ctx = null;
    renderHeader();
    show(loginView(t('登录已过期或已退出，请重新登录'))); // also stops the old view's timers
    current = null;
  }
});

langButton.addEventListener('click', () => {
  setLang(currentLang() === 'zh-Hans' ? 'zh-Hant' : 'zh-Hans');
});

onLangChange(() => {
  renderHeader();
  if (!ctx) {
    show(loginView());
    return;
  }
  const snapshot = current && current.view.snapshot ? current.view.snapshot() : null;
  route(snapshot ? { route: current.route, snapshot } : null);
});

logoutButton.addEventListener('click', async () => {
  ctx = null;
  renderHeader();
  show(loginView(t('已退出登录')));
  current = null;
  await logout();
});

renderHeader();
if (isLoggedIn()) start();
else show(loginView());
