//! Coordinates: validation, datum conversion to GCJ-02, great-circle distance, and the
//! unit-sphere helpers the station index is built on.
//!
//! Everything the API stores and returns is GCJ-02 (the datum 高德/腾讯 maps and WeChat's
//! map component use). Clients that report WGS-84 (a raw GPS fix, `wx.getLocation` without
//! `type: 'gcj02'`) are converted on the way in with [`to_gcj02`].
//!
//! Distances treat the earth as a sphere of mean radius [`EARTH_RADIUS_M`]; at the scale of
//! "stations within a few kilometres" the error against the ellipsoid is well under 0.5 %.

use serde::{Deserialize, Serialize};

/// Mean earth radius (IUGG), metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A point in degrees. Construct from user input with [`parse_lat_lng`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLng {
    pub lat: f64,
    pub lng: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeoError {
    #[error("invalid coordinates")]
    InvalidCoordinates,
    #[error("unknown coordinate datum")]
    UnknownDatum,
}

impl GeoError {
    /// Stable machine-readable code for the problem response.
    pub fn code(&self) -> &'static str {
        match self {
            GeoError::InvalidCoordinates => "geo.invalid_coordinates",
            GeoError::UnknownDatum => "geo.unknown_datum",
        }
    }

    /// What went wrong, in zh-CN, fit to show to the user.
    pub fn detail(&self) -> &'static str {
        match self {
            GeoError::InvalidCoordinates => {
                "坐标无效：纬度须在 -90 到 90 之间，经度须在 -180 到 180 之间"
            }
            GeoError::UnknownDatum => "坐标系无效：须为 gcj02 或 wgs84",
        }
    }
}

/// Validates a point: both finite, latitude in [-90, 90], longitude in [-180, 180].
pub fn parse_lat_lng(lat: f64, lng: f64) -> Result<LatLng, GeoError> {
    // `contains` is false for NaN, and infinities are outside the ranges.
    if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng) {
        Ok(LatLng { lat, lng })
    } else {
        Err(GeoError::InvalidCoordinates)
    }
}

/// The datum a client's coordinates are in.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datum {
    /// 国测局 GCJ-02 ("Mars coordinates"): 高德, 腾讯, WeChat maps.
    Gcj02,
    /// WGS-84: raw GPS.
    Wgs84,
}

impl Datum {
    /// `"gcj02"` or `"wgs84"`, exactly (as the contract lists them).
    pub fn parse(s: &str) -> Result<Self, GeoError> {
        match s {
            "gcj02" => Ok(Datum::Gcj02),
            "wgs84" => Ok(Datum::Wgs84),
            _ => Err(GeoError::UnknownDatum),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Datum::Gcj02 => "gcj02",
            Datum::Wgs84 => "wgs84",
        }
    }
}

/// Converts a point to GCJ-02. Outside China GCJ-02 *is* WGS-84, and the conversion returns
/// the point unchanged ("China" being the `coordtransform` crate's rectangle,
/// lng 72.004–135.05, lat 3.86–53.55, the same test the widely used reference
/// implementations apply).
pub fn to_gcj02(p: LatLng, datum: Datum) -> LatLng {
    match datum {
        Datum::Gcj02 => p,
        Datum::Wgs84 => {
            let (lng, lat) = coordtransform::wgs84_to_gcj02(p.lng, p.lat);
            LatLng { lat, lng }
        }
    }
}

/// Great-circle distance in metres (haversine, sphere of radius [`EARTH_RADIUS_M`]).
pub fn haversine_m(a: LatLng, b: LatLng) -> f64 {
    let (phi1, phi2) = (a.lat.to_radians(), b.lat.to_radians());
    let half_dphi = (phi2 - phi1) / 2.0;
    let half_dlambda = (b.lng - a.lng).to_radians() / 2.0;
    let h = half_dphi.sin().powi(2) + phi1.cos() * phi2.cos() * half_dlambda.sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// The point on the unit sphere: `[cos φ cos λ, cos φ sin λ, sin φ]`. Euclidean (chord)
/// distance between these vectors orders points exactly as great-circle distance does.
pub fn to_unit_vector(p: LatLng) -> [f64; 3] {
    let (sin_phi, cos_phi) = p.lat.to_radians().sin_cos();
    let (sin_lambda, cos_lambda) = p.lng.to_radians().sin_cos();
    [cos_phi * cos_lambda, cos_phi * sin_lambda, sin_phi]
}

/// The chord (on the unit sphere) of a great-circle arc of `m` metres: `2·sin(m / 2R)`.
/// Clamped to [0, 2]: negative or NaN gives 0, half the circumference or more gives 2.
pub fn chord_for_metres(m: f64) -> f64 {
    if m.is_nan() || m <= 0.0 {
        return 0.0;
    }
    let half_angle = m / (2.0 * EARTH_RADIUS_M);
    if half_angle >= std::f64::consts::FRAC_PI_2 {
        2.0
    } else {
        2.0 * half_angle.sin()
    }
}

/// The great-circle arc, in metres, of a chord `c` on the unit sphere (inverse of
/// [`chord_for_metres`]; `c` is clamped to [0, 2]).
pub fn metres_for_chord(c: f64) -> f64 {
    if c.is_nan() || c <= 0.0 {
        return 0.0;
    }
    2.0 * EARTH_RADIUS_M * (c / 2.0).min(1.0).asin()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn parse_lat_lng_checks_ranges() {
        assert_eq!(
            parse_lat_lng(30.657, 104.0665),
            Ok(LatLng {
                lat: 30.657,
                lng: 104.0665
            })
        );
        for (lat, lng) in [(90.0, 180.0), (-90.0, -180.0), (0.0, 0.0)] {
            assert!(parse_lat_lng(lat, lng).is_ok(), "{lat},{lng}");
        }
        for (lat, lng) in [
            (90.000_001, 0.0),
            (-90.1, 0.0),
            (0.0, 180.000_001),
            (0.0, -181.0),
            (f64::NAN, 0.0),
            (0.0, f64::NAN),
            (f64::INFINITY, 0.0),
            (0.0, f64::NEG_INFINITY),
        ] {
            assert_eq!(
                parse_lat_lng(lat, lng),
                Err(GeoError::InvalidCoordinates),
                "{lat},{lng}"
            );
        }
        let e = GeoError::InvalidCoordinates;
        assert_eq!(e.code(), "geo.invalid_coordinates");
        assert_eq!(
            e.detail(),
            "坐标无效：纬度须在 -90 到 90 之间，经度须在 -180 到 180 之间"
        );
    }

    #[test]
    fn datum_parses() {
        assert_eq!(Datum::parse("gcj02"), Ok(Datum::Gcj02));
        assert_eq!(Datum::parse("wgs84"), Ok(Datum::Wgs84));
        assert_eq!(
            Datum::parse("WGS84"),
            Err(GeoError::UnknownDatum),
            "exactly as the contract lists it"
        );
        assert_eq!(Datum::parse("bd09"), Err(GeoError::UnknownDatum));
        assert_eq!(Datum::parse(""), Err(GeoError::UnknownDatum));
        assert_eq!(GeoError::UnknownDatum.code(), "geo.unknown_datum");
        assert_eq!(
            serde_json::from_str::<Datum>("\"gcj02\"").unwrap(),
            Datum::Gcj02
        );
        assert_eq!(serde_json::to_string(&Datum::Wgs84).unwrap(), "\"wgs84\"");
        assert_eq!(Datum::Wgs84.as_str(), "wgs84");
    }

    #[test]
    fn wgs84_to_gcj02_inside_china() {
        // 天安门: the vector of the crate's own tests, which matches the widely used JS
        // reference (wandergis/coordtransform: wgs84togcj02(116.404, 39.915)).
        let p = to_gcj02(
            LatLng {
                lat: 39.915,
                lng: 116.404,
            },
            Datum::Wgs84,
        );
        assert!(close(p.lng, 116.410_244_499_169_38, 1e-10), "{p:?}");
        assert!(close(p.lat, 39.916_404_281_501_64, 1e-10), "{p:?}");
        // The shift is a few hundred metres, as GCJ-02 offsets are.
        let shift = haversine_m(
            LatLng {
                lat: 39.915,
                lng: 116.404,
            },
            p,
        );
        assert!((300.0..900.0).contains(&shift), "{shift}");
        // GCJ-02 input is left alone.
        let q = LatLng {
            lat: 30.657,
            lng: 104.0665,
        };
        assert_eq!(to_gcj02(q, Datum::Gcj02), q);
    }

    #[test]
    fn wgs84_is_gcj02_outside_china() {
        for p in [
            LatLng {
                lat: 51.5007,
                lng: -0.1246,
            }, // London
            LatLng {
                lat: 35.6586,
                lng: 139.7454,
            }, // Tokyo
            LatLng {
                lat: -33.8568,
                lng: 151.2153,
            }, // Sydney
            LatLng { lat: 0.0, lng: 0.0 },
        ] {
            assert_eq!(to_gcj02(p, Datum::Wgs84), p);
        }
    }

    #[test]
    fn haversine_known_distances() {
        let a = LatLng { lat: 0.0, lng: 0.0 };
        let b = LatLng { lat: 0.0, lng: 1.0 };
        // One degree of arc: 2πR / 360.
        let degree = 2.0 * std::f64::consts::PI * EARTH_RADIUS_M / 360.0;
        assert!(close(degree, 111_195.08, 0.01), "{degree}");
        assert!(close(haversine_m(a, b), degree, 1e-6));
        // Along a meridian too, anywhere.
        let c = LatLng {
            lat: 30.0,
            lng: 104.0,
        };
        let d = LatLng {
            lat: 31.0,
            lng: 104.0,
        };
        assert!(close(haversine_m(c, d), degree, 1e-6));
        // Pole to pole: half the circumference.
        let np = LatLng {
            lat: 90.0,
            lng: 0.0,
        };
        let sp = LatLng {
            lat: -90.0,
            lng: 0.0,
        };
        assert!(close(
            haversine_m(np, sp),
            std::f64::consts::PI * EARTH_RADIUS_M,
            1e-6
        ));
        // 成都 天府广场 → 春熙路: about 1.35 km; the spherical law of cosines agrees.
        let tianfu = LatLng {
            lat: 30.6570,
            lng: 104.0665,
        };
        let chunxi = LatLng {
            lat: 30.6537,
            lng: 104.0800,
        };
        let h = haversine_m(tianfu, chunxi);
        let (p1, p2) = (tianfu.lat.to_radians(), chunxi.lat.to_radians());
        let cos_c = p1.sin() * p2.sin()
            + p1.cos() * p2.cos() * (chunxi.lng - tianfu.lng).to_radians().cos();
        let law_of_cosines = EARTH_RADIUS_M * cos_c.acos();
        assert!(close(h, law_of_cosines, 0.01), "{h} vs {law_of_cosines}");
        assert!((1_300.0..1_400.0).contains(&h), "{h}");
        // Symmetric, zero on itself.
        assert_eq!(haversine_m(tianfu, chunxi), haversine_m(chunxi, tianfu));
        assert_eq!(haversine_m(tianfu, tianfu), 0.0);
    }

    #[test]
    fn unit_vectors_and_chords_agree_with_haversine() {
        let pts = [
            LatLng {
                lat: 30.657,
                lng: 104.0665,
            },
            LatLng {
                lat: 30.6537,
                lng: 104.08,
            },
            LatLng {
                lat: 39.915,
                lng: 116.404,
            },
            LatLng {
                lat: -45.0,
                lng: -179.9,
            },
            LatLng {
                lat: 89.9,
                lng: 10.0,
            },
        ];
        for a in pts {
            let v = to_unit_vector(a);
            assert!(close(v[0] * v[0] + v[1] * v[1] + v[2] * v[2], 1.0, 1e-15));
            for b in pts {
                let w = to_unit_vector(b);
                let chord =
                    ((v[0] - w[0]).powi(2) + (v[1] - w[1]).powi(2) + (v[2] - w[2]).powi(2)).sqrt();
                let h = haversine_m(a, b);
                assert!(close(metres_for_chord(chord), h, 1e-3), "{a:?} {b:?}");
                assert!(close(chord_for_metres(h), chord, 1e-12), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn chord_metre_round_trip() {
        for m in [
            0.001,
            1.0,
            100.0,
            3_000.0,
            50_000.0,
            1_000_000.0,
            15_000_000.0,
        ] {
            let back = metres_for_chord(chord_for_metres(m));
            assert!(close(back, m, m * 1e-9 + 1e-6), "{m} -> {back}");
        }
        // 3 km: the chord is the arc to within a part in 10^7.
        let c = chord_for_metres(3_000.0);
        assert!(close(c * EARTH_RADIUS_M, 3_000.0, 1e-3));
        // Clamping.
        assert_eq!(chord_for_metres(0.0), 0.0);
        assert_eq!(chord_for_metres(-5.0), 0.0);
        assert_eq!(chord_for_metres(f64::NAN), 0.0);
        assert_eq!(chord_for_metres(f64::INFINITY), 2.0);
        assert_eq!(chord_for_metres(1e9), 2.0);
        assert_eq!(metres_for_chord(-1.0), 0.0);
        assert!(close(
            metres_for_chord(2.0),
            std::f64::consts::PI * EARTH_RADIUS_M,
            1e-6
        ));
        assert!(close(
            metres_for_chord(3.0),
            std::f64::consts::PI * EARTH_RADIUS_M,
            1e-6
        ));
    }
}
