//! Reconciliation: finance uploads a statement (a bank account statement, or a WeChat Pay
//! bill fetched by hand), lists the runs, reads a run's summary and items, resolves
//! exceptions and exports them as CSV. The daily job fetches the WeChat Pay bill itself.

use actix_web::http::header;
use actix_web::{get, post, web, HttpResponse};
use gongyou_services::page::Page;
use gongyou_services::reconcile::{
    self, ItemView, ItemsQuery, ResolveBody, RunView, RunsQuery, StatementQuery,
};

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

/// A statement for a day that is over, the file itself as the body: `channel=bank` for the
/// union's bank account statement (in the union's statement template: columns, encoding —
/// see payout settings), `channel=wechat` for the WeChat Pay operating account's fund-flow
/// bill (as downloaded: UTF-8, backticks, summary rows). Checked while it streams in (a
/// file that cannot be read is 422 and nothing is kept), stored encrypted, and reconciled
/// by a job (202). The day's run is created, or replaced in place (its id and finance's
/// resolutions kept).
#[utoipa::path(
    tag = "reconciliation",
    security(("bearer" = [])),
    params(StatementQuery),
    request_body(content = String, content_type = "text/csv", description = "The statement file"),
    responses(
        (status = 202, body = RunView),
        (status = 400, description = "`request.invalid_query`, `statement.upload_interrupted`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, `auth.out_of_scope` (statements are uploaded by finance approvers over the union that owns the accounts)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`reconciliation.running`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`statement.too_large` (over 512 MB)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`statement.day_not_over`, `statement.unreadable`, `statement.unusable_template`, `request.invalid_date`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/finance/statements")]
pub async fn upload_statement(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<StatementQuery>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let view = reconcile::upload(&state, &caller, query.into_inner(), payload).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/finance/reconciliations/{}", view.id),
        ))
        .json(view))
}

/// Reconciliation runs, newest day first: one per channel and day.
#[utoipa::path(
    tag = "reconciliation",
    security(("bearer" = [])),
    params(RunsQuery),
    responses(
        (status = 200, body = Page<RunView>),
        (status = 400, description = "`request.invalid_query`, `request.invalid_limit`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`request.invalid_date` (a day that does not exist)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/finance/reconciliations")]
pub async fn list_runs(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<RunsQuery>,
) -> ApiResult<web::Json<Page<RunView>>> {
    Ok(web::Json(
        reconcile::runs(&state, &caller, query.into_inner()).await?,
    ))
}

/// One run: status, both sides' totals, counts and sums by outcome, the bill's own
/// summary rows checked, unreadable lines.
#[utoipa::path(
    tag = "reconciliation",
    security(("bearer" = [])),
    responses(
        (status = 200, body = RunView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`reconciliation.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/finance/reconciliations/{id}")]
pub async fn get_run(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<RunView>> {
    Ok(web::Json(
        reconcile::run(&state, &caller, id.into_inner()).await?,
    ))
}

/// Reconciles the day again: the stored statement read again (or the WeChat Pay bill
/// fetched again). The run keeps its id; resolutions are kept.
#[utoipa::path(
    tag = "reconciliation",
    security(("bearer" = [])),
    responses(
        (status = 202, body = RunView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, `auth.out_of_scope` (over the union that owns the accounts)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`reconciliation.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`reconciliation.running`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`reconciliation.no_statement`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/finance/reconciliations/{id}/rerun")]
pub async fn rerun(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let view = reconcile::rerun(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(view))
}

/// A run's items in the caller's scope, by statement line: every exception (or one
/// outcome; `matched` lists the matched lines), with their resolutions.
#[utoipa::path(
    tag = "reconciliation",
    security(("bearer" = [])),
    params(ItemsQuery),
    responses(
        (status = 200, body = Page<ItemView>),
        (status = 400, description = "`request.invalid_query`, `request.invalid_limit`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`reconciliation.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`request.invalid_cursor` (a cursor of the other listing: exceptions page by item id, matched lines by out_bill_no)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/finance/reconciliations/{id}/items")]
pub async fn list_items(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    query: web::Query<ItemsQuery>,
) -> ApiResult<web::Json<Page<ItemView>>> {
    Ok(web::Json(
        reconcile::items(&state, &caller, id.into_inner(), query.into_inner()).await?,
    ))
}

/// Resolves an exception with a note (a finance approver over the payout's union; over the
/// whole union for money naming none of ours). Recorded with who and when, and kept when
/// the day is reconciled again.
#[utoipa::path(
    tag = "reconciliation",
    security(("bearer" = [])),
    params(("item" = i64, Path, minimum = 1, description = "The item's id in the run")),
    request_body = ResolveBody,
    responses(
        (status = 200, body = ItemView),
        (status = 400, description = "`request.invalid_body`, `reconciliation.invalid_note`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`reconciliation.blank_note`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`reconciliation.not_found`, `reconciliation.item_not_found` (also outside your scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`reconciliation.already_resolved`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/finance/reconciliations/{id}/items/{item}/resolve")]
pub async fn resolve_item(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, i64)>,
    body: web::Json<ResolveBody>,
) -> ApiResult<web::Json<ItemView>> {
    let (id, item) = path.into_inner();
    Ok(web::Json(
        reconcile::resolve(&state, &caller, id, item, body.into_inner()).await?,
    ))
}

/// A run's exceptions in the caller's scope as CSV (UTF-8 with BOM): 序号, 差异类型, 账单行,
/// the numbers on both sides, amounts, 记账时间, and the resolution.
#[utoipa::path(
    tag = "reconciliation",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The exceptions", body = String, content_type = "text/csv"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`reconciliation.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/finance/reconciliations/{id}/exceptions.csv")]
pub async fn exceptions_csv(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let bytes = reconcile::exceptions_csv(&state, &caller, id.clone()).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"reconciliation-{id}-exceptions.csv\""),
        ))
        .body(bytes))
}
