//! The use-cases of Gongyou, shared by the HTTP API and the background jobs: apply and
//! review membership, sign in, manage and search stations, notify. Each is a plain async
//! function over one [`Context`] (database pool, key/value store, clock, crypto, token keys,
//! providers) that takes the acting [`Actor`] where a decision depends on who asks, and
//! answers with its result or one [`ServiceError`] (a stable code, a zh-CN detail, whether
//! it is worth retrying). Nothing here knows HTTP: the API maps errors to problem+json, the
//! job runner to retry or dead.
//!
//! The path of every feature: a rule in `gongyou-domain` → a query in `gongyou-db` → a
//! use-case here → a thin route in `gongyou-api` and/or a thin job in `gongyou-jobs`.

pub mod accounts;
pub mod actor;
pub mod authz;
pub mod claims;
pub mod config;
pub mod context;
pub mod crypto;
pub mod error;
pub mod files;
pub mod images;
pub mod membership;
pub mod membership_card;
pub mod metrics;
pub mod network;
pub mod notifications;
pub mod ops;
pub mod orgs;
pub mod page;
pub mod payouts;
pub mod plans;
pub mod queue;
pub mod reconcile;
pub mod rotation;
pub mod schema;
pub mod staff;
pub mod stations;
pub mod telemetry;
pub mod text;
pub mod views;

pub use actor::{Actor, ScopedRole, Subject};
pub use context::Context;
pub use error::{Kind, ServiceError, ServiceResult};
