'use strict';
// The developer server of DESIGN.md: exchanges login codes with code2Session (the real WeChat API
// when WECHAT_APPID/WECHAT_SECRET are set, else the embedded mock), keeps openid and session_key to
// itself, and issues its own opaque tokens. Protected routes answer 401 for unknown or expired
// tokens. Admin routes let tests and the demo revoke tokens and inject errors.
//
// Users and sessions live in a durable store (store.js), so they survive a restart; avatars are
// files in the data directory's avatars/, served back under /files/avatars/.
//
//   node dev-server/server.js [--port 8080] [--data .dev-server-data]   (npm run server)
//   WECHAT_APPID + WECHAT_SECRET: use the real WeChat APIs (code2Session, the stable access token,
//   getuserphonenumber); WECHAT_API_BASE: another base URL for them.
//
// Routes (JSON unless said otherwise; errors are { errcode, errmsg }):
//   POST /auth/login { code, phoneCode? } → 200 { token, expiresIn, refreshToken, refreshExpiresIn, user, isNewUser }
//        user = { id, nickname, avatarUrl, phone }: nickname and avatarUrl null until set, phone
//        null until bound and masked (138****5678) once bound. With phoneCode the phone number is
//        exchanged (getuserphonenumber) and bound in the same request: a bad phoneCode answers
//        4xx and issues no session. WeChat's errcodes pass through (40029 → 400, 45011 → 429,
//        -1 → 503; access-token or other upstream failures → 502).
//   POST /auth/refresh { refreshToken } → 200 { token, expiresIn, refreshToken, refreshExpiresIn }: the
//        refresh token is single use and rotated; presenting a used one revokes its whole family
//   POST /auth/password { username, password } → 200 like /auth/login, without wx.login (the demo
//        account: demo / mp-session-demo, its password kept as a scrypt hash)
//   POST /auth/cookie-login { code } → 200 { expiresIn, user, isNewUser } with the session in
//        `Set-Cookie: sid=…; Max-Age=…` (cookie mode); protected routes accept `Cookie: sid=…`
//   POST /api/cookie/rotate → a new sid in Set-Cookie (the old one revoked);
//   POST /api/cookie/end → `Set-Cookie: sid=; Max-Age=0` (the session revoked)
//   GET  /api/me → 200 { userId, expiresAt, user }
//   PUT  /api/profile { nickname } → 200 { user }
//   POST /api/avatar (multipart/form-data, the image in part `file`) → 200 { user }
//   GET  /files/avatars/<name> → the image (public: <image src> sends no token)
//   /api/echo, /api/upload, /api/download, /api/slow, /api/never: for the SDK's tests
//   GET  /mock-wechat/login?openid= → { code }: what wx.login gives (mock only)
//   GET  /mock-wechat/phone-code?openid= → { code }: what getPhoneNumber gives (mock only)
//   /sns/jscode2session, /cgi-bin/token, /cgi-bin/stable_token, /wxa/business/getuserphonenumber:
//        the mock WeChat's own API over HTTP (mock only), so WECHAT_API_BASE can point at it
//
// Errcodes of this server's own (HTTP status in brackets):
//   40101 [401] no live session for the token
//   40102 [401] the refresh token is unknown, expired or already used
//   40103 [401] wrong username or password
//   40201 [400] the body is not JSON { "nickname": "..." } with a string nickname
//   40202 [400] the nickname is empty or longer than 20 characters after trimming
//   40203 [400] the nickname holds a control character, '<', '>', a line separator, a bidi
//               control or a lone surrogate
//   40211 [400] not multipart/form-data, or no part named `file`
//   40212 [415] the file is not a PNG, JPEG, GIF or WebP image (judged by its first bytes)
//   40213 [413] the file is larger than 2 MB (or the whole upload far larger)
//   40404 [404] no such route or file;  40405 [405] wrong method for the route
const http = require('http');
const https = require('https');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { MockWeChat, mockRoutes } = require('./mock-wechat.js');
const { SessionStore } = require('./store.js');

const STATUS_FOR_ERRCODE = { '-1': 503, 40029: 400, 40163: 400, 45011: 429, 40226: 403 };
// getuserphonenumber: a bad phone code is the client's (400); what else fails is ours or WeChat's.
const STATUS_FOR_PHONE_ERRCODE = { '-1': 503, 40029: 400, 40163: 400, 45011: 429 };
const ACCESS_TOKEN_REFRESH_EARLY_MS = 5 * 60 * 1000;
const NICKNAME_MAX_CHARS = 20;
const AVATAR_MAX_BYTES = 2 * 1024 * 1024;
const UPLOAD_MAX_BYTES = AVATAR_MAX_BYTES + 64 * 1024; // the file plus multipart framing and small fields
const UPLOAD_DRAIN_BYTES = 32 * 1024 * 1024; // past this a too-large upload is cut off, not read to its end
const COOKIE_NAME = 'sid';
// The demo account of /auth/password: its password is kept as a scrypt hash, never as text.
const DEMO_ACCOUNT = { username: 'demo', salt: 'mp-session-demo-salt' };
DEMO_ACCOUNT.hash = crypto.scryptSync('mp-session-demo', DEMO_ACCOUNT.salt, 32);
const AVATAR_NAME = /^[0-9a-f]{32}\.(png|jpg|gif|webp)$/;
const IMAGE_TYPES = { png: 'image/png', jpg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > 1 << 20) req.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// The body as bytes when it is at most `limit` long, else { buffer: null } once it has been read
// (so the client gets its 413 instead of a reset connection).
function readUpload(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (size > UPLOAD_DRAIN_BYTES) req.destroy(new Error('upload far too large'));
    });
    req.on('end', () => resolve({ buffer: size <= limit ? Buffer.concat(chunks) : null, size }));
    req.on('error', reject);
  });
}

// One JSON call to WeChat (or what stands in for it): GET with `query`, or POST `body` as JSON.
function requestJson(method, url, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const headers = payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {};
    const req = (url.startsWith('https:') ? https : http).request(url, { method, headers }, (res) => {
      readBody(res).then((text) => {
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(new Error(`answered non-JSON (HTTP ${res.statusCode})`));
        }
      }, reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject);
    req.end(payload);
  });
}

// A short, non-reversible label for logs: tokens themselves never reach a log.
function fingerprint(token) {
  return crypto.createHash('sha256').update(token).digest('hex').slice(0, 8);
}

// 13812345678 → 138****5678: what the API and the logs show of a phone number.
function maskPhone(number) {
  const digits = String(number);
  if (digits.length < 8) return '*'.repeat(Math.max(0, digits.length - 2)) + digits.slice(-2);
  return `${digits.slice(0, 3)}${'*'.repeat(digits.length - 7)}${digits.slice(-4)}`;
}

// null for an acceptable nickname (already trimmed), else { errcode, errmsg }.
function nicknameError(nickname) {
  const length = Array.from(nickname).length;
  if (length < 1 || length > NICKNAME_MAX_CHARS) {
    return { errcode: 40202, errmsg: `nickname must be 1 to ${NICKNAME_MAX_CHARS} characters after trimming (got ${length})` };
  }
  // C0/C1 controls, line and paragraph separators, bidi embeddings/overrides/isolates, lone surrogates.
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(nickname)) {
    return { errcode: 40203, errmsg: 'nickname must not contain control characters' };
  }
  if (/[<>]/.test(nickname)) return { errcode: 40203, errmsg: "nickname must not contain '<' or '>'" };
  return null;
}

// The parts of a multipart/form-data body: [{ name, filename, contentType, data }], or null when
// the body is not one.
function parseMultipart(body, contentType) {
  const match = /^multipart\/form-data\s*;(?:.*;)?\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType || '');
  if (!match) return null;
  const delimiter = Buffer.from(`--${match[1] || match[2]}`);
  const parts = [];
  let at = body.indexOf(delimiter);
  if (at < 0) return null;
  for (;;) {
    at += delimiter.length;
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return parts; // the closing --boundary--
    if (body[at] !== 0x0d || body[at + 1] !== 0x0a) return null;
    const start = at + 2;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), start);
    if (next < 0) return null;
    const part = body.subarray(start, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) return null;
    const headers = {};
    for (const line of part.subarray(0, headerEnd).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const disposition = headers['content-disposition'] || '';
    const param = (key) => {
      const found = new RegExp(`(?:^|;)\\s*${key}=(?:"([^"]*)"|([^;\\s]*))`, 'i').exec(disposition);
      return found ? (found[1] !== undefined ? found[1] : found[2]) : null;
    };
    parts.push({ name: param('name'), filename: param('filename'), contentType: headers['content-type'] || null, data: part.subarray(headerEnd + 4) });
    at = next + 2;
  }
}

// The image type of `data` by its first bytes: 'png', 'jpg', 'gif', 'webp' or null.
function imageType(data) {
  const starts = (bytes, offset = 0) => data.length >= offset + bytes.length && bytes.every((b, i) => data[offset + i] === b);
  const ascii = (text) => Array.from(Buffer.from(text, 'latin1'));
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (starts([0xff, 0xd8, 0xff])) return 'jpg';
  if (starts(ascii('GIF87a')) || starts(ascii('GIF89a'))) return 'gif';
  if (starts(ascii('RIFF')) && starts(ascii('WEBP'), 8)) return 'webp';
  return null;
}

function createServer(options = {}) {
  const log = options.log || (() => {});
  const now = options.now || Date.now;
  const realWeChat = Boolean(process.env.WECHAT_APPID && process.env.WECHAT_SECRET) && !options.mock;
  const mock = new MockWeChat({ now, acceptDeviceCodes: Boolean(options.acceptDeviceCodes) });
  const appid = realWeChat ? process.env.WECHAT_APPID : mock.appid;
  const secret = realWeChat ? process.env.WECHAT_SECRET : mock.secret;
  let wechatBase = options.wechatBaseUrl || (realWeChat ? 'https://api.weixin.qq.com' : null);

  // dataDir: where users, sessions and avatars persist; without it users and sessions live in
  // memory and avatars in a temporary directory removed on close (tests).
  const store = new SessionStore({ dir: options.dataDir || null, now });
  const loaded = store.load();
  let filesDir = options.dataDir || null;
  let tempFilesDir = null;
  let listenOrigin = 'http://127.0.0.1';
  const state = {
    tokenLifetimeS: options.tokenLifetimeS || 7200,
    refreshLifetimeS: options.refreshLifetimeS || 30 * 86400,
    injected: [], // { status, body } answered to the next logins
    injectedApi: [], // { status, body } answered to the next protected API calls
    held: [], // releases of /api/slow requests
    accessToken: { token: null, expiresAt: 0, pending: null }, // WeChat's, cached
    stats: {
      apiInFlight: 0, maxApiInFlight: 0, logins: 0, loginsGranted: 0, code2Session: 0, apiCalls: 0, unauthorized: 0, inFlight: 0, maxInFlight: 0, requests: 0,
      accessTokenFetches: 0, phoneExchanges: 0, phonesBound: 0, profileUpdates: 0, avatarUploads: 0,
      refreshes: 0, refreshesRefused: 0, refreshReuse: 0, passwordLogins: 0, cookieRotations: 0,
    },
  };

  function send(res, status, body, headers = {}) {
    const text = JSON.stringify(body);
    res.writeHead(status, Object.assign({ 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }, headers));
    res.end(text);
  }

  // The origin the client reached us by, for the URLs we hand out (avatars).
  function originOf(req) {
    const host = req.headers.host || '';
    const proto = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
    return /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host) ? `${proto}://${host}` : listenOrigin;
  }

  // What the API shows of a user record: never the openid, the phone number masked.
  function publicUser(user, origin) {
    return {
      id: user.userId,
      nickname: typeof user.nickname === 'string' ? user.nickname : null,
      avatarUrl: user.avatar ? `${origin}/files/${user.avatar}` : null,
      phone: user.phone ? maskPhone(user.phone) : null,
    };
  }

  function avatarsDir() {
    if (!filesDir) filesDir = tempFilesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-files-'));
    const dir = path.join(filesDir, 'avatars');
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }

  // One call to WeChat's HTTP API: over HTTP(S) to wechatBase, else straight into the mock.
  async function callWeChat(method, pathname, query, body) {
    if (!wechatBase) return mock.handle(method, pathname, query, body);
    return requestJson(method, `${wechatBase}${pathname}?${new URLSearchParams(query)}`, body);
  }

  // The sid cookie of a request, if it sent one.
  function cookieOf(req) {
    const match = new RegExp(`(?:^|;\\s*)${COOKIE_NAME}=([^;\\s]+)`).exec(req.headers.cookie || '');
    return match ? match[1] : null;
  }

  async function sessionOf(req) {
    const match = /^Bearer (\S+)$/.exec(req.headers.authorization || '');
    if (match) return store.sessionOf(match[1]);
    const sid = cookieOf(req);
    const session = sid ? await store.sessionOf(sid) : null;
    if (session) return Object.assign(session, { sid });
    const skey = options.peerProtocols && req.headers['x-wx-skey'];
    return skey ? store.sessionOf(skey) : null;
  }

  async function login(req, res) {
    state.stats.logins++;
    let code;
    let phoneCode;
    try {
      ({ code, phoneCode } = JSON.parse(await readBody(req)));
    } catch (e) {
      return send(res, 400, { errcode: 40029, errmsg: 'body must be JSON {"code": "..."}' });
    }
    if (state.injected.length) {
      const { status, body } = state.injected.shift();
      log(`login: answering an injected ${status}`);
      if (typeof body === 'string') {
        res.writeHead(status, { 'content-type': 'text/plain' });
        return res.end(body);
      }
      return send(res, status, body);
    }
    const { status, body } = await exchange(code, phoneCode, originOf(req));
    return send(res, status, body);
  }

  // WeChat's access token for server APIs: the stable token, fetched once and reused until five
  // minutes before it expires; concurrent callers share one fetch. `force` asks WeChat for a new
  // token (after WeChat refused the cached one).
  function accessToken({ force = false } = {}) {
    const cache = state.accessToken;
    if (!force && cache.token && now() < cache.expiresAt - ACCESS_TOKEN_REFRESH_EARLY_MS) return Promise.resolve(cache.token);
    if (cache.pending) return cache.pending;
    const fetching = (async () => {
      state.stats.accessTokenFetches++;
      const reply = await callWeChat('POST', '/cgi-bin/stable_token', {}, { grant_type: 'client_credential', appid, secret, force_refresh: force });
      if (!reply || typeof reply.access_token !== 'string' || !(reply.expires_in > 0)) {
        const error = new Error(`stable_token errcode ${reply && reply.errcode} (${reply && reply.errmsg})`);
        error.wechat = { errcode: (reply && reply.errcode) || -1, errmsg: (reply && reply.errmsg) || 'no access token' };
        throw error;
      }
      cache.token = reply.access_token;
      cache.expiresAt = now() + reply.expires_in * 1000;
      log(`access token: ${force ? 'forced refresh, ' : ''}stable token fetched, valid ${reply.expires_in}s, renewed 5 min before expiry`);
      return cache.token;
    })();
    cache.pending = fetching.finally(() => { cache.pending = null; });
    return cache.pending;
  }

  // phoneCode → getuserphonenumber → { phone: { number, countryCode } } or { status, body } to answer.
  async function phoneNumberOf(phoneCode) {
    state.stats.phoneExchanges++;
    let reply;
    try {
      reply = await callWeChat('POST', '/wxa/business/getuserphonenumber', { access_token: await accessToken() }, { code: phoneCode });
      if (reply && (reply.errcode === 40001 || reply.errcode === 42001)) {
        log(`login: getuserphonenumber refused the cached access token (errcode ${reply.errcode}): fetching a new one`);
        reply = await callWeChat('POST', '/wxa/business/getuserphonenumber', { access_token: await accessToken({ force: true }) }, { code: phoneCode });
      }
    } catch (error) {
      if (error.wechat) {
        log(`login: no access token: ${error.message}`);
        return { status: 502, body: { errcode: error.wechat.errcode, errmsg: `access token: ${error.wechat.errmsg}` } };
      }
      log(`login: getuserphonenumber unreachable: ${error.message}`);
      return { status: 502, body: { errcode: -1, errmsg: 'getuserphonenumber unreachable' } };
    }
    const info = reply && reply.phone_info;
    if (reply && reply.errcode === 0 && info && typeof info.purePhoneNumber === 'string' && info.purePhoneNumber) {
      return { phone: { number: info.purePhoneNumber, countryCode: String(info.countryCode || '') } };
    }
    const errcode = (reply && reply.errcode) || -1;
    const errmsg = (reply && reply.errmsg) || 'no phone_info';
    log(`login: getuserphonenumber errcode ${errcode} (${errmsg}): no session issued`);
    return { status: STATUS_FOR_PHONE_ERRCODE[errcode] || 502, body: { errcode, errmsg: `getuserphonenumber: ${errmsg}` } };
  }

  // code (+ phoneCode) → code2Session (+ getuserphonenumber) → a session of ours: { status, body }
  // as /auth/login answers it. A failed phone exchange issues no session and creates no user.
  async function exchange(code, phoneCode, origin) {
    if (typeof code !== 'string' || !code) return { status: 400, body: { errcode: 40029, errmsg: 'missing code' } };
    if (phoneCode !== undefined && (typeof phoneCode !== 'string' || !phoneCode)) {
      return { status: 400, body: { errcode: 40029, errmsg: 'phoneCode must be a non-empty string' } };
    }
    state.stats.code2Session++;
    const query = { appid, secret, js_code: code, grant_type: 'authorization_code' };
    let reply;
    try {
      reply = await callWeChat('GET', '/sns/jscode2session', query);
    } catch (error) {
      log(`login: code2Session unreachable: ${error.message}`);
      return { status: 502, body: { errcode: -1, errmsg: 'code2Session unreachable' } };
    }
    if (reply.errcode) {
      log(`login: code2Session errcode ${reply.errcode} (${reply.errmsg})`);
      return { status: STATUS_FOR_ERRCODE[reply.errcode] || 400, body: { errcode: reply.errcode, errmsg: reply.errmsg } };
    }
    let phone = null;
    if (phoneCode !== undefined) {
      const result = await phoneNumberOf(phoneCode);
      if (!result.phone) return result;
      phone = result.phone;
    }
    let { user, created } = await store.findOrCreateUser(reply.openid);
    if (phone) {
      user = await store.updateUser(reply.openid, { phone: phone.number, countryCode: phone.countryCode, phoneBoundAt: now() });
      state.stats.phonesBound++;
      log(`login: phone ${maskPhone(phone.number)} bound to user ${user.userId}`);
    }
    const pair = await issue(reply.openid, reply.session_key, crypto.randomUUID());
    state.stats.loginsGranted++;
    log(`login: code2Session ok for ${created ? 'new ' : ''}user ${user.userId}: token #${fingerprint(pair.token)} for ${state.tokenLifetimeS}s (session_key kept on the server)`);
    return { status: 200, body: Object.assign(pair, { user: publicUser(user, origin), isNewUser: created }) };
  }

  // A new access token and a refresh token of `family`: { token, expiresIn, refreshToken, refreshExpiresIn }.
  async function issue(openid, sessionKey, family) {
    const token = crypto.randomBytes(24).toString('base64url');
    const refreshToken = crypto.randomBytes(32).toString('base64url');
    await store.createSession(token, { openid, sessionKey, lifetimeS: state.tokenLifetimeS });
    await store.createRefresh(refreshToken, { openid, sessionKey, family, lifetimeS: state.refreshLifetimeS });
    return { token, expiresIn: state.tokenLifetimeS, refreshToken, refreshExpiresIn: state.refreshLifetimeS };
  }

  // POST /auth/refresh { refreshToken }: spends it and answers a new pair of the same family.
  async function refresh(req, res) {
    let refreshToken;
    try {
      ({ refreshToken } = JSON.parse(await readBody(req)));
    } catch (e) {
      refreshToken = null;
    }
    const spent = typeof refreshToken === 'string' ? await store.spendRefresh(refreshToken) : {};
    if (!spent.refresh) {
      state.stats.refreshesRefused++;
      if (spent.reused) state.stats.refreshReuse++;
      log(`refresh: refused (${spent.reused ? 'a used refresh token: its family is revoked' : 'unknown or expired'})`);
      return send(res, 401, { errcode: 40102, errmsg: 'refresh token unknown, expired or already used' });
    }
    const { openid, sessionKey, family } = spent.refresh;
    const pair = await issue(openid, sessionKey, family);
    state.stats.refreshes++;
    log(`refresh: token #${fingerprint(pair.token)} for ${state.tokenLifetimeS}s, refresh token rotated (no wx.login)`);
    return send(res, 200, pair);
  }

  // POST /auth/password { username, password }: the demo account, without wx.login.
  async function passwordLogin(req, res) {
    state.stats.logins++;
    let body;
    try {
      body = JSON.parse(await readBody(req));
    } catch (e) {
      body = {};
    }
    const given = typeof body.password === 'string' ? crypto.scryptSync(body.password, DEMO_ACCOUNT.salt, 32) : null;
    if (body.username !== DEMO_ACCOUNT.username || !given || !crypto.timingSafeEqual(given, DEMO_ACCOUNT.hash)) {
      log('password login: refused');
      return send(res, 401, { errcode: 40103, errmsg: 'wrong username or password' });
    }
    const openid = `account:${DEMO_ACCOUNT.username}`;
    const { user, created } = await store.findOrCreateUser(openid);
    const pair = await issue(openid, null, crypto.randomUUID());
    state.stats.passwordLogins++;
    state.stats.loginsGranted++;
    log(`password login: user ${user.userId}: token #${fingerprint(pair.token)} for ${state.tokenLifetimeS}s`);
    return send(res, 200, Object.assign(pair, { user: publicUser(user, originOf(req)), isNewUser: created }));
  }

  function sidCookie(token, lifetimeS) {
    return `${COOKIE_NAME}=${token}; Max-Age=${lifetimeS}; Path=/; HttpOnly`;
  }

  // POST /auth/cookie-login { code }: a code exchange whose session is the sid cookie.
  async function cookieLogin(req, res) {
    state.stats.logins++;
    let code;
    try {
      ({ code } = JSON.parse(await readBody(req)));
    } catch (e) {
      return send(res, 400, { errcode: 40029, errmsg: 'body must be JSON {"code": "..."}' });
    }
    const { status, body } = await exchange(code, undefined, originOf(req));
    if (status !== 200) return send(res, status, body);
    const { token, expiresIn, user, isNewUser } = body;
    return send(res, 200, { expiresIn, user, isNewUser }, { 'set-cookie': sidCookie(token, expiresIn) });
  }

  // wafer2-client-sdk's protocol, for the benchmark only (options.peerProtocols): the code comes in
  // the X-WX-Code header and the session goes back as { code: 0, data: { skey, userinfo } }.
  async function waferLogin(req, res) {
    state.stats.logins++;
    const { status, body } = await exchange(req.headers['x-wx-code'], undefined, originOf(req));
    if (status !== 200) return send(res, 200, { code: -1, error: body.errcode, message: body.errmsg });
    return send(res, 200, { code: 0, data: { skey: body.token, userinfo: {} } });
  }

  async function api(req, res, path) {
    state.stats.apiCalls++;
    state.stats.apiInFlight++;
    state.stats.maxApiInFlight = Math.max(state.stats.maxApiInFlight, state.stats.apiInFlight);
    res.on('close', () => { state.stats.apiInFlight--; });
    const session = path === '/api/never' ? null : await sessionOf(req); // /api/never accepts no token
    if (!session) {
      state.stats.unauthorized++;
      log(`${req.method} ${path} → 401: no live session for this token`);
      return send(res, 401, { errcode: 40101, errmsg: 'session expired or unknown' });
    }
    if (state.injectedApi.length) {
      const { status, body } = state.injectedApi.shift();
      log(`${req.method} ${path} → injected ${status}`);
      return send(res, status, body || { errmsg: 'injected error' });
    }
    const user = await store.userFor(session.openid);
    const { userId } = user;
    if (path === '/api/cookie/rotate' && session.sid) {
      const token = crypto.randomBytes(24).toString('base64url');
      await store.createSession(token, { openid: session.openid, sessionKey: session.sessionKey, lifetimeS: state.tokenLifetimeS });
      await store.revokeSession(session.sid);
      state.stats.cookieRotations++;
      log(`cookie: session rotated to #${fingerprint(token)}`);
      return send(res, 200, { userId }, { 'set-cookie': sidCookie(token, state.tokenLifetimeS) });
    }
    if (path === '/api/cookie/end' && session.sid) {
      await store.revokeSession(session.sid);
      log('cookie: session ended by the server');
      return send(res, 200, { userId }, { 'set-cookie': `${COOKIE_NAME}=; Max-Age=0; Path=/` });
    }
    if (path === '/api/profile') return profile(req, res, session, user);
    if (path === '/api/avatar') return avatar(req, res, session, user);
    log(`${req.method} ${path} → 200 for user ${userId}`);
    if (path === '/api/me') return send(res, 200, { userId, expiresAt: session.expiresAt, user: publicUser(user, originOf(req)) });
    if (path === '/api/echo' && req.method === 'POST') return send(res, 200, { userId, echo: await readBody(req) });
    if (path === '/api/upload' && req.method === 'POST') {
      const body = await readBody(req);
      return send(res, 200, { userId, received: Buffer.byteLength(body) });
    }
    if (path === '/api/download') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      return res.end(`private file for ${userId}`);
    }
    if (path === '/api/slow') {
      // Holds the response until released, so tests can see how many requests are in flight.
      await new Promise((resolve) => state.held.push(resolve));
      return send(res, 200, { userId });
    }
    return send(res, 404, { errmsg: 'no such route' });
  }

  // PUT /api/profile { nickname }: saves the trimmed nickname.
  async function profile(req, res, session, user) {
    const refuse = (status, body) => {
      log(`${req.method} /api/profile → ${status} for user ${user.userId}: errcode ${body.errcode} (${body.errmsg})`);
      return send(res, status, body);
    };
    if (req.method !== 'PUT') return refuse(405, { errcode: 40405, errmsg: 'use PUT /api/profile' });
    let body;
    try {
      body = JSON.parse(await readBody(req));
    } catch (e) {
      body = null;
    }
    if (!body || typeof body !== 'object' || typeof body.nickname !== 'string') {
      return refuse(400, { errcode: 40201, errmsg: 'body must be JSON {"nickname": "..."}' });
    }
    const nickname = body.nickname.trim();
    const invalid = nicknameError(nickname);
    if (invalid) return refuse(400, invalid);
    const updated = await store.updateUser(session.openid, { nickname });
    state.stats.profileUpdates++;
    log(`PUT /api/profile → 200 for user ${user.userId}: nickname saved (${Array.from(nickname).length} characters)`);
    return send(res, 200, { user: publicUser(updated, originOf(req)) });
  }

  // POST /api/avatar: the image in multipart part `file` (as wx.uploadFile sends it) becomes the
  // user's avatar, a file under <data>/avatars/ with a name of ours.
  async function avatar(req, res, session, user) {
    const refuse = (status, body) => {
      log(`${req.method} /api/avatar → ${status} for user ${user.userId}: errcode ${body.errcode} (${body.errmsg})`);
      return send(res, status, body);
    };
    if (req.method !== 'POST') return refuse(405, { errcode: 40405, errmsg: 'use POST /api/avatar' });
    const tooLarge = { errcode: 40213, errmsg: `the image must be at most ${AVATAR_MAX_BYTES / 1024 / 1024} MB` };
    if (Number(req.headers['content-length']) > UPLOAD_DRAIN_BYTES) {
      return refuse(413, tooLarge); // not worth reading: Node drops the rest with the connection
    }
    const { buffer } = await readUpload(req, UPLOAD_MAX_BYTES);
    if (!buffer) return refuse(413, tooLarge);
    const parts = parseMultipart(buffer, req.headers['content-type']);
    if (!parts) return refuse(400, { errcode: 40211, errmsg: 'send multipart/form-data (wx.uploadFile) with the image in part `file`' });
    const file = parts.find((part) => part.name === 'file' && part.filename !== null) || parts.find((part) => part.name === 'file');
    if (!file) return refuse(400, { errcode: 40211, errmsg: 'no part named `file` (wx.uploadFile name: "file")' });
    if (file.data.length > AVATAR_MAX_BYTES) return refuse(413, tooLarge);
    const ext = imageType(file.data);
    if (!ext) return refuse(415, { errcode: 40212, errmsg: 'the image must be PNG, JPEG, GIF or WebP' });
    const name = `${crypto.randomBytes(16).toString('hex')}.${ext}`;
    const dir = avatarsDir();
    await fs.promises.writeFile(path.join(dir, name), file.data, { flag: 'wx' });
    const previous = user.avatar;
    const updated = await store.updateUser(session.openid, { avatar: `avatars/${name}` });
    if (previous && AVATAR_NAME.test(path.basename(previous))) {
      fs.promises.rm(path.join(dir, path.basename(previous)), { force: true }).catch(() => {});
    }
    state.stats.avatarUploads++;
    log(`POST /api/avatar → 200 for user ${user.userId}: avatars/${name} (${IMAGE_TYPES[ext]}, ${file.data.length} bytes)`);
    return send(res, 200, { user: publicUser(updated, originOf(req)) });
  }

  // GET /files/avatars/<name>: only names of the shape this server gives, from its avatars/.
  async function serveFile(req, res, route) {
    const match = /^\/files\/avatars\/([^/]+)$/.exec(route);
    const name = match && AVATAR_NAME.test(match[1]) ? match[1] : null;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { errcode: 40405, errmsg: 'use GET' });
    let data = null;
    if (name && filesDir) {
      try {
        data = await fs.promises.readFile(path.join(filesDir, 'avatars', name));
      } catch (error) {
        if (error.code !== 'ENOENT') throw error;
      }
    }
    if (!data) return send(res, 404, { errcode: 40404, errmsg: 'no such file' });
    res.writeHead(200, {
      'content-type': IMAGE_TYPES[name.slice(name.lastIndexOf('.') + 1)],
      'content-length': data.length,
      'cache-control': 'public, max-age=31536000, immutable', // a new avatar gets a new name
      'x-content-type-options': 'nosniff',
    });
    return res.end(req.method === 'HEAD' ? undefined : data);
  }

  async function admin(req, res, path) {
    const body = req.method === 'POST' ? JSON.parse((await readBody(req)) || '{}') : {};
    switch (path) {
      case '/admin/revoke-all':
        await store.revokeAll();
        log('admin: every token revoked');
        return send(res, 200, { ok: true });
      case '/admin/revoke-access':
        // Access tokens only: their refresh tokens still work (an access token expired early).
        await store.revokeAccess();
        log('admin: every access token revoked (refresh tokens kept)');
        return send(res, 200, { ok: true });
      case '/admin/token-lifetime':
        if (!(Number.isInteger(body.seconds) && body.seconds > 0)) return send(res, 400, { errmsg: 'seconds must be a positive integer' });
        state.tokenLifetimeS = body.seconds;
        log(`admin: new tokens live ${body.seconds}s`);
        return send(res, 200, { ok: true });
      case '/admin/inject-login':
      case '/admin/inject-api': {
        const queue = path === '/admin/inject-login' ? state.injected : state.injectedApi;
        for (let i = 0; i < (body.times || 1); i++) queue.push({ status: body.status, body: body.body });
        log(`admin: the next ${body.times || 1} ${path === '/admin/inject-login' ? 'login(s)' : 'API call(s)'} answer ${body.status}`);
        return send(res, 200, { ok: true });
      }
      case '/admin/wechat-error':
        mock.forced.push(...Array(body.times || 1).fill(body.errcode));
        log(`admin: code2Session answers errcode ${body.errcode} next (${body.times || 1}x)`);
        return send(res, 200, { ok: true });
      case '/admin/wechat-phone-error':
        mock.forcedPhone.push(...Array(body.times || 1).fill(body.errcode));
        log(`admin: getuserphonenumber answers errcode ${body.errcode} next (${body.times || 1}x)`);
        return send(res, 200, { ok: true });
      case '/admin/reset-in-flight':
        state.stats.maxApiInFlight = state.stats.apiInFlight;
        return send(res, 200, { ok: true });
      case '/admin/release':
        for (const release of state.held.splice(0)) release();
        return send(res, 200, { ok: true });
      case '/admin/stats':
        return send(res, 200, Object.assign(await store.counts(), { held: state.held.length }, state.stats, { mockWeChat: Object.assign({}, mock.stats) }));
      default:
        return send(res, 404, { errmsg: 'no such admin route' });
    }
  }

  // The mock WeChat's own routes (its API, and what the simulator's wx.login asks it for).
  const mockRoute = realWeChat ? null : mockRoutes(mock, log);

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    state.stats.requests++;
    state.stats.inFlight++;
    state.stats.maxInFlight = Math.max(state.stats.maxInFlight, state.stats.inFlight);
    res.on('close', () => { state.stats.inFlight--; });
    const route = url.pathname;
    let handled;
    if (route === '/auth/login' && req.method === 'POST') handled = login(req, res);
    else if (route === '/auth/refresh' && req.method === 'POST') handled = refresh(req, res);
    else if (route === '/auth/password' && req.method === 'POST') handled = passwordLogin(req, res);
    else if (route === '/auth/cookie-login' && req.method === 'POST') handled = cookieLogin(req, res);
    else if (route === '/wafer/login' && options.peerProtocols) handled = waferLogin(req, res);
    else if (route.startsWith('/api/')) handled = api(req, res, route);
    else if (route.startsWith('/admin/')) handled = admin(req, res, route);
    else if (route.startsWith('/files/')) handled = serveFile(req, res, route);
    else {
      handled = (mockRoute ? mockRoute(req, res, url) : Promise.resolve(false)).then((done) => {
        if (!done) send(res, 404, { errmsg: 'no such route' });
      });
    }
    handled.catch((error) => {
      log(`error: ${error.message}`);
      if (!res.headersSent) send(res, 500, { errmsg: 'internal error' });
    });
  });

  return {
    mock,
    store,
    state,
    async listen(port = 0, host = '127.0.0.1') {
      await loaded;
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          listenOrigin = `http://${host}:${server.address().port}`;
          resolve(listenOrigin);
        });
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
      await store.close();
      if (tempFilesDir) fs.rmSync(tempFilesDir, { recursive: true, force: true });
    },
    set wechatBaseUrl(value) { wechatBase = value; },
  };
}

module.exports = { createServer, fingerprint, maskPhone, parseMultipart, imageType };

if (require.main === module) {
  const arg = (name, fallback) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? process.argv[at + 1] : fallback;
  };
  const port = Number(arg('--port', process.env.PORT || 8080));
  const dataDir = arg('--data', require('path').join(__dirname, '..', '.dev-server-data'));
  require('fs').mkdirSync(dataDir, { recursive: true });
  const say = (line) => console.log(`${new Date().toISOString().slice(11, 23)} [server] ${line}`);
  // Run by hand, the mock also takes codes from DevTools' wx.login and getPhoneNumber, so the
  // example logs in there.
  const server = createServer({ log: say, dataDir, acceptDeviceCodes: true, wechatBaseUrl: process.env.WECHAT_API_BASE });
  server.listen(port).then((url) => {
    const mode = process.env.WECHAT_APPID && process.env.WECHAT_SECRET ? 'real WeChat APIs' : 'embedded mock WeChat';
    say(`mp-session developer server on ${url} with ${mode}; users, sessions and avatars in ${dataDir}`);
  }, (error) => {
    console.error(`[server] cannot listen on 127.0.0.1:${port}: ${error.message}`);
    process.exit(1);
  });
  const stop = () => server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
