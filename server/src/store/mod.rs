//! The SQL store: one code path for SQLite and PostgreSQL through sqlx's Any driver. Every query
//! is portable SQL with `$N` placeholders (both databases read them), and every write that two
//! processes could race on is decided by the database: a unique key, or an `UPDATE … WHERE` that
//! only one of them can win.

mod lease;

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, ConnectOptions, Row};

pub use lease::{Lease, TokenRow};

use crate::error::StartError;

/// The migrations, compiled into the binary: a deployed server needs no files beside it.
const MIGRATIONS: &[(i64, &str, &str)] = &[(1, "init", include_str!("../../migrations/0001_init.sql"))];

#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    pub kind: &'static str,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub nickname: Option<String>,
    pub avatar: Option<String>,
    pub phone: Option<String>,
}

/// What presenting a refresh token did.
pub enum Spent {
    /// It was live: it is now used, and `new_hash` is the session's live one.
    Rotated { user_id: String, session_id: String, generation: i64 },
    /// It had been used before: the whole session is now revoked.
    Reused,
    /// Unknown, expired, or its session ended.
    Refused,
}

pub struct Stats {
    pub users: i64,
    pub identities: i64,
    pub live_sessions: i64,
    pub refresh_tokens_used: i64,
    pub access_token_fetches: i64,
}

impl Store {
    /// Connects, and brings the schema up to date (PostgreSQL: under an advisory lock, so
    /// processes starting together migrate once).
    pub async fn connect(url: &str, connections: u32) -> Result<Store, StartError> {
        sqlx::any::install_default_drivers();
        let kind = if url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
        let options = AnyConnectOptions::from_str(url)
            .map_err(|error| StartError::new(format!("DATABASE_URL is not a database URL: {error}")))?
            .disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if kind == "sqlite" {
                        // WAL: readers never wait for the writer, and a kill -9 loses no commit.
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *connection).await?;
                        sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *connection).await?;
                        sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *connection).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *connection).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|error| StartError::new(format!("cannot open the database ({kind}): {error}")))?;
        let migrator =
            Migrator::new(Embedded).await.map_err(|error| StartError::new(format!("migrations: {error}")))?;
        migrator.run(&pool).await.map_err(|error| StartError::new(format!("cannot migrate the database: {error}")))?;
        Ok(Store { pool, kind })
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn user(&self, id: &str) -> Result<Option<User>, sqlx::Error> {
        let row = sqlx::query("SELECT id, nickname, avatar, phone FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| user_of(&row)).transpose()
    }

    /// The user of WeChat identity (appid, openid), created on first sight; `session_key_sealed`
    /// replaces the stored one. Returns the user and whether it is new. Two logins of one new
    /// openid at the same instant create one user: the identity's primary key decides, and the
    /// loser's user row is rolled back.
    pub async fn wechat_user(
        &self,
        identity: &Identity<'_>,
        new_user_id: &str,
        now: i64,
    ) -> Result<(User, bool), sqlx::Error> {
        if self.update_identity(identity, now).await? {
            return Ok((self.identity_user(identity).await?, false));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO users (id, created_at) VALUES ($1, $2)")
            .bind(new_user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO wechat_identities (appid, openid, unionid, user_id, session_key_sealed, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (appid, openid) DO NOTHING",
        )
        .bind(identity.appid)
        .bind(identity.openid)
        .bind(identity.unionid)
        .bind(new_user_id)
        .bind(identity.session_key_sealed)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            tx.commit().await?;
            return Ok((self.identity_user(identity).await?, true));
        }
        tx.rollback().await?;
        self.update_identity(identity, now).await?;
        Ok((self.identity_user(identity).await?, false))
    }

    async fn update_identity(&self, identity: &Identity<'_>, now: i64) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query("UPDATE wechat_identities SET session_key_sealed = $1, updated_at = $2, unionid = COALESCE($3, unionid) WHERE appid = $4 AND openid = $5")
            .bind(identity.session_key_sealed)
            .bind(now)
            .bind(identity.unionid)
            .bind(identity.appid)
            .bind(identity.openid)
            .execute(&self.pool)
            .await?;
        Ok(updated.rows_affected() == 1)
    }

    async fn identity_user(&self, identity: &Identity<'_>) -> Result<User, sqlx::Error> {
        let row = sqlx::query("SELECT u.id, u.nickname, u.avatar, u.phone FROM users u JOIN wechat_identities w ON w.user_id = u.id WHERE w.appid = $1 AND w.openid = $2")
            .bind(identity.appid)
            .bind(identity.openid)
            .fetch_one(&self.pool)
            .await?;
        user_of(&row)
    }

    /// The sealed session_key of a user's WeChat identity (for the routes that decrypt with it).
    pub async fn session_key_sealed(
        &self,
        appid: &str,
        user_id: &str,
    ) -> Result<Option<(String, String)>, sqlx::Error> {
        let row =
            sqlx::query("SELECT openid, session_key_sealed FROM wechat_identities WHERE appid = $1 AND user_id = $2")
                .bind(appid)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| Ok((row.try_get("openid")?, row.try_get("session_key_sealed")?))).transpose()
    }

    pub async fn set_phone(&self, user_id: &str, phone: &str, country_code: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET phone = $1, phone_country_code = $2 WHERE id = $3")
            .bind(phone)
            .bind(country_code)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_nickname(&self, user_id: &str, nickname: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET nickname = $1 WHERE id = $2")
            .bind(nickname)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores an avatar and makes it the user's, removing the one it replaces.
    pub async fn set_avatar(
        &self,
        user_id: &str,
        name: &str,
        content_type: &str,
        data: Vec<u8>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO avatars (name, user_id, content_type, data, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(name)
            .bind(user_id)
            .bind(content_type)
            .bind(data)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE users SET avatar = $1 WHERE id = $2").bind(name).bind(user_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM avatars WHERE user_id = $1 AND name <> $2")
            .bind(user_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    pub async fn avatar(&self, name: &str) -> Result<Option<(String, Vec<u8>)>, sqlx::Error> {
        let row = sqlx::query("SELECT content_type, data FROM avatars WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| Ok((row.try_get("content_type")?, row.try_get("data")?))).transpose()
    }

    /// An account for password login: a new user with `username` and an argon2id hash.
    /// None when the username is taken.
    pub async fn create_account(
        &self,
        user_id: &str,
        username: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<Option<User>, sqlx::Error> {
        let inserted = sqlx::query("INSERT INTO users (id, created_at, username, password_hash) VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING")
            .bind(user_id)
            .bind(now)
            .bind(username)
            .bind(password_hash)
            .execute(&self.pool)
            .await?;
        if inserted.rows_affected() == 0 {
            return Ok(None);
        }
        self.user(user_id).await
    }

    /// The user id and password hash of an account.
    pub async fn account(&self, username: &str) -> Result<Option<(String, String)>, sqlx::Error> {
        let row = sqlx::query("SELECT id, password_hash FROM users WHERE username = $1 AND password_hash IS NOT NULL")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| Ok((row.try_get("id")?, row.try_get("password_hash")?))).transpose()
    }

    /// A new session of `user_id` with its first refresh token (stored as `refresh_hash`).
    pub async fn create_session(
        &self,
        session_id: &str,
        user_id: &str,
        refresh_hash: &str,
        now: i64,
        refresh_ttl: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(session_id)
            .bind(user_id)
            .bind(now)
            .bind(now + refresh_ttl)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(refresh_hash)
        .bind(session_id)
        .bind(now)
        .bind(now + refresh_ttl)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Spends a refresh token and stores its successor, in one transaction. The `UPDATE … WHERE
    /// used_at IS NULL` is the single use: of two processes presenting the same token at once,
    /// one updates a row and the other none. A token presented again revokes its session.
    pub async fn spend_refresh(
        &self,
        hash: &str,
        new_hash: &str,
        now: i64,
        refresh_ttl: i64,
    ) -> Result<Spent, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT r.session_id, r.used_at, s.user_id, s.revoked_at, s.access_generation FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1")
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(Spent::Refused);
        };
        let session_id: String = row.try_get("session_id")?;
        let user_id: String = row.try_get("user_id")?;
        let revoked: Option<i64> = row.try_get("revoked_at")?;
        let generation: i64 = row.try_get("access_generation")?;
        if spent.rows_affected() == 0 {
            let used: Option<i64> = row.try_get("used_at")?;
            if used.is_some() && revoked.is_none() {
                sqlx::query("UPDATE sessions SET revoked_at = $1, revoked_reason = 'refresh token reused' WHERE id = $2 AND revoked_at IS NULL").bind(now).bind(&session_id).execute(&mut *tx).await?;
                tx.commit().await?;
                return Ok(Spent::Reused);
            }
            tx.rollback().await?;
            return Ok(Spent::Refused);
        }
        if revoked.is_some() {
            tx.rollback().await?;
            return Ok(Spent::Refused);
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(new_hash)
        .bind(&session_id)
        .bind(now)
        .bind(now + refresh_ttl)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE sessions SET expires_at = $1 WHERE id = $2")
            .bind(now + refresh_ttl)
            .bind(&session_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Spent::Rotated { user_id, session_id, generation })
    }

    /// The access generation of a session that is neither revoked nor past its end.
    pub async fn live_session(&self, session_id: &str, now: i64) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT access_generation FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(session_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| row.try_get("access_generation")).transpose()
    }

    /// Retires the access tokens of a user's live sessions: the next call with one answers 401,
    /// and the client's refresh gets a new one. Returns how many sessions.
    pub async fn expire_access(&self, user_id: &str) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE sessions SET access_generation = access_generation + 1 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn revoke_session(&self, session_id: &str, reason: &str, now: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(session_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Revokes every live session of a user; returns how many.
    pub async fn revoke_user(&self, user_id: &str, reason: &str, now: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Revokes every live session (after a leaked signing key or data key, say).
    pub async fn revoke_all(&self, reason: &str, now: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE revoked_at IS NULL")
            .bind(now)
            .bind(reason)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Deletes the sessions that ended (revoked or past their end) before `ended_before`, with
    /// their refresh tokens. A live session keeps every token it used: reuse detection needs
    /// them. Returns (sessions, refresh tokens) deleted.
    pub async fn prune(&self, ended_before: i64) -> Result<(u64, u64), sqlx::Error> {
        let ended = "SELECT id FROM sessions WHERE expires_at < $1 OR revoked_at < $1";
        let mut tx = self.pool.begin().await?;
        let tokens = sqlx::query(&format!("DELETE FROM refresh_tokens WHERE session_id IN ({ended})"))
            .bind(ended_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1")
            .bind(ended_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((sessions, tokens))
    }

    pub async fn stats(&self) -> Result<Stats, sqlx::Error> {
        let count =
            |sql: &'static str| async move { sqlx::query(sql).fetch_one(&self.pool).await?.try_get::<i64, _>(0) };
        Ok(Stats {
            users: count("SELECT COUNT(*) FROM users").await?,
            identities: count("SELECT COUNT(*) FROM wechat_identities").await?,
            live_sessions: count("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL").await?,
            refresh_tokens_used: count("SELECT COUNT(*) FROM refresh_tokens WHERE used_at IS NOT NULL").await?,
            // PostgreSQL sums BIGINT to NUMERIC, which the Any driver does not read: cast it back.
            access_token_fetches: count("SELECT CAST(COALESCE(SUM(fetches), 0) AS BIGINT) FROM wechat_access_tokens")
                .await?,
        })
    }
}

/// A WeChat identity as code2Session reported it, with its session_key already sealed.
pub struct Identity<'a> {
    pub appid: &'a str,
    pub openid: &'a str,
    pub unionid: Option<&'a str>,
    pub session_key_sealed: &'a str,
}

fn user_of(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        nickname: row.try_get("nickname")?,
        avatar: row.try_get("avatar")?,
        phone: row.try_get("phone")?,
    })
}
