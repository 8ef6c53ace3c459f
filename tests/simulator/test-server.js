'use strict';
// The server the SDK's suites talk to: mp-session-server itself (the binary a team deploys, on a
// fresh SQLite) behind a test-side proxy that holds what only tests need. The proxy counts what it
// sees, injects faults and serves a few routes for the SDK's own tests; every login, refresh and
// protected route it passes on is answered by the real server, so no fault switch lives in the
// deployed binary.
//
// Routes of the proxy (JSON unless said otherwise):
//   /auth/*, /api/me, /api/profile, /api/avatar, /files/*, /.well-known/*: passed to the server
//   /api/echo, /api/upload, /api/download, /api/slow: the SDK's test routes, for a caller the
//        server knows (the proxy asks its GET /api/me with the caller's Authorization and Cookie)
//   /api/never: always 401 (a route that accepts no token)
//   /api/cookie/rotate: a new sid cookie for the same user (a fresh cookie login), the old one
//        logged out; /api/cookie/end: the server's logout, which clears the cookie
//   /wafer/login: wafer2-client-sdk's protocol (for `npm run bench`): the code in X-WX-Code, the
//        session answered as { code: 0, data: { skey } }; X-WX-Skey is taken as the bearer token
//   /mock-wechat/*: the mock WeChat (wx.login's codes, its switches and stats)
//   POST /admin/inject-login { status, body, times? }: the next /auth/login(s) answer that
//   POST /admin/inject-api { status, body?, times? }: the next protected call(s) answer that
//   POST /admin/token-lifetime { seconds }: the lifetime told to clients from now on (the server's
//        own tokens live their configured time; the client's clock decides when it renews)
//   POST /admin/revoke-all: the server's revoke-all (every session and refresh token)
//   POST /admin/revoke-access: the server's expire-access for every user seen logging in (their
//        refresh tokens keep working)
//   POST /admin/wechat-error { errcode, times? }, /admin/wechat-phone-error: WeChat errcodes next
//   POST /admin/release: answers every held /api/slow; POST /admin/reset-in-flight
//   GET  /admin/stats: the counts below, with `held` and the mock WeChat's own
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { serveMockWeChat, mockRoutes, alipayTestKeys } = require('../../dev-server/mock-wechat.js');
const { startServer, adminCall } = require('../../scripts/server-process.js');

const PASSED_ON = /^\/(?:auth\/|api\/(?:me|profile|avatar)$|files\/|\.well-known\/|healthz$)/;
const LOGIN_ROUTES = new Set(['/auth/login', '/auth/cookie-login', '/auth/password']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host']);
const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

function readAll(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function parseJson(buffer) {
  try {
    return JSON.parse(buffer.toString('utf8'));
  } catch (e) {
    return undefined;
  }
}

function send(res, status, body, headers = {}) {
  if (typeof body === 'string') {
    res.writeHead(status, Object.assign({ 'content-type': 'text/plain; charset=utf-8' }, headers));
    return res.end(body);
  }
  const text = JSON.stringify(body);
  res.writeHead(status, Object.assign({ 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }, headers));
  return res.end(text);
}

// One request to the server: { status, headers, body (a Buffer) }.
function upstream(base, method, route, headers, body) {
  return new Promise((resolve, reject) => {
    const out = {};
    for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
    if (body && body.length) out['content-length'] = body.length;
    const req = http.request(base + route, { method, headers: out }, (res) => {
      readAll(res).then((data) => resolve({ status: res.statusCode, headers: res.headers, body: data }), reject);
    });
    req.on('error', reject);
    req.end(body && body.length ? body : undefined);
  });
}

function answer(res, reply, replaceBody) {
  const headers = {};
  for (const [name, value] of Object.entries(reply.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
  const body = replaceBody === undefined ? reply.body : Buffer.from(JSON.stringify(replaceBody));
  headers['content-length'] = body.length;
  res.writeHead(reply.status, headers);
  res.end(body);
}

// The sid cookie a Set-Cookie header sets, if it sets one.
function sidOf(setCookie) {
  const line = [].concat(setCookie || []).find((value) => /^sid=/.test(value));
  return line ? /^sid=([^;]*)/.exec(line)[1] : null;
}

// `mock`: the MockWeChat's options (a fake clock's `now`, `acceptDeviceCodes`).
async function startTestServer({ log = () => {}, mock: mockOptions = {} } = {}) {
  const keys = alipayTestKeys();
  const wechat = await serveMockWeChat(Object.assign({ log, alipay: keys.mock }, mockOptions));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-server-'));
  const adminToken = crypto.randomBytes(16).toString('hex');
  // No rate limits: the suites log in as often as their scenarios need (server/tests/rules.rs
  // checks the limits).
  const server = await startServer({ dataDir, wechatUrl: wechat.url, adminToken, alipay: keys.server, args: ['--auth-rate-per-address=0', '--auth-rate-per-openid=0'] });
  const serverAdmin = (route, body) => adminCall(server.url, adminToken, route, body);
  // The demo account, as `npm run server` makes it: password logins have an account to find.
  const account = await serverAdmin('/admin/accounts', { username: 'demo', password: 'mp-session-demo' });
  if (account.status !== 200) throw new Error(`test server: cannot create the demo account (HTTP ${account.status})`);
  const mock = wechat.mock;
  const mockRoute = mockRoutes(mock, log);

  const state = {
    tokenLifetimeS: null, // null: the server's own
    injectedLogins: [],
    injectedApi: [],
    held: [],
    userIds: new Set(),
    openidOfSid: new Map(), // cookie sessions, so /api/cookie/rotate can log the same user in again
    refreshAnswered: new Set(), // hashes of refresh tokens the server already took
    stats: {
      requests: 0, inFlight: 0, maxInFlight: 0, logins: 0, loginsGranted: 0, passwordLogins: 0,
      refreshes: 0, refreshesRefused: 0, refreshReuse: 0, apiCalls: 0, apiInFlight: 0, maxApiInFlight: 0,
      unauthorized: 0, cookieRotations: 0,
    },
  };

  // A granted login or refresh as the client gets it: the lifetime shortened when a test asked
  // (undefined: the server's reply unchanged).
  function told(body) {
    if (state.tokenLifetimeS && body && typeof body.expiresIn === 'number') return Object.assign({}, body, { expiresIn: state.tokenLifetimeS });
    return undefined;
  }

  const passOn = (req, body) => upstream(server.url, req.method, req.url, req.headers, body);

  async function auth(req, res, route, body) {
    if (LOGIN_ROUTES.has(route)) state.stats.logins++;
    if (route === '/auth/login' && state.injectedLogins.length) {
      const injected = state.injectedLogins.shift();
      log(`login: answering an injected ${injected.status}`);
      return send(res, injected.status, injected.body);
    }
    const reply = await passOn(req, body);
    const json = parseJson(reply.body);
    if (LOGIN_ROUTES.has(route) && reply.status === 200) {
      state.stats.loginsGranted++;
      if (route === '/auth/password') state.stats.passwordLogins++;
      if (json && json.user && typeof json.user.id === 'string') state.userIds.add(json.user.id);
      const sid = sidOf(reply.headers['set-cookie']);
      const entry = route === '/auth/cookie-login' && mock.codes.get((parseJson(body) || {}).code);
      if (sid && entry) state.openidOfSid.set(sid, entry.openid);
    }
    if (route === '/auth/refresh') {
      const presented = (parseJson(body) || {}).refreshToken;
      const key = typeof presented === 'string' ? sha256(presented) : null;
      if (key && state.refreshAnswered.has(key)) state.stats.refreshReuse++;
      if (reply.status === 200) {
        state.stats.refreshes++;
        if (key) state.refreshAnswered.add(key);
      } else {
        state.stats.refreshesRefused++;
      }
    }
    return answer(res, reply, reply.status === 200 ? told(json) : undefined);
  }

  // The caller's user id when the server knows its token or cookie, else the server's 401 reply.
  async function caller(req) {
    const reply = await upstream(server.url, 'GET', '/api/me', { authorization: req.headers.authorization, cookie: req.headers.cookie }, null);
    return reply.status === 200 ? { userId: parseJson(reply.body).userId } : { refused: reply };
  }

  async function api(req, res, route, body) {
    state.stats.apiCalls++;
    state.stats.apiInFlight++;
    state.stats.maxApiInFlight = Math.max(state.stats.maxApiInFlight, state.stats.apiInFlight);
    res.on('close', () => { state.stats.apiInFlight--; });
    if (route === '/api/never') {
      state.stats.unauthorized++;
      return send(res, 401, { errcode: 40101, errmsg: 'this route accepts no token' });
    }
    if (PASSED_ON.test(route) && !state.injectedApi.length) {
      const reply = await passOn(req, body);
      if (reply.status === 401) state.stats.unauthorized++;
      return answer(res, reply);
    }
    const who = await caller(req);
    if (who.refused) {
      if (who.refused.status === 401) state.stats.unauthorized++;
      return answer(res, who.refused);
    }
    if (state.injectedApi.length) {
      const injected = state.injectedApi.shift();
      log(`${req.method} ${route} → injected ${injected.status}`);
      return send(res, injected.status, injected.body || { errmsg: 'injected error' });
    }
    const { userId } = who;
    if (route === '/api/echo' && req.method === 'POST') return send(res, 200, { userId, echo: body.toString('utf8') });
    if (route === '/api/upload' && req.method === 'POST') return send(res, 200, { userId, received: body.length });
    if (route === '/api/download') return send(res, 200, `private file for ${userId}`);
    if (route === '/api/slow') {
      // Held until released, so tests can see how many requests are in flight.
      await new Promise((resolve) => state.held.push(resolve));
      return send(res, 200, { userId });
    }
    if (route === '/api/cookie/rotate') return rotateCookie(req, res, userId);
    if (route === '/api/cookie/end') return answer(res, await upstream(server.url, 'POST', '/auth/logout', { cookie: req.headers.cookie }, null));
    return send(res, 404, { errcode: 40404, errmsg: 'no such route' });
  }

  // A server rotating its session cookie: the same user logs in afresh and the old sid ends.
  async function rotateCookie(req, res, userId) {
    const sid = /(?:^|;\s*)sid=([^;\s]+)/.exec(req.headers.cookie || '');
    const openid = sid && state.openidOfSid.get(sid[1]);
    if (!openid) return send(res, 400, { errcode: 40000, errmsg: 'not a cookie session of this test server' });
    const login = await upstream(server.url, 'POST', '/auth/cookie-login', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ code: mock.issueCode(openid) })));
    const rotated = sidOf(login.headers['set-cookie']);
    if (login.status !== 200 || !rotated) return answer(res, login);
    state.openidOfSid.set(rotated, openid);
    await upstream(server.url, 'POST', '/auth/logout', { cookie: `sid=${sid[1]}` }, null);
    state.stats.cookieRotations++;
    return send(res, 200, { userId }, { 'set-cookie': login.headers['set-cookie'] });
  }

  async function waferLogin(req, res) {
    state.stats.logins++;
    const reply = await upstream(server.url, 'POST', '/auth/login', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ code: req.headers['x-wx-code'] })));
    const json = parseJson(reply.body) || {};
    if (reply.status !== 200) return send(res, 200, { code: -1, error: json.errcode, message: json.errmsg });
    state.stats.loginsGranted++;
    return send(res, 200, { code: 0, data: { skey: json.token, userinfo: {} } });
  }

  async function admin(req, res, route, body) {
    const given = parseJson(body) || {};
    const times = given.times || 1;
    switch (route) {
      case '/admin/inject-login':
      case '/admin/inject-api': {
        const queue = route === '/admin/inject-login' ? state.injectedLogins : state.injectedApi;
        for (let i = 0; i < times; i++) queue.push({ status: given.status, body: given.body });
        return send(res, 200, { ok: true });
      }
      case '/admin/token-lifetime':
        if (!(Number.isInteger(given.seconds) && given.seconds > 0)) return send(res, 400, { errmsg: 'seconds must be a positive integer' });
        state.tokenLifetimeS = given.seconds;
        return send(res, 200, { ok: true });
      case '/admin/revoke-all': {
        const done = await serverAdmin('/admin/revoke-all', {});
        return send(res, done.status, done.body);
      }
      case '/admin/revoke-access':
        for (const id of state.userIds) {
          const done = await serverAdmin(`/admin/users/${id}/expire-access`, {});
          if (done.status !== 200) return send(res, done.status, done.body);
        }
        return send(res, 200, { ok: true });
      case '/admin/wechat-error':
        mock.forced.push(...Array(times).fill(given.errcode));
        return send(res, 200, { ok: true });
      case '/admin/wechat-phone-error':
        mock.forcedPhone.push(...Array(times).fill(given.errcode));
        return send(res, 200, { ok: true });
      case '/admin/reset-in-flight':
        state.stats.maxApiInFlight = state.stats.apiInFlight;
        return send(res, 200, { ok: true });
      case '/admin/release':
        for (const release of state.held.splice(0)) release();
        return send(res, 200, { ok: true });
      case '/admin/stats':
        return send(res, 200, Object.assign({}, state.stats, { held: state.held.length, code2Session: mock.stats.code2SessionCalls, mockWeChat: Object.assign({}, mock.stats) }));
      default:
        return send(res, 404, { errmsg: 'no such admin route' });
    }
  }

  async function route(req, res) {
    const url = new URL(req.url, 'http://localhost');
    const pathname = url.pathname;
    if (req.headers['x-wx-skey'] && !req.headers.authorization) req.headers.authorization = `Bearer ${req.headers['x-wx-skey']}`;
    if (await mockRoute(req, res, url)) return;
    const body = await readAll(req);
    if (pathname === '/wafer/login') return waferLogin(req, res);
    if (pathname.startsWith('/admin/')) return admin(req, res, pathname, body);
    if (pathname.startsWith('/api/')) return api(req, res, pathname, body);
    if (pathname.startsWith('/auth/')) return auth(req, res, pathname, body);
    if (PASSED_ON.test(pathname)) return answer(res, await passOn(req, body));
    return send(res, 404, { errcode: 40404, errmsg: 'no such route' });
  }

  const proxy = http.createServer((req, res) => {
    state.stats.requests++;
    state.stats.inFlight++;
    state.stats.maxInFlight = Math.max(state.stats.maxInFlight, state.stats.inFlight);
    res.on('close', () => { state.stats.inFlight--; });
    route(req, res).catch((error) => {
      log(`test server: ${error.message}`);
      if (!res.headersSent) send(res, 502, { errmsg: `test server: ${error.message}` });
      else res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    proxy.once('error', reject);
    proxy.listen(0, '127.0.0.1', resolve);
  });

  return {
    url: `http://127.0.0.1:${proxy.address().port}`,
    serverUrl: server.url,
    wechatUrl: wechat.url,
    mock,
    state,
    adminToken,
    async close() {
      for (const release of state.held.splice(0)) release();
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(() => resolve()));
      await server.stop();
      await wechat.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

module.exports = { startTestServer };
