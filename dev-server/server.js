'use strict';
// The developer server of DESIGN.md: exchanges login codes with code2Session (the real WeChat API
// when WECHAT_APPID/WECHAT_SECRET are set, else the embedded mock), keeps openid and session_key to
// itself, and issues its own opaque tokens. Protected routes answer 401 for unknown or expired
// tokens. Admin routes let tests and the demo revoke tokens and inject errors.
//
// Users and sessions live in a durable store (store.js), so they survive a restart.
//
//   node dev-server/server.js [--port 8080] [--data .dev-server-data]   (npm run server)
//   WECHAT_APPID + WECHAT_SECRET: use the real code2Session; WECHAT_API_BASE: another base URL for it.
const http = require('http');
const https = require('https');
const crypto = require('crypto');
const { MockWeChat } = require('./mock-wechat.js');
const { SessionStore } = require('./store.js');

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
  const mock = new MockWeChat({ now, acceptDeviceCodes: Boolean(options.acceptDeviceCodes) });
  const appid = realWeChat ? process.env.WECHAT_APPID : mock.appid;
  const secret = realWeChat ? process.env.WECHAT_SECRET : mock.secret;
  let wechatBase = options.wechatBaseUrl || (realWeChat ? 'https://api.weixin.qq.com' : null);

  // dataDir: where users and sessions persist; without it they live in memory (tests).
  const store = new SessionStore({ dir: options.dataDir || null, now });
  const loaded = store.load();
  const state = {
    tokenLifetimeS: options.tokenLifetimeS || 7200,
    injected: [], // { status, body } answered to the next logins
    injectedApi: [], // { status, body } answered to the next protected API calls
    held: [], // releases of /api/slow requests
    stats: { apiInFlight: 0, maxApiInFlight: 0, logins: 0, loginsGranted: 0, code2Session: 0, apiCalls: 0, unauthorized: 0, inFlight: 0, maxInFlight: 0, requests: 0 },
  };

  function send(res, status, body) {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async function sessionOf(req) {
    const match = /^Bearer (\S+)$/.exec(req.headers.authorization || '');
    if (match) return store.sessionOf(match[1]);
    const skey = options.peerProtocols && req.headers['x-wx-skey'];
    return skey ? store.sessionOf(skey) : null;
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
    const { status, body } = await exchange(code);
    return send(res, status, body);
  }

  // code → code2Session → a session of ours: { status, body } as /auth/login answers it.
  async function exchange(code) {
    if (typeof code !== 'string' || !code) return { status: 400, body: { errcode: 40029, errmsg: 'missing code' } };
    state.stats.code2Session++;
    const query = new URLSearchParams({ appid, secret, js_code: code, grant_type: 'authorization_code' });
    let reply;
    try {
      reply = wechatBase ? await getJson(`${wechatBase}/sns/jscode2session?${query}`) : mock.code2Session(Object.fromEntries(query));
    } catch (error) {
      log(`login: code2Session unreachable: ${error.message}`);
      return { status: 502, body: { errcode: -1, errmsg: 'code2Session unreachable' } };
    }
    if (reply.errcode) {
      log(`login: code2Session errcode ${reply.errcode} (${reply.errmsg})`);
      return { status: STATUS_FOR_ERRCODE[reply.errcode] || 400, body: { errcode: reply.errcode, errmsg: reply.errmsg } };
    }
    const token = crypto.randomBytes(24).toString('base64url');
    const user = await store.userFor(reply.openid);
    await store.createSession(token, { openid: reply.openid, sessionKey: reply.session_key, lifetimeS: state.tokenLifetimeS });
    state.stats.loginsGranted++;
    log(`login: code2Session ok for user ${user.userId}: token #${fingerprint(token)} for ${state.tokenLifetimeS}s (session_key kept on the server)`);
    return { status: 200, body: { token, expiresIn: state.tokenLifetimeS } };
  }

  // wafer2-client-sdk's protocol, for the benchmark only (options.peerProtocols): the code comes in
  // the X-WX-Code header and the session goes back as { code: 0, data: { skey, userinfo } }.
  async function waferLogin(req, res) {
    state.stats.logins++;
    const { status, body } = await exchange(req.headers['x-wx-code']);
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
    const { userId } = await store.userFor(session.openid);
    log(`${req.method} ${path} → 200 for user ${userId}`);
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
        await store.revokeAll();
        log('admin: every token revoked');
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
      case '/admin/reset-in-flight':
        state.stats.maxApiInFlight = state.stats.apiInFlight;
        return send(res, 200, { ok: true });
      case '/admin/release':
        for (const release of state.held.splice(0)) release();
        return send(res, 200, { ok: true });
      case '/admin/stats':
        return send(res, 200, Object.assign(await store.counts(), { held: state.held.length }, state.stats));
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
    else if (route === '/wafer/login' && options.peerProtocols) handled = waferLogin(req, res);
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
    store,
    state,
    async listen(port = 0, host = '127.0.0.1') {
      await loaded;
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(`http://${host}:${server.address().port}`));
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
      await store.close();
    },
    set wechatBaseUrl(value) { wechatBase = value; },
  };
}

module.exports = { createServer, fingerprint };

if (require.main === module) {
  const arg = (name, fallback) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? process.argv[at + 1] : fallback;
  };
  const port = Number(arg('--port', process.env.PORT || 8080));
  const dataDir = arg('--data', require('path').join(__dirname, '..', '.dev-server-data'));
  require('fs').mkdirSync(dataDir, { recursive: true });
  const say = (line) => console.log(`${new Date().toISOString().slice(11, 23)} [server] ${line}`);
  // Run by hand, the mock also takes codes from DevTools' wx.login, so the example logs in there.
  const server = createServer({ log: say, dataDir, acceptDeviceCodes: true, wechatBaseUrl: process.env.WECHAT_API_BASE });
  server.listen(port).then((url) => {
    const mode = process.env.WECHAT_APPID && process.env.WECHAT_SECRET ? 'real WeChat code2Session' : 'embedded mock WeChat';
    say(`mp-session developer server on ${url} with ${mode}; users and sessions in ${dataDir}`);
  }, (error) => {
    console.error(`[server] cannot listen on 127.0.0.1:${port}: ${error.message}`);
    process.exit(1);
  });
  const stop = () => server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
