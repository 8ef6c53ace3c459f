//! The wasm driver against a scripted fake platform object, under Node (wasm-bindgen-test).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use js_sys::{Array, Function, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use mp_session::wasm::Client;

/// A platform written in JavaScript: `calls` records what the driver did.
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
    Client::new(options, platform.clone(), 7, Function::new_no_args(""))
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
    let c = Client::new(r#"{"baseUrl":"https://api.test"}"#, p, 1, listener).unwrap();
    let state = JsFuture::from(c.ensure_login(false, None)).await.unwrap();
    assert_eq!(field(&state, "token"), "t1");
    JsFuture::from(c.logout()).await.unwrap();
}

/// Logs in, then answers page requests as `answer` says (synchronously, inside the call).
fn platform_answering_requests(answer: &str) -> JsValue {
    platform(&format!(
        "login(o) {{ setTimeout(() => o.success({{ code: 'c1' }}), 0); }},
         request(o) {{
             if (o.url.endsWith('/auth/login')) {{
                 setTimeout(() => o.success({{ statusCode: 200, data: '{{\"token\":\"t1\",\"expiresIn\":60}}' }}), 0);
                 return {{ abort() {{}} }};
             }}
             {answer}
         }},"
    ))
}

#[wasm_bindgen_test]
async fn a_platform_answering_inside_the_call_or_twice_settles_each_request_once() {
    let sync = platform_answering_requests("o.success({ statusCode: 200, data: { n: 1 } }); return { abort() {} };");
    let c = client(&sync, r#"{"baseUrl":"https://api.test"}"#).unwrap();
    let options = JSON::parse(r#"{"url":"/api/me"}"#).unwrap();
    let response = JsFuture::from(c.request("request", options.clone())).await.unwrap();
    assert_eq!(field(&response, "statusCode"), 200);
    // The next request still works: nothing was left borrowed or half-recorded.
    assert_eq!(field(&JsFuture::from(c.request("request", options)).await.unwrap(), "statusCode"), 200);

    let twice = platform_answering_requests(
        "o.success({ statusCode: 200, data: {} }); o.fail({ errMsg: 'request:fail late' }); o.success({ statusCode: 500 });",
    );
    let c = client(&twice, r#"{"baseUrl":"https://api.test"}"#).unwrap();
    let response = JsFuture::from(c.request("request", JSON::parse(r#"{"url":"/api/me"}"#).unwrap())).await.unwrap();
    assert_eq!(field(&response, "statusCode"), 200, "the first answer counts");

    let throwing = platform_answering_requests("throw new Error('request exploded');");
    let c = client(&throwing, r#"{"baseUrl":"https://api.test"}"#).unwrap();
    let error = JsFuture::from(c.request("request", JSON::parse(r#"{"url":"/api/me"}"#).unwrap())).await.unwrap_err();
    assert_eq!(field(&error, "errMsg"), "request exploded");
}

#[wasm_bindgen_test]
async fn a_getter_in_the_options_may_call_the_client_again() {
    let p = platform_answering_requests("o.success({ statusCode: 200, data: {} }); return { abort() {} };");
    let client_js: JsValue = client(&p, r#"{"baseUrl":"https://api.test"}"#).unwrap().into();
    // Reading `url` makes another request: the driver is mid-read of these options then.
    let options = Function::new_with_args(
        "client",
        "return { get url() { this.inner = client.request('request', { url: '/api/inner' }); return '/api/me'; } };",
    )
    .call1(&JsValue::NULL, &client_js)
    .unwrap();
    let request: Function = field(&client_js, "request").dyn_into().unwrap();
    let outer = request.call2(&client_js, &"request".into(), &options).unwrap();
    assert_eq!(field(&JsFuture::from(js_sys::Promise::from(outer)).await.unwrap(), "statusCode"), 200);
    let inner = js_sys::Promise::from(field(&options, "inner"));
    assert_eq!(field(&JsFuture::from(inner).await.unwrap(), "statusCode"), 200);
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
    let c = Client::new(options, p.clone(), 7, listener.unchecked_into()).unwrap();
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
