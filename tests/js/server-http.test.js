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
