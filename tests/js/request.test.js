'use strict';
// auth.request / uploadFile / downloadFile of the built package, in the simulator, against the
// developer server over real HTTP: expiry storms, the concurrency cap, token scoping.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startWorld, launch, admin, settle, rejection } = require('./helpers.js');

for (const profile of ['ios', 'android']) {
  describe(`requests (${profile})`, () => {
    let world;
    before(async () => { world = await startWorld(); });
    after(() => world.close());

    test('a request made before any login waits for it and carries the token', async () => {
      const { sim, client } = launch(world, profile);
      const res = await client().request({ url: '/api/me' });
      assert.equal(res.statusCode, 200);
      assert.match(res.data.userId, /^[0-9a-f]{12}$/);
      assert.equal(sim.count('login'), 1);
    });

    test('a warm request crosses JS↔wasm at most 4 times: request, send, sent, respond (docs/boundary.md)', async (t) => {
      const { sim, client } = launch(world, profile, { countCrossings: true });
      const auth = client();
      await auth.request({ url: '/api/me' }); // the login, the timer and the URL's first crossing
      const calls = 20;
      const before = { total: sim.crossings.total, byName: Object.assign({}, sim.crossings.byName) };
      for (let i = 0; i < calls; i++) assert.equal((await auth.request({ url: '/api/me', header: { 'X-Trace': String(i) } })).statusCode, 200);
      const perRequest = (sim.crossings.total - before.total) / calls;
      const which = Object.entries(sim.crossings.byName).map(([name, n]) => [name, n - (before.byName[name] || 0)]).filter(([, n]) => n > 0);
      t.diagnostic(`${perRequest} crossings per warm request: ${which.map(([name, n]) => `${name} ×${n / calls}`).join(', ')}`);
      assert.ok(perRequest <= 4, `${perRequest} crossings per warm request (${JSON.stringify(which)})`);
      // A new URL crosses once more (its text), then rides along again.
      const mark = sim.crossings.total;
      await auth.request({ url: '/api/me?other' });
      assert.ok(sim.crossings.total - mark <= 5, `${sim.crossings.total - mark} crossings for a request to a new URL`);
    });

    test('50 concurrent requests after the server revokes every token: one re-login, 50 × 200', async (t) => {
      const { sim, client } = launch(world, profile);
      const auth = client();
      await auth.ensureLogin();
      await admin(world.url, '/admin/revoke-all', {});
      const before = await admin(world.url, '/admin/stats');
      const results = await Promise.all(Array.from({ length: 50 }, () => auth.request({ url: '/api/me' })));
      const stats = await admin(world.url, '/admin/stats');
      assert.deepEqual([...new Set(results.map((r) => r.statusCode))], [200]);
      assert.equal(sim.count('login'), 2, 'the cold login and exactly one re-login');
      assert.equal(stats.loginsGranted - before.loginsGranted, 1);
      const sends = stats.apiCalls - before.apiCalls;
      assert.ok(sends <= 100, `each request sent at most twice (${sends} sends)`);
      t.diagnostic(`storm: ${stats.loginsGranted - before.loginsGranted} re-login, ${sends} sends, ${stats.unauthorized - before.unauthorized} answered 401`);
    });

    test('a server that always answers 401: SESSION_EXPIRED with at most 2 logins', async () => {
      const { sim, client } = launch(world, profile);
      const error = await rejection(client().request({ url: '/api/never' }));
      assert.equal(error.code, 'SESSION_EXPIRED');
      assert.ok(sim.count('login') <= 2, `${sim.count('login')} logins`);
      assert.equal(sim.count('request'), 2 + sim.count('login'), 'one send, one replay, plus the logins');
    });

    test('30 concurrent requests under the default cap: the server never sees more than 10 at once', async (t) => {
      const { client } = launch(world, profile);
      const auth = client();
      await auth.ensureLogin();
      await admin(world.url, '/admin/reset-in-flight', {});
      let settled = 0;
      const all = Array.from({ length: 30 }, () => auth.request({ url: '/api/slow' }).then((r) => { settled++; return r; }));
      // Release the held requests batch by batch until all 30 are through.
      for (let i = 0; i < 1000 && settled < 30; i++) {
        const { held } = await admin(world.url, '/admin/stats');
        if (held > 0) await admin(world.url, '/admin/release', {});
        else await new Promise((resolve) => setImmediate(resolve));
      }
      const results = await Promise.all(all);
      const stats = await admin(world.url, '/admin/stats');
      assert.deepEqual([...new Set(results.map((r) => r.statusCode))], [200]);
      assert.ok(stats.maxApiInFlight <= 10, `max in flight ${stats.maxApiInFlight}`);
      assert.equal(stats.maxApiInFlight, 10, 'the cap is used fully');
      t.diagnostic(`cap: 30 requests, at most ${stats.maxApiInFlight} in flight at the server`);
    });

    test('no token goes to an untrusted origin; a trusted one gets it', async () => {
      const http = require('http');
      const seen = [];
      const other = http.createServer((req, res) => { seen.push(req.headers.authorization); res.end('{}'); });
      await new Promise((resolve) => other.listen(0, '127.0.0.1', resolve));
      const otherOrigin = `http://127.0.0.1:${other.address().port}`;
      try {
        const { client } = launch(world, profile);
        await client().request({ url: `${otherOrigin}/collect` });
        await client({ trustedOrigins: [otherOrigin] }).request({ url: `${otherOrigin}/collect` });
        assert.equal(seen[0], undefined);
        assert.match(seen[1], /^Bearer \S+$/);
      } finally {
        other.close();
      }
    });

    test('other statuses resolve as responses; transport failures reject NETWORK', async () => {
      const { sim, client } = launch(world, profile);
      const auth = client();
      const missing = await auth.request({ url: '/api/nothing-here' });
      assert.equal(missing.statusCode, 404);
      sim.faults.request.push('fail');
      const error = await rejection(auth.request({ url: '/api/echo', method: 'POST', data: { a: 1 } }));
      assert.equal(error.code, 'NETWORK');
    });

    test('slow and lost responses: a delay within the timeout succeeds, past it or dropped rejects TIMEOUT', async () => {
      const { sim, clock, client } = launch(world, profile);
      const auth = client();
      await auth.ensureLogin();
      sim.faults.request.push({ delayMs: 2_000 });
      const slow = await settle(auth.request({ url: '/api/me', timeout: 5_000 }), clock);
      assert.equal(slow.value.statusCode, 200);
      sim.faults.request.push({ delayMs: 9_000 }, 'drop');
      const late = await settle(auth.request({ url: '/api/echo', method: 'POST', data: {}, timeout: 5_000 }), clock);
      assert.equal(late.error.code, 'TIMEOUT');
      const lost = await settle(auth.request({ url: '/api/echo', method: 'POST', data: {}, timeout: 5_000 }), clock);
      assert.equal(lost.error.code, 'TIMEOUT');
    });

    test('uploadFile and downloadFile carry the token and recover from expiry', async () => {
      const { sim, client } = launch(world, profile);
      const auth = client();
      await auth.ensureLogin();
      const filePath = sim.writeFile('photo.jpg', Buffer.alloc(2048, 7));
      await admin(world.url, '/admin/revoke-all', {});
      const upload = await auth.uploadFile({ url: '/api/upload', filePath, name: 'file' });
      assert.equal(upload.statusCode, 200);
      assert.ok(JSON.parse(upload.data).received > 2048);
      await admin(world.url, '/admin/revoke-all', {});
      const download = await auth.downloadFile({ url: '/api/download' });
      assert.equal(download.statusCode, 200);
      assert.match(sim.readFile(download.tempFilePath).toString(), /^private file for /);
      assert.equal(sim.count('login'), 3, 'one re-login per revocation');
    });

    test('a body code can mean expired (expiredWhen)', async () => {
      const { sim, client } = launch(world, profile);
      const auth = client({ expiredWhen: { statuses: [], bodyField: 'errcode', bodyValues: [40101] } });
      await auth.ensureLogin();
      await admin(world.url, '/admin/revoke-all', {});
      // The server's 401 body carries errcode 40101: with statuses [] only the body code counts.
      const res = await auth.request({ url: '/api/me' });
      assert.equal(res.statusCode, 200);
      assert.equal(sim.count('login'), 2);
    });

    test('logout rejects requests still waiting with LOGGED_OUT; bad input is refused', async () => {
      const { sim, client } = launch(world, profile);
      const auth = client();
      sim.faults.login.push('hang');
      const waiting = rejection(auth.request({ url: '/api/me' }));
      await new Promise((resolve) => setImmediate(resolve));
      await auth.logout();
      assert.equal((await waiting).code, 'LOGGED_OUT');
      for (const bad of [undefined, { url: 42 }, { url: 'ftp://x/y' }, { url: '/x', timeout: -1 }]) {
        assert.equal((await rejection(auth.request(bad))).code, 'CONFIG_INVALID', JSON.stringify(bad));
      }
    });
  });
}
