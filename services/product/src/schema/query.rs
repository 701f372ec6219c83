use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, ID, Object};
use kit::ApiResult;

use super::inputs::PointInput;
use super::types::{
    Availability, Brand, Location, MemberRef, Order, Product, Sku, StoreRef, may_read, product_page,
};
use super::{caller, db};
use crate::domain::catalogue::parse_category;
use crate::error::Error;
use crate::store::catalogue::ProductFilter;
use crate::store::entities::{order, order_line, product, sku};
use crate::store::inventory;
use kit::geo::{Coordinates, distance_m};
use kit::input::ForeignId;
use kit::loader::{by_id, children};

pub struct Query;

#[Object]
impl Query {
    /// The catalogue (public): by name, brand and category (or under it).
    async fn products(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        brand_id: Option<ID>,
        category: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Product, EmptyFields, EmptyFields>> {
        let search = search
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.chars().count() > 64) {
            return Err(Error::invalid("search", "search is at most 64 characters").into());
        }
        let filter = ProductFilter {
            search,
            brand_id: brand_id
                .map(|b| ForeignId::parse("brandId", &b).map(ForeignId::into_string))
                .transpose()?,
            category: category.as_deref().map(parse_category).transpose()?,
        };
        product_page(ctx, &filter, first, after).await
    }

    async fn product(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Product> {
        load_product(ctx, &id).await
    }

    async fn sku(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Sku> {
        load_sku(ctx, &id).await
    }

    /// Where a SKU is available, nearest first.
    async fn availability(
        &self,
        ctx: &Context<'_>,
        sku_id: ID,
        near: PointInput,
        #[graphql(default = 20)] first: i32,
    ) -> ApiResult<Vec<Availability>> {
        let centre = near.parse()?;
        if !(1..=100).contains(&first) {
            return Err(Error::invalid("first", "first must be between 1 and 100").into());
        }
        let mut found: Vec<Availability> = inventory::holders(db(ctx), &sku_id, 1)
            .await?
            .into_iter()
            .filter_map(|(row, loc)| {
                let d = distance_m(
                    centre,
                    Coordinates::parse(loc.latitude, loc.longitude).ok()?,
                );
                Some(Availability {
                    available: (row.on_hand - row.reserved).into(),
                    distance_meters: d,
                    location: Location(Arc::new(loc)),
                })
            })
            .collect();
        found.sort_by(|a, b| a.distance_meters.total_cmp(&b.distance_meters));
        found.truncate(first as usize);
        Ok(found)
    }

    /// An order (the member who placed it, staff of its store, operators).
    async fn order(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Order> {
        load_order(ctx, &id).await
    }

    #[graphql(entity)]
    async fn find_product_by_id(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Product> {
        load_product(ctx, &id).await
    }

    #[graphql(entity)]
    async fn find_sku_by_id(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Sku> {
        load_sku(ctx, &id).await
    }

    #[graphql(entity)]
    async fn find_order_by_id(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Order> {
        load_order(ctx, &id).await
    }

    #[graphql(entity)]
    async fn find_store_by_id(&self, id: ID) -> StoreRef {
        StoreRef { id: id.0 }
    }

    #[graphql(entity)]
    async fn find_member_by_id(&self, id: ID) -> MemberRef {
        MemberRef { id: id.0 }
    }

    #[graphql(entity)]
    async fn find_brand_by_id(&self, id: ID) -> Brand {
        Brand { id: id.0 }
    }
}

pub(crate) async fn load_order(ctx: &Context<'_>, id: &str) -> ApiResult<Order> {
    let caller = caller(ctx).require_authenticated()?;
    let o = by_id::<order::Entity>(ctx, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("order {id} not found")))?;
    if !may_read(ctx, caller, &o).await {
        return Err(Error::forbidden("you may not read this order").into());
    }
    let lines = children::<order_line::Entity>(ctx, id).await?;
    Ok(Order {
        order: Arc::new(o),
        lines: Arc::new(lines),
    })
}

pub(crate) async fn load_product(ctx: &Context<'_>, id: &str) -> ApiResult<Product> {
    let p = by_id::<product::Entity>(ctx, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("product {id} not found")))?;
    Ok(Product(Arc::new(p)))
}

async fn load_sku(ctx: &Context<'_>, id: &str) -> ApiResult<Sku> {
    let s = by_id::<sku::Entity>(ctx, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("SKU {id} not found")))?;
    Ok(Sku(Arc::new(s)))
}
