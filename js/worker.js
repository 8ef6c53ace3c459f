'use strict';
// The core inside a Worker (Alipay: MYWebAssembly exists only there). The page's thread keeps the
// platform calls and the pages' requests (js/worker-runtime.js); this script holds the wasm
// Clients and carries the boundary's calls both ways (docs/boundary.md), one message each.
//
//   page → worker: start { wasmPath } · new { id, core, seed } · call { id, m, a, n? } ·
//                  free { id } · ping
//   worker → page: ready { error? } · created { id, bodyField, cookieName } or { id, error } ·
//                  reply { n, ok, value } · host { id, m, a } · event { id, event } · trap · pong
/* global worker */

const { loadRuntime } = require('./loader.js');
const { packArgs, unpackArgs, plainError, encode, decode } = require('./worker-messages.js');

const HOST_METHODS = ['call', 'timer', 'header', 'send', 'respond', 'reject', 'abort'];
const CLIENT_METHODS = ['ensureLogin', 'login', 'logout', 'request', 'abort', 'answered', 'sent', 'sendFailed', 'tick'];

const clients = new Map(); // id → the wasm Client
let runtime = null;

function post(message) {
  worker.postMessage(encode(message));
}

// What the wasm Client of page client `id` is given as its host: each call becomes a message.
function hostOf(id) {
  const host = {};
  for (const m of HOST_METHODS) {
    host[m] = function () {
      const args = Array.prototype.slice.call(arguments);
      if (m === 'reject') args[1] = plainError(args[1]);
      post({ t: 'host', id: id, m: m, a: packArgs(args) });
    };
  }
  return host;
}

function start(wasmPath) {
  loadRuntime(wasmPath).then((rt) => {
    runtime = rt;
    rt.onTrap.push((trap) => post({ t: 'trap', message: trap && trap.message ? trap.message : String(trap) }));
    post({ t: 'ready' });
  }, (error) => post({ t: 'ready', error: plainError(error) }));
}

function create(id, core, seed) {
  try {
    const client = new runtime.Client(core, seed, (event) => post({ t: 'event', id: id, event: event }), hostOf(id));
    clients.set(id, client);
    post({ t: 'created', id: id, bodyField: client.bodyField(), cookieName: client.cookieName() });
  } catch (error) {
    post({ t: 'created', id: id, error: plainError(error) });
  }
}

function call(id, m, args, n) {
  const client = clients.get(id);
  let answer;
  try {
    if (!client || CLIENT_METHODS.indexOf(m) < 0) throw { code: 'INTERNAL', message: 'mp-session internal error: no client ' + id + ' for ' + m };
    answer = client[m].apply(client, args);
  } catch (error) {
    if (n !== undefined) post({ t: 'reply', n: n, ok: false, value: plainError(error) });
    return;
  }
  if (n === undefined) return;
  Promise.resolve(answer).then(
    (value) => post({ t: 'reply', n: n, ok: true, value: value }),
    (error) => post({ t: 'reply', n: n, ok: false, value: plainError(error) }),
  );
}

worker.onMessage((data) => {
  const message = decode(data);
  if (!message) return;
  if (message.t === 'ping') post({ t: 'pong' });
  else if (message.t === 'start') start(message.wasmPath);
  else if (message.t === 'new') create(message.id, message.core, message.seed);
  else if (message.t === 'call') call(message.id, message.m, unpackArgs(message.a), message.n);
  else if (message.t === 'free') {
    const client = clients.get(message.id);
    clients.delete(message.id);
    if (client && runtime && !runtime.trap) client.free();
  }
});
