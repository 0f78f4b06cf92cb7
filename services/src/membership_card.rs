//! The e-card's QR payload: a short-lived token signed with the server's token secret,
//! naming the membership and its card number. `GYC1.<payload>.<mac>` (base64url), payload
//! `{"m": membership id, "c": card number, "exp": unix seconds}`. Five minutes, so a
//! screenshot is of little use; verification still checks the membership is active now.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::accounts::tokens::TokenKeys;

pub const CARD_TOKEN_TTL: Duration = Duration::minutes(5);
const PREFIX: &str = "GYC1";

#[derive(Serialize, Deserialize)]
struct Payload {
    m: String,
    c: String,
    exp: i64,
}

/// What a scanned token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanned {
    Valid {
        membership_id: String,
        card_number: String,
    },
    Expired {
        membership_id: String,
    },
    Forged,
}

fn mac(keys: &TokenKeys, payload: &str) -> String {
    URL_SAFE_NO_PAD.encode(keys.mac(&["membership-card", payload]))
}

/// A token for the card, and when it expires.
pub fn issue(
    keys: &TokenKeys,
    membership_id: &str,
    card_number: &str,
    now: DateTime<Utc>,
) -> (String, DateTime<Utc>) {
    let expires = now + CARD_TOKEN_TTL;
    let payload = Payload {
        m: membership_id.to_owned(),
        c: card_number.to_owned(),
        exp: expires.timestamp(),
    };
    let json = serde_json::to_string(&payload).unwrap_or_default();
    let body = URL_SAFE_NO_PAD.encode(json.as_bytes());
    let signature = mac(keys, &body);
    (format!("{PREFIX}.{body}.{signature}"), expires)
}

pub fn scan(keys: &TokenKeys, token: &str, now: DateTime<Utc>) -> Scanned {
    let mut parts = token.trim().split('.');
    let (Some(PREFIX), Some(body), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Scanned::Forged;
    };
    if !bool::from(mac(keys, body).as_bytes().ct_eq(signature.as_bytes())) {
        return Scanned::Forged;
    }
    let Some(payload) = URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Payload>(&bytes).ok())
    else {
        return Scanned::Forged;
    };
    if payload.exp <= now.timestamp() {
        return Scanned::Expired {
            membership_id: payload.m,
        };
    }
    Scanned::Valid {
        membership_id: payload.m,
        card_number: payload.c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_expire_and_resist_forgery() {
        let keys = TokenKeys::new("0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let (token, expires) = issue(&keys, "m1", "510104000000017", now);
        assert_eq!(expires, now + CARD_TOKEN_TTL);
        assert_eq!(
            scan(&keys, &token, now),
            Scanned::Valid {
                membership_id: "m1".into(),
                card_number: "510104000000017".into()
            }
        );
        assert_eq!(
            scan(&keys, &token, now + CARD_TOKEN_TTL),
            Scanned::Expired {
                membership_id: "m1".into()
            }
        );
        let other = TokenKeys::new("another-secret-another-secret-xx");
        assert_eq!(scan(&other, &token, now), Scanned::Forged);
        // A changed payload with the old signature.
        let parts: Vec<&str> = token.split('.').collect();
        let forged_body =
            URL_SAFE_NO_PAD.encode(br#"{"m":"m2","c":"510104000000025","exp":9999999999}"#);
        assert_eq!(
            scan(&keys, &format!("GYC1.{forged_body}.{}", parts[2]), now),
            Scanned::Forged
        );
        assert_eq!(scan(&keys, "garbage", now), Scanned::Forged);
        assert_eq!(scan(&keys, "", now), Scanned::Forged);
    }
}
