'use strict';
// The README's main command must keep working: the demo drives example-miniprogram/ through the
// login cycle and checks each step itself; here it must finish, and its output must hold no token.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { execFileSync } = require('child_process');
require('./helpers.js').requireBuiltPackage();

for (const profile of ['ios', 'android']) {
  test(`npm run demo's script completes the login cycle (${profile})`, () => {
    const output = execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'demo.js')], {
      encoding: 'utf8', env: Object.assign({}, process.env, { DEMO_PROFILE: profile }), timeout: 60000,
    });
    assert.match(output, /^done in \d+ ms: cold login.*a refresh without wx\.login.*phone login and profile, logout, a password login\.$/m);
    assert.match(output, /refresh: rotated \(no wx\.login\)/);
    assert.match(output, /ensureLogin\(\) → LOGIN_REQUIRED/);
    assert.match(output, /server: 3 code exchanges/, 'cold login, one re-login after revocation, the phone login');
    assert.match(output, /phone bound .*phone=1\d\d\*{4}\d{4}/, 'only the masked number is logged');
    assert.doesNotMatch(output, /Bearer|session_key"?\s*[:=]/);
  });
}
