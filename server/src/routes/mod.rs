//! HTTP: the router, and what every route shares (JSON bodies, the caller's session, the
//! caller's address, the user as the client sees it).

pub(crate) mod admin;
mod auth;
mod profile;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use tower_http::timeout::TimeoutLayer;

use crate::error::ApiError;
use crate::store::User;
use crate::App;

pub const BODY_LIMIT: usize = 64 * 1024;
pub const AVATAR_MAX_BYTES: usize = 2 * 1024 * 1024;
pub const COOKIE_NAME: &str = "sid";

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/password", post(auth::password))
        .route("/auth/cookie-login", post(auth::cookie_login))
        .route("/auth/douyin/login", post(auth::douyin_login))
        .route("/auth/alipay/login", post(auth::alipay_login))
        .route("/api/me", get(profile::me))
        .route("/api/profile", put(profile::set_profile))
        .route("/api/avatar", post(profile::set_avatar).layer(DefaultBodyLimit::max(AVATAR_MAX_BYTES + BODY_LIMIT)))
        .route("/files/avatars/{name}", get(profile::avatar_file))
        .route("/admin/accounts", post(admin::create_account))
        .route("/admin/users/{id}/revoke", post(admin::revoke_user))
        .route("/admin/users/{id}/expire-access", post(admin::expire_access))
        .route("/admin/revoke-all", post(admin::revoke_all))
        .route("/admin/stats", get(admin::stats))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/healthz", get(healthz))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, 40404, "no such route") })
        // A known route with the wrong method: the { errcode, errmsg } body every error has.
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, 40405, "wrong method for this route")
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .with_state(app)
}

async fn jwks(State(app): State<Arc<App>>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(app.signer.jwks()))
}

async fn healthz(State(app): State<Arc<App>>) -> Result<Json<serde_json::Value>, ApiError> {
    match app.store.ping().await {
        Ok(()) => Ok(Json(serde_json::json!({ "ok": true, "database": app.store.kind }))),
        Err(error) => {
            tracing::error!(%error, "healthz: database unreachable");
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, -1, "database unreachable"))
        }
    }
}

/// A JSON body of type `T`, or 400 saying what was expected.
pub fn parse_json<T: DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|_| ApiError::bad_body(&format!("body must be JSON {expected}")))
}

/// The caller's address: the socket's, or X-Forwarded-For's first hop behind a trusted proxy.
pub fn client_address(app: &App, headers: &HeaderMap, socket: SocketAddr) -> String {
    if app.config.trust_forwarded_for {
        if let Some(first) =
            headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).and_then(|v| v.split(',').next())
        {
            return first.trim().to_owned();
        }
    }
    socket.ip().to_string()
}

/// 429 when `address` has used its logins for this minute.
pub fn limit_address(app: &App, headers: &HeaderMap, socket: SocketAddr) -> Result<(), ApiError> {
    match app.limits.address(&client_address(app, headers, socket), app.clock.now()) {
        None => Ok(()),
        Some(retry_after) => {
            tracing::info!("auth rate limit: client address");
            Err(ApiError {
                retry_after: Some(retry_after),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    42901,
                    "too many logins from this address: try again later",
                )
            })
        }
    }
}

/// The origin the client reached us at, for absolute avatar URLs.
pub fn origin(app: &App, headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let https = app.config.trust_forwarded_for
        && headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// The user as replies show it: the phone masked (138****5678), the avatar as a URL.
pub fn public_user(user: &User, origin: &str) -> serde_json::Value {
    serde_json::json!({
        "id": user.id,
        "nickname": user.nickname,
        "avatarUrl": user.avatar.as_ref().map(|name| format!("{origin}/files/avatars/{name}")),
        "phone": user.phone.as_deref().map(mask_phone),
    })
}

pub fn mask_phone(number: &str) -> String {
    let digits: Vec<char> = number.chars().collect();
    let keep_tail = |n: usize| digits.iter().skip(digits.len().saturating_sub(n)).collect::<String>();
    if digits.len() < 8 {
        return "*".repeat(digits.len().saturating_sub(2)) + &keep_tail(2);
    }
    digits.iter().take(3).collect::<String>() + &"*".repeat(digits.len() - 7) + &keep_tail(4)
}

/// The caller's live session, from `Authorization: Bearer` or the `sid` cookie. The JWT is
/// checked here, and the session row too: on this server's own routes a logout, a revocation or
/// an expire-access takes effect at once (services that only verify the JWT see it at the
/// token's expiry).
pub struct Authed {
    pub user_id: String,
    pub session_id: String,
    pub expires_at: i64,
}

impl FromRequestParts<Arc<App>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Authed, ApiError> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let refuse = |why: &'static str| {
            tracing::info!(path = %parts.uri.path(), why, "401: no live session for this token");
            ApiError::no_session()
        };
        let token = bearer
            .map(str::to_owned)
            .or_else(|| cookie(&parts.headers, COOKIE_NAME))
            .ok_or_else(|| refuse("no token"))?;
        let now = app.clock.now();
        let claims = app.signer.verify(&token, now).ok_or_else(|| refuse("not a live token of this server"))?;
        if app.store.live_session(&claims.sid, now).await? != Some(claims.gen) {
            return Err(refuse("session ended or access tokens retired"));
        }
        Ok(Authed { user_id: claims.sub, session_id: claims.sid, expires_at: claims.exp })
    }
}

/// The value of cookie `name` in the request's Cookie headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name && !value.is_empty()).then(|| value.to_owned())
    })
}

/// The socket address, for routes that rate-limit.
pub type Peer = ConnectInfo<SocketAddr>;
