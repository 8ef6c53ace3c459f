'use strict';
// A runtime whose core runs in a Worker (js/worker.js): Alipay's MYWebAssembly exists only there.
// Its clients answer the shim as the wasm Clients do, one message per boundary call; the platform
// calls stay on the page's thread (js/host.js performs them as on every host). The Worker starts
// once per app; one that does not become ready within START_TIMEOUT_MS, traps, is killed by the
// host, or leaves a ping unanswered while calls are in flight fails the runtime as a trap does:
// the calls in flight reject INTERNAL and the next call starts a fresh Worker.

const { packArgs, unpackArgs, plainError, encode, decode } = require('./worker-messages.js');

const START_TIMEOUT_MS = 10000;
// While a call waits, the Worker is pinged this often; a ping unanswered at the next one fails it.
const PING_EVERY_MS = 5000;

/**
 * Starts `workerPath` with `createWorker` (my.createWorker) and resolves with the runtime
 * { create(core, seed, emit, host) → Promise<client>, trap, onTrap, ready } once its wasm is
 * loaded from `wasmPath`; `fail(runtime, error)` is the loader's trap handling.
 */
function startWorkerRuntime(createWorker, workerPath, wasmPath, fail) {
  const runtime = { create: null, trap: null, onTrap: [], ready: null };
  const hosts = new Map(); // client id → { host, emit }
  const replies = new Map(); // call number → { resolve, reject }
  const creating = new Map(); // client id → { resolve, reject, host, emit }
  let nextId = 1;
  let nextCall = 1;
  let heard = true; // a pong since the last ping
  let pinger = null;
  let worker;

  function post(message) {
    if (runtime.trap) return;
    try {
      worker.postMessage(encode(message));
    } catch (error) {
      die(new Error('the Worker refused a message: ' + (error && error.message)));
    }
  }

  function waiting() {
    return replies.size > 0 || creating.size > 0;
  }

  function watch() {
    if (pinger !== null || !waiting() || runtime.trap) return;
    heard = true;
    pinger = setTimeout(function ping() {
      pinger = null;
      if (!waiting() || runtime.trap) return;
      if (!heard) return die(new Error('the Worker stopped answering'));
      heard = false;
      post({ t: 'ping' });
      pinger = setTimeout(ping, PING_EVERY_MS);
    }, PING_EVERY_MS);
  }

  function die(error) {
    if (runtime.trap) return;
    if (pinger !== null) clearTimeout(pinger);
    pinger = null;
    try {
      worker.terminate();
    } catch (e) {
      // Already gone.
    }
    const failure = plainError(error);
    for (const pending of Array.from(replies.values()).concat(Array.from(creating.values()))) pending.reject(failure);
    replies.clear();
    creating.clear();
    hosts.clear();
    fail(runtime, error);
  }

  class RemoteClient {
    constructor(id, bodyField, cookieName) {
      this.id = id;
      this.field = bodyField;
      this.cookie = cookieName;
    }
    bodyField() {
      return this.field;
    }
    cookieName() {
      return this.cookie;
    }
    // No warm answer across threads: every ensureLogin is a call.
    readySession() {
      return undefined;
    }
    readyUntil() {
      return 0;
    }
    free() {
      hosts.delete(this.id);
      post({ t: 'free', id: this.id });
    }
  }
  // Calls answered with a promise, and calls answered by host messages.
  for (const m of ['ensureLogin', 'login', 'logout']) {
    RemoteClient.prototype[m] = function () {
      const n = nextCall++;
      const args = packArgs(Array.prototype.slice.call(arguments));
      return new Promise((resolve, reject) => {
        replies.set(n, { resolve, reject });
        post({ t: 'call', id: this.id, m: m, a: args, n: n });
        watch();
      });
    };
  }
  for (const m of ['request', 'abort', 'answered', 'sent', 'sendFailed', 'tick']) {
    RemoteClient.prototype[m] = function () {
      post({ t: 'call', id: this.id, m: m, a: packArgs(Array.prototype.slice.call(arguments)) });
    };
  }

  runtime.create = function create(core, seed, emit, host) {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      creating.set(id, { resolve, reject, host, emit });
      post({ t: 'new', id: id, core: core, seed: seed });
      watch();
    });
  };

  function receive(message) {
    heard = true;
    if (message.t === 'host') {
      const client = hosts.get(message.id);
      if (client) client.host[message.m].apply(client.host, unpackArgs(message.a));
    } else if (message.t === 'event') {
      const client = hosts.get(message.id);
      if (client) client.emit(message.event);
    } else if (message.t === 'reply') {
      const pending = replies.get(message.n);
      replies.delete(message.n);
      if (pending) (message.ok ? pending.resolve : pending.reject)(message.value);
    } else if (message.t === 'created') {
      const pending = creating.get(message.id);
      creating.delete(message.id);
      if (!pending) return;
      if (message.error) return pending.reject(message.error);
      hosts.set(message.id, { host: pending.host, emit: pending.emit });
      pending.resolve(new RemoteClient(message.id, message.bodyField, message.cookieName));
    } else if (message.t === 'trap') {
      die(new Error(message.message || 'the wasm instance in the Worker failed'));
    }
  }

  runtime.ready = new Promise((resolve, reject) => {
    let started = false;
    const timeout = setTimeout(() => {
      if (started) return;
      started = true;
      try {
        worker.terminate();
      } catch (e) {
        // Already gone.
      }
      reject(new Error('the Worker (' + workerPath + ') did not start within ' + START_TIMEOUT_MS / 1000 + ' s'));
    }, START_TIMEOUT_MS);
    try {
      worker = createWorker(workerPath);
      if (typeof worker.onProcessKilled === 'function') worker.onProcessKilled(() => die(new Error('the host ended the Worker')));
      worker.onMessage((data) => {
        const message = decode(data);
        if (!message) return;
        if (message.t !== 'ready') return receive(message);
        if (started) return;
        started = true;
        clearTimeout(timeout);
        if (message.error) reject(message.error);
        else resolve(runtime);
      });
      worker.postMessage(encode({ t: 'start', wasmPath: wasmPath }));
    } catch (error) {
      started = true;
      clearTimeout(timeout);
      reject(error);
    }
  });
  return runtime.ready;
}

module.exports = { startWorkerRuntime, START_TIMEOUT_MS, PING_EVERY_MS };
