//! Storage of the job queue. Claiming is one short statement — on PostgreSQL
//! `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, on SQLite the same
//! inside `BEGIN IMMEDIATE` — and no transaction is held while a job runs: the claim is a
//! lease (`locked_until`), extended by heartbeats, that another worker may take over once
//! it lapses. Completion and failure only apply while the caller still holds the lease.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use gongyou_domain::status::JobStatus;

use crate::schema::{jobs, periodic_runs};
use crate::{write_tx, DbConnection, DbError};

const QUEUED: &str = JobStatus::Queued.as_str();
const RUNNING: &str = JobStatus::Running.as_str();
const FAILED: &str = JobStatus::Failed.as_str();
const DEAD: &str = JobStatus::Dead.as_str();
const DONE: &str = JobStatus::Done.as_str();

/// PostgreSQL channel that wakes workers on enqueue.
pub const NOTIFY_CHANNEL: &str = "gongyou_jobs";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: String,
    pub name: String,
    pub queue: String,
    pub priority: i32,
    pub dedup_key: Option<String>,
    pub payload: String,
    /// A [`JobStatus`] as text ([`JobRow::status`] parses it): the claim reads rows by name
    /// (`RETURNING *`), which converts only infallibly.
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: NaiveDateTime,
    pub locked_by: Option<String>,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

impl JobRow {
    /// The status; None for a text no status has (a row written by a newer version).
    pub fn status(&self) -> Option<JobStatus> {
        JobStatus::parse(&self.status)
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub name: String,
    pub queue: String,
    pub priority: i32,
    pub dedup_key: Option<String>,
    pub payload: String,
    pub max_attempts: i32,
    pub run_at: NaiveDateTime,
}

/// A kind of background job: its name (the handler it runs), queue, priority, attempts and
/// dedup key, with its payload as the value itself (JSON). Defined beside the use-case that
/// enqueues it; `gongyou-jobs` registers a handler per kind that gets the payload back typed.
pub trait Job: serde::Serialize + serde::de::DeserializeOwned + Send + 'static {
    /// The job's name, stored with it: never rename one that may be queued.
    const NAME: &'static str;
    const QUEUE: &'static str = "default";
    /// Higher runs first among due jobs.
    const PRIORITY: i32 = 0;
    /// Attempts before it is dead (failures are retried with backoff until then).
    const MAX_ATTEMPTS: i32 = 5;

    /// While a job with this key is queued, running or failed, enqueueing another does nothing.
    fn dedup_key(&self) -> Option<String> {
        None
    }

    /// The row to write for this job, due at `run_at`.
    fn new_job(&self, run_at: NaiveDateTime) -> Result<NewJob, DbError> {
        Ok(NewJob {
            name: Self::NAME.into(),
            queue: Self::QUEUE.into(),
            priority: Self::PRIORITY,
            dedup_key: self.dedup_key(),
            payload: serde_json::to_string(self)
                .map_err(|e| DbError::Payload(format!("{}: {e}", Self::NAME)))?,
            max_attempts: Self::MAX_ATTEMPTS,
            run_at,
        })
    }

    /// Enqueues it, due now, inside the caller's transaction (see [`enqueue`]).
    fn enqueue(
        &self,
        conn: &mut DbConnection,
        now: NaiveDateTime,
    ) -> Result<Option<String>, DbError> {
        enqueue(conn, &self.new_job(now)?, now)
    }
}

/// Enqueues inside the caller's transaction. With a dedup key that a live job (queued,
/// running or failed) already holds, nothing is enqueued and `None` is returned.
pub fn enqueue(
    conn: &mut DbConnection,
    job: &NewJob,
    now: NaiveDateTime,
) -> Result<Option<String>, DbError> {
    if let Some(key) = &job.dedup_key {
        let live: i64 = jobs::table
            .filter(jobs::dedup_key.eq(key))
            .filter(jobs::status.eq_any(live_statuses()))
            .count()
            .get_result(conn)?;
        if live > 0 {
            return Ok(None);
        }
    }
    let id = gongyou_domain::id::new_id();
    let row = JobRow {
        id: id.clone(),
        name: job.name.clone(),
        queue: job.queue.clone(),
        priority: job.priority,
        dedup_key: job.dedup_key.clone(),
        payload: job.payload.clone(),
        status: QUEUED.into(),
        attempts: 0,
        max_attempts: job.max_attempts.max(1),
        run_at: job.run_at,
        locked_by: None,
        locked_until: None,
        last_error: None,
        created_at: now,
        updated_at: now,
        finished_at: None,
    };
    // Two writers may both have seen no live job: the dedup index refuses the second,
    // inside a savepoint so that its transaction goes on (and commits what else it wrote).
    let inserted = crate::tx::insert_unless_taken(conn, |c| {
        diesel::insert_into(jobs::table).values(&row).execute(c)
    })?;
    if !inserted {
        return Ok(None);
    }
    if let DbConnection::Pg(pg) = conn {
        // Delivered when the surrounding transaction commits.
        diesel::sql_query(format!("NOTIFY {NOTIFY_CHANNEL}")).execute(pg)?;
    }
    Ok(Some(id))
}

/// The statuses that hold a dedup key.
fn live_statuses() -> Vec<&'static str> {
    JobStatus::ALL
        .iter()
        .filter(|s| s.is_live())
        .map(|s| s.as_str())
        .collect()
}

const CLAIM_PG: &str = "
UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, updated_at = $3
WHERE id = (
    SELECT id FROM jobs
    WHERE queue = $4
      AND ((status IN ('queued', 'failed') AND run_at <= $3) OR (status = 'running' AND locked_until < $3))
    ORDER BY priority DESC, run_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING *";

const CLAIM_SQLITE: &str = "
UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, updated_at = $3
WHERE id = (
    SELECT id FROM jobs
    WHERE queue = $4
      AND ((status IN ('queued', 'failed') AND run_at <= $3) OR (status = 'running' AND locked_until < $3))
    ORDER BY priority DESC, run_at, id
    LIMIT 1
)
RETURNING *";

/// Claims the next due job of `queue` (or one whose lease lapsed) for `worker` until
/// `lease_until`. Jobs whose attempts are used up when their lease lapsed go dead instead.
pub fn claim(
    conn: &mut DbConnection,
    queue: &str,
    worker: &str,
    lease_until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Option<JobRow>, DbError> {
    loop {
        let claimed: Option<JobRow> = match conn {
            DbConnection::Pg(pg) => diesel::sql_query(CLAIM_PG)
                .bind::<Text, _>(worker)
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<Text, _>(queue)
                .get_result(pg)
                .optional()?,
            DbConnection::Sqlite(_) => write_tx(conn, |conn| {
                let DbConnection::Sqlite(lite) = conn else {
                    return Ok::<_, DbError>(None);
                };
                Ok(diesel::sql_query(CLAIM_SQLITE)
                    .bind::<Text, _>(worker)
                    .bind::<Timestamp, _>(lease_until)
                    .bind::<Timestamp, _>(now)
                    .bind::<Text, _>(queue)
                    .get_result(lite)
                    .optional()?)
            })?,
        };
        let Some(job) = claimed else {
            return Ok(None);
        };
        if job.attempts > job.max_attempts {
            // Its last attempt's worker died: nothing is left to try.
            mark_dead(conn, &job.id, "lease lapsed after the last attempt", now)?;
            continue;
        }
        return Ok(Some(job));
    }
}

fn mark_dead(
    conn: &mut DbConnection,
    id: &str,
    error: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(jobs::table.find(id))
        .set((
            jobs::status.eq(DEAD),
            jobs::locked_by.eq(None::<String>),
            jobs::locked_until.eq(None::<NaiveDateTime>),
            jobs::last_error.eq(error),
            jobs::updated_at.eq(now),
            jobs::finished_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The job, while `worker` holds its lease.
macro_rules! held_by {
    ($id:expr, $worker:expr) => {
        jobs::table.filter(
            jobs::id
                .eq($id)
                .and(jobs::locked_by.eq($worker))
                .and(jobs::status.eq(RUNNING)),
        )
    };
}

/// Extends a lease; false when the lease was lost (another worker took the job over).
pub fn heartbeat(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    lease_until: NaiveDateTime,
) -> Result<bool, DbError> {
    Ok(diesel::update(held_by!(id, worker))
        .set(jobs::locked_until.eq(lease_until))
        .execute(conn)?
        == 1)
}

pub fn complete(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    Ok(diesel::update(held_by!(id, worker))
        .set((
            jobs::status.eq(DONE),
            jobs::locked_by.eq(None::<String>),
            jobs::locked_until.eq(None::<NaiveDateTime>),
            jobs::updated_at.eq(now),
            jobs::finished_at.eq(now),
        ))
        .execute(conn)?
        == 1)
}

/// Records a failed attempt: retried at `retry_at`, or dead when `retry_at` is `None`.
pub fn fail(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    error: &str,
    retry_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let changed = match retry_at {
        Some(at) => diesel::update(held_by!(id, worker))
            .set((
                jobs::status.eq(FAILED),
                jobs::run_at.eq(at),
                jobs::locked_by.eq(None::<String>),
                jobs::locked_until.eq(None::<NaiveDateTime>),
                jobs::last_error.eq(error),
                jobs::updated_at.eq(now),
            ))
            .execute(conn)?,
        None => diesel::update(held_by!(id, worker))
            .set((
                jobs::status.eq(DEAD),
                jobs::locked_by.eq(None::<String>),
                jobs::locked_until.eq(None::<NaiveDateTime>),
                jobs::last_error.eq(error),
                jobs::updated_at.eq(now),
                jobs::finished_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(changed == 1)
}

/// "Not yet": the job looks again at `at` (a statement not published yet, a window not open),
/// and this attempt does not count against its attempts.
pub fn later(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    note: &str,
    at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    Ok(diesel::update(held_by!(id, worker))
        .set((
            jobs::status.eq(QUEUED),
            jobs::run_at.eq(at),
            jobs::attempts.eq(jobs::attempts - 1),
            jobs::locked_by.eq(None::<String>),
            jobs::locked_until.eq(None::<NaiveDateTime>),
            jobs::last_error.eq(note),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?
        == 1)
}

/// Gives a claimed job back untouched (graceful shutdown): the attempt does not count.
pub fn release(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    Ok(diesel::update(held_by!(id, worker))
        .set((
            jobs::status.eq(QUEUED),
            jobs::attempts.eq(jobs::attempts - 1),
            jobs::locked_by.eq(None::<String>),
            jobs::locked_until.eq(None::<NaiveDateTime>),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?
        == 1)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<JobRow>, DbError> {
    Ok(jobs::table
        .find(id)
        .select(JobRow::as_select())
        .first(conn)
        .optional()?)
}

/// An operator's retry of a dead or failed job: due now, with a fresh set of attempts.
pub fn retry_now(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<bool, DbError> {
    Ok(
        diesel::update(
            jobs::table.filter(jobs::id.eq(id).and(jobs::status.eq_any([DEAD, FAILED]))),
        )
        .set((
            jobs::status.eq(QUEUED),
            jobs::attempts.eq(0),
            jobs::run_at.eq(now),
            jobs::finished_at.eq(None::<NaiveDateTime>),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?
            == 1,
    )
}

pub fn list(
    conn: &mut DbConnection,
    status: Option<JobStatus>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<JobRow>, DbError> {
    let mut q = jobs::table.select(JobRow::as_select()).into_boxed();
    if let Some(status) = status {
        q = q.filter(jobs::status.eq(status.as_str()));
    }
    if let Some(after) = after {
        q = q.filter(jobs::id.gt(after));
    }
    Ok(q.order(jobs::id).limit(limit).load(conn)?)
}

#[derive(QueryableByName)]
struct StatusCount {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Jobs per status.
pub fn counts(conn: &mut DbConnection) -> Result<Vec<(String, i64)>, DbError> {
    let rows: Vec<StatusCount> = match conn {
        DbConnection::Pg(c) => diesel::sql_query(
            "SELECT status, CAST(COUNT(*) AS BIGINT) AS n FROM jobs GROUP BY status",
        )
        .load(c)?,
        DbConnection::Sqlite(c) => {
            diesel::sql_query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status").load(c)?
        }
    };
    Ok(rows.into_iter().map(|r| (r.status, r.n)).collect())
}

/// Deletes finished (done) jobs older than `before`; returns how many.
pub fn purge_done(conn: &mut DbConnection, before: NaiveDateTime) -> Result<usize, DbError> {
    Ok(
        diesel::delete(jobs::table.filter(jobs::status.eq(DONE).and(jobs::finished_at.lt(before))))
            .execute(conn)?,
    )
}

/// Enqueues the job of one period of a periodic schedule, once however many schedulers try:
/// the (name, period) row and the job are written in one transaction.
pub fn enqueue_periodic(
    conn: &mut DbConnection,
    job: &NewJob,
    period_start: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Option<String>, DbError> {
    let result = write_tx(conn, |conn| {
        let exists: i64 = periodic_runs::table
            .filter(
                periodic_runs::name
                    .eq(&job.name)
                    .and(periodic_runs::period_start.eq(period_start)),
            )
            .count()
            .get_result(conn)?;
        if exists > 0 {
            return Ok::<_, DbError>(None);
        }
        let Some(id) = enqueue(conn, job, now)? else {
            return Ok(None);
        };
        diesel::insert_into(periodic_runs::table)
            .values((
                periodic_runs::name.eq(&job.name),
                periodic_runs::period_start.eq(period_start),
                periodic_runs::job_id.eq(&id),
                periodic_runs::created_at.eq(now),
            ))
            .execute(conn)?;
        Ok(Some(id))
    });
    match result {
        // Another scheduler recorded this period first (PostgreSQL race).
        Err(e) if e.is_unique_violation() => Ok(None),
        other => other,
    }
}
