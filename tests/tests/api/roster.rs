//! Roster imports: a platform's CSV (UTF-8 or GBK) enrolls every eligible member; faults
//! are reported row by row; the same file twice enrolls nobody twice; a worker that dies
//! mid-file resumes from its checkpoint; the stored file is gone when the import ends.

use chrono::{TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use gongyou_tests::session::{application, id_number, Session, DEMO_PASSWORD};
use gongyou_tests::{spawn_app_with, TestApp};
use serde_json::{json, Value};

const HEADER: &str = "姓名,身份证号,手机号,平台工号,入职日期";

struct Fixture {
    app: TestApp,
    admin: Session,
}

async fn fixture(batch_rows: usize) -> Fixture {
    let mid_june = Shanghai
        .with_ymd_and_hms(2026, 6, 15, 10, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc);
    fixture_with(batch_rows, mid_june, []).await
}

/// A published plan of 四川 open on `now`'s day (enrollment from two weeks before to the end
/// of November for mid-June; coverage to the end of the year), the app's clock at `now`.
async fn fixture_with<const N: usize>(
    batch_rows: usize,
    now: chrono::DateTime<Utc>,
    settings: [(&str, &str); N],
) -> Fixture {
    let mut env: std::collections::HashMap<String, String> = settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.insert(
        "GONGYOU_ROSTER_BATCH_ROWS".to_owned(),
        batch_rows.to_string(),
    );
    let app = spawn_app_with(env).await;
    app.seed().await;
    app.clock.set(now);
    let today = gongyou_domain::time::china_date(now);
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();
    let admin = app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await;
    let sichuan = app.org_id("四川省总工会").await;
    let terms = json!({
        "name": "骑手保障",
        "enrollment_opens_on": day(-14), "enrollment_closes_on": day(168),
        "coverage_starts_on": day(-14), "coverage_ends_on": day(199),
        "eligibility": {"min_platform_tenure_months": 3},
        "benefits": [{"code": "accident", "name": "意外身故伤残", "kind": "lump_sum", "amount": "30000.00",
                      "waiting_days": {"illness": 0, "accident": 0}, "documents": []}]
    });
    let r = app
        .post_json_as(
            &admin,
            "/api/v1/admin/plans",
            &json!({"code": "rider-2026", "sponsor_org_id": sichuan, "terms": terms}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .post_json_as(&admin, "/api/v1/admin/plans/rider-2026/publish", &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    Fixture { app, admin }
}

impl Fixture {
    async fn upload(&self, bytes: Vec<u8>) -> (u16, Value) {
        let r = self
            .app
            .client
            .post(
                self.app
                    .url("/api/v1/admin/plans/rider-2026/roster-imports"),
            )
            .header("Authorization", self.admin.bearer())
            .header("Content-Type", "text/csv")
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    }

    async fn progress(&self, id: &str) -> Value {
        self.app
            .get_as(&self.admin, &format!("/api/v1/admin/roster-imports/{id}"))
            .await
            .json()
            .await
            .unwrap()
    }

    async fn report(&self, id: &str) -> Vec<Vec<String>> {
        let r = self
            .app
            .get_as(
                &self.admin,
                &format!("/api/v1/admin/roster-imports/{id}/errors"),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let text = r.text().await.unwrap();
        let text = text
            .strip_prefix('\u{feff}')
            .expect("a BOM for spreadsheets");
        text.lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect()
    }

    /// Where the import's sealed roster lies in the file store.
    async fn object_key(&self, import_id: &str) -> String {
        let import_id = import_id.to_owned();
        self.app
            .state
            .db
            .run(move |conn| {
                use diesel::prelude::*;
                use gongyou_db::schema::{roster_imports as r, stored_files as s};
                let file: Option<String> =
                    r::table.find(&import_id).select(r::file_id).first(conn)?;
                s::table
                    .find(file.expect("the import still has its file"))
                    .select(s::object_key)
                    .first::<String>(conn)
                    .map_err(gongyou_db::DbError::from)
            })
            .await
            .unwrap()
    }

    /// Sealed files that can still be read (their key not yet dropped).
    async fn stored_files(&self) -> i64 {
        self.app
            .state
            .db
            .run(|conn| {
                use diesel::prelude::*;
                gongyou_db::schema::stored_files::table
                    .filter(gongyou_db::schema::stored_files::state.eq_any(["uploading", "stored"]))
                    .count()
                    .get_result::<i64>(conn)
                    .map_err(gongyou_db::DbError::from)
            })
            .await
            .unwrap()
    }

    async fn enrollments(&self) -> Vec<(String, String)> {
        self.app
            .state
            .db
            .run(|conn| {
                use diesel::prelude::*;
                use gongyou_db::schema::enrollments as e;
                e::table
                    .filter(e::plan_code.eq("rider-2026"))
                    .select((e::user_id, e::source))
                    .load::<(String, String)>(conn)
                    .map_err(gongyou_db::DbError::from)
            })
            .await
            .unwrap()
    }
}

/// Members of 锦江 (in reach), and their ID numbers.
async fn members(app: &TestApp, n: usize, first_phone: u64) -> Vec<(Session, String)> {
    let mut out = Vec::new();
    for i in 0..n {
        let id = id_number(
            "510104",
            &format!("1990{:02}{:02}", 1 + i / 28, 1 + i % 28),
            "123",
        );
        let (worker, _) = app
            .new_member(&(first_phone + i as u64).to_string(), &id)
            .await;
        out.push((worker, id));
    }
    out
}

#[tokio::test]
async fn a_gbk_roster_enrolls_the_eligible_and_reports_every_other_row() {
    let f = fixture(3).await;
    let people = members(&f.app, 4, 13500000001).await;
    // A member of a 深圳 union: outside a 四川 plan's reach.
    let sz = f.app.sign_in_worker("13500000100").await;
    let sz_id = id_number("440305", "19880808", "222");
    let r = f.app.apply(&sz, &application(&sz_id, "440305")).await;
    let sz_app: Value = r.json().await.unwrap();
    let national = f.app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let approve = format!(
        "/api/v1/admin/membership/applications/{}/approve",
        sz_app["id"].as_str().unwrap()
    );
    assert_eq!(
        f.app
            .post_json_as(&national, &approve, &json!({}))
            .await
            .status(),
        200
    );

    let mut bad_check = id_number("510104", "19900101", "999");
    let last = if bad_check.ends_with('1') { '2' } else { '1' };
    bad_check.pop();
    bad_check.push(last);
    let stranger = id_number("510105", "19950505", "333");
    let rows = [
        format!("王一,{},13800000001,MT-1,2025-01-10", people[0].1), // 1 enrolled
        format!("王二,{},,MT-2,2025/3/1", people[1].1),              // 2 enrolled
        format!("王三,{},,MT-3,", people[2].1),                      // 3 tenure unknown
        format!("王四,{},,MT-4,2026-05-01", people[3].1),            // 4 tenure too short
        format!("陌生人,{stranger},,MT-5,2024-01-01"),               // 5 not a member
        format!("错位,{bad_check},,MT-6,2024-01-01"),                // 6 bad check character
        "科学,5.10104E+17,,MT-7,2024-01-01".to_owned(),              // 7 spreadsheet number
        format!("日期,{},,MT-8,2026-02-30", people[0].1),            // 8 bad date
        format!("少列,{},MT-9", people[0].1),                        // 9 wrong column count
        format!("王一,{},13800000001,MT-1,2025-01-10", people[0].1), // 10 duplicate of 1
        format!("深圳,{sz_id},,SZ-1,2024-01-01"),                    // 11 outside reach
    ];
    let text = format!("{HEADER}\r\n{}\r\n", rows.join("\r\n"));
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&gbk).is_err(),
        "the fixture really is GBK"
    );

    let (status, started) = f.upload(gbk.to_vec()).await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["status"], "queued");
    assert_eq!(started["encoding"], "gbk");
    assert_eq!(started["total_rows"], 11);
    assert_eq!(
        f.stored_files().await,
        1,
        "stored (encrypted) until the import ends"
    );
    let id = started["id"].as_str().unwrap().to_owned();

    f.app.job_worker().drain().await.unwrap();
    let done = f.progress(&id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["processed_rows"], 11);
    assert_eq!(done["enrolled"], 2);
    assert_eq!(done["already_enrolled"], 1);
    assert_eq!(done["not_members"], 1);
    assert_eq!(done["ineligible"], 3);
    assert_eq!(done["invalid_rows"], 4);
    assert_eq!(done["file_stored"], false);
    assert_eq!(f.stored_files().await, 0, "the file is gone");

    let report = f.report(&id).await;
    let got: Vec<(String, String)> = report
        .iter()
        .map(|r| (r[0].clone(), r[2].clone()))
        .collect();
    let want = [
        ("3", "tenure_unknown"),
        ("4", "tenure_too_short"),
        ("5", "not_member"),
        ("6", "id_number_check_char"),
        ("7", "id_number_scientific"),
        ("8", "date_invalid"),
        ("9", "wrong_column_count"),
        ("11", "outside_reach"),
    ];
    assert_eq!(
        got,
        want.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
    // ID numbers only masked in the report.
    for row in &report {
        assert!(
            !rows
                .iter()
                .any(|r| r.contains(&row[1]) && row[1].len() >= 18),
            "{row:?}"
        );
    }
    assert!(report[2][1].starts_with("5101") && report[2][1].contains('*'));

    // The enrolled were told, with a roster enrollment.
    let mut enrolled = f.enrollments().await;
    enrolled.sort();
    assert_eq!(enrolled.len(), 2);
    assert!(enrolled.iter().all(|(_, source)| source == "roster"));
    let (status, mine) = (
        200,
        f.app
            .get_as(&people[1].0, "/api/v1/me/enrollments")
            .await
            .json::<Value>()
            .await
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(mine[0]["source"], "roster");
    assert_eq!(mine[0]["effective_from"], "2026-06-16");
    // The roster's start date filled in the member's unknown tenure.
    let (_, e) = (
        0,
        f.app
            .get_as(&people[1].0, "/api/v1/plans/rider-2026/eligibility")
            .await
            .json::<Value>()
            .await
            .unwrap(),
    );
    let unmet: Vec<&str> = e["unmet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap())
        .collect();
    assert_eq!(unmet, ["already_enrolled"], "no tenure_unknown: {e}");

    // The roster's start dates are recorded for members who gave none (rows 1 and 2
    // enrolled), and count for their eligibility from now on (above: their tenure is known).
    let starts = f
        .app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use gongyou_db::schema::{memberships as m, platform_starts as p};
            let own = m::table
                .filter(m::platform_started_on.is_not_null())
                .count()
                .get_result::<i64>(conn)?;
            assert_eq!(own, 0, "the members' own records are left as they were");
            p::table
                .select(p::started_on)
                .load::<String>(conn)
                .map_err(gongyou_db::DbError::from)
        })
        .await
        .unwrap();
    let mut starts: Vec<String> = starts;
    starts.sort();
    assert_eq!(
        starts,
        ["2025-01-10", "2025-03-01"],
        "only the enrolled rows' dates"
    );

    // The same file again: nobody enrolled twice.
    let (status, again) = f.upload(gbk.to_vec()).await;
    assert_eq!(status, 202);
    f.app.job_worker().drain().await.unwrap();
    let second = f.progress(again["id"].as_str().unwrap()).await;
    assert_eq!(second["enrolled"], 0);
    assert_eq!(second["already_enrolled"], 3, "{second}");
    assert_eq!(f.enrollments().await.len(), 2);
}

#[tokio::test]
async fn file_faults_are_refused_while_uploading_and_nothing_is_kept() {
    let f = fixture(1000).await;
    let cases: [(Vec<u8>, &str); 4] = [
        (b"name,id\r\n1,2\r\n".to_vec(), "roster.header"),
        (format!("{HEADER}\r\n").into_bytes(), "roster.empty"),
        (vec![0xff, 0xfe, 0x00, 0x41, 0x00, 0x42], "roster.encoding"),
        (Vec::new(), "roster.empty"),
    ];
    for (bytes, code) in cases {
        let (status, problem) = f.upload(bytes).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (422, Some(code)),
            "{problem}"
        );
    }
    let r = f
        .app
        .client
        .post(f.app.url("/api/v1/admin/plans/rider-2026/roster-imports"))
        .header("Authorization", f.admin.bearer())
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(f.stored_files().await, 0, "nothing kept");
    // Not the caller's plan: 404; a worker: 403.
    let worker = f.app.sign_in_worker("13500000200").await;
    let r = f
        .app
        .client
        .post(f.app.url("/api/v1/admin/plans/rider-2026/roster-imports"))
        .header("Authorization", worker.bearer())
        .header("Content-Type", "text/csv")
        .body(format!("{HEADER}\r\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let sz = f.app.org_id("深圳市总工会").await;
    let national = f.app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    f.app
        .create_staff(&national, "sz-roster", &sz, &[("union_admin", &sz)])
        .await;
    let outsider = f.app.sign_in_staff("sz-roster", DEMO_PASSWORD).await;
    let r = f
        .app
        .client
        .post(f.app.url("/api/v1/admin/plans/rider-2026/roster-imports"))
        .header("Authorization", outsider.bearer())
        .header("Content-Type", "text/csv")
        .body(format!("{HEADER}\r\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn an_import_whose_worker_dies_mid_file_resumes_and_enrolls_nobody_twice() {
    let f = fixture(2).await;
    let people = members(&f.app, 7, 13500000301).await;
    // The members first, then 300 rows of people who are not members: the run is long
    // enough that the worker dies well before the end, whatever the machine's speed.
    let mut rows: Vec<String> = people
        .iter()
        .enumerate()
        .map(|(i, (_, id))| format!("骑手{i},{id},,MT-{i},2025-01-01"))
        .collect();
    rows.extend((0..300).map(|i| {
        let id = id_number(
            "510105",
            &format!("19{:02}0{}1{}", 60 + i % 40, 1 + i % 9, i % 10),
            &format!("{:03}", i),
        );
        format!("路人{i},{id},,X-{i},2025-01-01")
    }));
    let text = format!("\u{feff}{HEADER}\n{}\n", rows.join("\n"));
    let (status, started) = f.upload(text.into_bytes()).await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["encoding"], "utf8_bom");
    let id = started["id"].as_str().unwrap().to_owned();

    // A worker runs the import and dies once two batches are committed (the task is
    // dropped mid-way, as a killed process would leave it: the job still leased).
    let worker = f.app.job_worker();
    let run = tokio::spawn(async move { worker.drain().await });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let p = f.progress(&id).await;
        if p["processed_rows"].as_i64().unwrap() >= 4 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no progress: {p}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    run.abort();
    let _ = run.await;
    // A batch already handed to the database when the task died still commits (as a
    // transaction in flight at a kill would, or not): wait until the counters settle, then
    // they match what is stored.
    let mut halfway = f.progress(&id).await;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let again = f.progress(&id).await;
        if again == halfway {
            break;
        }
        halfway = again;
    }
    assert_ne!(halfway["status"], "done", "{halfway}");
    let committed = halfway["enrolled"].as_i64().unwrap();
    assert_eq!(f.enrollments().await.len() as i64, committed);

    // The lease runs out; another worker takes the job up from the checkpoint.
    f.app.clock.advance(chrono::Duration::minutes(5));
    f.app.job_worker().drain().await.unwrap();
    let done = f.progress(&id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["processed_rows"], 307);
    assert_eq!(done["enrolled"], 7, "{done}");
    assert_eq!(done["not_members"], 300);
    assert_eq!(done["already_enrolled"], 0);
    let mut users: Vec<String> = f.enrollments().await.into_iter().map(|(u, _)| u).collect();
    users.sort();
    users.dedup();
    assert_eq!(users.len(), 7);
    assert_eq!(f.enrollments().await.len(), 7);
    assert_eq!(f.stored_files().await, 0);
}

/// The `gongyou` binary built beside this test binary (`target/<profile>/gongyou`; a
/// workspace test run builds it).
fn gongyou_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = profile_dir.join("gongyou");
    assert!(
        binary.exists(),
        "{} is missing: build it (cargo build --bin gongyou)",
        binary.display()
    );
    binary
}

/// A `gongyou worker` process on the test app's database, file store and keys.
fn spawn_worker(app: &TestApp) -> std::process::Child {
    std::process::Command::new(gongyou_binary())
        .arg("worker")
        .env_clear()
        .envs(app.settings())
        .env("GONGYOU_LOG", "warn")
        // Its own metrics listener on a free port, whatever the test app uses.
        .env("GONGYOU_METRICS_ADDR", "127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn a_worker_process_killed_mid_import_is_taken_over_and_enrolls_nobody_twice() {
    // The real clock (the worker process keeps its own); short leases so the take-over
    // happens within seconds; batches of 5 rows so the import runs long enough to be killed.
    let f = fixture_with(
        5,
        Utc::now(),
        [
            ("GONGYOU_JOB_LEASE_SECS", "2"),
            ("GONGYOU_JOB_POLL_MS", "100"),
        ],
    )
    .await;
    let people = members(&f.app, 9, 13500000401).await;
    // 1,509 rows: a member every 150 rows (rows 1, 151, …, 1201), strangers between.
    let mut strangers = (0..1500).map(|i| {
        let id = id_number(
            "510105",
            &format!("19{:02}0{}1{}", 60 + i % 40, 1 + i % 9, i % 10),
            &format!("{:03}", i % 1000),
        );
        format!("路人{i},{id},,X-{i},2025-01-01")
    });
    let mut rows: Vec<String> = Vec::new();
    for (i, (_, id)) in people.iter().enumerate() {
        rows.push(format!("骑手{i},{id},,MT-{i},2025-01-01"));
        rows.extend(strangers.by_ref().take(149));
    }
    rows.extend(strangers);
    assert_eq!(rows.len(), 1509);
    let text = format!("{HEADER}\n{}\n", rows.join("\n"));
    let (status, started) = f.upload(text.into_bytes()).await;
    assert_eq!(status, 202, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();

    // A worker process takes the job; it is killed (SIGKILL: no shutdown, no rollback but
    // the database's own) once it is past the second member.
    let mut first = spawn_worker(&f.app);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let p = f.progress(&id).await;
        if p["processed_rows"].as_i64().unwrap() >= 160 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no progress: {p}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    // A commit already sent when the process died may still land: wait until the counters
    // settle, then they match what is stored (a batch is committed whole or not at all).
    let mut halfway = f.progress(&id).await;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let again = f.progress(&id).await;
        if again == halfway {
            break;
        }
        halfway = again;
    }
    assert_eq!(halfway["status"], "running", "killed mid-file: {halfway}");
    let enrolled = halfway["enrolled"].as_i64().unwrap();
    assert!(
        (2..9).contains(&enrolled),
        "killed with some members enrolled and some not: {halfway}"
    );
    assert_eq!(f.enrollments().await.len() as i64, enrolled);

    // Another worker process takes the job over once the dead one's lease runs out, and
    // resumes after the last committed batch.
    let mut second = spawn_worker(&f.app);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let done = loop {
        let p = f.progress(&id).await;
        if p["status"] == "done" {
            break p;
        }
        assert_ne!(p["status"], "failed", "{p}");
        assert!(std::time::Instant::now() < deadline, "not done: {p}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(done["processed_rows"], 1509, "{done}");
    assert_eq!(done["enrolled"], 9, "{done}");
    assert_eq!(done["not_members"], 1500, "{done}");
    assert_eq!(done["already_enrolled"], 0, "{done}");
    assert_eq!(done["invalid_rows"], 0, "{done}");
    let enrolled = f.enrollments().await;
    let mut users: Vec<&String> = enrolled.iter().map(|(u, _)| u).collect();
    users.sort();
    users.dedup();
    assert_eq!((enrolled.len(), users.len()), (9, 9));
    // Every rejected row reported once, in order.
    let report = f.report(&id).await;
    assert_eq!(report.len(), 1500);
    let numbers: Vec<i64> = report.iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "rows reported once each"
    );
    assert_eq!(f.stored_files().await, 0, "the file is gone");
}

#[tokio::test]
async fn a_rosters_enrollment_notices_reach_phones_in_push_batches() {
    let fake = gongyou_tests::fakes::jpush::FakeJpush::start().await;
    let base_url = fake.base_url();
    let mid_june = Shanghai
        .with_ymd_and_hms(2026, 6, 15, 10, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc);
    let f = fixture_with(
        3,
        mid_june,
        [
            (
                "GONGYOU_JPUSH_APP_KEY",
                gongyou_tests::fakes::jpush::FakeJpush::APP_KEY,
            ),
            (
                "GONGYOU_JPUSH_MASTER_SECRET",
                gongyou_tests::fakes::jpush::FakeJpush::MASTER_SECRET,
            ),
            ("GONGYOU_JPUSH_BASE_URL", base_url.as_str()),
        ],
    )
    .await;
    let people = members(&f.app, 7, 13500000501).await;
    // Six have a phone registered (the first also a tablet), the seventh none; the sixth
    // switched enrollment notices off on the push channel.
    let device = |i: usize, registration_id: String| {
        let request = f
            .app
            .client
            .put(f.app.url("/api/v1/me/devices"))
            .header("Authorization", people[i].0.bearer())
            .json(&json!({"registration_id": registration_id, "platform": "android"}));
        async move { assert_eq!(request.send().await.unwrap().status(), 204) }
    };
    for i in 0..6 {
        device(i, format!("reg-{i}")).await;
    }
    device(0, "reg-0-tablet".into()).await;
    let r = f
        .app
        .client
        .put(f.app.url("/api/v1/me/notification-preferences"))
        .header("Authorization", people[5].0.bearer())
        .json(&json!({"preferences": [{"category": "plan_enrolled", "channel": "push", "enabled": false}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    f.app.job_worker().drain().await.unwrap();
    let before = fake.pushes().len();

    // Seven members and two strangers, three rows a batch: three batches.
    let mut rows: Vec<String> = people
        .iter()
        .enumerate()
        .map(|(i, (_, id))| format!("骑手{i},{id},,MT-{i},2025-01-01"))
        .collect();
    rows.push(format!(
        "路人甲,{},,X-1,2025-01-01",
        id_number("510105", "19900101", "901")
    ));
    rows.push(format!(
        "路人乙,{},,X-2,2025-01-01",
        id_number("510105", "19900102", "902")
    ));
    let (status, started) = f
        .upload(format!("{HEADER}\n{}\n", rows.join("\n")).into_bytes())
        .await;
    assert_eq!(status, 202, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    f.app.job_worker().drain().await.unwrap();
    let done = f.progress(&id).await;
    assert_eq!(
        (done["status"].as_str(), done["enrolled"].as_i64()),
        (Some("done"), Some(7))
    );

    // A request per batch with anyone to reach (the third batch's one member has no
    // device): registration ids, not one request per member.
    let pushes: Vec<(String, Vec<String>, String)> = fake.pushes()[before..].to_vec();
    let mut audiences: Vec<Vec<String>> = pushes
        .iter()
        .map(|(_, ids, _)| {
            let mut ids = ids.clone();
            ids.sort();
            ids
        })
        .collect();
    audiences.sort();
    assert_eq!(
        audiences,
        vec![
            vec!["reg-0", "reg-0-tablet", "reg-1", "reg-2"],
            vec!["reg-3", "reg-4"],
        ],
        "{pushes:?}"
    );
    assert!(
        pushes
            .iter()
            .all(|(_, _, alert)| alert.contains("骑手保障")),
        "{pushes:?}"
    );
    assert_eq!(fake.duplicate_cid_count(), 0);
    // Every member has the notice in the inbox, with their certificate; no per-notice push
    // delivery was written.
    for (member, _) in &people {
        let inbox: Value = f
            .app
            .get_as(member, "/api/v1/me/notifications")
            .await
            .json()
            .await
            .unwrap();
        let notices: Vec<&Value> = inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["category"] == "plan_enrolled")
            .collect();
        assert_eq!(notices.len(), 1, "{inbox}");
        assert!(
            notices[0]["body"].as_str().unwrap().contains("RIDER-2026-"),
            "{inbox}"
        );
    }
    let of_import = format!("{id}-%");
    let push_deliveries = f
        .app
        .state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use gongyou_db::schema::notification_deliveries as d;
            d::table
                .filter(d::channel.eq("push"))
                .filter(d::notification_id.like(of_import))
                .count()
                .get_result::<i64>(conn)
                .map_err(gongyou_db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(push_deliveries, 0);
    // The import's campaign is not an admin's campaign.
    let r = f
        .app
        .get_as(&f.admin, &format!("/api/v1/admin/campaigns/{id}"))
        .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_roster_file_tampered_with_in_storage_fails_the_import_and_is_gone() {
    let f = fixture(2).await;
    let people = members(&f.app, 2, 13500000601).await;
    let rows: Vec<String> = people
        .iter()
        .enumerate()
        .map(|(i, (_, id))| format!("骑手{i},{id},,MT-{i},2025-01-01"))
        .collect();
    let (status, started) = f
        .upload(format!("{HEADER}\n{}\n", rows.join("\n")).into_bytes())
        .await;
    assert_eq!(status, 202, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();

    // A byte of the sealed object flipped before the job reads it.
    let key = f.object_key(&id).await;
    let store = &f.app.state.providers.files;
    let mut object = store.get(&key).await.unwrap().unwrap();
    let middle = object.len() / 2;
    object[middle] ^= 0x01;
    store.put(&key, object).await.unwrap();

    f.app.job_worker().drain().await.unwrap();
    let done = f.progress(&id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["failure"].as_str().unwrap().contains("无法读取"),
        "{done}"
    );
    assert_eq!(done["enrolled"], 0);
    assert!(f.enrollments().await.is_empty());
    assert_eq!(f.stored_files().await, 0, "its key is dropped");
}

#[tokio::test]
async fn a_file_store_that_keeps_failing_is_retried_then_the_import_ends_failed() {
    let f = fixture(2).await;
    let people = members(&f.app, 1, 13500000701).await;
    let text = format!("{HEADER}\n骑手,{},,MT-1,2025-01-01\n", people[0].1);
    let (status, started) = f.upload(text.into_bytes()).await;
    assert_eq!(status, 202, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();

    // The stored object becomes unreadable to the store (a directory where the file was):
    // the store's failure, not the file's.
    let key = f.object_key(&id).await;
    let path = f.app.data_dir.path().join("files").join(&key);
    assert!(path.is_file(), "{}", path.display());
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir_all(path.join("in-the-way")).unwrap();

    // Each attempt fails and is retried later; the import stays running meanwhile.
    f.app.job_worker().drain().await.unwrap();
    let first = f.progress(&id).await;
    assert_eq!(first["status"], "running", "{first}");
    // The last attempt ends it: failed, the rows done kept, the file's key dropped.
    for _ in 0..6 {
        f.app.clock.advance(chrono::Duration::hours(2));
        f.app.job_worker().drain().await.unwrap();
    }
    // (Signed in again: the clock moved past the first session's token.)
    let admin = f
        .app
        .sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD)
        .await;
    let done: Value = f
        .app
        .get_as(&admin, &format!("/api/v1/admin/roster-imports/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["failure"].as_str().unwrap().contains("多次出错"),
        "{done}"
    );
    assert_eq!(f.stored_files().await, 0, "its key is dropped");
}

#[tokio::test]
async fn a_plans_imports_are_listed_newest_first_to_admins_over_it() {
    let f = fixture(1000).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        // One row each that is not a valid ID number: accepted, then reported.
        let body = format!("{HEADER}\r\n张{n},not-an-id,13800000000,W{n},2026-01-01\r\n");
        let (status, view) = f.upload(body.into_bytes()).await;
        assert_eq!(status, 202, "{view}");
        ids.push(view["id"].as_str().unwrap().to_owned());
    }
    ids.reverse();
    let list = |path: String, who: Session| {
        let app = &f.app;
        async move {
            let r = app.get_as(&who, &path).await;
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or_default())
        }
    };
    let path = "/api/v1/admin/plans/rider-2026/roster-imports";
    let (status, all) = list(path.to_owned(), f.admin.clone()).await;
    assert_eq!(status, 200, "{all}");
    let listed: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids, "newest first");
    assert_eq!(all["items"][0]["plan_code"], "rider-2026");
    assert!(all["next_cursor"].is_null());

    // Two pages of two and one.
    let (_, first) = list(format!("{path}?limit=2"), f.admin.clone()).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = list(format!("{path}?limit=2&cursor={cursor}"), f.admin.clone()).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["id"], ids[2].as_str());
    assert!(second["next_cursor"].is_null());

    // Limits, strangers and workers.
    let (status, problem) = list(format!("{path}?limit=0"), f.admin.clone()).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("request.invalid_limit"))
    );
    let (status, problem) = list(
        "/api/v1/admin/plans/no-such-plan/roster-imports".to_owned(),
        f.admin.clone(),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("plan.not_found"))
    );
    let sz = f.app.org_id("深圳市总工会").await;
    let national = f.app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    f.app
        .create_staff(&national, "sz-lister", &sz, &[("union_admin", &sz)])
        .await;
    let outsider = f.app.sign_in_staff("sz-lister", DEMO_PASSWORD).await;
    let (status, problem) = list(path.to_owned(), outsider).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("plan.not_found"))
    );
    let worker = f.app.sign_in_worker("13500000201").await;
    assert_eq!(list(path.to_owned(), worker).await.0, 403);
    let (status, _) = list(path.to_owned(), national).await;
    assert_eq!(status, 200, "the national admin is over every plan");
}
