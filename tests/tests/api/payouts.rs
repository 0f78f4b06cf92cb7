//! Payouts, end to end over HTTP against the fake WeChat Pay (a real HTTP server that signs,
//! encrypts and calls back like the documented API): a batch built by one finance approver
//! and approved by another is sent, confirmed by the rider and paid once; a timeout is
//! queried, not re-sent; a 5xx is re-sent under the same number; a failure and an expiry are
//! re-issued under a new number only once final; callbacks are verified before anything
//! changes and applied once; a bank batch goes out as a GBK file in the union's column order
//! and is settled by the bank's result file.

use std::time::Duration as StdDuration;

use chrono::Duration;
use gongyou_domain::clock::ManualClock;
use gongyou_providers::wechatpay::fake::{CallbackMode, FakeWechatPay, NotificationTweak};
use gongyou_tests::fakes::wechatpay;
use gongyou_tests::session::Session;
use gongyou_tests::spawn_app_on;
use serde_json::{json, Value};

use crate::claims::{body, fixture_on, hospital_claim, inbox_categories, png, Fixture};

pub(crate) struct Pay {
    pub(crate) f: Fixture,
    pub(crate) fake: FakeWechatPay,
}

/// The claims fixture (a published plan, the clock on 2026-04-20) on an app that pays
/// through a fake WeChat Pay sharing its clock.
pub(crate) async fn pay() -> Pay {
    let clock = ManualClock::starting_now();
    let fake = wechatpay::start(&clock).await;
    let app = spawn_app_on(wechatpay::env(&fake), clock).await;
    fake.deliver_callbacks_to(&app.url("/api/v1/webhooks/wechatpay"));
    Pay {
        f: fixture_on(app).await,
        fake,
    }
}

impl Pay {
    /// A claim of `worker` (WeChat payee) approved by demo-reviewer: (claim id, payout id).
    pub(crate) async fn approved(&self, worker: &Session) -> (String, String) {
        let claim = self.f.submitted(worker).await;
        (claim.clone(), self.approve(&claim).await)
    }

    /// Approves a submitted claim; returns its payout's id.
    async fn approve(&self, claim: &str) -> String {
        let reviewer = self.f.staff("demo-reviewer").await;
        let (status, _) = self
            .f
            .post(
                &reviewer,
                &format!("/api/v1/review/claims/{claim}/assign"),
                json!({}),
            )
            .await;
        assert_eq!(status, 200);
        let (status, approved) = self
            .f
            .post(
                &reviewer,
                &format!("/api/v1/review/claims/{claim}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{approved}");
        assert_eq!(approved["status"], "approved", "{approved}");
        let finance = self.f.staff("demo-finance").await;
        let (status, list) = self
            .f
            .get(
                &finance,
                &format!("/api/v1/finance/payouts?claim_id={claim}"),
            )
            .await;
        assert_eq!(status, 200, "{list}");
        list["items"][0]["id"].as_str().unwrap().to_owned()
    }

    async fn create_batch(&self, who: &Session, key: &str, b: Value) -> (u16, Value) {
        body(
            self.f
                .app
                .client
                .post(self.f.app.url("/api/v1/finance/payout-batches"))
                .header("Authorization", who.bearer())
                .header("Idempotency-Key", key)
                .json(&b)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// demo-finance builds a batch of `payouts`, demo-approver approves it; its id.
    pub(crate) async fn approved_batch(&self, channel: &str, payouts: &[&str]) -> String {
        let finance = self.f.staff("demo-finance").await;
        let approver = self.f.staff("demo-approver").await;
        let key = uuid::Uuid::now_v7().to_string();
        let (status, batch) = self
            .create_batch(
                &finance,
                &key,
                json!({"channel": channel, "payout_ids": payouts}),
            )
            .await;
        assert_eq!(status, 201, "{batch}");
        let id = batch["id"].as_str().unwrap().to_owned();
        let (status, approved) = self
            .f
            .post(
                &approver,
                &format!("/api/v1/finance/payout-batches/{id}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{approved}");
        id
    }

    /// Runs every due job (the send job of an approved batch among them).
    pub(crate) async fn run_jobs(&self) {
        self.f.app.job_worker().drain().await.unwrap();
    }

    /// The periodic check, a minute on.
    async fn check(&self) {
        self.f.app.clock.advance(Duration::seconds(61));
        gongyou_services::payouts::check_due(&self.f.app.state.services)
            .await
            .unwrap();
    }

    async fn payout(&self, id: &str) -> Value {
        let finance = self.f.staff("demo-finance").await;
        let (status, p) = self
            .f
            .get(&finance, &format!("/api/v1/finance/payouts/{id}"))
            .await;
        assert_eq!(status, 200, "{p}");
        p
    }

    /// The payout once it reaches `status` (callbacks arrive on their own time).
    pub(crate) async fn until(&self, id: &str, status: &str) -> Value {
        let finance = self.f.staff("demo-finance").await;
        for _ in 0..100 {
            let (_, p) = self
                .f
                .get(&finance, &format!("/api/v1/finance/payouts/{id}"))
                .await;
            if p["status"] == status {
                return p;
            }
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        }
        panic!(
            "payout {id} never became {status}: {}",
            self.payout(id).await
        );
    }

    async fn events(&self, id: &str) -> Vec<String> {
        let finance = self.f.staff("demo-finance").await;
        let (status, events) = self
            .f
            .get(&finance, &format!("/api/v1/finance/payouts/{id}/events"))
            .await;
        assert_eq!(status, 200, "{events}");
        events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn bill_no(p: &Value, attempt: usize) -> String {
    p["attempts"][attempt]["out_bill_no"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_batch_is_paid_end_to_end_once_the_rider_confirms() {
    let p = pay().await;
    let worker = p.f.member("13900000701", "701").await;
    let (claim, payout) = p.approved(&worker).await;
    let finance = p.f.staff("demo-finance").await;
    let approver = p.f.staff("demo-approver").await;

    // Payable, in no batch, nothing in the way.
    let (status, list) =
        p.f.get(
            &finance,
            "/api/v1/finance/payouts?unbatched=true&status=pending",
        )
        .await;
    assert_eq!(status, 200, "{list}");
    let item = &list["items"][0];
    assert_eq!(item["id"], payout.as_str());
    assert_eq!(item["amount"], "1000.00");
    assert_eq!(item["channel"], "wechat");
    assert_eq!(item["blockers"], json!([]));

    // One finance approver builds the batch (a replay answers the same batch)…
    let key = uuid::Uuid::now_v7().to_string();
    let body_ = json!({"channel": "wechat", "payout_ids": [payout]});
    let (status, batch) = p.create_batch(&finance, &key, body_.clone()).await;
    assert_eq!(status, 201, "{batch}");
    assert_eq!(batch["status"], "draft");
    assert_eq!(batch["total"], "1000.00");
    let (status, again) = p.create_batch(&finance, &key, body_).await;
    assert_eq!(status, 201);
    assert_eq!(again["id"], batch["id"]);
    let batch_id = batch["id"].as_str().unwrap().to_owned();
    // …cannot approve it…
    let (status, refused) =
        p.f.post(
            &finance,
            &format!("/api/v1/finance/payout-batches/{batch_id}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["code"], "batch.same_person");
    // …and nothing was sent.
    p.run_jobs().await;
    assert!(p.fake.bills().is_empty());
    // Another one approves it; the send job sends it.
    let (status, approved) =
        p.f.post(
            &approver,
            &format!("/api/v1/finance/payout-batches/{batch_id}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    p.run_jobs().await;
    let sent = p.payout(&payout).await;
    assert_eq!(sent["status"], "awaiting_confirmation", "{sent}");
    let number = bill_no(&sent, 0);
    assert_eq!(number.len(), 32);
    assert_eq!(p.fake.creates(&number), 1);
    // In flight: the metrics show how long the oldest one has been.
    let metrics = p.f.app.get("/metrics").await.text().await.unwrap();
    let oldest: i64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("gongyou_payouts_in_flight_oldest_seconds "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no in-flight gauge in {metrics}"));
    assert!(oldest > 0, "{oldest}");

    // The rider is told, and the mini-program has what wx.requestMerchantTransfer needs.
    assert!(inbox_categories(&p.f.app, &worker)
        .await
        .contains(&"payout_awaiting_confirmation".to_owned()));
    let (status, mine) = p.f.get(&worker, "/api/v1/me/payouts").await;
    assert_eq!(status, 200, "{mine}");
    let confirm = &mine[0]["confirm"];
    let bill = p.fake.bill(&number).unwrap();
    assert_eq!(confirm["mch_id"], p.fake.config().mch_id.as_str());
    assert_eq!(confirm["app_id"], p.fake.config().appid.as_str());
    assert_eq!(confirm["package"], bill.package_info.as_deref().unwrap());
    assert!(confirm["expires_at"].as_str().is_some());
    // Nobody else sees it.
    let other = p.f.member("13900000702", "702").await;
    let (_, theirs) = p.f.get(&other, "/api/v1/me/payouts").await;
    assert_eq!(theirs, json!([]));
    let (status, _) = p.f.get(&worker, "/api/v1/finance/payouts").await;
    assert_eq!(status, 403);

    // The rider confirms; WeChat Pay calls back; the payout and the claim are paid.
    assert!(p.fake.confirm(&number));
    let paid = p.until(&payout, "paid").await;
    assert!(paid["paid_at"].as_str().is_some());
    let (_, c) = p.f.get(&worker, &format!("/api/v1/claims/{claim}")).await;
    assert_eq!(c["status"], "paid", "{c}");
    assert!(inbox_categories(&p.f.app, &worker)
        .await
        .contains(&"payout_paid".to_owned()));
    let (_, b) =
        p.f.get(
            &finance,
            &format!("/api/v1/finance/payout-batches/{batch_id}"),
        )
        .await;
    assert_eq!(b["settled"], true, "{b}");
    assert_eq!(
        b["by_status"],
        json!([{"status": "paid", "count": 1, "amount": "1000.00"}])
    );
    assert_eq!(p.fake.total_paid_fen(), 100_000);
    assert_eq!(
        p.events(&payout).await,
        [
            "open",
            "batch",
            "batch_approved",
            "send",
            "awaiting_confirmation",
            "paid"
        ]
    );
}

#[tokio::test]
async fn a_timeout_whose_transfer_went_through_is_queried_not_sent_again() {
    let p = pay().await;
    let worker = p.f.member("13900000711", "711").await;
    let (claim, payout) = p.approved(&worker).await;
    p.fake.set_auto_confirm(true);
    p.fake.set_callbacks(CallbackMode::Suppressed);
    p.fake.timeout_next_create();
    p.approved_batch("wechat", &[&payout]).await;
    p.run_jobs().await;
    let unknown = p.payout(&payout).await;
    assert_eq!(unknown["status"], "sending", "{unknown}");
    assert_eq!(unknown["attempts"][0]["outcome_unknown"], true);
    let number = bill_no(&unknown, 0);
    // The bill exists at WeChat Pay (the answer was lost, not the request).
    assert_eq!(p.fake.creates(&number), 1);

    p.check().await;
    let paid = p.until(&payout, "paid").await;
    assert_eq!(paid["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(p.fake.creates(&number), 1, "queried, never sent again");
    let (_, c) = p.f.get(&worker, &format!("/api/v1/claims/{claim}")).await;
    assert_eq!(c["status"], "paid");
}

#[tokio::test]
async fn a_5xx_is_sent_again_under_the_same_number_with_the_same_parameters() {
    let p = pay().await;
    let worker = p.f.member("13900000721", "721").await;
    let (_, payout) = p.approved(&worker).await;
    p.fake.set_auto_confirm(true);
    p.fake.fail_next_create_with_system_error();
    p.approved_batch("wechat", &[&payout]).await;
    p.run_jobs().await;
    let paid = p.until(&payout, "paid").await;
    let number = bill_no(&paid, 0);
    assert_eq!(paid["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(paid["attempts"][0]["sends"], 2);
    // Two creates under one number, one bill (identical parameters, or WeChat Pay would
    // have refused the second).
    assert_eq!(p.fake.creates(&number), 2);
    assert_eq!(
        p.fake
            .bills()
            .iter()
            .filter(|b| b.out_bill_no == number)
            .count(),
        1
    );
    assert_eq!(p.fake.total_paid_fen(), 100_000);
}

#[tokio::test]
async fn a_refused_transfer_fails_the_claim_and_a_retry_takes_a_new_number() {
    let p = pay().await;
    let worker = p.f.member("13900000731", "731").await;
    let (claim, payout) = p.approved(&worker).await;
    // The merchant's scene allows 500 yuan per transfer: a limit refusal is final.
    p.fake.set_per_transfer_limit(Some(50_000));
    p.approved_batch("wechat", &[&payout]).await;
    p.run_jobs().await;
    let failed = p.until(&payout, "failed").await;
    assert_eq!(failed["attempts"][0]["state"], "FAIL");
    assert!(failed["failure_code"].as_str().is_some(), "{failed}");
    let (_, c) = p.f.get(&worker, &format!("/api/v1/claims/{claim}")).await;
    assert_eq!(c["status"], "payout_failed", "{c}");
    assert!(inbox_categories(&p.f.app, &worker)
        .await
        .contains(&"payout_failed".to_owned()));

    // Finance sends it again once the limit is raised: a new attempt, a new number.
    p.fake.set_per_transfer_limit(None);
    p.fake.set_auto_confirm(true);
    let finance = p.f.staff("demo-finance").await;
    let (status, retried) =
        p.f.post(
            &finance,
            &format!("/api/v1/finance/payouts/{payout}/retry"),
            json!({"note": "商户单笔限额已调高"}),
        )
        .await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["status"], "pending");
    p.run_jobs().await;
    let paid = p.until(&payout, "paid").await;
    let (first, second) = (bill_no(&paid, 0), bill_no(&paid, 1));
    assert_ne!(first, second);
    assert_eq!(p.fake.creates(&first), 1);
    assert_eq!(p.fake.creates(&second), 1);
    let (_, c) = p.f.get(&worker, &format!("/api/v1/claims/{claim}")).await;
    assert_eq!(c["status"], "paid");
    assert_eq!(p.fake.total_paid_fen(), 100_000);
}

#[tokio::test]
async fn an_unconfirmed_transfer_is_reissued_only_after_it_closed() {
    let p = pay().await;
    let worker = p.f.member("13900000741", "741").await;
    let (_, payout) = p.approved(&worker).await;
    p.approved_batch("wechat", &[&payout]).await;
    p.run_jobs().await;
    let waiting = p.until(&payout, "awaiting_confirmation").await;
    let first = bill_no(&waiting, 0);
    let finance = p.f.staff("demo-finance").await;
    // Not while the first bill may still be confirmed.
    let (status, refused) =
        p.f.post(
            &finance,
            &format!("/api/v1/finance/payouts/{payout}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["code"], "payout.not_retryable");
    // 22 hours on, still unconfirmed: the rider is reminded, once.
    assert_eq!(reminders(&p, &worker).await, 1);
    p.f.app.clock.advance(Duration::hours(22));
    p.check().await;
    p.check().await;
    let worker = p.f.fresh_session("13900000741").await;
    assert_eq!(reminders(&p, &worker).await, 2);
    assert_eq!(p.payout(&payout).await["status"], "awaiting_confirmation");
    let finance = p.f.staff("demo-finance").await;
    // 24 hours unconfirmed: WeChat Pay closes it (FAIL, OVERDUE_CLOSE) and says so.
    assert!(p.fake.expire(&first));
    let closed = p.until(&payout, "failed").await;
    assert_eq!(closed["failure_code"], "OVERDUE_CLOSE");
    let (status, retried) =
        p.f.post(
            &finance,
            &format!("/api/v1/finance/payouts/{payout}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{retried}");
    p.run_jobs().await;
    let again = p.until(&payout, "awaiting_confirmation").await;
    let second = bill_no(&again, 1);
    assert_ne!(first, second);
    assert_eq!(again["attempts"][0]["state"], "FAIL");
    assert!(p.fake.confirm(&second));
    p.until(&payout, "paid").await;
    assert_eq!(p.fake.total_paid_fen(), 100_000);
}

async fn post_notification(
    p: &Pay,
    headers: &gongyou_providers::wechatpay::NotificationHeaders,
    body: &[u8],
) -> (u16, Value) {
    let mut request =
        p.f.app
            .client
            .post(p.f.app.url("/api/v1/webhooks/wechatpay"))
            .header("Content-Type", "application/json")
            .body(body.to_vec());
    for (name, value) in [
        ("Wechatpay-Timestamp", &headers.timestamp),
        ("Wechatpay-Nonce", &headers.nonce),
        ("Wechatpay-Signature", &headers.signature),
        ("Wechatpay-Serial", &headers.serial),
        ("Wechatpay-Signature-Type", &headers.signature_type),
    ] {
        if let Some(v) = value {
            request = request.header(name, v);
        }
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn callbacks_are_verified_before_anything_changes_and_applied_once() {
    let p = pay().await;
    let worker = p.f.member("13900000751", "751").await;
    let (_, payout) = p.approved(&worker).await;
    p.approved_batch("wechat", &[&payout]).await;
    p.run_jobs().await;
    let waiting = p.until(&payout, "awaiting_confirmation").await;
    let number = bill_no(&waiting, 0);
    // The bill fails at WeChat Pay; its callback is held back so the test sends it.
    p.fake.set_callbacks(CallbackMode::Suppressed);
    assert!(p.fake.fail_bill(&number, "TRANSFER_RISK"));
    let now = p.f.app.clock_now();

    let (headers, genuine) = p
        .fake
        .signed_notification_with(&number, NotificationTweak::default())
        .unwrap();
    // A forged signature: another message's, well-formed.
    let (other_headers, _) = p
        .fake
        .signed_notification_with(
            &number,
            NotificationTweak {
                timestamp: Some(now - Duration::seconds(5)),
                ..NotificationTweak::default()
            },
        )
        .unwrap();
    let mut forged = headers.clone();
    forged.signature = other_headers.signature.clone();
    let (status, answer) = post_notification(&p, &forged, &genuine).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["code"], "FAIL");
    // A stale one (six minutes old), validly signed.
    let (stale_headers, stale) = p
        .fake
        .signed_notification_with(
            &number,
            NotificationTweak {
                timestamp: Some(now - Duration::seconds(360)),
                ..NotificationTweak::default()
            },
        )
        .unwrap();
    let (status, answer) = post_notification(&p, &stale_headers, &stale).await;
    assert_eq!(status, 401, "{answer}");
    // A body for another merchant, validly signed.
    let (foreign_headers, foreign) = p
        .fake
        .signed_notification_with(
            &number,
            NotificationTweak {
                mch_id: Some("1900000999".into()),
                ..NotificationTweak::default()
            },
        )
        .unwrap();
    let (status, answer) = post_notification(&p, &foreign_headers, &foreign).await;
    assert!((400..500).contains(&status), "{status} {answer}");
    // A probe's signature.
    let mut probe = headers.clone();
    probe.signature = Some("WECHATPAY/SIGNTEST/ABCDEF".into());
    let (status, _) = post_notification(&p, &probe, &genuine).await;
    assert_eq!(status, 401);
    // Nothing changed.
    let still = p.payout(&payout).await;
    assert_eq!(still["status"], "awaiting_confirmation", "{still}");
    assert_eq!(still["updated_at"], waiting["updated_at"]);

    // The genuine one is applied…
    let (status, answer) = post_notification(&p, &headers, &genuine).await;
    assert_eq!(status, 204, "{answer}");
    let failed = p.payout(&payout).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failure_code"], "TRANSFER_RISK");
    // …its replay (the same nonce) refused…
    let (status, _) = post_notification(&p, &headers, &genuine).await;
    assert_eq!(status, 401);
    // …and a second delivery of the same outcome (a new nonce) changes nothing.
    let (again_headers, again) = p
        .fake
        .signed_notification_with(&number, NotificationTweak::default())
        .unwrap();
    let (status, _) = post_notification(&p, &again_headers, &again).await;
    assert_eq!(status, 204);
    let events = p.events(&payout).await;
    assert_eq!(
        events.iter().filter(|e| *e == "failed").count(),
        1,
        "{events:?}"
    );
    let failures = inbox_categories(&p.f.app, &worker)
        .await
        .iter()
        .filter(|c| *c == "payout_failed")
        .count();
    assert_eq!(failures, 1);
}

#[tokio::test]
async fn a_callback_that_comes_twice_is_applied_once() {
    let p = pay().await;
    let worker = p.f.member("13900000761", "761").await;
    let (_, payout) = p.approved(&worker).await;
    p.fake.set_callbacks(CallbackMode::Twice);
    p.fake.set_auto_confirm(true);
    p.approved_batch("wechat", &[&payout]).await;
    p.run_jobs().await;
    let paid = p.until(&payout, "paid").await;
    let number = bill_no(&paid, 0);
    for _ in 0..50 {
        let delivered = p
            .fake
            .deliveries()
            .iter()
            .filter(|d| d.out_bill_no == number && d.status.is_some())
            .count();
        if delivered >= 2 {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let answers: Vec<Option<u16>> = p
        .fake
        .deliveries()
        .iter()
        .filter(|d| d.out_bill_no == number)
        .map(|d| d.status)
        .collect();
    assert_eq!(answers, [Some(204), Some(204)]);
    let events = p.events(&payout).await;
    assert_eq!(
        events.iter().filter(|e| *e == "paid").count(),
        1,
        "{events:?}"
    );
    let paid_notices = inbox_categories(&p.f.app, &worker)
        .await
        .iter()
        .filter(|c| *c == "payout_paid")
        .count();
    assert_eq!(paid_notices, 1);
}

const ACCOUNT: &str = "6222020402001234567";

/// A claim with a bank payee (set under a fresh step-up), submitted and approved: (claim
/// id, payout id).
pub(crate) async fn approved_to_bank(
    p: &Pay,
    worker: &Session,
    phone: &str,
    holder: &str,
    account: &str,
) -> (String, String) {
    let worker = worker.clone();
    let enrollment = p.f.enrollment_id(&worker).await;
    let proof = p.f.step_up(&worker, phone).await;
    let payee = json!({"kind": "bank", "holder": holder, "bank": "中国工商银行成都春熙路支行",
                       "account": account});
    let (status, claim) = body(
        p.f.app
            .client
            .post(p.f.app.url("/api/v1/claims"))
            .header("Authorization", worker.bearer())
            .header("X-Step-Up-Token", proof)
            .json(&hospital_claim(&enrollment, payee))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{claim}");
    let id = claim["id"].as_str().unwrap().to_owned();
    for kind in ["medical_record_front_page", "discharge_summary"] {
        let (status, doc) = p.f.upload(&worker, &id, kind, &png()).await;
        assert_eq!(status, 201, "{doc}");
    }
    let (status, submitted) =
        p.f.post(&worker, &format!("/api/v1/claims/{id}/submit"), json!({}))
            .await;
    assert_eq!(status, 200, "{submitted}");
    let payout = p.approve(&id).await;
    (id, payout)
}

#[tokio::test]
async fn a_bank_batch_goes_out_in_the_unions_gbk_template_and_its_result_file_settles_it() {
    let p = pay().await;
    let workers =
        p.f.members(&[("13900000771", "771"), ("13900000772", "772")])
            .await;
    let (claim, payout) = approved_to_bank(&p, &workers[0], "13900000771", "张三", ACCOUNT).await;
    // 𠮷 is not in GBK: that payee is refused, never written mangled.
    let (_, odd) = approved_to_bank(&p, &workers[1], "13900000772", "𠮷野", ACCOUNT).await;
    let finance = p.f.staff("demo-finance").await;
    let sichuan = p.f.app.org_id("四川省总工会").await;
    let put = p
        .f
        .app
        .client
        .put(
            p.f.app
                .url(&format!("/api/v1/finance/orgs/{sichuan}/payout-settings")),
        )
        .header("Authorization", finance.bearer())
        .json(&json!({
            "bank_template": {
                "columns": [
                    {"field": "reference", "header": "业务参考号"},
                    {"field": "amount_yuan", "header": "金额"},
                    {"field": "account", "header": "账号"},
                    {"field": "payee_name", "header": "户名"},
                    {"field": "bank", "header": "开户行"}
                ],
                "separator": "|", "encoding": "gbk", "header_row": true, "line_ending": "crlf"
            },
            "result_template": {
                "encoding": "gbk", "separator": "|", "skip_rows": 1,
                "reference_column": 0, "status_column": 2, "amount_column": 1, "reason_column": 3
            }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());

    let batch = p.approved_batch("bank", &[&payout, &odd]).await;
    let file =
        p.f.app
            .client
            .get(
                p.f.app
                    .url(&format!("/api/v1/finance/payout-batches/{batch}/bank-file")),
            )
            .header("Authorization", finance.bearer())
            .send()
            .await
            .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["x-rows"], "1");
    assert_eq!(file.headers()["x-refused"], "1");
    assert_eq!(file.headers()["cache-control"], "no-store");
    let bytes = file.bytes().await.unwrap().to_vec();
    // GBK: 张三 is d5c5 c8fd.
    assert!(bytes.windows(4).any(|w| w == [0xd5, 0xc5, 0xc8, 0xfd]));
    let (text, _, malformed) = encoding_rs::GBK.decode(&bytes);
    assert!(!malformed);
    let sent = p.payout(&payout).await;
    assert_eq!(sent["status"], "sending");
    let reference = bill_no(&sent, 0);
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines,
        [
            "业务参考号|金额|账号|户名|开户行".to_owned(),
            format!("{reference}|1000.00|6222020402001234567|张三|中国工商银行成都春熙路支行"),
        ]
    );
    let refused = p.payout(&odd).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert!(refused["failure_detail"].as_str().unwrap().contains('𠮷'));
    // Retried, it waits for a new bank batch (this one's file is gone), approved by two.
    let (status, retried) =
        p.f.post(
            &finance,
            &format!("/api/v1/finance/payouts/{odd}/retry"),
            json!({"note": "结算模板改为 UTF-8 后重发"}),
        )
        .await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["status"], "pending");
    assert!(retried.get("batch_id").is_none(), "{retried}");
    // Served once.
    let again =
        p.f.app
            .client
            .get(
                p.f.app
                    .url(&format!("/api/v1/finance/payout-batches/{batch}/bank-file")),
            )
            .header("Authorization", finance.bearer())
            .send()
            .await
            .unwrap();
    assert_eq!(again.status(), 409);

    // The bank's result file (GBK, the union's layout) settles the batch.
    let result = format!("业务参考号|金额|处理结果|失败原因\r\n{reference}|1000.00|成功|\r\n");
    let (gbk, _, _) = encoding_rs::GBK.encode(&result);
    let import = |bytes: Vec<u8>| {
        let app = &p.f.app;
        let request = app
            .client
            .post(app.url(&format!(
                "/api/v1/finance/payout-batches/{batch}/bank-results"
            )))
            .header("Authorization", finance.bearer())
            .header("Content-Type", "text/csv")
            .body(bytes);
        async move { body(request.send().await.unwrap()).await }
    };
    // Larger than the JSON body limit (256 KiB; blank lines at the end) and still read;
    // past 8 MiB refused.
    let (status, refused) = import(vec![b'\n'; 8 * 1024 * 1024 + 1]).await;
    assert_eq!(status, 413, "{refused}");
    assert_eq!(refused["code"], "batch.results_too_large");
    let mut padded = gbk.to_vec();
    padded.extend(std::iter::repeat_n(b"\r\n".as_slice(), 200_000).flatten());
    let (status, report) = import(padded).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["paid"], 1, "{report}");
    assert_eq!(report["errors"], json!([]));
    let paid = p.payout(&payout).await;
    assert_eq!(paid["status"], "paid");
    let reviewer = p.f.staff("demo-reviewer").await;
    let (_, c) = p.f.get(&reviewer, &format!("/api/v1/claims/{claim}")).await;
    assert_eq!(c["status"], "paid", "{c}");
    // Imported again: nothing changes.
    let (status, report) = import(gbk.to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(report["unchanged"], 1, "{report}");
}

#[tokio::test]
async fn a_person_with_a_payout_not_yet_paid_cannot_erase_and_after_payment_only_the_record_stays()
{
    let p = pay().await;
    let phone = "13900000781";
    let worker = p.f.member(phone, "781").await;
    let (_, payout) = p.approved(&worker).await;
    let proof = p.f.step_up(&worker, phone).await;
    let erase = |proof: String| {
        let request =
            p.f.app
                .client
                .delete(p.f.app.url("/api/v1/me"))
                .header("Authorization", worker.bearer())
                .header("X-Step-Up-Token", proof);
        async move { body(request.send().await.unwrap()).await }
    };
    let (status, refused) = erase(proof.clone()).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["code"], "membership.payouts_open");

    p.fake.set_auto_confirm(true);
    p.approved_batch("wechat", &[&payout]).await;
    p.run_jobs().await;
    let paid = p.until(&payout, "paid").await;
    // The rider's export holds the payout and its attempt.
    let export: Value =
        p.f.app
            .client
            .get(p.f.app.url("/api/v1/me/data-export"))
            .header("Authorization", worker.bearer())
            .header("X-Step-Up-Token", &proof)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(export["payouts"][0]["id"], payout.as_str(), "{export}");
    assert_eq!(export["payouts"][0]["amount"], "1000.00");
    assert_eq!(
        export["payouts"][0]["attempts"][0]["out_bill_no"],
        bill_no(&paid, 0).as_str()
    );
    let (status, erased) = erase(proof).await;
    assert_eq!(status, 204, "{erased}");
    // The money record stays (amount, numbers, outcome); the openid and the name go.
    let id = payout.clone();
    let (kept, attempts) =
        p.f.app
            .state
            .db
            .run(move |conn| {
                Ok::<_, gongyou_db::DbError>((
                    gongyou_db::payouts::get(conn, &id)?,
                    gongyou_db::payouts::attempts_of(conn, &id)?,
                ))
            })
            .await
            .unwrap();
    let kept = kept.expect("the payout's record is kept");
    assert_eq!(kept.amount_fen, 100_000);
    assert_eq!(kept.status, "paid");
    assert_eq!(attempts[0].out_bill_no, bill_no(&paid, 0));
    assert!(attempts[0].openid.is_none());
    assert!(attempts[0].package_info.is_none());
}

#[tokio::test]
async fn finance_elsewhere_sees_nothing_and_a_batch_takes_only_what_fits() {
    let p = pay().await;
    let worker = p.f.member("13900000791", "791").await;
    let (_, payout) = p.approved(&worker).await;
    // A finance approver of 广东 does not know of it.
    let admin = p.f.staff("demo-admin").await;
    let guangdong = p.f.app.org_id("广东省总工会").await;
    p.f.app
        .create_staff(
            &admin,
            "gd-finance",
            &guangdong,
            &[("finance_approver", &guangdong)],
        )
        .await;
    let gd = p.f.staff("gd-finance").await;
    let (status, _) =
        p.f.get(&gd, &format!("/api/v1/finance/payouts/{payout}"))
            .await;
    assert_eq!(status, 404);
    let (_, list) = p.f.get(&gd, "/api/v1/finance/payouts").await;
    assert_eq!(list["items"], json!([]));
    // A WeChat payee does not go into a bank batch.
    let finance = p.f.staff("demo-finance").await;
    let (status, refused) = p
        .create_batch(
            &finance,
            &uuid::Uuid::now_v7().to_string(),
            json!({"channel": "bank", "payout_ids": [payout]}),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["code"], "batch.payouts_unfit");
    assert_eq!(refused["errors"][0]["code"], "other_channel");
    // Built by amount: the oldest payable up to it.
    let (status, built) = p
        .create_batch(
            &finance,
            &uuid::Uuid::now_v7().to_string(),
            json!({"channel": "wechat", "max_amount": "1000.00"}),
        )
        .await;
    assert_eq!(status, 201, "{built}");
    assert_eq!(built["payouts"], 1);
    // Nothing left to batch.
    let (status, empty) = p
        .create_batch(
            &finance,
            &uuid::Uuid::now_v7().to_string(),
            json!({"channel": "wechat"}),
        )
        .await;
    assert_eq!(status, 422, "{empty}");
    assert_eq!(empty["code"], "batch.empty");
}

#[tokio::test]
async fn finance_switches_only_to_a_payee_the_rider_entered_and_anything_else_needs_a_second_approver(
) {
    let p = pay().await;
    let workers =
        p.f.members(&[("13900000821", "821"), ("13900000822", "822")])
            .await;
    let (worker, other) = (&workers[0], &workers[1]);
    let (_, payout) = p.approved(worker).await;
    // A bank account the rider entered (under a fresh step-up) on a draft claim, and one of
    // another member's.
    let own = bank_draft(&p, worker, "13900000821").await;
    let theirs = bank_draft(&p, other, "13900000822").await;
    let finance = p.f.staff("demo-finance").await;
    let approver = p.f.staff("demo-approver").await;

    let (status, refused) =
        p.f.post(
            &finance,
            &format!("/api/v1/finance/payouts/{payout}/payee"),
            json!({"kind": "bank", "from_claim_id": theirs, "reason": "骑手来电要求改为银行卡"}),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["code"], "payout.payee_not_entered");
    let (status, switched) =
        p.f.post(
            &finance,
            &format!("/api/v1/finance/payouts/{payout}/payee"),
            json!({"kind": "bank", "from_claim_id": own, "reason": "骑手来电要求改为银行卡"}),
        )
        .await;
    assert_eq!(status, 200, "{switched}");
    assert_eq!(switched["channel"], "bank");
    assert_eq!(switched["payee"]["account_masked"], "6216***********7010");
    assert!(inbox_categories(&p.f.app, worker)
        .await
        .contains(&"payout_payee_changed".to_owned()));

    // An account the rider never entered: asked by one, decided by another.
    let (status, asked) =
        p.f.post(
            &finance,
            &format!("/api/v1/finance/payouts/{payout}/payee-request"),
            json!({"holder": "王五", "bank": "招商银行成都分行", "account": "6225 8802 1234 5678",
                   "reason": "原银行卡已注销，骑手到工会现场提供新卡"}),
        )
        .await;
    assert_eq!(status, 201, "{asked}");
    assert_eq!(asked["status"], "pending");
    let (_, blocked) =
        p.f.get(&finance, &format!("/api/v1/finance/payouts/{payout}"))
            .await;
    assert_eq!(blocked["blockers"], json!(["payee_change_pending"]));
    let (status, same) =
        p.f.post(
            &finance,
            &format!("/api/v1/finance/payouts/{payout}/payee-request/decide"),
            json!({"approve": true}),
        )
        .await;
    assert_eq!(status, 403, "{same}");
    assert_eq!(same["code"], "payout.same_person");
    let (status, decided) =
        p.f.post(
            &approver,
            &format!("/api/v1/finance/payouts/{payout}/payee-request/decide"),
            json!({"approve": true}),
        )
        .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["payee"]["bank"], "招商银行成都分行");
    assert_eq!(decided["payee"]["account_masked"], "6225********5678");
    assert_eq!(decided["payee"]["entered_by_finance"], true);
    assert_eq!(decided["blockers"], json!([]));
    let events = p.events(&payout).await;
    assert!(events.ends_with(&[
        "switch_payee".to_owned(),
        "request_payee".to_owned(),
        "approve_payee".to_owned()
    ]));
    let changed = inbox_categories(&p.f.app, worker)
        .await
        .iter()
        .filter(|c| *c == "payout_payee_changed")
        .count();
    assert_eq!(changed, 2);
}

/// A draft claim of `who` naming a bank account (set under a fresh step-up); its id.
async fn bank_draft(p: &Pay, who: &Session, phone: &str) -> String {
    let enrollment = p.f.enrollment_id(who).await;
    let proof = p.f.step_up(who, phone).await;
    let mut claim = hospital_claim(
        &enrollment,
        json!({"kind": "bank", "holder": "王五", "bank": "中国银行成都分行",
               "account": "6216610200016587010"}),
    );
    claim["incident"]["occurred_on"] = json!("2026-04-18");
    claim["incident"]["admitted_on"] = json!("2026-04-18");
    claim["incident"]["discharged_on"] = json!("2026-04-19");
    let (status, c) = body(
        p.f.app
            .client
            .post(p.f.app.url("/api/v1/claims"))
            .header("Authorization", who.bearer())
            .header("X-Step-Up-Token", proof)
            .json(&claim)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{c}");
    c["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_rider_without_an_openid_of_the_paying_app_is_told_to_sign_in_and_is_not_batched() {
    let p = pay().await;
    let worker = p.f.member("13900000831", "831").await;
    let claim = p.f.submitted(&worker).await;
    // The WeChat account was unlinked after filing (e.g. the rider merged accounts).
    let user = crate::claims::claim_owner(&p.f.app, &claim).await;
    p.f.app
        .state
        .db
        .run(move |conn| {
            gongyou_db::accounts::set_wechat(
                conn,
                &user,
                None,
                None,
                chrono::Utc::now().naive_utc(),
            )
        })
        .await
        .unwrap();
    let payout = p.approve(&claim).await;
    assert!(inbox_categories(&p.f.app, &worker)
        .await
        .contains(&"payout_sign_in_needed".to_owned()));
    let (_, mine) = p.f.get(&worker, "/api/v1/me/payouts").await;
    assert!(
        mine[0]["action_needed"]
            .as_str()
            .unwrap()
            .contains("小程序"),
        "{mine}"
    );
    let finance = p.f.staff("demo-finance").await;
    let (_, listed) =
        p.f.get(&finance, &format!("/api/v1/finance/payouts/{payout}"))
            .await;
    assert_eq!(listed["blockers"], json!(["no_wechat_openid"]));
    let (status, refused) = p
        .create_batch(
            &finance,
            &uuid::Uuid::now_v7().to_string(),
            json!({"channel": "wechat", "payout_ids": [payout]}),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["errors"][0]["code"], "no_wechat_openid");
}

#[tokio::test]
async fn a_create_answer_racing_its_callback_never_reopens_a_paid_payout() {
    // Found by a crash test on PostgreSQL: the send job applied a create's ACCEPTED while
    // the callback applied SUCCESS; both passed the "not final yet" check and the payout
    // went back from paid to sending. Twenty at once make the race likely.
    let p = pay().await;
    let who: Vec<(String, String)> = (0..20)
        .map(|i| (format!("139000008{:02}", 40 + i), format!("{}", 840 + i)))
        .collect();
    let refs: Vec<(&str, &str)> = who.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let workers = p.f.members(&refs).await;
    let mut payouts = Vec::new();
    for w in &workers {
        payouts.push(p.approved(w).await.1);
    }
    p.fake.set_auto_confirm(true);
    let ids: Vec<&str> = payouts.iter().map(String::as_str).collect();
    p.approved_batch("wechat", &ids).await;
    p.run_jobs().await;
    for id in &payouts {
        let paid = p.until(id, "paid").await;
        assert_eq!(paid["attempts"].as_array().unwrap().len(), 1);
    }
    // Callbacks still in flight change nothing.
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    for id in &payouts {
        assert_eq!(p.payout(id).await["status"], "paid");
        let events = p.events(id).await;
        assert_eq!(
            events.iter().filter(|e| *e == "paid").count(),
            1,
            "{events:?}"
        );
    }
    assert_eq!(p.fake.total_paid_fen(), 100_000 * 20);
}

/// How often the rider was told a transfer waits for their confirmation.
async fn reminders(p: &Pay, who: &Session) -> usize {
    inbox_categories(&p.f.app, who)
        .await
        .iter()
        .filter(|c| *c == "payout_awaiting_confirmation")
        .count()
}
