//! Configuration: defaults, then an optional TOML file (`--config`), then `GONGYOU_*`
//! environment variables. The loader takes the environment as a map, so tests never touch
//! the process environment. Raw settings are parsed once into [`Config`], whose fields are
//! already valid; secrets are wrapped so they never print.
//!
//! Production (`GONGYOU_ENV=production`) refuses the dev shortcuts: generated secrets, SQLite
//! (unless `GONGYOU_ALLOW_SQLITE_IN_PRODUCTION`), and SMS codes echoed in responses and logs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use gongyou_db::{Backend, DatabaseUrl, PoolOptions};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use gongyou_providers::files::FileStoreSettings;
use gongyou_providers::jpush::JpushSettings;
use gongyou_providers::sms::{SmsProvider, SmsSettings};
use gongyou_providers::wechat::WechatSettings;
use gongyou_providers::wechatpay::WechatPaySettings;
use gongyou_providers::ProviderSettings;

/// Why the configuration cannot be used. Messages name the variable to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration: {0}")]
    Source(#[from] config::ConfigError),
    #[error("{var}: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("refusing to start in production: {0}")]
    ProductionRefusal(String),
    #[error("cannot keep generated dev secrets in {path}: {reason}")]
    DevSecrets { path: String, reason: String },
}

/// A PEM given inline (it starts with `-----BEGIN`) or as the path of a file holding it.
fn pem_of(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    if value.starts_with("-----BEGIN") {
        return Ok(value.to_owned());
    }
    std::fs::read_to_string(value)
        .map_err(|e| invalid(var, format!("reading the PEM file {value}: {e}")))
}

/// WeChat Pay (merchant transfers): all of mch id, serial, private key, APIv3 key, keys and
/// notify URL, or none.
fn wechatpay_settings(
    raw: &RawSettings,
    login_appid: Option<String>,
) -> Result<Option<WechatPaySettings>, ConfigError> {
    let Some(mch_id) = raw
        .wechatpay_mch_id
        .clone()
        .filter(|s| !s.trim().is_empty())
    else {
        return Ok(None);
    };
    const VAR: &str = "GONGYOU_WECHATPAY_MCH_ID";
    let need = |v: Option<String>, name: &str| {
        v.filter(|s| !s.trim().is_empty())
            .ok_or_else(|| invalid(VAR, format!("{name} is required with a merchant id")))
    };
    let appid = need(
        raw.wechatpay_appid.clone().or(login_appid),
        "GONGYOU_WECHATPAY_APPID (or GONGYOU_WECHAT_APPID)",
    )?;
    let serial = need(
        raw.wechatpay_serial_no.clone(),
        "GONGYOU_WECHATPAY_SERIAL_NO",
    )?;
    let private_key = raw
        .wechatpay_private_key
        .as_ref()
        .map(|k| pem_of("GONGYOU_WECHATPAY_PRIVATE_KEY", k.expose_secret()))
        .transpose()?
        .ok_or_else(|| {
            invalid(
                VAR,
                "GONGYOU_WECHATPAY_PRIVATE_KEY is required with a merchant id",
            )
        })?;
    let apiv3_key = raw
        .wechatpay_apiv3_key
        .clone()
        .filter(|k| k.expose_secret().len() == 32)
        .ok_or_else(|| {
            invalid(
                "GONGYOU_WECHATPAY_APIV3_KEY",
                "the APIv3 key is 32 characters",
            )
        })?;
    let keys_text = need(raw.wechatpay_keys.clone(), "GONGYOU_WECHATPAY_KEYS")?;
    let mut keys = Vec::new();
    for item in keys_text.split(';').filter(|s| !s.trim().is_empty()) {
        let (id, pem) = item.split_once('=').ok_or_else(|| {
            invalid(
                "GONGYOU_WECHATPAY_KEYS",
                "each key is `ID=PEM or path`, separated by `;`",
            )
        })?;
        keys.push((id.trim().to_owned(), pem_of("GONGYOU_WECHATPAY_KEYS", pem)?));
    }
    let mut scene_infos = Vec::new();
    for item in raw
        .wechatpay_scene_infos
        .split('|')
        .filter(|s| !s.trim().is_empty())
    {
        let (k, v) = item.split_once('=').ok_or_else(|| {
            invalid(
                "GONGYOU_WECHATPAY_SCENE_INFOS",
                "each report item is `info_type=info_content`, separated by `|`",
            )
        })?;
        scene_infos.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let notify_url = need(
        raw.wechatpay_notify_url.clone(),
        "GONGYOU_WECHATPAY_NOTIFY_URL",
    )?;
    Ok(Some(WechatPaySettings {
        base_url: raw.wechatpay_base_url.clone(),
        mch_id,
        appid,
        merchant_serial_no: serial,
        merchant_private_key_pem: SecretString::from(private_key),
        apiv3_key,
        wechatpay_keys: keys,
        transfer_scene_id: raw.wechatpay_scene_id.clone(),
        scene_report_infos: scene_infos,
        notify_url,
        requests_per_second: raw.wechatpay_rate_per_sec.clamp(1, 10_000),
    }))
}

fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        reason: reason.into(),
    }
}

/// `dev` (the default) or `production`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Dev,
    Production,
}

/// Log output: JSON lines (default) or human-readable text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Settings as written in the file and the environment, before parsing.
/// Every field is documented in README.md (Configuration).
#[derive(Debug, Deserialize)]
#[serde(default)]
struct RawSettings {
    env: Environment,
    http_addr: String,
    metrics_addr: Option<String>,
    data_dir: PathBuf,
    database_url: Option<SecretString>,
    redis_url: Option<SecretString>,
    redis_prefix: String,
    demo_password: Option<SecretString>,
    allow_sqlite_in_production: bool,
    token_secret: Option<SecretString>,
    data_key: Option<SecretString>,
    data_key_previous: Option<SecretString>,
    sms_dev_echo: Option<bool>,
    log: String,
    log_format: LogFormat,
    db_pool_size: u32,
    db_pool_min_idle: u32,
    db_connect_timeout_ms: u64,
    http_workers: Option<usize>,
    body_limit_bytes: usize,
    shutdown_timeout_secs: u64,
    migrate_on_start: Option<bool>,
    housekeeping_interval_secs: u64,
    worker_concurrency: usize,
    job_lease_secs: u64,
    job_poll_ms: u64,
    trusted_proxies: String,
    sms_provider: Option<SmsProvider>,
    sms_base_url: Option<String>,
    sms_access_key_id: Option<String>,
    sms_access_key_secret: Option<SecretString>,
    sms_sign_name: Option<String>,
    sms_template_id: Option<String>,
    sms_sdk_app_id: Option<String>,
    sms_region: Option<String>,
    wechat_appid: Option<String>,
    wechat_secret: Option<SecretString>,
    wechat_base_url: String,
    wechatpay_mch_id: Option<String>,
    wechatpay_appid: Option<String>,
    wechatpay_serial_no: Option<String>,
    wechatpay_private_key: Option<SecretString>,
    wechatpay_apiv3_key: Option<SecretString>,
    wechatpay_keys: Option<String>,
    wechatpay_base_url: String,
    wechatpay_scene_id: String,
    wechatpay_scene_infos: String,
    wechatpay_notify_url: Option<String>,
    wechatpay_rate_per_sec: u32,
    payout_wechat_limit_yuan: u32,
    payout_check_secs: u64,
    reconcile_hour: u32,
    reconcile_deadline_hours: u32,
    reconcile_retry_minutes: u32,
    reconcile_open_days: u32,
    jpush_app_key: Option<String>,
    jpush_master_secret: Option<SecretString>,
    jpush_base_url: Option<String>,
    jpush_rate_per_sec: u32,
    campaign_batch: i64,
    delivery_lease_secs: i64,
    wechat_templates: String,
    sms_notice_template_id: Option<String>,
    s3_bucket: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    s3_access_key_id: Option<String>,
    s3_secret_access_key: Option<SecretString>,
    s3_allow_http: bool,
    photo_max_bytes: usize,
    claim_document_max_bytes: usize,
    claim_review_remind_hours: u32,
    claim_retention_years: u32,
    roster_batch_rows: usize,
    station_refresh_ms: u64,
    station_resync_secs: u64,
    station_search_dev_now: Option<String>,
    single_replica: bool,
    sms_daily_budget: u32,
    sms_network_hourly: u32,
    sms_phone_daily: u32,
    login_max_failures: u32,
    login_network_max_failures: u32,
    login_slow_after: u32,
    search_rate_per_minute: u32,
    session_max_days: u32,
    staff_session_max_hours: u32,
}

impl Default for RawSettings {
    fn default() -> Self {
        Self {
            env: Environment::Dev,
            http_addr: "127.0.0.1:8080".into(),
            metrics_addr: None,
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            redis_prefix: "gongyou:".into(),
            demo_password: None,
            allow_sqlite_in_production: false,
            token_secret: None,
            data_key: None,
            data_key_previous: None,
            sms_dev_echo: None,
            log: "info".into(),
            log_format: LogFormat::Json,
            db_pool_size: 10,
            db_pool_min_idle: 1,
            db_connect_timeout_ms: 5000,
            http_workers: None,
            body_limit_bytes: 256 * 1024,
            shutdown_timeout_secs: 30,
            migrate_on_start: None,
            housekeeping_interval_secs: 600,
            worker_concurrency: 4,
            job_lease_secs: 60,
            job_poll_ms: 2000,
            trusted_proxies: String::new(),
            sms_provider: None,
            sms_base_url: None,
            sms_access_key_id: None,
            sms_access_key_secret: None,
            sms_sign_name: None,
            sms_template_id: None,
            sms_sdk_app_id: None,
            sms_region: None,
            wechat_appid: None,
            wechat_secret: None,
            wechat_base_url: "https://api.weixin.qq.com".into(),
            wechatpay_mch_id: None,
            wechatpay_appid: None,
            wechatpay_serial_no: None,
            wechatpay_private_key: None,
            wechatpay_apiv3_key: None,
            wechatpay_keys: None,
            wechatpay_base_url: "https://api.mch.weixin.qq.com".into(),
            wechatpay_scene_id: "1000".into(),
            wechatpay_scene_infos: "活动名称=工会互助保障理赔|奖励说明=理赔款支付".into(),
            wechatpay_notify_url: None,
            wechatpay_rate_per_sec: 100,
            payout_wechat_limit_yuan: 5000,
            payout_check_secs: 30,
            reconcile_hour: 10,
            reconcile_deadline_hours: 6,
            reconcile_retry_minutes: 30,
            reconcile_open_days: 3,
            jpush_app_key: None,
            jpush_master_secret: None,
            jpush_base_url: None,
            jpush_rate_per_sec: 500,
            campaign_batch: 20_000,
            delivery_lease_secs: 300,
            wechat_templates: String::new(),
            sms_notice_template_id: None,
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_allow_http: false,
            photo_max_bytes: 5 * 1024 * 1024,
            claim_document_max_bytes: 10 * 1024 * 1024,
            claim_review_remind_hours: 48,
            claim_retention_years: 30,
            roster_batch_rows: 1000,
            station_refresh_ms: 1000,
            station_resync_secs: 600,
            station_search_dev_now: None,
            single_replica: false,
            sms_daily_budget: 20_000,
            sms_network_hourly: 20,
            sms_phone_daily: 10,
            login_max_failures: 5,
            login_network_max_failures: 20,
            login_slow_after: 20,
            search_rate_per_minute: 120,
            session_max_days: 90,
            staff_session_max_hours: 12,
        }
    }
}

/// Limits against abuse. Counted in the key/value store (Redis, shared by every replica),
/// except the public search limit, which each process keeps for itself (no round trip on
/// the hot path: with N replicas behind a balancer a network gets up to N times the rate).
#[derive(Debug, Clone)]
pub struct Limits {
    /// SMS codes the whole install sends per day (UTC day): the bound on SMS pumping.
    pub sms_daily_budget: u32,
    /// SMS codes per client network (an IPv4 address, an IPv6 /64) per hour.
    pub sms_network_hourly: u32,
    /// SMS codes per phone per day (and always at most one a minute).
    pub sms_phone_daily: u32,
    /// Wrong passwords per (username, client network) in 15 minutes before that network is
    /// refused for that username; other networks (the owner's) are not.
    pub login_max_failures: u32,
    /// Wrong passwords per client network in 15 minutes, whatever the usernames.
    pub login_network_max_failures: u32,
    /// Wrong passwords for a username from all networks in 15 minutes after which each
    /// further attempt for it is slowed down (never refused).
    pub login_slow_after: u32,
    /// Public station searches per client network per minute, per process; 0 = unlimited.
    pub search_rate_per_minute: u32,
    /// A worker session ends this long after sign-in, however active.
    pub session_max_age: Duration,
    /// A staff session ends this long after sign-in, however active.
    pub staff_session_max_age: Duration,
}

/// How a job worker runs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Jobs run at once.
    pub concurrency: usize,
    /// A claim lasts this long unless a heartbeat extends it.
    pub lease: Duration,
    /// How often to look for due jobs when nothing wakes the worker.
    pub poll_interval: Duration,
    /// On shutdown, how long running jobs may take to finish before they are released.
    pub shutdown_grace: Duration,
}

/// A secret that is either configured or (dev only) generated and kept in the data dir.
#[derive(Clone)]
pub struct Secret {
    value: SecretString,
    generated: bool,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.generated {
            "[generated]"
        } else {
            "[configured]"
        })
    }
}

impl Secret {
    pub fn expose(&self) -> &str {
        self.value.expose_secret()
    }
    pub fn is_generated(&self) -> bool {
        self.generated
    }
}

/// The parsed configuration. Constructed only by [`Config::load`], so it is always valid.
#[derive(Debug, Clone)]
pub struct Config {
    pub env: Environment,
    pub http_addr: SocketAddr,
    /// Where `/metrics` is served; `None` = on the main address.
    pub metrics_addr: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
    pub redis_url: Option<SecretString>,
    pub redis_prefix: String,
    /// Password of the demo staff logins (dev: generated once and kept when not configured).
    pub demo_password: Secret,
    /// Signs tokens (access tokens, QR payloads).
    pub token_secret: Secret,
    /// Encrypts sensitive personal information at rest.
    pub data_key: Secret,
    /// The key before the last rotation: still decrypts what it encrypted.
    pub data_key_previous: Option<SecretString>,
    /// Dev only: SMS codes are returned as `dev_code` and logged (phone masked).
    pub sms_dev_echo: bool,
    pub log: String,
    pub log_format: LogFormat,
    pub pool: PoolOptions,
    pub http_workers: Option<usize>,
    pub body_limit_bytes: usize,
    pub shutdown_timeout: Duration,
    pub migrate_on_start: bool,
    pub housekeeping_interval: Duration,
    /// How the job worker runs (`worker`, and in-process in `demo`).
    pub worker: WorkerSettings,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The SMS gateway (`None` in dev means codes are only echoed), the WeChat mini-program
    /// (`None` makes the WeChat endpoints answer 503), app push (`None` leaves push
    /// deliveries skipped: the inbox still has everything), and the file store.
    pub providers: ProviderSettings,
    /// Pushes per second, shared by all workers (through Redis when configured).
    pub jpush_rate_per_sec: u32,
    /// Campaign recipients written per transaction.
    pub campaign_batch: i64,
    /// A claimed notification delivery's lease, in seconds.
    pub delivery_lease_secs: i64,
    /// WeChat subscribe-message template per notification category.
    pub wechat_templates: std::collections::HashMap<String, String>,
    /// The SMS template for urgent notices (parameters: title, text).
    pub sms_notice_template_id: Option<String>,
    /// Largest station photo accepted.
    pub photo_max_bytes: usize,
    /// Largest claim document accepted (a photo or a PDF).
    pub claim_document_max_bytes: usize,
    /// Hours a claim may wait on staff before the reviewers are reminded.
    pub claim_review_remind_hours: u32,
    /// Years the money record of an erased person's claim is kept after its last change
    /// (会计档案管理办法: accounting vouchers 30 years), then housekeeping deletes it.
    pub claim_retention_years: u32,
    /// The per-transfer limit of WeChat transfers (the merchant's scene setting): a payout
    /// above it goes by bank, never split.
    pub payout_wechat_limit_fen: i64,
    /// How often attempts in flight are checked (due ones only are queried).
    pub payout_check_interval: Duration,
    /// When the daily reconciliation fetches yesterday's WeChat Pay bill (hour, Beijing
    /// time; the bill is ready from about 10:00).
    pub reconcile_hour: u32,
    /// Hours after `reconcile_hour` by which a missing bill becomes an exception.
    pub reconcile_deadline_hours: u32,
    /// Minutes between looks for a bill not ready yet.
    pub reconcile_retry_minutes: u32,
    /// Days an attempt may stay open before reconciliation reports it missing.
    pub reconcile_open_days: u32,
    /// Roster rows per transaction of an import (each batch moves the checkpoint).
    pub roster_batch_rows: usize,
    /// How often each process catches its station index up with the database.
    pub station_refresh: Duration,
    /// How often each process rebuilds its station index from scratch (a safety net).
    pub station_resync: Duration,
    /// A fixed "now" for the public station search's `open_now` and today's hours
    /// (`GONGYOU_STATION_SEARCH_DEV_NOW`, RFC 3339), so a benchmark measures the same hour
    /// whenever it runs. Test-only: production refuses it. Nothing else reads it.
    pub station_search_now: Option<DateTime<Utc>>,
    /// Production without Redis runs only when this says there is one replica.
    pub single_replica: bool,
    pub limits: Limits,
}

impl Config {
    /// Loads defaults → `file` → `GONGYOU_*` variables of `env`, then parses and checks.
    /// Dev secrets that are not configured are generated once and kept in the data dir.
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let gongyou_env: HashMap<String, String> = env
            .iter()
            .filter(|(k, _)| k.starts_with("GONGYOU_") && !k.starts_with("GONGYOU_TEST_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            builder = builder.add_source(
                config::File::from(path)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        let raw: RawSettings = builder
            .add_source(
                config::Environment::with_prefix("GONGYOU")
                    .prefix_separator("_")
                    .ignore_empty(true)
                    .source(Some(gongyou_env.into_iter().collect())),
            )
            .build()?
            .try_deserialize()?;
        Self::parse(raw)
    }

    fn parse(raw: RawSettings) -> Result<Self, ConfigError> {
        let production = raw.env == Environment::Production;
        let sms = sms_settings(&raw)?;
        let wechatpay =
            wechatpay_settings(&raw, raw.wechat_appid.clone().filter(|s| !s.is_empty()))?;
        let http_addr = raw
            .http_addr
            .parse()
            .map_err(|e| invalid("GONGYOU_HTTP_ADDR", format!("not a socket address: {e}")))?;
        let metrics_addr = raw
            .metrics_addr
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.parse())
            .transpose()
            .map_err(|e| invalid("GONGYOU_METRICS_ADDR", format!("not a socket address: {e}")))?;
        let database = match &raw.database_url {
            Some(url) => DatabaseUrl::parse(url.expose_secret())
                .map_err(|e| invalid("GONGYOU_DATABASE_URL", e.to_string()))?,
            None => DatabaseUrl::sqlite_file(&raw.data_dir.join("gongyou.db")),
        };
        if production && database.backend() == Backend::Sqlite && !raw.allow_sqlite_in_production {
            return Err(ConfigError::ProductionRefusal(
                "the database is SQLite; set GONGYOU_DATABASE_URL to PostgreSQL \
                 (or GONGYOU_ALLOW_SQLITE_IN_PRODUCTION=true for a single-node install)"
                    .into(),
            ));
        }
        let sms_dev_echo = raw.sms_dev_echo.unwrap_or(!production);
        if production && sms_dev_echo {
            return Err(ConfigError::ProductionRefusal(
                "GONGYOU_SMS_DEV_ECHO would print SMS codes".into(),
            ));
        }
        let station_search_now = raw
            .station_search_dev_now
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                DateTime::parse_from_rfc3339(s.trim())
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        invalid(
                            "GONGYOU_STATION_SEARCH_DEV_NOW",
                            format!("not an RFC 3339 instant: {e}"),
                        )
                    })
            })
            .transpose()?;
        if production && station_search_now.is_some() {
            return Err(ConfigError::ProductionRefusal(
                "GONGYOU_STATION_SEARCH_DEV_NOW would freeze the station search's clock".into(),
            ));
        }
        if raw.redis_prefix.is_empty() {
            return Err(invalid("GONGYOU_REDIS_PREFIX", "must not be empty"));
        }
        if raw.db_pool_size == 0 {
            return Err(invalid("GONGYOU_DB_POOL_SIZE", "must be at least 1"));
        }
        if raw.body_limit_bytes < 1024 {
            return Err(invalid("GONGYOU_BODY_LIMIT_BYTES", "must be at least 1024"));
        }
        if raw.http_workers == Some(0) {
            return Err(invalid("GONGYOU_HTTP_WORKERS", "must be at least 1"));
        }
        let mut dev_secrets = DevSecrets::new(&raw.data_dir);
        let token_secret = resolve_secret(
            raw.token_secret,
            "GONGYOU_TOKEN_SECRET",
            production,
            32,
            &mut dev_secrets,
        )?;
        let data_key = resolve_secret(
            raw.data_key,
            "GONGYOU_DATA_KEY",
            production,
            32,
            &mut dev_secrets,
        )?;
        // Demo logins exist in dev only; production never needs a generated one.
        let demo_password = match raw
            .demo_password
            .clone()
            .filter(|p| !p.expose_secret().is_empty())
        {
            Some(value) => Secret {
                value,
                generated: false,
            },
            None if production => Secret {
                value: SecretString::from(String::new()),
                generated: false,
            },
            None => Secret {
                value: dev_secrets.get_or_generate_password("GONGYOU_DEMO_PASSWORD")?,
                generated: true,
            },
        };
        dev_secrets.save()?;
        let trusted_proxies = raw
            .trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        invalid(
                            "GONGYOU_TRUSTED_PROXIES",
                            format!("{s:?} is not an IP address or CIDR"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let redis_url = raw
            .redis_url
            .clone()
            .filter(|u| !u.expose_secret().trim().is_empty());
        if production && redis_url.is_none() && !raw.single_replica {
            return Err(ConfigError::ProductionRefusal(
                "GONGYOU_REDIS_URL is not set: each replica would keep its own rate limits, \
                 lockouts and codes (set GONGYOU_SINGLE_REPLICA=true if only one process ever \
                 serves)"
                    .into(),
            ));
        }
        if production && metrics_addr.is_none() {
            return Err(ConfigError::ProductionRefusal(
                "GONGYOU_METRICS_ADDR is not set: /metrics would be served on the public address"
                    .into(),
            ));
        }
        for (name, value) in [
            ("GONGYOU_SMS_DAILY_BUDGET", raw.sms_daily_budget),
            ("GONGYOU_SMS_NETWORK_HOURLY", raw.sms_network_hourly),
            ("GONGYOU_SMS_PHONE_DAILY", raw.sms_phone_daily),
            ("GONGYOU_LOGIN_MAX_FAILURES", raw.login_max_failures),
            (
                "GONGYOU_LOGIN_NETWORK_MAX_FAILURES",
                raw.login_network_max_failures,
            ),
            ("GONGYOU_LOGIN_SLOW_AFTER", raw.login_slow_after),
            ("GONGYOU_SESSION_MAX_DAYS", raw.session_max_days),
            (
                "GONGYOU_STAFF_SESSION_MAX_HOURS",
                raw.staff_session_max_hours,
            ),
        ] {
            if value == 0 {
                return Err(invalid(name, "must be at least 1"));
            }
        }
        if production && sms.is_none() {
            return Err(ConfigError::ProductionRefusal(
                "GONGYOU_SMS_PROVIDER is not set: workers could not receive sign-in codes".into(),
            ));
        }
        let wechat_templates = raw
            .wechat_templates
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|pair| {
                let (category, template) = pair.split_once(':').ok_or_else(|| {
                    invalid(
                        "GONGYOU_WECHAT_TEMPLATES",
                        "expected category:template_id pairs",
                    )
                })?;
                if gongyou_domain::notification::Category::parse(category.trim()).is_none() {
                    return Err(invalid(
                        "GONGYOU_WECHAT_TEMPLATES",
                        format!("unknown category {category:?}"),
                    ));
                }
                Ok((category.trim().to_owned(), template.trim().to_owned()))
            })
            .collect::<Result<std::collections::HashMap<_, _>, ConfigError>>()?;
        let jpush = match (
            raw.jpush_app_key.clone().filter(|s| !s.is_empty()),
            raw.jpush_master_secret.clone(),
        ) {
            (Some(app_key), Some(master_secret)) if !master_secret.expose_secret().is_empty() => {
                Some(JpushSettings {
                    app_key,
                    master_secret,
                    base_url: raw
                        .jpush_base_url
                        .clone()
                        .unwrap_or_else(|| "https://api.jpush.cn".into()),
                })
            }
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "GONGYOU_JPUSH_APP_KEY",
                    "GONGYOU_JPUSH_APP_KEY and GONGYOU_JPUSH_MASTER_SECRET are set together",
                ))
            }
        };
        let wechat = match (
            raw.wechat_appid.clone().filter(|s| !s.is_empty()),
            raw.wechat_secret.clone(),
        ) {
            (Some(appid), Some(secret)) if !secret.expose_secret().is_empty() => {
                Some(WechatSettings {
                    appid,
                    secret,
                    base_url: raw.wechat_base_url.clone(),
                })
            }
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "GONGYOU_WECHAT_APPID",
                    "GONGYOU_WECHAT_APPID and GONGYOU_WECHAT_SECRET are set together",
                ))
            }
        };
        let files = match raw.s3_bucket.clone().filter(|b| !b.trim().is_empty()) {
            None => FileStoreSettings::Local(raw.data_dir.join("files")),
            Some(bucket) => {
                let (Some(access_key_id), Some(secret_access_key)) = (
                    raw.s3_access_key_id.clone().filter(|k| !k.is_empty()),
                    raw.s3_secret_access_key.clone(),
                ) else {
                    return Err(invalid(
                        "GONGYOU_S3_BUCKET",
                        "GONGYOU_S3_ACCESS_KEY_ID and GONGYOU_S3_SECRET_ACCESS_KEY are required with a bucket",
                    ));
                };
                FileStoreSettings::S3 {
                    bucket,
                    endpoint: raw.s3_endpoint.clone().filter(|e| !e.trim().is_empty()),
                    region: raw
                        .s3_region
                        .clone()
                        .filter(|r| !r.trim().is_empty())
                        .unwrap_or_else(|| "us-east-1".into()),
                    access_key_id,
                    secret_access_key,
                    allow_http: raw.s3_allow_http,
                }
            }
        };
        let backend = database.backend();
        Ok(Self {
            env: raw.env,
            http_addr,
            metrics_addr,
            data_dir: raw.data_dir,
            database,
            redis_url,
            redis_prefix: raw.redis_prefix,
            demo_password,
            data_key_previous: raw
                .data_key_previous
                .filter(|k| !k.expose_secret().is_empty()),
            token_secret,
            data_key,
            sms_dev_echo,
            log: raw.log,
            log_format: raw.log_format,
            pool: PoolOptions {
                max_size: raw.db_pool_size,
                min_idle: Some(raw.db_pool_min_idle.min(raw.db_pool_size)),
                connection_timeout: Duration::from_millis(raw.db_connect_timeout_ms.max(100)),
            },
            http_workers: raw.http_workers,
            body_limit_bytes: raw.body_limit_bytes,
            shutdown_timeout: Duration::from_secs(raw.shutdown_timeout_secs),
            migrate_on_start: raw.migrate_on_start.unwrap_or(backend == Backend::Sqlite),
            housekeeping_interval: Duration::from_secs(raw.housekeeping_interval_secs.max(1)),
            worker: WorkerSettings {
                concurrency: raw.worker_concurrency.max(1),
                lease: Duration::from_secs(raw.job_lease_secs.max(3)),
                poll_interval: Duration::from_millis(raw.job_poll_ms.max(10)),
                shutdown_grace: Duration::from_secs(raw.shutdown_timeout_secs),
            },
            trusted_proxies,
            providers: ProviderSettings {
                sms,
                wechat,
                wechatpay,
                jpush,
                files,
            },
            payout_check_interval: Duration::from_secs(raw.payout_check_secs.clamp(1, 3600)),
            reconcile_hour: raw.reconcile_hour.min(23),
            reconcile_deadline_hours: raw.reconcile_deadline_hours.clamp(1, 72),
            reconcile_retry_minutes: raw.reconcile_retry_minutes.clamp(1, 1440),
            reconcile_open_days: raw.reconcile_open_days.clamp(1, 90),
            payout_wechat_limit_fen: i64::from(raw.payout_wechat_limit_yuan.clamp(1, 1_000_000))
                * 100,
            jpush_rate_per_sec: raw.jpush_rate_per_sec.max(1),
            campaign_batch: raw.campaign_batch.clamp(1, 1_000_000),
            delivery_lease_secs: raw.delivery_lease_secs.clamp(5, 86_400),
            wechat_templates,
            sms_notice_template_id: raw
                .sms_notice_template_id
                .clone()
                .filter(|t| !t.trim().is_empty()),
            photo_max_bytes: raw.photo_max_bytes.clamp(1024, 50 * 1024 * 1024),
            claim_document_max_bytes: raw.claim_document_max_bytes.clamp(1024, 50 * 1024 * 1024),
            claim_review_remind_hours: raw.claim_review_remind_hours.clamp(1, 24 * 30),
            claim_retention_years: raw.claim_retention_years.clamp(1, 100),
            roster_batch_rows: raw.roster_batch_rows.clamp(1, 10_000),
            station_refresh: Duration::from_millis(raw.station_refresh_ms.clamp(100, 60_000)),
            station_resync: Duration::from_secs(raw.station_resync_secs.clamp(10, 86_400)),
            station_search_now,
            single_replica: raw.single_replica,
            limits: Limits {
                sms_daily_budget: raw.sms_daily_budget,
                sms_network_hourly: raw.sms_network_hourly,
                sms_phone_daily: raw.sms_phone_daily,
                login_max_failures: raw.login_max_failures,
                login_network_max_failures: raw.login_network_max_failures,
                login_slow_after: raw.login_slow_after,
                search_rate_per_minute: raw.search_rate_per_minute,
                session_max_age: Duration::from_secs(u64::from(raw.session_max_days) * 86_400),
                staff_session_max_age: Duration::from_secs(
                    u64::from(raw.staff_session_max_hours) * 3_600,
                ),
            },
        })
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }
}

/// The SMS gateway settings, when a provider is named.
fn sms_settings(raw: &RawSettings) -> Result<Option<SmsSettings>, ConfigError> {
    let Some(provider) = raw.sms_provider else {
        return Ok(None);
    };
    let need = |v: &Option<String>, var: &'static str| {
        v.clone()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| invalid(var, "required when GONGYOU_SMS_PROVIDER is set"))
    };
    let (default_url, default_region) = match provider {
        SmsProvider::Tencent => ("https://sms.tencentcloudapi.com", "ap-guangzhou"),
        SmsProvider::Aliyun => ("https://dysmsapi.aliyuncs.com", "cn-hangzhou"),
    };
    let settings = SmsSettings {
        provider,
        base_url: raw
            .sms_base_url
            .clone()
            .unwrap_or_else(|| default_url.into()),
        access_key_id: need(&raw.sms_access_key_id, "GONGYOU_SMS_ACCESS_KEY_ID")?,
        access_key_secret: raw
            .sms_access_key_secret
            .clone()
            .filter(|s| !s.expose_secret().is_empty())
            .ok_or_else(|| {
                invalid(
                    "GONGYOU_SMS_ACCESS_KEY_SECRET",
                    "required when GONGYOU_SMS_PROVIDER is set",
                )
            })?,
        sign_name: need(&raw.sms_sign_name, "GONGYOU_SMS_SIGN_NAME")?,
        template_id: need(&raw.sms_template_id, "GONGYOU_SMS_TEMPLATE_ID")?,
        sdk_app_id: raw.sms_sdk_app_id.clone(),
        region: raw
            .sms_region
            .clone()
            .unwrap_or_else(|| default_region.into()),
    };
    settings.validate().map_err(|missing| {
        invalid(
            "GONGYOU_SMS_PROVIDER",
            format!("incomplete SMS settings: {missing}"),
        )
    })?;
    Ok(Some(settings))
}

/// Configured secrets must be long enough; unconfigured ones are refused in production and
/// generated (once, then kept) in dev.
fn resolve_secret(
    configured: Option<SecretString>,
    var: &'static str,
    production: bool,
    min_len: usize,
    dev: &mut DevSecrets,
) -> Result<Secret, ConfigError> {
    if let Some(value) = configured.filter(|s| !s.expose_secret().is_empty()) {
        if value.expose_secret().len() < min_len {
            return Err(invalid(
                var,
                format!("must be at least {min_len} characters"),
            ));
        }
        return Ok(Secret {
            value,
            generated: false,
        });
    }
    if production {
        return Err(ConfigError::ProductionRefusal(format!(
            "{var} is not set (generated secrets are for dev only)"
        )));
    }
    Ok(Secret {
        value: dev.get_or_generate(var)?,
        generated: true,
    })
}

/// Dev secrets kept in `<data_dir>/dev-secrets.toml`, so tokens stay valid across restarts.
struct DevSecrets {
    path: PathBuf,
    values: HashMap<String, String>,
    loaded: bool,
    dirty: bool,
}

impl DevSecrets {
    fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("dev-secrets.toml"),
            values: HashMap::new(),
            loaded: false,
            dirty: false,
        }
    }

    fn error(&self, reason: impl ToString) -> ConfigError {
        ConfigError::DevSecrets {
            path: self.path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    fn load(&mut self) -> Result<(), ConfigError> {
        if !self.loaded {
            self.loaded = true;
            match std::fs::read_to_string(&self.path) {
                Ok(text) => self.values = toml::from_str(&text).map_err(|e| self.error(e))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.error(e)),
            }
        }
        Ok(())
    }

    fn get_or_insert_with(
        &mut self,
        var: &str,
        make: impl FnOnce() -> String,
    ) -> Result<SecretString, ConfigError> {
        self.load()?;
        let value = self.values.entry(var.to_owned()).or_insert_with(|| {
            self.dirty = true;
            make()
        });
        Ok(SecretString::from(value.clone()))
    }

    /// A random 256-bit key, hex-encoded.
    fn get_or_generate(&mut self, var: &str) -> Result<SecretString, ConfigError> {
        self.get_or_insert_with(var, || hex::encode(rand::random::<[u8; 32]>()))
    }

    /// A password a person can type: `gy-` and 24 hex digits.
    fn get_or_generate_password(&mut self, var: &str) -> Result<SecretString, ConfigError> {
        self.get_or_insert_with(var, || {
            format!("gy-{}", hex::encode(rand::random::<[u8; 12]>()))
        })
    }

    fn save(&self) -> Result<(), ConfigError> {
        if !self.dirty {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.error(e))?;
        }
        let text = toml::to_string(&self.values).map_err(|e| self.error(e))?;
        write_private(&self.path, &text).map_err(|e| self.error(e))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
