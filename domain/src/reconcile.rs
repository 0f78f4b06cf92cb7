//! Reconciliation (对账), the pure part: matching one day's statement lines against what we
//! believe we paid, line by line, into the outcomes finance resolves (issue 15).
//!
//! Status: the foundation of issue 15. Downloading bills, runs, storage, the API and the
//! bank statement's layout build on it and are not written yet.
//!
//! A [`Matcher`] holds our attempts of the day (and the open ones old enough to be missed),
//! takes statement entries one at a time — a statement never has to be in memory whole — and
//! says for each what it is; [`Matcher::finish`] adds what the statement lacks and the
//! totals of both sides. Rules:
//! - an entry is ours when its provider number (WeChat's transfer bill number) or its
//!   reference (our `out_bill_no`, where the statement carries it) names one of our attempts;
//! - money out for an attempt we hold paid, of the same amount: **matched**; of another
//!   amount: **amount mismatch**; for an attempt we hold failed or still open: **status
//!   mismatch**; money back (in) for an attempt we hold paid: **status mismatch**;
//! - a second entry out for an attempt already seen, or money out for a second attempt of a
//!   payout already paid by another: **duplicate**;
//! - money out naming nothing of ours: **unexpected**;
//! - an attempt we hold paid on the statement's day, or still open for `open_days` or more,
//!   that no entry named: **missing from statement**. An attempt simply not final yet is not
//!   missing.
//!
//! Money is fen; days are Asia/Shanghai calendar days.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Which way money moved on the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Money left the account (a transfer paid).
    Out,
    /// Money came back (a transfer returned or refunded).
    In,
}

/// One statement line, as the matcher needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The statement's line (1-based), for finance to find it.
    pub line: usize,
    /// The provider's number of the transfer (WeChat Pay: 微信支付业务单号 = transfer_bill_no;
    /// a bank: its own reference), if any.
    pub provider_no: Option<String>,
    /// Our `out_bill_no`, where the statement carries it (WeChat's 业务凭证号, a bank's
    /// remark/reference column).
    pub reference: Option<String>,
    pub direction: Direction,
    pub amount_fen: i64,
}

/// What we believe of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Held {
    Paid,
    Failed,
    /// Not final yet (sent, waiting for the rider, exported to the bank).
    Open,
}

/// One of our attempts, as the matcher needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub out_bill_no: String,
    pub provider_no: Option<String>,
    pub payout_id: String,
    pub amount_fen: i64,
    pub held: Held,
    /// The day the provider reported it final (paid or failed), when it is.
    pub final_on: Option<NaiveDate>,
    /// The day it was sent.
    pub sent_on: NaiveDate,
}

/// What a line (or an attempt without a line) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Matched,
    AmountMismatch,
    StatusMismatch,
    MissingFromStatement,
    UnexpectedInStatement,
    Duplicate,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Matched,
        Outcome::AmountMismatch,
        Outcome::StatusMismatch,
        Outcome::MissingFromStatement,
        Outcome::UnexpectedInStatement,
        Outcome::Duplicate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Matched => "matched",
            Outcome::AmountMismatch => "amount_mismatch",
            Outcome::StatusMismatch => "status_mismatch",
            Outcome::MissingFromStatement => "missing_from_statement",
            Outcome::UnexpectedInStatement => "unexpected_in_statement",
            Outcome::Duplicate => "duplicate",
        }
    }

    /// Whether finance must look at it.
    pub fn is_exception(self) -> bool {
        self != Outcome::Matched
    }
}

/// One result of matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub outcome: Outcome,
    /// The statement's line, when there is one.
    pub line: Option<usize>,
    /// Our attempt, when there is one.
    pub out_bill_no: Option<String>,
    pub payout_id: Option<String>,
    /// What the statement says (fen), when there is a line.
    pub statement_fen: Option<i64>,
    /// What we hold (fen), when there is an attempt.
    pub our_fen: Option<i64>,
    /// What we hold of the attempt, when there is one.
    pub held: Option<Held>,
    pub direction: Option<Direction>,
}

/// Both sides' totals of money out for the day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub statement_out_count: u64,
    pub statement_out_fen: i64,
    pub statement_in_count: u64,
    pub statement_in_fen: i64,
    /// Our attempts paid on the day.
    pub our_paid_count: u64,
    pub our_paid_fen: i64,
}

impl Totals {
    /// Whether money out agrees on both sides, in count and in amount.
    pub fn agree(&self) -> bool {
        self.statement_out_count == self.our_paid_count
            && self.statement_out_fen == self.our_paid_fen
    }
}

/// Matches one day's statement against our attempts.
#[derive(Debug)]
pub struct Matcher {
    day: NaiveDate,
    open_days: u32,
    attempts: Vec<Attempt>,
    by_reference: HashMap<String, usize>,
    by_provider: HashMap<String, usize>,
    /// Attempts named by an entry out (index → seen).
    seen: Vec<bool>,
    /// Payouts with an attempt already matched as paid out by an entry.
    paid_payouts: HashSet<String>,
    totals: Totals,
}

impl Matcher {
    /// `attempts`: ours that may appear on `day`'s statement (those final on the day, those
    /// still open, and any whose provider number the statement may name); an attempt open
    /// for `open_days` days or more is missing when no entry names it.
    pub fn new(day: NaiveDate, attempts: Vec<Attempt>, open_days: u32) -> Self {
        let mut by_reference = HashMap::with_capacity(attempts.len());
        let mut by_provider = HashMap::with_capacity(attempts.len());
        for (i, a) in attempts.iter().enumerate() {
            by_reference.insert(a.out_bill_no.clone(), i);
            if let Some(p) = &a.provider_no {
                by_provider.insert(p.clone(), i);
            }
        }
        let totals = Totals {
            our_paid_count: attempts
                .iter()
                .filter(|a| a.held == Held::Paid && a.final_on == Some(day))
                .count() as u64,
            our_paid_fen: attempts
                .iter()
                .filter(|a| a.held == Held::Paid && a.final_on == Some(day))
                .map(|a| a.amount_fen)
                .sum(),
            ..Totals::default()
        };
        Self {
            day,
            open_days,
            seen: vec![false; attempts.len()],
            attempts,
            by_reference,
            by_provider,
            paid_payouts: HashSet::new(),
            totals,
        }
    }

    fn find(&self, e: &Entry) -> Option<usize> {
        e.provider_no
            .as_ref()
            .and_then(|p| self.by_provider.get(p))
            .or_else(|| e.reference.as_ref().and_then(|r| self.by_reference.get(r)))
            .copied()
    }

    /// What one statement entry is.
    pub fn push(&mut self, e: &Entry) -> Item {
        match e.direction {
            Direction::Out => {
                self.totals.statement_out_count += 1;
                self.totals.statement_out_fen += e.amount_fen;
            }
            Direction::In => {
                self.totals.statement_in_count += 1;
                self.totals.statement_in_fen += e.amount_fen;
            }
        }
        // Money that names nothing of ours, out or back in (the caller passes the statement's
        // transfer lines only, not top-ups of the account).
        let Some(i) = self.find(e) else {
            return item(Outcome::UnexpectedInStatement, Some(e), None);
        };
        let a = &self.attempts[i];
        let outcome = match e.direction {
            Direction::Out => {
                if self.seen[i] || self.paid_payouts.contains(&a.payout_id) {
                    Outcome::Duplicate
                } else if a.held != Held::Paid {
                    Outcome::StatusMismatch
                } else if a.amount_fen != e.amount_fen {
                    Outcome::AmountMismatch
                } else {
                    Outcome::Matched
                }
            }
            // Money back for an attempt we hold paid: it was not paid after all.
            Direction::In if a.held == Held::Paid => Outcome::StatusMismatch,
            // Money back for one we hold failed: the provider returned it, as it should.
            Direction::In => Outcome::Matched,
        };
        if e.direction == Direction::Out {
            self.seen[i] = true;
            self.paid_payouts.insert(a.payout_id.clone());
        }
        item(outcome, Some(e), Some(a))
    }

    /// What no entry named (attempts paid on the day, or open for `open_days` or more), and
    /// both sides' totals.
    pub fn finish(self) -> (Vec<Item>, Totals) {
        let mut missing = Vec::new();
        for (a, seen) in self.attempts.iter().zip(&self.seen) {
            if *seen {
                continue;
            }
            let due = match a.held {
                Held::Paid => a.final_on == Some(self.day),
                Held::Open => (self.day - a.sent_on).num_days() >= i64::from(self.open_days),
                Held::Failed => false,
            };
            if due {
                missing.push(item(Outcome::MissingFromStatement, None, Some(a)));
            }
        }
        (missing, self.totals)
    }
}

fn item(outcome: Outcome, e: Option<&Entry>, a: Option<&Attempt>) -> Item {
    Item {
        outcome,
        line: e.map(|e| e.line),
        out_bill_no: a.map(|a| a.out_bill_no.clone()),
        payout_id: a.map(|a| a.payout_id.clone()),
        statement_fen: e.map(|e| e.amount_fen),
        our_fen: a.map(|a| a.amount_fen),
        held: a.map(|a| a.held),
        direction: e.map(|e| e.direction),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap_or_default()
    }

    fn attempt(no: &str, payout: &str, fen: i64, held: Held, final_on: Option<u32>) -> Attempt {
        Attempt {
            out_bill_no: no.into(),
            provider_no: Some(format!("w-{no}")),
            payout_id: payout.into(),
            amount_fen: fen,
            held,
            final_on: final_on.map(day),
            sent_on: day(4),
        }
    }

    fn out(line: usize, provider: &str, fen: i64) -> Entry {
        Entry {
            line,
            provider_no: Some(provider.into()),
            reference: None,
            direction: Direction::Out,
            amount_fen: fen,
        }
    }

    #[test]
    fn every_kind_of_line_gets_its_outcome() {
        let ours = vec![
            attempt("a", "p1", 100_000, Held::Paid, Some(5)),
            attempt("b", "p2", 20_000, Held::Paid, Some(5)),
            attempt("c", "p3", 30_000, Held::Failed, Some(5)),
            attempt("d", "p4", 40_000, Held::Paid, Some(5)),
            attempt("e", "p5", 50_000, Held::Paid, Some(5)),
            // p6 was retried: its second attempt paid, its first failed.
            attempt("f1", "p6", 60_000, Held::Failed, Some(4)),
            attempt("f2", "p6", 60_000, Held::Paid, Some(5)),
            // Open for two days: not missing yet with open_days = 3.
            attempt("g", "p7", 70_000, Held::Open, None),
            // Paid yesterday: not missing from today's statement.
            attempt("h", "p8", 80_000, Held::Paid, Some(4)),
        ];
        let mut m = Matcher::new(day(5), ours, 3);
        let by_ref = Entry {
            line: 6,
            provider_no: None,
            reference: Some("e".into()),
            direction: Direction::Out,
            amount_fen: 50_000,
        };
        let outcomes: Vec<Outcome> = [
            out(2, "w-a", 100_000),
            out(3, "w-b", 19_999),
            out(4, "w-c", 30_000),
            out(5, "w-zzz", 12_345),
            by_ref,
            out(7, "w-a", 100_000),
            out(8, "w-f2", 60_000),
            out(9, "w-f1", 60_000),
        ]
        .iter()
        .map(|e| m.push(e).outcome)
        .collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Matched,
                Outcome::AmountMismatch,
                Outcome::StatusMismatch,
                Outcome::UnexpectedInStatement,
                Outcome::Matched,
                Outcome::Duplicate,
                Outcome::Matched,
                Outcome::Duplicate,
            ]
        );
        let (missing, totals) = m.finish();
        let missing: Vec<&str> = missing
            .iter()
            .map(|i| i.out_bill_no.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(missing, ["d"]);
        assert_eq!(totals.statement_out_count, 8);
        assert_eq!(
            totals.statement_out_fen,
            100_000 + 19_999 + 30_000 + 12_345 + 50_000 + 100_000 + 60_000 + 60_000
        );
        // Paid on the 5th: a, b, d, e, f2.
        assert_eq!(totals.our_paid_count, 5);
        assert_eq!(
            totals.our_paid_fen,
            100_000 + 20_000 + 40_000 + 50_000 + 60_000
        );
        assert!(!totals.agree());
    }

    #[test]
    fn an_attempt_open_too_long_is_missing_and_money_back_is_judged_by_what_we_hold() {
        let ours = vec![
            attempt("g", "p7", 70_000, Held::Open, None),
            attempt("k", "p9", 10_000, Held::Paid, Some(3)),
            attempt("m", "p10", 10_000, Held::Failed, Some(5)),
        ];
        let mut m = Matcher::new(day(8), ours, 3);
        let back = |no: &str| Entry {
            line: 2,
            provider_no: Some(format!("w-{no}")),
            reference: None,
            direction: Direction::In,
            amount_fen: 10_000,
        };
        assert_eq!(m.push(&back("k")).outcome, Outcome::StatusMismatch);
        assert_eq!(m.push(&back("m")).outcome, Outcome::Matched);
        let (missing, totals) = m.finish();
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].out_bill_no.as_deref(), Some("g"));
        assert_eq!(missing[0].held, Some(Held::Open));
        assert_eq!(totals.statement_in_count, 2);
        assert!(totals.agree(), "nothing out on either side");
    }

    #[test]
    fn a_clean_day_agrees() {
        let ours = vec![
            attempt("a", "p1", 100_000, Held::Paid, Some(5)),
            attempt("b", "p2", 20_000, Held::Paid, Some(5)),
        ];
        let mut m = Matcher::new(day(5), ours, 3);
        assert!(!m.push(&out(2, "w-a", 100_000)).outcome.is_exception());
        assert!(!m.push(&out(3, "w-b", 20_000)).outcome.is_exception());
        let (missing, totals) = m.finish();
        assert!(missing.is_empty());
        assert!(totals.agree());
    }
}
