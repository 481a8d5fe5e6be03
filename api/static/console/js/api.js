// The API client: operator login, refresh-token rotation, problem+json errors.
//
// Tokens live in memory and in this tab's sessionStorage (gone when the tab closes); they never
// appear in the page source or in a URL. The server rotates the refresh token on every use and
// revokes the whole family when an old one is replayed, so refreshing is single-flight, and a
// rotation is announced to sibling tabs (a duplicated tab starts with a copy of the same token).

const STORE = 'entpage.console.session';
const EARLY_REFRESH_MS = 60_000;
const channel = 'BroadcastChannel' in window ? new BroadcastChannel('entpage-console-auth') : null;

let session = readSession();
let refreshing = null;
const sessionListeners = new Set();

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.type = problem.type || '';
    this.code = this.type.replace(/^\/problems\//, '') || String(status);
    this.field = problem.field || null;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

export class NetworkError extends Error {}

function readSession() {
  try {
    const raw = sessionStorage.getItem(STORE);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function storeSession(next, { announce = true, previousRefresh = null } = {}) {
  session = next;
  if (next) sessionStorage.setItem(STORE, JSON.stringify(next));
  else sessionStorage.removeItem(STORE);
  if (announce && channel && next && previousRefresh) {
    channel.postMessage({ rotated: previousRefresh, session: next });
  }
  for (const listener of sessionListeners) listener(next);
}

if (channel) {
  channel.addEventListener('message', (event) => {
    const { rotated, session: next } = event.data || {};
    if (session && rotated && session.refresh_token === rotated) {
      storeSession(next, { announce: false });
    }
  });
}

function fromTokens(tokens) {
  return {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_at: Date.now() + tokens.expires_in * 1000,
  };
}

export function isLoggedIn() {
  return Boolean(session && session.refresh_token);
}

export function onSessionChange(listener) {
  sessionListeners.add(listener);
  return () => sessionListeners.delete(listener);
}

async function parseProblem(response) {
  const type = response.headers.get('content-type') || '';
  if (type.includes('json')) {
    try {
      return await response.json();
    } catch {
      /* fall through */
    }
  }
  return { title: response.statusText, status: response.status };
}

export async function login(username, password) {
  const response = await rawFetch('/v1/auth/operator-login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw new ApiError(response.status, await parseProblem(response));
  storeSession(fromTokens(await response.json()));
}

export async function logout() {
  const current = session;
  storeSession(null);
  if (current && current.refresh_token) {
    try {
      await rawFetch('/v1/auth/logout', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: current.refresh_token }),
      });
    } catch {
      /* the token expires on its own */
    }
  }
}

async function rawFetch(url, init) {
  try {
    return await fetch(url, { credentials: 'omit', cache: 'no-store', ...init });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new NetworkError(String(error.message || error));
  }
}

function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const used = session && session.refresh_token;
      if (!used) throw new ApiError(401, { title: 'Not logged in', type: '/problems/unauthenticated' });
      const response = await rawFetch('/v1/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: used }),
      });
      if (!response.ok) {
        const problem = await parseProblem(response);
        // Another tab may have rotated the token meanwhile and told us; keep its session.
        if (session && session.refresh_token !== used) return;
        if (response.status === 401 || response.status === 403) storeSession(null);
        throw new ApiError(response.status, problem);
      }
      storeSession(fromTokens(await response.json()), { previousRefresh: used });
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function accessToken() {
  if (!session) throw new ApiError(401, { title: 'Not logged in', type: '/problems/unauthenticated' });
  if (Date.now() > session.expires_at - EARLY_REFRESH_MS) await refresh();
  return session.access_token;
}

// request('POST', '/v1/notices', { body, headers, signal }) → parsed JSON (or the Response with raw).
export async function request(method, path, { body, headers = {}, signal, raw = false } = {}) {
  let retried = false;
  for (;;) {
    const token = await accessToken();
    const init = {
      method,
      signal,
      headers: { authorization: `Bearer ${token}`, ...headers },
    };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await rawFetch(path, init);
    if (response.status === 401 && !retried) {
      retried = true;
      await refresh();
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, await parseProblem(response));
    if (raw) return response;
    if (response.status === 204) return null;
    return response.json();
  }
}

export const get = (path, options) => request('GET', path, options);
export const post = (path, body, options = {}) => request('POST', path, { ...options, body });
export const patch = (path, body, options = {}) => request('PATCH', path, { ...options, body });

// Public reference data: plain fetch, so the browser's HTTP cache and ETag revalidation apply.
const referenceCache = new Map();
export function reference(name) {
  if (!referenceCache.has(name)) {
    const promise = fetch(`/v1/reference/${name}`).then(async (response) => {
      if (!response.ok) throw new ApiError(response.status, await parseProblem(response));
      return response.json();
    });
    promise.catch(() => referenceCache.delete(name));
    referenceCache.set(name, promise);
  }
  return referenceCache.get(name);
}

export function newIdempotencyKey() {
  if (crypto.randomUUID) return `console-${crypto.randomUUID()}`;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
