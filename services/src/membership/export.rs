//! A member's own data, unmasked (it is theirs), after an SMS step-up: the account,
//! applications, memberships, transfers, protection-plan enrollments, claims and history.

use gongyou_db::membership as db;
use gongyou_db::{accounts, DbError};

use crate::accounts::principal::require_step_up;
use crate::actor::Actor;
use crate::error::ServiceResult;
use crate::Context;

/// Everything about the worker, with `step_up` the proof from `POST /api/v1/auth/step-up`.
pub async fn data_export(
    ctx: &Context,
    actor: &Actor,
    step_up: &str,
) -> ServiceResult<serde_json::Value> {
    let user_id = actor.user_id()?.to_owned();
    require_step_up(ctx, actor, step_up)?;
    let now = ctx.now();
    let crypto = ctx.crypto.clone();
    let services = ctx.clone();
    let export = ctx
        .db
        .run(move |conn| -> Result<serde_json::Value, DbError> {
            let user = accounts::user(conn, &user_id)?;
            let reveal = |key_id: &str, enc: &str| {
                if enc.is_empty() {
                    None
                } else {
                    crypto.decrypt(key_id, enc, "id_number").ok()
                }
            };
            let applications: Vec<_> = db::applications_of_user(conn, &user_id)?
                .into_iter()
                .map(|a| {
                    serde_json::json!({
                        "id": a.id, "status": a.status, "org_id": a.org_id, "real_name": a.real_name,
                        "id_number": reveal(&a.id_number_key_id, &a.id_number_enc),
                        "birth_date": a.birth_date, "sex": a.sex, "occupation": a.occupation, "platform": a.platform,
                        "platform_worker_id": a.platform_worker_id, "platform_started_on": a.platform_started_on,
                        "region_code": a.region_code, "phone": a.phone,
                        "consented_at": a.consent_pi_at.and_utc(), "sensitive_consented_at": a.consent_sensitive_at.and_utc(),
                        "decision_reason": a.decision_reason, "created_at": a.created_at.and_utc(),
                    })
                })
                .collect();
            let mut history = Vec::new();
            let held = db::memberships_of_user(conn, &user_id)?;
            let ids: Vec<String> = held.iter().map(|m| m.id.clone()).collect();
            let roster_starts = gongyou_db::roster::platform_starts_of(conn, &ids)?;
            let memberships: Vec<_> = held
                .into_iter()
                .map(|m| {
                    history.push((m.id.clone(), m.application_id.clone()));
                    serde_json::json!({
                        "id": m.id, "status": m.status, "org_id": m.org_id, "card_number": m.card_number,
                        "real_name": m.real_name, "id_number": reveal(&m.id_number_key_id, &m.id_number_enc),
                        "birth_date": m.birth_date, "sex": m.sex, "occupation": m.occupation, "platform": m.platform,
                        "platform_worker_id": m.platform_worker_id, "platform_started_on": m.platform_started_on,
                        "platform_started_on_from_roster": roster_starts.get(&m.id),
                        "region_code": m.region_code, "joined_on": m.joined_on, "ended_at": m.ended_at.map(|t| t.and_utc()),
                    })
                })
                .collect();
            let mut events = Vec::new();
            for (membership_id, application_id) in history {
                for e in db::events_of(conn, &membership_id, &application_id)? {
                    events.push(serde_json::json!({"kind": e.kind, "actor": e.actor_kind, "reason": e.reason, "at": e.created_at.and_utc()}));
                }
            }
            let transfers: Vec<_> = db::transfers_of_user(conn, &user_id)?
                .into_iter()
                .map(|t| serde_json::json!({"id": t.id, "from_org_id": t.from_org_id, "to_org_id": t.to_org_id, "status": t.status, "reason": t.reason, "created_at": t.created_at.and_utc()}))
                .collect();
            let enrollments: Vec<_> = gongyou_db::plans::enrollments_of_user(conn, &user_id)?
                .into_iter()
                .map(|e| serde_json::json!({
                    "id": e.id, "plan_code": e.plan_code, "plan_version": e.plan_version,
                    "certificate_no": e.certificate_no, "effective_from": e.effective_from,
                    "effective_to": e.effective_to, "source": e.source, "enrolled_at": e.enrolled_at.and_utc(),
                }))
                .collect();
            let mut claims = Vec::new();
            for (c, invoices) in gongyou_db::claims::all_of_claimant(conn, &user_id)? {
                let d = gongyou_db::claims::details(conn, &c.id)?;
                let open = |field: &str, stored: Option<&String>| {
                    stored.and_then(|s| crate::claims::unseal(&services, &c.id, field, s).ok())
                };
                let documents: Vec<_> = gongyou_db::claims::documents(conn, &c.id)?
                    .into_iter()
                    .map(|doc| serde_json::json!({"id": doc.id, "kind": doc.kind, "content_type": doc.content_type, "uploaded_at": doc.uploaded_at.and_utc()}))
                    .collect();
                claims.push(serde_json::json!({
                    "id": c.id, "status": c.status, "enrollment_id": c.enrollment_id,
                    "plan_code": c.plan_code, "benefit_code": c.benefit_code,
                    "incident_type": c.incident_type, "occurred_on": c.occurred_on,
                    "admitted_on": c.admitted_on, "discharged_on": c.discharged_on,
                    "claimed_cost": crate::claims::money(c.claimed_cost_fen),
                    "amount": crate::claims::money(c.amount_fen),
                    "approved_amount": crate::claims::money(c.approved_fen),
                    "place": d.as_ref().map(|d| d.place.clone()),
                    "hospital": open("hospital", d.as_ref().and_then(|d| d.hospital_enc.as_ref())),
                    "diagnosis": open("diagnosis", d.as_ref().and_then(|d| d.diagnosis_enc.as_ref())),
                    "invoice_numbers": crate::claims::invoice_list(&invoices),
                    "payee_kind": c.payee_kind,
                    "payee_holder": open("payee_holder", d.as_ref().and_then(|d| d.payee_holder_enc.as_ref())),
                    "payee_bank": d.as_ref().and_then(|d| d.payee_bank.clone()),
                    "payee_account": open("payee_account", d.as_ref().and_then(|d| d.payee_account_enc.as_ref())),
                    "documents": documents,
                    "created_at": c.created_at.and_utc(),
                }));
            }
            let mut payouts = Vec::new();
            for p in gongyou_db::payouts::of_claimant(conn, &user_id)? {
                let attempts: Vec<_> = gongyou_db::payouts::attempts_of(conn, &p.id)?
                    .into_iter()
                    .map(|a| serde_json::json!({
                        "out_bill_no": a.out_bill_no, "channel": a.channel, "state": a.state,
                        "amount": crate::claims::money(Some(a.amount_fen)),
                        "transfer_bill_no": a.transfer_bill_no, "fail_reason": a.fail_reason,
                        "sent_at": a.sent_at.map(|t| t.and_utc()), "final_at": a.final_at.map(|t| t.and_utc()),
                    }))
                    .collect();
                // A payee erased meanwhile is left out rather than failing the export.
                let payee = crate::payouts::payee_view(&services, conn, &p).ok();
                payouts.push(serde_json::json!({
                    "id": p.id, "claim_id": p.claim_id, "status": p.status,
                    "amount": crate::claims::money(Some(p.amount_fen)),
                    "payee": payee, "attempts": attempts,
                    "failure_detail": p.failure_detail, "paid_at": p.paid_at.map(|t| t.and_utc()),
                    "created_at": p.created_at.and_utc(),
                }));
            }
            Ok(serde_json::json!({
                "exported_at": now,
                "account": user.map(|u| serde_json::json!({
                    "id": u.id, "phone": u.phone, "wechat_bound": u.wechat_openid.is_some(), "status": u.status,
                    "created_at": u.created_at.and_utc(),
                })),
                "applications": applications,
                "memberships": memberships,
                "transfers": transfers,
                "enrollments": enrollments,
                "claims": claims,
                "payouts": payouts,
                "history": events,
            }))
        })
        .await?;
    tracing::info!("personal data exported by its owner");
    Ok(export)
}
