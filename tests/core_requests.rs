//! Authenticated requests on the pure core: token attachment, the concurrency cap, expiry with
//! one shared re-login and one replay, generations, deadlines and retries.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use mp_session::core::*;
use support::*;

fn logged_in(input: ConfigInput) -> Harness {
    let mut h = Harness::new(input);
    h.cold_login("tok-1", 7200);
    h
}

#[test]
fn a_request_made_before_login_waits_for_it_and_carries_the_token() {
    let mut h = Harness::new(config());
    let r = h.request("/api/me", "GET");
    assert!(h.sends_in_flight().is_empty(), "no request goes out without a token");
    h.read_storage(StorageValue::Missing);
    h.login_now("tok-1");
    let sends = h.sends_in_flight();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].2.as_deref(), Some("Authorization: Bearer tok-1"));
    let Effect::Send { url, .. } = &h.effects.iter().find(|(_, e)| matches!(e, Effect::Send { .. })).unwrap().1 else {
        unreachable!()
    };
    assert_eq!(url, "https://api.example.com/api/me");
    h.respond_status(r, 200);
    assert!(h.responded[&r].is_ok());
    assert_eq!(h.logins, 1);
}

#[test]
fn untrusted_origins_get_no_token_and_need_no_login() {
    let mut h = Harness::new(ConfigInput {
        token_header: Some("X-Token".into()),
        token_scheme: Some(String::new()),
        ..config()
    });
    let r = h.request("https://cdn.other.net/a.json", "GET");
    assert_eq!(h.sends_in_flight(), vec![(h.sends_in_flight()[0].0, r, None)]);
    assert_eq!(h.logins, 0);
    let mine = h.request("/x", "GET");
    h.read_storage(StorageValue::Missing);
    h.login_now("raw");
    let header = h.sends_in_flight().into_iter().find(|s| s.1 == mine).unwrap().2;
    assert_eq!(header.as_deref(), Some("X-Token: raw"), "tokenScheme '' sends the raw token");
}

#[test]
fn an_expiry_storm_causes_exactly_one_relogin_and_one_replay_each() {
    let mut h = logged_in(config());
    let requests: Vec<_> = (0..50).map(|_| h.request("/api/me", "GET")).collect();
    // The cap lets 10 out at a time; every one of them comes back 401.
    while h.responded.len() < requests.len() {
        let sends = h.sends_in_flight();
        if sends.is_empty() {
            h.login_now("tok-2");
            continue;
        }
        for (_, waiter, header) in sends {
            let status = if header.as_deref() == Some("Authorization: Bearer tok-1") { 401 } else { 200 };
            h.respond_status(waiter, status);
        }
    }
    assert_eq!(h.logins, 2, "one cold login, one re-login");
    for r in &requests {
        assert!(h.responded[r].is_ok(), "{r:?}: {:?}", h.responded[r]);
        assert!(h.sends[r] <= 2);
    }
    assert_eq!(h.events.iter().filter(|e| **e == SessionEvent::Expired).count(), 1);
}

#[test]
fn a_replay_that_is_expired_again_rejects_session_expired_without_looping() {
    let mut h = logged_in(config());
    let r = h.request("/api/me", "GET");
    h.respond_status(r, 401);
    h.login_now("tok-2");
    h.respond_status(r, 401);
    assert_eq!(h.responded[&r].as_ref().unwrap_err().code(), "SESSION_EXPIRED");
    assert_eq!((h.logins, h.sends[&r]), (2, 2));
}

#[test]
fn a_late_401_for_an_older_token_does_not_wipe_the_newer_one() {
    let mut h = logged_in(config());
    let slow = h.request("/api/slow", "GET");
    let fast = h.request("/api/fast", "GET");
    h.respond_status(fast, 401); // token 1 expired: re-login
    h.login_now("tok-2");
    h.respond_status(fast, 200);
    // Now the slow request, sent with token 1, comes back 401: token 2 must survive.
    h.respond_status(slow, 401);
    assert_eq!(h.logins, 2, "no third login");
    assert!(h.core.session(h.now).is_some_and(|s| s.token.expose() == "tok-2"));
    let header = h.sends_in_flight().into_iter().find(|s| s.1 == slow).unwrap().2;
    assert_eq!(header.as_deref(), Some("Authorization: Bearer tok-2"), "replayed with the newer token");
}

#[test]
fn the_concurrency_cap_queues_requests_in_fifo_order() {
    let mut h = logged_in(ConfigInput { max_concurrent_requests: Some(3.0), ..config() });
    let requests: Vec<_> = (0..7).map(|_| h.request("/api/me", "GET")).collect();
    let in_flight: Vec<_> = h.sends_in_flight().into_iter().map(|s| s.1).collect();
    assert_eq!(in_flight, requests[..3]);
    h.respond_status(requests[1], 200);
    let in_flight: Vec<_> = h.sends_in_flight().into_iter().map(|s| s.1).collect();
    assert_eq!(in_flight, vec![requests[0], requests[2], requests[3]]);
}

#[test]
fn a_request_timeout_bounds_waiting_for_login_and_aborts_a_send() {
    let mut h = Harness::new(config());
    let spec = RequestSpec { url: "/api/me".into(), method: "GET".into(), timeout_ms: Some(3000.0) };
    let waiting = h.core.request(h.now, spec.clone()).unwrap();
    h.drain();
    h.read_storage(StorageValue::Missing);
    h.advance(3000);
    assert_eq!(h.responded[&waiting].as_ref().unwrap_err().code(), "TIMEOUT");
    h.login_now("tok");
    let sent = h.core.request(h.now, spec).unwrap();
    h.drain();
    h.advance(3000);
    assert_eq!(h.responded[&sent].as_ref().unwrap_err().code(), "TIMEOUT");
    assert!(h.has_effect(|e| matches!(e, Effect::Abort)));
}

#[test]
fn transport_failures_retry_get_but_never_post() {
    let mut h = logged_in(config());
    let get = h.request("/api/me", "GET");
    let post = h.request("/api/echo", "POST");
    for w in [get, post] {
        let (op, _) = h.take(|e| matches!(e, Effect::Send { waiter, .. } if *waiter == w));
        h.answer(op, Outcome::Sent(Err(PlatformFailure::new("request:fail"))));
    }
    assert_eq!(h.responded[&post].as_ref().unwrap_err().code(), "NETWORK");
    assert!(!h.responded.contains_key(&get));
    h.advance(h.core.poll_timeout().unwrap() - h.now);
    h.respond_status(get, 200);
    assert!(h.responded[&get].is_ok());
    assert_eq!((h.sends[&get], h.sends[&post]), (2, 1));
}

#[test]
fn logout_rejects_waiting_requests_and_a_failed_login_rejects_its_requests() {
    let mut h = logged_in(ConfigInput { max_concurrent_requests: Some(1.0), ..config() });
    let on_wire = h.request("/a", "GET");
    let queued = h.request("/b", "GET");
    let done = h.core.logout(h.now);
    h.drain();
    assert_eq!(h.responded[&queued].as_ref().unwrap_err().code(), "LOGGED_OUT");
    h.respond_status(on_wire, 401);
    assert!(h.responded[&on_wire].is_err(), "no login after logout");
    assert_eq!(h.logins, 1);
    let _ = done;

    let r = h.request("/c", "GET");
    let (op, _) = h.take(|e| matches!(e, Effect::RequestCode { .. }));
    h.answer(op, Outcome::Code(Err(PlatformFailure::new("login:fail"))));
    assert_eq!(h.responded[&r].as_ref().unwrap_err().code(), "WX_LOGIN_FAILED");
}

#[test]
fn a_body_code_can_mean_expired() {
    let input = ConfigInput {
        expired_body_field: Some("code".into()),
        expired_body_values: Some(vec![BodyValue::Number(40101.0)]),
        ..config()
    };
    let mut h = logged_in(input);
    let r = h.request("/api/me", "GET");
    let (op, _) = h.take(|e| matches!(e, Effect::Send { .. }));
    let summary = ResponseSummary { status: 200, body_code: Some(BodyValue::Text("40101".into())), cookies: None };
    h.answer(op, Outcome::Sent(Ok(summary)));
    assert!(h.has_effect(|e| matches!(e, Effect::RequestCode { .. })), "re-login started");
    h.login_now("tok-2");
    h.respond_status(r, 200);
    assert!(h.responded[&r].is_ok());
}

#[test]
fn bad_request_input_is_refused_at_once() {
    let mut h = Harness::new(config());
    for (url, timeout) in [("", None), ("http://api.example.com/x", None), ("/ok", Some(0.5))] {
        let spec = RequestSpec { url: url.into(), method: "GET".into(), timeout_ms: timeout };
        assert_eq!(h.core.request(h.now, spec).unwrap_err().code(), "CONFIG_INVALID", "{url}");
    }
}

#[test]
fn an_explicit_default_port_gets_the_token_and_lookalike_hosts_do_not() {
    let mut h = logged_in(ConfigInput {
        base_url: Some("https://api.example.com:443".into()),
        trusted_origins: Some(vec!["https://files.example.com:443".into()]),
        ..config()
    });
    let cases = [
        ("https://api.example.com:443/x", true),
        ("https://api.example.com/x", true),
        ("https://API.EXAMPLE.COM/x", true),
        ("https://files.example.com/a.png", true),
        ("https://files.example.com:443/a.png", true),
        ("/relative", true),
        ("https://api.example.com:8443/x", false),
        ("https://api.example.com.evil.com/x", false),
        ("https://files.example.com.evil.com/x", false),
    ];
    for (url, token) in cases {
        let r = h.request(url, "GET");
        let (_, _, auth) = h.sends_in_flight().into_iter().find(|s| s.1 == r).unwrap();
        assert_eq!(auth.is_some(), token, "{url}");
        h.respond_status(r, 200);
    }
    for url in ["https://api.example.com@evil.com/x", "https://evil.com\\@api.example.com/", "//evil.com/x"] {
        let spec = RequestSpec { url: url.into(), method: "GET".into(), timeout_ms: None };
        assert_eq!(h.core.request(h.now, spec).unwrap_err().code(), "CONFIG_INVALID", "{url}");
    }
}

#[test]
fn a_warm_request_is_sent_at_once_with_the_sessions_shared_header() {
    let mut h = logged_in(config());
    let first = h.request("/api/me", "GET");
    let second = h.request("me", "post");
    let headers: Vec<_> = h
        .effects
        .iter()
        .filter_map(|(_, e)| match e {
            Effect::Send { auth: Some(auth), url, .. } => Some((auth.clone(), url.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(headers.len(), 2, "both sent at once, no login effect: {:?}", h.effects);
    assert!(std::rc::Rc::ptr_eq(&headers[0].0, &headers[1].0), "one header per session, shared by its sends");
    assert_eq!(headers[1].1, "https://api.example.com/me");
    h.respond_status(first, 200);
    h.respond_status(second, 200);
    assert!(h.responded[&first].is_ok() && h.responded[&second].is_ok());
    // A new session brings a new header.
    h.core.ensure_login(h.now, true);
    h.drain();
    h.login_now("tok-2");
    let third = h.request("/api/me", "GET");
    assert_eq!(
        h.sends_in_flight().into_iter().find(|s| s.1 == third).unwrap().2.as_deref(),
        Some("Authorization: Bearer tok-2")
    );
}
