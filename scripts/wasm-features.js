'use strict';
// Validates a wasm file with every post-MVP feature disabled except mutable-globals, by decoding
// and validating it with wabt (not by trusting its target_features section).
const fs = require('fs');

const POST_MVP_FEATURES = [
  'exceptions', 'sat_float_to_int', 'sign_extension', 'simd', 'threads', 'function_references',
  'multi_value', 'tail_call', 'bulk_memory', 'reference_types', 'annotations', 'code_metadata',
  'gc', 'memory64', 'extended_const', 'relaxed_simd',
];

async function checkMvp(file) {
  const wabt = await require('wabt')();
  const features = { mutable_globals: true };
  for (const name of POST_MVP_FEATURES) features[name] = false;
  let module;
  try {
    module = wabt.readWasm(fs.readFileSync(file), Object.assign({ readDebugNames: false }, features));
    module.validate();
  } catch (error) {
    throw new Error(`${file} is not WebAssembly MVP (+mutable-globals), which iOS WeChat requires: ${error.message}`);
  } finally {
    if (module) module.destroy();
  }
}

module.exports = { checkMvp };

if (require.main === module) {
  checkMvp(process.argv[2]).then(() => console.log('MVP ok'), (e) => { console.error(e.message); process.exit(1); });
}
