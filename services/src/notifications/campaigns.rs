//! Campaigns: a union admin's notice to the active members of their subtree (optionally
//! one occupation), e.g. a heat-wave warning. Fanned out by a job in batches, each batch one
//! transaction that also moves the campaign's cursor, so a fan-out resumes where it stopped.

use chrono::{DateTime, Utc};
use gongyou_db::campaigns::{self as store, Campaign};
use gongyou_db::jobs::Job;
use gongyou_db::{orgs, write_tx, DbConnection, DbError};
use gongyou_domain::membership::Occupation;
use gongyou_domain::notification::Category;
use gongyou_domain::org::OrgPath;
use gongyou_domain::staff::Role;
use gongyou_domain::text::TextRule;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::outbox::wake_dispatcher;
use crate::actor::Actor;
use crate::authz;
use crate::error::{ServiceError, ServiceResult};
use crate::page::{Page, PageRequest};
use crate::text::{CampaignBody, CampaignTitle};
use crate::views::{org_ref, OrgRef};
use crate::Context;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct NewCampaign {
    /// The audience: active members of this org's subtree.
    pub org_id: String,
    /// Only members of this occupation.
    pub occupation: Option<Occupation>,
    /// Up to 40 characters.
    #[schema(value_type = CampaignTitle, inline)]
    pub title: String,
    /// Up to 500 characters.
    #[schema(value_type = CampaignBody, inline)]
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
    /// WeChat subscribe messages, to the recipients who hold a credit for the notice
    /// template (ADR 021), by status: `sent`, `skipped` (WeChat says the credit is gone),
    /// `retrying` (sent again on their own after a failure), `dead` (refused), `pending`
    /// (not reached yet), and `batches_waiting` — batches of up to 1,000 recipients whose
    /// credit holders are not known yet. Empty when WeChat is not configured.
    pub subscribe_messages: BTreeMap<String, i64>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

fn view(conn: &mut DbConnection, c: Campaign) -> Result<CampaignView, DbError> {
    let deliveries = store::delivery_counts(conn, &c.id)?.into_iter().collect();
    let subscribe_messages = gongyou_db::subscribe_batches::message_counts(conn, &c.id)?
        .into_iter()
        .collect();
    Ok(CampaignView {
        org: org_ref(conn, &c.org_id)?,
        id: c.id,
        occupation: c.occupation,
        title: c.title,
        body: c.body,
        status: c.status,
        recipients: c.recipients,
        deliveries,
        subscribe_messages,
        created_at: c.created_at.and_utc(),
        completed_at: c.completed_at.map(|t| t.and_utc()),
    })
}

fn text(
    rule: &TextRule,
    value: &str,
    code: &'static str,
    detail: &'static str,
) -> ServiceResult<String> {
    rule.check(value)
        .ok_or_else(|| ServiceError::rule(code, detail))
}

/// The fan-out of one campaign, enqueued with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FanOut {
    pub campaign_id: String,
}

impl Job for FanOut {
    const NAME: &'static str = "campaigns.fan_out";
    const MAX_ATTEMPTS: i32 = 10;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::NAME, self.campaign_id))
    }
}

/// Sends a notice to a subtree's active members (union admins of that subtree).
pub async fn create(
    ctx: &Context,
    actor: &Actor,
    body: NewCampaign,
) -> ServiceResult<CampaignView> {
    let staff_id = actor.staff_id()?;
    authz::scopes(actor, Role::UnionAdmin)?;
    let title = text(
        &CampaignTitle::RULE,
        &body.title,
        "campaign.invalid_title",
        "标题须为 1 至 40 个字",
    )?;
    let text_body = text(
        &CampaignBody::RULE,
        &body.body,
        "campaign.invalid_body",
        "内容须为 1 至 500 个字",
    )?;
    let now = ctx.now();
    let caller = actor.clone();
    let created = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<CampaignView> {
                let org = orgs::get(conn, &body.org_id)?
                    .ok_or_else(|| ServiceError::rule("campaign.unknown_org", "组织不存在"))?;
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
                    category: Category::Notice.as_str().to_owned(),
                };
                store::insert(conn, &campaign)?;
                FanOut {
                    campaign_id: campaign.id.clone(),
                }
                .enqueue(conn, now.naive_utc())?;
                Ok(view(conn, campaign)?)
            })
        })
        .await?;
    tracing::info!(campaign = %created.id, "campaign created");
    Ok(created)
}

/// Admins' notices to orgs in the caller's admin subtrees, newest first, with their
/// progress (a roster import's enrollment notices are shown as the import, not here).
pub async fn list(
    ctx: &Context,
    actor: &Actor,
    page: PageRequest,
) -> ServiceResult<Page<CampaignView>> {
    let scopes = authz::scope_paths(actor, Role::UnionAdmin)?;
    ctx.db
        .run(move |conn| -> ServiceResult<Page<CampaignView>> {
            let rows = store::list(
                conn,
                &scopes,
                Category::Notice.as_str(),
                page.cursor.as_deref(),
                page.fetch(),
            )?;
            Ok(Page::from_rows(rows, page.limit, |c| c.id.clone(), |c| c)
                .try_map(|c| view(conn, c))?)
        })
        .await
}

/// A campaign's progress and delivery counts (union admins over its org).
pub async fn get(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<CampaignView> {
    authz::scopes(actor, Role::UnionAdmin)?;
    let not_found = || ServiceError::not_found("campaign.not_found", "通知任务不存在");
    let caller = actor.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<CampaignView> {
            // Only admins' notices: a roster import's enrollment notices are sent as a
            // campaign too, but shown as the import.
            let c = store::get(conn, &id)?
                .filter(|c| c.category == Category::Notice.as_str())
                .ok_or_else(not_found)?;
            let org = orgs::get(conn, &c.org_id)?.ok_or_else(not_found)?;
            authz::require(
                &caller,
                Role::UnionAdmin,
                &OrgPath::from_stored(org.path),
                not_found,
            )?;
            Ok(view(conn, c)?)
        })
        .await
}

/// Writes a campaign's inbox rows and push deliveries batch by batch
/// (`GONGYOU_CAMPAIGN_BATCH` recipients a transaction, which also moves the cursor), waking
/// the dispatchers as it goes; returns how many recipients were written.
pub async fn fan_out(ctx: &Context, job: &FanOut) -> ServiceResult<i64> {
    let batch = ctx.config.campaign_batch;
    let template = subscribe_template(ctx, Category::Notice);
    let mut total = 0;
    loop {
        let (id, now, template) = (job.campaign_id.clone(), ctx.now(), template.clone());
        let written = ctx
            .db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    let n = store::fan_out_batch(
                        conn,
                        &id,
                        batch,
                        template.as_deref(),
                        now.naive_utc(),
                    )?;
                    if n > 0 {
                        wake_dispatcher(conn, now)?;
                    }
                    Ok::<_, DbError>(n)
                })
            })
            .await?;
        if written == 0 {
            tracing::info!(campaign = %job.campaign_id, "campaign fanned out");
            return Ok(total);
        }
        total += written;
    }
}

/// The subscribe-message template a campaign of `category` goes out with: WeChat configured
/// and a template for the category (ADR 021).
pub fn subscribe_template(ctx: &Context, category: Category) -> Option<String> {
    ctx.providers.wechat.as_ref()?;
    ctx.config.wechat_templates.get(category.as_str()).cloned()
}
