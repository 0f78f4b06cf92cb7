//! Clients of the outside world Gongyou calls: the SMS gateway (Tencent Cloud or Aliyun),
//! WeChat's mini-program server APIs, JPush, and the file store (a local directory or an
//! S3-compatible bucket). Each client talks plain HTTPS with its own per-request timeout,
//! never logs secrets, codes or whole phone numbers, and maps the provider's error codes to
//! a small error enum that the services translate into their own errors.
//!
//! [`Providers`] builds them all once, from their settings, with one shared HTTP client; the
//! API and the worker are handed the same set.

use std::time::Duration;

use gongyou_db::kv::Kv;

pub mod files;
pub mod jpush;
pub mod lean_http;
pub mod sms;
pub mod subscribe_fields;
pub mod wechat;
pub mod wechatpay;

use files::{FileStore, FileStoreSettings};
use jpush::{JpushClient, JpushSettings};
use sms::{SmsGateway, SmsSettings};
use wechat::{WechatClient, WechatSettings};
use wechatpay::{WechatPayClient, WechatPaySettings};

/// What the providers are configured with (each optional one unset = not configured).
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub sms: Option<SmsSettings>,
    pub wechat: Option<WechatSettings>,
    /// WeChat Pay merchant transfers (payouts), when configured.
    pub wechatpay: Option<WechatPaySettings>,
    pub jpush: Option<JpushSettings>,
    pub files: FileStoreSettings,
}

/// Every provider client, built once and shared (clones are cheap handles).
#[derive(Clone)]
pub struct Providers {
    /// The SMS gateway, when configured.
    pub sms: Option<SmsGateway>,
    /// The WeChat mini-program's server API, when configured.
    pub wechat: Option<WechatClient>,
    /// WeChat Pay merchant transfers, when configured.
    pub wechatpay: Option<WechatPayClient>,
    /// JPush, when configured.
    pub jpush: Option<JpushClient>,
    /// Uploaded files.
    pub files: FileStore,
}

impl Providers {
    /// Builds every client over one HTTP client; WeChat shares its access token through `kv`.
    pub fn new(settings: &ProviderSettings, kv: Kv) -> anyhow::Result<Self> {
        let http = http_client()?;
        Ok(Self {
            sms: settings
                .sms
                .clone()
                .map(|s| SmsGateway::new(s, http.clone())),
            wechat: settings
                .wechat
                .clone()
                .map(|w| WechatClient::new(w, http.clone(), kv.clone())),
            wechatpay: settings
                .wechatpay
                .clone()
                .map(|w| WechatPayClient::new(w, http.clone(), kv.clone()))
                .transpose()?,
            jpush: settings
                .jpush
                .clone()
                .map(|j| JpushClient::new(j, http.clone())),
            files: FileStore::from_settings(&settings.files)?,
        })
    }
}

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
/// The most a provider's answer may be. Their JSON answers are a few hundred bytes; a body
/// near this is not an answer, and reading it whole would let a broken or hostile endpoint
/// fill memory.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Reads an answer's body, refusing one larger than `max` bytes (by its declared length, or
/// as it streams in). The error is a message fit for the provider's "unavailable" error.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, String> {
    let too_large = || format!("answer larger than {max} bytes");
    if response
        .content_length()
        .is_some_and(|n| n > u64::try_from(max).unwrap_or(u64::MAX))
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_message)? {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) fn transport_message(error: reqwest::Error) -> String {
    let error = error.without_url();
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    error_chain(&error)
}

/// An error and its causes, joined by `: `.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_builds() {
        assert!(http_client().is_ok());
    }
}
