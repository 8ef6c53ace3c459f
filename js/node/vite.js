'use strict';
// mp-session/vite: a Vite plugin for uni-app (vite.config.js: `plugins: [uni(), mpSession()]`).
// uni-app bundles the SDK's JavaScript into common/vendor.js but never emits a file the code does
// not import, so this plugin emits what the bundled SDK loads at run time into the bundle: on
// WeChat-like hosts the wasm where the SDK looks by default
// (miniprogram_npm/mp-session/mp_session_bg.wasm.br), on Alipay the Worker directory
// (workers/mp-session/: the Worker's scripts and the wasm). No wasmPath needed. Runs on every
// build, watch-mode rebuilds (`uni -p mp-weixin`) included.
const { OUTPUT_PATH, WORKERS_ROOT, WORKER_DIR, readPackagedWasm, readPackagedWorkerFiles, workersProblem, describeSize } = require('./wasm-file.js');

const NAME = 'mp-session/vite';
// uni-app's mini-program targets whose main thread runs wasm as WeChat does. mp-weixin and
// mp-toutiao (Douyin) are verified with uni's CLI in our tests (tests/js/frameworks.test.js:
// `uni build -p mp-weixin` / `-p mp-toutiao`, the output run in the simulator's WeChat and Douyin
// profiles); mp-qq receives the same file (not verified by us).
// Outside uni-app (UNI_PLATFORM unset) the wasm is always emitted.
const WASM_HOSTS = ['mp-weixin', 'mp-qq', 'mp-toutiao'];
// Targets where the core runs in a Worker (Alipay: MYWebAssembly exists only there), verified with
// `uni build -p mp-alipay` and the simulator's alipay profile. The app declares the directory
// itself: `"mp-alipay": { "workers": "workers" }` in manifest.json; the plugin checks app.json.
const WORKER_HOSTS = ['mp-alipay'];
const FIX = `declare it in manifest.json: "mp-alipay": { "workers": "${WORKERS_ROOT}" }`;

function mpSession() {
  const platform = process.env.UNI_PLATFORM;
  const workers = WORKER_HOSTS.includes(platform);
  const emits = !platform || WASM_HOSTS.includes(platform);
  let wasm = null;
  let workerFiles = null;
  return {
    name: NAME,
    buildStart() {
      // Read up front: a broken install fails the build at its start, not after it.
      if (workers) workerFiles = readPackagedWorkerFiles(NAME);
      else if (emits) wasm = readPackagedWasm(NAME);
      else console.log(`[${NAME}] ${platform}: no wasm emitted (mp-session runs on ${WASM_HOSTS.concat(WORKER_HOSTS).join(', ')})`);
    },
    generateBundle(options, bundle) {
      if (workerFiles) {
        for (const file of workerFiles) this.emitFile({ type: 'asset', fileName: file.fileName, source: file.bytes });
        console.log(`[${NAME}] ${platform}: Worker files → ${WORKER_DIR}/ in the build output (${workerFiles.length} files, ${describeSize(workerFiles)})`);
        // uni-app emits app.json before this plugin's hook runs (uni() comes first); a watch
        // rebuild that leaves app.json unchanged does not emit it again, and is not checked.
        const appJson = bundle && bundle['app.json'];
        const problem = appJson && appJson.type === 'asset' ? workersProblem(appJson.source, FIX) : null;
        if (problem) {
          // Rollup names the plugin: "[plugin mp-session/vite] mp-alipay: …".
          const message = `${platform}: ${problem}`;
          if (this.meta && this.meta.watchMode) this.warn(message);
          else this.error(message);
        }
        return;
      }
      if (!wasm) return;
      this.emitFile({ type: 'asset', fileName: OUTPUT_PATH, source: wasm });
      console.log(`[${NAME}] wasm → ${OUTPUT_PATH} in the build output (${describeSize(wasm)})`);
    },
  };
}

module.exports = mpSession;
module.exports.default = mpSession;
