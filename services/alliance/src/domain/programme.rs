//! A brand's points programme as rules: what it is worth, how it is earned,
//! when it becomes spendable and when it lapses.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::expiry::ExpiryPolicy;
use super::points::{CashValue, EarnRate};
use super::returns::ReturnPolicy;
use crate::error::{Error, Result};

/// A programme's rules, parsed; every field holds a valid value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgrammeRules {
    pub cash_value: CashValue,
    pub earn_rate: EarnRate,
    pub pending_days: u32,
    pub expiry: ExpiryPolicy,
    pub return_policy: ReturnPolicy,
    pub time_zone: Tz,
}

/// At most a year in the after-sales window.
pub const MAX_PENDING_DAYS: i64 = 365;

impl ProgrammeRules {
    /// Points earned at `earned_at` become ACTIVE this long after.
    pub fn activates_at(&self, earned_at: DateTime<Utc>) -> DateTime<Utc> {
        earned_at + Duration::days(i64::from(self.pending_days))
    }

    /// When points that became ACTIVE at `activated_at` lapse.
    pub fn expires_at(&self, activated_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.expiry.expires_at(activated_at, self.time_zone)
    }
}

pub fn parse_pending_days(days: i64) -> Result<u32> {
    if (0..=MAX_PENDING_DAYS).contains(&days) {
        Ok(days as u32)
    } else {
        Err(Error::invalid(
            "pendingDays",
            format!("pendingDays must be between 0 and {MAX_PENDING_DAYS}"),
        ))
    }
}

pub fn parse_time_zone(raw: &str) -> Result<Tz> {
    raw.trim().parse::<Tz>().map_err(|_| {
        Error::invalid(
            "timeZone",
            format!("{raw:?} is not an IANA time zone such as Asia/Shanghai"),
        )
    })
}

/// An exact decimal given as text ("0.5"), so that no float ever holds it.
pub fn parse_decimal(field: &str, raw: &str) -> Result<Decimal> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.len() > 30 || trimmed.contains(['e', 'E']) {
        return Err(Error::invalid(
            field,
            format!("{field} must be a plain decimal such as 0.5"),
        ));
    }
    trimmed
        .parse::<Decimal>()
        .map(|d| d.normalize())
        .map_err(|_| {
            Error::invalid(
                field,
                format!("{field} must be a plain decimal such as 0.5"),
            )
        })
}

/// The programme id of a brand: one programme per brand.
pub fn programme_id_of(brand_id: &str) -> String {
    format!("{brand_id}-points")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_valid_rules() {
        assert_eq!(parse_pending_days(0).unwrap(), 0);
        assert!(parse_pending_days(-1).is_err());
        assert!(parse_pending_days(366).is_err());
        assert_eq!(
            parse_time_zone("Asia/Shanghai").unwrap(),
            chrono_tz::Asia::Shanghai
        );
        assert!(parse_time_zone("Mars/Olympus").is_err());
        assert_eq!(
            parse_decimal("rate", "0.50").unwrap(),
            Decimal::new(5, 1),
            "kept exact and canonical"
        );
        assert!(parse_decimal("rate", "1e3").is_err());
        assert!(parse_decimal("rate", "abc").is_err());
        kit::testing::stored_names_hold(&[
            (ReturnPolicy::OnlyPending, "ONLY_PENDING"),
            (ReturnPolicy::WithinBalance, "WITHIN_BALANCE"),
            (ReturnPolicy::AllowNegative, "ALLOW_NEGATIVE"),
        ]);
    }

    #[test]
    fn pending_points_activate_after_the_window() {
        let rules = ProgrammeRules {
            cash_value: CashValue::parse(Decimal::ONE).unwrap(),
            earn_rate: EarnRate::parse(Decimal::ONE).unwrap(),
            pending_days: 7,
            expiry: ExpiryPolicy::Never,
            return_policy: ReturnPolicy::OnlyPending,
            time_zone: chrono_tz::Asia::Shanghai,
        };
        let t = DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(rules.activates_at(t), t + Duration::days(7));
        assert_eq!(rules.expires_at(t), None);
    }
}
