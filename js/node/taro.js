'use strict';
// mp-session/taro: a Taro plugin (config/index.js: `plugins: ['mp-session/taro']`). Taro bundles
// the SDK's JavaScript into its own chunks but never emits a file the code does not import, so this
// plugin writes what the bundled SDK loads at run time into the build output, after each successful
// build: on WeChat-like hosts the wasm where the SDK looks by default
// (miniprogram_npm/mp-session/mp_session_bg.wasm.br), on Alipay the Worker directory
// (workers/mp-session/: the Worker's scripts and the wasm). No wasmPath needed.
const fs = require('fs');
const path = require('path');
const { OUTPUT_PATH, WORKER_DIR, WORKERS_ROOT, readPackagedWasm, readPackagedWorkerFiles, workersProblem, describeSize } = require('./wasm-file.js');

const NAME = 'mp-session/taro';
// Hosts whose main thread runs wasm as WeChat does. weapp and tt (Douyin) are verified with Taro's
// CLI in our tests (tests/js/frameworks.test.js: `taro build --type weapp` / `--type tt`, the output
// run in the simulator's WeChat and Douyin profiles); qq receives the same file (not verified by us).
const WASM_HOSTS = ['weapp', 'qq', 'tt'];
// Hosts where the core runs in a Worker (Alipay: MYWebAssembly exists only there), verified with
// `taro build --type alipay` and the simulator's alipay profile. The app declares the directory
// itself: `workers: 'workers'` in src/app.config.js (for alipay only); the plugin checks app.json.
const WORKER_HOSTS = ['alipay'];

module.exports = function mpSessionTaro(ctx) {
  const platform = process.env.TARO_ENV || (ctx.runOpts && ctx.runOpts.options && ctx.runOpts.options.platform);
  if (WORKER_HOSTS.includes(platform)) return workerDirectory(ctx, platform);
  if (!WASM_HOSTS.includes(platform)) {
    console.log(`[${NAME}] ${platform || 'this platform'}: no wasm emitted (mp-session runs on ${WASM_HOSTS.concat(WORKER_HOSTS).join(', ')})`);
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

// Alipay: the Worker directory into the output, and a check that app.json declares it. A one-off
// build without the declaration fails (the app could not log in); `--watch` warns on every build.
function workerDirectory(ctx, platform) {
  const files = readPackagedWorkerFiles(NAME);
  ctx.onBuildFinish(({ error, isWatch } = {}) => {
    if (error) return;
    const dir = path.join(ctx.paths.outputPath, WORKER_DIR);
    fs.mkdirSync(dir, { recursive: true });
    for (const file of files) fs.writeFileSync(path.join(ctx.paths.outputPath, file.fileName), file.bytes);
    console.log(`[${NAME}] ${platform}: Worker files → ${path.relative(process.cwd(), dir)}/ (${files.length} files, ${describeSize(files)})`);
    const appJson = path.join(ctx.paths.outputPath, 'app.json');
    const problem = fs.existsSync(appJson)
      ? workersProblem(fs.readFileSync(appJson), `declare it in src/app.config.js: \`workers: '${WORKERS_ROOT}'\` (for TARO_ENV 'alipay')`)
      : `the output has no app.json to declare "workers": '${WORKERS_ROOT}' in`;
    if (!problem) return;
    const message = `[${NAME}] ${platform}: ${problem}`;
    if (isWatch) console.warn(`\n!!! ${message}\n`);
    else throw new Error(message);
  });
}
