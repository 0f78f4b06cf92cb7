//! The real binary, as README's run command starts it: `gongyou demo` on a fresh data dir
//! migrates the embedded SQLite database, serves `/healthz` and `/openapi.yaml`, and stops
//! cleanly on SIGTERM. `migrate` and `openapi` work as commands too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gongyou");

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads stdout until the demo banner's last line; returns the address and what was printed.
fn wait_for_address(child: &mut Child) -> (String, String) {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut addr = String::new();
        let mut printed = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) {
                if json["message"] == "listening" {
                    addr = json["addr"].as_str().unwrap_or_default().to_owned();
                }
            } else {
                printed.push_str(&line);
                printed.push('\n');
            }
            if line.contains("returns dev_code") {
                let _ = tx.send((addr.clone(), printed.clone()));
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the demo prints its address and logins")
}

fn get(addr: &str, path: &str) -> (u16, String) {
    try_get(addr, path).expect("the server answers")
}

/// None while nothing listens at `addr` yet.
fn try_get(addr: &str, path: &str) -> Option<(u16, String)> {
    send(addr, path, None)
}

fn post(addr: &str, path: &str, body: &'static str) -> (u16, String) {
    send(addr, path, Some(body)).expect("the server answers")
}

/// A GET, or a POST of a JSON `body`; None when the connection fails.
fn send(addr: &str, path: &str, body: Option<&'static str>) -> Option<(u16, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = format!("http://{addr}{path}");
        let request = match body {
            None => client.get(url),
            Some(body) => client
                .post(url)
                .header("content-type", "application/json")
                .body(body),
        };
        let response = request.send().await.ok()?;
        Some((response.status().as_u16(), response.text().await.unwrap()))
    })
}

#[test]
fn demo_serves_then_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(BIN)
        .arg("demo")
        .current_dir(dir.path())
        .env_clear()
        .env("GONGYOU_HTTP_ADDR", "127.0.0.1:0")
        .env("GONGYOU_DEMO_PASSWORD", "demo-binary-2026")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let (addr, printed) = wait_for_address(&mut running.0);
    assert!(printed.contains(&format!("http://{addr}")), "{printed}");
    for login in [
        "demo-admin",
        "demo-sichuan-admin",
        "demo-manager",
        "demo-reviewer",
        "demo-approver",
    ] {
        assert!(printed.contains(login), "{login} missing from {printed}");
    }
    assert!(printed.contains("demo-binary-2026"));
    let (status, _) = post(
        &addr,
        "/api/v1/auth/sessions/password",
        r#"{"username":"demo-admin","password":"demo-binary-2026"}"#,
    );
    assert_eq!(status, 200);

    let (status, body) = get(&addr, "/healthz");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, spec) = get(&addr, "/openapi.yaml");
    assert_eq!(status, 200);
    assert!(spec.starts_with("openapi: 3.1"), "{spec}");
    let (status, _) = get(&addr, "/readyz");
    assert_eq!(status, 200);
    // Demo stations around 成都 (天府广场) and 深圳 (市民中心).
    for (lat, lng) in [(30.657, 104.066), (22.543, 114.059)] {
        let (status, body) = get(
            &addr,
            &format!("/api/v1/stations/nearby?lat={lat}&lng={lng}&radius_m=10000&limit=5"),
        );
        assert_eq!(status, 200);
        let found: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(found["items"].as_array().unwrap().len(), 5, "{body}");
    }
    // The default database is a SQLite file under ./data.
    assert!(dir.path().join("data/gongyou.db").exists());

    terminate(&mut running);
}

/// Sends SIGTERM and waits (at most 30 s) for a clean exit.
fn terminate(running: &mut Running) {
    let pid = running.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

/// SIGTERM drains: a request in flight (an SMS gateway taking two seconds) is answered, new
/// connections are refused, and the process exits cleanly.
#[test]
fn sigterm_lets_requests_in_flight_finish() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let gateway = runtime.block_on(async {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(
                wiremock::ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"Response": {
                        "SendStatusSet": [{"SerialNo": "5000:1", "PhoneNumber": "+8613800138000",
                            "Fee": 1, "SessionContext": "", "Code": "Ok",
                            "Message": "send success", "IsoCode": "CN"}],
                        "RequestId": "drain-test"}}))
                    .set_delay(Duration::from_secs(2)),
            )
            .mount(&server)
            .await;
        server
    });
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("GONGYOU_HTTP_ADDR", &addr)
        .env("GONGYOU_SMS_PROVIDER", "tencent")
        .env("GONGYOU_SMS_BASE_URL", gateway.uri())
        .env("GONGYOU_SMS_ACCESS_KEY_ID", "AKID")
        .env("GONGYOU_SMS_ACCESS_KEY_SECRET", "secret")
        .env("GONGYOU_SMS_SIGN_NAME", "工友")
        .env("GONGYOU_SMS_TEMPLATE_ID", "code-1")
        .env("GONGYOU_SMS_SDK_APP_ID", "1400000001")
        .env("GONGYOU_SMS_DEV_ECHO", "false")
        .env("GONGYOU_SHUTDOWN_TIMEOUT_SECS", "20")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let started = Instant::now();
    while try_get(&addr, "/healthz").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never listened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A request that takes two seconds (the gateway's delay)…
    let in_flight = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            post(
                &addr,
                "/api/v1/auth/sms-codes",
                r#"{"phone":"13800138000","purpose":"sign_in"}"#,
            )
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    // …SIGTERM while it runs: the server stops taking connections at once…
    let pid = running.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        try_get(&addr, "/healthz").is_none(),
        "a new connection after SIGTERM is refused"
    );
    // …but answers the one in flight, then exits cleanly.
    let (status, body) = in_flight.join().unwrap();
    assert_eq!(status, 202, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after the drain");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    drop(gateway);
}

#[test]
fn a_worker_serves_its_metrics_and_no_api_route() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .arg("worker")
        .current_dir(dir.path())
        .env_clear()
        .env("GONGYOU_METRICS_ADDR", &addr)
        .env("GONGYOU_DEMO_PASSWORD", "demo-binary-2026")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let started = Instant::now();
    let metrics = loop {
        if let Some((200, body)) = try_get(&addr, "/metrics") {
            break body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the worker's /metrics never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        metrics.contains("gongyou_jobs{status=\"queued\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gongyou_db_pool_max_connections"),
        "{metrics}"
    );
    for path in [
        "/healthz",
        "/openapi.yaml",
        "/api/v1/stations/nearby?lat=30.6&lng=104.0",
    ] {
        assert_eq!(get(&addr, path).0, 404, "{path} on a worker");
    }
    terminate(&mut running);
}

#[test]
fn refuses_production_with_dev_shortcuts_and_names_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("GONGYOU_ENV", "production")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to start in production"),
        "{stderr}"
    );
}

#[test]
fn production_needs_redis_unless_one_replica_is_stated() {
    let dir = tempfile::tempdir().unwrap();
    let production = |extra: &[(&str, &str)]| {
        let mut command = Command::new(BIN);
        command
            .arg("migrate")
            .current_dir(dir.path())
            .env_clear()
            .env("GONGYOU_ENV", "production")
            .env("GONGYOU_ALLOW_SQLITE_IN_PRODUCTION", "true")
            .env("GONGYOU_TOKEN_SECRET", "t".repeat(40))
            .env("GONGYOU_DATA_KEY", "k".repeat(40))
            .env("GONGYOU_METRICS_ADDR", "127.0.0.1:0")
            .env("GONGYOU_SMS_PROVIDER", "aliyun")
            .env("GONGYOU_SMS_ACCESS_KEY_ID", "LTAI-test")
            .env("GONGYOU_SMS_ACCESS_KEY_SECRET", "sms-secret")
            .env("GONGYOU_SMS_SIGN_NAME", "工友")
            .env("GONGYOU_SMS_TEMPLATE_ID", "SMS_000001");
        for (k, v) in extra {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    let refused = production(&[]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("refusing to start in production") && stderr.contains("GONGYOU_REDIS_URL"),
        "{stderr}"
    );
    let single = production(&[("GONGYOU_SINGLE_REPLICA", "true")]);
    assert!(
        single.status.success(),
        "{}",
        String::from_utf8_lossy(&single.stderr)
    );
}

#[test]
fn migrate_and_openapi_commands() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = Command::new(BIN)
        .arg("migrate")
        .current_dir(dir.path())
        .env_clear()
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert!(dir.path().join("data/gongyou.db").exists());

    let openapi = Command::new(BIN)
        .arg("openapi")
        .env_clear()
        .output()
        .unwrap();
    assert!(openapi.status.success());
    let expected =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    assert_eq!(String::from_utf8(openapi.stdout).unwrap(), expected);
}

#[test]
fn seed_generates_a_national_set_of_stations() {
    let dir = tempfile::tempdir().unwrap();
    let seeded = Command::new(BIN)
        .args(["seed", "--stations", "2000"])
        .current_dir(dir.path())
        .env_clear()
        .env("GONGYOU_DEMO_PASSWORD", "demo-binary-2026")
        .env("GONGYOU_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    assert!(String::from_utf8_lossy(&seeded.stdout).contains("seeded 2000 stations"));
    let db = dir.path().join("data/gongyou.db");
    let n = stations_in(&db);
    assert_eq!(n, 2000, "every generated station is stored with its hours");
}

/// Stations stored with a region and hours.
fn stations_in(db: &std::path::Path) -> i64 {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = SqliteConnection::establish(&db.display().to_string()).unwrap();
    diesel::sql_query(
        "SELECT COUNT(*) AS n FROM stations WHERE region_code != '' AND hours LIKE '{\"weekly\"%'",
    )
    .get_result::<N>(&mut conn)
    .unwrap()
    .n
}
