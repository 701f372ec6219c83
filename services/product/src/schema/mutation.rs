use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use kit::Long;
use kit::auth::{Actor, Scope};
use kit::{ApiResult, Caller};

use super::coupons::Coupon;
use super::inputs::{PlaceOrderInput, PointInput, ProductInput, RefundLineInput, SkuInput};
use super::now;
use super::types::{Location, Order, Product, Sku, StockLevel};
use super::{caller, db};
use crate::domain::catalogue::{SkuStatus, parse_price, parse_quantity};
use crate::domain::clean_text;
use crate::domain::order::Fulfilment;
use crate::domain::sourcing::LocationKind;
use crate::error::{Error, Result};
use crate::store::entities::order as order_row;
use crate::store::inventory::{self, MovementKind};
use crate::store::orders::{self, NewOrder};
use crate::store::{catalogue, coupons};
use kit::auth::Environment;
use kit::channel::Channel;
use kit::input::ForeignId;

pub struct Mutation;

/// Who may place an order, and for whom.
fn authorize_order(caller: &Caller, new: &mut NewOrder) -> Result<()> {
    match caller.require_authenticated()? {
        Caller::Operator { .. } => Ok(()),
        Caller::Member { member_id } => {
            match &new.member_id {
                Some(id) if id != member_id => {
                    return Err(Error::forbidden("members order for themselves"));
                }
                _ => new.member_id = Some(member_id.clone()),
            }
            if new.fulfilment == Fulfilment::InStore {
                return Err(Error::forbidden(
                    "IN_STORE sales are made by staff at the till",
                ));
            }
            Ok(())
        }
        Caller::Staff { store_id, .. } => match &new.store_id {
            Some(s) if s == store_id => Ok(()),
            None if new.fulfilment == Fulfilment::Ship => Ok(()),
            _ => Err(Error::forbidden("staff sell for their own store")),
        },
        _ => Err(Error::forbidden("partners do not place orders here")),
    }
}

/// The signed-in member, as who acts for them now (FORBIDDEN for anyone
/// else, or a member who may not act).
async fn own_member(ctx: &Context<'_>) -> ApiResult<String> {
    match caller(ctx).require_authenticated()? {
        Caller::Member { member_id } => {
            kit::subgraph::acting_member_in(ctx, member_id, Environment::Live).await
        }
        _ => Err(Error::forbidden("members hold coupons; sign in as the member").into()),
    }
}

async fn order_row(ctx: &Context<'_>, id: &str) -> Result<order_row::Model> {
    orders::order_by_id(db(ctx), id)
        .await?
        .ok_or_else(|| Error::not_found(format!("order {id} not found")))
}

#[Object]
impl Mutation {
    /// Operators: adds a product.
    async fn create_product(&self, ctx: &Context<'_>, input: ProductInput) -> ApiResult<Product> {
        caller(ctx).require_operator()?;
        let new = input.parse()?;
        Ok(Product(Arc::new(
            catalogue::create_product(db(ctx), &new, now(ctx)).await?,
        )))
    }

    /// Operators: renames, describes or recategorises a product.
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: Option<String>,
        description: Option<String>,
        category: Option<String>,
    ) -> ApiResult<Product> {
        caller(ctx).require_operator()?;
        let name = name
            .as_deref()
            .map(|n| clean_text("name", n, 128))
            .transpose()?;
        let description = description
            .as_deref()
            .map(|d| clean_text("description", d, 4000))
            .transpose()?;
        let category = category
            .as_deref()
            .map(crate::domain::catalogue::parse_category)
            .transpose()?;
        if name.is_none() && description.is_none() && category.is_none() {
            return Err(Error::invalid("input", "give at least one field to change").into());
        }
        Ok(Product(Arc::new(
            catalogue::update_product(db(ctx), &id, name, description, category, now(ctx)).await?,
        )))
    }

    /// Operators: adds a SKU to a product.
    async fn add_sku(&self, ctx: &Context<'_>, product_id: ID, input: SkuInput) -> ApiResult<Sku> {
        caller(ctx).require_operator()?;
        let new = input.parse()?;
        Ok(Sku(Arc::new(
            catalogue::create_sku(db(ctx), &product_id, &new, now(ctx)).await?,
        )))
    }

    /// Operators: changes a SKU's price or status.
    async fn update_sku(
        &self,
        ctx: &Context<'_>,
        id: ID,
        list_price_fen: Option<Long>,
        status: Option<SkuStatus>,
    ) -> ApiResult<Sku> {
        caller(ctx).require_operator()?;
        let price = list_price_fen.map(|p| parse_price(p.get())).transpose()?;
        Ok(Sku(Arc::new(
            catalogue::update_sku(db(ctx), &id, price, status).await?,
        )))
    }

    /// Operators: creates or moves a warehouse.
    async fn upsert_warehouse(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: String,
        location: PointInput,
    ) -> ApiResult<Location> {
        caller(ctx).require_operator()?;
        let id = ForeignId::parse("id", &id)?;
        let at = location.parse()?;
        let name = clean_text("name", &name, 128)?;
        Ok(Location(Arc::new(
            inventory::upsert_location(
                db(ctx),
                id.as_str(),
                LocationKind::Warehouse,
                &name,
                at.lat(),
                at.lng(),
                now(ctx),
            )
            .await?,
        )))
    }

    /// Operators: makes a store (by the store service's id) a stock location.
    async fn upsert_store_location(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        name: String,
        location: PointInput,
    ) -> ApiResult<Location> {
        caller(ctx).require_operator()?;
        let id = ForeignId::parse("storeId", &store_id)?;
        let at = location.parse()?;
        let name = clean_text("name", &name, 128)?;
        Ok(Location(Arc::new(
            inventory::upsert_location(
                db(ctx),
                id.as_str(),
                LocationKind::Store,
                &name,
                at.lat(),
                at.lng(),
                now(ctx),
            )
            .await?,
        )))
    }

    /// Receives stock (operators, or staff for their store), with a reason.
    async fn receive_stock(
        &self,
        ctx: &Context<'_>,
        sku_id: ID,
        location_id: ID,
        quantity: i64,
        reason: String,
    ) -> ApiResult<StockLevel> {
        caller(ctx).require_store_staff(Some(&location_id))?;
        let quantity = parse_quantity("quantity", quantity)?;
        let reason = clean_text("reason", &reason, 500)?;
        let row = inventory::change_stock(
            db(ctx),
            &sku_id,
            &location_id,
            quantity,
            MovementKind::Receive,
            &reason,
            &Actor::of(caller(ctx)),
            now(ctx),
        )
        .await?;
        Ok(StockLevel::from(row))
    }

    /// Corrects on-hand by `delta` (a count, damage...), with a reason. It
    /// never goes below what is reserved (CONFLICT).
    async fn adjust_stock(
        &self,
        ctx: &Context<'_>,
        sku_id: ID,
        location_id: ID,
        delta: i64,
        reason: String,
    ) -> ApiResult<StockLevel> {
        caller(ctx).require_store_staff(Some(&location_id))?;
        if delta == 0 || delta.unsigned_abs() > 1_000_000 {
            return Err(Error::invalid(
                "delta",
                "delta must be non-zero and at most 1000000 either way",
            )
            .into());
        }
        let reason = clean_text("reason", &reason, 500)?;
        let row = inventory::change_stock(
            db(ctx),
            &sku_id,
            &location_id,
            delta,
            MovementKind::Adjust,
            &reason,
            &Actor::of(caller(ctx)),
            now(ctx),
        )
        .await?;
        Ok(StockLevel::from(row))
    }

    /// Places an order: every line reserved, or nothing (OUT_OF_STOCK names
    /// the SKU). Retry with the same idempotencyKey safely.
    async fn place_order(&self, ctx: &Context<'_>, input: PlaceOrderInput) -> ApiResult<Order> {
        let mut new = input.parse(caller(ctx))?;
        authorize_order(caller(ctx), &mut new)?;
        // Only for a member who exists and may act, now, whoever places it
        // (a merged id orders as its survivor); stores sell to live members
        // only, never to a sandbox's test members.
        if let Some(member_id) = &new.member_id {
            let acting = kit::subgraph::acting_member_in(ctx, member_id, Environment::Live).await?;
            new.act_for(acting);
        }
        Ok(Order::from(
            orders::place_order(db(ctx), &new, &Actor::of(caller(ctx)), now(ctx)).await?,
        ))
    }

    /// Hands the order over (staff of its store, operators).
    async fn fulfil_order(&self, ctx: &Context<'_>, order_id: ID) -> ApiResult<Order> {
        let o = order_row(ctx, &order_id).await?;
        caller(ctx).require_store_staff(o.store_id.as_deref())?;
        Ok(Order::from(
            orders::fulfil(db(ctx), &order_id, &Actor::of(caller(ctx)), now(ctx)).await?,
        ))
    }

    /// The member keeps a coupon of theirs: ISSUED → CLAIMED (it can no
    /// longer be given). Claiming a claimed one changes nothing.
    async fn claim_coupon(
        &self,
        ctx: &Context<'_>,
        coupon_id: ID,
        #[graphql(
            default_with = "Channel::App",
            desc = "Where the member claimed it (recorded as their touchpoint); APP when not given."
        )]
        channel: Channel,
    ) -> ApiResult<Coupon> {
        let member = own_member(ctx).await?;
        Coupon::new(coupons::claim(db(ctx), &coupon_id, &member, channel, now(ctx)).await?)
    }

    /// The member gives an unclaimed (ISSUED) coupon of theirs to another
    /// member, whose it then is (still ISSUED). CONFLICT once claimed,
    /// held or spent.
    async fn give_coupon(
        &self,
        ctx: &Context<'_>,
        coupon_id: ID,
        to_member_id: ID,
        #[graphql(
            default_with = "Channel::App",
            desc = "Where the member gave it (recorded as both members' touchpoints); APP when not given."
        )]
        channel: Channel,
    ) -> ApiResult<Coupon> {
        let member = own_member(ctx).await?;
        let to = ForeignId::parse("toMemberId", &to_member_id)?;
        let to = kit::subgraph::acting_member_in(ctx, to.as_str(), Environment::Live).await?;
        Coupon::new(coupons::give(db(ctx), &coupon_id, &member, &to, channel, now(ctx)).await?)
    }

    /// The issuing brand's partner (scope MANAGE_REWARDS) or an operator
    /// withdraws an unspent coupon: VOIDED. CONFLICT once held by an order
    /// or spent.
    async fn void_coupon(&self, ctx: &Context<'_>, coupon_id: ID) -> ApiResult<Coupon> {
        let found = coupons::coupon_by_id(db(ctx), &coupon_id).await?;
        match caller(ctx).require_authenticated()? {
            Caller::Operator { .. } => {}
            partner @ Caller::Partner { brand_id, .. } if *brand_id == found.brand_id => {
                partner.require_scope(Scope::ManageRewards)?;
            }
            _ => {
                return Err(Error::forbidden(
                    "only the issuing brand's partner or an operator voids a coupon",
                )
                .into());
            }
        }
        Coupon::new(coupons::void(db(ctx), &coupon_id, now(ctx)).await?)
    }

    /// Cancels a placed order, releasing its stock (its member, staff of its
    /// store, operators).
    async fn cancel_order(&self, ctx: &Context<'_>, order_id: ID) -> ApiResult<Order> {
        let o = order_row(ctx, &order_id).await?;
        // The member who placed it (by their id or a merged id of theirs),
        // while they may act; else staff of its store.
        let own = match caller(ctx) {
            Caller::Member { member_id } => {
                let acting =
                    kit::subgraph::acting_member_in(ctx, member_id, Environment::Live).await?;
                o.member_id
                    .as_deref()
                    .is_some_and(|owner| owner == member_id || owner == acting)
            }
            _ => false,
        };
        if !own {
            caller(ctx).require_store_staff(o.store_id.as_deref())?;
        }
        Ok(Order::from(
            orders::cancel(
                db(ctx),
                &order_id,
                "cancelled on request",
                &Actor::of(caller(ctx)),
                now(ctx),
            )
            .await?,
        ))
    }

    /// Refunds quantities of lines, never beyond what was sold (staff of the
    /// order's store, operators). Retry with the same idempotencyKey safely.
    async fn refund_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        lines: Vec<RefundLineInput>,
        idempotency_key: String,
    ) -> ApiResult<Order> {
        let key = kit::idempotency::IdempotencyKey::parse(caller(ctx), &idempotency_key)?;
        if lines.is_empty() {
            return Err(Error::invalid("lines", "give at least one line").into());
        }
        let mut wanted: Vec<(String, i64)> = lines
            .into_iter()
            .map(|l| (l.line_id.0, l.quantity))
            .collect();
        wanted.sort();
        if wanted.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(Error::invalid("lines", "each line may appear once").into());
        }
        let o = order_row(ctx, &order_id).await?;
        caller(ctx).require_store_staff(o.store_id.as_deref())?;
        Ok(Order::from(
            orders::refund(db(ctx), &order_id, &wanted, &key, now(ctx)).await?,
        ))
    }

    /// Operators: cancels pickups not collected by their deadline now (also
    /// run every minute by the service). Returns the cancelled order ids.
    async fn expire_pickups(&self, ctx: &Context<'_>) -> ApiResult<Vec<ID>> {
        caller(ctx).require_operator()?;
        Ok(orders::expire_pickups(db(ctx), now(ctx))
            .await?
            .into_iter()
            .map(ID)
            .collect())
    }
}
