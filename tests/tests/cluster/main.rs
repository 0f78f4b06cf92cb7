//! Many replicas, one truth (issue 16): three `gongyou serve` and two `gongyou worker`
//! processes — the real binary, on one PostgreSQL database and one Redis prefix, small pools
//! and short job leases — take a mixed workload round-robin for a bounded time; one API
//! process and one worker are SIGKILLed a third of the way in and restarted. Then: every
//! acknowledged write is there, no payout is billed twice and every approved one is paid,
//! every JPush notice reaches each device once, urgent SMS notices and a campaign's WeChat
//! subscribe messages are neither missing nor repeated beyond what was in flight, station
//! edits reach every replica within 2 s, rate limits and idempotency keys hold across
//! replicas, no 5xx, and connection errors only to the killed process.
//!
//! Its own CI step (it needs PostgreSQL, Redis and `cargo build -p gongyou`):
//! `GONGYOU_TEST_DATABASE_URL=… GONGYOU_TEST_REDIS_URL=… cargo nextest run -p gongyou-tests
//! --test cluster --run-ignored only` (or `cargo test -p gongyou-tests --test cluster --
//! --ignored --nocapture`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gongyou_providers::wechatpay::fake::FakeWechatPay;
use gongyou_tests::fakes::jpush::FakeJpush;
use gongyou_tests::fakes::sms::FakeSms;
use gongyou_tests::fakes::wechat::FakeWechat;
use gongyou_tests::fakes::wechatpay;
use gongyou_tests::session::{application, id_number, Session, DEMO_PASSWORD};
use serde_json::{json, Value};

/// How long the mixed workload runs; the kill comes at a third of it.
const RUN: Duration = Duration::from_secs(45);
const KILL_AT: Duration = Duration::from_secs(15);
/// How long the killed processes stay down.
const DOWN_FOR: Duration = Duration::from_secs(4);
const PLAN: &str = "cluster-2026";
/// Marks the campaign's notice (its title and body).
const CAMPAIGN_MARK: &str = "集群演练";
/// The campaign's title (the fake WeChat counts subscribe messages by it).
const CAMPAIGN_TITLE: &str = "集群演练通知";
/// The mini-program's subscribe-message template for notices.
const NOTICE_TEMPLATE: &str = "tpl-cluster-notice";
/// How long the fake WeChat takes to answer a subscribe message around the kill, so that
/// the campaign's WeChat batches are mid-send when a worker dies.
const WECHAT_SLOW: Duration = Duration::from_millis(2500);

// ---------------------------------------------------------------------------------------
// Processes

use gongyou_tests::gongyou_binary;

/// A `gongyou` child process; SIGKILLed when dropped, so a failed run leaves nothing behind.
struct Proc {
    child: Child,
    log: PathBuf,
    name: String,
}

impl Proc {
    fn start(name: &str, command: &str, env: &HashMap<String, String>, dir: &Path) -> Self {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(gongyou_binary())
            .arg(command)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("gongyou {command} starts: {e}"));
        Self {
            child,
            log,
            name: name.to_owned(),
        }
    }

    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("status") {
            panic!("{} exited ({status}):\n{}", self.name, self.log_tail());
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Starts `gongyou serve` on a free port and waits (60 s at most) until it is ready.
async fn start_serve(
    name: &str,
    env: &HashMap<String, String>,
    dir: &Path,
    client: &reqwest::Client,
) -> (Proc, String) {
    let port = free_port();
    let mut env = env.clone();
    env.insert("GONGYOU_HTTP_ADDR".into(), format!("127.0.0.1:{port}"));
    let mut proc = Proc::start(name, "serve", &env, dir);
    let address = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{address}/readyz")).send().await {
            if r.status() == 200 {
                return (proc, address);
            }
        }
        proc.assert_running();
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{name} not ready after 60 s:\n{}",
            proc.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Requests, counted

enum Body {
    None,
    Json(Value),
    Multipart(String, Vec<u8>),
}

/// A request the workload makes.
struct Req<'a> {
    method: reqwest::Method,
    path: String,
    auth: Option<&'a Session>,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

impl<'a> Req<'a> {
    fn get(path: impl Into<String>) -> Self {
        Self {
            method: reqwest::Method::GET,
            path: path.into(),
            auth: None,
            headers: vec![],
            body: Body::None,
        }
    }
    fn post(path: impl Into<String>, body: Value) -> Self {
        Self {
            method: reqwest::Method::POST,
            body: Body::Json(body),
            ..Self::get(path)
        }
    }
    fn put(path: impl Into<String>, body: Value) -> Self {
        Self {
            method: reqwest::Method::PUT,
            body: Body::Json(body),
            ..Self::get(path)
        }
    }
    fn patch(path: impl Into<String>, body: Value) -> Self {
        Self {
            method: reqwest::Method::PATCH,
            body: Body::Json(body),
            ..Self::get(path)
        }
    }
    fn by(mut self, who: &'a Session) -> Self {
        self.auth = Some(who);
        self
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// The request was sent and no answer came (the replica died under it): its effect is
/// unknown, so the workload gives up on what depended on it.
#[derive(Debug)]
struct Lost;

#[derive(Default)]
struct Stats {
    /// (replica, status) → requests.
    answered: BTreeMap<(usize, u16), usize>,
    /// replica → connections refused (nothing sent; retried on another replica).
    refused: BTreeMap<usize, usize>,
    /// replica → requests sent with no answer.
    lost: BTreeMap<usize, usize>,
    /// Every 5xx: what was asked and answered.
    server_errors: Vec<String>,
    /// Answers the workload did not expect (a 4xx where a 2xx was due).
    unexpected: Vec<String>,
    /// Connection errors while the replica was not the killed one.
    errors_elsewhere: Vec<String>,
}

struct Cluster {
    client: reqwest::Client,
    /// Base URL of each API replica (the restarted one gets a new port).
    addresses: Mutex<Vec<String>>,
    next: AtomicUsize,
    stats: Mutex<Stats>,
    /// The replica killed, while it is down or restarting.
    killed: Mutex<Option<usize>>,
}

impl Cluster {
    fn address(&self, replica: usize) -> String {
        self.addresses.lock().unwrap()[replica].clone()
    }

    fn build(&self, replica: usize, r: &Req<'_>) -> reqwest::RequestBuilder {
        let mut b = self
            .client
            .request(
                r.method.clone(),
                format!("{}{}", self.address(replica), r.path),
            )
            .timeout(Duration::from_secs(30));
        if let Some(who) = r.auth {
            b = b.header("Authorization", who.bearer());
        }
        for (k, v) in &r.headers {
            b = b.header(*k, v);
        }
        match &r.body {
            Body::None => b,
            Body::Json(v) => b.json(v),
            Body::Multipart(boundary, bytes) => b
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(bytes.clone()),
        }
    }

    /// Sends `r` to the next replica (round-robin); a refused connection (nothing sent) is
    /// retried on the following one.
    async fn call(&self, r: Req<'_>) -> Result<(u16, Value), Lost> {
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..3 {
            match self.call_on((first + i) % 3, &r).await {
                Err(Some(lost)) => return Err(lost),
                Err(None) => continue,
                Ok(answer) => return Ok(answer),
            }
        }
        panic!(
            "no replica accepted a connection for {} {}",
            r.method, r.path
        )
    }

    /// Sends `r` to `replica`: Err(None) when the connection was refused.
    async fn call_on(&self, replica: usize, r: &Req<'_>) -> Result<(u16, Value), Option<Lost>> {
        let what = format!("{} {} on replica {replica}", r.method, r.path);
        match self.build(replica, r).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                let mut stats = self.stats.lock().unwrap();
                *stats.answered.entry((replica, status)).or_default() += 1;
                if status >= 500 {
                    stats
                        .server_errors
                        .push(format!("{what} → {status} {text}"));
                }
                Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
            }
            Err(e) => {
                let mut stats = self.stats.lock().unwrap();
                if *self.killed.lock().unwrap() != Some(replica) {
                    stats.errors_elsewhere.push(format!("{what}: {e}"));
                }
                if e.is_connect() {
                    *stats.refused.entry(replica).or_default() += 1;
                    Err(None)
                } else {
                    *stats.lost.entry(replica).or_default() += 1;
                    Err(Some(Lost))
                }
            }
        }
    }

    /// [`Self::call`], expecting `status`; anything else is recorded as unexpected and
    /// ends the chain like a lost request.
    async fn expect(&self, status: u16, r: Req<'_>) -> Result<Value, Lost> {
        let what = format!("{} {}", r.method, r.path);
        let (got, body) = self.call(r).await?;
        if got != status {
            self.stats
                .lock()
                .unwrap()
                .unexpected
                .push(format!("{what} → {got} (expected {status}): {body}"));
            return Err(Lost);
        }
        Ok(body)
    }
}

// ---------------------------------------------------------------------------------------
// What the workload was told (acknowledged writes)

#[derive(Default)]
struct Acks {
    /// user id → membership id (approved applications).
    members: HashMap<String, String>,
    /// Enrollments acknowledged (201).
    enrollments: Vec<String>,
    /// claim id → payout id (approved claims).
    approved_claims: HashMap<String, String>,
    /// Payouts approved but not batched yet.
    unbatched: Vec<String>,
    /// batch id → its payouts (approved batches).
    batches: HashMap<String, Vec<String>>,
    /// Phones of members whose suspension was acknowledged.
    suspended: Vec<String>,
    /// WeChat-only riders (no JPush device) holding a notice credit: user id → openid.
    wechat_riders: HashMap<String, String>,
    /// Chains given up on after a lost request.
    abandoned: usize,
    /// Station edits acknowledged, and the latest acknowledged version.
    station_edits: usize,
    station_version: i64,
    /// Slowest propagation of an edit to a replica.
    station_slowest: Duration,
    /// Idempotency-key replays across replicas that answered the same resource.
    replays_same: usize,
    /// SMS code sends refused on another replica by the one-a-minute limit.
    limited_across: usize,
}

struct Staff {
    admin: Session,
    reviewer: Session,
    finance: Session,
    approver: Session,
}

struct World {
    c: Cluster,
    staff: Staff,
    acks: Mutex<Acks>,
    database_url: String,
    phones: AtomicUsize,
    chengdu: String,
    station: String,
    wechat: FakeWechat,
}

#[derive(diesel::QueryableByName)]
struct Recipient {
    #[diesel(sql_type = diesel::sql_types::Text)]
    user_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    openid: String,
}

/// A plain PostgreSQL connection, for the test's own SQL (the cluster runs on PostgreSQL).
fn pg(url: &str) -> diesel::PgConnection {
    use diesel::Connection;
    diesel::PgConnection::establish(url).expect("PostgreSQL connection")
}

fn db(url: &str) -> gongyou_db::DbConnection {
    gongyou_db::DatabaseUrl::parse(url)
        .expect("database URL")
        .connect()
        .expect("database connection")
}

fn png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(8, 6, image::Rgb([200, 30, 30])))
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

fn multipart(kind: &str, bytes: &[u8]) -> Body {
    let boundary = "gongyou-cluster-boundary";
    let mut b = Vec::new();
    b.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n")
            .as_bytes(),
    );
    b.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
    );
    b.extend_from_slice(bytes);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Body::Multipart(boundary.to_owned(), b)
}

impl World {
    fn next_phone(&self) -> String {
        format!("1370000{:04}", self.phones.fetch_add(1, Ordering::Relaxed))
    }

    /// Signs a worker in by SMS code (dev echo), registers a JPush device, applies to
    /// 锦江区 and is approved by the 四川 admin: (session, user id, membership id).
    async fn member(&self, phone: &str) -> Result<(Session, String, String), Lost> {
        let me = self.sms_sign_in(phone).await?;
        self.join(me, phone).await
    }

    /// A WeChat-only rider (ADR 021): signs in from the mini-program, binds the phone WeChat
    /// vouches for, joins (no JPush device), and accepts the notice template once. WeChat's
    /// side holds spare credits, so a message sent twice is delivered twice and counted.
    async fn wechat_member(&self) -> Result<(), Lost> {
        let c = &self.c;
        let phone = self.next_phone();
        let openid = format!("oc-{phone}");
        let login = format!("login-{phone}");
        self.wechat.add_login_code(&login, &openid, None);
        let signed = c
            .expect(
                200,
                Req::post("/api/v1/auth/sessions/wechat", json!({"code": login})),
            )
            .await?;
        let me = Session::from_json(&signed);
        let code = format!("phone-{phone}");
        self.wechat.add_phone_code(&code, &phone);
        c.expect(
            200,
            Req::post("/api/v1/me/phone/wechat", json!({"code": code})).by(&me),
        )
        .await?;
        let (me, user, _) = self.join(me, &phone).await?;
        self.wechat.subscribe(&openid, NOTICE_TEMPLATE, 3);
        c.expect(
            200,
            Req::post(
                "/api/v1/me/wechat-subscriptions",
                json!({"results": {NOTICE_TEMPLATE: "accept"}}),
            )
            .by(&me),
        )
        .await?;
        self.acks.lock().unwrap().wechat_riders.insert(user, openid);
        Ok(())
    }

    /// Signs a worker in by SMS code (dev echo) and registers a JPush device.
    async fn sms_sign_in(&self, phone: &str) -> Result<Session, Lost> {
        let c = &self.c;
        let sent = c
            .expect(
                202,
                Req::post(
                    "/api/v1/auth/sms-codes",
                    json!({"phone": phone, "purpose": "sign_in"}),
                ),
            )
            .await?;
        let code = sent["dev_code"].as_str().expect("dev_code").to_owned();
        let signed = c
            .expect(
                200,
                Req::post(
                    "/api/v1/auth/sessions/sms",
                    json!({"phone": phone, "code": code}),
                ),
            )
            .await?;
        let me = Session::from_json(&signed);
        c.expect(
            204,
            Req::put(
                "/api/v1/me/devices",
                json!({"registration_id": format!("reg-{phone}"), "platform": "android"}),
            )
            .by(&me),
        )
        .await?;
        Ok(me)
    }

    /// `me` applies to 锦江区 and is approved by the 四川 admin: (session, user id,
    /// membership id).
    async fn join(&self, me: Session, phone: &str) -> Result<(Session, String, String), Lost> {
        let c = &self.c;
        let user = me.user["id"].as_str().unwrap().to_owned();
        let n: u32 = phone[7..].parse().unwrap();
        let id = id_number(
            "510104",
            &format!("1990{:02}{:02}", 1 + n % 12, 1 + n % 28),
            &format!("{:03}", n % 1000),
        );
        let applied = c
            .expect(
                201,
                Req::post(
                    "/api/v1/membership/applications",
                    application(&id, "510104"),
                )
                .by(&me)
                .header("Idempotency-Key", format!("apply-{phone}")),
            )
            .await?;
        let approved = c
            .expect(
                200,
                Req::post(
                    format!(
                        "/api/v1/admin/membership/applications/{}/approve",
                        applied["id"].as_str().unwrap()
                    ),
                    json!({}),
                )
                .by(&self.staff.admin),
            )
            .await?;
        let membership = approved["id"].as_str().unwrap().to_owned();
        self.acks
            .lock()
            .unwrap()
            .members
            .insert(user.clone(), membership.clone());
        Ok((me, user, membership))
    }

    /// A member through to an approved claim (WeChat payee): its payout joins the unbatched.
    async fn claimant(&self) -> Result<(), Lost> {
        let c = &self.c;
        let phone = self.next_phone();
        let (me, user, _) = self.member(&phone).await?;
        let enrolled = c
            .expect(
                201,
                Req::post(format!("/api/v1/plans/{PLAN}/enrollments"), json!({}))
                    .by(&me)
                    .header("Idempotency-Key", format!("enroll-{phone}")),
            )
            .await?;
        let enrollment = enrolled["id"].as_str().unwrap().to_owned();
        self.acks
            .lock()
            .unwrap()
            .enrollments
            .push(enrollment.clone());
        // The cover starts the day after enrolling, and the processes run on the real
        // clock: back-date it, and link a WeChat account (set-up, not under test).
        {
            let (url, enrollment, user) = (self.database_url.clone(), enrollment.clone(), user);
            tokio::task::spawn_blocking(move || {
                use diesel::prelude::*;
                use gongyou_db::schema::enrollments as e;
                let mut conn = db(&url);
                diesel::update(e::table.find(&enrollment))
                    .set(e::effective_from.eq("2026-11-01"))
                    .execute(&mut conn)
                    .expect("back-date the cover");
                gongyou_db::accounts::set_wechat(
                    &mut conn,
                    &user,
                    Some(&format!("openid-{user}")),
                    None,
                    chrono::Utc::now().naive_utc(),
                )
                .expect("link WeChat");
            })
            .await
            .unwrap();
        }
        let claim = c
            .expect(
                201,
                Req::post(
                    "/api/v1/claims",
                    json!({
                        "enrollment_id": enrollment,
                        "benefit_code": "hospital_daily",
                        "incident": {
                            "type": "accident", "occurred_on": "2026-11-20",
                            "place": "成都市锦江区春熙路", "admitted_on": "2026-11-20",
                            "discharged_on": "2026-11-25", "hospital": "四川大学华西医院",
                            "diagnosis": "右侧桡骨远端骨折",
                        },
                        "payee": {"kind": "wechat_balance"},
                    }),
                )
                .by(&me)
                .header("Idempotency-Key", format!("claim-{phone}")),
            )
            .await?;
        let claim = claim["id"].as_str().unwrap().to_owned();
        for kind in ["medical_record_front_page", "discharge_summary"] {
            c.expect(
                201,
                Req {
                    body: multipart(kind, &png()),
                    ..Req::post(format!("/api/v1/claims/{claim}/documents"), json!({})).by(&me)
                },
            )
            .await?;
        }
        c.expect(
            200,
            Req::post(format!("/api/v1/claims/{claim}/submit"), json!({})).by(&me),
        )
        .await?;
        let reviewer = &self.staff.reviewer;
        c.expect(
            200,
            Req::post(format!("/api/v1/review/claims/{claim}/assign"), json!({})).by(reviewer),
        )
        .await?;
        let approved = c
            .expect(
                200,
                Req::post(format!("/api/v1/review/claims/{claim}/approve"), json!({})).by(reviewer),
            )
            .await?;
        assert_eq!(approved["status"], "approved", "{approved}");
        let list = c
            .expect(
                200,
                Req::get(format!("/api/v1/finance/payouts?claim_id={claim}"))
                    .by(&self.staff.finance),
            )
            .await?;
        let payout = list["items"][0]["id"].as_str().unwrap().to_owned();
        let mut acks = self.acks.lock().unwrap();
        acks.approved_claims.insert(claim, payout.clone());
        acks.unbatched.push(payout);
        Ok(())
    }

    /// A member who is then suspended (an urgent notice: SMS).
    async fn suspended_member(&self) -> Result<(), Lost> {
        let phone = self.next_phone();
        let (_, _, membership) = self.member(&phone).await?;
        self.c
            .expect(
                200,
                Req::post(
                    format!("/api/v1/admin/members/{membership}/suspend"),
                    json!({"reason": "核查"}),
                )
                .by(&self.staff.admin),
            )
            .await?;
        self.acks.lock().unwrap().suspended.push(phone);
        Ok(())
    }

    /// Batches the approved payouts not batched yet: demo-finance creates the batch on one
    /// replica, the same Idempotency-Key is replayed on the other two (same batch), and
    /// demo-approver approves it.
    async fn batch(&self, key: &str) {
        let payouts: Vec<String> = std::mem::take(&mut self.acks.lock().unwrap().unbatched);
        if payouts.is_empty() {
            return;
        }
        let body = json!({"channel": "wechat", "payout_ids": payouts});
        let mut id: Option<String> = None;
        let started = Instant::now();
        // The key makes retries safe: until one replica answers, and then on every replica.
        let mut answered = 0;
        let mut replica = self.c.next.fetch_add(1, Ordering::Relaxed);
        while answered < 3 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "batch {key} not created in 30 s"
            );
            let r = Req::post("/api/v1/finance/payout-batches", body.clone())
                .by(&self.staff.finance)
                .header("Idempotency-Key", key);
            match self.c.call_on(replica % 3, &r).await {
                Ok((201, b)) => {
                    let got = b["id"].as_str().unwrap().to_owned();
                    if let Some(first) = &id {
                        assert_eq!(
                            first, &got,
                            "an Idempotency-Key replayed on another replica made another batch"
                        );
                        self.acks.lock().unwrap().replays_same += 1;
                    }
                    id = Some(got);
                    answered += 1;
                }
                Ok((status, b)) => panic!("creating batch {key}: {status} {b}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
            replica += 1;
        }
        let id = id.unwrap();
        // Approving twice is refused (409), so a lost answer is settled by reading it back.
        loop {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "batch {id} not approved in 60 s"
            );
            match self
                .c
                .call(
                    Req::post(
                        format!("/api/v1/finance/payout-batches/{id}/approve"),
                        json!({}),
                    )
                    .by(&self.staff.approver),
                )
                .await
            {
                Ok((200, _)) => break,
                Ok((status, b)) if status != 409 => panic!("approving batch {id}: {status} {b}"),
                _ => {}
            }
            if let Ok((200, b)) = self
                .c
                .call(
                    Req::get(format!("/api/v1/finance/payout-batches/{id}"))
                        .by(&self.staff.approver),
                )
                .await
            {
                if b["status"] != "pending_approval" && b["status"] != "draft" {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.acks.lock().unwrap().batches.insert(id, payouts);
    }

    /// The station as it stands: (version, has hot water).
    async fn station_now(&self) -> Option<(i64, bool)> {
        let (status, s) = self
            .c
            .call(Req::get(format!("/api/v1/stations/{}", self.station)))
            .await
            .ok()?;
        assert_eq!(status, 200, "{s}");
        let hot = s["amenities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "hot_water");
        Some((s["version"].as_i64().unwrap(), hot))
    }

    /// Toggles hot water at the station through one replica and waits until every replica's
    /// search agrees, within 2 s of the acknowledgement.
    async fn station_edit(&self) {
        let Some((version, hot)) = self.station_now().await else {
            return;
        };
        let mut amenities = vec!["drinking_water", "phone_charging", "seating"];
        if !hot {
            amenities.push("hot_water");
        }
        let r = Req::patch(
            format!("/api/v1/stations/{}", self.station),
            json!({ "amenities": amenities }),
        )
        .by(&self.staff.admin)
        .header("If-Match", format!("\"v{version}\""));
        let Ok((status, edited)) = self.c.call(r).await else {
            return; // lost: its effect is read back on the next round
        };
        if status == 412 {
            return;
        }
        assert_eq!(status, 200, "{edited}");
        let acked = Instant::now();
        let version = edited["version"].as_i64().unwrap();
        {
            let mut acks = self.acks.lock().unwrap();
            acks.station_edits += 1;
            acks.station_version = acks.station_version.max(version);
        }
        let want = !hot;
        let query =
            "/api/v1/stations/nearby?lat=30.657&lng=104.066&radius_m=100&amenities=hot_water";
        for replica in 0..3 {
            loop {
                let found = match self.c.call_on(replica, &Req::get(query)).await {
                    Ok((200, v)) => v["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|i| i["id"] == self.station.as_str()),
                    Ok((status, v)) => panic!("search on replica {replica}: {status} {v}"),
                    Err(_) => break, // the killed replica: nothing to see there
                };
                if found == want {
                    let mut acks = self.acks.lock().unwrap();
                    acks.station_slowest = acks.station_slowest.max(acked.elapsed());
                    break;
                }
                assert!(
                    acked.elapsed() < Duration::from_secs(2),
                    "station edit v{version} not visible on replica {replica} within 2 s"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// An SMS code asked of every replica for one phone: the first sends, the other two
    /// are refused by the one-a-minute limit shared through Redis.
    async fn rate_limit_probe(&self) {
        let phone = self.next_phone();
        let mut statuses = vec![];
        for replica in 0..3 {
            let r = Req::post(
                "/api/v1/auth/sms-codes",
                json!({"phone": phone, "purpose": "sign_in"}),
            );
            if let Ok((status, _)) = self.c.call_on(replica, &r).await {
                statuses.push(status);
            }
        }
        assert!(
            statuses.len() >= 2,
            "the probe reached fewer than two replicas"
        );
        assert_eq!(statuses[0], 202, "{statuses:?}");
        assert!(
            statuses[1..].iter().all(|s| *s == 429),
            "the per-phone limit is not shared across replicas: {statuses:?}"
        );
        self.acks.lock().unwrap().limited_across += statuses.len() - 1;
    }

    /// A campaign to 成都's riders, created on one replica and replayed with its key on the
    /// others: one campaign. Returns its id.
    async fn campaign(&self) -> String {
        let notice = json!({
            "org_id": self.chengdu, "occupation": "delivery_rider",
            "title": CAMPAIGN_TITLE,
            "body": format!("{CAMPAIGN_MARK}：明日最高气温 39℃，请注意防暑。"),
        });
        let mut id: Option<String> = None;
        let started = Instant::now();
        let mut answered = 0;
        let mut replica = 0;
        while answered < 3 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "campaign not created"
            );
            let r = Req::post("/api/v1/admin/campaigns", notice.clone())
                .by(&self.staff.admin)
                .header("Idempotency-Key", "cluster-campaign");
            match self.c.call_on(replica % 3, &r).await {
                Ok((201, b)) => {
                    let got = b["id"].as_str().unwrap().to_owned();
                    if let Some(first) = &id {
                        assert_eq!(first, &got, "a replayed campaign key made another campaign");
                        self.acks.lock().unwrap().replays_same += 1;
                    }
                    id = Some(got);
                    answered += 1;
                }
                Ok((status, b)) => panic!("creating the campaign: {status} {b}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
            replica += 1;
        }
        id.unwrap()
    }
}

// ---------------------------------------------------------------------------------------
// The test

fn settings(
    jpush: &FakeJpush,
    sms: &FakeSms,
    pay: &FakeWechatPay,
    wechat: &FakeWechat,
) -> gongyou_tests::TestEnv {
    let mut overrides: HashMap<String, String> = [
        ("GONGYOU_DB_POOL_SIZE", "3"),
        ("GONGYOU_DB_POOL_MIN_IDLE", "0"),
        ("GONGYOU_DB_CONNECT_TIMEOUT_MS", "5000"),
        ("GONGYOU_HTTP_WORKERS", "2"),
        ("GONGYOU_JOB_LEASE_SECS", "3"),
        // A delivery claimed by a killed worker is claimed again after this (default 300).
        ("GONGYOU_DELIVERY_LEASE_SECS", "5"),
        ("GONGYOU_JOB_POLL_MS", "200"),
        ("GONGYOU_WORKER_CONCURRENCY", "2"),
        ("GONGYOU_PAYOUT_CHECK_SECS", "1"),
        ("GONGYOU_CAMPAIGN_BATCH", "3"),
        ("GONGYOU_SEARCH_RATE_PER_MINUTE", "0"),
        ("GONGYOU_SMS_NETWORK_HOURLY", "100000"),
        ("GONGYOU_LOG", "info"),
        (
            "GONGYOU_TOKEN_SECRET",
            "cluster-token-secret-0123456789abcdef0123456789",
        ),
        (
            "GONGYOU_DATA_KEY",
            "cluster-data-key-0123456789abcdef0123456789abcd",
        ),
        ("GONGYOU_JPUSH_APP_KEY", FakeJpush::APP_KEY),
        ("GONGYOU_JPUSH_MASTER_SECRET", FakeJpush::MASTER_SECRET),
        ("GONGYOU_SMS_PROVIDER", "tencent"),
        ("GONGYOU_SMS_ACCESS_KEY_ID", "AKID"),
        ("GONGYOU_SMS_ACCESS_KEY_SECRET", "secret"),
        ("GONGYOU_SMS_SIGN_NAME", "工友"),
        ("GONGYOU_SMS_TEMPLATE_ID", "code-1"),
        ("GONGYOU_SMS_SDK_APP_ID", "1400000001"),
        ("GONGYOU_SMS_NOTICE_TEMPLATE_ID", "notice-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    overrides.insert("GONGYOU_JPUSH_BASE_URL".into(), jpush.base_url());
    overrides.insert("GONGYOU_SMS_BASE_URL".into(), sms.base_url());
    overrides.extend(wechatpay::env(pay));
    overrides.extend(wechat.env(Some(&format!("notice:{NOTICE_TEMPLATE}"))));
    gongyou_tests::test_env(overrides)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "its own CI step: five gongyou processes, needs PostgreSQL and Redis"]
async fn five_processes_behave_as_one_system_under_sigkill() {
    let test_started = Instant::now();
    let backends = gongyou_tests::Backends::from_env();
    assert!(
        backends.postgres.is_some() && backends.redis.is_some(),
        "set GONGYOU_TEST_DATABASE_URL (a PostgreSQL server) and GONGYOU_TEST_REDIS_URL: \
         the cluster test runs on PostgreSQL + Redis only"
    );
    gongyou_binary();
    let jpush = FakeJpush::start().await;
    let sms = FakeSms::start().await;
    // One app: the mini-program riders sign in with is the one WeChat Pay transfers to
    // (openids are per app).
    let pay = FakeWechatPay::start(gongyou_providers::wechatpay::fake::FakeConfig {
        appid: FakeWechat::APPID.into(),
        ..Default::default()
    })
    .await
    .expect("fake WeChat Pay");
    pay.set_auto_confirm(true);
    let wechat = FakeWechat::start().await;
    wechat.add_template(NOTICE_TEMPLATE);
    let t = settings(&jpush, &sms, &pay, &wechat);
    let env = t.env.clone();
    let database_url = env["GONGYOU_DATABASE_URL"].clone();
    // The processes' logs outlive the run (the data dir does not): the last run's are in
    // target/tmp/cluster-logs.
    let logs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cluster-logs");
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).unwrap();
    println!("process logs: {}", logs.display());

    // Migrate and seed once (the demo staff, password DEMO_PASSWORD).
    let seeded = Command::new(gongyou_binary())
        .arg("seed")
        .env_clear()
        .envs(&env)
        .output()
        .expect("gongyou seed runs");
    assert!(
        seeded.status.success(),
        "gongyou seed failed:\n{}{}",
        String::from_utf8_lossy(&seeded.stdout),
        String::from_utf8_lossy(&seeded.stderr)
    );

    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let (mut api0, a0) = start_serve("serve-0", &env, &logs, &client).await;
    let (mut api1, a1) = start_serve("serve-1", &env, &logs, &client).await;
    let (mut api2, a2) = start_serve("serve-2", &env, &logs, &client).await;
    let mut workers = vec![
        Proc::start("worker-0", "worker", &env, &logs),
        Proc::start("worker-1", "worker", &env, &logs),
    ];
    pay.deliver_callbacks_to(&format!("{a0}/api/v1/webhooks/wechatpay"));
    let c = Cluster {
        client: client.clone(),
        addresses: Mutex::new(vec![a0, a1, a2]),
        next: AtomicUsize::new(0),
        stats: Mutex::new(Stats::default()),
        killed: Mutex::new(None),
    };

    // Staff sessions (tokens are good on every replica), the plan, a station.
    let sign_in = |username: &'static str| {
        let c = &c;
        async move {
            let b = c
                .expect(
                    200,
                    Req::post(
                        "/api/v1/auth/sessions/password",
                        json!({"username": username, "password": DEMO_PASSWORD}),
                    ),
                )
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "sign-in of {username}: {:?}",
                        c.stats.lock().unwrap().unexpected
                    )
                });
            Session::from_json(&b)
        }
    };
    let staff = Staff {
        admin: sign_in("demo-sichuan-admin").await,
        reviewer: sign_in("demo-reviewer").await,
        finance: sign_in("demo-finance").await,
        approver: sign_in("demo-approver").await,
    };
    let (sichuan, chengdu) = tokio::task::spawn_blocking({
        let url = database_url.clone();
        move || {
            use diesel::prelude::*;
            use gongyou_db::schema::orgs;
            let mut conn = db(&url);
            let mut id = |name: &str| {
                orgs::table
                    .filter(orgs::name.eq(name))
                    .select(orgs::id)
                    .first::<String>(&mut conn)
                    .unwrap()
            };
            (id("四川省总工会"), id("成都市总工会"))
        }
    })
    .await
    .unwrap();
    let terms = json!({
        "name": "集群测试计划", "description": "集群测试用保障计划",
        "enrollment_opens_on": "2026-11-01", "enrollment_closes_on": "2027-06-30",
        "coverage_starts_on": "2026-11-01", "coverage_ends_on": "2027-10-31",
        "eligibility": {},
        "benefits": [
            {"code": "hospital_daily", "name": "住院津贴", "kind": "daily_allowance",
             "amount_per_day": "200", "max_days_per_year": 30,
             "waiting_days": {"illness": 30, "accident": 0},
             "documents": ["medical_record_front_page", "discharge_summary"]}
        ],
    });
    c.expect(
        201,
        Req::post(
            "/api/v1/admin/plans",
            json!({"code": PLAN, "sponsor_org_id": sichuan, "terms": terms}),
        )
        .by(&staff.admin),
    )
    .await
    .unwrap_or_else(|_| panic!("plan created: {:?}", c.stats.lock().unwrap().unexpected));
    c.expect(
        200,
        Req::post(format!("/api/v1/admin/plans/{PLAN}/publish"), json!({})).by(&staff.admin),
    )
    .await
    .unwrap_or_else(|_| panic!("plan published: {:?}", c.stats.lock().unwrap().unexpected));
    let span = json!([{"open": "00:00", "close": "24:00"}]);
    let station = c
        .expect(
            201,
            Req::post(
                "/api/v1/admin/stations",
                json!({
                    "org_id": chengdu, "type": "fixed", "name": "集群驿站",
                    "address": "四川省成都市锦江区春熙路 1 号", "region_code": "510104",
                    "lat": 30.657, "lng": 104.066,
                    "amenities": ["drinking_water", "phone_charging", "seating"],
                    "hours": {"weekly": {"mon": span, "tue": span, "wed": span, "thu": span,
                              "fri": span, "sat": span, "sun": span}},
                    "contact_phone": "028-86612345", "capacity": 12
                }),
            )
            .by(&staff.admin),
        )
        .await
        .unwrap_or_else(|_| panic!("station created: {:?}", c.stats.lock().unwrap().unexpected));
    let world = Arc::new(World {
        c,
        staff,
        acks: Mutex::new(Acks::default()),
        database_url: database_url.clone(),
        phones: AtomicUsize::new(0),
        chengdu,
        station: station["id"].as_str().unwrap().to_owned(),
        wechat,
    });
    let setup_took = test_started.elapsed();

    // The workload.
    let started = Instant::now();
    let deadline = started + RUN;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let w = world.clone();
        tasks.spawn(async move {
            while Instant::now() < deadline {
                if w.claimant().await.is_err() {
                    w.acks.lock().unwrap().abandoned += 1;
                }
            }
        });
    }
    {
        let w = world.clone();
        tasks.spawn(async move {
            while Instant::now() < deadline {
                if w.wechat_member().await.is_err() {
                    w.acks.lock().unwrap().abandoned += 1;
                }
            }
        });
    }
    {
        let w = world.clone();
        tasks.spawn(async move {
            while Instant::now() < deadline {
                if w.suspended_member().await.is_err() {
                    w.acks.lock().unwrap().abandoned += 1;
                }
            }
        });
    }
    {
        let w = world.clone();
        tasks.spawn(async move {
            while Instant::now() < deadline {
                w.station_edit().await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }
    {
        let w = world.clone();
        tasks.spawn(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(5)).await;
                n += 1;
                w.batch(&format!("cluster-batch-{n}")).await;
            }
        });
    }
    let campaign = {
        let w = world.clone();
        tokio::spawn(async move {
            w.rate_limit_probe().await;
            // Just before the kill: its fan-out, pushes and WeChat messages straddle it (WeChat
            // answers slowly until the killed processes are back).
            tokio::time::sleep_until((started + KILL_AT - Duration::from_secs(3)).into()).await;
            w.wechat.slow_subscribes(WECHAT_SLOW);
            let id = w.campaign().await;
            tokio::time::sleep_until((started + KILL_AT + DOWN_FOR).into()).await;
            w.wechat.slow_subscribes(Duration::ZERO);
            tokio::time::sleep_until((started + KILL_AT + DOWN_FOR * 3).into()).await;
            w.rate_limit_probe().await;
            id
        })
    };

    // Shortly before the kill, WeChat Pay answers creates slowly and a batch is sent: the
    // send is under way when its worker dies.
    tokio::time::sleep_until((started + KILL_AT - Duration::from_secs(4)).into()).await;
    for _ in 0..60 {
        pay.slow_next_create(Duration::from_millis(300));
    }
    world.batch("cluster-batch-at-kill").await;
    // A third of the way: SIGKILL one API process, and the worker sending payouts (the
    // second worker if no send is running by then); restart them.
    tokio::time::sleep_until((started + KILL_AT).into()).await;
    let running = |url: String| {
        tokio::task::spawn_blocking(move || {
            use diesel::prelude::*;
            use gongyou_db::schema::jobs;
            jobs::table
                .filter(jobs::status.eq("running"))
                .select((jobs::name, jobs::locked_by))
                .load::<(String, Option<String>)>(&mut db(&url))
                .unwrap()
        })
    };
    let pids: Vec<u32> = workers.iter().map(|w| w.child.id()).collect();
    let mut victim = 1;
    let mut victim_was_sending = false;
    let looking = Instant::now();
    let jobs_at_kill = loop {
        let jobs = running(database_url.clone()).await.unwrap();
        let sender = jobs.iter().find_map(|(name, by)| {
            let by = by.as_deref()?;
            (name == "payouts.send")
                .then(|| pids.iter().position(|pid| by.contains(&format!("-{pid}-"))))
                .flatten()
        });
        if let Some(i) = sender {
            victim = i;
            victim_was_sending = true;
            break jobs;
        }
        if looking.elapsed() > Duration::from_secs(5) {
            break jobs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    *world.c.killed.lock().unwrap() = Some(1);
    api1.kill();
    workers[victim].kill();
    // The campaign's WeChat messages the killed worker held unrecorded: frozen batches its
    // dispatchers were sending, less the progress they had recorded. Only these may go
    // out twice (read at once, before its job leases lapse).
    let wechat_in_flight = tokio::task::spawn_blocking({
        let (url, pid) = (database_url.clone(), pids[victim]);
        move || {
            gongyou_tests::pg::count(
                &mut pg(&url),
                &format!(
                    "SELECT CAST(COALESCE(SUM(b.recipients - b.progress), 0) AS BIGINT) AS n \
                     FROM campaign_subscribe_batches b JOIN jobs j ON b.claimed_by = 'dispatch-' || j.id \
                     WHERE b.status = 'sending' AND b.frozen IS NOT NULL AND j.locked_by LIKE '%-{pid}-%'"
                ),
            )
        }
    })
    .await
    .unwrap();
    let bills_at_kill = pay.bills().len();
    let sms_at_kill = sms.requests();
    let jobs_running_at_kill: Vec<&str> = jobs_at_kill.iter().map(|(n, _)| n.as_str()).collect();
    tokio::time::sleep(DOWN_FOR).await;
    let (restarted, a1) = start_serve("serve-1-restarted", &env, &logs, &client).await;
    api1 = restarted;
    world.c.addresses.lock().unwrap()[1] = a1;
    *world.c.killed.lock().unwrap() = None;
    workers[victim] = Proc::start(&format!("worker-{victim}-restarted"), "worker", &env, &logs);
    let restarted_at = started.elapsed();

    while let Some(done) = tasks.join_next().await {
        done.expect("a workload task panicked");
    }
    let campaign = campaign.await.expect("campaign task");
    world.batch("cluster-batch-final").await;
    let workload_took = started.elapsed();

    // Convergence: every batched payout paid, the campaign sent, every suspension's SMS out,
    // the queue empty but for periodic jobs (at most 90 s).
    let acks = std::mem::take(&mut *world.acks.lock().unwrap());
    let batched: Vec<String> = acks.batches.values().flatten().cloned().collect();
    let converge = Instant::now();
    let (payouts, campaign_view, deliveries) = loop {
        for p in [&mut api0, &mut api1, &mut api2]
            .into_iter()
            .chain(workers.iter_mut())
        {
            p.assert_running();
        }
        let rows = tokio::task::spawn_blocking({
            let (url, ids) = (database_url.clone(), batched.clone());
            move || {
                let mut conn = db(&url);
                ids.iter()
                    .map(|id| {
                        let p = gongyou_db::payouts::get(&mut conn, id).unwrap().unwrap();
                        let a = gongyou_db::payouts::attempts_of(&mut conn, id).unwrap();
                        (p, a)
                    })
                    .collect::<Vec<_>>()
            }
        })
        .await
        .unwrap();
        let all_paid = rows.iter().all(|(p, _)| p.status == "paid");
        let view = world
            .c
            .call(Req::get(format!("/api/v1/admin/campaigns/{campaign}")).by(&world.staff.admin))
            .await
            .map(|(_, v)| v)
            .unwrap_or(Value::Null);
        let sms_notices: HashSet<String> = sms
            .sent_with_template()
            .into_iter()
            .filter(|(_, t, _)| t == "notice-1")
            .map(|(phone, _, _)| phone)
            .collect();
        let sms_done = acks
            .suspended
            .iter()
            .all(|p| sms_notices.contains(&format!("+86{p}")));
        // Every push settled (WeChat-only riders have no device: skipped), and every WeChat
        // message sent or given up on.
        let pushes_settled = view["deliveries"]["sent"].as_i64().unwrap_or(0)
            + view["deliveries"]["skipped"].as_i64().unwrap_or(0);
        let messages = &view["subscribe_messages"];
        let campaign_done = view["status"] == "sent"
            && Some(pushes_settled) == view["recipients"].as_i64()
            && ["pending", "batches_waiting", "retrying"]
                .iter()
                .all(|k| messages[k].as_i64().unwrap_or(0) == 0);
        let deliveries = tokio::task::spawn_blocking({
            let url = database_url.clone();
            move || {
                use diesel::prelude::*;
                use gongyou_db::schema::notification_deliveries as d;
                d::table
                    .group_by((d::channel, d::status))
                    .select((d::channel, d::status, diesel::dsl::count_star()))
                    .load::<(String, String, i64)>(&mut db(&url))
                    .unwrap()
            }
        })
        .await
        .unwrap();
        let delivered = deliveries
            .iter()
            .all(|(_, status, _)| !matches!(status.as_str(), "pending" | "sending" | "failed"));
        if all_paid && campaign_done && sms_done && delivered {
            break (rows, view, deliveries);
        }
        assert!(
            converge.elapsed() < Duration::from_secs(90),
            "no convergence in 90 s: all paid {all_paid} ({} payouts), campaign {view}, \
             suspension SMS all out {sms_done}, deliveries {deliveries:?}\nworker-0:\n{}\nworker-1:\n{}",
            rows.len(),
            workers[0].log_tail(),
            workers[1].log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let converged_in = converge.elapsed();

    // ---- Checks
    let stats = std::mem::take(&mut *world.c.stats.lock().unwrap());
    let mut failures: Vec<String> = vec![];
    let mut check = |ok: bool, what: String| {
        if !ok {
            failures.push(what);
        }
    };

    // No 5xx; connection errors only to the killed process; no unexpected answer.
    check(
        stats.server_errors.is_empty(),
        format!("5xx answers: {:#?}", stats.server_errors),
    );
    check(
        stats.errors_elsewhere.is_empty(),
        format!(
            "connection errors outside the killed replica's downtime: {:#?}",
            stats.errors_elsewhere
        ),
    );
    check(
        stats.unexpected.is_empty(),
        format!("unexpected answers: {:#?}", stats.unexpected),
    );

    // Acknowledged writes are all there.
    let (members_found, claims_found, enrollments_found) = tokio::task::spawn_blocking({
        let enrollments = acks.enrollments.clone();
        let url = database_url.clone();
        let members: Vec<(String, String)> = acks
            .members
            .iter()
            .map(|(u, m)| (u.clone(), m.clone()))
            .collect();
        let claims: Vec<(String, String)> = acks
            .approved_claims
            .iter()
            .map(|(c, p)| (c.clone(), p.clone()))
            .collect();
        move || {
            use diesel::prelude::*;
            use gongyou_db::schema::{claims as cl, memberships as ms};
            let mut conn = db(&url);
            let members = members
                .iter()
                .filter(|(user, id)| {
                    ms::table
                        .filter(ms::id.eq(id))
                        .filter(ms::user_id.eq(user))
                        .count()
                        .get_result::<i64>(&mut conn)
                        .unwrap()
                        == 1
                })
                .count();
            let claims = claims
                .iter()
                .filter(|(claim, payout)| {
                    let status: Option<String> = cl::table
                        .find(claim)
                        .select(cl::status)
                        .first(&mut conn)
                        .optional()
                        .unwrap();
                    let p = gongyou_db::payouts::get(&mut conn, payout).unwrap();
                    matches!(status.as_deref(), Some("approved" | "paid"))
                        && p.is_some_and(|p| p.claim_id == *claim)
                })
                .count();
            let enrollments = enrollments
                .iter()
                .filter(|id| {
                    use gongyou_db::schema::enrollments as e;
                    e::table
                        .find(id)
                        .count()
                        .get_result::<i64>(&mut conn)
                        .unwrap()
                        == 1
                })
                .count();
            (members, claims, enrollments)
        }
    })
    .await
    .unwrap();
    check(
        members_found == acks.members.len(),
        format!(
            "acknowledged approvals lost: {members_found} of {} memberships found",
            acks.members.len()
        ),
    );
    check(
        enrollments_found == acks.enrollments.len(),
        format!(
            "acknowledged enrollments lost: {enrollments_found} of {} found",
            acks.enrollments.len()
        ),
    );
    check(
        claims_found == acks.approved_claims.len(),
        format!(
            "acknowledged claim approvals lost: {claims_found} of {}",
            acks.approved_claims.len()
        ),
    );
    let station_now = world.station_now().await.expect("station readable");
    check(
        station_now.0 >= acks.station_version,
        format!(
            "station at v{} below the acknowledged v{}",
            station_now.0, acks.station_version
        ),
    );

    // Payouts: each batched payout paid, one attempt, its number created once, one bill each.
    let mut numbers = HashSet::new();
    let mut total_fen = 0;
    for (p, attempts) in &payouts {
        total_fen += p.amount_fen;
        check(
            attempts.len() == 1,
            format!("payout {} has {} attempts", p.id, attempts.len()),
        );
        for a in attempts {
            check(
                pay.creates(&a.out_bill_no) == 1,
                format!(
                    "{} created {} times",
                    a.out_bill_no,
                    pay.creates(&a.out_bill_no)
                ),
            );
            check(
                numbers.insert(a.out_bill_no.clone()),
                format!("{} used twice", a.out_bill_no),
            );
        }
    }
    let bills = pay.bills();
    let billed: HashSet<String> = bills.iter().map(|b| b.out_bill_no.clone()).collect();
    check(
        bills.len() == payouts.len() && billed == numbers,
        format!(
            "{} bills for {} payouts ({} distinct numbers)",
            bills.len(),
            payouts.len(),
            billed.len()
        ),
    );
    check(
        pay.total_paid_fen() == total_fen,
        format!("paid {} fen, owed {total_fen}", pay.total_paid_fen()),
    );
    check(
        acks.unbatched.is_empty(),
        format!("{} approved payouts never batched", acks.unbatched.len()),
    );

    // JPush: each (device, notice) pushed once; the campaign reached each recipient's device.
    let pushes = jpush.pushes();
    let mut per_device: HashMap<(String, String), usize> = HashMap::new();
    let mut campaign_devices: HashMap<String, usize> = HashMap::new();
    for (_, ids, alert) in &pushes {
        for id in ids {
            *per_device.entry((id.clone(), alert.clone())).or_default() += 1;
            if alert.contains(CAMPAIGN_MARK) {
                *campaign_devices.entry(id.clone()).or_default() += 1;
            }
        }
    }
    let twice: Vec<_> = per_device.iter().filter(|(_, n)| **n > 1).collect();
    check(twice.is_empty(), format!("pushed twice: {twice:?}"));
    // The campaign's WeChat-only recipients (signed in from the mini-program, no device):
    // user id → openid. Their openids come from the fake's sign-in (`oc-…`); the claimants'
    // linked ones (`openid-…`, for transfers) hold no notice credit and have a device.
    let wechat_recipients: HashMap<String, String> = tokio::task::spawn_blocking({
        let (url, campaign) = (database_url.clone(), campaign.clone());
        move || {
            use diesel::RunQueryDsl;
            diesel::sql_query(
                "SELECT n.user_id, u.wechat_openid AS openid FROM notifications n \
                 JOIN users u ON u.id = n.user_id \
                 WHERE n.id > $1 AND n.id < $2 AND u.wechat_openid LIKE 'oc-%'",
            )
            .bind::<diesel::sql_types::Text, _>(format!("{campaign}-"))
            .bind::<diesel::sql_types::Text, _>(format!("{campaign}-z"))
            .load::<Recipient>(&mut pg(&url))
            .unwrap()
            .into_iter()
            .map(|r| (r.user_id, r.openid))
            .collect()
        }
    })
    .await
    .unwrap();
    let recipients = campaign_view["recipients"].as_i64().unwrap_or(-1);
    check(
        (campaign_devices.len() + wechat_recipients.len()) as i64 == recipients
            && campaign_devices.values().all(|n| *n == 1),
        format!(
            "campaign: {recipients} recipients, {} devices pushed, {} WeChat-only ({campaign_view})",
            campaign_devices.len(),
            wechat_recipients.len()
        ),
    );

    // WeChat subscribe messages (no provider idempotency): every WeChat-only recipient
    // whose credit was acknowledged reached, nobody else, and resends no more than the
    // killed worker held unrecorded.
    let reached: HashMap<String, u32> = world
        .wechat
        .delivered_counts()
        .into_iter()
        .filter(|((_, template, title), _)| template == NOTICE_TEMPLATE && title == CAMPAIGN_TITLE)
        .map(|((openid, _, _), n)| (openid, n))
        .collect();
    let wechat_openids: HashSet<&String> = wechat_recipients.values().collect();
    let wechat_missing: Vec<&String> = wechat_recipients
        .iter()
        .filter(|(user, openid)| {
            acks.wechat_riders.contains_key(*user) && !reached.contains_key(*openid)
        })
        .map(|(_, openid)| openid)
        .collect();
    check(
        !wechat_recipients.is_empty() && wechat_missing.is_empty(),
        format!(
            "WeChat messages missing: {wechat_missing:?} of {} WeChat-only recipients",
            wechat_recipients.len()
        ),
    );
    let strangers: Vec<&String> = reached
        .keys()
        .filter(|o| !wechat_openids.contains(o))
        .collect();
    check(
        strangers.is_empty(),
        format!("WeChat messages to non-recipients: {strangers:?}"),
    );
    let wechat_resent: i64 = reached.values().map(|n| i64::from(*n) - 1).sum();
    check(
        wechat_resent <= wechat_in_flight,
        format!(
            "{wechat_resent} WeChat messages resent, the killed worker held {wechat_in_flight}: {reached:?}"
        ),
    );
    check(
        campaign_view["subscribe_messages"]["sent"].as_i64() == Some(reached.len() as i64),
        format!(
            "the campaign counts WeChat messages sent {} but {} riders were reached",
            campaign_view["subscribe_messages"],
            reached.len()
        ),
    );

    // SMS urgent notices: none missing; repeats no more than the requests in flight at the kill.
    let mut sms_per_phone: HashMap<String, usize> = HashMap::new();
    for (phone, template, _) in sms.sent_with_template() {
        if template == "notice-1" {
            *sms_per_phone.entry(phone).or_default() += 1;
        }
    }
    let missing: Vec<&String> = acks
        .suspended
        .iter()
        .filter(|p| !sms_per_phone.contains_key(&format!("+86{p}")))
        .collect();
    check(
        missing.is_empty(),
        format!("SMS notices missing: {missing:?}"),
    );
    let resent: usize = sms_per_phone.values().map(|n| n - 1).sum();
    check(
        resent <= 2, // the killed worker ran at most GONGYOU_WORKER_CONCURRENCY = 2 jobs
        format!("{resent} SMS notices resent: {sms_per_phone:?}"),
    );

    // Every delivery settled, none dead (given up on).
    let dead_deliveries: Vec<_> = deliveries.iter().filter(|(_, s, _)| s == "dead").collect();
    check(
        dead_deliveries.is_empty(),
        format!("deliveries given up on: {dead_deliveries:?}"),
    );

    // Jobs: none dead.
    let jobs = tokio::task::spawn_blocking({
        let url = database_url.clone();
        move || {
            use diesel::prelude::*;
            use gongyou_db::schema::jobs;
            jobs::table
                .group_by((jobs::name, jobs::status))
                .select((jobs::name, jobs::status, diesel::dsl::count_star()))
                .load::<(String, String, i64)>(&mut db(&url))
                .unwrap()
        }
    })
    .await
    .unwrap();
    let dead: Vec<_> = jobs.iter().filter(|(_, s, _)| s == "dead").collect();
    check(dead.is_empty(), format!("dead jobs: {dead:?}"));

    // ---- Summary
    println!("\n== cluster summary (3 serve + 2 worker, PostgreSQL + Redis)");
    println!(
        "setup {:.1}s, workload {:.1}s (kill at {:.0}s, restarted by {:.1}s), converged in {:.1}s, total {:.1}s",
        setup_took.as_secs_f64(),
        workload_took.as_secs_f64(),
        KILL_AT.as_secs_f64(),
        restarted_at.as_secs_f64(),
        converged_in.as_secs_f64(),
        test_started.elapsed().as_secs_f64()
    );
    println!("requests by replica and status:");
    for ((replica, status), n) in &stats.answered {
        println!("  replica {replica}  {status}  {n:>6}");
    }
    println!(
        "connection refused by replica: {:?}; sent without answer: {:?}",
        stats.refused, stats.lost
    );
    println!(
        "members approved {}, enrollments {} (chains abandoned after a lost/unexpected answer: {}), claims approved {}, batches {}, payouts paid {} ({} fen), bills {}",
        acks.members.len(),
        acks.enrollments.len(),
        acks.abandoned,
        acks.approved_claims.len(),
        acks.batches.len(),
        payouts.len(),
        total_fen,
        bills.len()
    );
    println!(
        "killed worker-{victim} (it was sending payouts: {victim_was_sending}); jobs it and the other ran at the kill: {jobs_running_at_kill:?}; \
         bills at the kill {bills_at_kill}; jobs by name and status: {jobs:?}"
    );
    println!(
        "notifications: JPush {} pushes / {} devices reached, campaign {} recipients {} devices; SMS notice phones {} (suspended {}, resends {resent}; SMS requests at kill {sms_at_kill}, total {})",
        pushes.len(),
        jpush.devices_reached(),
        recipients,
        campaign_devices.len(),
        sms_per_phone.len(),
        acks.suspended.len(),
        sms.requests()
    );
    println!(
        "WeChat subscribe: {} WeChat-only riders acknowledged, {} campaign recipients, {} reached, resends {wechat_resent} (the killed worker held {wechat_in_flight} unrecorded); campaign counts {}",
        acks.wechat_riders.len(),
        wechat_recipients.len(),
        reached.len(),
        campaign_view["subscribe_messages"]
    );
    println!("deliveries by channel and status: {deliveries:?}");
    println!(
        "station edits {} (slowest to reach a replica {} ms, final v{}); idempotent replays across replicas {}; SMS-code limit refusals on other replicas {}",
        acks.station_edits,
        acks.station_slowest.as_millis(),
        station_now.0,
        acks.replays_same,
        acks.limited_across
    );
    drop((api0, api1, api2, workers));
    assert!(
        failures.is_empty(),
        "cluster checks failed:\n{}",
        failures.join("\n")
    );
    drop(t);
}
