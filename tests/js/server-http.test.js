'use strict';
// The developer server's side of issue 14 over plain HTTP: the mock WeChat's access token and
// phone-number exchange, /auth/login with a phoneCode and the user in its reply, the profile and
// avatar routes, /files/, durability across a restart, and what reaches the log. Time moves only
// on a fake clock; nothing sleeps.
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { createServer, maskPhone } = require('../../dev-server/server.js');
const { mockPhoneFor, DEVTOOLS_OPENID } = require('../../dev-server/mock-wechat.js');
const { createFakeClock } = require('../simulator/clock.js');
const { admin, withServer } = require('./helpers.js');

const MINUTE = 60 * 1000;
const tempDir = (label) => fs.mkdtempSync(path.join(os.tmpdir(), `mp-session-${label}-`));
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

const codeFor = async (url, openid) => (await call(`${url}/mock-wechat/login?openid=${openid}`)).body.code;
const phoneCodeFor = async (url, openid) => (await call(`${url}/mock-wechat/phone-code?openid=${openid}`)).body.code;

// A login of `openid` against `url` (codes from `wechatUrl`, the mock WeChat, by default the same server).
async function login(url, openid, { phone = false, wechatUrl = url } = {}) {
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

// A raw GET whose path is sent exactly as written (fetch would resolve the dots).
function rawGet(url, rawPath) {
  return new Promise((resolve, reject) => {
    http.get(url + rawPath, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
}

describe('mock WeChat: access tokens and the phone number', () => {
  test('/cgi-bin/token and /cgi-bin/stable_token issue 7200 s tokens to the right appid and secret only', async () => {
    const clock = createFakeClock();
    await withServer({ now: clock.now }, async (url) => {
      const creds = { grant_type: 'client_credential', appid: 'wx-mock-appid', secret: 'mock-secret' };
      const plain = (await call(`${url}/cgi-bin/token?${new URLSearchParams(creds)}`)).body;
      assert.equal(typeof plain.access_token, 'string');
      assert.equal(plain.expires_in, 7200);
      assert.deepEqual((await call(`${url}/cgi-bin/token?${new URLSearchParams({ ...creds, secret: 'wrong' })}`)).body, { errcode: 40125, errmsg: 'invalid appsecret' });
      assert.equal((await call(`${url}/cgi-bin/token?${new URLSearchParams({ ...creds, grant_type: 'x' })}`)).body.errcode, 40002);

      const stable = (await call(`${url}/cgi-bin/stable_token`, { method: 'POST', json: creds })).body;
      assert.equal(stable.expires_in, 7200);
      assert.notEqual(stable.access_token, plain.access_token, 'isolated from /cgi-bin/token');
      clock.jump(10 * MINUTE);
      const again = (await call(`${url}/cgi-bin/stable_token`, { method: 'POST', json: creds })).body;
      assert.deepEqual(again, { access_token: stable.access_token, expires_in: 7200 - 600 }, 'normal mode: the same token while it lives');
      assert.equal((await call(`${url}/cgi-bin/stable_token`, { method: 'POST', json: { ...creds, appid: 'wx-other' } })).body.errcode, 40013);
      assert.equal((await call(`${url}/cgi-bin/stable_token?${new URLSearchParams(creds)}`)).body.errcode, 43002, 'POST only');

      const exchange = async (accessToken) => (await call(`${url}/wxa/business/getuserphonenumber?access_token=${accessToken}`, {
        method: 'POST', json: { code: await phoneCodeFor(url, 'o-tokens') },
      })).body;
      assert.equal((await exchange(stable.access_token)).errcode, 0);
      const forced = (await call(`${url}/cgi-bin/stable_token`, { method: 'POST', json: { ...creds, force_refresh: true } })).body;
      assert.notEqual(forced.access_token, stable.access_token);
      assert.equal((await exchange(stable.access_token)).errcode, 40001, 'force_refresh ends the old token at once');
      assert.equal((await exchange(forced.access_token)).errcode, 0);
      assert.equal((await exchange('never-issued')).errcode, 40001);

      // A new /cgi-bin/token leaves the previous one five more minutes.
      const next = (await call(`${url}/cgi-bin/token?${new URLSearchParams(creds)}`)).body;
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
    await withServer({ now: clock.now }, async (url) => {
      const creds = { grant_type: 'client_credential', appid: 'wx-mock-appid', secret: 'mock-secret' };
      const { access_token: accessToken } = (await call(`${url}/cgi-bin/stable_token`, { method: 'POST', json: creds })).body;
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

describe('/auth/login: the user in the reply, phone binding', () => {
  test('isNewUser is true on an openid’s first login only; the user starts with nulls', async () => {
    await withServer({}, async (url) => {
      const first = await login(url, 'o-new');
      assert.equal(first.status, 200);
      assert.equal(first.body.isNewUser, true);
      assert.equal(first.body.expiresIn, 7200);
      assert.match(first.body.user.id, /^[0-9a-f]{12}$/);
      assert.deepEqual(first.body.user, { id: first.body.user.id, nickname: null, avatarUrl: null, phone: null });
      const second = await login(url, 'o-new');
      assert.equal(second.body.isNewUser, false);
      assert.equal(second.body.user.id, first.body.user.id);
      assert.notEqual(second.body.token, first.body.token);
      const other = await login(url, 'o-someone-else');
      assert.equal(other.body.isNewUser, true);
      assert.notEqual(other.body.user.id, first.body.user.id);
      const shown = await me(url, second.body.token);
      assert.equal(shown.body.userId, first.body.user.id, 'the old field stays');
      assert.equal(typeof shown.body.expiresAt, 'number');
      assert.deepEqual(shown.body.user, second.body.user);
    });
  });

  test('a login with phoneCode binds the phone in the same request; only the masked number leaves', async () => {
    await withServer({}, async (url, server) => {
      const number = mockPhoneFor('o-phone-login');
      const { status, body } = await login(url, 'o-phone-login', { phone: true });
      assert.equal(status, 200);
      assert.equal(body.isNewUser, true);
      assert.equal(body.user.phone, maskPhone(number));
      assert.match(body.user.phone, /^138\*{4}\d{4}$/);
      assert.ok(!JSON.stringify(body).includes(number), 'the whole number stays on the server');
      assert.ok(!/openid|session_?key/i.test(JSON.stringify(body)));
      assert.deepEqual((await me(url, body.token)).body.user, body.user, 'the session that comes back is the bound one');
      assert.equal((await server.store.userFor('o-phone-login')).phone, number);

      // A user who logged in without a phone binds it later, keeping the same id.
      const plain = await login(url, 'o-binds-later');
      assert.equal(plain.body.user.phone, null);
      const bound = await login(url, 'o-binds-later', { phone: true });
      assert.deepEqual([bound.body.isNewUser, bound.body.user.id, bound.body.user.phone], [false, plain.body.user.id, maskPhone(mockPhoneFor('o-binds-later'))]);
      assert.equal((await login(url, 'o-binds-later')).body.user.phone, bound.body.user.phone, 'the phone stays bound');
      const stats = await admin(url, '/admin/stats');
      assert.deepEqual([stats.phoneExchanges, stats.phonesBound, stats.accessTokenFetches], [2, 2, 1]);
    });
  });

  test('a bad phone code answers 4xx { errcode, errmsg } and issues no session (nor a user)', async () => {
    const clock = createFakeClock();
    await withServer({ now: clock.now }, async (url, server) => {
      const attempt = async (phoneCode) => call(`${url}/auth/login`, { method: 'POST', json: { code: await codeFor(url, 'o-bad-phone'), phoneCode } });
      const used = await phoneCodeFor(url, 'o-bad-phone');
      assert.equal((await attempt(used)).status, 200);
      await server.store.revokeAll();
      await server.store.users.removeAsync({}, { multi: true });

      for (const phoneCode of [used, 'never-issued']) {
        const reply = await attempt(phoneCode);
        assert.equal(reply.status, 400);
        assert.equal(reply.body.errcode, 40029);
        assert.match(reply.body.errmsg, /^getuserphonenumber: invalid code/);
        assert.equal(reply.body.token, undefined);
      }
      const late = await phoneCodeFor(url, 'o-bad-phone');
      clock.jump(5 * MINUTE + 1);
      assert.deepEqual([(await attempt(late)).status, (await attempt(late)).body.errcode], [400, 40029]);
      for (const phoneCode of ['', 42, null]) assert.deepEqual((await attempt(phoneCode)).body, { errcode: 40029, errmsg: 'phoneCode must be a non-empty string' });
      for (const [errcode, status] of [[-1, 503], [45011, 429], [40013, 502]]) {
        await admin(url, '/admin/wechat-phone-error', { errcode });
        const reply = await attempt(await phoneCodeFor(url, 'o-bad-phone'));
        assert.deepEqual([reply.status, reply.body.errcode], [status, errcode]);
      }
      assert.deepEqual(await server.store.counts(), { users: 0, sessions: 0 });
      const good = await attempt(await phoneCodeFor(url, 'o-bad-phone'));
      assert.equal(good.status, 200);
      assert.equal(good.body.isNewUser, true, 'the failed attempts created no user');
    });
  });

  test('run for DevTools, an unknown phone code counts once, as the DevTools user’s', async () => {
    await withServer({ acceptDeviceCodes: true }, async (url) => {
      const first = await call(`${url}/auth/login`, { method: 'POST', json: { code: 'devtools-login-1', phoneCode: 'devtools-phone-1' } });
      assert.equal(first.status, 200);
      assert.equal(first.body.user.phone, maskPhone(mockPhoneFor(DEVTOOLS_OPENID)));
      const reused = await call(`${url}/auth/login`, { method: 'POST', json: { code: 'devtools-login-2', phoneCode: 'devtools-phone-1' } });
      assert.deepEqual([reused.status, reused.body.errcode], [400, 40029]);
    });
  });
});

// `wechat` plays WeChat; `server` calls it over HTTP as it would call api.weixin.qq.com.
async function withRealPath(use) {
  const clock = createFakeClock();
  const logs = [];
  const wechat = createServer({ now: clock.now });
  const wechatUrl = await wechat.listen();
  const server = createServer({ now: clock.now, wechatBaseUrl: wechatUrl, log: (line) => logs.push(line) });
  const url = await server.listen();
  try {
    await use({ url, wechatUrl, server, wechat, clock, logs });
  } finally {
    await server.close();
    await wechat.close();
  }
}

describe('the "real" WeChat path (WECHAT_API_BASE pointed at a mock WeChat over HTTP)', () => {

  test('one stable-token fetch serves many phone exchanges; it is renewed five minutes before expiry', async () => {
    await withRealPath(async ({ url, wechatUrl, server, clock }) => {
      const loginWithPhone = (openid) => login(url, openid, { phone: true, wechatUrl });
      const replies = await Promise.all(['o-a', 'o-b', 'o-c'].map(loginWithPhone)); // concurrent: one fetch
      assert.deepEqual(replies.map((r) => r.body.user.phone), ['o-a', 'o-b', 'o-c'].map((o) => maskPhone(mockPhoneFor(o))));
      for (const openid of ['o-d', 'o-e']) assert.equal((await loginWithPhone(openid)).status, 200);
      const fetches = async () => [(await admin(url, '/admin/stats')).accessTokenFetches, (await admin(wechatUrl, '/admin/stats')).mockWeChat.stableTokenCalls];
      assert.deepEqual(await fetches(), [1, 1]);
      assert.equal((await admin(wechatUrl, '/admin/stats')).mockWeChat.phoneNumberCalls, 5);
      assert.equal((await admin(url, '/admin/stats')).mockWeChat.phoneNumberCalls, 0, 'the server’s own mock is not used');
      const first = server.state.accessToken.token;

      clock.jump(7200 * 1000 - 5 * MINUTE - 1000); // one second before the early renewal
      assert.equal((await loginWithPhone('o-f')).status, 200);
      assert.deepEqual(await fetches(), [1, 1]);
      clock.jump(1000); // five minutes before expiry
      assert.equal((await loginWithPhone('o-g')).status, 200);
      assert.deepEqual(await fetches(), [2, 2]);
      assert.notEqual(server.state.accessToken.token, first, 'WeChat renews a stable token in its last five minutes');
      assert.equal(server.state.accessToken.expiresAt, clock.now() + 7200 * 1000);
      for (const openid of ['o-h', 'o-i']) assert.equal((await loginWithPhone(openid)).status, 200);
      assert.deepEqual(await fetches(), [2, 2]);
    });
  });

  test('a cached token WeChat no longer takes (40001) is replaced once with force_refresh, and the exchange retried', async () => {
    await withRealPath(async ({ url, wechatUrl, logs }) => {
      assert.equal((await login(url, 'o-x', { phone: true, wechatUrl })).status, 200);
      // Someone else force-refreshes the stable token: ours is dead.
      const creds = { grant_type: 'client_credential', appid: 'wx-mock-appid', secret: 'mock-secret', force_refresh: true };
      await call(`${wechatUrl}/cgi-bin/stable_token`, { method: 'POST', json: creds });
      const reply = await login(url, 'o-y', { phone: true, wechatUrl });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.user.phone, maskPhone(mockPhoneFor('o-y')));
      assert.equal((await admin(url, '/admin/stats')).accessTokenFetches, 2);
      assert.ok(logs.some((line) => /refused the cached access token \(errcode 40001\)/.test(line)));
      assert.ok(logs.some((line) => /forced refresh, stable token fetched/.test(line)));
    });
  });

  test('WeChat unreachable for the phone exchange: 502, no session', async () => {
    await withRealPath(async ({ url, wechatUrl, server }) => {
      const code = await codeFor(wechatUrl, 'o-z');
      const phoneCode = await phoneCodeFor(wechatUrl, 'o-z');
      // code2Session answers, then WeChat goes away.
      const realBase = wechatUrl;
      let calls = 0;
      const flaky = http.createServer((req, res) => {
        calls++;
        if (req.url.startsWith('/sns/')) return http.get(realBase + req.url, (up) => up.pipe(res));
        return req.socket.destroy();
      });
      await new Promise((resolve) => flaky.listen(0, '127.0.0.1', resolve));
      server.wechatBaseUrl = `http://127.0.0.1:${flaky.address().port}`;
      try {
        const reply = await call(`${url}/auth/login`, { method: 'POST', json: { code, phoneCode } });
        assert.deepEqual([reply.status, reply.body.errcode], [502, -1]);
        assert.equal(calls, 2);
        assert.deepEqual(await server.store.counts(), { users: 0, sessions: 0 });
      } finally {
        flaky.closeAllConnections();
        await new Promise((resolve) => flaky.close(resolve));
      }
    });
  });
});

describe('profile: nickname and avatar', () => {
  test('PUT /api/profile saves a trimmed nickname of 1 to 20 characters and refuses others with 400', async () => {
    await withServer({}, async (url) => {
      const { token } = (await login(url, 'o-nick')).body;
      const saved = await setNickname(url, token, '  小明 \u3000');
      assert.equal(saved.status, 200);
      assert.equal(saved.body.user.nickname, '小明');
      assert.deepEqual((await me(url, token)).body.user, saved.body.user);
      for (const nickname of ['一二三四五六七八九十一二三四五六七八九十', 'a', '🐱喵 Mia', 'O\'Brien & co.']) {
        assert.equal((await setNickname(url, token, nickname)).body.user.nickname, nickname);
      }
      const refusals = [
        ['', 40202], ['   ', 40202], ['一二三四五六七八九十一二三四五六七八九十一', 40202],
        ['a\u0007b', 40203], ['line\nbreak', 40203], ['tab\there', 40203], ['\u202eevil', 40203], ['a\u2028b', 40203], ['x\ud800y', 40203],
        ['<script>', 40203], ['a>b', 40203],
      ];
      for (const [nickname, errcode] of refusals) {
        const reply = await setNickname(url, token, nickname);
        assert.deepEqual([reply.status, reply.body.errcode, typeof reply.body.errmsg], [400, errcode, 'string'], JSON.stringify(nickname));
      }
      for (const body of ['not json', '{"nickname": 42}', '{}', 'null']) {
        const reply = await call(`${url}/api/profile`, { method: 'PUT', token, body, headers: { 'content-type': 'application/json' } });
        assert.deepEqual([reply.status, reply.body.errcode], [400, 40201]);
      }
      assert.deepEqual([(await call(`${url}/api/profile`, { method: 'POST', token, json: { nickname: 'x' } })).status], [405]);
      assert.equal((await call(`${url}/api/profile`, { method: 'PUT', json: { nickname: 'x' } })).status, 401);
      assert.equal((await me(url, token)).body.user.nickname, 'O\'Brien & co.', 'refusals change nothing');
      assert.equal((await login(url, 'o-nick')).body.user.nickname, 'O\'Brien & co.', 'the login reply carries it');
    });
  });

  test('POST /api/avatar stores the image by its type and /files/ serves it back byte-identical', async () => {
    await withServer({}, async (url) => {
      const { token } = (await login(url, 'o-avatar')).body;
      const reply = await upload(url, token, PNG, { fields: { purpose: 'avatar' } });
      assert.equal(reply.status, 200);
      const { avatarUrl } = reply.body.user;
      assert.match(avatarUrl, new RegExp(`^${url}/files/avatars/[0-9a-f]{32}\\.png$`));
      assert.deepEqual((await me(url, token)).body.user, reply.body.user);
      const served = await call(avatarUrl);
      assert.equal(served.status, 200);
      assert.equal(served.headers.get('content-type'), 'image/png');
      assert.ok(served.bytes.equals(PNG), 'byte-identical');

      for (const [bytes, ext, type] of [[JPEG, 'jpg', 'image/jpeg'], [GIF, 'gif', 'image/gif'], [WEBP, 'webp', 'image/webp']]) {
        // The name the page sends says nothing: the bytes decide.
        const next = (await upload(url, token, bytes, { filename: 'tmp_9.png', boundary: 'x-boundary' })).body.user.avatarUrl;
        assert.ok(next.endsWith(`.${ext}`), next);
        const back = await call(next);
        assert.deepEqual([back.headers.get('content-type'), back.bytes.equals(bytes)], [type, true]);
      }
      assert.equal((await call(avatarUrl)).status, 404, 'a replaced avatar’s file is gone');
      // A quoted boundary, as some clients send it.
      const quoted = multipart(PNG, { boundary: 'quoted boundary' });
      quoted.headers['content-type'] = 'multipart/form-data; boundary="quoted boundary"';
      assert.equal((await call(`${url}/api/avatar`, Object.assign({ method: 'POST', token }, quoted))).status, 200);
    });
  });

  test('POST /api/avatar refuses a wrong type (415), over 2 MB (413), no multipart or no `file` (400)', async () => {
    await withServer({}, async (url) => {
      const { token } = (await login(url, 'o-refused')).body;
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
      assert.equal((await upload(url, token, sized(limit))).status, 200, 'exactly 2 MB is accepted');
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
      assert.match(after, /\.png$/);
      assert.equal((await admin(url, '/admin/stats')).avatarUploads, 2, 'refusals stored nothing');
    });
  });

  test('/files/ serves only names the server made: no traversal', async () => {
    const dataDir = tempDir('files');
    try {
      await withServer({ dataDir }, async (url) => {
        const { token } = (await login(url, 'o-files')).body;
        const name = path.basename((await upload(url, token, PNG)).body.user.avatarUrl);
        assert.equal(await rawGet(url, `/files/avatars/${name}`), 200);
        assert.ok(fs.existsSync(path.join(dataDir, 'avatars', name)), 'under <data>/avatars/');
        fs.writeFileSync(path.join(dataDir, 'avatars', 'planted.png'), PNG);
        for (const raw of ['/files/users.db', '/files/avatars/../users.db', '/files/avatars/..%2Fusers.db', '/files/avatars/%2e%2e%2fusers.db',
          '/files/../dev-server/server.js', '/files/avatars/planted.png', `/files/avatars/${name.toUpperCase()}`, `/files/avatars/${name}/`,
          `/files/avatars/${'0'.repeat(32)}.png`, '/files/avatars/', '/files/']) {
          assert.equal(await rawGet(url, raw), 404, raw);
        }
      });
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('durability and logs', () => {
  test('users (phone, nickname, avatar) survive a restart, and so do their avatar files', async () => {
    const dataDir = tempDir('profile-data');
    try {
      let token;
      let user;
      await withServer({ dataDir }, async (url) => {
        ({ token } = (await login(url, 'o-durable', { phone: true })).body);
        await setNickname(url, token, '持久');
        user = (await upload(url, token, PNG)).body.user;
        assert.deepEqual([user.nickname, user.phone], ['持久', maskPhone(mockPhoneFor('o-durable'))]);
      });
      const files = fs.readdirSync(dataDir).filter((f) => f.endsWith('.db')).map((f) => fs.readFileSync(path.join(dataDir, f), 'utf8')).join('\n');
      assert.ok(!files.includes(token), 'tokens are stored hashed');

      await withServer({ dataDir }, async (url, server) => {
        const shown = await me(url, token);
        assert.equal(shown.status, 200);
        // The avatar URL is made from the address the client used, so a new port is no problem.
        const moved = Object.assign({}, user, { avatarUrl: user.avatarUrl.replace(/^http:\/\/[^/]+/, url) });
        assert.deepEqual(shown.body.user, moved);
        assert.ok((await call(moved.avatarUrl)).bytes.equals(PNG));
        const again = await login(url, 'o-durable');
        assert.equal(again.body.isNewUser, false);
        assert.deepEqual(again.body.user, moved);
        assert.deepEqual(await server.store.counts(), { users: 1, sessions: 2 });
      });
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('one log line per step, and never a token, code, session_key, access token or whole phone number', async () => {
    await withRealPath(async ({ url, wechatUrl, server, logs }) => {
      const code = await codeFor(wechatUrl, 'o-logged');
      const phoneCode = await phoneCodeFor(wechatUrl, 'o-logged');
      const { token } = (await call(`${url}/auth/login`, { method: 'POST', json: { code, phoneCode } })).body;
      const badPhoneCode = await phoneCodeFor(wechatUrl, 'o-logged');
      await call(`${wechatUrl}/wxa/business/getuserphonenumber?access_token=${server.state.accessToken.token}`, { method: 'POST', json: { code: badPhoneCode } });
      assert.equal((await call(`${url}/auth/login`, { method: 'POST', json: { code: await codeFor(wechatUrl, 'o-logged'), phoneCode: badPhoneCode } })).status, 400);
      await setNickname(url, token, 'Logged');
      await setNickname(url, token, '<bad>');
      await upload(url, token, PNG);
      await upload(url, token, Buffer.from('not an image'));
      await me(url, token);

      const { sessionKey } = await server.store.sessions.findOneAsync({});
      const secrets = { token, code, phoneCode, badPhoneCode, sessionKey, accessToken: server.state.accessToken.token, phone: mockPhoneFor('o-logged'), secret: 'mock-secret' };
      const text = logs.join('\n');
      for (const [what, secret] of Object.entries(secrets)) {
        assert.equal(typeof secret, 'string', what);
        assert.ok(!text.includes(secret), `${what} reached the log`);
      }
      const expected = [
        /^access token: stable token fetched, valid 7200s/,
        new RegExp(`^login: phone ${maskPhone(mockPhoneFor('o-logged')).replace(/\*/g, '\\*')} bound to user [0-9a-f]{12}$`),
        /^login: code2Session ok for new user [0-9a-f]{12}: token #[0-9a-f]{8} for 7200s/,
        /^login: getuserphonenumber errcode 40029 \(invalid code: code been used\): no session issued$/,
        /^PUT \/api\/profile → 200 for user [0-9a-f]{12}: nickname saved \(6 characters\)$/,
        /^PUT \/api\/profile → 400 for user [0-9a-f]{12}: errcode 40203/,
        /^POST \/api\/avatar → 200 for user [0-9a-f]{12}: avatars\/[0-9a-f]{32}\.png \(image\/png, \d+ bytes\)$/,
        /^POST \/api\/avatar → 415 for user [0-9a-f]{12}: errcode 40212/,
        /^GET \/api\/me → 200 for user [0-9a-f]{12}$/,
      ];
      assert.equal(logs.length, expected.length, text);
      expected.forEach((pattern, i) => assert.match(logs[i], pattern));
    });
  });
});
