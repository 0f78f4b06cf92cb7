//! A membership's life after approval: suspended and reinstated by admins, withdrawn by the
//! member (optionally erasing personal data, PIPL art. 47).

use gongyou_db::membership as db;
use gongyou_db::{orgs, write_tx};
use gongyou_domain::notification::Category;
use gongyou_domain::staff::Role;
use gongyou_domain::status::{MembershipStatus, TransferStatus};
use gongyou_domain::time::china_date;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::erasure::erase_unless_claims_open;
use super::views::{membership_view, MembershipView};
use super::{
    checked_note, checked_reason, member_not_found, record, require_org, status_changed, By,
};
use crate::actor::Actor;
use crate::authz;
use crate::error::{ServiceError, ServiceResult};
use crate::notifications::outbox::notify;
use crate::text::OptionalNote;
use crate::Context;

#[derive(Debug, Deserialize, ToSchema)]
pub struct WithdrawalRequest {
    #[schema(value_type = Option<OptionalNote>, inline)]
    pub reason: Option<String>,
    /// Also erase every record of your personal data, irreversibly, and close the account
    /// (as `DELETE /api/v1/me` does): name, ID number, phone, birth date, platform id in
    /// every application and membership, your inbox and devices, the free text of your
    /// history. What the union's register must keep (ids, union, dates, card number) stays.
    #[serde(default)]
    pub delete_personal_data: bool,
}

/// Leaves the union, optionally erasing personal data; a withdrawn member may still ask
/// for erasure later.
pub async fn withdraw(
    ctx: &Context,
    actor: &Actor,
    body: WithdrawalRequest,
) -> ServiceResult<MembershipView> {
    let user_id = actor.user_id()?.to_owned();
    let reason = checked_note(body.reason.as_deref())?;
    let now = ctx.now();
    let crypto = ctx.crypto.clone();
    let erasing = body.delete_personal_data;
    let id = user_id.clone();
    let view = ctx
        .db
        .run(move |conn| {
            let user_id = id;
            write_tx(conn, |conn| -> ServiceResult<MembershipView> {
                let t = now.naive_utc();
                let Some(m) = db::live_membership_of_user(conn, &user_id)? else {
                    // Already withdrawn: erasure may still be asked for later.
                    let last = db::memberships_of_user(conn, &user_id)?.pop();
                    return match last {
                        Some(m) if body.delete_personal_data && m.anonymized_at.is_none() => {
                            erase_unless_claims_open(conn, &user_id, t)?;
                            let m = db::membership(conn, &m.id)?.unwrap_or(m);
                            Ok(membership_view(conn, &crypto, &m, china_date(now))?)
                        }
                        _ => Err(ServiceError::conflict("membership.none", "您当前没有会籍")),
                    };
                };
                if let Some(pending) = db::pending_transfer_of(conn, &m.id)? {
                    db::decide_transfer(
                        conn,
                        &pending.id,
                        TransferStatus::Cancelled,
                        &user_id,
                        Some("withdrawn"),
                        t,
                    )?;
                }
                let to = m
                    .status
                    .transition(MembershipStatus::Withdrawn)
                    .map_err(|_| status_changed())?;
                if !db::set_membership_status(conn, &m.id, m.status, to, Some(t), t)? {
                    return Err(status_changed());
                }
                record(
                    conn,
                    Some(&m.id),
                    None,
                    "withdrawn",
                    By::User(&user_id),
                    reason.as_deref(),
                    t,
                )?;
                if body.delete_personal_data {
                    erase_unless_claims_open(conn, &user_id, t)?;
                }
                let m = db::membership(conn, &m.id)?.unwrap_or(m);
                let mut view = membership_view(conn, &crypto, &m, china_date(now))?;
                view.cover_kept = crate::plans::cover_kept_note(conn, &user_id, china_date(now))?;
                Ok(view)
            })
        })
        .await?;
    if erasing {
        // Erasure closed the account: its sessions end now.
        crate::accounts::principal::invalidate_subject(
            ctx,
            crate::accounts::tokens::SubjectKind::User,
            &user_id,
        )
        .await?;
    }
    Ok(view)
}

/// Suspends an active membership (the e-card stops verifying).
pub async fn suspend(
    ctx: &Context,
    actor: &Actor,
    id: String,
    reason: &str,
) -> ServiceResult<MembershipView> {
    set_status(ctx, actor, id, reason, MembershipStatus::Suspended).await
}

/// Reinstates a suspended membership.
pub async fn reinstate(
    ctx: &Context,
    actor: &Actor,
    id: String,
    reason: &str,
) -> ServiceResult<MembershipView> {
    set_status(ctx, actor, id, reason, MembershipStatus::Active).await
}

/// An admin's move of a membership to `to` (suspended, or active again), with a reason the
/// member is told.
async fn set_status(
    ctx: &Context,
    actor: &Actor,
    id: String,
    reason: &str,
    to: MembershipStatus,
) -> ServiceResult<MembershipView> {
    let by = actor.staff_id()?;
    authz::scopes(actor, Role::UnionAdmin)?;
    let reason = checked_reason(reason)?;
    let (kind, category) = match to {
        MembershipStatus::Suspended => ("suspended", Category::MembershipSuspended),
        _ => ("reinstated", Category::MembershipReinstated),
    };
    let now = ctx.now();
    let crypto = ctx.crypto.clone();
    let actor = actor.clone();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<MembershipView> {
                let m = db::membership(conn, &id)?.ok_or_else(member_not_found)?;
                require_org(conn, &actor, &m.org_id, member_not_found)?;
                // Withdrawal is final: a withdrawn membership is not reinstated.
                if !m.status.can_become(to) {
                    return Err(ServiceError::conflict(
                        "membership.wrong_status",
                        format!("会籍当前状态为 {}，不能执行该操作", m.status),
                    ));
                }
                if !db::set_membership_status(conn, &m.id, m.status, to, None, now.naive_utc())? {
                    return Err(status_changed());
                }
                record(
                    conn,
                    Some(&m.id),
                    None,
                    kind,
                    By::Staff(&by),
                    Some(&reason),
                    now.naive_utc(),
                )?;
                let org = orgs::get(conn, &m.org_id)?
                    .map(|o| o.name)
                    .unwrap_or_default();
                notify(
                    conn,
                    &m.user_id,
                    category,
                    json!({"org": org, "reason": reason}),
                    now,
                )?;
                let m = db::membership(conn, &m.id)?.unwrap_or(m);
                Ok(membership_view(conn, &crypto, &m, china_date(now))?)
            })
        })
        .await
}
