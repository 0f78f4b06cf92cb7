//! The `gongyou` binary: `serve`, `worker`, `migrate`, `seed`, `demo`, `openapi`.

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
            "  Try: curl http://{addr}/healthz   ·   API contract: http://{addr}/openapi.yaml\n"
        );
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
