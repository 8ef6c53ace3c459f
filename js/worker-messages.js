'use strict';
// The messages between the page's thread and the Worker that runs the core (Alipay, whose
// MYWebAssembly exists only in a Worker). They cross as JSON text: whatever the host's postMessage
// does with undefined and NaN (JSON makes both null), the boundary's calls keep them, because the
// core reads "absent" and "no errno" from exactly those (docs/boundary.md).

const UNDEFINED = { u: 1 };
const NOT_A_NUMBER = { n: 1 };

// [args…] → JSON-safe [args…] (undefined and NaN replaced by markers; other values as they are).
function packArgs(args) {
  const out = [];
  for (let i = 0; i < args.length; i++) {
    const value = args[i];
    out.push(value === undefined ? UNDEFINED : typeof value === 'number' && value !== value ? NOT_A_NUMBER : value);
  }
  return out;
}

function unpackArgs(packed) {
  const out = [];
  for (let i = 0; i < packed.length; i++) {
    const value = packed[i];
    const marker = value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : null;
    if (marker && marker.length === 1 && marker[0] === 'u' && value.u === 1) out.push(undefined);
    else if (marker && marker.length === 1 && marker[0] === 'n' && value.n === 1) out.push(NaN);
    else out.push(value);
  }
  return out;
}

// An error as plain data: what toMpSessionError reads back (code, message, and the typed fields).
function plainError(error) {
  if (!error || typeof error !== 'object') return { message: String(error) };
  const plain = {};
  for (const key of ['code', 'message', 'retryable', 'errcode', 'errMsg', 'statusCode', 'option']) {
    try {
      if (error[key] !== undefined) plain[key] = error[key];
    } catch (e) {
      // A field that throws is left out.
    }
  }
  return plain;
}

// Alipay's postMessage takes a key-value object: the JSON text travels in one member.
function encode(message) {
  return { mpSession: JSON.stringify(message) };
}

// A message from the other side, or null when it is not one of ours.
function decode(data) {
  let message;
  try {
    message = JSON.parse(data.mpSession);
  } catch (error) {
    return null;
  }
  return message && typeof message === 'object' && typeof message.t === 'string' ? message : null;
}

module.exports = { packArgs, unpackArgs, plainError, encode, decode };
