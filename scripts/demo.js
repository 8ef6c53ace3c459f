'use strict';
// The main job: runs example-miniprogram/ in the simulator against mp-session-server (the server a
// team deploys, on SQLite in a temp directory, its WeChat being the mock WeChat; real HTTP on
// 127.0.0.1) and taps through the login cycle, printing every wx call, server log line and what
// the page shows, with timings. Each step checks what it should see and the demo stops with an
// explanation when it does not.
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { serveMockWeChat } = require('../dev-server/mock-wechat.js');
const { startServer, adminCall } = require('./server-process.js');
const { createSimulator, makeAppDir } = require('../tests/simulator/simulator.js');
const { SimStorage } = require('../tests/simulator/storage.js');

const root = path.join(__dirname, '..');
const EXAMPLE = path.join(root, 'example-miniprogram');
const CONFIGURED_SERVER = require(path.join(EXAMPLE, 'config.js')).baseUrl;
const PROFILE = process.env.DEMO_PROFILE || 'ios';

const started = Date.now();
let last = null; // the previous line, folded with identical ones into "(×N)"
function flush() {
  if (last && last.times > 1) console.log(`${last.stamp}  ${last.who.padEnd(6)} ${last.text}  (×${last.times})`);
  else if (last) console.log(`${last.stamp}  ${last.who.padEnd(6)} ${last.text}`);
  last = null;
}
function say(who, text) {
  if (last && last.who === who && last.text === text) {
    last.times++;
    return;
  }
  flush();
  last = { stamp: `+${String(Date.now() - started).padStart(5)} ms`, who, text, times: 1 };
}

function section(label) {
  flush();
  console.log(`\n── ${label} ──`);
}

class DemoFailure extends Error {}
function expect(condition, explanation) {
  if (!condition) throw new DemoFailure(explanation);
}

// The example as "构建 npm" lays it out: its own files plus miniprogram_dist/ under
// miniprogram_npm/mp-session/, in a temporary directory so the checkout is left alone.
function buildApp() {
  const appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-demo-'));
  fs.cpSync(EXAMPLE, appDir, { recursive: true, filter: (src) => !/[/\\](node_modules|miniprogram_npm|typescript)$/.test(src) });
  return makeAppDir(appDir, path.join(root, 'miniprogram_dist'));
}

async function main() {
  const wechat = await serveMockWeChat();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-demo-server-'));
  const adminToken = crypto.randomBytes(16).toString('hex');
  const server = await startServer({ dataDir, wechatUrl: wechat.url, adminToken, log: (line) => say('server', line) });
  const serverUrl = server.url;
  const operator = async (route, body) => {
    const { status } = await adminCall(serverUrl, adminToken, route, body);
    expect(status === 200, `the operator route ${route} answered HTTP ${status}`);
  };
  await operator('/admin/accounts', { username: 'demo', password: 'mp-session-demo' });
  const appDir = buildApp();
  const storage = new SimStorage(path.join(appDir, '.storage.json'));
  say('demo', `mp-session-server on ${serverUrl} (SQLite in ${dataDir}), its WeChat the mock on ${wechat.url}; the example's ${CONFIGURED_SERVER} is routed there`);
  say('demo', 'the operator made the demo account (POST /admin/accounts): demo / mp-session-demo');
  say('demo', `example-miniprogram/ in the ${PROFILE} simulator, built as 构建 npm would in ${appDir}`);

  let sim;
  const launch = (label) => {
    section(label);
    sim = createSimulator({
      appDir, serverUrl, wechatUrl: wechat.url, profile: PROFILE, storage, hosts: { [CONFIGURED_SERVER]: serverUrl },
      onCall: (api, detail) => api !== 'setData' && say('wx', detail ? `${api} ${detail}` : api),
    });
    sim.launch();
    return sim.openPage('pages/index/index');
  };
  const show = (page, keys) => say('page', keys.map((k) => page.data[k]).filter(Boolean).join(' · '));
  const exchanges = () => wechat.mock.stats.sessionsGiven;
  const refreshesUsed = async () => (await adminCall(serverUrl, adminToken, '/admin/stats')).body.refreshTokensUsed;

  let page = launch('1. launch: cold login (app.js onLaunch → ensureLogin)');
  await page.ready;
  show(page, ['statusText', 'expiresText']);
  expect(page.data.status === 'loggedIn', `the page shows "${page.data.statusText}" instead of 已登录`);
  expect(sim.count('login') === 1 && exchanges() === 1, `a cold start should make 1 wx.login and 1 exchange, saw ${sim.count('login')} and ${exchanges()}`);

  say('demo', 'tap 调用受保护接口');
  await page.onTapCallApi();
  show(page, ['apiText']);
  expect(/^接口返回/.test(page.data.apiText), `the protected API call showed "${page.data.apiText}"`);

  page = launch('2. relaunch: warm start from storage');
  await page.ready;
  show(page, ['statusText', 'expiresText']);
  expect(page.data.status === 'loggedIn', `after relaunch the page shows "${page.data.statusText}"`);
  expect(sim.count('login') === 0 && sim.count('request') === 0, `a warm start should need no wx.login and no request, saw ${sim.count('login')} and ${sim.count('request')}`);

  section('3. the server ends the session behind the SDK\'s back (burst page: 让服务器结束本会话)');
  const burst = sim.openPage('pages/burst/burst');
  await burst.onTapRevoke();
  show(burst, ['summary']);

  section('4. the next API call logs in again, transparently');
  const loginsBefore = sim.count('login');
  await page.onTapCallApi();
  show(page, ['apiText']);
  expect(/^接口返回/.test(page.data.apiText), `after revocation the API call showed "${page.data.apiText}"`);
  expect(sim.count('login') - loginsBefore === 1, `the revoked session should cost exactly 1 re-login, saw ${sim.count('login') - loginsBefore}`);

  section('4b. the operator retires the user\'s access tokens (refresh tokens live on): a refresh, no wx.login');
  const userId = /用户 ([0-9a-f]{12})/.exec(page.data.apiText)[1];
  say('demo', `operator: POST /admin/users/${userId}/expire-access`);
  await operator(`/admin/users/${userId}/expire-access`, {});
  const [refreshLogins, refreshes] = [sim.count('login'), await refreshesUsed()];
  await page.onTapCallApi();
  show(page, ['apiText']);
  expect(/^接口返回/.test(page.data.apiText), `after the access tokens expired the API call showed "${page.data.apiText}"`);
  const refreshed = (await refreshesUsed()) - refreshes;
  expect(sim.count('login') === refreshLogins && refreshed === 1,
    `an expired access token should cost 1 refresh and no wx.login, saw ${refreshed} and ${sim.count('login') - refreshLogins}`);

  say('demo', 'burst page: tap 同时发出 20 个请求');
  await burst.onTapFire();
  show(burst, ['summary', 'failures']);
  expect(/^20\/20 个成功，期间登录 0 次/.test(burst.data.summary), `the burst showed "${burst.data.summary}"`);

  section('5. 我的: one-tap phone login behind the privacy prompt, then avatar and nickname');
  const popup = sim.mountComponent('components/privacy-popup/privacy-popup');
  const mine = sim.openPage('pages/mine/mine');
  await mine.ready;
  show(mine, ['statusText']);
  expect(mine.data.user && /^[0-9a-f]{12}$/.test(mine.data.user.id), 'the 我的 page should show the kept reply\'s user');
  say('demo', 'tap 手机号一键登录');
  const tap = sim.tapOpenType('getPhoneNumber');
  await new Promise((resolve) => setImmediate(resolve));
  expect(popup.data.show, 'the privacy prompt should show before the phone number is given');
  say('page', `隐私弹窗：《${popup.data.contractName}》`);
  say('demo', 'tap 同意');
  popup.onAgree();
  const phoneLoginsBefore = sim.count('login');
  const phoneEvent = await tap;
  await mine.onGetPhoneNumber(phoneEvent);
  show(mine, ['notice']);
  say('page', `用户 ${mine.data.user.id} · 手机号 ${mine.data.user.phone}`);
  expect(mine.data.user.phone && sim.count('login') - phoneLoginsBefore === 1, `the phone login should bind a phone with one login, saw ${mine.data.user.phone} after ${sim.count('login') - phoneLoginsBefore}`);
  expect(!storage.get('mp-session').value.includes(phoneEvent.detail.code), 'the phone code must never reach storage');
  say('demo', 'tap the avatar, then 保存昵称');
  await mine.onChooseAvatar(await sim.tapOpenType('chooseAvatar'));
  show(mine, ['notice']);
  await mine.onSaveNickname({ detail: { value: { nickname: '小程序用户' } } });
  show(mine, ['notice']);
  expect(mine.data.user.nickname === '小程序用户' && /\/files\/avatars\//.test(mine.data.user.avatarUrl || ''), 'the profile should hold the new avatar and nickname');

  section('6. logout');
  await page.onTapLogout();
  show(page, ['statusText']);
  expect(page.data.status === 'loggedOut' && !storage.get('mp-session').found, 'logout should clear the page state and storage');

  section('7. account login: a client with silentLogin: false, the demo account by password');
  const { createClient } = sim.require('mp-session');
  const account = createClient({ baseUrl: CONFIGURED_SERVER, allowInsecureHttp: true, silentLogin: false, storageKey: 'mp-session-account', refresh: { path: '/auth/refresh' } });
  account.onChange((event) => event.type === 'loginRequired' && say('demo', 'event loginRequired: the app would show its login page'));
  const accountLogins = sim.count('login');
  const required = await account.ensureLogin().catch((error) => error);
  say('demo', `ensureLogin() → ${required.code}`);
  expect(required.code === 'LOGIN_REQUIRED', `without silentLogin, ensureLogin() should reject LOGIN_REQUIRED, got ${required.code || 'a session'}`);
  const state = await account.login({ path: '/auth/password', data: { username: 'demo', password: 'mp-session-demo' } });
  say('demo', `login({ path: '/auth/password' }) → a session until ${new Date(state.expiresAt).toISOString()}`);
  const me = await account.request({ url: '/api/me' });
  say('demo', `GET /api/me → ${me.statusCode}`);
  expect(me.statusCode === 200 && sim.count('login') === accountLogins, `the password session should call the API with no wx.login, saw HTTP ${me.statusCode} after ${sim.count('login') - accountLogins} wx.login`);
  expect(!JSON.stringify(storage.get('mp-session-account')).includes('mp-session-demo'), 'the password must never reach storage');

  const { body: totals } = await adminCall(serverUrl, adminToken, '/admin/stats');
  await server.stop();
  await wechat.close();
  flush();
  console.log(`\ndone in ${Date.now() - started} ms: cold login, protected API, warm relaunch, transparent re-login after revocation, a refresh without wx.login, 20 requests on one session, phone login and profile, logout, a password login.`);
  console.log(`server: ${exchanges()} code exchanges, ${totals.users} users, ${totals.refreshTokensUsed} refresh tokens spent, ${totals.accessTokenFetches} WeChat access-token fetch; no token or session_key ever logged.`);
  fs.rmSync(appDir, { recursive: true, force: true });
  fs.rmSync(dataDir, { recursive: true, force: true });
}

main().catch((error) => {
  flush();
  if (error instanceof DemoFailure) console.error(`\ndemo failed: ${error.message}`);
  else console.error(`\ndemo failed: ${error && error.code ? `${error.code}: ` : ''}${error && error.message ? error.message : error}`);
  process.exit(1);
});
