//! Commands from partners and operators: earn, redeem and adjust, each
//! exactly once per idempotency key and business reference.

use kit::auth::Actor;
use kit::time::to_micros;
use sea_orm::{
    ActiveEnum, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
};

use super::posting::{
    PendingUntil, Posting, credit, debit, earn_pending, ensure_account, lock_account, verify_books,
};
use super::reads::*;
use crate::domain::ledger::EntryKind;
use crate::error::{Error, Result};
use crate::store::entities::{account, entry};
use crate::store::programmes::{programme_by_id, rules};
use crate::store::{IdempotencyKey, retry_once_on_race, survivor_of};

/// A partner's (or operator's) earn or redeem request, parsed.
#[derive(Debug, Clone)]
pub struct PartnerTransaction {
    /// The member the points are for: the survivor of a merge once
    /// [`PartnerTransaction::act_for`] resolved it.
    pub member_id: String,
    /// The member id as the request named it, when a merge's survivor
    /// replaced it: a retry is recognised by what it sent.
    pub requested_member_id: Option<String>,
    pub programme_id: String,
    pub points: i64,
    pub source_system: String,
    pub external_txn_id: String,
    pub reason: String,
}

impl PartnerTransaction {
    /// For `acting` (who the named member is now), remembering the name.
    pub fn act_for(&mut self, acting: String) {
        if acting != self.member_id {
            let named = std::mem::replace(&mut self.member_id, acting);
            self.requested_member_id.get_or_insert(named);
        }
    }

    fn hash(&self, operation: &str) -> String {
        crate::store::sha256_hex(&[
            operation,
            self.requested_member_id.as_ref().unwrap_or(&self.member_id),
            &self.programme_id,
            &self.points.to_string(),
            &self.source_system,
            &self.external_txn_id,
            &self.reason,
        ])
    }
}

/// The entry a partner transaction wrote, with the account after it.
pub struct Posted {
    pub entry: entry::Model,
    pub account: account::Model,
}

/// Earns points for a member (PENDING for the programme's window).
/// Exactly once: the idempotency key replays; the business reference
/// (programme, source system, external id) is recorded once.
pub async fn earn(
    db: &DatabaseConnection,
    tx: &PartnerTransaction,
    key: &IdempotencyKey,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Posted> {
    retry_once_on_race(|| partner_transaction(db, tx, key, actor, EntryKind::Earn, now)).await
}

/// Redeems ACTIVE points, soonest expiry first; same exactly-once rules.
pub async fn redeem(
    db: &DatabaseConnection,
    tx: &PartnerTransaction,
    key: &IdempotencyKey,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Posted> {
    retry_once_on_race(|| partner_transaction(db, tx, key, actor, EntryKind::Redeem, now)).await
}

pub(super) async fn partner_transaction(
    db: &DatabaseConnection,
    tx: &PartnerTransaction,
    key: &IdempotencyKey,
    actor: &Actor,
    kind: EntryKind,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Posted> {
    let operation = kind.to_value();
    let hash = tx.hash(&operation);
    if let Some(entry_id) = key.replayed(db, &operation, &hash).await? {
        return posted(db, &entry_id).await;
    }
    let programme = programme_by_id(db, &tx.programme_id).await?;
    let rules = rules(&programme)?;
    let member_id = survivor_of(db, &tx.member_id).await?;
    if let Some(existing) = by_business_reference(db, &programme.id, kind, tx).await? {
        // A twin with this same key may have committed since we looked.
        if let Some(entry_id) = key.replayed(db, &operation, &hash).await? {
            return posted(db, &entry_id).await;
        }
        return Err(Error::conflict(format!(
            "{} {} from {} was already recorded as entry {}",
            operation, tx.external_txn_id, tx.source_system, existing.id
        )));
    }
    let earned_at = now;
    let now = to_micros(earned_at);
    let txn = db.begin().await?;
    let account_id = ensure_account(&txn, &member_id, &programme.id, now).await?;
    let mut account = lock_account(&txn, &account_id).await?;
    let mut posting = Posting::new(
        kind,
        format!("{}:{}", tx.source_system, tx.external_txn_id),
        tx.reason.clone(),
    );
    posting.external = Some((tx.source_system.clone(), tx.external_txn_id.clone()));
    let written = match kind {
        EntryKind::Earn => {
            earn_pending(
                &txn,
                &mut account,
                &rules,
                posting,
                tx.points,
                earned_at,
                PendingUntil::Window,
                actor,
            )
            .await?
            .0
        }
        _ => debit(&txn, &mut account, posting, tx.points, actor, now).await?,
    };
    key.remember(&txn, &operation, &hash, &written.id, now)
        .await?;
    verify_books(&txn, &account.id).await?;
    txn.commit().await?;
    Ok(Posted {
        entry: written,
        account,
    })
}

pub(super) async fn by_business_reference(
    db: &DatabaseConnection,
    programme_id: &str,
    kind: EntryKind,
    tx: &PartnerTransaction,
) -> Result<Option<entry::Model>> {
    Ok(entry::Entity::find()
        .filter(entry::Column::ProgrammeId.eq(programme_id))
        .filter(entry::Column::Kind.eq(kind))
        .filter(entry::Column::SourceSystem.eq(tx.source_system.as_str()))
        .filter(entry::Column::ExternalTxnId.eq(tx.external_txn_id.as_str()))
        .one(db)
        .await?)
}

pub(super) async fn posted(db: &DatabaseConnection, entry_id: &str) -> Result<Posted> {
    let entry = entry_by_id(db, entry_id).await?;
    let account = account_by_id(db, &entry.account_id).await?;
    Ok(Posted { entry, account })
}

/// The account of `member_id` in `programme_id`, opened empty if it has
/// none (for an operator's first adjustment).
pub async fn open_account(
    db: &DatabaseConnection,
    member_id: &str,
    programme_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String> {
    let txn = db.begin().await?;
    let id = ensure_account(&txn, member_id, programme_id, to_micros(now)).await?;
    txn.commit().await?;
    Ok(id)
}

/// An operator's correction: credits a new never-expiring lot or debits
/// ACTIVE points, with a reason.
pub async fn adjust(
    db: &DatabaseConnection,
    account_id: &str,
    points: i64,
    reason: &str,
    key: &IdempotencyKey,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Posted> {
    let reason = kit::input::clean_text("reason", reason, 256)?;
    if points == 0 || points.unsigned_abs() > 1_000_000_000 {
        return Err(Error::invalid(
            "points",
            "an adjustment must change the balance, by at most 1000000000 either way",
        ));
    }
    let hash = crate::store::sha256_hex(&["ADJUSTMENT", account_id, &points.to_string(), &reason]);
    retry_once_on_race(|| async {
        if let Some(entry_id) = key.replayed(db, "ADJUSTMENT", &hash).await? {
            return posted(db, &entry_id).await;
        }
        let now = to_micros(now);
        let txn = db.begin().await?;
        let mut account = lock_account(&txn, account_id).await?;
        let posting = Posting::new(
            EntryKind::Adjustment,
            format!("adjustment:{account_id}"),
            reason.clone(),
        );
        let written = if points > 0 {
            credit(&txn, &mut account, posting, points, None, actor, now)
                .await?
                .0
        } else {
            debit(&txn, &mut account, posting, -points, actor, now).await?
        };
        key.remember(&txn, "ADJUSTMENT", &hash, &written.id, now)
            .await?;
        verify_books(&txn, &account.id).await?;
        txn.commit().await?;
        Ok(Posted {
            entry: written,
            account,
        })
    })
    .await
}
