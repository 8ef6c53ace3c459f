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

// Runs a Vite/Rollup plugin's build hooks, collecting what it emits.
function viteBuild(plugin) {
  const emitted = [];
  const context = { emitFile: (file) => emitted.push(file) };
  const lines = quietly(() => {
    plugin.buildStart.call(context);
    plugin.generateBundle.call(context, {}, {});
  });
  return { emitted, lines };
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

test('mp-session/taro skips hosts whose main thread has no wasm', () => {
  const hooks = [];
  const lines = quietly(() => withEnv('TARO_ENV', 'alipay', () => require('mp-session/taro')({ paths: {}, onBuildFinish: (fn) => hooks.push(fn) })));
  assert.deepEqual(hooks, []);
  assert.match(lines.join('\n'), /alipay: no wasm emitted/);
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
