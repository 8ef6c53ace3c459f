'use strict';
// Hosts other than WeChat, as far as the loader decides: Douyin's TTWebAssembly (the same call
// shape as WXWebAssembly) is used when WXWebAssembly is absent, and a host whose documents give
// mini-programs no WebAssembly (Alipay's main thread, QQ, Baidu, Kuaishou, JD) is refused with a
// typed HOST_UNSUPPORTED naming it, not a crash in the loader. Douyin itself runs in the
// simulator's 'tt' profile (global tt, TTWebAssembly, tt.login's two codes, errNo) against
// mp-session-server's /auth/douyin/login.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startWorld, launch, admin, rejection, settle, alipayApp } = require('./helpers.js');
const { createSimulator } = require('../simulator/simulator.js');
const { createFakeClock } = require('../simulator/clock.js');

// A simulator whose sandbox globals are changed by `adjust` before the package is loaded.
function hostSim(world, adjust) {
  const sim = createSimulator({ appDir: world.appDir, serverUrl: world.url, wechatUrl: world.wechatUrl, profile: 'android', clock: createFakeClock() });
  adjust(sim.context);
  const { createClient } = sim.require('mp-session');
  return { sim, auth: createClient({ baseUrl: world.url, allowInsecureHttp: true }) };
}

describe('hosts', () => {
  let world;
  before(async () => { world = await startWorld(); });
  after(() => world.close());

  test('without WXWebAssembly, TTWebAssembly (Douyin) loads the same wasm', async () => {
    const { sim, auth } = hostSim(world, (context) => {
      context.TTWebAssembly = context.WXWebAssembly;
      delete context.WXWebAssembly;
    });
    const state = await auth.ensureLogin();
    assert.equal(typeof state.token, 'string');
    assert.equal(sim.count('login'), 1);
  });

  for (const [global, host] of [['my', 'Alipay'], ['qq', 'QQ'], ['swan', 'Baidu'], ['ks', 'Kuaishou'], ['jd', 'JD']]) {
    test(`${host} (global ${global}, no WebAssembly): HOST_UNSUPPORTED names the host, every call, nothing is called`, async () => {
      const { sim, auth } = hostSim(world, (context) => {
        delete context.WXWebAssembly;
        context[global] = {};
      });
      const error = await rejection(auth.ensureLogin());
      assert.equal(error.code, 'HOST_UNSUPPORTED');
      assert.equal(error.retryable, false);
      assert.match(error.message, new RegExp(`cannot run on ${host} \\(global \`${global}\`\\)`));
      assert.equal((await rejection(auth.request({ url: '/api/me' }))).code, 'HOST_UNSUPPORTED');
      assert.equal(sim.count('login'), 0);
      assert.equal(sim.count('getStorage'), 0);
    });
  }

  test('a WeChat too old for WXWebAssembly still says WASM_LOAD_FAILED with the base library it needs', async () => {
    const { auth } = hostSim(world, (context) => { delete context.WXWebAssembly; });
    const error = await rejection(auth.ensureLogin());
    assert.equal(error.code, 'WASM_LOAD_FAILED');
    assert.match(error.message, /base library >= 2\.13\.0/);
  });
});

describe('Douyin (the tt profile): tt.login, /auth/douyin/login', () => {
  let world;
  before(async () => { world = await startWorld(); });
  after(() => world.close());
  const exchanges = () => world.server.mock.stats.douyinSessionsGiven;
  // What the SDK posted to the login route, and what tt.login was asked.
  function watch(sim) {
    const posted = [];
    const request = sim.wx.request;
    sim.wx.request = (options) => {
      if (/\/auth\/douyin\/login$/.test(options.url)) posted.push(JSON.parse(options.data));
      return request.call(sim.wx, options);
    };
    return posted;
  }

  test('cold start: 50 callers share one tt.login (force: false) and one exchange of its code; the wasm came through TTWebAssembly', async () => {
    const { sim, client } = launch(world, 'tt');
    assert.equal(sim.evaluate('typeof wx'), 'undefined', 'Douyin has no wx');
    const posted = watch(sim);
    const before = exchanges();
    const auth = client({ loginPath: '/auth/douyin/login' });
    const states = await Promise.all(Array.from({ length: 50 }, () => auth.ensureLogin()));
    assert.equal(new Set(states.map((state) => state.token)).size, 1);
    assert.equal(sim.count('TTWebAssembly.instantiate'), 1);
    assert.deepEqual(sim.timeline.filter((call) => call.api === 'login').map((call) => call.detail), ['force: false']);
    assert.equal(exchanges() - before, 1);
    assert.deepEqual(posted.map((body) => Object.keys(body)), [['code']], 'a logged-in user: the code');
    assert.equal((await auth.request({ url: '/api/me' })).statusCode, 200);
  });

  test('a user not logged into Douyin logs in with the anonymousCode, without the login sheet; forceHostLogin shows it', async () => {
    const anonymous = launch(world, 'tt', { douyinLoggedIn: false });
    const posted = watch(anonymous.sim);
    const state = await anonymous.client({ loginPath: '/auth/douyin/login' }).ensureLogin();
    assert.equal(typeof state.token, 'string');
    assert.deepEqual(posted.map((body) => Object.keys(body)), [['anonymousCode']]);
    assert.equal(anonymous.sim.count('login sheet'), 0);

    const forced = launch(world, 'tt', { douyinLoggedIn: false });
    const forcedPosts = watch(forced.sim);
    await forced.client({ loginPath: '/auth/douyin/login', forceHostLogin: true }).ensureLogin();
    assert.equal(forced.sim.count('login sheet'), 1);
    assert.deepEqual(forcedPosts.map((body) => Object.keys(body)), [['code']], 'logged in through the sheet: a code');
    const refused = await rejection(forced.client({ forceHostLogin: 'yes' }).ensureLogin());
    assert.deepEqual([refused.code, refused.option], ['CONFIG_INVALID', 'forceHostLogin']);
  });

  test('a relaunch finds the stored session; a 401 storm costs one new tt.login; dispose; a failed tt.login keeps its errNo', async () => {
    const first = launch(world, 'tt');
    const state = await first.client({ loginPath: '/auth/douyin/login' }).ensureLogin();
    const relaunched = launch(world, 'tt', { storage: first.storage });
    const auth = relaunched.client({ loginPath: '/auth/douyin/login' });
    assert.equal((await auth.ensureLogin()).token, state.token);
    assert.equal(relaunched.sim.count('login'), 0);

    await admin(world.url, '/admin/revoke-all', {});
    const replies = await Promise.all(Array.from({ length: 20 }, () => auth.request({ url: '/api/me' })));
    assert.deepEqual(new Set(replies.map((reply) => reply.statusCode)), new Set([200]));
    assert.equal(relaunched.sim.count('login'), 1, 'one re-login for the storm');

    await auth.dispose();
    assert.equal((await rejection(auth.ensureLogin())).code, 'DISPOSED');

    const failing = launch(world, 'tt');
    failing.sim.faults.login.push('fail', 'fail', 'fail', 'fail', 'fail');
    const error = await rejection(failing.client({ loginPath: '/auth/douyin/login', maxLoginAttempts: 1 }).ensureLogin());
    assert.equal(error.errcode, 1, "Douyin's errNo is the error's errcode, as WeChat's errno is");
    assert.match(error.errMsg, /^login:fail/);
  });
});

describe('Alipay (the alipay profile): the core in a Worker', () => {
  let world;
  before(async () => { world = await startWorld(); });
  after(() => world.close());

  test('cold start: 20 callers share one getAuthCode and one exchange, posted as { authCode } with `headers`; a relaunch, a 401 storm and dispose', async () => {
    alipayApp(world);
    const { sim, client, storage } = launch(world, 'alipay');
    const posted = [];
    const request = sim.wx.request;
    sim.wx.request = (options) => {
      if (/\/auth\/alipay\/login$/.test(options.url)) posted.push({ body: JSON.parse(options.data), header: options.header, headers: options.headers });
      return request.call(sim.wx, options);
    };
    const before = world.server.mock.stats.alipaySessionsGiven;
    const auth = client({ loginPath: '/auth/alipay/login' });
    const states = await Promise.all(Array.from({ length: 20 }, () => auth.ensureLogin()));
    assert.equal(new Set(states.map((state) => state.token)).size, 1);
    assert.equal(sim.count('getAuthCode'), 1);
    assert.equal(world.server.mock.stats.alipaySessionsGiven - before, 1);
    assert.equal(JSON.stringify(posted.map((post) => [Object.keys(post.body), post.header === undefined, post.headers])), JSON.stringify([[['authCode'], true, { 'content-type': 'application/json' }]]), 'Alipay takes headers, not header');
    const me = await auth.request({ url: '/api/me', headers: { 'x-page': '1' } });
    assert.deepEqual([me.status, typeof me.data], [200, 'object'], "Alipay's reply shape: status, headers, data");
    assert.equal(sim.count('MYWebAssembly.instantiate'), 1);

    const relaunched = launch(world, 'alipay', { storage });
    const again = relaunched.client({ loginPath: '/auth/alipay/login' });
    assert.equal((await again.ensureLogin()).token, states[0].token, 'the stored session');
    assert.equal(relaunched.sim.count('getAuthCode'), 0);
    await admin(world.url, '/admin/revoke-all', {});
    const replies = await Promise.all(Array.from({ length: 10 }, () => again.request({ url: '/api/me' })));
    assert.deepEqual(new Set(replies.map((reply) => reply.status)), new Set([200]));
    assert.equal(relaunched.sim.count('getAuthCode'), 1, 'one re-login for the storm');
    await again.dispose();
    assert.equal((await rejection(again.ensureLogin())).code, 'DISPOSED');
  });

  test('no wasm API on the page\'s thread: the Worker loads the wasm with MYWebAssembly, once for every client', async () => {
    alipayApp(world);
    const { sim, client } = launch(world, 'alipay');
    assert.equal(sim.evaluate('typeof MYWebAssembly + typeof WXWebAssembly + typeof wx'), 'undefinedundefinedundefined');
    sim.faults.login.push('hang', 'hang');
    const a = client().ensureLogin();
    const b = client().ensureLogin();
    while (sim.count('getAuthCode') < 2) await new Promise((resolve) => setTimeout(resolve, 2));
    assert.equal(sim.count('createWorker'), 1);
    assert.equal(sim.count('MYWebAssembly.instantiate'), 1);
    assert.deepEqual(sim.timeline.filter((call) => call.api === 'getAuthCode').map((call) => call.detail), ['auth_base', 'auth_base'], 'silent: no consent sheet');
    sim.killWorkers();
    for (const pending of [a, b]) assert.equal((await rejection(pending)).code, 'INTERNAL');
  });

  test('a Worker the host kills mid-login rejects the calls in flight INTERNAL; the next call starts a fresh one', async () => {
    alipayApp(world);
    const { sim, client, clock } = launch(world, 'alipay');
    const auth = client();
    sim.faults.login.push('hang');
    const pending = auth.ensureLogin();
    while (sim.count('getAuthCode') < 1) await new Promise((resolve) => setTimeout(resolve, 2));
    sim.killWorkers();
    const error = await rejection(pending);
    assert.equal(error.code, 'INTERNAL');
    assert.match(error.message, /the host ended the Worker/);
    sim.faults.login.push('fail', 'fail', 'fail');
    const { error: next } = await settle(auth.ensureLogin({ force: true }), clock);
    assert.equal(sim.count('createWorker'), 2, 'a fresh Worker');
    assert.equal(next.code, 'WX_LOGIN_FAILED');
    assert.match(next.errMsg, /^getAuthCode:fail 用户取消授权$/, "Alipay's errorMessage, with the call it came from");
    assert.equal(next.errcode, 11, "Alipay's error number");
  });

  test('a Worker that stops answering fails at the next unanswered ping; one that never starts is WASM_LOAD_FAILED', async () => {
    alipayApp(world);
    const frozen = launch(world, 'alipay');
    frozen.sim.faults.login.push('hang');
    const pending = frozen.client().ensureLogin();
    while (frozen.sim.count('getAuthCode') < 1) await new Promise((resolve) => setTimeout(resolve, 2));
    frozen.sim.freezeWorkers();
    const { error } = await settle(pending, frozen.clock, { stepMs: 1000 });
    assert.equal(error.code, 'INTERNAL');
    assert.match(error.message, /the Worker stopped answering/);

    alipayApp(world, { worker: '// a script that never answers\n' });
    const silent = launch(world, 'alipay');
    const { error: late } = await settle(silent.client().ensureLogin(), silent.clock, { stepMs: 1000 });
    assert.equal(late.code, 'WASM_LOAD_FAILED');
    assert.equal(late.retryable, true);
    assert.match(late.message, /did not start within 10 s.*workers\/mp-session/);
    alipayApp(world);
  });
});
