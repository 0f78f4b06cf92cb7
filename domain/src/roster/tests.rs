//! Rows and faults: what a roster's cells become.

use chrono::NaiveDate;

use super::*;
use crate::id_number::check_char;

pub(super) const HEADER: &str = "姓名,身份证号,手机号,平台工号,入职日期";

pub(super) fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
}

pub(super) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Completes 17 digits with their check character.
pub(super) fn id(first17: &str) -> String {
    format!("{first17}{}", check_char(first17).unwrap())
}

/// A valid ID number for rider `i`.
pub(super) fn rider_id(i: u64) -> String {
    let birth = date(1970, 1, 1) + chrono::Duration::days((i % 10_000) as i64);
    id(&format!("510104{}{:03}", birth.format("%Y%m%d"), i % 1000))
}

/// A valid data line for rider `i`.
pub(super) fn rider_line(i: u64) -> String {
    format!(
        "骑手{i},{},138{:08},W{i},2024-01-01",
        rider_id(i),
        i % 100_000_000
    )
}

/// A file of `n` valid riders under the Chinese header, LF line ends.
pub(super) fn riders_file(n: u64) -> String {
    let mut file = format!("{HEADER}\n");
    for i in 1..=n {
        file.push_str(&rider_line(i));
        file.push('\n');
    }
    file
}

/// The check fed in one chunk.
pub(super) fn check(bytes: &[u8], max_rows: u64) -> Result<RosterSummary, FileFault> {
    let mut check = RosterCheck::new(max_rows);
    check.push(bytes)?;
    check.finish()
}

/// Every item the reader yields.
pub(super) fn read(bytes: &[u8]) -> Result<Vec<RosterItem>, RosterError> {
    let reader = RosterReader::new(bytes, today())?;
    Ok(reader.collect::<std::io::Result<Vec<_>>>()?)
}

/// Each row's number and either Ok or its fault code.
pub(super) fn outcomes(bytes: &[u8]) -> Vec<(u64, Option<RowFaultCode>)> {
    read(bytes)
        .unwrap()
        .into_iter()
        .map(|item| match item {
            Ok(row) => (row.row, None),
            Err(fault) => (fault.row, Some(fault.code)),
        })
        .collect()
}

/// The single row of a file holding `line` under the header.
fn only_row(line: &str) -> RosterItem {
    let items = read(format!("{HEADER}\n{line}\n").as_bytes()).unwrap();
    assert_eq!(items.len(), 1, "{line}");
    items.into_iter().next().unwrap()
}

fn fault_of(line: &str) -> RowFault {
    only_row(line).expect_err(line)
}

#[test]
fn good_rows_under_the_chinese_header() {
    let a = id("51010419900101123");
    let file =
        format!("{HEADER}\n张三,{a},13800138000,MT-001,2024-03-01\n 李四 ,11010519491231002x,,,\n");
    assert_eq!(
        check(file.as_bytes(), DEFAULT_MAX_ROWS),
        Ok(RosterSummary {
            encoding: RosterEncoding::Utf8,
            rows: 2
        })
    );
    let items = read(file.as_bytes()).unwrap();
    assert_eq!(items.len(), 2);
    let first = items[0].as_ref().unwrap();
    assert_eq!((first.row, first.line), (1, 2));
    assert_eq!(first.name, "张三");
    assert_eq!(first.id_number.as_str(), a);
    assert_eq!(first.phone.as_ref().unwrap().as_str(), "13800138000");
    assert_eq!(first.platform_worker_id.as_deref(), Some("MT-001"));
    assert_eq!(first.platform_start_date, Some(date(2024, 3, 1)));
    let second = items[1].as_ref().unwrap();
    assert_eq!((second.row, second.line), (2, 3));
    assert_eq!(second.name, "李四");
    assert_eq!(second.id_number.as_str(), "11010519491231002X");
    assert_eq!(
        (
            &second.phone,
            &second.platform_worker_id,
            second.platform_start_date
        ),
        (&None, &None, None)
    );
}

#[test]
fn english_and_mixed_headers_are_accepted() {
    let row = rider_line(1);
    for header in [
        "name,id_number,phone,platform_worker_id,platform_start_date",
        " Name ,ID_Number,PHONE , Platform_Worker_ID,platform_start_DATE",
        "姓名,id_number,手机号,platform_worker_id,入职日期",
        "\u{3000}姓名\u{3000},\"身份证号\",手机号,平台工号,入职日期",
    ] {
        let file = format!("{header}\n{row}\n");
        assert_eq!(
            check(file.as_bytes(), 10).map(|s| s.rows),
            Ok(1),
            "{header}"
        );
        assert_eq!(outcomes(file.as_bytes()), [(1, None)], "{header}");
    }
}

#[test]
fn cells_are_trimmed_and_spreadsheet_text_marks_dropped() {
    let a = id("51010419900101123");
    let row = only_row(&format!(
        "\u{3000}张三\u{a0},'{a},\t13800138000 ,=\"007\",\u{3000}2024-03-01"
    ))
    .unwrap();
    assert_eq!(row.name, "张三");
    assert_eq!(row.id_number.as_str(), a);
    assert_eq!(row.phone.unwrap().as_str(), "13800138000");
    assert_eq!(row.platform_worker_id.as_deref(), Some("007"));
    let row = only_row(&format!("王五,=\"{a}\",'   , ' ,")).unwrap();
    assert_eq!(row.id_number.as_str(), a);
    assert_eq!((row.phone, row.platform_worker_id), (None, None));
}

#[test]
fn each_fault_code_comes_from_a_concrete_row() {
    use RowFaultCode::*;
    let a = id("51010419900101123");
    let masked_a = Some(format!("5101**********{}", &a[14..]));
    // An invalid ID number keeps its first 4 and its last character.
    let mask = |s: &str| {
        Some(format!(
            "{}{}{}",
            &s[..4],
            "*".repeat(s.len() - 5),
            &s[s.len() - 1..]
        ))
    };
    let wrong_check = format!("{}{}", &a[..17], if a.ends_with('0') { '1' } else { '0' });
    let bad_region = id("99010419900101123");
    let bad_birth = id("51010419900230123");
    let cases: Vec<(String, RowFaultCode, Option<String>)> = vec![
        (format!("张三,{a},13800138000,W1"), WrongColumnCount, None),
        (format!(",{a},,,"), NameMissing, masked_a.clone()),
        (format!("\u{3000} ,{a},,,"), NameMissing, masked_a.clone()),
        (format!("张\u{7}三,{a},,,"), NameInvalid, masked_a.clone()),
        (
            format!("{},{a},,,", "张".repeat(51)),
            NameInvalid,
            masked_a.clone(),
        ),
        ("张三,,,,".into(), IdNumberMissing, None),
        (
            "张三,5.10104E+17,,,".into(),
            IdNumberScientific,
            Some("5.10******7".into()),
        ),
        (
            format!("张三,{wrong_check},,,"),
            IdNumberCheckChar,
            mask(&wrong_check),
        ),
        ("张三,12345,,,".into(), IdNumberInvalid, None),
        (
            "张三,5101041990010112,,,".into(),
            IdNumberInvalid,
            mask("5101041990010112"),
        ),
        (
            format!("张三,{bad_region},,,"),
            IdNumberInvalid,
            mask(&bad_region),
        ),
        (
            format!("张三,{bad_birth},,,"),
            IdNumberInvalid,
            mask(&bad_birth),
        ),
        (format!("张三,{a},12345,,"), PhoneInvalid, masked_a.clone()),
        (
            format!("张三,{a},,{},", "w".repeat(65)),
            PlatformWorkerIdInvalid,
            masked_a.clone(),
        ),
        (
            format!("张三,{a},,\"W\n1\","),
            PlatformWorkerIdInvalid,
            masked_a.clone(),
        ),
        (
            format!("张三,{a},,,2026-02-30"),
            DateInvalid,
            masked_a.clone(),
        ),
    ];
    assert_eq!(mask(&wrong_check).unwrap().len(), 18);
    let mut seen = std::collections::HashSet::new();
    for (line, code, masked) in cases {
        let fault = fault_of(&line);
        assert_eq!(fault.code, code, "{line}");
        assert_eq!(fault.row, 1, "{line}");
        assert_eq!(fault.id_number_masked, masked, "{line}");
        seen.insert(code);
    }
    // `invalid_encoding` needs bytes past the encoding window: tests_stream.
    let untested: Vec<_> = RowFaultCode::ALL
        .into_iter()
        .filter(|c| !seen.contains(c))
        .collect();
    assert_eq!(untested, [InvalidEncoding]);
}

#[test]
fn limits_are_inclusive() {
    let a = id("51010419900101123");
    let row = only_row(&format!(
        "{},{a},,{},1990-01-01",
        "张".repeat(50),
        "w".repeat(64)
    ));
    let row = row.unwrap();
    assert_eq!(row.name.chars().count(), 50);
    assert_eq!(row.platform_worker_id.unwrap().len(), 64);
    assert_eq!(row.platform_start_date, Some(date(1990, 1, 1)));
}

#[test]
fn the_first_fault_in_column_order_is_reported() {
    use RowFaultCode::*;
    let a = id("51010419900101123");
    for (line, code) in [
        (
            "张\u{7}三,5.10104E+17,123,\u{7},1989-01-01".to_owned(),
            NameInvalid,
        ),
        (",5.10104E+17,123,\u{7},1989-01-01".to_owned(), NameMissing),
        (
            "张三,5.10104E+17,123,\u{7},1989-01-01".to_owned(),
            IdNumberScientific,
        ),
        (format!("张三,{a},123,\u{7},1989-01-01"), PhoneInvalid),
        (
            format!("张三,{a},,\u{7},1989-01-01"),
            PlatformWorkerIdInvalid,
        ),
        (format!("张三,{a},,,1989-01-01"), DateInvalid),
        ("张三,,,,,".to_owned(), WrongColumnCount),
        (",5.10104E+17,123,\u{7}".to_owned(), WrongColumnCount),
    ] {
        assert_eq!(fault_of(&line).code, code, "{line:?}");
    }
}

#[test]
fn several_faults_in_one_file_row_by_row() {
    use RowFaultCode::*;
    let a = id("51010419900101123");
    let lines = [
        rider_line(1),
        format!("张三,{a},12345,,"),
        "李四,5.10104e17,,,".to_owned(),
        rider_line(2),
        format!("王五,{a},,"),
        format!("赵六,{a},,,2099-01-01"),
        format!(",{a},,,"),
        rider_line(3),
    ];
    let file = format!("{HEADER}\n{}\n", lines.join("\n"));
    assert_eq!(
        outcomes(file.as_bytes()),
        [
            (1, None),
            (2, Some(PhoneInvalid)),
            (3, Some(IdNumberScientific)),
            (4, None),
            (5, Some(WrongColumnCount)),
            (6, Some(DateInvalid)),
            (7, Some(NameMissing)),
            (8, None),
        ]
    );
    assert_eq!(check(file.as_bytes(), 8).map(|s| s.rows), Ok(8));
}

#[test]
fn spreadsheet_mangled_id_numbers_ask_for_a_text_column() {
    for cell in [
        "5.10104E+17",
        "5.10104e17",
        "5.10104E17",
        "5.10104199001E+17",
        "510104199001011234.0",
        "'5.10104E+17",
    ] {
        let fault = fault_of(&format!("张三,{cell},,,"));
        assert_eq!(fault.code, RowFaultCode::IdNumberScientific, "{cell}");
    }
    assert!(RowFaultCode::IdNumberScientific.sentence().contains("文本"));
}

#[test]
fn start_dates_in_every_accepted_form() {
    let a = id("51010419900101123");
    for (cell, expected) in [
        ("2024-03-01", date(2024, 3, 1)),
        ("2024-3-1", date(2024, 3, 1)),
        ("2024/3/1", date(2024, 3, 1)),
        ("2024/03/01", date(2024, 3, 1)),
        ("2024.3.1", date(2024, 3, 1)),
        ("2024.12.31", date(2024, 12, 31)),
        ("20240301", date(2024, 3, 1)),
        ("2024年3月1日", date(2024, 3, 1)),
        ("2024年03月01日", date(2024, 3, 1)),
        ("2024-02-29", date(2024, 2, 29)),
        ("1990-01-01", date(1990, 1, 1)),
        ("2026-03-15", today()),
    ] {
        let row = only_row(&format!("张三,{a},,,{cell}")).unwrap();
        assert_eq!(row.platform_start_date, Some(expected), "{cell}");
    }
    for cell in [
        "2026-02-30",
        "2023-02-29",
        "2026-03-16",
        "2099-01-01",
        "1989-12-31",
        "2024-13-01",
        "2024-00-10",
        "2024-1-32",
        "24-03-01",
        "2024-03",
        "2024-03-01-01",
        "2024/03-01",
        "2024年3月1",
        "2024年3月",
        "2024030",
        "202403011",
        "45352",
        "2024/3/1 0:00",
        "２０２４-03-01",
        "yesterday",
    ] {
        let fault = fault_of(&format!("张三,{a},,,{cell}"));
        assert_eq!(fault.code, RowFaultCode::DateInvalid, "{cell}");
    }
}

#[test]
fn wrong_column_counts() {
    let a = id("51010419900101123");
    for line in [
        format!("张三,{a},13800138000,W1"),
        format!("张三,{a},13800138000,W1,2024-01-01,多余"),
        format!("张三,{a},13800138000,W1,2024-01-01,"),
        "张三".to_owned(),
    ] {
        let fault = fault_of(&line);
        assert_eq!(fault.code, RowFaultCode::WrongColumnCount, "{line}");
        assert_eq!(fault.id_number_masked, None);
    }
}

#[test]
fn quoted_cells_keep_commas_quotes_and_line_breaks() {
    let a = id("51010419900101123");
    let file = format!(
        "{HEADER}\n\"张,三\",\"{a}\",,\"MT,\"\"7\"\"\",\n\"李\n四\",{a},,,\n{}\n",
        rider_line(1)
    );
    let items = read(file.as_bytes()).unwrap();
    let first = items[0].as_ref().unwrap();
    assert_eq!(first.name, "张,三");
    assert_eq!(first.platform_worker_id.as_deref(), Some("MT,\"7\""));
    assert_eq!(first.line, 2);
    // A line break is a control character: not in a name.
    let second = items[1].as_ref().unwrap_err();
    assert_eq!(
        (second.row, second.line, second.code),
        (2, 3, RowFaultCode::NameInvalid)
    );
    let third = items[2].as_ref().unwrap();
    assert_eq!((third.row, third.line), (3, 5));
    assert_eq!(check(file.as_bytes(), 10).map(|s| s.rows), Ok(3));
}

#[test]
fn crlf_reads_as_lf() {
    let lf = format!("{}\n{}\n", riders_file(3).trim_end(), "张三,1,,,");
    let crlf = lf.replace('\n', "\r\n");
    let cr = lf.replace('\n', "\r");
    let lf_items = read(lf.as_bytes()).unwrap();
    assert_eq!(lf_items.len(), 4);
    assert_eq!(read(crlf.as_bytes()).unwrap(), lf_items);
    assert_eq!(check(crlf.as_bytes(), 10), check(lf.as_bytes(), 10));
    assert_eq!(check(cr.as_bytes(), 10).map(|s| s.rows), Ok(4));
}

#[test]
fn blank_lines_and_records_are_skipped_and_not_numbered() {
    let file = format!(
        "\n\r\n{HEADER}\r\n\r\n{}\n,,,,\n \t, , ,,\n\n{}\n\"\",,,,\n{}\n\n\r\n,,,,\r\n\n",
        rider_line(1),
        rider_line(2),
        rider_line(3)
    );
    let items = read(file.as_bytes()).unwrap();
    let rows: Vec<(u64, u64)> = items
        .iter()
        .map(|item| {
            let row = item.as_ref().unwrap();
            (row.row, row.line)
        })
        .collect();
    assert_eq!(rows, [(1, 5), (2, 9), (3, 11)]);
    assert_eq!(check(file.as_bytes(), 3).map(|s| s.rows), Ok(3));
    // A line of full-width spaces is not blank: it is a row, with its fault.
    let file = format!("{HEADER}\n\u{3000}\n");
    assert_eq!(
        outcomes(file.as_bytes()),
        [(1, Some(RowFaultCode::WrongColumnCount))]
    );
}

#[test]
fn empty_files_and_a_header_alone_are_refused() {
    let files: [&[u8]; 4] = [b"", b"\xEF\xBB\xBF", b"\n\n\r\n", b",,,,\n  ,\n"];
    for file in files {
        let fault = check(file, 10).unwrap_err();
        assert_eq!(fault.code, FileFaultCode::Empty, "{file:?}");
        match RosterReader::new(file, today()) {
            Err(RosterError::File(f)) => assert_eq!(f, fault),
            _ => panic!("{file:?} was read"),
        }
    }
    for file in [HEADER.to_owned(), format!("{HEADER}\r\n\r\n,,,,\n")] {
        let fault = check(file.as_bytes(), 10).unwrap_err();
        assert_eq!(fault.code, FileFaultCode::Empty);
        assert!(fault.detail.contains("只有表头"));
        assert!(read(file.as_bytes()).unwrap().is_empty());
    }
}

#[test]
fn bad_headers_are_refused_without_quoting_the_file() {
    let a = id("51010419900101123");
    let row = format!("张三,{a},13800138000,W1,2024-01-01");
    for (header, says) in [
        ("姓名,身份证号,手机号,平台工号".to_owned(), "表头有 4 列"),
        (format!("{HEADER},备注"), "表头有 6 列"),
        (
            "姓名,身份证号,平台工号,手机号,入职日期".to_owned(),
            "第 3 列应为“手机号”或“phone”",
        ),
        (
            "名字,身份证号,手机号,平台工号,入职日期".to_owned(),
            "第 1 列应为“姓名”或“name”",
        ),
        (
            "name,id,phone,platform_worker_id,platform_start_date".to_owned(),
            "第 2 列",
        ),
        (row.clone(), "第 1 列"),
    ] {
        let file = format!("{header}\n{row}\n");
        let fault = check(file.as_bytes(), 10).unwrap_err();
        assert_eq!(fault.code, FileFaultCode::Header, "{header}");
        assert!(fault.detail.contains(says), "{header}: {}", fault.detail);
        assert!(fault
            .detail
            .contains("姓名、身份证号、手机号、平台工号、入职日期"));
        assert!(!fault.detail.contains(&a) && !fault.detail.contains("张三"));
        match RosterReader::new(file.as_bytes(), today()) {
            Err(RosterError::File(f)) => assert_eq!(f, fault),
            _ => panic!("{header} was read"),
        }
    }
}

#[test]
fn too_many_rows_with_a_small_maximum() {
    let file = riders_file(4);
    let fault = check(file.as_bytes(), 3).unwrap_err();
    assert_eq!(fault.code, FileFaultCode::TooManyRows);
    assert!(fault.detail.contains('3'));
    assert_eq!(check(file.as_bytes(), 4).map(|s| s.rows), Ok(4));
}

#[test]
fn faults_and_rows_never_show_a_full_id_number() {
    let a = id("51010419900101123");
    let wrong_check = format!("{}{}", &a[..17], if a.ends_with('0') { '1' } else { '0' });
    let file = format!("{HEADER}\n张三,{a},12345,,\n李四,{wrong_check},,,\n王五,{a},,,\n");
    for item in read(file.as_bytes()).unwrap() {
        let shown = match &item {
            Ok(row) => format!("{row:?}"),
            Err(fault) => format!("{fault:?} {fault}"),
        };
        assert!(!shown.contains(&a[4..14]), "{shown}");
        assert!(!shown.contains(&wrong_check[4..14]), "{shown}");
    }
}

#[test]
fn codes_are_stable_snake_case_with_zh_cn_sentences() {
    let codes: Vec<&str> = RowFaultCode::ALL.iter().map(|c| c.as_str()).collect();
    let unique: std::collections::HashSet<_> = codes.iter().collect();
    assert_eq!(unique.len(), codes.len());
    for code in RowFaultCode::ALL {
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            serde_json::json!(code.as_str())
        );
        assert!(code
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_'));
        assert!(
            code.sentence()
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{code:?}"
        );
    }
    for code in [
        FileFaultCode::Encoding,
        FileFaultCode::Header,
        FileFaultCode::TooManyRows,
        FileFaultCode::Empty,
    ] {
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            serde_json::json!(code.as_str())
        );
    }
    for encoding in [
        RosterEncoding::Utf8,
        RosterEncoding::Utf8Bom,
        RosterEncoding::Gbk,
    ] {
        assert_eq!(
            serde_json::to_value(encoding).unwrap(),
            serde_json::json!(encoding.as_str())
        );
    }
    let fault = RowFault {
        row: 7,
        line: 9,
        code: RowFaultCode::PhoneInvalid,
        id_number_masked: None,
    };
    assert_eq!(
        fault.to_string(),
        format!("第 7 行：{}", RowFaultCode::PhoneInvalid.sentence())
    );
}
