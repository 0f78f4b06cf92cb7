//! Payouts: finance approvers list payouts, build and approve batches (two people), take a
//! bank batch's file once and import the bank's result; riders see their payouts and what
//! the mini-program needs to confirm a WeChat transfer; WeChat Pay calls back.

use actix_web::http::header;
use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use gongyou_services::page::Page;
use gongyou_services::payouts::{
    self, BankImportReport, BatchBody, BatchView, BatchesQuery, MyPayoutView, PayeeDecisionBody,
    PayeeRequestBody, PayeeRequestView, PayoutEventView, PayoutSettingsBody, PayoutSettingsView,
    PayoutView, PayoutsQuery, RetryBody, SwitchPayeeBody,
};
use gongyou_services::payouts::{NotificationError, NotificationHeaders};
use serde::Serialize;

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::idempotency::{idempotent_by_ref, IdempotencyKeyHeader};
use crate::state::AppState;

/// Payouts in the caller's finance scope, newest first, with what blocks each from a batch.
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    params(PayoutsQuery),
    responses(
        (status = 200, body = Page<PayoutView>),
        (status = 400, description = "`request.invalid_query`, `request.invalid_limit`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/finance/payouts")]
pub async fn list_payouts(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PayoutsQuery>,
) -> ApiResult<web::Json<Page<PayoutView>>> {
    Ok(web::Json(
        payouts::payouts(&state, &caller, query.into_inner()).await?,
    ))
}

/// One payout with its attempts (each `out_bill_no`, state and outcome).
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    responses(
        (status = 200, body = PayoutView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`payout.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/finance/payouts/{id}")]
pub async fn get_payout(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<PayoutView>> {
    Ok(web::Json(
        payouts::payout(&state, &caller, id.into_inner()).await?,
    ))
}

/// A payout's trail: every transition with who, when and why.
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<PayoutEventView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`payout.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/finance/payouts/{id}/events")]
pub async fn payout_events(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<Vec<PayoutEventView>>> {
    Ok(web::Json(
        payouts::payout_events(&state, &caller, id.into_inner()).await?,
    ))
}

/// Sends a failed or cancelled payout again, under a new `out_bill_no` — only once the
/// previous attempt is final.
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    request_body = RetryBody,
    responses(
        (status = 200, body = PayoutView),
        (status = 400, description = "`payout.invalid_note`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`payout.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`payout.attempt_open`, `payout.changed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`payout.not_retryable`, `payout.blocked`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/finance/payouts/{id}/retry")]
pub async fn retry_payout(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<RetryBody>,
) -> ApiResult<web::Json<PayoutView>> {
    Ok(web::Json(
        payouts::retry(&state, &caller, id.into_inner(), body.into_inner()).await?,
    ))
}

/// Cancels a WeChat transfer the rider has not confirmed yet (to re-issue it after, or to
/// stop it). It is cancelled once WeChat Pay says so.
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    request_body = RetryBody,
    responses(
        (status = 200, body = PayoutView),
        (status = 400, description = "`payout.invalid_note`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`payout.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`payout.not_cancellable`, `payout.provider_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`payout.wechatpay_unavailable`, `payout.provider_unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/finance/payouts/{id}/cancel")]
pub async fn cancel_payout(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<RetryBody>,
) -> ApiResult<web::Json<PayoutView>> {
    Ok(web::Json(
        payouts::cancel(&state, &caller, id.into_inner(), body.into_inner()).await?,
    ))
}

/// Switches a payout to another payee the rider entered themselves (their WeChat balance,
/// or the bank account of one of their claims). Recorded with the reason; the rider is told.
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    request_body = SwitchPayeeBody,
    responses(
        (status = 200, body = PayoutView),
        (status = 400, description = "`payout.invalid_reason`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`payout.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`payout.changed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`payout.payee_locked`, `payout.payee_not_entered`, `payout.payee_source_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/finance/payouts/{id}/payee")]
pub async fn switch_payee(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<SwitchPayeeBody>,
) -> ApiResult<web::Json<PayoutView>> {
    Ok(web::Json(
        payouts::switch_payee(&state, &caller, id.into_inner(), body.into_inner()).await?,
    ))
}

/// Asks to pay a payout to a bank account the rider did not enter: it waits on a second
/// finance approver (`…/payee-request/decide`).
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    request_body = PayeeRequestBody,
    responses(
        (status = 201, body = PayeeRequestView),
        (status = 400, description = "`payout.invalid_*`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`payout.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`payout.payee_request_pending`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`payout.payee_locked`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/finance/payouts/{id}/payee-request")]
pub async fn request_payee(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<PayeeRequestBody>,
) -> ApiResult<HttpResponse> {
    let view = payouts::request_payee(&state, &caller, id.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::Created().json(view))
}

/// A second finance approver (not the one who asked) accepts or refuses a payee change.
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    request_body = PayeeDecisionBody,
    responses(
        (status = 200, body = PayoutView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, `payout.same_person`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`payout.not_found`, `payout.no_payee_request`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`payout.changed`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/finance/payouts/{id}/payee-request/decide")]
pub async fn decide_payee_request(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<PayeeDecisionBody>,
) -> ApiResult<web::Json<PayoutView>> {
    Ok(web::Json(
        payouts::decide_payee_request(&state, &caller, id.into_inner(), body.into_inner()).await?,
    ))
}

/// Builds a draft batch: the payouts named, or the oldest payable ones of the channel up to
/// a count or an amount. A different finance approver approves it. A replay with the same
/// `Idempotency-Key` answers the batch as it is now.
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    params(IdempotencyKeyHeader),
    request_body = BatchBody,
    responses(
        (status = 201, body = BatchView, headers(("Location" = String, description = "The batch"))),
        (status = 400, description = "`batch.invalid_*`, `batch.org_required`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, `auth.out_of_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency.*`, `batch.changed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`batch.empty`, `batch.invalid_payouts` (`payout_ids` with `max_count` or `max_amount`), `batch.payouts_unfit` (`errors`: each payout with its code and detail)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/finance/payout-batches")]
pub async fn create_batch(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: web::Json<BatchBody>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let (ctx, actor, owned) = (state.clone(), caller.clone(), body.clone());
    let (ctx_r, actor_r) = (state.clone(), caller.clone());
    let created = |view: BatchView| {
        HttpResponse::Created()
            .insert_header((
                header::LOCATION,
                format!("/api/v1/finance/payout-batches/{}", view.id),
            ))
            .json(view)
    };
    idempotent_by_ref(
        &state,
        &req,
        &caller,
        &body,
        || async move {
            let view = payouts::create_batch(&ctx, &actor, owned).await?;
            Ok(created(view))
        },
        |id| async move {
            let view = payouts::batch(&ctx_r, &actor_r, id).await?;
            Ok(created(view))
        },
    )
    .await
}

/// Batches in the caller's finance scope, newest first.
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    params(BatchesQuery),
    responses(
        (status = 200, body = Page<BatchView>),
        (status = 400, description = "`request.invalid_query`, `request.invalid_limit`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/finance/payout-batches")]
pub async fn list_batches(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<BatchesQuery>,
) -> ApiResult<web::Json<Page<BatchView>>> {
    Ok(web::Json(
        payouts::batches(&state, &caller, query.into_inner()).await?,
    ))
}

/// One batch with its counts and sums per payout state.
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    responses(
        (status = 200, body = BatchView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`batch.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/finance/payout-batches/{id}")]
pub async fn get_batch(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<BatchView>> {
    Ok(web::Json(
        payouts::batch(&state, &caller, id.into_inner()).await?,
    ))
}

/// Approves a draft batch — a finance approver who did not build it. A WeChat batch starts
/// sending at once; a bank batch's file can then be taken.
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    responses(
        (status = 200, body = BatchView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, `batch.same_person`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`batch.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`batch.not_draft`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/finance/payout-batches/{id}/approve")]
pub async fn approve_batch(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<BatchView>> {
    Ok(web::Json(
        payouts::approve_batch(&state, &caller, id.into_inner()).await?,
    ))
}

/// A transfer file's bytes (GBK or UTF-8, as the union's template says).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct CsvBytes(#[allow(dead_code)] Vec<u8>);

/// The transfer file of an approved bank batch, in the union's bank template — served once
/// (the only way account numbers leave the system). `X-Rows` says how many payouts it holds,
/// `X-Refused` how many were left out (failed with the reason, e.g. a name the encoding
/// cannot write).
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The file", content((inline(CsvBytes) = "text/csv")),
            headers(("X-Rows" = i64, description = "Payouts in the file"), ("X-Refused" = i64, description = "Payouts left out"))),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`batch.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`batch.file_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`batch.not_bank`, `batch.not_approved`, `payout.bank_template_invalid`, `payout.payee_erased`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/finance/payout-batches/{id}/bank-file")]
pub async fn bank_file(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let file = payouts::bank_file(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type(file.content_type)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", file.filename),
        ))
        .insert_header(("X-Rows", file.rows.to_string()))
        .insert_header(("X-Refused", file.refused.to_string()))
        .body(file.bytes))
}

/// The bank's result file for a bank batch (the union's result layout): settles each payout
/// as paid or failed. Importing the same file again changes nothing.
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv", description = "The bank's result file"),
    responses(
        (status = 200, body = BankImportReport),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`batch.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`batch.results_too_large` (above 8 MiB)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`batch.no_file`, `payout.result_template_invalid`, `batch.upload_interrupted`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/finance/payout-batches/{id}/bank-results")]
pub async fn bank_results(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<web::Json<BankImportReport>> {
    // Read as a stream: the file may be larger than the JSON body limit (up to 8 MiB).
    let body = payouts::read_result_file(payload).await?;
    Ok(web::Json(
        payouts::import_bank_results(&state, &caller, id.into_inner(), body).await?,
    ))
}

/// The bank templates that apply to an org (its own, an ancestor's, or the default).
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    responses(
        (status = 200, body = PayoutSettingsView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/finance/orgs/{id}/payout-settings")]
pub async fn get_payout_settings(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<PayoutSettingsView>> {
    Ok(web::Json(
        payouts::payout_settings(&state, &caller, id.into_inner()).await?,
    ))
}

/// Sets an org's bank templates: the transfer file's columns, order, separator and encoding,
/// the layout of the bank's result file, and (optionally: absent, the stored one stays) the
/// layout of the bank account statement reconciliation reads. A template that cannot make or
/// read a file is refused.
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    request_body = PayoutSettingsBody,
    responses(
        (status = 200, body = PayoutSettingsView),
        (status = 400, description = "`payout.invalid_template`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`payout.unusable_template` (a rule across fields: required columns, distinct headers and columns, status values in one list, a statement column named twice)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/finance/orgs/{id}/payout-settings")]
pub async fn put_payout_settings(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<PayoutSettingsBody>,
) -> ApiResult<web::Json<PayoutSettingsView>> {
    Ok(web::Json(
        payouts::put_payout_settings(&state, &caller, id.into_inner(), body.into_inner()).await?,
    ))
}

/// The caller's payouts, newest first. One waiting for confirmation carries what
/// `wx.requestMerchantTransfer({mchId, appId, package})` needs and when it expires.
#[utoipa::path(
    tag = "payouts",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<MyPayoutView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/payouts")]
pub async fn my_payouts(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<Vec<MyPayoutView>>> {
    Ok(web::Json(payouts::my_payouts(&state, &caller).await?))
}

/// WeChat Pay's answer to a callback it must send again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WechatPayFail {
    /// Always `FAIL`.
    #[schema(pattern = "^FAIL$")]
    pub code: String,
    pub message: String,
}

fn fail(status: actix_web::http::StatusCode, message: String) -> HttpResponse {
    HttpResponse::build(status).json(WechatPayFail {
        code: payouts::NOTIFY_ANSWER_FAIL.into(),
        message,
    })
}

/// WeChat Pay's transfer callbacks (`MCHTRANSFER.BILL.FINISHED`). No session: the signature
/// (`Wechatpay-Signature` by the key `Wechatpay-Serial` names), the timestamp (within 300 s)
/// and the nonce (never seen) are verified and the resource decrypted before anything
/// changes. Applied once however often it comes.
#[utoipa::path(
    tag = "payouts",
    params(
        ("Wechatpay-Timestamp" = String, Header, description = "Unix seconds"),
        ("Wechatpay-Nonce" = String, Header),
        ("Wechatpay-Signature" = String, Header, description = "Base64 SHA256withRSA over `timestamp\\nnonce\\nbody\\n`"),
        ("Wechatpay-Serial" = String, Header, description = "A `PUB_KEY_ID_…` or a platform certificate serial"),
        ("Wechatpay-Signature-Type" = Option<String>, Header),
    ),
    request_body(content = Object, content_type = "application/json", description = "WeChat Pay's notification: `id`, `event_type`, `resource` (encrypted)"),
    responses(
        (status = 204, description = "Taken"),
        (status = 400, description = "Malformed", body = WechatPayFail),
        (status = 401, description = "Signature, timestamp or nonce refused", body = WechatPayFail),
        (status = 500, description = "Not applied now: WeChat Pay sends it again", body = WechatPayFail),
        (status = 503, description = "Payments are not configured, or the nonce store is down", body = WechatPayFail),
    )
)]
#[post("/webhooks/wechatpay")]
pub async fn wechatpay_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let Some(pay) = state.providers.wechatpay.clone() else {
        return fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "payments not configured".into(),
        );
    };
    let h = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let headers = NotificationHeaders {
        timestamp: h("wechatpay-timestamp"),
        nonce: h("wechatpay-nonce"),
        signature: h("wechatpay-signature"),
        serial: h("wechatpay-serial"),
        signature_type: h("wechatpay-signature-type"),
    };
    let notice = match pay.verify_notification(&headers, &body, state.now()).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "wechat pay callback refused");
            let status = match &e {
                NotificationError::Missing(_) | NotificationError::Malformed(_) => {
                    StatusCode::BAD_REQUEST
                }
                NotificationError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::UNAUTHORIZED,
            };
            return fail(status, e.to_string());
        }
    };
    match payouts::apply_notice(&state, notice).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => {
            tracing::warn!(error = %e, "wechat pay callback not applied");
            fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "not applied, send again".into(),
            )
        }
    }
}
