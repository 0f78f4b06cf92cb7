//! Clients of the outside services Gongyou calls: the SMS gateway (Tencent Cloud or Aliyun)
//! and WeChat's mini-program server APIs. Each client talks plain HTTPS with its own
//! per-request timeout, never logs secrets, codes or whole phone numbers, and maps the
//! provider's error codes to a small error enum the handlers translate into problems.

use std::time::Duration;

pub mod jpush;
pub mod sms;
pub mod subscribe_fields;
pub mod wechat;

/// How long to wait for a connection, and for a whole request, to a provider.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(5);

/// The HTTP client shared by the provider clients: 5 s to connect, 5 s per request.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(PROVIDER_TIMEOUT)
        .timeout(PROVIDER_TIMEOUT)
        .build()
        .map_err(|e| anyhow::anyhow!("building the provider HTTP client: {e}"))
}

/// A transport error as text, without the URL (it may carry a secret or a token in its
/// query) but with the underlying causes.
pub(crate) fn transport_message(error: reqwest::Error) -> String {
    let error = error.without_url();
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// `13812345678` → `138****5678`; anything that is not 11 characters long is hidden whole.
pub(crate) fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.trim_start_matches("+86").chars().collect();
    if digits.len() == 11 {
        let head: String = digits[..3].iter().collect();
        let tail: String = digits[7..].iter().collect();
        format!("{head}****{tail}")
    } else {
        "***".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("+8613812345678"), "138****5678");
        assert_eq!(mask_phone("12345"), "***");
    }

    #[test]
    fn the_client_builds() {
        assert!(http_client().is_ok());
    }
}
