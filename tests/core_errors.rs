//! Errors cross the wasm boundary as a code and fields, and `js/errors.js` renders their message.
//! `tests/support/error-messages.json` lists one error of each code with its fields and message:
//! here each variant must give those fields and, through `Display`, that message; the package test
//! (`tests/js/package.test.js`) renders the same fields in JavaScript and must get the same text.
#![cfg(not(target_arch = "wasm32"))]
// The helpers below read a fixture: a malformed one should stop the test loudly.
#![allow(clippy::panic)]

use mp_session::core::codec::json::Json;
use mp_session::core::{ErrorFields, PlatformFailure, SessionError};

fn examples() -> Vec<SessionError> {
    let failure = |errmsg: &str, errno| PlatformFailure { errmsg: errmsg.into(), errno };
    vec![
        SessionError::ConfigInvalid {
            option: "timeoutMs".into(),
            reason: "must be a whole number from 1 to 60000".into(),
        },
        SessionError::WxLoginFailed(failure("login:fail auth deny", Some(104))),
        SessionError::Network { during: "the login request", failure: failure("request:fail timeout", None) },
        SessionError::Timeout { during: "wx.login", after_ms: 10_000 },
        SessionError::LoginRejected { status: 400, errcode: Some(40163), errmsg: "code been used".into() },
        SessionError::RateLimited { status: 429, errcode: None, errmsg: "slow down".into() },
        SessionError::UserBlocked { errmsg: "risky".into() },
        SessionError::ServerError { status: 503, errcode: Some(-1), errmsg: "system busy".into(), attempts: 3 },
        SessionError::BadResponse { status: 200, reason: "the login reply is not JSON".into() },
        SessionError::SessionExpired,
        SessionError::LoggedOut,
        SessionError::LoginRequired,
        SessionError::Aborted,
    ]
}

/// The fields as the driver puts them on the JavaScript error object, as (key, JSON text) pairs.
fn as_members(fields: &ErrorFields) -> Vec<(String, String)> {
    let text = |s: &str| {
        let mut out = String::new();
        mp_session::core::codec::json::write_string(&mut out, s);
        out
    };
    let mut members = vec![("code".to_string(), text(fields.code)), ("retryable".into(), fields.retryable.to_string())];
    let texts =
        [("option", fields.option), ("reason", fields.reason), ("errMsg", fields.errmsg), ("during", fields.during)];
    members.extend(texts.iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), text(v)))));
    let numbers = [
        ("errcode", fields.errcode),
        ("statusCode", fields.status.map(i64::from)),
        ("afterMs", fields.after_ms.map(i64::from)),
        ("attempts", fields.attempts.map(i64::from)),
    ];
    members.extend(numbers.iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string()))));
    members.sort();
    members
}

fn fixture_members(fields: &Json) -> Vec<(String, String)> {
    let Json::Object(members) = fields else { panic!("fields must be an object") };
    let mut out: Vec<(String, String)> = members
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Json::String(s) => {
                    let mut out = String::new();
                    mp_session::core::codec::json::write_string(&mut out, s);
                    out
                }
                Json::Number(_, written) => written.to_string(),
                Json::Bool(b) => b.to_string(),
                other => panic!("unexpected field value {other:?}"),
            };
            (k.clone(), text)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_code_has_its_fields_and_message_as_the_shared_list_says() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/error-messages.json")).unwrap();
    let Json::Array(listed) = Json::parse(&text).unwrap() else { panic!("the list must be an array") };
    let examples = examples();
    assert_eq!(listed.len(), examples.len(), "one listed error per example");
    for (error, entry) in examples.iter().zip(&listed) {
        assert_eq!(as_members(&error.fields()), fixture_members(entry.get("fields").unwrap()), "{error:?}");
        assert_eq!(error.to_string(), entry.get("message").and_then(Json::as_str).unwrap(), "{error:?}");
    }
}
