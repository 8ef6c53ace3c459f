//! The client's options: what the page passes to `createClient`, checked once, with an error that
//! names the option and says what would be accepted.

mod options;

use crate::core::codec::json::{decimal, Json};
use crate::core::error::SessionError;

/// Options as the page gave them; `None` means "use the default". [`ConfigInput::from_json`] fills
/// it from the options' JSON text (reporting unknown names and wrong kinds) and
/// [`ConfigInput::validate`] does the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigInput {
    pub base_url: Option<String>,
    pub login_path: Option<String>,
    pub storage_key: Option<String>,
    pub timeout_ms: Option<f64>,
    pub allow_insecure_http: Option<bool>,
    pub check_session: Option<bool>,
    pub token_field: Option<String>,
    pub expires_in_field: Option<String>,
    pub expiry_margin_ms: Option<f64>,
    pub max_login_attempts: Option<f64>,
    pub retry_base_delay_ms: Option<f64>,
    pub retry_max_delay_ms: Option<f64>,
    pub token_header: Option<String>,
    pub token_scheme: Option<String>,
    pub expired_statuses: Option<Vec<f64>>,
    pub expired_body_field: Option<String>,
    pub expired_body_values: Option<Vec<BodyValue>>,
    pub trusted_origins: Option<Vec<String>>,
    pub max_concurrent_requests: Option<f64>,
    pub max_request_attempts: Option<f64>,
    pub reply_fields: Option<Vec<String>>,
    pub refresh_path: Option<String>,
    pub refresh_token_field: Option<String>,
    pub refresh_expires_in_field: Option<String>,
    pub silent_login: Option<bool>,
    pub cookie: Option<String>,
}

/// A scalar in a response body, as `expiredWhen.bodyValues` lists them.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyValue {
    Number(f64),
    Text(String),
}

impl BodyValue {
    /// A number or string JSON value as a body code; `None` for anything else.
    pub(crate) fn of(value: &Json) -> Option<BodyValue> {
        match value {
            Json::Number(n, _) => Some(BodyValue::Number(*n)),
            Json::String(t) => Some(BodyValue::Text(t.clone())),
            _ => None,
        }
    }

    /// Equal as written, or as numbers when one side is a numeric string (`"40101"` matches 40101).
    pub fn matches(&self, other: &BodyValue) -> bool {
        let number = |v: &BodyValue| match v {
            BodyValue::Number(n) => Some(*n),
            BodyValue::Text(t) => crate::core::codec::json::parse_number(t.trim()),
        };
        self == other || matches!((number(self), number(other)), (Some(a), Some(b)) if a == b)
    }
}

/// Validated options.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `baseUrl`'s origin as [`origin_of`] spells it: `https://api.example.com` (lower-case, no
    /// default port, no trailing slash).
    pub origin: String,
    /// `baseUrl` without its trailing slash: `https://api.example.com/v1`.
    pub base_url: String,
    pub login_url: String,
    pub storage_key: String,
    /// Bounds every platform call (WeChat's own maximum is 60 s).
    pub timeout_ms: u32,
    pub check_session: bool,
    pub token_field: Vec<String>,
    pub expires_in_field: Vec<String>,
    /// A session expiring within this margin counts as expired, so a token is never sent in the
    /// last moments of its life. Capped per session at a quarter of its life, so that it can never
    /// make a session stale on arrival (see `expiry::stale_at`).
    pub expiry_margin_ms: u64,
    pub retry: RetryPolicy,
    pub allow_insecure_http: bool,
    /// How `auth.request()` attaches the token and recognises an expired session.
    pub requests: RequestPolicy,
    /// `replyFields`: the paths of the login reply's members kept with the session; `None` keeps
    /// no reply at all (the session and its stored value are then token and expiry only).
    pub reply_fields: Option<Vec<Vec<String>>>,
    /// `refresh`: where and how an access token is renewed without `wx.login`.
    pub refresh: Option<RefreshPolicy>,
    /// `silentLogin`: whether the core may call `wx.login` by itself (default true). Without it,
    /// a call that finds no valid session (after a refresh, where configured) is `LOGIN_REQUIRED`.
    pub silent_login: bool,
}

/// `refresh: { path, tokenField, expiresInField }`: a login reply's refresh token is kept with the
/// session and posted as `{ refreshToken }` to `url` when the access token is stale or rejected.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshPolicy {
    pub url: String,
    /// Where a login or refresh reply carries the refresh token (`refreshToken`).
    pub token_field: Vec<String>,
    /// Where it carries the refresh token's lifetime in seconds (`refreshExpiresIn`), if it does.
    pub expires_in_field: Vec<String>,
}

/// Rules for authenticated requests.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestPolicy {
    pub token_header: String,
    /// Put before the token with a space (`Bearer <token>`); empty sends the raw token.
    pub token_scheme: String,
    /// Origins (`https://host[:port]`) besides `baseUrl`'s that receive the token, as
    /// [`origin_of`] spells them.
    pub trusted_origins: Vec<String>,
    pub expired_statuses: Vec<u16>,
    pub expired_body_field: Option<Vec<String>>,
    pub expired_body_values: Vec<BodyValue>,
    /// WeChat allows 10 concurrent `wx.request`/upload/download; more wait in FIFO order.
    pub max_concurrent: u32,
    /// Attempts of a GET/HEAD request whose transport fails. Other methods are never retried.
    pub max_idempotent_attempts: u32,
    /// `cookie`: the name of the cookie that is the session (cookie mode). Sends then carry
    /// `Cookie: <name>=<token>` instead of `tokenHeader`.
    pub cookie: Option<String>,
}

impl RequestPolicy {
    /// Whether `code`, found at `expiredWhen.bodyField`, is one of `expiredWhen.bodyValues`.
    pub(crate) fn body_code_expired(&self, code: &BodyValue) -> bool {
        self.expired_body_values.iter().any(|v| v.matches(code))
    }
}

/// How often and how patiently a login is retried after a server failure (HTTP 5xx, errcode -1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay_ms: u32,
    pub max_delay_ms: u32,
}

pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
pub const DEFAULT_EXPIRY_MARGIN_MS: u64 = 60_000;

fn invalid(option: &str, reason: impl Into<String>) -> SessionError {
    SessionError::ConfigInvalid { option: option.into(), reason: reason.into() }
}

/// A whole number within `min..=max`, or the default when absent.
fn whole(option: &str, value: Option<f64>, min: u32, max: u32, default: u32) -> Result<u32, SessionError> {
    match value {
        None => Ok(default),
        Some(v) if v.fract() == 0.0 && v >= f64::from(min) && v <= f64::from(max) => Ok(v as u32),
        Some(_) => Err(invalid(
            option,
            ["must be a whole number from ", &decimal(min.into()), " to ", &decimal(max.into())].concat(),
        )),
    }
}

/// The origin (`scheme://host[:port]`) of an absolute http(s) URL, in one spelling per origin:
/// scheme and host lower-cased, the port as a plain number and dropped when it is the scheme's
/// default (443, 80), so `https://API.example.com:443/x` and `https://api.example.com` compare
/// equal, as they do in browsers.
///
/// `None` for anything that is not plainly such a URL, so that it can never be mistaken for a
/// trusted origin: another scheme, no host, user information (`https://api.example.com@evil.com`
/// goes to evil.com), a backslash in the authority (URL parsers disagree on where it ends), a port
/// that is not a number up to 65535.
pub fn origin_of(url: &str) -> Option<String> {
    split_origin(url).map(|(origin, _)| origin)
}

/// [`origin_of`], and what follows the authority (path, query, fragment).
///
/// Byte by byte, without `str::find` patterns, number parsing or `to_ascii_lowercase` copies: the
/// same rules in a third of the wasm.
fn split_origin(url: &str) -> Option<(String, &str)> {
    let scheme_end = url.as_bytes().windows(3).position(|w| w == b"://")?;
    let (scheme, default_port): (&str, u32) = match url.get(..scheme_end)? {
        s if s.eq_ignore_ascii_case("https") => ("https", 443),
        s if s.eq_ignore_ascii_case("http") => ("http", 80),
        _ => return None,
    };
    let rest = url.get(scheme_end + 3..)?;
    let end = rest.bytes().position(|b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let (authority, tail) = (rest.get(..end)?, rest.get(end..)?);
    let refused = |b: u8| b == b'@' || b == b'\\' || b <= b' ' || b == 0x7f;
    if authority.bytes().any(refused)
        || (!authority.is_ascii() && authority.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return None;
    }
    // The port follows the last colon, unless that colon is inside an IPv6 literal (`[::1]`).
    let colon = authority.bytes().rposition(|b| b == b':');
    let (host, port) = match colon {
        Some(colon) if !authority.as_bytes().get(colon..)?.contains(&b']') => {
            (authority.get(..colon)?, authority.get(colon + 1..)?)
        }
        _ => (authority, ""),
    };
    if host.is_empty() {
        return None;
    }
    // `https://host:/` is allowed by the URL standard and means the default port.
    let mut number: u32 = if port.is_empty() { default_port } else { 0 };
    for digit in port.bytes() {
        if !digit.is_ascii_digit() {
            return None;
        }
        number = number * 10 + u32::from(digit - b'0');
        if number > 65_535 {
            return None;
        }
    }
    let mut origin = String::with_capacity(scheme.len() + 3 + host.len() + 6);
    origin.push_str(scheme);
    origin.push_str("://");
    origin.extend(host.chars().map(|c| c.to_ascii_lowercase()));
    if number != default_port {
        origin.push(':');
        origin.push_str(&decimal(number.into()));
    }
    Some((origin, tail))
}

/// An HTTP header name: RFC 7230 token characters.
fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn request_policy(input: &ConfigInput) -> Result<RequestPolicy, SessionError> {
    let cookie = input.cookie.clone();
    if cookie.as_deref().is_some_and(|name| !is_header_name(name)) {
        return Err(invalid("cookie", "must be a cookie name such as 'sid'"));
    }
    let token_header = input.token_header.as_deref().unwrap_or("Authorization").to_string();
    if !is_header_name(&token_header) {
        return Err(invalid("tokenHeader", "must be an HTTP header name such as 'Authorization'"));
    }
    let token_scheme = input.token_scheme.as_deref().unwrap_or("Bearer").to_string();
    if !token_scheme.is_empty() && !is_header_name(&token_scheme) {
        return Err(invalid("tokenScheme", "must be a single word such as 'Bearer', or '' to send the raw token"));
    }
    let mut trusted_origins = Vec::new();
    for origin in input.trusted_origins.iter().flatten() {
        match split_origin(origin) {
            Some((o, "" | "/")) => trusted_origins.push(o),
            _ => {
                return Err(invalid("trustedOrigins", "must list origins such as 'https://cdn.example.com' (no path)"))
            }
        }
    }
    let mut expired_statuses = Vec::new();
    for &status in input.expired_statuses.as_deref().unwrap_or(&[401.0]) {
        if status.fract() != 0.0 || !(100.0..=599.0).contains(&status) {
            return Err(invalid("expiredWhen.statuses", "must list HTTP statuses (100–599)"));
        }
        expired_statuses.push(status as u16);
    }
    let expired_body_field = match input.expired_body_field.as_deref() {
        Some(f) => Some(field_path("expiredWhen.bodyField", Some(f), "")?),
        None => None,
    };
    let expired_body_values = input.expired_body_values.clone().unwrap_or_default();
    // One without the other would silently never match.
    if expired_body_field.is_some() == expired_body_values.is_empty() {
        return Err(invalid("expiredWhen", "bodyField and bodyValues go together"));
    }
    Ok(RequestPolicy {
        token_header,
        token_scheme,
        trusted_origins,
        expired_statuses,
        expired_body_field,
        expired_body_values,
        max_concurrent: whole("maxConcurrentRequests", input.max_concurrent_requests, 1, 10, 10)?,
        max_idempotent_attempts: whole("maxRequestAttempts", input.max_request_attempts, 1, 5, 2)?,
        cookie,
    })
}

fn field_path(option: &str, value: Option<&str>, default: &str) -> Result<Vec<String>, SessionError> {
    let path: Vec<String> = value.unwrap_or(default).split('.').map(str::to_string).collect();
    if path.iter().any(String::is_empty) {
        return Err(invalid(option, "must be a field name or a dotted path such as `data.token`"));
    }
    Ok(path)
}

/// Splits `baseUrl` into its origin and the whole base, refusing anything a request URL cannot be
/// built on. `http://` is allowed only with `allow_insecure_http` (local development).
fn check_base_url(url: &str, allow_insecure_http: bool) -> Result<(String, String), SessionError> {
    const OPTION: &str = "baseUrl";
    if url.starts_with("http://") {
        if !allow_insecure_http {
            return Err(invalid(
                OPTION,
                "http:// is refused because the session token would travel in clear text; \
                 use https://, or set allowInsecureHttp: true for local development only",
            ));
        }
    } else if !url.starts_with("https://") {
        return Err(invalid(OPTION, "must start with https:// (for example https://api.example.com)"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(OPTION, "must not contain spaces or control characters"));
    }
    if url.contains(['?', '#']) {
        return Err(invalid(OPTION, "must not contain a query (?) or a fragment (#)"));
    }
    let Some(origin) = origin_of(url) else {
        return Err(invalid(OPTION, "must name a host (and a numeric port, if any), without user information"));
    };
    Ok((origin, url.trim_end_matches('/').to_string()))
}

/// `path` as a URL on `base_url`: a path starting with '/', without spaces or control characters.
pub(crate) fn url_on(option: &str, base_url: &str, path: &str) -> Result<String, SessionError> {
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(option, "must be a path starting with '/', e.g. '/auth/login'"));
    }
    Ok([base_url, path].concat())
}

fn refresh_policy(input: &ConfigInput, base_url: &str) -> Result<Option<RefreshPolicy>, SessionError> {
    let Some(path) = input.refresh_path.as_deref() else {
        if input.refresh_token_field.is_some() || input.refresh_expires_in_field.is_some() {
            return Err(invalid("refresh.path", "is required with refresh, e.g. '/auth/refresh'"));
        }
        return Ok(None);
    };
    Ok(Some(RefreshPolicy {
        url: url_on("refresh.path", base_url, path)?,
        token_field: field_path("refresh.tokenField", input.refresh_token_field.as_deref(), "refreshToken")?,
        expires_in_field: field_path(
            "refresh.expiresInField",
            input.refresh_expires_in_field.as_deref(),
            "refreshExpiresIn",
        )?,
    }))
}

/// `replyFields`: dotted paths, none of which may name `session_key` in any of its segments.
fn reply_fields(fields: Option<&[String]>) -> Result<Option<Vec<Vec<String>>>, SessionError> {
    const OPTION: &str = "replyFields";
    let Some(fields) = fields else { return Ok(None) };
    let mut paths = Vec::new();
    for field in fields {
        let path = field_path(OPTION, Some(field), "")?;
        if path.iter().any(|segment| crate::core::codec::kept_reply::is_secret_name(segment)) {
            return Err(invalid(
                OPTION,
                "can never keep `session_key` (or a field named like it): it stays on your server",
            ));
        }
        paths.push(path);
    }
    Ok(Some(paths))
}

impl ConfigInput {
    pub fn validate(self) -> Result<Config, SessionError> {
        // Checked by reference: an early refusal then drops the input once, here, instead of
        // each return dropping what is left of it (-846 B of wasm).
        self.checked()
    }

    fn checked(&self) -> Result<Config, SessionError> {
        let reply_fields = reply_fields(self.reply_fields.as_deref())?;
        let requests = request_policy(self)?;
        let allow_insecure = self.allow_insecure_http.unwrap_or(false);
        let base_url = self
            .base_url
            .as_deref()
            .ok_or_else(|| invalid("baseUrl", "is required, e.g. 'https://api.example.com'"))?;
        let (origin, base_url) = check_base_url(base_url, allow_insecure)?;

        let login_url = url_on("loginPath", &base_url, self.login_path.as_deref().unwrap_or("/auth/login"))?;
        let refresh = refresh_policy(self, &base_url)?;
        // The refresh token is as secret as a password: a kept reply can never hold it.
        if let (Some(refresh), Some(fields)) = (&refresh, &reply_fields) {
            if fields.iter().any(|kept| refresh.token_field.starts_with(kept)) {
                return Err(invalid("replyFields", "can never keep the refresh token (refresh.tokenField)"));
            }
        }

        let storage_key = self.storage_key.as_deref().unwrap_or("mp-session").to_string();
        if storage_key.is_empty() || storage_key.len() > 128 {
            return Err(invalid("storageKey", "must be a non-empty string of at most 128 characters"));
        }

        let max_attempts = whole("maxLoginAttempts", self.max_login_attempts, 1, 10, 3)?;
        let base_delay_ms = whole("retryBaseDelayMs", self.retry_base_delay_ms, 0, 60_000, 500)?;
        let max_delay_ms = whole("retryMaxDelayMs", self.retry_max_delay_ms, 0, 300_000, 8_000)?;
        if max_delay_ms < base_delay_ms {
            return Err(invalid("retryMaxDelayMs", "must not be smaller than retryBaseDelayMs"));
        }

        Ok(Config {
            login_url,
            origin,
            base_url,
            storage_key,
            timeout_ms: whole("timeoutMs", self.timeout_ms, 1, 60_000, DEFAULT_TIMEOUT_MS)?,
            check_session: self.check_session.unwrap_or(false),
            token_field: field_path("tokenField", self.token_field.as_deref(), "token")?,
            expires_in_field: field_path("expiresInField", self.expires_in_field.as_deref(), "expiresIn")?,
            expiry_margin_ms: u64::from(whole(
                "expiryMarginMs",
                self.expiry_margin_ms,
                0,
                86_400_000,
                DEFAULT_EXPIRY_MARGIN_MS as u32,
            )?),
            retry: RetryPolicy { max_attempts, base_delay_ms, max_delay_ms },
            requests,
            allow_insecure_http: allow_insecure,
            reply_fields,
            refresh,
            silent_login: self.silent_login.unwrap_or(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_base(url: &str) -> ConfigInput {
        ConfigInput { base_url: Some(url.into()), ..Default::default() }
    }

    fn refused_option(input: ConfigInput) -> String {
        match input.validate() {
            Err(SessionError::ConfigInvalid { option, .. }) => option,
            other => panic!("expected CONFIG_INVALID, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_documented_contract() {
        let c = with_base("https://api.example.com/v1/").validate().unwrap();
        assert_eq!(c.origin, "https://api.example.com");
        assert_eq!(c.login_url, "https://api.example.com/v1/auth/login");
        assert_eq!(c.storage_key, "mp-session");
        assert_eq!(c.token_field, vec!["token"]);
        assert_eq!(c.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert!(!c.check_session);
    }

    #[test]
    fn origins_and_body_values_compare_loosely_where_it_is_safe() {
        assert_eq!(origin_of("HTTPS://API.Example.com:8443/x?y"), Some("https://api.example.com:8443".into()));
        assert_eq!(origin_of("ftp://x"), None);
        assert_eq!(origin_of("https://u@x/"), None);
        assert_eq!(origin_of("https://API.example.com:443/x"), Some("https://api.example.com".into()));
        assert_eq!(origin_of("https://api.example.com:0443"), Some("https://api.example.com".into()));
        assert_eq!(origin_of("https://api.example.com:/x"), Some("https://api.example.com".into()));
        assert_eq!(origin_of("http://host:80?q"), Some("http://host".into()));
        assert_eq!(origin_of("https://host:80#f"), Some("https://host:80".into()));
        assert_eq!(origin_of("http://[::1]:8080/x"), Some("http://[::1]:8080".into()));
        assert_eq!(origin_of("http://[::1]/x"), Some("http://[::1]".into()));
        for bad in ["https://", "https://:443/", "https://h:65536/", "https://h:x/", "https://h\\i/", "https://a@h"] {
            assert_eq!(origin_of(bad), None, "{bad}");
        }
        assert!(BodyValue::Number(40101.0).matches(&BodyValue::Text("40101".into())));
        assert!(!BodyValue::Text("expired".into()).matches(&BodyValue::Text("Expired".into())));
    }

    #[test]
    fn origins_are_kept_without_their_default_port() {
        let c = ConfigInput {
            trusted_origins: Some(vec!["https://CDN.example.com:443/".into(), "https://cdn2.example.com:8443".into()]),
            ..with_base("https://API.example.com:443/v1/")
        }
        .validate()
        .unwrap();
        assert_eq!(c.origin, "https://api.example.com");
        assert_eq!(c.base_url, "https://API.example.com:443/v1");
        assert_eq!(c.login_url, "https://API.example.com:443/v1/auth/login");
        assert_eq!(c.requests.trusted_origins, ["https://cdn.example.com", "https://cdn2.example.com:8443"]);
    }

    #[test]
    fn insecure_http_needs_the_explicit_opt_in() {
        assert_eq!(refused_option(with_base("http://127.0.0.1:8080")), "baseUrl");
        let allowed = ConfigInput { allow_insecure_http: Some(true), ..with_base("http://127.0.0.1:8080") };
        assert_eq!(allowed.validate().unwrap().origin, "http://127.0.0.1:8080");
    }

    #[test]
    fn bad_values_name_their_option() {
        assert_eq!(refused_option(ConfigInput::default()), "baseUrl");
        for url in
            ["ftp://x", "https://", "https://a b", "https://x/?q=1", "https://u@x", "https://x:y", "https://x\\y"]
        {
            assert_eq!(refused_option(with_base(url)), "baseUrl", "{url}");
        }
        let base = || with_base("https://x");
        assert_eq!(refused_option(ConfigInput { login_path: Some("auth".into()), ..base() }), "loginPath");
        assert_eq!(refused_option(ConfigInput { timeout_ms: Some(0.0), ..base() }), "timeoutMs");
        assert_eq!(refused_option(ConfigInput { timeout_ms: Some(1.5), ..base() }), "timeoutMs");
        assert_eq!(refused_option(ConfigInput { token_field: Some("a..b".into()), ..base() }), "tokenField");
        assert_eq!(refused_option(ConfigInput { storage_key: Some(String::new()), ..base() }), "storageKey");
        assert_eq!(refused_option(ConfigInput { token_header: Some("X Token".into()), ..base() }), "tokenHeader");
        for origin in ["https://cdn.x/path", "https://cdn.x?q", "https://u@cdn.x", "cdn.x", "https://cdn.x:1e3"] {
            assert_eq!(
                refused_option(ConfigInput { trusted_origins: Some(vec![origin.into()]), ..base() }),
                "trustedOrigins",
                "{origin}"
            );
        }
        assert_eq!(
            refused_option(ConfigInput { expired_statuses: Some(vec![99.0]), ..base() }),
            "expiredWhen.statuses"
        );
        assert_eq!(refused_option(ConfigInput { expired_body_field: Some("code".into()), ..base() }), "expiredWhen");
        assert_eq!(
            refused_option(ConfigInput { max_concurrent_requests: Some(11.0), ..base() }),
            "maxConcurrentRequests"
        );
        assert_eq!(
            refused_option(ConfigInput { retry_base_delay_ms: Some(900.0), retry_max_delay_ms: Some(100.0), ..base() }),
            "retryMaxDelayMs"
        );
        for fields in
            [vec!["user", "session_key"], vec!["data.Session_Key"], vec!["a.sessionKey.b"], vec!["a..b"], vec![""]]
        {
            let reply_fields = Some(fields.iter().map(|f| f.to_string()).collect());
            assert_eq!(refused_option(ConfigInput { reply_fields, ..base() }), "replyFields", "{fields:?}");
        }
    }

    #[test]
    fn reply_fields_are_paths_and_default_to_none() {
        assert_eq!(with_base("https://x").validate().unwrap().reply_fields, None);
        let c =
            ConfigInput { reply_fields: Some(vec!["user.id".into(), "isNewUser".into()]), ..with_base("https://x") };
        assert_eq!(
            c.validate().unwrap().reply_fields,
            Some(vec![vec!["user".into(), "id".into()], vec!["isNewUser".into()]])
        );
    }
}
