//! Secrets the core holds: the developer server's token and WeChat's one-time login code.
//! Their `Debug` never prints the value, so a `{:?}` in a log or a panic message cannot leak them.

use core::fmt;

/// The developer server's session token (the "3rd_session"). Opaque to the SDK.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(value: String) -> Self {
        Token(value)
    }
    /// The raw value, for the one place that needs it: the request header (and the page's result).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

/// The code `wx.login` returns: valid five minutes, usable once. On Douyin, `tt.login` gives a
/// `code` only to a user logged into the Douyin app, and always an `anonymousCode`; on Alipay,
/// `my.getAuthCode` gives an `authCode`. The server exchanges each, and learns which it got from
/// the field it arrives in.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginCode {
    value: String,
    field: &'static str,
}

impl LoginCode {
    pub fn new(value: String) -> Self {
        LoginCode { value, field: "code" }
    }
    /// Douyin's `anonymousCode`, for a user not logged into the Douyin app.
    pub fn anonymous(value: String) -> Self {
        LoginCode { value, field: "anonymousCode" }
    }
    /// Alipay's `authCode`.
    pub fn auth_code(value: String) -> Self {
        LoginCode { value, field: "authCode" }
    }
    pub fn expose(&self) -> &str {
        &self.value
    }
    /// The member of the exchange's body that carries it.
    pub fn field(&self) -> &'static str {
        self.field
    }
}

impl fmt::Debug for LoginCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginCode([redacted])")
    }
}

/// Other secret text the core carries: the body of a refresh or of an account login (it holds a
/// refresh token, a password or an SMS code).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_is_redacted() {
        let t = Token::new("secret-token-value".into());
        let c = LoginCode::anonymous("081abcdef".into());
        let s = Secret::new("{\"password\":\"secret\"}".into());
        let shown = format!("{t:?} {c:?} {:?} {s:?}", Some(&t));
        assert!(!shown.contains("secret") && !shown.contains("081"), "{shown}");
        assert_eq!(t.expose(), "secret-token-value");
    }
}
