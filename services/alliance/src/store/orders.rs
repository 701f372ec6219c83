//! Orders earn points: the product service's order events, applied inside
//! the consumer's transaction (so each exactly once), with the business key
//! of every entry as a second guard.

use std::collections::BTreeMap;

use kit::auth::Actor;
use kit::events::schema::{OrderCancelled, OrderFulfilled, OrderPlaced, OrderRefunded};
use kit::members::MemberDirectory;
use kit::time::to_micros;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set,
};

use super::campaigns;
use super::entities::{applied_refund, lot, order_earn, order_earn_line, programme};
use super::ledger::{
    PendingUntil, Posting, ReversalRequest, earn_pending, ensure_account, lock_account,
    release_on_hand_over, reverse_earning, verify_books,
};
use super::programmes::{programme_of_brand, rules};
use super::survivor_of;
use crate::domain::campaigns::{
    Earning, Occasion, Purchase, PurchaseLine, Recipient, Reward, earn,
};
use crate::domain::ledger::EntryKind;
use crate::domain::programme::ProgrammeRules;
use crate::domain::returns::{ReversalCause, reversal_due, reversal_policy};
use crate::error::Result;

/// Earns PENDING points per brand of the order that runs a programme. They
/// stay PENDING, whatever the programme's window, until the order is
/// handed over ([`on_order_fulfilled`]): before that it can be cancelled
/// and its payment voided, so nothing is earned yet.
///
/// `members` answers birthday months, asked only while a BIRTHDAY_MONTH
/// campaign runs, and segment membership, asked only for the segments
/// running campaigns are limited to (`None`, or no member service
/// connected: no birthday is known and the member is in no segment). When it does not answer the event waits (SUBGRAPH_UNAVAILABLE,
/// which the consumer retries), so no bonus is lost to an outage.
pub async fn on_order_placed(
    txn: &DatabaseTransaction,
    placed: &OrderPlaced,
    members: Option<&MemberDirectory>,
    actor: &Actor,
) -> Result<()> {
    let Some(member_id) = &placed.member_id else {
        return Ok(());
    };
    let member_id = survivor_of(txn, member_id).await?;
    let mut by_brand: BTreeMap<&str, Vec<&kit::events::schema::OrderLine>> = BTreeMap::new();
    for line in &placed.lines {
        by_brand
            .entry(line.brand_id.as_str())
            .or_default()
            .push(line);
    }
    let placed_at = to_micros(placed.placed_at);
    for (brand_id, lines) in by_brand {
        // Orders are live: a sandbox programme never earns from one.
        let Some(programme) = programme_of_brand(txn, brand_id)
            .await?
            .filter(|p| p.environment == kit::auth::Environment::Live)
        else {
            continue;
        };
        let rules = rules(&programme)?;
        let paid: i64 = lines.iter().map(|l| l.amount_fen).sum();
        let earning =
            campaign_earning(txn, placed, &lines, &member_id, &programme, &rules, members).await?;
        let points = earning.member_points();
        let inserted = order_earn::Entity::insert(order_earn::ActiveModel {
            order_id: Set(placed.order_id.clone()),
            programme_id: Set(programme.id.clone()),
            member_id: Set(member_id.clone()),
            paid_fen: Set(paid),
            points: Set(points),
            refunded_fen: Set(0),
            reversed_points: Set(0),
            entry_id: Set(None),
            lot_id: Set(None),
            placed_at: Set(placed_at),
            cancelled: Set(false),
        })
        .on_conflict(
            OnConflict::columns([order_earn::Column::OrderId, order_earn::Column::ProgrammeId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
        if inserted == 0 {
            continue; // already earned: a replayed event changes nothing
        }
        for line in &lines {
            order_earn_line::ActiveModel {
                line_id: Set(line.line_id.clone()),
                order_id: Set(placed.order_id.clone()),
                programme_id: Set(programme.id.clone()),
                amount_fen: Set(line.amount_fen),
            }
            .insert(txn)
            .await?;
        }
        if points == 0 {
            continue;
        }
        let account_id = ensure_account(txn, &member_id, &programme.id, placed_at).await?;
        let mut account = lock_account(txn, &account_id).await?;
        let mut posting = Posting::new(
            EntryKind::Earn,
            format!("order:{}", placed.order_id),
            format!("order of {paid} fen at {brand_id}"),
        );
        posting.external = Some(("order".to_owned(), placed.order_id.clone()));
        let (entry, earned_lot) = earn_pending(
            txn,
            &mut account,
            &rules,
            posting,
            points,
            placed.placed_at,
            PendingUntil::HandOver,
            actor,
        )
        .await?;
        let mut row =
            order_earn::Entity::find_by_id((placed.order_id.clone(), programme.id.clone()))
                .one(txn)
                .await?
                .map(IntoActiveModel::into_active_model)
                .ok_or_else(|| crate::error::Error::conflict("order earning vanished"))?;
        campaigns::record_awards(txn, &entry.id, &earning.awards).await?;
        row.entry_id = Set(Some(entry.id));
        row.lot_id = Set(Some(earned_lot.id));
        row.update(txn).await?;
        verify_books(txn, &account.id).await?;
    }
    Ok(())
}

/// What one programme's lines of an order earn: the base rate on what was
/// paid, and the awards of the programme's campaigns running when it was
/// placed. A purchase is a member's first in the programme when they have
/// no other order there but cancelled ones: a cancelled order sold nothing
/// (and gave back every point), a refunded one was a sale, so refunding
/// the first order does not make the next one first.
async fn campaign_earning(
    txn: &DatabaseTransaction,
    placed: &OrderPlaced,
    lines: &[&kit::events::schema::OrderLine],
    member_id: &str,
    programme: &programme::Model,
    rules: &ProgrammeRules,
    members: Option<&MemberDirectory>,
) -> Result<Earning> {
    let running =
        campaigns::rules_for_member(txn, &programme.id, placed.placed_at, member_id, members)
            .await?;
    let birthday_month = match members {
        Some(members)
            if running
                .iter()
                .any(|r| matches!(r.reward, Reward::BirthdayMonth(_))) =>
        {
            members.birthday_month(member_id).await?
        }
        _ => None,
    };
    let earlier = order_earn::Entity::find()
        .filter(order_earn::Column::MemberId.eq(member_id))
        .filter(order_earn::Column::ProgrammeId.eq(programme.id.as_str()))
        .filter(order_earn::Column::OrderId.ne(placed.order_id.as_str()))
        .filter(order_earn::Column::Cancelled.eq(false))
        .one(txn)
        .await?;
    let purchase = Purchase {
        at: placed.placed_at,
        store_id: placed.store_id.clone(),
        lines: lines
            .iter()
            .map(|l| PurchaseLine {
                sku_id: l.sku_id.clone(),
                category_id: l.category_id.clone(),
                paid_fen: l.amount_fen,
            })
            .collect(),
        first_purchase: earlier.is_none(),
        birthday_month,
    };
    let mut earning = earn(
        &Occasion::Purchase(purchase),
        rules.earn_rate,
        &running,
        rules.time_zone,
    );
    // A purchase rewards its buyer only.
    earning.awards.retain(|a| a.recipient == Recipient::Member);
    Ok(earning)
}

/// The order was handed over: the sale is final, and each programme's
/// pending window starts now.
pub async fn on_order_fulfilled(
    txn: &DatabaseTransaction,
    fulfilled: &OrderFulfilled,
    actor: &Actor,
) -> Result<()> {
    for earn in earns_of(txn, &fulfilled.order_id).await? {
        if let Some(lot_id) = &earn.lot_id {
            release_on_hand_over(txn, lot_id, fulfilled.fulfilled_at, actor).await?;
        }
    }
    Ok(())
}

/// Reverses the points of refunded lines, in proportion to what each
/// programme's lines earned, as its return policy allows.
pub async fn on_order_refunded(
    txn: &DatabaseTransaction,
    refunded: &OrderRefunded,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    if !first_application(txn, &refunded.refund_id, &refunded.order_id, now).await? {
        return Ok(());
    }
    let earns = earns_of(txn, &refunded.order_id).await?;
    if earns.is_empty() {
        return Ok(());
    }
    let lines = order_earn_line::Entity::find()
        .filter(order_earn_line::Column::OrderId.eq(refunded.order_id.as_str()))
        .all(txn)
        .await?;
    let mut refunded_by_programme: BTreeMap<String, i64> = BTreeMap::new();
    for line in &refunded.lines {
        if let Some(known) = lines.iter().find(|l| l.line_id == line.line_id) {
            *refunded_by_programme
                .entry(known.programme_id.clone())
                .or_default() += line.amount_fen;
        }
    }
    for earn in earns {
        let this_refund = refunded_by_programme
            .get(&earn.programme_id)
            .copied()
            .unwrap_or(0);
        let refunded_total = if refunded.fully_refunded {
            earn.paid_fen
        } else {
            (earn.refunded_fen + this_refund).min(earn.paid_fen)
        };
        if refunded_total == earn.refunded_fen {
            continue;
        }
        let external = ("refund".to_owned(), refunded.refund_id.clone());
        let reason = format!(
            "refund {} of order {}",
            refunded.refund_id, refunded.order_id
        );
        reverse(
            txn,
            earn,
            refunded_total,
            ReversalCause::Refund,
            external,
            reason,
            actor,
            to_micros(refunded.refunded_at),
        )
        .await?;
    }
    Ok(())
}

/// A cancelled order sold nothing: everything it earned is reversed,
/// whatever the return policy (which is for refunds of paid orders).
pub async fn on_order_cancelled(
    txn: &DatabaseTransaction,
    cancelled: &OrderCancelled,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let marker = format!("cancel:{}", cancelled.order_id);
    if !first_application(txn, &marker, &cancelled.order_id, now).await? {
        return Ok(());
    }
    order_earn::Entity::update_many()
        .col_expr(
            order_earn::Column::Cancelled,
            sea_orm::sea_query::Expr::value(true),
        )
        .filter(order_earn::Column::OrderId.eq(cancelled.order_id.as_str()))
        .exec(txn)
        .await?;
    for earn in earns_of(txn, &cancelled.order_id).await? {
        let paid = earn.paid_fen;
        let external = ("cancel".to_owned(), cancelled.order_id.clone());
        let reason = format!("order {} cancelled", cancelled.order_id);
        reverse(
            txn,
            earn,
            paid,
            ReversalCause::Cancellation,
            external,
            reason,
            actor,
            to_micros(cancelled.cancelled_at),
        )
        .await?;
    }
    Ok(())
}

/// Records that a refund is being applied; false if it already was.
async fn first_application(
    txn: &DatabaseTransaction,
    refund_id: &str,
    order_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool> {
    let inserted = applied_refund::Entity::insert(applied_refund::ActiveModel {
        refund_id: Set(refund_id.to_owned()),
        order_id: Set(order_id.to_owned()),
        applied_at: Set(to_micros(now)),
    })
    .on_conflict(
        OnConflict::column(applied_refund::Column::RefundId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(inserted == 1)
}

#[allow(clippy::too_many_arguments)]
async fn reverse(
    txn: &DatabaseTransaction,
    earn: order_earn::Model,
    refunded_total: i64,
    cause: ReversalCause,
    external: (String, String),
    reason: String,
    actor: &Actor,
    now: i64,
) -> Result<()> {
    let due = reversal_due(
        earn.points,
        earn.paid_fen,
        refunded_total,
        earn.reversed_points,
    );
    let mut row = earn.clone().into_active_model();
    row.refunded_fen = Set(refunded_total);
    row.reversed_points = Set(earn.reversed_points + due);
    row.update(txn).await?;
    let (Some(entry_id), Some(lot_id)) = (&earn.entry_id, &earn.lot_id) else {
        return Ok(());
    };
    if due == 0 {
        return Ok(());
    }
    // The lot moves with a merge; the account holding it now is the one
    // the points come back from.
    let account_id = match lot::Entity::find_by_id(lot_id.clone()).one(txn).await? {
        Some(l) => l.account_id,
        None => {
            ensure_account(
                txn,
                &survivor_of(txn, &earn.member_id).await?,
                &earn.programme_id,
                now,
            )
            .await?
        }
    };
    let mut account = lock_account(txn, &account_id).await?;
    let programme = super::programmes::programme_by_id(txn, &earn.programme_id).await?;
    let policy = reversal_policy(cause, rules(&programme)?.return_policy);
    reverse_earning(
        txn,
        &mut account,
        ReversalRequest {
            earn_entry_id: entry_id,
            earn_lot_id: Some(lot_id),
            due,
            policy,
            reference: format!("order:{}", earn.order_id),
            external,
            reason,
        },
        actor,
        now,
    )
    .await?;
    verify_books(txn, &account.id).await
}

pub async fn earns_of<C: ConnectionTrait>(
    db: &C,
    order_id: &str,
) -> Result<Vec<order_earn::Model>> {
    Ok(order_earn::Entity::find()
        .filter(order_earn::Column::OrderId.eq(order_id))
        .order_by_asc(order_earn::Column::ProgrammeId)
        .all(db)
        .await?)
}
