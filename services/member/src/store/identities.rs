//! Linking and unlinking channel identities.

use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, ModelTrait, QueryFilter, TransactionTrait,
};

use super::entities::{identity, member};
use super::lock_active;
use super::register::insert_identity;
use crate::domain::identity::{Channel, ExternalId, NewIdentity};
use crate::error::{Error, Result};

#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    Linked,
    /// The identity was already this member's: nothing changed.
    AlreadyLinked,
}

/// Links `new` to the member `member_id` resolves to. An identity held by
/// another member is a CONFLICT: those two records are one person, and an
/// operator merges them.
pub async fn link_identity(
    db: &DatabaseConnection,
    member_id: &str,
    new: &NewIdentity,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(member::Model, LinkOutcome)> {
    let result = async {
        let txn = db.begin().await?;
        let member = lock_active(&txn, member_id).await?;
        let existing = identity::Entity::find()
            .filter(identity::Column::Channel.eq(new.channel))
            .filter(identity::Column::ExternalId.eq(new.external_id.as_str()))
            .filter(identity::Column::Environment.eq(member.environment))
            .filter(identity::Column::Namespace.eq(new.namespace()))
            .one(&txn)
            .await?;
        let outcome = match existing {
            Some(found) if found.member_id == member.id => LinkOutcome::AlreadyLinked,
            Some(_) => {
                return Err(Error::conflict(
                    "this identity belongs to another member; merge the two members instead",
                ));
            }
            None => {
                insert_identity(&txn, &member, new, now).await?;
                LinkOutcome::Linked
            }
        };
        txn.commit().await?;
        Ok((member, outcome))
    }
    .await;
    match result {
        // Lost a race with another link of the same identity.
        Err(Error::Db(err)) if kit::db::is_unique_violation(&err) => Err(Error::conflict(
            "this identity was linked concurrently; read the member again",
        )),
        other => other,
    }
}

/// Removes an identity; the member's last identity cannot be removed.
pub async fn unlink_identity(
    db: &DatabaseConnection,
    member_id: &str,
    channel: Channel,
    external_id: &ExternalId,
) -> Result<member::Model> {
    let txn = db.begin().await?;
    let member = lock_active(&txn, member_id).await?;
    let identities = identity::Entity::find()
        .filter(identity::Column::MemberId.eq(member.id.clone()))
        .all(&txn)
        .await?;
    let target = identities
        .iter()
        .find(|i| i.channel == channel && i.external_id == external_id.as_str())
        .cloned()
        .ok_or_else(|| Error::not_found("this member has no such identity"))?;
    if identities.len() == 1 {
        return Err(Error::conflict(
            "the last identity of a member cannot be removed",
        ));
    }
    target.delete(&txn).await?;
    txn.commit().await?;
    Ok(member)
}
