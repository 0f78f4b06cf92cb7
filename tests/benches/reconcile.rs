//! The reconciliation benchmark (issue 15), on PostgreSQL: a WeChat Pay fund-flow bill of N
//! lines (default 1,000,000) reconciled against N payouts paid on the bill's day, uploaded
//! by a finance approver to the release `gongyou serve` and reconciled by one
//! `gongyou worker`, each its own process. Measured against a baseline taken in the same
//! run (the machine is shared and noisy):
//!
//! - span: from the first uploaded byte (curl streams the file) to the run `done` (every
//!   line judged, the matches and the summary committed), polled every 200 ms (so the span
//!   is late by up to 200 ms);
//! - baseline: `psql \copy` of the same file's data lines (the header kept, the two summary
//!   rows dropped) into an unindexed table of 11 text columns, median of 3.
//!
//! Targets: span ≤ 3× the baseline; peak resident memory (VmHWM) of the API process and of
//! the worker each ≤ 300 MB. The run must end with every line matched, no exception, both
//! sides' totals agreeing and the bill's own summary rows agreeing, or the benchmark panics.
//!
//! The fixture: N payouts (`paid`, WeChat, of 锦江's union), one `SUCCESS` attempt each,
//! sent and final on yesterday (Asia/Shanghai); the bill names each attempt by its
//! `transfer_bill_no` (微信支付业务单号) and its `out_bill_no` (业务凭证号), same amounts.
//!
//! Run: `make bench-reconcile` (needs `GONGYOU_BENCH_DATABASE_URL`, e.g.
//! postgres://postgres@127.0.0.1:5432/postgres, `psql` and `curl`; optional
//! `GONGYOU_BENCH_LINES`, and `PGOPTIONS`, passed to the server and the worker).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::zombie_processes
)]

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{json, Value};

const DATA_KEY: &str = "bench-reconcile-data-key-0123456789abcdef";
const TOKEN_SECRET: &str = "bench-reconcile-token-secret-0123456789abcdef";
const DEMO_PASSWORD: &str = "bench-password-2026";
const FINANCE: &str = "demo-finance";
const TARGET_RATIO: f64 = 3.0;
const TARGET_MB: f64 = 300.0;
const BILL_HEADER: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号";
const BILL_SUMMARY_HEADER: &str = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额";
const TRANSFER: &str = "商家转账";
const REMARK: &str = "医疗互助金理赔";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn exec(conn: &mut PgConnection, sql: &str) -> usize {
    diesel::sql_query(sql)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
}

#[derive(diesel::QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    t: String,
}

struct Dropper(String, String);

impl Drop for Dropper {
    fn drop(&mut self) {
        let _ = gongyou_tests::pg::drop_database(&self.0, &self.1);
    }
}

/// Stops a child process (SIGTERM, then waits) when dropped.
struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `/proc/<pid>/status` figure in MB (`VmHWM`: the peak resident set).
fn proc_status_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim_start_matches(':').split_whitespace().next())
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// User + system CPU seconds of a process so far.
fn cpu_seconds(pid: u32) -> f64 {
    let ticks_per_sec = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name (which is in parentheses and may hold spaces).
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = f.get(11)?.parse().ok()?;
            let stime: f64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) / ticks_per_sec)
        })
        .unwrap_or(0.0)
}

/// `psql` on `url` running `command`, stopping at the first error.
fn psql(url: &str, command: &str) {
    let out = Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", command])
        .output()
        .expect("psql installed");
    assert!(
        out.status.success(),
        "psql failed: {command}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Yuan with two decimals, from fen (never negative here).
fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// Attempt `i` of `n`: its `out_bill_no` (32 lowercase hexadecimal digits, shaped like
/// ours), WeChat's `transfer_bill_no`, the amount, and seconds into the day it was sent
/// (final two minutes later, still on the day).
fn attempt(i: u64, n: u64, date: NaiveDate) -> (String, String, i64, u64) {
    let out_bill_no = format!("0193a7c4e2b87d5e9f10{i:012x}");
    let transfer_bill_no = format!("1330000071100{}{i:012}", date.format("%Y%m%d"));
    let fen = 100 + i64::try_from(i.wrapping_mul(7919) % 499_901).unwrap();
    let sent = 60 + i * 86_000 / n.max(1);
    (out_bill_no, transfer_bill_no, fen, sent)
}

/// Writes the attempts' seed (tab-separated: i, out_bill_no, transfer_bill_no, fen,
/// sent_at and final_at in UTC), the bill (UTF-8 with a BOM, backticks, CRLF, the summary
/// rows) and the baseline's body (the same bytes without the two summary rows). Returns
/// the bill's size and its total in fen.
fn write_files(n: u64, date: NaiveDate, seed: &Path, bill: &Path, body: &Path) -> (u64, i64) {
    let day_start = gongyou_domain::time::from_china_local(date.and_time(NaiveTime::MIN));
    let local = date.and_time(NaiveTime::MIN);
    let open =
        |p: &Path| std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(p).unwrap());
    let mut s = open(seed);
    let mut b = open(bill);
    let mut c = open(body);
    let total: i64 = (0..n).map(|i| attempt(i, n, date).2).sum();
    let mut balance = total + 100_000_000;
    let head = format!("\u{feff}{BILL_HEADER}\r\n");
    b.write_all(head.as_bytes()).unwrap();
    c.write_all(head.as_bytes()).unwrap();
    let day = date.format("%Y%m%d").to_string();
    for i in 0..n {
        let (out_bill_no, transfer_bill_no, fen, sent) = attempt(i, n, date);
        let sent_at = day_start + chrono::Duration::seconds(i64::try_from(sent).unwrap());
        let final_at = sent_at + chrono::Duration::seconds(120);
        writeln!(
            s,
            "{i}\t{out_bill_no}\t{transfer_bill_no}\t{fen}\t{}\t{}",
            sent_at.naive_utc(),
            final_at.naive_utc()
        )
        .unwrap();
        balance -= fen;
        let booked = local + chrono::Duration::seconds(i64::try_from(sent + 120).unwrap());
        let line = format!(
            "`{},`{transfer_bill_no},`1900000109{day}{i:010},`{TRANSFER},`{TRANSFER},`支出,`{},`{},`system,`{REMARK},`{out_bill_no}\r\n",
            booked.format("%Y-%m-%d %H:%M:%S"),
            yuan(fen),
            yuan(balance)
        );
        b.write_all(line.as_bytes()).unwrap();
        c.write_all(line.as_bytes()).unwrap();
    }
    write!(
        b,
        "{BILL_SUMMARY_HEADER}\r\n`{n}.0,`0.0,`0.00,`{n}.0,`{}\r\n",
        yuan(total)
    )
    .unwrap();
    s.flush().unwrap();
    b.flush().unwrap();
    c.flush().unwrap();
    (std::fs::metadata(bill).unwrap().len(), total)
}

fn main() {
    let Some(server) = env("GONGYOU_BENCH_DATABASE_URL") else {
        eprintln!(
            "GONGYOU_BENCH_DATABASE_URL is not set: the reconciliation benchmark runs on PostgreSQL"
        );
        return;
    };
    let lines: u64 = env("GONGYOU_BENCH_LINES").map_or(1_000_000, |n| n.parse().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(server, lines));
}

async fn sign_in(http: &reqwest::Client, base: &str) -> String {
    let signed_in: Value = http
        .post(format!("{base}/api/v1/auth/sessions/password"))
        .json(&json!({"username": FINANCE, "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    format!("Bearer {}", signed_in["access_token"].as_str().unwrap())
}

/// A timestamp of the run view (RFC 3339), if set.
fn at(view: &Value, field: &str) -> Option<DateTime<Utc>> {
    view[field]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// When the worker logged "statement reconciled" (everything judged and written, before
/// the commit), from its JSON log lines.
fn reconciled_logged(log: &Path) -> Option<DateTime<Utc>> {
    std::fs::read_to_string(log)
        .ok()?
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "statement reconciled")
        .and_then(|v| at(&v, "timestamp"))
}

async fn run(server: String, n: u64) {
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/gongyou");
    assert!(
        binary.exists(),
        "build it first: cargo build --release --bin gongyou"
    );
    let name = gongyou_tests::pg::clone_template(&server).unwrap();
    let _dropper = Dropper(server.clone(), name.clone());
    let url = gongyou_tests::pg::url_with_database(&server, &name).unwrap();
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let mut settings: HashMap<String, String> = HashMap::new();
    settings.insert("GONGYOU_DATABASE_URL".into(), url.clone());
    settings.insert("GONGYOU_DATA_DIR".into(), data.path().display().to_string());
    settings.insert("GONGYOU_DEMO_PASSWORD".into(), DEMO_PASSWORD.into());
    settings.insert("GONGYOU_DATA_KEY".into(), DATA_KEY.into());
    settings.insert("GONGYOU_TOKEN_SECRET".into(), TOKEN_SECRET.into());
    let config = gongyou_services::config::Config::load(None, &settings).unwrap();
    let db = gongyou_db::Db::new(&config.database, &config.pool).unwrap();
    gongyou::seed::run(&db, &config, chrono::Utc::now().naive_utc())
        .await
        .unwrap();
    drop(db);

    // Yesterday in Asia/Shanghai: a day that is over.
    let date = gongyou_domain::time::china_date(Utc::now()) - chrono::Duration::days(1);

    // The payouts and their attempts (ids shaped like the app's UUIDs), and the bill.
    println!("fixture: {n} payouts paid on {date} and a bill of {n} lines …");
    let started = Instant::now();
    let seed = files.path().join("attempts.tsv");
    let bill = files.path().join("bill.csv");
    let body = files.path().join("bill-body.csv");
    let (bill_bytes, total_fen) = write_files(n, date, &seed, &bill, &body);
    let mut pg = PgConnection::establish(&url).unwrap();
    exec(
        &mut pg,
        "CREATE UNLOGGED TABLE bench_attempts (i BIGINT NOT NULL, out_bill_no TEXT NOT NULL, \
         transfer_bill_no TEXT NOT NULL, fen BIGINT NOT NULL, sent_at TIMESTAMP NOT NULL, final_at TIMESTAMP NOT NULL)",
    );
    psql(
        &url,
        &format!("\\copy bench_attempts FROM '{}'", seed.display()),
    );
    let jinjiang = "(SELECT id FROM orgs WHERE name = '锦江区新就业形态劳动者工会')";
    let jinjiang_path = "(SELECT path FROM orgs WHERE name = '锦江区新就业形态劳动者工会')";
    exec(
        &mut pg,
        &format!(
            "INSERT INTO payouts (id, claim_id, claimant_id, org_id, org_path, amount_fen, status, payee_kind,
                 payee_claim_id, payee_request_id, batch_id, open_attempt_id, attempts, failure_code,
                 failure_detail, paid_at, created_at, updated_at, revision)
             SELECT '00000000-0000-7000-a000-' || lpad(to_hex(a.i), 12, '0'),
                 '00000000-0000-7000-c000-' || lpad(to_hex(a.i), 12, '0'),
                 '00000000-0000-7000-9000-' || lpad(to_hex(a.i), 12, '0'),
                 {jinjiang}, {jinjiang_path}, a.fen, 'paid', 'wechat',
                 '00000000-0000-7000-c000-' || lpad(to_hex(a.i), 12, '0'), NULL, NULL, NULL, 1, NULL,
                 NULL, a.final_at, a.sent_at - interval '1 day', a.final_at, 3
             FROM bench_attempts a"
        ),
    );
    exec(
        &mut pg,
        "INSERT INTO payout_attempts (id, payout_id, out_bill_no, channel, amount_fen, appid, openid,
             user_name_enc, remark, state, outcome_unknown, sends, transfer_bill_no, package_info,
             fail_reason, expires_at, reminded_at, next_check_at, sent_at, final_at, created_at, updated_at)
         SELECT '00000000-0000-7000-b000-' || lpad(to_hex(a.i), 12, '0'),
             '00000000-0000-7000-a000-' || lpad(to_hex(a.i), 12, '0'), a.out_bill_no, 'wechat', a.fen,
             'wxbench0000000001', 'obench' || lpad(a.i::text, 22, '0'), NULL, '医疗互助金理赔', 'SUCCESS',
             false, 1, a.transfer_bill_no, 'affffddafdfafddffda==', NULL, a.sent_at + interval '24 hours',
             NULL, NULL, a.sent_at, a.final_at, a.sent_at, a.final_at
         FROM bench_attempts a",
    );
    exec(&mut pg, "DROP TABLE bench_attempts");
    std::fs::remove_file(&seed).unwrap();
    exec(&mut pg, "VACUUM ANALYZE");
    println!(
        "fixture ready in {:.1} s (bill {:.1} MB, {} yuan out)",
        started.elapsed().as_secs_f64(),
        bill_bytes as f64 / 1_048_576.0,
        yuan(total_fen)
    );

    // Baseline: the same data lines into an unindexed table of the bill's 11 columns.
    exec(
        &mut pg,
        "CREATE TABLE bench_bill_copy (booked_at TEXT, wechat_bill_no TEXT, flow_no TEXT, \
         business_name TEXT, business_type TEXT, direction TEXT, amount TEXT, balance TEXT, \
         applicant TEXT, remark TEXT, voucher_no TEXT)",
    );
    let mut baselines = Vec::new();
    for _ in 0..3 {
        exec(&mut pg, "TRUNCATE bench_bill_copy");
        exec(&mut pg, "CHECKPOINT");
        let started = Instant::now();
        psql(
            &url,
            &format!(
                "\\copy bench_bill_copy FROM '{}' WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')",
                body.display()
            ),
        );
        baselines.push(started.elapsed());
        assert_eq!(
            count(&mut pg, "SELECT COUNT(*) AS n FROM bench_bill_copy"),
            n as i64
        );
    }
    exec(&mut pg, "DROP TABLE bench_bill_copy");
    std::fs::remove_file(&body).unwrap();
    exec(&mut pg, "CHECKPOINT");
    let mut sorted = baselines.clone();
    sorted.sort();
    let baseline = sorted[1];

    // The API and one worker, release build, each its own process; the worker's log (JSON
    // lines) says when the statement was reconciled, before the commit.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let worker_log = files.path().join("worker.log");
    let spawn = |command: &str, app: &str, log: Option<&Path>| -> Killer {
        let mut cmd = Command::new(&binary);
        cmd.arg(command)
            .env_clear()
            .env("PGAPPNAME", app)
            .env("GONGYOU_DATABASE_URL", &url)
            .env("GONGYOU_DATA_DIR", data.path())
            .env("GONGYOU_DATA_KEY", DATA_KEY)
            .env("GONGYOU_TOKEN_SECRET", TOKEN_SECRET)
            .env("GONGYOU_DEMO_PASSWORD", DEMO_PASSWORD)
            .env("GONGYOU_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("GONGYOU_JOB_POLL_MS", "200")
            .stderr(Stdio::inherit());
        match log {
            Some(path) => cmd
                .env("GONGYOU_LOG", "warn,gongyou_services::reconcile=info")
                .stdout(std::fs::File::create(path).unwrap()),
            None => cmd.env("GONGYOU_LOG", "warn").stdout(Stdio::null()),
        };
        if let Some(options) = env("PGOPTIONS") {
            cmd.env("PGOPTIONS", options);
        }
        Killer(cmd.spawn().unwrap())
    };
    let api = spawn("serve", "gongyou-api", None);
    let worker = spawn("worker", "gongyou-worker", Some(&worker_log));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let ready = Instant::now();
    while http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(
            ready.elapsed() < Duration::from_secs(120),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut bearer = sign_in(&http, &base).await;

    // The span: from the first uploaded byte (curl streams the file) to `done`.
    let worker_cpu_before = cpu_seconds(worker.0.id());
    let api_cpu_before = cpu_seconds(api.0.id());
    let answer = files.path().join("answer.json");
    let wall_start = Utc::now();
    let started = Instant::now();
    let curl = Command::new("curl")
        .args(["-sS", "--noproxy", "*", "-X", "POST", "-T"])
        .arg(&bill)
        .args(["-H", "Expect:", "-H", "Content-Type: text/csv", "-H"])
        .arg(format!("Authorization: {bearer}"))
        .arg("-o")
        .arg(&answer)
        .args(["-w", "%{http_code}"])
        .arg(format!(
            "{base}/api/v1/finance/statements?channel=wechat&date={date}"
        ))
        .output()
        .expect("curl installed");
    let upload = started.elapsed();
    let code = String::from_utf8_lossy(&curl.stdout).to_string();
    let accepted = std::fs::read_to_string(&answer).unwrap_or_default();
    assert_eq!(
        code,
        "202",
        "upload refused: {accepted} {}",
        String::from_utf8_lossy(&curl.stderr)
    );
    let accepted: Value = serde_json::from_str(&accepted).unwrap();
    assert_eq!(accepted["status"], "queued", "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_owned();
    let api_cpu_upload = cpu_seconds(api.0.id()) - api_cpu_before;
    println!("uploaded in {:.2} s; reconciling …", upload.as_secs_f64());
    let mut last_report = Instant::now();
    let mut running_seen: Option<Duration> = None;
    let view: Value = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let response = http
            .get(format!("{base}/api/v1/finance/reconciliations/{id}"))
            .header("Authorization", &bearer)
            .send()
            .await
            .unwrap();
        if response.status() == 401 {
            // The access token lasts 15 minutes.
            bearer = sign_in(&http, &base).await;
            continue;
        }
        let view: Value = response.error_for_status().unwrap().json().await.unwrap();
        match view["status"].as_str() {
            Some("done") => break view,
            Some("failed") => panic!("the run failed: {}", view["failure"]),
            Some("running") if running_seen.is_none() => running_seen = Some(started.elapsed()),
            _ => {}
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            last_report = Instant::now();
            println!(
                "  {:.0} s: {}",
                started.elapsed().as_secs_f64(),
                view["status"]
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(6 * 3600),
            "the run did not finish: {view}"
        );
    };
    let span = started.elapsed();
    let worker_cpu = cpu_seconds(worker.0.id()) - worker_cpu_before;
    let api_cpu = cpu_seconds(api.0.id()) - api_cpu_before;
    let api_hwm = proc_status_mb(api.0.id(), "VmHWM");
    let worker_hwm = proc_status_mb(worker.0.id(), "VmHWM");
    // CPU of the worker's PostgreSQL backends (pooled connections live as long as it).
    #[derive(diesel::QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let backends: Vec<Pid> = diesel::sql_query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'gongyou-worker'",
    )
    .load(&mut pg)
    .unwrap();
    let backend_cpu: f64 = backends
        .iter()
        .map(|b| cpu_seconds(u32::try_from(b.pid).unwrap()))
        .sum();
    let matches = count(
        &mut pg,
        &format!(
            "SELECT COALESCE(SUM(entries), 0)::BIGINT AS n FROM reconciliation_match_pages WHERE run_id = '{id}'"
        ),
    );
    let items = count(
        &mut pg,
        &format!("SELECT COUNT(*) AS n FROM reconciliation_items WHERE run_id = '{id}'"),
    );
    let matches_size = diesel::sql_query(
        "SELECT COALESCE(pg_size_pretty(pg_total_relation_size('reconciliation_match_pages')), '') AS t",
    )
    .get_result::<Text>(&mut pg)
    .unwrap()
    .t;

    // Where the span went, by the server's clocks (same machine): the worker took the run
    // (`started_at`), logged it reconciled (before the commit), then `done` was seen.
    let since = |t: Option<DateTime<Utc>>| {
        t.map_or("?".to_owned(), |t| {
            format!(
                "{:.2} s",
                (t - wall_start).num_milliseconds() as f64 / 1000.0
            )
        })
    };
    let run_started = at(&view, "started_at");
    let run_finished = at(&view, "finished_at");
    let logged = reconciled_logged(&worker_log);

    let summary = &view["summary"];
    let matched = summary["outcomes"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["outcome"] == "matched"))
        .cloned()
        .unwrap_or(Value::Null);
    let lines_per_sec = n as f64 / span.as_secs_f64();
    let ratio = span.as_secs_f64() / baseline.as_secs_f64();
    let met = |ok: bool| if ok { "met" } else { "NOT met" };

    println!();
    println!(
        "payouts / bill lines         {n} ({:.1} MB bill, {date})",
        bill_bytes as f64 / 1_048_576.0
    );
    println!(
        "baseline psql \\copy          median {:.2} s (runs {})",
        baseline.as_secs_f64(),
        baselines
            .iter()
            .map(|d| format!("{:.2} s", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "span (upload → done)         {:.2} s = {ratio:.2}× baseline (target ≤ {TARGET_RATIO}×: {}; polled every 200 ms)",
        span.as_secs_f64(),
        met(ratio <= TARGET_RATIO)
    );
    println!("upload (curl, until the 202) {:.2} s", upload.as_secs_f64());
    println!(
        "after the first byte         worker took the run at {} (status running first seen at {}), logged it reconciled at {} (before the commit), done seen at {:.2} s",
        since(run_started),
        running_seen.map_or("–".to_owned(), |d| format!("{:.2} s", d.as_secs_f64())),
        since(logged),
        span.as_secs_f64()
    );
    println!(
        "run view started → finished  {}",
        match (run_started, run_finished) {
            (Some(a), Some(b)) => format!("{:.2} s", (b - a).num_milliseconds() as f64 / 1000.0),
            _ => "?".to_owned(),
        }
    );
    println!("reconciliation rate          {lines_per_sec:.0} lines/s");
    println!(
        "VmHWM API                    {api_hwm:.1} MB (target ≤ {TARGET_MB} MB: {})",
        met(api_hwm <= TARGET_MB)
    );
    println!(
        "VmHWM worker                 {worker_hwm:.1} MB (target ≤ {TARGET_MB} MB: {})",
        met(worker_hwm <= TARGET_MB)
    );
    println!(
        "CPU during the span          API {api_cpu:.1} s ({api_cpu_upload:.1} s in the upload), worker {worker_cpu:.1} s, worker's PostgreSQL backends {backend_cpu:.1} s (of {:.1} s wall, 2 cores shared)",
        span.as_secs_f64()
    );
    println!(
        "written                      {matches} matched lines in pages ({matches_size} with their index and TOAST), {items} items"
    );
    println!(
        "run                          statement_lines {}, exceptions {}, matched {}, totals_agree {}, bill_summary_agrees {}",
        view["statement_lines"],
        view["exceptions"],
        matched,
        summary["totals_agree"],
        summary["bill_summary_agrees"]
    );
    assert_eq!(view["statement_lines"], json!(n), "every line read: {view}");
    assert_eq!(matched["count"], json!(n), "every line matched: {view}");
    assert_eq!(
        matched["statement_amount"],
        json!(yuan(total_fen)),
        "matched amount: {view}"
    );
    assert_eq!(view["exceptions"], json!(0), "no exception: {view}");
    assert_eq!(summary["totals_agree"], json!(true), "totals agree: {view}");
    assert_eq!(
        summary["bill_summary_agrees"],
        json!(true),
        "the bill's summary agrees: {view}"
    );
    assert_eq!(summary["unreadable_lines"], json!(0), "{view}");
    assert_eq!(matches, n as i64, "one match row per line");
    assert_eq!(items, 0, "no item");
}
