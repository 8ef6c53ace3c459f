'use strict';
// The package's own .wasm.br, for the Node entry and the build plugins (Node-side code only:
// nothing here is shipped to a mini-program).
const fs = require('fs');
const path = require('path');
const { DEFAULT_WASM_PATH, WASM_FILE } = require('../../miniprogram_dist/loader.js');

const PACKAGED_WASM = path.join(__dirname, '..', '..', 'miniprogram_dist', WASM_FILE);
// The wasm's place in a build output: where the shim looks when no wasmPath is given.
const OUTPUT_PATH = DEFAULT_WASM_PATH.replace(/^\//, '');

// The bytes of the packaged wasm; a clear error naming `who` (a plugin) when the file is missing.
function readPackagedWasm(who) {
  if (!fs.existsSync(PACKAGED_WASM)) {
    throw new Error(`[${who}] ${PACKAGED_WASM} is missing: the mp-session package is incomplete; reinstall it (npm install mp-session)`);
  }
  return fs.readFileSync(PACKAGED_WASM);
}

function describeSize(bytes) {
  return `${(bytes.length / 1024).toFixed(1)} KB`;
}

module.exports = { PACKAGED_WASM, OUTPUT_PATH, readPackagedWasm, describeSize };
