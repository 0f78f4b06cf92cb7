//! The SMS gateway that sends one-time login codes and notices: Tencent Cloud SMS
//! (`SendSms`, API 2021-01-11, TC3-HMAC-SHA256 signed JSON POST) or Aliyun Dysmsapi
//! (`SendSms`, API 2017-05-25, RPC style GET signed with HMAC-SHA1).
//!
//! Template parameters are positional ([`SmsGateway::send_template`]): Tencent takes them as
//! `TemplateParamSet` (`{1}`, `{2}`, … in the template); Aliyun wants named ones, so they are
//! sent as `TemplateParam` `{"p1": …, "p2": …}` and **Aliyun templates used for notices must
//! name their variables `${p1}`, `${p2}`, …**. The login-code template keeps its own
//! parameters ([`SmsGateway::send_code`]): Tencent `{1}` = code, `{2}` = minutes valid;
//! Aliyun `${code}`.
//!
//! The signing is done by pure functions taking the timestamp (and nonce) so the tests can
//! check them against the vectors the providers publish. Nothing here logs the secret, the
//! code, template parameters or a whole phone number.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{transport_message, PROVIDER_TIMEOUT};
use gongyou_domain::phone::mask as mask_phone;

/// How long the code stays valid, as shown in the Tencent template (`{2}` minutes).
const CODE_VALID_MINUTES: &str = "5";

const TENCENT_SERVICE: &str = "sms";
const TENCENT_VERSION: &str = "2021-01-11";
const TENCENT_ACTION: &str = "SendSms";
const TENCENT_CONTENT_TYPE: &str = "application/json; charset=utf-8";
const TENCENT_ALGORITHM: &str = "TC3-HMAC-SHA256";

const ALIYUN_VERSION: &str = "2017-05-25";
const ALIYUN_ACTION: &str = "SendSms";

/// Which SMS provider sends the codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    Tencent,
    Aliyun,
}

impl SmsProvider {
    fn name(self) -> &'static str {
        match self {
            SmsProvider::Tencent => "tencent",
            SmsProvider::Aliyun => "aliyun",
        }
    }
}

/// How to reach and authenticate with the SMS provider.
#[derive(Clone)]
pub struct SmsSettings {
    pub provider: SmsProvider,
    /// e.g. `https://sms.tencentcloudapi.com` or `https://dysmsapi.aliyuncs.com`.
    pub base_url: String,
    /// Tencent SecretId / Aliyun AccessKeyId.
    pub access_key_id: String,
    /// Tencent SecretKey / Aliyun AccessKeySecret.
    pub access_key_secret: SecretString,
    pub sign_name: String,
    /// Tencent TemplateId / Aliyun TemplateCode.
    pub template_id: String,
    /// Tencent SmsSdkAppId (required for Tencent, unused by Aliyun).
    pub sdk_app_id: Option<String>,
    /// e.g. `ap-guangzhou` (Tencent) or `cn-hangzhou` (Aliyun).
    pub region: String,
}

impl SmsSettings {
    /// Whether the settings are complete for their provider; the message names what is missing.
    pub fn validate(&self) -> Result<(), String> {
        let mut missing = Vec::new();
        if reqwest::Url::parse(&self.base_url).is_err() {
            missing.push("base_url (not a URL)");
        }
        if self.access_key_id.trim().is_empty() {
            missing.push("access_key_id");
        }
        if self.access_key_secret.expose_secret().trim().is_empty() {
            missing.push("access_key_secret");
        }
        if self.sign_name.trim().is_empty() {
            missing.push("sign_name");
        }
        if self.template_id.trim().is_empty() {
            missing.push("template_id");
        }
        if self.region.trim().is_empty() {
            missing.push("region");
        }
        if self.provider == SmsProvider::Tencent
            && self
                .sdk_app_id
                .as_deref()
                .is_none_or(|id| id.trim().is_empty())
        {
            missing.push("sdk_app_id");
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} SMS settings incomplete: {}",
                self.provider.name(),
                missing.join(", ")
            ))
        }
    }
}

impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSettings")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"[redacted]")
            .field("sign_name", &self.sign_name)
            .field("template_id", &self.template_id)
            .field("sdk_app_id", &self.sdk_app_id)
            .field("region", &self.region)
            .finish()
    }
}

/// Why a code was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The provider's frequency limits (per number or per account) refused the message.
    #[error("sms provider rate limited")]
    RateLimited,
    /// The provider refused the message (bad number, template, signature, balance, ...).
    #[error("sms provider rejected the message: {code}")]
    Rejected { code: String, message: String },
    /// Transport errors, 5xx, timeouts, unreadable answers, provider-side failures.
    #[error("sms provider unavailable: {0}")]
    Unavailable(String),
}

/// Sends one-time codes through the configured provider.
#[derive(Clone)]
pub struct SmsGateway {
    settings: SmsSettings,
    http: reqwest::Client,
    timeout: Duration,
}

impl std::fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsGateway")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SmsGateway {
    pub fn new(settings: SmsSettings, http: reqwest::Client) -> Self {
        Self {
            settings,
            http,
            timeout: PROVIDER_TIMEOUT,
        }
    }

    pub fn provider(&self) -> SmsProvider {
        self.settings.provider
    }

    /// Sends the one-time `code` to `phone`, a mainland number of 11 digits (e.g.
    /// `"13800000000"`), with the configured template: the same as [`Self::send_template`]
    /// with parameters `[code, "5"]` (minutes valid) on Tencent, but `{"code": code}` on
    /// Aliyun (the login template's `${code}`).
    pub async fn send_code(&self, phone: &str, code: &str) -> Result<(), SmsError> {
        let params = [code.to_owned(), CODE_VALID_MINUTES.to_owned()];
        let aliyun_code = serde_json::json!({ "code": code }).to_string();
        self.send(
            phone,
            &self.settings.template_id,
            &params,
            Some(&aliyun_code),
            "sms code sent",
        )
        .await
    }

    /// Sends the template `template_id` (Tencent TemplateId / Aliyun TemplateCode) to
    /// `phone`, a mainland number of 11 digits, with positional `params`: Tencent's
    /// `TemplateParamSet` (`{1}`, `{2}`, …), Aliyun's `TemplateParam` named `p1`, `p2`, …
    /// (so the Aliyun template must use `${p1}`, `${p2}`, …). No parameters sends none.
    /// The sign name is the configured one.
    pub async fn send_template(
        &self,
        phone: &str,
        template_id: &str,
        params: &[String],
    ) -> Result<(), SmsError> {
        self.send(phone, template_id, params, None, "sms sent")
            .await
    }

    /// Sends with `params` (Tencent, and Aliyun named `p<n>` unless `aliyun_param`, a
    /// TemplateParam JSON object, overrides them), logging the outcome.
    async fn send(
        &self,
        phone: &str,
        template_id: &str,
        params: &[String],
        aliyun_param: Option<&str>,
        sent: &'static str,
    ) -> Result<(), SmsError> {
        let result = match self.settings.provider {
            SmsProvider::Tencent => self.send_tencent(phone, template_id, params).await,
            SmsProvider::Aliyun => {
                let positional;
                let template_param = match aliyun_param {
                    Some(param) => Some(param),
                    None if params.is_empty() => None,
                    None => {
                        positional = aliyun_positional_param(params);
                        Some(positional.as_str())
                    }
                };
                self.send_aliyun(phone, template_id, template_param).await
            }
        };
        let provider = self.settings.provider.name();
        let masked = mask_phone(phone);
        match &result {
            Ok(()) => tracing::info!(provider, phone = %masked, template = %template_id, "{sent}"),
            Err(SmsError::RateLimited) => {
                tracing::warn!(provider, phone = %masked, template = %template_id, "sms provider rate limited")
            }
            Err(SmsError::Rejected { code, .. }) => {
                tracing::warn!(provider, phone = %masked, template = %template_id, error_code = %code, "sms provider rejected the message")
            }
            Err(SmsError::Unavailable(reason)) => {
                tracing::warn!(provider, phone = %masked, template = %template_id, reason = %reason, "sms provider unavailable")
            }
        }
        result.map_err(|e| scrub(e, phone))
    }

    async fn send_tencent(
        &self,
        phone: &str,
        template_id: &str,
        params: &[String],
    ) -> Result<(), SmsError> {
        let settings = &self.settings;
        let sdk_app_id = settings
            .sdk_app_id
            .as_deref()
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| {
                SmsError::Unavailable("misconfigured: Tencent SMS needs sdk_app_id".into())
            })?;
        let url = reqwest::Url::parse(&settings.base_url)
            .map_err(|_| SmsError::Unavailable("misconfigured: invalid SMS base URL".into()))?;
        let host = host_header(&url)?;
        let body = tencent_body(phone, params, sdk_app_id, &settings.sign_name, template_id)
            .map_err(|e| SmsError::Unavailable(format!("encoding the request: {e}")))?;
        let timestamp = chrono::Utc::now().timestamp();
        let action = TENCENT_ACTION.to_ascii_lowercase();
        let authorization = tc3_authorization(
            &settings.access_key_id,
            settings.access_key_secret.expose_secret(),
            TENCENT_SERVICE,
            &[
                ("content-type", TENCENT_CONTENT_TYPE),
                ("host", &host),
                ("x-tc-action", &action),
            ],
            body.as_bytes(),
            timestamp,
        );
        let response = self
            .http
            .post(url)
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, TENCENT_CONTENT_TYPE)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header("X-TC-Action", TENCENT_ACTION)
            .header("X-TC-Version", TENCENT_VERSION)
            .header("X-TC-Timestamp", timestamp.to_string())
            .header("X-TC-Region", &settings.region)
            .body(body)
            .send()
            .await
            .map_err(|e| SmsError::Unavailable(transport_message(e)))?;
        let envelope: TencentEnvelope = read_json(response).await?;
        let response = envelope.response;
        if let Some(error) = response.error {
            return Err(classify_tencent(error.code, error.message));
        }
        match response.send_status_set.into_iter().next() {
            Some(status) if status.code == "Ok" => Ok(()),
            Some(status) => Err(classify_tencent(status.code, status.message)),
            None => Err(SmsError::Unavailable(
                "Tencent answered without a send status".into(),
            )),
        }
    }

    async fn send_aliyun(
        &self,
        phone: &str,
        template_code: &str,
        template_param: Option<&str>,
    ) -> Result<(), SmsError> {
        let settings = &self.settings;
        let base = reqwest::Url::parse(&settings.base_url)
            .map_err(|_| SmsError::Unavailable("misconfigured: invalid SMS base URL".into()))?;
        let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let nonce = format!("{:032x}", rand::random::<u128>());
        let params = aliyun_params(AliyunRequest {
            access_key_id: &settings.access_key_id,
            region: &settings.region,
            phone,
            sign_name: &settings.sign_name,
            template_code,
            template_param,
            timestamp: &timestamp,
            nonce: &nonce,
        });
        let query = aliyun_signed_query(&params, settings.access_key_secret.expose_secret());
        let url = format!("{}/?{query}", base.as_str().trim_end_matches('/'));
        let response = self
            .http
            .get(url)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| SmsError::Unavailable(transport_message(e)))?;
        let answer: AliyunResponse = read_json(response).await?;
        if answer.code == "OK" {
            Ok(())
        } else {
            Err(classify_aliyun(answer.code, answer.message))
        }
    }
}

/// Reads a provider's JSON answer; 5xx and unreadable bodies mean the provider is unavailable.
async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, SmsError> {
    let status = response.status();
    if status.is_server_error() {
        return Err(SmsError::Unavailable(format!("HTTP {}", status.as_u16())));
    }
    let bytes = crate::read_capped(response, crate::MAX_ANSWER_BYTES)
        .await
        .map_err(SmsError::Unavailable)?;
    serde_json::from_slice(&bytes)
        .map_err(|_| SmsError::Unavailable(format!("unreadable answer (HTTP {})", status.as_u16())))
}

/// The provider's message may quote the number: mask it before it travels further.
fn scrub(error: SmsError, phone: &str) -> SmsError {
    match error {
        SmsError::Rejected { code, message } if !phone.is_empty() => SmsError::Rejected {
            code,
            message: message.replace(phone, &mask_phone(phone)),
        },
        other => other,
    }
}

/// `host[:port]` as reqwest sends it in the `Host` header (the port only when not the
/// scheme's default).
fn host_header(url: &reqwest::Url) -> Result<String, SmsError> {
    let host = url
        .host_str()
        .ok_or_else(|| SmsError::Unavailable("misconfigured: SMS base URL has no host".into()))?;
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

// ---------------------------------------------------------------------------------------
// Tencent Cloud

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct TencentSendSms<'a> {
    phone_number_set: [String; 1],
    sms_sdk_app_id: &'a str,
    sign_name: &'a str,
    template_id: &'a str,
    /// Left out when empty (a template without parameters).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    template_param_set: &'a [String],
}

fn tencent_body(
    phone: &str,
    params: &[String],
    sdk_app_id: &str,
    sign_name: &str,
    template_id: &str,
) -> Result<String, serde_json::Error> {
    let phone = if phone.starts_with('+') {
        phone.to_owned()
    } else {
        format!("+86{phone}")
    };
    serde_json::to_string(&TencentSendSms {
        phone_number_set: [phone],
        sms_sdk_app_id: sdk_app_id,
        sign_name,
        template_id,
        template_param_set: params,
    })
}

#[derive(Deserialize)]
struct TencentEnvelope {
    #[serde(rename = "Response")]
    response: TencentResponse,
}

#[derive(Deserialize)]
struct TencentResponse {
    #[serde(rename = "Error")]
    error: Option<TencentStatus>,
    #[serde(rename = "SendStatusSet", default)]
    send_status_set: Vec<TencentStatus>,
}

#[derive(Deserialize)]
struct TencentStatus {
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

fn classify_tencent(code: String, message: String) -> SmsError {
    if code.starts_with("LimitExceeded") || code.starts_with("RequestLimitExceeded") {
        SmsError::RateLimited
    } else if code.starts_with("InternalError") {
        SmsError::Unavailable(format!("Tencent {code}"))
    } else {
        SmsError::Rejected { code, message }
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The UTC date (`YYYY-MM-DD`) of a Unix timestamp, as the TC3 credential scope wants it.
fn tc3_date(timestamp: i64) -> String {
    chrono::DateTime::from_timestamp(timestamp, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Step 1: the canonical request of a JSON POST to `/`. `headers` are the signed headers
/// as (name, value); names and values are lower-cased and trimmed, then sorted by name.
fn tc3_canonical_request(headers: &[(&str, &str)], payload: &[u8]) -> (String, String) {
    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase()))
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical = format!(
        "POST\n/\n\n{canonical_headers}\n{signed_headers}\n{}",
        sha256_hex(payload)
    );
    (canonical, signed_headers)
}

/// Step 2: the string to sign.
fn tc3_string_to_sign(timestamp: i64, service: &str, canonical_request: &str) -> String {
    format!(
        "{TENCENT_ALGORITHM}\n{timestamp}\n{}/{service}/tc3_request\n{}",
        tc3_date(timestamp),
        sha256_hex(canonical_request.as_bytes())
    )
}

/// Step 3: the hex signature, from keys derived from `"TC3" + secret_key`.
fn tc3_signature(secret_key: &str, timestamp: i64, service: &str, string_to_sign: &str) -> String {
    let secret_date = hmac_sha256(
        format!("TC3{secret_key}").as_bytes(),
        tc3_date(timestamp).as_bytes(),
    );
    let secret_service = hmac_sha256(&secret_date, service.as_bytes());
    let secret_signing = hmac_sha256(&secret_service, b"tc3_request");
    hex::encode(hmac_sha256(&secret_signing, string_to_sign.as_bytes()))
}

/// Step 4: the `Authorization` header of a TC3-HMAC-SHA256 signed JSON POST.
fn tc3_authorization(
    secret_id: &str,
    secret_key: &str,
    service: &str,
    headers: &[(&str, &str)],
    payload: &[u8],
    timestamp: i64,
) -> String {
    let (canonical, signed_headers) = tc3_canonical_request(headers, payload);
    let string_to_sign = tc3_string_to_sign(timestamp, service, &canonical);
    let signature = tc3_signature(secret_key, timestamp, service, &string_to_sign);
    format!(
        "{TENCENT_ALGORITHM} Credential={secret_id}/{}/{service}/tc3_request, SignedHeaders={signed_headers}, Signature={signature}",
        tc3_date(timestamp)
    )
}

// ---------------------------------------------------------------------------------------
// Aliyun

/// Aliyun's percent-encoding: everything but `A-Z a-z 0-9 - _ . ~` (so space → `%20`,
/// `*` → `%2A`, `~` stays).
const ALIYUN_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn aliyun_encode(s: &str) -> String {
    utf8_percent_encode(s, ALIYUN_ENCODE).to_string()
}

struct AliyunRequest<'a> {
    access_key_id: &'a str,
    region: &'a str,
    phone: &'a str,
    sign_name: &'a str,
    template_code: &'a str,
    /// A JSON object; `None` sends no TemplateParam.
    template_param: Option<&'a str>,
    /// UTC, `YYYY-MM-DDThh:mm:ssZ`.
    timestamp: &'a str,
    nonce: &'a str,
}

fn aliyun_params(r: AliyunRequest<'_>) -> BTreeMap<String, String> {
    let template_param = r.template_param.map(|p| ("TemplateParam", p));
    [
        ("AccessKeyId", r.access_key_id),
        ("Action", ALIYUN_ACTION),
        ("Format", "JSON"),
        ("PhoneNumbers", r.phone),
        ("RegionId", r.region),
        ("SignName", r.sign_name),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", r.nonce),
        ("SignatureVersion", "1.0"),
        ("TemplateCode", r.template_code),
        ("Timestamp", r.timestamp),
        ("Version", ALIYUN_VERSION),
    ]
    .into_iter()
    .chain(template_param)
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Positional parameters as Aliyun's TemplateParam: `{"p1": params[0], "p2": params[1], …}`.
fn aliyun_positional_param(params: &[String]) -> String {
    let named: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .enumerate()
        .map(|(i, value)| {
            (
                format!("p{}", i + 1),
                serde_json::Value::String(value.clone()),
            )
        })
        .collect();
    serde_json::Value::Object(named).to_string()
}

/// The canonical query: every parameter but `Signature`, sorted, both sides encoded.
fn aliyun_canonical_query(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .filter(|(k, _)| k.as_str() != "Signature")
        .map(|(k, v)| format!("{}={}", aliyun_encode(k), aliyun_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The RPC signature (HMAC-SHA1, signature version 1.0), base64.
fn aliyun_signature(params: &BTreeMap<String, String>, secret: &str) -> String {
    let string_to_sign = format!(
        "GET&{}&{}",
        aliyun_encode("/"),
        aliyun_encode(&aliyun_canonical_query(params))
    );
    let digest = match Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()) {
        Ok(mut mac) => {
            mac.update(string_to_sign.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC takes keys of any length: `new_from_slice` cannot fail.
        Err(_) => Vec::new(),
    };
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// The query string to send: `Signature=…&` + the canonical query.
fn aliyun_signed_query(params: &BTreeMap<String, String>, secret: &str) -> String {
    format!(
        "Signature={}&{}",
        aliyun_encode(&aliyun_signature(params, secret)),
        aliyun_canonical_query(params)
    )
}

#[derive(Deserialize)]
struct AliyunResponse {
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

fn classify_aliyun(code: String, message: String) -> SmsError {
    match code.as_str() {
        "isv.BUSINESS_LIMIT_CONTROL" | "isv.DAY_LIMIT_CONTROL" => SmsError::RateLimited,
        c if c.starts_with("Throttling") => SmsError::RateLimited,
        c if c.starts_with("isp.") || c == "ServiceUnavailable" || c == "InternalError" => {
            SmsError::Unavailable(format!("Aliyun {code}"))
        }
        _ => SmsError::Rejected { code, message },
    }
}

#[cfg(test)]
#[path = "sms_tests.rs"]
mod tests;
