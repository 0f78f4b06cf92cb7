//! Union admins' view of members in their subtree: search, one member with history, and the
//! unmasked identity for a stated purpose (recorded).

use gongyou_db::membership::{self as db, MemberQuery};
use gongyou_db::write_tx;
use gongyou_domain::id_number::IdNumber;
use gongyou_domain::membership::is_valid_card_number;
use gongyou_domain::phone::Phone;
use gongyou_domain::staff::Role;
use gongyou_domain::status::MembershipStatus;
use gongyou_domain::time::china_date;

use super::views::{
    membership_view, HistoryEntry, Identity, IdentityRead, MemberDetail, MembershipView,
};
use super::{member_not_found, require_org};
use crate::actor::Actor;
use crate::authz;
use crate::error::{ServiceError, ServiceResult};
use crate::page::{status_filter, Page, PageRequest};
use crate::text::ReadPurpose;
use crate::Context;

/// Members of unions in the actor's subtree: by card number, phone number, ID number (its
/// blind index) or the beginning of a name; of one status when given.
pub async fn search(
    ctx: &Context,
    actor: &Actor,
    q: Option<String>,
    status: Option<&str>,
    page: PageRequest,
) -> ServiceResult<Page<MembershipView>> {
    let within = authz::scope_paths(actor, Role::UnionAdmin)?;
    let status = status_filter::<MembershipStatus>(status)?;
    let today = china_date(ctx.now());
    let q = q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
    // During a data-key rotation, rows not re-indexed yet hold the previous key's index.
    let indexes = q
        .as_deref()
        .and_then(|q| IdNumber::parse(q, today).ok())
        .map(|id| ctx.crypto.lookup_indexes("id_number", id.as_str()));
    let crypto = ctx.crypto.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<Page<MembershipView>> {
            let phone = q.as_deref().and_then(|q| Phone::parse(q).ok());
            let queries: Vec<MemberQuery<'_>> = match (&q, &indexes, &phone) {
                (None, _, _) => vec![MemberQuery::All],
                (_, Some(ix), _) => ix.iter().map(|i| MemberQuery::IdIndex(i)).collect(),
                (Some(q), None, _) if is_valid_card_number(q) => {
                    vec![MemberQuery::CardNumber(q)]
                }
                (_, None, Some(phone)) => vec![MemberQuery::Phone(phone.as_str())],
                (Some(q), None, None) => vec![MemberQuery::NamePrefix(q)],
            };
            let mut rows = Vec::new();
            for query in &queries {
                rows.extend(db::search_members(
                    conn,
                    &within,
                    query,
                    status,
                    page.cursor.as_deref(),
                    page.fetch(),
                )?);
            }
            if queries.len() > 1 {
                // Each list is in id order after the cursor: merged, the first `fetch` rows.
                rows.sort_by(|a, b| a.id.cmp(&b.id));
                rows.dedup_by(|a, b| a.id == b.id);
                rows.truncate(usize::try_from(page.fetch()).unwrap_or(usize::MAX));
            }
            Ok(Page::from_rows(rows, page.limit, |m| m.id.clone(), |m| m)
                .try_map(|m| membership_view(conn, &crypto, &m, today))?)
        })
        .await
}

/// One member, with history and the log of identity reads.
pub async fn member(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<MemberDetail> {
    authz::scopes(actor, Role::UnionAdmin)?;
    let today = china_date(ctx.now());
    let crypto = ctx.crypto.clone();
    let actor = actor.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<MemberDetail> {
            let m = db::membership(conn, &id)?.ok_or_else(member_not_found)?;
            require_org(conn, &actor, &m.org_id, member_not_found)?;
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
        .await
}

/// A member's unmasked ID number, for a stated purpose (4–200 characters); the read is
/// recorded (who, whose, when, why).
pub async fn read_identity(
    ctx: &Context,
    actor: &Actor,
    id: String,
    purpose: &str,
) -> ServiceResult<Identity> {
    let by = actor.staff_id()?;
    authz::scopes(actor, Role::UnionAdmin)?;
    let purpose = ReadPurpose::RULE.check(purpose).ok_or_else(|| {
        ServiceError::rule(
            "membership.purpose_required",
            "请说明查看原因（4 至 200 字）",
        )
    })?;
    let now = ctx.now().naive_utc();
    let crypto = ctx.crypto.clone();
    let (reader, actor) = (by.clone(), actor.clone());
    let identity = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<Identity> {
                let m = db::membership(conn, &id)?.ok_or_else(member_not_found)?;
                require_org(conn, &actor, &m.org_id, member_not_found)?;
                if m.id_number_enc.is_empty() {
                    return Err(ServiceError::conflict(
                        "membership.erased",
                        "该会员的个人信息已应本人要求删除",
                    ));
                }
                let id_number = crypto
                    .decrypt(&m.id_number_key_id, &m.id_number_enc, "id_number")
                    .map_err(|e| {
                        ServiceError::internal(anyhow::anyhow!("decrypting an ID number: {e}"))
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
    Ok(identity)
}
