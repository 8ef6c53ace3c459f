//! Properties of the session machine under random interleavings of callers (with and without a
//! login payload), requests, platform answers (401s and transport failures among them), time and
//! logouts: at most one code exchange in flight, never more sends than the cap, no waiter or
//! request left unsettled (or settled twice), a bounded number of attempts per login and of sends
//! per request; a payload caller granted a session got it from an exchange that carried its
//! payload, and no payload ever reaches storage. With refresh tokens, account logins, aborts and
//! fresh-key calls in the mix: at most one login-or-refresh exchange in flight, a rotated refresh
//! token never sent again, and with `silentLogin: false` no `wx.login` the page did not ask for.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use mp_session::core::*;
use proptest::prelude::*;
use support::*;

#[derive(Debug, Clone)]
enum Step {
    Ensure {
        force: bool,
    },
    /// A login with payload number `which` (of two).
    EnsureWith {
        which: bool,
    },
    Request {
        trusted: bool,
        get: bool,
    },
    Logout,
    /// `ensureLogin({ freshSessionKey: true })`.
    FreshKey,
    /// `login()` with data number `which` (of two).
    Account {
        which: bool,
    },
    /// Abort the request at this index (modulo their number), settled or not.
    Abort {
        index: usize,
    },
    /// Answer the outstanding effect at this index (modulo their number) with answer variant `kind`.
    Answer {
        index: usize,
        kind: u8,
    },
    Advance {
        ms: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => any::<bool>().prop_map(|force| Step::Ensure { force }),
        2 => any::<bool>().prop_map(|which| Step::EnsureWith { which }),
        3 => (any::<bool>(), any::<bool>()).prop_map(|(trusted, get)| Step::Request { trusted, get }),
        1 => Just(Step::Logout),
        1 => Just(Step::FreshKey),
        1 => any::<bool>().prop_map(|which| Step::Account { which }),
        1 => any::<usize>().prop_map(|index| Step::Abort { index }),
        6 => (any::<usize>(), 0u8..4).prop_map(|(index, kind)| Step::Answer { index, kind }),
        2 => (0u64..15_000).prop_map(|ms| Step::Advance { ms }),
    ]
}

fn outcome_for(effect: &Effect, kind: u8, now: Millis) -> Outcome {
    match effect {
        Effect::ReadStorage { .. } => Outcome::StorageRead(match kind {
            0 => StorageValue::Missing,
            1 => StorageValue::Text(format!(r#"{{"version":1,"token":"stored","expiresAt":{}}}"#, now + 600_000)),
            2 => StorageValue::Other,
            _ => StorageValue::Text("garbage".into()),
        }),
        Effect::WriteStorage { .. } | Effect::RemoveStorage { .. } => {
            Outcome::StorageDone(if kind == 0 { Err(PlatformFailure::new("storage fail")) } else { Ok(()) })
        }
        Effect::CheckSession => Outcome::SessionChecked(kind % 2 == 0),
        Effect::RequestCode { .. } => Outcome::Code(if kind == 0 {
            Err(PlatformFailure::new("login:fail"))
        } else {
            Ok(LoginCode::new(format!("code-{kind}")))
        }),
        Effect::PostCode { .. } | Effect::PostCredentials { .. } => Outcome::Reply(match kind {
            0 => Err(PlatformFailure::new("request:fail")),
            1 => Ok(HttpReply { status: 503, body: r#"{"errcode":-1}"#.into(), cookies: None }),
            2 => Ok(HttpReply { status: 400, body: r#"{"errcode":40163}"#.into(), cookies: None }),
            _ => Ok(HttpReply { status: 200, body: r#"{"token":"fresh","expiresIn":600}"#.into(), cookies: None }),
        }),
        Effect::Send { .. } => Outcome::Sent(match kind {
            0 => Err(PlatformFailure::new("request:fail")),
            1 => Ok(ResponseSummary { status: 401, body_code: None, cookies: None }),
            _ => Ok(ResponseSummary { status: 200, body_code: None, cookies: None }),
        }),
        Effect::Abort => unreachable!("aborts are not answered"),
    }
}

/// A refresh token the core took, and the newest effect emitted before it did: exchanges emitted
/// after a newer grant must not carry it (one already on the wire when it was replaced may).
struct Grant {
    refresh: String,
    emitted_before: OpId,
}

/// Answers `effect` as `outcome_for` does, but a refresh or account exchange granted with `kind` 3
/// carries a new refresh token, recorded when the core takes the grant.
fn answer(h: &mut Harness, op: OpId, effect: &Effect, kind: u8, grants: &mut Vec<Grant>) {
    if !matches!(effect, Effect::PostCode { .. } | Effect::PostCredentials { .. }) || kind != 3 {
        return h.answer(op, outcome_for(effect, kind, h.now));
    }
    let refresh = format!("rt-{}", op.0);
    let body = format!(r#"{{"token":"fresh","expiresIn":600,"refreshToken":"{refresh}"}}"#);
    let logins_before = h.events.iter().filter(|e| matches!(e, SessionEvent::LoggedIn { .. })).count();
    let emitted_before = h.newest_op;
    h.answer(op, Outcome::Reply(Ok(HttpReply { status: 200, body, cookies: None })));
    if h.events.iter().filter(|e| matches!(e, SessionEvent::LoggedIn { .. })).count() > logins_before {
        grants.push(Grant { refresh, emitted_before });
    }
}

/// No refresh sends a replaced refresh token, and without `silentLogin` every `wx.login` belongs
/// to a login the page asked for (a forced, payload or fresh-key call, and its retries).
fn check_refresh_and_silence(
    h: &Harness,
    grants: &[Grant],
    backend: Backend,
    explicit_logins: usize,
) -> Result<(), TestCaseError> {
    for (op, effect) in &h.effects {
        let Effect::PostCredentials { body, .. } = effect else { continue };
        for (old, newer) in grants.iter().zip(grants.iter().skip(1)) {
            let replaced_before_sent = *op > newer.emitted_before;
            let carries_old = body.expose().contains(&format!("\"{}\"", old.refresh));
            prop_assert!(!(replaced_before_sent && carries_old), "{op:?} sent the replaced {}", old.refresh);
        }
    }
    if !backend.silent {
        // Each asked-for login may retry after a server failure, within the attempt limit.
        let bound = explicit_logins * h.core.config().retry.max_attempts as usize;
        prop_assert!(h.logins <= bound, "{} wx.login calls, {explicit_logins} asked for", h.logins);
    }
    Ok(())
}

/// Forgets the sends the core aborted (their deadline passed) with their `Abort`: an aborted task
/// is off the wire, and is never answered.
fn drop_aborted(h: &mut Harness) {
    let aborted: Vec<OpId> = h.effects.iter().filter(|(_, e)| matches!(e, Effect::Abort)).map(|(op, _)| *op).collect();
    h.effects.retain(|(op, _)| !aborted.contains(op));
}

/// Watches the core from the outside, after every step.
struct Watch {
    /// Exchanges the core still waits on: emitted, not answered, not timed out, not cancelled.
    live_exchanges: Vec<(OpId, Millis)>,
    /// The harness's newest effect at the last check: exchanges above it are new.
    newest_op: OpId,
    settled: usize,
    codes: usize,
    codes_since_settle: usize,
    timeout_ms: u64,
    max_attempts: usize,
}

impl Watch {
    fn answered(&mut self, op: OpId) {
        self.live_exchanges.retain(|(o, _)| *o != op);
    }

    fn check(&mut self, h: &Harness) -> Result<(), TestCaseError> {
        let now = h.now;
        self.live_exchanges.retain(|&(_, deadline)| deadline > now);
        for (op, effect) in &h.effects {
            if *op > self.newest_op && matches!(effect, Effect::PostCode { .. } | Effect::PostCredentials { .. }) {
                self.live_exchanges.push((*op, now + self.timeout_ms));
            }
        }
        self.newest_op = h.newest_op;
        prop_assert!(self.live_exchanges.len() <= 1, "{} exchanges in flight", self.live_exchanges.len());
        let sends = h.effects.iter().filter(|(_, e)| matches!(e, Effect::Send { .. })).count();
        prop_assert!(sends <= h.core.config().requests.max_concurrent as usize, "{sends} sends in flight");
        for (request, count) in &h.sends {
            // One replay after an expiry, plus one transport retry for GET: never a loop.
            prop_assert!(*count <= 3, "request {request:?} sent {count} times");
        }

        // A login run ends in a granted session or by settling its waiters (failed, logged out);
        // between two such moments the number of wx.login calls is bounded by the attempt limit.
        let logged_in = h.events.iter().filter(|e| matches!(e, SessionEvent::LoggedIn { .. })).count();
        let ended = h.settled.len() + h.responded.len() + logged_in;
        if ended != self.settled {
            self.settled = ended;
            self.codes_since_settle = 0;
        }
        self.codes_since_settle += h.logins - self.codes;
        self.codes = h.logins;
        prop_assert!(
            self.codes_since_settle <= self.max_attempts,
            "{} wx.login calls for one login",
            self.codes_since_settle
        );
        Ok(())
    }
}

/// The backend a run talks to: with refresh tokens or not, and whether the core may call
/// `wx.login` by itself.
#[derive(Debug, Clone, Copy)]
struct Backend {
    refresh: bool,
    silent: bool,
}

fn run(steps: Vec<Step>, check_session: bool, backend: Backend) -> Result<(), TestCaseError> {
    let mut h = Harness::new(ConfigInput {
        check_session: Some(check_session),
        refresh_path: backend.refresh.then(|| "/auth/refresh".into()),
        silent_login: Some(backend.silent),
        ..config()
    });
    // Refresh tokens granted (and taken: the core settled on them), in order; each was replaced by
    // the next and must not be sent after that.
    let mut grants: Vec<Grant> = Vec::new();
    let mut explicit_logins = 0;
    let mut watch = Watch {
        live_exchanges: vec![],
        newest_op: OpId(0),
        settled: 0,
        codes: 0,
        codes_since_settle: 0,
        timeout_ms: u64::from(h.core.config().timeout_ms),
        max_attempts: h.core.config().retry.max_attempts as usize,
    };
    let mut waiters = Vec::new();
    // Payload callers: waiter, the payload's value, how many exchanges came before its own.
    let mut with_payload = Vec::new();
    let mut requests = Vec::new();
    let mut logouts = Vec::new();
    // What a driver may cache from ready_until: valid until then unless a call or an event came.
    let mut cached: Option<(u32, Millis)> = None;

    for step in steps {
        let events_before = h.events.len();
        if !matches!(step, Step::Answer { .. } | Step::Advance { .. }) {
            cached = None;
        }
        match step {
            Step::Ensure { force } => {
                explicit_logins += usize::from(force);
                waiters.push(h.ensure(force));
            }
            Step::FreshKey => {
                explicit_logins += 1;
                waiters.push(h.ensure_fresh_key());
            }
            Step::Account { which } => {
                let data =
                    if which { r#"{"username":"a","password":"PASSWORD-A"}"# } else { r#"{"phone":"1","code":"SMS"}"# };
                waiters.push(h.login_account("/auth/password", data));
            }
            Step::Abort { index } => {
                if let Some(&request) = requests.get(index % requests.len().max(1)) {
                    h.abort(request);
                }
            }
            Step::EnsureWith { which } => {
                let value = if which { "PAYLOAD-A" } else { "PAYLOAD-B" };
                // An exchange with the same payload already on the wire is shared, not repeated.
                let same_on_the_wire = h.effects.iter().any(|(_, e)| {
                    matches!(e, Effect::PostCode { code, payload, .. } if login_request_body(code, payload.as_ref()).contains(value))
                });
                explicit_logins += 1;
                let exchanges_before = h.bodies.len() - usize::from(same_on_the_wire);
                let w = h.ensure_with(&format!(r#"{{"phoneCode":"{value}"}}"#));
                waiters.push(w);
                with_payload.push((w, value, exchanges_before));
            }
            Step::Request { trusted, get } => {
                let url = if trusted { "/api/me" } else { "https://cdn.example.net/x" };
                requests.push(h.request(url, if get { "GET" } else { "POST" }));
            }
            Step::Logout => {
                logouts.push(h.core.logout(h.now));
                h.drain();
                watch.live_exchanges.clear();
            }
            Step::Answer { index, kind } => {
                if !h.effects.is_empty() {
                    let (op, effect) = h.effects.remove(index % h.effects.len());
                    watch.answered(op);
                    answer(&mut h, op, &effect, kind, &mut grants);
                }
            }
            Step::Advance { ms } => h.advance(ms),
        }
        drop_aborted(&mut h);
        watch.check(&h)?;
        check_refresh_and_silence(&h, &grants, backend, explicit_logins)?;
        if h.events.len() != events_before {
            cached = None;
        }
        if let Some((generation, until)) = cached.filter(|(_, until)| h.now < *until) {
            let ready = h.core.ready_until(h.now);
            prop_assert_eq!(ready, Some((generation, until)), "a cached ready session went stale silently");
        }
        cached = cached.filter(|(_, until)| h.now < *until).or_else(|| h.core.ready_until(h.now));
    }

    // Let everything finish: answer what is outstanding successfully, let timers run out.
    for _ in 0..500 {
        drop_aborted(&mut h);
        if !h.effects.is_empty() {
            let (op, effect) = h.effects.remove(0);
            watch.answered(op);
            answer(&mut h, op, &effect, 3, &mut grants);
        } else if let Some(deadline) = h.core.poll_timeout() {
            h.advance(deadline.saturating_sub(h.now));
        } else {
            break;
        }
        watch.check(&h)?;
    }
    for w in &waiters {
        prop_assert!(h.settled.contains_key(w), "{w:?} never settled");
    }
    for (w, value, exchanges_before) in &with_payload {
        if let Some(Ok(view)) = h.settled.get(w) {
            let own = h.bodies.get(*exchanges_before..).unwrap_or_default().iter().any(|b| b.contains(value));
            prop_assert!(own, "{w:?} got {:?} without an exchange carrying its payload", view.generation);
        }
    }
    check_refresh_and_silence(&h, &grants, backend, explicit_logins)?;
    prop_assert!(h.writes.iter().all(|v| !v.contains("PAYLOAD")), "a payload reached storage");
    for r in &requests {
        prop_assert!(h.responded.contains_key(r), "request {r:?} never settled");
    }
    for w in &logouts {
        prop_assert!(h.logged_out.contains(w), "logout {w:?} never finished");
    }
    prop_assert!(h.core.poll_timeout().is_none(), "work left after quiescence");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn every_caller_settles_and_one_exchange_at_most_is_in_flight(
        steps in prop::collection::vec(step(), 1..60),
        check in any::<bool>(),
        refresh in any::<bool>(),
        silent in any::<bool>(),
    ) {
        run(steps, check, Backend { refresh, silent })?;
    }
}

#[test]
fn attempts_per_login_are_bounded_even_if_the_server_always_fails() {
    let mut h = Harness::new(config());
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    for _ in 0..50 {
        if h.settled.contains_key(&w) {
            break;
        }
        if h.has_effect(|e| matches!(e, Effect::RequestCode { .. })) {
            h.give_code("c");
        } else if h.has_effect(|e| matches!(e, Effect::PostCode { .. })) {
            h.reply(500, "");
        } else {
            h.advance(h.core.poll_timeout().unwrap() - h.now);
        }
    }
    assert_eq!(h.error_of(w).code(), "SERVER_ERROR");
    assert_eq!(h.exchanges, h.core.config().retry.max_attempts as usize);
}
