//! Commissions: credited from order events to the guide a member is bound
//! to, pending through the after-sales window, then approved; reduced or
//! clawed back by refunds. Amounts follow `domain::commission`.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};

use super::entities::{commission, commission_adjustment, commission_rule};
use super::{guides, new_id, store_by_id};
use crate::domain::commission::{
    AdjustmentKind, BasisPoints, Commission, CommissionStatus, RefundEffect, StatementLine,
    apply_refund, commission_fen, statement,
};
use crate::domain::store::StoreKind;
use crate::error::Result;
use kit::events::schema::{OrderCancelled, OrderFulfilled, OrderPlaced, OrderRefunded};
use kit::time::to_micros;

const DAY_US: i64 = 86_400_000_000;

/// A brand's rate for guides of one kind of store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommissionRule {
    pub bp: BasisPoints,
    pub after_sales_days: u32,
}

pub async fn set_rule(
    db: &DatabaseConnection,
    brand_id: &str,
    kind: StoreKind,
    rule: CommissionRule,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let row = commission_rule::ActiveModel {
        brand_id: Set(brand_id.to_owned()),
        store_kind: Set(kind),
        basis_points: Set(rule.bp.get() as i32),
        after_sales_days: Set(rule.after_sales_days as i32),
        updated_at: Set(to_micros(now)),
    };
    commission_rule::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                commission_rule::Column::BrandId,
                commission_rule::Column::StoreKind,
            ])
            .update_columns([
                commission_rule::Column::BasisPoints,
                commission_rule::Column::AfterSalesDays,
                commission_rule::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

pub async fn rules_of_brand<C: ConnectionTrait>(
    db: &C,
    brand_id: &str,
) -> Result<Vec<commission_rule::Model>> {
    Ok(commission_rule::Entity::find()
        .filter(commission_rule::Column::BrandId.eq(brand_id))
        .all(db)
        .await?)
}

async fn rule_for<C: ConnectionTrait>(
    db: &C,
    brand_id: &str,
    kind: StoreKind,
) -> Result<Option<CommissionRule>> {
    let row = commission_rule::Entity::find_by_id((brand_id.to_owned(), kind))
        .one(db)
        .await?;
    Ok(row.and_then(|r| {
        Some(CommissionRule {
            bp: BasisPoints::parse(r.basis_points).ok()?,
            after_sales_days: r.after_sales_days.max(0) as u32,
        })
    }))
}

/// OrderPlaced: one PENDING commission per line whose brand pays guides of
/// `guide_id`'s store kind; `guide_id` is the guide the order is attributed
/// to ([`super::attribution::order_attribution`]). Orders of members bound to no
/// guide (or only to a store) credit nobody. Returns how many were created.
pub async fn on_order_placed(
    txn: &DatabaseTransaction,
    order: &OrderPlaced,
    guide_id: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize> {
    let (Some(member_id), Some(guide_id)) = (&order.member_id, guide_id) else {
        return Ok(0);
    };
    let Some(guide) = guides::guide_by_id(txn, guide_id).await? else {
        return Ok(0);
    };
    let Some(store) = store_by_id(txn, &guide.store_id).await? else {
        return Ok(0);
    };
    let earned_at = to_micros(order.placed_at);
    let mut created = 0;
    for line in &order.lines {
        let Some(rule) = rule_for(txn, &line.brand_id, store.kind).await? else {
            continue;
        };
        let exists = commission::Entity::find()
            .filter(commission::Column::OrderId.eq(order.order_id.as_str()))
            .filter(commission::Column::LineId.eq(line.line_id.as_str()))
            .one(txn)
            .await?;
        if exists.is_some() {
            continue;
        }
        commission::ActiveModel {
            id: Set(new_id()),
            guide_id: Set(guide.id.clone()),
            store_id: Set(store.id.clone()),
            member_id: Set(member_id.clone()),
            order_id: Set(order.order_id.clone()),
            line_id: Set(line.line_id.clone()),
            brand_id: Set(line.brand_id.clone()),
            basis_points: Set(rule.bp.get() as i32),
            base_fen: Set(line.amount_fen.max(0)),
            refunded_fen: Set(0),
            amount_fen: Set(commission_fen(line.amount_fen, rule.bp)),
            clawed_back_fen: Set(0),
            status: Set(CommissionStatus::Pending),
            after_sales_days: Set(rule.after_sales_days as i32),
            earned_at: Set(earned_at),
            window_closes_at: Set(None),
            approved_at: Set(None),
            updated_at: Set(to_micros(now)),
        }
        .insert(txn)
        .await?;
        created += 1;
    }
    Ok(created)
}

async fn of_order(txn: &DatabaseTransaction, order_id: &str) -> Result<Vec<commission::Model>> {
    Ok(commission::Entity::find()
        .filter(commission::Column::OrderId.eq(order_id))
        .all(txn)
        .await?)
}

/// OrderFulfilled: the after-sales window starts.
pub async fn on_order_fulfilled(
    txn: &DatabaseTransaction,
    event: &OrderFulfilled,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let at = to_micros(event.fulfilled_at);
    for row in of_order(txn, &event.order_id).await? {
        if row.status == CommissionStatus::Pending && row.window_closes_at.is_none() {
            let closes = at + i64::from(row.after_sales_days) * DAY_US;
            let mut row = row.into_active_model();
            row.window_closes_at = Set(Some(closes));
            row.updated_at = Set(to_micros(now));
            row.update(txn).await?;
        }
    }
    Ok(())
}

/// OrderCancelled: nothing was sold, so nothing is owed.
pub async fn on_order_cancelled(
    txn: &DatabaseTransaction,
    event: &OrderCancelled,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    for row in of_order(txn, &event.order_id).await? {
        let remaining = row.base_fen - row.refunded_fen;
        refund_line(txn, row, remaining, &event.order_id, true, now).await?;
    }
    Ok(())
}

/// OrderRefunded: each refunded line reduces or claws back its commission.
pub async fn on_order_refunded(
    txn: &DatabaseTransaction,
    event: &OrderRefunded,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let rows = of_order(txn, &event.order_id).await?;
    for refunded in &event.lines {
        if let Some(row) = rows.iter().find(|r| r.line_id == refunded.line_id) {
            refund_line(
                txn,
                row.clone(),
                refunded.amount_fen,
                &event.refund_id,
                false,
                now,
            )
            .await?;
        }
    }
    Ok(())
}

/// Applies one refund (or a cancellation) to one commission, once: the
/// adjustment row it leaves, even of 0 fen, marks the reference as applied.
async fn refund_line(
    txn: &DatabaseTransaction,
    row: commission::Model,
    refund_fen: i64,
    reference: &str,
    cancel: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let applied = commission_adjustment::Entity::find()
        .filter(commission_adjustment::Column::CommissionId.eq(row.id.as_str()))
        .filter(commission_adjustment::Column::Reference.eq(reference))
        .one(txn)
        .await?;
    if applied.is_some() {
        return Ok(());
    }
    let status = row.status;
    let state = Commission {
        base_fen: row.base_fen,
        refunded_fen: row.refunded_fen,
        bp: BasisPoints::parse(row.basis_points)?,
        status,
        amount_fen: row.amount_fen,
        clawed_back_fen: row.clawed_back_fen,
    };
    let (refunded, effect) = apply_refund(&state, refund_fen);
    let (guide_id, store_id, commission_id) =
        (row.guide_id.clone(), row.store_id.clone(), row.id.clone());
    let mut update = row.into_active_model();
    update.refunded_fen = Set(refunded);
    update.updated_at = Set(to_micros(now));
    let reduced = if cancel {
        AdjustmentKind::Cancelled
    } else {
        AdjustmentKind::Reduced
    };
    let (kind, amount_fen) = match effect {
        RefundEffect::Reduced { amount_fen, by_fen } => {
            update.amount_fen = Set(amount_fen);
            (reduced, -by_fen)
        }
        RefundEffect::ClawedBack { fen } => {
            update.clawed_back_fen = Set(state.clawed_back_fen + fen);
            (AdjustmentKind::Clawback, -fen)
        }
        RefundEffect::Unchanged => (reduced, 0),
    };
    if cancel && status == CommissionStatus::Pending {
        update.status = Set(CommissionStatus::Cancelled);
    }
    update.update(txn).await?;
    commission_adjustment::ActiveModel {
        id: Set(new_id()),
        commission_id: Set(commission_id),
        guide_id: Set(guide_id),
        store_id: Set(store_id),
        kind: Set(kind),
        amount_fen: Set(amount_fen),
        reference: Set(reference.to_owned()),
        created_at: Set(to_micros(now)),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Approves every pending commission whose window has closed by `now`, in
/// one statement. Returns how many.
pub async fn approve_due<C: ConnectionTrait>(db: &C, now: i64) -> Result<u64> {
    let done = commission::Entity::update_many()
        .col_expr(
            commission::Column::Status,
            CommissionStatus::Approved.into(),
        )
        .col_expr(commission::Column::ApprovedAt, Some(now).into())
        .col_expr(commission::Column::UpdatedAt, now.into())
        .filter(commission::Column::Status.eq(CommissionStatus::Pending))
        .filter(commission::Column::WindowClosesAt.lte(now))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// A half-open period [from, to) in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub from: i64,
    pub to: i64,
}

pub async fn commissions_of_guide<C: ConnectionTrait>(
    db: &C,
    guide_id: &str,
    period: Period,
    status: Option<CommissionStatus>,
) -> Result<Vec<commission::Model>> {
    let mut query = commission::Entity::find()
        .filter(commission::Column::GuideId.eq(guide_id))
        .filter(commission::Column::EarnedAt.gte(period.from))
        .filter(commission::Column::EarnedAt.lt(period.to));
    if let Some(status) = status {
        query = query.filter(commission::Column::Status.eq(status));
    }
    Ok(query
        .order_by_asc(commission::Column::EarnedAt)
        .order_by_asc(commission::Column::Id)
        .all(db)
        .await?)
}

pub async fn clawbacks<C: ConnectionTrait>(
    db: &C,
    column: commission_adjustment::Column,
    id: &str,
    period: Period,
) -> Result<Vec<commission_adjustment::Model>> {
    Ok(commission_adjustment::Entity::find()
        .filter(column.eq(id))
        .filter(commission_adjustment::Column::Kind.eq(AdjustmentKind::Clawback))
        .filter(commission_adjustment::Column::CreatedAt.gte(period.from))
        .filter(commission_adjustment::Column::CreatedAt.lt(period.to))
        .order_by_asc(commission_adjustment::Column::CreatedAt)
        .all(db)
        .await?)
}

/// A store's statement: per guide, commissions earned and clawbacks made in
/// the period.
pub async fn store_statement<C: ConnectionTrait>(
    db: &C,
    store_id: &str,
    period: Period,
) -> Result<Vec<StatementLine>> {
    let rows = commission::Entity::find()
        .filter(commission::Column::StoreId.eq(store_id))
        .filter(commission::Column::EarnedAt.gte(period.from))
        .filter(commission::Column::EarnedAt.lt(period.to))
        .all(db)
        .await?;
    let earned: Vec<(String, CommissionStatus, i64)> = rows
        .into_iter()
        .map(|r| (r.guide_id, r.status, r.amount_fen))
        .collect();
    let clawed: Vec<(String, i64)> =
        clawbacks(db, commission_adjustment::Column::StoreId, store_id, period)
            .await?
            .into_iter()
            .map(|a| (a.guide_id, -a.amount_fen))
            .collect();
    Ok(statement(&earned, &clawed))
}
