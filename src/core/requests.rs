//! Authenticated requests: the token attached to trusted origins only, a FIFO queue under the
//! platform's concurrency cap, one shared re-login and one replay when the server says the session
//! expired, and a deadline over each request's whole life.

use std::rc::Rc;

use super::config::{origin_of, BodyValue, Config, RequestPolicy};
use super::error::{PlatformFailure, SessionError};
use super::machine::Core;
use super::protocol::{Effect, Millis, OpId, Output, SessionEvent, WaiterId};
use super::token::Token;

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

/// The platform's response to a send, reduced to what decides expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseSummary {
    pub status: u16,
    /// The value at `expiredWhen.bodyField`, when the body has one.
    pub body_code: Option<BodyValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Waits for the login state (joined the login waiters).
    AwaitingLogin,
    /// Waits for a free slot under the concurrency cap.
    Queued,
    /// On the wire; `generation` names the session whose token it carries.
    InFlight { op: OpId, generation: Option<u32> },
    /// Pauses before another attempt after a transport failure (GET/HEAD only).
    Backoff { op: OpId },
}

#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) waiter: WaiterId,
    target: Target,
    idempotent: bool,
    deadline: Millis,
    timeout_ms: u32,
    replayed: bool,
    attempts: u32,
    pub(crate) stage: Stage,
}

/// Where a request goes: the page's URL, kept as given (no copy is made when it is checked).
#[derive(Debug)]
struct Target {
    url: String,
    /// Appended to `baseUrl` when sent.
    relative: bool,
    /// Whether it may receive the token: an absolute URL when its origin, as [`origin_of`] spells
    /// it, is `baseUrl`'s or a trusted one; a relative one always, since it is appended to
    /// `baseUrl` after its authority and cannot leave it.
    trusted: bool,
}

impl Target {
    /// Checks the page's `url` against the options.
    fn new(config: &Config, url: String) -> Result<Target, SessionError> {
        let bad = |reason: &str| SessionError::ConfigInvalid { option: "url".into(), reason: reason.into() };
        if url.is_empty() || has_space_or_control(&url) {
            return Err(bad("must be a non-empty URL without spaces"));
        }
        let (http, https) = (starts_with_ignore_case(&url, "http://"), starts_with_ignore_case(&url, "https://"));
        if http || https {
            if http && !config.allow_insecure_http {
                return Err(bad("http:// is refused; use https:// or set allowInsecureHttp for local development"));
            }
            let origin = origin_of(&url).ok_or_else(|| {
                bad("is not a valid absolute URL (no user information, no backslash before the path)")
            })?;
            let trusted = origin == config.origin || config.requests.trusted_origins.contains(&origin);
            return Ok(Target { url, relative: false, trusted });
        }
        if matches!(url.as_bytes(), [b'/', b'/', ..])
            || url.as_bytes().windows(3).any(|w| matches!(w, [b':', b'/', b'/']))
        {
            return Err(bad("must be an https:// URL or a path relative to baseUrl"));
        }
        Ok(Target { url, relative: true, trusted: true })
    }

    /// The URL to send to: a relative one joined to `base` in one exact allocation, no `format!`.
    fn resolved(&self, base: &str) -> String {
        if !self.relative {
            return self.url.clone();
        }
        let mut joined = String::with_capacity(base.len() + 1 + self.url.len());
        joined.push_str(base);
        if !self.url.starts_with('/') {
            joined.push('/');
        }
        joined.push_str(&self.url);
        joined
    }
}

/// Whether `url` has whitespace or a control character anywhere (checked byte by byte when it is
/// ASCII, as it nearly always is).
fn has_space_or_control(url: &str) -> bool {
    if url.is_ascii() {
        url.bytes().any(|b| b <= b' ' || b == 0x7f)
    } else {
        url.chars().any(|c| c.is_whitespace() || c.is_control())
    }
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len() && text.bytes().zip(prefix.bytes()).all(|(a, b)| a.eq_ignore_ascii_case(&b))
}

impl AuthHeader {
    /// The header for `token` under `policy`: `Authorization: Bearer <token>` by default. Built
    /// once per session and shared by all its sends.
    pub(crate) fn for_token(policy: &RequestPolicy, token: &Token) -> Rc<AuthHeader> {
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

impl Core {
    /// A page's request. It waits for the login state (if its URL is trusted), then for a slot,
    /// then is sent; [`Output::Respond`] settles it. A malformed URL is refused at once.
    pub fn request(&mut self, now: Millis, spec: RequestSpec) -> Result<WaiterId, SessionError> {
        let target = Target::new(&self.config, spec.url)?;
        let trusted = target.trusted;
        let timeout_ms = match spec.timeout_ms {
            None => self.config.timeout_ms,
            Some(t) if t.fract() == 0.0 && (1.0..=600_000.0).contains(&t) => t as u32,
            Some(_) => {
                return Err(SessionError::ConfigInvalid {
                    option: "timeout".into(),
                    reason: "must be a whole number of milliseconds from 1 to 600000".into(),
                })
            }
        };
        let idempotent = ["GET", "HEAD", "OPTIONS"].iter().any(|m| spec.method.eq_ignore_ascii_case(m));
        let waiter = self.new_waiter();
        let request = Request {
            waiter,
            target,
            idempotent,
            deadline: now + u64::from(timeout_ms),
            timeout_ms,
            replayed: false,
            attempts: 0,
            stage: Stage::Queued,
        };
        self.requests.push(request);
        // The warm path: with a valid session and nothing for the login to do, the request goes
        // straight to the queue, as the login would have sent it there at once.
        if trusted && !self.settles_at_once(now) {
            self.await_login(now, waiter);
        } else {
            self.enqueue(now, waiter);
        }
        Ok(waiter)
    }

    /// Request `waiter` waits for the login state (joining the login's waiters).
    fn await_login(&mut self, now: Millis, waiter: WaiterId) {
        if let Some(r) = self.requests.iter_mut().find(|r| r.waiter == waiter) {
            r.stage = Stage::AwaitingLogin;
        }
        self.join_login(now, waiter);
    }

    /// Request `waiter` waits for a slot, behind those already waiting; sends what the cap allows.
    fn enqueue(&mut self, now: Millis, waiter: WaiterId) {
        if let Some(r) = self.requests.iter_mut().find(|r| r.waiter == waiter) {
            r.stage = Stage::Queued;
            self.queue.push_back(waiter);
        }
        self.dispatch(now);
    }

    /// The login this request waited for is settled.
    pub(crate) fn login_settled_for_request(
        &mut self,
        now: Millis,
        waiter: WaiterId,
        result: Result<(), SessionError>,
    ) {
        match result {
            Ok(()) => self.enqueue(now, waiter),
            Err(error) => self.respond(waiter, Err(error)),
        }
    }

    /// Sends queued requests while the concurrency cap allows.
    pub(crate) fn dispatch(&mut self, now: Millis) {
        while self.in_flight() < self.config.requests.max_concurrent as usize {
            let Some(waiter) = self.queue.pop_front() else { break };
            let Some(index) = self.requests.iter().position(|r| r.waiter == waiter) else { continue };
            let trusted = self.requests.get(index).is_some_and(|r| r.target.trusted);
            let auth = match self.valid_auth(now) {
                Some((generation, header)) if trusted => Some((generation, Rc::clone(header))),
                // The session went stale while this request queued: log in again first.
                None if trusted => {
                    self.await_login(now, waiter);
                    continue;
                }
                _ => None,
            };
            let Some(r) = self.requests.get_mut(index) else { continue };
            r.attempts += 1;
            // The deadline is creation time plus `timeout_ms`, so what remains fits a u32.
            let remaining = r.deadline.saturating_sub(now).max(1) as u32;
            let generation = auth.as_ref().map(|(generation, _)| *generation);
            let url = r.target.resolved(&self.config.base_url);
            let effect = Effect::Send { waiter, url, auth: auth.map(|(_, header)| header), timeout_ms: remaining };
            let op = self.start_send(waiter, effect);
            if let Some(r) = self.requests.get_mut(index) {
                r.stage = Stage::InFlight { op, generation };
            }
        }
    }

    /// The platform answered send `op` of request `waiter`.
    pub(crate) fn on_sent(
        &mut self,
        now: Millis,
        waiter: WaiterId,
        op: OpId,
        result: Result<ResponseSummary, PlatformFailure>,
    ) {
        let Some(index) = self.requests.iter().position(|r| r.waiter == waiter) else { return };
        let Some(request) = self.requests.get_mut(index) else { return };
        let generation = match request.stage {
            Stage::InFlight { op: sent, generation } if sent == op => generation,
            _ => return,
        };
        match result {
            Ok(response) if request.target.trusted && self.config.requests.is_expired(&response) => {
                let replay = !request.replayed;
                request.replayed = true;
                if let Some(generation) = generation {
                    self.invalidate(now, generation);
                }
                if replay {
                    self.await_login(now, waiter);
                } else {
                    self.respond(waiter, Err(SessionError::SessionExpired));
                }
            }
            Ok(_) => self.respond(waiter, Ok(op)),
            Err(_) if request.idempotent && request.attempts < self.config.requests.max_idempotent_attempts => {
                let attempts = request.attempts;
                let delay = self.jitter.delay_ms(&self.config.retry, attempts);
                let op = self.start_request_backoff(waiter, now + delay);
                if let Some(r) = self.requests.get_mut(index) {
                    r.stage = Stage::Backoff { op };
                }
            }
            Err(failure) => self.respond(waiter, Err(SessionError::Network { during: "the request", failure })),
        }
        self.dispatch(now);
    }

    /// A backoff pause of a request is over: queue it again.
    pub(crate) fn request_backoff_over(&mut self, now: Millis, waiter: WaiterId) {
        self.enqueue(now, waiter);
    }

    /// Requests past their deadline reject `TIMEOUT`; one on the wire is aborted.
    pub(crate) fn expire_requests(&mut self, now: Millis) {
        while let Some(index) = self.requests.iter().position(|r| r.deadline <= now) {
            let Some(r) = self.requests.get(index) else { break };
            let (waiter, stage, after_ms) = (r.waiter, r.stage, r.timeout_ms);
            match stage {
                Stage::InFlight { op, .. } => {
                    self.cancel_op(op);
                    self.outputs.push_back(Output::Effect { op, effect: Effect::Abort });
                }
                Stage::Backoff { op } => self.cancel_op(op),
                Stage::AwaitingLogin | Stage::Queued => {}
            }
            self.respond(waiter, Err(SessionError::Timeout { during: "the request", after_ms }));
        }
        self.dispatch(now);
    }

    /// Rejects every request not on the wire (for `logout`); those on the wire finish, but will
    /// not log in again.
    pub(crate) fn reject_waiting_requests(&mut self, error: &SessionError) {
        let waiting: Vec<WaiterId> =
            self.requests.iter().filter(|r| !matches!(r.stage, Stage::InFlight { .. })).map(|r| r.waiter).collect();
        for r in self.requests.iter_mut() {
            r.replayed = true;
        }
        for waiter in waiting {
            if let Some(Stage::Backoff { op }) = self.requests.iter().find(|r| r.waiter == waiter).map(|r| r.stage) {
                self.cancel_op(op);
            }
            self.respond(waiter, Err(error.clone()));
        }
    }

    /// The earliest request deadline.
    pub(crate) fn next_request_deadline(&self) -> Option<Millis> {
        self.requests.iter().map(|r| r.deadline).min()
    }

    /// Ends a request: removes it everywhere and tells the driver.
    fn respond(&mut self, waiter: WaiterId, result: Result<OpId, SessionError>) {
        self.requests.retain(|r| r.waiter != waiter);
        self.queue.retain(|w| *w != waiter);
        self.forget_waiter(waiter);
        self.outputs.push_back(Output::Respond { waiter, result });
    }

    /// The server rejected the token of `generation`: drop that session unless a newer one
    /// replaced it already (a late 401 must never wipe a fresher token).
    fn invalidate(&mut self, now: Millis, generation: u32) {
        if self.current_generation() == Some(generation) {
            self.drop_session(now);
            self.outputs.push_back(Output::Event(SessionEvent::Expired));
        }
    }
}

impl super::config::RequestPolicy {
    fn is_expired(&self, response: &ResponseSummary) -> bool {
        self.expired_statuses.contains(&response.status)
            || response.body_code.as_ref().is_some_and(|code| self.expired_body_values.iter().any(|v| v.matches(code)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ConfigInput;

    fn resolve_url(config: &Config, url: &str) -> Result<(String, bool), SessionError> {
        Target::new(config, url.to_string()).map(|t| (t.resolved(&config.base_url), t.trusted))
    }

    fn config() -> Config {
        ConfigInput {
            base_url: Some("https://api.example.com/v1".into()),
            trusted_origins: Some(vec!["https://files.example.com".into()]),
            ..Default::default()
        }
        .validate()
        .unwrap()
    }

    #[test]
    fn urls_join_the_base_and_only_trusted_origins_get_the_token() {
        let c = config();
        assert_eq!(resolve_url(&c, "/me").unwrap(), ("https://api.example.com/v1/me".into(), true));
        assert_eq!(resolve_url(&c, "me").unwrap(), ("https://api.example.com/v1/me".into(), true));
        assert!(resolve_url(&c, "https://API.example.com/other").unwrap().1);
        assert!(resolve_url(&c, "https://files.example.com/a.png").unwrap().1);
        assert!(!resolve_url(&c, "https://evil.example.net/steal").unwrap().1);
        assert!(!resolve_url(&c, "https://api.example.com.evil.net/").unwrap().1);
        for bad in ["", "http://api.example.com/x", "//evil.net/x", "ftp://x/y", "/a b"] {
            assert!(resolve_url(&c, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_explicit_default_port_names_the_same_origin() {
        let c = config();
        for url in ["https://api.example.com:443/x", "https://API.EXAMPLE.COM:443", "https://files.example.com:443/a"] {
            assert_eq!(resolve_url(&c, url).unwrap(), (url.to_string(), true), "{url}");
        }
        for url in ["https://api.example.com:8443/x", "https://api.example.com:80/x", "https://files.example.com:444/"]
        {
            assert!(!resolve_url(&c, url).unwrap().1, "{url}");
        }
        let c = ConfigInput {
            base_url: Some("http://127.0.0.1:80/v1".into()),
            allow_insecure_http: Some(true),
            trusted_origins: Some(vec!["https://files.example.com:443".into(), "http://cdn.example.com:80".into()]),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(c.origin, "http://127.0.0.1");
        assert_eq!(c.requests.trusted_origins, ["https://files.example.com", "http://cdn.example.com"]);
        for url in
            ["http://127.0.0.1/x", "http://127.0.0.1:80/x", "https://files.example.com/a", "http://cdn.example.com/"]
        {
            assert!(resolve_url(&c, url).unwrap().1, "{url}");
        }
        for url in ["https://127.0.0.1/x", "http://127.0.0.1:8080/x", "http://files.example.com/a"] {
            assert!(!resolve_url(&c, url).unwrap().1, "{url}");
        }
        assert_eq!(resolve_url(&c, "/me").unwrap(), ("http://127.0.0.1:80/v1/me".into(), true));
    }

    #[test]
    fn tricks_never_send_the_token_to_another_host() {
        let c = config();
        for url in [
            "https://api.example.com@evil.com/x",
            "https://api.example.com:443@evil.com/x",
            "https://evil.com\\@api.example.com/x",
            "https://api.example.com\\.evil.com/x",
            "https://api.example.com\\@evil.com",
            "https://api.example.com:443.evil.com/",
            "https://api.example.com:evil/",
            "https://api.example.com:99999/",
        ] {
            assert!(resolve_url(&c, url).is_err(), "{url}");
        }
        for url in [
            "https://api.example.com.evil.com/",
            "https://evil.com/https://api.example.com/",
            "https://evil.com?@api.example.com",
            "https://evil.com#@api.example.com",
            "HTTPS://EVIL.COM/",
            "https://api.example.com%2eevil.com/",
            "https://xn--pi-6kc.example.com/",
        ] {
            assert!(!resolve_url(&c, url).unwrap().1, "{url}");
        }
        // Relative references stay under baseUrl, whatever they contain.
        for url in ["\\\\evil.com/x", "/\\evil.com", "@evil.com", "https:\\\\evil.com", ":443@evil.com"] {
            let (resolved, trusted) = resolve_url(&c, url).unwrap();
            assert!(trusted && resolved.starts_with("https://api.example.com/v1/"), "{url} -> {resolved}");
        }
        assert!(resolve_url(&c, "//evil.com").is_err());
    }
}
