//! Orders: placed with every line reserved atomically, or not at all;
//! fulfilled, cancelled, refunded; each step with its event, in one
//! transaction.

use sea_orm::ActiveEnum as _;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::catalogue::skus_by_ids;
use super::entities::{order, order_line, refund};
use super::inventory::{
    Movement, MovementKind, holders, location_by_id, record, settle, try_reserve,
};
use super::new_id;
use crate::domain::catalogue::SkuStatus;
use crate::domain::order::{
    Fulfilment, OrderAction, OrderStatus, SoldLine, check_transition, refund_amount,
    status_after_refund,
};
use crate::domain::sourcing::{Holder, LocationKind, try_order};
use crate::error::{Error, Result};
use kit::auth::Actor;
use kit::channel::Channel;
use kit::events::outbox::publish;
use kit::events::schema::{
    OrderCancelled, OrderFulfilled, OrderLine, OrderPlaced, OrderRefunded, RefundedLine,
};
use kit::geo::{Coordinates, distance_m};
use kit::idempotency::{IdempotencyKey, request_hash, retry_once_on_race};
use kit::paging::{PageRequest, split_page};
use kit::time::to_micros;

/// How long a pickup order waits to be collected.
pub const PICKUP_HOLD: chrono::Duration = chrono::Duration::hours(72);

/// An order, parsed: lines sorted by SKU id, each SKU once.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// The member it is for: the survivor of a merge once
    /// [`NewOrder::act_for`] resolved it.
    pub member_id: Option<String>,
    /// The member id as the request named it, when a merge's survivor
    /// replaced it: a retry is recognised by what it sent.
    pub requested_member_id: Option<String>,
    pub channel: Channel,
    pub store_id: Option<String>,
    pub fulfilment: Fulfilment,
    pub ship_to: Option<Coordinates>,
    pub lines: Vec<(String, i64)>,
    /// A coupon of the order's member to put on it, as typed.
    pub coupon_code: Option<String>,
    /// The caller's retry key (`kit::idempotency`).
    pub key: IdempotencyKey,
}

impl NewOrder {
    /// For `acting` (who the named member is now), remembering the name.
    pub fn act_for(&mut self, acting: String) {
        if self.member_id.as_ref() != Some(&acting) {
            let named = self.member_id.replace(acting);
            if self.requested_member_id.is_none() {
                self.requested_member_id = named;
            }
        }
    }

    /// Identifies the request, to tell a retry (same key, same request) from
    /// a reused key (same key, different request).
    pub fn hash(&self) -> String {
        let mut request = serde_json::json!({
            "member": self.requested_member_id.as_ref().or(self.member_id.as_ref()), "channel": self.channel, "store": self.store_id,
            "fulfilment": self.fulfilment, "shipTo": self.ship_to.map(|c| [c.lat(), c.lng()]),
            "lines": self.lines,
        });
        // Only when named: orders placed before coupons hash as they did.
        if let Some(code) = &self.coupon_code {
            request["coupon"] = serde_json::Value::from(super::coupons::normalise_code(code));
        }
        request_hash(&request)
    }
}

/// The operations orders are made exactly once by (`kit::idempotency`).
const PLACE_ORDER: &str = "placeOrder";
const REFUND_ORDER: &str = "refundOrder";

/// An order with its lines.
#[derive(Debug, Clone)]
pub struct PlacedOrder {
    pub order: order::Model,
    pub lines: Vec<order_line::Model>,
    /// The first answer to this idempotency key, given again: nothing new
    /// was reserved or written.
    pub replayed: bool,
}

/// Places an order. Every line is reserved in this transaction, each at the
/// first location in sourcing order whose conditional reservation succeeds;
/// a line no location can cover rolls everything back (OUT_OF_STOCK naming
/// the SKU). The same idempotency key with the same request returns the
/// first order; with another request it is a CONFLICT. Two requests racing
/// with one key: the loser's insert fails on the key, its reservations roll
/// back, and its retry returns the winner's order.
pub async fn place_order(
    db: &DatabaseConnection,
    new: &NewOrder,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PlacedOrder> {
    match retry_once_on_race(|| place_once(db, new, actor, now)).await {
        Ok(placed) => Ok(placed),
        // A twin with this key may have committed while this one waited,
        // taking what this one then found gone (the last unit, the
        // coupon): the caller gets the twin's order, as a retry would.
        Err(err) => match new.key.replayed(db, PLACE_ORDER, &new.hash()).await? {
            Some(order_id) => replay(db, &order_id).await,
            None => Err(err),
        },
    }
}

async fn place_once(
    db: &DatabaseConnection,
    new: &NewOrder,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PlacedOrder> {
    let hash = new.hash();
    if let Some(order_id) = new.key.replayed(db, PLACE_ORDER, &hash).await? {
        return replay(db, &order_id).await;
    }
    let sku_ids: Vec<String> = new.lines.iter().map(|(s, _)| s.clone()).collect();
    let skus = skus_by_ids(db, &sku_ids).await?;
    for id in &sku_ids {
        match skus.get(id) {
            None => return Err(Error::invalid("lines", format!("no SKU {id}"))),
            Some(s) if s.status != SkuStatus::Active => {
                return Err(Error::invalid("lines", format!("SKU {id} is discontinued")));
            }
            Some(_) => {}
        }
    }
    let reference = match (new.fulfilment, &new.store_id, new.ship_to) {
        (Fulfilment::Ship, _, Some(to)) => to,
        (Fulfilment::Ship, _, None) => {
            return Err(Error::invalid("shipTo", "a SHIP order needs shipTo"));
        }
        (_, Some(store), _) => {
            let loc = location_by_id(db, store)
                .await?
                .filter(|l| l.kind == LocationKind::Store);
            let loc = loc.ok_or_else(|| {
                Error::invalid(
                    "storeId",
                    format!("store {store} has no stock location here"),
                )
            })?;
            Coordinates::parse(loc.latitude, loc.longitude)?
        }
        (_, None, _) => {
            return Err(Error::invalid(
                "storeId",
                "IN_STORE and PICKUP_IN_STORE orders need storeId",
            ));
        }
    };

    let txn = db.begin().await?;
    let order_id = new_id();
    let mut lines = Vec::with_capacity(new.lines.len());
    for (sku_id, quantity) in &new.lines {
        let sku = &skus[sku_id];
        let candidates: Vec<Holder> = holders(&txn, sku_id, *quantity)
            .await?
            .into_iter()
            .filter_map(|(_, loc)| {
                let at = Coordinates::parse(loc.latitude, loc.longitude).ok()?;
                Some(Holder {
                    kind: loc.kind,
                    distance_m: distance_m(reference, at),
                    location_id: loc.id,
                })
            })
            .collect();
        let mut source = None;
        for location_id in try_order(new.fulfilment, new.store_id.as_deref(), candidates) {
            if try_reserve(&txn, sku_id, &location_id, *quantity, now).await? {
                source = Some(location_id);
                break;
            }
        }
        let Some(source) = source else {
            // Where the line could have come from: the store for a pickup,
            // else any one location.
            let at = match new.fulfilment {
                Fulfilment::PickupInStore => new.store_id.clone(),
                Fulfilment::InStore | Fulfilment::Ship => None,
            };
            let available = super::inventory::most_available(&txn, sku_id, at.as_deref()).await?;
            return Err(Error::OutOfStock {
                sku_id: sku_id.clone(),
                quantity: *quantity,
                available,
                location: at,
            });
        };
        let movement = Movement {
            sku_id,
            location_id: &source,
            kind: MovementKind::Reserve,
            on_hand_delta: 0,
            reserved_delta: *quantity,
            reason: "order placed",
            reference: Some(&order_id),
        };
        record(&txn, movement, actor, now).await?;
        lines.push(order_line::Model {
            id: new_id(),
            order_id: order_id.clone(),
            sku_id: sku_id.clone(),
            product_id: sku.product_id.clone(),
            brand_id: sku.brand_id.clone(),
            quantity: *quantity,
            unit_price_fen: sku.list_price_fen,
            amount_fen: sku.list_price_fen * quantity,
            source_location_id: source,
            refunded_quantity: 0,
            discount_fen: 0,
        });
    }
    // Campaigns earn by category, and coupons apply by it.
    let categories =
        super::catalogue::categories_of(&txn, lines.iter().map(|l| l.product_id.clone())).await?;
    let coupon = match &new.coupon_code {
        Some(code) => {
            let member = new.member_id.as_deref().ok_or_else(|| {
                Error::invalid("couponCode", "a coupon goes on an order for its member")
            })?;
            Some(
                super::coupons::reserve_for_order(
                    &txn,
                    code,
                    member,
                    &order_id,
                    &mut lines,
                    &categories,
                    now,
                )
                .await?,
            )
        }
        None => None,
    };
    let total_fen = lines.iter().map(|l| l.amount_fen).sum();
    let placed = order::ActiveModel {
        id: Set(order_id.clone()),
        member_id: Set(new.member_id.clone()),
        channel: Set(new.channel),
        store_id: Set(new.store_id.clone()),
        fulfilment: Set(new.fulfilment),
        ship_latitude: Set(new.ship_to.map(|c| c.lat())),
        ship_longitude: Set(new.ship_to.map(|c| c.lng())),
        status: Set(OrderStatus::Placed),
        total_fen: Set(total_fen),
        refunded_fen: Set(0),
        idempotency_key: Set(new.key.fingerprint()),
        request_hash: Set(hash.clone()),
        pickup_deadline: Set(
            (new.fulfilment == Fulfilment::PickupInStore).then(|| to_micros(now + PICKUP_HOLD))
        ),
        placed_at: Set(to_micros(now)),
        fulfilled_at: Set(None),
        cancelled_at: Set(None),
        updated_at: Set(to_micros(now)),
        discount_fen: Set(coupon.as_ref().map_or(0, |(_, off)| *off)),
        coupon_id: Set(coupon.map(|(id, _)| id)),
    }
    .insert(&txn)
    .await?;
    for line in &lines {
        order_line::ActiveModel::from(line.clone())
            .insert(&txn)
            .await?;
    }
    new.key
        .remember(&txn, PLACE_ORDER, &hash, &placed.id, to_micros(now))
        .await?;
    publish(&txn, &placed_event(&placed, &lines, &categories, now), now).await?;
    txn.commit().await?;
    Ok(PlacedOrder {
        order: placed,
        lines,
        replayed: false,
    })
}

/// The order a key placed, given again.
async fn replay(db: &DatabaseConnection, order_id: &str) -> Result<PlacedOrder> {
    let existing = order_by_id(db, order_id)
        .await?
        .ok_or_else(|| Error::conflict(format!("order {order_id} vanished")))?;
    let lines = lines_of(db, &existing.id).await?;
    Ok(PlacedOrder {
        order: existing,
        lines,
        replayed: true,
    })
}

fn placed_event(
    o: &order::Model,
    lines: &[order_line::Model],
    categories: &HashMap<String, String>,
    at: DateTime<Utc>,
) -> OrderPlaced {
    OrderPlaced {
        order_id: o.id.clone(),
        member_id: o.member_id.clone(),
        channel: o.channel,
        store_id: o.store_id.clone(),
        fulfilment: o.fulfilment.to_value(),
        lines: lines
            .iter()
            .map(|l| OrderLine {
                line_id: l.id.clone(),
                sku_id: l.sku_id.clone(),
                brand_id: l.brand_id.clone(),
                quantity: l.quantity,
                unit_price_fen: l.unit_price_fen,
                amount_fen: l.amount_fen,
                source_location_id: Some(l.source_location_id.clone()),
                category_id: categories.get(&l.product_id).cloned(),
            })
            .collect(),
        total_fen: o.total_fen,
        placed_at: at,
    }
}

/// Loads and locks an order for a state change.
async fn lock(txn: &DatabaseTransaction, id: &str, action: OrderAction) -> Result<order::Model> {
    let o = order::Entity::find_by_id(id.to_owned())
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("order {id} not found")))?;
    check_transition(o.status, action)?;
    Ok(o)
}

/// The goods left: reservations become shipments.
pub async fn fulfil(
    db: &DatabaseConnection,
    id: &str,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PlacedOrder> {
    let txn = db.begin().await?;
    let o = lock(&txn, id, OrderAction::Fulfil).await?;
    let lines = lines_of(&txn, id).await?;
    for l in &lines {
        settle(
            &txn,
            &l.sku_id,
            &l.source_location_id,
            l.quantity,
            true,
            now,
        )
        .await?;
        let m = Movement {
            sku_id: &l.sku_id,
            location_id: &l.source_location_id,
            kind: MovementKind::Ship,
            on_hand_delta: -l.quantity,
            reserved_delta: -l.quantity,
            reason: "order fulfilled",
            reference: Some(id),
        };
        record(&txn, m, actor, now).await?;
    }
    if let Some(coupon_id) = &o.coupon_id {
        super::coupons::mark_used(&txn, coupon_id, &o, now).await?;
    }
    let mut row = o.into_active_model();
    row.status = Set(OrderStatus::Fulfilled);
    row.fulfilled_at = Set(Some(to_micros(now)));
    row.updated_at = Set(to_micros(now));
    let o = row.update(&txn).await?;
    publish(
        &txn,
        &OrderFulfilled {
            order_id: o.id.clone(),
            member_id: o.member_id.clone(),
            fulfilled_at: now,
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(PlacedOrder {
        order: o,
        lines,
        replayed: false,
    })
}

/// Nothing was sold: reservations are released.
pub async fn cancel(
    db: &DatabaseConnection,
    id: &str,
    reason: &str,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PlacedOrder> {
    let txn = db.begin().await?;
    let o = lock(&txn, id, OrderAction::Cancel).await?;
    let lines = lines_of(&txn, id).await?;
    for l in &lines {
        settle(
            &txn,
            &l.sku_id,
            &l.source_location_id,
            l.quantity,
            false,
            now,
        )
        .await?;
        let m = Movement {
            sku_id: &l.sku_id,
            location_id: &l.source_location_id,
            kind: MovementKind::Release,
            on_hand_delta: 0,
            reserved_delta: -l.quantity,
            reason,
            reference: Some(id),
        };
        record(&txn, m, actor, now).await?;
    }
    if let Some(coupon_id) = &o.coupon_id {
        super::coupons::release(&txn, coupon_id, &o.id, now).await?;
    }
    let mut row = o.into_active_model();
    row.status = Set(OrderStatus::Cancelled);
    row.cancelled_at = Set(Some(to_micros(now)));
    row.updated_at = Set(to_micros(now));
    let o = row.update(&txn).await?;
    publish(
        &txn,
        &OrderCancelled {
            order_id: o.id.clone(),
            member_id: o.member_id.clone(),
            cancelled_at: now,
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(PlacedOrder {
        order: o,
        lines,
        replayed: false,
    })
}

/// Refunds quantities of lines (never beyond what was sold). Idempotent on
/// `key` like placing.
pub async fn refund(
    db: &DatabaseConnection,
    id: &str,
    wanted: &[(String, i64)],
    key: &IdempotencyKey,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PlacedOrder> {
    let hash = request_hash(&serde_json::json!({ "order": id, "lines": wanted }));
    retry_once_on_race(|| async {
        if key.replayed(db, REFUND_ORDER, &hash).await?.is_some() {
            let o = order_by_id(db, id)
                .await?
                .ok_or_else(|| Error::not_found(format!("order {id} not found")))?;
            return Ok(PlacedOrder {
                lines: lines_of(db, id).await?,
                order: o,
                replayed: true,
            });
        }
        refund_once(db, id, wanted, key, &hash, now).await
    })
    .await
}

async fn refund_once(
    db: &DatabaseConnection,
    id: &str,
    wanted: &[(String, i64)],
    key: &IdempotencyKey,
    hash: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PlacedOrder> {
    let txn = db.begin().await?;
    let o = lock(&txn, id, OrderAction::Refund).await?;
    let mut lines = lines_of(&txn, id).await?;
    let mut refunded = Vec::new();
    let mut amount = 0;
    for (line_id, quantity) in wanted {
        let line = lines
            .iter_mut()
            .find(|l| &l.id == line_id)
            .ok_or_else(|| Error::invalid("lines", format!("order has no line {line_id}")))?;
        let fen = refund_amount(
            SoldLine {
                quantity: line.quantity,
                refunded: line.refunded_quantity,
                paid_fen: line.amount_fen,
            },
            *quantity,
        )?;
        line.refunded_quantity += quantity;
        let mut row = line.clone().into_active_model();
        row.refunded_quantity = Set(line.refunded_quantity);
        row.update(&txn).await?;
        refunded.push(RefundedLine {
            line_id: line_id.clone(),
            quantity: *quantity,
            amount_fen: fen,
        });
        amount += fen;
    }
    let sold: Vec<SoldLine> = lines
        .iter()
        .map(|l| SoldLine {
            quantity: l.quantity,
            refunded: l.refunded_quantity,
            paid_fen: l.amount_fen,
        })
        .collect();
    let status = status_after_refund(&sold);
    let refund_id = new_id();
    key.remember(&txn, REFUND_ORDER, hash, &refund_id, to_micros(now))
        .await?;
    refund::ActiveModel {
        id: Set(refund_id.clone()),
        order_id: Set(id.to_owned()),
        idempotency_key: Set(key.fingerprint()),
        request_hash: Set(hash.to_owned()),
        lines: Set(serde_json::to_string(&refunded).unwrap_or_default()),
        amount_fen: Set(amount),
        created_at: Set(to_micros(now)),
    }
    .insert(&txn)
    .await?;
    let refunded_total = o.refunded_fen + amount;
    if status == OrderStatus::Refunded
        && let Some(coupon_id) = &o.coupon_id
    {
        super::coupons::restore_after_refund(&txn, coupon_id, &o.id, now).await?;
    }
    let mut row = o.into_active_model();
    row.status = Set(status);
    row.refunded_fen = Set(refunded_total);
    row.updated_at = Set(to_micros(now));
    let o = row.update(&txn).await?;
    let event = OrderRefunded {
        order_id: o.id.clone(),
        refund_id,
        member_id: o.member_id.clone(),
        lines: refunded,
        amount_fen: amount,
        fully_refunded: status == OrderStatus::Refunded,
        refunded_at: now,
    };
    publish(&txn, &event, now).await?;
    txn.commit().await?;
    Ok(PlacedOrder {
        order: o,
        lines,
        replayed: false,
    })
}

/// Cancels pickup orders not collected by their deadline, releasing their
/// stock. Returns the ids cancelled.
pub async fn expire_pickups(
    db: &DatabaseConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>> {
    let due: Vec<String> = order::Entity::find()
        .select_only()
        .column(order::Column::Id)
        .filter(order::Column::Status.eq(OrderStatus::Placed))
        .filter(order::Column::Fulfilment.eq(Fulfilment::PickupInStore))
        .filter(order::Column::PickupDeadline.lt(to_micros(now)))
        .into_tuple()
        .all(db)
        .await?;
    let actor = Actor::system("pickup-expiry");
    let mut cancelled = Vec::new();
    for id in due {
        match cancel(db, &id, "not collected by the pickup deadline", &actor, now).await {
            Ok(_) => cancelled.push(id),
            // Collected or cancelled meanwhile.
            Err(err) if err.code() == kit::ErrorCode::Conflict => {}
            Err(err) => return Err(err),
        }
    }
    Ok(cancelled)
}

pub async fn order_by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<order::Model>> {
    Ok(order::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn lines_of<C: ConnectionTrait>(
    db: &C,
    order_id: &str,
) -> Result<Vec<order_line::Model>> {
    Ok(order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order_id))
        .order_by_asc(order_line::Column::SkuId)
        .all(db)
        .await?)
}

pub async fn lines_of_orders<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
) -> Result<HashMap<String, Vec<order_line::Model>>> {
    let rows = order_line::Entity::find()
        .filter(order_line::Column::OrderId.is_in(ids.iter().cloned()))
        .order_by_asc(order_line::Column::SkuId)
        .all(db)
        .await?;
    let mut out: HashMap<String, Vec<order_line::Model>> = HashMap::new();
    for row in rows {
        out.entry(row.order_id.clone()).or_default().push(row);
    }
    Ok(out)
}

/// On a merge: the merged member's orders become the survivor's, so that
/// the survivor's `orders`, `order(id)` and `Order.member` see them as the
/// member service's reads do. Amounts and lines do not change (the
/// alliance and the store move points and bindings on the same event).
/// Returns how many orders moved.
pub async fn merge_member<C: ConnectionTrait>(
    db: &C,
    survivor_id: &str,
    merged_id: &str,
) -> Result<u64> {
    let moved = order::Entity::update_many()
        .col_expr(
            order::Column::MemberId,
            sea_orm::sea_query::Expr::value(survivor_id),
        )
        .filter(order::Column::MemberId.eq(merged_id))
        .exec(db)
        .await?;
    Ok(moved.rows_affected)
}

/// A member's orders, newest first.
pub async fn orders_of_member<C: ConnectionTrait>(
    db: &C,
    member_id: &str,
    page: &PageRequest,
) -> Result<(Vec<order::Model>, bool)> {
    let mut query = order::Entity::find().filter(order::Column::MemberId.eq(member_id));
    if let Some(after) = &page.after {
        query = query.filter(order::Column::Id.lt(after.as_str()));
    }
    let rows = query
        .order_by_desc(order::Column::Id)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(split_page(rows, page))
}
