'use strict';
// mp-session: the promise API pages use. All session logic lives in the wasm core; this file only
// loads it, passes the platform in, and types the errors.

const { loadBindings } = require('./loader.js');
const { MpSessionError, isMpSessionError, toMpSessionError } = require('./errors.js');

function rethrow(error) {
  throw toMpSessionError(error);
}

function createClient(options) {
  let platform;
  let wasmPath;
  let coreOptions = options;
  if (options && typeof options === 'object') {
    coreOptions = {};
    for (const key of Object.keys(options)) {
      if (key === 'platform') platform = options[key];
      else if (key === 'wasmPath') wasmPath = options[key];
      else coreOptions[key] = options[key];
    }
  }
  if (platform === undefined && typeof wx !== 'undefined') platform = wx;

  // The core's own answer for warm calls: { view, until } from readySession/readyUntil. It holds
  // until `until`, and only while nothing else reaches the client and no event comes (the core's
  // contract, held by a property test); so every other call and every event drops it.
  let warm = null;
  const listeners = [];
  function emit(event) {
    warm = null;
    for (const listener of listeners.slice()) {
      try {
        listener(event);
      } catch (e) {
        // A page's listener must not break the session.
      }
    }
  }

  let client = null;
  let loaded = null; // the Client once the wasm is in, for the synchronous warm path
  function ready() {
    if (!client) {
      client = loadBindings(wasmPath).then((bindings) => {
        if (!platform || (typeof platform !== 'object' && typeof platform !== 'function')) {
          throw new MpSessionError('CONFIG_INVALID', 'invalid option `platform`: no global wx found; pass the platform object (wx, uni, tt, qq)', { option: 'platform' });
        }
        if (wasmPath !== undefined && typeof wasmPath !== 'string') {
          throw new MpSessionError('CONFIG_INVALID', 'invalid option `wasmPath`: must be a path in the code package', { option: 'wasmPath' });
        }
        const seed = Math.floor(Math.random() * 0x100000000) >>> 0;
        loaded = new bindings.Client(coreOptions, platform, seed, emit);
        return loaded;
      });
      // A failed wasm load may succeed later (the client promise is rebuilt); a bad option will not.
      client.catch((error) => {
        if (error && error.code === 'WASM_LOAD_FAILED') client = null;
      });
    }
    return client;
  }

  // Every call but a warm ensureLogin goes through here: it drops the warm answer right before
  // the client sees the call (which may change what is ready), straight away once the wasm is in.
  function call(use) {
    if (loaded) {
      warm = null;
      return use(loaded).catch(rethrow);
    }
    return ready().then((c) => {
      warm = null;
      return use(c);
    }).catch(rethrow);
  }

  return {
    /** Resolves with { token, expiresAt }: the stored session, or a new one shared by all callers. */
    ensureLogin(loginOptions) {
      const force = Boolean(loginOptions && loginOptions.force);
      if (!force && loaded) {
        if (warm && Date.now() < warm.until) return Promise.resolve(warm.view);
        const view = loaded.readySession();
        if (view) {
          warm = { view, until: loaded.readyUntil() };
          return Promise.resolve(view);
        }
      }
      return call((c) => c.ensureLogin(force));
    },
    /**
     * wx.request with the session: waits for the login state, attaches the token (to baseUrl's
     * origin and trustedOrigins only), re-logs in once and replays once when the session expired.
     * Resolves with wx.request's success object; other HTTP statuses resolve too.
     */
    request(requestOptions) {
      return call((c) => c.request('request', requestOptions));
    },
    /** wx.uploadFile with the same token and expiry handling. */
    uploadFile(uploadOptions) {
      return call((c) => c.request('uploadFile', uploadOptions));
    },
    /** wx.downloadFile with the same token and expiry handling. */
    downloadFile(downloadOptions) {
      return call((c) => c.request('downloadFile', downloadOptions));
    },
    /** Clears the session in memory and storage (resolved once storage is cleared); waiting callers reject LOGGED_OUT. */
    logout() {
      return call((c) => c.logout());
    },
    /** Calls listener({ type: 'login'|'logout'|'expired'|'storageFailed', ... }); returns unsubscribe. */
    onChange(listener) {
      if (typeof listener !== 'function') throw new TypeError('onChange needs a function');
      listeners.push(listener);
      return function unsubscribe() {
        const index = listeners.indexOf(listener);
        if (index >= 0) listeners.splice(index, 1);
      };
    },
  };
}

module.exports = { createClient, MpSessionError, isMpSessionError };
