//! Deciding a roster's encoding from its first bytes, and decoding one cell strictly.

use std::borrow::Cow;

use encoding_rs::{DecoderResult, GBK};

use super::{FileFault, RosterEncoding, SNIFF_BYTES};

pub(super) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The encoding of a file whose first bytes are `window` (see the module documentation).
/// A window shorter than [`SNIFF_BYTES`] is the whole file; a longer one is not accepted
/// as such, so a sequence cut at its end is allowed.
pub(super) fn detect(window: &[u8]) -> Result<RosterEncoding, FileFault> {
    let whole_file = window.len() < SNIFF_BYTES;
    if window.starts_with(UTF8_BOM) {
        return Ok(RosterEncoding::Utf8Bom);
    }
    if window.starts_with(b"\xFF\xFE") || window.starts_with(b"\xFE\xFF") {
        return Err(FileFault::utf16());
    }
    let utf8 = match std::str::from_utf8(window) {
        Ok(_) => true,
        // `error_len` is None when the input merely ends inside a sequence.
        Err(e) => !whole_file && e.error_len().is_none(),
    };
    if utf8 {
        Ok(RosterEncoding::Utf8)
    } else if is_gbk(window, whole_file) {
        Ok(RosterEncoding::Gbk)
    } else {
        Err(FileFault::encoding())
    }
}

/// Whether `bytes` decode as GB18030 without a malformed sequence; unless `last`, a
/// sequence cut at the end is fine.
fn is_gbk(mut bytes: &[u8], last: bool) -> bool {
    let mut decoder = GBK.new_decoder_without_bom_handling();
    let mut scratch = [0u8; 4096];
    loop {
        let (result, read, _) =
            decoder.decode_to_utf8_without_replacement(bytes, &mut scratch, last);
        bytes = bytes.get(read..).unwrap_or_default();
        match result {
            DecoderResult::InputEmpty => return true,
            DecoderResult::OutputFull => {}
            DecoderResult::Malformed(..) => return false,
        }
    }
}

/// One cell's bytes as text, or None when they are not valid in `encoding`.
pub(super) fn decode(bytes: &[u8], encoding: RosterEncoding) -> Option<Cow<'_, str>> {
    match encoding {
        RosterEncoding::Utf8 | RosterEncoding::Utf8Bom => {
            std::str::from_utf8(bytes).ok().map(Cow::Borrowed)
        }
        RosterEncoding::Gbk => GBK.decode_without_bom_handling_and_without_replacement(bytes),
    }
}
