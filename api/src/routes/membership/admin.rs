//! Union admins' side of membership, each scoped to the admin's subtree: review
//! applications, decide transfers into their unions, search, suspend and reinstate members,
//! read unmasked identity (logged), and configure routing and auto-approval.

use actix_web::{get, post, put, web};
use chrono::{DateTime, Utc};
use gongyou_db::membership::{self as db, MemberQuery};
use gongyou_db::{orgs, write_tx, DbConnection};
use gongyou_domain::id_number::IdNumber;
use gongyou_domain::membership::{is_valid_card_number, Occupation};
use gongyou_domain::org::OrgPath;
use gongyou_domain::phone::Phone;
use gongyou_domain::region::RegionCode;
use gongyou_domain::staff::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::worker::{approve_in_tx, new_card_number};
use super::{
    application_view, membership_view, record, transfer_view, Actor, ApplicationView,
    MembershipView, TransferView,
};
use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ApiResult, Problem};
use crate::notify::notify;
use crate::routes::page::{Page, PageQuery};
use crate::state::AppState;
use gongyou_domain::notification::Category;
use serde_json::json;

fn scope_paths(caller: &Caller) -> ApiResult<Vec<String>> {
    Ok(authz::scopes(caller, Role::UnionAdmin)?
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect())
}

/// Requires union_admin over `org_id`; `hidden` when outside.
fn require_org(
    conn: &mut DbConnection,
    caller: &Caller,
    org_id: &str,
    hidden: fn() -> ApiError,
) -> ApiResult<orgs::Org> {
    let org = orgs::get(conn, org_id)?.ok_or_else(hidden)?;
    authz::require(
        caller,
        Role::UnionAdmin,
        &OrgPath::from_stored(org.path.clone()),
        hidden,
    )?;
    Ok(org)
}

fn application_not_found() -> ApiError {
    ApiError::not_found("membership.application_not_found", "入会申请不存在")
}

fn member_not_found() -> ApiError {
    ApiError::not_found("membership.member_not_found", "会员不存在")
}

fn transfer_not_found() -> ApiError {
    ApiError::not_found("membership.transfer_not_found", "转会申请不存在")
}

fn staff_id(caller: &Caller) -> ApiResult<String> {
    Ok(caller.staff()?.0.to_owned())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ApplicationListQuery {
    /// `pending`, `approved` or `rejected`.
    pub status: Option<String>,
    /// Only applications whose ID number is already held by another account.
    pub identity_conflict: Option<bool>,
}

/// Applications routed to unions in the caller's subtree.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    params(ApplicationListQuery, PageQuery),
    responses(
        (status = 200, body = Page<ApplicationView>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/membership/applications")]
pub async fn list_applications(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<ApplicationListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<ApplicationView>>> {
    let within = scope_paths(&caller)?;
    let limit = page.limit()?;
    let cursor = page.into_inner().cursor;
    let filter = filter.into_inner();
    if let Some(s) = filter.status.as_deref() {
        if ![db::APP_PENDING, db::APP_APPROVED, db::APP_REJECTED].contains(&s) {
            return Err(ApiError::bad_request(
                "request.invalid_query",
                "status 须为 pending、approved 或 rejected",
            ));
        }
    }
    let today = super::china_date(state.clock.now());
    let crypto = state.crypto.clone();
    let page = state
        .db
        .run(move |conn| -> ApiResult<Page<ApplicationView>> {
            let rows = db::list_applications(
                conn,
                &db::ApplicationFilter {
                    within: &within,
                    status: filter.status.as_deref(),
                    identity_conflict: filter.identity_conflict,
                    after: cursor.as_deref(),
                    limit: limit + 1,
                },
            )?;
            let page = Page::from_rows(rows, limit, |a| a.id.clone(), |a| a);
            let items = page
                .items
                .iter()
                .map(|a| application_view(conn, &crypto, a, today, true))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page {
                items,
                next_cursor: page.next_cursor,
            })
        })
        .await?;
    Ok(web::Json(page))
}

/// Approves an application: the member gets a card number and a joined date.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MembershipView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.application_not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.application_decided`, `membership.already_member`, `membership.identity_in_use`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/membership/applications/{id}/approve")]
pub async fn approve_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<MembershipView>> {
    let by = staff_id(&caller)?;
    authz::scopes(&caller, Role::UnionAdmin)?;
    let id = id.into_inner();
    let now = state.clock.now();
    let crypto = state.crypto.clone();
    let view = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<MembershipView> {
                let app = db::application(conn, &id)?.ok_or_else(application_not_found)?;
                require_org(conn, &caller, &app.org_id, application_not_found)?;
                if app.status != db::APP_PENDING {
                    return Err(ApiError::conflict(
                        "membership.application_decided",
                        "该申请已处理",
                    ));
                }
                let membership = approve_in_tx(conn, &app, Actor::Staff(&by), now)?;
                Ok(membership_view(
                    conn,
                    &crypto,
                    &membership,
                    super::china_date(now),
                )?)
            })
        })
        .await?;
    tracing::info!(membership = %view.id, "membership approved");
    Ok(web::Json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Decision {
    /// Why (required for rejections and suspensions; shown to the worker).
    pub reason: String,
}

fn checked_reason(reason: &str) -> ApiResult<String> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::unprocessable(
            "membership.reason_required",
            "请填写原因（200 字以内）",
        ));
    }
    Ok(reason.to_owned())
}

/// Rejects an application with a reason.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    request_body = Decision,
    responses(
        (status = 200, body = ApplicationView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.application_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.application_decided`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.reason_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/membership/applications/{id}/reject")]
pub async fn reject_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<Decision>,
) -> ApiResult<web::Json<ApplicationView>> {
    let by = staff_id(&caller)?;
    authz::scopes(&caller, Role::UnionAdmin)?;
    let reason = checked_reason(&body.reason)?;
    let id = id.into_inner();
    let now = state.clock.now();
    let crypto = state.crypto.clone();
    let view = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<ApplicationView> {
                let app = db::application(conn, &id)?.ok_or_else(application_not_found)?;
                require_org(conn, &caller, &app.org_id, application_not_found)?;
                if app.status != db::APP_PENDING {
                    return Err(ApiError::conflict(
                        "membership.application_decided",
                        "该申请已处理",
                    ));
                }
                if !db::decide_application(
                    conn,
                    &app.id,
                    db::APP_REJECTED,
                    &by,
                    Some(&reason),
                    None,
                    now.naive_utc(),
                )? {
                    return Err(ApiError::conflict(
                        "membership.application_decided",
                        "该申请已处理",
                    ));
                }
                record(
                    conn,
                    None,
                    Some(&app.id),
                    "rejected",
                    Actor::Staff(&by),
                    Some(&reason),
                    now.naive_utc(),
                )?;
                let org = orgs::get(conn, &app.org_id)?
                    .map(|o| o.name)
                    .unwrap_or_default();
                notify(
                    conn,
                    &app.user_id,
                    Category::MembershipRejected,
                    json!({"org": org, "reason": reason}),
                    now,
                )?;
                let app = db::application(conn, &app.id)?.unwrap_or(app);
                Ok(application_view(
                    conn,
                    &crypto,
                    &app,
                    super::china_date(now),
                    true,
                )?)
            })
        })
        .await?;
    Ok(web::Json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TransferListQuery {
    /// `pending`, `approved`, `rejected` or `cancelled`.
    pub status: Option<String>,
}

/// Transfers into unions of the caller's subtree.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    params(TransferListQuery, PageQuery),
    responses(
        (status = 200, body = Page<TransferView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/membership/transfers")]
pub async fn list_transfers(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<TransferListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<TransferView>>> {
    let within = scope_paths(&caller)?;
    let limit = page.limit()?;
    let cursor = page.into_inner().cursor;
    let status = filter.into_inner().status;
    let page = state
        .db
        .run(move |conn| -> ApiResult<Page<TransferView>> {
            let rows = db::list_transfers(
                conn,
                &within,
                status.as_deref(),
                cursor.as_deref(),
                limit + 1,
            )?;
            let page = Page::from_rows(rows, limit, |t| t.id.clone(), |t| t);
            let items = page
                .items
                .iter()
                .map(|t| transfer_view(conn, t, true))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page {
                items,
                next_cursor: page.next_cursor,
            })
        })
        .await?;
    Ok(web::Json(page))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferDecision {
    pub note: Option<String>,
}

async fn decide_transfer(
    state: web::Data<AppState>,
    caller: Caller,
    id: String,
    approve: bool,
    note: Option<String>,
) -> ApiResult<web::Json<TransferView>> {
    let by = staff_id(&caller)?;
    authz::scopes(&caller, Role::UnionAdmin)?;
    let now = state.clock.now().naive_utc();
    let view = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<TransferView> {
                let t = db::transfer(conn, &id)?.ok_or_else(transfer_not_found)?;
                // The receiving union decides.
                let to = require_org(conn, &caller, &t.to_org_id, transfer_not_found)?;
                if t.status != db::TRANSFER_PENDING {
                    return Err(ApiError::conflict(
                        "membership.transfer_decided",
                        "该转会申请已处理",
                    ));
                }
                let note = note
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(|n| n.chars().take(200).collect::<String>());
                if approve {
                    let m =
                        db::membership(conn, &t.membership_id)?.ok_or_else(transfer_not_found)?;
                    if m.status != db::MEMBER_ACTIVE {
                        return Err(ApiError::conflict(
                            "membership.not_active",
                            "会籍未生效，无法转会",
                        ));
                    }
                    if !db::decide_transfer(
                        conn,
                        &t.id,
                        db::TRANSFER_APPROVED,
                        &by,
                        note.as_deref(),
                        now,
                    )? {
                        return Err(ApiError::conflict(
                            "membership.transfer_decided",
                            "该转会申请已处理",
                        ));
                    }
                    let card = new_card_number(conn, &to)?;
                    db::move_membership(conn, &m.id, &to.id, &card, now)?;
                    record(
                        conn,
                        Some(&m.id),
                        None,
                        "transferred",
                        Actor::Staff(&by),
                        note.as_deref(),
                        now,
                    )?;
                    notify(
                        conn,
                        &m.user_id,
                        Category::TransferApproved,
                        json!({"org": to.name, "card_number": card}),
                        now.and_utc(),
                    )?;
                } else {
                    if !db::decide_transfer(
                        conn,
                        &t.id,
                        db::TRANSFER_REJECTED,
                        &by,
                        note.as_deref(),
                        now,
                    )? {
                        return Err(ApiError::conflict(
                            "membership.transfer_decided",
                            "该转会申请已处理",
                        ));
                    }
                    record(
                        conn,
                        Some(&t.membership_id),
                        None,
                        "transfer_rejected",
                        Actor::Staff(&by),
                        note.as_deref(),
                        now,
                    )?;
                    if let Some(m) = db::membership(conn, &t.membership_id)? {
                        notify(
                            conn,
                            &m.user_id,
                            Category::TransferRejected,
                            json!({"org": to.name, "reason": note.as_deref().unwrap_or("")}),
                            now.and_utc(),
                        )?;
                    }
                }
                let t = db::transfer(conn, &t.id)?.unwrap_or(t);
                Ok(transfer_view(conn, &t, true)?)
            })
        })
        .await?;
    Ok(web::Json(view))
}

/// Approves a transfer into one of the caller's unions: the member moves, with a new card number.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    request_body = TransferDecision,
    responses(
        (status = 200, body = TransferView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.transfer_not_found` (also: not into your subtree)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.transfer_decided`, `membership.not_active`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/membership/transfers/{id}/approve")]
pub async fn approve_transfer(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: Option<web::Json<TransferDecision>>,
) -> ApiResult<web::Json<TransferView>> {
    decide_transfer(
        state,
        caller,
        id.into_inner(),
        true,
        body.and_then(|b| b.into_inner().note),
    )
    .await
}

/// Rejects a transfer into one of the caller's unions.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    request_body = TransferDecision,
    responses(
        (status = 200, body = TransferView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.transfer_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.transfer_decided`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/membership/transfers/{id}/reject")]
pub async fn reject_transfer(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: Option<web::Json<TransferDecision>>,
) -> ApiResult<web::Json<TransferView>> {
    decide_transfer(
        state,
        caller,
        id.into_inner(),
        false,
        body.and_then(|b| b.into_inner().note),
    )
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MemberSearch {
    /// A card number, a phone number, an ID number (matched by its blind index) or the
    /// beginning of a name.
    pub q: Option<String>,
    /// `active`, `suspended` or `withdrawn`.
    pub status: Option<String>,
}

/// Searches members of unions in the caller's subtree.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    params(MemberSearch, PageQuery),
    responses(
        (status = 200, body = Page<MembershipView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/members")]
pub async fn search_members(
    state: web::Data<AppState>,
    caller: Caller,
    search: web::Query<MemberSearch>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<MembershipView>>> {
    let within = scope_paths(&caller)?;
    let limit = page.limit()?;
    let cursor = page.into_inner().cursor;
    let MemberSearch { q, status } = search.into_inner();
    let now = state.clock.now();
    let q = q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
    let index = q
        .as_deref()
        .and_then(|q| IdNumber::parse(q, super::china_date(now)).ok())
        .map(|id| state.crypto.blind_index("id_number", id.as_str()));
    let crypto = state.crypto.clone();
    let page = state
        .db
        .run(move |conn| -> ApiResult<Page<MembershipView>> {
            let phone = q.as_deref().and_then(|q| Phone::parse(q).ok());
            let query = match (&q, &index, &phone) {
                (None, _, _) => MemberQuery::All,
                (_, Some(index), _) => MemberQuery::IdIndex(index),
                (Some(q), None, _) if is_valid_card_number(q) => MemberQuery::CardNumber(q),
                (_, None, Some(phone)) => MemberQuery::Phone(phone.as_str()),
                (Some(q), None, None) => MemberQuery::NamePrefix(q),
            };
            let rows = db::search_members(
                conn,
                &within,
                &query,
                status.as_deref(),
                cursor.as_deref(),
                limit + 1,
            )?;
            let page = Page::from_rows(rows, limit, |m| m.id.clone(), |m| m);
            let items = page
                .items
                .iter()
                .map(|m| membership_view(conn, &crypto, m, super::china_date(now)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page {
                items,
                next_cursor: page.next_cursor,
            })
        })
        .await?;
    Ok(web::Json(page))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub kind: String,
    /// `user` or `staff`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityRead {
    pub staff_id: String,
    pub purpose: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDetail {
    pub membership: MembershipView,
    /// Every change, with actor, time and reason.
    pub history: Vec<HistoryEntry>,
    /// Every staff read of the unmasked identity: who, when, why.
    pub identity_reads: Vec<IdentityRead>,
}

/// One member, with history and the log of identity reads.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MemberDetail),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.member_not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/members/{membership_id}")]
pub async fn get_member(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<MemberDetail>> {
    authz::scopes(&caller, Role::UnionAdmin)?;
    let id = id.into_inner();
    let today = super::china_date(state.clock.now());
    let crypto = state.crypto.clone();
    let detail = state
        .db
        .run(move |conn| -> ApiResult<MemberDetail> {
            let m = db::membership(conn, &id)?.ok_or_else(member_not_found)?;
            require_org(conn, &caller, &m.org_id, member_not_found)?;
            let history = db::events_of(conn, &m.id, &m.application_id)?
                .into_iter()
                .map(|e| HistoryEntry {
                    kind: e.kind,
                    actor_kind: e.actor_kind,
                    actor_id: e.actor_id,
                    reason: e.reason,
                    at: e.created_at.and_utc(),
                })
                .collect();
            let identity_reads = db::pii_reads_of(conn, "membership", &m.id)?
                .into_iter()
                .map(|(staff_id, purpose, at)| IdentityRead {
                    staff_id,
                    purpose,
                    at: at.and_utc(),
                })
                .collect();
            Ok(MemberDetail {
                membership: membership_view(conn, &crypto, &m, today)?,
                history,
                identity_reads,
            })
        })
        .await?;
    Ok(web::Json(detail))
}

async fn set_status(
    state: web::Data<AppState>,
    caller: Caller,
    id: String,
    reason: String,
    from: &'static str,
    to: &'static str,
    kind: &'static str,
) -> ApiResult<web::Json<MembershipView>> {
    let by = staff_id(&caller)?;
    authz::scopes(&caller, Role::UnionAdmin)?;
    let reason = checked_reason(&reason)?;
    let now = state.clock.now();
    let crypto = state.crypto.clone();
    let view = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<MembershipView> {
                let m = db::membership(conn, &id)?.ok_or_else(member_not_found)?;
                require_org(conn, &caller, &m.org_id, member_not_found)?;
                if m.status != from {
                    return Err(ApiError::conflict(
                        "membership.wrong_status",
                        format!("会籍当前状态为 {}，不能执行该操作", m.status),
                    ));
                }
                if !db::set_membership_status(conn, &m.id, from, to, None, now.naive_utc())? {
                    return Err(ApiError::conflict(
                        "membership.wrong_status",
                        "会籍状态刚刚发生变化，请刷新后重试",
                    ));
                }
                record(
                    conn,
                    Some(&m.id),
                    None,
                    kind,
                    Actor::Staff(&by),
                    Some(&reason),
                    now.naive_utc(),
                )?;
                let org = orgs::get(conn, &m.org_id)?
                    .map(|o| o.name)
                    .unwrap_or_default();
                let category = if to == db::MEMBER_SUSPENDED {
                    Category::MembershipSuspended
                } else {
                    Category::MembershipReinstated
                };
                notify(
                    conn,
                    &m.user_id,
                    category,
                    json!({"org": org, "reason": reason}),
                    now,
                )?;
                let m = db::membership(conn, &m.id)?.unwrap_or(m);
                Ok(membership_view(conn, &crypto, &m, super::china_date(now))?)
            })
        })
        .await?;
    Ok(web::Json(view))
}

/// Suspends an active membership (the e-card stops verifying).
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    request_body = Decision,
    responses(
        (status = 200, body = MembershipView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.member_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.wrong_status`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.reason_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/members/{membership_id}/suspend")]
pub async fn suspend(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<Decision>,
) -> ApiResult<web::Json<MembershipView>> {
    set_status(
        state,
        caller,
        id.into_inner(),
        body.into_inner().reason,
        db::MEMBER_ACTIVE,
        db::MEMBER_SUSPENDED,
        "suspended",
    )
    .await
}

/// Reinstates a suspended membership.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    request_body = Decision,
    responses(
        (status = 200, body = MembershipView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.member_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.wrong_status`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.reason_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/members/{membership_id}/reinstate")]
pub async fn reinstate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<Decision>,
) -> ApiResult<web::Json<MembershipView>> {
    set_status(
        state,
        caller,
        id.into_inner(),
        body.into_inner().reason,
        db::MEMBER_SUSPENDED,
        db::MEMBER_ACTIVE,
        "reinstated",
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct IdentityReadRequest {
    /// Why the unmasked identity is needed (recorded).
    pub purpose: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Identity {
    pub real_name: String,
    /// Unmasked.
    pub id_number: String,
}

/// Reads a member's unmasked ID number, for a stated purpose; the read is recorded.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    request_body = IdentityReadRequest,
    responses(
        (status = 200, body = Identity),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.member_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.erased`: erased at the member's request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.purpose_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/members/{membership_id}/identity-reads")]
pub async fn read_identity(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<IdentityReadRequest>,
) -> ApiResult<web::Json<Identity>> {
    let by = staff_id(&caller)?;
    authz::scopes(&caller, Role::UnionAdmin)?;
    let purpose = body.purpose.trim().to_owned();
    if purpose.chars().count() < 4 || purpose.chars().count() > 200 {
        return Err(ApiError::unprocessable(
            "membership.purpose_required",
            "请说明查看原因（4 至 200 字）",
        ));
    }
    let id = id.into_inner();
    let now = state.clock.now().naive_utc();
    let crypto = state.crypto.clone();
    let reader = by.clone();
    let identity = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<Identity> {
                let m = db::membership(conn, &id)?.ok_or_else(member_not_found)?;
                require_org(conn, &caller, &m.org_id, member_not_found)?;
                if m.id_number_enc.is_empty() {
                    return Err(ApiError::conflict(
                        "membership.erased",
                        "该会员的个人信息已应本人要求删除",
                    ));
                }
                let id_number = crypto
                    .decrypt(&m.id_number_key_id, &m.id_number_enc, "id_number")
                    .map_err(|e| {
                        ApiError::internal(anyhow::anyhow!("decrypting an ID number: {e}"))
                    })?;
                db::log_pii_read(conn, &by, "membership", &m.id, &purpose, now)?;
                Ok(Identity {
                    real_name: m.real_name,
                    id_number,
                })
            })
        })
        .await?;
    tracing::info!(staff = %reader, "unmasked identity read (recorded)");
    Ok(web::Json(identity))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct Route {
    /// GB/T 2260 code within the union's region.
    pub region_code: String,
    /// An occupation, or `any`.
    pub occupation: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct MembershipSettings {
    /// Approve applications routed here at once (not those under identity review).
    pub auto_approve: bool,
    /// Applications from these regions and occupations are routed to this union (else to a
    /// grassroots union of the region, else to the nearest union above it).
    pub routes: Vec<Route>,
}

/// A union's membership settings: routing and auto-approval.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MembershipSettings),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/orgs/{id}/membership-settings")]
pub async fn get_settings(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<MembershipSettings>> {
    authz::scopes(&caller, Role::UnionAdmin)?;
    let id = id.into_inner();
    let settings = state
        .db
        .run(move |conn| -> ApiResult<MembershipSettings> {
            let org = require_org(conn, &caller, &id, org_not_found)?;
            Ok(MembershipSettings {
                auto_approve: db::auto_approve(conn, &org.id)?,
                routes: db::routes_to(conn, &org.id)?
                    .into_iter()
                    .map(|(region_code, occupation)| Route {
                        region_code,
                        occupation,
                    })
                    .collect(),
            })
        })
        .await?;
    Ok(web::Json(settings))
}

fn org_not_found() -> ApiError {
    ApiError::not_found("org.not_found", "组织不存在")
}

/// Replaces a union's membership settings.
#[utoipa::path(
    tag = "membership-admin",
    security(("bearer" = [])),
    request_body = MembershipSettings,
    responses(
        (status = 200, body = MembershipSettings),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.route_taken`: a union outside your subtree takes these applications", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.route_invalid`: unknown region or occupation, or outside the union's region", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/admin/orgs/{id}/membership-settings")]
pub async fn put_settings(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<MembershipSettings>,
) -> ApiResult<web::Json<MembershipSettings>> {
    authz::scopes(&caller, Role::UnionAdmin)?;
    let id = id.into_inner();
    let settings = body.into_inner();
    let now = state.clock.now().naive_utc();
    let saved = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<MembershipSettings> {
                let org = require_org(conn, &caller, &id, org_not_found)?;
                let org_region = org
                    .region_code
                    .as_deref()
                    .and_then(|c| RegionCode::parse(c).ok());
                let invalid = || {
                    ApiError::unprocessable(
                        "membership.route_invalid",
                        "路由的地区或职业不正确，或不在本工会地区内",
                    )
                };
                db::clear_routes_to(conn, &org.id)?;
                for route in &settings.routes {
                    let region = RegionCode::parse(&route.region_code).map_err(|_| invalid())?;
                    if org_region.is_some_and(|r| !region.is_within(r)) {
                        return Err(invalid());
                    }
                    if route.occupation != db::ANY_OCCUPATION
                        && Occupation::parse(&route.occupation).is_none()
                    {
                        return Err(invalid());
                    }
                    // A route another union holds may only be taken by an admin over that union.
                    if let Some(owner) =
                        db::route_owner(conn, &region.to_string(), &route.occupation)?
                    {
                        let owner_path =
                            orgs::get(conn, &owner)?.map(|o| o.path).unwrap_or_default();
                        if !caller.holds(Role::UnionAdmin, &OrgPath::from_stored(owner_path)) {
                            return Err(ApiError::conflict(
                                "membership.route_taken",
                                "该地区和职业的入会申请已由您管理范围以外的工会受理",
                            ));
                        }
                    }
                    db::set_route(conn, &region.to_string(), &route.occupation, &org.id, now)?;
                }
                db::set_auto_approve(conn, &org.id, settings.auto_approve, now)?;
                Ok(settings)
            })
        })
        .await?;
    Ok(web::Json(saved))
}
