//! Logins with a payload (`ensureLogin({ force: true, payload: { phoneCode } })`) and the kept
//! login reply (`replyFields`), on the pure core with a fake clock: a payload login always makes
//! its own exchange, one at a time, and its payload never reaches storage, events or `Debug`
//! output; the kept reply lives with the session — in memory, in storage, across a relaunch —
//! until the session is replaced or logged out.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use mp_session::core::codec::kept_reply::MAX_KEPT_BYTES;
use mp_session::core::login::pacing::LOGIN_BURST;
use mp_session::core::*;
use support::*;

const PHONE: &str = r#"{"phoneCode":"PHONE-CODE-1"}"#;
const OTHER_PHONE: &str = r#"{"phoneCode":"PHONE-CODE-2"}"#;

fn granted(token: &str) -> String {
    format!(r#"{{"token":"{token}","expiresIn":7200}}"#)
}

/// Nothing the core hands out besides the exchange's body holds a payload value.
fn assert_payload_kept_out(h: &Harness, secret: &str) {
    for value in &h.writes {
        assert!(!value.contains(secret), "storage got the payload: {value}");
    }
    let shown = format!("{:?} {:?} {:?} {:?}", h.effects, h.events, h.settled, h.core);
    assert!(!shown.contains(secret), "{shown}");
}

#[test]
fn a_payload_login_posts_code_and_payload_and_stores_neither() {
    let mut h = Harness::new(config());
    let w = h.ensure_with(PHONE);
    h.read_storage(StorageValue::Missing);
    h.give_code("wx-code");
    assert_eq!(h.bodies, [r#"{"code":"wx-code","phoneCode":"PHONE-CODE-1"}"#]);
    assert_payload_kept_out(&h, "PHONE-CODE-1");
    h.reply(200, &granted("bound"));
    assert_eq!(h.token_of(w), "bound");
    assert_eq!(h.writes, [format!(r#"{{"version":1,"token":"bound","expiresAt":{}}}"#, T0 + 7_200_000)]);
    assert_payload_kept_out(&h, "PHONE-CODE-1");
    // Its result is the session every later caller gets.
    let later = h.ensure(false);
    assert_eq!(h.token_of(later), "bound");
    assert_eq!((h.logins, h.exchanges), (1, 1));
}

#[test]
fn a_payload_login_is_made_even_when_the_session_is_valid_and_plain_callers_join_it() {
    let mut h = Harness::new(config());
    h.cold_login("plain", 7200);
    let phone = h.ensure_with(PHONE);
    assert!(h.core.ready_session(h.now).is_none(), "no warm answer while it runs");
    let plain = h.ensure(false);
    let forced = h.ensure(true);
    let request = h.request("/api/me", "GET");
    assert!(h.sends_in_flight().is_empty(), "the request waits for the payload login");
    h.give_code("c2");
    assert_eq!(h.exchanges_in_flight(), 1);
    h.reply(200, &granted("bound"));
    for w in [phone, plain, forced] {
        assert_eq!(h.token_of(w), "bound");
    }
    assert_eq!(h.sends_in_flight()[0].2.as_deref(), Some("Authorization: Bearer bound"));
    h.respond_status(request, 200);
    assert_eq!((h.logins, h.exchanges), (2, 2));
    assert_eq!(h.bodies[1], r#"{"code":"c2","phoneCode":"PHONE-CODE-1"}"#);
}

#[test]
fn a_payload_call_does_not_join_a_running_plain_login_but_runs_right_after_it() {
    let mut h = Harness::new(config());
    let plain = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    h.give_code("c1");
    assert_eq!(h.exchanges_in_flight(), 1);
    let phone = h.ensure_with(PHONE);
    assert_eq!((h.logins, h.exchanges_in_flight()), (1, 1), "waits: one exchange at a time");
    // A plain caller arriving now joins the running plain login.
    let plain_too = h.ensure(false);
    h.reply(200, &granted("plain"));
    assert_eq!(h.token_of(plain), "plain");
    assert_eq!(h.token_of(plain_too), "plain");
    assert!(!h.settled.contains_key(&phone));
    // Its own login starts at once: forced, never paced.
    assert_eq!(h.logins, 2);
    h.give_code("c2");
    assert_eq!(h.bodies, [r#"{"code":"c1"}"#, r#"{"code":"c2","phoneCode":"PHONE-CODE-1"}"#]);
    h.reply(200, &granted("bound"));
    assert_eq!(h.token_of(phone), "bound");
    assert_eq!(h.core.session(h.now).map(|s| s.token.expose().to_string()).as_deref(), Some("bound"));
}

#[test]
fn different_payloads_make_sequential_exchanges_and_equal_ones_share_one() {
    let mut h = Harness::new(config());
    h.cold_login("plain", 7200);
    let first = h.ensure_with(PHONE);
    let second = h.ensure_with(OTHER_PHONE);
    let first_again = h.ensure_with(PHONE);
    let second_again = h.ensure_with(OTHER_PHONE);
    h.give_code("c2");
    assert_eq!(h.exchanges_in_flight(), 1);
    assert!(!h.has_effect(|e| matches!(e, Effect::RequestCode { .. })), "the second waits");
    h.reply(200, &granted("first"));
    assert_eq!(h.token_of(first), "first");
    assert_eq!(h.token_of(first_again), "first");
    assert!(!h.settled.contains_key(&second));
    h.give_code("c3");
    h.reply(200, &granted("second"));
    assert_eq!(h.token_of(second), "second");
    assert_eq!(h.token_of(second_again), "second");
    assert_eq!(
        h.bodies[1..],
        [r#"{"code":"c2","phoneCode":"PHONE-CODE-1"}"#, r#"{"code":"c3","phoneCode":"PHONE-CODE-2"}"#]
    );
    assert_payload_kept_out(&h, "PHONE-CODE");
}

#[test]
fn a_failed_payload_login_fails_its_callers_only_plain_callers_go_on() {
    // With a valid session, the plain caller that joined gets it once the payload login fails.
    let mut h = Harness::new(config());
    h.cold_login("plain", 7200);
    let phone = h.ensure_with(PHONE);
    let plain = h.ensure(false);
    h.give_code("c2");
    h.reply(400, r#"{"errcode":40029,"errmsg":"invalid phone code"}"#);
    assert_eq!(h.error_of(phone).code(), "LOGIN_REJECTED");
    assert_eq!(h.token_of(plain), "plain");
    assert_eq!(h.logins, 2);

    // Without one, it goes on to a plain login of its own (and a request waiting with it too).
    let mut h = Harness::new(config());
    let phone = h.ensure_with(PHONE);
    h.read_storage(StorageValue::Missing);
    let plain = h.ensure(false);
    let request = h.request("/api/me", "GET");
    h.give_code("c1");
    h.reply(400, r#"{"errcode":40029,"errmsg":"invalid phone code"}"#);
    assert_eq!(h.error_of(phone).code(), "LOGIN_REJECTED");
    assert!(!h.settled.contains_key(&plain) && !h.responded.contains_key(&request));
    h.give_code("c2");
    assert_eq!(h.bodies[1], r#"{"code":"c2"}"#);
    h.reply(200, &granted("plain"));
    assert_eq!(h.token_of(plain), "plain");
    h.respond_status(request, 200);
    assert!(h.responded[&request].is_ok());
}

#[test]
fn a_payload_login_retries_a_busy_server_with_a_fresh_code_and_the_same_payload() {
    let mut h = Harness::new(config());
    let w = h.ensure_with(PHONE);
    h.read_storage(StorageValue::Missing);
    h.give_code("c1");
    h.reply(503, r#"{"errcode":-1}"#);
    h.advance(h.core.poll_timeout().expect("backoff") - h.now);
    h.give_code("c2");
    h.reply(200, &granted("bound"));
    assert_eq!(h.token_of(w), "bound");
    assert_eq!(h.bodies[1], r#"{"code":"c2","phoneCode":"PHONE-CODE-1"}"#);
}

#[test]
fn a_payload_takes_over_a_login_that_has_not_begun() {
    // Storage still being read: the stored session is not served; the payload login runs for all.
    let mut h = Harness::new(config());
    let plain = h.ensure(false);
    let phone = h.ensure_with(PHONE);
    h.read_storage(StorageValue::Text(format!(r#"{{"version":1,"token":"stored","expiresAt":{}}}"#, T0 + 3_600_000)));
    h.give_code("c1");
    assert_eq!(h.bodies, [r#"{"code":"c1","phoneCode":"PHONE-CODE-1"}"#]);
    h.reply(200, &granted("bound"));
    assert_eq!((h.token_of(plain), h.token_of(phone)), ("bound".into(), "bound".into()));

    // A login waiting for its turn (the pace of automatic logins is spent) starts now, as this one.
    let mut h = Harness::new(ConfigInput { timeout_ms: Some(30_000.0), ..config() });
    h.cold_login("tok-1", 7200);
    for n in 2..=LOGIN_BURST {
        let r = h.request("/api/me", "GET");
        h.respond_status(r, 401);
        h.login_now(&format!("tok-{n}"));
        h.respond_status(r, 200);
    }
    let r = h.request("/api/me", "GET");
    h.respond_status(r, 401);
    assert!(!h.has_effect(|e| matches!(e, Effect::RequestCode { .. })), "paced");
    let phone = h.ensure_with(PHONE);
    assert!(h.has_effect(|e| matches!(e, Effect::RequestCode { .. })), "not paced: the page asked");
    h.login_now("bound");
    assert_eq!(h.token_of(phone), "bound");
    assert_eq!(h.bodies.last().map(String::as_str), Some(r#"{"code":"c","phoneCode":"PHONE-CODE-1"}"#));
    h.respond_status(r, 200);
    assert!(h.responded[&r].is_ok());
}

#[test]
fn logout_ends_running_and_waiting_payload_logins() {
    let mut h = Harness::new(config());
    let plain = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    h.give_code("c1");
    let first = h.ensure_with(PHONE);
    let second = h.ensure_with(OTHER_PHONE);
    h.core.logout(h.now);
    h.drain();
    for w in [plain, first, second] {
        assert_eq!(h.error_of(w).code(), "LOGGED_OUT");
    }
    h.reply(200, &granted("late"));
    assert!(h.core.session(h.now).is_none(), "the cancelled exchange's answer is stale");
    assert_eq!(h.logins, 1, "no waiting payload login starts after a logout");
}

#[test]
fn a_payload_naming_code_or_not_an_object_is_config_invalid() {
    for (payload, option) in
        [(r#"{"code":"mine"}"#, "payload.code"), ("[1]", "payload"), ("\"x\"", "payload"), ("{", "payload")]
    {
        match Payload::parse(payload) {
            Err(SessionError::ConfigInvalid { option: o, reason }) => {
                assert_eq!(o, option, "{payload}");
                assert!(!reason.contains("mine"), "no value in the message: {reason}");
            }
            other => panic!("{payload}: {other:?}"),
        }
    }
}

// --- the kept reply ------------------------------------------------------------------------------

fn keeping(fields: &[&str]) -> ConfigInput {
    ConfigInput { reply_fields: Some(fields.iter().map(|f| f.to_string()).collect()), ..config() }
}

const USER_REPLY: &str = r#"{"token":"tok-1","expiresIn":7200,"session_key":"SK","openid":"o1","user":{"id":7,"nickname":"小明","session_key":"SK"},"isNewUser":true}"#;

#[test]
fn listed_fields_are_kept_nested_in_memory_in_storage_and_in_the_login_event() {
    let mut h = Harness::new(keeping(&["user", "isNewUser", "missing"]));
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    h.give_code("c");
    h.reply(200, USER_REPLY);
    let kept = r#"{"user":{"id":7,"nickname":"小明"},"isNewUser":true}"#;
    assert_eq!(h.reply_of(w).as_deref(), Some(kept));
    assert_eq!(h.writes, [format!(r#"{{"version":1,"token":"tok-1","expiresAt":{},"reply":{kept}}}"#, T0 + 7_200_000)]);
    assert!(matches!(&h.events[..], [SessionEvent::LoggedIn { reply: Some(r), .. }] if r.as_str() == kept));
    // Every later call, warm ones included, gets it.
    let warm = h.ensure(false);
    assert_eq!(h.reply_of(warm).as_deref(), Some(kept));
    assert_eq!(h.core.ready_session(h.now).and_then(|v| v.reply).as_deref().map(String::as_str), Some(kept));
    assert!(h.writes.iter().all(|v| !v.contains("SK") && !v.contains("o1")));
}

#[test]
fn dotted_paths_keep_only_what_they_name() {
    let mut h = Harness::new(keeping(&["user.id", "user.missing"]));
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    h.give_code("c");
    h.reply(200, USER_REPLY);
    assert_eq!(h.reply_of(w).as_deref(), Some(r#"{"user":{"id":7}}"#));
}

#[test]
fn the_kept_reply_survives_a_relaunch_and_is_dropped_by_logout() {
    let mut first = Harness::new(keeping(&["user"]));
    let w = first.ensure(false);
    first.read_storage(StorageValue::Missing);
    first.give_code("c");
    first.reply(200, USER_REPLY);
    let stored = first.writes.last().cloned().expect("stored");
    let kept = first.reply_of(w);

    let mut relaunched = Harness::new(keeping(&["user"]));
    let w = relaunched.ensure(false);
    relaunched.read_storage(StorageValue::Text(stored.clone()));
    assert_eq!((relaunched.token_of(w), relaunched.reply_of(w)), ("tok-1".to_string(), kept));
    assert_eq!(relaunched.logins, 0);

    relaunched.core.logout(relaunched.now);
    relaunched.drain();
    assert!(relaunched.core.session(relaunched.now).is_none());
    assert!(relaunched.has_effect(|e| matches!(e, Effect::RemoveStorage { .. })));
    let next = relaunched.ensure(false);
    relaunched.give_code("c2");
    relaunched.reply(200, r#"{"token":"tok-2","expiresIn":7200,"user":{"id":8}}"#);
    assert_eq!(relaunched.reply_of(next).as_deref(), Some(r#"{"user":{"id":8}}"#));

    // A client that keeps no reply uses the same stored session, without one.
    let mut plain = Harness::new(config());
    let w = plain.ensure(false);
    plain.read_storage(StorageValue::Text(stored));
    assert_eq!((plain.token_of(w), plain.reply_of(w)), ("tok-1".to_string(), None));
}

#[test]
fn a_new_login_replaces_the_kept_reply() {
    let mut h = Harness::new(keeping(&["user"]));
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    h.give_code("c");
    h.reply(200, USER_REPLY);
    assert!(h.reply_of(w).is_some());
    let phone = h.ensure_with(PHONE);
    h.give_code("c2");
    h.reply(200, r#"{"token":"tok-2","expiresIn":7200}"#);
    assert_eq!(h.reply_of(phone).as_deref(), Some("{}"), "its fields are not in this reply: absent");
    let later = h.ensure(false);
    assert_eq!(h.reply_of(later).as_deref(), Some("{}"));
    // Storage writes run one at a time: the second follows the first.
    let (write, _) = h.take(|e| matches!(e, Effect::WriteStorage { .. }));
    h.answer(write, Outcome::StorageDone(Ok(())));
    assert_eq!(h.writes.len(), 2);
    assert_eq!(
        h.writes.last().map(|v| v.ends_with(r#""token":"tok-2","expiresAt":1800007200000,"reply":{}}"#)),
        Some(true)
    );
}

#[test]
fn a_stored_session_without_or_with_an_unreadable_reply_is_not_used() {
    let at = T0 + 3_600_000;
    for (value, removed) in [
        (format!(r#"{{"version":1,"token":"stored","expiresAt":{at}}}"#), false),
        (format!(r#"{{"version":1,"token":"stored","expiresAt":{at},"reply":"{{}}"}}"#), true),
        (format!(r#"{{"version":1,"token":"stored","expiresAt":{at},"reply":[1]}}"#), true),
        (
            format!(
                r#"{{"version":1,"token":"stored","expiresAt":{at},"reply":{{"bio":"{}"}}}}"#,
                "x".repeat(MAX_KEPT_BYTES)
            ),
            true,
        ),
    ] {
        let mut h = Harness::new(keeping(&["user"]));
        let w = h.ensure(false);
        h.read_storage(StorageValue::Text(value.clone()));
        assert!(!h.settled.contains_key(&w), "{value}");
        assert_eq!(h.has_effect(|e| matches!(e, Effect::RemoveStorage { .. })), removed, "{value}");
        h.give_code("c");
        h.reply(200, USER_REPLY);
        assert_eq!(h.token_of(w), "tok-1");
    }
}

#[test]
fn a_kept_reply_over_16_kb_is_a_bad_response_not_a_cut_one() {
    let mut h = Harness::new(keeping(&["user"]));
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    h.give_code("c");
    let bio = "x".repeat(MAX_KEPT_BYTES);
    h.reply(200, &format!(r#"{{"token":"t","expiresIn":7200,"user":{{"bio":"{bio}"}}}}"#));
    let e = h.error_of(w);
    assert_eq!(e.code(), "BAD_RESPONSE");
    assert!(e.to_string().contains("replyFields) are over 16384 bytes as JSON"), "{e}");
    assert!(h.core.session(h.now).is_none() && h.writes.is_empty());
    assert_eq!(h.exchanges, 1, "not retried");
}

#[test]
fn session_key_can_never_be_listed() {
    for fields in [&["session_key"][..], &["user", "user.session_key"], &["data.SESSION_KEY"], &["sessionKey"]] {
        match keeping(fields).validate() {
            Err(SessionError::ConfigInvalid { option, .. }) => assert_eq!(option, "replyFields"),
            other => panic!("{fields:?}: {other:?}"),
        }
    }
}

#[test]
fn without_reply_fields_nothing_changes() {
    let mut h = Harness::new(config());
    let w = h.ensure(false);
    h.read_storage(StorageValue::Missing);
    h.give_code("c");
    h.reply(200, USER_REPLY);
    assert_eq!(h.reply_of(w), None);
    assert_eq!(h.writes, [format!(r#"{{"version":1,"token":"tok-1","expiresAt":{}}}"#, T0 + 7_200_000)]);
    assert!(matches!(&h.events[..], [SessionEvent::LoggedIn { reply: None, .. }]));
}
