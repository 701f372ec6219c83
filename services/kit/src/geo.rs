//! Where stores are, and how far: coordinates, great-circle distance, and the
//! bounding box that lets the database prefilter a radius search.

use crate::error::ApiError;

type Result<T> = std::result::Result<T, ApiError>;

/// Mean Earth radius (IUGG), metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// The largest search radius `storesNear` accepts.
pub const MAX_RADIUS_KM: f64 = 50.0;

/// A point on Earth: latitude in [-90, 90], longitude in [-180, 180].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    lat: f64,
    lng: f64,
}

impl Coordinates {
    pub fn parse(lat: f64, lng: f64) -> Result<Self> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(ApiError::bad_input("lat", "lat must be between -90 and 90"));
        }
        if !lng.is_finite() || !(-180.0..=180.0).contains(&lng) {
            return Err(ApiError::bad_input(
                "lng",
                "lng must be between -180 and 180",
            ));
        }
        Ok(Self { lat, lng })
    }

    pub fn lat(self) -> f64 {
        self.lat
    }

    pub fn lng(self) -> f64 {
        self.lng
    }
}

/// A search radius: more than 0, at most 50 km.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadiusKm(f64);

impl RadiusKm {
    pub fn parse(km: f64) -> Result<Self> {
        if !km.is_finite() || km <= 0.0 || km > MAX_RADIUS_KM {
            return Err(ApiError::bad_input(
                "radiusKm",
                format!("radiusKm must be more than 0 and at most {MAX_RADIUS_KM}"),
            ));
        }
        Ok(Self(km))
    }

    pub fn metres(self) -> f64 {
        self.0 * 1000.0
    }
}

/// Great-circle distance in metres (haversine).
pub fn distance_m(a: Coordinates, b: Coordinates) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlng = (b.lng - a.lng).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlng / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Longitude ranges a bounding box covers: one, two when it crosses the
/// antimeridian, or all longitudes when the circle reaches a pole.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LngRanges {
    All,
    One(f64, f64),
    Two((f64, f64), (f64, f64)),
}

/// A box that contains every point within a radius of a centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub lat_min: f64,
    pub lat_max: f64,
    pub lng: LngRanges,
}

impl BoundingBox {
    /// The box around the spherical cap of `radius` at `centre` (the
    /// longitude half-width is asin(sin(d) / cos(lat)), which is exact for a
    /// cap; near a pole the cap covers every longitude).
    pub fn around(centre: Coordinates, radius_m: f64) -> Self {
        let angular = radius_m / EARTH_RADIUS_M;
        let lat = centre.lat.to_radians();
        let lat_min = lat - angular;
        let lat_max = lat + angular;
        let half_pi = std::f64::consts::FRAC_PI_2;
        if lat_max >= half_pi || lat_min <= -half_pi {
            return Self {
                lat_min: lat_min.max(-half_pi).to_degrees(),
                lat_max: lat_max.min(half_pi).to_degrees(),
                lng: LngRanges::All,
            };
        }
        let half_width = (angular.sin() / lat.cos()).min(1.0).asin().to_degrees();
        let (west, east) = (centre.lng - half_width, centre.lng + half_width);
        let lng = if west < -180.0 {
            LngRanges::Two((west + 360.0, 180.0), (-180.0, east))
        } else if east > 180.0 {
            LngRanges::Two((west, 180.0), (-180.0, east - 360.0))
        } else {
            LngRanges::One(west, east)
        };
        Self {
            lat_min: lat_min.to_degrees(),
            lat_max: lat_max.to_degrees(),
            lng,
        }
    }

    pub fn contains(&self, p: Coordinates) -> bool {
        let lat_ok = p.lat >= self.lat_min && p.lat <= self.lat_max;
        let in_range = |(a, b): (f64, f64)| p.lng >= a && p.lng <= b;
        lat_ok
            && match self.lng {
                LngRanges::All => true,
                LngRanges::One(a, b) => in_range((a, b)),
                LngRanges::Two(r1, r2) => in_range(r1) || in_range(r2),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn at(lat: f64, lng: f64) -> Coordinates {
        Coordinates::parse(lat, lng).unwrap()
    }

    #[test]
    fn coordinates_and_radius_are_bounded() {
        assert!(Coordinates::parse(90.0, 180.0).is_ok());
        assert!(Coordinates::parse(90.1, 0.0).is_err());
        assert!(Coordinates::parse(0.0, -180.5).is_err());
        assert!(Coordinates::parse(f64::NAN, 0.0).is_err());
        assert!(RadiusKm::parse(50.0).is_ok());
        assert!(RadiusKm::parse(50.01).is_err());
        assert!(RadiusKm::parse(0.0).is_err());
    }

    #[test]
    fn known_distances() {
        // People's Square to the Bund, Shanghai: about 1.9 km.
        let d = distance_m(at(31.2304, 121.4737), at(31.2400, 121.4900));
        assert!((d - 1_890.0).abs() < 50.0, "{d}");
        // Across the antimeridian: 0.2 degrees of longitude on the equator.
        let d = distance_m(at(0.0, 179.9), at(0.0, -179.9));
        assert!((d - 22_239.0).abs() < 5.0, "{d}");
        assert_eq!(distance_m(at(10.0, 10.0), at(10.0, 10.0)), 0.0);
    }

    #[test]
    fn boxes_split_at_the_antimeridian_and_open_at_the_poles() {
        assert!(matches!(
            BoundingBox::around(at(0.0, 179.9), 50_000.0).lng,
            LngRanges::Two(..)
        ));
        assert!(matches!(
            BoundingBox::around(at(0.0, -179.9), 50_000.0).lng,
            LngRanges::Two(..)
        ));
        assert_eq!(
            BoundingBox::around(at(89.9, 0.0), 50_000.0).lng,
            LngRanges::All
        );
        assert_eq!(
            BoundingBox::around(at(-89.9, 0.0), 50_000.0).lng,
            LngRanges::All
        );
        assert!(matches!(
            BoundingBox::around(at(31.2, 121.5), 50_000.0).lng,
            LngRanges::One(..)
        ));
    }

    #[test]
    fn every_point_within_the_radius_is_inside_the_box() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let centres = [
            (0.0, 179.95),
            (0.0, -179.95),
            (89.7, 20.0),
            (-89.7, -20.0),
            (31.23, 121.47),
            (70.0, 179.5),
        ];
        for (lat, lng) in centres {
            let centre = at(lat, lng);
            for radius in [1_000.0, 20_000.0, 50_000.0] {
                let bbox = BoundingBox::around(centre, radius);
                for _ in 0..20_000 {
                    let p = at((lat + rng.random_range(-1.0..1.0)).clamp(-90.0, 90.0), {
                        let l: f64 = lng + rng.random_range(-3.0..3.0);
                        if l > 180.0 {
                            l - 360.0
                        } else if l < -180.0 {
                            l + 360.0
                        } else {
                            l
                        }
                    });
                    if distance_m(centre, p) <= radius {
                        assert!(
                            bbox.contains(p),
                            "{p:?} is {} m from {centre:?} but outside {bbox:?}",
                            distance_m(centre, p)
                        );
                    }
                }
            }
        }
    }
}
