'use strict';
// npm run bench: mp-session side by side with wafer2-client-sdk (Tencent) and minapp-sdk (ifanr),
// each driven through its own public API in the same simulator against the same
// mp-session-server (behind the test proxy), in one run (each SDK in a process of its own, in V8 and in JavaScriptCore with the JIT off). Prints one table and writes it as JSON to bench/results/. Ratios are what we quote;
// absolute times depend on the machine.
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { startTestServer } = require('../tests/simulator/test-server.js');
const { createSimulator } = require('../tests/simulator/simulator.js');
const { SimStorage } = require('../tests/simulator/storage.js');
const run = require('util').promisify(require('child_process').execFile);

const root = path.join(__dirname, '..');
const STARTUP_RUNS = Number(process.env.BENCH_STARTUP_RUNS || 30);
const WARM_CALLS = Number(process.env.BENCH_WARM_CALLS || 50000);
const WARM_ROUNDS = 5;
const CALLERS = 100;
const THROUGHPUT_REQUESTS = Number(process.env.BENCH_REQUESTS || 1000);
const THROUGHPUT_ROUNDS = 5;
// What the SDK brings to a mini-program's package (what 构建 npm copies), per SDK.
const PEERS = {
  'mp-session': { dir: path.join(root, 'miniprogram_dist'), files: (f) => !f.endsWith('.d.ts') },
  'wafer2-client-sdk': { dir: path.join(root, 'node_modules', 'wafer2-client-sdk'), files: (f) => f.endsWith('.js') },
  // Its main entry (lib/index.js) is what 构建 npm bundles; lib/web.js is the browser build.
  'minapp-sdk': { dir: path.join(root, 'node_modules', 'minapp-sdk'), files: (f) => f === 'lib/index.js' },
};

// Each SDK is measured in V8 (Node) and in JavaScriptCore with its JIT off (Bun with
// BUN_JSC_useJIT=0): WeChat on iOS may not JIT, so JS and wasm are interpreted there.
const ENGINES = [
  { label: 'V8 (node)', command: process.execPath, env: {} },
  { label: 'JSC, JIT off (bun)', command: path.join(root, 'node_modules', '.bin', 'bun'), env: { BUN_JSC_useJIT: '0' } },
];

// Users differ per engine: WeChat allows ~100 code exchanges per user per minute, and wafer2's
// cold start alone makes 100.
const ENGINE_TAG = process.versions.bun ? 'jsc' : 'v8';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x, digits = 2) => Number(x.toFixed(digits));

function listFiles(dir, base = '') {
  return fs.readdirSync(path.join(dir, base), { withFileTypes: true }).flatMap((e) => {
    const rel = base ? `${base}/${e.name}` : e.name;
    return e.isDirectory() ? listFiles(dir, rel) : [rel];
  });
}

function shippedBytes(name) {
  const { dir, files } = PEERS[name];
  let raw = 0;
  let brotli = 0;
  for (const file of listFiles(dir).filter(files)) {
    const bytes = fs.readFileSync(path.join(dir, file));
    raw += bytes.length;
    // An already-compressed file (our .wasm.br) counts as it is.
    brotli += file.endsWith('.br') ? bytes.length : zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  }
  return { raw, brotli };
}

// A mini-program directory holding SDK `name` under miniprogram_npm/, as 构建 npm lays it out.
function makeBenchApp(name) {
  const appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-bench-'));
  const { dir, files } = PEERS[name];
  for (const file of listFiles(dir).filter(files)) {
    const target = path.join(appDir, 'miniprogram_npm', name, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(path.join(dir, file), target);
  }
  if (name === 'minapp-sdk') {
    // Its package.json main points into lib/; our simulator resolves <name>/index.js.
    fs.writeFileSync(path.join(appDir, 'miniprogram_npm', name, 'index.js'), "module.exports = require('./lib/index.js');\n");
  }
  return appDir;
}

// Each SDK behind one small interface, using only its public API.
const DRIVERS = {
  'mp-session': {
    load(sim) {
      const { createClient } = sim.require('mp-session');
      return sim.require('mp-session/loader.js').loadRuntime().then(() => createClient);
    },
    client(sim, url) {
      const auth = sim.require('mp-session').createClient({ baseUrl: url, allowInsecureHttp: true });
      return {
        ensureLogin: () => auth.ensureLogin(),
        // The same call made from inside the mini-program's realm, as a page makes it.
        pageEnsureLogin: sim.evaluate('(auth) => () => auth.ensureLogin()')(auth),
        pageRequest: sim.evaluate("(auth) => () => auth.request({ url: '/api/me' })")(auth),
        request: (route) => auth.request({ url: route }).then((res) => res.statusCode),
        authHeader: () => auth.ensureLogin().then((state) => ({ authorization: `Bearer ${state.token}` })),
      };
    },
  },
  'wafer2-client-sdk': {
    load(sim) {
      return Promise.resolve(sim.require('wafer2-client-sdk'));
    },
    // wafer2 has no ensureLogin: its README checks Session.get() and calls login when it is empty.
    client(sim, url) {
      const qcloud = sim.require('wafer2-client-sdk');
      qcloud.setLoginUrl(`${url}/wafer/login`);
      const login = () => new Promise((resolve, reject) => qcloud.loginWithCode({ success: resolve, fail: reject }));
      return {
        ensureLogin: () => {
          const session = qcloud.Session.get();
          return session ? Promise.resolve(session) : login();
        },
        pageEnsureLogin: sim.evaluate('(q, login) => () => { const s = q.Session.get(); return s ? Promise.resolve(s) : login(); }')(qcloud, login),
        pageRequest: sim.evaluate('(q, url) => () => new Promise((resolve) => q.request({ url, login: false, success: (res) => resolve(res.statusCode), fail: () => resolve(0) }))')(qcloud, `${url}/api/me`),
        request: (route) => new Promise((resolve) => qcloud.request({
          url: url + route, login: false, success: (res) => resolve(res.statusCode), fail: () => resolve('failed'),
        })),
        authHeader: () => Promise.resolve({ 'X-WX-Skey': qcloud.Session.get().skey }),
      };
    },
  },
  'minapp-sdk': {
    load(sim) {
      return Promise.resolve(sim.require('minapp-sdk'));
    },
    // Its login talks to ifanr's cloud (hserve API, clientID); the test server does not speak it.
    client: null,
  },
};

// One SDK, measured in a process of its own (so no SDK runs on a JIT warmed or a heap filled by
// another), against the one test server the parent started.
async function measure(name, url) {
  const driver = DRIVERS[name];
  const row = { shipped: shippedBytes(name) };
  const appDir = makeBenchApp(name);
  let openidCount = 0;
  const newSim = (storage = new SimStorage()) => createSimulator({ appDir, serverUrl: url, profile: 'ios', storage, openid: `o-bench-${name}-${ENGINE_TAG}-${++openidCount}` });
  const adminPost = (route) => fetch(url + route, { method: 'POST', body: '{}' });
  const stats = () => fetch(`${url}/admin/stats`).then((res) => res.json());

  if (driver.client) {
    // Warm ensureLogin with a valid stored session.
    {
      const sim = newSim();
      const client = driver.client(sim, url);
      await client.ensureLogin();
      // Timed inside the sandbox: calls and promises crossing node:vm realms cost more than the
      // SDKs themselves and would measure the simulator, not the SDK.
      const loop = sim.evaluate('(async function (call, n) { for (let i = 0; i < n; i++) await call(); })');
      await loop(client.pageEnsureLogin, WARM_CALLS); // warm-up, not counted
      const callsBefore = sim.timeline.length;
      const rates = [];
      for (let i = 0; i < WARM_ROUNDS; i++) {
        const t0 = process.hrtime.bigint();
        await loop(client.pageEnsureLogin, WARM_CALLS);
        rates.push(WARM_CALLS / (Number(process.hrtime.bigint() - t0) / 1e9));
      }
      const wxCallsPerCall = round((sim.timeline.length - callsBefore) / (WARM_CALLS * WARM_ROUNDS), 3);
      row.warm = { callsPerSecond: Math.round(median(rates)), wxCallsPerCall };
    }

    // Cold start: 100 callers at once on empty storage.
    {
      const sim = newSim();
      const client = driver.client(sim, url);
      const exchangesBefore = (await stats()).code2Session;
      const t0 = Date.now();
      const outcomes = await Promise.allSettled(Array.from({ length: CALLERS }, () => client.ensureLogin()));
      const wallMs = Date.now() - t0;
      row.cold = {
        wxLogin: sim.count('login'),
        exchanges: (await stats()).code2Session - exchangesBefore,
        failures: outcomes.filter((o) => o.status === 'rejected').length,
        wallMs,
      };
    }

    // Expiry storm: 100 requests at once after the server revokes every token.
    {
      const sim = newSim();
      const client = driver.client(sim, url);
      await client.ensureLogin();
      await adminPost('/admin/revoke-all');
      const loginsBefore = sim.count('login');
      const sendsBefore = sim.count('request');
      const t0 = Date.now();
      const statuses = await Promise.all(Array.from({ length: CALLERS }, () => client.request('/api/me').catch((e) => e.code || 'failed')));
      row.storm = {
        logins: sim.count('login') - loginsBefore,
        sends: sim.count('request') - sendsBefore,
        failures: statuses.filter((s) => s !== 200).length,
        wallMs: Date.now() - t0,
      };
    }

    // Request throughput through the SDK vs raw wx.request carrying the same token, alternating
    // rounds in one simulator so both see the same machine state.
    {
      const sim = newSim();
      const client = driver.client(sim, url);
      await client.ensureLogin();
      const header = await client.authHeader();
      // Senders and workers run in the sandbox, as a page's code does (see the warm loop).
      const raw = sim.evaluate('(url, header) => () => new Promise((resolve) => wx.request({ url, header, success: (res) => resolve(res.statusCode), fail: () => resolve(0) }))')(`${url}/api/me`, header);
      const workers = sim.evaluate(`(async function (send, total) {
        let next = 0;
        const worker = async () => { while (next++ < total) await send(); };
        await Promise.all([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(worker));
      })`);
      const burst = async (send) => {
        const t0 = process.hrtime.bigint();
        await workers(send, THROUGHPUT_REQUESTS);
        return THROUGHPUT_REQUESTS / (Number(process.hrtime.bigint() - t0) / 1e9);
      };
      const sdkRates = [];
      const rawRates = [];
      await burst(raw); // warm-up rounds, not counted
      await burst(client.pageRequest);
      for (let i = 0; i < THROUGHPUT_ROUNDS; i++) {
        rawRates.push(await burst(raw));
        sdkRates.push(await burst(client.pageRequest));
      }
      row.throughput = { sdkPerSecond: Math.round(median(sdkRates)), rawPerSecond: Math.round(median(rawRates)), ratio: round(median(sdkRates) / median(rawRates)) };
    }

    // Calls across the JS↔wasm boundary per warm request (every import and export counted).
    if (name === 'mp-session') {
      const sim = createSimulator({ appDir, serverUrl: url, profile: 'ios', storage: new SimStorage(), openid: `o-bench-crossings-${ENGINE_TAG}`, countCrossings: true });
      const client = driver.client(sim, url);
      await client.request('/api/me');
      const before = sim.crossings.total;
      for (let i = 0; i < 20; i++) await client.request('/api/me');
      row.crossingsPerRequest = (sim.crossings.total - before) / 20;
    }
  } else {
    row.note = "login not driven: it logs in against ifanr's cloud (hserve API), which the test server does not emulate";
  }

  // Start-up last: dozens of fresh runtimes (and wasm memories) would weigh on what follows.
  // Module load plus wasm instantiate (for us), in a fresh runtime each time.
  const startups = [];
  try {
    for (let i = 0; i < STARTUP_RUNS; i++) {
      const sim = newSim();
      const t0 = process.hrtime.bigint();
      await driver.load(sim);
      startups.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    row.startupMs = round(median(startups));
  } catch (error) {
    row.startupMs = null;
    row.startupError = error.message;
  }
  if (row.startupError) row.note = `its npm entry does not load in the mini-program runtime (${row.startupError}); ${row.note}`;
  fs.rmSync(appDir, { recursive: true, force: true });
  return row;
}

async function main() {
  if (process.argv[2] === '--measure') {
    const row = await measure(process.argv[3], process.argv[4]);
    process.stdout.write(JSON.stringify(row));
    process.exit(0);
  }
  // mp-session-server behind the test proxy, which also speaks wafer2's login protocol.
  const server = await startTestServer();
  const { url } = server;
  const byEngine = {};
  for (const engine of ENGINES) {
    const results = {};
    for (const name of Object.keys(PEERS)) {
      console.error(`[bench] measuring ${name} on ${engine.label}…`);
      const { stdout } = await run(engine.command, [__filename, '--measure', name, url], {
        env: Object.assign({}, process.env, engine.env), maxBuffer: 1 << 20,
      });
      results[name] = JSON.parse(stdout);
    }
    byEngine[engine.label] = results;
  }
  await server.close();
  report(byEngine);
}

function report(byEngine) {
  const engines = Object.keys(byEngine);
  const names = Object.keys(byEngine[engines[0]]);
  const cell = (results, name, pick) => {
    try {
      const v = pick(results[name]);
      return v === undefined || v === null ? 'n/a' : String(v);
    } catch (e) {
      return 'n/a';
    }
  };
  const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
  const sizeRows = [
    ['shipped, raw', (r) => kb(r.shipped.raw)],
    ['shipped, brotli', (r) => kb(r.shipped.brotli)],
  ];
  const rows = [
    ['start-up (median ms)', (r) => r.startupMs],
    ['JS<->wasm calls / request', (r) => r.crossingsPerRequest],
    ['warm ensureLogin / s', (r) => r.warm.callsPerSecond],
    ['  wx calls per call', (r) => r.warm.wxCallsPerCall],
    ['cold 100: wx.login', (r) => r.cold.wxLogin],
    ['cold 100: exchanges', (r) => r.cold.exchanges],
    ['cold 100: failures', (r) => r.cold.failures],
    ['cold 100: wall ms', (r) => r.cold.wallMs],
    ['storm 100: logins', (r) => r.storm.logins],
    ['storm 100: sends', (r) => r.storm.sends],
    ['storm 100: failures', (r) => r.storm.failures],
    ['storm 100: wall ms', (r) => r.storm.wallMs],
    ['requests / s (SDK)', (r) => r.throughput.sdkPerSecond],
    ['requests / s (raw)', (r) => r.throughput.rawPerSecond],
    ['throughput vs raw', (r) => r.throughput.ratio],
  ];
  const width = [24, ...names.map((n) => Math.max(n.length, 12))];
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ');
  const first = byEngine[engines[0]];
  console.log(line(['', ...names]));
  for (const [label, pick] of sizeRows) console.log(line([label, ...names.map((n) => cell(first, n, pick))]));
  for (const engine of engines) {
    console.log(`-- ${engine}`);
    for (const [label, pick] of rows) console.log(line([label, ...names.map((n) => cell(byEngine[engine], n, pick))]));
  }
  for (const name of names) if (first[name].note) console.log(`note: ${name}: ${first[name].note}`);

  // Issue 18's targets, against wafer2-client-sdk measured in the same run.
  const [v8, jsc] = engines.map((e) => byEngine[e]);
  const startupRatio = (results) => round(results['mp-session'].startupMs / results['wafer2-client-sdk'].startupMs);
  const ours = first['mp-session'];
  const wasmRaw = zlib.brotliDecompressSync(fs.readFileSync(path.join(PEERS['mp-session'].dir, 'mp_session_bg.wasm.br'))).length;
  const targets = {
    [`shipped brotli <= 26 KB (${kb(ours.shipped.brotli)})`]: ours.shipped.brotli <= 26 * 1024,
    [`raw wasm <= 60 KB (${kb(wasmRaw)})`]: wasmRaw <= 60 * 1024,
    [`JSC interpreter: start-up <= 6x wafer2's (${startupRatio(jsc)}x)`]: startupRatio(jsc) <= 6,
    [`JSC interpreter: throughput >= 0.75 of raw (${jsc['mp-session'].throughput.ratio})`]: jsc['mp-session'].throughput.ratio >= 0.75,
    [`V8: start-up <= 2.5x wafer2's (${startupRatio(v8)}x)`]: startupRatio(v8) <= 2.5,
    [`V8: throughput >= 0.85 of raw (${v8['mp-session'].throughput.ratio})`]: v8['mp-session'].throughput.ratio >= 0.85,
    [`warm request: <= 4 JS<->wasm calls (${ours.crossingsPerRequest})`]: ours.crossingsPerRequest <= 4,
    'cold: exactly 1 wx.login and 1 exchange (both engines)': [v8, jsc].every((r) => r['mp-session'].cold.wxLogin === 1 && r['mp-session'].cold.exchanges === 1),
    'storm: exactly 1 re-login (both engines)': [v8, jsc].every((r) => r['mp-session'].storm.logins === 1),
  };
  console.log('\ntargets (mp-session):');
  for (const [target, met] of Object.entries(targets)) console.log(`  ${met ? 'met    ' : 'NOT met'}  ${target}`);

  const dir = path.join(root, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify({ node: process.version, cpus: os.cpus().length, byEngine, targets }, null, 2));
  console.log(`\nJSON: ${path.relative(root, file)}`);
}

main().catch((error) => {
  console.error(`bench failed: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
