//! Time: the platform's [`Clock`], and instants as stored (integer
//! microseconds since the Unix epoch).
//!
//! SQLite's chrono encoding writes timestamps as text of varying precision
//! (`…:00Z` beside `…:00.5Z`), which sorts wrongly; integers compare the same
//! on every backend, so range filters and keyset pagination stay exact.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

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

/// Where every "now" of a service comes from: the system clock in
/// production, or (tests, demos) a clock that starts at a chosen instant and
/// runs at real speed from there, so "this month", "today" and every
/// deadline are computed the same way whatever the hour the code runs at.
///
/// Cloning shares the clock: [`Clock::advance`] moves every copy.
/// Token lifetimes are not read from it: they are security, checked against
/// the system clock.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Microseconds added to the system clock.
    offset: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that reads `at` now and runs on from there at real speed.
    pub fn starting_at(at: DateTime<Utc>) -> Self {
        let clock = Self::default();
        clock
            .offset
            .store(to_micros(at) - to_micros(Utc::now()), Ordering::Relaxed);
        clock
    }

    /// The clock the environment variable `var` asks for (an RFC 3339
    /// instant), else the system clock. An unreadable value is an error
    /// naming the variable, never a silent fallback.
    pub fn from_env(var: &str) -> Result<Self, String> {
        match std::env::var(var) {
            Ok(raw) if !raw.trim().is_empty() => parse_instant(&raw)
                .map(Self::starting_at)
                .map_err(|e| format!("{var}: {e}")),
            _ => Ok(Self::system()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        from_micros(self.now_micros())
    }

    pub fn now_micros(&self) -> Micros {
        to_micros(Utc::now()) + self.offset.load(Ordering::Relaxed)
    }

    /// Whether this clock is the system clock (nothing moved it).
    pub fn is_system(&self) -> bool {
        self.offset.load(Ordering::Relaxed) == 0
    }

    /// Moves this clock, and every copy of it, by `by` (tests: "three days
    /// later"). Never used in production.
    pub fn advance(&self, by: chrono::Duration) {
        let by = by.num_microseconds().unwrap_or(i64::MAX);
        self.offset.fetch_add(by, Ordering::Relaxed);
    }
}

/// An RFC 3339 instant (`2026-11-30T23:50:00Z`, `2027-01-01T00:10:00+08:00`).
pub fn parse_instant(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("{raw:?} is not an RFC 3339 instant such as 2026-11-30T23:50:00Z ({e})")
        })
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

    #[test]
    fn a_set_clock_starts_where_it_is_told_and_runs_on() {
        let at = Utc.with_ymd_and_hms(2028, 2, 29, 23, 50, 0).unwrap();
        let clock = Clock::starting_at(at);
        let first = clock.now();
        assert!(first >= at && first - at < chrono::Duration::seconds(5));
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(clock.now() > first, "it runs at real speed");
        assert!(!clock.is_system());
        let copy = clock.clone();
        clock.advance(chrono::Duration::days(1));
        assert!(
            copy.now() - at >= chrono::Duration::days(1),
            "copies move together"
        );
    }

    #[test]
    fn the_system_clock_is_the_system_clock() {
        let clock = Clock::system();
        assert!(clock.is_system());
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 5);
    }

    #[test]
    fn instants_are_rfc_3339_or_refused_with_the_reason() {
        assert_eq!(
            parse_instant("2027-01-01T00:10:00+08:00").unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 31, 16, 10, 0).unwrap()
        );
        let err = parse_instant("tomorrow").unwrap_err();
        assert!(err.contains("RFC 3339"), "{err}");
    }
}
