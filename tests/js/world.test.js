'use strict';
// The test world itself: the test server (mp-session-server behind the proxy with the suites'
// switches and counters), the mock WeChat and the simulator (storage limits, relaunch, request cap, wasm loading).
// The SDK's tests are only as good as these.
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startTestServer } = require('../simulator/test-server.js');
const { createSimulator } = require('../simulator/simulator.js');
const { createFakeClock } = require('../simulator/clock.js');
const { SimStorage, MAX_KEY_BYTES } = require('../simulator/storage.js');
const { admin } = require('./helpers.js');

const tempDir = (label) => fs.mkdtempSync(path.join(os.tmpdir(), `mp-session-${label}-`));

async function post(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: Object.assign({ 'content-type': 'application/json' }, headers), body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function codeFor(url, openid = 'o-world') {
  return (await (await fetch(`${url}/mock-wechat/login?openid=${openid}`)).json()).code;
}

async function me(url, token) {
  return (await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status;
}

// Each test starts its own: the binary takes a few milliseconds to start.
async function withTestServer(options, use) {
  const server = await startTestServer(options);
  try {
    return await use(server.url, server);
  } finally {
    await server.close();
  }
}

describe('the test server (mp-session-server behind the test proxy) and the mock WeChat', () => {
  test('a code is exchanged once: reuse answers 40163, an unknown code 40029, each with its status', async () => {
    await withTestServer({}, async (url) => {
      const code = await codeFor(url);
      const first = await post(`${url}/auth/login`, { code });
      assert.equal(first.status, 200);
      assert.equal(typeof first.body.token, 'string');
      assert.equal(first.body.expiresIn, 7200);
      assert.deepEqual(Object.keys(first.body).sort(), ['expiresIn', 'isNewUser', 'refreshExpiresIn', 'refreshToken', 'token', 'user'], 'openid and session_key stay on the server');
      assert.deepEqual(Object.keys(first.body.user).sort(), ['avatarUrl', 'id', 'nickname', 'phone']);
      const reused = await post(`${url}/auth/login`, { code });
      assert.deepEqual([reused.status, reused.body.errcode], [400, 40163]);
      const unknown = await post(`${url}/auth/login`, { code: 'never-issued' });
      assert.deepEqual([unknown.status, unknown.body.errcode], [400, 40029]);
    });
  });

  test('run for DevTools, the mock takes a code it did not issue, still only once', async () => {
    await withTestServer({ mock: { acceptDeviceCodes: true } }, async (url) => {
      const first = await post(`${url}/auth/login`, { code: 'from-devtools-wx-login' });
      assert.equal(first.status, 200);
      const reused = await post(`${url}/auth/login`, { code: 'from-devtools-wx-login' });
      assert.deepEqual([reused.status, reused.body.errcode], [400, 40163]);
    });
  });

  test('a code older than five minutes is refused with 40029', async () => {
    const clock = createFakeClock();
    await withTestServer({ mock: { now: clock.now } }, async (url) => {
      const code = await codeFor(url);
      clock.jump(5 * 60 * 1000 + 1);
      const late = await post(`${url}/auth/login`, { code });
      assert.deepEqual([late.status, late.body.errcode], [400, 40029]);
    });
  });

  test('WeChat errcodes pass through with the statuses of DESIGN.md', async () => {
    await withTestServer({}, async (url) => {
      for (const [errcode, status] of [[-1, 503], [40029, 400], [40163, 400], [45011, 429], [40226, 403]]) {
        await admin(url, '/admin/wechat-error', { errcode });
        const reply = await post(`${url}/auth/login`, { code: await codeFor(url) });
        assert.deepEqual([reply.status, reply.body.errcode], [status, errcode]);
        assert.equal(typeof reply.body.errmsg, 'string');
      }
    });
  });

  test('the mock rate-limits a user past 100 exchanges a minute with 45011', async () => {
    await withTestServer({}, async (url) => {
      for (let i = 0; i < 100; i++) assert.equal((await post(`${url}/auth/login`, { code: await codeFor(url, 'o-busy') })).status, 200);
      const limited = await post(`${url}/auth/login`, { code: await codeFor(url, 'o-busy') });
      assert.deepEqual([limited.status, limited.body.errcode], [429, 45011]);
      assert.equal((await post(`${url}/auth/login`, { code: await codeFor(url, 'o-calm') })).status, 200, 'other users are not limited');
    });
  });

  test('the lifetime clients are told; revoke-access keeps refresh tokens, revoke-all ends every session', async () => {
    await withTestServer({}, async (url) => {
      assert.equal((await admin(url, '/admin/token-lifetime', { seconds: 60 })).ok, true);
      const login = (await post(`${url}/auth/login`, { code: await codeFor(url) })).body;
      assert.equal(login.expiresIn, 60);
      assert.equal(await me(url, login.token), 200);
      await admin(url, '/admin/revoke-access', {});
      assert.equal(await me(url, login.token), 401, 'the access token is retired on the server');
      const refreshed = await post(`${url}/auth/refresh`, { refreshToken: login.refreshToken });
      assert.deepEqual([refreshed.status, refreshed.body.expiresIn], [200, 60]);
      assert.equal(await me(url, refreshed.body.token), 200);
      await admin(url, '/admin/revoke-all', {});
      assert.equal(await me(url, refreshed.body.token), 401);
      assert.equal((await post(`${url}/auth/refresh`, { refreshToken: refreshed.body.refreshToken })).status, 401);
      assert.equal((await admin(url, '/admin/token-lifetime', { seconds: -1 })).errmsg, 'seconds must be a positive integer');
    });
  });

  test('the counters the suites read: a refresh token presented again is counted as reuse', async () => {
    await withTestServer({}, async (url) => {
      const login = (await post(`${url}/auth/login`, { code: await codeFor(url) })).body;
      assert.equal((await post(`${url}/auth/refresh`, { refreshToken: login.refreshToken })).status, 200);
      assert.equal((await post(`${url}/auth/refresh`, { refreshToken: login.refreshToken })).status, 401);
      assert.equal((await post(`${url}/auth/refresh`, { refreshToken: 'made-up' })).status, 401);
      const stats = await admin(url, '/admin/stats');
      assert.deepEqual([stats.logins, stats.loginsGranted, stats.code2Session, stats.refreshes, stats.refreshesRefused, stats.refreshReuse], [1, 1, 1, 1, 2, 1]);
    });
  });

  test('the test routes serve only callers the server knows; an injected API error answers the next call only', async () => {
    await withTestServer({}, async (url) => {
      const { token } = (await post(`${url}/auth/login`, { code: await codeFor(url) })).body;
      const echo = await post(`${url}/api/echo`, { hello: 1 }, { authorization: `Bearer ${token}` });
      assert.deepEqual([echo.status, echo.body.echo], [200, '{"hello":1}']);
      assert.equal((await post(`${url}/api/echo`, {}, { authorization: 'Bearer made-up' })).status, 401);
      assert.equal((await post(`${url}/api/never`, {}, { authorization: `Bearer ${token}` })).status, 401);
      await admin(url, '/admin/inject-api', { status: 500 });
      assert.equal(await me(url, token), 500);
      assert.equal(await me(url, token), 200);
      assert.equal((await admin(url, '/admin/stats')).unauthorized, 2);
    });
  });
});

describe('simulator', () => {
  test('storage: 1 MB per key and 10 MB in total, with WeChat’s messages', () => {
    const storage = new SimStorage();
    assert.throws(() => storage.set('big', 'x'.repeat(MAX_KEY_BYTES)), /exceed storage item max length/);
    const chunk = 'y'.repeat(MAX_KEY_BYTES - 100);
    for (let i = 0; i < 10; i++) storage.set(`k${i}`, chunk); // ten values just under 1 MB fit
    assert.ok(storage.totalBytes() <= 10 * MAX_KEY_BYTES);
    assert.throws(() => storage.set('one-more', chunk), /exceed storage max size 10Mb/);
    storage.remove('k0');
    storage.set('one-more', chunk);
  });

  test('a relaunch finds what was stored: storage persists to its file', () => {
    const file = path.join(tempDir('storage'), 'storage.json');
    new SimStorage(file).set('session', { token: 't', n: 1 });
    assert.deepEqual(new SimStorage(file).get('session'), { found: true, value: { token: 't', n: 1 } });
  });

  test('wx.request: real HTTP, at most 10 in flight, the rest queued; every call on the timeline', async () => {
    await withTestServer({}, async (url) => {
      const { token } = (await post(`${url}/auth/login`, { code: await codeFor(url) })).body;
      const sim = createSimulator({ appDir: tempDir('sim-app'), serverUrl: url, profile: 'ios' });
      const answers = Array.from({ length: 15 }, () => new Promise((resolve, reject) => sim.wx.request({
        url: `${url}/api/slow`, header: { authorization: `Bearer ${token}` }, success: resolve, fail: reject,
      })));
      while ((await admin(url, '/admin/stats')).held < 10) await new Promise((resolve) => setImmediate(resolve));
      assert.equal((await admin(url, '/admin/stats')).held, 10, 'the eleventh waits in the simulator');
      await admin(url, '/admin/release', {});
      while ((await admin(url, '/admin/stats')).held < 5) await new Promise((resolve) => setImmediate(resolve));
      await admin(url, '/admin/release', {});
      assert.deepEqual((await Promise.all(answers)).map((r) => r.statusCode), Array(15).fill(200));
      assert.equal(sim.count('request'), 15);
      assert.match(sim.formatTimeline(), /request GET http:\/\/127\.0\.0\.1:\d+\/api\/slow/);
    });
  });

  test('wx.login gives a fresh one-time code; injected faults fail or hang it', async () => {
    await withTestServer({}, async (url) => {
      const sim = createSimulator({ appDir: tempDir('sim-app'), serverUrl: url, profile: 'android' });
      const login = () => new Promise((resolve) => sim.wx.login({ success: resolve, fail: resolve }));
      const [a, b] = [await login(), await login()];
      assert.match(a.code, /^[0-9a-f]{32}$/);
      assert.notEqual(a.code, b.code);
      sim.faults.login.push('fail');
      assert.match((await login()).errMsg, /^login:fail/);
      sim.faults.login.push('hang');
      let answered = false;
      sim.wx.login({ complete: () => { answered = true; } });
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(answered, false);
    });
  });

  test('WXWebAssembly.instantiate takes only a package path to a .wasm or .wasm.br file', async () => {
    const sim = createSimulator({ appDir: tempDir('sim-app'), serverUrl: 'http://127.0.0.1:9', profile: 'ios' });
    const refused = (arg) => assert.rejects(sim.evaluate('WXWebAssembly').instantiate(arg, {}));
    await refused(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    await refused('https://cdn.example.com/a.wasm');
    await refused('/a.js');
    await assert.rejects(sim.evaluate('WXWebAssembly').instantiate('/missing.wasm', {}), /no such file in the code package/);
    assert.equal(sim.evaluate('typeof WebAssembly'), 'undefined');
  });

  test('require resolves relative paths and miniprogram_npm/, and nothing from Node', () => {
    const appDir = tempDir('sim-app');
    fs.mkdirSync(path.join(appDir, 'miniprogram_npm', 'dep'), { recursive: true });
    fs.writeFileSync(path.join(appDir, 'miniprogram_npm', 'dep', 'index.js'), 'module.exports = 41;');
    fs.writeFileSync(path.join(appDir, 'util.js'), "module.exports = require('dep') + 1;");
    const sim = createSimulator({ appDir, serverUrl: 'http://127.0.0.1:9', profile: 'ios' });
    assert.equal(sim.require('./util'), 42);
    assert.throws(() => sim.require('fs'), /module not found in the mini-program: fs/);
  });
});
