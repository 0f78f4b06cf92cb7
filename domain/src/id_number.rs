//! Resident ID numbers (GB 11643): 18 characters = 6-digit region code + YYYYMMDD birth
//! date + 3-digit sequence (odd = male) + a check character by ISO 7064 MOD 11-2.
//!
//! Only the form is validated here. Eligibility rules such as age live elsewhere
//! (`membership`). An ID number is sensitive personal information: [`IdNumber`] has no
//! `Display` and no `Serialize`, and its `Debug` shows the masked form only.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::region::RegionCode;

/// The MOD 11-2 weights of the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each remainder of the weighted sum modulo 11.
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// A resident ID number whose form is valid, normalized to an upper-case `X`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("an ID number is 17 digits followed by a digit or X")]
    Format,
    #[error("an ID number starts with a province code")]
    Region,
    #[error("the ID number does not hold a valid birth date")]
    BirthDate,
    #[error("the ID number's check character is wrong")]
    CheckChar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
}

impl IdNumber {
    /// Validates the form completely, checking in the order Format, Region, BirthDate,
    /// CheckChar. Surrounding whitespace is ignored; a lower-case `x` is accepted.
    /// A birth date after `today` or before 1900-01-01 is refused.
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, IdNumberError> {
        let trimmed = input.trim();
        let bytes = trimmed.as_bytes();
        let well_formed = bytes.len() == 18
            && bytes[..17].iter().all(u8::is_ascii_digit)
            && matches!(bytes[17], b'0'..=b'9' | b'X' | b'x');
        if !well_formed {
            return Err(IdNumberError::Format);
        }
        // All 18 bytes are ASCII from here on, so slicing by byte is slicing by character.
        let normalized = trimmed.to_ascii_uppercase();

        if !RegionCode::is_province_prefix(&normalized[..2]) {
            return Err(IdNumberError::Region);
        }

        let birth = parse_birth_date(&normalized[6..14]).ok_or(IdNumberError::BirthDate)?;
        if birth < EARLIEST_BIRTH_DATE || birth > today {
            return Err(IdNumberError::BirthDate);
        }

        if check_char(&normalized[..17]) != normalized[17..].chars().next() {
            return Err(IdNumberError::CheckChar);
        }
        Ok(Self(normalized))
    }

    /// The normalized 18 characters: only for encryption and the blind index, never for
    /// responses or logs (use [`IdNumber::masked`]).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn birth_date(&self) -> NaiveDate {
        // `parse` accepted only real dates from 1900-01-01 on; the fallback is unreachable.
        parse_birth_date(&self.0[6..14]).unwrap_or(EARLIEST_BIRTH_DATE)
    }

    /// By the parity of the sequence number (the 17th digit): odd is male.
    pub fn sex(&self) -> Sex {
        if self.0.as_bytes()[16] % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Age in whole years on `day` (0 before the birth date).
    pub fn age_on(&self, day: NaiveDate) -> u32 {
        age_between(self.birth_date(), day)
    }

    /// `5101**********123X`: the first 4 and last 4 characters, for responses.
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.0[..4], &self.0[14..])
    }
}

/// Debug shows the masked form, so an ID number never reaches a log by accident.
impl std::fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

/// The check character for the first 17 digits; `None` unless given exactly 17 ASCII digits.
pub fn check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    // The remainder is below 11, the length of the table.
    CHECK_CHARS.get((sum % 11) as usize).copied()
}

/// Age in whole years of someone born on `birth`, on `day`: the count of birthdays passed.
/// Someone born on 29 February becomes a year older on 1 March in common years.
/// 0 when `day` is before `birth`.
pub fn age_between(birth: NaiveDate, day: NaiveDate) -> u32 {
    if day < birth {
        return 0;
    }
    let mut years = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// No birth date before this is accepted.
const EARLIEST_BIRTH_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(date) => date,
    None => NaiveDate::MIN, // not reached: evaluated at compile time
};

/// `YYYYMMDD` (ASCII digits) to a date, if it is a real one.
fn parse_birth_date(yyyymmdd: &str) -> Option<NaiveDate> {
    let year = yyyymmdd.get(..4)?.parse().ok()?;
    let month = yyyymmdd.get(4..6)?.parse().ok()?;
    let day = yyyymmdd.get(6..8)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::RegionLevel;
    use proptest::prelude::*;

    /// GB 11643's published example.
    const EXAMPLE: &str = "11010519491231002X";

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Completes 17 digits with their check character.
    fn complete(first17: &str) -> String {
        format!("{first17}{}", check_char(first17).unwrap())
    }

    #[test]
    fn the_published_example_is_valid() {
        let id = IdNumber::parse(EXAMPLE, today()).unwrap();
        assert_eq!(id.as_str(), EXAMPLE);
        assert_eq!(id.birth_date(), date(1949, 12, 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.masked(), "1101**********002X");
        assert_eq!(check_char("11010519491231002"), Some('X'));
    }

    #[test]
    fn lower_case_x_and_surrounding_whitespace_are_normalized() {
        let lower = IdNumber::parse("11010519491231002x", today()).unwrap();
        assert_eq!(lower.as_str(), EXAMPLE);
        let padded = IdNumber::parse(" \t11010519491231002x\n", today()).unwrap();
        assert_eq!(padded, lower);
    }

    #[test]
    fn format_errors() {
        for input in [
            "",
            "11010519491231002",   // 17
            "11010519491231002X0", // 19
            "1101051949123100XX",  // X before the end
            "11010519491231002Y",  // not a check character
            "A1010519491231002X",  // letter
            "110105 19491231002X", // inner space
            "１1010519491231002X", // full-width digit
            "11010519491231002-",
            "+1010519491231002X",
        ] {
            assert_eq!(
                IdNumber::parse(input, today()),
                Err(IdNumberError::Format),
                "{input:?}"
            );
        }
    }

    #[test]
    fn region_errors() {
        // "00", "99", "19" and "72" are not province codes.
        for prefix in ["00", "99", "19", "72"] {
            let id = complete(&format!("{prefix}010519491231002"));
            assert_eq!(
                IdNumber::parse(&id, today()),
                Err(IdNumberError::Region),
                "{id}"
            );
        }
        // A county code that no longer exists is fine as long as the province does.
        let old = complete("51990019800101001");
        assert!(RegionCode::parse("519900").is_err());
        assert!(IdNumber::parse(&old, today()).is_ok());
        // Region is checked before the check character.
        assert_eq!(
            IdNumber::parse("99010519491231002X", today()),
            Err(IdNumberError::Region)
        );
    }

    #[test]
    fn birth_date_errors() {
        for birth in [
            "19490230", // 30 February
            "19490001", // month 0
            "19491301", // month 13
            "19491200", // day 0
            "19491232", // day 32
            "19000229", // 1900 was not a leap year
            "18991231", // before 1900
            "20260316", // the day after `today`
            "99991231",
        ] {
            let id = complete(&format!("110105{birth}002"));
            assert_eq!(
                IdNumber::parse(&id, today()),
                Err(IdNumberError::BirthDate),
                "{id}"
            );
        }
        // The bounds themselves are fine.
        for birth in ["19000101", "20260315", "20000229"] {
            let id = complete(&format!("110105{birth}002"));
            assert!(IdNumber::parse(&id, today()).is_ok(), "{id}");
        }
        // The birth date is checked before the check character.
        assert_eq!(
            IdNumber::parse("11010519490230002X", today()),
            Err(IdNumberError::BirthDate)
        );
    }

    #[test]
    fn check_char_errors() {
        assert_eq!(
            IdNumber::parse("110105194912310020", today()),
            Err(IdNumberError::CheckChar)
        );
        assert_eq!(
            IdNumber::parse("110105194912310030", today()),
            Err(IdNumberError::CheckChar)
        );
    }

    #[test]
    fn check_char_needs_17_ascii_digits() {
        assert_eq!(check_char(""), None);
        assert_eq!(check_char("1101051949123100"), None);
        assert_eq!(check_char("110105194912310020"), None);
        assert_eq!(check_char("1101051949123100X"), None);
        assert_eq!(check_char("１101051949123100"), None);
        assert_eq!(check_char("11010519491231002"), Some('X'));
    }

    #[test]
    fn errors_read_as_english() {
        assert_eq!(
            IdNumberError::CheckChar.to_string(),
            "the ID number's check character is wrong"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(IdNumberError::Format);
        assert!(!boxed.to_string().is_empty());
    }

    #[test]
    fn sex_follows_the_parity_of_the_sequence() {
        let male = IdNumber::parse(&complete("51010419900101123"), today()).unwrap();
        assert_eq!(male.sex(), Sex::Male);
        let female = IdNumber::parse(&complete("51010419900101124"), today()).unwrap();
        assert_eq!(female.sex(), Sex::Female);
    }

    #[test]
    fn sex_reads_in_lower_case() {
        use serde::de::value::{Error, StrDeserializer};
        let read = |s: &str| Sex::deserialize(StrDeserializer::<Error>::new(s));
        assert_eq!(read("male"), Ok(Sex::Male));
        assert_eq!(read("female"), Ok(Sex::Female));
        assert!(read("Male").is_err());
    }

    #[test]
    fn age_counts_birthdays_passed() {
        let id = IdNumber::parse(&complete("51010420000615123"), today()).unwrap();
        assert_eq!(id.age_on(date(2016, 6, 14)), 15);
        assert_eq!(id.age_on(date(2016, 6, 15)), 16);
        assert_eq!(id.age_on(date(2026, 3, 15)), 25);
        assert_eq!(id.age_on(date(1999, 1, 1)), 0);
        let leap = date(2004, 2, 29);
        assert_eq!(age_between(leap, date(2020, 2, 28)), 15);
        assert_eq!(age_between(leap, date(2020, 2, 29)), 16);
        assert_eq!(age_between(leap, date(2021, 2, 28)), 16);
        assert_eq!(age_between(leap, date(2021, 3, 1)), 17);
    }

    #[test]
    fn debug_shows_only_the_masked_form() {
        let id = IdNumber::parse(&complete("51010419900101123"), today()).unwrap();
        let debug = format!("{id:?}");
        assert_eq!(debug, format!("IdNumber({})", id.masked()));
        assert!(debug.starts_with("IdNumber(5101**********"));
        assert!(!debug.contains("19900101"));
    }

    /// Every single-character substitution of the example, over the alphabet an ID number
    /// is written in, fails, except writing its `X` in lower case.
    #[test]
    fn every_single_substitution_of_the_example_fails() {
        let alphabet = "0123456789Xx";
        let original: Vec<char> = EXAMPLE.chars().collect();
        let (mut cases, mut refused) = (0, 0);
        for pos in 0..original.len() {
            for c in alphabet.chars().filter(|&c| c != original[pos]) {
                let mut changed = original.clone();
                changed[pos] = c;
                let changed: String = changed.into_iter().collect();
                cases += 1;
                match IdNumber::parse(&changed, today()) {
                    Ok(id) => {
                        assert_eq!((pos, c), (17, 'x'), "{changed} was accepted");
                        assert_eq!(id.as_str(), EXAMPLE);
                    }
                    Err(_) => refused += 1,
                }
            }
        }
        assert_eq!(cases, 18 * 11);
        assert_eq!(refused, 18 * 11 - 1);
    }

    fn province_prefixes() -> Vec<String> {
        let mut prefixes: Vec<String> = RegionCode::all()
            .filter(|r| r.level == RegionLevel::Province)
            .map(|r| r.code.to_string()[..2].to_owned())
            .collect();
        prefixes.sort();
        prefixes
    }

    prop_compose! {
        /// A valid ID number as (its 18 characters, birth date, sequence number).
        fn valid_id()(
            prefix in proptest::sample::select(province_prefixes()),
            county in 0u32..10_000,
            days in 0..=(today() - date(1900, 1, 1)).num_days(),
            sequence in 0u32..1000,
        ) -> (String, NaiveDate, u32) {
            let birth = date(1900, 1, 1) + chrono::Duration::days(days);
            let first17 = format!("{prefix}{county:04}{}{sequence:03}", birth.format("%Y%m%d"));
            (complete(&first17), birth, sequence)
        }
    }

    proptest! {
        #[test]
        fn random_valid_numbers_pass_and_round_trip((id, birth, sequence) in valid_id()) {
            let parsed = IdNumber::parse(&id, today()).unwrap();
            prop_assert_eq!(parsed.as_str(), id.as_str());
            prop_assert_eq!(parsed.birth_date(), birth);
            let sex = if sequence % 2 == 1 { Sex::Male } else { Sex::Female };
            prop_assert_eq!(parsed.sex(), sex);
            prop_assert_eq!(parsed.masked(), format!("{}**********{}", &id[..4], &id[14..]));
            prop_assert_eq!(IdNumber::parse(&id.to_ascii_lowercase(), today()), Ok(parsed));
        }

        #[test]
        fn any_other_check_character_fails((id, _, _) in valid_id(), pick in 0usize..10) {
            let correct = id[17..].chars().next().unwrap();
            let others: Vec<char> = CHECK_CHARS.iter().copied().filter(|&c| c != correct).collect();
            prop_assert_eq!(others.len(), 10);
            let wrong = format!("{}{}", &id[..17], others[pick]);
            prop_assert_eq!(IdNumber::parse(&wrong, today()), Err(IdNumberError::CheckChar));
            prop_assert_eq!(
                IdNumber::parse(&wrong.to_ascii_lowercase(), today()),
                Err(IdNumberError::CheckChar)
            );
        }
    }
}
