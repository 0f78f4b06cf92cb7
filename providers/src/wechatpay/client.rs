//! The WeChat Pay APIv3 merchant-transfer client (see the module documentation of
//! [`super`]).

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use flate2::write::MultiGzDecoder;
use gongyou_db::kv::{Kv, Rate, RateDecision};
use gongyou_domain::payout::{transfer_remark, valid_out_bill_no, TransferState};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::crypto::{self, MerchantKey, WechatPayKey};
use super::{
    mask, BillLocation, NotificationError, NotificationHeaders, TransferBill, TransferNotice,
    TransferRequest, WechatPayError, WechatPaySettings,
};
use crate::{read_capped, transport_message, MAX_ANSWER_BYTES, PROVIDER_TIMEOUT};

/// The transfer API's paths.
const TRANSFER_BILLS: &str = "/v3/fund-app/mch-transfer/transfer-bills";

/// The fund-flow bill API (where a day's bill is downloaded from).
const FUND_FLOW_BILL: &str = "/v3/bill/fundflowbill";

/// How long a bill download may take in all. The shared HTTP client allows 5 s per request,
/// right for JSON answers, not for a bill of a busy day; this applies to the download only.
pub const BILL_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// The first two bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

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
    /// The fund-flow bill: its location (where "not ready" is a distinct answer).
    Bill,
    /// A bill's download.
    Download,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::Create => "create",
            Bucket::Query => "query",
            Bucket::Cancel => "cancel",
            Bucket::Bill | Bucket::Download => "bill",
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

/// The answer of `GET /v3/bill/fundflowbill`.
#[derive(Deserialize)]
struct BillLocationBody {
    download_url: Option<String>,
    hash_type: Option<String>,
    hash_value: Option<String>,
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

    /// `GET /v3/bill/fundflowbill?bill_date=…&account_type=OPERATION&tar_type=GZIP`: where the
    /// operating account's fund-flow bill of `bill_date` (a Beijing-time day) is, and its
    /// SHA-1. The answer is signed and verified like every other. A bill not ready yet (or no
    /// longer kept) is [`WechatPayError::NotReady`].
    pub async fn fund_flow_bill(
        &self,
        bill_date: NaiveDate,
    ) -> Result<BillLocation, WechatPayError> {
        let date = bill_date.format("%Y-%m-%d").to_string();
        let path =
            format!("{FUND_FLOW_BILL}?bill_date={date}&account_type=OPERATION&tar_type=GZIP");
        let (status, bytes) = match self
            .call_json("GET", &path, String::new(), None, Bucket::Bill)
            .await
        {
            Ok(answer) => answer,
            Err(e @ WechatPayError::NotReady { .. }) => {
                tracing::info!(bill_date = %date, error = %e, "wechat pay fund-flow bill not ready");
                return Err(e);
            }
            Err(e) => {
                tracing::warn!(bill_date = %date, error = %e, "wechat pay fund-flow bill not located");
                return Err(e);
            }
        };
        let unreadable =
            |what: &str| WechatPayError::Unknown(format!("HTTP {status}: bill answer {what}"));
        let answer: BillLocationBody =
            serde_json::from_slice(&bytes).map_err(|_| unreadable("unreadable"))?;
        let field = |value: Option<String>, name: &str| {
            value
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| unreadable(&format!("without {name}")))
        };
        let location = BillLocation {
            download_url: field(answer.download_url, "download_url")?,
            hash_type: field(answer.hash_type, "hash_type")?,
            hash_value: field(answer.hash_value, "hash_value")?,
        };
        tracing::info!(bill_date = %date, "wechat pay fund-flow bill located");
        Ok(location)
    }

    /// Downloads a bill found by [`WechatPayClient::fund_flow_bill`]: a signed GET of its
    /// `download_url` (the signature covers the URL's path and query), whose answer is not
    /// signed. Refused before sending: a URL not on the configured base URL's scheme, host and
    /// port (our `Authorization` goes nowhere else), and a hash that is not a SHA-1.
    ///
    /// The answer is streamed: read it with [`BillDownload::next_chunk`] (or
    /// [`BillDownload::into_stream`]), then [`BillDownload::finish`] checks the hash. The
    /// download may take up to [`BILL_DOWNLOAD_TIMEOUT`] in all.
    pub async fn download_bill(
        &self,
        location: &BillLocation,
    ) -> Result<BillDownload, WechatPayError> {
        if !location.hash_type.trim().eq_ignore_ascii_case("SHA1") {
            return Err(WechatPayError::Unknown(format!(
                "bill hash_type {:?} is not SHA1",
                location.hash_type
            )));
        }
        let expected = location.hash_value.trim().to_ascii_lowercase();
        if expected.len() != 40 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(WechatPayError::Unknown(
                "bill hash_value is not a SHA-1 in hex".into(),
            ));
        }
        let url = self.download_url(&location.download_url)?;
        let mut signed_path = url.path().to_owned();
        if let Some(query) = url.query() {
            signed_path.push('?');
            signed_path.push_str(query);
        }
        self.take_rate(Bucket::Download).await;
        let response = self
            .send_signed(
                "GET",
                url.to_string(),
                &signed_path,
                String::new(),
                None,
                BILL_DOWNLOAD_TIMEOUT,
                "*/*",
            )
            .await?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let headers = answer_headers(&response);
            let bytes = read_capped(response, MAX_ANSWER_BYTES)
                .await
                .map_err(WechatPayError::Unknown)?;
            let error = self.error_answer("GET", status, &headers, &bytes, Bucket::Download);
            tracing::warn!(error = %error, "wechat pay bill download refused");
            return Err(error);
        }
        Ok(BillDownload::new(response, expected))
    }

    /// A download URL we may send our `Authorization` to: on the base URL's scheme, host and
    /// port, without credentials; its fragment dropped.
    fn download_url(&self, download_url: &str) -> Result<reqwest::Url, WechatPayError> {
        let base = reqwest::Url::parse(&self.inner.settings.base_url)
            .map_err(|_| WechatPayError::Config("base_url is not an URL".into()))?;
        let refuse = |why: &str| {
            tracing::warn!(why, "wechat pay bill download URL refused");
            WechatPayError::Refused {
                status: 400,
                code: "PARAM_ERROR".into(),
                message: format!("download_url {why} (checked before sending)"),
            }
        };
        let mut url = reqwest::Url::parse(download_url.trim())
            .map_err(|_| refuse("is not an absolute URL"))?;
        if url.scheme() != base.scheme()
            || url.host_str() != base.host_str()
            || url.port_or_known_default() != base.port_or_known_default()
        {
            return Err(refuse("is not on the configured WeChat Pay host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("carries credentials"));
        }
        url.set_fragment(None);
        Ok(url)
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

    /// Signs and sends one request, verifies and reads the answer as a bill.
    async fn call(
        &self,
        method: &'static str,
        path: String,
        body: String,
        wechatpay_serial: Option<&str>,
        bucket: Bucket,
    ) -> Result<TransferBill, WechatPayError> {
        let (status, bytes) = self
            .call_json(method, &path, body, wechatpay_serial, bucket)
            .await?;
        let bill: BillBody = serde_json::from_slice(&bytes)
            .map_err(|_| WechatPayError::Unknown(format!("HTTP {status}: unreadable answer")))?;
        bill.into_bill(None)
            .map_err(|e| WechatPayError::Unknown(format!("HTTP {status}: {e}")))
    }

    /// Signs and sends one request to `path` (with its query) on the base URL; a 2xx answer
    /// whose signature verifies is `(status, body)`, anything else the error it means.
    async fn call_json(
        &self,
        method: &'static str,
        path: &str,
        body: String,
        wechatpay_serial: Option<&str>,
        bucket: Bucket,
    ) -> Result<(u16, Vec<u8>), WechatPayError> {
        self.take_rate(bucket).await;
        let url = format!(
            "{}{path}",
            self.inner.settings.base_url.trim_end_matches('/')
        );
        let response = self
            .send_signed(
                method,
                url,
                path,
                body,
                wechatpay_serial,
                PROVIDER_TIMEOUT,
                "application/json",
            )
            .await?;
        let status = response.status().as_u16();
        let headers = answer_headers(&response);
        let bytes = read_capped(response, MAX_ANSWER_BYTES)
            .await
            .map_err(WechatPayError::Unknown)?;
        if (200..300).contains(&status) {
            self.verify_answer(&headers, &bytes, true)?;
            return Ok((status, bytes));
        }
        Err(self.error_answer(method, status, &headers, &bytes, bucket))
    }

    /// Sends one request to `url`, signed over `signed_path` (the URL's path and query, as
    /// sent), waiting at most `timeout` for the whole of it.
    #[allow(clippy::too_many_arguments)]
    async fn send_signed(
        &self,
        method: &'static str,
        url: String,
        signed_path: &str,
        body: String,
        wechatpay_serial: Option<&str>,
        timeout: Duration,
        accept: &'static str,
    ) -> Result<reqwest::Response, WechatPayError> {
        let settings = &self.inner.settings;
        let timestamp = Utc::now().timestamp();
        let nonce = crypto::new_nonce();
        let signature = self
            .inner
            .signer
            .sign(crypto::request_message(method, signed_path, timestamp, &nonce, &body).as_bytes())
            .map_err(|e| WechatPayError::Config(format!("signing: {e}")))?;
        let authorization = crypto::authorization(
            &settings.mch_id,
            &nonce,
            &signature,
            timestamp,
            &settings.merchant_serial_no,
        );
        let mut request = match method {
            "GET" => self.inner.http.get(url),
            _ => self.inner.http.post(url).body(body),
        }
        .timeout(timeout)
        .header(reqwest::header::AUTHORIZATION, authorization)
        .header(reqwest::header::ACCEPT, accept)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::USER_AGENT, USER_AGENT);
        if let Some(serial) = wechatpay_serial {
            request = request.header(NotificationHeaders::SERIAL, serial);
        }
        request.send().await.map_err(|e| {
            let message = transport_message(e);
            tracing::warn!(method, error = %message, "wechat pay unreachable");
            WechatPayError::Unknown(message)
        })
    }

    /// What an error answer means.
    fn error_answer(
        &self,
        method: &'static str,
        status: u16,
        headers: &NotificationHeaders,
        bytes: &[u8],
        bucket: Bucket,
    ) -> WechatPayError {
        // A signature that is there must verify; WeChat Pay's gateway may send some errors
        // unsigned.
        if headers.signature.is_some() {
            if let Err(e) = self.verify_answer(headers, bytes, false) {
                return e;
            }
        }
        let Ok(error) = serde_json::from_slice::<ErrorBody>(bytes) else {
            if status == 404 && matches!(bucket, Bucket::Bill) {
                return WechatPayError::NotReady {
                    status,
                    code: String::new(),
                    message: "no bill (an answer without a body)".into(),
                };
            }
            return if status >= 500 {
                WechatPayError::Retry {
                    status,
                    code: String::new(),
                    message: "unreadable error answer".into(),
                }
            } else {
                WechatPayError::Unknown(format!("HTTP {status} with an unreadable answer"))
            };
        };
        tracing::warn!(method, status, code = %error.code, message = %error.message, "wechat pay refused");
        classify(status, error.code, error.message, bucket)
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
    let is_bill = matches!(bucket, Bucket::Bill);
    match code.as_str() {
        "NOT_FOUND" | "RESOURCE_NOT_EXISTS" if is_query => WechatPayError::NotFound,
        // Not confirmed by WeChat Pay's documentation (see `WechatPayError::NotReady`).
        "NO_STATEMENT_EXIST" | "STATEMENT_CREATING" if is_bill => WechatPayError::NotReady {
            status,
            code,
            message,
        },
        _ if is_bill && status == 404 => WechatPayError::NotReady {
            status,
            code,
            message,
        },
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

/// The signature headers of an answer (`None` when absent).
fn answer_headers(response: &reqwest::Response) -> NotificationHeaders {
    NotificationHeaders::from_lookup(|name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    })
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

/// A bill being downloaded ([`WechatPayClient::download_bill`]): the uncompressed file, chunk by
/// chunk, as it arrives. A gzip answer (asked for with `tar_type=GZIP`) is decompressed on the
/// fly; one that is not gzip (its first bytes say so) passes as it is. The SHA-1 of the
/// uncompressed bytes is computed as they go by, and [`BillDownload::finish`] compares it with
/// the announced one: nothing read may be acted on before that returned `Ok`.
///
/// Memory stays small whatever the bill's size: one network chunk in, at most about 32 KiB of
/// output per step.
pub struct BillDownload {
    response: reqwest::Response,
    /// Received bytes not yet given to the decoder.
    input: Bytes,
    decoder: Decoder,
    hasher: Sha1,
    /// The announced SHA-1, lower-case hex.
    expected: String,
    uncompressed: u64,
    state: ReadState,
}

enum Decoder {
    /// The first bytes, until there are two to tell gzip from plain.
    Sniffing(Vec<u8>),
    /// Decompressed output lands in the inner `Vec`, taken after each step.
    Gzip(Box<MultiGzDecoder<Vec<u8>>>),
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadState {
    Reading,
    /// The whole file was read (and the gzip trailer checked).
    Done,
    Failed,
}

impl std::fmt::Debug for BillDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let decoder = match self.decoder {
            Decoder::Sniffing(_) => "sniffing",
            Decoder::Gzip(_) => "gzip",
            Decoder::Plain => "plain",
        };
        f.debug_struct("BillDownload")
            .field("decoder", &decoder)
            .field("expected", &self.expected)
            .field("uncompressed", &self.uncompressed)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl BillDownload {
    fn new(response: reqwest::Response, expected: String) -> Self {
        Self {
            response,
            input: Bytes::new(),
            decoder: Decoder::Sniffing(Vec::new()),
            hasher: Sha1::new(),
            expected,
            uncompressed: 0,
            state: ReadState::Reading,
        }
    }

    /// The next chunk of the uncompressed file; `None` once it was read to its end. A
    /// transport error, a timeout or a damaged gzip stream is [`WechatPayError::Unknown`], and
    /// every later call fails too.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, WechatPayError> {
        let result = self.step().await;
        if result.is_err() {
            self.state = ReadState::Failed;
        }
        result
    }

    /// How many uncompressed bytes were handed out so far.
    pub fn uncompressed_bytes(&self) -> u64 {
        self.uncompressed
    }

    /// After the last chunk: whether the file is the one announced (its SHA-1, compared in
    /// hex whatever the case). [`WechatPayError::HashMismatch`] when not; an error too when the
    /// file was not read to its end.
    pub fn finish(self) -> Result<(), WechatPayError> {
        if self.state != ReadState::Done {
            return Err(WechatPayError::Unknown(
                "bill download not read to its end".into(),
            ));
        }
        let actual = hex::encode(self.hasher.finalize());
        if actual.eq_ignore_ascii_case(&self.expected) {
            tracing::info!(
                bytes = self.uncompressed,
                "wechat pay bill downloaded, hash verified"
            );
            Ok(())
        } else {
            tracing::warn!(
                expected = %self.expected,
                actual = %actual,
                "wechat pay bill hash mismatch"
            );
            Err(WechatPayError::HashMismatch {
                expected: self.expected,
                actual,
            })
        }
    }

    /// The uncompressed chunks as a stream, which ends with an `Err` item (and nothing after)
    /// when the download fails or the hash does not match: only a stream that ended without an
    /// error is the announced file.
    pub fn into_stream(
        self,
    ) -> impl futures_util::Stream<Item = Result<Bytes, WechatPayError>> + Send {
        futures_util::stream::unfold(Some(self), |download| async move {
            let mut download = download?;
            match download.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(download))),
                Ok(None) => download.finish().err().map(|e| (Err(e), None)),
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    async fn step(&mut self) -> Result<Option<Bytes>, WechatPayError> {
        loop {
            match self.state {
                ReadState::Done => return Ok(None),
                ReadState::Failed => {
                    return Err(WechatPayError::Unknown(
                        "bill download failed earlier".into(),
                    ))
                }
                ReadState::Reading => {}
            }
            if let Some(chunk) = self.feed()? {
                return Ok(Some(self.emit(chunk)));
            }
            if !self.input.is_empty() {
                continue;
            }
            let next = self.response.chunk().await.map_err(|e| {
                let message = transport_message(e);
                tracing::warn!(error = %message, "wechat pay bill download interrupted");
                WechatPayError::Unknown(format!("bill download: {message}"))
            })?;
            match next {
                Some(chunk) => self.input = chunk,
                None => {
                    let rest = self.end()?;
                    self.state = ReadState::Done;
                    if rest.is_empty() {
                        return Ok(None);
                    }
                    return Ok(Some(self.emit(rest)));
                }
            }
        }
    }

    /// Gives (some of) the received bytes to the decoder; the output it made, if any.
    fn feed(&mut self) -> Result<Option<Bytes>, WechatPayError> {
        if self.input.is_empty() {
            return Ok(None);
        }
        if let Decoder::Sniffing(seen) = &mut self.decoder {
            seen.extend_from_slice(&self.input);
            self.input = Bytes::new();
            if seen.len() < GZIP_MAGIC.len() {
                return Ok(None);
            }
            let seen = Bytes::from(std::mem::take(seen));
            if seen.starts_with(&GZIP_MAGIC) {
                self.decoder = Decoder::Gzip(Box::new(MultiGzDecoder::new(Vec::new())));
                self.input = seen;
                return Ok(None);
            }
            self.decoder = Decoder::Plain;
            return Ok(Some(seen));
        }
        match &mut self.decoder {
            Decoder::Sniffing(_) => Ok(None),
            Decoder::Plain => Ok(Some(std::mem::take(&mut self.input))),
            Decoder::Gzip(decoder) => {
                // One step decompresses at most the decoder's 32 KiB buffer.
                let taken = decoder.write(&self.input).map_err(damaged)?;
                if taken == 0 {
                    return Err(damaged(std::io::Error::other("the gzip stream stalled")));
                }
                self.input = self.input.slice(taken..);
                let output = std::mem::take(decoder.get_mut());
                Ok((!output.is_empty()).then(|| Bytes::from(output)))
            }
        }
    }

    /// At the end of the answer: the decoder's last output, its trailer checked.
    fn end(&mut self) -> Result<Bytes, WechatPayError> {
        match &mut self.decoder {
            Decoder::Sniffing(seen) => Ok(Bytes::from(std::mem::take(seen))),
            Decoder::Plain => Ok(Bytes::new()),
            Decoder::Gzip(decoder) => {
                decoder.try_finish().map_err(damaged)?;
                Ok(Bytes::from(std::mem::take(decoder.get_mut())))
            }
        }
    }

    fn emit(&mut self, chunk: Bytes) -> Bytes {
        self.hasher.update(&chunk);
        self.uncompressed += chunk.len() as u64;
        chunk
    }
}

/// A gzip stream that does not decode (damaged, cut short).
fn damaged(error: std::io::Error) -> WechatPayError {
    tracing::warn!(error = %error, "wechat pay bill download is not a sound gzip stream");
    WechatPayError::Unknown(format!("bill download: gzip stream damaged: {error}"))
}
