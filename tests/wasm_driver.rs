//! The wasm driver against a scripted host (the part `js/host.js` plays in the package), under
//! Node (wasm-bindgen-test): what crosses the boundary, in which order, and how answers that come
//! inside the call, twice or nested are settled. The platform behind the host is the simulator
//! suites' business (`tests/js/`).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use js_sys::{Array, Function, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use mp_session::wasm::Client;

/// A host written in JavaScript. It records every call (`s.calls`), keeps storage in `s.store`,
/// and answers platform calls as `on_call(op, kind, text, more)` says, sends as `on_send(id, op,
/// n)` says (`n` counts the sends). The defaults log in (code `c1`, a reply of `s.reply`) and answer
/// every send 200 at once, inside the call. `s.until(prefix)` waits for a recorded line.
fn host(on_call: &str, on_send: &str) -> JsValue {
    let source = format!(
        r#"const s = {{ calls: [], store: {{}}, client: null, waiting: [], n: 0, url: null, t: null,
             reply: '{{"token":"t1","expiresIn":60}}' }};
         s.record = (line) => {{
             s.calls.push(line);
             s.waiting = s.waiting.filter(([prefix, resolve]) => !(line.startsWith(prefix) && (resolve(), true)));
         }};
         s.until = (prefix) => new Promise((resolve) =>
             s.calls.some((c) => c.startsWith(prefix)) ? resolve() : s.waiting.push([prefix, resolve]));
         s.answer = (op, ok, status, text, errno) => s.client.answered(Date.now(), op, ok, status, text, errno === undefined ? NaN : errno);
         s.grant = (op, kind, text, more) => {{
             if (kind === 1) return text in s.store ? s.answer(op, true, 1, s.store[text]) : s.answer(op, false, 0, 'getStorage:fail data not found');
             if (kind === 2) {{ s.store[text] = more; return s.answer(op, true, 0); }}
             if (kind === 3) {{ delete s.store[text]; return s.answer(op, true, 0); }}
             if (kind === 4) return s.answer(op, true, 0);
             if (kind === 5) return setTimeout(() => s.answer(op, true, 0, 'c1'), 0);
             if (kind === 6) return setTimeout(() => s.answer(op, true, 200, s.reply), 0);
         }};
         s.call = (op, kind, text, more, timeout) => {{
             s.record('call ' + kind + ' ' + text + ' ' + more + ' ' + timeout);
             ((op, kind, text, more) => {{ {on_call} }})(op, kind, text, more);
         }};
         s.timer = (ms) => {{ clearTimeout(s.t); if (ms >= 0) s.t = setTimeout(() => s.client.tick(Date.now()), ms); }};
         s.header = (n, name, value) => s.record('header ' + n + ' ' + name + ': ' + value);
         s.send = (id, op, url, header, timeout) => {{
             // undefined: the same URL as the previous send, as js/host.js keeps it.
             if (url === undefined) url = s.url + ' (again)'; else s.url = url;
             s.record('send ' + id + ' ' + url + ' ' + header);
             s.n++;
             ((id, op, n) => {{ {on_send} }})(id, op, s.n);
         }};
         s.ok = (op) => s.client.sent(Date.now(), op, 200, NaN, undefined);
         s.respond = (id, op) => s.record('respond ' + id);
         s.reject = (id, e) => s.record('reject ' + id + ' ' + e.code);
         s.abort = (op) => s.record('abort');
         return s;"#
    );
    Function::new_no_args(&source).call0(&JsValue::NULL).unwrap()
}

const GRANT: &str = "s.grant(op, kind, text, more);";
const OK: &str = "s.ok(op);";

/// A client on `host` with `listener`, as the JavaScript object the shim holds.
fn client_with(host: &JsValue, options: &str, listener: Function) -> Result<JsValue, JsValue> {
    let client: JsValue = Client::new(options, 7, listener, host.clone().into())?.into();
    Reflect::set(host, &"client".into(), &client).unwrap();
    Ok(client)
}

fn client(host: &JsValue, options: &str) -> JsValue {
    client_with(host, options, Function::new_no_args("")).unwrap()
}

fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap()
}

fn method(client: &JsValue, name: &str, args: &[JsValue]) -> JsValue {
    let function: Function = field(client, name).dyn_into().unwrap();
    function.apply(client, &args.iter().collect::<Array>()).unwrap()
}

async fn settled(promise: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(js_sys::Promise::from(promise)).await
}

async fn ensure_login(client: &JsValue, force: bool, payload: Option<&str>) -> Result<JsValue, JsValue> {
    let payload = payload.map_or(JsValue::UNDEFINED, JsValue::from);
    settled(method(client, "ensureLogin", &[force.into(), payload, false.into()])).await
}

/// `client.request(Date.now(), id, url)`, as the shim calls it (`url` undefined: the previous one).
fn request(client: &JsValue, id: u32, url: Option<&str>) {
    method(client, "request", &[js_sys::Date::now().into(), id.into(), url.map_or(JsValue::UNDEFINED, JsValue::from)]);
}

async fn until(host: &JsValue, line: &str) {
    let until: Function = field(host, "until").dyn_into().unwrap();
    settled(until.call1(host, &line.into()).unwrap()).await.unwrap();
}

fn calls(host: &JsValue) -> Vec<String> {
    Array::from(&field(host, "calls")).iter().map(|c| c.as_string().unwrap()).collect()
}

#[wasm_bindgen_test]
async fn concurrent_callers_share_one_login_through_the_host() {
    let h = host(GRANT, OK);
    let c = client(&h, r#"{"baseUrl":"https://api.test/","timeoutMs":3000}"#);
    let first = method(&c, "ensureLogin", &[false.into(), JsValue::UNDEFINED, false.into()]);
    let second = method(&c, "ensureLogin", &[false.into(), JsValue::UNDEFINED, false.into()]);
    let (a, b) = (settled(first).await.unwrap(), settled(second).await.unwrap());
    assert_eq!(field(&a, "token"), "t1");
    assert_eq!(field(&b, "token"), "t1");
    let lines = calls(&h);
    assert_eq!(
        &lines[..3],
        [
            "call 1 mp-session undefined 0",
            "call 5 undefined undefined 3000",
            r#"call 6 https://api.test/auth/login {"code":"c1"} 3000"#,
        ]
    );
    assert!(lines[3].starts_with(r#"call 2 mp-session {"version":1,"token":"t1","expiresAt":"#), "{lines:?}");
}

#[wasm_bindgen_test]
async fn platform_failures_reject_with_typed_error_objects() {
    let h =
        host("kind === 5 ? s.answer(op, false, 0, 'login:fail auth deny', 104) : s.grant(op, kind, text, more);", OK);
    let error = ensure_login(&client(&h, r#"{"baseUrl":"https://api.test"}"#), false, None).await.unwrap_err();
    assert_eq!(field(&error, "code"), "WX_LOGIN_FAILED");
    assert_eq!(field(&error, "errMsg"), "login:fail auth deny");
    assert_eq!(field(&error, "errcode"), 104);
    assert_eq!(field(&error, "retryable"), true);
}

#[wasm_bindgen_test]
async fn a_stored_session_is_used_and_a_foreign_stored_value_is_not() {
    let h = host(GRANT, OK);
    let c = client(&h, r#"{"baseUrl":"https://api.test"}"#);
    ensure_login(&c, false, None).await.unwrap();
    // A second client of the app finds the session in storage: no login.
    let answering_storage =
        host("kind === 1 ? s.answer(op, true, 1, s.store[text]) : s.grant(op, kind, text, more);", OK);
    Reflect::set(&answering_storage, &"store".into(), &field(&h, "store")).unwrap();
    let warm = client(&answering_storage, r#"{"baseUrl":"https://api.test"}"#);
    assert_eq!(field(&ensure_login(&warm, false, None).await.unwrap(), "token"), "t1");
    assert!(!calls(&answering_storage).iter().any(|c| c.starts_with("call 5")), "{:?}", calls(&answering_storage));
    // Something that is not a string of ours (status 2) is no session: a login follows.
    let foreign = host("kind === 1 ? s.answer(op, true, 2) : s.grant(op, kind, text, more);", OK);
    let fresh = client(&foreign, r#"{"baseUrl":"https://api.test"}"#);
    assert_eq!(field(&ensure_login(&fresh, false, None).await.unwrap(), "token"), "t1");
    assert!(calls(&foreign).iter().any(|c| c.starts_with("call 5")), "{:?}", calls(&foreign));
}

#[wasm_bindgen_test]
fn bad_options_throw_config_invalid_naming_the_option() {
    let h = host(GRANT, OK);
    for (options, option) in [
        (r#"{"baseUrl":"http://api.test"}"#, "baseUrl"),
        (r#"{"baseUrl":"https://api.test","tokenHeader":1}"#, "tokenHeader"),
        (r#"{"baseUrl":"https://api.test","checkSession":"yes"}"#, "checkSession"),
        ("null", "options"),
    ] {
        let error = client_with(&h, options, Function::new_no_args("")).expect_err(options);
        assert_eq!(field(&error, "code"), "CONFIG_INVALID", "{options}");
        assert_eq!(field(&error, "option"), option, "{options}");
    }
}

#[wasm_bindgen_test]
async fn a_throwing_listener_does_not_break_the_session() {
    let h = host(GRANT, OK);
    let c = client_with(&h, r#"{"baseUrl":"https://api.test"}"#, Function::new_no_args("throw new Error('page bug')"))
        .unwrap();
    assert_eq!(field(&ensure_login(&c, false, None).await.unwrap(), "token"), "t1");
    settled(method(&c, "logout", &[])).await.unwrap();
    assert!(calls(&h).iter().any(|c| c == "call 3 mp-session undefined 0"), "{:?}", calls(&h));
}

#[wasm_bindgen_test]
async fn a_request_crosses_as_numbers_and_the_session_header_once() {
    let h = host(GRANT, OK);
    let c = client(&h, r#"{"baseUrl":"https://api.test/v1/"}"#);
    request(&c, 1, Some("/api/me"));
    until(&h, "respond 1").await;
    request(&c, 2, None);
    request(&c, 3, Some("https://api.test/x"));
    request(&c, 4, Some("https://elsewhere.test/y"));
    let sends: Vec<String> = calls(&h).into_iter().filter(|c| !c.starts_with("call ")).collect();
    assert_eq!(
        sends,
        [
            "header 1 Authorization: Bearer t1",
            "send 1 https://api.test/v1/api/me 1",
            "respond 1",
            "send 2 https://api.test/v1/api/me (again) 1",
            "respond 2",
            "send 3 https://api.test/x 1",
            "respond 3",
            // No token to another origin: header 0.
            "send 4 https://elsewhere.test/y 0",
            "respond 4",
        ]
    );
}

#[wasm_bindgen_test]
async fn an_expired_answer_logs_in_again_and_replays_once_with_the_new_sessions_header() {
    let h = host(GRANT, "n === 1 ? s.client.sent(Date.now(), op, 401, NaN, undefined) : s.ok(op);");
    let c = client(&h, r#"{"baseUrl":"https://api.test"}"#);
    request(&c, 7, Some("/api/me"));
    until(&h, "respond 7").await;
    let lines = calls(&h);
    let sends: Vec<&String> = lines.iter().filter(|c| !c.starts_with("call ")).collect();
    assert_eq!(
        sends,
        [
            "header 1 Authorization: Bearer t1",
            "send 7 https://api.test/api/me 1",
            "header 2 Authorization: Bearer t1",
            "send 7 https://api.test/api/me (again) 2",
            "respond 7"
        ]
    );
    assert_eq!(lines.iter().filter(|c| c.starts_with("call 5")).count(), 2, "two wx.login");
}

#[wasm_bindgen_test]
async fn an_aborted_send_aborts_its_task_rejects_aborted_and_ignores_its_late_answer() {
    // Sends are never answered by the host on their own: the test aborts the first.
    let h = host(GRANT, "");
    let c = client(&h, r#"{"baseUrl":"https://api.test"}"#);
    request(&c, 1, Some("/api/slow"));
    until(&h, "send 1").await;
    method(&c, "abort", &[js_sys::Date::now().into(), 1.into()]);
    method(&c, "abort", &[js_sys::Date::now().into(), 1.into()]); // settled: nothing more
    let op = 4.0; // storage read, wx.login, exchange, then the send
    method(&c, "sent", &[js_sys::Date::now().into(), op.into(), 200.into(), f64::NAN.into(), JsValue::UNDEFINED]);
    let lines = calls(&h);
    let tail: Vec<&String> = lines.iter().filter(|c| !c.starts_with("call ") && !c.starts_with("header")).collect();
    assert_eq!(tail, ["send 1 https://api.test/api/slow 1", "abort", "reject 1 ABORTED"]);
}

#[wasm_bindgen_test]
async fn an_account_login_posts_its_data_without_wx_login() {
    let h = host(GRANT, "s.ok(op);");
    let c = client(&h, r#"{"baseUrl":"https://api.test"}"#);
    let data = r#"{"username":"demo","password":"p"}"#;
    let state = settled(method(&c, "login", &["/auth/password".into(), data.into()])).await.unwrap();
    assert_eq!(field(&state, "token"), "t1");
    let lines = calls(&h);
    assert!(lines.iter().all(|c| !c.starts_with("call 5")), "no wx.login: {lines:?}");
    assert!(lines.iter().any(|c| c == &format!("call 6 https://api.test/auth/password {data} 10000")), "{lines:?}");
    let refused = settled(method(&c, "login", &["auth".into(), data.into()])).await.unwrap_err();
    assert_eq!(field(&refused, "option"), "path");
}

#[wasm_bindgen_test]
async fn answers_inside_the_call_twice_or_nested_settle_each_request_once() {
    // The first send answers twice and makes a request of its own from inside the call; the
    // platform calls answer twice too.
    let h = host(
        "s.grant(op, kind, text, more); if (kind === 2) s.answer(op, false, 0, 'setStorage:fail late');",
        "if (id === 1) { s.client.request(Date.now(), 2, '/api/inner'); s.ok(op); s.client.sendFailed(Date.now(), op, 'request:fail late', NaN); s.ok(op); } else s.ok(op);",
    );
    let events = Array::new();
    let listener =
        Function::new_with_args("events", "return (e) => events.push(e.type)").call1(&JsValue::NULL, &events).unwrap();
    let c = client_with(&h, r#"{"baseUrl":"https://api.test"}"#, listener.unchecked_into()).unwrap();
    request(&c, 1, Some("/api/me"));
    until(&h, "respond 1").await;
    until(&h, "respond 2").await;
    let lines = calls(&h);
    assert_eq!(lines.iter().filter(|l| l.starts_with("respond")).count(), 2, "{lines:?}");
    assert_eq!(events.iter().map(|e| e.as_string().unwrap()).collect::<Vec<_>>(), ["login"], "no storageFailed");
    // A URL the core refuses rejects at once, inside the call, and sends nothing.
    request(&c, 3, Some("ftp://api.test/x"));
    assert_eq!(calls(&h).last().unwrap(), "reject 3 CONFIG_INVALID");
}

#[wasm_bindgen_test]
async fn a_failed_get_is_retried_once_then_rejects_network() {
    let h = host(GRANT, "s.client.sendFailed(Date.now(), op, 'request:fail offline', NaN);");
    let c = client(&h, r#"{"baseUrl":"https://api.test"}"#);
    request(&c, 5, Some("/api/me"));
    until(&h, "reject 5").await;
    let lines = calls(&h);
    assert_eq!(lines.iter().filter(|l| l.starts_with("send 5")).count(), 2, "{lines:?}");
    assert_eq!(lines.last().unwrap(), "reject 5 NETWORK");
}

#[wasm_bindgen_test]
async fn a_payload_is_posted_beside_the_code_and_the_kept_reply_arrives_as_an_object() {
    let h = host(GRANT, OK);
    Reflect::set(
        &h,
        &"reply".into(),
        &r#"{"token":"t1","expiresIn":60,"session_key":"SK","user":{"id":12345678901234567,"name":"小明","score":4.50}}"#
            .into(),
    )
    .unwrap();
    let events = Array::new();
    let listener =
        Function::new_with_args("events", "return (e) => events.push(e)").call1(&JsValue::NULL, &events).unwrap();
    let c =
        client_with(&h, r#"{"baseUrl":"https://api.test","replyFields":["user"]}"#, listener.unchecked_into()).unwrap();
    let state = ensure_login(&c, true, Some(r#"{"phoneCode":"P1"}"#)).await.unwrap();
    assert!(calls(&h).iter().any(|c| c.contains(r#" {"code":"c1","phoneCode":"P1"} "#)), "{:?}", calls(&h));
    let reply = field(&state, "reply");
    assert_eq!(JSON::stringify(&reply).unwrap(), r#"{"user":{"id":12345678901234568,"name":"小明","score":4.5}}"#);
    // The warm answer and the login event carry it too; storage holds it, never the payload.
    let warm = method(&c, "readySession", &[]);
    assert_eq!(JSON::stringify(&field(&warm, "reply")).unwrap(), JSON::stringify(&reply).unwrap());
    assert_eq!(field(&events.get(0), "type"), "login");
    assert_eq!(JSON::stringify(&field(&events.get(0), "reply")).unwrap(), JSON::stringify(&reply).unwrap());
    let stored = field(&field(&h, "store"), "mp-session").as_string().unwrap();
    // Numbers are stored as the server wrote them.
    assert!(stored.ends_with(r#","reply":{"user":{"id":12345678901234567,"name":"小明","score":4.50}}}"#), "{stored}");
    assert!(!stored.contains("P1") && !stored.contains("SK"), "{stored}");

    // Without replyFields: no `reply` key at all.
    let plain = client(&host(GRANT, OK), r#"{"baseUrl":"https://api.test"}"#);
    let state = ensure_login(&plain, false, None).await.unwrap();
    assert!(!Reflect::has(&state, &"reply".into()).unwrap());
}

#[wasm_bindgen_test]
async fn a_bad_payload_rejects_config_invalid_and_calls_nothing() {
    let h = host(GRANT, OK);
    let c = client(&h, r#"{"baseUrl":"https://api.test"}"#);
    for (payload, option) in [(r#"{"code":"x"}"#, "payload.code"), ("[1]", "payload"), ("not json", "payload")] {
        let error = ensure_login(&c, true, Some(payload)).await.unwrap_err();
        assert_eq!(field(&error, "code"), "CONFIG_INVALID", "{payload}");
        assert_eq!(field(&error, "option"), option, "{payload}");
    }
    assert!(calls(&h).is_empty(), "{:?}", calls(&h));
}
