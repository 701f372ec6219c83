//! Periodic jobs: activation of pending points and expiry of active ones,
//! one account per transaction.

use chrono::{DateTime, Utc};
use kit::auth::Actor;
use kit::time::to_micros;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use super::posting::{Posting, activate_lot, lock_account, post, shift_lot, verify_books};
use crate::domain::ledger::{EntryKind, LotState};
use crate::error::Result;
use crate::store::entities::lot;
use crate::store::programmes::{programme_by_id, rules};

/// How many lots a job handles per pass.
pub(super) const JOB_BATCH: u64 = 500;

/// Activates every PENDING lot whose window has passed; returns how many.
/// Each account is its own transaction, so a crash loses nothing and a
/// rerun activates nothing twice (it re-reads the lot's state under lock).
pub async fn activate_due(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize> {
    let now = to_micros(now);
    let actor = Actor::system("points-activation");
    let mut done = 0;
    loop {
        let due = lot::Entity::find()
            .filter(lot::Column::State.eq(LotState::Pending))
            .filter(lot::Column::ActivatesAt.lte(now))
            .order_by_asc(lot::Column::ActivatesAt)
            .limit(JOB_BATCH)
            .all(db)
            .await?;
        if due.is_empty() {
            return Ok(done);
        }
        for account_id in distinct_accounts(&due) {
            let txn = db.begin().await?;
            let mut account = lock_account(&txn, &account_id).await?;
            let programme = programme_by_id(&txn, &account.programme_id).await?;
            let rules = rules(&programme)?;
            let lots = lot::Entity::find()
                .filter(lot::Column::AccountId.eq(account_id.as_str()))
                .filter(lot::Column::State.eq(LotState::Pending))
                .filter(lot::Column::ActivatesAt.lte(now))
                .order_by_asc(lot::Column::ActivatesAt)
                .all(&txn)
                .await?;
            for pending in lots {
                activate_lot(
                    &txn,
                    &mut account,
                    &rules,
                    pending,
                    "the pending period passed",
                    &actor,
                    now,
                )
                .await?;
                done += 1;
            }
            verify_books(&txn, &account.id).await?;
            txn.commit().await?;
        }
    }
}

/// Expires every ACTIVE lot past its expiry, one EXPIRE entry per account
/// naming the lots it took; returns how many points lapsed.
pub async fn expire_due(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<i64> {
    let now = to_micros(now);
    let actor = Actor::system("points-expiry");
    let mut expired = 0;
    loop {
        let due = lot::Entity::find()
            .filter(lot::Column::State.eq(LotState::Active))
            .filter(lot::Column::ExpiresAt.lte(now))
            .filter(lot::Column::Remaining.gt(0))
            .limit(JOB_BATCH)
            .all(db)
            .await?;
        if due.is_empty() {
            return Ok(expired);
        }
        for account_id in distinct_accounts(&due) {
            let txn = db.begin().await?;
            let mut account = lock_account(&txn, &account_id).await?;
            let lots = lot::Entity::find()
                .filter(lot::Column::AccountId.eq(account_id.as_str()))
                .filter(lot::Column::State.eq(LotState::Active))
                .filter(lot::Column::ExpiresAt.lte(now))
                .filter(lot::Column::Remaining.gt(0))
                .all(&txn)
                .await?;
            let total: i64 = lots.iter().map(|l| l.remaining).sum();
            if total > 0 {
                let mut posting = Posting::new(
                    EntryKind::Expire,
                    format!("expiry:{now}"),
                    "points reached their expiry date",
                );
                posting.points = -total;
                let written = post(&txn, &mut account, posting, &actor, now).await?;
                for l in &lots {
                    shift_lot(&txn, &written.id, &l.id, -l.remaining).await?;
                }
                expired += total;
            }
            verify_books(&txn, &account.id).await?;
            txn.commit().await?;
        }
    }
}

pub(super) fn distinct_accounts(lots: &[lot::Model]) -> Vec<String> {
    let mut ids: Vec<String> = lots.iter().map(|l| l.account_id.clone()).collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Announces every ACTIVE lot with points left that expires within `days`
/// of `now` and was not announced before (`POINTS_EXPIRING_SOON`, one
/// event per lot); returns how many lots. The mark and the event commit
/// together, and a lot is marked only if no other run marked it first, so
/// two runs at once announce each lot once.
pub async fn warn_expiring(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    days: u32,
) -> Result<usize> {
    use kit::events::schema::PointsExpiringSoon;
    use sea_orm::sea_query::Expr;

    use crate::store::entities::account;

    let at = to_micros(now);
    let horizon = at.saturating_add(i64::from(days) * 86_400_000_000);
    let mut warned = 0;
    loop {
        let soon = lot::Entity::find()
            .filter(lot::Column::State.eq(LotState::Active))
            .filter(lot::Column::Remaining.gt(0))
            .filter(lot::Column::ExpiryWarnedAt.is_null())
            .filter(lot::Column::ExpiresAt.gt(at))
            .filter(lot::Column::ExpiresAt.lte(horizon))
            .order_by_asc(lot::Column::ExpiresAt)
            .limit(JOB_BATCH)
            .all(db)
            .await?;
        if soon.is_empty() {
            return Ok(warned);
        }
        let ids = distinct_accounts(&soon);
        let accounts = account::Entity::find()
            .filter(account::Column::Id.is_in(ids.iter().map(String::as_str)))
            .all(db)
            .await?;
        let txn = db.begin().await?;
        for l in &soon {
            let marked = lot::Entity::update_many()
                .col_expr(lot::Column::ExpiryWarnedAt, Expr::value(Some(at)))
                .filter(lot::Column::Id.eq(l.id.as_str()))
                .filter(lot::Column::ExpiryWarnedAt.is_null())
                .exec(&txn)
                .await?;
            let (Some(expires_at), Some(owner), 1) = (
                l.expires_at,
                accounts.iter().find(|a| a.id == l.account_id),
                marked.rows_affected,
            ) else {
                continue;
            };
            let event = PointsExpiringSoon {
                lot_id: l.id.clone(),
                account_id: l.account_id.clone(),
                programme_id: l.programme_id.clone(),
                member_id: owner.member_id.clone(),
                points: l.remaining,
                expires_at: kit::time::from_micros(expires_at),
            };
            kit::events::outbox::publish(&txn, &event, now).await?;
            warned += 1;
        }
        txn.commit().await?;
    }
}
