//! Staff passwords: argon2id (the crate's defaults: m=19 MiB, t=2, p=1), hashed and checked
//! on the blocking pool. Unknown usernames are checked against a dummy hash so a sign-in
//! takes as long whether or not the account exists.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

use crate::error::ServiceError;

/// At most this many hashes at once (each takes 19 MiB): a flood of sign-ins queues here
/// instead of exhausting memory, and gets a 503 after a short wait.
static HASHING: Semaphore = Semaphore::const_new(4);
const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

async fn permit() -> Result<tokio::sync::SemaphorePermit<'static>, ServiceError> {
    match tokio::time::timeout(HASH_WAIT, HASHING.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(ServiceError::unavailable(
            "auth.busy",
            anyhow::anyhow!("password hashing saturated"),
        )
        .with_detail("登录请求过多，请稍后重试")),
    }
}

static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_sync("no-such-account-password").unwrap_or_default());

fn hash_sync(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

fn verify_sync(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

pub async fn hash(password: String) -> Result<String, ServiceError> {
    let _permit = permit().await?;
    tokio::task::spawn_blocking(move || hash_sync(&password))
        .await
        .map_err(ServiceError::internal)?
        .map_err(|e| ServiceError::internal(anyhow::anyhow!("hashing a password: {e}")))
}

/// Checks `password` against `hash`, or against a dummy when there is no account.
pub async fn verify(password: String, hash: Option<String>) -> Result<bool, ServiceError> {
    let _permit = permit().await?;
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_sync(&password, &hash),
        None => {
            let _ = verify_sync(&password, &DUMMY_HASH);
            false
        }
    })
    .await
    .map_err(ServiceError::internal)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_verify_and_differ_per_salt() {
        let a = super::hash_sync("gongyou-2026").unwrap();
        let b = super::hash_sync("gongyou-2026").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(super::verify_sync("gongyou-2026", &a));
        assert!(!super::verify_sync("gongyou-2027", &a));
        assert!(!super::verify_sync("gongyou-2026", "garbage"));
    }
}
