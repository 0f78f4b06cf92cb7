//! Black-box API tests: one binary, modules by subject. Each test spawns its own app.

mod errors;
mod idempotency;
mod openapi;
mod ops;
mod schema;
mod store;
