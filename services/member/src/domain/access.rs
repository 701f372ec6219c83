//! Who may see and change a member record.
//!
//! - a member: their own record, read and write;
//! - staff: read members of their brand (an identity of, or registration
//!   through, the brand), tag them and record their touchpoints;
//! - operators: everything;
//! - partners: nothing personal (id, status and tier only), with a key
//!   scoped to read accounts; registering through the PARTNER channel
//!   needs the enrol_members scope.

use kit::Caller;
use kit::auth::Scope;

use super::identity::{Channel, ForeignId};
use crate::error::{Error, Result};

/// How much of a member a caller may read. Ordered: more is greater.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Visibility {
    None,
    /// id, status, tier, registration time and channel.
    Basic,
    /// Everything.
    Personal,
}

/// What access depends on, about the member in question.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The caller is this member (directly, or through an id merged into it).
    pub is_self: bool,
    /// Brands the member is known to.
    pub brand_ids: &'a [String],
}

fn staff_of_brand(caller: &Caller, subject: &Subject<'_>) -> bool {
    matches!(caller, Caller::Staff { brand_id, .. } if subject.brand_ids.iter().any(|b| b == brand_id))
}

pub fn visibility(caller: &Caller, subject: &Subject<'_>) -> Visibility {
    match caller {
        Caller::Operator { .. } => Visibility::Personal,
        Caller::Member { .. } if subject.is_self => Visibility::Personal,
        Caller::Staff { .. } if staff_of_brand(caller, subject) => Visibility::Personal,
        Caller::Partner { .. } => Visibility::Basic,
        _ => Visibility::None,
    }
}

/// Reading a member at all (a partner's key needs the read_accounts
/// scope).
pub fn require_visible(caller: &Caller, subject: &Subject<'_>) -> Result<Visibility> {
    caller.require_authenticated()?;
    caller.require_scope(Scope::ReadAccounts)?;
    match visibility(caller, subject) {
        Visibility::None => Err(Error::forbidden("you may not read this member")),
        v => Ok(v),
    }
}

/// Changing the record itself (profile, identities removed, consent, erase):
/// the member or an operator.
pub fn require_owner_or_operator(caller: &Caller, subject: &Subject<'_>) -> Result<()> {
    caller.require_authenticated()?;
    match caller {
        Caller::Operator { .. } => Ok(()),
        Caller::Member { .. } if subject.is_self => Ok(()),
        _ => Err(Error::forbidden(
            "only the member or an operator may change this",
        )),
    }
}

/// Linking an identity or recording a touchpoint: the member, staff of the
/// member's brand, or an operator.
pub fn require_engagement(caller: &Caller, subject: &Subject<'_>) -> Result<()> {
    caller.require_authenticated()?;
    match caller {
        Caller::Operator { .. } => Ok(()),
        Caller::Member { .. } if subject.is_self => Ok(()),
        Caller::Staff { .. } if staff_of_brand(caller, subject) => Ok(()),
        _ => Err(Error::forbidden("you may not act on this member")),
    }
}

/// Tagging: staff of the member's brand or an operator.
pub fn require_tagger(caller: &Caller, subject: &Subject<'_>) -> Result<()> {
    caller.require_authenticated()?;
    match caller {
        Caller::Operator { .. } => Ok(()),
        Caller::Staff { .. } if staff_of_brand(caller, subject) => Ok(()),
        _ => Err(Error::forbidden(
            "only staff of the member's brand or an operator may tag",
        )),
    }
}

/// The brand an identity being registered or linked belongs to, given who
/// asks. Staff and partners act for their own brand only; partners only
/// through the PARTNER channel.
pub fn identity_brand(
    caller: &Caller,
    channel: Channel,
    requested: Option<ForeignId>,
) -> Result<Option<ForeignId>> {
    let own = |brand_id: &str| -> Result<Option<ForeignId>> {
        match &requested {
            Some(b) if b.as_str() != brand_id => Err(Error::forbidden(format!(
                "you may only register identities of your own brand ({brand_id})"
            ))),
            _ => Ok(Some(ForeignId::parse("brandId", brand_id)?)),
        }
    };
    match caller {
        // A partner's customer numbers are the partner's to register:
        // nobody else may claim one first.
        Caller::Anonymous | Caller::Member { .. } if channel == Channel::Partner => {
            Err(Error::forbidden(
                "PARTNER identities are registered by the brand's partner key or an operator",
            ))
        }
        Caller::Anonymous | Caller::Operator { .. } | Caller::Member { .. } => Ok(requested),
        Caller::Staff { brand_id, .. } => own(brand_id),
        Caller::Partner { brand_id, .. } if channel == Channel::Partner => {
            caller.require_scope(Scope::EnrolMembers)?;
            own(brand_id)
        }
        Caller::Partner { .. } => Err(Error::forbidden(
            "partners register PARTNER identities only",
        )),
        Caller::Service { .. } => Err(Error::forbidden(
            "a service's credential reads feeds; it registers no one",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str) -> Caller {
        Caller::Member {
            member_id: id.into(),
        }
    }
    fn staff(brand: &str) -> Caller {
        Caller::Staff {
            guide_id: "g".into(),
            store_id: "s".into(),
            brand_id: brand.into(),
        }
    }
    fn partner(brand: &str) -> Caller {
        Caller::Partner {
            brand_id: brand.into(),
            key_id: "k".into(),
            scopes: kit::auth::Scopes::all(),
            environment: kit::auth::Environment::Live,
        }
    }
    fn operator() -> Caller {
        Caller::Operator {
            operator_id: "o".into(),
        }
    }
    const BRANDS: &[String] = &[];

    #[test]
    fn who_sees_what() {
        let brands = vec!["apparel".to_string()];
        let own = Subject {
            is_self: true,
            brand_ids: &brands,
        };
        let other = Subject {
            is_self: false,
            brand_ids: &brands,
        };
        assert_eq!(visibility(&member("m"), &own), Visibility::Personal);
        assert_eq!(visibility(&member("m"), &other), Visibility::None);
        // A service's credential is not an operator's.
        let service = Caller::Service {
            name: "store".into(),
        };
        assert_eq!(visibility(&service, &own), Visibility::None);
        assert!(require_owner_or_operator(&service, &own).is_err());
        assert!(identity_brand(&service, Channel::App, None).is_err());
        assert_eq!(visibility(&staff("apparel"), &other), Visibility::Personal);
        assert_eq!(visibility(&staff("coffee"), &other), Visibility::None);
        assert_eq!(visibility(&partner("apparel"), &other), Visibility::Basic);
        assert_eq!(visibility(&operator(), &other), Visibility::Personal);
        assert_eq!(visibility(&Caller::Anonymous, &own), Visibility::None);
        assert!(matches!(
            require_visible(&Caller::Anonymous, &own),
            Err(e) if e.code() == kit::ErrorCode::Unauthenticated
        ));
    }

    #[test]
    fn who_changes_what() {
        let brands = vec!["apparel".to_string()];
        let own = Subject {
            is_self: true,
            brand_ids: &brands,
        };
        let other = Subject {
            is_self: false,
            brand_ids: &brands,
        };
        assert!(require_owner_or_operator(&member("m"), &own).is_ok());
        assert!(require_owner_or_operator(&member("m"), &other).is_err());
        assert!(require_owner_or_operator(&staff("apparel"), &other).is_err());
        assert!(require_engagement(&staff("apparel"), &other).is_ok());
        assert!(require_engagement(&staff("coffee"), &other).is_err());
        assert!(require_tagger(&member("m"), &own).is_err());
        assert!(require_tagger(&staff("apparel"), &other).is_ok());
        assert!(
            require_tagger(
                &operator(),
                &Subject {
                    is_self: false,
                    brand_ids: BRANDS
                }
            )
            .is_ok()
        );
    }

    #[test]
    fn staff_and_partners_register_for_their_own_brand() {
        let coffee = ForeignId::parse("brandId", "coffee").unwrap();
        assert_eq!(
            identity_brand(&staff("apparel"), Channel::StorePos, None)
                .unwrap()
                .unwrap()
                .as_str(),
            "apparel"
        );
        assert!(
            identity_brand(&staff("apparel"), Channel::StorePos, Some(coffee.clone())).is_err()
        );
        assert!(identity_brand(&partner("coffee"), Channel::App, None).is_err());
        assert_eq!(
            identity_brand(&partner("coffee"), Channel::Partner, None)
                .unwrap()
                .unwrap()
                .as_str(),
            "coffee"
        );
        assert_eq!(
            identity_brand(&Caller::Anonymous, Channel::App, Some(coffee.clone())).unwrap(),
            Some(coffee)
        );
    }

    #[test]
    fn a_partner_key_reads_and_enrols_members_only_with_those_scopes() {
        let scoped = |scope: Scope| Caller::Partner {
            brand_id: "coffee".into(),
            key_id: "k".into(),
            scopes: [scope].into_iter().collect(),
            environment: kit::auth::Environment::Live,
        };
        let subject = Subject {
            is_self: false,
            brand_ids: &[],
        };
        assert_eq!(
            require_visible(&scoped(Scope::ReadAccounts), &subject).unwrap(),
            Visibility::Basic
        );
        let refused = require_visible(&scoped(Scope::Earn), &subject).unwrap_err();
        assert!(refused.to_string().contains("read_accounts"), "{refused}");
        assert!(identity_brand(&scoped(Scope::EnrolMembers), Channel::Partner, None).is_ok());
        let refused =
            identity_brand(&scoped(Scope::ReadAccounts), Channel::Partner, None).unwrap_err();
        assert!(refused.to_string().contains("enrol_members"), "{refused}");
    }
}
