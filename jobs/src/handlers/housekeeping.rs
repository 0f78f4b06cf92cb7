//! Housekeeping, as a periodic job: expired idempotency keys, week-old finished jobs, the
//! device ids frozen in push batches finished more than a day ago, and orphaned sealed
//! files (uploads abandoned, or never attached, for more than a day; ADR 016). After a
//! data-key rotation (`GONGYOU_DATA_KEY_PREVIOUS` set) it also rewraps sealed files' keys
//! under the current data key, so the previous one can be dropped. The money records of
//! erased people's claims are deleted once their retention period is over
//! (`GONGYOU_CLAIM_RETENTION_YEARS`, ADR 018).

use gongyou_db::jobs::{self as store, Job};
use gongyou_db::{Db, DbError};
use gongyou_domain::clock::SharedClock;
use serde::{Deserialize, Serialize};

use crate::{JobContext, JobError};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Housekeeping {}

impl Job for Housekeeping {
    const NAME: &'static str = "housekeeping";
    const MAX_ATTEMPTS: i32 = 3;
}

pub async fn run(ctx: JobContext, _job: Housekeeping) -> Result<(), JobError> {
    let (keys, jobs) = purge(&ctx.services.db, &ctx.services.clock).await?;
    let cutoff = (ctx.services.clock.now() - chrono::Duration::days(1)).naive_utc();
    let batches = ctx
        .services
        .db
        .run(move |conn| gongyou_db::campaigns::clear_done_requests(conn, cutoff))
        .await?;
    let retention = i64::from(ctx.services.config.claim_retention_years);
    let kept_since =
        (ctx.services.clock.now() - chrono::Duration::days(365 * retention)).naive_utc();
    let claims = ctx
        .services
        .db
        .run(move |conn| {
            gongyou_db::write_tx(conn, |conn| {
                gongyou_db::claims::purge_erased(conn, kept_since)
            })
        })
        .await?;
    let files = ctx.services.sealed_files.sweep_orphans().await?;
    let rewrap = if ctx.services.config.data_key_previous.is_some() {
        ctx.services.sealed_files.rewrap_keys().await?
    } else {
        Default::default()
    };
    if keys
        + jobs
        + batches
        + claims
        + files.orphans
        + files.removed
        + files.failed
        + rewrap.rewrapped
        > 0
    {
        tracing::info!(
            idempotency_keys = keys,
            jobs = jobs,
            push_batches = batches,
            claims_past_retention = claims,
            orphaned_files = files.orphans,
            file_objects_removed = files.removed,
            file_objects_not_removed = files.failed,
            file_keys_rewrapped = rewrap.rewrapped,
            "housekeeping purged"
        );
    }
    Ok(())
}

/// Deletes expired idempotency keys and finished jobs older than a week; returns both counts.
pub async fn purge(db: &Db, clock: &SharedClock) -> Result<(usize, usize), DbError> {
    let now = clock.now();
    db.run(move |conn| {
        let keys = gongyou_db::idempotency::purge_expired(conn, now)?;
        let jobs = store::purge_done(conn, (now - chrono::Duration::days(7)).naive_utc())?;
        Ok((keys, jobs))
    })
    .await
}
