'use strict';
// Regenerates a fixture's package-lock.json with this machine's npm so that `npm ci` accepts it
// on a fresh machine, and checks the result the way CI will meet it (`npm ci --dry-run`).
//
//   node tests/frameworks/relock.js taro|uni-app [--fresh]
//
// By default the current lock seeds the resolution, so every version it pins stays where it is;
// `--fresh` resolves package.json anew (versions may move: run the framework tests after it).
// Why this is more than `npm install --package-lock-only` (tests/frameworks/README.md has the
// story): npm leaves out optional platform packages that this registry does not serve (Taro's
// `@tarojs/binding-darwin-arm64`, …) and then refuses its own lock in `npm ci` ("Missing: … from
// lock file"); older npm versions wrote them as entries without a version, which npm 11.19 refuses
// ("Invalid Version"). This script writes each such package as a complete entry instead: its
// version from the parent's optionalDependencies and the os/cpu/libc its name states, so npm ci
// sees the lock in sync and skips the package on every other platform, as it should.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { FIXTURES } = require('./build.js');

/** Entries of a lock's `packages` that have no version (npm's placeholders), links excepted. */
function versionlessEntries(lock) {
  return Object.entries(lock.packages || {})
    .filter(([key, entry]) => key !== '' && !entry.link && typeof entry.version !== 'string')
    .map(([key]) => key);
}

const OS_NAMES = ['aix', 'android', 'darwin', 'freebsd', 'linux', 'openbsd', 'openharmony', 'sunos', 'win32'];
const CPU_NAMES = ['arm', 'arm64', 'ia32', 'loong64', 'ppc64', 'riscv64', 's390x', 'x64'];
const LIBC = { gnu: 'glibc', musl: 'musl' };

/** The platform a napi-style package name states (`…-linux-arm64-gnu`), or null. */
function platformOfName(name) {
  const parts = name.split('/').pop().split('-');
  const osName = parts.find((part) => OS_NAMES.includes(part));
  const cpu = parts.find((part) => CPU_NAMES.includes(part));
  if (!osName || !cpu) return null;
  const libc = parts.map((part) => LIBC[part]).find(Boolean);
  return Object.assign({ os: [osName], cpu: [cpu] }, libc ? { libc: [libc] } : {});
}

/** Where node's resolution from `from` (a lock key) finds `name`, or null. */
function resolveIn(packages, from, name) {
  for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
    const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (packages[key]) return key;
    if (!dir) return null;
  }
}

/**
 * Adds a complete entry for every optional dependency npm left out of the lock (the registry does
 * not serve it). Returns the keys it added; throws for one whose name states no platform, since
 * that is no platform binary and its absence is a real problem.
 */
function fillUnservedOptionals(lock) {
  const packages = lock.packages;
  const added = [];
  for (const [key, entry] of Object.entries(packages)) {
    for (const [name, version] of Object.entries(entry.optionalDependencies || {})) {
      if (resolveIn(packages, key, name)) continue;
      const platform = platformOfName(name);
      if (!platform) throw new Error(`${name}@${version} (optional, of ${key || 'the root'}) is missing from the lock and names no platform`);
      const at = packages[`node_modules/${name}`] ? `${key}/node_modules/${name}` : `node_modules/${name}`;
      packages[at] = Object.assign({ version }, entry.dev ? { dev: true } : {}, { optional: true }, platform);
      added.push(`${at}@${version}`);
    }
  }
  lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => a.localeCompare(b, 'en')));
  return added;
}

function npm(args, cwd) {
  const result = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error || result.status !== 0) {
    throw new Error(`\`npm ${args.join(' ')}\` failed (exit ${result.status}):\n${(result.stderr || result.error.message).trim()}`);
  }
  return result.stdout.trim();
}

/** `npm ci --dry-run` on a copy of the lock: the check `npm ci` makes before installing anything. */
function checkLockAcceptsCi(packageJsonPath, lockPath) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-lock-check-'));
  try {
    fs.copyFileSync(packageJsonPath, path.join(dir, 'package.json'));
    fs.copyFileSync(lockPath, path.join(dir, 'package-lock.json'));
    npm(['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function relock(name, { fresh }) {
  const fixtureDir = path.join(__dirname, name);
  const lockPath = path.join(fixtureDir, 'package-lock.json');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mp-session-relock-${name}-`));
  try {
    fs.copyFileSync(path.join(fixtureDir, 'package.json'), path.join(dir, 'package.json'));
    if (!fresh && fs.existsSync(lockPath)) {
      const seed = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
      for (const key of versionlessEntries(seed)) delete seed.packages[key];
      fs.writeFileSync(path.join(dir, 'package-lock.json'), `${JSON.stringify(seed, null, 2)}\n`);
    }
    npm(['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], dir);
    const lock = JSON.parse(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8'));
    const added = fillUnservedOptionals(lock);
    const left = versionlessEntries(lock);
    if (left.length) throw new Error(`npm still wrote entries without a version: ${left.join(', ')}`);
    fs.writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
    checkLockAcceptsCi(path.join(fixtureDir, 'package.json'), lockPath);
    return added;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { versionlessEntries, platformOfName, fillUnservedOptionals, checkLockAcceptsCi };

if (require.main === module) {
  const args = process.argv.slice(2);
  const name = args.find((arg) => !arg.startsWith('--'));
  if (!FIXTURES[name]) {
    console.error(`usage: node tests/frameworks/relock.js ${Object.keys(FIXTURES).join('|')} [--fresh]`);
    process.exit(2);
  }
  try {
    const added = relock(name, { fresh: args.includes('--fresh') });
    console.log(`[relock] ${name}: lock written with npm ${npm(['--version'], __dirname)}; npm ci --dry-run accepts it`);
    for (const entry of added) console.log(`[relock]   not served by the registry, kept as a platform entry: ${entry}`);
  } catch (error) {
    console.error(`[relock] ${name}: ${error.message}`);
    process.exit(1);
  }
}
