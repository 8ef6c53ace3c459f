//! The wasm driver against a scripted fake platform object, under Node (wasm-bindgen-test).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use js_sys::{Array, Function, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use mp_session::wasm::Client;

/// A platform written in JavaScript: `calls` records what the driver did (as in `sends` below).
fn platform(methods: &str) -> JsValue {
    let source = format!(
        "const p = {{ calls: [], store: {{}}, {methods} }};
         p.getStorage = p.getStorage || function (o) {{ p.calls.push('getStorage'); o.key in p.store ? o.success({{ data: p.store[o.key] }}) : o.fail({{ errMsg: 'getStorage:fail data not found' }}); }};
         p.setStorage = p.setStorage || function (o) {{ p.calls.push('setStorage'); p.store[o.key] = o.data; o.success({{}}); }};
         p.removeStorage = p.removeStorage || function (o) {{ p.calls.push('removeStorage'); delete p.store[o.key]; o.success({{}}); }};
         return p;"
    );
    Function::new_no_args(&source).call0(&JsValue::NULL).unwrap()
}

const GRANTING: &str = "
    login(o) { p.calls.push('login:' + o.timeout); setTimeout(() => o.success({ code: 'c1' }), 0); },
    request(o) {
        p.calls.push(o.method + ' ' + o.url + ' ' + o.data + ' ' + o.dataType);
        setTimeout(() => o.success({ statusCode: 200, data: '{\"token\":\"t1\",\"expiresIn\":60}' }), 0);
    },";

fn client(platform: &JsValue, options: &str) -> Result<Client, JsValue> {
    Client::new(options, platform.clone(), 7, Function::new_no_args(""), sends("s.ok(op);").into())
}

fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap()
}

fn calls(platform: &JsValue) -> Vec<String> {
    Array::from(&field(platform, "calls")).iter().map(|c| c.as_string().unwrap()).collect()
}

#[wasm_bindgen_test]
async fn concurrent_callers_share_one_login_through_the_platform() {
    let p = platform(GRANTING);
    let c = client(&p, r#"{"baseUrl":"https://api.test/","timeoutMs":3000}"#).unwrap();
    let first = JsFuture::from(c.ensure_login(false, None));
    let second = JsFuture::from(c.ensure_login(false, None));
    let (a, b) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(field(&a, "token"), "t1");
    assert_eq!(field(&b, "token"), "t1");
    assert_eq!(&calls(&p)[..3], ["getStorage", "login:3000", r#"POST https://api.test/auth/login {"code":"c1"} text"#]);
    let stored = field(&field(&p, "store"), "mp-session").as_string().unwrap();
    assert!(stored.starts_with(r#"{"version":1,"token":"t1","expiresAt":"#), "{stored}");
}

#[wasm_bindgen_test]
async fn platform_failures_reject_with_typed_error_objects() {
    let p = platform("login(o) { o.fail({ errMsg: 'login:fail auth deny', errno: 104 }); }, request() {},");
    let error = JsFuture::from(client(&p, r#"{"baseUrl":"https://api.test"}"#).unwrap().ensure_login(false, None))
        .await
        .unwrap_err();
    assert_eq!(field(&error, "code"), "WX_LOGIN_FAILED");
    assert_eq!(field(&error, "errMsg"), "login:fail auth deny");
    assert_eq!(field(&error, "errcode"), 104);
    assert_eq!(field(&error, "retryable"), true);
}

#[wasm_bindgen_test]
async fn a_missing_or_throwing_platform_method_fails_instead_of_throwing() {
    let missing = platform("");
    let error =
        JsFuture::from(client(&missing, r#"{"baseUrl":"https://api.test"}"#).unwrap().ensure_login(false, None))
            .await
            .unwrap_err();
    assert_eq!(field(&error, "code"), "WX_LOGIN_FAILED");
    assert!(field(&error, "errMsg").as_string().unwrap().contains("login is not available"));

    let throwing = platform("login() { throw new Error('boom'); },");
    let error =
        JsFuture::from(client(&throwing, r#"{"baseUrl":"https://api.test"}"#).unwrap().ensure_login(false, None))
            .await
            .unwrap_err();
    assert_eq!(field(&error, "errMsg"), "boom");
}

#[wasm_bindgen_test]
fn bad_options_throw_config_invalid_naming_the_option() {
    let p = platform(GRANTING);
    for (options, option) in [
        (r#"{"baseUrl":"http://api.test"}"#, "baseUrl"),
        (r#"{"baseUrl":"https://api.test","tokenHeader":1}"#, "tokenHeader"),
        (r#"{"baseUrl":"https://api.test","checkSession":"yes"}"#, "checkSession"),
        ("null", "options"),
    ] {
        let error = client(&p, options).err().expect(options);
        assert_eq!(field(&error, "code"), "CONFIG_INVALID", "{options}");
        assert_eq!(field(&error, "option"), option, "{options}");
    }
}

#[wasm_bindgen_test]
async fn a_throwing_listener_does_not_break_the_session() {
    let p = platform(GRANTING);
    let listener = Function::new_no_args("throw new Error('page bug')");
    let c = Client::new(r#"{"baseUrl":"https://api.test"}"#, p, 1, listener, sends("").into()).unwrap();
    let state = JsFuture::from(c.ensure_login(false, None)).await.unwrap();
    assert_eq!(field(&state, "token"), "t1");
    JsFuture::from(c.logout()).await.unwrap();
}

/// The shim's request path as a script (`Sends`): records what the driver asked for, and answers
/// each send as `on_send(id, op, n)` says (`n` counts the sends); by default 200 at once, inside
/// the call. `s.until(line)` waits for a recorded line starting with `line`.
fn sends(on_send: &str) -> JsValue {
    let source = format!(
        "const s = {{ calls: [], client: null, waiting: [], n: 0 }};
         s.record = (line) => {{
             s.calls.push(line);
             s.waiting = s.waiting.filter(([prefix, resolve]) => !(line.startsWith(prefix) && (resolve(), true)));
         }};
         s.until = (prefix) => new Promise((resolve) =>
             s.calls.some((c) => c.startsWith(prefix)) ? resolve() : s.waiting.push([prefix, resolve]));
         s.header = (n, name, value) => s.record('header ' + n + ' ' + name + ': ' + value);
         s.send = (id, op, url, header, timeout) => {{
             // undefined: the same URL as the previous send, as the shim keeps it.
             if (url === undefined) url = s.url + ' (again)'; else s.url = url;
             s.record('send ' + id + ' ' + url + ' ' + header);
             s.n++;
             ((id, op, n) => {{ {on_send} }})(id, op, s.n);
         }};
         s.ok = (op) => s.client.sent(Date.now(), op, 200, NaN, undefined);
         s.respond = (id, op) => s.record('respond ' + id);
         s.reject = (id, e) => s.record('reject ' + id + ' ' + e.code);
         s.abort = (op) => s.record('abort');
         return s;"
    );
    Function::new_no_args(&source).call0(&JsValue::NULL).unwrap()
}

/// A client on `platform` whose request path is `sends`, as the JavaScript object the shim holds.
fn client_with(platform: &JsValue, sends: &JsValue, options: &str) -> JsValue {
    let client: JsValue =
        Client::new(options, platform.clone(), 7, Function::new_no_args(""), sends.clone().into()).unwrap().into();
    Reflect::set(sends, &"client".into(), &client).unwrap();
    client
}

/// `client.request(Date.now(), id, url)`, as the shim calls it (`url` undefined: the previous one).
fn request(client: &JsValue, id: u32, url: Option<&str>) {
    let request: Function = field(client, "request").dyn_into().unwrap();
    let args = Array::of3(&js_sys::Date::now().into(), &id.into(), &url.map_or(JsValue::UNDEFINED, JsValue::from));
    request.apply(client, &args).unwrap();
}

async fn until(sends: &JsValue, line: &str) {
    let until: Function = field(sends, "until").dyn_into().unwrap();
    JsFuture::from(js_sys::Promise::from(until.call1(sends, &line.into()).unwrap())).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_request_crosses_as_numbers_and_the_session_header_once() {
    let s = sends("s.ok(op);");
    let c = client_with(&platform(GRANTING), &s, r#"{"baseUrl":"https://api.test/v1/"}"#);
    request(&c, 1, Some("/api/me"));
    until(&s, "respond 1").await;
    request(&c, 2, None);
    request(&c, 3, Some("https://api.test/x"));
    request(&c, 4, Some("https://elsewhere.test/y"));
    assert_eq!(
        calls(&s),
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
    let s = sends("n === 1 ? s.client.sent(Date.now(), op, 401, NaN, undefined) : s.ok(op);");
    let p = platform(GRANTING);
    let c = client_with(&p, &s, r#"{"baseUrl":"https://api.test"}"#);
    request(&c, 7, Some("/api/me"));
    until(&s, "respond 7").await;
    assert_eq!(
        calls(&s),
        [
            "header 1 Authorization: Bearer t1",
            "send 7 https://api.test/api/me 1",
            "header 2 Authorization: Bearer t1",
            "send 7 https://api.test/api/me (again) 2",
            "respond 7"
        ]
    );
    assert_eq!(calls(&p).iter().filter(|c| c.starts_with("login")).count(), 2);
}

#[wasm_bindgen_test]
async fn answers_inside_the_call_twice_or_nested_settle_each_request_once() {
    // The first send answers twice and makes a request of its own from inside the call.
    let s = sends(
        "if (id === 1) { s.client.request(Date.now(), 2, '/api/inner'); s.ok(op); s.client.sendFailed(Date.now(), op, 'request:fail late', NaN); s.ok(op); } else s.ok(op);",
    );
    let c = client_with(&platform(GRANTING), &s, r#"{"baseUrl":"https://api.test"}"#);
    request(&c, 1, Some("/api/me"));
    until(&s, "respond 1").await;
    until(&s, "respond 2").await;
    let lines = calls(&s);
    assert_eq!(lines.iter().filter(|l| l.starts_with("respond")).count(), 2, "{lines:?}");
    // A URL the core refuses rejects at once, inside the call, and sends nothing.
    request(&c, 3, Some("ftp://api.test/x"));
    assert_eq!(calls(&s).last().unwrap(), "reject 3 CONFIG_INVALID");
}

#[wasm_bindgen_test]
async fn a_failed_get_is_retried_once_then_rejects_network() {
    let s = sends("s.client.sendFailed(Date.now(), op, 'request:fail offline', NaN);");
    let c = client_with(&platform(GRANTING), &s, r#"{"baseUrl":"https://api.test"}"#);
    request(&c, 5, Some("/api/me"));
    until(&s, "reject 5").await;
    let lines = calls(&s);
    assert_eq!(lines.iter().filter(|l| l.starts_with("send 5")).count(), 2, "{lines:?}");
    assert_eq!(lines.last().unwrap(), "reject 5 NETWORK");
}

/// Logs in with a reply carrying `user` and `session_key`; records the exchange's body.
const GRANTING_A_USER: &str = r#"
    login(o) { setTimeout(() => o.success({ code: 'c1' }), 0); },
    request(o) {
        p.calls.push(o.data);
        setTimeout(() => o.success({ statusCode: 200, data: '{"token":"t1","expiresIn":60,"session_key":"SK","user":{"id":12345678901234567,"name":"小明","score":4.50}}' }), 0);
    },"#;

#[wasm_bindgen_test]
async fn a_payload_is_posted_beside_the_code_and_the_kept_reply_arrives_as_an_object() {
    let p = platform(GRANTING_A_USER);
    let events = Array::new();
    let listener =
        Function::new_with_args("events", "return (e) => events.push(e)").call1(&JsValue::NULL, &events).unwrap();
    let options = r#"{"baseUrl":"https://api.test","replyFields":["user"]}"#;
    let c = Client::new(options, p.clone(), 7, listener.unchecked_into(), sends("").into()).unwrap();
    let state = JsFuture::from(c.ensure_login(true, Some(r#"{"phoneCode":"P1"}"#.into()))).await.unwrap();
    assert_eq!(calls(&p)[1], r#"{"code":"c1","phoneCode":"P1"}"#);
    let reply = field(&state, "reply");
    assert_eq!(JSON::stringify(&reply).unwrap(), r#"{"user":{"id":12345678901234568,"name":"小明","score":4.5}}"#);
    // The warm answer and the login event carry it too; storage holds it, never the payload.
    let warm = c.ready_session();
    assert_eq!(JSON::stringify(&field(&warm, "reply")).unwrap(), JSON::stringify(&reply).unwrap());
    assert_eq!(field(&events.get(0), "type"), "login");
    assert_eq!(JSON::stringify(&field(&events.get(0), "reply")).unwrap(), JSON::stringify(&reply).unwrap());
    let stored = field(&field(&p, "store"), "mp-session").as_string().unwrap();
    // Numbers are stored as the server wrote them.
    assert!(stored.ends_with(r#","reply":{"user":{"id":12345678901234567,"name":"小明","score":4.50}}}"#), "{stored}");
    assert!(!stored.contains("P1") && !stored.contains("SK"), "{stored}");

    // Without replyFields: no `reply` key at all.
    let plain = client(&platform(GRANTING_A_USER), r#"{"baseUrl":"https://api.test"}"#).unwrap();
    let state = JsFuture::from(plain.ensure_login(false, None)).await.unwrap();
    assert!(!Reflect::has(&state, &"reply".into()).unwrap());
}

#[wasm_bindgen_test]
async fn a_bad_payload_rejects_config_invalid_and_sends_nothing() {
    let p = platform(GRANTING);
    let c = client(&p, r#"{"baseUrl":"https://api.test"}"#).unwrap();
    for (payload, option) in [(r#"{"code":"x"}"#, "payload.code"), ("[1]", "payload"), ("not json", "payload")] {
        let error = JsFuture::from(c.ensure_login(true, Some(payload.into()))).await.unwrap_err();
        assert_eq!(field(&error, "code"), "CONFIG_INVALID", "{payload}");
        assert_eq!(field(&error, "option"), option, "{payload}");
    }
    assert!(calls(&p).is_empty(), "{:?}", calls(&p));
}
