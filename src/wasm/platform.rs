//! The core's platform effects as the host adapter's calls (`Host::call` in `js/host.js`): a kind
//! number and at most two strings out, and the answer (`Client::answered`) back as the core's
//! [`Outcome`]. Decides nothing; the adapter bounds every string before it enters wasm memory.

use crate::core::{login_request_body, Effect, HttpReply, LoginCode, Outcome, PlatformFailure, StorageValue};

/// The kinds of [`Call`], as `js/host.js` numbers them.
pub const GET_STORAGE: u32 = 1;
pub const SET_STORAGE: u32 = 2;
pub const REMOVE_STORAGE: u32 = 3;
pub const CHECK_SESSION: u32 = 4;
pub const LOGIN: u32 = 5;
/// A JSON POST whose reply is read as text: the code exchange, a refresh, an account login.
pub const POST_JSON: u32 = 6;

/// How a storage read answers in `status`: nothing stored, a string (in `text`), or something
/// that is not a string of ours (another app's value, or one far larger than ours).
pub const STORED_NOTHING: u32 = 0;
pub const STORED_TEXT: u32 = 1;

/// How a login answers in `status`: `text` is a code (0), Douyin's `anonymousCode` or Alipay's
/// `authCode`.
pub const CODE_ANONYMOUS: u32 = 1;
pub const CODE_AUTH: u32 = 2;

/// What a platform call in flight will answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaiting {
    ReadStorage,
    /// A write or a removal of storage.
    Storage,
    CheckSession,
    Code,
    Reply,
    /// A page's request (the adapter answers it through `sent` / `sendFailed`).
    Send,
}

/// One platform call: its kind and strings (storage key and value, or the exchange's URL and body).
pub struct Call {
    pub awaiting: Awaiting,
    pub kind: u32,
    pub text: Option<String>,
    pub more: Option<String>,
    pub timeout_ms: u32,
}

/// The call for `effect` (not `Send`/`Abort`, which are the host's `send`/`abort`); `timeout_ms` bounds
/// the platform calls that take one (`wx.login`, the exchange).
pub fn prepare(effect: Effect) -> Option<Call> {
    let call = |awaiting, kind, text, more, timeout_ms| Some(Call { awaiting, kind, text, more, timeout_ms });
    match effect {
        Effect::ReadStorage { key } => call(Awaiting::ReadStorage, GET_STORAGE, Some(key), None, 0),
        Effect::WriteStorage { key, value } => call(Awaiting::Storage, SET_STORAGE, Some(key), Some(value), 0),
        Effect::RemoveStorage { key } => call(Awaiting::Storage, REMOVE_STORAGE, Some(key), None, 0),
        Effect::CheckSession => call(Awaiting::CheckSession, CHECK_SESSION, None, None, 0),
        Effect::RequestCode { timeout_ms } => call(Awaiting::Code, LOGIN, None, None, timeout_ms),
        Effect::PostCode { url, code, payload, timeout_ms } => {
            let body = login_request_body(&code, payload.as_ref());
            call(Awaiting::Reply, POST_JSON, Some(url), Some(body), timeout_ms)
        }
        Effect::PostCredentials { url, body, timeout_ms } => {
            call(Awaiting::Reply, POST_JSON, Some(url), Some(body.expose().to_string()), timeout_ms)
        }
        Effect::Send { .. } | Effect::Abort => None,
    }
}

/// The core's view of the adapter's answer to a call made for `awaiting`: `ok` as the platform's
/// `success` or `fail`; on success `status` and `text` as the kind says (the storage read's
/// [`STORED_TEXT`] and data, the code, the exchange's HTTP status and body text), on failure
/// `text` is the `errMsg` and `errno` the platform's (NaN without one).
/// `more` is the reply's `Set-Cookie` lines (cookie mode only).
pub fn outcome(
    awaiting: Awaiting,
    ok: bool,
    status: f64,
    text: Option<String>,
    errno: f64,
    more: Option<String>,
) -> Outcome {
    let failure = || PlatformFailure {
        errmsg: text.clone().unwrap_or_default(),
        errno: (!errno.is_nan()).then_some(errno as i64),
    };
    match awaiting {
        // A failed read is WeChat's "data not found" (or a broken storage): no session either way.
        Awaiting::ReadStorage if !ok => Outcome::StorageRead(StorageValue::Missing),
        Awaiting::ReadStorage => Outcome::StorageRead(match (status as u32, text) {
            (STORED_NOTHING, _) => StorageValue::Missing,
            (STORED_TEXT, Some(text)) if text.is_empty() => StorageValue::Missing,
            (STORED_TEXT, Some(text)) => StorageValue::Text(text),
            _ => StorageValue::Other,
        }),
        Awaiting::Storage => Outcome::StorageDone(if ok { Ok(()) } else { Err(failure()) }),
        Awaiting::CheckSession => Outcome::SessionChecked(ok),
        Awaiting::Code if ok && status as u32 == CODE_ANONYMOUS => {
            Outcome::Code(Ok(LoginCode::anonymous(text.unwrap_or_default())))
        }
        Awaiting::Code if ok && status as u32 == CODE_AUTH => {
            Outcome::Code(Ok(LoginCode::auth_code(text.unwrap_or_default())))
        }
        Awaiting::Code if ok => Outcome::Code(Ok(LoginCode::new(text.unwrap_or_default()))),
        Awaiting::Code => Outcome::Code(Err(failure())),
        Awaiting::Reply if ok => {
            Outcome::Reply(Ok(HttpReply { status: status as u16, body: text.unwrap_or_default(), cookies: more }))
        }
        Awaiting::Reply => Outcome::Reply(Err(failure())),
        Awaiting::Send => Outcome::Sent(Err(failure())),
    }
}
