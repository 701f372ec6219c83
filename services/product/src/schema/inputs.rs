//! GraphQL inputs, parsed at the edge.

use async_graphql::{ID, InputObject};
use kit::Long;

use crate::domain::catalogue::{parse_attributes, parse_barcode, parse_category, parse_price};
use crate::domain::clean_text;
use crate::domain::order::{Fulfilment, MAX_LINE_QUANTITY, MAX_LINES};
use crate::error::{Error, Result};
use crate::store::catalogue::{NewProduct, NewSku};
use crate::store::orders::NewOrder;
use kit::channel::Channel;
use kit::geo::Coordinates;
use kit::idempotency::IdempotencyKey;
use kit::input::ForeignId;

#[derive(InputObject)]
pub struct ProductInput {
    pub brand_id: ID,
    pub name: String,
    #[graphql(default)]
    pub description: String,
    /// A slug such as apparel/tops.
    pub category: String,
}

impl ProductInput {
    pub fn parse(self) -> Result<NewProduct> {
        Ok(NewProduct {
            brand_id: ForeignId::parse_live_brand("brandId", &self.brand_id)?.into_string(),
            name: clean_text("name", &self.name, 128)?,
            description: if self.description.trim().is_empty() {
                String::new()
            } else {
                clean_text("description", &self.description, 4000)?
            },
            category: parse_category(&self.category)?,
        })
    }
}

#[derive(InputObject)]
pub struct AttributeInput {
    pub name: String,
    pub value: String,
}

#[derive(InputObject)]
pub struct SkuInput {
    #[graphql(default)]
    pub attributes: Vec<AttributeInput>,
    pub barcode: Option<String>,
    pub list_price_fen: Long,
}

impl SkuInput {
    pub fn parse(self) -> Result<NewSku> {
        let pairs: Vec<(String, String)> = self
            .attributes
            .into_iter()
            .map(|a| (a.name, a.value))
            .collect();
        Ok(NewSku {
            attributes: parse_attributes(&pairs)?,
            barcode: self.barcode.as_deref().map(parse_barcode).transpose()?,
            list_price_fen: parse_price(self.list_price_fen.get())?,
        })
    }
}

#[derive(InputObject, Clone, Copy)]
pub struct PointInput {
    pub lat: f64,
    pub lng: f64,
}

impl PointInput {
    pub fn parse(self) -> Result<Coordinates> {
        Ok(Coordinates::parse(self.lat, self.lng)?)
    }
}

#[derive(InputObject)]
pub struct OrderLineInput {
    pub sku_id: ID,
    pub quantity: i64,
}

#[derive(InputObject)]
pub struct PlaceOrderInput {
    /// Defaults to the signed-in member.
    pub member_id: Option<ID>,
    pub channel: Channel,
    /// The selling or pickup store (IN_STORE, PICKUP_IN_STORE).
    pub store_id: Option<ID>,
    pub fulfilment: Fulfilment,
    /// Destination of a SHIP order.
    pub ship_to: Option<PointInput>,
    pub lines: Vec<OrderLineInput>,
    /// A coupon of the order's member (the code they show): its discount
    /// is spread over the lines it applies to, and it is held by the order
    /// until it is handed over (released if it is cancelled).
    pub coupon_code: Option<String>,
    /// Makes retries safe: the same key and request returns the first order.
    pub idempotency_key: String,
}

impl PlaceOrderInput {
    /// The order, with its idempotency key as `caller`'s.
    pub fn parse(self, caller: &kit::Caller) -> Result<NewOrder> {
        if self.lines.is_empty() || self.lines.len() > MAX_LINES {
            return Err(Error::invalid(
                "lines",
                format!("an order has 1 to {MAX_LINES} lines"),
            ));
        }
        let mut lines = Vec::with_capacity(self.lines.len());
        for line in self.lines {
            if !(1..=MAX_LINE_QUANTITY).contains(&line.quantity) {
                return Err(Error::invalid(
                    "lines",
                    format!("quantity must be between 1 and {MAX_LINE_QUANTITY}"),
                ));
            }
            lines.push((
                ForeignId::parse("lines", &line.sku_id)?.into_string(),
                line.quantity,
            ));
        }
        // One order of locks for every order: no deadlocks between orders.
        lines.sort();
        if lines.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(Error::invalid("lines", "each SKU may appear once"));
        }
        Ok(NewOrder {
            requested_member_id: None,
            member_id: self
                .member_id
                .map(|m| ForeignId::parse("memberId", &m).map(ForeignId::into_string))
                .transpose()?,
            channel: self.channel,
            store_id: self
                .store_id
                .map(|s| ForeignId::parse("storeId", &s).map(ForeignId::into_string))
                .transpose()?,
            fulfilment: self.fulfilment,
            ship_to: self.ship_to.map(|p| p.parse()).transpose()?,
            lines,
            coupon_code: self
                .coupon_code
                .map(|c| {
                    let code = crate::store::coupons::normalise_code(&c);
                    if code.is_empty() || c.chars().count() > 64 {
                        Err(Error::invalid(
                            "couponCode",
                            "couponCode is a coupon's letters and digits (dashes or spaces between groups do not matter)",
                        ))
                    } else {
                        Ok(code)
                    }
                })
                .transpose()?,
            key: IdempotencyKey::parse(caller, &self.idempotency_key)?,
        })
    }
}

#[derive(InputObject)]
pub struct RefundLineInput {
    pub line_id: ID,
    pub quantity: i64,
}
