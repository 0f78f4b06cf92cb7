//! Operations endpoints: liveness, readiness, metrics, the API contract.

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpResponse};
use gongyou_services::ops::{self, Readiness};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    status: &'static str,
}

/// Liveness: the process is up and serving.
#[utoipa::path(tag = "ops", responses((status = 200, description = "The process is up", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness: the database (and Redis, when configured) answer and migrations are applied.
#[utoipa::path(
    tag = "ops",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "Not ready; `errors` holds the checks", body = Problem,
         content_type = "application/problem+json")
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let readiness: Readiness = ops::readiness(&state).await;
    if readiness.is_ready() {
        return Ok(HttpResponse::Ok().json(readiness));
    }
    Err(ApiError::http(
        StatusCode::SERVICE_UNAVAILABLE,
        "service.not_ready",
        "服务尚未就绪",
    )
    .with_errors(serde_json::to_value(&readiness).unwrap_or_default()))
}

/// Prometheus metrics: request counts and latency by route and status, database pool usage.
/// Served on `GONGYOU_METRICS_ADDR` when that is set (production), else on the main address.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"))
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    match gongyou_services::accounts::sms_codes::budget_use(&state).await {
        Ok((sent, budget)) => state.metrics.set_sms_budget(sent, budget),
        Err(e) => tracing::warn!(error = %e, "metrics: SMS budget use unavailable"),
    }
    exposition(state.metrics.exposition(&state.db).await)
}

/// The Prometheus text exposition as a response.
pub fn exposition(text: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}

/// The API contract (OpenAPI 3.1), generated from the code.
#[utoipa::path(
    tag = "ops",
    responses((status = 200, description = "This document (a YAML mapping)", body = Object, content_type = "application/yaml"))
)]
#[get("/openapi.yaml")]
pub async fn openapi_yaml(spec: web::Data<crate::openapi::Spec>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml; charset=utf-8")
        .body(spec.yaml.clone())
}
