//! Bank batch payroll files (批量代发): the transfer file finance uploads to the union's
//! bank, and the bank's result file imported to settle the batch. There is no cross-bank
//! format (facts: `shared/providers/wechatpay-transfers.md`), so both layouts are templates
//! a union configures: [`BankTemplate`] and [`BankResultTemplate`], stored and taken by the
//! API as JSON.
//!
//! Everything here is pure. Money is fen; yuan are only ever text, converted with integer
//! arithmetic.
//!
//! # Transfer file
//!
//! [`write_transfer_file`] writes one record per row, cells in the template's column order,
//! joined by its separator, each line ended by its line ending (the last one too), after a
//! header row when the template asks for one. Cells are never quoted: banks' tools do not
//! parse quoting, so a row with a cell that would need it — one holding the separator, a
//! `"`, a line break or another control character — is refused, as is a row with a cell
//! the file's encoding cannot write ([`crate::payout::encode_cell`]; never `&#NNNN;`), an
//! empty name, account or reference, an account that is not digits once spaces are
//! removed, a reference that is not an `out_bill_no`, or an amount not above zero. A
//! refused row is left out whole and listed in [`TransferFile::refused`] (its first fault,
//! in column order); every other row is written. Text cells are trimmed of surrounding
//! whitespace; amounts are yuan with exactly two decimals (`0.01`, `1999.99`).
//!
//! # Result file
//!
//! [`parse_results`] reads the bank's answer:
//!
//! - **Encoding** — a UTF-8 BOM means UTF-8 whatever the template says (the BOM is
//!   unambiguous; GBK never starts a file with it); otherwise the template's encoding. The
//!   bytes are decoded strictly *before* the file is split, so a separator such as `|`
//!   (0x7C), which GBK uses as the second byte of some characters, never cuts a character
//!   in two. A malformed byte makes its record a line error (it is never replaced).
//! - **Records** — CSV with the template's separator, `"` quotes (`""` inside), line ends
//!   CRLF, LF or CR. `line` is the physical line a record starts on, from 1. Records
//!   starting on the first [`BankResultTemplate::skip_rows`] lines are skipped unread (the
//!   bank's title and header lines), and so are empty lines and records whose cells are
//!   all blank, wherever they are.
//! - **Cells** — trimmed of whitespace; a leading `'` and Excel's `="…"` are dropped.
//! - **Lines** — each record is a [`BankResult`] or a [`ResultLineError`]: a malformed
//!   byte, a missing reference, status or amount column (a missing *reason* cell is an
//!   empty reason: banks' tools drop trailing empty cells), an empty or invalid reference
//!   (not 1 to 32 ASCII letters and digits, see [`crate::payout::valid_out_bill_no`]), a
//!   status in neither list (matched exactly; e.g. 处理中 — the payout stays open), an
//!   amount that is not a non-negative number with at most two decimals, an empty amount
//!   on a paid line (an empty amount on a failed line is `None`), or a reference already
//!   seen on an earlier line.
//! - **Amounts** — `200`, `200.5`, `200.50`, `1,200.00` (thousands separators in groups
//!   of three; quoted when the separator is a comma) and leading zeros are read exactly;
//!   `12.345`, `abc`, `-1.00`, `.5`, `1,20.00` are line errors.

use std::collections::HashMap;

use encoding_rs::{DecoderResult, Encoding, GBK, UTF_8};
use serde::{Deserialize, Serialize};

use crate::payout::{encode_cell, valid_out_bill_no};

/// Columns a transfer template may have, at most.
pub const MAX_COLUMNS: usize = 30;
/// Characters of a header, at most.
pub const MAX_HEADER_CHARS: usize = 64;
/// Characters of a fixed text (a literal column or the purpose), at most.
pub const MAX_FIXED_CHARS: usize = 128;
/// Columns of a result file a template may name (0-based, below this).
pub const MAX_RESULT_COLUMNS: usize = 256;
/// Lines at the top of a result file a template may skip, at most.
pub const MAX_SKIP_ROWS: usize = 100;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

// ---------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------

/// What a transfer file's column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BankColumn {
    /// 收款人姓名.
    PayeeName,
    /// 收款账号: digits only, spaces removed.
    Account,
    /// 开户行.
    Bank,
    /// 金额(元), two decimals.
    AmountYuan,
    /// The template's [`BankTemplate::purpose`] (用途).
    Purpose,
    /// The attempt's `out_bill_no` (业务参考号), which the bank echoes in its result.
    Reference,
    /// 备注.
    Remark,
    /// 手机号 (for the bank's SMS).
    Phone,
    /// Fixed text on every row, e.g. the payer's account.
    Literal(String),
}

impl BankColumn {
    fn kind(&self) -> ColumnKind {
        match self {
            Self::PayeeName => ColumnKind::PayeeName,
            Self::Account => ColumnKind::Account,
            Self::Bank => ColumnKind::Bank,
            Self::AmountYuan => ColumnKind::AmountYuan,
            Self::Purpose => ColumnKind::Purpose,
            Self::Reference => ColumnKind::Reference,
            Self::Remark => ColumnKind::Remark,
            Self::Phone => ColumnKind::Phone,
            Self::Literal(_) => ColumnKind::Literal,
        }
    }
}

/// One column of a transfer file. As JSON: `{"field":"payee_name","header":"收款人姓名"}`;
/// a literal carries its text in `value`: `{"field":"literal","header":"付款账号",
/// "value":"6222020200001234567"}` (`value` is required for a literal, refused otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ColumnSpecWire", into = "ColumnSpecWire")]
pub struct BankColumnSpec {
    pub field: BankColumn,
    pub header: String,
}

impl BankColumnSpec {
    pub fn new(field: BankColumn, header: impl Into<String>) -> Self {
        Self {
            field,
            header: header.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ColumnKind {
    PayeeName,
    Account,
    Bank,
    AmountYuan,
    Purpose,
    Reference,
    Remark,
    Phone,
    Literal,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnSpecWire {
    field: ColumnKind,
    header: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

impl TryFrom<ColumnSpecWire> for BankColumnSpec {
    type Error = String;

    fn try_from(wire: ColumnSpecWire) -> Result<Self, String> {
        let field = match (wire.field, wire.value) {
            (ColumnKind::Literal, Some(value)) => BankColumn::Literal(value),
            (ColumnKind::Literal, None) => {
                return Err("a literal column needs its text in `value`".into())
            }
            (_, Some(_)) => return Err("only a literal column has a `value`".into()),
            (ColumnKind::PayeeName, None) => BankColumn::PayeeName,
            (ColumnKind::Account, None) => BankColumn::Account,
            (ColumnKind::Bank, None) => BankColumn::Bank,
            (ColumnKind::AmountYuan, None) => BankColumn::AmountYuan,
            (ColumnKind::Purpose, None) => BankColumn::Purpose,
            (ColumnKind::Reference, None) => BankColumn::Reference,
            (ColumnKind::Remark, None) => BankColumn::Remark,
            (ColumnKind::Phone, None) => BankColumn::Phone,
        };
        Ok(Self {
            field,
            header: wire.header,
        })
    }
}

impl From<BankColumnSpec> for ColumnSpecWire {
    fn from(spec: BankColumnSpec) -> Self {
        let kind = spec.field.kind();
        let value = match spec.field {
            BankColumn::Literal(value) => Some(value),
            _ => None,
        };
        Self {
            field: kind,
            header: spec.header,
            value,
        }
    }
}

/// A bank file's encoding: `"gbk"` (decoded as GB18030, its superset) or `"utf8"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileEncoding {
    Gbk,
    Utf8,
}

impl FileEncoding {
    fn encoding(self) -> &'static Encoding {
        match self {
            Self::Gbk => GBK,
            Self::Utf8 => UTF_8,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Gbk => "GBK",
            Self::Utf8 => "UTF-8",
        }
    }
}

/// How a transfer file's lines end: `"crlf"` (Windows bank tools) or `"lf"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineEnding {
    Crlf,
    Lf,
}

impl LineEnding {
    fn bytes(self) -> &'static [u8] {
        match self {
            Self::Crlf => b"\r\n",
            Self::Lf => b"\n",
        }
    }
}

/// A union's transfer file layout. Missing JSON fields take [`BankTemplate::default`]'s
/// values; unknown ones are refused. Check with [`BankTemplate::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BankTemplate {
    pub columns: Vec<BankColumnSpec>,
    /// An ASCII punctuation character other than `"` and `.`, or a tab.
    pub separator: char,
    pub encoding: FileEncoding,
    /// Whether the first line holds the headers.
    pub header_row: bool,
    pub line_ending: LineEnding,
    /// The text of the [`BankColumn::Purpose`] column (用途).
    pub purpose: String,
}

impl Default for BankTemplate {
    /// 收款人姓名, 收款账号, 开户行, 金额(元), 用途, 业务参考号; comma, GBK, CRLF, a header
    /// row, purpose 报销.
    fn default() -> Self {
        Self {
            columns: vec![
                BankColumnSpec::new(BankColumn::PayeeName, "收款人姓名"),
                BankColumnSpec::new(BankColumn::Account, "收款账号"),
                BankColumnSpec::new(BankColumn::Bank, "开户行"),
                BankColumnSpec::new(BankColumn::AmountYuan, "金额(元)"),
                BankColumnSpec::new(BankColumn::Purpose, "用途"),
                BankColumnSpec::new(BankColumn::Reference, "业务参考号"),
            ],
            separator: ',',
            encoding: FileEncoding::Gbk,
            header_row: true,
            line_ending: LineEnding::Crlf,
            purpose: "报销".into(),
        }
    }
}

/// A template refused: a stable code, the column at fault (0-based) when there is one, and
/// what is wrong in zh-CN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub code: &'static str,
    pub column: Option<usize>,
    pub message: String,
}

impl TemplateError {
    fn new(code: &'static str, column: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            code,
            column,
            message: message.into(),
        }
    }
}

/// The separator's printable name, for messages.
fn separator_name(separator: char) -> String {
    match separator {
        '\t' => "制表符".into(),
        c => format!("“{c}”"),
    }
}

fn check_separator(separator: char) -> Result<(), TemplateError> {
    if separator == '\t' || (separator.is_ascii_punctuation() && !matches!(separator, '"' | '.')) {
        Ok(())
    } else {
        Err(TemplateError::new(
            "invalid_separator",
            None,
            format!(
                "分隔符{}不可用：请使用英文标点（如逗号、竖线）或制表符，不能是引号、小数点、字母、数字、空格或换行",
                separator_name(separator)
            ),
        ))
    }
}

/// Why a fixed text (header, literal, purpose) cannot stand in a cell, if it cannot.
fn fixed_text_fault(text: &str, template: &BankTemplate) -> Option<String> {
    if let Some(fault) = cell_fault(text, template.separator) {
        return Some(fault);
    }
    match encode_cell(text, template.encoding.encoding()) {
        Ok(_) => None,
        Err(c) => Some(format!(
            "含有{}无法表示的字符“{c}”",
            template.encoding.label()
        )),
    }
}

impl BankTemplate {
    /// Whether the template can write a file a bank reads: 1 to [`MAX_COLUMNS`] columns
    /// with 收款人姓名, 收款账号, 金额 and 业务参考号 exactly once each; a usable
    /// separator; headers non-empty, distinct, at most [`MAX_HEADER_CHARS`] characters;
    /// headers, literals and the purpose writable in the encoding and free of the
    /// separator, quotes and line breaks.
    pub fn validate(&self) -> Result<(), TemplateError> {
        if self.columns.is_empty() {
            return Err(TemplateError::new("no_columns", None, "模板没有任何列"));
        }
        if self.columns.len() > MAX_COLUMNS {
            return Err(TemplateError::new(
                "too_many_columns",
                None,
                format!("模板有{}列，最多{MAX_COLUMNS}列", self.columns.len()),
            ));
        }
        check_separator(self.separator)?;
        let required = [
            (ColumnKind::PayeeName, "收款人姓名"),
            (ColumnKind::Account, "收款账号"),
            (ColumnKind::AmountYuan, "金额"),
            (ColumnKind::Reference, "业务参考号"),
        ];
        for (kind, name) in required {
            let mut at = self
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.field.kind() == kind)
                .map(|(i, _)| i);
            match (at.next(), at.next()) {
                (None, _) => {
                    return Err(TemplateError::new(
                        "missing_column",
                        None,
                        format!("模板缺少“{name}”列"),
                    ))
                }
                (Some(_), Some(second)) => {
                    return Err(TemplateError::new(
                        "duplicate_column",
                        Some(second),
                        format!("第{}列：“{name}”列只能有一列", second + 1),
                    ))
                }
                (Some(_), None) => {}
            }
        }
        for (i, column) in self.columns.iter().enumerate() {
            let n = i + 1;
            let header = column.header.trim();
            if header.is_empty() {
                return Err(TemplateError::new(
                    "empty_header",
                    Some(i),
                    format!("第{n}列的表头为空"),
                ));
            }
            if column.header.chars().count() > MAX_HEADER_CHARS {
                return Err(TemplateError::new(
                    "header_too_long",
                    Some(i),
                    format!("第{n}列的表头超过{MAX_HEADER_CHARS}个字"),
                ));
            }
            if let Some(fault) = fixed_text_fault(&column.header, self) {
                return Err(TemplateError::new(
                    "invalid_header",
                    Some(i),
                    format!("第{n}列的表头“{}”{fault}", column.header),
                ));
            }
            if self.columns[..i].iter().any(|c| c.header.trim() == header) {
                return Err(TemplateError::new(
                    "duplicate_header",
                    Some(i),
                    format!("第{n}列的表头“{header}”与前面的列重复"),
                ));
            }
            if let BankColumn::Literal(value) = &column.field {
                if value.chars().count() > MAX_FIXED_CHARS {
                    return Err(TemplateError::new(
                        "literal_too_long",
                        Some(i),
                        format!("第{n}列（{header}）的固定内容超过{MAX_FIXED_CHARS}个字"),
                    ));
                }
                if let Some(fault) = fixed_text_fault(value, self) {
                    return Err(TemplateError::new(
                        "invalid_literal",
                        Some(i),
                        format!("第{n}列（{header}）的固定内容{fault}"),
                    ));
                }
            }
        }
        if self.purpose.chars().count() > MAX_FIXED_CHARS {
            return Err(TemplateError::new(
                "purpose_too_long",
                None,
                format!("用途超过{MAX_FIXED_CHARS}个字"),
            ));
        }
        if let Some(fault) = fixed_text_fault(&self.purpose, self) {
            return Err(TemplateError::new(
                "invalid_purpose",
                None,
                format!("用途“{}”{fault}", self.purpose),
            ));
        }
        Ok(())
    }
}

/// A union's bank's result file layout. Missing JSON fields take
/// [`BankResultTemplate::default`]'s values; unknown ones are refused. Check with
/// [`BankResultTemplate::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BankResultTemplate {
    pub encoding: FileEncoding,
    /// As [`BankTemplate::separator`].
    pub separator: char,
    /// Lines at the top of the file that are not results (title, headers).
    pub skip_rows: usize,
    /// Columns count from 0.
    pub reference_column: usize,
    pub status_column: usize,
    pub amount_column: Option<usize>,
    pub reason_column: Option<usize>,
    /// Status cells meaning paid, matched exactly after trimming.
    pub success_values: Vec<String>,
    /// Status cells meaning failed, matched exactly after trimming.
    pub failure_values: Vec<String>,
}

impl Default for BankResultTemplate {
    /// The bank's answer to the default [`BankTemplate`]: the uploaded file echoed with two
    /// columns appended — 收款人姓名, 收款账号, 开户行, 金额(元), 用途, 业务参考号, 处理结果,
    /// 失败原因 — so reference 5, amount 3, status 6, reason 7; GBK, comma, one header line.
    fn default() -> Self {
        Self {
            encoding: FileEncoding::Gbk,
            separator: ',',
            skip_rows: 1,
            reference_column: 5,
            status_column: 6,
            amount_column: Some(3),
            reason_column: Some(7),
            success_values: ["成功", "success", "SUCCESS", "S"].map(String::from).into(),
            failure_values: ["失败", "fail", "FAIL", "F"].map(String::from).into(),
        }
    }
}

impl BankResultTemplate {
    /// Whether the template can read a file: a usable separator, distinct columns, status
    /// lists non-empty, without blank values, and disjoint.
    pub fn validate(&self) -> Result<(), TemplateError> {
        check_separator(self.separator)?;
        if self.skip_rows > MAX_SKIP_ROWS {
            return Err(TemplateError::new(
                "too_many_skip_rows",
                None,
                format!("跳过的行数最多{MAX_SKIP_ROWS}行"),
            ));
        }
        let mut columns = vec![
            (self.reference_column, "业务参考号"),
            (self.status_column, "处理结果"),
        ];
        columns.extend(self.amount_column.map(|c| (c, "金额")));
        columns.extend(self.reason_column.map(|c| (c, "失败原因")));
        for (i, &(column, name)) in columns.iter().enumerate() {
            if column >= MAX_RESULT_COLUMNS {
                return Err(TemplateError::new(
                    "column_out_of_range",
                    Some(column),
                    format!("“{name}”的列号须在 0 至 {} 之间", MAX_RESULT_COLUMNS - 1),
                ));
            }
            if let Some(&(_, other)) = columns[..i].iter().find(|(c, _)| *c == column) {
                return Err(TemplateError::new(
                    "duplicate_column",
                    Some(column),
                    format!("第{}列不能同时是“{other}”和“{name}”", column + 1),
                ));
            }
        }
        for (values, name) in [
            (&self.success_values, "成功"),
            (&self.failure_values, "失败"),
        ] {
            if values.is_empty() {
                return Err(TemplateError::new(
                    "no_status_values",
                    Some(self.status_column),
                    format!("没有设置表示{name}的处理结果取值"),
                ));
            }
            if values.iter().any(|v| v.trim().is_empty()) {
                return Err(TemplateError::new(
                    "blank_status_value",
                    Some(self.status_column),
                    format!("表示{name}的处理结果取值中有空值"),
                ));
            }
        }
        if let Some(both) = self
            .success_values
            .iter()
            .find(|s| self.failure_values.iter().any(|f| f.trim() == s.trim()))
        {
            return Err(TemplateError::new(
                "ambiguous_status_value",
                Some(self.status_column),
                format!("处理结果取值“{}”不能既表示成功又表示失败", both.trim()),
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Transfer file
// ---------------------------------------------------------------------------------------

/// One payout to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankRow<'a> {
    /// The attempt's `out_bill_no`.
    pub reference: &'a str,
    pub payee_name: &'a str,
    pub account: &'a str,
    pub bank: &'a str,
    pub amount_fen: i64,
    pub remark: &'a str,
    pub phone: &'a str,
}

/// A row left out of the file: its reference, the header of the column at fault, a stable
/// code and what is wrong in zh-CN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowRefusal {
    pub reference: String,
    pub column: String,
    /// `line_break`, `control_character`, `quote`, `separator`, `unencodable`, `empty`,
    /// `invalid_account`, `invalid_reference`, `non_positive_amount` or `total_overflow`.
    pub reason_code: &'static str,
    pub detail: String,
}

/// A written transfer file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferFile {
    pub bytes: Vec<u8>,
    /// Data rows written (the header row not counted).
    pub rows: usize,
    /// Sum of the written rows' amounts.
    pub total_fen: i64,
    pub refused: Vec<RowRefusal>,
}

/// Fen as yuan with exactly two decimals: 1 → `0.01`, 200000 → `2000.00`.
fn format_yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Why `text` cannot stand unquoted in a cell, if it cannot (its code aside).
fn cell_fault(text: &str, separator: char) -> Option<String> {
    cell_fault_code(text, separator).map(|(_, detail)| detail)
}

fn cell_fault_code(text: &str, separator: char) -> Option<(&'static str, String)> {
    for c in text.chars() {
        if c == '\r' || c == '\n' {
            return Some(("line_break", "含有换行符".into()));
        }
        if c == separator {
            return Some((
                "separator",
                format!("含有分隔符{}", separator_name(separator)),
            ));
        }
        if c.is_control() {
            return Some((
                "control_character",
                format!("含有控制字符U+{:04X}", u32::from(c)),
            ));
        }
        if c == '"' {
            return Some(("quote", "含有英文双引号“\"”".into()));
        }
    }
    None
}

/// A row's cells as bytes, or why it is refused.
fn row_cells(template: &BankTemplate, row: &BankRow) -> Result<Vec<Vec<u8>>, RowRefusal> {
    let refuse = |column: &BankColumnSpec, code: &'static str, detail: String| RowRefusal {
        reference: row.reference.to_string(),
        column: column.header.clone(),
        reason_code: code,
        detail: format!("{}{detail}", column.header),
    };
    let mut cells = Vec::with_capacity(template.columns.len());
    for column in &template.columns {
        let text: String = match &column.field {
            BankColumn::PayeeName => row.payee_name.trim().into(),
            BankColumn::Account => row.account.chars().filter(|c| !c.is_whitespace()).collect(),
            BankColumn::Bank => row.bank.trim().into(),
            BankColumn::AmountYuan => {
                if row.amount_fen <= 0 {
                    return Err(refuse(
                        column,
                        "non_positive_amount",
                        format!("必须大于0，实为{}", format_yuan(row.amount_fen)),
                    ));
                }
                format_yuan(row.amount_fen)
            }
            BankColumn::Purpose => template.purpose.clone(),
            BankColumn::Reference => row.reference.trim().into(),
            BankColumn::Remark => row.remark.trim().into(),
            BankColumn::Phone => row.phone.trim().into(),
            BankColumn::Literal(value) => value.clone(),
        };
        if let Some((code, detail)) = cell_fault_code(&text, template.separator) {
            return Err(refuse(column, code, detail));
        }
        match &column.field {
            BankColumn::PayeeName | BankColumn::Account | BankColumn::Reference
                if text.is_empty() =>
            {
                return Err(refuse(column, "empty", "为空".into()));
            }
            BankColumn::Account if !text.bytes().all(|b| b.is_ascii_digit()) => {
                // The number itself stays out of the refusal (it is stored and shown).
                return Err(refuse(
                    column,
                    "invalid_account",
                    "只能包含数字（空格会被去掉）".into(),
                ));
            }
            BankColumn::Reference if !valid_out_bill_no(&text) => {
                return Err(refuse(
                    column,
                    "invalid_reference",
                    format!("“{text}”不是1到32位的字母或数字"),
                ));
            }
            _ => {}
        }
        match encode_cell(&text, template.encoding.encoding()) {
            Ok(bytes) => cells.push(bytes),
            Err(c) => {
                return Err(refuse(
                    column,
                    "unencodable",
                    format!("含有{}无法表示的字符“{c}”", template.encoding.label()),
                ))
            }
        }
    }
    Ok(cells)
}

fn push_record(out: &mut Vec<u8>, cells: &[Vec<u8>], separator: &[u8], line_end: &[u8]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(separator);
        }
        out.extend_from_slice(cell);
    }
    out.extend_from_slice(line_end);
}

/// The transfer file of `rows` in `template`'s layout (see the module documentation), or
/// the template's fault when [`BankTemplate::validate`] refuses it.
pub fn write_transfer_file(
    template: &BankTemplate,
    rows: &[BankRow],
) -> Result<TransferFile, TemplateError> {
    template.validate()?;
    let mut separator = [0u8; 4];
    let separator = template.separator.encode_utf8(&mut separator).as_bytes();
    let line_end = template.line_ending.bytes();
    let encoding = template.encoding.encoding();
    let mut file = TransferFile {
        bytes: Vec::new(),
        rows: 0,
        total_fen: 0,
        refused: Vec::new(),
    };
    if template.header_row {
        let mut headers = Vec::with_capacity(template.columns.len());
        for column in &template.columns {
            // validate() has checked every header encodes.
            headers.push(encode_cell(&column.header, encoding).unwrap_or_default());
        }
        push_record(&mut file.bytes, &headers, separator, line_end);
    }
    for row in rows {
        let cells = match row_cells(template, row) {
            Ok(cells) => cells,
            Err(refusal) => {
                file.refused.push(refusal);
                continue;
            }
        };
        let Some(total) = file.total_fen.checked_add(row.amount_fen) else {
            let header = template
                .columns
                .iter()
                .find(|c| c.field == BankColumn::AmountYuan)
                .map(|c| c.header.clone())
                .unwrap_or_default();
            file.refused.push(RowRefusal {
                reference: row.reference.to_string(),
                detail: format!("{header}使文件合计金额超出范围"),
                column: header,
                reason_code: "total_overflow",
            });
            continue;
        };
        file.total_fen = total;
        file.rows += 1;
        push_record(&mut file.bytes, &cells, separator, line_end);
    }
    Ok(file)
}

// ---------------------------------------------------------------------------------------
// Result file
// ---------------------------------------------------------------------------------------

/// What the bank did with one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BankOutcome {
    Paid,
    /// `reason`: the bank's reason cell, trimmed; empty when it gave none.
    Failed {
        reason: String,
    },
}

/// One line of the bank's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BankResult {
    /// The physical line the record starts on, from 1.
    pub line: usize,
    pub reference: String,
    pub outcome: BankOutcome,
    /// The amount the bank reports, when the template has an amount column and the cell is
    /// not empty (always present on a paid line then).
    pub amount_fen: Option<i64>,
}

/// A line of the bank's answer that could not be read, and why in zh-CN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultLineError {
    pub line: usize,
    pub detail: String,
}

/// One CSV record of the decoded file.
struct Record {
    line: usize,
    fields: Vec<Vec<u8>>,
    /// A byte of the record was malformed in the file's encoding.
    malformed: bool,
}

/// `bytes` decoded to UTF-8 strictly, with a U+FFFD in place of each malformed sequence
/// and the offsets (in the output) where those were put. The decoders never swallow an
/// ASCII byte after a malformed sequence, so line ends, quotes and separators survive.
fn decode(bytes: &[u8], encoding: &'static Encoding) -> (Vec<u8>, Vec<usize>) {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut out = Vec::with_capacity(bytes.len().saturating_add(bytes.len() / 2));
    let mut malformed = Vec::new();
    let mut scratch = vec![0u8; 8192];
    let mut input = bytes;
    loop {
        let (result, read, written) =
            decoder.decode_to_utf8_without_replacement(input, &mut scratch, true);
        out.extend_from_slice(&scratch[..written]);
        input = input.get(read..).unwrap_or_default();
        match result {
            DecoderResult::InputEmpty => break,
            DecoderResult::OutputFull => {}
            DecoderResult::Malformed(..) => {
                malformed.push(out.len());
                out.extend_from_slice("\u{FFFD}".as_bytes());
            }
        }
    }
    (out, malformed)
}

/// Whether the byte at `i` of `text` ends a line (LF, or CR not followed by LF).
fn ends_line(text: &[u8], i: usize) -> bool {
    match text.get(i) {
        Some(b'\n') => true,
        Some(b'\r') => text.get(i + 1) != Some(&b'\n'),
        _ => false,
    }
}

/// The records of decoded `text`.
fn split(text: &[u8], malformed: &[usize], separator: u8) -> Vec<Record> {
    let mut reader = csv_core::ReaderBuilder::new().delimiter(separator).build();
    let mut scratch = vec![0u8; 4096];
    let mut records = Vec::new();
    let mut pos = 0;
    let mut line = 1;
    loop {
        // Line ends between records (empty lines, the LF of a CRLF), which csv_core would
        // discard anyway; skipping them here tells the line the next record starts on.
        while let Some(&b) = text.get(pos) {
            if b != b'\n' && b != b'\r' {
                break;
            }
            if ends_line(text, pos) {
                line += 1;
            }
            pos += 1;
        }
        if pos >= text.len() {
            break;
        }
        let start = pos;
        let start_line = line;
        let mut fields = vec![Vec::new()];
        loop {
            let input = text.get(pos..).unwrap_or_default();
            let (result, read, written) = reader.read_field(input, &mut scratch);
            line += (pos..pos + read).filter(|&i| ends_line(text, i)).count();
            pos += read;
            if let Some(field) = fields.last_mut() {
                field.extend_from_slice(&scratch[..written]);
            }
            match result {
                csv_core::ReadFieldResult::OutputFull => {}
                // The input is all there is: an empty input tells csv_core the file ended.
                csv_core::ReadFieldResult::InputEmpty => {
                    if input.is_empty() {
                        break;
                    }
                }
                csv_core::ReadFieldResult::End => break,
                csv_core::ReadFieldResult::Field { record_end } => {
                    if record_end {
                        break;
                    }
                    fields.push(Vec::new());
                }
            }
        }
        let first_bad = malformed.partition_point(|&m| m < start);
        records.push(Record {
            line: start_line,
            fields,
            malformed: malformed.get(first_bad).is_some_and(|&m| m < pos),
        });
    }
    records
}

/// A cell as the template reads it: trimmed, a leading `'` and `="…"` dropped.
pub(crate) fn clean_cell(text: &str) -> &str {
    let text = text.trim();
    if let Some(inner) = text
        .strip_prefix("=\"")
        .and_then(|rest| rest.strip_suffix('"'))
    {
        return inner.trim();
    }
    text.strip_prefix('\'').map_or(text, str::trim)
}

/// Why an amount cell cannot be read.
enum AmountFault {
    Negative,
    Invalid,
}

/// Yuan text to fen: digits, optionally grouped by thousands commas, then optionally `.`
/// and one or two digits.
fn parse_yuan(text: &str) -> Result<i64, AmountFault> {
    if let Some(rest) = text.strip_prefix('-') {
        return match unsigned_yuan(rest) {
            Some(_) => Err(AmountFault::Negative),
            None => Err(AmountFault::Invalid),
        };
    }
    unsigned_yuan(text).ok_or(AmountFault::Invalid)
}

/// Unsigned yuan text to fen, exactly: digits (thousands commas in groups of three
/// allowed), then optionally `.` and one or two digits; `None` for anything else or an
/// amount beyond `i64` fen. Shared with the bank statement reader.
pub(crate) fn unsigned_yuan(text: &str) -> Option<i64> {
    let (whole, frac) = match text.split_once('.') {
        Some((whole, frac)) if (1..=2).contains(&frac.len()) => (whole, frac),
        Some(_) => return None,
        None => (text, ""),
    };
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if whole.contains(',') {
        let mut groups = whole.split(',');
        let first_ok = groups.next().is_some_and(|g| (1..=3).contains(&g.len()));
        if !first_ok || groups.any(|g| g.len() != 3) {
            return None;
        }
    }
    let digits = whole.bytes().filter(|&b| b != b',');
    if whole.is_empty() || !digits.clone().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .chain(frac.bytes())
        .chain(std::iter::repeat_n(b'0', 2 - frac.len()))
        .try_fold(0i64, |acc, b| {
            acc.checked_mul(10)?.checked_add(i64::from(b - b'0'))
        })
}

/// The bank's answer in `bytes`, read with `template` (see the module documentation): the
/// lines read, in file order, and the lines that could not be; or the template's fault when
/// [`BankResultTemplate::validate`] refuses it.
pub fn parse_results(
    template: &BankResultTemplate,
    bytes: &[u8],
) -> Result<(Vec<BankResult>, Vec<ResultLineError>), TemplateError> {
    template.validate()?;
    let (encoding, bytes) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (FileEncoding::Utf8, rest),
        None => (template.encoding, bytes),
    };
    let separator = u8::try_from(u32::from(template.separator)).unwrap_or(b',');
    let (text, malformed) = decode(bytes, encoding.encoding());
    let mut results: Vec<BankResult> = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashMap::new();
    for record in split(&text, &malformed, separator) {
        if record.line <= template.skip_rows {
            continue;
        }
        let line = record.line;
        if record.malformed {
            errors.push(ResultLineError {
                line,
                detail: format!("含有无法按{}解码的字节", encoding.label()),
            });
            continue;
        }
        // Decoded text split at ASCII bytes is UTF-8: the lossy conversion never replaces.
        let cells: Vec<String> = record
            .fields
            .iter()
            .map(|f| clean_cell(&String::from_utf8_lossy(f)).to_string())
            .collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        match read_line(template, line, &cells, &seen) {
            Ok(result) => {
                seen.insert(result.reference.clone(), line);
                results.push(result);
            }
            Err(detail) => errors.push(ResultLineError { line, detail }),
        }
    }
    Ok((results, errors))
}

/// One non-blank record as a result, or why not.
fn read_line(
    template: &BankResultTemplate,
    line: usize,
    cells: &[String],
    seen: &HashMap<String, usize>,
) -> Result<BankResult, String> {
    let cell = |column: usize, name: &str| {
        cells
            .get(column)
            .map(String::as_str)
            .ok_or_else(|| format!("只有{}列，缺少第{}列（{name}）", cells.len(), column + 1))
    };
    let reference = cell(template.reference_column, "业务参考号")?;
    let status = cell(template.status_column, "处理结果")?;
    let amount = match template.amount_column {
        Some(column) => Some(cell(column, "金额")?),
        None => None,
    };
    if reference.is_empty() {
        return Err("业务参考号为空".into());
    }
    if !valid_out_bill_no(reference) {
        return Err(format!(
            "业务参考号“{reference}”无效：应为1到32位的字母或数字"
        ));
    }
    if let Some(first) = seen.get(reference) {
        return Err(format!(
            "业务参考号“{reference}”重复（首次出现在第{first}行）"
        ));
    }
    let outcome = if template.success_values.iter().any(|v| v.trim() == status) {
        BankOutcome::Paid
    } else if template.failure_values.iter().any(|v| v.trim() == status) {
        let reason = template
            .reason_column
            .and_then(|c| cells.get(c))
            .cloned()
            .unwrap_or_default();
        BankOutcome::Failed { reason }
    } else if status.is_empty() {
        return Err("处理结果为空".into());
    } else {
        return Err(format!("无法识别的处理结果“{status}”"));
    };
    let amount_fen = match amount {
        None => None,
        Some("") if outcome == BankOutcome::Paid => {
            return Err("处理成功但金额为空".into());
        }
        Some("") => None,
        Some(text) => match parse_yuan(text) {
            Ok(fen) => Some(fen),
            Err(AmountFault::Negative) => return Err(format!("金额“{text}”为负数")),
            Err(AmountFault::Invalid) => {
                return Err(format!(
                    "无法识别的金额“{text}”：应为最多两位小数的数字（元）"
                ))
            }
        },
    };
    Ok(BankResult {
        line,
        reference: reference.to_string(),
        outcome,
        amount_fen,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    const REF_A: &str = "0192f3c47a2b7c3d9e4f5a6b7c8d9e0f";
    const REF_B: &str = "0192f3c47a2b7c3d9e4f5a6b7c8d9e1a";
    const REF_C: &str = "0192f3c47a2b7c3d9e4f5a6b7c8d9e2b";

    fn row<'a>(reference: &'a str, name: &'a str, amount_fen: i64) -> BankRow<'a> {
        BankRow {
            reference,
            payee_name: name,
            account: "6222 0202 0000 1234 567",
            bank: "中国工商银行北京分行",
            amount_fen,
            remark: "",
            phone: "13800138000",
        }
    }

    fn gbk(text: &str) -> Vec<u8> {
        encode_cell(text, GBK).unwrap()
    }

    fn gbk_text(bytes: &[u8]) -> String {
        GBK.decode_without_bom_handling_and_without_replacement(bytes)
            .unwrap()
            .into_owned()
    }

    /// A template of `columns`, '|' separated, GBK, LF, no header.
    fn pipe_template(columns: Vec<BankColumnSpec>) -> BankTemplate {
        BankTemplate {
            columns,
            separator: '|',
            encoding: FileEncoding::Gbk,
            header_row: false,
            line_ending: LineEnding::Lf,
            purpose: "报销".into(),
        }
    }

    fn minimal_columns() -> Vec<BankColumnSpec> {
        vec![
            BankColumnSpec::new(BankColumn::Reference, "参考号"),
            BankColumnSpec::new(BankColumn::AmountYuan, "金额"),
            BankColumnSpec::new(BankColumn::PayeeName, "姓名"),
            BankColumnSpec::new(BankColumn::Account, "账号"),
        ]
    }

    #[test]
    fn the_default_template_round_trips_through_the_banks_answer() {
        let template = BankTemplate::default();
        template.validate().unwrap();
        let rows = [
            row(REF_A, "张三", 12_345),
            row(REF_B, "吉𠮷", 500),
            row(REF_C, "欧阳·娜娜", 200_000),
        ];
        let file = write_transfer_file(&template, &rows).unwrap();
        assert_eq!(file.rows, 2);
        assert_eq!(file.total_fen, 212_345);
        assert_eq!(file.refused.len(), 1);
        assert_eq!(file.refused[0].reference, REF_B);
        assert_eq!(file.refused[0].reason_code, "unencodable");
        assert_eq!(
            file.refused[0].detail,
            "收款人姓名含有GBK无法表示的字符“𠮷”"
        );
        let text = gbk_text(&file.bytes);
        assert_eq!(
            text,
            format!(
                "收款人姓名,收款账号,开户行,金额(元),用途,业务参考号\r\n\
                 张三,6222020200001234567,中国工商银行北京分行,123.45,报销,{REF_A}\r\n\
                 欧阳·娜娜,6222020200001234567,中国工商银行北京分行,2000.00,报销,{REF_C}\r\n"
            )
        );

        // The bank echoes the file with 处理结果 and 失败原因 appended.
        let mut answer = String::new();
        for (i, line) in text.split_terminator("\r\n").enumerate() {
            let extra = match i {
                0 => ",处理结果,失败原因",
                1 => ",成功,",
                _ => ",失败,户名与账号不符",
            };
            answer.push_str(line);
            answer.push_str(extra);
            answer.push_str("\r\n");
        }
        let (results, errors) =
            parse_results(&BankResultTemplate::default(), &gbk(&answer)).unwrap();
        assert_eq!(errors, []);
        assert_eq!(
            results,
            [
                BankResult {
                    line: 2,
                    reference: REF_A.into(),
                    outcome: BankOutcome::Paid,
                    amount_fen: Some(12_345),
                },
                BankResult {
                    line: 3,
                    reference: REF_C.into(),
                    outcome: BankOutcome::Failed {
                        reason: "户名与账号不符".into()
                    },
                    amount_fen: Some(200_000),
                },
            ]
        );
    }

    #[test]
    fn a_custom_pipe_separated_gbk_file_is_written_byte_for_byte() {
        let mut columns = minimal_columns();
        columns.push(BankColumnSpec::new(
            BankColumn::Literal("6222000011112222".into()),
            "付款账号",
        ));
        columns.push(BankColumnSpec::new(BankColumn::Purpose, "用途"));
        let mut template = pipe_template(columns);
        let file = write_transfer_file(&template, &[row(REF_A, " 张三 ", 12_345)]).unwrap();
        let mut expected = Vec::new();
        expected.extend_from_slice(REF_A.as_bytes());
        expected.extend_from_slice(b"|123.45|");
        expected.extend_from_slice(&[0xD5, 0xC5, 0xC8, 0xFD]); // 张三
        expected.extend_from_slice(b"|6222020200001234567|6222000011112222|");
        expected.extend_from_slice(&[0xB1, 0xA8, 0xCF, 0xFA]); // 报销
        expected.push(b'\n');
        assert_eq!(file.bytes, expected);
        assert_eq!((file.rows, file.total_fen), (1, 12_345));

        template.header_row = true;
        template.line_ending = LineEnding::Crlf;
        let file = write_transfer_file(&template, &[]).unwrap();
        assert_eq!(file.bytes, gbk("参考号|金额|姓名|账号|付款账号|用途\r\n"));
        assert_eq!((file.rows, file.total_fen), (0, 0));
    }

    #[test]
    fn names_gbk_cannot_write_are_refused_under_gbk_and_written_under_utf8() {
        let mut template = pipe_template(minimal_columns());
        let rows = [row(REF_A, "吉𠮷", 100), row(REF_B, "李😀", 100)];
        let file = write_transfer_file(&template, &rows).unwrap();
        assert_eq!(file.rows, 0);
        assert!(file.bytes.is_empty());
        let details: Vec<_> = file.refused.iter().map(|r| r.detail.as_str()).collect();
        assert_eq!(
            details,
            [
                "姓名含有GBK无法表示的字符“𠮷”",
                "姓名含有GBK无法表示的字符“😀”"
            ]
        );
        assert!(file.refused.iter().all(|r| r.column == "姓名"));

        template.encoding = FileEncoding::Utf8;
        let file = write_transfer_file(&template, &rows).unwrap();
        assert_eq!(file.refused, []);
        assert_eq!(
            String::from_utf8(file.bytes).unwrap(),
            format!(
                "{REF_A}|1.00|吉𠮷|6222020200001234567\n{REF_B}|1.00|李😀|6222020200001234567\n"
            )
        );
    }

    #[test]
    fn cells_that_would_need_quoting_are_refused_never_quoted() {
        let mut template = BankTemplate::default();
        template
            .columns
            .push(BankColumnSpec::new(BankColumn::Remark, "备注"));
        let with_remark = |remark: &'static str| {
            let mut r = row(REF_A, "张三", 100);
            r.remark = remark;
            let file = write_transfer_file(&template, &[r]).unwrap();
            (file.rows, file.refused.first().map(|r| r.reason_code))
        };
        assert_eq!(with_remark("一,二"), (0, Some("separator")));
        assert_eq!(with_remark("说\"明"), (0, Some("quote")));
        assert_eq!(with_remark("一\r\n二"), (0, Some("line_break")));
        assert_eq!(with_remark("一\n二"), (0, Some("line_break")));
        assert_eq!(with_remark("一\t二"), (0, Some("control_character")));
        // Only this template's separator counts; full-width punctuation is text.
        assert_eq!(with_remark("一|二，“三”"), (1, None));

        let file = write_transfer_file(&template, &[row(REF_A, "张,三", 100)]).unwrap();
        assert_eq!(file.refused[0].detail, "收款人姓名含有分隔符“,”");
        let tab = BankTemplate {
            separator: '\t',
            ..BankTemplate::default()
        };
        let file = write_transfer_file(&tab, &[row(REF_A, "张\t三", 100)]).unwrap();
        assert_eq!(file.refused[0].detail, "收款人姓名含有分隔符制表符");
    }

    #[test]
    fn amounts_are_yuan_with_two_decimals_and_must_be_positive() {
        let template = pipe_template(minimal_columns());
        let rows = [
            row(REF_A, "张三", 1),
            row(REF_B, "张三", 199_999),
            row(REF_C, "张三", 200_000),
            row("a1", "张三", 0),
            row("a2", "张三", -5),
        ];
        let file = write_transfer_file(&template, &rows).unwrap();
        let text = gbk_text(&file.bytes);
        let amounts: Vec<_> = text.lines().map(|l| l.split('|').nth(1).unwrap()).collect();
        assert_eq!(amounts, ["0.01", "1999.99", "2000.00"]);
        assert_eq!(file.total_fen, 1 + 199_999 + 200_000);
        let refused: Vec<_> = file
            .refused
            .iter()
            .map(|r| (r.reference.as_str(), r.reason_code, r.detail.as_str()))
            .collect();
        assert_eq!(
            refused,
            [
                ("a1", "non_positive_amount", "金额必须大于0，实为0.00"),
                ("a2", "non_positive_amount", "金额必须大于0，实为-0.05"),
            ]
        );
        assert_eq!(format_yuan(i64::MAX), "92233720368547758.07");
        assert_eq!(format_yuan(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn accounts_are_digits_and_references_out_bill_numbers() {
        let template = pipe_template(minimal_columns());
        let with = |account: &'static str, reference: &'static str, name: &'static str| {
            let mut r = row(reference, name, 100);
            r.account = account;
            let file = write_transfer_file(&template, &[r]).unwrap();
            file.refused
                .first()
                .map(|r| (r.column.clone(), r.reason_code))
        };
        assert_eq!(with(" 6222　0202 ", REF_A, "张三"), None);
        assert_eq!(
            with("6222-0202", REF_A, "张三"),
            Some(("账号".into(), "invalid_account"))
        );
        let mut r = row(REF_A, "张三", 100);
        r.account = "6222-0202";
        let file = write_transfer_file(&template, &[r]).unwrap();
        assert_eq!(file.refused[0].detail, "账号只能包含数字（空格会被去掉）");
        assert_eq!(
            with("６２２２", REF_A, "张三"),
            Some(("账号".into(), "invalid_account"))
        );
        assert_eq!(with("  ", REF_A, "张三"), Some(("账号".into(), "empty")));
        assert_eq!(with("6222", REF_A, " "), Some(("姓名".into(), "empty")));
        assert_eq!(with("6222", "", "张三"), Some(("参考号".into(), "empty")));
        assert_eq!(
            with("6222", "0192f3c4-7a2b", "张三"),
            Some(("参考号".into(), "invalid_reference"))
        );
    }

    #[test]
    fn templates_are_validated_with_the_column_at_fault() {
        let check = |edit: &dyn Fn(&mut BankTemplate)| {
            let mut t = BankTemplate::default();
            edit(&mut t);
            let e = t.validate().unwrap_err();
            // An invalid template writes nothing.
            assert_eq!(write_transfer_file(&t, &[]), Err(e.clone()));
            (e.code, e.column, e.message)
        };
        assert_eq!(check(&|t| t.columns.clear()).0, "no_columns");
        assert_eq!(
            check(&|t| {
                for i in 0..30 {
                    t.columns
                        .push(BankColumnSpec::new(BankColumn::Remark, format!("备注{i}")));
                }
            })
            .0,
            "too_many_columns"
        );
        assert_eq!(
            check(&|t| {
                t.columns.remove(5);
            }),
            ("missing_column", None, "模板缺少“业务参考号”列".into())
        );
        assert_eq!(
            check(&|t| t
                .columns
                .push(BankColumnSpec::new(BankColumn::Account, "账号2"))),
            (
                "duplicate_column",
                Some(6),
                "第7列：“收款账号”列只能有一列".into()
            )
        );
        for bad in ['"', '\n', '\r', 'a', '7', '.', ' ', '，', '字'] {
            assert_eq!(
                check(&|t| t.separator = bad).0,
                "invalid_separator",
                "{bad:?}"
            );
        }
        assert_eq!(
            check(&|t| t.columns[2].header = " ".into()),
            ("empty_header", Some(2), "第3列的表头为空".into())
        );
        assert_eq!(
            check(&|t| t.columns[1].header = "账".repeat(65)).0,
            "header_too_long"
        );
        assert_eq!(
            check(&|t| t.columns[0].header = "姓名,全称".into()),
            (
                "invalid_header",
                Some(0),
                "第1列的表头“姓名,全称”含有分隔符“,”".into()
            )
        );
        assert_eq!(
            check(&|t| t.columns[0].header = "姓名\"".into()).0,
            "invalid_header"
        );
        assert_eq!(
            check(&|t| t.columns[0].header = "𠮷".into()),
            (
                "invalid_header",
                Some(0),
                "第1列的表头“𠮷”含有GBK无法表示的字符“𠮷”".into()
            )
        );
        assert_eq!(
            check(&|t| t.columns[2].header = "收款账号".into()),
            (
                "duplicate_header",
                Some(2),
                "第3列的表头“收款账号”与前面的列重复".into()
            )
        );
        assert_eq!(
            check(&|t| t.columns.push(BankColumnSpec::new(
                BankColumn::Literal("A\nB".into()),
                "付款账号"
            ))),
            (
                "invalid_literal",
                Some(6),
                "第7列（付款账号）的固定内容含有换行符".into()
            )
        );
        assert_eq!(
            check(&|t| t.purpose = "报销,工资".into()).0,
            "invalid_purpose"
        );
        // Under UTF-8 the same header is fine.
        let mut t = BankTemplate {
            encoding: FileEncoding::Utf8,
            ..BankTemplate::default()
        };
        t.columns[0].header = "𠮷".into();
        t.validate().unwrap();
    }

    #[test]
    fn templates_as_json() {
        let json = serde_json::to_string(&BankTemplate::default()).unwrap();
        assert_eq!(
            json,
            r#"{"columns":[{"field":"payee_name","header":"收款人姓名"},{"field":"account","header":"收款账号"},{"field":"bank","header":"开户行"},{"field":"amount_yuan","header":"金额(元)"},{"field":"purpose","header":"用途"},{"field":"reference","header":"业务参考号"}],"separator":",","encoding":"gbk","header_row":true,"line_ending":"crlf","purpose":"报销"}"#
        );
        let custom: BankTemplate = serde_json::from_str(
            r#"{"columns":[{"field":"account","header":"账号"},{"field":"payee_name","header":"姓名"},
                {"field":"amount_yuan","header":"金额"},{"field":"reference","header":"备注"},
                {"field":"literal","header":"付款账号","value":"6222000011112222"}],
                "separator":"|","encoding":"utf8","line_ending":"lf"}"#,
        )
        .unwrap();
        assert_eq!(
            custom.columns[4],
            BankColumnSpec::new(BankColumn::Literal("6222000011112222".into()), "付款账号")
        );
        assert_eq!(custom.separator, '|');
        assert_eq!(custom.encoding, FileEncoding::Utf8);
        // Missing fields take the defaults.
        assert!(custom.header_row);
        assert_eq!(custom.purpose, "报销");
        let back: BankTemplate =
            serde_json::from_str(&serde_json::to_string(&custom).unwrap()).unwrap();
        assert_eq!(back, custom);
        assert_eq!(
            serde_json::from_str::<BankTemplate>("{}").unwrap(),
            BankTemplate::default()
        );
        let tab: BankTemplate = serde_json::from_str(r#"{"separator":"\t"}"#).unwrap();
        assert_eq!(tab.separator, '\t');
        for bad in [
            r#"{"colour":"red"}"#,
            r#"{"columns":[{"field":"literal","header":"付款账号"}]}"#,
            r#"{"columns":[{"field":"account","header":"账号","value":"1"}]}"#,
            r#"{"columns":[{"field":"account","header":"账号","width":8}]}"#,
            r#"{"columns":[{"field":"iban","header":"账号"}]}"#,
            r#"{"encoding":"gb18030"}"#,
            r#"{"line_ending":"cr"}"#,
            r#"{"separator":",,"}"#,
        ] {
            assert!(serde_json::from_str::<BankTemplate>(bad).is_err(), "{bad}");
        }

        let json = serde_json::to_string(&BankResultTemplate::default()).unwrap();
        assert_eq!(
            json,
            r#"{"encoding":"gbk","separator":",","skip_rows":1,"reference_column":5,"status_column":6,"amount_column":3,"reason_column":7,"success_values":["成功","success","SUCCESS","S"],"failure_values":["失败","fail","FAIL","F"]}"#
        );
        let custom: BankResultTemplate = serde_json::from_str(
            r#"{"separator":"|","skip_rows":2,"reference_column":0,"status_column":3,
                "amount_column":null,"reason_column":4}"#,
        )
        .unwrap();
        assert_eq!(custom.amount_column, None);
        assert_eq!(
            custom.success_values,
            BankResultTemplate::default().success_values
        );
        assert!(serde_json::from_str::<BankResultTemplate>(r#"{"skip":1}"#).is_err());
    }

    #[test]
    fn result_templates_are_validated() {
        let check = |edit: &dyn Fn(&mut BankResultTemplate)| {
            let mut t = BankResultTemplate::default();
            edit(&mut t);
            let e = t.validate().unwrap_err();
            assert_eq!(parse_results(&t, b"x"), Err(e.clone()));
            (e.code, e.column)
        };
        BankResultTemplate::default().validate().unwrap();
        assert_eq!(check(&|t| t.separator = 'x'), ("invalid_separator", None));
        assert_eq!(
            check(&|t| t.status_column = 5),
            ("duplicate_column", Some(5))
        );
        assert_eq!(
            check(&|t| t.reason_column = Some(3)),
            ("duplicate_column", Some(3))
        );
        assert_eq!(
            check(&|t| t.success_values.clear()),
            ("no_status_values", Some(6))
        );
        assert_eq!(
            check(&|t| t.failure_values.push(" ".into())),
            ("blank_status_value", Some(6))
        );
        assert_eq!(
            check(&|t| t.failure_values.push("S".into())),
            ("ambiguous_status_value", Some(6))
        );
        assert_eq!(
            check(&|t| t.amount_column = Some(MAX_RESULT_COLUMNS)),
            ("column_out_of_range", Some(MAX_RESULT_COLUMNS))
        );
        assert_eq!(
            check(&|t| t.skip_rows = MAX_SKIP_ROWS + 1),
            ("too_many_skip_rows", None)
        );
        let edge = BankResultTemplate {
            skip_rows: MAX_SKIP_ROWS,
            reason_column: Some(MAX_RESULT_COLUMNS - 1),
            ..BankResultTemplate::default()
        };
        assert!(edge.validate().is_ok());
    }

    fn simple_result_template() -> BankResultTemplate {
        BankResultTemplate {
            encoding: FileEncoding::Utf8,
            separator: ',',
            skip_rows: 1,
            reference_column: 0,
            status_column: 1,
            amount_column: Some(2),
            reason_column: Some(3),
            ..BankResultTemplate::default()
        }
    }

    #[test]
    fn every_kind_of_bad_result_line_is_an_error_naming_its_line() {
        let file = [
            "业务参考号,处理结果,金额,原因", // 1: skipped header
            "a1,成功,200",                   // 2
            "",                              // 3: empty, skipped
            "a2 , success ,200.5,",          // 4
            "a3,S,\"1,200.00\"",             // 5
            "a4,失败,,账户已冻结",           // 6
            " , ,, ",                        // 7: blank, skipped
            "a5,FAIL,0.00",                  // 8
            "a6,成功",                       // 9: missing amount column
            ",成功,1.00",                    // 10: empty reference
            "a-7,成功,1.00",                 // 11: invalid reference
            "a8,处理中,1.00",                // 12: unknown status
            "a9,,1.00",                      // 13: empty status
            "a10,成功,12.345",               // 14: bad amount
            "a11,成功,abc",                  // 15: bad amount
            "a12,成功,-1.00",                // 16: negative
            "a13,成功,",                     // 17: paid without amount
            "a1,成功,200",                   // 18: duplicate
            "a14,成功,\"1,20.00\"",          // 19: bad grouping
            "a15",                           // 20: missing status column
            "'a16,成功,=\"0200.00\"",        // 21: spreadsheet marks
        ]
        .join("\r\n");
        let (results, errors) = parse_results(&simple_result_template(), file.as_bytes()).unwrap();
        let read: Vec<_> = results
            .iter()
            .map(|r| {
                (
                    r.line,
                    r.reference.as_str(),
                    r.outcome.clone(),
                    r.amount_fen,
                )
            })
            .collect();
        let failed = |reason: &str| BankOutcome::Failed {
            reason: reason.into(),
        };
        assert_eq!(
            read,
            [
                (2, "a1", BankOutcome::Paid, Some(20_000)),
                (4, "a2", BankOutcome::Paid, Some(20_050)),
                (5, "a3", BankOutcome::Paid, Some(120_000)),
                (6, "a4", failed("账户已冻结"), None),
                (8, "a5", failed(""), Some(0)),
                (21, "a16", BankOutcome::Paid, Some(20_000)),
            ]
        );
        let errors: Vec<_> = errors.iter().map(|e| (e.line, e.detail.as_str())).collect();
        assert_eq!(
            errors,
            [
                (9, "只有2列，缺少第3列（金额）"),
                (10, "业务参考号为空"),
                (11, "业务参考号“a-7”无效：应为1到32位的字母或数字"),
                (12, "无法识别的处理结果“处理中”"),
                (13, "处理结果为空"),
                (14, "无法识别的金额“12.345”：应为最多两位小数的数字（元）"),
                (15, "无法识别的金额“abc”：应为最多两位小数的数字（元）"),
                (16, "金额“-1.00”为负数"),
                (17, "处理成功但金额为空"),
                (18, "业务参考号“a1”重复（首次出现在第2行）"),
                (19, "无法识别的金额“1,20.00”：应为最多两位小数的数字（元）"),
                (20, "只有1列，缺少第2列（处理结果）"),
            ]
        );
    }

    #[test]
    fn malformed_bytes_are_line_errors_never_replacement_characters() {
        let mut template = simple_result_template();
        template.encoding = FileEncoding::Gbk;
        template.skip_rows = 0;
        let mut file = gbk("a1,成功,1.00,\n");
        file.extend_from_slice(b"a2,\x81,1.00,\n"); // a lead byte, then an ASCII byte
        file.extend_from_slice(b"a3,\xFF\xFF,1.00\n");
        file.extend_from_slice(&gbk("a4,失败,1.00,户名不符\n"));
        let (results, errors) = parse_results(&template, &file).unwrap();
        let refs: Vec<_> = results.iter().map(|r| r.reference.as_str()).collect();
        assert_eq!(refs, ["a1", "a4"]);
        assert_eq!(
            errors,
            [
                ResultLineError {
                    line: 2,
                    detail: "含有无法按GBK解码的字节".into()
                },
                ResultLineError {
                    line: 3,
                    detail: "含有无法按GBK解码的字节".into()
                },
            ]
        );

        template.encoding = FileEncoding::Utf8;
        let (results, errors) = parse_results(&template, b"a1,\xE6\x88,1.00\na2,S,2\n").unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(
            errors,
            [ResultLineError {
                line: 1,
                detail: "含有无法按UTF-8解码的字节".into()
            }]
        );
        // Undecodable header lines are skipped unread.
        template.skip_rows = 1;
        let (results, errors) = parse_results(&template, b"\xFF\xFE\xFD\na2,S,2\n").unwrap();
        assert_eq!((results.len(), errors.len()), (1, 0));
    }

    #[test]
    fn a_bom_means_utf8_and_pipes_never_cut_a_gbk_character() {
        // 亅 is 0x81 0x7C in GBK: its second byte is '|'.
        assert_eq!(gbk("亅"), [0x81, 0x7C]);
        let template = BankResultTemplate {
            separator: '|',
            skip_rows: 2,
            reference_column: 0,
            status_column: 1,
            amount_column: None,
            reason_column: Some(2),
            ..BankResultTemplate::default()
        };
        let file = gbk("批量代发结果\n参考号|结果|原因\na1|失败|户名亅不符\n");
        let (results, errors) = parse_results(&template, &file).unwrap();
        assert_eq!(errors, []);
        assert_eq!(
            results,
            [BankResult {
                line: 3,
                reference: "a1".into(),
                outcome: BankOutcome::Failed {
                    reason: "户名亅不符".into()
                },
                amount_fen: None,
            }]
        );

        // The template says GBK; the BOM says UTF-8.
        let mut file = UTF8_BOM.to_vec();
        file.extend_from_slice("标题\n表头\na1|成功\ra2|F|账户已销户\r".as_bytes());
        let (results, errors) = parse_results(&template, &file).unwrap();
        assert_eq!(errors, []);
        let read: Vec<_> = results
            .iter()
            .map(|r| (r.line, r.reference.as_str(), &r.outcome))
            .collect();
        assert_eq!(
            read,
            [
                (3, "a1", &BankOutcome::Paid),
                (
                    4,
                    "a2",
                    &BankOutcome::Failed {
                        reason: "账户已销户".into()
                    }
                )
            ]
        );
    }

    #[test]
    fn records_spanning_lines_are_numbered_by_their_first_line() {
        let template = BankResultTemplate {
            skip_rows: 0,
            ..simple_result_template()
        };
        let file = "a1,失败,1.00,\"第一行\r\n第二行\"\n\na2,成功,2.00\na3,成功,3";
        let (results, errors) = parse_results(&template, file.as_bytes()).unwrap();
        assert_eq!(errors, []);
        let lines: Vec<_> = results.iter().map(|r| r.line).collect();
        assert_eq!(lines, [1, 4, 5]);
        assert_eq!(
            results[0].outcome,
            BankOutcome::Failed {
                reason: "第一行\r\n第二行".into()
            }
        );
        assert_eq!(results[2].amount_fen, Some(300));
        let (results, errors) = parse_results(&template, b"").unwrap();
        assert_eq!((results.len(), errors.len()), (0, 0));
    }

    #[test]
    fn amounts_parse_exactly() {
        let ok = |s: &str| parse_yuan(s).ok();
        assert_eq!(ok("200"), Some(20_000));
        assert_eq!(ok("200.5"), Some(20_050));
        assert_eq!(ok("200.50"), Some(20_050));
        assert_eq!(ok("1,200.00"), Some(120_000));
        assert_eq!(ok("12,345,678.9"), Some(1_234_567_890));
        assert_eq!(ok("0.01"), Some(1));
        assert_eq!(ok("0200.00"), Some(20_000));
        assert_eq!(ok("92233720368547758.07"), Some(i64::MAX));
        for bad in [
            "",
            "abc",
            "12.345",
            ".5",
            "200.",
            "1,20.00",
            ",200",
            "1200,000",
            "1.2.3",
            "+1",
            "1 000",
            "１２",
            "92233720368547758.08",
            "1e3",
        ] {
            assert!(
                matches!(parse_yuan(bad), Err(AmountFault::Invalid)),
                "{bad}"
            );
        }
        assert!(matches!(parse_yuan("-1.00"), Err(AmountFault::Negative)));
        assert!(matches!(parse_yuan("-x"), Err(AmountFault::Invalid)));
    }

    /// `yuan` with thousands commas in its whole part.
    fn grouped(yuan: &str) -> String {
        let (whole, frac) = yuan.split_once('.').unwrap();
        let mut out = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{out}.{frac}")
    }

    proptest! {
        #[test]
        fn fen_to_yuan_text_and_back_is_the_identity(fen in 0..=i64::MAX) {
            let text = format_yuan(fen);
            prop_assert_eq!(parse_yuan(&text).ok(), Some(fen));
            prop_assert_eq!(parse_yuan(&grouped(&text)).ok(), Some(fen));
        }

        #[test]
        fn written_amounts_read_back_from_the_banks_answer(fen in 1..=10_000_000_000i64) {
            let template = pipe_template(minimal_columns());
            let file = write_transfer_file(&template, &[row(REF_A, "张三", fen)]).unwrap();
            let mut answer = file.bytes.clone();
            answer.pop();
            answer.extend_from_slice(b"|S\n");
            let result = BankResultTemplate {
                separator: '|',
                skip_rows: 0,
                reference_column: 0,
                amount_column: Some(1),
                status_column: 4,
                reason_column: None,
                ..BankResultTemplate::default()
            };
            let (results, errors) = parse_results(&result, &answer).unwrap();
            prop_assert!(errors.is_empty());
            prop_assert_eq!(results.len(), 1);
            prop_assert_eq!(results[0].amount_fen, Some(fen));
        }
    }
}
