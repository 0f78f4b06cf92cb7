//! WeChat Pay APIv3 merchant transfers (商家转账): create a transfer to a rider's openid, query
//! it by either number, cancel it before the rider confirms, and verify the callback WeChat Pay
//! sends when a transfer ends (facts: `shared/providers/wechatpay-transfers.md`).
//!
//! - [`WechatPayClient`] signs every request with the merchant API key (SHA256withRSA,
//!   `WECHATPAY2-SHA256-RSA2048`), verifies the signature of every successful answer with
//!   WeChat Pay's keys (a 2xx whose signature does not verify is never trusted: the outcome is
//!   [`WechatPayError::Unknown`] and the caller queries), encrypts the payee's name with
//!   RSA-OAEP-SHA1 and limits create and query calls across replicas through the key/value
//!   store.
//! - [`WechatPayClient::verify_notification`] checks a callback's signature, age and nonce and
//!   decrypts its `resource` with the APIv3 key (AEAD_AES_256_GCM).
//! - [`WechatPayClient::fund_flow_bill`] finds the operating account's fund-flow bill of a day
//!   ([`BillLocation`]) and [`WechatPayClient::download_bill`] streams it ([`BillDownload`]):
//!   gunzipped as it arrives, its SHA-1 checked at the end, never held whole in memory.
//! - [`crypto`] holds the primitives, checked against vectors made with Python's
//!   `cryptography` (`vectors/gen_vectors.py`).
//! - [`fake::FakeWechatPay`] is a local HTTP server that behaves like the documented API, for
//!   tests and the demo.
//!
//! Nothing here logs a key, a payee's name or a whole openid.

mod client;
pub mod crypto;
pub mod fake;

use chrono::{DateTime, Utc};
use gongyou_domain::payout::TransferState;
use secrecy::SecretString;

pub use client::{BillDownload, WechatPayClient, BILL_DOWNLOAD_TIMEOUT};
pub use fake::{FakeConfig, FakeWechatPay};

/// The merchant's WeChat Pay credentials, WeChat Pay's keys, and the transfer scene.
#[derive(Clone)]
pub struct WechatPaySettings {
    /// [`WechatPaySettings::DEFAULT_BASE_URL`] in production.
    pub base_url: String,
    pub mch_id: String,
    /// The mini-program's app id bound to the merchant.
    pub appid: String,
    /// Serial number of the merchant API certificate (`serial_no` in `Authorization`).
    pub merchant_serial_no: String,
    /// The merchant API private key (`apiclient_key.pem`: PKCS#8 `BEGIN PRIVATE KEY`, or
    /// PKCS#1 `BEGIN RSA PRIVATE KEY`).
    pub merchant_private_key_pem: SecretString,
    /// The APIv3 key: 32 bytes, decrypts callbacks.
    pub apiv3_key: SecretString,
    /// Every key WeChat Pay may sign with, by id: `PUB_KEY_ID_…` → public key PEM, or a
    /// platform certificate serial → certificate PEM (or public key PEM). Several at once for
    /// rotation. The first `PUB_KEY_ID_` one (or else the first) encrypts `user_name`.
    pub wechatpay_keys: Vec<(String, String)>,
    /// The approved transfer scene, e.g. `"1000"` (现金营销).
    pub transfer_scene_id: String,
    /// The scene's report infos, `(info_type, info_content)`, e.g. `("活动名称", "…")`.
    pub scene_report_infos: Vec<(String, String)>,
    /// Where WeChat Pay sends the end of each transfer (HTTPS, no query).
    pub notify_url: String,
    /// The most create calls, and separately the most query calls, per second across every
    /// replica ([`WechatPaySettings::DEFAULT_REQUESTS_PER_SECOND`]).
    pub requests_per_second: u32,
}

impl WechatPaySettings {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.mch.weixin.qq.com";
    /// WeChat Pay's own limit: 100 creates a second per merchant, 100 queries a second.
    pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 100;
}

impl std::fmt::Debug for WechatPaySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key_ids: Vec<&str> = self
            .wechatpay_keys
            .iter()
            .map(|(id, _)| id.as_str())
            .collect();
        f.debug_struct("WechatPaySettings")
            .field("base_url", &self.base_url)
            .field("mch_id", &self.mch_id)
            .field("appid", &self.appid)
            .field("merchant_serial_no", &self.merchant_serial_no)
            .field("merchant_private_key_pem", &"[redacted]")
            .field("apiv3_key", &"[redacted]")
            .field("wechatpay_keys", &key_ids)
            .field("transfer_scene_id", &self.transfer_scene_id)
            .field("scene_report_infos", &self.scene_report_infos)
            .field("notify_url", &self.notify_url)
            .field("requests_per_second", &self.requests_per_second)
            .finish()
    }
}

/// One transfer to create. Sent again after an unknown outcome, it must be identical (same
/// `out_bill_no`, same everything).
#[derive(Clone, PartialEq, Eq)]
pub struct TransferRequest {
    /// [`gongyou_domain::payout::out_bill_no`] of the attempt.
    pub out_bill_no: String,
    pub openid: String,
    pub amount_fen: i64,
    /// Shown to the rider; cut to 32 characters ([`gongyou_domain::payout::transfer_remark`]).
    pub remark: String,
    /// The payee's real name in plain text, required from 200,000 fen
    /// ([`gongyou_domain::payout::needs_user_name`]); the client encrypts it.
    pub user_name: Option<String>,
}

impl std::fmt::Debug for TransferRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferRequest")
            .field("out_bill_no", &self.out_bill_no)
            .field("openid", &mask(&self.openid))
            .field("amount_fen", &self.amount_fen)
            .field("remark", &self.remark)
            .field("user_name", &self.user_name.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A transfer bill as WeChat Pay describes it (fields it did not send are `None`).
#[derive(Clone, PartialEq, Eq)]
pub struct TransferBill {
    pub out_bill_no: String,
    /// WeChat Pay's number of the bill.
    pub transfer_bill_no: Option<String>,
    pub state: TransferState,
    /// In `WAIT_USER_CONFIRM`: the `package` the mini-program passes to
    /// `wx.requestMerchantTransfer`.
    pub package_info: Option<String>,
    /// Why a `FAIL` failed, e.g. `OVERDUE_CLOSE`, `MCH_CANCEL`, `NAME_NOT_CORRECT`.
    pub fail_reason: Option<String>,
    pub create_time: Option<DateTime<Utc>>,
    pub update_time: Option<DateTime<Utc>>,
    pub amount_fen: Option<i64>,
    pub openid: Option<String>,
}

impl std::fmt::Debug for TransferBill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferBill")
            .field("out_bill_no", &self.out_bill_no)
            .field("transfer_bill_no", &self.transfer_bill_no)
            .field("state", &self.state)
            .field("package_info", &self.package_info.as_ref().map(|_| "…"))
            .field("fail_reason", &self.fail_reason)
            .field("create_time", &self.create_time)
            .field("update_time", &self.update_time)
            .field("amount_fen", &self.amount_fen)
            .field("openid", &self.openid.as_deref().map(mask))
            .finish()
    }
}

/// Why a call did not come back with a bill. What to do next agrees with
/// [`gongyou_domain::payout::after_failure`] called with [`WechatPayError::http_status`] and
/// [`WechatPayError::code`].
#[derive(Debug, thiserror::Error)]
pub enum WechatPayError {
    /// No usable answer: a timeout, a transport error, an unreadable answer, or an answer whose
    /// signature did not verify. The transfer may or may not exist: query before anything else.
    #[error("wechat pay outcome unknown: {0}")]
    Unknown(String),
    /// A 5xx, `SYSTEM_ERROR`, `FREQUENCY_LIMITED` (429) or `NOT_ENOUGH` (403, top up first):
    /// send again later with the same `out_bill_no` and identical parameters. (A 5xx without a
    /// code: `after_failure` says query first, which is as safe.)
    #[error("wechat pay busy (HTTP {status} {code}): {message}")]
    Retry {
        status: u16,
        code: String,
        message: String,
    },
    /// A query found no such bill (404 `NOT_FOUND` / `RESOURCE_NOT_EXISTS`).
    #[error("wechat pay has no such transfer bill")]
    NotFound,
    /// Refused for good for this attempt: `PARAM_ERROR`, `INVALID_REQUEST` (among them "单号已存在
    /// 但信息不一致"), `NO_AUTH`, limits, a refused signature (`SIGN_ERROR`)… A number that is not
    /// 1–32 letters and digits is refused before sending, as `400 PARAM_ERROR`.
    #[error("wechat pay refused (HTTP {status} {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// The client is configured wrongly (a key that cannot sign or encrypt).
    #[error("wechat pay misconfigured: {0}")]
    Config(String),
    /// The fund-flow bill asked for is not there (yet): not a failure, ask again later (bills
    /// come from about 10:00 the next day, Beijing time, and are kept three months — a bill
    /// older than that answers the same, so the caller needs a deadline).
    ///
    /// Which answer WeChat Pay gives is NOT confirmed by its documentation: this is any
    /// `400 NO_STATEMENT_EXIST` or `400 STATEMENT_CREATING` (the codes its bill APIs are
    /// reported to use), and any 404, to `GET /v3/bill/fundflowbill`. Other errors keep their
    /// usual meaning.
    #[error("wechat pay bill not ready (HTTP {status} {code}): {message}")]
    NotReady {
        status: u16,
        code: String,
        message: String,
    },
    /// A downloaded bill's SHA-1 (of the uncompressed file) is not the one WeChat Pay
    /// announced: the file is damaged or not the bill; nothing read from it may be trusted.
    #[error("wechat pay bill hash mismatch: announced {expected}, downloaded {actual}")]
    HashMismatch { expected: String, actual: String },
}

impl WechatPayError {
    /// The HTTP status WeChat Pay answered with, when it answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            WechatPayError::Retry { status, .. }
            | WechatPayError::Refused { status, .. }
            | WechatPayError::NotReady { status, .. } => Some(*status),
            WechatPayError::NotFound => Some(404),
            WechatPayError::Unknown(_)
            | WechatPayError::Config(_)
            | WechatPayError::HashMismatch { .. } => None,
        }
    }

    /// WeChat Pay's error code, when it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            WechatPayError::Retry { code, .. }
            | WechatPayError::Refused { code, .. }
            | WechatPayError::NotReady { code, .. } => {
                Some(code.as_str()).filter(|c| !c.is_empty())
            }
            WechatPayError::NotFound => Some("NOT_FOUND"),
            WechatPayError::Unknown(_)
            | WechatPayError::Config(_)
            | WechatPayError::HashMismatch { .. } => None,
        }
    }
}

/// Where a day's fund-flow bill can be downloaded, as `GET /v3/bill/fundflowbill` answered.
/// The URL is valid for a few minutes only: download at once, ask again if it expired.
#[derive(Clone, PartialEq, Eq)]
pub struct BillLocation {
    /// An URL on WeChat Pay's API host (`…/v3/billdownload/file?token=…`); the token in it is a
    /// credential of sorts, so it is not shown by `Debug`.
    pub download_url: String,
    /// `SHA1` (the only type WeChat Pay documents, and the only one checked).
    pub hash_type: String,
    /// The hash of the UNCOMPRESSED file, in hex.
    pub hash_value: String,
}

impl std::fmt::Debug for BillLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self
            .download_url
            .split_once('?')
            .map_or(self.download_url.as_str(), |(path, _)| path);
        f.debug_struct("BillLocation")
            .field("download_url", &format_args!("{shown}?…"))
            .field("hash_type", &self.hash_type)
            .field("hash_value", &self.hash_value)
            .finish()
    }
}

/// The headers of a callback, as received (`None` when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationHeaders {
    /// `Wechatpay-Timestamp`.
    pub timestamp: Option<String>,
    /// `Wechatpay-Nonce`.
    pub nonce: Option<String>,
    /// `Wechatpay-Signature`.
    pub signature: Option<String>,
    /// `Wechatpay-Serial`: the id of the key that signed.
    pub serial: Option<String>,
    /// `Wechatpay-Signature-Type`.
    pub signature_type: Option<String>,
}

impl NotificationHeaders {
    pub const TIMESTAMP: &'static str = "Wechatpay-Timestamp";
    pub const NONCE: &'static str = "Wechatpay-Nonce";
    pub const SIGNATURE: &'static str = "Wechatpay-Signature";
    pub const SERIAL: &'static str = "Wechatpay-Serial";
    pub const SIGNATURE_TYPE: &'static str = "Wechatpay-Signature-Type";

    /// Reads the five headers through `get` (a header map lookup by name).
    pub fn from_lookup(mut get: impl FnMut(&str) -> Option<String>) -> Self {
        Self {
            timestamp: get(Self::TIMESTAMP),
            nonce: get(Self::NONCE),
            signature: get(Self::SIGNATURE),
            serial: get(Self::SERIAL),
            signature_type: get(Self::SIGNATURE_TYPE),
        }
    }
}

/// A verified callback: a transfer reached a final state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferNotice {
    /// The notification's `id` (the same in duplicates).
    pub notification_id: String,
    pub bill: TransferBill,
    pub mch_id: String,
}

/// Why a callback was refused. Its Display is fit for the `message` of the answer
/// `{"code":"FAIL","message":…}`; [`NotificationError::http_status`] is the status to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// A header is missing (its name).
    #[error("missing header {0}")]
    Missing(&'static str),
    /// The signature does not verify, is a `WECHATPAY/SIGNTEST/` probe, or is of another type.
    #[error("signature invalid")]
    BadSignature,
    /// `Wechatpay-Serial` names no key we hold.
    #[error("unknown Wechatpay-Serial")]
    UnknownKey,
    /// The timestamp is more than 300 s from now.
    #[error("timestamp expired")]
    Stale,
    /// The nonce was seen within the last 10 minutes.
    #[error("nonce already used")]
    Replayed,
    /// The body is not a transfer callback we can read (or not decryptable with our key).
    #[error("malformed notification: {0}")]
    Malformed(String),
    /// The transfer belongs to another merchant.
    #[error("notification for another merchant")]
    OtherMerchant,
    /// The nonce store is down: WeChat Pay should send it again later.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
}

impl NotificationError {
    /// The status to answer WeChat Pay with (it retries every one of them; 500 says "try
    /// later", the others say the request is at fault).
    pub fn http_status(&self) -> u16 {
        match self {
            NotificationError::Unavailable(_) => 500,
            NotificationError::BadSignature
            | NotificationError::UnknownKey
            | NotificationError::Stale
            | NotificationError::Replayed => 401,
            NotificationError::Missing(_)
            | NotificationError::Malformed(_)
            | NotificationError::OtherMerchant => 400,
        }
    }
}

/// An identifier cut for logs: its first and last four characters.
pub(crate) fn mask(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod crypto_tests;

#[cfg(test)]
mod tests;
