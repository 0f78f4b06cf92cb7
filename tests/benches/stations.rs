//! The station search benchmark: 150,000 stations (`gongyou seed --stations`, a realistic
//! national set), a busy point in central 成都, and three load runs in one go on the same
//! machine, so the figures compare as ratios (the machine is shared and noisy):
//!
//! (a) `wrk -t2 -c64 -d20s` on `GET /api/v1/stations/nearby` (3 km, limit 20, two amenities,
//!     open now) of the release build;
//! (b) `redis-benchmark -c 64 -n 200000 GEOSEARCH … BYRADIUS 3 km ASC COUNT 20` over the same
//!     points loaded into Redis;
//! (c) `wrk -t2 -c64 -d20s` on the same server's `/healthz`.
//!
//! Targets: (a) ≥ 3× (b) and ≥ 30 % of (c) in requests per second; p99 of (a) ≤ 10 ms; the
//! index of 150,000 stations ≤ 100 MB.
//!
//! Run: `make bench-stations` (builds the release binary; needs `wrk`, `redis-benchmark` and
//! a Redis at `GONGYOU_BENCH_REDIS_URL`, default redis://127.0.0.1:6379).
//! `GONGYOU_BENCH_STATIONS` and `GONGYOU_BENCH_SECONDS` change the size and the duration.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::zombie_processes
)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gongyou_domain::geo::LatLng;
use gongyou_domain::region::{RegionCode, RegionLevel};
use gongyou_domain::station::AmenitySet;
use gongyou_services::stations::search::{Filters, StationSearch, When};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn number_after(text: &str, label: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// wrk's "99%" latency line in milliseconds.
fn p99_ms(text: &str) -> Option<f64> {
    let value = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("99%"))?
        .trim()
        .to_owned();
    let (number, factor) = if let Some(v) = value.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = value.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = value.strip_suffix('s') {
        (v, 1000.0)
    } else {
        (value.as_str(), 1.0)
    };
    number.trim().parse::<f64>().ok().map(|n| n * factor)
}

fn wrk(url: &str, seconds: u64) -> (f64, f64, String) {
    let out = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency", url])
        .output()
        .expect("wrk installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!text.contains("Non-2xx"), "errors under load:\n{text}");
    let rate = number_after(&text, "Requests/sec:").unwrap_or_else(|| panic!("no rate:\n{text}"));
    let p99 = p99_ms(&text).unwrap_or_else(|| panic!("no p99:\n{text}"));
    (rate, p99, text)
}

fn vm_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let n: usize = env("GONGYOU_BENCH_STATIONS").map_or(150_000, |v| v.parse().unwrap());
    let seconds: u64 = env("GONGYOU_BENCH_SECONDS").map_or(20, |v| v.parse().unwrap());
    let redis_url = env("GONGYOU_BENCH_REDIS_URL").unwrap_or("redis://127.0.0.1:6379".into());
    let binary = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/gongyou");
    assert!(
        binary.exists(),
        "build it first: cargo build --release --bin gongyou"
    );
    let data = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let seeded = Command::new(&binary)
        .args(["seed", "--stations", &n.to_string()])
        .env("GONGYOU_DATA_DIR", data.path())
        .env("GONGYOU_DEMO_PASSWORD", "bench-password-2026")
        .env("GONGYOU_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "seed failed: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    println!(
        "seeded {n} stations in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The index as a process builds it: its size, and the busiest district seat of 成都.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = format!("sqlite://{}/gongyou.db", data.path().display());
    let db = gongyou_db::Db::new(
        &gongyou_db::DatabaseUrl::parse(&url).unwrap(),
        &gongyou_db::PoolOptions {
            max_size: 2,
            min_idle: Some(0),
            connection_timeout: Duration::from_secs(5),
        },
    )
    .unwrap();
    let (search, stations) = runtime.block_on(async {
        let started = Instant::now();
        let search = StationSearch::load(&db, chrono::Utc::now()).await.unwrap();
        println!(
            "index of {} stations built in {:.2} s",
            search.len(),
            started.elapsed().as_secs_f64()
        );
        let stations = db.run(gongyou_db::stations::all).await.unwrap();
        (search, stations)
    });
    let index_mb = search.approx_bytes() as f64 / 1_048_576.0;
    let when = When::new(chrono::Utc::now());
    let all = Filters {
        amenities: AmenitySet::default(),
        kind: None,
        open_now: false,
    };
    let wanted = Filters {
        amenities: AmenitySet::parse_list("drinking_water,phone_charging").unwrap(),
        kind: None,
        open_now: true,
    };
    let (point, within) = RegionCode::all()
        .filter(|r| r.code.to_string().starts_with("5101") && r.level == RegionLevel::County)
        .filter_map(|r| {
            Some(LatLng {
                lat: r.lat?,
                lng: r.lng?,
            })
        })
        .map(|p| {
            (
                p,
                search.nearby(p, 3000.0, 100_000, all, when, |hits| hits.len()),
            )
        })
        .max_by_key(|(_, count)| *count)
        .expect("成都 districts have seats");
    let matching = search.nearby(point, 3000.0, 100, wanted, when, |hits| hits.len());
    println!(
        "busy point {:.6},{:.6}: {within} stations within 3 km, {matching} with water and charging open now",
        point.lat, point.lng
    );

    // The same points in Redis.
    let key = format!("gongyou-bench:stations:{}", std::process::id());
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    let mut conn = client.get_connection().unwrap();
    for chunk in stations.chunks(5000) {
        let mut cmd = redis::cmd("GEOADD");
        cmd.arg(&key);
        for s in chunk {
            cmd.arg(s.lng).arg(s.lat).arg(&s.id);
        }
        cmd.query::<()>(&mut conn).unwrap();
    }
    let in_redis: usize = redis::cmd("ZCARD").arg(&key).query(&mut conn).unwrap();
    println!("{in_redis} points in Redis under {key}");

    // The server, release build, on its own port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Killer(
        Command::new(&binary)
            .arg("serve")
            .env("GONGYOU_DATA_DIR", data.path())
            .env("GONGYOU_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("GONGYOU_LOG", "warn")
            // wrk from one address measures the index, not the per-network search limit.
            .env("GONGYOU_SEARCH_RATE_PER_MINUTE", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |url: String| {
        let http = http.clone();
        runtime
            .block_on(async move { http.get(url).send().await?.error_for_status()?.text().await })
    };
    let ready = Instant::now();
    while get(format!("{base}/healthz")).is_err() {
        assert!(
            ready.elapsed() < Duration::from_secs(120),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let nearby = format!(
        "{base}/api/v1/stations/nearby?lat={}&lng={}&radius_m=3000&limit=20&amenities=drinking_water,phone_charging&open_now=true",
        point.lat, point.lng
    );
    let sample: serde_json::Value = serde_json::from_str(&get(nearby.clone()).unwrap()).unwrap();
    let answered = sample["items"].as_array().map_or(0, Vec::len);
    println!("the nearby query answers {answered} stations");
    let rss = vm_rss_mb(server.0.id());

    // (a), (b), (c), back to back.
    let (a, a_p99, _) = wrk(&nearby, seconds);
    let redis_host = client.get_connection_info().addr().to_string();
    let (host, redis_port) = redis_host
        .rsplit_once(':')
        .map(|(h, p)| (h.to_owned(), p.to_owned()))
        .unwrap_or(("127.0.0.1".into(), "6379".into()));
    let bench = Command::new("redis-benchmark")
        .args([
            "-h",
            &host,
            "-p",
            &redis_port,
            "-c",
            "64",
            "-n",
            "200000",
            "-q",
        ])
        .args([
            "GEOSEARCH",
            &key,
            "FROMLONLAT",
            &point.lng.to_string(),
            &point.lat.to_string(),
            "BYRADIUS",
            "3",
            "km",
            "ASC",
            "COUNT",
            "20",
        ])
        .output()
        .expect("redis-benchmark installed (apt-get install redis-tools)");
    let bench_text = String::from_utf8_lossy(&bench.stdout).to_string();
    let b: f64 = bench_text
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(3)
        .find(|w| w[1] == "requests" && w[2].starts_with("per"))
        .and_then(|w| w[0].parse().ok())
        .unwrap_or_else(|| panic!("no rate from redis-benchmark:\n{bench_text}"));
    let (c, c_p99, _) = wrk(&format!("{base}/healthz"), seconds);
    redis::cmd("DEL").arg(&key).query::<()>(&mut conn).unwrap();
    drop(server);

    println!();
    println!("stations                         {n}");
    println!("index (estimate)                 {index_mb:.1} MB (target ≤ 100 MB); server RSS after start {rss:.0} MB");
    println!(
        "(a) nearby, wrk -t2 -c64 -d{seconds}s    {a:.0} req/s, p99 {a_p99:.2} ms (target ≤ 10 ms)"
    );
    println!("(b) redis-benchmark GEOSEARCH    {b:.0} req/s");
    println!("(c) /healthz, wrk -t2 -c64 -d{seconds}s  {c:.0} req/s, p99 {c_p99:.2} ms");
    println!(
        "(a)/(b) = {:.2}× (target ≥ 3×); (a)/(c) = {:.0} % (target ≥ 30 %)",
        a / b,
        100.0 * a / c
    );
}
