//! When active points expire: N months after activation, at the end of
//! that month in the programme's time zone; or never.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryPolicy {
    Never,
    /// N months after activation, at the end of that month.
    EndOfMonthAfter {
        months: u32,
    },
}

impl ExpiryPolicy {
    pub fn months(months: i32) -> Result<Self> {
        if (1..=120).contains(&months) {
            Ok(ExpiryPolicy::EndOfMonthAfter {
                months: months as u32,
            })
        } else {
            Err(Error::invalid(
                "expiryMonths",
                "expiryMonths must be between 1 and 120",
            ))
        }
    }

    /// The instant points activated at `activated` stop being spendable: the
    /// first instant of the month after the target month, local time (so
    /// the whole last day of the month still counts).
    pub fn expires_at(self, activated: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let ExpiryPolicy::EndOfMonthAfter { months } = self else {
            return None;
        };
        let local = activated.with_timezone(&tz);
        let month_index = local.year() * 12 + local.month0() as i32 + months as i32 + 1;
        let (year, month0) = (
            month_index.div_euclid(12),
            month_index.rem_euclid(12) as u32,
        );
        let first_of_next = NaiveDate::from_ymd_opt(year, month0 + 1, 1)?.and_hms_opt(0, 0, 0)?;
        // Midnight exists in every zone on the 1st (no DST switch at 00:00
        // there), and if it were ambiguous the earlier instant is kept.
        tz.from_local_datetime(&first_of_next)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn expiry_falls_at_the_end_of_the_month_in_the_programmes_zone() {
        let shanghai: Tz = "Asia/Shanghai".parse().unwrap();
        let policy = ExpiryPolicy::months(12).unwrap();
        // 2026-01-15 10:00 in Shanghai: expires after 2027-01-31, i.e. at
        // 2027-02-01 00:00 Shanghai = 2027-01-31 16:00 UTC.
        assert_eq!(
            policy.expires_at(utc("2026-01-15T02:00:00Z"), shanghai),
            Some(utc("2027-01-31T16:00:00Z"))
        );
        // 2026-01-31 20:00 UTC is already February 1st in Shanghai.
        assert_eq!(
            policy.expires_at(utc("2026-01-31T20:00:00Z"), shanghai),
            Some(utc("2027-02-28T16:00:00Z"))
        );
        assert_eq!(
            ExpiryPolicy::Never.expires_at(utc("2026-01-01T00:00:00Z"), shanghai),
            None
        );
        // December rolls the year.
        let one = ExpiryPolicy::months(1).unwrap();
        assert_eq!(
            one.expires_at(utc("2026-12-10T00:00:00Z"), chrono_tz::UTC),
            Some(utc("2027-02-01T00:00:00Z"))
        );
        assert!(ExpiryPolicy::months(0).is_err());
    }
}
