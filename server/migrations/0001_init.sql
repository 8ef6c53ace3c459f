-- Portable SQL: the same text runs on SQLite and PostgreSQL. Ids are TEXT, times are BIGINT
-- Unix seconds, flags are BIGINT 0/1, bytes are BYTEA (SQLite keeps a blob as given).
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  nickname TEXT,
  avatar TEXT,
  phone TEXT,
  phone_country_code TEXT,
  username TEXT UNIQUE,
  password_hash TEXT
);

-- One row per (appid, openid): WeChat's identity of a user. session_key is sealed with the
-- server's data key (ChaCha20-Poly1305) and never leaves the server.
CREATE TABLE wechat_identities (
  appid TEXT NOT NULL,
  openid TEXT NOT NULL,
  unionid TEXT,
  user_id TEXT NOT NULL REFERENCES users (id),
  session_key_sealed TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (appid, openid)
);
CREATE INDEX wechat_identities_unionid ON wechat_identities (unionid);
CREATE INDEX wechat_identities_user ON wechat_identities (user_id);

-- A session is one login and its refresh family; access tokens name it in their `sid` claim
-- and carry its access_generation in `gen`: raising it retires the access tokens issued so far
-- (the client refreshes) without ending the session.
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  access_generation BIGINT NOT NULL DEFAULT 0,
  revoked_at BIGINT,
  revoked_reason TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Refresh tokens, stored as SHA-256: single use (used_at), rotated within their session.
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions (id),
  issued_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- WeChat's access token, shared by every process: the one holding the lease fetches it.
CREATE TABLE wechat_access_tokens (
  appid TEXT PRIMARY KEY,
  token_sealed TEXT,
  token_hash TEXT,
  expires_at BIGINT NOT NULL,
  lease_owner TEXT,
  lease_until BIGINT NOT NULL,
  fetches BIGINT NOT NULL
);

-- Avatars live in the database, so every process serves every user's.
CREATE TABLE avatars (
  name TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  content_type TEXT NOT NULL,
  data BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);
