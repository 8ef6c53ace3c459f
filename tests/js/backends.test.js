'use strict';
// Issue 19 in the built package, inside the mini-program simulator, against the developer
// server's routes: refresh tokens (/auth/refresh, rotated), account login (/auth/password) with
// silentLogin: false, cookie sessions (/auth/cookie-login, Set-Cookie rotation and clearing),
// abort, and ensureLogin({ freshSessionKey }). Run under Node and under Bun with the JIT off.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startWorld, launch, admin, rejection } = require('./helpers.js');

const DEMO = { username: 'demo', password: 'mp-session-demo' };

// The stored session of the client, parsed.
function stored(storage) {
  const { value } = storage.get('mp-session');
  return typeof value === 'string' ? JSON.parse(value) : value;
}

const delta = (server, before, key) => server.state.stats[key] - before[key];

for (const profile of ['ios', 'android']) {
  describe(`the backends teams already have (${profile})`, () => {
    let world;
    before(async () => { world = await startWorld(); });
    after(() => world.close());

    test('refresh tokens: a stale or rejected access token is renewed once for every caller, without wx.login, and rotated', async () => {
      const { sim, client, storage, clock, logs } = launch(world, profile);
      await admin(world.url, '/admin/token-lifetime', { seconds: 60 });
      const auth = client({ refresh: { path: '/auth/refresh' } });
      const first = await auth.ensureLogin();
      assert.equal(Object.keys(first).sort().join(), 'expiresAt,token', 'no refresh token in the result');
      const refreshToken = stored(storage).refreshToken;
      assert.equal(typeof refreshToken, 'string');
      const loginsBefore = sim.counts.login;
      const stats = Object.assign({}, world.server.state.stats);

      await clock.advance(50_000); // past the 45 s stale point of a 60 s token
      const states = await Promise.all([auth.ensureLogin(), auth.ensureLogin(), auth.request({ url: '/api/me' })]);
      assert.equal(delta(world.server, stats, 'refreshes'), 1, 'one refresh for every caller');
      assert.notEqual(states[0].token, first.token);
      assert.equal(states[2].statusCode, 200);
      assert.equal(sim.counts.login, loginsBefore, 'no wx.login');
      assert.notEqual(stored(storage).refreshToken, refreshToken, 'rotated');

      // The server drops every access token: the request that saw 401 is replayed after a refresh.
      await admin(world.url, '/admin/revoke-access', {});
      const replayed = await auth.request({ url: '/api/me' });
      assert.equal(replayed.statusCode, 200);
      assert.equal(delta(world.server, stats, 'refreshes'), 2);
      assert.equal(delta(world.server, stats, 'refreshReuse'), 0, 'a replaced refresh token is never sent again');
      assert.equal(sim.counts.login, loginsBefore);

      // The server forgets the refresh tokens too: a refused refresh falls back to wx.login.
      await admin(world.url, '/admin/revoke-all', {});
      assert.equal((await auth.request({ url: '/api/me' })).statusCode, 200);
      assert.equal(delta(world.server, stats, 'refreshesRefused'), 1);
      assert.equal(sim.counts.login, loginsBefore + 1);
      const secrets = [refreshToken, stored(storage).refreshToken];
      assert.ok(logs.every((line) => secrets.every((secret) => !line.includes(secret))), 'no refresh token in a log');
      await admin(world.url, '/admin/token-lifetime', { seconds: 7200 });
    });

    test('silentLogin: false rejects LOGIN_REQUIRED with one loginRequired event, and a password login makes the session', async () => {
      const { sim, client, storage, logs } = launch(world, profile);
      const auth = client({ silentLogin: false, refresh: { path: '/auth/refresh' } });
      const events = [];
      auth.onChange((event) => events.push(event.type));
      const required = await rejection(auth.ensureLogin());
      assert.equal(required.code, 'LOGIN_REQUIRED');
      assert.equal(required.retryable, false);
      assert.equal((await rejection(auth.request({ url: '/api/me' }))).code, 'LOGIN_REQUIRED');
      assert.deepEqual(events, ['loginRequired'], 'one event per episode');

      const refused = await rejection(auth.login({ path: '/auth/password', data: { username: 'demo', password: 'NOT-THE-PASSWORD-42' } }));
      assert.equal(refused.code, 'LOGIN_REJECTED');
      assert.equal(refused.statusCode, 401);
      assert.equal(refused.errcode, 40103);
      assert.ok(!JSON.stringify(Object.assign({ message: refused.message }, refused)).includes('NOT-THE-PASSWORD-42'), 'the password is not in the error');

      const [a, b] = await Promise.all([auth.login({ path: '/auth/password', data: DEMO }), auth.login({ path: '/auth/password', data: DEMO })]);
      assert.equal(a.token, b.token, 'equal logins share one exchange');
      assert.equal((await auth.request({ url: '/api/me' })).statusCode, 200);
      assert.equal(sim.counts.login || 0, 0, 'never wx.login');
      const everything = JSON.stringify(storage.get('mp-session')) + logs.join('\n');
      assert.ok(!everything.includes(DEMO.password), 'the password is never stored or logged');
      assert.equal((await rejection(auth.login({ path: 'auth/password', data: DEMO }))).option, 'path');
      assert.equal((await rejection(auth.login({ path: '/auth/password' }))).option, 'data');
    });

    test('cookie sessions: the sid cookie is the token, rotated and ended by the server', async () => {
      const { sim, client, storage } = launch(world, profile);
      const auth = client({ cookie: 'sid', loginPath: '/auth/cookie-login' });
      const events = [];
      auth.onChange((event) => events.push(event.type));
      const state = await auth.ensureLogin();
      assert.equal(stored(storage).token, state.token);
      const headers = [];
      const request = sim.wx.request;
      sim.wx.request = (options) => {
        headers.push(options.header);
        return request.call(sim.wx, options);
      };
      const me = await auth.request({ url: '/api/me', header: { Cookie: 'lang=zh; sid=stale' } });
      assert.equal(me.statusCode, 200);
      assert.equal(headers[0].Cookie, `lang=zh; sid=${state.token}`, 'the page\'s other cookies go along');

      await auth.request({ url: '/api/cookie/rotate', method: 'POST' });
      const rotated = stored(storage).token;
      assert.notEqual(rotated, state.token);
      assert.equal((await auth.request({ url: '/api/me' })).statusCode, 200, 'the rotated cookie is sent');
      assert.equal(headers[headers.length - 1].Cookie, `sid=${rotated}`);
      // Downloads carry it too (WeChat sends no cookie of its own there).
      const download = sim.wx.downloadFile;
      sim.wx.downloadFile = (options) => {
        headers.push(options.header);
        return download.call(sim.wx, options);
      };
      const file = await auth.downloadFile({ url: '/api/download' });
      assert.equal(file.statusCode, 200);
      assert.equal(headers[headers.length - 1].Cookie, `sid=${rotated}`);

      const logins = sim.counts.login;
      await auth.request({ url: '/api/cookie/end', method: 'POST' });
      assert.ok(events.includes('expired'), 'a cleared cookie ends the session');
      assert.equal((await auth.request({ url: '/api/me' })).statusCode, 200);
      assert.equal(sim.counts.login, logins + 1, 'the next request logged in again');
    });

    test('abort: a request on the wire or in the queue rejects ABORTED at once and frees its slot', async () => {
      const { sim, client } = launch(world, profile);
      const auth = client({ maxConcurrentRequests: 1 });
      await auth.ensureLogin();
      const slow = auth.request({ url: '/api/slow' });
      const queued = auth.request({ url: '/api/me' });
      const next = auth.request({ url: '/api/me' });
      queued.abort();
      assert.equal((await rejection(queued)).code, 'ABORTED');
      while (!(sim.counts['request abort'] || world.server.state.held.length)) await new Promise((resolve) => setTimeout(resolve, 5));
      slow.abort();
      const aborted = await rejection(slow);
      assert.equal(aborted.code, 'ABORTED');
      assert.equal(aborted.retryable, false);
      assert.equal(sim.counts['request abort'], 1, 'the platform task was aborted');
      assert.equal((await next).statusCode, 200, 'the freed slot went to the next request');
      next.abort(); // settled: nothing happens
      await admin(world.url, '/admin/release', {});
      // Aborted before the wasm answered at all: a fresh client's first call; downloads too.
      const early = client().request({ url: '/api/me' });
      early.abort();
      assert.equal((await rejection(early)).code, 'ABORTED');
      const download = auth.downloadFile({ url: '/api/download' });
      download.abort();
      assert.equal((await rejection(download)).code, 'ABORTED');
    });

    test('freshSessionKey: checkSession vouches for the session, or a forced wx.login renews it', async () => {
      const { sim, client } = launch(world, profile);
      const auth = client();
      const first = await auth.ensureLogin();
      const checked = await auth.ensureLogin({ freshSessionKey: true });
      assert.equal(checked.token, first.token);
      assert.equal(sim.counts.checkSession, 1);
      assert.equal(sim.counts.login, 1);
      sim.faults.checkSession.push('fail');
      const renewed = await auth.ensureLogin({ freshSessionKey: true });
      assert.notEqual(renewed.token, first.token);
      assert.equal(sim.counts.login, 2, 'a forced wx.login for a new session_key');
      assert.equal((await rejection(auth.ensureLogin({ freshSessionKey: true, force: true }))).option, 'freshSessionKey');
    });
  });
}
