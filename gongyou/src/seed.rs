//! `gongyou seed` / `demo`: a small but real union hierarchy (全国 → 四川省 → 成都市 → its
//! districts → grassroots unions and a 新就业形态 sector federation; 广东省 → 深圳市 → …) and,
//! in dev, the demo staff logins of DESIGN §3. Idempotent: what exists is left alone.

use chrono::NaiveDateTime;
use gongyou_db::orgs::{self, Org};
use gongyou_db::staff::{self as staff_db, Staff, STAFF_ACTIVE};
use gongyou_db::{write_tx, Db, DbConnection, DbError};
use gongyou_domain::org::{OrgPath, OrgType};
use gongyou_domain::staff::Role;
use gongyou_services::accounts::password;
use gongyou_services::config::Config;

/// (name, type, region code, children)
struct Node {
    name: &'static str,
    org_type: OrgType,
    region: Option<&'static str>,
    children: Vec<Node>,
}

fn node(name: &'static str, org_type: OrgType, region: &'static str, children: Vec<Node>) -> Node {
    Node {
        name,
        org_type,
        region: Some(region),
        children,
    }
}

fn hierarchy() -> Node {
    use OrgType::{Federation as F, GrassrootsUnion as G, SectorFederation as S};
    Node {
        name: "中华全国总工会",
        org_type: F,
        region: None,
        children: vec![
            node(
                "四川省总工会",
                F,
                "510000",
                vec![node(
                    "成都市总工会",
                    F,
                    "510100",
                    vec![
                        node(
                            "锦江区总工会",
                            F,
                            "510104",
                            vec![node("锦江区新就业形态劳动者工会", G, "510104", vec![])],
                        ),
                        node(
                            "青羊区总工会",
                            F,
                            "510105",
                            vec![node("青羊区快递外卖骑手工会", G, "510105", vec![])],
                        ),
                        node(
                            "武侯区总工会",
                            F,
                            "510107",
                            vec![node("武侯区网约车司机工会", G, "510107", vec![])],
                        ),
                        node("成华区总工会", F, "510108", vec![]),
                        node("成都市新就业形态行业工会联合会", S, "510100", vec![]),
                    ],
                )],
            ),
            node(
                "广东省总工会",
                F,
                "440000",
                vec![node(
                    "深圳市总工会",
                    F,
                    "440300",
                    vec![
                        node(
                            "福田区总工会",
                            F,
                            "440304",
                            vec![node("福田区快递员工会", G, "440304", vec![])],
                        ),
                        node(
                            "南山区总工会",
                            F,
                            "440305",
                            vec![node("南山区外卖骑手工会", G, "440305", vec![])],
                        ),
                        node("深圳市新就业形态行业工会联合会", S, "440300", vec![]),
                    ],
                )],
            ),
        ],
    }
}

fn ensure(
    conn: &mut DbConnection,
    parent: Option<&Org>,
    node: &Node,
    now: NaiveDateTime,
    out: &mut Vec<Org>,
) -> Result<(), DbError> {
    let existing = match parent {
        Some(p) => orgs::child_named(conn, &p.id, node.name)?,
        None => orgs::root(conn)?,
    };
    let org = match existing {
        Some(org) => org,
        None => {
            let id = gongyou_domain::id::new_id();
            let path = match parent {
                Some(p) => OrgPath::from_stored(p.path.clone()).child(&id),
                None => OrgPath::root(&id),
            };
            let org = Org {
                id,
                parent_id: parent.map(|p| p.id.clone()),
                path: path.as_str().to_owned(),
                name: node.name.to_owned(),
                org_type: node.org_type.as_str().to_owned(),
                region_code: node.region.map(str::to_owned),
                created_at: now,
                updated_at: now,
            };
            orgs::insert(conn, &org)?;
            org
        }
    };
    out.push(org.clone());
    for child in &node.children {
        ensure(conn, Some(&org), child, now, out)?;
    }
    Ok(())
}

/// A demo login: username, what it may do (the demo adds what waits for it).
pub struct DemoLogin {
    pub username: &'static str,
    pub description: std::borrow::Cow<'static, str>,
}

/// (username, display name, home org, role and scope)
const DEMO_STAFF: [(&str, &str, &str, Option<Role>, &str); 6] = [
    (
        "demo-admin",
        "演示·全国管理员",
        "中华全国总工会",
        Some(Role::UnionAdmin),
        "union_admin of 中华全国总工会",
    ),
    (
        "demo-sichuan-admin",
        "演示·四川管理员",
        "四川省总工会",
        Some(Role::UnionAdmin),
        "union_admin of 四川省总工会",
    ),
    (
        "demo-manager",
        "演示·驿站管理员",
        "成都市总工会",
        None,
        "manager of 8 demo stations in 成都 (GET /api/v1/me/stations)",
    ),
    (
        "demo-reviewer",
        "演示·理赔审核",
        "四川省总工会",
        Some(Role::ClaimsReviewer),
        "claims_reviewer of 四川省总工会",
    ),
    (
        "demo-approver",
        "演示·财务审批",
        "四川省总工会",
        Some(Role::FinanceApprover),
        "finance_approver of 四川省总工会",
    ),
    (
        "demo-finance",
        "演示·财务制单",
        "四川省总工会",
        Some(Role::FinanceApprover),
        "finance_approver of 四川省总工会: builds payout batches that demo-approver approves",
    ),
];

/// Seeds the hierarchy, and in dev the demo staff; returns the demo logins.
pub async fn run(db: &Db, config: &Config, now: NaiveDateTime) -> anyhow::Result<Vec<DemoLogin>> {
    let seeded = db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let mut all = Vec::new();
                ensure(conn, None, &hierarchy(), now, &mut all)?;
                Ok::<_, DbError>(all)
            })
        })
        .await?;
    tracing::info!(orgs = seeded.len(), "seed: union hierarchy present");
    if config.is_production() {
        tracing::info!("seed: no demo logins in production");
        return Ok(Vec::new());
    }
    let hash = password::hash(config.demo_password.expose().to_owned()).await?;
    let logins = db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let mut logins = Vec::new();
                for (username, display, home, role, description) in DEMO_STAFF {
                    logins.push(DemoLogin {
                        username,
                        description: description.into(),
                    });
                    if staff_db::by_username(conn, username)?.is_some() {
                        continue;
                    }
                    let Some(home) = seeded.iter().find(|o| o.name == home) else {
                        continue;
                    };
                    let member = Staff {
                        id: gongyou_domain::id::new_id(),
                        username: username.to_owned(),
                        display_name: display.to_owned(),
                        password_hash: hash.clone(),
                        org_id: home.id.clone(),
                        status: STAFF_ACTIVE.into(),
                        created_by: None,
                        created_at: now,
                        updated_at: now,
                    };
                    staff_db::insert(conn, &member)?;
                    let grants: Vec<(String, String)> = role
                        .map(|r| (r.as_str().to_owned(), home.id.clone()))
                        .into_iter()
                        .collect();
                    staff_db::replace_grants(conn, &member.id, &grants, None, now)?;
                }
                Ok::<_, DbError>(logins)
            })
        })
        .await?;
    Ok(logins)
}

/// Why the first admin could not be created.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("no union hierarchy: run `gongyou seed` first")]
    NoRoot,
    #[error("the username is not valid (3–32 of a-z, 0-9, . _ -, starting with a letter)")]
    Username,
    #[error("the password is too weak (at least 10 characters, digits and other characters)")]
    Password,
    #[error("a staff account named {0} exists already")]
    Exists(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<DbError> for BootstrapError {
    fn from(e: DbError) -> Self {
        BootstrapError::Other(e.into())
    }
}

/// Creates a union admin of the national org: the first staff account of a production
/// install (where `seed` creates no demo logins). Returns the new account's id.
pub async fn bootstrap_admin(
    db: &Db,
    username: &str,
    display_name: &str,
    password: &str,
    now: NaiveDateTime,
) -> Result<String, BootstrapError> {
    let username =
        gongyou_domain::staff::Username::parse(username).ok_or(BootstrapError::Username)?;
    let password =
        gongyou_domain::staff::NewPassword::parse(password).ok_or(BootstrapError::Password)?;
    let hash = password::hash(password.expose().to_owned())
        .await
        .map_err(|e| BootstrapError::Other(anyhow::anyhow!("hashing: {e}")))?;
    let display_name = display_name.trim().to_owned();
    db.run(move |conn| {
        write_tx(conn, |conn| {
            let root = orgs::root(conn)
                .map_err(anyhow::Error::from)?
                .ok_or(BootstrapError::NoRoot)?;
            if staff_db::by_username(conn, username.as_str())
                .map_err(anyhow::Error::from)?
                .is_some()
            {
                return Err(BootstrapError::Exists(username.as_str().to_owned()));
            }
            let member = Staff {
                id: gongyou_domain::id::new_id(),
                username: username.as_str().to_owned(),
                display_name: if display_name.is_empty() {
                    username.as_str().to_owned()
                } else {
                    display_name
                },
                password_hash: hash,
                org_id: root.id.clone(),
                status: STAFF_ACTIVE.into(),
                created_by: None,
                created_at: now,
                updated_at: now,
            };
            staff_db::insert(conn, &member).map_err(anyhow::Error::from)?;
            staff_db::replace_grants(
                conn,
                &member.id,
                &[(Role::UnionAdmin.as_str().to_owned(), root.id)],
                None,
                now,
            )
            .map_err(anyhow::Error::from)?;
            Ok(member.id)
        })
    })
    .await
}

const EVERY_ORG: orgs::OrgFilter<'static> = orgs::OrgFilter {
    parent_id: None,
    within: None,
    region_code: None,
    after: None,
    limit: 100_000,
};

/// The deepest seeded org for a region: the region's own federation, else its city's, its
/// province's, or the national one.
fn operator_for(orgs: &[orgs::Org], region_code: &str) -> Option<String> {
    let city = format!("{}00", region_code.get(..4).unwrap_or(""));
    let province = format!("{}0000", region_code.get(..2).unwrap_or(""));
    let federation = |code: &str| {
        orgs.iter()
            .filter(|o| {
                o.region_code.as_deref() == Some(code) && o.org_type == OrgType::Federation.as_str()
            })
            .min_by_key(|o| o.path.len())
            .map(|o| o.id.clone())
    };
    federation(region_code)
        .or_else(|| federation(&city))
        .or_else(|| federation(&province))
        .or_else(|| {
            orgs.iter()
                .find(|o| o.parent_id.is_none())
                .map(|o| o.id.clone())
        })
}

/// Generated stations as rows (hours and amenities go through the domain's parsers, so
/// seeded data is what the API would have accepted).
fn station_rows(
    generated: Vec<crate::station_seed::GeneratedStation>,
    orgs: &[orgs::Org],
    now: NaiveDateTime,
) -> Vec<gongyou_db::stations::Station> {
    use gongyou_domain::station::{AmenitySet, OpeningHours};
    generated
        .into_iter()
        .filter_map(|g| {
            let hours = OpeningHours::from_json(&g.hours).ok()?;
            let amenities = AmenitySet::parse_list(&g.amenities.join(",")).ok()?;
            Some(gongyou_db::stations::Station {
                id: gongyou_domain::id::new_id(),
                org_id: operator_for(orgs, &g.region_code)?,
                kind: g.kind.to_owned(),
                name: g.name,
                address: g.address,
                region_code: g.region_code,
                lat: g.lat,
                lng: g.lng,
                amenities: amenities
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                hours: serde_json::to_string(&hours).ok()?,
                status: "open".into(),
                reopens_at: None,
                notice: g.notice,
                contact_phone: Some(g.contact_phone),
                capacity: Some(g.capacity),
                version: 1,
                created_by: "seed".into(),
                created_at: now,
                updated_at: now,
                code_epoch: 0,
            })
        })
        .collect()
}

/// `gongyou seed --stations N`: a realistic national set of N stations (deterministic),
/// written in batches. Returns how many were written.
pub async fn national_stations(db: &Db, n: usize, now: NaiveDateTime) -> anyhow::Result<usize> {
    let generated = crate::station_seed::generate(n, 2026);
    let all = db.run(|conn| orgs::list(conn, &EVERY_ORG)).await?;
    let rows = station_rows(generated, &all, now);
    let written = rows.len();
    for chunk in rows.chunks(5000) {
        let chunk = chunk.to_vec();
        db.run(move |conn| write_tx(conn, |conn| gongyou_db::stations::insert_many(conn, &chunk)))
            .await?;
    }
    tracing::info!(stations = written, "seed: national stations written");
    Ok(written)
}

/// `gongyou demo`: a few hundred stations around 成都 and 深圳 (once), some of those in 成都
/// managed by `demo-manager`.
pub async fn demo_stations(db: &Db, now: NaiveDateTime) -> anyhow::Result<usize> {
    let existing = db
        .run(|conn| {
            use diesel::prelude::*;
            gongyou_db::schema::stations::table
                .count()
                .get_result::<i64>(conn)
                .map_err(DbError::from)
        })
        .await?;
    if existing > 0 {
        return Ok(0);
    }
    let mut generated = crate::station_seed::generate_around("510100", 300, 7);
    generated.extend(crate::station_seed::generate_around("440300", 200, 8));
    let all = db.run(|conn| orgs::list(conn, &EVERY_ORG)).await?;
    let rows = station_rows(generated, &all, now);
    let written = rows.len();
    db.run(move |conn| {
        write_tx(conn, |conn| {
            gongyou_db::stations::insert_many(conn, &rows)?;
            if let Some(manager) = staff_db::by_username(conn, "demo-manager")? {
                for station in rows
                    .iter()
                    .filter(|s| s.region_code.starts_with("5101"))
                    .take(8)
                {
                    let mut managers = gongyou_db::stations::managers(conn, &station.id)?;
                    managers.push(manager.id.clone());
                    gongyou_db::stations::set_managers(conn, &station.id, &managers, now)?;
                }
            }
            Ok::<_, DbError>(())
        })
    })
    .await?;
    tracing::info!(
        stations = written,
        "seed: demo stations around 成都 and 深圳"
    );
    Ok(written)
}

/// How far back the demo's story goes: its plan opened (on the first of that month) and its
/// demo workers joined and enrolled this many days ago (`demo_claims`).
pub const DEMO_HISTORY_DAYS: u64 = 60;

/// `gongyou demo`: a published plan like E路守护 in 四川 (once), open to enrollment today, so
/// that a worker who has just joined a union in 成都 through the demo qualifies at once. It
/// opened at the start of the month [`DEMO_HISTORY_DAYS`] ago, so the demo workers' cover
/// (and their claims) can be that old.
pub async fn demo_plan(db: &Db, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<bool> {
    use chrono::{Datelike, Months};
    let today = gongyou_domain::time::china_date(now);
    let opened = today
        .checked_sub_days(chrono::Days::new(DEMO_HISTORY_DAYS))
        .unwrap_or(today);
    let start = opened.with_day(1).unwrap_or(opened);
    let end = start
        .checked_add_months(Months::new(12))
        .and_then(|d| d.pred_opt())
        .unwrap_or(today);
    let closes = end.checked_sub_days(chrono::Days::new(30)).unwrap_or(end);
    let terms: gongyou_services::plans::terms::PlanTerms = serde_json::from_value(
        serde_json::json!({
            "name": format!("E路守护 {}", start.year()),
            "description": "四川省总工会为新就业形态劳动者提供的免费互助保障：意外身故或伤残一次性给付，住院每天津贴，医疗费用按比例报销。",
            "enrollment_opens_on": start.to_string(),
            "enrollment_closes_on": closes.to_string(),
            "coverage_starts_on": start.to_string(),
            "coverage_ends_on": end.to_string(),
            "eligibility": {
                "occupations": ["delivery_rider", "ride_hailing_driver", "courier", "truck_driver", "domestic_worker"],
                "region_codes": ["510000"],
                "min_age": 16,
                "max_age": 65
            },
            "benefits": [
                {"code": "accident_death_disability", "name": "意外身故或伤残", "kind": "lump_sum",
                 "amount": "30000.00", "waiting_days": {"illness": 0, "accident": 0},
                 "documents": ["id_front", "id_back", "accident_proof", "other"]},
                {"code": "hospital_daily", "name": "住院津贴", "kind": "daily_allowance",
                 "amount_per_day": "200.00", "max_days_per_year": 30,
                 "waiting_days": {"illness": 30, "accident": 0},
                 "documents": ["id_front", "id_back", "medical_record_front_page", "discharge_summary"]},
                {"code": "medical_reimbursement", "name": "医疗费用报销", "kind": "reimbursement",
                 "percent": "80", "per_claim_cap": "5000.00", "yearly_cap": "20000.00",
                 "waiting_days": {"illness": 30, "accident": 0},
                 "documents": ["id_front", "id_back", "discharge_summary", "invoice"]}
            ]
        }),
    )?;
    let at = now.naive_utc();
    let created = db
        .run(move |conn| {
            write_tx(conn, |conn| -> anyhow::Result<bool> {
                let sponsor = orgs::list(conn, &EVERY_ORG)?
                    .into_iter()
                    .find(|o| o.name == "四川省总工会")
                    .ok_or_else(|| anyhow::anyhow!("no 四川省总工会: run the seed first"))?;
                gongyou_services::plans::ensure_published(
                    conn,
                    "e-road-sichuan",
                    &sponsor.id,
                    &terms,
                    "seed",
                    at,
                )
                .map_err(|e| anyhow::anyhow!("{e}"))
            })
        })
        .await?;
    if created {
        tracing::info!("seed: demo plan e-road-sichuan published");
    }
    Ok(created)
}
