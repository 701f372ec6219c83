//! Live members and test members. A partner's sandbox key enrols test
//! members (environment SANDBOX); they never meet live ones: a partner
//! reads only members of its key's environment (any other is NOT_FOUND,
//! as if absent), identities are unique within an environment, and two
//! members of different environments are never merged.
//!
//! Test members hold no phone or email: a sandbox must never hold, link
//! to or reveal a real person's contact details.

use kit::Caller;
use kit::auth::Environment;

use crate::error::{Error, Result};

/// Whether `caller` may see a member of `environment` at all: partners
/// only their own environment's (NOT_FOUND otherwise, naming `member_id`);
/// everyone else is held by the other access rules.
pub fn require_same_environment(
    caller: &Caller,
    environment: Environment,
    member_id: &str,
) -> Result<()> {
    match caller {
        Caller::Partner {
            environment: own, ..
        } if *own != environment => Err(Error::member_not_found(member_id)),
        _ => Ok(()),
    }
}

/// What a member of `environment` may hold: no phone or email in the
/// sandbox (BAD_USER_INPUT on the field given).
pub fn check_contact_details(
    environment: Environment,
    phone_given: bool,
    email_given: bool,
) -> Result<()> {
    if environment == Environment::Live {
        return Ok(());
    }
    for (field, given) in [("phone", phone_given), ("email", email_given)] {
        if given {
            return Err(Error::invalid(
                field,
                format!(
                    "test members hold no {field}: a sandbox never holds a real person's contact details"
                ),
            ));
        }
    }
    Ok(())
}

/// A test member binds to no guide: guides, stores and their commissions
/// are live (BAD_USER_INPUT on `guideCode`).
pub fn check_guide(environment: Environment, guide_code_given: bool) -> Result<()> {
    if environment == Environment::Sandbox && guide_code_given {
        return Err(Error::invalid(
            "guideCode",
            "test members bind to no guide: guides and their commissions are live",
        ));
    }
    Ok(())
}

/// An identity of brand `brand_id` belongs to a member of the brand's
/// environment only: a sandbox brand's (`<id>-sandbox`) to test members,
/// a live brand's to live members (BAD_USER_INPUT on `brandId`).
pub fn check_identity_brand(environment: Environment, brand_id: Option<&str>) -> Result<()> {
    match brand_id {
        Some(brand) if Environment::of_brand(brand) != environment => Err(Error::invalid(
            "brandId",
            match environment {
                Environment::Live => format!(
                    "{brand} is a partner's sandbox: only its sandbox keys enrol its test members"
                ),
                Environment::Sandbox => {
                    format!("{brand} is a live brand: a test member holds sandbox identities only")
                }
            },
        )),
        _ => Ok(()),
    }
}

/// Two records to merge must be of one environment (CONFLICT).
pub fn check_merge(survivor: Environment, merged: Environment) -> Result<()> {
    if survivor == merged {
        Ok(())
    } else {
        Err(Error::conflict(
            "a test member and a live member are never one person",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kit::auth::Scopes;

    fn partner(environment: Environment) -> Caller {
        Caller::Partner {
            brand_id: "coffee".into(),
            key_id: "k".into(),
            scopes: Scopes::all(),
            environment,
        }
    }

    #[test]
    fn partners_see_only_their_own_environment() {
        for (caller_env, member_env, visible) in [
            (Environment::Live, Environment::Live, true),
            (Environment::Live, Environment::Sandbox, false),
            (Environment::Sandbox, Environment::Sandbox, true),
            (Environment::Sandbox, Environment::Live, false),
        ] {
            let result = require_same_environment(&partner(caller_env), member_env, "m-1");
            assert_eq!(result.is_ok(), visible, "{caller_env:?} {member_env:?}");
            if let Err(e) = result {
                assert_eq!(e.code(), kit::ErrorCode::NotFound);
            }
        }
        let operator = Caller::Operator {
            operator_id: "o".into(),
        };
        assert!(require_same_environment(&operator, Environment::Sandbox, "m").is_ok());
    }

    #[test]
    fn test_members_hold_no_contact_details() {
        assert!(check_contact_details(Environment::Live, true, true).is_ok());
        assert!(check_contact_details(Environment::Sandbox, false, false).is_ok());
        let phone = check_contact_details(Environment::Sandbox, true, false).unwrap_err();
        assert_eq!(phone.field(), Some("phone"));
        let email = check_contact_details(Environment::Sandbox, false, true).unwrap_err();
        assert_eq!(email.field(), Some("email"));
        assert!(check_guide(Environment::Live, true).is_ok());
        assert!(check_guide(Environment::Sandbox, false).is_ok());
        let guide = check_guide(Environment::Sandbox, true).unwrap_err();
        assert_eq!(guide.field(), Some("guideCode"));
    }

    #[test]
    fn identities_are_of_their_members_environment() {
        assert!(check_identity_brand(Environment::Live, Some("coffee")).is_ok());
        assert!(check_identity_brand(Environment::Live, None).is_ok());
        assert!(check_identity_brand(Environment::Sandbox, Some("coffee-sandbox")).is_ok());
        for (env, brand) in [
            (Environment::Live, "coffee-sandbox"),
            (Environment::Sandbox, "coffee"),
        ] {
            let err = check_identity_brand(env, Some(brand)).unwrap_err();
            assert_eq!(err.field(), Some("brandId"), "{env:?} {brand}");
        }
    }

    #[test]
    fn environments_never_merge() {
        assert!(check_merge(Environment::Sandbox, Environment::Sandbox).is_ok());
        let err = check_merge(Environment::Live, Environment::Sandbox).unwrap_err();
        assert_eq!(err.code(), kit::ErrorCode::Conflict);
    }
}
