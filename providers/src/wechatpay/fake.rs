//! A fake WeChat Pay (merchant transfers) for tests and the demo: a real local HTTP server
//! that behaves like the documented API.
//!
//! - It verifies each request's `Authorization` signature with the merchant key it hands out
//!   ([`FakeWechatPay::settings_for_client`]) and answers `401 SIGN_ERROR` to a bad one.
//! - It signs every answer, with its public key (`PUB_KEY_ID_…`) or, once told, its platform
//!   certificate's key ([`FakeSigner`]).
//! - It keeps bills by `out_bill_no`: the same number with identical parameters returns the
//!   existing bill; with different ones `400 INVALID_REQUEST 单号已存在但信息不一致`. It decrypts
//!   `user_name` (required from 200,000 fen, else `400 PARAM_ERROR`).
//! - Bills go `ACCEPTED → WAIT_USER_CONFIRM` and wait for [`FakeWechatPay::confirm`] (the rider
//!   confirms) or [`FakeWechatPay::expire`] (24 h unconfirmed: `FAIL OVERDUE_CLOSE`);
//!   [`FakeConfig::auto_confirm`] makes them `SUCCESS` at once.
//! - When a bill becomes final it sends the callback (`MCHTRANSFER.BILL.FINISHED`, resource
//!   sealed with the APIv3 key, signed headers, a fresh nonce) to the bill's `notify_url`,
//!   retried a few times on failure.
//!
//! Test controls are methods of [`FakeWechatPay`], and the same over HTTP under `/fake/…`
//! (for a separate process such as the demo; unauthenticated: bind it to loopback only):
//!
//! | request | effect |
//! | --- | --- |
//! | `POST /fake/next-create?fault=timeout` | next create is accepted, then the connection drops |
//! | `POST /fake/next-create?fault=slow&ms=6000` | next create is accepted, answered after `ms` |
//! | `POST /fake/next-create?fault=system-error` | next create answers `500 SYSTEM_ERROR`, creates nothing |
//! | `POST /fake/auto-confirm?on=true` | new bills go straight to `SUCCESS` |
//! | `POST /fake/callbacks?mode=normal\|twice\|suppressed` | callbacks once, twice, or never |
//! | `POST /fake/limit?fen=N` | creates above `N` fen: `403 QUOTA_EXCEED` (no `fen`: no limit) |
//! | `POST /fake/signer?key=public-key\|certificate` | which key signs answers and callbacks |
//! | `POST /fake/corrupt-next-answer` | the next 2xx answer carries a wrong signature |
//! | `POST /fake/bills/{out_bill_no}/confirm` | the rider confirmed: `SUCCESS` + callback |
//! | `POST /fake/bills/{out_bill_no}/expire` | `FAIL OVERDUE_CLOSE` + callback |
//! | `POST /fake/bills/{out_bill_no}/fail?reason=R` | `FAIL` with reason `R` + callback |
//! | `POST /fake/bills/{out_bill_no}/callback` | send the bill's callback again |
//! | `GET /fake/bills`, `GET /fake/bills/{out_bill_no}` | the bills (JSON) |
//! | `GET /fake/creates/{out_bill_no}` | `{"creates": n}`: create calls for that number |
//! | `GET /fake/stats` | `{"bills", "creates", "total_paid_fen", "callbacks"}` |
//! | `POST /fake/statements/{date}/not-ready?on=true\|false` | that day's bill: `400 NO_STATEMENT_EXIST` |
//! | `POST /fake/statements/{date}/corrupt-hash?on=true\|false` | that day's bill announces a wrong SHA-1 |
//! | `GET /fake/statements/{date}` | that day's bill, uncompressed (`text/csv`) |
//! | `GET /fake/statement-downloads` | the bill downloads served (JSON) |
//! | `GET /fake/ledger` | every line of the ledger (JSON) |
//! | `POST /fake/ledger/unexpected?date=D&fen=N` | money out we did not send: a 支出 line at noon on `D` (JSON line) |
//! | `POST /fake/ledger/{out_bill_no}/amount?fen=N` | the transfer's 支出 line says `N` fen |
//! | `POST /fake/ledger/{out_bill_no}/duplicate` | the transfer's 支出 line twice (another 资金流水单号) |
//! | `POST /fake/ledger/{out_bill_no}/drop` | the transfer's 支出 line is missing |
//! | `POST /fake/ledger/{out_bill_no}/refund[?fen=N]` | a 收入 line: the money came back (default all of it), now |
//!
//! ## Fund-flow bills
//!
//! The fake keeps a ledger of the operating account: a 支出 line per transfer when it reaches
//! `SUCCESS` (at its `update_time`; failures move no money here), plus the lines tests inject
//! or change. `GET /v3/bill/fundflowbill?bill_date=…&account_type=OPERATION[&tar_type=GZIP]`
//! (signed, checked) answers `{download_url, hash_type: "SHA1", hash_value}` for any day not
//! marked not ready (no "from 10:00 the next day" rule: tests decide); `download_url` is
//! `/v3/billdownload/file?token=…` on the fake's own host, a GET whose `Authorization` is
//! checked too and whose answer is not signed, gzip when asked. The bill of a day is rendered
//! when located (for its hash) and again when downloaded (a ledger changed in between shows as
//! a hash mismatch), from the lines whose 记账时间 falls on that day in Beijing time
//! ([`FakeWechatPay::statement`]): UTF-8 with a BOM, the documented header, every cell
//! prefixed with a backtick, amounts in yuan with 2 decimals, 账户结余 running from
//! [`FAKE_OPENING_BALANCE_FEN`], rows ended by CR LF, then the summary header and its values
//! (counts written `2.0`). NOT CONFIRMED by the documentation, so only the fake's choices:
//! the labels of transfer rows (业务名称 [`BILL_BUSINESS_NAME`], 业务类型
//! [`BILL_TYPE_TRANSFER`] / [`BILL_TYPE_RETURN`]), 业务凭证号 holding `out_bill_no`, CR and LF
//! in a cell written as the two characters `\r` and `\n`, and a cell holding a comma or a
//! double quote quoted as in RFC 4180.
//!
//! Its keys are fixed TEST keys committed beside it (`vectors/fake_*.pem`), never secret.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, SecondsFormat, Utc};
use flate2::write::GzEncoder;
use gongyou_domain::payout::{needs_user_name, valid_out_bill_no, TransferState, MIN_TRANSFER_FEN};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::crypto::{self, FakeKey, WechatPayKey};
use super::{NotificationHeaders, WechatPaySettings};

/// The id of the fake's WeChat Pay public key.
pub const FAKE_PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0119000001092025010100000000000001";
/// The serial of the fake's platform certificate.
pub const FAKE_PLATFORM_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";

const WECHATPAY_KEY_PEM: &str = include_str!("vectors/fake_wechatpay_key.pem");
const WECHATPAY_PUB_PEM: &str = include_str!("vectors/fake_wechatpay_pub.pem");
const PLATFORM_KEY_PEM: &str = include_str!("vectors/fake_platform_key.pem");
const PLATFORM_CERT_PEM: &str = include_str!("vectors/fake_platform_cert.pem");
const MERCHANT_KEY_PEM: &str = include_str!("vectors/fake_merchant_key.pem");
const MERCHANT_PUB_PEM: &str = include_str!("vectors/fake_merchant_pub.pem");

const TRANSFER_BILLS: &str = "/v3/fund-app/mch-transfer/transfer-bills";
const FUND_FLOW_BILL: &str = "/v3/bill/fundflowbill";
const BILL_DOWNLOAD: &str = "/v3/billdownload/file";
const MAX_BODY: usize = 1024 * 1024;

/// 业务名称 of the fake's transfer rows (the real label is not confirmed).
pub const BILL_BUSINESS_NAME: &str = "商家转账";
/// 业务类型 of a transfer paid out (not confirmed).
pub const BILL_TYPE_TRANSFER: &str = "商家转账";
/// 业务类型 of money that came back from a transfer (not confirmed).
pub const BILL_TYPE_RETURN: &str = "商家转账退回";
/// 账户结余 before the first line of the ledger: 1,000,000.00 yuan.
pub const FAKE_OPENING_BALANCE_FEN: i64 = 100_000_000;
/// The bill's column header, as documented.
pub const BILL_HEADER: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号";
/// The header of the bill's summary row, as documented.
pub const BILL_SUMMARY_HEADER: &str = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额";

/// How the fake starts.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub mch_id: String,
    pub appid: String,
    /// 32 bytes.
    pub apiv3_key: String,
    pub merchant_serial_no: String,
    pub transfer_scene_id: String,
    /// New bills go straight to SUCCESS (no rider confirmation).
    pub auto_confirm: bool,
    /// Creates above this many fen are refused (`403 QUOTA_EXCEED`).
    pub per_transfer_limit_fen: Option<i64>,
    /// Deliveries of one callback before giving up.
    pub callback_attempts: u32,
    /// Wait before the first redelivery (doubling after).
    pub callback_retry_delay: Duration,
    /// The clock of bills' times and of callbacks' timestamps (a test's manual clock, so the
    /// receiver's 300 s window holds); `None`: the system clock. Requests and answers are
    /// always signed and checked on the system clock, as the client does.
    pub clock: Option<gongyou_domain::clock::SharedClock>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            mch_id: "1900000109".into(),
            appid: "wxfake0000000001".into(),
            apiv3_key: "fakeapiv3key0123456789abcdefghij".into(),
            merchant_serial_no: "3775B6A45ACD588826D15E583A95F5DD00000001".into(),
            transfer_scene_id: "1000".into(),
            auto_confirm: false,
            per_transfer_limit_fen: None,
            callback_attempts: 4,
            callback_retry_delay: Duration::from_millis(200),
            clock: None,
        }
    }
}

/// Which of the fake's keys signs answers and callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeSigner {
    /// The WeChat Pay public key ([`FAKE_PUBLIC_KEY_ID`]); the default.
    PublicKey,
    /// The platform certificate ([`FAKE_PLATFORM_SERIAL`]).
    Certificate,
}

/// How callbacks are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackMode {
    Normal,
    /// Each callback delivered twice (WeChat Pay's duplicates).
    Twice,
    /// None sent: only a query finds the end.
    Suppressed,
}

/// A bill as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FakeBill {
    pub out_bill_no: String,
    pub transfer_bill_no: String,
    pub appid: String,
    pub openid: String,
    pub amount_fen: i64,
    pub remark: String,
    /// Decrypted.
    pub user_name: Option<String>,
    pub notify_url: String,
    pub transfer_scene_id: String,
    pub report_infos: Vec<(String, String)>,
    pub state: TransferState,
    pub fail_reason: Option<String>,
    pub package_info: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

impl FakeBill {
    /// Whether `other` asks for the same transfer (the user name compared in clear).
    fn same_request(&self, other: &FakeBill) -> bool {
        self.appid == other.appid
            && self.openid == other.openid
            && self.amount_fen == other.amount_fen
            && self.remark == other.remark
            && self.user_name == other.user_name
            && self.notify_url == other.notify_url
            && self.transfer_scene_id == other.transfer_scene_id
            && self.report_infos == other.report_infos
    }
}

/// One callback delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FakeDelivery {
    pub notification_id: String,
    pub out_bill_no: String,
    pub state: TransferState,
    pub attempt: u32,
    /// The receiver's answer; `None` when it could not be reached.
    pub status: Option<u16>,
}

/// Which way a ledger line moves money (收支类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FakeFlow {
    /// 收入: money in (e.g. a transfer that came back).
    Income,
    /// 支出: money out (a transfer paid).
    Expense,
}

impl FakeFlow {
    /// The bill's label: `收入` or `支出`.
    pub fn label(self) -> &'static str {
        match self {
            FakeFlow::Income => "收入",
            FakeFlow::Expense => "支出",
        }
    }
}

/// One line of the fake's fund-flow ledger: one row of the bill of its 记账时间's day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FakeLedgerLine {
    /// 记账时间 (the bill it is in: its day in Beijing time).
    pub time: DateTime<Utc>,
    /// 微信支付业务单号: the transfer's `transfer_bill_no`.
    pub business_no: String,
    /// 资金流水单号: one per line.
    pub flow_no: String,
    /// 业务名称.
    pub business_name: String,
    /// 业务类型.
    pub business_type: String,
    /// 收支类型.
    pub flow: FakeFlow,
    /// 收支金额, in fen (written in yuan).
    pub amount_fen: i64,
    /// 资金变更提交申请人.
    pub applicant: String,
    /// 备注: the transfer's remark.
    pub remark: String,
    /// 业务凭证号: the transfer's `out_bill_no`.
    pub voucher_no: String,
}

/// One bill download the fake served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FakeStatementDownload {
    pub bill_date: NaiveDate,
    pub account_type: String,
    /// Whether it was sent gzip-compressed.
    pub gzip: bool,
    /// The bytes sent (compressed when `gzip`).
    pub bytes: usize,
}

/// What a download token stands for.
#[derive(Debug, Clone)]
struct StatementRequest {
    bill_date: NaiveDate,
    account_type: String,
    gzip: bool,
}

/// What the next create does instead of the normal.
#[derive(Debug, Clone, Copy)]
enum CreateFault {
    SystemError,
    DropAfterCreate,
    SlowAfterCreate(Duration),
}

/// Changes to a notification built by [`FakeWechatPay::signed_notification_with`].
#[derive(Debug, Clone, Default)]
pub struct NotificationTweak {
    /// Its timestamp (default now).
    pub timestamp: Option<DateTime<Utc>>,
    /// The `mch_id` inside (default the fake's).
    pub mch_id: Option<String>,
    /// The signing key (default the fake's current signer).
    pub signer: Option<FakeSigner>,
}

struct State {
    bills: BTreeMap<String, FakeBill>,
    order: Vec<String>,
    creates: HashMap<String, usize>,
    faults: VecDeque<CreateFault>,
    auto_confirm: bool,
    limit_fen: Option<i64>,
    callbacks: CallbackMode,
    signer: FakeSigner,
    corrupt_next_answer: bool,
    deliveries: Vec<FakeDelivery>,
    seq: u64,
    /// Where callbacks go instead of each bill's `notify_url` (a test app's port is known
    /// only after it started with its settings).
    callback_target: Option<String>,
    /// The operating account's fund flow, in the order it was recorded.
    ledger: Vec<FakeLedgerLine>,
    ledger_seq: u64,
    not_ready: BTreeSet<NaiveDate>,
    corrupt_hash: BTreeSet<NaiveDate>,
    /// Download tokens handed out.
    statement_tokens: HashMap<String, StatementRequest>,
    statement_downloads: Vec<FakeStatementDownload>,
}

impl State {
    /// A fresh 资金流水单号 (28 digits: merchant, day, sequence).
    fn next_flow_no(&mut self, mch_id: &str, time: DateTime<Utc>) -> String {
        self.ledger_seq += 1;
        format!(
            "{mch_id}{}{:010}",
            beijing(time).format("%Y%m%d"),
            self.ledger_seq
        )
    }

    /// The 支出 line of a transfer that reached SUCCESS.
    fn record_paid(&mut self, bill: &FakeBill, mch_id: &str) {
        let flow_no = self.next_flow_no(mch_id, bill.update_time);
        self.ledger.push(FakeLedgerLine {
            time: bill.update_time,
            business_no: bill.transfer_bill_no.clone(),
            flow_no,
            business_name: BILL_BUSINESS_NAME.to_owned(),
            business_type: BILL_TYPE_TRANSFER.to_owned(),
            flow: FakeFlow::Expense,
            amount_fen: bill.amount_fen,
            applicant: "system".to_owned(),
            remark: bill.remark.clone(),
            voucher_no: bill.out_bill_no.clone(),
        });
    }

    /// The first 支出 line of the transfer `out_bill_no`.
    fn paid_line(&mut self, out_bill_no: &str) -> Option<usize> {
        self.ledger
            .iter()
            .position(|l| l.flow == FakeFlow::Expense && l.voucher_no == out_bill_no)
    }
}

struct Inner {
    config: FakeConfig,
    base_url: String,
    public_key: FakeKey,
    platform: FakeKey,
    merchant: WechatPayKey,
    http: reqwest::Client,
    state: Mutex<State>,
}

/// A running fake WeChat Pay (clones are handles to the same server; the server stops when
/// the last one is dropped, or on [`FakeWechatPay::shutdown`]).
#[derive(Clone)]
pub struct FakeWechatPay {
    inner: Arc<Inner>,
    addr: SocketAddr,
    server: Arc<ServerTask>,
}

struct ServerTask(tokio::task::AbortHandle);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for FakeWechatPay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeWechatPay")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// The connection is dropped without an answer.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fake")
    }
}

impl std::error::Error for Dropped {}

type Answer = Response<Full<Bytes>>;

impl FakeWechatPay {
    /// Starts on `127.0.0.1`, on a free port. Needs a tokio runtime.
    pub async fn start(config: FakeConfig) -> anyhow::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts on `addr` (keep it on loopback: the control surface has no authentication).
    pub async fn start_on(addr: SocketAddr, config: FakeConfig) -> anyhow::Result<Self> {
        if config.apiv3_key.len() != 32 {
            anyhow::bail!("fake wechat pay: the APIv3 key must be 32 bytes");
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let key = |id: &str, pem: &str| {
            FakeKey::from_pem(id, pem).map_err(|e| anyhow::anyhow!("fake wechat pay key {id}: {e}"))
        };
        let inner = Arc::new(Inner {
            base_url: format!("http://{addr}"),
            public_key: key(FAKE_PUBLIC_KEY_ID, WECHATPAY_KEY_PEM)?,
            platform: key(FAKE_PLATFORM_SERIAL, PLATFORM_KEY_PEM)?,
            merchant: WechatPayKey::from_pem("merchant", MERCHANT_PUB_PEM)
                .map_err(|e| anyhow::anyhow!("fake wechat pay merchant key: {e}"))?,
            http: crate::http_client()?,
            state: Mutex::new(State {
                bills: BTreeMap::new(),
                order: Vec::new(),
                creates: HashMap::new(),
                faults: VecDeque::new(),
                auto_confirm: config.auto_confirm,
                limit_fen: config.per_transfer_limit_fen,
                callbacks: CallbackMode::Normal,
                signer: FakeSigner::PublicKey,
                corrupt_next_answer: false,
                deliveries: Vec::new(),
                seq: 0,
                callback_target: None,
                ledger: Vec::new(),
                ledger_seq: 0,
                not_ready: BTreeSet::new(),
                corrupt_hash: BTreeSet::new(),
                statement_tokens: HashMap::new(),
                statement_downloads: Vec::new(),
            }),
            config,
        });
        let task = tokio::spawn(accept_loop(listener, inner.clone()));
        tracing::info!(%addr, "fake wechat pay listening");
        Ok(Self {
            inner,
            addr,
            server: Arc::new(ServerTask(task.abort_handle())),
        })
    }

    /// Stops accepting connections.
    pub fn shutdown(&self) {
        self.server.0.abort();
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    pub fn config(&self) -> &FakeConfig {
        &self.inner.config
    }

    /// Everything a [`super::WechatPayClient`] needs to talk to this fake, callbacks going to
    /// `notify_url`.
    pub fn settings_for_client(&self, notify_url: &str) -> WechatPaySettings {
        Self::client_settings(&self.inner.base_url, notify_url, &self.inner.config)
    }

    /// The same as [`FakeWechatPay::settings_for_client`] for a fake running elsewhere (e.g.
    /// another process) at `base_url`, started with `config`.
    pub fn client_settings(
        base_url: &str,
        notify_url: &str,
        config: &FakeConfig,
    ) -> WechatPaySettings {
        WechatPaySettings {
            base_url: base_url.to_owned(),
            mch_id: config.mch_id.clone(),
            appid: config.appid.clone(),
            merchant_serial_no: config.merchant_serial_no.clone(),
            merchant_private_key_pem: SecretString::from(MERCHANT_KEY_PEM),
            apiv3_key: SecretString::from(config.apiv3_key.clone()),
            wechatpay_keys: vec![
                (FAKE_PUBLIC_KEY_ID.to_owned(), WECHATPAY_PUB_PEM.to_owned()),
                (
                    FAKE_PLATFORM_SERIAL.to_owned(),
                    PLATFORM_CERT_PEM.to_owned(),
                ),
            ],
            transfer_scene_id: config.transfer_scene_id.clone(),
            scene_report_infos: vec![
                ("活动名称".to_owned(), "工会互助".to_owned()),
                ("奖励说明".to_owned(), "互助金发放".to_owned()),
            ],
            notify_url: notify_url.to_owned(),
            requests_per_second: WechatPaySettings::DEFAULT_REQUESTS_PER_SECOND,
        }
    }

    /// The next create is accepted (the bill exists), then the connection drops unanswered.
    pub fn timeout_next_create(&self) {
        self.inner.timeout_next_create()
    }

    /// The next create is accepted, and answered only after `delay` (longer than the client's
    /// timeout: it gives up first).
    pub fn slow_next_create(&self, delay: Duration) {
        self.inner.slow_next_create(delay)
    }

    /// The next create answers `500 SYSTEM_ERROR` and creates nothing.
    pub fn fail_next_create_with_system_error(&self) {
        self.inner.fail_next_create_with_system_error()
    }

    /// New bills go straight to SUCCESS (true) or wait for the rider (false, the default).
    pub fn set_auto_confirm(&self, on: bool) {
        self.inner.set_auto_confirm(on)
    }

    /// Creates above `limit_fen` are refused (`403 QUOTA_EXCEED`); `None`: no limit.
    pub fn set_per_transfer_limit(&self, limit_fen: Option<i64>) {
        self.inner.set_per_transfer_limit(limit_fen)
    }

    /// Sends every callback to `url` instead of the bill's `notify_url`.
    pub fn deliver_callbacks_to(&self, url: &str) {
        self.inner.lock().callback_target = Some(url.to_owned());
    }

    /// Callbacks once (the default), twice, or never.
    pub fn set_callbacks(&self, mode: CallbackMode) {
        self.inner.set_callbacks(mode)
    }

    /// Which key signs answers and callbacks from now on.
    pub fn set_signer(&self, signer: FakeSigner) {
        self.inner.set_signer(signer)
    }

    /// The next 2xx answer carries a signature that does not verify.
    pub fn corrupt_next_answer(&self) {
        self.inner.corrupt_next_answer()
    }

    /// The rider confirmed: WAIT_USER_CONFIRM → SUCCESS, callback. False if the bill is not
    /// waiting.
    pub fn confirm(&self, out_bill_no: &str) -> bool {
        self.inner.confirm(out_bill_no)
    }

    /// 24 hours unconfirmed: → FAIL `OVERDUE_CLOSE`, callback. False if the bill is not waiting.
    pub fn expire(&self, out_bill_no: &str) -> bool {
        self.inner.expire(out_bill_no)
    }

    /// Any bill not final yet → FAIL with `reason`, callback.
    pub fn fail_bill(&self, out_bill_no: &str, reason: &str) -> bool {
        self.inner.fail_bill(out_bill_no, reason)
    }

    /// Sends the bill's callback again (whatever its state). False if there is no such bill.
    pub fn resend_callback(&self, out_bill_no: &str) -> bool {
        self.inner.resend_callback(out_bill_no)
    }

    /// Create calls that named `out_bill_no` (accepted or not).
    pub fn creates(&self, out_bill_no: &str) -> usize {
        self.inner.creates(out_bill_no)
    }

    /// Every bill, in creation order.
    pub fn bills(&self) -> Vec<FakeBill> {
        self.inner.bills()
    }

    pub fn bill(&self, out_bill_no: &str) -> Option<FakeBill> {
        self.inner.bill(out_bill_no)
    }

    /// The sum of the SUCCESS bills.
    pub fn total_paid_fen(&self) -> i64 {
        self.inner.total_paid_fen()
    }

    /// Every callback delivery attempt so far.
    pub fn deliveries(&self) -> Vec<FakeDelivery> {
        self.inner.deliveries()
    }

    /// The callback of a bill as it would be sent now: headers and body.
    pub fn signed_notification(&self, out_bill_no: &str) -> Option<(NotificationHeaders, Vec<u8>)> {
        self.inner
            .signed_notification_with(out_bill_no, NotificationTweak::default())
    }

    /// [`FakeWechatPay::signed_notification`] with changes, for tests of the receiver.
    pub fn signed_notification_with(
        &self,
        out_bill_no: &str,
        tweak: NotificationTweak,
    ) -> Option<(NotificationHeaders, Vec<u8>)> {
        self.inner.signed_notification_with(out_bill_no, tweak)
    }

    /// The bill of `date` is not ready (true: `400 NO_STATEMENT_EXIST`) or is (false).
    pub fn set_statement_not_ready(&self, date: NaiveDate, not_ready: bool) {
        self.inner.set_statement_not_ready(date, not_ready)
    }

    /// The bill of `date` announces a SHA-1 that is not its own (true) or its own (false).
    pub fn corrupt_statement_hash(&self, date: NaiveDate, corrupt: bool) {
        self.inner.corrupt_statement_hash(date, corrupt)
    }

    /// The operating account's bill of `date` (a Beijing-time day), uncompressed, as a
    /// download would serve it now.
    pub fn statement(&self, date: NaiveDate) -> Vec<u8> {
        self.inner.statement(date, "OPERATION")
    }

    /// Every bill download served so far.
    pub fn statement_downloads(&self) -> Vec<FakeStatementDownload> {
        self.inner.lock().statement_downloads.clone()
    }

    /// Every line of the ledger, in the order recorded.
    pub fn ledger(&self) -> Vec<FakeLedgerLine> {
        self.inner.lock().ledger.clone()
    }

    /// Adds any line (its `flow_no` kept as given: make it unique).
    pub fn inject_line(&self, line: FakeLedgerLine) {
        self.inner.lock().ledger.push(line);
    }

    /// Money out we did not send: a 支出 line of `amount_fen` at noon (Beijing) on `date`,
    /// with numbers of a transfer nobody made. Returns the line.
    pub fn inject_unexpected_line(&self, date: NaiveDate, amount_fen: i64) -> FakeLedgerLine {
        self.inner.inject_unexpected_line(date, amount_fen)
    }

    /// The 支出 line of the transfer `out_bill_no` says `amount_fen`. False without one.
    pub fn change_line_amount(&self, out_bill_no: &str, amount_fen: i64) -> bool {
        self.inner.change_line_amount(out_bill_no, amount_fen)
    }

    /// The 支出 line of the transfer `out_bill_no` appears twice (the copy with its own
    /// 资金流水单号, just after it). False without one.
    pub fn duplicate_line(&self, out_bill_no: &str) -> bool {
        self.inner.duplicate_line(out_bill_no)
    }

    /// The 支出 line of the transfer `out_bill_no` is missing from the bill. False without one.
    pub fn drop_line(&self, out_bill_no: &str) -> bool {
        self.inner.drop_line(out_bill_no)
    }

    /// The money of the transfer `out_bill_no` came back: a 收入 line of `amount_fen` (default:
    /// the whole amount) now, on the fake's clock. False if the transfer has no 支出 line.
    pub fn refund_line(&self, out_bill_no: &str, amount_fen: Option<i64>) -> bool {
        self.inner.refund_line(out_bill_no, amount_fen)
    }
}

/// The controls and views, shared by the handle's methods and the `/fake/…` surface.
impl Inner {
    /// The next create is accepted (the bill exists), then the connection drops unanswered.
    fn timeout_next_create(&self) {
        self.lock().faults.push_back(CreateFault::DropAfterCreate);
    }

    /// The next create is accepted, and answered only after `delay` (longer than the client's
    /// timeout: it gives up first).
    fn slow_next_create(&self, delay: Duration) {
        self.lock()
            .faults
            .push_back(CreateFault::SlowAfterCreate(delay));
    }

    /// The next create answers `500 SYSTEM_ERROR` and creates nothing.
    fn fail_next_create_with_system_error(&self) {
        self.lock().faults.push_back(CreateFault::SystemError);
    }

    /// New bills go straight to SUCCESS (true) or wait for the rider (false, the default).
    fn set_auto_confirm(&self, on: bool) {
        self.lock().auto_confirm = on;
    }

    /// Creates above `limit_fen` are refused (`403 QUOTA_EXCEED`); `None`: no limit.
    fn set_per_transfer_limit(&self, limit_fen: Option<i64>) {
        self.lock().limit_fen = limit_fen;
    }

    fn set_callbacks(&self, mode: CallbackMode) {
        self.lock().callbacks = mode;
    }

    fn set_signer(&self, signer: FakeSigner) {
        self.lock().signer = signer;
    }

    /// The next 2xx answer carries a signature that does not verify.
    fn corrupt_next_answer(&self) {
        self.lock().corrupt_next_answer = true;
    }

    /// The rider confirmed: WAIT_USER_CONFIRM → SUCCESS, callback. False if the bill is not
    /// waiting.
    fn confirm(self: &Arc<Self>, out_bill_no: &str) -> bool {
        self.finish(
            out_bill_no,
            &[TransferState::WaitUserConfirm],
            TransferState::Success,
            None,
        )
    }

    /// 24 hours unconfirmed: → FAIL `OVERDUE_CLOSE`, callback. False if the bill is not waiting.
    fn expire(self: &Arc<Self>, out_bill_no: &str) -> bool {
        self.finish(
            out_bill_no,
            &[TransferState::WaitUserConfirm],
            TransferState::Fail,
            Some("OVERDUE_CLOSE"),
        )
    }

    /// Any bill not final yet → FAIL with `reason`, callback.
    fn fail_bill(self: &Arc<Self>, out_bill_no: &str, reason: &str) -> bool {
        self.finish(
            out_bill_no,
            &[
                TransferState::Accepted,
                TransferState::Processing,
                TransferState::WaitUserConfirm,
                TransferState::Transfering,
            ],
            TransferState::Fail,
            Some(reason),
        )
    }

    /// Sends the bill's callback again (whatever its state). False if there is no such bill.
    fn resend_callback(self: &Arc<Self>, out_bill_no: &str) -> bool {
        let bill = self.bill(out_bill_no);
        match bill {
            Some(bill) => {
                self.clone().spawn_callbacks(bill, 1);
                true
            }
            None => false,
        }
    }

    /// Create calls that named `out_bill_no` (accepted or not).
    fn creates(&self, out_bill_no: &str) -> usize {
        self.lock().creates.get(out_bill_no).copied().unwrap_or(0)
    }

    /// Every bill, in creation order.
    fn bills(&self) -> Vec<FakeBill> {
        let state = self.lock();
        state
            .order
            .iter()
            .filter_map(|n| state.bills.get(n).cloned())
            .collect()
    }

    fn bill(&self, out_bill_no: &str) -> Option<FakeBill> {
        self.lock().bills.get(out_bill_no).cloned()
    }

    /// The sum of the SUCCESS bills.
    fn total_paid_fen(&self) -> i64 {
        self.lock()
            .bills
            .values()
            .filter(|b| b.state == TransferState::Success)
            .map(|b| b.amount_fen)
            .sum()
    }

    /// Every callback delivery attempt so far.
    fn deliveries(&self) -> Vec<FakeDelivery> {
        self.lock().deliveries.clone()
    }

    fn signed_notification_with(
        &self,
        out_bill_no: &str,
        tweak: NotificationTweak,
    ) -> Option<(NotificationHeaders, Vec<u8>)> {
        let bill = self.bill(out_bill_no)?;
        let (_, body) = self
            .notification_body(&bill, tweak.mch_id.as_deref())
            .ok()?;
        let signer = tweak.signer.unwrap_or_else(|| self.lock().signer);
        let headers = self
            .sign_headers(signer, &body, tweak.timestamp.unwrap_or_else(|| self.now()))
            .ok()?;
        Some((headers, body))
    }
}

/// The fund-flow bill's controls and rendering.
impl Inner {
    fn set_statement_not_ready(&self, date: NaiveDate, not_ready: bool) {
        let mut state = self.lock();
        if not_ready {
            state.not_ready.insert(date);
        } else {
            state.not_ready.remove(&date);
        }
    }

    fn corrupt_statement_hash(&self, date: NaiveDate, corrupt: bool) {
        let mut state = self.lock();
        if corrupt {
            state.corrupt_hash.insert(date);
        } else {
            state.corrupt_hash.remove(&date);
        }
    }

    fn inject_unexpected_line(&self, date: NaiveDate, amount_fen: i64) -> FakeLedgerLine {
        let time = beijing_noon(date);
        let mut state = self.lock();
        let flow_no = state.next_flow_no(&self.config.mch_id, time);
        let line = FakeLedgerLine {
            time,
            business_no: format!("1330000071199{:027}", state.ledger_seq),
            flow_no,
            business_name: BILL_BUSINESS_NAME.to_owned(),
            business_type: BILL_TYPE_TRANSFER.to_owned(),
            flow: FakeFlow::Expense,
            amount_fen,
            applicant: "system".to_owned(),
            remark: "不是我们发的".to_owned(),
            voucher_no: format!("UNEXPECTED{:022}", state.ledger_seq),
        };
        state.ledger.push(line.clone());
        line
    }

    fn change_line_amount(&self, out_bill_no: &str, amount_fen: i64) -> bool {
        let mut state = self.lock();
        let Some(at) = state.paid_line(out_bill_no) else {
            return false;
        };
        if let Some(line) = state.ledger.get_mut(at) {
            line.amount_fen = amount_fen;
        }
        true
    }

    fn duplicate_line(&self, out_bill_no: &str) -> bool {
        let mut state = self.lock();
        let Some(at) = state.paid_line(out_bill_no) else {
            return false;
        };
        let Some(mut copy) = state.ledger.get(at).cloned() else {
            return false;
        };
        copy.flow_no = state.next_flow_no(&self.config.mch_id, copy.time);
        state.ledger.insert(at + 1, copy);
        true
    }

    fn drop_line(&self, out_bill_no: &str) -> bool {
        let mut state = self.lock();
        let Some(at) = state.paid_line(out_bill_no) else {
            return false;
        };
        state.ledger.remove(at);
        true
    }

    fn refund_line(&self, out_bill_no: &str, amount_fen: Option<i64>) -> bool {
        let now = self.now();
        let mut state = self.lock();
        let Some(paid) = state
            .paid_line(out_bill_no)
            .and_then(|at| state.ledger.get(at).cloned())
        else {
            return false;
        };
        let flow_no = state.next_flow_no(&self.config.mch_id, now);
        state.ledger.push(FakeLedgerLine {
            time: now,
            flow_no,
            business_type: BILL_TYPE_RETURN.to_owned(),
            flow: FakeFlow::Income,
            amount_fen: amount_fen.unwrap_or(paid.amount_fen),
            ..paid
        });
        true
    }

    /// The bill of `date` for `account_type` (only `OPERATION` has lines), uncompressed.
    fn statement(&self, date: NaiveDate, account_type: &str) -> Vec<u8> {
        let mut lines = if account_type == "OPERATION" {
            self.lock().ledger.clone()
        } else {
            Vec::new()
        };
        // Stable: lines of the same time stay in the order recorded.
        lines.sort_by_key(|l| l.time);
        let mut out = String::from("\u{feff}");
        out.push_str(BILL_HEADER);
        out.push_str("\r\n");
        let mut balance = FAKE_OPENING_BALANCE_FEN;
        let (mut income, mut income_fen, mut expense, mut expense_fen) = (0u64, 0i64, 0u64, 0i64);
        for line in &lines {
            match line.flow {
                FakeFlow::Income => balance += line.amount_fen,
                FakeFlow::Expense => balance -= line.amount_fen,
            }
            if beijing(line.time).date_naive() != date {
                continue;
            }
            match line.flow {
                FakeFlow::Income => {
                    income += 1;
                    income_fen += line.amount_fen;
                }
                FakeFlow::Expense => {
                    expense += 1;
                    expense_fen += line.amount_fen;
                }
            }
            let time = beijing(line.time).format("%Y-%m-%d %H:%M:%S").to_string();
            let cells = [
                time.as_str(),
                &line.business_no,
                &line.flow_no,
                &line.business_name,
                &line.business_type,
                line.flow.label(),
                &yuan(line.amount_fen),
                &yuan(balance),
                &line.applicant,
                &line.remark,
                &line.voucher_no,
            ];
            push_row(&mut out, &cells);
        }
        out.push_str(BILL_SUMMARY_HEADER);
        out.push_str("\r\n");
        push_row(
            &mut out,
            &[
                &format!("{}.0", income + expense),
                &format!("{income}.0"),
                &yuan(income_fen),
                &format!("{expense}.0"),
                &yuan(expense_fen),
            ],
        );
        out.into_bytes()
    }

    /// `GET /v3/bill/fundflowbill`.
    fn fund_flow_bill(&self, query: &HashMap<String, String>) -> Answer {
        let bad = |message: &str| self.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", message);
        let Some(bill_date) = query
            .get("bill_date")
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        else {
            return bad("bill_date格式错误");
        };
        let account_type = query
            .get("account_type")
            .cloned()
            .unwrap_or_else(|| "BASIC".to_owned());
        if !["BASIC", "OPERATION", "FEES"].contains(&account_type.as_str()) {
            return bad("account_type取值错误");
        }
        let gzip = match query.get("tar_type").map(String::as_str) {
            None => false,
            Some("GZIP") => true,
            Some(_) => return bad("tar_type取值错误"),
        };
        let (not_ready, corrupt) = {
            let state = self.lock();
            (
                state.not_ready.contains(&bill_date),
                state.corrupt_hash.contains(&bill_date),
            )
        };
        if not_ready {
            return self.error(
                StatusCode::BAD_REQUEST,
                "NO_STATEMENT_EXIST",
                "账单尚未生成，请稍后再试",
            );
        }
        let mut file = self.statement(bill_date, &account_type);
        if corrupt {
            file.extend_from_slice(b"not this bill");
        }
        let hash_value = hex::encode(Sha1::digest(&file));
        let token = format!("{:032x}", rand::random::<u128>());
        self.lock().statement_tokens.insert(
            token.clone(),
            StatementRequest {
                bill_date,
                account_type,
                gzip,
            },
        );
        self.answer(
            StatusCode::OK,
            serde_json::json!({
                "download_url": format!("{}{BILL_DOWNLOAD}?token={token}", self.base_url),
                "hash_type": "SHA1",
                "hash_value": hash_value,
            }),
        )
    }

    /// `GET /v3/billdownload/file?token=…`: the bill, not signed.
    fn bill_download(&self, query: &HashMap<String, String>) -> Answer {
        let request = query
            .get("token")
            .and_then(|t| self.lock().statement_tokens.get(t).cloned());
        let Some(request) = request else {
            return self.error(StatusCode::NOT_FOUND, "NOT_FOUND", "下载链接无效或已过期");
        };
        let file = self.statement(request.bill_date, &request.account_type);
        let body = if request.gzip {
            let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
            match encoder.write_all(&file).and_then(|()| encoder.finish()) {
                Ok(compressed) => compressed,
                Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "fake: gzip failed"),
            }
        } else {
            file
        };
        self.lock().statement_downloads.push(FakeStatementDownload {
            bill_date: request.bill_date,
            account_type: request.account_type,
            gzip: request.gzip,
            bytes: body.len(),
        });
        Response::builder()
            .status(StatusCode::OK)
            .header("Content-Type", "application/octet-stream")
            .header(
                "Request-ID",
                format!("fake-{:032x}", rand::random::<u128>()),
            )
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "fake: bad answer"))
    }
}

/// One bill row: every cell prefixed with a backtick; CR and LF written `\r` and `\n`; a cell
/// with a comma or a double quote quoted (RFC 4180); ended by CR LF.
fn push_row(out: &mut String, cells: &[&str]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let cell = format!("`{}", cell.replace('\r', "\\r").replace('\n', "\\n"));
        if cell.contains([',', '"']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    out.push_str("\r\n");
}

/// Fen as yuan with two decimals (`-0.05`, `12.34`).
fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// A time in Beijing (Asia/Shanghai: UTC+8, no daylight saving since 1991).
fn beijing(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| chrono::Offset::fix(&Utc));
    t.with_timezone(&offset)
}

/// Noon of `date` in Beijing.
fn beijing_noon(date: NaiveDate) -> DateTime<Utc> {
    let noon = date.and_time(NaiveTime::MIN) + chrono::Duration::hours(12);
    (noon - chrono::Duration::hours(8)).and_utc()
}

async fn accept_loop(listener: tokio::net::TcpListener, inner: Arc<Inner>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "fake wechat pay: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| handle(inner.clone(), request));
            // An error here is mostly a dropped connection, some on purpose.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(inner: Arc<Inner>, request: Request<Incoming>) -> Result<Answer, Dropped> {
    let method = request.method().as_str().to_owned();
    let uri = request.uri().clone();
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| uri.path().to_owned());
    let headers = request.headers().clone();
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, "body too large")),
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let path = uri.path();
    let query = parse_query(uri.query().unwrap_or_default());
    if let Some(control) = path.strip_prefix("/fake/") {
        return Ok(inner.control(&method, control, &query));
    }
    if !path.starts_with("/v3/") {
        return Ok(plain(StatusCode::NOT_FOUND, "not found"));
    }
    if let Err(why) =
        inner.check_signature(&method, &path_and_query, header("authorization"), &body)
    {
        tracing::info!(why, "fake wechat pay: request signature refused");
        return Ok(inner.error(StatusCode::UNAUTHORIZED, "SIGN_ERROR", "签名错误"));
    }
    match (method.as_str(), path) {
        ("GET", FUND_FLOW_BILL) => return Ok(inner.fund_flow_bill(&query)),
        ("GET", BILL_DOWNLOAD) => return Ok(inner.bill_download(&query)),
        _ => {}
    }
    let rest = path.strip_prefix(TRANSFER_BILLS).unwrap_or("/unknown");
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", []) => inner.create(&body, header("wechatpay-serial")).await,
        ("GET", ["out-bill-no", number]) => Ok(inner.query(|b| b.out_bill_no == *number)),
        ("GET", ["transfer-bill-no", number]) => Ok(inner.query(|b| b.transfer_bill_no == *number)),
        ("POST", ["out-bill-no", number, "cancel"]) => Ok(inner.cancel(number)),
        _ => Ok(inner.error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no such API in the fake",
        )),
    }
}

#[derive(Deserialize)]
struct CreateIn {
    appid: Option<String>,
    out_bill_no: Option<String>,
    transfer_scene_id: Option<String>,
    openid: Option<String>,
    user_name: Option<String>,
    transfer_amount: Option<i64>,
    transfer_remark: Option<String>,
    notify_url: Option<String>,
    #[serde(default)]
    transfer_scene_report_infos: Vec<ReportInfoIn>,
}

#[derive(Deserialize)]
struct ReportInfoIn {
    info_type: String,
    info_content: String,
}

/// The server's side.
impl Inner {
    /// Now on the fake's clock (bills, callbacks).
    fn now(&self) -> DateTime<Utc> {
        match &self.config.clock {
            Some(c) => c.now(),
            None => Utc::now(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn key(&self, signer: FakeSigner) -> &FakeKey {
        match signer {
            FakeSigner::PublicKey => &self.public_key,
            FakeSigner::Certificate => &self.platform,
        }
    }

    /// Checks a request's `Authorization` against the merchant key.
    fn check_signature(
        &self,
        method: &str,
        path_and_query: &str,
        authorization: Option<String>,
        body: &[u8],
    ) -> Result<(), &'static str> {
        let authorization = authorization.ok_or("no Authorization")?;
        let fields =
            crypto::parse_authorization(&authorization).ok_or("not WECHATPAY2-SHA256-RSA2048")?;
        if fields.mch_id != self.config.mch_id {
            return Err("another mchid");
        }
        if fields.serial_no != self.config.merchant_serial_no {
            return Err("another merchant serial");
        }
        let timestamp: i64 = fields
            .timestamp
            .parse()
            .map_err(|_| "timestamp unreadable")?;
        if (Utc::now().timestamp() - timestamp).abs() > 300 {
            return Err("timestamp expired");
        }
        let body = std::str::from_utf8(body).map_err(|_| "body not UTF-8")?;
        let message =
            crypto::request_message(method, path_and_query, timestamp, &fields.nonce, body);
        self.merchant
            .verify(message.as_bytes(), &fields.signature)
            .map_err(|_| "signature does not verify")
    }

    async fn create(
        self: &Arc<Self>,
        body: &[u8],
        serial: Option<String>,
    ) -> Result<Answer, Dropped> {
        let Ok(input) = serde_json::from_slice::<CreateIn>(body) else {
            return Ok(self.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "请求体格式错误"));
        };
        let out_bill_no = input.out_bill_no.clone().unwrap_or_default();
        if !valid_out_bill_no(&out_bill_no) {
            return Ok(self.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "商户单号格式错误"));
        }
        let fault = {
            let mut state = self.lock();
            *state.creates.entry(out_bill_no.clone()).or_insert(0) += 1;
            state.faults.pop_front()
        };
        if matches!(fault, Some(CreateFault::SystemError)) {
            return Ok(self.error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "SYSTEM_ERROR",
                "系统繁忙，请稍后重试",
            ));
        }
        let answer = self.create_bill(input, out_bill_no, serial);
        match fault {
            Some(CreateFault::DropAfterCreate) => Err(Dropped),
            Some(CreateFault::SlowAfterCreate(delay)) => {
                tokio::time::sleep(delay).await;
                Ok(answer)
            }
            _ => Ok(answer),
        }
    }

    fn create_bill(
        self: &Arc<Self>,
        input: CreateIn,
        out_bill_no: String,
        serial: Option<String>,
    ) -> Answer {
        let bad = |message: &str| self.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", message);
        let appid = input.appid.unwrap_or_default();
        if appid != self.config.appid {
            return self.error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "appid与mchid不匹配",
            );
        }
        let scene = input.transfer_scene_id.unwrap_or_default();
        if scene != self.config.transfer_scene_id {
            return self.error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "转账场景未开通");
        }
        let openid = input.openid.unwrap_or_default();
        if openid.is_empty() {
            return bad("openid不能为空");
        }
        let amount_fen = input.transfer_amount.unwrap_or(0);
        if amount_fen < MIN_TRANSFER_FEN {
            return bad("转账金额不能低于0.1元");
        }
        let remark = input.transfer_remark.unwrap_or_default();
        if remark.is_empty() || remark.chars().count() > 32 {
            return bad("转账备注长度不符合要求");
        }
        let notify_url = input.notify_url.unwrap_or_default();
        if notify_url.is_empty() || notify_url.contains('?') {
            return bad("回调地址格式错误");
        }
        let user_name = match input.user_name {
            Some(ciphertext) => {
                let key = match serial.as_deref() {
                    Some(FAKE_PUBLIC_KEY_ID) => &self.public_key,
                    Some(FAKE_PLATFORM_SERIAL) => &self.platform,
                    _ => return bad("Wechatpay-Serial 无效"),
                };
                match key.decrypt_oaep_sha1(&ciphertext) {
                    Ok(name) => Some(name),
                    Err(_) => return bad("收款用户姓名解密失败"),
                }
            }
            None => None,
        };
        if needs_user_name(amount_fen) && user_name.is_none() {
            return bad("转账金额>=2000元时，收款用户姓名必填");
        }
        let now = self.now();
        let mut state = self.lock();
        state.seq += 1;
        let candidate = FakeBill {
            out_bill_no: out_bill_no.clone(),
            transfer_bill_no: format!("1330000071100{:027}", state.seq),
            appid,
            openid,
            amount_fen,
            remark,
            user_name,
            notify_url,
            transfer_scene_id: scene,
            report_infos: input
                .transfer_scene_report_infos
                .into_iter()
                .map(|i| (i.info_type, i.info_content))
                .collect(),
            state: TransferState::WaitUserConfirm,
            fail_reason: None,
            package_info: Some(format!("fakepkg{:032x}", rand::random::<u128>())),
            create_time: now,
            update_time: now,
        };
        if let Some(existing) = state.bills.get(&out_bill_no) {
            if !existing.same_request(&candidate) {
                drop(state);
                return self.error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST",
                    "单号已存在但信息不一致",
                );
            }
            let existing = existing.clone();
            drop(state);
            return self.answer(StatusCode::OK, create_answer(&existing, existing.state));
        }
        if state.limit_fen.is_some_and(|limit| amount_fen > limit) {
            drop(state);
            return self.error(StatusCode::FORBIDDEN, "QUOTA_EXCEED", "超过单笔转账额度");
        }
        let mut bill = candidate;
        let auto = state.auto_confirm;
        if auto {
            bill.state = TransferState::Success;
            bill.package_info = None;
        }
        state.order.push(out_bill_no.clone());
        state.bills.insert(out_bill_no, bill.clone());
        if auto {
            state.record_paid(&bill, &self.config.mch_id);
        }
        drop(state);
        if auto {
            self.clone().spawn_callbacks(bill.clone(), 0);
            self.answer(
                StatusCode::OK,
                create_answer(&bill, TransferState::Accepted),
            )
        } else {
            self.answer(StatusCode::OK, create_answer(&bill, bill.state))
        }
    }

    fn query(&self, matches: impl Fn(&FakeBill) -> bool) -> Answer {
        let bill = self.lock().bills.values().find(|b| matches(b)).cloned();
        match bill {
            Some(bill) => self.answer(StatusCode::OK, self.query_answer(&bill)),
            None => self.error(StatusCode::NOT_FOUND, "NOT_FOUND", "记录不存在"),
        }
    }

    fn query_answer(&self, bill: &FakeBill) -> serde_json::Value {
        let mut answer = serde_json::json!({
            "mch_id": self.config.mch_id,
            "out_bill_no": bill.out_bill_no,
            "transfer_bill_no": bill.transfer_bill_no,
            "appid": bill.appid,
            "state": bill.state.as_str().to_owned(),
            "transfer_amount": bill.amount_fen,
            "transfer_remark": bill.remark,
            "openid": bill.openid,
            "create_time": wechat_time(bill.create_time),
            "update_time": wechat_time(bill.update_time),
        });
        if let Some(reason) = &bill.fail_reason {
            answer["fail_reason"] = serde_json::Value::String(reason.clone());
        }
        answer
    }

    fn cancel(self: &Arc<Self>, out_bill_no: &str) -> Answer {
        let mut state = self.lock();
        let Some(bill) = state.bills.get_mut(out_bill_no) else {
            drop(state);
            return self.error(StatusCode::NOT_FOUND, "NOT_FOUND", "记录不存在");
        };
        let answered = match bill.state {
            TransferState::Accepted
            | TransferState::Processing
            | TransferState::WaitUserConfirm => {
                bill.state = TransferState::Cancelled;
                bill.package_info = None;
                bill.update_time = self.now();
                TransferState::Canceling
            }
            TransferState::Canceling | TransferState::Cancelled => bill.state,
            _ => {
                drop(state);
                return self.error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST",
                    "当前单据状态不支持撤销",
                );
            }
        };
        let bill = bill.clone();
        drop(state);
        if answered == TransferState::Canceling {
            self.clone().spawn_callbacks(bill.clone(), 0);
        }
        self.answer(
            StatusCode::OK,
            serde_json::json!({
                "out_bill_no": bill.out_bill_no,
                "transfer_bill_no": bill.transfer_bill_no,
                "state": answered.as_str().to_owned(),
                "update_time": wechat_time(bill.update_time),
            }),
        )
    }

    /// Moves a bill in one of `from` to the final `to`, then sends its callback.
    fn finish(
        self: &Arc<Self>,
        out_bill_no: &str,
        from: &[TransferState],
        to: TransferState,
        reason: Option<&str>,
    ) -> bool {
        let bill = {
            let mut state = self.lock();
            let Some(bill) = state.bills.get_mut(out_bill_no) else {
                return false;
            };
            if !from.contains(&bill.state) {
                return false;
            }
            bill.state = to;
            bill.fail_reason = reason.map(str::to_owned);
            bill.package_info = None;
            bill.update_time = self.now();
            let bill = bill.clone();
            if to == TransferState::Success {
                state.record_paid(&bill, &self.config.mch_id);
            }
            bill
        };
        self.clone().spawn_callbacks(bill, 0);
        true
    }

    /// Sends a bill's callback (`extra_copies` more than the mode says) in the background.
    fn spawn_callbacks(self: Arc<Self>, bill: FakeBill, extra_copies: u32) {
        let copies = match self.lock().callbacks {
            CallbackMode::Suppressed => extra_copies,
            CallbackMode::Normal => 1 + extra_copies,
            CallbackMode::Twice => 2 + extra_copies,
        };
        if copies == 0 {
            return;
        }
        tokio::spawn(async move {
            let Ok((notification_id, body)) = self.notification_body(&bill, None) else {
                tracing::warn!("fake wechat pay: could not build a callback");
                return;
            };
            for _ in 0..copies {
                self.deliver(&bill, &notification_id, &body).await;
            }
        });
    }

    /// One callback, retried with a doubling delay until a 2xx or the attempts run out.
    async fn deliver(&self, bill: &FakeBill, notification_id: &str, body: &[u8]) {
        let mut delay = self.config.callback_retry_delay;
        for attempt in 1..=self.config.callback_attempts.max(1) {
            let (signer, target) = {
                let state = self.lock();
                (state.signer, state.callback_target.clone())
            };
            let url = target.unwrap_or_else(|| bill.notify_url.clone());
            let status = match self.sign_headers(signer, body, self.now()) {
                Ok(headers) => {
                    let mut request = self
                        .http
                        .post(&url)
                        .header("Content-Type", "application/json")
                        .header(
                            "Request-ID",
                            format!("fake-{:032x}", rand::random::<u128>()),
                        )
                        .body(body.to_vec());
                    for (name, value) in [
                        (NotificationHeaders::TIMESTAMP, headers.timestamp),
                        (NotificationHeaders::NONCE, headers.nonce),
                        (NotificationHeaders::SIGNATURE, headers.signature),
                        (NotificationHeaders::SERIAL, headers.serial),
                        (NotificationHeaders::SIGNATURE_TYPE, headers.signature_type),
                    ] {
                        if let Some(value) = value {
                            request = request.header(name, value);
                        }
                    }
                    request.send().await.ok().map(|r| r.status().as_u16())
                }
                Err(_) => None,
            };
            self.lock().deliveries.push(FakeDelivery {
                notification_id: notification_id.to_owned(),
                out_bill_no: bill.out_bill_no.clone(),
                state: bill.state,
                attempt,
                status,
            });
            if status.is_some_and(|s| (200..300).contains(&s)) {
                return;
            }
            tracing::info!(
                attempt,
                ?status,
                "fake wechat pay: callback not taken; will retry"
            );
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }

    /// A callback's body: `(id, JSON)`, the resource sealed with the APIv3 key.
    fn notification_body(
        &self,
        bill: &FakeBill,
        mch_id: Option<&str>,
    ) -> Result<(String, Vec<u8>), crypto::CryptoError> {
        let mut resource = serde_json::json!({
            "out_bill_no": bill.out_bill_no,
            "transfer_bill_no": bill.transfer_bill_no,
            "state": bill.state.as_str().to_owned(),
            "mch_id": mch_id.unwrap_or(&self.config.mch_id),
            "transfer_amount": bill.amount_fen,
            "openid": bill.openid,
            "create_time": wechat_time(bill.create_time),
            "update_time": wechat_time(bill.update_time),
        });
        if let Some(reason) = &bill.fail_reason {
            resource["fail_reason"] = serde_json::Value::String(reason.clone());
        }
        let nonce: String = format!("{:024x}", rand::random::<u128>())
            .chars()
            .take(12)
            .collect();
        let ciphertext = crypto::encrypt_resource(
            self.config.apiv3_key.as_bytes(),
            &nonce,
            "mch_payment",
            resource.to_string().as_bytes(),
        )?;
        let id = format!(
            "{}-{:016x}",
            bill.transfer_bill_no,
            bill.update_time.timestamp_micros()
        );
        let body = serde_json::json!({
            "id": id,
            "create_time": wechat_time(self.now()),
            "resource_type": "encrypt-resource",
            "event_type": "MCHTRANSFER.BILL.FINISHED",
            "summary": "商家转账单据终态通知",
            "resource": {
                "original_type": "mch_payment",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": "mch_payment",
                "nonce": nonce,
            }
        });
        Ok((id, body.to_string().into_bytes()))
    }

    /// Signature headers over `body` at `at`, with a fresh nonce.
    fn sign_headers(
        &self,
        signer: FakeSigner,
        body: &[u8],
        at: DateTime<Utc>,
    ) -> Result<NotificationHeaders, crypto::CryptoError> {
        let key = self.key(signer);
        let timestamp = at.timestamp().to_string();
        let nonce = crypto::new_nonce();
        let signature = key.sign(&crypto::response_message(&timestamp, &nonce, body))?;
        Ok(NotificationHeaders {
            timestamp: Some(timestamp),
            nonce: Some(nonce),
            signature: Some(signature),
            serial: Some(key.id().to_owned()),
            signature_type: Some(crypto::SCHEME.to_owned()),
        })
    }

    /// A signed JSON answer.
    fn answer(&self, status: StatusCode, body: serde_json::Value) -> Answer {
        let body = body.to_string().into_bytes();
        let (signer, corrupt) = {
            let mut state = self.lock();
            let corrupt = status.is_success() && std::mem::take(&mut state.corrupt_next_answer);
            (state.signer, corrupt)
        };
        let mut builder = Response::builder()
            .status(status)
            .header("Content-Type", "application/json")
            .header(
                "Request-ID",
                format!("fake-{:032x}", rand::random::<u128>()),
            );
        if let Ok(headers) = self.sign_headers(signer, &body, Utc::now()) {
            let signature = headers.signature.map(|s| {
                if corrupt {
                    // Another message's signature: well-formed, but not of this answer.
                    self.key(signer).sign(b"not this answer").unwrap_or(s)
                } else {
                    s
                }
            });
            for (name, value) in [
                (NotificationHeaders::TIMESTAMP, headers.timestamp),
                (NotificationHeaders::NONCE, headers.nonce),
                (NotificationHeaders::SIGNATURE, signature),
                (NotificationHeaders::SERIAL, headers.serial),
            ] {
                if let Some(value) = value {
                    builder = builder.header(name, value);
                }
            }
        }
        builder
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "fake: bad answer"))
    }

    fn error(&self, status: StatusCode, code: &str, message: &str) -> Answer {
        self.answer(
            status,
            serde_json::json!({ "code": code, "message": message }),
        )
    }

    /// The `/fake/…` control surface.
    fn control(
        self: &Arc<Self>,
        method: &str,
        path: &str,
        query: &HashMap<String, String>,
    ) -> Answer {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let ok = || json(StatusCode::OK, serde_json::json!({ "ok": true }));
        let bad = |why: &str| json(StatusCode::BAD_REQUEST, serde_json::json!({ "error": why }));
        let handle = self;
        let param = |name: &str| query.get(name).map(String::as_str);
        match (method, segments.as_slice()) {
            ("POST", ["next-create"]) => match param("fault") {
                Some("timeout") => {
                    handle.timeout_next_create();
                    ok()
                }
                Some("slow") => {
                    let ms = param("ms").and_then(|m| m.parse().ok()).unwrap_or(6000);
                    handle.slow_next_create(Duration::from_millis(ms));
                    ok()
                }
                Some("system-error") => {
                    handle.fail_next_create_with_system_error();
                    ok()
                }
                _ => bad("fault must be timeout, slow or system-error"),
            },
            ("POST", ["auto-confirm"]) => match param("on") {
                Some("true") => {
                    handle.set_auto_confirm(true);
                    ok()
                }
                Some("false") => {
                    handle.set_auto_confirm(false);
                    ok()
                }
                _ => bad("on must be true or false"),
            },
            ("POST", ["callbacks"]) => {
                let mode = match param("mode") {
                    Some("normal") => CallbackMode::Normal,
                    Some("twice") => CallbackMode::Twice,
                    Some("suppressed") => CallbackMode::Suppressed,
                    _ => return bad("mode must be normal, twice or suppressed"),
                };
                handle.set_callbacks(mode);
                ok()
            }
            ("POST", ["limit"]) => match param("fen").map(str::parse::<i64>) {
                None => {
                    handle.set_per_transfer_limit(None);
                    ok()
                }
                Some(Ok(fen)) => {
                    handle.set_per_transfer_limit(Some(fen));
                    ok()
                }
                Some(Err(_)) => bad("fen must be a number"),
            },
            ("POST", ["signer"]) => match param("key") {
                Some("public-key") => {
                    handle.set_signer(FakeSigner::PublicKey);
                    ok()
                }
                Some("certificate") => {
                    handle.set_signer(FakeSigner::Certificate);
                    ok()
                }
                _ => bad("key must be public-key or certificate"),
            },
            ("POST", ["corrupt-next-answer"]) => {
                handle.corrupt_next_answer();
                ok()
            }
            ("POST", ["bills", number, action]) => {
                let done = match *action {
                    "confirm" => handle.confirm(number),
                    "expire" => handle.expire(number),
                    "fail" => handle.fail_bill(number, param("reason").unwrap_or("TRANSFER_RISK")),
                    "callback" => handle.resend_callback(number),
                    _ => return bad("action must be confirm, expire, fail or callback"),
                };
                if done {
                    ok()
                } else {
                    json(
                        StatusCode::CONFLICT,
                        serde_json::json!({ "error": "no such bill, or not in a state for that" }),
                    )
                }
            }
            ("GET", ["bills"]) => json(StatusCode::OK, serde_json::json!(handle.bills())),
            ("GET", ["bills", number]) => match handle.bill(number) {
                Some(bill) => json(StatusCode::OK, serde_json::json!(bill)),
                None => json(
                    StatusCode::NOT_FOUND,
                    serde_json::json!({ "error": "no such bill" }),
                ),
            },
            ("GET", ["creates", number]) => json(
                StatusCode::OK,
                serde_json::json!({ "creates": handle.creates(number) }),
            ),
            ("GET", ["stats"]) => {
                let state = self.lock();
                let creates: usize = state.creates.values().sum();
                let bills = state.bills.len();
                let callbacks = state.deliveries.len();
                drop(state);
                json(
                    StatusCode::OK,
                    serde_json::json!({
                        "bills": bills,
                        "creates": creates,
                        "total_paid_fen": handle.total_paid_fen(),
                        "callbacks": callbacks,
                    }),
                )
            }
            ("POST", ["statements", date, switch @ ("not-ready" | "corrupt-hash")]) => {
                let Ok(date) = NaiveDate::parse_from_str(date, "%Y-%m-%d") else {
                    return bad("the date must be YYYY-MM-DD");
                };
                let on = match param("on") {
                    None | Some("true") => true,
                    Some("false") => false,
                    _ => return bad("on must be true or false"),
                };
                if *switch == "not-ready" {
                    handle.set_statement_not_ready(date, on);
                } else {
                    handle.corrupt_statement_hash(date, on);
                }
                ok()
            }
            ("GET", ["statements", date]) => {
                let Ok(date) = NaiveDate::parse_from_str(date, "%Y-%m-%d") else {
                    return bad("the date must be YYYY-MM-DD");
                };
                Response::builder()
                    .status(StatusCode::OK)
                    .header("Content-Type", "text/csv; charset=utf-8")
                    .body(Full::new(Bytes::from(handle.statement(date, "OPERATION"))))
                    .unwrap_or_else(|_| {
                        plain(StatusCode::INTERNAL_SERVER_ERROR, "fake: bad answer")
                    })
            }
            ("GET", ["statement-downloads"]) => json(
                StatusCode::OK,
                serde_json::json!(self.lock().statement_downloads.clone()),
            ),
            ("GET", ["ledger"]) => json(
                StatusCode::OK,
                serde_json::json!(self.lock().ledger.clone()),
            ),
            ("POST", ["ledger", "unexpected"]) => {
                let date =
                    param("date").and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
                let fen = param("fen").and_then(|f| f.parse::<i64>().ok());
                match (date, fen) {
                    (Some(date), Some(fen)) => json(
                        StatusCode::OK,
                        serde_json::json!(handle.inject_unexpected_line(date, fen)),
                    ),
                    _ => bad("date (YYYY-MM-DD) and fen are required"),
                }
            }
            ("POST", ["ledger", number, action]) => {
                let fen = match param("fen").map(str::parse::<i64>) {
                    None => None,
                    Some(Ok(fen)) => Some(fen),
                    Some(Err(_)) => return bad("fen must be a number"),
                };
                let done = match (*action, fen) {
                    ("amount", Some(fen)) => handle.change_line_amount(number, fen),
                    ("amount", None) => return bad("fen is required"),
                    ("duplicate", _) => handle.duplicate_line(number),
                    ("drop", _) => handle.drop_line(number),
                    ("refund", fen) => handle.refund_line(number, fen),
                    _ => return bad("action must be amount, duplicate, drop or refund"),
                };
                if done {
                    ok()
                } else {
                    json(
                        StatusCode::CONFLICT,
                        serde_json::json!({ "error": "no paid line for that transfer" }),
                    )
                }
            }
            _ => json(
                StatusCode::NOT_FOUND,
                serde_json::json!({ "error": "no such control" }),
            ),
        }
    }
}

/// The create answer of `bill`, naming `state`.
fn create_answer(bill: &FakeBill, state: TransferState) -> serde_json::Value {
    let mut answer = serde_json::json!({
        "out_bill_no": bill.out_bill_no,
        "transfer_bill_no": bill.transfer_bill_no,
        "create_time": wechat_time(bill.create_time),
        "state": state.as_str().to_owned(),
    });
    if state == TransferState::WaitUserConfirm {
        if let Some(package) = &bill.package_info {
            answer["package_info"] = serde_json::Value::String(package.clone());
        }
    }
    answer
}

/// A time as WeChat Pay writes it: RFC 3339 in Beijing time.
fn wechat_time(t: DateTime<Utc>) -> String {
    match FixedOffset::east_opt(8 * 3600) {
        Some(beijing) => t
            .with_timezone(&beijing)
            .to_rfc3339_opts(SecondsFormat::Secs, false),
        None => t.to_rfc3339_opts(SecondsFormat::Secs, false),
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Answer {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "fake: bad answer"))
}

fn plain(status: StatusCode, text: &'static str) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(name), decode(value))
        })
        .collect()
}
