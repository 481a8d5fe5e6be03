/**
 * Starts the real entpage backend for the client tests, the way an operator would:
 *
 *   python -m push.fakes.wechat --port 0     (jscode2session, subscription messages)
 *   python -m push.fakes.fcm --port 0        (so the in-process worker never reaches Google)
 *   entpage migrate && entpage seed --enterprises 50 && entpage serve --port <free>
 *
 * on the embedded default (SQLite + in-process Redis) in a temporary ENTPAGE_DATA_DIR, with
 * ENTPAGE_WECHAT_API_BASE / ENTPAGE_FCM_ENDPOINT pointing at the fakes, then waits for /healthz.
 * Every ENTPAGE_* variable of the caller's environment is dropped on purpose: a test must never
 * write into a developer's or CI's database, nor depend on their settings.
 *
 * The Python tools come from ENTPAGE_VENV_BIN (set by tests/miniprogram/test_api_js.py to the
 * running interpreter's bin directory), else <repo>/.venv/bin.
 *
 * `node miniprogram_stubs/test/live-backend.js` (outside the test runner) starts the same stack
 * and keeps it running, handy for pointing WeChat DevTools at a seeded backend.
 */

'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
function venvBin() {
  return process.env.ENTPAGE_VENV_BIN || path.join(REPO_ROOT, '.venv', 'bin');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The caller's environment without any ENTPAGE_* setting (a developer's database URL, a pytest
 * session's ENTPAGE_WORKER_IN_PROCESS=false, custom template ids …): the backend under test runs
 * on the documented defaults plus what is set here.
 */
function backendEnv(dataDir, extra) {
  const env = {};
  Object.keys(process.env).forEach((name) => {
    if (!name.startsWith('ENTPAGE_')) env[name] = process.env[name];
  });
  return Object.assign(env, {
    ENTPAGE_DATA_DIR: dataDir,
    ENTPAGE_LOG_LEVEL: 'WARNING',
    PYTHONUNBUFFERED: '1',
  }, extra || {});
}

/** Spawn a fake (`push.fakes.wechat`) on port 0; resolves with its base URL from stdout. */
function startFake(python, module, logFile, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-m', module, '--host', '127.0.0.1', '--port', '0'],
      { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = fs.createWriteStream(logFile);
    let seen = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(module + ' did not report its address within 20 s:\n' + seen));
    }, 20000);
    child.stdout.on('data', (chunk) => {
      out.write(chunk);
      seen += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1].replace(/\/+$/, '') });
      }
    });
    child.stderr.on('data', (chunk) => { out.write(chunk); seen += chunk; });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(module + ' exited with ' + code + ':\n' + seen));
    });
  });
}

function runStep(entpage, args, env, logFile) {
  const result = spawnSync(entpage, args, { cwd: REPO_ROOT, env, encoding: 'utf8',
    timeout: 120000 });
  fs.appendFileSync(logFile, '$ entpage ' + args.join(' ') + '\n' + (result.stdout || '')
    + (result.stderr || ''));
  if (result.status !== 0) {
    throw new Error('entpage ' + args.join(' ') + ' failed (' + (result.error || result.status)
      + '):\n' + (result.stderr || '').slice(-4000));
  }
  return result.stderr || '';
}

async function waitForHealth(baseUrl, child, logFile, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const res = await fetch(baseUrl + '/healthz');
      if (res.status === 200) return;
      lastError = new Error('HTTP ' + res.status);
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  const logText = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-4000) : '';
  throw new Error('backend did not become healthy at ' + baseUrl + ' (' + (lastError && lastError.message)
    + ', exit ' + child.exitCode + '):\n' + logText);
}

function stopChild(child) {
  if (!child || child.exitCode !== null || child.signalCode) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, 5000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

/** The seed's phone numbers: person n has `1{3 + n % 7}{n:09d}` (profiles/seed.py). */
function seededPhone(n) {
  return '1' + String(3 + (n % 7)) + String(n).padStart(9, '0');
}

/**
 * Test-side helpers that talk to the backend directly (fetch, not api.js): the things only an
 * operator or a department can do, used to arrange a scene for the client under test.
 */
function operatorHelpers(baseUrl, demo) {
  async function raw(method, path, body, token) {
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = 'Bearer ' + token;
    const res = await fetch(baseUrl + path, { method, headers,
      body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch (e) {
      parsed = text;
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  function expect(res, status, what) {
    if (res.status !== status) {
      throw new Error(what + ': HTTP ' + res.status + ' ' + JSON.stringify(res.body));
    }
    return res.body;
  }

  let adminToken = null;
  async function admin() {
    if (!adminToken) {
      adminToken = expect(await raw('POST', '/v1/auth/operator-login', demo.admin), 200,
        'operator login').access_token;
    }
    return adminToken;
  }

  /** Publish a notice to exactly these enterprises, as the demo admin. */
  async function publishNotice(usccs, fields) {
    const token = await admin();
    const draft = expect(await raw('POST', '/v1/notices', Object.assign({
      kind: 'notice', title: '关于开展年度企业年报工作的通知', body: '请于 **6月30日** 前完成年报。',
      rule: { field: 'uscc', op: 'in', value: usccs },
    }, fields || {}), token), 201, 'create notice');
    return expect(await raw('POST', '/v1/notices/' + draft.id + '/publish', undefined, token), 200,
      'publish notice');
  }

  /** Publish a policy for exactly these enterprises, as the demo admin. */
  async function publishPolicy(usccs, fields) {
    const token = await admin();
    const categories = expect(await raw('GET', '/v1/policies/categories'), 200, 'categories');
    const draft = expect(await raw('POST', '/v1/policies', Object.assign({
      title: '小微企业稳岗补贴', category: categories.items[0].name,
      benefit_summary: '按参保人数给予一次性补贴', source_url: 'https://www.gov.cn/zhengce/example',
      guide: { who_qualifies: '辖区内小微企业', how_to_apply: '线上申报', contact: '12345' },
      rule: { field: 'uscc', op: 'in', value: usccs },
    }, fields || {}), token), 201, 'create policy');
    expect(await raw('POST', '/v1/policies/' + draft.id + '/publish', undefined, token), 200,
      'publish policy');
    return draft;
  }

  async function addMembership(personId, uscc, role) {
    return expect(await raw('PUT', '/v1/admin/people/' + personId + '/memberships/' + uscc,
      { role: role || 'staff' }, await admin()), 200, 'add membership');
  }

  /** An enterprise other than `exceptUscc`, found through the seeded people. */
  async function otherEnterprise(exceptUscc) {
    for (let n = 2; n < 40; n += 1) {
      const login = await raw('POST', '/v1/auth/login', { phone: seededPhone(n), password: demo.password });
      if (login.status !== 200) continue;
      const me = await raw('GET', '/v1/me', undefined, login.body.access_token);
      const other = me.body.enterprises.filter((e) => e.uscc !== exceptUscc)[0];
      if (other) return { uscc: other.uscc, personId: me.body.id };
    }
    throw new Error('no second enterprise in the seed');
  }

  return { raw, admin, publishNotice, publishPolicy, addMembership, otherEnterprise };
}

/**
 * Start everything; resolves with {baseUrl, wechatUrl, fcmUrl, dataDir, demo, logs(), stop()}
 * plus the operator helpers (raw, admin, publishNotice, publishPolicy, addMembership,
 * otherEnterprise).
 * `demo` holds the seeded logins: {phone, password, admin: {username, password}}.
 */
async function startBackend(options) {
  const opts = options || {};
  const bin = venvBin();
  const entpage = path.join(bin, 'entpage');
  const python = path.join(bin, 'python');
  [entpage, python].forEach((file) => {
    if (!fs.existsSync(file)) {
      throw new Error(file + ' is missing: run `make install` (or set ENTPAGE_VENV_BIN)');
    }
  });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'entpage-miniprogram-'));
  const children = [];
  const stop = async () => {
    await Promise.all(children.map(stopChild));
    if (!opts.keepDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const baseEnv = backendEnv(dataDir);
    const wechat = await startFake(python, 'push.fakes.wechat', path.join(dataDir, 'wechat.log'), baseEnv);
    children.push(wechat.child);
    const fcm = await startFake(python, 'push.fakes.fcm', path.join(dataDir, 'fcm.log'), baseEnv);
    children.push(fcm.child);
    const env = backendEnv(dataDir, {
      ENTPAGE_WECHAT_API_BASE: wechat.url,
      ENTPAGE_FCM_ENDPOINT: fcm.url,
    });
    const setupLog = path.join(dataDir, 'setup.log');
    runStep(entpage, ['migrate'], env, setupLog);
    const seeded = runStep(entpage, ['seed', '--enterprises', String(opts.enterprises || 50)],
      env, setupLog);
    const port = opts.port || await freePort();
    const serveLog = path.join(dataDir, 'serve.log');
    const out = fs.openSync(serveLog, 'a');
    const server = spawn(entpage, ['serve', '--host', '127.0.0.1', '--port', String(port)],
      { cwd: REPO_ROOT, env, stdio: ['ignore', out, out] });
    children.push(server);
    const baseUrl = 'http://127.0.0.1:' + port;
    await waitForHealth(baseUrl, server, serveLog, opts.healthTimeoutMs || 30000);
    const staff = /enterprise staff \(login\): (\d+) \/ (\S+)/.exec(seeded);
    const admin = /admin \(operator-login\): (\S+) \/ (\S+)/.exec(seeded);
    const demo = {
      phone: staff ? staff[1] : seededPhone(1),
      password: staff ? staff[2] : 'demo-password',
      admin: { username: admin ? admin[1] : 'admin', password: admin ? admin[2] : 'demo-password' },
    };
    return Object.assign({
      baseUrl,
      wechatUrl: wechat.url,
      fcmUrl: fcm.url,
      dataDir,
      demo,
      logs: () => fs.readFileSync(serveLog, 'utf8'),
      stop,
    }, operatorHelpers(baseUrl, demo));
  } catch (error) {
    await stop();
    throw error;
  }
}

module.exports = { startBackend, freePort, backendEnv, venvBin, seededPhone, REPO_ROOT };

if (require.main === module) {
  if (process.env.NODE_TEST_CONTEXT) {
    // Picked up by `node --test` (every .js in test/ is a test file): check the cheap parts.
    const test = require('node:test');
    const assert = require('node:assert/strict');
    test('live-backend helper: free ports and an isolated environment', async () => {
      const port = await freePort();
      assert.ok(port > 0 && port < 65536);
      process.env.ENTPAGE_DATABASE_URL = 'postgres://someone@db/prod';
      const env = backendEnv('/tmp/x');
      delete process.env.ENTPAGE_DATABASE_URL;
      assert.equal(env.ENTPAGE_DATABASE_URL, undefined, 'never inherit a database URL');
      assert.equal(env.ENTPAGE_DATA_DIR, '/tmp/x');
    });
  } else {
    startBackend({ port: Number(process.env.PORT || 0) || undefined, keepDataDir: false })
      .then((backend) => {
        process.stdout.write('entpage backend: ' + backend.baseUrl + '\nfake WeChat: '
          + backend.wechatUrl + '\ndemo login: ' + backend.demo.phone + ' / '
          + backend.demo.password + '\n(Ctrl-C stops it)\n');
        const shutdown = () => backend.stop().then(() => process.exit(0));
        process.on('SIGINT', shutdown);
        process.on('SIGTERM', shutdown);
      })
      .catch((error) => {
        process.stderr.write(String(error && error.stack ? error.stack : error) + '\n');
        process.exit(1);
      });
  }
}
