//! The one client of WeChat's server API: code2Session, the stable access token (shared by every
//! process through the store's lease), and getuserphonenumber.

use std::time::Duration;

use axum::http::StatusCode;
use serde::Deserialize;

use crate::error::ApiError;
use crate::keys::{sha256_hex, Keys};
use crate::store::{Lease, Store};
use crate::Clock;

/// Renew the access token this long before it expires (WeChat's stable token overlaps by 5 min).
const RENEW_EARLY_S: i64 = 300;
/// How long a process may hold the lease; a process that dies holding it blocks no one longer.
const LEASE_S: i64 = 30;
/// How often a process without a usable token looks again while another fetches.
const LEASE_POLL: Duration = Duration::from_millis(50);
const LEASE_WAIT_POLLS: u32 = 400;

pub struct WeChat {
    http: reqwest::Client,
    base: String,
    appid: String,
    secret: String,
    /// This process's name in the lease row.
    owner: String,
}

#[derive(Debug)]
pub enum WeChatError {
    /// WeChat answered an errcode.
    Api { errcode: i64, errmsg: String },
    /// No usable answer: unreachable, timed out, or not WeChat's shape.
    Unreachable(String),
}

pub struct CodeSession {
    pub openid: String,
    pub session_key: String,
    pub unionid: Option<String>,
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    openid: Option<String>,
    session_key: Option<String>,
    unionid: Option<String>,
    access_token: Option<String>,
    expires_in: Option<i64>,
    phone_info: Option<PhoneInfo>,
}

#[derive(Deserialize)]
struct PhoneInfo {
    #[serde(rename = "purePhoneNumber")]
    pure_phone_number: Option<String>,
    #[serde(rename = "countryCode")]
    country_code: Option<String>,
}

impl WeChatError {
    /// How `/auth/login` answers it: WeChat's errcode passes through with the status the SDK
    /// maps (40029/40163 → 400, 45011 → 429, 40226 → 403, -1 → 503); no answer → 502.
    pub fn into_api(self, what: &str) -> ApiError {
        match self {
            WeChatError::Api { errcode, errmsg } => {
                let status = match errcode {
                    -1 => StatusCode::SERVICE_UNAVAILABLE,
                    45011 => StatusCode::TOO_MANY_REQUESTS,
                    40226 => StatusCode::FORBIDDEN,
                    40001 | 42001 | 40013 | 40125 => StatusCode::BAD_GATEWAY,
                    _ => StatusCode::BAD_REQUEST,
                };
                tracing::info!(what, errcode, "wechat refused");
                ApiError::new(status, errcode, format!("{what}: {errmsg}"))
            }
            WeChatError::Unreachable(cause) => {
                tracing::warn!(what, %cause, "wechat unreachable");
                ApiError::new(StatusCode::BAD_GATEWAY, -1, format!("{what} unreachable"))
            }
        }
    }
}

/// The HTTPS client of a platform's server API: every call bounded, so a silent upstream never
/// holds a login.
pub fn api_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).connect_timeout(Duration::from_secs(5)).build()
}

/// Sends `request` and reads its JSON answer; no answer, or not JSON, is `Unreachable`.
pub async fn send_json<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> Result<T, WeChatError> {
    let response = request.send().await.map_err(|error| WeChatError::Unreachable(error.without_url().to_string()))?;
    response.json().await.map_err(|error| WeChatError::Unreachable(format!("not JSON: {}", error.without_url())))
}

impl WeChat {
    pub fn new(base: &str, appid: &str, secret: &str, owner: String) -> Result<WeChat, reqwest::Error> {
        let http = api_client()?;
        Ok(WeChat {
            http,
            base: base.trim_end_matches('/').to_owned(),
            appid: appid.to_owned(),
            secret: secret.to_owned(),
            owner,
        })
    }

    pub fn appid(&self) -> &str {
        &self.appid
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Reply, WeChatError> {
        let reply: Reply = send_json(request).await?;
        if reply.errcode != 0 {
            return Err(WeChatError::Api { errcode: reply.errcode, errmsg: reply.errmsg });
        }
        Ok(reply)
    }

    /// `GET /sns/jscode2session`: the code of `wx.login` → openid and session_key.
    pub async fn code2session(&self, code: &str) -> Result<CodeSession, WeChatError> {
        let query = [
            ("appid", self.appid.as_str()),
            ("secret", self.secret.as_str()),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ];
        let reply = self.call(self.http.get(format!("{}/sns/jscode2session", self.base)).query(&query)).await?;
        match (reply.openid, reply.session_key) {
            (Some(openid), Some(session_key)) if !openid.is_empty() && !session_key.is_empty() => {
                Ok(CodeSession { openid, session_key, unionid: reply.unionid.filter(|u| !u.is_empty()) })
            }
            _ => Err(WeChatError::Unreachable("code2Session answered no openid or session_key".into())),
        }
    }

    /// `POST /wxa/business/getuserphonenumber`: a phone code → (number, country code). A refused
    /// access token (40001/42001) is replaced once and the call made again.
    pub async fn phone_number(
        &self,
        store: &Store,
        keys: &Keys,
        clock: &Clock,
        phone_code: &str,
    ) -> Result<(String, String), WeChatError> {
        let mut refused = None;
        loop {
            let token = self.access_token(store, keys, clock, refused.as_deref()).await?;
            let request = self
                .http
                .post(format!("{}/wxa/business/getuserphonenumber", self.base))
                .query(&[("access_token", token.as_str())])
                .json(&serde_json::json!({ "code": phone_code }));
            match self.call(request).await {
                Err(WeChatError::Api { errcode: 40001 | 42001, .. }) if refused.is_none() => {
                    tracing::info!("getuserphonenumber refused the shared access token: replacing it");
                    refused = Some(token);
                }
                Err(error) => return Err(error),
                Ok(reply) => {
                    let info = reply
                        .phone_info
                        .ok_or_else(|| WeChatError::Unreachable("getuserphonenumber answered no phone_info".into()))?;
                    let number = info
                        .pure_phone_number
                        .filter(|n| !n.is_empty())
                        .ok_or_else(|| WeChatError::Unreachable("no purePhoneNumber".into()))?;
                    return Ok((number, info.country_code.unwrap_or_default()));
                }
            }
        }
    }

    /// The shared stable access token. `refused`: a token WeChat just refused, to be replaced.
    pub async fn access_token(
        &self,
        store: &Store,
        keys: &Keys,
        clock: &Clock,
        refused: Option<&str>,
    ) -> Result<String, WeChatError> {
        let context = format!("access_token:{}", self.appid);
        let refused_hash = refused.map(sha256_hex);
        let db = |error: sqlx::Error| WeChatError::Unreachable(format!("database: {error}"));
        for _ in 0..LEASE_WAIT_POLLS {
            let now = clock.now();
            let row = store.access_token(&self.appid).await.map_err(db)?;
            let current = row.token_sealed.as_deref().and_then(|sealed| keys.open(&context, sealed));
            let is_refused = refused_hash.is_some() && row.token_hash == refused_hash;
            if let Some(token) = &current {
                if !is_refused && row.expires_at - RENEW_EARLY_S > now {
                    return Ok(token.clone());
                }
            }
            let lease = Lease {
                appid: &self.appid,
                owner: &self.owner,
                renew_before: now + RENEW_EARLY_S,
                refused_hash: refused_hash.as_deref(),
            };
            if store.take_lease(&lease, now, now + LEASE_S).await.map_err(db)? {
                let fetched = self.fetch_stable_token(is_refused).await;
                let (token, expires_in) = match fetched {
                    Ok(pair) => pair,
                    Err(error) => {
                        let _ = store.release_lease(&lease).await;
                        return Err(error);
                    }
                };
                let sealed = keys
                    .seal(&context, &token)
                    .map_err(|_| WeChatError::Unreachable("cannot seal the access token".into()))?;
                store.put_access_token(&lease, &sealed, &sha256_hex(&token), now + expires_in).await.map_err(db)?;
                tracing::info!(expires_in, forced = is_refused, "wechat access token fetched for every process");
                return Ok(token);
            }
            // Another process is renewing: an unexpired, unrefused token serves meanwhile.
            if let Some(token) = current {
                if !is_refused && row.expires_at > now {
                    return Ok(token);
                }
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
        Err(WeChatError::Unreachable("waited too long for another process to fetch the access token".into()))
    }

    async fn fetch_stable_token(&self, force: bool) -> Result<(String, i64), WeChatError> {
        let body = serde_json::json!({ "grant_type": "client_credential", "appid": self.appid, "secret": self.secret, "force_refresh": force });
        let reply = self.call(self.http.post(format!("{}/cgi-bin/stable_token", self.base)).json(&body)).await?;
        match (reply.access_token, reply.expires_in) {
            (Some(token), Some(expires_in)) if !token.is_empty() && expires_in > 0 => Ok((token, expires_in)),
            _ => Err(WeChatError::Unreachable("stable_token answered no access_token".into())),
        }
    }
}
