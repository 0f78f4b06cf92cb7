//! Campaigns: a union admin's notice to the active members of their subtree (optionally
//! one occupation), e.g. a heat-wave warning. Fanned out by a job in batches.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use gongyou_db::campaigns::{self as store, Campaign};
use gongyou_db::{orgs, write_tx};
use gongyou_domain::membership::Occupation;
use gongyou_domain::org::OrgPath;
use gongyou_domain::staff::Role;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ApiResult, Problem};
use crate::routes::me::OrgRef;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCampaign {
    /// The audience: active members of this org's subtree.
    pub org_id: String,
    /// Only members of this occupation.
    #[schema(value_type = Option<String>, example = "delivery_rider")]
    pub occupation: Option<Occupation>,
    /// Up to 40 characters.
    pub title: String,
    /// Up to 500 characters.
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignView {
    pub id: String,
    pub org: OrgRef,
    pub occupation: Option<String>,
    pub title: String,
    pub body: String,
    /// `fanning_out` or `sent` (every inbox row and delivery written).
    pub status: String,
    /// Members written so far.
    pub recipients: i64,
    /// Push deliveries by status (`pending`, `sending`, `sent`, `skipped`, `failed`, `dead`).
    pub deliveries: BTreeMap<String, i64>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

fn view(conn: &mut gongyou_db::DbConnection, c: Campaign) -> ApiResult<CampaignView> {
    let org = orgs::get(conn, &c.org_id)?
        .map(|o| o.name)
        .unwrap_or_default();
    let deliveries = store::delivery_counts(conn, &c.id)?.into_iter().collect();
    Ok(CampaignView {
        id: c.id,
        org: OrgRef {
            id: c.org_id,
            name: org,
        },
        occupation: c.occupation,
        title: c.title,
        body: c.body,
        status: c.status,
        recipients: c.recipients,
        deliveries,
        created_at: c.created_at.and_utc(),
        completed_at: c.completed_at.map(|t| t.and_utc()),
    })
}

fn text(value: &str, max: usize, code: &'static str, detail: &'static str) -> ApiResult<String> {
    crate::routes::clean_text(value, 1..=max).ok_or_else(|| ApiError::unprocessable(code, detail))
}

/// Sends a notice to a subtree's active members.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    request_body = NewCampaign,
    responses(
        (status = 201, body = CampaignView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, `auth.out_of_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`campaign.invalid_title`, `campaign.invalid_body`, `campaign.unknown_org`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/campaigns")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewCampaign>,
) -> ApiResult<HttpResponse> {
    let (staff_id, _) = caller.staff()?;
    let staff_id = staff_id.to_owned();
    authz::scopes(&caller, Role::UnionAdmin)?;
    let body = body.into_inner();
    let title = text(
        &body.title,
        40,
        "campaign.invalid_title",
        "标题须为 1 至 40 个字",
    )?;
    let text_body = text(
        &body.body,
        500,
        "campaign.invalid_body",
        "内容须为 1 至 500 个字",
    )?;
    let now = state.clock.now();
    let created = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<CampaignView> {
                let org = orgs::get(conn, &body.org_id)?
                    .ok_or_else(|| ApiError::unprocessable("campaign.unknown_org", "组织不存在"))?;
                authz::require_visible(&caller, Role::UnionAdmin, &OrgPath::from_stored(org.path))?;
                let campaign = Campaign {
                    id: gongyou_domain::id::new_id(),
                    org_id: org.id,
                    occupation: body.occupation.map(|o| o.as_str().to_owned()),
                    title,
                    body: text_body,
                    status: store::FANNING_OUT.into(),
                    recipients: 0,
                    cursor: None,
                    created_by: staff_id,
                    created_at: now.naive_utc(),
                    completed_at: None,
                };
                store::insert(conn, &campaign)?;
                crate::background::enqueue_fan_out(conn, &campaign.id, now)?;
                view(conn, campaign)
            })
        })
        .await?;
    tracing::info!(campaign = %created.id, "campaign created");
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/admin/campaigns/{}", created.id),
        ))
        .json(created))
}

/// A campaign's progress and delivery counts.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, body = CampaignView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`campaign.not_found` (also outside your subtree)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/campaigns/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<CampaignView>> {
    authz::scopes(&caller, Role::UnionAdmin)?;
    let id = id.into_inner();
    let not_found = || ApiError::not_found("campaign.not_found", "通知任务不存在");
    let found = state
        .db
        .run(move |conn| -> ApiResult<CampaignView> {
            let c = store::get(conn, &id)?.ok_or_else(not_found)?;
            let org = orgs::get(conn, &c.org_id)?.ok_or_else(not_found)?;
            authz::require(
                &caller,
                Role::UnionAdmin,
                &OrgPath::from_stored(org.path),
                not_found,
            )?;
            view(conn, c)
        })
        .await?;
    Ok(web::Json(found))
}
