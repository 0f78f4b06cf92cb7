//! GB/T 2260 region codes (province, city, county), compiled in from `data/regions.csv`.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegionLevel {
    Province,
    City,
    County,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub code: RegionCode,
    pub name: String,
    pub level: RegionLevel,
    pub parent: Option<RegionCode>,
    /// Seat coordinates (GCJ-02), when published.
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

/// A six-digit code of a region that exists in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct RegionCode(u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    #[error("a region code is six digits")]
    Malformed,
    #[error("no such region code")]
    Unknown,
}

static REGIONS: LazyLock<HashMap<u32, Region>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for line in include_str!("../data/regions.csv").lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let [code, name, level, parent, lat, lng] = cols[..] else {
            continue;
        };
        let (Ok(code), Some(level)) = (code.parse::<u32>(), parse_level(level)) else {
            continue;
        };
        map.insert(
            code,
            Region {
                code: RegionCode(code),
                name: name.to_owned(),
                level,
                parent: parent.parse().ok().map(RegionCode),
                lat: lat.parse().ok(),
                lng: lng.parse().ok(),
            },
        );
    }
    // A parent the table does not list (999900 海域 names 990000) is no parent: every code a
    // `RegionCode` holds is then one of the table's, up every chain.
    let known: std::collections::HashSet<u32> = map.keys().copied().collect();
    for region in map.values_mut() {
        if region.parent.is_some_and(|p| !known.contains(&p.0)) {
            region.parent = None;
        }
    }
    map
});

/// What `region()` answers for a code outside the table (none can be made; kept so the
/// lookup never panics).
static UNKNOWN: LazyLock<Region> = LazyLock::new(|| Region {
    code: RegionCode(0),
    name: String::new(),
    level: RegionLevel::Province,
    parent: None,
    lat: None,
    lng: None,
});

fn parse_level(s: &str) -> Option<RegionLevel> {
    match s {
        "province" => Some(RegionLevel::Province),
        "city" => Some(RegionLevel::City),
        "county" => Some(RegionLevel::County),
        _ => None,
    }
}

impl RegionCode {
    /// Exactly six ASCII digits naming a region of the table.
    pub fn parse(s: &str) -> Result<Self, RegionError> {
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RegionError::Malformed);
        }
        let code: u32 = s.parse().map_err(|_| RegionError::Malformed)?;
        if REGIONS.contains_key(&code) {
            Ok(Self(code))
        } else {
            Err(RegionError::Unknown)
        }
    }

    pub fn region(self) -> &'static Region {
        // Constructed only from codes present in the table, so the fallback is never used.
        REGIONS.get(&self.0).unwrap_or(&UNKNOWN)
    }

    pub fn name(self) -> &'static str {
        &self.region().name
    }

    /// Whether `self` is `ancestor` or lies within it.
    pub fn is_within(self, ancestor: RegionCode) -> bool {
        let mut current = Some(self);
        while let Some(code) = current {
            if code == ancestor {
                return true;
            }
            current = code.region().parent;
        }
        false
    }

    /// The province a code lies in.
    pub fn province(self) -> RegionCode {
        let mut code = self;
        while let Some(parent) = code.region().parent {
            code = parent;
        }
        code
    }

    /// Every region, for seeding and listings.
    pub fn all() -> impl Iterator<Item = &'static Region> {
        REGIONS.values()
    }

    /// Whether two-digit `prefix` is a province code (for ID numbers issued long ago).
    pub fn is_province_prefix(prefix: &str) -> bool {
        prefix.parse::<u32>().ok().is_some_and(|p| {
            REGIONS
                .get(&(p * 10_000))
                .is_some_and(|r| r.level == RegionLevel::Province)
        })
    }
}

impl std::fmt::Display for RegionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl From<RegionCode> for String {
    fn from(c: RegionCode) -> Self {
        c.to_string()
    }
}

/// The contract's region code: one of the table's codes (an enum, so a client knows them).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for RegionCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut codes: Vec<String> = REGIONS.keys().map(|c| format!("{c:06}")).collect();
        codes.sort();
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "GB/T 2260 region code (six digits), as of the table compiled in",
            ))
            .pattern(Some("^[0-9]{6}$"))
            .enum_values(Some(codes))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for RegionCode {}

impl<'de> Deserialize<'de> for RegionCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RegionCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_walks_up_to_a_province_without_a_gap() {
        for region in RegionCode::all() {
            let code = region.code;
            // Every parent named is in the table…
            if let Some(parent) = region.parent {
                assert_eq!(parent.region().code, parent, "{}'s parent", code.0);
            }
            // …so walking up never fails, whatever the code (999900 海域 once did).
            let top = code.province();
            assert!(code.is_within(top));
            assert!(top.region().parent.is_none());
        }
        let sea = RegionCode::parse("999900").unwrap();
        assert!(sea.is_within(sea));
        assert!(!sea.is_within(RegionCode::parse("510000").unwrap()));
    }

    #[test]
    fn the_table_is_complete() {
        assert_eq!(REGIONS.len(), 3428);
        let chengdu = RegionCode::parse("510100").unwrap();
        assert_eq!(chengdu.name(), "成都市");
        assert_eq!(chengdu.region().level, RegionLevel::City);
        assert_eq!(chengdu.province().to_string(), "510000");
    }

    #[test]
    fn codes_are_checked() {
        assert_eq!(RegionCode::parse("51010"), Err(RegionError::Malformed));
        assert_eq!(RegionCode::parse("51010x"), Err(RegionError::Malformed));
        assert_eq!(RegionCode::parse("519999"), Err(RegionError::Unknown));
        assert!(RegionCode::is_province_prefix("51"));
        assert!(!RegionCode::is_province_prefix("99"));
    }

    #[test]
    fn containment_follows_parents() {
        let sichuan = RegionCode::parse("510000").unwrap();
        let chengdu = RegionCode::parse("510100").unwrap();
        let jinjiang = RegionCode::parse("510104").unwrap();
        let shenzhen = RegionCode::parse("440300").unwrap();
        assert!(jinjiang.is_within(chengdu));
        assert!(jinjiang.is_within(sichuan));
        assert!(chengdu.is_within(chengdu));
        assert!(!chengdu.is_within(jinjiang));
        assert!(!shenzhen.is_within(sichuan));
    }
}
