//! The OpenAPI document, generated from the routes themselves (utoipa + utoipa-actix-web):
//! a route registered in `routes::configure` is documented by construction. `openapi.yaml`
//! at the repository root is this document checked in; a test fails when they differ.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::{Problem, PROBLEM_JSON};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gongyou API",
        description = "工友 — the backend of a trade union for gig workers: membership, protection plans, rest stations, claims, payouts and notifications.\n\nErrors are `application/problem+json` with a stable `code` and a zh-CN `detail`.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    paths(crate::routes::ops::metrics),
    // Schemas named only by query parameters (`value_type = Option<JobStatus>`), which
    // utoipa does not collect by itself.
    components(schemas(
        Problem,
        gongyou_domain::status::ApplicationStatus,
        gongyou_domain::status::MembershipStatus,
        gongyou_domain::status::TransferStatus,
        gongyou_domain::status::JobStatus,
        gongyou_domain::station::ReportStatus,
    )),
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
        (name = "plans", description = "Protection plans: eligibility, one-tap enrollment, my protection"),
        (name = "claims", description = "Benefit claims: filing, documents, submission, following, withdrawal"),
        (name = "claims-review", description = "Reviewing and deciding claims (claims reviewers and finance approvers, scoped), confirm thresholds"),
        (name = "payouts", description = "Paying approved claims: payouts, two-person batches, WeChat Pay transfers and callbacks, bank files and results, the rider's confirmation"),
        (name = "reconciliation", description = "Proving payouts against the statements: the daily WeChat Pay bill, uploaded bank statements, runs, exceptions and their resolution"),
        (name = "plans-admin", description = "Writing, publishing, versioning and closing protection plans (union admins of the sponsoring subtree)"),
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

/// The answers any operation of a kind can give, added where an operation does not name
/// them itself, so the contract lists every status a request can meet: a body that is not
/// JSON, too large or of the wrong type (400, 413, 415); a query, path or header that does
/// not parse (400); no or a bad token (401); the database or Redis unavailable (503); a bug
/// (500).
struct CommonResponses;

/// Operations that touch neither the database nor Redis.
const WITHOUT_DEPENDENCIES: [&str; 2] = ["/healthz", "/openapi.yaml"];

fn problem(description: &str) -> utoipa::openapi::Response {
    utoipa::openapi::ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let idempotent = operation.parameters.iter().flatten().any(|p| {
                    p.name == "Idempotency-Key"
                        && p.parameter_in == utoipa::openapi::path::ParameterIn::Header
                });
                if idempotent {
                    const CODES: &str = "`idempotency.key_reused` (the key was used with another body), `idempotency.in_flight` (the first request with this key is still running)";
                    let responses = &mut operation.responses.responses;
                    match responses.get_mut("409") {
                        Some(utoipa::openapi::RefOr::T(conflict)) => {
                            conflict.description = format!("{}; {CODES}", conflict.description);
                        }
                        _ => {
                            responses.insert("409".to_owned(), problem(CODES).into());
                        }
                    }
                }
                let mut add = |status: &str, description: &str| {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem(description).into());
                };
                let json_body = operation
                    .request_body
                    .as_ref()
                    .is_some_and(|b| b.content.contains_key("application/json"));
                let any_body = operation.request_body.is_some();
                let params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                if json_body || params || any_body {
                    add(
                        "400",
                        "Malformed: `request.malformed_json`, `request.invalid_body`, `request.invalid_query`, `request.invalid_path`, or a field's own code",
                    );
                }
                if any_body {
                    add(
                        "413",
                        "`request.body_too_large`: larger than the body limit",
                    );
                }
                if json_body {
                    add(
                        "415",
                        "`request.unsupported_media_type`: the body is not `application/json`",
                    );
                }
                if secured {
                    add(
                        "401",
                        "`auth.unauthenticated`, `auth.token_invalid`, `auth.token_expired`, `auth.session_revoked` or `auth.account_disabled`",
                    );
                }
                if !WITHOUT_DEPENDENCIES.contains(&path.as_str()) {
                    add(
                        "503",
                        "`service.database_unavailable` or `service.cache_unavailable` (see `Retry-After`)",
                    );
                    add(
                        "500",
                        "`internal`: an unexpected failure (logged with the request id)",
                    );
                }
            }
        }
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
    // After the routes are in: it adds to every operation.
    CommonResponses.modify(&mut doc);
    doc
}

/// The document as YAML, as checked in at `openapi.yaml`.
pub fn yaml() -> anyhow::Result<String> {
    Ok(openapi().to_yaml()?)
}
