'use strict';
// The shipped package as a file set: MVP wasm, JS a mini-program can parse, the published file
// list, the UTF-8 fallback, and loading under plain Node.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { execFileSync } = require('child_process');
const { checkMvp } = require('../../scripts/wasm-features.js');
const { TextEncoderFallback, TextDecoderFallback } = require('../../js/text.js');
const { DIST } = require('./helpers.js');

const ROOT = path.join(__dirname, '..', '..');

test('the shipped wasm uses only WebAssembly MVP features (+mutable-globals)', async () => {
  const unpacked = zlib.brotliDecompressSync(fs.readFileSync(path.join(DIST, 'mp_session_bg.wasm.br')));
  const file = path.join(require('os').tmpdir(), `mp-session-shipped-${process.pid}.wasm`);
  fs.writeFileSync(file, unpacked);
  try {
    await checkMvp(file);
  } finally {
    fs.rmSync(file);
  }
});

test('the shipped wasm exports functions and memory only: iOS WeChat cannot take a Global export', () => {
  const unpacked = zlib.brotliDecompressSync(fs.readFileSync(path.join(DIST, 'mp_session_bg.wasm.br')));
  const kinds = WebAssembly.Module.exports(new WebAssembly.Module(unpacked)).filter((e) => e.kind !== 'function');
  assert.deepEqual(kinds, [{ name: 'memory', kind: 'memory' }]);
});

test('the brotli wasm stays within the size budget of package.json', () => {
  const { sizeBudget } = require('../../package.json');
  const size = fs.statSync(path.join(DIST, 'mp_session_bg.wasm.br')).size;
  assert.ok(Number.isInteger(sizeBudget.wasmBrotliBytes) && sizeBudget.wasmBrotliBytes > 0);
  assert.ok(size <= sizeBudget.wasmBrotliBytes, `${size} B > budget ${sizeBudget.wasmBrotliBytes} B`);
});

test('the MVP check rejects a module with a post-MVP feature', async () => {
  const wabt = await require('wabt')();
  const wat = wabt.parseWat('ref.wat', '(module (func (export "f") (result externref) ref.null extern))', { reference_types: true });
  const file = path.join(require('os').tmpdir(), `mp-session-not-mvp-${process.pid}.wasm`);
  fs.writeFileSync(file, Buffer.from(wat.toBinary({}).buffer));
  await assert.rejects(checkMvp(file), /not WebAssembly MVP/);
  fs.rmSync(file);
});

test('the shipped JavaScript avoids syntax and globals mini-programs lack', () => {
  for (const file of fs.readdirSync(DIST).filter((f) => f.endsWith('.js'))) {
    const source = fs.readFileSync(path.join(DIST, file), 'utf8');
    for (const pattern of [/\basync\b/, /\bawait\b/, /\?\./, /\?\?/, /import\.meta/, /^\s*(import|export)\s/m, /\beval\(/, /new Function/, /\bfetch\(/]) {
      assert.doesNotMatch(source, pattern, `${file} uses ${pattern}`);
    }
  }
});

test('the mini-program entry references no Node module, so bundlers have nothing to resolve', () => {
  // Taro's webpack resolves every require it sees (module.require included); uni-app's Vite stubs
  // them with warnings. Only the package's own files may be required.
  for (const file of fs.readdirSync(DIST).filter((f) => f.endsWith('.js'))) {
    const source = fs.readFileSync(path.join(DIST, file), 'utf8').replace(/^\s*\/\/.*$/gm, '');
    for (const [, spec] of source.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      assert.match(spec, /^\.\/[\w.-]+\.js$/, `${file} requires ${spec}`);
    }
    for (const pattern of [/\bmodule\.require\b/, /\b__dirname\b/, /\b__filename\b/, /\bprocess\b/, /\bBuffer\b/]) {
      assert.doesNotMatch(source, pattern, `${file} uses ${pattern}`);
    }
  }
});

test('npm pack ships the mini-program directory, the Node entry and plugins, and nothing else', () => {
  const [info] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  const files = info.files.map((f) => f.path).sort();
  for (const needed of ['miniprogram_dist/index.js', 'miniprogram_dist/index.d.ts', 'miniprogram_dist/mp_session_bg.wasm.br', 'miniprogram_dist/mp_session_glue.js', 'js/node/index.js', 'js/node/taro.js', 'js/node/vite.js', 'taro.js', 'vite.js', 'package.json', 'README.md']) {
    assert.ok(files.includes(needed), `missing ${needed}`);
  }
  const unexpected = files.filter((f) => !f.startsWith('miniprogram_dist/') && !f.startsWith('js/node/') && !['package.json', 'README.md', 'LICENSE', 'taro.js', 'vite.js'].includes(f));
  assert.ok(!files.includes('miniprogram_dist/mp_session_bg.wasm'), 'the raw wasm would double what users ship');
  assert.deepEqual(unexpected, []);
});

test('the UTF-8 fallback agrees with the platform encoder and decoder', () => {
  const samples = ['', 'ascii', '中文登录', '😀 emoji', 'mixed é ü ß 漢字 🎉', '\u0000\u007f\u0080\u07ff\u0800\uffff'];
  for (const text of samples) {
    const bytes = new TextEncoderFallback().encode(text);
    assert.deepEqual(Buffer.from(bytes), Buffer.from(new TextEncoder().encode(text)), text);
    assert.equal(new TextDecoderFallback('utf-8', { ignoreBOM: true, fatal: true }).decode(bytes), text);
  }
  const invalid = [
    [0x61, 0xff, 0xc3, 0x28, 0xe2, 0x82, 0x62, 0xf0, 0x9f, 0x98],
    [0xed, 0xa0, 0x80], // an encoded surrogate
    [0xe0, 0x80, 0xaf], // an overlong form
    [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
  ];
  for (const bytes of invalid) {
    const array = new Uint8Array(bytes);
    assert.equal(new TextDecoderFallback().decode(array), new TextDecoder().decode(array), bytes.join(','));
  }
  // Random bytes, against the platform decoder.
  let seed = 12345;
  for (let n = 0; n < 200; n++) {
    const array = new Uint8Array(1 + (n % 40)).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    assert.equal(new TextDecoderFallback().decode(array), new TextDecoder().decode(array), Array.from(array).join(','));
  }
  assert.equal(new TextDecoderFallback().decode(), '');
});

test('under Node the package\'s node export loads the wasm from its own bytes', async () => {
  // A self-reference goes through package.json's exports, as `require('mp-session')` does for users.
  const { createClient, isMpSessionError } = require('mp-session');
  assert.equal(require.resolve('mp-session'), path.join(ROOT, 'js', 'node', 'index.js'));
  const wx = {
    getStorage: (o) => o.fail({ errMsg: 'getStorage:fail data not found' }),
    setStorage: (o) => o.success({}),
    login: (o) => o.success({ code: 'c' }),
    request: (o) => o.success({ statusCode: 200, data: '{"token":"node-token","expiresIn":60}' }),
  };
  const state = await createClient({ baseUrl: 'https://api.example.com', platform: wx }).ensureLogin();
  assert.equal(state.token, 'node-token');
  const error = await createClient({ baseUrl: 'ftp://x', platform: wx }).ensureLogin().catch((e) => e);
  assert.ok(isMpSessionError(error));
});

test('error messages are rendered in JavaScript from the code and fields the core sends, as its Display words them', () => {
  // The same list tests/core_errors.rs holds the Rust errors to; the shipped (minified) errors.js.
  const { toMpSessionError } = require(path.join(DIST, 'errors.js'));
  const listed = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'support', 'error-messages.json'), 'utf8'));
  for (const { fields, message } of listed) {
    const error = toMpSessionError(Object.assign({}, fields));
    assert.equal(error.name, 'MpSessionError');
    assert.equal(error.code, fields.code);
    assert.equal(error.message, message);
    assert.equal(error.retryable, fields.retryable);
    for (const key of ['errcode', 'errMsg', 'statusCode', 'option']) assert.equal(error[key], fields[key], key);
  }
  // A code the shim does not know (a newer core) still makes a typed error, named by its code.
  assert.equal(toMpSessionError({ code: 'SOMETHING_NEW' }).message, 'SOMETHING_NEW');
});
