//! Tiers: levels with growth-value thresholds, held as data.
//!
//! Rule: growth only promotes. When growth crosses a higher level's
//! threshold the member moves up; falling growth never demotes on its own
//! (a demotion is an operator's decision, recorded with a reason).

use crate::error::{Error, Result};

/// A tier level's code: `GOLD`, `PLATINUM`... (A-Z, 0-9, `_`, up to 32).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TierCode(String);

impl TierCode {
    pub fn parse(field: &str, raw: &str) -> Result<Self> {
        let value = raw.trim();
        let ok = (1..=32).contains(&value.len())
            && value.starts_with(|c: char| c.is_ascii_uppercase())
            && value
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::invalid(
                field,
                format!("{field} must be 1-32 of A-Z, 0-9 or _, starting with a letter"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierLevel {
    pub code: String,
    pub name: String,
    /// Growth value from which the level applies.
    pub threshold: i64,
}

/// Levels ordered from lowest to highest threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierLadder(Vec<TierLevel>);

impl TierLadder {
    pub fn new(mut levels: Vec<TierLevel>) -> Self {
        levels.sort_by(|a, b| {
            a.threshold
                .cmp(&b.threshold)
                .then_with(|| a.code.cmp(&b.code))
        });
        Self(levels)
    }

    pub fn levels(&self) -> &[TierLevel] {
        &self.0
    }

    /// The level a new member starts at: the lowest.
    pub fn entry(&self) -> Option<&TierLevel> {
        self.0.first()
    }

    /// The highest level whose threshold `growth` reaches (the entry level
    /// when none does).
    pub fn for_growth(&self, growth: i64) -> Option<&TierLevel> {
        self.0
            .iter()
            .rev()
            .find(|l| growth >= l.threshold)
            .or_else(|| self.entry())
    }

    /// Position on the ladder; unknown codes rank below every level.
    pub fn rank(&self, code: &str) -> Option<usize> {
        self.0.iter().position(|l| l.code == code)
    }

    pub fn get(&self, code: &str) -> Option<&TierLevel> {
        self.0.iter().find(|l| l.code == code)
    }

    /// The level to promote to after growth changed, if higher than `current`.
    pub fn promotion(&self, current: &str, growth: i64) -> Option<&TierLevel> {
        let target = self.for_growth(growth)?;
        let higher = match self.rank(current) {
            Some(current_rank) => self.rank(&target.code).is_some_and(|r| r > current_rank),
            None => true,
        };
        higher.then_some(target)
    }

    /// The higher of two tiers (for a merge).
    pub fn higher<'a>(&self, a: &'a str, b: &'a str) -> &'a str {
        match (self.rank(a), self.rank(b)) {
            (Some(ra), Some(rb)) if rb > ra => b,
            (None, Some(_)) => b,
            _ => a,
        }
    }
}

/// A level definition from an operator, checked.
pub fn parse_level(code: &str, name: &str, threshold: i64) -> Result<TierLevel> {
    let code = TierCode::parse("code", code)?;
    let name = super::clean_text("name", name, 40)?;
    if threshold < 0 {
        return Err(Error::invalid("threshold", "threshold must be >= 0"));
    }
    Ok(TierLevel {
        code: code.as_str().to_owned(),
        name,
        threshold,
    })
}

kit::stored_enum! {
    /// Why a tier changed.
    #[derive(async_graphql::Enum)]
    pub enum TierChangeCause {
        Growth,
        Operator,
        Merge,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_change_cause_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (TierChangeCause::Growth, "GROWTH"),
            (TierChangeCause::Operator, "OPERATOR"),
            (TierChangeCause::Merge, "MERGE"),
        ]);
    }

    fn ladder() -> TierLadder {
        TierLadder::new(vec![
            TierLevel {
                code: "GOLD".into(),
                name: "Gold".into(),
                threshold: 5000,
            },
            TierLevel {
                code: "BASIC".into(),
                name: "Basic".into(),
                threshold: 0,
            },
            TierLevel {
                code: "SILVER".into(),
                name: "Silver".into(),
                threshold: 1000,
            },
        ])
    }

    #[test]
    fn growth_maps_to_the_highest_level_reached() {
        let l = ladder();
        assert_eq!(l.entry().unwrap().code, "BASIC");
        assert_eq!(l.for_growth(0).unwrap().code, "BASIC");
        assert_eq!(l.for_growth(999).unwrap().code, "BASIC");
        assert_eq!(l.for_growth(1000).unwrap().code, "SILVER");
        assert_eq!(l.for_growth(1_000_000).unwrap().code, "GOLD");
        assert_eq!(l.for_growth(-5).unwrap().code, "BASIC");
    }

    #[test]
    fn growth_promotes_but_never_demotes() {
        let l = ladder();
        assert_eq!(l.promotion("BASIC", 1500).unwrap().code, "SILVER");
        assert_eq!(l.promotion("SILVER", 1500), None);
        // An operator set GOLD; growth below it leaves GOLD alone.
        assert_eq!(l.promotion("GOLD", 10), None);
        // A tier no longer on the ladder is replaced by the computed one.
        assert_eq!(l.promotion("RETIRED", 10).unwrap().code, "BASIC");
    }

    #[test]
    fn the_higher_tier_wins_a_merge() {
        let l = ladder();
        assert_eq!(l.higher("SILVER", "GOLD"), "GOLD");
        assert_eq!(l.higher("GOLD", "BASIC"), "GOLD");
        assert_eq!(l.higher("RETIRED", "BASIC"), "BASIC");
    }

    #[test]
    fn level_definitions_are_checked() {
        assert!(parse_level("PLATINUM", "Platinum", 20000).is_ok());
        assert!(parse_level("platinum", "Platinum", 1).is_err());
        assert!(parse_level("P", "", 1).is_err());
        assert!(parse_level("P", "P", -1).is_err());
    }
}
