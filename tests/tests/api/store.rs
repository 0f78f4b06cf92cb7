//! The storage pieces under the API, on this run's backends: the write-transaction helper
//! under contention, and the key/value store (Redis in the PostgreSQL pass, in-process
//! otherwise).

use std::time::Duration;

use chrono::Duration as Span;
use gongyou_db::idempotency::{self, Begin, Lifetimes};
use gongyou_db::kv::{Rate, RateDecision};
use gongyou_domain::clock::Clock;
use gongyou_tests::spawn_app;

#[tokio::test]
async fn concurrent_read_then_write_transactions_all_succeed() {
    let app = spawn_app().await;
    let now = app.state.clock.now();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let db = app.state.db.clone();
        // Half on one shared key (exactly one may proceed), half on keys of their own.
        let key = if i % 2 == 0 {
            "shared".to_owned()
        } else {
            format!("own-{i}")
        };
        tasks.push(tokio::spawn(async move {
            db.run(move |conn| {
                idempotency::begin(conn, "caller", &key, "h", now, Lifetimes::default())
            })
            .await
        }));
    }
    let mut proceeded_shared = 0;
    let mut in_flight = 0;
    for (i, task) in tasks.into_iter().enumerate() {
        let outcome = task.await.unwrap().expect("no SQLITE_BUSY, no deadlock");
        match (i % 2, outcome) {
            (0, Begin::Proceed) => proceeded_shared += 1,
            (0, Begin::InFlight) => in_flight += 1,
            (1, Begin::Proceed) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(proceeded_shared, 1);
    assert_eq!(in_flight, 7);
}

#[tokio::test]
async fn values_expire_by_the_application_clock() {
    let app = spawn_app().await;
    let kv = &app.state.kv;
    kv.set("code:13800000000", "123456", Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(
        kv.get("code:13800000000").await.unwrap().as_deref(),
        Some("123456")
    );
    assert!(!kv
        .set_if_absent("code:13800000000", "x", Duration::from_secs(300))
        .await
        .unwrap());
    app.clock.advance(Span::seconds(299));
    assert!(kv.get("code:13800000000").await.unwrap().is_some());
    app.clock.advance(Span::seconds(2));
    assert_eq!(kv.get("code:13800000000").await.unwrap(), None);
    // An expired value no longer blocks a lock.
    assert!(kv
        .set_if_absent("code:13800000000", "new", Duration::from_secs(30))
        .await
        .unwrap());
    assert!(kv.delete("code:13800000000").await.unwrap());
    assert!(!kv.delete("code:13800000000").await.unwrap());
    assert_eq!(kv.get("never-set").await.unwrap(), None);
}

#[tokio::test]
async fn counters_count_per_window() {
    let app = spawn_app().await;
    let kv = &app.state.kv;
    let day = Duration::from_secs(86_400);
    let (first, ends) = kv.incr_in_window("sms:day:13800000000", day).await.unwrap();
    let (second, _) = kv.incr_in_window("sms:day:13800000000", day).await.unwrap();
    assert_eq!((first, second), (1, 2));
    assert!(ends > app.clock.now() && ends <= app.clock.now() + Span::days(1));
    app.clock.set(ends);
    let (next_window, _) = kv.incr_in_window("sms:day:13800000000", day).await.unwrap();
    assert_eq!(next_window, 1);
}

#[tokio::test]
async fn rate_limits_allow_a_burst_then_say_when_to_retry() {
    let app = spawn_app().await;
    let kv = &app.state.kv;
    let rate = Rate::per_hour(20);
    for i in 0..20 {
        assert_eq!(
            kv.rate_limit("ip:10.0.0.1", rate).await.unwrap(),
            RateDecision::Allowed,
            "#{i}"
        );
    }
    let RateDecision::Limited { retry_after } = kv.rate_limit("ip:10.0.0.1", rate).await.unwrap()
    else {
        panic!("the 21st within the hour must be limited");
    };
    assert_eq!(
        retry_after,
        Duration::from_secs(180),
        "one slot frees every 3 minutes"
    );
    // Another bucket is unaffected.
    assert_eq!(
        kv.rate_limit("ip:10.0.0.2", rate).await.unwrap(),
        RateDecision::Allowed
    );
    app.clock.advance(Span::seconds(180));
    assert_eq!(
        kv.rate_limit("ip:10.0.0.1", rate).await.unwrap(),
        RateDecision::Allowed
    );
    assert!(matches!(
        kv.rate_limit("ip:10.0.0.1", rate).await.unwrap(),
        RateDecision::Limited { .. }
    ));
}

#[tokio::test]
async fn published_messages_reach_subscribers() {
    let app = spawn_app().await;
    let kv = &app.state.kv;
    let mut first = kv.subscribe("stations.changed").await.unwrap();
    let mut second = kv.subscribe("stations.changed").await.unwrap();
    let mut other = kv.subscribe("plans.changed").await.unwrap();
    kv.publish("stations.changed", "station-42").await.unwrap();
    let wait = Duration::from_secs(5);
    assert_eq!(
        tokio::time::timeout(wait, first.recv())
            .await
            .unwrap()
            .unwrap(),
        "station-42"
    );
    assert_eq!(
        tokio::time::timeout(wait, second.recv())
            .await
            .unwrap()
            .unwrap(),
        "station-42"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(200), other.recv())
            .await
            .is_err()
    );
}
