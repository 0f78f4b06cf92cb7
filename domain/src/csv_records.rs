//! Splitting a CSV text fed in chunks of any size into records, with the physical line each
//! record starts on: the one streaming record reader behind the WeChat Pay bill
//! ([`crate::wechat_bill`]) and bank statements ([`crate::bank_statement`]).
//!
//! [csv-core](https://docs.rs/csv-core) does the quoting; this keeps the record being read
//! across chunks, grows its buffers up to a bound (a longer record means a broken file, say
//! an unclosed quote swallowing the rest) and counts line ends (LF, CRLF and a lone CR, also
//! across chunks) so that every record knows its line, for finance to find it.

/// The longest record a statement may hold, in bytes: real lines are a few hundred bytes.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// The most cells a record may have.
pub const MAX_CELLS: usize = 1024;

/// A record longer than [`MAX_RECORD_BYTES`] or with more than [`MAX_CELLS`] cells, starting
/// on `line`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong {
    pub line: usize,
}

/// A completed record: the line it starts on, its cells' bytes (unquoted) and where each
/// cell ends in them.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    pub line: usize,
    pub bytes: &'a [u8],
    pub ends: &'a [usize],
}

/// Splits a CSV text into records (see the module documentation).
pub struct RecordSplitter {
    csv: csv_core::Reader,
    /// The record being read: its cells' bytes and ends so far.
    record: Vec<u8>,
    ends: Vec<usize>,
    record_len: usize,
    ends_len: usize,
    /// Whether a record has started (its first byte was given to csv-core).
    in_record: bool,
    record_line: usize,
    /// The physical line of the next byte, from 1.
    line: usize,
    /// Whether the last byte seen was a CR (so an LF next ends no new line).
    prev_cr: bool,
}

impl RecordSplitter {
    /// A splitter for cells separated by `delimiter`, quoted with `"`.
    pub fn new(delimiter: u8) -> Self {
        Self {
            csv: csv_core::ReaderBuilder::new()
                .delimiter(delimiter)
                .quote(b'"')
                .build(),
            record: vec![0; 1024],
            ends: vec![0; 32],
            record_len: 0,
            ends_len: 0,
            in_record: false,
            record_line: 1,
            line: 1,
            prev_cr: false,
        }
    }

    /// Whether a record has begun and not ended yet.
    pub fn in_record(&self) -> bool {
        self.in_record
    }

    /// Reads `input`, the next bytes of the text, handing each record it completes to
    /// `on_record` (whose error stops the reading and is returned).
    pub fn consume<E: From<TooLong>>(
        &mut self,
        mut input: &[u8],
        mut on_record: impl FnMut(RawRecord<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        // An empty input would tell csv-core the text ended.
        while !input.is_empty() {
            if !self.in_record {
                // Line ends between records (empty lines, the LF of a CRLF), which csv-core
                // would skip anyway; skipping them here tells the line the record starts on.
                let skip = input
                    .iter()
                    .take_while(|&&b| b == b'\n' || b == b'\r')
                    .count();
                let (breaks, rest) = input.split_at(skip);
                self.count_lines(breaks);
                input = rest;
                if input.is_empty() {
                    break;
                }
                self.in_record = true;
                self.record_line = self.line;
            }
            let (result, read, written, ended) = self.csv.read_record(
                input,
                self.record.get_mut(self.record_len..).unwrap_or_default(),
                self.ends.get_mut(self.ends_len..).unwrap_or_default(),
            );
            let (done, rest) = input.split_at(read.min(input.len()));
            self.count_lines(done);
            input = rest;
            self.record_len += written;
            self.ends_len += ended;
            match result {
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::OutputFull => self.grow_record()?,
                csv_core::ReadRecordResult::OutputEndsFull => self.grow_ends()?,
                csv_core::ReadRecordResult::Record => self.end_record(&mut on_record)?,
                // Only for an empty input, which is never given here.
                csv_core::ReadRecordResult::End => break,
            }
        }
        Ok(())
    }

    /// The end of the text: the last record, when it has no line end.
    pub fn flush<E: From<TooLong>>(
        &mut self,
        mut on_record: impl FnMut(RawRecord<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        while self.in_record {
            let (result, _, written, ended) = self.csv.read_record(
                &[],
                self.record.get_mut(self.record_len..).unwrap_or_default(),
                self.ends.get_mut(self.ends_len..).unwrap_or_default(),
            );
            self.record_len += written;
            self.ends_len += ended;
            match result {
                csv_core::ReadRecordResult::OutputFull => self.grow_record()?,
                csv_core::ReadRecordResult::OutputEndsFull => self.grow_ends()?,
                csv_core::ReadRecordResult::Record => self.end_record(&mut on_record)?,
                csv_core::ReadRecordResult::InputEmpty | csv_core::ReadRecordResult::End => break,
            }
        }
        Ok(())
    }

    fn end_record<E>(
        &mut self,
        on_record: &mut impl FnMut(RawRecord<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.in_record = false;
        let (record_len, ends_len) = (self.record_len, self.ends_len);
        self.record_len = 0;
        self.ends_len = 0;
        on_record(RawRecord {
            line: self.record_line,
            bytes: self.record.get(..record_len).unwrap_or_default(),
            ends: self.ends.get(..ends_len).unwrap_or_default(),
        })
    }

    fn grow_record(&mut self) -> Result<(), TooLong> {
        let len = self.record.len().saturating_mul(2);
        if len > MAX_RECORD_BYTES {
            return Err(TooLong {
                line: self.record_line,
            });
        }
        self.record.resize(len, 0);
        Ok(())
    }

    fn grow_ends(&mut self) -> Result<(), TooLong> {
        let len = self.ends.len().saturating_mul(2);
        if len > MAX_CELLS {
            return Err(TooLong {
                line: self.record_line,
            });
        }
        self.ends.resize(len, 0);
        Ok(())
    }

    /// Counts the line ends in `bytes`, the next bytes of the text: LF, CRLF and a lone CR
    /// each end a line, also across chunks.
    fn count_lines(&mut self, bytes: &[u8]) {
        let Some((&first, rest)) = bytes.split_first() else {
            return;
        };
        // A CR ends a line; an LF does unless it follows a CR. Counted byte pair by byte
        // pair, in blocks whose count fits a u8, which the compiler vectorises.
        let mut lines = usize::from(first == b'\r' || (first == b'\n' && !self.prev_cr));
        for (prev, next) in bytes.chunks(255).zip(rest.chunks(255)) {
            let block = prev.iter().zip(next).fold(0u8, |n, (&p, &c)| {
                n + u8::from((c == b'\r') | ((c == b'\n') & (p != b'\r')))
            });
            lines += usize::from(block);
        }
        self.line += lines;
        self.prev_cr = bytes.last() == Some(&b'\r');
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    impl From<TooLong> for String {
        fn from(t: TooLong) -> Self {
            format!("too long at {}", t.line)
        }
    }

    /// Every record as (line, cells), the text fed in chunks of `size` bytes.
    fn split(text: &[u8], size: usize) -> Result<Vec<(usize, Vec<String>)>, String> {
        let mut out = Vec::new();
        let mut s = RecordSplitter::new(b',');
        let mut take = |r: RawRecord<'_>| -> Result<(), String> {
            let mut start = 0;
            let cells = r
                .ends
                .iter()
                .map(|&end| {
                    let cell = String::from_utf8_lossy(&r.bytes[start..end]).into_owned();
                    start = end;
                    cell
                })
                .collect();
            out.push((r.line, cells));
            Ok(())
        };
        for chunk in text.chunks(size.max(1)) {
            s.consume(chunk, &mut take)?;
        }
        s.flush(&mut take)?;
        Ok(out)
    }

    #[test]
    fn records_know_their_lines_whatever_the_chunks() {
        let text = b"a,b\r\n\r\n\"x\ny\",2\rlast,\"q\"\"q\"";
        let want = vec![
            (1, vec!["a".to_owned(), "b".to_owned()]),
            (3, vec!["x\ny".to_owned(), "2".to_owned()]),
            (5, vec!["last".to_owned(), "q\"q".to_owned()]),
        ];
        for size in [1, 2, 3, 5, 7, text.len()] {
            assert_eq!(split(text, size).unwrap(), want, "chunks of {size}");
        }
    }

    #[test]
    fn a_record_too_long_stops_the_reading_with_its_line() {
        let mut text = b"ok\n\"".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 1));
        assert_eq!(split(&text, 4096), Err("too long at 2".to_owned()));
        let many = format!("ok\n{}\n", ",".repeat(MAX_CELLS + 1));
        assert_eq!(split(many.as_bytes(), 100), Err("too long at 2".to_owned()));
    }
}
