//! A plan's terms as the API carries them, parsed at the edge into domain types, and back
//! into views. Money is a decimal string ("200.00"), fen in the database.

use chrono::NaiveDate;
use gongyou_db::plans::{BenefitRow, PlanVersion};
use gongyou_domain::membership::Occupation;
use gongyou_domain::money::{from_fen, parse_fen};
use gongyou_domain::plan::{
    valid_benefit_code, Benefit, DocumentKind, Eligibility, Payout, PlanStatus, Windows,
};
use gongyou_domain::region::RegionCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ServiceError, ServiceResult};
use crate::text::{BenefitName, PlanDescription, PlanName};

/// The kinds of benefit item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BenefitKind {
    /// An amount per day in hospital, up to a number of days per coverage period.
    DailyAllowance,
    /// A fixed grant, once per coverage period.
    LumpSum,
    /// A percentage of the eligible cost, capped per claim and per coverage period.
    Reimbursement,
}

/// Waiting periods in days, per incident type: an incident before the period ends is not
/// covered by the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitingDays {
    #[serde(deserialize_with = "crate::schema::small")]
    #[schema(minimum = 0, maximum = 365)]
    pub illness: u16,
    #[serde(deserialize_with = "crate::schema::small")]
    #[schema(minimum = 0, maximum = 365)]
    pub accident: u16,
}

/// A benefit item. The amounts its kind needs are required (422 `plan.benefit_amounts`
/// otherwise, and for amounts of another kind): `daily_allowance` — `amount_per_day`,
/// `max_days_per_year`; `lump_sum` — `amount`; `reimbursement` — `percent`,
/// `per_claim_cap`, `yearly_cap` (not below the per-claim cap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BenefitTerms {
    #[schema(pattern = "^[a-z][a-z0-9_]{1,31}$")]
    pub code: String,
    #[schema(value_type = BenefitName, inline)]
    pub name: String,
    pub kind: BenefitKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$", nullable = false)]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$", nullable = false)]
    pub amount_per_day: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::schema::small_opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 1, maximum = 366, nullable = false)]
    pub max_days_per_year: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        pattern = r"^(100(\.0{1,2})?|[1-9]?[0-9](\.[0-9]{1,2})?)$",
        nullable = false
    )]
    pub percent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$", nullable = false)]
    pub per_claim_cap: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$", nullable = false)]
    pub yearly_cap: Option<String>,
    pub waiting_days: WaitingDays,
    /// The documents a claim on this item needs (no repeats).
    #[schema(max_items = 7)]
    pub documents: Vec<DocumentKind>,
}

/// Who may enroll. Empty lists mean any; an active membership is always required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EligibilityTerms {
    #[serde(default)]
    #[schema(max_items = 6)]
    pub occupations: Vec<Occupation>,
    /// The member's work region lies within one of these.
    #[serde(default)]
    #[schema(value_type = Vec<RegionCode>, max_items = 100)]
    pub region_codes: Vec<String>,
    /// Age at enrollment, at least (16–100).
    #[serde(
        default,
        deserialize_with = "crate::schema::small_opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 16, maximum = 100, nullable = false)]
    pub min_age: Option<u16>,
    /// Age at enrollment, at most (16–100, not below `min_age`).
    #[serde(
        default,
        deserialize_with = "crate::schema::small_opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 16, maximum = 100, nullable = false)]
    pub max_age: Option<u16>,
    /// Full months on the platform, at least (needs the platform start date: unknown is
    /// unmet with `tenure_unknown`).
    #[serde(
        default,
        deserialize_with = "crate::schema::small_opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 1, maximum = 120, nullable = false)]
    pub min_platform_tenure_months: Option<u16>,
    /// Days since joining the union, at least.
    #[serde(
        default,
        deserialize_with = "crate::schema::small_opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 1, maximum = 3650, nullable = false)]
    pub min_membership_days: Option<u16>,
}

/// A plan version's terms as an admin writes them. Dates are inclusive, Asia/Shanghai:
/// enrollment opens on or before it closes; coverage starts on or before it ends and lasts
/// at most 366 days ("per year" limits are per coverage period); enrollment closes on or
/// before coverage ends (422 `plan.invalid_dates` otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanTerms {
    #[schema(value_type = PlanName, inline)]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = PlanDescription, inline)]
    pub description: String,
    #[schema(format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub enrollment_opens_on: String,
    #[schema(format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub enrollment_closes_on: String,
    #[schema(format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub coverage_starts_on: String,
    #[schema(format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub coverage_ends_on: String,
    #[serde(default)]
    pub eligibility: EligibilityTerms,
    /// 1–20 items with distinct codes (422 `plan.duplicate_benefit`).
    #[schema(min_items = 1, max_items = 20)]
    pub benefits: Vec<BenefitTerms>,
}

fn bad(code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::invalid(code, detail.into())
}

fn rule(code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::rule(code, detail.into())
}

fn date(s: &str, field: &str) -> ServiceResult<NaiveDate> {
    use gongyou_domain::time::TimestampError;
    gongyou_domain::time::parse_date(s).map_err(|e| match e {
        TimestampError::Malformed => bad(
            "plan.invalid_date",
            format!("{field} 须为 YYYY-MM-DD 格式的日期"),
        ),
        TimestampError::NoSuchTime => {
            rule("plan.invalid_date", format!("{field} 不是真实存在的日期"))
        }
    })
}

fn money(s: &Option<String>, field: &str, code: &str) -> ServiceResult<Option<i64>> {
    match s {
        None => Ok(None),
        Some(text) => match parse_fen(text) {
            Some(fen) if fen > 0 => Ok(Some(fen)),
            Some(_) => Err(rule(
                "plan.benefit_amounts",
                format!("{code}：{field} 须大于 0"),
            )),
            None => Err(bad(
                "plan.invalid_amount",
                format!("{code}：{field} 须为最多两位小数的金额，如 200.00"),
            )),
        },
    }
}

fn percent_bp(s: &str, code: &str) -> ServiceResult<u32> {
    let bad_percent = || {
        bad(
            "plan.invalid_percent",
            format!("{code}：percent 须为 0.01 至 100 之间、最多两位小数的数"),
        )
    };
    let fen = parse_fen(s).ok_or_else(bad_percent)?;
    if fen > 10_000 {
        return Err(bad_percent());
    }
    if fen == 0 {
        return Err(rule(
            "plan.benefit_amounts",
            format!("{code}：percent 须大于 0"),
        ));
    }
    u32::try_from(fen).map_err(|_| bad_percent())
}

/// Terms that passed every check, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTerms {
    pub name: String,
    pub description: String,
    pub windows: Windows,
    pub eligibility: Eligibility,
    pub benefits: Vec<Benefit>,
}

pub fn check_terms(t: &PlanTerms) -> ServiceResult<CheckedTerms> {
    let name = PlanName::RULE
        .check(&t.name)
        .ok_or_else(|| bad("plan.invalid_name", "计划名称须为 2 至 40 个字符"))?;
    let description = PlanDescription::RULE
        .check(&t.description)
        .ok_or_else(|| bad("plan.invalid_description", "计划说明最多 2000 个字符"))?;
    let windows = Windows {
        enrollment_opens_on: date(&t.enrollment_opens_on, "enrollment_opens_on")?,
        enrollment_closes_on: date(&t.enrollment_closes_on, "enrollment_closes_on")?,
        coverage_starts_on: date(&t.coverage_starts_on, "coverage_starts_on")?,
        coverage_ends_on: date(&t.coverage_ends_on, "coverage_ends_on")?,
    };
    let days = windows
        .coverage_ends_on
        .signed_duration_since(windows.coverage_starts_on)
        .num_days();
    if windows.enrollment_opens_on > windows.enrollment_closes_on
        || !(0..366).contains(&days)
        || windows.enrollment_closes_on > windows.coverage_ends_on
    {
        return Err(rule(
            "plan.invalid_dates",
            "参加期须早于截止日，保障期不超过 366 天，参加截止日不晚于保障期结束",
        ));
    }
    let e = &t.eligibility;
    let mut occupations = Vec::new();
    for o in &e.occupations {
        if occupations.contains(o) {
            return Err(rule("plan.duplicate_value", "职业不能重复"));
        }
        occupations.push(*o);
    }
    let mut region_codes: Vec<RegionCode> = Vec::new();
    for r in &e.region_codes {
        let code = RegionCode::parse(r)
            .map_err(|_| bad("plan.invalid_region", format!("地区代码 {r} 不存在")))?;
        if region_codes.contains(&code) {
            return Err(rule("plan.duplicate_value", "地区代码不能重复"));
        }
        region_codes.push(code);
    }
    let in_range = |v: Option<u16>, lo: u16, hi: u16| v.is_none_or(|v| (lo..=hi).contains(&v));
    if !in_range(e.min_age, 16, 100)
        || !in_range(e.max_age, 16, 100)
        || !in_range(e.min_platform_tenure_months, 1, 120)
        || !in_range(e.min_membership_days, 1, 3650)
        || e.region_codes.len() > 100
    {
        return Err(bad("plan.invalid_eligibility", "资格条件超出允许范围"));
    }
    if let (Some(min), Some(max)) = (e.min_age, e.max_age) {
        if min > max {
            return Err(rule("plan.invalid_eligibility", "最低年龄不能高于最高年龄"));
        }
    }
    let eligibility = Eligibility {
        occupations,
        region_codes,
        min_age: e.min_age.map(u32::from),
        max_age: e.max_age.map(u32::from),
        min_platform_tenure_months: e.min_platform_tenure_months.map(u32::from),
        min_membership_days: e.min_membership_days.map(u32::from),
    };
    if t.benefits.is_empty() || t.benefits.len() > 20 {
        return Err(bad("plan.invalid_benefits", "须有 1 至 20 项保障"));
    }
    let mut benefits: Vec<Benefit> = Vec::new();
    for b in &t.benefits {
        benefits.push(check_benefit(b)?);
        if benefits.iter().filter(|x| x.code == b.code).count() > 1 {
            return Err(rule(
                "plan.duplicate_benefit",
                format!("保障项目代码 {} 重复", b.code),
            ));
        }
    }
    Ok(CheckedTerms {
        name,
        description,
        windows,
        eligibility,
        benefits,
    })
}

fn check_benefit(b: &BenefitTerms) -> ServiceResult<Benefit> {
    if !valid_benefit_code(&b.code) {
        return Err(bad(
            "plan.invalid_benefit_code",
            "保障项目代码须为 2 至 32 位小写字母、数字或下划线，以字母开头",
        ));
    }
    let code = b.code.as_str();
    let name = BenefitName::RULE.check(&b.name).ok_or_else(|| {
        bad(
            "plan.invalid_benefit_name",
            "保障项目名称须为 2 至 40 个字符",
        )
    })?;
    if b.waiting_days.illness > 365 || b.waiting_days.accident > 365 {
        return Err(bad(
            "plan.invalid_waiting_days",
            "等待期须在 0 至 365 天之间",
        ));
    }
    let mut documents = Vec::new();
    for d in &b.documents {
        if documents.contains(d) {
            return Err(rule("plan.duplicate_value", "所需材料不能重复"));
        }
        documents.push(*d);
    }
    if b.max_days_per_year.is_some_and(|d| !(1..=366).contains(&d)) {
        return Err(bad(
            "plan.invalid_benefit",
            "每年最多天数须在 1 至 366 之间",
        ));
    }
    let amount = money(&b.amount, "amount", code)?;
    let per_day = money(&b.amount_per_day, "amount_per_day", code)?;
    let per_claim = money(&b.per_claim_cap, "per_claim_cap", code)?;
    let yearly = money(&b.yearly_cap, "yearly_cap", code)?;
    let percent = b
        .percent
        .as_deref()
        .map(|p| percent_bp(p, code))
        .transpose()?;
    let mismatch = || {
        rule(
            "plan.benefit_amounts",
            format!("{code}：金额字段与保障类型不符（住院津贴填 amount_per_day 与 max_days_per_year；一次性给付填 amount；报销填 percent、per_claim_cap 与 yearly_cap）"),
        )
    };
    let payout = match b.kind {
        BenefitKind::DailyAllowance => match (
            per_day,
            b.max_days_per_year,
            amount,
            percent,
            per_claim,
            yearly,
        ) {
            (Some(per_day_fen), Some(days), None, None, None, None) => Payout::DailyAllowance {
                per_day_fen,
                max_days: u32::from(days),
            },
            _ => return Err(mismatch()),
        },
        BenefitKind::LumpSum => match (
            amount,
            per_day,
            b.max_days_per_year,
            percent,
            per_claim,
            yearly,
        ) {
            (Some(amount_fen), None, None, None, None, None) => Payout::LumpSum { amount_fen },
            _ => return Err(mismatch()),
        },
        BenefitKind::Reimbursement => match (
            percent,
            per_claim,
            yearly,
            amount,
            per_day,
            b.max_days_per_year,
        ) {
            (Some(percent_bp), Some(per_claim_cap_fen), Some(yearly_cap_fen), None, None, None) => {
                if yearly_cap_fen < per_claim_cap_fen {
                    return Err(rule(
                        "plan.benefit_amounts",
                        format!("{code}：年度上限不能低于单次上限"),
                    ));
                }
                Payout::Reimbursement {
                    percent_bp,
                    per_claim_cap_fen,
                    yearly_cap_fen,
                }
            }
            _ => return Err(mismatch()),
        },
    };
    Ok(Benefit {
        code: b.code.clone(),
        name,
        payout,
        illness_waiting_days: u32::from(b.waiting_days.illness),
        accident_waiting_days: u32::from(b.waiting_days.accident),
        documents,
    })
}

// ---- storage forms ------------------------------------------------------------------------

pub fn benefit_rows(code: &str, version: i32, benefits: &[Benefit]) -> Vec<BenefitRow> {
    benefits
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let (amount_fen, max_days, percent_bp, per_claim_cap_fen, yearly_cap_fen) =
                match b.payout {
                    Payout::DailyAllowance {
                        per_day_fen,
                        max_days,
                    } => (
                        Some(per_day_fen),
                        i32::try_from(max_days).ok(),
                        None,
                        None,
                        None,
                    ),
                    Payout::LumpSum { amount_fen } => (Some(amount_fen), None, None, None, None),
                    Payout::Reimbursement {
                        percent_bp,
                        per_claim_cap_fen,
                        yearly_cap_fen,
                    } => (
                        None,
                        None,
                        i32::try_from(percent_bp).ok(),
                        Some(per_claim_cap_fen),
                        Some(yearly_cap_fen),
                    ),
                };
            BenefitRow {
                plan_code: code.to_owned(),
                version,
                position: i32::try_from(i).unwrap_or(i32::MAX),
                code: b.code.clone(),
                name: b.name.clone(),
                kind: b.payout.kind().to_owned(),
                amount_fen,
                max_days,
                percent_bp,
                per_claim_cap_fen,
                yearly_cap_fen,
                illness_waiting_days: i32::try_from(b.illness_waiting_days).unwrap_or(0),
                accident_waiting_days: i32::try_from(b.accident_waiting_days).unwrap_or(0),
                documents: b
                    .documents
                    .iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            }
        })
        .collect()
}

fn stored_bad(what: &str) -> ServiceError {
    ServiceError::internal(anyhow::anyhow!("a stored plan has a bad {what}"))
}

pub fn benefit_of_row(row: &BenefitRow) -> ServiceResult<Benefit> {
    let days = |v: Option<i32>| v.and_then(|d| u32::try_from(d).ok());
    let payout = match row.kind.as_str() {
        "daily_allowance" => Payout::DailyAllowance {
            per_day_fen: row.amount_fen.ok_or_else(|| stored_bad("amount"))?,
            max_days: days(row.max_days).ok_or_else(|| stored_bad("max_days"))?,
        },
        "lump_sum" => Payout::LumpSum {
            amount_fen: row.amount_fen.ok_or_else(|| stored_bad("amount"))?,
        },
        "reimbursement" => Payout::Reimbursement {
            percent_bp: days(row.percent_bp).ok_or_else(|| stored_bad("percent"))?,
            per_claim_cap_fen: row.per_claim_cap_fen.ok_or_else(|| stored_bad("cap"))?,
            yearly_cap_fen: row.yearly_cap_fen.ok_or_else(|| stored_bad("cap"))?,
        },
        _ => return Err(stored_bad("kind")),
    };
    Ok(Benefit {
        code: row.code.clone(),
        name: row.name.clone(),
        payout,
        illness_waiting_days: u32::try_from(row.illness_waiting_days).unwrap_or(0),
        accident_waiting_days: u32::try_from(row.accident_waiting_days).unwrap_or(0),
        documents: row
            .documents
            .split(',')
            .filter_map(DocumentKind::parse)
            .collect(),
    })
}

pub fn windows_of(v: &PlanVersion) -> ServiceResult<Windows> {
    let d = |s: &str| gongyou_domain::time::parse_date(s).map_err(|_| stored_bad("date"));
    Ok(Windows {
        enrollment_opens_on: d(&v.enrollment_opens_on)?,
        enrollment_closes_on: d(&v.enrollment_closes_on)?,
        coverage_starts_on: d(&v.coverage_starts_on)?,
        coverage_ends_on: d(&v.coverage_ends_on)?,
    })
}

pub fn eligibility_of(v: &PlanVersion) -> Eligibility {
    let n = |x: Option<i32>| x.and_then(|v| u32::try_from(v).ok());
    Eligibility {
        occupations: v
            .occupations
            .split(',')
            .filter_map(Occupation::parse)
            .collect(),
        region_codes: v
            .region_codes
            .split(',')
            .filter_map(|r| RegionCode::parse(r).ok())
            .collect(),
        min_age: n(v.min_age),
        max_age: n(v.max_age),
        min_platform_tenure_months: n(v.min_platform_tenure_months),
        min_membership_days: n(v.min_membership_days),
    }
}

pub fn status_of(v: &PlanVersion) -> ServiceResult<PlanStatus> {
    PlanStatus::parse(&v.status).ok_or_else(|| stored_bad("status"))
}

/// Fills a version row's terms from checked terms.
pub fn apply_terms(v: &mut PlanVersion, t: &CheckedTerms) {
    v.name = t.name.clone();
    v.description = t.description.clone();
    v.enrollment_opens_on = t.windows.enrollment_opens_on.to_string();
    v.enrollment_closes_on = t.windows.enrollment_closes_on.to_string();
    v.coverage_starts_on = t.windows.coverage_starts_on.to_string();
    v.coverage_ends_on = t.windows.coverage_ends_on.to_string();
    v.occupations = t
        .eligibility
        .occupations
        .iter()
        .map(|o| o.as_str())
        .collect::<Vec<_>>()
        .join(",");
    v.region_codes = t
        .eligibility
        .region_codes
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let n = |x: Option<u32>| x.and_then(|v| i32::try_from(v).ok());
    v.min_age = n(t.eligibility.min_age);
    v.max_age = n(t.eligibility.max_age);
    v.min_platform_tenure_months = n(t.eligibility.min_platform_tenure_months);
    v.min_membership_days = n(t.eligibility.min_membership_days);
}

// ---- views --------------------------------------------------------------------------------

fn yuan(fen: i64) -> String {
    from_fen(fen).to_string()
}

/// Back to the API's form (what an admin wrote, normalised).
pub fn terms_view(v: &PlanVersion, benefits: &[Benefit]) -> PlanTerms {
    let e = eligibility_of(v);
    let small = |x: Option<u32>| x.and_then(|v| u16::try_from(v).ok());
    PlanTerms {
        name: v.name.clone(),
        description: v.description.clone(),
        enrollment_opens_on: v.enrollment_opens_on.clone(),
        enrollment_closes_on: v.enrollment_closes_on.clone(),
        coverage_starts_on: v.coverage_starts_on.clone(),
        coverage_ends_on: v.coverage_ends_on.clone(),
        eligibility: EligibilityTerms {
            occupations: e.occupations.clone(),
            region_codes: e.region_codes.iter().map(|r| r.to_string()).collect(),
            min_age: small(e.min_age),
            max_age: small(e.max_age),
            min_platform_tenure_months: small(e.min_platform_tenure_months),
            min_membership_days: small(e.min_membership_days),
        },
        benefits: benefits.iter().map(benefit_terms).collect(),
    }
}

pub fn benefit_terms(b: &Benefit) -> BenefitTerms {
    let mut t = BenefitTerms {
        code: b.code.clone(),
        name: b.name.clone(),
        kind: BenefitKind::LumpSum,
        amount: None,
        amount_per_day: None,
        max_days_per_year: None,
        percent: None,
        per_claim_cap: None,
        yearly_cap: None,
        waiting_days: WaitingDays {
            illness: u16::try_from(b.illness_waiting_days).unwrap_or(u16::MAX),
            accident: u16::try_from(b.accident_waiting_days).unwrap_or(u16::MAX),
        },
        documents: b.documents.clone(),
    };
    match b.payout {
        Payout::DailyAllowance {
            per_day_fen,
            max_days,
        } => {
            t.kind = BenefitKind::DailyAllowance;
            t.amount_per_day = Some(yuan(per_day_fen));
            t.max_days_per_year = u16::try_from(max_days).ok();
        }
        Payout::LumpSum { amount_fen } => t.amount = Some(yuan(amount_fen)),
        Payout::Reimbursement {
            percent_bp,
            per_claim_cap_fen,
            yearly_cap_fen,
        } => {
            t.kind = BenefitKind::Reimbursement;
            t.percent = Some(yuan(i64::from(percent_bp)));
            t.per_claim_cap = Some(yuan(per_claim_cap_fen));
            t.yearly_cap = Some(yuan(yearly_cap_fen));
        }
    }
    t
}

/// What a benefit pays, in one zh-CN sentence a rider understands.
pub fn pays_sentence(b: &Benefit) -> String {
    match b.payout {
        Payout::DailyAllowance {
            per_day_fen,
            max_days,
        } => {
            format!(
                "住院每天 {} 元，每个保障期最多 {max_days} 天",
                yuan(per_day_fen)
            )
        }
        Payout::LumpSum { amount_fen } => {
            format!("一次性给付 {} 元（每个保障期一次）", yuan(amount_fen))
        }
        Payout::Reimbursement {
            percent_bp,
            per_claim_cap_fen,
            yearly_cap_fen,
        } => format!(
            "按合规费用的 {}% 报销，单次最高 {} 元，每个保障期最高 {} 元",
            from_fen(i64::from(percent_bp)).normalize(),
            yuan(per_claim_cap_fen),
            yuan(yearly_cap_fen)
        ),
    }
}
