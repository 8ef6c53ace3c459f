//! The login cycle, step by step, on the pure core with a fake clock.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use mp_session::core::*;
use support::*;

#[test]
fn cold_login_reads_storage_logs_in_and_stores_only_token_and_expiry() {
    let mut h = Harness::new(config());
    let w = h.ensure(false);
    assert!(h.has_effect(|e| matches!(e, Effect::ReadStorage { key } if key == "mp-session")));
    assert!(!h.has_effect(|e| matches!(e, Effect::RequestCode { .. })), "storage first");
    h.read_storage(StorageValue::Missing);
    h.give_code("081code");
    let (op, post) = h.take(|e| matches!(e, Effect::PostCode { .. }));
    let Effect::PostCode { url, code, payload, .. } = &post else { unreachable!() };
    assert_eq!(url, "https://api.example.com/auth/login");
    assert_eq!(login_request_body(code, payload.as_ref()), r#"{"code":"081code"}"#);
    h.answer(
        op,
        Outcome::Reply(Ok(HttpReply {
            status: 200,
            body: r#"{"token":"tok-1","expiresIn":7200,"session_key":"SECRET","openid":"o1"}"#.into(),
            cookies: None,
        })),
    );
    assert_eq!(h.token_of(w), "tok-1");
    let (_, write) = h.take(|e| matches!(e, Effect::WriteStorage { .. }));
    let Effect::WriteStorage { value, .. } = write else { unreachable!() };
    assert_eq!(value, format!(r#"{{"version":1,"token":"tok-1","expiresAt":{}}}"#, T0 + 7_200_000));
    assert!(h.events.contains(&SessionEvent::LoggedIn { expires_at_ms: T0 + 7_200_000, reply: None }));
}

#[test]
fn douyins_anonymous_code_and_alipays_auth_code_are_posted_in_fields_of_their_own() {
    let mut h = Harness::new(config());
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    let (op, _) = h.take(|e| matches!(e, Effect::RequestCode { .. }));
    h.answer(op, Outcome::Code(Ok(LoginCode::anonymous("anon-1".into()))));
    let (op, post) = h.take(|e| matches!(e, Effect::PostCode { .. }));
    let Effect::PostCode { code, payload, .. } = &post else { unreachable!() };
    assert_eq!(login_request_body(code, payload.as_ref()), r#"{"anonymousCode":"anon-1"}"#);
    h.answer(
        op,
        Outcome::Reply(Ok(HttpReply {
            status: 200,
            body: r#"{"token":"tok-a","expiresIn":60}"#.into(),
            cookies: None,
        })),
    );
    assert_eq!(h.token_of(w), "tok-a");
    let code = LoginCode::auth_code("ali-1".into());
    assert_eq!(login_request_body(&code, None), r#"{"authCode":"ali-1"}"#, "Alipay's authCode");
}

#[test]
fn a_valid_stored_session_needs_no_login() {
    let mut h = Harness::new(config());
    let w = h.ensure(false);
    h.read_storage(StorageValue::Text(format!(r#"{{"version":1,"token":"stored","expiresAt":{}}}"#, T0 + 3_600_000)));
    assert_eq!(h.token_of(w), "stored");
    assert_eq!(h.logins, 0);
    // Storage is read once per client.
    let again = h.ensure(false);
    assert_eq!(h.token_of(again), "stored");
    assert!(h.effects.is_empty(), "{:?}", h.effects);
}

fn stored(token: &str, expires_at: Millis) -> StorageValue {
    StorageValue::Text(format!(r#"{{"version":1,"token":"{token}","expiresAt":{expires_at}}}"#))
}

#[test]
fn a_stored_session_with_less_than_the_minimum_lifetime_left_is_not_used() {
    // Even with no safety margin at all: 9 s left is below the 10 s floor a fresh reply must meet.
    let mut h = Harness::new(ConfigInput { expiry_margin_ms: Some(0.0), ..config() });
    let w = h.ensure(false);
    h.read_storage(stored("old", T0 + 9_000));
    assert!(!h.settled.contains_key(&w));
    h.give_code("c");
    h.reply(200, r#"{"token":"new","expiresIn":7200}"#);
    assert_eq!(h.token_of(w), "new");
}

#[test]
fn a_stored_session_stops_being_used_within_the_margin_of_its_expiry() {
    let mut h = Harness::new(config());
    h.ensure(false);
    h.read_storage(stored("old", T0 + 3_600_000));
    // The default 60 s margin applies in full: it is far below a quarter of the hour left.
    assert_eq!(h.core.ready_until(h.now).map(|(_, until)| until), Some(T0 + 3_540_000));
    h.advance(3_540_000);
    let w = h.ensure(false);
    assert!(!h.settled.contains_key(&w), "inside the margin: a new login");
    assert_eq!(h.logins, 1);
}

#[test]
fn a_large_margin_never_makes_a_stored_session_stale_on_arrival() {
    // A 24 h margin with 2 h sessions: a fresh session keeps three quarters of its life; the same
    // session read back from storage a minute later must not be thrown away on every launch.
    let day = 86_400_000.0;
    let mut h = Harness::new(ConfigInput { expiry_margin_ms: Some(day), ..config() });
    let w = h.ensure(false);
    h.read_storage(stored("kept", T0 + 7_140_000));
    assert_eq!(h.token_of(w), "kept");
    assert_eq!(h.logins, 0);
    // A quarter of what was left at load is kept as the margin.
    assert_eq!(h.core.ready_until(h.now).map(|(_, until)| until), Some(T0 + 7_140_000 - 1_785_000));
}

#[test]
fn the_margin_never_makes_a_freshly_granted_session_stale_at_once() {
    for margin in [0.0, 60_000.0, 86_400_000.0] {
        let mut h = Harness::new(ConfigInput { expiry_margin_ms: Some(margin), ..config() });
        h.cold_login("floor", 10); // the shortest lifetime a reply may grant
        let until = h.core.ready_until(h.now).map(|(_, until)| until);
        let margin = (margin as u64).min(2_500);
        assert_eq!(until, Some(T0 + 10_000 - margin), "margin {margin}");
        let warm = h.ensure(false);
        assert_eq!(h.token_of(warm), "floor");
        assert_eq!(h.logins, 1);
    }
}

#[test]
fn a_login_reply_below_the_minimum_lifetime_is_a_bad_response() {
    for expires_in in ["1e-9", "0.0004", "9.999", "\"5\""] {
        let mut h = Harness::new(config());
        let w = h.ensure(false);
        h.read_storage(StorageValue::Missing);
        h.give_code("c");
        h.reply(200, &format!(r#"{{"token":"tiny","expiresIn":{expires_in}}}"#));
        let e = h.error_of(w);
        assert_eq!(e.code(), "BAD_RESPONSE", "{expires_in}");
        assert!(e.to_string().contains("`expiresIn` is below the 10 s minimum lifetime"), "{e}");
        assert!(h.core.session(h.now).is_none(), "{expires_in}");
        assert!(!h.has_effect(|e| matches!(e, Effect::WriteStorage { .. })), "nothing stored");
        assert_eq!((h.logins, h.exchanges), (1, 1), "not retried: {expires_in}");
    }
    let mut h = Harness::new(ConfigInput { expires_in_field: Some("data.ttl".into()), ..config() });
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    h.give_code("c");
    h.reply(200, r#"{"token":"tiny","data":{"ttl":0.5}}"#);
    assert!(h.error_of(w).to_string().contains("`data.ttl` is below the 10 s minimum lifetime"));
}

#[test]
fn a_short_lived_token_is_still_usable_right_after_login() {
    let mut h = Harness::new(config());
    h.cold_login("short", 20); // 20 s lifetime, shorter than the margin
    let w = h.ensure(false);
    assert_eq!(h.token_of(w), "short");
    h.advance(16_000); // past 3/4 of its life
    let w = h.ensure(false);
    assert!(!h.settled.contains_key(&w) && h.logins == 2);
}

#[test]
fn corrupt_or_foreign_stored_values_are_removed_not_thrown() {
    for value in
        [StorageValue::Text("{not json".into()), StorageValue::Other, StorageValue::Text(r#"{"version":9}"#.into())]
    {
        let mut h = Harness::new(config());
        h.ensure(false);
        h.read_storage(value);
        assert!(h.has_effect(|e| matches!(e, Effect::RemoveStorage { .. })));
        assert!(h.has_effect(|e| matches!(e, Effect::RequestCode { .. })));
    }
}

#[test]
fn two_hundred_callers_share_one_login() {
    let mut h = Harness::new(config());
    let waiters: Vec<_> = (0..200).map(|i| h.ensure(i % 7 == 0)).collect();
    h.read_storage(StorageValue::Missing);
    h.give_code("c");
    h.reply(200, r#"{"token":"shared","expiresIn":7200}"#);
    assert_eq!((h.logins, h.exchanges), (1, 1));
    for w in waiters {
        assert_eq!(h.token_of(w), "shared");
    }
}

#[test]
fn a_forced_login_replaces_a_valid_session_and_joins_a_running_one() {
    let mut h = Harness::new(config());
    h.cold_login("first", 7200);
    let forced = h.ensure(true);
    let joined = h.ensure(true);
    let plain = h.ensure(false);
    assert_eq!(h.logins, 2);
    h.give_code("c2");
    h.reply(200, r#"{"token":"second","expiresIn":7200}"#);
    for w in [forced, joined, plain] {
        assert_eq!(h.token_of(w), "second");
    }
    assert_eq!(h.exchanges, 2);
}

#[test]
fn wx_login_that_never_answers_times_out_and_the_next_call_can_succeed() {
    let mut h = Harness::new(config());
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    let (late_op, _) = h.take(|e| matches!(e, Effect::RequestCode { .. }));
    assert_eq!(h.core.poll_timeout(), Some(T0 + 10_000));
    h.advance(9_999);
    assert!(!h.settled.contains_key(&w));
    h.advance(1);
    assert_eq!(h.error_of(w).code(), "TIMEOUT");
    // The late answer to the timed-out call is stale: ignored.
    h.answer(late_op, Outcome::Code(Ok(LoginCode::new("late".into()))));
    assert!(!h.has_effect(|e| matches!(e, Effect::PostCode { .. })));
    let next = h.ensure(false);
    h.give_code("c");
    h.reply(200, r#"{"token":"ok","expiresIn":60}"#);
    assert_eq!(h.token_of(next), "ok");
}

#[test]
fn wx_login_failure_is_typed_and_not_sticky() {
    let mut h = Harness::new(config());
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    let (op, _) = h.take(|e| matches!(e, Effect::RequestCode { .. }));
    h.answer(op, Outcome::Code(Err(PlatformFailure { errmsg: "login:fail network".into(), errno: Some(600000) })));
    let e = h.error_of(w);
    assert_eq!((e.code(), e.errcode(), e.errmsg()), ("WX_LOGIN_FAILED", Some(600000), Some("login:fail network")));
    let next = h.ensure(false);
    h.give_code("c");
    h.reply(200, r#"{"token":"ok","expiresIn":60}"#);
    assert_eq!(h.token_of(next), "ok");
}

#[test]
fn server_failures_retry_with_a_fresh_code_then_give_up() {
    let mut h = Harness::new(config());
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    for attempt in 1..=3 {
        h.give_code(&format!("code-{attempt}"));
        h.reply(503, r#"{"errcode":-1,"errmsg":"system busy"}"#);
        if attempt < 3 {
            let wake = h.core.poll_timeout().expect("backoff timer");
            assert!(!h.has_effect(|e| matches!(e, Effect::RequestCode { .. })), "waits before retrying");
            h.advance(wake - h.now);
        }
    }
    let e = h.error_of(w);
    assert_eq!((e.code(), e.errcode()), ("SERVER_ERROR", Some(-1)));
    assert!(e.to_string().contains("after 3 attempt(s)"), "{e}");
    assert_eq!((h.logins, h.exchanges), (3, 3));
}

#[test]
fn a_retry_that_succeeds_settles_everyone() {
    let mut h = Harness::new(config());
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    h.give_code("a");
    h.reply(502, "<html>bad gateway</html>");
    let late = h.ensure(false);
    h.advance(h.core.poll_timeout().unwrap() - h.now);
    h.give_code("b");
    h.reply(200, r#"{"token":"ok","expiresIn":60}"#);
    assert_eq!(h.token_of(w), "ok");
    assert_eq!(h.token_of(late), "ok");
}

#[test]
fn server_replies_map_to_typed_errors() {
    for (status, body, code) in [
        (400, r#"{"errcode":40029,"errmsg":"invalid code"}"#, "LOGIN_REJECTED"),
        (400, r#"{"errcode":40163,"errmsg":"code been used"}"#, "LOGIN_REJECTED"),
        (429, r#"{"errcode":45011,"errmsg":"freq limit"}"#, "RATE_LIMITED"),
        (403, r#"{"errcode":40226,"errmsg":"high risk"}"#, "USER_BLOCKED"),
        (200, "OK", "BAD_RESPONSE"),
        (200, r#"{"expiresIn":60}"#, "BAD_RESPONSE"),
    ] {
        let mut h = Harness::new(config());
        let w = h.ensure(false);
        h.read_storage(StorageValue::Missing);
        h.give_code("c");
        h.reply(status, body);
        assert_eq!(h.error_of(w).code(), code, "{status} {body}");
        assert_eq!(h.exchanges, 1, "not retried: {body}");
    }
}

#[test]
fn network_failure_and_exchange_timeout_are_typed() {
    let mut h = Harness::new(config());
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    h.give_code("c");
    let (op, _) = h.take(|e| matches!(e, Effect::PostCode { .. }));
    h.answer(op, Outcome::Reply(Err(PlatformFailure::new("request:fail timeout"))));
    assert_eq!(h.error_of(w).code(), "NETWORK");

    let w = h.ensure(false);
    h.give_code("c2");
    h.advance(10_000);
    assert_eq!(h.error_of(w).code(), "TIMEOUT");
}

#[test]
fn a_failed_storage_write_keeps_the_session_in_memory() {
    let mut h = Harness::new(config());
    let w = h.cold_login("mem", 7200);
    let (op, _) = h.take(|e| matches!(e, Effect::WriteStorage { .. }));
    h.answer(op, Outcome::StorageDone(Err(PlatformFailure::new("setStorage:fail exceed storage max size"))));
    assert_eq!(h.token_of(w), "mem");
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, SessionEvent::StorageFailed { message } if message.contains("exceed"))));
    let again = h.ensure(false);
    assert_eq!(h.token_of(again), "mem");
    assert_eq!(h.logins, 1);
}

#[test]
fn logout_clears_memory_and_storage_and_rejects_waiters() {
    let mut h = Harness::new(config());
    h.cold_login("t", 7200);
    let (write, _) = h.take(|e| matches!(e, Effect::WriteStorage { .. }));
    let forced = h.ensure(true);
    let logout = h.core.logout(h.now);
    h.drain();
    assert_eq!(h.error_of(forced).code(), "LOGGED_OUT");
    assert!(h.events.contains(&SessionEvent::LoggedOut));
    // The removal waits for the write before it, so it cannot be overtaken.
    assert!(!h.has_effect(|e| matches!(e, Effect::RemoveStorage { .. })));
    h.answer(write, Outcome::StorageDone(Ok(())));
    let (remove, _) = h.take(|e| matches!(e, Effect::RemoveStorage { .. }));
    assert!(h.logged_out.is_empty(), "logout finishes only when storage is cleared");
    h.answer(remove, Outcome::StorageDone(Ok(())));
    assert_eq!(h.logged_out, vec![logout]);
    // The cancelled login's code is stale.
    let (code_op, _) = h.take(|e| matches!(e, Effect::RequestCode { .. }));
    h.answer(code_op, Outcome::Code(Ok(LoginCode::new("late".into()))));
    assert!(!h.has_effect(|e| matches!(e, Effect::PostCode { .. })));
    assert!(h.core.session(h.now).is_none());
}

#[test]
fn check_session_vouches_for_a_stored_session_or_sends_it_to_login() {
    for (checked_ok, logins) in [(true, 0), (false, 1)] {
        let mut h = Harness::new(ConfigInput { check_session: Some(true), ..config() });
        let w = h.ensure(false);
        h.read_storage(StorageValue::Text(format!(
            r#"{{"version":1,"token":"stored","expiresAt":{}}}"#,
            T0 + 3_600_000
        )));
        let (op, _) = h.take(|e| matches!(e, Effect::CheckSession));
        h.answer(op, Outcome::SessionChecked(checked_ok));
        if !checked_ok {
            h.give_code("c");
            h.reply(200, r#"{"token":"fresh","expiresIn":7200}"#);
        }
        assert_eq!(h.token_of(w), if checked_ok { "stored" } else { "fresh" });
        assert_eq!(h.logins, logins);
        // checkSession runs once per client, not on every call.
        let again = h.ensure(false);
        assert!(h.settled.contains_key(&again));
        assert!(!h.has_effect(|e| matches!(e, Effect::CheckSession)));
    }
}

#[test]
fn an_older_generation_is_superseded_by_each_login() {
    let mut h = Harness::new(config());
    let a = h.cold_login("a", 7200);
    let first = h.settled[&a].clone().unwrap().generation;
    let b = h.ensure(true);
    h.give_code("c");
    h.reply(200, r#"{"token":"b","expiresIn":7200}"#);
    assert!(h.settled[&b].clone().unwrap().generation > first);
}

#[test]
fn ready_session_answers_only_what_ensure_login_would_settle_at_once() {
    let mut h = Harness::new(config());
    assert!(h.core.ready_session(h.now).is_none(), "storage not read yet");
    h.cold_login("tok-1", 7200);
    let view = h.core.ready_session(h.now).map(|v| (v.token.expose().to_string(), v.generation));
    assert_eq!(view.as_ref().map(|(token, _)| token.as_str()), Some("tok-1"));
    assert_eq!(h.core.ready_until(h.now).map(|(generation, _)| generation), view.map(|(_, generation)| generation));
    h.ensure(true);
    assert!(h.core.ready_session(h.now).is_none(), "a forced login is running");
    h.give_code("code-2");
    h.reply(200, r#"{"token":"tok-2","expiresIn":7200}"#);
    assert!(h.core.ready_session(h.now).is_some());
    h.advance(7_200_000);
    assert!(h.core.ready_session(h.now).is_none(), "past the expiry margin");
    h.ensure(false);
    h.give_code("code-3");
    h.reply(200, r#"{"token":"tok-3","expiresIn":7200}"#);
    assert!(h.core.ready_session(h.now).is_some());
    h.core.logout(h.now);
    assert!(h.core.ready_session(h.now).is_none(), "logged out");
}
