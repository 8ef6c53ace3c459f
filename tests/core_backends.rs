//! The backends teams already have, on the pure core: refresh tokens, account login,
//! `silentLogin: false`, cookie sessions, abort and a fresh `session_key`.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use mp_session::core::*;
use support::*;

fn with_refresh() -> ConfigInput {
    ConfigInput { refresh_path: Some("/auth/refresh".into()), ..config() }
}

fn grant(token: &str, expires_in: u64, refresh: Option<&str>) -> String {
    match refresh {
        Some(r) => {
            format!(r#"{{"token":"{token}","expiresIn":{expires_in},"refreshToken":"{r}","refreshExpiresIn":86400}}"#)
        }
        None => format!(r#"{{"token":"{token}","expiresIn":{expires_in}}}"#),
    }
}

/// Logged in by wx.login with access token `tok-1` (60 s) and refresh token `r1`.
fn refreshable(input: ConfigInput) -> Harness {
    let mut h = Harness::new(input);
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    h.give_code("c1");
    h.reply(200, &grant("tok-1", 60, Some("r1")));
    assert_eq!(h.token_of(w), "tok-1");
    h
}

fn sent_header(h: &Harness, waiter: WaiterId) -> Option<String> {
    h.sends_in_flight().into_iter().find(|s| s.1 == waiter).and_then(|s| s.2)
}

// --- refresh tokens ----------------------------------------------------------------------------

#[test]
fn the_refresh_token_is_stored_but_never_handed_out() {
    let h = refreshable(with_refresh());
    assert!(h.writes.last().unwrap().contains(r#""refreshToken":"r1""#), "{:?}", h.writes);
    for event in &h.events {
        assert!(!format!("{event:?}").contains("r1"), "{event:?}");
    }
    for view in h.settled.values().flatten() {
        assert!(!format!("{view:?}").contains("r1"));
    }
}

#[test]
fn a_stale_access_token_is_refreshed_once_for_every_caller_without_wx_login_and_rotated() {
    let mut h = refreshable(with_refresh());
    h.advance(50_000); // past the stale point (a quarter of 60 s margin: 45 s)
    let callers: Vec<_> = (0..5).map(|_| h.ensure(false)).collect();
    let request = h.request("/api/me", "GET");
    assert_eq!(h.exchanges_in_flight(), 1, "one refresh for every caller");
    let (url, body) = h.reply_credentials(200, &grant("tok-2", 60, Some("r2")));
    assert_eq!((url.as_str(), body.as_str()), ("https://api.example.com/auth/refresh", r#"{"refreshToken":"r1"}"#));
    assert_eq!(h.logins, 1, "no wx.login for a refresh");
    for w in callers {
        assert_eq!(h.token_of(w), "tok-2");
    }
    assert_eq!(sent_header(&h, request).as_deref(), Some("Authorization: Bearer tok-2"));
    assert!(h.writes.last().unwrap().contains(r#""refreshToken":"r2""#));
    // The next refresh sends the rotated token, never the replaced one.
    h.advance(50_000);
    h.ensure(false);
    let (_, body) = h.reply_credentials(200, &grant("tok-3", 60, None));
    assert_eq!(body, r#"{"refreshToken":"r2"}"#);
    // A refresh reply without a new refresh token keeps the current one.
    h.advance(50_000);
    h.ensure(false);
    assert_eq!(h.reply_credentials(200, &grant("tok-4", 60, None)).1, r#"{"refreshToken":"r2"}"#);
    assert!(h.bodies.iter().filter(|b| b.contains("r1")).count() == 1);
}

#[test]
fn a_request_that_saw_expired_is_replayed_once_after_the_refresh() {
    let mut h = refreshable(with_refresh());
    let r = h.request("/api/me", "GET");
    h.respond_status(r, 401);
    assert_eq!(h.exchanges_in_flight(), 1);
    h.reply_credentials(200, &grant("tok-2", 60, Some("r2")));
    assert_eq!(sent_header(&h, r).as_deref(), Some("Authorization: Bearer tok-2"));
    h.respond_status(r, 200);
    assert!(h.responded[&r].is_ok());
    assert_eq!(h.logins, 1);
    // After the 401 storage kept the refresh token (no removal before the refresh answered).
    assert!(!h.effects.iter().any(|(_, e)| matches!(e, Effect::RemoveStorage { .. })));
}

#[test]
fn a_refused_refresh_drops_the_token_and_falls_back_to_wx_login() {
    for refusal in [(401, "{}"), (400, r#"{"errmsg":"reused"}"#), (200, r#"{"code":40101}"#)] {
        let mut h = refreshable(ConfigInput {
            expired_body_field: Some("code".into()),
            expired_body_values: Some(vec![BodyValue::Number(40101.0)]),
            ..with_refresh()
        });
        h.advance(50_000);
        let w = h.ensure(false);
        h.reply_credentials(refusal.0, refusal.1);
        assert!(h.has_effect(|e| matches!(e, Effect::RemoveStorage { .. })), "{refusal:?}");
        h.give_code("c2");
        h.reply(200, &grant("tok-2", 60, None));
        assert_eq!(h.token_of(w), "tok-2", "{refusal:?}");
        assert_eq!(h.logins, 2);
        // The dropped token is never sent again: the next stale session logs in with wx.login.
        h.advance(50_000);
        h.ensure(false);
        assert!(h.has_effect(|e| matches!(e, Effect::RequestCode { .. })), "{refusal:?}");
    }
}

#[test]
fn a_transient_refresh_failure_is_retried_with_backoff_and_keeps_the_token() {
    let mut h = refreshable(ConfigInput { max_login_attempts: Some(2.0), ..with_refresh() });
    h.advance(50_000);
    let w = h.ensure(false);
    let (op, _) = h.take(|e| matches!(e, Effect::PostCredentials { .. }));
    h.answer(op, Outcome::Reply(Err(PlatformFailure::new("request:fail"))));
    assert_eq!(h.exchanges_in_flight(), 0, "a pause before the next attempt");
    h.advance(h.core.poll_timeout().unwrap() - h.now);
    h.reply_credentials(503, r#"{"errcode":-1,"errmsg":"busy"}"#);
    assert_eq!(h.error_of(w).code(), "SERVER_ERROR");
    assert_eq!(h.logins, 1);
    // Kept: the next call refreshes with the same token.
    h.ensure(false);
    assert_eq!(h.reply_credentials(200, &grant("tok-2", 60, None)).1, r#"{"refreshToken":"r1"}"#);
}

#[test]
fn a_refresh_token_past_its_own_lifetime_is_not_sent() {
    let mut h = Harness::new(with_refresh());
    h.ensure(false);
    h.read_storage(StorageValue::Missing);
    h.give_code("c1");
    h.reply(200, r#"{"token":"tok-1","expiresIn":60,"refreshToken":"r1","refreshExpiresIn":100}"#);
    h.advance(100_000);
    h.ensure(false);
    assert!(h.has_effect(|e| matches!(e, Effect::RequestCode { .. })));
    assert!(!h.has_effect(|e| matches!(e, Effect::PostCredentials { .. })));
}

#[test]
fn a_stored_refresh_token_renews_an_expired_stored_session_after_a_restart() {
    let mut h = Harness::new(with_refresh());
    let w = h.ensure(false);
    let stored = r#"{"version":1,"token":"old","expiresAt":1000,"refreshToken":"r9"}"#;
    h.read_storage(StorageValue::Text(stored.into()));
    assert_eq!(h.reply_credentials(200, &grant("tok-2", 60, None)).1, r#"{"refreshToken":"r9"}"#);
    assert_eq!(h.token_of(w), "tok-2");
    assert_eq!(h.logins, 0);
}

#[test]
fn forced_logins_use_wx_login_not_the_refresh_token() {
    let mut h = refreshable(with_refresh());
    h.ensure(true);
    assert!(h.has_effect(|e| matches!(e, Effect::RequestCode { .. })));
}

#[test]
fn replies_cannot_keep_the_refresh_token() {
    let input = ConfigInput { reply_fields: Some(vec!["refreshToken".into()]), ..with_refresh() };
    assert!(matches!(input.validate(), Err(SessionError::ConfigInvalid { option, .. }) if option == "replyFields"));
    let input = ConfigInput { refresh_token_field: Some("rt".into()), ..config() };
    assert!(matches!(input.validate(), Err(SessionError::ConfigInvalid { option, .. }) if option == "refresh.path"));
}

// --- account login and silentLogin: false -----------------------------------------------------

#[test]
fn an_account_login_posts_its_data_without_wx_login_and_equal_ones_share_it() {
    let mut h = Harness::new(ConfigInput { reply_fields: Some(vec!["user".into()]), ..with_refresh() });
    let data = r#"{"username":"demo","password":"hunter2"}"#;
    let a = h.login_account("/auth/password", data);
    h.read_storage(StorageValue::Missing);
    let b = h.login_account("/auth/password", data);
    let c = h.login_account("/auth/password", r#"{"username":"other","password":"x"}"#);
    assert_eq!(h.exchanges_in_flight(), 1);
    let body = r#"{"token":"acc-1","expiresIn":600,"refreshToken":"ra","user":{"name":"demo"}}"#;
    let (url, sent) = h.reply_credentials(200, body);
    assert_eq!((url.as_str(), sent.as_str()), ("https://api.example.com/auth/password", data));
    assert_eq!((h.token_of(a), h.token_of(b)), ("acc-1".into(), "acc-1".into()));
    assert_eq!(h.reply_of(a).as_deref(), Some(r#"{"user":{"name":"demo"}}"#));
    assert!(!h.settled.contains_key(&c), "other data makes its own exchange, after");
    let (_, sent) = h.reply_credentials(401, r#"{"errmsg":"wrong password"}"#);
    assert!(sent.contains("other"));
    let e = h.error_of(c);
    assert_eq!((e.code(), e.status(), e.errmsg()), ("LOGIN_REJECTED", Some(401), Some("wrong password")));
    assert_eq!(h.logins, 0);
    assert!(h.writes.iter().all(|w| !w.contains("hunter2") && !w.contains("password")), "{:?}", h.writes);
    let bad = Payload::account_data("{}").unwrap();
    assert!(
        matches!(h.core.login_account(h.now, "auth", bad), Err(SessionError::ConfigInvalid { option, .. }) if option == "path")
    );
}

#[test]
fn without_silent_login_calls_reject_login_required_once_per_episode_and_never_call_wx_login() {
    let mut h = Harness::new(ConfigInput { silent_login: Some(false), ..config() });
    let w = h.ensure(false);
    let r = h.request("/api/me", "GET");
    h.read_storage(StorageValue::Missing);
    assert_eq!(h.error_of(w).code(), "LOGIN_REQUIRED");
    assert!(!h.error_of(w).is_retryable());
    assert_eq!(h.responded[&r].as_ref().unwrap_err().code(), "LOGIN_REQUIRED");
    let again = h.ensure(false);
    assert_eq!(h.error_of(again).code(), "LOGIN_REQUIRED");
    let told = |h: &Harness| h.events.iter().filter(|e| matches!(e, SessionEvent::LoginRequired)).count();
    assert_eq!(told(&h), 1, "one loginRequired per episode");
    let login = h.login_account("/auth/password", r#"{"username":"demo","password":"p"}"#);
    h.reply_credentials(200, &grant("acc-1", 600, None));
    assert_eq!(h.token_of(login), "acc-1");
    let r = h.request("/api/me", "GET");
    h.respond_status(r, 401);
    assert_eq!(h.responded[&r].as_ref().unwrap_err().code(), "LOGIN_REQUIRED");
    assert_eq!(told(&h), 2, "a new episode after a session");
    assert_eq!(h.logins, 0);
}

#[test]
fn without_silent_login_a_refused_refresh_is_login_required() {
    let mut h = Harness::new(ConfigInput { silent_login: Some(false), ..with_refresh() });
    h.login_account("/auth/password", r#"{"u":1}"#);
    h.read_storage(StorageValue::Missing);
    h.reply_credentials(200, &grant("acc-1", 60, Some("r1")));
    h.advance(50_000);
    let w = h.ensure(false);
    assert_eq!(h.reply_credentials(401, "{}").1, r#"{"refreshToken":"r1"}"#);
    assert_eq!(h.error_of(w).code(), "LOGIN_REQUIRED");
    assert_eq!(h.logins, 0);
}

// --- cookie sessions ---------------------------------------------------------------------------

fn with_cookie() -> ConfigInput {
    ConfigInput { cookie: Some("sid".into()), ..config() }
}

#[test]
fn the_session_is_the_cookie_the_login_reply_sets_and_requests_send_it() {
    let mut h = Harness::new(with_cookie());
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    h.give_code("c1");
    h.reply_with_cookies(200, r#"{"ok":true}"#, "lang=zh; Path=/, sid=abc; Max-Age=3600; HttpOnly");
    assert_eq!(h.token_of(w), "abc");
    assert_eq!(h.settled[&w].as_ref().unwrap().expires_at_ms, T0 + 3_600_000);
    let r = h.request("/api/me", "GET");
    assert_eq!(sent_header(&h, r).as_deref(), Some("Cookie: sid=abc"));
    // The server rotates it: later sends carry the new one, and storage holds it.
    h.respond_with_cookies(r, 200, "sid=def; Max-Age=1800");
    let (op, _) = h.take(|e| matches!(e, Effect::WriteStorage { .. }));
    h.answer(op, Outcome::StorageDone(Ok(()))); // the login's write; the rotation's follows
    assert!(h.writes.last().unwrap().contains(r#""token":"def""#));
    let next = h.request("/api/me", "GET");
    assert_eq!(sent_header(&h, next).as_deref(), Some("Cookie: sid=def"));
    // And clears it: the session is over, the next request logs in again.
    h.respond_with_cookies(next, 200, "sid=; Max-Age=0");
    assert!(h.events.iter().any(|e| matches!(e, SessionEvent::Expired)));
    h.request("/api/me", "GET");
    assert!(h.has_effect(|e| matches!(e, Effect::RequestCode { .. })));
}

#[test]
fn a_cookie_reply_takes_its_lifetime_from_the_body_or_is_a_bad_response() {
    let mut h = Harness::new(with_cookie());
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    h.give_code("c1");
    h.reply_with_cookies(200, r#"{"expiresIn":120}"#, "sid=abc; Path=/");
    assert_eq!(h.settled[&w].as_ref().unwrap().expires_at_ms, T0 + 120_000);
    for (body, cookies) in [(r#"{"ok":1}"#, "sid=abc"), (r#"{"expiresIn":120}"#, "other=1")] {
        let w = h.ensure(true);
        h.give_code("c");
        h.reply_with_cookies(200, body, cookies);
        assert_eq!(h.error_of(w).code(), "BAD_RESPONSE", "{body} {cookies}");
    }
}

// --- abort -------------------------------------------------------------------------------------

#[test]
fn an_aborted_request_rejects_aborted_and_frees_its_slot_at_once() {
    let mut h = Harness::new(config());
    h.cold_login("tok-1", 7200);
    let requests: Vec<_> = (0..11).map(|_| h.request("/api/me", "POST")).collect();
    assert_eq!(h.sends_in_flight().len(), 10);
    let (on_wire, queued) = (requests[0], requests[10]);
    h.abort(on_wire);
    assert_eq!(h.responded[&on_wire].as_ref().unwrap_err().code(), "ABORTED");
    assert!(h.has_effect(|e| matches!(e, Effect::Abort)), "the platform task is aborted");
    assert!(h.sends_in_flight().iter().any(|s| s.1 == queued), "its slot went to the next request");
    h.abort(on_wire); // settled: nothing happens
    assert_eq!(h.responded.len(), 1);
    // Queued: leaves the queue, never sent.
    let last = h.request("/api/me", "GET");
    h.abort(last);
    assert_eq!(h.responded[&last].as_ref().unwrap_err().code(), "ABORTED");
    assert_eq!(h.sends.get(&last), None);
}

#[test]
fn aborting_a_request_that_waits_for_a_login_leaves_the_login_to_the_others() {
    let mut h = Harness::new(config());
    let page = h.ensure(false);
    let r = h.request("/api/me", "GET");
    h.read_storage(StorageValue::Missing);
    h.abort(r);
    assert_eq!(h.responded[&r].as_ref().unwrap_err().code(), "ABORTED");
    h.login_now("tok-1");
    assert_eq!(h.token_of(page), "tok-1");
    assert_eq!(h.sends.get(&r), None, "never sent, never replayed");
}

// --- a fresh session_key -----------------------------------------------------------------------

#[test]
fn a_fresh_key_check_that_passes_keeps_the_session_and_holds_wx_login_until_the_payload_login() {
    let mut h = refreshable(with_refresh());
    let w = h.ensure_fresh_key();
    let (op, _) = h.take(|e| matches!(e, Effect::CheckSession));
    h.answer(op, Outcome::SessionChecked(true));
    assert_eq!(h.token_of(w), "tok-1");
    assert_eq!(h.logins, 1);
    // The session then dies and no refresh can help: the core waits instead of calling wx.login.
    let r = h.request("/api/me", "GET");
    h.respond_status(r, 401);
    h.reply_credentials(401, "{}");
    assert!(!h.has_effect(|e| matches!(e, Effect::RequestCode { .. })), "no wx.login during the hold");
    // The page's payload login goes first, with its own wx.login.
    let with = h.ensure_with(r#"{"encryptedData":"E","iv":"I"}"#);
    h.give_code("c2");
    assert!(h.bodies.last().unwrap().contains("encryptedData"));
    h.reply(200, &grant("tok-2", 600, None));
    assert_eq!(h.token_of(with), "tok-2");
    assert_eq!(sent_header(&h, r).as_deref(), Some("Authorization: Bearer tok-2"));
}

#[test]
fn a_fresh_key_check_that_fails_makes_a_forced_wx_login() {
    let mut h = refreshable(with_refresh());
    let w = h.ensure_fresh_key();
    let (op, _) = h.take(|e| matches!(e, Effect::CheckSession));
    h.answer(op, Outcome::SessionChecked(false));
    h.give_code("c2");
    h.reply(200, &grant("tok-2", 60, Some("r2")));
    assert_eq!(h.token_of(w), "tok-2");
}

#[test]
fn a_fresh_key_without_a_valid_session_comes_from_wx_login_not_a_refresh() {
    let mut h = refreshable(with_refresh());
    h.advance(50_000);
    let w = h.ensure_fresh_key();
    assert!(h.has_effect(|e| matches!(e, Effect::RequestCode { .. })));
    h.give_code("c2");
    h.reply(200, &grant("tok-2", 60, Some("r2")));
    assert_eq!(h.token_of(w), "tok-2");
    // A fresh-key caller that joins a refresh is served only after its own check.
    h.advance(50_000);
    let plain = h.ensure(false);
    let fresh = h.ensure_fresh_key();
    h.reply_credentials(200, &grant("tok-3", 60, None));
    assert_eq!(h.token_of(plain), "tok-3");
    assert!(!h.settled.contains_key(&fresh));
    let (op, _) = h.take(|e| matches!(e, Effect::CheckSession));
    h.answer(op, Outcome::SessionChecked(true));
    assert_eq!(h.token_of(fresh), "tok-3");
}
