//! The product service's part of a member's data export, and what a
//! member's erasure clears here.

use std::collections::HashMap;

use kit::members::HeldAbout;
use kit::time::from_micros;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use super::entities::{coupon, order, refund};
use super::orders::lines_of_orders;
use crate::error::Result;

/// Every table here that names a member, and where the export lists it.
pub const HELD_ABOUT: &[HeldAbout] = &[
    HeldAbout {
        table: "orders",
        path: "/orders",
    },
    HeldAbout {
        table: "coupons",
        path: "/coupons",
    },
];

/// The member's orders (oldest first) with their lines, refunds and
/// delivery location, for `member_ids` (a member and the ids merged into
/// them). Amounts in fen, times RFC 3339.
pub async fn member_data<C: ConnectionTrait>(db: &C, member_ids: &[String]) -> Result<Value> {
    let orders = order::Entity::find()
        .filter(order::Column::MemberId.is_in(member_ids.iter().cloned()))
        .order_by_asc(order::Column::PlacedAt)
        .order_by_asc(order::Column::Id)
        .all(db)
        .await?;
    let ids: Vec<String> = orders.iter().map(|o| o.id.clone()).collect();
    let mut lines = lines_of_orders(db, &ids).await?;
    let mut refunds: HashMap<String, Vec<refund::Model>> = HashMap::new();
    for row in refund::Entity::find()
        .filter(refund::Column::OrderId.is_in(ids.iter().cloned()))
        .order_by_asc(refund::Column::CreatedAt)
        .all(db)
        .await?
    {
        refunds.entry(row.order_id.clone()).or_default().push(row);
    }
    let ts = |micros: i64| from_micros(micros).to_rfc3339();
    let orders: Vec<Value> = orders
        .into_iter()
        .map(|o| {
            let ship_to = match (o.ship_latitude, o.ship_longitude) {
                (Some(latitude), Some(longitude)) => {
                    json!({ "latitude": latitude, "longitude": longitude })
                }
                _ => Value::Null,
            };
            json!({
                "id": o.id,
                "memberId": o.member_id,
                "channel": o.channel,
                "storeId": o.store_id,
                "fulfilment": o.fulfilment,
                "shipTo": ship_to,
                "status": o.status,
                "totalFen": o.total_fen,
                "discountFen": o.discount_fen,
                "couponId": o.coupon_id,
                "refundedFen": o.refunded_fen,
                "placedAt": ts(o.placed_at),
                "pickupDeadline": o.pickup_deadline.map(ts),
                "fulfilledAt": o.fulfilled_at.map(ts),
                "cancelledAt": o.cancelled_at.map(ts),
                "lines": lines.remove(&o.id).unwrap_or_default().into_iter().map(|l| json!({
                    "skuId": l.sku_id,
                    "productId": l.product_id,
                    "brandId": l.brand_id,
                    "quantity": l.quantity,
                    "unitPriceFen": l.unit_price_fen,
                    "amountFen": l.amount_fen,
                    "discountFen": l.discount_fen,
                    "refundedQuantity": l.refunded_quantity,
                })).collect::<Vec<_>>(),
                "refunds": refunds.remove(&o.id).unwrap_or_default().into_iter().map(|r| json!({
                    "id": r.id,
                    "amountFen": r.amount_fen,
                    "createdAt": ts(r.created_at),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    // Coupons they hold, and those they gave away.
    let coupons: Vec<Value> = coupon::Entity::find()
        .filter(
            Condition::any()
                .add(coupon::Column::MemberId.is_in(member_ids.iter().cloned()))
                .add(coupon::Column::GivenBy.is_in(member_ids.iter().cloned())),
        )
        .order_by_asc(coupon::Column::IssuedAt)
        .order_by_asc(coupon::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|c| {
            json!({
                "id": c.id,
                "code": c.code,
                "memberId": c.member_id,
                "givenBy": c.given_by,
                "brandId": c.brand_id,
                "kind": c.kind,
                "state": c.state,
                "orderId": c.order_id,
                "validFrom": ts(c.valid_from),
                "validUntil": ts(c.valid_until),
                "issuedAt": ts(c.issued_at),
            })
        })
        .collect();
    Ok(json!({ "orders": orders, "coupons": coupons }))
}

/// On a member's erasure: where their orders were delivered is personal
/// data and goes; the orders, lines and amounts are financial records and
/// stay whole. Returns how many orders lost a location.
pub async fn erase_personal<C: ConnectionTrait>(db: &C, member_ids: &[String]) -> Result<u64> {
    let cleared = order::Entity::update_many()
        .col_expr(
            order::Column::ShipLatitude,
            Expr::value(Option::<f64>::None),
        )
        .col_expr(
            order::Column::ShipLongitude,
            Expr::value(Option::<f64>::None),
        )
        .filter(order::Column::MemberId.is_in(member_ids.iter().cloned()))
        .filter(order::Column::ShipLatitude.is_not_null())
        .exec(db)
        .await?;
    Ok(cleared.rows_affected)
}
