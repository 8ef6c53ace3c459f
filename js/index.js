'use strict';
// mp-session: the promise API pages use. All session logic lives in the wasm core; this file only
// loads it, hands it a host adapter for the platform (js/host.js), types the errors,
// and keeps every call settled exactly once:
// page input is read at the boundary (input.js), each call in flight is tracked so that a trapped
// instance (replaced by the loader) or dispose() rejects it, and nothing here throws at the page.

const { loadRuntime } = require('./loader.js');
const { MpSessionError, isMpSessionError, toMpSessionError } = require('./errors.js');
const { readClientOptions, readRequestOptions, readLoginOptions, readAccountLogin } = require('./input.js');
const { createHost } = require('./host.js');

function disposedError() {
  return new MpSessionError('DISPOSED', 'this client was disposed (auth.dispose()); create a new one with createClient');
}

function trapError(trap) {
  const message = trap && trap.message ? trap.message : String(trap);
  return new MpSessionError('INTERNAL', 'mp-session internal error: the wasm instance failed (' + message +
    '); the calls in flight were rejected and the next call starts a fresh instance from the stored session');
}

// The warm state is one object shared by every warm caller: its reply is frozen all the way down,
// so that no caller can change what the others receive.
function freezeDeep(value) {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) freezeDeep(value[key]);
  }
}

function createClient(options) {
  const input = readClientOptions(options);
  let platform = input.platform;
  if (platform === undefined && typeof wx !== 'undefined') platform = wx;
  else if (platform === undefined && typeof tt !== 'undefined') platform = tt; // Douyin
  else if (platform === undefined && typeof my !== 'undefined') platform = my; // Alipay

  // The core's own answer for warm calls: { view, until } from readySession/readyUntil. It holds
  // until `until`, and only while nothing else reaches the client and no event comes (the core's
  // contract, held by a property test); so every other call and every event drops it.
  let warm = null;
  let disposed = false;
  const listeners = [];
  function emit(event) {
    warm = null;
    if (disposed) return;
    for (const listener of listeners.slice()) {
      try {
        listener(event);
      } catch (e) {
        // A page's listener must not break the session.
      }
    }
  }

  // Calls in flight: each settles exactly once, from the core, a trap or dispose().
  const pending = new Set();
  function settle(entry, ok, value) {
    if (!pending.delete(entry)) return;
    if (ok) entry.resolve(value);
    else entry.reject(toMpSessionError(value));
  }
  function rejectAll(error) {
    for (const entry of Array.from(pending)) settle(entry, false, error);
  }

  let runtime = null; // the live runtime and this client's wasm Client on it
  let wasmClient = null;
  let starting = null;

  // The host adapter (js/host.js): the platform calls, the page's requests (their options and
  // tasks stay in JS) and the timer, performed as the core decides.
  const host = createHost(platform, settle, input.forceHostLogin === true);
  function onTrap(trap) {
    runtime = null;
    wasmClient = null;
    starting = null;
    warm = null;
    host.end();
    rejectAll(trapError(trap));
  }
  function start() {
    if (!starting) {
      // A workerPath that is not a string is refused below, as CONFIG_INVALID.
      starting = loadRuntime(input.wasmPath, typeof input.workerPath === 'string' ? input.workerPath : undefined).then((rt) => {
        if (disposed) throw disposedError();
        if (input.error) throw input.error;
        if (!platform || (typeof platform !== 'object' && typeof platform !== 'function')) {
          throw new MpSessionError('CONFIG_INVALID', 'invalid option `platform`: no global wx, tt or my found; pass the platform object (wx, uni, tt, my)', { option: 'platform' });
        }
        if (input.forceHostLogin !== undefined && typeof input.forceHostLogin !== 'boolean') {
          throw new MpSessionError('CONFIG_INVALID', 'invalid option `forceHostLogin`: must be true or false', { option: 'forceHostLogin' });
        }
        if (input.wasmPath !== undefined && typeof input.wasmPath !== 'string') {
          throw new MpSessionError('CONFIG_INVALID', 'invalid option `wasmPath`: must be a path in the code package', { option: 'wasmPath' });
        }
        if (input.workerPath !== undefined && typeof input.workerPath !== 'string') {
          throw new MpSessionError('CONFIG_INVALID', 'invalid option `workerPath`: must be the path of the Worker script in the code package', { option: 'workerPath' });
        }
        const seed = Math.floor(Math.random() * 0x100000000) >>> 0;
        // A runtime in a Worker (Alipay) creates its clients there: asynchronously.
        const made = rt.create ? rt.create(input.core, seed, emit, host.path) : new rt.Client(input.core, seed, emit, host.path);
        return Promise.resolve(made).then((created) => {
          if (disposed) {
            created.free();
            throw disposedError();
          }
          if (rt.trap) throw trapError(rt.trap);
          host.start(created);
          runtime = rt;
          wasmClient = created;
          rt.onTrap.push(onTrap);
          return created;
        });
      });
      // A failed wasm load or a trap may pass; a bad option will not, so only those start over.
      const attempt = starting;
      attempt.catch((error) => {
        if (starting === attempt && error && (error.code === 'WASM_LOAD_FAILED' || error.code === 'INTERNAL')) starting = null;
      });
    }
    return starting;
  }

  // Runs `use(wasmClient, entry)` as a tracked call: it returns a promise from the core, or
  // nothing when `entry` is settled by other means (a request, by the host adapter). Every
  // call but a warm ensureLogin comes here: it drops the warm answer right before the client sees
  // the call. `tracked(entry)`, when given, receives the entry at once (for abort).
  function call(use, tracked) {
    if (disposed) return Promise.reject(disposedError());
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject };
      pending.add(entry);
      if (tracked) tracked(entry);
      const run = (client) => {
        if (!pending.has(entry)) return;
        warm = null;
        let answer;
        try {
          answer = use(client, entry);
        } catch (error) {
          return settle(entry, false, error);
        }
        // A trap during the call has already rejected `entry` (onTrap).
        if (answer && typeof answer.then === 'function') answer.then((v) => settle(entry, true, v), (e) => settle(entry, false, e));
      };
      if (wasmClient) run(wasmClient);
      else start().then(run, (error) => settle(entry, false, error));
    });
  }

  // A request's promise, with abort(): a call still waiting for the wasm settles ABORTED here; one
  // the core holds is aborted there (it leaves the queue or the wire, and rejects ABORTED).
  function requestCall(kind, requestOptions) {
    let copy;
    let entry = null;
    let promise;
    try {
      copy = readRequestOptions(requestOptions);
      promise = call((c, e) => host.request(c, kind, copy, e), (e) => (entry = e));
    } catch (error) {
      promise = Promise.reject(toMpSessionError(error));
    }
    promise.abort = function abort() {
      if (!entry || !pending.has(entry)) return;
      const client = wasmClient;
      if (client && entry.request !== undefined) {
        warm = null; // a call into the core: the warm answer's contract ends here too
        try {
          client.abort(Date.now(), entry.request);
        } catch (error) {
          // A failed instance: the call is settled below.
        }
      }
      settle(entry, false, { code: 'ABORTED' });
    };
    return promise;
  }

  return {
    /**
     * Resolves with { token, expiresAt, reply? }: the stored session, or a new one shared by all
     * callers. { force: true } makes a new session; { payload } a new one from an exchange that
     * also sends the payload's members (always its own exchange, never a shared running one).
     */
    ensureLogin(loginOptions) {
      let login;
      try {
        login = readLoginOptions(loginOptions);
      } catch (error) {
        return Promise.reject(toMpSessionError(error));
      }
      if (!login.force && !login.freshKey && wasmClient) {
        if (warm && Date.now() < warm.until) return Promise.resolve(warm.view);
        const client = wasmClient;
        try {
          const view = client.readySession();
          if (view && client === wasmClient) {
            freezeDeep(view.reply);
            warm = { view, until: client.readyUntil() };
            return Promise.resolve(view);
          }
        } catch (error) {
          // Only a failed instance throws here; the tracked call below starts a fresh one.
        }
      }
      return call((c) => c.ensureLogin(login.force, login.payload, login.freshKey));
    },
    /**
     * Logs in by account (password, SMS code) without wx.login: posts `data` as JSON to `path` on
     * baseUrl and keeps the session its reply grants, read as a login reply. Resolves like
     * ensureLogin. `data` is never stored, logged, or put in an error or event.
     */
    login(accountOptions) {
      let account;
      try {
        account = readAccountLogin(accountOptions);
      } catch (error) {
        return Promise.reject(toMpSessionError(error));
      }
      return call((c) => c.login(account.path, account.data));
    },
    /**
     * wx.request with the session: waits for the login state, attaches the token (to baseUrl's
     * origin and trustedOrigins only), re-logs in once and replays once when the session expired.
     * Resolves with wx.request's success object; other HTTP statuses resolve too.
     */
    request(requestOptions) {
      return requestCall('request', requestOptions);
    },
    /** wx.uploadFile with the same token and expiry handling. */
    uploadFile(uploadOptions) {
      return requestCall('uploadFile', uploadOptions);
    },
    /** wx.downloadFile with the same token and expiry handling. */
    downloadFile(downloadOptions) {
      return requestCall('downloadFile', downloadOptions);
    },
    /** Clears the session in memory and storage (resolved once storage is cleared); waiting callers reject LOGGED_OUT. */
    logout() {
      return call((c) => c.logout());
    },
    /** Calls listener({ type: 'login'|'logout'|'expired'|'loginRequired'|'storageFailed', ... }); returns unsubscribe. 'login' carries reply with replyFields. */
    onChange(listener) {
      if (typeof listener !== 'function') throw new TypeError('onChange needs a function');
      listeners.push(listener);
      return function unsubscribe() {
        const index = listeners.indexOf(listener);
        if (index >= 0) listeners.splice(index, 1);
      };
    },
    /**
     * Ends the client: calls in flight and every later call reject DISPOSED, listeners are
     * dropped, and its wasm memory, timer and callbacks are freed. The stored session stays.
     */
    dispose() {
      if (disposed) return Promise.resolve();
      disposed = true;
      warm = null;
      listeners.length = 0;
      host.end();
      rejectAll(disposedError());
      const client = wasmClient;
      const rt = runtime;
      wasmClient = null;
      runtime = null;
      if (rt) {
        const index = rt.onTrap.indexOf(onTrap);
        if (index >= 0) rt.onTrap.splice(index, 1);
      }
      // Freed once the current call stack is done: a listener may be disposing from inside a call.
      return Promise.resolve().then(() => {
        if (client && rt && !rt.trap) client.free();
      });
    },
  };
}

module.exports = { createClient, MpSessionError, isMpSessionError };
