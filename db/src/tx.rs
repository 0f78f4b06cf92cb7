//! The one helper every write path uses.
//!
//! SQLite's default `BEGIN` is deferred: a transaction that reads and then writes must upgrade
//! its lock, and that upgrade fails with `SQLITE_BUSY` at once, without waiting for
//! busy_timeout, when another writer got in between. `BEGIN IMMEDIATE` takes the write lock
//! up front (waiting politely), so read-then-write code is safe. PostgreSQL uses an ordinary
//! transaction.

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::{Connection, RunQueryDsl};

use crate::{DbConnection, DbError};

/// Runs `f` in a write transaction: committed when it returns `Ok`, rolled back on `Err`.
/// Nested calls become savepoints.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DbError>,
{
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn
            .transaction(|c| f(c).map_err(TxError::App))
            .map_err(TxError::into_app);
    };
    let depth = AnsiTransactionManager::transaction_manager_status_mut(sqlite)
        .transaction_depth()
        .map_err(|e| E::from(DbError::from(e)))?;
    if depth.is_some() {
        return conn
            .transaction(|c| f(c).map_err(TxError::App))
            .map_err(TxError::into_app);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")
        .map_err(|e| E::from(DbError::from(e)))?;
    // The multi-connection's transaction manager delegates to the SQLite connection's, whose
    // depth the `BEGIN IMMEDIATE` above has just raised.
    type Manager = <DbConnection as Connection>::TransactionManager;
    match f(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn).map_err(|e| E::from(DbError::from(e)))?;
            Ok(value)
        }
        Err(e) => {
            Manager::rollback_transaction(conn).map_err(|e| E::from(DbError::from(e)))?;
            Err(e)
        }
    }
}

/// Carries the caller's error through diesel's `transaction`, which needs
/// `From<diesel::result::Error>` on the error type.
/// Runs `insert` in a savepoint (its own transaction when none is open) and answers `false`
/// when it violated a unique constraint (someone inserted first), rolling back only it. On
/// PostgreSQL a failed statement otherwise aborts the whole surrounding transaction — and a
/// COMMIT of an aborted transaction is a silent ROLLBACK, losing what it wrote.
pub fn insert_unless_taken(
    conn: &mut DbConnection,
    insert: impl FnOnce(&mut DbConnection) -> Result<usize, diesel::result::Error>,
) -> Result<bool, DbError> {
    match write_tx(conn, |c| insert(c).map_err(DbError::from)) {
        Ok(_) => Ok(true),
        Err(e) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e),
    }
}

enum TxError<E> {
    App(E),
    Db(diesel::result::Error),
}

impl<E> From<diesel::result::Error> for TxError<E> {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Db(e)
    }
}

impl<E: From<DbError>> TxError<E> {
    fn into_app(self) -> E {
        match self {
            TxError::App(e) => e,
            TxError::Db(e) => E::from(DbError::from(e)),
        }
    }
}

/// Serializes transactions on `key` (PostgreSQL: an advisory transaction lock; SQLite's
/// write transactions are serial already). Call inside a write transaction.
pub fn lock(conn: &mut DbConnection, key: &str) -> Result<(), DbError> {
    if let DbConnection::Pg(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(key)
            .execute(pg)?;
    }
    Ok(())
}
