'use strict';
// npm run bench:server — logins/s and refreshes/s with p50/p99 latency, driven by autocannon:
// mp-session-server (its production build) on SQLite and on PostgreSQL, with 1 and 3 processes,
// beside the Node developer server it replaced (dev-server/ on nedb, taken from git at
// BASELINE_REV into a temporary directory), all in one run against one mock WeChat
// in a process of its own. A benchmark, not a test: figures depend on the machine, and on a
// 2-core machine the load generator, the mock, PostgreSQL and the servers share the cores, so
// requests/s there measure the machine as much as the server. "server CPU ms each" is the CPU
// the server processes spent per request (PostgreSQL's own CPU not included): that one compares.
//   bash scripts/with-postgres.sh node scripts/bench-server.js   (scripts/bench-server.sh does it)
const autocannon = require('autocannon');
const { execFileSync, spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { startServer } = require('./server-process.js');

const ROOT = path.join(__dirname, '..');
const BINARY = path.join(ROOT, 'target', 'server', 'mp-session-server');
const REQUESTS = Number(process.env.BENCH_REQUESTS || 3000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 48);
const POSTGRES = process.env.MP_SESSION_TEST_POSTGRES;
// The last commit before mp-session-server replaced the Node developer server: the baseline.
const BASELINE_REV = '552efa0342aeafbdc6c77373ffe27a65b714ab59';

// A child node process serving the mock WeChat; resolves to its URL.
function startMock() {
  const child = spawn(process.execPath, ['-e', `
    require(${JSON.stringify(path.join(ROOT, 'dev-server', 'mock-wechat.js'))}).serveMockWeChat().then((m) => console.log(m.url));
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => child.kill('SIGKILL'));
  return new Promise((resolve) => readline.createInterface({ input: child.stdout }).once('line', (url) => resolve({ url, child })));
}

async function issueCodes(mockUrl, n, tag) {
  const codes = [];
  for (let i = 0; i < n; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, n - i) }, (_, j) => fetch(`${mockUrl}/mock-wechat/login?openid=o-bench-${tag}-${i + j}`).then((r) => r.json())));
    codes.push(...batch.map((b) => b.code));
  }
  return codes;
}

// dev-server/ as it was at BASELINE_REV, with its one dependency installed beside it; null (and
// why) when this checkout lacks that commit (a shallow clone) or npm cannot install.
function nodeDevServerDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-node-dev-server-'));
  try {
    const tar = path.join(dir, 'dev-server.tar');
    execFileSync('git', ['-C', ROOT, 'archive', '--format=tar', '-o', tar, BASELINE_REV, 'dev-server'], { stdio: 'pipe' });
    execFileSync('tar', ['-xf', tar, '-C', dir]);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ private: true, dependencies: { '@seald-io/nedb': '4.1.2' } }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'pipe' });
    return { dir };
  } catch (error) {
    return { why: String(error.stderr || error.message).trim().split('\n')[0] };
  }
}

function startNodeDevServer(serverDir, mockUrl, dataDir) {
  const child = spawn(process.execPath, [path.join(serverDir, 'dev-server', 'server.js'), '--port', '0', '--data', dataDir], {
    env: { ...process.env, WECHAT_API_BASE: mockUrl, WECHAT_APPID: '', WECHAT_SECRET: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.once('exit', () => child.kill('SIGKILL'));
  return new Promise((resolve) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /developer server on (http:\/\/\S+)/.exec(line);
      if (match) {
        const exited = new Promise((done) => child.once('exit', done));
        resolve({ urls: [match[1]], pids: [child.pid], stop: () => (child.kill('SIGTERM'), exited) });
      }
    });
  });
}

async function startRust(mockUrl, dataDir, database, processes) {
  const servers = [];
  for (let i = 0; i < processes; i++) {
    servers.push(await startServer({
      binary: BINARY, dataDir, wechatUrl: mockUrl,
      args: [`--database=${database}`, '--auth-rate-per-address=0', '--auth-rate-per-openid=0', `--database-connections=${database.startsWith('sqlite') ? 4 : 10}`],
    }));
  }
  return { urls: servers.map((s) => s.url), pids: servers.map((s) => s.child.pid), stop: () => Promise.all(servers.map((s) => s.stop())) };
}

// CPU time (user + system, ms) the processes have used so far, from /proc (Linux).
function cpuMs(pids) {
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  return pids.reduce((sum, pid) => {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return sum + (Number(fields[11]) + Number(fields[12])) * tick;
  }, 0);
}

// `bodies` split over the processes, each driven by its own autocannon with its share of the
// connections; replies go to `onReply`. Returns { rps, p50, p99, failed }: p50 and p99 are the
// slowest process's (autocannon reports percentiles per run; they do not merge exactly).
async function load({ urls, pids }, route, bodies, onReply) {
  const started = process.hrtime.bigint();
  const cpuBefore = cpuMs(pids);
  // autocannon ends an `amount` run on its next one-second tick: time to the last reply instead.
  let lastReply = started;
  const shares = urls.map((_, i) => bodies.filter((_, j) => j % urls.length === i));
  const results = await Promise.all(urls.map((url, i) => {
    const queue = shares[i];
    return autocannon({
      url: url + route,
      connections: Math.max(1, Math.floor(CONNECTIONS / urls.length)),
      amount: queue.length,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      requests: [{
        setupRequest: (request) => ({ ...request, body: JSON.stringify(queue.pop()) }),
        onResponse: (status, body) => {
          lastReply = process.hrtime.bigint();
          onReply(status, body);
        },
      }],
    });
  }));
  const seconds = Number(lastReply - started) / 1e9;
  const cpuPerRequest = (cpuMs(pids) - cpuBefore) / bodies.length;
  const total = results.reduce((n, r) => n + r.requests.total, 0);
  return {
    rps: Math.round(total / seconds),
    cpuMsPerRequest: Number(cpuPerRequest.toFixed(2)),
    p50: Math.max(...results.map((r) => r.latency.p50)),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    failed: results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0),
  };
}

async function scenario(name, mock, start) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-bench-'));
  const server = await start(dataDir);
  const codes = await issueCodes(mock.url, REQUESTS, crypto.randomBytes(4).toString('hex'));
  const refreshTokens = [];
  const logins = await load(server, '/auth/login', codes.map((code) => ({ code })), (status, body) => {
    if (status === 200) refreshTokens.push(JSON.parse(body).refreshToken);
  });
  const refreshes = await load(server, '/auth/refresh', refreshTokens.map((refreshToken) => ({ refreshToken })), () => {});
  await server.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  const row = { name, logins, refreshes };
  const cell = (r) => `${String(r.rps).padStart(5)}/s p50 ${String(r.p50).padStart(3)} ms p99 ${String(r.p99).padStart(3)} ms, server CPU ${r.cpuMsPerRequest.toFixed(2)} ms each${r.failed ? ` (${r.failed} failed)` : ''}`;
  console.log(`${name.padEnd(44)} logins ${cell(logins)} · refreshes ${cell(refreshes)}`);
  return row;
}

function createPostgresDatabase(name) {
  execFileSync('psql', [`${POSTGRES}/postgres`, '-q', '-c', `CREATE DATABASE ${name}`], { stdio: 'pipe' });
  return `${POSTGRES}/${name}`;
}

async function main() {
  if (!fs.existsSync(BINARY)) throw new Error('target/server/mp-session-server is missing: run bash scripts/bench-server.sh');
  const mock = await startMock();
  console.log(`${REQUESTS} logins, then ${REQUESTS} refreshes (each refresh token once), ${CONNECTIONS} connections, ${os.cpus().length} cores; mock WeChat on ${mock.url}\n`);
  const rows = [];
  const baseline = nodeDevServerDir();
  if (baseline.dir) rows.push(await scenario('Node dev server (nedb), 1 process', mock, (dir) => startNodeDevServer(baseline.dir, mock.url, dir)));
  else console.log(`Node dev server row skipped: cannot check out ${BASELINE_REV.slice(0, 7)}'s dev-server/ (${baseline.why})`);
  if (baseline.dir) fs.rmSync(baseline.dir, { recursive: true, force: true });
  for (const processes of [1, 3]) {
    rows.push(await scenario(`mp-session-server, SQLite, ${processes} process${processes > 1 ? 'es' : ''}`, mock, (dir) => startRust(mock.url, dir, `sqlite://${dir}/bench.db?mode=rwc`, processes)));
  }
  if (POSTGRES) {
    for (const processes of [1, 3]) {
      const name = `bench_${processes}_${crypto.randomBytes(3).toString('hex')}`;
      rows.push(await scenario(`mp-session-server, PostgreSQL, ${processes} process${processes > 1 ? 'es' : ''}`, mock, (dir) => startRust(mock.url, dir, createPostgresDatabase(name), processes)));
    }
  } else {
    console.log('PostgreSQL rows skipped: run through scripts/bench-server.sh (it starts a throwaway cluster)');
  }
  const out = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, `server-${new Date().toISOString().slice(0, 10)}.json`), JSON.stringify({ requests: REQUESTS, connections: CONNECTIONS, rows }, null, 2));
  mock.child.kill('SIGTERM');
}

main().catch((error) => {
  console.error(`bench:server failed: ${error.message}`);
  process.exit(1);
});
