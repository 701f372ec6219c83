//! Points accounts and their ledger. Every change to an account happens with
//! its row locked (`SELECT … FOR UPDATE` on PostgreSQL; SQLite has one
//! writer), writes one immutable entry per effect, and moves lots so that
//! the ACTIVE balance is always the sum of the ACTIVE and ARREARS lots and
//! the PENDING balance the sum of the PENDING lots.

use chrono::{DateTime, Utc};
use kit::auth::Actor;
use kit::paging::PageRequest;
use kit::scalar::checked_sum;
use kit::time::{from_micros, to_micros};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::entities::{account, entry, lot, lot_movement};
use super::programmes::{programme_by_id, rules};
use super::{IdempotencyKey, new_id, retry_once_on_race, survivor_of};
use crate::domain::ledger::{EntryKind, LotState, settle_arrears};
use crate::domain::lots::{Lot, consume};
use crate::domain::programme::ProgrammeRules;
use crate::domain::returns::{ReturnPolicy, plan_reversal};
use crate::error::{Error, Result};

/// One ledger entry about to be written.
pub(crate) struct Posting {
    pub id: String,
    pub kind: EntryKind,
    pub points: i64,
    pub pending_points: i64,
    pub forgiven: i64,
    pub reference: String,
    /// (source system, external transaction id): the business key.
    pub external: Option<(String, String)>,
    pub reverses: Option<String>,
    pub reason: String,
}

impl Posting {
    pub fn new(kind: EntryKind, reference: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            id: new_id(),
            kind,
            points: 0,
            pending_points: 0,
            forgiven: 0,
            reference: reference.into(),
            external: None,
            reverses: None,
            reason: reason.into(),
        }
    }
}

/// The account of `member_id` in `programme_id`, created empty if missing.
/// Insert-or-ignore, so that two first earns racing both succeed.
pub(crate) async fn ensure_account(
    txn: &DatabaseTransaction,
    member_id: &str,
    programme_id: &str,
    now: i64,
) -> Result<String> {
    account::Entity::insert(account::ActiveModel {
        id: Set(new_id()),
        member_id: Set(member_id.to_owned()),
        programme_id: Set(programme_id.to_owned()),
        active_balance: Set(0),
        pending_balance: Set(0),
        lifetime_earned: Set(0),
        next_seq: Set(1),
        merged_into: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([account::Column::MemberId, account::Column::ProgrammeId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    account::Entity::find()
        .filter(account::Column::MemberId.eq(member_id))
        .filter(account::Column::ProgrammeId.eq(programme_id))
        .one(txn)
        .await?
        .map(|a| a.id)
        .ok_or_else(|| Error::conflict("the points account could not be opened; retry"))
}

/// Locks an account for the rest of the transaction.
pub(crate) async fn lock_account(txn: &DatabaseTransaction, id: &str) -> Result<account::Model> {
    account::Entity::find_by_id(id.to_owned())
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no points account {id}")))
}

/// Writes an entry and the account's new balances.
pub(crate) async fn post(
    txn: &DatabaseTransaction,
    account: &mut account::Model,
    posting: Posting,
    actor: &Actor,
    now: i64,
) -> Result<entry::Model> {
    if let Some(reversed) = &posting.reverses {
        ensure_reversible(txn, reversed, &posting).await?;
    }
    // Refused before anything is written: a balance the graph could not
    // carry exactly (kit::scalar).
    let balance_after = checked_sum("the active balance", account.active_balance, posting.points)
        .map_err(Error::Api)?;
    let pending_after = checked_sum(
        "the pending balance",
        account.pending_balance,
        posting.pending_points,
    )
    .map_err(Error::Api)?;
    if posting.kind == EntryKind::Earn {
        account.lifetime_earned = checked_sum(
            "the lifetime earned",
            account.lifetime_earned,
            posting.pending_points,
        )
        .map_err(Error::Api)?;
    }
    let (source_system, external_txn_id) = posting.external.unzip();
    let written = entry::ActiveModel {
        id: Set(posting.id),
        account_id: Set(account.id.clone()),
        programme_id: Set(account.programme_id.clone()),
        seq: Set(account.next_seq),
        kind: Set(posting.kind.as_str().to_owned()),
        points: Set(posting.points),
        pending_points: Set(posting.pending_points),
        balance_after: Set(balance_after),
        pending_after: Set(pending_after),
        forgiven_points: Set(posting.forgiven),
        reference: Set(posting.reference),
        source_system: Set(source_system),
        external_txn_id: Set(external_txn_id),
        reverses_entry_id: Set(posting.reverses),
        actor: Set(actor.as_str().to_owned()),
        reason: Set(posting.reason),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    account.active_balance = balance_after;
    account.pending_balance = pending_after;
    account.next_seq += 1;
    account.updated_at = now;
    account::Entity::update_many()
        .col_expr(account::Column::ActiveBalance, Expr::value(balance_after))
        .col_expr(account::Column::PendingBalance, Expr::value(pending_after))
        .col_expr(
            account::Column::LifetimeEarned,
            Expr::value(account.lifetime_earned),
        )
        .col_expr(account::Column::NextSeq, Expr::value(account.next_seq))
        .col_expr(account::Column::UpdatedAt, Expr::value(now))
        .filter(account::Column::Id.eq(account.id.clone()))
        .exec(txn)
        .await?;
    Ok(written)
}

/// One entry can never be reversed beyond its amount, all its reversals
/// (and the points they forgave) together.
async fn ensure_reversible(
    txn: &DatabaseTransaction,
    reversed: &str,
    posting: &Posting,
) -> Result<()> {
    let original = entry::Entity::find_by_id(reversed.to_owned())
        .one(txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no ledger entry {reversed}")))?;
    let amount = (original.points + original.pending_points).abs();
    let earlier: i64 = entry::Entity::find()
        .filter(entry::Column::ReversesEntryId.eq(reversed))
        .all(txn)
        .await?
        .iter()
        .map(|e| (e.points + e.pending_points).abs() + e.forgiven_points)
        .sum();
    let now_reversing = (posting.points + posting.pending_points).abs() + posting.forgiven;
    if earlier + now_reversing > amount {
        return Err(Error::conflict(format!(
            "entry {reversed} of {amount} points cannot be reversed by {} more ({earlier} already)",
            now_reversing
        )));
    }
    Ok(())
}

async fn record_movement(
    txn: &DatabaseTransaction,
    entry_id: &str,
    lot_id: &str,
    points: i64,
) -> Result<()> {
    if points == 0 {
        return Ok(());
    }
    lot_movement::ActiveModel {
        id: Set(new_id()),
        entry_id: Set(entry_id.to_owned()),
        lot_id: Set(lot_id.to_owned()),
        points: Set(points),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Changes a lot's remaining points by `delta`, refusing (rather than
/// writing) anything the lot's CHECK would not hold.
async fn shift_lot(
    txn: &DatabaseTransaction,
    entry_id: &str,
    lot_id: &str,
    delta: i64,
) -> Result<()> {
    if delta == 0 {
        return Ok(());
    }
    let mut update = lot::Entity::update_many()
        .col_expr(
            lot::Column::Remaining,
            Expr::col(lot::Column::Remaining).add(delta),
        )
        .filter(lot::Column::Id.eq(lot_id));
    if delta < 0 {
        update = update.filter(
            lot::Column::Remaining
                .gte(-delta)
                .or(lot::Column::State.eq(LotState::Arrears.as_str())),
        );
    }
    if update.exec(txn).await?.rows_affected != 1 {
        return Err(Error::conflict(format!(
            "lot {lot_id} changed underneath; retry"
        )));
    }
    record_movement(txn, entry_id, lot_id, delta).await
}

async fn lots_in(
    txn: &DatabaseTransaction,
    account_id: &str,
    state: LotState,
) -> Result<Vec<lot::Model>> {
    Ok(lot::Entity::find()
        .filter(lot::Column::AccountId.eq(account_id))
        .filter(lot::Column::State.eq(state.as_str()))
        .all(txn)
        .await?)
}

/// The ACTIVE lots that still hold points, as the domain sees them. Spent
/// and expired lots stay in the table for the record but are not read here:
/// a debit costs what the account holds, not its history.
async fn spendable_lots(txn: &DatabaseTransaction, account_id: &str) -> Result<Vec<Lot>> {
    Ok(lot::Entity::find()
        .filter(lot::Column::AccountId.eq(account_id))
        .filter(lot::Column::State.eq(LotState::Active.as_str()))
        .filter(lot::Column::Remaining.gt(0))
        .all(txn)
        .await?
        .iter()
        .map(as_domain)
        .collect())
}

fn as_domain(l: &lot::Model) -> Lot {
    Lot {
        id: l.id.clone(),
        remaining: l.remaining,
        expires_at: l.expires_at,
        created_at: l.created_at,
    }
}

/// Takes `amount` ACTIVE points for a debit entry (REDEEM, EXCHANGE_OUT),
/// soonest expiry first; INSUFFICIENT_POINTS if the account has fewer.
pub(crate) async fn debit(
    txn: &DatabaseTransaction,
    account: &mut account::Model,
    mut posting: Posting,
    amount: i64,
    actor: &Actor,
    now: i64,
) -> Result<entry::Model> {
    let lots = spendable_lots(txn, &account.id).await?;
    let taken = consume(&lots, amount, now)?;
    if account.active_balance < amount {
        return Err(Error::InsufficientPoints {
            available: account.active_balance.max(0),
            wanted: amount,
        });
    }
    posting.points = -amount;
    let written = post(txn, account, posting, actor, now).await?;
    for (lot_id, take) in taken {
        shift_lot(txn, &written.id, &lot_id, -take).await?;
    }
    Ok(written)
}

async fn arrears_of(txn: &DatabaseTransaction, account_id: &str) -> Result<Option<lot::Model>> {
    Ok(lots_in(txn, account_id, LotState::Arrears)
        .await?
        .into_iter()
        .next())
}

/// Credits `amount` ACTIVE points as a new lot (EXCHANGE_IN, ADJUSTMENT),
/// paying any arrears first.
pub(crate) async fn credit(
    txn: &DatabaseTransaction,
    account: &mut account::Model,
    mut posting: Posting,
    amount: i64,
    expires_at: Option<DateTime<Utc>>,
    actor: &Actor,
    now: i64,
) -> Result<(entry::Model, lot::Model)> {
    posting.points = amount;
    let written = post(txn, account, posting, actor, now).await?;
    let arrears = arrears_of(txn, &account.id).await?;
    let (paid, kept) = settle_arrears(arrears.as_ref().map_or(0, |a| a.remaining), amount);
    let new_lot = lot::ActiveModel {
        id: Set(new_id()),
        account_id: Set(account.id.clone()),
        programme_id: Set(account.programme_id.clone()),
        state: Set(LotState::Active.as_str().to_owned()),
        original: Set(amount),
        remaining: Set(kept),
        activates_at: Set(None),
        expires_at: Set(expires_at.map(to_micros)),
        created_at: Set(now),
        created_by_entry_id: Set(written.id.clone()),
    }
    .insert(txn)
    .await?;
    record_movement(txn, &written.id, &new_lot.id, kept).await?;
    if let Some(arrears) = arrears {
        shift_lot(txn, &written.id, &arrears.id, paid).await?;
    }
    Ok((written, new_lot))
}

/// What a PENDING lot waits for before its programme's window starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PendingUntil {
    /// The window runs from the earning (a partner's sale, already paid
    /// and handed over on its side).
    Window,
    /// The sale is not final until the goods are handed over: the lot
    /// has no activation time, and the window starts at the hand-over
    /// ([`release_on_hand_over`]). A cancellation before it takes back
    /// everything.
    HandOver,
}

/// Earns PENDING points as a new lot; with no pending period (and nothing
/// to wait for) they are activated in the same transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn earn_pending(
    txn: &DatabaseTransaction,
    account: &mut account::Model,
    rules: &ProgrammeRules,
    mut posting: Posting,
    points: i64,
    earned_at: DateTime<Utc>,
    until: PendingUntil,
    actor: &Actor,
) -> Result<(entry::Model, lot::Model)> {
    let now = to_micros(earned_at);
    posting.pending_points = points;
    let written = post(txn, account, posting, actor, now).await?;
    let activates_at = match until {
        PendingUntil::Window => Some(rules.activates_at(earned_at)),
        PendingUntil::HandOver => None,
    };
    let pending = lot::ActiveModel {
        id: Set(new_id()),
        account_id: Set(account.id.clone()),
        programme_id: Set(account.programme_id.clone()),
        state: Set(LotState::Pending.as_str().to_owned()),
        original: Set(points),
        remaining: Set(points),
        activates_at: Set(activates_at.map(to_micros)),
        expires_at: Set(None),
        created_at: Set(now),
        created_by_entry_id: Set(written.id.clone()),
    }
    .insert(txn)
    .await?;
    record_movement(txn, &written.id, &pending.id, points).await?;
    let pending = match activates_at {
        Some(at) if at <= earned_at => {
            activate_lot(txn, account, rules, pending, actor, now).await?
        }
        _ => pending,
    };
    Ok((written, pending))
}

/// The sale behind a lot earned with [`PendingUntil::HandOver`] was handed
/// over at `handed_over_at`: the programme's window starts, and with no
/// window the lot is activated now. A lot already released, reversed to
/// nothing or gone (an earlier hand-over replayed) is left as it is.
pub(crate) async fn release_on_hand_over(
    txn: &DatabaseTransaction,
    lot_id: &str,
    handed_over_at: DateTime<Utc>,
    actor: &Actor,
) -> Result<()> {
    let Some(found) = lot::Entity::find_by_id(lot_id.to_owned()).one(txn).await? else {
        return Ok(());
    };
    // The account first (every ledger command locks it), then the lot
    // re-read under that lock.
    let mut account = lock_account(txn, &found.account_id).await?;
    let Some(pending) = lot::Entity::find_by_id(lot_id.to_owned()).one(txn).await? else {
        return Ok(());
    };
    if pending.state != LotState::Pending.as_str() || pending.activates_at.is_some() {
        return Ok(());
    }
    let programme = programme_by_id(txn, &account.programme_id).await?;
    let rules = rules(&programme)?;
    let activates_at = rules.activates_at(handed_over_at);
    let mut row: lot::ActiveModel = pending.into();
    row.activates_at = Set(Some(to_micros(activates_at)));
    let pending = row.update(txn).await?;
    if activates_at <= handed_over_at {
        let now = to_micros(handed_over_at);
        activate_lot(txn, &mut account, &rules, pending, actor, now).await?;
    }
    Ok(())
}

/// Turns a PENDING lot ACTIVE (an ACTIVATE entry), with the programme's
/// expiry counted from its due activation time; pays arrears first.
async fn activate_lot(
    txn: &DatabaseTransaction,
    account: &mut account::Model,
    rules: &ProgrammeRules,
    pending: lot::Model,
    actor: &Actor,
    now: i64,
) -> Result<lot::Model> {
    let due = pending.activates_at.unwrap_or(now);
    let expires_at = rules.expires_at(from_micros(due)).map(to_micros);
    let points = pending.remaining;
    let mut row: lot::ActiveModel = pending.clone().into();
    row.state = Set(LotState::Active.as_str().to_owned());
    row.expires_at = Set(expires_at);
    let mut activated = row.update(txn).await?;
    if points == 0 {
        // Fully reversed while pending: nothing to activate.
        return Ok(activated);
    }
    let mut posting = Posting::new(
        EntryKind::Activate,
        format!("lot:{}", activated.id),
        "the pending period passed",
    );
    posting.points = points;
    posting.pending_points = -points;
    let written = post(txn, account, posting, actor, now).await?;
    if let Some(arrears) = arrears_of(txn, &account.id).await? {
        let (paid, _) = settle_arrears(arrears.remaining, points);
        shift_lot(txn, &written.id, &activated.id, -paid).await?;
        shift_lot(txn, &written.id, &arrears.id, paid).await?;
        activated.remaining -= paid;
    }
    Ok(activated)
}

/// What a refund asks to take back from one earning.
pub(crate) struct ReversalRequest<'a> {
    pub earn_entry_id: &'a str,
    pub earn_lot_id: Option<&'a str>,
    pub due: i64,
    pub policy: ReturnPolicy,
    pub reference: String,
    pub external: (String, String),
    pub reason: String,
}

/// Reverses an earning: first from its lot while still PENDING, then from
/// ACTIVE points as the return policy allows (soonest expiry first, then
/// into arrears under ALLOW_NEGATIVE); the rest is recorded as forgiven.
pub(crate) async fn reverse_earning(
    txn: &DatabaseTransaction,
    account: &mut account::Model,
    request: ReversalRequest<'_>,
    actor: &Actor,
    now: i64,
) -> Result<entry::Model> {
    let earn_lot = match request.earn_lot_id {
        Some(id) => lot::Entity::find_by_id(id.to_owned()).one(txn).await?,
        None => None,
    };
    let pending_left = earn_lot
        .as_ref()
        .filter(|l| l.state == LotState::Pending.as_str())
        .map_or(0, |l| l.remaining);
    let plan = plan_reversal(
        request.due,
        pending_left,
        account.active_balance,
        request.policy,
    );
    let mut posting = Posting::new(EntryKind::Reversal, request.reference, request.reason);
    posting.pending_points = -plan.from_pending;
    posting.points = -plan.from_active;
    posting.forgiven = plan.forgiven;
    posting.external = Some(request.external);
    posting.reverses = Some(request.earn_entry_id.to_owned());
    let active = spendable_lots(txn, &account.id).await?;
    let positive: i64 = active.iter().map(|l| l.remaining).sum();
    let from_lots = plan.from_active.min(positive);
    let into_arrears = plan.from_active - from_lots;
    let written = post(txn, account, posting, actor, now).await?;
    if let Some(l) = earn_lot.filter(|_| plan.from_pending > 0) {
        shift_lot(txn, &written.id, &l.id, -plan.from_pending).await?;
    }
    if from_lots > 0 {
        // A reversal takes points back even from lots past their expiry
        // that the expiry job has not reached yet.
        for (lot_id, take) in consume(&active, from_lots, i64::MIN)? {
            shift_lot(txn, &written.id, &lot_id, -take).await?;
        }
    }
    if into_arrears > 0 {
        let arrears_id = match arrears_of(txn, &account.id).await? {
            Some(a) => a.id,
            None => {
                lot::ActiveModel {
                    id: Set(new_id()),
                    account_id: Set(account.id.clone()),
                    programme_id: Set(account.programme_id.clone()),
                    state: Set(LotState::Arrears.as_str().to_owned()),
                    original: Set(0),
                    remaining: Set(0),
                    activates_at: Set(None),
                    expires_at: Set(None),
                    created_at: Set(now),
                    created_by_entry_id: Set(written.id.clone()),
                }
                .insert(txn)
                .await?
                .id
            }
        };
        shift_lot(txn, &written.id, &arrears_id, -into_arrears).await?;
    }
    Ok(written)
}

/// A partner's (or operator's) earn or redeem request, parsed.
#[derive(Debug, Clone)]
pub struct PartnerTransaction {
    pub member_id: String,
    pub programme_id: String,
    pub points: i64,
    pub source_system: String,
    pub external_txn_id: String,
    pub reason: String,
}

impl PartnerTransaction {
    fn hash(&self, operation: &str) -> String {
        super::sha256_hex(&[
            operation,
            &self.member_id,
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

async fn partner_transaction(
    db: &DatabaseConnection,
    tx: &PartnerTransaction,
    key: &IdempotencyKey,
    actor: &Actor,
    kind: EntryKind,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Posted> {
    let hash = tx.hash(kind.as_str());
    if let Some(entry_id) = key.replayed(db, kind.as_str(), &hash).await? {
        return posted(db, &entry_id).await;
    }
    let programme = programme_by_id(db, &tx.programme_id).await?;
    let rules = rules(&programme)?;
    let member_id = survivor_of(db, &tx.member_id).await?;
    if let Some(existing) = by_business_reference(db, &programme.id, kind, tx).await? {
        // A twin with this same key may have committed since we looked.
        if let Some(entry_id) = key.replayed(db, kind.as_str(), &hash).await? {
            return posted(db, &entry_id).await;
        }
        return Err(Error::conflict(format!(
            "{} {} from {} was already recorded as entry {}",
            kind.as_str(),
            tx.external_txn_id,
            tx.source_system,
            existing.id
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
    key.remember(&txn, kind.as_str(), &hash, &written.id, now)
        .await?;
    txn.commit().await?;
    Ok(Posted {
        entry: written,
        account,
    })
}

async fn by_business_reference(
    db: &DatabaseConnection,
    programme_id: &str,
    kind: EntryKind,
    tx: &PartnerTransaction,
) -> Result<Option<entry::Model>> {
    Ok(entry::Entity::find()
        .filter(entry::Column::ProgrammeId.eq(programme_id))
        .filter(entry::Column::Kind.eq(kind.as_str()))
        .filter(entry::Column::SourceSystem.eq(tx.source_system.as_str()))
        .filter(entry::Column::ExternalTxnId.eq(tx.external_txn_id.as_str()))
        .one(db)
        .await?)
}

async fn posted(db: &DatabaseConnection, entry_id: &str) -> Result<Posted> {
    let entry = entry_by_id(db, entry_id).await?;
    let account = account_by_id(db, &entry.account_id).await?;
    Ok(Posted { entry, account })
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
    if points == 0 {
        return Err(Error::invalid(
            "points",
            "an adjustment must change the balance",
        ));
    }
    let hash = super::sha256_hex(&["ADJUSTMENT", account_id, &points.to_string(), &reason]);
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
        txn.commit().await?;
        Ok(Posted {
            entry: written,
            account,
        })
    })
    .await
}

/// How many lots a job handles per pass.
const JOB_BATCH: u64 = 500;

/// Activates every PENDING lot whose window has passed; returns how many.
/// Each account is its own transaction, so a crash loses nothing and a
/// rerun activates nothing twice (it re-reads the lot's state under lock).
pub async fn activate_due(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize> {
    let now = to_micros(now);
    let actor = Actor::system("points-activation");
    let mut done = 0;
    loop {
        let due = lot::Entity::find()
            .filter(lot::Column::State.eq(LotState::Pending.as_str()))
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
                .filter(lot::Column::State.eq(LotState::Pending.as_str()))
                .filter(lot::Column::ActivatesAt.lte(now))
                .order_by_asc(lot::Column::ActivatesAt)
                .all(&txn)
                .await?;
            for pending in lots {
                activate_lot(&txn, &mut account, &rules, pending, &actor, now).await?;
                done += 1;
            }
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
            .filter(lot::Column::State.eq(LotState::Active.as_str()))
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
                .filter(lot::Column::State.eq(LotState::Active.as_str()))
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
            txn.commit().await?;
        }
    }
}

fn distinct_accounts(lots: &[lot::Model]) -> Vec<String> {
    let mut ids: Vec<String> = lots.iter().map(|l| l.account_id.clone()).collect();
    ids.sort();
    ids.dedup();
    ids
}

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
    }
    Ok(())
}

/// Two arrears lots become one, and spendable lots pay the debt, so the
/// survivor keeps the shape every account has.
async fn settle_after_merge(
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

// Reads.

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
        (a.state != LotState::Active.as_str())
            .cmp(&(b.state != LotState::Active.as_str()))
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
