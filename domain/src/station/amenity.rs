//! What a station offers, and sets of amenities held as a bitmask.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{clip, StationError};

/// What a station offers. The discriminant is the bit index in [`AmenitySet`], which is
/// stored: never renumber, only append.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Amenity {
    DrinkingWater = 0,
    HotWater = 1,
    PhoneCharging = 2,
    EbikeCharging = 3,
    BatterySwap = 4,
    Microwave = 5,
    Fridge = 6,
    AirConditioning = 7,
    Heating = 8,
    Restroom = 9,
    Wifi = 10,
    FirstAidKit = 11,
    Medicines = 12,
    Seating = 13,
    Books = 14,
    RepairTools = 15,
    LegalAid = 16,
    Shower = 17,
    Lockers = 18,
}

impl Amenity {
    /// Every amenity, in bit order.
    pub const ALL: [Amenity; 19] = [
        Self::DrinkingWater,
        Self::HotWater,
        Self::PhoneCharging,
        Self::EbikeCharging,
        Self::BatterySwap,
        Self::Microwave,
        Self::Fridge,
        Self::AirConditioning,
        Self::Heating,
        Self::Restroom,
        Self::Wifi,
        Self::FirstAidKit,
        Self::Medicines,
        Self::Seating,
        Self::Books,
        Self::RepairTools,
        Self::LegalAid,
        Self::Shower,
        Self::Lockers,
    ];

    /// The wire and database form, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DrinkingWater => "drinking_water",
            Self::HotWater => "hot_water",
            Self::PhoneCharging => "phone_charging",
            Self::EbikeCharging => "ebike_charging",
            Self::BatterySwap => "battery_swap",
            Self::Microwave => "microwave",
            Self::Fridge => "fridge",
            Self::AirConditioning => "air_conditioning",
            Self::Heating => "heating",
            Self::Restroom => "restroom",
            Self::Wifi => "wifi",
            Self::FirstAidKit => "first_aid_kit",
            Self::Medicines => "medicines",
            Self::Seating => "seating",
            Self::Books => "books",
            Self::RepairTools => "repair_tools",
            Self::LegalAid => "legal_aid",
            Self::Shower => "shower",
            Self::Lockers => "lockers",
        }
    }

    /// The inverse of [`Amenity::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::DrinkingWater => "饮用水",
            Self::HotWater => "热水",
            Self::PhoneCharging => "手机充电",
            Self::EbikeCharging => "电动车充电",
            Self::BatterySwap => "换电",
            Self::Microwave => "微波炉",
            Self::Fridge => "冰箱",
            Self::AirConditioning => "空调",
            Self::Heating => "暖气",
            Self::Restroom => "卫生间",
            Self::Wifi => "无线网络",
            Self::FirstAidKit => "急救箱",
            Self::Medicines => "常用药品",
            Self::Seating => "休息座椅",
            Self::Books => "图书",
            Self::RepairTools => "维修工具",
            Self::LegalAid => "法律援助",
            Self::Shower => "淋浴",
            Self::Lockers => "储物柜",
        }
    }

    /// This amenity's bit in [`AmenitySet::bits`]: `1 << index in ALL`.
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of amenities, held as a bitmask (see [`Amenity::bit`]). JSON: an array of codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AmenitySet(u32);

/// The bits of every known amenity.
pub(super) const KNOWN_AMENITY_BITS: u32 = (1 << Amenity::ALL.len()) - 1;

impl AmenitySet {
    pub const EMPTY: AmenitySet = AmenitySet(0);

    /// The set from stored bits; bits of no known amenity are dropped.
    pub fn from_bits(bits: u32) -> Self {
        Self(bits & KNOWN_AMENITY_BITS)
    }

    /// The stored form.
    pub fn bits(self) -> u32 {
        self.0
    }

    pub fn insert(&mut self, amenity: Amenity) {
        self.0 |= amenity.bit();
    }

    pub fn remove(&mut self, amenity: Amenity) {
        self.0 &= !amenity.bit();
    }

    pub fn contains(self, amenity: Amenity) -> bool {
        self.0 & amenity.bit() != 0
    }

    /// Whether every amenity of `other` is in this set (a search filter: "has all of").
    pub fn contains_all(self, other: AmenitySet) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The amenities in the set, in [`Amenity::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Amenity> {
        Amenity::ALL.into_iter().filter(move |a| self.contains(*a))
    }

    /// Parses the stored form: codes joined by commas, the empty string for no amenities
    /// (which [`Self::parse_list`], for a query value, refuses).
    pub fn parse_stored(s: &str) -> Result<Self, StationError> {
        if s.is_empty() {
            Ok(Self::EMPTY)
        } else {
            Self::parse_list(s)
        }
    }

    /// Parses a comma-separated query value such as `drinking_water,phone_charging`.
    /// Items are trimmed; an empty item (including an empty string) or an unknown code is
    /// an error. Repeated codes are accepted.
    pub fn parse_list(s: &str) -> Result<Self, StationError> {
        let mut set = Self::EMPTY;
        for item in s.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(StationError::EmptyAmenity);
            }
            let amenity = Amenity::parse(item)
                .ok_or_else(|| StationError::UnknownAmenity { code: clip(item) })?;
            set.insert(amenity);
        }
        Ok(set)
    }
}

impl FromIterator<Amenity> for AmenitySet {
    fn from_iter<I: IntoIterator<Item = Amenity>>(iter: I) -> Self {
        let mut set = Self::EMPTY;
        set.extend(iter);
        set
    }
}

impl Extend<Amenity> for AmenitySet {
    fn extend<I: IntoIterator<Item = Amenity>>(&mut self, iter: I) {
        for amenity in iter {
            self.insert(amenity);
        }
    }
}

impl Serialize for AmenitySet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for AmenitySet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let codes = Vec::<Amenity>::deserialize(deserializer)?;
        Ok(codes.into_iter().collect())
    }
}
