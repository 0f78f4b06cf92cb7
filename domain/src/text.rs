//! Free text people type (station names, notices, reports, campaign messages): trimmed,
//! bounded in characters (never bytes), and free of control characters other than a line
//! break, so it renders the same in the app, a push notice and a log.

use std::ops::RangeInclusive;

/// `value` trimmed, or None unless its length in characters is within `chars` and it holds
/// no control character other than a line break.
pub fn clean_text(value: &str, chars: RangeInclusive<usize>) -> Option<String> {
    let v = value.trim();
    let ok = chars.contains(&v.chars().count()) && !v.chars().any(|c| c.is_control() && c != '\n');
    ok.then(|| v.to_owned())
}

/// Optional free text: absent or blank is None; otherwise it must pass [`clean_text`] with
/// at most `max` characters (`Err(())` when it does not).
#[allow(clippy::result_unit_err)]
pub fn optional_text(value: Option<String>, max: usize) -> Result<Option<String>, ()> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => clean_text(v, 1..=max).map(Some).ok_or(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_bounded_in_characters_and_free_of_controls() {
        assert_eq!(clean_text("  驿站  ", 2..=40).as_deref(), Some("驿站"));
        assert_eq!(clean_text("驿", 2..=40), None);
        assert_eq!(clean_text(&"站".repeat(41), 2..=40), None);
        assert_eq!(
            clean_text("第一行\n第二行", 2..=40).as_deref(),
            Some("第一行\n第二行")
        );
        assert_eq!(clean_text("a\tb", 1..=40), None);
        assert_eq!(optional_text(Some("   ".into()), 10), Ok(None));
        assert_eq!(optional_text(None, 10), Ok(None));
        assert_eq!(optional_text(Some("x".repeat(11)), 10), Err(()));
    }
}
