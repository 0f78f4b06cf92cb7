//! Membership: apply → approve → card → verify, ID-number faults, identity conflicts,
//! transfers, withdrawal with erasure, suspension, scope, and no raw ID number anywhere.

use chrono::Duration;
use gongyou_tests::session::{application, id_number, Session, DEMO_PASSWORD};
use gongyou_tests::{spawn_app, TestApp};
use serde_json::{json, Value};

async fn body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn admin(app: &TestApp) -> Session {
    app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await
}

/// Every text value of every table, to prove what the database holds.
async fn database_text(app: &TestApp) -> String {
    app.state
        .db
        .run(|conn| {
            use diesel::RunQueryDsl;
            #[derive(diesel::QueryableByName)]
            struct V {
                #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
                v: Option<String>,
            }
            let schema = gongyou_db::introspect::read(conn)?;
            let mut all = String::new();
            for (table, info) in &schema.tables {
                for column in info.columns.keys() {
                    let rows: Vec<V> = diesel::sql_query(format!(
                        "SELECT CAST({column} AS TEXT) AS v FROM {table}"
                    ))
                    .load(conn)?;
                    for row in rows.into_iter().flat_map(|r| r.v) {
                        all.push_str(&row);
                        all.push('\n');
                    }
                }
            }
            Ok::<_, gongyou_db::DbError>(all)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn apply_approve_card_verify() {
    let app = spawn_app().await;
    app.seed().await;
    let id = id_number("510104", "19900307", "123");
    let worker = app.sign_in_worker("13100000001").await;
    let (status, submitted) = body(app.apply(&worker, &application(&id, "510104")).await).await;
    assert_eq!(status, 201, "{submitted}");
    assert_eq!(submitted["status"], "pending");
    assert_eq!(
        submitted["org"]["name"], "锦江区新就业形态劳动者工会",
        "routed to the grassroots union of the region"
    );
    assert_eq!(
        submitted["id_number"],
        format!("5101**********{}", &id[14..])
    );
    assert_eq!(
        submitted["age"],
        gongyou_domain::time::china_date(app.clock_now())
            .years_since(chrono::NaiveDate::from_ymd_opt(1990, 3, 7).unwrap())
            .unwrap()
    );
    assert_eq!(submitted["sex"], "male");
    assert!(
        submitted.get("identity_conflict").is_none(),
        "not shown to the applicant"
    );
    assert!(!submitted.to_string().contains(&id));

    let own: Value = app
        .get_as(
            &worker,
            &format!(
                "/api/v1/membership/applications/{}",
                submitted["id"].as_str().unwrap()
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["id"], submitted["id"]);
    let mine: Value = app
        .get_as(&worker, "/api/v1/me/membership")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["status"], "pending");

    let admin = admin(&app).await;
    let pending: Value = app
        .get_as(
            &admin,
            "/api/v1/admin/membership/applications?status=pending",
        )
        .await
        .json()
        .await
        .unwrap();
    let listed = pending["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == submitted["id"])
        .unwrap()
        .clone();
    assert_eq!(listed["identity_conflict"], false);
    assert_eq!(listed["phone"], "131****0001");
    let (status, membership) = body(
        app.post_json_as(
            &admin,
            &format!(
                "/api/v1/admin/membership/applications/{}/approve",
                submitted["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{membership}");
    let card_number = membership["card_number"].as_str().unwrap().to_owned();
    assert!(
        card_number.starts_with("510104") && card_number.len() == 15,
        "{card_number}"
    );
    assert!(gongyou_domain::membership::is_valid_card_number(
        &card_number
    ));
    assert_eq!(
        membership["joined_on"],
        gongyou_domain::time::china_date(app.clock_now()).to_string()
    );
    let again = app
        .post_json_as(
            &admin,
            &format!(
                "/api/v1/admin/membership/applications/{}/approve",
                submitted["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(again.status(), 409);

    let mine: Value = app
        .get_as(&worker, "/api/v1/me/membership")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["status"], "active");
    let card: Value = app
        .get_as(&worker, "/api/v1/me/membership/card")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(card["card_number"], card_number.as_str());
    assert_eq!(card["name"], "张*龙");
    let qr = card["qr"].as_str().unwrap().to_owned();

    let verify = |qr: String| {
        let (app, admin) = (&app, &admin);
        async move {
            body(
                app.post_json_as(
                    admin,
                    "/api/v1/membership/card-verifications",
                    &json!({"qr": qr}),
                )
                .await,
            )
            .await
        }
    };
    let (status, valid) = verify(qr.clone()).await;
    assert_eq!((status, valid["result"].as_str().unwrap()), (200, "valid"));
    assert_eq!(valid["name"], "张*龙");
    assert_eq!(valid["card_number"], card_number.as_str());

    // Forged: a changed character in the signature, or made-up text.
    let mut forged = qr.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(verify(forged).await.1["result"], "forged");
    assert_eq!(verify("GYC1.e30.abc".into()).await.1["result"], "forged");
    assert!(verify("GYC1.e30.abc".into()).await.1["name"].is_null());

    // Expired after five minutes.
    app.clock.advance(Duration::minutes(5));
    assert_eq!(verify(qr).await.1["result"], "expired");

    // Suspended: a fresh token no longer verifies, and no new card is shown.
    let fresh: Value = app
        .get_as(&worker, "/api/v1/me/membership/card")
        .await
        .json()
        .await
        .unwrap();
    let (status, suspended) = body(
        app.post_json_as(
            &admin,
            &format!(
                "/api/v1/admin/members/{}/suspend",
                membership["id"].as_str().unwrap()
            ),
            &json!({"reason": "核查平台工号"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, suspended["status"].as_str().unwrap()),
        (200, "suspended")
    );
    assert_eq!(
        verify(fresh["qr"].as_str().unwrap().to_owned()).await.1["result"],
        "not_active"
    );
    assert_eq!(
        app.get_as(&worker, "/api/v1/me/membership/card")
            .await
            .status(),
        409
    );
    let reinstated = app
        .post_json_as(
            &admin,
            &format!(
                "/api/v1/admin/members/{}/reinstate",
                membership["id"].as_str().unwrap()
            ),
            &json!({"reason": "核查完毕"}),
        )
        .await;
    assert_eq!(reinstated.status(), 200);
    assert_eq!(
        verify(fresh["qr"].as_str().unwrap().to_owned()).await.1["result"],
        "valid"
    );

    // An admin of another province verifies the card, but learns nothing of whose it is.
    let national = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let guangdong = app.org_id("广东省总工会").await;
    let created = app
        .post_json_as(
            &national,
            "/api/v1/admin/staff",
            &json!({
                "username": "gd-admin",
                "display_name": "广东管理员",
                "password": "guangdong-admin-2026",
                "org_id": guangdong,
                "roles": [{"role": "union_admin", "org_id": guangdong}],
            }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let gd_admin = app.sign_in_staff("gd-admin", "guangdong-admin-2026").await;
    let (status, elsewhere) = body(
        app.post_json_as(
            &gd_admin,
            "/api/v1/membership/card-verifications",
            &json!({"qr": fresh["qr"]}),
        )
        .await,
    )
    .await;
    assert_eq!((status, elsewhere["result"].as_str()), (200, Some("valid")));
    for field in ["name", "card_number", "org"] {
        assert!(
            elsewhere[field].is_null(),
            "{field} shown out of scope: {elsewhere}"
        );
    }
    // The national admin's scope covers every union.
    let (_, national_view) = body(
        app.post_json_as(
            &national,
            "/api/v1/membership/card-verifications",
            &json!({"qr": fresh["qr"]}),
        )
        .await,
    )
    .await;
    assert_eq!(national_view["name"], "张*龙");

    // Only station managers and admins verify cards.
    let reviewer = app.sign_in_staff("demo-reviewer", DEMO_PASSWORD).await;
    assert_eq!(
        app.post_json_as(
            &reviewer,
            "/api/v1/membership/card-verifications",
            &json!({"qr": "x"})
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        app.post_json_as(
            &worker,
            "/api/v1/membership/card-verifications",
            &json!({"qr": "x"})
        )
        .await
        .status(),
        403
    );

    // Every change is history, with actor and reason.
    let detail: Value = app
        .get_as(
            &admin,
            &format!(
                "/api/v1/admin/members/{}",
                membership["id"].as_str().unwrap()
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "application_submitted",
        "approved",
        "card_verified",
        "suspended",
        "reinstated",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let suspension = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "suspended")
        .unwrap();
    assert_eq!(suspension["reason"], "核查平台工号");
    assert_eq!(suspension["actor_kind"], "staff");

    assert!(
        !database_text(&app).await.contains(&id),
        "the raw ID number is not stored"
    );
}

#[tokio::test]
async fn each_id_number_fault_has_its_own_code() {
    let app = spawn_app().await;
    app.seed().await;
    let worker = app.sign_in_worker("13100000002").await;
    let good = id_number("510104", "19900307", "123");
    let mut bad_check = good.clone();
    let last = bad_check.pop().unwrap();
    bad_check.push(if last == '0' { '1' } else { '0' });
    let cases = [
        (bad_check, "membership.id_number_check_char"),
        (
            id_number("510104", "19900230", "123"),
            "membership.id_number_birth_date",
        ),
        (
            id_number("990104", "19900307", "123"),
            "membership.id_number_region",
        ),
        (
            id_number("510104", "20150307", "123"),
            "membership.age_not_eligible",
        ),
        (
            id_number("510104", "19400307", "123"),
            "membership.age_not_eligible",
        ),
        (
            "51010419900307123".to_owned(),
            "membership.id_number_format",
        ),
        (
            id_number("510104", "21000101", "123"),
            "membership.id_number_birth_date",
        ),
    ];
    for (id, code) in cases {
        let (status, problem) = body(app.apply(&worker, &application(&id, "510104")).await).await;
        assert_eq!(
            (status, problem["code"].as_str().unwrap_or_default()),
            (422, code),
            "{id}"
        );
        assert!(
            !problem.to_string().contains(&id),
            "the error does not echo the ID number"
        );
    }
    // Lower-case x is accepted.
    let x_id = (0..1000)
        .map(|n| id_number("110105", "19891231", &format!("{n:03}")))
        .find(|id| id.ends_with('X'))
        .unwrap();
    let lower = x_id.to_lowercase();
    let mut without_consent = application(&lower, "110105");
    without_consent["consents"]["sensitive_personal_information"] = json!(false);
    let (status, problem) = body(app.apply(&worker, &without_consent).await).await;
    assert_eq!(
        (status, problem["code"].as_str().unwrap()),
        (422, "membership.consent_required")
    );
    assert_eq!(
        problem["errors"]["consents"][0],
        "sensitive_personal_information"
    );
    assert_eq!(
        app.apply(&worker, &application(&lower, "110105"))
            .await
            .status(),
        201
    );

    // Malformed bodies are 400.
    let mut missing = application(&good, "510104");
    missing.as_object_mut().unwrap().remove("consents");
    assert_eq!(app.apply(&worker, &missing).await.status(), 400);
    let mut wrong_type = application(&good, "510104");
    wrong_type["occupation"] = json!("astronaut");
    assert_eq!(app.apply(&worker, &wrong_type).await.status(), 400);
}

#[tokio::test]
async fn a_second_account_with_the_same_id_number_gets_the_same_answer_and_a_review() {
    let app = spawn_app().await;
    app.seed().await;
    let id = id_number("510104", "19850101", "246");
    let (_owner, membership) = app.new_member("13100000003", &id).await;

    let impostor = app.sign_in_worker("13100000004").await;
    let honest = app.sign_in_worker("13100000005").await;
    let (s1, conflicted) = body(app.apply(&impostor, &application(&id, "510104")).await).await;
    let (s2, normal) = body(
        app.apply(
            &honest,
            &application(&id_number("510104", "19850101", "258"), "510104"),
        )
        .await,
    )
    .await;
    assert_eq!((s1, s2), (201, 201));
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&conflicted), keys(&normal), "same shape");
    assert_eq!(conflicted["status"], normal["status"]);
    assert!(conflicted.get("identity_conflict").is_none());

    let admin = admin(&app).await;
    let review: Value = app
        .get_as(
            &admin,
            "/api/v1/admin/membership/applications?identity_conflict=true",
        )
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = review["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![conflicted["id"].as_str().unwrap()]);
    let approve = app
        .post_json_as(
            &admin,
            &format!(
                "/api/v1/admin/membership/applications/{}/approve",
                conflicted["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    let (status, problem) = body(approve).await;
    assert_eq!(
        (status, problem["code"].as_str().unwrap()),
        (409, "membership.identity_in_use")
    );
    let members: Value = app
        .get_as(&admin, &format!("/api/v1/admin/members?q={id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        members["items"].as_array().unwrap().len(),
        1,
        "no second membership"
    );
    assert_eq!(members["items"][0]["id"], membership["id"]);
    let rejected = app
        .post_json_as(
            &admin,
            &format!(
                "/api/v1/admin/membership/applications/{}/reject",
                conflicted["id"].as_str().unwrap()
            ),
            &json!({"reason": "身份证号码已被他人使用"}),
        )
        .await;
    assert_eq!(rejected.status(), 200);

    // One open application per person.
    let again = app
        .apply(
            &honest,
            &application(&id_number("510104", "19850101", "258"), "510104"),
        )
        .await;
    assert_eq!(
        body(again).await.1["code"],
        "membership.application_pending"
    );
}

#[tokio::test]
async fn applying_twice_with_one_idempotency_key_creates_one_application() {
    let app = spawn_app().await;
    app.seed().await;
    let worker = app.sign_in_worker("13100000006").await;
    let form = application(&id_number("510105", "19920202", "111"), "510105");
    let send = || {
        app.client
            .post(app.url("/api/v1/membership/applications"))
            .header("Authorization", worker.bearer())
            .header("Idempotency-Key", "apply-1")
            .json(&form)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let second = send().await.unwrap();
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    assert!(!database_text(&app)
        .await
        .contains(form["id_number"].as_str().unwrap()));
}

#[tokio::test]
async fn transfers_are_decided_by_the_receiving_union() {
    let app = spawn_app().await;
    app.seed().await;
    let (member, membership) = app
        .new_member("13100000007", &id_number("510104", "19880808", "135"))
        .await;
    let root = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let qingyang = app.org_id("青羊区总工会").await;
    let jinjiang = app.org_id("锦江区总工会").await;
    app.create_staff(&root, "qy-admin", &qingyang, &[("union_admin", &qingyang)])
        .await;
    app.create_staff(&root, "jj-admin", &jinjiang, &[("union_admin", &jinjiang)])
        .await;
    let receiving = app.sign_in_staff("qy-admin", DEMO_PASSWORD).await;
    let sending = app.sign_in_staff("jj-admin", DEMO_PASSWORD).await;

    let target = app.org_id("青羊区快递外卖骑手工会").await;
    let federation = app
        .post_json_as(
            &member,
            "/api/v1/me/membership/transfers",
            &json!({"to_org_id": qingyang}),
        )
        .await;
    assert_eq!(
        federation.status(),
        422,
        "members belong to grassroots unions"
    );
    let (status, transfer) = body(
        app.post_json_as(
            &member,
            "/api/v1/me/membership/transfers",
            &json!({"to_org_id": target, "reason": "换了配送站"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{transfer}");
    assert_eq!(transfer["status"], "pending");
    assert_eq!(
        app.post_json_as(
            &member,
            "/api/v1/me/membership/transfers",
            &json!({"to_org_id": target})
        )
        .await
        .status(),
        409
    );

    let outgoing: Value = app
        .get_as(&sending, "/api/v1/admin/membership/transfers")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        outgoing["items"].as_array().unwrap().is_empty(),
        "the sending side does not decide"
    );
    let path = format!(
        "/api/v1/admin/membership/transfers/{}/approve",
        transfer["id"].as_str().unwrap()
    );
    assert_eq!(
        app.post_json_as(&sending, &path, &json!({})).await.status(),
        404
    );
    let incoming: Value = app
        .get_as(
            &receiving,
            "/api/v1/admin/membership/transfers?status=pending",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(incoming["items"][0]["member_name"], "张*龙");
    let (status, approved) = body(
        app.post_json_as(&receiving, &path, &json!({"note": "欢迎"}))
            .await,
    )
    .await;
    assert_eq!(
        (status, approved["status"].as_str().unwrap()),
        (200, "approved")
    );

    let mine: Value = app
        .get_as(&member, "/api/v1/me/membership")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["membership"]["org"]["id"], target.as_str());
    let new_card = mine["membership"]["card_number"].as_str().unwrap();
    assert!(new_card.starts_with("510105"), "{new_card}");
    assert_ne!(new_card, membership["card_number"].as_str().unwrap());
}

#[tokio::test]
async fn withdrawal_with_deletion_erases_personal_data() {
    let app = spawn_app().await;
    app.seed().await;
    let id = id_number("510107", "19930505", "777");
    let (member, membership) = app.new_member("13100000008", &id).await;
    assert!(database_text(&app).await.contains("张小龙"));
    let (status, withdrawn) = body(
        app.post_json_as(
            &member,
            "/api/v1/me/membership/withdrawal",
            &json!({"reason": "转行", "delete_personal_data": true}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{withdrawn}");
    assert_eq!(withdrawn["status"], "withdrawn");
    assert_eq!(withdrawn["erased"], true);
    assert_eq!(withdrawn["id_number"], Value::Null);
    assert_eq!(
        withdrawn["card_number"], membership["card_number"],
        "kept for finance records"
    );
    let stored = database_text(&app).await;
    assert!(!stored.contains("张小龙"), "the name is erased");
    assert!(!stored.contains(&id));
    assert!(!stored.contains("13100000008"), "the phone is erased");
    // Erasure closed the account: its session has ended.
    assert_eq!(app.get_as(&member, "/api/v1/me").await.status(), 401);
    // The identity and the phone are free again: signing in starts a new account.
    app.clock.advance(Duration::seconds(61));
    let member = app.sign_in_worker("13100000008").await;
    let again = app.apply(&member, &application(&id, "510107")).await;
    assert_eq!(again.status(), 201);
    let admin = admin(&app).await;
    let read = app
        .post_json_as(
            &admin,
            &format!(
                "/api/v1/admin/members/{}/identity-reads",
                membership["id"].as_str().unwrap()
            ),
            &json!({"purpose": "核对退会"}),
        )
        .await;
    assert_eq!(read.status(), 409);
}

#[tokio::test]
async fn staff_reads_of_the_unmasked_identity_are_recorded() {
    let app = spawn_app().await;
    app.seed().await;
    let id = id_number("510104", "19870707", "999");
    let (_member, membership) = app.new_member("13100000009", &id).await;
    let admin = admin(&app).await;
    let path = format!(
        "/api/v1/admin/members/{}",
        membership["id"].as_str().unwrap()
    );
    assert_eq!(
        app.post_json_as(
            &admin,
            &format!("{path}/identity-reads"),
            &json!({"purpose": ""})
        )
        .await
        .status(),
        422
    );
    let (status, identity) = body(
        app.post_json_as(
            &admin,
            &format!("{path}/identity-reads"),
            &json!({"purpose": "核实理赔身份"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(identity["id_number"], id.as_str());
    let detail: Value = app.get_as(&admin, &path).await.json().await.unwrap();
    assert_eq!(detail["identity_reads"][0]["purpose"], "核实理赔身份");
    assert!(detail["identity_reads"][0]["staff_id"].is_string());
    assert!(!detail.to_string().contains(&id));
}

#[tokio::test]
async fn members_export_their_data_after_a_step_up() {
    let app = spawn_app().await;
    app.seed().await;
    let id = id_number("510104", "19910909", "321");
    let (member, _) = app.new_member("13100000010", &id).await;
    assert_eq!(
        app.get_as(&member, "/api/v1/me/data-export").await.status(),
        403
    );
    app.clock.advance(Duration::seconds(61));
    let code = app.sms_code("13100000010", "step_up").await;
    let proof: Value = app
        .post_json_as(&member, "/api/v1/auth/step-up", &json!({"code": code}))
        .await
        .json()
        .await
        .unwrap();
    let export = app
        .client
        .get(app.url("/api/v1/me/data-export"))
        .header("Authorization", member.bearer())
        .header("X-Step-Up-Token", proof["step_up_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    let export: Value = export.json().await.unwrap();
    assert_eq!(
        export["memberships"][0]["id_number"],
        id.as_str(),
        "their own data, unmasked"
    );
    assert_eq!(export["account"]["phone"], "13100000010");
    assert!(!export["history"].as_array().unwrap().is_empty());
    // A proof is bound to its session and expires.
    app.clock.advance(Duration::minutes(5));
    let late = app
        .client
        .get(app.url("/api/v1/me/data-export"))
        .header("Authorization", member.bearer())
        .header("X-Step-Up-Token", proof["step_up_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let (status, problem) = body(late).await;
    assert_eq!(
        (status, problem["code"].as_str().unwrap()),
        (403, "auth.step_up_required")
    );
}

#[tokio::test]
async fn another_branch_cannot_see_or_decide_applications_or_members() {
    let app = spawn_app().await;
    app.seed().await;
    let root = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let shenzhen = app.org_id("深圳市总工会").await;
    app.create_staff(&root, "sz-admin", &shenzhen, &[("union_admin", &shenzhen)])
        .await;
    let sz = app.sign_in_staff("sz-admin", DEMO_PASSWORD).await;
    let worker = app.sign_in_worker("13100000011").await;
    let (_, submitted) = body(
        app.apply(
            &worker,
            &application(&id_number("510104", "19890909", "159"), "510104"),
        )
        .await,
    )
    .await;
    let app_id = submitted["id"].as_str().unwrap();

    let list: Value = app
        .get_as(&sz, "/api/v1/admin/membership/applications")
        .await
        .json()
        .await
        .unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
    assert_eq!(
        app.get_as(&sz, &format!("/api/v1/membership/applications/{app_id}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.post_json_as(
            &sz,
            &format!("/api/v1/admin/membership/applications/{app_id}/approve"),
            &json!({})
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        app.post_json_as(
            &sz,
            &format!("/api/v1/admin/membership/applications/{app_id}/reject"),
            &json!({"reason": "x"})
        )
        .await
        .status(),
        404
    );
    // Another worker cannot read it either.
    let other = app.sign_in_worker("13100000012").await;
    assert_eq!(
        app.get_as(&other, &format!("/api/v1/membership/applications/{app_id}"))
            .await
            .status(),
        404
    );

    let (status, membership) = body(
        app.post_json_as(
            &admin(&app).await,
            &format!("/api/v1/admin/membership/applications/{app_id}/approve"),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let member_path = format!(
        "/api/v1/admin/members/{}",
        membership["id"].as_str().unwrap()
    );
    assert_eq!(app.get_as(&sz, &member_path).await.status(), 404);
    assert_eq!(
        app.post_json_as(
            &sz,
            &format!("{member_path}/suspend"),
            &json!({"reason": "x"})
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        app.post_json_as(
            &sz,
            &format!("{member_path}/identity-reads"),
            &json!({"purpose": "curious"})
        )
        .await
        .status(),
        404
    );
    let found: Value = app
        .get_as(&sz, "/api/v1/admin/members")
        .await
        .json()
        .await
        .unwrap();
    assert!(found["items"].as_array().unwrap().is_empty());
    // Workers are refused every admin endpoint.
    for path in [
        "/api/v1/admin/membership/applications",
        "/api/v1/admin/members",
        "/api/v1/admin/membership/transfers",
    ] {
        assert_eq!(app.get_as(&worker, path).await.status(), 403, "{path}");
    }
}

#[tokio::test]
async fn routing_and_auto_approval_are_configurable() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = admin(&app).await;
    // The city's sector federation takes 锦江区's ride-hailing drivers (instead of 锦江区's union).
    let wuhou = app.org_id("成都市新就业形态行业工会联合会").await;
    let settings = json!({"auto_approve": true, "routes": [{"region_code": "510104", "occupation": "ride_hailing_driver"}]});
    let put = app
        .client
        .put(app.url(&format!("/api/v1/admin/orgs/{wuhou}/membership-settings")))
        .header("Authorization", admin.bearer())
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let bad =
        json!({"auto_approve": true, "routes": [{"region_code": "440305", "occupation": "any"}]});
    let put = app
        .client
        .put(app.url(&format!("/api/v1/admin/orgs/{wuhou}/membership-settings")))
        .header("Authorization", admin.bearer())
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 422, "深圳 is outside 成都");
    let stored: Value = app
        .get_as(
            &admin,
            &format!("/api/v1/admin/orgs/{wuhou}/membership-settings"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stored, settings,
        "a refused change leaves the settings as they were"
    );

    let driver = app.sign_in_worker("13100000013").await;
    let mut form = application(&id_number("510104", "19800101", "101"), "510104");
    form["occupation"] = json!("ride_hailing_driver");
    let (status, submitted) = body(app.apply(&driver, &form).await).await;
    assert_eq!(status, 201);
    assert_eq!(submitted["org"]["id"], wuhou.as_str());
    assert_eq!(
        submitted["status"], "pending",
        "every submission answers alike"
    );
    let worker = app.job_worker();
    assert_eq!(
        worker.drain().await.unwrap(),
        1 + gongyou_services::notifications::outbox::DISPATCH_SHARDS,
        "the auto-approval job, then the notification dispatchers it woke"
    );
    let mine: Value = app
        .get_as(&driver, "/api/v1/me/membership")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["status"], "active");

    // A region with no union of its own goes to the nearest union above it.
    let rider = app.sign_in_worker("13100000014").await;
    let (_, elsewhere) = body(
        app.apply(
            &rider,
            &application(&id_number("510112", "19800101", "103"), "510112"),
        )
        .await,
    )
    .await;
    // 龙泉驿区 has no union in the demo: the city's 新就业形态 sector federation takes it.
    assert_eq!(
        elsewhere["org"]["name"], "成都市新就业形态行业工会联合会",
        "{elsewhere}"
    );
}

#[tokio::test]
async fn erasure_can_be_asked_after_withdrawing() {
    let app = spawn_app().await;
    app.seed().await;
    let id = id_number("510104", "19940404", "444");
    let (member, _) = app.new_member("13100000015", &id).await;
    let (status, withdrawn) = body(
        app.post_json_as(
            &member,
            "/api/v1/me/membership/withdrawal",
            &json!({"reason": "搬家"}),
        )
        .await,
    )
    .await;
    assert_eq!((status, withdrawn["erased"].as_bool()), (200, Some(false)));
    assert!(database_text(&app).await.contains("张小龙"));
    let (status, erased) = body(
        app.post_json_as(
            &member,
            "/api/v1/me/membership/withdrawal",
            &json!({"delete_personal_data": true}),
        )
        .await,
    )
    .await;
    assert_eq!((status, erased["erased"].as_bool()), (200, Some(true)));
    assert!(!database_text(&app).await.contains("张小龙"));
    // The account is closed: nothing more to withdraw or erase with it.
    let again = app
        .post_json_as(
            &member,
            "/api/v1/me/membership/withdrawal",
            &json!({"delete_personal_data": true}),
        )
        .await;
    assert_eq!(again.status(), 401);
}

#[tokio::test]
async fn routes_and_regions_cannot_be_taken_from_sideways() {
    let app = spawn_app().await;
    app.seed().await;
    let root = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let jinjiang_union = app.org_id("锦江区新就业形态劳动者工会").await;
    let jinjiang = app.org_id("锦江区总工会").await;
    let sector = app.org_id("成都市新就业形态行业工会联合会").await;
    // 锦江's union takes its riders explicitly.
    let mine =
        json!({"auto_approve": false, "routes": [{"region_code": "510104", "occupation": "any"}]});
    let put = app
        .client
        .put(app.url(&format!(
            "/api/v1/admin/orgs/{jinjiang_union}/membership-settings"
        )))
        .header("Authorization", root.bearer())
        .json(&mine)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    app.create_staff(&root, "sector-admin", &sector, &[("union_admin", &sector)])
        .await;
    app.create_staff(&root, "jj-admin", &jinjiang, &[("union_admin", &jinjiang)])
        .await;
    let sector_admin = app.sign_in_staff("sector-admin", DEMO_PASSWORD).await;
    let grab =
        json!({"auto_approve": true, "routes": [{"region_code": "510104", "occupation": "any"}]});
    let put = app
        .client
        .put(app.url(&format!("/api/v1/admin/orgs/{sector}/membership-settings")))
        .header("Authorization", sector_admin.bearer())
        .json(&grab)
        .send()
        .await
        .unwrap();
    let (status, problem) = body(put).await;
    assert_eq!(
        (status, problem["code"].as_str().unwrap()),
        (409, "membership.route_taken")
    );
    // Nor can an admin widen their own union's region.
    let jj_admin = app.sign_in_staff("jj-admin", DEMO_PASSWORD).await;
    let widen = app
        .patch_json_as(
            &jj_admin,
            &format!("/api/v1/orgs/{jinjiang}"),
            &json!({"region_code": "510100"}),
        )
        .await;
    let (status, problem) = body(widen).await;
    assert_eq!(
        (status, problem["code"].as_str().unwrap()),
        (403, "org.changed_from_above")
    );
    // From above, a region that would leave a child outside is refused.
    let narrow = app
        .patch_json_as(
            &root,
            &format!("/api/v1/orgs/{jinjiang}"),
            &json!({"region_code": "510105"}),
        )
        .await;
    assert_eq!(body(narrow).await.1["code"], "org.region_excludes_children");
}

/// What an admin's member search finds for `q` (ID number, phone or name).
async fn found(app: &TestApp, admin: &Session, q: &str) -> usize {
    let page: Value = app
        .get_as(admin, &format!("/api/v1/admin/members?q={q}"))
        .await
        .json()
        .await
        .unwrap();
    page["items"].as_array().map_or(0, Vec::len)
}

async fn step_up_token(app: &TestApp, worker: &Session, phone: &str) -> String {
    let code = app.sms_code(phone, "step_up").await;
    let proof: Value = app
        .post_json_as(worker, "/api/v1/auth/step-up", &json!({"code": code}))
        .await
        .json()
        .await
        .unwrap();
    proof["step_up_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn erasure_leaves_no_trace_across_memberships_and_a_rejected_application() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = admin(&app).await;
    let phone = "13100000031";
    let id = id_number("510104", "19910101", "311");
    let worker = app.sign_in_worker(phone).await;
    let decide = |id: String, verdict: &'static str, reason: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let r = app
                .post_json_as(
                    admin,
                    &format!("/api/v1/admin/membership/applications/{id}/{verdict}"),
                    &json!({"reason": reason}),
                )
                .await;
            assert_eq!(r.status(), 200, "{verdict}");
            r.json::<Value>().await.unwrap()
        }
    };
    let apply = || async {
        let (status, app_view) = body(app.apply(&worker, &application(&id, "510104")).await).await;
        assert_eq!(status, 201, "{app_view}");
        app_view["id"].as_str().unwrap().to_owned()
    };
    // A rejected application whose reason describes the person…
    decide(apply().await, "reject", "照片与张小龙的证件不符").await;
    // …a first membership, left…
    decide(apply().await, "approve", "").await;
    let left = app
        .post_json_as(
            &worker,
            "/api/v1/me/membership/withdrawal",
            &json!({"reason": "张小龙回老家了"}),
        )
        .await;
    assert_eq!(left.status(), 200);
    // …and a second, live one; plus a report in their own words.
    let second = decide(apply().await, "approve", "").await;
    let chengdu = app.org_id("成都市总工会").await;
    let station: Value = app
        .post_json_as(
            &admin,
            "/api/v1/admin/stations",
            &json!({
                "org_id": chengdu, "type": "fixed", "name": "春熙路驿站",
                "address": "四川省成都市锦江区春熙路 1 号", "region_code": "510104",
                "lat": 30.657, "lng": 104.066, "amenities": ["drinking_water"],
                "hours": {"weekly": {"mon": [{"open": "00:00", "close": "24:00"}]}},
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let reported = app
        .post_json_as(
            &worker,
            &format!(
                "/api/v1/stations/{}/reports",
                station["id"].as_str().unwrap()
            ),
            &json!({"kind": "other", "note": "我是张小龙，电话13100000031，饮水机坏了"}),
        )
        .await;
    assert_eq!(reported.status(), 201);
    let index = app.state.crypto.blind_index("id_number", &id);
    let traces = [
        "张小龙",
        id.as_str(),
        phone,
        "MT-20260001",
        index.as_str(),
        "饮水机坏了",
    ];
    let stored = database_text(&app).await;
    for trace in traces.iter().filter(|t| **t != id) {
        assert!(stored.contains(trace), "{trace} is stored before erasure");
    }
    assert!(
        !stored.contains(&id),
        "the ID number is only ever stored encrypted"
    );
    assert_eq!(found(&app, &admin, &id).await, 2);
    assert_eq!(found(&app, &admin, phone).await, 2);
    assert_eq!(found(&app, &admin, "张小龙").await, 2);

    // Erasure needs a fresh SMS step-up.
    let refused = app
        .client
        .delete(app.url("/api/v1/me"))
        .header("Authorization", worker.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    app.clock.advance(Duration::seconds(61));
    let proof = step_up_token(&app, &worker, phone).await;
    let erased = app
        .client
        .delete(app.url("/api/v1/me"))
        .header("Authorization", worker.bearer())
        .header("X-Step-Up-Token", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 204);

    // No trace of the person, by any of what identified them, anywhere in the database.
    let stored = database_text(&app).await;
    for trace in traces {
        assert!(!stored.contains(trace), "{trace} survived erasure");
    }
    assert_eq!(found(&app, &admin, &id).await, 0);
    assert_eq!(found(&app, &admin, phone).await, 0);
    assert_eq!(found(&app, &admin, "张小龙").await, 0);
    // The register keeps that a membership existed (ids, dates, card number), and that it
    // was erased.
    let detail: Value = app
        .get_as(
            &admin,
            &format!("/api/v1/admin/members/{}", second["id"].as_str().unwrap()),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["membership"]["erased"], true);
    assert_eq!(detail["membership"]["status"], "withdrawn");
    assert_eq!(detail["membership"]["card_number"], second["card_number"]);
    let kinds: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"personal_data_erased"), "{kinds:?}");
    // The account is closed; the phone signs in as a new person, with nothing on file.
    assert_eq!(app.get_as(&worker, "/api/v1/me").await.status(), 401);
    app.clock.advance(Duration::seconds(61));
    let again = app.sign_in_worker(phone).await;
    assert_ne!(again.user["id"], worker.user["id"]);
    let mine: Value = app
        .get_as(&again, "/api/v1/me/membership")
        .await
        .json()
        .await
        .unwrap();
    assert!(mine["membership"].is_null(), "{mine}");
}

#[tokio::test]
async fn a_pending_application_can_be_withdrawn_by_its_applicant_only() {
    let app = spawn_app().await;
    app.seed().await;
    let id = id_number("510104", "19920202", "322");
    let worker = app.sign_in_worker("13100000032").await;
    let (status, pending) = body(app.apply(&worker, &application(&id, "510104")).await).await;
    assert_eq!(status, 201);
    let path = format!(
        "/api/v1/membership/applications/{}/withdrawal",
        pending["id"].as_str().unwrap()
    );
    // Not another worker's to withdraw, nor staff's.
    let stranger = app.sign_in_worker("13100000033").await;
    assert_eq!(
        app.post_json_as(&stranger, &path, &json!({}))
            .await
            .status(),
        404
    );
    let admin = admin(&app).await;
    assert_eq!(
        app.post_json_as(&admin, &path, &json!({})).await.status(),
        403
    );
    let (status, withdrawn) = body(app.post_json_as(&worker, &path, &json!({})).await).await;
    assert_eq!(
        (status, withdrawn["status"].as_str()),
        (200, Some("withdrawn"))
    );
    // It is out of the review queue, cannot be approved, and a new application may be made.
    let queue: Value = app
        .get_as(
            &admin,
            "/api/v1/admin/membership/applications?status=pending",
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(!queue.to_string().contains(pending["id"].as_str().unwrap()));
    let approve = app
        .post_json_as(
            &admin,
            &format!(
                "/api/v1/admin/membership/applications/{}/approve",
                pending["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(approve.status(), 409);
    assert_eq!(
        app.post_json_as(&worker, &path, &json!({})).await.status(),
        409,
        "already withdrawn"
    );
    let again = app.apply(&worker, &application(&id, "510104")).await;
    assert_eq!(again.status(), 201);
}
