//! Conversions between JavaScript values and the core's types, kept apart from the exported
//! methods so the boundary's shape is visible in one place.

use std::cell::RefCell;

use js_sys::Object;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use crate::core::{SessionError, SessionEvent, SessionView};

thread_local! {
    /// The JavaScript strings of the property names used here, made once each: decoding a name
    /// out of wasm memory on every access was a quarter of a request's cost (no TextDecoder on
    /// devices, so the JS fallback decodes). Looked up by address: the names are literals.
    static NAMES: RefCell<Vec<(&'static str, JsValue)>> = const { RefCell::new(Vec::new()) };
}

fn with_name<R>(key: &'static str, use_name: impl FnOnce(&JsValue) -> R) -> R {
    NAMES.with(|names| {
        // `use_name` may run a setter a page put on Object.prototype, which may call back into the
        // client and so here: the inner call, finding the cache borrowed, makes its name afresh
        // instead of panicking.
        let Ok(mut names) = names.try_borrow_mut() else { return use_name(&JsValue::from_str(key)) };
        let index = match names.iter().rposition(|(name, _)| std::ptr::eq(*name, key)) {
            Some(index) => index,
            None => {
                names.push((key, JsValue::from_str(key)));
                names.len() - 1
            }
        };
        match names.get(index) {
            Some((_, name)) => use_name(name),
            None => use_name(&JsValue::from_str(key)),
        }
    })
}

fn set(target: &Object, key: &'static str, value: JsValue) {
    with_name(key, |name| set_value(target, name, &value));
}

#[wasm_bindgen]
extern "C" {
    /// `Reflect.set`, guarded: even on an object this module made, a page may have put a throwing
    /// setter on `Object.prototype`, and an exception must never unwind through wasm frames.
    #[wasm_bindgen(catch, js_namespace = Reflect, js_name = set)]
    fn set_own_property(target: &Object, key: &JsValue, value: &JsValue) -> Result<bool, JsValue>;
    #[wasm_bindgen(catch, js_namespace = JSON, js_name = parse)]
    fn parse_json(text: &JsValue) -> Result<JsValue, JsValue>;
}

fn set_value(target: &Object, key: &JsValue, value: &JsValue) {
    let _ = set_own_property(target, key, value);
}

/// `{ code, retryable, option?, reason?, errcode?, errMsg?, statusCode?, during?, afterMs?,
/// attempts? }`: the error as its code and fields. The shim renders the message text from them
/// (`js/errors.js`) and makes the `MpSessionError`.
pub fn error_to_js(error: &SessionError) -> JsValue {
    let fields = error.fields();
    let out = Object::new();
    set(&out, "code", fields.code.into());
    set(&out, "retryable", fields.retryable.into());
    let texts =
        [("option", fields.option), ("reason", fields.reason), ("errMsg", fields.errmsg), ("during", fields.during)];
    for (key, value) in texts {
        if let Some(value) = value {
            set(&out, key, value.into());
        }
    }
    let numbers = [
        ("errcode", fields.errcode.map(|n| n as f64)),
        ("statusCode", fields.status.map(f64::from)),
        ("afterMs", fields.after_ms.map(f64::from)),
        ("attempts", fields.attempts.map(f64::from)),
    ];
    for (key, value) in numbers {
        if let Some(value) = value {
            set(&out, key, value.into());
        }
    }
    out.into()
}

/// `{ token, expiresAt, reply? }`, what `ensureLogin()` resolves with.
pub fn view_to_js(view: &SessionView) -> JsValue {
    let out = Object::new();
    set(&out, "token", view.token.expose().into());
    set(&out, "expiresAt", (view.expires_at_ms as f64).into());
    set_reply(&out, view.reply.as_deref());
    out.into()
}

/// `reply`: the kept reply as a fresh JavaScript object, from the core's JSON text (which always
/// parses; a failure would leave `reply` out rather than throw through wasm).
fn set_reply(out: &Object, reply: Option<&String>) {
    if let Some(value) = reply.and_then(|text| parse_json(&JsValue::from_str(text)).ok()) {
        set(out, "reply", value);
    }
}

/// `{ type, … }`, what `onChange` listeners receive. Never carries the token.
pub fn event_to_js(event: &SessionEvent) -> JsValue {
    let out = Object::new();
    match event {
        SessionEvent::LoggedIn { expires_at_ms, reply } => {
            set(&out, "type", "login".into());
            set(&out, "expiresAt", (*expires_at_ms as f64).into());
            set_reply(&out, reply.as_deref());
        }
        SessionEvent::LoggedOut => set(&out, "type", "logout".into()),
        SessionEvent::Expired => set(&out, "type", "expired".into()),
        SessionEvent::LoginRequired => set(&out, "type", "loginRequired".into()),
        SessionEvent::StorageFailed { message } => {
            set(&out, "type", "storageFailed".into());
            set(&out, "message", message.as_str().into());
        }
    }
    out.into()
}
