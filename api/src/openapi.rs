//! The OpenAPI document, generated from the routes themselves (utoipa + utoipa-actix-web):
//! a route registered in `routes::configure` is documented by construction. `openapi.yaml`
//! at the repository root is this document checked in; a test fails when they differ.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
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
    modifiers(&BearerAuth),
    tags(
        (name = "ops", description = "Liveness, readiness, metrics and this document"),
        (name = "auth", description = "Signing in (SMS code, WeChat, password), refresh, sign-out, step-up"),
        (name = "orgs", description = "The union hierarchy"),
        (name = "staff", description = "Staff accounts and their scoped roles (union admins)"),
        (name = "membership", description = "Joining the union, the e-card, transfers, withdrawal, data export"),
        (name = "notifications", description = "The inbox, push devices and notification preferences"),
        (name = "jobs", description = "The background job queue (operators)"),
        (name = "membership-admin", description = "Reviewing applications and transfers, managing members (union admins, scoped)"),
    )
)]
struct ApiDoc;

/// `Authorization: Bearer <access token>`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

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
