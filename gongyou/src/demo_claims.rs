//! `gongyou demo`: four demo workers of 成都 unions, members and enrolled in `e-road-sichuan`
//! since two months ago, with claims in different states, so that `demo-reviewer` and
//! `demo-approver` have work to do at once:
//!
//! - 李明 (13900000001): a hospital allowance (5 days, 1000.00), submitted — waiting for
//!   review; and a medical reimbursement of the same stay, returned for a clearer invoice;
//! - 王芳 (13900000002): a medical reimbursement (3200.00 claimed, 2560.00 by the rules),
//!   submitted — waiting for review;
//! - 张伟 (13900000003): the accident lump sum (30000.00, above the confirm threshold),
//!   approved by `demo-reviewer` — awaiting a finance approver's confirmation;
//! - 刘洋 (13900000004): a draft hospital allowance still missing its discharge summary.
//!
//! Everything goes through the real use-cases (applying, approving the application,
//! enrolling, filing, uploading, submitting, assigning, returning, approving), so every
//! rule runs. Only time is staged: the use-cases run on a clock set to when each step
//! happened (joining and enrolling 60 days ago, the claims over the last days), as if the
//! workers had used the app then. Idempotent: nothing is done when the first demo worker
//! exists already.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use gongyou_db::{accounts, staff as staff_db, write_tx, Db, DbError};
use gongyou_domain::clock::ManualClock;
use gongyou_domain::plan::DocumentKind;
use gongyou_domain::staff::Role;
use gongyou_domain::time::china_date;
use gongyou_services::claims::{self, ApproveBody, ClaimBody, ReturnBody, ReturnReason};
use gongyou_services::config::Config;
use gongyou_services::membership::{self, NewApplication};
use gongyou_services::{Actor, Context, ScopedRole, Subject};
use serde_json::json;

use crate::seed::DEMO_HISTORY_DAYS;

/// The plan the demo workers hold.
const PLAN: &str = "e-road-sichuan";

/// (phone, real name, region, birth date, ID sequence, occupation, platform, worker id)
type Worker = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const WORKERS: [Worker; 4] = [
    (
        "13900000001",
        "李明",
        "510104",
        "19900307",
        "211",
        "delivery_rider",
        "meituan",
        "MT-51010401",
    ),
    (
        "13900000002",
        "王芳",
        "510105",
        "19880512",
        "322",
        "courier",
        "sf_intra_city",
        "SF-51010502",
    ),
    (
        "13900000003",
        "张伟",
        "510107",
        "19951120",
        "433",
        "ride_hailing_driver",
        "didi",
        "DD-51010703",
    ),
    (
        "13900000004",
        "刘洋",
        "510104",
        "19921003",
        "541",
        "delivery_rider",
        "eleme",
        "ELM-5101044",
    ),
];

/// What the demo's claims leave for staff, as the banner tells it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoClaims {
    /// Submitted or in review: `demo-reviewer`'s work.
    pub waiting_for_review: i64,
    /// Approved above the threshold: `demo-approver`'s work.
    pub awaiting_confirmation: i64,
}

/// Seeds the demo workers and their claims once (dev only); returns what waits on staff
/// now (also on later runs, when nothing is seeded).
pub async fn seed(config: &Config, db: &Db, now: DateTime<Utc>) -> anyhow::Result<DemoClaims> {
    if config.is_production() {
        return Ok(DemoClaims::default());
    }
    let first = WORKERS[0].0;
    let seeded = db
        .run(move |conn| accounts::user_by_phone(conn, first))
        .await?
        .is_some();
    if seeded {
        tracing::info!("seed: demo claims present");
    } else {
        seed_claims(config, db, now).await?;
    }
    waiting(db).await
}

/// Claims waiting on staff, by kind of work.
async fn waiting(db: &Db) -> anyhow::Result<DemoClaims> {
    use gongyou_db::schema::claims::dsl::{claims, status};
    let counts: Vec<(String, i64)> = db
        .run(|conn| {
            claims
                .filter(status.eq_any(["submitted", "under_review", "awaiting_confirmation"]))
                .group_by(status)
                .select((status, diesel::dsl::count_star()))
                .load::<(String, i64)>(conn)
                .map_err(DbError::from)
        })
        .await?;
    let of = |wanted: &[&str]| {
        counts
            .iter()
            .filter(|(s, _)| wanted.contains(&s.as_str()))
            .map(|(_, n)| n)
            .sum()
    };
    Ok(DemoClaims {
        waiting_for_review: of(&["submitted", "under_review"]),
        awaiting_confirmation: of(&["awaiting_confirmation"]),
    })
}

/// A service error, with its code, as an anyhow error naming the step.
fn step<T>(what: &str, r: gongyou_services::ServiceResult<T>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("demo claims: {what}: {e:?}"))
}

/// A well-formed resident ID number (check character computed).
fn id_number(region: &str, birth: &str, sequence: &str) -> anyhow::Result<String> {
    let first17 = format!("{region}{birth}{sequence}");
    let check = gongyou_domain::id_number::check_char(&first17)
        .ok_or_else(|| anyhow::anyhow!("not 17 digits: {first17}"))?;
    Ok(format!("{first17}{check}"))
}

/// A staff member as their password session would stand for them (roles from the grants).
async fn staff_actor(db: &Db, username: &'static str) -> anyhow::Result<Actor> {
    let (member, home, grants) = db
        .run(move |conn| -> Result<_, DbError> {
            let member = staff_db::by_username(conn, username)?;
            let Some(member) = member else {
                return Ok(None);
            };
            let home = gongyou_db::orgs::get(conn, &member.org_id)?
                .map(|o| o.path)
                .unwrap_or_default();
            let grants = staff_db::grants(conn, &member.id)?;
            Ok(Some((member, home, grants)))
        })
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo claims: no staff account {username}"))?;
    Ok(Actor {
        session_id: format!("demo-seed-{username}"),
        subject: Subject::Staff {
            id: member.id,
            org_path: home,
            roles: grants
                .into_iter()
                .filter_map(|g| {
                    Some(ScopedRole {
                        role: Role::parse(&g.role)?,
                        org_id: g.org_id,
                        org_path: g.org_path,
                    })
                })
                .collect(),
        },
    })
}

/// A one-page PDF saying what it stands for (a claim document must be a real JPEG, PNG or
/// PDF).
fn sample_pdf(kind: DocumentKind) -> Vec<u8> {
    let text = format!(
        "Gongyou demo - sample document: {} (not a real document)",
        kind.as_str()
    );
    let stream = format!("BT /F1 14 Tf 40 780 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.push_str(&format!("{} 0 obj\n{body}\nendobj\n", i + 1));
    }
    let xref = pdf.len();
    pdf.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for offset in offsets {
        pdf.push_str(&format!("{offset:010} 00000 n \n"));
    }
    pdf.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    pdf.into_bytes()
}

/// The seeding run: its own context on a clock it moves to when each step happened.
struct Stage {
    ctx: Context,
    clock: ManualClock,
    now: DateTime<Utc>,
    today: NaiveDate,
}

impl Stage {
    /// The clock `ago` before the real now.
    fn at(&self, ago: Duration) {
        self.clock.set(self.now - ago);
    }

    /// The date `days` before today (Asia/Shanghai).
    fn day(&self, days: u64) -> String {
        self.today
            .checked_sub_days(Days::new(days))
            .unwrap_or(self.today)
            .to_string()
    }

    /// Creates the worker's account (with a linked WeChat account, to be paid to its
    /// balance), applies to join, has `admin` approve, and enrolls in the plan.
    async fn member(&self, w: &Worker, admin: &Actor) -> anyhow::Result<(Actor, String)> {
        let (phone, name, region, birth, seq, occupation, platform, worker_id) = *w;
        let at = self.ctx.now().naive_utc();
        let user = self
            .ctx
            .db
            .run(move |conn| {
                write_tx(conn, |conn| -> Result<_, DbError> {
                    let mut user = accounts::User::new(gongyou_domain::id::new_id(), at);
                    user.phone = Some(phone.to_owned());
                    accounts::insert_user(conn, &user)?;
                    let openid = format!("demo-openid-{phone}");
                    accounts::set_wechat(conn, &user.id, Some(&openid), None, at)?;
                    Ok(user)
                })
            })
            .await?;
        let worker = Actor {
            session_id: format!("demo-seed-{phone}"),
            subject: Subject::User {
                id: user.id.clone(),
                phone: Some(phone.to_owned()),
            },
        };
        let body: NewApplication = serde_json::from_value(json!({
            "real_name": name,
            "id_number": id_number(region, birth, seq)?,
            "occupation": occupation,
            "platform": platform,
            "platform_worker_id": worker_id,
            "region_code": region,
            "consents": {"personal_information": true, "sensitive_personal_information": true},
        }))?;
        let application = step(
            "applying to join",
            membership::apply(&self.ctx, &worker, body).await,
        )?;
        step(
            "approving the application",
            membership::approve(&self.ctx, admin, application.id).await,
        )?;
        let enrollment = step(
            "enrolling",
            gongyou_services::plans::enroll(&self.ctx, &worker, PLAN.to_owned()).await,
        )?;
        Ok((worker, enrollment.id))
    }

    /// Files a claim and uploads its documents.
    async fn file(
        &self,
        worker: &Actor,
        body: serde_json::Value,
        documents: &[DocumentKind],
    ) -> anyhow::Result<String> {
        let body: ClaimBody = serde_json::from_value(body)?;
        let claim = step(
            "filing a claim",
            claims::create_claim(&self.ctx, worker, body, None).await,
        )?;
        for kind in documents {
            step(
                "uploading a document",
                claims::upload_document(
                    &self.ctx,
                    worker,
                    claim.id.clone(),
                    *kind,
                    sample_pdf(*kind),
                )
                .await,
            )?;
        }
        Ok(claim.id)
    }

    async fn submit(&self, worker: &Actor, id: &str) -> anyhow::Result<()> {
        step(
            "submitting a claim",
            claims::submit(&self.ctx, worker, id.to_owned()).await,
        )?;
        Ok(())
    }

    async fn assign(&self, reviewer: &Actor, id: &str) -> anyhow::Result<()> {
        step(
            "taking a claim",
            claims::assign(&self.ctx, reviewer, id.to_owned()).await,
        )?;
        Ok(())
    }
}

async fn seed_claims(config: &Config, db: &Db, now: DateTime<Utc>) -> anyhow::Result<()> {
    use DocumentKind::{
        AccidentProof, DischargeSummary, IdBack, IdFront, Invoice, MedicalRecordFrontPage, Other,
    };
    let history = i64::try_from(DEMO_HISTORY_DAYS).unwrap_or(60);
    let clock = ManualClock::new(now - Duration::days(history));
    let ctx = Context::new(config.clone(), db.clone(), Arc::new(clock.clone()))
        .context("demo claims: building a context")?;
    let s = Stage {
        ctx,
        clock,
        now,
        today: china_date(now),
    };
    let admin = staff_actor(db, "demo-sichuan-admin").await?;
    let reviewer = staff_actor(db, "demo-reviewer").await?;

    // Two months ago: they join their unions and enroll (cover from the next day).
    let mut members = Vec::new();
    for (i, w) in WORKERS.iter().enumerate() {
        s.at(Duration::days(history) - Duration::minutes(20 * i64::try_from(i)?));
        members.push(s.member(w, &admin).await?);
    }
    let [(li, li_cover), (wang, wang_cover), (zhang, zhang_cover), (liu, liu_cover)] =
        <[(Actor, String); 4]>::try_from(members)
            .map_err(|_| anyhow::anyhow!("demo claims: four members"))?;
    let wechat = json!({"kind": "wechat_balance"});

    // 张伟: the accident lump sum, filed six days ago, taken by demo-reviewer two days ago
    // and approved yesterday: above 10000.00 it waits for a finance approver.
    s.at(Duration::days(6));
    let lump_sum = s
        .file(
            &zhang,
            json!({
                "enrollment_id": zhang_cover,
                "benefit_code": "accident_death_disability",
                "incident": {
                    "type": "accident",
                    "occurred_on": s.day(20),
                    "place": "成都市武侯区人民南路四段与科华北路交叉口",
                    "hospital": "四川省人民医院",
                    "diagnosis": "交通事故致左手食指、中指离断，经鉴定为十级伤残",
                },
                "payee": wechat,
            }),
            &[IdFront, IdBack, AccidentProof, Other],
        )
        .await?;
    s.submit(&zhang, &lump_sum).await?;

    // 李明: a hospital allowance and a reimbursement of the same stay, both submitted
    // three days ago.
    s.at(Duration::days(3) + Duration::hours(2));
    let allowance = s
        .file(
            &li,
            json!({
                "enrollment_id": li_cover,
                "benefit_code": "hospital_daily",
                "incident": {
                    "type": "accident",
                    "occurred_on": s.day(10),
                    "place": "成都市锦江区春熙路",
                    "admitted_on": s.day(9),
                    "discharged_on": s.day(4),
                    "hospital": "四川大学华西医院",
                    "diagnosis": "送餐途中摔倒致右侧桡骨远端骨折",
                },
                "payee": wechat,
            }),
            &[IdFront, IdBack, MedicalRecordFrontPage, DischargeSummary],
        )
        .await?;
    s.submit(&li, &allowance).await?;
    s.at(Duration::days(3) + Duration::hours(1));
    let to_return = s
        .file(
            &li,
            json!({
                "enrollment_id": li_cover,
                "benefit_code": "medical_reimbursement",
                "incident": {
                    "type": "accident",
                    "occurred_on": s.day(10),
                    "place": "成都市锦江区春熙路",
                    "admitted_on": s.day(9),
                    "discharged_on": s.day(4),
                    "hospital": "四川大学华西医院",
                    "diagnosis": "送餐途中摔倒致右侧桡骨远端骨折",
                    "claimed_cost": "1850.00",
                    "invoice_numbers": ["51012600087431"],
                },
                "payee": wechat,
            }),
            &[IdFront, IdBack, DischargeSummary, Invoice],
        )
        .await?;
    s.submit(&li, &to_return).await?;

    // Two days ago demo-reviewer takes the lump sum, and returns 李明's reimbursement for
    // a readable invoice.
    s.at(Duration::days(2) + Duration::hours(1));
    s.assign(&reviewer, &lump_sum).await?;
    s.assign(&reviewer, &to_return).await?;
    s.at(Duration::days(2));
    step(
        "returning a claim",
        claims::return_claim(
            &s.ctx,
            &reviewer,
            to_return.clone(),
            ReturnBody {
                reasons: vec![ReturnReason::InvoiceUnclear],
                note: Some("发票照片反光，看不清发票号码，请重新拍摄上传".into()),
            },
        )
        .await,
    )?;

    // Yesterday: demo-reviewer approves the lump sum; 王芳 submits a reimbursement.
    s.at(Duration::days(1) + Duration::hours(3));
    step(
        "approving the lump sum",
        claims::approve(&s.ctx, &reviewer, lump_sum.clone(), ApproveBody::default()).await,
    )?;
    s.at(Duration::days(1));
    let reimbursement = s
        .file(
            &wang,
            json!({
                "enrollment_id": wang_cover,
                "benefit_code": "medical_reimbursement",
                "incident": {
                    "type": "illness",
                    "occurred_on": s.day(15),
                    "place": "成都市青羊区",
                    "admitted_on": s.day(15),
                    "discharged_on": s.day(10),
                    "hospital": "成都市第三人民医院",
                    "diagnosis": "急性阑尾炎，行腹腔镜阑尾切除术",
                    "claimed_cost": "3200.00",
                    "invoice_numbers": ["51012600153201", "51012600153202"],
                },
                "payee": wechat,
            }),
            &[IdFront, IdBack, DischargeSummary, Invoice],
        )
        .await?;
    s.submit(&wang, &reimbursement).await?;

    // Two hours ago: 刘洋 starts a claim, the discharge summary still to come.
    s.at(Duration::hours(2));
    let draft = s
        .file(
            &liu,
            json!({
                "enrollment_id": liu_cover,
                "benefit_code": "hospital_daily",
                "incident": {
                    "type": "accident",
                    "occurred_on": s.day(6),
                    "place": "成都市锦江区东大街",
                    "admitted_on": s.day(6),
                    "discharged_on": s.day(2),
                    "hospital": "成都市第二人民医院",
                    "diagnosis": "电动车与汽车碰撞致左踝关节扭伤、软组织挫伤",
                },
                "payee": wechat,
            }),
            &[IdFront, IdBack, MedicalRecordFrontPage],
        )
        .await?;

    tracing::info!(
        workers = ?WORKERS.iter().map(|w| w.0).collect::<Vec<_>>(),
        waiting_for_review = ?[&allowance, &reimbursement],
        awaiting_confirmation = %lump_sum,
        returned = %to_return,
        draft = %draft,
        "seed: demo workers enrolled in e-road-sichuan, with claims (sign in by SMS in dev)"
    );
    Ok(())
}
