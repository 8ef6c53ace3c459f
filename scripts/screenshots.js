#!/usr/bin/env node
'use strict';
// Pictures of example-miniprogram's pages in their main states, for the README:
// docs/screenshots/<page>-<state>.png, 375×667 CSS px (an iPhone 8 screen) at 1x.
//
// Regenerate (by hand; npm test does not run this):
//   node scripts/screenshots.js                  # every shot below
//   node scripts/screenshots.js index-error      # only the shots named
//   node scripts/screenshots.js --keep-html      # also keep the HTML pages (path printed)
// It needs Debian's chromium and fonts-wqy-microhei; run as root it installs them with apt-get
// when missing, otherwise it prints the command. After editing a page, its .wxml/.wxss or a state
// below, rerun it and commit the PNGs that changed; `node --test tests/js/wxml.test.js` checks
// every state below still renders.
//
// How: each state is the page's data (its own `data` with the state's fields set on top, as
// setData would leave it), rendered by tests/support/render-wxml.js (WeChat's wcc and wcsc
// compilers, exparser under jsdom, rpx at 375 px), written as one HTML page with WeChat's base
// styles and the compiled WXSS inlined, a navigation bar with the page's title, and
// WenQuanYi Micro Hei as the font, then shot by headless Chromium with a fresh profile and no
// network. The same Chromium and font give the same bytes.
//
// Adding a page or a state is one entry in SHOTS: { name, page, data, components? } (components:
// a component's own data by its tag, e.g. to show the privacy popup). A shot whose page is not
// in app.json is skipped.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');

const ROOT = path.join(__dirname, '..');
const APP = path.join(ROOT, 'example-miniprogram');
const OUT = path.join(ROOT, 'docs', 'screenshots');
const CHROMIUM = '/usr/bin/chromium';
const FONT = 'WenQuanYi Micro Hei';
const WIDTH = 375;
const HEIGHT = 667;

// A drawn avatar (no network in the shot): a green disc with 微.
const AVATAR = `data:image/svg+xml;base64,${Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128"><rect width="128" height="128" fill="#07c160"/>' +
    '<text x="64" y="84" font-size="56" text-anchor="middle" fill="#fff" font-family="WenQuanYi Micro Hei">微</text></svg>',
).toString('base64')}`;

const SHOTS = [
  {
    name: 'index-logged-out',
    page: 'pages/index/index',
    data: { status: 'loggedOut', statusText: '未登录', expiresText: '', errorCode: '', apiText: '' },
  },
  {
    name: 'index-logged-in',
    page: 'pages/index/index',
    data: { status: 'loggedIn', statusText: '已登录', expiresText: '有效期至 2026-12-01 18:30', errorCode: '', apiText: '接口返回：用户 5f2c9a1b7d3e' },
  },
  {
    name: 'index-error',
    page: 'pages/index/index',
    data: { status: 'error', statusText: '登录失败：账号存在风险，已被限制', expiresText: '', errorCode: 'USER_BLOCKED', apiText: '' },
  },
  {
    name: 'burst-result',
    page: 'pages/burst/burst',
    data: { running: false, summary: '20/20 个成功，期间登录 1 次，用时 186 ms', failures: '' },
  },
  {
    name: 'mine-logged-in',
    page: 'pages/mine/mine',
    data: {
      status: 'loggedIn',
      statusText: '已登录',
      user: { id: '5f2c9a1b7d3e', nickname: '', avatarUrl: '', phone: null },
      isNewUser: true,
      nickname: '',
    },
  },
  {
    name: 'mine-profile',
    page: 'pages/mine/mine',
    data: {
      status: 'loggedIn',
      statusText: '已登录',
      user: { id: '5f2c9a1b7d3e', nickname: '小程序用户', avatarUrl: AVATAR, phone: '138****8000' },
      isNewUser: false,
      nickname: '小程序用户',
      notice: '昵称已保存',
    },
  },
  {
    name: 'mine-error',
    page: 'pages/mine/mine',
    data: { status: 'error', statusText: '登录失败', user: null, errorText: '网络不可用', errorCode: 'NETWORK' },
  },
  {
    name: 'mine-privacy',
    page: 'pages/mine/mine',
    data: { status: 'loggedIn', statusText: '已登录', user: { id: '5f2c9a1b7d3e', nickname: '', avatarUrl: '', phone: null }, isNewUser: true },
    components: { 'privacy-popup': { show: true } },
  },
];

// Debian's chromium and a CJK font; installed when missing (as root), as CI machines start bare.
function missingSystemPackages() {
  const missing = [];
  if (!fs.existsSync(CHROMIUM)) missing.push('chromium');
  const fonts = spawnSync('fc-list', [':', 'family'], { encoding: 'utf8' });
  if (fonts.status !== 0 || !fonts.stdout.includes(FONT)) missing.push('fonts-wqy-microhei');
  return missing;
}

function ensureSystemPackages() {
  const missing = missingSystemPackages();
  if (!missing.length) return;
  const command = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid && process.getuid() !== 0) {
    console.error(`screenshots: missing ${missing.join(', ')}; run as root: ${command}`);
    process.exit(1);
  }
  console.log(`screenshots: installing ${missing.join(', ')}`);
  execFileSync('sh', ['-c', command], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  // apt-get can exit 0 and still leave a package out (a held package, a font cache not rebuilt).
  const still = missingSystemPackages();
  if (still.length) {
    console.error(`screenshots: still missing after \`${command}\`: ${still.join(', ')} (${CHROMIUM}, fc-list family "${FONT}")`);
    process.exit(1);
  }
}

// The renderer's npm devDependencies (jsdom, miniprogram-simulate...), from the lockfile.
function ensureNodePackages() {
  try {
    for (const name of ['jsdom', 'miniprogram-simulate', 'miniprogram-compiler']) require.resolve(name, { paths: [ROOT] });
  } catch {
    // npm ci, not npm install: exactly the committed lock, never a rewritten one.
    console.log('screenshots: installing the npm devDependencies (npm ci)');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  }
}

function screenshot(htmlFile, pngFile, height) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-chromium-'));
  try {
    const result = spawnSync(CHROMIUM, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-extensions', '--disable-default-apps', '--mute-audio', '--hide-scrollbars',
      '--force-device-scale-factor=1', '--lang=zh-CN', '--font-render-hinting=none',
      `--user-data-dir=${profile}`, `--window-size=${WIDTH},${height}`, `--screenshot=${pngFile}`,
      `file://${htmlFile}`,
    ], { encoding: 'utf8', timeout: 60000 });
    if (result.error) throw new Error(`cannot run ${CHROMIUM}: ${result.error.message}`);
    if (result.status !== 0 || !fs.existsSync(pngFile)) {
      throw new Error(`chromium failed (${result.status}): ${(result.stderr || '').trim().split('\n').slice(-5).join('\n')}`);
    }
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

function main(argv) {
  const keepHtml = argv.includes('--keep-html');
  const only = argv.filter((a) => !a.startsWith('--'));
  const unknown = only.filter((n) => !SHOTS.some((s) => s.name === n));
  if (unknown.length) throw new Error(`no shot named ${unknown.join(', ')} (have: ${SHOTS.map((s) => s.name).join(', ')})`);

  ensureSystemPackages();
  ensureNodePackages();
  const { renderPage, pagesOf } = require('../tests/support/render-wxml.js');
  const pages = pagesOf(APP);
  const htmlDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-screens-'));
  fs.mkdirSync(OUT, { recursive: true });
  const made = [];
  for (const shot of SHOTS) {
    if (only.length && !only.includes(shot.name)) continue;
    if (!pages.includes(shot.page)) {
      console.log(`skip ${shot.name}: ${shot.page} is not in app.json`);
      continue;
    }
    const rendered = renderPage(APP, shot.page, shot.data, { components: shot.components });
    const htmlFile = path.join(htmlDir, `${shot.name}.html`);
    fs.writeFileSync(htmlFile, rendered.toDocument({ fontFamily: `"${FONT}"` }));
    const pngFile = path.join(OUT, `${shot.name}.png`);
    screenshot(htmlFile, pngFile, shot.height || HEIGHT);
    made.push(pngFile);
    console.log(`${path.relative(ROOT, pngFile)}  ${fs.statSync(pngFile).size} B  ${rendered.text().slice(0, 60)}`);
  }
  if (keepHtml) console.log(`HTML pages: ${htmlDir}`);
  else fs.rmSync(htmlDir, { recursive: true, force: true });
  const stale = fs.readdirSync(OUT).filter((f) => f.endsWith('.png') && !SHOTS.some((s) => `${s.name}.png` === f));
  if (stale.length) console.log(`not made by any shot (remove them if they are gone for good): ${stale.join(', ')}`);
  return made;
}

module.exports = { SHOTS, APP };

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(`screenshots: ${error.message}`);
    process.exit(1);
  }
}
