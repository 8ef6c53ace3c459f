'use strict';
// Loads the wasm once per app. Inside a mini-program, WXWebAssembly.instantiate takes a path in
// the code package (not bytes). This file references no Node module, process or __dirname: Taro's
// webpack and uni-app's Vite bundle it and would try to resolve them. Under Node the package's
// `node` export (js/node/index.js) installs an instantiate that reads the bytes instead.
// wasm-bindgen's own loader is not used: it needs fetch/WebAssembly, which mini-programs lack.

const createBindings = require('./mp_session_glue.js');
const text = require('./text.js');

const WASM_FILE = 'mp_session_bg.wasm.br';
// Where WeChat DevTools' "构建 npm" puts the package's miniprogram directory, and where the Taro
// and Vite plugins (mp-session/taro, mp-session/vite) emit the wasm in a framework's build output.
const DEFAULT_WASM_PATH = '/miniprogram_npm/mp-session/' + WASM_FILE;
// Alipay: the Worker's script and what it requires, and the wasm, in app.json's `workers`
// directory (README, "Alipay").
const ALIPAY_WORKER_DIR = 'workers/mp-session';
const DEFAULT_WORKER_PATH = ALIPAY_WORKER_DIR + '/worker.js';
const DEFAULT_WORKER_WASM_PATH = '/' + ALIPAY_WORKER_DIR + '/' + WASM_FILE;

// Mini-program hosts whose documents describe no WebAssembly on the main thread, by their global
// object: createClient rejects HOST_UNSUPPORTED naming the host, not a crash deep in the loader.
const HOSTS_WITHOUT_WASM = [
  ['my', 'Alipay', 'MYWebAssembly exists only inside a Worker, and this base library has no my.createWorker'],
  ['qq', 'QQ', 'QQ documents no wasm API for mini-programs (QQWebAssembly is for mini-games only)'],
  ['swan', 'Baidu', 'Baidu documents no wasm API for mini-programs'],
  ['ks', 'Kuaishou', 'Kuaishou documents no wasm API for mini-programs'],
  ['jd', 'JD', 'JD documents no wasm API for mini-programs'],
];

// A host without a wasm API: { code: 'HOST_UNSUPPORTED', … }, or null when it is not one we know.
function unsupportedHost() {
  const globals = { my: typeof my, qq: typeof qq, swan: typeof swan, ks: typeof ks, jd: typeof jd };
  for (const [name, host, why] of HOSTS_WITHOUT_WASM) {
    if (globals[name] !== 'undefined') {
      return { code: 'HOST_UNSUPPORTED', message: 'mp-session cannot run on ' + host + ' (global `' + name + '`): ' + why, retryable: false };
    }
  }
  return null;
}

// Alipay's page thread: no wasm API here, but a Worker to run the core in.
function alipayWorkers() {
  if (typeof WXWebAssembly !== 'undefined' || typeof TTWebAssembly !== 'undefined' || typeof MYWebAssembly !== 'undefined') return null;
  return typeof my !== 'undefined' && my && typeof my.createWorker === 'function' ? (path) => my.createWorker(path) : null;
}

function instantiateInMiniProgram(wasmPath, imports) {
  // WeChat's WXWebAssembly, Douyin's TTWebAssembly, or Alipay's MYWebAssembly inside its Worker
  // (the same call shape: a package path).
  const api = typeof WXWebAssembly !== 'undefined' ? WXWebAssembly : typeof TTWebAssembly !== 'undefined' ? TTWebAssembly
    : typeof MYWebAssembly !== 'undefined' ? MYWebAssembly : null;
  if (!api) {
    const host = unsupportedHost();
    if (host) return Promise.reject(host);
    return Promise.reject(new Error('WXWebAssembly is not available (it needs base library >= 2.13.0)'));
  }
  // The official typings say an Instance; real devices give { instance, module }: accept both.
  return api.instantiate(wasmPath, imports)
    .then((result) => (result && result.instance ? result.instance : result));
}

let instantiate = instantiateInMiniProgram;
let loading = null;

// Replaces how the wasm is instantiated: (wasmPath, imports) → Promise<Instance>. For runtimes that
// are not a mini-program (Node, Bun); call it before the first client is used.
function useInstantiate(fn) {
  instantiate = fn;
  loading = null;
}

// A trap (a bug), or an exception that unwound through wasm frames (it leaves the wasm stack
// pointer and borrows wrong), makes an instance unusable. Every export is called through this
// guard: the first failure marks the runtime trapped, tells its clients (which reject what was in
// flight and start over on a fresh instance), and from then on calls into it do nothing, so late
// platform callbacks and timers of the dead instance fall silent instead of throwing.
function guardExports(exports, runtime) {
  const guarded = {};
  Object.keys(exports).forEach((name) => {
    const raw = exports[name];
    guarded[name] = typeof raw !== 'function' ? raw : function () {
      if (runtime.trap) return undefined;
      try {
        return raw.apply(undefined, arguments);
      } catch (error) {
        trapped(runtime, error);
        return undefined;
      }
    };
  });
  return guarded;
}

function trapped(runtime, error) {
  runtime.trap = error || new Error('unknown trap');
  if (loading === runtime.ready) loading = null; // the next client call instantiates afresh
  for (const onTrap of runtime.onTrap.splice(0)) {
    try {
      onTrap(runtime.trap);
    } catch (e) {
      // One client's clean-up must not stop the others'.
    }
  }
}

// A failed start as the page sees it: HOST_UNSUPPORTED as it is, anything else WASM_LOAD_FAILED
// (retryable) with `what` failed and how to fix it.
function loadFailed(error, what, advice) {
  if (error && error.code === 'HOST_UNSUPPORTED') throw error;
  const message = error && error.message ? error.message : String(error);
  throw { code: 'WASM_LOAD_FAILED', message: what + ': ' + message + ' (' + advice + ')', retryable: true };
}

// Resolves with the runtime: { Client, trap, onTrap } — the wasm-bindgen Client class of a live
// instance, the error it trapped with (null while alive), and the clients' trap handlers. The
// first successful load is shared; a failed or trapped one is replaced by the next call.
function loadRuntime(wasmPath, workerPath) {
  const createWorker = instantiate === instantiateInMiniProgram ? alipayWorkers() : null;
  const where = wasmPath || (createWorker ? DEFAULT_WORKER_WASM_PATH : DEFAULT_WASM_PATH);
  if (!loading && createWorker) {
    const workerScript = workerPath || DEFAULT_WORKER_PATH;
    // A Worker that fails later is replaced by the next call, as a trapped instance is.
    const failed = (runtime, error) => {
      if (loading === starting) loading = null;
      trapped(runtime, error);
    };
    const starting = loading = require('./worker-runtime.js').startWorkerRuntime(createWorker, workerScript, where, failed)
      .catch((error) => {
        if (loading === starting) loading = null;
        loadFailed(error, 'could not start mp-session\'s Worker ' + workerScript + ' with the wasm ' + where,
          'copy the package\'s worker files into ' + ALIPAY_WORKER_DIR + '/ and declare "workers" in app.json; see the README');
      });
    return loading;
  }
  if (!loading) {
    const runtime = { Client: null, trap: null, onTrap: [], ready: null };
    loading = runtime.ready = Promise.resolve()
      .then(() => {
        const bindings = createBindings(text.TextEncoder, text.TextDecoder);
        return instantiate(where, bindings.__wbg_get_imports()).then((instance) => {
          bindings.__wbg_finalize_init({ exports: guardExports(instance.exports, runtime) });
          runtime.Client = bindings.Client;
          return runtime;
        });
      })
      .catch((error) => {
        if (loading === runtime.ready) loading = null;
        loadFailed(error, 'could not load mp-session\'s wasm from ' + where,
          'after "构建 npm" it lives under /miniprogram_npm/mp-session/; with Taro or uni-app add the ' +
          'mp-session/taro or mp-session/vite plugin; pass wasmPath if you moved it');
      });
  }
  return loading;
}

module.exports = { loadRuntime, useInstantiate, DEFAULT_WASM_PATH, DEFAULT_WORKER_PATH, WASM_FILE };
