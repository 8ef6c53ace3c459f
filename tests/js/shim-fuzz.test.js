'use strict';
// A property-based fuzz target for the shim: generated hostile values (throwing getters, Proxies
// with throwing traps, frozen objects, inherited keys, `__proto__`, huge strings, wrong types,
// cycles) thrown at every public method, some requests aborted. Invariants: no method throws synchronously, every
// promise settles exactly once with a result or an MpSessionError, no rejection goes unhandled,
// and afterwards the same client still logs in and sends. Seeded, so a failure names its case.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startWorld, launch, settle, watchUnhandled, alipayApp, LOGIN_PATHS } = require('./helpers.js');

const CASES = Number(process.env.SHIM_FUZZ_CASES || 300);

function generator(seed) {
  let state = seed >>> 0;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 0x100000000;
  const pick = (items) => items[Math.floor(next() * items.length)];
  const boom = () => { throw new Error('hostile'); };
  function value(depth) {
    const leaf = [
      () => undefined, () => null, () => 0, () => -1, () => NaN, () => 1e308, () => true, () => '',
      () => 'x'.repeat(Math.floor(next() * 20000)), () => '/api/me', () => 'https://evil.example.com/x',
      () => boom, () => Symbol('s'), () => 10n, () => new Date(0),
    ];
    if (depth > 2) return pick(leaf)();
    return pick(leaf.concat([
      () => object(depth + 1),
      () => [value(depth + 1), value(depth + 1)],
      () => Object.freeze(object(depth + 1)),
      () => new Proxy(object(depth + 1), pick([{}, { get: boom }, { ownKeys: boom }, { getOwnPropertyDescriptor: boom }, { has: boom }])),
      () => { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); return proxy; },
      () => { const o = object(depth + 1); o.self = o; return o; },
      () => Object.create(object(depth + 1)),
      () => JSON.parse('{"__proto__":{"method":"DELETE"},"url":"/api/me"}'),
    ]))();
  }
  function object(depth) {
    const o = {};
    const keys = ['url', 'method', 'data', 'header', 'timeout', 'force', 'baseUrl', 'timeoutMs', 'expiredWhen', 'trustedOrigins', 'storageKey', 'platform', 'wasmPath', 'x',
      'path', 'payload', 'freshSessionKey', 'refresh', 'silentLogin', 'cookie'];
    for (let i = Math.floor(next() * 4); i > 0; i--) {
      const key = pick(keys);
      const property = next() < 0.2 ? { get: boom } : { value: value(depth), writable: true };
      Object.defineProperty(o, key, Object.assign({ enumerable: true, configurable: true }, property));
    }
    return o;
  }
  return { value: () => value(0), next };
}

// WeChat's two devices, Douyin, and Alipay (its core in a Worker: every call crosses to it).
for (const profile of ['ios', 'android', 'tt', 'alipay']) {
  describe(`shim fuzz (${profile})`, () => {
    let world;
    before(async () => {
      world = await startWorld();
      if (profile === 'alipay') alipayApp(world);
    });
    after(() => world.close());

    test(`${CASES} generated hostile inputs: nothing throws, everything settles once, the client survives`, async (t) => {
      const unhandled = watchUnhandled();
      const { clock, createClient, MpSessionError } = launch(world, profile);
      const auth = createClient({ baseUrl: world.url, allowInsecureHttp: true, timeoutMs: 2000, loginPath: LOGIN_PATHS[profile] });
      const methods = ['ensureLogin', 'request', 'uploadFile', 'downloadFile', 'login'];
      const outcomes = {};
      for (let seed = 1; seed <= CASES; seed++) {
        const gen = generator(seed);
        const method = methods[seed % methods.length];
        const input = gen.value();
        let promise;
        assert.doesNotThrow(() => { promise = auth[method](input); }, `seed ${seed}: ${method} threw`);
        // Some requests are aborted at once, some a moment later, some after they settled.
        if (typeof promise.abort === 'function' && gen.next() < 0.3) {
          const abort = promise.abort;
          if (gen.next() < 0.5) assert.doesNotThrow(() => abort(), `seed ${seed}: abort threw`);
          else setImmediate(abort);
        }
        let settledCount = 0;
        const counted = promise.then((v) => { settledCount++; return { v }; }, (e) => { settledCount++; return { e }; });
        const { value } = await settle(counted, clock, { stepMs: 500, maxSteps: 40 }).catch((error) => {
          throw new Error(`seed ${seed}: ${method}: ${error.message}`);
        });
        assert.equal(settledCount, 1, `seed ${seed}`);
        const outcome = value.e !== undefined ? value.e.code : 'resolved';
        outcomes[outcome] = (outcomes[outcome] || 0) + 1;
        if (value.e !== undefined) {
          assert.ok(value.e instanceof MpSessionError, `seed ${seed}: ${method} rejected with ${value.e}`);
          assert.notEqual(value.e.code, 'INTERNAL', `seed ${seed}: ${value.e.message}`);
        }
        // Hostile option objects must not be mistaken for a client option (a bad createClient
        // option is tried too, on a throwaway client).
        if (seed % 25 === 0) {
          let other;
          assert.doesNotThrow(() => { other = createClient(gen.value()); }, `seed ${seed}: createClient threw`);
          const result = await settle(other.ensureLogin().then((v) => ({ v }), (e) => ({ e })), clock, { stepMs: 500, maxSteps: 40 });
          if (result.value.e) assert.ok(result.value.e instanceof MpSessionError, `seed ${seed}`);
          await other.dispose();
        }
      }
      // The client is intact: a login and a request still go through.
      const me = await settle(auth.request({ url: '/api/me' }), clock);
      assert.equal(profile === 'alipay' ? me.value.status : me.value.statusCode, 200);
      t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
      await unhandled.check();
    });
  });
}
