//! Storage of Gongyou: one diesel connection type over PostgreSQL and SQLite (picked by URL
//! scheme), r2d2 pools, the write-transaction helper, embedded migrations, schema
//! introspection, per-aggregate queries, and the key/value store (Redis or in-process).

/// Filters a boxed query (joined with `orgs`) to rows whose org lies under any of the paths
/// in `$within` (a non-empty slice of materialized paths): "this subtree and below".
/// `within_subtrees!(query, within, column)` filters on another path column (e.g. a row's
/// frozen `org_path`).
macro_rules! within_subtrees {
    ($query:expr, $within:expr) => {
        crate::within_subtrees!($query, $within, crate::schema::orgs::path)
    };
    ($query:expr, $within:expr, $column:expr) => {{
        let within: &[String] = $within;
        let mut scope: Box<dyn diesel::BoxableExpression<_, _, SqlType = diesel::sql_types::Bool>> =
            Box::new($column.like(format!("{}%", within[0])));
        for path in &within[1..] {
            scope = Box::new(scope.or($column.like(format!("{path}%"))));
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
pub mod reconcile;
pub mod roster;
pub mod rotation;
pub mod schema;
pub mod staff;
pub mod stations;
pub mod subscribe_batches;
pub mod tx;

pub use connection::{Backend, DatabaseUrl, DbConnection};
pub use error::DbError;
pub use pool::{Db, PoolOptions, PoolStats};
pub use tx::{lock, write_tx};
