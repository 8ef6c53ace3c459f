//! `createClient`'s options as they cross the boundary: one JSON text, read here by one table.
//!
//! The shim copies the page's options into plain data and hands the core `JSON.stringify` of the
//! copy (non-finite numbers as strings, so that they are refused rather than turned into `null`).
//! Each row of [`OPTIONS`] names an option, what its value must be, and where it goes in
//! [`ConfigInput`]; [`ConfigInput::validate`] then checks ranges and combinations. Adding an option
//! adds a row, not a reader: reading options one JavaScript value at a time was a sixth of the wasm.

use crate::core::codec::json::Json;
use crate::core::config::{BodyValue, ConfigInput};
use crate::core::error::SessionError;

/// What a row does with its value: store it (the function answers `None` when the value is not of
/// the row's kind), or read a nested object by its own rows.
enum Kind {
    Value(fn(&mut ConfigInput, &Json) -> Option<()>),
    Group(&'static [Row]),
}

struct Row {
    name: &'static str,
    /// Said of a value of the wrong kind: "invalid option `name`: {expected}".
    expected: &'static str,
    kind: Kind,
}

const STRING: &str = "must be a string";
const NUMBER: &str = "must be a number";
const FLAG: &str = "must be true or false";

/// Every option `createClient` accepts (the shim keeps `platform` and `wasmPath`). Anything else is
/// refused, so a typo such as `baseURL` is caught instead of silently ignored.
const OPTIONS: &[Row] = &[
    Row { name: "baseUrl", expected: STRING, kind: Kind::Value(|c, v| text(v).map(|t| c.base_url = Some(t))) },
    Row { name: "loginPath", expected: STRING, kind: Kind::Value(|c, v| text(v).map(|t| c.login_path = Some(t))) },
    Row { name: "storageKey", expected: STRING, kind: Kind::Value(|c, v| text(v).map(|t| c.storage_key = Some(t))) },
    Row { name: "timeoutMs", expected: NUMBER, kind: Kind::Value(|c, v| number(v).map(|n| c.timeout_ms = Some(n))) },
    Row {
        name: "allowInsecureHttp",
        expected: FLAG,
        kind: Kind::Value(|c, v| flag(v).map(|b| c.allow_insecure_http = Some(b))),
    },
    Row { name: "checkSession", expected: FLAG, kind: Kind::Value(|c, v| flag(v).map(|b| c.check_session = Some(b))) },
    Row { name: "tokenField", expected: STRING, kind: Kind::Value(|c, v| text(v).map(|t| c.token_field = Some(t))) },
    Row {
        name: "expiresInField",
        expected: STRING,
        kind: Kind::Value(|c, v| text(v).map(|t| c.expires_in_field = Some(t))),
    },
    Row {
        name: "expiryMarginMs",
        expected: NUMBER,
        kind: Kind::Value(|c, v| number(v).map(|n| c.expiry_margin_ms = Some(n))),
    },
    Row {
        name: "maxLoginAttempts",
        expected: NUMBER,
        kind: Kind::Value(|c, v| number(v).map(|n| c.max_login_attempts = Some(n))),
    },
    Row {
        name: "retryBaseDelayMs",
        expected: NUMBER,
        kind: Kind::Value(|c, v| number(v).map(|n| c.retry_base_delay_ms = Some(n))),
    },
    Row {
        name: "retryMaxDelayMs",
        expected: NUMBER,
        kind: Kind::Value(|c, v| number(v).map(|n| c.retry_max_delay_ms = Some(n))),
    },
    Row { name: "tokenHeader", expected: STRING, kind: Kind::Value(|c, v| text(v).map(|t| c.token_header = Some(t))) },
    Row { name: "tokenScheme", expected: STRING, kind: Kind::Value(|c, v| text(v).map(|t| c.token_scheme = Some(t))) },
    Row {
        name: "expiredWhen",
        expected: "must be an object such as { statuses: [401], bodyField: 'code', bodyValues: [40101] }",
        kind: Kind::Group(EXPIRED_WHEN),
    },
    Row {
        name: "trustedOrigins",
        expected: "must be an array of origins",
        kind: Kind::Value(|c, v| list(v, text).map(|l| c.trusted_origins = Some(l))),
    },
    Row {
        name: "maxConcurrentRequests",
        expected: NUMBER,
        kind: Kind::Value(|c, v| number(v).map(|n| c.max_concurrent_requests = Some(n))),
    },
    Row {
        name: "maxRequestAttempts",
        expected: NUMBER,
        kind: Kind::Value(|c, v| number(v).map(|n| c.max_request_attempts = Some(n))),
    },
    Row {
        name: "replyFields",
        expected: "must be an array of field names or dotted paths such as 'user.id'",
        kind: Kind::Value(|c, v| list(v, text).map(|l| c.reply_fields = Some(l))),
    },
    Row {
        name: "refresh",
        expected: "must be an object such as { path: '/auth/refresh' }",
        kind: Kind::Group(REFRESH),
    },
    Row { name: "silentLogin", expected: FLAG, kind: Kind::Value(|c, v| flag(v).map(|b| c.silent_login = Some(b))) },
    Row { name: "cookie", expected: STRING, kind: Kind::Value(|c, v| text(v).map(|t| c.cookie = Some(t))) },
];

/// `refresh`'s members.
const REFRESH: &[Row] = &[
    Row { name: "path", expected: STRING, kind: Kind::Value(|c, v| text(v).map(|t| c.refresh_path = Some(t))) },
    Row {
        name: "tokenField",
        expected: STRING,
        kind: Kind::Value(|c, v| text(v).map(|t| c.refresh_token_field = Some(t))),
    },
    Row {
        name: "expiresInField",
        expected: STRING,
        kind: Kind::Value(|c, v| text(v).map(|t| c.refresh_expires_in_field = Some(t))),
    },
];

/// `expiredWhen`'s members.
const EXPIRED_WHEN: &[Row] = &[
    Row {
        name: "statuses",
        expected: "must be an array of HTTP statuses",
        kind: Kind::Value(|c, v| list(v, number).map(|l| c.expired_statuses = Some(l))),
    },
    Row {
        name: "bodyField",
        expected: STRING,
        kind: Kind::Value(|c, v| text(v).map(|t| c.expired_body_field = Some(t))),
    },
    Row {
        name: "bodyValues",
        expected: "must be an array of numbers or strings",
        kind: Kind::Value(|c, v| list(v, BodyValue::of).map(|l| c.expired_body_values = Some(l))),
    },
];

fn text(value: &Json) -> Option<String> {
    value.as_str().map(str::to_string)
}

fn number(value: &Json) -> Option<f64> {
    value.as_f64()
}

fn flag(value: &Json) -> Option<bool> {
    match value {
        Json::Bool(b) => Some(*b),
        _ => None,
    }
}

fn list<T>(value: &Json, item: fn(&Json) -> Option<T>) -> Option<Vec<T>> {
    match value {
        Json::Array(items) => items.iter().map(item).collect(),
        _ => None,
    }
}

fn invalid(option: String, reason: String) -> SessionError {
    SessionError::ConfigInvalid { option, reason }
}

/// Reads `object`'s members by `rows` into `input`: an unknown name, or a value of the wrong kind,
/// is `CONFIG_INVALID` naming it (with `prefix`, `expiredWhen.` for nested ones). `null` means
/// "use the default", as an absent member does.
fn read_rows(
    input: &mut ConfigInput,
    members: &[(String, Json)],
    rows: &[Row],
    prefix: &str,
) -> Result<(), SessionError> {
    for (name, value) in members {
        let Some(row) = rows.iter().find(|row| row.name == name) else {
            let known: Vec<&str> = rows.iter().map(|row| row.name).collect();
            let reason = String::from("is not an option of createClient (known options: ") + &known.join(", ") + ")";
            return Err(invalid(String::from(prefix) + name, reason));
        };
        let stored = match (&row.kind, value) {
            (_, Json::Null) => Some(()),
            (Kind::Value(store), value) => store(input, value),
            (Kind::Group(rows), Json::Object(members)) => {
                read_rows(input, members, rows, &(String::from(prefix) + name + "."))?;
                Some(())
            }
            (Kind::Group(_), _) => None,
        };
        if stored.is_none() {
            return Err(invalid(String::from(prefix) + name, row.expected.into()));
        }
    }
    Ok(())
}

impl ConfigInput {
    /// Reads the JSON text of `createClient`'s options (less `platform` and `wasmPath`).
    pub fn from_json(text: &str) -> Result<ConfigInput, SessionError> {
        let Ok(Json::Object(members)) = Json::parse(text) else {
            return Err(invalid(
                "options".into(),
                "createClient needs an options object, e.g. { baseUrl: 'https://api.example.com' }".into(),
            ));
        };
        let mut input = ConfigInput::default();
        read_rows(&mut input, &members, OPTIONS, "")?;
        Ok(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> (String, String) {
        match ConfigInput::from_json(text) {
            Err(SessionError::ConfigInvalid { option, reason }) => (option, reason),
            other => panic!("expected CONFIG_INVALID for {text}, got {other:?}"),
        }
    }

    #[test]
    fn every_row_lands_in_its_field() {
        let input = ConfigInput::from_json(
            r#"{"baseUrl":"https://x","loginPath":"/l","storageKey":"k","timeoutMs":5,"allowInsecureHttp":true,
            "checkSession":false,"tokenField":"t","expiresInField":"e","expiryMarginMs":6,"maxLoginAttempts":2,
            "retryBaseDelayMs":7,"retryMaxDelayMs":8,"tokenHeader":"X-T","tokenScheme":"","trustedOrigins":["https://y"],
            "maxConcurrentRequests":3,"maxRequestAttempts":4,"replyFields":["user.id"],"silentLogin":false,"cookie":"sid",
            "refresh":{"path":"/r","tokenField":"rt","expiresInField":"rte"},
            "expiredWhen":{"statuses":[401,419],"bodyField":"code","bodyValues":[40101,"expired"]}}"#,
        )
        .unwrap();
        let expected = ConfigInput {
            base_url: Some("https://x".into()),
            login_path: Some("/l".into()),
            storage_key: Some("k".into()),
            timeout_ms: Some(5.0),
            allow_insecure_http: Some(true),
            check_session: Some(false),
            token_field: Some("t".into()),
            expires_in_field: Some("e".into()),
            expiry_margin_ms: Some(6.0),
            max_login_attempts: Some(2.0),
            retry_base_delay_ms: Some(7.0),
            retry_max_delay_ms: Some(8.0),
            token_header: Some("X-T".into()),
            token_scheme: Some(String::new()),
            expired_statuses: Some(vec![401.0, 419.0]),
            expired_body_field: Some("code".into()),
            expired_body_values: Some(vec![BodyValue::Number(40101.0), BodyValue::Text("expired".into())]),
            trusted_origins: Some(vec!["https://y".into()]),
            max_concurrent_requests: Some(3.0),
            max_request_attempts: Some(4.0),
            reply_fields: Some(vec!["user.id".into()]),
            refresh_path: Some("/r".into()),
            refresh_token_field: Some("rt".into()),
            refresh_expires_in_field: Some("rte".into()),
            silent_login: Some(false),
            cookie: Some("sid".into()),
        };
        assert_eq!(input, expected);
    }

    #[test]
    fn null_is_the_default_and_wrong_kinds_name_their_option() {
        assert_eq!(ConfigInput::from_json(r#"{"baseUrl":null,"expiredWhen":null}"#).unwrap(), ConfigInput::default());
        assert_eq!(refused("[]").0, "options");
        assert_eq!(refused("\"https://x\"").0, "options");
        assert_eq!(refused("{").0, "options");
        assert_eq!(refused(r#"{"baseURL":"https://x"}"#).0, "baseURL");
        assert!(refused(r#"{"baseURL":"https://x"}"#).1.contains("known options: baseUrl, loginPath"));
        assert_eq!(refused(r#"{"timeoutMs":"NaN"}"#), ("timeoutMs".into(), NUMBER.into()));
        assert_eq!(refused(r#"{"checkSession":1}"#), ("checkSession".into(), FLAG.into()));
        assert_eq!(refused(r#"{"trustedOrigins":["https://y",3]}"#).0, "trustedOrigins");
        assert_eq!(refused(r#"{"expiredWhen":[401]}"#).0, "expiredWhen");
        assert_eq!(refused(r#"{"expiredWhen":{"status":[401]}}"#).0, "expiredWhen.status");
        assert_eq!(refused(r#"{"expiredWhen":{"bodyValues":[true]}}"#).0, "expiredWhen.bodyValues");
    }
}
