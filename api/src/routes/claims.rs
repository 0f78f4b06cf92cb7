//! Benefit claims: members file, document, submit, follow and withdraw their claims;
//! claims reviewers and finance approvers of the claimant's union decide them.

use actix_web::http::header;
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use gongyou_domain::plan::DocumentKind;
use gongyou_services::claims::{
    self, document_missing, document_too_large, ApproveBody, ClaimBody, ClaimSettingsBody,
    ClaimSettingsView, ClaimView, ConfirmBody, DocumentView, EventView, QueueItem, QueueQuery,
    RejectBody, ReturnBody,
};
use gongyou_services::page::Page;

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::idempotency::{idempotent_by_ref, IdempotencyKeyHeader};
use crate::paging::PageQuery;
use crate::state::AppState;

fn step_up(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("x-step-up-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The optional step-up header, as operations that may set a bank account document it.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documentation only: handlers read the header themselves
pub struct StepUpHeader {
    /// A fresh SMS step-up proof (`POST /api/v1/auth/step-up`): needed to set or change a
    /// bank account payee.
    #[param(rename = "X-Step-Up-Token", nullable = false)]
    x_step_up_token: Option<String>,
}

/// Files a draft claim on one of the caller's enrollments and one benefit item of its plan
/// version. The answer says what is still missing, item by item. Naming a bank account
/// needs `X-Step-Up-Token`. A replay with the same `Idempotency-Key` answers the claim as
/// it is now (only its id was kept).
#[utoipa::path(
    tag = "claims",
    security(("bearer" = [])),
    params(IdempotencyKeyHeader, StepUpHeader),
    request_body = ClaimBody,
    responses(
        (status = 201, body = ClaimView, headers(("Location" = String, description = "The claim"))),
        (status = 400, description = "`claim.invalid_*`, `request.*`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`, `auth.step_up_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.enrollment_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency.*`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`claim.benefit_not_in_plan`, `claim.cost_not_applicable`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/claims")]
pub async fn create_claim(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: web::Json<ClaimBody>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let proof = step_up(&req);
    let (ctx, actor, owned) = (state.clone(), caller.clone(), body.clone());
    let (ctx_r, actor_r) = (state.clone(), caller.clone());
    idempotent_by_ref(
        &state,
        &req,
        &caller,
        &body,
        || async move {
            let view = claims::create_claim(&ctx, &actor, owned, proof.as_deref()).await?;
            Ok(HttpResponse::Created()
                .insert_header((header::LOCATION, format!("/api/v1/claims/{}", view.id)))
                .json(view))
        },
        |id| async move {
            let view = claims::claim(&ctx_r, &actor_r, id).await?;
            Ok(HttpResponse::Created()
                .insert_header((header::LOCATION, format!("/api/v1/claims/{}", view.id)))
                .json(view))
        },
    )
    .await
}

/// Rewrites a draft or returned claim (same enrollment and benefit item). Absent `payee`
/// keeps the current one; a new bank account needs `X-Step-Up-Token`.
#[utoipa::path(
    tag = "claims",
    security(("bearer" = [])),
    params(StepUpHeader),
    request_body = ClaimBody,
    responses(
        (status = 200, body = ClaimView),
        (status = 400, description = "`claim.invalid_*`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`, `auth.step_up_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`claim.illegal_transition` (not a draft or returned; `errors.status` is the current state), `claim.changed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`claim.cover_fixed`, `claim.cost_not_applicable`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/claims/{id}")]
pub async fn edit_claim(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<ClaimBody>,
) -> ApiResult<web::Json<ClaimView>> {
    let proof = step_up(&req);
    Ok(web::Json(
        claims::edit_claim(
            &state,
            &caller,
            id.into_inner(),
            body.into_inner(),
            proof.as_deref(),
        )
        .await?,
    ))
}

/// A claim: for its claimant, and for claims reviewers and finance approvers whose scope
/// holds the claimant's union at filing (they also see `staff`).
#[utoipa::path(
    tag = "claims",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ClaimView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.role_required` (staff who neither review nor approve)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.not_found` (also another's claim, or outside the caller's scope)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/claims/{id}")]
pub async fn get_claim(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<ClaimView>> {
    Ok(web::Json(
        claims::claim(&state, &caller, id.into_inner()).await?,
    ))
}

/// The caller's claims, newest first.
#[utoipa::path(
    tag = "claims",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = Page<ClaimView>),
        (status = 400, description = "`request.invalid_limit`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/claims")]
pub async fn my_claims(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<ClaimView>>> {
    Ok(web::Json(
        claims::my_claims(&state, &caller, page.into_inner().request()?).await?,
    ))
}

const TRANSITION_ERRORS: &str = "`claim.illegal_transition` (`errors.status` is the current state), `claim.changed` (another change won)";

/// Submits a draft. Every rule runs; all failures come back at once (422
/// `claim.rules_failed`, `errors`: `[{code, detail, subject}]`).
#[utoipa::path(
    tag = "claims",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ClaimView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = TRANSITION_ERRORS, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`claim.rules_failed`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/claims/{id}/submit")]
pub async fn submit_claim(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<ClaimView>> {
    Ok(web::Json(
        claims::submit(&state, &caller, id.into_inner()).await?,
    ))
}

/// Resubmits a returned claim with what was asked for; the rules run again.
#[utoipa::path(
    tag = "claims",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ClaimView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = TRANSITION_ERRORS, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`claim.rules_failed`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/claims/{id}/resubmit")]
pub async fn resubmit_claim(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<ClaimView>> {
    Ok(web::Json(
        claims::resubmit(&state, &caller, id.into_inner()).await?,
    ))
}

/// Withdraws a claim before a decision.
#[utoipa::path(
    tag = "claims",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ClaimView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = TRANSITION_ERRORS, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/claims/{id}/withdraw")]
pub async fn withdraw_claim(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<ClaimView>> {
    Ok(web::Json(
        claims::withdraw(&state, &caller, id.into_inner()).await?,
    ))
}

/// A claim's trail, oldest first: every transition with actor, time, reason and note (the
/// claimant sees the events meant for them, without staff ids).
#[utoipa::path(
    tag = "claims",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<EventView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/claims/{id}/events")]
pub async fn claim_events(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<Vec<EventView>>> {
    Ok(web::Json(
        claims::claim_events(&state, &caller, id.into_inner()).await?,
    ))
}

/// The multipart body of a document upload.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // a schema only: the handler streams the multipart body itself
pub struct DocumentUpload {
    pub kind: DocumentKind,
    /// JPEG, PNG or PDF (recognised by content).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// A document's bytes, as served.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct DocumentBytes(#[allow(dead_code)] Vec<u8>);

/// Adds a document to the caller's draft or returned claim (multipart/form-data: `kind`,
/// then `file`, as `wx.uploadFile` sends `formData` and the file). JPEG, PNG or PDF by
/// content, at most `GONGYOU_CLAIM_DOCUMENT_MAX_BYTES`; photos are re-encoded upright
/// without metadata; HEIC is refused with a hint.
#[utoipa::path(
    tag = "claims",
    security(("bearer" = [])),
    request_body(content = DocumentUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = DocumentView),
        (status = 400, description = "`claim.document_missing`: not multipart with `kind` and `file`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`claim.illegal_transition` (not a draft or returned), `claim.too_many_documents`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`claim.document_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`claim.document_type` (not JPEG, PNG or PDF), `claim.document_heic`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`claim.document_dimensions`: over 8192 pixels a side", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/claims/{id}/documents")]
pub async fn upload_claim_document(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    mut payload: actix_multipart::Multipart,
) -> ApiResult<HttpResponse> {
    use futures_util::TryStreamExt;
    let id = id.into_inner();
    claims::may_upload(&state, &caller, &id).await?;
    let max = state.config.claim_document_max_bytes;
    let malformed = |_| document_missing("请以 multipart/form-data 上传 kind 与 file 字段");
    let (mut kind, mut file): (Option<DocumentKind>, Option<Vec<u8>>) = (None, None);
    while let Some(mut field) = payload.try_next().await.map_err(malformed)? {
        match field.name() {
            Some("kind") if kind.is_none() => {
                let mut text = Vec::new();
                while let Some(chunk) = field.try_next().await.map_err(malformed)? {
                    if text.len() + chunk.len() > 64 {
                        return Err(document_missing("kind 无效").into());
                    }
                    text.extend_from_slice(&chunk);
                }
                let text = String::from_utf8(text).unwrap_or_default();
                kind = Some(DocumentKind::parse(text.trim()).ok_or_else(|| {
                    document_missing(
                        "kind 须为 id_front、id_back、medical_record_front_page、discharge_summary、invoice、accident_proof 或 other",
                    )
                })?);
            }
            Some("file") if file.is_none() => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.try_next().await.map_err(malformed)? {
                    if bytes.len() + chunk.len() > max {
                        return Err(document_too_large(max).into());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                file = Some(bytes);
            }
            _ => return Err(document_missing("只接受 kind 与 file 两个字段").into()),
        }
    }
    let (Some(kind), Some(file)) = (kind, file) else {
        return Err(document_missing("缺少 kind 或 file 字段").into());
    };
    let doc = claims::upload_document(&state, &caller, id, kind, file).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, doc.url.clone()))
        .json(doc))
}

/// A document's content: for the claimant and the staff in scope (every staff read is
/// recorded). Never cached.
#[utoipa::path(
    tag = "claims",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The document, as stored", content(
            (inline(DocumentBytes) = "image/jpeg"),
            (inline(DocumentBytes) = "image/png"),
            (inline(DocumentBytes) = "application/pdf"),
        )),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.not_found`, `claim.document_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/claims/{id}/documents/{doc_id}")]
pub async fn get_claim_document(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, doc_id) = path.into_inner();
    let doc = claims::document(&state, &caller, id, doc_id).await?;
    Ok(HttpResponse::Ok()
        .content_type(doc.content_type)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((header::CONTENT_DISPOSITION, "inline"))
        .body(doc.bytes))
}

/// Removes a document from the caller's draft or returned claim (a wrong photo, a page sent
/// twice).
#[utoipa::path(
    tag = "claims",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.not_found`, `claim.document_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`claim.illegal_transition` (not a draft or returned; `errors.status` is the current state)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/claims/{id}/documents/{doc_id}")]
pub async fn delete_claim_document(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, doc_id) = path.into_inner();
    claims::delete_document(&state, &caller, id, doc_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The review queue: claims waiting on staff in the caller's scope (claims reviewers and
/// finance approvers), oldest first, keyset pages.
#[utoipa::path(
    tag = "claims-review",
    security(("bearer" = [])),
    params(QueueQuery),
    responses(
        (status = 200, body = Page<QueueItem>),
        (status = 400, description = "`request.invalid_query`, `request.invalid_cursor`, `request.invalid_limit`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/review/claims")]
pub async fn review_queue(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<QueueQuery>,
) -> ApiResult<web::Json<Page<QueueItem>>> {
    Ok(web::Json(
        claims::queue(&state, &caller, query.into_inner()).await?,
    ))
}

/// Takes a submitted claim for review (or over from another reviewer).
#[utoipa::path(
    tag = "claims-review",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ClaimView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = TRANSITION_ERRORS, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/review/claims/{id}/assign")]
pub async fn assign_claim(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<ClaimView>> {
    Ok(web::Json(
        claims::assign(&state, &caller, id.into_inner()).await?,
    ))
}

/// Returns a claim in review to the claimant, with reason codes (the claimant is told).
#[utoipa::path(
    tag = "claims-review",
    security(("bearer" = [])),
    request_body = ReturnBody,
    responses(
        (status = 200, body = ClaimView),
        (status = 400, description = "`claim.reason_required`, `claim.invalid_note`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = TRANSITION_ERRORS, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/review/claims/{id}/return")]
pub async fn return_claim(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<ReturnBody>,
) -> ApiResult<web::Json<ClaimView>> {
    Ok(web::Json(
        claims::return_claim(&state, &caller, id.into_inner(), body.into_inner()).await?,
    ))
}

/// Approves a claim in review with the computed amount, or a lower one with a reason.
/// Above the confirm threshold it goes to `awaiting_confirmation`.
#[utoipa::path(
    tag = "claims-review",
    security(("bearer" = [])),
    request_body = ApproveBody,
    responses(
        (status = 200, body = ClaimView),
        (status = 400, description = "`claim.invalid_amount`, `claim.invalid_note`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = TRANSITION_ERRORS, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`claim.amount_above_computed`, `claim.reason_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/review/claims/{id}/approve")]
pub async fn approve_claim(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<ApproveBody>,
) -> ApiResult<web::Json<ClaimView>> {
    Ok(web::Json(
        claims::approve(&state, &caller, id.into_inner(), body.into_inner()).await?,
    ))
}

/// Rejects a claim in review (claims reviewers) or awaiting confirmation (reviewers or
/// finance approvers), with a reason code.
#[utoipa::path(
    tag = "claims-review",
    security(("bearer" = [])),
    request_body = RejectBody,
    responses(
        (status = 200, body = ClaimView),
        (status = 400, description = "`claim.invalid_note`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = TRANSITION_ERRORS, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/review/claims/{id}/reject")]
pub async fn reject_claim(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<RejectBody>,
) -> ApiResult<web::Json<ClaimView>> {
    Ok(web::Json(
        claims::reject(&state, &caller, id.into_inner(), body.into_inner()).await?,
    ))
}

/// Confirms a large approval: a finance approver in scope who is not the approver.
#[utoipa::path(
    tag = "claims-review",
    security(("bearer" = [])),
    request_body = ConfirmBody,
    responses(
        (status = 200, body = ClaimView),
        (status = 400, description = "`claim.invalid_note`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, `claim.same_person` (the approver cannot confirm)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`claim.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = TRANSITION_ERRORS, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/review/claims/{id}/confirm")]
pub async fn confirm_claim(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<ConfirmBody>,
) -> ApiResult<web::Json<ClaimView>> {
    Ok(web::Json(
        claims::confirm(&state, &caller, id.into_inner(), body.into_inner()).await?,
    ))
}

/// The confirm threshold that applies to an org (union admins in scope).
#[utoipa::path(
    tag = "claims-review",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ClaimSettingsView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/orgs/{id}/claim-settings")]
pub async fn get_claim_settings(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<ClaimSettingsView>> {
    Ok(web::Json(
        claims::claim_settings(&state, &caller, id.into_inner()).await?,
    ))
}

/// Sets an org's confirm threshold; its subtree inherits it unless a nearer org sets one.
#[utoipa::path(
    tag = "claims-review",
    security(("bearer" = [])),
    request_body = ClaimSettingsBody,
    responses(
        (status = 200, body = ClaimSettingsView),
        (status = 400, description = "`claim.invalid_amount`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/admin/orgs/{id}/claim-settings")]
pub async fn put_claim_settings(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<ClaimSettingsBody>,
) -> ApiResult<web::Json<ClaimSettingsView>> {
    Ok(web::Json(
        claims::put_claim_settings(&state, &caller, id.into_inner(), body.into_inner()).await?,
    ))
}
