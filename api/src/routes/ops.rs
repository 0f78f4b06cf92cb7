//! Operations endpoints: liveness, readiness, metrics, the API contract.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpResponse};
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

/// The state of one dependency.
#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    Ok,
    Unavailable,
    /// Migrations not yet applied (run `gongyou migrate`).
    Pending,
    NotConfigured,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` when every check is `ok` or `not_configured`.
    status: &'static str,
    database: CheckState,
    migrations: CheckState,
    redis: CheckState,
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

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
    let db = state.db.clone();
    let database = tokio::time::timeout(CHECK_TIMEOUT, async {
        db.ping().await?;
        db.run(gongyou_db::migrate::pending).await
    })
    .await;
    let (database, migrations) = match database {
        Ok(Ok(0)) => (CheckState::Ok, CheckState::Ok),
        Ok(Ok(_)) => (CheckState::Ok, CheckState::Pending),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unavailable");
            (CheckState::Unavailable, CheckState::Unavailable)
        }
        Err(_) => (CheckState::Unavailable, CheckState::Unavailable),
    };
    let redis = if state.kv.is_redis() {
        match tokio::time::timeout(CHECK_TIMEOUT, state.kv.ping()).await {
            Ok(Ok(())) => CheckState::Ok,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: redis unavailable");
                CheckState::Unavailable
            }
            Err(_) => CheckState::Unavailable,
        }
    } else {
        CheckState::NotConfigured
    };
    let ready = [database, migrations, redis]
        .iter()
        .all(|c| matches!(c, CheckState::Ok | CheckState::NotConfigured));
    let readiness = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        database,
        migrations,
        redis,
    };
    if ready {
        return Ok(HttpResponse::Ok().json(readiness));
    }
    Err(ApiError::new(
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
    render_metrics(&state.db, &state.metrics).await
}

/// The exposition of `metrics` with the pool and job counts read now (also what a
/// standalone `gongyou worker` serves on `GONGYOU_METRICS_ADDR`).
pub async fn render_metrics(
    db: &gongyou_db::Db,
    metrics: &crate::metrics::Metrics,
) -> HttpResponse {
    let counts = match db.run(gongyou_db::jobs::counts).await {
        Ok(counts) => counts,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: job counts unavailable");
            Vec::new()
        }
    };
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(db.stats(), &counts))
}

/// The API contract (OpenAPI 3.1), generated from the code.
#[utoipa::path(
    tag = "ops",
    responses((status = 200, description = "This document", body = String, content_type = "application/yaml"))
)]
#[get("/openapi.yaml")]
pub async fn openapi_yaml(spec: web::Data<crate::openapi::Spec>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml; charset=utf-8")
        .body(spec.yaml.clone())
}
