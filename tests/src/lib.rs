//! The black-box test harness: [`spawn_app`] starts the real application on port 0 with its
//! own database — a fresh SQLite file, or, when `GONGYOU_TEST_DATABASE_URL` names a
//! PostgreSQL server, a fresh database cloned from a migrated template — and its own Redis
//! key prefix when `GONGYOU_TEST_REDIS_URL` is set. Tests talk to it over HTTP like a phone
//! would. Everything a test app created (database, Redis keys, files) is removed when it
//! is dropped.
//!
//! `TEST_LOG=1` shows the application's logs.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::{Connection, PgConnection, RunQueryDsl};
use gongyou_api::startup::Application;
use gongyou_api::state::AppState;
use gongyou_domain::clock::ManualClock;
use gongyou_services::config::Config;

pub mod fakes;
pub mod net;
pub mod pg;
pub mod services;
pub mod session;

/// Which backends this run uses.
#[derive(Debug, Clone)]
pub struct Backends {
    /// A PostgreSQL server URL (any database on it; used to create and drop test databases).
    pub postgres: Option<String>,
    pub redis: Option<String>,
}

impl Backends {
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            postgres: var("GONGYOU_TEST_DATABASE_URL"),
            redis: var("GONGYOU_TEST_REDIS_URL"),
        }
    }
}

/// A running application and what the test needs to drive it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub port: u16,
    /// The separate metrics listener's port, when `GONGYOU_METRICS_ADDR` was set.
    pub metrics_port: Option<u16>,
    pub client: reqwest::Client,
    /// The application's clock; move it to expire things.
    pub clock: ManualClock,
    pub state: AppState,
    pub data_dir: tempfile::TempDir,
    database: TestDatabase,
    /// Deletes the app's Redis keys when the app is dropped.
    _redis_prefix: Option<RedisPrefix>,
    handles: Vec<actix_web::dev::ServerHandle>,
    /// The settings it was started with (a replica starts with the same).
    env: HashMap<String, String>,
}

/// A write lock on a test app's database, released (rolled back) when dropped.
pub struct WriteLock(gongyou_db::DbConnection);

impl Drop for WriteLock {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        let _ = match &mut self.0 {
            gongyou_db::DbConnection::Sqlite(c) => c.batch_execute("ROLLBACK"),
            gongyou_db::DbConnection::Pg(c) => c.batch_execute("ROLLBACK"),
        };
    }
}

/// The database a test app owns.
pub enum TestDatabase {
    Sqlite {
        path: std::path::PathBuf,
    },
    Postgres {
        server_url: String,
        name: String,
    },
    /// Another app's (a replica's): not dropped with this one.
    Shared,
}

impl TestDatabase {
    /// A fresh, migrated database for one test app; returns it and its URL.
    pub fn create(backends: &Backends, dir: &std::path::Path) -> anyhow::Result<(Self, String)> {
        match &backends.postgres {
            Some(server) => {
                let name = pg::clone_template(server)?;
                let url = pg::url_with_database(server, &name)?;
                Ok((
                    Self::Postgres {
                        server_url: server.clone(),
                        name,
                    },
                    url,
                ))
            }
            None => {
                let path = dir.join("test.db");
                let url = format!("sqlite://{}", path.display());
                Ok((Self::Sqlite { path }, url))
            }
        }
    }

    fn drop_now(&self) {
        if let Self::Postgres { server_url, name } = self {
            if let Err(e) = pg::drop_database(server_url, name) {
                eprintln!("could not drop test database {name}: {e:#}");
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.drop_now();
    }
}

/// Settings a test may change before the app starts.
pub type EnvOverrides = HashMap<String, String>;

/// Starts the application with test defaults.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(HashMap::new()).await
}

/// What a test application runs on: its settings, and the database, Redis prefix and data
/// directory it owns (removed when dropped).
pub struct TestEnv {
    pub env: HashMap<String, String>,
    pub database: TestDatabase,
    pub redis_prefix: Option<RedisPrefix>,
    pub data_dir: tempfile::TempDir,
}

/// Test settings (a fresh database on this run's backend, its own Redis prefix, a temporary
/// data dir) plus `overrides` (`GONGYOU_*` variables).
pub fn test_env(overrides: EnvOverrides) -> TestEnv {
    if std::env::var("TEST_LOG").is_ok() {
        gongyou_services::telemetry::init("debug", gongyou_services::config::LogFormat::Json);
    }
    let backends = Backends::from_env();
    let data_dir = tempfile::tempdir().expect("temp dir");
    let (database, database_url) =
        TestDatabase::create(&backends, data_dir.path()).expect("test database");
    let mut env: HashMap<String, String> = [
        ("GONGYOU_DATA_DIR", data_dir.path().display().to_string()),
        ("GONGYOU_HTTP_ADDR", "127.0.0.1:0".to_owned()),
        ("GONGYOU_DATABASE_URL", database_url),
        ("GONGYOU_DB_POOL_SIZE", "4".to_owned()),
        ("GONGYOU_DB_POOL_MIN_IDLE", "0".to_owned()),
        ("GONGYOU_DB_CONNECT_TIMEOUT_MS", "2000".to_owned()),
        ("GONGYOU_HTTP_WORKERS", "1".to_owned()),
        ("GONGYOU_SHUTDOWN_TIMEOUT_SECS", "1".to_owned()),
        ("GONGYOU_DEMO_PASSWORD", session::DEMO_PASSWORD.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut redis_prefix = None;
    if let Some(redis) = &backends.redis {
        let prefix = format!("test:{}:", uuid::Uuid::now_v7().simple());
        env.insert("GONGYOU_REDIS_URL".into(), redis.clone());
        env.insert("GONGYOU_REDIS_PREFIX".into(), prefix.clone());
        redis_prefix = Some(RedisPrefix(redis.clone(), prefix));
    }
    env.extend(overrides);
    TestEnv {
        env,
        database,
        redis_prefix,
        data_dir,
    }
}

/// Starts the application with test defaults plus `overrides` (`GONGYOU_*` variables).
pub async fn spawn_app_with(overrides: EnvOverrides) -> TestApp {
    spawn_app_on(overrides, ManualClock::starting_now()).await
}

/// [`spawn_app_with`] on a clock the test already shares (e.g. with a fake provider).
pub async fn spawn_app_on(overrides: EnvOverrides, clock: ManualClock) -> TestApp {
    let t = test_env(overrides);
    start(t.env, clock, t.database, t.redis_prefix, t.data_dir).await
}

async fn start(
    env: HashMap<String, String>,
    clock: ManualClock,
    database: TestDatabase,
    redis_prefix: Option<RedisPrefix>,
    data_dir: tempfile::TempDir,
) -> TestApp {
    let config = Config::load(None, &env).expect("test configuration");
    let app = Application::build(config, Arc::new(clock.clone()))
        .await
        .expect("application builds");
    let port = app.port();
    let metrics_port = app.metrics_port();
    let state = app.state().clone();
    let handles = app.handles();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        metrics_port,
        client: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client"),
        clock,
        state,
        data_dir,
        database,
        _redis_prefix: redis_prefix,
        handles,
        env,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// A second replica of this app: another process's worth of state (its own station
    /// index, caches, HTTP server) on the same database, Redis prefix and clock.
    /// The `GONGYOU_*` settings it was started with: a `gongyou` process given them works
    /// on the same database, file store and keys.
    pub fn settings(&self) -> &HashMap<String, String> {
        &self.env
    }

    pub async fn replica(&self) -> TestApp {
        start(
            self.env.clone(),
            self.clock.clone(),
            TestDatabase::Shared,
            None,
            tempfile::tempdir().expect("temp dir"),
        )
        .await
    }

    /// A job worker over this app's services (see [`job_worker`]).
    pub fn job_worker(&self) -> gongyou_jobs::Worker {
        job_worker(&self.state.services)
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.database, TestDatabase::Postgres { .. })
    }

    /// Makes the database unusable under the running app: PostgreSQL drops it (ending its
    /// connections), SQLite has its file overwritten with something that is not a database.
    pub fn break_database(&self) {
        match &self.database {
            TestDatabase::Postgres { .. } => self.database.drop_now(),
            TestDatabase::Shared => {}
            TestDatabase::Sqlite { path } => {
                // Overwritten in place, never truncated: SQLite maps `-shm` into memory,
                // and a page of that mapping beyond a truncated file's end is a SIGBUS
                // for the whole test process (it was, in CI, when a pool connection
                // touched the wal-index while `fs::write` had cut the file to 8 KiB).
                use std::io::Write;
                for suffix in ["", "-wal", "-shm"] {
                    let file = format!("{}{suffix}", path.display());
                    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&file) {
                        let _ = f.write_all(&[0x5a_u8; 8192]);
                    }
                }
            }
        }
    }

    /// Holds the database's write lock as another process would (SQLite: a `BEGIN
    /// IMMEDIATE` transaction; PostgreSQL: the sign-in tables locked against writes, reads
    /// still allowed) until the guard is dropped.
    pub fn hold_write_lock(&self) -> WriteLock {
        use diesel::connection::SimpleConnection;
        let url = gongyou_db::DatabaseUrl::parse(&self.env["GONGYOU_DATABASE_URL"])
            .expect("database URL");
        let mut conn = url.connect().expect("a second connection");
        match &mut conn {
            gongyou_db::DbConnection::Sqlite(c) => c.batch_execute("BEGIN IMMEDIATE"),
            gongyou_db::DbConnection::Pg(c) => c.batch_execute(
                "BEGIN; LOCK TABLE sessions, refresh_tokens, users IN EXCLUSIVE MODE",
            ),
        }
        .expect("taking the write lock");
        WriteLock(conn)
    }

    /// Serves routes that exist only for a test (to exercise a reusable piece such as
    /// idempotency keys) next to the app, over real HTTP, with the app's state, middleware
    /// and request parsing. Returns the base URL.
    pub fn serve_extra(&self, routes: fn(&mut actix_web::web::ServiceConfig)) -> String {
        use actix_web::{web, App, HttpServer};
        let data = web::Data::new(self.state.clone());
        let limit = self.state.config.body_limit_bytes;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .configure(|cfg| gongyou_api::startup::request_parsing(cfg, limit))
                .wrap(actix_web::middleware::from_fn(
                    gongyou_api::middleware::observe,
                ))
                .configure(routes)
        })
        .listen(listener)
        .expect("listen")
        .disable_signals()
        .workers(1)
        .run();
        tokio::spawn(server);
        format!("http://127.0.0.1:{port}")
    }

    /// Stops the server, letting requests in flight finish.
    pub async fn stop(&self) {
        for handle in &self.handles {
            handle.stop(true).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for handle in &self.handles {
            // Stops accepting and ends workers; the database is dropped after (forcefully).
            drop(handle.stop(false));
        }
    }
}

/// A job worker over `services` with every Gongyou job (no periodic ones): `drain()` runs
/// what is due, deterministically.
pub fn job_worker(services: &gongyou_services::Context) -> gongyou_jobs::Worker {
    gongyou_jobs::Worker::new(
        services.clone(),
        gongyou_jobs::registry(),
        gongyou_jobs::WorkerConfig::default(),
    )
}

/// The id of the seeded org with this name.
pub async fn org_id(db: &gongyou_db::Db, name: &str) -> String {
    let name = name.to_owned();
    db.run(move |conn| {
        use diesel::prelude::*;
        use gongyou_db::schema::orgs;
        orgs::table
            .filter(orgs::name.eq(&name))
            .select(orgs::id)
            .first::<String>(conn)
            .map_err(gongyou_db::DbError::from)
    })
    .await
    .expect("org exists")
}

/// A test's own Redis key prefix (server URL, prefix): its keys are deleted when dropped.
pub struct RedisPrefix(String, String);

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        if let Err(e) = delete_redis_prefix(&self.0, &self.1) {
            eprintln!("could not clean Redis prefix {}: {e}", self.1);
        }
    }
}

fn delete_redis_prefix(url: &str, prefix: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_connection()?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut conn)?;
    if !keys.is_empty() {
        redis::cmd("DEL").arg(keys).query::<()>(&mut conn)?;
    }
    Ok(())
}

/// A PostgreSQL connection to `url` (test setup only).
pub fn pg_connect(url: &str) -> anyhow::Result<PgConnection> {
    Ok(PgConnection::establish(url)?)
}

/// Runs one statement on `conn` (test setup only).
pub fn pg_execute(conn: &mut PgConnection, sql: &str) -> anyhow::Result<usize> {
    Ok(diesel::sql_query(sql).execute(conn)?)
}

/// The `gongyou` binary of this workspace (`cargo build -p gongyou` builds it), for tests
/// that run the real processes; panics with the command to run when it is not built.
pub fn gongyou_binary() -> std::path::PathBuf {
    use std::path::{Path, PathBuf};
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_TARGET_DIR").map(PathBuf::from))
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                workspace.join(dir)
            }
        })
        .unwrap_or_else(|| workspace.join("target"));
    let binary = target
        .join("debug")
        .join(format!("gongyou{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: this test runs the real binary; run `cargo build -p gongyou` first",
        binary.display()
    );
    binary
}
