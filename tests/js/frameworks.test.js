'use strict';
// The package as Taro and uni-app users get it: the packed tarball installed into two small
// projects (tests/frameworks/), built with the frameworks' own CLIs with only the plugin line
// added, for WeChat, Douyin and Alipay, and each output started in the simulator as its host starts
// an app (app.js, then a page): WeChat on iOS and Android, Douyin in the 'tt' profile (global tt,
// TTWebAssembly, no wx), Alipay in the 'alipay' profile (global my, no wasm API on the page's
// thread: the core in a Worker with MYWebAssembly). The frameworks' node_modules are cached
// outside the repository, one install per fixture for all its targets (tests/frameworks/build.js).
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { buildFixture } = require('../frameworks/build.js');
const { runBuiltApp, scanOutput, FIXTURE_BASE_URL } = require('../frameworks/run-in-simulator.js');
const { DIST, requireBuiltPackage, startLoginServer } = require('./helpers.js');
const { WORKER_DIR, WORKER_FILES } = require('../../js/node/wasm-file.js');

const ROOT = path.join(__dirname, '..', '..');
const WASM = 'miniprogram_npm/mp-session/mp_session_bg.wasm.br';
// webpack's global lookup in Taro's runtime.js (`new Function("return this")`), reached only where
// globalThis is missing; not our code, and WeChat's runtime has globalThis.
const KNOWN_FRAMEWORK_HITS = [{ fixture: 'taro', file: 'runtime.js', what: 'Function("…")' }, { fixture: 'taro', file: 'runtime.js', what: 'new Function' }];

let tarball;
let packDir;
before(() => {
  requireBuiltPackage();
  packDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-pack-'));
  const [info] = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  tarball = path.join(packDir, info.filename);
});
after(() => fs.rmSync(packDir, { recursive: true, force: true }));

// Each fixture's targets: the CLI's name for the host, and the simulator profiles it runs in.
// Douyin's and Alipay's builds log in at the server's Douyin and Alipay routes (the fixture
// sources pick loginPath by platform: Taro's TARO_ENV, uni-app's #ifdef MP-TOUTIAO / MP-ALIPAY).
const TARGETS = {
  taro: [
    { target: 'weapp', host: 'WeChat', profiles: ['ios', 'android'] },
    { target: 'tt', host: 'Douyin', profiles: ['tt'] },
    { target: 'alipay', host: 'Alipay', profiles: ['alipay'] },
  ],
  'uni-app': [
    { target: 'mp-weixin', host: 'WeChat', profiles: ['ios', 'android'] },
    { target: 'mp-toutiao', host: 'Douyin', profiles: ['tt'] },
    { target: 'mp-alipay', host: 'Alipay', profiles: ['alipay'] },
  ],
};

function buildTimes(built) {
  return `CLI build ${built.seconds.toFixed(1)} s${built.installSeconds ? `, npm ci ${built.installSeconds.toFixed(1)} s` : ' (framework install cached)'} (install key: ${Object.entries(built.installKey).map(([k, v]) => `${k} ${v}`).join(', ')})`;
}

function loginPosts(sim) {
  return sim.timeline.filter((e) => e.api === 'request' && /^POST /.test(e.detail)).map((e) => e.detail);
}

for (const [name, targets] of Object.entries(TARGETS)) {
  describe(`${name}: built with its own CLI`, () => {
    let server;
    let url;
    before(async () => {
      server = await startLoginServer();
      url = server.url;
    });
    after(() => server && server.close());

    for (const { target, host, profiles } of targets) {
      describe(`${target} (${host})`, () => {
        let built;
        before(() => {
          built = buildFixture(name, tarball, target);
        });

        if (host === 'Alipay') {
          test('the plugin wrote the Worker directory (the package\'s files, byte for byte; no wasm for the page\'s thread), app.json declares it, and the output has nothing new from the scan', (t) => {
            t.diagnostic(`${name} ${target}: ${buildTimes(built)}; Worker files at ${path.relative(built.workspace, path.join(built.outputDir, WORKER_DIR))}/`);
            const dir = path.join(built.outputDir, WORKER_DIR);
            assert.deepEqual(fs.readdirSync(dir).sort(), [...WORKER_FILES].sort());
            for (const file of WORKER_FILES) {
              assert.ok(fs.readFileSync(path.join(dir, file)).equals(fs.readFileSync(path.join(DIST, file))), `${WORKER_DIR}/${file} is the package's, byte for byte`);
            }
            assert.ok(!fs.existsSync(path.join(built.outputDir, WASM)), 'no wasm where a WeChat-like page would look');
            assert.match(built.log, new RegExp(`\\[mp-session/${name === 'taro' ? 'taro' : 'vite'}\\] ${target}: Worker files → .*workers/mp-session/.* \\(${WORKER_FILES.length} files, \\d+\\.\\d KB\\)`));
            assert.equal(JSON.parse(fs.readFileSync(path.join(built.outputDir, 'app.json'), 'utf8')).workers, 'workers');
            const hits = scanOutput(built.outputDir).filter((hit) => !KNOWN_FRAMEWORK_HITS.some((k) => k.fixture === name && k.file === hit.file && k.what === hit.what));
            assert.deepEqual(hits, []);
          });

          test('alipay: the app logs in with 1 getAuthCode and 1 Alipay exchange at /auth/alipay/login, the wasm through MYWebAssembly in 1 Worker, and auth.request() carries the token', async (t) => {
            const alipay = server.mock.stats.alipaySessionsGiven;
            const wechat = server.mock.stats.sessionsGiven;
            const { sim, toasts } = await runBuiltApp({ outputDir: built.outputDir, serverUrl: url, wechatUrl: server.wechatUrl, profile: 'alipay' });
            assert.equal(sim.evaluate('typeof wx'), 'undefined', 'Alipay has no wx');
            assert.equal(sim.count('getAuthCode'), 1);
            assert.equal(sim.count('createWorker'), 1);
            assert.equal(sim.count('MYWebAssembly.instantiate'), 1);
            assert.equal(sim.count('WXWebAssembly.instantiate'), 0);
            assert.equal(server.mock.stats.alipaySessionsGiven - alipay, 1);
            assert.equal(server.mock.stats.sessionsGiven - wechat, 0, 'no WeChat exchange');
            assert.deepEqual(loginPosts(sim), [`POST ${FIXTURE_BASE_URL}/auth/alipay/login`]);
            assert.equal(toasts.length, 1);
            assert.match(toasts[0], /^me:200:[0-9a-f]{12}$/, 'the protected API answered 200: the token was attached');
          });
          return;
        }

        test(`the plugin put the wasm at the default path, and the output has nothing ${host} forbids from us`, (t) => {
          t.diagnostic(`${name} ${target}: ${buildTimes(built)}; wasm at ${path.relative(built.workspace, path.join(built.outputDir, WASM))}`);
          const emitted = fs.readFileSync(path.join(built.outputDir, WASM));
          assert.ok(emitted.equals(fs.readFileSync(path.join(DIST, 'mp_session_bg.wasm.br'))), 'the packaged wasm, byte for byte');
          assert.match(built.log, new RegExp(`\\[mp-session/${name === 'taro' ? 'taro' : 'vite'}\\] wasm → .*miniprogram_npm/mp-session/mp_session_bg\\.wasm\\.br.*KB`));
          const hits = scanOutput(built.outputDir).filter((hit) => !KNOWN_FRAMEWORK_HITS.some((k) => k.fixture === name && k.file === hit.file && k.what === hit.what));
          assert.deepEqual(hits, []);
        });

        for (const profile of profiles) {
          if (host === 'WeChat') {
            test(`${profile}: the app logs in with 1 wx.login and 1 exchange, and auth.request() carries the token`, async () => {
              const before = server.mock.stats.sessionsGiven;
              const { sim, toasts } = await runBuiltApp({ outputDir: built.outputDir, serverUrl: url, wechatUrl: server.wechatUrl, profile });
              assert.equal(sim.count('login'), 1);
              assert.equal(server.mock.stats.sessionsGiven - before, 1);
              assert.deepEqual(loginPosts(sim), [`POST ${FIXTURE_BASE_URL}/auth/login`]);
              assert.equal(sim.count('WXWebAssembly.instantiate'), 1);
              assert.equal(toasts.length, 1);
              assert.match(toasts[0], /^me:200:[0-9a-f]{12}$/, 'the protected API answered 200: the token was attached');
            });
          } else {
            test(`${profile}: the app logs in with 1 tt.login and 1 Douyin exchange at /auth/douyin/login, the wasm through TTWebAssembly, and auth.request() carries the token`, async () => {
              const douyin = server.mock.stats.douyinSessionsGiven;
              const wechat = server.mock.stats.sessionsGiven;
              const { sim, toasts } = await runBuiltApp({ outputDir: built.outputDir, serverUrl: url, wechatUrl: server.wechatUrl, profile });
              assert.equal(sim.evaluate('typeof wx'), 'undefined', 'Douyin has no wx');
              assert.equal(sim.count('login'), 1);
              assert.equal(server.mock.stats.douyinSessionsGiven - douyin, 1);
              assert.equal(server.mock.stats.sessionsGiven - wechat, 0, 'no WeChat exchange');
              assert.deepEqual(loginPosts(sim), [`POST ${FIXTURE_BASE_URL}/auth/douyin/login`]);
              assert.equal(sim.count('TTWebAssembly.instantiate'), 1);
              assert.equal(toasts.length, 1);
              assert.match(toasts[0], /^me:200:[0-9a-f]{12}$/, 'the protected API answered 200: the token was attached');
            });
          }
        }
      });
    }
  });
}
