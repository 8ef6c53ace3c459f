'use strict';
// Hosts other than WeChat, as far as the loader decides: Douyin's TTWebAssembly (the same call
// shape as WXWebAssembly) is used when WXWebAssembly is absent, and a host whose documents give
// mini-programs no WebAssembly (Alipay's main thread, QQ, Baidu, Kuaishou, JD) is refused with a
// typed HOST_UNSUPPORTED naming it, not a crash in the loader. (The full Douyin and Alipay hosts
// are issue 21.)
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startWorld, rejection } = require('./helpers.js');
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
