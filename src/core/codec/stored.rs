//! The session as it is kept in `wx.setStorage`: versioned JSON holding the token, its expiry and,
//! with `replyFields`, the kept reply, with `refresh`, the refresh token — and nothing else (never `session_key`, `openid` or a login
//! payload, whatever the server or the page sent). Without a kept reply the value is exactly
//! `{"version":1,"token":…,"expiresAt":…}`.

use crate::core::codec::json::{decimal, write_string, Json};
use crate::core::codec::kept_reply;
use crate::core::token::Token;

/// The format's version; a value with another version is treated as foreign and removed.
const VERSION: i64 = 1;

/// Latest instant we accept as an expiry: year 2100 in ms. Anything later is a corrupt value.
pub const MAX_EXPIRES_AT_MS: u64 = 4_102_444_800_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub token: Token,
    pub expires_at_ms: u64,
    /// The kept reply's JSON text (an object), as [`kept_reply`] wrote it.
    pub reply: Option<String>,
    /// The refresh token (with `refresh`), and when it expires if the server said.
    pub refresh: Option<(Token, Option<u64>)>,
}

pub fn encode(session: &StoredSession) -> String {
    let mut out = String::from("{\"version\":1,\"token\":");
    write_string(&mut out, session.token.expose());
    out.push_str(",\"expiresAt\":");
    out.push_str(&decimal(session.expires_at_ms));
    if let Some((token, expires_at)) = &session.refresh {
        out.push_str(",\"refreshToken\":");
        write_string(&mut out, token.expose());
        if let Some(at) = expires_at {
            out.push_str(",\"refreshExpiresAt\":");
            out.push_str(&decimal(*at));
        }
    }
    if let Some(reply) = &session.reply {
        out.push_str(",\"reply\":");
        out.push_str(reply);
    }
    out.push('}');
    out
}

/// `None` for anything that is not a session this version wrote: the caller removes it.
pub fn decode(text: &str) -> Option<StoredSession> {
    let doc = Json::parse(text).ok()?;
    if doc.get("version")?.as_integer()? != VERSION {
        return None;
    }
    let token = doc.get("token")?.as_str()?;
    let expires_at = doc.get("expiresAt")?.as_integer()?;
    if !crate::core::codec::login_reply::is_sendable_token(token)
        || expires_at <= 0
        || expires_at as u64 > MAX_EXPIRES_AT_MS
    {
        return None;
    }
    // A reply that is there must be readable: an unreadable one makes the whole value corrupt.
    let reply = match doc.get("reply") {
        Some(reply) => Some(kept_reply::reread(reply)?),
        None => None,
    };
    let refresh = match doc.get("refreshToken") {
        None => None,
        Some(found) => {
            let token = found.as_str().filter(|t| crate::core::codec::login_reply::is_sendable_token(t))?;
            let expires_at = match doc.get("refreshExpiresAt") {
                None => None,
                Some(at) => Some(at.as_integer().filter(|&at| at > 0 && at as u64 <= MAX_EXPIRES_AT_MS)? as u64),
            };
            Some((Token::new(token.to_string()), expires_at))
        }
    };
    Some(StoredSession { token: Token::new(token.to_string()), expires_at_ms: expires_at as u64, reply, refresh })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_only_token_and_expiry() {
        let s = StoredSession {
            token: Token::new("t\"ok".into()),
            expires_at_ms: 1_800_000_000_000,
            reply: None,
            refresh: None,
        };
        let text = encode(&s);
        assert_eq!(text, r#"{"version":1,"token":"t\"ok","expiresAt":1800000000000}"#);
        assert_eq!(decode(&text), Some(s));
    }

    #[test]
    fn a_kept_reply_round_trips_nested() {
        let reply = Some(r#"{"user":{"id":7,"n":1.50},"isNewUser":false}"#.to_string());
        let refresh = Some((Token::new("r".into()), Some(1_900_000_000_000)));
        let s = StoredSession { token: Token::new("t".into()), expires_at_ms: 1_800_000_000_000, reply, refresh };
        let text = encode(&s);
        assert_eq!(
            text,
            r#"{"version":1,"token":"t","expiresAt":1800000000000,"refreshToken":"r","refreshExpiresAt":1900000000000,"reply":{"user":{"id":7,"n":1.50},"isNewUser":false}}"#
        );
        assert_eq!(decode(&text), Some(s));
    }

    #[test]
    fn foreign_or_corrupt_values_decode_to_none() {
        for bad in [
            "",
            "not json",
            "{}",
            r#"{"version":2,"token":"t","expiresAt":1}"#,
            r#"{"version":1,"token":"","expiresAt":1}"#,
            r#"{"version":1,"token":"t","expiresAt":-5}"#,
            r#"{"version":1,"token":"t","expiresAt":1e300}"#,
            r#"{"version":1,"token":"a\r\nX-Evil: 1","expiresAt":1}"#,
            r#"{"version":1,"token":7,"expiresAt":1}"#,
            r#"{"version":1,"token":"t","expiresAt":1,"reply":"{}"}"#,
            r#"{"version":1,"token":"t","expiresAt":1,"reply":null}"#,
            r#"{"version":1,"token":"t","expiresAt":1,"reply":[1]}"#,
            r#"{"version":1,"token":"t","expiresAt":1,"refreshToken":""}"#,
            r#"{"version":1,"token":"t","expiresAt":1,"refreshToken":"r","refreshExpiresAt":"x"}"#,
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decode_never_panics(text in any::<String>()) {
            let _ = decode(&text);
        }
    }
}
