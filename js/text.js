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

TextDecoderFallback.prototype.decode = function decode(input) {
  if (input === undefined) return '';
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input.buffer || input);
  let out = '';
  let chunk = [];
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    let c = 0xfffd;
    let size = 1;
    if (b < 0x80) {
      c = b;
    } else if (b >= 0xc2 && b <= 0xf4) {
      size = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
      let value = b & (0xff >> (size + 1));
      let valid = i + size <= bytes.length;
      for (let k = 1; valid && k < size; k++) {
        const next = bytes[i + k];
        valid = (next & 0xc0) === 0x80;
        value = (value << 6) | (next & 63);
      }
      const min = size === 2 ? 0x80 : size === 3 ? 0x800 : 0x10000;
      if (valid && value >= min && value <= 0x10ffff && !(value >= 0xd800 && value <= 0xdfff)) {
        c = value;
      } else {
        size = 1;
      }
    }
    i += size;
    if (c > 0xffff) {
      c -= 0x10000;
      chunk.push(0xd800 + (c >> 10), 0xdc00 + (c & 1023));
    } else {
      chunk.push(c);
    }
    if (chunk.length > 4096) {
      out += String.fromCharCode.apply(null, chunk);
      chunk = [];
    }
  }
  return out + String.fromCharCode.apply(null, chunk);
};

module.exports = {
  TextEncoder: typeof TextEncoder === 'function' ? TextEncoder : TextEncoderFallback,
  TextDecoder: typeof TextDecoder === 'function' ? TextDecoder : TextDecoderFallback,
  TextEncoderFallback: TextEncoderFallback,
  TextDecoderFallback: TextDecoderFallback,
};
