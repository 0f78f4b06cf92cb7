//! The notification benchmark, on PostgreSQL: a campaign to N members (default 1,000,000),
//! each with one registered JPush device. Measured as ratios against baselines taken in the
//! same run (the machine is shared and noisy):
//!
//! - fan-out (every inbox row and push delivery written) against a plain `INSERT … SELECT`
//!   of N rows into a table as wide as the inbox;
//! - dispatch with two `gongyou worker` processes against the rate `wrk` reaches on the same
//!   local fake JPush;
//! - then `kill -9` of one worker mid-dispatch: every push delivered, none twice (the fake
//!   counts pushes by cid).
//!
//! Then the per-message channel (ADR 021): campaigns to M members (default 100,000), each
//! with a WeChat openid, subscribe credits for the notice template and no JPush device, one
//! request per message:
//!
//! - `wrk -t2 -c64 -d20s` against the fake WeChat's subscribe/send (a message body like
//!   ours, to a user with unlimited credits);
//! - two workers send rounds of campaigns to the M members (each round a campaign with its
//!   own title) for at least 60 s: messages per second against wrk's rate;
//! - the same again with `kill -9` of one worker a third of the way in, while it holds a
//!   batch mid-send: every message delivered (counted by openid and title), and no more
//!   delivered twice than the killed worker's unrecorded window.
//!
//! Run: `make bench` (needs `GONGYOU_BENCH_DATABASE_URL`, e.g.
//! postgres://postgres@127.0.0.1:5432/postgres, optional `GONGYOU_BENCH_REDIS_URL`,
//! `GONGYOU_BENCH_MEMBERS`, `GONGYOU_BENCH_SUBSCRIBE_MEMBERS`, `GONGYOU_BENCH_ROUNDS`,
//! `GONGYOU_BENCH_WORKER_THREADS` for the workers' async threads, `GONGYOU_BENCH_PART` = `push`
//! or `subscribe` for one part, and `wrk`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::zombie_processes
)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use gongyou_tests::fakes::jpush::FakeJpush;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn exec(conn: &mut PgConnection, sql: &str) -> usize {
    diesel::sql_query(sql)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
}

fn timed(conn: &mut PgConnection, sql: &str) -> Duration {
    let started = Instant::now();
    exec(conn, sql);
    started.elapsed()
}

use gongyou_tests::pg::count;

struct Dropper(String, String);

impl Drop for Dropper {
    fn drop(&mut self) {
        let _ = gongyou_tests::pg::drop_database(&self.0, &self.1);
    }
}

fn main() {
    let Some(server) = env("GONGYOU_BENCH_DATABASE_URL") else {
        eprintln!(
            "GONGYOU_BENCH_DATABASE_URL is not set: the notification benchmark runs on PostgreSQL"
        );
        return;
    };
    let members: i64 = env("GONGYOU_BENCH_MEMBERS").map_or(1_000_000, |n| n.parse().unwrap());
    let subscribers: i64 =
        env("GONGYOU_BENCH_SUBSCRIBE_MEMBERS").map_or(100_000, |n| n.parse().unwrap());
    let part = env("GONGYOU_BENCH_PART");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if part.as_deref().is_none_or(|p| p == "push") {
        runtime.block_on(run(server.clone(), members));
    }
    if part.as_deref().is_none_or(|p| p == "subscribe") {
        runtime.block_on(subscribe::run(server, subscribers));
    }
}

/// The release binary the workers run.
fn binary() -> std::path::PathBuf {
    let binary = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/gongyou");
    assert!(
        binary.exists(),
        "build it first: cargo build --release --bin gongyou"
    );
    binary
}

/// A `gongyou worker` on the database at `url`, with short leases (a killed worker's work
/// comes back in seconds) and `provider` settings.
fn spawn_worker(
    url: &str,
    data: &std::path::Path,
    name: &str,
    provider: &[(&str, String)],
) -> Child {
    let mut cmd = Command::new(binary());
    cmd.arg("worker")
        .env_clear()
        .env("GONGYOU_DATABASE_URL", url)
        .env("GONGYOU_DATA_DIR", data)
        .env("GONGYOU_WORKER_CONCURRENCY", "4")
        .env("GONGYOU_DELIVERY_LEASE_SECS", "10")
        .env("GONGYOU_JOB_LEASE_SECS", "10")
        .env("GONGYOU_JOB_POLL_MS", "200")
        .env("GONGYOU_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in provider {
        cmd.env(k, v);
    }
    // The async runtime's threads per worker (tokio's default: one per core).
    if let Some(threads) = env("GONGYOU_BENCH_WORKER_THREADS") {
        cmd.env("TOKIO_WORKER_THREADS", threads);
    }
    if let Some(redis) = env("GONGYOU_BENCH_REDIS_URL") {
        cmd.env("GONGYOU_REDIS_URL", redis)
            .env("GONGYOU_REDIS_PREFIX", format!("bench:{name}:"));
    }
    cmd.spawn().unwrap()
}

/// The requests per second `wrk` reports.
fn wrk_rate(args: &[&str], script: &std::path::Path, url: &str) -> f64 {
    let output = Command::new("wrk")
        .args(args)
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .expect("wrk installed (apt-get install wrk)");
    let out = String::from_utf8_lossy(&output.stdout).to_string();
    out.lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no rate in wrk's output:\n{out}"))
}

/// A fresh database cloned from the migrated template, seeded with the demo hierarchy.
async fn fresh_install(
    server: &str,
) -> (
    Dropper,
    String,
    tempfile::TempDir,
    gongyou_db::Db,
    PgConnection,
) {
    let name = gongyou_tests::pg::clone_template(server).unwrap();
    let dropper = Dropper(server.to_owned(), name.clone());
    let url = gongyou_tests::pg::url_with_database(server, &name).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut settings: HashMap<String, String> = HashMap::new();
    settings.insert("GONGYOU_DATABASE_URL".into(), url.clone());
    settings.insert("GONGYOU_DATA_DIR".into(), data.path().display().to_string());
    settings.insert("GONGYOU_DEMO_PASSWORD".into(), "bench-password-2026".into());
    let config = gongyou_services::config::Config::load(None, &settings).unwrap();
    let db = gongyou_db::Db::new(&config.database, &config.pool).unwrap();
    gongyou::seed::run(&db, &config, chrono::Utc::now().naive_utc())
        .await
        .unwrap();
    let pg = PgConnection::establish(&url).unwrap();
    (dropper, url, data, db, pg)
}

/// `n` active rider members of 锦江区 (users `u00000001`…), with WeChat openids
/// `o00000001`… when `openids`.
fn insert_members(pg: &mut PgConnection, n: i64, openids: bool) {
    let openid = if openids {
        "'o' || lpad(g::text, 8, '0')"
    } else {
        "NULL"
    };
    exec(pg, &format!(
        "INSERT INTO users (id, phone, wechat_openid, wechat_unionid, status, merged_into, created_at, updated_at)
         SELECT 'u' || lpad(g::text, 8, '0'), '139' || lpad(g::text, 8, '0'), {openid}, NULL, 'active', NULL, now(), now()
         FROM generate_series(1, {n}) g"));
    exec(pg, &format!(
        "INSERT INTO memberships (id, user_id, org_id, application_id, card_number, status, joined_on, real_name,
             id_number_enc, id_number_key_id, id_number_index, birth_date, sex, occupation, platform, platform_worker_id,
             region_code, ended_at, anonymized_at, created_at, updated_at)
         SELECT 'm' || lpad(g::text, 8, '0'), 'u' || lpad(g::text, 8, '0'),
             (SELECT id FROM orgs WHERE name = '锦江区新就业形态劳动者工会'), 'a' || g, '510104' || lpad(g::text, 9, '0'),
             'active', '2026-01-01', '骑手', '', 'bench', 'idx' || g, '1990-01-01', 'male', 'delivery_rider', 'meituan',
             'w' || g, '510104', NULL, NULL, now(), now()
         FROM generate_series(1, {n}) g"));
}

/// The id of the org named `name`.
fn org_id(pg: &mut PgConnection, name: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    diesel::sql_query(format!("SELECT id FROM orgs WHERE name = '{name}'"))
        .get_result::<Id>(pg)
        .unwrap()
        .id
}

/// A notice campaign to 成都's riders, fanned out through the code the campaign job runs
/// (subscribe batches too, for `template`); returns its id.
async fn campaign(db: &gongyou_db::Db, org: &str, title: &str, template: Option<&str>) -> String {
    let campaign_id = gongyou_domain::id::new_id();
    let campaign = gongyou_db::campaigns::Campaign {
        id: campaign_id.clone(),
        org_id: org.to_owned(),
        occupation: Some("delivery_rider".into()),
        title: title.into(),
        body: "明日最高气温 39℃，请注意防暑，附近驿站提供免费凉茶。".into(),
        status: gongyou_db::campaigns::FANNING_OUT.into(),
        recipients: 0,
        cursor: None,
        created_by: "bench".into(),
        created_at: chrono::Utc::now().naive_utc(),
        completed_at: None,
        category: "notice".into(),
    };
    db.run(move |conn| gongyou_db::campaigns::insert(conn, &campaign))
        .await
        .unwrap();
    loop {
        let (id, template) = (campaign_id.clone(), template.map(str::to_owned));
        let written = db
            .run(move |conn| {
                gongyou_db::campaigns::fan_out_batch(
                    conn,
                    &id,
                    20_000,
                    template.as_deref(),
                    chrono::Utc::now().naive_utc(),
                )
            })
            .await
            .unwrap();
        if written == 0 {
            return campaign_id;
        }
    }
}

#[path = "notifications/subscribe.rs"]
mod subscribe;

async fn run(server: String, n: i64) {
    let (_dropper, url, data, db, mut pg) = fresh_install(&server).await;
    println!("fixture: {n} members with one device each …");
    let started = Instant::now();
    insert_members(&mut pg, n, false);
    exec(&mut pg, &format!(
        "INSERT INTO devices (user_id, registration_id, platform, created_at, updated_at)
         SELECT 'u' || lpad(g::text, 8, '0'), 'reg' || g, 'android', now(), now() FROM generate_series(1, {n}) g"));
    exec(&mut pg, "ANALYZE");
    println!("fixture ready in {:.1} s", started.elapsed().as_secs_f64());

    // Baseline: N rows into a table as wide as the inbox (with its primary key).
    exec(&mut pg, "CREATE TABLE bench_baseline (id TEXT NOT NULL PRIMARY KEY, user_id TEXT NOT NULL, category TEXT NOT NULL,
        title TEXT NOT NULL, body TEXT NOT NULL, data TEXT NOT NULL, read_at TIMESTAMP, created_at TIMESTAMP NOT NULL)");
    let baseline = timed(&mut pg, "INSERT INTO bench_baseline SELECT 'x-' || m.id, m.user_id, 'notice', '高温预警',
        '明日最高气温 39℃，请注意防暑，附近驿站提供免费凉茶。', '{}', NULL, now() FROM memberships m");
    exec(&mut pg, "DROP TABLE bench_baseline");

    // Fan-out, through the same code the campaign job runs.
    let chengdu = org_id(&mut pg, "成都市总工会");
    let started = Instant::now();
    campaign(&db, &chengdu, "高温预警", None).await;
    let fan_out = started.elapsed();
    let inbox = count(
        &mut pg,
        "SELECT COUNT(*) AS n FROM notifications WHERE category = 'notice'",
    );
    let covered = count(
        &mut pg,
        "SELECT CAST(COALESCE(SUM(recipients), 0) AS BIGINT) AS n FROM campaign_push_batches",
    );
    let batches = count(&mut pg, "SELECT COUNT(*) AS n FROM campaign_push_batches");
    assert_eq!(
        (inbox, covered),
        (n, n),
        "every recipient has an inbox row and is in one push batch"
    );

    // The load generator's rate against the fake.
    let fake = FakeJpush::start().await;
    let http = gongyou_providers::http_client().unwrap();
    let client = gongyou_providers::jpush::JpushClient::new(
        gongyou_providers::jpush::JpushSettings {
            app_key: FakeJpush::APP_KEY.into(),
            master_secret: FakeJpush::MASTER_SECRET.to_owned().into(),
            base_url: fake.base_url(),
        },
        http,
    );
    let cid = client.fetch_cids(1).await.unwrap().remove(0);
    let script = data.path().join("push.lua");
    let auth = base64_basic(FakeJpush::APP_KEY, FakeJpush::MASTER_SECRET);
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Basic {auth}\"\n\
             wrk.body = '{{\"cid\":\"{cid}\",\"platform\":\"all\",\"audience\":{{\"registration_id\":[\"wrk-device\"]}},\"notification\":{{\"alert\":\"x\"}}}}'\n"
        ),
    )
    .unwrap();
    let wrk_rate = wrk_rate(
        &["-t2", "-c32", "-d10s"],
        &script,
        &format!("{}/v3/push", fake.base_url()),
    );
    let base_pushes = fake.push_count();
    let base_repeats = fake.duplicate_cid_count();
    let (base_delivered, base_reached) = (fake.delivered_count(), fake.devices_reached());

    // Two workers dispatch; one is killed with SIGKILL a third of the way in.
    let jpush = [
        ("GONGYOU_JPUSH_APP_KEY", FakeJpush::APP_KEY.to_owned()),
        (
            "GONGYOU_JPUSH_MASTER_SECRET",
            FakeJpush::MASTER_SECRET.to_owned(),
        ),
        ("GONGYOU_JPUSH_BASE_URL", fake.base_url()),
        ("GONGYOU_JPUSH_RATE_PER_SEC", "1000000".to_owned()),
    ];
    let name = url.rsplit('/').next().unwrap_or("bench").to_owned();
    let spawn_worker = || spawn_worker(&url, data.path(), &name, &jpush);
    let mut a = spawn_worker();
    let mut b = spawn_worker();
    let now = chrono::Utc::now();
    db.run(move |conn| gongyou_services::notifications::outbox::wake_dispatcher(conn, now))
        .await
        .unwrap();
    let started = Instant::now();
    let target = usize::try_from(n).unwrap();
    let mut killed_at: Option<(Duration, usize)> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let pushed = fake.delivered_count() - base_delivered;
        // Killed while it holds a batch whose requests are frozen (claimed, perhaps sent):
        // the crash the exactly-once design is for, not an idle moment between batches.
        let in_flight = |pg: &mut diesel::PgConnection| {
            count(
                pg,
                &format!(
                    "SELECT COUNT(*) AS n FROM campaign_push_batches b JOIN jobs j \
                     ON b.claimed_by = 'dispatch-' || j.id \
                     WHERE b.status = 'sending' AND b.requests IS NOT NULL \
                     AND j.locked_by LIKE '%-{}-%'",
                    a.id()
                ),
            )
        };
        if killed_at.is_none() && pushed >= target / 3 && in_flight(&mut pg) > 0 {
            a.kill().unwrap(); // SIGKILL
            let _ = a.wait();
            killed_at = Some((started.elapsed(), pushed));
            println!("killed one worker after {pushed} pushes");
        }
        if pushed >= target {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3600),
            "dispatch did not finish: {pushed}/{target}"
        );
    }
    let total = started.elapsed();
    let _ = Command::new("kill")
        .args(["-TERM", &b.id().to_string()])
        .status();
    let _ = b.wait();
    let (two_workers, pushed_by_two) = killed_at
        .expect("the worker was never seen holding a batch mid-send: rerun with more members");
    let two_rate = pushed_by_two as f64 / two_workers.as_secs_f64();
    let sent = count(&mut pg, "SELECT CAST(COALESCE(SUM(addressed), 0) AS BIGINT) AS n FROM campaign_push_batches WHERE status = 'sent'");
    let resends = count(
        &mut pg,
        "SELECT CAST(COALESCE(SUM(resends), 0) AS BIGINT) AS n FROM campaign_push_batches",
    );

    println!();
    println!("members                      {n}");
    println!(
        "baseline INSERT … SELECT     {:.2} s",
        baseline.as_secs_f64()
    );
    println!(
        "fan-out (inbox + {batches} push batches) {:.2} s  = {:.2}× baseline (target ≤ 3×)",
        fan_out.as_secs_f64(),
        fan_out.as_secs_f64() / baseline.as_secs_f64()
    );
    println!("wrk against the fake JPush   {wrk_rate:.0} req/s (one device per request)");
    println!(
        "dispatch, 2 workers          {two_rate:.0} pushes/s = {:.0} % of wrk (target ≥ 50 %)",
        100.0 * two_rate / wrk_rate
    );
    let delivered = fake.delivered_count() - base_delivered;
    println!("all {n} pushes delivered in {:.1} s by {} JPush requests (distinct cids); devices notified {delivered}, distinct {}; recipients recorded sent {sent}; repeated cids {}; counted resends {resends}",
        total.as_secs_f64(), fake.push_count() - base_pushes, fake.devices_reached() - base_reached, fake.duplicate_cid_count() - base_repeats);
    assert!(
        resends >= 1,
        "the killed worker held a batch: it must have been claimed again (a possible resend)"
    );
    assert_eq!(delivered, target, "every device notified once");
    assert_eq!(
        fake.devices_reached() - base_reached,
        target,
        "no device notified twice"
    );
    assert_eq!(sent, n, "every recipient recorded as sent");
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}
