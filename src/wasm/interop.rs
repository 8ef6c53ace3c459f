//! Conversions between JavaScript values and the core's types, kept apart from the exported
//! methods so the boundary's shape is visible in one place.

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::core::config::OPTION_NAMES;
use crate::core::{ConfigInput, SessionError, SessionEvent, SessionView};

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn set(target: &Object, key: &str, value: JsValue) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(target, &JsValue::from_str(key), &value);
}

fn invalid(option: &str, reason: &str) -> SessionError {
    SessionError::ConfigInvalid { option: option.into(), reason: reason.into() }
}

fn string_option(options: &JsValue, key: &str) -> Result<Option<String>, SessionError> {
    let value = get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value.as_string().map(Some).ok_or_else(|| invalid(key, "must be a string"))
}

fn bool_option(options: &JsValue, key: &str) -> Result<Option<bool>, SessionError> {
    let value = get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value.as_bool().map(Some).ok_or_else(|| invalid(key, "must be true or false"))
}

fn number_option(options: &JsValue, key: &str) -> Result<Option<f64>, SessionError> {
    let value = get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value.as_f64().filter(|n| n.is_finite()).map(Some).ok_or_else(|| invalid(key, "must be a number"))
}

/// Reads `createClient`'s options object (without `platform`/`wasmPath`, which the shim keeps).
pub fn read_config(options: &JsValue) -> Result<ConfigInput, SessionError> {
    if !options.is_object() {
        return Err(invalid(
            "options",
            "createClient needs an options object, e.g. { baseUrl: 'https://api.example.com' }",
        ));
    }
    for key in Object::keys(options.unchecked_ref::<Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !OPTION_NAMES.contains(&key.as_str()) {
            return Err(invalid(
                &key,
                &format!("is not an option of createClient (known options: {})", OPTION_NAMES.join(", ")),
            ));
        }
    }
    Ok(ConfigInput {
        base_url: string_option(options, "baseUrl")?,
        login_path: string_option(options, "loginPath")?,
        storage_key: string_option(options, "storageKey")?,
        timeout_ms: number_option(options, "timeoutMs")?,
        allow_insecure_http: bool_option(options, "allowInsecureHttp")?,
        check_session: bool_option(options, "checkSession")?,
        token_field: string_option(options, "tokenField")?,
        expires_in_field: string_option(options, "expiresInField")?,
        expiry_margin_ms: number_option(options, "expiryMarginMs")?,
        max_login_attempts: number_option(options, "maxLoginAttempts")?,
        retry_base_delay_ms: number_option(options, "retryBaseDelayMs")?,
        retry_max_delay_ms: number_option(options, "retryMaxDelayMs")?,
    })
}

/// `{ code, message, retryable, errcode?, errMsg?, statusCode?, option? }`; the shim turns it
/// into an `MpSessionError`.
pub fn error_to_js(error: &SessionError) -> JsValue {
    let out = Object::new();
    set(&out, "code", error.code().into());
    set(&out, "message", error.to_string().into());
    set(&out, "retryable", error.is_retryable().into());
    if let Some(errcode) = error.errcode() {
        set(&out, "errcode", (errcode as f64).into());
    }
    if let Some(errmsg) = error.errmsg() {
        set(&out, "errMsg", errmsg.into());
    }
    if let Some(status) = error.status() {
        set(&out, "statusCode", status.into());
    }
    if let SessionError::ConfigInvalid { option, .. } = error {
        set(&out, "option", option.as_str().into());
    }
    out.into()
}

/// `{ token, expiresAt }`, what `ensureLogin()` resolves with.
pub fn view_to_js(view: &SessionView) -> JsValue {
    let out = Object::new();
    set(&out, "token", view.token.expose().into());
    set(&out, "expiresAt", (view.expires_at_ms as f64).into());
    out.into()
}

/// `{ type, … }`, what `onChange` listeners receive. Never carries the token.
pub fn event_to_js(event: &SessionEvent) -> JsValue {
    let out = Object::new();
    match event {
        SessionEvent::LoggedIn { expires_at_ms } => {
            set(&out, "type", "login".into());
            set(&out, "expiresAt", (*expires_at_ms as f64).into());
        }
        SessionEvent::LoggedOut => set(&out, "type", "logout".into()),
        SessionEvent::Expired => set(&out, "type", "expired".into()),
        SessionEvent::StorageFailed { message } => {
            set(&out, "type", "storageFailed".into());
            set(&out, "message", message.as_str().into());
        }
    }
    out.into()
}

/// A plain object with string-keyed entries.
pub fn object(entries: &[(&str, JsValue)]) -> Object {
    let out = Object::new();
    for (key, value) in entries {
        set(&out, key, value.clone());
    }
    out
}

pub fn field(target: &JsValue, key: &str) -> JsValue {
    get(target, key)
}

pub fn set_field(target: &Object, key: &str, value: &JsValue) {
    set(target, key, value.clone());
}

/// The text of a response body that a platform parsed although we asked for text.
pub fn body_text(data: &JsValue) -> String {
    if let Some(text) = data.as_string() {
        return text;
    }
    if data.is_undefined() || data.is_null() {
        return String::new();
    }
    js_sys::JSON::stringify(data).ok().and_then(|s| s.as_string()).unwrap_or_default()
}
