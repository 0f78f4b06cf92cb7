//! The storage layer's error type.

/// What can go wrong below the API.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database connection unavailable: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("could not connect to the database: {0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("invalid database URL: {0}")]
    Url(String),
    #[error("a job payload could not be encoded: {0}")]
    Payload(String),
    #[error("blocking database task failed")]
    Join(#[from] tokio::task::JoinError),
}

impl DbError {
    /// Whether the database was busy: SQLite's write lock held past the busy timeout, a
    /// PostgreSQL lock not granted within `lock_timeout`, or a serialization failure. Worth
    /// retrying shortly; answered 503.
    pub fn is_busy(&self) -> bool {
        match self {
            DbError::Query(diesel::result::Error::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    diesel::result::DatabaseErrorKind::SerializationFailure
                ) || {
                    let message = info.message();
                    message.contains("database is locked")
                        || message.contains("database table is locked")
                        || message.contains("lock timeout")
                }
            }
            _ => false,
        }
    }

    /// Whether the error is a unique-constraint violation (someone else inserted first).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}
