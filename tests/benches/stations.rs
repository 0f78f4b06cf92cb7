//! The station search benchmark: 150,000 stations (`gongyou seed --stations`, a realistic
//! national set), searched around many busy points at two pinned instants, with three load
//! runs per instant back to back on the same machine, so the figures compare as ratios (the
//! machine is shared and noisy):
//!
//! (a) `wrk -t2 -c64` on `GET /api/v1/stations/nearby` (3 km, limit 20, two amenities,
//!     open now) of the release build, cycling through the points;
//! (b) `redis-benchmark -c 64 GEOSEARCH … FROMMEMBER <point> BYRADIUS 3 km ASC COUNT 20`
//!     over the same stations and the same points loaded into Redis (each point checked to
//!     answer stations first), run once just before (a) and once just after it: the
//!     ratio is against the mean of the two, which bracket (a) (Redis alone moved from
//!     14,000 to 27,000 req/s between runs on this machine);
//! (c) `wrk -t2 -c64` on the same server's `/healthz`, through the same script and the same
//!     points (as an ignored query), so both wrk runs pay the same client cost;
//! (d) the same on the console file nearest in size to the instant's mean answer (embedded,
//!     sent from memory through the same middleware): what an answer of that size costs
//!     this server and this client with no search at all, the ceiling for (a).
//!
//! The points are the `GONGYOU_BENCH_POINTS` (1,000) county-level seats with the most
//! stations within 3 km, in a shuffled order fixed by a seed: a query's few hundred
//! candidates do not stay in the CPU cache from one request to the next, as they would with
//! one point.
//!
//! The server's "now" for `open_now` is pinned (`GONGYOU_STATION_SEARCH_DEV_NOW`): Wednesday
//! 2026-12-02 at 14:00 and at 03:00 Asia/Shanghai. At night few stations are open, so a
//! search visits every candidate within the radius: the hard case, and the one night-shift
//! riders meet.
//!
//! Memory: the resident size (VmRSS, and its peak VmHWM) of a serve process with the
//! stations against one on an empty database, both after start and after the load runs.
//!
//! Targets, at both instants: (a) ≥ 3× (b) and ≥ 30 % of (c) in requests per second; p99 of
//! (a) ≤ 10 ms; the index of 150,000 stations ≤ 100 MB.
//!
//! Run: `make bench-stations` (builds the release binary; needs `wrk`, `redis-benchmark` and
//! a Redis at `GONGYOU_BENCH_REDIS_URL`, default redis://127.0.0.1:6379).
//! `GONGYOU_BENCH_STATIONS`, `GONGYOU_BENCH_POINTS` and `GONGYOU_BENCH_SECONDS` change the
//! size, the number of points and the duration of each run; `GONGYOU_BENCH_ROUNDS` the
//! passes through the points in process (20), and `GONGYOU_BENCH_IN_PROCESS_ONLY=1` stops
//! after the in-process figures (for profiling the search itself under `perf record`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::zombie_processes
)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gongyou_domain::geo::LatLng;
use gongyou_domain::region::{RegionCode, RegionLevel};
use gongyou_domain::station::AmenitySet;
use gongyou_services::stations::search::{self as use_case, Filters, StationSearch, When};
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// The two instants, Wednesday 2026-12-02 in Asia/Shanghai.
const INSTANTS: [(&str, &str); 2] = [
    ("14:00", "2026-12-02T14:00:00+08:00"),
    ("03:00", "2026-12-02T03:00:00+08:00"),
];
const SEED: u64 = 18;
const AMENITIES: &str = "drinking_water,phone_charging";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `gongyou serve` on `data`, its search clock pinned to `now`, once `/healthz` answers.
    fn start(binary: &Path, data: &Path, now: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg("serve")
            .env("GONGYOU_DATA_DIR", data)
            .env("GONGYOU_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("GONGYOU_LOG", "warn")
            .env("GONGYOU_STATION_SEARCH_DEV_NOW", now)
            // wrk from one address measures the index, not the per-network search limit.
            .env("GONGYOU_SEARCH_RATE_PER_MINUTE", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while get(&format!("{}/readyz", server.base)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// (VmRSS, VmHWM) in MB.
    fn memory_mb(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(0.0, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

/// A blocking GET's body, or an error for a failure or a non-2xx status.
fn get(url: &str) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--noproxy", "*", "--max-time", "5", url])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
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

/// A wrk Lua script that cycles through `paths`, each thread from its own offset. The
/// requests are formatted once per thread (`init`), so a request costs wrk a table lookup,
/// not a `wrk.format`: the client's share of the two cores stays as small as with a fixed
/// URL.
fn wrk_script(dir: &Path, name: &str, paths: &[String]) -> std::path::PathBuf {
    let mut lua = String::from("local paths = {\n");
    for p in paths {
        lua.push_str(&format!("  \"{p}\",\n"));
    }
    lua.push_str(
        "}\nlocal threads = 0\n\
         function setup(thread)\n  thread:set(\"offset\", threads * 499)\n  threads = threads + 1\nend\n\
         function init(args)\n  requests = {}\n  for k, p in ipairs(paths) do requests[k] = wrk.format(nil, p) end\n  i = offset or 0\nend\n\
         function request()\n  i = i % #requests + 1\n  return requests[i]\nend\n",
    );
    let path = dir.join(name);
    std::fs::write(&path, lua).unwrap();
    path
}

fn wrk(base: &str, script: &Path, seconds: u64) -> (f64, f64) {
    let out = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(base)
        .output()
        .expect("wrk installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!text.contains("Non-2xx"), "errors under load:\n{text}");
    assert!(
        !text.contains("Socket errors"),
        "socket errors under load:\n{text}"
    );
    let rate = number_after(&text, "Requests/sec:").unwrap_or_else(|| panic!("no rate:\n{text}"));
    let p99 = p99_ms(&text).unwrap_or_else(|| panic!("no p99:\n{text}"));
    (rate, p99)
}

/// The minimum, median and maximum.
fn spread(mut v: Vec<usize>) -> (usize, usize, usize) {
    v.sort_unstable();
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

struct Figures {
    label: &'static str,
    a: f64,
    a_p99: f64,
    /// Redis's rate: the mean of a run just before (a) and one just after it, which
    /// bracket (a) (between runs Redis alone moved from 14,000 to 27,000 req/s).
    b: f64,
    b_runs: (f64, f64),
    c: f64,
    c_p99: f64,
    /// The mean answer's size, the asset sent for (d), its size and its rate.
    answer_bytes: usize,
    d: (String, usize, f64),
    matching: (usize, usize, usize),
    memory: (f64, f64),
}

/// The whole answer in process, as the server's route asks for it (a).
fn answer(search: &StationSearch, p: LatLng, at: DateTime<Utc>) -> Vec<u8> {
    let near = use_case::Near {
        lat: p.lat,
        lng: p.lng,
        coord: None,
        radius_m: Some(3000),
        limit: Some(20),
    };
    let wanted = use_case::Wanted {
        amenities: Some(AMENITIES),
        kind: None,
        open_now: Some(true),
    };
    use_case::nearby(search, &near, &wanted, at).unwrap()
}

/// In process, one core: µs per search of the index alone, and per whole answer (search
/// and JSON), over `rounds` passes through the points at `at`.
fn in_process(
    search: &StationSearch,
    points: &[LatLng],
    wanted: Filters,
    at: DateTime<Utc>,
    rounds: usize,
) -> (f64, f64) {
    let when = When::new(at);
    // One pass untimed, as the full run's check of the answers does: the open windows
    // cached, as a server's are after its first searches.
    for p in points {
        std::hint::black_box(search.nearby(*p, 3000.0, 20, wanted, when, |h| h.len()));
    }
    let started = Instant::now();
    for _ in 0..rounds {
        for p in points {
            std::hint::black_box(search.nearby(*p, 3000.0, 20, wanted, when, |h| h.len()));
        }
    }
    let search_us = started.elapsed().as_secs_f64() * 1e6 / (rounds * points.len()) as f64;
    let started = Instant::now();
    for _ in 0..rounds {
        for p in points {
            std::hint::black_box(answer(search, *p, at));
        }
    }
    let answer_us = started.elapsed().as_secs_f64() * 1e6 / (rounds * points.len()) as f64;
    (search_us, answer_us)
}

fn main() {
    let n: usize = env("GONGYOU_BENCH_STATIONS").map_or(150_000, |v| v.parse().unwrap());
    let points_wanted: usize = env("GONGYOU_BENCH_POINTS").map_or(1000, |v| v.parse().unwrap());
    let seconds: u64 = env("GONGYOU_BENCH_SECONDS").map_or(20, |v| v.parse().unwrap());
    let redis_url = env("GONGYOU_BENCH_REDIS_URL").unwrap_or("redis://127.0.0.1:6379".into());
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/gongyou");
    assert!(
        binary.exists(),
        "build it first: cargo build --release --bin gongyou"
    );
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("stations");
    let empty = work.path().join("empty");
    let started = Instant::now();
    let seed = |dir: &Path, stations: usize| {
        let out = Command::new(&binary)
            .args(["seed", "--stations", &stations.to_string()])
            .env("GONGYOU_DATA_DIR", dir)
            .env("GONGYOU_DEMO_PASSWORD", "bench-password-2026")
            .env("GONGYOU_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "seed failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    seed(&data, n);
    seed(&empty, 0);
    println!(
        "seeded {n} stations in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The index as a process builds it: its size, and the busiest county-level seats.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = format!("sqlite://{}/gongyou.db", data.display());
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
        let search = StationSearch::load(&db, Utc::now()).await.unwrap();
        println!(
            "index of {} stations built in {:.2} s",
            search.len(),
            started.elapsed().as_secs_f64()
        );
        let stations = db.run(gongyou_db::stations::all).await.unwrap();
        (search, stations)
    });
    let index_mb = search.approx_bytes() as f64 / 1_048_576.0;
    let instants: Vec<(&'static str, DateTime<Utc>, &'static str)> = INSTANTS
        .iter()
        .map(|(label, at)| {
            (
                *label,
                DateTime::parse_from_rfc3339(at)
                    .unwrap()
                    .with_timezone(&Utc),
                *at,
            )
        })
        .collect();
    let all = Filters {
        amenities: AmenitySet::default(),
        kind: None,
        open_now: false,
    };
    let wanted = Filters {
        amenities: AmenitySet::parse_list(AMENITIES).unwrap(),
        kind: None,
        open_now: true,
    };
    let when = When::new(instants[0].1);
    let mut seats: Vec<(LatLng, usize)> = RegionCode::all()
        .filter(|r| r.level == RegionLevel::County)
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
        .collect();
    seats.sort_by(|x, y| {
        y.1.cmp(&x.1)
            .then(x.0.lat.total_cmp(&y.0.lat))
            .then(x.0.lng.total_cmp(&y.0.lng))
    });
    seats.truncate(points_wanted);
    seats.shuffle(&mut rand::rngs::StdRng::seed_from_u64(SEED));
    let points: Vec<LatLng> = seats.iter().map(|(p, _)| *p).collect();
    let (lo, mid, hi) = spread(seats.iter().map(|(_, c)| *c).collect());
    println!(
        "{} points (county-level seats with the most stations near): {lo} / {mid} / {hi} stations within 3 km (min / median / max)",
        points.len()
    );
    assert!(lo > 0, "every point has stations within 3 km");
    let rounds: usize = env("GONGYOU_BENCH_ROUNDS").map_or(20, |v| v.parse().unwrap());
    if env("GONGYOU_BENCH_IN_PROCESS_ONLY").as_deref() == Some("1") {
        for (label, at, _) in &instants {
            let (search_us, answer_us) = in_process(&search, &points, wanted, *at, rounds);
            println!("{label}: in process, {search_us:.1} µs a search, {answer_us:.1} µs a whole answer (search and JSON)");
        }
        return;
    }

    // The stations and the points in Redis; each point must find stations there too.
    let key = format!("gongyou-bench:stations:{}", std::process::id());
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    // redis-benchmark is given a host and a port only, so the URL must say no more.
    let info = client.get_connection_info();
    assert!(
        info.redis_settings().db() == 0
            && info.redis_settings().password().is_none()
            && matches!(info.addr(), redis::ConnectionAddr::Tcp(..)),
        "GONGYOU_BENCH_REDIS_URL must be plain TCP, database 0, no password"
    );
    let mut conn = client.get_connection().unwrap();
    for chunk in stations.chunks(5000) {
        let mut cmd = redis::cmd("GEOADD");
        cmd.arg(&key);
        for s in chunk {
            cmd.arg(s.lng).arg(s.lat).arg(&s.id);
        }
        cmd.query::<()>(&mut conn).unwrap();
    }
    let member = |i: usize| format!("seat:{i:012}");
    let mut cmd = redis::cmd("GEOADD");
    cmd.arg(&key);
    for (i, p) in points.iter().enumerate() {
        cmd.arg(p.lng).arg(p.lat).arg(member(i));
    }
    cmd.query::<()>(&mut conn).unwrap();
    let mut found = Vec::with_capacity(points.len());
    for i in 0..points.len() {
        let answer: Vec<String> = redis::cmd("GEOSEARCH")
            .arg(&key)
            .arg("FROMMEMBER")
            .arg(member(i))
            .arg("BYRADIUS")
            .arg(3)
            .arg("km")
            .arg("ASC")
            .arg("COUNT")
            .arg(20)
            .query(&mut conn)
            .unwrap();
        found.push(answer.iter().filter(|m| !m.starts_with("seat:")).count());
    }
    let (r_lo, r_mid, r_hi) = spread(found);
    println!(
        "Redis: {} members under {key}; GEOSEARCH from each point finds {r_lo} / {r_mid} / {r_hi} stations (min / median / max, COUNT 20)",
        stations.len() + points.len()
    );
    assert!(r_lo > 0, "Redis answers stations for every point");
    let (host, redis_port) = client
        .get_connection_info()
        .addr()
        .to_string()
        .rsplit_once(':')
        .map(|(h, p)| (h.to_owned(), p.to_owned()))
        .unwrap_or(("127.0.0.1".into(), "6379".into()));
    let requests = (seconds * 10_000).to_string();
    let redis_run = || {
        let out = Command::new("redis-benchmark")
            .args(["-h", &host, "-p", &redis_port, "-c", "64", "-n", &requests])
            .args(["-r", &points.len().to_string(), "-q", "-e"])
            .args([
                "GEOSEARCH",
                &key,
                "FROMMEMBER",
                "seat:__rand_int__",
                "BYRADIUS",
                "3",
                "km",
                "ASC",
                "COUNT",
                "20",
            ])
            .output()
            .expect("redis-benchmark installed (apt-get install redis-tools)");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            !text.contains("Error from server"),
            "Redis answered errors:\n{text}"
        );
        text.split_whitespace()
            .collect::<Vec<_>>()
            .windows(3)
            .find(|w| w[1] == "requests" && w[2].starts_with("per"))
            .and_then(|w| w[0].parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no rate from redis-benchmark:\n{text}"))
    };

    let nearby_paths: Vec<String> = points
        .iter()
        .map(|p| {
            format!(
                "/api/v1/stations/nearby?lat={:.6}&lng={:.6}&radius_m=3000&limit=20&amenities={AMENITIES}&open_now=true",
                p.lat, p.lng
            )
        })
        .collect();
    let health_paths: Vec<String> = points
        .iter()
        .map(|p| format!("/healthz?lat={:.6}&lng={:.6}", p.lat, p.lng))
        .collect();
    let nearby_script = wrk_script(work.path(), "nearby.lua", &nearby_paths);
    let health_script = wrk_script(work.path(), "healthz.lua", &health_paths);

    // Memory: a server on an empty database, then each instant's server with the stations.
    let baseline = Server::start(&binary, &empty, instants[0].2);
    let base_start = baseline.memory_mb();
    wrk(&baseline.base, &health_script, seconds.min(5));
    let base_after = baseline.memory_mb();
    drop(baseline);

    // The console's files (embedded in the binary): index.html and its assets, by size.
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../console/dist");
    let mut assets: Vec<(String, usize)> = vec![(
        "index.html".to_owned(),
        std::fs::metadata(dist.join("index.html")).unwrap().len() as usize,
    )];
    for file in std::fs::read_dir(dist.join("assets")).unwrap() {
        let file = file.unwrap();
        let name = file.file_name().to_string_lossy().to_string();
        assets.push((
            format!("assets/{name}"),
            file.metadata().unwrap().len() as usize,
        ));
    }

    let mut figures = Vec::new();
    for (label, at, pinned) in &instants {
        let when = When::new(*at);
        let matching: Vec<usize> = points
            .iter()
            .map(|p| search.nearby(*p, 3000.0, 100, wanted, when, |hits| hits.len()))
            .collect();
        let (search_us, answer_us) = in_process(&search, &points, wanted, *at, rounds);
        println!("{label}: in process, {search_us:.1} µs a search, {answer_us:.1} µs a whole answer (search and JSON)");
        // (d): the console file nearest in size to this instant's mean answer, sent from
        // memory by the same server through the same middleware, with the same script
        // shape: what any answer of that size costs with no search at all.
        let answer_bytes = points
            .iter()
            .map(|p| answer(&search, *p, *at).len())
            .sum::<usize>()
            / points.len();
        let (asset, asset_bytes) = assets
            .iter()
            .min_by_key(|(_, size)| size.abs_diff(answer_bytes))
            .cloned()
            .unwrap();
        let asset_paths: Vec<String> = points
            .iter()
            .map(|p| format!("/console/{asset}?lat={:.6}&lng={:.6}", p.lat, p.lng))
            .collect();
        let asset_script = wrk_script(work.path(), "asset.lua", &asset_paths);
        let server = Server::start(&binary, &data, pinned);
        let memory_start = server.memory_mb();
        let served = Command::new("curl")
            .args(["-sS", "--fail", "--noproxy", "*", "-o", "/dev/null"])
            .args(["-w", "%{size_download}"])
            .arg(format!("{}{}", server.base, asset_paths[0]))
            .output()
            .unwrap();
        let served: usize = String::from_utf8_lossy(&served.stdout).parse().unwrap();
        assert_eq!(served, asset_bytes, "{asset} served whole");
        // The server answers as the in-process index does, at the pinned instant.
        for (path, want) in nearby_paths.iter().zip(&matching).take(20) {
            let answer: serde_json::Value =
                serde_json::from_str(&get(&format!("{}{path}", server.base)).unwrap()).unwrap();
            let items = answer["items"].as_array().unwrap();
            assert_eq!(items.len(), (*want).min(20), "{path}");
            assert!(items.iter().all(|i| i["open_now"] == true), "{path}");
        }
        let b_before = redis_run();
        let (a, a_p99) = wrk(&server.base, &nearby_script, seconds);
        let b_after = redis_run();
        let b = (b_before + b_after) / 2.0;
        let (c, c_p99) = wrk(&server.base, &health_script, seconds);
        let d = wrk(&server.base, &asset_script, seconds).0;
        let memory = server.memory_mb();
        drop(server);
        println!(
            "{label}: (a) {a:.0} req/s p99 {a_p99:.2} ms; (b) {b:.0} req/s ({b_before:.0} before (a), {b_after:.0} after); (c) {c:.0} req/s p99 {c_p99:.2} ms; RSS {:.0} MB after start, {:.0} MB after the runs (peak {:.0})",
            memory_start.0, memory.0, memory.1
        );
        figures.push(Figures {
            label,
            a,
            a_p99,
            b,
            b_runs: (b_before, b_after),
            c,
            c_p99,
            answer_bytes,
            d: (asset, asset_bytes, d),
            matching: spread(matching),
            memory: (memory_start.0, memory.0),
        });
    }
    redis::cmd("DEL").arg(&key).query::<()>(&mut conn).unwrap();

    println!();
    println!(
        "stations {n}; points {} ({lo} / {mid} / {hi} stations within 3 km, min / median / max)",
        points.len()
    );
    println!("index estimate {index_mb:.1} MB (target ≤ 100 MB)");
    println!(
        "server RSS, empty database: {:.0} MB after start, {:.0} MB after a /healthz run (peak {:.0} MB)",
        base_start.0, base_after.0, base_after.1
    );
    for f in &figures {
        let (m_lo, m_mid, m_hi) = f.matching;
        println!();
        println!(
            "Wednesday 2026-12-02 {} Asia/Shanghai: {m_lo} / {m_mid} / {m_hi} stations with water and charging open within 3 km",
            f.label
        );
        println!(
            "  index in RSS: {:.0} MB after start, {:.0} MB after the runs (server with stations − empty server; target ≤ 100 MB)",
            f.memory.0 - base_start.0,
            f.memory.1 - base_after.0
        );
        println!(
            "  (a) nearby, wrk -t2 -c64 -d{seconds}s    {:.0} req/s, p99 {:.2} ms (target ≤ 10 ms)",
            f.a, f.a_p99
        );
        println!(
            "  (b) redis-benchmark GEOSEARCH    {:.0} req/s (mean of {:.0} just before (a) and {:.0} just after it)",
            f.b, f.b_runs.0, f.b_runs.1
        );
        println!(
            "  (c) /healthz, wrk -t2 -c64 -d{seconds}s  {:.0} req/s, p99 {:.2} ms",
            f.c, f.c_p99
        );
        let (asset, asset_bytes, d) = &f.d;
        println!(
            "  (d) a {asset_bytes}-byte console file ({asset}), wrk -t2 -c64 -d{seconds}s  {d:.0} req/s (the mean answer is {} bytes)",
            f.answer_bytes
        );
        println!(
            "  (a)/(b) = {:.2}× (target ≥ 3×); (a)/(c) = {:.0} % (target ≥ 30 %); (a)/(d) = {:.0} %; 3 × (b) = {:.0} % of (d)",
            f.a / f.b,
            100.0 * f.a / f.c,
            100.0 * f.a / d,
            300.0 * f.b / d
        );
    }
}
