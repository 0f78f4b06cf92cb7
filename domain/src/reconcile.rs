//! Reconciliation (对账), the pure part: matching one day's statement lines against what we
//! believe we paid, line by line, into the outcomes finance resolves (issue 15).
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
//!   payout already paid by another, or the same attempt's money back twice: **duplicate**;
//! - money out naming nothing of ours: **unexpected**;
//! - an attempt we hold paid on the statement's day, or still open for `open_days` or more,
//!   that no entry named: **missing from statement**. An attempt simply not final yet is not
//!   missing.
//!
//! Money is fen; days are Asia/Shanghai calendar days.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Which way money moved on the statement.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Money left the account (a transfer paid).
    Out,
    /// Money came back (a transfer returned or refunded).
    In,
}

/// One statement line, as the matcher needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The statement's line (1-based), for finance to find it.
    pub line: usize,
    /// The provider's number of the transfer (WeChat Pay: 微信支付业务单号 = transfer_bill_no;
    /// a bank: its own reference), if any.
    pub provider_no: Option<&'a str>,
    /// Our `out_bill_no`, where the statement carries it (WeChat's 业务凭证号, a bank's
    /// remark/reference column).
    pub reference: Option<&'a str>,
    pub direction: Direction,
    pub amount_fen: i64,
}

/// What we believe of an attempt.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Lines matched (out and back in), and the statement's sum of them.
    pub matched_count: u64,
    pub matched_fen: i64,
}

impl Totals {
    /// Whether money out agrees on both sides, in count and in amount.
    pub fn agree(&self) -> bool {
        self.statement_out_count == self.our_paid_count
            && self.statement_out_fen == self.our_paid_fen
    }
}

/// A 128-bit key of an identifier: the UUID itself when the text is a UUID written the way
/// we write ours (lower-case; as 32 hexadecimal digits when `simple`, else hyphenated), else
/// a hash of the text (kept beside, to give it back).
fn key_of(text: &str, simple: bool, fallback: &mut HashMap<u128, String>) -> u128 {
    if let Ok(u) = uuid::Uuid::try_parse(text) {
        // Only the form `text_of` gives back.
        let same = if simple {
            u.simple().to_string() == text
        } else {
            u.hyphenated().to_string() == text
        };
        if same {
            return u.as_u128();
        }
    }
    let k = hash128(text) | (1 << 127);
    fallback.entry(k).or_insert_with(|| text.to_owned());
    k
}

/// The text behind a key of [`key_of`]: `simple` says how a UUID was written.
fn text_of(key: u128, simple: bool, fallback: &HashMap<u128, String>) -> String {
    if let Some(t) = fallback.get(&key) {
        return t.clone();
    }
    let u = uuid::Uuid::from_u128(key);
    if simple {
        u.simple().to_string()
    } else {
        u.hyphenated().to_string()
    }
}

/// A 128-bit hash of a provider's number (two SipHash-1-3 halves with fixed keys: the same
/// on every run; a collision among a day's million numbers has odds of about 10⁻²⁶).
fn hash128(text: &str) -> u128 {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        salt.hash(&mut h);
        text.hash(&mut h);
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

/// Hashes a key that is already a hash (128 random bits): its first 8 bytes.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `[u64; 2]` hashes as its length, then its 16 bytes: the first half is the hash.
        for (i, b) in bytes.iter().take(8).enumerate() {
            self.0 ^= u64::from(*b) << (8 * i);
        }
    }

    fn write_usize(&mut self, _length: usize) {}
}

type BuildKeyHasher = std::hash::BuildHasherDefault<KeyHasher>;

/// One of our attempts, compact (a day may hold a million): 56 bytes.
#[derive(Debug, Clone, Copy)]
struct Slot {
    out_bill_no: [u64; 2],
    payout: [u64; 2],
    amount_fen: i64,
    /// Days since the epoch (Asia/Shanghai), `i32::MIN` when not final.
    final_on: i32,
    sent_on: i32,
    held: Held,
    seen: bool,
    /// Named by an entry in (money back) already.
    returned: bool,
    /// Whether another attempt has the same payout (only then is `paid_payouts` asked).
    shared: bool,
    /// The statement line that matched it (1-based), 0 while none did. It and `shared` fit
    /// in the padding: a slot stays 56 bytes.
    matched_line: u32,
}

fn split(k: u128) -> [u64; 2] {
    [(k >> 64) as u64, k as u64]
}

fn join(k: [u64; 2]) -> u128 {
    (u128::from(k[0]) << 64) | u128::from(k[1])
}

fn day_number(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

/// Matches one day's statement against our attempts. Memory is about 130 bytes per
/// attempt (a 56-byte slot, its entry in the provider index, the payout sort while
/// sorting), nothing per statement line.
#[derive(Debug)]
pub struct Matcher {
    day: i32,
    open_days: u32,
    /// Sorted by `out_bill_no` once built.
    slots: Vec<Slot>,
    /// (hash of the provider's number, slot) as added; moved into `provider_index` once
    /// sorted.
    by_provider: Vec<([u64; 2], u32)>,
    /// Hash of the provider's number → slot: one or two memory reads a line, where a binary
    /// search over a million entries was about ten cache misses.
    provider_index: HashMap<[u64; 2], u32, BuildKeyHasher>,
    /// Payouts of more than one attempt with an attempt already named by an entry out.
    paid_payouts: HashSet<u128>,
    fallback: HashMap<u128, String>,
    totals: Totals,
    sorted: bool,
}

impl Matcher {
    /// A matcher for `day`'s statement; add our attempts with [`Matcher::add`]. An attempt
    /// open for `open_days` days or more is missing when no entry names it.
    pub fn new(day: NaiveDate, open_days: u32) -> Self {
        Self {
            day: day_number(day),
            open_days,
            slots: Vec::new(),
            by_provider: Vec::new(),
            provider_index: HashMap::default(),
            paid_payouts: HashSet::new(),
            fallback: HashMap::new(),
            totals: Totals::default(),
            sorted: true,
        }
    }

    /// Adds one of ours that may appear on the statement (final on the day or around it,
    /// or still open). Each `out_bill_no` is added once (it is unique).
    pub fn add(&mut self, a: &Attempt) {
        let out_bill_no = key_of(&a.out_bill_no, true, &mut self.fallback);
        let payout = key_of(&a.payout_id, false, &mut self.fallback);
        let index = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        if let Some(p) = &a.provider_no {
            self.by_provider.push((split(hash128(p)), index));
        }
        let final_on = a.final_on.map_or(i32::MIN, day_number);
        if a.held == Held::Paid && a.final_on.map(day_number) == Some(self.day) {
            self.totals.our_paid_count += 1;
            self.totals.our_paid_fen += a.amount_fen;
        }
        self.slots.push(Slot {
            out_bill_no: split(out_bill_no),
            payout: split(payout),
            amount_fen: a.amount_fen,
            final_on,
            sent_on: day_number(a.sent_on),
            held: a.held,
            seen: false,
            returned: false,
            shared: false,
            matched_line: 0,
        });
        self.sorted = false;
    }

    /// How many attempts it holds.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn sort(&mut self) {
        if self.sorted {
            return;
        }
        // Slots move: remember each one's old index to renumber the provider index.
        let mut order: Vec<u32> =
            (0..u32::try_from(self.slots.len()).unwrap_or(u32::MAX)).collect();
        order.sort_by_key(|&i| self.slots[i as usize].out_bill_no);
        let mut new_index = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old as usize] = u32::try_from(new).unwrap_or(u32::MAX);
        }
        let mut slots: Vec<Slot> = order.iter().map(|&i| self.slots[i as usize]).collect();
        drop(order);
        // Which payouts have more than one attempt: sorted (payout, slot) pairs side by side.
        let mut payouts: Vec<([u64; 2], u32)> = slots
            .iter()
            .enumerate()
            .map(|(i, s)| (s.payout, u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        payouts.sort_unstable();
        for pair in payouts.windows(2) {
            if pair[0].0 == pair[1].0 {
                slots[pair[0].1 as usize].shared = true;
                slots[pair[1].1 as usize].shared = true;
            }
        }
        drop(payouts);
        self.slots = slots;
        // Entries indexed before (attempts added after a first sort) follow their slots.
        for slot in self.provider_index.values_mut() {
            *slot = new_index[*slot as usize];
        }
        let added = std::mem::take(&mut self.by_provider);
        self.provider_index.reserve(added.len());
        for (hash, old) in added {
            self.provider_index.insert(hash, new_index[old as usize]);
        }
        self.sorted = true;
    }

    fn find(&self, e: &Entry<'_>) -> Option<usize> {
        if let Some(p) = e.provider_no.filter(|p| !p.is_empty()) {
            if let Some(&i) = self.provider_index.get(&split(hash128(p))) {
                return Some(i as usize);
            }
        }
        let r = e.reference.filter(|r| !r.is_empty())?;
        let k = if let Ok(u) = uuid::Uuid::try_parse(r) {
            u.as_u128()
        } else {
            hash128(r) | (1 << 127)
        };
        self.slots
            .binary_search_by_key(&split(k), |s| s.out_bill_no)
            .ok()
    }

    /// Whether an entry names one of the attempts held.
    pub fn knows(&mut self, e: &Entry<'_>) -> bool {
        self.sort();
        self.find(e).is_some()
    }

    /// What one statement entry is (counted in the statement's totals).
    pub fn push(&mut self, e: &Entry<'_>) -> Item {
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
        self.judge(e)
    }

    /// What an entry already counted is, judged again (after [`Matcher::add`]ing attempts
    /// its numbers named that were not held the first time).
    pub fn judge(&mut self, e: &Entry<'_>) -> Item {
        self.sort();
        // Money that names nothing of ours, out or back in (the caller passes the statement's
        // transfer lines only, not top-ups of the account).
        let Some(i) = self.find(e) else {
            return self.item(Outcome::UnexpectedInStatement, Some(e), None);
        };
        let a = self.slots[i];
        let payout = join(a.payout);
        let outcome = match e.direction {
            Direction::Out => {
                if a.seen || (a.shared && self.paid_payouts.contains(&payout)) {
                    Outcome::Duplicate
                } else if a.held != Held::Paid {
                    Outcome::StatusMismatch
                } else if a.amount_fen != e.amount_fen {
                    Outcome::AmountMismatch
                } else {
                    Outcome::Matched
                }
            }
            // The same money back twice.
            Direction::In if a.returned => Outcome::Duplicate,
            // Money back for an attempt we hold paid: it was not paid after all.
            Direction::In if a.held == Held::Paid => Outcome::StatusMismatch,
            // Money back for one we hold failed: the provider returned it, as it should.
            Direction::In => Outcome::Matched,
        };
        match e.direction {
            Direction::Out => {
                self.slots[i].seen = true;
                if a.shared {
                    self.paid_payouts.insert(payout);
                }
            }
            Direction::In => self.slots[i].returned = true,
        }
        if outcome == Outcome::Matched {
            self.slots[i].matched_line = u32::try_from(e.line).unwrap_or(u32::MAX).max(1);
            self.totals.matched_count += 1;
            self.totals.matched_fen += e.amount_fen;
        }
        self.item(outcome, Some(e), Some(&a))
    }

    fn item(&self, outcome: Outcome, e: Option<&Entry<'_>>, a: Option<&Slot>) -> Item {
        Item {
            outcome,
            line: e.map(|e| e.line),
            out_bill_no: a.map(|a| text_of(join(a.out_bill_no), true, &self.fallback)),
            payout_id: a.map(|a| text_of(join(a.payout), false, &self.fallback)),
            statement_fen: e.map(|e| e.amount_fen),
            our_fen: a.map(|a| a.amount_fen),
            held: a.map(|a| a.held),
            direction: e.map(|e| e.direction),
        }
    }

    /// The matched lines, `(out_bill_no, line, direction)`, in ascending `out_bill_no` order
    /// (byte order, as a store's index sorts them).
    pub fn matched(&mut self) -> impl Iterator<Item = (String, usize, Direction)> + '_ {
        self.sort();
        let entry = |a: &Slot, fallback: &HashMap<u128, String>| {
            // Money out matches only what we hold paid; money back only what we do not.
            let direction = if a.held == Held::Paid {
                Direction::Out
            } else {
                Direction::In
            };
            (
                text_of(join(a.out_bill_no), true, fallback),
                a.matched_line as usize,
                direction,
            )
        };
        let fallback = &self.fallback;
        let is_text = |a: &Slot| fallback.contains_key(&join(a.out_bill_no));
        // Numbers kept as UUIDs are in their text's order already (32 lower-case hex digits);
        // the few kept as text are sorted apart and merged in.
        let mut odd: Vec<(String, usize, Direction)> = self
            .slots
            .iter()
            .filter(|a| a.matched_line != 0 && is_text(a))
            .map(|a| entry(a, fallback))
            .collect();
        odd.sort();
        let mut odd = odd.into_iter().peekable();
        let mut main = self
            .slots
            .iter()
            .filter(move |a| a.matched_line != 0 && !is_text(a))
            .map(move |a| entry(a, fallback))
            .peekable();
        std::iter::from_fn(move || match (main.peek(), odd.peek()) {
            (Some(a), Some(b)) if b.0 < a.0 => odd.next(),
            (Some(_), _) => main.next(),
            (None, _) => odd.next(),
        })
    }

    /// What no entry named (attempts paid on the day, or open for `open_days` or more), and
    /// both sides' totals.
    pub fn finish(mut self) -> (Vec<Item>, Totals) {
        self.sort();
        let mut missing = Vec::new();
        for a in &self.slots {
            if a.seen {
                continue;
            }
            let due = match a.held {
                Held::Paid => a.final_on == self.day,
                Held::Open => {
                    i64::from(self.day) - i64::from(a.sent_on) >= i64::from(self.open_days)
                }
                Held::Failed => false,
            };
            if due {
                missing.push(self.item(Outcome::MissingFromStatement, None, Some(a)));
            }
        }
        (missing, self.totals)
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

    fn matcher(d: NaiveDate, ours: Vec<Attempt>, open_days: u32) -> Matcher {
        let mut m = Matcher::new(d, open_days);
        for a in &ours {
            m.add(a);
        }
        m
    }

    fn out(line: usize, provider: &str, fen: i64) -> Entry<'_> {
        Entry {
            line,
            provider_no: Some(provider),
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
        let mut m = matcher(day(5), ours, 3);
        let by_ref = Entry {
            line: 6,
            provider_no: None,
            reference: Some("e"),
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
        let matched: Vec<(String, usize, Direction)> = m.matched().collect();
        assert_eq!(
            matched,
            [
                ("a".to_owned(), 2, Direction::Out),
                ("e".to_owned(), 6, Direction::Out),
                ("f2".to_owned(), 8, Direction::Out),
            ],
            "the matched lines"
        );
        let (missing, totals) = m.finish();
        assert_eq!(totals.matched_count, 3);
        assert_eq!(totals.matched_fen, 100_000 + 50_000 + 60_000);
        assert_eq!(std::mem::size_of::<Slot>(), 56, "a slot stays compact");
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
        let mut m = matcher(day(8), ours, 3);
        let back = |no: &'static str| Entry {
            line: 2,
            provider_no: Some(no),
            reference: None,
            direction: Direction::In,
            amount_fen: 10_000,
        };
        assert_eq!(m.push(&back("w-k")).outcome, Outcome::StatusMismatch);
        assert_eq!(m.push(&back("w-m")).outcome, Outcome::Matched);
        let matched: Vec<(String, usize, Direction)> = m.matched().collect();
        assert_eq!(matched, [("m".to_owned(), 2, Direction::In)]);
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
        let mut m = matcher(day(5), ours, 3);
        assert!(!m.push(&out(2, "w-a", 100_000)).outcome.is_exception());
        assert!(!m.push(&out(3, "w-b", 20_000)).outcome.is_exception());
        let (missing, totals) = m.finish();
        assert!(missing.is_empty());
        assert!(totals.agree());
    }

    #[test]
    fn attempts_added_after_lines_were_judged_are_found_and_the_earlier_ones_still_are() {
        let mut m = matcher(
            day(5),
            vec![
                attempt("m", "p1", 100, Held::Paid, Some(5)),
                attempt("c", "p2", 200, Held::Paid, Some(5)),
            ],
            3,
        );
        assert_eq!(m.push(&out(2, "w-m", 100)).outcome, Outcome::Matched);
        assert_eq!(
            m.push(&out(3, "w-a", 300)).outcome,
            Outcome::UnexpectedInStatement
        );
        // Found later (outside the window): "a" sorts before "m" and "c", moving their slots.
        m.add(&attempt("a", "p3", 300, Held::Paid, Some(1)));
        m.add(&attempt("b", "p2", 200, Held::Failed, Some(1)));
        assert_eq!(m.judge(&out(3, "w-a", 300)).outcome, Outcome::Matched);
        assert_eq!(m.push(&out(4, "w-c", 200)).outcome, Outcome::Matched);
        // p2 is paid by "c": its other attempt out is a duplicate.
        assert_eq!(m.push(&out(5, "w-b", 200)).outcome, Outcome::Duplicate);
        assert_eq!(m.push(&out(6, "w-m", 100)).outcome, Outcome::Duplicate);
        let matched: Vec<(String, usize)> = m.matched().map(|(b, l, _)| (b, l)).collect();
        assert_eq!(
            matched,
            [
                ("a".to_owned(), 3),
                ("c".to_owned(), 4),
                ("m".to_owned(), 2)
            ]
        );
    }

    /// The rules written the plain way (linear scans over strings), to check the compact
    /// matcher against.
    fn reference(
        day: NaiveDate,
        ours: &[Attempt],
        entries: &[Entry<'_>],
        open_days: u32,
    ) -> Vec<Outcome> {
        let mut seen = vec![false; ours.len()];
        let mut returned = vec![false; ours.len()];
        let mut paid_payouts: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for e in entries {
            let found = e
                .provider_no
                .and_then(|p| {
                    ours.iter()
                        .position(|a| a.provider_no.as_deref() == Some(p))
                })
                .or_else(|| {
                    e.reference
                        .and_then(|r| ours.iter().position(|a| a.out_bill_no == r))
                });
            let Some(i) = found else {
                out.push(Outcome::UnexpectedInStatement);
                continue;
            };
            let a = &ours[i];
            out.push(match e.direction {
                Direction::Out if seen[i] || paid_payouts.contains(&a.payout_id) => {
                    Outcome::Duplicate
                }
                Direction::Out if a.held != Held::Paid => Outcome::StatusMismatch,
                Direction::Out if a.amount_fen != e.amount_fen => Outcome::AmountMismatch,
                Direction::Out => Outcome::Matched,
                Direction::In if returned[i] => Outcome::Duplicate,
                Direction::In if a.held == Held::Paid => Outcome::StatusMismatch,
                Direction::In => Outcome::Matched,
            });
            if e.direction == Direction::Out {
                seen[i] = true;
                paid_payouts.push(a.payout_id.clone());
            } else {
                returned[i] = true;
            }
        }
        for (a, seen) in ours.iter().zip(&seen) {
            let due = !seen
                && match a.held {
                    Held::Paid => a.final_on == Some(day),
                    Held::Open => (day - a.sent_on).num_days() >= i64::from(open_days),
                    Held::Failed => false,
                };
            if due {
                out.push(Outcome::MissingFromStatement);
            }
        }
        out
    }

    /// Our numbers are UUIDs as 32 hex digits; a few others are kept as text.
    fn bill(i: usize) -> String {
        if i % 3 == 2 {
            format!("5-{i}")
        } else {
            format!("{:032x}", (i as u128 + 1) * 0x0123_4567_89ab_cdef_0123_4567)
        }
    }

    proptest::proptest! {
        #[test]
        fn the_compact_matcher_judges_as_the_plain_rules_do(
            spec in proptest::collection::vec((0u8..6, 0u8..3, 1i64..4, 0u32..4, proptest::bool::ANY), 0..40),
            lines in proptest::collection::vec((0usize..50, proptest::bool::ANY, proptest::bool::ANY, 1i64..4), 0..60),
        ) {
            let ours: Vec<Attempt> = spec
                .iter()
                .enumerate()
                .map(|(i, &(payout, held, fen, final_day, has_provider))| Attempt {
                    out_bill_no: bill(i),
                    provider_no: has_provider.then(|| format!("1330{i:06}")),
                    payout_id: uuid::Uuid::from_u128(u128::from(payout) + 7).to_string(),
                    amount_fen: fen * 100,
                    held: [Held::Paid, Held::Failed, Held::Open][usize::from(held)],
                    final_on: (held != 2).then(|| day(3 + final_day)),
                    sent_on: day(1 + final_day),
                })
                .collect();
            let names: Vec<(String, String)> = (0..50)
                .map(|i| (format!("1330{i:06}"), bill(i)))
                .collect();
            let entries: Vec<Entry<'_>> = lines
                .iter()
                .enumerate()
                .map(|(n, &(who, by_provider, out, fen))| Entry {
                    line: n + 2,
                    provider_no: by_provider.then(|| names[who].0.as_str()),
                    reference: (!by_provider).then(|| names[who].1.as_str()),
                    direction: if out { Direction::Out } else { Direction::In },
                    amount_fen: fen * 100,
                })
                .collect();
            let mut m = matcher(day(5), ours.clone(), 3);
            let mut got: Vec<Outcome> = entries.iter().map(|e| m.push(e).outcome).collect();
            // Each matched line is listed once, with its attempt, in out_bill_no order.
            let mut want_matched: Vec<(String, usize, Direction)> = Vec::new();
            for (e, o) in entries.iter().zip(&got) {
                if *o == Outcome::Matched {
                    let i = e
                        .provider_no
                        .and_then(|p| ours.iter().position(|a| a.provider_no.as_deref() == Some(p)))
                        .or_else(|| e.reference.and_then(|r| ours.iter().position(|a| a.out_bill_no == r)));
                    if let Some(i) = i {
                        want_matched.push((ours[i].out_bill_no.clone(), e.line, e.direction));
                    }
                }
            }
            want_matched.sort();
            let listed: Vec<(String, usize, Direction)> = m.matched().collect();
            proptest::prop_assert_eq!(&listed, &want_matched);
            let (missing, totals) = m.finish();
            proptest::prop_assert_eq!(totals.matched_count as usize, listed.len());
            got.extend(missing.iter().map(|i| i.outcome));
            let want = reference(day(5), &ours, &entries, 3);
            // Lines in order; what the statement lacks is a count (the matcher lists it in
            // out_bill_no order, the reference in input order).
            proptest::prop_assert_eq!(&got[..entries.len()], &want[..entries.len()]);
            proptest::prop_assert_eq!(got.len(), want.len());
        }
    }
}
