//! The review queue benchmark (issue 13), on PostgreSQL: N benefit claims (default
//! 1,000,000), about 30 % of them waiting on staff, spread over ~330 unions in and out of the
//! demo reviewer's scope (四川省总工会: 60 % of the claims), three plans and the demo plan's three
//! benefits, inserted with one `INSERT … SELECT generate_series` (deterministic: hashes of the
//! row number), with their review-queue rows (`claim_queue`: one per waiting claim and org on
//! its path), then `VACUUM ANALYZE`.
//!
//! Measured through HTTP against the release `gongyou serve` (its own process), as
//! `demo-reviewer` (claims_reviewer over 四川省总工会): the whole queue is walked with
//! `limit=50` following `next_cursor` (every claim waiting in scope seen once, the keyset
//! order never repeating nor going back, page 1,000 being what `ORDER BY waiting_since, id
//! OFFSET 49,950` gives), and the filtered queue (`status=under_review`,
//! `plan_code=e-road-sichuan`, `min_amount=4000`) to page 100. Then page 1, page 1,000, the
//! page 95 % into the queue (the newest claims), filtered pages 1 and 100 and `/healthz` (the
//! floor of an HTTP round trip) are timed in turn, 1,000 rounds after 20 of warm-up; median
//! and p95 of each.
//!
//! Target: page 1,000's median within 1.5× page 1's. Each page's statement, written as
//! `gongyou_db::claims::queue` sends it (checked against the statement it sends, captured
//! with diesel's instrumentation: the benchmark stops at once if they differ), is run with
//! `EXPLAIN (ANALYZE, BUFFERS)`, with a custom plan and with the generic plan PostgreSQL may
//! switch a prepared statement to; the filtered pages must use an index of the queue in both,
//! or the benchmark panics. Two narrow scopes (one union; an org without claims) are
//! explained too: each scope is one range of `claim_queue` (ADR 018).
//!
//! Run: `make bench-claims` (needs `GONGYOU_BENCH_DATABASE_URL`, e.g.
//! postgres://postgres@127.0.0.1:5432/postgres; optional `GONGYOU_BENCH_CLAIMS`,
//! `GONGYOU_BENCH_ROUNDS`, and `GONGYOU_BENCH_KEEP=1` to keep the database for a look at other
//! plans: its name is printed, drop it afterwards).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::zombie_processes
)]

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::connection::InstrumentationEvent;
use diesel::sql_types::{Nullable, Text};
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{json, Value};

const DATA_KEY: &str = "bench-claims-data-key-0123456789abcdef";
const TOKEN_SECRET: &str = "bench-claims-token-secret-0123456789abcdef";
const DEMO_PASSWORD: &str = "bench-password-2026";
const REVIEWER: &str = "demo-reviewer";
const PAGE: usize = 50;
const DEEP_PAGE: usize = 1000;
const FILTERED_DEEP_PAGE: usize = 100;
/// The tail page timed too: this far into the whole queue.
const TAIL_PERCENT: usize = 95;
const TARGET_RATIO: f64 = 1.5;
/// Share of the claims filed in unions under 四川省总工会 (the reviewer's scope).
const IN_SCOPE_PERCENT: u32 = 60;
/// Synthetic grassroots unions added under each province's districts.
const SYNTHETIC_UNIONS: usize = 160;
/// How far back the claims go.
const HISTORY_DAYS: i64 = 60;
const PLAN: &str = "e-road-sichuan";
const FILTER_STATUS: &str = "under_review";
const FILTER_MIN_YUAN: i64 = 4000;
const WAITING: [&str; 3] = ["submitted", "under_review", "awaiting_confirmation"];
const TS: &str = "%Y-%m-%d %H:%M:%S%.6f";
const WARMUP_ROUNDS: usize = 20;

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
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
        .n
}

#[derive(diesel::QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    t: String,
}

fn texts(conn: &mut PgConnection, sql: &str) -> Vec<String> {
    diesel::sql_query(sql)
        .load::<Line>(conn)
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
        .into_iter()
        .map(|l| l.t)
        .collect()
}

#[derive(diesel::QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

#[derive(diesel::QueryableByName, Clone)]
struct OrgRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    path: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    org_type: String,
    #[diesel(sql_type = Nullable<Text>)]
    region_code: Option<String>,
}

/// A SQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn ts(at: NaiveDateTime) -> String {
    format!("TIMESTAMP '{}'", at.format(TS))
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

/// A page of the queue, for `EXPLAIN`: what `gongyou_db::claims::queue` is given.
#[derive(Clone)]
struct QueueSql<'a> {
    scope: &'a str,
    statuses: &'a [&'a str],
    plan_code: Option<&'a str>,
    min_amount_fen: Option<i64>,
    after: Option<(NaiveDateTime, String)>,
}

/// How the statement may be written: one status as `= ANY($n)` or `= $n`; the keyset as
/// `waiting_since >= $a AND (waiting_since > $b OR id > $c)` or `(waiting_since, id) > ($a, $b)`.
#[derive(Clone, Copy, Debug)]
struct Form {
    single_status_eq: bool,
    row_keyset: bool,
}

const FORMS: [Form; 4] = [
    Form {
        single_status_eq: false,
        row_keyset: false,
    },
    Form {
        single_status_eq: true,
        row_keyset: false,
    },
    Form {
        single_status_eq: false,
        row_keyset: true,
    },
    Form {
        single_status_eq: true,
        row_keyset: true,
    },
];

impl QueueSql<'_> {
    /// The statement with `$n` placeholders, written as `form`, and its parameters as SQL
    /// literals in order.
    fn build(&self, form: Form) -> (String, Vec<String>) {
        let mut args: Vec<String> = Vec::new();
        let mut p = |v: String| {
            args.push(v);
            format!("${}", args.len())
        };
        let mut sql = String::from(
            "SELECT claims.id, claims.claimant_id, claims.membership_id, claims.org_id, \
             claims.org_path, claims.enrollment_id, claims.plan_code, claims.plan_version, \
             claims.benefit_code, claims.status, claims.incident_type, claims.occurred_on, \
             claims.admitted_on, claims.discharged_on, claims.claimed_cost_fen, claims.days, \
             claims.amount_fen, claims.approved_fen, claims.payee_kind, claims.assigned_to, \
             claims.approved_by, claims.confirmed_by, claims.waiting_since, claims.reminded_at, \
             claims.submitted_at, claims.decided_at, claims.created_at, claims.updated_at, \
             claims.revision FROM claim_queue INNER JOIN claims ON claim_queue.claim_id = claims.id",
        );
        let scope_org = self
            .scope
            .split('/')
            .rfind(|s| !s.is_empty())
            .unwrap_or_default();
        let _ = write!(sql, " WHERE claim_queue.org_id = {}", p(lit(scope_org)));
        match self.statuses {
            [one] if form.single_status_eq => {
                let _ = write!(sql, " AND claim_queue.status = {}", p(lit(one)));
            }
            many => {
                let _ = write!(
                    sql,
                    " AND claim_queue.status = ANY({})",
                    p(lit(&format!("{{{}}}", many.join(","))))
                );
            }
        }
        if let Some(plan) = self.plan_code {
            let _ = write!(sql, " AND claims.plan_code = {}", p(lit(plan)));
        }
        if let Some(min) = self.min_amount_fen {
            let _ = write!(sql, " AND claims.amount_fen >= {}", p(min.to_string()));
        }
        if let Some((at, id)) = &self.after {
            let at = at.format(TS).to_string();
            if form.row_keyset {
                let a = p(lit(&at));
                let b = p(lit(id));
                let _ = write!(
                    sql,
                    " AND (claim_queue.waiting_since, claim_queue.claim_id) > ({a}, {b})"
                );
            } else {
                let a = p(lit(&at));
                let b = p(lit(&at));
                let c = p(lit(id));
                let _ = write!(
                    sql,
                    " AND claim_queue.waiting_since >= {a} AND (claim_queue.waiting_since > {b} OR claim_queue.claim_id > {c})"
                );
            }
        }
        let _ = write!(
            sql,
            " ORDER BY claim_queue.waiting_since ASC, claim_queue.claim_id ASC LIMIT {}",
            p((PAGE + 1).to_string())
        );
        (sql, args)
    }

    /// The statement `gongyou_db::claims::queue` sends for this page, captured with diesel's
    /// instrumentation on a connection of the app's own kind.
    fn sent(&self, url: &str) -> String {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut conn = gongyou_db::DatabaseUrl::parse(url)
            .unwrap()
            .connect()
            .unwrap();
        let sink = seen.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                sink.lock().unwrap().push(query.to_string());
            }
        });
        let within = vec![self.scope.to_owned()];
        let statuses: Vec<String> = self.statuses.iter().map(|s| (*s).to_owned()).collect();
        let filter = gongyou_db::claims::QueueFilter {
            within: &within,
            statuses: &statuses,
            plan_code: self.plan_code,
            min_amount_fen: self.min_amount_fen,
            after: self.after.as_ref().map(|(at, id)| (*at, id.as_str())),
            limit: i64::try_from(PAGE + 1).unwrap(),
            ..Default::default()
        };
        gongyou_db::claims::queue(&mut conn, &filter).unwrap();
        let seen = seen.lock().unwrap();
        let sql = seen
            .iter()
            .rev()
            .find(|q| q.contains("waiting_since"))
            .expect("the queue's statement");
        sql.split(" -- binds:").next().unwrap().trim().to_owned()
    }

    /// The statement written as `gongyou_db::claims::queue` sends it (the same predicates in
    /// the same order, so the same parameters), with its parameters; panics when no form
    /// matches (the queue changed: teach [`QueueSql::build`] the new form).
    fn as_sent(&self, url: &str) -> (String, Vec<String>, String) {
        let sent = self.sent(url);
        FORMS
            .iter()
            .map(|form| self.build(*form))
            .find(|(sql, _)| shape(sql) == shape(&sent))
            .map(|(sql, args)| (sql, args, sent.clone()))
            .unwrap_or_else(|| {
                panic!(
                    "the benchmark's SQL no longer matches gongyou_db::claims::queue's:\n  sent:  {}\n  mine:  {}",
                    shape(&sent),
                    shape(&self.build(FORMS[0]).0)
                )
            })
    }
}

/// A statement from `FROM` on, without quotes, table prefixes and parentheses, spaces
/// collapsed: how two spellings of one statement are compared.
fn shape(sql: &str) -> String {
    let from = sql.find(" FROM ").expect("FROM");
    sql[from..]
        .replace('"', "")
        .replace("claim_queue.", "")
        .replace("claims.", "")
        .replace(['(', ')'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of the statement prepared, with a custom or the generic plan
/// (run twice, the second shown: warm, like the timed requests).
fn explain(conn: &mut PgConnection, sql: &str, args: &[String], generic: bool) -> Vec<String> {
    exec(
        conn,
        &format!(
            "SET plan_cache_mode = {}",
            if generic {
                "force_generic_plan"
            } else {
                "force_custom_plan"
            }
        ),
    );
    exec(conn, &format!("PREPARE bench_queue AS {sql}"));
    let explain = format!(
        "EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_queue({})",
        args.join(", ")
    );
    let mut lines = Vec::new();
    for _ in 0..2 {
        lines = diesel::sql_query(&explain)
            .load::<PlanLine>(conn)
            .unwrap_or_else(|e| panic!("{e}: {explain}"))
            .into_iter()
            .map(|l| l.line)
            .collect();
    }
    exec(conn, "DEALLOCATE bench_queue");
    exec(conn, "RESET plan_cache_mode");
    lines
}

/// The index on `claims` or `claim_queue` a plan scans, if any.
fn index_used(plan: &[String]) -> Option<String> {
    plan.iter().find_map(|l| {
        let l = l.trim_start().trim_start_matches("->").trim_start();
        let scan = ["Index Scan", "Index Only Scan", "Bitmap Index Scan"]
            .iter()
            .any(|s| l.starts_with(s));
        let name = l
            .split_whitespace()
            .skip_while(|w| *w != "using" && *w != "on")
            .nth(1)?;
        (scan && (name.starts_with("claims_") || name.starts_with("claim_queue_")))
            .then(|| name.to_owned())
    })
}

/// "Execution Time: 1.234 ms" of a plan, in ms.
fn execution_ms(plan: &[String]) -> f64 {
    plan.iter()
        .find_map(|l| l.strip_prefix("Execution Time: "))
        .and_then(|v| v.trim_end_matches(" ms").parse().ok())
        .unwrap_or(f64::NAN)
}

fn print_plan(title: &str, args: &[String], plan: &[String]) {
    println!();
    println!("{title} — parameters ({}):", args.join(", "));
    for l in plan {
        println!("    {l}");
    }
}

/// A cursor `<unix micros>_<id>` as the keyset it stands for.
fn parse_cursor(c: &str) -> (NaiveDateTime, String) {
    let (micros, id) = c.split_once('_').unwrap();
    let at = DateTime::<Utc>::from_timestamp_micros(micros.parse().unwrap())
        .unwrap()
        .naive_utc();
    (at, id.to_owned())
}

struct Api {
    http: reqwest::Client,
    base: String,
    bearer: String,
}

impl Api {
    async fn sign_in(http: reqwest::Client, base: String) -> Self {
        let signed_in: Value = http
            .post(format!("{base}/api/v1/auth/sessions/password"))
            .json(&json!({"username": REVIEWER, "password": DEMO_PASSWORD}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        let bearer = format!("Bearer {}", signed_in["access_token"].as_str().unwrap());
        Self { http, base, bearer }
    }

    fn queue_url(&self, filter: &[(&str, String)], cursor: Option<&str>) -> reqwest::Url {
        let mut params: Vec<(&str, String)> = filter.to_vec();
        params.push(("limit", PAGE.to_string()));
        if let Some(c) = cursor {
            params.push(("cursor", c.to_owned()));
        }
        reqwest::Url::parse_with_params(&format!("{}/api/v1/review/claims", self.base), &params)
            .unwrap()
    }

    async fn get(&self, url: reqwest::Url) -> Value {
        let r = self
            .http
            .get(url.clone())
            .header("Authorization", &self.bearer)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(status.is_success(), "GET {url}: {status} {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// One request, until its body is read.
    async fn time(&self, url: &reqwest::Url) -> Duration {
        let started = Instant::now();
        let r = self
            .http
            .get(url.clone())
            .header("Authorization", &self.bearer)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.bytes().await.unwrap();
        let took = started.elapsed();
        assert!(
            status.is_success(),
            "GET {url}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        took
    }
}

/// A walk through the queue, page by page.
struct Walk {
    /// The cursor that asks for each page walked (`None` for page 1).
    cursors: Vec<Option<String>>,
    /// The claims' ids of the page asked to keep (or of the last, when there are fewer).
    kept: Vec<String>,
    items: usize,
    took: Duration,
}

impl Walk {
    fn pages(&self) -> usize {
        self.cursors.len()
    }
}

/// Follows `next_cursor` to page `pages` (or the end), checking every item with `check` and
/// that the keyset order strictly increases (no repeats across pages, ties on the instant
/// broken by id); keeps the ids of page `keep`.
async fn walk(
    api: &Api,
    filter: &[(&str, String)],
    pages: usize,
    keep: usize,
    check: impl Fn(&Value),
) -> Walk {
    let started = Instant::now();
    let mut cursors: Vec<Option<String>> = vec![None];
    let mut kept = Vec::new();
    let mut last: Option<(DateTime<Utc>, String)> = None;
    let mut items = 0;
    loop {
        let page = cursors.len();
        let body = api
            .get(api.queue_url(filter, cursors[page - 1].as_deref()))
            .await;
        let list = body["items"].as_array().unwrap();
        let mut ids = Vec::with_capacity(list.len());
        for item in list {
            check(item);
            let at: DateTime<Utc> = item["waiting_since"].as_str().unwrap().parse().unwrap();
            let id = item["id"].as_str().unwrap().to_owned();
            let key = (at, id.clone());
            if let Some(prev) = &last {
                assert!(
                    *prev < key,
                    "page {page}: keyset order broken: {prev:?} then {key:?}"
                );
            }
            last = Some(key);
            ids.push(id);
        }
        items += list.len();
        if page <= keep {
            kept = ids;
        }
        match body["next_cursor"].as_str() {
            Some(next) if page < pages => cursors.push(Some(next.to_owned())),
            _ => {
                return Walk {
                    cursors,
                    kept,
                    items,
                    took: started.elapsed(),
                }
            }
        }
    }
}

struct Stats {
    median: f64,
    p95: f64,
    min: f64,
}

fn stats(samples: &[Duration]) -> Stats {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let median = if n % 2 == 0 {
        (ms[n / 2 - 1] + ms[n / 2]) / 2.0
    } else {
        ms[n / 2]
    };
    let p95 = ms[((n as f64 * 0.95).ceil() as usize).clamp(1, n) - 1];
    Stats {
        median,
        p95,
        min: ms[0],
    }
}

fn main() {
    let Some(server) = env("GONGYOU_BENCH_DATABASE_URL") else {
        eprintln!("GONGYOU_BENCH_DATABASE_URL is not set: the claims benchmark runs on PostgreSQL");
        return;
    };
    let claims: u64 = env("GONGYOU_BENCH_CLAIMS").map_or(1_000_000, |n| n.parse().unwrap());
    let rounds: usize = env("GONGYOU_BENCH_ROUNDS").map_or(1000, |n| n.parse().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(server, claims, rounds));
}

#[allow(clippy::too_many_lines)]
async fn run(server: String, n: u64, rounds: usize) {
    let whole = Instant::now();
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/gongyou");
    assert!(
        binary.exists(),
        "build it first: cargo build --release --bin gongyou"
    );
    let name = gongyou_tests::pg::clone_template(&server).unwrap();
    let keep = env("GONGYOU_BENCH_KEEP").is_some_and(|v| v != "0");
    let _dropper = (!keep).then(|| Dropper(server.clone(), name.clone()));
    if keep {
        println!(
            "GONGYOU_BENCH_KEEP: the database {name} is kept (DROP DATABASE \"{name}\" when done)"
        );
    }
    let url = gongyou_tests::pg::url_with_database(&server, &name).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut settings: HashMap<String, String> = HashMap::new();
    settings.insert("GONGYOU_DATABASE_URL".into(), url.clone());
    settings.insert("GONGYOU_DATA_DIR".into(), data.path().display().to_string());
    settings.insert("GONGYOU_DEMO_PASSWORD".into(), DEMO_PASSWORD.into());
    settings.insert("GONGYOU_DATA_KEY".into(), DATA_KEY.into());
    settings.insert("GONGYOU_TOKEN_SECRET".into(), TOKEN_SECRET.into());
    let config = gongyou_services::config::Config::load(None, &settings).unwrap();
    let db = gongyou_db::Db::new(&config.database, &config.pool).unwrap();
    let now = Utc::now();
    gongyou::seed::run(&db, &config, now.naive_utc())
        .await
        .unwrap();
    gongyou::seed::demo_plan(&db, now).await.unwrap();
    drop(db);
    let now = now.naive_utc();

    // The unions: the seeded ones and synthetic grassroots unions under the districts of
    // 成都 (in the reviewer's scope) and of 深圳 (outside it).
    let mut pg = PgConnection::establish(&url).unwrap();
    let orgs: Vec<OrgRow> =
        diesel::sql_query("SELECT id, path, name, org_type, region_code FROM orgs ORDER BY path")
            .load(&mut pg)
            .unwrap();
    let by_name = |name: &str| -> OrgRow {
        orgs.iter()
            .find(|o| o.name == name)
            .unwrap_or_else(|| panic!("no {name} in the seed"))
            .clone()
    };
    let sichuan = by_name("四川省总工会");
    // Before the long part: the statements explained at the end match what the queue sends.
    for (statuses, plan_code, min_amount_fen) in [
        (&WAITING[..], None, None),
        (
            &[FILTER_STATUS][..],
            Some(PLAN),
            Some(FILTER_MIN_YUAN * 100),
        ),
    ] {
        for after in [None, Some((now, "probe".to_owned()))] {
            QueueSql {
                scope: &sichuan.path,
                statuses,
                plan_code,
                min_amount_fen,
                after,
            }
            .as_sent(&url);
        }
    }
    let in_parents = [
        "锦江区总工会",
        "青羊区总工会",
        "武侯区总工会",
        "成华区总工会",
    ]
    .map(by_name);
    let out_parents = ["福田区总工会", "南山区总工会"].map(by_name);
    let mut values = Vec::new();
    for (i, parent) in (0..SYNTHETIC_UNIONS)
        .map(|i| (i, &in_parents[i % in_parents.len()]))
        .chain((0..SYNTHETIC_UNIONS).map(|i| (i, &out_parents[i % out_parents.len()])))
    {
        let id = uuid::Uuid::now_v7().to_string();
        values.push(format!(
            "({}, {}, {}, {}, 'grassroots_union', {}, {n_}, {n_})",
            lit(&id),
            lit(&parent.id),
            lit(&format!("{}{id}/", parent.path)),
            lit(&format!("{}基准工会{:03}", parent.name, i)),
            parent
                .region_code
                .as_deref()
                .map_or_else(|| "NULL".to_owned(), lit),
            n_ = ts(now),
        ));
    }
    exec(
        &mut pg,
        &format!(
            "INSERT INTO orgs (id, parent_id, path, name, org_type, region_code, created_at, updated_at) VALUES {}",
            values.join(", ")
        ),
    );
    // Claims are filed in grassroots unions: numbered within each side of the scope.
    exec(
        &mut pg,
        &format!(
            "CREATE TEMP TABLE bench_orgs AS
             SELECT in_scope, row_number() OVER (PARTITION BY in_scope ORDER BY path) - 1 AS k, id, path
             FROM (SELECT id, path, path LIKE {} AS in_scope FROM orgs WHERE org_type = 'grassroots_union') o",
            lit(&format!("{}%", sichuan.path))
        ),
    );
    let unions_in = count(
        &mut pg,
        "SELECT count(*) AS n FROM bench_orgs WHERE in_scope",
    );
    let unions_out = count(
        &mut pg,
        "SELECT count(*) AS n FROM bench_orgs WHERE NOT in_scope",
    );
    let in_scope_orgs: HashSet<String> = orgs
        .iter()
        .filter(|o| o.path.starts_with(&sichuan.path))
        .map(|o| o.id.clone())
        .chain(texts(
            &mut pg,
            "SELECT id AS t FROM bench_orgs WHERE in_scope",
        ))
        .collect();
    let reviewer = texts(
        &mut pg,
        &format!(
            "SELECT id AS t FROM staff WHERE username = {}",
            lit(REVIEWER)
        ),
    )
    .pop()
    .expect("the demo reviewer");
    let empty_org = by_name("成都市新就业形态行业工会联合会");
    assert_eq!(empty_org.org_type, "sector_federation");
    let one_union = texts(
        &mut pg,
        "SELECT path AS t FROM bench_orgs WHERE in_scope ORDER BY k LIMIT 1",
    )
    .pop()
    .unwrap();

    // The claims: row g filed at base + g × step (ids in that order, like the app's UUIDv7),
    // submitted within a day after, waiting since that minute (ties on the instant are
    // common: the keyset's id tiebreak is exercised). Statuses (‰): 150 submitted, 100
    // under_review, 50 awaiting_confirmation (waiting); 400 paid, 50 approved, 120 rejected,
    // 50 withdrawn, 40 draft, 30 returned, 10 payout_failed.
    println!("fixture: {n} claims …");
    let started = Instant::now();
    let base = now - chrono::Duration::days(HISTORY_DAYS);
    let step_micros = HISTORY_DAYS * 86_400_000_000 / i64::try_from(n.max(1)).unwrap();
    let h = |seed: u32| format!("(hashint8extended(g, {seed}) & 9223372036854775807)");
    let insert = format!(
        "WITH h AS (
           SELECT g,
             {hs} % 1000 AS hs, {hscope} % 100 AS hscope, {horg} AS horg, {hb} % 100 AS hb,
             {ha} AS ha, {hj} % 86400000000 AS hj, {hp} % 100 AS hp,
             {base} + g * {step_micros} * interval '1 microsecond' AS created
           FROM generate_series(0::bigint, {n} - 1) g
         ), s AS (
           SELECT h.*,
             CASE WHEN hs < 150 THEN 'submitted' WHEN hs < 250 THEN 'under_review'
                  WHEN hs < 300 THEN 'awaiting_confirmation' WHEN hs < 700 THEN 'paid'
                  WHEN hs < 750 THEN 'approved' WHEN hs < 870 THEN 'rejected'
                  WHEN hs < 920 THEN 'withdrawn' WHEN hs < 960 THEN 'draft'
                  WHEN hs < 990 THEN 'returned' ELSE 'payout_failed' END AS status,
             CASE WHEN hb < 10 THEN 'accident_death_disability' WHEN hb < 50 THEN 'hospital_daily'
                  ELSE 'medical_reimbursement' END AS benefit,
             hscope < {IN_SCOPE_PERCENT} AS in_scope
           FROM h
         ), c AS (
           SELECT s.*,
             CASE WHEN benefit = 'hospital_daily' THEN 1 + ha % 30 END AS days,
             CASE WHEN benefit = 'medical_reimbursement' THEN 10000 + ha % 990001 END AS cost,
             CASE WHEN status = 'draft' THEN NULL
                  ELSE least(created + hj * interval '1 microsecond', {now}) END AS submitted
           FROM s
         ), d AS (
           SELECT c.*,
             CASE WHEN status = 'draft' THEN NULL
                  WHEN benefit = 'accident_death_disability' THEN 3000000
                  WHEN benefit = 'hospital_daily' THEN 20000 * days
                  ELSE least(cost * 8 / 10, 500000) END AS amount,
             CASE WHEN status IN ('submitted', 'under_review', 'awaiting_confirmation')
                  THEN date_trunc('minute', submitted) END AS waiting,
             CASE WHEN status IN ('paid', 'approved', 'rejected', 'withdrawn', 'payout_failed')
                  THEN least(submitted + ((hj * 7) % 864000000000) * interval '1 microsecond', {now})
             END AS decided,
             CASE WHEN status IN ('draft', 'submitted', 'withdrawn') THEN NULL
                  WHEN in_scope AND hp % 4 = 0 THEN {reviewer}
                  ELSE 'bench-staff-' || (hp % 20) END AS staff
           FROM c
         )
         INSERT INTO claims (id, claimant_id, membership_id, org_id, org_path, enrollment_id,
           plan_code, plan_version, benefit_code, status, incident_type, occurred_on, admitted_on,
           discharged_on, claimed_cost_fen, days, amount_fen, approved_fen, payee_kind,
           assigned_to, approved_by, confirmed_by, waiting_since, reminded_at, submitted_at,
           decided_at, created_at, updated_at, revision)
         SELECT
           '01900000-0000-7000-8000-' || lpad(to_hex(d.g), 12, '0'),
           'bench-user-' || lpad((d.g % 400000)::text, 7, '0'),
           'bench-membership-' || lpad((d.g % 400000)::text, 7, '0'),
           o.id, o.path,
           'bench-enrollment-' || lpad((d.g % 400000)::text, 7, '0'),
           CASE WHEN NOT d.in_scope THEN 'sz-rider-care' WHEN d.hp < 85 THEN {plan}
                ELSE 'sc-courier-care' END,
           1, d.benefit, d.status,
           CASE WHEN d.benefit = 'accident_death_disability' OR d.hb % 2 = 0 THEN 'accident'
                ELSE 'illness' END,
           to_char(d.created - interval '5 days', 'YYYY-MM-DD'),
           CASE WHEN d.benefit <> 'accident_death_disability'
                THEN to_char(d.created - interval '4 days', 'YYYY-MM-DD') END,
           CASE WHEN d.benefit <> 'accident_death_disability'
                THEN to_char(d.created - interval '4 days' + coalesce(d.days, 3) * interval '1 day', 'YYYY-MM-DD') END,
           d.cost, d.days, d.amount,
           CASE WHEN d.status IN ('awaiting_confirmation', 'approved', 'paid', 'payout_failed')
                THEN d.amount END,
           CASE WHEN d.hp < 70 THEN 'wechat_balance' ELSE 'bank' END,
           d.staff,
           CASE WHEN d.status IN ('awaiting_confirmation', 'approved', 'paid', 'payout_failed')
                THEN d.staff END,
           NULL, d.waiting, NULL, d.submitted, d.decided, d.created,
           coalesce(d.decided, d.submitted, d.created), 1 + d.hs % 5
         FROM d JOIN bench_orgs o ON o.in_scope = d.in_scope
           AND o.k = d.horg % CASE WHEN d.in_scope THEN {unions_in} ELSE {unions_out} END",
        hs = h(1),
        hscope = h(2),
        horg = h(3),
        hb = h(4),
        ha = h(5),
        hj = h(6),
        hp = h(7),
        base = ts(base),
        now = ts(now),
        reviewer = lit(&reviewer),
        plan = lit(PLAN),
    );
    let inserted = exec(&mut pg, &insert);
    assert_eq!(inserted as u64, n, "one claim per row");
    let insert_took = started.elapsed();
    exec(&mut pg, "DROP TABLE bench_orgs");
    // The review queue's rows, as `gongyou_db::claims::apply` keeps them: one per waiting
    // claim and org on its path.
    exec(
        &mut pg,
        "INSERT INTO claim_queue (org_id, claim_id, status, waiting_since)
         SELECT o, c.id, c.status, c.waiting_since
         FROM claims c, unnest(string_to_array(trim(both '/' from c.org_path), '/')) AS o
         WHERE c.waiting_since IS NOT NULL",
    );
    exec(&mut pg, "VACUUM ANALYZE claims");
    exec(&mut pg, "VACUUM ANALYZE claim_queue");
    exec(&mut pg, "VACUUM ANALYZE orgs");
    let fixture_took = started.elapsed();
    let scope_like = lit(&format!("{}%", sichuan.path));
    let waiting = count(
        &mut pg,
        "SELECT count(*) AS n FROM claims WHERE waiting_since IS NOT NULL",
    );
    let waiting_in = count(
        &mut pg,
        &format!("SELECT count(*) AS n FROM claims WHERE waiting_since IS NOT NULL AND org_path LIKE {scope_like}"),
    );
    let filter_min_fen = FILTER_MIN_YUAN * 100;
    let filtered_in = count(
        &mut pg,
        &format!(
            "SELECT count(*) AS n FROM claims WHERE waiting_since IS NOT NULL AND org_path LIKE {scope_like}
             AND status = {} AND plan_code = {} AND amount_fen >= {filter_min_fen}",
            lit(FILTER_STATUS),
            lit(PLAN)
        ),
    );
    let one_union_waiting = count(
        &mut pg,
        &format!(
            "SELECT count(*) AS n FROM claims WHERE waiting_since IS NOT NULL AND org_path LIKE {}",
            lit(&format!("{one_union}%"))
        ),
    );
    let ties = count(
        &mut pg,
        "SELECT count(*) AS n FROM (SELECT waiting_since FROM claims WHERE waiting_since IS NOT NULL
         GROUP BY waiting_since HAVING count(*) > 1) t",
    );
    let sizes = texts(
        &mut pg,
        "SELECT c.relname::text || ' ' || pg_size_pretty(pg_relation_size(c.oid)) AS t FROM pg_class c
         WHERE c.relname IN ('claims', 'claims_pkey', 'claims_queue_idx', 'claim_queue',
                             'claim_queue_pkey', 'claim_queue_walk_idx', 'claim_queue_status_idx')
         ORDER BY c.relname",
    );
    println!(
        "fixture ready in {:.1} s (insert {:.1} s): {n} claims, {waiting} waiting, {waiting_in} of them in {REVIEWER}'s scope \
         ({unions_in} unions in it, {unions_out} out); {ties} instants shared by several waiting claims; {}",
        fixture_took.as_secs_f64(),
        insert_took.as_secs_f64(),
        sizes.join(", ")
    );

    // The API, release build, its own process.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _api = Killer(
        Command::new(&binary)
            .arg("serve")
            .env_clear()
            .env("PGAPPNAME", "gongyou-api")
            .env("GONGYOU_DATABASE_URL", &url)
            .env("GONGYOU_DATA_DIR", data.path())
            .env("GONGYOU_DATA_KEY", DATA_KEY)
            .env("GONGYOU_TOKEN_SECRET", TOKEN_SECRET)
            .env("GONGYOU_DEMO_PASSWORD", DEMO_PASSWORD)
            .env("GONGYOU_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("GONGYOU_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let base_url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let ready = Instant::now();
    while http
        .get(format!("{base_url}/healthz"))
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

    // The walks: the whole queue (every claim waiting in scope seen once, in order), and
    // the filtered queue to page 100 (every item matching the filter).
    let api = Api::sign_in(http.clone(), base_url.clone()).await;
    let no_filter: Vec<(&str, String)> = Vec::new();
    let all = walk(&api, &no_filter, usize::MAX, DEEP_PAGE, |item| {
        assert!(
            WAITING.contains(&item["status"].as_str().unwrap()),
            "{item}"
        );
        assert!(
            in_scope_orgs.contains(item["org_id"].as_str().unwrap()),
            "out of scope: {item}"
        );
    })
    .await;
    println!(
        "walked the whole queue: {} pages ({} claims) in {:.1} s",
        all.pages(),
        all.items,
        all.took.as_secs_f64()
    );
    assert_eq!(
        all.items as i64, waiting_in,
        "the walk saw every claim waiting in scope once"
    );
    let deep_page = DEEP_PAGE.min(all.pages());
    let deep_cursor = all.cursors[deep_page - 1].clone();
    let expected = texts(
        &mut pg,
        &format!(
            "SELECT id AS t FROM claims WHERE waiting_since IS NOT NULL AND org_path LIKE {scope_like}
             ORDER BY waiting_since, id OFFSET {} LIMIT {PAGE}",
            (deep_page - 1) * PAGE
        ),
    );
    assert_eq!(
        all.kept,
        expected,
        "page {deep_page} is not the queue's rows {}–{}",
        (deep_page - 1) * PAGE + 1,
        deep_page * PAGE
    );
    // Near the end of the queue (the newest claims): where the planner's estimate of what
    // follows the cursor is smallest.
    let tail_page = (all.pages() * TAIL_PERCENT).div_ceil(100).max(1);
    let tail_cursor = all.cursors[tail_page - 1].clone();
    let filter: Vec<(&str, String)> = vec![
        ("status", FILTER_STATUS.to_owned()),
        ("plan_code", PLAN.to_owned()),
        ("min_amount", FILTER_MIN_YUAN.to_string()),
    ];
    let filtered = walk(
        &api,
        &filter,
        FILTERED_DEEP_PAGE,
        FILTERED_DEEP_PAGE,
        |item| {
            assert_eq!(item["status"], json!(FILTER_STATUS), "{item}");
            assert_eq!(item["plan_code"], json!(PLAN), "{item}");
            let amount: f64 = item["amount"].as_str().unwrap().parse().unwrap();
            assert!(amount >= FILTER_MIN_YUAN as f64, "{item}");
            assert!(
                in_scope_orgs.contains(item["org_id"].as_str().unwrap()),
                "out of scope: {item}"
            );
        },
    )
    .await;
    let filtered_page = filtered.pages();
    let filtered_cursor = filtered.cursors[filtered_page - 1].clone();
    println!(
        "walked {filtered_page} filtered pages ({} claims) in {:.1} s",
        filtered.items,
        filtered.took.as_secs_f64()
    );

    // The timed requests, in turn (the order rotates every round).
    let api = Api::sign_in(http.clone(), base_url.clone()).await;
    let deep_label = format!("page {deep_page}");
    let tail_label = format!("page {tail_page} ({TAIL_PERCENT} %)");
    let filtered_deep_label = format!("filtered page {filtered_page}");
    let cases: Vec<(String, reqwest::Url)> = vec![
        ("page 1".to_owned(), api.queue_url(&no_filter, None)),
        (
            deep_label.clone(),
            api.queue_url(&no_filter, deep_cursor.as_deref()),
        ),
        (
            tail_label.clone(),
            api.queue_url(&no_filter, tail_cursor.as_deref()),
        ),
        ("filtered page 1".to_owned(), api.queue_url(&filter, None)),
        (
            filtered_deep_label.clone(),
            api.queue_url(&filter, filtered_cursor.as_deref()),
        ),
        (
            "/healthz (HTTP floor)".to_owned(),
            reqwest::Url::parse(&format!("{base_url}/healthz")).unwrap(),
        ),
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); cases.len()];
    let timing = Instant::now();
    for round in 0..WARMUP_ROUNDS + rounds {
        for k in 0..cases.len() {
            let i = (k + round) % cases.len();
            let took = api.time(&cases[i].1).await;
            if round >= WARMUP_ROUNDS {
                samples[i].push(took);
            }
        }
    }
    let timing_took = timing.elapsed();
    let figures: Vec<Stats> = samples.iter().map(|s| stats(s)).collect();

    // The plans.
    let page1 = QueueSql {
        scope: &sichuan.path,
        statuses: &WAITING,
        plan_code: None,
        min_amount_fen: None,
        after: None,
    };
    let page_deep = QueueSql {
        after: deep_cursor.as_deref().map(parse_cursor),
        ..page1.clone()
    };
    let page_tail = QueueSql {
        after: tail_cursor.as_deref().map(parse_cursor),
        ..page1.clone()
    };
    let filtered1 = QueueSql {
        scope: &sichuan.path,
        statuses: &[FILTER_STATUS],
        plan_code: Some(PLAN),
        min_amount_fen: Some(filter_min_fen),
        after: None,
    };
    let filtered_deep = QueueSql {
        after: filtered_cursor.as_deref().map(parse_cursor),
        ..filtered1.clone()
    };
    let narrow_union = QueueSql {
        scope: &one_union,
        ..page1.clone()
    };
    let narrow_empty = QueueSql {
        scope: &empty_org.path,
        ..page1.clone()
    };
    // (title, statement, must it use an index)
    let plans: Vec<(String, &QueueSql<'_>, bool)> = vec![
        ("page 1".to_owned(), &page1, false),
        (deep_label.clone(), &page_deep, false),
        (tail_label.clone(), &page_tail, false),
        ("filtered page 1".to_owned(), &filtered1, true),
        (filtered_deep_label.clone(), &filtered_deep, true),
        (
            format!("narrow scope: one union ({one_union_waiting} waiting), page 1"),
            &narrow_union,
            false,
        ),
        (
            "narrow scope: an org without claims, page 1".to_owned(),
            &narrow_empty,
            false,
        ),
    ];
    let mut explained: Vec<(String, Vec<String>, Vec<String>, bool)> = Vec::new();
    for (i, (title, q, must)) in plans.iter().enumerate() {
        let (sql, args, sent) = q.as_sent(&url);
        if i == 1 || i == 4 {
            println!();
            println!("gongyou_db::claims::queue sends, for {title}:");
            println!("    {sent}");
            println!("explained as:");
            println!("    {sql}");
        }
        let custom = explain(&mut pg, &sql, &args, false);
        let generic = explain(&mut pg, &sql, &args, true);
        print_plan(
            &format!("EXPLAIN (ANALYZE, BUFFERS), custom plan: {title}"),
            &args,
            &custom,
        );
        print_plan(
            &format!("EXPLAIN (ANALYZE, BUFFERS), generic plan: {title}"),
            &args,
            &generic,
        );
        explained.push((title.clone(), custom, generic, *must));
    }

    // The summary.
    let ratio = figures[1].median / figures[0].median;
    let ratio_p95 = figures[1].p95 / figures[0].p95;
    let tail_ratio = figures[2].median / figures[0].median;
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    println!();
    println!("== review queue benchmark (PostgreSQL, release gongyou serve, as {REVIEWER}) ==");
    println!(
        "claims                       {n} ({waiting} waiting; {waiting_in} in the reviewer's scope = {} pages of {PAGE}; {filtered_in} match the filter)",
        (waiting_in as usize).div_ceil(PAGE)
    );
    println!(
        "requests                     {rounds} rounds after {WARMUP_ROUNDS} of warm-up, one request of each kind per round, in turn ({:.1} s)",
        timing_took.as_secs_f64()
    );
    for ((label, _), f) in cases.iter().zip(&figures) {
        println!(
            "{label:<28} median {:6.2} ms   p95 {:6.2} ms   min {:6.2} ms",
            f.median, f.p95, f.min
        );
    }
    println!(
        "{deep_label} / page 1          median {ratio:.2}×, p95 {ratio_p95:.2}× (target ≤ {TARGET_RATIO}×: {})",
        met(ratio <= TARGET_RATIO)
    );
    println!("{tail_label} / page 1     median {tail_ratio:.2}× (no target: the end of the queue)");
    println!("plans (PostgreSQL execution time; index scanned):");
    for (title, custom, generic, _) in &explained {
        println!(
            "  {title:<48} custom {:7.3} ms {:<26} generic {:7.3} ms {}",
            execution_ms(custom),
            index_used(custom).unwrap_or_else(|| "NO INDEX".into()),
            execution_ms(generic),
            index_used(generic).unwrap_or_else(|| "NO INDEX".into()),
        );
    }
    println!(
        "fixture                      {:.1} s; whole run {:.1} s",
        fixture_took.as_secs_f64(),
        whole.elapsed().as_secs_f64()
    );
    println!(
        "command                      make bench-claims  (= GONGYOU_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p gongyou-tests --bench claims; GONGYOU_BENCH_CLAIMS={n})"
    );

    for (title, custom, generic, _) in explained.iter().filter(|e| e.3) {
        assert!(
            index_used(custom).is_some(),
            "{title}: the custom plan uses no index of the queue"
        );
        assert!(
            index_used(generic).is_some(),
            "{title}: the generic plan uses no index of the queue"
        );
    }
}
