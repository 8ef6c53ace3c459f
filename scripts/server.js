'use strict';
// `npm run server`: mp-session-server on http://127.0.0.1:8080 for the example in WeChat DevTools.
// Without WECHAT_APPID/WECHAT_SECRET its WeChat is the mock WeChat (on the next port), which also
// takes the codes DevTools' wx.login and getPhoneNumber give; with them, the real WeChat APIs.
// Users, sessions and avatars are kept in SQLite under .mp-session-server-data/. The operator
// makes the demo account (demo / mp-session-demo) at start, with an admin token of this run.
//   npm run server [-- --port 8080] [-- --data DIR]
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { serveMockWeChat } = require('../dev-server/mock-wechat.js');
const { startServer, adminCall } = require('./server-process.js');

const arg = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const port = Number(arg('--port', process.env.PORT || 8080));
const dataDir = path.resolve(arg('--data', path.join(__dirname, '..', '.mp-session-server-data')));
const say = (who) => (line) => console.log(`${new Date().toISOString().slice(11, 23)} [${who}] ${line}`);

async function main() {
  fs.mkdirSync(dataDir, { recursive: true });
  const real = Boolean(process.env.WECHAT_APPID && process.env.WECHAT_SECRET);
  const wechat = real ? null : await serveMockWeChat({ port: port + 1, acceptDeviceCodes: true, log: say('wechat') });
  const adminToken = crypto.randomBytes(24).toString('hex');
  const options = { dataDir, port, adminToken, log: say('server') };
  if (real) Object.assign(options, { appid: process.env.WECHAT_APPID, secret: process.env.WECHAT_SECRET, wechatUrl: process.env.WECHAT_API_BASE });
  else options.wechatUrl = wechat.url;
  const server = await startServer(options);
  const account = await adminCall(server.url, adminToken, '/admin/accounts', { username: 'demo', password: 'mp-session-demo' });
  if (account.status !== 200 && account.status !== 409) throw new Error(`cannot create the demo account: HTTP ${account.status}`);
  say('server')(`mp-session-server on ${server.url} with ${real ? 'the real WeChat APIs' : `the mock WeChat on ${wechat.url}`}; SQLite in ${dataDir}`);
  const stop = async () => {
    await server.stop();
    if (wechat) await wechat.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error) => {
  console.error(`[server] ${error.message}`);
  process.exit(1);
});
