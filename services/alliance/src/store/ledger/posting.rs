//! Posting: the primitives every ledger command is made of. Each writes
//! one immutable entry per effect and moves lots, with the account row
//! locked, so that the balances stay the sums of their lots and entries.

use chrono::{DateTime, Utc};
use kit::auth::Actor;
use kit::events::schema::PointsPosted;
use kit::scalar::checked_sum;
use kit::time::{from_micros, to_micros};
use sea_orm::sea_query::{Alias, Expr, Func, OnConflict, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect, Set,
};

use crate::domain::ledger::{Books, EntryKind, LotState, check_books, settle_arrears};
use crate::domain::lots::{Lot, consume};
use crate::domain::programme::ProgrammeRules;
use crate::domain::returns::{ReturnPolicy, plan_reversal};
use crate::error::{Error, Result};
use crate::store::entities::{account, entry, lot, lot_movement};
use crate::store::new_id;
use crate::store::programmes::{programme_by_id, rules};

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
    let balance_after = checked_sum("the active balance", account.active_balance, posting.points)?;
    let pending_after = checked_sum(
        "the pending balance",
        account.pending_balance,
        posting.pending_points,
    )?;
    if posting.kind == EntryKind::Earn {
        account.lifetime_earned = checked_sum(
            "the lifetime earned",
            account.lifetime_earned,
            posting.pending_points,
        )?;
    }
    let (source_system, external_txn_id) = posting.external.unzip();
    let written = entry::ActiveModel {
        id: Set(posting.id),
        account_id: Set(account.id.clone()),
        programme_id: Set(account.programme_id.clone()),
        seq: Set(account.next_seq),
        kind: Set(posting.kind),
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
    // Partners hear of every entry (webhooks): the event commits with it.
    let event = PointsPosted {
        entry_id: written.id.clone(),
        account_id: account.id.clone(),
        programme_id: account.programme_id.clone(),
        member_id: account.member_id.clone(),
        kind: stored_name(&written.kind),
        points: written.points,
        pending_points: written.pending_points,
        balance_after,
        pending_after,
        reference: written.reference.clone(),
        posted_at: from_micros(now),
    };
    kit::events::outbox::publish(txn, &event, from_micros(now)).await?;
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

/// A stored enum's name as stored (`EXCHANGE_OUT`).
fn stored_name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
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

pub(super) async fn record_movement(
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
pub(super) async fn shift_lot(
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
                .or(lot::Column::State.eq(LotState::Arrears)),
        );
    }
    if update.exec(txn).await?.rows_affected != 1 {
        return Err(Error::conflict(format!(
            "lot {lot_id} changed underneath; retry"
        )));
    }
    record_movement(txn, entry_id, lot_id, delta).await
}

pub(super) async fn lots_in(
    txn: &DatabaseTransaction,
    account_id: &str,
    state: LotState,
) -> Result<Vec<lot::Model>> {
    Ok(lot::Entity::find()
        .filter(lot::Column::AccountId.eq(account_id))
        .filter(lot::Column::State.eq(state))
        .all(txn)
        .await?)
}

/// The ACTIVE lots that still hold points, as the domain sees them. Spent
/// and expired lots stay in the table for the record but are not read here:
/// a debit costs what the account holds, not its history.
pub(super) async fn spendable_lots(
    txn: &DatabaseTransaction,
    account_id: &str,
) -> Result<Vec<Lot>> {
    Ok(lot::Entity::find()
        .filter(lot::Column::AccountId.eq(account_id))
        .filter(lot::Column::State.eq(LotState::Active))
        .filter(lot::Column::Remaining.gt(0))
        .all(txn)
        .await?
        .iter()
        .map(as_domain)
        .collect())
}

pub(super) fn as_domain(l: &lot::Model) -> Lot {
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
        state: Set(LotState::Active),
        original: Set(amount),
        remaining: Set(kept),
        activates_at: Set(None),
        expires_at: Set(expires_at.map(to_micros)),
        created_at: Set(now),
        created_by_entry_id: Set(written.id.clone()),
        expiry_warned_at: Set(None),
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
        state: Set(LotState::Pending),
        original: Set(points),
        remaining: Set(points),
        activates_at: Set(activates_at.map(to_micros)),
        expires_at: Set(None),
        created_at: Set(now),
        created_by_entry_id: Set(written.id.clone()),
        expiry_warned_at: Set(None),
    }
    .insert(txn)
    .await?;
    record_movement(txn, &written.id, &pending.id, points).await?;
    let pending = match activates_at {
        Some(at) if at <= earned_at => {
            activate_lot(
                txn,
                account,
                rules,
                pending,
                "earned with no pending window",
                actor,
                now,
            )
            .await?
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
    if pending.state != LotState::Pending || pending.activates_at.is_some() {
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
        activate_lot(
            txn,
            &mut account,
            &rules,
            pending,
            "the order was handed over",
            actor,
            now,
        )
        .await?;
    }
    verify_books(txn, &account.id).await
}

/// Turns a PENDING lot ACTIVE (an ACTIVATE entry), with the programme's
/// expiry counted from its due activation time; pays arrears first.
/// `reason` is the entry's (why now).
pub(super) async fn activate_lot(
    txn: &DatabaseTransaction,
    account: &mut account::Model,
    rules: &ProgrammeRules,
    pending: lot::Model,
    reason: &str,
    actor: &Actor,
    now: i64,
) -> Result<lot::Model> {
    let due = pending.activates_at.unwrap_or(now);
    let expires_at = rules.expires_at(from_micros(due)).map(to_micros);
    let points = pending.remaining;
    let mut row: lot::ActiveModel = pending.clone().into();
    row.state = Set(LotState::Active);
    row.expires_at = Set(expires_at);
    let mut activated = row.update(txn).await?;
    if points == 0 {
        // Fully reversed while pending: nothing to activate.
        return Ok(activated);
    }
    let mut posting = Posting::new(EntryKind::Activate, format!("lot:{}", activated.id), reason);
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
        .filter(|l| l.state == LotState::Pending)
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
                    state: Set(LotState::Arrears),
                    original: Set(0),
                    remaining: Set(0),
                    activates_at: Set(None),
                    expires_at: Set(None),
                    created_at: Set(now),
                    created_by_entry_id: Set(written.id.clone()),
                    expiry_warned_at: Set(None),
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

/// Reads an account's books back and checks the ledger's invariants
/// ([`check_books`]): every ledger command calls it for each account it
/// touched, in its own transaction, before committing. A break is logged
/// (the account and what broke; no personal data) and returned, so the
/// transaction rolls back and nothing of the command is written.
pub(crate) async fn verify_books(txn: &DatabaseTransaction, account_id: &str) -> Result<()> {
    #[derive(FromQueryResult)]
    struct EntrySums {
        points: Option<i64>,
        pending: Option<i64>,
        entries: i64,
        min_seq: Option<i64>,
        max_seq: Option<i64>,
    }
    #[derive(FromQueryResult)]
    struct LotSum {
        state: LotState,
        remaining: Option<i64>,
    }
    // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back.
    let sum = |col: entry::Column| {
        SimpleExpr::from(Func::cast_as(
            Func::sum(Expr::col(col)),
            Alias::new("BIGINT"),
        ))
    };
    let account = account::Entity::find_by_id(account_id.to_owned())
        .one(txn)
        .await?
        .ok_or_else(|| Error::InvariantBroken(format!("account {account_id} vanished")))?;
    let entries = entry::Entity::find()
        .select_only()
        .column_as(sum(entry::Column::Points), "points")
        .column_as(sum(entry::Column::PendingPoints), "pending")
        .column_as(Expr::col(entry::Column::Id).count(), "entries")
        .column_as(Expr::col(entry::Column::Seq).min(), "min_seq")
        .column_as(Expr::col(entry::Column::Seq).max(), "max_seq")
        .filter(entry::Column::AccountId.eq(account_id))
        .into_model::<EntrySums>()
        .one(txn)
        .await?
        .ok_or_else(|| Error::InvariantBroken("no entry sums".into()))?;
    let lots = lot::Entity::find()
        .select_only()
        .column(lot::Column::State)
        .column_as(
            SimpleExpr::from(Func::cast_as(
                Func::sum(Expr::col(lot::Column::Remaining)),
                Alias::new("BIGINT"),
            )),
            "remaining",
        )
        .filter(lot::Column::AccountId.eq(account_id))
        .group_by(lot::Column::State)
        .into_model::<LotSum>()
        .all(txn)
        .await?;
    let in_state = |states: &[LotState]| -> i64 {
        lots.iter()
            .filter(|l| states.contains(&l.state))
            .filter_map(|l| l.remaining)
            .sum()
    };
    let books = Books {
        active_balance: account.active_balance,
        pending_balance: account.pending_balance,
        next_seq: account.next_seq,
        entry_points: entries.points.unwrap_or(0),
        entry_pending_points: entries.pending.unwrap_or(0),
        entries: entries.entries,
        min_seq: entries.min_seq.unwrap_or(0),
        max_seq: entries.max_seq.unwrap_or(0),
        active_lots: in_state(&[LotState::Active, LotState::Arrears]),
        pending_lots: in_state(&[LotState::Pending]),
    };
    check_books(&books).map_err(|broken| {
        tracing::error!(account_id, broken = %broken, "ledger invariant broken; the command is rolled back");
        Error::InvariantBroken(format!("account {account_id}: {broken}"))
    })
}
