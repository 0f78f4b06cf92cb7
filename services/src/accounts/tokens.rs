//! Access tokens (JWT, HS256, 15 minutes: the subject and the session, never the roles),
//! step-up proofs (JWT, 5 minutes), and opaque refresh tokens. A refresh token's successor
//! is derived from it (HMAC with the server secret), so presenting a just-rotated token again
//! within the grace window yields the very same successor without storing it in clear.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const ACCESS_TTL: Duration = Duration::minutes(15);
pub const REFRESH_TTL: Duration = Duration::days(30);
pub const REFRESH_GRACE: Duration = Duration::seconds(30);
pub const STEP_UP_TTL: Duration = Duration::minutes(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    User,
    Staff,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::User => "user",
            SubjectKind::Staff => "staff",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    Access,
    StepUp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub sid: String,
    pub knd: SubjectKind,
    pub typ: TokenType,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
}

/// Signs and checks tokens with the server's token secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    secret: Vec<u8>,
}

impl TokenKeys {
    pub fn new(secret: &str) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            secret: secret.as_bytes().to_vec(),
        }
    }

    fn sign(&self, claims: &Claims) -> String {
        // HS256 over serializable claims cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .unwrap_or_default()
    }

    pub fn access_token(
        &self,
        kind: SubjectKind,
        sub: &str,
        sid: &str,
        now: DateTime<Utc>,
    ) -> String {
        self.sign(&Claims {
            sub: sub.to_owned(),
            sid: sid.to_owned(),
            knd: kind,
            typ: TokenType::Access,
            iat: now.timestamp(),
            exp: (now + ACCESS_TTL).timestamp(),
        })
    }

    pub fn step_up_token(
        &self,
        kind: SubjectKind,
        sub: &str,
        sid: &str,
        now: DateTime<Utc>,
    ) -> String {
        self.sign(&Claims {
            sub: sub.to_owned(),
            sid: sid.to_owned(),
            knd: kind,
            typ: TokenType::StepUp,
            iat: now.timestamp(),
            exp: (now + STEP_UP_TTL).timestamp(),
        })
    }

    /// Checks signature, type and expiry (by the application clock, not the system's).
    pub fn verify(
        &self,
        token: &str,
        typ: TokenType,
        now: DateTime<Utc>,
    ) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        if claims.typ != typ {
            return Err(TokenError::Invalid);
        }
        if claims.exp <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// A new random refresh token (256 bits).
    pub fn new_refresh_token() -> String {
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    }

    /// The token that replaces `token` at rotation: the same for the same token, unguessable
    /// without the server secret.
    pub fn successor(&self, token: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(&["refresh-successor", token]))
    }

    /// HMAC-SHA256 of the parts, separated, under the token secret (also hashes SMS codes).
    pub fn mac(&self, parts: &[&str]) -> [u8; 32] {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.secret) else {
            return [0; 32];
        };
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(b"\x1f");
        }
        mac.finalize().into_bytes().into()
    }
}

/// How refresh tokens are stored: their SHA-256.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_expire_by_the_given_clock_and_keep_their_type() {
        let keys = TokenKeys::new("0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let token = keys.access_token(SubjectKind::User, "u1", "s1", now);
        let claims = keys.verify(&token, TokenType::Access, now).unwrap();
        assert_eq!((claims.sub.as_str(), claims.sid.as_str()), ("u1", "s1"));
        assert_eq!(
            keys.verify(&token, TokenType::StepUp, now).unwrap_err(),
            TokenError::Invalid
        );
        assert_eq!(
            keys.verify(&token, TokenType::Access, now + ACCESS_TTL)
                .unwrap_err(),
            TokenError::Expired
        );
        let other = TokenKeys::new("another-secret-another-secret-xx");
        assert_eq!(
            other.verify(&token, TokenType::Access, now).unwrap_err(),
            TokenError::Invalid
        );
        assert_eq!(
            keys.verify("not.a.jwt", TokenType::Access, now)
                .unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn successors_are_stable_and_secret_bound() {
        let keys = TokenKeys::new("0123456789abcdef0123456789abcdef");
        let t = TokenKeys::new_refresh_token();
        assert_eq!(keys.successor(&t), keys.successor(&t));
        assert_ne!(keys.successor(&t), t);
        assert_ne!(
            TokenKeys::new("another-secret-another-secret-xx").successor(&t),
            keys.successor(&t)
        );
        assert_ne!(TokenKeys::new_refresh_token(), t);
        assert_eq!(hash_token("x").len(), 64);
    }
}
