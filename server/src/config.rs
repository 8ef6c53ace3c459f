//! Configuration: every setting is a flag and an environment variable (flags win).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

pub const WECHAT_API: &str = "https://api.weixin.qq.com";

#[derive(Parser, Debug, Clone)]
#[command(
    name = "mp-session-server",
    version,
    args_override_self = true,
    about = "The server half of mp-session: WeChat login, JWT access tokens, rotated refresh tokens"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the generated keys.
    #[arg(long, env = "MP_SESSION_DATA_DIR", default_value = "mp-session-data")]
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; default: SQLite in the data directory.
    #[arg(long = "database", env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// The mini-program's appid.
    #[arg(long, env = "WECHAT_APPID")]
    pub wechat_appid: Option<String>,
    /// The mini-program's secret.
    #[arg(long, env = "WECHAT_SECRET", hide_env_values = true)]
    pub wechat_secret: Option<String>,
    /// WeChat's API base; tests and the demo point it at the mock WeChat.
    #[arg(long, env = "WECHAT_API_BASE", default_value = WECHAT_API)]
    pub wechat_api_base: String,
    /// The Douyin mini-app's appid: with DOUYIN_SECRET, `POST /auth/douyin/login` exchanges
    /// tt.login's codes (without them that route answers 404).
    #[arg(long, env = "DOUYIN_APPID")]
    pub douyin_appid: Option<String>,
    /// The Douyin mini-app's secret.
    #[arg(long, env = "DOUYIN_SECRET", hide_env_values = true)]
    pub douyin_secret: Option<String>,
    /// Douyin's API base; tests point it at the mock.
    #[arg(long, env = "DOUYIN_API_BASE", default_value = crate::douyin::DOUYIN_API)]
    pub douyin_api_base: String,
    /// The Alipay mini-program's app_id: with ALIPAY_PRIVATE_KEY and ALIPAY_PUBLIC_KEY,
    /// `POST /auth/alipay/login` exchanges my.getAuthCode's authCode (without them that route
    /// answers 404).
    #[arg(long, env = "ALIPAY_APPID")]
    pub alipay_appid: Option<String>,
    /// The app's RSA private key, which signs the gateway calls: PKCS#8 (or PKCS#1) DER in
    /// base64, or PEM. Prefer the environment to the flag.
    #[arg(long, env = "ALIPAY_PRIVATE_KEY", hide_env_values = true)]
    pub alipay_private_key: Option<SecretText>,
    /// Alipay's RSA public key (支付宝公钥), which checks the gateway's replies:
    /// SubjectPublicKeyInfo DER in base64, or PEM.
    #[arg(long, env = "ALIPAY_PUBLIC_KEY", hide_env_values = true)]
    pub alipay_public_key: Option<String>,
    /// Alipay's open gateway; tests point it at the mock.
    #[arg(long, env = "ALIPAY_GATEWAY", default_value = crate::alipay::ALIPAY_GATEWAY)]
    pub alipay_gateway: String,
    /// Bearer token of the /admin/ routes; without it they answer 403.
    #[arg(long, env = "MP_SESSION_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Access-token (JWT) lifetime, seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value_t = 7200)]
    pub access_ttl: i64,
    /// Refresh-token lifetime, seconds (a session ends this long after its last refresh).
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value_t = 30 * 24 * 3600)]
    pub refresh_ttl: i64,
    /// Logins per minute per client address on /auth/* (0: no limit).
    #[arg(long, env = "AUTH_RATE_PER_ADDRESS", default_value_t = 120)]
    pub auth_rate_per_address: u32,
    /// Logins per minute per openid (0: no limit).
    #[arg(long, env = "AUTH_RATE_PER_OPENID", default_value_t = 20)]
    pub auth_rate_per_openid: u32,
    /// Take the client address from X-Forwarded-For (behind your own HTTPS proxy only).
    #[arg(long, env = "TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,
    /// Log lines as `text` (key=value fields) or `json` (one object per line, for a log pipeline).
    #[arg(long, env = "LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Database connections per process.
    #[arg(long, env = "DATABASE_CONNECTIONS", default_value_t = 8)]
    pub database_connections: u32,
}

/// A setting that is a secret: its Debug shows none of it, so a printed Config leaks nothing.
#[derive(Clone)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(..)")
    }
}

impl std::str::FromStr for SecretText {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<SecretText, Self::Err> {
        Ok(SecretText(text.to_owned()))
    }
}

/// http:// on this machine: the mock WeChat's address in tests and the demo.
fn is_loopback_http(base: &str) -> bool {
    ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|local| base == *local || base.starts_with(&format!("{local}:")) || base.starts_with(&format!("{local}/")))
}

impl Config {
    /// The database URL: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("mp-session.db").display()),
        }
    }

    /// The checks that need no IO: a clear message for each mistake.
    pub fn validate(&self) -> Result<(), String> {
        if self.wechat_appid.as_deref().unwrap_or("").is_empty()
            || self.wechat_secret.as_deref().unwrap_or("").is_empty()
        {
            return Err("WECHAT_APPID and WECHAT_SECRET are required (the mini-program's appid and secret; the mock WeChat takes wx-mock-appid / mock-secret)".into());
        }
        for (name, base) in [
            ("WECHAT_API_BASE", &self.wechat_api_base),
            ("DOUYIN_API_BASE", &self.douyin_api_base),
            ("ALIPAY_GATEWAY", &self.alipay_gateway),
        ] {
            let base = base.trim_end_matches('/');
            if !base.starts_with("https://") && !is_loopback_http(base) {
                return Err(format!(
                    "{name} must be https:// (http:// only on 127.0.0.1, for the mock WeChat): {base}"
                ));
            }
        }
        if self.douyin_appid.as_deref().unwrap_or("").is_empty()
            != self.douyin_secret.as_deref().unwrap_or("").is_empty()
        {
            return Err("DOUYIN_APPID and DOUYIN_SECRET go together (the Douyin mini-app's appid and secret)".into());
        }
        let alipay = [
            self.alipay_appid.as_deref(),
            self.alipay_private_key.as_ref().map(|key| key.0.as_str()),
            self.alipay_public_key.as_deref(),
        ];
        let alipay_set = alipay.iter().filter(|value| !value.unwrap_or("").trim().is_empty()).count();
        if alipay_set != 0 && alipay_set != alipay.len() {
            return Err("ALIPAY_APPID, ALIPAY_PRIVATE_KEY and ALIPAY_PUBLIC_KEY go together (the Alipay app's app_id, the app's RSA private key, and Alipay's public key)".into());
        }
        if self.access_ttl < 60 || self.refresh_ttl < self.access_ttl {
            return Err("ACCESS_TOKEN_TTL must be at least 60 s and REFRESH_TOKEN_TTL at least ACCESS_TOKEN_TTL".into());
        }
        let url = self.database_url();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err("DATABASE_URL must be sqlite://PATH or postgres://…".into());
        }
        if self.database_connections == 0 {
            return Err("DATABASE_CONNECTIONS must be at least 1".into());
        }
        Ok(())
    }
}
