'use strict';
// The developer server of DESIGN.md: exchanges login codes with code2Session (the real WeChat API
// when WECHAT_APPID/WECHAT_SECRET are set, else the embedded mock), keeps openid and session_key to
// itself, and issues its own opaque tokens. Protected routes answer 401 for unknown or expired
// tokens. Admin routes let tests and the demo revoke tokens and inject errors.
//
//   node dev-server/server.js [--port 8080]
const http = require('http');
const https = require('https');
const crypto = require('crypto');
const { MockWeChat } = require('./mock-wechat.js');

const STATUS_FOR_ERRCODE = { '-1': 503, 40029: 400, 40163: 400, 45011: 429, 40226: 403 };

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

function getJson(url) {
  return new Promise((resolve, reject) => {
    (url.startsWith('https:') ? https : http).get(url, (res) => {
      readBody(res).then((text) => {
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(new Error(`code2Session answered non-JSON (HTTP ${res.statusCode})`));
        }
      }, reject);
    }).on('error', reject);
  });
}

// A short, non-reversible label for logs: tokens themselves never reach a log.
function fingerprint(token) {
  return crypto.createHash('sha256').update(token).digest('hex').slice(0, 8);
}

function createServer(options = {}) {
  const log = options.log || (() => {});
  const now = options.now || Date.now;
  const realWeChat = Boolean(process.env.WECHAT_APPID && process.env.WECHAT_SECRET) && !options.mock;
  const mock = new MockWeChat({ now });
  const appid = realWeChat ? process.env.WECHAT_APPID : mock.appid;
  const secret = realWeChat ? process.env.WECHAT_SECRET : mock.secret;
  let wechatBase = options.wechatBaseUrl || (realWeChat ? 'https://api.weixin.qq.com' : null);

  const sessions = new Map(); // token → { openid, sessionKey, expiresAt }
  const state = {
    tokenLifetimeS: options.tokenLifetimeS || 7200,
    injected: [], // { status, body } answered to the next logins
    held: [], // releases of /api/slow requests
    stats: { apiInFlight: 0, maxApiInFlight: 0, logins: 0, loginsGranted: 0, code2Session: 0, apiCalls: 0, unauthorized: 0, inFlight: 0, maxInFlight: 0, requests: 0 },
  };

  function send(res, status, body) {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function sessionOf(req) {
    const match = /^Bearer (\S+)$/.exec(req.headers.authorization || '');
    const session = match && sessions.get(match[1]);
    if (!session) return null;
    if (session.expiresAt <= now()) {
      sessions.delete(match[1]);
      return null;
    }
    return session;
  }

  async function login(req, res) {
    state.stats.logins++;
    let code;
    try {
      code = JSON.parse(await readBody(req)).code;
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
    if (typeof code !== 'string' || !code) return send(res, 400, { errcode: 40029, errmsg: 'missing code' });
    state.stats.code2Session++;
    const query = new URLSearchParams({ appid, secret, js_code: code, grant_type: 'authorization_code' });
    let reply;
    try {
      reply = wechatBase ? await getJson(`${wechatBase}/sns/jscode2session?${query}`) : mock.code2Session(Object.fromEntries(query));
    } catch (error) {
      log(`login: code2Session unreachable: ${error.message}`);
      return send(res, 502, { errcode: -1, errmsg: 'code2Session unreachable' });
    }
    if (reply.errcode) {
      log(`login: code2Session errcode ${reply.errcode} (${reply.errmsg})`);
      return send(res, STATUS_FOR_ERRCODE[reply.errcode] || 400, { errcode: reply.errcode, errmsg: reply.errmsg });
    }
    const token = crypto.randomBytes(24).toString('base64url');
    sessions.set(token, { openid: reply.openid, sessionKey: reply.session_key, expiresAt: now() + state.tokenLifetimeS * 1000 });
    state.stats.loginsGranted++;
    log(`login: code2Session ok, token #${fingerprint(token)} for ${state.tokenLifetimeS}s (session_key kept on the server)`);
    return send(res, 200, { token, expiresIn: state.tokenLifetimeS });
  }

  async function api(req, res, path) {
    state.stats.apiCalls++;
    state.stats.apiInFlight++;
    state.stats.maxApiInFlight = Math.max(state.stats.maxApiInFlight, state.stats.apiInFlight);
    res.on('close', () => { state.stats.apiInFlight--; });
    const session = path === '/api/never' ? null : sessionOf(req); // /api/never accepts no token
    if (!session) {
      state.stats.unauthorized++;
      return send(res, 401, { errcode: 40101, errmsg: 'session expired or unknown' });
    }
    const userId = crypto.createHash('sha256').update(session.openid).digest('hex').slice(0, 12);
    if (path === '/api/me') return send(res, 200, { userId, expiresAt: session.expiresAt });
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

  async function admin(req, res, path) {
    const body = req.method === 'POST' ? JSON.parse((await readBody(req)) || '{}') : {};
    switch (path) {
      case '/admin/revoke-all':
        sessions.clear();
        log('admin: every token revoked');
        return send(res, 200, { ok: true });
      case '/admin/token-lifetime':
        state.tokenLifetimeS = body.seconds;
        return send(res, 200, { ok: true });
      case '/admin/inject-login':
        for (let i = 0; i < (body.times || 1); i++) state.injected.push({ status: body.status, body: body.body });
        return send(res, 200, { ok: true });
      case '/admin/wechat-error':
        mock.forced.push(...Array(body.times || 1).fill(body.errcode));
        return send(res, 200, { ok: true });
      case '/admin/reset-in-flight':
        state.stats.maxApiInFlight = state.stats.apiInFlight;
        return send(res, 200, { ok: true });
      case '/admin/release':
        for (const release of state.held.splice(0)) release();
        return send(res, 200, { ok: true });
      case '/admin/stats':
        return send(res, 200, Object.assign({ sessions: sessions.size, held: state.held.length }, state.stats));
      default:
        return send(res, 404, { errmsg: 'no such admin route' });
    }
  }

  // What the simulator's wx.login calls: the mock WeChat client side, issuing a code for a user.
  function mockWxLogin(req, res, url) {
    if (realWeChat) return send(res, 404, { errmsg: 'mock WeChat disabled: real WECHAT_APPID set' });
    return send(res, 200, { code: mock.issueCode(url.searchParams.get('openid') || 'o-demo-user') });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    state.stats.requests++;
    state.stats.inFlight++;
    state.stats.maxInFlight = Math.max(state.stats.maxInFlight, state.stats.inFlight);
    res.on('close', () => { state.stats.inFlight--; });
    const route = url.pathname;
    let handled;
    if (route === '/auth/login' && req.method === 'POST') handled = login(req, res);
    else if (route.startsWith('/api/')) handled = api(req, res, route);
    else if (route.startsWith('/admin/')) handled = admin(req, res, route);
    else if (route === '/mock-wechat/login') handled = Promise.resolve(mockWxLogin(req, res, url));
    else if (route === '/sns/jscode2session' && !realWeChat) handled = Promise.resolve(send(res, 200, mock.code2Session(Object.fromEntries(url.searchParams))));
    else handled = Promise.resolve(send(res, 404, { errmsg: 'no such route' }));
    handled.catch((error) => {
      log(`error: ${error.message}`);
      if (!res.headersSent) send(res, 500, { errmsg: 'internal error' });
    });
  });

  return {
    mock,
    sessions,
    state,
    listen(port = 0, host = '127.0.0.1') {
      return new Promise((resolve) => server.listen(port, host, () => {
        const url = `http://${host}:${server.address().port}`;
        resolve(url);
      }));
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
    set wechatBaseUrl(value) { wechatBase = value; },
  };
}

module.exports = { createServer, fingerprint };

if (require.main === module) {
  const portArg = process.argv.indexOf('--port');
  const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 8080;
  const server = createServer({ log: (line) => console.log(`[server] ${line}`) });
  server.listen(port).then((url) => {
    console.log(`[server] mp-session developer server on ${url} (${process.env.WECHAT_APPID ? 'real WeChat' : 'mock WeChat'})`);
  });
}
