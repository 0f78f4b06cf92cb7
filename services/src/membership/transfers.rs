//! Transfers between grassroots unions: the member asks, the receiving union's admins
//! decide; an approved transfer moves the membership with a new card number.

use gongyou_db::membership::{self as db, Transfer};
use gongyou_db::{orgs, write_tx};
use gongyou_domain::notification::Category;
use gongyou_domain::org::OrgType;
use gongyou_domain::staff::Role;
use gongyou_domain::status::{MembershipStatus, TransferStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::views::{transfer_view, TransferView};
use super::{
    checked_note, new_card_number, not_active, record, require_org, transfer_not_found, By,
};
use crate::actor::Actor;
use crate::authz;
use crate::error::{ServiceError, ServiceResult};
use crate::notifications::outbox::notify;
use crate::page::{status_filter, Page, PageRequest};
use crate::text::OptionalNote;
use crate::Context;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct TransferRequest {
    /// The grassroots union to move to.
    pub to_org_id: String,
    #[schema(value_type = Option<OptionalNote>, inline)]
    pub reason: Option<String>,
}

/// Asks to move the active membership to another grassroots union; its admins decide.
pub async fn request_transfer(
    ctx: &Context,
    actor: &Actor,
    body: TransferRequest,
) -> ServiceResult<TransferView> {
    let user_id = actor.user_id()?.to_owned();
    let reason = checked_note(body.reason.as_deref())?;
    let now = ctx.now().naive_utc();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<TransferView> {
                let m = db::live_membership_of_user(conn, &user_id)?
                    .filter(|m| m.status == MembershipStatus::Active)
                    .ok_or_else(not_active)?;
                let target = orgs::get(conn, &body.to_org_id)?
                    .filter(|o| o.org_type == OrgType::GrassrootsUnion.as_str())
                    .ok_or_else(|| {
                        ServiceError::rule("membership.transfer_target_invalid", "只能转入基层工会")
                    })?;
                if target.id == m.org_id {
                    return Err(ServiceError::conflict("membership.same_org", "已在该工会"));
                }
                if db::pending_transfer_of(conn, &m.id)?.is_some() {
                    return Err(ServiceError::conflict(
                        "membership.transfer_pending",
                        "已有一个转会申请在办理中",
                    ));
                }
                let transfer = Transfer {
                    id: gongyou_domain::id::new_id(),
                    membership_id: m.id.clone(),
                    from_org_id: m.org_id.clone(),
                    to_org_id: target.id,
                    status: TransferStatus::Pending,
                    reason: reason.clone(),
                    decided_by: None,
                    decided_at: None,
                    decision_note: None,
                    created_at: now,
                };
                db::insert_transfer(conn, &transfer)?;
                record(
                    conn,
                    Some(&m.id),
                    None,
                    "transfer_requested",
                    By::User(&user_id),
                    reason.as_deref(),
                    now,
                )?;
                Ok(transfer_view(conn, &transfer, false)?)
            })
        })
        .await
}

/// Transfers into unions of the actor's subtree, of one status when given.
pub async fn transfers(
    ctx: &Context,
    actor: &Actor,
    status: Option<&str>,
    page: PageRequest,
) -> ServiceResult<Page<TransferView>> {
    let within = authz::scope_paths(actor, Role::UnionAdmin)?;
    let status = status_filter::<TransferStatus>(status)?;
    ctx.db
        .run(move |conn| -> ServiceResult<Page<TransferView>> {
            let rows =
                db::list_transfers(conn, &within, status, page.cursor.as_deref(), page.fetch())?;
            Ok(Page::from_rows(rows, page.limit, |t| t.id.clone(), |t| t)
                .try_map(|t| transfer_view(conn, &t, true))?)
        })
        .await
}

/// The receiving union decides a pending transfer: approved, the member moves with a new
/// card number; either way the member is told.
pub async fn decide_transfer(
    ctx: &Context,
    actor: &Actor,
    id: String,
    approve: bool,
    note_text: Option<String>,
) -> ServiceResult<TransferView> {
    let by = actor.staff_id()?;
    authz::scopes(actor, Role::UnionAdmin)?;
    let note = checked_note(note_text.as_deref())?;
    let now = ctx.now().naive_utc();
    let actor = actor.clone();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<TransferView> {
                let decided =
                    || ServiceError::conflict("membership.transfer_decided", "该转会申请已处理");
                let t = db::transfer(conn, &id)?.ok_or_else(transfer_not_found)?;
                // The receiving union decides.
                let to = require_org(conn, &actor, &t.to_org_id, transfer_not_found)?;
                let outcome = if approve {
                    TransferStatus::Approved
                } else {
                    TransferStatus::Rejected
                };
                if !t.status.can_become(outcome) {
                    return Err(decided());
                }
                if approve {
                    let m =
                        db::membership(conn, &t.membership_id)?.ok_or_else(transfer_not_found)?;
                    if m.status != MembershipStatus::Active {
                        return Err(ServiceError::conflict(
                            "membership.not_active",
                            "会籍未生效，无法转会",
                        ));
                    }
                    if !db::decide_transfer(conn, &t.id, outcome, &by, note.as_deref(), now)? {
                        return Err(decided());
                    }
                    let card = new_card_number(conn, &to)?;
                    db::move_membership(conn, &m.id, &to.id, &card, now)?;
                    record(
                        conn,
                        Some(&m.id),
                        None,
                        "transferred",
                        By::Staff(&by),
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
                    if !db::decide_transfer(conn, &t.id, outcome, &by, note.as_deref(), now)? {
                        return Err(decided());
                    }
                    record(
                        conn,
                        Some(&t.membership_id),
                        None,
                        "transfer_rejected",
                        By::Staff(&by),
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
        .await
}
