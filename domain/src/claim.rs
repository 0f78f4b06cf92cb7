//! Benefit claims (理赔): the states a claim moves through, and the rules its submission
//! runs — coverage on the incident date, the waiting period, the documents the benefit item
//! needs, what is left this coverage period, no second claim for one hospital stay or one
//! invoice — with the amount it pays.
//!
//! Everything here is pure. Every failed rule is reported (not the first), each with a
//! stable code and a zh-CN sentence a rider understands. Money is fen (the API speaks
//! decimal yuan; `money` converts at the edge).
//!
//! The services layer (`gongyou_services::claims`, ADR 018) loads what these rules need and
//! stores what they decide.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::plan::{waiting_ends_on, Benefit, DocumentKind, IncidentType, Payout};

/// Where a claim is. `draft → submitted → under_review → (returned → resubmitted, i.e.
/// submitted again →) approved | awaiting_confirmation → approved | rejected`; `approved`
/// is payable, then `paid | payout_failed`; `withdrawn` by the claimant before a decision
/// (up to and including review).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    Draft,
    Submitted,
    UnderReview,
    /// Back with the claimant for more documents or corrections.
    Returned,
    /// Approved above the confirm threshold: a finance approver who is not the approver
    /// must confirm.
    AwaitingConfirmation,
    /// Decided and payable.
    Approved,
    Rejected,
    Withdrawn,
    Paid,
    PayoutFailed,
}

impl ClaimStatus {
    pub const ALL: [ClaimStatus; 10] = [
        Self::Draft,
        Self::Submitted,
        Self::UnderReview,
        Self::Returned,
        Self::AwaitingConfirmation,
        Self::Approved,
        Self::Rejected,
        Self::Withdrawn,
        Self::Paid,
        Self::PayoutFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::UnderReview => "under_review",
            Self::Returned => "returned",
            Self::AwaitingConfirmation => "awaiting_confirmation",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
            Self::Paid => "paid",
            Self::PayoutFailed => "payout_failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Claims in these states count against the coverage period's limits: a second claim
    /// cannot spend what one in review may still be paid.
    pub fn counts_against_limits(self) -> bool {
        matches!(
            self,
            Self::Submitted
                | Self::UnderReview
                | Self::Returned
                | Self::AwaitingConfirmation
                | Self::Approved
                | Self::Paid
                | Self::PayoutFailed
        )
    }
}

/// What someone does to a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The claimant submits a draft.
    Submit,
    /// The claimant resubmits a returned claim (with what was asked for).
    Resubmit,
    /// A reviewer takes a submitted claim, or another reviewer takes it over.
    Assign,
    /// The reviewer sends it back for more.
    Return,
    /// The reviewer approves; `needs_confirmation` when the amount is above the threshold.
    Approve {
        needs_confirmation: bool,
    },
    /// A finance approver (not the approver) confirms a large approval.
    Confirm,
    Reject,
    /// The claimant withdraws it before a decision.
    Withdraw,
    /// The payout settled, or failed for good.
    Paid,
    PayoutFailed,
}

/// A transition that is not allowed from the claim's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IllegalTransition {
    pub from: ClaimStatus,
    pub action: Action,
}

/// The state after `action`, or why it cannot happen.
pub fn transition(from: ClaimStatus, action: Action) -> Result<ClaimStatus, IllegalTransition> {
    use ClaimStatus as S;
    let to = match (from, action) {
        (S::Draft, Action::Submit) => S::Submitted,
        (S::Returned, Action::Resubmit) => S::Submitted,
        (S::Submitted | S::UnderReview, Action::Assign) => S::UnderReview,
        (S::UnderReview, Action::Return) => S::Returned,
        (
            S::UnderReview,
            Action::Approve {
                needs_confirmation: true,
            },
        ) => S::AwaitingConfirmation,
        (
            S::UnderReview,
            Action::Approve {
                needs_confirmation: false,
            },
        ) => S::Approved,
        (S::AwaitingConfirmation, Action::Confirm) => S::Approved,
        (S::UnderReview | S::AwaitingConfirmation, Action::Reject) => S::Rejected,
        (S::Draft | S::Submitted | S::UnderReview | S::Returned, Action::Withdraw) => S::Withdrawn,
        (S::Approved | S::PayoutFailed, Action::Paid) => S::Paid,
        (S::Approved, Action::PayoutFailed) => S::PayoutFailed,
        _ => return Err(IllegalTransition { from, action }),
    };
    Ok(to)
}

/// The incident and what the claimant asks for, as filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub kind: IncidentType,
    pub occurred_on: NaiveDate,
    /// The hospital stay, when there was one (required for a daily allowance).
    pub admitted_on: Option<NaiveDate>,
    pub discharged_on: Option<NaiveDate>,
    /// The cost claimed (reimbursements), fen.
    pub claimed_cost_fen: Option<i64>,
    /// The invoices' numbers (reimbursements).
    pub invoice_numbers: Vec<String>,
}

/// The cover the claim is made on: the enrollment's window and the benefit item of its
/// plan version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover {
    pub effective_from: NaiveDate,
    pub effective_to: NaiveDate,
    pub benefit: Benefit,
}

/// What the member's other claims on the same enrollment and benefit item already hold in
/// this coverage period (those that [`ClaimStatus::counts_against_limits`]), and what
/// the member's other claims have used that cannot be claimed twice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Used {
    /// Days of daily allowance.
    pub days: u32,
    /// Amount, fen.
    pub amount_fen: i64,
    /// A lump sum claimed.
    pub lump_sum: bool,
    /// Hospital stays of the member's other claims on the same benefit item (admitted,
    /// discharged): one stay pays an item once, while different items (a daily allowance
    /// and a reimbursement) may each pay for the same stay.
    pub stays: Vec<(NaiveDate, NaiveDate)>,
    /// Invoice numbers of the member's other claims (any item), as
    /// [`normalize_invoice_number`] writes them.
    pub invoice_numbers: HashSet<String>,
}

/// A rule the claim fails, with a stable code and a zh-CN sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub code: &'static str,
    pub detail: String,
    /// What it is about, when a code can repeat: the document kind (`document_missing`)
    /// or the invoice number (`invoice_claimed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// The outcome of the rules: every failure, and what the claim would pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub failures: Vec<Failure>,
    /// Days paid (daily allowance): the stay's days capped at the days left.
    pub days: Option<u32>,
    /// What the claim pays, fen: within every cap; 0 when nothing is left.
    pub amount_fen: i64,
}

/// Days in hospital: discharge day minus admission day, and a stay discharged the day it
/// began counts as one day.
pub fn stay_days(admitted_on: NaiveDate, discharged_on: NaiveDate) -> u32 {
    let nights = (discharged_on - admitted_on).num_days();
    u32::try_from(nights.max(1)).unwrap_or(u32::MAX)
}

/// Whether two hospital stays share a night. A stay holds the nights from its admission
/// to the night before its discharge (a same-day stay, its one day): a transfer discharged
/// from one hospital and admitted to another on the same day is two stays, not one twice.
pub fn stays_overlap(a: (NaiveDate, NaiveDate), b: (NaiveDate, NaiveDate)) -> bool {
    let nights = |(admitted, discharged): (NaiveDate, NaiveDate)| {
        let end = if discharged > admitted {
            discharged
        } else {
            admitted.succ_opt().unwrap_or(NaiveDate::MAX)
        };
        (admitted, end)
    };
    let ((a_from, a_end), (b_from, b_end)) = (nights(a), nights(b));
    a_from < b_end && b_from < a_end
}

/// Claims above this amount (10,000.00 yuan) need a second person's confirmation, unless
/// the nearest org's setting says otherwise.
pub const DEFAULT_CONFIRM_THRESHOLD_FEN: i64 = 1_000_000;

/// Whether an approval of `amount_fen` needs a finance approver's confirmation: strictly
/// above the threshold (exactly the threshold does not).
pub fn needs_confirmation(amount_fen: i64, threshold_fen: i64) -> bool {
    amount_fen > threshold_fen
}

/// The two-person rule: whoever approved a claim cannot also confirm it.
pub fn may_confirm(approved_by: &str, confirmer: &str) -> bool {
    approved_by != confirmer
}

fn yuan(fen: i64) -> String {
    crate::money::from_fen(fen).to_string()
}

fn fail(code: &'static str, detail: impl Into<String>) -> Failure {
    Failure {
        code,
        detail: detail.into(),
        subject: None,
    }
}

fn fail_about(code: &'static str, detail: impl Into<String>, subject: String) -> Failure {
    Failure {
        subject: Some(subject),
        ..fail(code, detail)
    }
}

/// Runs every submission rule on a claim on `cover` with `documents` attached, given what
/// `used` holds already and `today` (Asia/Shanghai), and computes the amount.
pub fn assess(
    incident: &Incident,
    documents: &[DocumentKind],
    cover: &Cover,
    used: &Used,
    today: NaiveDate,
) -> Assessment {
    let mut failures = Vec::new();
    let benefit = &cover.benefit;

    // When.
    if incident.occurred_on > today {
        failures.push(fail("incident_in_future", "出险日期不能晚于今天"));
    }
    if incident.occurred_on < cover.effective_from || incident.occurred_on > cover.effective_to {
        failures.push(fail(
            "not_covered_on_incident_date",
            format!(
                "出险日期 {} 不在保障期（{} 至 {}）内",
                incident.occurred_on, cover.effective_from, cover.effective_to
            ),
        ));
    } else {
        let waiting = benefit.waiting_days(incident.kind);
        let ends = waiting_ends_on(cover.effective_from, waiting);
        if incident.occurred_on < ends {
            let kind = match incident.kind {
                IncidentType::Illness => "疾病",
                IncidentType::Accident => "意外",
            };
            failures.push(fail(
                "waiting_period",
                format!("{kind}出险的等待期为 {waiting} 天，{ends} 起发生的{kind}才在保障范围内"),
            ));
        }
    }

    // The stay.
    let stay = match (incident.admitted_on, incident.discharged_on) {
        (Some(admitted), Some(discharged)) => {
            let mut ok = true;
            if discharged < admitted {
                ok = false;
                failures.push(fail("stay_invalid", "出院日期早于入院日期"));
            }
            if admitted < incident.occurred_on {
                ok = false;
                failures.push(fail("stay_before_incident", "入院日期早于出险日期"));
            }
            if discharged > today {
                ok = false;
                failures.push(fail("stay_not_over", "出院日期还没到：请出院后再提交"));
            }
            if ok {
                if let Some((from, to)) = used
                    .stays
                    .iter()
                    .find(|(from, to)| stays_overlap((admitted, discharged), (*from, *to)))
                {
                    failures.push(fail(
                        "stay_overlaps",
                        format!(
                            "这次住院与已申请这项保障的住院（{from} 至 {to}）重叠，同一次住院的这项保障只能申请一次"
                        ),
                    ));
                }
            }
            ok.then_some((admitted, discharged))
        }
        (None, None) => None,
        _ => {
            failures.push(fail("stay_incomplete", "请同时填写入院日期和出院日期"));
            None
        }
    };

    // The documents, each missing one named.
    for needed in &benefit.documents {
        if !documents.contains(needed) {
            failures.push(fail_about(
                "document_missing",
                format!("缺少{}", document_name(*needed)),
                needed.as_str().to_owned(),
            ));
        }
    }

    // What it pays, within what is left.
    let (days, amount_fen) = match benefit.payout {
        Payout::DailyAllowance {
            per_day_fen,
            max_days,
        } => {
            let left = max_days.saturating_sub(used.days);
            if left == 0 {
                failures.push(fail(
                    "days_exhausted",
                    format!("本保障期的住院津贴已用满 {max_days} 天"),
                ));
            }
            match stay {
                Some((admitted, discharged)) => {
                    let days = stay_days(admitted, discharged).min(left);
                    (Some(days), per_day_fen.saturating_mul(i64::from(days)))
                }
                None => {
                    if incident.admitted_on.is_none() && incident.discharged_on.is_none() {
                        failures.push(fail("stay_missing", "住院津贴需要填写入院和出院日期"));
                    }
                    (Some(0), 0)
                }
            }
        }
        Payout::LumpSum { amount_fen } => {
            if used.lump_sum {
                failures.push(fail(
                    "lump_sum_claimed",
                    "这项一次性保障金本保障期已经申请过",
                ));
                (None, 0)
            } else {
                (None, amount_fen)
            }
        }
        Payout::Reimbursement {
            percent_bp,
            per_claim_cap_fen,
            yearly_cap_fen,
        } => {
            let left = yearly_cap_fen.saturating_sub(used.amount_fen).max(0);
            if left == 0 {
                failures.push(fail(
                    "yearly_cap_reached",
                    format!("本保障期的报销额度 {} 元已用完", yuan(yearly_cap_fen)),
                ));
            }
            let numbers: Vec<String> = incident
                .invoice_numbers
                .iter()
                .map(|n| normalize_invoice_number(n))
                .filter(|n| !n.is_empty())
                .collect();
            let mut seen = HashSet::new();
            for number in &numbers {
                if used.invoice_numbers.contains(number) || !seen.insert(number.as_str()) {
                    failures.push(fail_about(
                        "invoice_claimed",
                        format!("发票 {number} 已经申请过，同一张发票只能报销一次"),
                        number.clone(),
                    ));
                }
            }
            if numbers.is_empty() {
                failures.push(fail("invoice_numbers_missing", "请填写发票号码"));
            }
            match incident.claimed_cost_fen {
                Some(cost) if cost > 0 => (
                    None,
                    reimbursement_fen(cost, percent_bp)
                        .min(per_claim_cap_fen)
                        .min(left),
                ),
                _ => {
                    failures.push(fail("cost_missing", "请填写医疗费用金额"));
                    (None, 0)
                }
            }
        }
    };

    Assessment {
        failures,
        days,
        amount_fen: amount_fen.max(0),
    }
}

/// Where a claim's money goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payee {
    /// The WeChat balance of the member's own WeChat account (a merchant transfer).
    WechatBalance,
    /// A bank account, paid by the union's bank file.
    Bank {
        holder: String,
        bank: String,
        /// Digits only ([`parse_bank_account`]).
        account: String,
    },
}

/// A bank account number as written by a person: spaces and hyphens dropped, then 10 to 30
/// digits (personal cards have 16–19, company accounts up to about 25).
pub fn parse_bank_account(raw: &str) -> Result<String, Failure> {
    let digits: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if (10..=30).contains(&digits.chars().count()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(fail("bank_account_invalid", "银行账号应为 10 到 30 位数字"))
    }
}

/// A bank account as responses show it: the first four and last four digits (the last four
/// only, under 12 digits).
pub fn mask_bank_account(account: &str) -> String {
    let n = account.chars().count();
    let tail: String = account.chars().skip(n.saturating_sub(4)).collect();
    if n < 12 {
        // Short (company) accounts: the last four only, or nothing of very short ones.
        return if n <= 8 {
            "*".repeat(n)
        } else {
            format!("{}{tail}", "*".repeat(n - 4))
        };
    }
    let head: String = account.chars().take(4).collect();
    format!("{head}{}{tail}", "*".repeat(n - 8))
}

/// What a claim still lacks besides the rules of [`assess`]: a payee.
pub fn payee_failures(payee: Option<&Payee>) -> Vec<Failure> {
    match payee {
        None => vec![fail("payee_missing", "请选择收款方式：微信零钱或银行卡")],
        Some(Payee::Bank { holder, bank, .. }) => {
            let mut out = Vec::new();
            if holder.trim().is_empty() {
                out.push(fail("payee_holder_missing", "请填写银行账户的户名"));
            }
            if bank.trim().is_empty() {
                out.push(fail("payee_bank_missing", "请填写开户银行"));
            }
            out
        }
        Some(Payee::WechatBalance) => Vec::new(),
    }
}

/// Another claim of the member, as far as the limits and duplicates care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorClaim {
    pub id: String,
    pub status: ClaimStatus,
    pub enrollment_id: String,
    pub benefit_code: String,
    /// Days of daily allowance it pays (or would pay).
    pub days: u32,
    /// Amount it pays (or would pay), fen.
    pub amount_fen: i64,
    pub lump_sum: bool,
    pub stay: Option<(NaiveDate, NaiveDate)>,
    pub invoice_numbers: Vec<String>,
}

/// What the member's other claims hold against a claim on `benefit_code` of
/// `enrollment_id` (one enrollment is one coverage period): days, amount and a lump sum of
/// the same item and enrollment, its stays, and the invoice numbers of every claim — each
/// only from claims that [`ClaimStatus::counts_against_limits`], never from the claim being
/// assessed (`claim_id`: a returned claim resubmitted is not its own duplicate).
pub fn used_by(
    prior: &[PriorClaim],
    claim_id: &str,
    enrollment_id: &str,
    benefit_code: &str,
) -> Used {
    let mut used = Used::default();
    for c in prior
        .iter()
        .filter(|c| c.id != claim_id && c.status.counts_against_limits())
    {
        used.invoice_numbers.extend(
            c.invoice_numbers
                .iter()
                .map(|n| normalize_invoice_number(n))
                .filter(|n| !n.is_empty()),
        );
        if c.enrollment_id != enrollment_id || c.benefit_code != benefit_code {
            continue;
        }
        used.days = used.days.saturating_add(c.days);
        used.amount_fen = used.amount_fen.saturating_add(c.amount_fen);
        used.lump_sum |= c.lump_sum;
        used.stays.extend(c.stay);
    }
    used
}

/// An invoice number as it is compared and stored: full-width letters and digits made
/// ASCII, spaces and separators dropped, letters upper-case — so `"１２３ 45"` and
/// `"12345"` are one invoice.
pub fn normalize_invoice_number(raw: &str) -> String {
    raw.chars()
        .map(|c| match c {
            // Full-width ASCII (U+FF01..U+FF5E) to ASCII.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// `percent_bp` (basis points) of `cost_fen`, rounded down to the fen: a claim never pays
/// a fraction of a fen more than its share.
pub fn reimbursement_fen(cost_fen: i64, percent_bp: u32) -> i64 {
    let share = i128::from(cost_fen.max(0)) * i128::from(percent_bp) / 10_000;
    i64::try_from(share).unwrap_or(i64::MAX)
}

/// The zh-CN name of a document, as the app shows it.
pub fn document_name(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::IdFront => "身份证人像面",
        DocumentKind::IdBack => "身份证国徽面",
        DocumentKind::MedicalRecordFrontPage => "病案首页",
        DocumentKind::DischargeSummary => "出院小结",
        DocumentKind::Invoice => "医疗费用发票",
        DocumentKind::AccidentProof => "意外事故证明",
        DocumentKind::Other => "其他材料",
    }
}

#[cfg(test)]
mod tests;
