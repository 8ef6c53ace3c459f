'use strict';
// An embedded stand-in for WeChat's side of the login, with WeChat's rules and errcodes:
// - wx.login gets a one-time code here and jscode2session exchanges it: a code is valid five
//   minutes and usable once, at most ~100 exchanges per user per minute.
// - Access tokens: GET /cgi-bin/token (every call issues a new token; the previous one keeps
//   working five more minutes) and POST /cgi-bin/stable_token (the same token while it is valid;
//   in its last five minutes a normal call gets a fresh one; force_refresh replaces it at once).
//   Both live 7200 s.
// - The phone number: <button open-type="getPhoneNumber"> gives the page a one-time code (valid
//   five minutes, usable once) that POST /wxa/business/getuserphonenumber?access_token= exchanges
//   for the user's number. Each mock user has a fixed mock number (138 and eight digits from the
//   openid); only the server side ever sees it whole.
// - Douyin (FACTS.md, "Other hosts"): tt.login gives an `anonymousCode` always and a `code` to a
//   user logged into the Douyin app; POST /api/apps/v2/jscode2session { appid, secret, code,
//   anonymous_code } answers { err_no, err_tips, data: { session_key, openid, anonymous_openid,
//   unionid } }, session_key, openid and unionid only for a code. Codes: five minutes, once.
// - Alipay: my.getAuthCode({ scopes: 'auth_base' }) gives an authCode (three minutes, once) that
//   the open gateway's alipay.system.oauth.token exchanges (POST /gateway.do, form-encoded, the
//   common parameters signed RSA2 with the app's private key over the sorted `k=v&k=v` of every
//   non-empty parameter but `sign`) for { user_id, open_id, access_token, refresh_token, … },
//   answered as `{ "alipay_system_oauth_token_response": {…}, "sign": … }` or
//   `{ "error_response": { code, msg, sub_code, sub_msg }, "sign": … }`, `sign` being RSA2 with
//   Alipay's private key over the exact text of that member. The mock is given the keys:
//   { alipay: { appid, appPublicKey, alipayPrivateKey } } (KeyObjects or PEM).
const crypto = require('crypto');

const CODE_LIFETIME_MS = 5 * 60 * 1000;
const PHONE_CODE_LIFETIME_MS = 5 * 60 * 1000;
const ACCESS_TOKEN_LIFETIME_S = 7200;
const ACCESS_TOKEN_OVERLAP_MS = 5 * 60 * 1000; // an old token's grace, and the stable token's early renewal
const RATE_LIMIT_PER_MINUTE = 100;
const DEVTOOLS_OPENID = 'o-devtools-user';
const DOUYIN = { appid: 'tt-mock-appid', secret: 'tt-mock-secret' };
const ALIPAY_CODE_LIFETIME_MS = 3 * 60 * 1000;
const ALIPAY_METHOD = 'alipay.system.oauth.token';
// Alipay's public error codes as the gateway words them; a sub_code per case.
const ALIPAY_ERRORS = {
  20000: ['Service Currently Unavailable', 'isp.unknow-error', '系统繁忙'],
  20001: ['Insufficient Token Permissions', 'aop.invalid-auth-token', '无效的访问令牌'],
  40002: ['Invalid Arguments', 'isv.code-invalid', '授权码code无效'],
  40006: ['Insufficient Permissions', 'isv.insufficient-isv-permissions', 'ISV权限不足，建议在开发者中心检查对应功能是否已经添加'],
};
// What a reply switch does to the next gateway reply: no sign, a signature of other text, or the
// member's text changed after it was signed.
const ALIPAY_REPLY_SWITCHES = new Set(['unsigned', 'bad-signature', 'tampered']);

// The string Alipay's RSA2 signature covers: every parameter but `sign` with a non-empty value,
// sorted by name, `name=value` joined by `&`, nothing URL-encoded.
function alipaySignContent(params) {
  return Object.keys(params).filter((k) => k !== 'sign' && params[k] !== '' && params[k] != null).sort().map((k) => `${k}=${params[k]}`).join('&');
}

const asKey = (key, make) => (key instanceof crypto.KeyObject ? key : make(key));

const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

// The mock user's phone number: deterministic per openid, a mainland mobile number.
function mockPhoneFor(openid) {
  return `138${String(parseInt(sha256(`phone:${openid}`).slice(0, 12), 16) % 1e8).padStart(8, '0')}`;
}

class MockWeChat {
  // acceptDeviceCodes: codes this mock did not issue (from wx.login or getPhoneNumber in WeChat
  // DevTools, which asks the real WeChat) count as fresh codes of one DevTools user, still usable
  // once. Off in tests.
  constructor({ appid = 'wx-mock-appid', secret = 'mock-secret', now = Date.now, acceptDeviceCodes = false, alipay = null } = {}) {
    this.acceptDeviceCodes = acceptDeviceCodes;
    this.appid = appid;
    this.secret = secret;
    this.now = now;
    this.codes = new Map(); // code → { openid, issuedAt, used }
    this.phoneCodes = new Map(); // phone code → { openid, issuedAt, used }
    this.accessTokens = new Map(); // access token → { expiresAt, stable } (expired ones stay, to answer 42001)
    this.stableToken = null; // { token, expiresAt }
    this.exchanges = new Map(); // openid → timestamps of recent exchanges
    this.blocked = new Set();
    this.forced = []; // errcodes for jscode2session to answer next, in order
    this.forcedPhone = []; // errcodes for getuserphonenumber to answer next, in order
    this.sessionKeysGiven = [];
    this.douyinCodes = new Map(); // code or anonymous code → { openid, anonymous, issuedAt, used }
    this.douyinForced = []; // err_no for jscode2session to answer next
    // Alipay's gateway, with the app's public key (to check its calls) and Alipay's private key
    // (to sign the replies); without them it refuses every call, unsigned.
    this.alipay = alipay && {
      appid: alipay.appid,
      appPublicKey: asKey(alipay.appPublicKey, crypto.createPublicKey),
      alipayPrivateKey: asKey(alipay.alipayPrivateKey, crypto.createPrivateKey),
    };
    this.alipayCodes = new Map(); // authCode → { openid, userIdOnly, issuedAt, used }
    this.alipayForced = []; // next replies: an error code (20000, …) or a reply switch ('unsigned', …)
    this.alipayTokensGiven = []; // access and refresh tokens answered, for tests to look for
    this.alipayLastRequest = null; // the parameters of the last gateway call, its sign left out
    this.stats = { alipayExchanges: 0, alipaySessionsGiven: 0, douyinExchanges: 0, douyinSessionsGiven: 0, code2SessionCalls: 0, sessionsGiven: 0, tokenCalls: 0, stableTokenCalls: 0, tokensIssued: 0, phoneNumberCalls: 0, phoneNumbersGiven: 0 };
  }

  // What wx.login would give the device of user `openid`.
  issueCode(openid) {
    const code = crypto.randomBytes(16).toString('hex');
    this.codes.set(code, { openid, issuedAt: this.now(), used: false });
    return code;
  }

  // What getPhoneNumber would give the page of user `openid` (e.detail.code).
  issuePhoneCode(openid) {
    const code = crypto.randomBytes(32).toString('hex');
    this.phoneCodes.set(code, { openid, issuedAt: this.now(), used: false });
    return code;
  }

  // What tt.login gives the device of Douyin user `openid`: an anonymous code always, a code when
  // the user is logged into the Douyin app.
  issueDouyinCodes(openid, { anonymous = false } = {}) {
    const issue = (isAnonymous) => {
      const code = crypto.randomBytes(16).toString('hex');
      this.douyinCodes.set(code, { openid, anonymous: isAnonymous, issuedAt: this.now(), used: false });
      return code;
    };
    const codes = { anonymousCode: issue(true) };
    if (!anonymous) codes.code = issue(false);
    return codes;
  }

  // Answers like POST https://developer.toutiao.com/api/apps/v2/jscode2session.
  douyinCode2Session(body) {
    this.stats.douyinExchanges++;
    const refuse = (errNo, tips) => ({ err_no: errNo, err_tips: tips, data: {} });
    if (this.douyinForced.length) return refuse(this.douyinForced.shift(), 'injected error');
    if (!body || body.appid !== DOUYIN.appid || body.secret !== DOUYIN.secret) return refuse(40015, 'bad appid or secret');
    const take = (code, anonymous) => {
      const entry = typeof code === 'string' && code ? this.douyinCodes.get(code) : null;
      if (!entry || entry.anonymous !== anonymous || entry.used || this.now() - entry.issuedAt > CODE_LIFETIME_MS) return null;
      entry.used = true;
      return entry;
    };
    if (!body.code && !body.anonymous_code) return refuse(40014, 'code and anonymous_code are both empty');
    const named = body.code ? take(body.code, false) : null;
    const anonymous = body.anonymous_code ? take(body.anonymous_code, true) : null;
    if ((body.code && !named) || (body.anonymous_code && !anonymous)) return refuse(40018, 'bad code');
    this.stats.douyinSessionsGiven++;
    const data = { anonymous_openid: anonymous ? `anon-${anonymous.openid}` : '' };
    if (named) {
      const sessionKey = crypto.randomBytes(16).toString('base64');
      this.sessionKeysGiven.push(sessionKey);
      Object.assign(data, { session_key: sessionKey, openid: `tt-${named.openid}`, unionid: `union-${named.openid}` });
    }
    return { err_no: 0, err_tips: 'success', data };
  }

  // What my.getAuthCode({ scopes: 'auth_base' }) gives the device of Alipay user `openid`.
  // userIdOnly: the gateway answers that user's user_id without an open_id (an older app).
  issueAlipayAuthCode(openid, { userIdOnly = false } = {}) {
    const code = crypto.randomBytes(16).toString('hex');
    this.alipayCodes.set(code, { openid, userIdOnly, issuedAt: this.now(), used: false });
    return code;
  }

  // The Alipay ids of mock user `openid`: a 2088… user_id, an open_id per app.
  alipayIdsFor(openid) {
    const userId = `2088${String(parseInt(sha256(`alipay-user:${openid}`).slice(0, 12), 16) % 1e12).padStart(12, '0')}`;
    const openId = `0${Buffer.from(sha256(`alipay-open:${this.alipay ? this.alipay.appid : ''}:${openid}`), 'hex').toString('base64url')}`;
    return { userId, openId };
  }

  // Answers like POST https://openapi.alipay.com/gateway.do: `params` are the request's form (and
  // query) parameters. Returns the reply's exact text.
  alipayGateway(params) {
    this.stats.alipayExchanges++;
    const { sign, ...unsigned } = params;
    this.alipayLastRequest = unsigned;
    if (!this.alipay) return JSON.stringify({ error_response: { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-app-id', sub_msg: '无效的AppID参数' } });
    const refuse = (code, subCode, subMsg, msg = code === '40001' ? 'Missing Required Arguments' : 'Invalid Arguments') =>
      this.alipayReply('error_response', { code, msg, sub_code: subCode, sub_msg: subMsg });
    if (!params.app_id) return refuse('40001', 'isv.missing-app-id', '缺少AppID参数');
    if (params.app_id !== this.alipay.appid) return refuse('40002', 'isv.invalid-app-id', '无效的AppID参数');
    if (!params.method) return refuse('40001', 'isv.missing-method', '缺少方法名参数');
    if (params.method !== ALIPAY_METHOD) return refuse('40002', 'isv.invalid-method', '不存在的方法名');
    if (params.format && params.format.toUpperCase() !== 'JSON') return refuse('40002', 'isv.invalid-format', '无效的数据格式');
    if (!params.charset || params.charset.toLowerCase() !== 'utf-8') return refuse('40002', 'isv.invalid-charset', '字符集错误');
    if (params.sign_type !== 'RSA2') return refuse('40002', 'isv.invalid-signature-type', '无效的签名类型');
    if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(params.timestamp || '')) return refuse('40002', 'isv.invalid-timestamp', '非法的时间戳参数');
    if (params.version !== '1.0') return refuse('40002', 'isv.invalid-parameter', '参数无效: version');
    if (!sign) return refuse('40001', 'isv.missing-signature', '缺少签名参数');
    const signed = crypto.verify('RSA-SHA256', Buffer.from(alipaySignContent(params), 'utf8'), this.alipay.appPublicKey, Buffer.from(sign, 'base64'));
    if (!signed) return refuse('40002', 'isv.invalid-signature', '验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配');
    let replySwitch = null;
    if (this.alipayForced.length) {
      const forced = this.alipayForced.shift();
      if (ALIPAY_REPLY_SWITCHES.has(forced)) {
        replySwitch = forced;
      } else {
        const [msg, subCode, subMsg] = ALIPAY_ERRORS[forced] || ['Business Failed', 'isp.injected-error', 'injected error'];
        return refuse(String(forced), subCode, subMsg, msg);
      }
    }
    if (params.grant_type !== 'authorization_code') return refuse('40002', 'isv.grant-type-invalid', 'grant_type参数不合法');
    const entry = params.code ? this.alipayCodes.get(params.code) : null;
    if (!entry || entry.used || this.now() - entry.issuedAt > ALIPAY_CODE_LIFETIME_MS) return refuse('40002', 'isv.code-invalid', '授权码code无效', 'Invalid Arguments');
    entry.used = true;
    this.stats.alipaySessionsGiven++;
    const { userId, openId } = this.alipayIdsFor(entry.openid);
    const [accessToken, refreshToken] = [`authusrB${crypto.randomBytes(16).toString('hex')}`, `authusrB${crypto.randomBytes(16).toString('hex')}`];
    this.alipayTokensGiven.push(accessToken, refreshToken);
    const issued = new Date(this.now() + 8 * 3600 * 1000).toISOString().replace('T', ' ').slice(0, 19);
    const value = { access_token: accessToken, alipay_user_id: userId, auth_start: issued, expires_in: 1209600, re_expires_in: 2592000, refresh_token: refreshToken, user_id: userId };
    if (!entry.userIdOnly) value.open_id = openId;
    return this.alipayReply('alipay_system_oauth_token_response', value, replySwitch);
  }

  // `{ "<member>": <value>, "sign": "<RSA2 over the value's text>" }`, or what a switch makes of it.
  alipayReply(member, value, replySwitch = null) {
    let text = JSON.stringify(value);
    let sign = crypto.sign('RSA-SHA256', Buffer.from(text, 'utf8'), this.alipay.alipayPrivateKey).toString('base64');
    if (replySwitch === 'bad-signature') sign = crypto.sign('RSA-SHA256', Buffer.from(`${text} `, 'utf8'), this.alipay.alipayPrivateKey).toString('base64');
    if (replySwitch === 'tampered') text = JSON.stringify({ ...value, open_id: `0tampered${value.open_id || ''}`, user_id: '2088000000000000' });
    return `{"${member}":${text}${replySwitch === 'unsigned' ? '' : `,"sign":"${sign}"`}}`;
  }

  // Answers like GET https://api.weixin.qq.com/sns/jscode2session.
  code2Session({ appid, secret, js_code: code, grant_type: grantType }) {
    this.stats.code2SessionCalls++;
    if (this.forced.length) {
      const errcode = this.forced.shift();
      return { errcode, errmsg: MockWeChat.messages[errcode] || 'injected error' };
    }
    if (appid !== this.appid || secret !== this.secret) return { errcode: 40125, errmsg: 'invalid appsecret' };
    if (grantType !== 'authorization_code') return { errcode: 40002, errmsg: 'invalid grant_type' };
    if (code && this.acceptDeviceCodes && !this.codes.has(code)) this.codes.set(code, { openid: DEVTOOLS_OPENID, issuedAt: this.now(), used: false });
    const entry = code && this.codes.get(code);
    if (!entry || this.now() - entry.issuedAt > CODE_LIFETIME_MS) return { errcode: 40029, errmsg: 'invalid code' };
    if (entry.used) return { errcode: 40163, errmsg: 'code been used' };
    entry.used = true;
    if (this.blocked.has(entry.openid)) return { errcode: 40226, errmsg: 'high risk user' };
    const recent = (this.exchanges.get(entry.openid) || []).filter((t) => this.now() - t < 60_000);
    if (recent.length >= RATE_LIMIT_PER_MINUTE) return { errcode: 45011, errmsg: 'api minute-quota reach limit' };
    recent.push(this.now());
    this.exchanges.set(entry.openid, recent);
    this.stats.sessionsGiven++;
    const sessionKey = crypto.randomBytes(16).toString('base64');
    this.sessionKeysGiven.push(sessionKey); // so tests can look for them where they must not be
    return { openid: entry.openid, session_key: sessionKey };
  }

  credentialError({ grant_type: grantType, appid, secret }) {
    if (grantType !== 'client_credential') return { errcode: 40002, errmsg: 'invalid grant_type' };
    if (appid !== this.appid) return { errcode: 40013, errmsg: 'invalid appid' };
    if (secret !== this.secret) return { errcode: 40125, errmsg: 'invalid appsecret' };
    return null;
  }

  newAccessToken(stable) {
    const token = crypto.randomBytes(48).toString('base64url');
    const expiresAt = this.now() + ACCESS_TOKEN_LIFETIME_S * 1000;
    this.accessTokens.set(token, { expiresAt, stable });
    this.stats.tokensIssued++;
    return { token, expiresAt };
  }

  // Answers like GET https://api.weixin.qq.com/cgi-bin/token: a new token each call; the tokens
  // issued before it stay valid five more minutes (at most until their own expiry).
  getAccessToken(params) {
    this.stats.tokenCalls++;
    const error = this.credentialError(params);
    if (error) return error;
    const graceUntil = this.now() + ACCESS_TOKEN_OVERLAP_MS;
    for (const entry of this.accessTokens.values()) {
      if (!entry.stable && entry.expiresAt > graceUntil) entry.expiresAt = graceUntil;
    }
    const { token } = this.newAccessToken(false);
    return { access_token: token, expires_in: ACCESS_TOKEN_LIFETIME_S };
  }

  // Answers like POST https://api.weixin.qq.com/cgi-bin/stable_token, body
  // { grant_type, appid, secret, force_refresh }. Isolated from /cgi-bin/token's tokens.
  getStableAccessToken(body) {
    this.stats.stableTokenCalls++;
    const params = body && typeof body === 'object' ? body : {};
    const error = this.credentialError(params);
    if (error) return error;
    const current = this.stableToken;
    if (params.force_refresh === true && current) this.accessTokens.delete(current.token); // 40001 from now on
    if (params.force_refresh === true || !current || current.expiresAt - this.now() <= ACCESS_TOKEN_OVERLAP_MS) {
      this.stableToken = this.newAccessToken(true); // a normally renewed predecessor lives out its time
    }
    const { token, expiresAt } = this.stableToken;
    return { access_token: token, expires_in: Math.floor((expiresAt - this.now()) / 1000) };
  }

  // null for a live token, else WeChat's answer to a call made with it.
  accessTokenError(token) {
    const entry = token ? this.accessTokens.get(token) : undefined;
    if (!entry) return { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' };
    if (entry.expiresAt <= this.now()) return { errcode: 42001, errmsg: 'access_token expired' };
    return null;
  }

  // Answers like POST https://api.weixin.qq.com/wxa/business/getuserphonenumber?access_token=,
  // body { code }. WeChat documents one errcode for a bad code, unknown, expired or used: 40029.
  getPhoneNumber(accessToken, body) {
    this.stats.phoneNumberCalls++;
    const tokenError = this.accessTokenError(accessToken);
    if (tokenError) return tokenError;
    if (this.forcedPhone.length) {
      const errcode = this.forcedPhone.shift();
      return { errcode, errmsg: MockWeChat.messages[errcode] || 'injected error' };
    }
    const code = body && typeof body === 'object' && typeof body.code === 'string' ? body.code : '';
    if (code && this.acceptDeviceCodes && !this.phoneCodes.has(code)) this.phoneCodes.set(code, { openid: DEVTOOLS_OPENID, issuedAt: this.now(), used: false });
    const entry = code && this.phoneCodes.get(code);
    if (!entry) return { errcode: 40029, errmsg: 'invalid code' };
    if (entry.used) return { errcode: 40029, errmsg: 'invalid code: code been used' };
    if (this.now() - entry.issuedAt > PHONE_CODE_LIFETIME_MS) return { errcode: 40029, errmsg: 'invalid code: code expired' };
    entry.used = true;
    this.stats.phoneNumbersGiven++;
    const number = mockPhoneFor(entry.openid);
    return {
      errcode: 0,
      errmsg: 'ok',
      phone_info: {
        phoneNumber: number, // mainland numbers carry no country code here
        purePhoneNumber: number,
        countryCode: '86',
        watermark: { timestamp: Math.floor(entry.issuedAt / 1000), appid: this.appid },
      },
    };
  }

  // WeChat's HTTP API as a function: `query` from the URL, `body` parsed JSON (or undefined).
  // Returns the JSON reply, or null for a path that is not one of WeChat's.
  handle(method, pathname, query, body) {
    const postOnly = () => ({ errcode: 43002, errmsg: 'require POST method' });
    switch (pathname) {
      case '/sns/jscode2session':
        return this.code2Session(query);
      case '/cgi-bin/token':
        return method === 'GET' ? this.getAccessToken(query) : { errcode: 43001, errmsg: 'require GET method' };
      case '/cgi-bin/stable_token':
        return method === 'POST' ? this.getStableAccessToken(body) : postOnly();
      case '/wxa/business/getuserphonenumber':
        return method === 'POST' ? this.getPhoneNumber(query.access_token, body) : postOnly();
      case '/api/apps/v2/jscode2session':
        return method === 'POST' ? this.douyinCode2Session(body) : { err_no: 40014, err_tips: 'require POST', data: {} };
      default:
        return null;
    }
  }
}

MockWeChat.messages = {
  '-1': 'system error, please retry',
  40029: 'invalid code',
  40163: 'code been used',
  45011: 'api minute-quota reach limit',
  40226: 'high risk user',
  40013: 'invalid appid',
};

// The mock over HTTP, as the server under test reaches WeChat (WECHAT_API_BASE), plus what the
// simulator's wx.login and getPhoneNumber ask it for, and the switches tests use:
//   /sns/jscode2session, /cgi-bin/token, /cgi-bin/stable_token, /wxa/business/getuserphonenumber:
//        WeChat's API, answered as WeChat does (HTTP 200 with errcodes)
//   GET  /mock-wechat/login?openid= → { code }        what wx.login gives that user
//   GET  /mock-wechat/phone-code?openid= → { code }   what getPhoneNumber gives
//   GET  /mock-douyin/login?openid=[&anonymous=1] → { anonymousCode, code? }   what tt.login gives
//   POST /gateway.do (form-encoded): Alipay's open gateway, alipay.system.oauth.token
//   GET  /mock-alipay/auth-code?openid=[&userIdOnly=1] → { authCode }   what my.getAuthCode gives
//   POST /mock-wechat/errors { api: 'code2session' | 'phone', errcode, times? }: errcodes to answer next
//        { api: 'alipay', errcode | reply: 'unsigned' | 'bad-signature' | 'tampered', times? }:
//        the gateway's next replies (an error_response of that code, or a reply so spoiled)
//   GET  /mock-wechat/stats → the calls counted so far
// Returns a request handler `(req, res, url) → Promise<boolean>` (false: not a mock route).
const MOCK_API = new Set(['/sns/jscode2session', '/cgi-bin/token', '/cgi-bin/stable_token', '/wxa/business/getuserphonenumber', '/api/apps/v2/jscode2session']);

function mockRoutes(mock, log = () => {}) {
  const send = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const readText = (req) => new Promise((resolve) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(null));
  });
  const readJson = async (req) => {
    const text = await readText(req);
    try {
      return text === null ? undefined : JSON.parse(text || '{}');
    } catch (e) {
      return undefined;
    }
  };
  return async (req, res, url) => {
    const route = url.pathname;
    const openid = () => url.searchParams.get('openid') || 'o-demo-user';
    if (route === '/mock-wechat/login') return send(res, 200, { code: mock.issueCode(openid()) }), true;
    if (route === '/mock-wechat/phone-code') return send(res, 200, { code: mock.issuePhoneCode(openid()) }), true;
    if (route === '/mock-douyin/login') return send(res, 200, mock.issueDouyinCodes(openid(), { anonymous: url.searchParams.get('anonymous') === '1' })), true;
    if (route === '/mock-alipay/auth-code') return send(res, 200, { authCode: mock.issueAlipayAuthCode(openid(), { userIdOnly: url.searchParams.get('userIdOnly') === '1' }) }), true;
    if (route === '/mock-wechat/stats') return send(res, 200, mock.stats), true;
    if (route === '/gateway.do') {
      const form = new URLSearchParams(req.method === 'POST' ? (await readText(req)) || '' : '');
      const params = Object.fromEntries([...url.searchParams, ...form]);
      res.writeHead(200, { 'content-type': 'application/json;charset=utf-8' });
      res.end(mock.alipayGateway(params));
      return true;
    }
    if (route === '/mock-wechat/errors' && req.method === 'POST') {
      const body = (await readJson(req)) || {};
      if (body.api === 'alipay') {
        const next = body.reply || body.errcode;
        mock.alipayForced.push(...Array(body.times || 1).fill(next));
        log(`mock Alipay: the gateway answers ${body.reply ? `a reply ${body.reply}` : `error ${body.errcode}`} next (${body.times || 1}x)`);
        return send(res, 200, { ok: true }), true;
      }
      const queue = body.api === 'phone' ? mock.forcedPhone : mock.forced;
      queue.push(...Array(body.times || 1).fill(body.errcode));
      log(`mock WeChat: ${body.api === 'phone' ? 'getuserphonenumber' : 'code2Session'} answers errcode ${body.errcode} next (${body.times || 1}x)`);
      return send(res, 200, { ok: true }), true;
    }
    if (!MOCK_API.has(route)) return false;
    let body;
    if (req.method === 'POST') {
      body = await readJson(req);
      if (body === undefined) return send(res, 200, { errcode: 47001, errmsg: 'data format error' }), true;
    }
    send(res, 200, mock.handle(req.method, route, Object.fromEntries(url.searchParams), body));
    return true;
  };
}

// The mock WeChat as its own HTTP server on 127.0.0.1: { mock, url, close() }.
async function serveMockWeChat({ port = 0, host = '127.0.0.1', log, ...options } = {}) {
  const http = require('http');
  const mock = new MockWeChat(options);
  const routes = mockRoutes(mock, log);
  const server = http.createServer((req, res) => {
    routes(req, res, new URL(req.url, 'http://localhost')).then((handled) => {
      if (!handled) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errcode: 40404, errmsg: 'no such mock WeChat route' }));
      }
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    mock,
    url: `http://${host}:${server.address().port}`,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// Keys for Alipay's gateway between the mock and the server, made once per process: the app's
// pair (private to the server, public to the mock) and "Alipay's" (private to the mock, public to
// the server). { mock, server }: the MockWeChat's `alipay` option and startServer's.
let alipayKeys = null;
function alipayTestKeys(appid = '2021000000000001') {
  if (!alipayKeys) {
    const pair = () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const app = pair();
    const platform = pair();
    alipayKeys = {
      mock: { appid, appPublicKey: app.publicKey, alipayPrivateKey: platform.privateKey },
      server: { appid, privateKey: app.privateKey, publicKey: platform.publicKey.export({ type: 'spki', format: 'der' }).toString('base64') },
    };
  }
  return alipayKeys;
}

module.exports = {
  alipayTestKeys,
  MockWeChat,
  mockRoutes,
  serveMockWeChat,
  mockPhoneFor,
  CODE_LIFETIME_MS,
  PHONE_CODE_LIFETIME_MS,
  ACCESS_TOKEN_LIFETIME_S,
  DEVTOOLS_OPENID,
  DOUYIN,
  ALIPAY_CODE_LIFETIME_MS,
  alipaySignContent,
};
