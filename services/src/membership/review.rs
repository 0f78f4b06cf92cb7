//! Deciding applications: union admins of the routed union's subtree approve or reject;
//! where the union allows it, the auto-approval job approves (never an application under
//! identity review). Approval creates the membership with its card number.

use chrono::{DateTime, Utc};
use gongyou_db::jobs::Job;
use gongyou_db::membership::{self as db, Application, Membership};
use gongyou_db::{orgs, write_tx, DbConnection};
use gongyou_domain::notification::Category;
use gongyou_domain::staff::Role;
use gongyou_domain::status::{ApplicationStatus, MembershipStatus};
use gongyou_domain::time::china_date;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::views::{application_view, membership_view, ApplicationView, MembershipView};
use super::{application_not_found, checked_reason, new_card_number, record, require_org, By};
use crate::actor::Actor;
use crate::authz;
use crate::crypto::DataCrypto;
use crate::error::{ServiceError, ServiceResult};
use crate::notifications::outbox::notify;
use crate::page::{status_filter, Page, PageRequest};
use crate::Context;

fn decided() -> ServiceError {
    ServiceError::conflict("membership.application_decided", "该申请已处理")
}

/// Applications routed to unions in the actor's subtree: of one status (`pending`,
/// `approved` or `rejected`), and only those under identity review when asked.
pub async fn applications(
    ctx: &Context,
    actor: &Actor,
    status: Option<&str>,
    identity_conflict: Option<bool>,
    page: PageRequest,
) -> ServiceResult<Page<ApplicationView>> {
    let within = authz::scope_paths(actor, Role::UnionAdmin)?;
    let status = status_filter::<ApplicationStatus>(status)?;
    let today = china_date(ctx.now());
    let crypto = ctx.crypto.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<Page<ApplicationView>> {
            let rows = db::list_applications(
                conn,
                &db::ApplicationFilter {
                    within: &within,
                    status,
                    identity_conflict,
                    after: page.cursor.as_deref(),
                    limit: page.fetch(),
                },
            )?;
            Ok(Page::from_rows(rows, page.limit, |a| a.id.clone(), |a| a)
                .try_map(|a| application_view(conn, &crypto, &a, today, true))?)
        })
        .await
}

/// Approves inside the caller's transaction: creates the membership with its card number,
/// records who approved it, and tells the worker.
fn approve_in_tx(
    conn: &mut DbConnection,
    crypto: &DataCrypto,
    app: &Application,
    by: By<'_>,
    now: DateTime<Utc>,
) -> ServiceResult<Membership> {
    if !app.status.can_become(ApplicationStatus::Approved) {
        return Err(decided());
    }
    if db::live_membership_of_user(conn, &app.user_id)?.is_some() {
        return Err(ServiceError::conflict(
            "membership.already_member",
            "该职工已是会员",
        ));
    }
    // The stored index, and during a data-key rotation both keys' indexes of the number
    // (memberships not re-indexed yet carry the previous key's).
    let mut lookups = vec![app.id_number_index.clone()];
    if !crypto.previous_key_ids().is_empty() {
        let number = crypto
            .decrypt(&app.id_number_key_id, &app.id_number_enc, "id_number")
            .map_err(|e| ServiceError::internal(anyhow::anyhow!("decrypting an ID number: {e}")))?;
        lookups.extend(crypto.lookup_indexes("id_number", &number));
    }
    for lookup in &lookups {
        if db::live_membership_with_identity(conn, lookup)?.is_some() {
            return Err(ServiceError::conflict(
                "membership.identity_in_use",
                "该身份证号码已有有效会籍，请先核实",
            ));
        }
    }
    let org = orgs::get(conn, &app.org_id)?
        .ok_or_else(|| ServiceError::internal(anyhow::anyhow!("routed org missing")))?;
    let card = new_card_number(conn, &org)?;
    let membership = Membership {
        id: gongyou_domain::id::new_id(),
        user_id: app.user_id.clone(),
        org_id: org.id.clone(),
        application_id: app.id.clone(),
        card_number: card,
        status: MembershipStatus::Active,
        joined_on: china_date(now).to_string(),
        real_name: app.real_name.clone(),
        id_number_enc: app.id_number_enc.clone(),
        id_number_key_id: app.id_number_key_id.clone(),
        id_number_index: app.id_number_index.clone(),
        birth_date: app.birth_date.clone(),
        sex: app.sex.clone(),
        occupation: app.occupation.clone(),
        platform: app.platform.clone(),
        platform_worker_id: app.platform_worker_id.clone(),
        region_code: app.region_code.clone(),
        ended_at: None,
        anonymized_at: None,
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
        platform_started_on: app.platform_started_on.clone(),
    };
    db::insert_membership(conn, &membership)?;
    let (_, decided_by) = by.kind_and_id();
    if !db::decide_application(
        conn,
        &app.id,
        ApplicationStatus::Approved,
        &decided_by,
        None,
        Some(&membership.id),
        now.naive_utc(),
    )? {
        return Err(decided());
    }
    record(
        conn,
        Some(&membership.id),
        Some(&app.id),
        "approved",
        by,
        None,
        now.naive_utc(),
    )?;
    notify(
        conn,
        &membership.user_id,
        Category::MembershipApproved,
        json!({"org": org.name, "card_number": membership.card_number}),
        now,
    )?;
    Ok(membership)
}

/// Approves an application: the member gets a card number and a joined date.
pub async fn approve(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<MembershipView> {
    let by = actor.staff_id()?;
    authz::scopes(actor, Role::UnionAdmin)?;
    let now = ctx.now();
    let crypto = ctx.crypto.clone();
    let actor = actor.clone();
    let view = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<MembershipView> {
                let app = db::application(conn, &id)?.ok_or_else(application_not_found)?;
                require_org(conn, &actor, &app.org_id, application_not_found)?;
                let membership = approve_in_tx(conn, &crypto, &app, By::Staff(&by), now)?;
                Ok(membership_view(
                    conn,
                    &crypto,
                    &membership,
                    china_date(now),
                )?)
            })
        })
        .await?;
    tracing::info!(membership = %view.id, "membership approved");
    Ok(view)
}

/// Rejects an application with a reason (shown to the worker).
pub async fn reject(
    ctx: &Context,
    actor: &Actor,
    id: String,
    reason: &str,
) -> ServiceResult<ApplicationView> {
    let by = actor.staff_id()?;
    authz::scopes(actor, Role::UnionAdmin)?;
    let reason = checked_reason(reason)?;
    let now = ctx.now();
    let crypto = ctx.crypto.clone();
    let actor = actor.clone();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<ApplicationView> {
                let app = db::application(conn, &id)?.ok_or_else(application_not_found)?;
                require_org(conn, &actor, &app.org_id, application_not_found)?;
                if !app.status.can_become(ApplicationStatus::Rejected)
                    || !db::decide_application(
                        conn,
                        &app.id,
                        ApplicationStatus::Rejected,
                        &by,
                        Some(&reason),
                        None,
                        now.naive_utc(),
                    )?
                {
                    return Err(decided());
                }
                record(
                    conn,
                    None,
                    Some(&app.id),
                    "rejected",
                    By::Staff(&by),
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
                    china_date(now),
                    true,
                )?)
            })
        })
        .await
}

/// The auto-approval of one application, enqueued with its submission where the union
/// allows auto-approval.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AutoApprove {
    pub application_id: String,
}

impl Job for AutoApprove {
    const NAME: &'static str = "membership.auto_approve";
    const PRIORITY: i32 = 10;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::NAME, self.application_id))
    }
}

/// What the auto-approval did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoApproval {
    Approved,
    /// The application is gone.
    Gone,
    /// Decided meanwhile, flagged for identity review, or the union turned auto-approval off.
    Skipped,
    /// A rule refused it (already a member, identity in use): a person reviews it.
    Declined {
        code: String,
    },
}

/// Approves the application if it still may be auto-approved.
pub async fn auto_approve(ctx: &Context, job: AutoApprove) -> ServiceResult<AutoApproval> {
    let now = ctx.now();
    let crypto = ctx.crypto.clone();
    let outcome = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<AutoApproval> {
                let Some(app) = db::application(conn, &job.application_id)? else {
                    return Ok(AutoApproval::Gone);
                };
                if app.status != ApplicationStatus::Pending
                    || app.identity_conflict
                    || !db::auto_approve(conn, &app.org_id)?
                {
                    return Ok(AutoApproval::Skipped);
                }
                approve_in_tx(conn, &crypto, &app, By::System("auto-approval"), now)?;
                Ok(AutoApproval::Approved)
            })
        })
        .await;
    match outcome {
        Err(e) if !e.is_retryable() => Ok(AutoApproval::Declined {
            code: e.code().to_owned(),
        }),
        other => other,
    }
}
