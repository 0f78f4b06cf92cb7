//! Operators' queue use-cases and the job runner's reading of a use-case's error.

use gongyou_db::jobs::{self as store, NewJob};
use gongyou_domain::status::JobStatus;
use gongyou_services::page::PageRequest;
use gongyou_services::{queue, Kind};
use gongyou_tests::services::TestServices;

async fn enqueue(s: &TestServices, name: &str, max_attempts: i32) -> String {
    let now = s.ctx.now().naive_utc();
    let job = NewJob {
        name: name.into(),
        queue: "default".into(),
        priority: 0,
        dedup_key: None,
        payload: "{}".into(),
        max_attempts,
        run_at: now,
    };
    s.ctx
        .db
        .run(move |conn| store::enqueue(conn, &job, now))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn only_dead_or_failed_jobs_are_retried_and_only_by_national_operators() {
    let s = TestServices::start().await;
    let operator = s.staff("demo-admin").await;
    let provincial = s.staff("demo-sichuan-admin").await;
    // No handler is registered for it: the runner kills it at once.
    let dead = enqueue(&s, "no.such.job", 3).await;
    s.drain_jobs().await;
    let listed = queue::list(
        &s.ctx,
        &operator,
        Some("dead"),
        PageRequest::new(None, None).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|j| j.id.as_str())
            .collect::<Vec<_>>(),
        [dead.as_str()]
    );

    let refused = queue::retry(&s.ctx, &provincial, dead.clone())
        .await
        .unwrap_err();
    assert_eq!(
        (refused.kind(), refused.code()),
        (Kind::Forbidden, "auth.role_required")
    );
    let retried = queue::retry(&s.ctx, &operator, dead.clone()).await.unwrap();
    assert_eq!((retried.status.as_str(), retried.attempts), ("queued", 0));
    let queued_again = queue::retry(&s.ctx, &operator, dead).await.unwrap_err();
    assert_eq!(
        (queued_again.kind(), queued_again.code()),
        (Kind::Conflict, "job.not_retryable")
    );

    let bad_status = queue::list(
        &s.ctx,
        &operator,
        Some("sleeping"),
        PageRequest::new(None, None).unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (bad_status.kind(), bad_status.code()),
        (Kind::Invalid, "request.invalid_query")
    );
    let statuses: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
    for status in statuses {
        queue::list(
            &s.ctx,
            &operator,
            Some(status),
            PageRequest::new(None, None).unwrap(),
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_typed_job_whose_payload_does_not_parse_is_dead_at_once() {
    let s = TestServices::start().await;
    let now = s.ctx.now().naive_utc();
    let job = NewJob {
        name: "membership.auto_approve".into(),
        queue: "default".into(),
        priority: 0,
        dedup_key: None,
        payload: r#"{"application":"missing field"}"#.into(),
        max_attempts: 5,
        run_at: now,
    };
    let id = s
        .ctx
        .db
        .run(move |conn| store::enqueue(conn, &job, now))
        .await
        .unwrap()
        .unwrap();
    s.drain_jobs().await;
    let row = s
        .ctx
        .db
        .run(move |conn| store::get(conn, &id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.status(), row.attempts), (Some(JobStatus::Dead), 1));
    assert!(row
        .last_error
        .unwrap()
        .contains("unreadable membership.auto_approve payload"));
}

fn job(name: &str, dedup_key: Option<&str>, now: chrono::NaiveDateTime) -> NewJob {
    NewJob {
        name: name.into(),
        queue: "default".into(),
        priority: 0,
        dedup_key: dedup_key.map(str::to_owned),
        payload: "{}".into(),
        max_attempts: 3,
        run_at: now,
    }
}

/// Two transactions enqueue the same deduplicated job at once: the second one's insert
/// loses to the first on the dedup index, and its transaction still commits what else it
/// wrote (on PostgreSQL a failed insert aborts the transaction unless it ran in a savepoint,
/// and the COMMIT then silently rolls everything back: the multi-replica test found it).
#[tokio::test]
async fn a_lost_dedup_race_keeps_the_rest_of_the_transaction() {
    use std::sync::mpsc;
    use std::time::Duration;
    let s = TestServices::start().await;
    let now = s.ctx.now().naive_utc();
    let (inserted_tx, inserted_rx) = mpsc::channel::<()>();
    let first = s.ctx.db.run(move |conn| {
        gongyou_db::write_tx(
            conn,
            |conn| -> Result<Option<String>, gongyou_db::DbError> {
                let id = store::enqueue(conn, &job("race.job", Some("race:1"), now), now)?;
                inserted_tx.send(()).ok();
                // Hold the transaction open while the other one tries.
                std::thread::sleep(Duration::from_millis(500));
                Ok(id)
            },
        )
    });
    let second = s.ctx.db.run(move |conn| {
        inserted_rx.recv().ok();
        gongyou_db::write_tx(conn, |conn| -> Result<_, gongyou_db::DbError> {
            let other = store::enqueue(conn, &job("race.other", None, now), now)?;
            let dup = store::enqueue(conn, &job("race.job", Some("race:1"), now), now)?;
            Ok((other, dup))
        })
    });
    let (first, second) = tokio::join!(first, second);
    let first = first.unwrap();
    let (other, dup) = second.unwrap();
    assert!(first.is_some());
    assert_eq!(dup, None, "the second enqueue of the same key is a no-op");
    let other = other.unwrap();
    // Both transactions committed: the first job and the other one exist.
    let ids = s
        .ctx
        .db
        .run(move |conn| -> Result<_, gongyou_db::DbError> {
            Ok((
                store::get(conn, &first.unwrap())?,
                store::get(conn, &other)?,
            ))
        })
        .await
        .unwrap();
    assert!(ids.0.is_some(), "the first job is there");
    assert!(
        ids.1.is_some(),
        "the second transaction's other job is there"
    );
}
