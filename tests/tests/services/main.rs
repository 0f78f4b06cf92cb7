//! The use-cases themselves, without HTTP, on this run's backend: the rules that live in
//! `gongyou-services` (state machines, authorization by actor, job outcomes) and the job
//! handlers that call them. Black-box API tests (`tests/api`) cover the same paths as a
//! phone sees them.

mod data_key_rotation;
mod files;
mod membership;
mod notifications;
mod queue;
mod reconcile_pages;
mod stations;
