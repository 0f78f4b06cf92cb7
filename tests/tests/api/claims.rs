//! Benefit claims, end to end over HTTP: a member files, documents and submits a claim;
//! the rules report every failure at once; reviewers of the claimant's union return,
//! approve or reject; large approvals need a second person; every step is an event, and
//! nobody else sees any of it.

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use gongyou_db::jobs::Job;
use gongyou_tests::session::{id_number, Session, DEMO_PASSWORD};
use gongyou_tests::{spawn_app, spawn_app_with, TestApp};
use serde_json::{json, Value};

pub(crate) fn shanghai(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

pub(crate) async fn body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

pub(crate) const PLAN: &str = "claims-2026";

pub(crate) fn terms() -> Value {
    json!({
        "name": "理赔测试计划",
        "description": "测试用保障计划",
        "enrollment_opens_on": "2026-03-01",
        "enrollment_closes_on": "2026-06-30",
        "coverage_starts_on": "2026-03-01",
        "coverage_ends_on": "2026-12-31",
        "eligibility": {},
        "benefits": [
            {"code": "accident_death", "name": "意外身故伤残", "kind": "lump_sum", "amount": "30000.00",
             "waiting_days": {"illness": 0, "accident": 0}, "documents": ["id_front", "accident_proof"]},
            {"code": "hospital_daily", "name": "住院津贴", "kind": "daily_allowance",
             "amount_per_day": "200", "max_days_per_year": 30,
             "waiting_days": {"illness": 30, "accident": 0},
             "documents": ["medical_record_front_page", "discharge_summary"]},
            {"code": "medical", "name": "医疗报销", "kind": "reimbursement", "percent": "80",
             "per_claim_cap": "5000.00", "yearly_cap": "20000.00",
             "waiting_days": {"illness": 60, "accident": 0}, "documents": ["invoice"]}
        ],
    })
}

pub(crate) struct Fixture {
    pub(crate) app: TestApp,
}

/// A published plan; members enroll on 2026-03-01 (cover from 03-02); the clock then
/// stands on 2026-04-20.
async fn fixture() -> Fixture {
    fixture_on(spawn_app().await).await
}

pub(crate) async fn fixture_on(app: TestApp) -> Fixture {
    app.seed().await;
    app.clock.set(shanghai(2026, 3, 1, 10));
    let admin = app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await;
    let sichuan = app.org_id("四川省总工会").await;
    let (status, created) = body(
        app.post_json_as(
            &admin,
            "/api/v1/admin/plans",
            &json!({"code": PLAN, "sponsor_org_id": sichuan, "terms": terms()}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, published) = body(
        app.post_json_as(
            &admin,
            &format!("/api/v1/admin/plans/{PLAN}/publish"),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{published}");
    Fixture { app }
}

/// A PNG of a few pixels.
pub(crate) fn png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(8, 6, image::Rgb([200, 30, 30])))
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

/// A JPEG carrying an EXIF segment with a place in it.
fn jpeg_with_exif() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(8, 6, image::Rgb([10, 120, 30])))
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    let jpeg = out.into_inner();
    let payload = [b"Exif\0\0".as_slice(), b"GPS 30.6598N 104.0633E"].concat();
    let len = (payload.len() + 2) as u16;
    let mut segment = vec![0xFF, 0xE1, (len >> 8) as u8, len as u8];
    segment.extend_from_slice(&payload);
    [jpeg[..2].to_vec(), segment, jpeg[2..].to_vec()].concat()
}

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

impl Fixture {
    /// Members of 锦江区 (phone, ID sequence) enrolled on 2026-03-01, signed in again on
    /// 2026-04-20, where the clock then stands (call once per test: the clock only moves on).
    pub(crate) async fn members(&self, who: &[(&str, &str)]) -> Vec<Session> {
        let app = &self.app;
        for (phone, seq) in who {
            let (worker, _) = app
                .new_member(phone, &id_number("510104", "19900307", seq))
                .await;
            let (status, enrolled) = body(
                app.client
                    .post(app.url(&format!("/api/v1/plans/{PLAN}/enrollments")))
                    .header("Authorization", worker.bearer())
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, 201, "{enrolled}");
        }
        app.clock.set(shanghai(2026, 4, 20, 10));
        let mut out = Vec::new();
        for (phone, _) in who {
            out.push(self.fresh_session(phone).await);
        }
        out
    }

    pub(crate) async fn member(&self, phone: &str, seq: &str) -> Session {
        self.members(&[(phone, seq)]).await.remove(0)
    }

    /// Signs the worker in again (the clock moved past their session), past the resend
    /// limit of one SMS a minute, which is not under test here.
    pub(crate) async fn fresh_session(&self, phone: &str) -> Session {
        self.allow_sms(phone).await;
        self.app.sign_in_worker(phone).await
    }

    pub(crate) async fn allow_sms(&self, phone: &str) {
        self.app
            .state
            .kv
            .delete(&format!("sms:limit:minute:{phone}"))
            .await
            .unwrap();
    }

    pub(crate) async fn enrollment_id(&self, worker: &Session) -> String {
        let (_, list) = body(self.app.get_as(worker, "/api/v1/me/enrollments").await).await;
        list[0]["id"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn staff(&self, username: &str) -> Session {
        self.app.sign_in_staff(username, DEMO_PASSWORD).await
    }

    pub(crate) async fn file(&self, worker: &Session, claim: Value) -> (u16, Value) {
        body(
            self.app
                .post_json_as(worker, "/api/v1/claims", &claim)
                .await,
        )
        .await
    }

    pub(crate) async fn post(&self, who: &Session, path: &str, b: Value) -> (u16, Value) {
        body(self.app.post_json_as(who, path, &b).await).await
    }

    pub(crate) async fn get(&self, who: &Session, path: &str) -> (u16, Value) {
        body(self.app.get_as(who, path).await).await
    }

    pub(crate) async fn upload(
        &self,
        who: &Session,
        claim_id: &str,
        kind: &str,
        bytes: &[u8],
    ) -> (u16, Value) {
        let boundary = "gongyou-claim-boundary";
        let mut b = Vec::new();
        b.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n"
            )
            .as_bytes(),
        );
        b.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes(),
        );
        b.extend_from_slice(bytes);
        b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        body(
            self.app
                .client
                .post(
                    self.app
                        .url(&format!("/api/v1/claims/{claim_id}/documents")),
                )
                .header("Authorization", who.bearer())
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(b)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub(crate) async fn step_up(&self, worker: &Session, phone: &str) -> String {
        self.allow_sms(phone).await;
        let code = self.app.sms_code(phone, "step_up").await;
        let (status, proof) = self
            .post(worker, "/api/v1/auth/step-up", json!({"code": code}))
            .await;
        assert_eq!(status, 200, "{proof}");
        proof["step_up_token"].as_str().unwrap().to_owned()
    }

    /// A hospital-allowance claim (accident on 04-10, in hospital 04-10 to 04-15),
    /// documented and submitted.
    pub(crate) async fn submitted(&self, worker: &Session) -> String {
        let enrollment = self.enrollment_id(worker).await;
        let (status, claim) = self
            .file(
                worker,
                hospital_claim(&enrollment, json!({"kind": "wechat_balance"})),
            )
            .await;
        assert_eq!(status, 201, "{claim}");
        let id = claim["id"].as_str().unwrap().to_owned();
        // A WeChat payee needs a linked WeChat account: link one directly.
        let user = claim_owner(&self.app, &id).await;
        self.app
            .state
            .db
            .run(move |conn| {
                gongyou_db::accounts::set_wechat(
                    conn,
                    &user,
                    Some(&format!("openid-{user}")),
                    None,
                    Utc::now().naive_utc(),
                )
            })
            .await
            .unwrap();
        for kind in ["medical_record_front_page", "discharge_summary"] {
            let (status, doc) = self.upload(worker, &id, kind, &png()).await;
            assert_eq!(status, 201, "{doc}");
        }
        let (status, submitted) = self
            .post(worker, &format!("/api/v1/claims/{id}/submit"), json!({}))
            .await;
        assert_eq!(status, 200, "{submitted}");
        id
    }
}

pub(crate) async fn claim_owner(app: &TestApp, claim_id: &str) -> String {
    let id = claim_id.to_owned();
    app.state
        .db
        .run(move |conn| gongyou_db::claims::get(conn, &id))
        .await
        .unwrap()
        .unwrap()
        .claimant_id
}

pub(crate) fn hospital_claim(enrollment: &str, payee: Value) -> Value {
    json!({
        "enrollment_id": enrollment,
        "benefit_code": "hospital_daily",
        "incident": {
            "type": "accident",
            "occurred_on": "2026-04-10",
            "place": "成都市锦江区春熙路",
            "admitted_on": "2026-04-10",
            "discharged_on": "2026-04-15",
            "hospital": "四川大学华西医院",
            "diagnosis": "右侧桡骨远端骨折",
        },
        "payee": payee,
    })
}

fn codes(failures: &Value) -> Vec<String> {
    failures
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) async fn inbox_categories(app: &TestApp, who: &Session) -> Vec<String> {
    let (_, inbox) = body(app.get_as(who, "/api/v1/me/notifications").await).await;
    inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["category"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_claim_goes_from_the_phone_to_payable_with_every_step_on_record() {
    let f = fixture().await;
    let phone = "13900000101";
    let worker = f.member(phone, "101").await;
    let enrollment = f.enrollment_id(&worker).await;
    let bank = json!({"kind": "bank", "holder": "张小龙", "bank": "中国工商银行成都春熙支行", "account": "6222020402001234567"});

    // A bank payee needs a fresh step-up.
    let (status, refused) = f
        .file(&worker, hospital_claim(&enrollment, bank.clone()))
        .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["code"], "auth.step_up_required");
    let proof = f.step_up(&worker, phone).await;
    let (status, draft) = body(
        f.app
            .client
            .post(f.app.url("/api/v1/claims"))
            .header("Authorization", worker.bearer())
            .header("X-Step-Up-Token", &proof)
            .header("Idempotency-Key", "claim-journey-1")
            .json(&hospital_claim(&enrollment, bank.clone()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{draft}");
    let id = draft["id"].as_str().unwrap().to_owned();
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["payee"]["account_masked"], "6222***********4567");
    assert_eq!(draft["payee"]["holder"], "张小龙");
    assert_eq!(draft["incident"]["diagnosis"], "右侧桡骨远端骨折");
    assert_eq!(draft["amount"], "1000.00", "5 days × 200.00 (estimate)");
    assert_eq!(
        codes(&draft["missing"]),
        ["document_missing", "document_missing"],
        "{draft}"
    );
    assert!(draft["missing"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("病案首页"));

    // The same key replays the claim as it is now; only its id was kept.
    let replay = f
        .app
        .client
        .post(f.app.url("/api/v1/claims"))
        .header("Authorization", worker.bearer())
        .header("X-Step-Up-Token", &proof)
        .header("Idempotency-Key", "claim-journey-1")
        .json(&hospital_claim(&enrollment, bank.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replayed: Value = replay.json().await.unwrap();
    assert_eq!(replayed["id"], draft["id"]);
    let stored_body = f
        .app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use gongyou_db::schema::idempotency_keys as k;
            k::table
                .filter(k::idem_key.eq("claim-journey-1"))
                .select(k::response_body)
                .first::<Option<String>>(conn)
                .map_err(gongyou_db::DbError::from)
        })
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        stored_body.len() < 120,
        "the stored response holds no claim content: {stored_body}"
    );

    // The sensitive fields are sealed at rest.
    let details = {
        let id = id.clone();
        f.app
            .state
            .db
            .run(move |conn| gongyou_db::claims::details(conn, &id))
            .await
            .unwrap()
            .unwrap()
    };
    for sealed in [
        &details.hospital_enc,
        &details.diagnosis_enc,
        &details.payee_account_enc,
        &details.payee_holder_enc,
    ] {
        let sealed = sealed.as_deref().unwrap();
        assert!(
            !sealed.contains("华西")
                && !sealed.contains("骨折")
                && !sealed.contains("6222020402001234567")
        );
    }

    // One document: the rules still name the other.
    let (status, doc) = f
        .upload(&worker, &id, "medical_record_front_page", &jpeg_with_exif())
        .await;
    assert_eq!(status, 201, "{doc}");
    assert_eq!(doc["content_type"], "image/jpeg");
    let (status, failed) = f
        .post(&worker, &format!("/api/v1/claims/{id}/submit"), json!({}))
        .await;
    assert_eq!(status, 422, "{failed}");
    assert_eq!(failed["code"], "claim.rules_failed");
    assert_eq!(codes(&failed["errors"]), ["document_missing"]);
    assert_eq!(failed["errors"][0]["subject"], "discharge_summary");
    let (status, pdf) = f.upload(&worker, &id, "discharge_summary", PDF).await;
    assert_eq!(status, 201, "{pdf}");
    assert_eq!(pdf["content_type"], "application/pdf");

    // Submitted: the amount is computed, the claim waits for the reviewers of its union.
    let (status, submitted) = f
        .post(&worker, &format!("/api/v1/claims/{id}/submit"), json!({}))
        .await;
    assert_eq!(status, 200, "{submitted}");
    assert_eq!(submitted["status"], "submitted");
    assert_eq!(submitted["amount"], "1000.00");
    assert_eq!(submitted["days"], 5);
    assert!(submitted["missing"].as_array().unwrap().is_empty());
    // A submitted claim is no longer edited.
    let (status, refused) = body(
        f.app
            .client
            .put(f.app.url(&format!("/api/v1/claims/{id}")))
            .header("Authorization", worker.bearer())
            .json(&hospital_claim(
                &enrollment,
                json!({"kind": "wechat_balance"}),
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["errors"]["status"], "submitted");

    let reviewer = f.staff("demo-reviewer").await;
    let (status, queue) = f.get(&reviewer, "/api/v1/review/claims").await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["items"][0]["id"], id.as_str());
    assert_eq!(queue["items"][0]["amount"], "1000.00");

    // Returned for a clearer photo; the worker hears of it and resubmits.
    let (status, _) = f
        .post(
            &reviewer,
            &format!("/api/v1/review/claims/{id}/assign"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, returned) = f
        .post(
            &reviewer,
            &format!("/api/v1/review/claims/{id}/return"),
            json!({"reasons": ["document_unreadable"], "note": "病案首页照片模糊，请重新拍摄"}),
        )
        .await;
    assert_eq!(status, 200, "{returned}");
    assert_eq!(returned["status"], "returned");
    assert!(inbox_categories(&f.app, &worker)
        .await
        .contains(&"claim_returned".to_owned()));
    let (status, doc) = f
        .upload(&worker, &id, "medical_record_front_page", &png())
        .await;
    assert_eq!(status, 201, "{doc}");
    let (status, resubmitted) = f
        .post(&worker, &format!("/api/v1/claims/{id}/resubmit"), json!({}))
        .await;
    assert_eq!(status, 200, "{resubmitted}");
    assert_eq!(resubmitted["status"], "submitted");

    // Large approvals (above 四川's threshold, set to 500.00) need a second person.
    let admin = f.staff("demo-sichuan-admin").await;
    let sichuan = f.app.org_id("四川省总工会").await;
    let put = f
        .app
        .client
        .put(
            f.app
                .url(&format!("/api/v1/admin/orgs/{sichuan}/claim-settings")),
        )
        .header("Authorization", admin.bearer())
        .json(&json!({"confirm_threshold": "500.00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let both_id = f
        .app
        .create_staff(
            &admin,
            "both-roles",
            &sichuan,
            &[
                ("claims_reviewer", &sichuan),
                ("finance_approver", &sichuan),
            ],
        )
        .await;
    let both = f.staff("both-roles").await;
    let (status, _) = f
        .post(
            &both,
            &format!("/api/v1/review/claims/{id}/assign"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, too_much) = f
        .post(
            &both,
            &format!("/api/v1/review/claims/{id}/approve"),
            json!({"amount": "1000.01"}),
        )
        .await;
    assert_eq!(status, 422, "{too_much}");
    assert_eq!(too_much["code"], "claim.amount_above_computed");
    let (status, approved) = f
        .post(
            &both,
            &format!("/api/v1/review/claims/{id}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "awaiting_confirmation");
    assert_eq!(approved["approved_amount"], "1000.00");
    assert_eq!(approved["staff"]["confirm_threshold"], "500.00");
    // The approver cannot confirm; a reviewer without the finance role cannot either.
    let (status, same) = f
        .post(
            &both,
            &format!("/api/v1/review/claims/{id}/confirm"),
            json!({}),
        )
        .await;
    assert_eq!(status, 403, "{same}");
    assert_eq!(same["code"], "claim.same_person");
    let (status, _) = f
        .post(
            &reviewer,
            &format!("/api/v1/review/claims/{id}/confirm"),
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    let approver = f.staff("demo-approver").await;
    let (status, confirmed) = f
        .post(
            &approver,
            &format!("/api/v1/review/claims/{id}/confirm"),
            json!({"note": "已核对"}),
        )
        .await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["status"], "approved");
    assert_eq!(
        confirmed["staff"]["confirmed_by"],
        staff_id(&f.app, "demo-approver").await
    );
    assert!(inbox_categories(&f.app, &worker)
        .await
        .contains(&"claim_approved".to_owned()));

    // The trail: staff see every event with who acted; the claimant sees theirs.
    let (_, staff_events) = f
        .get(&approver, &format!("/api/v1/claims/{id}/events"))
        .await;
    let actions: Vec<&str> = staff_events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["create", "submit", "assign", "return", "resubmit", "assign", "approve", "confirm"]
    );
    assert_eq!(staff_events[6]["actor_id"], both_id.as_str());
    assert_eq!(staff_events[3]["reason_code"], "document_unreadable");
    let (_, mine) = f.get(&worker, &format!("/api/v1/claims/{id}/events")).await;
    let mine = mine.as_array().unwrap();
    assert!(mine.iter().all(|e| e.get("actor_id").is_none()));
    assert!(mine
        .iter()
        .any(|e| e["action"] == "return" && e["note"] == "病案首页照片模糊，请重新拍摄"));
    assert_eq!(mine.last().unwrap()["to_status"], "approved");

    // My protection counts what the claim holds.
    let (_, protection) = f.get(&worker, "/api/v1/me/protection").await;
    let hospital = protection["covers"][0]["benefits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["benefit"]["code"] == "hospital_daily")
        .unwrap()
        .clone();
    assert_eq!(hospital["days_left_this_period"], 25);
    assert_eq!(hospital["left_this_period"], "5000.00");

    // Documents: the claimant and staff in scope read them, never cached; staff reads are
    // recorded; the photo lost its EXIF.
    let (_, claim) = f.get(&worker, &format!("/api/v1/claims/{id}")).await;
    let first = claim["documents"][0]["url"].as_str().unwrap().to_owned();
    let mine = f.app.get_as(&worker, &first).await;
    assert_eq!(mine.status(), 200);
    assert_eq!(mine.headers()["cache-control"], "no-store");
    let bytes = mine.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]));
    assert!(
        !bytes.windows(4).any(|w| w == b"Exif"),
        "no metadata survives"
    );
    let (_, before) = f.get(&reviewer, &format!("/api/v1/claims/{id}")).await;
    assert!(before["staff"]["document_reads"]
        .as_array()
        .unwrap()
        .is_empty());
    let theirs = f.app.get_as(&reviewer, &first).await;
    assert_eq!(theirs.status(), 200);
    assert_eq!(theirs.bytes().await.unwrap(), bytes);
    let (_, after) = f.get(&reviewer, &format!("/api/v1/claims/{id}")).await;
    let reads = after["staff"]["document_reads"].as_array().unwrap();
    assert_eq!(reads.len(), 1, "{after}");
    assert_eq!(
        reads[0]["staff_id"],
        staff_id(&f.app, "demo-reviewer").await
    );
    assert_eq!(reads[0]["document_id"], claim["documents"][0]["id"]);
    assert!(
        claim.get("staff").is_none(),
        "the claimant sees no staff section"
    );
    assert_eq!(after["payee"]["holder"], "张*龙", "masked for staff");
}

pub(crate) async fn staff_id(app: &TestApp, username: &str) -> String {
    let username = username.to_owned();
    app.state
        .db
        .run(move |conn| gongyou_db::staff::by_username(conn, &username))
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn every_failed_rule_is_reported_at_once() {
    let f = fixture().await;
    let mut both = f
        .members(&[("13900000201", "201"), ("13900000202", "202")])
        .await;
    let (worker, other) = (both.remove(0), both.remove(0));
    let enrollment = f.enrollment_id(&worker).await;

    // Illness in the waiting period, a stay not over, no documents, no linked WeChat.
    let (status, claim) = f
        .file(
            &worker,
            json!({
                "enrollment_id": enrollment,
                "benefit_code": "hospital_daily",
                "incident": {"type": "illness", "occurred_on": "2026-03-20", "place": "成都",
                             "admitted_on": "2026-03-20", "discharged_on": "2026-04-25",
                             "hospital": "成都市第二人民医院", "diagnosis": "肺炎"},
                "payee": {"kind": "wechat_balance"},
            }),
        )
        .await;
    assert_eq!(status, 201, "{claim}");
    let id = claim["id"].as_str().unwrap();
    let (status, failed) = f
        .post(&worker, &format!("/api/v1/claims/{id}/submit"), json!({}))
        .await;
    assert_eq!(status, 422, "{failed}");
    let got = codes(&failed["errors"]);
    for code in [
        "waiting_period",
        "stay_not_over",
        "document_missing",
        "payee_wechat_unlinked",
    ] {
        assert!(got.contains(&code.to_owned()), "{code} in {got:?}");
    }
    assert_eq!(got.iter().filter(|c| *c == "document_missing").count(), 2);
    assert!(failed["detail"].as_str().unwrap().contains("等待期"));

    // Reimbursement figures on an allowance are refused, not ignored.
    let (status, refused) = f
        .file(
            &worker,
            json!({
                "enrollment_id": enrollment, "benefit_code": "hospital_daily",
                "incident": {"type": "accident", "occurred_on": "2026-04-01", "place": "成都",
                             "claimed_cost": "100.00"},
            }),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["code"], "claim.cost_not_applicable");

    // An invoice is claimed once across members (numbers compared normalized).
    let other_enrollment = f.enrollment_id(&other).await;
    let user = {
        let (_, me) = f.get(&other, "/api/v1/me").await;
        me["id"].as_str().unwrap().to_owned()
    };
    f.app
        .state
        .db
        .run(move |conn| {
            gongyou_db::accounts::set_wechat(
                conn,
                &user,
                Some("openid-other"),
                None,
                Utc::now().naive_utc(),
            )
        })
        .await
        .unwrap();
    let reimbursement = |enrollment: &str, number: &str| {
        json!({
            "enrollment_id": enrollment, "benefit_code": "medical",
            "incident": {"type": "accident", "occurred_on": "2026-04-02", "place": "成都",
                         "claimed_cost": "8000", "invoice_numbers": [number]},
            "payee": {"kind": "wechat_balance"},
        })
    };
    let (status, first) = f
        .file(&other, reimbursement(&other_enrollment, "51-0012-3456"))
        .await;
    assert_eq!(status, 201, "{first}");
    let first_id = first["id"].as_str().unwrap();
    let (status, _) = f.upload(&other, first_id, "invoice", &png()).await;
    assert_eq!(status, 201);
    let (status, submitted) = f
        .post(
            &other,
            &format!("/api/v1/claims/{first_id}/submit"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{submitted}");
    assert_eq!(
        submitted["amount"], "5000.00",
        "80% of 8000.00 capped at 5000.00 a claim"
    );
    let (status, second) = f
        .file(&worker, reimbursement(&enrollment, "5100123456"))
        .await;
    assert_eq!(status, 201, "{second}");
    let missing = codes(&second["missing"]);
    assert!(
        missing.contains(&"invoice_claimed".to_owned()),
        "{missing:?}"
    );
    let invoice = second["missing"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == "invoice_claimed")
        .unwrap();
    assert_eq!(invoice["subject"], "5100123456");

    // A lump sum pays once a period: a second claim on it says so.
    let lump = |day: &str| {
        json!({
            "enrollment_id": other_enrollment, "benefit_code": "accident_death",
            "incident": {"type": "accident", "occurred_on": day, "place": "成都"},
            "payee": {"kind": "wechat_balance"},
        })
    };
    let (_, l1) = f.file(&other, lump("2026-04-03")).await;
    let l1 = l1["id"].as_str().unwrap().to_owned();
    for kind in ["id_front", "accident_proof"] {
        assert_eq!(f.upload(&other, &l1, kind, &png()).await.0, 201);
    }
    let (status, ok) = f
        .post(&other, &format!("/api/v1/claims/{l1}/submit"), json!({}))
        .await;
    assert_eq!(status, 200, "{ok}");
    let (_, l2) = f.file(&other, lump("2026-04-05")).await;
    assert!(
        codes(&l2["missing"]).contains(&"lump_sum_claimed".to_owned()),
        "{l2}"
    );
}

#[tokio::test]
async fn two_reviewers_deciding_one_claim_at_once_one_wins() {
    let f = fixture().await;
    let mut both = f
        .members(&[("13900000301", "301"), ("13900000302", "302")])
        .await;
    let (worker, worker2) = (both.remove(0), both.remove(0));
    let id = f.submitted(&worker).await;
    let admin = f.staff("demo-sichuan-admin").await;
    let sichuan = f.app.org_id("四川省总工会").await;
    f.app
        .create_staff(
            &admin,
            "reviewer-two",
            &sichuan,
            &[("claims_reviewer", &sichuan)],
        )
        .await;
    let one = f.staff("demo-reviewer").await;
    let two = f.staff("reviewer-two").await;
    let (status, _) = f
        .post(
            &one,
            &format!("/api/v1/review/claims/{id}/assign"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (approve_path, reject_path) = (
        format!("/api/v1/review/claims/{id}/approve"),
        format!("/api/v1/review/claims/{id}/reject"),
    );
    let approve = f.post(&one, &approve_path, json!({}));
    let reject = f.post(
        &two,
        &reject_path,
        json!({"reason_code": "duplicate_claim"}),
    );
    let ((a, approved), (r, rejected)) = tokio::join!(approve, reject);
    let mut statuses = [a, r];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{approved} {rejected}");
    let loser = if a == 409 { &approved } else { &rejected };
    assert!(
        ["claim.illegal_transition", "claim.changed"].contains(&loser["code"].as_str().unwrap()),
        "{loser}"
    );
    assert!(
        loser["errors"]["status"].is_string(),
        "the current state: {loser}"
    );
    let (_, events) = f.get(&one, &format!("/api/v1/claims/{id}/events")).await;
    let decisions = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "approve" || e["action"] == "reject")
        .count();
    assert_eq!(decisions, 1, "{events}");

    // Overdue claims remind the reviewers in scope (once a day).
    f.submitted(&worker2).await;
    f.app.clock.advance(Duration::hours(49));
    let reminded = gongyou_services::claims::remind_overdue(&f.app.state)
        .await
        .unwrap();
    assert_eq!(reminded, 1);
    assert_eq!(
        gongyou_services::claims::remind_overdue(&f.app.state)
            .await
            .unwrap(),
        0
    );
    let one = f.staff("demo-reviewer").await;
    assert!(inbox_categories(&f.app, &one)
        .await
        .contains(&"claim_review_overdue".to_owned()));
}

#[tokio::test]
async fn nobody_else_sees_or_touches_a_claim() {
    let f = fixture().await;
    let mut both = f
        .members(&[("13900000401", "401"), ("13900000402", "402")])
        .await;
    let (worker, stranger) = (both.remove(0), both.remove(0));
    let id = f.submitted(&worker).await;
    let (_, claim) = f.get(&worker, &format!("/api/v1/claims/{id}")).await;
    let doc = claim["documents"][0]["url"].as_str().unwrap().to_owned();

    let admin = f.staff("demo-admin").await;
    let guangdong = f.app.org_id("广东省总工会").await;
    f.app
        .create_staff(
            &admin,
            "gd-reviewer",
            &guangdong,
            &[
                ("claims_reviewer", &guangdong),
                ("finance_approver", &guangdong),
            ],
        )
        .await;
    let elsewhere = f.staff("gd-reviewer").await;
    let manager = f.staff("demo-manager").await;
    for path in [
        format!("/api/v1/claims/{id}"),
        format!("/api/v1/claims/{id}/events"),
        doc.clone(),
    ] {
        assert_eq!(f.app.get_as(&stranger, &path).await.status(), 404, "{path}");
        assert_eq!(
            f.app.get_as(&elsewhere, &path).await.status(),
            404,
            "{path}"
        );
        assert_eq!(f.app.get_as(&manager, &path).await.status(), 403, "{path}");
    }
    let (status, _) = f
        .post(
            &stranger,
            &format!("/api/v1/claims/{id}/withdraw"),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = f.upload(&stranger, &id, "other", &png()).await;
    assert_eq!(status, 404);
    let remove = |who: &Session| {
        let r = f
            .app
            .client
            .delete(f.app.url(&doc))
            .header("Authorization", who.bearer());
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(remove(&stranger).await, 404);
    assert_eq!(remove(&manager).await, 403);
    assert_eq!(
        remove(&worker).await,
        409,
        "a submitted claim's documents stay"
    );
    // The reviewer of another branch does not find it; a worker and a manager may not review.
    let (status, _) = f
        .post(
            &elsewhere,
            &format!("/api/v1/review/claims/{id}/assign"),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    let (_, queue) = f.get(&elsewhere, "/api/v1/review/claims").await;
    assert!(queue["items"].as_array().unwrap().is_empty(), "{queue}");
    for who in [&worker, &manager] {
        assert_eq!(
            f.app.get_as(who, "/api/v1/review/claims").await.status(),
            403
        );
        let (status, _) = f
            .post(
                who,
                &format!("/api/v1/review/claims/{id}/assign"),
                json!({}),
            )
            .await;
        assert_eq!(status, 403);
    }
    // The claimant withdraws before a decision; the invoices and limits are free again.
    let (status, withdrawn) = f
        .post(&worker, &format!("/api/v1/claims/{id}/withdraw"), json!({}))
        .await;
    assert_eq!(status, 200, "{withdrawn}");
    assert_eq!(withdrawn["status"], "withdrawn");
    let (status, again) = f
        .post(&worker, &format!("/api/v1/claims/{id}/withdraw"), json!({}))
        .await;
    assert_eq!(status, 409);
    assert_eq!(again["errors"]["status"], "withdrawn");
}

#[tokio::test]
async fn documents_are_checked_by_content_sealed_at_rest_and_fail_when_damaged() {
    let f = fixture().await;
    let worker = f.member("13900000501", "501").await;
    let enrollment = f.enrollment_id(&worker).await;
    let (_, claim) = f
        .file(
            &worker,
            hospital_claim(&enrollment, json!({"kind": "wechat_balance"})),
        )
        .await;
    let id = claim["id"].as_str().unwrap().to_owned();

    // Not what it claims to be (a script named photo.jpg), and HEIC.
    let (status, refused) = f
        .upload(&worker, &id, "invoice", b"#!/bin/sh\nrm -rf /\n")
        .await;
    assert_eq!(status, 415, "{refused}");
    assert_eq!(refused["code"], "claim.document_type");
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic");
    heic.extend_from_slice(&[0; 64]);
    let (status, refused) = f.upload(&worker, &id, "invoice", &heic).await;
    assert_eq!(status, 415, "{refused}");
    assert_eq!(refused["code"], "claim.document_heic");
    assert!(refused["detail"].as_str().unwrap().contains("JPEG"));
    let (status, refused) = f.upload(&worker, &id, "no_such_kind", &png()).await;
    assert_eq!(status, 400, "{refused}");

    // Stored sealed: the object holds no image and not the PDF's text.
    let (status, doc) = f.upload(&worker, &id, "discharge_summary", PDF).await;
    assert_eq!(status, 201, "{doc}");
    let doc_id = doc["id"].as_str().unwrap().to_owned();
    let key = {
        let doc_id = doc_id.clone();
        f.app
            .state
            .db
            .run(move |conn| {
                use diesel::prelude::*;
                use gongyou_db::schema::{claim_documents as d, stored_files as s};
                let file: Option<String> = d::table.find(&doc_id).select(d::file_id).first(conn)?;
                s::table
                    .find(file.unwrap())
                    .select(s::object_key)
                    .first::<String>(conn)
                    .map_err(gongyou_db::DbError::from)
            })
            .await
            .unwrap()
    };
    let store = &f.app.state.providers.files;
    let mut object = store.get(&key).await.unwrap().unwrap();
    assert!(
        !object.windows(5).any(|w| w == b"%PDF-"),
        "no plain PDF at rest"
    );
    assert!(!object.windows(7).any(|w| w == b"Catalog"));
    let (status, png_doc) = f
        .upload(&worker, &id, "medical_record_front_page", &png())
        .await;
    assert_eq!(status, 201, "{png_doc}");
    let served = f
        .app
        .get_as(&worker, png_doc["url"].as_str().unwrap())
        .await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");

    // A wrong photo is removed from the draft: gone from the claim and from the store.
    let png_url = png_doc["url"].as_str().unwrap().to_owned();
    let delete = |who: &Session, url: String| {
        let r = f
            .app
            .client
            .delete(f.app.url(&url))
            .header("Authorization", who.bearer());
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(delete(&worker, png_url.clone()).await, 204);
    assert_eq!(delete(&worker, png_url.clone()).await, 404);
    assert_eq!(f.app.get_as(&worker, &png_url).await.status(), 404);
    let (_, claim) = f.get(&worker, &format!("/api/v1/claims/{id}")).await;
    assert_eq!(claim["documents"].as_array().unwrap().len(), 1, "{claim}");
    assert!(codes(&claim["missing"]).contains(&"document_missing".to_owned()));

    // A flipped byte: the download fails instead of serving damaged content.
    let middle = object.len() / 2;
    object[middle] ^= 0x01;
    store.put(&key, object).await.unwrap();
    let damaged = f.app.get_as(&worker, doc["url"].as_str().unwrap()).await;
    assert_eq!(damaged.status(), 500);
    let problem: Value = damaged.json().await.unwrap();
    assert_eq!(problem["code"], "file.corrupt");
}

#[tokio::test]
async fn erasure_waits_until_no_claim_is_open() {
    let f = fixture().await;
    let phone = "13900000601";
    let worker = f.member(phone, "601").await;
    let id = f.submitted(&worker).await;
    let proof = f.step_up(&worker, phone).await;
    let refused = f
        .app
        .client
        .delete(f.app.url("/api/v1/me"))
        .header("Authorization", worker.bearer())
        .header("X-Step-Up-Token", &proof)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "membership.claims_open");
    assert!(problem["detail"].as_str().unwrap().contains("理赔"));

    let (status, _) = f
        .post(&worker, &format!("/api/v1/claims/{id}/withdraw"), json!({}))
        .await;
    assert_eq!(status, 200);
    // The member's export holds the claim, unmasked (it is theirs).
    let export: Value = f
        .app
        .client
        .get(f.app.url("/api/v1/me/data-export"))
        .header("Authorization", worker.bearer())
        .header("X-Step-Up-Token", &proof)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(export["claims"][0]["id"], id.as_str(), "{export}");
    assert_eq!(export["claims"][0]["diagnosis"], "右侧桡骨远端骨折");
    assert_eq!(
        export["claims"][0]["documents"].as_array().unwrap().len(),
        2
    );
    let erased = f
        .app
        .client
        .delete(f.app.url("/api/v1/me"))
        .header("Authorization", worker.bearer())
        .header("X-Step-Up-Token", &proof)
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 204);
    // The money record stays; the health data and the bank account go.
    let details = f
        .app
        .state
        .db
        .run(move |conn| gongyou_db::claims::details(conn, &id))
        .await
        .unwrap()
        .unwrap();
    assert!(details.hospital_enc.is_none() && details.diagnosis_enc.is_none());
    assert!(details.erased_at.is_some());
    let kept = {
        let id = details.claim_id.clone();
        f.app
            .state
            .db
            .run(move |conn| gongyou_db::claims::get(conn, &id))
            .await
            .unwrap()
            .expect("the money record is kept")
    };
    assert_eq!(kept.amount_fen, Some(100_000));

    // Housekeeping keeps it through the retention period (30 years), then deletes it.
    let housekeeping = |app: &TestApp| {
        let at = app.clock_now().naive_utc();
        let db = app.state.db.clone();
        async move {
            db.run(move |conn| gongyou_jobs::Housekeeping {}.enqueue(conn, at).map(|_| ()))
                .await
                .unwrap();
        }
    };
    let claim_id = details.claim_id.clone();
    let exists = |app: &TestApp| {
        let (db, id) = (app.state.db.clone(), claim_id.clone());
        async move {
            db.run(move |conn| gongyou_db::claims::get(conn, &id))
                .await
                .unwrap()
                .is_some()
        }
    };
    f.app.clock.advance(Duration::days(365 * 29));
    housekeeping(&f.app).await;
    f.app.job_worker().drain().await.unwrap();
    assert!(exists(&f.app).await);
    f.app.clock.advance(Duration::days(365 * 2));
    housekeeping(&f.app).await;
    f.app.job_worker().drain().await.unwrap();
    assert!(!exists(&f.app).await, "deleted after the retention period");
}

#[tokio::test]
async fn a_draft_is_edited_and_a_new_bank_account_needs_a_fresh_step_up() {
    let f = fixture().await;
    let phone = "13900000701";
    let worker = f.member(phone, "701").await;
    let enrollment = f.enrollment_id(&worker).await;
    let (status, draft) = f
        .file(
            &worker,
            hospital_claim(&enrollment, json!({"kind": "wechat_balance"})),
        )
        .await;
    assert_eq!(status, 201, "{draft}");
    let id = draft["id"].as_str().unwrap().to_owned();
    let put = |b: Value, proof: Option<String>| {
        let mut r = f
            .app
            .client
            .put(f.app.url(&format!("/api/v1/claims/{id}")))
            .header("Authorization", worker.bearer())
            .json(&b);
        if let Some(p) = proof {
            r = r.header("X-Step-Up-Token", p);
        }
        async move { body(r.send().await.unwrap()).await }
    };
    let bank = |account: &str| json!({"kind": "bank", "holder": "张小龙", "bank": "中国农业银行", "account": account});

    // A longer stay: the estimate follows.
    let mut longer = hospital_claim(&enrollment, json!({"kind": "wechat_balance"}));
    longer["incident"]["discharged_on"] = json!("2026-04-18");
    let (status, edited) = put(longer.clone(), None).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["amount"], "1600.00");
    assert_eq!(edited["revision"], 2);

    // A bank account: only with a step-up; the same account again needs none, a new one does.
    let mut with_bank = longer.clone();
    with_bank["payee"] = bank("6228480402564890018");
    let (status, refused) = put(with_bank.clone(), None).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["code"], "auth.step_up_required");
    let proof = f.step_up(&worker, phone).await;
    let (status, banked) = put(with_bank.clone(), Some(proof.clone())).await;
    assert_eq!(status, 200, "{banked}");
    assert_eq!(banked["payee"]["account_masked"], "6228***********0018");
    let (status, _) = put(with_bank.clone(), None).await;
    assert_eq!(status, 200, "the same account needs no new proof");
    let mut other_bank = longer.clone();
    other_bank["payee"] = bank("6228480402564890026");
    let (status, refused) = put(other_bank, None).await;
    assert_eq!(status, 403, "{refused}");

    // Absent payee keeps the one named; another benefit item is refused.
    let mut no_payee = longer.clone();
    no_payee.as_object_mut().unwrap().remove("payee");
    let (status, kept) = put(no_payee, None).await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["payee"]["kind"], "bank");
    assert_eq!(kept["payee"]["account_masked"], "6228***********0018");
    let mut other_item = longer.clone();
    other_item["benefit_code"] = json!("accident_death");
    let (status, refused) = put(other_item, None).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["code"], "claim.cover_fixed");

    // Malformed input is a 400 that names the field; nothing changes.
    let mut bad = longer.clone();
    bad["incident"]["occurred_on"] = json!("2026-02-30");
    let (status, refused) = put(bad, None).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["code"], "claim.invalid_date");
    let (_, unchanged) = f.get(&worker, &format!("/api/v1/claims/{id}")).await;
    assert_eq!(unchanged["incident"]["discharged_on"], "2026-04-18");

    // Someone else's enrollment is not found.
    let (status, refused) = f
        .file(
            &worker,
            hospital_claim("no-such-enrollment", json!({"kind": "wechat_balance"})),
        )
        .await;
    assert_eq!(status, 404, "{refused}");
    assert_eq!(refused["code"], "claim.enrollment_not_found");

    // The member's list.
    let (status, mine) = f.get(&worker, "/api/v1/me/claims?limit=1").await;
    assert_eq!(status, 200);
    assert_eq!(mine["items"][0]["id"], id.as_str());
}

#[tokio::test]
async fn a_document_over_the_size_limit_is_refused_before_it_is_kept() {
    let app = spawn_app_with(
        [(
            "GONGYOU_CLAIM_DOCUMENT_MAX_BYTES".to_owned(),
            "4096".to_owned(),
        )]
        .into(),
    )
    .await;
    let f = fixture_on(app).await;
    let worker = f.member("13900000801", "801").await;
    let enrollment = f.enrollment_id(&worker).await;
    let (_, claim) = f
        .file(
            &worker,
            hospital_claim(&enrollment, json!({"kind": "wechat_balance"})),
        )
        .await;
    let id = claim["id"].as_str().unwrap();
    let mut big = PDF.to_vec();
    big.splice(9..9, std::iter::repeat_n(b' ', 5000));
    let (status, refused) = f.upload(&worker, id, "other", &big).await;
    assert_eq!(status, 413, "{refused}");
    assert_eq!(refused["code"], "claim.document_too_large");
    let (status, ok) = f.upload(&worker, id, "other", PDF).await;
    assert_eq!(status, 201, "{ok}");
    let (_, claim) = f.get(&worker, &format!("/api/v1/claims/{id}")).await;
    assert_eq!(claim["documents"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_review_queue_pages_by_keyset_and_filters() {
    let f = fixture().await;
    let workers = f
        .members(&[
            ("13900000901", "901"),
            ("13900000902", "902"),
            ("13900000903", "903"),
        ])
        .await;
    // All submitted at the same instant (the clock stands still): ties go by id.
    let mut ids = Vec::new();
    for w in &workers {
        ids.push(f.submitted(w).await);
    }
    ids.sort();
    let reviewer = f.staff("demo-reviewer").await;
    let (_, all) = f.get(&reviewer, "/api/v1/review/claims").await;
    let listed: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, ids, "oldest first, then by id");
    assert!(all["next_cursor"].is_null());

    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/review/claims?limit=1&cursor={c}"),
            None => "/api/v1/review/claims?limit=1".to_owned(),
        };
        let (status, page) = f.get(&reviewer, &path).await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().unwrap() {
            walked.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(walked, ids, "every claim once, in order");
    let (status, bad) = f
        .get(&reviewer, "/api/v1/review/claims?cursor=nonsense")
        .await;
    assert_eq!(status, 400, "{bad}");

    // Scopes one inside another list each claim once; a scope without claims, none.
    let admin = f.staff("demo-admin").await;
    let (sichuan, chengdu, shenzhen) = (
        f.app.org_id("四川省总工会").await,
        f.app.org_id("成都市总工会").await,
        f.app.org_id("深圳市总工会").await,
    );
    f.app
        .create_staff(
            &admin,
            "nested-scopes",
            &sichuan,
            &[
                ("claims_reviewer", &sichuan),
                ("finance_approver", &chengdu),
            ],
        )
        .await;
    let nested = f.staff("nested-scopes").await;
    let (_, page) = f.get(&nested, "/api/v1/review/claims").await;
    let listed: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids, "{page}");
    f.app
        .create_staff(
            &admin,
            "shenzhen-reviewer",
            &shenzhen,
            &[("claims_reviewer", &shenzhen)],
        )
        .await;
    let elsewhere = f.staff("shenzhen-reviewer").await;
    let (_, page) = f.get(&elsewhere, "/api/v1/review/claims").await;
    assert!(page["items"].as_array().unwrap().is_empty(), "{page}");

    // Filters: status, amount, mine.
    let (status, _) = f
        .post(
            &reviewer,
            &format!("/api/v1/review/claims/{}/assign", ids[1]),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    for (query, expected) in [
        ("status=under_review", vec![ids[1].clone()]),
        ("status=submitted", vec![ids[0].clone(), ids[2].clone()]),
        ("mine=true", vec![ids[1].clone()]),
        ("min_amount=1000.00&max_amount=1000", ids.clone()),
        ("min_amount=1000.01", vec![]),
        (
            "plan_code=claims-2026&benefit_code=hospital_daily",
            ids.clone(),
        ),
        ("benefit_code=medical", vec![]),
        ("waiting_hours=1", vec![]),
    ] {
        let (status, page) = f
            .get(&reviewer, &format!("/api/v1/review/claims?{query}"))
            .await;
        assert_eq!(status, 200, "{query}: {page}");
        let got: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, expected, "{query}");
    }
    f.app.clock.advance(Duration::hours(2));
    let reviewer = f.staff("demo-reviewer").await;
    let (_, waited) = f
        .get(&reviewer, "/api/v1/review/claims?waiting_hours=1")
        .await;
    assert_eq!(waited["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_claim_stays_with_the_union_it_was_filed_in() {
    let f = fixture().await;
    let worker = f.member("13900001001", "104").await;
    let before = f.submitted(&worker).await;

    // The member moves to a union in 深圳.
    let nanshan = f.app.org_id("南山区外卖骑手工会").await;
    let (status, transfer) = f
        .post(
            &worker,
            "/api/v1/me/membership/transfers",
            json!({"to_org_id": nanshan, "reason": "换城市跑单"}),
        )
        .await;
    assert_eq!(status, 201, "{transfer}");
    let admin = f.staff("demo-admin").await;
    let (status, approved) = f
        .post(
            &admin,
            &format!(
                "/api/v1/admin/membership/transfers/{}/approve",
                transfer["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    let shenzhen = f.app.org_id("深圳市总工会").await;
    f.app
        .create_staff(
            &admin,
            "sz-claims",
            &shenzhen,
            &[("claims_reviewer", &shenzhen)],
        )
        .await;
    let sichuan_reviewer = f.staff("demo-reviewer").await;
    let shenzhen_reviewer = f.staff("sz-claims").await;

    // The claim filed before stays with 四川.
    let path = format!("/api/v1/claims/{before}");
    assert_eq!(f.app.get_as(&sichuan_reviewer, &path).await.status(), 200);
    assert_eq!(f.app.get_as(&shenzhen_reviewer, &path).await.status(), 404);
    let (_, queue) = f.get(&sichuan_reviewer, "/api/v1/review/claims").await;
    assert_eq!(queue["items"][0]["id"], before.as_str());

    // A claim filed after the move belongs to the new union (the cover is still 四川's plan).
    let enrollment = f.enrollment_id(&worker).await;
    let mut later = hospital_claim(&enrollment, json!({"kind": "wechat_balance"}));
    later["incident"]["occurred_on"] = json!("2026-04-17");
    later["incident"]["admitted_on"] = json!("2026-04-17");
    later["incident"]["discharged_on"] = json!("2026-04-19");
    let (status, after) = f.file(&worker, later).await;
    assert_eq!(status, 201, "{after}");
    let path = format!("/api/v1/claims/{}", after["id"].as_str().unwrap());
    let (status, seen) = f.get(&shenzhen_reviewer, &path).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["staff"]["org_id"], nanshan.as_str());
    assert_eq!(f.app.get_as(&sichuan_reviewer, &path).await.status(), 404);
}
