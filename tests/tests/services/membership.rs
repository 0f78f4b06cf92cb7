//! Membership use-cases: the auto-approval job's outcomes, the lifecycle's state machine,
//! transfers cancelled by withdrawal, and decisions scoped by the acting admin.

use gongyou_db::jobs as store;
use gongyou_domain::status::JobStatus;
use gongyou_services::membership::{
    self, AutoApproval, AutoApprove, MembershipSettings, NewApplication, TransferRequest,
    WithdrawalRequest,
};
use gongyou_services::{Actor, Kind, ServiceError};
use gongyou_tests::services::TestServices;
use gongyou_tests::session::{application, id_number};

fn form(id: &str, region: &str) -> NewApplication {
    serde_json::from_value(application(id, region)).unwrap()
}

fn expect_err<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> ServiceError {
    result.expect_err("the use-case refuses")
}

/// Turns auto-approval on (or off) for the union that applications from `region` reach.
async fn auto_approve(s: &TestServices, admin: &Actor, org_id: &str, on: bool) {
    let settings = MembershipSettings {
        auto_approve: on,
        routes: Vec::new(),
    };
    membership::put_settings(&s.ctx, admin, org_id.to_owned(), settings)
        .await
        .unwrap();
}

async fn auto_approve_jobs(s: &TestServices) -> Vec<store::JobRow> {
    s.ctx
        .db
        .run(|conn| store::list(conn, None, None, 100))
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.name == "membership.auto_approve")
        .collect()
}

#[tokio::test]
async fn auto_approval_approves_skips_what_is_decided_and_declines_what_a_rule_refuses() {
    let s = TestServices::start().await;
    let admin = s.staff("demo-sichuan-admin").await;

    // Where 锦江 applications go, with auto-approval off: nothing is queued.
    let first = s.user("13100000101").await;
    let pending = membership::apply(
        &s.ctx,
        &first,
        form(&id_number("510104", "19900101", "011"), "510104"),
    )
    .await
    .unwrap();
    assert_eq!(pending.status, "pending");
    assert!(auto_approve_jobs(&s).await.is_empty());
    auto_approve(&s, &admin, &pending.org.id, true).await;

    // With it on, the submission queues the job, and the job approves.
    let rider = s.user("13100000102").await;
    let applied = membership::apply(
        &s.ctx,
        &rider,
        form(&id_number("510104", "19900101", "021"), "510104"),
    )
    .await
    .unwrap();
    assert_eq!(applied.status, "pending", "every submission answers alike");
    let job = AutoApprove {
        application_id: applied.id.clone(),
    };
    assert_eq!(
        membership::auto_approve(&s.ctx, job.clone()).await.unwrap(),
        AutoApproval::Approved
    );
    assert_eq!(
        membership::mine(&s.ctx, &rider).await.unwrap().status,
        "active"
    );
    assert_eq!(
        membership::auto_approve(&s.ctx, job).await.unwrap(),
        AutoApproval::Skipped,
        "decided already"
    );
    assert_eq!(
        membership::auto_approve(
            &s.ctx,
            AutoApprove {
                application_id: "no-such-application".into()
            }
        )
        .await
        .unwrap(),
        AutoApproval::Gone
    );

    // D applies (queued); E applies with the same ID number and is flagged for review; an
    // admin approves E. D's job then meets a rule (the identity is in use): declined, and the
    // job is done — a person reviews D — rather than retried or dead.
    let shared = id_number("510104", "19910202", "031");
    let d = s.user("13100000103").await;
    let d_app = membership::apply(&s.ctx, &d, form(&shared, "510104"))
        .await
        .unwrap();
    let e = s.user("13100000104").await;
    let e_app = membership::apply(&s.ctx, &e, form(&shared, "510104"))
        .await
        .unwrap();
    let flagged = membership::applications(&s.ctx, &admin, Some("pending"), Some(true), page())
        .await
        .unwrap();
    assert_eq!(
        flagged
            .items
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        [e_app.id.as_str()],
        "only E is under identity review"
    );
    membership::approve(&s.ctx, &admin, e_app.id.clone())
        .await
        .unwrap();
    assert_eq!(
        membership::auto_approve(
            &s.ctx,
            AutoApprove {
                application_id: d_app.id.clone()
            }
        )
        .await
        .unwrap(),
        AutoApproval::Declined {
            code: "membership.identity_in_use".into()
        }
    );
    // The same through the job runner: the queued job ends done, D stays pending.
    s.drain_jobs().await;
    let d_job = auto_approve_jobs(&s)
        .await
        .into_iter()
        .find(|j| j.payload.contains(&d_app.id))
        .expect("D's job was queued");
    assert_eq!(d_job.status(), Some(JobStatus::Done));
    assert_eq!(
        membership::mine(&s.ctx, &d).await.unwrap().status,
        "pending"
    );
}

fn page() -> gongyou_services::page::PageRequest {
    gongyou_services::page::PageRequest::new(None, None).unwrap()
}

#[tokio::test]
async fn the_lifecycle_follows_its_state_machine_and_records_every_move() {
    let s = TestServices::start().await;
    let admin = s.staff("demo-sichuan-admin").await;
    let rider = s.user("13100000201").await;
    let applied = membership::apply(
        &s.ctx,
        &rider,
        form(&id_number("510105", "19880303", "041"), "510105"),
    )
    .await
    .unwrap();
    let member = membership::approve(&s.ctx, &admin, applied.id.clone())
        .await
        .unwrap();
    let again = expect_err(membership::approve(&s.ctx, &admin, applied.id.clone()).await);
    assert_eq!(
        (again.kind(), again.code()),
        (Kind::Conflict, "membership.application_decided")
    );

    let suspended = membership::suspend(&s.ctx, &admin, member.id.clone(), "违反章程")
        .await
        .unwrap();
    assert_eq!(suspended.status, "suspended");
    let twice =
        expect_err(membership::suspend(&s.ctx, &admin, member.id.clone(), "再次暂停").await);
    assert_eq!(
        (twice.kind(), twice.code()),
        (Kind::Conflict, "membership.wrong_status")
    );
    let blank = expect_err(membership::reinstate(&s.ctx, &admin, member.id.clone(), "  ").await);
    assert_eq!(
        (blank.kind(), blank.code()),
        (Kind::Rule, "membership.reason_required")
    );
    membership::reinstate(&s.ctx, &admin, member.id.clone(), "已核实")
        .await
        .unwrap();

    let left = membership::withdraw(
        &s.ctx,
        &rider,
        WithdrawalRequest {
            reason: Some("换工作".into()),
            delete_personal_data: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(left.status, "withdrawn");
    let final_ =
        expect_err(membership::reinstate(&s.ctx, &admin, member.id.clone(), "想恢复").await);
    assert_eq!(
        (final_.kind(), final_.code()),
        (Kind::Conflict, "membership.wrong_status"),
        "withdrawal is final"
    );

    let detail = membership::member(&s.ctx, &admin, member.id.clone())
        .await
        .unwrap();
    let kinds: Vec<&str> = detail.history.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "application_submitted",
            "approved",
            "suspended",
            "reinstated",
            "withdrawn"
        ]
    );
    assert_eq!(detail.history[2].actor_kind, "staff");
    assert_eq!(detail.history[4].actor_kind, "user");
}

#[tokio::test]
async fn withdrawing_cancels_a_pending_transfer_which_then_cannot_be_decided() {
    let s = TestServices::start().await;
    let admin = s.staff("demo-sichuan-admin").await;
    let rider = s.user("13100000301").await;
    let applied = membership::apply(
        &s.ctx,
        &rider,
        form(&id_number("510104", "19870404", "051"), "510104"),
    )
    .await
    .unwrap();
    membership::approve(&s.ctx, &admin, applied.id)
        .await
        .unwrap();
    let qingyang = membership::apply(
        &s.ctx,
        &s.user("13100000302").await,
        form(&id_number("510105", "19870404", "061"), "510105"),
    )
    .await
    .unwrap()
    .org;
    let transfer = membership::request_transfer(
        &s.ctx,
        &rider,
        TransferRequest {
            to_org_id: qingyang.id.clone(),
            reason: Some("  搬家到青羊区  ".into()),
        },
    )
    .await
    .unwrap();
    assert_eq!(transfer.reason.as_deref(), Some("搬家到青羊区"));
    membership::withdraw(
        &s.ctx,
        &rider,
        WithdrawalRequest {
            reason: None,
            delete_personal_data: false,
        },
    )
    .await
    .unwrap();
    let cancelled = membership::transfers(&s.ctx, &admin, Some("cancelled"), page())
        .await
        .unwrap();
    assert_eq!(cancelled.items.len(), 1);
    assert_eq!(cancelled.items[0].id, transfer.id);
    let late = expect_err(
        membership::decide_transfer(&s.ctx, &admin, transfer.id.clone(), true, None).await,
    );
    assert_eq!(
        (late.kind(), late.code()),
        (Kind::Conflict, "membership.transfer_decided")
    );
    let unknown_status = membership::transfers(&s.ctx, &admin, Some("lost"), page())
        .await
        .unwrap_err();
    assert_eq!(
        (unknown_status.kind(), unknown_status.code()),
        (Kind::Invalid, "request.invalid_query"),
        "a status that does not exist is a malformed query, as the contract's enum says"
    );
}

#[tokio::test]
async fn an_admin_decides_only_within_their_subtree() {
    let s = TestServices::start().await;
    let sichuan = s.staff("demo-sichuan-admin").await;
    let national = s.staff("demo-admin").await;
    let rider = s.user("13100000401").await;
    let applied = membership::apply(
        &s.ctx,
        &rider,
        form(&id_number("440305", "19860505", "071"), "440305"),
    )
    .await
    .unwrap();
    assert_eq!(applied.org.name, "南山区外卖骑手工会");
    let hidden = expect_err(membership::approve(&s.ctx, &sichuan, applied.id.clone()).await);
    assert_eq!(
        (hidden.kind(), hidden.code()),
        (Kind::NotFound, "membership.application_not_found"),
        "outside the subtree is not theirs to know of"
    );
    let worker_tries = expect_err(membership::approve(&s.ctx, &rider, applied.id.clone()).await);
    assert_eq!(
        (worker_tries.kind(), worker_tries.code()),
        (Kind::Forbidden, "auth.staff_only")
    );
    let approved = membership::approve(&s.ctx, &national, applied.id)
        .await
        .unwrap();
    assert_eq!(approved.status, "active");
    assert!(approved.card_number.starts_with("440305"));
}
