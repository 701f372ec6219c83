//! The demo world that every service's `seed --demo` builds on, so the
//! services agree on ids: three brands, 30 stores at real places in
//! Shanghai, and one guide per store.

/// What loading one part of the demo did: what it is, and how many of its
/// records are new. Loading again adds nothing, and says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The service or part: `member`, `demo orders`…
    pub part: &'static str,
    /// What the part holds, e.g. "1000 demo members across brands …".
    pub what: String,
    /// Records this load created; 0 when the demo was loaded before.
    pub new: usize,
}

impl std::fmt::Display for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.new == 0 {
            write!(f, "{}: demo data already loaded ({})", self.part, self.what)
        } else {
            write!(f, "{}: {} ({} new)", self.part, self.what, self.new)
        }
    }
}

/// Brand ids of the demo alliance.
pub const BRANDS: [&str; 3] = ["apparel", "coffee", "cinema"];

/// Their names, in the same order.
pub const BRAND_NAMES: [&str; 3] = ["Threadline", "Morning Bean", "Silver Screen"];

pub struct DemoStore {
    pub place: &'static str,
    pub lat: f64,
    pub lng: f64,
}

/// The demo stores; store `i` has id [`store_id`]`(i)` and brand
/// `BRANDS[i % 3]`.
pub const STORES: [DemoStore; 30] = [
    DemoStore {
        place: "People's Square",
        lat: 31.2317,
        lng: 121.4726,
    },
    DemoStore {
        place: "Nanjing Road East",
        lat: 31.2366,
        lng: 121.4812,
    },
    DemoStore {
        place: "The Bund",
        lat: 31.2400,
        lng: 121.4900,
    },
    DemoStore {
        place: "Lujiazui",
        lat: 31.2397,
        lng: 121.4998,
    },
    DemoStore {
        place: "Xintiandi",
        lat: 31.2196,
        lng: 121.4756,
    },
    DemoStore {
        place: "Jing'an Temple",
        lat: 31.2235,
        lng: 121.4454,
    },
    DemoStore {
        place: "Xujiahui",
        lat: 31.1940,
        lng: 121.4365,
    },
    DemoStore {
        place: "Zhongshan Park",
        lat: 31.2193,
        lng: 121.4177,
    },
    DemoStore {
        place: "Wujiaochang",
        lat: 31.3011,
        lng: 121.5138,
    },
    DemoStore {
        place: "Century Park",
        lat: 31.2153,
        lng: 121.5510,
    },
    DemoStore {
        place: "Hongqiao Railway Station",
        lat: 31.1947,
        lng: 121.3210,
    },
    DemoStore {
        place: "Tianzifang",
        lat: 31.2096,
        lng: 121.4693,
    },
    DemoStore {
        place: "Yuyuan Garden",
        lat: 31.2272,
        lng: 121.4921,
    },
    DemoStore {
        place: "Shanghai South Station",
        lat: 31.1546,
        lng: 121.4300,
    },
    DemoStore {
        place: "Qibao",
        lat: 31.1550,
        lng: 121.3520,
    },
    DemoStore {
        place: "Zhangjiang",
        lat: 31.2035,
        lng: 121.5906,
    },
    DemoStore {
        place: "Jinqiao",
        lat: 31.2676,
        lng: 121.5883,
    },
    DemoStore {
        place: "Hongkou Stadium",
        lat: 31.2729,
        lng: 121.4813,
    },
    DemoStore {
        place: "Shanghai Railway Station",
        lat: 31.2495,
        lng: 121.4558,
    },
    DemoStore {
        place: "Changfeng Park",
        lat: 31.2266,
        lng: 121.3957,
    },
    DemoStore {
        place: "Gubei",
        lat: 31.1957,
        lng: 121.3961,
    },
    DemoStore {
        place: "Shanghai Stadium",
        lat: 31.1830,
        lng: 121.4372,
    },
    DemoStore {
        place: "Expo Park",
        lat: 31.1860,
        lng: 121.4930,
    },
    DemoStore {
        place: "Songjiang University Town",
        lat: 31.0497,
        lng: 121.2166,
    },
    DemoStore {
        place: "Xinzhuang",
        lat: 31.1109,
        lng: 121.3853,
    },
    DemoStore {
        place: "Gucun Park",
        lat: 31.3454,
        lng: 121.3755,
    },
    DemoStore {
        place: "Jiading New Town",
        lat: 31.3838,
        lng: 121.2507,
    },
    DemoStore {
        place: "Pudong Airport T2",
        lat: 31.1510,
        lng: 121.8040,
    },
    DemoStore {
        place: "Hongqiao Airport T2",
        lat: 31.1942,
        lng: 121.3277,
    },
    DemoStore {
        place: "Dishui Lake",
        lat: 30.9060,
        lng: 121.9290,
    },
];

pub fn store_id(i: usize) -> String {
    format!("demo-store-{i:02}")
}

/// The QR code of store `i`'s guide (readable on purpose: demo members
/// register through it). Real codes are random.
pub fn guide_code(i: usize) -> String {
    format!("demo-guide-{i:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_load_says_it_was_loaded_before() {
        let first = Loaded {
            part: "store",
            what: "30 demo stores".into(),
            new: 30,
        };
        assert_eq!(first.to_string(), "store: 30 demo stores (30 new)");
        let again = Loaded { new: 0, ..first };
        assert_eq!(
            again.to_string(),
            "store: demo data already loaded (30 demo stores)"
        );
    }
}
