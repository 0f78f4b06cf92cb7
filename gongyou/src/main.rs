//! The `gongyou` binary: `serve`, `worker`, `migrate`, `seed`, `demo`, `openapi`,
//! `bootstrap-admin`, `rotate-data-key`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use gongyou::seed::{self, DemoLogin};
use gongyou_api::startup::Application;
use gongyou_db::Db;
use gongyou_domain::clock::{SharedClock, SystemClock};
use gongyou_providers::wechatpay::fake::{FakeConfig, FakeWechatPay};
use gongyou_services::config::Config;
use gongyou_services::metrics::Metrics;
use gongyou_services::Context;
use tokio::sync::watch;

/// mimalloc rather than glibc's allocator (ADR 022).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "gongyou",
    version,
    about = "工友 — the backend of a trade union for gig workers"
)]
struct Cli {
    /// A TOML file of settings (below GONGYOU_* environment variables in precedence).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve,
    /// Run background work.
    Worker,
    /// Apply pending database migrations.
    Migrate,
    /// Load demo and reference data (idempotent).
    Seed {
        /// Also generate this many rest stations, a realistic national set (clustered
        /// around real district seats).
        #[arg(long)]
        stations: Option<usize>,
    },
    /// Migrate, seed and run server and worker in one process: the way to try Gongyou.
    Demo,
    /// Print the OpenAPI document (YAML).
    Openapi,
    /// Create the first union admin (of the national org) of an install. The password is
    /// read from GONGYOU_BOOTSTRAP_PASSWORD (never from the command line).
    BootstrapAdmin {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "")]
        display_name: String,
    },
    /// After a data-key rotation (new secret in GONGYOU_DATA_KEY, old one in
    /// GONGYOU_DATA_KEY_PREVIOUS, on every process): enqueue the job that re-encrypts and
    /// re-indexes every value still under the old key and rewraps sealed files' keys (one at
    /// a time; a worker runs it). Refused while some value is under a key that does not
    /// decrypt.
    RotateDataKey {
        /// Print progress until the job ends.
        #[arg(long)]
        wait: bool,
        /// Only print, per table, the values still under another key and the checkpoints.
        #[arg(long, conflicts_with = "wait")]
        status: bool,
        /// Rows per batch (one transaction each).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=100_000))]
        batch_size: Option<i64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        return match gongyou_api::openapi::yaml() {
            Ok(yaml) => {
                // A closed pipe (`| head`) is the reader's choice, not an error to panic on.
                let _ = std::io::Write::write_all(&mut std::io::stdout(), yaml.as_bytes());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gongyou: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = match Config::load(cli.config.as_deref(), &env) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("gongyou: {e}");
            return ExitCode::from(2);
        }
    };
    gongyou_services::telemetry::init(&config.log, config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gongyou: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "gongyou stopped with an error");
            eprintln!("gongyou: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    let clock: SharedClock = std::sync::Arc::new(SystemClock);
    tracing::info!(env = ?config.env, backend = config.database.backend().name(), redis = config.redis_url.is_some(), "configuration loaded");
    match command {
        Command::Serve => serve(config, clock, None).await,
        Command::Demo => {
            let mut config = config;
            // Payouts go through a local fake WeChat Pay unless a real one is configured.
            let fake_pay = if config.providers.wechatpay.is_none() {
                let fake = FakeWechatPay::start(FakeConfig::default())
                    .await
                    .context("starting the fake WeChat Pay")?;
                config.providers.wechatpay = Some(fake.settings_for_client(DEMO_NOTIFY_URL));
                Some(fake)
            } else {
                None
            };
            migrate(&config).await?;
            let mut logins = seed(&config, &clock).await?;
            let db = open_db(&config)?;
            seed::demo_stations(&db, clock.now().naive_utc()).await?;
            seed::demo_plan(&db, clock.now()).await?;
            // Claims for demo-reviewer and demo-approver; the demo serves without them.
            let claims = |n: i64| format!("{n} claim{}", if n == 1 { "" } else { "s" });
            match gongyou::demo_claims::seed(&config, &db, clock.now()).await {
                Ok(waiting) => {
                    for login in &mut logins {
                        let work = match login.username {
                            "demo-reviewer" => {
                                format!("{} waiting for review", claims(waiting.waiting_for_review))
                            }
                            "demo-approver" => {
                                format!(
                                    "{} awaiting confirmation",
                                    claims(waiting.awaiting_confirmation)
                                )
                            }
                            _ => continue,
                        };
                        login.description =
                            format!("{} · {work} (GET /api/v1/review/claims)", login.description)
                                .into();
                    }
                }
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "demo claims not seeded"),
            }
            serve(config, clock, Some((logins, fake_pay))).await
        }
        Command::Worker => work(config, clock).await,
        Command::Migrate => migrate(&config).await,
        Command::Seed { stations } => {
            migrate(&config).await?;
            let logins = seed(&config, &clock).await?;
            if let Some(n) = stations {
                let db = open_db(&config)?;
                let written = seed::national_stations(&db, n, clock.now().naive_utc()).await?;
                println!("seeded {written} stations");
            }
            print_logins(&config, &logins);
            Ok(())
        }
        Command::Openapi => Ok(()),
        Command::RotateDataKey {
            wait,
            status,
            batch_size,
        } => rotate_data_key(config, clock, wait, status, batch_size).await,
        Command::BootstrapAdmin {
            username,
            display_name,
        } => {
            let password = std::env::var("GONGYOU_BOOTSTRAP_PASSWORD")
                .context("set GONGYOU_BOOTSTRAP_PASSWORD to the new admin's password")?;
            let db = open_db(&config)?;
            let id = seed::bootstrap_admin(
                &db,
                &username,
                &display_name,
                &password,
                clock.now().naive_utc(),
            )
            .await?;
            println!("created union admin {username} ({id}) of the national org");
            Ok(())
        }
    }
}

/// `gongyou rotate-data-key`: see [`Command::RotateDataKey`].
async fn rotate_data_key(
    config: Config,
    clock: SharedClock,
    wait: bool,
    status_only: bool,
    batch_size: Option<i64>,
) -> anyhow::Result<()> {
    use gongyou_services::rotation::{self, Started};

    let db = open_db(&config)?;
    let ctx = Context::new(config, db, clock)?;
    if status_only {
        let status = rotation::status(&ctx).await?;
        print_rotation_status(&status);
        return Ok(());
    }
    let job_id = match rotation::start(&ctx, batch_size).await? {
        Started::Enqueued { job_id } => {
            println!(
                "rotation to data key {} enqueued (job {job_id}); a worker runs it",
                ctx.crypto.key_id()
            );
            Some(job_id)
        }
        Started::AlreadyRunning { job_id } => {
            println!(
                "a rotation is already queued or running (job {}); not enqueued again",
                job_id.as_deref().unwrap_or("?")
            );
            job_id
        }
        Started::Refused { undecryptable } => {
            let previous = if ctx.crypto.previous_key_ids().is_empty() {
                "GONGYOU_DATA_KEY_PREVIOUS is not set"
            } else {
                "neither GONGYOU_DATA_KEY nor GONGYOU_DATA_KEY_PREVIOUS is their key"
            };
            let mut lines = Vec::new();
            for (table, column, key_id, n) in undecryptable {
                lines.push(format!("  {table}.{column}: {n} under key id {key_id}"));
            }
            anyhow::bail!(
                "refusing to rotate: these values cannot be decrypted ({previous}); set the \
                 data key they were encrypted under as GONGYOU_DATA_KEY_PREVIOUS:\n{}",
                lines.join("\n")
            );
        }
    };
    if !wait {
        return Ok(());
    }
    let Some(job_id) = job_id else {
        anyhow::bail!("the running rotation job could not be found");
    };
    loop {
        let job = rotation::job(&ctx, job_id.clone()).await?;
        let status = rotation::status(&ctx).await?;
        let progress: Vec<String> = status
            .tables
            .iter()
            .filter(|t| t.remaining_decryptable + t.undecryptable > 0)
            .map(|t| format!("{} {}", t.table, t.remaining_decryptable + t.undecryptable))
            .collect();
        let state = job.as_ref().map_or("gone", |j| j.status.as_str());
        println!(
            "job {state}; remaining under another key: {}",
            if progress.is_empty() {
                "none".to_owned()
            } else {
                progress.join(", ")
            }
        );
        match state {
            "done" => {
                print_rotation_status(&status);
                return Ok(());
            }
            "dead" | "gone" => {
                let error = job.and_then(|j| j.last_error).unwrap_or_default();
                anyhow::bail!("the rotation job ended without finishing: {error}");
            }
            _ => tokio::time::sleep(std::time::Duration::from_secs(2)).await,
        }
    }
}

fn print_rotation_status(status: &gongyou_services::rotation::RotationStatus) {
    println!(
        "current data key {}; previous {}",
        status.key_id,
        if status.previous_key_ids.is_empty() {
            "none".to_owned()
        } else {
            status.previous_key_ids.join(", ")
        }
    );
    for t in &status.tables {
        let checkpoint = match &t.progress {
            Some(p) if p.done => format!(
                "walked ({} re-encrypted, {} re-indexed, {} failed)",
                p.reencrypted, p.reindexed, p.failed
            ),
            Some(p) => format!(
                "at a checkpoint ({} re-encrypted, {} re-indexed so far)",
                p.reencrypted, p.reindexed
            ),
            None if t.table == "stored_files" => "rewrapped by the job, no checkpoint".to_owned(),
            None => "not walked".to_owned(),
        };
        let mut by_key: std::collections::BTreeMap<&str, i64> = Default::default();
        for c in &t.columns {
            for (key, n) in &c.by_key {
                *by_key.entry(key.as_str()).or_default() += n;
            }
        }
        let by_key: Vec<String> = by_key.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        println!(
            "{:<24} remaining {:>8} (undecryptable {}); {checkpoint}; values by key id {{{}}}",
            t.table,
            t.remaining_decryptable + t.undecryptable,
            t.undecryptable,
            by_key.join(", ")
        );
    }
    match &status.job {
        Some(job) => println!("job {} {}", job.id, job.status),
        None => println!("no rotation job queued or running"),
    }
}

fn open_db(config: &Config) -> anyhow::Result<Db> {
    Ok(Db::new(&config.database, &config.pool)?)
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = open_db(config)?;
    let applied = db
        .run(gongyou_db::migrate::run)
        .await
        .context("migrating the database")?;
    tracing::info!(applied = applied.len(), versions = ?applied, "database migrated");
    Ok(())
}

async fn seed(config: &Config, clock: &SharedClock) -> anyhow::Result<Vec<DemoLogin>> {
    let db = open_db(config)?;
    seed::run(&db, config, clock.now().naive_utc()).await
}

/// Dev only: the demo staff logins and their password.
fn print_logins(config: &Config, logins: &[DemoLogin]) {
    if config.is_production() || logins.is_empty() {
        return;
    }
    println!(
        "  Demo staff logins (POST /api/v1/auth/sessions/password), password: {}",
        config.demo_password.expose()
    );
    for login in logins {
        println!("    {:<20} {}", login.username, login.description);
    }
    println!("  Workers: POST /api/v1/auth/sms-codes {{\"phone\":\"13800138000\",\"purpose\":\"sign_in\"}} returns dev_code in dev.\n");
}

/// Where the demo tells the fake WeChat Pay to call back until it knows its port.
const DEMO_NOTIFY_URL: &str = "https://gongyou.invalid/api/v1/webhooks/wechatpay";

/// Serves; with demo logins (and the demo's fake WeChat Pay), also runs the worker
/// in-process and prints how to try it.
async fn serve(
    config: Config,
    clock: SharedClock,
    demo: Option<(Vec<DemoLogin>, Option<FakeWechatPay>)>,
) -> anyhow::Result<()> {
    let (demo, fake_pay) = match demo {
        Some((logins, fake)) => (Some(logins), fake),
        None => (None, None),
    };
    let with_worker = demo.is_some();
    let app = Application::build(config, clock.clone()).await?;
    let state = app.state().clone();
    let addr = format!("{}:{}", state.config.http_addr.ip(), app.port());
    tracing::info!(addr = %addr, metrics_port = ?app.metrics_port(), "listening");
    if let Some(logins) = &demo {
        println!("\n  工友 Gongyou demo is serving on http://{addr}");
        println!(
            "  Try: curl http://{addr}/healthz   ·   API contract: http://{addr}/openapi.yaml"
        );
        println!("  Staff console (sign in with a login below): http://{addr}/console/\n");
        print_logins(&state.config, logins);
        if let Some(fake) = &fake_pay {
            fake.deliver_callbacks_to(&format!("http://{addr}/api/v1/webhooks/wechatpay"));
            println!(
                "  Payouts go to a local fake WeChat Pay at {} (a rider confirms a transfer with\n    curl -X POST {}/fake/bills/<out_bill_no>/confirm   (GET {}/fake/bills lists them))\n",
                fake.base_url(),
                fake.base_url(),
                fake.base_url()
            );
        }
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = if with_worker {
        let worker =
            gongyou_jobs::worker(state.services.clone())?.with_metrics(state.metrics.clone());
        Some(tokio::spawn(worker.run(stop_rx)))
    } else {
        None
    };
    let handles = app.handles();
    let server = tokio::spawn(app.run_until_stopped());
    shutdown_signal().await;
    tracing::info!("shutting down: finishing requests in flight");
    let _ = stop_tx.send(true);
    for handle in handles {
        handle.stop(true).await;
    }
    server.await.context("server task")??;
    if let Some(worker) = worker {
        worker.await.context("worker task")?;
    }
    tracing::info!("stopped");
    Ok(())
}

/// `gongyou worker`: the job worker alone, with its metrics on `GONGYOU_METRICS_ADDR` (its
/// only HTTP listener: a worker builds no API routes), until SIGINT/SIGTERM.
async fn work(config: Config, clock: SharedClock) -> anyhow::Result<()> {
    let services = Context::open(config, clock).await?;
    let metrics = std::sync::Arc::new(Metrics::new().context("registering metrics")?);
    let metrics_server = match services.config.metrics_addr {
        Some(addr) => {
            let listener = std::net::TcpListener::bind(addr)
                .with_context(|| format!("binding the metrics address {addr}"))?;
            tracing::info!(addr = %listener.local_addr()?, "worker metrics listening");
            let server = gongyou_api::startup::worker_metrics_server(
                listener,
                services.db.clone(),
                metrics.clone(),
            )?;
            let handle = server.handle();
            Some((tokio::spawn(server), handle))
        }
        None => None,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = gongyou_jobs::worker(services)?.with_metrics(metrics);
    let worker = tokio::spawn(worker.run(stop_rx));
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    worker.await.context("worker task")?;
    if let Some((server, handle)) = metrics_server {
        handle.stop(true).await;
        server.await.context("metrics server task")??;
    }
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
