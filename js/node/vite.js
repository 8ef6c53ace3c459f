'use strict';
// mp-session/vite: a Vite plugin for uni-app (vite.config.js: `plugins: [uni(), mpSession()]`).
// uni-app bundles the SDK's JavaScript into common/vendor.js but never emits a file the code does
// not import, so this plugin emits the wasm into the bundle where the SDK looks by default
// (miniprogram_npm/mp-session/mp_session_bg.wasm.br): no wasmPath needed. Runs on every build,
// watch-mode rebuilds (`uni -p mp-weixin`) included.
const { OUTPUT_PATH, readPackagedWasm, describeSize } = require('./wasm-file.js');

const NAME = 'mp-session/vite';
// uni-app's mini-program targets whose main thread runs wasm as WeChat does. mp-weixin and
// mp-toutiao (Douyin) are verified with uni's CLI in our tests (tests/js/frameworks.test.js:
// `uni build -p mp-weixin` / `-p mp-toutiao`, the output run in the simulator's WeChat and Douyin
// profiles); mp-qq receives the same file (not verified by us).
// Outside uni-app (UNI_PLATFORM unset) the wasm is always emitted.
const WASM_HOSTS = ['mp-weixin', 'mp-qq', 'mp-toutiao'];

function mpSession() {
  const platform = process.env.UNI_PLATFORM;
  const emits = !platform || WASM_HOSTS.includes(platform);
  let wasm = null;
  return {
    name: NAME,
    buildStart() {
      // Read up front: a broken install fails the build at its start, not after it.
      if (emits) wasm = readPackagedWasm(NAME);
      else console.log(`[${NAME}] ${platform}: no wasm emitted (mp-session runs on ${WASM_HOSTS.join(', ')})`);
    },
    generateBundle() {
      if (!wasm) return;
      this.emitFile({ type: 'asset', fileName: OUTPUT_PATH, source: wasm });
      console.log(`[${NAME}] wasm → ${OUTPUT_PATH} in the build output (${describeSize(wasm)})`);
    },
  };
}

module.exports = mpSession;
module.exports.default = mpSession;
