//! Reading the developer server's answer to the code exchange (`POST loginPath {code}`), and
//! mapping WeChat's `errcode`s, passed through by the server, to typed errors.

use crate::core::codec::cookie::CookieSet;
use crate::core::codec::json::{decimal, parse_number, Json};
use crate::core::codec::kept_reply::{self, MAX_KEPT_BYTES};
use crate::core::error::SessionError;
use crate::core::token::Token;

/// The shortest lifetime, in seconds, a login reply may grant; a shorter one is refused as
/// `BAD_RESPONSE`.
///
/// Refused rather than clamped: a lifetime of `1e-9` or `0.0004` s is a server bug (most often
/// milliseconds and seconds mixed up, or a computed expiry gone wrong), not a session. Clamping it
/// up would use a token the server considers dead, every request would come back "expired", and
/// each re-login would be granted the same dead lifetime: the login storm would only slow down,
/// and the bug would stay hidden. Refusing stops at the first reply and names the field.
pub const MIN_LIFETIME_S: u32 = 10;

/// The longest lifetime, in seconds, a login reply may grant: ten years. Beyond it the value is
/// corrupt, not generous.
pub const MAX_LIFETIME_S: u32 = 315_360_000;

/// What the server's reply means for the login.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginReply {
    /// A token and its lifetime in seconds, from [`MIN_LIFETIME_S`] to [`MAX_LIFETIME_S`], and
    /// the kept reply's JSON text when fields are to be kept ([`kept_reply`]).
    Granted { token: Token, expires_in_s: f64, reply: Option<String>, refresh: Option<RefreshGrant> },
    /// A failure worth retrying with a fresh code after a pause (HTTP 5xx, WeChat `-1` busy).
    Transient { status: u16, errcode: Option<i64>, errmsg: String },
    /// A failure retrying cannot fix.
    Failed(SessionError),
}

/// A refresh token a reply carried (`refresh.tokenField`), with its lifetime when it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshGrant {
    pub token: Token,
    pub expires_in_s: Option<f64>,
}

/// How a reply grants a session: where its token and lifetime are, what is kept of it, where its
/// refresh token is (with `refresh`), and, in cookie mode, the cookie that is the token.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrantRules<'a> {
    pub token_field: &'a [String],
    pub expires_in_field: &'a [String],
    pub reply_fields: Option<&'a [Vec<String>]>,
    /// `refresh.tokenField` and `refresh.expiresInField`.
    pub refresh: Option<(&'a [String], &'a [String])>,
    /// Cookie mode: the cookie's name, and what the reply's `Set-Cookie` said of it.
    pub cookie: Option<(&'a str, Option<&'a CookieSet>)>,
}

/// Longest token we put in a header; far beyond any real session token.
const MAX_TOKEN_LEN: usize = 4096;

/// A token must be safe to put in an HTTP header: printable ASCII, no CR/LF (header injection).
pub fn is_sendable_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= MAX_TOKEN_LEN && token.bytes().all(|b| (0x21..0x7f).contains(&b))
}

/// Decodes a reply given its status and raw body. `token_field`/`expires_in_field` are the
/// configured (dotted) paths, `reply_fields` those of `replyFields` (`None`: no reply is kept).
pub fn decode_login_reply(
    status: u16,
    body: &str,
    token_field: &[String],
    expires_in_field: &[String],
    reply_fields: Option<&[Vec<String>]>,
) -> LoginReply {
    decode_grant(status, body, &GrantRules { token_field, expires_in_field, reply_fields, ..GrantRules::default() })
}

/// "`a.b` …": a reason that names the field at `path`.
fn field_says(path: &[String], rest: &str) -> String {
    ["`", &path.join("."), rest].concat()
}

/// A positive number of seconds up to [`MAX_LIFETIME_S`] at `path` (a number or a numeric string).
fn seconds_at(doc: &Json, path: &[String]) -> Option<f64> {
    let seconds = match doc.get_path(path)? {
        Json::Number(n, _) => *n,
        Json::String(s) => parse_number(s.trim())?,
        _ => return None,
    };
    (seconds > 0.0 && seconds <= f64::from(MAX_LIFETIME_S)).then_some(seconds)
}

/// [`decode_login_reply`] under all of `rules`: the same error mapping, then the grant.
pub fn decode_grant(status: u16, body: &str, rules: &GrantRules<'_>) -> LoginReply {
    let (token_field, expires_in_field, reply_fields) = (rules.token_field, rules.expires_in_field, rules.reply_fields);
    let doc = Json::parse(body).ok();
    let errcode = doc.as_ref().and_then(|d| d.get("errcode")).and_then(Json::as_integer).filter(|&c| c != 0);
    let errmsg = doc
        .as_ref()
        .and_then(|d| d.get("errmsg").or_else(|| d.get("message")))
        .and_then(Json::as_str)
        .map(|m| m.chars().take(200).collect::<String>())
        .unwrap_or_default();

    match (errcode, status) {
        (Some(-1), _) | (_, 500..=599) => return LoginReply::Transient { status, errcode, errmsg },
        (Some(40029 | 40163), _) => {
            return LoginReply::Failed(SessionError::LoginRejected { status, errcode, errmsg });
        }
        (Some(45011), _) | (_, 429) => {
            return LoginReply::Failed(SessionError::RateLimited { status, errcode, errmsg })
        }
        (Some(40226), _) => return LoginReply::Failed(SessionError::UserBlocked { errmsg }),
        (Some(_), _) | (_, 300..=499) => {
            let errmsg = if errmsg.is_empty() && status == 404 {
                "the login URL was not found: check baseUrl and loginPath".to_string()
            } else {
                errmsg
            };
            return LoginReply::Failed(SessionError::LoginRejected { status, errcode, errmsg });
        }
        _ => {}
    }

    let bad = |reason: String| LoginReply::Failed(SessionError::BadResponse { status, reason });
    if !(200..300).contains(&status) {
        return bad(["unexpected HTTP status ", &decimal(status.into())].concat());
    }
    let cookie_lifetime = match rules.cookie {
        Some((_, Some(CookieSet::Value { lifetime_s, .. }))) => *lifetime_s,
        _ => None,
    };
    // A cookie session's reply may have no JSON body at all: its lifetime can come from the cookie.
    let doc = match doc {
        Some(doc) => doc,
        None if rules.cookie.is_some() && cookie_lifetime.is_some() => Json::Object(Vec::new()),
        None => return bad("the login reply is not JSON".into()),
    };
    let token = match rules.cookie {
        Some((_, Some(CookieSet::Value { value, .. }))) if is_sendable_token(value) => Token::new(value.clone()),
        Some((name, _)) => {
            return bad(["the login reply sets no usable cookie `", name, "` (Set-Cookie)"].concat());
        }
        None => match doc.get_path(token_field).and_then(Json::as_str) {
            Some(t) if is_sendable_token(t) => Token::new(t.to_string()),
            Some(_) => {
                return bad(field_says(token_field, "` is not a usable token (empty, too long or not printable ASCII)"))
            }
            None => return bad(["the login reply has no string field `", &token_field.join("."), "`"].concat()),
        },
    };
    // A cookie's lifetime is positive (a non-positive one clears it); one beyond ten years is capped.
    let lifetime = match cookie_lifetime {
        Some(seconds) => Some(seconds.min(f64::from(MAX_LIFETIME_S))),
        None => seconds_at(&doc, expires_in_field),
    };
    // A non-positive or absurd lifetime is a server bug, not a session; so is one too short to use.
    let Some(expires_in_s) = lifetime else {
        let mut reason = field_says(expires_in_field, "` must be a positive number of seconds");
        if rules.cookie.is_some() {
            reason.push_str(" (the session cookie has no Max-Age or Expires)");
        }
        return bad(reason);
    };
    if expires_in_s < f64::from(MIN_LIFETIME_S) {
        let floor = decimal(MIN_LIFETIME_S.into());
        let field = if cookie_lifetime.is_some() {
            "the session cookie's lifetime".into()
        } else {
            field_says(expires_in_field, "`")
        };
        return bad([&field, " is below the ", &floor, " s minimum lifetime"].concat());
    }
    let refresh = match rules.refresh {
        None => None,
        Some((field, expires_field)) => match doc.get_path(field) {
            None | Some(Json::Null) => None,
            Some(Json::String(t)) if is_sendable_token(t) => Some(RefreshGrant {
                token: Token::new(t.clone()),
                expires_in_s: match doc.get_path(expires_field) {
                    None | Some(Json::Null) => None,
                    Some(_) => match seconds_at(&doc, expires_field) {
                        Some(seconds) => Some(seconds),
                        None => return bad(field_says(expires_field, "` must be a positive number of seconds")),
                    },
                },
            }),
            Some(_) => return bad(field_says(field, "` is not a usable refresh token")),
        },
    };
    let reply = match reply_fields.map(|fields| kept_reply::keep(&doc, fields)) {
        None => None,
        Some(Some(kept)) => Some(kept),
        Some(None) => {
            let limit = decimal(MAX_KEPT_BYTES as u64);
            return bad([
                "the fields kept from the login reply (replyFields) are over ",
                &limit,
                " bytes as JSON: keep fewer or smaller fields",
            ]
            .concat());
        }
    };
    LoginReply::Granted { token, expires_in_s, reply, refresh }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(status: u16, body: &str) -> LoginReply {
        decode_login_reply(status, body, &["token".into()], &["expiresIn".into()], None)
    }

    fn code_of(reply: LoginReply) -> &'static str {
        match reply {
            LoginReply::Failed(e) => e.code(),
            LoginReply::Transient { .. } => "transient",
            LoginReply::Granted { .. } => "granted",
        }
    }

    #[test]
    fn grants_a_token_with_its_lifetime() {
        match decode(200, r#"{"token":"abc","expiresIn":7200,"session_key":"never-kept"}"#) {
            LoginReply::Granted { token, expires_in_s, reply, .. } => {
                assert_eq!(token.expose(), "abc");
                assert_eq!(expires_in_s, 7200.0);
                assert_eq!(reply, None);
            }
            other => panic!("{other:?}"),
        }
        let nested = decode_login_reply(
            200,
            r#"{"data":{"t":"x","ttl":"60"}}"#,
            &["data".into(), "t".into()],
            &["data".into(), "ttl".into()],
            None,
        );
        assert!(matches!(nested, LoginReply::Granted { expires_in_s, .. } if expires_in_s == 60.0));
    }

    #[test]
    fn keeps_the_listed_fields_or_refuses_an_oversized_kept_reply() {
        let fields = [vec!["user".to_string()], vec!["isNewUser".to_string()]];
        let body = r#"{"token":"abc","expiresIn":60,"user":{"id":1,"session_key":"S"},"isNewUser":false}"#;
        let granted = decode_login_reply(200, body, &["token".into()], &["expiresIn".into()], Some(&fields));
        assert!(
            matches!(granted, LoginReply::Granted { reply: Some(r), .. } if r == r#"{"user":{"id":1},"isNewUser":false}"#)
        );
        let big = format!(r#"{{"token":"abc","expiresIn":60,"user":"{}"}}"#, "x".repeat(MAX_KEPT_BYTES));
        match decode_login_reply(200, &big, &["token".into()], &["expiresIn".into()], Some(&fields)) {
            LoginReply::Failed(e) => {
                assert_eq!(e.code(), "BAD_RESPONSE");
                assert!(e.to_string().contains("replyFields) are over 16384 bytes"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn maps_wechat_errcodes_and_statuses() {
        assert_eq!(code_of(decode(400, r#"{"errcode":40029,"errmsg":"invalid code"}"#)), "LOGIN_REJECTED");
        assert_eq!(code_of(decode(400, r#"{"errcode":40163,"errmsg":"code been used"}"#)), "LOGIN_REJECTED");
        assert_eq!(code_of(decode(429, r#"{"errcode":45011,"errmsg":"freq limit"}"#)), "RATE_LIMITED");
        assert_eq!(code_of(decode(429, "slow down")), "RATE_LIMITED");
        assert_eq!(code_of(decode(403, r#"{"errcode":40226,"errmsg":"risky"}"#)), "USER_BLOCKED");
        assert_eq!(code_of(decode(503, r#"{"errcode":-1,"errmsg":"busy"}"#)), "transient");
        assert_eq!(code_of(decode(200, r#"{"errcode":-1}"#)), "transient");
        assert_eq!(code_of(decode(502, "<html>Bad gateway</html>")), "transient");
        assert_eq!(code_of(decode(200, r#"{"errcode":40029}"#)), "LOGIN_REJECTED");
        assert_eq!(code_of(decode(404, "")), "LOGIN_REJECTED");
    }

    #[test]
    fn malformed_success_replies_are_bad_responses() {
        for body in [
            "<html>",
            "{}",
            r#"{"token":"","expiresIn":10}"#,
            r#"{"token":"a\nb","expiresIn":10}"#,
            r#"{"token":"abc"}"#,
            r#"{"token":"abc","expiresIn":0}"#,
            r#"{"token":"abc","expiresIn":"soon"}"#,
            r#"{"token":"abc","expiresIn":1e-9}"#,
            r#"{"token":"abc","expiresIn":9.99}"#,
        ] {
            assert_eq!(code_of(decode(200, body)), "BAD_RESPONSE", "{body}");
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics_and_grants_only_sendable_tokens(status in 0u16..1000, body in any::<String>()) {
            if let LoginReply::Granted { token, expires_in_s, .. } = decode_login_reply(status, &body, &["token".into()], &["expiresIn".into()], None) {
                prop_assert!(is_sendable_token(token.expose()));
                prop_assert!((f64::from(MIN_LIFETIME_S)..=f64::from(MAX_LIFETIME_S)).contains(&expires_in_s));
            }
        }
    }
}
