//! Platform rider rosters (骑手名单): the CSV a delivery platform hands the union, parsed
//! as a stream, never held whole. [`RosterCheck`] checks a file as its bytes arrive at
//! upload; [`RosterReader`] is the enrolment job's row iterator. Both split records with
//! the same code, so the check's row count is the number of items the reader yields.
//!
//! # Format
//!
//! - **Encoding** — decided once, from the first [`SNIFF_BYTES`] bytes (the *window*; the
//!   whole file when it is shorter), in this order:
//!   1. a UTF-8 BOM → [`RosterEncoding::Utf8Bom`];
//!   2. a UTF-16 BOM → file fault `encoding` (Excel's "Unicode text");
//!   3. the window is valid UTF-8 → [`RosterEncoding::Utf8`];
//!   4. the window is valid GBK (decoded as GB18030, a superset) → [`RosterEncoding::Gbk`];
//!   5. otherwise → file fault `encoding`.
//!
//!   When the window is shorter than the file, a multi-byte sequence cut by its end is
//!   not an error. Bytes after the window that are invalid in the chosen encoding make
//!   their row an `invalid_encoding` fault, not the file (so a file whose first 64 KiB are
//!   plain ASCII is read as UTF-8 even if GBK follows: every name would carry Chinese
//!   characters long before that).
//! - **Records** — RFC 4180 CSV split at the byte level (comma, `"` quotes with `""`
//!   inside, line ends CRLF, LF or CR), which is sound for UTF-8 and GBK alike: neither
//!   uses the bytes `,` `"` CR LF inside a multi-byte character. Cells are decoded one by
//!   one, strictly, after splitting. Empty lines, and records whose every cell holds only
//!   ASCII whitespace (`,,,,` left by a spreadsheet), are skipped wherever they are: they
//!   are neither counted nor numbered.
//! - **Header** — the first record that is not skipped: exactly [`COLUMNS`] cells, in
//!   order 姓名|name, 身份证号|id_number, 手机号|phone, 平台工号|platform_worker_id,
//!   入职日期|platform_start_date (English names are case-insensitive).
//! - **Rows** — each record after the header is a data row, numbered from 1 (`row`);
//!   `line` is the physical line the record starts on (1-based, header included).
//! - **Cells** — trimmed of ASCII whitespace, U+3000 (full-width space) and U+00A0; then a
//!   leading `'` (a spreadsheet's "this is text" mark) is dropped, and `="…"` (Excel's
//!   formula trick to keep digits as text) is unwrapped, each followed by a trim again. A
//!   cell longer than [`MAX_CELL_BYTES`] bytes as stored is invalid for its column.
//!
//! # Faults
//!
//! A file is refused with a [`FileFault`], checked in the order `encoding`, `header`,
//! `too_many_rows`, `empty`, so the answer never depends on how the bytes were chunked. A
//! row is either a [`RosterRow`] or a [`RowFault`] carrying the first fault found:
//! `wrong_column_count` first, then the columns left to right, each column checking its
//! encoding before its content (see [`RowFaultCode`]). A fault carries the ID number
//! masked, never in full.

mod check;
mod encoding;
mod reader;
mod row;
mod split;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_stream;

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::id_number::IdNumber;
use crate::phone::Phone;

pub use check::RosterCheck;
pub use reader::RosterReader;

/// Data rows a roster may hold unless configured otherwise.
pub const DEFAULT_MAX_ROWS: u64 = 1_000_000;
/// Bytes at the start of a file that decide its encoding.
pub const SNIFF_BYTES: usize = 64 * 1024;
/// Bytes of one cell kept, as stored in the file; a longer cell is invalid for its column.
pub const MAX_CELL_BYTES: usize = 1024;
/// Columns of a roster.
pub const COLUMNS: usize = 5;

/// How a roster's bytes are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RosterEncoding {
    Utf8,
    Utf8Bom,
    /// GBK, decoded as GB18030 (its superset).
    Gbk,
}

impl RosterEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Utf8 => "utf8",
            Self::Utf8Bom => "utf8_bom",
            Self::Gbk => "gbk",
        }
    }
}

/// What a whole file is refused for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFaultCode {
    /// Neither UTF-8 nor GBK (or UTF-16).
    Encoding,
    /// The header is missing a column, has one too many or names one wrongly.
    Header,
    /// More data rows than allowed.
    TooManyRows,
    /// No header, or a header and no data row.
    Empty,
}

impl FileFaultCode {
    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Encoding => "encoding",
            Self::Header => "header",
            Self::TooManyRows => "too_many_rows",
            Self::Empty => "empty",
        }
    }
}

/// A whole file refused: its code and what to do about it in zh-CN. The detail never
/// quotes the file's content (a file without a header would otherwise leak a row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct FileFault {
    pub code: FileFaultCode,
    pub detail: String,
}

impl FileFault {
    fn new(code: FileFaultCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    fn encoding() -> Self {
        Self::new(
            FileFaultCode::Encoding,
            "无法识别文件编码：请把名单另存为 UTF-8 或 GBK 编码的 CSV 文件后重新上传",
        )
    }

    fn utf16() -> Self {
        Self::new(
            FileFaultCode::Encoding,
            "文件是 UTF-16 编码（Excel 的“Unicode 文本”）：请另存为“CSV UTF-8（逗号分隔）”后重新上传",
        )
    }

    fn too_many_rows(max_rows: u64) -> Self {
        Self::new(
            FileFaultCode::TooManyRows,
            format!("名单超过 {max_rows} 行数据：请拆分成多个文件分别上传"),
        )
    }

    fn no_header() -> Self {
        Self::new(
            FileFaultCode::Empty,
            "文件是空的：第一行应为表头，之后每行一名骑手",
        )
    }

    fn header_only() -> Self {
        Self::new(FileFaultCode::Empty, "文件只有表头，没有骑手数据行")
    }
}

/// A file that passed [`RosterCheck`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RosterSummary {
    pub encoding: RosterEncoding,
    /// Data rows (at least 1, at most the maximum).
    pub rows: u64,
}

/// One valid data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRow {
    /// Data rows count from 1, the first after the header.
    pub row: u64,
    /// The physical line the record starts on, header included.
    pub line: u64,
    pub name: String,
    pub id_number: IdNumber,
    pub phone: Option<Phone>,
    pub platform_worker_id: Option<String>,
    pub platform_start_date: Option<NaiveDate>,
}

/// Why a data row was not taken: the first fault, in column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowFaultCode {
    /// Not exactly [`COLUMNS`] cells (checked before any cell).
    WrongColumnCount,
    /// A cell is not valid in the file's encoding.
    InvalidEncoding,
    NameMissing,
    /// Over 50 characters, or a control character.
    NameInvalid,
    IdNumberMissing,
    /// Written as a number by a spreadsheet: `5.10104E+17`, `5.10104e17`, `…1234.0`.
    IdNumberScientific,
    /// 17 digits and a check character, but the wrong one.
    IdNumberCheckChar,
    /// Any other shape, province or birth date problem.
    IdNumberInvalid,
    /// Present but not a mainland mobile number.
    PhoneInvalid,
    /// Over 64 characters, or a control character.
    PlatformWorkerIdInvalid,
    /// Not a real date in an accepted form, before 1990-01-01 or after today.
    DateInvalid,
}

impl RowFaultCode {
    pub const ALL: [Self; 11] = [
        Self::WrongColumnCount,
        Self::InvalidEncoding,
        Self::NameMissing,
        Self::NameInvalid,
        Self::IdNumberMissing,
        Self::IdNumberScientific,
        Self::IdNumberCheckChar,
        Self::IdNumberInvalid,
        Self::PhoneInvalid,
        Self::PlatformWorkerIdInvalid,
        Self::DateInvalid,
    ];

    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WrongColumnCount => "wrong_column_count",
            Self::InvalidEncoding => "invalid_encoding",
            Self::NameMissing => "name_missing",
            Self::NameInvalid => "name_invalid",
            Self::IdNumberMissing => "id_number_missing",
            Self::IdNumberScientific => "id_number_scientific",
            Self::IdNumberCheckChar => "id_number_check_char",
            Self::IdNumberInvalid => "id_number_invalid",
            Self::PhoneInvalid => "phone_invalid",
            Self::PlatformWorkerIdInvalid => "platform_worker_id_invalid",
            Self::DateInvalid => "date_invalid",
        }
    }

    /// What is wrong and how to fix it, in zh-CN, for the per-row error report.
    pub fn sentence(self) -> &'static str {
        match self {
            Self::WrongColumnCount => {
                "列数不对：每行应有 5 列，依次为姓名、身份证号、手机号、平台工号、入职日期"
            }
            Self::InvalidEncoding => {
                "该行含有无法识别的字符：请确认整个文件都是 UTF-8 或 GBK 编码"
            }
            Self::NameMissing => "姓名为空",
            Self::NameInvalid => "姓名无效：最多 50 个字，且不能含有换行等控制字符",
            Self::IdNumberMissing => "身份证号为空",
            Self::IdNumberScientific => {
                "身份证号被表格软件当成数字，显示成了科学计数法（如 5.10104E+17），后几位已经丢失：请把该列设置为“文本”格式，重新填写身份证号后再导出"
            }
            Self::IdNumberCheckChar => {
                "身份证号最后一位校验码不对：请核对是否有数字填错"
            }
            Self::IdNumberInvalid => {
                "身份证号无效：应为 18 位（前 17 位为数字，最后一位为数字或 X），并含有效的省份代码和出生日期"
            }
            Self::PhoneInvalid => "手机号无效：应为 11 位中国大陆手机号，不填可留空",
            Self::PlatformWorkerIdInvalid => {
                "平台工号无效：最多 64 个字符，且不能含有换行等控制字符"
            }
            Self::DateInvalid => {
                "入职日期无效：应为 1990-01-01 至今天之间的真实日期，写作 2024-03-01、2024/3/1、2024.3.1、20240301 或 2024年3月1日，不填可留空"
            }
        }
    }
}

/// A data row not taken. `id_number_masked` shows the row's ID number as
/// [`IdNumber::masked`] does when it is valid; an invalid one keeps its first 4 and last
/// character (`5.10******7`) when it has at least 8, else nothing is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowFault {
    pub row: u64,
    pub line: u64,
    pub code: RowFaultCode,
    pub id_number_masked: Option<String>,
}

impl fmt::Display for RowFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "第 {} 行：{}", self.row, self.code.sentence())
    }
}

impl std::error::Error for RowFault {}

/// One data row, read and checked.
pub type RosterItem = Result<RosterRow, RowFault>;

/// Why [`RosterReader`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error(transparent)]
    File(#[from] FileFault),
    #[error("读取名单文件失败：{0}")]
    Io(#[from] std::io::Error),
}
