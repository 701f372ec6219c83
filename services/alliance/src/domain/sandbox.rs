//! Sandboxes: each partner brand may have one, a copy of its programme
//! (`<brand>-sandbox`) that its sandbox keys act on, with test members,
//! accounts, terms, statements and webhooks of its own. Nothing crosses
//! between environments: exchanges pair programmes of one environment,
//! a member earns, redeems and exchanges only in programmes of its own,
//! and partners, members and the public see only their environment's
//! brands and programmes (operators see all).

use kit::Caller;
use kit::auth::Environment;

use crate::error::{Error, Result};

pub use kit::auth::SANDBOX_SUFFIX;

/// The longest id a brand's programme may have (ids are 1-64 characters).
const MAX_ID: usize = 64;

/// The id of `live_brand_id`'s sandbox brand. BAD_USER_INPUT when it, or
/// its programme's id (`<id>-points`), would pass 64 characters.
pub fn sandbox_brand_id(live_brand_id: &str) -> Result<String> {
    let id = format!("{live_brand_id}{SANDBOX_SUFFIX}");
    if super::programme::programme_id_of(&id).len() > MAX_ID {
        return Err(Error::invalid(
            "brandId",
            format!("brand {live_brand_id} has too long an id for a sandbox"),
        ));
    }
    Ok(id)
}

/// The live brand a brand id names: itself, or for a sandbox's
/// `<id>-sandbox`, `<id>`.
pub fn live_brand_id_of(brand_id: &str) -> &str {
    brand_id.strip_suffix(SANDBOX_SUFFIX).unwrap_or(brand_id)
}

/// A brand id an operator may onboard as a live brand: never one a sandbox
/// uses.
pub fn check_live_brand_id(brand_id: &str) -> Result<()> {
    if brand_id.ends_with(SANDBOX_SUFFIX) {
        return Err(Error::invalid(
            "brandId",
            format!("brand ids ending in {SANDBOX_SUFFIX} are kept for sandboxes"),
        ));
    }
    Ok(())
}

/// Exchange terms pair programmes of one environment.
pub fn check_same_environment(from: Environment, to: Environment) -> Result<()> {
    if from == to {
        Ok(())
    } else {
        Err(Error::invalid(
            "toProgrammeId",
            "exchanges stay within one environment: a sandbox programme pairs only with another sandbox programme",
        ))
    }
}

/// Whether `caller` sees brands and programmes of `environment`: operators
/// every one, everyone else their own environment's (members and the
/// public: live).
pub fn visible_to(caller: &Caller, environment: Environment) -> bool {
    matches!(caller, Caller::Operator { .. }) || caller.environment() == environment
}

#[cfg(test)]
mod tests {
    use super::*;
    use kit::auth::Scopes;

    #[test]
    fn a_sandbox_brand_is_named_after_its_live_brand() {
        assert_eq!(sandbox_brand_id("coffee").unwrap(), "coffee-sandbox");
        // "<id>-sandbox-points" must fit in 64.
        let longest = "b".repeat(MAX_ID - "-sandbox-points".len());
        assert!(sandbox_brand_id(&longest).is_ok());
        let err = sandbox_brand_id(&format!("{longest}x")).unwrap_err();
        assert_eq!(err.field(), Some("brandId"));
        assert!(check_live_brand_id("coffee").is_ok());
        assert_eq!(live_brand_id_of("coffee"), "coffee");
        assert_eq!(live_brand_id_of("coffee-sandbox"), "coffee");
        assert!(check_live_brand_id("coffee-sandbox").is_err());
    }

    #[test]
    fn environments_never_pair() {
        assert!(check_same_environment(Environment::Sandbox, Environment::Sandbox).is_ok());
        assert!(check_same_environment(Environment::Live, Environment::Live).is_ok());
        assert!(check_same_environment(Environment::Live, Environment::Sandbox).is_err());
        assert!(check_same_environment(Environment::Sandbox, Environment::Live).is_err());
    }

    #[test]
    fn each_caller_sees_its_own_environment() {
        let partner = |environment| Caller::Partner {
            brand_id: "coffee".into(),
            key_id: "k".into(),
            scopes: Scopes::all(),
            environment,
        };
        let operator = Caller::Operator {
            operator_id: "o".into(),
        };
        let member = Caller::Member {
            member_id: "m".into(),
        };
        for env in [Environment::Live, Environment::Sandbox] {
            assert!(visible_to(&operator, env));
        }
        assert!(visible_to(
            &partner(Environment::Sandbox),
            Environment::Sandbox
        ));
        assert!(!visible_to(
            &partner(Environment::Sandbox),
            Environment::Live
        ));
        assert!(!visible_to(
            &partner(Environment::Live),
            Environment::Sandbox
        ));
        assert!(visible_to(&member, Environment::Live));
        assert!(!visible_to(&member, Environment::Sandbox));
        assert!(!visible_to(&Caller::Anonymous, Environment::Sandbox));
    }
}
