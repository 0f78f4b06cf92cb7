//! Staff sign-in, lockouts, and roles that act only in password sessions and stop at once
//! when revoked.

use chrono::Duration;
use gongyou_tests::session::DEMO_PASSWORD;
use gongyou_tests::{spawn_app, spawn_app_with};
use serde_json::{json, Value};

async fn sign_in(
    app: &gongyou_tests::TestApp,
    username: &str,
    password: &str,
) -> (u16, String, Option<u64>) {
    let response = app
        .post_json(
            "/api/v1/auth/sessions/password",
            &json!({"username": username, "password": password}),
        )
        .await;
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["code"].as_str().unwrap_or_default().to_owned(),
        retry,
    )
}

#[tokio::test]
async fn staff_sign_in_with_a_password_and_see_their_roles() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await;
    assert_eq!(admin.user["kind"], "staff");
    assert_eq!(admin.user["org"]["name"], "四川省总工会");
    assert_eq!(admin.user["roles"][0]["role"], "union_admin");
    assert_eq!(admin.user["roles"][0]["org_name"], "四川省总工会");
    assert!(admin.user.get("password_hash").is_none());
    // Usernames are case-insensitive.
    assert_eq!(
        sign_in(&app, "Demo-Sichuan-Admin", DEMO_PASSWORD).await.0,
        200
    );
    assert_eq!(
        sign_in(&app, "demo-sichuan-admin", "wrong-password-1").await,
        (401, "auth.invalid_credentials".into(), None)
    );
    assert_eq!(
        sign_in(&app, "nobody-here", DEMO_PASSWORD).await,
        (401, "auth.invalid_credentials".into(), None)
    );
}

#[tokio::test]
async fn five_failures_lock_the_account_for_a_while() {
    let app = spawn_app().await;
    app.seed().await;
    for _ in 0..5 {
        assert_eq!(
            sign_in(&app, "demo-reviewer", "not-the-password-1").await.0,
            401
        );
    }
    let (status, code, retry) = sign_in(&app, "demo-reviewer", DEMO_PASSWORD).await;
    assert_eq!(
        (status, code.as_str()),
        (429, "auth.account_locked"),
        "even the right password waits"
    );
    let retry = retry.unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Other accounts are not affected.
    assert_eq!(sign_in(&app, "demo-approver", DEMO_PASSWORD).await.0, 200);
    app.clock
        .advance(Duration::seconds(i64::try_from(retry).unwrap()));
    assert_eq!(sign_in(&app, "demo-reviewer", DEMO_PASSWORD).await.0, 200);
}

async fn sign_in_from(
    app: &gongyou_tests::TestApp,
    ip: &str,
    username: &str,
    password: &str,
) -> (u16, String) {
    let response = app
        .client
        .post(app.url("/api/v1/auth/sessions/password"))
        .header("X-Forwarded-For", ip)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_strangers_wrong_passwords_do_not_lock_the_owner_out() {
    let app =
        spawn_app_with([("GONGYOU_TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned())].into())
            .await;
    app.seed().await;
    let (stranger, owner) = ("203.0.113.66", "198.51.100.7");
    for _ in 0..5 {
        assert_eq!(
            sign_in_from(&app, stranger, "demo-reviewer", "not-the-password-1")
                .await
                .0,
            401
        );
    }
    // The stranger's network is refused for this account, even with the right password…
    assert_eq!(
        sign_in_from(&app, stranger, "demo-reviewer", DEMO_PASSWORD).await,
        (429, "auth.account_locked".into())
    );
    // The owner, from their own network, signs in at once.
    assert_eq!(
        sign_in_from(&app, owner, "demo-reviewer", DEMO_PASSWORD)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn guesses_from_many_networks_slow_the_username_down_but_never_refuse_it() {
    let app = spawn_app_with(
        [
            ("GONGYOU_TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned()),
            ("GONGYOU_LOGIN_SLOW_AFTER".to_owned(), "6".to_owned()),
        ]
        .into(),
    )
    .await;
    app.seed().await;
    // A distributed guesser: 3 wrong passwords from each of 3 networks (under each
    // network's own limit of 5).
    for net in 0..3 {
        for _ in 0..3 {
            let ip = format!("2001:db8:{net}::{net}");
            assert_eq!(
                sign_in_from(&app, &ip, "demo-approver", "not-the-password-1")
                    .await
                    .0,
                401
            );
        }
    }
    // 9 failures, 3 past the threshold: each attempt now waits 3 × 250 ms, the owner's
    // too — but the owner gets in.
    let started = std::time::Instant::now();
    assert_eq!(
        sign_in_from(&app, "198.51.100.8", "demo-approver", DEMO_PASSWORD)
            .await
            .0,
        200
    );
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(700),
        "slowed down: {waited:?}"
    );
    // Another account is not slowed.
    let started = std::time::Instant::now();
    assert_eq!(
        sign_in_from(&app, "198.51.100.8", "demo-reviewer", DEMO_PASSWORD)
            .await
            .0,
        200
    );
    assert!(started.elapsed() < std::time::Duration::from_millis(700));
}

#[tokio::test]
async fn many_failures_from_one_address_lock_the_address() {
    let app = spawn_app().await;
    app.seed().await;
    for i in 0..20 {
        assert_eq!(
            sign_in(&app, &format!("guess-{i}"), "not-the-password-1")
                .await
                .0,
            401
        );
    }
    let (status, code, retry) = sign_in(&app, "demo-admin", DEMO_PASSWORD).await;
    assert_eq!((status, code.as_str()), (429, "auth.too_many_attempts"));
    assert!(retry.is_some());
}

#[tokio::test]
async fn a_staff_role_does_not_work_through_an_sms_session() {
    // The admin's phone signs in by SMS: that is a worker session, with no staff rights.
    let app = spawn_app().await;
    app.seed().await;
    let worker = app.sign_in_worker("13500000001").await;
    for path in ["/api/v1/admin/staff"] {
        let response = app.get_as(&worker, path).await;
        assert_eq!(response.status(), 403, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "auth.staff_only");
    }
    let org = app.org_id("四川省总工会").await;
    let response = app
        .post_json_as(&worker, "/api/v1/orgs", &json!({"parent_id": org, "name": "伪造工会", "org_type": "grassroots_union", "region_code": "510104"}))
        .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_role_revoked_mid_session_stops_working_on_the_next_request() {
    let app = spawn_app().await;
    app.seed().await;
    let root = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let chengdu = app.org_id("成都市总工会").await;
    let id = app
        .create_staff(&root, "cd-admin", &chengdu, &[("union_admin", &chengdu)])
        .await;
    let cd_admin = app.sign_in_staff("cd-admin", DEMO_PASSWORD).await;
    assert_eq!(
        app.get_as(&cd_admin, "/api/v1/admin/staff").await.status(),
        200
    );

    let revoke = app
        .patch_json_as(
            &root,
            &format!("/api/v1/admin/staff/{id}"),
            &json!({"roles": [{"role": "claims_reviewer", "org_id": chengdu}]}),
        )
        .await;
    assert_eq!(revoke.status(), 200);
    let body: Value = revoke.json().await.unwrap();
    assert_eq!(body["roles"][0]["role"], "claims_reviewer");
    // The same access token, the very next request.
    let after = app.get_as(&cd_admin, "/api/v1/admin/staff").await;
    assert_eq!(after.status(), 403);

    // Disabling ends the sessions.
    let disable = app
        .patch_json_as(
            &root,
            &format!("/api/v1/admin/staff/{id}"),
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(disable.status(), 200);
    let me = app.get_as(&cd_admin, "/api/v1/me").await;
    assert_eq!(me.status(), 401);
    let (status, code, _) = sign_in(&app, "cd-admin", DEMO_PASSWORD).await;
    assert_eq!((status, code.as_str()), (403, "auth.account_disabled"));
}

#[tokio::test]
async fn admins_manage_staff_within_their_rights() {
    let app = spawn_app().await;
    app.seed().await;
    let sichuan_admin = app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await;
    let chengdu = app.org_id("成都市总工会").await;
    let national = app.org_id("中华全国总工会").await;
    let id = app
        .create_staff(
            &sichuan_admin,
            "cd-reviewer",
            &chengdu,
            &[("claims_reviewer", &chengdu)],
        )
        .await;

    // Listed, with roles and org names.
    let list: Value = app
        .get_as(&sichuan_admin, "/api/v1/admin/staff?limit=200")
        .await
        .json()
        .await
        .unwrap();
    let found = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(found["org"]["name"], "成都市总工会");
    assert_eq!(found["roles"][0]["org_name"], "成都市总工会");

    // Not above their own rights: no role on the national org.
    let above = app
        .patch_json_as(
            &sichuan_admin,
            &format!("/api/v1/admin/staff/{id}"),
            &json!({"roles": [{"role": "union_admin", "org_id": national}]}),
        )
        .await;
    assert_eq!(above.status(), 403);
    // Nor on a member whose home is in 四川 but who holds rights beyond it: a reviewer of
    // 成都 who also reviews for 广东 (granted from the national level).
    let national_admin = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let guangdong = app.org_id("广东省总工会").await;
    let straddling = app
        .create_staff(
            &national_admin,
            "two-provinces",
            &chengdu,
            &[
                ("claims_reviewer", &chengdu),
                ("claims_reviewer", &guangdong),
            ],
        )
        .await;
    for change in [
        json!({"display_name": "改名"}),
        json!({"status": "disabled"}),
        json!({"roles": [{"role": "claims_reviewer", "org_id": chengdu}]}),
    ] {
        let r = app
            .patch_json_as(
                &sichuan_admin,
                &format!("/api/v1/admin/staff/{straddling}"),
                &change,
            )
            .await;
        assert_eq!(r.status(), 403, "{change}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "auth.out_of_scope", "{change}");
    }
    // The national admin, whose home is outside 四川, is not even listed.
    let demo_admin_id = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["username"] == "demo-admin")
        .map(|s| s["id"].clone());
    assert!(
        demo_admin_id.is_none(),
        "the national admin's home is outside 四川: not listed"
    );

    // Validation.
    let taken = app
        .post_json_as(&sichuan_admin, "/api/v1/admin/staff", &json!({"username": "cd-reviewer", "display_name": "x", "password": DEMO_PASSWORD, "org_id": chengdu, "roles": []}))
        .await;
    assert_eq!(taken.status(), 409);
    let weak = app
        .post_json_as(&sichuan_admin, "/api/v1/admin/staff", &json!({"username": "weakling", "display_name": "x", "password": "1234567890", "org_id": chengdu, "roles": []}))
        .await;
    assert_eq!(weak.status(), 422);
    let manager = app
        .post_json_as(&sichuan_admin, "/api/v1/admin/staff", &json!({"username": "mgr", "display_name": "x", "password": DEMO_PASSWORD, "org_id": chengdu, "roles": [{"role": "station_manager", "org_id": chengdu}]}))
        .await;
    assert_eq!(manager.status(), 422);
    let own = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["username"] == "demo-sichuan-admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let self_disable = app
        .patch_json_as(
            &sichuan_admin,
            &format!("/api/v1/admin/staff/{own}"),
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(self_disable.status(), 409);
    // Nor their own grants or password (a stolen session must not lock the owner out).
    for change in [
        json!({"password": "a-new-password-2026"}),
        json!({"roles": []}),
    ] {
        let r = app
            .patch_json_as(
                &sichuan_admin,
                &format!("/api/v1/admin/staff/{own}"),
                &change,
            )
            .await;
        assert_eq!(r.status(), 403, "{change}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "staff.not_on_yourself");
    }
    // Their own display name is theirs to change.
    let renamed = app
        .patch_json_as(
            &sichuan_admin,
            &format!("/api/v1/admin/staff/{own}"),
            &json!({"display_name": "四川省管理员"}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
}

#[tokio::test]
async fn demo_logins_need_no_configuration_in_dev() {
    // Without GONGYOU_DEMO_PASSWORD a password is generated, kept and usable.
    let app = spawn_app_with([("GONGYOU_DEMO_PASSWORD".to_owned(), String::new())].into()).await;
    app.seed().await;
    let password = app.state.config.demo_password.expose().to_owned();
    assert!(app.state.config.demo_password.is_generated());
    assert_eq!(sign_in(&app, "demo-approver", &password).await.0, 200);
}

#[tokio::test]
async fn admins_are_changed_only_from_above_and_a_reset_password_ends_sessions() {
    let app = spawn_app().await;
    app.seed().await;
    let root = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let sichuan = app.org_id("四川省总工会").await;
    let chengdu = app.org_id("成都市总工会").await;
    let peer = app
        .create_staff(&root, "sc-admin-2", &sichuan, &[("union_admin", &sichuan)])
        .await;
    let sichuan_admin = app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await;

    // A peer admin cannot take another over, nor mint a peer.
    let takeover = app
        .patch_json_as(
            &sichuan_admin,
            &format!("/api/v1/admin/staff/{peer}"),
            &json!({"password": "new-password-2027"}),
        )
        .await;
    let body: Value = takeover.json().await.unwrap();
    assert_eq!(body["code"], "staff.admin_from_above");
    let mint = app
        .post_json_as(&sichuan_admin, "/api/v1/admin/staff", &json!({"username": "sc-admin-3", "display_name": "x", "password": DEMO_PASSWORD, "org_id": sichuan, "roles": [{"role": "union_admin", "org_id": sichuan}]}))
        .await;
    assert_eq!(mint.status(), 403);
    // Below, they may.
    let below = app
        .create_staff(
            &sichuan_admin,
            "cd-admin",
            &chengdu,
            &[("union_admin", &chengdu)],
        )
        .await;
    let cd_admin = app.sign_in_staff("cd-admin", DEMO_PASSWORD).await;
    assert_eq!(app.get_as(&cd_admin, "/api/v1/me").await.status(), 200);
    let reset = app
        .patch_json_as(
            &sichuan_admin,
            &format!("/api/v1/admin/staff/{below}"),
            &json!({"password": "new-password-2027"}),
        )
        .await;
    assert_eq!(reset.status(), 200);
    assert_eq!(
        app.get_as(&cd_admin, "/api/v1/me").await.status(),
        401,
        "a reset ends the old sessions"
    );
    let refreshed = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": cd_admin.refresh_token}),
        )
        .await;
    assert_eq!(refreshed.status(), 401);
    assert_eq!(sign_in(&app, "cd-admin", "new-password-2027").await.0, 200);
}

#[tokio::test]
async fn the_first_admin_of_an_install_is_bootstrapped() {
    use gongyou::seed::{bootstrap_admin, BootstrapError};
    let app = spawn_app().await;
    let now = app.clock_now().naive_utc();
    let db = &app.state.db;
    assert!(matches!(
        bootstrap_admin(db, "ops-admin", "运维", "ops-password-2026", now).await,
        Err(BootstrapError::NoRoot)
    ));
    app.seed().await;
    assert!(matches!(
        bootstrap_admin(db, "ops-admin", "运维", "weak", now).await,
        Err(BootstrapError::Password)
    ));
    assert!(matches!(
        bootstrap_admin(db, "1bad", "运维", "ops-password-2026", now).await,
        Err(BootstrapError::Username)
    ));
    bootstrap_admin(db, "ops-admin", "运维", "ops-password-2026", now)
        .await
        .unwrap();
    assert!(matches!(
        bootstrap_admin(db, "ops-admin", "运维", "ops-password-2026", now).await,
        Err(BootstrapError::Exists(_))
    ));
    let admin = app.sign_in_staff("ops-admin", "ops-password-2026").await;
    assert_eq!(admin.user["roles"][0]["role"], "union_admin");
    assert_eq!(admin.user["roles"][0]["org_name"], "中华全国总工会");
    assert_eq!(
        app.get_as(&admin, "/api/v1/admin/jobs").await.status(),
        200,
        "an operator"
    );
}

#[tokio::test]
async fn any_staff_member_reads_colleagues_display_names_and_nothing_more() {
    let app = spawn_app().await;
    app.seed().await;
    let approver = app.sign_in_staff("demo-approver", DEMO_PASSWORD).await;
    let finance = app.sign_in_staff("demo-finance", DEMO_PASSWORD).await;
    let admin = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let id = |s: &gongyou_tests::session::Session| s.user["id"].as_str().unwrap().to_owned();
    let (finance_id, admin_id) = (id(&finance), id(&admin));
    let unknown = "0190a000-0000-7000-8000-000000000000";

    // Another org's admin, a colleague, an unknown id (left out), a repeat: by id, once each.
    let path = format!("/api/v1/staff/names?ids={admin_id},{finance_id},{unknown},{finance_id}");
    let r = app.get_as(&approver, &path).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let mut expected = vec![
        json!({"id": admin_id, "display_name": admin.user["display_name"]}),
        json!({"id": finance_id, "display_name": finance.user["display_name"]}),
    ];
    expected.sort_by_key(|v| v["id"].as_str().unwrap().to_owned());
    assert_eq!(body["items"], Value::Array(expected));
    assert!(
        body["items"][0].get("username").is_none(),
        "display names only"
    );

    // 1–100 well-formed ids.
    let many = vec![finance_id.as_str(); 101].join(",");
    for bad in ["", "A-UPPER", "a,,b", many.as_str()] {
        let r = app
            .get_as(&approver, &format!("/api/v1/staff/names?ids={bad}"))
            .await;
        assert_eq!(r.status(), 400, "{bad}");
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["code"], "request.invalid_query");
    }
    // Staff only.
    let worker = app.sign_in_worker("13500000401").await;
    assert_eq!(app.get_as(&worker, &path).await.status(), 403);
    assert_eq!(app.get(&path).await.status(), 401);
}
