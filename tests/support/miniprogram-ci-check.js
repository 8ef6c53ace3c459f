'use strict';
// Runs WeChat's builder (miniprogram-ci) on a mini-program project and prints what it reported as
// JSON: 构建 npm's warnings, analyseCode's unresolved dependencies and files, checkCodeQuality.
// A separate process because miniprogram-ci keeps handles open after its work is done.
// Usage: node tests/support/miniprogram-ci-check.js <projectDir>
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const ci = require('miniprogram-ci');

async function main(projectPath) {
  // miniprogram-ci insists on an upload key even for local work: a throwaway one, never kept.
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-session-ci-key-'));
  const privateKeyPath = path.join(keyDir, 'private.key');
  const { privateKey } = crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  fs.writeFileSync(privateKeyPath, privateKey, { mode: 0o600 });
  try {
    const project = new ci.Project({ appid: 'touristappid', type: 'miniProgram', projectPath, privateKeyPath, ignores: ['node_modules/**/*'] });
    fs.rmSync(path.join(projectPath, 'miniprogram_npm'), { recursive: true, force: true });
    const packNpmWarnings = await ci.packNpm(project, {});
    const analysis = await ci.analyseCode(project, { silent: true });
    const unresolved = analysis.modules.flatMap((m) => [
      ...m.deps.filter((d) => d.error).map((d) => `${m.id}: ${d.error}`),
      ...(m.buildError ? [`${m.id}: ${m.buildError}`] : []),
      ...(m.errors || []).map((e) => `${m.id}: ${typeof e === 'string' ? e : JSON.stringify(e)}`),
    ]);
    const files = analysis.files.map((f) => ({ path: f.path, size: f.size }));
    const quality = (await ci.checkCodeQuality(project)).map((r) => ({ name: r.name, success: r.success, text: r.text, detail: r.detail }));
    return { packNpmWarnings, unresolved, files, quality };
  } finally {
    fs.rmSync(keyDir, { recursive: true, force: true });
  }
}

main(path.resolve(process.argv[2] || '.')).then(
  (report) => {
    // The builder prints its own lines to stdout; the report is the last line.
    process.stdout.write('\n' + JSON.stringify(report) + '\n');
    process.exit(0);
  },
  (error) => {
    console.error(error && error.stack ? error.stack : error);
    process.exit(1);
  },
);
