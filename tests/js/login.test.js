'use strict';
// The login cycle of the built npm package, run inside the mini-program simulator against the
// developer server over real HTTP on 127.0.0.1.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startWorld, launch, admin, settle, rejection } = require('./helpers.js');

for (const profile of ['ios', 'android']) {
  describe(`login cycle (${profile})`, () => {
    let world;
    before(async () => { world = await startWorld(); });
    after(() => world.close());

    test('the sandbox offers only what a mini-program has', () => {
      const { sim } = launch(world, profile);
      const present = (name) => sim.evaluate(`typeof ${name} !== 'undefined'`);
      for (const name of ['TextEncoder', 'TextDecoder', 'fetch', 'process', 'queueMicrotask']) assert.equal(present(name), false, name);
      if (profile === 'ios') for (const name of ['WebAssembly', 'WeakRef', 'FinalizationRegistry']) assert.equal(present(name), false, name);
      assert.equal(present('WXWebAssembly'), true);
    });

    test('a cold login: wx.login, one POST, the token stored without session_key or openid', async () => {
      const { sim, client, storage } = launch(world, profile);
      const state = await client().ensureLogin();
      assert.equal(typeof state.token, 'string');
      assert.ok(state.expiresAt > Date.UTC(2026, 10, 22));
      assert.equal(sim.count('WXWebAssembly.instantiate'), 1);
      assert.equal(sim.count('login'), 1);
      assert.equal(sim.count('request'), 1);
      const stored = JSON.parse(storage.get('mp-session').value);
      assert.deepEqual(Object.keys(stored).sort(), ['expiresAt', 'token', 'version']);
      assert.equal(stored.token, state.token);
      // The server keeps session_key; the client never saw it.
      const sessionKey = world.server.mock.sessionKeysGiven.at(-1);
      assert.ok(sessionKey);
      assert.ok(!JSON.stringify([...storage.data]).includes(sessionKey));
    });

    test('200 concurrent callers share one wx.login and one exchange', async () => {
      const before = (await admin(world.url, '/admin/stats')).code2Session;
      const { sim, client } = launch(world, profile);
      const auth = client();
      const states = await Promise.all(Array.from({ length: 200 }, (_, i) => auth.ensureLogin({ force: i % 50 === 0 })));
      assert.equal(sim.count('login'), 1);
      assert.equal((await admin(world.url, '/admin/stats')).code2Session - before, 1);
      assert.equal(new Set(states.map((s) => s.token)).size, 1);
    });

    test('a relaunch reuses the stored session: no wx.login, no network', async () => {
      const first = launch(world, profile);
      const { token } = await first.client().ensureLogin();
      const second = launch(world, profile, { storage: first.storage });
      assert.equal((await second.client().ensureLogin()).token, token);
      assert.equal(second.sim.count('login'), 0);
      assert.equal(second.sim.count('request'), 0);
      assert.equal(second.sim.count('getStorage'), 1);
    });

    test('warm calls are answered at once with one frozen state, and never after it ended', async () => {
      const { sim, client, clock } = launch(world, profile);
      const auth = client();
      const first = await auth.ensureLogin();
      const warm = await auth.ensureLogin();
      const again = await auth.ensureLogin();
      assert.equal(warm.token, first.token);
      assert.equal(again, warm, 'the same state object, not a new one per call');
      assert.ok(Object.isFrozen(again), 'callers cannot change what others receive');
      // A revoked session found by a request: the next ensureLogin must not serve the old token.
      await admin(world.url, '/admin/revoke-all', {});
      assert.equal((await auth.request({ url: '/api/me' })).statusCode, 200);
      const renewed = await auth.ensureLogin();
      assert.notEqual(renewed.token, first.token);
      await auth.logout();
      const afterLogout = await auth.ensureLogin();
      assert.notEqual(afterLogout.token, renewed.token);
      assert.equal(sim.count('login'), 3);
      // Time alone ends a warm answer too: past the expiry margin the next call logs in.
      await auth.ensureLogin();
      clock.jump(2 * 3600 * 1000);
      const { value: afterExpiry } = await settle(auth.ensureLogin(), clock);
      assert.notEqual(afterExpiry.token, afterLogout.token);
      assert.equal(sim.count('login'), 4);
    });

    test('force: true logs in again and replaces the stored token', async () => {
      const { sim, client, storage } = launch(world, profile);
      const auth = client();
      const first = await auth.ensureLogin();
      const second = await auth.ensureLogin({ force: true });
      assert.notEqual(second.token, first.token);
      assert.equal(sim.count('login'), 2);
      assert.equal(JSON.parse(storage.get('mp-session').value).token, second.token);
    });

    test('a failing wx.login rejects WX_LOGIN_FAILED, and the next call succeeds', async () => {
      const { sim, client, MpSessionError } = launch(world, profile);
      const auth = client();
      sim.faults.login.push('fail');
      const error = await rejection(auth.ensureLogin());
      assert.ok(error instanceof MpSessionError);
      assert.equal(error.code, 'WX_LOGIN_FAILED');
      assert.equal(error.errMsg, 'login:fail system error');
      assert.equal(error.retryable, true);
      assert.ok((await auth.ensureLogin()).token);
    });

    test('a wx.login that never calls back rejects TIMEOUT instead of hanging', async () => {
      const { sim, client, clock } = launch(world, profile);
      sim.faults.login.push('hang');
      const pending = client({ timeoutMs: 5000 }).ensureLogin();
      const { error } = await settle(pending, clock, { stepMs: 1000 });
      assert.equal(error.code, 'TIMEOUT');
      assert.match(error.message, /wx\.login timed out after 5000 ms/);
    });

    const wechatErrors = [
      [40029, 'LOGIN_REJECTED'],
      [40163, 'LOGIN_REJECTED'],
      [45011, 'RATE_LIMITED'],
      [40226, 'USER_BLOCKED'],
    ];
    for (const [errcode, code] of wechatErrors) {
      test(`code2Session errcode ${errcode} rejects ${code} with the errcode`, async () => {
        const { client } = launch(world, profile);
        await admin(world.url, '/admin/wechat-error', { errcode });
        const error = await rejection(client().ensureLogin());
        assert.equal(error.code, code);
        assert.equal(error.errcode, errcode);
        assert.ok(error.message.length > 20, error.message);
      });
    }

    test('WeChat busy (-1) is retried with a fresh code and backoff, then succeeds', async () => {
      const { sim, client, clock } = launch(world, profile);
      await admin(world.url, '/admin/wechat-error', { errcode: -1, times: 2 });
      const { value, error } = await settle(client().ensureLogin(), clock);
      assert.equal(error, undefined);
      assert.ok(value.token);
      assert.equal(sim.count('login'), 3, 'each attempt gets a fresh single-use code');
    });

    test('a server that keeps failing ends in SERVER_ERROR after the attempt limit', async () => {
      const { sim, client, clock } = launch(world, profile);
      await admin(world.url, '/admin/inject-login', { status: 502, body: '<html>Bad Gateway</html>', times: 3 });
      const { error } = await settle(client().ensureLogin(), clock);
      assert.equal(error.code, 'SERVER_ERROR');
      assert.equal(error.statusCode, 502);
      assert.equal(sim.count('login'), 3);
    });

    test('malformed replies reject BAD_RESPONSE', async () => {
      for (const body of ['OK', { expiresIn: 60 }, { token: 'x', expiresIn: -1 }]) {
        const { client } = launch(world, profile);
        await admin(world.url, '/admin/inject-login', { status: 200, body });
        const error = await rejection(client().ensureLogin());
        assert.equal(error.code, 'BAD_RESPONSE', JSON.stringify(body));
      }
    });

    test('a transport failure rejects NETWORK', async () => {
      const { sim, client } = launch(world, profile);
      sim.faults.request.push('fail');
      const error = await rejection(client().ensureLogin());
      assert.equal(error.code, 'NETWORK');
      assert.match(error.errMsg, /request:fail/);
    });

    test('a failing setStorage does not fail the login; an event reports it', async () => {
      const { sim, client } = launch(world, profile);
      sim.faults.storageWrites = 'exceed storage max size 10Mb';
      const auth = client();
      const events = [];
      auth.onChange((e) => events.push(e));
      const { token } = await auth.ensureLogin();
      assert.equal((await auth.ensureLogin()).token, token, 'the session lives on in memory');
      assert.equal(sim.count('login'), 1);
      // Storage operations run in order, so once logout resolves the failed write was reported.
      await auth.logout();
      assert.equal(events[0].type, 'login');
      const failures = events.filter((e) => e.type === 'storageFailed');
      assert.equal(failures.length, 2, 'the write and the removal both failed');
      assert.match(failures[0].message, /exceed storage/);
    });

    test('a corrupt or foreign stored value is removed, never thrown', async () => {
      for (const junk of ['{not json', { some: 'object' }, JSON.stringify({ version: 1, token: 'a\r\nb', expiresAt: 1 })]) {
        const { sim, client, storage } = launch(world, profile);
        sim.corruptStorage('mp-session', junk);
        const { token } = await client().ensureLogin();
        assert.ok(token);
        assert.equal(sim.count('removeStorage'), 1);
        assert.equal(JSON.parse(storage.get('mp-session').value).token, token);
      }
    });

    test('checkSession: a failing check sends a stored session to a fresh login', async () => {
      const first = launch(world, profile);
      await first.client().ensureLogin();
      const second = launch(world, profile, { storage: first.storage });
      second.sim.faults.checkSession.push('fail');
      await second.client({ checkSession: true }).ensureLogin();
      assert.equal(second.sim.count('checkSession'), 1);
      assert.equal(second.sim.count('login'), 1);
    });

    test('logout clears memory and storage; the next call logs in again', async () => {
      const { sim, client, storage } = launch(world, profile);
      const auth = client();
      const events = [];
      auth.onChange((e) => events.push(e.type));
      const first = await auth.ensureLogin();
      await auth.logout();
      assert.equal(storage.get('mp-session').found, false);
      assert.ok(events.includes('logout'));
      assert.notEqual((await auth.ensureLogin()).token, first.token);
      assert.equal(sim.count('login'), 2);
    });

    test('bad options reject CONFIG_INVALID naming the option', async () => {
      const { createClient } = launch(world, profile);
      const cases = [
        [{ baseUrl: world.url }, 'baseUrl', /allowInsecureHttp/],
        [{}, 'baseUrl', /required/],
        [{ baseUrl: 'https://a.example', baseURL: 'x' }, 'baseURL', /not an option/],
        [{ baseUrl: 'https://a.example', timeoutMs: '5s' }, 'timeoutMs', /number/],
        [{ baseUrl: 'https://a.example', loginPath: 'login' }, 'loginPath', /start/],
        // The options cross as JSON text: NaN and Infinity must not turn into null (the default).
        [{ baseUrl: 'https://a.example', timeoutMs: NaN }, 'timeoutMs', /number/],
        [{ baseUrl: 'https://a.example', expiredWhen: { statuses: [Infinity] } }, 'expiredWhen.statuses', /statuses/],
        [{ baseUrl: 'https://a.example', replyFields: ['user', { toJSON() { return 'user'; } }] }, 'replyFields[1].toJSON', /plain data/],
        ['https://a.example', 'options', /options object/],
      ];
      for (const [options, option, message] of cases) {
        const error = await rejection(createClient(options).ensureLogin());
        assert.equal(error.code, 'CONFIG_INVALID');
        assert.equal(error.option, option);
        assert.match(error.message, message);
      }
    });

    test('a wrong wasmPath rejects WASM_LOAD_FAILED with a hint', async () => {
      const { client } = launch(world, profile);
      const error = await rejection(client({ wasmPath: '/nowhere/mp_session_bg.wasm' }).ensureLogin());
      assert.equal(error.code, 'WASM_LOAD_FAILED');
      assert.match(error.message, /构建 npm/);
    });

    test('tokens never reach a log or an error message', async () => {
      const { sim, client, logs } = launch(world, profile);
      const auth = client();
      const { token } = await auth.ensureLogin();
      sim.faults.login.push('fail');
      const error = await rejection(auth.ensureLogin({ force: true }));
      assert.ok(!JSON.stringify(error).includes(token) && !error.message.includes(token));
      assert.ok(logs.every((line) => !line.includes(token)));
    });
  });
}
