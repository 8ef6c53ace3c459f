//! Douyin's code exchange: `tt.login` gives a `code` to a user logged into the Douyin app and an
//! `anonymousCode` always; `POST /api/apps/v2/jscode2session` exchanges either for the user's
//! `openid` and `session_key` (an anonymous code: only an `anonymous_openid`). Errors answer `err_no`/`err_tips` inside
//! HTTP 200, as WeChat's errcodes do.

use serde::Deserialize;

use crate::wechat::{api_client, send_json, CodeSession, WeChatError};

pub const DOUYIN_API: &str = "https://developer.toutiao.com";

pub struct Douyin {
    http: reqwest::Client,
    base: String,
    appid: String,
    secret: String,
}

/// Which of tt.login's codes the client sent.
pub enum DouyinCode {
    Code(String),
    Anonymous(String),
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    err_no: i64,
    #[serde(default)]
    err_tips: String,
    data: Option<ReplyData>,
}

#[derive(Deserialize)]
struct ReplyData {
    session_key: Option<String>,
    openid: Option<String>,
    anonymous_openid: Option<String>,
    unionid: Option<String>,
}

impl Douyin {
    pub fn new(base: &str, appid: &str, secret: &str) -> Result<Douyin, reqwest::Error> {
        let http = api_client()?;
        Ok(Douyin {
            http,
            base: base.trim_end_matches('/').to_owned(),
            appid: appid.to_owned(),
            secret: secret.to_owned(),
        })
    }

    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// The code → the user's id on Douyin. An anonymous user's id is its `anonymous_openid`,
    /// prefixed so it can never equal a logged-in user's `openid`.
    pub async fn code2session(&self, code: &DouyinCode) -> Result<CodeSession, WeChatError> {
        let (code, anonymous_code) = match code {
            DouyinCode::Code(code) => (code.as_str(), ""),
            DouyinCode::Anonymous(code) => ("", code.as_str()),
        };
        let body = serde_json::json!({ "appid": self.appid, "secret": self.secret, "code": code, "anonymous_code": anonymous_code });
        let reply: Reply =
            send_json(self.http.post(format!("{}/api/apps/v2/jscode2session", self.base)).json(&body)).await?;
        if reply.err_no != 0 {
            return Err(WeChatError::Api { errcode: reply.err_no, errmsg: reply.err_tips });
        }
        let data = reply.data.ok_or_else(|| WeChatError::Unreachable("jscode2session answered no data".into()))?;
        let non_empty = |value: Option<String>| value.filter(|v| !v.is_empty());
        let openid = match (non_empty(data.openid), non_empty(data.anonymous_openid)) {
            (Some(openid), _) if !code.is_empty() => openid,
            (_, Some(anonymous)) if code.is_empty() => format!("anonymous:{anonymous}"),
            _ => return Err(WeChatError::Unreachable("jscode2session answered no openid".into())),
        };
        // Douyin answers session_key (and unionid) only for a code: an anonymous user has none.
        let session_key = match non_empty(data.session_key) {
            Some(key) => key,
            None if code.is_empty() => String::new(),
            None => return Err(WeChatError::Unreachable("jscode2session answered no session_key".into())),
        };
        Ok(CodeSession { openid, session_key, unionid: non_empty(data.unionid) })
    }
}
