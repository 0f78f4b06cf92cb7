//! Money: `Decimal` yuan in code and in the API (as strings, "200.00"), BIGINT fen in the
//! database. No floats anywhere near it.

use rust_decimal::Decimal;

/// The pattern of a money string in the API: yuan with at most two decimals.
pub const MONEY_PATTERN: &str = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$";

/// Yuan to fen, when the amount has at most two decimals, is not negative and fits.
pub fn to_fen(yuan: Decimal) -> Option<i64> {
    if yuan.is_sign_negative() && !yuan.is_zero() {
        return None;
    }
    let fen = yuan.checked_mul(Decimal::ONE_HUNDRED)?;
    if !fen.fract().is_zero() {
        return None;
    }
    i64::try_from(fen.trunc()).ok()
}

/// Fen to yuan, always with two decimals ("200.00").
pub fn from_fen(fen: i64) -> Decimal {
    Decimal::new(fen, 2)
}

/// Parses an API money string (see [`MONEY_PATTERN`]) into fen.
pub fn parse_fen(text: &str) -> Option<i64> {
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    let ok_whole = !whole.is_empty()
        && whole.len() <= 10
        && whole.bytes().all(|b| b.is_ascii_digit())
        && (whole == "0" || !whole.starts_with('0'));
    let ok_frac = (text.contains('.') && (1..=2).contains(&frac.len())
        || frac.is_empty() && !text.contains('.'))
        && frac.bytes().all(|b| b.is_ascii_digit());
    if !ok_whole || !ok_frac {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(frac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    #[test]
    fn fen_and_yuan() {
        assert_eq!(to_fen(Decimal::from_str("200.00").unwrap()), Some(20_000));
        assert_eq!(to_fen(Decimal::from_str("0.5").unwrap()), Some(50));
        assert_eq!(to_fen(Decimal::from_str("0.005").unwrap()), None);
        assert_eq!(to_fen(Decimal::from_str("-1").unwrap()), None);
        assert_eq!(from_fen(20_000).to_string(), "200.00");
        assert_eq!(from_fen(5).to_string(), "0.05");
        for bad in ["", ".5", "01", "1.", "1.234", "-1", "1e3", "1,00", " 1"] {
            assert_eq!(parse_fen(bad), None, "{bad}");
        }
        assert_eq!(parse_fen("30000"), Some(3_000_000));
        assert_eq!(parse_fen("0.5"), Some(50));
    }

    proptest! {
        #[test]
        fn the_pattern_and_the_parser_agree(s in "[0-9.]{0,14}") {
            let re_ok = {
                // A hand-rolled check of MONEY_PATTERN (no regex crate in the domain).
                let (w, f) = s.split_once('.').map_or((s.as_str(), None), |(w, f)| (w, Some(f)));
                let w_ok = w == "0" || (!w.is_empty() && w.len() <= 10 && !w.starts_with('0') && w.bytes().all(|b| b.is_ascii_digit()));
                let f_ok = f.is_none_or(|f| (1..=2).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()));
                w_ok && f_ok
            };
            prop_assert_eq!(parse_fen(&s).is_some(), re_ok);
            if let Some(fen) = parse_fen(&s) {
                prop_assert_eq!(to_fen(Decimal::from_str(&s).unwrap()), Some(fen));
                prop_assert_eq!(from_fen(fen), Decimal::from_str(&s).unwrap());
            }
        }
    }
}
