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
