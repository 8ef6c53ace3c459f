'use strict';
// Drives a minimal mini-program through the login cycle in the simulator, against the developer
// server over real HTTP, and prints what happened: every wx call and server step, with timings.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { createServer } = require('../dev-server/server.js');
const { createSimulator, makeAppDir } = require('../tests/simulator/simulator.js');
const { SimStorage } = require('../tests/simulator/storage.js');

const root = path.join(__dirname, '..');
const started = Date.now();
const stamp = () => `+${String(Date.now() - started).padStart(5)} ms`;
const say = (who, text) => console.log(`${stamp()}  ${who.padEnd(8)} ${text}`);

async function main() {
  const server = createServer({ log: (line) => say('server', line) });
  const baseUrl = await server.listen();
  const appDir = makeAppDir(fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-demo-')), path.join(root, 'miniprogram_dist'));
  const storage = new SimStorage(path.join(appDir, 'storage.json'));
  say('demo', `developer server with mock WeChat on ${baseUrl}; app in ${appDir}`);

  function launchApp(label) {
    say('demo', `── ${label} ──`);
    const sim = createSimulator({
      appDir, serverUrl: baseUrl, profile: 'ios', storage,
      onCall: (api, detail) => say('wx', detail ? `${api} ${detail}` : api),
    });
    const { createClient } = sim.require('mp-session');
    const auth = createClient({ baseUrl, allowInsecureHttp: true, platform: sim.wx });
    auth.onChange((event) => say('event', JSON.stringify(event)));
    return { sim, auth };
  }

  let { sim, auth } = launchApp('launch: cold login (empty storage)');
  let state = await auth.ensureLogin();
  say('page', `logged in; token expires ${new Date(state.expiresAt).toISOString()}`);
  let me = await auth.request({ url: '/api/me' });
  say('page', `auth.request GET /api/me → ${me.statusCode} ${JSON.stringify(me.data)}`);

  ({ sim, auth } = launchApp('relaunch: warm start from storage'));
  state = await auth.ensureLogin();
  say('page', `logged in from storage: ${sim.count('login')} wx.login, ${sim.count('request')} requests`);

  say('demo', '── the server revokes every token ──');
  await new Promise((resolve, reject) => sim.wx.request({ url: `${baseUrl}/admin/revoke-all`, method: 'POST', success: resolve, fail: reject }));
  me = await auth.request({ url: '/api/me' });
  say('page', `auth.request GET /api/me → ${me.statusCode} (401, one re-login and one replay happened inside)`);

  say('demo', '── logout ──');
  await auth.logout();
  say('page', `logged out; storage holds the session: ${storage.get('mp-session').found}`);

  await server.close();
  fs.rmSync(appDir, { recursive: true, force: true });
  say('demo', 'done: cold login, warm start, re-login after revocation, logout');
}

main().catch((error) => {
  console.error(`demo failed: ${error.code ? `${error.code}: ` : ''}${error.message}`);
  process.exit(1);
});
