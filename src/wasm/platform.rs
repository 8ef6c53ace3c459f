//! Performs the core's effects on the injected platform object (`wx`, `uni`, `tt`, `qq` or a
//! test double), turning each callback-style API into a future. Decides nothing.

use js_sys::{Function, Object, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::interop::{body_text, field, object, set_field};
use crate::core::{login_request_body, Effect, HttpReply, LoginCode, Outcome, PlatformFailure, StorageValue};

/// Calls `platform[method](options)` with `success`/`fail` callbacks, as a future. A method that
/// is missing or throws is a failure, never a hang or an exception.
async fn call(platform: &JsValue, method: &'static str, options: Object) -> Result<JsValue, PlatformFailure> {
    let promise = Promise::new(&mut |resolve, reject| {
        call_with(platform, method, &options, &resolve, &reject);
    });
    JsFuture::from(promise).await.map_err(|e| failure_from(method, &e))
}

/// Calls `platform[method](options)` with the given `success`/`fail` callbacks and returns what
/// it returned (a request task, which can be aborted). A missing method, or one that throws, is
/// answered through `fail`, so the caller always hears back exactly as from the platform.
pub fn call_with(
    platform: &JsValue,
    method: &'static str,
    options: &Object,
    success: &Function,
    fail: &Function,
) -> JsValue {
    set_field(options, "success", success);
    set_field(options, "fail", fail);
    let outcome = match field(platform, method).dyn_into::<Function>() {
        Ok(function) => function.call1(platform, options),
        Err(_) => Err(object(&[("errMsg", format!("{method} is not available on this platform").into())]).into()),
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
    let errmsg = field(error, "errMsg")
        .as_string()
        .or_else(|| field(error, "message").as_string())
        .unwrap_or_else(|| format!("{method}:fail"));
    let errno = field(error, "errno").as_f64().map(|n| n as i64);
    PlatformFailure { errmsg, errno }
}

pub async fn perform(platform: &JsValue, effect: Effect) -> Outcome {
    match effect {
        Effect::ReadStorage { key } => {
            let read = call(platform, "getStorage", object(&[("key", key.into())])).await;
            // A failed read is WeChat's "data not found" (or a broken storage): no session either way.
            let value = match read.map(|res| field(&res, "data")) {
                Ok(data) if data.is_undefined() || data.is_null() || data.as_string().as_deref() == Some("") => {
                    StorageValue::Missing
                }
                Ok(data) => data.as_string().map_or(StorageValue::Other, StorageValue::Text),
                Err(_) => StorageValue::Missing,
            };
            Outcome::StorageRead(value)
        }
        Effect::WriteStorage { key, value } => {
            let options = object(&[("key", key.into()), ("data", value.into())]);
            Outcome::StorageDone(call(platform, "setStorage", options).await.map(drop))
        }
        Effect::RemoveStorage { key } => {
            Outcome::StorageDone(call(platform, "removeStorage", object(&[("key", key.into())])).await.map(drop))
        }
        Effect::CheckSession => Outcome::SessionChecked(call(platform, "checkSession", Object::new()).await.is_ok()),
        Effect::RequestCode { timeout_ms } => {
            let result = call(platform, "login", object(&[("timeout", timeout_ms.into())])).await;
            Outcome::Code(result.map(|res| LoginCode::new(field(&res, "code").as_string().unwrap_or_default())))
        }
        // Sends are performed by the driver itself (it keeps the page's options and the task).
        Effect::Send { .. } | Effect::Abort => Outcome::Sent(Err(PlatformFailure::new("not a platform call"))),
        Effect::PostCode { url, code, timeout_ms } => {
            let header = object(&[("content-type", "application/json".into())]);
            let options = object(&[
                ("url", url.into()),
                ("method", "POST".into()),
                ("data", login_request_body(&code).into()),
                ("header", header.into()),
                // Read the body as text: the core decides what a malformed reply means.
                ("dataType", "text".into()),
                ("responseType", "text".into()),
                ("timeout", timeout_ms.into()),
            ]);
            let result = call(platform, "request", options).await;
            Outcome::Reply(result.map(|res| HttpReply {
                status: field(&res, "statusCode").as_f64().map_or(0, |s| s as u16),
                body: body_text(&field(&res, "data")),
            }))
        }
    }
}
