//! Membership rules: occupations and platforms, the age rule, card numbers, and the
//! personal fields of an application (real name, platform worker id).

use serde::{Deserialize, Serialize};

use crate::text::TextRule;

/// What a member does for a living.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Occupation {
    DeliveryRider,
    RideHailingDriver,
    Courier,
    TruckDriver,
    DomesticWorker,
    Other,
}

impl Occupation {
    pub const ALL: [Occupation; 6] = [
        Self::DeliveryRider,
        Self::RideHailingDriver,
        Self::Courier,
        Self::TruckDriver,
        Self::DomesticWorker,
        Self::Other,
    ];

    /// The wire and database form, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeliveryRider => "delivery_rider",
            Self::RideHailingDriver => "ride_hailing_driver",
            Self::Courier => "courier",
            Self::TruckDriver => "truck_driver",
            Self::DomesticWorker => "domestic_worker",
            Self::Other => "other",
        }
    }

    /// The inverse of [`Occupation::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::DeliveryRider => "外卖骑手",
            Self::RideHailingDriver => "网约车司机",
            Self::Courier => "快递员",
            Self::TruckDriver => "货车司机",
            Self::DomesticWorker => "家政服务员",
            Self::Other => "其他",
        }
    }
}

/// The platform a member works through.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Meituan,
    Eleme,
    Didi,
    SfIntraCity,
    Huolala,
    Manbang,
    Other,
}

impl Platform {
    pub const ALL: [Platform; 7] = [
        Self::Meituan,
        Self::Eleme,
        Self::Didi,
        Self::SfIntraCity,
        Self::Huolala,
        Self::Manbang,
        Self::Other,
    ];

    /// The wire and database form, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Meituan => "meituan",
            Self::Eleme => "eleme",
            Self::Didi => "didi",
            Self::SfIntraCity => "sf_intra_city",
            Self::Huolala => "huolala",
            Self::Manbang => "manbang",
            Self::Other => "other",
        }
    }

    /// The inverse of [`Platform::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Meituan => "美团",
            Self::Eleme => "饿了么",
            Self::Didi => "滴滴",
            Self::SfIntraCity => "顺丰同城",
            Self::Huolala => "货拉拉",
            Self::Manbang => "满帮",
            Self::Other => "其他",
        }
    }
}

/// The youngest age, in whole years, at which one can join.
pub const MIN_AGE: u32 = 16;
/// The oldest age, in whole years, at which one can join.
pub const MAX_AGE: u32 = 70;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AgeError {
    #[error("younger than the minimum age of 16")]
    TooYoung,
    #[error("older than the maximum age of 70")]
    TooOld,
}

/// Whether someone `age` whole years old may join: [`MIN_AGE`]..=[`MAX_AGE`].
pub fn check_age(age: u32) -> Result<(), AgeError> {
    if age < MIN_AGE {
        Err(AgeError::TooYoung)
    } else if age > MAX_AGE {
        Err(AgeError::TooOld)
    } else {
        Ok(())
    }
}

/// The largest card sequence number (eight digits).
const MAX_CARD_SEQUENCE: u64 = 99_999_999;

/// Card number: the org's 6-digit region code + 8-digit zero-padded sequence + one Luhn
/// check digit (15 digits). `None` if the region code is not six ASCII digits or the
/// sequence exceeds 99,999,999.
pub fn card_number(region_code: &str, sequence: u64) -> Option<String> {
    if region_code.len() != 6 || !region_code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if sequence > MAX_CARD_SEQUENCE {
        return None;
    }
    let payload = format!("{region_code}{sequence:08}");
    let check = luhn_check_digit(&payload)?;
    Some(format!("{payload}{check}"))
}

/// Whether `s` is exactly 15 ASCII digits whose last is the Luhn check digit of the rest.
pub fn is_valid_card_number(s: &str) -> bool {
    if s.len() != 15 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (payload, check) = s.split_at(14);
    check.chars().next() == luhn_check_digit(payload)
}

/// The Luhn digit to append to the ASCII digits `payload`; `None` if any is not a digit.
fn luhn_check_digit(payload: &str) -> Option<char> {
    let mut sum = 0u32;
    // Counting from the right of the payload, the first digit (next to where the check
    // digit goes) is doubled, then every second one.
    for (i, c) in payload.chars().rev().enumerate() {
        let mut d = c.to_digit(10)?;
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    char::from_digit((10 - sum % 10) % 10, 10)
}

/// A real name shown to others: 张三 → "张*", 李小龙 → "李*龙", 欧阳娜娜 → "欧**娜",
/// a single character "王" → "王". Works on characters, not bytes.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.as_slice() {
        [] => String::new(),
        [only] => only.to_string(),
        [first, _] => format!("{first}*"),
        [first, middle @ .., last] => {
            let mut masked = String::with_capacity(name.len());
            masked.push(*first);
            masked.extend(std::iter::repeat_n('*', middle.len()));
            masked.push(*last);
            masked
        }
    }
}

/// A real name: one line of 2–30 characters, no digits (ASCII or full-width), trimmed.
pub const REAL_NAME: TextRule = TextRule::person_name(2, 30);

/// A real name as accepted ([`REAL_NAME`]), trimmed.
pub fn parse_real_name(input: &str) -> Option<String> {
    REAL_NAME.check(input)
}

/// A platform worker id: 1–64 visible ASCII characters (no spaces).
pub fn parse_platform_worker_id(input: &str) -> Option<String> {
    let valid = (1..=64).contains(&input.len()) && input.bytes().all(|b| b.is_ascii_graphic());
    valid.then(|| input.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::value::{Error, StrDeserializer};

    #[test]
    fn occupations_round_trip_and_match_serde() {
        let labels: Vec<&str> = Occupation::ALL.iter().map(|o| o.label_zh()).collect();
        assert_eq!(
            labels,
            [
                "外卖骑手",
                "网约车司机",
                "快递员",
                "货车司机",
                "家政服务员",
                "其他"
            ]
        );
        for o in Occupation::ALL {
            assert_eq!(Occupation::parse(o.as_str()), Some(o));
            let read = Occupation::deserialize(StrDeserializer::<Error>::new(o.as_str()));
            assert_eq!(read, Ok(o));
        }
        assert_eq!(Occupation::DeliveryRider.as_str(), "delivery_rider");
        assert_eq!(
            Occupation::RideHailingDriver.as_str(),
            "ride_hailing_driver"
        );
        assert_eq!(Occupation::parse("Delivery_Rider"), None);
        assert_eq!(Occupation::parse(""), None);
    }

    #[test]
    fn platforms_round_trip_and_match_serde() {
        let names: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "meituan",
                "eleme",
                "didi",
                "sf_intra_city",
                "huolala",
                "manbang",
                "other"
            ]
        );
        let labels: Vec<&str> = Platform::ALL.iter().map(|p| p.label_zh()).collect();
        assert_eq!(
            labels,
            [
                "美团",
                "饿了么",
                "滴滴",
                "顺丰同城",
                "货拉拉",
                "满帮",
                "其他"
            ]
        );
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
            let read = Platform::deserialize(StrDeserializer::<Error>::new(p.as_str()));
            assert_eq!(read, Ok(p));
        }
        assert_eq!(Platform::parse("sfintracity"), None);
    }

    #[test]
    fn age_bounds_are_inclusive() {
        assert_eq!(check_age(0), Err(AgeError::TooYoung));
        assert_eq!(check_age(15), Err(AgeError::TooYoung));
        assert_eq!(check_age(16), Ok(()));
        assert_eq!(check_age(40), Ok(()));
        assert_eq!(check_age(70), Ok(()));
        assert_eq!(check_age(71), Err(AgeError::TooOld));
        assert_eq!(check_age(u32::MAX), Err(AgeError::TooOld));
        assert!(!AgeError::TooOld.to_string().is_empty());
    }

    #[test]
    fn luhn_matches_the_textbook_example() {
        // 7992739871 → check digit 3.
        assert_eq!(luhn_check_digit("7992739871"), Some('3'));
        assert_eq!(luhn_check_digit("799273987a"), None);
    }

    #[test]
    fn card_numbers_have_region_sequence_and_check_digit() {
        let card = card_number("510104", 42).unwrap();
        assert_eq!(card.len(), 15);
        assert!(card.starts_with("51010400000042"));
        assert!(is_valid_card_number(&card));
        assert!(card_number("510104", 0).is_some());
        assert!(card_number("510104", 99_999_999).is_some());
        assert_eq!(card_number("510104", 100_000_000), None);
        for bad in ["", "51010", "5101040", "51010a", " 51010", "５10104"] {
            assert_eq!(card_number(bad, 1), None, "{bad:?}");
        }
    }

    #[test]
    fn changing_any_digit_of_a_card_number_invalidates_it() {
        for sequence in [0, 1, 42, 12_345_678, 99_999_999] {
            let card = card_number("440305", sequence).unwrap();
            assert!(is_valid_card_number(&card));
            for pos in 0..card.len() {
                for digit in b'0'..=b'9' {
                    let mut bytes = card.clone().into_bytes();
                    if bytes[pos] == digit {
                        continue;
                    }
                    bytes[pos] = digit;
                    let changed = String::from_utf8(bytes).unwrap();
                    assert!(!is_valid_card_number(&changed), "{changed} from {card}");
                }
            }
        }
    }

    #[test]
    fn malformed_card_numbers_are_invalid() {
        let card = card_number("110105", 7).unwrap();
        assert!(!is_valid_card_number(""));
        assert!(!is_valid_card_number(&card[..14]));
        assert!(!is_valid_card_number(&format!("{card}0")));
        assert!(!is_valid_card_number(&format!(" {}", &card[1..])));
        assert!(!is_valid_card_number(&card.replace('1', "a")));
    }

    #[test]
    fn names_are_masked_by_character() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("李小龙"), "李*龙");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
        assert_eq!(mask_name("王"), "王");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_name("阿依古丽·买买提"), "阿******提");
    }

    #[test]
    fn real_names_are_checked() {
        assert_eq!(parse_real_name("  张三 ").as_deref(), Some("张三"));
        assert_eq!(
            parse_real_name("阿依古丽·买买提").as_deref(),
            Some("阿依古丽·买买提")
        );
        assert_eq!(parse_real_name("Li Na").as_deref(), Some("Li Na"));
        assert!(parse_real_name(&"张".repeat(30)).is_some());
        for bad in [
            "",
            "  ",
            "王",
            " 王 ",
            "张三3",
            "张三３",
            "张\u{0}三",
            "张\n三",
            "张\u{7f}三",
        ] {
            assert_eq!(parse_real_name(bad), None, "{bad:?}");
        }
        assert_eq!(parse_real_name(&"张".repeat(31)), None);
    }

    #[test]
    fn platform_worker_ids_are_checked() {
        assert_eq!(
            parse_platform_worker_id("MT-12345").as_deref(),
            Some("MT-12345")
        );
        assert_eq!(
            parse_platform_worker_id(" MT-12345 "),
            None,
            "as sent, no spaces"
        );
        assert_eq!(parse_platform_worker_id("7").as_deref(), Some("7"));
        assert!(parse_platform_worker_id(&"a".repeat(64)).is_some());
        for bad in ["", "   ", "MT 12345", "骑手1", "a\tb", "a\u{7f}"] {
            assert_eq!(parse_platform_worker_id(bad), None, "{bad:?}");
        }
        assert_eq!(parse_platform_worker_id(&"a".repeat(65)), None);
    }
}
