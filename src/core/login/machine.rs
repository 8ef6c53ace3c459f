use std::rc::Rc;

use crate::core::backoff::Jitter;
use crate::core::codec::json::decimal;
use crate::core::codec::login_reply::{decode_login_reply, LoginReply};
use crate::core::codec::payload::Payload;
use crate::core::codec::stored::{self, StoredSession};
use crate::core::config::Config;
use crate::core::error::{PlatformFailure, SessionError};
use crate::core::expiry;
use crate::core::login::pacing::LoginPace;
use crate::core::outbox::Outbox;
use crate::core::protocol::*;
use crate::core::requests::{Requests, SessionHeader, Shared, ToLogin};
use crate::core::token::Token;

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
    /// The payload of the current login; `None` for a login without one.
    payload: Option<Payload>,
    /// Callers that brought a payload, in arrival order: those with the current login's payload
    /// are its callers, the others wait for theirs — the first one's payload is the next login's.
    with_payload: Vec<(WaiterId, Payload)>,
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
            self.request_code(now);
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
            self.persist(now, Persist::Remove);
            self.out.push(Output::Event(SessionEvent::Expired));
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
            if let Some(view) = self.session(now) {
                if self.session_checked {
                    self.settle_waiters(now, Ok(view));
                } else {
                    self.flight = Flight::Checking;
                    self.start_bounded(now, Purpose::CheckSession, Effect::CheckSession);
                }
                return;
            }
        }
        self.flight = Flight::LoggingIn { attempt: 1 };
        // The page's own decision is not paced; everything the core decides on by itself is.
        if self.forced() {
            self.request_code(now);
        } else {
            self.start_paced_attempt(now);
        }
    }

    /// Starts the current login attempt with `wx.login` if the pace allows, else waits for it.
    fn start_paced_attempt(&mut self, now: Millis) {
        if self.pace.try_spend(now) {
            self.request_code(now);
        } else if self.payload.is_none() && !self.with_payload.is_empty() {
            // A login with a payload waits behind this one, and needs no turn: it takes over.
            self.payload = self.with_payload.first().map(|(_, payload)| payload.clone());
            self.request_code(now);
        } else {
            let at = self.pace.next_at(now);
            self.start(Purpose::Paced, None, Some(at));
        }
    }

    fn request_code(&mut self, now: Millis) {
        let timeout_ms = self.config.timeout_ms;
        self.start_bounded(now, Purpose::Code, Effect::RequestCode { timeout_ms });
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
                if !matches!(answer, Got(Outcome::SessionChecked(true))) {
                    // WeChat's session_key is gone: the server needs a fresh login to renew it.
                    self.set_session(None);
                }
                self.advance(now);
            }
            (Purpose::Code, Got(Outcome::Code(Ok(code)))) if !code.expose().is_empty() => {
                let effect = Effect::PostCode {
                    url: self.config.login_url.clone(),
                    code,
                    payload: self.payload.clone(),
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
            (Purpose::Exchange, Got(Outcome::Reply(Err(failure)))) => {
                self.fail_login(now, SessionError::Network { during: "posting the login code", failure })
            }
            (Purpose::Exchange, _) => self.fail_login(
                now,
                SessionError::Timeout { during: "the login request", after_ms: self.config.timeout_ms },
            ),
            (Purpose::Backoff, _) => {
                if let Flight::LoggingIn { attempt } = self.flight {
                    self.flight = Flight::LoggingIn { attempt: attempt + 1 };
                    // A code is single-use and the server may have spent it: start from wx.login.
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
        let decoded = decode_login_reply(
            reply.status,
            &reply.body,
            &config.token_field,
            &config.expires_in_field,
            config.reply_fields.as_deref(),
        );
        let attempt = match self.flight {
            Flight::LoggingIn { attempt } => attempt,
            _ => 1,
        };
        match decoded {
            LoginReply::Granted { token, expires_in_s, reply } => self.establish(now, token, expires_in_s, reply),
            LoginReply::Transient { status, errcode, errmsg } if attempt >= self.config.retry.max_attempts => {
                self.fail_login(now, SessionError::ServerError { status, errcode, errmsg, attempts: attempt })
            }
            LoginReply::Transient { .. } => {
                let delay = self.jitter.delay_ms(&self.config.retry, attempt);
                self.start(Purpose::Backoff, None, Some(now + delay));
            }
            LoginReply::Failed(error) => self.fail_login(now, error),
        }
    }

    fn establish(&mut self, now: Millis, token: Token, expires_in_s: f64, reply: Option<String>) {
        let lifetime = (expires_in_s * 1000.0) as u64;
        let expires_at = now + lifetime;
        self.generation = self.generation.wrapping_add(1);
        let stale_at = expiry::stale_at(expires_at, lifetime, self.config.expiry_margin_ms);
        self.persist(
            now,
            Persist::Write(stored::encode(&StoredSession {
                token: token.clone(),
                expires_at_ms: expires_at,
                reply: reply.clone(),
            })),
        );
        let reply = reply.map(Rc::new);
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
        self.session_checked = true;
        self.flight = Flight::Idle;
        self.out.push(Output::Event(SessionEvent::LoggedIn { expires_at_ms: expires_at, reply }));
        self.settle_waiters(now, Ok(view));
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
                // Less than a login reply may grant: not worth a request that would likely bounce.
                // Stored without a reply, it cannot answer a client that keeps one: log in again.
                if left < expiry::MIN_LIFETIME_MS || (keeps_reply && found.reply.is_none()) {
                    return;
                }
                self.generation = self.generation.wrapping_add(1);
                self.set_session(Some(Session {
                    stale_at: expiry::stale_at(found.expires_at_ms, left, self.config.expiry_margin_ms),
                    expires_at: found.expires_at_ms,
                    auth: AuthHeader::for_token(&self.config.requests, &found.token),
                    token: found.token,
                    generation: self.generation,
                    reply: found.reply.filter(|_| keeps_reply).map(Rc::new),
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
            settled.append(&mut self.waiters);
            self.force_requested = false;
        }
        self.payload = self.with_payload.first().map(|(_, payload)| payload.clone());
        for (waiter, caller) in settled {
            match caller {
                Caller::Page => self.out.push(Output::Settle { waiter, result: result.clone() }),
                Caller::Request => {
                    let (requests, mut cx) = self.scheduler();
                    requests.login_settled(&mut cx, now, waiter, result.clone().map(drop));
                }
            }
        }
        self.advance(now);
    }
}
