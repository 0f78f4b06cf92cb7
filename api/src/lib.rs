//! The Gongyou HTTP API: configuration, start-up, errors, middleware, routes, and the
//! reusable pieces handlers share (idempotency keys).

pub mod auth;
pub mod authz;
pub mod background;
pub mod config;
pub mod crypto;
pub mod error;
pub mod files;
pub mod geo;
pub mod idempotency;
pub mod membership_card;
pub mod metrics;
pub mod middleware;
pub mod notify;
pub mod openapi;
pub mod providers;
pub mod routes;
pub mod seed;
pub mod startup;
pub mod state;
pub mod station_index;
pub mod station_seed;
pub mod stations;
pub mod telemetry;
