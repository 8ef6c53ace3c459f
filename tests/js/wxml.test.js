'use strict';
// example-miniprogram's pages rendered as WeChat renders them (tests/support/render-wxml.js: WeChat's
// wcc/wcsc compilers and its exparser component framework under jsdom), each in its main states,
// checked for what a person sees; and templates broken on purpose, which must not render. The
// compilers catch what miniprogram-ci's checks let through (an unclosed tag, a bad {{ }}), the
// renderer what WeChat would show as nothing (a data path the page lacks, an unknown tag, a
// wx:for over a string). No browser: scripts/screenshots.js takes the pictures.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { renderPage, pagesOf, transformRpx } = require('../support/render-wxml.js');
const { SHOTS } = require('../../scripts/screenshots.js');

const EXAMPLE = path.join(__dirname, '..', '..', 'example-miniprogram');
const PAGES = pagesOf(EXAMPLE);
const render = (page, data, options) => renderPage(EXAMPLE, page, data, options);
const attrs = (page, selector, name) => page.all(selector).map((el) => el.getAttribute(name));

test('every page in app.json renders with the data it starts with', () => {
  assert.ok(PAGES.length >= 2);
  for (const page of PAGES) {
    const rendered = render(page, {});
    assert.ok(rendered.text().length > 0, `${page} shows nothing`);
    assert.ok(rendered.navigationBarTitleText, `${page} has no title`);
    assert.deepEqual(rendered.warnings, [], `${page}: WeChat's template runtime warns`);
  }
});

test('every navigator leads to a page in app.json', () => {
  for (const page of PAGES) {
    for (const url of attrs(render(page, {}), 'wx-navigator', 'url')) {
      assert.ok(PAGES.includes(url.replace(/^\//, '').replace(/\?.*$/, '')), `${page} links to ${url}, not in app.json`);
    }
  }
});

test('index: the WXSS is compiled as WeChat does (page is the body, button is wx-button, rpx at 375 px)', () => {
  const { css } = render('pages/index/index', {});
  assert.match(css, /body \{ background: #f6f7f9; font-size: 15px;/, 'page { font-size: 30rpx } → body, 15px');
  assert.match(css, /\.card \{ margin: 12px; padding: 14px;/);
  assert.match(css, /wx-button \{ margin: 8px 12px; \}/);
  assert.match(css, /\.status \{ font-size: 20px; margin-bottom: 4px; \}/, 'the page’s own index.wxss');
  assert.equal(transformRpx(750), 375);
  assert.equal(transformRpx(1), 0.5);
});

test('index: logged out', () => {
  const page = render('pages/index/index', { status: 'loggedOut', statusText: '未登录', expiresText: '', errorCode: '', apiText: '' });
  assert.equal(page.text('.status'), '未登录');
  assert.deepEqual(attrs(page, '.status', 'class'), ['status status-loggedOut']);
  assert.deepEqual(page.texts('wx-button'), ['登录', '强制重新登录', '调用受保护接口 GET /api/me', '退出登录']);
  assert.deepEqual(attrs(page, 'wx-button', 'type'), ['primary', 'default', 'default', 'warn']);
  assert.deepEqual(page.all('wx-button[disabled], wx-button[loading]'), [], 'nothing is disabled');
  assert.deepEqual(page.all('.error, .muted'), [], 'no error, no expiry, no API result');
});

test('index: logging in — the login button spins and both login buttons are disabled', () => {
  const page = render('pages/index/index', { status: 'loggingIn', statusText: '登录中…' });
  assert.equal(page.text('.status'), '登录中…');
  const [login, force, api, logout] = page.all('wx-button');
  assert.ok(login.hasAttribute('loading') && login.hasAttribute('disabled'));
  assert.ok(force.hasAttribute('disabled') && !force.hasAttribute('loading'));
  assert.ok(!api.hasAttribute('disabled') && !logout.hasAttribute('disabled'));
});

test('index: logged in — the expiry, and what the protected API answered', () => {
  const page = render('pages/index/index', { status: 'loggedIn', statusText: '已登录', expiresText: '有效期至 2026-12-01 18:30', apiText: '接口返回：用户 5f2c9a1b7d3e' });
  assert.equal(page.text('.status'), '已登录');
  assert.deepEqual(attrs(page, '.status', 'class'), ['status status-loggedIn']);
  assert.deepEqual(page.texts('.muted'), ['有效期至 2026-12-01 18:30', '接口返回：用户 5f2c9a1b7d3e']);
  assert.deepEqual(page.all('.error'), []);
});

test('index: error — the reason and the code', () => {
  const page = render('pages/index/index', { status: 'error', statusText: '登录失败：账号存在风险，已被限制', errorCode: 'USER_BLOCKED' });
  assert.equal(page.text('.status'), '登录失败：账号存在风险，已被限制');
  assert.deepEqual(attrs(page, '.status', 'class'), ['status status-error']);
  assert.equal(page.text('.error'), '错误码：USER_BLOCKED');
  assert.deepEqual(page.all('wx-button[disabled]'), [], 'the user can try again');
});

test('burst: the request count, the result and the failures', () => {
  let page = render('pages/burst/burst', {});
  assert.equal(page.text('.title'), '20 个请求，一次登录');
  assert.deepEqual(page.texts('wx-button'), ['同时发出 20 个请求', '让服务器结束本会话']);
  assert.equal(page.all('.card').length, 1, 'no result yet');

  page = render('pages/burst/burst', { running: true, summary: '20 个请求同时发出…' });
  assert.deepEqual(page.all('wx-button').map((b) => [b.hasAttribute('loading'), b.hasAttribute('disabled')]), [[true, true], [false, true]]);

  page = render('pages/burst/burst', { summary: '20/20 个成功，期间登录 1 次，用时 186 ms', failures: '' });
  assert.deepEqual(page.texts('.card').slice(1), ['20/20 个成功，期间登录 1 次，用时 186 ms']);

  page = render('pages/burst/burst', { summary: '18/20 个成功，期间登录 1 次，用时 3012 ms', failures: '失败：TIMEOUT, NETWORK' });
  assert.equal(page.text('.card.error'), '失败：TIMEOUT, NETWORK');
});

const MINE = 'pages/mine/mine';
const noMine = !PAGES.includes(MINE) && `${MINE} is not in app.json yet`;

test('mine: logged in, a new user with no phone bound', { skip: noMine }, () => {
  const page = render(MINE, { status: 'loggedIn', statusText: '已登录', user: { id: '5f2c9a1b7d3e', nickname: '', avatarUrl: '', phone: null }, isNewUser: true });
  assert.match(page.text(), /新用户/);
  assert.match(page.text(), /用户 5f2c9a1b7d3e/);
  assert.match(page.text(), /未绑定手机号/);
  assert.ok(page.all('wx-button').some((b) => b.getAttribute('open-type') === 'getPhoneNumber'), 'the one-tap phone login button');
  assert.ok(page.all('wx-button').some((b) => b.getAttribute('open-type') === 'chooseAvatar'), 'the avatar button');
  assert.deepEqual(attrs(page, 'wx-input', 'type'), ['nickname']);
  assert.equal(page.all('privacy-popup wx-view').length, 0, 'no privacy prompt until WeChat asks');
});

test('mine: the profile — avatar, nickname, masked phone', { skip: noMine }, () => {
  const user = { id: '5f2c9a1b7d3e', nickname: '小明', avatarUrl: 'http://127.0.0.1:8080/files/avatars/a.png', phone: '138****8000' };
  const page = render(MINE, { status: 'loggedIn', statusText: '已登录', user, nickname: '小明', notice: '昵称已保存' });
  assert.doesNotMatch(page.text(), /新用户/);
  assert.match(page.text(), /138\*{4}8000/);
  assert.match(page.text(), /昵称已保存/);
  assert.deepEqual(attrs(page, 'wx-image', 'src'), [user.avatarUrl]);
  assert.equal(page.text('wx-input'), '小明');
});

test('mine: an error shows its code; the privacy prompt when WeChat asks', { skip: noMine }, () => {
  let page = render(MINE, { status: 'error', statusText: '登录失败', user: null, errorText: '网络不可用', errorCode: 'NETWORK' });
  assert.match(page.text(), /网络不可用/);
  assert.match(page.text(), /NETWORK/);

  page = render(MINE, { status: 'loggedIn', statusText: '已登录', user: { id: '5f2c9a1b7d3e', nickname: '', avatarUrl: '', phone: null } }, { components: { 'privacy-popup': { show: true } } });
  assert.match(page.text('privacy-popup'), /隐私/);
  assert.ok(page.all('privacy-popup wx-button').some((b) => b.getAttribute('open-type') === 'agreePrivacyAuthorization'));
});

test('every state scripts/screenshots.js pictures renders', () => {
  let rendered = 0;
  for (const shot of SHOTS.filter((s) => PAGES.includes(s.page))) {
    assert.ok(render(shot.page, shot.data, { components: shot.components }).text(), shot.name);
    rendered++;
  }
  assert.ok(rendered >= 4);
});

// A copy of the example's pages (not its node_modules), one file of it changed.
function brokenCopy(t, file, change) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-wxml-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const entry of fs.readdirSync(EXAMPLE)) {
    if (entry === 'node_modules' || entry === 'miniprogram_npm' || entry === 'typescript') continue;
    fs.cpSync(path.join(EXAMPLE, entry), path.join(dir, entry), { recursive: true });
  }
  const target = path.join(dir, file);
  const before = fs.readFileSync(target, 'utf8');
  const after = change(before);
  assert.notEqual(after, before, `the change to ${file} changed nothing`);
  fs.writeFileSync(target, after);
  return dir;
}

const BROKEN = [
  ['an unclosed tag', 'pages/index/index.wxml', (s) => s.replace('<view class="title">登录状态</view>', '<view class="title">登录状态'), 'WXML_COMPILE', /index\.wxml:\d+:\d+: (end tag missing|expect end-tag)/],
  ['a bad expression', 'pages/index/index.wxml', (s) => s.replace("{{status === 'loggingIn'}}", "{{status === }}"), 'WXML_COMPILE', /index\.wxml:\d+:\d+: Bad attr `loading`/],
  ['an unclosed {{', 'pages/index/index.wxml', (s) => s.replace('{{statusText}}', '{{statusText}'), 'WXML_COMPILE', /index\.wxml:\d+:\d+: Bad value/],
  ['a wx:for without {{ }}', 'pages/burst/burst.wxml', (s) => s.replace('<view wx:if="{{failures}}"', '<view wx:for="failures"'), 'WXML_COMPILE', /burst\.wxml:\d+: wx:for="failures"/],
  ['a wx:for over data the page lacks', 'pages/burst/burst.wxml', (s) => s.replace('<view wx:if="{{failures}}"', '<view wx:for="{{failureList}}"'), 'WXML_DATA', /failureList/],
  ['a misspelt data path', 'pages/index/index.wxml', (s) => s.replace('{{statusText}}', '{{statusTxt}}'), 'WXML_DATA', /reads data the page does not have: statusTxt/],
  ['a tag that is no component', 'pages/index/index.wxml', (s) => s.replace('<navigator url="/pages/burst/burst"', '<navigatr url="/pages/burst/burst"').replace(/(<navigatr[^]*?)<\/navigator>/, '$1</navigatr>'), 'WXML_TAG', /<navigatr>/],
  ['a WXSS syntax error', 'app.wxss', (s) => s.replace('.card {', '.card {{'), 'WXSS_COMPILE', /app\.wxss/],
];

for (const [what, file, change, code, message] of BROKEN) {
  test(`a page with ${what} (${file}) does not render`, (t) => {
    const dir = brokenCopy(t, file, change);
    const page = file.endsWith('.wxss') ? 'pages/index/index' : file.replace(/\.wxml$/, '');
    assert.throws(() => renderPage(dir, page, {}), (error) => {
      assert.equal(error.code, code, error.message);
      assert.match(error.message, message);
      return true;
    });
  });
}

test('the unchanged copy renders (the failures above are the changes)', (t) => {
  const dir = brokenCopy(t, 'pages/index/index.wxml', (s) => `${s}\n`);
  for (const page of PAGES) assert.ok(renderPage(dir, page, {}).text());
});
