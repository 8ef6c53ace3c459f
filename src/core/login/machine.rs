use std::rc::Rc;

use crate::core::backoff::Jitter;
use crate::core::codec::cookie::{self, CookieSet};
use crate::core::codec::json::decimal;
use crate::core::codec::json::{write_string, Json};
use crate::core::codec::login_reply::{decode_grant, is_sendable_token, GrantRules, LoginReply, RefreshGrant};
use crate::core::codec::payload::{LoginWith, Payload};
use crate::core::codec::stored::{self, StoredSession};
use crate::core::config::{url_on, BodyValue, Config};
use crate::core::error::{PlatformFailure, SessionError};
use crate::core::expiry;
use crate::core::login::pacing::LoginPace;
use crate::core::outbox::Outbox;
use crate::core::protocol::*;
use crate::core::requests::{Requests, SessionHeader, Shared, ToLogin};
use crate::core::token::{Secret, Token};

/// How long after `ensureLogin({ freshSessionKey: true })` succeeds the core starts no `wx.login`
/// of its own (which could replace the `session_key` the page's encrypted data needs), unless a
/// login with a payload comes first: the five minutes a login code lives.
pub const KEY_HOLD_MS: u64 = 5 * 60_000;

/// Why an operation is outstanding; decides what its answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    ReadStore,
    Persist,
    CheckSession,
    Code,
    Exchange,
    /// A pause before the next login attempt; there is no effect, only a deadline.
    Backoff,
    /// A login waiting for the pace of automatic logins to allow it; only a deadline.
    Paced,
}

/// Who waits for a login state: a page (settled with [`Output::Settle`]) or one of the requests
/// (handed to [`Requests::login_settled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Page,
    Request,
    /// A page that asked for a fresh `session_key` (`ensureLogin({ freshSessionKey: true })`): only
    /// a session `wx.checkSession` vouched for, or one from a new `wx.login`, settles it.
    FreshKey,
}

/// What the exchange on the wire (or the attempt being prepared) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exchanging {
    /// `wx.login`'s code (and a payload's members) to `loginPath`.
    Code,
    /// `{ refreshToken }` to `refresh.path`.
    Refresh,
    /// `login({ path, data })`.
    Account,
}

/// How the next login attempt gets its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Via(Exchanging),
    /// `silentLogin: false` and nothing else to try: `LOGIN_REQUIRED`.
    Required,
}

/// The refresh token of the current session family (`refresh`).
#[derive(Debug, Clone)]
struct Refresh {
    token: Token,
    /// When the server said it expires; unknown: used until the server refuses it.
    expires_at: Option<Millis>,
    /// The family's kept reply: a refresh reply need not repeat the login's `replyFields`.
    reply: Option<Rc<String>>,
}

#[derive(Debug)]
struct Pending {
    op: OpId,
    purpose: Purpose,
    deadline: Option<Millis>,
}

/// An answer, or the lack of one by the deadline.
enum Answer {
    Outcome(Outcome),
    TimedOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreState {
    Unread,
    Reading,
    Ready,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flight {
    Idle,
    /// `wx.checkSession` is running for a session loaded from storage.
    Checking,
    /// `attempt` counts from 1; it grows only after a transient server failure. The attempt may
    /// still be waiting for its pause ([`Purpose::Backoff`]) or its turn ([`Purpose::Paced`]).
    LoggingIn {
        attempt: u32,
    },
}

#[derive(Debug, Clone)]
struct Session {
    token: Token,
    expires_at: Millis,
    /// From this instant on the session counts as expired (expiry minus the safety margin, as
    /// [`expiry::stale_at`] caps it).
    stale_at: Millis,
    generation: u32,
    /// The kept reply (`replyFields`), JSON text.
    reply: Option<Rc<String>>,
    /// The header its requests carry, built once: every send shares it.
    auth: Rc<AuthHeader>,
}

/// What storage should hold once the running write (if any) is done.
#[derive(Debug, Clone)]
enum Persist {
    Write(String),
    Remove,
}

/// The login session of one client. See the module documentation for the driving protocol.
///
/// Two parts: the login machine (this file) and the request scheduler (`requests.rs`). The login
/// machine drives the scheduler through its methods — the session its sends carry, the logins its
/// requests waited for, the exchange's slot — and, after each input, does what the scheduler
/// asked of it (`route`): join a login, leave one, drop a session the server rejected. Neither
/// reaches into the other's state; both hand their outputs to one outbox, in the order they were
/// decided.
#[derive(Debug)]
pub struct Core {
    config: Config,
    jitter: Jitter,
    /// Ids and outputs, shared with the request scheduler.
    out: Outbox,
    /// The login machine's operations; the scheduler keeps its own sends.
    pending: Vec<Pending>,
    store: StoreState,
    session: Option<Session>,
    generation: u32,
    /// Whether `wx.checkSession` has vouched for the current session (or was not wanted).
    session_checked: bool,
    flight: Flight,
    /// Bounds how often the core logs in by itself.
    pace: LoginPace,
    /// Callers (pages and requests) of the current login that brought no payload.
    waiters: Vec<(WaiterId, Caller)>,
    /// A caller without a payload asked for a new session ([`Core::forced`] covers payloads).
    force_requested: bool,
    /// What the current explicit login sends (a payload, an account's data); `None` for a login
    /// the core decided on.
    payload: Option<LoginWith>,
    /// Callers of explicit logins, in arrival order: those with the current login's payload
    /// are its callers, the others wait for theirs — the first one's payload is the next login's.
    with_payload: Vec<(WaiterId, LoginWith)>,
    /// The current session family's refresh token, which outlives a rejected access token.
    refresh: Option<Refresh>,
    /// What the current attempt's exchange is.
    exchanging: Exchanging,
    /// Set just before a settle that `wx.checkSession` or a new `wx.login` vouched for.
    key_vouched: bool,
    /// No `wx.login` of the core's own before this instant ([`KEY_HOLD_MS`]).
    hold_until: Millis,
    /// `loginRequired` was emitted in this episode.
    told_login_required: bool,
    persist_running: bool,
    persist_next: Option<Persist>,
    /// Logouts waiting for their storage removal to finish.
    logouts: Vec<WaiterId>,
    /// The pages' requests: the other part of the core, reached only through its methods.
    requests: Requests,
}

impl Core {
    /// `jitter_seed` should be random (the driver takes it from `Math.random`); it only spreads
    /// retry delays.
    pub fn new(config: Config, jitter_seed: u32) -> Self {
        Core {
            session_checked: !config.check_session,
            config,
            jitter: Jitter::new(jitter_seed),
            out: Outbox::default(),
            pending: Vec::new(),
            store: StoreState::Unread,
            session: None,
            generation: 0,
            flight: Flight::Idle,
            pace: LoginPace::default(),
            waiters: Vec::new(),
            force_requested: false,
            payload: None,
            with_payload: Vec::new(),
            refresh: None,
            exchanging: Exchanging::Code,
            key_vouched: false,
            hold_until: 0,
            told_login_required: false,
            persist_running: false,
            persist_next: None,
            logouts: Vec::new(),
            requests: Requests::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A caller wants a valid login state. It is settled at once when the session is valid;
    /// otherwise it joins the running login or starts one. `force` asks for a new session even
    /// when the current one is valid (joining a login already running counts), and is never
    /// paced: a login waiting for its turn ([`crate::core::login::pacing`]) starts at once.
    pub fn ensure_login(&mut self, now: Millis, force: bool) -> WaiterId {
        let waiter = self.out.waiter();
        self.force_requested |= force;
        self.join(now, waiter, Caller::Page);
        if force {
            self.unpace(now);
        }
        self.route(now);
        waiter
    }

    /// A caller wants a new session from a login whose exchange also sends `payload` (a phone
    /// code, say): `{ code, ...payload }`. Such a login is forced, never paced, and always its
    /// own: a login already under way (from `wx.login` on) is not joined — this one waits for it to
    /// end, then runs, so one exchange at most is still in flight. Callers with the same payload
    /// share it; callers without one that come while it runs join it, and when it fails go on to
    /// a login of their own. When no login is under way yet (storage being read, a
    /// `wx.checkSession`, a paced wait), this one takes over and the callers waiting join it.
    pub fn ensure_login_with(&mut self, now: Millis, payload: Payload) -> WaiterId {
        self.explicit(now, LoginWith::Code(payload))
    }

    /// `login({ path, data })`: a new session from posting `data` to `path` on `baseUrl`, without
    /// `wx.login` (a password or SMS-code login). It is an explicit login as
    /// [`Core::ensure_login_with`] describes; its reply is read by the same rules as a WeChat login's.
    pub fn login_account(&mut self, now: Millis, path: &str, data: Payload) -> Result<WaiterId, SessionError> {
        let url = url_on("path", &self.config.base_url, path)?;
        Ok(self.explicit(now, LoginWith::Account { url, data }))
    }

    /// `ensureLogin({ freshSessionKey: true })`: a valid session whose `session_key` WeChat vouches
    /// for, before the page asks for encrypted data. `wx.checkSession` runs; when it fails (or
    /// there is no valid session) a forced `wx.login` makes one. After it succeeds the core starts
    /// no `wx.login` of its own for [`KEY_HOLD_MS`], until the page's next payload login.
    pub fn ensure_fresh_key(&mut self, now: Millis) -> WaiterId {
        let waiter = self.out.waiter();
        self.join(now, waiter, Caller::FreshKey);
        self.route(now);
        waiter
    }

    /// The page aborted request `waiter` (see `Requests::abort`); a login it waited for goes on.
    pub fn abort(&mut self, now: Millis, waiter: WaiterId) {
        let (requests, mut cx) = self.scheduler();
        requests.abort(&mut cx, now, waiter);
        self.route(now);
    }

    fn explicit(&mut self, now: Millis, payload: LoginWith) -> WaiterId {
        let waiter = self.out.waiter();
        self.with_payload.push((waiter, payload.clone()));
        let under_way =
            self.pending.iter().any(|p| matches!(p.purpose, Purpose::Code | Purpose::Exchange | Purpose::Backoff));
        if self.payload.is_none() && !under_way {
            self.payload = Some(payload);
            self.advance(now);
            self.unpace(now);
            self.route(now);
        }
        waiter
    }

    /// A login waiting for its turn starts now: the page asked for it.
    fn unpace(&mut self, now: Millis) {
        if let Some(index) = self.pending.iter().position(|p| p.purpose == Purpose::Paced) {
            self.pending.swap_remove(index);
            self.start_attempt(now);
        }
    }

    /// Whether the current login must make an exchange even when the session is valid.
    fn forced(&self) -> bool {
        self.force_requested || self.payload.is_some()
    }

    /// A page's request. It waits for the login state (if its URL is trusted), then for a slot,
    /// then is sent; [`Output::Respond`] settles it. A malformed URL is refused at once.
    pub fn request(&mut self, now: Millis, spec: RequestSpec) -> Result<WaiterId, SessionError> {
        // A request the login would settle at once skips it (the warm path).
        let login_ready = self.settles_at_once(now);
        let (requests, mut cx) = self.scheduler();
        let waiter = requests.request(&mut cx, now, spec, login_ready)?;
        self.route(now);
        Ok(waiter)
    }

    /// The request scheduler, with what it borrows from the core.
    fn scheduler(&mut self) -> (&mut Requests, Shared<'_>) {
        (&mut self.requests, Shared { config: &self.config, jitter: &mut self.jitter, out: &mut self.out })
    }

    /// Does what the scheduler asked of the login machine, in order, until it asks nothing more.
    fn route(&mut self, now: Millis) {
        while let Some(note) = self.requests.poll_note() {
            match note {
                ToLogin::Join(waiter) => self.join(now, waiter, Caller::Request),
                ToLogin::Leave(waiter) => self.waiters.retain(|(w, _)| *w != waiter),
                ToLogin::Invalidate(generation) => self.invalidate(now, generation),
                ToLogin::Cookies { generation, cookies } => self.on_cookies(now, generation, &cookies),
            }
        }
    }

    /// `waiter` wants the login state: served now if the session is valid, else by the login.
    fn join(&mut self, now: Millis, waiter: WaiterId, caller: Caller) {
        self.waiters.push((waiter, caller));
        self.advance(now);
    }

    /// Forgets the session in memory and in storage. Callers waiting for a login are rejected
    /// with `LOGGED_OUT`, and answers to the cancelled login are ignored when they arrive. The
    /// returned waiter gets [`Output::LoggedOut`] once storage is cleared.
    pub fn logout(&mut self, now: Millis) -> WaiterId {
        let (requests, mut cx) = self.scheduler();
        requests.reject_waiting(&mut cx, &SessionError::LoggedOut);
        // The requests that waited for a login leave it before it is settled.
        self.route(now);
        // Everything but a storage write is cancelled; no request waits for the exchange's slot.
        self.pending.retain(|p| p.purpose == Purpose::Persist);
        self.requests.exchange_over();
        self.flight = Flight::Idle;
        self.force_requested = false;
        self.store = StoreState::Ready;
        self.set_session(None);
        self.refresh = None;
        self.hold_until = 0;
        self.told_login_required = false;
        self.session_checked = !self.config.check_session;
        self.settle_waiters(now, Err(SessionError::LoggedOut));
        self.persist(now, Persist::Remove);
        self.out.push(Output::Event(SessionEvent::LoggedOut));
        let waiter = self.out.waiter();
        self.logouts.push(waiter);
        self.route(now);
        waiter
    }

    /// The platform answered operation `op`. Unknown or already finished ids are ignored.
    pub fn handle(&mut self, now: Millis, op: OpId, outcome: Outcome) {
        if let Some(index) = self.pending.iter().position(|p| p.op == op) {
            let purpose = self.pending.swap_remove(index).purpose;
            self.finish(now, purpose, Answer::Outcome(outcome));
            if purpose == Purpose::Exchange {
                // Its slot goes to the requests only now, so that a request waiting for a slot
                // is sent with the session the exchange may have brought.
                self.requests.exchange_over();
                let (requests, mut cx) = self.scheduler();
                requests.dispatch(&mut cx, now);
            }
        } else {
            let (requests, mut cx) = self.scheduler();
            requests.handle_sent(&mut cx, now, op, outcome);
        }
        self.route(now);
    }

    /// Time has reached `now`: operations past their deadline fail with `TIMEOUT`, and a backoff
    /// pause that has run out starts the next attempt.
    pub fn handle_timeout(&mut self, now: Millis) {
        while let Some(index) = self.pending.iter().position(|p| p.deadline.is_some_and(|d| d <= now)) {
            let purpose = self.pending.swap_remove(index).purpose;
            self.finish(now, purpose, Answer::TimedOut);
            if purpose == Purpose::Exchange {
                self.requests.exchange_over();
            }
        }
        // Requests past their deadline are rejected before a freed slot is used.
        let (requests, mut cx) = self.scheduler();
        requests.handle_timeout(&mut cx, now);
        self.route(now);
    }

    /// When [`Core::handle_timeout`] should next be called, if anything is waiting on time.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let ops = self.pending.iter().filter_map(|p| p.deadline).min();
        match (ops, self.requests.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next thing for the driver to do. Drain it after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop()
    }

    /// The current session if it is valid at `now`.
    pub fn session(&self, now: Millis) -> Option<SessionView> {
        self.session.as_ref().filter(|s| now < s.stale_at).map(|s| SessionView {
            token: s.token.clone(),
            expires_at_ms: s.expires_at,
            generation: s.generation,
            reply: s.reply.clone(),
        })
    }

    /// What `ensure_login(now, false)` would settle at once, with no effect: the session when
    /// storage has been read, it is valid, it was checked (or checks are off) and no login is
    /// running or forced. Lets the driver answer a warm call without a waiter or a promise hop.
    pub fn ready_session(&self, now: Millis) -> Option<SessionView> {
        self.ready_until(now).and_then(|_| self.session(now))
    }

    /// The generation of [`Core::ready_session`]'s session and until when it stays ready, without
    /// copying its token. A driver may keep answering with that session until then, as long as it
    /// makes no call into the core and the core emits no event: only those change readiness.
    pub fn ready_until(&self, now: Millis) -> Option<(u32, Millis)> {
        let settled_at_once =
            self.flight == Flight::Idle && !self.forced() && self.store == StoreState::Ready && self.session_checked;
        self.session.as_ref().filter(|s| settled_at_once && now < s.stale_at).map(|s| (s.generation, s.stale_at))
    }

    /// Whether a login (or its `wx.checkSession`) is running.
    pub fn is_logging_in(&self) -> bool {
        self.flight != Flight::Idle
    }

    fn start(&mut self, purpose: Purpose, effect: Option<Effect>, deadline: Option<Millis>) {
        let op = match effect {
            Some(effect) => self.out.effect(effect),
            None => self.out.op(),
        };
        self.pending.push(Pending { op, purpose, deadline });
        if purpose == Purpose::Exchange {
            self.requests.exchange_started();
        }
    }

    /// Starts a platform call that must answer within `timeoutMs`.
    fn start_bounded(&mut self, now: Millis, purpose: Purpose, effect: Effect) {
        let deadline = now + u64::from(self.config.timeout_ms);
        self.start(purpose, Some(effect), Some(deadline));
    }

    /// Whether a caller joining now would be settled at once with the valid session, and nothing
    /// else would happen: [`Core::join`] then has nothing to do, so a request skips it.
    fn settles_at_once(&self, now: Millis) -> bool {
        self.waiters.is_empty() && self.ready_until(now).is_some()
    }

    /// Replaces the session, and tells the scheduler which header its sends carry now.
    fn set_session(&mut self, session: Option<Session>) {
        match &session {
            Some(s) => self.requests.session_ready(SessionHeader {
                generation: s.generation,
                header: Rc::clone(&s.auth),
                stale_at: s.stale_at,
            }),
            None => self.requests.session_gone(),
        }
        self.session = session;
    }

    /// The server rejected the token of `generation`: drop that session unless a newer one
    /// replaced it already (a late 401 must never wipe a fresher token).
    fn invalidate(&mut self, now: Millis, generation: u32) {
        if self.session.as_ref().is_some_and(|s| s.generation == generation) {
            self.set_session(None);
            // A refresh token outlives its access token: storage keeps it until the refresh answers.
            if self.refresh.is_none() {
                self.persist(now, Persist::Remove);
            }
            self.out.push(Output::Event(SessionEvent::Expired));
        }
    }

    /// Cookie mode: a response to a send of session `generation` set cookies. A new session cookie
    /// replaces the token (server-side rotation); a cleared one ends the session. A response to
    /// an older session's send changes nothing: it must never replace a fresher token.
    fn on_cookies(&mut self, now: Millis, generation: u32, cookies: &str) {
        let Some(name) = self.config.requests.cookie.as_deref() else { return };
        let Some(set) = cookie::find(cookies, name, now) else { return };
        let Some(current) = self.session.as_ref().filter(|s| s.generation == generation) else { return };
        match set {
            CookieSet::Cleared => self.invalidate(now, generation),
            CookieSet::Value { value, lifetime_s } => {
                if !is_sendable_token(&value) || (value == current.token.expose() && lifetime_s.is_none()) {
                    return;
                }
                let lifetime_ms = match lifetime_s {
                    Some(seconds) => (seconds * 1000.0) as u64,
                    None => current.expires_at.saturating_sub(now),
                };
                let reply = current.reply.clone();
                self.install(now, Token::new(value), lifetime_ms, reply);
            }
        }
    }

    /// Moves waiting callers forward: load storage first, then serve them or start a login.
    fn advance(&mut self, now: Millis) {
        if (self.waiters.is_empty() && self.payload.is_none()) || self.flight != Flight::Idle {
            return;
        }
        match self.store {
            StoreState::Unread => {
                self.store = StoreState::Reading;
                let key = self.config.storage_key.clone();
                self.start_bounded(now, Purpose::ReadStore, Effect::ReadStorage { key });
                return;
            }
            StoreState::Reading => return,
            StoreState::Ready => {}
        }
        if !self.forced() {
            let fresh_key = self.waiters.iter().any(|(_, c)| *c == Caller::FreshKey);
            if let Some(view) = self.session(now) {
                if self.session_checked && !fresh_key {
                    self.settle_waiters(now, Ok(view));
                } else {
                    self.flight = Flight::Checking;
                    self.start_bounded(now, Purpose::CheckSession, Effect::CheckSession);
                }
                return;
            }
            // A fresh session_key comes from wx.login only: a refresh does not renew it.
            self.force_requested |= fresh_key;
        }
        self.flight = Flight::LoggingIn { attempt: 1 };
        // The page's own decision is not paced; everything the core decides on by itself is.
        if self.forced() {
            self.start_attempt(now);
        } else {
            self.start_paced_attempt(now);
        }
    }

    /// The refresh token, unless its own lifetime is over.
    fn usable_refresh(&self, now: Millis) -> Option<&Refresh> {
        self.refresh.as_ref().filter(|r| r.expires_at.is_none_or(|at| now < at))
    }

    /// How the next attempt gets a session: an explicit login's own way; a forced one by
    /// `wx.login`; otherwise a refresh when there is a usable refresh token, `wx.login` when the
    /// core may call it (`silentLogin`), else not at all.
    fn mode(&self, now: Millis) -> Mode {
        match &self.payload {
            Some(LoginWith::Account { .. }) => Mode::Via(Exchanging::Account),
            Some(LoginWith::Code(_)) => Mode::Via(Exchanging::Code),
            None if self.force_requested => Mode::Via(Exchanging::Code),
            None if self.usable_refresh(now).is_some() => Mode::Via(Exchanging::Refresh),
            None if self.config.silent_login => Mode::Via(Exchanging::Code),
            None => Mode::Required,
        }
    }

    /// Starts the current login attempt if the pace (and, for `wx.login`, a fresh key's hold)
    /// allows, else waits for it. A refresh is not paced: the pace bounds `wx.login` and
    /// code2Session (WeChat's 45011), which a refresh never reaches; one in flight at most, and
    /// one per request that saw "expired", bound it.
    fn start_paced_attempt(&mut self, now: Millis) {
        let mode = self.mode(now);
        let held = mode == Mode::Via(Exchanging::Code) && now < self.hold_until;
        let unpaced = matches!(mode, Mode::Required | Mode::Via(Exchanging::Refresh));
        if unpaced || (!held && self.pace.try_spend(now)) {
            self.start_attempt(now);
        } else if self.payload.is_none() && !self.with_payload.is_empty() {
            // A login with a payload waits behind this one, and needs no turn: it takes over.
            self.payload = self.with_payload.first().map(|(_, payload)| payload.clone());
            self.start_attempt(now);
        } else {
            let at = if held { self.pace.next_at(now).max(self.hold_until) } else { self.pace.next_at(now) };
            self.start(Purpose::Paced, None, Some(at));
        }
    }

    /// Starts the current attempt now, in its [`Mode`].
    fn start_attempt(&mut self, now: Millis) {
        let timeout_ms = self.config.timeout_ms;
        let mode = self.mode(now);
        let (url, body) = match (mode, &self.payload, self.usable_refresh(now), &self.config.refresh) {
            (Mode::Required, ..) => return self.require_login(now),
            (Mode::Via(Exchanging::Account), Some(LoginWith::Account { url, data }), ..) => {
                (url.clone(), data.text().to_string())
            }
            (Mode::Via(Exchanging::Refresh), _, Some(refresh), Some(policy)) => {
                let mut body = String::from("{\"refreshToken\":");
                write_string(&mut body, refresh.token.expose());
                body.push('}');
                (policy.url.clone(), body)
            }
            _ => {
                // Any wx.login ends a fresh key's hold: the key it protected is replaced anyway.
                self.hold_until = 0;
                self.exchanging = Exchanging::Code;
                return self.start_bounded(now, Purpose::Code, Effect::RequestCode { timeout_ms });
            }
        };
        self.exchanging =
            if mode == Mode::Via(Exchanging::Account) { Exchanging::Account } else { Exchanging::Refresh };
        let effect = Effect::PostCredentials { url, body: Secret::new(body), timeout_ms };
        self.start_bounded(now, Purpose::Exchange, effect);
    }

    /// No session, and the core may not call `wx.login`: the callers reject `LOGIN_REQUIRED`, and
    /// the app hears of it once per episode.
    fn require_login(&mut self, now: Millis) {
        if !self.told_login_required {
            self.told_login_required = true;
            self.out.push(Output::Event(SessionEvent::LoginRequired));
        }
        self.fail_login(now, SessionError::LoginRequired);
    }

    /// The current login attempt's number (1 when none is running).
    fn attempt(&self) -> u32 {
        match self.flight {
            Flight::LoggingIn { attempt } => attempt,
            _ => 1,
        }
    }

    /// A transient failure of the current attempt: another after a pause, or `error` when none is
    /// left.
    fn retry_later(&mut self, now: Millis, error: SessionError) {
        let attempt = self.attempt();
        if attempt >= self.config.retry.max_attempts {
            return self.fail_login(now, error);
        }
        let delay = self.jitter.delay_ms(&self.config.retry, attempt);
        self.start(Purpose::Backoff, None, Some(now + delay));
    }

    /// The server refused the refresh token: it is dropped with the session it renewed, and the
    /// login goes on the other way (`wx.login`, or `LOGIN_REQUIRED`).
    fn refresh_refused(&mut self, now: Millis) {
        self.refresh = None;
        self.set_session(None);
        self.persist(now, Persist::Remove);
        self.flight = Flight::LoggingIn { attempt: 1 };
        self.start_paced_attempt(now);
    }

    fn finish(&mut self, now: Millis, purpose: Purpose, answer: Answer) {
        use Answer::{Outcome as Got, TimedOut};
        match (purpose, answer) {
            (Purpose::ReadStore, answer) => {
                let value = match answer {
                    Got(Outcome::StorageRead(value)) => value,
                    _ => StorageValue::Missing,
                };
                self.load_stored(now, value);
                self.advance(now);
            }
            (Purpose::Persist, answer) => {
                self.persist_running = false;
                let failure = match answer {
                    Got(Outcome::StorageDone(Ok(()))) => None,
                    Got(Outcome::StorageDone(Err(f))) => Some(f.errmsg),
                    _ => Some(["no answer within ", &decimal(self.config.timeout_ms.into()), " ms"].concat()),
                };
                if let Some(message) = failure {
                    self.out.push(Output::Event(SessionEvent::StorageFailed { message }));
                }
                if let Some(next) = self.persist_next.take() {
                    self.persist(now, next);
                } else {
                    for waiter in self.logouts.drain(..) {
                        self.out.push(Output::LoggedOut { waiter });
                    }
                }
            }
            (Purpose::CheckSession, answer) => {
                self.flight = Flight::Idle;
                self.session_checked = true;
                let fresh_key = self.waiters.iter().any(|(_, c)| *c == Caller::FreshKey);
                match (matches!(answer, Got(Outcome::SessionChecked(true))), self.session(now)) {
                    // (A payload login that came meanwhile runs first: its callers need its exchange.)
                    (true, Some(view)) if fresh_key && self.payload.is_none() => {
                        self.key_vouched = true;
                        return self.settle_waiters(now, Ok(view));
                    }
                    (true, _) => {}
                    // The page asked for a fresh key: a wx.login renews it; the session goes on meanwhile.
                    (false, _) if fresh_key => self.force_requested = true,
                    // WeChat's session_key is gone: the server needs a fresh login to renew it.
                    (false, _) => self.set_session(None),
                }
                self.advance(now);
            }
            (Purpose::Code, Got(Outcome::Code(Ok(code)))) if !code.expose().is_empty() => {
                let payload = match &self.payload {
                    Some(LoginWith::Code(payload)) => Some(payload.clone()),
                    _ => None,
                };
                let effect = Effect::PostCode {
                    url: self.config.login_url.clone(),
                    code,
                    payload,
                    timeout_ms: self.config.timeout_ms,
                };
                self.start_bounded(now, Purpose::Exchange, effect);
            }
            (Purpose::Code, Got(Outcome::Code(Err(failure)))) => {
                self.fail_login(now, SessionError::WxLoginFailed(failure))
            }
            (Purpose::Code, TimedOut) => {
                self.fail_login(now, SessionError::Timeout { during: "wx.login", after_ms: self.config.timeout_ms })
            }
            (Purpose::Code, _) => self.fail_login(
                now,
                SessionError::WxLoginFailed(PlatformFailure::new("wx.login succeeded without a code")),
            ),
            (Purpose::Exchange, Got(Outcome::Reply(Ok(reply)))) => self.on_login_reply(now, reply),
            (Purpose::Exchange, Got(Outcome::Reply(Err(failure)))) => match self.exchanging {
                // A refresh that did not get through changes nothing: it is tried again.
                Exchanging::Refresh => {
                    self.retry_later(now, SessionError::Network { during: "the refresh request", failure })
                }
                Exchanging::Code => {
                    self.fail_login(now, SessionError::Network { during: "posting the login code", failure })
                }
                Exchanging::Account => {
                    self.fail_login(now, SessionError::Network { during: "the login request", failure })
                }
            },
            (Purpose::Exchange, _) => {
                let after_ms = self.config.timeout_ms;
                match self.exchanging {
                    Exchanging::Refresh => {
                        self.retry_later(now, SessionError::Timeout { during: "the refresh request", after_ms })
                    }
                    _ => self.fail_login(now, SessionError::Timeout { during: "the login request", after_ms }),
                }
            }
            (Purpose::Backoff, _) => {
                if let Flight::LoggingIn { attempt } = self.flight {
                    self.flight = Flight::LoggingIn { attempt: attempt + 1 };
                    // A code is single-use and the server may have spent it: start from wx.login
                    // (or post the refresh token again, which the server did not take).
                    self.start_paced_attempt(now);
                }
            }
            // Its callers all gave up (their deadlines passed) while it waited: not run for no one.
            // (Callers with a payload never wait on the pace: one in line takes over a paced login.)
            (Purpose::Paced, _) if self.waiters.is_empty() && self.payload.is_none() => {
                self.flight = Flight::Idle;
                self.force_requested = false;
            }
            (Purpose::Paced, _) => self.start_paced_attempt(now),
        }
    }

    fn on_login_reply(&mut self, now: Millis, reply: HttpReply) {
        let config = &self.config;
        let refreshing = self.exchanging == Exchanging::Refresh;
        // The server refusing a refresh token (4xx but 429, or `expiredWhen`) is not a failure of
        // the login: it goes on without the token.
        if refreshing
            && ((400..500).contains(&reply.status) && reply.status != 429 || body_says_expired(config, &reply))
        {
            return self.refresh_refused(now);
        }
        let cookie_name = config.requests.cookie.as_deref();
        let set = cookie_name.and_then(|name| cookie::find(reply.cookies.as_deref()?, name, now));
        let rules = GrantRules {
            token_field: &config.token_field,
            expires_in_field: &config.expires_in_field,
            reply_fields: config.reply_fields.as_deref(),
            refresh: config.refresh.as_ref().map(|r| (&r.token_field[..], &r.expires_in_field[..])),
            cookie: cookie_name.map(|name| (name, set.as_ref())),
        };
        match decode_grant(reply.status, &reply.body, &rules) {
            LoginReply::Granted { token, expires_in_s, reply, refresh } => {
                self.establish(now, token, expires_in_s, reply, refresh)
            }
            LoginReply::Transient { status, errcode, errmsg } => {
                let attempts = self.attempt();
                self.retry_later(now, SessionError::ServerError { status, errcode, errmsg, attempts })
            }
            LoginReply::Failed(error) => {
                // A refresh answered with a broken reply may have spent the token (rotation).
                if refreshing {
                    self.refresh = None;
                }
                self.fail_login(now, error)
            }
        }
    }

    fn establish(
        &mut self,
        now: Millis,
        token: Token,
        expires_in_s: f64,
        reply: Option<String>,
        refresh: Option<RefreshGrant>,
    ) {
        let refreshed = self.exchanging == Exchanging::Refresh;
        let family = self.refresh.take().filter(|_| refreshed);
        let reply = match (reply, &family) {
            // A refresh reply need not repeat the login's kept fields.
            (Some(kept), Some(family)) if kept == "{}" => family.reply.clone(),
            (kept, _) => kept.map(Rc::new),
        };
        // A new refresh token replaces the old one (rotation); a refresh reply without one keeps
        // it; a login without one ends the family.
        self.refresh = match refresh {
            Some(grant) => Some(Refresh {
                token: grant.token,
                expires_at: grant.expires_in_s.map(|s| now + (s * 1000.0) as u64),
                reply: reply.clone(),
            }),
            None => family.map(|f| Refresh { reply: reply.clone(), ..f }),
        };
        let view = self.install(now, token, (expires_in_s * 1000.0) as u64, reply);
        self.key_vouched = self.exchanging == Exchanging::Code;
        self.told_login_required = false;
        self.session_checked = true;
        self.flight = Flight::Idle;
        self.settle_waiters(now, Ok(view));
    }

    /// Makes `token` the session for `lifetime_ms` from `now`: stored (with the refresh token),
    /// announced, and carried by the requests from now on.
    fn install(&mut self, now: Millis, token: Token, lifetime_ms: u64, reply: Option<Rc<String>>) -> SessionView {
        let expires_at = now + lifetime_ms;
        self.generation = self.generation.wrapping_add(1);
        let stale_at = expiry::stale_at(expires_at, lifetime_ms, self.config.expiry_margin_ms);
        self.persist(
            now,
            Persist::Write(stored::encode(&StoredSession {
                token: token.clone(),
                expires_at_ms: expires_at,
                reply: reply.as_deref().cloned(),
                refresh: self.refresh.as_ref().map(|r| (r.token.clone(), r.expires_at)),
            })),
        );
        let view = SessionView {
            token: token.clone(),
            expires_at_ms: expires_at,
            generation: self.generation,
            reply: reply.clone(),
        };
        let auth = AuthHeader::for_token(&self.config.requests, &token);
        self.set_session(Some(Session {
            token,
            expires_at,
            stale_at,
            generation: self.generation,
            reply: reply.clone(),
            auth,
        }));
        self.out.push(Output::Event(SessionEvent::LoggedIn { expires_at_ms: expires_at, reply }));
        view
    }

    fn fail_login(&mut self, now: Millis, error: SessionError) {
        self.flight = Flight::Idle;
        self.settle_waiters(now, Err(error));
    }

    fn load_stored(&mut self, now: Millis, value: StorageValue) {
        self.store = StoreState::Ready;
        let text = match value {
            StorageValue::Missing => return,
            StorageValue::Text(text) => text,
            StorageValue::Other => String::new(),
        };
        match stored::decode(&text) {
            Some(found) => {
                let left = found.expires_at_ms.saturating_sub(now);
                let keeps_reply = self.config.reply_fields.is_some();
                let reply = found.reply.filter(|_| keeps_reply).map(Rc::new);
                if let (Some((token, expires_at)), Some(_)) = (found.refresh, &self.config.refresh) {
                    self.refresh = Some(Refresh { token, expires_at, reply: reply.clone() });
                }
                // Less than a login reply may grant: not worth a request that would likely bounce.
                // Stored without a reply, it cannot answer a client that keeps one: log in again.
                if left < expiry::MIN_LIFETIME_MS || (keeps_reply && reply.is_none()) {
                    return;
                }
                self.generation = self.generation.wrapping_add(1);
                self.set_session(Some(Session {
                    stale_at: expiry::stale_at(found.expires_at_ms, left, self.config.expiry_margin_ms),
                    expires_at: found.expires_at_ms,
                    auth: AuthHeader::for_token(&self.config.requests, &found.token),
                    token: found.token,
                    generation: self.generation,
                    reply,
                }));
            }
            // Corrupt or foreign: never thrown at the page, just cleared.
            None => self.persist(now, Persist::Remove),
        }
    }

    /// Storage writes run one at a time, in order; only the latest wanted state is kept while one
    /// runs, so a slow write can never land after a later logout.
    fn persist(&mut self, now: Millis, wanted: Persist) {
        if self.persist_running {
            self.persist_next = Some(wanted);
            return;
        }
        self.persist_running = true;
        let key = self.config.storage_key.clone();
        let effect = match wanted {
            Persist::Write(value) => Effect::WriteStorage { key, value },
            Persist::Remove => Effect::RemoveStorage { key },
        };
        self.start_bounded(now, Purpose::Persist, effect);
    }

    /// Ends the current login with `result` and settles its callers; waiting requests go on to
    /// be sent (or reject with the login's error). Callers without a payload who joined a login
    /// with one that failed are not settled: the payload may be what failed (a used phone code),
    /// so they go on to a login of their own. Then the next login with a payload in line starts.
    fn settle_waiters(&mut self, now: Millis, result: Result<SessionView, SessionError>) {
        // A logout ends every login, current or waiting.
        let everyone = matches!(result, Err(SessionError::LoggedOut));
        let payload = self.payload.take().filter(|_| !everyone);
        let mut settled = Vec::new();
        self.with_payload.retain(|(waiter, theirs)| {
            let mine = everyone || payload.as_ref() == Some(theirs);
            if mine {
                settled.push((*waiter, Caller::Page));
            }
            !mine
        });
        if payload.is_none() || result.is_ok() {
            // A fresh-key caller is not served by a session nobody vouched for (a refresh, say):
            // it stays, and the next step checks the key.
            let keep_fresh_key = result.is_ok() && !self.key_vouched;
            self.waiters.retain(|&(waiter, caller)| {
                let stays = caller == Caller::FreshKey && keep_fresh_key;
                if !stays {
                    settled.push((waiter, caller));
                }
                stays
            });
            self.force_requested = false;
        }
        self.key_vouched = false;
        if result.is_ok() && settled.iter().any(|(_, caller)| *caller == Caller::FreshKey) {
            self.hold_until = now + KEY_HOLD_MS;
        }
        self.payload = self.with_payload.first().map(|(_, payload)| payload.clone());
        for (waiter, caller) in settled {
            match caller {
                Caller::Page | Caller::FreshKey => self.out.push(Output::Settle { waiter, result: result.clone() }),
                Caller::Request => {
                    let (requests, mut cx) = self.scheduler();
                    requests.login_settled(&mut cx, now, waiter, result.clone().map(drop));
                }
            }
        }
        self.advance(now);
    }
}

/// Whether a refresh reply's body holds an `expiredWhen` code.
fn body_says_expired(config: &Config, reply: &HttpReply) -> bool {
    let policy = &config.requests;
    let Some(field) = policy.expired_body_field.as_deref() else { return false };
    let code = Json::parse(&reply.body).ok().and_then(|doc| BodyValue::of(doc.get_path(field)?));
    code.is_some_and(|code| policy.body_code_expired(&code))
}
