//! The pace of automatic logins: whatever the server answers, `wx.login` runs a bounded number of
//! times a minute; a paced login waits on the core's timer, never failing its callers early; a
//! forced login is never paced; normal use (a cold start, a re-login after a revocation) never
//! waits.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use mp_session::core::login::pacing::{LOGIN_BURST, LOGIN_INTERVAL_MS};
use mp_session::core::*;
use proptest::prelude::*;
use support::*;

fn logged_in(input: ConfigInput) -> Harness {
    let mut h = Harness::new(input);
    h.cold_login("tok-1", 7200);
    h
}

fn code_requested(h: &Harness) -> bool {
    h.has_effect(|e| matches!(e, Effect::RequestCode { .. }))
}

/// The server revokes the session: a request comes back 401, and the re-login starts at once.
fn revoke_and_relogin(h: &mut Harness, token: &str) {
    let r = h.request("/api/me", "GET");
    h.respond_status(r, 401);
    assert!(code_requested(h), "re-login {} started at once", h.logins);
    h.login_now(token);
    h.respond_status(r, 200);
    assert!(h.responded.get(&r).is_some_and(Result::is_ok));
}

/// Up to 30 s per request, so that request deadlines do not interfere with the pace.
fn patient() -> ConfigInput {
    ConfigInput { timeout_ms: Some(30_000.0), ..config() }
}

#[test]
fn a_cold_start_and_relogins_after_revocations_happen_at_once_up_to_the_burst() {
    let mut h = logged_in(patient());
    for n in 2..=LOGIN_BURST {
        revoke_and_relogin(&mut h, &format!("tok-{n}"));
    }
    assert_eq!((h.logins as u64, h.now), (LOGIN_BURST, T0));
}

#[test]
fn a_login_past_the_burst_waits_on_the_timer_and_its_callers_wait_with_it() {
    let mut h = logged_in(patient());
    for n in 2..=LOGIN_BURST {
        revoke_and_relogin(&mut h, &format!("tok-{n}"));
    }
    let r = h.request("/api/me", "GET");
    h.respond_status(r, 401);
    let caller = h.ensure(false);
    assert!(!code_requested(&h), "paced");
    assert!(!h.responded.contains_key(&r) && !h.settled.contains_key(&caller), "nobody fails early");
    assert!(h.core.is_logging_in() && h.core.ready_session(h.now).is_none());
    assert_eq!(h.core.poll_timeout(), Some(T0 + LOGIN_INTERVAL_MS));
    h.advance(LOGIN_INTERVAL_MS - 1);
    assert!(!code_requested(&h));
    h.advance(1);
    assert!(code_requested(&h), "the timer starts the login");
    h.login_now("tok-4");
    h.respond_status(r, 200);
    assert!(h.responded[&r].is_ok());
    assert_eq!(h.token_of(caller), "tok-4");
}

#[test]
fn a_request_whose_deadline_passes_while_its_login_is_paced_rejects_timeout() {
    let mut h = logged_in(patient());
    for n in 2..=LOGIN_BURST {
        revoke_and_relogin(&mut h, &format!("tok-{n}"));
    }
    let spec = RequestSpec { url: "/api/me".into(), method: "GET".into(), timeout_ms: Some(3_000.0) };
    let r = h.core.request(h.now, spec).unwrap();
    h.drain();
    h.respond_status(r, 401);
    h.advance(2_999);
    assert!(!h.responded.contains_key(&r));
    h.advance(1);
    assert_eq!(h.responded[&r].as_ref().unwrap_err().code(), "TIMEOUT");
    // Nobody waits for the paced login any more: it is dropped, not run for no one.
    h.advance(LOGIN_INTERVAL_MS);
    assert!(!code_requested(&h));
    assert!(!h.core.is_logging_in());
}

#[test]
fn a_forced_login_is_never_paced() {
    let mut h = logged_in(patient());
    for n in 2..=LOGIN_BURST {
        revoke_and_relogin(&mut h, &format!("tok-{n}"));
    }
    // A paced login is waiting: forcing starts it now, and the waiting request goes with it.
    let r = h.request("/api/me", "GET");
    h.respond_status(r, 401);
    assert!(!code_requested(&h));
    let forced = h.ensure(true);
    assert!(code_requested(&h), "forced: at once");
    h.login_now("tok-4");
    h.respond_status(r, 200);
    assert!(h.responded[&r].is_ok());
    assert_eq!(h.token_of(forced), "tok-4");
    // With no login running either.
    for n in 5..8 {
        let forced = h.ensure(true);
        assert!(code_requested(&h), "forced login {n}");
        h.login_now(&format!("tok-{n}"));
        assert_eq!(h.token_of(forced), format!("tok-{n}"));
    }
    assert_eq!(h.now, T0);
}

#[test]
fn retries_after_server_failures_are_paced_too() {
    // No backoff at all and ten attempts: only the pace stands between the page and ten wx.login.
    let mut h = Harness::new(ConfigInput {
        retry_base_delay_ms: Some(0.0),
        retry_max_delay_ms: Some(0.0),
        max_login_attempts: Some(10.0),
        ..config()
    });
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    for _ in 0..LOGIN_BURST {
        h.give_code("c");
        h.reply(503, r#"{"errcode":-1}"#);
        h.advance(0);
    }
    assert!(!code_requested(&h), "the fourth attempt waits");
    assert_eq!(h.core.poll_timeout(), Some(T0 + LOGIN_INTERVAL_MS));
    h.advance(LOGIN_INTERVAL_MS);
    h.give_code("c");
    h.reply(200, r#"{"token":"ok","expiresIn":7200}"#);
    assert_eq!(h.token_of(w), "ok");
}

/// Plays a page that sends its next request as soon as the previous one settles, against a server
/// that grants every login and rejects every token, for `ms` of fake time (or `rounds` steps).
fn storm(h: &mut Harness, ms: u64, rounds: usize, grant: &str) {
    let end = h.now + ms;
    let mut current: Option<WaiterId> = None;
    for _ in 0..rounds {
        if h.now >= end {
            break;
        }
        if current.is_none_or(|r| h.responded.contains_key(&r)) {
            current = Some(h.request("/api/me", "GET"));
            continue;
        }
        h.effects.retain(|(_, e)| !matches!(e, Effect::Abort));
        let Some((op, effect)) = h.effects.first().cloned() else {
            let next = h.core.poll_timeout().unwrap_or(h.now + 1_000).min(end);
            h.advance(next - h.now);
            continue;
        };
        h.effects.remove(0);
        let outcome = match effect {
            Effect::ReadStorage { .. } => Outcome::StorageRead(StorageValue::Missing),
            Effect::WriteStorage { .. } | Effect::RemoveStorage { .. } => Outcome::StorageDone(Ok(())),
            Effect::CheckSession => Outcome::SessionChecked(true),
            Effect::RequestCode { .. } => Outcome::Code(Ok(LoginCode::new("c".into()))),
            Effect::PostCode { .. } | Effect::PostCredentials { .. } => {
                Outcome::Reply(Ok(HttpReply { status: 200, body: grant.into(), cookies: None }))
            }
            Effect::Send { .. } => Outcome::Sent(Ok(ResponseSummary { status: 401, body_code: None, cookies: None })),
            Effect::Abort => continue,
        };
        h.answer(op, outcome);
    }
}

#[test]
fn a_server_that_rejects_every_token_gets_a_bounded_number_of_logins() {
    // Before pacing, this page made two logins per request without the clock moving at all.
    let mut h = Harness::new(config());
    storm(&mut h, 60_000, 20_000, r#"{"token":"doomed","expiresIn":7200}"#);
    let bound = LOGIN_BURST + 60_000 / LOGIN_INTERVAL_MS;
    assert!(h.logins as u64 <= bound, "{} wx.login calls in a minute (bound {bound})", h.logins);
    assert!(h.logins >= 3, "still logs in: {}", h.logins);
}

#[test]
fn sessions_at_the_minimum_lifetime_renew_at_most_at_the_pace() {
    let mut h = Harness::new(config());
    storm(&mut h, 60_000, 20_000, r#"{"token":"brief","expiresIn":10}"#);
    let bound = LOGIN_BURST + 60_000 / LOGIN_INTERVAL_MS;
    assert!(h.logins as u64 <= bound, "{} wx.login calls in a minute (bound {bound})", h.logins);
}

// The property: random sequences of callers, requests, platform answers and time.

#[derive(Debug, Clone)]
enum Step {
    Ensure {
        force: bool,
    },
    Request {
        get: bool,
    },
    Logout,
    /// Answer the outstanding effect at this index (modulo their number) with answer variant `kind`.
    Answer {
        index: usize,
        kind: u8,
    },
    Advance {
        ms: u64,
    },
}

/// `allow_force`: one `ensure_login` in eight is forced; else none.
fn step(allow_force: bool) -> impl Strategy<Value = Step> {
    prop_oneof![
        7 => (0u8..8).prop_map(move |n| Step::Ensure { force: allow_force && n == 0 }),
        6 => any::<bool>().prop_map(|get| Step::Request { get }),
        1 => Just(Step::Logout),
        12 => (any::<usize>(), 0u8..10).prop_map(|(index, kind)| Step::Answer { index, kind }),
        4 => prop_oneof![0u64..1_000, 0u64..30_000].prop_map(|ms| Step::Advance { ms }),
    ]
}

/// What a hostile (or broken) platform and server may answer.
fn outcome_for(effect: &Effect, kind: u8, now: Millis) -> Outcome {
    let stored =
        |life: u64| StorageValue::Text(format!(r#"{{"version":1,"token":"stored","expiresAt":{}}}"#, now + life));
    let reply = |status: u16, body: &str| Outcome::Reply(Ok(HttpReply { status, body: body.into(), cookies: None }));
    let sent = |status: u16, code: Option<f64>| {
        Outcome::Sent(Ok(ResponseSummary { status, body_code: code.map(BodyValue::Number), cookies: None }))
    };
    match effect {
        Effect::ReadStorage { .. } => Outcome::StorageRead(match kind % 5 {
            0 => StorageValue::Missing,
            1 => stored(5_000),
            2 => stored(30_000),
            3 => stored(3_600_000),
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
        Effect::PostCode { .. } | Effect::PostCredentials { .. } => match kind {
            0 => Outcome::Reply(Err(PlatformFailure::new("request:fail"))),
            1 => reply(503, r#"{"errcode":-1}"#),
            2 => reply(500, ""),
            3 => reply(400, r#"{"errcode":40163}"#),
            4 => reply(200, r#"{"token":"tiny","expiresIn":1e-9}"#),
            5 => reply(200, r#"{"token":"tiny","expiresIn":0.0004}"#),
            6 => reply(200, r#"{"token":"floor","expiresIn":10}"#),
            7 => reply(200, r#"{"token":"short","expiresIn":11}"#),
            _ => reply(200, r#"{"token":"fresh","expiresIn":7200}"#),
        },
        Effect::Send { .. } => match kind % 5 {
            0 => Outcome::Sent(Err(PlatformFailure::new("request:fail"))),
            1 | 2 => sent(401, None),
            3 => sent(200, Some(40101.0)),
            _ => sent(200, None),
        },
        Effect::Abort => unreachable!("aborts are not answered"),
    }
}

#[derive(Debug, Clone)]
struct Setup {
    check_session: bool,
    margin_ms: f64,
    base_delay_ms: f64,
    max_attempts: f64,
    timeout_ms: f64,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        any::<bool>(),
        prop::sample::select(vec![0.0, 60_000.0, 86_400_000.0]),
        prop::sample::select(vec![0.0, 500.0]),
        prop::sample::select(vec![1.0, 3.0, 10.0]),
        prop::sample::select(vec![1_000.0, 10_000.0]),
    )
        .prop_map(|(check_session, margin_ms, base_delay_ms, max_attempts, timeout_ms)| Setup {
            check_session,
            margin_ms,
            base_delay_ms,
            max_attempts,
            timeout_ms,
        })
}

/// Runs `steps`, then lets everything finish; returns when each `wx.login` was asked for and when
/// each forced `ensure_login` was made.
fn run(setup: &Setup, steps: &[Step]) -> (Vec<Millis>, Vec<Millis>, u64) {
    let mut h = Harness::new(ConfigInput {
        check_session: Some(setup.check_session),
        expiry_margin_ms: Some(setup.margin_ms),
        retry_base_delay_ms: Some(setup.base_delay_ms),
        retry_max_delay_ms: Some(setup.base_delay_ms * 4.0),
        max_login_attempts: Some(setup.max_attempts),
        timeout_ms: Some(setup.timeout_ms),
        expired_body_field: Some("code".into()),
        expired_body_values: Some(vec![BodyValue::Number(40101.0)]),
        ..config()
    });
    let (mut codes, mut forced) = (Vec::new(), Vec::new());
    // Forced calls whose wx.login has not been asked for yet: one that waited for a deadline is
    // counted when time reaches it (an `Advance` may jump far past the deadline).
    let mut unserved = Vec::new();
    let mut seen = 0;
    let mut record = |h: &Harness, codes: &mut Vec<Millis>, unserved: &mut Vec<Millis>| {
        if h.logins > seen {
            forced.extend(unserved.drain(..).map(|_| h.now));
        }
        codes.extend(std::iter::repeat_n(h.now, h.logins - seen));
        seen = h.logins;
    };
    for step in steps {
        match *step {
            Step::Ensure { force } => {
                if force {
                    unserved.push(h.now);
                }
                h.ensure(force);
            }
            Step::Request { get } => {
                h.request("/api/me", if get { "GET" } else { "POST" });
            }
            Step::Logout => {
                h.core.logout(h.now);
                h.drain();
            }
            Step::Answer { index, kind } => {
                h.effects.retain(|(_, e)| !matches!(e, Effect::Abort));
                if !h.effects.is_empty() {
                    let (op, effect) = h.effects.remove(index % h.effects.len());
                    h.answer(op, outcome_for(&effect, kind, h.now));
                }
            }
            Step::Advance { ms } => h.advance(ms),
        }
        record(&h, &mut codes, &mut unserved);
    }
    // The server keeps rejecting tokens while the core finishes what it started.
    for _ in 0..500 {
        h.effects.retain(|(_, e)| !matches!(e, Effect::Abort));
        if !h.effects.is_empty() {
            let (op, effect) = h.effects.remove(0);
            h.answer(op, outcome_for(&effect, 1, h.now));
        } else if let Some(deadline) = h.core.poll_timeout() {
            h.advance(deadline.saturating_sub(h.now));
        } else {
            break;
        }
        record(&h, &mut codes, &mut unserved);
    }
    forced.append(&mut unserved);
    (codes, forced, setup.timeout_ms as u64)
}

/// Every 60 s window holds at most the pace's bound of `wx.login` calls, plus one per forced call
/// made in it (or shortly before it: a forced login may first wait for the storage read or
/// `wx.checkSession`, each bounded by `timeoutMs`).
fn check_windows(codes: &[Millis], forced: &[Millis], timeout_ms: u64) -> Result<(), TestCaseError> {
    const WINDOW: u64 = 60_000;
    let bound = LOGIN_BURST + WINDOW / LOGIN_INTERVAL_MS;
    for &start in codes {
        let end = start + WINDOW;
        let in_window = codes.iter().filter(|&&t| (start..=end).contains(&t)).count() as u64;
        let lookback = start.saturating_sub(2 * timeout_ms);
        let forced_in = forced.iter().filter(|&&t| (lookback..=end).contains(&t)).count() as u64;
        prop_assert!(
            in_window <= bound + forced_in,
            "{in_window} wx.login calls in the 60 s from {} ({forced_in} forced; bound {bound})",
            start - T0
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn automatic_logins_stay_within_the_pace(setup in setup(), steps in prop::collection::vec(step(false), 1..150)) {
        let (codes, forced, timeout_ms) = run(&setup, &steps);
        prop_assert!(forced.is_empty());
        check_windows(&codes, &forced, timeout_ms)?;
    }

    #[test]
    fn logins_stay_within_the_pace_plus_the_forced_ones(setup in setup(), steps in prop::collection::vec(step(true), 1..150)) {
        let (codes, forced, timeout_ms) = run(&setup, &steps);
        check_windows(&codes, &forced, timeout_ms)?;
    }
}
