//! The one connection type over both backends, and how a database URL picks the backend.
//!
//! The backend is chosen from the URL scheme, never by trying each one in turn: diesel's
//! derived `establish` would silently open a SQLite file named like a PostgreSQL URL when
//! PostgreSQL is down (DESIGN §3b).

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use crate::DbError;

/// How long a statement waits for a lock before it fails: SQLite's busy timeout and
/// PostgreSQL's `lock_timeout`. The failure is answered 503 with `Retry-After`.
pub const LOCK_TIMEOUT_MS: u32 = 5_000;

/// A connection to either backend. Backend-specific SQL is a `match` on this enum, in `db/` only.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// A parsed database URL: the backend, and what to hand to that backend's driver.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    target: String,
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // PostgreSQL URLs may carry a password: show the backend only.
        f.debug_struct("DatabaseUrl")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl DatabaseUrl {
    /// Accepts `postgres://…`, `postgresql://…` and `sqlite://<path>` (`sqlite:///abs/path`
    /// for an absolute path). Anything else is refused.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self {
                backend: Backend::Postgres,
                target: url.to_owned(),
            });
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError::Url("sqlite:// URL without a file path".into()));
            }
            return Ok(Self {
                backend: Backend::Sqlite,
                target: path.to_owned(),
            });
        }
        let scheme = url.split("://").next().unwrap_or_default();
        Err(DbError::Url(format!(
            "unsupported scheme {scheme:?}: use postgres://, postgresql:// or sqlite://"
        )))
    }

    /// The SQLite URL of a file path.
    pub fn sqlite_file(path: &std::path::Path) -> Self {
        Self {
            backend: Backend::Sqlite,
            target: path.to_string_lossy().into_owned(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite file path, when this is a SQLite URL.
    pub fn sqlite_path(&self) -> Option<&str> {
        (self.backend == Backend::Sqlite).then_some(self.target.as_str())
    }

    /// The URL as the backend driver takes it (contains credentials: never log it).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Opens one connection, configured for use (SQLite: WAL, busy timeout, foreign keys).
    pub fn connect(&self) -> Result<DbConnection, DbError> {
        match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.target)?;
                // A statement waits at most this long for a lock, then fails (answered 503,
                // retry): a request never hangs on a lock, like SQLite's busy timeout.
                conn.batch_execute(&format!("SET lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))?;
                Ok(DbConnection::Pg(conn))
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.target)?;
                // WAL is a property of the file, set once by `prepare`.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {LOCK_TIMEOUT_MS};
                     PRAGMA synchronous = NORMAL;
                     PRAGMA foreign_keys = ON;"
                ))?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl DatabaseUrl {
    /// One-time preparation before a pool opens connections: a SQLite file is switched to
    /// WAL here, by one connection, rather than by several racing for the lock.
    pub fn prepare(&self) -> Result<(), DbError> {
        if let Some(path) = self.sqlite_path() {
            if let Some(dir) = std::path::Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DbError::Url(format!("creating {}: {e}", dir.display())))?;
            }
            let mut conn = SqliteConnection::establish(&self.target)?;
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {LOCK_TIMEOUT_MS}; PRAGMA journal_mode = WAL;"
            ))?;
        }
        Ok(())
    }
}

impl DbConnection {
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Pg(_) => Backend::Postgres,
            DbConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_comes_from_the_scheme_only() {
        let pg = DatabaseUrl::parse("postgres://u:secret@localhost/db").unwrap();
        assert_eq!(pg.backend(), Backend::Postgres);
        assert!(!format!("{pg:?}").contains("secret"));
        assert_eq!(
            DatabaseUrl::parse("postgresql://localhost/db")
                .unwrap()
                .backend(),
            Backend::Postgres
        );
        let lite = DatabaseUrl::parse("sqlite://data/gongyou.db").unwrap();
        assert_eq!(lite.sqlite_path(), Some("data/gongyou.db"));
        let abs = DatabaseUrl::parse("sqlite:///var/lib/gongyou/db.sqlite").unwrap();
        assert_eq!(abs.sqlite_path(), Some("/var/lib/gongyou/db.sqlite"));
        // A bare path or an unknown scheme is refused, never guessed to be SQLite.
        assert!(DatabaseUrl::parse("data/gongyou.db").is_err());
        assert!(DatabaseUrl::parse("mysql://localhost/db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn sqlite_connections_use_wal_and_foreign_keys() {
        use diesel::sql_types::{BigInt, Text};
        use diesel::RunQueryDsl;

        #[derive(diesel::QueryableByName)]
        struct Mode {
            #[diesel(sql_type = Text)]
            journal_mode: String,
        }
        #[derive(diesel::QueryableByName)]
        struct Fk {
            #[diesel(sql_type = BigInt)]
            foreign_keys: i64,
        }
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::sqlite_file(&dir.path().join("t.db"));
        url.prepare().unwrap();
        let DbConnection::Sqlite(mut conn) = url.connect().unwrap() else {
            panic!("expected sqlite");
        };
        let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(mode.journal_mode, "wal");
        let fk: Fk = diesel::sql_query("PRAGMA foreign_keys")
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(fk.foreign_keys, 1);
    }
}
