'use strict';
// mp-session-server as a child process, for the demo, `npm run server` and the example's tests:
// started on a free port of 127.0.0.1 (or the one asked for), ready once it logs where it
// listens; its log lines go to `log` without their timestamp and level.
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const ROOT = path.join(__dirname, '..');
const BINARY = path.join(ROOT, 'target', 'debug', process.platform === 'win32' ? 'mp-session-server.exe' : 'mp-session-server');

// "2026-12-02T23:04:29.123Z  INFO login: ok user=ab12" → "login: ok user=ab12"
function bareLine(line) {
  return line.replace(/^\S+\s+(TRACE|DEBUG|INFO|WARN|ERROR)\s+/, '');
}

// A key as ALIPAY_PRIVATE_KEY / ALIPAY_PUBLIC_KEY take it: text (base64 DER or PEM) as given, a
// KeyObject as PEM (PKCS#8 for a private key, SubjectPublicKeyInfo for a public one).
function keyText(key) {
  if (typeof key === 'string') return key;
  return key.type === 'private' ? key.export({ type: 'pkcs8', format: 'pem' }) : key.export({ type: 'spki', format: 'pem' });
}

const ALIPAY_ENV = ['ALIPAY_APPID', 'ALIPAY_PRIVATE_KEY', 'ALIPAY_PUBLIC_KEY', 'ALIPAY_GATEWAY'];

// alipay: { appid, privateKey (the app's), publicKey (Alipay's) } enables /auth/alipay/login, its
// gateway the mock's /gateway.do when wechatUrl is given; without it the server has no Alipay.
async function startServer({ binary = BINARY, dataDir, wechatUrl, appid = 'wx-mock-appid', secret = 'mock-secret', adminToken, alipay, port = 0, args = [], log = () => {}, env = {} } = {}) {
  if (!fs.existsSync(binary)) throw new Error(`${path.relative(ROOT, binary)} is missing: run \`cargo build -p mp-session-server\` (npm test and npm run demo do it first)`);
  const flags = [`--listen=127.0.0.1:${port}`, `--data-dir=${dataDir}`, `--wechat-appid=${appid}`, `--wechat-secret=${secret}`];
  // The mock WeChat plays Douyin's jscode2session too (dev-server/mock-wechat.js).
  if (wechatUrl) flags.push(`--wechat-api-base=${wechatUrl}`, '--douyin-appid=tt-mock-appid', '--douyin-secret=tt-mock-secret', `--douyin-api-base=${wechatUrl}`);
  const childEnv = { ...process.env, ...env };
  // The admin token travels in the environment, never on a command line others can read.
  if (adminToken) childEnv.MP_SESSION_ADMIN_TOKEN = adminToken;
  delete childEnv.DATABASE_URL;
  for (const name of ALIPAY_ENV) delete childEnv[name];
  if (alipay) {
    // The keys travel in the environment too (the private one must never be on a command line).
    Object.assign(childEnv, { ALIPAY_APPID: alipay.appid, ALIPAY_PRIVATE_KEY: keyText(alipay.privateKey), ALIPAY_PUBLIC_KEY: keyText(alipay.publicKey) });
    if (wechatUrl) childEnv.ALIPAY_GATEWAY = `${wechatUrl}/gateway.do`;
  }
  Object.assign(childEnv, Object.fromEntries(ALIPAY_ENV.filter((name) => name in env).map((name) => [name, env[name]])));
  const child = spawn(binary, [...flags, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const errors = [];
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    errors.push(line);
    log(bareLine(line));
  });
  const lines = readline.createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`mp-session-server exited (${code}) before listening: ${errors.join(' ') || 'no message'}`)));
    child.once('error', reject);
    lines.on('line', (line) => {
      const listening = /listening listen=(\S+)/.exec(line);
      if (listening) resolve(`http://${listening[1]}`);
      else log(bareLine(line));
    });
  });
  child.removeAllListeners('exit');
  lines.removeAllListeners('line');
  lines.on('line', (line) => log(bareLine(line)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // A script that ends early (a failed check, an uncaught error) takes its server with it.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  exited.then(() => process.off('exit', orphanGuard));
  return {
    url,
    child,
    // SIGTERM: the server finishes requests in flight, then exits.
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

// Calls an admin route with the token: resolves to { status, body }.
async function adminCall(url, adminToken, route, body) {
  const res = await fetch(url + route, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

module.exports = { startServer, adminCall, BINARY };
