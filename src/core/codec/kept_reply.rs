//! The fields of the login reply kept with the session (`replyFields`): the user's id, whether
//! they are new, their profile — data the page needs at once, which servers send with the token.
//!
//! The kept reply is JSON text, nested as in the server's reply (`user.id` is kept as
//! `{"user":{"id":…}}`), written from the parsed reply member by member so that no member named
//! like `session_key` is ever kept, however deep, whatever was listed. It is stored with the
//! session and handed to the page as `LoginState.reply`.

use crate::core::codec::json::{write_string, Json};

/// Largest kept reply, as JSON text in UTF-8 bytes. A larger one is refused, not cut.
pub const MAX_KEPT_BYTES: usize = 16 * 1024;

/// Whether a member name contains `session_key` or `sessionKey`, in any case (underscores are
/// skipped). WeChat's `session_key` must stay on the developer's server.
pub fn is_secret_name(name: &str) -> bool {
    const SECRET: &[u8] = b"sessionkey";
    let bytes = name.as_bytes();
    (0..bytes.len()).any(|start| {
        let mut matched = 0;
        for &b in bytes.get(start..).unwrap_or_default() {
            // `| 0x20` folds ASCII letters to lower case; `_` folds to 0x7f.
            let b = b | 0x20;
            if b == 0x7f {
                continue;
            }
            if SECRET.get(matched) != Some(&b) {
                return false;
            }
            matched += 1;
            if matched == SECRET.len() {
                return true;
            }
        }
        false
    })
}

/// The members of `reply` that `fields` (paths of member names) select, as JSON text: `{}` when
/// none is there, `None` when it is over [`MAX_KEPT_BYTES`].
pub fn keep(reply: &Json, fields: &[Vec<String>]) -> Option<String> {
    let paths: Vec<&[String]> = fields.iter().map(Vec::as_slice).collect();
    let mut out = String::new();
    if !write(&mut out, reply, Some(&paths)) {
        out.push_str("{}");
    }
    (out.len() <= MAX_KEPT_BYTES).then_some(out)
}

/// A stored kept reply read back: it must be an object; written again (so a secret member never
/// survives) and bounded like a fresh one.
pub fn reread(stored: &Json) -> Option<String> {
    let Json::Object(_) = stored else { return None };
    let mut out = String::new();
    write(&mut out, stored, None);
    (out.len() <= MAX_KEPT_BYTES).then_some(out)
}

/// Appends `node` as JSON text — with `paths`, only the members they select (all of a member a
/// path ends at) — leaving out every member named like `session_key`. Numbers are written as the
/// server wrote them. Returns false, having written nothing, when `paths` select nothing here.
fn write(out: &mut String, node: &Json, paths: Option<&[&[String]]>) -> bool {
    let paths = paths.filter(|paths| !paths.iter().any(|p| p.is_empty()));
    match node {
        Json::Object(members) => {
            let start = out.len();
            out.push('{');
            for (key, value) in members.iter().filter(|(key, _)| !is_secret_name(key)) {
                let below: Option<Vec<&[String]>> = paths.map(|paths| {
                    paths
                        .iter()
                        .filter_map(|p| p.split_first().filter(|(first, _)| *first == key).map(|(_, rest)| rest))
                        .collect()
                });
                if below.as_ref().is_some_and(Vec::is_empty) {
                    continue;
                }
                let mark = out.len();
                if out.len() > start + 1 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                if !write(out, value, below.as_deref()) {
                    out.truncate(mark);
                }
            }
            if paths.is_some() && out.len() == start + 1 {
                out.truncate(start);
                return false;
            }
            out.push('}');
        }
        _ if paths.is_some() => return false,
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item, None);
            }
            out.push(']');
        }
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(_, text) => out.push_str(text),
        Json::String(s) => write_string(out, s),
    }
    true
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn kept_values_read_back_the_same(text in r#"\{"a":[\[\]{}",:0-9eE.+\-tfnrul\\ a]{0,64}\}"#) {
            if let Ok(doc) = Json::parse(&text) {
                let out = keep(&doc, &[vec!["a".to_string()]]).unwrap();
                let kept = Json::parse(&out).unwrap();
                prop_assert_eq!(kept.get("a"), doc.get("a"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(reply: &str, fields: &[&str]) -> String {
        let fields: Vec<Vec<String>> = fields.iter().map(|f| f.split('.').map(str::to_string).collect()).collect();
        keep(&Json::parse(reply).unwrap(), &fields).unwrap()
    }

    #[test]
    fn keeps_listed_fields_nested_as_in_the_reply() {
        let reply = r#"{"token":"t","user":{"id":7,"name":"n","tags":["a"]},"isNewUser":true,"extra":1}"#;
        assert_eq!(
            kept(reply, &["user", "isNewUser"]),
            r#"{"user":{"id":7,"name":"n","tags":["a"]},"isNewUser":true}"#
        );
        assert_eq!(kept(reply, &["user.id", "isNewUser"]), r#"{"user":{"id":7},"isNewUser":true}"#);
        assert_eq!(kept(reply, &["user.id", "user"]), r#"{"user":{"id":7,"name":"n","tags":["a"]}}"#);
        assert_eq!(
            kept(reply, &["isNewUser", "user.tags", "user.id"]),
            r#"{"user":{"id":7,"tags":["a"]},"isNewUser":true}"#
        );
        assert_eq!(kept(reply, &["missing", "user.missing", "extra.x", "user.tags.0"]), "{}");
        assert_eq!(kept(reply, &[]), "{}");
        assert_eq!(kept(r#"{"n":12345678901234567890.50}"#, &["n"]), r#"{"n":12345678901234567890.50}"#);
    }

    #[test]
    fn values_are_written_back_as_they_were_read() {
        let text = r#"{"a":[1,-2.50,1E3,12345678901234567890,true,null,[],[[]],{}],"b":{"c":"x\"y\u00e9"},"d":{}}"#;
        assert_eq!(kept(text, &["a", "b", "d"]), text.replace("\\u00e9", "é"));
        assert_eq!(reread(&Json::parse(text).unwrap()).unwrap(), text.replace("\\u00e9", "é"));
    }

    #[test]
    fn never_keeps_a_session_key() {
        let reply = r#"{"user":{"id":1,"session_key":"S","Session_Key_2":"S","sessionKey":"S","list":[{"x_SESSIONKEY":1}]},"session_key":"S"}"#;
        assert_eq!(kept(reply, &["user"]), r#"{"user":{"id":1,"list":[{}]}}"#);
        for name in ["session_key", "SESSION_KEY", "wx_session_key", "sessionKey", "SessionKeyV2"] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["session", "key", "sessionId", "session_id", "keys", "", "ſession_key"] {
            assert!(!is_secret_name(name), "{name}");
        }
        let stored = Json::parse(r#"{"a":{"session_key":"S","b":2}}"#).unwrap();
        assert_eq!(reread(&stored).as_deref(), Some(r#"{"a":{"b":2}}"#));
        assert_eq!(reread(&Json::parse("[1]").unwrap()), None);
    }

    #[test]
    fn a_kept_reply_over_the_limit_is_refused() {
        let just = format!(r#"{{"user":{{"bio":"{}"}}}}"#, "x".repeat(MAX_KEPT_BYTES - 19));
        let fields = vec![vec!["user".to_string()]];
        assert_eq!(keep(&Json::parse(&just).unwrap(), &fields).map(|k| k.len()), Some(MAX_KEPT_BYTES));
        let over = format!(r#"{{"user":{{"bio":"{}"}}}}"#, "x".repeat(MAX_KEPT_BYTES - 18));
        assert_eq!(keep(&Json::parse(&over).unwrap(), &fields), None);
        assert_eq!(reread(&Json::parse(&over).unwrap()), None);
    }
}
