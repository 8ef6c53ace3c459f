'use strict';
// A mini-program runtime in a node:vm sandbox: what a mini-program has and nothing more. CommonJS
// `require` rooted at an app directory (with miniprogram_npm/ resolution), `wx` with real HTTP and
// persistent size-limited storage, `WXWebAssembly.instantiate(path)` that takes only a package
// path, App/Page/Component/Behavior/getApp/getCurrentPages, a controllable clock and fault
// injection. Enough of the framework surface (Component-built pages, setData paths, `global`,
// wx.nextTick, device-info getters) for Taro's and uni-app's runtimes to start an app.
//
// Profiles: 'ios' (no WebAssembly, TextEncoder, TextDecoder, WeakRef, FinalizationRegistry, fetch),
// 'android' (no TextEncoder/TextDecoder/fetch), 'devtools' (TextEncoder/TextDecoder present).
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const http = require('http');
const zlib = require('zlib');
const { SimStorage } = require('./storage.js');

const MAX_CONCURRENT_REQUESTS = 10;
// A 1x1 PNG: what chooseAvatar's temporary file holds in the simulator.
const TINY_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
// WeChat on iOS, on Android and in DevTools; 'tt' is Douyin (FACTS.md, "Other hosts"): its global
// `tt` and `TTWebAssembly`, no `wx`, tt.login's two codes, errors with `errNo`; 'alipay' is
// Alipay: its global `my`, no wasm API on the page's thread, a Worker (my.createWorker) with
// MYWebAssembly, getAuthCode, `headers`/`status`, failures as { error, errorMessage }.
const PROFILES = ['ios', 'android', 'devtools', 'tt', 'alipay'];
const ALIPAY_MAX_KEY_BYTES = 200 * 1024;
// Alipay gives mini-programs a navigator (Taro's Alipay runtime reads, and redefines, its userAgent).
const ALIPAY_USER_AGENT = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 AlipayClient/10.5.60.6000 Language/zh-Hans';

function createSimulator(options) {
  // wechatUrl: where the mock WeChat hands out wx.login's and getPhoneNumber's codes (the
  // developer server's own mock unless a separate one serves them).
  const { appDir, serverUrl, wechatUrl = serverUrl, profile = 'ios', clock, openid = 'o-sim-user' } = options;
  // Douyin: whether the user is logged into the Douyin app (tt.login gives a `code` only then).
  const douyinLoggedIn = options.douyinLoggedIn !== false;
  if (!PROFILES.includes(profile)) throw new Error(`unknown profile ${profile}`);
  const storage = options.storage || new SimStorage(options.storageFile);
  const counts = {};
  const timeline = [];
  const faults = { login: [], checkSession: [], request: [], storageWrites: null, storageReads: null };
  const now = clock ? clock.now : Date.now;
  const timers = clock || { setTimeout, clearTimeout };
  const startedAt = now();
  // Where an app's URLs really go: { 'http://127.0.0.1:8080': testServerUrl } lets an app built for
  // the developer server's default address run against a server on any port. The timeline keeps
  // the URL the app asked for.
  const hosts = Object.entries(options.hosts || {});
  const routed = (url) => {
    const hit = hosts.find(([from]) => url === from || url.startsWith(from + '/'));
    return hit ? hit[1] + url.slice(hit[0].length) : url;
  };

  function record(api, detail) {
    counts[api] = (counts[api] || 0) + 1;
    timeline.push({ t: now() - startedAt, api, detail });
    if (options.onCall) options.onCall(api, detail);
  }

  // WeChat calls back asynchronously; the real event loop keeps this independent of the fake clock.
  // options.onError, when given, receives what an app callback throws (instead of it becoming an
  // uncaught exception of the test process).
  function callback(opts, ok, result) {
    setImmediate(() => guarded(() => {
      const fn = ok ? opts.success : opts.fail;
      if (typeof fn === 'function') fn(result);
      if (typeof opts.complete === 'function') opts.complete(result);
    }));
  }

  function guarded(fn) {
    if (!options.onError) return fn();
    try {
      return fn();
    } catch (error) {
      options.onError(error);
      return undefined;
    }
  }

  // --- wx.request: real HTTP, at most 10 in flight, the rest queued in order ---
  let inFlight = 0;
  const queue = [];
  function pump() {
    while (inFlight < MAX_CONCURRENT_REQUESTS && queue.length) {
      inFlight++;
      queue.shift()(() => {
        inFlight--;
        pump();
      });
    }
  }

  // Applies the next injected network fault to a request of `kind`; true when it took the call.
  // Faults: 'drop' (never answers), 'fail' (network error), { delayMs } (answers after the clock
  // has moved delayMs, like a slow network).
  function injectedFault(kind, opts, done, send) {
    const fault = faults.request.shift();
    if (fault === 'drop') return true;
    if (fault === 'fail') {
      done();
      callback(opts, false, { errMsg: `${kind}:fail net::ERR_INTERNET_DISCONNECTED`, errno: 600001 });
      return true;
    }
    if (fault && typeof fault.delayMs === 'number') {
      timers.setTimeout(() => send(opts, done), fault.delayMs);
      return true;
    }
    return false;
  }

  // A platform task, as WeChat returns one: abort() ends it with `<kind>:fail abort` whether it
  // is queued (it leaves the queue) or on the wire (the HTTP request is destroyed and its slot
  // freed); after the task answered, abort() does nothing. `run(opts, done)` starts it.
  const liveRequests = new WeakMap(); // a task's opts → { req }: the HTTP request to destroy
  function startTask(kind, opts, run) {
    let answered = false;
    let aborted = false;
    let started = false;
    let release = null;
    const guard = (fn) => (res) => {
      if (aborted) return;
      answered = true;
      if (typeof fn === 'function') fn(res);
    };
    const wrapped = Object.assign({}, opts, { success: guard(opts.success), fail: guard(opts.fail), complete: guard(opts.complete) });
    const live = {};
    liveRequests.set(wrapped, live);
    const entry = (done) => {
      let released = false;
      release = () => {
        if (!released) {
          released = true;
          done();
        }
      };
      started = true;
      run(wrapped, release);
    };
    queue.push(entry);
    pump();
    return {
      abort() {
        if (answered || aborted) return;
        aborted = true;
        record(`${kind} abort`, opts.url);
        if (!started) {
          const at = queue.indexOf(entry);
          if (at >= 0) queue.splice(at, 1);
        } else {
          if (live.req) live.req.destroy();
          release();
        }
        callback(opts, false, { errMsg: `${kind}:fail abort` });
      },
    };
  }

  function httpRequest(opts, done) {
    if (injectedFault('request', opts, done, sendHttpRequest)) return;
    sendHttpRequest(opts, done);
  }

  function sendHttpRequest(opts, done) {
    const method = (opts.method || 'GET').toUpperCase();
    const headers = Object.assign({}, opts.header || {});
    let url = opts.url;
    let body = null;
    if (opts.data !== undefined && opts.data !== null) {
      if (method === 'GET' || method === 'HEAD') {
        if (typeof opts.data === 'object') url += (url.includes('?') ? '&' : '?') + new URLSearchParams(opts.data);
      } else {
        body = typeof opts.data === 'string' ? opts.data : JSON.stringify(opts.data);
        if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      }
    }
    const req = http.request(routed(url), { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        done();
        let data = Buffer.concat(chunks).toString('utf8');
        if ((opts.dataType || 'json') === 'json') {
          try {
            data = JSON.parse(data);
          } catch (e) {
            // WeChat hands over the raw string when the body is not JSON.
          }
        }
        // As WeChat answers: header values are strings (Set-Cookie joined by commas), and the
        // cookies again one per item in `cookies`; nothing keeps them for the next request.
        const header = {};
        for (const [key, value] of Object.entries(res.headers)) header[key] = Array.isArray(value) ? value.join(', ') : value;
        const cookies = res.headers['set-cookie'] || [];
        callback(opts, true, { statusCode: res.statusCode, data, header, cookies, errMsg: 'request:ok' });
      });
    });
    if (liveRequests.has(opts)) liveRequests.get(opts).req = req;
    req.on('error', (error) => {
      done();
      callback(opts, false, { errMsg: `request:fail ${error.message}`, errno: 600001 });
    });
    if (body !== null) req.write(body);
    req.end();
  }

  // Files the mini-program can name: wxfile://tmp_… paths mapped to a directory of the simulator.
  const fileDir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'mp-sim-files-'));
  let fileCount = 0;
  function localFile(filePath) {
    const name = String(filePath).replace(/^wxfile:\/\//, '');
    if (!/^[\w.-]+$/.test(name)) throw new Error(`invalid file path ${filePath}`);
    return path.join(fileDir, name);
  }

  // uploadFile: a multipart/form-data POST of one file; download: a GET saved to a temp file.
  function httpTransfer(kind, opts, done) {
    if (injectedFault(kind, opts, done, (o, d) => sendTransfer(kind, o, d))) return;
    sendTransfer(kind, opts, done);
  }

  function sendTransfer(kind, opts, done) {
    const headers = Object.assign({}, opts.header || {});
    let body = null;
    if (kind === 'uploadFile') {
      const boundary = `----mpsim${Date.now()}`;
      headers['content-type'] = `multipart/form-data; boundary=${boundary}`;
      const parts = [];
      for (const [k, v] of Object.entries(opts.formData || {})) {
        parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
      }
      parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${opts.name || 'file'}"; filename="${path.basename(String(opts.filePath))}"\r\ncontent-type: application/octet-stream\r\n\r\n`));
      try {
        parts.push(fs.readFileSync(localFile(opts.filePath)));
      } catch (error) {
        done();
        return callback(opts, false, { errMsg: `uploadFile:fail ${error.message}` });
      }
      parts.push(Buffer.from(`\r\n--${boundary}--\r\n`));
      body = Buffer.concat(parts);
    }
    const req = http.request(routed(opts.url), { method: kind === 'uploadFile' ? 'POST' : 'GET', headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        done();
        const data = Buffer.concat(chunks);
        if (kind === 'uploadFile') {
          return callback(opts, true, { statusCode: res.statusCode, data: data.toString('utf8'), errMsg: 'uploadFile:ok' });
        }
        const tempFilePath = `wxfile://tmp_${++fileCount}`;
        fs.writeFileSync(localFile(tempFilePath), data);
        callback(opts, true, { statusCode: res.statusCode, tempFilePath, errMsg: 'downloadFile:ok' });
      });
    });
    if (liveRequests.has(opts)) liveRequests.get(opts).req = req;
    req.on('error', (error) => {
      done();
      callback(opts, false, { errMsg: `${kind}:fail ${error.message}` });
    });
    if (body) req.write(body);
    req.end();
  }

  function getJson(url) {
    return new Promise((resolve, reject) => {
      http.get(url, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
      }).on('error', reject);
    });
  }

  function storageOp(name, opts, run) {
    record(name, opts.key);
    try {
      const result = run();
      callback(opts, true, Object.assign({ errMsg: `${name}:ok` }, result));
    } catch (error) {
      callback(opts, false, { errMsg: `${name}:fail ${error.message}` });
    }
  }

  const launchOptions = { path: '', query: {} };
  // The user's privacy agreement, and the app's handler for asking.
  const PRIVACY_CONTRACT = 'mp-session 示例小程序隐私保护指引';
  const privacy = { agreed: Boolean(options.privacyAgreed), handler: null };
  function authorizePrivacy(referrer) {
    if (privacy.agreed) return Promise.resolve(true);
    if (typeof privacy.handler !== 'function') return Promise.resolve(false);
    return new Promise((done) => {
      record('privacy prompt', referrer);
      privacy.handler((answer) => {
        privacy.agreed = Boolean(answer && answer.event === 'agree');
        record('privacy answer', privacy.agreed ? 'agree' : 'disagree');
        done(privacy.agreed);
      }, { referrer });
    });
  }

  const wx = {
    login(opts = {}) {
      record('login');
      const fault = faults.login.shift();
      if (fault === 'hang') return; // the callback never comes
      if (fault === 'fail') return callback(opts, false, { errMsg: 'login:fail system error', errno: 1 });
      getJson(`${wechatUrl}/mock-wechat/login?openid=${encodeURIComponent(openid)}`).then(
        ({ code }) => callback(opts, true, { code, errMsg: 'login:ok' }),
        (error) => callback(opts, false, { errMsg: `login:fail ${error.message}` }),
      );
    },
    checkSession(opts = {}) {
      record('checkSession');
      const fault = faults.checkSession.shift();
      if (fault === 'hang') return;
      callback(opts, fault !== 'fail', { errMsg: fault === 'fail' ? 'checkSession:fail session expired' : 'checkSession:ok' });
    },
    request(opts = {}) {
      record('request', `${(opts.method || 'GET').toUpperCase()} ${opts.url}`);
      return startTask('request', opts, httpRequest);
    },
    uploadFile(opts = {}) {
      record('uploadFile', opts.url);
      return startTask('uploadFile', opts, (o, done) => httpTransfer('uploadFile', o, done));
    },
    downloadFile(opts = {}) {
      record('downloadFile', opts.url);
      return startTask('downloadFile', opts, (o, done) => httpTransfer('downloadFile', o, done));
    },
    getStorage(opts = {}) {
      storageOp('getStorage', opts, () => {
        if (faults.storageReads) throw new Error(faults.storageReads);
        const { found, value } = storage.get(opts.key);
        if (!found) throw new Error('data not found');
        return { data: value };
      });
    },
    setStorage(opts = {}) {
      storageOp('setStorage', opts, () => {
        if (faults.storageWrites) throw new Error(faults.storageWrites);
        storage.set(opts.key, opts.data);
      });
    },
    removeStorage(opts = {}) {
      storageOp('removeStorage', opts, () => {
        if (faults.storageWrites) throw new Error(faults.storageWrites);
        storage.remove(opts.key);
      });
    },
    getStorageSync(key) {
      record('getStorageSync', key);
      const { found, value } = storage.get(key);
      return found ? value : '';
    },
    setStorageSync(key, data) {
      record('setStorageSync', key);
      if (faults.storageWrites) throw new Error(`setStorageSync:fail ${faults.storageWrites}`);
      storage.set(key, data);
    },
    removeStorageSync(key) {
      record('removeStorageSync', key);
      storage.remove(key);
    },
    // Device facts SDKs read at start-up.
    getSystemInfoSync() {
      record('getSystemInfoSync');
      return { platform: profile, system: profile === 'ios' ? 'iOS 17.0' : 'Android 14', SDKVersion: '3.4.0', version: '8.0.50', model: 'simulator' };
    },
    getAccountInfoSync() {
      record('getAccountInfoSync');
      return { miniProgram: { appId: 'touristappid', envVersion: 'develop', version: '' } };
    },
    getNetworkType(opts = {}) {
      record('getNetworkType');
      callback(opts, true, { networkType: 'wifi', errMsg: 'getNetworkType:ok' });
    },
    // WebSockets are not simulated: handlers may be registered (some SDKs do so on load), and
    // connecting fails.
    onSocketOpen() {},
    onSocketError() {},
    onSocketMessage() {},
    onSocketClose() {},
    connectSocket(opts = {}) {
      record('connectSocket', opts.url);
      callback(opts, false, { errMsg: 'connectSocket:fail not supported by the simulator' });
    },
    getAppBaseInfo() {
      record('getAppBaseInfo');
      return { SDKVersion: '3.4.0', version: '8.0.50', language: 'zh_CN', theme: 'light', enableDebug: false, host: { appId: 'wx-host' } };
    },
    getDeviceInfo() {
      record('getDeviceInfo');
      return { platform: profile, system: profile === 'ios' ? 'iOS 17.0' : 'Android 14', brand: 'simulator', model: 'simulator', benchmarkLevel: 1, abi: '', deviceAbi: '', cpuType: '', memorySize: 4096 };
    },
    getWindowInfo() {
      record('getWindowInfo');
      return { pixelRatio: 2, screenWidth: 375, screenHeight: 812, windowWidth: 375, windowHeight: 812, statusBarHeight: 44, screenTop: 0, safeArea: { left: 0, right: 375, top: 44, bottom: 778, width: 375, height: 734 } };
    },
    getLaunchOptionsSync() {
      record('getLaunchOptionsSync');
      return { path: launchOptions.path, query: Object.assign({}, launchOptions.query), scene: 1001, referrerInfo: {} };
    },
    getEnterOptionsSync() {
      record('getEnterOptionsSync');
      return { path: launchOptions.path, query: Object.assign({}, launchOptions.query), scene: 1001, referrerInfo: {} };
    },
    // An API name answers whether this wx has it; other schemas (components, attributes) are
    // taken as supported.
    canIUse(schema) {
      const name = String(schema);
      return /^[A-Za-z]\w*$/.test(name) ? typeof wx[name] === 'function' : true;
    },
    // Runs fn after the current task, as WeChat's nextTick does.
    nextTick(fn) {
      setImmediate(() => guarded(fn));
    },
    // App-level listeners: accepted, never fired (the simulated app stays in the foreground).
    onAppShow() {},
    offAppShow() {},
    onAppHide() {},
    offAppHide() {},
    onError() {},
    offError() {},
    onUnhandledRejection() {},
    offUnhandledRejection() {},
    onThemeChange() {},
    offThemeChange() {},
    onWindowResize() {},
    offWindowResize() {},
    // Asks WeChat to fetch assets ahead of use: recorded, never fetched (the simulator has no
    // network but the test server).
    preloadAssets(opts = {}) {
      record('preloadAssets', (opts.data || []).map((a) => a && a.src).join(','));
      callback(opts, true, { errMsg: 'preloadAssets:ok' });
    },
    createSelectorQuery() {
      const query = {
        in() { return query; },
        select() { return nodes; },
        selectAll() { return nodes; },
        selectViewport() { return nodes; },
        exec(cb) { if (typeof cb === 'function') setImmediate(() => guarded(() => cb([]))); },
      };
      const nodes = { boundingClientRect() { return query; }, scrollOffset() { return query; }, fields() { return query; }, node() { return query; }, context() { return query; } };
      return query;
    },
    // Privacy (base library >= 2.32.3): APIs touching personal data wait for the user's agreement;
    // the app's onNeedPrivacyAuthorization handler gets `resolve` and shows its own prompt.
    getPrivacySetting(opts = {}) {
      record('getPrivacySetting');
      callback(opts, true, { needAuthorization: !privacy.agreed, privacyContractName: PRIVACY_CONTRACT, errMsg: 'getPrivacySetting:ok' });
    },
    onNeedPrivacyAuthorization(handler) {
      record('onNeedPrivacyAuthorization');
      privacy.handler = handler;
    },
    requirePrivacyAuthorize(opts = {}) {
      record('requirePrivacyAuthorize');
      authorizePrivacy('requirePrivacyAuthorize').then((ok) => callback(opts, ok, { errMsg: ok ? 'requirePrivacyAuthorize:ok' : 'requirePrivacyAuthorize:fail privacy permission is not authorized' }));
    },
    openPrivacyContract(opts = {}) {
      record('openPrivacyContract');
      callback(opts, true, { errMsg: 'openPrivacyContract:ok' });
    },
    showToast(opts = {}) {
      record('showToast', opts.title);
      callback(opts, true, { errMsg: 'showToast:ok' });
    },
    showLoading(opts = {}) {
      record('showLoading', opts.title);
      callback(opts, true, { errMsg: 'showLoading:ok' });
    },
    hideLoading(opts = {}) {
      record('hideLoading');
      callback(opts, true, { errMsg: 'hideLoading:ok' });
    },
  };

  // Douyin's tt: wx's calls with Douyin's error shape (errNo, not errno), and its own login. tt.login
  // gives `anonymousCode` always and `code` only to a user logged into the Douyin app; `force`
  // (default true) shows that user Douyin's login sheet, which the simulated user accepts.
  // wx's calls on another host's object: their fail and complete callbacks get `reshape(result)`
  // (that host's error shape); sync calls (a key, not options) pass through.
  function rehosted(host, reshape, skip = []) {
    for (const [name, fn] of Object.entries(wx)) {
      if (skip.includes(name)) continue;
      host[name] = typeof fn !== 'function' ? fn : function (opts = {}) {
        return fn.call(host, opts && typeof opts === 'object' ? withFailures(opts, reshape) : opts);
      };
    }
    return host;
  }
  const withFailures = (opts, reshape) => Object.assign({}, opts, {
    fail: typeof opts.fail === 'function' ? (error) => opts.fail(reshape(error)) : opts.fail,
    complete: typeof opts.complete === 'function' ? (result) => opts.complete(reshape(result)) : opts.complete,
  });
  const tt = rehosted({}, douyinError);
  function douyinError(result) {
    if (!result || typeof result.errno !== 'number') return result;
    const { errno, ...rest } = result;
    return Object.assign(rest, { errNo: errno });
  }
  let douyinSessionLoggedIn = douyinLoggedIn;
  tt.login = function (opts = {}) {
    record('login', opts.force === false ? 'force: false' : 'force');
    const fault = faults.login.shift();
    if (fault === 'hang') return;
    if (fault === 'fail') return callback(opts, false, { errMsg: 'login:fail system error', errNo: 1 });
    if (!douyinSessionLoggedIn && opts.force !== false) {
      record('login sheet');
      douyinSessionLoggedIn = true;
    }
    const anonymous = !douyinSessionLoggedIn;
    getJson(`${wechatUrl}/mock-douyin/login?openid=${encodeURIComponent(openid)}${anonymous ? '&anonymous=1' : ''}`).then(
      (codes) => callback(opts, true, Object.assign({ isLogin: !anonymous, errMsg: 'login:ok' }, codes)),
      (error) => callback(opts, false, { errMsg: `login:fail ${error.message}` }),
    );
  };

  // Date.now and new Date() follow the fake clock, in the page's context and in a Worker's (one
  // device clock for both).
  function useClock(target) {
    if (!clock) return;
    target.__clockNow = clock.now;
    vm.runInContext(`
      (function () {
        const RealDate = Date;
        function SimDate(...args) { return args.length ? new RealDate(...args) : new RealDate(__clockNow()); }
        SimDate.now = () => __clockNow();
        SimDate.UTC = RealDate.UTC;
        SimDate.parse = RealDate.parse;
        SimDate.prototype = RealDate.prototype;
        globalThis.Date = SimDate;
      })();
    `, target);
  }

  // Alipay's my: wx's calls with Alipay's shapes, getAuthCode for login, no checkSession.
  function alipayError(result) {
    if (!result || typeof result.errMsg !== 'string') return result;
    return { error: typeof result.errno === 'number' ? result.errno : 3, errorMessage: result.errMsg.replace(/^\w+:fail ?/, '') };
  }
  const alipayOpts = (opts) => withFailures(opts, alipayError);
  const my = rehosted({}, alipayError, ['login', 'checkSession', 'request']);
  my.getAuthCode = function (opts = {}) {
    record('getAuthCode', opts.scopes);
    const fault = faults.login.shift();
    if (fault === 'hang') return;
    if (fault === 'fail') return callback(opts, false, { error: 11, errorMessage: '用户取消授权' });
    getJson(`${wechatUrl}/mock-alipay/auth-code?openid=${encodeURIComponent(openid)}`).then(
      ({ authCode }) => callback(opts, true, { authCode, authErrorScopes: {}, authSuccessScopes: [opts.scopes] }),
      (error) => callback(opts, false, { error: 12, errorMessage: error.message }),
    );
  };
  // my.request takes `headers` (a `header` is not sent) and answers { status, headers, data }.
  my.request = function (opts = {}) {
    const forwarded = Object.assign({}, alipayOpts(opts), { header: opts.headers });
    delete forwarded.headers;
    const success = opts.success;
    forwarded.success = typeof success === 'function' ? (res) => success({ status: res.statusCode, headers: res.header, data: res.data }) : success;
    return wx.request(forwarded);
  };
  // Alipay's toast text is `content` (frameworks rename the page's `title` to it).
  my.showToast = function (opts = {}) {
    return wx.showToast(Object.assign({}, alipayOpts(opts), { title: opts.content }));
  };
  my.setStorage = function (opts = {}) {
    if (SimStorage.size(String(opts.key), opts.data) > ALIPAY_MAX_KEY_BYTES) {
      record('setStorage', opts.key);
      return callback(opts, false, { error: 15, errorMessage: 'exceed max storage size of a key (200 KB)' });
    }
    return wx.setStorage(alipayOpts(opts));
  };

  // Alipay's Workers: the script runs in a context of its own with `worker` (onMessage,
  // postMessage of key-value objects, copied as JSON) and MYWebAssembly, and `require` from the
  // workers directory of app.json only. sim.killWorkers() ends them as the host may.
  const workers = [];
  function createWorker(scriptPath) {
    record('createWorker', scriptPath);
    const appJsonFile = path.join(appDir, 'app.json');
    const dir = fs.existsSync(appJsonFile) ? JSON.parse(fs.readFileSync(appJsonFile, 'utf8')).workers : undefined;
    const root = typeof dir === 'string' ? dir.replace(/\/$/, '') : null;
    if (!root || !scriptPath.startsWith(root + '/')) {
      throw new Error(`createWorker: ${scriptPath} is not in app.json's "workers" directory (${dir})`);
    }
    const toPage = [];
    const toWorker = [];
    const killed = [];
    let alive = true;
    const copy = (message) => {
      if (!message || typeof message !== 'object' || Array.isArray(message)) throw new Error('postMessage takes a key-value object');
      return JSON.parse(JSON.stringify(message));
    };
    const deliver = (handlers, message) => setImmediate(() => {
      if (alive) for (const handler of handlers) guarded(() => handler(message));
    });
    const workerGlobal = {
      onMessage(handler) { toWorker.push(handler); },
      postMessage(message) { if (alive) deliver(toPage, copy(message)); },
    };
    const workerContext = vm.createContext({
      console, worker: workerGlobal, MYWebAssembly: makeWasmApi('MYWebAssembly'),
      setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout,
    });
    vm.runInContext("'use strict'; delete globalThis.WebAssembly;", workerContext);
    useClock(workerContext);
    const workerModules = new Map();
    const loadInWorker = (modulePath) => {
      if (!modulePath.startsWith(`/${root}/`)) throw new Error(`a Worker requires only from ${root}/: ${modulePath}`);
      if (workerModules.has(modulePath)) return workerModules.get(modulePath).exports;
      const module = { exports: {} };
      workerModules.set(modulePath, module);
      const source = fs.readFileSync(path.join(appDir, modulePath), 'utf8');
      const wrapper = vm.runInContext(`(function (exports, require, module) {${source}\n})`, workerContext, { filename: path.join(appDir, modulePath) });
      wrapper(module.exports, (spec) => loadInWorker(resolve(path.posix.dirname(modulePath), spec)), module);
      return module.exports;
    };
    const handle = {
      onMessage(handler) { toPage.push(handler); },
      postMessage(message) { if (alive) deliver(toWorker, copy(message)); },
      onProcessKilled(handler) { killed.push(handler); },
      terminate() { record('worker terminate', scriptPath); alive = false; },
      kill() {
        if (!alive) return;
        alive = false;
        for (const handler of killed) setImmediate(() => guarded(handler));
      },
      // Hung: alive to the host, but nothing goes in or out any more.
      freeze() { alive = false; },
    };
    workers.push(handle);
    setImmediate(() => guarded(() => loadInWorker(`/${scriptPath.replace(/^\//, '')}`)));
    return handle;
  }
  my.createWorker = createWorker;

  // Takes only a path inside the code package, as WeChat does; bytes or URLs are refused.
  const WXWebAssembly = makeWasmApi(`${profile === 'tt' ? 'TT' : 'WX'}WebAssembly`);
  function makeWasmApi(name) { return {
    instantiate(wasmPath, imports) {
      record(`${name}.instantiate`, wasmPath);
      if (typeof wasmPath !== 'string' || !wasmPath.startsWith('/') || !/\.wasm(\.br)?$/.test(wasmPath)) {
        return Promise.reject(new Error(`WXWebAssembly.instantiate takes a code package path ending .wasm or .wasm.br, got ${typeof wasmPath === 'string' ? wasmPath : typeof wasmPath}`));
      }
      const file = path.join(appDir, wasmPath);
      if (!file.startsWith(appDir) || !fs.existsSync(file)) return Promise.reject(new Error(`no such file in the code package: ${wasmPath}`));
      let bytes = fs.readFileSync(file);
      if (wasmPath.endsWith('.br')) bytes = zlib.brotliDecompressSync(bytes);
      if (!options.countCrossings) return WebAssembly.instantiate(bytes, imports);
      // Every call across the boundary, either way, counted in sim.crossings (by function name).
      const count = (name, fn) => function () {
        crossings.total++;
        crossings.byName[name] = (crossings.byName[name] || 0) + 1;
        return fn.apply(this, arguments);
      };
      const counted = {};
      for (const [module, fns] of Object.entries(imports)) {
        counted[module] = {};
        for (const [name, fn] of Object.entries(fns)) counted[module][name] = typeof fn === 'function' ? count(`import ${name}`, fn) : fn;
      }
      return WebAssembly.instantiate(bytes, counted).then(({ instance, module }) => {
        const exports = {};
        for (const [name, value] of Object.entries(instance.exports)) exports[name] = typeof value === 'function' ? count(`export ${name}`, value) : value;
        return { instance: { exports }, module };
      });
    },
  }; }
  const crossings = { total: 0, byName: {} };

  // --- the sandbox ---
  const sandbox = {
    console,
    ...(profile === 'tt' ? { tt, TTWebAssembly: WXWebAssembly } : profile === 'alipay' ? { my, navigator: { userAgent: ALIPAY_USER_AGENT } } : { wx, WXWebAssembly }),
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    setInterval,
    clearInterval,
  };
  // WeChat gives app code a `global` object of its own (not globalThis): frameworks keep things
  // on it (uni-app's global.createApp).
  sandbox.global = {};
  sandbox.requirePlugin = (name) => {
    throw new Error(`requirePlugin(${JSON.stringify(name)}): plugins are not simulated`);
  };
  const context = vm.createContext(sandbox);
  vm.runInContext(`
    'use strict';
    // V8 builtins a real device may lack.
    ${profile === 'ios' || profile === 'tt' || profile === 'alipay' ? 'delete globalThis.WebAssembly; delete globalThis.WeakRef; delete globalThis.FinalizationRegistry;' : ''}
  `, context);
  useClock(context);
  if (profile === 'devtools') {
    context.TextEncoder = TextEncoder;
    context.TextDecoder = TextDecoder;
  }

  // --- CommonJS, rooted at appDir ---
  const modules = new Map();
  function resolve(fromDir, spec) {
    let target;
    if (spec.startsWith('/')) target = spec;
    else if (spec.startsWith('.')) target = path.posix.join(fromDir, spec);
    else target = `/miniprogram_npm/${spec}`;
    const candidates = [target, `${target}.js`, `${target}/index.js`];
    const found = candidates.find((c) => fs.existsSync(path.join(appDir, c)) && fs.statSync(path.join(appDir, c)).isFile());
    if (!found) throw new Error(`module not found in the mini-program: ${spec} (from ${fromDir})`);
    return found;
  }

  function load(modulePath) {
    if (modules.has(modulePath)) return modules.get(modulePath).exports;
    const module = { exports: {} };
    modules.set(modulePath, module);
    const source = fs.readFileSync(path.join(appDir, modulePath), 'utf8');
    const wrapper = vm.runInContext(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, context, {
      filename: path.join(appDir, modulePath),
    });
    const dir = path.posix.dirname(modulePath);
    wrapper(module.exports, (spec) => load(resolve(dir, spec)), module, modulePath, dir);
    return module.exports;
  }

  // --- App / Page / Component / Behavior ---
  // App(): getApp() returns a copy of the definition, inherited enumerable properties included
  // (frameworks build it with Object.create). Page(def) and Component(def) register what the file
  // being loaded defines: a page route (openPage) or a component path (loadComponent).
  let app = null;
  const pageDefs = new Map();
  const componentPages = new Set(); // routes whose page was built with Component()
  const componentDefs = new Map();
  const pageStack = [];
  let loadingRoute = null;
  let loadingComponent = null;
  context.App = (def) => {
    app = Object.assign({}, def);
    for (const key in def) if (!(key in app)) app[key] = def[key];
  };
  context.getApp = () => app;
  context.Page = (def) => {
    pageDefs.set(loadingRoute, def);
  };
  context.Component = (def) => {
    if (loadingRoute !== null) {
      pageDefs.set(loadingRoute, def);
      componentPages.add(loadingRoute);
    } else {
      componentDefs.set(loadingComponent, def);
    }
  };
  // Behaviors are mixins of Component definitions; built-in ones ('wx://form-field') are strings.
  context.Behavior = (def) => def;
  context.getCurrentPages = () => pageStack.slice();

  // setData keys may be paths, as in WeChat: 'list[2].name', 'root.cn.[0].v'.
  function setData(target, patch) {
    for (const [key, value] of Object.entries(patch)) {
      const copy = JSON.parse(JSON.stringify(value === undefined ? null : value));
      if (!/[.[]/.test(key)) {
        target.data[key] = copy;
        continue;
      }
      const parts = [];
      key.replace(/\[(\d+)\]|([^.[\]]+)/g, (m, index, name) => parts.push(index !== undefined ? Number(index) : name));
      let node = target.data;
      for (let i = 0; i < parts.length - 1; i++) {
        if (node[parts[i]] === null || typeof node[parts[i]] !== 'object') node[parts[i]] = typeof parts[i + 1] === 'number' ? [] : {};
        node = node[parts[i]];
      }
      node[parts[parts.length - 1]] = copy;
    }
  }

  function eventChannel() {
    const listeners = [];
    return {
      on(name, fn) { listeners.push({ name, fn }); },
      once(name, fn) { listeners.push({ name, fn, once: true }); },
      off(name, fn) { listeners.splice(0, listeners.length, ...listeners.filter((l) => l.name !== name || (fn && l.fn !== fn))); },
      emit(name, ...args) { for (const l of listeners.slice()) if (l.name === name) { if (l.once) this.off(name, l.fn); l.fn(...args); } },
    };
  }

  // What every page and component instance has besides its definition.
  function instanceApi(instance, route) {
    instance.setData = (patch, cb) => {
      setData(instance, patch);
      record('setData', Object.keys(patch).join(','));
      if (cb) cb();
    };
    const defaults = {
      is: route,
      __route__: route,
      triggerEvent() {},
      selectComponent() { return null; },
      selectAllComponents() { return []; },
      selectOwnerComponent() { return null; },
      createSelectorQuery() { return wx.createSelectorQuery(); },
      getOpenerEventChannel() { return channel; },
      getPageId() { return `pageId:${pageStack.length + 1}`; },
      hasBehavior() { return false; },
    };
    const channel = eventChannel();
    for (const [key, value] of Object.entries(defaults)) if (!(key in instance)) instance[key] = value;
    return instance;
  }

  // The default value WeChat gives a property of each type.
  function propertyDefault(spec) {
    if (spec && typeof spec === 'object' && !Array.isArray(spec)) {
      if ('value' in spec) return JSON.parse(JSON.stringify(spec.value === undefined ? null : spec.value));
      spec = spec.type;
    }
    if (spec === String) return '';
    if (spec === Number) return 0;
    if (spec === Boolean) return false;
    if (spec === Array) return [];
    return null;
  }

  // A Component() definition made into an instance: behaviors first, then the definition; data
  // and properties share one object (as in WeChat); methods on the instance.
  function createComponentInstance(def, route, isPage) {
    const parts = [];
    const collect = (d) => {
      for (const b of d.behaviors || []) if (b && typeof b === 'object') collect(b);
      parts.push(d);
    };
    collect(def);
    const data = {};
    const hooks = { created: [], attached: [], ready: [], show: [] };
    const instance = { data, properties: data };
    if (isPage) instance.route = route;
    for (const part of parts) {
      for (const [name, spec] of Object.entries(part.properties || {})) data[name] = propertyDefault(spec);
      Object.assign(data, JSON.parse(JSON.stringify(part.data || {})));
      Object.assign(instance, part.methods || {});
      const lifetimes = part.lifetimes || {};
      for (const name of ['created', 'attached', 'ready']) {
        const fn = lifetimes[name] || part[name];
        if (typeof fn === 'function') hooks[name].push(fn);
      }
      if (part.pageLifetimes && typeof part.pageLifetimes.show === 'function') hooks.show.push(part.pageLifetimes.show);
    }
    instanceApi(instance, route);
    return { instance, hooks };
  }

  // Loads a custom component's file (and those its .json names in usingComponents), as WeChat
  // does before showing a page that uses it.
  function loadComponent(componentPath, seen = new Set()) {
    const normalized = componentPath.replace(/^\//, '').replace(/\.js$/, '');
    if (seen.has(normalized)) return;
    seen.add(normalized);
    loadingComponent = normalized;
    try {
      load(resolve('/', `/${normalized}.js`));
    } finally {
      loadingComponent = null;
    }
    if (!componentDefs.has(normalized)) throw new Error(`${normalized}.js did not call Component()`);
    const json = path.join(appDir, `${normalized}.json`);
    if (!fs.existsSync(json)) return;
    const using = JSON.parse(fs.readFileSync(json, 'utf8')).usingComponents || {};
    for (const target of Object.values(using)) {
      if (typeof target !== 'string' || target.startsWith('plugin://')) continue;
      loadComponent(target.startsWith('/') ? target : path.posix.join(path.posix.dirname(normalized), target), seen);
    }
  }

  const sim = {
    context,
    wx: profile === 'tt' ? tt : profile === 'alipay' ? my : wx,
    // Alipay: the Workers started, and what the host does when it ends them.
    workers,
    killWorkers() {
      for (const handle of workers) handle.kill();
    },
    freezeWorkers() {
      for (const handle of workers) handle.freeze();
    },
    storage,
    counts,
    timeline,
    faults,
    profile,
    // With options.countCrossings: calls between JS and the wasm, { total, byName }.
    crossings,
    require(spec) {
      return load(resolve('/', spec));
    },
    // Evaluates code in the sandbox (for checks of what the runtime offers).
    evaluate(code) {
      return vm.runInContext(code, context);
    },
    // Starts the app as WeChat does: app.js, then App's onLaunch and onShow.
    launch(query = {}) {
      launchOptions.query = query;
      load(resolve('/', '/app.js'));
      if (app && typeof app.onLaunch === 'function') app.onLaunch({ path: '', query, scene: 1001 });
      if (app && typeof app.onShow === 'function') app.onShow({ path: '', query, scene: 1001 });
      return app;
    },
    // Loads a page (built with Page() or Component()) and runs its start-up lifecycle: a Page's
    // onLoad, onShow, onReady; a Component page's created, attached, onLoad, onShow, ready, onReady.
    openPage(route, query = {}) {
      loadingRoute = route;
      try {
        load(resolve('/', `/${route}.js`));
      } finally {
        loadingRoute = null;
      }
      const def = pageDefs.get(route);
      if (!def) throw new Error(`${route}.js did not call Page()`);
      if (componentPages.has(route)) {
        const { instance: page, hooks } = createComponentInstance(def, route, true);
        for (const fn of hooks.created) fn.call(page);
        pageStack.push(page);
        for (const fn of hooks.attached) fn.call(page);
        if (typeof page.onLoad === 'function') page.onLoad(query);
        if (typeof page.onShow === 'function') page.onShow();
        for (const fn of hooks.show) fn.call(page);
        for (const fn of hooks.ready) fn.call(page);
        if (typeof page.onReady === 'function') page.onReady();
        return page;
      }
      const page = instanceApi(Object.assign({ route, data: JSON.parse(JSON.stringify(def.data || {})) }, def), route);
      pageStack.push(page);
      if (typeof page.onLoad === 'function') page.onLoad(query);
      if (typeof page.onShow === 'function') page.onShow();
      if (typeof page.onReady === 'function') page.onReady();
      return page;
    },
    // Registers a custom component (path in the code package, no extension) and the components
    // it uses; its definition is then in sim.components.
    loadComponent(componentPath) {
      loadComponent(componentPath);
      return componentDefs.get(componentPath.replace(/^\//, '').replace(/\.js$/, ''));
    },
    components: componentDefs,
    privacy,
    // What an open-type button hands its handler when the user taps it, as a promise (it waits for
    // the privacy prompt when the user has not agreed yet): 'getPhoneNumber' → { detail: { code } }
    // with a one-time code from the mock WeChat; 'chooseAvatar' → { detail: { avatarUrl } }, a
    // temporary PNG file.
    tapOpenType(type) {
      record('tap', `open-type=${type}`);
      return authorizePrivacy(type).then((ok) => {
        const denied = { type: type.toLowerCase(), detail: { errMsg: `${type}:fail privacy permission is not authorized`, errno: 104 } };
        if (!ok) return denied;
        if (type === 'getPhoneNumber') {
          return getJson(`${wechatUrl}/mock-wechat/phone-code?openid=${encodeURIComponent(openid)}`)
            .then(({ code }) => ({ type: 'getphonenumber', detail: { code, errMsg: 'getPhoneNumber:ok' } }));
        }
        if (type === 'chooseAvatar') {
          const name = `tmp_avatar_${++fileCount}.png`;
          fs.writeFileSync(localFile(name), TINY_PNG);
          return { type: 'chooseavatar', detail: { avatarUrl: `wxfile://${name}` } };
        }
        throw new Error(`open-type ${type} is not simulated`);
      });
    },
    // Instantiates a custom component (created, attached, ready) as a page using it would.
    mountComponent(componentPath) {
      const normalized = componentPath.replace(/^\//, '').replace(/\.js$/, '');
      loadComponent(normalized);
      const { instance, hooks } = createComponentInstance(componentDefs.get(normalized), normalized, false);
      for (const name of ['created', 'attached', 'ready']) for (const fn of hooks[name]) fn.call(instance);
      return instance;
    },
    count(api) {
      return counts[api] || 0;
    },
    // Overwrites a stored value behind the app's back, as a damaged or hand-edited storage would.
    corruptStorage(key, value = '{"version":1,"token":') {
      storage.data.set(key, value);
      storage.flush();
    },
    // The timeline as lines: `+ms api detail`.
    formatTimeline() {
      return timeline.map(({ t, api, detail }) => `+${String(t).padStart(6)} ms  ${api}${detail ? ` ${detail}` : ''}`).join('\n');
    },
    // Puts a file where the mini-program can name it (as chooseImage would), returning its path.
    writeFile(name, contents) {
      fs.writeFileSync(localFile(name), contents);
      return `wxfile://${name}`;
    },
    readFile(filePath) {
      return fs.readFileSync(localFile(filePath));
    },
  };
  return sim;
}

// Lays out a mini-program directory as "构建 npm" would: the package's miniprogram directory
// copied to miniprogram_npm/<name>/.
function makeAppDir(dir, packageDistDir, name = 'mp-session') {
  const target = path.join(dir, 'miniprogram_npm', name);
  fs.mkdirSync(target, { recursive: true });
  for (const file of fs.readdirSync(packageDistDir)) fs.copyFileSync(path.join(packageDistDir, file), path.join(target, file));
  return dir;
}

module.exports = { createSimulator, makeAppDir, MAX_CONCURRENT_REQUESTS };
