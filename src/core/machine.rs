use std::collections::VecDeque;
use std::rc::Rc;

use super::backoff::Jitter;
use super::config::Config;
use super::error::{PlatformFailure, SessionError};
use super::expiry;
use super::pacing::LoginPace;
use super::payload::Payload;
use super::protocol::*;
use super::reply::{decode_login_reply, LoginReply};
use super::requests::{AuthHeader, Request};
use super::stored::{self, StoredSession};
use super::token::Token;

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
    /// A page's request on the wire; bounded by the request's own deadline.
    Send(WaiterId),
    /// A pause before a request's next attempt.
    RequestBackoff(WaiterId),
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
#[derive(Debug)]
pub struct Core {
    pub(crate) config: Config,
    pub(crate) jitter: Jitter,
    next_op: u32,
    next_waiter: u32,
    pub(crate) outputs: VecDeque<Output>,
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
    waiters: Vec<WaiterId>,
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
    pub(crate) requests: Vec<Request>,
    /// Requests waiting for a slot under the concurrency cap, in arrival order.
    pub(crate) queue: VecDeque<WaiterId>,
}

impl Core {
    /// `jitter_seed` should be random (the driver takes it from `Math.random`); it only spreads
    /// retry delays.
    pub fn new(config: Config, jitter_seed: u32) -> Self {
        Core {
            session_checked: !config.check_session,
            config,
            jitter: Jitter::new(jitter_seed),
            next_op: 0,
            next_waiter: 0,
            outputs: VecDeque::new(),
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
            requests: Vec::new(),
            queue: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A caller wants a valid login state. It is settled at once when the session is valid;
    /// otherwise it joins the running login or starts one. `force` asks for a new session even
    /// when the current one is valid (joining a login already running counts), and is never
    /// paced: a login waiting for its turn ([`crate::core::pacing`]) starts at once.
    pub fn ensure_login(&mut self, now: Millis, force: bool) -> WaiterId {
        let waiter = self.new_waiter();
        self.force_requested |= force;
        self.join_login(now, waiter);
        if force {
            self.unpace(now);
        }
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
        let waiter = self.new_waiter();
        self.with_payload.push((waiter, payload.clone()));
        let under_way =
            self.pending.iter().any(|p| matches!(p.purpose, Purpose::Code | Purpose::Exchange | Purpose::Backoff));
        if self.payload.is_none() && !under_way {
            self.payload = Some(payload);
            self.advance(now);
            self.unpace(now);
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

    pub(crate) fn new_waiter(&mut self) -> WaiterId {
        self.next_waiter = self.next_waiter.wrapping_add(1);
        WaiterId(self.next_waiter)
    }

    /// `waiter` wants the login state: served now if the session is valid, else by the login.
    pub(crate) fn join_login(&mut self, now: Millis, waiter: WaiterId) {
        self.waiters.push(waiter);
        self.advance(now);
    }

    pub(crate) fn forget_waiter(&mut self, waiter: WaiterId) {
        self.waiters.retain(|w| *w != waiter);
    }

    /// Forgets the session in memory and in storage. Callers waiting for a login are rejected
    /// with `LOGGED_OUT`, and answers to the cancelled login are ignored when they arrive. The
    /// returned waiter gets [`Output::LoggedOut`] once storage is cleared.
    pub fn logout(&mut self, now: Millis) -> WaiterId {
        self.reject_waiting_requests(&SessionError::LoggedOut);
        self.pending.retain(|p| matches!(p.purpose, Purpose::Persist | Purpose::Send(_)));
        self.flight = Flight::Idle;
        self.force_requested = false;
        self.store = StoreState::Ready;
        self.session = None;
        self.session_checked = !self.config.check_session;
        self.settle_waiters(now, Err(SessionError::LoggedOut));
        self.persist(now, Persist::Remove);
        self.outputs.push_back(Output::Event(SessionEvent::LoggedOut));
        let waiter = self.new_waiter();
        self.logouts.push(waiter);
        waiter
    }

    /// The platform answered operation `op`. Unknown or already finished ids are ignored.
    pub fn handle(&mut self, now: Millis, op: OpId, outcome: Outcome) {
        if let Some(index) = self.pending.iter().position(|p| p.op == op) {
            let pending = self.pending.swap_remove(index);
            self.finish(now, op, pending.purpose, Answer::Outcome(outcome));
            self.dispatch(now);
        }
    }

    /// Time has reached `now`: operations past their deadline fail with `TIMEOUT`, and a backoff
    /// pause that has run out starts the next attempt.
    pub fn handle_timeout(&mut self, now: Millis) {
        while let Some(index) = self.pending.iter().position(|p| p.deadline.is_some_and(|d| d <= now)) {
            let pending = self.pending.swap_remove(index);
            self.finish(now, pending.op, pending.purpose, Answer::TimedOut);
        }
        self.expire_requests(now);
    }

    /// When [`Core::handle_timeout`] should next be called, if anything is waiting on time.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let ops = self.pending.iter().filter_map(|p| p.deadline).min();
        match (ops, self.next_request_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next thing for the driver to do. Drain it after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
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

    fn start(&mut self, purpose: Purpose, effect: Option<Effect>, deadline: Option<Millis>) -> OpId {
        self.next_op = self.next_op.wrapping_add(1);
        let op = OpId(self.next_op);
        self.pending.push(Pending { op, purpose, deadline });
        if let Some(effect) = effect {
            self.outputs.push_back(Output::Effect { op, effect });
        }
        op
    }

    /// Starts a platform call that must answer within `timeoutMs`.
    fn start_bounded(&mut self, now: Millis, purpose: Purpose, effect: Effect) {
        let deadline = now + u64::from(self.config.timeout_ms);
        self.start(purpose, Some(effect), Some(deadline));
    }

    /// Starts the send of request `waiter`; the request's own deadline bounds it.
    pub(crate) fn start_send(&mut self, waiter: WaiterId, effect: Effect) -> OpId {
        self.start(Purpose::Send(waiter), Some(effect), None)
    }

    pub(crate) fn start_request_backoff(&mut self, waiter: WaiterId, until: Millis) -> OpId {
        self.start(Purpose::RequestBackoff(waiter), None, Some(until))
    }

    /// Forgets an operation: its answer, if one still comes, is stale.
    pub(crate) fn cancel_op(&mut self, op: OpId) {
        self.pending.retain(|p| p.op != op);
    }

    /// Platform requests on the wire: sends and the code exchange (WeChat caps them together).
    pub(crate) fn in_flight(&self) -> usize {
        self.pending.iter().filter(|p| matches!(p.purpose, Purpose::Exchange | Purpose::Send(_))).count()
    }

    /// The valid session's generation and header, for a send: no copy of the token is made.
    pub(crate) fn valid_auth(&self, now: Millis) -> Option<(u32, &Rc<AuthHeader>)> {
        self.session.as_ref().filter(|s| now < s.stale_at).map(|s| (s.generation, &s.auth))
    }

    /// Whether a caller joining now would be settled at once with the valid session, and nothing
    /// else would happen: [`Core::join_login`] then has nothing to do, so a request skips it.
    pub(crate) fn settles_at_once(&self, now: Millis) -> bool {
        self.waiters.is_empty() && self.ready_until(now).is_some()
    }

    pub(crate) fn current_generation(&self) -> Option<u32> {
        self.session.as_ref().map(|s| s.generation)
    }

    /// Forgets the session in memory and in storage.
    pub(crate) fn drop_session(&mut self, now: Millis) {
        self.session = None;
        self.persist(now, Persist::Remove);
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

    fn finish(&mut self, now: Millis, op: OpId, purpose: Purpose, answer: Answer) {
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
                    _ => Some(format!("no answer within {} ms", self.config.timeout_ms)),
                };
                if let Some(message) = failure {
                    self.outputs.push_back(Output::Event(SessionEvent::StorageFailed { message }));
                }
                if let Some(next) = self.persist_next.take() {
                    self.persist(now, next);
                } else {
                    for waiter in self.logouts.drain(..) {
                        self.outputs.push_back(Output::LoggedOut { waiter });
                    }
                }
            }
            (Purpose::CheckSession, answer) => {
                self.flight = Flight::Idle;
                self.session_checked = true;
                if !matches!(answer, Got(Outcome::SessionChecked(true))) {
                    // WeChat's session_key is gone: the server needs a fresh login to renew it.
                    self.session = None;
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
            (Purpose::Send(waiter), Got(Outcome::Sent(result))) => self.on_sent(now, waiter, op, result),
            (Purpose::Send(waiter), _) => {
                self.on_sent(now, waiter, op, Err(PlatformFailure::new("the platform gave no response")))
            }
            (Purpose::RequestBackoff(waiter), _) => self.request_backoff_over(now, waiter),
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
        self.session =
            Some(Session { token, expires_at, stale_at, generation: self.generation, reply: reply.clone(), auth });
        self.session_checked = true;
        self.flight = Flight::Idle;
        self.outputs.push_back(Output::Event(SessionEvent::LoggedIn { expires_at_ms: expires_at, reply }));
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
                self.session = Some(Session {
                    stale_at: expiry::stale_at(found.expires_at_ms, left, self.config.expiry_margin_ms),
                    expires_at: found.expires_at_ms,
                    auth: AuthHeader::for_token(&self.config.requests, &found.token),
                    token: found.token,
                    generation: self.generation,
                    reply: found.reply.filter(|_| keeps_reply).map(Rc::new),
                });
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
                settled.push(*waiter);
            }
            !mine
        });
        if payload.is_none() || result.is_ok() {
            settled.append(&mut self.waiters);
            self.force_requested = false;
        }
        self.payload = self.with_payload.first().map(|(_, payload)| payload.clone());
        for waiter in settled {
            if self.requests.iter().any(|r| r.waiter == waiter) {
                self.login_settled_for_request(now, waiter, result.clone().map(drop));
            } else {
                self.outputs.push_back(Output::Settle { waiter, result: result.clone() });
            }
        }
        self.advance(now);
    }
}
