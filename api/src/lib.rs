//! The Gongyou HTTP API (actix-web only): start-up, state, middleware, the `Caller`
//! extractor, error mapping to problem+json, idempotency keys, the OpenAPI document, and
//! thin routes that parse, call one use-case of `gongyou-services` and shape the answer;
//! and the staff console's embedded assets at `/console/`.

pub mod auth;
pub mod console;
pub mod error;
pub mod idempotency;
pub mod methods;
pub mod middleware;
pub mod openapi;
pub mod paging;
pub mod routes;
pub mod startup;
pub mod state;
