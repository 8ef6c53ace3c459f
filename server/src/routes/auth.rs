//! /auth/*: the code exchange, refresh, logout, password and cookie logins.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{limit_address, mask_phone, origin, parse_json, public_user, Authed, Peer, COOKIE_NAME};
use crate::douyin::DouyinCode;
use crate::error::ApiError;
use crate::keys::sha256_hex;
use crate::store::{Identity, Spent, User};
use crate::wechat::CodeSession;
use crate::App;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginBody {
    code: Option<String>,
    phone_code: Option<String>,
}

impl LoginBody {
    /// A body that is not `{ code }` answers 40029, as WeChat's missing code does (the SDK maps it).
    fn parse(body: &[u8]) -> Result<LoginBody, ApiError> {
        parse_json(body, r#"{"code": "..."}"#).map_err(|e| ApiError { errcode: 40029, ..e })
    }
}

/// A new session: the access token (JWT) and the first refresh token of its family.
struct Grant {
    token: String,
    refresh_token: String,
}

impl Grant {
    /// `/auth/refresh`'s answer.
    fn reply(&self, app: &App) -> Value {
        json!({ "token": self.token, "expiresIn": app.config.access_ttl, "refreshToken": self.refresh_token, "refreshExpiresIn": app.config.refresh_ttl })
    }

    /// A login's answer: the pair, and the user as the client sees it.
    fn login_reply(&self, app: &App, user: &User, origin: &str, is_new_user: bool) -> Value {
        json!({
            "token": self.token,
            "expiresIn": app.config.access_ttl,
            "refreshToken": self.refresh_token,
            "refreshExpiresIn": app.config.refresh_ttl,
            "user": public_user(user, origin),
            "isNewUser": is_new_user,
        })
    }
}

/// A short, non-reversible name for a session in logs (never the token itself).
fn fingerprint(session_id: &str) -> String {
    sha256_hex(session_id).chars().take(8).collect()
}

async fn new_session(app: &App, user_id: &str) -> Result<Grant, ApiError> {
    let random = |n| app.keys.random_token(n).map_err(|_| ApiError::internal("random", "no system randomness"));
    let session_id = random(16)?;
    let refresh_token = random(32)?;
    let now = app.clock.now();
    app.store.create_session(&session_id, user_id, &sha256_hex(&refresh_token), now, app.config.refresh_ttl).await?;
    let token = access_token(app, user_id, &session_id, 0, now)?;
    Ok(Grant { token, refresh_token })
}

/// A signed access token of the session, with a token id of its own.
fn access_token(app: &App, user_id: &str, session_id: &str, generation: i64, now: i64) -> Result<String, ApiError> {
    let token_id = app.keys.random_token(12).map_err(|_| ApiError::internal("random", "no system randomness"))?;
    app.signer
        .issue(user_id, session_id, generation, &token_id, now, app.config.access_ttl)
        .map_err(|error| ApiError::internal("jwt", error))
}

/// code (+ phoneCode) → code2Session (+ getuserphonenumber) → the user and a new session. A
/// failed phone exchange issues no session and creates no user.
async fn exchange(
    app: &App,
    code: Option<String>,
    phone_code: Option<String>,
) -> Result<(User, bool, Grant), ApiError> {
    let code =
        code.filter(|c| !c.is_empty()).ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, 40029, "missing code"))?;
    if phone_code.as_deref() == Some("") {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, 40029, "phoneCode must be a non-empty string"));
    }
    let wechat = app.wechat.code2session(&code).await.map_err(|error| error.into_api("code2Session"))?;
    limit_openid(app, &wechat.openid)?;
    let phone = match phone_code {
        Some(phone_code) => Some(
            app.wechat
                .phone_number(&app.store, &app.keys, &app.clock, &phone_code)
                .await
                .map_err(|error| error.into_api("getuserphonenumber"))?,
        ),
        None => None,
    };
    sign_in(app, app.wechat.appid(), &wechat, phone).await
}

fn limit_openid(app: &App, openid: &str) -> Result<(), ApiError> {
    match app.limits.openid(openid, app.clock.now()) {
        None => Ok(()),
        Some(retry_after) => {
            tracing::info!("auth rate limit: openid");
            Err(ApiError {
                retry_after: Some(retry_after),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, 42902, "too many logins for this user: try again later")
            })
        }
    }
}

/// The user of an exchanged code (made on its first login, its session_key sealed at rest), the
/// phone bound when one came with it, and a new session.
async fn sign_in(
    app: &App,
    appid: &str,
    wechat: &CodeSession,
    phone: Option<(String, String)>,
) -> Result<(User, bool, Grant), ApiError> {
    let sealed = app
        .keys
        .seal(&format!("session_key:{appid}:{}", wechat.openid), &wechat.session_key)
        .map_err(|_| ApiError::internal("seal", "session_key"))?;
    let new_id = app.keys.random_hex(6).map_err(|_| ApiError::internal("random", "no system randomness"))?;
    let identity =
        Identity { appid, openid: &wechat.openid, unionid: wechat.unionid.as_deref(), session_key_sealed: &sealed };
    let (mut user, created) = app.store.wechat_user(&identity, &new_id, app.clock.now()).await?;
    if let Some((number, country_code)) = phone {
        app.store.set_phone(&user.id, &number, &country_code).await?;
        tracing::info!(user = %user.id, phone = %mask_phone(&number), "phone bound");
        user.phone = Some(number);
    }
    let grant = new_session(app, &user.id).await?;
    Ok((user, created, grant))
}

/// `POST /auth/login { code, phoneCode? }`.
pub async fn login(
    State(app): State<Arc<App>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    limit_address(&app, &headers, peer.0)?;
    let body = LoginBody::parse(&body)?;
    let (user, created, grant) = exchange(&app, body.code, body.phone_code).await?;
    tracing::info!(user = %user.id, new = created, "login: code2Session ok, session_key kept on the server");
    Ok(Json(grant.login_reply(&app, &user, &origin(&app, &headers), created)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DouyinLoginBody {
    code: Option<String>,
    anonymous_code: Option<String>,
}

/// `POST /auth/douyin/login { code } | { anonymousCode }`: tt.login's code (a user logged into the
/// Douyin app) or its anonymousCode (anyone else) exchanged with Douyin's jscode2session. Users
/// are per (Douyin appid, openid); an anonymous user is its own user.
pub async fn douyin_login(
    State(app): State<Arc<App>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    limit_address(&app, &headers, peer.0)?;
    let douyin = app.douyin.as_ref().ok_or_else(|| not_configured("Douyin", "DOUYIN_APPID, DOUYIN_SECRET"))?;
    let body: DouyinLoginBody = parse_json(&body, r#"{"code": "..."} or {"anonymousCode": "..."}"#)
        .map_err(|e| ApiError { errcode: 40029, ..e })?;
    let non_empty = |value: Option<String>| value.filter(|v| !v.is_empty());
    let code = match (non_empty(body.code), non_empty(body.anonymous_code)) {
        (Some(code), _) => DouyinCode::Code(code),
        (None, Some(anonymous)) => DouyinCode::Anonymous(anonymous),
        (None, None) => return Err(ApiError::new(StatusCode::BAD_REQUEST, 40029, "missing code or anonymousCode")),
    };
    let session = douyin.code2session(&code).await.map_err(|error| error.into_api("jscode2session"))?;
    let anonymous = matches!(code, DouyinCode::Anonymous(_));
    tracing::info!(anonymous, "douyin login: jscode2session ok, session_key kept on the server");
    platform_login(&app, &headers, douyin.appid(), &session).await
}

/// A login route of a host that this server was not configured for.
fn not_configured(host: &str, settings: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, 40404, format!("{host} login is not configured here ({settings})"))
}

/// The answer of a host's login route once its code was exchanged: the user and a new session.
async fn platform_login(
    app: &App,
    headers: &HeaderMap,
    appid: &str,
    session: &CodeSession,
) -> Result<Json<Value>, ApiError> {
    limit_openid(app, &session.openid)?;
    let (user, created, grant) = sign_in(app, appid, session, None).await?;
    tracing::info!(user = %user.id, new = created, "login");
    Ok(Json(grant.login_reply(app, &user, &origin(app, headers), created)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlipayLoginBody {
    auth_code: Option<String>,
}

/// `POST /auth/alipay/login { authCode }`: my.getAuthCode's single-use authCode (scope
/// auth_base) exchanged with Alipay's alipay.system.oauth.token, a signed call whose signed reply
/// is checked with Alipay's public key. Users are per (Alipay app_id, open_id or user_id);
/// Alipay's access and refresh tokens are dropped.
pub async fn alipay_login(
    State(app): State<Arc<App>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    limit_address(&app, &headers, peer.0)?;
    let alipay = app
        .alipay
        .as_ref()
        .ok_or_else(|| not_configured("Alipay", "ALIPAY_APPID, ALIPAY_PRIVATE_KEY, ALIPAY_PUBLIC_KEY"))?;
    let body: AlipayLoginBody =
        parse_json(&body, r#"{"authCode": "..."}"#).map_err(|e| ApiError { errcode: 40029, ..e })?;
    let auth_code = body
        .auth_code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, 40029, "missing authCode"))?;
    let session = alipay
        .code2session(&auth_code, app.clock.now())
        .await
        .map_err(|error| error.into_api("alipay.system.oauth.token"))?;
    tracing::info!("alipay login: alipay.system.oauth.token ok, its tokens dropped");
    platform_login(&app, &headers, alipay.appid(), &session).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshBody {
    refresh_token: String,
}

fn refused_refresh() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, 40102, "refresh token unknown, expired or already used")
}

/// `POST /auth/refresh { refreshToken }`: spends it, answers a new pair of the same session.
pub async fn refresh(
    State(app): State<Arc<App>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    limit_address(&app, &headers, peer.0)?;
    let body: RefreshBody = parse_json(&body, r#"{"refreshToken": "..."}"#).map_err(|_| refused_refresh())?;
    let next = app.keys.random_token(32).map_err(|_| ApiError::internal("random", "no system randomness"))?;
    let now = app.clock.now();
    match app
        .store
        .spend_refresh(&sha256_hex(&body.refresh_token), &sha256_hex(&next), now, app.config.refresh_ttl)
        .await?
    {
        Spent::Rotated { user_id, session_id, generation } => {
            let token = access_token(&app, &user_id, &session_id, generation, now)?;
            tracing::info!(user = %user_id, session = %fingerprint(&session_id), "refresh: rotated (no wx.login)");
            Ok(Json(Grant { token, refresh_token: next }.reply(&app)))
        }
        Spent::Reused => {
            tracing::warn!("refresh: a used refresh token was presented again: its session is revoked");
            Err(refused_refresh())
        }
        Spent::Refused => {
            tracing::info!("refresh: refused (unknown, expired, or its session ended)");
            Err(refused_refresh())
        }
    }
}

/// `POST /auth/logout`: ends the caller's session (its refresh tokens at once).
pub async fn logout(State(app): State<Arc<App>>, authed: Authed) -> Result<Response, ApiError> {
    app.store.revoke_session(&authed.session_id, "logout", app.clock.now()).await?;
    tracing::info!(user = %authed.user_id, session = %fingerprint(&authed.session_id), "logout");
    Ok(([(header::SET_COOKIE, format!("{COOKIE_NAME}=; Max-Age=0; Path=/; HttpOnly"))], Json(json!({ "ok": true })))
        .into_response())
}

#[derive(Deserialize)]
struct PasswordBody {
    username: String,
    password: String,
}

/// Verified against when the username is unknown, so both answers cost one argon2 verification
/// and the time taken does not tell which usernames exist.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| crate::routes::admin::hash_password("not a password of anyone").unwrap_or_default()).clone()
}

/// `POST /auth/password { username, password }`: an account login, without wx.login.
pub async fn password(
    State(app): State<Arc<App>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    limit_address(&app, &headers, peer.0)?;
    let wrong = || ApiError::new(StatusCode::UNAUTHORIZED, 40103, "wrong username or password");
    let body: PasswordBody = parse_json(&body, r#"{"username": "...", "password": "..."}"#)?;
    let account = app.store.account(&body.username).await?;
    let stored = account.as_ref().map_or_else(dummy_hash, |(_, hash)| hash.clone());
    let password = body.password;
    let matches = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
    })
    .await
    .map_err(|error| ApiError::internal("argon2", error))?;
    let Some((user_id, _)) = account.filter(|_| matches) else {
        tracing::info!("password login: refused");
        return Err(wrong());
    };
    let user = app.store.user(&user_id).await?.ok_or_else(wrong)?;
    let grant = new_session(&app, &user.id).await?;
    tracing::info!(user = %user.id, "password login");
    Ok(Json(grant.login_reply(&app, &user, &origin(&app, &headers), false)))
}

/// `POST /auth/cookie-login { code }`: a code exchange whose session is the `sid` cookie.
pub async fn cookie_login(
    State(app): State<Arc<App>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    limit_address(&app, &headers, peer.0)?;
    let body = LoginBody::parse(&body)?;
    let (user, created, grant) = exchange(&app, body.code, None).await?;
    tracing::info!(user = %user.id, new = created, "cookie login");
    let cookie = format!("{COOKIE_NAME}={}; Max-Age={}; Path=/; HttpOnly", grant.token, app.config.access_ttl);
    let reply = json!({ "expiresIn": app.config.access_ttl, "user": public_user(&user, &origin(&app, &headers)), "isNewUser": created });
    Ok(([(header::SET_COOKIE, cookie)], Json(reply)).into_response())
}
