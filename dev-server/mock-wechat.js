'use strict';
// An embedded stand-in for WeChat's side of the login: wx.login gets a one-time code here, and
// jscode2session exchanges it, with WeChat's rules: a code is valid five minutes and usable once,
// at most ~100 exchanges per user per minute, and the documented errcodes.
const crypto = require('crypto');

const CODE_LIFETIME_MS = 5 * 60 * 1000;
const RATE_LIMIT_PER_MINUTE = 100;
const DEVTOOLS_OPENID = 'o-devtools-user';

class MockWeChat {
  // acceptDeviceCodes: codes this mock did not issue (from wx.login in WeChat DevTools, which asks
  // the real WeChat) count as fresh codes of one DevTools user, still usable once. Off in tests.
  constructor({ appid = 'wx-mock-appid', secret = 'mock-secret', now = Date.now, acceptDeviceCodes = false } = {}) {
    this.acceptDeviceCodes = acceptDeviceCodes;
    this.appid = appid;
    this.secret = secret;
    this.now = now;
    this.codes = new Map(); // code → { openid, issuedAt, used }
    this.exchanges = new Map(); // openid → timestamps of recent exchanges
    this.blocked = new Set();
    this.forced = []; // errcodes to answer next, in order
  }

  // What wx.login would give the device of user `openid`.
  issueCode(openid) {
    const code = crypto.randomBytes(16).toString('hex');
    this.codes.set(code, { openid, issuedAt: this.now(), used: false });
    return code;
  }

  // Answers like GET https://api.weixin.qq.com/sns/jscode2session.
  code2Session({ appid, secret, js_code: code, grant_type: grantType }) {
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
    return {
      openid: entry.openid,
      session_key: crypto.randomBytes(16).toString('base64'),
    };
  }
}

MockWeChat.messages = {
  '-1': 'system error, please retry',
  40029: 'invalid code',
  40163: 'code been used',
  45011: 'api minute-quota reach limit',
  40226: 'high risk user',
};

module.exports = { MockWeChat, CODE_LIFETIME_MS };
