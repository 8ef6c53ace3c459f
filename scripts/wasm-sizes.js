'use strict';
// The wasm's function bodies by size, named from its name section: where the bytes go.
//
//   bash scripts/build.sh --names    # a build that keeps function names (target/pkg-names/)
//   node scripts/wasm-sizes.js [target/pkg-names/mp_session_bg.wasm] [how many, default 40]
//
// Prints the total code size, then the largest functions with their share of it.
const fs = require('fs');
const path = require('path');

function readU32(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at.pos++];
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return value;
    shift += 7;
  }
}

// Body sizes from the code section, in the order of the module's defined functions; their names
// from binaryen (which reads the name section and skips the imported functions).
async function functionSizes(bytes) {
  const at = { pos: 8 };
  const bodies = [];
  while (at.pos < bytes.length) {
    const id = bytes[at.pos++];
    const size = readU32(bytes, at);
    const end = at.pos + size;
    if (id === 10) {
      for (let n = readU32(bytes, at); n > 0; n--) {
        const length = readU32(bytes, at);
        bodies.push(length);
        at.pos += length;
      }
    }
    at.pos = end;
  }
  const binaryen = (await import('binaryen')).default;
  const module = binaryen.readBinary(bytes);
  const names = [];
  for (let i = 0; i < module.getNumFunctions(); i++) {
    const info = binaryen.getFunctionInfo(module.getFunctionByIndex(i));
    if (!info.module) names.push(info.name);
  }
  module.dispose();
  return bodies.map((size, i) => ({ name: names[i] || `#${i}`, size }));
}

if (require.main === module) {
  const file = process.argv[2] || path.join(__dirname, '..', 'target', 'pkg-names', 'mp_session_bg.wasm');
  const top = Number(process.argv[3] || 40);
  functionSizes(fs.readFileSync(file)).then((found) => {
    const sizes = found.sort((a, b) => b.size - a.size);
    const total = sizes.reduce((sum, f) => sum + f.size, 0);
    console.log(`${file}: ${total} B of code in ${sizes.length} functions`);
    for (const f of sizes.slice(0, top)) console.log(`${String(f.size).padStart(7)} ${(100 * f.size / total).toFixed(1).padStart(5)}%  ${f.name.replace(/\[[0-9a-f]{16}\]/g, '')}`);
  });
}

module.exports = { functionSizes };
