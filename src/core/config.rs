//! The client's options: what the page passes to `createClient`, checked once, with an error that
//! names the option and says what would be accepted.

use super::error::SessionError;

/// Options as the page gave them; `None` means "use the default". The driver fills this from the
/// JavaScript object (reporting wrong types itself) and [`ConfigInput::validate`] does the rest.
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
}

/// Every option name `createClient` accepts (the shim handles `platform` and `wasmPath` itself).
/// Anything else is refused, so a typo such as `baseURL` is caught instead of silently ignored.
pub const OPTION_NAMES: &[&str] = &[
    "baseUrl",
    "loginPath",
    "storageKey",
    "timeoutMs",
    "allowInsecureHttp",
    "checkSession",
    "tokenField",
    "expiresInField",
    "expiryMarginMs",
    "maxLoginAttempts",
    "retryBaseDelayMs",
    "retryMaxDelayMs",
];

/// Validated options.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Scheme and authority, no trailing slash: `https://api.example.com`.
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
    /// last moments of its life.
    pub expiry_margin_ms: u64,
    pub retry: RetryPolicy,
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
        Some(_) => Err(invalid(option, format!("must be a whole number from {min} to {max}"))),
    }
}

fn field_path(option: &str, value: Option<String>, default: &str) -> Result<Vec<String>, SessionError> {
    let text = value.unwrap_or_else(|| default.to_string());
    let path: Vec<String> = text.split('.').map(str::to_string).collect();
    if path.iter().any(String::is_empty) {
        return Err(invalid(option, "must be a field name or a dotted path such as `data.token`"));
    }
    Ok(path)
}

/// Splits `baseUrl` into its origin and the whole base, refusing anything a request URL cannot be
/// built on. `http://` is allowed only with `allow_insecure_http` (local development).
fn check_base_url(url: &str, allow_insecure_http: bool) -> Result<(String, String), SessionError> {
    const OPTION: &str = "baseUrl";
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if let Some(rest) = url.strip_prefix("http://") {
        if !allow_insecure_http {
            return Err(invalid(
                OPTION,
                "http:// is refused because the session token would travel in clear text; \
                 use https://, or set allowInsecureHttp: true for local development only",
            ));
        }
        rest
    } else {
        return Err(invalid(OPTION, "must start with https:// (for example https://api.example.com)"));
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(OPTION, "must not contain spaces or control characters"));
    }
    if url.contains(['?', '#']) {
        return Err(invalid(OPTION, "must not contain a query (?) or a fragment (#)"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(invalid(OPTION, "must name a host, without user information"));
    }
    let base = url.trim_end_matches('/').to_string();
    let origin = base.get(..url.len() - rest.len() + authority.len()).unwrap_or(&base).to_string();
    Ok((origin, base))
}

impl ConfigInput {
    pub fn validate(self) -> Result<Config, SessionError> {
        let allow_insecure = self.allow_insecure_http.unwrap_or(false);
        let base_url =
            self.base_url.ok_or_else(|| invalid("baseUrl", "is required, e.g. 'https://api.example.com'"))?;
        let (origin, base_url) = check_base_url(&base_url, allow_insecure)?;

        let login_path = self.login_path.unwrap_or_else(|| "/auth/login".to_string());
        if !login_path.starts_with('/') || login_path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("loginPath", "must be a path starting with '/', e.g. '/auth/login'"));
        }

        let storage_key = self.storage_key.unwrap_or_else(|| "mp-session".to_string());
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
            login_url: format!("{base_url}{login_path}"),
            origin,
            base_url,
            storage_key,
            timeout_ms: whole("timeoutMs", self.timeout_ms, 1, 60_000, DEFAULT_TIMEOUT_MS)?,
            check_session: self.check_session.unwrap_or(false),
            token_field: field_path("tokenField", self.token_field, "token")?,
            expires_in_field: field_path("expiresInField", self.expires_in_field, "expiresIn")?,
            expiry_margin_ms: u64::from(whole(
                "expiryMarginMs",
                self.expiry_margin_ms,
                0,
                86_400_000,
                DEFAULT_EXPIRY_MARGIN_MS as u32,
            )?),
            retry: RetryPolicy { max_attempts, base_delay_ms, max_delay_ms },
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
    fn insecure_http_needs_the_explicit_opt_in() {
        assert_eq!(refused_option(with_base("http://127.0.0.1:8080")), "baseUrl");
        let allowed = ConfigInput { allow_insecure_http: Some(true), ..with_base("http://127.0.0.1:8080") };
        assert_eq!(allowed.validate().unwrap().origin, "http://127.0.0.1:8080");
    }

    #[test]
    fn bad_values_name_their_option() {
        assert_eq!(refused_option(ConfigInput::default()), "baseUrl");
        for url in ["ftp://x", "https://", "https://a b", "https://x/?q=1", "https://u@x"] {
            assert_eq!(refused_option(with_base(url)), "baseUrl", "{url}");
        }
        let base = || with_base("https://x");
        assert_eq!(refused_option(ConfigInput { login_path: Some("auth".into()), ..base() }), "loginPath");
        assert_eq!(refused_option(ConfigInput { timeout_ms: Some(0.0), ..base() }), "timeoutMs");
        assert_eq!(refused_option(ConfigInput { timeout_ms: Some(1.5), ..base() }), "timeoutMs");
        assert_eq!(refused_option(ConfigInput { token_field: Some("a..b".into()), ..base() }), "tokenField");
        assert_eq!(refused_option(ConfigInput { storage_key: Some(String::new()), ..base() }), "storageKey");
        assert_eq!(
            refused_option(ConfigInput { retry_base_delay_ms: Some(900.0), retry_max_delay_ms: Some(100.0), ..base() }),
            "retryMaxDelayMs"
        );
    }
}
