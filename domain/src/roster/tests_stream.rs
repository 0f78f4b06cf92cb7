//! Streams: encodings, the encoding window, chunking, resuming, I/O errors, and the check
//! and the reader agreeing on every input.

use std::io::{self, Read};

use encoding_rs::GBK;
use proptest::prelude::*;

use super::tests::{check, id, read, rider_id, rider_line, riders_file, today, HEADER};
use super::*;

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = GBK.encode(text);
    assert!(!unmappable, "{text}");
    bytes.into_owned()
}

/// Text to a file's bytes.
type Encode = fn(&str) -> Vec<u8>;

fn utf8(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

fn bom(text: &str) -> Vec<u8> {
    [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat()
}

/// The check fed in chunks that end at `cuts` (offsets, in any order, taken modulo the
/// length).
fn check_chunked(bytes: &[u8], max_rows: u64, cuts: &[usize]) -> Result<RosterSummary, FileFault> {
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    ends.push(bytes.len());
    ends.sort_unstable();
    let mut check = RosterCheck::new(max_rows);
    let mut start = 0;
    for end in ends {
        check.push(&bytes[start..end])?;
        start = end;
    }
    check.finish()
}

/// What the reader makes of a file, in the check's terms.
fn reader_verdict(bytes: &[u8], max_rows: u64) -> Result<RosterSummary, FileFault> {
    let reader = match RosterReader::new(bytes, today()) {
        Ok(reader) => reader,
        Err(RosterError::File(fault)) => return Err(fault),
        Err(RosterError::Io(e)) => panic!("{e}"),
    };
    let encoding = reader.encoding();
    let rows = reader.count() as u64;
    if rows > max_rows {
        Err(FileFault::too_many_rows(max_rows))
    } else if rows == 0 {
        Err(FileFault::header_only())
    } else {
        Ok(RosterSummary { encoding, rows })
    }
}

#[test]
fn utf8_with_and_without_a_bom_and_gbk_read_alike() {
    let a = id("51010419900101123");
    let text = format!(
        "{HEADER}\n欧阳娜娜,{a},13800138000,美团-7,2024年3月1日\n迪丽热巴·迪力木拉提,{a},,,\n"
    );
    let plain = read(text.as_bytes()).unwrap();
    assert_eq!(plain.len(), 2);
    assert_eq!(plain[1].as_ref().unwrap().name, "迪丽热巴·迪力木拉提");
    for (bytes, encoding) in [
        (text.as_bytes().to_vec(), RosterEncoding::Utf8),
        (bom(&text), RosterEncoding::Utf8Bom),
        (gbk(&text), RosterEncoding::Gbk),
    ] {
        assert_eq!(check(&bytes, 10), Ok(RosterSummary { encoding, rows: 2 }));
        let reader = RosterReader::new(bytes.as_slice(), today()).unwrap();
        assert_eq!(reader.encoding(), encoding);
        let items: Vec<RosterItem> = reader.map(Result::unwrap).collect();
        assert_eq!(items, plain, "{encoding:?}");
    }
}

#[test]
fn files_in_neither_encoding_are_refused() {
    // Invalid UTF-8, and 0xFF is never part of GBK.
    let garbage = [HEADER.as_bytes(), b"\n\xFF\xFE\xFD,1,2,3,4\n"].concat();
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(HEADER.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    // A lone GBK lead byte at the very end of a short file.
    let cut_gbk = [gbk(HEADER).as_slice(), b"\n\xD5"].concat();
    for bytes in [garbage, utf16, cut_gbk] {
        let fault = check(&bytes, 10).unwrap_err();
        assert_eq!(fault.code, FileFaultCode::Encoding);
        assert_eq!(reader_verdict(&bytes, 10), Err(fault));
    }
    let utf16 = check(b"\xFF\xFEx", 10).unwrap_err();
    assert!(utf16.detail.contains("UTF-16"), "{}", utf16.detail);
}

/// `header`, then ASCII rider rows for as long as the file stays within `at` bytes.
fn rows_up_to(header: &str, encode: Encode, at: usize) -> Vec<u8> {
    let mut file = encode(&format!("{header}\n"));
    for i in 1.. {
        let line = format!("rider {i},{},,,\n", rider_id(i));
        if file.len() + line.len() > at {
            break;
        }
        file.extend(line.as_bytes());
    }
    file
}

#[test]
fn bytes_past_the_window_invalid_in_its_encoding_fault_their_row_only() {
    let a = id("51010419900101123");
    let english = "name,id_number,phone,platform_worker_id,platform_start_date";
    let mut bytes = rows_up_to(english, utf8, SNIFF_BYTES + 1000);
    let rows_before = bytes.iter().filter(|&&b| b == b'\n').count() - 1;
    bytes.extend(gbk(&format!("张三,{a},,,\n")));
    bytes.extend(format!("{}\n", rider_line(1)).as_bytes());
    bytes.extend(b"W\xFF,");
    bytes.extend(format!("{a},,,\n").as_bytes());
    assert!(bytes.len() > SNIFF_BYTES);
    let summary = check(&bytes, DEFAULT_MAX_ROWS).unwrap();
    assert_eq!(summary.encoding, RosterEncoding::Utf8);
    assert_eq!(summary.rows, rows_before as u64 + 3);
    let items = read(&bytes).unwrap();
    assert_eq!(items.len() as u64, summary.rows);
    assert!(items[..rows_before].iter().all(Result::is_ok));
    let tail = &items[rows_before..];
    let gbk_row = tail[0].as_ref().unwrap_err();
    assert_eq!(gbk_row.code, RowFaultCode::InvalidEncoding);
    assert_eq!(gbk_row.row, rows_before as u64 + 1);
    let masked = format!("5101**********{}", &a[14..]);
    assert_eq!(gbk_row.id_number_masked.as_deref(), Some(masked.as_str()));
    assert!(tail[1].is_ok());
    assert_eq!(
        tail[2].as_ref().unwrap_err().code,
        RowFaultCode::InvalidEncoding
    );
}

#[test]
fn a_character_cut_by_the_window_is_not_an_encoding_error() {
    let a = id("51010419900101123");
    let encoders: [(Encode, RosterEncoding); 2] =
        [(utf8, RosterEncoding::Utf8), (gbk, RosterEncoding::Gbk)];
    for (encode, encoding) in encoders {
        // The Chinese header makes the GBK window invalid as UTF-8.
        let mut bytes = rows_up_to(HEADER, encode, SNIFF_BYTES - 8);
        // 张 starts on the window's last byte.
        let pad = SNIFF_BYTES - bytes.len() - 1;
        bytes.extend(encode(&format!("{}张,{a},,,\n", "x".repeat(pad))));
        assert_eq!(bytes[SNIFF_BYTES - 1], encode("张")[0]);
        let summary = check(&bytes, DEFAULT_MAX_ROWS).unwrap();
        assert_eq!(summary.encoding, encoding);
        let items = read(&bytes).unwrap();
        assert_eq!(items.len() as u64, summary.rows);
        assert!(items.iter().all(Result::is_ok));
        assert!(items.last().unwrap().as_ref().unwrap().name.ends_with('张'));
    }
}

#[test]
fn a_long_cell_or_an_unclosed_quote_stays_bounded() {
    let a = id("51010419900101123");
    let long = "张".repeat(MAX_CELL_BYTES);
    let file = format!(
        "{HEADER}\n{long},{a},,,\n张三,{a},,{long},\n\"李四,{a},,,\n{}\n",
        rider_line(1).repeat(3)
    );
    let items = read(file.as_bytes()).unwrap();
    let codes: Vec<_> = items
        .iter()
        .map(|i| i.as_ref().err().map(|f| f.code))
        .collect();
    assert_eq!(
        codes,
        [
            Some(RowFaultCode::NameInvalid),
            Some(RowFaultCode::PlatformWorkerIdInvalid),
            // The quote runs to the end of the file: one cell.
            Some(RowFaultCode::WrongColumnCount),
        ]
    );
    assert_eq!(check(file.as_bytes(), 10).map(|s| s.rows), Ok(3));
}

#[test]
fn push_fails_as_soon_as_the_count_passes_the_maximum() {
    let file = riders_file(3000);
    assert!(file.len() > 2 * SNIFF_BYTES);
    let mut check = RosterCheck::new(100);
    let mut failed_at = None;
    for (i, chunk) in file.as_bytes().chunks(8192).enumerate() {
        if let Err(fault) = check.push(chunk) {
            assert_eq!(fault.code, FileFaultCode::TooManyRows);
            failed_at = Some(i);
            break;
        }
    }
    // The window of 64 KiB is the 8th chunk: it holds more than 100 rows.
    assert_eq!(failed_at, Some(SNIFF_BYTES / 8192 - 1));
    assert_eq!(
        check.push(b"more").unwrap_err().code,
        FileFaultCode::TooManyRows
    );
    assert_eq!(check.finish().unwrap_err().code, FileFaultCode::TooManyRows);
    // Past the window, the failing push is the one holding row 2001.
    let mut check = RosterCheck::new(2000);
    let row_2001 = file.find(&rider_line(2001)).unwrap();
    let mut pushed = 0;
    for chunk in file.as_bytes().chunks(1000) {
        pushed += chunk.len();
        if check.push(chunk).is_err() {
            break;
        }
    }
    assert!(
        pushed > row_2001 + rider_line(2001).len()
            && pushed <= row_2001 + rider_line(2001).len() + 1000
    );
}

#[test]
fn resume_yields_exactly_the_tail() {
    let lines = [
        rider_line(1),
        "张三,5.10104E+17,,,".to_owned(),
        rider_line(2),
        ",,,,".to_owned(),
        "\"李\n四\",1,,,".to_owned(),
        rider_line(3),
        "王五,1,2".to_owned(),
        rider_line(4),
    ];
    let file = format!("{HEADER}\r\n{}\r\n", lines.join("\r\n"));
    let all = read(file.as_bytes()).unwrap();
    assert_eq!(all.len(), 7);
    for n in 0..=9u64 {
        let reader = RosterReader::resume(file.as_bytes(), today(), n).unwrap();
        assert_eq!(reader.rows_read(), n.min(7));
        let tail: Vec<RosterItem> = reader.map(Result::unwrap).collect();
        assert_eq!(tail, all[(n as usize).min(7)..], "after {n}");
    }
    let mut reader = RosterReader::new(file.as_bytes(), today()).unwrap();
    assert_eq!(reader.skip_rows(5).unwrap(), 5);
    assert_eq!(reader.skip_rows(5).unwrap(), 2);
    assert!(reader.next().is_none());
}

/// Gives `data`, then fails.
struct FailsAfter {
    data: Vec<u8>,
    at: usize,
}

impl Read for FailsAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at >= self.data.len() {
            return Err(io::Error::other("disk gone"));
        }
        let n = buf.len().min(self.data.len() - self.at).min(5000);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn an_io_error_ends_the_iteration() {
    let file = riders_file(3000).into_bytes();
    let cut = file[..2 * SNIFF_BYTES].to_vec();
    let reader = RosterReader::new(FailsAfter { data: cut, at: 0 }, today()).unwrap();
    let items: Vec<io::Result<RosterItem>> = reader.collect();
    let (last, rows) = items.split_last().unwrap();
    assert_eq!(last.as_ref().unwrap_err().to_string(), "disk gone");
    assert!(rows.len() > 1000 && rows.iter().all(|r| matches!(r, Ok(Ok(_)))));
    let short = FailsAfter {
        data: file[..100].to_vec(),
        at: 0,
    };
    assert!(matches!(
        RosterReader::new(short, today()),
        Err(RosterError::Io(_))
    ));
}

/// Text that is mostly CSV, with the tricky parts often.
fn csvish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("张三"),
        Just("a"),
        Just(","),
        Just(",,,,"),
        Just("\""),
        Just("\"\""),
        Just("\n"),
        Just("\r\n"),
        Just("\r"),
        Just(" "),
        Just("\u{3000}"),
        Just("'"),
        Just("5.1E+17"),
        Just("2024/3/1"),
        Just("13800138000"),
        Just("11010519491231002X"),
        Just("51010419900101123"),
        Just("\n李四,11010519491231002X,,,\n"),
    ];
    proptest::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

/// A file: maybe a header, a body repeated (to go past the window now and then), in one
/// of the three encodings, with a few stray bytes in some.
fn file() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        Just(format!("{HEADER}\n")),
        Just("name,id_number,phone,platform_worker_id,platform_start_date\r\n".to_owned()),
        Just(String::new()),
    ];
    let repeat = prop_oneof![4 => Just(1usize), 2 => 2usize..5, 1 => Just(3000usize)];
    let stray = proptest::collection::vec(
        (
            any::<usize>(),
            prop_oneof![Just(0xFFu8), Just(0x81), Just(0xE5)],
        ),
        0..2,
    );
    (header, csvish(), repeat, 0..3u8, stray).prop_map(|(header, body, repeat, encoding, stray)| {
        let text = format!("{header}{}", body.repeat(repeat));
        let mut bytes = match encoding {
            0 => text.into_bytes(),
            1 => bom(&text),
            _ => gbk(&text),
        };
        for (at, byte) in stray {
            let len = bytes.len();
            bytes.insert(at % (len + 1), byte);
        }
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_check_and_the_reader_agree(
        bytes in file(),
        max_rows in prop_oneof![Just(DEFAULT_MAX_ROWS), 0u64..6],
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        resume_at in 0u64..8,
    ) {
        let whole = check(&bytes, max_rows);
        prop_assert_eq!(check_chunked(&bytes, max_rows, &cuts), whole.clone());
        let byte_by_byte: Vec<usize> = if bytes.len() < 2000 { (0..bytes.len()).collect() } else { vec![] };
        prop_assert_eq!(check_chunked(&bytes, max_rows, &byte_by_byte), whole.clone());
        prop_assert_eq!(reader_verdict(&bytes, max_rows), whole);

        if let Ok(reader) = RosterReader::new(bytes.as_slice(), today()) {
            let all: Vec<RosterItem> = reader.map(Result::unwrap).collect();
            for (i, item) in all.iter().enumerate() {
                let row = match item { Ok(r) => r.row, Err(f) => f.row };
                prop_assert_eq!(row, i as u64 + 1);
            }
            let resumed = RosterReader::resume(bytes.as_slice(), today(), resume_at).unwrap();
            let tail: Vec<RosterItem> = resumed.map(Result::unwrap).collect();
            prop_assert_eq!(&tail[..], &all[(resume_at as usize).min(all.len())..]);
        }
    }
}
