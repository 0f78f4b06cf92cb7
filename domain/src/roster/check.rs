//! The upload's check of a whole file, fed chunk by chunk as its bytes arrive.

use super::encoding::{detect, UTF8_BOM};
use super::row::check_header;
use super::split::Splitter;
use super::{FileFault, RosterEncoding, RosterSummary, SNIFF_BYTES};

/// Checks a roster as it streams in: encoding, header and the number of data rows,
/// without validating the rows themselves (the job's [`RosterReader`] does that, and finds
/// exactly as many rows).
///
/// Holds at most the first [`SNIFF_BYTES`] bytes (until the encoding is decided), one
/// record's first cells and a few counters. Once a fault is found, `push` and `finish`
/// return it again. Faults are reported in the order `encoding`, `header`,
/// `too_many_rows`, `empty`, whatever the chunks: nothing fails before the first
/// [`SNIFF_BYTES`] bytes have arrived, then `too_many_rows` fails the first `push` that
/// takes the count over the maximum.
///
/// [`RosterReader`]: super::RosterReader
pub struct RosterCheck {
    max_rows: u64,
    /// The first bytes, until the encoding is decided from them.
    window: Vec<u8>,
    encoding: Option<RosterEncoding>,
    splitter: Splitter,
    header_seen: bool,
    rows: u64,
    fault: Option<FileFault>,
}

impl RosterCheck {
    /// A check allowing at most `max_rows` data rows (see
    /// [`DEFAULT_MAX_ROWS`](super::DEFAULT_MAX_ROWS)).
    pub fn new(max_rows: u64) -> Self {
        Self {
            max_rows,
            window: Vec::new(),
            encoding: None,
            splitter: Splitter::new(),
            header_seen: false,
            rows: 0,
            fault: None,
        }
    }

    /// Takes the next bytes of the file.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), FileFault> {
        if let Some(fault) = &self.fault {
            return Err(fault.clone());
        }
        let result = self.take(chunk);
        if let Err(fault) = &result {
            self.fault = Some(fault.clone());
        }
        result
    }

    /// The end of the file: the summary, or the file's fault.
    pub fn finish(mut self) -> Result<RosterSummary, FileFault> {
        if let Some(fault) = self.fault {
            return Err(fault);
        }
        let encoding = match self.encoding {
            Some(encoding) => encoding,
            None => self.decide()?,
        };
        if self.splitter.finish() {
            self.record_done(encoding)?;
        }
        if !self.header_seen {
            return Err(FileFault::no_header());
        }
        if self.rows == 0 {
            return Err(FileFault::header_only());
        }
        Ok(RosterSummary {
            encoding,
            rows: self.rows,
        })
    }

    fn take(&mut self, mut chunk: &[u8]) -> Result<(), FileFault> {
        let encoding = match self.encoding {
            Some(encoding) => encoding,
            None => {
                let wanted = SNIFF_BYTES - self.window.len();
                let (head, tail) = chunk.split_at(wanted.min(chunk.len()));
                self.window.extend_from_slice(head);
                chunk = tail;
                if self.window.len() < SNIFF_BYTES {
                    return Ok(());
                }
                self.decide()?
            }
        };
        self.split(chunk, encoding)
    }

    /// Decides the encoding from the window, then splits the window.
    fn decide(&mut self) -> Result<RosterEncoding, FileFault> {
        let encoding = detect(&self.window)?;
        self.encoding = Some(encoding);
        let window = std::mem::take(&mut self.window);
        let body = match encoding {
            RosterEncoding::Utf8Bom => window.get(UTF8_BOM.len()..).unwrap_or_default(),
            RosterEncoding::Utf8 | RosterEncoding::Gbk => &window,
        };
        self.split(body, encoding)?;
        Ok(encoding)
    }

    fn split(&mut self, mut input: &[u8], encoding: RosterEncoding) -> Result<(), FileFault> {
        while !input.is_empty() {
            let (read, complete) = self.splitter.feed(input);
            input = input.get(read..).unwrap_or_default();
            if complete {
                self.record_done(encoding)?;
            }
        }
        Ok(())
    }

    fn record_done(&mut self, encoding: RosterEncoding) -> Result<(), FileFault> {
        let record = self.splitter.record();
        if record.blank {
            return Ok(());
        }
        if !self.header_seen {
            check_header(record, encoding)?;
            self.header_seen = true;
            return Ok(());
        }
        self.rows += 1;
        if self.rows > self.max_rows {
            return Err(FileFault::too_many_rows(self.max_rows));
        }
        Ok(())
    }
}
