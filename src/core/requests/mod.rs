//! The request scheduler: the token attached to trusted origins only, a FIFO queue under the
//! platform's concurrency cap, one shared re-login and one replay when the server says the session
//! expired, a retry for GET/HEAD after a transport failure, and a deadline over each request's
//! whole life.
//!
//! It knows nothing of how a login is made. The login machine ([`crate::core::Core`]) tells it
//! what it needs through a few inputs — [`Requests::session_ready`] and [`Requests::session_gone`]
//! (the session its sends carry), [`Requests::login_settled`] (a login a request waited for is
//! over), [`Requests::exchange_started`]/[`Requests::exchange_over`] (the code exchange takes one of
//! the platform's slots) and [`Requests::dispatch`] (send what the slots allow) — and drains what the scheduler needs from it with
//! [`Requests::poll_note`]: join a login, leave it, drop a session the server rejected.

mod target;

use std::collections::VecDeque;
use std::rc::Rc;

use crate::core::backoff::Jitter;
use crate::core::config::{Config, RequestPolicy};
use crate::core::error::{PlatformFailure, SessionError};
use crate::core::outbox::Outbox;
use crate::core::protocol::{
    AuthHeader, Effect, Millis, OpId, Outcome, Output, RequestSpec, ResponseSummary, WaiterId,
};
use target::Target;

/// The login machine's session, as far as sends need it.
#[derive(Debug, Clone)]
pub(crate) struct SessionHeader {
    pub(crate) generation: u32,
    pub(crate) header: Rc<AuthHeader>,
    /// From this instant on the session must not be sent: a request waits for a new login.
    pub(crate) stale_at: Millis,
}

/// What the scheduler needs from the login machine, in the order it needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ToLogin {
    /// Request `WaiterId` waits for a login state: answer with [`Requests::login_settled`].
    Join(WaiterId),
    /// Request `WaiterId` is over while it waited: it no longer counts as a caller.
    Leave(WaiterId),
    /// The server rejected the token of this session generation.
    Invalidate(u32),
    /// Cookie mode: a response to a send that carried session `generation` set cookies (its
    /// `Set-Cookie` lines); the session cookie among them rotates or ends that session.
    Cookies { generation: u32, cookies: String },
}

/// What a call into the scheduler borrows from the core it runs in.
pub(crate) struct Shared<'a> {
    pub(crate) config: &'a Config,
    pub(crate) jitter: &'a mut Jitter,
    pub(crate) out: &'a mut Outbox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waits for the login state (the login machine was told to [`ToLogin::Join`]).
    AwaitingLogin,
    /// Waits for a free slot under the concurrency cap.
    Queued,
    /// On the wire as `op`; `generation` names the session whose token it carries.
    InFlight { op: OpId, generation: Option<u32> },
    /// Pauses until `until` before another attempt after a transport failure (GET/HEAD only).
    Backoff { until: Millis },
}

#[derive(Debug)]
struct Request {
    waiter: WaiterId,
    target: Target,
    idempotent: bool,
    deadline: Millis,
    timeout_ms: u32,
    replayed: bool,
    attempts: u32,
    stage: Stage,
}

/// The pages' requests of one client, from `auth.request()` to their answer.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    list: Vec<Request>,
    /// Requests waiting for a slot under the concurrency cap, in arrival order.
    queue: VecDeque<WaiterId>,
    /// The login machine's current session, whether or not it is still fresh.
    session: Option<SessionHeader>,
    /// Whether the login's code exchange is on the wire (WeChat caps it with the requests).
    exchange_on_wire: bool,
    /// In the order they were decided; few at a time.
    notes: Vec<ToLogin>,
}

impl Requests {
    /// A page's request. It waits for the login state (if its URL is trusted and `login_ready`
    /// says a login would not settle it at once), then for a slot, then is sent;
    /// [`Output::Respond`] settles it. A malformed URL or timeout is refused at once.
    pub(crate) fn request(
        &mut self,
        cx: &mut Shared<'_>,
        now: Millis,
        spec: RequestSpec,
        login_ready: bool,
    ) -> Result<WaiterId, SessionError> {
        let target = Target::new(cx.config, spec.url)?;
        let timeout_ms = match spec.timeout_ms {
            None => cx.config.timeout_ms,
            Some(t) if t.fract() == 0.0 && (1.0..=600_000.0).contains(&t) => t as u32,
            Some(_) => {
                return Err(SessionError::ConfigInvalid {
                    option: "timeout".into(),
                    reason: "must be a whole number of milliseconds from 1 to 600000".into(),
                })
            }
        };
        let idempotent = ["GET", "HEAD", "OPTIONS"].iter().any(|m| spec.method.eq_ignore_ascii_case(m));
        let waiter = cx.out.waiter();
        // The warm path: with a valid session and nothing for the login to do, the request goes
        // straight to the queue, as the login would have sent it there at once.
        let stage = if target.trusted && !login_ready { Stage::AwaitingLogin } else { Stage::Queued };
        self.list.push(Request {
            waiter,
            target,
            idempotent,
            deadline: now + u64::from(timeout_ms),
            timeout_ms,
            replayed: false,
            attempts: 0,
            stage,
        });
        if stage == Stage::AwaitingLogin {
            self.notes.push(ToLogin::Join(waiter));
        } else {
            self.queue.push_back(waiter);
            self.dispatch(cx, now);
        }
        Ok(waiter)
    }

    /// The platform answered `op`; answers to anything but a send on the wire are ignored.
    pub(crate) fn handle_sent(&mut self, cx: &mut Shared<'_>, now: Millis, op: OpId, outcome: Outcome) {
        let on_wire = |r: &Request| matches!(r.stage, Stage::InFlight { op: sent, .. } if sent == op);
        let Some(request) = self.list.iter_mut().find(|r| on_wire(r)) else { return };
        let Stage::InFlight { generation, .. } = request.stage else { return };
        let (waiter, config) = (request.waiter, cx.config);
        let mut result = match outcome {
            Outcome::Sent(result) => result,
            _ => Err(PlatformFailure::new("the platform gave no response")),
        };
        if let (Ok(response), Some(generation), true) = (&mut result, generation, request.target.trusted) {
            if let Some(cookies) = response.cookies.take() {
                self.notes.push(ToLogin::Cookies { generation, cookies });
            }
        }
        match result {
            Ok(response) if request.target.trusted && config.requests.is_expired(&response) => {
                let replay = !request.replayed;
                request.replayed = true;
                if replay {
                    request.stage = Stage::AwaitingLogin;
                }
                if let Some(generation) = generation {
                    self.invalidate(generation);
                }
                if replay {
                    self.notes.push(ToLogin::Join(waiter));
                } else {
                    self.respond(cx, waiter, Err(SessionError::SessionExpired));
                }
            }
            Ok(_) => self.respond(cx, waiter, Ok(op)),
            Err(_) if request.idempotent && request.attempts < config.requests.max_idempotent_attempts => {
                let delay = cx.jitter.delay_ms(&config.retry, request.attempts);
                request.stage = Stage::Backoff { until: now + delay };
            }
            Err(failure) => self.respond(cx, waiter, Err(SessionError::Network { during: "the request", failure })),
        }
        self.dispatch(cx, now);
    }

    /// Time has reached `now`: requests past their deadline reject `TIMEOUT` (one on the wire is
    /// aborted), then those whose pause is over queue again.
    pub(crate) fn handle_timeout(&mut self, cx: &mut Shared<'_>, now: Millis) {
        while let Some(r) = self.list.iter().find(|r| r.deadline <= now) {
            let (waiter, stage, after_ms) = (r.waiter, r.stage, r.timeout_ms);
            if let Stage::InFlight { op, .. } = stage {
                cx.out.push(Output::Effect { op, effect: Effect::Abort });
            }
            self.respond(cx, waiter, Err(SessionError::Timeout { during: "the request", after_ms }));
        }
        for r in &mut self.list {
            if matches!(r.stage, Stage::Backoff { until } if until <= now) {
                r.stage = Stage::Queued;
                self.queue.push_back(r.waiter);
            }
        }
        self.dispatch(cx, now);
    }

    /// The page aborted request `waiter`: it rejects `ABORTED` now, leaving the queue or the
    /// login it waited for, and its platform task is aborted if it is on the wire. Its slot goes to
    /// the next request at once. An unknown (settled) request is ignored.
    pub(crate) fn abort(&mut self, cx: &mut Shared<'_>, now: Millis, waiter: WaiterId) {
        let Some(r) = self.list.iter().find(|r| r.waiter == waiter) else { return };
        if let Stage::InFlight { op, .. } = r.stage {
            cx.out.push(Output::Effect { op, effect: Effect::Abort });
        }
        self.respond(cx, waiter, Err(SessionError::Aborted));
        self.dispatch(cx, now);
    }

    /// The earliest request deadline or end of a pause.
    pub(crate) fn poll_timeout(&self) -> Option<Millis> {
        let pause = |r: &Request| match r.stage {
            Stage::Backoff { until } => until,
            _ => Millis::MAX,
        };
        self.list.iter().map(|r| r.deadline.min(pause(r))).min()
    }

    /// What the login machine must do next for the requests. Drain it after every call.
    pub(crate) fn poll_note(&mut self) -> Option<ToLogin> {
        (!self.notes.is_empty()).then(|| self.notes.remove(0))
    }

    /// The login machine has a session (a new one, or one read from storage).
    pub(crate) fn session_ready(&mut self, session: SessionHeader) {
        self.session = Some(session);
    }

    /// The login machine has no session any more.
    pub(crate) fn session_gone(&mut self) {
        self.session = None;
    }

    /// The login request `waiter` waited for is over: it is sent when a slot is free, or rejects.
    pub(crate) fn login_settled(
        &mut self,
        cx: &mut Shared<'_>,
        now: Millis,
        waiter: WaiterId,
        result: Result<(), SessionError>,
    ) {
        let Some(index) = self.list.iter().position(|r| r.waiter == waiter && r.stage == Stage::AwaitingLogin) else {
            return;
        };
        match result {
            Ok(()) => {
                if let Some(r) = self.list.get_mut(index) {
                    r.stage = Stage::Queued;
                    self.queue.push_back(waiter);
                }
                self.dispatch(cx, now);
            }
            Err(error) => {
                // The login has let go of it already: no `Leave`.
                self.list.remove(index);
                cx.out.push(Output::Respond { waiter, result: Err(error) });
            }
        }
    }

    /// Rejects every request not on the wire (for `logout`); those on the wire finish, but will
    /// not log in again.
    pub(crate) fn reject_waiting(&mut self, cx: &mut Shared<'_>, error: &SessionError) {
        for r in &mut self.list {
            r.replayed = true;
        }
        while let Some(r) = self.list.iter().find(|r| !matches!(r.stage, Stage::InFlight { .. })) {
            let waiter = r.waiter;
            self.respond(cx, waiter, Err(error.clone()));
        }
    }

    /// The login's code exchange went on the wire: one slot fewer for requests.
    pub(crate) fn exchange_started(&mut self) {
        self.exchange_on_wire = true;
    }

    /// The login's code exchange is off the wire (answered, timed out or cancelled). Its slot is
    /// used by the next [`Requests::dispatch`].
    pub(crate) fn exchange_over(&mut self) {
        self.exchange_on_wire = false;
    }

    /// Platform requests on the wire: sends and the code exchange (WeChat caps them together).
    fn on_wire(&self) -> usize {
        self.list.iter().filter(|r| matches!(r.stage, Stage::InFlight { .. })).count()
            + usize::from(self.exchange_on_wire)
    }

    /// Sends queued requests while the concurrency cap allows. Every input that can free a slot
    /// ends with it; the login machine calls it when the exchange's slot is free.
    pub(crate) fn dispatch(&mut self, cx: &mut Shared<'_>, now: Millis) {
        while !self.queue.is_empty() && self.on_wire() < cx.config.requests.max_concurrent as usize {
            let Some(waiter) = self.queue.pop_front() else { break };
            let Some(r) = self.list.iter_mut().find(|r| r.waiter == waiter) else { continue };
            let fresh = self.session.as_ref().filter(|s| now < s.stale_at);
            let (generation, auth) = match fresh {
                Some(s) if r.target.trusted => (Some(s.generation), Some(Rc::clone(&s.header))),
                // The session went stale while this request queued: log in again first.
                None if r.target.trusted => {
                    r.stage = Stage::AwaitingLogin;
                    self.notes.push(ToLogin::Join(waiter));
                    continue;
                }
                _ => (None, None),
            };
            r.attempts += 1;
            // The deadline is creation time plus `timeout_ms`, so what remains fits a u32.
            let remaining = r.deadline.saturating_sub(now).max(1) as u32;
            let url = r.target.resolved(&cx.config.base_url);
            let op = cx.out.effect(Effect::Send { waiter, url, auth, timeout_ms: remaining });
            r.stage = Stage::InFlight { op, generation };
        }
    }

    /// Ends a request: removes it everywhere and tells the driver.
    fn respond(&mut self, cx: &mut Shared<'_>, waiter: WaiterId, result: Result<OpId, SessionError>) {
        let Some(index) = self.list.iter().position(|r| r.waiter == waiter) else { return };
        match self.list.remove(index).stage {
            Stage::Queued => self.queue.retain(|w| *w != waiter),
            Stage::AwaitingLogin => self.notes.push(ToLogin::Leave(waiter)),
            Stage::InFlight { .. } | Stage::Backoff { .. } => {}
        }
        cx.out.push(Output::Respond { waiter, result });
    }

    /// The server rejected the token of `generation`: no send carries it any more, and the login
    /// machine drops that session unless a newer one replaced it already (a late 401 must never
    /// wipe a fresher token).
    fn invalidate(&mut self, generation: u32) {
        if self.session.as_ref().is_some_and(|s| s.generation == generation) {
            self.session = None;
        }
        self.notes.push(ToLogin::Invalidate(generation));
    }
}

impl RequestPolicy {
    fn is_expired(&self, response: &ResponseSummary) -> bool {
        self.expired_statuses.contains(&response.status)
            || response.body_code.as_ref().is_some_and(|code| self.body_code_expired(code))
    }
}

/// The scheduler on its own: the login machine is played by the test, through the same narrow
/// interface the core uses.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::token::Token;
    use crate::core::ConfigInput;

    const T0: Millis = 1_800_000_000_000;

    struct Alone {
        config: Config,
        jitter: Jitter,
        out: Outbox,
        requests: Requests,
    }

    impl Alone {
        fn new() -> Self {
            let input = ConfigInput { base_url: Some("https://api.example.com".into()), ..Default::default() };
            let config = input.validate().unwrap();
            Alone { config, jitter: Jitter::new(1), out: Outbox::default(), requests: Requests::default() }
        }

        fn run<R>(&mut self, call: impl FnOnce(&mut Requests, &mut Shared<'_>) -> R) -> R {
            let mut cx = Shared { config: &self.config, jitter: &mut self.jitter, out: &mut self.out };
            call(&mut self.requests, &mut cx)
        }

        fn request(&mut self, url: &str, login_ready: bool) -> WaiterId {
            let spec = RequestSpec { url: url.into(), method: "GET".into(), timeout_ms: None };
            self.run(|r, cx| r.request(cx, T0, spec, login_ready)).unwrap()
        }

        fn session(&mut self, generation: u32, token: &str) {
            let header = AuthHeader::for_token(&self.config.requests, &Token::new(token.into()));
            self.requests.session_ready(SessionHeader { generation, header, stale_at: T0 + 60_000 });
        }

        fn outputs(&mut self) -> Vec<Output> {
            std::iter::from_fn(|| self.out.pop()).collect()
        }

        fn notes(&mut self) -> Vec<ToLogin> {
            std::iter::from_fn(|| self.requests.poll_note()).collect()
        }
    }

    fn sent(outputs: &[Output]) -> Vec<(OpId, WaiterId, Option<String>)> {
        let header = |auth: &Option<Rc<AuthHeader>>| auth.as_ref().map(|a| a.value.expose().to_string());
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Effect { op, effect: Effect::Send { waiter, auth, .. } } => Some((*op, *waiter, header(auth))),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_request_asks_to_join_the_login_and_is_sent_with_its_session_once_settled() {
        let mut alone = Alone::new();
        let w = alone.request("/me", false);
        assert_eq!(alone.notes(), [ToLogin::Join(w)]);
        assert!(alone.outputs().is_empty(), "nothing is sent before the login settles");
        alone.session(1, "t1");
        alone.run(|r, cx| r.login_settled(cx, T0, w, Ok(())));
        let sends = sent(&alone.outputs());
        assert_eq!(sends.iter().map(|s| (s.1, s.2.as_deref())).collect::<Vec<_>>(), [(w, Some("Bearer t1"))]);
        alone.run(|r, cx| {
            r.handle_sent(
                cx,
                T0,
                sends[0].0,
                Outcome::Sent(Ok(ResponseSummary { status: 200, body_code: None, cookies: None })),
            )
        });
        assert_eq!(alone.outputs(), [Output::Respond { waiter: w, result: Ok(sends[0].0) }]);
        assert!(alone.notes().is_empty() && alone.requests.poll_timeout().is_none());
    }

    #[test]
    fn an_expired_session_is_dropped_invalidated_and_replayed_once_through_the_login() {
        let mut alone = Alone::new();
        alone.session(1, "t1");
        let w = alone.request("/me", true);
        let op = sent(&alone.outputs())[0].0;
        let expired = || Outcome::Sent(Ok(ResponseSummary { status: 401, body_code: None, cookies: None }));
        alone.run(|r, cx| r.handle_sent(cx, T0, op, expired()));
        assert_eq!(alone.notes(), [ToLogin::Invalidate(1), ToLogin::Join(w)]);
        // A request made meanwhile does not go out with the rejected token either.
        let other = alone.request("/other", true);
        alone.run(|r, cx| r.dispatch(cx, T0));
        assert!(sent(&alone.outputs()).is_empty());
        assert_eq!(alone.notes(), [ToLogin::Join(other)]);
        alone.session(2, "t2");
        alone.run(|r, cx| r.login_settled(cx, T0, w, Ok(())));
        let replay = sent(&alone.outputs());
        assert_eq!(replay[0].2.as_deref(), Some("Bearer t2"));
        alone.run(|r, cx| r.handle_sent(cx, T0, replay[0].0, expired()));
        assert_eq!(alone.outputs(), [Output::Respond { waiter: w, result: Err(SessionError::SessionExpired) }]);
        assert_eq!(alone.notes(), [ToLogin::Invalidate(2)], "one replay, never a loop");
    }

    #[test]
    fn the_exchange_takes_a_slot_and_a_request_that_times_out_while_waiting_leaves_the_login() {
        let mut alone = Alone::new();
        alone.session(1, "t1");
        alone.requests.exchange_started();
        let queued: Vec<_> = (0..10).map(|_| alone.request("/me", true)).collect();
        assert_eq!(sent(&alone.outputs()).len(), 9, "ten slots, one of them the exchange's");
        alone.requests.exchange_over();
        alone.run(|r, cx| r.dispatch(cx, T0));
        assert_eq!(sent(&alone.outputs()).iter().map(|s| s.1).collect::<Vec<_>>(), [queued[9]]);
        let waiting = alone.request("/me", false);
        assert_eq!(alone.notes(), [ToLogin::Join(waiting)]);
        let deadline = alone.requests.poll_timeout().unwrap();
        alone.run(|r, cx| r.handle_timeout(cx, deadline));
        assert_eq!(alone.notes(), [ToLogin::Leave(waiting)]);
        let timeouts = alone.outputs().iter().filter(|o| matches!(o, Output::Respond { result: Err(_), .. })).count();
        assert_eq!(timeouts, 11);
    }
}
