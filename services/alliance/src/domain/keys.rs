//! Partner keys' lifetimes: expiry, rotation with an overlap, and how long
//! a token minted from a key may live. Instants are µs since the epoch.

use crate::error::{Error, Result};

/// A key's longest rotation overlap: 30 days, in hours.
pub const MAX_OVERLAP_HOURS: i64 = 720;

/// What a key can do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "PartnerKeyState")]
pub enum KeyState {
    Active,
    Expired,
    Revoked,
}

/// A key's state at `now`: revoked wins over expired.
pub fn key_state(revoked_at: Option<i64>, expires_at: Option<i64>, now: i64) -> KeyState {
    match (revoked_at, expires_at) {
        (Some(_), _) => KeyState::Revoked,
        (None, Some(at)) if at <= now => KeyState::Expired,
        _ => KeyState::Active,
    }
}

/// An expiry asked for at issue: in the future.
pub fn check_expiry(expires_at: Option<i64>, now: i64) -> Result<Option<i64>> {
    match expires_at {
        Some(at) if at <= now => Err(Error::invalid(
            "expiresAt",
            "expiresAt must be in the future",
        )),
        other => Ok(other),
    }
}

/// The old key's expiry after a rotation at `now` with `overlap_hours`
/// (0-[`MAX_OVERLAP_HOURS`]): the overlap's end, or its own expiry if that
/// comes first. The new key keeps the old one's scopes and no expiry of
/// its own unless given one.
pub fn expiry_after_rotation(
    old_expires_at: Option<i64>,
    now: i64,
    overlap_hours: i64,
) -> Result<i64> {
    if !(0..=MAX_OVERLAP_HOURS).contains(&overlap_hours) {
        return Err(Error::invalid(
            "overlapHours",
            format!("overlapHours must be between 0 and {MAX_OVERLAP_HOURS}"),
        ));
    }
    let end = now.saturating_add(overlap_hours.saturating_mul(3_600_000_000));
    Ok(old_expires_at.map_or(end, |at| at.min(end)))
}

/// How long, in seconds, a token minted at `now` from a key may live: the
/// token lifetime `max_seconds`, or less if the key expires sooner (a
/// token never outlives its key).
pub fn token_seconds(expires_at: Option<i64>, now: i64, max_seconds: i64) -> i64 {
    match expires_at {
        Some(at) => ((at - now) / 1_000_000).clamp(0, max_seconds),
        None => max_seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn a_key_is_active_until_it_expires_or_is_revoked() {
        assert_eq!(key_state(None, None, 10), KeyState::Active);
        assert_eq!(key_state(None, Some(11), 10), KeyState::Active);
        assert_eq!(key_state(None, Some(10), 10), KeyState::Expired);
        assert_eq!(key_state(Some(5), Some(11), 10), KeyState::Revoked);
        assert_eq!(key_state(Some(5), Some(1), 10), KeyState::Revoked);
    }

    #[test]
    fn rotation_ends_the_old_key_at_the_overlap_or_its_own_expiry() {
        assert_eq!(expiry_after_rotation(None, 0, 24).unwrap(), 24 * HOUR);
        assert_eq!(expiry_after_rotation(Some(HOUR), 0, 24).unwrap(), HOUR);
        assert_eq!(expiry_after_rotation(None, 7, 0).unwrap(), 7);
        for bad in [-1, MAX_OVERLAP_HOURS + 1, i64::MAX] {
            let err = expiry_after_rotation(None, 0, bad).unwrap_err();
            assert_eq!(err.field(), Some("overlapHours"), "{bad}");
        }
        assert!(expiry_after_rotation(None, i64::MAX - 1, MAX_OVERLAP_HOURS).is_ok());
    }

    #[test]
    fn a_token_never_outlives_its_key() {
        assert_eq!(token_seconds(None, 0, 3600), 3600);
        assert_eq!(token_seconds(Some(HOUR * 2), 0, 3600), 3600);
        assert_eq!(token_seconds(Some(90_000_000), 0, 3600), 90);
        assert_eq!(token_seconds(Some(0), 10, 3600), 0);
    }

    #[test]
    fn an_expiry_must_be_in_the_future() {
        assert_eq!(check_expiry(None, 5).unwrap(), None);
        assert_eq!(check_expiry(Some(6), 5).unwrap(), Some(6));
        assert_eq!(
            check_expiry(Some(5), 5).unwrap_err().field(),
            Some("expiresAt")
        );
    }
}
