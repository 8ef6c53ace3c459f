'use strict';
// mp-session under Node or Bun (tests, tools): the package's `node` export. The same client as in
// a mini-program; only the wasm is read from the package's own file (or `wasmPath`, when it names
// a file), since these runtimes have WebAssembly but no WXWebAssembly.
const fs = require('fs');
const zlib = require('zlib');
const loader = require('../../miniprogram_dist/loader.js');
const { PACKAGED_WASM } = require('./wasm-file.js');

loader.useInstantiate((wasmPath, imports) => {
  const file = wasmPath && fs.existsSync(wasmPath) ? wasmPath : PACKAGED_WASM;
  let bytes = fs.readFileSync(file);
  if (file.endsWith('.br')) bytes = zlib.brotliDecompressSync(bytes);
  return WebAssembly.instantiate(bytes, imports).then((result) => result.instance);
});

module.exports = require('../../miniprogram_dist/index.js');
