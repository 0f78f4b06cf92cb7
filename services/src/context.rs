//! What every use-case runs with: one value, built once per process from the configuration
//! and shared (clones are cheap handles) by the HTTP server, the job worker and the CLI.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use gongyou_db::kv::Kv;
use gongyou_db::Db;
use gongyou_domain::clock::SharedClock;
use gongyou_providers::Providers;
use secrecy::ExposeSecret;

use crate::accounts::tokens::TokenKeys;
use crate::config::Config;
use crate::crypto::DataCrypto;
use crate::files::SealedFiles;
use crate::stations::search::StationSearch;

#[derive(Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub db: Db,
    pub kv: Kv,
    pub clock: SharedClock,
    /// Encrypts and blind-indexes sensitive personal information.
    pub crypto: DataCrypto,
    /// Signs tokens: access tokens, step-up proofs, QR codes, SMS code hashes.
    pub tokens: TokenKeys,
    /// SMS, WeChat, JPush, the file store.
    pub providers: Providers,
    /// Sensitive files sealed at rest in the file store (rosters, claim documents,
    /// statements), their keys wrapped by `crypto` (ADR 016).
    pub sealed_files: SealedFiles,
    /// This process's station search index, when it serves searches (the API): a station
    /// changed through this process is applied to it at once.
    pub stations: Option<Arc<StationSearch>>,
}

impl Context {
    /// Opens the database (migrating it when configured), connects the key/value store and
    /// builds the providers.
    pub async fn open(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating the data dir {}", config.data_dir.display()))?;
        let db = Db::new(&config.database, &config.pool)?;
        if config.migrate_on_start {
            let applied = db
                .run(gongyou_db::migrate::run)
                .await
                .context("migrating the database")?;
            if !applied.is_empty() {
                tracing::info!(versions = ?applied, "applied migrations");
            }
        }
        Self::new(config, db, clock)
    }

    /// The context over an open database.
    pub fn new(config: Config, db: Db, clock: SharedClock) -> anyhow::Result<Self> {
        let redis_url = config.redis_url.as_ref().map(ExposeSecret::expose_secret);
        let kv =
            Kv::new(redis_url, &config.redis_prefix, clock.clone()).context("configuring Redis")?;
        let providers = Providers::new(&config.providers, kv.clone())?;
        let previous: Vec<&str> = config
            .data_key_previous
            .iter()
            .map(ExposeSecret::expose_secret)
            .collect();
        let crypto = DataCrypto::new(config.data_key.expose(), &previous);
        let sealed_files = SealedFiles::new(
            providers.files.clone(),
            crypto.clone(),
            db.clone(),
            clock.clone(),
        );
        Ok(Self {
            tokens: TokenKeys::new(config.token_secret.expose()),
            crypto,
            sealed_files,
            config: Arc::new(config),
            db,
            kv,
            clock,
            providers,
            stations: None,
        })
    }

    /// The same context, applying station changes to this process's search index.
    pub fn with_station_search(mut self, search: Arc<StationSearch>) -> Self {
        self.stations = Some(search);
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
