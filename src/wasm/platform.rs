//! Performs the core's effects on the injected platform object (`wx`, `uni`, `tt`, `qq` or a
//! test double): builds each call's options, and turns the platform's answer back into the
//! core's [`Outcome`]. Decides nothing.

use js_sys::{Function, JsString, Object};
use wasm_bindgen::{JsCast, JsValue};

use super::interop::{body_text, field, object, set_field};
use crate::core::{login_request_body, Effect, HttpReply, LoginCode, Outcome, PlatformFailure, StorageValue};

/// Longest `wx.login` code taken into wasm memory (real ones are 32 characters).
const MAX_CODE_CHARS: u32 = 1024;
/// Longest stored session taken into wasm memory (ours is under 5 KB).
const MAX_STORED_CHARS: u32 = 64 * 1024;
/// Longest login reply taken into wasm memory: wasm memory never shrinks, so a huge reply
/// is refused before it is copied in.
const MAX_REPLY_CHARS: u32 = 64 * 1024;

/// What a platform call in flight will answer.
#[derive(Debug, Clone, Copy)]
pub enum Awaiting {
    ReadStorage,
    /// A write or a removal of storage, by its method name.
    Storage(&'static str),
    CheckSession,
    Code,
    Reply,
    /// A page's request (the shim performs it and answers through `sent` / `sendFailed`).
    Send,
}

/// The platform method and options for `effect` (not `Send`/`Abort`, which the driver performs).
pub fn prepare(effect: Effect) -> (Awaiting, &'static str, Object) {
    match effect {
        Effect::ReadStorage { key } => (Awaiting::ReadStorage, "getStorage", object(&[("key", key.into())])),
        Effect::WriteStorage { key, value } => {
            (Awaiting::Storage("setStorage"), "setStorage", object(&[("key", key.into()), ("data", value.into())]))
        }
        Effect::RemoveStorage { key } => {
            (Awaiting::Storage("removeStorage"), "removeStorage", object(&[("key", key.into())]))
        }
        Effect::CheckSession => (Awaiting::CheckSession, "checkSession", Object::new()),
        Effect::RequestCode { timeout_ms } => (Awaiting::Code, "login", object(&[("timeout", timeout_ms.into())])),
        Effect::PostCode { url, code, payload, timeout_ms } => {
            let header = object(&[("content-type", "application/json".into())]);
            let options = object(&[
                ("url", url.into()),
                ("method", "POST".into()),
                ("data", login_request_body(&code, payload.as_ref()).into()),
                ("header", header.into()),
                // Read the body as text: the core decides what a malformed reply means.
                ("dataType", "text".into()),
                ("responseType", "text".into()),
                ("timeout", timeout_ms.into()),
            ]);
            (Awaiting::Reply, "request", options)
        }
        // Performed by the shim (it keeps the page's options and the task); never here.
        Effect::Send { .. } | Effect::Abort => (Awaiting::Send, "request", Object::new()),
    }
}

/// A string no longer than `max` UTF-16 units, measured before it is copied into wasm memory.
fn bounded_string(value: &JsValue, max: u32) -> Result<Option<String>, ()> {
    match value.dyn_ref::<JsString>() {
        Some(text) if text.length() > max => Err(()),
        Some(_) => Ok(value.as_string()),
        None => Ok(None),
    }
}

/// The core's view of the platform's answer to a call made for `awaiting`.
pub fn outcome(awaiting: Awaiting, ok: bool, response: &JsValue) -> Outcome {
    match awaiting {
        // A failed read is WeChat's "data not found" (or a broken storage): no session either way.
        Awaiting::ReadStorage if !ok => Outcome::StorageRead(StorageValue::Missing),
        Awaiting::ReadStorage => {
            let data = field(response, "data");
            let value = if data.is_undefined() || data.is_null() {
                StorageValue::Missing
            } else {
                match bounded_string(&data, MAX_STORED_CHARS) {
                    Ok(Some(text)) if text.is_empty() => StorageValue::Missing,
                    Ok(Some(text)) => StorageValue::Text(text),
                    // Not a string, or far larger than anything we store: not our session.
                    Ok(None) | Err(()) => StorageValue::Other,
                }
            };
            Outcome::StorageRead(value)
        }
        Awaiting::Storage(method) => Outcome::StorageDone(answer(method, ok, response).map(drop)),
        Awaiting::CheckSession => Outcome::SessionChecked(ok),
        Awaiting::Code => Outcome::Code(answer("login", ok, response).and_then(|res| {
            match bounded_string(&field(&res, "code"), MAX_CODE_CHARS) {
                Ok(code) => Ok(LoginCode::new(code.unwrap_or_default())),
                Err(()) => Err(PlatformFailure::new("login:fail the code is longer than 1 KB")),
            }
        })),
        Awaiting::Reply => Outcome::Reply(answer("request", ok, response).map(|res| {
            let status = field(&res, "statusCode").as_f64().map_or(0, |s| s as u16);
            let data = field(&res, "data");
            // An oversized body is answered as an empty one: the core calls it a bad response.
            let body = match bounded_string(&data, MAX_REPLY_CHARS) {
                Err(()) => String::new(),
                Ok(_) => body_text(&data, MAX_REPLY_CHARS),
            };
            HttpReply { status, body }
        })),
        Awaiting::Send => Outcome::Sent(Err(PlatformFailure::new("request:fail sends are answered by the shim"))),
    }
}

fn answer(method: &str, ok: bool, response: &JsValue) -> Result<JsValue, PlatformFailure> {
    if ok {
        Ok(response.clone())
    } else {
        Err(failure_from(method, response))
    }
}

/// Calls `platform[method](options)` with the given `success`/`fail` callbacks and returns what
/// it returned (a request task, which can be aborted). A missing method, or one that throws, is
/// answered through `fail`, so the caller always hears back exactly as from the platform.
pub fn call_with(
    platform: &JsValue,
    method: &'static str,
    options: &Object,
    success: Function,
    fail: &Function,
) -> JsValue {
    set_field(options, "success", success.into());
    set_field(options, "fail", fail.clone().into());
    let outcome = match field(platform, method).dyn_into::<Function>() {
        Ok(function) => function.call1(platform, options),
        Err(_) => Err(object(&[("errMsg", [method, " is not available on this platform"].concat().into())]).into()),
    };
    match outcome {
        Ok(task) => task,
        Err(thrown) => {
            let _ = fail.call1(&JsValue::UNDEFINED, &thrown);
            JsValue::UNDEFINED
        }
    }
}

/// WeChat fails with `{ errMsg, errno? }`; a thrown `Error` has a `message`.
pub fn failure_from(method: &str, error: &JsValue) -> PlatformFailure {
    let text = |key| bounded_string(&field(error, key), 1024).ok().flatten();
    let errmsg = text("errMsg").or_else(|| text("message")).unwrap_or_else(|| [method, ":fail"].concat());
    let errno = field(error, "errno").as_f64().map(|n| n as i64);
    PlatformFailure { errmsg, errno }
}
