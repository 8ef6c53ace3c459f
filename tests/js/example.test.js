'use strict';
// example-miniprogram/ as WeChat's own builder sees it (miniprogram-ci: packNpm, analyseCode,
// checkCodeQuality), then its app and pages run in the simulator from the builder's output, with
// the buttons tapped by calling the page handlers. Also: its TypeScript page type-checks.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { createSimulator } = require('../simulator/simulator.js');
const { startLoginServer, wechatError, DIST } = require('./helpers.js');

const ROOT = path.join(__dirname, '..', '..');
const EXAMPLE = path.join(ROOT, 'example-miniprogram');
const PACKED = path.join(EXAMPLE, 'miniprogram_npm', 'mp-session');
// What example-miniprogram/config.js points at; the simulator routes it to the test server.
const CONFIGURED_SERVER = 'http://127.0.0.1:8080';

// What WeChat's builder reports on the example, run once (tests/support/miniprogram-ci-check.js).
let report;

before(() => {
  // What a developer does: npm install (links mp-session), then 构建 npm.
  execFileSync('npm', ['install', '--no-package-lock', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: EXAMPLE, stdio: 'ignore' });
  // npm's hidden lockfile lists the linked SDK's whole dev tree (300 KB). DevTools never uploads
  // node_modules/, but miniprogram-ci's size check counts this dotfile, so it would skew the size.
  fs.rmSync(path.join(EXAMPLE, 'node_modules', '.package-lock.json'), { force: true });
  const output = execFileSync(process.execPath, [path.join(ROOT, 'tests', 'support', 'miniprogram-ci-check.js'), EXAMPLE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240000 });
  report = JSON.parse(output.trim().split('\n').at(-1));
});

test('构建 npm (miniprogram-ci packNpm) puts the package under miniprogram_npm/ with no warnings', () => {
  assert.deepEqual(report.packNpmWarnings, []);
  assert.deepEqual(fs.readdirSync(PACKED).sort(), fs.readdirSync(DIST).sort(), 'the builder ships exactly miniprogram_dist/');
  for (const file of ['index.js', 'mp_session_bg.wasm.br']) assert.ok(fs.existsSync(path.join(PACKED, file)), `missing ${file}`);
});

test('analyseCode finds every dependency; the SDK adds to the package exactly what it ships', () => {
  assert.deepEqual(report.unresolved, []);
  const sdkFiles = report.files.filter((f) => f.path.startsWith('miniprogram_npm/mp-session/'));
  const sdkBytes = sdkFiles.reduce((sum, f) => sum + f.size, 0);
  const distBytes = fs.readdirSync(DIST).filter((f) => !f.endsWith('.d.ts')).reduce((sum, f) => sum + fs.statSync(path.join(DIST, f)).size, 0);
  assert.equal(sdkBytes, distBytes);
  console.log(`# analyseCode: mp-session adds ${sdkBytes} B to the main package (${sdkFiles.map((f) => `${path.basename(f.path)} ${f.size}`).join(', ')})`);
});

test('checkCodeQuality passes its package size check (and every other check)', () => {
  const size = report.quality.find((r) => r.name === 'PACKAGE_SIZE_LIMIT');
  assert.ok(size && size.success, JSON.stringify(size));
  assert.deepEqual(report.quality.filter((r) => !r.success).map((r) => r.name), []);
  console.log(`# checkCodeQuality: main package ${size.detail.__APP__} B ("${size.text}"); all ${report.quality.length} checks passed`);
});

test('every event binding in the example’s WXML names a handler its page or component defines', () => {
  const app = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'app.json'), 'utf8'));
  for (const page of app.pages.concat(['components/privacy-popup/privacy-popup'])) {
    const wxml = fs.readFileSync(path.join(EXAMPLE, `${page}.wxml`), 'utf8');
    const source = fs.readFileSync(path.join(EXAMPLE, `${page}.js`), 'utf8');
    const handlers = [...wxml.matchAll(/bind:?\w+="(\w+)"/g)].map((m) => m[1]);
    assert.ok(handlers.length > 0);
    for (const handler of handlers) assert.match(source, new RegExp(`\\n {2,4}${handler}\\(`), `${page}.js lacks ${handler}`);
  }
});

test('the TypeScript page type-checks against index.d.ts and miniprogram-api-typings', () => {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', EXAMPLE], { stdio: 'pipe' });
});

// mp-session-server with the mock WeChat, and a launcher of the example app on it (a fresh
// simulator each launch, storage kept in a file across launches), cleaned up after test `t`.
async function exampleWorld(t, profile) {
  const server = await startLoginServer();
  const { url, wechatUrl } = server;
  const storageFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-example-')), 'storage.json');
  t.after(() => {
    fs.rmSync(path.dirname(storageFile), { recursive: true, force: true });
    return server.close();
  });
  const launchApp = () => {
    const sim = createSimulator({ appDir: EXAMPLE, serverUrl: url, wechatUrl, profile, storageFile, hosts: { [CONFIGURED_SERVER]: url } });
    sim.context.console = { log() {}, info() {}, warn() {}, error() {}, debug() {} };
    sim.launch();
    return sim;
  };
  return { server, url, wechatUrl, launchApp };
}

for (const profile of ['ios', 'android']) {
  test(`${profile}: the example's pages, tapped through, render each login state`, async (t) => {
    const { wechatUrl, launchApp: open } = await exampleWorld(t, profile);
    const toasts = (sim) => sim.timeline.filter((e) => e.api === 'showToast').map((e) => e.detail);

    // Cold launch: app.js starts the login in onLaunch, the page joins it (one wx.login).
    let sim = open();
    let page = sim.openPage('pages/index/index');
    assert.equal(page.data.status, 'loggingIn');
    assert.equal(page.data.statusText, '登录中…');
    await page.ready;
    assert.equal(page.data.status, 'loggedIn');
    assert.equal(page.data.statusText, '已登录');
    assert.match(page.data.expiresText, /^有效期至 \d{4}-\d\d-\d\d \d\d:\d\d$/);
    assert.equal(sim.count('login'), 1);

    await page.onTapCallApi();
    assert.match(page.data.apiText, /^接口返回：用户 [0-9a-f]{12}$/);

    // Relaunch: the stored session is used, no wx.login.
    sim = open();
    page = sim.openPage('pages/index/index');
    await page.ready;
    assert.equal(page.data.status, 'loggedIn');
    assert.equal(sim.count('login'), 0);

    await page.onTapForceLogin();
    assert.equal(page.data.status, 'loggedIn');
    assert.equal(sim.count('login'), 1);

    // A login WeChat refuses: the error and its code on the page and in a toast.
    await wechatError(wechatUrl, 40226);
    await page.onTapForceLogin();
    assert.equal(page.data.status, 'error');
    assert.equal(page.data.errorCode, 'USER_BLOCKED');
    assert.equal(page.data.statusText, '登录失败：账号存在风险，已被限制');
    assert.deepEqual(toasts(sim), ['账号存在风险，已被限制 (USER_BLOCKED)']);

    await page.onTapLogin();
    assert.equal(page.data.status, 'loggedIn');
    assert.equal(page.data.errorCode, '');

    // The burst page: 20 requests share the session; after the server ends it they share one re-login.
    const burst = sim.openPage('pages/burst/burst');
    await burst.onTapFire();
    assert.match(burst.data.summary, /^20\/20 个成功，期间登录 0 次/);
    assert.equal(burst.data.failures, '');
    await burst.onTapRevoke();
    assert.equal(burst.data.summary, '会话已在服务器结束：下一批请求会共用一次重新登录');
    const loginsBefore = sim.count('login');
    await burst.onTapFire();
    assert.match(burst.data.summary, /^20\/20 个成功，期间登录 1 次/);
    assert.equal(sim.count('login') - loginsBefore, 1);
    assert.equal(page.data.status, 'loggedIn', 'the index page heard the re-login');

    await page.onTapLogout();
    assert.equal(page.data.status, 'loggedOut');
    assert.equal(page.data.statusText, '未登录');
    assert.equal(toasts(sim).at(-1), '已退出登录');
    assert.equal(sim.storage.get('mp-session').found, false);
  });
}

for (const profile of ['ios', 'android']) {
  test(`${profile}: 我的 — the kept login reply, one-tap phone login behind the privacy prompt, avatar and nickname`, async (t) => {
    const { launchApp } = await exampleWorld(t, profile);
    const open = () => {
      const sim = launchApp();
      // The page's privacy-popup, attached as WeChat attaches it when the page shows.
      const popup = sim.mountComponent('components/privacy-popup/privacy-popup');
      return { sim, popup, page: sim.openPage('pages/mine/mine') };
    };

    // Cold launch: the login reply's user and isNewUser come with the session (replyFields).
    let { sim, popup, page } = open();
    await page.ready;
    assert.equal(page.data.status, 'loggedIn');
    assert.match(page.data.user.id, /^[0-9a-f]{12}$/);
    assert.equal(page.data.isNewUser, true);
    assert.equal(page.data.user.phone, null);
    const userId = page.data.user.id;

    // 手机号一键登录: the privacy prompt first, then a login whose exchange carries the phone code.
    const tap = sim.tapOpenType('getPhoneNumber');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(popup.data.show, true, 'the privacy prompt is shown');
    assert.match(popup.data.contractName, /隐私保护指引/);
    popup.onAgree();
    const event = await tap;
    assert.equal(popup.data.show, false);
    await page.onGetPhoneNumber(event);
    assert.equal(page.data.notice, '手机号已绑定');
    assert.match(page.data.user.phone, /^1\d\d\*{4}\d{4}$/, 'the masked number');
    assert.equal(page.data.user.id, userId, 'the same user, now bound');
    assert.equal(page.data.isNewUser, false);
    assert.equal(sim.count('login'), 2, 'the cold login and the phone login');
    const stored = sim.storage.get('mp-session').value;
    assert.ok(!stored.includes(event.detail.code), 'the phone code never reaches storage');

    // Avatar: a temporary file, uploaded with the session; no second prompt once agreed.
    await page.onChooseAvatar(await sim.tapOpenType('chooseAvatar'));
    assert.equal(page.data.notice, '头像已更新');
    assert.match(page.data.user.avatarUrl, /\/files\/avatars\/[\w-]+\.png$/);
    assert.equal(sim.count('privacy prompt'), 1);

    // Nickname: saved, and a refused one shows the server's message and code.
    await page.onSaveNickname({ detail: { value: { nickname: ' 小明 ' } } });
    assert.equal(page.data.notice, '昵称已保存');
    assert.equal(page.data.user.nickname, '小明');
    await page.onSaveNickname({ detail: { value: { nickname: '<b>x</b>' } } });
    assert.notEqual(page.data.errorText, '');
    assert.match(page.data.errorCode, /^\d+$/);
    assert.equal(page.data.user.nickname, '小明', 'the refused nickname was not saved');

    // Relaunch: the kept reply comes back from storage, with no wx.login.
    ({ sim, popup, page } = open());
    await page.ready;
    assert.equal(page.data.status, 'loggedIn');
    assert.equal(page.data.user.id, userId);
    assert.match(page.data.user.phone, /^1\d\d\*{4}\d{4}$/);
    assert.equal(sim.count('login'), 0);
  });

  test(`${profile}: 我的 — refusing the privacy prompt leaves the session as it was`, async (t) => {
    const server = await startLoginServer();
    t.after(() => server.close());
    const sim = createSimulator({ appDir: EXAMPLE, serverUrl: server.url, wechatUrl: server.wechatUrl, profile, hosts: { [CONFIGURED_SERVER]: server.url } });
    sim.context.console = { log() {}, info() {}, warn() {}, error() {}, debug() {} };
    sim.launch();
    const popup = sim.mountComponent('components/privacy-popup/privacy-popup');
    const page = sim.openPage('pages/mine/mine');
    await page.ready;
    const tap = sim.tapOpenType('getPhoneNumber');
    await new Promise((resolve) => setImmediate(resolve));
    popup.onDisagree();
    await page.onGetPhoneNumber(await tap);
    assert.equal(page.data.errorText, '未授权手机号');
    assert.match(page.data.errorCode, /^getPhoneNumber:fail/);
    assert.equal(page.data.status, 'loggedIn');
    assert.equal(sim.count('login'), 1, 'no phone login was attempted');
  });
}
