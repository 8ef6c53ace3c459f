//! /admin/*: for the operator, behind `MP_SESSION_ADMIN_TOKEN` (403 without it configured or sent).

use std::sync::Arc;

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::Argon2;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{origin, parse_json, public_user};
use crate::error::ApiError;
use crate::App;

pub struct Admin;

impl FromRequestParts<Arc<App>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Admin, ApiError> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if app.is_admin(presented) {
            Ok(Admin)
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                40301,
                "admin routes need MP_SESSION_ADMIN_TOKEN, configured and sent as a Bearer token",
            ))
        }
    }
}

/// An argon2id PHC string (argon2's default parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default().hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))?.to_string())
}

#[derive(Deserialize)]
struct AccountBody {
    username: String,
    password: String,
}

/// `POST /admin/accounts { username, password }`: an account for `/auth/password`.
pub async fn create_account(
    _: Admin,
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: AccountBody = parse_json(&body, r#"{"username": "...", "password": "..."}"#)?;
    let username = body.username.trim().to_owned();
    if username.is_empty() || username.chars().count() > 64 || body.password.chars().count() < 8 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            40002,
            "username: 1 to 64 characters; password: at least 8",
        ));
    }
    let password = body.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::internal("argon2", e))?
        .map_err(|e| ApiError::internal("argon2", e))?;
    let id = app.keys.random_hex(6).map_err(|_| ApiError::internal("random", "no system randomness"))?;
    let user = app
        .store
        .create_account(&id, &username, &hash, app.clock.now())
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, 40901, "username taken"))?;
    tracing::info!(user = %user.id, "admin: account created");
    Ok(Json(json!({ "user": public_user(&user, &origin(&app, &headers)) })))
}

/// `POST /admin/users/{id}/revoke`: ends every session of a user. Refresh tokens stop at once;
/// access tokens already issued stop on this server at once and elsewhere at their expiry.
pub async fn revoke_user(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let revoked = app.store.revoke_user(&id, "admin", app.clock.now()).await?;
    tracing::info!(user = %id, revoked, "admin: sessions revoked");
    Ok(Json(json!({ "revoked": revoked })))
}

/// `POST /admin/revoke-all`: ends every session of every user (a leaked key, say): every
/// client logs in again.
pub async fn revoke_all(_: Admin, State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    let revoked = app.store.revoke_all("admin: all", app.clock.now()).await?;
    tracing::warn!(revoked, "admin: every session revoked");
    Ok(Json(json!({ "revoked": revoked })))
}

/// `POST /admin/users/{id}/expire-access`: retires the user's access tokens, not the sessions:
/// clients refresh (no wx.login), e.g. after the user's permissions changed.
pub async fn expire_access(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let sessions = app.store.expire_access(&id).await?;
    tracing::info!(user = %id, sessions, "admin: access tokens retired, refresh tokens kept");
    Ok(Json(json!({ "sessions": sessions })))
}

/// `GET /admin/stats`: counts, for operators and the scale-out check.
pub async fn stats(_: Admin, State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    let stats = app.store.stats().await?;
    Ok(Json(json!({
        "users": stats.users,
        "identities": stats.identities,
        "liveSessions": stats.live_sessions,
        "refreshTokensUsed": stats.refresh_tokens_used,
        "accessTokenFetches": stats.access_token_fetches,
        "database": app.store.kind,
    })))
}
