//! Access tokens: short-lived EdDSA JWTs that any service verifies from the JWKS, without a call.
//! Refresh tokens are opaque random strings; only their SHA-256 is stored (see `store`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::keys::Keys;

pub const ISSUER: &str = "mp-session-server";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The user id.
    pub sub: String,
    /// The session (refresh family) this token belongs to.
    pub sid: String,
    /// The session's access generation when this token was issued.
    #[serde(default)]
    pub gen: i64,
    pub iat: i64,
    pub exp: i64,
    /// Unique per token, so two tokens of one session issued within a second still differ.
    #[serde(default)]
    pub jti: String,
}

pub struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    x: String,
}

impl Signer {
    pub fn new(keys: &Keys) -> Signer {
        let x = URL_SAFE_NO_PAD.encode(&keys.public);
        Signer {
            encoding: EncodingKey::from_ed_der(&keys.signing_pkcs8),
            decoding: DecodingKey::from_ed_der(&keys.public),
            kid: keys.kid.clone(),
            x,
        }
    }

    pub fn issue(
        &self,
        user_id: &str,
        session_id: &str,
        generation: i64,
        token_id: &str,
        now: i64,
        lifetime: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let claims = Claims {
            iss: ISSUER.into(),
            sub: user_id.into(),
            sid: session_id.into(),
            gen: generation,
            iat: now,
            exp: now + lifetime,
            jti: token_id.into(),
        };
        jsonwebtoken::encode(&header, &claims, &self.encoding)
    }

    /// The claims of a token this server signed that has not expired at `now` (the server's own
    /// clock, not the library's, so tests can move time).
    pub fn verify(&self, token: &str, now: i64) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?.claims;
        (claims.exp > now).then_some(claims)
    }

    /// `GET /.well-known/jwks.json`.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": self.kid, "x": self.x }] })
    }
}
