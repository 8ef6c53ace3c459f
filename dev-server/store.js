'use strict';
// Users and sessions of the developer server, kept in @seald-io/nedb: an embedded, pure-JavaScript
// document store that appends every change to one file and replays it on start, so a restarted
// server still knows its users and tokens. Pure JavaScript matters here: a native SQLite binding
// would need a compiler or a prebuilt binary from GitHub on every fresh machine.
//
// Tokens are stored hashed: a copy of the data file does not hand out live sessions. A user record
// holds what the server learnt of the user: nickname, avatar (a file name under the data
// directory's avatars/), phone number (whole, as WeChat gave it to the server; the API shows it
// masked).
const crypto = require('crypto');
const Datastore = require('@seald-io/nedb');

const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

class SessionStore {
  // `dir` holds users.db and sessions.db; without it everything stays in memory.
  constructor({ dir = null, now = Date.now } = {}) {
    const open = (name) => new Datastore(dir ? { filename: `${dir}/${name}.db` } : { inMemoryOnly: true });
    this.users = open('users');
    this.sessions = open('sessions');
    this.now = now;
  }

  async load() {
    await Promise.all([this.users.loadDatabaseAsync(), this.sessions.loadDatabaseAsync()]);
    await this.users.ensureIndexAsync({ fieldName: 'openid', unique: true });
    await this.sessions.ensureIndexAsync({ fieldName: 'tokenHash', unique: true });
    // Start from a compact file: drop sessions that expired while the server was down.
    await this.sessions.removeAsync({ expiresAt: { $lte: this.now() } }, { multi: true });
    await Promise.all([this.users.compactDatafileAsync(), this.sessions.compactDatafileAsync()]);
    return this;
  }

  // The user of `openid`, created on first login. userId is what the API shows; openid stays here.
  async userFor(openid) {
    return (await this.findOrCreateUser(openid)).user;
  }

  // { user, created }: `created` is true for the one call that made the record. Profile fields
  // (nickname, avatar, phone, countryCode) are absent until set.
  async findOrCreateUser(openid) {
    const existing = await this.users.findOneAsync({ openid });
    if (existing) return { user: existing, created: false };
    const userId = sha256(openid).slice(0, 12);
    try {
      return { user: await this.users.insertAsync({ openid, userId, createdAt: this.now() }), created: true };
    } catch (error) {
      // Two first logins of one user at once: the unique index let one insert through.
      if (error.errorType !== 'uniqueViolated') throw error;
      return { user: await this.users.findOneAsync({ openid }), created: false };
    }
  }

  // Sets `fields` on the user of `openid` and returns the updated record.
  async updateUser(openid, fields) {
    const { affectedDocuments } = await this.users.updateAsync({ openid }, { $set: Object.assign({ updatedAt: this.now() }, fields) }, { returnUpdatedDocs: true });
    return affectedDocuments;
  }

  async createSession(token, { openid, sessionKey, lifetimeS }) {
    const expiresAt = this.now() + lifetimeS * 1000;
    await this.sessions.insertAsync({ tokenHash: sha256(token), openid, sessionKey, expiresAt });
    return expiresAt;
  }

  async revokeSession(token) {
    await this.sessions.removeAsync({ tokenHash: sha256(token), kind: { $exists: false } }, {});
  }

  // A refresh token of `family` (one per login; every rotation stays in it), single use.
  async createRefresh(token, { openid, sessionKey, family, lifetimeS }) {
    const expiresAt = this.now() + lifetimeS * 1000;
    await this.sessions.insertAsync({ kind: 'refresh', tokenHash: sha256(token), openid, sessionKey, family, expiresAt, usedAt: null });
    return expiresAt;
  }

  // Spends refresh token `token`: { refresh } when it was live and unused (now used), { reused }
  // when it had been used already — the whole family is then revoked (a stolen token replayed, or
  // the owner's copy after the thief's) — else {} (unknown or expired).
  async spendRefresh(token) {
    const found = await this.sessions.findOneAsync({ kind: 'refresh', tokenHash: sha256(token) });
    if (!found || found.expiresAt <= this.now()) return {};
    if (found.usedAt !== null) {
      await this.sessions.removeAsync({ kind: 'refresh', family: found.family }, { multi: true });
      return { reused: true };
    }
    await this.sessions.updateAsync({ _id: found._id }, { $set: { usedAt: this.now() } }, {});
    return { refresh: found };
  }

  // The live session of `token`, or null when unknown or expired (an expired one is deleted).
  async sessionOf(token) {
    const session = await this.sessions.findOneAsync({ tokenHash: sha256(token) });
    if (!session || session.kind === 'refresh') return null;
    if (session.expiresAt <= this.now()) {
      await this.sessions.removeAsync({ _id: session._id });
      return null;
    }
    return session;
  }

  async revokeAccess() {
    return this.sessions.removeAsync({ kind: { $exists: false } }, { multi: true });
  }

  async revokeAll() {
    return this.sessions.removeAsync({}, { multi: true });
  }

  // Users and live access sessions (refresh tokens not counted).
  async counts() {
    const [users, sessions] = await Promise.all([this.users.countAsync({}), this.sessions.countAsync({ kind: { $exists: false } })]);
    return { users, sessions };
  }

  // Lets the data file settle before the process exits or a test restarts the server.
  async close() {
    await Promise.all([this.users.compactDatafileAsync(), this.sessions.compactDatafileAsync()]);
  }
}

module.exports = { SessionStore };
