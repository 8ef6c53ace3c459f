'use strict';
// Loads the wasm once per app. Inside a mini-program, WXWebAssembly.instantiate takes a path in
// the code package (not bytes); under Node (tests, tools) the bytes are read from beside this file.
// wasm-bindgen's own loader is not used: it needs fetch/WebAssembly, which mini-programs lack.

const createBindings = require('./mp_session_glue.js');
const text = require('./text.js');

const WASM_FILE = 'mp_session_bg.wasm.br';
// Where WeChat DevTools' "构建 npm" puts the package's miniprogram directory.
const DEFAULT_WASM_PATH = '/miniprogram_npm/mp-session/' + WASM_FILE;

let loading = null;

function isNode() {
  return typeof process === 'object' && process !== null && Boolean(process.versions && process.versions.node) &&
    typeof module === 'object' && typeof module.require === 'function';
}

function instantiateInNode(wasmPath, imports) {
  const fs = module.require('fs');
  const path = module.require('path');
  const file = wasmPath && fs.existsSync(wasmPath) ? wasmPath : path.join(__dirname, WASM_FILE);
  let bytes = fs.readFileSync(file);
  if (file.endsWith('.br')) bytes = module.require('zlib').brotliDecompressSync(bytes);
  return WebAssembly.instantiate(bytes, imports).then((result) => result.instance);
}

function instantiate(wasmPath, imports) {
  if (typeof WXWebAssembly !== 'undefined') {
    // The official typings say an Instance; real devices give { instance, module }: accept both.
    return WXWebAssembly.instantiate(wasmPath || DEFAULT_WASM_PATH, imports)
      .then((result) => (result && result.instance ? result.instance : result));
  }
  if (typeof WebAssembly !== 'undefined' && isNode()) return instantiateInNode(wasmPath, imports);
  return Promise.reject(new Error('neither WXWebAssembly (base library >= 2.13.0) nor WebAssembly is available'));
}

// Resolves with the wasm-bindgen exports (the Client class). The first successful load is shared;
// a failed one may be retried by a later call.
function loadBindings(wasmPath) {
  if (!loading) {
    loading = Promise.resolve()
      .then(() => {
        const bindings = createBindings(text.TextEncoder, text.TextDecoder);
        return instantiate(wasmPath, bindings.__wbg_get_imports()).then((instance) => {
          bindings.__wbg_finalize_init(instance);
          return bindings;
        });
      })
      .catch((error) => {
        loading = null;
        const message = error && error.message ? error.message : String(error);
        throw {
          code: 'WASM_LOAD_FAILED',
          message: 'could not load mp-session\'s wasm from ' + (wasmPath || DEFAULT_WASM_PATH) + ': ' + message +
            ' (after "构建 npm" it lives under /miniprogram_npm/mp-session/; pass wasmPath if you moved it)',
          retryable: true,
        };
      });
  }
  return loading;
}

module.exports = { loadBindings, DEFAULT_WASM_PATH };
