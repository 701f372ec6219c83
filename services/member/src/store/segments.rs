//! Segments as stored, their members listed by one indexed query, and the
//! facts they read that other services own: purchases (from the product
//! service's order feed) and points balances (from the alliance's feed),
//! kept up to date by those feeds' consumers.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use kit::auth::{Actor, Environment};
use kit::channel::Channel;
use kit::events::schema::{
    BindingChanged, OrderCancelled, OrderPlaced, OrderRefunded, PointsPosted,
};
use kit::idempotency::{IdempotencyKey, retry_once_on_race};
use kit::paging::PageRequest;
use kit::time::to_micros;
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::entities::{
    identity, member, member_binding, member_points, member_purchase, segment, tag,
};
use crate::domain::MemberStatus;
use crate::domain::segment::{PointsRule, SegmentRules, SpendRule, since};
use crate::domain::tag::Tag;
use crate::error::{Error, Result};

/// A segment's rules as stored (JSON in `segments.rules`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredRules {
    tiers: Vec<String>,
    tags: Vec<String>,
    channels: Vec<Channel>,
    purchased_within_days: Option<i64>,
    not_purchased_within_days: Option<i64>,
    min_spend: Option<(i64, i64)>,
    min_points: Option<(String, i64)>,
    #[serde(default)]
    bound_store_ids: Vec<String>,
}

impl From<&SegmentRules> for StoredRules {
    fn from(r: &SegmentRules) -> Self {
        Self {
            tiers: r.tiers.iter().cloned().collect(),
            tags: r.tags.iter().map(|t| t.as_str().to_owned()).collect(),
            channels: r.channels.iter().copied().collect(),
            purchased_within_days: r.purchased_within_days,
            not_purchased_within_days: r.not_purchased_within_days,
            min_spend: r.min_spend.map(|s| (s.fen, s.days)),
            min_points: r
                .min_points
                .as_ref()
                .map(|p| (p.programme_id.clone(), p.points)),
            bound_store_ids: r.bound_stores.iter().cloned().collect(),
        }
    }
}

/// A stored segment's rules (INTERNAL_SERVER_ERROR if unreadable).
pub fn rules_of(row: &segment::Model) -> Result<SegmentRules> {
    let stored: StoredRules = serde_json::from_str(&row.rules)
        .map_err(|_| Error::corrupt(format_args!("segment {} rules", row.id)))?;
    let tags = stored
        .tags
        .iter()
        .map(|t| Tag::parse(t))
        .collect::<Result<BTreeSet<_>>>()
        .map_err(|_| Error::corrupt(format_args!("segment {} tags", row.id)))?;
    Ok(SegmentRules {
        tiers: stored.tiers.into_iter().collect(),
        tags,
        channels: stored.channels.into_iter().collect(),
        purchased_within_days: stored.purchased_within_days,
        not_purchased_within_days: stored.not_purchased_within_days,
        min_spend: stored.min_spend.map(|(fen, days)| SpendRule { fen, days }),
        min_points: stored.min_points.map(|(programme_id, points)| PointsRule {
            programme_id,
            points,
        }),
        bound_stores: stored.bound_store_ids.into_iter().collect(),
    })
}

const CREATE_SEGMENT: &str = "CREATE_SEGMENT";

/// Defines a segment; a retry with the same key and definition answers the
/// same one.
pub async fn create(
    db: &DatabaseConnection,
    name: &str,
    rules: &SegmentRules,
    key: &IdempotencyKey,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<segment::Model> {
    let stored = serde_json::to_string(&StoredRules::from(rules)).map_err(Error::corrupt)?;
    let hash = kit::digest::sha256_hex(&[CREATE_SEGMENT, name, &stored]);
    retry_once_on_race(|| async {
        if let Some(id) = key.replayed(db, CREATE_SEGMENT, &hash).await? {
            return segment_by_id(db, &id).await;
        }
        let at = to_micros(now);
        let txn = db.begin().await?;
        let row = segment::ActiveModel {
            id: Set(super::new_id()),
            name: Set(name.to_owned()),
            rules: Set(stored.clone()),
            created_at: Set(at),
            created_by: Set(actor.as_str().to_owned()),
        }
        .insert(&txn)
        .await?;
        key.remember(&txn, CREATE_SEGMENT, &hash, &row.id, at)
            .await?;
        txn.commit().await?;
        Ok(row)
    })
    .await
}

pub async fn segment_by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<segment::Model> {
    segment::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no segment {id}")))
}

/// Segments, oldest first; the cursor is the segment's id.
pub async fn segments_page<C: ConnectionTrait>(
    db: &C,
    page: &PageRequest,
) -> Result<(Vec<segment::Model>, bool)> {
    let mut q = segment::Entity::find()
        .order_by_asc(segment::Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        q = q.filter(segment::Column::Id.gt(after.as_str()));
    }
    Ok(kit::paging::split_page(q.all(db).await?, page))
}

/// The condition a member row meets when the member is in the segment at
/// `now`: active live members only, each rule an indexed lookup by member
/// (tags by (member, tag), identities by member, purchases by (member,
/// placed at), points by (member, programme)).
fn in_segment(rules: &SegmentRules, now: DateTime<Utc>) -> SimpleExpr {
    let mut cond = member::Column::Status
        .eq(MemberStatus::Active)
        .and(member::Column::Environment.eq(Environment::Live));
    let of_member = |col: SimpleExpr| col.equals((member::Entity, member::Column::Id));
    if !rules.tiers.is_empty() {
        cond = cond.and(member::Column::Tier.is_in(rules.tiers.iter().cloned()));
    }
    for t in &rules.tags {
        cond = cond.and(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(tag::Entity)
                .and_where(of_member(
                    Expr::col((tag::Entity, tag::Column::MemberId)).into(),
                ))
                .and_where(Expr::col((tag::Entity, tag::Column::Tag)).eq(t.as_str()))
                .to_owned(),
        ));
    }
    if !rules.channels.is_empty() {
        cond = cond.and(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(identity::Entity)
                .and_where(of_member(
                    Expr::col((identity::Entity, identity::Column::MemberId)).into(),
                ))
                .and_where(
                    Expr::col((identity::Entity, identity::Column::Channel))
                        .is_in(rules.channels.iter().copied()),
                )
                .to_owned(),
        ));
    }
    let purchases_since = |days: i64| {
        Query::select()
            .from(member_purchase::Entity)
            .and_where(of_member(
                Expr::col((member_purchase::Entity, member_purchase::Column::MemberId)).into(),
            ))
            .and_where(
                Expr::col((member_purchase::Entity, member_purchase::Column::PlacedAt))
                    .gte(to_micros(since(now, days))),
            )
            .and_where(
                Expr::col((member_purchase::Entity, member_purchase::Column::PlacedAt))
                    .lte(to_micros(now)),
            )
            .and_where(
                Expr::col((member_purchase::Entity, member_purchase::Column::Cancelled)).eq(false),
            )
            .to_owned()
    };
    if let Some(days) = rules.purchased_within_days {
        cond = cond.and(Expr::exists(
            purchases_since(days).expr(Expr::val(1)).to_owned(),
        ));
    }
    if let Some(days) = rules.not_purchased_within_days {
        cond = cond.and(Expr::exists(purchases_since(days).expr(Expr::val(1)).to_owned()).not());
    }
    if let Some(spend) = rules.min_spend {
        let total = purchases_since(spend.days)
            .expr(Func::coalesce([
                Func::sum(Expr::col((
                    member_purchase::Entity,
                    member_purchase::Column::PaidFen,
                )))
                .into(),
                Expr::val(0i64).into(),
            ]))
            .to_owned();
        cond = cond.and(
            Expr::expr(SimpleExpr::SubQuery(
                None,
                Box::new(total.into_sub_query_statement()),
            ))
            .gte(spend.fen),
        );
    }
    if let Some(points) = &rules.min_points {
        cond = cond.and(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(member_points::Entity)
                .and_where(of_member(
                    Expr::col((member_points::Entity, member_points::Column::MemberId)).into(),
                ))
                .and_where(
                    Expr::col((member_points::Entity, member_points::Column::ProgrammeId))
                        .eq(points.programme_id.as_str()),
                )
                .and_where(
                    Expr::col((member_points::Entity, member_points::Column::ActiveBalance))
                        .gte(points.points),
                )
                .to_owned(),
        ));
    }
    if !rules.bound_stores.is_empty() {
        let lapses_at = Expr::col((member_binding::Entity, member_binding::Column::ExpiresAt));
        cond = cond.and(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(member_binding::Entity)
                .and_where(of_member(
                    Expr::col((member_binding::Entity, member_binding::Column::MemberId)).into(),
                ))
                .and_where(
                    Expr::col((member_binding::Entity, member_binding::Column::StoreId))
                        .is_in(rules.bound_stores.iter().cloned()),
                )
                .and_where(lapses_at.clone().is_null().or(lapses_at.gt(to_micros(now))))
                .to_owned(),
        ));
    }
    cond
}

/// Keeps the store a member is bound to (from the store service's feed):
/// the binding as it is now, or none once released.
pub async fn binding_changed(txn: &DatabaseTransaction, changed: &BindingChanged) -> Result<()> {
    match &changed.store_id {
        Some(store_id) => {
            member_binding::Entity::insert(member_binding::ActiveModel {
                member_id: Set(changed.member_id.clone()),
                store_id: Set(store_id.clone()),
                expires_at: Set(changed.expires_at.map(to_micros)),
                changed_at: Set(to_micros(changed.changed_at)),
            })
            .on_conflict(
                OnConflict::column(member_binding::Column::MemberId)
                    .update_columns([
                        member_binding::Column::StoreId,
                        member_binding::Column::ExpiresAt,
                        member_binding::Column::ChangedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
        }
        None => {
            member_binding::Entity::delete_by_id(changed.member_id.clone())
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

/// The segment's members at `now`, by id (oldest first); the cursor is the
/// member's id.
pub async fn members_page<C: ConnectionTrait>(
    db: &C,
    rules: &SegmentRules,
    page: &PageRequest,
    now: DateTime<Utc>,
) -> Result<(Vec<member::Model>, bool)> {
    let mut q = member::Entity::find()
        .filter(in_segment(rules, now))
        .order_by_asc(member::Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        q = q.filter(member::Column::Id.gt(after.as_str()));
    }
    Ok(kit::paging::split_page(q.all(db).await?, page))
}

/// Whether `member_id` is in the segment at `now`.
pub async fn contains<C: ConnectionTrait>(
    db: &C,
    rules: &SegmentRules,
    member_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(member::Entity::find()
        .filter(member::Column::Id.eq(member_id))
        .filter(in_segment(rules, now))
        .one(db)
        .await?
        .is_some())
}

/// An order placed for a member: a purchase (once per order).
pub async fn order_placed(txn: &DatabaseTransaction, placed: &OrderPlaced) -> Result<()> {
    let Some(member_id) = &placed.member_id else {
        return Ok(());
    };
    // Under the member it names now (a merged id's survivor).
    let survivor = super::standing(txn, member_id)
        .await?
        .map_or_else(|| member_id.clone(), |s| s.member_id);
    member_purchase::Entity::insert(member_purchase::ActiveModel {
        order_id: Set(placed.order_id.clone()),
        member_id: Set(survivor),
        paid_fen: Set(placed.total_fen),
        placed_at: Set(to_micros(placed.placed_at)),
        cancelled: Set(false),
    })
    .on_conflict(
        OnConflict::column(member_purchase::Column::OrderId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// A cancelled order was no purchase.
pub async fn order_cancelled(txn: &DatabaseTransaction, cancelled: &OrderCancelled) -> Result<()> {
    member_purchase::Entity::update_many()
        .col_expr(member_purchase::Column::Cancelled, Expr::value(true))
        .filter(member_purchase::Column::OrderId.eq(cancelled.order_id.as_str()))
        .exec(txn)
        .await?;
    Ok(())
}

/// A refund lowers what the order paid, once per refund (the consumer
/// applies each event once).
pub async fn order_refunded(txn: &DatabaseTransaction, refunded: &OrderRefunded) -> Result<()> {
    member_purchase::Entity::update_many()
        .col_expr(
            member_purchase::Column::PaidFen,
            Expr::col(member_purchase::Column::PaidFen).sub(refunded.amount_fen),
        )
        .filter(member_purchase::Column::OrderId.eq(refunded.order_id.as_str()))
        .exec(txn)
        .await?;
    Ok(())
}

/// A ledger entry's balance after it is the account's balance now (the
/// feed is in order).
pub async fn points_posted(txn: &DatabaseTransaction, posted: &PointsPosted) -> Result<()> {
    member_points::Entity::insert(member_points::ActiveModel {
        member_id: Set(posted.member_id.clone()),
        programme_id: Set(posted.programme_id.clone()),
        active_balance: Set(posted.balance_after),
        updated_at: Set(to_micros(posted.posted_at)),
    })
    .on_conflict(
        OnConflict::columns([
            member_points::Column::MemberId,
            member_points::Column::ProgrammeId,
        ])
        .update_columns([
            member_points::Column::ActiveBalance,
            member_points::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// A merged member's purchases are the survivor's (their points balances
/// follow from the alliance's merge entries).
pub async fn merge_member(
    txn: &DatabaseTransaction,
    survivor_id: &str,
    merged_id: &str,
) -> Result<()> {
    member_purchase::Entity::update_many()
        .col_expr(member_purchase::Column::MemberId, Expr::value(survivor_id))
        .filter(member_purchase::Column::MemberId.eq(merged_id))
        .exec(txn)
        .await?;
    Ok(())
}
