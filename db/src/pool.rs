//! Connection pools (r2d2) and the async entry point the API and jobs use to run
//! synchronous diesel code off the async executor.

use std::time::Duration;

use diesel::connection::SimpleConnection;

use crate::{Backend, DatabaseUrl, DbConnection, DbError};

/// Opens connections for r2d2, by the backend the URL named.
#[derive(Debug)]
pub struct DbManager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for DbManager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        self.url.connect()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        match conn {
            DbConnection::Pg(c) => c.batch_execute("SELECT 1")?,
            DbConnection::Sqlite(c) => c.batch_execute("SELECT 1")?,
        }
        Ok(())
    }

    /// A connection handed back inside a transaction (its user panicked mid-transaction) or
    /// with a broken transaction state is closed, not reused: reused, it would keep the
    /// transaction — on SQLite the database's write lock — open for every later user.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        let depth = match conn {
            DbConnection::Pg(c) => {
                AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()
            }
            DbConnection::Sqlite(c) => {
                AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()
            }
        };
        !matches!(depth, Ok(None))
    }
}

/// Pool sizing. Tests use small pools: r2d2 opens `min_idle` connections at build time and
/// many test apps run at once against one PostgreSQL.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    pub min_idle: Option<u32>,
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            min_idle: Some(1),
            connection_timeout: Duration::from_secs(5),
        }
    }
}

/// Pool usage, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub max_size: u32,
    pub connections: u32,
    pub idle: u32,
}

/// The database handle shared by the application.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<DbManager>,
    backend: Backend,
    url: DatabaseUrl,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Db {
    /// Builds the pool. Does not fail when PostgreSQL is down (readiness reports that); a
    /// SQLite file is created and switched to WAL first.
    pub fn new(url: &DatabaseUrl, options: &PoolOptions) -> Result<Self, DbError> {
        let backend = url.backend();
        url.prepare()?;
        // One writer at a time is all SQLite allows; more connections still help readers.
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size.max(1))
            .min_idle(options.min_idle)
            .connection_timeout(options.connection_timeout)
            .test_on_check_out(true)
            .build_unchecked(DbManager { url: url.clone() });
        Ok(Self {
            pool,
            backend,
            url: url.clone(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection outside the pool, for LISTEN (PostgreSQL only).
    pub fn dedicated_pg(&self) -> Option<Result<diesel::PgConnection, DbError>> {
        match self.url.connect() {
            Ok(DbConnection::Pg(conn)) => Some(Ok(conn)),
            Ok(DbConnection::Sqlite(_)) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// A pooled connection, for synchronous code (migrations, commands, jobs on blocking threads).
    pub fn conn(&self) -> Result<r2d2::PooledConnection<DbManager>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs synchronous diesel code on a blocking thread, inside the caller's tracing span
    /// (so the request id reaches every log line written there).
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| E::from(DbError::from(e)))?
    }

    /// Whether a connection can be had and answers a trivial query.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| {
            match conn {
                DbConnection::Pg(c) => c.batch_execute("SELECT 1")?,
                DbConnection::Sqlite(c) => {
                    c.batch_execute("SELECT count(*) FROM __diesel_schema_migrations")?
                }
            }
            Ok(())
        })
        .await
    }

    pub fn stats(&self) -> PoolStats {
        let state = self.pool.state();
        PoolStats {
            max_size: self.pool.max_size(),
            connections: state.connections,
            idle: state.idle_connections,
        }
    }
}
