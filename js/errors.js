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

// Turns what the wasm client rejected with ({ code, message, … }) or threw into an MpSessionError.
function toMpSessionError(value) {
  if (isMpSessionError(value)) return value;
  if (value && typeof value.code === 'string' && typeof value.message === 'string' && !(value instanceof Error)) {
    return new MpSessionError(value.code, value.message, value);
  }
  // Anything else is a bug inside the SDK (a wasm trap, say): surface it, typed.
  const message = value && value.message ? value.message : String(value);
  return new MpSessionError('INTERNAL', 'mp-session internal error: ' + message);
}

module.exports = { MpSessionError, isMpSessionError, toMpSessionError };
