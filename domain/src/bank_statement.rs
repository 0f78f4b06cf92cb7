//! The union's bank account statement (对账单 / 账户明细), read as a stream: what daily
//! reconciliation proves bank payouts against (issue 15). Finance downloads it from the
//! bank's online banking and uploads it; banks differ, so its layout is a template the union
//! configures ([`StatementTemplate`], stored with the payout settings as JSON), as for the
//! payouts' bank files ([`crate::bank_file`]).
//!
//! Everything here is pure: the caller feeds the file's bytes, in chunks of any size, to a
//! [`StatementReader`]; the reader never holds more than the record it is reading (at most
//! [`MAX_RECORD_BYTES`]), so memory is bounded by the longest line whatever the size of the
//! statement. Money is fen; yuan are only ever text, converted with integer arithmetic.
//!
//! # Format
//!
//! - **Encoding** — a UTF-8 BOM means UTF-8 whatever the template says (a BOM split across
//!   chunks is still one); otherwise the template's (GBK is decoded as GB18030, its
//!   superset). The bytes are decoded strictly, and *before* the file is split, so a
//!   separator such as `|` (0x7C), which GBK uses as the second byte of some characters,
//!   never cuts a character in two; a character cut by a chunk boundary is joined up. A
//!   record holding a malformed byte is a line error (it is never replaced). A file that is
//!   plainly in another encoding is refused whole ([`StatementError::WrongEncoding`]): a
//!   UTF-16 BOM; a template saying GBK over a file that is valid UTF-8 with non-ASCII text;
//!   or a file where some record failed to decode and no record holding non-ASCII text
//!   decoded.
//! - **Records** — CSV with the template's separator, `"` quotes (`""` inside), line ends
//!   CRLF, LF or CR; a line break inside a quoted cell stays in the cell. `line` is the
//!   physical line a record starts on, from 1 (a BOM is not a line). Records starting on
//!   the first [`StatementTemplate::skip_rows`] lines are skipped unread (the bank's title,
//!   account and header lines), and so are empty lines and records whose cells are all
//!   blank, wherever they are. A record longer than [`MAX_RECORD_BYTES`] or
//!   [`MAX_CELLS`] cells (an unclosed quote swallowing the file, say) is fatal
//!   ([`StatementError::RecordTooLong`]).
//! - **Cells** — trimmed of whitespace (banks' `\t` guard against spreadsheets too); a
//!   leading `'` and Excel's `="…"` are dropped.
//! - **Dates** — the date column holds `2026-12-05`, `2026/12/05` (month and day may have
//!   one digit: `2026/12/5`), `20261205` or `2026年12月05日`, optionally followed by a time
//!   after a space, a `T` or a `-` (`2026-12-05 10:23:45`, `2026-12-05-10.23.45.123456`),
//!   or, for `20261205`, by six digits (`20261205102345`). A time is `10:23`, `10:23:45`,
//!   `10.23.45` or `102345`, optionally with a fraction of a second (dropped). The optional
//!   time column holds a time or a whole date and time (then taken as is: a bank may book a
//!   late transfer on the next day); it wins over a time in the date cell. Times are the
//!   bank's wall clock, Asia/Shanghai.
//! - **Amounts** — yuan: `200`, `200.5`, `200.50`, `1,200.00` (thousands separators in
//!   groups of three; quoted when the separator is a comma), leading zeros and a `+` are
//!   read exactly; `12.345`, `abc`, `.5`, `1,20.00` are line errors. Either two columns
//!   ([`AmountColumns::DebitCredit`]: 借方 is money out, 贷方 money in), of which a line
//!   has exactly one non-empty, non-zero cell (empty, `-`, `--`, `0` and `0.00` all mean
//!   none; a negative one is a line error); or one signed column
//!   ([`AmountColumns::Signed`]: negative is money out, positive money in, zero a line
//!   error).
//! - **Reference** — the payout's `out_bill_no` (32 hexadecimal digits,
//!   [`crate::payout::out_bill_no`]), which our transfer file put in the bank's 用途/附言:
//!   the first run of exactly 32 hexadecimal digits (not part of a longer run) in the
//!   template's reference columns, searched in the template's order, lower-cased; `None`
//!   when there is none (a bank that truncates 附言, a line that is not ours).
//! - **Lines** — each data record is a [`StatementLine`] or a [`StatementLineError`]
//!   (reading goes on): a malformed byte, too few cells for the date or amount columns
//!   (optional columns may be missing: banks' tools drop trailing empty cells), a date or
//!   time that cannot be read, an amount that cannot be read, both or neither amount, or an
//!   amount that would overflow the running totals.
//!
//! [`StatementReader::finish`] returns the [`StatementTotals`] of the lines read.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use encoding_rs::{Decoder, DecoderResult, GBK, UTF_8};
use serde::{Deserialize, Serialize};

use crate::bank_file::{FileEncoding, TemplateError, MAX_RESULT_COLUMNS, MAX_SKIP_ROWS};
use crate::reconcile::Direction;

use crate::csv_records::{RawRecord, RecordSplitter, TooLong};
pub use crate::csv_records::{MAX_CELLS, MAX_RECORD_BYTES};
/// Columns a statement template may name count from 0 and are below this.
pub const MAX_STATEMENT_COLUMNS: usize = MAX_RESULT_COLUMNS;
/// Reference columns a template may name, at most.
pub const MAX_REFERENCE_COLUMNS: usize = 8;
/// Separators a statement template may use: a tab, or ASCII punctuation other than those
/// that stand in dates, times, amounts and cells (`"` `'` `+` `-` `.` `/` `:` `=`).
pub const SEPARATORS: &str = "\t!#$%&()*,;<>?@[\\]^_`{|}~";
/// The length of an `out_bill_no` in hexadecimal digits.
const REFERENCE_LEN: usize = 32;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// Decoded bytes handed to the CSV reader at a time.
const SCRATCH_BYTES: usize = 8 * 1024;
/// Non-ASCII bytes, all valid UTF-8, that make a file templated GBK a UTF-8 file: a few
/// GBK characters may happen to be valid UTF-8; a file's worth never are.
const UTF8_EVIDENCE_BYTES: u64 = 8;

// ---------------------------------------------------------------------------------------
// Template
// ---------------------------------------------------------------------------------------

/// Where a statement line's amount is. As JSON:
/// `{"kind":"debit_credit","debit_column":2,"credit_column":3}` or
/// `{"kind":"signed","amount_column":2}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AmountColumns {
    /// 借方发生额 (money out of the account) and 贷方发生额 (money in), each a
    /// non-negative amount; a line fills exactly one.
    DebitCredit {
        debit_column: usize,
        credit_column: usize,
    },
    /// One amount, negative when money went out, positive when it came in.
    Signed { amount_column: usize },
}

/// A union's bank statement layout. Columns count from 0. Missing JSON fields take
/// [`StatementTemplate::default`]'s values; unknown ones are refused. Check with
/// [`StatementTemplate::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatementTemplate {
    pub encoding: FileEncoding,
    /// One of [`SEPARATORS`].
    pub separator: char,
    /// Lines at the top of the file that are not transactions (title, account, headers).
    pub skip_rows: usize,
    /// 交易日期 (with a time or not).
    pub date_column: usize,
    /// 交易时间, when the bank gives it its own column.
    pub time_column: Option<usize>,
    pub amounts: AmountColumns,
    /// Cells searched, in this order, for our reference (用途, 附言, 摘要…): 1 to
    /// [`MAX_REFERENCE_COLUMNS`].
    pub reference_columns: Vec<usize>,
    /// The bank's own serial number of the line (流水号).
    pub serial_column: Option<usize>,
    /// 对方户名.
    pub counterparty_column: Option<usize>,
}

impl Default for StatementTemplate {
    /// A typical Chinese bank's statement export (账户明细), GBK, comma-separated, one
    /// header line: 0 交易日期, 1 交易时间, 2 借方发生额(支出), 3 贷方发生额(收入), 4 余额,
    /// 5 对方户名, 6 对方账号, 7 摘要, 8 用途/附言, 9 流水号 — so date 0, time 1, debit 2,
    /// credit 3, references 8 then 7, serial 9, counterparty 5 (余额 and 对方账号 unread).
    /// Banks that write title or account lines above the header set `skip_rows`: skipping
    /// too few shows as line errors, too many would hide transactions, so the default
    /// skips only the header.
    fn default() -> Self {
        Self {
            encoding: FileEncoding::Gbk,
            separator: ',',
            skip_rows: 1,
            date_column: 0,
            time_column: Some(1),
            amounts: AmountColumns::DebitCredit {
                debit_column: 2,
                credit_column: 3,
            },
            reference_columns: vec![8, 7],
            serial_column: Some(9),
            counterparty_column: Some(5),
        }
    }
}

fn template_error(code: &'static str, column: Option<usize>, message: String) -> TemplateError {
    TemplateError {
        code,
        column,
        message,
    }
}

fn encoding_label(encoding: FileEncoding) -> &'static str {
    match encoding {
        FileEncoding::Gbk => "GBK",
        FileEncoding::Utf8 => "UTF-8",
    }
}

fn new_decoder(encoding: FileEncoding) -> Decoder {
    match encoding {
        FileEncoding::Gbk => GBK.new_decoder_without_bom_handling(),
        FileEncoding::Utf8 => UTF_8.new_decoder_without_bom_handling(),
    }
}

const DATE: &str = "交易日期";
const TIME: &str = "交易时间";
const DEBIT: &str = "借方发生额";
const CREDIT: &str = "贷方发生额";
const AMOUNT: &str = "交易金额";
const REFERENCE: &str = "附言";
const SERIAL: &str = "流水号";
const COUNTERPARTY: &str = "对方户名";

impl StatementTemplate {
    /// Whether the template can read a statement: a separator from [`SEPARATORS`], at
    /// most [`MAX_SKIP_ROWS`] skipped lines, 1 to [`MAX_REFERENCE_COLUMNS`] reference
    /// columns, every column below [`MAX_STATEMENT_COLUMNS`] and no column named twice.
    pub fn validate(&self) -> Result<(), TemplateError> {
        if !SEPARATORS.contains(self.separator) {
            let name = match self.separator {
                '\t' => "制表符".to_string(),
                c => format!("“{c}”"),
            };
            return Err(template_error(
                "invalid_separator",
                None,
                format!(
                    "分隔符{name}不可用：请使用英文逗号、竖线、分号等标点或制表符，不能是引号、等号、加减号、小数点、斜杠、冒号、字母、数字、空格或换行"
                ),
            ));
        }
        if self.skip_rows > MAX_SKIP_ROWS {
            return Err(template_error(
                "too_many_skip_rows",
                None,
                format!("跳过的行数最多{MAX_SKIP_ROWS}行"),
            ));
        }
        if self.reference_columns.is_empty() {
            return Err(template_error(
                "no_reference_columns",
                None,
                "至少要设置一列用于查找业务参考号（如用途、附言或摘要）".into(),
            ));
        }
        if self.reference_columns.len() > MAX_REFERENCE_COLUMNS {
            return Err(template_error(
                "too_many_reference_columns",
                None,
                format!("查找业务参考号的列最多{MAX_REFERENCE_COLUMNS}列"),
            ));
        }
        let columns = self.columns();
        for (i, &(column, name)) in columns.iter().enumerate() {
            if column >= MAX_STATEMENT_COLUMNS {
                return Err(template_error(
                    "column_out_of_range",
                    Some(column),
                    format!("“{name}”的列号须在 0 至 {} 之间", MAX_STATEMENT_COLUMNS - 1),
                ));
            }
            if let Some(&(_, other)) = columns[..i].iter().find(|(c, _)| *c == column) {
                let message = if other == name {
                    format!("第{}列重复设为“{name}”列", column + 1)
                } else {
                    format!("第{}列不能同时是“{other}”和“{name}”", column + 1)
                };
                return Err(template_error("duplicate_column", Some(column), message));
            }
        }
        Ok(())
    }

    /// Every column the template names, with what it holds.
    fn columns(&self) -> Vec<(usize, &'static str)> {
        let mut columns = vec![(self.date_column, DATE)];
        columns.extend(self.time_column.map(|c| (c, TIME)));
        match self.amounts {
            AmountColumns::DebitCredit {
                debit_column,
                credit_column,
            } => {
                columns.push((debit_column, DEBIT));
                columns.push((credit_column, CREDIT));
            }
            AmountColumns::Signed { amount_column } => columns.push((amount_column, AMOUNT)),
        }
        columns.extend(self.reference_columns.iter().map(|&c| (c, REFERENCE)));
        columns.extend(self.serial_column.map(|c| (c, SERIAL)));
        columns.extend(self.counterparty_column.map(|c| (c, COUNTERPARTY)));
        columns
    }
}

// ---------------------------------------------------------------------------------------
// What the reader yields
// ---------------------------------------------------------------------------------------

/// One transaction of the statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementLine {
    /// The physical line the record starts on, from 1.
    pub line: usize,
    /// 交易日期.
    pub booked_on: NaiveDate,
    /// 交易时间, when the statement gives one: a wall-clock time in Asia/Shanghai (convert
    /// with [`crate::time::from_china_local`]).
    pub booked_at: Option<NaiveDateTime>,
    pub direction: Direction,
    /// Always above zero.
    pub amount_fen: i64,
    /// Our `out_bill_no` (lower case), found in the reference columns.
    pub reference: Option<String>,
    /// The bank's serial number of the line (流水号), when the template has the column and
    /// the cell is not empty.
    pub serial: Option<String>,
    /// 对方户名, when the template has the column and the cell is not empty.
    pub counterparty: Option<String>,
}

/// A statement line that could not be read: a stable code and what is wrong in zh-CN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("第{line}行：{message}")]
pub struct StatementLineError {
    /// The physical line the record starts on, from 1.
    pub line: usize,
    /// `undecodable`, `missing_cell`, `invalid_date`, `invalid_time`, `invalid_amount`,
    /// `negative_amount`, `no_amount`, `both_amounts` or `total_overflow`.
    pub code: &'static str,
    pub message: String,
}

/// The lines read (not those in error), by direction, and the lines in error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatementTotals {
    /// Lines read: `out_lines + in_lines`.
    pub lines: u64,
    pub out_lines: u64,
    pub out_fen: i64,
    pub in_lines: u64,
    pub in_fen: i64,
    /// Records that could not be read ([`StatementLineError`]s handed over).
    pub line_errors: u64,
}

impl StatementTotals {
    /// Counts `line` in; `false` (nothing counted) when a sum would overflow.
    fn add(&mut self, line: &StatementLine) -> bool {
        let (count, fen) = match line.direction {
            Direction::Out => (&mut self.out_lines, &mut self.out_fen),
            Direction::In => (&mut self.in_lines, &mut self.in_fen),
        };
        let Some(sum) = fen.checked_add(line.amount_fen) else {
            return false;
        };
        *fen = sum;
        *count += 1;
        self.lines += 1;
        true
    }
}

/// A statement that cannot be read at all. Lines handed over before it should be thrown
/// away with the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("第{line}行起的记录超过{MAX_RECORD_BYTES}字节或{MAX_CELLS}列（可能缺少右引号）")]
    RecordTooLong { line: usize },
    /// `expected`: the encoding the file was read in (`GBK` or `UTF-8`).
    #[error("对账单不是{expected}编码：{detail}")]
    WrongEncoding {
        expected: &'static str,
        detail: String,
    },
}

impl StatementError {
    /// A stable code: `record_too_long` or `wrong_encoding`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::RecordTooLong { .. } => "record_too_long",
            Self::WrongEncoding { .. } => "wrong_encoding",
        }
    }
}

impl From<TooLong> for StatementError {
    fn from(t: TooLong) -> Self {
        StatementError::RecordTooLong { line: t.line }
    }
}

/// Where a reader hands what it reads.
type Sink<'s> = &'s mut dyn FnMut(Result<StatementLine, StatementLineError>);

// ---------------------------------------------------------------------------------------
// Cells
// ---------------------------------------------------------------------------------------

use crate::bank_file::clean_cell;

/// Why an amount cell cannot be read.
#[derive(Debug, PartialEq, Eq)]
enum AmountFault {
    Invalid,
}

/// Yuan text to fen: an optional sign, then what [`crate::bank_file`] reads as an amount.
fn parse_yuan(text: &str) -> Result<i64, AmountFault> {
    let (negative, text) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let fen = crate::bank_file::unsigned_yuan(text).ok_or(AmountFault::Invalid)?;
    Ok(if negative { -fen } else { fen })
}

/// Whether an amount cell says "no amount": empty, or dashes only (`-`, `--`).
fn no_amount(text: &str) -> bool {
    text.bytes().all(|b| b == b'-')
}

/// The number in `digits` (ASCII digits only, at most 9), or `None`.
fn number(digits: &str) -> Option<u32> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.bytes().try_fold(0u32, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })
}

/// A time of day: `10:23`, `10:23:45`, `10.23.45` or `102345`, optionally with a fraction
/// of a second after a `.` (dropped).
fn parse_time(text: &str) -> Option<NaiveTime> {
    if text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveTime::from_hms_opt(
            number(&text[0..2])?,
            number(&text[2..4])?,
            number(&text[4..6])?,
        );
    }
    let (hms, fraction): (Vec<&str>, Option<&str>) = if text.contains(':') {
        match text.split_once('.') {
            Some((hms, fraction)) => (hms.split(':').collect(), Some(fraction)),
            None => (text.split(':').collect(), None),
        }
    } else {
        let mut parts: Vec<&str> = text.split('.').collect();
        let fraction = if parts.len() == 4 { parts.pop() } else { None };
        (parts, fraction)
    };
    let (hour, minute, second) = match hms.as_slice() {
        // `10:23`, never `10.23` (a number) nor `10:23.5`.
        [h, m] if text.contains(':') && fraction.is_none() => (*h, *m, "00"),
        [h, m, s] => (*h, *m, *s),
        _ => return None,
    };
    if !(1..=2).contains(&hour.len()) || minute.len() != 2 || second.len() != 2 {
        return None;
    }
    if let Some(fraction) = fraction {
        number(fraction)?;
    }
    NaiveTime::from_hms_opt(number(hour)?, number(minute)?, number(second)?)
}

/// A date at the start of `text` and what follows it.
fn parse_date_prefix(text: &str) -> Option<(NaiveDate, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 8 || digits == 14 {
        let date = NaiveDate::from_ymd_opt(
            i32::try_from(number(&text[0..4])?).ok()?,
            number(&text[4..6])?,
            number(&text[6..8])?,
        )?;
        return Some((date, &text[8..]));
    }
    if digits != 4 {
        return None;
    }
    let year = i32::try_from(number(&text[..4])?).ok()?;
    let rest = &text[4..];
    let (separator, end) = match rest.chars().next()? {
        '-' => ('-', None),
        '/' => ('/', None),
        '年' => ('月', Some('日')),
        _ => return None,
    };
    let rest = &rest[rest.chars().next()?.len_utf8()..];
    let month_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let month = number(rest.get(..month_len).filter(|m| m.len() <= 2)?)?;
    let rest = rest[month_len..].strip_prefix(separator)?;
    let day_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let day = number(rest.get(..day_len).filter(|d| d.len() <= 2)?)?;
    let mut rest = &rest[day_len..];
    if let Some(end) = end {
        rest = rest.strip_prefix(end)?;
    }
    Some((NaiveDate::from_ymd_opt(year, month, day)?, rest))
}

/// A date, with a time or not (see the module documentation).
fn parse_date_time(text: &str) -> Option<(NaiveDate, Option<NaiveTime>)> {
    let (date, rest) = parse_date_prefix(text)?;
    if rest.is_empty() {
        return Some((date, None));
    }
    let time = if rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_digit()) {
        rest
    } else {
        let after = rest
            .strip_prefix('T')
            .or_else(|| rest.strip_prefix('-'))
            .unwrap_or(rest);
        let trimmed = after.trim_start();
        if trimmed.len() == after.len() && after.len() == rest.len() {
            // Nothing between the date and what follows.
            return None;
        }
        trimmed
    };
    Some((date, Some(parse_time(time)?)))
}

/// The first run of exactly 32 hexadecimal digits in `text`, lower-cased.
fn find_reference(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_hexdigit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
            i += 1;
        }
        if i - start == REFERENCE_LEN {
            // Both ends are ASCII, so character boundaries.
            return text.get(start..i).map(str::to_ascii_lowercase);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------------------

fn line_error(line: usize, code: &'static str, message: String) -> StatementLineError {
    StatementLineError {
        line,
        code,
        message,
    }
}

/// A non-blank, decoded data record (its cells cleaned) as a line, or why not.
fn read_line(
    template: &StatementTemplate,
    line: usize,
    cells: &[&str],
) -> Result<StatementLine, StatementLineError> {
    let need = |column: usize, name: &str| {
        cells.get(column).copied().ok_or_else(|| {
            line_error(
                line,
                "missing_cell",
                format!("只有{}列，缺少第{}列（{name}）", cells.len(), column + 1),
            )
        })
    };
    let optional = |column: Option<usize>| {
        column
            .and_then(|c| cells.get(c).copied())
            .filter(|text| !text.is_empty())
    };

    let date_text = need(template.date_column, DATE)?;
    if let AmountColumns::DebitCredit {
        debit_column,
        credit_column,
    } = template.amounts
    {
        need(debit_column, DEBIT)?;
        need(credit_column, CREDIT)?;
    }
    if date_text.is_empty() {
        return Err(line_error(line, "invalid_date", format!("{DATE}为空")));
    }
    let (booked_on, date_time) = parse_date_time(date_text).ok_or_else(|| {
        line_error(
            line,
            "invalid_date",
            format!("{DATE}“{date_text}”无法识别：应为2026-12-05、2026/12/05、20261205或2026年12月05日这样的日期"),
        )
    })?;
    let booked_at = match optional(template.time_column) {
        Some(text) => {
            let at = parse_time(text)
                .map(|time| booked_on.and_time(time))
                .or_else(|| match parse_date_time(text)? {
                    (date, Some(time)) => Some(date.and_time(time)),
                    (_, None) => None,
                });
            Some(at.ok_or_else(|| {
                line_error(
                    line,
                    "invalid_time",
                    format!("{TIME}“{text}”无法识别：应为10:23:45、102345或2026-12-05 10:23:45这样的时间"),
                )
            })?)
        }
        None => date_time.map(|time| booked_on.and_time(time)),
    };

    let amount = |column: usize, name: &str| -> Result<Option<i64>, StatementLineError> {
        let text = need(column, name)?;
        if no_amount(text) {
            return Ok(None);
        }
        let fen = parse_yuan(text).map_err(|_| {
            line_error(
                line,
                "invalid_amount",
                format!("{name}“{text}”无法识别：应为最多两位小数的金额（元）"),
            )
        })?;
        Ok((fen != 0).then_some(fen))
    };
    let (direction, amount_fen) = match template.amounts {
        AmountColumns::DebitCredit {
            debit_column,
            credit_column,
        } => {
            let debit = amount(debit_column, DEBIT)?;
            let credit = amount(credit_column, CREDIT)?;
            for (fen, name, column) in [
                (debit, DEBIT, debit_column),
                (credit, CREDIT, credit_column),
            ] {
                if fen.is_some_and(|f| f < 0) {
                    return Err(line_error(
                        line,
                        "negative_amount",
                        format!(
                            "{name}“{}”为负数：借方、贷方发生额应为正数",
                            cells.get(column).copied().unwrap_or_default()
                        ),
                    ));
                }
            }
            match (debit, credit) {
                (Some(fen), None) => (Direction::Out, fen),
                (None, Some(fen)) => (Direction::In, fen),
                (Some(_), Some(_)) => {
                    return Err(line_error(
                        line,
                        "both_amounts",
                        format!("{DEBIT}和{CREDIT}都有金额，无法判断收支方向"),
                    ))
                }
                (None, None) => {
                    return Err(line_error(
                        line,
                        "no_amount",
                        format!("{DEBIT}和{CREDIT}都为空或为零"),
                    ))
                }
            }
        }
        AmountColumns::Signed { amount_column } => match amount(amount_column, AMOUNT)? {
            Some(fen) if fen < 0 => (Direction::Out, -fen),
            Some(fen) => (Direction::In, fen),
            None => return Err(line_error(line, "no_amount", format!("{AMOUNT}为空或为零"))),
        },
    };

    let reference = template
        .reference_columns
        .iter()
        .filter_map(|&c| cells.get(c))
        .find_map(|text| find_reference(text));
    Ok(StatementLine {
        line,
        booked_on,
        booked_at,
        direction,
        amount_fen,
        reference,
        serial: optional(template.serial_column).map(str::to_owned),
        counterparty: optional(template.counterparty_column).map(str::to_owned),
    })
}

// ---------------------------------------------------------------------------------------
// The reader
// ---------------------------------------------------------------------------------------

/// Turning the file's bytes into UTF-8, and what tells its encoding.
struct Decoding {
    template_encoding: FileEncoding,
    /// The first bytes while it is not known whether they are a BOM.
    head: Vec<u8>,
    /// Set once the head is settled.
    decoder: Option<Decoder>,
    scratch: Vec<u8>,
    /// Whether the file, read as GBK by its template, might be UTF-8: every byte so far
    /// valid UTF-8. Off for a BOM or a UTF-8 template, and at the first byte that is not.
    probing: bool,
    /// An incomplete UTF-8 sequence at the end of the bytes probed so far.
    probe_tail: Vec<u8>,
    /// Non-ASCII bytes probed (up to [`UTF8_EVIDENCE_BYTES`]).
    non_ascii: u64,
}

impl Decoding {
    fn new(encoding: FileEncoding) -> Self {
        Self {
            template_encoding: encoding,
            head: Vec::with_capacity(UTF8_BOM.len()),
            decoder: None,
            scratch: vec![0; SCRATCH_BYTES],
            probing: encoding == FileEncoding::Gbk,
            probe_tail: Vec::new(),
            non_ascii: 0,
        }
    }

    /// The next bytes of the file.
    fn take(
        &mut self,
        chunk: &[u8],
        parse: &mut Parsing,
        sink: Sink<'_>,
    ) -> Result<(), StatementError> {
        let mut input = chunk;
        if self.decoder.is_none() {
            let wanted = UTF8_BOM.len() - self.head.len();
            let (head, rest) = input.split_at(wanted.min(input.len()));
            self.head.extend_from_slice(head);
            input = rest;
            if self.head.len() < UTF8_BOM.len() {
                return Ok(());
            }
            self.start(parse, sink)?;
        }
        self.probe(input);
        self.decode(input, false, parse, sink)
    }

    /// Settles the head: a BOM, or the first bytes of the text.
    fn start(&mut self, parse: &mut Parsing, sink: Sink<'_>) -> Result<(), StatementError> {
        let head = std::mem::take(&mut self.head);
        if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
            return Err(StatementError::WrongEncoding {
                expected: encoding_label(self.template_encoding),
                detail: "文件是UTF-16编码（可能是电子表格另存为“Unicode文本”），请导出为CSV".into(),
            });
        }
        let (encoding, text): (_, &[u8]) = if head == UTF8_BOM {
            self.probing = false;
            (FileEncoding::Utf8, &[])
        } else {
            (self.template_encoding, &head)
        };
        self.decoder = Some(new_decoder(encoding));
        parse.encoding = encoding;
        self.probe(text);
        self.decode(text, false, parse, sink)
    }

    /// Decodes `input`, handing the text to `parse`; a malformed sequence is a U+FFFD that
    /// marks its record.
    fn decode(
        &mut self,
        mut input: &[u8],
        last: bool,
        parse: &mut Parsing,
        sink: Sink<'_>,
    ) -> Result<(), StatementError> {
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(());
        };
        loop {
            let (result, read, written) =
                decoder.decode_to_utf8_without_replacement(input, &mut self.scratch, last);
            input = input.get(read..).unwrap_or_default();
            parse.consume(self.scratch.get(..written).unwrap_or_default(), sink)?;
            match result {
                DecoderResult::InputEmpty => return Ok(()),
                DecoderResult::OutputFull => {}
                DecoderResult::Malformed(..) => parse.consume_malformed(sink)?,
            }
        }
    }

    /// Checks whether the bytes so far are UTF-8 still.
    fn probe(&mut self, mut bytes: &[u8]) {
        if !self.probing || bytes.is_empty() {
            return;
        }
        if self.non_ascii < UTF8_EVIDENCE_BYTES {
            let more = bytes.iter().filter(|b| !b.is_ascii()).count();
            self.non_ascii = self
                .non_ascii
                .saturating_add(u64::try_from(more).unwrap_or(u64::MAX));
        }
        // Completes a sequence cut by the chunk boundary, a byte at a time.
        while !self.probe_tail.is_empty() {
            let Some((&first, rest)) = bytes.split_first() else {
                return;
            };
            bytes = rest;
            self.probe_tail.push(first);
            match std::str::from_utf8(&self.probe_tail) {
                Ok(_) => self.probe_tail.clear(),
                Err(e) if e.error_len().is_some() => {
                    self.probing = false;
                    return;
                }
                Err(_) => {}
            }
        }
        if let Err(e) = std::str::from_utf8(bytes) {
            match e.error_len() {
                Some(_) => self.probing = false,
                None => self.probe_tail = bytes[e.valid_up_to()..].to_vec(),
            }
        }
    }

    /// The end of the file: the last bytes decoded, and the file refused when it is plainly
    /// in another encoding.
    fn finish(&mut self, parse: &mut Parsing, sink: Sink<'_>) -> Result<(), StatementError> {
        if self.decoder.is_none() {
            self.start(parse, sink)?;
        }
        self.decode(&[], true, parse, sink)?;
        parse.flush(sink)?;
        let utf8 = self.probing && self.probe_tail.is_empty();
        if utf8 && self.non_ascii >= UTF8_EVIDENCE_BYTES {
            return Err(StatementError::WrongEncoding {
                expected: encoding_label(parse.encoding),
                detail: "文件似乎是UTF-8编码，请把对账单模板的编码改为UTF-8".into(),
            });
        }
        if parse.malformed_records > 0 && parse.clean_non_ascii_records == 0 {
            let label = encoding_label(parse.encoding);
            return Err(StatementError::WrongEncoding {
                expected: label,
                detail: format!(
                    "含有中文等非ASCII字符的记录没有一行能按{label}解码，请检查对账单模板的编码设置"
                ),
            });
        }
        Ok(())
    }
}

/// Splitting the text into records and reading them.
struct Parsing {
    template: StatementTemplate,
    /// The encoding the file is read in (a BOM's, else the template's).
    encoding: FileEncoding,
    records: RecordSplitter,
    /// Whether the record being read holds a malformed byte (a U+FFFD put in its place).
    record_malformed: bool,
    /// Records with non-ASCII text that decoded, and records that did not.
    clean_non_ascii_records: u64,
    malformed_records: u64,
    totals: StatementTotals,
}

impl Parsing {
    fn new(template: StatementTemplate, separator: u8) -> Self {
        Self {
            encoding: template.encoding,
            template,
            records: RecordSplitter::new(separator),
            record_malformed: false,
            clean_non_ascii_records: 0,
            malformed_records: 0,
            totals: StatementTotals::default(),
        }
    }

    /// The splitter, and what reading a record changes beside it.
    fn parts(&mut self) -> (&mut RecordSplitter, Read<'_>) {
        let Self {
            records,
            template,
            encoding,
            record_malformed,
            clean_non_ascii_records,
            malformed_records,
            totals,
        } = self;
        let read = Read {
            template,
            encoding: *encoding,
            record_malformed,
            clean_non_ascii_records,
            malformed_records,
            totals,
        };
        (records, read)
    }

    /// Gives decoded `input` to the record splitter, handling each record it completes.
    fn consume(&mut self, input: &[u8], sink: Sink<'_>) -> Result<(), StatementError> {
        let (records, mut read) = self.parts();
        records.consume(input, |r| -> Result<(), StatementError> {
            read.record(r, sink);
            Ok(())
        })
    }

    /// A malformed sequence: a U+FFFD in the record, which is marked.
    fn consume_malformed(&mut self, sink: Sink<'_>) -> Result<(), StatementError> {
        // Neither a line end nor a separator nor a quote: it starts or continues a record,
        // which stays open.
        self.consume("\u{FFFD}".as_bytes(), sink)?;
        self.record_malformed = true;
        Ok(())
    }

    /// The end of the text: the last record, when it has no line end.
    fn flush(&mut self, sink: Sink<'_>) -> Result<(), StatementError> {
        let (records, mut read) = self.parts();
        records.flush(|r| -> Result<(), StatementError> {
            read.record(r, sink);
            Ok(())
        })
    }
}

/// What reading a record needs of [`Parsing`] beside its splitter.
struct Read<'p> {
    template: &'p StatementTemplate,
    encoding: FileEncoding,
    record_malformed: &'p mut bool,
    clean_non_ascii_records: &'p mut u64,
    malformed_records: &'p mut u64,
    totals: &'p mut StatementTotals,
}

impl Read<'_> {
    fn record(&mut self, r: RawRecord<'_>, sink: Sink<'_>) {
        let line = r.line;
        let malformed = std::mem::take(self.record_malformed);
        let (bytes, ends) = (r.bytes, r.ends);
        // Decoded text split at ASCII bytes: always UTF-8.
        let text = std::str::from_utf8(bytes).ok();
        let malformed = malformed || text.is_none();
        if !bytes.is_ascii() {
            if malformed {
                *self.malformed_records += 1;
            } else {
                *self.clean_non_ascii_records += 1;
            }
        }
        if line <= self.template.skip_rows {
            return;
        }
        if malformed {
            self.totals.line_errors += 1;
            sink(Err(line_error(
                line,
                "undecodable",
                format!("含有无法按{}解码的字节", encoding_label(self.encoding)),
            )));
            return;
        }
        let text = text.unwrap_or_default();
        let mut start = 0;
        let cells: Vec<&str> = ends
            .iter()
            .map(|&end| {
                let cell = text.get(start..end).map_or("", clean_cell);
                start = end;
                cell
            })
            .collect();
        if cells.iter().all(|c| c.is_empty()) {
            return;
        }
        match read_line(self.template, line, &cells) {
            Ok(read) => {
                if self.totals.add(&read) {
                    sink(Ok(read));
                } else {
                    self.totals.line_errors += 1;
                    sink(Err(line_error(
                        line,
                        "total_overflow",
                        "金额使对账单合计超出范围".into(),
                    )));
                }
            }
            Err(error) => {
                self.totals.line_errors += 1;
                sink(Err(error));
            }
        }
    }
}

/// Reads a bank statement fed in chunks (see the module documentation):
///
/// ```
/// # use gongyou_domain::bank_statement::{StatementReader, StatementTemplate};
/// # use gongyou_domain::bank_file::FileEncoding;
/// # use gongyou_domain::reconcile::Direction;
/// let template = StatementTemplate {
///     encoding: FileEncoding::Utf8,
///     ..StatementTemplate::default()
/// };
/// let statement = "交易日期,交易时间,借方发生额,贷方发生额,余额,对方户名,对方账号,摘要,用途,流水号\r\n\
///     2026-12-05,10:23:45,\"1,200.00\",,8800.00,张三,6222000011112222,代发,报销0192F3C47A2B7C3D9E4F5A6B7C8D9E0F,B001\r\n";
/// let mut reader = StatementReader::new(template)?;
/// let mut lines = Vec::new();
/// for chunk in statement.as_bytes().chunks(7) {
///     reader.feed_with(chunk, |line| lines.push(line))?;
/// }
/// let totals = reader.finish(|line| lines.push(line))?;
/// let line = lines[0].as_ref().unwrap();
/// assert_eq!((line.direction, line.amount_fen), (Direction::Out, 120_000));
/// assert_eq!(line.reference.as_deref(), Some("0192f3c47a2b7c3d9e4f5a6b7c8d9e0f"));
/// assert_eq!((totals.out_lines, totals.out_fen), (1, 120_000));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A fatal error ([`StatementError`]) stops the reader: every later call returns it again.
pub struct StatementReader {
    decoding: Decoding,
    parsing: Parsing,
    failed: Option<StatementError>,
}

impl StatementReader {
    /// A reader of statements in `template`'s layout, or the template's fault when
    /// [`StatementTemplate::validate`] refuses it.
    pub fn new(template: StatementTemplate) -> Result<Self, TemplateError> {
        template.validate()?;
        let separator = u8::try_from(u32::from(template.separator)).unwrap_or(b',');
        Ok(Self {
            decoding: Decoding::new(template.encoding),
            parsing: Parsing::new(template, separator),
            failed: None,
        })
    }

    /// Reads `chunk`, the next bytes of the statement (any size, cut anywhere, even inside
    /// a character or a CRLF; empty means nothing), handing each line and line error it
    /// completes to `on_line`, in file order.
    pub fn feed_with(
        &mut self,
        chunk: &[u8],
        mut on_line: impl FnMut(Result<StatementLine, StatementLineError>),
    ) -> Result<(), StatementError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = self.decoding.take(chunk, &mut self.parsing, &mut on_line);
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }

    /// The end of the statement: hands the last line (one without a line end) to
    /// `on_line`, and returns the totals, or why the file cannot be read.
    pub fn finish(
        mut self,
        mut on_line: impl FnMut(Result<StatementLine, StatementLineError>),
    ) -> Result<StatementTotals, StatementError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        self.decoding.finish(&mut self.parsing, &mut on_line)?;
        Ok(self.parsing.totals)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    const REF_A: &str = "0192f3c47a2b7c3d9e4f5a6b7c8d9e0f";
    const REF_B: &str = "0192f3c47a2b7c3d9e4f5a6b7c8d9e1a";

    type Read = (
        Vec<StatementLine>,
        Vec<StatementLineError>,
        Result<StatementTotals, StatementError>,
    );

    /// `bytes` fed in chunks of `size`.
    fn read(template: &StatementTemplate, bytes: &[u8], size: usize) -> Read {
        let mut reader = StatementReader::new(template.clone()).unwrap();
        let mut lines = Vec::new();
        let mut errors = Vec::new();
        let mut sort = |event: Result<StatementLine, StatementLineError>| match event {
            Ok(line) => lines.push(line),
            Err(error) => errors.push(error),
        };
        for chunk in bytes.chunks(size.max(1)) {
            if let Err(e) = reader.feed_with(chunk, &mut sort) {
                // The reader stays stopped.
                assert_eq!(reader.feed_with(b"x", |_| {}).unwrap_err(), e);
                assert_eq!(reader.finish(|_| {}).unwrap_err(), e);
                return (lines, errors, Err(e));
            }
        }
        let totals = reader.finish(&mut sort);
        (lines, errors, totals)
    }

    /// As [`read`], checking that whole, byte by byte and in odd chunks give the same.
    fn read_every_way(template: &StatementTemplate, bytes: &[u8]) -> Read {
        let whole = read(template, bytes, bytes.len());
        for size in [1, 2, 3, 7, 4096] {
            assert_eq!(read(template, bytes, size), whole, "chunks of {size}");
        }
        whole
    }

    fn gbk(text: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = GBK.encode(text);
        assert!(!unmappable, "{text}");
        bytes.into_owned()
    }

    fn utf8_template() -> StatementTemplate {
        StatementTemplate {
            encoding: FileEncoding::Utf8,
            ..StatementTemplate::default()
        }
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn at(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        day(y, m, d).and_hms_opt(h, mi, s).unwrap()
    }

    /// A statement in the default layout: a header, then lines of every kind.
    fn default_layout_statement() -> String {
        [
            // 1: the header, skipped.
            "交易日期,交易时间,借方发生额(支出),贷方发生额(收入),余额,对方户名,对方账号,摘要,用途/附言,流水号",
            // 2: money out, the reference inside a longer 附言, upper case.
            &format!("2026-12-05,10:23:45,\"1,200.00\",,98800.00,张三,6222000011112222,代发,批量代发报销{},B0001", REF_A.to_uppercase()),
            // 3: an empty line.
            "",
            // 4: money in, Excel marks, the reference in 摘要.
            &format!("'20261205,=\"102400\",,=\"200.5\",99000.50,\"某公司,财务部\",'6222000033334444,退回 {REF_B},,=\"B0002\""),
            // 5: a bad date; reading goes on.
            "2026-13-05,10:00:00,1.00,,,,,,,B0003",
            // 6: both amounts.
            "2026-12-05,10:00:00,1.00,2.00,,,,,,B0004",
            // 7: neither amount.
            "2026-12-05,10:00:00,0.00,-,,,,,,B0005",
            // 8: a bad amount.
            "2026-12-05,10:00:00,12.345,,,,,,,B0006",
            // 9: too few cells.
            "2026-12-05,10:00:00,1.00",
            // 10: a blank record.
            " , , ,",
            // 11: trailing empty cells dropped; no reference, no time.
            "2026/12/6,,0.01,",
            // 12: a negative debit.
            "2026-12-06,,-5.00,,,,,,,B0007",
            // 13: a bad time.
            "2026-12-06,25:00:00,5.00,,,,,,,B0008",
            // 14: a 33-digit hex run is no reference; the next column's is.
            &format!("20261206,235959,,3,,李四,,{REF_B},{REF_A}0,B0009"),
        ]
        .join("\r\n")
    }

    fn check_default_layout(read: Read) {
        let (lines, errors, totals) = read;
        assert_eq!(
            lines,
            [
                StatementLine {
                    line: 2,
                    booked_on: day(2026, 12, 5),
                    booked_at: Some(at(2026, 12, 5, 10, 23, 45)),
                    direction: Direction::Out,
                    amount_fen: 120_000,
                    reference: Some(REF_A.into()),
                    serial: Some("B0001".into()),
                    counterparty: Some("张三".into()),
                },
                StatementLine {
                    line: 4,
                    booked_on: day(2026, 12, 5),
                    booked_at: Some(at(2026, 12, 5, 10, 24, 0)),
                    direction: Direction::In,
                    amount_fen: 20_050,
                    reference: Some(REF_B.into()),
                    serial: Some("B0002".into()),
                    counterparty: Some("某公司,财务部".into()),
                },
                StatementLine {
                    line: 11,
                    booked_on: day(2026, 12, 6),
                    booked_at: None,
                    direction: Direction::Out,
                    amount_fen: 1,
                    reference: None,
                    serial: None,
                    counterparty: None,
                },
                StatementLine {
                    line: 14,
                    booked_on: day(2026, 12, 6),
                    booked_at: Some(at(2026, 12, 6, 23, 59, 59)),
                    direction: Direction::In,
                    amount_fen: 300,
                    reference: Some(REF_B.into()),
                    serial: Some("B0009".into()),
                    counterparty: Some("李四".into()),
                },
            ]
        );
        let errors: Vec<_> = errors
            .iter()
            .map(|e| (e.line, e.code, e.message.as_str()))
            .collect();
        assert_eq!(
            errors,
            [
                (5, "invalid_date", "交易日期“2026-13-05”无法识别：应为2026-12-05、2026/12/05、20261205或2026年12月05日这样的日期"),
                (6, "both_amounts", "借方发生额和贷方发生额都有金额，无法判断收支方向"),
                (7, "no_amount", "借方发生额和贷方发生额都为空或为零"),
                (8, "invalid_amount", "借方发生额“12.345”无法识别：应为最多两位小数的金额（元）"),
                (9, "missing_cell", "只有3列，缺少第4列（贷方发生额）"),
                (12, "negative_amount", "借方发生额“-5.00”为负数：借方、贷方发生额应为正数"),
                (13, "invalid_time", "交易时间“25:00:00”无法识别：应为10:23:45、102345或2026-12-05 10:23:45这样的时间"),
            ]
        );
        assert_eq!(
            totals.unwrap(),
            StatementTotals {
                lines: 4,
                out_lines: 2,
                out_fen: 120_001,
                in_lines: 2,
                in_fen: 20_350,
                line_errors: 7,
            }
        );
    }

    #[test]
    fn a_utf8_statement_reads_the_same_fed_whole_or_byte_by_byte() {
        let text = default_layout_statement();
        check_default_layout(read_every_way(&utf8_template(), text.as_bytes()));
        // LF and lone CR line ends read the same; so does a final line end.
        for end in ["\n", "\r"] {
            let text = text.replace("\r\n", end) + end;
            check_default_layout(read_every_way(&utf8_template(), text.as_bytes()));
        }
    }

    #[test]
    fn a_gbk_statement_reads_the_same_and_a_bom_means_utf8() {
        let text = default_layout_statement();
        let template = StatementTemplate::default();
        assert_eq!(template.encoding, FileEncoding::Gbk);
        check_default_layout(read_every_way(&template, &gbk(&text)));
        // The template says GBK; the BOM says UTF-8.
        let mut bom = UTF8_BOM.to_vec();
        bom.extend_from_slice(text.as_bytes());
        check_default_layout(read_every_way(&template, &bom));
        // A UTF-8 template reads a BOM file too (the BOM is not a line).
        check_default_layout(read_every_way(&utf8_template(), &bom));
    }

    #[test]
    fn pipes_never_cut_a_gbk_character() {
        // 亅 is 0x81 0x7C in GBK: its second byte is '|'.
        assert_eq!(gbk("亅"), [0x81, 0x7C]);
        let template = StatementTemplate {
            separator: '|',
            skip_rows: 3,
            ..StatementTemplate::default()
        };
        let text = format!(
            "账户明细查询\n账号：6222000011112222|户名：某某工会\n交易日期|交易时间|借方|贷方|余额|对方户名|对方账号|摘要|附言|流水号\n\
             2026-12-05|10:00:00|200.00||0|王亅|1|代发|亅{REF_A}亅|S1\n"
        );
        let (lines, errors, totals) = read_every_way(&template, &gbk(&text));
        assert_eq!(errors, []);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].line, 4);
        assert_eq!(lines[0].counterparty.as_deref(), Some("王亅"));
        assert_eq!(lines[0].reference.as_deref(), Some(REF_A));
        assert_eq!(totals.unwrap().out_fen, 20_000);
    }

    #[test]
    fn a_signed_amount_column() {
        let template = StatementTemplate {
            encoding: FileEncoding::Utf8,
            separator: '\t',
            skip_rows: 0,
            date_column: 0,
            time_column: None,
            amounts: AmountColumns::Signed { amount_column: 1 },
            reference_columns: vec![2],
            serial_column: None,
            counterparty_column: None,
        };
        let text = format!(
            "2026-12-05 10:23:45\t-1,200.00\t{REF_A}\n\
             2026/12/05 08:00\t+3.10\tx\n\
             20261205101010\t7\n\
             2026年12月05日\t0.00\t\n\
             2026-12-05\t\t\n\
             2026-12-05T23:59:59.123\t-0.5\n\
             2026-12-05-10.23.45.123456\t1\n"
        );
        let (lines, errors, totals) = read_every_way(&template, text.as_bytes());
        let read: Vec<_> = lines
            .iter()
            .map(|l| {
                (
                    l.line,
                    l.booked_at,
                    l.direction,
                    l.amount_fen,
                    l.reference.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            read,
            [
                (
                    1,
                    Some(at(2026, 12, 5, 10, 23, 45)),
                    Direction::Out,
                    120_000,
                    Some(REF_A)
                ),
                (2, Some(at(2026, 12, 5, 8, 0, 0)), Direction::In, 310, None),
                (
                    3,
                    Some(at(2026, 12, 5, 10, 10, 10)),
                    Direction::In,
                    700,
                    None
                ),
                (
                    6,
                    Some(at(2026, 12, 5, 23, 59, 59)),
                    Direction::Out,
                    50,
                    None
                ),
                (
                    7,
                    Some(at(2026, 12, 5, 10, 23, 45)),
                    Direction::In,
                    100,
                    None
                ),
            ]
        );
        let errors: Vec<_> = errors.iter().map(|e| (e.line, e.code)).collect();
        assert_eq!(errors, [(4, "no_amount"), (5, "no_amount")]);
        let totals = totals.unwrap();
        assert_eq!((totals.out_lines, totals.out_fen), (2, 120_050));
        assert_eq!((totals.in_lines, totals.in_fen), (3, 1_110));
    }

    #[test]
    fn dates_and_times_in_every_accepted_shape() {
        let d = |text: &str| parse_date_time(text);
        let t = |h, m, s| NaiveTime::from_hms_opt(h, m, s);
        assert_eq!(d("2026-12-05"), Some((day(2026, 12, 5), None)));
        assert_eq!(d("2026/1/5"), Some((day(2026, 1, 5), None)));
        assert_eq!(d("20261205"), Some((day(2026, 12, 5), None)));
        assert_eq!(d("2026年12月5日"), Some((day(2026, 12, 5), None)));
        assert_eq!(
            d("2026-12-05  10:23"),
            Some((day(2026, 12, 5), t(10, 23, 0)))
        );
        assert_eq!(
            d("20261205 102345"),
            Some((day(2026, 12, 5), t(10, 23, 45)))
        );
        assert_eq!(d("20261205102345"), Some((day(2026, 12, 5), t(10, 23, 45))));
        assert_eq!(
            d("2026年12月05日 9:05:00"),
            Some((day(2026, 12, 5), t(9, 5, 0)))
        );
        for bad in [
            "",
            "2026",
            "2026-12",
            "2026-12-32",
            "2026-02-30",
            "2026.12.05",
            "2026-12/05",
            "12/05/2026",
            "2026-123-05",
            "202612051",
            "2026120510",
            "2026-12-0510:00",
            "2026-12-05 10",
            "2026-12-05 10:60",
            "2026-12-05 24:00:00",
            "2026-12-05 x",
            "2026年12月05",
            "2026-12-05 10.23",
            "２０２６-12-05",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
        assert_eq!(parse_time("9:05"), t(9, 5, 0));
        assert_eq!(parse_time("10.23.45"), t(10, 23, 45));
        assert_eq!(parse_time("10:23:45.5"), t(10, 23, 45));
        for bad in [
            "",
            "10",
            "1023",
            "10:2",
            "10:23:4",
            "10:23:45:00",
            "10:23:45.",
            "10.23",
            "ab:cd",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_time_column_holding_a_whole_date_and_time_is_taken_as_is() {
        let template = StatementTemplate {
            skip_rows: 0,
            ..utf8_template()
        };
        let text = "2026-12-05,2026-12-06 00:01:02,1.00,,,,,,,\n2026-12-05 08:00,09:00,1.00,,,,,,,\n2026-12-05 08:00,,1.00,";
        let (lines, errors, _) = read_every_way(&template, text.as_bytes());
        assert_eq!(errors, []);
        let read: Vec<_> = lines.iter().map(|l| (l.booked_on, l.booked_at)).collect();
        assert_eq!(
            read,
            [
                (day(2026, 12, 5), Some(at(2026, 12, 6, 0, 1, 2))),
                (day(2026, 12, 5), Some(at(2026, 12, 5, 9, 0, 0))),
                (day(2026, 12, 5), Some(at(2026, 12, 5, 8, 0, 0))),
            ]
        );
    }

    #[test]
    fn amounts_parse_exactly() {
        let ok = |s: &str| parse_yuan(s).ok();
        assert_eq!(ok("200"), Some(20_000));
        assert_eq!(ok("200.5"), Some(20_050));
        assert_eq!(ok("1,200.00"), Some(120_000));
        assert_eq!(ok("12,345,678.9"), Some(1_234_567_890));
        assert_eq!(ok("-1,200.01"), Some(-120_001));
        assert_eq!(ok("+0.01"), Some(1));
        assert_eq!(ok("0200.00"), Some(20_000));
        assert_eq!(ok("92233720368547758.07"), Some(i64::MAX));
        assert_eq!(ok("-92233720368547758.07"), Some(-i64::MAX));
        for bad in [
            "",
            "abc",
            "12.345",
            ".5",
            "200.",
            "1,20.00",
            ",200",
            "1.2.3",
            "--1",
            "+-1",
            "1 000",
            "１２",
            "92233720368547758.08",
            "1e3",
            "¥1",
        ] {
            assert_eq!(parse_yuan(bad), Err(AmountFault::Invalid), "{bad}");
        }
        assert!(no_amount("") && no_amount("-") && no_amount("--") && !no_amount("-1"));
    }

    #[test]
    fn references_are_whole_runs_of_32_hex_digits() {
        let upper = REF_A.to_uppercase();
        assert_eq!(find_reference(REF_A).as_deref(), Some(REF_A));
        assert_eq!(
            find_reference(&format!("报销{upper}")).as_deref(),
            Some(REF_A)
        );
        assert_eq!(
            find_reference(&format!("NO.{REF_A} 代发")).as_deref(),
            Some(REF_A)
        );
        assert_eq!(
            find_reference(&format!("NO{REF_A}")).as_deref(),
            Some(REF_A)
        );
        // Part of a longer run (a bank's own number, say): not ours.
        assert_eq!(find_reference(&format!("{REF_A}0")), None);
        assert_eq!(find_reference(&format!("a{REF_A}")), None);
        assert_eq!(find_reference(&REF_A[1..]), None);
        // The first whole run wins.
        assert_eq!(
            find_reference(&format!("{}0 {REF_B} {REF_A}", REF_A)).as_deref(),
            Some(REF_B)
        );
        assert_eq!(find_reference("代发工资"), None);
    }

    #[test]
    fn malformed_bytes_are_line_errors_and_reading_goes_on() {
        let template = StatementTemplate {
            skip_rows: 0,
            ..StatementTemplate::default()
        };
        let mut file = gbk("2026-12-05,,1.00,,,张三,,,,\n");
        file.extend_from_slice(b"2026-12-05,,2.00,,,\x81,,,,\n"); // a lead byte, then ','
        file.extend_from_slice(b"2026-12-05,,3.00,,,\xFF\xFF,,,,\r\n");
        file.extend_from_slice(&gbk("2026-12-05,,4.00,,,李四,,,,\n"));
        file.extend_from_slice(b"2026-12-05,,5.00,,,\x81"); // cut at the end of the file
        let (lines, errors, totals) = read_every_way(&template, &file);
        let amounts: Vec<_> = lines.iter().map(|l| (l.line, l.amount_fen)).collect();
        assert_eq!(amounts, [(1, 100), (4, 400)]);
        let errors: Vec<_> = errors
            .iter()
            .map(|e| (e.line, e.code, e.message.as_str()))
            .collect();
        assert_eq!(
            errors,
            [
                (2, "undecodable", "含有无法按GBK解码的字节"),
                (3, "undecodable", "含有无法按GBK解码的字节"),
                (5, "undecodable", "含有无法按GBK解码的字节"),
            ]
        );
        assert_eq!(totals.unwrap().line_errors, 3);
        // Undecodable header lines are skipped unread.
        let template = StatementTemplate {
            skip_rows: 1,
            ..template
        };
        let mut file = b"\xFD\xFF\xFE\n".to_vec();
        file.extend_from_slice(&gbk("2026-12-05,,1.00,,,张三,,,,\n"));
        let (lines, errors, totals) = read_every_way(&template, &file);
        assert_eq!((lines.len(), errors.len()), (1, 0));
        assert!(totals.is_ok());
    }

    #[test]
    fn a_file_in_another_encoding_is_refused_whole() {
        let text = default_layout_statement();
        // UTF-8 without a BOM, read as GBK.
        let (_, _, result) = read_every_way(&StatementTemplate::default(), text.as_bytes());
        let error = result.unwrap_err();
        assert_eq!(error.code(), "wrong_encoding");
        assert_eq!(
            error.to_string(),
            "对账单不是GBK编码：文件似乎是UTF-8编码，请把对账单模板的编码改为UTF-8"
        );
        // GBK read as UTF-8.
        let (_, _, result) = read_every_way(&utf8_template(), &gbk(&text));
        assert_eq!(
            result.unwrap_err(),
            StatementError::WrongEncoding {
                expected: "UTF-8",
                detail:
                    "含有中文等非ASCII字符的记录没有一行能按UTF-8解码，请检查对账单模板的编码设置"
                        .into()
            }
        );
        // UTF-16, as spreadsheets save "Unicode text".
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let (lines, errors, result) = read_every_way(&StatementTemplate::default(), &utf16);
        assert_eq!((lines.len(), errors.len()), (0, 0));
        assert_eq!(result.unwrap_err().code(), "wrong_encoding");
        // ASCII alone says nothing: read in either encoding.
        let ascii = format!("h\n2026-12-05,,1.00,,,,,,{REF_A},");
        for template in [StatementTemplate::default(), utf8_template()] {
            let (lines, _, result) = read_every_way(&template, ascii.as_bytes());
            assert_eq!(lines.len(), 1);
            assert!(result.is_ok());
        }
        // A few GBK characters that happen to be valid UTF-8 are still GBK.
        let (bytes, _, _) = GBK.encode("脙"); // 0xC3 0x91
        assert!(std::str::from_utf8(&bytes).is_ok());
        let mut file = b"2026-12-05,,1.00,,,".to_vec();
        file.extend_from_slice(&bytes);
        let template = StatementTemplate {
            skip_rows: 0,
            ..StatementTemplate::default()
        };
        let (lines, _, result) = read_every_way(&template, &file);
        assert_eq!(lines[0].counterparty.as_deref(), Some("脙"));
        assert!(result.is_ok());
        // Empty files are empty statements.
        for empty in [&b""[..], UTF8_BOM, b"\r\n\r\n"] {
            let (lines, errors, result) = read_every_way(&template, empty);
            assert_eq!((lines.len(), errors.len()), (0, 0));
            assert_eq!(result.unwrap(), StatementTotals::default());
        }
    }

    #[test]
    fn quoted_cells_keep_separators_and_line_breaks_and_lines_count_physically() {
        let template = StatementTemplate {
            skip_rows: 0,
            ..utf8_template()
        };
        let text = format!(
            "2026-12-05,,1.00,,,\"张三,\"\"三哥\"\"\",,,\"第一行\r\n第二行{REF_A}\",S1\n\n2026-12-05,,2.00,,,,,,,S2"
        );
        let (lines, errors, _) = read_every_way(&template, text.as_bytes());
        assert_eq!(errors, []);
        let read: Vec<_> = lines
            .iter()
            .map(|l| {
                (
                    l.line,
                    l.counterparty.as_deref(),
                    l.reference.as_deref(),
                    l.serial.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            read,
            [
                (1, Some("张三,\"三哥\""), Some(REF_A), Some("S1")),
                (4, None, None, Some("S2")),
            ]
        );
    }

    #[test]
    fn a_record_too_long_is_fatal() {
        let template = StatementTemplate {
            skip_rows: 0,
            ..utf8_template()
        };
        let mut text = "2026-12-05,,1.00,,,,,,,\n2026-12-05,,\"".to_string();
        text.push_str(&"x".repeat(MAX_RECORD_BYTES));
        let (lines, _, result) = read(&template, text.as_bytes(), 64 * 1024);
        assert_eq!(lines.len(), 1);
        assert_eq!(result, Err(StatementError::RecordTooLong { line: 2 }));
        let cells = ",".repeat(MAX_CELLS);
        let (_, _, result) = read(&template, cells.as_bytes(), 4096);
        assert_eq!(result, Err(StatementError::RecordTooLong { line: 1 }));
    }

    #[test]
    fn overflowing_totals_are_line_errors() {
        let template = StatementTemplate {
            skip_rows: 0,
            ..utf8_template()
        };
        let text = "2026-12-05,,92233720368547758.07,\n2026-12-05,,0.01,\n2026-12-05,,,0.01";
        let (lines, errors, totals) = read(&template, text.as_bytes(), 4096);
        assert_eq!(lines.len(), 2);
        assert_eq!((errors[0].line, errors[0].code), (2, "total_overflow"));
        let totals = totals.unwrap();
        assert_eq!(
            (totals.out_fen, totals.in_fen, totals.line_errors),
            (i64::MAX, 1, 1)
        );
    }

    #[test]
    fn templates_round_trip_as_json() {
        let json = serde_json::to_string(&StatementTemplate::default()).unwrap();
        assert_eq!(
            json,
            r#"{"encoding":"gbk","separator":",","skip_rows":1,"date_column":0,"time_column":1,"amounts":{"kind":"debit_credit","debit_column":2,"credit_column":3},"reference_columns":[8,7],"serial_column":9,"counterparty_column":5}"#
        );
        assert_eq!(
            serde_json::from_str::<StatementTemplate>("{}").unwrap(),
            StatementTemplate::default()
        );
        let custom: StatementTemplate = serde_json::from_str(
            r#"{"encoding":"utf8","separator":"|","amounts":{"kind":"signed","amount_column":4},
                "reference_columns":[6],"time_column":null,"serial_column":null}"#,
        )
        .unwrap();
        assert_eq!(custom.amounts, AmountColumns::Signed { amount_column: 4 });
        assert_eq!(custom.time_column, None);
        assert_eq!(custom.counterparty_column, Some(5));
        let back: StatementTemplate =
            serde_json::from_str(&serde_json::to_string(&custom).unwrap()).unwrap();
        assert_eq!(back, custom);
        for bad in [
            r#"{"colour":"red"}"#,
            r#"{"encoding":"gb18030"}"#,
            r#"{"separator":",,"}"#,
            r#"{"amounts":{"kind":"signed"}}"#,
            r#"{"amounts":{"kind":"signed","amount_column":1,"debit_column":2}}"#,
            r#"{"amounts":{"kind":"debit","debit_column":2}}"#,
            r#"{"amounts":{"debit_column":2,"credit_column":3}}"#,
            r#"{"date_column":-1}"#,
            r#"{"reference_columns":7}"#,
        ] {
            assert!(
                serde_json::from_str::<StatementTemplate>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn templates_are_validated() {
        let check = |edit: &dyn Fn(&mut StatementTemplate)| {
            let mut t = StatementTemplate::default();
            edit(&mut t);
            let e = t.validate().unwrap_err();
            assert_eq!(StatementReader::new(t).err(), Some(e.clone()));
            (e.code, e.column)
        };
        StatementTemplate::default().validate().unwrap();
        for bad in [
            'x', '"', '\'', '.', '-', '+', '/', ':', '=', ' ', '\n', '，',
        ] {
            assert_eq!(
                check(&|t| t.separator = bad),
                ("invalid_separator", None),
                "{bad:?}"
            );
        }
        for good in SEPARATORS.chars() {
            let t = StatementTemplate {
                separator: good,
                ..StatementTemplate::default()
            };
            assert!(t.validate().is_ok(), "{good:?}");
        }
        assert_eq!(
            check(&|t| t.skip_rows = MAX_SKIP_ROWS + 1),
            ("too_many_skip_rows", None)
        );
        assert_eq!(
            check(&|t| t.reference_columns.clear()),
            ("no_reference_columns", None)
        );
        assert_eq!(
            check(&|t| t.reference_columns = (10..=10 + MAX_REFERENCE_COLUMNS).collect()),
            ("too_many_reference_columns", None)
        );
        assert_eq!(
            check(&|t| t.time_column = Some(0)),
            ("duplicate_column", Some(0))
        );
        assert_eq!(
            check(&|t| t.amounts = AmountColumns::DebitCredit {
                debit_column: 2,
                credit_column: 2
            }),
            ("duplicate_column", Some(2))
        );
        assert_eq!(
            check(&|t| t.reference_columns = vec![8, 8]),
            ("duplicate_column", Some(8))
        );
        assert_eq!(
            check(&|t| t.serial_column = Some(8)),
            ("duplicate_column", Some(8))
        );
        assert_eq!(
            check(&|t| t.counterparty_column = Some(MAX_STATEMENT_COLUMNS)),
            ("column_out_of_range", Some(MAX_STATEMENT_COLUMNS))
        );
        let e = StatementTemplate {
            reference_columns: vec![8, 8],
            ..StatementTemplate::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.message, "第9列重复设为“附言”列");
        let e = StatementTemplate {
            time_column: Some(2),
            ..StatementTemplate::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.message, "第3列不能同时是“交易时间”和“借方发生额”");
        let edge = StatementTemplate {
            skip_rows: MAX_SKIP_ROWS,
            counterparty_column: Some(MAX_STATEMENT_COLUMNS - 1),
            reference_columns: (10..10 + MAX_REFERENCE_COLUMNS).collect(),
            ..StatementTemplate::default()
        };
        assert!(edge.validate().is_ok());
    }

    /// Bytes that matter to the reader: separators, quotes, line ends, digits and signs,
    /// GBK lead and trail bytes (0x81 0x7C is 亅), bytes no encoding takes, a BOM's.
    fn interesting_byte() -> impl Strategy<Value = u8> {
        prop::sample::select(vec![
            b',', b'|', b'"', b'\r', b'\n', b'0', b'1', b'2', b'9', b'-', b'/', b':', b'.', b' ',
            b'a', b'F', b'=', b'\'', 0x81, 0x7C, 0xD6, 0xD0, 0xFF, 0xEF, 0xBB, 0xBF, 0xE4, 0xB8,
            0xAD, 0x30,
        ])
    }

    proptest! {
        #[test]
        fn any_bytes_cut_anywhere_read_as_whole(
            bytes in prop::collection::vec(interesting_byte(), 0..300),
            size in 1..40usize,
            gbk_template in any::<bool>(),
            pipe in any::<bool>(),
        ) {
            let template = StatementTemplate {
                encoding: if gbk_template { FileEncoding::Gbk } else { FileEncoding::Utf8 },
                separator: if pipe { '|' } else { ',' },
                skip_rows: 0,
                ..StatementTemplate::default()
            };
            let whole = read(&template, &bytes, bytes.len());
            prop_assert_eq!(read(&template, &bytes, size), whole.clone());
            if let (lines, errors, Ok(totals)) = whole {
                prop_assert_eq!(totals.lines, u64::try_from(lines.len()).unwrap());
                prop_assert_eq!(totals.line_errors, u64::try_from(errors.len()).unwrap());
                prop_assert!(lines.iter().all(|l| l.amount_fen > 0));
            }
        }
    }
}
