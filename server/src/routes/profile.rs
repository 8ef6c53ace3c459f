//! /api/*: the signed-in user's own record: who am I, nickname, avatar.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{origin, parse_json, public_user, Authed, AVATAR_MAX_BYTES};
use crate::error::ApiError;
use crate::store::User;
use crate::App;

const NICKNAME_MAX_CHARS: usize = 20;

async fn user_of(app: &App, authed: &Authed) -> Result<User, ApiError> {
    app.store.user(&authed.user_id).await?.ok_or_else(ApiError::no_session)
}

/// `GET /api/me` → `{ userId, expiresAt (ms), user }`.
pub async fn me(State(app): State<Arc<App>>, headers: HeaderMap, authed: Authed) -> Result<Json<Value>, ApiError> {
    let user = user_of(&app, &authed).await?;
    Ok(Json(
        json!({ "userId": user.id, "expiresAt": authed.expires_at * 1000, "user": public_user(&user, &origin(&app, &headers)) }),
    ))
}

#[derive(Deserialize)]
struct ProfileBody {
    nickname: String,
}

/// Why a (trimmed) nickname is refused, if it is.
fn nickname_error(nickname: &str) -> Option<ApiError> {
    let length = nickname.chars().count();
    if !(1..=NICKNAME_MAX_CHARS).contains(&length) {
        return Some(ApiError::new(
            StatusCode::BAD_REQUEST,
            40202,
            format!("nickname must be 1 to {NICKNAME_MAX_CHARS} characters after trimming (got {length})"),
        ));
    }
    // C0/C1 controls, line and paragraph separators, bidi embeddings, overrides and isolates.
    let control = |c: char| {
        c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if nickname.chars().any(control) {
        return Some(ApiError::new(StatusCode::BAD_REQUEST, 40203, "nickname must not contain control characters"));
    }
    if nickname.contains(['<', '>']) {
        return Some(ApiError::new(StatusCode::BAD_REQUEST, 40203, "nickname must not contain '<' or '>'"));
    }
    None
}

/// `PUT /api/profile { nickname }` → `{ user }`.
pub async fn set_profile(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    authed: Authed,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: ProfileBody =
        parse_json(&body, r#"{"nickname": "..."}"#).map_err(|e| ApiError { errcode: 40201, ..e })?;
    let nickname = body.nickname.trim();
    if let Some(error) = nickname_error(nickname) {
        return Err(error);
    }
    app.store.set_nickname(&authed.user_id, nickname).await?;
    tracing::info!(user = %authed.user_id, chars = nickname.chars().count(), "profile: nickname saved");
    Ok(Json(json!({ "user": public_user(&user_of(&app, &authed).await?, &origin(&app, &headers)) })))
}

/// The image type of `data` by its first bytes: (extension, content type).
fn image_type(data: &[u8]) -> Option<(&'static str, &'static str)> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("png", "image/png"))
    } else if data.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(("jpg", "image/jpeg"))
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some(("gif", "image/gif"))
    } else if data.starts_with(b"RIFF") && data.get(8..12) == Some(b"WEBP") {
        Some(("webp", "image/webp"))
    } else {
        None
    }
}

/// `POST /api/avatar`, multipart with the image in part `file` (as `wx.uploadFile` sends it).
pub async fn set_avatar(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    authed: Authed,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let no_file = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            40211,
            "send multipart/form-data (wx.uploadFile) with the image in part `file`",
        )
    };
    let too_large = || ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, 40213, "the image must be at most 2 MB");
    // Not multipart/form-data with a boundary: the same 40211, not axum's plain-text 400.
    let mut multipart = multipart.map_err(|_| no_file())?;
    let mut file = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => return Err(no_file()),
        };
        if field.name() == Some("file") {
            file = Some(field.bytes().await.map_err(|error| {
                if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    no_file()
                }
            })?);
            break;
        }
    }
    let data = file.ok_or_else(no_file)?;
    if data.len() > AVATAR_MAX_BYTES {
        return Err(too_large());
    }
    let (ext, content_type) = image_type(&data).ok_or_else(|| {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, 40212, "the image must be PNG, JPEG, GIF or WebP")
    })?;
    let name =
        format!("{}.{ext}", app.keys.random_hex(16).map_err(|_| ApiError::internal("random", "no system randomness"))?);
    app.store.set_avatar(&authed.user_id, &name, content_type, data.to_vec(), app.clock.now()).await?;
    tracing::info!(user = %authed.user_id, bytes = data.len(), content_type, "avatar saved");
    Ok(Json(json!({ "user": public_user(&user_of(&app, &authed).await?, &origin(&app, &headers)) })))
}

/// `GET /files/avatars/{name}`: public, as `<image src>` sends no token.
pub async fn avatar_file(State(app): State<Arc<App>>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let (content_type, data) =
        app.store.avatar(&name).await?.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, 40404, "no such file"))?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable".to_owned()),
            // Uploaded bytes: a browser must not sniff a "PNG" into HTML.
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        data,
    )
        .into_response())
}
