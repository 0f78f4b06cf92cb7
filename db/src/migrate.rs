//! Embedded migrations, one folder per backend with identical version names.
//!
//! SQLite migrations run with foreign keys off (rebuilding a table means dropping it, and a
//! `DROP TABLE` would cascade), then `PRAGMA foreign_key_check` proves nothing dangles.
//! PostgreSQL migrations run under an advisory lock so that several replicas (or test
//! processes) starting at once migrate one after another.

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::{DbConnection, DbError};

pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// An arbitrary constant naming Gongyou's migration lock among PostgreSQL advisory locks.
const PG_MIGRATION_LOCK: i64 = 0x6e67_796f_755f_6d67;

/// Applies pending migrations; returns the versions applied now.
pub fn run(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let mig = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    match conn {
        DbConnection::Pg(c) => {
            // Another replica may be migrating, or a migration may wait for running queries:
            // waiting is right here, unlike for requests.
            c.batch_execute("SET lock_timeout = 0")?;
            diesel::sql_query(format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))
                .execute(c)?;
            let applied = c
                .run_pending_migrations(POSTGRES)
                .map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>())
                .map_err(mig);
            diesel::sql_query(format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})"))
                .execute(c)?;
            c.batch_execute(&format!(
                "SET lock_timeout = '{}ms'",
                crate::connection::LOCK_TIMEOUT_MS
            ))?;
            applied
        }
        DbConnection::Sqlite(c) => {
            c.batch_execute("PRAGMA foreign_keys = OFF")?;
            let applied = c
                .run_pending_migrations(SQLITE)
                .map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>())
                .map_err(mig);
            let dangling = foreign_key_violations(c);
            c.batch_execute("PRAGMA foreign_keys = ON")?;
            let applied = applied?;
            let dangling = dangling?;
            if dangling > 0 {
                return Err(DbError::Migration(format!(
                    "{dangling} rows violate foreign keys after migrating"
                )));
            }
            Ok(applied)
        }
    }
}

/// Whether migrations are pending (used by readiness on PostgreSQL, where `serve` does not
/// migrate by itself).
pub fn pending(conn: &mut DbConnection) -> Result<usize, DbError> {
    let mig = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    match conn {
        DbConnection::Pg(c) => Ok(c.pending_migrations(POSTGRES).map_err(mig)?.len()),
        DbConnection::Sqlite(c) => Ok(c.pending_migrations(SQLITE).map_err(mig)?.len()),
    }
}

/// The version names of each backend's migrations.
pub fn versions() -> Result<(Vec<String>, Vec<String>), DbError> {
    let mig = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    let pg = MigrationSource::<Pg>::migrations(&POSTGRES).map_err(mig)?;
    let lite = MigrationSource::<Sqlite>::migrations(&SQLITE).map_err(mig)?;
    Ok((
        pg.iter().map(|m| m.name().to_string()).collect(),
        lite.iter().map(|m| m.name().to_string()).collect(),
    ))
}

fn foreign_key_violations(c: &mut diesel::SqliteConnection) -> Result<usize, DbError> {
    #[derive(diesel::QueryableByName)]
    struct Violation {
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[diesel(column_name = table)]
        _table: String,
    }
    let rows: Vec<Violation> = diesel::sql_query("PRAGMA foreign_key_check").load(c)?;
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_backends_have_the_same_migration_versions() {
        let (pg, lite) = super::versions().unwrap();
        assert!(!pg.is_empty());
        assert_eq!(pg, lite);
    }
}
