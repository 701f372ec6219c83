//! Suspension, and a member's standing as other services ask for it.

use kit::members::{Standing, StandingStatus};
use kit::time::to_micros;
use sea_orm::ActiveEnum as _;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set,
    TransactionTrait,
};

use super::entities::member;
use super::resolve_for_update;
use crate::domain::MemberStatus;
use crate::error::{Error, Result};

/// How many merges a standing follows (a merged member's survivor may
/// itself have been merged since).
const MAX_MERGE_HOPS: usize = 16;

/// Who acts for `member_id` now, and whether they may: `None` if no member
/// has that id. A merged id answers with its (last) survivor's standing.
pub async fn standing<C: ConnectionTrait>(db: &C, member_id: &str) -> Result<Option<Standing>> {
    let mut id = member_id.to_owned();
    for _ in 0..MAX_MERGE_HOPS {
        let Some(row) = member::Entity::find_by_id(id.clone()).one(db).await? else {
            return Ok(None);
        };
        let status = match row.status {
            MemberStatus::Active => StandingStatus::Active,
            MemberStatus::Suspended => StandingStatus::Suspended,
            MemberStatus::Erased => StandingStatus::Erased,
            MemberStatus::Merged => match row.merged_into {
                Some(survivor) => {
                    id = survivor;
                    continue;
                }
                None => return Err(Error::conflict("a merged member without a survivor")),
            },
        };
        return Ok(Some(Standing {
            member_id: row.id,
            status,
            environment: row.environment,
            tier: Some(row.tier),
            birthday_month: row.birthday.map(|b| chrono::Datelike::month(&b)),
        }));
    }
    Err(Error::conflict("a chain of merges too long to follow"))
}

/// Suspends an active member: no service acts for them until
/// [`reinstate`]. Suspending a suspended member changes nothing; an
/// erased or merged one is a CONFLICT.
pub async fn suspend(
    db: &DatabaseConnection,
    member_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<member::Model> {
    set_status(db, member_id, MemberStatus::Suspended, now).await
}

/// Lets a suspended member act again. Reinstating an active member
/// changes nothing.
pub async fn reinstate(
    db: &DatabaseConnection,
    member_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<member::Model> {
    set_status(db, member_id, MemberStatus::Active, now).await
}

async fn set_status(
    db: &DatabaseConnection,
    member_id: &str,
    to: MemberStatus,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<member::Model> {
    let txn = db.begin().await?;
    let current = resolve_for_update(&txn, member_id).await?;
    let from = current.status;
    if from == to {
        txn.commit().await?;
        return Ok(current);
    }
    if !matches!(from, MemberStatus::Active | MemberStatus::Suspended) {
        return Err(Error::conflict(format!(
            "member {} is {}",
            current.id,
            current.status.to_value().to_lowercase()
        )));
    }
    let mut row = current.into_active_model();
    row.status = Set(to);
    row.updated_at = Set(to_micros(now));
    let updated = row.update(&txn).await?;
    txn.commit().await?;
    Ok(updated)
}
