'use strict';
// Runs a framework's built mini-program (a Taro or uni-app output directory) in the project's
// simulator the way WeChat (or Douyin, in the 'tt' profile, or Alipay, in the 'alipay' profile)
// starts an app: app.js first (App(), then onLaunch), then the first page
// of app.json (the page's components registered, then the page created and shown). Also scans a
// build output for what a mini-program forbids or lacks.
const fs = require('fs');
const path = require('path');
const { createSimulator } = require('../simulator/simulator.js');

// The fixtures talk to the developer server's default address; the simulator routes it to the
// test's server.
const FIXTURE_BASE_URL = 'http://127.0.0.1:8080';

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// Component paths a page (or app.json) names in usingComponents, as code-package paths without
// extension; plugin:// and relative paths resolved against the declaring file.
function usedComponents(outputDir, jsonPath) {
  const file = path.join(outputDir, `${jsonPath}.json`);
  if (!fs.existsSync(file)) return [];
  const using = readJson(file).usingComponents || {};
  return Object.values(using)
    .filter((p) => typeof p === 'string' && !p.startsWith('plugin://'))
    .map((p) => (p.startsWith('/') ? p.slice(1) : path.posix.join(path.posix.dirname(jsonPath), p)));
}

/**
 * Starts the built app in a simulator. Resolves once `until(sim)` holds (by default: a showToast
 * was shown) or rejects after timeoutMs with the timeline and what the app printed.
 * Returns { sim, app, page, toasts, logs, errors }.
 */
async function runBuiltApp({ outputDir, serverUrl, wechatUrl, profile = 'ios', timeoutMs = 20000, until, storage, clock } = {}) {
  if (!outputDir || !fs.existsSync(path.join(outputDir, 'app.json'))) throw new Error(`${outputDir} is no mini-program output (no app.json)`);
  const appJson = readJson(path.join(outputDir, 'app.json'));
  const logs = [];
  const errors = [];
  const sim = createSimulator({
    appDir: path.resolve(outputDir),
    serverUrl,
    wechatUrl,
    profile,
    storage,
    clock,
    hosts: { [FIXTURE_BASE_URL]: serverUrl },
    onError: (error) => errors.push(error),
  });
  sim.context.console = new Proxy(console, {
    get: (target, level) => (...args) => logs.push(`[${String(level)}] ${args.map(describe).join(' ')}`),
  });
  const done = until || ((s) => s.count('showToast') > 0);

  // Errors thrown later, in callbacks and promise chains of the app, are failures too.
  const onUnhandled = (error) => errors.push(error);
  process.on('unhandledRejection', onUnhandled);
  const context = () => `\ntimeline:\n${sim.formatTimeline()}\napp output:\n${logs.join('\n')}`;
  try {
    const app = sim.launch();
    for (const component of usedComponents(outputDir, 'app')) sim.loadComponent(component);
    const route = appJson.entryPagePath || appJson.pages[0];
    for (const component of usedComponents(outputDir, route)) sim.loadComponent(component);
    const page = sim.openPage(route);
    const deadline = Date.now() + timeoutMs;
    while (!done(sim) && !errors.length) {
      if (Date.now() > deadline) throw new Error(`the app did not finish within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (clock) await clock.advance(50);
    }
    if (errors.length) throw errors[0];
    const toasts = sim.timeline.filter((e) => e.api === 'showToast').map((e) => e.detail);
    return { sim, app, page, toasts, logs, errors };
  } catch (thrown) {
    // Errors from the sandbox belong to its realm (not instanceof Error here): one error of ours.
    const error = new Error(`the app failed in the simulator (${profile}): ${describe(thrown)}${context()}`);
    error.cause = thrown;
    error.sim = sim;
    throw error;
  } finally {
    process.removeListener('unhandledRejection', onUnhandled);
  }
}

function describe(value) {
  if (value && typeof value.stack === 'string') return value.stack;
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value);
    } catch (e) {
      return String(value);
    }
  }
  return String(value);
}

// What WeChat's JS runtime forbids or lacks (FACTS.md): dynamic code, ES module metadata, fetch,
// the WebAssembly global (WXWebAssembly instead; absent on iOS), and Node's modules.
const FORBIDDEN = [
  { what: 'eval(', pattern: /(?<![\w$.])eval\s*\(/g },
  { what: 'new Function', pattern: /\bnew\s+Function\s*\(/g },
  { what: 'Function("…")', pattern: /(?<![\w$.]|new\s+)Function\s*\(\s*["'`]/g },
  { what: 'import.meta', pattern: /\bimport\.meta\b/g },
  { what: 'fetch(', pattern: /(?<![\w$.])fetch\s*\(/g },
  { what: 'WebAssembly', pattern: /(?<![\w$.])WebAssembly\b/g },
  { what: 'require("fs"|"path"|"zlib")', pattern: /\brequire\s*\(\s*["'`](?:node:)?(?:fs|path|zlib)["'`]\s*\)/g },
  // Any other bare module name: a framework output has no miniprogram_npm/ to resolve it from.
  { what: 'require(<bare module>)', pattern: /\brequire\s*\(\s*["'`](?!\.{0,2}\/|(?:node:)?(?:fs|path|zlib)["'`])[^"'`]+["'`]\s*\)/g },
];

/**
 * Scans every .js file of a build output for FORBIDDEN constructs. Returns
 * [{ file, what, count, samples: [text around each of the first 3 hits] }], file relative to
 * outputDir. Framework runtimes may contain some of these behind feature checks: each hit names
 * its file and context so a test can decide which to allow.
 */
function scanOutput(outputDir) {
  const hits = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith('.js')) {
        const source = fs.readFileSync(full, 'utf8');
        for (const { what, pattern } of FORBIDDEN) {
          const matches = [...source.matchAll(pattern)];
          if (!matches.length) continue;
          hits.push({
            file: path.relative(outputDir, full).split(path.sep).join('/'),
            what,
            count: matches.length,
            samples: matches.slice(0, 3).map((m) => source.slice(Math.max(0, m.index - 60), m.index + 60).replace(/\s+/g, ' ')),
          });
        }
      }
    }
  };
  walk(outputDir);
  return hits;
}

module.exports = { runBuiltApp, scanOutput, FIXTURE_BASE_URL };

// How each profile's host logs in: its login call in the timeline, and the mock's count of
// code exchanges for it.
const HOST_LOGIN = {
  tt: { call: 'login', host: 'tt.login', exchanges: (stats) => stats.douyinExchanges, name: 'Douyin code exchanges' },
  alipay: { call: 'getAuthCode', host: 'my.getAuthCode', exchanges: (stats) => stats.alipayExchanges, name: 'Alipay authCode exchanges' },
};
const WECHAT_LOGIN = { call: 'login', host: 'wx.login', exchanges: (stats) => stats.code2SessionCalls, name: 'code exchanges' };

// node tests/frameworks/run-in-simulator.js <outputDir> [ios|android|devtools|tt|alipay]
// Starts mp-session-server (behind the test proxy) on a free port, runs the built app against it, prints the timeline and
// what the scan found; exits 1 unless the app logged in once (one code exchange: WeChat's, or
// Douyin's in the 'tt' profile for a Douyin build, or Alipay's in the 'alipay' profile for an
// Alipay build) and showed 'me:200:…'.
if (require.main === module) {
  const { startTestServer } = require('../simulator/test-server.js');
  const [outputDir, profile = 'ios'] = process.argv.slice(2);
  if (!outputDir) {
    console.error('usage: node tests/frameworks/run-in-simulator.js <build output dir> [ios|android|devtools|tt|alipay]');
    process.exit(2);
  }
  (async () => {
    const server = await startTestServer();
    const serverUrl = server.url;
    let ok = false;
    try {
      const { sim, toasts, logs } = await runBuiltApp({ outputDir, serverUrl, wechatUrl: server.wechatUrl, profile });
      console.log(sim.formatTimeline());
      if (logs.length) console.log(`app output:\n${logs.join('\n')}`);
      const login = HOST_LOGIN[profile] || WECHAT_LOGIN;
      const logins = sim.count(login.call);
      const exchanges = login.exchanges(server.mock.stats);
      console.log(`[${profile}] ${login.host} ×${logins}, ${login.name} ×${exchanges}, toasts: ${JSON.stringify(toasts)}`);
      ok = logins === 1 && exchanges === 1 && toasts.length === 1 && /^me:200:./.test(toasts[0]);
    } catch (error) {
      console.error(error.stack || error.message);
    } finally {
      await server.close();
    }
    for (const hit of scanOutput(outputDir)) console.log(`scan: ${hit.file}: ${hit.what} ×${hit.count}: …${hit.samples[0]}…`);
    process.exit(ok ? 0 : 1);
  })();
}
