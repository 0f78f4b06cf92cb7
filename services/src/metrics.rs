//! Prometheus metrics of one process (its own registry, so several apps in one test process
//! do not collide): request counts and latency by route and status, job runs, pool usage.
//! The API serves them at `/metrics`; a standalone worker on its metrics address.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use gongyou_db::{Db, PoolStats};
use gongyou_domain::status::JobStatus;

pub struct Metrics {
    registry: Registry,
    jobs: IntGaugeVec,
    job_run: HistogramVec,
    job_wait: HistogramVec,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_max: IntGauge,
    pool_connections: IntGaugeVec,
    sms_today: IntGauge,
    sms_budget: IntGauge,
    payouts_oldest: IntGauge,
    reconciliation_unresolved: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("gongyou".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by method, route and status",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route", "status"],
        )?;
        let pool_max = IntGauge::new("db_pool_max_connections", "Database pool size limit")?;
        let pool_connections = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )?;
        let jobs = IntGaugeVec::new(
            Opts::new("jobs", "Jobs in the queue by status"),
            &["status"],
        )?;
        let job_run = HistogramVec::new(
            HistogramOpts::new(
                "job_run_seconds",
                "Job attempt duration by job and outcome (jobs run in this process)",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0]),
            &["name", "outcome"],
        )?;
        let job_wait = HistogramVec::new(
            HistogramOpts::new(
                "job_wait_seconds",
                "Time from a job being due to its start (jobs run in this process)",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0]),
            &["name"],
        )?;
        let sms_today = IntGauge::new(
            "sms_codes_today",
            "SMS code requests counted against the install's budget today (UTC day), refused ones included",
        )?;
        let sms_budget = IntGauge::new(
            "sms_daily_budget",
            "SMS codes the whole install may send per UTC day (GONGYOU_SMS_DAILY_BUDGET)",
        )?;
        let payouts_oldest = IntGauge::new(
            "payouts_in_flight_oldest_seconds",
            "Age of the oldest payout attempt sent and not final yet (0 when none is)",
        )?;
        let reconciliation_unresolved = IntGauge::new(
            "reconciliation_unresolved_exceptions",
            "Reconciliation exceptions finance has not resolved, over every run",
        )?;
        registry.register(Box::new(payouts_oldest.clone()))?;
        registry.register(Box::new(reconciliation_unresolved.clone()))?;
        registry.register(Box::new(sms_today.clone()))?;
        registry.register(Box::new(sms_budget.clone()))?;
        registry.register(Box::new(jobs.clone()))?;
        registry.register(Box::new(job_run.clone()))?;
        registry.register(Box::new(job_wait.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        Ok(Self {
            registry,
            jobs,
            job_run,
            job_wait,
            requests,
            latency,
            pool_max,
            pool_connections,
            sms_today,
            sms_budget,
            payouts_oldest,
            reconciliation_unresolved,
        })
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// The install's SMS use today against its budget (read from the shared store).
    pub fn set_sms_budget(&self, sent_today: u64, budget: u32) {
        self.sms_today
            .set(i64::try_from(sent_today).unwrap_or(i64::MAX));
        self.sms_budget.set(i64::from(budget));
    }

    /// One job attempt run in this process: how it ended, how long it ran, and how long it
    /// waited after it was due.
    pub fn observe_job(&self, name: &str, outcome: &str, run_seconds: f64, wait_seconds: f64) {
        self.job_run
            .with_label_values(&[name, outcome])
            .observe(run_seconds);
        self.job_wait
            .with_label_values(&[name])
            .observe(wait_seconds);
    }

    /// The text exposition, with pool gauges and job counts (by status) read now.
    pub fn render(&self, pool: PoolStats, job_counts: &[(String, i64)]) -> String {
        for status in JobStatus::ALL {
            let n = job_counts
                .iter()
                .find(|(s, _)| s == status.as_str())
                .map_or(0, |(_, n)| *n);
            self.jobs.with_label_values(&[status.as_str()]).set(n);
        }
        self.pool_max.set(i64::from(pool.max_size));
        self.pool_connections
            .with_label_values(&["idle"])
            .set(i64::from(pool.idle));
        self.pool_connections
            .with_label_values(&["in_use"])
            .set(i64::from(pool.connections.saturating_sub(pool.idle)));
        let mut buffer = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }

    /// The exposition with the pool and the job counts read now (the API's `/metrics`, and
    /// what a standalone `gongyou worker` serves on `GONGYOU_METRICS_ADDR`).
    pub async fn exposition(&self, db: &Db) -> String {
        let counts = match db.run(gongyou_db::jobs::counts).await {
            Ok(counts) => counts,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: job counts unavailable");
                Vec::new()
            }
        };
        // The money gauges: left as they were when the database does not answer.
        match db
            .run(|conn| -> Result<_, gongyou_db::DbError> {
                Ok((
                    gongyou_db::payouts::oldest_in_flight(conn)?,
                    gongyou_db::reconcile::unresolved_total(conn)?,
                ))
            })
            .await
        {
            Ok((oldest, unresolved)) => {
                let age = oldest.map_or(0, |sent| {
                    (chrono::Utc::now().naive_utc() - sent).num_seconds().max(0)
                });
                self.payouts_oldest.set(age);
                self.reconciliation_unresolved.set(unresolved);
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics: payout and reconciliation gauges unavailable")
            }
        }
        self.render(db.stats(), &counts)
    }
}
