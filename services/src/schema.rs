//! Schemas the derives cannot write: constraints a request's JSON Schema states so that a
//! client (and a fuzzer) knows exactly what is accepted.

use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

/// A boolean that must be `true` (a consent).
pub fn must_be_true() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .build()
}

/// An integer as JSON Schema counts one: `12` and `12.0` alike (serde's integers refuse the
/// second, which the contract's `type: integer` allows). Anything else is refused: a
/// fraction, or a number beyond `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Integral(pub i64);

impl<'de> serde::Deserialize<'de> for Integral {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let number = serde_json::Number::deserialize(d)?;
        if let Some(i) = number.as_i64() {
            return Ok(Integral(i));
        }
        match number.as_f64() {
            // Exactly representable and whole: `12.0`, `1e3`.
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Integral(f as i64)),
            _ => Err(D::Error::custom(format!("{number} is not an integer"))),
        }
    }
}

/// `#[serde(deserialize_with = "crate::schema::small")]`: a u16 written as any integral
/// number (`30`, `30.0`), as JSON Schema's `integer` allows.
pub fn small<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    use serde::de::Error;
    let Integral(i) = serde::Deserialize::deserialize(d)?;
    u16::try_from(i).map_err(|_| D::Error::custom(format!("{i} is out of range")))
}

/// [`small`] for an optional field (with `#[serde(default)]`).
pub fn small_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    use serde::de::Error;
    let value: Option<Integral> = serde::Deserialize::deserialize(d)?;
    value
        .map(|Integral(i)| {
            u16::try_from(i).map_err(|_| D::Error::custom(format!("{i} is out of range")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn integral_numbers_are_integers_whatever_their_spelling() {
        for (json, value) in [("12", 12), ("12.0", 12), ("1e3", 1000), ("-0.0", 0)] {
            assert_eq!(
                serde_json::from_str::<Integral>(json).unwrap(),
                Integral(value)
            );
        }
        for json in ["12.5", "\"12\"", "1e300", "null"] {
            assert!(serde_json::from_str::<Integral>(json).is_err(), "{json}");
        }
    }
}
