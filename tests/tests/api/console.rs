//! The staff console's assets (issue 17, ADR 023): embedded in the binary, served at
//! `/console/` with the app's routes falling back to `index.html`, hashed assets cached for
//! good, missing assets 404, and a strict Content-Security-Policy on every answer.

use gongyou_tests::spawn_app;

const DIST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../console/dist");

fn asset_paths(index: &str) -> Vec<String> {
    index
        .split(['"', '\''])
        .filter(|s| s.starts_with("/console/assets/"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_console_is_served_with_its_assets_and_a_strict_policy() {
    let app = spawn_app().await;
    let response = app.get("/console/").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval';"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"),
        "{csp}"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let index = response.text().await.unwrap();

    // What is served is what is committed in console/dist (embedded at build time).
    let on_disk = std::fs::read_to_string(format!("{DIST}/index.html")).unwrap();
    assert_eq!(index, on_disk);
    assert!(index.contains(r#"<html lang="zh-CN">"#));

    let assets = asset_paths(&index);
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")),
        "index.html names a script and a stylesheet: {assets:?}"
    );
    for asset in &assets {
        let response = app.get(asset).await;
        assert_eq!(response.status(), 200, "{asset}");
        let expected_type = if asset.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(response.headers()["content-type"], expected_type, "{asset}");
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let file = asset.trim_start_matches("/console/");
        let body = response.bytes().await.unwrap();
        assert_eq!(
            body.as_ref(),
            std::fs::read(format!("{DIST}/{file}")).unwrap().as_slice()
        );
    }
}

#[tokio::test]
async fn the_apps_routes_get_the_index_and_missing_files_404() {
    let app = spawn_app().await;
    let index = app.get("/console/").await.text().await.unwrap();
    for route in [
        "/console/review/claims/01JXYZ",
        "/console/stations",
        "/console/sign-in",
    ] {
        let response = app.get(route).await;
        assert_eq!(response.status(), 200, "{route}");
        assert_eq!(response.headers()["cache-control"], "no-cache");
        assert_eq!(response.text().await.unwrap(), index, "{route}");
    }
    for missing in [
        "/console/assets/index-gone.js",
        "/console/favicon.ico",
        "/console/review/report.pdf",
    ] {
        let response = app.get(missing).await;
        assert_eq!(response.status(), 404, "{missing}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "not_found");
    }
    // Only GET and HEAD are served.
    let response = app
        .client
        .post(format!("{}/console/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = app
        .client
        .head(format!("{}/console/stations", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn bare_console_redirects_and_etags_answer_304() {
    let app = spawn_app().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .get(format!("{}/console", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], "/console/");

    let first = app.get("/console/").await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .client
        .get(format!("{}/console/", app.address))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.headers().contains_key("content-security-policy"));
    let other = app
        .client
        .get(format!("{}/console/", app.address))
        .header("If-None-Match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
}
