'use strict';
// The test world itself: the developer server (durable store, WeChat's errcodes, admin controls),
// the embedded mock WeChat and the simulator (storage limits, relaunch, request cap, wasm loading).
// The SDK's tests are only as good as these.
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { createServer } = require('../../dev-server/server.js');
const { createSimulator } = require('../simulator/simulator.js');
const { createFakeClock } = require('../simulator/clock.js');
const { SimStorage, MAX_KEY_BYTES } = require('../simulator/storage.js');
const { admin, withServer } = require('./helpers.js');

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

describe('developer server and mock WeChat', () => {
  test('a code is exchanged once: reuse answers 40163, an unknown code 40029, each with its status', async () => {
    await withServer({}, async (url) => {
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
    await withServer({ acceptDeviceCodes: true }, async (url) => {
      const first = await post(`${url}/auth/login`, { code: 'from-devtools-wx-login' });
      assert.equal(first.status, 200);
      const reused = await post(`${url}/auth/login`, { code: 'from-devtools-wx-login' });
      assert.deepEqual([reused.status, reused.body.errcode], [400, 40163]);
    });
  });

  test('a code older than five minutes is refused with 40029', async () => {
    const clock = createFakeClock();
    await withServer({ now: clock.now }, async (url) => {
      const code = await codeFor(url);
      clock.jump(5 * 60 * 1000 + 1);
      const late = await post(`${url}/auth/login`, { code });
      assert.deepEqual([late.status, late.body.errcode], [400, 40029]);
    });
  });

  test('WeChat errcodes pass through with the statuses of DESIGN.md', async () => {
    await withServer({}, async (url) => {
      for (const [errcode, status] of [[-1, 503], [40029, 400], [40163, 400], [45011, 429], [40226, 403]]) {
        await admin(url, '/admin/wechat-error', { errcode });
        const reply = await post(`${url}/auth/login`, { code: await codeFor(url) });
        assert.deepEqual([reply.status, reply.body.errcode], [status, errcode]);
        assert.equal(typeof reply.body.errmsg, 'string');
      }
    });
  });

  test('the mock rate-limits a user past 100 exchanges a minute with 45011', async () => {
    await withServer({}, async (url) => {
      for (let i = 0; i < 100; i++) assert.equal((await post(`${url}/auth/login`, { code: await codeFor(url, 'o-busy') })).status, 200);
      const limited = await post(`${url}/auth/login`, { code: await codeFor(url, 'o-busy') });
      assert.deepEqual([limited.status, limited.body.errcode], [429, 45011]);
      assert.equal((await post(`${url}/auth/login`, { code: await codeFor(url, 'o-calm') })).status, 200, 'other users are not limited');
    });
  });

  test('tokens expire after the lifetime set by admin; revoke-all ends every session', async () => {
    const clock = createFakeClock();
    await withServer({ now: clock.now }, async (url) => {
      assert.equal((await admin(url, '/admin/token-lifetime', { seconds: 60 })).ok, true);
      const { body } = await post(`${url}/auth/login`, { code: await codeFor(url) });
      assert.equal(body.expiresIn, 60);
      assert.equal(await me(url, body.token), 200);
      clock.jump(60_000);
      assert.equal(await me(url, body.token), 401);
      const second = (await post(`${url}/auth/login`, { code: await codeFor(url) })).body.token;
      await admin(url, '/admin/revoke-all', {});
      assert.equal(await me(url, second), 401);
      assert.equal((await admin(url, '/admin/token-lifetime', { seconds: -1 })).errmsg, 'seconds must be a positive integer');
    });
  });

  test('an injected API error answers the next call only', async () => {
    await withServer({}, async (url) => {
      const { token } = (await post(`${url}/auth/login`, { code: await codeFor(url) })).body;
      await admin(url, '/admin/inject-api', { status: 500 });
      assert.equal(await me(url, token), 500);
      assert.equal(await me(url, token), 200);
    });
  });

  test('users and sessions survive a restart; the data file holds no token', async () => {
    const dataDir = tempDir('server-data');
    const logs = [];
    let server = createServer({ dataDir, log: (line) => logs.push(line) });
    let url = await server.listen();
    const { token } = (await post(`${url}/auth/login`, { code: await codeFor(url, 'o-durable') })).body;
    const userId = (await (await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } })).json()).userId;
    await server.close();

    const files = fs.readdirSync(dataDir).map((f) => fs.readFileSync(path.join(dataDir, f), 'utf8')).join('\n');
    assert.ok(!files.includes(token), 'tokens are stored hashed');
    assert.ok(!logs.join('\n').includes(token), 'tokens never reach the log');

    server = createServer({ dataDir });
    url = await server.listen();
    try {
      const res = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).userId, userId);
      assert.deepEqual(await server.store.counts(), { users: 1, sessions: 1 });
    } finally {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
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
    await withServer({}, async (url) => {
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
    await withServer({}, async (url) => {
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
