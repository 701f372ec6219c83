//! Who may read and do what in the alliance: members their own accounts,
//! partners their own programme as far as their key's scopes allow,
//! operators everything.

use async_graphql::Context;
use kit::Caller;
use kit::auth::Scope;
use kit::loader::by_id;

use super::caller;
use crate::error::{Error, Result};
use crate::store::entities::{member_alias, programme};

/// The caller, signed in. (A partner token whose key was revoked never gets
/// this far: `POST /graphql` refuses it in every service, `kit::revocation`.)
pub async fn verified<'a>(ctx: &Context<'a>) -> Result<&'a Caller> {
    Ok(caller(ctx).require_authenticated()?)
}

/// The surviving id of a member (merged ids resolve), batched.
pub async fn survivor(ctx: &Context<'_>, member_id: &str) -> Result<String> {
    Ok(by_id::<member_alias::Entity>(ctx, member_id)
        .await?
        .map_or_else(|| member_id.to_owned(), |a| a.survivor_id))
}

/// What a caller may see of a member's points.
pub enum PointsView {
    All,
    /// A partner: its own programme's account only.
    Programme(String),
}

pub async fn points_view(ctx: &Context<'_>, member_id: &str) -> Result<PointsView> {
    match verified(ctx).await? {
        Caller::Operator { .. } => Ok(PointsView::All),
        caller @ Caller::Partner { brand_id, .. } => {
            caller.require_scope(Scope::ReadAccounts)?;
            Ok(PointsView::Programme(
                crate::store::programmes::programme_id_of(brand_id),
            ))
        }
        Caller::Member { member_id: own } => {
            if survivor(ctx, own).await? == survivor(ctx, member_id).await? {
                Ok(PointsView::All)
            } else {
                Err(Error::forbidden("members see only their own points"))
            }
        }
        _ => Err(Error::forbidden(
            "points are read by their member, the programme's partner or an operator",
        )),
    }
}

impl PointsView {
    pub fn shows(&self, programme_id: &str) -> bool {
        match self {
            PointsView::All => true,
            PointsView::Programme(own) => own == programme_id,
        }
    }
}

/// Only the programme's own partner, with a key scoped for `scope`, or an
/// operator.
pub async fn act_for_programme(
    ctx: &Context<'_>,
    p: &programme::Model,
    scope: Scope,
) -> Result<()> {
    match verified(ctx).await? {
        Caller::Operator { .. } => Ok(()),
        caller @ Caller::Partner { brand_id, .. } if *brand_id == p.brand_id => {
            Ok(caller.require_scope(scope)?)
        }
        Caller::Partner { brand_id, .. } => Err(Error::forbidden(format!(
            "only {}'s own partner or an operator may do this; this key acts for {brand_id}",
            p.brand_id
        ))),
        _ => Err(Error::forbidden(
            "only the programme's own partner or an operator may do this",
        )),
    }
}

/// Only the brand's own partner, with a key scoped for `scope`, or an
/// operator.
pub async fn act_for_brand(ctx: &Context<'_>, brand_id: &str, scope: Scope) -> Result<()> {
    match verified(ctx).await? {
        Caller::Operator { .. } => Ok(()),
        caller @ Caller::Partner { brand_id: own, .. } if own == brand_id => {
            Ok(caller.require_scope(scope)?)
        }
        Caller::Partner { brand_id: own, .. } => Err(Error::forbidden(format!(
            "only {brand_id}'s own partner or an operator may do this; this key acts for {own}"
        ))),
        _ => Err(Error::forbidden(
            "only the brand's own partner or an operator may do this",
        )),
    }
}

pub async fn operator(ctx: &Context<'_>) -> Result<()> {
    Ok(verified(ctx).await?.require_operator()?)
}
