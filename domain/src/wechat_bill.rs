//! WeChat Pay's fund-flow bill (资金账单) of the operating account, read as a stream: the
//! statement daily reconciliation proves merchant transfers against (facts:
//! `shared/providers/wechatpay-transfers.md`, "Statements").
//!
//! Everything here is pure: the caller downloads (and un-gzips, and hashes) the file and
//! feeds its bytes, in chunks of any size, to a [`BillReader`]; the reader never holds more
//! than the record it is reading (at most [`MAX_RECORD_BYTES`]), so memory is bounded by the
//! longest line whatever the size of the bill. Money is fen; yuan are only ever text,
//! converted with integer arithmetic.
//!
//! # Format
//!
//! - **Encoding** — UTF-8, with or without a BOM (a BOM split across chunks is still one).
//!   A record holding a byte sequence that is not UTF-8 is a line error; it is never
//!   replaced.
//! - **Records** — comma-separated, `"` quotes (`""` inside) as csv-core reads them; line
//!   ends CRLF, LF or CR. A line break inside a quoted cell stays in the cell and never
//!   splits the record; WeChat's escaped CR/LF (`\r\n` written as text) is plain text and
//!   kept as is. `line` is the physical line a record starts on, from 1. Empty lines, and
//!   records whose cells are all blank, are skipped wherever they are.
//! - **Cells** — trimmed of whitespace, then exactly one leading backtick (WeChat's guard
//!   against spreadsheets reading numbers) is dropped, and the rest trimmed again; a cell
//!   without the backtick is read the same.
//! - **Header** — the first record. Columns are found by their header names
//!   ([`COLUMNS`] is the one place saying which column holds what), so a reordered bill
//!   reads the same; unknown columns are ignored; a missing or repeated known column is
//!   fatal ([`BillError`]).
//! - **Data lines** — each is a [`BillLine`] or a [`BillLineError`] (parsing goes on): a
//!   malformed byte, a line too short for the known columns, an empty 资金流水单号, a
//!   记账时间 that is not `YYYY-MM-DD HH:MM:SS`, a 收支类型 other than 收入/支出, an
//!   amount or balance that is not yuan with at most two decimals (`0.02`, `1000.00`,
//!   `-3.5`; a `-` is kept, as the bill's own sums would keep it), or an amount that
//!   would overflow the running total.
//! - **Summary** — the record whose first cell is one of the summary header names
//!   ([`SUMMARY_COLUMNS`]: 资金流水总笔数, 收入笔数, 收入金额, 支出笔数, 支出金额, found by
//!   name too), then one record of values; counts may be written `20`, `20.0` or `20.00`
//!   (never `20.5`). Nothing but blank lines may follow. A malformed summary, or a file
//!   that ends before it (a truncated download), is fatal.
//!
//! [`BillReader::finish`] checks the summary against the lines read: counts and sums by
//! direction ([`BillSummaryCheck`]). Lines that could not be read are not counted, so each
//! of them shows as a difference.
//!
//! # Matching
//!
//! The matcher matches a transfer on 微信支付业务单号 ([`BillLine::wechat_bill_no`], WeChat's
//! `transfer_bill_no`) and, where the bill carries it, on 业务凭证号 holding our
//! `out_bill_no` ([`BillLine::out_bill_no`]). Which 业务名称/业务类型 labels transfer rows
//! carry, and whether 业务凭证号 is our `out_bill_no`, is not confirmed by WeChat's
//! documentation: [`TRANSFER_LABELS`] is a list to correct once a real bill is seen.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::money::from_fen;

use crate::csv_records::{RecordSplitter, TooLong};
pub use crate::csv_records::{MAX_CELLS, MAX_RECORD_BYTES};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

// ---------------------------------------------------------------------------------------
// Layout: which column holds what
// ---------------------------------------------------------------------------------------

/// A field of [`BillLine`] read from a column of the bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillField {
    BookedAt,
    WechatBillNo,
    FlowNo,
    BusinessName,
    BusinessType,
    Direction,
    Amount,
    Balance,
    Applicant,
    Remark,
    VoucherNo,
}

const FIELDS: usize = 11;

/// Which column holds what: the header WeChat Pay writes for each field of [`BillLine`].
/// Columns are found by these names (exactly, once cells are cleaned), wherever they are;
/// if WeChat renames a column, this table is the one place to change.
pub const COLUMNS: [(&str, BillField); FIELDS] = [
    ("记账时间", BillField::BookedAt),
    ("微信支付业务单号", BillField::WechatBillNo),
    ("资金流水单号", BillField::FlowNo),
    ("业务名称", BillField::BusinessName),
    ("业务类型", BillField::BusinessType),
    ("收支类型", BillField::Direction),
    ("收支金额(元)", BillField::Amount),
    ("账户结余(元)", BillField::Balance),
    ("资金变更提交申请人", BillField::Applicant),
    ("备注", BillField::Remark),
    ("业务凭证号", BillField::VoucherNo),
];

impl BillField {
    /// The field's header, from [`COLUMNS`].
    pub fn header(self) -> &'static str {
        COLUMNS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("", |(name, _)| name)
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// A figure of the bill's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryField {
    TotalCount,
    IncomeCount,
    IncomeFen,
    ExpenseCount,
    ExpenseFen,
}

const SUMMARY_FIELDS: usize = 5;

/// The summary header's names, as [`COLUMNS`] for the data lines.
pub const SUMMARY_COLUMNS: [(&str, SummaryField); SUMMARY_FIELDS] = [
    ("资金流水总笔数", SummaryField::TotalCount),
    ("收入笔数", SummaryField::IncomeCount),
    ("收入金额", SummaryField::IncomeFen),
    ("支出笔数", SummaryField::ExpenseCount),
    ("支出金额", SummaryField::ExpenseFen),
];

impl SummaryField {
    /// The figure's header, from [`SUMMARY_COLUMNS`].
    pub fn header(self) -> &'static str {
        SUMMARY_COLUMNS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("", |(name, _)| name)
    }

    fn is_amount(self) -> bool {
        matches!(self, Self::IncomeFen | Self::ExpenseFen)
    }
}

/// 收支类型.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BillDirection {
    /// 收入: money into the account (e.g. a transfer returned).
    In,
    /// 支出: money out of the account (e.g. a transfer paid).
    Out,
}

/// 收支类型 cells and what they mean.
const DIRECTIONS: [(&str, BillDirection); 2] =
    [("收入", BillDirection::In), ("支出", BillDirection::Out)];

impl BillDirection {
    /// The bill's word for it: 收入 or 支出.
    pub fn label(self) -> &'static str {
        DIRECTIONS
            .iter()
            .find(|(_, d)| *d == self)
            .map_or("", |(label, _)| label)
    }
}

/// 业务名称 or 业务类型 values taken to mean a merchant transfer (商家转账). NOT CONFIRMED by
/// WeChat Pay's documentation (its example shows only 退款): correct this list once a real
/// bill of the account is seen. Matched exactly, after trimming.
pub const TRANSFER_LABELS: &[&str] = &["商家转账", "商家转账到零钱", "转账"];

/// Whether `label` (a 业务名称 or 业务类型) is one of [`TRANSFER_LABELS`].
pub fn is_transfer_label(label: &str) -> bool {
    TRANSFER_LABELS.contains(&label.trim())
}

// ---------------------------------------------------------------------------------------
// What the reader yields
// ---------------------------------------------------------------------------------------

/// One data line of the bill. Text fields are trimmed, their backtick dropped. `S` is
/// `String` (owned, from [`BillReader::feed`]) or `&str` (borrowed from the reader, from
/// [`BillReader::feed_with`], which allocates nothing per line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BillLine<S = String> {
    /// The physical line the record starts on, from 1.
    pub line: usize,
    /// 记账时间: a wall-clock time in Asia/Shanghai (convert with
    /// [`crate::time::from_china_local`]); its date is the day the payout was final.
    pub booked_at: NaiveDateTime,
    /// 微信支付业务单号: for a transfer, WeChat's `transfer_bill_no`.
    pub wechat_bill_no: S,
    /// 资金流水单号: the flow's own number (never empty).
    pub flow_no: S,
    /// 业务名称.
    pub business_name: S,
    /// 业务类型.
    pub business_type: S,
    /// 收支类型.
    pub direction: BillDirection,
    /// 收支金额(元), in fen.
    pub amount_fen: i64,
    /// 账户结余(元), in fen.
    pub balance_fen: i64,
    /// 资金变更提交申请人.
    pub applicant: S,
    /// 备注 (escaped line breaks kept as written).
    pub remark: S,
    /// 业务凭证号: our `out_bill_no` for a transfer, it seems (unconfirmed), or empty.
    pub voucher_no: S,
}

impl<S: AsRef<str>> BillLine<S> {
    /// Whether 业务名称 or 业务类型 is one of [`TRANSFER_LABELS`] (unconfirmed labels; both
    /// directions: a returned transfer is 收入).
    pub fn is_merchant_transfer(&self) -> bool {
        self.is_merchant_transfer_with(TRANSFER_LABELS)
    }

    /// As [`BillLine::is_merchant_transfer`], with the caller's list of labels.
    pub fn is_merchant_transfer_with(&self, labels: &[&str]) -> bool {
        labels
            .iter()
            .any(|l| *l == self.business_name.as_ref() || *l == self.business_type.as_ref())
    }

    /// 业务凭证号 when it has the shape of our `out_bill_no` (32 hexadecimal digits, see
    /// [`crate::payout::out_bill_no`]); `None` when empty or anything else.
    pub fn out_bill_no(&self) -> Option<&str> {
        let v = self.voucher_no.as_ref();
        (v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())).then_some(v)
    }

    /// The line with its text owned.
    pub fn to_owned_line(&self) -> BillLine {
        let own = |s: &S| s.as_ref().to_string();
        BillLine {
            line: self.line,
            booked_at: self.booked_at,
            wechat_bill_no: own(&self.wechat_bill_no),
            flow_no: own(&self.flow_no),
            business_name: own(&self.business_name),
            business_type: own(&self.business_type),
            direction: self.direction,
            amount_fen: self.amount_fen,
            balance_fen: self.balance_fen,
            applicant: own(&self.applicant),
            remark: own(&self.remark),
            voucher_no: own(&self.voucher_no),
        }
    }
}

/// A data line that could not be read: a stable code and what is wrong in zh-CN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("第{line}行：{detail}")]
pub struct BillLineError {
    /// The physical line the record starts on, from 1.
    pub line: usize,
    /// `invalid_utf8`, `missing_cell`, `empty_flow_no`, `invalid_time`,
    /// `invalid_direction`, `invalid_amount`, `invalid_balance` or `total_overflow`.
    pub code: &'static str,
    pub detail: String,
}

/// What a chunk of the bill yields, in file order (`S` as for [`BillLine`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BillEvent<S = String> {
    Line(BillLine<S>),
    Error(BillLineError),
}

impl<S: AsRef<str>> BillEvent<S> {
    /// The event with its text owned.
    pub fn to_owned_event(&self) -> BillEvent {
        match self {
            Self::Line(line) => BillEvent::Line(line.to_owned_line()),
            Self::Error(error) => BillEvent::Error(error.clone()),
        }
    }
}

/// Where a reader hands what it reads.
type Sink<'s> = &'s mut dyn FnMut(BillEvent<&str>);

/// The bill's figures: stated in its summary rows, or counted from its lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BillSummary {
    pub total_count: u64,
    pub income_count: u64,
    pub income_fen: i64,
    pub expense_count: u64,
    pub expense_fen: i64,
}

impl BillSummary {
    /// One figure (counts as `i64`, saturating).
    pub fn get(&self, field: SummaryField) -> i64 {
        let count = |c: u64| i64::try_from(c).unwrap_or(i64::MAX);
        match field {
            SummaryField::TotalCount => count(self.total_count),
            SummaryField::IncomeCount => count(self.income_count),
            SummaryField::IncomeFen => self.income_fen,
            SummaryField::ExpenseCount => count(self.expense_count),
            SummaryField::ExpenseFen => self.expense_fen,
        }
    }

    /// Counts `line` in; `false` (nothing counted) when a sum would overflow.
    fn add<S>(&mut self, line: &BillLine<S>) -> bool {
        let (count, fen) = match line.direction {
            BillDirection::In => (&mut self.income_count, &mut self.income_fen),
            BillDirection::Out => (&mut self.expense_count, &mut self.expense_fen),
        };
        let Some(sum) = fen.checked_add(line.amount_fen) else {
            return false;
        };
        *fen = sum;
        *count += 1;
        self.total_count += 1;
        true
    }
}

/// A figure on which the summary and the lines disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryDifference {
    pub field: SummaryField,
    pub stated: i64,
    pub counted: i64,
    /// In zh-CN, e.g. `收入笔数：汇总为17，明细为1`.
    pub detail: String,
}

/// The bill's summary checked against its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BillSummaryCheck {
    /// The line of the summary's values.
    pub line: usize,
    pub stated: BillSummary,
    /// The lines read (not those in error).
    pub counted: BillSummary,
    /// Data lines that could not be read ([`BillEvent::Error`]).
    pub unreadable_lines: u64,
    /// In [`SUMMARY_COLUMNS`] order; empty when the summary matches.
    pub differences: Vec<SummaryDifference>,
}

impl BillSummaryCheck {
    fn new(line: usize, stated: BillSummary, counted: BillSummary, unreadable: u64) -> Self {
        let differences = SUMMARY_COLUMNS
            .iter()
            .filter(|(_, f)| stated.get(*f) != counted.get(*f))
            .map(|&(name, field)| {
                let (s, c) = (stated.get(field), counted.get(field));
                let detail = if field.is_amount() {
                    format!(
                        "{name}：汇总为{}元，明细合计为{}元",
                        from_fen(s),
                        from_fen(c)
                    )
                } else {
                    format!("{name}：汇总为{s}，明细为{c}")
                };
                SummaryDifference {
                    field,
                    stated: s,
                    counted: c,
                    detail,
                }
            })
            .collect();
        Self {
            line,
            stated,
            counted,
            unreadable_lines: unreadable,
            differences,
        }
    }

    /// Whether every figure of the summary agrees with the lines.
    pub fn matches(&self) -> bool {
        self.differences.is_empty()
    }
}

/// A bill that cannot be read at all. `line` is the physical line the record at fault
/// starts on, from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillError {
    #[error("账单为空：没有表头行")]
    NoHeader,
    #[error("第{line}行（表头）含有无法按UTF-8解码的字节")]
    HeaderNotUtf8 { line: usize },
    #[error("第{line}行（表头）缺少列：{}", missing.join("、"))]
    MissingColumns {
        line: usize,
        missing: Vec<&'static str>,
    },
    #[error("第{line}行（表头）中“{name}”列出现了不止一次")]
    DuplicateColumn { line: usize, name: &'static str },
    #[error("第{line}行（汇总表头）缺少列：{}", missing.join("、"))]
    MissingSummaryColumns {
        line: usize,
        missing: Vec<&'static str>,
    },
    #[error("第{line}行（汇总表头）中“{name}”列出现了不止一次")]
    DuplicateSummaryColumn { line: usize, name: &'static str },
    #[error("第{line}行（汇总数据）{detail}")]
    InvalidSummary { line: usize, detail: String },
    #[error("账单不完整：没有汇总行（最后一条记录在第{last_line}行），文件可能被截断")]
    NoSummary { last_line: usize },
    #[error("账单不完整：第{line}行的汇总表头之后没有汇总数据，文件可能被截断")]
    NoSummaryValues { line: usize },
    #[error("第{line}行：汇总数据之后还有内容")]
    AfterSummary { line: usize },
    #[error("第{line}行起的记录超过{MAX_RECORD_BYTES}字节或{MAX_CELLS}列（可能缺少右引号）")]
    RecordTooLong { line: usize },
}

impl From<TooLong> for BillError {
    fn from(t: TooLong) -> Self {
        BillError::RecordTooLong { line: t.line }
    }
}

// ---------------------------------------------------------------------------------------
// Cells
// ---------------------------------------------------------------------------------------

/// A cell as the bill means it: trimmed, one leading backtick dropped, trimmed again.
fn clean(cell: &str) -> &str {
    let cell = trim(cell);
    cell.strip_prefix('`').map_or(cell, trim)
}

/// [`str::trim`], quicker for the usual cell: ASCII whitespace first, then the rest of
/// Unicode's only when an end is not ASCII.
fn trim(text: &str) -> &str {
    let text = text.trim_ascii();
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if !first.is_ascii() || !last.is_ascii() => text.trim(),
        _ => text,
    }
}

/// Yuan text to fen: an optional `-`, digits, then optionally `.` and one or two digits.
fn parse_yuan(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = match digits.split_once('.') {
        Some((whole, frac)) if (1..=2).contains(&frac.len()) => (whole, frac),
        Some(_) => return None,
        None => (digits, ""),
    };
    if whole.is_empty()
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let fen = whole
        .bytes()
        .chain(frac.bytes())
        .chain(std::iter::repeat_n(b'0', 2 - frac.len()))
        .try_fold(0i64, |acc, b| {
            acc.checked_mul(10)?.checked_add(i64::from(b - b'0'))
        })?;
    Some(if negative { -fen } else { fen })
}

/// A count of the summary: a whole number, possibly written `20.0` or `20.00`.
fn parse_count(text: &str) -> Option<u64> {
    let fen = parse_yuan(text)?;
    if fen < 0 || fen % 100 != 0 {
        return None;
    }
    u64::try_from(fen / 100).ok()
}

/// `YYYY-MM-DD HH:MM:SS`, exactly, naming a real date and time.
fn parse_time(text: &str) -> Option<NaiveDateTime> {
    let b: &[u8; 19] = text.as_bytes().try_into().ok()?;
    if b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(num(&b[0..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, num(&b[5..7])?, num(&b[8..10])?)?.and_hms_opt(
        num(&b[11..13])?,
        num(&b[14..16])?,
        num(&b[17..19])?,
    )
}

/// One CSV record: its cells' bytes, unquoted, end to end, and where each ends.
struct Record<'a> {
    line: usize,
    bytes: &'a [u8],
    /// The bytes as text, `None` when they are not UTF-8.
    text: Option<&'a str>,
    ends: &'a [usize],
}

impl<'a> Record<'a> {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn new(line: usize, bytes: &'a [u8], ends: &'a [usize]) -> Self {
        Self {
            line,
            bytes,
            text: std::str::from_utf8(bytes).ok(),
            ends,
        }
    }

    /// Cell `i` decoded and cleaned; `None` when the record is not UTF-8, or the cell is
    /// not on its own (a sequence cut by a comma: its ends are not character boundaries).
    fn text(&self, i: usize) -> Option<&'a str> {
        let start = match i.checked_sub(1) {
            Some(prev) => self.ends.get(prev).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.text?.get(start..end).map(clean)
    }

    fn is_blank(&self) -> bool {
        // Quick: a byte that is neither whitespace nor a backtick (a digit, say) is never
        // trimmed away, so the record is not blank; otherwise check each cell.
        if self
            .bytes
            .iter()
            .any(|&b| b.is_ascii() && !b.is_ascii_whitespace() && !matches!(b, 0x0B | b'`'))
        {
            return false;
        }
        (0..self.len()).all(|i| self.text(i).is_some_and(str::is_empty))
    }
}

// ---------------------------------------------------------------------------------------
// Header, lines, summary
// ---------------------------------------------------------------------------------------

/// Where the known columns are in this bill.
struct Layout {
    /// The field each column of the file holds (`None`: ignored).
    by_position: Vec<Option<BillField>>,
    /// The column of each field.
    at: [usize; FIELDS],
    /// Cells a data line needs: one past the rightmost known column.
    width: usize,
}

fn read_header(rec: &Record<'_>) -> Result<Layout, BillError> {
    let line = rec.line;
    let mut at: [Option<usize>; FIELDS] = [None; FIELDS];
    let mut by_position = Vec::with_capacity(rec.len());
    for i in 0..rec.len() {
        let name = rec.text(i).ok_or(BillError::HeaderNotUtf8 { line })?;
        let field = COLUMNS.iter().find(|(n, _)| *n == name).map(|&(_, f)| f);
        if let Some(field) = field {
            let slot = &mut at[field.slot()];
            if slot.is_some() {
                return Err(BillError::DuplicateColumn {
                    line,
                    name: field.header(),
                });
            }
            *slot = Some(i);
        }
        by_position.push(field);
    }
    let missing: Vec<_> = COLUMNS
        .iter()
        .filter(|(_, f)| at[f.slot()].is_none())
        .map(|&(name, _)| name)
        .collect();
    if !missing.is_empty() {
        return Err(BillError::MissingColumns { line, missing });
    }
    let at = at.map(|c| c.unwrap_or(0));
    let width = at.iter().max().map_or(0, |&c| c + 1);
    Ok(Layout {
        by_position,
        at,
        width,
    })
}

/// Whether `rec` is the summary's header: its first cell is one of the summary names (a
/// data line's first cell, 记账时间 in WeChat's layout, never is).
fn is_summary_header(rec: &Record<'_>) -> bool {
    rec.text(0)
        .is_some_and(|first| SUMMARY_COLUMNS.iter().any(|(name, _)| *name == first))
}

fn read_summary_header(rec: &Record<'_>) -> Result<[usize; SUMMARY_FIELDS], BillError> {
    let line = rec.line;
    let mut at: [Option<usize>; SUMMARY_FIELDS] = [None; SUMMARY_FIELDS];
    for i in 0..rec.len() {
        // The first cell is UTF-8 (is_summary_header); others that are not are unknown.
        let Some(name) = rec.text(i) else { continue };
        if let Some(slot) = SUMMARY_COLUMNS.iter().position(|(n, _)| *n == name) {
            if at[slot].is_some() {
                return Err(BillError::DuplicateSummaryColumn {
                    line,
                    name: SUMMARY_COLUMNS[slot].0,
                });
            }
            at[slot] = Some(i);
        }
    }
    let missing: Vec<_> = SUMMARY_COLUMNS
        .iter()
        .zip(at)
        .filter(|(_, c)| c.is_none())
        .map(|(&(name, _), _)| name)
        .collect();
    if !missing.is_empty() {
        return Err(BillError::MissingSummaryColumns { line, missing });
    }
    Ok(at.map(|c| c.unwrap_or(0)))
}

fn read_summary(rec: &Record<'_>, at: &[usize; SUMMARY_FIELDS]) -> Result<BillSummary, BillError> {
    let line = rec.line;
    let invalid = |detail: String| BillError::InvalidSummary { line, detail };
    let mut summary = BillSummary::default();
    for (&(name, field), &column) in SUMMARY_COLUMNS.iter().zip(at) {
        if column >= rec.len() {
            return Err(invalid(format!(
                "只有{}列，缺少第{}列（{name}）",
                rec.len(),
                column + 1
            )));
        }
        let text = rec
            .text(column)
            .ok_or_else(|| invalid("含有无法按UTF-8解码的字节".into()))?;
        if field.is_amount() {
            let fen = parse_yuan(text).ok_or_else(|| {
                invalid(format!("{name}“{text}”无效：应为最多两位小数的金额（元）"))
            })?;
            match field {
                SummaryField::IncomeFen => summary.income_fen = fen,
                _ => summary.expense_fen = fen,
            }
        } else {
            let count = parse_count(text)
                .ok_or_else(|| invalid(format!("{name}“{text}”无效：应为非负整数")))?;
            match field {
                SummaryField::TotalCount => summary.total_count = count,
                SummaryField::IncomeCount => summary.income_count = count,
                _ => summary.expense_count = count,
            }
        }
    }
    Ok(summary)
}

type Fault = (&'static str, String);

/// A non-blank data record as a line, or why not.
fn read_line<'a>(layout: &Layout, rec: &Record<'a>) -> Result<BillLine<&'a str>, Fault> {
    let mut cells = [""; FIELDS];
    for i in 0..rec.len() {
        let text = rec
            .text(i)
            .ok_or(("invalid_utf8", "含有无法按UTF-8解码的字节".to_string()))?;
        if let Some(Some(field)) = layout.by_position.get(i) {
            cells[field.slot()] = text;
        }
    }
    if rec.len() < layout.width {
        // The leftmost known column the line lacks.
        let column = layout
            .at
            .iter()
            .copied()
            .filter(|&c| c >= rec.len())
            .min()
            .unwrap_or(rec.len());
        let field = layout
            .by_position
            .get(column)
            .copied()
            .flatten()
            .map_or("", BillField::header);
        return Err((
            "missing_cell",
            format!("只有{}列，缺少第{}列（{field}）", rec.len(), column + 1),
        ));
    }
    let cell = |f: BillField| cells[f.slot()];
    let name = BillField::header;

    let time = cell(BillField::BookedAt);
    let booked_at = parse_time(time).ok_or_else(|| {
        (
            "invalid_time",
            format!(
                "{}“{time}”无效：应为YYYY-MM-DD HH:MM:SS",
                name(BillField::BookedAt)
            ),
        )
    })?;
    let flow_no = cell(BillField::FlowNo);
    if flow_no.is_empty() {
        return Err(("empty_flow_no", format!("{}为空", name(BillField::FlowNo))));
    }
    let label = cell(BillField::Direction);
    let direction = DIRECTIONS
        .iter()
        .find(|(l, _)| *l == label)
        .map(|&(_, d)| d)
        .ok_or_else(|| {
            (
                "invalid_direction",
                format!(
                    "{}“{label}”无效：应为收入或支出",
                    name(BillField::Direction)
                ),
            )
        })?;
    let yuan = |field: BillField, code: &'static str| {
        let text = cell(field);
        parse_yuan(text).ok_or_else(|| {
            (
                code,
                format!("{}“{text}”无效：应为最多两位小数的金额（元）", name(field)),
            )
        })
    };
    let amount_fen = yuan(BillField::Amount, "invalid_amount")?;
    let balance_fen = yuan(BillField::Balance, "invalid_balance")?;
    Ok(BillLine {
        line: rec.line,
        booked_at,
        wechat_bill_no: cell(BillField::WechatBillNo),
        flow_no,
        business_name: cell(BillField::BusinessName),
        business_type: cell(BillField::BusinessType),
        direction,
        amount_fen,
        balance_fen,
        applicant: cell(BillField::Applicant),
        remark: cell(BillField::Remark),
        voucher_no: cell(BillField::VoucherNo),
    })
}

/// Where the reader is in the bill.
enum Stage {
    Header,
    Data(Layout),
    /// After the summary header (its line, where its figures are).
    SummaryValues {
        line: usize,
        at: [usize; SUMMARY_FIELDS],
    },
    /// After the summary values (their line, the figures).
    Done {
        line: usize,
        stated: BillSummary,
    },
}

/// What the reader has counted.
#[derive(Default)]
struct Tally {
    counted: BillSummary,
    unreadable: u64,
    last_line: usize,
}

fn handle_record(
    stage: &mut Stage,
    tally: &mut Tally,
    rec: &Record<'_>,
    on_event: Sink<'_>,
) -> Result<(), BillError> {
    if rec.is_blank() {
        return Ok(());
    }
    tally.last_line = rec.line;
    match stage {
        Stage::Header => *stage = Stage::Data(read_header(rec)?),
        Stage::Data(_) if is_summary_header(rec) => {
            *stage = Stage::SummaryValues {
                line: rec.line,
                at: read_summary_header(rec)?,
            };
        }
        Stage::Data(layout) => match read_line(layout, rec) {
            Ok(line) => {
                if tally.counted.add(&line) {
                    on_event(BillEvent::Line(line));
                } else {
                    tally.unreadable += 1;
                    on_event(BillEvent::Error(BillLineError {
                        line: rec.line,
                        code: "total_overflow",
                        detail: format!("{}使合计金额超出范围", BillField::Amount.header()),
                    }));
                }
            }
            Err((code, detail)) => {
                tally.unreadable += 1;
                on_event(BillEvent::Error(BillLineError {
                    line: rec.line,
                    code,
                    detail,
                }));
            }
        },
        Stage::SummaryValues { at, .. } => {
            let stated = read_summary(rec, at)?;
            *stage = Stage::Done {
                line: rec.line,
                stated,
            };
        }
        Stage::Done { .. } => return Err(BillError::AfterSummary { line: rec.line }),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The reader
// ---------------------------------------------------------------------------------------

/// Reads a fund-flow bill fed in chunks (see the module documentation):
///
/// ```
/// # use gongyou_domain::wechat_bill::{BillReader, BillEvent};
/// let bill = "\u{feff}记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号\r\n\
///     `2026-03-01 10:00:00,`1330000071100999991182020050700019480001,`4200000001,`商家转账,`转账,`支出,`200.00,`800.00,`api,`互助金,`0192f3c47a2b7c3d9e4f5a6b7c8d9e0f\r\n\
///     资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\r\n`1.0,`0.0,`0.00,`1.0,`200.00\r\n";
/// let mut reader = BillReader::new();
/// let mut events = Vec::new();
/// for chunk in bill.as_bytes().chunks(100) {
///     events.extend(reader.feed(chunk)?);
/// }
/// let check = reader.finish()?;
/// assert!(check.matches());
/// assert!(matches!(&events[0], BillEvent::Line(l) if l.amount_fen == 20_000));
/// # Ok::<(), gongyou_domain::wechat_bill::BillError>(())
/// ```
///
/// A fatal error ([`BillError`]) stops the reader: every later call returns it again.
pub struct BillReader {
    records: RecordSplitter,
    /// The first bytes of the file while it is not known whether they are a BOM.
    head: Vec<u8>,
    head_done: bool,
    stage: Stage,
    tally: Tally,
    failed: Option<BillError>,
}

impl Default for BillReader {
    fn default() -> Self {
        Self::new()
    }
}

impl BillReader {
    pub fn new() -> Self {
        Self {
            records: RecordSplitter::new(b','),
            head: Vec::with_capacity(UTF8_BOM.len()),
            head_done: false,
            stage: Stage::Header,
            tally: Tally::default(),
            failed: None,
        }
    }

    /// Reads `chunk`, the next bytes of the bill (any size; empty is allowed and means
    /// nothing), and returns the lines and line errors completed by it, in file order.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<BillEvent>, BillError> {
        let mut out = Vec::new();
        self.feed_into(chunk, &mut out)?;
        Ok(out)
    }

    /// As [`BillReader::feed`], appending to `out` (which keeps the events before a fatal
    /// error).
    pub fn feed_into(&mut self, chunk: &[u8], out: &mut Vec<BillEvent>) -> Result<(), BillError> {
        self.feed_with(chunk, |event| out.push(event.to_owned_event()))
    }

    /// As [`BillReader::feed`], handing each event to `on_event` as it is read, its text
    /// borrowed from the reader: nothing is allocated per line.
    pub fn feed_with(
        &mut self,
        chunk: &[u8],
        mut on_event: impl FnMut(BillEvent<&str>),
    ) -> Result<(), BillError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = self.take(chunk, &mut on_event);
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }

    /// The end of the bill: its summary checked against the lines, or why the bill cannot
    /// be read (no header, no summary: a truncated file, …).
    pub fn finish(mut self) -> Result<BillSummaryCheck, BillError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        // Events completed now are lost only when the bill is refused anyway: the last
        // record of a whole bill is the summary's values.
        let mut sink = |_: BillEvent<&str>| {};
        if !self.head_done {
            self.head_done = true;
            let head = std::mem::take(&mut self.head);
            if head != UTF8_BOM {
                self.consume(&head, &mut sink)?;
            }
        }
        let (stage, tally) = (&mut self.stage, &mut self.tally);
        self.records.flush(|r| {
            handle_record(
                stage,
                tally,
                &Record::new(r.line, r.bytes, r.ends),
                &mut sink,
            )
        })?;
        match self.stage {
            Stage::Header => Err(BillError::NoHeader),
            Stage::Data(_) => Err(BillError::NoSummary {
                last_line: self.tally.last_line,
            }),
            Stage::SummaryValues { line, .. } => Err(BillError::NoSummaryValues { line }),
            Stage::Done { line, stated } => Ok(BillSummaryCheck::new(
                line,
                stated,
                self.tally.counted,
                self.tally.unreadable,
            )),
        }
    }

    /// A chunk, once the BOM question is settled.
    fn take(&mut self, chunk: &[u8], on_event: Sink<'_>) -> Result<(), BillError> {
        let mut input = chunk;
        if !self.head_done {
            let wanted = UTF8_BOM.len() - self.head.len();
            let (head, rest) = input.split_at(wanted.min(input.len()));
            self.head.extend_from_slice(head);
            input = rest;
            if self.head.len() < UTF8_BOM.len() {
                return Ok(());
            }
            self.head_done = true;
            let head = std::mem::take(&mut self.head);
            if head != UTF8_BOM {
                self.consume(&head, on_event)?;
            }
        }
        self.consume(input, on_event)
    }

    /// Gives `input` to the record splitter, handling each record it completes.
    fn consume(&mut self, input: &[u8], on_event: Sink<'_>) -> Result<(), BillError> {
        let (stage, tally) = (&mut self.stage, &mut self.tally);
        self.records.consume(input, |r| {
            handle_record(
                stage,
                tally,
                &Record::new(r.line, r.bytes, r.ends),
                on_event,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    const HEADER: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号";
    const SUMMARY_HEADER: &str = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额";
    const REF_A: &str = "0192f3c47a2b7c3d9e4f5a6b7c8d9e0f";

    /// The official example (providers doc, from WeChat's format page).
    const OFFICIAL: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号
`2018-02-01 04:21:23,`50000305742018020103387128253,`1900009231201802015884652186,`退款,`退款,`支出,`0.02,`0.17,`system,`缺货,`REF4200000068201801293084726067
资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额
`20.0,`17.0,`0.35,`3.0,`0.18
";

    struct Parsed {
        lines: Vec<BillLine>,
        errors: Vec<BillLineError>,
        result: Result<BillSummaryCheck, BillError>,
    }

    /// `bytes` fed in chunks of `size`.
    fn parse_chunked(bytes: &[u8], size: usize) -> Parsed {
        parse_cut(bytes, bytes.chunks(size.max(1)))
    }

    fn parse_cut<'a>(bytes: &[u8], chunks: impl Iterator<Item = &'a [u8]>) -> Parsed {
        let _ = bytes;
        let mut reader = BillReader::new();
        let mut events = Vec::new();
        let mut fatal = None;
        for chunk in chunks {
            if let Err(e) = reader.feed_into(chunk, &mut events) {
                fatal = Some(e);
                break;
            }
        }
        let result = match fatal {
            Some(e) => {
                // The reader stays stopped.
                assert_eq!(reader.feed(b"x").unwrap_err(), e);
                assert_eq!(reader.finish().unwrap_err(), e);
                Err(e)
            }
            None => reader.finish(),
        };
        let mut lines = Vec::new();
        let mut errors = Vec::new();
        for event in events {
            match event {
                BillEvent::Line(l) => lines.push(l),
                BillEvent::Error(e) => errors.push(e),
            }
        }
        Parsed {
            lines,
            errors,
            result,
        }
    }

    fn parse(text: &str) -> Parsed {
        parse_chunked(text.as_bytes(), 4096)
    }

    fn time(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    /// A data line in WeChat's layout, every cell with its backtick.
    #[allow(clippy::too_many_arguments)]
    fn data(
        at: &str,
        bill_no: &str,
        flow_no: &str,
        dir: &str,
        amount: &str,
        balance: &str,
        remark: &str,
        voucher: &str,
    ) -> String {
        [
            at,
            bill_no,
            flow_no,
            "商家转账",
            "转账",
            dir,
            amount,
            balance,
            "api",
            remark,
            voucher,
        ]
        .map(|c| format!("`{c}"))
        .join(",")
    }

    fn bill(lines: &[String], summary: &str) -> String {
        let mut text = format!("{HEADER}\r\n");
        for line in lines {
            text.push_str(line);
            text.push_str("\r\n");
        }
        text.push_str(SUMMARY_HEADER);
        text.push_str("\r\n");
        text.push_str(summary);
        text.push_str("\r\n");
        text
    }

    #[test]
    fn the_table_names_every_field_once() {
        for (i, (name, field)) in COLUMNS.iter().enumerate() {
            assert_eq!(field.slot(), i, "{name}");
            assert_eq!(field.header(), *name);
        }
        for (name, field) in SUMMARY_COLUMNS {
            assert_eq!(field.header(), name);
        }
        assert_eq!(BillDirection::In.label(), "收入");
        assert_eq!(BillDirection::Out.label(), "支出");
    }

    #[test]
    fn the_official_example_reads_and_its_summary_does_not_match_one_line() {
        for text in [OFFICIAL.to_string(), format!("\u{feff}{OFFICIAL}")] {
            let parsed = parse(&text);
            assert_eq!(parsed.errors, []);
            assert_eq!(
                parsed.lines,
                [BillLine {
                    line: 2,
                    booked_at: time("2018-02-01 04:21:23"),
                    wechat_bill_no: "50000305742018020103387128253".into(),
                    flow_no: "1900009231201802015884652186".into(),
                    business_name: "退款".into(),
                    business_type: "退款".into(),
                    direction: BillDirection::Out,
                    amount_fen: 2,
                    balance_fen: 17,
                    applicant: "system".into(),
                    remark: "缺货".into(),
                    voucher_no: "REF4200000068201801293084726067".into(),
                }]
            );
            assert!(!parsed.lines[0].is_merchant_transfer());
            assert_eq!(parsed.lines[0].out_bill_no(), None);
            let check = parsed.result.unwrap();
            assert!(!check.matches());
            assert_eq!(check.line, 4);
            assert_eq!(
                check.stated,
                BillSummary {
                    total_count: 20,
                    income_count: 17,
                    income_fen: 35,
                    expense_count: 3,
                    expense_fen: 18,
                }
            );
            assert_eq!(
                check.counted,
                BillSummary {
                    total_count: 1,
                    income_count: 0,
                    income_fen: 0,
                    expense_count: 1,
                    expense_fen: 2,
                }
            );
            assert_eq!(check.unreadable_lines, 0);
            let differences: Vec<_> = check
                .differences
                .iter()
                .map(|d| (d.field, d.stated, d.counted, d.detail.as_str()))
                .collect();
            assert_eq!(
                differences,
                [
                    (
                        SummaryField::TotalCount,
                        20,
                        1,
                        "资金流水总笔数：汇总为20，明细为1"
                    ),
                    (
                        SummaryField::IncomeCount,
                        17,
                        0,
                        "收入笔数：汇总为17，明细为0"
                    ),
                    (
                        SummaryField::IncomeFen,
                        35,
                        0,
                        "收入金额：汇总为0.35元，明细合计为0.00元"
                    ),
                    (
                        SummaryField::ExpenseCount,
                        3,
                        1,
                        "支出笔数：汇总为3，明细为1"
                    ),
                    (
                        SummaryField::ExpenseFen,
                        18,
                        2,
                        "支出金额：汇总为0.18元，明细合计为0.02元"
                    ),
                ]
            );
        }
    }

    /// A bill with a BOM, CRLF, backticks, both kinds of escaped line break, a quoted cell
    /// with a comma and a matching summary.
    fn generated_bill() -> Vec<u8> {
        let lines = [
            data(
                "2026-03-01 00:00:01",
                "1330000071100999991182020050700019480001",
                "4200000001",
                "支出",
                "0.01",
                "999.99",
                "互助金",
                REF_A,
            ),
            // WeChat's escape: the line break written as text.
            data(
                "2026-03-01 08:30:00",
                "1330000071100999991182020050700019480002",
                "4200000002",
                "支出",
                "199999.99",
                "800000.00",
                r"第一行\r\n第二行",
                "0192f3c47a2b7c3d9e4f5a6b7c8d9e1a",
            ),
            // A quoted remark with a real CRLF and a comma, and a quoted voucher with an LF.
            [
                "`2026-03-01 12:00:00",
                "`1330000071100999991182020050700019480003",
                "`4200000003",
                "`商家转账",
                "`转账",
                "`收入",
                "`1000.00",
                "`801000.00",
                "`system",
                "\"`退回,收款人\r\n账户异常\"",
                "\"`REF\n0003\"",
            ]
            .join(","),
            // No backticks, padded cells.
            " 2026-03-01 23:59:59 , 1330000071100999991182020050700019480004 , 4200000004 , 基本账户充值 , 充值 , 收入 , 5 , 801005.00 , admin ,  , ".into(),
        ];
        let mut text = "\u{feff}".to_string();
        text.push_str(&bill(&lines, "`4.0,`2.0,`1005.00,`2.00,`200000.00"));
        text.into_bytes()
    }

    fn check_generated(parsed: &Parsed) {
        assert_eq!(parsed.errors, []);
        let read: Vec<_> = parsed
            .lines
            .iter()
            .map(|l| {
                (
                    l.line,
                    l.direction,
                    l.amount_fen,
                    l.balance_fen,
                    l.remark.as_str(),
                    l.voucher_no.as_str(),
                )
            })
            .collect();
        assert_eq!(
            read,
            [
                (2, BillDirection::Out, 1, 99_999, "互助金", REF_A),
                (
                    3,
                    BillDirection::Out,
                    19_999_999,
                    80_000_000,
                    r"第一行\r\n第二行",
                    "0192f3c47a2b7c3d9e4f5a6b7c8d9e1a"
                ),
                (
                    4,
                    BillDirection::In,
                    100_000,
                    80_100_000,
                    "退回,收款人\r\n账户异常",
                    "REF\n0003"
                ),
                (7, BillDirection::In, 500, 80_100_500, "", ""),
            ]
        );
        let last = &parsed.lines[3];
        assert_eq!(last.booked_at, time("2026-03-01 23:59:59"));
        assert_eq!(
            (last.business_name.as_str(), last.applicant.as_str()),
            ("基本账户充值", "admin")
        );
        assert_eq!(last.flow_no, "4200000004");
        let transfers: Vec<_> = parsed
            .lines
            .iter()
            .map(|l| (l.is_merchant_transfer(), l.out_bill_no()))
            .collect();
        assert_eq!(
            transfers,
            [
                (true, Some(REF_A)),
                (true, Some("0192f3c47a2b7c3d9e4f5a6b7c8d9e1a")),
                (true, None),
                (false, None),
            ]
        );
        let check = parsed.result.as_ref().unwrap();
        assert!(check.matches(), "{:?}", check.differences);
        assert_eq!(check.line, 9);
        assert_eq!(check.counted, check.stated);
        assert_eq!(check.counted.expense_fen, 20_000_000);
    }

    #[test]
    fn a_generated_bill_reads_the_same_in_any_chunks() {
        let bytes = generated_bill();
        let whole = parse_chunked(&bytes, bytes.len());
        check_generated(&whole);
        for size in [1, 2, 3, 7, 4096] {
            let parsed = parse_chunked(&bytes, size);
            check_generated(&parsed);
            assert_eq!(parsed.lines, whole.lines, "chunks of {size}");
        }
        // Borrowed lines are the same lines.
        let mut reader = BillReader::new();
        let mut borrowed = Vec::new();
        for chunk in bytes.chunks(7) {
            reader
                .feed_with(chunk, |event| match event {
                    BillEvent::Line(line) => borrowed.push(line.to_owned_line()),
                    BillEvent::Error(e) => panic!("{e}"),
                })
                .unwrap();
        }
        assert!(reader.finish().unwrap().matches());
        assert_eq!(borrowed, whole.lines);
        // Empty chunks change nothing.
        let with_empties = bytes.chunks(5).flat_map(|c| [c, &[][..]]);
        assert_eq!(parse_cut(&bytes, with_empties).lines, whole.lines);
    }

    proptest! {
        #[test]
        fn chunk_boundaries_never_change_the_result(mut cuts in prop::collection::vec(0usize..2000, 0..40)) {
            let bytes = generated_bill();
            let whole = parse_chunked(&bytes, bytes.len());
            cuts.push(0);
            cuts.push(bytes.len());
            cuts.iter_mut().for_each(|c| *c = (*c).min(bytes.len()));
            cuts.sort_unstable();
            let chunks = cuts.windows(2).map(|w| &bytes[w[0]..w[1]]);
            let parsed = parse_cut(&bytes, chunks);
            prop_assert_eq!(&parsed.lines, &whole.lines);
            prop_assert_eq!(&parsed.errors, &whole.errors);
            prop_assert_eq!(&parsed.result, &whole.result);
        }

        #[test]
        fn fen_written_as_yuan_read_back(fen in i64::MIN + 1..=i64::MAX) {
            let text = from_fen(fen).to_string();
            prop_assert_eq!(parse_yuan(&text), Some(fen));
        }
    }

    #[test]
    fn every_kind_of_bad_line_is_an_error_naming_its_line_and_parsing_goes_on() {
        let ok = |n: u32| {
            data(
                "2026-03-01 10:00:00",
                &format!("13300000711009999911820200507000194800{n:02}"),
                &format!("42000000{n:02}"),
                "支出",
                "1.00",
                "100.00",
                "",
                REF_A,
            )
        };
        let with = |cell: usize, value: &str| {
            let mut cells: Vec<String> = ok(0).split(',').map(String::from).collect();
            cells[cell] = value.to_string();
            cells.join(",")
        };
        let short: Vec<String> = ok(0).split(',').take(9).map(String::from).collect();
        let lines = vec![
            ok(1),                                        // 2
            with(0, "`2026-02-30 10:00:00"),              // 3
            with(0, "`2026/03/01 10:00:00"),              // 4
            with(0, "`2026-03-01 24:00:00"),              // 5
            with(0, "`"),                                 // 6
            with(2, "`"),                                 // 7
            with(5, "`退款"),                             // 8
            with(6, "`12.345"),                           // 9
            with(6, "`abc"),                              // 10
            with(6, "`"),                                 // 11
            with(6, "\"`1,000.00\""),                     // 12
            with(7, "`.5"),                               // 13
            short.join(","),                              // 14
            with(9, "`\u{0}"),                            // 15: a control character is text
            "`2026-03-01 10:00:00,`BADBYTES".into(),      // 16: not UTF-8, see below
            ok(2),                                        // 17
            with(6, &format!("`{}", from_fen(i64::MAX))), // 18: overflows the total
        ];
        let mut bytes = bill(&lines, "`17,`0,`0.00,`17,`17.00").into_bytes();
        let at = bytes.windows(8).position(|w| w == b"BADBYTES").unwrap();
        bytes.splice(at..at + 8, *b"\xE6\x88\xFF");
        let parsed = parse_chunked(&bytes, 13);
        let errors: Vec<_> = parsed
            .errors
            .iter()
            .map(|e| (e.line, e.code, e.detail.as_str()))
            .collect();
        let bad_time = |t: &str| format!("记账时间“{t}”无效：应为YYYY-MM-DD HH:MM:SS");
        let bad_amount =
            |name: &str, t: &str| format!("{name}“{t}”无效：应为最多两位小数的金额（元）");
        assert_eq!(
            errors,
            [
                (3, "invalid_time", bad_time("2026-02-30 10:00:00").as_str()),
                (4, "invalid_time", bad_time("2026/03/01 10:00:00").as_str()),
                (5, "invalid_time", bad_time("2026-03-01 24:00:00").as_str()),
                (6, "invalid_time", bad_time("").as_str()),
                (7, "empty_flow_no", "资金流水单号为空"),
                (8, "invalid_direction", "收支类型“退款”无效：应为收入或支出"),
                (
                    9,
                    "invalid_amount",
                    bad_amount("收支金额(元)", "12.345").as_str()
                ),
                (
                    10,
                    "invalid_amount",
                    bad_amount("收支金额(元)", "abc").as_str()
                ),
                (
                    11,
                    "invalid_amount",
                    bad_amount("收支金额(元)", "").as_str()
                ),
                (
                    12,
                    "invalid_amount",
                    bad_amount("收支金额(元)", "1,000.00").as_str()
                ),
                (
                    13,
                    "invalid_balance",
                    bad_amount("账户结余(元)", ".5").as_str()
                ),
                (14, "missing_cell", "只有9列，缺少第10列（备注）"),
                (16, "invalid_utf8", "含有无法按UTF-8解码的字节"),
                (18, "total_overflow", "收支金额(元)使合计金额超出范围"),
            ]
        );
        assert_eq!(
            parsed.errors[0].to_string(),
            "第3行：记账时间“2026-02-30 10:00:00”无效：应为YYYY-MM-DD HH:MM:SS"
        );
        // The good lines around them were read, and counted.
        let read: Vec<_> = parsed
            .lines
            .iter()
            .map(|l| (l.line, l.remark.as_str()))
            .collect();
        assert_eq!(read, [(2, ""), (15, "\u{0}"), (17, "")]);
        let check = parsed.result.unwrap();
        assert_eq!(check.unreadable_lines, 14);
        assert_eq!(check.counted.total_count, 3);
        assert_eq!(check.counted.expense_fen, 300);
        let differing: Vec<_> = check.differences.iter().map(|d| d.field).collect();
        assert_eq!(
            differing,
            [
                SummaryField::TotalCount,
                SummaryField::ExpenseCount,
                SummaryField::ExpenseFen
            ]
        );
    }

    #[test]
    fn a_bad_header_or_summary_or_a_truncated_file_is_fatal() {
        let fatal = |text: &str| parse(text).result.unwrap_err();
        let one = data(
            "2026-03-01 10:00:00",
            "1",
            "2",
            "支出",
            "1.00",
            "1.00",
            "",
            "",
        );
        let ok_summary = "`1,`0,`0,`1,`1.00";

        assert_eq!(fatal(""), BillError::NoHeader);
        assert_eq!(fatal("\u{feff}\r\n\r\n"), BillError::NoHeader);

        // A header without 备注 and 账户结余(元).
        let header = HEADER.replace(",备注", "").replace(",账户结余(元)", "");
        let err = fatal(&format!("\n{header}\n"));
        assert_eq!(
            err,
            BillError::MissingColumns {
                line: 2,
                missing: vec!["账户结余(元)", "备注"]
            }
        );
        assert_eq!(err.to_string(), "第2行（表头）缺少列：账户结余(元)、备注");
        assert_eq!(
            fatal(&format!("{HEADER},`备注\n")),
            BillError::DuplicateColumn {
                line: 1,
                name: "备注"
            }
        );
        let mut not_utf8 = HEADER.as_bytes().to_vec();
        not_utf8.extend_from_slice(b",\xFF\n");
        assert_eq!(
            parse_chunked(&not_utf8, 3).result.unwrap_err(),
            BillError::HeaderNotUtf8 { line: 1 }
        );

        // Truncated: no summary at all, cut inside a line, or no summary values.
        let whole = bill(std::slice::from_ref(&one), ok_summary);
        assert!(parse(&whole).result.unwrap().matches());
        let err = fatal(&format!("{HEADER}\r\n{one}\r\n"));
        assert_eq!(err, BillError::NoSummary { last_line: 2 });
        assert_eq!(
            err.to_string(),
            "账单不完整：没有汇总行（最后一条记录在第2行），文件可能被截断"
        );
        assert_eq!(
            fatal(&whole[..whole.find("`1.00").unwrap() - 30]),
            BillError::NoSummary { last_line: 2 }
        );
        assert_eq!(
            fatal(&format!("{HEADER}\n")),
            BillError::NoSummary { last_line: 1 }
        );
        assert_eq!(
            fatal(&whole[..whole.find(SUMMARY_HEADER).unwrap() + SUMMARY_HEADER.len() + 2]),
            BillError::NoSummaryValues { line: 3 }
        );
        assert_eq!(
            fatal(&whole[..whole.len() - 4]),
            BillError::InvalidSummary {
                line: 4,
                detail: "支出金额“1.”无效：应为最多两位小数的金额（元）".into()
            }
        );

        // Bad summaries.
        let summary = |values: &str| fatal(&bill(std::slice::from_ref(&one), values));
        assert_eq!(
            summary("`20.5,`0,`0,`1,`1.00"),
            BillError::InvalidSummary {
                line: 4,
                detail: "资金流水总笔数“20.5”无效：应为非负整数".into()
            }
        );
        assert_eq!(
            summary("`1,`-1,`0,`1,`1.00").to_string(),
            "第4行（汇总数据）收入笔数“-1”无效：应为非负整数"
        );
        assert_eq!(
            summary("`1,`0,`abc,`1,`1.00").to_string(),
            "第4行（汇总数据）收入金额“abc”无效：应为最多两位小数的金额（元）"
        );
        assert_eq!(
            summary("`1,`0,`0,`1").to_string(),
            "第4行（汇总数据）只有4列，缺少第5列（支出金额）"
        );
        let missing = format!("{HEADER}\n资金流水总笔数,收入笔数,收入金额,支出笔数\n`0,`0,`0,`0\n");
        assert_eq!(
            fatal(&missing),
            BillError::MissingSummaryColumns {
                line: 2,
                missing: vec!["支出金额"]
            }
        );
        let twice = format!("{HEADER}\n{SUMMARY_HEADER},收入笔数\n");
        assert_eq!(
            fatal(&twice),
            BillError::DuplicateSummaryColumn {
                line: 2,
                name: "收入笔数"
            }
        );
        // Something after the summary; blank lines are fine.
        assert_eq!(
            fatal(&format!("{whole}\r\n\r\n{one}\r\n")),
            BillError::AfterSummary { line: 7 }
        );
        assert!(parse(&format!("{whole}\r\n ,`, \r\n")).result.is_ok());

        // An unclosed quote swallowing the rest of a huge file.
        let mut huge = format!("{HEADER}\n{one}\n\"`");
        huge.push_str(&"x".repeat(MAX_RECORD_BYTES));
        assert_eq!(fatal(&huge), BillError::RecordTooLong { line: 3 });
    }

    #[test]
    fn cells_lose_one_backtick_and_surrounding_whitespace() {
        for (cell, clean_cell) in [
            ("`0.02", "0.02"),
            ("0.02", "0.02"),
            (" `0.02 ", "0.02"),
            ("` 缺货\t", "缺货"),
            ("``x", "`x"),
            ("`", ""),
            ("\u{3000}`\u{3000}商家转账\u{3000}", "商家转账"),
            ("a`b", "a`b"),
        ] {
            assert_eq!(clean(cell), clean_cell, "{cell:?}");
        }
    }

    #[test]
    fn a_character_cut_by_a_comma_is_not_utf8() {
        // 我 is E6 88 91: joined again without the comma it would read as UTF-8.
        let line = data(
            "2026-03-01 10:00:00",
            "1",
            "2",
            "支出",
            "1.00",
            "1.00",
            "X",
            "",
        );
        let mut bytes = bill(&[line], "`1,`0,`0,`1,`1.00").into_bytes();
        let at = bytes.iter().position(|&b| b == b'X').unwrap();
        bytes.splice(at..=at, *b"\xE6,\x88\x91");
        let parsed = parse_chunked(&bytes, 1);
        assert_eq!(parsed.lines, []);
        let errors: Vec<_> = parsed.errors.iter().map(|e| (e.line, e.code)).collect();
        assert_eq!(errors, [(2, "invalid_utf8")]);
        assert_eq!(parsed.result.unwrap().unreadable_lines, 1);
    }

    #[test]
    fn counts_may_be_written_with_decimals_of_zero() {
        for (text, count) in [
            ("20", 20),
            ("20.0", 20),
            ("20.00", 20),
            ("0", 0),
            ("0.0", 0),
        ] {
            assert_eq!(parse_count(text), Some(count), "{text}");
        }
        for bad in [
            "20.5", "20.05", "-1", "", "abc", "20.", ".0", "1e3", "20.000",
        ] {
            assert_eq!(parse_count(bad), None, "{bad}");
        }
    }

    #[test]
    fn amounts_parse_exactly() {
        for (text, fen) in [
            ("0.01", 1),
            ("0.02", 2),
            ("1000.00", 100_000),
            ("199999.99", 19_999_999),
            ("1.5", 150),
            ("7", 700),
            ("007.10", 710),
            ("-3.5", -350),
            ("-0.00", 0),
            ("92233720368547758.07", i64::MAX),
            ("-92233720368547758.07", -i64::MAX),
        ] {
            assert_eq!(parse_yuan(text), Some(fen), "{text}");
        }
        for bad in [
            "",
            "-",
            ".5",
            "1.",
            "1.234",
            "+1",
            "1,000.00",
            "1 000",
            "１",
            "1e3",
            "--1",
            "0x10",
            "92233720368547758.08",
        ] {
            assert_eq!(parse_yuan(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_are_exact() {
        assert_eq!(
            parse_time("2024-02-29 23:59:59"),
            Some(time("2024-02-29 23:59:59"))
        );
        for bad in [
            "2023-02-29 00:00:00",
            "2024-1-01 00:00:00",
            "2024-01-01T00:00:00",
            "2024-01-01 00:00:60",
            "2024-01-01 00:00",
            "2024-01-01 00:00:00.5",
            "2024-01-01  0:00:00",
            "２０２４-01-01 00:00:00",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn columns_are_found_by_name_whatever_their_order() {
        // Reversed, with unknown columns around, and without backticks on the header.
        let mut names: Vec<&str> = HEADER.split(',').collect();
        names.reverse();
        names.insert(3, "新增列");
        names.push("另一列");
        let header = names.join(",");
        let mut cells: Vec<&str> = vec![
            "`2026-03-01 10:00:00",
            "`133000007110099999118202005070001948",
            "`4200000001",
            "`商家转账",
            "`转账",
            "`支出",
            "`200.00",
            "`800.00",
            "`api",
            "`互助金",
            REF_A,
        ];
        cells.reverse();
        cells.insert(3, "`whatever");
        let line = cells.join(","); // the last unknown column is missing: fine.
        let text = format!("{header}\n{line}\n{SUMMARY_HEADER}\n1,0,0,1,200\n");
        let parsed = parse(&text);
        assert_eq!(parsed.errors, []);
        let l = &parsed.lines[0];
        assert_eq!(l.booked_at, time("2026-03-01 10:00:00"));
        assert_eq!(l.wechat_bill_no, "133000007110099999118202005070001948");
        assert_eq!(l.flow_no, "4200000001");
        assert_eq!(
            (l.business_name.as_str(), l.business_type.as_str()),
            ("商家转账", "转账")
        );
        assert_eq!(
            (l.direction, l.amount_fen, l.balance_fen),
            (BillDirection::Out, 20_000, 80_000)
        );
        assert_eq!((l.applicant.as_str(), l.remark.as_str()), ("api", "互助金"));
        assert_eq!(l.out_bill_no(), Some(REF_A));
        assert!(parsed.result.unwrap().matches());

        // A reordered summary is read by name too.
        let text = format!("{HEADER}\n支出金额,支出笔数,收入金额,收入笔数,资金流水总笔数\n`0.18,`3,`0.35,`17,`20\n");
        let check = parse(&text).result.unwrap();
        assert_eq!(
            check.stated,
            BillSummary {
                total_count: 20,
                income_count: 17,
                income_fen: 35,
                expense_count: 3,
                expense_fen: 18
            }
        );
    }

    #[test]
    fn lines_are_counted_whatever_they_end_with() {
        let one = |flow: &str| {
            data(
                "2026-03-01 10:00:00",
                "1",
                flow,
                "收入",
                "1.00",
                "1.00",
                "",
                "",
            )
        };
        // LF, CR alone, CRLF, empty lines, a quoted CR LF inside a cell.
        let text = format!(
            "{HEADER}\n{}\r{}\r\n\r\n\n{}\n{},\"`a\r\nb\"\n\r{}\r\n{SUMMARY_HEADER}\n`5,`5,`5.00,`0,`0",
            one("a"),
            one("b"),
            one("c"),
            one("d"),
            one("e"),
        );
        for size in [1, 2, 4096] {
            let parsed = parse_chunked(text.as_bytes(), size);
            let lines: Vec<_> = parsed
                .lines
                .iter()
                .map(|l| (l.line, l.flow_no.as_str()))
                .collect();
            assert_eq!(lines, [(2, "a"), (3, "b"), (6, "c"), (7, "d"), (10, "e")]);
            let check = parsed.result.unwrap();
            assert!(check.matches());
            assert_eq!(check.line, 12);
        }
    }

    #[test]
    fn transfer_labels_are_data() {
        assert!(is_transfer_label(" 商家转账 "));
        assert!(!is_transfer_label("退款"));
        let parsed = parse(&bill(
            &[data(
                "2026-03-01 10:00:00",
                "1",
                "2",
                "支出",
                "1.00",
                "1.00",
                "",
                "0192F3C47A2B7C3D9E4F5A6B7C8D9E0",
            )],
            "`1,`0,`0,`1,`1.00",
        ));
        let line = &parsed.lines[0];
        assert!(line.is_merchant_transfer());
        assert!(!line.is_merchant_transfer_with(&["企业付款"]));
        assert!(line.is_merchant_transfer_with(&["转账"]));
        assert_eq!(line.out_bill_no(), None, "31 digits");
    }

    /// A 1,000,000-line bill, timed: `cargo test -p gongyou-domain --release wechat_bill --
    /// --ignored --nocapture`.
    #[test]
    #[ignore]
    fn a_million_lines() {
        let lines = 1_000_000u64;
        let mut text = format!("\u{feff}{HEADER}\r\n");
        for i in 0..lines {
            text.push_str(&data(
                "2026-03-01 10:00:00",
                &format!("1330000071100999991182020050700{i:09}"),
                &format!("4200000{i:09}"),
                "支出",
                "200.00",
                "1000000.00",
                "工会互助金",
                &format!("0192f3c47a2b7c3d9e4f5a6b{i:08x}"),
            ));
            text.push_str("\r\n");
        }
        text.push_str(&format!(
            "{SUMMARY_HEADER}\r\n`{lines}.0,`0.0,`0.00,`{lines}.0,`{}\r\n",
            from_fen(20_000 * i64::try_from(lines).unwrap())
        ));
        for _ in 0..2 {
            let start = std::time::Instant::now();
            let mut reader = BillReader::new();
            let mut events = Vec::new();
            let mut read = 0u64;
            for chunk in text.as_bytes().chunks(64 * 1024) {
                reader.feed_into(chunk, &mut events).unwrap();
                read += events.len() as u64;
                events.clear();
            }
            let check = reader.finish().unwrap();
            let elapsed = start.elapsed();
            println!(
                "owned: {lines} lines, {} MB in {elapsed:?}",
                text.len() / 1_000_000
            );
            assert_eq!(read, lines);
            assert!(check.matches(), "{:?}", check.differences);

            let start = std::time::Instant::now();
            let mut reader = BillReader::new();
            let mut read = 0u64;
            for chunk in text.as_bytes().chunks(64 * 1024) {
                reader
                    .feed_with(chunk, |e| {
                        read += u64::from(matches!(e, BillEvent::Line(_)))
                    })
                    .unwrap();
            }
            let check = reader.finish().unwrap();
            let elapsed = start.elapsed();
            println!("borrowed: {lines} lines in {elapsed:?}");
            assert_eq!(read, lines);
            assert!(check.matches());
        }
    }
}
