'use strict';
// Builds a fixture app (tests/frameworks/<name>/) for one host (a target: WeChat, Douyin or Alipay) with
// its framework's own CLI against an mp-session tarball (`npm pack`). The framework's node_modules live in a cache outside the
// repository, keyed by everything that changes what `npm ci` installs (installKey below): `npm ci`
// runs only when one of those changes (or a previous install did not finish). Each build copies the fixture's sources
// into the cached workspace, installs the tarball there (`npm install --no-save --offline`), and
// runs the CLI there. One install serves every target of a fixture; each target's output is moved
// to out/<target>/ in the workspace, so the builds of one fixture do not overwrite each other.
//
//   node tests/frameworks/build.js taro|uni-app path/to/mp-session-x.y.z.tgz [target]
//
// Targets: taro weapp (default), tt or alipay; uni-app mp-weixin (default), mp-toutiao or mp-alipay.
//
// Environment: MP_SESSION_FRAMEWORKS_CACHE overrides the cache directory (default
// ${XDG_CACHE_HOME:-~/.cache}/mp-session/frameworks).
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { spawnSync } = require('child_process');

// Per fixture, its targets (the first is the default): the CLI command and where it writes.
const FIXTURES = {
  taro: {
    targets: {
      weapp: { command: ['taro', 'build', '--type', 'weapp'], output: 'dist' },
      tt: { command: ['taro', 'build', '--type', 'tt'], output: 'dist' },
      alipay: { command: ['taro', 'build', '--type', 'alipay'], output: 'dist' },
    },
  },
  'uni-app': {
    targets: {
      'mp-weixin': { command: ['uni', 'build', '-p', 'mp-weixin'], output: path.join('dist', 'build', 'mp-weixin') },
      'mp-toutiao': { command: ['uni', 'build', '-p', 'mp-toutiao'], output: path.join('dist', 'build', 'mp-toutiao') },
      'mp-alipay': { command: ['uni', 'build', '-p', 'mp-alipay'], output: path.join('dist', 'build', 'mp-alipay') },
    },
  },
};

// Where each target's output is kept (out/<target>/), outside what a build removes.
const OUT = 'out';
// What a run leaves in the workspace besides the fixture's sources.
const KEEP = new Set(['node_modules', '.installed', '.lock', OUT]);
// What is never copied from the fixture directory.
const SKIP = new Set(['node_modules', 'dist', OUT, '.DS_Store']);

function cacheRoot() {
  if (process.env.MP_SESSION_FRAMEWORKS_CACHE) return process.env.MP_SESSION_FRAMEWORKS_CACHE;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'mp-session', 'frameworks');
}

let npmVersionSeen;
function npmVersion() {
  if (!npmVersionSeen) {
    const result = spawnSync(npmCommand(), ['--version'], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`cannot run \`npm --version\`: ${result.error ? result.error.message : result.stderr}`);
    npmVersionSeen = result.stdout.trim();
  }
  return npmVersionSeen;
}

// What decides the installed tree: the lock, the npm that reads it, the node that runs install
// scripts and native bindings, and the platform that picks optional packages. A cache keyed by the
// lock alone once hid a lock that `npm ci` refuses on a fresh machine (issue 17).
function installKey(fixtureDir) {
  const lock = fs.readFileSync(path.join(fixtureDir, 'package-lock.json'));
  const parts = {
    lock: crypto.createHash('sha256').update(lock).digest('hex').slice(0, 16),
    npm: npmVersion(),
    node: process.version,
    platform: process.platform,
    arch: process.arch,
  };
  const hash = crypto.createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
  return { hash, parts };
}

// Runs a command, capturing stdout and stderr together; throws with the whole output on failure.
function run(file, args, cwd, log, env) {
  const started = Date.now();
  log.push(`$ ${[file].concat(args).join(' ')}  (in ${cwd})`);
  const result = spawnSync(file, args, {
    cwd,
    env: Object.assign({}, process.env, { CI: 'true', FORCE_COLOR: '0', NO_COLOR: '1' }, env),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = stripAnsi(`${result.stdout || ''}${result.stderr ? `\n[stderr]\n${result.stderr}` : ''}`);
  log.push(output.trimEnd());
  const seconds = (Date.now() - started) / 1000;
  log.push(`(${seconds.toFixed(1)} s, exit ${result.status}${result.signal ? `, signal ${result.signal}` : ''})`);
  if (result.error || result.status !== 0) {
    const error = new Error(`\`${[path.basename(file)].concat(args).join(' ')}\` failed in ${cwd}` +
      `${result.error ? `: ${result.error.message}` : ` (exit ${result.status})`}\n${output}`);
    error.log = log.join('\n');
    throw error;
  }
  return seconds;
}

// Progress bars (webpackbar) redraw with escape sequences: keep only the text.
function stripAnsi(text) {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '\n').replace(/\n{3,}/g, '\n\n');
}

// A directory lock so that two processes (node --test runs files in parallel) never build in the
// same workspace at once. A lock left by a dead process is taken over.
function withLock(dir, fn) {
  const lock = path.join(dir, '.lock');
  const deadline = Date.now() + 20 * 60 * 1000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      let owner = NaN;
      try {
        owner = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
      } catch (e) {
        // Being written right now, or left half-made: judged on the next turn.
      }
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${lock} is held by process ${owner}; remove it if that process is gone`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function copyTree(from, to, skip) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (skip && skip.has(entry.name)) continue;
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(src, dst);
    else if (entry.isFile()) fs.copyFileSync(src, dst);
  }
}

// Installs the tarball as a user's `npm install mp-session` would, without touching the
// workspace's package.json or lock (about 1 s for uni-app, 1.5 s for Taro, from npm's cache).
function installTarball(tarball, workspace, log) {
  const dest = path.join(workspace, 'node_modules', 'mp-session');
  fs.rmSync(dest, { recursive: true, force: true });
  const seconds = run(npmCommand(), ['install', '--no-save', '--offline', '--no-audit', '--no-fund', tarball], workspace, log);
  const pkg = JSON.parse(fs.readFileSync(path.join(dest, 'package.json'), 'utf8'));
  if (pkg.name !== 'mp-session') throw new Error(`${tarball} is ${pkg.name}, not mp-session`);
  return seconds;
}

// Installs the fixture's locked dependencies into its workspace, once per lock: a workspace
// without the marker (new, or an install that did not finish) is emptied and installed afresh.
// Workspaces of the fixture's earlier locks are removed then (each is 200-450 MB).
function ensureInstalled(name, fixtureDir, workspace, key, log) {
  const marker = path.join(workspace, '.installed');
  const keyText = Object.entries(key.parts).map(([part, value]) => `${part} ${value}`).join(', ');
  if (fs.existsSync(marker)) {
    log.push(`[frameworks] ${name}: cached dependencies in ${workspace} (key: ${keyText})`);
    return 0;
  }
  log.push(`[frameworks] ${name}: installing the locked dependencies into ${workspace} (key: ${keyText})`);
  for (const entry of fs.readdirSync(workspace)) if (entry !== '.lock') fs.rmSync(path.join(workspace, entry), { recursive: true, force: true });
  fs.copyFileSync(path.join(fixtureDir, 'package.json'), path.join(workspace, 'package.json'));
  fs.copyFileSync(path.join(fixtureDir, 'package-lock.json'), path.join(workspace, 'package-lock.json'));
  let seconds;
  try {
    seconds = run(npmCommand(), ['ci', '--no-audit', '--no-fund'], workspace, log);
  } catch (error) {
    error.message = `${name}: npm ${key.parts.npm} could not install tests/frameworks/${name}/package-lock.json; ` +
      `if npm refuses the lock itself, regenerate it with \`node tests/frameworks/relock.js ${name}\` ` +
      `(tests/frameworks/README.md says why)\n${error.message}`;
    throw error;
  }
  fs.writeFileSync(marker, JSON.stringify(Object.assign({ installedAt: new Date().toISOString(), seconds }, key.parts)) + '\n');
  const root = path.dirname(workspace);
  for (const entry of fs.readdirSync(root)) {
    const other = path.join(root, entry);
    if (entry.startsWith(`${name}-`) && other !== workspace && !fs.existsSync(path.join(other, '.lock'))) {
      fs.rmSync(other, { recursive: true, force: true });
    }
  }
  return seconds;
}

function npmCommand() {
  return process.platform === 'win32' ? 'npm.cmd' : 'npm';
}

/**
 * Builds tests/frameworks/<name> for `target` (by default its first: WeChat) with the framework's
 * CLI, with `tarballPath` installed as mp-session. Returns { outputDir (out/<target>/ in the
 * workspace), target, seconds (the CLI build), installSeconds (0 when cached), installKey (its
 * parts), workspace, log }; throws with the CLI's output when a step fails.
 */
function buildFixture(name, tarballPath, target) {
  const fixture = FIXTURES[name];
  if (!fixture) throw new Error(`unknown fixture ${name}: one of ${Object.keys(FIXTURES).join(', ')}`);
  if (target === undefined) target = Object.keys(fixture.targets)[0];
  const build = fixture.targets[target];
  if (!build) throw new Error(`unknown target ${target} of ${name}: one of ${Object.keys(fixture.targets).join(', ')}`);
  const tarball = path.resolve(tarballPath);
  if (!fs.existsSync(tarball)) throw new Error(`no tarball at ${tarball} (make one with \`npm pack\`)`);
  const log = [];
  const fixtureDir = path.join(__dirname, name);
  const key = installKey(fixtureDir);
  const workspace = path.join(cacheRoot(), `${name}-${key.hash}`);
  fs.mkdirSync(workspace, { recursive: true });
  return withLock(workspace, () => {
    const installSeconds = ensureInstalled(name, fixtureDir, workspace, key, log);
    // Sources: exactly the fixture's, every run (stale files and the previous output removed).
    for (const entry of fs.readdirSync(workspace)) {
      if (!KEEP.has(entry)) fs.rmSync(path.join(workspace, entry), { recursive: true, force: true });
    }
    copyTree(fixtureDir, workspace, SKIP);
    installTarball(tarball, workspace, log);
    const bin = path.join(workspace, 'node_modules', '.bin', build.command[0]);
    const seconds = run(bin, build.command.slice(1), workspace, log, { NODE_ENV: 'production' });
    const built = path.join(workspace, build.output);
    if (!fs.existsSync(path.join(built, 'app.json'))) {
      const error = new Error(`${name} (${target}): the build finished but ${built} has no app.json\n${log.join('\n')}`);
      error.log = log.join('\n');
      throw error;
    }
    const outputDir = path.join(workspace, OUT, target);
    fs.rmSync(outputDir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(outputDir), { recursive: true });
    fs.renameSync(built, outputDir);
    log.push(`[frameworks] ${name} (${target}): output moved to ${outputDir}`);
    return { outputDir, target, seconds, installSeconds, installKey: key.parts, workspace, log: log.join('\n') };
  });
}

module.exports = { buildFixture, cacheRoot, installKey, FIXTURES };

if (require.main === module) {
  const [name, tarball, target] = process.argv.slice(2);
  if (!name || !tarball) {
    console.error('usage: node tests/frameworks/build.js taro|uni-app path/to/mp-session.tgz [weapp|tt|alipay|mp-weixin|mp-toutiao|mp-alipay]');
    process.exit(2);
  }
  try {
    const result = buildFixture(name, tarball, target);
    console.log(result.log);
    console.log(`[frameworks] ${name} (${result.target}): built in ${result.seconds.toFixed(1)} s` +
      `${result.installSeconds ? ` (after a ${result.installSeconds.toFixed(1)} s npm ci)` : ''}: ${result.outputDir}`);
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
