//! The one error type every failure of the SDK is reported as.
//!
//! Each variant says when it happens; [`SessionError::code`] is the stable string pages match on
//! (it crosses the wasm boundary as `MpSessionError.code`), and [`SessionError::is_retryable`] tells
//! whether trying the same thing again later can succeed.

use thiserror::Error;

/// What a WeChat API's `fail` callback reported (`errMsg`, and `errno` on newer base libraries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformFailure {
    pub errmsg: String,
    pub errno: Option<i64>,
}

impl PlatformFailure {
    pub fn new(errmsg: impl Into<String>) -> Self {
        PlatformFailure { errmsg: errmsg.into(), errno: None }
    }
}

/// A [`SessionError`] as its code and the values its message names (see [`SessionError::fields`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ErrorFields<'a> {
    pub code: &'static str,
    pub retryable: bool,
    /// `CONFIG_INVALID`: the option's name.
    pub option: Option<&'a str>,
    /// `CONFIG_INVALID`, `BAD_RESPONSE`: what is wrong, in words.
    pub reason: Option<&'a str>,
    pub errcode: Option<i64>,
    pub errmsg: Option<&'a str>,
    pub status: Option<u16>,
    /// `NETWORK`, `TIMEOUT`: the step that failed (`wx.login`, `the login request`, …).
    pub during: Option<&'static str>,
    pub after_ms: Option<u32>,
    /// `SERVER_ERROR`: how many attempts were made.
    pub attempts: Option<u32>,
}

/// Why a login, a request or the client itself failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SessionError {
    /// An option passed to `createClient` is missing, of the wrong type or out of range.
    #[error("invalid option `{option}`: {reason}")]
    ConfigInvalid { option: String, reason: String },

    /// `wx.login` called its `fail` callback (no network, user not signed in to WeChat, …).
    #[error("wx.login failed: {}", .0.errmsg)]
    WxLoginFailed(PlatformFailure),

    /// The platform could not reach the server (`wx.request` fail: DNS, TLS, offline, interrupted).
    #[error("network error while {during}: {}", .failure.errmsg)]
    Network { during: &'static str, failure: PlatformFailure },

    /// A platform call gave no answer within `timeoutMs`.
    #[error("{during} timed out after {after_ms} ms")]
    Timeout { during: &'static str, after_ms: u32 },

    /// The server refused the login code (WeChat `40029` invalid code, `40163` code already used,
    /// or another client error). A new `wx.login` is needed; retrying the same code cannot work.
    #[error("the server rejected the login (HTTP {status}{}): {errmsg}", errcode_suffix(*.errcode))]
    LoginRejected { status: u16, errcode: Option<i64>, errmsg: String },

    /// Too many logins for this user (WeChat `45011`) or HTTP 429. Wait before trying again.
    #[error("login rate limited (HTTP {status}{}): {errmsg}", errcode_suffix(*.errcode))]
    RateLimited { status: u16, errcode: Option<i64>, errmsg: String },

    /// WeChat flagged the user as high-risk (`40226`); logging in again will not help.
    #[error("the user is blocked by WeChat's risk control (errcode 40226): {errmsg}")]
    UserBlocked { errmsg: String },

    /// The server kept failing (HTTP 5xx or WeChat `-1` system busy) through every attempt.
    #[error("the server failed (HTTP {status}{}) after {attempts} attempt(s): {errmsg}", errcode_suffix(*.errcode))]
    ServerError { status: u16, errcode: Option<i64>, errmsg: String, attempts: u32 },

    /// The server answered, but not in the shape the login contract requires.
    #[error("unexpected server response (HTTP {status}): {reason}")]
    BadResponse { status: u16, reason: String },

    /// The server still says the session is gone after a fresh login.
    #[error("the server rejected the session even after a fresh login")]
    SessionExpired,

    /// `logout()` was called while this call was waiting for a login.
    #[error("logged out while this call was waiting for a login")]
    LoggedOut,

    /// `silentLogin: false` and no valid session (none, or its refresh was refused): the SDK does
    /// not call `wx.login` by itself. The app shows its login page and calls `auth.login()`.
    #[error("no valid session, and silentLogin is false: the user must log in (auth.login)")]
    LoginRequired,

    /// The page aborted this request (`abort()` on the promise `request()` returned).
    #[error("the request was aborted")]
    Aborted,
}

fn errcode_suffix(errcode: Option<i64>) -> String {
    errcode.map(|c| format!(", errcode {c}")).unwrap_or_default()
}

impl SessionError {
    /// The stable machine-readable code (`MpSessionError.code` in JavaScript).
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::ConfigInvalid { .. } => "CONFIG_INVALID",
            SessionError::WxLoginFailed(_) => "WX_LOGIN_FAILED",
            SessionError::Network { .. } => "NETWORK",
            SessionError::Timeout { .. } => "TIMEOUT",
            SessionError::LoginRejected { .. } => "LOGIN_REJECTED",
            SessionError::RateLimited { .. } => "RATE_LIMITED",
            SessionError::UserBlocked { .. } => "USER_BLOCKED",
            SessionError::ServerError { .. } => "SERVER_ERROR",
            SessionError::BadResponse { .. } => "BAD_RESPONSE",
            SessionError::SessionExpired => "SESSION_EXPIRED",
            SessionError::LoggedOut => "LOGGED_OUT",
            SessionError::LoginRequired => "LOGIN_REQUIRED",
            SessionError::Aborted => "ABORTED",
        }
    }

    /// Whether the same call, made again later, can succeed without any change by the developer.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SessionError::WxLoginFailed(_)
                | SessionError::Network { .. }
                | SessionError::Timeout { .. }
                | SessionError::RateLimited { .. }
                | SessionError::ServerError { .. }
                | SessionError::SessionExpired
                | SessionError::LoggedOut
        )
    }

    /// WeChat's `errcode` (server replies) or `errno` (platform failures), where one is known.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            SessionError::WxLoginFailed(f) | SessionError::Network { failure: f, .. } => f.errno,
            SessionError::LoginRejected { errcode, .. }
            | SessionError::RateLimited { errcode, .. }
            | SessionError::ServerError { errcode, .. } => *errcode,
            SessionError::UserBlocked { .. } => Some(40226),
            _ => None,
        }
    }

    /// WeChat's `errMsg` (platform) or the server's `errmsg`, where one is known.
    pub fn errmsg(&self) -> Option<&str> {
        match self {
            SessionError::WxLoginFailed(f) | SessionError::Network { failure: f, .. } => Some(&f.errmsg),
            SessionError::LoginRejected { errmsg, .. }
            | SessionError::RateLimited { errmsg, .. }
            | SessionError::UserBlocked { errmsg }
            | SessionError::ServerError { errmsg, .. } => Some(errmsg),
            _ => None,
        }
    }

    /// What the message is made of, beside [`SessionError::code`]: the wasm driver hands these to
    /// JavaScript, which renders the message text (`js/errors.js`, the same words as `Display`),
    /// so that no formatting machinery ships in the wasm.
    pub fn fields(&self) -> ErrorFields<'_> {
        let mut fields = ErrorFields {
            code: self.code(),
            retryable: self.is_retryable(),
            errcode: self.errcode(),
            errmsg: self.errmsg(),
            status: self.status(),
            ..ErrorFields::default()
        };
        match self {
            SessionError::ConfigInvalid { option, reason } => {
                fields.option = Some(option);
                fields.reason = Some(reason);
            }
            SessionError::BadResponse { reason, .. } => fields.reason = Some(reason),
            SessionError::Network { during, .. } => fields.during = Some(during),
            SessionError::Timeout { during, after_ms } => {
                fields.during = Some(during);
                fields.after_ms = Some(*after_ms);
            }
            SessionError::ServerError { attempts, .. } => fields.attempts = Some(*attempts),
            _ => {}
        }
        fields
    }

    /// The HTTP status of the server reply behind this error, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            SessionError::LoginRejected { status, .. }
            | SessionError::RateLimited { status, .. }
            | SessionError::ServerError { status, .. }
            | SessionError::BadResponse { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_cause_and_codes_are_stable() {
        let e = SessionError::LoginRejected { status: 400, errcode: Some(40163), errmsg: "code been used".into() };
        assert_eq!(e.code(), "LOGIN_REJECTED");
        assert_eq!(e.to_string(), "the server rejected the login (HTTP 400, errcode 40163): code been used");
        assert!(!e.is_retryable());
        assert_eq!(e.errcode(), Some(40163));

        let e = SessionError::Timeout { during: "wx.login", after_ms: 10_000 };
        assert_eq!(e.to_string(), "wx.login timed out after 10000 ms");
        assert!(e.is_retryable());
        assert_eq!(e.errcode(), None);
    }
}
