'use strict';
// mp-session/taro: a Taro plugin (config/index.js: `plugins: ['mp-session/taro']`). Taro bundles
// the SDK's JavaScript into its own chunks but never emits a file the code does not import, so this
// plugin writes the wasm into the build output where the SDK looks by default
// (miniprogram_npm/mp-session/mp_session_bg.wasm.br): no wasmPath needed.
const fs = require('fs');
const path = require('path');
const { OUTPUT_PATH, readPackagedWasm, describeSize } = require('./wasm-file.js');

const NAME = 'mp-session/taro';
// Hosts whose main thread runs wasm as WeChat does. weapp and tt (Douyin) are verified with Taro's
// CLI in our tests (tests/js/frameworks.test.js: `taro build --type weapp` / `--type tt`, the output
// run in the simulator's WeChat and Douyin profiles); qq receives the same file (not verified by us).
const WASM_HOSTS = ['weapp', 'qq', 'tt'];

module.exports = function mpSessionTaro(ctx) {
  const platform = process.env.TARO_ENV || (ctx.runOpts && ctx.runOpts.options && ctx.runOpts.options.platform);
  if (!WASM_HOSTS.includes(platform)) {
    console.log(`[${NAME}] ${platform || 'this platform'}: no wasm emitted (mp-session runs on ${WASM_HOSTS.join(', ')})`);
    return;
  }
  // Read once, up front: a broken install fails the build at its start, not after it.
  const wasm = readPackagedWasm(NAME);
  ctx.onBuildFinish(({ error } = {}) => {
    if (error) return;
    const target = path.join(ctx.paths.outputPath, OUTPUT_PATH);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, wasm);
    console.log(`[${NAME}] wasm → ${path.relative(process.cwd(), target)} (${describeSize(wasm)})`);
  });
};
