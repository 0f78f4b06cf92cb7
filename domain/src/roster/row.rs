//! The header and the data rows: what each cell must hold.

use std::borrow::Cow;
use std::ops::RangeInclusive;

use chrono::NaiveDate;

use super::encoding::decode;
use super::split::{RawRecord, StoredCell};
use super::{
    FileFault, FileFaultCode, RosterEncoding, RosterItem, RosterRow, RowFault, RowFaultCode,
    COLUMNS,
};
use crate::id_number::{IdNumber, IdNumberError};
use crate::phone::Phone;
use crate::text::TextRule;

/// Each column's header, in Chinese and in English.
const HEADERS: [(&str, &str); COLUMNS] = [
    ("姓名", "name"),
    ("身份证号", "id_number"),
    ("手机号", "phone"),
    ("平台工号", "platform_worker_id"),
    ("入职日期", "platform_start_date"),
];
const EXPECTED_HEADER: &str = "表头应为 5 列，依次为：姓名、身份证号、手机号、平台工号、入职日期（也可用英文 name、id_number、phone、platform_worker_id、platform_start_date）";

const NAME: TextRule = TextRule::line(1, 50);
const PLATFORM_WORKER_ID: TextRule = TextRule::line(1, 64);
/// No platform start date before this is believed.
const EARLIEST_START_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1990, 1, 1) {
    Some(date) => date,
    None => NaiveDate::MIN, // not reached: evaluated at compile time
};
/// The most `*` a masked invalid ID number shows, however long the cell.
const MAX_MASK_STARS: usize = 20;

/// Whether `record` is the roster header.
pub(super) fn check_header(record: &RawRecord, encoding: RosterEncoding) -> Result<(), FileFault> {
    if record.fields != COLUMNS as u64 {
        return Err(FileFault::new(
            FileFaultCode::Header,
            format!("表头有 {} 列，不是 5 列。{EXPECTED_HEADER}", record.fields),
        ));
    }
    for (index, (zh, en)) in HEADERS.iter().enumerate() {
        let named = match record.cell(index) {
            StoredCell::Bytes(bytes) => decode(bytes, encoding).is_some_and(|text| {
                let text = clean(&text);
                text == *zh || text.eq_ignore_ascii_case(en)
            }),
            StoredCell::TooLong => false,
        };
        if !named {
            return Err(FileFault::new(
                FileFaultCode::Header,
                format!(
                    "表头第 {} 列应为“{zh}”或“{en}”。{EXPECTED_HEADER}",
                    index + 1
                ),
            ));
        }
    }
    Ok(())
}

/// Data row number `row`: a valid row, or its first fault in column order.
pub(super) fn check_row(
    record: &RawRecord,
    row: u64,
    encoding: RosterEncoding,
    today: NaiveDate,
) -> RosterItem {
    if record.fields != COLUMNS as u64 {
        return Err(RowFault {
            row,
            line: record.line,
            code: RowFaultCode::WrongColumnCount,
            id_number_masked: None,
        });
    }
    // The ID number is read first so that a fault in any column can show it masked.
    let (id_number, id_number_masked) = id_number_column(record, encoding, today);
    check_cells(record, encoding, today, id_number)
        .map(
            |(name, id_number, phone, platform_worker_id, platform_start_date)| RosterRow {
                row,
                line: record.line,
                name,
                id_number,
                phone,
                platform_worker_id,
                platform_start_date,
            },
        )
        .map_err(|code| RowFault {
            row,
            line: record.line,
            code,
            id_number_masked,
        })
}

type Cells = (
    String,
    IdNumber,
    Option<Phone>,
    Option<String>,
    Option<NaiveDate>,
);

/// The cells left to right, stopping at the first fault.
fn check_cells(
    record: &RawRecord,
    encoding: RosterEncoding,
    today: NaiveDate,
    id_number: Result<IdNumber, RowFaultCode>,
) -> Result<Cells, RowFaultCode> {
    let name = text(record, 0, encoding, RowFaultCode::NameInvalid)?;
    let name = match clean(&name) {
        "" => return Err(RowFaultCode::NameMissing),
        name => NAME.check(name).ok_or(RowFaultCode::NameInvalid)?,
    };
    let id_number = id_number?;
    let phone = match clean(&text(record, 2, encoding, RowFaultCode::PhoneInvalid)?) {
        "" => None,
        phone => Some(Phone::parse(phone).map_err(|_| RowFaultCode::PhoneInvalid)?),
    };
    let worker_id = text(record, 3, encoding, RowFaultCode::PlatformWorkerIdInvalid)?;
    let platform_worker_id = match clean(&worker_id) {
        "" => None,
        id => Some(
            PLATFORM_WORKER_ID
                .check(id)
                .ok_or(RowFaultCode::PlatformWorkerIdInvalid)?,
        ),
    };
    let platform_start_date = match clean(&text(record, 4, encoding, RowFaultCode::DateInvalid)?) {
        "" => None,
        date => Some(
            parse_date(date)
                .filter(|date| (EARLIEST_START_DATE..=today).contains(date))
                .ok_or(RowFaultCode::DateInvalid)?,
        ),
    };
    Ok((
        name,
        id_number,
        phone,
        platform_worker_id,
        platform_start_date,
    ))
}

/// The ID number column: the number or its fault, and how to show it masked.
fn id_number_column(
    record: &RawRecord,
    encoding: RosterEncoding,
    today: NaiveDate,
) -> (Result<IdNumber, RowFaultCode>, Option<String>) {
    let text = match text(record, 1, encoding, RowFaultCode::IdNumberInvalid) {
        Ok(text) => text,
        Err(code) => return (Err(code), None),
    };
    let value = clean(&text);
    if value.is_empty() {
        return (Err(RowFaultCode::IdNumberMissing), None);
    }
    match IdNumber::parse(value, today) {
        Ok(id) => {
            let masked = id.masked();
            (Ok(id), Some(masked))
        }
        Err(error) => {
            let code = if looks_like_a_spreadsheet_number(value) {
                RowFaultCode::IdNumberScientific
            } else if error == IdNumberError::CheckChar {
                RowFaultCode::IdNumberCheckChar
            } else {
                RowFaultCode::IdNumberInvalid
            };
            (Err(code), mask_invalid(value))
        }
    }
}

/// An invalid ID number's first 4 and last character, the rest as `*` (at most
/// [`MAX_MASK_STARS`]); None when it is shorter than 8 characters.
fn mask_invalid(value: &str) -> Option<String> {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 8 {
        return None;
    }
    let stars = (chars.len() - 5).min(MAX_MASK_STARS);
    let mut masked: String = chars[..4].iter().collect();
    masked.extend(std::iter::repeat_n('*', stars));
    masked.extend(chars.last());
    Some(masked)
}

/// A number as a spreadsheet writes one it has taken a long digit string for: digits
/// with an exponent (`5.10104E+17`, `5.10104e17`), or with a decimal point
/// (`510104199001011234.0`).
fn looks_like_a_spreadsheet_number(value: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (mantissa, exponent) = match value.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (value, None),
    };
    let (integer, fraction) = match mantissa.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (mantissa, None),
    };
    if !digits(integer) || !fraction.is_none_or(digits) {
        return false;
    }
    match exponent {
        Some(exponent) => digits(exponent.strip_prefix(['+', '-']).unwrap_or(exponent)),
        None => fraction.is_some(),
    }
}

/// `YYYY-MM-DD`, `YYYY/M/D`, `YYYY.M.D` (month and day of 1 or 2 digits with any of the
/// three separators), `YYYYMMDD` or `YYYY年M月D日`, if it is a real date.
fn parse_date(value: &str) -> Option<NaiveDate> {
    let is_digits = |s: &str, len: RangeInclusive<usize>| {
        len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let (year, month, day) = if is_digits(value, 8..=8) {
        // Eight ASCII digits: slicing by byte is slicing by character.
        (&value[..4], &value[4..6], &value[6..])
    } else if let Some(rest) = value.strip_suffix('日') {
        let (year, rest) = rest.split_once('年')?;
        let (month, day) = rest.split_once('月')?;
        (year, month, day)
    } else {
        let separator = value.chars().find(|c| matches!(c, '-' | '/' | '.'))?;
        let mut parts = value.split(separator);
        let parsed = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        parsed
    };
    if !(is_digits(year, 4..=4) && is_digits(month, 1..=2) && is_digits(day, 1..=2)) {
        return None;
    }
    NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)
}

/// Cell `index` decoded; `too_long` when it was cut for its length.
fn text(
    record: &RawRecord,
    index: usize,
    encoding: RosterEncoding,
    too_long: RowFaultCode,
) -> Result<Cow<'_, str>, RowFaultCode> {
    match record.cell(index) {
        StoredCell::Bytes(bytes) => decode(bytes, encoding).ok_or(RowFaultCode::InvalidEncoding),
        StoredCell::TooLong => Err(too_long),
    }
}

/// A cell's value: trimmed, without a leading `'`, and `="…"` unwrapped.
fn clean(cell: &str) -> &str {
    let value = trim(cell);
    let value = value.strip_prefix('\'').map_or(value, trim);
    match value
        .strip_prefix("=\"")
        .and_then(|inner| inner.strip_suffix('"'))
    {
        Some(inner) => trim(inner),
        None => value,
    }
}

/// Without surrounding ASCII whitespace, full-width spaces (U+3000) and no-break spaces.
fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{3000}' || c == '\u{a0}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_cleaned() {
        assert_eq!(clean("  张三\u{3000}"), "张三");
        assert_eq!(clean("\t'510104"), "510104");
        assert_eq!(clean("' 510104 "), "510104");
        assert_eq!(clean("=\"510104\""), "510104");
        assert_eq!(clean("\u{a0}a b\u{a0}"), "a b");
        assert_eq!(clean("'"), "");
        assert_eq!(clean("=\"\""), "");
    }

    #[test]
    fn spreadsheet_numbers_are_recognized() {
        for yes in [
            "5.10104E+17",
            "5.10104e17",
            "5.10104E17",
            "5E+17",
            "5.1E-3",
            "510104199001011234.0",
            "510104199001011000.00",
        ] {
            assert!(looks_like_a_spreadsheet_number(yes), "{yes}");
        }
        for no in [
            "510104199001011234",
            "51010419900101123X",
            "5.10104E+",
            "E17",
            ".5E17",
            "5..1E17",
            "5.1X",
            "5.",
            "abc",
            "",
        ] {
            assert!(!looks_like_a_spreadsheet_number(no), "{no}");
        }
    }

    #[test]
    fn invalid_id_numbers_are_masked_but_for_4_and_1() {
        assert_eq!(mask_invalid("5.10104E+17").as_deref(), Some("5.10******7"));
        assert_eq!(mask_invalid("12345678").as_deref(), Some("1234***8"));
        assert_eq!(mask_invalid("1234567"), None);
        assert_eq!(
            mask_invalid(&"1".repeat(500)).map(|m| m.chars().count()),
            Some(4 + MAX_MASK_STARS + 1)
        );
    }
}
