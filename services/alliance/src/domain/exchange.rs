//! Exchanging points of programme A into points of programme B.
//!
//! Roundings: the fee is ⌊out × fee bp ÷ 10 000⌋ points of A (down); points
//! in are ⌊(out − fee) × rate⌋ points of B (down). A quote holds its rate
//! for a short time and is used once.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::error::{Error, Result};

/// Published terms for A → B.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    /// Points of B per point of A.
    pub rate: Decimal,
    pub fee_bp: u32,
    /// Points out must be a whole number of blocks.
    pub min_block: i64,
    /// Per member, in points of A.
    pub daily_limit: i64,
    pub yearly_limit: i64,
}

impl Terms {
    pub fn parse(
        rate: Decimal,
        fee_bp: i32,
        min_block: i64,
        daily_limit: i64,
        yearly_limit: i64,
    ) -> Result<Self> {
        if rate <= Decimal::ZERO || rate > Decimal::from(1_000) {
            return Err(Error::invalid(
                "rate",
                "rate must be more than 0 and at most 1000",
            ));
        }
        if !(0..=5_000).contains(&fee_bp) {
            return Err(Error::invalid(
                "feeBasisPoints",
                "feeBasisPoints must be between 0 and 5000",
            ));
        }
        if min_block < 1 {
            return Err(Error::invalid("minBlock", "minBlock must be at least 1"));
        }
        if daily_limit < min_block || yearly_limit < daily_limit {
            return Err(Error::invalid(
                "dailyLimit",
                "limits must satisfy minBlock <= dailyLimit <= yearlyLimit",
            ));
        }
        Ok(Self {
            rate,
            fee_bp: fee_bp as u32,
            min_block,
            daily_limit,
            yearly_limit,
        })
    }
}

/// What a quote promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteAmounts {
    pub points_out: i64,
    pub fee_points: i64,
    pub points_in: i64,
}

/// Prices an exchange of `points_out`, given what the member already
/// exchanged today and this year (points of A).
pub fn quote(
    terms: &Terms,
    points_out: i64,
    used_today: i64,
    used_this_year: i64,
) -> Result<QuoteAmounts> {
    if points_out < terms.min_block || points_out % terms.min_block != 0 {
        return Err(Error::invalid(
            "points",
            format!("points must be a multiple of {}", terms.min_block),
        ));
    }
    if used_today + points_out > terms.daily_limit {
        return Err(Error::LimitExceeded(format!(
            "at most {} points a day ({} used)",
            terms.daily_limit, used_today
        )));
    }
    if used_this_year + points_out > terms.yearly_limit {
        return Err(Error::LimitExceeded(format!(
            "at most {} points a year ({} used)",
            terms.yearly_limit, used_this_year
        )));
    }
    let fee_points = (i128::from(points_out) * i128::from(terms.fee_bp) / 10_000) as i64;
    let points_in = (Decimal::from(points_out - fee_points) * terms.rate)
        .floor()
        .to_i64()
        .filter(|p| kit::Long::new(*p).is_some())
        .ok_or_else(|| {
            Error::LimitExceeded(format!(
                "{points_out} points would bring in more than {}, the largest amount the graph carries",
                kit::scalar::MAX_SAFE
            ))
        })?;
    if points_in < 1 {
        return Err(Error::invalid(
            "points",
            "too few points to receive anything",
        ));
    }
    Ok(QuoteAmounts {
        points_out,
        fee_points,
        points_in,
    })
}

/// Can a quote issued with `expires_at` be confirmed at `now`?
pub fn check_quote(expires_at: i64, used: bool, now: i64) -> Result<()> {
    if used {
        return Err(Error::QuoteUsed);
    }
    if now >= expires_at {
        return Err(Error::QuoteExpired);
    }
    Ok(())
}

/// The starts of the day and of the year containing `now`, in the sending
/// programme's time zone: the windows of the daily and yearly limits.
pub fn limit_windows(now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let local = now.with_timezone(&tz).date_naive();
    let start = |date: NaiveDate| {
        tz.from_local_datetime(&date.and_time(NaiveTime::MIN))
            .earliest()
            .map_or(now, |t| t.with_timezone(&Utc))
    };
    let new_year = NaiveDate::from_ymd_opt(local.year(), 1, 1).unwrap_or(local);
    (start(local), start(new_year))
}

/// A calendar month ("2026-11") in the brand programme's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub year: i32,
    pub month: u32,
}

impl Period {
    /// The month holding `now` in `tz`: "this month" for a brand.
    pub fn containing(now: DateTime<Utc>, tz: Tz) -> Self {
        let local = now.with_timezone(&tz).date_naive();
        Self {
            year: local.year(),
            month: local.month(),
        }
    }

    pub fn parse(raw: &str) -> Result<Self> {
        let bad = || Error::invalid("period", "period must be a month as YYYY-MM, e.g. 2026-11");
        let (y, m) = raw.trim().split_once('-').ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if y.len() != 4 || m.len() != 2 || !digits(y) || !digits(m) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        if year < 2000 {
            return Err(Error::invalid(
                "period",
                "period must be a month from 2000 on",
            ));
        }
        Ok(Self { year, month })
    }

    /// [start, end) of the month in `tz`.
    pub fn bounds(self, tz: Tz) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
        let first = NaiveDate::from_ymd_opt(self.year, self.month, 1)
            .ok_or_else(|| Error::invalid("period", "no such month"))?;
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(|| Error::invalid("period", "no such month"))?;
        let at = |d: NaiveDate| {
            tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| Error::invalid("period", "no such month"))
        };
        Ok((at(first)?, at(next)?))
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn terms() -> Terms {
        Terms::parse("0.8".parse().unwrap(), 150, 100, 5_000, 50_000).unwrap()
    }

    #[test]
    fn a_quote_states_fee_and_points_in_rounded_down() {
        let q = quote(&terms(), 1_000, 0, 0).unwrap();
        assert_eq!(
            q,
            QuoteAmounts {
                points_out: 1_000,
                fee_points: 15,
                points_in: 788
            },
            "985 × 0.8 = 788"
        );
        let q = quote(&terms(), 100, 0, 0).unwrap();
        assert_eq!(
            (q.fee_points, q.points_in),
            (1, 79),
            "1.5 fee rounds down to 1; 99 × 0.8 = 79.2 → 79"
        );
    }

    #[test]
    fn blocks_and_limits() {
        assert!(matches!(
            quote(&terms(), 150, 0, 0),
            Err(Error::Api(e)) if e.code == kit::ErrorCode::BadUserInput
        ));
        assert!(matches!(
            quote(&terms(), 1_000, 4_500, 0),
            Err(Error::LimitExceeded(_))
        ));
        assert!(matches!(
            quote(&terms(), 1_000, 0, 49_500),
            Err(Error::LimitExceeded(_))
        ));
        assert!(Terms::parse(Decimal::ZERO, 0, 1, 1, 1).is_err());
        assert!(Terms::parse(Decimal::ONE, 0, 100, 50, 1_000).is_err());
    }

    #[test]
    fn quotes_expire_and_are_used_once() {
        assert!(check_quote(100, false, 99).is_ok());
        assert!(matches!(
            check_quote(100, false, 100),
            Err(Error::QuoteExpired)
        ));
        assert!(matches!(check_quote(100, true, 50), Err(Error::QuoteUsed)));
    }

    #[test]
    fn a_statement_period_is_a_month_in_the_programmes_zone() {
        let p = Period::parse("2026-11").unwrap();
        assert_eq!(p.to_string(), "2026-11");
        let (start, end) = p.bounds(chrono_tz::Asia::Shanghai).unwrap();
        assert_eq!(start.to_rfc3339(), "2026-10-31T16:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-11-30T16:00:00+00:00");
        let (_, end) = Period::parse("2026-12")
            .unwrap()
            .bounds(chrono_tz::UTC)
            .unwrap();
        assert_eq!(
            end.to_rfc3339(),
            "2027-01-01T00:00:00+00:00",
            "over the year end"
        );
        for bad in [
            "2026-13", "2026-1", "26-11", "2026/11", "november", "+202-11", "2026-+1", "1999-12",
            "0001-01",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn this_month_is_the_programmes_month_not_utcs() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let shanghai = chrono_tz::Asia::Shanghai;
        // 22:00 UTC on 30 November is already December in Shanghai.
        let late = at("2026-11-30T22:00:00Z");
        assert_eq!(Period::containing(late, shanghai).to_string(), "2026-12");
        assert_eq!(
            Period::containing(late, chrono_tz::UTC).to_string(),
            "2026-11"
        );
        // The new year arrives in Shanghai at 16:00 UTC on 31 December.
        assert_eq!(
            Period::containing(at("2026-12-31T16:10:00Z"), shanghai).to_string(),
            "2027-01"
        );
        assert_eq!(
            Period::containing(at("2028-02-29T23:50:00Z"), chrono_tz::UTC).to_string(),
            "2028-02"
        );
        // A zone with DST: the month containing an instant holds it.
        let paris = chrono_tz::Europe::Paris;
        let dst = at("2027-03-28T01:30:00Z");
        let month = Period::containing(dst, paris);
        let (from, to) = month.bounds(paris).unwrap();
        assert!(from <= dst && dst < to, "{month}: {from}..{to}");
        assert_eq!(from.to_rfc3339(), "2027-02-28T23:00:00+00:00");
        assert_eq!(
            to.to_rfc3339(),
            "2027-03-31T22:00:00+00:00",
            "summer time by then"
        );
    }

    #[test]
    fn limits_count_the_programmes_own_day_and_year() {
        let now = DateTime::parse_from_rfc3339("2026-12-31T17:30:00Z")
            .unwrap()
            .to_utc();
        let (day, year) = limit_windows(now, chrono_tz::Asia::Shanghai);
        assert_eq!(
            day.to_rfc3339(),
            "2026-12-31T16:00:00+00:00",
            "already 1 January in Shanghai"
        );
        assert_eq!(year.to_rfc3339(), "2026-12-31T16:00:00+00:00");
        let (day, year) = limit_windows(now, chrono_tz::UTC);
        assert_eq!(day.to_rfc3339(), "2026-12-31T00:00:00+00:00");
        assert_eq!(year.to_rfc3339(), "2026-01-01T00:00:00+00:00");
    }

    proptest! {
        #[test]
        fn nothing_is_created_by_rounding(blocks in 1i64..500, rate_milli in 1i64..5_000, fee_bp in 0i32..5_000) {
            let t = Terms::parse(Decimal::new(rate_milli, 3), fee_bp, 10, 1_000_000, 1_000_000).unwrap();
            if let Ok(q) = quote(&t, blocks * 10, 0, 0) {
                prop_assert!(q.fee_points >= 0 && q.fee_points <= q.points_out);
                let exact_in = Decimal::from(q.points_out - q.fee_points) * t.rate;
                prop_assert!(Decimal::from(q.points_in) <= exact_in, "never more than the exact amount");
                prop_assert!(exact_in - Decimal::from(q.points_in) < Decimal::ONE);
                let exact_fee = Decimal::from(q.points_out) * Decimal::from(fee_bp) / Decimal::from(10_000);
                prop_assert!(Decimal::from(q.fee_points) <= exact_fee && exact_fee - Decimal::from(q.fee_points) < Decimal::ONE);
            }
        }
    }
}
