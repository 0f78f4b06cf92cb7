//! What every handler can reach.

use std::sync::Arc;

use gongyou_db::kv::Kv;
use gongyou_db::Db;
use gongyou_domain::clock::SharedClock;

use crate::config::Config;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub kv: Kv,
    pub clock: SharedClock,
    pub metrics: Arc<Metrics>,
}
