//! Splitting a byte stream into CSV records, keeping only what a roster needs of each: the
//! first [`COLUMNS`] cells (each cut at [`MAX_CELL_BYTES`]), the number of cells, whether
//! the record is blank and the line it starts on. Memory stays bounded whatever the input,
//! even an unclosed quote that swallows the rest of the file.
//!
//! [`RosterCheck`](super::RosterCheck) and [`RosterReader`](super::RosterReader) both split
//! with this, which is what makes their row counts agree.

use csv_core::{ReadFieldResult, Reader};

use super::{COLUMNS, MAX_CELL_BYTES};

/// The parts of one record a roster looks at.
#[derive(Debug, Default)]
pub(super) struct RawRecord {
    cells: [Vec<u8>; COLUMNS],
    cut: [bool; COLUMNS],
    /// Cells in the record, all of them.
    pub(super) fields: u64,
    /// Every byte of every cell is ASCII whitespace (an empty line never gets this far).
    pub(super) blank: bool,
    /// The physical line of the record's first byte, from 1.
    pub(super) line: u64,
}

/// A cell as stored: its bytes, or `None` when it was longer than [`MAX_CELL_BYTES`].
pub(super) enum StoredCell<'a> {
    Bytes(&'a [u8]),
    TooLong,
}

impl RawRecord {
    fn start(&mut self, line: u64) {
        for cell in &mut self.cells {
            cell.clear();
        }
        self.cut = [false; COLUMNS];
        self.fields = 0;
        self.blank = true;
        self.line = line;
    }

    /// Appends bytes to the cell being read.
    fn push(&mut self, bytes: &[u8]) {
        if self.blank && !bytes.iter().all(u8::is_ascii_whitespace) {
            self.blank = false;
        }
        let Ok(index) = usize::try_from(self.fields) else {
            return;
        };
        if let (Some(cell), Some(cut)) = (self.cells.get_mut(index), self.cut.get_mut(index)) {
            let room = MAX_CELL_BYTES.saturating_sub(cell.len());
            if bytes.len() > room {
                *cut = true;
            }
            cell.extend_from_slice(&bytes[..room.min(bytes.len())]);
        }
    }

    /// Cell `index` (below [`COLUMNS`] and below `fields`).
    pub(super) fn cell(&self, index: usize) -> StoredCell<'_> {
        match (self.cells.get(index), self.cut.get(index)) {
            (Some(bytes), Some(false)) => StoredCell::Bytes(bytes),
            _ => StoredCell::TooLong,
        }
    }
}

/// A CSV splitter fed with slices of the stream, in order.
pub(super) struct Splitter {
    core: Reader,
    record: RawRecord,
    /// Inside a record (its first byte has been seen, its end has not).
    in_record: bool,
    scratch: Box<[u8]>,
}

impl Splitter {
    pub(super) fn new() -> Self {
        Self {
            core: Reader::new(),
            record: RawRecord::default(),
            in_record: false,
            scratch: vec![0; 1024].into_boxed_slice(),
        }
    }

    /// The record completed by the last `feed` or `finish` that said so.
    pub(super) fn record(&self) -> &RawRecord {
        &self.record
    }

    /// Reads from `input` up to the end of a record. Returns the bytes consumed, and
    /// whether a record is complete ([`Splitter::record`]); when it is not, all of `input`
    /// was consumed.
    pub(super) fn feed(&mut self, input: &[u8]) -> (usize, bool) {
        let mut pos = 0;
        loop {
            if !self.in_record {
                // Line ends between records are what csv_core discards there anyway
                // (empty lines, the LF of a CRLF); skipping them here tells the line
                // the next record starts on.
                let rest = &input[pos..];
                let skip = rest
                    .iter()
                    .position(|&b| b != b'\n' && b != b'\r')
                    .unwrap_or(rest.len());
                let newlines = rest[..skip].iter().filter(|&&b| b == b'\n').count();
                pos += skip;
                self.core
                    .set_line(self.core.line() + u64::try_from(newlines).unwrap_or(0));
                if pos >= input.len() {
                    return (input.len(), false);
                }
                self.record.start(self.core.line());
                self.in_record = true;
            }
            // An empty input means the end of the stream to csv_core: never pass one here.
            if pos >= input.len() {
                return (input.len(), false);
            }
            let (result, read, written) = self.core.read_field(&input[pos..], &mut self.scratch);
            pos += read;
            self.record.push(&self.scratch[..written]);
            match result {
                ReadFieldResult::InputEmpty | ReadFieldResult::End => return (input.len(), false),
                ReadFieldResult::OutputFull => {}
                ReadFieldResult::Field { record_end } => {
                    self.record.fields += 1;
                    if record_end {
                        self.in_record = false;
                        return (pos, true);
                    }
                }
            }
        }
    }

    /// At the end of the stream: whether a last record (one without a final line end) is
    /// complete now.
    pub(super) fn finish(&mut self) -> bool {
        if !self.in_record {
            return false;
        }
        // With no input csv_core only closes what is open: a cell, then the record.
        for _ in 0..4 {
            let (result, _, written) = self.core.read_field(&[], &mut self.scratch);
            self.record.push(&self.scratch[..written]);
            match result {
                ReadFieldResult::Field { record_end } => {
                    self.record.fields += 1;
                    if record_end {
                        self.in_record = false;
                        return true;
                    }
                }
                ReadFieldResult::End => break,
                ReadFieldResult::InputEmpty | ReadFieldResult::OutputFull => {}
            }
        }
        self.in_record = false;
        false
    }
}
