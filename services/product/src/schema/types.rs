//! GraphQL output types of the product subgraph.

use kit::Long;
use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use kit::loader::{by_id, children};
use kit::paging::{PageRequest, encode_cursor};
use kit::time::from_micros;
use kit::{ApiResult, Caller};

use super::coupons::Coupon;
use super::{caller, db};
use crate::domain::catalogue::SkuStatus;
use crate::domain::coupons::CouponState;
use crate::domain::order::{Fulfilment, OrderStatus};
use crate::domain::sourcing::LocationKind;
use crate::error::Error;
use crate::store::catalogue::{self, ProductFilter};
use crate::store::coupons;
use crate::store::entities::{inventory, location, order, order_line, product, sku};
use crate::store::{inventory as stock, orders};
use kit::channel::Channel;

#[derive(Clone)]
pub struct Product(pub Arc<product::Model>);

#[Object]
impl Product {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn brand(&self) -> Brand {
        Brand {
            id: self.0.brand_id.clone(),
        }
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn category(&self) -> &str {
        &self.0.category
    }
    async fn skus(&self, ctx: &Context<'_>) -> ApiResult<Vec<Sku>> {
        Ok(children::<sku::Entity>(ctx, &self.0.id)
            .await?
            .into_iter()
            .map(|s| Sku(Arc::new(s)))
            .collect())
    }
}

#[derive(Clone)]
pub struct Sku(pub Arc<sku::Model>);

#[Object]
impl Sku {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn product(&self, ctx: &Context<'_>) -> ApiResult<Product> {
        super::query::load_product(ctx, &self.0.product_id).await
    }
    /// Size, colour...
    async fn attributes(&self) -> Json<serde_json::Value> {
        Json(serde_json::from_str(&self.0.attributes).unwrap_or_default())
    }
    async fn barcode(&self) -> Option<&str> {
        self.0.barcode.as_deref()
    }
    async fn list_price_fen(&self) -> Long {
        self.0.list_price_fen.into()
    }
    async fn status(&self) -> SkuStatus {
        self.0.status
    }
}

#[derive(Clone)]
pub struct Location(pub Arc<location::Model>);

/// Where stock is held: a store or a warehouse. (The store service's
/// `Location` is a point on the map; this is a place that holds stock.)
#[Object(name = "StockLocation")]
impl Location {
    /// A store's id (as in the store service) or a warehouse's.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn kind(&self) -> LocationKind {
        self.0.kind
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn latitude(&self) -> f64 {
        self.0.latitude
    }
    async fn longitude(&self) -> f64 {
        self.0.longitude
    }
}

/// Stock of one SKU at one location.
#[derive(SimpleObject, Clone)]
pub struct StockLevel {
    pub sku_id: ID,
    pub location_id: ID,
    pub on_hand: Long,
    pub reserved: Long,
    /// On hand less reserved.
    pub available: Long,
}

impl From<inventory::Model> for StockLevel {
    fn from(r: inventory::Model) -> Self {
        Self {
            available: (r.on_hand - r.reserved).into(),
            sku_id: ID(r.sku_id),
            location_id: ID(r.location_id),
            on_hand: r.on_hand.into(),
            reserved: r.reserved.into(),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct Availability {
    pub location: Location,
    pub available: Long,
    pub distance_meters: f64,
}

#[derive(Clone)]
pub struct Order {
    pub order: Arc<order::Model>,
    pub lines: Arc<Vec<order_line::Model>>,
}

impl From<orders::PlacedOrder> for Order {
    fn from(p: orders::PlacedOrder) -> Self {
        Self {
            order: Arc::new(p.order),
            lines: Arc::new(p.lines),
        }
    }
}

#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID(self.order.id.clone())
    }
    async fn member(&self) -> Option<MemberRef> {
        self.order.member_id.clone().map(|id| MemberRef { id })
    }
    async fn channel(&self) -> Channel {
        self.order.channel
    }
    async fn store(&self) -> Option<StoreRef> {
        self.order.store_id.clone().map(|id| StoreRef { id })
    }
    async fn fulfilment(&self) -> Fulfilment {
        self.order.fulfilment
    }
    async fn status(&self) -> OrderStatus {
        self.order.status
    }
    /// What is paid: the lines' amounts, after the coupon.
    async fn total_fen(&self) -> Long {
        self.order.total_fen.into()
    }
    /// What the order's coupon took off.
    async fn discount_fen(&self) -> Long {
        self.order.discount_fen.into()
    }
    /// The coupon on the order, if any.
    async fn coupon_id(&self) -> Option<ID> {
        self.order.coupon_id.clone().map(ID)
    }
    async fn refunded_fen(&self) -> Long {
        self.order.refunded_fen.into()
    }
    async fn placed_at(&self) -> DateTime<Utc> {
        from_micros(self.order.placed_at)
    }
    async fn fulfilled_at(&self) -> Option<DateTime<Utc>> {
        self.order.fulfilled_at.map(from_micros)
    }
    async fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.order.cancelled_at.map(from_micros)
    }
    /// When an uncollected pickup is cancelled.
    async fn pickup_deadline(&self) -> Option<DateTime<Utc>> {
        self.order.pickup_deadline.map(from_micros)
    }
    async fn lines(&self) -> Vec<OrderLineView> {
        self.lines.iter().cloned().map(OrderLineView).collect()
    }
}

#[derive(Clone)]
pub struct OrderLineView(pub order_line::Model);

#[Object(name = "OrderLine")]
impl OrderLineView {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn sku_id(&self) -> ID {
        ID(self.0.sku_id.clone())
    }
    async fn brand(&self) -> Brand {
        Brand {
            id: self.0.brand_id.clone(),
        }
    }
    async fn quantity(&self) -> i64 {
        self.0.quantity
    }
    async fn unit_price_fen(&self) -> Long {
        self.0.unit_price_fen.into()
    }
    /// What was paid: unit price × quantity − `discountFen`.
    async fn amount_fen(&self) -> Long {
        self.0.amount_fen.into()
    }
    /// The line's share of the order's coupon.
    async fn discount_fen(&self) -> Long {
        self.0.discount_fen.into()
    }
    async fn refunded_quantity(&self) -> i64 {
        self.0.refunded_quantity
    }
    /// Where the stock came from (the store itself, or a cloud-shelf source).
    async fn source_location(&self, ctx: &Context<'_>) -> ApiResult<Option<Location>> {
        Ok(by_id::<location::Entity>(ctx, &self.0.source_location_id)
            .await?
            .map(|l| Location(Arc::new(l))))
    }
}

/// May `caller` read `order`? The member who placed it (or a merged id of
/// theirs), staff of its store, operators.
pub async fn may_read(ctx: &Context<'_>, caller: &Caller, order: &order::Model) -> bool {
    match caller {
        Caller::Operator { .. } => true,
        Caller::Member { member_id } => match &order.member_id {
            Some(owner) => kit::subgraph::speaks_for(ctx, member_id, owner).await,
            None => false,
        },
        Caller::Staff { store_id, .. } => order.store_id.as_deref() == Some(store_id.as_str()),
        _ => false,
    }
}

/// A brand (owned by the alliance service); this service adds its products.
pub struct Brand {
    pub id: String,
}

#[Object]
impl Brand {
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Option<Connection<String, Product, EmptyFields, EmptyFields>>> {
        kit::contributed(async {
            let filter = ProductFilter {
                brand_id: Some(self.id.clone()),
                ..ProductFilter::default()
            };
            product_page(ctx, &filter, first, after).await
        })
        .await
    }
}

pub async fn product_page(
    ctx: &Context<'_>,
    filter: &ProductFilter,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<Connection<String, Product, EmptyFields, EmptyFields>> {
    let page = PageRequest::parse(first, after)?;
    let (rows, has_next) = catalogue::list_products(db(ctx), filter, &page).await?;
    let mut connection = Connection::new(page.after.is_some(), has_next);
    connection.edges.extend(
        rows.into_iter()
            .map(|p| Edge::new(encode_cursor(&p.id), Product(Arc::new(p)))),
    );
    Ok(connection)
}

/// A store (owned by the store service); this service adds its stock.
pub struct StoreRef {
    pub id: String,
}

#[Object(name = "Store")]
impl StoreRef {
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }
    /// Stock held at this store: one entry per SKU asked (at most 100), in
    /// the order asked, zero for a SKU the store does not hold. A SKU that
    /// is not in the catalogue is BAD_USER_INPUT naming it.
    async fn inventory(
        &self,
        ctx: &Context<'_>,
        sku_ids: Vec<ID>,
    ) -> ApiResult<Option<Vec<StockLevel>>> {
        kit::contributed(async {
            if sku_ids.len() > 100 {
                return Err(Error::invalid("skuIds", "at most 100 SKUs at a time").into());
            }
            let mut ids: Vec<String> = Vec::with_capacity(sku_ids.len());
            for id in sku_ids {
                if !ids.contains(&id.0) {
                    ids.push(id.0);
                }
            }
            let known = crate::store::catalogue::skus_by_ids(db(ctx), &ids).await?;
            if let Some(unknown) = ids.iter().find(|id| !known.contains_key(*id)) {
                return Err(
                    Error::invalid("skuIds", format!("no SKU {unknown} in the catalogue")).into(),
                );
            }
            let mut held: std::collections::HashMap<String, StockLevel> =
                stock::stock_at(db(ctx), &self.id, Some(&ids))
                    .await?
                    .into_iter()
                    .map(|row| (row.sku_id.clone(), StockLevel::from(row)))
                    .collect();
            Ok(ids
                .into_iter()
                .map(|sku| {
                    held.remove(&sku).unwrap_or_else(|| StockLevel {
                        sku_id: ID(sku),
                        location_id: ID(self.id.clone()),
                        on_hand: Long::default(),
                        reserved: Long::default(),
                        available: Long::default(),
                    })
                })
                .collect())
        })
        .await
    }
}

/// A member (owned by the member service); this service adds their orders
/// and coupons.
pub struct MemberRef {
    pub id: String,
}

#[Object(name = "Member")]
impl MemberRef {
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }
    /// The member's orders, newest first (the member, operators).
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Option<Connection<String, Order, EmptyFields, EmptyFields>>> {
        kit::contributed(async {
            match caller(ctx).require_authenticated()? {
                Caller::Operator { .. } => {}
                Caller::Member { member_id }
                    if kit::subgraph::speaks_for(ctx, member_id, &self.id).await => {}
                _ => return Err(Error::forbidden("a member's orders are theirs").into()),
            }
            let page = PageRequest::parse(first, after)?;
            let (rows, has_next) = orders::orders_of_member(db(ctx), &self.id, &page).await?;
            let ids: Vec<String> = rows.iter().map(|o| o.id.clone()).collect();
            let mut lines = orders::lines_of_orders(db(ctx), &ids).await?;
            let mut connection = Connection::new(page.after.is_some(), has_next);
            connection.edges.extend(rows.into_iter().map(|o| {
                let l = lines.remove(&o.id).unwrap_or_default();
                Edge::new(
                    encode_cursor(&o.id),
                    Order {
                        order: Arc::new(o),
                        lines: Arc::new(l),
                    },
                )
            }));
            Ok(connection)
        })
        .await
    }
    /// The member's coupons, newest first, filtered by the state shown now
    /// (the member, operators).
    async fn coupons(
        &self,
        ctx: &Context<'_>,
        state: Option<CouponState>,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Option<Connection<String, Coupon, EmptyFields, EmptyFields>>> {
        kit::contributed(async {
            match caller(ctx).require_authenticated()? {
                Caller::Operator { .. } => {}
                Caller::Member { member_id }
                    if kit::subgraph::speaks_for(ctx, member_id, &self.id).await => {}
                _ => return Err(Error::forbidden("a member's coupons are theirs").into()),
            }
            let page = PageRequest::parse(first, after)?;
            let (rows, has_next) =
                coupons::wallet_page(db(ctx), &self.id, state, &page, super::now(ctx)).await?;
            let mut connection = Connection::new(page.after.is_some(), has_next);
            for row in rows {
                let cursor = encode_cursor(&row.id);
                connection.edges.push(Edge::new(cursor, Coupon::new(row)?));
            }
            Ok(connection)
        })
        .await
    }
}
