//! Alipay's code exchange: `my.getAuthCode({ scopes: 'auth_base' })` gives a single-use
//! `authCode`, and the open gateway's `alipay.system.oauth.token` exchanges it for the user's
//! `open_id` (or, for older apps, `user_id`). Every call is signed with the app's RSA key (RSA2:
//! PKCS#1 v1.5, SHA-256) and every answer carries Alipay's signature over the exact text of its
//! `…_response` (or `error_response`) member, checked with Alipay's public key before anything
//! in it is believed. The access and refresh tokens Alipay answers are never kept, logged or
//! returned: this server has no use for them.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use serde::Deserialize;

use crate::error::ApiError;
use crate::wechat::{api_client, CodeSession};

pub const ALIPAY_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";
const METHOD: &str = "alipay.system.oauth.token";
const RESPONSE_MEMBER: &str = "alipay_system_oauth_token_response";
const ERROR_MEMBER: &str = "error_response";

/// Standard base64, with or without its padding (keys pasted from Alipay's tools vary).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub struct Alipay {
    http: reqwest::Client,
    gateway: String,
    appid: String,
    private_key: RsaKeyPair,
    public_key: RsaPublicKeyComponents<Vec<u8>>,
    rng: SystemRandom,
}

#[derive(Debug)]
pub enum AlipayError {
    /// A signed `error_response`: `code` is Alipay's (40002 …), `sub_code` says why.
    Api { code: i64, sub_code: String, message: String },
    /// No usable answer: unreachable, timed out, not Alipay's shape, unsigned or badly signed.
    Unreachable(String),
}

/// The sub_codes of a 40002 that name this server's own request (its keys, appid, parameters),
/// not the user's authCode: a configuration to fix, answered 502 like WeChat's bad secret.
const OWN_REQUEST_SUB_CODES: &[&str] = &[
    "isv.invalid-signature",
    "isv.invalid-signature-type",
    "isv.invalid-app-id",
    "isv.invalid-method",
    "isv.invalid-format",
    "isv.invalid-charset",
    "isv.invalid-timestamp",
    "isv.invalid-version",
    "isv.invalid-parameter",
    "isv.invalid-encrypt-type",
    "isv.invalid-encrypt",
    "isv.invalid-app-auth-token",
    "isv.grant-type-invalid",
];

impl AlipayError {
    /// How `/auth/alipay/login` answers it: Alipay's numeric `code` as the errcode; 400 for what
    /// a new authCode can fix (isv.code-invalid: unknown, used or expired), 503 for 20000
    /// (service unavailable, try again), 502 for the rest (this server's configuration or
    /// permissions: 20001, 40001, 40006, and the 40002s of `OWN_REQUEST_SUB_CODES`); no
    /// verified answer → 502 with -1.
    pub fn into_api(self, what: &str) -> ApiError {
        match self {
            AlipayError::Api { code, sub_code, message } => {
                let status = match code {
                    20000 => StatusCode::SERVICE_UNAVAILABLE,
                    40002 if OWN_REQUEST_SUB_CODES.contains(&sub_code.as_str()) => StatusCode::BAD_GATEWAY,
                    40002 | 40004 => StatusCode::BAD_REQUEST,
                    _ => StatusCode::BAD_GATEWAY,
                };
                if status == StatusCode::BAD_GATEWAY {
                    tracing::warn!(what, code, %sub_code, sub_msg = %message, "alipay refused this server's request: check ALIPAY_APPID and the keys");
                } else {
                    tracing::info!(what, code, %sub_code, "alipay refused");
                }
                let detail = if sub_code.is_empty() { message } else { format!("{sub_code} {message}") };
                ApiError::new(status, code, format!("{what}: {detail}"))
            }
            AlipayError::Unreachable(cause) => {
                tracing::warn!(what, %cause, "alipay unreachable");
                ApiError::new(StatusCode::BAD_GATEWAY, -1, format!("{what} unreachable"))
            }
        }
    }
}

/// The members of a reply's `…_response` that matter here (its access and refresh tokens are
/// not even read).
#[derive(Deserialize)]
struct ReplyMember {
    code: Option<String>,
    msg: Option<String>,
    sub_code: Option<String>,
    sub_msg: Option<String>,
    open_id: Option<String>,
    user_id: Option<String>,
}

impl Alipay {
    /// The gateway, the app's appid and the two keys as configured (base64 DER or PEM). A key
    /// that does not parse is refused, naming which (never showing it).
    pub fn new(gateway: &str, appid: &str, private_key: &str, public_key: &str) -> Result<Alipay, String> {
        let private_key = parse_private_key(private_key).map_err(|why| {
            format!(
                "ALIPAY_PRIVATE_KEY is not the app's RSA private key (PKCS#8 or PKCS#1 DER, in base64 or PEM): {why}"
            )
        })?;
        let public_key = parse_public_key(public_key).map_err(|why| {
            format!(
                "ALIPAY_PUBLIC_KEY is not Alipay's RSA public key (SubjectPublicKeyInfo DER, in base64 or PEM): {why}"
            )
        })?;
        let http = api_client().map_err(|error| format!("cannot build the HTTPS client: {error}"))?;
        Ok(Alipay {
            http,
            gateway: gateway.to_owned(),
            appid: appid.to_owned(),
            private_key,
            public_key,
            rng: SystemRandom::new(),
        })
    }

    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// `alipay.system.oauth.token` with grant_type=authorization_code: the authCode → the user's
    /// id on Alipay (its open_id, else its user_id). Alipay has no session_key: it is empty.
    pub async fn code2session(&self, auth_code: &str, now: i64) -> Result<CodeSession, AlipayError> {
        let params = self.signed_params(auth_code, now)?;
        let response = self
            .http
            .post(&self.gateway)
            .form(&params)
            .send()
            .await
            .map_err(|error| AlipayError::Unreachable(error.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(AlipayError::Unreachable(format!("the gateway answered HTTP {status}")));
        }
        let body = response.bytes().await.map_err(|error| AlipayError::Unreachable(error.without_url().to_string()))?;
        self.read_reply(&body)
    }

    /// The request's parameters, `sign` included.
    fn signed_params(&self, auth_code: &str, now: i64) -> Result<BTreeMap<&'static str, String>, AlipayError> {
        let mut params: BTreeMap<&'static str, String> = BTreeMap::new();
        params.insert("app_id", self.appid.clone());
        params.insert("method", METHOD.to_owned());
        params.insert("format", "JSON".to_owned());
        params.insert("charset", "utf-8".to_owned());
        params.insert("sign_type", "RSA2".to_owned());
        params.insert("timestamp", shanghai_timestamp(now));
        params.insert("version", "1.0".to_owned());
        params.insert("grant_type", "authorization_code".to_owned());
        params.insert("code", auth_code.to_owned());
        let content = sign_content(params.iter().map(|(k, v)| (*k, v.as_str())));
        let sign = self.sign(content.as_bytes())?;
        params.insert("sign", sign);
        Ok(params)
    }

    /// RSA2: base64 of the PKCS#1 v1.5 SHA-256 signature with the app's private key.
    fn sign(&self, content: &[u8]) -> Result<String, AlipayError> {
        let mut signature = vec![0; self.private_key.public().modulus_len()];
        self.private_key
            .sign(&RSA_PKCS1_SHA256, &self.rng, content, &mut signature)
            .map_err(|_| AlipayError::Unreachable("cannot sign the request".into()))?;
        Ok(BASE64.encode(signature))
    }

    /// Whether `sign` (base64) is Alipay's signature of `content`.
    fn signed_by_alipay(&self, content: &str, sign: &str) -> bool {
        let Ok(signature) = BASE64.decode(sign) else { return false };
        let verify =
            |text: &str| self.public_key.verify(&RSA_PKCS1_2048_8192_SHA256, text.as_bytes(), &signature).is_ok();
        // Alipay's own SDKs try a second time with JSON's optional `\/` unescaped, as the
        // gateway has signed either form.
        verify(content) || (content.contains("\\/") && verify(&content.replace("\\/", "/")))
    }

    /// The gateway's reply → the user, once its signature is checked over the member's exact text.
    fn read_reply(&self, body: &[u8]) -> Result<CodeSession, AlipayError> {
        let unreachable = |why: &str| AlipayError::Unreachable(format!("alipay.system.oauth.token answered {why}"));
        let text = std::str::from_utf8(body).map_err(|_| unreachable("no UTF-8"))?;
        serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|_| unreachable("no JSON"))?;
        let members = top_level_members(text).ok_or_else(|| unreachable("no JSON object of distinct members"))?;
        let member = |key: &str| members.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let (name, raw) = match (member(RESPONSE_MEMBER), member(ERROR_MEMBER)) {
            (Some(raw), _) => (RESPONSE_MEMBER, raw),
            (None, Some(raw)) => (ERROR_MEMBER, raw),
            (None, None) => return Err(unreachable("neither its response nor error_response")),
        };
        let reply: ReplyMember = serde_json::from_str(raw).map_err(|_| unreachable("a response of another shape"))?;
        let sign = member("sign").and_then(|raw| serde_json::from_str::<String>(raw).ok()).unwrap_or_default();
        if sign.is_empty() || !self.signed_by_alipay(raw, &sign) {
            // Unverified: nothing of it is believed; its code, if any, is only for the log.
            let code = reply.code.as_deref().unwrap_or("");
            let sub_code = reply.sub_code.as_deref().unwrap_or("");
            tracing::warn!(
                member = name,
                unverified_code = code,
                unverified_sub_code = sub_code,
                signed = !sign.is_empty(),
                "alipay reply refused: its signature does not check with ALIPAY_PUBLIC_KEY"
            );
            return Err(unreachable(if sign.is_empty() {
                "an unsigned reply"
            } else {
                "a reply whose signature does not check"
            }));
        }
        let code = reply.code.as_deref().unwrap_or("");
        if name == ERROR_MEMBER || !(code.is_empty() || code == "10000") {
            return Err(AlipayError::Api {
                code: code.parse().unwrap_or(-1),
                sub_code: reply.sub_code.unwrap_or_default(),
                message: reply.sub_msg.filter(|m| !m.is_empty()).or(reply.msg).unwrap_or_default(),
            });
        }
        let non_empty = |value: Option<String>| value.filter(|v| !v.is_empty());
        let openid = non_empty(reply.open_id)
            .or_else(|| non_empty(reply.user_id))
            .ok_or_else(|| unreachable("neither open_id nor user_id"))?;
        Ok(CodeSession { openid, session_key: String::new(), unionid: None })
    }
}

/// The string the RSA2 signature covers: every parameter but `sign` whose value is not empty,
/// sorted by name (byte order), as `name=value` joined by `&`, nothing URL-encoded.
pub fn sign_content<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let sorted: BTreeMap<&str, &str> = params.into_iter().filter(|(k, v)| *k != "sign" && !v.is_empty()).collect();
    sorted.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// Unix seconds as the gateway's `timestamp`: "yyyy-MM-dd HH:mm:ss" in Asia/Shanghai (UTC+8,
/// which has no daylight saving).
pub fn shanghai_timestamp(unix: i64) -> String {
    let local = unix + 8 * 3600;
    let (days, seconds) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    // Days since 1970-01-01 → the civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", seconds / 3600, seconds % 3600 / 60, seconds % 60)
}

/// The members of the JSON object `json` at its top level, each as (its name's text between the
/// quotes, its value's exact text): what Alipay signed is the text, so it is never re-encoded.
/// None when `json` is not one object, or a name comes twice.
pub fn top_level_members(json: &str) -> Option<Vec<(&str, &str)>> {
    let mut scan = Scan { text: json, bytes: json.as_bytes(), pos: 0 };
    let mut members: Vec<(&str, &str)> = Vec::new();
    scan.space();
    scan.eat(b'{')?;
    scan.space();
    if scan.eat(b'}').is_none() {
        loop {
            scan.space();
            let key_start = scan.pos;
            scan.string()?;
            let key = json.get(key_start + 1..scan.pos - 1)?;
            scan.space();
            scan.eat(b':')?;
            scan.space();
            let value_start = scan.pos;
            scan.value()?;
            let value = json.get(value_start..scan.pos)?;
            if members.iter().any(|(k, _)| *k == key) {
                return None;
            }
            members.push((key, value));
            scan.space();
            if scan.eat(b',').is_some() {
                continue;
            }
            scan.eat(b'}')?;
            break;
        }
    }
    scan.space();
    (scan.pos == json.len()).then_some(members)
}

struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek() == Some(byte)).then(|| self.pos += 1)
    }

    /// A string, from its opening quote to just past its closing one; a backslash escapes the
    /// byte after it (so `\"` and `\\` are skipped as pairs).
    fn string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(());
                }
                b'\\' => self.pos += 2,
                _ => self.pos += 1,
            }
        }
    }

    /// One value: a string, an object or array to its balancing bracket (brackets inside strings
    /// not counted), or a scalar to the next delimiter.
    fn value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => self.string()?,
                        b'{' | b'[' => {
                            depth += 1;
                            self.pos += 1;
                        }
                        b'}' | b']' => {
                            depth = depth.checked_sub(1)?;
                            self.pos += 1;
                            if depth == 0 {
                                return Some(());
                            }
                        }
                        _ => self.pos += 1,
                    }
                }
            }
            _ => {
                let start = self.pos;
                while !matches!(self.peek(), None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')) {
                    self.pos += 1;
                }
                (self.pos > start && self.text.is_char_boundary(self.pos)).then_some(())
            }
        }
    }
}

/// A key as configured: PEM (its base64 between the BEGIN and END lines; `\n` written as two
/// characters, as some environment files do, counts as a line break), or bare base64 of the DER.
fn key_der(text: &str) -> Result<Vec<u8>, String> {
    let text = text.replace("\\n", "\n");
    let body = match text.split_once("-----BEGIN") {
        Some((_, rest)) => {
            let (_label, rest) = rest.split_once("-----").ok_or("a PEM BEGIN line without its closing dashes")?;
            let (body, _) = rest.split_once("-----END").ok_or("a PEM key without its END line")?;
            body
        }
        None => text.as_str(),
    };
    if body.contains(':') {
        return Err("an encrypted PEM key (give the key unencrypted)".into());
    }
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err("empty".into());
    }
    BASE64.decode(compact).map_err(|_| "neither base64 nor PEM".into())
}

/// The app's private key: PKCS#8 (what Alipay's key tool calls PKCS8, for Java), or PKCS#1
/// RSAPrivateKey (its "PKCS1", for other languages).
fn parse_private_key(text: &str) -> Result<RsaKeyPair, String> {
    let der = key_der(text)?;
    RsaKeyPair::from_pkcs8(&der).or_else(|pkcs8| RsaKeyPair::from_der(&der).map_err(|_| pkcs8.to_string()))
}

/// Alipay's public key: a SubjectPublicKeyInfo (what Alipay's console shows as 支付宝公钥), or a bare
/// PKCS#1 RSAPublicKey; ring verifies with its modulus and exponent.
fn parse_public_key(text: &str) -> Result<RsaPublicKeyComponents<Vec<u8>>, String> {
    let der = key_der(text)?;
    let rsa_public_key = spki_rsa_public_key(&der).unwrap_or(&der);
    let (n, e) = rsa_public_key_components(rsa_public_key)
        .ok_or("not an RSA public key (a private key, or a certificate, in its place?)")?;
    if !(256..=1024).contains(&n.len()) {
        return Err(format!("a {}-bit key: RSA2 needs 2048 to 8192 bits", n.len() * 8));
    }
    Ok(RsaPublicKeyComponents { n: n.to_vec(), e: e.to_vec() })
}

/// The DER tag of a SEQUENCE, an INTEGER, a BIT STRING, an OBJECT IDENTIFIER, a NULL.
const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const NULL: u8 = 0x05;
/// 1.2.840.113549.1.1.1, rsaEncryption.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// One DER element at the start of `input`: (its content, what follows it), if its tag is `tag`.
fn der(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81..=0x83 => {
            let count = usize::from(first - 0x80);
            let (bytes, rest) = (rest.get(..count)?, rest.get(count..)?);
            (bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b)), rest)
        }
        _ => return None,
    };
    (found == tag).then_some(())?;
    Some((rest.get(..length)?, rest.get(length..)?))
}

/// SubjectPublicKeyInfo { AlgorithmIdentifier { rsaEncryption, NULL }, BIT STRING { RSAPublicKey } }
/// → the RSAPublicKey's DER.
fn spki_rsa_public_key(spki: &[u8]) -> Option<&[u8]> {
    let (inner, rest) = der(spki, SEQUENCE)?;
    rest.is_empty().then_some(())?;
    let (algorithm, rest) = der(inner, SEQUENCE)?;
    let (oid, parameters) = der(algorithm, OID)?;
    (oid == RSA_ENCRYPTION && (parameters.is_empty() || parameters == [NULL, 0])).then_some(())?;
    let (bits, rest) = der(rest, BIT_STRING)?;
    rest.is_empty().then_some(())?;
    let (&unused_bits, key) = bits.split_first()?;
    (unused_bits == 0).then_some(key)
}

/// A positive DER INTEGER (its top bit clear: one 0x00 before a set one) without leading zeros.
fn unsigned_integer(int: &[u8]) -> Option<&[u8]> {
    ((int.first()? & 0x80) == 0).then_some(())?;
    let start = int.iter().position(|b| *b != 0)?;
    int.get(start..)
}

/// RSAPublicKey { INTEGER n, INTEGER e } → (n, e) big-endian without leading zeros; e odd and
/// at least 3, as ring requires.
fn rsa_public_key_components(der_key: &[u8]) -> Option<(&[u8], &[u8])> {
    let (inner, rest) = der(der_key, SEQUENCE)?;
    rest.is_empty().then_some(())?;
    let (n, rest) = der(inner, INTEGER)?;
    let (e, rest) = der(rest, INTEGER)?;
    rest.is_empty().then_some(())?;
    let (n, e) = (unsigned_integer(n)?, unsigned_integer(e)?);
    let odd = e.last().is_some_and(|b| b & 1 == 1);
    (odd && e.len() <= 5 && (e.len() > 1 || e.first().is_some_and(|b| *b >= 3))).then_some((n, e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const SIGNED_TEXT: &str = "a=1&b=二 3";

    /// A 2048-bit RSA key made for this test run by node's crypto (OpenSSL): its PKCS#8, its
    /// SubjectPublicKeyInfo and OpenSSL's RSA-SHA256 signature of SIGNED_TEXT, all base64. Made
    /// here so that no key is kept in the repository (node, which runs npm test, is on every machine that runs these).
    fn test_key() -> &'static [String; 3] {
        static KEY: std::sync::OnceLock<[String; 3]> = std::sync::OnceLock::new();
        KEY.get_or_init(|| {
            let script = "const c = require('crypto'); \
                const { privateKey, publicKey } = c.generateKeyPairSync('rsa', { modulusLength: 2048 }); \
                const signature = c.sign('sha256', Buffer.from(process.argv[1]), privateKey); \
                console.log([privateKey.export({ type: 'pkcs8', format: 'der' }), \
                  publicKey.export({ type: 'spki', format: 'der' }), signature].map((b) => b.toString('base64')).join(' '));";
            let out = std::process::Command::new("node")
                .args(["-e", script, SIGNED_TEXT])
                .output()
                .expect("node makes the test's RSA key: install Node.js, which npm test needs anyway");
            assert!(out.status.success(), "node could not make the test key: {}", String::from_utf8_lossy(&out.stderr));
            let text = String::from_utf8(out.stdout).unwrap();
            let parts: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
            [parts[0].clone(), parts[1].clone(), parts[2].clone()]
        })
    }
    fn test_pkcs8() -> &'static str {
        &test_key()[0]
    }
    fn test_spki() -> &'static str {
        &test_key()[1]
    }
    fn node_signature() -> &'static str {
        &test_key()[2]
    }

    fn pem(label: &str, base64: &str) -> String {
        let lines: Vec<String> = base64.as_bytes().chunks(64).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
    }

    /// The test key plays both the app's key and Alipay's.
    fn alipay() -> Alipay {
        Alipay::new(ALIPAY_GATEWAY, "2021000000000001", test_pkcs8(), test_spki()).unwrap()
    }

    fn signed_body(member: &str, value: &str, alipay: &Alipay) -> String {
        let sign = alipay.sign(value.as_bytes()).unwrap();
        format!(r#"{{"{member}":{value},"sign":"{sign}"}}"#)
    }

    #[test]
    fn the_signing_string_is_sorted_skips_sign_and_empty_values_and_is_not_url_encoded() {
        let params = [
            ("timestamp", "2024-01-02 03:04:05"),
            ("app_id", "2021000000000001"),
            ("sign", "must not be signed"),
            ("code", "a&b=c+d/é"),
            ("app_auth_token", ""),
            ("sign_type", "RSA2"),
            ("biz_content", "{\"k\":\"v\"}"),
        ];
        assert_eq!(
            sign_content(params),
            "app_id=2021000000000001&biz_content={\"k\":\"v\"}&code=a&b=c+d/é&sign_type=RSA2&timestamp=2024-01-02 03:04:05"
        );
        // Byte order: '_' (0x5f) sorts before lowercase letters.
        assert_eq!(
            sign_content([("charset", "utf-8"), ("char_set", "x"), ("Zeta", "1")]),
            "Zeta=1&char_set=x&charset=utf-8"
        );
    }

    #[test]
    fn a_request_carries_every_common_parameter_and_a_signature_of_the_rest() {
        let alipay = alipay();
        let params = alipay.signed_params("auth-code-1", 1_700_000_000).unwrap();
        let names: Vec<&str> = params.keys().copied().collect();
        assert_eq!(
            names,
            [
                "app_id",
                "charset",
                "code",
                "format",
                "grant_type",
                "method",
                "sign",
                "sign_type",
                "timestamp",
                "version"
            ]
        );
        assert_eq!(params["timestamp"], "2023-11-15 06:13:20");
        assert_eq!(params["method"], "alipay.system.oauth.token");
        let content = sign_content(params.iter().map(|(k, v)| (*k, v.as_str())));
        assert_eq!(
            content,
            "app_id=2021000000000001&charset=utf-8&code=auth-code-1&format=JSON&grant_type=authorization_code&method=alipay.system.oauth.token&sign_type=RSA2&timestamp=2023-11-15 06:13:20&version=1.0"
        );
        assert!(alipay.signed_by_alipay(&content, &params["sign"]));
        assert!(!alipay.signed_by_alipay(&content.replace("auth-code-1", "auth-code-2"), &params["sign"]));
    }

    #[test]
    fn timestamps_are_shanghai_time() {
        assert_eq!(shanghai_timestamp(0), "1970-01-01 08:00:00");
        assert_eq!(shanghai_timestamp(1_700_000_000), "2023-11-15 06:13:20");
        assert_eq!(shanghai_timestamp(951_782_400), "2000-02-29 08:00:00");
        assert_eq!(shanghai_timestamp(951_782_400 - 8 * 3600 - 1), "2000-02-28 23:59:59");
        assert_eq!(shanghai_timestamp(4_107_513_599), "2100-02-28 23:59:59");
        assert_eq!(shanghai_timestamp(4_107_513_600), "2100-03-01 00:00:00", "2100 is not a leap year");
        assert_eq!(shanghai_timestamp(-1), "1970-01-01 07:59:59");
    }

    #[test]
    fn members_are_their_exact_text_with_braces_and_quotes_inside_strings() {
        let body = r#" { "a\"b" : "x}\"{" , "alipay_system_oauth_token_response":{"k":"}{\\","n":[1,{"d":"]"}],"m":"\"}"} ,"sign":"s/\/"}"#;
        let members = top_level_members(body).unwrap();
        let keys: Vec<&str> = members.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [r#"a\"b"#, "alipay_system_oauth_token_response", "sign"]);
        assert_eq!(members[0].1, r#""x}\"{""#);
        assert_eq!(members[1].1, r#"{"k":"}{\\","n":[1,{"d":"]"}],"m":"\"}"}"#);
        assert_eq!(members[2].1, r#""s/\/""#);
        // A member name inside a string, or deeper down, is not a member.
        let nested = r#"{"x":"\"alipay_system_oauth_token_response\":{}","y":{"error_response":{}}}"#;
        let names: Vec<&str> = top_level_members(nested).unwrap().iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["x", "y"]);
        assert_eq!(top_level_members(r#"{"n":12.5e3,"t":true,"z":null}"#).unwrap()[0].1, "12.5e3");
        assert!(top_level_members("{ }").unwrap().is_empty());
        for bad in [r#"{"a":1,"a":2}"#, r#"{"a":"x"#, r#"{"a":{"b":1}"#, r#"["a"]"#, r#"{"a":1} x"#, r#"{"a":}"#, ""] {
            assert_eq!(top_level_members(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_parse_from_base64_or_pem_and_a_misplaced_key_is_refused_by_name() {
        let key = parse_private_key(test_pkcs8()).unwrap();
        assert_eq!(key.public().modulus_len(), 256);
        parse_private_key(&pem("PRIVATE KEY", test_pkcs8())).unwrap();
        parse_private_key(&pem("PRIVATE KEY", test_pkcs8()).replace('\n', "\\n")).unwrap();
        // PKCS#1: the RSAPrivateKey inside the PKCS#8's OCTET STRING.
        let pkcs8 = BASE64.decode(test_pkcs8()).unwrap();
        let (inner, _) = der(&pkcs8, SEQUENCE).unwrap();
        let (_, rest) = der(inner, INTEGER).unwrap();
        let (_, rest) = der(rest, SEQUENCE).unwrap();
        let (pkcs1, _) = der(rest, 0x04).unwrap();
        parse_private_key(&pem("RSA PRIVATE KEY", &BASE64.encode(pkcs1))).unwrap();

        let public = parse_public_key(test_spki()).unwrap();
        assert_eq!((public.n.len(), public.e.as_slice()), (256, &[1u8, 0, 1][..]));
        parse_public_key(&pem("PUBLIC KEY", test_spki())).unwrap();
        let spki = BASE64.decode(test_spki()).unwrap();
        let bare = spki_rsa_public_key(&spki).unwrap();
        assert_eq!(parse_public_key(&pem("RSA PUBLIC KEY", &BASE64.encode(bare))).unwrap().n, public.n);
        // OpenSSL's signature checks with the parsed key: the SPKI wrapper was taken off right.
        let signature = BASE64.decode(node_signature()).unwrap();
        public.verify(&RSA_PKCS1_2048_8192_SHA256, SIGNED_TEXT.as_bytes(), &signature).unwrap();
        assert!(public.verify(&RSA_PKCS1_2048_8192_SHA256, b"a=1&b=2 3", &signature).is_err());

        let refused = |private: &str, public: &str| match Alipay::new(ALIPAY_GATEWAY, "2021", private, public) {
            Ok(_) => panic!("accepted"),
            Err(message) => message,
        };
        let message = refused(test_spki(), test_spki());
        assert!(message.starts_with("ALIPAY_PRIVATE_KEY is not"), "{message}");
        assert!(!message.contains(&test_spki()[..40]), "the key is never shown");
        assert!(refused("not base64!", test_spki()).starts_with("ALIPAY_PRIVATE_KEY"));
        assert!(refused(test_pkcs8(), test_pkcs8()).starts_with("ALIPAY_PUBLIC_KEY is not"));
        assert!(refused(test_pkcs8(), "").contains("ALIPAY_PUBLIC_KEY"));
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----";
        assert!(refused(encrypted, test_spki()).contains("encrypted"));
        // A 1024-bit RSAPublicKey: n of 128 bytes.
        let mut small = vec![0x30, 0x81, 0x89, 0x02, 0x81, 0x81, 0x00, 0xc1];
        small.extend([0x11; 127]);
        small.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
        assert!(parse_public_key(&BASE64.encode(&small)).unwrap_err().contains("1024-bit"));
    }

    #[test]
    fn a_reply_is_believed_only_when_signed_over_its_exact_text() {
        let alipay = alipay();
        let value = r#"{"access_token":"authbseB1","alipay_user_id":"20880001","expires_in":1209600,"re_expires_in":2592000,"refresh_token":"authbseR1","user_id":"2088000000000001","open_id":"074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"}"#;
        let body = signed_body(RESPONSE_MEMBER, value, &alipay);
        let session = alipay.read_reply(body.as_bytes()).unwrap();
        assert_eq!(session.openid, "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5");
        assert_eq!((session.session_key.as_str(), session.unionid), ("", None));
        // An older app: user_id only.
        let old = r#"{"user_id":"2088000000000002","access_token":"a","expires_in":"3600"}"#;
        assert_eq!(
            alipay.read_reply(signed_body(RESPONSE_MEMBER, old, &alipay).as_bytes()).unwrap().openid,
            "2088000000000002"
        );
        // Spaces and key order are Alipay's: the signature covers the text as sent.
        let spaced = "{ \"open_id\" : \"0ab\",\n \"user_id\":\"2088\" }";
        assert_eq!(alipay.read_reply(signed_body(RESPONSE_MEMBER, spaced, &alipay).as_bytes()).unwrap().openid, "0ab");
        // The sign before the member; a slash the gateway signed unescaped but sent as `\/`.
        let sign = alipay.sign(br#"{"open_id":"0a/b"}"#).unwrap();
        let first = format!(r#"{{"sign":"{sign}","alipay_system_oauth_token_response":{{"open_id":"0a\/b"}}}}"#);
        assert_eq!(alipay.read_reply(first.as_bytes()).unwrap().openid, "0a/b");

        let unreachable = |body: &str| match alipay.read_reply(body.as_bytes()) {
            Err(AlipayError::Unreachable(why)) => why,
            other => panic!("{:?}", other.map(|s| s.openid)),
        };
        assert!(unreachable(&body.replace("0zgNd", "0zgNe")).contains("does not check"), "tampered");
        assert!(unreachable(&format!(r#"{{"{RESPONSE_MEMBER}":{value}}}"#)).contains("unsigned"));
        assert!(unreachable(&format!(r#"{{"{RESPONSE_MEMBER}":{value},"sign":""}}"#)).contains("unsigned"));
        assert!(unreachable(&format!(r#"{{"{RESPONSE_MEMBER}":{value},"sign":"bm90IGEgc2lnbmF0dXJl"}}"#))
            .contains("does not check"));
        // A signature of another member's text does not vouch for this one.
        let other = alipay.sign(br#"{"open_id":"0other"}"#).unwrap();
        assert!(unreachable(&format!(r#"{{"{RESPONSE_MEMBER}":{value},"sign":"{other}"}}"#)).contains("does not check"));
        assert!(unreachable(r#"{"something_else":{},"sign":"x"}"#).contains("neither"));
        assert!(unreachable("<html>502</html>").contains("no JSON"));
        assert!(
            unreachable(&signed_body(RESPONSE_MEMBER, r#"{"access_token":"a"}"#, &alipay)).contains("neither open_id")
        );
        // The same member twice: refused, whichever one the signature covers.
        let twice = body.replacen('{', &format!(r#"{{"{RESPONSE_MEMBER}":{{"open_id":"0evil"}},"#), 1);
        assert!(unreachable(&twice).contains("distinct members"));
    }

    #[test]
    fn a_signed_error_response_is_alipays_code_and_maps_to_a_status() {
        let alipay = alipay();
        let error = |value: &str| match alipay.read_reply(signed_body(ERROR_MEMBER, value, &alipay).as_bytes()) {
            Err(error @ AlipayError::Api { .. }) => error.into_api("alipay.system.oauth.token"),
            other => panic!("{:?}", other.map(|s| s.openid)),
        };
        let used = error(
            r#"{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.code-invalid","sub_msg":"授权码code无效"}"#,
        );
        assert_eq!((used.status, used.errcode), (StatusCode::BAD_REQUEST, 40002));
        assert_eq!(used.errmsg, "alipay.system.oauth.token: isv.code-invalid 授权码code无效");
        let signature = error(
            r#"{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature","sub_msg":"验签出错"}"#,
        );
        assert_eq!((signature.status, signature.errcode), (StatusCode::BAD_GATEWAY, 40002));
        let busy = error(
            r#"{"code":"20000","msg":"Service Currently Unavailable","sub_code":"isp.unknow-error","sub_msg":"系统繁忙"}"#,
        );
        assert_eq!((busy.status, busy.errcode), (StatusCode::SERVICE_UNAVAILABLE, 20000));
        let auth =
            error(r#"{"code":"20001","msg":"Insufficient Token Permissions","sub_code":"aop.invalid-auth-token"}"#);
        assert_eq!((auth.status, auth.errcode), (StatusCode::BAD_GATEWAY, 20001));
        let permissions =
            error(r#"{"code":"40006","msg":"Insufficient Permissions","sub_code":"isv.insufficient-isv-permissions"}"#);
        assert_eq!((permissions.status, permissions.errcode), (StatusCode::BAD_GATEWAY, 40006));
        let bare = error(r#"{"code":"40004","msg":"Business Failed"}"#);
        assert_eq!(
            (bare.status, bare.errmsg.as_str()),
            (StatusCode::BAD_REQUEST, "alipay.system.oauth.token: Business Failed")
        );
        // An error inside the response member, as some methods answer.
        let inside = match alipay.read_reply(
            signed_body(
                RESPONSE_MEMBER,
                r#"{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.code-invalid"}"#,
                &alipay,
            )
            .as_bytes(),
        ) {
            Err(error) => error.into_api("x"),
            Ok(session) => panic!("{}", session.openid),
        };
        assert_eq!((inside.status, inside.errcode), (StatusCode::BAD_REQUEST, 40002));
        // Unsigned, an error is not believed either.
        let unsigned = alipay.read_reply(br#"{"error_response":{"code":"40002","sub_code":"isv.code-invalid"}}"#);
        let unsigned = unsigned.err().unwrap().into_api("x");
        assert_eq!((unsigned.status, unsigned.errcode), (StatusCode::BAD_GATEWAY, -1));
    }
}
