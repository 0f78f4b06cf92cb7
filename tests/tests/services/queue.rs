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
