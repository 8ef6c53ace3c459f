//! The vocabulary between the core and its driver: ids, the effects the core asks for, the
//! platform's answers, and what the core hands back to callers.

use std::rc::Rc;

use crate::core::codec::json::write_string;
use crate::core::codec::payload::Payload;
use crate::core::config::{BodyValue, RequestPolicy};
use crate::core::error::{PlatformFailure, SessionError};
use crate::core::token::{LoginCode, Secret, Token};

/// What the page asked for, as far as the core needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    /// Absolute, or relative to `baseUrl`.
    pub url: String,
    pub method: String,
    /// Bounds the request's whole life, login and replay included; `timeoutMs` when absent.
    pub timeout_ms: Option<f64>,
}

/// The header that carries the token. Its `Debug` is redacted through [`Token`]. One per session,
/// shared (`Rc`) by every send that carries it; a driver may key a cache on its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    pub name: String,
    pub value: Token,
}

impl AuthHeader {
    /// The header for `token` under `policy`: `Authorization: Bearer <token>` by default. Built
    /// once per session and shared by all its sends.
    pub(crate) fn for_token(policy: &RequestPolicy, token: &Token) -> Rc<AuthHeader> {
        // Cookie mode: `Cookie: sid=<token>` (the host merges the page's other cookies into it).
        if let Some(name) = &policy.cookie {
            let value = Token::new([name.as_str(), "=", token.expose()].concat());
            return Rc::new(AuthHeader { name: String::from("Cookie"), value });
        }
        let (scheme, raw) = (policy.token_scheme.as_str(), token.expose());
        let mut value = String::with_capacity(scheme.len() + 1 + raw.len());
        if !scheme.is_empty() {
            value.push_str(scheme);
            value.push(' ');
        }
        value.push_str(raw);
        Rc::new(AuthHeader { name: policy.token_header.clone(), value: Token::new(value) })
    }
}

/// The platform's response to a send, reduced to what decides expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseSummary {
    pub status: u16,
    /// The value at `expiredWhen.bodyField`, when the body has one.
    pub body_code: Option<BodyValue>,
    /// Cookie mode: the response's `Set-Cookie` lines, when it has any.
    pub cookies: Option<String>,
}

/// Milliseconds since the Unix epoch, as the driver's clock reads them.
pub type Millis = u64;

/// Names one effect; its answer must carry the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub u32);

/// Names one caller waiting for a login state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WaiterId(pub u32);

/// Something the driver must do on the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// `wx.getStorage({ key })`; answer with [`Outcome::StorageRead`].
    ReadStorage { key: String },
    /// `wx.setStorage({ key, data: value })`; answer with [`Outcome::StorageDone`].
    WriteStorage { key: String, value: String },
    /// `wx.removeStorage({ key })`; answer with [`Outcome::StorageDone`].
    RemoveStorage { key: String },
    /// `wx.checkSession()`; answer with [`Outcome::SessionChecked`].
    CheckSession,
    /// `wx.login({ timeout })`; answer with [`Outcome::Code`].
    RequestCode { timeout_ms: u32 },
    /// `wx.request` POST of [`login_request_body`]`(code, payload)` as JSON to `url`, reading the
    /// reply as text; answer with [`Outcome::Reply`].
    PostCode { url: String, code: LoginCode, payload: Option<Payload>, timeout_ms: u32 },
    /// `wx.request` POST of `body` (JSON: a refresh's `{"refreshToken":…}` or an account login's
    /// data) to `url`, reading the reply as text; answer with [`Outcome::Reply`].
    PostCredentials { url: String, body: Secret, timeout_ms: u32 },
    /// Send the page's request `waiter` (with its own options) to `url`, adding `auth` as a header
    /// when present; answer with [`Outcome::Sent`].
    Send { waiter: WaiterId, url: String, auth: Option<Rc<AuthHeader>>, timeout_ms: u32 },
    /// Abort the send with this op id (its request timed out). No answer is expected.
    Abort,
}

/// The body of the code exchange: `{"code":"…"}` (Douyin's anonymous code as
/// `{"anonymousCode":"…"}`), followed by the payload's members if any.
pub fn login_request_body(code: &LoginCode, payload: Option<&Payload>) -> String {
    let mut body = String::from("{");
    write_string(&mut body, code.field());
    body.push(':');
    write_string(&mut body, code.expose());
    if let Some(members) = payload.map(Payload::members).filter(|m| !m.is_empty()) {
        body.push(',');
        body.push_str(members);
    }
    body.push('}');
    body
}

/// What `wx.getStorage` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageValue {
    /// Nothing under the key (or the read failed).
    Missing,
    Text(String),
    /// A value that is not a string: someone else's data under our key.
    Other,
}

/// The platform's answer to an [`Effect`].
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    StorageRead(StorageValue),
    StorageDone(Result<(), PlatformFailure>),
    /// `true` when `wx.checkSession` succeeded.
    SessionChecked(bool),
    Code(Result<LoginCode, PlatformFailure>),
    Reply(Result<HttpReply, PlatformFailure>),
    Sent(Result<ResponseSummary, PlatformFailure>),
}

/// An HTTP response, body read as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    pub body: String,
    /// Cookie mode: the reply's `Set-Cookie` lines, when it has any.
    pub cookies: Option<String>,
}

/// A usable login state, as handed to callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub token: Token,
    pub expires_at_ms: Millis,
    /// Increases with every new session; lets a later "expired" report name the session it saw.
    pub generation: u32,
    /// The kept reply's JSON text (an object) when `replyFields` is set; shared, not copied, by
    /// every caller a login settles.
    pub reply: Option<Rc<String>>,
}

/// Changes a page may want to react to (`auth.onChange`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    LoggedIn {
        expires_at_ms: Millis,
        /// The new session's kept reply, as in [`SessionView::reply`].
        reply: Option<Rc<String>>,
    },
    LoggedOut,
    /// The server said the session is gone; the next call logs in again.
    Expired,
    /// Storage could not be written or cleared; the session still lives in memory.
    StorageFailed {
        message: String,
    },
    /// `silentLogin: false` and no valid session: the app should show its login page. Once per
    /// episode (until a session is established or the client logs out).
    LoginRequired,
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Effect {
        op: OpId,
        effect: Effect,
    },
    Settle {
        waiter: WaiterId,
        result: Result<SessionView, SessionError>,
    },
    Event(SessionEvent),
    /// A logout's storage removal has finished (a failure was reported as `StorageFailed`).
    LoggedOut {
        waiter: WaiterId,
    },
    /// Request `waiter` is over: resolve it with the platform's response to send `op`, or reject.
    Respond {
        waiter: WaiterId,
        result: Result<OpId, SessionError>,
    },
}
