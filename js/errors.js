'use strict';
// MpSessionError: every failure of the SDK, with a stable `code` to match on.

class MpSessionError extends Error {
  constructor(code, message, details) {
    super(message);
    this.name = 'MpSessionError';
    this.code = code;
    this.retryable = false;
    if (details) {
      for (const key of ['retryable', 'errcode', 'errMsg', 'statusCode', 'option']) {
        if (details[key] !== undefined) this[key] = details[key];
      }
    }
  }
}

// A marker check that still works when the package is bundled twice (two MpSessionError classes).
function isMpSessionError(value) {
  return Boolean(value) && value.name === 'MpSessionError' && typeof value.code === 'string';
}

// The core's errors cross the boundary as a code and fields ({ code, option, reason, errMsg,
// statusCode, errcode, during, afterMs, attempts }); their message text is made here, in the same
// words as the Rust error's Display (src/core/error.rs), so no formatting code ships in the wasm.
function http(e) {
  return '(HTTP ' + e.statusCode + (e.errcode !== undefined ? ', errcode ' + e.errcode : '') + ')';
}
const MESSAGES = {
  CONFIG_INVALID: (e) => 'invalid option `' + e.option + '`: ' + e.reason,
  WX_LOGIN_FAILED: (e) => 'wx.login failed: ' + e.errMsg,
  NETWORK: (e) => 'network error while ' + e.during + ': ' + e.errMsg,
  TIMEOUT: (e) => e.during + ' timed out after ' + e.afterMs + ' ms',
  LOGIN_REJECTED: (e) => 'the server rejected the login ' + http(e) + ': ' + e.errMsg,
  RATE_LIMITED: (e) => 'login rate limited ' + http(e) + ': ' + e.errMsg,
  USER_BLOCKED: (e) => "the user is blocked by WeChat's risk control (errcode 40226): " + e.errMsg,
  SERVER_ERROR: (e) => 'the server failed ' + http(e) + ' after ' + e.attempts + ' attempt(s): ' + e.errMsg,
  BAD_RESPONSE: (e) => 'unexpected server response (HTTP ' + e.statusCode + '): ' + e.reason,
  SESSION_EXPIRED: () => 'the server rejected the session even after a fresh login',
  LOGGED_OUT: () => 'logged out while this call was waiting for a login',
  LOGIN_REQUIRED: () => 'no valid session, and silentLogin is false: the user must log in (auth.login)',
  ABORTED: () => 'the request was aborted',
};

function messageOf(fields) {
  if (typeof fields.message === 'string') return fields.message;
  const render = Object.prototype.hasOwnProperty.call(MESSAGES, fields.code) ? MESSAGES[fields.code] : null;
  return render ? render(fields) : fields.code;
}

// Turns what the wasm client rejected with (a code and fields, or { code, message } from the
// loader) or threw into an MpSessionError.
function toMpSessionError(value) {
  if (isMpSessionError(value)) return value;
  if (value && typeof value.code === 'string' && !(value instanceof Error)) {
    return new MpSessionError(value.code, messageOf(value), value);
  }
  // Anything else is a bug inside the SDK (a wasm trap, say): surface it, typed.
  const message = value && value.message ? value.message : String(value);
  return new MpSessionError('INTERNAL', 'mp-session internal error: ' + message);
}

module.exports = { MpSessionError, isMpSessionError, toMpSessionError };
