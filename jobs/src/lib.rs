//! Background work of Gongyou. Today: housekeeping (expired idempotency keys are purged on
//! an interval). The job queue with retries, leases and periodic jobs replaces this loop's
//! scheduling when it lands; the purge itself stays a job.

use std::time::Duration;

use gongyou_db::Db;
use gongyou_domain::clock::SharedClock;
use tokio::sync::watch;

/// One housekeeping pass; returns how many expired idempotency keys were deleted.
pub async fn housekeeping_pass(db: &Db, clock: &SharedClock) -> Result<usize, gongyou_db::DbError> {
    let now = clock.now();
    db.run(move |conn| gongyou_db::idempotency::purge_expired(conn, now))
        .await
}

/// Runs housekeeping every `interval` until `shutdown` turns true.
pub async fn run_housekeeping(
    db: Db,
    clock: SharedClock,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::info!(interval_secs = interval.as_secs(), "worker started");
    loop {
        match housekeeping_pass(&db, &clock).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged expired idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed; will retry"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    tracing::info!("worker stopped");
}
