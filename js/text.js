'use strict';
// UTF-8 TextEncoder/TextDecoder for runtimes that lack them (WeChat on real devices, iOS
// JavaScriptCore). Only what wasm-bindgen's glue uses: encode(string), decode(bytes). The
// decoder accepts (and ignores) the options the glue passes, replacing bad bytes with U+FFFD.

function TextEncoderFallback() {}

TextEncoderFallback.prototype.encode = function encode(input) {
  const text = input === undefined ? '' : String(input);
  const out = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate cannot be encoded
    if (c < 0x80) {
      out.push(c);
    } else if (c < 0x800) {
      out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    } else if (c < 0x10000) {
      out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    } else {
      out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
  }
  return new Uint8Array(out);
};

function TextDecoderFallback() {}

// The WHATWG UTF-8 decoder: a broken sequence becomes one U+FFFD and the byte that broke it is
// read again, so the output matches TextDecoder's exactly.
TextDecoderFallback.prototype.decode = function decode(input) {
  if (input === undefined) return '';
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input.buffer || input);
  let out = '';
  let units = [];
  let needed = 0;
  let seen = 0;
  let codePoint = 0;
  let lower = 0x80;
  let upper = 0xbf;
  function emit(c) {
    if (c > 0xffff) {
      c -= 0x10000;
      units.push(0xd800 + (c >> 10), 0xdc00 + (c & 1023));
    } else {
      units.push(c);
    }
    if (units.length > 4096) {
      out += String.fromCharCode.apply(null, units);
      units = [];
    }
  }
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (needed === 0) {
      if (b <= 0x7f) {
        emit(b);
      } else if (b >= 0xc2 && b <= 0xdf) {
        needed = 1;
        codePoint = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
        needed = 2;
        codePoint = b & 0xf;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
        needed = 3;
        codePoint = b & 0x7;
      } else {
        emit(0xfffd);
      }
      continue;
    }
    if (b < lower || b > upper) {
      needed = seen = codePoint = 0;
      lower = 0x80;
      upper = 0xbf;
      emit(0xfffd);
      i--; // read this byte again as the start of a sequence
      continue;
    }
    lower = 0x80;
    upper = 0xbf;
    codePoint = (codePoint << 6) | (b & 0x3f);
    if (++seen === needed) {
      emit(codePoint);
      needed = seen = codePoint = 0;
    }
  }
  if (needed !== 0) emit(0xfffd);
  return out + String.fromCharCode.apply(null, units);
};

module.exports = {
  TextEncoder: typeof TextEncoder === 'function' ? TextEncoder : TextEncoderFallback,
  TextDecoder: typeof TextDecoder === 'function' ? TextDecoder : TextDecoderFallback,
  TextEncoderFallback: TextEncoderFallback,
  TextDecoderFallback: TextDecoderFallback,
};
