//! Reads of accounts, entries, lots and lot movements.

use kit::paging::PageRequest;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::posting::as_domain;
use crate::domain::ledger::LotState;
use crate::error::{Error, Result};
use crate::store::entities::{account, entry, lot, lot_movement};
use crate::store::survivor_of;

pub async fn account_by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<account::Model> {
    account::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no points account {id}")))
}

pub async fn entry_by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<entry::Model> {
    entry::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no ledger entry {id}")))
}

/// A member's live accounts (merged-away ones are followed to the survivor).
pub async fn accounts_of_member(
    db: &DatabaseConnection,
    member_id: &str,
) -> Result<Vec<account::Model>> {
    let member_id = survivor_of(db, member_id).await?;
    Ok(account::Entity::find()
        .filter(account::Column::MemberId.eq(member_id))
        .filter(account::Column::MergedInto.is_null())
        .order_by_asc(account::Column::ProgrammeId)
        .all(db)
        .await?)
}

pub async fn account_of<C: ConnectionTrait>(
    db: &C,
    member_id: &str,
    programme_id: &str,
) -> Result<Option<account::Model>> {
    Ok(account::Entity::find()
        .filter(account::Column::MemberId.eq(member_id))
        .filter(account::Column::ProgrammeId.eq(programme_id))
        .one(db)
        .await?)
}

/// Ledger entries, newest first, by sequence number.
pub async fn entries_page(
    db: &DatabaseConnection,
    account_id: &str,
    page: &PageRequest,
) -> Result<(Vec<entry::Model>, bool)> {
    let mut q = entry::Entity::find()
        .filter(entry::Column::AccountId.eq(account_id))
        .order_by_desc(entry::Column::Seq)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        let seq: i64 = after
            .parse()
            .map_err(|_| Error::invalid("after", "after is not a cursor this API returned"))?;
        q = q.filter(entry::Column::Seq.lt(seq));
    }
    Ok(kit::paging::split_page(q.all(db).await?, page))
}

/// Lots still holding points (or owing them), in burn order.
pub async fn open_lots(db: &DatabaseConnection, account_id: &str) -> Result<Vec<lot::Model>> {
    let mut lots = lot::Entity::find()
        .filter(lot::Column::AccountId.eq(account_id))
        .filter(lot::Column::Remaining.ne(0))
        .all(db)
        .await?;
    lots.sort_by(|a, b| {
        (a.state != LotState::Active)
            .cmp(&(b.state != LotState::Active))
            .then_with(|| crate::domain::lots::burn_order(&as_domain(a), &as_domain(b)))
    });
    Ok(lots)
}

pub async fn movements_of(
    db: &DatabaseConnection,
    entry_id: &str,
) -> Result<Vec<lot_movement::Model>> {
    Ok(lot_movement::Entity::find()
        .filter(lot_movement::Column::EntryId.eq(entry_id))
        .order_by_asc(lot_movement::Column::Id)
        .all(db)
        .await?)
}
