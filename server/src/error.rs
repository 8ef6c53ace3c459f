//! Errors: `ApiError` is what a route answers, `{ errcode, errmsg }` with an HTTP status;
//! `StartError` is why the server refused to start.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

impl StartError {
    pub fn new(message: impl Into<String>) -> StartError {
        StartError(message.into())
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub errcode: i64,
    pub errmsg: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, errcode: i64, errmsg: impl Into<String>) -> ApiError {
        ApiError { status, errcode, errmsg: errmsg.into(), retry_after: None }
    }

    pub fn no_session() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, 40101, "no live session for this token")
    }

    pub fn bad_body(message: &str) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, 40000, message)
    }

    /// An internal failure: logged here with its cause, answered without it.
    pub fn internal(what: &str, cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(what, %cause, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, -1, "internal error")
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> ApiError {
        ApiError::internal("database", error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, Json(serde_json::json!({ "errcode": self.errcode, "errmsg": self.errmsg }))).into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
