//! The enrolment job's row iterator over a roster that passed [`RosterCheck`].
//!
//! [`RosterCheck`]: super::RosterCheck

use std::io::{self, Read};

use chrono::NaiveDate;

use super::encoding::{detect, UTF8_BOM};
use super::row::{check_header, check_row};
use super::split::Splitter;
use super::{FileFault, RosterEncoding, RosterError, RosterItem, SNIFF_BYTES};

/// Reads a roster row by row: each item is a checked row or its fault, or an I/O error
/// (which ends the iteration; resume with [`RosterReader::resume`]).
///
/// Holds one read buffer of [`SNIFF_BYTES`] bytes and one record's first cells, whatever
/// the file's size. The number of rows is not limited here: [`RosterCheck`] refused the
/// file at upload if it had too many.
///
/// [`RosterCheck`]: super::RosterCheck
pub struct RosterReader<R> {
    input: R,
    buffer: Box<[u8]>,
    /// The unread part of `buffer`.
    start: usize,
    end: usize,
    at_eof: bool,
    splitter: Splitter,
    encoding: RosterEncoding,
    today: NaiveDate,
    /// Data rows yielded or skipped so far.
    rows: u64,
    done: bool,
}

impl<R: Read> RosterReader<R> {
    /// Decides the encoding from the first [`SNIFF_BYTES`] bytes exactly as
    /// [`RosterCheck`](super::RosterCheck) does, and reads the header. `today` bounds
    /// birth dates and platform start dates.
    pub fn new(input: R, today: NaiveDate) -> Result<Self, RosterError> {
        let mut reader = Self {
            input,
            buffer: vec![0; SNIFF_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
            at_eof: false,
            splitter: Splitter::new(),
            encoding: RosterEncoding::Utf8,
            today,
            rows: 0,
            done: false,
        };
        while reader.end < SNIFF_BYTES && !reader.at_eof {
            reader.fill()?;
        }
        reader.encoding = detect(&reader.buffer[..reader.end])?;
        if reader.encoding == RosterEncoding::Utf8Bom {
            reader.start = UTF8_BOM.len();
        }
        loop {
            if !reader.next_record()? {
                return Err(FileFault::no_header().into());
            }
            let record = reader.splitter.record();
            if !record.blank {
                check_header(record, reader.encoding)?;
                return Ok(reader);
            }
        }
    }

    /// [`RosterReader::new`], then [`RosterReader::skip_rows`]`(after_row)`: the first item
    /// is data row `after_row + 1`.
    pub fn resume(input: R, today: NaiveDate, after_row: u64) -> Result<Self, RosterError> {
        let mut reader = Self::new(input, today)?;
        reader.skip_rows(after_row)?;
        Ok(reader)
    }

    /// Passes over the next `n` data rows without checking them; returns how many there
    /// were (fewer than `n` at the end of the file).
    pub fn skip_rows(&mut self, n: u64) -> io::Result<u64> {
        let mut skipped = 0;
        while skipped < n && !self.done {
            if !self.next_record()? {
                self.done = true;
            } else if !self.splitter.record().blank {
                self.rows += 1;
                skipped += 1;
            }
        }
        Ok(skipped)
    }

    pub fn encoding(&self) -> RosterEncoding {
        self.encoding
    }

    /// Data rows yielded or skipped so far: the number of the last one.
    pub fn rows_read(&self) -> u64 {
        self.rows
    }

    /// Splits the next record; false at the end of the file.
    fn next_record(&mut self) -> io::Result<bool> {
        loop {
            if self.start < self.end {
                let (read, complete) = self.splitter.feed(&self.buffer[self.start..self.end]);
                self.start += read;
                if complete {
                    return Ok(true);
                }
            } else if self.at_eof {
                return Ok(self.splitter.finish());
            } else {
                (self.start, self.end) = (0, 0);
                self.fill()?;
            }
        }
    }

    /// Reads more into the free end of the buffer (which has room: callers see to it).
    fn fill(&mut self) -> io::Result<()> {
        loop {
            match self.input.read(&mut self.buffer[self.end..]) {
                Ok(0) => {
                    self.at_eof = true;
                    return Ok(());
                }
                Ok(read) => {
                    self.end += read;
                    return Ok(());
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }
}

impl<R: Read> Iterator for RosterReader<R> {
    type Item = io::Result<RosterItem>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.next_record() {
                Ok(true) => {
                    let record = self.splitter.record();
                    if !record.blank {
                        self.rows += 1;
                        return Some(Ok(check_row(record, self.rows, self.encoding, self.today)));
                    }
                }
                Ok(false) => self.done = true,
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
        None
    }
}
