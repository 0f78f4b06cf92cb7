//! The OpenAPI document, generated from the routes themselves (utoipa + utoipa-actix-web):
//! a route registered in `routes::configure` is documented by construction. `openapi.yaml`
//! at the repository root is this document checked in; a test fails when they differ.

use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::error::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gongyou API",
        description = "工友 — the backend of a trade union for gig workers: membership, protection plans, rest stations, claims, payouts and notifications.\n\nErrors are `application/problem+json` with a stable `code` and a zh-CN `detail`.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    paths(crate::routes::ops::metrics),
    components(schemas(Problem)),
    tags((name = "ops", description = "Liveness, readiness, metrics and this document"))
)]
struct ApiDoc;

/// The served document.
#[derive(Debug, Clone)]
pub struct Spec {
    pub yaml: String,
}

/// The whole document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::configure)
        .split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The document as YAML, as checked in at `openapi.yaml`.
pub fn yaml() -> anyhow::Result<String> {
    Ok(openapi().to_yaml()?)
}
