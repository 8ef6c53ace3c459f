//! Fuzz-style properties of the core's decoders and of the URL resolver, run by `cargo test` for
//! a bounded number of cases each (proptest; no cargo-fuzz needed):
//!
//! - **stored session** (`stored::decode`): fed arbitrary text, JSON-like text and random byte
//!   mutations of valid encodings, it never panics and accepts only what it could have written (a
//!   sendable token, an expiry within bounds); `decode(encode(x)) == x` for every valid `x`.
//! - **login reply** (`reply::decode_login_reply`): fed any status with arbitrary bytes, JSON-like
//!   text or replies built from plausible and hostile fields, it never panics; a `Granted` reply
//!   always holds a sendable token and a lifetime within `MIN_LIFETIME_S..=MAX_LIFETIME_S`, and a
//!   well-formed reply is granted exactly as sent.
//! - **URL resolver** (`Core::request`): fed arbitrary and adversarial URLs (user information,
//!   backslashes, default ports, case, look-alike hosts), it never panics, and a send carries the
//!   token only when the origin a WHATWG-style parser (written here independently of the core)
//!   reads from the URL actually sent is `baseUrl`'s or a trusted one.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use mp_session::core::codec::json::Json;
use mp_session::core::codec::kept_reply;
use mp_session::core::codec::login_reply::{decode_login_reply, is_sendable_token, LoginReply};
use mp_session::core::codec::login_reply::{MAX_LIFETIME_S, MIN_LIFETIME_S};
use mp_session::core::codec::stored::{self, StoredSession, MAX_EXPIRES_AT_MS};
use mp_session::core::*;
use proptest::prelude::*;
use support::*;

// --- stored sessions ---------------------------------------------------------------------------

fn sendable_token() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => "[!-~]{1,64}",
        1 => "[!-~]{4000,4096}",
    ]
}

fn valid_session() -> impl Strategy<Value = StoredSession> {
    (sendable_token(), prop_oneof![1u64..=MAX_EXPIRES_AT_MS, Just(1), Just(MAX_EXPIRES_AT_MS)]).prop_map(
        |(token, expires_at_ms)| StoredSession { token: Token::new(token), expires_at_ms, reply: None, refresh: None },
    )
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, u8),
    Delete(usize),
    Replace(usize, u8),
    Truncate(usize),
    /// Repeats the bytes from the first index up to the second one.
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Mostly bytes that matter to JSON, sometimes any byte (the result is read back lossily).
    let byte = prop_oneof![
        3 => prop::sample::select(b"{}[]\":,.-+eE0123456789\\ tfnul\x00\x7f".to_vec()),
        1 => any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Replace(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for m in mutations {
        let len = bytes.len();
        let at = |i: usize| if len == 0 { 0 } else { i % len };
        match *m {
            Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
            Mutation::Delete(i) if len > 0 => {
                bytes.remove(at(i));
            }
            Mutation::Replace(i, b) if len > 0 => {
                let i = at(i);
                bytes.splice(i..=i, [b]);
            }
            Mutation::Truncate(i) => bytes.truncate(i % (len + 1)),
            Mutation::Duplicate(a, b) if len > 0 => {
                let (a, b) = (at(a).min(at(b)), at(a).max(at(b)));
                let copy: Vec<u8> = bytes.iter().skip(a).take(b - a).copied().collect();
                bytes.splice(b..b, copy);
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Whatever `decode` accepts is a session `encode` could have written, and reads back the same.
fn check_stored(text: &str) -> Result<(), TestCaseError> {
    if let Some(found) = stored::decode(text) {
        prop_assert!(is_sendable_token(found.token.expose()), "unsendable token from {text:?}");
        prop_assert!((1..=MAX_EXPIRES_AT_MS).contains(&found.expires_at_ms), "expiry out of bounds: {text:?}");
        prop_assert_eq!(stored::decode(&stored::encode(&found)), Some(found));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn stored_sessions_round_trip(session in valid_session()) {
        prop_assert_eq!(stored::decode(&stored::encode(&session)), Some(session));
    }

    #[test]
    fn the_stored_decoder_survives_mutated_encodings(
        session in valid_session(),
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        check_stored(&mutate(&stored::encode(&session), &mutations))?;
    }

    #[test]
    fn the_stored_decoder_survives_arbitrary_text(
        text in prop_oneof![any::<String>(), r#"[{}\[\]":,0-9eE.+\-a-z\\ ]{0,80}"#],
    ) {
        check_stored(&text)?;
    }
}

// --- login replies -----------------------------------------------------------------------------

/// Lifetimes around the bounds (the 10 s floor, ten years), tiny and huge; then ones that are not
/// numbers at all. Both strategies below draw from them.
const EDGE_LIFETIMES: &[&str] =
    &["0", "-1", "1e-9", "0.0004", "9.999", "10", "10.0", "1e1", "7200", "315360000", "315360000.5", "1e308", "-0"];
const NOT_NUMBERS: &[&str] = &["NaN", "Infinity", "1e400"];

/// A JSON value as a server might send it, from sensible to hostile.
fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("{}".to_string()),
        Just("[]".to_string()),
        // A secret nested where kept fields reach (`data`, `a.b`): it must never be kept.
        Just(
            r#"{"session_key":"S","a":{"b":[{"x_SessionKey":1}],"sessionKey":2},"b":{"session_key_v2":3}}"#.to_string()
        ),
        // Quoted lifetimes sit before the non-numbers: the order the kept regression seeds were found with.
        prop::sample::select([EDGE_LIFETIMES, &["\"7200\"", "\" 60 \"", "\"1e-9\"", "\"soon\""], NOT_NUMBERS].concat())
            .prop_map(str::to_string),
        (-1e12f64..1e12).prop_map(|n| n.to_string()),
        "[!-~]{0,20}".prop_map(|s| format!("{s:?}")),
        any::<String>().prop_map(|s| format!("{s:?}")),
    ]
}

/// A lifetime as a server might write it: around the bounds, tiny, huge, quoted, not a number.
fn lifetime_text() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        prop::sample::select([EDGE_LIFETIMES, NOT_NUMBERS].concat()).prop_map(str::to_string),
        (0f64..20.0).prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
    ];
    (number, any::<bool>()).prop_map(|(n, quoted)| if quoted { format!("\"{n}\"") } else { n })
}

fn reply_body() -> impl Strategy<Value = String> {
    let plausible =
        (sendable_token(), lifetime_text(), prop::option::of(json_value())).prop_map(|(token, lifetime, errcode)| {
            let mut body = String::from("{\"token\":");
            mp_session::core::codec::json::write_string(&mut body, &token);
            body.push_str(&format!(",\"expiresIn\":{lifetime}"));
            if let Some(errcode) = errcode {
                body.push_str(&format!(",\"errcode\":{errcode}"));
            }
            body.push('}');
            body
        });
    let member = (
        prop::sample::select(vec!["token", "expiresIn", "errcode", "errmsg", "message", "data", "session_key"]),
        json_value(),
    );
    prop_oneof![
        plausible,
        prop::collection::vec(member, 0..6).prop_map(|members| {
            let inner: Vec<String> = members.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", inner.join(","))
        }),
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        r#"[{}\[\]":,0-9eE.+\-a-z\\ ]{0,80}"#,
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![3 => 200u16..=299, 2 => 400u16..=599, 1 => any::<u16>()]
}

/// Whether any member name in `doc`, at any depth, is one that must never be kept.
fn holds_a_secret(doc: &Json) -> bool {
    match doc {
        Json::Object(members) => members.iter().any(|(k, v)| kept_reply::is_secret_name(k) || holds_a_secret(v)),
        Json::Array(items) => items.iter().any(holds_a_secret),
        _ => false,
    }
}

fn check_reply(status: u16, body: &str, token_field: &[String], expires_field: &[String]) -> Result<(), TestCaseError> {
    // Kept fields chosen to reach into what the generated bodies hold.
    let reply_fields = [vec!["data".to_string()], vec!["a".to_string(), "b".to_string()], token_field.to_vec()];
    for fields in [None, Some(&reply_fields[..])] {
        if let LoginReply::Granted { token, expires_in_s, reply, .. } =
            decode_login_reply(status, body, token_field, expires_field, fields)
        {
            prop_assert!(is_sendable_token(token.expose()), "unsendable token granted by {body:?}");
            let bounds = f64::from(MIN_LIFETIME_S)..=f64::from(MAX_LIFETIME_S);
            prop_assert!(bounds.contains(&expires_in_s), "lifetime {expires_in_s} granted by {body:?}");
            prop_assert!((200..300).contains(&status), "granted with HTTP {status}");
            prop_assert_eq!(reply.is_some(), fields.is_some());
            if let Some(reply) = reply {
                // A kept reply is a JSON object within the limit and never holds a session_key.
                let kept = Json::parse(&reply).map_err(|e| TestCaseError::fail(format!("{e}: {reply}")))?;
                prop_assert!(matches!(kept, Json::Object(_)), "{reply}");
                prop_assert!(reply.len() <= kept_reply::MAX_KEPT_BYTES);
                prop_assert!(!holds_a_secret(&kept), "{reply}");
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn the_login_reply_decoder_grants_only_usable_sessions(status in status(), body in reply_body()) {
        check_reply(status, &body, &["token".into()], &["expiresIn".into()])?;
        check_reply(status, &body, &["data".into(), "token".into()], &["data".into(), "expiresIn".into()])?;
    }

    #[test]
    fn a_well_formed_reply_is_granted_as_sent(
        status in 200u16..=299,
        token in sendable_token(),
        lifetime in prop_oneof![Just(MIN_LIFETIME_S), Just(MAX_LIFETIME_S), MIN_LIFETIME_S..=MAX_LIFETIME_S],
    ) {
        let mut body = String::from("{\"token\":");
        mp_session::core::codec::json::write_string(&mut body, &token);
        body.push_str(&format!(",\"expiresIn\":{lifetime}}}"));
        let granted = LoginReply::Granted { token: Token::new(token), expires_in_s: f64::from(lifetime), reply: None, refresh: None };
        prop_assert_eq!(decode_login_reply(status, &body, &["token".into()], &["expiresIn".into()], None), granted);
    }
}

// --- the URL resolver --------------------------------------------------------------------------

/// The origin a WHATWG URL parser gives an http(s) URL: the host is what follows the scheme and
/// any slashes or backslashes, after the last `@`, up to the first `/`, `\`, `?` or `#`;
/// percent-escapes decoded, lower-cased, the default port dropped. Kept deliberately apart from the
/// core's own parser so that the two can disagree.
fn whatwg_origin(url: &str) -> Option<String> {
    let url: String =
        url.trim_matches(|c: char| c <= ' ').chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    let (scheme, rest) = url.split_once(':')?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let rest = rest.trim_start_matches(['/', '\\']);
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host_port)| host_port);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port.trim_start_matches('0')),
        _ => (host_port, ""),
    };
    let host = percent_decode(host).to_lowercase();
    let port = if port.is_empty() || port == default_port { String::new() } else { format!(":{port}") };
    Some(format!("{scheme}://{host}{port}"))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(decoded) if b == b'%' => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn adversarial_url() -> impl Strategy<Value = String> {
    let pick = |options: &[&'static str]| prop::sample::select(options.to_vec());
    let built = (
        pick(&[
            "https://",
            "http://",
            "HTTPS://",
            "hTtP://",
            "//",
            "/",
            "",
            "https:",
            "https:/",
            "https:\\\\",
            "\\\\",
            "/\\",
            "ftp://",
            "javascript:",
        ]),
        pick(&["", "", "", "u@", "u:p@", "api.example.com@", "evil.com\\@", "@"]),
        pick(&[
            "api.example.com",
            "API.Example.COM",
            "files.example.com",
            "cdn.example.com",
            "evil.com",
            "api.example.com.evil.com",
            "api.example.com%2eevil.com",
            "api.example.com.",
            "[::1]",
            "127.0.0.1",
            "",
        ]),
        pick(&["", "", ":", ":443", ":0443", ":80", ":8443", ":99999", ":x", ":443@evil.com"]),
        pick(&["", "/", "\\", "?", "#", "@", "/@", "\\@evil.com", ".evil.com", "/..//evil.com"]),
        "[ -~]{0,12}",
    )
        .prop_map(|(a, b, c, d, e, f)| format!("{a}{b}{c}{d}{e}{f}"));
    prop_oneof![4 => built, 1 => any::<String>(), 1 => "[ -~]{0,30}"]
}

fn resolver_setup() -> impl Strategy<Value = (ConfigInput, Vec<String>)> {
    prop_oneof![
        Just((
            ConfigInput {
                base_url: Some("https://api.example.com/v1".into()),
                trusted_origins: Some(vec![
                    "https://files.example.com:443".into(),
                    "https://cdn.example.com:8443".into()
                ]),
                ..config()
            },
            vec![
                "https://api.example.com".to_string(),
                "https://files.example.com".to_string(),
                "https://cdn.example.com:8443".to_string(),
            ],
        )),
        Just((
            ConfigInput {
                base_url: Some("http://API.example.com:80".into()),
                allow_insecure_http: Some(true),
                ..config()
            },
            vec!["http://api.example.com".to_string()],
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_token_goes_only_to_trusted_origins(
        (input, allowed) in resolver_setup(),
        urls in prop::collection::vec(adversarial_url(), 1..8),
    ) {
        let mut h = Harness::new(input);
        h.cold_login("secret", 7200);
        for url in urls {
            let spec = RequestSpec { url: url.clone(), method: "GET".into(), timeout_ms: None };
            let waiter = match h.core.request(h.now, spec) {
                Ok(waiter) => waiter,
                Err(e) => {
                    prop_assert_eq!(e.code(), "CONFIG_INVALID");
                    continue;
                }
            };
            h.drain();
            let found = h.effects.iter().position(|(_, e)| matches!(e, Effect::Send { waiter: w, .. } if *w == waiter));
            let Some(index) = found else {
                return Err(TestCaseError::fail(format!("{url:?} was not sent")));
            };
            let (op, effect) = h.effects.remove(index);
            let Effect::Send { url: sent, auth, .. } = effect else { unreachable!() };
            if auth.is_some() {
                let origin = whatwg_origin(&sent);
                prop_assert!(
                    origin.as_ref().is_some_and(|o| allowed.contains(o)),
                    "the token went with {url:?}, sent as {sent:?}, to {origin:?}"
                );
            }
            h.answer(op, Outcome::Sent(Ok(ResponseSummary { status: 200, body_code: None , cookies: None })));
        }
    }
}

#[test]
fn the_reference_parser_reads_hosts_as_browsers_do() {
    for (url, origin) in [
        ("https://api.example.com@evil.com/x", "https://evil.com"),
        ("https://evil.com\\@api.example.com/", "https://evil.com"),
        ("https:\\\\evil.com/x", "https://evil.com"),
        ("HTTPS://API.example.com:0443/x", "https://api.example.com"),
        ("https://api.example.com%2eevil.com/", "https://api.example.com.evil.com"),
        ("http://[::1]:80/", "http://[::1]"),
    ] {
        assert_eq!(whatwg_origin(url).as_deref(), Some(origin), "{url}");
    }
}
