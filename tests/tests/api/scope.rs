//! Scoped access: for every admin endpoint, an admin of another branch gets 403 or 404, a
//! worker gets 403, and nobody signed in gets 401. An admin of 成都市总工会 sees and changes
//! nothing of 深圳.

use gongyou_tests::session::{Session, DEMO_PASSWORD};
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
    World {
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

/// (method, path, body) of every admin endpoint, aimed at 深圳's objects.
fn shenzhen_targets(w: &World) -> Vec<(&'static str, String, Value)> {
    vec![
        (
            "POST",
            "/api/v1/orgs".into(),
            json!({"parent_id": w.nanshan, "name": "南山区新工会", "org_type": "grassroots_union", "region_code": "440305"}),
        ),
        (
            "PATCH",
            format!("/api/v1/orgs/{}", w.shenzhen),
            json!({"name": "改名"}),
        ),
        (
            "POST",
            "/api/v1/admin/staff".into(),
            json!({"username": "sz-new", "display_name": "x", "password": DEMO_PASSWORD, "org_id": w.nanshan, "roles": []}),
        ),
        (
            "PATCH",
            format!("/api/v1/admin/staff/{}", w.sz_staff_id),
            json!({"disabled": true}),
        ),
        ("GET", "/api/v1/admin/staff".into(), Value::Null),
    ]
}

async fn call(
    app: &TestApp,
    who: Option<&Session>,
    method: &str,
    path: &str,
    body: &Value,
) -> reqwest::Response {
    let mut request = match method {
        "POST" => app.client.post(app.url(path)).json(body),
        "PATCH" => app.client.patch(app.url(path)).json(body),
        _ => app.client.get(app.url(path)),
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
    for (method, path, body) in shenzhen_targets(&w) {
        let stranger = call(&app, None, method, &path, &body).await;
        assert_eq!(stranger.status(), 401, "{method} {path} without a token");
        let worker = call(&app, Some(&w.worker), method, &path, &body).await;
        assert_eq!(worker.status(), 403, "{method} {path} as a worker");
        let other = call(&app, Some(&w.cd_admin), method, &path, &body).await;
        let status = other.status().as_u16();
        if method == "GET" {
            // Lists are scoped instead: nothing of 深圳 in 成都's list.
            assert_eq!(status, 200);
            let list: Value = other.json().await.unwrap();
            for item in list["items"].as_array().unwrap() {
                assert_ne!(item["org"]["id"], w.nanshan.as_str());
                assert_ne!(item["org"]["id"], w.shenzhen.as_str());
                assert_ne!(item["username"], "sz-admin");
            }
        } else {
            assert!(
                status == 403 || status == 404,
                "{method} {path} as 成都's admin: {status}"
            );
        }
    }
    // 深圳's own admin may do each of them.
    for (method, path, body) in shenzhen_targets(&w) {
        let own = call(&app, Some(&w.sz_admin), method, &path, &body).await;
        assert!(
            own.status().is_success(),
            "{method} {path} as 深圳's admin: {}",
            own.status()
        );
    }
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
