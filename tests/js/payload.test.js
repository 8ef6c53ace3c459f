'use strict';
// Issue 14's SDK API in the built package, inside the mini-program simulator, against the developer
// server: `ensureLogin({ force: true, payload })` posts `{ code, ...payload }` in a login of its
// own (one exchange in flight at most, the payload never stored or logged), and `replyFields`
// keeps fields of the login reply with the session as `LoginState.reply` — in memory, in storage,
// across a relaunch — until it is replaced or logged out. The login replies carrying `user`,
// `isNewUser` or `session_key` are the server's, made with its /admin/inject-login route.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startWorld, launch, admin, rejection } = require('./helpers.js');

const PHONE_CODE = 'PHONE-CODE-SECRET-1';

// Records every code exchange the SDK makes (its body, parsed) and how many are on the wire at once.
function watchExchanges(sim) {
  const seen = { bodies: [], inFlight: 0, maxInFlight: 0 };
  const request = sim.wx.request;
  sim.wx.request = (options) => {
    if (!String(options.url).endsWith('/auth/login')) return request.call(sim.wx, options);
    seen.bodies.push(JSON.parse(options.data));
    seen.inFlight++;
    seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
    const end = (callback) => (res) => {
      seen.inFlight--;
      if (callback) callback(res);
    };
    return request.call(sim.wx, Object.assign({}, options, { success: end(options.success), fail: end(options.fail) }));
  };
  return seen;
}

// Resolves once wx.login has been called `n` more times: a login is then under way.
function loginsStarted(sim, n = 1) {
  return new Promise((resolve) => {
    const login = sim.wx.login;
    let calls = 0;
    sim.wx.login = (options) => {
      if (++calls === n) resolve();
      return login.call(sim.wx, options);
    };
  });
}

// A value from the sandbox's realm as a plain value of this one, to compare with deepEqual.
const plain = (value) => (value === undefined ? value : JSON.parse(JSON.stringify(value)));

function inject(world, body, status = 200) {
  return admin(world.url, '/admin/inject-login', { status, body });
}

const USER_REPLY = {
  token: 'tok-user-1',
  expiresIn: 7200,
  session_key: 'SESSION-KEY-SECRET',
  openid: 'o-secret',
  user: { id: 'u-1', nickname: '小明', session_key: 'SESSION-KEY-SECRET' },
  isNewUser: true,
};

for (const profile of ['ios', 'android']) {
  describe(`login payloads and kept reply fields (${profile})`, () => {
    let world;
    before(async () => { world = await startWorld(); });
    after(() => world.close());

    test('a payload login posts { code, ...payload }; its session is what later callers get; the payload is never stored or logged', async () => {
      const { sim, client, storage, logs } = launch(world, profile);
      const exchanges = watchExchanges(sim);
      const auth = client();
      const events = [];
      auth.onChange((e) => events.push(e));
      await inject(world, { token: 'tok-bound', expiresIn: 7200 });
      const payload = { phoneCode: PHONE_CODE, extra: { list: [1, true, null, 'x'] } };
      const state = await auth.ensureLogin({ force: true, payload });
      assert.equal(state.token, 'tok-bound');
      assert.equal(exchanges.bodies.length, 1);
      const { code, ...rest } = exchanges.bodies[0];
      assert.ok(typeof code === 'string' && code.length > 0, 'the wx.login code');
      assert.deepEqual(rest, payload);
      assert.equal((await auth.ensureLogin()).token, 'tok-bound');
      assert.equal(sim.count('login'), 1);
      const stored = storage.get('mp-session').value;
      assert.deepEqual(Object.keys(JSON.parse(stored)).sort(), ['expiresAt', 'token', 'version']);
      assert.ok(!stored.includes(PHONE_CODE));
      assert.ok(!JSON.stringify(events).includes(PHONE_CODE));
      assert.ok(logs.every((line) => !line.includes(PHONE_CODE)));
      assert.equal(events.filter((e) => e.type === 'login').length, 1);
      assert.equal('reply' in events[0], false);
    });

    test('a payload without force is a forced login too; force: false with a payload is refused', async () => {
      const { client } = launch(world, profile);
      const auth = client();
      const first = await auth.ensureLogin();
      await inject(world, { token: 'tok-no-force', expiresIn: 7200 });
      assert.equal((await auth.ensureLogin({ payload: { phoneCode: PHONE_CODE } })).token, 'tok-no-force');
      assert.notEqual(first.token, 'tok-no-force');
      const error = await rejection(auth.ensureLogin({ force: false, payload: { phoneCode: PHONE_CODE } }));
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.equal(error.option, 'force');
    });

    test('plain callers arriving while a payload login runs join it: one exchange for all', async () => {
      const { sim, client } = launch(world, profile);
      const auth = client();
      await auth.ensureLogin();
      const exchanges = watchExchanges(sim);
      await inject(world, { token: 'tok-joined', expiresIn: 7200 });
      const started = loginsStarted(sim);
      const phone = auth.ensureLogin({ force: true, payload: { phoneCode: PHONE_CODE } });
      await started;
      const joined = [auth.ensureLogin(), auth.ensureLogin({ force: true }), auth.ensureLogin()];
      const states = await Promise.all([phone, ...joined]);
      assert.deepEqual(states.map((s) => s.token), ['tok-joined', 'tok-joined', 'tok-joined', 'tok-joined']);
      assert.equal(exchanges.bodies.length, 1);
      assert.equal(exchanges.bodies[0].phoneCode, PHONE_CODE);
      assert.equal(exchanges.maxInFlight, 1);
    });

    test('a payload call never joins a running plain login: it waits, then makes its own exchange', async () => {
      const { sim, client } = launch(world, profile);
      const auth = client();
      const exchanges = watchExchanges(sim);
      await inject(world, { token: 'tok-plain', expiresIn: 7200 });
      await inject(world, { token: 'tok-phone', expiresIn: 7200 });
      const started = loginsStarted(sim);
      const plain = auth.ensureLogin();
      await started;
      const phone = auth.ensureLogin({ force: true, payload: { phoneCode: PHONE_CODE } });
      const plainToo = auth.ensureLogin();
      assert.deepEqual([(await plain).token, (await plainToo).token, (await phone).token], ['tok-plain', 'tok-plain', 'tok-phone']);
      assert.equal(exchanges.bodies.length, 2);
      assert.equal('phoneCode' in exchanges.bodies[0], false);
      assert.equal(exchanges.bodies[1].phoneCode, PHONE_CODE);
      assert.equal(exchanges.maxInFlight, 1, 'one exchange at a time');
      assert.equal((await auth.ensureLogin()).token, 'tok-phone', 'the payload login made the current session');
    });

    test('two different payloads make two exchanges one after the other; the same payload twice shares one', async () => {
      const { sim, client } = launch(world, profile);
      const auth = client();
      await auth.ensureLogin();
      const exchanges = watchExchanges(sim);
      await inject(world, { token: 'tok-a', expiresIn: 7200 });
      await inject(world, { token: 'tok-b', expiresIn: 7200 });
      const a = { phoneCode: 'A' };
      const b = { phoneCode: 'B' };
      const states = await Promise.all([a, b, a, b].map((payload) => auth.ensureLogin({ force: true, payload })));
      assert.deepEqual(states.map((s) => s.token), ['tok-a', 'tok-b', 'tok-a', 'tok-b']);
      assert.deepEqual(exchanges.bodies.map((body) => body.phoneCode), ['A', 'B']);
      assert.equal(exchanges.maxInFlight, 1);
    });

    test('a failed payload login rejects its callers; plain callers that joined it keep the session', async () => {
      const { sim, client } = launch(world, profile);
      const auth = client();
      const { token } = await auth.ensureLogin();
      await inject(world, { errcode: 40029, errmsg: 'invalid phone code' }, 400);
      const started = loginsStarted(sim);
      const phone = auth.ensureLogin({ force: true, payload: { phoneCode: PHONE_CODE } });
      await started;
      const plain = auth.ensureLogin();
      const error = await rejection(phone);
      assert.equal(error.code, 'LOGIN_REJECTED');
      assert.equal(error.errcode, 40029);
      assert.ok(!error.message.includes(PHONE_CODE));
      assert.equal((await plain).token, token);
    });

    test('a bad payload or an unknown option rejects CONFIG_INVALID, naming it, and sends nothing', async () => {
      const { sim, client } = launch(world, profile);
      const auth = client();
      const throwing = { get phoneCode() { throw new Error('boom'); } };
      const cases = [
        [{ force: true, payload: { code: 'mine' } }, 'payload.code'],
        [{ force: true, payload: [1] }, 'payload'],
        [{ force: true, payload: 'phone' }, 'payload'],
        [{ force: true, payload: { phoneCode: undefined } }, 'payload.phoneCode'],
        [{ force: true, payload: { n: NaN } }, 'payload.n'],
        [{ force: true, payload: { f() {} } }, 'payload.f'],
        [{ force: true, payload: { a: 'x'.repeat(4100) } }, 'payload'],
        [{ force: true, payload: JSON.parse('{"__proto__":{"code":"x"}}') }, 'payload.__proto__'],
        [{ force: true, payload: throwing }, 'payload.phoneCode'],
        [{ forse: true }, 'forse'],
      ];
      for (const [options, option] of cases) {
        const error = await rejection(auth.ensureLogin(options));
        assert.equal(error.code, 'CONFIG_INVALID', option);
        assert.equal(error.option, option);
        assert.ok(!error.message.includes('mine'));
      }
      assert.equal(sim.count('login'), 0);
      assert.ok((await auth.ensureLogin({ force: true, payload: null })).token, 'null is no payload');
    });

    test('replyFields: the kept fields come back nested, with every call (warm ones too) and in the login event', async () => {
      const { client, storage } = launch(world, profile);
      const auth = client({ replyFields: ['user', 'isNewUser', 'missing'] });
      const events = [];
      auth.onChange((e) => events.push(e));
      await inject(world, USER_REPLY);
      const state = await auth.ensureLogin();
      const kept = { user: { id: 'u-1', nickname: '小明' }, isNewUser: true };
      assert.deepEqual(plain(state.reply), kept);
      const warm = await auth.ensureLogin();
      assert.deepEqual(plain(warm.reply), kept);
      assert.ok(Object.isFrozen(warm.reply) && Object.isFrozen(warm.reply.user), 'no caller can change what others get');
      assert.equal(await auth.ensureLogin(), warm);
      assert.deepEqual(plain(events.find((e) => e.type === 'login').reply), kept);
      const stored = storage.get('mp-session').value;
      assert.deepEqual(plain(JSON.parse(stored).reply), kept);
      assert.ok(!stored.includes('SESSION-KEY-SECRET') && !stored.includes('o-secret'));
    });

    test('replyFields: a dotted path keeps only what it names', async () => {
      const { client } = launch(world, profile);
      await inject(world, USER_REPLY);
      assert.deepEqual(plain((await client({ replyFields: ['user.id'] }).ensureLogin()).reply), { user: { id: 'u-1' } });
    });

    test('replyFields: the kept reply survives a relaunch, is dropped by logout and replaced by the next login', async () => {
      const first = launch(world, profile);
      await inject(world, USER_REPLY);
      const kept = (await first.client({ replyFields: ['user'] }).ensureLogin()).reply;
      const second = launch(world, profile, { storage: first.storage });
      const auth = second.client({ replyFields: ['user'] });
      const relaunched = await auth.ensureLogin();
      assert.deepEqual(plain(relaunched.reply), plain(kept));
      assert.equal(relaunched.token, USER_REPLY.token);
      assert.equal(second.sim.count('login'), 0);
      await auth.logout();
      assert.equal(second.storage.get('mp-session').found, false);
      await inject(world, { token: 'tok-user-2', expiresIn: 7200, user: { id: 'u-2' } });
      const next = await auth.ensureLogin();
      assert.deepEqual(plain(next.reply), { user: { id: 'u-2' } });
      await inject(world, { token: 'tok-user-3', expiresIn: 7200 });
      assert.deepEqual(plain((await auth.ensureLogin({ force: true, payload: { phoneCode: PHONE_CODE } })).reply), {});
      assert.deepEqual(plain((await auth.ensureLogin()).reply), {}, 'replaced, not merged');
    });

    test('replyFields: session_key can never be listed, and a kept reply over 16 KB is BAD_RESPONSE', async () => {
      const { client } = launch(world, profile);
      for (const replyFields of [['session_key'], ['user', 'user.SESSION_KEY'], ['sessionKey'], 'user', [1]]) {
        const error = await rejection(client({ replyFields }).ensureLogin());
        assert.equal(error.code, 'CONFIG_INVALID', JSON.stringify(replyFields));
        assert.equal(error.option, 'replyFields');
      }
      await inject(world, { token: 'tok-big', expiresIn: 7200, user: { bio: 'x'.repeat(17000) } });
      const error = await rejection(client({ replyFields: ['user'] }).ensureLogin());
      assert.equal(error.code, 'BAD_RESPONSE');
      assert.match(error.message, /replyFields\) are over 16384 bytes as JSON/);
    });

    test('replyFields: an unreadable stored reply is removed and a fresh login made; without replyFields nothing changes', async () => {
      const { sim, client, storage } = launch(world, profile);
      sim.corruptStorage('mp-session', JSON.stringify({ version: 1, token: 'stored', expiresAt: Date.now() + 3600e3, reply: 'not an object' }));
      await inject(world, USER_REPLY);
      const state = await client({ replyFields: ['isNewUser'] }).ensureLogin();
      assert.deepEqual(plain(state.reply), { isNewUser: true });
      assert.equal(sim.count('removeStorage'), 1);
      assert.equal(sim.count('login'), 1);

      const without = launch(world, profile);
      await inject(world, USER_REPLY);
      const state2 = await without.client().ensureLogin();
      assert.equal('reply' in state2, false);
      assert.deepEqual(Object.keys(JSON.parse(without.storage.get('mp-session').value)).sort(), ['expiresAt', 'token', 'version']);
      assert.ok(storage.get('mp-session').found);
    });
  });
}
