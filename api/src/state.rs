//! What every handler can reach.

use std::sync::Arc;

use gongyou_db::kv::Kv;
use gongyou_db::Db;
use gongyou_domain::clock::SharedClock;

use crate::auth::tokens::TokenKeys;
use crate::config::Config;
use crate::crypto::DataCrypto;
use crate::metrics::Metrics;
use crate::providers::sms::SmsGateway;
use crate::providers::wechat::WechatClient;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub tokens: TokenKeys,
    /// Encrypts and blind-indexes sensitive personal information.
    pub crypto: DataCrypto,
    /// The SMS gateway, when configured.
    pub sms: Option<SmsGateway>,
    /// The WeChat mini-program's server API, when configured.
    pub wechat: Option<WechatClient>,
    pub db: Db,
    pub kv: Kv,
    pub clock: SharedClock,
    pub metrics: Arc<Metrics>,
    /// This process's station search index.
    pub stations: Arc<crate::stations::StationSearch>,
    /// Uploaded files (station photos).
    pub files: crate::files::FileStore,
}
