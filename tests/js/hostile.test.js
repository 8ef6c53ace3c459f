'use strict';
// A page that misuses the client, on purpose or not: throwing getters, Proxies, `__proto__`,
// booby-trapped prototypes and globals, huge strings, a trapped wasm instance, and dispose().
// Whatever the page does, every call settles exactly once, and the client (and every other client
// of the app) keeps working.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startWorld, launch, admin, settle, rejection, watchUnhandled } = require('./helpers.js');

// The wasm instances the app makes, seen by wrapping the simulator's WXWebAssembly.instantiate:
// their memory, and a switch that makes the next raw `client_request` call trap, where a real trap
// (a bug) would surface.
function watchWasm(sim) {
  const seen = { memory: null, instances: [], trapNextRequest: false };
  const instantiate = sim.context.WXWebAssembly.instantiate;
  sim.context.WXWebAssembly.instantiate = (path, imports) => instantiate(path, imports).then((result) => {
    const raw = (result.instance || result).exports;
    const exports = Object.assign({}, raw);
    exports.client_request = function () {
      if (seen.trapNextRequest) {
        seen.trapNextRequest = false;
        throw new WebAssembly.RuntimeError('unreachable');
      }
      return raw.client_request.apply(this, arguments);
    };
    seen.memory = raw.memory;
    seen.instances.push(exports);
    return { instance: { exports }, module: result.module };
  });
  return seen;
}

for (const profile of ['ios', 'android']) {
  describe(`a hostile page (${profile})`, () => {
    let world;
    before(async () => { world = await startWorld(); });
    after(() => world.close());

    test('2,000 requests whose options throw from a getter: each rejects CONFIG_INVALID, no wasm stack leaks', async () => {
      const unhandled = watchUnhandled();
      const { sim, client } = launch(world, profile);
      const auth = client();
      await auth.ensureLogin();
      const bystander = client({ storageKey: 'bystander' });
      for (let i = 0; i < 2000; i++) {
        let promise;
        assert.doesNotThrow(() => { promise = auth.request({ url: '/api/me', get data() { throw new Error('booby trap'); } }); });
        const error = await rejection(promise);
        assert.equal(error.code, 'CONFIG_INVALID');
        assert.match(error.message, /`data`: reading it threw \(booby trap\)/);
      }
      assert.equal(sim.count('request'), 1, 'only the login went out: no ghost requests');
      // Every client of the app still works (before: "memory access out of bounds" after ~1,060).
      assert.equal((await auth.request({ url: '/api/me' })).statusCode, 200);
      assert.equal((await bystander.request({ url: '/api/me' })).statusCode, 200);
      await unhandled.check();
    });

    test('Proxies, revoked Proxies and throwing key lists are refused, never thrown at the page', async () => {
      const unhandled = watchUnhandled();
      const { client } = launch(world, profile);
      const auth = client();
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      const hostile = [
        new Proxy({ url: '/api/me' }, { ownKeys() { throw new Error('no keys'); } }),
        new Proxy({ url: '/api/me' }, { get() { throw new Error('no get'); } }),
        proxy,
        { url: '/api/me', header: new Proxy({}, { ownKeys() { throw new Error('header keys'); } }) },
        { url: '/api/me', header: { a: { b: { c: { d: { e: 'too deep' } } } } } },
        { url: 'x'.repeat(9000) },
        { url: 42 },
      ];
      for (const options of hostile) {
        let promise;
        assert.doesNotThrow(() => { promise = auth.request(options); });
        assert.equal((await rejection(promise)).code, 'CONFIG_INVALID');
      }
      assert.equal((await auth.request({ url: '/api/me' })).statusCode, 200);
      await unhandled.check();
    });

    test('createClient options that throw become CONFIG_INVALID on every call, not an exception', async () => {
      const { sim, createClient } = launch(world, profile);
      let auth;
      const options = { baseUrl: world.url, allowInsecureHttp: true, get timeoutMs() { throw new Error('nope'); } };
      assert.doesNotThrow(() => { auth = createClient(options); });
      const first = await rejection(auth.ensureLogin());
      assert.equal(first.code, 'CONFIG_INVALID');
      assert.equal(first.option, 'timeoutMs');
      assert.equal((await rejection(auth.request({ url: '/api/me' }))).code, 'CONFIG_INVALID');
      assert.equal(sim.count('login'), 0);
      const good = createClient({ baseUrl: world.url, allowInsecureHttp: true });
      assert.equal((await rejection(good.ensureLogin({ get force() { throw new Error('x'); } }))).code, 'CONFIG_INVALID');
    });

    test('`__proto__` cannot smuggle a method into a request', async () => {
      const { sim, client } = launch(world, profile);
      const auth = client({ maxRequestAttempts: 3 });
      await auth.ensureLogin();
      const smuggled = JSON.parse('{"url":"/api/me","__proto__":{"method":"DELETE"}}');
      const error = await rejection(auth.request(smuggled));
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.equal(error.option, '__proto__');
      const nested = JSON.parse('{"url":"/api/me","header":{"__proto__":{"x":"1"}}}');
      assert.equal((await rejection(auth.request(nested))).option, 'header.__proto__');
      assert.equal(sim.count('request'), 1, 'nothing was sent');
    });

    test('a throwing setter on Object.prototype during calls does not break the client', async () => {
      const unhandled = watchUnhandled();
      const { sim, clock, client } = launch(world, profile);
      const auth = client();
      await auth.ensureLogin();
      sim.evaluate(`Object.defineProperty(Object.prototype, 'statusCode', { configurable: true, set() { throw new Error('booby-trapped prototype'); } });
        Object.defineProperty(Object.prototype, 'expiresAt', { configurable: true, set() { throw new Error('booby-trapped prototype'); } });`);
      const during = await settle(Promise.all([auth.ensureLogin({ force: true }), auth.request({ url: '/api/me' })]), clock);
      assert.ok(during.value || during.error, 'the calls settled');
      sim.evaluate('delete Object.prototype.statusCode; delete Object.prototype.expiresAt;');
      // Before: every later call threw "RuntimeError: unreachable".
      const state = await auth.ensureLogin({ force: true });
      assert.equal(typeof state.expiresAt, 'number');
      assert.equal((await auth.request({ url: '/api/me' })).statusCode, 200);
      await unhandled.check();
    });

    test('a setTimeout that throws (a full stack, a replaced global) does not break the client', async () => {
      const { sim, client } = launch(world, profile);
      const auth = client();
      const realSetTimeout = sim.context.setTimeout;
      let thrown = 0;
      sim.context.setTimeout = (...args) => {
        if (thrown++ === 0) throw new RangeError('Maximum call stack size exceeded');
        return realSetTimeout(...args);
      };
      let during;
      assert.doesNotThrow(() => { during = auth.ensureLogin(); });
      assert.equal(typeof (await during).token, 'string');
      sim.context.setTimeout = realSetTimeout;
      assert.ok(thrown > 0, 'the login armed a timer');
      assert.equal((await auth.request({ url: '/api/me' })).statusCode, 200);
    });

    test('the SDK\'s token header replaces a page\'s header of any letter case', async () => {
      const { sim, client } = launch(world, profile);
      const auth = client();
      await auth.ensureLogin();
      const sent = [];
      const request = sim.wx.request;
      sim.wx.request = (opts) => { sent.push(Object.keys(opts.header)); return request(opts); };
      const res = await auth.request({ url: '/api/me', header: { authorization: 'Bearer stale-token', AUTHORIZATION: 'x', 'X-Other': '1' } });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(sent, [['X-Other', 'Authorization']], 'one Authorization header, the SDK\'s');
    });

    test('a platform request that answers inside the call, twice, throws or is missing: each request settles once', async () => {
      const unhandled = watchUnhandled();
      const { sim, client } = launch(world, profile);
      const auth = client();
      await auth.ensureLogin();
      const request = sim.wx.request;
      const answering = (answer) => { sim.wx.request = (opts) => answer(opts); };
      answering((opts) => { opts.success({ statusCode: 200, data: { n: 1 } }); return { abort() {} }; });
      assert.equal((await auth.request({ url: '/api/me' })).data.n, 1, 'an answer inside the call');
      assert.equal((await auth.request({ url: '/api/me' })).data.n, 1, 'and the next request still works');
      answering((opts) => { opts.success({ statusCode: 200, data: { n: 2 } }); opts.fail({ errMsg: 'request:fail late' }); opts.success({ statusCode: 500 }); });
      assert.equal((await auth.request({ url: '/api/me' })).data.n, 2, 'the first of three answers counts');
      answering(() => { throw new Error('request exploded'); });
      const thrown = await rejection(auth.request({ url: '/api/me', method: 'POST' }));
      assert.equal(thrown.code, 'NETWORK');
      assert.equal(thrown.errMsg, 'request exploded');
      sim.wx.request = request;
      const uploadFile = sim.wx.uploadFile;
      sim.wx.uploadFile = undefined;
      const missing = await rejection(auth.uploadFile({ url: '/api/avatar', filePath: 'wxfile://x', name: 'file' }));
      assert.equal(missing.code, 'NETWORK');
      assert.match(missing.errMsg, /uploadFile is not available/);
      sim.wx.uploadFile = uploadFile;
      assert.equal((await auth.request({ url: '/api/me' })).statusCode, 200);
      await unhandled.check();
    });

    test('a platform whose login throws, is missing or answers twice, or whose storage throws: typed errors, each call settles once', async () => {
      const unhandled = watchUnhandled();
      const { sim, client } = launch(world, profile);
      const login = sim.wx.login;
      sim.wx.login = () => { throw new Error('boom'); };
      const thrown = await rejection(client().ensureLogin());
      assert.equal(thrown.code, 'WX_LOGIN_FAILED');
      assert.equal(thrown.errMsg, 'boom');
      sim.wx.login = undefined;
      const missing = await rejection(client().ensureLogin());
      assert.equal(missing.code, 'WX_LOGIN_FAILED');
      assert.match(missing.errMsg, /login is not available on this platform/);
      sim.wx.login = (opts) => { login(Object.assign({}, opts, { success: (res) => { opts.success(res); opts.fail({ errMsg: 'login:fail late' }); opts.success({ code: 'other' }); } })); };
      const auth = client();
      const events = [];
      auth.onChange((e) => events.push(e.type));
      assert.ok((await auth.ensureLogin()).token, 'the first answer counts');
      sim.wx.login = login;
      const setStorage = sim.wx.setStorage;
      sim.wx.setStorage = () => { throw new Error('disk full'); };
      const again = await auth.ensureLogin({ force: true });
      assert.ok(again.token, 'a storage write that throws does not fail the login');
      assert.deepEqual(events, ['login', 'login', 'storageFailed']);
      sim.wx.setStorage = setStorage;
      await unhandled.check();
    });

    test('a server granting sub-second sessions gets BAD_RESPONSE, not a login storm', async () => {
      const { sim, clock, client } = launch(world, profile);
      await admin(world.url, '/admin/inject-login', { status: 200, body: { token: 'tiny-life', expiresIn: 1e-9 } });
      const auth = client();
      const error = await rejection(auth.ensureLogin());
      assert.equal(error.code, 'BAD_RESPONSE');
      assert.match(error.message, /below the 10 s minimum lifetime/);
      // Requests keep asking; automatic logins stay paced (3 at once, then one per 10 s).
      const outcomes = await settle(Promise.allSettled(Array.from({ length: 5 }, () => auth.request({ url: '/api/me' }))), clock);
      assert.equal(outcomes.value.length, 5);
      assert.ok(sim.count('login') <= 4, `${sim.count('login')} wx.login calls`);
    });

    test('a wx.login code over 1 KB is refused before it enters wasm memory', async () => {
      const { sim, client } = launch(world, profile);
      sim.wx.login = (o) => setImmediate(() => o.success({ code: 'c'.repeat(2048) }));
      const error = await rejection(client({ maxLoginAttempts: 1 }).ensureLogin());
      assert.equal(error.code, 'WX_LOGIN_FAILED');
      assert.match(error.message, /longer than 1 KB/);
    });

    test('a trapped wasm instance is replaced: calls in flight reject INTERNAL, the next call works from storage', async () => {
      const unhandled = watchUnhandled();
      const { sim, client } = launch(world, profile);
      const wasm = watchWasm(sim);
      const auth = client();
      const other = client({ storageKey: 'other' });
      await auth.ensureLogin();
      await other.ensureLogin();
      const held = auth.request({ url: '/api/slow' }).then(() => 'resolved', (e) => e);
      while ((await admin(world.url, '/admin/stats')).held < 1) await new Promise((resolve) => setImmediate(resolve));
      wasm.trapNextRequest = true;
      const failing = await rejection(auth.request({ url: '/api/me' }));
      assert.equal(failing.code, 'INTERNAL');
      assert.match(failing.message, /wasm instance failed \(unreachable\)/);
      const inFlight = await held;
      assert.equal(inFlight.code, 'INTERNAL', 'the request in flight was rejected, not lost');
      // A fresh instance, both clients rebuilt from their options and the stored sessions.
      assert.equal((await auth.request({ url: '/api/me' })).statusCode, 200);
      assert.equal((await other.request({ url: '/api/me' })).statusCode, 200);
      assert.equal(wasm.instances.length, 2);
      assert.equal(sim.count('login'), 2, 'no new wx.login: the sessions came back from storage');
      await admin(world.url, '/admin/release', {}); // the dead instance's answer arrives and is dropped
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal((await auth.request({ url: '/api/me' })).statusCode, 200);
      await unhandled.check();
    });

    test('dispose(): calls in flight and later calls reject DISPOSED, no timer is left', async () => {
      const unhandled = watchUnhandled();
      const { sim, clock, client } = launch(world, profile);
      const auth = client();
      await auth.ensureLogin();
      const events = [];
      auth.onChange((e) => events.push(e.type));
      const held = auth.request({ url: '/api/slow' });
      while ((await admin(world.url, '/admin/stats')).held < 1) await new Promise((resolve) => setImmediate(resolve));
      assert.ok(clock.pending() > 0, 'the request\'s deadline is armed');
      await auth.dispose();
      assert.equal((await rejection(held)).code, 'DISPOSED');
      assert.equal(clock.pending(), 0, 'the timer went with the client');
      for (const call of [() => auth.ensureLogin(), () => auth.request({ url: '/api/me' }), () => auth.logout()]) {
        assert.equal((await rejection(call())).code, 'DISPOSED');
      }
      await auth.dispose(); // twice is fine
      await admin(world.url, '/admin/release', {});
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(events, [], 'a disposed client emits nothing');
      // The stored session stays for the next client.
      const next = client();
      await next.ensureLogin();
      assert.equal(sim.count('login'), 1);
      await unhandled.check();
    });

    test('2,000 clients created, logged in from storage and disposed leave the wasm memory where it was', async (t) => {
      const { sim, client } = launch(world, profile);
      const wasm = watchWasm(sim);
      await client().ensureLogin();
      const cycle = async (dispose) => {
        const auth = client();
        await auth.ensureLogin();
        if (dispose) await auth.dispose();
      };
      for (let i = 0; i < 200; i++) await cycle(true); // warm-up: the allocator reaches its working size
      const before = wasm.memory.buffer.byteLength;
      for (let i = 0; i < 2000; i++) await cycle(true);
      const after = wasm.memory.buffer.byteLength;
      assert.equal(after, before, `wasm memory grew from ${before} to ${after} bytes`);
      // The same without dispose() (and, on iOS, no FinalizationRegistry) grows: the test can fail.
      for (let i = 0; i < 2000; i++) await cycle(false);
      const undisposed = wasm.memory.buffer.byteLength;
      t.diagnostic(`wasm memory: ${before} B before, ${after} B after 2,000 disposed clients, ${undisposed} B after 2,000 dropped ones`);
      if (profile === 'ios') assert.ok(undisposed > after, 'dropped clients without dispose() keep their memory');
      assert.equal(sim.count('login'), 1);
    });
  });
}
