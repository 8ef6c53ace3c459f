//! What a page adds to the code exchange: `ensureLogin({ payload: { phoneCode } })` posts
//! `{ code, ...payload }` (one-tap phone login sends the phone code with the login code, so the
//! session that comes back is the bound one). A one-time phone code is as much a secret as the
//! login code: a payload is never stored, logged or put in an error message, and its `Debug`
//! prints no value.

use core::fmt;
use std::rc::Rc;

use crate::core::codec::json::Json;
use crate::core::error::SessionError;

/// Largest payload accepted, as JSON text in UTF-8 bytes.
pub const MAX_PAYLOAD_BYTES: usize = 4096;

/// A login payload: a JSON object with no member named `code`, kept as its JSON text. Two calls
/// carry the same payload when their texts are equal.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload(Rc<String>);

impl Payload {
    /// Checks `text` (the shim's JSON of the page's plain copy): an object of at most
    /// [`MAX_PAYLOAD_BYTES`] whose members may be anything but `code`, which the exchange's own
    /// `wx.login` code fills.
    pub fn parse(text: &str) -> Result<Payload, SessionError> {
        let doc = object_of(text, "payload", "must be an object of JSON values, such as { phoneCode }")?;
        if doc.get("code").is_some() {
            return Err(invalid("payload.code", "is reserved: the exchange sends wx.login's code under that name"));
        }
        Ok(Payload(Rc::new(text.trim().to_string())))
    }

    /// `login({ data })`'s body: any object of at most [`MAX_PAYLOAD_BYTES`] (a `code` member is an
    /// SMS code here: no `wx.login` code goes with it).
    pub fn account_data(text: &str) -> Result<Payload, SessionError> {
        object_of(text, "data", "must be an object of JSON values, such as { username, password }")?;
        Ok(Payload(Rc::new(text.trim().to_string())))
    }

    /// The JSON text, as the page's copy gave it.
    pub(crate) fn text(&self) -> &str {
        &self.0
    }

    /// The members that follow `code` in the exchange's body: the text between the braces.
    pub(crate) fn members(&self) -> &str {
        self.0.get(1..self.0.len().saturating_sub(1)).unwrap_or_default().trim()
    }
}

fn invalid(option: &str, reason: &str) -> SessionError {
    SessionError::ConfigInvalid { option: option.into(), reason: reason.into() }
}

/// `text` parsed, when it is a JSON object of at most [`MAX_PAYLOAD_BYTES`]; else `CONFIG_INVALID`
/// for `option`, saying `not_object` when it is no object.
fn object_of(text: &str, option: &str, not_object: &str) -> Result<Json, SessionError> {
    if text.len() > MAX_PAYLOAD_BYTES {
        return Err(invalid(option, "is larger than 4 KB as JSON"));
    }
    match Json::parse(text) {
        Ok(doc @ Json::Object(_)) => Ok(doc),
        _ => Err(invalid(option, not_object)),
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Payload([redacted])")
    }
}

/// What an explicit login sends: `wx.login`'s code with a payload's members to `loginPath`
/// (`ensureLogin({ payload })`), or an account's data alone to its own URL (`login({ path, data })`,
/// no `wx.login`). Two callers share a login when theirs are equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginWith {
    Code(Payload),
    Account { url: String, data: Payload },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_objects_without_code_and_redacts_them() {
        let p = Payload::parse(r#" {"phoneCode":"secret-phone-code","n":[1,{"a":null}]} "#).unwrap();
        assert_eq!(p.members(), r#""phoneCode":"secret-phone-code","n":[1,{"a":null}]"#);
        assert_eq!(format!("{p:?}"), "Payload([redacted])");
        assert_eq!(Payload::parse("{ }").unwrap().members(), "");
    }

    #[test]
    fn refuses_code_non_objects_and_oversized_text() {
        let option = |text: &str| match Payload::parse(text) {
            Err(SessionError::ConfigInvalid { option, .. }) => option,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(option(r#"{"code":"x"}"#), "payload.code");
        assert_eq!(option(r#"{"\u0063ode":"x"}"#), "payload.code");
        for bad in ["[]", "\"x\"", "null", "{", "{\"a\":1} x", ""] {
            assert_eq!(option(bad), "payload", "{bad}");
        }
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_PAYLOAD_BYTES));
        assert_eq!(option(&big), "payload");
    }
}
