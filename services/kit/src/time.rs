//! Instants as stored: integer microseconds since the Unix epoch.
//!
//! SQLite's chrono encoding writes timestamps as text of varying precision
//! (`…:00Z` beside `…:00.5Z`), which sorts wrongly; integers compare the same
//! on every backend, so range filters and keyset pagination stay exact.

use chrono::{DateTime, TimeZone, Utc};

pub type Micros = i64;

pub fn to_micros(at: DateTime<Utc>) -> Micros {
    at.timestamp_micros()
}

pub fn from_micros(micros: Micros) -> DateTime<Utc> {
    Utc.timestamp_micros(micros)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub fn now_micros() -> Micros {
    to_micros(Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_to_the_microsecond() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 8, 30, 0).unwrap()
            + chrono::Duration::microseconds(123_456);
        assert_eq!(from_micros(to_micros(at)), at);
    }

    #[test]
    fn order_is_preserved() {
        let a = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let b = a + chrono::Duration::milliseconds(500);
        assert!(to_micros(a) < to_micros(b));
    }
}
