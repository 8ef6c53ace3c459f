'use strict';
// The package's own files for the Node entry and the build plugins (Node-side code only: nothing
// here is shipped to a mini-program): the .wasm.br every host loads, and for Alipay the Worker
// directory (the core runs in a Worker there, docs/boundary.md "Across a Worker").
const fs = require('fs');
const path = require('path');
const { DEFAULT_WASM_PATH, DEFAULT_WORKER_PATH, WASM_FILE } = require('../../miniprogram_dist/loader.js');

const DIST = path.join(__dirname, '..', '..', 'miniprogram_dist');
const PACKAGED_WASM = path.join(DIST, WASM_FILE);
// The wasm's place in a build output: where the shim looks when no wasmPath is given.
const OUTPUT_PATH = DEFAULT_WASM_PATH.replace(/^\//, '');

// Alipay: the directory of the output where the SDK starts its Worker (my.createWorker of
// workers/mp-session/worker.js) and what goes in it: the Worker's script, what it requires
// (worker-messages.js, loader.js, and loader's mp_session_glue.js, text.js and worker-runtime.js,
// which only the page's side runs but a packager checking requires finds; a Worker may require
// only inside its directory) and the wasm it instantiates with MYWebAssembly. Copies of the
// package's miniprogram_dist/ files, byte for byte. Both plugins write exactly this list.
const WORKER_DIR = path.posix.dirname(DEFAULT_WORKER_PATH);
const WORKER_FILES = Object.freeze(['worker.js', 'worker-messages.js', 'loader.js', 'worker-runtime.js', 'mp_session_glue.js', 'text.js', WASM_FILE]);
// What app.json's "workers" should say: the top directory WORKER_DIR is in.
const WORKERS_ROOT = WORKER_DIR.split('/')[0];

// The bytes of the packaged wasm; a clear error naming `who` (a plugin) when the file is missing.
function readPackagedWasm(who) {
  if (!fs.existsSync(PACKAGED_WASM)) {
    throw new Error(`[${who}] ${PACKAGED_WASM} is missing: the mp-session package is incomplete; reinstall it (npm install mp-session)`);
  }
  return fs.readFileSync(PACKAGED_WASM);
}

// The Worker directory's files: [{ name, fileName (its path in the output), bytes }]; a clear
// error naming `who` and every missing file when the package lacks any.
function readPackagedWorkerFiles(who) {
  const missing = WORKER_FILES.filter((name) => !fs.existsSync(path.join(DIST, name)));
  if (missing.length) {
    throw new Error(`[${who}] ${missing.map((name) => path.join(DIST, name)).join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing: ` +
      'the mp-session package is incomplete (Alipay needs its Worker files); reinstall it (npm install mp-session)');
  }
  return WORKER_FILES.map((name) => ({ name, fileName: `${WORKER_DIR}/${name}`, bytes: fs.readFileSync(path.join(DIST, name)) }));
}

// Why the output's app.json (its text, or its parsed object) would stop the SDK's Worker from
// starting (my.createWorker takes only scripts inside the directory app.json's "workers" names),
// or null when it is declared. `fix` says where the framework lets the app declare it.
function workersProblem(appJson, fix) {
  let json = appJson;
  if (typeof json === 'string' || Buffer.isBuffer(json) || json instanceof Uint8Array) {
    try {
      json = JSON.parse(Buffer.from(json).toString('utf8'));
    } catch (error) {
      return `the output's app.json is not JSON (${error.message})`;
    }
  }
  const declared = json && json.workers;
  const dir = typeof declared === 'string' ? declared.replace(/^\/+|\/+$/g, '') : null;
  if (dir !== null && (dir === WORKER_DIR || WORKER_DIR.startsWith(`${dir}/`))) return null;
  const said = declared === undefined ? 'declares no "workers"' : `has "workers": ${JSON.stringify(declared)}, which does not hold ${WORKER_DIR}/`;
  return `the output's app.json ${said}, so Alipay will not start mp-session's Worker (${WORKER_DIR}/worker.js) and every login fails ` +
    `WASM_LOAD_FAILED; ${fix}`;
}

function describeSize(bytes) {
  const length = Array.isArray(bytes) ? bytes.reduce((sum, file) => sum + file.bytes.length, 0) : bytes.length;
  return `${(length / 1024).toFixed(1)} KB`;
}

module.exports = {
  PACKAGED_WASM,
  OUTPUT_PATH,
  WORKER_DIR,
  WORKER_FILES,
  WORKERS_ROOT,
  readPackagedWasm,
  readPackagedWorkerFiles,
  workersProblem,
  describeSize,
};
