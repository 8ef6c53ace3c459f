'use strict';
// Every committed package-lock.json must be one that `npm ci` accepts on a fresh machine of this
// kind. A cache of installed frameworks once hid a lock that it refuses (issue 17), so these checks
// read the locks themselves and ask this machine's npm, with nothing cached.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { FIXTURES } = require('../frameworks/build.js');
const { versionlessEntries, fillUnservedOptionals, platformOfName, checkLockAcceptsCi } = require('../frameworks/relock.js');

const ROOT = path.join(__dirname, '..', '..');
const PROJECTS = [{ name: 'the package', dir: ROOT, relock: 'npm install --package-lock-only' }].concat(
  Object.keys(FIXTURES).map((name) => ({ name: `fixture ${name}`, dir: path.join(ROOT, 'tests', 'frameworks', name), relock: `node tests/frameworks/relock.js ${name}` })));

for (const project of PROJECTS) {
  const lockPath = path.join(project.dir, 'package-lock.json');

  test(`${project.name}: package-lock.json has no entry without a version`, () => {
    const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
    const missing = versionlessEntries(lock);
    assert.deepEqual(missing, [], `${path.relative(ROOT, lockPath)}: npm ci refuses entries without a version ` +
      `("Invalid Version"): ${missing.join(', ')}; regenerate it with \`${project.relock}\``);
  });

  test(`${project.name}: npm ci --dry-run accepts package-lock.json`, () => {
    assert.doesNotThrow(() => checkLockAcceptsCi(path.join(project.dir, 'package.json'), lockPath),
      (error) => `${path.relative(ROOT, lockPath)}: ${error.message}\nregenerate it with \`${project.relock}\``);
  });
}

test('the lock check catches what once slipped through: a placeholder entry is named', () => {
  const lock = { packages: { '': {}, 'node_modules/a': { version: '1.0.0' }, 'node_modules/a/node_modules/@x/a-darwin-arm64': { dev: true, optional: true }, 'node_modules/b': { link: true, resolved: 'b' } } };
  assert.deepEqual(versionlessEntries(lock), ['node_modules/a/node_modules/@x/a-darwin-arm64']);
});

test('relock: an optional platform package the registry does not serve becomes a complete entry', () => {
  const lock = {
    packages: {
      '': {},
      'node_modules/@tarojs/binding': { version: '4.2.1', dev: true, optionalDependencies: { '@tarojs/binding-linux-x64-gnu': '4.2.1', '@tarojs/binding-linux-arm64-gnu': '4.2.1' } },
      'node_modules/@tarojs/binding-linux-x64-gnu': { version: '4.2.1', dev: true, optional: true },
    },
  };
  assert.deepEqual(fillUnservedOptionals(lock), ['node_modules/@tarojs/binding-linux-arm64-gnu@4.2.1']);
  assert.deepEqual(lock.packages['node_modules/@tarojs/binding-linux-arm64-gnu'], { version: '4.2.1', dev: true, optional: true, os: ['linux'], cpu: ['arm64'], libc: ['glibc'] });
  assert.deepEqual(versionlessEntries(lock), []);
  assert.deepEqual(platformOfName('@rollup/rollup-win32-ia32-msvc'), { os: ['win32'], cpu: ['ia32'] });
  assert.equal(platformOfName('left-pad'), null);
  assert.throws(() => fillUnservedOptionals({ packages: { '': { optionalDependencies: { 'left-pad': '1.0.0' } } } }), /left-pad@1\.0\.0 .* names no platform/);
});
