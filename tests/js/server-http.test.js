'use strict';
// mp-session-server's HTTP contract, seen from outside: the real binary (target/debug) on a fresh
// SQLite data directory, calling the mock WeChat over HTTP as it would call api.weixin.qq.com.
// The mock's access tokens and phone-number exchange, /auth/login with a phoneCode and the user in
// its reply, the shared WeChat access token, the profile and avatar routes, /files/, and what
// survives a restart. Only the mock WeChat's clock is fake (the server runs on real time, which
// no test waits on); nothing sleeps. What only the server's insides show is left to server/tests.
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { serveMockWeChat, mockPhoneFor, DEVTOOLS_OPENID } = require('../../dev-server/mock-wechat.js');
const { startServer, adminCall } = require('../../scripts/server-process.js');
const { createFakeClock } = require('../simulator/clock.js');
const { startLoginServer, wechatError } = require('./helpers.js');

const MINUTE = 60 * 1000;
const CREDS = { grant_type: 'client_credential', appid: 'wx-mock-appid', secret: 'mock-secret' };
const tempDir = (label) => fs.mkdtempSync(path.join(os.tmpdir(), `mp-session-${label}-`));
// What replies may show of a number: 13812345678 → 138****5678.
const maskPhone = (number) => `${number.slice(0, 3)}****${number.slice(-4)}`;
// A 1×1 PNG, and the first bytes of the other accepted types.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('JFIF\0 jpeg body')]);
const GIF = Buffer.from('GIF89a\x01\x00\x01\x00 gif body', 'latin1');
const WEBP = Buffer.concat([Buffer.from('RIFF'), Buffer.from([24, 0, 0, 0]), Buffer.from('WEBPVP8 webp body')]);

async function call(url, { method = 'GET', token, json, body, headers = {} } = {}) {
  const res = await fetch(url, {
    method,
    headers: Object.assign(json === undefined ? {} : { 'content-type': 'application/json' }, token ? { authorization: `Bearer ${token}` } : {}, headers),
    body: json === undefined ? body : JSON.stringify(json),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  let parsed = null;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (e) { /* not JSON */ }
  return { status: res.status, body: parsed, bytes, headers: res.headers };
}

const codeFor = async (wechatUrl, openid) => (await call(`${wechatUrl}/mock-wechat/login?openid=${openid}`)).body.code;
const phoneCodeFor = async (wechatUrl, openid) => (await call(`${wechatUrl}/mock-wechat/phone-code?openid=${openid}`)).body.code;

// A login of `openid` on `server` ({ url, wechatUrl }), with a phone code too if asked.
async function login({ url, wechatUrl }, openid, { phone = false } = {}) {
  const json = { code: await codeFor(wechatUrl, openid) };
  if (phone) json.phoneCode = await phoneCodeFor(wechatUrl, openid);
  return call(`${url}/auth/login`, { method: 'POST', json });
}

// The body wx.uploadFile sends: extra formData fields, then the file as application/octet-stream.
function multipart(file, { name = 'file', filename = 'tmp_1.png', fields = {}, boundary = '----mpsimtest123' } = {}) {
  const parts = Object.entries(fields).map(([k, v]) => Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${name}"; filename="${filename}"\r\ncontent-type: application/octet-stream\r\n\r\n`), file, Buffer.from(`\r\n--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

const upload = (url, token, file, opts) => call(`${url}/api/avatar`, Object.assign({ method: 'POST', token }, multipart(file, opts)));
const me = (url, token) => call(`${url}/api/me`, { token });
const setNickname = (url, token, nickname) => call(`${url}/api/profile`, { method: 'PUT', token, json: { nickname } });
const stats = async ({ url, adminToken }) => {
  const { status, body } = await adminCall(url, adminToken, '/admin/stats');
  assert.equal(status, 200);
  return body;
};

// A raw GET whose path is sent exactly as written (fetch would resolve the dots).
function rawGet(url, rawPath) {
  return new Promise((resolve, reject) => {
    http.get(url + rawPath, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
}

// The binary beside a mock WeChat for one test (startLoginServer's options), closed after it.
async function withServer(options, use) {
  const server = await startLoginServer(options);
  try {
    await use(server);
  } finally {
    await server.close();
  }
}

// The binary on a data directory the test owns, so it can look inside and start it again there
// (startLoginServer's data directory goes with it).
async function withServerOn(dataDir, use) {
  const wechat = await serveMockWeChat();
  const adminToken = crypto.randomBytes(16).toString('hex');
  const server = await startServer({ dataDir, wechatUrl: wechat.url, adminToken });
  try {
    await use({ url: server.url, wechatUrl: wechat.url, mock: wechat.mock, adminToken });
  } finally {
    await server.stop();
    await wechat.close();
  }
}

// The mock WeChat alone, on a fake clock.
async function withMockWeChat(clock, use) {
  const wechat = await serveMockWeChat({ now: clock.now });
  try {
    await use(wechat.url);
  } finally {
    await wechat.close();
  }
}

describe('mock WeChat: access tokens and the phone number', () => {
  test('/cgi-bin/token and /cgi-bin/stable_token issue 7200 s tokens to the right appid and secret only', async () => {
    const clock = createFakeClock();
    await withMockWeChat(clock, async (url) => {
      const plain = (await call(`${url}/cgi-bin/token?${new URLSearchParams(CREDS)}`)).body;
      assert.equal(typeof plain.access_token, 'string');
      assert.equal(plain.expires_in, 7200);
      assert.deepEqual((await call(`${url}/cgi-bin/token?${new URLSearchParams({ ...CREDS, secret: 'wrong' })}`)).body, { errcode: 40125, errmsg: 'invalid appsecret' });
      assert.equal((await call(`${url}/cgi-bin/token?${new URLSearchParams({ ...CREDS, grant_type: 'x' })}`)).body.errcode, 40002);

      const stable = (await call(`${url}/cgi-bin/stable_token`, { method: 'POST', json: CREDS })).body;
      assert.equal(stable.expires_in, 7200);
      assert.notEqual(stable.access_token, plain.access_token, 'isolated from /cgi-bin/token');
      clock.jump(10 * MINUTE);
      const again = (await call(`${url}/cgi-bin/stable_token`, { method: 'POST', json: CREDS })).body;
      assert.deepEqual(again, { access_token: stable.access_token, expires_in: 7200 - 600 }, 'normal mode: the same token while it lives');
      assert.equal((await call(`${url}/cgi-bin/stable_token`, { method: 'POST', json: { ...CREDS, appid: 'wx-other' } })).body.errcode, 40013);
      assert.equal((await call(`${url}/cgi-bin/stable_token?${new URLSearchParams(CREDS)}`)).body.errcode, 43002, 'POST only');

      const exchange = async (accessToken) => (await call(`${url}/wxa/business/getuserphonenumber?access_token=${accessToken}`, {
        method: 'POST', json: { code: await phoneCodeFor(url, 'o-tokens') },
      })).body;
      assert.equal((await exchange(stable.access_token)).errcode, 0);
      const forced = (await call(`${url}/cgi-bin/stable_token`, { method: 'POST', json: { ...CREDS, force_refresh: true } })).body;
      assert.notEqual(forced.access_token, stable.access_token);
      assert.equal((await exchange(stable.access_token)).errcode, 40001, 'force_refresh ends the old token at once');
      assert.equal((await exchange(forced.access_token)).errcode, 0);
      assert.equal((await exchange('never-issued')).errcode, 40001);

      // A new /cgi-bin/token leaves the previous one five more minutes.
      const next = (await call(`${url}/cgi-bin/token?${new URLSearchParams(CREDS)}`)).body;
      assert.equal((await exchange(plain.access_token)).errcode, 0);
      clock.jump(5 * MINUTE);
      assert.equal((await exchange(plain.access_token)).errcode, 42001);
      assert.equal((await exchange(next.access_token)).errcode, 0);
      clock.jump(7200 * 1000);
      assert.deepEqual(await exchange(next.access_token), { errcode: 42001, errmsg: 'access_token expired' });
    });
  });

  test('a phone code gives the user’s mock number once, within five minutes, as WeChat answers it', async () => {
    const clock = createFakeClock();
    await withMockWeChat(clock, async (url) => {
      const { access_token: accessToken } = (await call(`${url}/cgi-bin/stable_token`, { method: 'POST', json: CREDS })).body;
      const exchange = async (code) => (await call(`${url}/wxa/business/getuserphonenumber?access_token=${accessToken}`, { method: 'POST', json: { code } })).body;
      const code = await phoneCodeFor(url, 'o-phone');
      const number = mockPhoneFor('o-phone');
      assert.match(number, /^138\d{8}$/);
      assert.deepEqual(await exchange(code), {
        errcode: 0,
        errmsg: 'ok',
        phone_info: { phoneNumber: number, purePhoneNumber: number, countryCode: '86', watermark: { timestamp: Math.floor(clock.now() / 1000), appid: 'wx-mock-appid' } },
      });
      assert.deepEqual(await exchange(code), { errcode: 40029, errmsg: 'invalid code: code been used' });
      assert.equal((await exchange(await phoneCodeFor(url, 'o-phone'))).phone_info.phoneNumber, number, 'one number per user');
      assert.notEqual((await exchange(await phoneCodeFor(url, 'o-other'))).phone_info.phoneNumber, number);
      assert.deepEqual(await exchange('never-issued'), { errcode: 40029, errmsg: 'invalid code' });
      const late = await phoneCodeFor(url, 'o-phone');
      clock.jump(5 * MINUTE + 1);
      assert.deepEqual(await exchange(late), { errcode: 40029, errmsg: 'invalid code: code expired' });
      assert.equal((await call(`${url}/wxa/business/getuserphonenumber?access_token=${accessToken}`, { method: 'POST', body: 'not json' })).body.errcode, 47001);
    });
  });
});

describe('/auth/douyin/login: tt.login\'s code or anonymousCode, exchanged with Douyin', () => {
  test('a code is one user, an anonymous code another; each once; session_key stays on the server', async () => {
    const clock = createFakeClock();
    await withServer({ mock: { now: clock.now } }, async (server) => {
      const { url, wechatUrl } = server;
      const codes = async (query) => (await call(`${wechatUrl}/mock-douyin/login?openid=o-tt${query}`)).body;
      const douyin = (json) => call(`${url}/auth/douyin/login`, { method: 'POST', json });
      const first = await codes('');
      const named = await douyin({ code: first.code });
      assert.deepEqual([named.status, named.body.isNewUser], [200, true]);
      assert.ok(!/session_?key|openid/i.test(JSON.stringify(named.body)));
      assert.equal((await me(url, named.body.token)).status, 200);
      assert.equal((await douyin({ code: (await codes('')).code })).body.user.id, named.body.user.id, 'the same Douyin user');
      assert.deepEqual([(await douyin({ code: first.code })).status, (await douyin({ code: first.code })).body.errcode], [400, 40018]);

      const anonymous = await douyin({ anonymousCode: (await codes('&anonymous=1')).anonymousCode });
      assert.deepEqual([anonymous.status, anonymous.body.isNewUser], [200, true]);
      assert.notEqual(anonymous.body.user.id, named.body.user.id, 'an anonymous user is a user of its own');
      assert.equal((await douyin({ code: first.anonymousCode })).body.errcode, 40018, 'an anonymous code is not a code');
      const late = await codes('');
      clock.jump(5 * MINUTE + 1);
      assert.equal((await douyin({ code: late.code })).status, 400);
      for (const json of [{}, { code: '' }, { anonymousCode: 7 }]) assert.equal((await douyin(json)).body.errcode, 40029, JSON.stringify(json));
      assert.ok(server.mock.sessionKeysGiven.length >= 2);
    });
  });

  test('a server without DOUYIN_APPID answers 404 { errcode: 40404 } there', async () => {
    const dataDir = tempDir('no-douyin');
    const server = await startServer({ dataDir });
    try {
      const reply = await call(`${server.url}/auth/douyin/login`, { method: 'POST', json: { code: 'x' } });
      assert.deepEqual([reply.status, reply.body.errcode], [404, 40404]);
      assert.match(reply.body.errmsg, /DOUYIN_APPID/);
    } finally {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

// Alipay's gateway on the mock WeChat and the binary, each holding the other's public key: the
// app's key pair (private to the server, public to the mock) and "Alipay's" (private to the mock,
// public to the server), made here. `serverPrivateKey` replaces the app's private key on the
// server only. The server's log lines are collected, to look for what must not be there.
const ALIPAY_APPID = '2021000000000001';
const rsaKeyPair = () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });

async function withAlipay({ clock, serverPrivateKey } = {}, use) {
  const app = rsaKeyPair();
  const platform = rsaKeyPair();
  const wechat = await serveMockWeChat({ now: clock ? clock.now : Date.now, alipay: { appid: ALIPAY_APPID, appPublicKey: app.publicKey, alipayPrivateKey: platform.privateKey } });
  const dataDir = tempDir('alipay');
  const logs = [];
  // The private key as a KeyObject (passed on as PEM), Alipay's public key as bare base64 DER, as
  // Alipay's console shows it: both forms the server reads.
  const alipay = { appid: ALIPAY_APPID, privateKey: serverPrivateKey || app.privateKey, publicKey: platform.publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
  const server = await startServer({ dataDir, wechatUrl: wechat.url, alipay, args: ['--auth-rate-per-address=0', '--auth-rate-per-openid=0'], log: (line) => logs.push(line) });
  const authCode = async (openid, query = '') => (await call(`${wechat.url}/mock-alipay/auth-code?openid=${openid}${query}`)).body.authCode;
  const alipayLogin = (json) => call(`${server.url}/auth/alipay/login`, { method: 'POST', json });
  const next = async (change) => assert.equal((await call(`${wechat.url}/mock-wechat/errors`, { method: 'POST', json: { api: 'alipay', ...change } })).status, 200);
  try {
    await use({ url: server.url, mock: wechat.mock, logs, authCode, alipayLogin, next, keys: { app, platform } });
  } finally {
    await server.stop();
    await wechat.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

describe('/auth/alipay/login: my.getAuthCode\'s authCode, exchanged with Alipay\'s alipay.system.oauth.token', () => {
  test('an authCode logs its user in; the same user on the next code; nothing of Alipay\'s tokens or ids leaves the server', async () => {
    await withAlipay({}, async ({ url, mock, logs, authCode, alipayLogin, keys }) => {
      const first = await alipayLogin({ authCode: await authCode('o-ali') });
      assert.deepEqual([first.status, first.body.isNewUser], [200, true]);
      assert.deepEqual(Object.keys(first.body).sort(), ['expiresIn', 'isNewUser', 'refreshExpiresIn', 'refreshToken', 'token', 'user']);
      assert.equal((await me(url, first.body.token)).status, 200);
      const again = await alipayLogin({ authCode: await authCode('o-ali') });
      assert.deepEqual([again.status, again.body.isNewUser, again.body.user.id], [200, false, first.body.user.id], 'the same Alipay user');
      const other = await alipayLogin({ authCode: await authCode('o-ali-2') });
      assert.notEqual(other.body.user.id, first.body.user.id);
      // An older app's reply has user_id and no open_id: that is the user's id then.
      const legacy = await alipayLogin({ authCode: await authCode('o-ali-old', '&userIdOnly=1') });
      assert.deepEqual([legacy.status, legacy.body.isNewUser], [200, true]);
      assert.equal((await alipayLogin({ authCode: await authCode('o-ali-old', '&userIdOnly=1') })).body.user.id, legacy.body.user.id);

      assert.equal(mock.stats.alipayExchanges, 5);
      assert.equal(mock.stats.alipaySessionsGiven, 5);
      assert.equal(mock.alipayTokensGiven.length, 10);
      const ids = ['o-ali', 'o-ali-2', 'o-ali-old'].flatMap((openid) => Object.values(mock.alipayIdsFor(openid)));
      const keyText = [keys.app.privateKey.export({ type: 'pkcs8', format: 'der' }), keys.platform.publicKey.export({ type: 'spki', format: 'der' })].map((der) => der.toString('base64').slice(100, 160));
      const replies = JSON.stringify([first.body, again.body, other.body, legacy.body]);
      for (const secret of [...mock.alipayTokensGiven, ...ids]) {
        assert.ok(!replies.includes(secret), `a reply shows ${secret}`);
        assert.ok(!logs.some((line) => line.includes(secret)), `the log shows ${secret}`);
      }
      for (const key of keyText) assert.ok(!logs.some((line) => line.includes(key)), 'the log shows a key');
      assert.ok(!/access_token|refresh_token|open_?id|user_?id|2088/i.test(replies));

      // The call as the gateway saw it: the common parameters, the time in Asia/Shanghai (UTC+8).
      const request = mock.alipayLastRequest;
      assert.deepEqual(
        [request.app_id, request.method, request.format, request.charset, request.sign_type, request.version, request.grant_type],
        [ALIPAY_APPID, 'alipay.system.oauth.token', 'JSON', 'utf-8', 'RSA2', '1.0', 'authorization_code'],
      );
      const sent = Date.parse(`${request.timestamp.replace(' ', 'T')}+08:00`);
      assert.ok(Math.abs(sent - Date.now()) < 2 * MINUTE, `timestamp ${request.timestamp} is not Shanghai's now`);
    });
  });

  test('a used, unknown or expired authCode is 400 with Alipay\'s code; a missing one 40029; Alipay busy 503', async () => {
    const clock = createFakeClock();
    await withAlipay({ clock }, async ({ authCode, alipayLogin, next }) => {
      const code = await authCode('o-ali');
      assert.equal((await alipayLogin({ authCode: code })).status, 200);
      const used = await alipayLogin({ authCode: code });
      assert.deepEqual([used.status, used.body.errcode], [400, 40002]);
      assert.equal(used.body.errmsg, 'alipay.system.oauth.token: isv.code-invalid 授权码code无效');
      assert.deepEqual([(await alipayLogin({ authCode: 'never-issued' })).status, (await alipayLogin({ authCode: 'never-issued' })).body.errcode], [400, 40002]);
      const late = await authCode('o-ali');
      clock.jump(3 * MINUTE + 1);
      assert.deepEqual([(await alipayLogin({ authCode: late })).status, (await alipayLogin({ authCode: late })).body.errcode], [400, 40002]);
      for (const json of [{}, { authCode: '' }, { authCode: 7 }, { code: 'x' }]) assert.deepEqual([(await alipayLogin(json)).status, (await alipayLogin(json)).body.errcode], [400, 40029], JSON.stringify(json));

      // Alipay's own errors: 20000 is worth another try (503); 20001 and 40006 are this server's
      // to fix (502); each with Alipay's code.
      const kept = await authCode('o-ali');
      await next({ errcode: 20000 });
      const busy = await alipayLogin({ authCode: kept });
      assert.deepEqual([busy.status, busy.body.errcode], [503, 20000]);
      assert.match(busy.body.errmsg, /isp\.unknow-error/);
      await next({ errcode: 20001 });
      assert.deepEqual([(await alipayLogin({ authCode: kept })).status, (await alipayLogin({ authCode: kept })).status], [502, 200], 'an injected error leaves the code unused');
      await next({ errcode: 40006 });
      const denied = await alipayLogin({ authCode: await authCode('o-ali') });
      assert.deepEqual([denied.status, denied.body.errcode], [502, 40006]);
    });
  });

  test('an unsigned, badly signed or tampered gateway reply is refused as unreachable (502, -1)', async () => {
    await withAlipay({}, async ({ mock, authCode, alipayLogin, next }) => {
      for (const reply of ['unsigned', 'bad-signature', 'tampered']) {
        const code = await authCode('o-ali');
        await next({ reply });
        const refused = await alipayLogin({ authCode: code });
        assert.deepEqual([refused.status, refused.body], [502, { errcode: -1, errmsg: 'alipay.system.oauth.token unreachable' }], reply);
        // Alipay took the code: the client needs a new one.
        assert.equal((await alipayLogin({ authCode: code })).status, 400, reply);
      }
      assert.equal(mock.stats.alipaySessionsGiven, 3);
      assert.equal((await alipayLogin({ authCode: await authCode('o-ali') })).body.isNewUser, true, 'no user was made from a refused reply');
    });
  });

  test('a server whose private key is not the app\'s: Alipay refuses its signature (isv.invalid-signature), answered 502 with 40002', async () => {
    await withAlipay({ serverPrivateKey: rsaKeyPair().privateKey }, async ({ mock, authCode, alipayLogin }) => {
      const refused = await alipayLogin({ authCode: await authCode('o-ali') });
      assert.deepEqual([refused.status, refused.body.errcode], [502, 40002]);
      assert.match(refused.body.errmsg, /^alipay\.system\.oauth\.token: isv\.invalid-signature /);
      assert.equal(mock.stats.alipaySessionsGiven, 0);
    });
  });

  test('a server without ALIPAY_APPID answers 404 { errcode: 40404 } there; half a configuration or a bad key does not start', async () => {
    const dataDir = tempDir('no-alipay');
    try {
      const server = await startServer({ dataDir });
      try {
        const reply = await call(`${server.url}/auth/alipay/login`, { method: 'POST', json: { authCode: 'x' } });
        assert.deepEqual([reply.status, reply.body.errcode], [404, 40404]);
        assert.match(reply.body.errmsg, /ALIPAY_APPID/);
      } finally {
        await server.stop();
      }
      const pair = rsaKeyPair();
      await assert.rejects(startServer({ dataDir, env: { ALIPAY_APPID: ALIPAY_APPID } }), /ALIPAY_APPID, ALIPAY_PRIVATE_KEY and ALIPAY_PUBLIC_KEY go together/);
      const swapped = startServer({ dataDir, alipay: { appid: ALIPAY_APPID, privateKey: pair.privateKey, publicKey: pair.privateKey } });
      await assert.rejects(swapped, (error) => /ALIPAY_PUBLIC_KEY is not/.test(error.message) && !error.message.includes('PRIVATE KEY-----'));
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('/auth/login: the user in the reply, phone binding', () => {
  test('isNewUser is true on an openid’s first login only; the user starts with nulls', async () => {
    await withServer({}, async (server) => {
      const first = await login(server, 'o-new');
      assert.equal(first.status, 200);
      assert.equal(first.body.isNewUser, true);
      assert.equal(first.body.expiresIn, 7200);
      assert.match(first.body.user.id, /^[0-9a-f]{12}$/);
      assert.deepEqual(first.body.user, { id: first.body.user.id, nickname: null, avatarUrl: null, phone: null });
      const second = await login(server, 'o-new');
      assert.equal(second.body.isNewUser, false);
      assert.equal(second.body.user.id, first.body.user.id);
      assert.notEqual(second.body.token, first.body.token);
      const other = await login(server, 'o-someone-else');
      assert.equal(other.body.isNewUser, true);
      assert.notEqual(other.body.user.id, first.body.user.id);
      const shown = await me(server.url, second.body.token);
      assert.equal(shown.body.userId, first.body.user.id, 'the old field stays');
      assert.equal(typeof shown.body.expiresAt, 'number');
      assert.deepEqual(shown.body.user, second.body.user);
    });
  });

  test('a login with phoneCode binds the phone in the same request; only the masked number leaves', async () => {
    await withServer({}, async (server) => {
      const { url } = server;
      const number = mockPhoneFor('o-phone-login');
      const { status, body } = await login(server, 'o-phone-login', { phone: true });
      assert.equal(status, 200);
      assert.equal(body.isNewUser, true);
      assert.equal(body.user.phone, maskPhone(number));
      assert.match(body.user.phone, /^138\*{4}\d{4}$/);
      assert.ok(!JSON.stringify(body).includes(number), 'the whole number stays on the server');
      assert.ok(!/openid|session_?key/i.test(JSON.stringify(body)));
      assert.deepEqual((await me(url, body.token)).body.user, body.user, 'the session that comes back is the bound one');

      // A user who logged in without a phone binds it later, keeping the same id.
      const plain = await login(server, 'o-binds-later');
      assert.equal(plain.body.user.phone, null);
      const bound = await login(server, 'o-binds-later', { phone: true });
      assert.deepEqual([bound.body.isNewUser, bound.body.user.id, bound.body.user.phone], [false, plain.body.user.id, maskPhone(mockPhoneFor('o-binds-later'))]);
      assert.equal((await login(server, 'o-binds-later')).body.user.phone, bound.body.user.phone, 'the phone stays bound');
      // Two exchanges, two numbers given, one access token for both.
      const { phoneNumberCalls, phoneNumbersGiven, stableTokenCalls } = server.mock.stats;
      assert.deepEqual([phoneNumberCalls, phoneNumbersGiven, stableTokenCalls, (await stats(server)).accessTokenFetches], [2, 2, 1, 1]);
    });
  });

  test('a bad phone code answers 4xx { errcode, errmsg } and issues no session (nor a user)', async () => {
    const clock = createFakeClock();
    await withServer({ mock: { now: clock.now } }, async (server) => {
      const { url, wechatUrl } = server;
      const attempt = async (phoneCode) => call(`${url}/auth/login`, { method: 'POST', json: { code: await codeFor(wechatUrl, 'o-bad-phone'), phoneCode } });
      // A code spent elsewhere (WeChat takes each once), so no login of this user succeeds first.
      const used = await phoneCodeFor(wechatUrl, 'o-bad-phone');
      const { access_token: accessToken } = (await call(`${wechatUrl}/cgi-bin/stable_token`, { method: 'POST', json: CREDS })).body;
      assert.equal((await call(`${wechatUrl}/wxa/business/getuserphonenumber?access_token=${accessToken}`, { method: 'POST', json: { code: used } })).body.errcode, 0);

      for (const phoneCode of [used, 'never-issued']) {
        const reply = await attempt(phoneCode);
        assert.equal(reply.status, 400);
        assert.equal(reply.body.errcode, 40029);
        assert.match(reply.body.errmsg, /^getuserphonenumber: invalid code/);
        assert.equal(reply.body.token, undefined);
      }
      const late = await phoneCodeFor(wechatUrl, 'o-bad-phone');
      clock.jump(5 * MINUTE + 1);
      assert.deepEqual([(await attempt(late)).status, (await attempt(late)).body.errcode], [400, 40029]);
      // Not a string, or empty: refused before WeChat is asked. (null reads as no phoneCode: a plain login.)
      for (const phoneCode of ['', 42]) {
        const reply = await attempt(phoneCode);
        assert.deepEqual([reply.status, reply.body.errcode, typeof reply.body.errmsg], [400, 40029, 'string'], JSON.stringify(phoneCode));
      }
      for (const [errcode, status] of [[-1, 503], [45011, 429], [40013, 502]]) {
        await wechatError(wechatUrl, errcode, 'phone');
        const reply = await attempt(await phoneCodeFor(wechatUrl, 'o-bad-phone'));
        assert.deepEqual([reply.status, reply.body.errcode], [status, errcode]);
      }
      const counts = await stats(server);
      assert.deepEqual([counts.users, counts.liveSessions], [0, 0]);
      const good = await attempt(await phoneCodeFor(wechatUrl, 'o-bad-phone'));
      assert.equal(good.status, 200);
      assert.equal(good.body.isNewUser, true, 'the failed attempts created no user');
    });
  });

  test('run for DevTools, an unknown phone code counts once, as the DevTools user’s', async () => {
    await withServer({ mock: { acceptDeviceCodes: true } }, async ({ url }) => {
      const first = await call(`${url}/auth/login`, { method: 'POST', json: { code: 'devtools-login-1', phoneCode: 'devtools-phone-1' } });
      assert.equal(first.status, 200);
      assert.equal(first.body.user.phone, maskPhone(mockPhoneFor(DEVTOOLS_OPENID)));
      const reused = await call(`${url}/auth/login`, { method: 'POST', json: { code: 'devtools-login-2', phoneCode: 'devtools-phone-1' } });
      assert.deepEqual([reused.status, reused.body.errcode], [400, 40029]);
    });
  });
});

describe('WeChat’s access token, as the server keeps it for the phone exchange', () => {
  test('one stable-token fetch serves many phone exchanges, concurrent ones too', async () => {
    await withServer({}, async (server) => {
      const replies = await Promise.all(['o-a', 'o-b', 'o-c'].map((openid) => login(server, openid, { phone: true }))); // concurrent: one fetch
      assert.deepEqual(replies.map((r) => r.body.user.phone), ['o-a', 'o-b', 'o-c'].map((o) => maskPhone(mockPhoneFor(o))));
      for (const openid of ['o-d', 'o-e']) assert.equal((await login(server, openid, { phone: true })).status, 200);
      assert.deepEqual([(await stats(server)).accessTokenFetches, server.mock.stats.stableTokenCalls, server.mock.stats.phoneNumberCalls], [1, 1, 5]);
    });
  });

  test('a token in its last five minutes is renewed before its next use; one with more left is kept', async () => {
    // The server's clock is real, so the mock's decides how long the token it hands out has left.
    const clock = createFakeClock();
    await withServer({ mock: { now: clock.now } }, async (server) => {
      const { stats: mock } = server.mock;
      const counts = () => [mock.stableTokenCalls, mock.tokensIssued, mock.phoneNumberCalls];
      // Another backend of the app took the stable token; 300.5 s later WeChat still answers it, with 300 s left.
      await call(`${server.wechatUrl}/cgi-bin/stable_token`, { method: 'POST', json: CREDS });
      clock.jump(7200 * 1000 - 5 * MINUTE - 500);
      assert.equal((await login(server, 'o-f', { phone: true })).status, 200);
      assert.deepEqual(counts(), [2, 1, 1], 'the server fetched it: 300 s left');

      // That backend forces a new token, 360.5 s from its end when the server next needs one.
      await call(`${server.wechatUrl}/cgi-bin/stable_token`, { method: 'POST', json: { ...CREDS, force_refresh: true } });
      clock.jump(7200 * 1000 - 6 * MINUTE - 500);
      assert.equal((await login(server, 'o-g', { phone: true })).status, 200);
      // Renewed before use: a server that used its token to the end would have met 40001 and forced a new one.
      assert.deepEqual(counts(), [4, 2, 2], 'fetched again, no refusal, no forced token');
      for (const openid of ['o-h', 'o-i']) assert.equal((await login(server, openid, { phone: true })).status, 200);
      assert.deepEqual(counts(), [4, 2, 4], '360 s left: kept');
      assert.equal((await stats(server)).accessTokenFetches, 2);
    });
  });

  test('a cached token WeChat no longer takes (40001) is replaced once with force_refresh, and the exchange retried', async () => {
    await withServer({}, async (server) => {
      assert.equal((await login(server, 'o-x', { phone: true })).status, 200);
      // Someone else force-refreshes the stable token: ours is dead.
      await call(`${server.wechatUrl}/cgi-bin/stable_token`, { method: 'POST', json: { ...CREDS, force_refresh: true } });
      const reply = await login(server, 'o-y', { phone: true });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.user.phone, maskPhone(mockPhoneFor('o-y')));
      // A third token (forced, not the other's live one), and the exchange made twice.
      const { stableTokenCalls, tokensIssued, phoneNumberCalls } = server.mock.stats;
      assert.deepEqual([stableTokenCalls, tokensIssued, phoneNumberCalls], [3, 3, 3]);
      assert.equal((await stats(server)).accessTokenFetches, 2);
      // What it logs on the way: server/tests/process.rs (text_logs_name_events_and_never_a_secret).
    });
  });

  test('WeChat unreachable for the phone exchange: 502, no session', async () => {
    // Between the server and the mock: code2Session passes, everything else finds WeChat gone.
    let calls = 0;
    let flaky;
    const wechatBase = async (mockUrl) => {
      flaky = http.createServer((req, res) => {
        calls++;
        if (req.url.startsWith('/sns/')) return http.get(mockUrl + req.url, (up) => up.pipe(res));
        return req.socket.destroy();
      });
      await new Promise((resolve) => flaky.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${flaky.address().port}`;
    };
    try {
      await withServer({ wechatBase }, async (server) => {
        const reply = await login(server, 'o-z', { phone: true });
        assert.deepEqual([reply.status, reply.body.errcode], [502, -1]);
        assert.equal(reply.body.token, undefined);
        assert.equal(calls, 2);
        const counts = await stats(server);
        assert.deepEqual([counts.users, counts.liveSessions], [0, 0]);
      });
    } finally {
      flaky.closeAllConnections();
      await new Promise((resolve) => flaky.close(resolve));
    }
  });
});

describe('profile: nickname and avatar', () => {
  test('PUT /api/profile saves a trimmed nickname of 1 to 20 characters and refuses others with 400', async () => {
    await withServer({}, async (server) => {
      const { url } = server;
      const { token } = (await login(server, 'o-nick')).body;
      const saved = await setNickname(url, token, '  小明 \u3000');
      assert.equal(saved.status, 200);
      assert.equal(saved.body.user.nickname, '小明');
      assert.deepEqual((await me(url, token)).body.user, saved.body.user);
      for (const nickname of ['一二三四五六七八九十一二三四五六七八九十', 'a', '🐱喵 Mia', 'O\'Brien & co.']) {
        assert.equal((await setNickname(url, token, nickname)).body.user.nickname, nickname);
      }
      const refusals = [
        ['', 40202], ['   ', 40202], ['一二三四五六七八九十一二三四五六七八九十一', 40202],
        ['a\u0007b', 40203], ['line\nbreak', 40203], ['tab\there', 40203], ['\u202eevil', 40203], ['a\u2028b', 40203],
        ['<script>', 40203], ['a>b', 40203],
        // A lone surrogate is no Unicode string: the body is not JSON the server can read.
        ['x\ud800y', 40201],
      ];
      for (const [nickname, errcode] of refusals) {
        const reply = await setNickname(url, token, nickname);
        assert.deepEqual([reply.status, reply.body.errcode, typeof reply.body.errmsg], [400, errcode, 'string'], JSON.stringify(nickname));
      }
      for (const body of ['not json', '{"nickname": 42}', '{}', 'null']) {
        const reply = await call(`${url}/api/profile`, { method: 'PUT', token, body, headers: { 'content-type': 'application/json' } });
        assert.deepEqual([reply.status, reply.body.errcode], [400, 40201]);
      }
      const wrongMethod = await call(`${url}/api/profile`, { method: 'POST', token, json: { nickname: 'x' } });
      assert.deepEqual([wrongMethod.status, wrongMethod.body.errcode], [405, 40405]);
      assert.equal((await call(`${url}/api/profile`, { method: 'PUT', json: { nickname: 'x' } })).status, 401);
      assert.equal((await me(url, token)).body.user.nickname, 'O\'Brien & co.', 'refusals change nothing');
      assert.equal((await login(server, 'o-nick')).body.user.nickname, 'O\'Brien & co.', 'the login reply carries it');
    });
  });

  test('POST /api/avatar stores the image by its type and /files/ serves it back byte-identical', async () => {
    await withServer({}, async (server) => {
      const { url } = server;
      const { token } = (await login(server, 'o-avatar')).body;
      const reply = await upload(url, token, PNG, { fields: { purpose: 'avatar' } });
      assert.equal(reply.status, 200);
      const { avatarUrl } = reply.body.user;
      assert.match(avatarUrl, new RegExp(`^${url}/files/avatars/[0-9a-f]{32}\\.png$`));
      assert.deepEqual((await me(url, token)).body.user, reply.body.user);
      const served = await call(avatarUrl);
      assert.equal(served.status, 200);
      assert.equal(served.headers.get('content-type'), 'image/png');
      // An uploaded file is never read as anything but its type (no HTML from a "PNG").
      assert.equal(served.headers.get('x-content-type-options'), 'nosniff');
      assert.ok(served.bytes.equals(PNG), 'byte-identical');

      for (const [bytes, ext, type] of [[JPEG, 'jpg', 'image/jpeg'], [GIF, 'gif', 'image/gif'], [WEBP, 'webp', 'image/webp']]) {
        // The name the page sends says nothing: the bytes decide.
        const next = (await upload(url, token, bytes, { filename: 'tmp_9.png', boundary: 'x-boundary' })).body.user.avatarUrl;
        assert.ok(next.endsWith(`.${ext}`), next);
        const back = await call(next);
        assert.deepEqual([back.headers.get('content-type'), back.bytes.equals(bytes)], [type, true]);
      }
      assert.equal((await call(avatarUrl)).status, 404, 'a replaced avatar is gone');
      // A quoted boundary, as some clients send it.
      const quoted = multipart(PNG, { boundary: 'quoted boundary' });
      quoted.headers['content-type'] = 'multipart/form-data; boundary="quoted boundary"';
      assert.equal((await call(`${url}/api/avatar`, Object.assign({ method: 'POST', token }, quoted))).status, 200);
    });
  });

  test('POST /api/avatar refuses a wrong type (415), over 2 MB (413), no multipart or no `file` (400)', async () => {
    await withServer({}, async (server) => {
      const { url } = server;
      const { token } = (await login(server, 'o-refused')).body;
      const before = (await upload(url, token, PNG)).body.user.avatarUrl;
      const expect = async (reply, status, errcode) => {
        assert.deepEqual([reply.status, reply.body && reply.body.errcode], [status, errcode]);
        assert.equal(typeof reply.body.errmsg, 'string');
      };
      await expect(await upload(url, token, Buffer.from('hello, not an image')), 415, 40212);
      await expect(await upload(url, token, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), { filename: 'a.png' }), 415, 40212);
      await expect(await upload(url, token, Buffer.alloc(0)), 415, 40212);
      const limit = 2 * 1024 * 1024;
      const sized = (n) => Buffer.concat([PNG, Buffer.alloc(n - PNG.length)]);
      const largest = await upload(url, token, sized(limit));
      assert.equal(largest.status, 200, 'exactly 2 MB is accepted');
      await expect(await upload(url, token, sized(limit + 1)), 413, 40213);
      await expect(await upload(url, token, sized(3 * limit)), 413, 40213);
      await expect(await call(`${url}/api/avatar`, { method: 'POST', token, json: { file: 'x' } }), 400, 40211);
      await expect(await upload(url, token, PNG, { name: 'avatar' }), 400, 40211);
      const broken = multipart(PNG);
      await expect(await call(`${url}/api/avatar`, { method: 'POST', token, headers: broken.headers, body: broken.body.subarray(0, 60) }), 400, 40211);
      await expect(await call(`${url}/api/avatar`, { method: 'PUT', token, ...multipart(PNG) }), 405, 40405);
      assert.equal((await upload(url, null, PNG)).status, 401);
      const after = (await me(url, token)).body.user.avatarUrl;
      assert.notEqual(after, before, 'the 2 MB upload replaced it');
      assert.equal(after, largest.body.user.avatarUrl, 'refusals stored nothing');
      assert.match(after, /\.png$/);
    });
  });

  test('/files/ serves only names the server made: no traversal, nothing from the data directory', async () => {
    const dataDir = tempDir('files');
    try {
      await withServerOn(dataDir, async (server) => {
        const { url } = server;
        const { token } = (await login(server, 'o-files')).body;
        const name = path.basename((await upload(url, token, PNG)).body.user.avatarUrl);
        assert.equal(await rawGet(url, `/files/avatars/${name}`), 200);
        // The data directory holds the SQLite database (avatars are rows in it) and the keys.
        const held = fs.readdirSync(dataDir);
        for (const file of ['mp-session.db', 'signing-key.pk8', 'data-key']) assert.ok(held.includes(file), `${file} in ${held}`);
        // A file put where a disk store would keep avatars is not served either.
        fs.mkdirSync(path.join(dataDir, 'avatars'), { recursive: true });
        fs.writeFileSync(path.join(dataDir, 'avatars', 'planted.png'), PNG);
        const raws = held.flatMap((file) => [`/files/${file}`, `/files/avatars/../${file}`, `/files/avatars/..%2F${file}`, `/files/avatars/%2e%2e%2f${file}`, `/files/avatars/..%5c${file}`]);
        raws.push('/files/../server/src/main.rs', '/files/avatars/planted.png', `/files/avatars/${name.toUpperCase()}`, `/files/avatars/${name}/`,
          `/files/avatars/${name.replace(/\.png$/, '.jpg')}`, `/files/avatars/${'0'.repeat(32)}.png`, '/files/avatars/', '/files/');
        for (const raw of raws) assert.equal(await rawGet(url, raw), 404, raw);
      });
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('durability', () => {
  test('users (phone, nickname, avatar) survive a restart; tokens are kept only hashed', async () => {
    const dataDir = tempDir('profile-data');
    try {
      let token;
      let refreshToken;
      let user;
      await withServerOn(dataDir, async (server) => {
        ({ token, refreshToken } = (await login(server, 'o-durable', { phone: true })).body);
        await setNickname(server.url, token, '持久');
        user = (await upload(server.url, token, PNG)).body.user;
        assert.deepEqual([user.nickname, user.phone], ['持久', maskPhone(mockPhoneFor('o-durable'))]);
      });
      const files = fs.readdirSync(dataDir).filter((f) => f.startsWith('mp-session.db')).map((f) => fs.readFileSync(path.join(dataDir, f), 'latin1')).join('\n');
      assert.ok(files.length > 0);
      for (const secret of [token, refreshToken]) assert.ok(!files.includes(secret), 'tokens are stored hashed, if at all');

      await withServerOn(dataDir, async (server) => {
        const { url } = server;
        const shown = await me(url, token);
        assert.equal(shown.status, 200, 'the signing key and the session survived');
        // The avatar URL is made from the address the client used, so a new port is no problem.
        const moved = Object.assign({}, user, { avatarUrl: user.avatarUrl.replace(/^http:\/\/[^/]+/, url) });
        assert.notEqual(moved.avatarUrl, user.avatarUrl);
        assert.deepEqual(shown.body.user, moved);
        assert.ok((await call(moved.avatarUrl)).bytes.equals(PNG));
        const again = await login(server, 'o-durable');
        assert.equal(again.body.isNewUser, false);
        assert.deepEqual(again.body.user, moved);
        const counts = await stats(server);
        assert.deepEqual([counts.users, counts.liveSessions], [1, 2]);
      });
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
  // The log (one line per event, never a token, code, session_key, access token or whole phone
  // number): server/tests/process.rs, text_logs_name_events_and_never_a_secret and json_logs_….
});
