//! Background work of Gongyou: the job queue's runtime (on the `jobs` table, both backends)
//! and one thin handler per kind of job, each parsing its payload, calling one use-case of
//! `gongyou-services` and mapping the outcome to done, retry or dead.
//!
//! - A job kind is a [`gongyou_db::jobs::Job`] type, defined beside the use-case that
//!   enqueues it (inside the caller's transaction, with `job.enqueue(conn, now)`).
//! - [`registry`] is every handler Gongyou runs; [`periodic`] its scheduled jobs.
//! - `gongyou worker` (and `gongyou demo`, in-process) run them with a [`Worker`].

mod handlers;
mod listen;
mod runtime;
mod schedule;

pub use handlers::claim_reminders::ClaimReminders;
pub use handlers::housekeeping::{purge, Housekeeping};
pub use runtime::{JobContext, JobError, Periodic, Registry, Worker, WorkerConfig};
pub use schedule::Schedule;

use std::time::Duration;

use gongyou_db::DbError;
use gongyou_services::config::Config;
use gongyou_services::notifications::outbox::Dispatch;
use gongyou_services::Context;

/// Every job Gongyou runs.
pub fn registry() -> Registry {
    let mut registry = Registry::default();
    registry.job(handlers::housekeeping::run);
    registry.job(handlers::auto_approve::run);
    registry.job(handlers::fan_out::run);
    registry.job(handlers::dispatch::run);
    registry.job(handlers::roster_import::run);
    registry.job(handlers::claim_reminders::run);
    registry.job(handlers::payouts::send);
    registry.job(handlers::payouts::check);
    registry.job(handlers::reconcile::daily);
    registry.job(handlers::reconcile::run);
    registry.job(handlers::rotate_data_key::run);
    registry
}

/// Gongyou's periodic jobs: housekeeping, the dispatcher as a safety net, the reminders of
/// claims waiting on reviewers, and the check of payouts in flight.
pub fn periodic(config: &Config) -> Result<Vec<Periodic>, DbError> {
    Ok(vec![
        Periodic::of(
            &Housekeeping {},
            Schedule::Every(config.housekeeping_interval),
        )?,
        Periodic::of(
            &Dispatch::default(),
            Schedule::Every(Duration::from_secs(60)),
        )?,
        Periodic::of(
            &handlers::claim_reminders::ClaimReminders {},
            Schedule::Every(Duration::from_secs(3600)),
        )?,
        Periodic::of(
            &gongyou_services::payouts::CheckPayouts::default(),
            Schedule::Every(config.payout_check_interval),
        )?,
        Periodic::of(
            &gongyou_services::reconcile::ReconcileDaily::default(),
            Schedule::DailyAt {
                hour: config.reconcile_hour,
                minute: 0,
            },
        )?,
    ])
}

/// The worker of `gongyou worker` and `gongyou demo`: every handler, the periodic jobs,
/// configured from the services' configuration.
pub fn worker(services: Context) -> Result<Worker, DbError> {
    let periodic = periodic(&services.config)?;
    let config = WorkerConfig::from(&services.config.worker);
    Ok(Worker::new(services, registry(), config).with_periodic(periodic))
}
