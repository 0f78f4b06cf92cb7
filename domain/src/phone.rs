//! Mainland China mobile numbers: 11 digits starting 1[3-9], with an optional +86 / 86 prefix.

use serde::{Deserialize, Serialize};

/// A valid mainland mobile number, held as its 11 digits.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct Phone(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a mainland China mobile number")]
pub struct PhoneError;

impl Phone {
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let compact: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let digits = compact
            .strip_prefix("+86")
            .or_else(|| compact.strip_prefix("0086"))
            .or_else(|| {
                (compact.len() == 13)
                    .then(|| compact.strip_prefix("86"))
                    .flatten()
            })
            .unwrap_or(&compact);
        let bytes = digits.as_bytes();
        let valid = bytes.len() == 11
            && bytes.iter().all(u8::is_ascii_digit)
            && bytes[0] == b'1'
            && (b'3'..=b'9').contains(&bytes[1]);
        if valid {
            Ok(Self(digits.to_owned()))
        } else {
            Err(PhoneError)
        }
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`: for responses and logs.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

/// A stored or provider-quoted number masked for a log or a response: `138****5678`, or
/// `***` when it is not a mainland mobile number (nothing of it is shown then).
pub fn mask(raw: &str) -> String {
    Phone::parse(raw).map_or_else(|_| "***".to_owned(), |p| p.masked())
}

/// Debug shows the masked form, so a phone never reaches a log by accident.
impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> Self {
        p.0
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Phone::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_numbers_are_masked_or_hidden_whole() {
        assert_eq!(mask("13812345678"), "138****5678");
        assert_eq!(mask("+8613812345678"), "138****5678");
        assert_eq!(mask("12345"), "***");
    }

    #[test]
    fn accepts_mainland_mobiles_with_or_without_prefix() {
        for input in [
            "13800138000",
            "+8613800138000",
            "8613800138000",
            "008613800138000",
            "138 0013 8000",
            "19912345678",
        ] {
            assert_eq!(Phone::parse(input).unwrap().as_str().len(), 11, "{input}");
        }
        assert_eq!(
            Phone::parse("+86 138-0013-8000").unwrap().as_str(),
            "13800138000"
        );
    }

    #[test]
    fn refuses_everything_else() {
        for input in [
            "",
            "1380013800",
            "138001380001",
            "12800138000",
            "23800138000",
            "1380013800a",
            "+8513800138000",
            "010-12345678",
        ] {
            assert_eq!(Phone::parse(input), Err(PhoneError), "{input}");
        }
    }

    #[test]
    fn masks_the_middle() {
        let p = Phone::parse("13812345678").unwrap();
        assert_eq!(p.masked(), "138****5678");
        assert_eq!(format!("{p:?}"), "Phone(138****5678)");
    }
}
