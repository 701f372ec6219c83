//! A member merge moves every account of the merged member to the
//! survivor.

use kit::auth::Actor;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use super::posting::{
    Posting, ensure_account, lock_account, lots_in, post, record_movement, shift_lot,
    spendable_lots, verify_books,
};
use crate::domain::ledger::{EntryKind, LotState};
use crate::error::Result;
use crate::store::entities::{account, lot};

/// Moves every account of `merged_id` to `survivor_id`: a MERGE_OUT entry
/// empties the old account, a MERGE_IN entry fills the survivor's, and the
/// lots themselves move, keeping their expiry.
pub(crate) async fn merge_member(
    txn: &DatabaseTransaction,
    survivor_id: &str,
    merged_id: &str,
    actor: &Actor,
    now: i64,
) -> Result<()> {
    let accounts = account::Entity::find()
        .filter(account::Column::MemberId.eq(merged_id))
        .filter(account::Column::MergedInto.is_null())
        .all(txn)
        .await?;
    for old in accounts {
        let target_id = ensure_account(txn, survivor_id, &old.programme_id, now).await?;
        let (first, second) = if old.id < target_id {
            (old.id.clone(), target_id.clone())
        } else {
            (target_id.clone(), old.id.clone())
        };
        let a = lock_account(txn, &first).await?;
        let b = lock_account(txn, &second).await?;
        let (mut from, mut to) = if a.id == old.id { (a, b) } else { (b, a) };
        let lots = lot::Entity::find()
            .filter(lot::Column::AccountId.eq(from.id.as_str()))
            .all(txn)
            .await?;
        let reference = format!("merge:{merged_id}");
        let mut out = Posting::new(
            EntryKind::MergeOut,
            reference.clone(),
            format!("member merged into {survivor_id}"),
        );
        out.points = -from.active_balance;
        out.pending_points = -from.pending_balance;
        let out = post(txn, &mut from, out, actor, now).await?;
        to.lifetime_earned += from.lifetime_earned;
        let mut into = Posting::new(
            EntryKind::MergeIn,
            reference,
            format!("points of merged member {merged_id}"),
        );
        into.points = -out.points;
        into.pending_points = -out.pending_points;
        let into = post(txn, &mut to, into, actor, now).await?;
        for l in &lots {
            record_movement(txn, &out.id, &l.id, -l.remaining).await?;
            record_movement(txn, &into.id, &l.id, l.remaining).await?;
        }
        lot::Entity::update_many()
            .col_expr(lot::Column::AccountId, Expr::value(to.id.clone()))
            .filter(lot::Column::AccountId.eq(from.id.as_str()))
            .exec(txn)
            .await?;
        account::Entity::update_many()
            .col_expr(
                account::Column::MergedInto,
                Expr::value(Some(to.id.clone())),
            )
            .filter(account::Column::Id.eq(from.id.as_str()))
            .exec(txn)
            .await?;
        settle_after_merge(txn, &to, &into.id).await?;
        verify_books(txn, &from.id).await?;
        verify_books(txn, &to.id).await?;
    }
    Ok(())
}

/// Two arrears lots become one, and spendable lots pay the debt, so the
/// survivor keeps the shape every account has.
pub(super) async fn settle_after_merge(
    txn: &DatabaseTransaction,
    account: &account::Model,
    entry_id: &str,
) -> Result<()> {
    let mut arrears = lots_in(txn, &account.id, LotState::Arrears).await?;
    let Some(keep) = arrears.pop() else {
        return Ok(());
    };
    for extra in arrears {
        shift_lot(txn, entry_id, &extra.id, -extra.remaining).await?;
        shift_lot(txn, entry_id, &keep.id, extra.remaining).await?;
    }
    let mut owed = -lot::Entity::find_by_id(keep.id.clone())
        .one(txn)
        .await?
        .map_or(0, |l| l.remaining);
    let mut active = spendable_lots(txn, &account.id).await?;
    active.sort_by(crate::domain::lots::burn_order);
    for l in active {
        if owed == 0 {
            break;
        }
        let pay = l.remaining.min(owed);
        shift_lot(txn, entry_id, &l.id, -pay).await?;
        shift_lot(txn, entry_id, &keep.id, pay).await?;
        owed -= pay;
    }
    Ok(())
}
