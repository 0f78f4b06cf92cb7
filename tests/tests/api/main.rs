//! Black-box API tests: one binary, modules by subject. Each test spawns its own app.

mod auth_sessions;
mod auth_sms;
mod auth_staff;
mod auth_wechat;
mod claims;
mod console;
mod errors;
mod idempotency;
mod jobs;
mod membership;
mod notifications;
mod openapi;
mod ops;
mod orgs;
mod payout_statement_template;
mod payouts;
mod payouts_crash;
mod plans;
mod reconciliation;
mod reconciliation_bank;
mod roster;
mod schema;
mod scope;
mod staff_contact_phone;
mod stations;
mod store;
