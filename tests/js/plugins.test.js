'use strict';
// The build plugins as their hosts call them: mp-session/vite through Rollup's plugin hooks,
// mp-session/taro through Taro's plugin context. (tests/js/frameworks.test.js builds real projects
// with the frameworks' own CLIs.)
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { DIST } = require('./helpers.js');

const ROOT = path.join(__dirname, '..', '..');
const WASM = fs.readFileSync(path.join(DIST, 'mp_session_bg.wasm.br'));
const { DEFAULT_WASM_PATH } = require(path.join(DIST, 'loader.js'));
const { WORKER_DIR, WORKER_FILES } = require(path.join(ROOT, 'js', 'node', 'wasm-file.js'));

function withEnv(name, value, run) {
  const before = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return run();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

function quietly(run) {
  const lines = [];
  const log = console.log;
  console.log = (...args) => lines.push(args.join(' '));
  try {
    run();
  } finally {
    console.log = log;
  }
  return lines;
}

// Runs a Vite/Rollup plugin's build hooks, collecting what it emits; `bundle` is what the plugins
// before it emitted (uni-app's app.json), `watchMode` Rollup's this.meta.watchMode. this.error
// throws as Rollup's does; this.warn is collected.
function viteBuild(plugin, { bundle = {}, watchMode = false } = {}) {
  const emitted = [];
  const warnings = [];
  const context = {
    meta: { watchMode },
    emitFile: (file) => emitted.push(file),
    warn: (message) => warnings.push(message),
    error: (message) => { throw new Error(`[plugin ${plugin.name}] ${message}`); },
  };
  const lines = quietly(() => {
    plugin.buildStart.call(context);
    plugin.generateBundle.call(context, {}, bundle);
  });
  return { emitted, lines, warnings };
}

// uni-app's app.json as it is in the bundle when mp-session/vite's generateBundle runs.
function appJsonAsset(json) {
  return { 'app.json': { type: 'asset', fileName: 'app.json', source: JSON.stringify(json, null, 2) } };
}

test('mp-session/vite emits the wasm where the bundled SDK looks by default', () => {
  const mpSession = require('mp-session/vite');
  assert.equal(mpSession.default, mpSession, '`import mpSession from` and require() get the same factory');
  const { emitted, lines } = withEnv('UNI_PLATFORM', 'mp-weixin', () => viteBuild(mpSession()));
  assert.equal(emitted.length, 1);
  assert.equal(emitted[0].type, 'asset');
  assert.equal('/' + emitted[0].fileName, DEFAULT_WASM_PATH);
  assert.ok(Buffer.from(emitted[0].source).equals(WASM));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^\[mp-session\/vite\] wasm → miniprogram_npm\/mp-session\/mp_session_bg\.wasm\.br .*\d+\.\d KB/);
});

test('mp-session/vite emits nothing for a uni-app target without wasm, and says so', () => {
  const { emitted, lines } = withEnv('UNI_PLATFORM', 'h5', () => viteBuild(require('mp-session/vite')()));
  assert.deepEqual(emitted, []);
  assert.match(lines.join('\n'), /h5: no wasm emitted/);
});

test('mp-session/taro writes the wasm into the output after each successful build', () => {
  const outputPath = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-taro-'));
  const hooks = [];
  const ctx = { paths: { outputPath }, runOpts: { options: { platform: 'weapp' } }, onBuildFinish: (fn) => hooks.push(fn) };
  withEnv('TARO_ENV', 'weapp', () => require('mp-session/taro')(ctx));
  assert.equal(hooks.length, 1);
  const target = path.join(outputPath, DEFAULT_WASM_PATH);
  quietly(() => hooks[0]({ error: new Error('compile failed') }));
  assert.ok(!fs.existsSync(target), 'a failed build gets no wasm');
  const lines = quietly(() => hooks[0]({ isWatch: true }));
  assert.ok(fs.readFileSync(target).equals(WASM));
  assert.match(lines.join('\n'), /^\[mp-session\/taro\] wasm → .*miniprogram_npm\/mp-session\/mp_session_bg\.wasm\.br \(\d+\.\d KB\)$/);
  fs.rmSync(outputPath, { recursive: true });
});

test('mp-session/taro skips hosts without wasm', () => {
  const hooks = [];
  const lines = quietly(() => withEnv('TARO_ENV', 'swan', () => require('mp-session/taro')({ paths: {}, onBuildFinish: (fn) => hooks.push(fn) })));
  assert.deepEqual(hooks, []);
  assert.match(lines.join('\n'), /swan: no wasm emitted/);
});

// Alipay: the Worker directory, the package's files byte for byte, and app.json's "workers".
function assertWorkerFiles(files) {
  assert.deepEqual(files.map((f) => f.fileName).sort(), WORKER_FILES.map((name) => `${WORKER_DIR}/${name}`).sort());
  for (const file of files) assert.ok(Buffer.from(file.bytes).equals(fs.readFileSync(path.join(DIST, path.posix.basename(file.fileName)))), file.fileName);
}

test("the Worker directory's files are what worker.js requires from the package, and the wasm", () => {
  assert.equal(WORKER_DIR, 'workers/mp-session');
  // worker.js and every file a require names, followed through the package's files: the Worker
  // never runs loader.js's worker-runtime.js (that is the page's side), but a packager that
  // checks requires statically finds it there too.
  const needed = new Set();
  const visit = (name) => {
    if (needed.has(name)) return;
    needed.add(name);
    const source = fs.readFileSync(path.join(DIST, name), 'utf8');
    for (const [, spec] of source.matchAll(/\brequire\(\s*["'`]\.\/([^"'`]+)["'`]\s*\)/g)) visit(spec);
  };
  visit('worker.js');
  assert.deepEqual([...needed, 'mp_session_bg.wasm.br'].sort(), [...WORKER_FILES].sort());
});

test('mp-session/vite emits the Worker directory for mp-alipay (no miniprogram_npm wasm), and one line', () => {
  const { emitted, lines, warnings } = withEnv('UNI_PLATFORM', 'mp-alipay', () => viteBuild(require('mp-session/vite')(), { bundle: appJsonAsset({ pages: ['pages/index/index'], workers: 'workers' }) }));
  assert.ok(emitted.every((file) => file.type === 'asset'));
  assertWorkerFiles(emitted.map((file) => ({ fileName: file.fileName, bytes: file.source })));
  assert.ok(!emitted.some((file) => '/' + file.fileName === DEFAULT_WASM_PATH), 'no wasm where the page thread would look');
  assert.deepEqual(warnings, []);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^\[mp-session\/vite\] mp-alipay: Worker files → workers\/mp-session\/ in the build output \(7 files, \d+\.\d KB\)$/);
});

test('mp-session/vite fails an mp-alipay build whose app.json declares no "workers" (a watch rebuild warns)', () => {
  const vite = require('mp-session/vite');
  for (const app of [{ pages: ['pages/index/index'] }, { pages: ['pages/index/index'], workers: 'other' }]) {
    assert.throws(() => withEnv('UNI_PLATFORM', 'mp-alipay', () => viteBuild(vite(), { bundle: appJsonAsset(app) })),
      /^Error: \[plugin mp-session\/vite\] mp-alipay: the output's app\.json (declares no "workers"|has "workers": "other", which does not hold workers\/mp-session\/), .*manifest\.json: "mp-alipay": \{ "workers": "workers" \}/);
  }
  const watched = withEnv('UNI_PLATFORM', 'mp-alipay', () => viteBuild(vite(), { bundle: appJsonAsset({ pages: [] }), watchMode: true }));
  assert.equal(watched.emitted.length, WORKER_FILES.length);
  assert.equal(watched.warnings.length, 1);
  assert.match(watched.warnings[0], /declares no "workers"/);
  // "workers/" and the Worker's own directory are as good as "workers"; no app.json in this
  // bundle (a watch rebuild that left it unchanged) is not checked.
  for (const bundle of [appJsonAsset({ workers: 'workers/' }), appJsonAsset({ workers: 'workers/mp-session' }), {}]) {
    assert.deepEqual(withEnv('UNI_PLATFORM', 'mp-alipay', () => viteBuild(vite(), { bundle })).warnings, []);
  }
});

test('mp-session/taro writes the Worker directory for alipay after a successful build, and checks app.json', () => {
  const outputPath = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-taro-alipay-'));
  const hooks = [];
  withEnv('TARO_ENV', 'alipay', () => require('mp-session/taro')({ paths: { outputPath }, onBuildFinish: (fn) => hooks.push(fn) }));
  assert.equal(hooks.length, 1);
  const dir = path.join(outputPath, WORKER_DIR);
  quietly(() => hooks[0]({ error: new Error('compile failed') }));
  assert.ok(!fs.existsSync(dir), 'a failed build gets no Worker files');

  fs.writeFileSync(path.join(outputPath, 'app.json'), JSON.stringify({ pages: ['pages/index/index'], workers: 'workers' }));
  const lines = quietly(() => hooks[0]({}));
  assertWorkerFiles(fs.readdirSync(dir).map((name) => ({ fileName: `${WORKER_DIR}/${name}`, bytes: fs.readFileSync(path.join(dir, name)) })));
  assert.ok(!fs.existsSync(path.join(outputPath, DEFAULT_WASM_PATH)), 'no wasm where the page thread would look');
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^\[mp-session\/taro\] alipay: Worker files → .*workers\/mp-session\/ \(7 files, \d+\.\d KB\)$/);

  fs.writeFileSync(path.join(outputPath, 'app.json'), JSON.stringify({ pages: ['pages/index/index'] }));
  assert.throws(() => quietly(() => hooks[0]({})), /^Error: \[mp-session\/taro\] alipay: the output's app\.json declares no "workers", .*WASM_LOAD_FAILED; .*app\.config\.js: `workers: 'workers'`/);
  const warned = [];
  const warn = console.warn;
  console.warn = (...args) => warned.push(args.join(' '));
  try {
    quietly(() => hooks[0]({ isWatch: true }));
  } finally {
    console.warn = warn;
  }
  assert.equal(warned.length, 1, '--watch: a loud warning, the watcher goes on');
  assert.match(warned[0], /!!! \[mp-session\/taro\] alipay: .*declares no "workers"/);
  fs.rmSync(outputPath, { recursive: true });
});

test('both plugins fail with an error naming the plugin when the package lacks its wasm', () => {
  // A copy of the package without the wasm file, as a broken install would leave it.
  const pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-broken-'));
  fs.cpSync(path.join(ROOT, 'js', 'node'), path.join(pkg, 'js', 'node'), { recursive: true });
  fs.cpSync(DIST, path.join(pkg, 'miniprogram_dist'), { recursive: true, filter: (f) => !f.endsWith('.wasm.br') });
  const vite = require(path.join(pkg, 'js', 'node', 'vite.js'));
  const taro = require(path.join(pkg, 'js', 'node', 'taro.js'));
  assert.throws(() => withEnv('UNI_PLATFORM', 'mp-weixin', () => viteBuild(vite())), /^Error: \[mp-session\/vite\] .*mp_session_bg\.wasm\.br is missing: .*reinstall/);
  assert.throws(() => withEnv('TARO_ENV', 'weapp', () => taro({ paths: {}, onBuildFinish() {} })), /^Error: \[mp-session\/taro\] .*is missing/);
  fs.rmSync(pkg, { recursive: true });
});

test('both plugins fail an Alipay build at its start, naming the plugin and the file, when the package lacks a Worker file', () => {
  const pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-broken-'));
  fs.cpSync(path.join(ROOT, 'js', 'node'), path.join(pkg, 'js', 'node'), { recursive: true });
  fs.cpSync(DIST, path.join(pkg, 'miniprogram_dist'), { recursive: true, filter: (f) => path.basename(f) !== 'worker-messages.js' });
  const vite = require(path.join(pkg, 'js', 'node', 'vite.js'));
  const taro = require(path.join(pkg, 'js', 'node', 'taro.js'));
  const hooks = [];
  assert.throws(() => withEnv('UNI_PLATFORM', 'mp-alipay', () => viteBuild(vite())), /^Error: \[mp-session\/vite\] .*miniprogram_dist\/worker-messages\.js is missing: .*Worker files.*reinstall/);
  assert.throws(() => withEnv('TARO_ENV', 'alipay', () => taro({ paths: {}, onBuildFinish: (fn) => hooks.push(fn) })), /^Error: \[mp-session\/taro\] .*miniprogram_dist\/worker-messages\.js is missing/);
  assert.deepEqual(hooks, [], 'before any build work');
  // WeChat's builds do not need the Worker files.
  assert.equal(withEnv('UNI_PLATFORM', 'mp-weixin', () => viteBuild(vite())).emitted.length, 1);
  fs.rmSync(pkg, { recursive: true });
});
