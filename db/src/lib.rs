//! Storage of Gongyou: one diesel connection type over PostgreSQL and SQLite (picked by URL
//! scheme), r2d2 pools, the write-transaction helper, embedded migrations, schema
//! introspection, per-aggregate queries, and the key/value store (Redis or in-process).

pub mod accounts;
pub mod campaigns;
pub mod connection;
pub mod error;
pub mod idempotency;
pub mod introspect;
pub mod jobs;
pub mod kv;
pub mod membership;
pub mod migrate;
pub mod notifications;
pub mod orgs;
pub mod pool;
pub mod schema;
pub mod staff;
pub mod tx;

pub use connection::{Backend, DatabaseUrl, DbConnection};
pub use error::DbError;
pub use pool::{Db, PoolOptions, PoolStats};
pub use tx::write_tx;
