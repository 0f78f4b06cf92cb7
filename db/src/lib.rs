//! Storage of Gongyou: one diesel connection type over PostgreSQL and SQLite (picked by URL
//! scheme), r2d2 pools, the write-transaction helper, embedded migrations, schema
//! introspection, per-aggregate queries, and the key/value store (Redis or in-process).

/// Filters a boxed query (joined with `orgs`) to rows whose org lies under any of the paths
/// in `$within` (a non-empty slice of materialized paths): "this subtree and below".
macro_rules! within_subtrees {
    ($query:expr, $within:expr) => {{
        let within: &[String] = $within;
        let mut scope: Box<dyn diesel::BoxableExpression<_, _, SqlType = diesel::sql_types::Bool>> =
            Box::new(crate::schema::orgs::path.like(format!("{}%", within[0])));
        for path in &within[1..] {
            scope = Box::new(scope.or(crate::schema::orgs::path.like(format!("{path}%"))));
        }
        $query.filter(scope)
    }};
}
pub(crate) use within_subtrees;

pub mod accounts;
pub mod campaigns;
pub mod claims;
pub mod connection;
pub mod error;
pub mod files;
pub mod idempotency;
pub mod introspect;
pub mod jobs;
pub mod kv;
pub mod membership;
pub mod migrate;
pub mod notifications;
pub mod orgs;
pub mod payouts;
pub mod personal;
pub mod plans;
pub mod pool;
pub mod roster;
pub mod schema;
pub mod staff;
pub mod stations;
pub mod tx;

pub use connection::{Backend, DatabaseUrl, DbConnection};
pub use error::DbError;
pub use pool::{Db, PoolOptions, PoolStats};
pub use tx::{lock, write_tx};
