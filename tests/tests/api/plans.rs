//! Protection plans: admins write, publish, version and close them; members check
//! eligibility (every unmet rule), enroll with one tap (dates in Asia/Shanghai at the
//! window's edges and across midnight), and see all their cover in "my protection".

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use gongyou_tests::session::{id_number, Session, DEMO_PASSWORD};
use gongyou_tests::{spawn_app, TestApp};
use serde_json::{json, Value};

fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

async fn body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

fn benefits() -> Value {
    json!([
        {"code": "accident_death", "name": "意外身故伤残", "kind": "lump_sum", "amount": "30000.00",
         "waiting_days": {"illness": 0, "accident": 0}, "documents": ["id_front", "accident_proof"]},
        {"code": "hospital_daily", "name": "住院津贴", "kind": "daily_allowance",
         "amount_per_day": "200", "max_days_per_year": 30,
         "waiting_days": {"illness": 30, "accident": 0},
         "documents": ["medical_record_front_page", "discharge_summary"]},
        {"code": "medical", "name": "医疗报销", "kind": "reimbursement", "percent": "80",
         "per_claim_cap": "5000.00", "yearly_cap": "20000.00",
         "waiting_days": {"illness": 60, "accident": 0}, "documents": ["invoice"]}
    ])
}

fn terms(name: &str, window: (&str, &str), coverage: (&str, &str), eligibility: Value) -> Value {
    json!({
        "name": name,
        "description": "测试用保障计划",
        "enrollment_opens_on": window.0,
        "enrollment_closes_on": window.1,
        "coverage_starts_on": coverage.0,
        "coverage_ends_on": coverage.1,
        "eligibility": eligibility,
        "benefits": benefits(),
    })
}

struct Fixture {
    app: TestApp,
    admin: Session,
    sichuan: String,
}

async fn fixture(at: DateTime<Utc>) -> Fixture {
    let app = spawn_app().await;
    app.seed().await;
    app.clock.set(at);
    let admin = app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await;
    let sichuan = app.org_id("四川省总工会").await;
    Fixture {
        app,
        admin,
        sichuan,
    }
}

impl Fixture {
    async fn create(&self, code: &str, terms: Value) -> (u16, Value) {
        body(
            self.app
                .post_json_as(
                    &self.admin,
                    "/api/v1/admin/plans",
                    &json!({"code": code, "sponsor_org_id": self.sichuan, "terms": terms}),
                )
                .await,
        )
        .await
    }

    async fn publish(&self, code: &str) -> (u16, Value) {
        body(
            self.app
                .post_json_as(
                    &self.admin,
                    &format!("/api/v1/admin/plans/{code}/publish"),
                    &json!({}),
                )
                .await,
        )
        .await
    }

    async fn published(&self, code: &str, terms: Value) {
        let (status, created) = self.create(code, terms).await;
        assert_eq!(status, 201, "{created}");
        let (status, published) = self.publish(code).await;
        assert_eq!(status, 200, "{published}");
        assert_eq!(published["plan"]["status"], "published");
    }

    async fn enroll(&self, who: &Session, code: &str) -> (u16, Value) {
        body(
            self.app
                .client
                .post(self.app.url(&format!("/api/v1/plans/{code}/enrollments")))
                .header("Authorization", who.bearer())
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn get(&self, who: &Session, path: &str) -> (u16, Value) {
        body(self.app.get_as(who, path).await).await
    }
}

fn codes(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_unmet_rule_is_explained_and_a_fitting_member_enrolls_once() {
    let f = fixture(shanghai(2026, 6, 15, 10, 0)).await;
    let window = ("2026-06-01", "2026-06-30");
    let coverage = ("2026-06-01", "2026-12-31");
    f.published(
        "strict-2026",
        terms(
            "严格计划",
            window,
            coverage,
            json!({"occupations": ["courier"], "region_codes": ["440000"], "min_age": 40,
                   "min_platform_tenure_months": 3, "min_membership_days": 30}),
        ),
    )
    .await;
    f.published(
        "open-2026",
        terms(
            "普惠计划",
            window,
            coverage,
            json!({"region_codes": ["510000"]}),
        ),
    )
    .await;

    // Not a member: the one thing to do is join.
    let stranger = f.app.sign_in_worker("13600000001").await;
    let (status, e) = f
        .get(&stranger, "/api/v1/plans/open-2026/eligibility")
        .await;
    assert_eq!(status, 200);
    assert_eq!(e["eligible"], false);
    assert_eq!(codes(&e["unmet"]), ["membership_inactive"]);
    let (status, listed) = f.get(&stranger, "/api/v1/plans").await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");

    // A 锦江 delivery rider born 1990-03-15, joined today, no platform start date.
    let (rider, _) = f
        .app
        .new_member("13600000002", &id_number("510104", "19900315", "123"))
        .await;
    let (_, e) = f.get(&rider, "/api/v1/plans/strict-2026/eligibility").await;
    assert_eq!(e["eligible"], false);
    assert_eq!(
        codes(&e["unmet"]),
        [
            "occupation_not_covered",
            "region_not_covered",
            "age_below_minimum",
            "tenure_unknown",
            "membership_too_recent"
        ],
        "{e}"
    );
    for u in e["unmet"].as_array().unwrap() {
        assert!(!u["detail"].as_str().unwrap().is_empty());
    }
    let (status, refused) = f.enroll(&rider, "strict-2026").await;
    assert_eq!(status, 422);
    assert_eq!(refused["code"], "plan.not_eligible");
    assert_eq!(codes(&refused["errors"]).len(), 5, "{refused}");

    let (_, e) = f.get(&rider, "/api/v1/plans/open-2026/eligibility").await;
    assert_eq!(e["eligible"], true, "{e}");
    let (status, enrolled) = f.enroll(&rider, "open-2026").await;
    assert_eq!(status, 201, "{enrolled}");
    assert_eq!(enrolled["certificate_no"], "OPEN-2026-00000001");
    assert_eq!(enrolled["plan_version"], 1);
    assert_eq!(enrolled["effective_from"], "2026-06-16");
    assert_eq!(enrolled["effective_to"], "2026-12-31");
    assert_eq!(enrolled["waiting_ends_on"]["accident"], "2026-06-16");
    assert_eq!(enrolled["waiting_ends_on"]["illness"], "2026-08-15");
    assert_eq!(enrolled["status"], "not_started");
    assert_eq!(enrolled["source"], "app");

    // Once per member per plan.
    let (status, again) = f.enroll(&rider, "open-2026").await;
    assert_eq!(status, 409);
    assert_eq!(again["code"], "plan.already_enrolled");
    let (_, e) = f.get(&rider, "/api/v1/plans/open-2026/eligibility").await;
    assert_eq!(codes(&e["unmet"]), ["already_enrolled"]);
    let (_, listed) = f.get(&rider, "/api/v1/plans").await;
    let open = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "open-2026")
        .unwrap();
    assert_eq!(open["enrolled"], true);

    // Told through the outbox.
    let (_, inbox) = f.get(&rider, "/api/v1/me/notifications").await;
    let told = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["category"] == "plan_enrolled")
        .expect("a plan_enrolled notice");
    assert!(told["body"]
        .as_str()
        .unwrap()
        .contains("OPEN-2026-00000001"));

    // A member of a 深圳 union is outside a 四川 plan's reach: not listed, told why.
    let worker = f.app.sign_in_worker("13600000004").await;
    let mut form =
        gongyou_tests::session::application(&id_number("440305", "19930101", "789"), "440305");
    form["platform_started_on"] = json!("2025-01-01");
    let (status, app) = body(f.app.apply(&worker, &form).await).await;
    assert_eq!(status, 201, "{app}");
    let national = f.app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let (status, _) = body(
        f.app
            .post_json_as(
                &national,
                &format!(
                    "/api/v1/admin/membership/applications/{}/approve",
                    app["id"].as_str().unwrap()
                ),
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let (_, listed) = f.get(&worker, "/api/v1/plans").await;
    assert!(listed.as_array().unwrap().is_empty(), "{listed}");
    let (_, e) = f.get(&worker, "/api/v1/plans/open-2026/eligibility").await;
    assert_eq!(codes(&e["unmet"]), ["outside_reach", "region_not_covered"]);
}

#[tokio::test]
async fn enrollment_dates_at_the_window_edges_and_across_midnight_in_shanghai() {
    // 23:50 on the last day of the window, Asia/Shanghai (15:50 UTC).
    let f = fixture(shanghai(2026, 6, 30, 23, 50)).await;
    f.published(
        "june-window",
        terms(
            "六月计划",
            ("2026-06-01", "2026-06-30"),
            ("2026-06-01", "2026-12-31"),
            json!({}),
        ),
    )
    .await;
    f.published(
        "july-window",
        terms(
            "七月计划",
            ("2026-06-15", "2026-07-31"),
            ("2026-06-15", "2027-06-14"),
            json!({}),
        ),
    )
    .await;
    f.published(
        "later-window",
        terms(
            "晚开计划",
            ("2026-07-02", "2026-07-31"),
            ("2026-07-01", "2027-06-30"),
            json!({}),
        ),
    )
    .await;
    let (a, _) = f
        .app
        .new_member("13600000011", &id_number("510104", "19900315", "123"))
        .await;
    let (b, _) = f
        .app
        .new_member("13600000012", &id_number("510104", "19910315", "123"))
        .await;

    // The last minutes of the window: cover from the next day.
    let (status, e) = f.enroll(&a, "june-window").await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(e["effective_from"], "2026-07-01");
    let (status, e) = f.enroll(&a, "july-window").await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(e["effective_from"], "2026-07-01");

    // Ten minutes later it is 1 July in Shanghai (still 30 June in UTC).
    f.app.clock.advance(Duration::minutes(10));
    let (status, refused) = f.enroll(&b, "june-window").await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(codes(&refused["errors"]), ["enrollment_closed"]);
    let (status, e) = f.enroll(&b, "july-window").await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(
        e["effective_from"], "2026-07-02",
        "the day after, in Shanghai"
    );
    let (status, refused) = f.enroll(&b, "later-window").await;
    assert_eq!(status, 422);
    assert_eq!(codes(&refused["errors"]), ["enrollment_not_yet_open"]);

    // The first day of a window, at midnight.
    f.app.clock.set(shanghai(2026, 7, 2, 0, 0));
    let b = f.app.sign_in_worker("13600000012").await;
    let (status, e) = f.enroll(&b, "later-window").await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(e["effective_from"], "2026-07-03");
}

#[tokio::test]
async fn published_terms_never_change_and_a_new_version_is_made_instead() {
    let f = fixture(shanghai(2026, 3, 1, 9, 0)).await;
    let first = terms(
        "E路守护",
        ("2026-03-01", "2026-11-30"),
        ("2026-03-01", "2026-12-31"),
        json!({}),
    );
    let (status, created) = f.create("e-road", first.clone()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["plan"]["status"], "draft");
    assert!(created["current_version"].is_null());

    // A draft is the admins' alone, and editable.
    let (rider, _) = f
        .app
        .new_member("13600000021", &id_number("510104", "19900315", "123"))
        .await;
    assert_eq!(f.get(&rider, "/api/v1/plans/e-road").await.0, 404);
    let mut edited = first.clone();
    edited["name"] = json!("E路守护 2026");
    let (status, view) = body(
        f.app
            .patch_json_as(&f.admin, "/api/v1/admin/plans/e-road", &edited)
            .await,
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["plan"]["name"], "E路守护 2026");
    assert_eq!(f.publish("e-road").await.0, 200);
    assert_eq!(f.publish("e-road").await.0, 409, "nothing left to publish");

    let (status, e) = f.enroll(&rider, "e-road").await;
    assert_eq!(status, 201);
    assert_eq!(e["plan_version"], 1);

    // Published: 409, whatever the change.
    let mut richer = edited.clone();
    richer["benefits"][0]["amount"] = json!("50000.00");
    let (status, refused) = body(
        f.app
            .patch_json_as(&f.admin, "/api/v1/admin/plans/e-road", &richer)
            .await,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(refused["code"], "plan.terms_fixed");

    // Version 2: a draft copy to edit and publish.
    let (status, v2) = body(
        f.app
            .post_json_as(&f.admin, "/api/v1/admin/plans/e-road/versions", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{v2}");
    assert_eq!(v2["latest_version"], 2);
    assert_eq!(v2["current_version"], 1);
    assert_eq!(v2["plan"]["status"], "draft");
    assert_eq!(v2["plan"]["benefits"][0]["amount"], "30000.00");
    let (status, again) = body(
        f.app
            .post_json_as(&f.admin, "/api/v1/admin/plans/e-road/versions", &json!({}))
            .await,
    )
    .await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("plan.draft_exists"))
    );
    let (status, _) = body(
        f.app
            .patch_json_as(&f.admin, "/api/v1/admin/plans/e-road", &richer)
            .await,
    )
    .await;
    assert_eq!(status, 200);
    // Until v2 is published, members see v1.
    let (_, shown) = f.get(&rider, "/api/v1/plans/e-road").await;
    assert_eq!(shown["version"], 1);
    assert_eq!(shown["benefits"][0]["amount"], "30000.00");
    let (status, published) = f.publish("e-road").await;
    assert_eq!(status, 200);
    let statuses: Vec<&str> = published["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["superseded", "published"]);

    // The first member keeps version 1's terms; a new member gets version 2; nobody enrolls
    // twice across versions.
    let (status, mine) = f.get(&rider, "/api/v1/me/protection").await;
    assert_eq!(status, 200);
    assert_eq!(mine["covers"][0]["enrollment"]["plan_version"], 1);
    assert_eq!(
        mine["covers"][0]["benefits"][0]["benefit"]["amount"],
        "30000.00"
    );
    assert_eq!(f.enroll(&rider, "e-road").await.0, 409);
    let (newcomer, _) = f
        .app
        .new_member("13600000022", &id_number("510104", "19920315", "123"))
        .await;
    let (status, e) = f.enroll(&newcomer, "e-road").await;
    assert_eq!(status, 201);
    assert_eq!(e["plan_version"], 2);
    assert_eq!(e["certificate_no"], "E-ROAD-00000002");
    let (_, mine) = f.get(&newcomer, "/api/v1/me/protection").await;
    assert_eq!(
        mine["covers"][0]["benefits"][0]["benefit"]["amount"],
        "50000.00"
    );

    // Closed: no new enrollments; cover held stays.
    let (status, closed) = body(
        f.app
            .post_json_as(&f.admin, "/api/v1/admin/plans/e-road/close", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{closed}");
    let (late, _) = f
        .app
        .new_member("13600000023", &id_number("510104", "19930315", "123"))
        .await;
    let (status, refused) = f.enroll(&late, "e-road").await;
    assert_eq!(status, 422);
    assert_eq!(codes(&refused["errors"]), ["plan_not_open"]);
    let (_, mine) = f.get(&rider, "/api/v1/me/enrollments").await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn my_protection_shows_every_cover_and_what_is_still_waiting() {
    let f = fixture(shanghai(2026, 5, 10, 12, 0)).await;
    f.published(
        "accident-2026",
        terms(
            "意外保障",
            ("2026-01-01", "2026-11-30"),
            ("2026-01-01", "2026-12-31"),
            json!({}),
        ),
    )
    .await;
    f.published(
        "hospital-2026",
        terms(
            "住院保障",
            ("2026-01-01", "2026-11-30"),
            ("2026-01-01", "2026-12-31"),
            json!({}),
        ),
    )
    .await;
    f.published(
        "spare-2026",
        terms(
            "备用计划",
            ("2026-01-01", "2026-11-30"),
            ("2026-01-01", "2026-12-31"),
            json!({}),
        ),
    )
    .await;
    let (rider, _) = f
        .app
        .new_member("13600000031", &id_number("510104", "19900315", "123"))
        .await;
    assert_eq!(f.enroll(&rider, "accident-2026").await.0, 201);
    // Forty days later the first cover's 30-day illness wait is over; a second plan
    // joined now is still waiting.
    f.app.clock.advance(Duration::days(40));
    let rider = f.app.sign_in_worker("13600000031").await;
    assert_eq!(f.enroll(&rider, "hospital-2026").await.0, 201);

    let (status, p) = f.get(&rider, "/api/v1/me/protection").await;
    assert_eq!(status, 200, "{p}");
    let covers = p["covers"].as_array().unwrap();
    assert_eq!(covers.len(), 2);
    assert_eq!(covers[0]["enrollment"]["plan_code"], "accident-2026");
    assert_eq!(covers[0]["enrollment"]["status"], "in_force");
    assert_eq!(covers[1]["enrollment"]["status"], "not_started");
    let daily = |c: &Value| -> Value {
        c["benefits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["benefit"]["code"] == "hospital_daily")
            .unwrap()
            .clone()
    };
    let old = daily(&covers[0]);
    assert_eq!(old["illness_waiting_over"], true);
    assert_eq!(old["accident_waiting_over"], true);
    assert_eq!(old["illness_covered_from"], "2026-06-10");
    assert_eq!(old["left_this_period"], "6000.00");
    assert_eq!(old["days_left_this_period"], 30);
    assert_eq!(
        old["benefit"]["pays"],
        "住院每天 200.00 元，每个保障期最多 30 天"
    );
    let new = daily(&covers[1]);
    assert_eq!(new["illness_waiting_over"], false);
    assert_eq!(new["illness_covered_from"], "2026-07-20");
    assert!(new["status_text"].as_str().unwrap().contains("2026-07-19"));
    assert_eq!(
        p["available"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["code"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["spare-2026"]
    );
    assert!(
        p["summary"].as_str().unwrap().contains("1 项保障生效中"),
        "{p}"
    );
    assert!(
        p["summary"].as_str().unwrap().contains("1 个免费保障计划"),
        "{p}"
    );

    // Another worker sees none of it.
    let other = f.app.sign_in_worker("13600000032").await;
    let (_, theirs) = f.get(&other, "/api/v1/me/protection").await;
    assert!(theirs["covers"].as_array().unwrap().is_empty());
    assert_eq!(f.get(&other, "/api/v1/me/enrollments").await.1, json!([]));
}

#[tokio::test]
async fn plans_are_written_by_admins_of_the_sponsors_subtree_only() {
    let f = fixture(shanghai(2026, 3, 1, 9, 0)).await;
    let t = terms(
        "计划",
        ("2026-03-01", "2026-11-30"),
        ("2026-03-01", "2026-12-31"),
        json!({}),
    );
    f.published("sichuan-only", t.clone()).await;
    let shenzhen = f.app.org_id("深圳市总工会").await;
    let national = f.app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let sz_admin_id = f
        .app
        .create_staff(
            &national,
            "sz-admin",
            &shenzhen,
            &[("union_admin", &shenzhen)],
        )
        .await;
    let _ = sz_admin_id;
    let sz = f.app.sign_in_staff("sz-admin", DEMO_PASSWORD).await;
    // Outside the subtree: not found, not listed, not changeable.
    assert_eq!(f.get(&sz, "/api/v1/admin/plans/sichuan-only").await.0, 404);
    assert_eq!(f.get(&sz, "/api/v1/admin/plans").await.1, json!([]));
    for path in ["publish", "close", "versions"] {
        let (status, _) = body(
            f.app
                .post_json_as(
                    &sz,
                    &format!("/api/v1/admin/plans/sichuan-only/{path}"),
                    &json!({}),
                )
                .await,
        )
        .await;
        assert_eq!(status, 404, "{path}");
    }
    assert_eq!(
        f.app
            .patch_json_as(&sz, "/api/v1/admin/plans/sichuan-only", &t)
            .await
            .status(),
        404
    );
    // Nor may it sponsor a plan for 四川.
    let (status, refused) = body(
        f.app
            .post_json_as(
                &sz,
                "/api/v1/admin/plans",
                &json!({"code": "sz-for-sc", "sponsor_org_id": f.sichuan, "terms": t}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    // The national admin sees it; workers and staff keep to their sides.
    assert_eq!(
        f.get(&national, "/api/v1/admin/plans/sichuan-only").await.0,
        200
    );
    let worker = f.app.sign_in_worker("13600000041").await;
    assert_eq!(f.get(&worker, "/api/v1/admin/plans").await.0, 403);
    assert_eq!(f.get(&f.admin, "/api/v1/plans").await.0, 403);
    assert_eq!(f.get(&f.admin, "/api/v1/me/protection").await.0, 403);
    let (status, taken) = f.create("sichuan-only", t).await;
    assert_eq!(
        (status, taken["code"].as_str()),
        (409, Some("plan.code_taken"))
    );
}

#[tokio::test]
async fn bad_terms_are_refused_with_their_rule() {
    let f = fixture(shanghai(2026, 3, 1, 9, 0)).await;
    let good = terms(
        "计划",
        ("2026-03-01", "2026-11-30"),
        ("2026-03-01", "2026-12-31"),
        json!({}),
    );
    let with = |path: &[&str], value: Value| {
        let mut t = good.clone();
        let mut at = &mut t;
        for (i, key) in path.iter().enumerate() {
            if i + 1 == path.len() {
                at[*key] = value.clone();
            } else if let Ok(n) = key.parse::<usize>() {
                at = &mut at[n];
            } else {
                at = &mut at[*key];
            }
        }
        t
    };
    let cases = [
        (
            with(&["coverage_ends_on"], json!("2027-03-02")),
            422,
            "plan.invalid_dates",
        ),
        (
            with(&["enrollment_closes_on"], json!("2026-02-01")),
            422,
            "plan.invalid_dates",
        ),
        (
            with(&["coverage_starts_on"], json!("2026-02-30")),
            422,
            "plan.invalid_date",
        ),
        (
            with(&["coverage_starts_on"], json!("2026-3-1")),
            400,
            "plan.invalid_date",
        ),
        (
            with(&["benefits", "0", "amount"], json!("1.234")),
            400,
            "plan.invalid_amount",
        ),
        (
            with(&["benefits", "0", "amount"], json!("0")),
            422,
            "plan.benefit_amounts",
        ),
        (
            with(&["benefits", "0", "amount_per_day"], json!("10.00")),
            422,
            "plan.benefit_amounts",
        ),
        (
            with(&["benefits", "2", "yearly_cap"], json!("100.00")),
            422,
            "plan.benefit_amounts",
        ),
        (
            with(&["benefits", "2", "percent"], json!("100.5")),
            400,
            "plan.invalid_percent",
        ),
        (
            with(&["benefits", "1", "code"], json!("accident_death")),
            422,
            "plan.duplicate_benefit",
        ),
        (
            with(&["eligibility"], json!({"min_age": 60, "max_age": 30})),
            422,
            "plan.invalid_eligibility",
        ),
        (
            with(&["eligibility"], json!({"region_codes": ["999999"]})),
            400,
            "plan.invalid_region",
        ),
        (with(&["benefits"], json!([])), 400, "plan.invalid_benefits"),
        (with(&["name"], json!("x")), 400, "plan.invalid_name"),
        (with(&["surprise"], json!(1)), 400, "request.invalid_body"),
    ];
    for (t, status, code) in cases {
        let (got, problem) = f.create("bad-terms", t.clone()).await;
        assert_eq!((got, problem["code"].as_str()), (status, Some(code)), "{t}");
    }
    let (status, p) = body(
        f.app
            .post_json_as(
                &f.admin,
                "/api/v1/admin/plans",
                &json!({"code": "Bad Code", "sponsor_org_id": f.sichuan, "terms": good}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (400, Some("plan.invalid_code"))
    );
    // Nothing was stored.
    assert_eq!(f.get(&f.admin, "/api/v1/admin/plans").await.1, json!([]));
}

#[tokio::test]
async fn an_enrollment_replayed_with_its_key_answers_the_same() {
    let f = fixture(shanghai(2026, 3, 1, 9, 0)).await;
    f.published(
        "replay",
        terms(
            "计划",
            ("2026-03-01", "2026-11-30"),
            ("2026-03-01", "2026-12-31"),
            json!({}),
        ),
    )
    .await;
    let (rider, _) = f
        .app
        .new_member("13600000051", &id_number("510104", "19900315", "123"))
        .await;
    let send = || {
        f.app
            .client
            .post(f.app.url("/api/v1/plans/replay/enrollments"))
            .header("Authorization", rider.bearer())
            .header("Idempotency-Key", "enroll-1")
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let (_, mine) = f.get(&rider, "/api/v1/me/enrollments").await;
    assert_eq!(mine.as_array().unwrap().len(), 1);

    // The member's data export includes the cover.
    f.app.clock.advance(Duration::seconds(61));
    let code = f.app.sms_code("13600000051", "step_up").await;
    let proof: Value = f
        .app
        .post_json_as(&rider, "/api/v1/auth/step-up", &json!({"code": code}))
        .await
        .json()
        .await
        .unwrap();
    let export: Value = f
        .app
        .client
        .get(f.app.url("/api/v1/me/data-export"))
        .header("Authorization", rider.bearer())
        .header("X-Step-Up-Token", proof["step_up_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        export["enrollments"][0]["certificate_no"],
        first["certificate_no"]
    );
}

#[tokio::test]
async fn a_member_who_withdraws_keeps_the_cover_in_force() {
    let f = fixture(shanghai(2026, 3, 1, 9, 0)).await;
    f.published(
        "kept",
        terms(
            "保留计划",
            ("2026-03-01", "2026-11-30"),
            ("2026-03-01", "2026-12-31"),
            json!({}),
        ),
    )
    .await;
    let (rider, _) = f
        .app
        .new_member("13600000061", &id_number("510104", "19900315", "123"))
        .await;
    let (_, e) = f.enroll(&rider, "kept").await;
    let (status, left) = body(
        f.app
            .post_json_as(&rider, "/api/v1/me/membership/withdrawal", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{left}");
    let note = left["cover_kept"]
        .as_str()
        .expect("the withdrawal says what is kept");
    assert!(
        note.contains(e["certificate_no"].as_str().unwrap()),
        "{note}"
    );
    assert!(note.contains("2026-12-31"), "{note}");
    // Two days on the cover is in force, membership or not.
    f.app.clock.advance(Duration::days(2));
    let rider = f.app.sign_in_worker("13600000061").await;
    let (_, p) = f.get(&rider, "/api/v1/me/protection").await;
    assert_eq!(p["covers"][0]["enrollment"]["status"], "in_force");
    // No longer a member: nothing new to join.
    assert!(p["available"].as_array().unwrap().is_empty());
}
