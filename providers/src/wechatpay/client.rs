//! The WeChat Pay APIv3 merchant-transfer client (see the module documentation of
//! [`super`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gongyou_db::kv::{Kv, Rate, RateDecision};
use gongyou_domain::payout::{transfer_remark, valid_out_bill_no, TransferState};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::crypto::{self, MerchantKey, WechatPayKey};
use super::{
    mask, NotificationError, NotificationHeaders, TransferBill, TransferNotice, TransferRequest,
    WechatPayError, WechatPaySettings,
};
use crate::{read_capped, transport_message, MAX_ANSWER_BYTES, PROVIDER_TIMEOUT};

/// The transfer API's paths.
const TRANSFER_BILLS: &str = "/v3/fund-app/mch-transfer/transfer-bills";

/// The only callback event this client accepts.
pub const EVENT_TYPE: &str = "MCHTRANSFER.BILL.FINISHED";

/// How far a callback's or an answer's timestamp may be from now.
const MAX_SKEW_SECS: i64 = 300;

/// How long a callback nonce is remembered (longer than the skew allowed, both ways).
const NONCE_TTL: Duration = Duration::from_secs(600);

/// The most a call waits for the rate limit before going ahead anyway (WeChat Pay then
/// answers 429 FREQUENCY_LIMITED, itself a [`WechatPayError::Retry`]).
const MAX_RATE_WAIT: Duration = Duration::from_secs(10);

const USER_AGENT: &str = concat!("gongyou/", env!("CARGO_PKG_VERSION"), " wechatpay-apiv3");

/// Which rate-limit bucket a call takes from.
#[derive(Debug, Clone, Copy)]
enum Bucket {
    Create,
    Query,
    Cancel,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::Create => "create",
            Bucket::Query => "query",
            Bucket::Cancel => "cancel",
        }
    }
}

/// The client of WeChat Pay's merchant transfers for one merchant (clones are cheap handles).
#[derive(Clone)]
pub struct WechatPayClient {
    inner: Arc<Inner>,
}

struct Inner {
    settings: WechatPaySettings,
    http: reqwest::Client,
    kv: Kv,
    signer: MerchantKey,
    keys: Vec<WechatPayKey>,
    /// Index in `keys` of the key that encrypts `user_name`.
    encrypting: usize,
}

impl std::fmt::Debug for WechatPayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatPayClient")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct CreateBody<'a> {
    appid: &'a str,
    out_bill_no: &'a str,
    transfer_scene_id: &'a str,
    openid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<String>,
    transfer_amount: i64,
    transfer_remark: String,
    notify_url: &'a str,
    transfer_scene_report_infos: Vec<ReportInfo<'a>>,
}

#[derive(Serialize)]
struct ReportInfo<'a> {
    info_type: &'a str,
    info_content: &'a str,
}

/// A bill in an answer or a decrypted callback.
#[derive(Deserialize)]
pub(crate) struct BillBody {
    out_bill_no: Option<String>,
    transfer_bill_no: Option<String>,
    state: Option<String>,
    package_info: Option<String>,
    fail_reason: Option<String>,
    create_time: Option<String>,
    update_time: Option<String>,
    transfer_amount: Option<i64>,
    openid: Option<String>,
    mch_id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct NotificationBody {
    id: Option<String>,
    event_type: Option<String>,
    resource: Option<Resource>,
}

#[derive(Deserialize)]
struct Resource {
    algorithm: Option<String>,
    ciphertext: Option<String>,
    #[serde(default)]
    associated_data: String,
    nonce: Option<String>,
}

impl WechatPayClient {
    /// Builds the client, reading every key now: a PEM that does not parse, an APIv3 key that
    /// is not 32 bytes or no WeChat Pay key at all is an error naming the setting.
    pub fn new(settings: WechatPaySettings, http: reqwest::Client, kv: Kv) -> anyhow::Result<Self> {
        let signer = MerchantKey::from_pem(settings.merchant_private_key_pem.expose_secret())
            .map_err(|e| anyhow::anyhow!("wechat pay merchant private key: {e}"))?;
        let apiv3_len = settings.apiv3_key.expose_secret().len();
        if apiv3_len != 32 {
            anyhow::bail!("wechat pay APIv3 key must be 32 bytes, not {apiv3_len}");
        }
        if settings.wechatpay_keys.is_empty() {
            anyhow::bail!(
                "wechat pay: no WeChat Pay public key or platform certificate configured"
            );
        }
        let mut keys = Vec::with_capacity(settings.wechatpay_keys.len());
        for (id, pem) in &settings.wechatpay_keys {
            if id.trim().is_empty() {
                anyhow::bail!("wechat pay: a WeChat Pay key has an empty id");
            }
            let key = WechatPayKey::from_pem(id.trim(), pem)
                .map_err(|e| anyhow::anyhow!("wechat pay key {id}: {e}"))?;
            keys.push(key);
        }
        let encrypting = keys.iter().position(|k| k.is_public_key_id()).unwrap_or(0);
        for (name, value) in [
            ("mch_id", &settings.mch_id),
            ("appid", &settings.appid),
            ("merchant_serial_no", &settings.merchant_serial_no),
            ("transfer_scene_id", &settings.transfer_scene_id),
            ("notify_url", &settings.notify_url),
        ] {
            if value.trim().is_empty() {
                anyhow::bail!("wechat pay: {name} is empty");
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                http,
                kv,
                signer,
                keys,
                encrypting,
            }),
        })
    }

    pub fn mch_id(&self) -> &str {
        &self.inner.settings.mch_id
    }

    pub fn appid(&self) -> &str {
        &self.inner.settings.appid
    }

    /// The id of the key that encrypts `user_name` (sent as `Wechatpay-Serial`).
    pub fn encrypting_key_id(&self) -> &str {
        self.inner
            .keys
            .get(self.inner.encrypting)
            .map(|k| k.id())
            .unwrap_or_default()
    }

    /// `POST /v3/fund-app/mch-transfer/transfer-bills`. Sent again with the same request, it
    /// returns the same bill (WeChat Pay dedupes by `out_bill_no`).
    pub async fn create_transfer(
        &self,
        req: &TransferRequest,
    ) -> Result<TransferBill, WechatPayError> {
        check_number(&req.out_bill_no, "out_bill_no")?;
        let settings = &self.inner.settings;
        let (user_name, serial) = match &req.user_name {
            Some(name) => {
                let key =
                    self.inner.keys.get(self.inner.encrypting).ok_or_else(|| {
                        WechatPayError::Config("no key to encrypt user_name".into())
                    })?;
                let ciphertext = key
                    .encrypt_oaep_sha1(name)
                    .map_err(|e| WechatPayError::Config(format!("encrypting user_name: {e}")))?;
                (Some(ciphertext), Some(key.id()))
            }
            None => (None, None),
        };
        let body = CreateBody {
            appid: &settings.appid,
            out_bill_no: &req.out_bill_no,
            transfer_scene_id: &settings.transfer_scene_id,
            openid: &req.openid,
            user_name,
            transfer_amount: req.amount_fen,
            transfer_remark: transfer_remark(&req.remark),
            notify_url: &settings.notify_url,
            transfer_scene_report_infos: settings
                .scene_report_infos
                .iter()
                .map(|(info_type, info_content)| ReportInfo {
                    info_type,
                    info_content,
                })
                .collect(),
        };
        let body = serde_json::to_string(&body)
            .map_err(|e| WechatPayError::Config(format!("create body: {e}")))?;
        let result = self
            .call(
                "POST",
                TRANSFER_BILLS.to_owned(),
                body,
                serial,
                Bucket::Create,
            )
            .await;
        match &result {
            Ok(bill) => tracing::info!(
                out_bill_no = %bill.out_bill_no,
                state = ?bill.state,
                amount_fen = req.amount_fen,
                openid = %mask(&req.openid),
                "wechat pay transfer created"
            ),
            Err(e) => tracing::warn!(
                out_bill_no = %req.out_bill_no,
                error = %e,
                "wechat pay transfer not created"
            ),
        }
        let mut bill = result?;
        if bill.amount_fen.is_none() {
            bill.amount_fen = Some(req.amount_fen);
        }
        Ok(bill)
    }

    /// `GET …/transfer-bills/out-bill-no/{out_bill_no}` (the last 30 days).
    pub async fn query_by_out_bill_no(
        &self,
        out_bill_no: &str,
    ) -> Result<TransferBill, WechatPayError> {
        check_number(out_bill_no, "out_bill_no")?;
        let path = format!("{TRANSFER_BILLS}/out-bill-no/{out_bill_no}");
        self.call("GET", path, String::new(), None, Bucket::Query)
            .await
    }

    /// `GET …/transfer-bills/transfer-bill-no/{transfer_bill_no}` (the last 30 days).
    pub async fn query_by_transfer_bill_no(
        &self,
        transfer_bill_no: &str,
    ) -> Result<TransferBill, WechatPayError> {
        check_number(transfer_bill_no, "transfer_bill_no")?;
        let path = format!("{TRANSFER_BILLS}/transfer-bill-no/{transfer_bill_no}");
        self.call("GET", path, String::new(), None, Bucket::Query)
            .await
    }

    /// `POST …/out-bill-no/{out_bill_no}/cancel`: only before the rider confirms. Success means
    /// the cancel was accepted: state `CANCELING` or `CANCELLED`; the end comes by callback or
    /// query.
    pub async fn cancel(&self, out_bill_no: &str) -> Result<TransferBill, WechatPayError> {
        check_number(out_bill_no, "out_bill_no")?;
        let path = format!("{TRANSFER_BILLS}/out-bill-no/{out_bill_no}/cancel");
        let result = self
            .call("POST", path, "{}".to_owned(), None, Bucket::Cancel)
            .await;
        match &result {
            Ok(bill) => {
                tracing::info!(out_bill_no, state = ?bill.state, "wechat pay transfer cancel accepted")
            }
            Err(e) => tracing::warn!(out_bill_no, error = %e, "wechat pay transfer cancel failed"),
        }
        result
    }

    /// Verifies a callback and opens it (see [`NotificationError`] for what is refused). The
    /// nonce is recorded only once the signature verified, so a forgery cannot burn a genuine
    /// callback's nonce.
    pub async fn verify_notification(
        &self,
        headers: &NotificationHeaders,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<TransferNotice, NotificationError> {
        let timestamp = headers
            .timestamp
            .as_deref()
            .ok_or(NotificationError::Missing(NotificationHeaders::TIMESTAMP))?;
        let nonce = headers
            .nonce
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or(NotificationError::Missing(NotificationHeaders::NONCE))?;
        let signature = headers
            .signature
            .as_deref()
            .ok_or(NotificationError::Missing(NotificationHeaders::SIGNATURE))?;
        let serial = headers
            .serial
            .as_deref()
            .ok_or(NotificationError::Missing(NotificationHeaders::SERIAL))?;
        if let Some(kind) = headers.signature_type.as_deref() {
            if kind != crypto::SCHEME {
                return Err(NotificationError::BadSignature);
            }
        }
        if signature.starts_with(crypto::SIGNTEST_PREFIX) {
            tracing::info!("wechat pay signature probe refused");
            return Err(NotificationError::BadSignature);
        }
        let key = self.key(serial).ok_or_else(|| {
            tracing::warn!(serial, "wechat pay callback signed with an unknown key");
            NotificationError::UnknownKey
        })?;
        let seconds: i64 = timestamp.trim().parse().map_err(|_| {
            NotificationError::Malformed("Wechatpay-Timestamp is not a number".into())
        })?;
        if (now.timestamp() - seconds).abs() > MAX_SKEW_SECS {
            return Err(NotificationError::Stale);
        }
        key.verify(&crypto::response_message(timestamp, nonce, body), signature)
            .map_err(|_| {
                tracing::warn!(serial, "wechat pay callback signature does not verify");
                NotificationError::BadSignature
            })?;
        let nonce_key = format!("wechatpay:notify_nonce:{}:{nonce}", self.mch_id());
        let fresh = self
            .inner
            .kv
            .set_if_absent(&nonce_key, "1", NONCE_TTL)
            .await
            .map_err(|e| NotificationError::Unavailable(format!("nonce store: {e}")))?;
        if !fresh {
            return Err(NotificationError::Replayed);
        }
        self.open_notification(body)
    }

    /// Reads a verified callback's body and decrypts its resource.
    fn open_notification(&self, body: &[u8]) -> Result<TransferNotice, NotificationError> {
        let malformed = |what: &str| NotificationError::Malformed(what.to_owned());
        let notification: NotificationBody =
            serde_json::from_slice(body).map_err(|_| malformed("body is not the expected JSON"))?;
        let event_type = notification.event_type.unwrap_or_default();
        if event_type != EVENT_TYPE {
            return Err(NotificationError::Malformed(format!(
                "unexpected event_type {event_type:?}"
            )));
        }
        let notification_id = notification.id.ok_or_else(|| malformed("no id"))?;
        let resource = notification
            .resource
            .ok_or_else(|| malformed("no resource"))?;
        if resource.algorithm.as_deref() != Some("AEAD_AES_256_GCM") {
            return Err(malformed("resource algorithm is not AEAD_AES_256_GCM"));
        }
        let plaintext = crypto::decrypt_resource(
            self.inner.settings.apiv3_key.expose_secret().as_bytes(),
            resource.nonce.as_deref().unwrap_or_default(),
            &resource.associated_data,
            resource.ciphertext.as_deref().unwrap_or_default(),
        )
        .map_err(|_| {
            tracing::warn!("wechat pay callback resource does not decrypt with the APIv3 key");
            malformed("resource does not decrypt")
        })?;
        let bill: BillBody = serde_json::from_slice(&plaintext)
            .map_err(|_| malformed("resource is not a transfer bill"))?;
        let mch_id = bill.mch_id.clone().unwrap_or_default();
        if mch_id != self.inner.settings.mch_id {
            tracing::warn!(mch_id = %mch_id, "wechat pay callback for another merchant");
            return Err(NotificationError::OtherMerchant);
        }
        let bill = bill
            .into_bill(None)
            .map_err(|e| NotificationError::Malformed(e.to_string()))?;
        tracing::info!(
            out_bill_no = %bill.out_bill_no,
            state = ?bill.state,
            "wechat pay transfer callback verified"
        );
        Ok(TransferNotice {
            notification_id,
            bill,
            mch_id,
        })
    }

    fn key(&self, id: &str) -> Option<&WechatPayKey> {
        self.inner.keys.iter().find(|k| k.id() == id)
    }

    /// Waits for the rate-limit bucket, at most [`MAX_RATE_WAIT`] in all; the store being down
    /// does not stop a call.
    async fn take_rate(&self, bucket: Bucket) {
        let rate = Rate {
            limit: self.inner.settings.requests_per_second.max(1),
            period: Duration::from_secs(1),
        };
        let key = format!("wechatpay:rate:{}:{}", bucket.name(), self.mch_id());
        let mut waited = Duration::ZERO;
        loop {
            match self.inner.kv.rate_limit(&key, rate).await {
                Ok(RateDecision::Allowed) => return,
                Ok(RateDecision::Limited { retry_after }) => {
                    let wait = retry_after.max(Duration::from_millis(1));
                    if waited + wait > MAX_RATE_WAIT {
                        tracing::warn!(
                            bucket = bucket.name(),
                            "wechat pay rate limit wait too long; sending anyway"
                        );
                        return;
                    }
                    tokio::time::sleep(wait).await;
                    waited += wait;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "wechat pay rate limit unavailable; sending anyway");
                    return;
                }
            }
        }
    }

    /// Signs and sends one request, verifies and reads the answer.
    async fn call(
        &self,
        method: &'static str,
        path: String,
        body: String,
        wechatpay_serial: Option<&str>,
        bucket: Bucket,
    ) -> Result<TransferBill, WechatPayError> {
        self.take_rate(bucket).await;
        let settings = &self.inner.settings;
        let timestamp = Utc::now().timestamp();
        let nonce = crypto::new_nonce();
        let signature = self
            .inner
            .signer
            .sign(crypto::request_message(method, &path, timestamp, &nonce, &body).as_bytes())
            .map_err(|e| WechatPayError::Config(format!("signing: {e}")))?;
        let authorization = crypto::authorization(
            &settings.mch_id,
            &nonce,
            &signature,
            timestamp,
            &settings.merchant_serial_no,
        );
        let url = format!("{}{path}", settings.base_url.trim_end_matches('/'));
        let mut request = match method {
            "GET" => self.inner.http.get(url),
            _ => self.inner.http.post(url).body(body),
        }
        .timeout(PROVIDER_TIMEOUT)
        .header(reqwest::header::AUTHORIZATION, authorization)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::USER_AGENT, USER_AGENT);
        if let Some(serial) = wechatpay_serial {
            request = request.header(NotificationHeaders::SERIAL, serial);
        }
        let response = request.send().await.map_err(|e| {
            let message = transport_message(e);
            tracing::warn!(method, error = %message, "wechat pay unreachable");
            WechatPayError::Unknown(message)
        })?;
        let status = response.status().as_u16();
        let headers = NotificationHeaders::from_lookup(|name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
        let bytes = read_capped(response, MAX_ANSWER_BYTES)
            .await
            .map_err(WechatPayError::Unknown)?;
        if (200..300).contains(&status) {
            self.verify_answer(&headers, &bytes, true)?;
            let bill: BillBody = serde_json::from_slice(&bytes).map_err(|_| {
                WechatPayError::Unknown(format!("HTTP {status}: unreadable answer"))
            })?;
            return bill
                .into_bill(None)
                .map_err(|e| WechatPayError::Unknown(format!("HTTP {status}: {e}")));
        }
        // An error answer: a signature that is there must verify; WeChat Pay's gateway may
        // send some errors unsigned.
        if headers.signature.is_some() {
            self.verify_answer(&headers, &bytes, false)?;
        }
        let Ok(error) = serde_json::from_slice::<ErrorBody>(&bytes) else {
            return Err(if status >= 500 {
                WechatPayError::Retry {
                    status,
                    code: String::new(),
                    message: "unreadable error answer".into(),
                }
            } else {
                WechatPayError::Unknown(format!("HTTP {status} with an unreadable answer"))
            });
        };
        tracing::warn!(method, status, code = %error.code, message = %error.message, "wechat pay refused");
        Err(classify(status, error.code, error.message, bucket))
    }

    /// Checks an answer's signature with the key its `Wechatpay-Serial` names.
    fn verify_answer(
        &self,
        headers: &NotificationHeaders,
        body: &[u8],
        success: bool,
    ) -> Result<(), WechatPayError> {
        let unknown = |why: &str| {
            tracing::warn!(success, why, "wechat pay answer not trusted");
            WechatPayError::Unknown(format!("answer not trusted: {why}"))
        };
        let (Some(timestamp), Some(nonce), Some(signature), Some(serial)) = (
            headers.timestamp.as_deref(),
            headers.nonce.as_deref(),
            headers.signature.as_deref(),
            headers.serial.as_deref(),
        ) else {
            return Err(unknown("signature headers missing"));
        };
        let key = self
            .key(serial)
            .ok_or_else(|| unknown("signed with an unknown key"))?;
        let seconds: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| unknown("timestamp unreadable"))?;
        if (Utc::now().timestamp() - seconds).abs() > MAX_SKEW_SECS {
            return Err(unknown("timestamp too far from now"));
        }
        key.verify(&crypto::response_message(timestamp, nonce, body), signature)
            .map_err(|_| unknown("signature does not verify"))
    }
}

/// An error answer's meaning (see [`WechatPayError`]).
fn classify(status: u16, code: String, message: String, bucket: Bucket) -> WechatPayError {
    let is_query = matches!(bucket, Bucket::Query);
    match code.as_str() {
        "NOT_FOUND" | "RESOURCE_NOT_EXISTS" if is_query => WechatPayError::NotFound,
        "SYSTEM_ERROR" | "FREQUENCY_LIMITED" | "NOT_ENOUGH" => WechatPayError::Retry {
            status,
            code,
            message,
        },
        _ if status == 429 || status >= 500 => WechatPayError::Retry {
            status,
            code,
            message,
        },
        _ => WechatPayError::Refused {
            status,
            code,
            message,
        },
    }
}

/// A bill or transfer number goes into a URL path: 1–32 letters and digits only (a
/// `transfer_bill_no` is longer: up to 64).
fn check_number(number: &str, what: &str) -> Result<(), WechatPayError> {
    let ok = match what {
        "out_bill_no" => valid_out_bill_no(number),
        _ => (1..=64).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_alphanumeric()),
    };
    if ok {
        Ok(())
    } else {
        Err(WechatPayError::Refused {
            status: 400,
            code: "PARAM_ERROR".into(),
            message: format!("{what} must be letters and digits (checked before sending)"),
        })
    }
}

impl BillBody {
    /// The bill, `out_bill_no` defaulting to `fallback` when the answer left it out.
    pub(crate) fn into_bill(self, fallback: Option<&str>) -> Result<TransferBill, String> {
        let state = self.state.ok_or("no state")?;
        let state: TransferState = serde_json::from_value(serde_json::Value::String(state.clone()))
            .map_err(|_| format!("unknown state {state:?}"))?;
        let out_bill_no = self
            .out_bill_no
            .or_else(|| fallback.map(str::to_owned))
            .ok_or("no out_bill_no")?;
        Ok(TransferBill {
            out_bill_no,
            transfer_bill_no: self.transfer_bill_no.filter(|s| !s.is_empty()),
            state,
            package_info: self.package_info.filter(|s| !s.is_empty()),
            fail_reason: self.fail_reason.filter(|s| !s.is_empty()),
            create_time: self.create_time.as_deref().and_then(parse_time),
            update_time: self.update_time.as_deref().and_then(parse_time),
            amount_fen: self.transfer_amount,
            openid: self.openid.filter(|s| !s.is_empty()),
        })
    }
}

/// An RFC 3339 time as WeChat Pay writes it (`2025-01-01T08:00:02+08:00`).
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
