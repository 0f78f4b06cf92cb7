//! The union hierarchy: reading, creating, changing, with region rules.

use gongyou_tests::session::DEMO_PASSWORD;
use gongyou_tests::spawn_app;
use serde_json::{json, Value};

#[tokio::test]
async fn the_seeded_hierarchy_is_readable_by_any_signed_in_caller() {
    let app = spawn_app().await;
    app.seed().await;
    app.seed().await; // idempotent
    let worker = app.sign_in_worker("13300000001").await;
    let national = app.org_id("中华全国总工会").await;
    let top: Value = app
        .get_as(&worker, &format!("/api/v1/orgs?parent_id={national}"))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = top["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"四川省总工会") && names.contains(&"广东省总工会"));

    let root: Value = app
        .get_as(&worker, &format!("/api/v1/orgs/{national}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(root["region_code"], Value::Null);
    assert_eq!(root["parent_id"], Value::Null);

    // Cursor pagination walks everything once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/orgs?limit=5&cursor={c}"),
            None => "/api/v1/orgs?limit=5".into(),
        };
        let page: Value = app.get_as(&worker, &path).await.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(seen.len(), unique.len(), "an org appeared on two pages");
    assert!(seen.len() >= 18, "{}", seen.len());

    assert_eq!(
        app.get_as(&worker, "/api/v1/orgs?limit=0").await.status(),
        400
    );
    assert_eq!(
        app.get_as(&worker, "/api/v1/orgs/no-such-org")
            .await
            .status(),
        404
    );
    assert_eq!(app.get("/api/v1/orgs").await.status(), 401);
}

#[tokio::test]
async fn regions_must_exist_and_lie_within_the_parent() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let chengdu = app.org_id("成都市总工会").await;
    let post = |region: &'static str, name: &'static str| {
        let body = json!({"parent_id": chengdu, "name": name, "org_type": "grassroots_union", "region_code": region});
        let (app, admin) = (&app, &admin);
        async move { app.post_json_as(admin, "/api/v1/orgs", &body).await }
    };
    assert_eq!(
        post("440305", "外地工会").await.status(),
        422,
        "深圳 is not in 成都"
    );
    assert_eq!(
        post("519999", "无地区工会").await.status(),
        400,
        "no such region"
    );
    assert_eq!(post("51010", "短代码工会").await.status(), 400);
    assert_eq!(post("510104", "锦江新工会").await.status(), 201);
    assert_eq!(
        post("510104", "锦江新工会").await.status(),
        409,
        "same name under the same parent"
    );
    let bad_type = app
        .post_json_as(&admin, "/api/v1/orgs", &json!({"parent_id": chengdu, "name": "某工会", "org_type": "club", "region_code": "510104"}))
        .await;
    assert_eq!(bad_type.status(), 400);
    let no_parent = app
        .post_json_as(&admin, "/api/v1/orgs", &json!({"parent_id": "missing", "name": "某工会", "org_type": "federation", "region_code": "510104"}))
        .await;
    assert_eq!(no_parent.status(), 404);
}
