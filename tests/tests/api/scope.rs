//! Scoped access: for every endpoint under `/api/v1/admin` and `/api/v1/orgs` (checked
//! against the OpenAPI document, so a new one must be added here), an admin of another
//! branch gets 403 or 404 (or, for a list, nothing of the other branch), a worker gets 403,
//! and nobody signed in gets 401; the branch's own admin may do each. An admin of
//! 成都市总工会 sees and changes nothing of 深圳. (Station endpoints, held by their managers
//! too, are checked in `stations.rs`.)

use gongyou_tests::session::{application, id_number, Session, DEMO_PASSWORD};
use gongyou_tests::{spawn_app, TestApp};
use serde_json::{json, Value};

struct World {
    chengdu: String,
    jinjiang: String,
    shenzhen: String,
    nanshan: String,
    cd_admin: Session,
    sz_admin: Session,
    sz_staff_id: String,
    worker: Session,
    /// 深圳's objects, one per action that uses one up.
    sz: ShenzhenObjects,
}

#[derive(Default)]
struct ShenzhenObjects {
    nanshan_union: String,
    to_approve: String,
    to_reject: String,
    member: String,
    transfer_to_approve: String,
    transfer_to_reject: String,
    campaign: String,
    station: String,
    /// Plans sponsored by 深圳 (codes start `sz-`): a draft, a published one, and a roster
    /// import into another.
    draft_plan: String,
    open_plan: String,
    roster_import: String,
}

fn sz_plan_terms() -> Value {
    json!({
        "name": "南山骑手保障",
        "enrollment_opens_on": "2026-01-01", "enrollment_closes_on": "2026-11-30",
        "coverage_starts_on": "2026-01-01", "coverage_ends_on": "2026-12-31",
        "benefits": [{"code": "accident", "name": "意外身故伤残", "kind": "lump_sum", "amount": "30000.00",
                      "waiting_days": {"illness": 0, "accident": 0}, "documents": []}]
    })
}

const SZ_ROSTER: &str = "姓名,身份证号,手机号,平台工号,入职日期\r\n";

/// A worker of 深圳 who applied (region 440305 goes to 南山区外卖骑手工会, or 440304 to
/// 福田区快递员工会); returns (worker, application id).
async fn sz_applicant(app: &TestApp, phone: &str, region: &str, seq: &str) -> (Session, String) {
    let worker = app.sign_in_worker(phone).await;
    let r = app
        .apply(
            &worker,
            &application(&id_number(region, "19900101", seq), region),
        )
        .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    (worker, body["id"].as_str().unwrap().to_owned())
}

async fn shenzhen_objects(app: &TestApp, root: &Session, shenzhen: &str) -> ShenzhenObjects {
    let approve = |id: String| async move {
        let r = app
            .post_json_as(
                root,
                &format!("/api/v1/admin/membership/applications/{id}/approve"),
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let m: Value = r.json().await.unwrap();
        m["id"].as_str().unwrap().to_owned()
    };
    let nanshan_union = app.org_id("南山区外卖骑手工会").await;
    let (_, to_approve) = sz_applicant(app, "13700000101", "440305", "101").await;
    let (_, to_reject) = sz_applicant(app, "13700000102", "440305", "102").await;
    let (_, a) = sz_applicant(app, "13700000103", "440305", "103").await;
    let member = approve(a).await;
    // Two 福田 members asking to move to 南山.
    let mut transfers = Vec::new();
    for (phone, seq) in [("13700000104", "104"), ("13700000105", "105")] {
        let (worker, a) = sz_applicant(app, phone, "440304", seq).await;
        approve(a).await;
        let r = app
            .post_json_as(
                &worker,
                "/api/v1/me/membership/transfers",
                &json!({"to_org_id": nanshan_union}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let t: Value = r.json().await.unwrap();
        transfers.push(t["id"].as_str().unwrap().to_owned());
    }
    let campaign: Value = app
        .post_json_as(
            root,
            "/api/v1/admin/campaigns",
            &json!({"org_id": shenzhen, "title": "深圳通知", "body": "内容"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let station: Value = app
        .post_json_as(
            root,
            "/api/v1/admin/stations",
            &json!({
                "org_id": shenzhen, "type": "fixed", "name": "南山驿站",
                "address": "广东省深圳市南山区科技园", "region_code": "440305",
                "lat": 22.54, "lng": 113.95, "amenities": [],
                "hours": {"weekly": {"mon": [{"open": "08:00", "close": "20:00"}]}},
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let plan = |code: &'static str, publish: bool| async move {
        let r = app
            .post_json_as(
                root,
                "/api/v1/admin/plans",
                &json!({"code": code, "sponsor_org_id": shenzhen, "terms": sz_plan_terms()}),
            )
            .await;
        assert_eq!(r.status(), 201);
        if publish {
            let r = app
                .post_json_as(
                    root,
                    &format!("/api/v1/admin/plans/{code}/publish"),
                    &json!({}),
                )
                .await;
            assert_eq!(r.status(), 200);
        }
        code.to_owned()
    };
    let draft_plan = plan("sz-draft", false).await;
    let open_plan = plan("sz-open", true).await;
    let roster_plan = plan("sz-roster", true).await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/admin/plans/{roster_plan}/roster-imports")))
        .header("Authorization", root.bearer())
        .header("Content-Type", "text/csv")
        .body(format!(
            "{SZ_ROSTER}张三,440305199001011012,,MT-1,2025-01-01\r\n"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let import: Value = r.json().await.unwrap();
    ShenzhenObjects {
        draft_plan,
        open_plan,
        roster_import: import["id"].as_str().unwrap().to_owned(),
        nanshan_union,
        to_approve,
        to_reject,
        member,
        transfer_to_approve: transfers[0].clone(),
        transfer_to_reject: transfers[1].clone(),
        campaign: campaign["id"].as_str().unwrap().to_owned(),
        station: station["id"].as_str().unwrap().to_owned(),
    }
}

async fn world(app: &TestApp) -> World {
    app.seed().await;
    let root = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let chengdu = app.org_id("成都市总工会").await;
    let jinjiang = app.org_id("锦江区总工会").await;
    let shenzhen = app.org_id("深圳市总工会").await;
    let nanshan = app.org_id("南山区总工会").await;
    app.create_staff(&root, "cd-admin", &chengdu, &[("union_admin", &chengdu)])
        .await;
    app.create_staff(&root, "sz-admin", &shenzhen, &[("union_admin", &shenzhen)])
        .await;
    let sz_staff_id = app
        .create_staff(
            &root,
            "sz-reviewer",
            &nanshan,
            &[("claims_reviewer", &nanshan)],
        )
        .await;
    let sz = shenzhen_objects(app, &root, &shenzhen).await;
    World {
        sz,
        cd_admin: app.sign_in_staff("cd-admin", DEMO_PASSWORD).await,
        sz_admin: app.sign_in_staff("sz-admin", DEMO_PASSWORD).await,
        worker: app.sign_in_worker("13700000001").await,
        chengdu,
        jinjiang,
        shenzhen,
        nanshan,
        sz_staff_id,
    }
}

/// Who may do an action: 深圳's own admin, only the operators (national admins), or anyone
/// signed in (the union hierarchy is public to members: workers pick a union to move to).
#[derive(Clone, Copy, PartialEq)]
enum Owner {
    Shenzhen,
    Operators,
    SignedIn,
}

/// (method, path template, path, body, owner) of every admin endpoint, aimed at 深圳's
/// objects, in an order the own admin can follow (suspend before reinstate).
fn shenzhen_targets(w: &World) -> Vec<(&'static str, &'static str, String, Value, Owner)> {
    use Owner::{Operators, Shenzhen, SignedIn};
    let sz = &w.sz;
    vec![
        (
            "GET",
            "/api/v1/orgs",
            "/api/v1/orgs".into(),
            Value::Null,
            SignedIn,
        ),
        (
            "POST",
            "/api/v1/orgs",
            "/api/v1/orgs".into(),
            json!({"parent_id": w.nanshan, "name": "南山区新工会", "org_type": "grassroots_union", "region_code": "440305"}),
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/orgs/{id}",
            format!("/api/v1/orgs/{}", w.shenzhen),
            Value::Null,
            SignedIn,
        ),
        (
            "PATCH",
            "/api/v1/orgs/{id}",
            format!("/api/v1/orgs/{}", w.shenzhen),
            json!({"name": "深圳市总工会"}),
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/admin/staff",
            "/api/v1/admin/staff".into(),
            Value::Null,
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/staff",
            "/api/v1/admin/staff".into(),
            json!({"username": "sz-new", "display_name": "x", "password": DEMO_PASSWORD, "org_id": w.nanshan, "roles": []}),
            Shenzhen,
        ),
        (
            "PATCH",
            "/api/v1/admin/staff/{id}",
            format!("/api/v1/admin/staff/{}", w.sz_staff_id),
            json!({"display_name": "南山审核员"}),
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/admin/membership/applications",
            "/api/v1/admin/membership/applications".into(),
            Value::Null,
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/membership/applications/{id}/approve",
            format!(
                "/api/v1/admin/membership/applications/{}/approve",
                sz.to_approve
            ),
            json!({}),
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/membership/applications/{id}/reject",
            format!(
                "/api/v1/admin/membership/applications/{}/reject",
                sz.to_reject
            ),
            json!({"reason": "资料不全"}),
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/admin/members",
            "/api/v1/admin/members".into(),
            Value::Null,
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/admin/members/{membership_id}",
            format!("/api/v1/admin/members/{}", sz.member),
            Value::Null,
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/members/{membership_id}/identity-reads",
            format!("/api/v1/admin/members/{}/identity-reads", sz.member),
            json!({"purpose": "核对身份信息"}),
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/members/{membership_id}/suspend",
            format!("/api/v1/admin/members/{}/suspend", sz.member),
            json!({"reason": "核查"}),
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/members/{membership_id}/reinstate",
            format!("/api/v1/admin/members/{}/reinstate", sz.member),
            json!({"reason": "核查完毕"}),
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/admin/membership/transfers",
            "/api/v1/admin/membership/transfers".into(),
            Value::Null,
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/membership/transfers/{id}/approve",
            format!(
                "/api/v1/admin/membership/transfers/{}/approve",
                sz.transfer_to_approve
            ),
            json!({}),
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/membership/transfers/{id}/reject",
            format!(
                "/api/v1/admin/membership/transfers/{}/reject",
                sz.transfer_to_reject
            ),
            json!({"note": "名额已满"}),
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/admin/orgs/{id}/membership-settings",
            format!(
                "/api/v1/admin/orgs/{}/membership-settings",
                sz.nanshan_union
            ),
            Value::Null,
            Shenzhen,
        ),
        (
            "PUT",
            "/api/v1/admin/orgs/{id}/membership-settings",
            format!(
                "/api/v1/admin/orgs/{}/membership-settings",
                sz.nanshan_union
            ),
            json!({"auto_approve": false, "routes": []}),
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/admin/orgs/{id}/claim-settings",
            format!("/api/v1/admin/orgs/{}/claim-settings", sz.nanshan_union),
            Value::Null,
            Shenzhen,
        ),
        (
            "PUT",
            "/api/v1/admin/orgs/{id}/claim-settings",
            format!("/api/v1/admin/orgs/{}/claim-settings", sz.nanshan_union),
            json!({"confirm_threshold": "5000.00"}),
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/campaigns",
            "/api/v1/admin/campaigns".into(),
            json!({"org_id": w.shenzhen, "title": "深圳高温", "body": "注意防暑"}),
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/admin/campaigns",
            "/api/v1/admin/campaigns".into(),
            Value::Null,
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/admin/campaigns/{id}",
            format!("/api/v1/admin/campaigns/{}", sz.campaign),
            Value::Null,
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/stations",
            "/api/v1/admin/stations".into(),
            json!({"org_id": w.shenzhen, "type": "fixed", "name": "福田驿站", "address": "广东省深圳市福田区", "region_code": "440304",
                   "lat": 22.54, "lng": 114.05, "amenities": [], "hours": {"weekly": {"mon": [{"open": "08:00", "close": "20:00"}]}}}),
            Shenzhen,
        ),
        (
            "PUT",
            "/api/v1/admin/stations/{id}/managers",
            format!("/api/v1/admin/stations/{}/managers", sz.station),
            json!({"staff_ids": []}),
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/admin/plans",
            "/api/v1/admin/plans".into(),
            Value::Null,
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/plans",
            "/api/v1/admin/plans".into(),
            json!({"code": "sz-new", "sponsor_org_id": w.shenzhen, "terms": sz_plan_terms()}),
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/admin/plans/{code}",
            format!("/api/v1/admin/plans/{}", sz.open_plan),
            Value::Null,
            Shenzhen,
        ),
        (
            "PATCH",
            "/api/v1/admin/plans/{code}",
            format!("/api/v1/admin/plans/{}", sz.draft_plan),
            sz_plan_terms(),
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/plans/{code}/publish",
            format!("/api/v1/admin/plans/{}/publish", sz.draft_plan),
            json!({}),
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/plans/{code}/roster-imports",
            format!("/api/v1/admin/plans/{}/roster-imports", sz.open_plan),
            Value::String(format!(
                "{SZ_ROSTER}李四,440305199202021013,,MT-2,2025-01-01\r\n"
            )),
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/admin/plans/{code}/roster-imports",
            format!("/api/v1/admin/plans/{}/roster-imports", sz.open_plan),
            Value::Null,
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/plans/{code}/versions",
            format!("/api/v1/admin/plans/{}/versions", sz.open_plan),
            json!({}),
            Shenzhen,
        ),
        (
            "POST",
            "/api/v1/admin/plans/{code}/close",
            format!("/api/v1/admin/plans/{}/close", sz.open_plan),
            json!({}),
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/admin/roster-imports/{id}",
            format!("/api/v1/admin/roster-imports/{}", sz.roster_import),
            Value::Null,
            Shenzhen,
        ),
        (
            "GET",
            "/api/v1/admin/roster-imports/{id}/errors",
            format!("/api/v1/admin/roster-imports/{}/errors", sz.roster_import),
            Value::Null,
            Shenzhen,
        ),
        // The job queue belongs to the operators (national admins), not to any branch.
        (
            "GET",
            "/api/v1/admin/jobs",
            "/api/v1/admin/jobs".into(),
            Value::Null,
            Operators,
        ),
        (
            "POST",
            "/api/v1/admin/jobs/{id}/retry",
            "/api/v1/admin/jobs/any/retry".into(),
            json!({}),
            Operators,
        ),
    ]
}

#[test]
fn the_targets_cover_every_admin_endpoint_of_the_contract() {
    let doc = gongyou_api::openapi::openapi();
    let mut contract = std::collections::BTreeSet::new();
    for (path, item) in &doc.paths.paths {
        if !(path.starts_with("/api/v1/admin") || path.starts_with("/api/v1/orgs")) {
            continue;
        }
        for (method, op) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ] {
            if op.is_some() {
                contract.insert((method.to_owned(), path.clone()));
            }
        }
    }
    let app_free_world = World {
        chengdu: String::new(),
        jinjiang: String::new(),
        shenzhen: String::new(),
        nanshan: String::new(),
        cd_admin: Session::from_json(&json!({"access_token": "", "refresh_token": "", "user": {}})),
        sz_admin: Session::from_json(&json!({"access_token": "", "refresh_token": "", "user": {}})),
        sz_staff_id: String::new(),
        worker: Session::from_json(&json!({"access_token": "", "refresh_token": "", "user": {}})),
        sz: ShenzhenObjects::default(),
    };
    let covered: std::collections::BTreeSet<(String, String)> = shenzhen_targets(&app_free_world)
        .into_iter()
        .map(|(m, template, ..)| (m.to_owned(), template.to_owned()))
        .collect();
    let missing: Vec<_> = contract.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "admin endpoints without a scope check: {missing:?}"
    );
    let unknown: Vec<_> = covered.difference(&contract).collect();
    assert!(
        unknown.is_empty(),
        "targets that are not in the contract: {unknown:?}"
    );
}

async fn call(
    app: &TestApp,
    who: Option<&Session>,
    method: &str,
    path: &str,
    body: &Value,
) -> reqwest::Response {
    let mut request = match (method, body) {
        // A file upload: the body is the file (a roster is `text/csv`).
        ("POST", Value::String(file)) => app
            .client
            .post(app.url(path))
            .header("Content-Type", "text/csv")
            .body(file.clone()),
        _ => match method {
            "POST" => app.client.post(app.url(path)).json(body),
            "PATCH" => app.client.patch(app.url(path)).json(body),
            "PUT" => app.client.put(app.url(path)).json(body),
            _ => app.client.get(app.url(path)),
        },
    };
    if let Some(who) = who {
        request = request.header("Authorization", who.bearer());
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn another_branch_a_worker_and_a_stranger_are_refused_everywhere() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let shenzhen_ids = [
        w.shenzhen.as_str(),
        w.nanshan.as_str(),
        w.sz.nanshan_union.as_str(),
    ];
    for (method, _, path, body, owner) in shenzhen_targets(&w) {
        let stranger = call(&app, None, method, &path, &body).await;
        assert_eq!(stranger.status(), 401, "{method} {path} without a token");
        if owner == Owner::SignedIn {
            let worker = call(&app, Some(&w.worker), method, &path, &body).await;
            assert_eq!(worker.status(), 200, "{method} {path} as a worker");
            continue;
        }
        let worker = call(&app, Some(&w.worker), method, &path, &body).await;
        assert_eq!(worker.status(), 403, "{method} {path} as a worker");
        let outsiders = match owner {
            Owner::Shenzhen => vec![&w.cd_admin],
            Owner::Operators => vec![&w.cd_admin, &w.sz_admin],
            Owner::SignedIn => vec![],
        };
        for outsider in outsiders {
            let other = call(&app, Some(outsider), method, &path, &body).await;
            let status = other.status().as_u16();
            if method == "GET"
                && owner == Owner::Shenzhen
                && !path.contains(&w.shenzhen)
                && !path.contains(&w.sz.member)
                && !path.contains(&w.sz.campaign)
                && !path.contains(&w.sz.nanshan_union)
                && !path.contains("/sz-")
                && !path.contains(&w.sz.roster_import)
            {
                // Lists are scoped instead: nothing of 深圳 in 成都's list.
                assert_eq!(status, 200, "{method} {path}");
                let list = other.text().await.unwrap();
                for id in shenzhen_ids {
                    assert!(
                        !list.contains(id),
                        "{method} {path} shows 深圳's {id}: {list}"
                    );
                }
                assert!(
                    !list.contains("sz-admin") && !list.contains("深圳"),
                    "{list}"
                );
            } else {
                assert!(
                    status == 403 || status == 404,
                    "{method} {path} as another branch's admin: {status}"
                );
            }
        }
    }
    // 深圳's own admin may do each of theirs.
    for (method, _, path, body, owner) in shenzhen_targets(&w) {
        if owner == Owner::Operators {
            continue;
        }
        let own = call(&app, Some(&w.sz_admin), method, &path, &body).await;
        let status = own.status();
        assert!(
            status.is_success(),
            "{method} {path} as 深圳's admin: {status} {}",
            own.text().await.unwrap()
        );
    }
    // The operators' endpoints work for the national admin.
    let root = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    assert_eq!(app.get_as(&root, "/api/v1/admin/jobs").await.status(), 200);
}

#[tokio::test]
async fn an_admin_works_freely_inside_their_branch() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let created = app
        .post_json_as(&w.cd_admin, "/api/v1/orgs", &json!({"parent_id": w.jinjiang, "name": "锦江区外卖骑手工会", "org_type": "grassroots_union", "region_code": "510104"}))
        .await;
    assert_eq!(created.status(), 201);
    let org: Value = created.json().await.unwrap();
    assert_eq!(org["region_name"], "锦江区");
    assert_eq!(org["parent_id"], w.jinjiang.as_str());
    assert!(org["ancestor_ids"]
        .as_array()
        .unwrap()
        .contains(&json!(w.chengdu)));

    let renamed = app
        .patch_json_as(
            &w.cd_admin,
            &format!("/api/v1/orgs/{}", org["id"].as_str().unwrap()),
            &json!({"name": "锦江区骑手工会"}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    // Its own org, too.
    let own = app
        .patch_json_as(
            &w.cd_admin,
            &format!("/api/v1/orgs/{}", w.chengdu),
            &json!({"name": "成都市总工会"}),
        )
        .await;
    assert_eq!(own.status(), 200);
    // But not the parent above it.
    let sichuan = app.org_id("四川省总工会").await;
    let above = app
        .patch_json_as(
            &w.cd_admin,
            &format!("/api/v1/orgs/{sichuan}"),
            &json!({"name": "x省"}),
        )
        .await;
    assert_eq!(above.status(), 404);
}
