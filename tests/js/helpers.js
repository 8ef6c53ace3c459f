'use strict';
// Shared set-up for the package tests: a developer server on 127.0.0.1, an app directory laid out
// as "构建 npm" would, and a simulator on a fake clock.
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { serveMockWeChat, alipayTestKeys } = require('../../dev-server/mock-wechat.js');
const { startServer } = require('../../scripts/server-process.js');
const crypto = require('crypto');
const { startTestServer } = require('../simulator/test-server.js');
const { createSimulator, makeAppDir } = require('../simulator/simulator.js');
const { createFakeClock } = require('../simulator/clock.js');
const { SimStorage } = require('../simulator/storage.js');

const DIST = path.join(__dirname, '..', '..', 'miniprogram_dist');

function requireBuiltPackage() {
  if (!fs.existsSync(path.join(DIST, 'mp_session_bg.wasm.br'))) {
    throw new Error('miniprogram_dist/ is missing: run `npm run build` (npm test does it first)');
  }
}

// One server and app directory per test file; a fresh simulator (and storage) per test. The
// server is mp-session-server behind the test-side proxy with the suites' fault switches
// (tests/simulator/test-server.js): world.server is its handle.
async function startWorld() {
  requireBuiltPackage();
  const server = await startTestServer();
  const { url, wechatUrl } = server;
  const appDir = makeAppDir(fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-app-')), DIST);
  const close = () => {
    fs.rmSync(appDir, { recursive: true, force: true });
    return server.close();
  };
  return { server, url, wechatUrl, appDir, close };
}

// mp-session-server (the binary a team deploys) on a fresh SQLite data directory, beside the mock
// WeChat it exchanges codes with: { url, wechatUrl, mock, adminToken, close() }. `mock` takes the
// MockWeChat's options (a fake clock's `now`, `acceptDeviceCodes`); `wechatBase(url)` may put
// something between the server and the mock (the server then calls what it returns).
async function startLoginServer({ mock = {}, wechatBase = (url) => url } = {}) {
  const keys = alipayTestKeys();
  const wechat = await serveMockWeChat(Object.assign({ alipay: keys.mock }, mock));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-server-'));
  const adminToken = crypto.randomBytes(16).toString('hex');
  // No rate limits here: the suites log in as often as their scenarios need (tests/rules.rs in
  // server/ checks the limits).
  const server = await startServer({ dataDir, wechatUrl: await wechatBase(wechat.url), adminToken, alipay: keys.server, args: ['--auth-rate-per-address=0', '--auth-rate-per-openid=0'] });
  return {
    url: server.url,
    wechatUrl: wechat.url,
    mock: wechat.mock,
    adminToken,
    async close() {
      await server.stop();
      await wechat.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// The mock WeChat answers `errcode` to the next code exchange (or phone exchange: api 'phone').
async function wechatError(wechatUrl, errcode, api = 'code2session') {
  const res = await fetch(`${wechatUrl}/mock-wechat/errors`, { method: 'POST', body: JSON.stringify({ api, errcode }) });
  assert.equal(res.status, 200);
}

async function admin(url, route, body) {
  const res = await fetch(url + route, { method: body === undefined ? 'GET' : 'POST', body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json();
}

// An Alipay app directory: the package's files in workers/mp-session/ (as the README says to copy
// them) and app.json declaring the workers directory; `worker` replaces the Worker's script.
function alipayApp(world, { worker } = {}) {
  const dir = path.join(world.appDir, 'workers', 'mp-session');
  fs.mkdirSync(dir, { recursive: true });
  for (const file of fs.readdirSync(DIST)) fs.copyFileSync(path.join(DIST, file), path.join(dir, file));
  if (worker !== undefined) fs.writeFileSync(path.join(dir, 'worker.js'), worker);
  fs.writeFileSync(path.join(world.appDir, 'app.json'), JSON.stringify({ pages: [], workers: 'workers' }));
}

// The login route of each host's profile on mp-session-server.
const LOGIN_PATHS = { tt: '/auth/douyin/login', alipay: '/auth/alipay/login' };

function launch(world, profile, opts = {}) {
  const clock = opts.clock || createFakeClock();
  const logs = [];
  const storage = opts.storage || new SimStorage();
  const sim = createSimulator({ appDir: world.appDir, serverUrl: world.url, wechatUrl: world.wechatUrl, profile, clock, storage, countCrossings: opts.countCrossings, douyinLoggedIn: opts.douyinLoggedIn });
  // Capture what the SDK might print, to check tokens never reach a log.
  sim.context.console = new Proxy(console, { get: (target, level) => (...args) => logs.push(args.map(String).join(' ')) });
  const { createClient, MpSessionError } = sim.require('mp-session');
  const client = (options = {}) => createClient(Object.assign({ baseUrl: world.url, allowInsecureHttp: true }, options));
  return { sim, clock, storage, logs, createClient, MpSessionError, client };
}

// Waits for `promise`, moving the fake clock forward while it is pending (for backoff pauses and
// timeouts). Never waits on real time beyond letting real IO complete.
async function settle(promise, clock, { stepMs = 250, maxSteps = 400 } = {}) {
  let done = false;
  const result = promise.then((value) => ({ value }), (error) => ({ error }));
  result.then(() => { done = true; });
  for (let i = 0; i < maxSteps && !done; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2)); // let real HTTP progress
    if (!done) await clock.advance(stepMs);
  }
  if (!done) throw new Error('promise did not settle');
  return result;
}

async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

// Rejections nobody handles would end a mini-program's JS context with an error (Node exits 1).
function watchUnhandled() {
  const seen = [];
  const onUnhandled = (reason) => seen.push(reason);
  process.on('unhandledRejection', onUnhandled);
  return {
    async check() {
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      process.off('unhandledRejection', onUnhandled);
      assert.deepEqual(seen, [], 'no rejection may go unhandled');
    },
  };
}

module.exports = { alipayApp, LOGIN_PATHS, startWorld, startLoginServer, wechatError, watchUnhandled, launch, admin, settle, rejection, requireBuiltPackage, DIST };
