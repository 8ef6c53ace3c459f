'use strict';
// The host adapter, one per client: every platform call the core asks for (storage,
// checkSession, login, the code exchange), the pages' requests and the core's timer, performed on
// the platform object (wx, or a test double) and answered with numbers and strings
// (docs/boundary.md). The page's own data (its options, body, files, headers) and the platform's
// tasks and answers stay here, referred to by number; the core decides everything. A warm request
// crosses four times: client.request, host.send, client.sent, host.respond.
const { MpSessionError } = require('./errors.js');

// Longest expiredWhen.bodyField value taken into wasm memory (options' strings are as long at most).
const MAX_BODY_CODE_LENGTH = 8192;
// Longest errMsg taken into wasm memory; a longer one becomes `<method>:fail`.
const MAX_ERRMSG_LENGTH = 1024;
// Longest wx.login code taken into wasm memory (real ones are 32 characters).
const MAX_CODE_LENGTH = 1024;
// Longest stored session and login reply taken into wasm memory, which never shrinks (ours are
// under 5 KB): a longer stored value is not ours, a longer reply is answered as an empty one.
const MAX_TEXT_LENGTH = 65536;

// The kinds of host.call, as src/wasm/platform.rs numbers them.
const GET_STORAGE = 1;
const SET_STORAGE = 2;
const REMOVE_STORAGE = 3;
const CHECK_SESSION = 4;
const LOGIN = 5;
const POST_JSON = 6; // the code exchange, a refresh, an account login
// A storage read's status: nothing stored, a string of ours, something else.
const STORED_NOTHING = 0;
const STORED_TEXT = 1;
const STORED_OTHER = 2;
// How a login answers in `status`: a code, Douyin's anonymousCode, or Alipay's authCode.
const CODE_ANONYMOUS = 1;
const CODE_AUTH = 2;
const METHODS = ['', 'getStorage', 'setStorage', 'removeStorage', 'checkSession', 'login', 'request'];

function defineOwn(target, key, value) {
  // Defined, not assigned: a setter a page put on Object.prototype never sees our options.
  Object.defineProperty(target, key, { value: value, enumerable: true, writable: true, configurable: true });
}

// The value at `path` of a response body, parsed if it is JSON text, when it is a number or a
// string: [number or NaN, string or undefined].
function bodyCode(data, path) {
  let node = data;
  if (typeof node === 'string') {
    try {
      node = JSON.parse(node);
    } catch (error) {
      return [NaN, undefined];
    }
  }
  for (const key of path) {
    if (node === null || typeof node !== 'object') return [NaN, undefined];
    node = node[key];
  }
  if (typeof node === 'number') return [node, undefined];
  if (typeof node === 'string' && node.length <= MAX_BODY_CODE_LENGTH) return [NaN, node];
  return [NaN, undefined];
}

// What a platform's fail callback (or a throw) said: its errMsg (or message) when it is a short
// string, else `<method>:fail`; and its errno, NaN when it has none.
function failureOf(method, error) {
  let errMsg;
  let errno = NaN;
  try {
    // Alipay fails with { error, errorMessage }.
    const text = error && (typeof error.errMsg === 'string' ? error.errMsg : typeof error.errorMessage === 'string' ? method + ':fail ' + error.errorMessage : error.message);
    if (typeof text === 'string' && text.length <= MAX_ERRMSG_LENGTH) errMsg = text;
    if (error && typeof error.errno === 'number') errno = error.errno;
    else if (error && typeof error.errNo === 'number') errno = error.errNo; // Douyin's spelling
    else if (error && typeof error.error === 'number') errno = error.error; // Alipay's
  } catch (e) {
    // A hostile error object: its text is not needed.
  }
  return [errMsg === undefined ? method + ':fail' : errMsg, errno];
}

// The Set-Cookie lines of a reply, however the platform gives them (WeChat's `cookies` array, or
// the header in any letter case, a string or an array; Alipay's `headers`), or undefined.
function setCookieLines(response) {
  const lines = [];
  const add = (value) => {
    if (typeof value === 'string') lines.push(value);
    else if (Array.isArray(value)) for (const item of value) if (typeof item === 'string') lines.push(item);
  };
  add(response.cookies);
  const header = response.header || response.headers;
  if (!lines.length && header && typeof header === 'object') {
    for (const key of Object.keys(header)) if (key.toLowerCase() === 'set-cookie') add(header[key]);
  }
  const text = lines.join('\n');
  return text && text.length <= MAX_TEXT_LENGTH ? text : undefined;
}

// The page's Cookie header with our session cookie (`ours`: 'sid=<token>') in place of any of
// the same name: the page's other cookies go along.
function withCookie(pageCookie, ours) {
  const name = ours.slice(0, ours.indexOf('=') + 1);
  const kept = typeof pageCookie === 'string' ? pageCookie.split(';').map((c) => c.trim()).filter((c) => c && !c.startsWith(name)) : [];
  kept.push(ours);
  return kept.join('; ');
}

// The options of one send: the page's own, with the core's URL and timeout and the token header
// (`token`: [name, value] or undefined) merged over the page's headers (in `headerKey`: `header`,
// or Alipay's `headers`).
function sendOptions(pageOptions, url, timeout, token, headerKey) {
  const options = {};
  for (const key of Object.keys(pageOptions)) defineOwn(options, key, pageOptions[key]);
  const pageHeader = pageOptions[headerKey];
  const header = {};
  let pageCookie;
  if (pageHeader !== null && typeof pageHeader === 'object') {
    // The SDK's header replaces the page's in any letter case: HTTP names are case-blind, and two
    // of them would send the page's stale token beside ours.
    const ours = token ? token[0].toLowerCase() : null;
    for (const key of Object.keys(pageHeader)) {
      if (key.toLowerCase() !== ours) defineOwn(header, key, pageHeader[key]);
      else pageCookie = pageHeader[key];
    }
  }
  // Cookie mode: the page's own cookies are kept beside the session cookie.
  if (token) defineOwn(header, token[0], token[0] === 'Cookie' ? withCookie(pageCookie, token[1]) : token[1]);
  defineOwn(options, 'url', url);
  defineOwn(options, 'timeout', timeout);
  defineOwn(options, headerKey, header);
  return options;
}

// A reply's HTTP status: `statusCode`, or Alipay's `status`; 0 when it has none.
function statusOf(response) {
  if (!response) return 0;
  if (typeof response.statusCode === 'number') return response.statusCode;
  return typeof response.status === 'number' ? response.status : 0;
}

// Alipay's my: getAuthCode instead of login, `headers` and `status` instead of `header` and
// `statusCode`, failures as { error, errorMessage }.
function isAlipay(platform) {
  try {
    return Boolean(platform) && typeof platform.getAuthCode === 'function' && typeof platform.login !== 'function';
  } catch (error) {
    return false;
  }
}

// The text of a login reply's body, read as text (stringified if a platform parsed it anyway),
// or '' when it is longer than MAX_TEXT_LENGTH.
function replyText(data) {
  if (data === undefined || data === null) return '';
  let text = data;
  if (typeof text !== 'string') {
    try {
      text = JSON.stringify(data);
    } catch (error) {
      return '';
    }
  }
  return typeof text === 'string' && text.length <= MAX_TEXT_LENGTH ? text : '';
}

function abortTask(task) {
  try {
    if (task && typeof task.abort === 'function') task.abort();
  } catch (e) {
    // What a page's task throws on abort changes nothing: the request is over.
  }
}

/**
 * The host of one page client on `platform`; `settle(entry, ok, value)` settles a page's call.
 * `forceLogin` is Douyin's tt.login `force` (show the login sheet to a user not logged in).
 * `path` is what the wasm Client is given (its `Host`); `start(client)` binds it to that Client,
 * `end()` forgets every request, aborts every task and clears the timer (dispose, a trapped
 * instance), and `request(client, kind, options, entry)` starts a page's request.
 */
function createHost(platform, settle, forceLogin) {
  const alipay = isAlipay(platform);
  const headerKey = alipay ? 'headers' : 'header';
  const requests = new Map(); // id → { kind, options, entry, answer: { op, response } | null }
  const tasks = new Map(); // op → the platform's task, for abort
  const headers = new Map(); // number → [name, value], the newest two sessions'
  let nextId = 1;
  let lastUrl = null; // the URL `client` holds as its latest request's
  let lastSentUrl = null; // the URL of `client`'s latest send, which it names no more
  let bodyPath = null; // expiredWhen.bodyField as a path, or null
  let cookieName = null; // cookie mode: the session cookie's name (replies' Set-Cookie go to the core)
  let client = null; // the live wasm Client: answers go to it only
  let timer = null;

  function clearTimer() {
    try {
      if (timer !== null) clearTimeout(timer);
    } catch (error) {
      // A replaced clearTimeout: the old timer fires into a tick that finds nothing due, or no client.
    }
    timer = null;
  }

  // platform[method](options) with success/fail, answered once through `answer(ok, value)`; a
  // missing method or a throw is a failure, as from the platform. Returns the platform's task.
  function invoke(method, options, answer) {
    let answered = false;
    const once = (ok) => (value) => {
      if (answered) return;
      answered = true;
      answer(ok, value);
    };
    const fail = once(false);
    try {
      defineOwn(options, 'success', once(true));
      defineOwn(options, 'fail', fail);
      const fn = platform[method];
      if (typeof fn !== 'function') return fail({ errMsg: method + ' is not available on this platform' });
      return fn.call(platform, options);
    } catch (error) {
      return fail(error);
    }
  }

  const path = {
    call(op, kind, text, more, timeout) {
      const to = client;
      const answered = (ok, status, answerText, errno, cookies) => {
        if (client === to) to.answered(Date.now(), op, ok, status, answerText, errno, cookies);
      };
      const method = kind === LOGIN && alipay ? 'getAuthCode' : METHODS[kind];
      const options = {};
      if (kind === GET_STORAGE || kind === SET_STORAGE || kind === REMOVE_STORAGE) defineOwn(options, 'key', text);
      if (kind === SET_STORAGE) defineOwn(options, 'data', more);
      if (kind === LOGIN && alipay) defineOwn(options, 'scopes', 'auth_base'); // silent: no consent sheet
      else if (kind === LOGIN) defineOwn(options, 'timeout', timeout);
      // tt.login's force defaults to true: without it a user not logged into Douyin sees its sheet.
      if (kind === LOGIN && typeof tt !== 'undefined') defineOwn(options, 'force', forceLogin);
      if (kind === POST_JSON) {
        defineOwn(options, 'url', text);
        defineOwn(options, 'method', 'POST');
        defineOwn(options, 'data', more);
        defineOwn(options, headerKey, { 'content-type': 'application/json' });
        // Read the body as text: the core decides what a malformed reply means.
        defineOwn(options, 'dataType', 'text');
        defineOwn(options, 'responseType', 'text');
        defineOwn(options, 'timeout', timeout);
      }
      invoke(method, options, (ok, response) => {
        if (!ok) {
          const [errMsg, errno] = failureOf(method, response);
          return answered(false, 0, errMsg, errno);
        }
        let status = 0;
        let answerText;
        let cookies;
        try {
          if (kind === GET_STORAGE) {
            const data = response ? response.data : undefined;
            if (data === undefined || data === null) status = STORED_NOTHING;
            else if (typeof data === 'string' && data.length <= MAX_TEXT_LENGTH) {
              status = STORED_TEXT;
              answerText = data;
            } else status = STORED_OTHER;
          } else if (kind === LOGIN) {
            // Douyin gives `code` only to a user logged into the Douyin app, `anonymousCode` always;
            // Alipay's getAuthCode gives `authCode`.
            let code = response ? (alipay ? response.authCode : response.code) : undefined;
            if (alipay) status = CODE_AUTH;
            else if (!(typeof code === 'string' && code) && response && typeof response.anonymousCode === 'string' && response.anonymousCode) {
              code = response.anonymousCode;
              status = CODE_ANONYMOUS;
            }
            if (typeof code === 'string' && code.length > MAX_CODE_LENGTH) return answered(false, 0, 'login:fail the code is longer than 1 KB', NaN);
            answerText = typeof code === 'string' ? code : '';
          } else if (kind === POST_JSON) {
            status = statusOf(response);
            answerText = replyText(response ? response.data : undefined);
            if (cookieName && response) cookies = setCookieLines(response);
          }
        } catch (error) {
          // An answer whose fields throw is judged by what could be read.
        }
        answered(true, status, answerText, NaN, cookies);
      });
    },
    timer(delay) {
      const to = client;
      clearTimer();
      timer = setTimeout(() => {
        timer = null;
        if (client === to) to.tick(Date.now());
      }, delay);
    },
    header(number, name, value) {
      headers.set(number, [name, value]);
      if (headers.size > 2) headers.delete(headers.keys().next().value);
    },
    send(id, op, url, header, timeout) {
      if (url === undefined) url = lastSentUrl;
      else lastSentUrl = url;
      const request = requests.get(id);
      const to = client;
      const sendFailed = (method, error) => {
        const [errMsg, errno] = failureOf(method, error);
        if (client === to) to.sendFailed(Date.now(), op, errMsg, errno);
      };
      if (!request) return sendFailed('request', { errMsg: 'request:fail the request is gone' });
      let options;
      try {
        options = sendOptions(request.options, url, timeout, headers.get(header), headerKey);
      } catch (error) {
        return sendFailed(request.kind, error);
      }
      let answered = false;
      const task = invoke(request.kind, options, (ok, response) => {
        answered = true;
        tasks.delete(op);
        if (!ok) return sendFailed(request.kind, response);
        let status = 0;
        let code = [NaN, undefined];
        let cookies;
        try {
          status = statusOf(response);
          if (bodyPath && response) code = bodyCode(response.data, bodyPath);
          if (cookieName && header && response) cookies = setCookieLines(response);
        } catch (e) {
          // A response whose fields throw is judged by what could be read.
        }
        request.answer = { op: op, response: response };
        if (client === to) to.sent(Date.now(), op, status, code[0], code[1], cookies);
      });
      if (!answered) tasks.set(op, task);
    },
    respond(id, op) {
      const request = requests.get(id);
      if (!request) return;
      requests.delete(id);
      const answer = request.answer;
      if (answer && answer.op === op) settle(request.entry, true, answer.response);
      else settle(request.entry, false, new MpSessionError('INTERNAL', 'mp-session internal error: response lost'));
    },
    reject(id, error) {
      const request = requests.get(id);
      if (!request) return;
      requests.delete(id);
      settle(request.entry, false, error);
    },
    abort(op) {
      const task = tasks.get(op);
      tasks.delete(op);
      abortTask(task);
    },
  };

  return {
    path,
    start(wasmClient) {
      client = wasmClient;
      lastUrl = null;
      lastSentUrl = null;
      const field = wasmClient.bodyField();
      bodyPath = typeof field === 'string' ? field.split('.') : null;
      const cookie = wasmClient.cookieName();
      cookieName = typeof cookie === 'string' ? cookie : null;
    },
    end() {
      client = null;
      clearTimer();
      requests.clear();
      for (const task of Array.from(tasks.values())) abortTask(task);
      tasks.clear();
    },
    request(wasmClient, kind, options, entry) {
      const id = nextId++;
      entry.request = id; // for abort()
      requests.set(id, { kind: kind, options: options, entry: entry, answer: null });
      // The URL crosses only when it differs from the previous request's (see Client.request).
      const url = options.url === lastUrl ? undefined : options.url;
      lastUrl = options.url;
      // wx.uploadFile always POSTs (it takes no method): never retried as if it were a GET.
      const method = kind === 'uploadFile' ? 'POST' : typeof options.method === 'string' ? options.method : undefined;
      try {
        wasmClient.request(Date.now(), id, url, method, typeof options.timeout === 'number' ? options.timeout : undefined);
      } catch (error) {
        requests.delete(id);
        lastUrl = null;
        throw error;
      }
    },
  };
}

module.exports = { createHost };
