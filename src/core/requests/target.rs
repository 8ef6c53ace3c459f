//! Where a request may go: the page's URL checked once against the options, and whether it may
//! carry the token.

use crate::core::config::{origin_of, Config};
use crate::core::error::SessionError;

/// Where a request goes: the page's URL, kept as given (no copy is made when it is checked).
#[derive(Debug)]
pub(crate) struct Target {
    url: String,
    /// Appended to `baseUrl` when sent.
    relative: bool,
    /// Whether it may receive the token: an absolute URL when its origin, as [`origin_of`] spells
    /// it, is `baseUrl`'s or a trusted one; a relative one always, since it is appended to
    /// `baseUrl` after its authority and cannot leave it.
    pub(crate) trusted: bool,
}

impl Target {
    /// Checks the page's `url` against the options.
    pub(crate) fn new(config: &Config, url: String) -> Result<Target, SessionError> {
        let bad = |reason: &str| SessionError::ConfigInvalid { option: "url".into(), reason: reason.into() };
        if url.is_empty() || has_space_or_control(&url) {
            return Err(bad("must be a non-empty URL without spaces"));
        }
        let (http, https) = (starts_with_ignore_case(&url, "http://"), starts_with_ignore_case(&url, "https://"));
        if http || https {
            if http && !config.allow_insecure_http {
                return Err(bad("http:// is refused; use https:// or set allowInsecureHttp for local development"));
            }
            let origin = origin_of(&url).ok_or_else(|| {
                bad("is not a valid absolute URL (no user information, no backslash before the path)")
            })?;
            let trusted = origin == config.origin || config.requests.trusted_origins.contains(&origin);
            return Ok(Target { url, relative: false, trusted });
        }
        if matches!(url.as_bytes(), [b'/', b'/', ..])
            || url.as_bytes().windows(3).any(|w| matches!(w, [b':', b'/', b'/']))
        {
            return Err(bad("must be an https:// URL or a path relative to baseUrl"));
        }
        Ok(Target { url, relative: true, trusted: true })
    }

    /// The URL to send to: a relative one joined to `base` in one exact allocation, no `format!`.
    pub(crate) fn resolved(&self, base: &str) -> String {
        if !self.relative {
            return self.url.clone();
        }
        let mut joined = String::with_capacity(base.len() + 1 + self.url.len());
        joined.push_str(base);
        if !self.url.starts_with('/') {
            joined.push('/');
        }
        joined.push_str(&self.url);
        joined
    }
}

/// Whether `url` has whitespace or a control character anywhere (checked byte by byte when it is
/// ASCII, as it nearly always is).
fn has_space_or_control(url: &str) -> bool {
    if url.is_ascii() {
        url.bytes().any(|b| b <= b' ' || b == 0x7f)
    } else {
        url.chars().any(|c| c.is_whitespace() || c.is_control())
    }
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len() && text.bytes().zip(prefix.bytes()).all(|(a, b)| a.eq_ignore_ascii_case(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ConfigInput;

    fn resolve_url(config: &Config, url: &str) -> Result<(String, bool), SessionError> {
        Target::new(config, url.to_string()).map(|t| (t.resolved(&config.base_url), t.trusted))
    }

    fn config() -> Config {
        ConfigInput {
            base_url: Some("https://api.example.com/v1".into()),
            trusted_origins: Some(vec!["https://files.example.com".into()]),
            ..Default::default()
        }
        .validate()
        .unwrap()
    }

    #[test]
    fn urls_join_the_base_and_only_trusted_origins_get_the_token() {
        let c = config();
        assert_eq!(resolve_url(&c, "/me").unwrap(), ("https://api.example.com/v1/me".into(), true));
        assert_eq!(resolve_url(&c, "me").unwrap(), ("https://api.example.com/v1/me".into(), true));
        assert!(resolve_url(&c, "https://API.example.com/other").unwrap().1);
        assert!(resolve_url(&c, "https://files.example.com/a.png").unwrap().1);
        assert!(!resolve_url(&c, "https://evil.example.net/steal").unwrap().1);
        assert!(!resolve_url(&c, "https://api.example.com.evil.net/").unwrap().1);
        for bad in ["", "http://api.example.com/x", "//evil.net/x", "ftp://x/y", "/a b"] {
            assert!(resolve_url(&c, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_explicit_default_port_names_the_same_origin() {
        let c = config();
        for url in ["https://api.example.com:443/x", "https://API.EXAMPLE.COM:443", "https://files.example.com:443/a"] {
            assert_eq!(resolve_url(&c, url).unwrap(), (url.to_string(), true), "{url}");
        }
        for url in ["https://api.example.com:8443/x", "https://api.example.com:80/x", "https://files.example.com:444/"]
        {
            assert!(!resolve_url(&c, url).unwrap().1, "{url}");
        }
        let c = ConfigInput {
            base_url: Some("http://127.0.0.1:80/v1".into()),
            allow_insecure_http: Some(true),
            trusted_origins: Some(vec!["https://files.example.com:443".into(), "http://cdn.example.com:80".into()]),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(c.origin, "http://127.0.0.1");
        assert_eq!(c.requests.trusted_origins, ["https://files.example.com", "http://cdn.example.com"]);
        for url in
            ["http://127.0.0.1/x", "http://127.0.0.1:80/x", "https://files.example.com/a", "http://cdn.example.com/"]
        {
            assert!(resolve_url(&c, url).unwrap().1, "{url}");
        }
        for url in ["https://127.0.0.1/x", "http://127.0.0.1:8080/x", "http://files.example.com/a"] {
            assert!(!resolve_url(&c, url).unwrap().1, "{url}");
        }
        assert_eq!(resolve_url(&c, "/me").unwrap(), ("http://127.0.0.1:80/v1/me".into(), true));
    }

    #[test]
    fn tricks_never_send_the_token_to_another_host() {
        let c = config();
        for url in [
            "https://api.example.com@evil.com/x",
            "https://api.example.com:443@evil.com/x",
            "https://evil.com\\@api.example.com/x",
            "https://api.example.com\\.evil.com/x",
            "https://api.example.com\\@evil.com",
            "https://api.example.com:443.evil.com/",
            "https://api.example.com:evil/",
            "https://api.example.com:99999/",
        ] {
            assert!(resolve_url(&c, url).is_err(), "{url}");
        }
        for url in [
            "https://api.example.com.evil.com/",
            "https://evil.com/https://api.example.com/",
            "https://evil.com?@api.example.com",
            "https://evil.com#@api.example.com",
            "HTTPS://EVIL.COM/",
            "https://api.example.com%2eevil.com/",
            "https://xn--pi-6kc.example.com/",
        ] {
            assert!(!resolve_url(&c, url).unwrap().1, "{url}");
        }
        // Relative references stay under baseUrl, whatever they contain.
        for url in ["\\\\evil.com/x", "/\\evil.com", "@evil.com", "https:\\\\evil.com", ":443@evil.com"] {
            let (resolved, trusted) = resolve_url(&c, url).unwrap();
            assert!(trusted && resolved.starts_with("https://api.example.com/v1/"), "{url} -> {resolved}");
        }
        assert!(resolve_url(&c, "//evil.com").is_err());
    }
}
