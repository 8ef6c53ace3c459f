//! WeChat's access token, shared by every process through one row per appid. A process that
//! finds it missing, expiring or refused takes the lease with an `UPDATE … WHERE` that only one
//! process can win, fetches, and writes the token back; the others keep using the current token
//! while it lasts, or wait for the new one. One fetch per expiry window, however many processes.

use sqlx::Row;

use super::Store;

pub struct TokenRow {
    pub token_sealed: Option<String>,
    pub token_hash: Option<String>,
    pub expires_at: i64,
}

/// Why a process wants a new token.
pub struct Lease<'a> {
    pub appid: &'a str,
    pub owner: &'a str,
    /// A token expiring before this needs renewing.
    pub renew_before: i64,
    /// The hash of a token WeChat refused (40001/42001): it needs replacing whatever its expiry.
    pub refused_hash: Option<&'a str>,
}

impl Store {
    pub async fn access_token(&self, appid: &str) -> Result<TokenRow, sqlx::Error> {
        sqlx::query("INSERT INTO wechat_access_tokens (appid, expires_at, lease_until, fetches) VALUES ($1, 0, 0, 0) ON CONFLICT (appid) DO NOTHING")
            .bind(appid)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT token_sealed, token_hash, expires_at FROM wechat_access_tokens WHERE appid = $1")
            .bind(appid)
            .fetch_one(&self.pool)
            .await?;
        Ok(TokenRow {
            token_sealed: row.try_get("token_sealed")?,
            token_hash: row.try_get("token_hash")?,
            expires_at: row.try_get("expires_at")?,
        })
    }

    /// Takes the lease until `lease_until` if no one holds it and the token still needs
    /// replacing (so a process that read the row before another's renewal does not fetch again).
    pub async fn take_lease(&self, lease: &Lease<'_>, now: i64, lease_until: i64) -> Result<bool, sqlx::Error> {
        let taken = sqlx::query(
            "UPDATE wechat_access_tokens SET lease_owner = $1, lease_until = $2 \
             WHERE appid = $3 AND lease_until <= $4 AND (expires_at <= $5 OR token_hash = $6)",
        )
        .bind(lease.owner)
        .bind(lease_until)
        .bind(lease.appid)
        .bind(now)
        .bind(lease.renew_before)
        .bind(lease.refused_hash.unwrap_or(""))
        .execute(&self.pool)
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Writes the fetched token and gives the lease back (only if this process still holds it).
    pub async fn put_access_token(
        &self,
        lease: &Lease<'_>,
        sealed: &str,
        hash: &str,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE wechat_access_tokens SET token_sealed = $1, token_hash = $2, expires_at = $3, lease_owner = NULL, lease_until = 0, fetches = fetches + 1 \
             WHERE appid = $4 AND lease_owner = $5",
        )
        .bind(sealed)
        .bind(hash)
        .bind(expires_at)
        .bind(lease.appid)
        .bind(lease.owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn release_lease(&self, lease: &Lease<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE wechat_access_tokens SET lease_owner = NULL, lease_until = 0 WHERE appid = $1 AND lease_owner = $2",
        )
        .bind(lease.appid)
        .bind(lease.owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
