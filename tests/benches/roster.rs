//! The roster import benchmark, on PostgreSQL: a roster of N rows (default 1,000,000)
//! against N active members, uploaded to the release `gongyou serve` and imported by one
//! `gongyou worker`, each its own process. Measured against a baseline taken in the same
//! run (the machine is shared and noisy):
//!
//! - span: from the first uploaded byte to the import `done` (every enrollment committed,
//!   its notification written to the outbox; delivery not waited for), polled every 200 ms;
//! - baseline: `psql \copy` of the same file (UTF-8 already) into an unindexed table of the
//!   same five columns, median of 3.
//!
//! - second baseline ("the same writes in SQL"), once, before the import: in one
//!   transaction, `\copy` of the roster's decoded keys (row, blind index, start date) into a
//!   staging table, then `INSERT … SELECT` of the enrollments, their notices and the
//!   members' start dates (`platform_starts`) into the real tables; rolled back and
//!   vacuumed before the import runs. It is the floor of any import that writes what this
//!   one writes, and shows how far the first baseline's target is from it.
//!
//! Targets: span ≤ 3× the baseline; peak resident memory (VmHWM) of the API process and of
//! the worker each ≤ 300 MB. The import must enroll every row and write one `plan_enrolled`
//! notice per enrollment, or the benchmark panics.
//!
//! `GONGYOU_BENCH_PROFILE=1` also samples `pg_stat_activity` every 10 ms during the import and
//! prints where the worker's time goes (statement running in PostgreSQL, or the worker busy
//! between statements of an open transaction, or no transaction open).
//!
//! Run: `make bench-roster` (needs `GONGYOU_BENCH_DATABASE_URL`, e.g.
//! postgres://postgres@127.0.0.1:5432/postgres, `psql` and `curl`; optional
//! `GONGYOU_BENCH_MEMBERS`, `GONGYOU_ROSTER_BATCH_ROWS`, `GONGYOU_BENCH_PROFILE`, and `PGOPTIONS`,
//! passed to the server and the worker, e.g. `-c plan_cache_mode=force_custom_plan` or
//! auto_explain settings).

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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{json, Value};

const DATA_KEY: &str = "bench-roster-data-key-0123456789abcdef";
const TOKEN_SECRET: &str = "bench-roster-token-secret-0123456789abcdef";
const DEMO_PASSWORD: &str = "bench-password-2026";
const PLAN: &str = "bench-roster";
const TARGET_RATIO: f64 = 3.0;
const TARGET_MB: f64 = 300.0;

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

fn psql(url: &str, command: &str) {
    psql_with(url, &["-c", command]);
}

/// `psql` on `url` with these arguments, stopping at the first error.
fn psql_with(url: &str, args: &[&str]) {
    let out = Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .args(args)
        .output()
        .expect("psql installed");
    assert!(
        out.status.success(),
        "psql failed: {args:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Member `i`'s resident ID number: 锦江 (510104), born between 1967 and 2002 (ages 24–59
/// in 2026), a sequence number, the GB 11643 check character. Unique for i < 13,000,000.
fn id_number(i: u64) -> (String, chrono::NaiveDate) {
    let base = chrono::NaiveDate::from_ymd_opt(1967, 1, 1).unwrap();
    let birth = base + chrono::Days::new(i % 13_000);
    let first17 = format!("510104{}{:03}", birth.format("%Y%m%d"), i / 13_000);
    let check = gongyou_domain::id_number::check_char(&first17).unwrap();
    (format!("{first17}{check}"), birth)
}

const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
];
const GIVEN: [&str; 16] = [
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "军", "杰", "强", "涛", "明", "霞", "平", "刚",
];

/// Writes the members' seed (tab-separated: i, blind index, birth date, sex), the roster
/// (CSV, UTF-8, CRLF: every member, with a platform start date the members lack) and the
/// roster's decoded keys for the SQL baseline (row, blind index, start date).
fn write_files(n: u64, people: &Path, roster: &Path, keys: &Path) -> u64 {
    let crypto = gongyou_services::crypto::DataCrypto::new(DATA_KEY, &[]);
    let mut p = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(people).unwrap());
    let mut k = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(keys).unwrap());
    let mut r = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(roster).unwrap());
    r.write_all("姓名,身份证号,手机号,平台工号,入职日期\r\n".as_bytes())
        .unwrap();
    let start = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    for i in 0..n {
        let (id, birth) = id_number(i);
        let index = crypto.blind_index("id_number", &id);
        let sex = if (i / 13_000) % 2 == 1 {
            "male"
        } else {
            "female"
        };
        writeln!(p, "{i}\t{index}\t{birth}\t{sex}").unwrap();
        let name = format!(
            "{}{}{}",
            SURNAMES[(i % 12) as usize],
            GIVEN[((i / 12) % 16) as usize],
            GIVEN[((i / 192) % 16) as usize]
        );
        let phone = if i % 2 == 0 {
            format!("138{:08}", i)
        } else {
            String::new()
        };
        let started = start + chrono::Days::new(i % 1500);
        write!(r, "{name},{id},{phone},MT-{i:08},{started}\r\n").unwrap();
        writeln!(k, "{}\t{index}\t{started}", i + 1).unwrap();
    }
    p.flush().unwrap();
    k.flush().unwrap();
    r.flush().unwrap();
    std::fs::metadata(roster).unwrap().len()
}

/// A statement's shape for the profile: verb and table.
fn statement_kind(query: &str) -> String {
    let q = query.trim_start();
    let word = q
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    let after = |key: &str| -> String {
        let upper = q.to_ascii_uppercase();
        upper
            .find(key)
            .map(|at| {
                q[at + key.len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches('"')
                    .split('"')
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
            .unwrap_or_default()
    };
    match word.as_str() {
        "INSERT" => format!("INSERT {}", after("INSERT INTO ")),
        "UPDATE" => format!("UPDATE {}", after("UPDATE ")),
        "DELETE" => format!("DELETE {}", after("DELETE FROM ")),
        "SELECT" => format!("SELECT {}", after(" FROM ")),
        "" => "(none)".into(),
        _ => word,
    }
}

#[derive(diesel::QueryableByName)]
struct Activity {
    #[diesel(sql_type = diesel::sql_types::Text)]
    app: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    state: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    query: String,
}

/// Samples what the worker's connections do every 10 ms until `stop`.
fn sample_activity(url: String, stop: Arc<AtomicBool>) -> (u64, HashMap<String, u64>) {
    let mut conn = PgConnection::establish(&url).unwrap();
    let mut samples = 0;
    let mut seen: HashMap<String, u64> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        let rows: Vec<Activity> = diesel::sql_query(
            "SELECT application_name AS app, COALESCE(state, '') AS state, COALESCE(query, '') AS query \
             FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND application_name = 'gongyou-worker' AND state IN ('active', 'idle in transaction')",
        )
        .load(&mut conn)
        .unwrap_or_default();
        samples += 1;
        let mut keys: Vec<String> = rows
            .iter()
            .map(|r| {
                let kind = statement_kind(&r.query);
                if r.state == "active" {
                    format!("{} PostgreSQL runs {kind}", r.app)
                } else {
                    format!("{} busy in a transaction, after {kind}", r.app)
                }
            })
            .collect();
        if rows.is_empty() {
            keys.push("gongyou-worker: no statement running, no transaction open".into());
        }
        keys.sort();
        keys.dedup();
        for k in keys {
            *seen.entry(k).or_default() += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (samples, seen)
}

fn main() {
    let Some(server) = env("GONGYOU_BENCH_DATABASE_URL") else {
        eprintln!("GONGYOU_BENCH_DATABASE_URL is not set: the roster benchmark runs on PostgreSQL");
        return;
    };
    let members: u64 = env("GONGYOU_BENCH_MEMBERS").map_or(1_000_000, |n| n.parse().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(server, members));
}

async fn run(server: String, n: u64) {
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/gongyou");
    assert!(
        binary.exists(),
        "build it first: cargo build --release --bin gongyou"
    );
    let profile = env("GONGYOU_BENCH_PROFILE").is_some_and(|v| v != "0");
    let batch_rows = env("GONGYOU_ROSTER_BATCH_ROWS");
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

    // The members (real blind indexes, computed here; ids shaped like the app's UUIDs) and
    // the roster file.
    println!("fixture: {n} members and a roster of {n} rows …");
    let started = Instant::now();
    let people = files.path().join("people.tsv");
    let roster = files.path().join("roster.csv");
    let keys = files.path().join("keys.tsv");
    let roster_bytes = write_files(n, &people, &roster, &keys);
    let mut pg = PgConnection::establish(&url).unwrap();
    exec(
        &mut pg,
        "CREATE UNLOGGED TABLE bench_people (i BIGINT NOT NULL, idx TEXT NOT NULL, birth TEXT NOT NULL, sex TEXT NOT NULL)",
    );
    psql(
        &url,
        &format!("\\copy bench_people FROM '{}'", people.display()),
    );
    exec(&mut pg, &format!(
        "INSERT INTO users (id, phone, wechat_openid, wechat_unionid, status, merged_into, created_at, updated_at)
         SELECT '00000000-0000-7000-9000-' || lpad(to_hex(g), 12, '0'), '139' || lpad(g::text, 8, '0'), NULL, NULL, 'active', NULL, now(), now()
         FROM generate_series(0, {n} - 1) g"));
    exec(&mut pg,
        "INSERT INTO memberships (id, user_id, org_id, application_id, card_number, status, joined_on, real_name,
             id_number_enc, id_number_key_id, id_number_index, birth_date, sex, occupation, platform, platform_worker_id,
             region_code, ended_at, anonymized_at, created_at, updated_at, platform_started_on)
         SELECT '00000000-0000-7000-8000-' || lpad(to_hex(p.i), 12, '0'), '00000000-0000-7000-9000-' || lpad(to_hex(p.i), 12, '0'),
             (SELECT id FROM orgs WHERE name = '锦江区新就业形态劳动者工会'), 'a' || p.i, '510104' || lpad(p.i::text, 9, '0'),
             'active', '2026-01-01', '骑手', '', 'bench', p.idx, p.birth, p.sex, 'delivery_rider', 'meituan',
             'MT-' || lpad(p.i::text, 8, '0'), '510104', NULL, NULL, now(), now(), NULL
         FROM bench_people p");
    exec(&mut pg, "DROP TABLE bench_people");
    std::fs::remove_file(&people).unwrap();
    exec(&mut pg, "VACUUM ANALYZE");
    println!(
        "fixture ready in {:.1} s (roster {:.1} MB)",
        started.elapsed().as_secs_f64(),
        roster_bytes as f64 / 1_048_576.0
    );

    // Baseline: the same file into an unindexed table of the same five columns.
    exec(&mut pg, "CREATE TABLE bench_roster_copy (name TEXT, id_number TEXT, phone TEXT, platform_worker_id TEXT, platform_start_date TEXT)");
    let mut baselines = Vec::new();
    for _ in 0..3 {
        exec(&mut pg, "TRUNCATE bench_roster_copy");
        exec(&mut pg, "CHECKPOINT");
        let started = Instant::now();
        psql(
            &url,
            &format!(
                "\\copy bench_roster_copy FROM '{}' WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')",
                roster.display()
            ),
        );
        baselines.push(started.elapsed());
        assert_eq!(
            count(&mut pg, "SELECT COUNT(*) AS n FROM bench_roster_copy"),
            n as i64
        );
    }
    exec(&mut pg, "DROP TABLE bench_roster_copy");
    exec(&mut pg, "CHECKPOINT");
    let mut sorted = baselines.clone();
    sorted.sort();
    let baseline = sorted[1];

    // Second baseline: the same writes as set-based SQL, in one transaction, rolled back.
    let sql_baseline = files.path().join("same-writes.sql");
    std::fs::write(
        &sql_baseline,
        format!(
            "BEGIN;
CREATE TEMP TABLE stage (row_no BIGINT, idx TEXT, started TEXT) ON COMMIT DROP;
\\copy stage FROM '{keys}'
INSERT INTO enrollments (id, plan_code, plan_version, user_id, membership_id, certificate_no,
    effective_from, effective_to, source, roster_import_id, enrolled_at)
  SELECT gen_random_uuid()::text, 'sql-baseline', 1, m.user_id, m.id,
    'SQL-BASELINE-' || lpad(s.row_no::text, 8, '0'), '2026-12-07', '2027-10-02', 'roster',
    'sql-baseline', now()
  FROM stage s JOIN memberships m ON m.id_number_index = s.idx AND m.status <> 'withdrawn';
INSERT INTO notifications (id, user_id, category, title, body, data, read_at, created_at)
  SELECT gen_random_uuid()::text, e.user_id, 'plan_enrolled', '保障已到手',
    '您已参加骑手保障（基准），保障证书号 ' || e.certificate_no || '，保障期 2026-12-07 至 2027-10-02。出险后可在“我的保障”中查看并申请。',
    json_build_object('plan', '骑手保障（基准）', 'certificate_no', e.certificate_no, 'from', e.effective_from, 'to', e.effective_to)::text,
    NULL, now()
  FROM enrollments e WHERE e.roster_import_id = 'sql-baseline';
INSERT INTO platform_starts (membership_id, started_on, roster_import_id, recorded_at)
  SELECT m.id, s.started, 'sql-baseline', now()
  FROM stage s JOIN memberships m ON m.id_number_index = s.idx AND m.status <> 'withdrawn'
  WHERE m.platform_started_on IS NULL
  ON CONFLICT DO NOTHING;
ROLLBACK;
",
            keys = keys.display()
        ),
    )
    .unwrap();
    exec(&mut pg, "CHECKPOINT");
    let started = Instant::now();
    psql_with(&url, &["-f", &sql_baseline.display().to_string()]);
    let same_writes = started.elapsed();
    exec(&mut pg, "VACUUM ANALYZE memberships");
    exec(&mut pg, "VACUUM ANALYZE enrollments");
    exec(&mut pg, "VACUUM ANALYZE notifications");
    exec(&mut pg, "CHECKPOINT");

    // The API and one worker, release build, each its own process.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spawn = |command: &str, app: &str| -> Killer {
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
            .env("GONGYOU_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(rows) = &batch_rows {
            cmd.env("GONGYOU_ROSTER_BATCH_ROWS", rows);
        }
        // For profiling, e.g. auto_explain: PGOPTIONS="-c session_preload_libraries=auto_explain …".
        if let Some(options) = env("PGOPTIONS") {
            cmd.env("PGOPTIONS", options);
        }
        Killer(cmd.spawn().unwrap())
    };
    let api = spawn("serve", "gongyou-api");
    let worker = spawn("worker", "gongyou-worker");
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
    let signed_in: Value = http
        .post(format!("{base}/api/v1/auth/sessions/password"))
        .json(&json!({"username": "demo-sichuan-admin", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", signed_in["access_token"].as_str().unwrap());

    // A published plan of 四川省总工会 open today, with rules every member meets.
    let sichuan = diesel::sql_query("SELECT id AS t FROM orgs WHERE name = '四川省总工会'")
        .get_result::<Text>(&mut pg)
        .unwrap()
        .t;
    let today = gongyou_domain::time::china_date(chrono::Utc::now());
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();
    let terms = json!({
        "name": "骑手保障（基准）",
        "enrollment_opens_on": day(-30), "enrollment_closes_on": day(60),
        "coverage_starts_on": day(0), "coverage_ends_on": day(300),
        "eligibility": {"occupations": ["delivery_rider"], "region_codes": ["510104"],
                        "min_age": 18, "max_age": 60, "min_platform_tenure_months": 3},
        "benefits": [{"code": "accident", "name": "意外身故伤残", "kind": "lump_sum", "amount": "30000.00",
                      "waiting_days": {"illness": 0, "accident": 0}, "documents": []}]
    });
    let r = http
        .post(format!("{base}/api/v1/admin/plans"))
        .header("Authorization", &bearer)
        .json(&json!({"code": PLAN, "sponsor_org_id": sichuan, "terms": terms}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "create plan: {}", r.text().await.unwrap());
    let r = http
        .post(format!("{base}/api/v1/admin/plans/{PLAN}/publish"))
        .header("Authorization", &bearer)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "publish plan: {}", r.text().await.unwrap());

    // The span: from the first uploaded byte (curl streams the file) to `done`.
    let sampler = profile.then(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let (u, s) = (url.clone(), stop.clone());
        (stop, std::thread::spawn(move || sample_activity(u, s)))
    });
    let worker_cpu_before = cpu_seconds(worker.0.id());
    let api_cpu_before = cpu_seconds(api.0.id());
    let answer = files.path().join("answer.json");
    let started = Instant::now();
    let curl = Command::new("curl")
        .args(["-sS", "--noproxy", "*", "-X", "POST", "-T"])
        .arg(&roster)
        .args(["-H", "Expect:", "-H", "Content-Type: text/csv", "-H"])
        .arg(format!("Authorization: {bearer}"))
        .arg("-o")
        .arg(&answer)
        .args(["-w", "%{http_code}"])
        .arg(format!("{base}/api/v1/admin/plans/{PLAN}/roster-imports"))
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
    assert_eq!(accepted["total_rows"], json!(n), "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_owned();
    let api_cpu_upload = cpu_seconds(api.0.id()) - api_cpu_before;
    println!("uploaded in {:.2} s; importing …", upload.as_secs_f64());
    let mut last_report = Instant::now();
    let view: Value = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let view: Value = http
            .get(format!("{base}/api/v1/admin/roster-imports/{id}"))
            .header("Authorization", &bearer)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        match view["status"].as_str() {
            Some("done") => break view,
            Some("failed") => panic!("the import failed: {view}"),
            _ => {}
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            last_report = Instant::now();
            println!(
                "  {:.0} s: {} of {n} rows processed",
                started.elapsed().as_secs_f64(),
                view["processed_rows"]
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(6 * 3600),
            "the import did not finish: {view}"
        );
    };
    let span = started.elapsed();
    let worker_cpu = cpu_seconds(worker.0.id()) - worker_cpu_before;
    let api_cpu = cpu_seconds(api.0.id()) - api_cpu_before;
    let api_hwm = proc_status_mb(api.0.id(), "VmHWM");
    let worker_hwm = proc_status_mb(worker.0.id(), "VmHWM");
    let profiled = sampler.map(|(stop, handle)| {
        stop.store(true, Ordering::Relaxed);
        handle.join().unwrap()
    });
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

    // Every row enrolled, every enrollment noticed.
    let enrollments = count(
        &mut pg,
        &format!("SELECT COUNT(*) AS n FROM enrollments WHERE plan_code = '{PLAN}'"),
    );
    let notices = count(
        &mut pg,
        "SELECT COUNT(*) AS n FROM notifications WHERE category = 'plan_enrolled'",
    );
    let started_on = count(&mut pg, "SELECT COUNT(*) AS n FROM platform_starts");
    let rows_per_sec = n as f64 / span.as_secs_f64();
    let ratio = span.as_secs_f64() / baseline.as_secs_f64();
    let met = |ok: bool| if ok { "met" } else { "NOT met" };

    println!();
    println!(
        "members / roster rows        {n} ({:.1} MB of CSV)",
        roster_bytes as f64 / 1_048_576.0
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
        "span (upload → done)         {:.2} s = {ratio:.2}× baseline (target ≤ {TARGET_RATIO}×: {})",
        span.as_secs_f64(),
        met(ratio <= TARGET_RATIO)
    );
    println!(
        "the same writes in SQL        {:.2} s (once, rolled back): span = {:.2}× it; it = {:.1}× the \\copy baseline",
        same_writes.as_secs_f64(),
        span.as_secs_f64() / same_writes.as_secs_f64(),
        same_writes.as_secs_f64() / baseline.as_secs_f64()
    );
    println!("upload (until the 202)       {:.2} s", upload.as_secs_f64());
    println!("import rate                  {rows_per_sec:.0} rows/s");
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
    println!("import                       {view}");
    println!(
        "enrollments {enrollments}, plan_enrolled notices {notices}, members with a platform start date {started_on}"
    );
    if let Some((samples, seen)) = profiled {
        println!();
        println!("where the worker's time goes ({samples} samples of pg_stat_activity, 10 ms apart; a sample may count under several lines):");
        let mut lines: Vec<(String, u64)> = seen.into_iter().collect();
        lines.sort_by_key(|l| std::cmp::Reverse(l.1));
        for (what, k) in lines {
            println!(
                "  {:5.1} %  {what}",
                100.0 * k as f64 / samples.max(1) as f64
            );
        }
    }
    assert_eq!(view["enrolled"], json!(n), "every row enrolled: {view}");
    assert_eq!(view["processed_rows"], json!(n), "every row processed");
    assert_eq!(enrollments, n as i64, "one enrollment per row");
    assert_eq!(notices, n as i64, "one plan_enrolled notice per enrollment");
    assert_eq!(
        started_on, n as i64,
        "platform start dates filled from the roster"
    );
}
