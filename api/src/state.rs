//! What every handler can reach: the services' context (which it derefs to, so a handler
//! hands `&state` to a use-case), this process's station search and metrics.

use std::ops::Deref;
use std::sync::Arc;

use gongyou_services::metrics::Metrics;
use gongyou_services::stations::search::{SearchLimiter, StationSearch};
use gongyou_services::Context;

#[derive(Clone)]
pub struct AppState {
    pub services: Context,
    /// This process's station search index.
    pub stations: Arc<StationSearch>,
    /// This process's limit on public searches per client network.
    pub search_limit: Arc<SearchLimiter>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// "Now" for the public station search: the clock, unless a test pins it
    /// (`GONGYOU_STATION_SEARCH_DEV_NOW`, refused in production).
    pub fn search_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.config
            .station_search_now
            .unwrap_or_else(|| self.clock.now())
    }
}

impl Deref for AppState {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.services
    }
}
