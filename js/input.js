'use strict';
// What a page hands the SDK, read exactly once at the boundary into plain values, so no page code
// (a getter, a Proxy trap, an inherited property) ever runs while the wasm core is on the stack.
// Own enumerable properties only; `__proto__` as a key is refused (copied, it would set the
// copy's prototype and smuggle inherited options). Whatever the page's objects throw becomes a
// CONFIG_INVALID error naming the option.
const { MpSessionError } = require('./errors.js');

// Sizes checked before anything is copied into wasm memory, which never shrinks.
const MAX_URL_LENGTH = 8192;
const MAX_STRING_LENGTH = 8192;
const MAX_DEPTH = 4;
const MAX_ITEMS = 256;
// A login payload, as JSON (in UTF-16 units here; the core counts the UTF-8 bytes).
const MAX_PAYLOAD_LENGTH = 4096;
// createClient's options as JSON (in UTF-16 units).
const MAX_OPTIONS_LENGTH = 65536;

function invalid(option, reason) {
  return new MpSessionError('CONFIG_INVALID', 'invalid option `' + option + '`: ' + reason, { option: option });
}

function describe(error) {
  return error && typeof error.message === 'string' ? error.message : String(error);
}

// The own enumerable string keys of `value`, read once.
function keysOf(value, name) {
  try {
    return Object.keys(value);
  } catch (error) {
    throw invalid(name, 'its properties could not be listed (' + describe(error) + ')');
  }
}

function readProperty(value, key, name) {
  try {
    return value[key];
  } catch (error) {
    throw invalid(name, 'reading it threw (' + describe(error) + ')');
  }
}

// A plain copy of a JSON-like value: objects and arrays copied key by key (a getter runs once,
// here), strings bounded, functions and other objects refused. `json`: JSON values only, so
// undefined and non-finite numbers are refused too (JSON.stringify would drop or null them).
function plainValue(value, name, depth, json) {
  if (json && (value === undefined || (typeof value === 'number' && !isFinite(value)))) {
    throw invalid(name, 'must be a JSON value (a string, a finite number, true, false, null, an array or an object)');
  }
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    if (value.length > MAX_STRING_LENGTH) throw invalid(name, 'is longer than 8 KB');
    return value;
  }
  if (typeof value !== 'object' || depth >= MAX_DEPTH) throw invalid(name, 'must be plain data (strings, numbers, arrays, objects)');
  let isArray;
  try {
    isArray = Array.isArray(value);
  } catch (error) {
    throw invalid(name, 'is a revoked or broken Proxy');
  }
  if (isArray) {
    const length = readProperty(value, 'length', name);
    if (!(length <= MAX_ITEMS)) throw invalid(name, 'has more than ' + MAX_ITEMS + ' items');
    const copy = [];
    for (let i = 0; i < length; i++) copy.push(plainValue(readProperty(value, i, name), name + '[' + i + ']', depth + 1, json));
    return copy;
  }
  return plainObject(value, name, depth, (v, path, d) => plainValue(v, path, d, json));
}

// A copy of `value`'s own enumerable properties, each converted by `convert`, on a prototype-free
// object (a setter a page put on Object.prototype cannot see the copy being filled).
function plainObject(value, name, depth, convert) {
  const copy = Object.create(null);
  const keys = keysOf(value, name);
  if (keys.length > MAX_ITEMS) throw invalid(name, 'has more than ' + MAX_ITEMS + ' properties');
  for (const key of keys) {
    const path = name ? name + '.' + key : key;
    if (key === '__proto__') throw invalid(path, '`__proto__` is not accepted as a key');
    copy[key] = convert(readProperty(value, key, path), path, depth + 1);
  }
  return copy;
}

// JSON.stringify of a plain copy; what a page's toJSON on a prototype throws or returns instead of
// text is CONFIG_INVALID naming `name`.
function toJson(copy, name, replacer) {
  let text;
  try {
    text = JSON.stringify(copy, replacer);
  } catch (error) {
    throw invalid(name, 'could not be written as JSON (' + describe(error) + ')');
  }
  if (typeof text !== 'string') throw invalid(name, 'could not be written as JSON');
  return text;
}

// createClient's options: { platform, wasmPath, workerPath, forceHostLogin, core, error } where `core` is the JSON text of a
// plain copy for the wasm core, which reads it by its table of options and names any unknown or
// mistyped option itself. Never throws: a bad object becomes `error`.
function readClientOptions(options) {
  const read = { platform: undefined, wasmPath: undefined, workerPath: undefined, forceHostLogin: undefined, core: 'null', error: null };
  if (options === null || typeof options !== 'object') return read; // the core says what it needs
  try {
    const copy = plainObject(options, '', 0, (value, path, depth) => {
      if (path === 'platform') read.platform = value; // used as it is: it is the platform
      else if (path === 'wasmPath') read.wasmPath = value;
      else if (path === 'forceHostLogin') read.forceHostLogin = value;
      else if (path === 'workerPath') read.workerPath = value;
      else return plainValue(value, path, depth);
      return undefined;
    });
    delete copy.platform;
    delete copy.wasmPath;
    delete copy.forceHostLogin;
    delete copy.workerPath;
    // JSON has no NaN or Infinity (stringify writes null, which would mean "the default"): they
    // cross as strings, which the core refuses as not numbers. undefined members are left out,
    // as absent ones are.
    read.core = toJson(copy, 'options', (key, value) => (typeof value === 'number' && !isFinite(value) ? String(value) : value));
    if (read.core.length > MAX_OPTIONS_LENGTH) throw invalid('options', 'are larger than 64 KB as JSON');
  } catch (error) {
    read.error = error;
  }
  return read;
}

// The options of request/uploadFile/downloadFile: a plain copy with a bounded url, whose `header`
// is copied too (the shim merges the token into it). Other values (data, formData, callbacks)
// are handed on to the platform as the page gave them. The url, method and timeout the core
// reads are checked for their kind here; what they mean is the core's to say.
function readRequestOptions(options) {
  if (options === null || typeof options !== 'object') {
    throw invalid('options', 'request needs an options object with a url, like wx.request');
  }
  const copy = plainObject(options, '', 0, (value, path, depth) => {
    if (path === 'header') return value === null || value === undefined ? value : plainValue(value, path, depth);
    if (path === 'url' && typeof value === 'string' && value.length > MAX_URL_LENGTH) throw invalid('url', 'is longer than 8 KB');
    return value;
  });
  if (typeof copy.url !== 'string') throw invalid('url', 'must be a string');
  if (copy.method !== undefined && copy.method !== null && typeof copy.method !== 'string') throw invalid('method', "must be a string such as 'GET'");
  if (copy.timeout !== undefined && copy.timeout !== null && typeof copy.timeout !== 'number') throw invalid('timeout', 'must be a number of milliseconds');
  return copy;
}

// ensureLogin's options: { force, payload, freshKey }, where `payload` is the JSON text of a plain
// copy of the page's payload (undefined without one). A login with a payload is always forced.
function readLoginOptions(options) {
  if (options === null || options === undefined) return { force: false, payload: undefined, freshKey: false };
  if (typeof options !== 'object') throw invalid('ensureLogin', 'takes an options object such as { force: true }');
  const copy = plainObject(options, '', 0, (value, path) => (path === 'payload' ? readPayload(value) : value));
  for (const key of keysOf(copy, '')) {
    if (key !== 'force' && key !== 'payload' && key !== 'freshSessionKey') {
      throw invalid(key, 'is not an option of ensureLogin (known options: force, payload, freshSessionKey)');
    }
  }
  const freshKey = Boolean(copy.freshSessionKey);
  if (freshKey && (copy.payload !== undefined || copy.force)) {
    throw invalid('freshSessionKey', 'goes alone: it checks the session_key, then the page sends its payload login');
  }
  if (copy.payload === undefined) return { force: Boolean(copy.force), payload: undefined, freshKey };
  if (copy.force !== undefined && copy.force !== true) {
    throw invalid('force', 'a login with a payload always makes its own exchange: pass force: true or leave force out');
  }
  return { force: true, payload: copy.payload, freshKey: false };
}

// login's options: { path, data } with `data` as the JSON text of a plain copy. Its values (a
// password, an SMS code) are never put in a message.
function readAccountLogin(options) {
  if (options === null || typeof options !== 'object') {
    throw invalid('login', "takes an options object such as { path: '/auth/password', data: { username, password } }");
  }
  const copy = plainObject(options, '', 0, (value, path) => (path === 'data' && value !== undefined ? objectJson(value, 'data', '{ username, password }', () => {}) : value));
  for (const key of keysOf(copy, '')) {
    if (key !== 'path' && key !== 'data') throw invalid(key, 'is not an option of login (known options: path, data)');
  }
  if (typeof copy.path !== 'string' || copy.path.length > MAX_URL_LENGTH) throw invalid('path', "must be a path such as '/auth/password'");
  if (copy.data === undefined) throw invalid('data', 'is required: the object posted to path, such as { username, password }');
  return { path: copy.path, data: copy.data };
}

// The exchange's extra members, e.g. { phoneCode }: an object of JSON values with no `code`,
// returned as JSON text. Its values are never put in a message.
function readPayload(value) {
  if (value === null || value === undefined) return undefined;
  return objectJson(value, 'payload', '{ phoneCode }', (copy) => {
    if ('code' in copy) throw invalid('payload.code', "is reserved: the exchange sends wx.login's code under that name");
  });
}

// An object of JSON values (a payload, login()'s data) as JSON text of at most 4 KB; `check`
// may refuse the copy. Its values are never put in a message.
function objectJson(value, name, example, check) {
  const copy = value !== null && typeof value === 'object' ? plainValue(value, name, 0, true) : null;
  if (copy === null || Array.isArray(copy)) throw invalid(name, 'must be an object of JSON values, such as ' + example);
  check(copy);
  const text = toJson(copy, name);
  if (text.length > MAX_PAYLOAD_LENGTH) throw invalid(name, 'is larger than 4 KB as JSON');
  return text;
}

module.exports = { readClientOptions, readRequestOptions, readLoginOptions, readAccountLogin };
