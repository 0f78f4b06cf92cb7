//! Protection plans (保障计划): terms, eligibility and the dates of an enrollment.
//!
//! Everything here is pure: eligibility takes the member's facts and "today" (a date in
//! Asia/Shanghai) and answers every rule that is unmet, not the first. Money is fen.

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::id_number::age_between;
use crate::membership::Occupation;
use crate::region::RegionCode;

/// A plan code: what paths and certificates use (`e-road-2026`).
pub const PLAN_CODE_PATTERN: &str = "^[a-z0-9][a-z0-9-]{1,31}$";
/// A benefit item's code within a plan (`hospital_daily`).
pub const BENEFIT_CODE_PATTERN: &str = "^[a-z][a-z0-9_]{1,31}$";

pub fn valid_plan_code(s: &str) -> bool {
    let b = s.as_bytes();
    (2..=32).contains(&b.len())
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

pub fn valid_benefit_code(s: &str) -> bool {
    let b = s.as_bytes();
    (2..=32).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// A version's status. Draft → published → (superseded by the next version | closed).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Being written; only admins see it; editable.
    Draft,
    /// Open to enrollment within its window; its terms never change.
    Published,
    /// A later version was published; enrollments made under this one keep its terms.
    Superseded,
    /// No new enrollments; cover already held stays in force until it ends.
    Closed,
}

impl PlanStatus {
    pub const ALL: [PlanStatus; 4] = [Self::Draft, Self::Published, Self::Superseded, Self::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Superseded => "superseded",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The kind of incident a claim is about; waiting periods differ by it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentType {
    Illness,
    Accident,
}

impl IncidentType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Illness => "illness",
            Self::Accident => "accident",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Illness, Self::Accident]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// What a claim on a benefit must include.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    IdFront,
    IdBack,
    /// 病案首页
    MedicalRecordFrontPage,
    /// 出院小结
    DischargeSummary,
    Invoice,
    AccidentProof,
    Other,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 7] = [
        Self::IdFront,
        Self::IdBack,
        Self::MedicalRecordFrontPage,
        Self::DischargeSummary,
        Self::Invoice,
        Self::AccidentProof,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdFront => "id_front",
            Self::IdBack => "id_back",
            Self::MedicalRecordFrontPage => "medical_record_front_page",
            Self::DischargeSummary => "discharge_summary",
            Self::Invoice => "invoice",
            Self::AccidentProof => "accident_proof",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// What a benefit item pays. Amounts in fen; a percentage in basis points (80 % = 8000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payout {
    /// An amount per day (in hospital), at most `max_days` days per coverage period.
    DailyAllowance { per_day_fen: i64, max_days: u32 },
    /// A fixed grant, once per coverage period.
    LumpSum { amount_fen: i64 },
    /// A share of the eligible cost, capped per claim and per coverage period.
    Reimbursement {
        percent_bp: u32,
        per_claim_cap_fen: i64,
        yearly_cap_fen: i64,
    },
}

impl Payout {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::DailyAllowance { .. } => "daily_allowance",
            Self::LumpSum { .. } => "lump_sum",
            Self::Reimbursement { .. } => "reimbursement",
        }
    }

    /// The most this item can pay in one coverage period.
    pub fn yearly_limit_fen(&self) -> i64 {
        match *self {
            Self::DailyAllowance {
                per_day_fen,
                max_days,
            } => per_day_fen.saturating_mul(i64::from(max_days)),
            Self::LumpSum { amount_fen } => amount_fen,
            Self::Reimbursement { yearly_cap_fen, .. } => yearly_cap_fen,
        }
    }
}

/// A benefit item of a plan version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Benefit {
    pub code: String,
    pub name: String,
    pub payout: Payout,
    pub illness_waiting_days: u32,
    pub accident_waiting_days: u32,
    pub documents: Vec<DocumentKind>,
}

impl Benefit {
    pub fn waiting_days(&self, incident: IncidentType) -> u32 {
        match incident {
            IncidentType::Illness => self.illness_waiting_days,
            IncidentType::Accident => self.accident_waiting_days,
        }
    }
}

/// Who may enroll, as data. Empty lists mean "any". An active membership is always required.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Eligibility {
    pub occupations: Vec<Occupation>,
    /// The member's region lies within one of these.
    pub region_codes: Vec<RegionCode>,
    pub min_age: Option<u32>,
    pub max_age: Option<u32>,
    pub min_platform_tenure_months: Option<u32>,
    pub min_membership_days: Option<u32>,
}

/// The dates of a plan version (inclusive, Asia/Shanghai).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub enrollment_opens_on: NaiveDate,
    pub enrollment_closes_on: NaiveDate,
    pub coverage_starts_on: NaiveDate,
    pub coverage_ends_on: NaiveDate,
}

/// What eligibility looks at about a worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberFacts {
    /// An active membership (not suspended, not withdrawn).
    pub active: bool,
    pub occupation: Option<Occupation>,
    pub region: Option<RegionCode>,
    pub birth_date: Option<NaiveDate>,
    pub platform_started_on: Option<NaiveDate>,
    pub joined_on: Option<NaiveDate>,
}

/// A rule a worker does not meet, with a stable code and a zh-CN sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmet {
    pub code: &'static str,
    pub detail: String,
}

/// Every eligibility rule unmet on `today`; empty means eligible. Plan-level conditions
/// (status, window, already enrolled) are [`enrollment_blockers`].
pub fn unmet_rules(rules: &Eligibility, who: &MemberFacts, today: NaiveDate) -> Vec<Unmet> {
    let mut unmet = Vec::new();
    if !who.active {
        unmet.push(Unmet {
            code: "membership_inactive",
            detail: "须为在册的有效会员（入会后即可参加）".into(),
        });
    }
    if !rules.occupations.is_empty() {
        let fits = who
            .occupation
            .is_some_and(|o| rules.occupations.contains(&o));
        if !fits {
            let names: Vec<&str> = rules.occupations.iter().map(|o| o.label_zh()).collect();
            unmet.push(Unmet {
                code: "occupation_not_covered",
                detail: format!("本计划面向{}", names.join("、")),
            });
        }
    }
    if !rules.region_codes.is_empty() {
        let fits = who
            .region
            .is_some_and(|r| rules.region_codes.iter().any(|a| r.is_within(*a)));
        if !fits {
            let names: Vec<String> = rules
                .region_codes
                .iter()
                .map(|r| r.name().to_owned())
                .collect();
            unmet.push(Unmet {
                code: "region_not_covered",
                detail: format!("本计划面向在{}工作的会员", names.join("、")),
            });
        }
    }
    if rules.min_age.is_some() || rules.max_age.is_some() {
        match who.birth_date.map(|b| age_between(b, today)) {
            None => unmet.push(Unmet {
                code: "age_unknown",
                detail: "缺少年龄信息，无法判断是否符合年龄要求".into(),
            }),
            Some(age) => {
                if let Some(min) = rules.min_age.filter(|min| age < *min) {
                    unmet.push(Unmet {
                        code: "age_below_minimum",
                        detail: format!("参加时须年满 {min} 周岁"),
                    });
                }
                if let Some(max) = rules.max_age.filter(|max| age > *max) {
                    unmet.push(Unmet {
                        code: "age_above_maximum",
                        detail: format!("参加时年龄须不超过 {max} 周岁"),
                    });
                }
            }
        }
    }
    if let Some(months) = rules.min_platform_tenure_months {
        match who.platform_started_on {
            None => unmet.push(Unmet {
                code: "tenure_unknown",
                detail: format!(
                    "须在平台从业满 {months} 个月；我们不知道您的入职日期，请在会员资料中补充或由平台名单提供"
                ),
            }),
            Some(start) if whole_months_between(start, today) < months => unmet.push(Unmet {
                code: "tenure_too_short",
                detail: format!("须在平台从业满 {months} 个月"),
            }),
            Some(_) => {}
        }
    }
    if let Some(days) = rules.min_membership_days {
        let enough = who.joined_on.is_some_and(|j| {
            today
                .signed_duration_since(j)
                .num_days()
                .ge(&i64::from(days))
        });
        if who.active && !enough {
            unmet.push(Unmet {
                code: "membership_too_recent",
                detail: format!("须入会满 {days} 天"),
            });
        }
    }
    unmet
}

/// Why enrollment is not possible today whatever the member: the plan's status and window.
pub fn enrollment_blockers(status: PlanStatus, windows: &Windows, today: NaiveDate) -> Vec<Unmet> {
    let mut unmet = Vec::new();
    if status != PlanStatus::Published {
        unmet.push(Unmet {
            code: "plan_not_open",
            detail: "该计划已停止参加".into(),
        });
        return unmet;
    }
    if today < windows.enrollment_opens_on {
        unmet.push(Unmet {
            code: "enrollment_not_yet_open",
            detail: format!(
                "{} 起可以参加",
                windows.enrollment_opens_on.format("%Y年%m月%d日")
            ),
        });
    } else if today > windows.enrollment_closes_on || effective_window(today, windows).is_none() {
        unmet.push(Unmet {
            code: "enrollment_closed",
            detail: format!(
                "参加已于 {} 截止",
                windows.enrollment_closes_on.format("%Y年%m月%d日")
            ),
        });
    }
    unmet
}

/// Full calendar months from `start` to `day` (a month is complete on the same day of the
/// month; from 01-31 a month is complete on the last day of a shorter month).
pub fn whole_months_between(start: NaiveDate, day: NaiveDate) -> u32 {
    if day <= start {
        return 0;
    }
    let mut months = (day.year() - start.year()) * 12 + day.month() as i32 - start.month() as i32;
    let last_of_month = day
        .with_day(1)
        .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day());
    let anniversary = start.day().min(last_of_month);
    if day.day() < anniversary {
        months -= 1;
    }
    u32::try_from(months).unwrap_or(0)
}

/// The cover of an enrollment made on `enrolled_on`: from the next day or the coverage
/// start, whichever is later, to the coverage end. None when that leaves nothing.
pub fn effective_window(
    enrolled_on: NaiveDate,
    windows: &Windows,
) -> Option<(NaiveDate, NaiveDate)> {
    let next_day = enrolled_on.checked_add_days(Days::new(1))?;
    let from = next_day.max(windows.coverage_starts_on);
    (from <= windows.coverage_ends_on).then_some((from, windows.coverage_ends_on))
}

/// The first day an incident of a benefit's waiting period is covered.
pub fn waiting_ends_on(effective_from: NaiveDate, waiting_days: u32) -> NaiveDate {
    effective_from
        .checked_add_days(Days::new(u64::from(waiting_days)))
        .unwrap_or(NaiveDate::MAX)
}

/// For each incident type, the first day every benefit item covers it.
pub fn plan_waiting_ends_on(
    effective_from: NaiveDate,
    benefits: &[Benefit],
    incident: IncidentType,
) -> NaiveDate {
    let days = benefits
        .iter()
        .map(|b| b.waiting_days(incident))
        .max()
        .unwrap_or(0);
    waiting_ends_on(effective_from, days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn windows() -> Windows {
        Windows {
            enrollment_opens_on: d(2026, 1, 1),
            enrollment_closes_on: d(2026, 11, 30),
            coverage_starts_on: d(2026, 1, 1),
            coverage_ends_on: d(2026, 12, 31),
        }
    }

    fn member() -> MemberFacts {
        MemberFacts {
            active: true,
            occupation: Some(Occupation::DeliveryRider),
            region: RegionCode::parse("510104").ok(),
            birth_date: Some(d(1990, 3, 15)),
            platform_started_on: Some(d(2025, 1, 10)),
            joined_on: Some(d(2026, 1, 5)),
        }
    }

    fn strict() -> Eligibility {
        Eligibility {
            occupations: vec![Occupation::DeliveryRider, Occupation::Courier],
            region_codes: vec![RegionCode::parse("510000").unwrap()],
            min_age: Some(18),
            max_age: Some(60),
            min_platform_tenure_months: Some(3),
            min_membership_days: Some(7),
        }
    }

    fn codes(u: &[Unmet]) -> Vec<&'static str> {
        u.iter().map(|u| u.code).collect()
    }

    #[test]
    fn a_fitting_member_meets_every_rule() {
        assert!(unmet_rules(&strict(), &member(), d(2026, 6, 1)).is_empty());
        assert!(unmet_rules(&Eligibility::default(), &member(), d(2026, 6, 1)).is_empty());
    }

    #[test]
    fn every_unmet_rule_is_told_not_only_the_first() {
        let who = MemberFacts {
            active: true,
            occupation: Some(Occupation::RideHailingDriver),
            region: RegionCode::parse("440305").ok(),
            birth_date: Some(d(2010, 1, 1)),
            platform_started_on: Some(d(2026, 5, 1)),
            joined_on: Some(d(2026, 5, 30)),
        };
        let got = unmet_rules(&strict(), &who, d(2026, 6, 1));
        assert_eq!(
            codes(&got),
            [
                "occupation_not_covered",
                "region_not_covered",
                "age_below_minimum",
                "tenure_too_short",
                "membership_too_recent"
            ]
        );
        assert!(got[0].detail.contains("外卖骑手"));
        assert!(got[1].detail.contains("四川省"), "{}", got[1].detail);
        let old = MemberFacts {
            birth_date: Some(d(1950, 1, 1)),
            platform_started_on: None,
            active: false,
            ..member()
        };
        assert_eq!(
            codes(&unmet_rules(&strict(), &old, d(2026, 6, 1))),
            ["membership_inactive", "age_above_maximum", "tenure_unknown"]
        );
    }

    #[test]
    fn ages_and_tenure_turn_on_the_day() {
        let rules = Eligibility {
            min_age: Some(18),
            min_platform_tenure_months: Some(3),
            ..Default::default()
        };
        let who = MemberFacts {
            birth_date: Some(d(2008, 6, 2)),
            platform_started_on: Some(d(2026, 3, 2)),
            ..member()
        };
        assert_eq!(
            codes(&unmet_rules(&rules, &who, d(2026, 6, 1))),
            ["age_below_minimum", "tenure_too_short"]
        );
        assert!(unmet_rules(&rules, &who, d(2026, 6, 2)).is_empty());
        assert_eq!(whole_months_between(d(2026, 1, 31), d(2026, 2, 27)), 0);
        assert_eq!(whole_months_between(d(2026, 1, 31), d(2026, 2, 28)), 1);
        assert_eq!(whole_months_between(d(2025, 12, 15), d(2026, 3, 14)), 2);
        assert_eq!(whole_months_between(d(2025, 12, 15), d(2026, 3, 15)), 3);
        assert_eq!(whole_months_between(d(2026, 3, 15), d(2026, 3, 1)), 0);
    }

    #[test]
    fn the_window_edges() {
        let w = windows();
        // Enrolling on the last day of the window covers from the next day.
        assert_eq!(
            effective_window(d(2026, 11, 30), &w),
            Some((d(2026, 12, 1), d(2026, 12, 31)))
        );
        // Before the coverage starts, cover starts with it.
        let early = Windows {
            enrollment_opens_on: d(2025, 12, 1),
            ..w
        };
        assert_eq!(
            effective_window(d(2025, 12, 10), &early),
            Some((d(2026, 1, 1), d(2026, 12, 31)))
        );
        // On the coverage's last day nothing would be left.
        assert_eq!(effective_window(d(2026, 12, 31), &w), None);
        assert_eq!(
            codes(&enrollment_blockers(
                PlanStatus::Published,
                &w,
                d(2025, 12, 31)
            )),
            ["enrollment_not_yet_open"]
        );
        assert!(enrollment_blockers(PlanStatus::Published, &w, d(2026, 1, 1)).is_empty());
        assert!(enrollment_blockers(PlanStatus::Published, &w, d(2026, 11, 30)).is_empty());
        assert_eq!(
            codes(&enrollment_blockers(
                PlanStatus::Published,
                &w,
                d(2026, 12, 1)
            )),
            ["enrollment_closed"]
        );
        assert_eq!(
            codes(&enrollment_blockers(PlanStatus::Closed, &w, d(2026, 6, 1))),
            ["plan_not_open"]
        );
    }

    #[test]
    fn waiting_periods_per_incident_type() {
        let b = |illness, accident| Benefit {
            code: "x".into(),
            name: "x".into(),
            payout: Payout::LumpSum { amount_fen: 1 },
            illness_waiting_days: illness,
            accident_waiting_days: accident,
            documents: vec![],
        };
        let items = [b(30, 0), b(90, 0)];
        let from = d(2026, 6, 2);
        assert_eq!(
            plan_waiting_ends_on(from, &items, IncidentType::Illness),
            d(2026, 8, 31)
        );
        assert_eq!(
            plan_waiting_ends_on(from, &items, IncidentType::Accident),
            from
        );
        assert_eq!(
            Payout::DailyAllowance {
                per_day_fen: 20_000,
                max_days: 30
            }
            .yearly_limit_fen(),
            600_000
        );
    }

    #[test]
    fn codes_and_vocabularies() {
        assert!(valid_plan_code("e-road-2026"));
        assert!(!valid_plan_code("E-road"));
        assert!(!valid_plan_code("-x"));
        assert!(valid_benefit_code("hospital_daily"));
        assert!(!valid_benefit_code("1x"));
        for s in PlanStatus::ALL {
            assert_eq!(PlanStatus::parse(s.as_str()), Some(s));
        }
        for k in DocumentKind::ALL {
            assert_eq!(DocumentKind::parse(k.as_str()), Some(k));
        }
    }
}
