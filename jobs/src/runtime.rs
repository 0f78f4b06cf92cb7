//! The queue runtime: a [`Worker`] claims due jobs one statement at a time, runs each under
//! a lease that a heartbeat extends, and records success, a retry (exponential backoff with
//! jitter) or death after `max_attempts`. No transaction is held while a job runs; a worker
//! that dies stops heart-beating and its job is claimed again once the lease lapses.
//! Periodic jobs are enqueued once per period however many workers run. On PostgreSQL,
//! `NOTIFY` on enqueue wakes workers at once; polling is the fallback.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use gongyou_db::jobs::{self as store, Job, JobRow, NewJob};
use gongyou_db::{Db, DbError};
use gongyou_domain::clock::SharedClock;
use gongyou_services::config::WorkerSettings;
use gongyou_services::metrics::Metrics;
use gongyou_services::{Context, ServiceError};
use rand::Rng;
use tokio::sync::{watch, Notify, Semaphore};

use crate::listen;
use crate::schedule::Schedule;

/// How a job attempt ended badly.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth trying again later (timeouts, 5xx, 429, a busy database).
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// Never going to work (bad payload, a provider's permanent refusal): dead at once.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
    /// Not yet (a statement not published, a window not open): look again at `at`. Not a
    /// failure: the attempt does not count, however often it comes.
    #[error("not yet, again at {at}: {reason}")]
    Later {
        at: chrono::DateTime<chrono::Utc>,
        reason: String,
    },
}

impl From<DbError> for JobError {
    fn from(e: DbError) -> Self {
        JobError::Retry(e.into())
    }
}

/// A use-case's failure: retried when trying again may help (an outage, a limit, the
/// unexpected), dead at once when it will fail the same way (a rule, bad input, a refusal).
impl From<ServiceError> for JobError {
    fn from(e: ServiceError) -> Self {
        if e.is_retryable() {
            JobError::Retry(e.into())
        } else {
            JobError::Permanent(e.into())
        }
    }
}

/// What a handler gets: the services' context and which attempt of which job this is.
#[derive(Clone)]
pub struct JobContext {
    pub services: Context,
    pub job_id: String,
    /// 1 for the first attempt.
    pub attempt: i32,
}

type Handler =
    Arc<dyn Fn(JobContext, String) -> BoxFuture<'static, Result<(), JobError>> + Send + Sync>;

/// Job names and their handlers.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Handler>,
}

impl Registry {
    /// Registers `handler` for jobs of kind `J`; it receives the payload parsed (a payload
    /// that does not parse kills the job: it would never parse).
    pub fn job<J, F, Fut>(&mut self, handler: F)
    where
        J: Job,
        F: Fn(JobContext, J) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.handlers.insert(
            J::NAME.to_owned(),
            Arc::new(
                move |ctx, payload: String| -> BoxFuture<'static, Result<(), JobError>> {
                    match serde_json::from_str::<J>(&payload) {
                        Ok(job) => Box::pin(handler(ctx, job)),
                        Err(e) => Box::pin(async move {
                            Err(JobError::Permanent(anyhow::anyhow!(
                                "unreadable {} payload: {e}",
                                J::NAME
                            )))
                        }),
                    }
                },
            ),
        );
    }

    /// Registers `handler` for jobs named `name`; it receives the payload (JSON text).
    pub fn register<F, Fut>(&mut self, name: &str, handler: F)
    where
        F: Fn(JobContext, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        self.handlers.insert(
            name.to_owned(),
            Arc::new(move |ctx, payload| Box::pin(handler(ctx, payload))),
        );
    }
}

/// A job enqueued on a schedule: once per period, due at the period's start.
#[derive(Debug, Clone)]
pub struct Periodic {
    pub schedule: Schedule,
    job: NewJob,
}

impl Periodic {
    /// `job` every period of `schedule`.
    pub fn of<J: Job>(job: &J, schedule: Schedule) -> Result<Self, DbError> {
        Ok(Self {
            schedule,
            job: job.new_job(chrono::DateTime::UNIX_EPOCH.naive_utc())?,
        })
    }

    /// A job by name and payload (for jobs without a [`Job`] type, such as a test's).
    pub fn named(name: &str, payload: &str, schedule: Schedule) -> Self {
        Self {
            schedule,
            job: NewJob {
                name: name.to_owned(),
                queue: "default".into(),
                priority: 0,
                dedup_key: None,
                payload: payload.to_owned(),
                max_attempts: 3,
                run_at: chrono::DateTime::UNIX_EPOCH.naive_utc(),
            },
        }
    }

    pub fn name(&self) -> &str {
        &self.job.name
    }
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub queue: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// A claim lasts this long unless a heartbeat extends it.
    pub lease: Duration,
    /// How often to look for due jobs when nothing wakes the worker.
    pub poll_interval: Duration,
    /// First retry delay; doubled per attempt, capped at `backoff_max`, ±25 % jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// On shutdown, how long running jobs may take to finish before they are released.
    pub shutdown_grace: Duration,
}

impl From<&WorkerSettings> for WorkerConfig {
    fn from(s: &WorkerSettings) -> Self {
        Self {
            concurrency: s.concurrency,
            lease: s.lease,
            poll_interval: s.poll_interval,
            shutdown_grace: s.shutdown_grace,
            ..Self::default()
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            queue: "default".into(),
            concurrency: 4,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(2),
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(3600),
            shutdown_grace: Duration::from_secs(25),
        }
    }
}

/// Runs jobs of one queue.
#[derive(Clone)]
pub struct Worker {
    id: String,
    services: Context,
    db: Db,
    clock: SharedClock,
    registry: Arc<Registry>,
    config: WorkerConfig,
    periodic: Arc<Vec<Periodic>>,
    wake: Arc<Notify>,
    running: Arc<Mutex<HashSet<String>>>,
    metrics: Option<Arc<Metrics>>,
}

/// A worker's name on the jobs it claims: host (the pod, on Kubernetes) and process id, so an
/// operator can tell whose lease a job is under, and a random part, so names never repeat.
fn worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && h.len() <= 64)
        .unwrap_or_else(|| "host".to_owned());
    let random = gongyou_domain::id::new_id();
    let tail = random
        .get(random.len().saturating_sub(8)..)
        .unwrap_or(&random);
    format!("worker-{host}-{}-{tail}", std::process::id())
}

impl Worker {
    pub fn new(services: Context, registry: Registry, config: WorkerConfig) -> Self {
        Self {
            id: worker_id(),
            db: services.db.clone(),
            clock: services.clock.clone(),
            services,
            registry: Arc::new(registry),
            config,
            periodic: Arc::new(Vec::new()),
            wake: Arc::new(Notify::new()),
            running: Arc::default(),
            metrics: None,
        }
    }

    pub fn with_periodic(mut self, periodic: Vec<Periodic>) -> Self {
        self.periodic = Arc::new(periodic);
        self
    }

    /// Records every attempt's outcome, duration and wait in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn lease_until(&self) -> chrono::NaiveDateTime {
        (self.now()
            + chrono::Duration::from_std(self.config.lease)
                .unwrap_or_else(|_| chrono::Duration::seconds(60)))
        .naive_utc()
    }

    /// Enqueues the current period of every periodic job (once per period across workers).
    pub async fn schedule_periodic(&self) -> Result<usize, DbError> {
        let now = self.now();
        let mut enqueued = 0;
        for p in self.periodic.iter() {
            let start = p.schedule.period_start(now);
            let job = NewJob {
                run_at: start.naive_utc(),
                ..p.job.clone()
            };
            let at = now.naive_utc();
            let id = self
                .db
                .run(move |conn| store::enqueue_periodic(conn, &job, start.naive_utc(), at))
                .await?;
            enqueued += usize::from(id.is_some());
        }
        Ok(enqueued)
    }

    async fn claim(&self) -> Result<Option<JobRow>, DbError> {
        let (queue, worker, lease, now) = (
            self.config.queue.clone(),
            self.id.clone(),
            self.lease_until(),
            self.now().naive_utc(),
        );
        self.db
            .run(move |conn| store::claim(conn, &queue, &worker, lease, now))
            .await
    }

    fn backoff(&self, attempt: i32) -> Duration {
        let exponent = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let base = self
            .config
            .backoff_base
            .saturating_mul(2u32.saturating_pow(exponent));
        let capped = base.min(self.config.backoff_max);
        let jitter = rand::rng().random_range(0.75..=1.25);
        capped.mul_f64(jitter)
    }

    /// Runs one claimed job to its end: handler under heartbeats, then the record.
    async fn execute(&self, job: JobRow) {
        let started = std::time::Instant::now();
        let wait_seconds = (self.now().naive_utc() - job.run_at)
            .num_milliseconds()
            .max(0) as f64
            / 1000.0;
        let Some(handler) = self.registry.handlers.get(&job.name).cloned() else {
            let outcome = self
                .finish(
                    &job,
                    Err(JobError::Permanent(anyhow::anyhow!(
                        "no handler for job {}",
                        job.name
                    ))),
                )
                .await;
            self.observe(&job, outcome, started, wait_seconds);
            return;
        };
        let ctx = JobContext {
            services: self.services.clone(),
            job_id: job.id.clone(),
            attempt: job.attempts,
        };
        let work = handler(ctx, job.payload.clone());
        tokio::pin!(work);
        let beat_every = self.config.lease / 3;
        let result = loop {
            tokio::select! {
                result = &mut work => break Some(result),
                _ = tokio::time::sleep(beat_every) => {
                    let (id, worker, lease) = (job.id.clone(), self.id.clone(), self.lease_until());
                    match self.db.run(move |conn| store::heartbeat(conn, &id, &worker, lease)).await {
                        Ok(true) => {}
                        Ok(false) => break None,
                        Err(e) => tracing::warn!(job = %job.id, error = %e, "heartbeat failed"),
                    }
                }
            }
        };
        let outcome = match result {
            Some(result) => self.finish(&job, result).await,
            None => {
                tracing::warn!(job = %job.id, name = %job.name, "lease lost: another worker took the job over");
                "lost"
            }
        };
        self.observe(&job, outcome, started, wait_seconds);
    }

    /// Records an attempt: `outcome` is `done`, `retry`, `dead` or `lost` (the lease was
    /// taken over); `wait_seconds` from when the job became due to when it started.
    fn observe(
        &self,
        job: &JobRow,
        outcome: &'static str,
        started: std::time::Instant,
        wait_seconds: f64,
    ) {
        if let Some(metrics) = &self.metrics {
            metrics.observe_job(
                &job.name,
                outcome,
                started.elapsed().as_secs_f64(),
                wait_seconds,
            );
        }
    }

    async fn finish(&self, job: &JobRow, result: Result<(), JobError>) -> &'static str {
        let (id, worker, now) = (job.id.clone(), self.id.clone(), self.now().naive_utc());
        let (outcome, recorded) = match result {
            Ok(()) => (
                "done",
                self.db
                    .run(move |conn| store::complete(conn, &id, &worker, now))
                    .await,
            ),
            Err(JobError::Later { at, reason }) => {
                tracing::info!(job = %job.id, name = %job.name, at = %at, reason = %reason, "job not due yet; looks again later");
                let note = format!("not yet: {reason}")
                    .chars()
                    .take(2000)
                    .collect::<String>();
                let at = at.naive_utc().max(now);
                (
                    "later",
                    self.db
                        .run(move |conn| store::later(conn, &id, &worker, &note, at, now))
                        .await,
                )
            }
            Err(e) => {
                let last = job.attempts >= job.max_attempts || matches!(e, JobError::Permanent(_));
                let retry_at = (!last).then(|| {
                    now + chrono::Duration::from_std(self.backoff(job.attempts))
                        .unwrap_or_else(|_| chrono::Duration::hours(1))
                });
                let error = e.to_string().chars().take(2000).collect::<String>();
                if last {
                    tracing::error!(job = %job.id, name = %job.name, attempt = job.attempts, error = %error, "job dead");
                } else {
                    tracing::warn!(job = %job.id, name = %job.name, attempt = job.attempts, error = %error, "job failed; will retry");
                }
                let outcome = if last { "dead" } else { "retry" };
                (
                    outcome,
                    self.db
                        .run(move |conn| store::fail(conn, &id, &worker, &error, retry_at, now))
                        .await,
                )
            }
        };
        match recorded {
            Ok(true) => outcome,
            Ok(false) => "lost",
            Err(e) => {
                tracing::error!(job = %job.id, error = %e, "could not record a job's outcome; its lease will lapse and it runs again");
                "lost"
            }
        }
    }

    /// Runs due jobs one after another until none is due; returns how many ran. For tests
    /// and commands that want the queue drained deterministically.
    pub async fn drain(&self) -> Result<usize, DbError> {
        let mut ran = 0;
        while let Some(job) = self.claim().await? {
            self.execute(job).await;
            ran += 1;
        }
        Ok(ran)
    }

    /// Wakes the worker (something was enqueued).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until `shutdown` turns true: claims due jobs up to the concurrency, schedules
    /// periodic ones, sleeps until woken or the poll interval passes. On shutdown, running
    /// jobs get the grace period to finish; the rest are released for another worker.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(worker = %self.id, queue = %self.config.queue, concurrency = self.config.concurrency, "worker started");
        let _listener = match self.db.backend() {
            gongyou_db::Backend::Postgres => {
                listen::spawn(&self.db, self.wake.clone(), shutdown.clone())
            }
            gongyou_db::Backend::Sqlite => None,
        };
        let permits = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            if let Err(e) = self.schedule_periodic().await {
                tracing::warn!(error = %e, "scheduling periodic jobs failed");
            }
            while let Ok(permit) = permits.clone().try_acquire_owned() {
                match self.claim().await {
                    Ok(Some(job)) => {
                        let worker = self.clone();
                        self.running
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(job.id.clone());
                        tasks.spawn(async move {
                            let id = job.id.clone();
                            worker.execute(job).await;
                            worker
                                .running
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .remove(&id);
                            drop(permit);
                        });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming jobs failed");
                        break;
                    }
                }
            }
            while tasks.try_join_next().is_some() {}
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = shutdown.changed() => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        tracing::info!(worker = %self.id, running = tasks.len(), "worker stopping");
        let finished = tokio::time::timeout(self.config.shutdown_grace, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tasks.abort_all();
            let unfinished: Vec<String> = self
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain()
                .collect();
            for id in unfinished {
                let (worker, now) = (self.id.clone(), self.now().naive_utc());
                match self
                    .db
                    .run(move |conn| store::release(conn, &id, &worker, now))
                    .await
                {
                    Ok(_) => tracing::info!("released an unfinished job"),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not release a job; its lease will lapse")
                    }
                }
            }
        }
        tracing::info!(worker = %self.id, "worker stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_case_error_is_retried_only_when_trying_again_may_help() {
        let outage: JobError =
            ServiceError::unavailable("sms.delivery_failed", anyhow::anyhow!("timed out")).into();
        assert!(matches!(outage, JobError::Retry(_)));
        let refused: JobError =
            ServiceError::conflict("membership.already_member", "已是会员").into();
        assert!(matches!(refused, JobError::Permanent(_)));
        let unexpected: JobError = ServiceError::internal(anyhow::anyhow!("bug")).into();
        assert!(
            matches!(unexpected, JobError::Retry(_)),
            "up to its attempts"
        );
    }
}
